//! lava's resolve flow: static keys from SSM, or an assumed role.

use lava_guest_kit::spec::aws::{PolicyArns, SessionTags, SsmName};
use lava_guest_kit::{AssumeRole, Credentials, Host, ValidateContext};
use lava_rules::sts::external_id_problem;

use crate::spec::{AwsSpec, ExternalIdParameter};

/// Resolve a checked spec for a job whose session name is already derived:
/// static keys when the spec has `access_keys` (lava's order), else the role.
pub fn resolve(
    spec: &AwsSpec,
    session_name: &str,
    context: &ValidateContext,
    host: &dyn Host,
) -> Result<Credentials, String> {
    let region = spec.region.as_ref().map(|r| r.0.clone());
    match (&spec.access_keys, &spec.role_arn) {
        (Some(SsmName(parameter)), _) => static_keys(parameter, region, host),
        (None, Some(_)) => assume_role(spec, session_name, context, region, host),
        // `check` refuses a spec with neither.
        (None, None) => Err("one of access_keys or role_arn is required".to_string()),
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
    spec: &AwsSpec,
    session_name: &str,
    context: &ValidateContext,
    region: Option<String>,
    host: &dyn Host,
) -> Result<Credentials, String> {
    let role_arn = spec.role_arn.as_ref().map(|r| r.0.clone()).unwrap_or_default();
    let (field, duration) = spec.session_duration(context);
    let duration_seconds = duration.map_err(|message| format!("{field}: {message}"))?;
    let external_id = match &spec.external_id {
        None => None,
        Some(ExternalIdParameter(parameter)) => Some(external_id(parameter, host)?),
    };
    let request = AssumeRole {
        role_arn: role_arn.clone(),
        session_name: session_name.to_string(),
        duration_seconds,
        external_id,
        policy_arns: spec.policy_arns.clone().map(|PolicyArns(arns)| arns).unwrap_or_default(),
        policy: spec.policy.as_ref().map(|p| p.compact.clone()),
        tags: spec.tags.clone().map(|SessionTags(tags)| tags).unwrap_or_default(),
        region: region.clone(),
        ..AssumeRole::default()
    };
    let mut credentials =
        host.assume_role(&request, None).map_err(|e| format!("role_arn: cannot assume `{role_arn}`: {e}"))?;
    if credentials.region.is_none() {
        credentials.region = region;
    }
    Ok(credentials)
}

/// The external ID held in SSM `parameter`, checked before STS sees it.
fn external_id(parameter: &str, host: &dyn Host) -> Result<String, String> {
    let id = host
        .get_parameter(parameter)
        .map_err(|e| format!("external_id: cannot read SSM parameter `{parameter}`: {e}"))?;
    let id = id.trim().to_string();
    if let Some(problem) = external_id_problem(&id) {
        return Err(format!(
            "external_id: the value of SSM parameter `{parameter}` is not a valid external ID: {problem}"
        ));
    }
    Ok(id)
}
