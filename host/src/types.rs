//! The library's own view of what plugins return: checked, with secrets held
//! in types that redact `Debug` and are zeroed on drop.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{SecretBox, SecretString};

use crate::bindings::lava::connector::types as wit;
use crate::bindings::lava::connector::types as wit_types;
use crate::runtime::printable;

/// How serious a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The spec cannot be used.
    Error,
    /// The spec works but is suspicious.
    Warning,
}

/// One thing wrong with a connection spec.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The field concerned, or empty for the spec as a whole.
    pub field: String,
    /// What is wrong and what would be valid.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl Problem {
    /// An error found by the host itself (before any plugin ran).
    pub fn error(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), severity: Severity::Error }
    }

    pub(crate) fn from_plugin(p: wit_types::Problem) -> Self {
        Self {
            field: printable(p.field.as_bytes()),
            message: printable(p.message.as_bytes()),
            severity: match p.severity {
                wit_types::Severity::Error => Severity::Error,
                wit_types::Severity::Warning => Severity::Warning,
            },
        }
    }
}

/// The job a connection is resolved for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Job {
    /// The lava realm.
    pub realm: String,
    /// The job id.
    pub job_id: String,
}

/// Temporary or static AWS credentials.
#[derive(Debug)]
pub struct AwsCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (redacted in `Debug`, zeroed on drop).
    pub secret_access_key: SecretString,
    /// Session token of temporary credentials.
    pub session_token: Option<SecretString>,
    /// When they stop working.
    pub expiration: Option<SystemTime>,
    /// The region they are meant for.
    pub region: Option<String>,
    /// A non-default endpoint URL.
    pub endpoint_url: Option<String>,
}

/// A named value for the job.
#[derive(Debug)]
pub struct NamedValue {
    /// Its name.
    pub name: String,
    /// Its value (redacted in `Debug` whether or not it is secret).
    pub value: SecretString,
    /// Whether it must be kept out of logs and world-readable places.
    pub secret: bool,
}

/// Where a launcher environment variable gets its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    /// This text.
    Literal(String),
    /// The path of the launcher file with this name.
    FilePath(String),
}

/// A file of a launcher.
#[derive(Debug)]
pub struct LauncherFile {
    /// Plain file name.
    pub name: String,
    /// Contents (may hold secrets: redacted in `Debug`, zeroed on drop).
    pub contents: SecretBox<[u8]>,
    /// Permission bits, owner-only.
    pub mode: u32,
}

/// A CLI stand-in the host can materialise for a job.
#[derive(Debug)]
pub struct Launcher {
    /// Program to run.
    pub program: String,
    /// Arguments before the job's own.
    pub args: Vec<String>,
    /// Variables to set.
    pub env: Vec<(String, EnvValue)>,
    /// Variables to remove.
    pub unset_env: Vec<String>,
    /// Files beside the script.
    pub files: Vec<LauncherFile>,
}

/// What a job gets from a resolved connection.
#[derive(Debug)]
pub struct Resolved {
    /// Named values.
    pub values: Vec<NamedValue>,
    /// When the result stops being valid.
    pub expiration: Option<SystemTime>,
    /// AWS credentials, when the connector yields them.
    pub aws: Option<AwsCredentials>,
    /// A CLI stand-in, when the connector offers one.
    pub launcher: Option<Launcher>,
}

fn epoch_seconds(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// Whether `name` is a portable environment variable name.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Text that goes into a shell script or an environment: no NUL, no newline.
fn check_line(what: &str, text: &str) -> Result<(), String> {
    if text.contains(['\0', '\n', '\r']) {
        return Err(format!("{what} contains a NUL or line break"));
    }
    Ok(())
}

impl AwsCredentials {
    pub(crate) fn from_plugin(c: wit_types::AwsCredentials) -> Result<Self, String> {
        let id_ok =
            (1..=128).contains(&c.access_key_id.len()) && c.access_key_id.chars().all(|c| c.is_ascii_alphanumeric());
        if !id_ok {
            return Err("AWS access key id is not 1 to 128 letters and digits".into());
        }
        if c.secret_access_key.is_empty() {
            return Err("AWS secret access key is empty".into());
        }
        for (what, text) in
            [("secret access key", Some(&c.secret_access_key)), ("session token", c.session_token.as_ref())]
        {
            if let Some(text) = text {
                check_line(what, text)?;
            }
        }
        if let Some(region) = &c.region {
            check_line("region", region)?;
        }
        if let Some(url) = &c.endpoint_url {
            check_line("endpoint URL", url)?;
        }
        Ok(Self {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key.into(),
            session_token: c.session_token.map(Into::into),
            expiration: c.expiration.map(epoch_seconds),
            region: c.region,
            endpoint_url: c.endpoint_url,
        })
    }
}

impl Launcher {
    fn from_plugin(l: wit::Launcher) -> Result<Self, String> {
        if l.program.is_empty() {
            return Err("launcher program is empty".into());
        }
        check_line("launcher program", &l.program)?;
        for arg in &l.args {
            check_line("launcher argument", arg)?;
        }
        let mut names = BTreeSet::new();
        let mut files = Vec::with_capacity(l.files.len());
        for f in l.files {
            let valid = !f.name.is_empty()
                && f.name.len() <= 255
                && f.name != "."
                && f.name != ".."
                && !f.name.contains(['/', '\0', '\n', '\r']);
            if !valid {
                return Err(format!("launcher file name `{}` is not a plain file name", printable(f.name.as_bytes())));
            }
            if !names.insert(f.name.clone()) {
                return Err(format!("launcher file `{}` appears twice", f.name));
            }
            // Owner-only, whatever the plugin asked for.
            files.push(LauncherFile {
                name: f.name,
                contents: f.contents.into_boxed_slice().into(),
                mode: f.mode & 0o700,
            });
        }
        let mut env = Vec::with_capacity(l.env.len());
        for var in l.env {
            if !is_env_name(&var.name) {
                return Err(format!("launcher variable name `{}` is not valid", printable(var.name.as_bytes())));
            }
            let value = match var.value {
                wit::EnvValue::Literal(text) => {
                    check_line("launcher variable value", &text)?;
                    EnvValue::Literal(text)
                }
                wit::EnvValue::FilePath(name) => {
                    if !names.contains(&name) {
                        return Err(format!(
                            "launcher variable {} refers to file `{}`, which it does not create",
                            var.name,
                            printable(name.as_bytes())
                        ));
                    }
                    EnvValue::FilePath(name)
                }
            };
            env.push((var.name, value));
        }
        if let Some(bad) = l.unset_env.iter().find(|n| !is_env_name(n)) {
            return Err(format!("launcher unsets `{}`, which is not a variable name", printable(bad.as_bytes())));
        }
        Ok(Self { program: l.program, args: l.args, env, unset_env: l.unset_env, files })
    }
}

impl Resolved {
    pub(crate) fn from_plugin(r: wit::Resolved) -> Result<Self, String> {
        let mut values = Vec::with_capacity(r.values.len());
        for v in r.values {
            if !is_env_name(&v.name) {
                return Err(format!("value name `{}` is not a variable-style name", printable(v.name.as_bytes())));
            }
            values.push(NamedValue { name: v.name, value: v.value.into(), secret: v.secret });
        }
        Ok(Self {
            values,
            expiration: r.expiration.map(epoch_seconds),
            aws: r.aws.map(AwsCredentials::from_plugin).transpose()?,
            launcher: r.launcher.map(Launcher::from_plugin).transpose()?,
        })
    }
}
