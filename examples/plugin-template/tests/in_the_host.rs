//! The component in the real host, as a worker runs it: built for
//! `wasm32-wasip2`, sandboxed, given only what the worker's policy grants,
//! its AWS calls answered by a fake that records them.

use lava_conn_testkit::serde_json::json;
use lava_conn_testkit::{ExposeSecret, FakeAws, Severity, TestHost, job};

/// What an operator grants the type in `lava-conn.toml`.
const POLICY: &str = r#"
[policy.ssm-secret]
ssm = ["/lava/{realm}/"]
"#;

fn host() -> TestHost {
    let aws = FakeAws::default().parameter("/lava/prod/warehouse/password", "hunter2");
    TestHost::builder(lava_conn_testkit::component!()).config(POLICY).aws(aws).build().unwrap()
}

#[test]
fn the_host_serves_the_type_with_the_fields_the_spec_declares() {
    let host = host();
    assert_eq!(host.plugin().types, ["ssm-secret"]);
    let fields: Vec<&str> = host.plugin().fields.iter().map(|(name, ..)| name.as_str()).collect();
    assert_eq!(fields, ["conn_id", "type", "enabled", "description", "parameter", "name"]);
}

#[test]
fn a_job_gets_the_secret_and_aws_saw_one_read() {
    let host = host();
    let spec = json!({"conn_id": "warehouse", "type": "ssm-secret", "enabled": true,
        "parameter": "/lava/prod/warehouse/password", "name": "DB_PASSWORD"});
    assert_eq!(host.validate(&spec, Some("prod")), vec![]);
    let resolved = host.resolve(&spec, &job("prod", "j1")).unwrap();
    let value = &resolved.values[0];
    assert_eq!((value.name.as_str(), value.value.expose_secret(), value.secret), ("DB_PASSWORD", "hunter2", true));
    assert_eq!(host.aws_calls(), ["ssm:/lava/prod/warehouse/password"]);
}

#[test]
fn a_parameter_outside_the_realm_is_a_warning_then_refused_before_it_reaches_aws() {
    let host = host();
    let spec = json!({"conn_id": "w", "type": "ssm-secret", "enabled": true, "parameter": "/lava/dev/password"});
    let problems = host.validate(&spec, Some("prod"));
    assert_eq!(
        problems.iter().map(|p| (p.field.as_str(), p.severity)).collect::<Vec<_>>(),
        [("parameter", Severity::Warning)]
    );
    let error = host.resolve(&spec, &job("prod", "j1")).unwrap_err().to_string();
    assert!(error.contains("not granted"), "{error}");
    assert!(host.aws_calls().is_empty());
}
