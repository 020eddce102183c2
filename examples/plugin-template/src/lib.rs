//! A connector type of type `ssm-secret`: hands a job one secret read from an
//! SSM parameter, for example a database password.
//!
//! ```json
//! {"conn_id": "warehouse", "type": "ssm-secret", "enabled": true,
//!  "parameter": "/lava/prod/warehouse/password", "name": "DB_PASSWORD"}
//! ```
//!
//! Start a connector type of your own from this crate: rename it, change
//! `TYPE` and `FIELDS`, and write `validate` and `resolve`. The logic is plain
//! Rust; `cargo test` runs it natively against `FakeHost`, and
//! `cargo build --release --target wasm32-wasip2` makes the `.wasm` to drop
//! into the host's plugin folder.

use lava_guest_kit::{
    Capability, Connector, Field, Host, JobContext, Need, Problem, Resolved, SpecReader, ValidateContext, Value,
    has_error, parse_object,
};

/// The connector type.
#[derive(Default)]
pub struct SsmSecret;

lava_guest_kit::export_connector!(SsmSecret);

/// The name the value gets when the spec gives none.
const DEFAULT_NAME: &str = "SECRET";

/// A checked spec.
struct Spec {
    enabled: bool,
    parameter: String,
    name: String,
}

/// Read the spec, collecting every problem (not only the first), each naming
/// its field. `SpecReader` is the SDK's spec reader, the one the built-in
/// connectors use: its messages read the same in every connector.
fn check(spec: &str, realm: Option<&str>) -> (Option<Spec>, Vec<Problem>) {
    let object = match parse_object(spec) {
        Ok(object) => object,
        Err(problem) => return (None, vec![problem]),
    };
    let mut reader = SpecReader::new(&object);
    let known: Vec<&str> = SsmSecret::FIELDS.iter().map(|f| f.name).collect();
    for key in object.keys().filter(|key| !known.contains(key)) {
        reader.warning(key, format!("is not a field of `{}` and is ignored", SsmSecret::TYPE));
    }
    if reader.required_string("conn_id").is_some_and(|id| id.is_empty()) {
        reader.error("conn_id", "must not be empty");
    }
    let enabled = match object.get("enabled") {
        None => true,
        Some(serde_json::Value::Bool(enabled)) => *enabled,
        Some(_) => {
            reader.error("enabled", "must be true or false");
            false
        }
    };
    // Absent or not a string: `required_string` has said so.
    let parameter = reader.required_string("parameter");
    match parameter.as_deref() {
        Some(p) if !p.starts_with('/') => reader.error("parameter", "must be an SSM parameter name, starting with `/`"),
        // The worker decides which names are readable (`ssm_prefixes`); this
        // is its default, so say so before the read is refused.
        Some(p) => {
            if let Some(realm) = realm.filter(|realm| !p.starts_with(&format!("/lava/{realm}/"))) {
                reader.warning(
                    "parameter",
                    format!(
                        "is outside `/lava/{realm}/`, which is all a worker grants by default (setting ssm_prefixes)"
                    ),
                );
            }
        }
        None => {}
    }
    let name = reader.optional_string("name").unwrap_or_else(|| DEFAULT_NAME.to_string());
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        reader.error("name", "must be a letter or `_`, then letters, digits and `_` (DB_PASSWORD)");
    }
    let problems = reader.problems;
    let spec = match parameter {
        Some(parameter) if !has_error(&problems) => Some(Spec { enabled, parameter, name }),
        _ => None,
    };
    (spec, problems)
}

impl Connector for SsmSecret {
    const TYPE: &'static str = "ssm-secret";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const FIELDS: &'static [Field] = &[
        Field::required("conn_id", "string", "Connection identifier."),
        Field::required("type", "string", "`ssm-secret`."),
        Field::optional("enabled", "bool", "Whether the connection may be used (default true)."),
        Field::optional("description", "string", "Free text."),
        Field::required("parameter", "string", "The SSM SecureString parameter holding the secret."),
        Field::optional("name", "string", "The name the job sees the secret under (default SECRET)."),
    ];
    /// SSM reads, as far as the worker's `[policy.ssm-secret]` allows: the
    /// host refuses any capability a connector does not declare here.
    const NEEDS: &'static [Need] = &[Need::any(Capability::Ssm)];

    fn validate(&self, spec: &str, context: &ValidateContext, _host: &dyn Host) -> Vec<Problem> {
        check(spec, context.realm.as_deref()).1
    }

    // `session_name` keeps the SDK's default (the worker's template); this
    // connector assumes no role, so nothing else is needed.

    fn resolve(&self, spec: &str, context: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        let (spec, problems) = check(spec, Some(&context.realm));
        let Some(spec) = spec else {
            return Err(format!("the spec is invalid: {}", lava_guest_kit::error_summary(&problems)));
        };
        lava_guest_kit::log_warnings(host, context, &problems);
        if !spec.enabled {
            return Err(format!("connection `{}` is not enabled: set `\"enabled\": true` to use it", context.conn_id));
        }
        // The value never appears in a message: only the parameter's name does.
        let value = host
            .get_parameter(&spec.parameter)
            .map_err(|e| format!("parameter: cannot read SSM parameter `{}`: {e}", spec.parameter))?;
        Ok(Resolved::values(vec![Value { name: spec.name, value, secret: true }]))
    }
}

#[cfg(test)]
mod tests {
    use lava_guest_kit::testing::FakeHost;
    use lava_guest_kit::{CapabilityError, Severity};

    use super::*;

    fn job() -> JobContext {
        JobContext { realm: "prod".into(), job_id: "j1".into(), conn_id: "warehouse".into(), ..JobContext::default() }
    }

    const SPEC: &str =
        r#"{"conn_id": "warehouse", "type": "ssm-secret", "parameter": "/lava/prod/pw", "name": "DB_PASSWORD"}"#;

    #[test]
    fn a_good_spec_has_no_problems_and_resolves_to_its_secret() {
        let host = FakeHost::default().with_parameter("/lava/prod/pw", "hunter2");
        let context = ValidateContext { realm: Some("prod".into()) };
        assert_eq!(SsmSecret.validate(SPEC, &context, &host), vec![]);
        let resolved = SsmSecret.resolve(SPEC, &job(), &host).unwrap();
        assert_eq!(resolved.values, vec![Value { name: "DB_PASSWORD".into(), value: "hunter2".into(), secret: true }]);
        assert_eq!(resolved.aws, None);
        assert_eq!(*host.read.borrow(), ["/lava/prod/pw"]);
    }

    #[test]
    fn every_problem_names_its_field() {
        let spec = r#"{"type": "ssm-secret", "enabled": "yes", "parameter": "pw", "name": "1X", "colour": "red"}"#;
        let problems = SsmSecret.validate(spec, &ValidateContext::default(), &FakeHost::default());
        let fields: Vec<(&str, Severity)> = problems.iter().map(|p| (p.field.as_str(), p.severity)).collect();
        assert_eq!(
            fields,
            [
                ("colour", Severity::Warning),
                ("conn_id", Severity::Error),
                ("enabled", Severity::Error),
                ("parameter", Severity::Error),
                ("name", Severity::Error)
            ]
        );
    }

    #[test]
    fn a_field_of_the_wrong_kind_is_one_error_never_a_silent_default() {
        let context = ValidateContext { realm: Some("prod".into()) };
        let spec = r#"{"conn_id": "w", "type": "ssm-secret", "parameter": 5, "name": 7}"#;
        let problems = SsmSecret.validate(spec, &context, &FakeHost::default());
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["parameter", "name"], "{problems:?}");
        assert!(problems.iter().all(|p| p.message == "must be a string, not a number"), "{problems:?}");
        let absent = SsmSecret.validate(r#"{"conn_id": "w", "type": "ssm-secret"}"#, &context, &FakeHost::default());
        assert_eq!(absent, vec![Problem::error("parameter", "is required")]);
    }

    #[test]
    fn a_refused_read_says_which_parameter_and_why_but_never_a_value() {
        let error = SsmSecret.resolve(SPEC, &job(), &FakeHost::default()).unwrap_err();
        let refused = CapabilityError::NotFound("SSM parameter `/lava/prod/pw` does not exist".into());
        assert_eq!(error, format!("parameter: cannot read SSM parameter `/lava/prod/pw`: {refused}"));
    }

    #[test]
    fn a_disabled_connection_reads_nothing() {
        let spec = r#"{"conn_id": "warehouse", "type": "ssm-secret", "enabled": false, "parameter": "/lava/prod/pw"}"#;
        let host = FakeHost::default().with_parameter("/lava/prod/pw", "hunter2");
        assert!(SsmSecret.resolve(spec, &job(), &host).unwrap_err().contains("not enabled"));
        assert!(host.read.borrow().is_empty());
    }
}
