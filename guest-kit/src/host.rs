//! What a connector may ask of the host: the [`Host`] trait, its error type,
//! and the AWS values that cross it. Connector logic takes `&dyn Host`, so it
//! runs natively in tests against [`crate::testing::FakeHost`] and in the
//! sandbox against the contract's imports.

/// Credentials as a connector hands them out.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (not a secret: it is shown in `Debug`).
    pub access_key_id: String,
    /// The secret key; `Debug` never shows it.
    pub secret_access_key: String,
    /// The session token of temporary credentials; `Debug` never shows it.
    pub session_token: Option<String>,
    /// Seconds since the Unix epoch.
    pub expiration: Option<u64>,
    /// The region the job should use.
    pub region: Option<String>,
    /// An AWS endpoint for the job (the host passes it on only when the worker allows it).
    pub endpoint_url: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("expiration", &self.expiration)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .finish()
    }
}

/// An `AssumeRole` call as a connector asks the host for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssumeRole {
    /// The role to assume.
    pub role_arn: String,
    /// The role-session name (the host checks it: 2–64 of `[\w+=,.@-]`).
    pub session_name: String,
    /// The session's lifetime.
    pub duration_seconds: u32,
    /// The external id the role's trust policy asks for.
    pub external_id: Option<String>,
    /// Managed policies that narrow the session.
    pub policy_arns: Vec<String>,
    /// An inline policy (JSON) that narrows the session.
    pub policy: Option<String>,
    /// Session tags, in order.
    pub tags: Vec<(String, String)>,
    /// Keys of `tags` that pass on to later sessions in a role chain.
    pub transitive_tag_keys: Vec<String>,
    /// The session's source identity.
    pub source_identity: Option<String>,
    /// The STS region; the worker's when absent.
    pub region: Option<String>,
    /// The STS endpoint to call instead of the region's (only if the worker allows it).
    pub endpoint_url: Option<String>,
}

/// Temporary database credentials the host obtained (Redshift).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseCredentials {
    /// The database user.
    pub user: String,
    /// The temporary password; `Debug` never shows it.
    pub password: String,
    /// Seconds since the Unix epoch.
    pub expiration: Option<u64>,
}

impl std::fmt::Debug for DatabaseCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// A Redshift `GetClusterCredentials` call as a connector asks for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusterCredentials {
    /// The provisioned cluster.
    pub cluster_identifier: String,
    /// The database user.
    pub db_user: String,
    /// The database; any when absent.
    pub db_name: Option<String>,
    /// How long the password works: 900 to 3600 seconds.
    pub duration_seconds: u32,
    /// Create the user if it does not exist.
    pub auto_create: bool,
    /// Groups the user joins.
    pub db_groups: Vec<String>,
    /// The cluster's region; the worker's when absent.
    pub region: Option<String>,
    /// Make the call as this role (needs `sts` declared too).
    pub as_role: Option<AssumeRole>,
}

/// A Redshift Serverless `GetCredentials` call as a connector asks for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerlessCredentials {
    /// The workgroup.
    pub workgroup_name: String,
    /// The database; the workgroup's default when absent.
    pub db_name: Option<String>,
    /// How long the password works: 900 to 3600 seconds.
    pub duration_seconds: u32,
    /// The workgroup's region; the worker's when absent.
    pub region: Option<String>,
    /// Make the call as this role (needs `sts` declared too).
    pub as_role: Option<AssumeRole>,
}

/// An RDS IAM authentication token as a connector asks for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthToken {
    /// The database host, as the client connects to it.
    pub host: String,
    /// The database port.
    pub port: u16,
    /// The database user.
    pub user: String,
    /// The database's region; the worker's when absent.
    pub region: Option<String>,
    /// Sign as this role (needs `sts` declared too).
    pub as_role: Option<AssumeRole>,
}

/// Why the host refused or failed a capability call. `Display` words it for
/// the user; the text after the kind is the host's (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapabilityError {
    /// The worker's grants do not allow the call.
    NotGranted(String),
    /// The parameter (or the worker's credentials) does not exist.
    NotFound(String),
    /// AWS refused the call.
    AccessDenied(String),
    /// AWS throttled the call.
    Throttled(String),
    /// AWS refused the input (a malformed ARN, a policy too large, …).
    InvalidInput(String),
    /// STS is not activated in the region.
    RegionDisabled(String),
    /// The worker's own credentials have expired.
    ExpiredToken(String),
    /// AWS could not be reached.
    Unavailable(String),
    /// Anything else.
    Other(String),
}

impl std::fmt::Display for CapabilityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotGranted(m) => write!(f, "not granted by the worker: {m}"),
            Self::NotFound(m) => write!(f, "not found: {m}"),
            Self::AccessDenied(m) => write!(f, "access denied: {m}"),
            Self::Throttled(m) => write!(f, "throttled by AWS: {m}"),
            Self::InvalidInput(m) => write!(f, "rejected by AWS: {m}"),
            Self::RegionDisabled(m) => write!(f, "STS is not activated in the region: {m}"),
            Self::ExpiredToken(m) => write!(f, "the worker's credentials have expired: {m}"),
            Self::Unavailable(m) => write!(f, "AWS unavailable: {m}"),
            Self::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CapabilityError {}

/// How loud a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// What the host grants a connector, call by call. The host decides: every
/// AWS call is checked against the worker's grants for the call in progress
/// (`validate` and `session-name` get none), and each call has a budget.
pub trait Host {
    /// Read and decrypt an SSM parameter (under the realm's granted prefixes).
    fn get_parameter(&self, name: &str) -> Result<String, CapabilityError>;
    /// Assume a role, with `source` credentials instead of the worker's when given.
    fn assume_role(&self, request: &AssumeRole, source: Option<&Credentials>) -> Result<Credentials, CapabilityError>;
    /// The worker's own credentials (only for connector types the worker lists).
    fn worker_credentials(&self) -> Result<Credentials, CapabilityError>;
    /// A secret's current string value (Secrets Manager), by name or ARN.
    /// A plugin built without the SDK's `secrets-manager` feature (and
    /// hosts and fakes without it) answers unavailable; likewise the three
    /// below with `redshift` and `rds`.
    fn get_secret_value(&self, secret_id: &str) -> Result<String, CapabilityError> {
        Err(CapabilityError::Unavailable(format!(
            "no Secrets Manager here for `{secret_id}` (a plugin needs lava-guest-kit's `secrets-manager` feature)"
        )))
    }
    /// Redshift `GetClusterCredentials`.
    fn get_cluster_credentials(&self, request: &ClusterCredentials) -> Result<DatabaseCredentials, CapabilityError> {
        Err(CapabilityError::Unavailable(format!(
            "no Redshift here for `{}` (a plugin needs lava-guest-kit's `redshift` feature)",
            request.cluster_identifier
        )))
    }
    /// Redshift Serverless `GetCredentials`.
    fn get_serverless_credentials(
        &self,
        request: &ServerlessCredentials,
    ) -> Result<DatabaseCredentials, CapabilityError> {
        Err(CapabilityError::Unavailable(format!(
            "no Redshift Serverless here for `{}` (a plugin needs lava-guest-kit's `redshift` feature)",
            request.workgroup_name
        )))
    }
    /// An RDS IAM token, presigned by the host.
    fn generate_auth_token(&self, request: &AuthToken) -> Result<String, CapabilityError> {
        Err(CapabilityError::Unavailable(format!(
            "no RDS token signer here for `{}` (a plugin needs lava-guest-kit's `rds` feature)",
            request.host
        )))
    }
    /// A line in the worker's log (bounded and sanitised by the host).
    fn log(&self, level: Level, message: &str);
    /// A worker setting shared with connectors: `AWS_CONN_DURATION`,
    /// `AWS_ACCESS_KEY_CACHE_TTL`, `CONN_APP_NAME`, `AWS_REGION`.
    fn setting(&self, key: &str) -> Option<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_key_id_and_hides_the_secret_and_token() {
        let c = Credentials {
            access_key_id: "AKIDSHOWN".into(),
            secret_access_key: "s3cr3t-value".into(),
            session_token: Some("t0k3n-value".into()),
            expiration: Some(1),
            region: Some("eu-west-1".into()),
            endpoint_url: None,
        };
        let debug = format!("{c:?}");
        assert!(debug.contains("AKIDSHOWN") && debug.contains("eu-west-1"), "{debug}");
        assert!(!debug.contains("s3cr3t-value") && !debug.contains("t0k3n-value"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn capability_errors_say_what_happened_and_keep_the_hosts_words() {
        let cases = [
            (CapabilityError::NotGranted("ssm `/x`".into()), "not granted by the worker: ssm `/x`"),
            (CapabilityError::RegionDisabled("r".into()), "STS is not activated in the region: r"),
            (CapabilityError::Other("as is".into()), "as is"),
        ];
        for (error, words) in cases {
            assert_eq!(error.to_string(), words);
        }
    }
}
