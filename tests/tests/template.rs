//! The plugin template, built as its author would build it (a crate of its
//! own, depending on the SDK), loads into the real host and works there: a
//! new connector type needs no host change.

use std::sync::Arc;

use lava_conn::{ContractVersion, HostError, Job, PluginSource, Severity};
use lava_conn_tests::{FakeAws, HTTP_BASIC_COMPONENT, TEMPLATE_COMPONENT, host_with, plugin_dir, test_config};
use secrecy::ExposeSecret;
use serde_json::json;

fn job() -> Job {
    Job { realm: "prod".into(), job_id: "j1".into() }
}

#[tokio::test]
async fn the_template_is_a_working_connector_type_in_the_real_host() {
    let plugins = plugin_dir(&[("ssm-secret.wasm", TEMPLATE_COMPONENT)]);
    let backend = Arc::new(FakeAws::default().parameter("/lava/prod/warehouse/password", "hunter2"));
    let host = host_with(test_config(), Some(plugins.path()), backend.clone());
    assert!(host.skipped_plugins().is_empty(), "{:?}", host.skipped_plugins());

    let info = host.plugins().into_iter().find(|p| p.types == ["ssm-secret"]).expect("the template's type is served");
    assert_eq!(info.contract, ContractVersion::V0_3);
    assert_eq!(info.source, PluginSource::File(plugins.path().join("ssm-secret.wasm")));
    let fields: Vec<&str> = info.fields.iter().map(|(name, ..)| name.as_str()).collect();
    assert_eq!(fields, ["conn_id", "type", "enabled", "description", "parameter", "name"]);

    let spec = json!({"conn_id": "warehouse", "type": "ssm-secret", "enabled": true,
        "parameter": "/lava/prod/warehouse/password", "name": "DB_PASSWORD"});
    assert_eq!(host.validate(&spec, Some("prod")).unwrap(), vec![]);
    let bad = json!({"conn_id": "warehouse", "type": "ssm-secret", "enabled": true, "parameter": "pw"});
    let problems = host.validate(&bad, Some("prod")).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!((problems[0].field.as_str(), problems[0].severity), ("parameter", Severity::Error));
    // The SDK's default session name: the worker's template, rendered for the job.
    assert_eq!(host.session_name(&spec, &job()).unwrap(), Ok("lv-prod-j1".to_string()));
    assert!(backend.calls().is_empty(), "validate and session-name get no AWS");

    let resolved = host.resolve_spec(spec, &job()).await.unwrap();
    assert_eq!(resolved.values.len(), 1);
    assert_eq!(resolved.values[0].name, "DB_PASSWORD");
    assert_eq!(resolved.values[0].value.expose_secret(), "hunter2");
    assert!(resolved.values[0].secret);
    assert!(resolved.aws.is_none());
    assert_eq!(backend.calls(), ["ssm:/lava/prod/warehouse/password"]);
}

#[tokio::test]
async fn the_template_gets_only_what_the_worker_grants() {
    let plugins = plugin_dir(&[("ssm-secret.wasm", TEMPLATE_COMPONENT)]);
    let backend = Arc::new(FakeAws::default());
    let host = host_with(test_config(), Some(plugins.path()), backend.clone());
    // Outside the realm's prefix: a warning at validation, a refusal at resolve.
    let spec = json!({"conn_id": "other", "type": "ssm-secret", "enabled": true, "parameter": "/lava/dev/password"});
    let problems = host.validate(&spec, Some("prod")).unwrap();
    assert_eq!(
        problems.iter().map(|p| (p.field.as_str(), p.severity)).collect::<Vec<_>>(),
        [("parameter", Severity::Warning)]
    );
    let error = host.resolve_spec(spec, &job()).await.unwrap_err();
    let HostError::Resolve { message, .. } = &error else { panic!("expected the connector's refusal, got {error:?}") };
    assert!(message.contains("/lava/dev/password") && message.contains("not granted"), "{message}");
    assert!(backend.calls().is_empty(), "the refused read never reached AWS: {:?}", backend.calls());
}

#[tokio::test]
async fn without_its_types_policy_the_template_is_refused_before_any_request_naming_the_table() {
    let plugins = plugin_dir(&[("ssm-secret.wasm", TEMPLATE_COMPONENT)]);
    let backend = Arc::new(FakeAws::default().parameter("/lava/prod/warehouse/password", "hunter2"));
    let config = lava_conn::WorkerConfig { policy: Default::default(), ..test_config() };
    let host = host_with(config, Some(plugins.path()), backend.clone());
    let spec = json!({"conn_id": "warehouse", "type": "ssm-secret", "enabled": true, "parameter": "/lava/prod/warehouse/password"});
    let error = host.resolve_spec(spec, &job()).await.unwrap_err().to_string();
    assert!(error.contains("allow it with `ssm` under `[policy.ssm-secret]`"), "{error}");
    assert!(backend.calls().is_empty(), "nothing reached AWS: {:?}", backend.calls());
}

#[tokio::test]
async fn the_http_basic_example_of_the_docs_works_in_the_real_host_with_no_copied_plumbing() {
    let plugins = plugin_dir(&[("http-basic.wasm", HTTP_BASIC_COMPONENT)]);
    let backend = Arc::new(FakeAws::default().parameter("/lava/prod/billing/password", "s3cret"));
    let mut config = test_config();
    config.policy.insert(
        "http-basic".into(),
        lava_conn::TypePolicy { ssm: vec!["/lava/".into()], ..lava_conn::TypePolicy::default() },
    );
    let host = host_with(config, Some(plugins.path()), backend.clone());
    let spec = json!({"conn_id": "billing-api", "type": "http-basic", "enabled": true,
        "url": "https://billing.example.com/api", "user": "etl", "password": "/lava/prod/billing/password"});
    assert_eq!(host.validate(&spec, Some("prod")).unwrap(), vec![]);
    // What the SDK reads for every connector: unknown keys, `enabled`, types.
    let bad = json!({"conn_id": "billing-api", "type": "http-basic", "url": 5, "user": "etl", "pasword": "/x"});
    let problems: Vec<(String, String)> =
        host.validate(&bad, Some("prod")).unwrap().into_iter().map(|p| (p.field, p.message)).collect();
    let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["pasword", "enabled", "url", "password"], "{problems:?}");
    let resolved = host.resolve_spec(spec.clone(), &job()).await.unwrap();
    let values: Vec<(&str, &str, bool)> =
        resolved.values.iter().map(|v| (v.name.as_str(), v.value.expose_secret(), v.secret)).collect();
    assert_eq!(
        values,
        [
            ("HTTP_URL", "https://billing.example.com/api", false),
            ("HTTP_USER", "etl", false),
            ("HTTP_PASSWORD", "s3cret", true)
        ]
    );
    // It declared the realm's passwords only: the worker's wider grant does not widen it.
    let other = json!({"conn_id": "billing-api", "type": "http-basic", "enabled": true,
        "url": "https://billing.example.com/api", "user": "etl", "password": "/lava/dev/billing/password"});
    let error = host.resolve_spec(other, &job()).await.unwrap_err().to_string();
    assert!(error.contains("/lava/dev/billing/password"), "{error}");
    assert_eq!(backend.calls(), ["ssm:/lava/prod/billing/password"]);
}

#[test]
fn the_docs_show_the_http_basic_example_as_it_is_built_and_tested() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let source = std::fs::read_to_string(root.join("examples/http-basic/src/lib.rs")).unwrap();
    let code = source.split("\n#[cfg(test)]").next().unwrap();
    let docs = std::fs::read_to_string(root.join("docs/connectors-in-rust.md")).unwrap();
    assert!(
        docs.contains(&format!("```rust\n{code}```")),
        "docs/connectors-in-rust.md must show examples/http-basic/src/lib.rs up to its tests, as it is"
    );
}
