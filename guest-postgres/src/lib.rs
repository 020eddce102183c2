//! lava's postgres family as one component: `psql`, `postgres`,
//! `postgres-rds`, `postgres-aurora`, `redshift` and `redshift-serverless`.
//! lava 8.3.0 gives all six one stand-in (`lava/connection/postgres.py`,
//! `cli_connect_postgres`); the type decides only where a password comes
//! from when the spec names none: an RDS IAM token, Redshift's
//! `GetClusterCredentials`, or Redshift Serverless's `GetCredentials`.
//!
//! ```json
//! {"conn_id": "warehouse", "type": "postgres", "enabled": true,
//!  "host": "db.example.com", "port": "5432", "database": "sales",
//!  "user": "etl", "password": "/lava/prod/warehouse/password", "ssl_mode": "verify-full"}
//! ```
//!
//! The job gets the host-written `psql` stand-in (`launcher` psql).

mod resolve;

use std::collections::BTreeMap;

use lava_guest_db::Rules;
use lava_guest_kit::{Capability, Connector, Host, JobContext, LavaDuration, Need, Problem, Resolved, ValidateContext};
use lava_rules::sts;

/// The connector.
#[derive(Default)]
pub struct Postgres;

lava_guest_kit::export_connector!(Postgres);

/// Which way a spec of the family gets a password it does not name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `psql`, `postgres`: none; the spec (or its secret) must name one.
    Plain,
    /// `postgres-rds`, `postgres-aurora`: an RDS IAM authentication token.
    Rds,
    /// `redshift`: `GetClusterCredentials`.
    Redshift,
    /// `redshift-serverless`: `GetCredentials`, optionally as `role_arn`.
    Serverless,
}

impl Family {
    /// The family of a spec's `type` (checked by the SDK: one of [`Postgres::TYPES`]).
    pub fn of(connector_type: &str) -> Family {
        match connector_type.to_ascii_lowercase().as_str() {
            "postgres-rds" | "postgres-aurora" => Family::Rds,
            "redshift" => Family::Redshift,
            "redshift-serverless" => Family::Serverless,
            _ => Family::Plain,
        }
    }
}

/// lava's default `password_duration` (`RS_PASSWORD_DURATION`, 15 minutes).
pub const DEFAULT_PASSWORD_SECONDS: u64 = 900;

lava_guest_db::database_spec! {
    /// A postgres-family connection's fields, as lava 8.3.0 reads them (and
    /// its connection schema names them).
    pub struct PostgresSpec {
        /// Used by lava's `db_from_s3` jobs only; accepted.
        pub preserve_case: Option<bool>,
        /// `redshift`: the cluster (default: the host's first label).
        pub cluster_id: Option<String>,
        /// `redshift` types: how long temporary credentials last, 15m to 1h (default 15m).
        pub password_duration: Option<LavaDuration>,
        /// `redshift-serverless`: the workgroup (default: the host's first label).
        pub workgroup: Option<String>,
        /// `redshift-serverless`: a role to assume for `GetCredentials`.
        pub role_arn: Option<String>,
        /// `redshift-serverless`: the NAME of an SSM parameter holding the role's external id.
        pub external_id: Option<String>,
        /// `redshift-serverless`: session tags for the role.
        pub tags: Option<BTreeMap<String, String>>,
        /// `redshift-serverless` with `role_arn`: the workgroup's region (default the worker's).
        pub region: Option<String>,
    }
}

impl PostgresSpec {
    /// How this spec gets a password it does not name.
    pub fn family(&self) -> Family {
        Family::of(&self.connector_type())
    }
}

/// The fields only some of the family read, and which.
const ONLY: [(&str, &[Family]); 7] = [
    ("cluster_id", &[Family::Redshift]),
    ("password_duration", &[Family::Redshift, Family::Serverless]),
    ("workgroup", &[Family::Serverless]),
    ("role_arn", &[Family::Serverless]),
    ("external_id", &[Family::Serverless]),
    ("tags", &[Family::Serverless]),
    ("region", &[Family::Serverless]),
];

impl Connector for Postgres {
    const TYPE: &'static str = "postgres";
    const TYPES: &'static [&'static str] =
        &["postgres", "psql", "postgres-rds", "postgres-aurora", "redshift", "redshift-serverless"];
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// Each as far as the worker's policy allows: SSM (a password, an
    /// external id), Secrets Manager (`secret_id`), and the IAM logins.
    const NEEDS: &'static [Need] = &[
        Need::any(Capability::Ssm),
        Need::any(Capability::SecretsManager),
        Need::any(Capability::RdsToken),
        Need::any(Capability::Redshift),
        Need::any(Capability::RedshiftServerless),
        Need::any(Capability::Sts),
    ];
    type Spec = PostgresSpec;

    fn check(&self, spec: &PostgresSpec, _: &ValidateContext, problems: &mut Vec<Problem>) {
        check_applies(spec, problems);
        let connector_type = spec.connector_type();
        let rules = Rules {
            password_needed_by: (spec.family() == Family::Plain).then_some((
                connector_type.as_str(),
                "IAM logins need `postgres-rds`, `postgres-aurora` or a `redshift` type",
            )),
            user_optional: spec.family() == Family::Serverless && spec.password.is_none(),
        };
        spec.login().check(&rules, problems);
        check_iam(spec, problems);
    }

    fn resolve(&self, spec: PostgresSpec, context: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        resolve::resolve(spec, context, host)
    }
}

/// Fields of another member of the family are errors, as lava's schema has them.
fn check_applies(spec: &PostgresSpec, problems: &mut Vec<Problem>) {
    let family = spec.family();
    let present = [
        spec.cluster_id.is_some(),
        spec.password_duration.is_some(),
        spec.workgroup.is_some(),
        spec.role_arn.is_some(),
        spec.external_id.is_some(),
        spec.tags.is_some(),
        spec.region.is_some(),
    ];
    for ((field, families), present) in ONLY.iter().zip(present) {
        if present && !families.contains(&family) {
            let types: Vec<&str> = families.iter().map(|f| type_name(*f)).collect();
            let message =
                format!("applies only to {} connections, not `{}`", types.join(" and "), spec.connector_type());
            problems.push(Problem::error(field, message));
        }
    }
}

fn type_name(family: Family) -> &'static str {
    match family {
        Family::Plain => "`postgres`",
        Family::Rds => "`postgres-rds`",
        Family::Redshift => "`redshift`",
        Family::Serverless => "`redshift-serverless`",
    }
}

/// The Redshift and STS inputs, checked before any call is made.
fn check_iam(spec: &PostgresSpec, problems: &mut Vec<Problem>) {
    if let Some(LavaDuration(seconds)) = spec.password_duration
        && !(900..=3600).contains(&seconds)
    {
        let message = format!("must be from 15m to 1h (900 to 3600 seconds, AWS's limits), not {seconds} s");
        problems.push(Problem::error("password_duration", message));
    }
    if let Some(Err(message)) = spec.role_arn.as_deref().map(sts::check_role_arn) {
        problems.push(Problem::error("role_arn", message));
    }
    if let Some(message) = spec.external_id.as_deref().and_then(sts::ssm_name_problem) {
        problems.push(Problem::error("external_id", format!("{message} (the NAME of an SSM parameter)")));
    }
    if let Some(message) = spec.region.as_deref().and_then(sts::region_problem) {
        problems.push(Problem::error("region", message));
    }
    if let Some(tags) = &spec.tags {
        let pairs: Vec<(String, String)> = tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (key, message) in sts::check_tags(&pairs) {
            let field = key.map_or_else(|| "tags".to_string(), |k| format!("tags.{k}"));
            problems.push(Problem::error(&field, message));
        }
    }
    if spec.family() == Family::Serverless && spec.role_arn.is_none() {
        for (field, present) in [("external_id", spec.external_id.is_some()), ("tags", spec.tags.is_some())] {
            if present {
                problems.push(Problem::warning(field, "is used only with role_arn (lava's rule): add role_arn"));
            }
        }
        if spec.region.is_some() {
            let message = "is used only with role_arn (lava's rule): without it, the worker's region is used";
            problems.push(Problem::warning("region", message));
        }
    }
}

#[cfg(test)]
mod tests;
