//! lava's mysql family as one component: `mysql`, `mariadb`, `mysql-rds`,
//! `mysql-aurora` and `mariadb-rds` (lava 8.3.0, `lava/connection/mysql.py`).
//! All hand the job the host's `mysql` stand-in; `mysql-rds` and
//! `mysql-aurora` use an RDS IAM token when the spec names no password,
//! which needs TLS, as in lava.
//!
//! ```json
//! {"conn_id": "orders", "type": "mysql", "enabled": true, "host": "db.example.com",
//!  "port": 3306, "database": "orders", "user": "etl", "password": "/lava/prod/orders/password"}
//! ```

use lava_guest_db::Rules;
use lava_guest_kit::{
    Capability, Connector, Host, JobContext, LauncherKind, Login, Need, Problem, Resolved, ValidateContext,
};

/// The connector.
#[derive(Default)]
pub struct Mysql;

lava_guest_kit::export_connector!(Mysql);

lava_guest_db::database_spec! {
    /// A mysql-family connection's fields, as lava 8.3.0 reads them.
    pub struct MysqlSpec {}
}

impl MysqlSpec {
    /// Whether the type has an IAM login (lava's `get_rds_creds_with_iam`).
    pub fn has_iam_login(&self) -> bool {
        matches!(self.connector_type().as_str(), "mysql-rds" | "mysql-aurora")
    }
}

impl Connector for Mysql {
    const TYPE: &'static str = "mysql";
    const TYPES: &'static [&'static str] = &["mysql", "mariadb", "mysql-rds", "mysql-aurora", "mariadb-rds"];
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// Each as far as the worker's policy allows: SSM (a password),
    /// Secrets Manager (`secret_id`), RDS IAM tokens.
    const NEEDS: &'static [Need] =
        &[Need::any(Capability::Ssm), Need::any(Capability::SecretsManager), Need::any(Capability::RdsToken)];
    type Spec = MysqlSpec;

    fn check(&self, spec: &MysqlSpec, _: &ValidateContext, problems: &mut Vec<Problem>) {
        let connector_type = spec.connector_type();
        let rules = Rules {
            password_needed_by: (!spec.has_iam_login())
                .then_some((connector_type.as_str(), "IAM logins need `mysql-rds` or `mysql-aurora`")),
            user_optional: false,
        };
        let login = spec.login();
        login.check(&rules, problems);
        let iam = spec.has_iam_login() && spec.password.is_none() && spec.secret_id.is_none();
        if iam && login.tls_mode().is_none() {
            let message = "is required for an IAM login (lava: SSL is required with IAM database authentication): \
                           set `require` or stricter";
            problems.push(Problem::error("ssl_mode", message));
        }
    }

    fn resolve(&self, spec: MysqlSpec, _: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        let fields = spec.login();
        let mut parts = fields.read(host)?;
        let server = parts.required(parts.host.clone(), "host")?;
        let port = parts.required(parts.port, "port")?;
        let database = parts.required(parts.database.clone(), "database")?;
        let (user, password) = match parts.password.take() {
            Some(password) => (parts.required(parts.user.clone(), "user")?, password),
            None if spec.has_iam_login() => parts.rds_token(host)?,
            None => {
                return Err(format!(
                    "password: a `{}` connection needs one (an SSM parameter's name, or a secret's `password`)",
                    spec.connector_type()
                ));
            }
        };
        let login = Login {
            host: Some(server),
            port: Some(port),
            user: Some(user),
            password: Some(password),
            database: Some(database),
            ssl_mode: fields.tls_mode(),
            ..Login::default()
        };
        Ok(Resolved { launcher: Some(LauncherKind::Mysql), login: Some(login), ..Resolved::default() })
    }
}

#[cfg(test)]
mod tests {
    use lava_guest_kit::RawConnector;
    use lava_guest_kit::testing::FakeHost;
    use serde_json::{Value, json};

    use super::*;

    fn fields(spec: &Value) -> Vec<String> {
        let problems = Mysql.validate_json(&spec.to_string(), &ValidateContext::default(), &FakeHost::default());
        problems.into_iter().map(|p| p.field).collect()
    }

    fn spec(connector_type: &str) -> Value {
        json!({"conn_id": "orders", "type": connector_type, "enabled": true, "host": "db.example.com",
               "port": "3306", "database": "orders", "user": "etl", "password": "/lava/prod/orders/password"})
    }

    #[test]
    fn every_type_of_the_family_validates_and_resolves_to_the_mysql_stand_in() {
        let host = FakeHost::default().with_parameter("/lava/prod/orders/password", "pw#1");
        let job =
            JobContext { realm: "prod".into(), job_id: "j".into(), conn_id: "orders".into(), ..Default::default() };
        for connector_type in <Mysql as Connector>::TYPES {
            assert_eq!(fields(&spec(connector_type)), Vec::<String>::new(), "{connector_type}");
            let resolved = Mysql.resolve_json(&spec(connector_type).to_string(), &job, &host).unwrap();
            assert_eq!(resolved.launcher, Some(LauncherKind::Mysql));
            let login = resolved.login.unwrap();
            assert_eq!((login.port, login.password.as_deref()), (Some(3306), Some("pw#1")));
            assert_eq!(login.application_name, None, "lava's mysql stand-in names none");
        }
    }

    #[test]
    fn only_mysql_rds_and_aurora_log_in_without_a_password_and_then_only_over_tls() {
        let bare = |t: &str| {
            let mut spec = spec(t);
            spec.as_object_mut().unwrap().remove("password");
            spec
        };
        for plain in ["mysql", "mariadb", "mariadb-rds"] {
            assert_eq!(fields(&bare(plain)), ["password"], "{plain}");
        }
        assert_eq!(fields(&bare("mysql-rds")), ["ssl_mode"]);
        let mut tls = bare("mysql-aurora");
        tls["ssl_mode"] = json!("verify-full");
        assert_eq!(fields(&tls), Vec::<String>::new());
    }
}
