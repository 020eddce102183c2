//! The `aws` connection spec: lava's fields, each read as the AWS thing it
//! names (so STS's and SSM's limits are checked as it is read), and the
//! rules between fields, which need the realm and the worker's settings.

use lava_guest_kit::spec::aws::{PolicyArns, Region, RoleArn, SessionDuration, SessionPolicy, SessionTags, SsmName};
use lava_guest_kit::{FieldError, FieldValue, Problem, Spec, ValidateContext};
use lava_rules::duration::parse_duration;
use serde_json::Value;

/// The connector type this plugin handles.
pub const CONNECTOR_TYPE: &str = "aws";

/// The worker's default session length (`AWS_CONN_DURATION`).
pub const DEFAULT_DURATION: &str = "3h";
/// The worker's default credential cache lifetime (`AWS_ACCESS_KEY_CACHE_TTL`).
pub const DEFAULT_CACHE_TTL: &str = "10m";

/// lava's `aws` connection.
#[derive(Clone, Debug, PartialEq, Spec)]
pub struct AwsSpec {
    /// Who owns the connection.
    pub owner: Option<String>,
    /// Unused by this connector; accepted for lava compatibility.
    pub secret_id: Option<String>,
    /// SSM SecureString parameter under /lava/<realm>/ holding
    /// `access_key_id,secret_access_key`. One of access_keys or role_arn.
    pub access_keys: Option<SsmName>,
    /// IAM role to assume. One of access_keys or role_arn.
    pub role_arn: Option<RoleArn>,
    /// Session length when assuming the role (900 s to 12 h); default
    /// AWS_CONN_DURATION (3h).
    pub duration: Option<SessionDuration>,
    /// Name of an SSM parameter holding the external ID for AssumeRole.
    pub external_id: Option<ExternalIdParameter>,
    /// Managed session policy ARNs (at most 10).
    pub policy_arns: Option<PolicyArns>,
    /// Inline session policy (at most 2048 characters as compact JSON).
    pub policy: Option<SessionPolicy>,
    /// AWS region; default the worker's region.
    pub region: Option<Region>,
    /// Session tags (at most 50).
    pub tags: Option<SessionTags>,
}

/// `external_id`: the name of the SSM parameter holding the ID, which a
/// spec author easily mistakes for the ID itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalIdParameter(pub String);

impl FieldValue for ExternalIdParameter {
    const TYPE_NAME: &'static str = SsmName::TYPE_NAME;
    fn from_value(value: &Value) -> Result<Self, FieldError> {
        SsmName::from_value(value).map(|name| Self(name.0)).map_err(|e| FieldError {
            message: format!("{} (external_id is the NAME of an SSM parameter holding the ID, not the ID)", e.message),
            ..e
        })
    }
}

/// The fields that apply only when a role is assumed.
const ROLE_FIELDS: [&str; 5] = ["duration", "external_id", "policy_arns", "policy", "tags"];

impl AwsSpec {
    fn has_role_field(&self, field: &str) -> bool {
        match field {
            "duration" => self.duration.is_some(),
            "external_id" => self.external_id.is_some(),
            "policy_arns" => self.policy_arns.is_some(),
            "policy" => self.policy.is_some(),
            _ => self.tags.is_some(),
        }
    }

    /// The role's session length in seconds: the spec's, else the worker's
    /// `AWS_CONN_DURATION`; with the field a problem is reported on.
    pub fn session_duration(&self, context: &ValidateContext) -> (&'static str, Result<u32, String>) {
        if let Some(SessionDuration(seconds)) = self.duration {
            return ("duration", Ok(seconds));
        }
        let setting = context.setting("AWS_CONN_DURATION").unwrap_or_else(|| DEFAULT_DURATION.to_string());
        ("AWS_CONN_DURATION", SessionDuration::parse(&setting).map(|d| d.0))
    }
}

/// The rules between fields, run once every field has been read.
pub fn check(spec: &AwsSpec, context: &ValidateContext, problems: &mut Vec<Problem>) {
    match (&spec.access_keys, &spec.role_arn) {
        (None, None) => problems.push(Problem::error(
            "",
            "one of access_keys (an SSM parameter holding static keys) or role_arn (a role to assume) is required",
        )),
        (Some(SsmName(name)), role) => {
            check_access_keys_realm(name, context, problems);
            if role.is_some() {
                let message = "is ignored because access_keys is also set (lava uses access_keys); remove one of them";
                problems.push(Problem::warning("role_arn", message));
            }
        }
        (None, Some(_)) => check_duration(spec, context, problems),
    }
    if spec.role_arn.is_none() {
        let reason = if spec.access_keys.is_some() {
            "is ignored: it applies only when a role is assumed (role_arn), and this connection uses access_keys"
        } else {
            "applies only when a role is assumed: add role_arn"
        };
        for field in ROLE_FIELDS.into_iter().filter(|f| spec.has_role_field(f)) {
            problems.push(Problem::warning(field, reason));
        }
    }
    if let (Some(ExternalIdParameter(name)), Some(realm)) = (&spec.external_id, &context.realm) {
        let prefix = format!("/lava/{realm}/");
        if !name.starts_with(&prefix) {
            let message =
                format!("`{name}` is outside `{prefix}`; the worker grants SSM reads under `{prefix}` by default");
            problems.push(Problem::warning("external_id", message));
        }
    }
    if spec.policy.as_ref().is_some_and(|p| !p.has_statement) {
        let message = "has no `Statement`; an IAM policy document needs `Version` and `Statement`";
        problems.push(Problem::warning("policy", message));
    }
    for (field, message) in spec.tags.iter().flat_map(SessionTags::problems) {
        problems.push(Problem::error(&field, message));
    }
}

/// `access_keys` names a parameter of the spec's own realm.
fn check_access_keys_realm(name: &str, context: &ValidateContext, problems: &mut Vec<Problem>) {
    let message = match context.realm.as_deref() {
        Some(realm) => {
            let prefix = format!("/lava/{realm}/");
            if name.starts_with(&prefix) && name.len() > prefix.len() {
                return;
            }
            format!("`{name}` must be an SSM parameter under `{prefix}` (for example `{prefix}aws/keys`)")
        }
        None if name.starts_with("/lava/") => return,
        None => format!("`{name}` must be an SSM parameter under `/lava/<realm>/`"),
    };
    problems.push(Problem::error("access_keys", message));
}

/// The role's session length is one STS takes, and well above the cache TTL.
fn check_duration(spec: &AwsSpec, context: &ValidateContext, problems: &mut Vec<Problem>) {
    let (field, duration) = match spec.session_duration(context) {
        (field, Ok(duration)) => (field, duration),
        (field, Err(message)) => return problems.push(Problem::error(field, message)),
    };
    let ttl_text = context.setting("AWS_ACCESS_KEY_CACHE_TTL").unwrap_or_else(|| DEFAULT_CACHE_TTL.to_string());
    // A credential handed out near the end of its cache life must still
    // have at least as long to run as it has already been cached.
    if let Ok(ttl) = parse_duration(&ttl_text)
        && f64::from(duration) < 2.0 * ttl
    {
        let message = format!(
            "{duration} s is not well above the credential cache TTL ({ttl_text}): \
             a job may get credentials with little time left; use at least {} s",
            (2.0 * ttl).ceil()
        );
        problems.push(Problem::warning(field, message));
    }
}
