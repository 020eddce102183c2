//! `lava-conn exec`: run a command with its connections, as lava's exe jobs
//! do, and clean up after it whatever happens.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use lava_conn::{WorkerConfig, check_label, check_labels, sanitize};

use super::common::{EXIT_EXEC_FAILURE, Globals, JobArgs, StoreArgs, aws_host, runtime};
use super::guard::Guard;

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
    /// Folder for the connections' private folders (default: the temporary
    /// folder). It must be this user's, on a path nobody else can change;
    /// a sticky one that others may write (such as `/tmp`) gets a private
    /// folder of lava-conn's own.
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
    // The job runs as this user: it must not read this process's
    // environment and memory (the worker's credentials) through `/proc`.
    super::guard::refuse_inspection();
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
            eprintln!("lava-conn: {}", lava_conn::error_text(error.as_ref()));
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
    check_labels(map.keys().map(String::as_str))?;
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
        // The temporary folder is sticky and shared: the host makes its own inside.
        let workdir = workdir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let mut env = host.prepare_job(job, labels, &workdir).await?;
        if let Some(label) = &args.default_conn {
            env.set_default_profile(label)?;
        }
        let program = std::env::current_exe().context("cannot find the lava-conn program")?;
        let mut guard = Guard::start(&program, env.folders()).context("cannot start the job's guard")?;
        let mut child_command = tokio::process::Command::new(&command[0]);
        for name in &env.remove {
            child_command.env_remove(name);
        }
        let own_group = job_gets_its_own_group();
        child_command.args(&command[1..]).envs(env.vars.clone());
        bind_to_this_process(&mut child_command, own_group);
        // Caught from before the job starts: a signal between the spawn and
        // the wait would otherwise end lava-conn by default, and the job with
        // it (its death signal), never forwarded (seen once in CI).
        let signals = ForwardedSignals::catch()?;
        let mut child = match child_command.spawn() {
            Ok(child) => child,
            Err(e) => {
                eprintln!("lava-conn: cannot run `{}`: {e}", sanitize(&command[0]));
                let code = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
                return Ok(ExitCode::from(code));
            }
        };
        let pid = libc::pid_t::try_from(child.id().context("the command has no process id")?)?;
        let target = if own_group { -pid } else { pid };
        guard.job_started(target);
        let status = signals.wait(&mut child, target).await?;
        guard.job_ended();
        env.cleanup().context("cannot remove the connections' private folders")?;
        guard.done();
        let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
    })
}

/// Whether the job runs in a process group of its own, which the guard can
/// end whole (the job's children too) should exec be killed. Not when
/// lava-conn runs in the foreground of a terminal: an interactive job
/// (`psql`, or `ssh` asking for a password on `/dev/tty` with stdin
/// redirected) must stay in the terminal's foreground group to read from
/// it; there, the job itself still ends with exec (`bind_to_this_process`),
/// its children may not.
fn job_gets_its_own_group() -> bool {
    use std::os::fd::AsRawFd;
    let Ok(terminal) = std::fs::File::open("/dev/tty") else { return true };
    // SAFETY: tcgetpgrp(3) and getpgrp(2) on a descriptor we own.
    let foreground = unsafe { libc::tcgetpgrp(terminal.as_raw_fd()) == libc::getpgrp() };
    !foreground
}

/// The job cannot outlive this process: the kernel kills it (SIGKILL) when
/// exec ends, however exec ends (`PR_SET_PDEATHSIG`; the spawning thread is
/// the main thread, which lives as long as the process). A job that would
/// start after exec had already died ends at once.
fn bind_to_this_process(command: &mut tokio::process::Command, own_group: bool) {
    if own_group {
        command.process_group(0);
    }
    // SAFETY: getpid is called before the fork; prctl(2), getppid(2) and
    // raise(2) are async-signal-safe, as pre_exec requires.
    let parent = unsafe { libc::getpid() };
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::raise(libc::SIGKILL);
            }
            Ok(())
        });
    }
}

/// SIGINT, SIGTERM and SIGHUP, caught by lava-conn to pass on to its job.
struct ForwardedSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl ForwardedSignals {
    /// Catch them from now on (one that arrives before the job starts is
    /// passed on as soon as it has).
    fn catch() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Wait for the child, passing each signal on to `target` (the job, or
    /// its process group): the command decides how to stop, and lava-conn
    /// stays to clean up after it.
    async fn wait(
        mut self,
        child: &mut tokio::process::Child,
        target: libc::pid_t,
    ) -> anyhow::Result<std::process::ExitStatus> {
        loop {
            let forwarded = tokio::select! {
                status = child.wait() => return Ok(status?),
                _ = self.interrupt.recv() => libc::SIGINT,
                _ = self.terminate.recv() => libc::SIGTERM,
                _ = self.hangup.recv() => libc::SIGHUP,
            };
            // SAFETY: kill(2) has no memory-safety preconditions; `target` is
            // our child (or its group), not reaped while we hold it here.
            unsafe {
                libc::kill(target, forwarded);
            }
        }
    }
}
