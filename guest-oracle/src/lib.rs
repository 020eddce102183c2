//! lava's `oracle` and `oracle-rds` connectors (lava 8.3.0,
//! `lava/connection/oracle.py`), with the host's `sqlplus` stand-in: the
//! login lava's database families share, connecting by service name, under
//! lava's thick-mode TLS rules (`require` and a CA file refused).
//!
//! ```json
//! {"conn_id": "ledger", "type": "oracle", "enabled": true, "host": "ora.example.com", "port": 1521,
//!  "service_name": "LEDGER", "user": "etl", "password": "/lava/prod/ledger/password"}
//! ```

use lava_guest_db::Rules;
use lava_guest_kit::{
    Capability, Connector, Host, JobContext, LauncherKind, Login, Need, Problem, Resolved, ValidateContext,
};

/// The connector.
#[derive(Default)]
pub struct Oracle;

lava_guest_kit::export_connector!(Oracle);

lava_guest_db::database_spec! {
    /// An oracle connection's fields, as lava 8.3.0 reads them.
    pub struct OracleSpec {
        /// The service to connect to (else the secret's `serviceName`, else `database`).
        pub service_name: Option<String>,
        /// A SID: not supported, connect by `service_name`.
        pub sid: Option<String>,
        /// lava's edition (`sqlplus -C`): not carried over.
        pub edition: Option<String>,
    }
}

impl OracleSpec {
    /// The login fields, the service as the database.
    pub fn oracle_login(&self) -> lava_guest_db::LoginFields {
        let login = self.login();
        lava_guest_db::LoginFields { database: self.service_name.clone().or(login.database.clone()), ..login }
    }
}

impl Connector for Oracle {
    const TYPE: &'static str = "oracle";
    const TYPES: &'static [&'static str] = &["oracle", "oracle-rds"];
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// Each as far as the worker's policy allows: SSM (a password), Secrets Manager (`secret_id`).
    const NEEDS: &'static [Need] = &[Need::any(Capability::Ssm), Need::any(Capability::SecretsManager)];
    type Spec = OracleSpec;

    fn check(&self, spec: &OracleSpec, _: &ValidateContext, problems: &mut Vec<Problem>) {
        let connector_type = spec.connector_type();
        let rules = Rules {
            password_needed_by: Some((connector_type.as_str(), "Oracle has no IAM login")),
            user_optional: false,
        };
        let login = spec.oracle_login();
        login.check(&rules, problems);
        if login.tls_mode().as_deref() == Some("require") {
            let field = if spec.ssl_mode.is_some() { "ssl_mode" } else { "ssl" };
            let message = "asks for `require`, which lava's oracle connector does not support in thick mode \
                           (sqlplus): use `verify-ca` or `verify-full`";
            problems.push(Problem::error(field, message));
        }
        if spec.sid.is_some() {
            let message = "is not supported: the stand-in connects by service name; set `service_name`";
            problems.push(Problem::error("sid", message));
        }
        if spec.edition.is_some() {
            problems.push(Problem::warning("edition", "is not used: the sqlplus stand-in does not pass `-C`"));
        }
    }

    fn resolve(&self, spec: OracleSpec, _: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        let fields = spec.login();
        let mut parts = fields.read(host)?;
        let password = parts.password.take();
        let login = Login {
            host: Some(parts.required(parts.host.clone(), "host")?),
            port: Some(parts.required(parts.port, "port")?),
            // The spec's service, else the secret's `serviceName`, else its `dbname` (lava's order).
            database: Some(parts.required(service(&spec, &parts), "service_name")?),
            user: Some(parts.required(parts.user.clone(), "user")?),
            password: Some(parts.required(password, "password")?),
            ssl_mode: fields.tls_mode(),
            ..Login::default()
        };
        Ok(Resolved { launcher: Some(LauncherKind::Sqlplus), login: Some(login), ..Resolved::default() })
    }
}

/// The service: the spec's `service_name`, the secret's `serviceName`, then
/// the spec's or the secret's database.
fn service(spec: &OracleSpec, parts: &lava_guest_db::Parts) -> Option<String> {
    spec.service_name.clone().or_else(|| parts.service_name.clone()).or_else(|| parts.database.clone())
}

#[cfg(test)]
mod tests {
    use lava_guest_kit::RawConnector;
    use lava_guest_kit::testing::FakeHost;
    use serde_json::{Value, json};

    use super::*;

    fn fields(spec: &Value) -> Vec<String> {
        let problems = Oracle.validate_json(&spec.to_string(), &ValidateContext::default(), &FakeHost::default());
        problems.into_iter().map(|p| p.field).collect()
    }

    fn spec(connector_type: &str) -> Value {
        json!({"conn_id": "ledger", "type": connector_type, "enabled": true, "host": "ora.example.com",
               "port": 1521, "service_name": "LEDGER", "user": "etl", "password": "/lava/prod/ledger/password"})
    }

    #[test]
    fn both_types_resolve_to_the_sqlplus_stand_in_by_service_name() {
        let host = FakeHost::default().with_parameter("/lava/prod/ledger/password", "tiger");
        for connector_type in <Oracle as Connector>::TYPES {
            assert_eq!(fields(&spec(connector_type)), Vec::<String>::new());
            let resolved =
                Oracle.resolve_json(&spec(connector_type).to_string(), &JobContext::default(), &host).unwrap();
            assert_eq!(resolved.launcher, Some(LauncherKind::Sqlplus));
            let login = resolved.login.unwrap();
            assert_eq!((login.database.as_deref(), login.password.as_deref()), (Some("LEDGER"), Some("tiger")));
        }
    }

    #[test]
    fn lavas_thick_mode_rules_and_what_the_stand_in_cannot_carry_are_said_at_validate() {
        let mut bad = spec("oracle");
        bad["ssl_mode"] = json!("require");
        bad["sid"] = json!("ORCL");
        bad["edition"] = json!("e1");
        bad.as_object_mut().unwrap().remove("password");
        assert_eq!(fields(&bad), ["password", "ssl_mode", "sid", "edition"]);
    }
}
