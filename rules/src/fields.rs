//! Reading a spec's fields while collecting problems, the same way in every connector.

use serde_json::{Map, Value};

use crate::problem::{Problem, kind};

/// A spec as a JSON map, and the problems found in it so far.
pub struct SpecReader<'a> {
    /// The spec's fields.
    pub object: &'a Map<String, Value>,
    /// What is wrong so far.
    pub problems: Vec<Problem>,
}

/// The spec in `json` as a map, or the problem that it is not one.
pub fn parse_object(json: &str) -> Result<Map<String, Value>, Problem> {
    match serde_json::from_str(json) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Problem::error("", "the spec must be a JSON object (a map of fields)")),
        Err(e) => Err(Problem::error("", format!("the spec is not valid JSON: {e}"))),
    }
}

impl<'a> SpecReader<'a> {
    /// Start reading `object`.
    pub fn new(object: &'a Map<String, Value>) -> Self {
        Self { object, problems: Vec::new() }
    }

    /// Record an error on `field`.
    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem::error(field, message));
    }

    /// Record a warning on `field`.
    pub fn warning(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem::warning(field, message));
    }

    /// Whether the spec has `field`.
    pub fn has(&self, field: &str) -> bool {
        self.object.contains_key(field)
    }

    /// An error for each key that is neither in `known` nor an `X-`/`x-` annotation.
    pub fn reject_unknown(&mut self, known: &[&str], connector: &str) {
        let unknown: Vec<String> = self
            .object
            .keys()
            .filter(|k| !k.starts_with("X-") && !k.starts_with("x-") && !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            self.error(
                &key,
                format!(
                    "is not a field of an {connector} connection; valid fields are {}, and annotations starting with `X-` or `x-`",
                    known.join(", ")
                ),
            );
        }
    }

    /// A string field that must be present.
    pub fn required_string(&mut self, field: &str) -> Option<String> {
        if !self.has(field) {
            self.error(field, "is required");
            return None;
        }
        self.optional_string(field)
    }

    /// A string field that may be absent.
    pub fn optional_string(&mut self, field: &str) -> Option<String> {
        match self.object.get(field)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.error(field, format!("must be a string, not {}", kind(other)));
                None
            }
        }
    }

    /// `type`, which must name `connector_type` (any case).
    pub fn connector_type(&mut self, connector_type: &str) {
        match self.required_string("type") {
            Some(t) if t.eq_ignore_ascii_case(connector_type) => {}
            Some(t) => self.error("type", format!("is `{t}`; this connector handles `{connector_type}`")),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Severity;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn problems(reader: &SpecReader<'_>) -> Vec<(String, Severity, String)> {
        reader.problems.iter().map(|p| (p.field.clone(), p.severity, p.message.clone())).collect()
    }

    #[test]
    fn a_spec_must_be_a_json_object() {
        assert_eq!(parse_object(r#"{"a": 1}"#).unwrap()["a"], 1);
        assert!(parse_object("[1]").unwrap_err().message.contains("must be a JSON object"));
        assert!(parse_object("{").unwrap_err().message.contains("not valid JSON"));
    }

    #[test]
    fn problems_are_recorded_with_their_severity() {
        let map = object(json!({}));
        let mut reader = SpecReader::new(&map);
        reader.error("a", "bad");
        reader.warning("b", "odd");
        assert_eq!(
            problems(&reader),
            [("a".into(), Severity::Error, "bad".into()), ("b".into(), Severity::Warning, "odd".into())]
        );
    }

    #[test]
    fn unknown_fields_are_errors_but_annotations_and_known_ones_are_not() {
        let map = object(json!({"known": 1, "X-note": 2, "x-other": 3, "typo": 4}));
        let mut reader = SpecReader::new(&map);
        assert!(reader.has("known") && !reader.has("missing"));
        reader.reject_unknown(&["known"], "aws");
        let found = problems(&reader);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0.as_str(), found[0].1), ("typo", Severity::Error));
        assert!(found[0].2.contains("valid fields are known"), "{found:?}");
    }

    #[test]
    fn string_fields_required_or_optional() {
        let map = object(json!({"s": "v", "n": 1}));
        let mut reader = SpecReader::new(&map);
        assert_eq!(reader.required_string("s"), Some("v".into()));
        assert_eq!(reader.optional_string("s"), Some("v".into()));
        assert_eq!(reader.optional_string("absent"), None);
        assert!(reader.problems.is_empty(), "nothing wrong yet");
        assert_eq!(reader.required_string("absent"), None);
        assert_eq!(reader.optional_string("n"), None);
        assert_eq!(
            problems(&reader),
            [
                ("absent".into(), Severity::Error, "is required".into()),
                ("n".into(), Severity::Error, "must be a string, not a number".into()),
            ]
        );
    }

    #[test]
    fn the_type_must_name_the_connector_in_any_case() {
        for (spec, expected) in [
            (json!({"type": "AWS"}), None),
            (json!({"type": "gcp"}), Some("is `gcp`; this connector handles `aws`")),
            (json!({}), Some("is required")),
        ] {
            let map = object(spec);
            let mut reader = SpecReader::new(&map);
            reader.connector_type("aws");
            assert_eq!(reader.problems.first().map(|p| p.message.as_str()), expected);
        }
    }
}
