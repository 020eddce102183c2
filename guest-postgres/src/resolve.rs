//! From a checked spec to the `psql` stand-in's login, in lava's order
//! (`lava/connection/core.py`, `expand_sql_conn_spec`): the spec's
//! `password` is an SSM name and is read first; a `secret_id` fills only
//! what the spec leaves out (its password used as it is); then, with no
//! password still, the type's IAM login.

use lava_guest_kit::{
    AssumeRole, AuthToken, ClusterCredentials, Host, JobContext, Launcher, LavaDuration, Login, Port, Resolved,
    ServerlessCredentials,
};
use serde_json::{Map, Value};

use crate::{DEFAULT_PASSWORD_SECONDS, Family, PostgresSpec};

/// The login as it is filled in, field by field.
#[derive(Default)]
struct Parts {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    database: Option<String>,
    password: Option<String>,
}

pub(crate) fn resolve(spec: PostgresSpec, context: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
    let mut parts = Parts {
        host: spec.host.clone(),
        port: spec.port.map(|Port(p)| p),
        user: spec.user.clone(),
        database: spec.database.clone(),
        password: None,
    };
    if let Some(name) = &spec.password {
        let read = host.get_parameter(name);
        parts.password = Some(read.map_err(|e| format!("password: cannot read SSM parameter `{name}`: {e}"))?);
    }
    if let Some(secret_id) = &spec.secret_id {
        fill_from_secret(&mut parts, secret_id, host)?;
    }
    let server = required(parts.host.clone(), "host", &spec)?;
    let port = required(parts.port, "port", &spec)?;
    let database = required(parts.database.clone(), "database", &spec)?;
    let (user, password, expiration) = match parts.password.take() {
        Some(password) => (required(parts.user.clone(), "user", &spec)?, password, None),
        None => iam_login(&spec, &parts, context, host)?,
    };
    let login = Login {
        host: Some(server),
        port: Some(port),
        user: Some(user),
        password: Some(password),
        database: Some(database),
        ssl_mode: spec.tls_mode(),
        application_name: Some(context.session_name.clone()),
        ..Login::default()
    };
    Ok(Resolved { launcher: Some(Launcher::Psql), login: Some(login), expiration, ..Resolved::default() })
}

fn required<T>(value: Option<T>, field: &str, spec: &PostgresSpec) -> Result<T, String> {
    value.ok_or_else(|| match &spec.secret_id {
        Some(id) => format!("{field}: neither the spec nor the secret `{id}` gives one"),
        None => format!("{field}: is required"),
    })
}

/// lava's `SECMAN_DBLOGIN_MAP`: the secret's keys for the login's fields.
fn fill_from_secret(parts: &mut Parts, secret_id: &str, host: &dyn Host) -> Result<(), String> {
    let text =
        host.get_secret_value(secret_id).map_err(|e| format!("secret_id: cannot read secret `{secret_id}`: {e}"))?;
    let secret: Map<String, Value> = serde_json::from_str(&text).map_err(|_| {
        format!("secret_id: the secret `{secret_id}` is not a JSON object of login fields (username, password, …)")
    })?;
    let text_of = |key: &str| -> Result<Option<String>, String> {
        match secret.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("secret_id: the secret `{secret_id}`'s `{key}` must be a string")),
        }
    };
    fill(&mut parts.user, text_of("username")?);
    fill(&mut parts.password, text_of("password")?);
    fill(&mut parts.host, text_of("host")?);
    fill(&mut parts.database, text_of("dbname")?);
    if parts.port.is_none()
        && let Some(port) = secret.get("port").filter(|v| !v.is_null())
    {
        let read = <Port as lava_guest_kit::FieldValue>::from_value(port);
        let Port(port) = read.map_err(|e| format!("secret_id: the secret `{secret_id}`'s `port` {}", e.message))?;
        parts.port = Some(port);
    }
    Ok(())
}

fn fill(field: &mut Option<String>, from_secret: Option<String>) {
    if field.is_none() {
        *field = from_secret;
    }
}

/// The type's IAM login, for a spec (and secret) without a password:
/// (user, password, expiration).
fn iam_login(
    spec: &PostgresSpec,
    parts: &Parts,
    context: &JobContext,
    host: &dyn Host,
) -> Result<(String, String, Option<u64>), String> {
    let server = parts.host.as_deref().unwrap_or_default();
    let first_label = server.split('.').next().unwrap_or_default().to_string();
    let seconds = spec.password_duration.map_or(DEFAULT_PASSWORD_SECONDS, |LavaDuration(s)| s) as u32;
    match spec.family() {
        Family::Plain => Err(format!(
            "password: a `{}` connection needs one (an SSM parameter's name, or a secret's `password`)",
            spec.connector_type()
        )),
        Family::Rds => {
            let user = required(parts.user.clone(), "user", spec)?;
            let request = AuthToken {
                host: server.to_string(),
                port: parts.port.unwrap_or_default(),
                user: user.clone(),
                ..AuthToken::default()
            };
            let token = host.generate_auth_token(&request).map_err(|e| format!("cannot get an RDS IAM token: {e}"))?;
            Ok((user, token, None))
        }
        Family::Redshift => {
            let request = ClusterCredentials {
                cluster_identifier: spec.cluster_id.clone().unwrap_or(first_label),
                db_user: required(parts.user.clone(), "user", spec)?,
                db_name: parts.database.clone(),
                duration_seconds: seconds,
                ..ClusterCredentials::default()
            };
            let got = host.get_cluster_credentials(&request).map_err(|e| {
                format!("cannot get Redshift credentials for cluster `{}`: {e}", request.cluster_identifier)
            })?;
            Ok((got.user, got.password, got.expiration))
        }
        Family::Serverless => {
            let as_role = spec.role_arn.as_ref().map(|arn| serverless_role(arn, spec, context, host)).transpose()?;
            let request = ServerlessCredentials {
                workgroup_name: spec.workgroup.clone().unwrap_or(first_label),
                db_name: parts.database.clone(),
                duration_seconds: seconds,
                region: as_role.as_ref().and(spec.region.clone()),
                as_role,
            };
            let got = host.get_serverless_credentials(&request).map_err(|e| {
                format!("cannot get Redshift Serverless credentials for workgroup `{}`: {e}", request.workgroup_name)
            })?;
            Ok((got.user, got.password, got.expiration))
        }
    }
}

/// lava's role for `GetCredentials`: 15 minutes, the job's session name,
/// the external id read from SSM, the spec's tags.
fn serverless_role(
    arn: &str,
    spec: &PostgresSpec,
    context: &JobContext,
    host: &dyn Host,
) -> Result<AssumeRole, String> {
    let external_id = match &spec.external_id {
        Some(name) => Some(
            host.get_parameter(name).map_err(|e| format!("external_id: cannot read SSM parameter `{name}`: {e}"))?,
        ),
        None => None,
    };
    Ok(AssumeRole {
        role_arn: arn.to_string(),
        session_name: context.session_name.clone(),
        duration_seconds: 900,
        external_id,
        tags: spec.tags.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
        region: spec.region.clone(),
        ..AssumeRole::default()
    })
}
