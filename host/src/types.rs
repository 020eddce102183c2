//! The library's own view of what plugins return, with secrets held in types
//! that redact `Debug` and are zeroed on drop. Plugins' results are checked
//! into these types at the boundary (`contract/boundary.rs`).

use std::time::SystemTime;

use secrecy::SecretString;

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
#[derive(Clone, Debug)]
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

/// A job-facing stand-in that the host writes itself from typed results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LauncherKind {
    /// lava's AWS CLI stand-in for the connection's AWS credentials.
    AwsCli,
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
    /// The host-written stand-in the job gets, when the connector offers one.
    pub launcher: Option<LauncherKind>,
}
