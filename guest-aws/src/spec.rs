//! The `aws` connection spec: every field, type and AWS limit of lava's connector.

use serde_json::{Map, Value};
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use lava_rules::duration::parse_duration;

/// The connector type this plugin handles.
pub const CONNECTOR_TYPE: &str = "aws";

/// STS limits on `AssumeRole`.
pub const MIN_DURATION_SECONDS: u32 = 900;
pub const MAX_DURATION_SECONDS: u32 = 43_200;
const MAX_POLICY_ARNS: usize = 10;
const MAX_POLICY_CHARS: usize = 2_048;
const MAX_TAGS: usize = 50;
const MAX_TAG_KEY_CHARS: usize = 128;
const MAX_TAG_VALUE_CHARS: usize = 256;
const EXTERNAL_ID_CHARS: std::ops::RangeInclusive<usize> = 2..=1_224;
const MAX_SSM_NAME_CHARS: usize = 2_048;
const IAM_PARTITIONS: [&str; 5] = ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"];

/// The worker's default session length (`AWS_CONN_DURATION`).
pub const DEFAULT_DURATION: &str = "3h";
/// The worker's default credential cache lifetime (`AWS_ACCESS_KEY_CACHE_TTL`).
pub const DEFAULT_CACHE_TTL: &str = "10m";

/// One spec field: name, type, required, description (what `describe` reports).
pub const FIELDS: &[(&str, &str, bool, &str)] = &[
    ("conn_id", "string", true, "Connection identifier."),
    ("type", "string", true, "`aws` (any case)."),
    (
        "enabled",
        "bool",
        true,
        "Whether the connection may be used.",
    ),
    ("description", "string", false, "Free text."),
    ("owner", "string", false, "Who owns the connection."),
    (
        "secret_id",
        "string",
        false,
        "Unused by this connector; accepted for lava compatibility.",
    ),
    (
        "access_keys",
        "string",
        false,
        "SSM SecureString parameter under /lava/<realm>/ holding `access_key_id,secret_access_key`. One of access_keys or role_arn.",
    ),
    (
        "role_arn",
        "string",
        false,
        "IAM role to assume. One of access_keys or role_arn.",
    ),
    (
        "duration",
        "duration",
        false,
        "Session length when assuming the role (900 s to 12 h); default AWS_CONN_DURATION (3h).",
    ),
    (
        "external_id",
        "string",
        false,
        "Name of an SSM parameter holding the external ID for AssumeRole.",
    ),
    (
        "policy_arns",
        "string | list<string>",
        false,
        "Managed session policy ARNs (at most 10).",
    ),
    (
        "policy",
        "map<string,any>",
        false,
        "Inline session policy (at most 2048 characters as compact JSON).",
    ),
    (
        "region",
        "string",
        false,
        "AWS region; default the worker's region.",
    ),
    (
        "tags",
        "map<string,string>",
        false,
        "Session tags (at most 50).",
    ),
];

/// How serious a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One thing wrong with a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
    pub severity: Severity,
}

impl Problem {
    fn error(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
            severity: Severity::Error,
        }
    }
    fn warning(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
            severity: Severity::Warning,
        }
    }
}

/// Worker settings that validation depends on.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The realm, when known; `access_keys` must be under `/lava/<realm>/`.
    pub realm: Option<String>,
    /// `AWS_CONN_DURATION`, when the worker sets it.
    pub default_duration: Option<String>,
    /// `AWS_ACCESS_KEY_CACHE_TTL`, when the worker sets it.
    pub cache_ttl: Option<String>,
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
pub fn check(json: &str, settings: &Settings) -> Checked {
    let mut problems = Vec::new();
    let value: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => {
            problems.push(Problem::error(
                "",
                format!("the spec is not valid JSON: {e}"),
            ));
            return Checked {
                spec: None,
                problems,
            };
        }
    };
    let Value::Object(object) = value else {
        problems.push(Problem::error(
            "",
            "the spec must be a JSON object (a map of fields)",
        ));
        return Checked {
            spec: None,
            problems,
        };
    };
    let spec = Checker {
        object: &object,
        settings,
        problems: &mut problems,
    }
    .run();
    let has_error = problems.iter().any(|p| p.severity == Severity::Error);
    Checked {
        spec: if has_error { None } else { spec },
        problems,
    }
}

struct Checker<'a> {
    object: &'a Map<String, Value>,
    settings: &'a Settings,
    problems: &'a mut Vec<Problem>,
}

impl Checker<'_> {
    fn error(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem::error(field, message));
    }

    fn warning(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem::warning(field, message));
    }

    fn run(mut self) -> Option<AwsSpec> {
        self.reject_unknown_fields();
        let conn_id = self.required_string("conn_id");
        if conn_id.as_deref() == Some("") {
            self.error("conn_id", "must not be empty");
        }
        match self.required_string("type") {
            Some(t) if t.eq_ignore_ascii_case(CONNECTOR_TYPE) => {}
            Some(t) => self.error("type", format!("is `{t}`; this connector handles `aws`")),
            None => {}
        }
        let enabled = match self.object.get("enabled") {
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.error(
                    "enabled",
                    format!("must be true or false, not {}", kind(other)),
                );
                None
            }
            None => {
                self.error("enabled", "is required: add `\"enabled\": true` (lava treats a spec without it as disabled)");
                None
            }
        };
        for field in ["description", "owner", "secret_id"] {
            self.optional_string(field);
        }
        let region = self.region();
        let access_keys = self.access_keys();
        let role = self.role(access_keys.is_some());
        let source = match (access_keys, role) {
            (Some(keys), role) => {
                if self.object.contains_key("role_arn") {
                    self.warning(
                        "role_arn",
                        "is ignored because access_keys is also set (lava uses access_keys); remove one of them",
                    );
                }
                let _ = role;
                Some(Source::AccessKeys(keys))
            }
            (None, Some(role)) => Some(Source::Role(role)),
            (None, None) => {
                if !self.object.contains_key("access_keys") && !self.object.contains_key("role_arn")
                {
                    self.error(
                        "",
                        "one of access_keys (an SSM parameter holding static keys) or role_arn (a role to assume) is required",
                    );
                }
                None
            }
        };
        Some(AwsSpec {
            conn_id: conn_id?,
            enabled: enabled?,
            source: source?,
            region,
        })
    }

    fn reject_unknown_fields(&mut self) {
        let unknown: Vec<String> = self
            .object
            .keys()
            .filter(|k| !k.starts_with("X-") && !k.starts_with("x-"))
            .filter(|k| !FIELDS.iter().any(|(name, ..)| name == k))
            .cloned()
            .collect();
        for key in unknown {
            let valid: Vec<&str> = FIELDS.iter().map(|(name, ..)| *name).collect();
            self.error(
                &key,
                format!(
                    "is not a field of an aws connection; valid fields are {}, and annotations starting with `X-` or `x-`",
                    valid.join(", ")
                ),
            );
        }
    }

    fn required_string(&mut self, field: &str) -> Option<String> {
        if !self.object.contains_key(field) {
            self.error(field, "is required");
            return None;
        }
        self.optional_string(field)
    }

    fn optional_string(&mut self, field: &str) -> Option<String> {
        match self.object.get(field)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.error(field, format!("must be a string, not {}", kind(other)));
                None
            }
        }
    }

    fn region(&mut self) -> Option<String> {
        let region = self.optional_string("region")?;
        if !is_region_name(&region) {
            self.error(
                "region",
                format!(
                    "`{region}` is not an AWS region name such as `us-east-1` or `ap-southeast-2`"
                ),
            );
        }
        Some(region)
    }

    fn access_keys(&mut self) -> Option<String> {
        let name = self.optional_string("access_keys")?;
        if let Some(message) = ssm_name_problem(&name) {
            self.error("access_keys", message);
            return None;
        }
        let realm_prefix = self
            .settings
            .realm
            .as_deref()
            .map(|realm| format!("/lava/{realm}/"));
        match realm_prefix {
            Some(prefix) if !name.starts_with(&prefix) || name.len() == prefix.len() => {
                self.error(
                    "access_keys",
                    format!("`{name}` must be an SSM parameter under `{prefix}` (for example `{prefix}aws/keys`)"),
                );
                None
            }
            None if !name.starts_with("/lava/") => {
                self.error(
                    "access_keys",
                    format!("`{name}` must be an SSM parameter under `/lava/<realm>/`"),
                );
                None
            }
            _ => Some(name),
        }
    }

    /// The role fields. With `access_keys` set they are still checked, and only
    /// the fields that make sense without a role are reported as ignored.
    fn role(&mut self, has_access_keys: bool) -> Option<RoleSpec> {
        let role_arn = self.optional_string("role_arn").and_then(|arn| {
            if is_role_arn(&arn) {
                Some(arn)
            } else {
                self.error(
                    "role_arn",
                    format!(
                        "`{arn}` is not an IAM role ARN: use `arn:<partition>:iam::<12-digit account>:role/<optional path/>name` \
                         with partition one of {}",
                        IAM_PARTITIONS.join(", ")
                    ),
                );
                None
            }
        });
        let duration_seconds = self.duration();
        let external_id_parameter = self.external_id();
        let policy_arns = self.policy_arns();
        let policy = self.policy();
        let tags = self.tags();
        if !self.object.contains_key("role_arn") {
            for field in ["duration", "external_id", "policy_arns", "policy", "tags"] {
                if self.object.contains_key(field) {
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
        let (field, seconds) = match self.object.get("duration") {
            Some(Value::String(text)) => ("duration", parse_duration(text)),
            Some(Value::Number(n)) => (
                "duration",
                n.as_f64().ok_or_else(|| "is not a number".to_string()),
            ),
            Some(other) => {
                let message = format!(
                    "must be a duration such as `3h` or a number of seconds, not {}",
                    kind(other)
                );
                self.error("duration", message);
                return None;
            }
            None => {
                let text = self
                    .settings
                    .default_duration
                    .as_deref()
                    .unwrap_or(DEFAULT_DURATION);
                ("AWS_CONN_DURATION", parse_duration(text))
            }
        };
        let seconds = match seconds {
            Ok(s) => s,
            Err(message) => {
                self.error(field, message);
                return None;
            }
        };
        // STS takes whole seconds; lava truncates.
        let whole = seconds.trunc();
        if !(f64::from(MIN_DURATION_SECONDS)..=f64::from(MAX_DURATION_SECONDS)).contains(&whole) {
            self.error(
                field,
                format!(
                    "is {} s; STS accepts {MIN_DURATION_SECONDS} to {MAX_DURATION_SECONDS} seconds (15m to 12h), \
                     within the role's maximum session duration",
                    whole
                ),
            );
            return None;
        }
        let duration = whole as u32;
        let ttl_text = self
            .settings
            .cache_ttl
            .as_deref()
            .unwrap_or(DEFAULT_CACHE_TTL);
        if let Ok(ttl) = parse_duration(ttl_text) {
            // A credential handed out near the end of its cache life must still
            // have at least as long to run as it has already been cached.
            if f64::from(duration) < 2.0 * ttl && self.object.contains_key("role_arn") {
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
        let name = self.optional_string("external_id")?;
        if let Some(message) = ssm_name_problem(&name) {
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
        let arns = match self.object.get("policy_arns") {
            None => return Some(Vec::new()),
            Some(Value::String(arn)) => vec![arn.clone()],
            Some(Value::Array(items)) => {
                let mut arns = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(arn) => arns.push(arn.clone()),
                        other => {
                            self.error(
                                "policy_arns",
                                format!("item {i} must be a string, not {}", kind(other)),
                            );
                            return None;
                        }
                    }
                }
                arns
            }
            Some(other) => {
                self.error(
                    "policy_arns",
                    format!(
                        "must be a policy ARN or a list of them, not {}",
                        kind(other)
                    ),
                );
                return None;
            }
        };
        let mut ok = true;
        if arns.len() > MAX_POLICY_ARNS {
            self.error(
                "policy_arns",
                format!(
                    "has {} ARNs; STS accepts at most {MAX_POLICY_ARNS} managed session policies",
                    arns.len()
                ),
            );
            ok = false;
        }
        for arn in &arns {
            if !is_policy_arn(arn) {
                self.error(
                    "policy_arns",
                    format!("`{arn}` is not an IAM policy ARN such as `arn:aws:iam::123456789012:policy/name`"),
                );
                ok = false;
            }
        }
        ok.then_some(arns)
    }

    fn policy(&mut self) -> Option<Option<String>> {
        let policy = match self.object.get("policy") {
            None => return Some(None),
            Some(Value::Object(policy)) => policy,
            Some(other) => {
                self.error(
                    "policy",
                    format!(
                        "must be an IAM policy document (a map), not {}",
                        kind(other)
                    ),
                );
                return None;
            }
        };
        let compact = serde_json::to_string(policy).expect("a JSON map always serialises");
        let chars = compact.chars().count();
        if chars > MAX_POLICY_CHARS {
            self.error(
                "policy",
                format!(
                    "is {chars} characters as compact JSON; STS accepts at most {MAX_POLICY_CHARS}"
                ),
            );
            return None;
        }
        if let Some(c) = compact
            .chars()
            .find(|&c| !matches!(c, '\t' | '\n' | '\r' | ' '..='\u{ff}'))
        {
            self.error(
                "policy",
                format!("contains {c:?}; STS accepts only tab, newline, carriage return and U+0020 to U+00FF"),
            );
            return None;
        }
        if !policy.contains_key("Statement") {
            self.warning(
                "policy",
                "has no `Statement`; an IAM policy document needs `Version` and `Statement`",
            );
        }
        Some(Some(compact))
    }

    fn tags(&mut self) -> Option<Vec<(String, String)>> {
        let tags = match self.object.get("tags") {
            None => return Some(Vec::new()),
            Some(Value::Object(tags)) => tags,
            Some(other) => {
                self.error(
                    "tags",
                    format!(
                        "must be a map of tag names to string values, not {}",
                        kind(other)
                    ),
                );
                return None;
            }
        };
        let mut ok = true;
        if tags.len() > MAX_TAGS {
            self.error(
                "tags",
                format!(
                    "has {} tags; STS accepts at most {MAX_TAGS} session tags",
                    tags.len()
                ),
            );
            ok = false;
        }
        let mut seen: Vec<String> = Vec::with_capacity(tags.len());
        let mut out = Vec::with_capacity(tags.len());
        for (key, value) in tags {
            let field = format!("tags.{key}");
            let key_chars = key.chars().count();
            if !(1..=MAX_TAG_KEY_CHARS).contains(&key_chars) {
                self.error(&field, format!("tag keys must be 1 to {MAX_TAG_KEY_CHARS} characters; this one is {key_chars}"));
                ok = false;
            } else if let Some(c) = key.chars().find(|&c| !is_tag_char(c)) {
                self.error(&field, format!("tag key contains {c:?}; allowed are letters, digits, spaces and _ . : / = + - @"));
                ok = false;
            }
            let lower = key.to_lowercase();
            if seen.contains(&lower) {
                self.error(
                    &field,
                    "tag keys must be unique ignoring case; another key differs only in case",
                );
                ok = false;
            }
            seen.push(lower);
            let Value::String(value) = value else {
                self.error(
                    &field,
                    format!("tag values must be strings, not {}", kind(value)),
                );
                ok = false;
                continue;
            };
            let value_chars = value.chars().count();
            if value_chars > MAX_TAG_VALUE_CHARS {
                self.error(&field, format!("tag values must be at most {MAX_TAG_VALUE_CHARS} characters; this one is {value_chars}"));
                ok = false;
            } else if let Some(c) = value.chars().find(|&c| !is_tag_char(c)) {
                self.error(&field, format!("tag value contains {c:?}; allowed are letters, digits, spaces and _ . : / = + - @"));
                ok = false;
            }
            out.push((key.clone(), value.clone()));
        }
        ok.then_some(out)
    }
}

/// A JSON type name for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Why `name` is not a valid SSM parameter name, if it is not.
pub fn ssm_name_problem(name: &str) -> Option<String> {
    if !name.starts_with('/') {
        return Some(format!(
            "`{name}` must be a full SSM parameter name starting with `/`"
        ));
    }
    if name.len() > MAX_SSM_NAME_CHARS {
        return Some(format!(
            "is {} characters; SSM names are at most {MAX_SSM_NAME_CHARS}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')))
    {
        return Some(format!(
            "`{name}` contains {c:?}; SSM names use only letters, digits and _ . - /"
        ));
    }
    if name.ends_with('/') || name.contains("//") {
        return Some(format!(
            "`{name}` is not a parameter name: it has an empty path segment"
        ));
    }
    None
}

/// Whether `c` may appear in a session tag: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn is_tag_char(c: char) -> bool {
    matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
        || matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Letter
                | GeneralCategoryGroup::Separator
                | GeneralCategoryGroup::Number
        )
}

/// `arn:<partition>:iam::<12 digits>:role/<optional path/>name`.
pub fn is_role_arn(arn: &str) -> bool {
    let Some(resource) = iam_resource(arn, false) else {
        return false;
    };
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return false;
    };
    let (path, name) = path_and_name
        .rsplit_once('/')
        .unwrap_or(("", path_and_name));
    let name_ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
        });
    // IAM paths are `/` or `/segments/`, printable ASCII without spaces.
    let path_ok = path.len() < 512 && path.chars().all(|c| c.is_ascii_graphic());
    name_ok && path_ok && !path.contains("//")
}

/// `arn:<partition>:iam::<12 digits or aws>:policy/<optional path/>name`.
fn is_policy_arn(arn: &str) -> bool {
    (20..=2048).contains(&arn.len())
        && iam_resource(arn, true)
            .and_then(|r| r.strip_prefix("policy/"))
            .is_some_and(|rest| {
                !rest.is_empty()
                    && !rest.ends_with('/')
                    && rest.chars().all(|c| c.is_ascii_graphic())
            })
}

/// The resource part of an IAM ARN, after checking partition and account.
fn iam_resource(arn: &str, allow_aws_account: bool) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let account_ok = (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        || (allow_aws_account && account == "aws");
    (IAM_PARTITIONS.contains(&partition) && account_ok).then_some(resource)
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `us-isob-east-1`, …
pub fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].len() <= 2
        && !parts[parts.len() - 1].is_empty()
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// Whether `id` is an external ID STS accepts: 2 to 1224 characters of `[\w+=,.@:/-]`.
pub fn external_id_problem(id: &str) -> Option<String> {
    let len = id.chars().count();
    if !EXTERNAL_ID_CHARS.contains(&len) {
        return Some(format!(
            "must be {} to {} characters; it is {len}",
            EXTERNAL_ID_CHARS.start(),
            EXTERNAL_ID_CHARS.end()
        ));
    }
    if id.chars().any(|c| {
        !(c.is_ascii_alphanumeric()
            || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | ':' | '/' | '-'))
    }) {
        return Some(
            "contains characters outside letters, digits and _ + = , . @ : / -".to_string(),
        );
    }
    None
}
