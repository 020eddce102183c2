//! The aws component's validation, loaded in the real host: one case per rule
//! of the reference's section 1.

use std::sync::{Arc, OnceLock};

use lava_conn::{ConnectorHost, Problem, Severity};
use lava_conn_tests::{FakeAws, host_with, test_config};
use serde_json::{Value, json};

fn host() -> &'static ConnectorHost {
    static HOST: OnceLock<ConnectorHost> = OnceLock::new();
    HOST.get_or_init(|| host_with(test_config(), None, Arc::new(FakeAws::default())))
}

/// A valid role connection with `changes` applied (`null` removes a field).
fn role_spec(changes: Value) -> Value {
    let mut spec = json!({
        "conn_id": "aws1",
        "type": "aws",
        "enabled": true,
        "role_arn": "arn:aws:iam::123456789012:role/loader",
    });
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            spec.as_object_mut().unwrap().remove(key);
        } else {
            spec[key] = value.clone();
        }
    }
    spec
}

fn keys_spec(changes: Value) -> Value {
    let mut spec = role_spec(json!({"role_arn": null, "access_keys": "/lava/prod/aws/keys"}));
    for (key, value) in changes.as_object().unwrap() {
        spec[key] = value.clone();
    }
    spec
}

fn problems(spec: &Value) -> Vec<Problem> {
    host().validate(spec, Some("prod")).expect("validation runs")
}

fn errors(spec: &Value) -> Vec<Problem> {
    problems(spec).into_iter().filter(|p| p.severity == Severity::Error).collect()
}

fn warnings(spec: &Value) -> Vec<Problem> {
    problems(spec).into_iter().filter(|p| p.severity == Severity::Warning).collect()
}

#[test]
fn valid_specs_have_no_errors() {
    let cases = [
        role_spec(json!({})),
        keys_spec(json!({})),
        role_spec(json!({"type": "AWS"})),
        role_spec(json!({"type": "Aws"})),
        role_spec(json!({"X-owner-team": "data", "x-note": {"any": ["thing"]}})),
        role_spec(json!({"description": "d", "owner": "o", "secret_id": "s"})),
        role_spec(json!({"enabled": false})),
        role_spec(json!({"role_arn": "arn:aws-cn:iam::123456789012:role/path/to/role"})),
        role_spec(json!({"role_arn": "arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f-g_h"})),
        role_spec(json!({"duration": "3h"})),
        role_spec(json!({"duration": "90m"})),
        role_spec(json!({"duration": "1.5h"})),
        role_spec(json!({"duration": "3600"})),
        role_spec(json!({"duration": " 2 h "})),
        role_spec(json!({"duration": 43200})),
        role_spec(json!({"duration": "43200.9"})),
        role_spec(json!({"duration": "0.5d"})),
        role_spec(json!({"external_id": "/lava/prod/aws/ext-id"})),
        role_spec(json!({"policy_arns": "arn:aws:iam::aws:policy/ReadOnlyAccess"})),
        role_spec(
            json!({"policy_arns": (0..10).map(|i| format!("arn:aws:iam::123456789012:policy/p{i}")).collect::<Vec<_>>()}),
        ),
        role_spec(
            json!({"policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}),
        ),
        role_spec(json!({"region": "ap-southeast-2"})),
        role_spec(json!({"region": "us-gov-west-1"})),
        role_spec(json!({"tags": {"team": "data", "Ünïcödé key": "välue 1", "k:/=+-@._": ""}})),
        role_spec(json!({"tags": (0..50).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()})),
    ];
    for spec in cases {
        let errors = errors(&spec);
        assert!(errors.is_empty(), "{spec}: {errors:?}");
    }
}

/// Every invalid case, with the field its error must name.
#[test]
fn each_rule_names_its_field() {
    let long_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "x".repeat(2100)}]});
    let cases: Vec<(&str, Value, &str)> = vec![
        ("conn_id missing", role_spec(json!({"conn_id": null})), "conn_id"),
        ("conn_id not a string", role_spec(json!({"conn_id": 7})), "conn_id"),
        ("conn_id empty", role_spec(json!({"conn_id": ""})), "conn_id"),
        ("type missing", role_spec(json!({"type": null})), "type"),
        ("type unknown", role_spec(json!({"type": "mongodb"})), "type"),
        ("type not a string", role_spec(json!({"type": 1})), "type"),
        ("enabled missing", role_spec(json!({"enabled": null})), "enabled"),
        ("enabled not a bool", role_spec(json!({"enabled": "yes"})), "enabled"),
        ("unknown field", role_spec(json!({"regoin": "us-east-1"})), "regoin"),
        ("no credential source", role_spec(json!({"role_arn": null})), ""),
        ("access_keys outside realm", keys_spec(json!({"access_keys": "/lava/dev/aws/keys"})), "access_keys"),
        ("access_keys not under /lava", keys_spec(json!({"access_keys": "/other/keys"})), "access_keys"),
        ("access_keys is the prefix itself", keys_spec(json!({"access_keys": "/lava/prod/"})), "access_keys"),
        ("access_keys not a name", keys_spec(json!({"access_keys": "AKIA,secret"})), "access_keys"),
        ("access_keys not a string", keys_spec(json!({"access_keys": ["/lava/prod/k"]})), "access_keys"),
        ("role_arn short account", role_spec(json!({"role_arn": "arn:aws:iam::12345:role/x"})), "role_arn"),
        ("role_arn bad partition", role_spec(json!({"role_arn": "arn:azure:iam::123456789012:role/x"})), "role_arn"),
        ("role_arn not a role", role_spec(json!({"role_arn": "arn:aws:iam::123456789012:user/x"})), "role_arn"),
        ("role_arn other service", role_spec(json!({"role_arn": "arn:aws:s3::123456789012:role/x"})), "role_arn"),
        ("role_arn empty name", role_spec(json!({"role_arn": "arn:aws:iam::123456789012:role/"})), "role_arn"),
        (
            "role_arn name too long",
            role_spec(json!({"role_arn": format!("arn:aws:iam::123456789012:role/{}", "r".repeat(65))})),
            "role_arn",
        ),
        ("role_arn not a string", role_spec(json!({"role_arn": 5})), "role_arn"),
        ("duration words", role_spec(json!({"duration": "3 hours"})), "duration"),
        ("duration upper-case unit", role_spec(json!({"duration": "3H"})), "duration"),
        ("duration too short", role_spec(json!({"duration": "899"})), "duration"),
        ("duration too short in minutes", role_spec(json!({"duration": "14m"})), "duration"),
        ("duration too long", role_spec(json!({"duration": "43201"})), "duration"),
        ("duration too long in hours", role_spec(json!({"duration": "13h"})), "duration"),
        ("duration negative", role_spec(json!({"duration": "-1h"})), "duration"),
        ("duration a bool", role_spec(json!({"duration": true})), "duration"),
        ("duration a number too small", role_spec(json!({"duration": 60})), "duration"),
        ("external_id is the id itself", role_spec(json!({"external_id": "my-external-id"})), "external_id"),
        ("external_id not a string", role_spec(json!({"external_id": 1})), "external_id"),
        (
            "policy_arns too many",
            role_spec(
                json!({"policy_arns": (0..11).map(|i| format!("arn:aws:iam::123456789012:policy/p{i}")).collect::<Vec<_>>()}),
            ),
            "policy_arns",
        ),
        ("policy_arns bad arn", role_spec(json!({"policy_arns": ["arn:aws:iam::123456789012:role/x"]})), "policy_arns"),
        ("policy_arns a number", role_spec(json!({"policy_arns": 3})), "policy_arns"),
        ("policy_arns list with a number", role_spec(json!({"policy_arns": [3]})), "policy_arns"),
        ("policy not a map", role_spec(json!({"policy": "{\"Version\":\"2012-10-17\"}"})), "policy"),
        ("policy too long", role_spec(json!({"policy": long_policy})), "policy"),
        ("policy outside latin-1", role_spec(json!({"policy": {"Statement": [], "Sid": "€"}})), "policy"),
        ("region made up", role_spec(json!({"region": "mars"})), "region"),
        ("region upper case", role_spec(json!({"region": "US-EAST-1"})), "region"),
        ("region not a string", role_spec(json!({"region": 1})), "region"),
        ("tags not a map", role_spec(json!({"tags": ["a"]})), "tags"),
        (
            "tags too many",
            role_spec(
                json!({"tags": (0..51).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
            ),
            "tags",
        ),
        (
            "tag key too long",
            role_spec(json!({"tags": {"k".repeat(129): "v"}})),
            &*Box::leak(format!("tags.{}", "k".repeat(129)).into_boxed_str()),
        ),
        ("tag key empty", role_spec(json!({"tags": {"": "v"}})), "tags."),
        ("tag value too long", role_spec(json!({"tags": {"k": "v".repeat(257)}})), "tags.k"),
        ("tag key bad character", role_spec(json!({"tags": {"a*b": "v"}})), "tags.a*b"),
        ("tag value bad character", role_spec(json!({"tags": {"k": "a;b"}})), "tags.k"),
        ("tag keys equal ignoring case", role_spec(json!({"tags": {"Team": "a", "team": "b"}})), "tags.team"),
        ("tag value not a string", role_spec(json!({"tags": {"k": 1}})), "tags.k"),
        ("spec not a map", json!(["aws"]), ""),
    ];
    for (case, spec, field) in cases {
        let errors = errors(&spec);
        assert!(errors.iter().any(|p| p.field == field), "{case}: expected an error on `{field}`, got {errors:?}");
        for p in &errors {
            assert!(!p.message.is_empty(), "{case}: empty message");
        }
    }
}

#[test]
fn warnings_do_not_invalidate() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("both sources", role_spec(json!({"access_keys": "/lava/prod/aws/keys"})), "role_arn"),
        ("duration near the cache TTL", role_spec(json!({"duration": "15m"})), "duration"),
        ("external_id outside the realm", role_spec(json!({"external_id": "/shared/ext-id"})), "external_id"),
        ("role field without a role", keys_spec(json!({"duration": "1h"})), "duration"),
        ("policy without Statement", role_spec(json!({"policy": {"Version": "2012-10-17"}})), "policy"),
    ];
    for (case, spec, field) in cases {
        assert!(errors(&spec).is_empty(), "{case}: {:?}", errors(&spec));
        let warnings = warnings(&spec);
        assert!(warnings.iter().any(|p| p.field == field), "{case}: expected a warning on `{field}`, got {warnings:?}");
    }
}

#[test]
fn access_keys_prefix_follows_the_realm() {
    let spec = keys_spec(json!({"access_keys": "/lava/dev/aws/keys"}));
    assert!(host().validate(&spec, Some("dev")).unwrap().is_empty());
    assert!(!host().validate(&spec, Some("prod")).unwrap().is_empty());
    // Without a realm any `/lava/<realm>/` name is accepted.
    assert!(host().validate(&spec, None).unwrap().is_empty());
}

#[test]
fn invalid_json_shapes_are_problems_not_crashes() {
    for spec in [json!(null), json!(3), json!("aws"), json!({})] {
        let problems = problems(&spec);
        assert!(problems.iter().any(|p| p.severity == Severity::Error), "{spec}: {problems:?}");
    }
}

#[test]
fn a_spec_of_forty_thousand_tags_is_a_problem_found_within_the_deadline() {
    // Tag keys were checked for repeats against every key before them: this
    // spec took the built-in past its 1 s deadline. ~1.2 MB, it is also more
    // than the built-in's start pages hold, so its heap grows, and the next
    // call (a fresh instance) starts small again.
    let tags: serde_json::Map<String, Value> =
        (0..40_000).map(|i| (format!("team-{i:05}"), json!(format!("value-{i:05}")))).collect();
    let big = errors(&role_spec(json!({ "tags": tags })));
    assert!(big.iter().any(|p| p.field == "tags" && p.message.contains("40000 tags")), "{big:?}");
    assert_eq!(errors(&role_spec(json!({}))), vec![]);
}

/// `x-note` nested `depth` arrays deep.
fn nested_note(depth: usize) -> Value {
    let mut note = json!("bottom");
    for _ in 0..depth {
        note = json!([note]);
    }
    role_spec(json!({ "x-note": note }))
}

#[test]
fn a_spec_nested_as_deep_as_the_json_parser_allows_is_validated_and_deeper_is_a_problem() {
    // The built-in runs on a 128 KiB stack (`.cargo/config.toml`): the JSON
    // parser's own depth limit (128) must come before the stack's.
    assert_eq!(errors(&nested_note(126)), vec![], "within the parser's limit");
    let too_deep = errors(&nested_note(1000));
    assert!(too_deep.iter().any(|p| p.message.contains("JSON")), "{too_deep:?}");
}
