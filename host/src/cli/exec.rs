//! `lava-conn exec`: run a command with its connections, as lava's exe jobs
//! do, and clean up after it whatever happens.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use lava_conn::{WorkerConfig, check_label, sanitize};

use super::common::{EXIT_EXEC_FAILURE, Globals, JobArgs, StoreArgs, aws_host, runtime};

/// Run COMMAND with connections, as lava's exe jobs do: for each `--conn
/// LABEL=CONN_ID`, `LAVA_CONN_<LABEL>` is the path of a stand-in for the
/// connector's CLI (for aws, `$LAVA_CONN_AWS1 s3 ls`) and `LAVA_CONNID_<LABEL>`
/// the conn id; `LAVA_REALM` and `LAVA_JOB_ID` are set. Every connection with
/// AWS credentials is also a profile named LABEL in the job's
/// `AWS_CONFIG_FILE`, for any AWS SDK (`boto3.Session(profile_name=LABEL)`),
/// its credentials served by this process and refreshed while COMMAND runs;
/// `AWS_PROFILE` names the only one, or `--default-conn`. Exits with COMMAND's
/// status (128+N if killed by signal N), 125 when lava-conn itself fails,
/// 126/127 when COMMAND cannot be run / is not found.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    job: JobArgs,
    #[command(flatten)]
    store: StoreArgs,
    /// Folder for the connections' private folders (default: a new temporary folder).
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// A connection for the command, as LABEL=CONN_ID (LABEL: letters, digits, `_`).
    #[arg(long = "conn", value_name = "LABEL=CONN_ID", required = true)]
    conns: Vec<String>,
    /// The label whose profile is the job's default (`AWS_PROFILE`) when it has several.
    #[arg(long, value_name = "LABEL")]
    default_conn: Option<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

pub fn run(args: &Args, globals: &Globals, mut config: WorkerConfig) -> anyhow::Result<ExitCode> {
    // The job's profiles ask this very program for their credentials.
    if config.credential_helper.is_none() {
        config.credential_helper = Some(std::env::current_exe().context("cannot find the lava-conn program")?);
    }
    let job = args.job.job(&config)?;
    let connections = args.store.connections(&config)?;
    let labels = parse_conns(&args.conns)?;
    if let Some(label) = &args.default_conn {
        anyhow::ensure!(labels.contains_key(label), "--default-conn `{label}` is not one of the --conn labels");
    }
    match exec(globals, config, &connections, &job, &labels, args) {
        Ok(code) => Ok(code),
        Err(error) => {
            eprintln!("lava-conn: {error:#}");
            Ok(ExitCode::from(EXIT_EXEC_FAILURE))
        }
    }
}

/// `LABEL=CONN_ID` pairs; a label given twice is an error.
fn parse_conns(conns: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for pair in conns {
        let (label, conn_id) =
            pair.split_once('=').with_context(|| format!("--conn `{pair}` must be LABEL=CONN_ID"))?;
        check_label(label)?;
        anyhow::ensure!(!conn_id.is_empty(), "--conn `{pair}` has an empty conn id");
        if map.insert(label.to_string(), conn_id.to_string()).is_some() {
            anyhow::bail!("--conn label `{label}` is given twice");
        }
    }
    Ok(map)
}

/// Run the command with its connections; the private folders are removed
/// whatever happens (the guard is dropped on every path out of here).
fn exec(
    globals: &Globals,
    config: WorkerConfig,
    connections: &str,
    job: &lava_conn::Job,
    labels: &BTreeMap<String, String>,
    args: &Args,
) -> anyhow::Result<ExitCode> {
    let (workdir, command) = (args.workdir.as_deref(), &args.command);
    runtime()?.block_on(async {
        let (host, _) = aws_host(globals, config, connections, None).await?;
        let scratch = match workdir {
            Some(_) => None,
            None => Some(
                tempfile::Builder::new()
                    .prefix("lava-conn.")
                    .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                    .tempdir()?,
            ),
        };
        let workdir = workdir.or(scratch.as_ref().map(|d| d.path())).expect("one of the two");
        let mut env = host.prepare_job(job, labels, workdir).await?;
        if let Some(label) = &args.default_conn {
            env.set_default_profile(label)?;
        }
        let mut child_command = tokio::process::Command::new(&command[0]);
        for name in &env.remove {
            child_command.env_remove(name);
        }
        let mut child = match child_command.args(&command[1..]).envs(env.vars.clone()).spawn() {
            Ok(child) => child,
            Err(e) => {
                eprintln!("lava-conn: cannot run `{}`: {e}", sanitize(&command[0]));
                let code = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
                return Ok(ExitCode::from(code));
            }
        };
        let status = wait_forwarding_signals(&mut child).await?;
        env.cleanup().context("cannot remove the connections' private folders")?;
        let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
    })
}

/// Wait for the child, passing on SIGINT, SIGTERM and SIGHUP: the command
/// decides how to stop, and lava-conn stays to clean up after it.
async fn wait_forwarding_signals(child: &mut tokio::process::Child) -> anyhow::Result<std::process::ExitStatus> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let pid = child.id().context("the command has no process id")?;
    loop {
        let forwarded = tokio::select! {
            status = child.wait() => return Ok(status?),
            _ = interrupt.recv() => libc::SIGINT,
            _ = terminate.recv() => libc::SIGTERM,
            _ = hangup.recv() => libc::SIGHUP,
        };
        // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our
        // child, which has not been reaped while we hold it here.
        unsafe {
            libc::kill(libc::pid_t::try_from(pid).unwrap_or(0), forwarded);
        }
    }
}
