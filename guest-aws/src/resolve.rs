//! lava's resolve flow: static keys from SSM, or an assumed role.

use lava_guest_kit::{AssumeRole, Credentials, Host};
use lava_rules::sts::external_id_problem;

use crate::spec::{AwsSpec, RoleSpec, Source};

/// Resolve a checked spec for a job whose session name is already derived.
pub fn resolve(spec: &AwsSpec, session_name: &str, host: &dyn Host) -> Result<Credentials, String> {
    if !spec.enabled {
        return Err(format!(
            "connection `{}` is not enabled: set `\"enabled\": true` in its spec to use it",
            spec.conn_id
        ));
    }
    match &spec.source {
        Source::AccessKeys(parameter) => static_keys(parameter, spec.region.clone(), host),
        Source::Role(role) => assume_role(role, session_name, spec.region.clone(), host),
    }
}

fn static_keys(parameter: &str, region: Option<String>, host: &dyn Host) -> Result<Credentials, String> {
    let value = host
        .get_parameter(parameter)
        .map_err(|e| format!("access_keys: cannot read SSM parameter `{parameter}`: {e}"))?;
    // lava splits at the first comma; the value itself never appears in a message.
    let (id, secret) = value
        .split_once(',')
        .map(|(id, secret)| (id.trim(), secret.trim()))
        // A control character would have the host refuse the credentials as
        // the plugin's invalid result: it is the parameter's shape, said so.
        .filter(|(id, secret)| {
            !id.is_empty()
                && !secret.is_empty()
                && !id.contains(char::is_whitespace)
                && !id.chars().chain(secret.chars()).any(char::is_control)
        })
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
    host: &dyn Host,
) -> Result<Credentials, String> {
    let external_id = match &role.external_id_parameter {
        None => None,
        Some(parameter) => {
            let id = host
                .get_parameter(parameter)
                .map_err(|e| format!("external_id: cannot read SSM parameter `{parameter}`: {e}"))?;
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
        ..AssumeRole::default()
    };
    let mut credentials =
        host.assume_role(&request, None).map_err(|e| format!("role_arn: cannot assume `{}`: {e}", role.role_arn))?;
    if credentials.region.is_none() {
        credentials.region = region;
    }
    Ok(credentials)
}
