//! What both aws connectors share: credentials, the AssumeRole request, the
//! host capabilities they use, and lava's AWS CLI stand-in.

use std::fmt::Write as _;

/// Credentials as the connector hands them out.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// Seconds since the Unix epoch.
    pub expiration: Option<u64>,
    pub region: Option<String>,
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
            .finish()
    }
}

/// An `AssumeRole` call as the connector asks the host for it.
#[derive(Debug, Clone, PartialEq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: u32,
    pub external_id: Option<String>,
    pub policy_arns: Vec<String>,
    pub policy: Option<String>,
    pub tags: Vec<(String, String)>,
    pub region: Option<String>,
}

/// A failed capability call, already worded for the user.
pub type CapabilityFailure = String;

/// A job-facing AWS CLI stand-in, as plain data: each connector turns it into
/// the contract's `launcher`.
#[derive(Debug, Clone, PartialEq)]
pub struct StandIn {
    /// The program (`aws`).
    pub program: &'static str,
    /// Arguments before the job's own.
    pub args: Vec<String>,
    /// Variables set to the path of a stand-in file: (variable, file name).
    pub file_env: Vec<(&'static str, &'static str)>,
    /// Variables removed from the job's environment.
    pub unset_env: Vec<String>,
    /// Files: (name, contents, mode).
    pub files: Vec<(&'static str, Vec<u8>, u32)>,
}

/// lava's `aws` stand-in: `AWS_CONFIG_FILE=<.aws_config> aws --profile lava "$@"`.
/// An empty credentials file keeps a `[lava]` profile in the user's own
/// `~/.aws/credentials` from overriding the connection's keys.
pub fn aws_stand_in(credentials: &Credentials) -> StandIn {
    const CONFIG: &str = ".aws_config";
    const CREDENTIALS: &str = ".aws_credentials";
    StandIn {
        program: "aws",
        args: vec!["--profile".into(), "lava".into()],
        file_env: vec![("AWS_CONFIG_FILE", CONFIG), ("AWS_SHARED_CREDENTIALS_FILE", CREDENTIALS)],
        unset_env: STALE_AWS_VARIABLES
            .iter()
            .filter(|v| credentials.region.is_some() || !v.ends_with("REGION"))
            .map(|v| v.to_string())
            .collect(),
        files: vec![(CONFIG, aws_config_file(credentials).into_bytes(), 0o600), (CREDENTIALS, Vec::new(), 0o600)],
    }
}

/// The host powers the resolve flow uses; the component glue maps them to WIT imports.
pub trait Capabilities {
    /// Read and decrypt an SSM parameter.
    fn get_parameter(&self, name: &str) -> Result<String, CapabilityFailure>;
    /// Assume a role, with `source` credentials instead of the worker's when given.
    fn assume_role(&self, request: &AssumeRole, source: Option<&Credentials>)
    -> Result<Credentials, CapabilityFailure>;
    /// The worker's own credentials (a privilege the host may refuse).
    fn worker_credentials(&self) -> Result<Credentials, CapabilityFailure>;
}

/// The body of lava's `.aws_config` for a connection: one `[profile lava]`.
pub fn aws_config_file(credentials: &Credentials) -> String {
    let mut out = String::from("[profile lava]\n");
    let _ = writeln!(out, "aws_access_key_id = {}", credentials.access_key_id);
    let _ = writeln!(out, "aws_secret_access_key = {}", credentials.secret_access_key);
    if let Some(token) = &credentials.session_token {
        let _ = writeln!(out, "aws_session_token = {token}");
    }
    if let Some(region) = &credentials.region {
        let _ = writeln!(out, "region = {region}");
    }
    if let Some(endpoint) = &credentials.endpoint_url {
        let _ = writeln!(out, "endpoint_url = {endpoint}");
    }
    out.push_str("s3 =\n    signature_version = s3v4\n");
    out
}

/// Variables that would override the stand-in's profile if the job's environment had them.
pub const STALE_AWS_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
];
