//! Problems found in a connection spec, as the connectors report them.

/// How serious a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The spec cannot be used.
    Error,
    /// The spec works but is suspicious.
    Warning,
}

/// One thing wrong with a connection spec: the one definition the
/// connectors, the SDK and the host (its API and `--json` output) share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The field concerned (`tags.key`, `groups[1]`), or empty for the spec as a whole.
    pub field: String,
    /// What is wrong and what would be valid.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

// By hand, not derived: connector plugins build this crate, and need no
// serde derive for it.
impl serde::Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

impl serde::Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut problem = serializer.serialize_struct("Problem", 3)?;
        problem.serialize_field("field", &self.field)?;
        problem.serialize_field("message", &self.message)?;
        problem.serialize_field("severity", &self.severity)?;
        problem.end()
    }
}

impl Problem {
    /// An error on `field`.
    pub fn error(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_string(), message: message.into(), severity: Severity::Error }
    }

    /// A warning on `field`.
    pub fn warning(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_string(), message: message.into(), severity: Severity::Warning }
    }
}

/// Whether any problem is an error.
pub fn has_error(problems: &[Problem]) -> bool {
    problems.iter().any(|p| p.severity == Severity::Error)
}

/// The errors of `problems`, warnings left out (what a session name or a
/// resolve refused for).
pub fn errors(problems: Vec<Problem>) -> Vec<Problem> {
    problems.into_iter().filter(|p| p.severity == Severity::Error).collect()
}

/// The errors of `problems` as one line: `field: message; field: message`.
pub fn error_summary(problems: &[Problem]) -> String {
    problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| if p.field.is_empty() { p.message.clone() } else { format!("{}: {}", p.field, p.message) })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A JSON type name for messages.
pub fn kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_errors_count_and_summarise() {
        let warning = Problem::warning("a", "just so");
        let error = Problem::error("b", "broken");
        let whole = Problem::error("", "the spec as a whole");
        assert!(!has_error(std::slice::from_ref(&warning)));
        assert!(has_error(&[warning.clone(), error.clone()]));
        assert!(!has_error(&[]));
        assert_eq!(error_summary(&[warning, error, whole]), "b: broken; the spec as a whole");
        assert_eq!(error_summary(&[]), "");
        assert_eq!(errors(vec![Problem::warning("a", "w"), Problem::error("b", "e")]), [Problem::error("b", "e")]);
    }

    #[test]
    fn problems_serialise_with_lowercase_severities() {
        let problems = [Problem::error("a", "bad"), Problem::warning("", "odd")];
        assert_eq!(
            serde_json::to_value(problems).unwrap(),
            json!([{"field": "a", "message": "bad", "severity": "error"},
                   {"field": "", "message": "odd", "severity": "warning"}])
        );
    }

    #[test]
    fn json_kinds_are_named_for_people() {
        let kinds: Vec<&str> =
            [json!(null), json!(true), json!(1), json!("s"), json!([]), json!({})].iter().map(kind).collect();
        assert_eq!(kinds, ["null", "a boolean", "a number", "a string", "a list", "a map"]);
    }
}
