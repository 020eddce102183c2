//! `lava-conn guard` (hidden): what ends the job and removes its private
//! folders when the `lava-conn exec` that started it is killed outright.
//!
//! SIGKILL (a supervisor's timeout such as Python's `subprocess.run(timeout=…)`,
//! or the OOM killer) gives `exec` no chance to clean up after its job. So
//! `exec` starts this small process before the job, in a session of its own
//! (a kill of `exec`'s process group spares it), with the read end of a pipe
//! as its stdin; only `exec` holds the write end (close-on-exec: the job
//! never inherits it; both processes are not dumpable, so the job cannot
//! reopen either end through `/proc`). `exec` writes `kill <target>` once
//! the job runs, `ended` once it has reaped it, and `done` once it has
//! cleaned up. If the pipe closes without `done`, `exec`
//! has died: the guard kills the job's process group and removes the
//! folders. What it cannot cover (it was killed too, say by a cgroup kill),
//! the next `exec` in the same work folder sweeps (`folders::sweep_abandoned`).

use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};

/// Clean up after a killed `lava-conn exec`. Started by `exec`; not for direct use.
#[derive(clap::Args)]
pub struct Args {
    /// The private folders to remove.
    #[arg(value_name = "FOLDER")]
    folders: Vec<PathBuf>,
}

pub fn run(args: &Args) -> ExitCode {
    refuse_inspection();
    let mut target: Option<libc::pid_t> = None;
    let mut told = false;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match line.as_str() {
            "done" => return ExitCode::SUCCESS,
            // The job has been reaped: its pid may soon be another's.
            "ended" => target = None,
            // Taken once: the job is started once.
            _ if !told => {
                if let Some(pid) = line.strip_prefix("kill ") {
                    target = pid.parse().ok().filter(|pid: &libc::pid_t| *pid != 0 && *pid != -1);
                    told = true;
                }
            }
            _ => {}
        }
    }
    // The pipe closed without `done`: exec ended without cleaning up.
    if let Some(target) = target {
        // SAFETY: kill(2) has no memory-safety preconditions; the target is
        // the job's process (group), never 0 or -1 (which would mean this
        // process's own group, or every process).
        unsafe {
            libc::kill(target, libc::SIGKILL);
        }
    }
    for folder in &args.folders {
        let _ = std::fs::remove_dir_all(folder);
    }
    ExitCode::SUCCESS
}

/// Keep processes of the same user (the job among them) out of this one:
/// not dumpable, so its `/proc/<pid>` entries (environment, memory, open
/// files such as the guard's pipe, which the job could reopen to write
/// `done`) belong to root and it cannot be traced.
pub fn refuse_inspection() {
    // An unsigned long, as the variadic prctl(2) reads it.
    let off: libc::c_ulong = 0;
    // SAFETY: prctl(2) with PR_SET_DUMPABLE takes integers only.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, off);
    }
}

/// `exec`'s end of a guard.
pub struct Guard {
    pipe: std::io::PipeWriter,
}

impl Guard {
    /// Start a guard over `folders` (it finds this program as `exec` does).
    pub fn start<'a>(program: &Path, folders: impl Iterator<Item = &'a Path>) -> std::io::Result<Self> {
        let (reader, pipe) = std::io::pipe()?;
        let mut command = std::process::Command::new(program);
        // It needs nothing of exec's environment (the worker's credentials).
        command.env_clear().arg("guard").args(folders).stdin(reader).stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: setsid(2) is async-signal-safe, as pre_exec requires.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        // Not waited for: it ends once told `done`, or once exec has ended.
        command.spawn()?;
        Ok(Self { pipe })
    }

    /// The job runs as `target` (a pid, or a process group as `-pgid`).
    pub fn job_started(&mut self, target: libc::pid_t) {
        let _ = writeln!(self.pipe, "kill {target}");
    }

    /// The job has ended and been reaped: its pid is no longer its.
    pub fn job_ended(&mut self) {
        let _ = writeln!(self.pipe, "ended");
    }

    /// exec has cleaned up: the guard has nothing left to do.
    pub fn done(mut self) {
        let _ = writeln!(self.pipe, "done");
    }
}
