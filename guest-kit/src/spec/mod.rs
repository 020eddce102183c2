//! Typed specs: a connector declares its fields once, as a struct with
//! `#[derive(Spec)]`, and the SDK reads every spec into it the same way,
//! collecting every problem with its field's name (not only the first).
//!
//! What every spec has is read here, once, for every connector: `conn_id`
//! (required, not empty), `type` (the connector's, any case), `enabled`,
//! `description`; `X-*`/`x-*` annotations are ignored, any other key is an
//! error naming the valid ones (as lava's own specs are checked).

pub mod aws;
pub mod fields;

use fields::{SpecReader, parse_object};
use lava_rules::problem::{Problem, has_error};

use crate::{Connector, Field, ValidateContext};

/// A connector's spec, as a type: what `#[derive(Spec)]` implements from
/// the struct's fields (each one's doc comment is its description).
pub trait Spec: Sized {
    /// Every field of the spec, the common ones first, as `describe` shows them.
    const FIELDS: &'static [Field];
    /// The connector's own fields, each read with
    /// [`SpecReader::field`]: `None` when any of them could not be read
    /// (the reader holds why).
    fn read(reader: &mut SpecReader<'_>) -> Option<Self>;
}

/// The fields every spec has, as `#[derive(Spec)]` lists them first.
pub const COMMON_FIELDS: [Field; 4] = [
    Field::required("conn_id", "string", "The connection's id."),
    Field::required("type", "string", "The connector type."),
    Field::required("enabled", "bool", "Whether the connection may be used."),
    Field::optional("description", "string", "Free text."),
];

/// A spec read for a call: the connector's fields, whether the connection
/// is enabled, and every problem found.
#[derive(Debug)]
pub struct Checked<S> {
    /// The spec, when it has no error.
    pub spec: Option<S>,
    /// Whether the connection may be used.
    pub enabled: bool,
    /// Every problem, errors and warnings, in the order the fields were read.
    pub problems: Vec<Problem>,
}

/// Read and check `json` as a spec of connector `C`: the common fields, the
/// connector's own, then [`Connector::check`] when they could be read.
pub fn read_spec<C: Connector>(connector: &C, json: &str, context: &ValidateContext) -> Checked<C::Spec> {
    let object = match parse_object(json) {
        Ok(object) => object,
        Err(problem) => return Checked { spec: None, enabled: false, problems: vec![problem] },
    };
    let mut reader = SpecReader::new(&object);
    let known: Vec<&str> = C::Spec::FIELDS.iter().map(|f| f.name).collect();
    // A family's spec is named by its own type in the message.
    let named = reader.quiet::<String>("type").map(|t| t.to_ascii_lowercase());
    let named = named.as_deref().filter(|t| C::TYPES.contains(t)).unwrap_or(C::TYPES[0]);
    reader.reject_unknown(&known, named);
    if reader.field::<String>("conn_id").is_some_and(|id| id.is_empty()) {
        reader.error("conn_id", "must not be empty");
    }
    reader.connector_types(C::TYPES);
    let enabled = if reader.has("enabled") || C::ENABLED_BY_DEFAULT {
        reader.field_or_else("enabled", || Some(true))
    } else {
        reader.error("enabled", "is required: add `\"enabled\": true` (lava treats a spec without it as disabled)");
        None
    };
    reader.field::<Option<String>>("description");
    let spec = C::Spec::read(&mut reader);
    let mut problems = reader.problems;
    if spec.is_none() && !has_error(&problems) {
        // Never a spec refused without a word (a `FieldValue` that failed
        // without saying why).
        problems.push(Problem::error("", format!("the spec cannot be read as a `{}` spec", C::TYPE)));
    }
    if let Some(spec) = &spec {
        connector.check(spec, context, &mut problems);
    }
    let spec = spec.filter(|_| !has_error(&problems));
    Checked { spec, enabled: enabled.unwrap_or(false), problems }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::testing::FakeHost;
    use crate::{Host, JobContext, RawConnector, Resolved, Severity};

    /// Every kind of field the SDK reads.
    #[derive(Debug, PartialEq, crate::Spec)]
    struct Every {
        /// A text.
        text: String,
        /// A port,
        /// on two lines.
        port: Option<u16>,
        #[spec(default)]
        retries: u32,
        #[spec(rename = "max-age", default = "a_day")]
        max_age: u64,
        #[spec(type_name = "list of group names")]
        groups: Option<Vec<String>>,
        tags: Option<BTreeMap<String, String>>,
        flag: Option<bool>,
    }

    fn a_day() -> u64 {
        86_400
    }

    #[derive(Default)]
    struct Probe;

    impl Connector for Probe {
        const TYPE: &'static str = "probe";
        const VERSION: &'static str = "1";
        type Spec = Every;

        fn check(&self, spec: &Every, _: &ValidateContext, problems: &mut Vec<Problem>) {
            if spec.text == "bad" {
                problems.push(Problem::error("text", "must not be `bad`"));
            }
        }

        fn resolve(&self, spec: Every, _: &JobContext, _: &dyn Host) -> Result<Resolved, String> {
            Ok(Resolved::values(vec![crate::NamedValue::plain("TEXT", spec.text)]))
        }
    }

    /// A spec that also holds the SDK's own fields, to use them.
    #[derive(Debug, PartialEq, crate::Spec)]
    struct WithId {
        conn_id: String,
        description: Option<String>,
        /// A value.
        value: String,
    }

    #[derive(Default)]
    struct Named;

    impl Connector for Named {
        const TYPE: &'static str = "named";
        const VERSION: &'static str = "1";
        type Spec = WithId;

        fn check(&self, spec: &WithId, _: &ValidateContext, problems: &mut Vec<Problem>) {
            if spec.conn_id.contains(' ') {
                problems.push(Problem::warning("conn_id", "has a space"));
            }
        }

        fn resolve(&self, spec: WithId, _: &JobContext, _: &dyn Host) -> Result<Resolved, String> {
            Ok(Resolved::values(vec![crate::NamedValue::plain("ID", spec.conn_id)]))
        }
    }

    #[test]
    fn a_spec_may_hold_the_sdks_own_fields_to_use_them_without_rows_or_second_problems() {
        let fields: Vec<&str> = Named::FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(fields, ["conn_id", "type", "enabled", "description", "value"]);
        let checked = read_spec(
            &Named,
            r#"{"conn_id": "a b", "type": "named", "enabled": true, "value": "v"}"#,
            &ValidateContext::default(),
        );
        assert_eq!(checked.spec, Some(WithId { conn_id: "a b".into(), description: None, value: "v".into() }));
        assert_eq!(checked.problems, [Problem::warning("conn_id", "has a space")]);
        let missing =
            read_spec(&Named, r#"{"type": "named", "enabled": true, "value": "v"}"#, &ValidateContext::default());
        assert_eq!(missing.problems, [Problem::error("conn_id", "is required")], "said once, by the SDK");
        assert!(missing.spec.is_none());
    }

    fn read(json: &str) -> Checked<Every> {
        read_spec(&Probe, json, &ValidateContext::default())
    }

    fn found(checked: &Checked<Every>) -> Vec<(&str, Severity, &str)> {
        checked.problems.iter().map(|p| (p.field.as_str(), p.severity, p.message.as_str())).collect()
    }

    #[test]
    fn a_spec_reads_into_its_type_with_defaults_for_what_it_leaves_out() {
        let checked = read(r#"{"conn_id": "c", "type": "PROBE", "enabled": true, "text": "t", "X-note": 1}"#);
        assert_eq!(found(&checked), []);
        let expected =
            Every { text: "t".into(), port: None, retries: 0, max_age: 86_400, groups: None, tags: None, flag: None };
        assert_eq!(checked.spec, Some(expected));
        assert!(checked.enabled);
        let full = r#"{"conn_id": "c", "type": "probe", "enabled": false, "description": "d", "text": "t",
            "port": 5432, "retries": 3, "max-age": 60, "groups": ["a"], "tags": {"k": "v"}, "flag": null}"#;
        let checked = read(full);
        let spec = checked.spec.unwrap();
        assert_eq!((spec.port, spec.retries, spec.max_age, spec.flag), (Some(5432), 3, 60, None));
        assert_eq!((spec.groups.unwrap(), spec.tags.unwrap()["k"].as_str()), (vec!["a".to_string()], "v"));
        assert!(!checked.enabled);
    }

    #[test]
    fn every_problem_is_found_at_once_each_naming_its_field_and_path() {
        let json = r#"{"type": "other", "conn_id": "", "enabled": 1, "description": 2, "port": 70000,
            "retries": -1, "max-age": "1d", "groups": ["a", 3], "tags": {"k": false}, "flag": "yes", "typo": 1}"#;
        let checked = read(json);
        assert!(checked.spec.is_none());
        let found = found(&checked);
        let fields: Vec<&str> = found.iter().map(|(f, _, _)| *f).collect();
        assert_eq!(
            fields,
            [
                "typo",
                "conn_id",
                "type",
                "enabled",
                "description",
                "text",
                "port",
                "retries",
                "max-age",
                "groups[1]",
                "tags.k",
                "flag"
            ]
        );
        assert!(found.iter().all(|(_, s, _)| *s == Severity::Error));
        let messages: BTreeMap<&str, &str> = found.iter().map(|(f, _, m)| (*f, *m)).collect();
        assert_eq!(messages["text"], "is required");
        assert_eq!(messages["port"], "must be a whole number from 0 to 65535, not 70000");
        assert_eq!(messages["retries"], "must be a whole number from 0 to 4294967295, not -1");
        assert_eq!(messages["max-age"], "must be a whole number, not a string");
        assert_eq!(messages["groups[1]"], "must be a string, not a number");
        assert_eq!(messages["tags.k"], "must be a string, not a boolean");
        assert_eq!(messages["enabled"], "must be true or false, not a number");
        assert!(messages["typo"].contains("valid fields are conn_id, type, enabled, description, text, port"));
    }

    #[test]
    fn a_spec_without_enabled_is_refused_as_lava_refuses_it() {
        let checked = read(r#"{"conn_id": "c", "type": "probe", "text": "t"}"#);
        let message = "is required: add `\"enabled\": true` (lava treats a spec without it as disabled)";
        assert_eq!(found(&checked), [("enabled", Severity::Error, message)]);
    }

    #[test]
    fn the_connectors_own_checks_run_on_the_typed_spec_and_guard_resolve() {
        let json = r#"{"conn_id": "c", "type": "probe", "enabled": true, "text": "bad"}"#;
        assert_eq!(found(&read(json)), [("text", Severity::Error, "must not be `bad`")]);
        let job = JobContext { conn_id: "c".into(), session_name: "lv-p-j".into(), ..JobContext::default() };
        let error = Probe.resolve_json(json, &job, &FakeHost::default()).unwrap_err();
        assert_eq!(error, "the spec is invalid: text: must not be `bad`");
        let good = json.replace("bad", "fine");
        assert_eq!(Probe.session_name_json(&good, &job, &FakeHost::default()), Ok("lv-p-j".into()));
        assert_eq!(Probe.resolve_json(&good, &job, &FakeHost::default()).unwrap().values[0].value, "fine");
        let disabled = good.replace("true", "false");
        let error = Probe.resolve_json(&disabled, &job, &FakeHost::default()).unwrap_err();
        assert_eq!(error, "connection `c` is not enabled: set `\"enabled\": true` to use it");
    }

    #[test]
    fn the_field_table_comes_from_the_struct() {
        let rows: Vec<(&str, &str, bool, &str)> =
            Probe::FIELDS.iter().map(|f| (f.name, f.type_name, f.required, f.description)).collect();
        assert_eq!(rows[..4], COMMON_FIELDS.map(|f| (f.name, f.type_name, f.required, f.description)));
        assert_eq!(
            rows[4..],
            [
                ("text", "string", true, "A text."),
                ("port", "integer", false, "A port, on two lines."),
                ("retries", "integer", false, ""),
                ("max-age", "integer", false, ""),
                ("groups", "list of group names", false, ""),
                ("tags", "map of strings", false, ""),
                ("flag", "bool", false, ""),
            ]
        );
    }
}
