//! Handing connections to a job the way lava's exe jobs do: for each label, a
//! private folder holding the connector's launcher (a CLI stand-in) and the
//! environment that points at it. Nothing here knows about AWS: any
//! connector's launcher is materialised the same way.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use crate::error::HostError;
use crate::output::shell_quote;
use crate::types::{EnvValue, Job, Launcher, Resolved};

/// A connection label failed the `\w+` rule.
pub fn check_label(label: &str) -> Result<(), HostError> {
    let valid = !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(HostError::Spec(format!(
            "connection label `{label}` must be letters, digits and `_` only (it becomes LAVA_CONN_{})",
            label.to_uppercase()
        )))
    }
}

/// The environment a job gets for its connections, and the private folders
/// that back it. Dropping this removes the folders (and the secrets in them).
#[derive(Debug)]
pub struct JobEnvironment {
    /// Variables to add to the job's environment: `LAVA_REALM`, `LAVA_JOB_ID`,
    /// and per label `LAVA_CONNID_<LABEL>` and, when the connector has a
    /// launcher, `LAVA_CONN_<LABEL>`.
    pub vars: Vec<(String, String)>,
    folders: Vec<tempfile::TempDir>,
}

impl JobEnvironment {
    /// The private folders, one per connection with a launcher.
    pub fn folders(&self) -> impl Iterator<Item = &Path> {
        self.folders.iter().map(|d| d.path())
    }

    /// Remove the folders now, reporting any failure (dropping also removes them).
    pub fn cleanup(mut self) -> std::io::Result<()> {
        for folder in self.folders.drain(..) {
            folder.close()?;
        }
        Ok(())
    }
}

/// Build the environment for `resolved` connections (label → conn id and
/// result) in `workdir`.
pub fn materialise(
    job: &Job,
    workdir: &Path,
    connections: &BTreeMap<String, (String, &Resolved)>,
) -> Result<JobEnvironment, HostError> {
    let io_error = |what: &str, e: std::io::Error| HostError::Spec(format!("{what}: {e}"));
    let mut env = JobEnvironment {
        vars: vec![("LAVA_REALM".into(), job.realm.clone()), ("LAVA_JOB_ID".into(), job.job_id.clone())],
        folders: Vec::new(),
    };
    for (label, (conn_id, resolved)) in connections {
        check_label(label)?;
        let upper = label.to_uppercase();
        env.vars.push((format!("LAVA_CONNID_{upper}"), conn_id.clone()));
        let Some(launcher) = &resolved.launcher else {
            continue;
        };
        // Owner-only from creation, under an unpredictable name.
        let folder = tempfile::Builder::new()
            .prefix(&format!("conn.{label}."))
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(workdir)
            .map_err(|e| io_error(&format!("cannot create a private folder in {}", workdir.display()), e))?;
        let script = write_launcher(folder.path(), conn_id, launcher)
            .map_err(|e| io_error(&format!("cannot write the launcher of connection `{conn_id}`"), e))?;
        env.vars.push((format!("LAVA_CONN_{upper}"), script.display().to_string()));
        env.folders.push(folder);
    }
    Ok(env)
}

/// Write the launcher's files and its script into `folder`; return the script's path.
fn write_launcher(folder: &Path, conn_id: &str, launcher: &Launcher) -> std::io::Result<PathBuf> {
    for file in &launcher.files {
        write_private(&folder.join(&file.name), file.contents.expose_secret(), file.mode)?;
    }
    let program_name = Path::new(&launcher.program)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| launcher.files.iter().all(|f| f.name != *n))
        .unwrap_or("run");
    let script_path = folder.join(program_name);
    let mut script = String::from("#!/bin/sh\n");
    script.push_str(&format!(
        "# lava-conn stand-in for `{}` with connection {}\n",
        launcher.program,
        shell_quote(conn_id)
    ));
    if !launcher.unset_env.is_empty() {
        script.push_str(&format!("unset {}\n", launcher.unset_env.join(" ")));
    }
    for (name, value) in &launcher.env {
        let value = match value {
            EnvValue::Literal(text) => text.clone(),
            EnvValue::FilePath(file) => folder.join(file).display().to_string(),
        };
        script.push_str(&format!("export {name}={}\n", shell_quote(&value)));
    }
    script.push_str("exec");
    for word in std::iter::once(&launcher.program).chain(&launcher.args) {
        script.push(' ');
        script.push_str(&shell_quote(word));
    }
    script.push_str(" \"$@\"\n");
    write_private(&script_path, script.as_bytes(), 0o700)?;
    Ok(script_path)
}

/// Create `path` with owner-only permissions from the start (never briefly
/// world-readable), and write `contents`.
fn write_private(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(mode & 0o700).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
