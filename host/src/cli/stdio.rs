//! Every line the binary prints goes through here (`main.rs` shadows
//! `print!`, `println!` and `eprintln!` with macros that call these), so that a reader who stops reading never makes lava-conn panic.
//!
//! Rust ignores SIGPIPE, so writing to a closed pipe is an error, and std's
//! macros turn it into a panic (exit 101 and "failed printing to stdout").
//! SIGPIPE stays ignored while lava-conn runs: `exec` serves its job's
//! credential socket and talks to AWS, and a peer that hangs up there must
//! cost one connection, never the process. So a closed pipe is handled where
//! it shows, at the write.

use std::io::Write;

/// Write to stdout. When the reader has gone (`lava-conn validate | head`),
/// lava-conn ends as Unix tools do: killed by SIGPIPE, quietly (a shell
/// reports 141). Commands that print to stdout hold nothing that needs
/// cleaning up; `exec` prints nothing there (its job owns stdout).
pub fn out(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => die_of_sigpipe(),
        // Nowhere left to say it; the exit code still tells.
        Err(_) => {}
    }
}

/// Write to stderr. A closed stderr is ignored: what was to be said is lost,
/// but the command goes on to clean up and exit with its own code (for
/// `exec`, the job's).
pub fn err(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// End the process as the default SIGPIPE action would.
fn die_of_sigpipe() -> ! {
    // SAFETY: signal(2) and raise(2) have no memory-safety preconditions;
    // restoring the default action makes the raise end the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    // Not reached; should a sandbox refuse the signal, end quietly anyway.
    std::process::exit(128 + libc::SIGPIPE)
}
