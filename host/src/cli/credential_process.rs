//! `lava-conn credential-process`: the helper a job's AWS profiles run. It
//! asks the parent `lava-conn exec` for one connection's credentials over
//! the job's socket and prints them as AWS's `credential_process` JSON. It
//! reads no configuration and no AWS settings of its own, so it can never
//! ask itself.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use lava_conn::sanitize;

/// Longest answer: credentials JSON is under 2 KiB.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// How long to wait for an answer: a resolve may wait for a free instance
/// slot (30 s by default) and then run for the wall limit (60 s).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// Print a connection's credentials for an AWS SDK (`credential_process`
/// format). Written into the job's AWS config by `lava-conn exec`; not for
/// direct use.
#[derive(clap::Args)]
pub struct Args {
    /// The job's credential socket.
    #[arg(long, value_name = "PATH")]
    socket: PathBuf,
    /// The connection's label in the job.
    #[arg(long, value_name = "LABEL")]
    label: String,
}

pub fn run(args: &Args) -> ExitCode {
    match ask(args) {
        Ok(answer) => {
            println!("{answer}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("lava-conn credential-process: {message}");
            ExitCode::FAILURE
        }
    }
}

fn ask(args: &Args) -> Result<String, String> {
    let socket = sanitize(&args.socket.display().to_string());
    let mut stream = UnixStream::connect(&args.socket).map_err(|e| {
        format!("cannot reach the lava-conn that runs this job at {socket}: {e} (did the job outlive it?)")
    })?;
    let io = |e: std::io::Error| format!("talking to {socket}: {e}");
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(io)?;
    stream.write_all(format!("{}\n", args.label).as_bytes()).map_err(io)?;
    stream.shutdown(std::net::Shutdown::Write).map_err(io)?;
    let mut answer = String::new();
    stream.take(MAX_ANSWER_BYTES).read_to_string(&mut answer).map_err(io)?;
    let value: serde_json::Value =
        serde_json::from_str(answer.trim()).map_err(|_| format!("{socket} gave no credentials"))?;
    if value.get("Version").is_some() {
        return Ok(answer.trim().to_string());
    }
    Err(sanitize(value.get("error").and_then(|e| e.as_str()).unwrap_or("no credentials")))
}
