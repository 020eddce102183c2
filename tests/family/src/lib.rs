//! A contract 0.3.0 plugin of type `family` for the host's tests: `resolve`
//! makes the capability calls its spec lists, in order, and returns the
//! launcher, login and values its spec names, so that one component can
//! drive every capability, every refusal and every launcher kind.
//!
//! It declares every capability but `worker-credentials`, and Secrets
//! Manager only within `app/`: a call outside what it declares is the
//! host's to refuse.
//!
//! ```json
//! {"conn_id": "c", "type": "family",
//!  "calls": [{"ssm": "/lava/prod/x"}, {"secret": "app/db"}, {"rds": "db.example.com"}],
//!  "launcher": "psql", "login": {"host": "db.example.com", "user": "etl", "database": "d"},
//!  "values": {"TOKEN": "x"}}
//! ```

use lava_guest_kit::{
    AssumeRole, AuthToken, Capability, ClusterCredentials, Field, Host, JobContext, LauncherKind, Login, NamedValue,
    Need, Problem, RawConnector, Resolved, ServerlessCredentials, ValidateContext,
};
use serde_json::{Map, Value as Json};

/// The connector type.
#[derive(Default)]
pub struct Family;

lava_guest_kit::export_connector!(Family);

const SECRET_SCOPE: &[&str] = &["app/"];

impl RawConnector for Family {
    const TYPE: &'static str = "family";
    const VERSION: &'static str = "0.3.0-test";
    const FIELDS: &'static [Field] = &[
        Field::required("conn_id", "string", "Connection identifier."),
        Field::required("type", "string", "`family`."),
        Field::optional("calls", "list", "Capability calls, in order."),
        Field::optional("launcher", "string", "The launcher kind."),
        Field::optional("login", "map", "The login."),
        Field::optional("values", "map", "Named values, each secret."),
    ];
    const NEEDS: &'static [Need] = &[
        Need::any(Capability::Ssm),
        Need::within(Capability::SecretsManager, SECRET_SCOPE),
        Need::any(Capability::Sts),
        Need::any(Capability::Redshift),
        Need::any(Capability::RedshiftServerless),
        Need::any(Capability::RdsToken),
    ];

    fn validate_json(&self, _spec: &str, _context: &ValidateContext, _host: &dyn Host) -> Vec<Problem> {
        Vec::new()
    }

    fn resolve_json(&self, spec: &str, context: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        let spec: Map<String, Json> = serde_json::from_str(spec).map_err(|e| e.to_string())?;
        let mut values = Vec::new();
        for (i, call) in spec.get("calls").and_then(Json::as_array).into_iter().flatten().enumerate() {
            let got = self.call(call, context, host)?;
            values.push(NamedValue::secret(format!("CALL_{i}"), got));
        }
        for (name, value) in spec.get("values").and_then(Json::as_object).into_iter().flatten() {
            values.push(NamedValue::secret(name, text(value)));
        }
        let launcher = spec.get("launcher").and_then(Json::as_str).map(launcher).transpose()?;
        let login = spec.get("login").and_then(Json::as_object).map(login);
        Ok(Resolved { values, launcher, login, ..Resolved::default() })
    }
}

impl Family {
    /// One capability call: `{"<capability>": "<target>"}`.
    fn call(&self, call: &Json, context: &JobContext, host: &dyn Host) -> Result<String, String> {
        let (name, target) = call.as_object().and_then(|o| o.iter().next()).ok_or("a call is one key")?;
        let target = text(target);
        let role = |arn: &str| AssumeRole {
            role_arn: arn.to_string(),
            session_name: format!("lv-{}", context.realm),
            duration_seconds: 900,
            ..AssumeRole::default()
        };
        let as_role = call.get("as_role").and_then(Json::as_str).map(role);
        let got = match name.as_str() {
            "ssm" => host.get_parameter(&target),
            "secret" => host.get_secret_value(&target),
            "sts" => host.assume_role(&role(&target), None).map(|c| c.access_key_id),
            "worker" => host.worker_credentials().map(|c| c.access_key_id),
            "redshift" => host
                .get_cluster_credentials(&ClusterCredentials {
                    cluster_identifier: target,
                    db_user: "etl".into(),
                    db_name: Some("dev".into()),
                    duration_seconds: 900,
                    as_role,
                    ..ClusterCredentials::default()
                })
                .map(|c| format!("{}:{}", c.user, c.password)),
            "serverless" => host
                .get_serverless_credentials(&ServerlessCredentials {
                    workgroup_name: target,
                    duration_seconds: 900,
                    as_role,
                    ..ServerlessCredentials::default()
                })
                .map(|c| format!("{}:{}", c.user, c.password)),
            "rds" => host.generate_auth_token(&AuthToken {
                host: target,
                port: 5432,
                user: "etl".into(),
                as_role,
                ..AuthToken::default()
            }),
            other => return Err(format!("unknown call `{other}`")),
        };
        got.map_err(|e| e.to_string())
    }
}

fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn launcher(kind: &str) -> Result<LauncherKind, String> {
    Ok(match kind {
        "aws-cli" => LauncherKind::AwsCli,
        "psql" => LauncherKind::Psql,
        "mysql" => LauncherKind::Mysql,
        "ssh" => LauncherKind::Ssh,
        "scp" => LauncherKind::Scp,
        "sftp" => LauncherKind::Sftp,
        "git" => LauncherKind::Git,
        "sqlplus" => LauncherKind::Sqlplus,
        "sqlite3" => LauncherKind::Sqlite3,
        "generic" => LauncherKind::Generic,
        other => return Err(format!("unknown launcher `{other}`")),
    })
}

fn login(fields: &Map<String, Json>) -> Login {
    let field = |name: &str| fields.get(name).map(text);
    Login {
        host: field("host"),
        port: fields.get("port").and_then(Json::as_u64).and_then(|p| u16::try_from(p).ok()),
        user: field("user"),
        password: field("password"),
        database: field("database"),
        ssl_mode: field("ssl_mode"),
        ca_certificate: field("ca_certificate"),
        application_name: field("application_name"),
        private_key: field("private_key"),
        ssh_options: fields
            .get("ssh_options")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
            .map(|(name, value)| (name.clone(), text(value)))
            .collect(),
    }
}
