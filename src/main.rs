//! `roombox`: the room daemon and its admin commands. Everything lives in the library; this
//! file parses the command line, sets up logging and maps results to exit codes.

use clap::Parser;
use roombox::cli::{self, Cli, Cmd};

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
        Cmd::Run { config, notice } => run(&config, notice),
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

fn run(path: &std::path::Path, notice: Option<std::path::PathBuf>) -> i32 {
    use_one_malloc_arena();
    roombox::daemon::run(path, notice)
}
