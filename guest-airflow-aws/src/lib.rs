//! Apache Airflow's AWS connection as a lava-conn connector (type `airflow-aws`):
//! plain Rust with native tests, exported through the connector SDK.
//!
//! It follows the Amazon provider's own code, read from the packages:
//! `utils/connection_wrapper.py` (`AwsConnectionWrapper`) and
//! `hooks/base_aws.py` of apache-airflow-providers-amazon 9.39.0, plus the
//! fields the seed document describes that 9.x dropped, as 8.29.0 reads them
//! (`aws_account_id` + `aws_iam_role`, `external_id`, `host`, `session_kwargs`
//! region), and Airflow core 3.3.2's `Connection` for URIs. Where Airflow
//! proceeds, this connector proceeds and warns; where Airflow fails, it fails
//! before any AWS call, saying why. The deliberate differences (the sandbox
//! has no profiles, no files, no SAML or web identity, no MFA, and the
//! worker's own credentials only by grant) are errors that say so.

pub mod slugify;
pub mod uri;

use lava_guest_kit::{
    AssumeRole, Capability, Connector, Credentials, FieldError, FieldValue, Host, JobContext, Need, Resolved, Spec,
    ValidateContext, errors,
};
use lava_rules::problem::{Problem, error_summary, kind};
use lava_rules::session::is_valid_session_name;
use lava_rules::sts;
use serde_json::{Map, Value};

/// The connector type this plugin handles.
pub const CONNECTOR_TYPE: &str = "airflow-aws";

/// Airflow's AWS connection as a connector type.
#[derive(Default)]
pub struct AirflowAwsConnector;

lava_guest_kit::export_connector!(AirflowAwsConnector);

impl Connector for AirflowAwsConnector {
    const TYPE: &'static str = CONNECTOR_TYPE;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// Airflow's: a role (with the connection's keys or the worker's), or
    /// the worker's own credentials for an empty connection.
    const NEEDS: &'static [Need] = &[Need::any(Capability::Sts), Need::any(Capability::WorkerCredentials)];
    /// Airflow has no `enabled`: a connection is usable unless it says not.
    const ENABLED_BY_DEFAULT: bool = true;
    type Spec = AirflowAwsSpec;

    fn check(&self, spec: &AirflowAwsSpec, _: &ValidateContext, problems: &mut Vec<Problem>) {
        connection(spec, problems);
    }

    /// Airflow's rule, not lava's: `airflow_<conn_id>`, slugified; the
    /// worker's template does not apply.
    fn session_name(&self, spec: &AirflowAwsSpec, _: &JobContext, _: &dyn Host) -> Result<String, Vec<Problem>> {
        let mut problems = Vec::new();
        match connection(spec, &mut problems) {
            Some(connection) => connection.session_name.map_err(|message| vec![Problem::error("conn_id", message)]),
            None => Err(errors(problems)),
        }
    }

    fn resolve(&self, spec: AirflowAwsSpec, _: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        let mut problems = Vec::new();
        let Some(connection) = connection(&spec, &mut problems) else {
            return Err(format!("the spec is invalid: {}", error_summary(&problems)));
        };
        resolve(&connection, host).map(Resolved::aws)
    }
}

/// Airflow's AWS connection: its own fields, or all of them in one URI.
#[derive(Clone, Debug, PartialEq, Spec)]
pub struct AirflowAwsSpec {
    /// Connection id; it names the STS session (`airflow_<conn_id>`, slugified).
    pub conn_id: String,
    /// AWS access key id (with password).
    pub login: Option<String>,
    /// AWS secret access key (with login).
    pub password: Option<String>,
    /// Airflow's extra: a JSON object, or a string holding one.
    pub extra: Option<AirflowExtra>,
    /// The whole connection as an Airflow URI: aws://LOGIN:PASSWORD@/?region_name=...
    pub uri: Option<String>,
}

/// Airflow's `extra`: a JSON object, or text holding one (as Airflow stores
/// it); empty text is an empty map, as in Airflow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AirflowExtra(pub Map<String, Value>);

impl FieldValue for AirflowExtra {
    const TYPE_NAME: &'static str = "map | string";
    fn from_value(value: &Value) -> Result<Self, FieldError> {
        match value {
            Value::Object(map) => Ok(Self(map.clone())),
            Value::String(text) if text.is_empty() => Ok(Self::default()),
            Value::String(text) => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => Ok(Self(map)),
                Ok(other) => Err(format!("holds {} where Airflow expects a JSON object", kind(&other)).into()),
                Err(e) => Err(format!("is not valid JSON ({e}); Airflow expects a JSON object").into()),
            },
            other => Err(format!("must be a JSON object or a string holding one, not {}", kind(other)).into()),
        }
    }
}

/// STS's default session length, which Airflow leaves in place.
const DEFAULT_DURATION_SECONDS: u32 = 3_600;

/// Longest connection id Airflow keeps (`CONN_ID_MAX_LEN`).
const AIRFLOW_CONN_ID_MAX_LEN: usize = 250;

/// Extra keys and what this connector does with each (for the unknown-key warning).
const EXTRA_KEYS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "session_kwargs",
    "region_name",
    "endpoint_url",
    "host",
    "service_config",
    "role_arn",
    "aws_account_id",
    "aws_iam_role",
    "external_id",
    "assume_role_method",
    "assume_role_kwargs",
    "profile_name",
    "profile",
    "s3_config_file",
    "s3_config_format",
    "assume_role_with_saml",
    "assume_role_with_web_identity_federation",
    "assume_role_with_web_identity_federation_audience",
    "assume_role_with_web_identity_token_file",
    "config_kwargs",
    "verify",
];

/// Extra keys that configure Airflow's own boto3 clients: lava-conn hands a
/// job credentials, not clients, so they change nothing here.
const CLIENT_ONLY_KEYS: &[&str] = &["config_kwargs", "verify"];

/// Where the job's credentials come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// An empty connection: the worker's own default chain (a privilege the host may refuse).
    DefaultChain,
    /// Static keys (login/password, or keys in extra).
    Static(Credentials),
    /// A role assumed with the given source keys, or the worker's when none.
    Role { source: Option<Credentials>, request: Box<AssumeRole> },
}

/// A checked connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    pub conn_id: String,
    pub plan: Plan,
    pub region: Option<String>,
    /// The endpoint the job's AWS clients use (`endpoint_url`, or 8.29's `host`).
    pub endpoint_url: Option<String>,
    /// The role-session name Airflow would use (its default, or `RoleSessionName`).
    pub session_name: Result<String, String>,
}

/// Airflow's default role-session name for `conn_id`:
/// `slugify(f"Airflow_{conn_id}", regex_pattern=r"[^\w+=,.@-]+")`
/// (`BaseSessionFactory._strip_invalid_session_name_characters`).
pub fn default_session_name(conn_id: &str) -> String {
    slugify::slugify_session_name(&format!("Airflow_{conn_id}"))
}

/// The default session name, or why STS would refuse it. Airflow passes it
/// to STS as it is, which then fails; here the error comes first and names
/// the fix.
fn checked_default_session_name(conn_id: &str) -> Result<String, String> {
    let name = default_session_name(conn_id);
    if is_valid_session_name(&name) {
        return Ok(name);
    }
    Err(format!(
        "gives the role-session name `{name}` ({} characters once slugified as Airflow does), which STS refuses: \
         it takes 2 to 64 characters of ASCII letters, digits and `_+=,.@-`; set \
         extra.assume_role_kwargs.RoleSessionName",
        name.chars().count()
    ))
}

/// Whether Airflow would keep `conn_id` (`RE_SANITIZE_CONN_ID`, at most 250 characters).
fn is_airflow_conn_id(conn_id: &str) -> bool {
    conn_id.chars().count() <= AIRFLOW_CONN_ID_MAX_LEN
        && !conn_id.is_empty()
        && conn_id.chars().all(|c| slugify::is_python_word(c) || "#!()-.:/\\".contains(c))
}

/// The connection a spec describes, as Airflow's provider reads it, with
/// every problem added to `problems`; `None` when it has an error.
pub fn connection(spec: &AirflowAwsSpec, problems: &mut Vec<Problem>) -> Option<Connection> {
    let conn_id = &spec.conn_id;
    if !is_airflow_conn_id(conn_id) {
        problems.push(Problem::warning(
            "conn_id",
            format!(
                "`{conn_id}` is not a connection id Airflow keeps (letters, digits and `_#!()-.:/\\`, at most \
                 {AIRFLOW_CONN_ID_MAX_LEN}); the session name is derived from it all the same"
            ),
        ));
    }
    let (login, password, extra) = match &spec.uri {
        Some(text) => {
            for (field, given) in [
                ("login", spec.login.is_some()),
                ("password", spec.password.is_some()),
                ("extra", spec.extra.is_some()),
            ] {
                if given {
                    let message = "cannot be given with `uri`: use either the URI or login/password/extra";
                    problems.push(Problem::error(field, message));
                }
            }
            let parts = uri::parse(text).map_err(|message| problems.push(Problem::error("uri", message))).ok()?;
            problems.extend(parts.warnings.iter().map(|warning| Problem::warning("uri", warning.clone())));
            (parts.login, parts.password, parts.extra)
        }
        None => (spec.login.clone(), spec.password.clone(), spec.extra.clone().unwrap_or_default().0),
    };
    let connection = Extra { map: &extra, problems }.read(conn_id.clone(), login, password);
    connection.filter(|_| !lava_guest_kit::has_error(problems))
}

/// Python's truthiness for an optional extra value: absent, null, `""`,
/// `false`, `0`, `[]` and `{}` are all "not set".
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// Reading the extra keys; problems are reported on `extra.<key>`.
struct Extra<'a> {
    map: &'a Map<String, Value>,
    problems: &'a mut Vec<Problem>,
}

impl Extra<'_> {
    /// A string value that is set (truthy), or `None`; a set value of another
    /// kind is an error (boto3 would refuse it).
    fn string_in(&mut self, map: &Map<String, Value>, prefix: &str, key: &str) -> Option<String> {
        let value = map.get(key);
        if !truthy(value) {
            return None;
        }
        match value? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.error_at(&format!("{prefix}{key}"), format!("must be a string, not {}", kind(other)));
                None
            }
        }
    }

    fn string(&mut self, key: &str) -> Option<String> {
        let map = self.map;
        self.string_in(map, "extra.", key)
    }

    /// A value that is set, as Python's f-string writes it: 8.29 formats
    /// `aws_account_id` and `aws_iam_role` into the role ARN, so a number
    /// (Airflow 3.1.6+ JSON-decodes URI query values: `aws_account_id=
    /// 123456789012` is an int) is its decimal text and `true` is `True`.
    /// Lists and maps are errors here (their Python text is no ARN part).
    fn formatted(&mut self, key: &str) -> Option<String> {
        let value = self.map.get(key);
        if !truthy(value) {
            return None;
        }
        match value? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            Value::Bool(_) => Some("True".into()),
            other => {
                self.error(key, format!("must be a string or a whole number, not {}", kind(other)));
                None
            }
        }
    }

    fn error(&mut self, key: &str, message: impl Into<String>) {
        self.error_at(&format!("extra.{key}"), message);
    }

    fn error_at(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem::error(field, message));
    }

    fn warning_at(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem::warning(field, message));
    }

    fn warning(&mut self, key: &str, message: impl Into<String>) {
        self.warning_at(&format!("extra.{key}"), message);
    }

    /// A map-valued extra key (`session_kwargs`, `service_config`), empty when not set.
    fn map_value(&mut self, key: &str) -> Map<String, Value> {
        match self.map.get(key) {
            Some(Value::Object(map)) => map.clone(),
            value if !truthy(value) => Map::new(),
            Some(other) => {
                self.error(key, format!("must be a map, not {}", kind(other)));
                Map::new()
            }
            None => Map::new(),
        }
    }

    fn read(mut self, conn_id: String, login: Option<String>, password: Option<String>) -> Option<Connection> {
        for key in self.map.keys() {
            if !EXTRA_KEYS.contains(&key.as_str()) {
                let message = format!(
                    "is not read by Airflow's AWS connection and is ignored, as Airflow ignores it; \
                     keys it reads are {}",
                    EXTRA_KEYS.join(", ")
                );
                self.warning_at(&format!("extra.{key}"), message);
            } else if CLIENT_ONLY_KEYS.contains(&key.as_str()) {
                self.warning(
                    key,
                    "configures Airflow's own boto3 clients; lava-conn hands out credentials, so it has no effect",
                );
            }
        }
        self.refuse_sandbox_differences();
        let session_kwargs = self.map_value("session_kwargs");
        if !session_kwargs.is_empty() {
            self.warning(
                "session_kwargs",
                "is deprecated in Airflow (8.29: \"specify arguments passed to boto3 Session directly in extra\"); \
                 its keys, token and region are read as Airflow reads them",
            );
        }
        let region = self
            .string("region_name")
            .or_else(|| self.string_in(&session_kwargs, "extra.session_kwargs.", "region_name"));
        if let Some(problem) = region.as_deref().and_then(sts::region_problem) {
            self.error("region_name", problem);
        }
        let endpoint_url = self.endpoint_url();
        let source = self.credentials(login, password, &session_kwargs)?;
        let session_name = match self.role_arn() {
            Some(role_arn) => {
                let (request, session_name) = self.assume_role_request(role_arn, &conn_id, region.clone())?;
                let plan = Plan::Role { source, request: Box::new(request) };
                return Some(Connection { conn_id, plan, region, endpoint_url, session_name });
            }
            None => checked_default_session_name(&conn_id),
        };
        for key in ["external_id", "assume_role_kwargs", "assume_role_method"] {
            if truthy(self.map.get(key)) {
                self.warning(key, "is ignored: there is no role to assume (set role_arn), as in Airflow");
            }
        }
        let plan = match source {
            Some(keys) => Plan::Static(keys),
            None => Plan::DefaultChain,
        };
        Some(Connection { conn_id, plan, region, endpoint_url, session_name })
    }

    /// What Airflow can do and the sandbox deliberately cannot: each an error
    /// that says so (`docs/airflow-behaviour.md`, "Where lava-conn deliberately differs from Airflow").
    fn refuse_sandbox_differences(&mut self) {
        let session_kwargs = self.map.get("session_kwargs").and_then(Value::as_object).cloned().unwrap_or_default();
        if truthy(self.map.get("profile_name")) || truthy(session_kwargs.get("profile_name")) {
            self.error(
                "profile_name",
                "names an AWS profile; profiles live in the worker's files, which a plugin cannot read: \
                 give keys (login and password) or a role_arn instead",
            );
        }
        if truthy(self.map.get("s3_config_file")) {
            self.error(
                "s3_config_file",
                "reads keys from a file on the worker (Airflow 8.29), which a plugin cannot read: \
                 give keys (login and password) instead",
            );
        }
        if truthy(self.map.get("profile")) && !truthy(self.map.get("s3_config_file")) {
            self.warning(
                "profile",
                "is ignored without s3_config_file; Airflow warns the same (\"set 'profile_name' in extra\")",
            );
        }
    }

    /// Airflow's `_get_credentials`: login and password, else both keys in
    /// extra, else both in `session_kwargs`; the token from extra, else from
    /// `session_kwargs`. `None` means no keys: the worker's default chain.
    fn credentials(
        &mut self,
        login: Option<String>,
        password: Option<String>,
        session_kwargs: &Map<String, Value>,
    ) -> Option<Option<Credentials>> {
        let login = login.filter(|s| !s.is_empty());
        let password = password.filter(|s| !s.is_empty());
        let extra_id = self.string("aws_access_key_id");
        let extra_secret = self.string("aws_secret_access_key");
        let kwargs_id = self.string_in(session_kwargs, "extra.session_kwargs.", "aws_access_key_id");
        let kwargs_secret = self.string_in(session_kwargs, "extra.session_kwargs.", "aws_secret_access_key");
        let keys = match (login, password) {
            (Some(id), Some(secret)) => {
                for (key, set) in
                    [("aws_access_key_id", extra_id.is_some()), ("aws_secret_access_key", extra_secret.is_some())]
                {
                    if set {
                        self.warning(key, "is ignored: login and password are set and come first, as in Airflow");
                    }
                }
                Some((id, secret))
            }
            (login, password) => {
                if login.is_some() {
                    self.warning_at("login", "is ignored without password, as Airflow ignores it");
                }
                if password.is_some() {
                    self.warning_at("password", "is ignored without login, as Airflow ignores it");
                }
                match (extra_id, extra_secret) {
                    (Some(id), Some(secret)) => Some((id, secret)),
                    (id, secret) => {
                        if id.is_some() {
                            self.warning(
                                "aws_access_key_id",
                                "is ignored without aws_secret_access_key, as in Airflow",
                            );
                        }
                        if secret.is_some() {
                            self.warning(
                                "aws_secret_access_key",
                                "is ignored without aws_access_key_id, as in Airflow",
                            );
                        }
                        kwargs_id.zip(kwargs_secret)
                    }
                }
            }
        };
        let token = self
            .string("aws_session_token")
            .or_else(|| self.string_in(session_kwargs, "extra.session_kwargs.", "aws_session_token"));
        match (keys, token) {
            (Some((access_key_id, secret_access_key)), session_token) => Some(Some(Credentials {
                access_key_id,
                secret_access_key,
                session_token,
                expiration: None,
                region: None,
                endpoint_url: None,
            })),
            (None, Some(_)) => {
                // Airflow hands boto3 a token without keys, and every call then
                // fails to sign; here the worker's own keys would sign instead,
                // so it is refused before that can happen.
                self.error(
                    "aws_session_token",
                    "needs the keys it belongs to (login and password, or aws_access_key_id and \
                     aws_secret_access_key); Airflow would pass it alone and fail to sign",
                );
                None
            }
            (None, None) => Some(None),
        }
    }

    /// The job's endpoint: 8.29's `host` (deprecated there) before `endpoint_url`.
    fn endpoint_url(&mut self) -> Option<String> {
        let host = self.string("host");
        let endpoint = self.string("endpoint_url");
        let (key, url) = match (host, endpoint) {
            (Some(host), endpoint) => {
                self.warning(
                    "host",
                    "is deprecated in Airflow (8.29: \"set extra['endpoint_url'] instead\"); used as the endpoint",
                );
                if endpoint.is_some() {
                    self.warning("endpoint_url", "is ignored: host is set and wins, as in Airflow 8.29");
                }
                ("host", host)
            }
            (None, Some(url)) => ("endpoint_url", url),
            (None, None) => return None,
        };
        if let Some(problem) = sts::endpoint_url_problem(&url) {
            self.error(key, problem);
        }
        Some(url)
    }

    /// `role_arn`, else 8.29's `aws_account_id` + `aws_iam_role` (both set).
    fn role_arn(&mut self) -> Option<String> {
        let explicit = self.string("role_arn");
        let account = self.formatted("aws_account_id");
        let role = self.formatted("aws_iam_role");
        let (key, arn) = match (explicit, account, role) {
            (Some(arn), account, role) => {
                if account.is_some() || role.is_some() {
                    self.warning("aws_iam_role", "is ignored: role_arn is set and comes first, as in Airflow");
                }
                ("role_arn", arn)
            }
            (None, Some(account), Some(role)) => {
                self.warning(
                    "aws_iam_role",
                    "with aws_account_id is deprecated in Airflow (8.29: \"set 'role_arn' in extra\"); \
                     the role is built from them",
                );
                ("aws_iam_role", sts::role_arn_from_parts(&account, &role))
            }
            (None, Some(_), None) => {
                self.warning("aws_account_id", "is ignored without aws_iam_role, as in Airflow 8.29");
                return None;
            }
            (None, None, Some(_)) => {
                self.warning("aws_iam_role", "is ignored without aws_account_id, as in Airflow 8.29");
                return None;
            }
            (None, None, None) => return None,
        };
        match sts::check_role_arn(&arn) {
            Ok(()) => Some(arn),
            Err(message) => {
                self.error(key, message);
                None
            }
        }
    }

    /// The AssumeRole request Airflow's `_assume_role` makes:
    /// `{"RoleSessionName": <default>, **assume_role_kwargs, "RoleArn": role_arn}`,
    /// sent to `service_config.sts.endpoint_url` (never the global endpoint).
    fn assume_role_request(
        &mut self,
        role_arn: String,
        conn_id: &str,
        region: Option<String>,
    ) -> Option<(AssumeRole, Result<String, String>)> {
        // Absent means `assume_role`; anything else, null and "" included, is
        // checked against the supported methods, as Airflow checks it.
        match self.map.get("assume_role_method") {
            None => {}
            Some(Value::String(method)) if method == "assume_role" => {}
            Some(Value::String(method)) if method == "assume_role_with_saml" => {
                self.error(
                    "assume_role_method",
                    "is `assume_role_with_saml`, which signs in to an identity provider over the network \
                     with the worker's Kerberos ticket: not available in the sandbox; use `assume_role`",
                );
                return None;
            }
            Some(Value::String(method)) if method == "assume_role_with_web_identity" => {
                self.error(
                    "assume_role_method",
                    "is `assume_role_with_web_identity`, which reads a token file or a Google identity on \
                     the worker: not available in the sandbox; use `assume_role`",
                );
                return None;
            }
            Some(other) => {
                let shown = other.as_str().map_or_else(|| kind(other).to_string(), |s| format!("`{s}`"));
                self.error(
                    "assume_role_method",
                    format!(
                        "is {shown}; Airflow supports assume_role, assume_role_with_saml and \
                         assume_role_with_web_identity (and refuses anything else), lava-conn assume_role"
                    ),
                );
                return None;
            }
        }
        let service_config = self.map_value("service_config");
        let sts_endpoint = service_config
            .get("sts")
            .and_then(Value::as_object)
            .and_then(|sts| sts.get("endpoint_url"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(problem) = sts_endpoint.as_deref().and_then(sts::endpoint_url_problem) {
            self.error("service_config.sts.endpoint_url", problem);
        }
        let mut request = AssumeRole {
            role_arn,
            session_name: String::new(),
            duration_seconds: DEFAULT_DURATION_SECONDS,
            region,
            endpoint_url: sts_endpoint,
            ..AssumeRole::default()
        };
        let session_name_given = self.kwargs(&mut request)?;
        // 8.29's `external_id`: used only when the kwargs have no ExternalId.
        if let Some(external_id) = self.string("external_id") {
            if request.external_id.is_some() {
                self.warning(
                    "external_id",
                    "is ignored: assume_role_kwargs.ExternalId is set and wins, as in Airflow 8.29",
                );
            } else {
                self.warning(
                    "external_id",
                    "is deprecated in Airflow (8.29: \"set 'ExternalId' in 'assume_role_kwargs'\"); used as the ExternalId",
                );
                request.external_id = Some(external_id);
            }
        }
        if let Some(problem) = request.external_id.as_deref().and_then(sts::external_id_problem) {
            self.error("external_id", problem);
        }
        let session_name =
            if session_name_given { Ok(request.session_name.clone()) } else { checked_default_session_name(conn_id) };
        match &session_name {
            Ok(name) => request.session_name = name.clone(),
            Err(message) => self.error_at("conn_id", message.clone()),
        }
        Some((request, session_name))
    }

    /// `assume_role_kwargs`, checked against STS's limits; whether it set
    /// `RoleSessionName`. Airflow passes every key to boto3, which refuses
    /// unknown ones; so does this.
    fn kwargs(&mut self, request: &mut AssumeRole) -> Option<bool> {
        let kwargs = match self.map.get("assume_role_kwargs") {
            value if !truthy(value) => return Some(false),
            Some(Value::Object(map)) => map.clone(),
            Some(other) => {
                self.error(
                    "assume_role_kwargs",
                    format!(
                        "must be a map of AssumeRole arguments (Airflow passes it as `**kwargs`), not {}",
                        kind(other)
                    ),
                );
                return None;
            }
            None => return Some(false),
        };
        let mut ok = true;
        let mut session_name_given = false;
        for (key, value) in &kwargs {
            let field = format!("extra.assume_role_kwargs.{key}");
            let mut fail = |problems: &mut Vec<Problem>, message: String| {
                problems.push(Problem::error(&field, message));
                ok = false;
            };
            match key.as_str() {
                // boto3 takes an integer only: 1800.0 is refused before any request.
                "DurationSeconds" => match value.as_i64().map(|s| sts::duration_seconds(s as f64)) {
                    Some(Ok(seconds)) => request.duration_seconds = seconds,
                    Some(Err(message)) => fail(self.problems, message),
                    None => fail(self.problems, format!("must be a whole number of seconds (boto3 refuses {value})")),
                },
                "Policy" => match value.as_str() {
                    Some(text) => match sts::check_policy_text(text) {
                        Ok(()) => request.policy = Some(text.to_string()),
                        Err(message) => fail(self.problems, message),
                    },
                    None => fail(self.problems, format!("must be the policy as a JSON string, not {}", kind(value))),
                },
                "PolicyArns" => match policy_arns(value) {
                    Ok(arns) => {
                        let problems = sts::check_policy_arns(&arns);
                        if problems.is_empty() {
                            request.policy_arns = arns;
                        }
                        for message in problems {
                            fail(self.problems, message);
                        }
                    }
                    Err(message) => fail(self.problems, message),
                },
                "Tags" => match tags(value) {
                    Ok(pairs) => {
                        let problems = sts::check_tags(&pairs);
                        if problems.is_empty() {
                            request.tags = pairs;
                        }
                        for (tag, message) in problems {
                            let message = tag.map_or(message.clone(), |tag| format!("tag `{tag}`: {message}"));
                            fail(self.problems, message);
                        }
                    }
                    Err(message) => fail(self.problems, message),
                },
                "TransitiveTagKeys" => match string_list(value) {
                    Some(keys) => request.transitive_tag_keys = keys,
                    None => fail(self.problems, format!("must be a list of tag keys, not {}", kind(value))),
                },
                "ExternalId" => match value.as_str() {
                    Some(id) => request.external_id = Some(id.to_string()),
                    None => fail(self.problems, format!("must be a string, not {}", kind(value))),
                },
                "SourceIdentity" => match value.as_str() {
                    Some(identity) if is_valid_session_name(identity) => {
                        request.source_identity = Some(identity.to_string());
                    }
                    Some(_) => {
                        fail(self.problems, "must be 2 to 64 characters of ASCII letters, digits and `_+=,.@-`".into())
                    }
                    None => fail(self.problems, format!("must be a string, not {}", kind(value))),
                },
                "RoleSessionName" => match value.as_str() {
                    Some(name) if is_valid_session_name(name) => {
                        request.session_name = name.to_string();
                        session_name_given = true;
                    }
                    Some(_) => fail(
                        self.problems,
                        "must be 2 to 64 characters of ASCII letters, digits and `_+=,.@-` (STS's rule)".into(),
                    ),
                    None => fail(self.problems, format!("must be a string, not {}", kind(value))),
                },
                "RoleArn" => self.warning_at(
                    &field,
                    "is ignored: Airflow always assumes the connection's role_arn (it overrides this key)",
                ),
                "SerialNumber" | "TokenCode" => fail(
                    self.problems,
                    "asks for an MFA code, which someone must type when the role is assumed; a worker has no \
                     one to ask: use a role whose trust policy does not require MFA"
                        .into(),
                ),
                _ => fail(
                    self.problems,
                    "is not an AssumeRole argument lava-conn passes (boto3 refuses unknown ones); supported are \
                     RoleSessionName, DurationSeconds, Policy, PolicyArns, Tags, TransitiveTagKeys, ExternalId \
                     and SourceIdentity"
                        .into(),
                ),
            }
        }
        if let Some(key) = request.transitive_tag_keys.iter().find(|k| !request.tags.iter().any(|(t, _)| t == *k)) {
            self.error(
                "assume_role_kwargs.TransitiveTagKeys",
                format!("names `{key}`, which is not one of the session's Tags; STS refuses it"),
            );
            ok = false;
        }
        ok.then_some(session_name_given)
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

/// A list of strings.
fn string_list(value: &Value) -> Option<Vec<String>> {
    value.as_array()?.iter().map(|v| v.as_str().map(str::to_string)).collect()
}

/// The credentials a checked connection gives, through the host's capabilities.
pub fn resolve(connection: &Connection, host: &dyn Host) -> Result<Credentials, String> {
    let mut credentials = match &connection.plan {
        Plan::DefaultChain => host
            .worker_credentials()
            .map_err(|e| format!("an empty connection uses the worker's own credentials, which were refused: {e}"))?,
        Plan::Static(keys) => keys.clone(),
        Plan::Role { source, request } => host
            .assume_role(request, source.as_ref())
            .map_err(|e| format!("cannot assume `{}`: {e}", request.role_arn))?,
    };
    if connection.region.is_some() {
        credentials.region = connection.region.clone();
    }
    credentials.endpoint_url = connection.endpoint_url.clone();
    Ok(credentials)
}

#[cfg(test)]
mod tests;
