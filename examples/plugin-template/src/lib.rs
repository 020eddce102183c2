//! A connector type `ssm-secret`: hands a job one secret read from an SSM
//! parameter, for example a database password.
//!
//! ```json
//! {"conn_id": "warehouse", "type": "ssm-secret", "enabled": true,
//!  "parameter": "/lava/prod/warehouse/password", "name": "DB_PASSWORD"}
//! ```
//!
//! Start a connector type of your own from this crate: rename it, change
//! `TYPE`, the spec's fields, `check` and `resolve`. `cargo test` runs the
//! logic natively; `cargo build --release --target wasm32-wasip2` makes the
//! `.wasm` to drop into the host's plugin folder.

use lava_guest_kit::{
    Capability, Connector, Host, JobContext, NamedValue, Need, Problem, Resolved, Spec, ValidateContext,
};

/// The connector type.
#[derive(Default)]
pub struct SsmSecret;

lava_guest_kit::export_connector!(SsmSecret);

/// An `ssm-secret` connection's own fields (the SDK reads `conn_id`,
/// `type`, `enabled` and `description` for every connector).
#[derive(Spec)]
pub struct SsmSecretSpec {
    /// The SSM SecureString parameter holding the secret.
    parameter: String,
    /// The name the job sees the secret under (default SECRET).
    #[spec(default = "default_name")]
    name: String,
}

fn default_name() -> String {
    "SECRET".into()
}

impl Connector for SsmSecret {
    const TYPE: &'static str = "ssm-secret";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// SSM reads, as far as the worker's `[policy.ssm-secret]` allows.
    const NEEDS: &'static [Need] = &[Need::any(Capability::Ssm)];
    type Spec = SsmSecretSpec;

    fn check(&self, spec: &SsmSecretSpec, context: &ValidateContext, problems: &mut Vec<Problem>) {
        if !spec.parameter.starts_with('/') {
            problems.push(Problem::error("parameter", "must be an SSM parameter name, starting with `/`"));
        } else if let Some(realm) =
            context.realm.as_deref().filter(|r| !spec.parameter.starts_with(&format!("/lava/{r}/")))
        {
            let message = format!("is outside `/lava/{realm}/`, which is all a worker grants by default");
            problems.push(Problem::warning("parameter", message));
        }
        if !lava_guest_kit::is_env_name(&spec.name) {
            problems
                .push(Problem::error("name", "must be a letter or `_`, then letters, digits and `_` (DB_PASSWORD)"));
        }
    }

    fn resolve(&self, spec: SsmSecretSpec, _: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        // The value never appears in a message: only the parameter's name does.
        let value = host
            .get_parameter(&spec.parameter)
            .map_err(|e| format!("parameter: cannot read SSM parameter `{}`: {e}", spec.parameter))?;
        Ok(Resolved::values(vec![NamedValue::secret(&spec.name, value)]))
    }
}

#[cfg(test)]
mod tests {
    use lava_guest_kit::testing::FakeHost;
    use lava_guest_kit::{CapabilityError, RawConnector, Severity};

    use super::*;

    fn job() -> JobContext {
        JobContext { realm: "prod".into(), job_id: "j1".into(), conn_id: "warehouse".into(), ..JobContext::default() }
    }

    const SPEC: &str = r#"{"conn_id": "warehouse", "type": "ssm-secret", "enabled": true,
        "parameter": "/lava/prod/pw", "name": "DB_PASSWORD"}"#;

    fn validate(spec: &str) -> Vec<Problem> {
        SsmSecret.validate_json(spec, &ValidateContext::in_realm("prod"), &FakeHost::default())
    }

    #[test]
    fn a_good_spec_has_no_problems_and_resolves_to_its_secret() {
        assert_eq!(validate(SPEC), vec![]);
        let host = FakeHost::default().with_parameter("/lava/prod/pw", "hunter2");
        let resolved = SsmSecret.resolve_json(SPEC, &job(), &host).unwrap();
        assert_eq!(resolved.values, vec![NamedValue::secret("DB_PASSWORD", "hunter2")]);
        assert_eq!(resolved.aws, None);
        assert_eq!(*host.read.borrow(), ["/lava/prod/pw"]);
    }

    #[test]
    fn every_problem_names_its_field() {
        let spec = r#"{"type": "ssm-secret", "enabled": "yes", "parameter": "pw", "name": "1X", "colour": "red"}"#;
        let fields: Vec<(String, Severity)> = validate(spec).into_iter().map(|p| (p.field, p.severity)).collect();
        let expected = [("colour", Severity::Error), ("conn_id", Severity::Error), ("enabled", Severity::Error)];
        let mut expected: Vec<(String, Severity)> = expected.iter().map(|(f, s)| (f.to_string(), *s)).collect();
        expected.extend([("parameter".into(), Severity::Error), ("name".into(), Severity::Error)]);
        assert_eq!(fields, expected);
    }

    #[test]
    fn a_field_of_the_wrong_kind_is_one_error_never_a_silent_default() {
        let problems =
            validate(r#"{"conn_id": "w", "type": "ssm-secret", "enabled": true, "parameter": 5, "name": 7}"#);
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["parameter", "name"], "{problems:?}");
        assert!(problems.iter().all(|p| p.message == "must be a string, not a number"), "{problems:?}");
        let absent = validate(r#"{"conn_id": "w", "type": "ssm-secret", "enabled": true}"#);
        assert_eq!(absent, vec![Problem::error("parameter", "is required")]);
    }

    #[test]
    fn a_refused_read_says_which_parameter_and_why_but_never_a_value() {
        let error = SsmSecret.resolve_json(SPEC, &job(), &FakeHost::default()).unwrap_err();
        let refused = CapabilityError::NotFound("SSM parameter `/lava/prod/pw` does not exist".into());
        assert_eq!(error, format!("parameter: cannot read SSM parameter `/lava/prod/pw`: {refused}"));
    }

    #[test]
    fn a_disabled_connection_reads_nothing() {
        let spec = r#"{"conn_id": "warehouse", "type": "ssm-secret", "enabled": false, "parameter": "/lava/prod/pw"}"#;
        let host = FakeHost::default().with_parameter("/lava/prod/pw", "hunter2");
        assert!(SsmSecret.resolve_json(spec, &job(), &host).unwrap_err().contains("not enabled"));
        assert!(host.read.borrow().is_empty());
    }
}
