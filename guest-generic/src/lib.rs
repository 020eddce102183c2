//! lava's `generic` connector (lava 8.3.0, `lava/connection/generic.py`):
//! named attributes, each a plain value, `{"type": "local", "value": …}` or
//! `{"type": "ssm", "parameter": …}`. The job reads them with the host's
//! `get-attr-value NAME`, as lava's.
//!
//! ```json
//! {"conn_id": "vendor", "type": "generic", "enabled": true,
//!  "attributes": {"url": "https://api.example.com", "token": {"type": "ssm", "parameter": "/lava/prod/vendor/token"}}}
//! ```

use lava_guest_kit::serde_json::{Map, Value};
use lava_guest_kit::{
    Capability, Connector, Host, JobContext, LauncherKind, NamedValue, Need, Problem, Resolved, Spec, ValidateContext,
};
use lava_rules::{names, sts};

/// The connector.
#[derive(Default)]
pub struct Generic;

lava_guest_kit::export_connector!(Generic);

/// A `generic` connection's fields, as lava 8.3.0 reads them.
#[derive(Spec)]
pub struct GenericSpec {
    /// The attributes, by name: a plain value, `{"type": "local", "value": …}`
    /// or `{"type": "ssm", "parameter": "<SSM name>"}`.
    #[spec(type_name = "map of attributes")]
    pub attributes: Map<String, Value>,
    /// Who owns the connection.
    pub owner: Option<String>,
    /// Accepted, as lava accepts it; unused.
    pub secret_id: Option<String>,
}

/// Where an attribute's value comes from.
enum Source<'a> {
    /// The text the job gets, as lava's `str(value)` writes it.
    Plain(String),
    /// An SSM parameter's name.
    Ssm(&'a str),
}

/// An attribute as lava reads it, or the problem with it.
fn source(value: &Value) -> Result<Source<'_>, String> {
    let Value::Object(spec) = value else { return plain(value).map(Source::Plain) };
    match spec.get("type").unwrap_or(&Value::String("local".into())) {
        Value::String(t) if t == "local" => {
            let value = spec.get("value").ok_or("needs `value` for an attribute of type `local`")?;
            plain(value).map(Source::Plain)
        }
        Value::String(t) if t == "ssm" => match spec.get("parameter") {
            Some(Value::String(name)) => match sts::ssm_name_problem(name) {
                Some(problem) => Err(format!("parameter {problem}")),
                None => Ok(Source::Ssm(name)),
            },
            _ => Err("needs `parameter`, an SSM parameter's name, for an attribute of type `ssm`".into()),
        },
        other => Err(format!("has type {other}: lava's attribute types are `local` and `ssm`")),
    }
}

/// A scalar as Python's `str()` writes it (lava writes each value so).
fn plain(value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Bool(true) => Ok("True".into()),
        Value::Bool(false) => Ok("False".into()),
        Value::Null => Ok("None".into()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err("must be a string, number, true, false or null, or a map with a `type`".into()),
    }
}

impl Connector for Generic {
    const TYPE: &'static str = "generic";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// `ssm` attributes, as far as the worker's policy allows.
    const NEEDS: &'static [Need] = &[Need::any(Capability::Ssm)];
    type Spec = GenericSpec;

    fn check(&self, spec: &GenericSpec, _: &ValidateContext, problems: &mut Vec<Problem>) {
        for (name, value) in &spec.attributes {
            let field = format!("attributes.{name}");
            if !names::is_env_name(name) {
                let message = "must be a name of letters, digits and `_`, starting with a letter \
                               (lava-conn hands each attribute to the job by this name)";
                problems.push(Problem::error(&field, message));
            }
            if let Err(message) = source(value) {
                problems.push(Problem::error(&field, message));
            }
        }
    }

    fn resolve(&self, spec: GenericSpec, _: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        let mut values = Vec::with_capacity(spec.attributes.len());
        for (name, value) in &spec.attributes {
            values.push(match source(value).map_err(|e| format!("attributes.{name}: {e}"))? {
                Source::Plain(text) => NamedValue::plain(name, text),
                Source::Ssm(parameter) => {
                    let read = host.get_parameter(parameter);
                    let value =
                        read.map_err(|e| format!("attributes.{name}: cannot read SSM parameter `{parameter}`: {e}"))?;
                    NamedValue::secret(name, value)
                }
            });
        }
        Ok(Resolved { values, launcher: Some(LauncherKind::Generic), ..Resolved::default() })
    }
}

#[cfg(test)]
mod tests {
    use lava_guest_kit::RawConnector;
    use lava_guest_kit::serde_json::json;
    use lava_guest_kit::testing::FakeHost;

    use super::*;

    #[test]
    fn plain_local_and_ssm_attributes_reach_the_job_as_lava_writes_them() {
        let spec = json!({"conn_id": "v", "type": "generic", "enabled": true, "attributes": {
            "url": "https://api.example.com", "retries": 3, "verbose": true, "none": null,
            "region": {"type": "local", "value": "eu-west-1"}, "plainly": {"value": "local by default"},
            "token": {"type": "ssm", "parameter": "/lava/prod/vendor/token"}}});
        let host = FakeHost::default().with_parameter("/lava/prod/vendor/token", "t0k3n");
        let context = ValidateContext::default();
        assert_eq!(Generic.validate_json(&spec.to_string(), &context, &host), vec![]);
        let job = JobContext { conn_id: "v".into(), ..JobContext::default() };
        let resolved = Generic.resolve_json(&spec.to_string(), &job, &host).unwrap();
        assert_eq!(resolved.launcher, Some(LauncherKind::Generic));
        let expected = vec![
            NamedValue::plain("url", "https://api.example.com"),
            NamedValue::plain("retries", "3"),
            NamedValue::plain("verbose", "True"),
            NamedValue::plain("none", "None"),
            NamedValue::plain("region", "eu-west-1"),
            NamedValue::plain("plainly", "local by default"),
            NamedValue::secret("token", "t0k3n"),
        ];
        assert_eq!(resolved.values, expected);
    }

    #[test]
    fn each_bad_attribute_is_named_and_unknown_fields_are_refused_as_lava_refuses_them() {
        let spec = json!({"conn_id": "v", "type": "generic", "enabled": true, "colour": "red", "attributes": {
            "a-b": "x", "list": [1], "kind": {"type": "s3"}, "ssm": {"type": "ssm"}}});
        let problems = Generic.validate_json(&spec.to_string(), &ValidateContext::default(), &FakeHost::default());
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["colour", "attributes.a-b", "attributes.list", "attributes.kind", "attributes.ssm"]);
    }
}
