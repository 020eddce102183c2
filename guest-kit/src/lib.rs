//! The guest side of the contract, generated once and shared by every connector
//! plugin of this workspace: the WIT bindings (a plugin exports its connector
//! with [`export_connector!`]), the host capabilities behind the plain-Rust
//! [`Capabilities`] trait, and conversions of the shared rule types.

wit_bindgen::generate!({
    world: "plugin",
    path: "../wit/v0.2.0",
    pub_export_macro: true,
    export_macro_name: "export_connector",
    default_bindings_module: "lava_guest_kit",
});

use lava::connector::types::{
    AwsCredentials, CapabilityError, Descriptor, FieldInfo, JobContext, LauncherKind, Problem, Resolved, Severity,
};
use lava::connector::{config, log, ssm, sts, worker_credentials};
use lava_rules::aws::{AssumeRole, Capabilities, Credentials};
use lava_rules::problem;

/// What `describe` returns, from a connector's field table
/// (name, type, required, description).
pub fn descriptor(connector_type: &str, version: &str, fields: &[(&str, &str, bool, &str)]) -> Descriptor {
    Descriptor {
        types: vec![connector_type.to_string()],
        version: version.to_string(),
        fields: fields
            .iter()
            .map(|(name, type_name, required, description)| FieldInfo {
                name: name.to_string(),
                type_name: type_name.to_string(),
                required: *required,
                description: description.to_string(),
            })
            .collect(),
    }
}

/// The contract's problems from the rule crate's.
pub fn problems_to_wit(problems: Vec<problem::Problem>) -> Vec<Problem> {
    problems
        .into_iter()
        .map(|p| Problem {
            field: p.field,
            message: p.message,
            severity: match p.severity {
                problem::Severity::Error => Severity::Error,
                problem::Severity::Warning => Severity::Warning,
            },
        })
        .collect()
}

/// Log each warning of a connection at `warn` (a resolve cannot return them).
pub fn log_warnings(context: &JobContext, problems: &[problem::Problem]) {
    for p in problems.iter().filter(|p| p.severity == problem::Severity::Warning) {
        log::log(log::Level::Warn, &format!("connection `{}`: {}: {}", context.conn_id, p.field, p.message));
    }
}

/// A worker setting shared through the `config` capability.
pub fn setting(key: &str) -> Option<String> {
    config::get(key)
}

/// What a job gets from AWS credentials: the credentials, and lava's AWS CLI
/// stand-in, which the host writes from them.
pub fn resolved_aws(credentials: Credentials) -> Resolved {
    Resolved {
        values: Vec::new(),
        expiration: credentials.expiration,
        launcher: Some(LauncherKind::AwsCli),
        aws: Some(credentials_to_wit(credentials)),
    }
}

fn credentials_to_wit(c: Credentials) -> AwsCredentials {
    AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
        expiration: c.expiration,
        region: c.region,
        endpoint_url: c.endpoint_url,
    }
}

fn credentials_from_wit(c: AwsCredentials) -> Credentials {
    Credentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
        expiration: c.expiration,
        region: c.region,
        endpoint_url: c.endpoint_url,
    }
}

/// A capability failure in words a user can act on.
fn describe_error(error: CapabilityError) -> String {
    match error {
        CapabilityError::NotGranted(m) => format!("not granted by the worker: {m}"),
        CapabilityError::NotFound(m) => format!("not found: {m}"),
        CapabilityError::AccessDenied(m) => format!("access denied: {m}"),
        CapabilityError::Throttled(m) => format!("throttled by AWS: {m}"),
        CapabilityError::InvalidInput(m) => format!("rejected by AWS: {m}"),
        CapabilityError::RegionDisabled(m) => format!("STS is not activated in the region: {m}"),
        CapabilityError::ExpiredToken(m) => format!("the worker's credentials have expired: {m}"),
        CapabilityError::Unavailable(m) => format!("AWS unavailable: {m}"),
        CapabilityError::Other(m) => m,
    }
}

/// The host's capabilities, through the contract's imports.
pub struct HostCapabilities;

impl Capabilities for HostCapabilities {
    fn get_parameter(&self, name: &str) -> Result<String, String> {
        ssm::get_parameter(name, true).map_err(describe_error)
    }

    fn assume_role(&self, request: &AssumeRole, source: Option<&Credentials>) -> Result<Credentials, String> {
        let request = sts::AssumeRoleRequest {
            role_arn: request.role_arn.clone(),
            session_name: request.session_name.clone(),
            duration_seconds: request.duration_seconds,
            external_id: request.external_id.clone(),
            policy_arns: request.policy_arns.clone(),
            policy: request.policy.clone(),
            tags: request.tags.iter().map(|(key, value)| sts::Tag { key: key.clone(), value: value.clone() }).collect(),
            transitive_tag_keys: request.transitive_tag_keys.clone(),
            endpoint_url: request.endpoint_url.clone(),
            source_identity: request.source_identity.clone(),
            region: request.region.clone(),
            source: source.cloned().map(credentials_to_wit),
        };
        sts::assume_role(&request).map(credentials_from_wit).map_err(describe_error)
    }

    fn worker_credentials(&self) -> Result<Credentials, String> {
        worker_credentials::get().map(credentials_from_wit).map_err(describe_error)
    }
}
