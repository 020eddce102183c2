//! One AWS profile per connection, for jobs in any language: a host-written
//! config file whose profiles get their credentials through
//! `credential_process`, which asks the parent lava-conn (see `server.rs`).
//! Any AWS SDK reads it (`boto3.Session(profile_name=...)`, `aws --profile`,
//! the Rust, Java, Go and JavaScript SDKs) with no lava-conn code in the job.
//!
//! The same file must never supply lava-conn's *own* credentials: a
//! lava-conn whose worker credentials came from a job's profile would ask a
//! parent that may be itself. [`check_worker_profile`] refuses that.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::output::shell_quote;
use crate::error::HostError;
use crate::results::Job;
use crate::sanitizer::sanitize;

/// The first line of every config file written here: how a lava-conn
/// recognises a job's file among the worker's settings.
pub(crate) const MARKER: &str = "# Written by lava-conn for a job:";

/// The subcommand a profile's `credential_process` runs.
pub(crate) const HELPER_SUBCOMMAND: &str = "credential-process";

/// One connection's profile.
pub(crate) struct Profile<'a> {
    pub label: &'a str,
    pub region: Option<&'a str>,
    pub endpoint_url: Option<&'a str>,
}

/// The config file: a `[profile <label>]` per connection whose
/// `credential_process` runs `helper credential-process --socket S --label L`.
/// Every value is host text or was checked at the plugin boundary (labels
/// are `\w+`, regions AWS's shape, endpoints allowed and on one line); the
/// paths are quoted for both a POSIX shell (the Rust, Go, Java and JS SDKs
/// run the command with `sh -c`) and Python's `shlex` (botocore).
pub(crate) fn config_file(
    helper: &Path,
    socket: &Path,
    job: &Job,
    profiles: &[Profile<'_>],
) -> Result<String, HostError> {
    let one_line = |path: &Path| {
        let text = path.to_string_lossy().into_owned();
        if text.chars().any(char::is_control) {
            return Err(HostError::Spec(format!("`{}` cannot go in an AWS config file", sanitize(&text))));
        }
        Ok(shell_quote(&text))
    };
    let (helper, socket) = (one_line(helper)?, one_line(socket)?);
    let mut out = format!("{MARKER} realm {}, job {}.\n", sanitize(&job.realm), sanitize(&job.job_id));
    out.push_str(
        "# Each profile's credentials come from the lava-conn that runs the job, and refresh while it runs.\n",
    );
    for profile in profiles {
        let _ = writeln!(out, "\n[profile {}]", profile.label);
        let _ = writeln!(
            out,
            "credential_process = {helper} {HELPER_SUBCOMMAND} --socket {socket} --label {}",
            shell_quote(profile.label)
        );
        if let Some(region) = profile.region {
            let _ = writeln!(out, "region = {region}");
        }
        if let Some(endpoint) = profile.endpoint_url {
            let _ = writeln!(out, "endpoint_url = {endpoint}");
        }
    }
    Ok(out)
}

/// Refuse to take the worker's own AWS credentials from a profile written
/// for a job (or any profile whose `credential_process` is lava-conn's
/// helper): that is lava-conn calling itself. `env` is the worker's
/// environment. Explicit keys in the environment come first in every SDK's
/// chain, so with them no profile is read and nothing is refused.
pub fn check_worker_profile(env: &HashMap<String, String>) -> Result<(), HostError> {
    let set = |name: &str| env.get(name).filter(|v| !v.is_empty());
    if set("AWS_ACCESS_KEY_ID").is_some() {
        return Ok(());
    }
    let file = match (set("AWS_CONFIG_FILE"), set("HOME")) {
        (Some(file), _) => PathBuf::from(file),
        (None, Some(home)) => Path::new(home).join(".aws/config"),
        (None, None) => return Ok(()),
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(());
    };
    let profile = set("AWS_PROFILE").or(set("AWS_DEFAULT_PROFILE")).map_or("default", String::as_str);
    let refuse = |why: &str| {
        Err(HostError::Spec(format!(
            "the worker's AWS profile `{}` in {} {why}: lava-conn never takes its own credentials from \
             lava-conn (it would be asking itself). Run lava-conn with the worker's own AWS settings \
             (unset AWS_CONFIG_FILE and AWS_PROFILE, or set the worker's credentials)",
            sanitize(profile),
            sanitize(&file.display().to_string())
        )))
    };
    if text.starts_with(MARKER) {
        return refuse("was written by lava-conn for a job");
    }
    let helper = profile_value(&text, profile, "credential_process");
    if helper.is_some_and(|command| command.contains(&format!(" {HELPER_SUBCOMMAND} --socket "))) {
        return refuse("runs lava-conn's credential helper");
    }
    Ok(())
}

/// The value of `key` in `profile` of an AWS config file (`[default]` or
/// `[profile NAME]`): enough of the format to find one setting.
fn profile_value<'t>(text: &'t str, profile: &str, key: &str) -> Option<&'t str> {
    let mut in_profile = false;
    for line in text.lines().map(str::trim) {
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = section.trim();
            let name = name.strip_prefix("profile ").map(str::trim).unwrap_or(name);
            in_profile = name == profile;
        } else if in_profile
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job { realm: "prod".into(), job_id: "nightly\nload".into() }
    }

    #[test]
    fn each_connection_gets_a_profile_whose_credentials_come_from_the_parent() {
        let text = config_file(
            Path::new("/opt/lava conn/bin/lava-conn"),
            Path::new("/tmp/job.x/credentials.sock"),
            &job(),
            &[
                Profile { label: "aws1", region: Some("eu-west-1"), endpoint_url: None },
                Profile { label: "keys", region: None, endpoint_url: Some("http://127.0.0.1:5000") },
            ],
        )
        .unwrap();
        assert_eq!(
            text,
            "# Written by lava-conn for a job: realm prod, job nightly load.\n\
             # Each profile's credentials come from the lava-conn that runs the job, and refresh while it runs.\n\
             \n[profile aws1]\n\
             credential_process = '/opt/lava conn/bin/lava-conn' credential-process --socket '/tmp/job.x/credentials.sock' --label 'aws1'\n\
             region = eu-west-1\n\
             \n[profile keys]\n\
             credential_process = '/opt/lava conn/bin/lava-conn' credential-process --socket '/tmp/job.x/credentials.sock' --label 'keys'\n\
             endpoint_url = http://127.0.0.1:5000\n"
        );
    }

    #[test]
    fn a_path_with_a_line_break_is_refused_rather_than_written() {
        let error = config_file(Path::new("/bin/x\n[profile evil]"), Path::new("/s"), &job(), &[]).unwrap_err();
        assert!(error.to_string().contains("cannot go in an AWS config file"), "{error}");
    }

    fn check(config: &str, vars: &[(&str, &str)]) -> Result<(), HostError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(&file, config).unwrap();
        let mut env: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.insert("AWS_CONFIG_FILE".into(), file.display().to_string());
        check_worker_profile(&env)
    }

    #[test]
    fn the_worker_never_takes_its_own_credentials_from_a_jobs_profiles() {
        let job_file = config_file(
            Path::new("/bin/lava-conn"),
            Path::new("/s"),
            &job(),
            &[Profile { label: "aws1", region: None, endpoint_url: None }],
        )
        .unwrap();
        let error = check(&job_file, &[("AWS_PROFILE", "aws1")]).unwrap_err().to_string();
        assert!(error.contains("written by lava-conn for a job") && error.contains("`aws1`"), "{error}");
        // Copied into a config of the worker's own, the helper is still recognised.
        let copied = job_file.replace(MARKER, "# mine");
        let error = check(&copied, &[("AWS_PROFILE", "aws1")]).unwrap_err().to_string();
        assert!(error.contains("runs lava-conn's credential helper"), "{error}");
        // Explicit keys come first in every SDK's chain: the profile is not read.
        check(&job_file, &[("AWS_PROFILE", "aws1"), ("AWS_ACCESS_KEY_ID", "AKID")]).unwrap();
        // Positive control: an ordinary profile, and another profile of the same file.
        check("[default]\nregion = eu-west-1\n[profile p]\ncredential_process = /bin/vault p\n", &[]).unwrap();
        check(&copied, &[("AWS_PROFILE", "other")]).unwrap();
    }
}
