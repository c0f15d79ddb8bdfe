//! `roombox`: the room daemon and its admin commands. Everything lives in the library; this
//! file parses the command line, sets up logging and maps results to exit codes.

use clap::Parser;
use roombox::cli::{self, Cli, Cmd};
use tracing_subscriber::EnvFilter;

fn init_logging(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("roombox={level},warn")));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// Admin commands end quietly when their reader goes away (`roombox ctl status | head`), as
/// `ls` does; Rust ignores SIGPIPE, which turns that into a panic on the next print.
fn exit_quietly_on_closed_pipe() {
    // SAFETY: restores the default disposition of one signal before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    let cli = Cli::parse();
    if !matches!(cli.command, Cmd::Run { .. }) {
        exit_quietly_on_closed_pipe();
    }
    let code = match cli.command {
        Cmd::Check { config } => cli::check(&config),
        Cmd::Devices { json } => cli::devices(json),
        Cmd::Run { config } => run(&config),
        Cmd::Ctl { socket, config, action } => runtime().block_on(cli::ctl(socket, &config, action)),
    };
    std::process::exit(code);
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    }
}

/// One malloc arena for the whole daemon. Each call starts and ends a score of GStreamer
/// streaming threads; with glibc's per-thread arenas their freed memory stays fragmented and
/// resident memory grew by ~2 MB per call. With one arena it stays flat (bench/results.md).
fn use_one_malloc_arena() {
    // SAFETY: called before any thread exists; mallopt only sets a glibc tuning parameter.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn run(path: &std::path::Path) -> i32 {
    use_one_malloc_arena();
    let (config, builtin) = match cli::load_for_run(path) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    init_logging(&config.log.level);
    if builtin {
        tracing::info!("no config at {}: using built-in defaults (test picture, test tone, no screen)", path.display());
    }
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {},
        }
    };
    match runtime().block_on(roombox::runtime::run(config, shutdown, |_| {})) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            1
        }
    }
}
