//! From a checked spec to the `psql` stand-in's login: the login lava's
//! database families share (`lava_guest_db`), then, with no password
//! still, the type's IAM login.

use lava_guest_db::Parts;
use lava_guest_kit::{
    AssumeRole, ClusterCredentials, Host, JobContext, LauncherKind, LavaDuration, Login, Resolved,
    ServerlessCredentials,
};

use crate::{DEFAULT_PASSWORD_SECONDS, Family, PostgresSpec};

pub(crate) fn resolve(spec: PostgresSpec, context: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
    let fields = spec.login();
    let mut parts = fields.read(host)?;
    let server = parts.required(parts.host.clone(), "host")?;
    let port = parts.required(parts.port, "port")?;
    let database = parts.required(parts.database.clone(), "database")?;
    let (user, password, expiration, iam) = match parts.password.take() {
        Some(password) => (parts.required(parts.user.clone(), "user")?, password, None, false),
        None => {
            let (user, password, expiration) = iam_login(&spec, &parts, context, host)?;
            (user, password, expiration, true)
        }
    };
    // An IAM token or a temporary password is a bearer credential: never
    // offered to a server that did not start TLS (libpq's `prefer` would).
    // RDS refuses IAM logins without TLS anyway; lava left it to `prefer`.
    let ssl_mode = fields.tls_mode().or_else(|| iam.then(|| "require".to_string()));
    let login = Login {
        host: Some(server),
        port: Some(port),
        user: Some(user),
        password: Some(password),
        database: Some(database),
        ssl_mode,
        application_name: Some(context.session_name.clone()),
        ..Login::default()
    };
    Ok(Resolved { launcher: Some(LauncherKind::Psql), login: Some(login), expiration, ..Resolved::default() })
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
            let (user, token) = parts.rds_token(host)?;
            Ok((user, token, None))
        }
        Family::Redshift => {
            let request = ClusterCredentials {
                cluster_identifier: spec.cluster_id.clone().unwrap_or(first_label),
                db_user: parts.required(parts.user.clone(), "user")?,
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
