//! The library's own view of what plugins return, with secrets held in types
//! that redact `Debug` and are zeroed on drop. Plugins' results are checked
//! into these types at the boundary (`contract/boundary.rs`).

use std::time::SystemTime;

use secrecy::SecretString;

/// Problems found in a spec: one definition with the SDK and the connectors.
pub use lava_rules::problem::{Problem, Severity};

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

/// Temporary database credentials a host capability obtained.
#[derive(Clone, Debug)]
pub struct DatabaseCredentials {
    /// The database user they are for.
    pub user: String,
    /// The password (redacted in `Debug`, zeroed on drop).
    pub password: SecretString,
    /// When the password stops working.
    pub expiration: Option<SystemTime>,
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

pub use lava_rules::launcher::LauncherKind;

/// Where and how a job logs in to a database or server: what the host
/// writes client files from. Checked at the boundary; secrets redacted in
/// `Debug` and zeroed on drop.
#[derive(Clone, Debug, Default)]
pub struct Login {
    /// Host name or address.
    pub host: Option<String>,
    /// TCP port.
    pub port: Option<u16>,
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub password: Option<SecretString>,
    /// Database (for `sqlplus` the service, for `sqlite3` the file).
    pub database: Option<String>,
    /// TLS mode, in the client's own words.
    pub ssl_mode: Option<String>,
    /// A CA bundle, PEM text.
    pub ca_certificate: Option<String>,
    /// The application name the server sees.
    pub application_name: Option<String>,
    /// An SSH private key.
    pub private_key: Option<SecretString>,
    /// SSH options, checked against the host's list.
    pub ssh_options: Vec<(String, String)>,
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
    /// The login the stand-in is written from.
    pub login: Option<Login>,
}
