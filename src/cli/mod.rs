//! The command line: `roombox run | check | ctl`. Parsing is clap's; each command is a small
//! function returning the process exit code. `status.rs` renders `ctl status` as text.

mod security;
mod status;

pub use status::render_status;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::{self, Config, ConfigError};
use crate::control::{self, Request, Response};
use crate::media::{self, MediaPlan};

#[derive(Debug, Parser)]
#[command(name = "roombox", version, about = "Meeting-room video-conferencing appliance: press the button to join")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the room daemon (the systemd service runs this).
    Run {
        /// Config file; when the default is absent, built-in defaults for a machine with no devices are used.
        #[arg(long, short, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
        /// A file whose text, while it is there and not blank, is a problem for the admin:
        /// the idle screen shows it and the LED blinks fast between meetings (the flashed
        /// image's card service reports a roombox.toml on the card it did not use this way).
        #[arg(long, value_name = "FILE")]
        notice: Option<PathBuf>,
    },
    /// Validate the config and report what the room would use; exit 0 if usable, 2 if not.
    Check {
        #[arg(long, short, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
    },
    /// List cameras (with modes), sound devices, encoders, displays and GPIO chips.
    Devices {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Drive a running room over its control socket.
    Ctl {
        /// Control socket (default: the one in the config, else /run/roombox/control.sock).
        #[arg(long, short)]
        socket: Option<PathBuf>,
        /// Config file to read the socket path from.
        #[arg(long, short, default_value = config::DEFAULT_PATH)]
        config: PathBuf,
        #[command(subcommand)]
        action: CtlAction,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum CtlAction {
    /// Short press of the button: join when idle, answer when ringing, leave in a call.
    Press,
    /// Long press of the button: toggle microphone mute.
    LongPress,
    /// Dial every configured peer not yet in the meeting, and answer whoever rings.
    Join,
    /// Leave the meeting (or decline a ringing call); with --peer, drop only that place.
    Leave {
        /// The place to drop: its SIP URI or its name, as `ctl status` lists it.
        #[arg(long)]
        peer: Option<String>,
    },
    /// Mute the microphone.
    Mute,
    /// Unmute the microphone.
    Unmute,
    /// Show call state, LED, peer, codecs and live media figures.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Save what the room's screen shows as a PNG.
    Snapshot {
        /// Where to write the PNG.
        file: PathBuf,
    },
    /// Print the link browser guests join with, and it as a QR code for a phone.
    GuestLink,
}

pub fn devices(json: bool) -> i32 {
    let found = crate::devices::probe();
    if json {
        println!("{}", serde_json::to_string_pretty(&found).unwrap_or_default());
    } else {
        print!("{}", crate::devices::render(&found));
    }
    0
}

/// Loads the config for `run`: a missing default file means built-in defaults.
pub fn load_for_run(path: &Path) -> Result<(Config, bool), ConfigError> {
    if path == Path::new(config::DEFAULT_PATH) && !path.exists() {
        return Ok((Config::builtin(), true));
    }
    Config::load(path).map(|c| (c, false))
}

pub fn check(path: &Path) -> i32 {
    let (config, builtin) = match load_for_run(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    println!(
        "config: {}",
        if builtin {
            format!("{} absent: built-in defaults (test picture, test tone, no screen)", path.display())
        } else {
            format!("{} is valid", path.display())
        }
    );
    if let Err(e) = gstreamer::init() {
        eprintln!("error: GStreamer could not start: {e}");
        return 2;
    }
    let plan = match MediaPlan::resolve(&config, &media::probe::detect())
        .and_then(|plan| media::check_plan(&plan).map(|()| plan))
    {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    println!("board:   {}", board_line(&config));
    println!("room:    {}", config.room.name);
    let mut problems = plan.problems.clone();
    match sip_port_state(&config) {
        Ok(note) => println!("sip:     {}{note}", config.sip.listen),
        Err(e) => {
            println!("sip:     {} IN USE", config.sip.listen);
            problems.push(e);
        }
    }
    let peers: Vec<String> = config.call.peers.iter().map(|p| p.0.to_string()).collect();
    println!(
        "peers:   {}",
        if peers.is_empty() { "none (the button has no one to call)".into() } else { peers.join(", ") }
    );
    println!(
        "camera:  {} ({}x{} @ {} fps, {} kbit/s)",
        plan.video_source.description, plan.width, plan.height, plan.fps, config.video.bitrate_kbps
    );
    println!("encoder: {}", plan.encoder.reason);
    println!("decoder: {}", plan.decoder);
    println!("mic:     {}", plan.audio_source.description);
    println!("speaker: {}", plan.audio_sink.description);
    println!("display: {}", plan.display.description);
    match panel_line(&config) {
        Ok(line) => println!("panel:   {line}"),
        Err(e) => {
            println!("panel:   MISSING");
            problems.push(e);
        }
    }
    println!("control: {}", config.control.socket.display());
    let (lines, warnings) = security::report(&config);
    for line in lines {
        println!("{line}");
    }
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    if problems.is_empty() {
        println!("everything configured was found");
        return 0;
    }
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    eprintln!(
        "{} problem{} above: the room would run, but with a slate, silence or no button where noted",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    2
}

fn board_line(config: &Config) -> String {
    let p = &config.profile.board;
    format!("{} ({})", p.name, p.description)
}

/// Where the panel's lines are, checked against this machine's GPIO chips.
fn panel_line(config: &Config) -> Result<String, String> {
    use crate::config::PanelBackend;
    let lines = config.panel.lines();
    match config.panel.backend {
        PanelBackend::Auto | PanelBackend::Sim => Ok("sim (the button is `roombox ctl press`)".into()),
        PanelBackend::Rppal => {
            Ok(format!("rppal: button GPIO{} LED GPIO{} (checked when the room starts)", lines.button, lines.led))
        }
        PanelBackend::Gpio => {
            let path = crate::panel::gpio::find_chip(lines.chip).map_err(|e| e.to_string())?;
            Ok(format!(
                "gpio {} = {}: button line {}, LED line {}",
                lines.chip,
                path.display(),
                lines.button,
                lines.led
            ))
        }
    }
}

/// Whether the SIP port is free, or held by this room's own running daemon (its control
/// socket answers): both fine. Held by another program is a mistake.
fn sip_port_state(config: &Config) -> Result<&'static str, String> {
    let addr = config.sip.listen;
    if std::net::UdpSocket::bind(addr).is_ok() {
        return Ok("");
    }
    if std::os::unix::net::UnixStream::connect(&config.control.socket).is_ok() {
        return Ok(" (in use by the running roombox: fine)");
    }
    Err(format!(
        "UDP port {} is in use by another program (`ss -lunp sport = :{}` shows which): change [sip] listen",
        addr.port(),
        addr.port()
    ))
}

pub async fn ctl(socket: Option<PathBuf>, config_path: &Path, action: CtlAction) -> i32 {
    let socket = socket.unwrap_or_else(|| {
        Config::load(config_path).map(|c| c.control.socket).unwrap_or_else(|_| config::DEFAULT_SOCKET.into())
    });
    let (request, json, snapshot) = match &action {
        CtlAction::Press => (Request::Press, false, None),
        CtlAction::LongPress => (Request::LongPress, false, None),
        CtlAction::Join => (Request::Join, false, None),
        CtlAction::Leave { peer } => (Request::Leave { peer: peer.clone() }, false, None),
        CtlAction::Mute => (Request::Mute, false, None),
        CtlAction::Unmute => (Request::Unmute, false, None),
        CtlAction::Status { json } => (Request::Status, *json, None),
        CtlAction::Snapshot { file } => (Request::Snapshot, false, Some(file.clone())),
        CtlAction::GuestLink => (Request::GuestLink, false, None),
    };
    let response = match control::call(&socket, request).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 3;
        }
    };
    print_response(response, json, snapshot)
}

fn print_response(response: Response, json: bool, snapshot: Option<PathBuf>) -> i32 {
    if let Some(error) = response.error.filter(|_| !response.ok) {
        eprintln!("error: {error}");
        return 1;
    }
    if let Some(path) = snapshot {
        use base64::Engine as _;
        let png = response.png_base64.and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        return match png.map(|png| std::fs::write(&path, png)) {
            Some(Ok(())) => {
                println!("{}", path.display());
                0
            }
            Some(Err(e)) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                1
            }
            None => {
                eprintln!("error: roombox sent no picture");
                1
            }
        };
    }
    if let Some(link) = &response.guest_link {
        println!("{link}");
        if let Some(qr) = crate::guests::link::terminal_qr(link) {
            print!("{qr}");
        }
    }
    match response.status {
        Some(status) if json => println!("{}", serde_json::to_string_pretty(&status).unwrap_or_default()),
        Some(status) => print!("{}", render_status(&status)),
        None => {}
    }
    0
}
