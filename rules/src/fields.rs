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
