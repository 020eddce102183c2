//! Apache Airflow's AWS connection as a lava-conn connector (type `airflow-aws`):
//! plain Rust with native tests, and a thin component shell.

pub mod uri;

#[cfg(target_family = "wasm")]
mod component;

use lava_rules::aws::{AssumeRole, Capabilities, Credentials};
use lava_rules::fields::{SpecReader, parse_object};
use lava_rules::problem::{Problem, error_summary, has_error, kind};
use lava_rules::sts;
use serde_json::{Map, Value};

/// The connector type this plugin handles.
pub const CONNECTOR_TYPE: &str = "airflow-aws";

/// Airflow's default connection id.
pub const DEFAULT_CONN_ID: &str = "aws_default";

/// STS's default session length, which Airflow leaves in place.
const DEFAULT_DURATION_SECONDS: u32 = 3_600;

/// One spec field: name, type, required, description (what `describe` reports).
pub const FIELDS: &[(&str, &str, bool, &str)] = &[
    ("conn_id", "string", false, "Connection id (default `aws_default`)."),
    ("type", "string", true, "`airflow-aws`."),
    ("enabled", "bool", false, "Whether the connection may be used (default true)."),
    ("description", "string", false, "Free text."),
    ("login", "string", false, "AWS access key id."),
    ("password", "string", false, "AWS secret access key."),
    ("extra", "map | string", false, "Airflow's extra: a JSON object, or a string holding one."),
    ("uri", "string", false, "The whole connection as an Airflow URI: aws://LOGIN:PASSWORD@/?region_name=..."),
];

/// The extra keys this connector understands.
const EXTRA_KEYS: &[&str] = &[
    "aws_account_id",
    "aws_iam_role",
    "role_arn",
    "external_id",
    "region_name",
    "host",
    "endpoint_url",
    "aws_session_token",
    "assume_role_method",
    "assume_role_kwargs",
];

/// Where the job's credentials come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// An empty connection: the worker's own default chain (a privilege the host may refuse).
    DefaultChain,
    /// Login and password as static keys.
    Static(Credentials),
    /// A role assumed with the given source keys, or the worker's when none.
    Role { source: Option<Credentials>, request: Box<AssumeRole> },
}

/// A checked connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    pub conn_id: String,
    pub enabled: bool,
    pub plan: Plan,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Parse and check a spec: the connection when there is no error, and every problem.
pub fn check(json: &str) -> (Option<Connection>, Vec<Problem>) {
    let object = match parse_object(json) {
        Ok(object) => object,
        Err(problem) => return (None, vec![problem]),
    };
    let mut reader = SpecReader::new(&object);
    let connection = read(&mut reader);
    let problems = reader.problems;
    (if has_error(&problems) { None } else { connection }, problems)
}

/// Airflow's session name, `Airflow_<conn_id>` with characters outside
/// `[\w+=,.@-]` removed. Airflow's `\w` is Unicode; STS's is ASCII, so
/// non-ASCII letters are removed too, and the name is cut to 64 characters.
pub fn session_name(conn_id: &str) -> String {
    let name: String = format!("Airflow_{conn_id}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-'))
        .take(lava_rules::session::MAX_LEN)
        .collect();
    name
}

fn read(reader: &mut SpecReader<'_>) -> Option<Connection> {
    let known: Vec<&str> = FIELDS.iter().map(|(name, ..)| *name).collect();
    reader.reject_unknown(&known, CONNECTOR_TYPE);
    reader.connector_type(CONNECTOR_TYPE);
    let conn_id = match reader.optional_string("conn_id") {
        Some(id) if id.is_empty() => {
            reader.error("conn_id", "must not be empty");
            None
        }
        Some(id) => Some(id),
        None if reader.has("conn_id") => None,
        None => Some(DEFAULT_CONN_ID.to_string()),
    };
    let enabled = match reader.object.get("enabled") {
        None => Some(true),
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            reader.error("enabled", format!("must be true or false, not {}", kind(other)));
            None
        }
    };
    reader.optional_string("description");
    let (login, password, extra) = if reader.has("uri") {
        for field in ["login", "password", "extra"] {
            if reader.has(field) {
                reader.error(field, "cannot be given with `uri`: use either the URI or login/password/extra");
            }
        }
        let uri = reader.optional_string("uri")?;
        match uri::parse(&uri) {
            Ok(parts) => (parts.login, parts.password, parts.extra),
            Err(message) => {
                reader.error("uri", message);
                return None;
            }
        }
    } else {
        let login = reader.optional_string("login").filter(|s| !s.is_empty());
        let password = reader.optional_string("password").filter(|s| !s.is_empty());
        (login, password, read_extra(reader)?)
    };
    Extra { map: &extra, reader }.read(conn_id?, enabled?, login, password)
}

fn read_extra(reader: &mut SpecReader<'_>) -> Option<Map<String, Value>> {
    match reader.object.get("extra") {
        None | Some(Value::Null) => Some(Map::new()),
        Some(Value::Object(map)) => Some(map.clone()),
        Some(Value::String(text)) if text.trim().is_empty() => Some(Map::new()),
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Some(map),
            _ => {
                reader.error("extra", "is a string that does not hold a JSON object");
                None
            }
        },
        Some(other) => {
            reader.error("extra", format!("must be a JSON object or a string holding one, not {}", kind(other)));
            None
        }
    }
}

/// Reading the extra keys; problems are reported on `extra.<key>`.
struct Extra<'a, 'r> {
    map: &'a Map<String, Value>,
    reader: &'a mut SpecReader<'r>,
}

impl Extra<'_, '_> {
    fn string(&mut self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            other => {
                self.reader.error(&format!("extra.{key}"), format!("must be a string, not {}", kind(other)));
                None
            }
        }
    }

    fn error(&mut self, key: &str, message: impl Into<String>) {
        self.reader.error(&format!("extra.{key}"), message);
    }

    fn warning(&mut self, key: &str, message: impl Into<String>) {
        self.reader.warning(&format!("extra.{key}"), message);
    }

    fn read(
        mut self,
        conn_id: String,
        enabled: bool,
        login: Option<String>,
        password: Option<String>,
    ) -> Option<Connection> {
        for key in self.map.keys() {
            if !EXTRA_KEYS.contains(&key.as_str()) {
                let message = format!(
                    "is not used by this connector and is ignored (as Airflow ignores it); known keys are {}",
                    EXTRA_KEYS.join(", ")
                );
                self.reader.warning(&format!("extra.{key}"), message);
            }
        }
        let region = self.string("region_name");
        if let Some(problem) = region.as_deref().and_then(sts::region_problem) {
            self.error("region_name", problem);
        }
        let endpoint_url = self.endpoint_url();
        let session_token = self.string("aws_session_token");
        let source = match (login, password) {
            (Some(id), Some(secret)) => Some(Credentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token,
                expiration: None,
                region: region.clone(),
                endpoint_url: endpoint_url.clone(),
            }),
            (None, None) => {
                if session_token.is_some() {
                    self.warning("aws_session_token", "is ignored without login and password");
                }
                None
            }
            (Some(_), None) => {
                self.reader.error("password", "is required with login (the secret access key)");
                return None;
            }
            (None, Some(_)) => {
                self.reader.error("login", "is required with password (the access key id)");
                return None;
            }
        };
        let role_arn = self.role_arn();
        let plan = match role_arn {
            Some(role_arn) => {
                let request = self.assume_role_request(role_arn, &conn_id, region.clone())?;
                Plan::Role { source, request: Box::new(request) }
            }
            None => {
                for key in ["external_id", "assume_role_kwargs", "assume_role_method"] {
                    if self.map.contains_key(key) {
                        self.warning(
                            key,
                            "is ignored: no role to assume (set role_arn, or aws_account_id and aws_iam_role)",
                        );
                    }
                }
                match source {
                    Some(keys) => Plan::Static(keys),
                    None => Plan::DefaultChain,
                }
            }
        };
        Some(Connection { conn_id, enabled, plan, region, endpoint_url })
    }

    fn endpoint_url(&mut self) -> Option<String> {
        let endpoint = self.string("endpoint_url");
        let host = self.string("host");
        if endpoint.is_some() && host.is_some() {
            self.warning("host", "is ignored: endpoint_url is also set and takes precedence");
        }
        let (key, url) = match (endpoint, host) {
            (Some(url), _) => ("endpoint_url", url),
            (None, Some(url)) => ("host", url),
            (None, None) => return None,
        };
        if let Some(problem) = sts::endpoint_url_problem(&url) {
            self.error(key, problem);
        }
        Some(url)
    }

    fn role_arn(&mut self) -> Option<String> {
        let explicit = self.string("role_arn");
        let account = self.string("aws_account_id");
        let role = self.string("aws_iam_role");
        let built = match (&account, &role) {
            (Some(account), Some(role)) => {
                if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                    self.error("aws_account_id", format!("`{account}` is not a 12-digit AWS account id"));
                    return None;
                }
                Some(sts::role_arn_from_parts(account, role))
            }
            (Some(_), None) => {
                self.error("aws_iam_role", "is required with aws_account_id (together they name the role)");
                return None;
            }
            (None, Some(_)) => {
                self.error("aws_account_id", "is required with aws_iam_role (together they name the role)");
                return None;
            }
            (None, None) => None,
        };
        if explicit.is_some() && built.is_some() {
            self.warning("aws_iam_role", "is ignored: role_arn is also set and takes precedence, as in Airflow");
        }
        let (key, arn) = match (explicit, built) {
            (Some(arn), _) => ("role_arn", arn),
            (None, Some(arn)) => ("aws_iam_role", arn),
            (None, None) => return None,
        };
        match sts::check_role_arn(&arn) {
            Ok(()) => Some(arn),
            Err(message) => {
                self.error(key, message);
                None
            }
        }
    }

    fn assume_role_request(&mut self, role_arn: String, conn_id: &str, region: Option<String>) -> Option<AssumeRole> {
        match self.map.get("assume_role_method") {
            None | Some(Value::Null) => {}
            Some(Value::String(method)) if method == "assume_role" => {}
            Some(other) => {
                let shown = other.as_str().map_or_else(|| kind(other).to_string(), |s| format!("`{s}`"));
                self.error(
                    "assume_role_method",
                    format!("is {shown}; only `assume_role` is supported (SAML and web identity are not)"),
                );
                return None;
            }
        }
        let mut request = AssumeRole {
            role_arn,
            session_name: session_name(conn_id),
            duration_seconds: DEFAULT_DURATION_SECONDS,
            external_id: self.string("external_id"),
            policy_arns: Vec::new(),
            policy: None,
            tags: Vec::new(),
            region,
            ..AssumeRole::default()
        };
        if !lava_rules::session::is_valid_session_name(&request.session_name) {
            self.reader.error("conn_id", "leaves too little for a role-session name once cleansed");
        }
        self.kwargs(&mut request)?;
        if let Some(problem) = request.external_id.as_deref().and_then(sts::external_id_problem) {
            self.error("external_id", problem);
        }
        Some(request)
    }

    /// `assume_role_kwargs`, checked against the same STS limits as lava's connector.
    fn kwargs(&mut self, request: &mut AssumeRole) -> Option<()> {
        let kwargs = match self.map.get("assume_role_kwargs") {
            None | Some(Value::Null) => return Some(()),
            Some(Value::Object(map)) => map.clone(),
            Some(Value::String(text)) => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => map,
                _ => {
                    self.error("assume_role_kwargs", "is a string that does not hold a JSON object");
                    return None;
                }
            },
            Some(other) => {
                self.error("assume_role_kwargs", format!("must be a map of AssumeRole arguments, not {}", kind(other)));
                return None;
            }
        };
        let mut ok = true;
        for (key, value) in &kwargs {
            let field = format!("extra.assume_role_kwargs.{key}");
            let mut fail = |reader: &mut SpecReader<'_>, message: String| {
                reader.error(&field, message);
                ok = false;
            };
            match key.as_str() {
                "DurationSeconds" => match value.as_f64().map(sts::duration_seconds) {
                    Some(Ok(seconds)) => request.duration_seconds = seconds,
                    Some(Err(message)) => fail(self.reader, message),
                    None => fail(self.reader, format!("must be a number of seconds, not {}", kind(value))),
                },
                "Policy" => match value.as_str() {
                    Some(text) => match sts::check_policy_text(text) {
                        Ok(()) => request.policy = Some(text.to_string()),
                        Err(message) => fail(self.reader, message),
                    },
                    None => fail(self.reader, format!("must be the policy as a JSON string, not {}", kind(value))),
                },
                "PolicyArns" => match policy_arns(value) {
                    Ok(arns) => {
                        let problems = sts::check_policy_arns(&arns);
                        if problems.is_empty() {
                            request.policy_arns = arns;
                        }
                        for message in problems {
                            fail(self.reader, message);
                        }
                    }
                    Err(message) => fail(self.reader, message),
                },
                "Tags" => match tags(value) {
                    Ok(pairs) => {
                        let problems = sts::check_tags(&pairs);
                        if problems.is_empty() {
                            request.tags = pairs;
                        }
                        for (tag, message) in problems {
                            let message = tag.map_or(message.clone(), |tag| format!("tag `{tag}`: {message}"));
                            fail(self.reader, message);
                        }
                    }
                    Err(message) => fail(self.reader, message),
                },
                "ExternalId" => match (value.as_str(), &request.external_id) {
                    (Some(_), Some(_)) => fail(self.reader, "repeats extra.external_id; give it once".into()),
                    (Some(id), None) => request.external_id = Some(id.to_string()),
                    (None, _) => fail(self.reader, format!("must be a string, not {}", kind(value))),
                },
                "RoleArn" | "RoleSessionName" => {
                    fail(self.reader, "is set by the connection itself (role_arn, and the Airflow session name)".into())
                }
                _ => fail(
                    self.reader,
                    "is not supported; supported are DurationSeconds, Policy, PolicyArns, Tags and ExternalId".into(),
                ),
            }
        }
        ok.then_some(())
    }
}

/// boto3's `PolicyArns`: a list of `{"arn": "..."}`.
fn policy_arns(value: &Value) -> Result<Vec<String>, String> {
    let items = value.as_array().ok_or_else(|| format!("must be a list of {{\"arn\": ...}}, not {}", kind(value)))?;
    items
        .iter()
        .map(|item| item.get("arn").and_then(Value::as_str).map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| "every item must be {\"arn\": \"arn:aws:iam::...:policy/...\"}".to_string())
}

/// boto3's `Tags`: a list of `{"Key": "...", "Value": "..."}`.
fn tags(value: &Value) -> Result<Vec<(String, String)>, String> {
    let items = value
        .as_array()
        .ok_or_else(|| format!("must be a list of {{\"Key\": ..., \"Value\": ...}}, not {}", kind(value)))?;
    items
        .iter()
        .map(|item| {
            let key = item.get("Key").and_then(Value::as_str)?;
            let value = item.get("Value").and_then(Value::as_str)?;
            Some((key.to_string(), value.to_string()))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| "every item must be {\"Key\": string, \"Value\": string}".to_string())
}

/// Resolve a connection through the host's capabilities. Also returns the
/// spec's warnings, which the component logs.
pub fn resolve(json: &str, caps: &dyn Capabilities) -> Result<(Credentials, Vec<Problem>), String> {
    let (connection, problems) = check(json);
    let Some(connection) = connection else {
        return Err(format!("the spec is invalid: {}", error_summary(&problems)));
    };
    if !connection.enabled {
        return Err(format!("connection `{}` is not enabled: set `\"enabled\": true` to use it", connection.conn_id));
    }
    let mut credentials = match &connection.plan {
        Plan::DefaultChain => caps
            .worker_credentials()
            .map_err(|e| format!("an empty connection uses the worker's own credentials, which were refused: {e}"))?,
        Plan::Static(keys) => keys.clone(),
        Plan::Role { source, request } => caps
            .assume_role(request, source.as_ref())
            .map_err(|e| format!("cannot assume `{}`: {e}", request.role_arn))?,
    };
    if connection.region.is_some() {
        credentials.region = connection.region.clone();
    }
    credentials.endpoint_url = connection.endpoint_url.clone();
    Ok((credentials, problems))
}

#[cfg(test)]
mod tests;
