//! `roombox run` as a system service: logging (the journal with structured fields under
//! systemd, else stderr) at the config's level, signals (TERM/INT stop, HUP reloads the
//! config file), and readiness for systemd (`Type=notify`). The room itself is `runtime`.

use std::path::Path;

use tokio::sync::mpsc;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};

use crate::cli;
use crate::runtime::Reloaded;

type FilterHandle = reload::Handle<EnvFilter, tracing_subscriber::Registry>;

/// The config's level for roombox (warnings from libraries); a non-empty RUST_LOG overrides it.
fn filter(level: &str) -> EnvFilter {
    match std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty()) {
        Some(directives) => EnvFilter::new(directives),
        None => EnvFilter::new(format!("roombox={level},warn")),
    }
}

/// Logs to the journal when systemd connected stderr to it (structured fields: STATE, CALL,
/// PEER…), else as text on stderr. Returns the handle that changes the level on reload.
fn init_logging(level: &str) -> Option<FilterHandle> {
    let (filter, handle) = reload::Layer::new(filter(level));
    let registry = tracing_subscriber::registry().with(filter);
    let journal = std::env::var_os("JOURNAL_STREAM").and_then(|_| tracing_journald::layer().ok());
    let result = match journal {
        Some(journal) => registry.with(journal.with_syslog_identifier("roombox".into())).try_init(),
        None => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            registry.with(tracing_subscriber::fmt::layer().with_ansi(ansi).with_writer(std::io::stderr)).try_init()
        }
    };
    result.ok().map(|()| handle)
}

/// Runs the room daemon with the config at `path`; returns the process exit code.
pub fn run(path: &Path, notice: Option<std::path::PathBuf>) -> i32 {
    let (config, builtin) = match cli::load_for_run(path) {
        Ok(loaded) => loaded,
        Err(e) => {
            // Said once, plainly; the unit's restart limit keeps a broken file from looping.
            eprintln!("error: {e}");
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&format!("config error: {e}"))]);
            return 2;
        }
    };
    let log_filter = init_logging(&config.log.level);
    if builtin {
        tracing::info!("no config at {}: using built-in defaults (test picture, test tone, no screen)", path.display());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(async {
        let (reload_tx, reloads) = mpsc::channel(4);
        let reloader = tokio::spawn(reload_on_hangup(path.to_owned(), reload_tx, log_filter));
        let ready = |r: &crate::runtime::Ready| {
            let status = format!("Idle, listening for SIP on {}", r.sip);
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status(&status)]);
        };
        let result = crate::runtime::run(config, notice, stop_signal(), reloads, ready).await;
        reloader.abort();
        result
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            1
        }
    }
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {},
    }
}

/// On each SIGHUP, re-reads the config file: a broken one is reported (file:line:column) and
/// the running config stays in force; a valid one goes to the room.
async fn reload_on_hangup(path: std::path::PathBuf, rooms: mpsc::Sender<Reloaded>, log_filter: Option<FilterHandle>) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot watch SIGHUP: reload by restarting the service");
        return;
    };
    while hangups.recv().await.is_some() {
        tracing::info!("reloading {}", path.display());
        let config = match cli::load_for_run(&path) {
            Ok((config, _)) => config,
            Err(e) => {
                tracing::error!("config reload failed, the running config stays in force: {e}");
                continue;
            }
        };
        if let Some(handle) = &log_filter {
            let _ = handle.reload(filter(&config.log.level));
        }
        // Probing devices blocks: off the event loop, which keeps answering (and feeding the watchdog).
        match tokio::task::spawn_blocking(move || Reloaded::prepare(config)).await {
            Ok(Ok(reloaded)) => {
                if rooms.send(reloaded).await.is_err() {
                    return;
                }
            }
            Ok(Err(e)) => tracing::error!("config reload not applied, the running config stays in force: {e}"),
            Err(e) => tracing::error!("config reload stopped: {e}"),
        }
    }
}
