//! Turning a checked spec into credentials, with only the host's capabilities.

use std::fmt::Write as _;

use crate::spec::{AwsSpec, RoleSpec, Source, external_id_problem};

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
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
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

/// The host powers the resolve flow uses; the component glue maps them to WIT imports.
pub trait Capabilities {
    /// Read and decrypt an SSM parameter.
    fn get_parameter(&self, name: &str) -> Result<String, CapabilityFailure>;
    /// Assume a role.
    fn assume_role(&self, request: &AssumeRole) -> Result<Credentials, CapabilityFailure>;
}

/// Resolve a checked spec for a job whose session name is already derived.
pub fn resolve(
    spec: &AwsSpec,
    session_name: &str,
    caps: &dyn Capabilities,
) -> Result<Credentials, String> {
    if !spec.enabled {
        return Err(format!(
            "connection `{}` is not enabled: set `\"enabled\": true` in its spec to use it",
            spec.conn_id
        ));
    }
    match &spec.source {
        Source::AccessKeys(parameter) => static_keys(parameter, spec.region.clone(), caps),
        Source::Role(role) => assume_role(role, session_name, spec.region.clone(), caps),
    }
}

fn static_keys(
    parameter: &str,
    region: Option<String>,
    caps: &dyn Capabilities,
) -> Result<Credentials, String> {
    let value = caps
        .get_parameter(parameter)
        .map_err(|e| format!("access_keys: cannot read SSM parameter `{parameter}`: {e}"))?;
    // lava splits at the first comma; the value itself never appears in a message.
    let (id, secret) = value
        .split_once(',')
        .map(|(id, secret)| (id.trim(), secret.trim()))
        .filter(|(id, secret)| !id.is_empty() && !secret.is_empty() && !id.contains(char::is_whitespace))
        .ok_or_else(|| {
            format!(
                "access_keys: SSM parameter `{parameter}` must hold `access_key_id,secret_access_key`; \
                 its value has another shape (value not shown)"
            )
        })?;
    Ok(Credentials {
        access_key_id: id.to_string(),
        secret_access_key: secret.to_string(),
        session_token: None,
        expiration: None,
        region,
        endpoint_url: None,
    })
}

fn assume_role(
    role: &RoleSpec,
    session_name: &str,
    region: Option<String>,
    caps: &dyn Capabilities,
) -> Result<Credentials, String> {
    let external_id = match &role.external_id_parameter {
        None => None,
        Some(parameter) => {
            let id = caps.get_parameter(parameter).map_err(|e| {
                format!("external_id: cannot read SSM parameter `{parameter}`: {e}")
            })?;
            let id = id.trim().to_string();
            if let Some(problem) = external_id_problem(&id) {
                return Err(format!(
                    "external_id: the value of SSM parameter `{parameter}` is not a valid external ID: {problem}"
                ));
            }
            Some(id)
        }
    };
    let request = AssumeRole {
        role_arn: role.role_arn.clone(),
        session_name: session_name.to_string(),
        duration_seconds: role.duration_seconds,
        external_id,
        policy_arns: role.policy_arns.clone(),
        policy: role.policy.clone(),
        tags: role.tags.clone(),
        region: region.clone(),
    };
    let mut credentials = caps
        .assume_role(&request)
        .map_err(|e| format!("role_arn: cannot assume `{}`: {e}", role.role_arn))?;
    if credentials.region.is_none() {
        credentials.region = region;
    }
    Ok(credentials)
}

/// The body of lava's `.aws_config` for a connection: one `[profile lava]`.
pub fn aws_config_file(credentials: &Credentials) -> String {
    let mut out = String::from("[profile lava]\n");
    let _ = writeln!(out, "aws_access_key_id = {}", credentials.access_key_id);
    let _ = writeln!(
        out,
        "aws_secret_access_key = {}",
        credentials.secret_access_key
    );
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
