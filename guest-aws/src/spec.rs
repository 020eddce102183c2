//! The `aws` connection spec: every field, type and AWS limit of lava's connector.

use lava_guest_kit::{Field, Host};
use lava_guest_kit::{SpecReader, parse_object};
use lava_rules::duration::parse_duration;
use lava_rules::problem::{Problem, has_error, kind};
use lava_rules::sts;
use serde_json::Value;

/// The connector type this plugin handles.
pub const CONNECTOR_TYPE: &str = "aws";

/// The worker's default session length (`AWS_CONN_DURATION`).
pub const DEFAULT_DURATION: &str = "3h";
/// The worker's default credential cache lifetime (`AWS_ACCESS_KEY_CACHE_TTL`).
pub const DEFAULT_CACHE_TTL: &str = "10m";

/// The spec's fields (what `describe` reports).
pub const FIELDS: &[Field] = &[
    Field::required("conn_id", "string", "Connection identifier."),
    Field::required("type", "string", "`aws` (any case)."),
    Field::required("enabled", "bool", "Whether the connection may be used."),
    Field::optional("description", "string", "Free text."),
    Field::optional("owner", "string", "Who owns the connection."),
    Field::optional("secret_id", "string", "Unused by this connector; accepted for lava compatibility."),
    Field::optional(
        "access_keys",
        "string",
        "SSM SecureString parameter under /lava/<realm>/ holding `access_key_id,secret_access_key`. One of access_keys or role_arn.",
    ),
    Field::optional("role_arn", "string", "IAM role to assume. One of access_keys or role_arn."),
    Field::optional(
        "duration",
        "duration",
        "Session length when assuming the role (900 s to 12 h); default AWS_CONN_DURATION (3h).",
    ),
    Field::optional("external_id", "string", "Name of an SSM parameter holding the external ID for AssumeRole."),
    Field::optional("policy_arns", "string | list<string>", "Managed session policy ARNs (at most 10)."),
    Field::optional("policy", "map<string,any>", "Inline session policy (at most 2048 characters as compact JSON)."),
    Field::optional("region", "string", "AWS region; default the worker's region."),
    Field::optional("tags", "map<string,string>", "Session tags (at most 50)."),
];

/// Worker settings that validation depends on.
#[derive(Clone, Default)]
pub struct Settings<'h> {
    /// The realm, when known; `access_keys` must be under `/lava/<realm>/`.
    pub realm: Option<String>,
    /// `AWS_CONN_DURATION`, when the worker sets it.
    pub default_duration: Option<String>,
    /// `AWS_ACCESS_KEY_CACHE_TTL`, when the worker sets it.
    pub cache_ttl: Option<String>,
    /// Where a setting left `None` above is asked for, and only when a
    /// check needs it: in the sandbox each ask is a call out to the host,
    /// ~0.4 µs of a ~12 µs validate, and most specs need one of the two.
    pub host: Option<&'h dyn Host>,
}

impl Settings<'_> {
    fn read(&self, given: &Option<String>, key: &str) -> Option<String> {
        given.clone().or_else(|| self.host?.setting(key))
    }

    fn default_duration(&self) -> String {
        self.read(&self.default_duration, "AWS_CONN_DURATION").unwrap_or_else(|| DEFAULT_DURATION.to_string())
    }

    fn cache_ttl(&self) -> String {
        self.read(&self.cache_ttl, "AWS_ACCESS_KEY_CACHE_TTL").unwrap_or_else(|| DEFAULT_CACHE_TTL.to_string())
    }
}

/// Where the credentials come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Static keys in this SSM SecureString parameter.
    AccessKeys(String),
    /// A role to assume.
    Role(RoleSpec),
}

/// Everything an `AssumeRole` call needs from the spec.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleSpec {
    pub role_arn: String,
    pub duration_seconds: u32,
    /// Name of the SSM parameter holding the external ID.
    pub external_id_parameter: Option<String>,
    pub policy_arns: Vec<String>,
    /// The inline session policy as compact JSON.
    pub policy: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// A spec that passed validation.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsSpec {
    pub conn_id: String,
    pub enabled: bool,
    pub source: Source,
    pub region: Option<String>,
}

/// The outcome of checking a spec: the parsed spec when there is no error, and every problem.
pub struct Checked {
    pub spec: Option<AwsSpec>,
    pub problems: Vec<Problem>,
}

/// Parse and check the spec in `json`.
pub fn check(json: &str, settings: &Settings<'_>) -> Checked {
    let object = match parse_object(json) {
        Ok(object) => object,
        Err(problem) => return Checked { spec: None, problems: vec![problem] },
    };
    let mut checker = Checker { reader: SpecReader::new(&object), settings };
    let spec = checker.run();
    let problems = checker.reader.problems;
    Checked { spec: if has_error(&problems) { None } else { spec }, problems }
}

struct Checker<'a> {
    reader: SpecReader<'a>,
    settings: &'a Settings<'a>,
}

impl<'a> Checker<'a> {
    fn error(&mut self, field: &str, message: impl Into<String>) {
        self.reader.error(field, message);
    }

    fn warning(&mut self, field: &str, message: impl Into<String>) {
        self.reader.warning(field, message);
    }

    fn has(&self, field: &str) -> bool {
        self.reader.has(field)
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.reader.object.get(field)
    }

    fn run(&mut self) -> Option<AwsSpec> {
        let known: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        self.reader.reject_unknown(&known, CONNECTOR_TYPE);
        let conn_id = self.reader.required_string("conn_id");
        if conn_id.as_deref() == Some("") {
            self.error("conn_id", "must not be empty");
        }
        self.reader.connector_type(CONNECTOR_TYPE);
        let enabled = match self.get("enabled") {
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                let message = format!("must be true or false, not {}", kind(other));
                self.error("enabled", message);
                None
            }
            None => {
                self.error(
                    "enabled",
                    "is required: add `\"enabled\": true` (lava treats a spec without it as disabled)",
                );
                None
            }
        };
        for field in ["description", "owner", "secret_id"] {
            self.reader.optional_string(field);
        }
        let region = self.region();
        let access_keys = self.access_keys();
        let role = self.role(access_keys.is_some());
        let source = match (access_keys, role) {
            (Some(keys), _) => {
                if self.has("role_arn") {
                    self.warning(
                        "role_arn",
                        "is ignored because access_keys is also set (lava uses access_keys); remove one of them",
                    );
                }
                Some(Source::AccessKeys(keys))
            }
            (None, Some(role)) => Some(Source::Role(role)),
            (None, None) => {
                if !self.has("access_keys") && !self.has("role_arn") {
                    self.error(
                        "",
                        "one of access_keys (an SSM parameter holding static keys) or role_arn (a role to assume) is required",
                    );
                }
                None
            }
        };
        Some(AwsSpec { conn_id: conn_id?, enabled: enabled?, source: source?, region })
    }

    fn region(&mut self) -> Option<String> {
        let region = self.reader.optional_string("region")?;
        if let Some(problem) = sts::region_problem(&region) {
            self.error("region", problem);
        }
        Some(region)
    }

    fn access_keys(&mut self) -> Option<String> {
        let name = self.reader.optional_string("access_keys")?;
        if let Some(message) = sts::ssm_name_problem(&name) {
            self.error("access_keys", message);
            return None;
        }
        let realm_prefix = self.settings.realm.as_deref().map(|realm| format!("/lava/{realm}/"));
        match realm_prefix {
            Some(prefix) if !name.starts_with(&prefix) || name.len() == prefix.len() => {
                self.error(
                    "access_keys",
                    format!("`{name}` must be an SSM parameter under `{prefix}` (for example `{prefix}aws/keys`)"),
                );
                None
            }
            None if !name.starts_with("/lava/") => {
                self.error("access_keys", format!("`{name}` must be an SSM parameter under `/lava/<realm>/`"));
                None
            }
            _ => Some(name),
        }
    }

    /// The role fields. With `access_keys` set they are still checked, and
    /// reported as ignored.
    fn role(&mut self, has_access_keys: bool) -> Option<RoleSpec> {
        let role_arn = self.reader.optional_string("role_arn").and_then(|arn| match sts::check_role_arn(&arn) {
            Ok(()) => Some(arn),
            Err(message) => {
                self.error("role_arn", message);
                None
            }
        });
        let duration_seconds = self.duration();
        let external_id_parameter = self.external_id();
        let policy_arns = self.policy_arns();
        let policy = self.policy();
        let tags = self.tags();
        if !self.has("role_arn") {
            for field in ["duration", "external_id", "policy_arns", "policy", "tags"] {
                if self.has(field) {
                    let reason = if has_access_keys {
                        "is ignored: it applies only when a role is assumed (role_arn), and this connection uses access_keys"
                    } else {
                        "applies only when a role is assumed: add role_arn"
                    };
                    self.warning(field, reason);
                }
            }
        }
        Some(RoleSpec {
            role_arn: role_arn?,
            duration_seconds: duration_seconds?,
            external_id_parameter,
            policy_arns: policy_arns?,
            policy: policy?,
            tags: tags?,
        })
    }

    fn duration(&mut self) -> Option<u32> {
        let (field, seconds) = match self.get("duration") {
            Some(Value::String(text)) => ("duration", parse_duration(text)),
            Some(Value::Number(n)) => ("duration", n.as_f64().ok_or_else(|| "is not a number".to_string())),
            Some(other) => {
                let message = format!("must be a duration such as `3h` or a number of seconds, not {}", kind(other));
                self.error("duration", message);
                return None;
            }
            None => ("AWS_CONN_DURATION", parse_duration(&self.settings.default_duration())),
        };
        let duration = match seconds.and_then(sts::duration_seconds) {
            Ok(duration) => duration,
            Err(message) => {
                self.error(field, message);
                return None;
            }
        };
        if !self.has("role_arn") {
            return Some(duration);
        }
        let ttl_text = self.settings.cache_ttl();
        if let Ok(ttl) = parse_duration(&ttl_text) {
            // A credential handed out near the end of its cache life must still
            // have at least as long to run as it has already been cached.
            if f64::from(duration) < 2.0 * ttl {
                self.warning(
                    field,
                    format!(
                        "{duration} s is not well above the credential cache TTL ({ttl_text}): \
                         a job may get credentials with little time left; use at least {} s",
                        (2.0 * ttl).ceil()
                    ),
                );
            }
        }
        Some(duration)
    }

    fn external_id(&mut self) -> Option<String> {
        let name = self.reader.optional_string("external_id")?;
        if let Some(message) = sts::ssm_name_problem(&name) {
            self.error(
                "external_id",
                format!("{message} (external_id is the NAME of an SSM parameter holding the ID, not the ID)"),
            );
            return None;
        }
        if let Some(realm) = self.settings.realm.as_deref() {
            let prefix = format!("/lava/{realm}/");
            if !name.starts_with(&prefix) {
                self.warning(
                    "external_id",
                    format!("`{name}` is outside `{prefix}`; the worker grants SSM reads under `{prefix}` by default"),
                );
            }
        }
        Some(name)
    }

    fn policy_arns(&mut self) -> Option<Vec<String>> {
        let arns = match self.get("policy_arns") {
            None => return Some(Vec::new()),
            Some(Value::String(arn)) => vec![arn.clone()],
            Some(Value::Array(items)) => {
                let mut arns = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(arn) => arns.push(arn.clone()),
                        other => {
                            let message = format!("item {i} must be a string, not {}", kind(other));
                            self.error("policy_arns", message);
                            return None;
                        }
                    }
                }
                arns
            }
            Some(other) => {
                let message = format!("must be a policy ARN or a list of them, not {}", kind(other));
                self.error("policy_arns", message);
                return None;
            }
        };
        let problems = sts::check_policy_arns(&arns);
        let ok = problems.is_empty();
        for message in problems {
            self.error("policy_arns", message);
        }
        ok.then_some(arns)
    }

    fn policy(&mut self) -> Option<Option<String>> {
        let policy = match self.get("policy") {
            None => return Some(None),
            Some(Value::Object(policy)) => policy,
            Some(other) => {
                let message = format!("must be an IAM policy document (a map), not {}", kind(other));
                self.error("policy", message);
                return None;
            }
        };
        match sts::compact_policy(policy) {
            Ok((compact, has_statement)) => {
                if !has_statement {
                    self.warning(
                        "policy",
                        "has no `Statement`; an IAM policy document needs `Version` and `Statement`",
                    );
                }
                Some(Some(compact))
            }
            Err(message) => {
                self.error("policy", message);
                None
            }
        }
    }

    fn tags(&mut self) -> Option<Vec<(String, String)>> {
        let tags = match self.get("tags") {
            None => return Some(Vec::new()),
            Some(Value::Object(tags)) => tags,
            Some(other) => {
                let message = format!("must be a map of tag names to string values, not {}", kind(other));
                self.error("tags", message);
                return None;
            }
        };
        let mut pairs = Vec::with_capacity(tags.len());
        let mut ok = true;
        for (key, value) in tags {
            match value {
                Value::String(value) => pairs.push((key.clone(), value.clone())),
                other => {
                    let message = format!("tag values must be strings, not {}", kind(other));
                    self.error(&format!("tags.{key}"), message);
                    ok = false;
                }
            }
        }
        for (key, message) in sts::check_tags(&pairs) {
            let field = key.map_or_else(|| "tags".to_string(), |key| format!("tags.{key}"));
            self.error(&field, message);
            ok = false;
        }
        ok.then_some(pairs)
    }
}
