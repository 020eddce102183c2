//! The plugin registry: built-in aws, a plugin folder, conflicts, broken files.

use std::sync::Arc;

use lava_conn::{ConnectorHost, HostError, LoadError, PluginSource, WorkerConfig};
use lava_conn_tests::{
    AWS_COMPONENT, EMPTY_COMPONENT, HOSTILE_COMPONENT, RecordingBackend, plugin_dir, test_config, write_file,
};

/// The digest `lava-conn plugins` must show, computed independently with `sha256sum`.
fn sha256_hex(path: &str) -> String {
    let out = std::process::Command::new("sha256sum").arg(path).output().expect("sha256sum runs");
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

fn build(config: WorkerConfig, dir: &std::path::Path) -> Result<ConnectorHost, HostError> {
    ConnectorHost::builder().config(config).plugin_dir(dir).backend(Arc::new(RecordingBackend::default())).build()
}

#[test]
fn the_builtin_aws_needs_no_folder() {
    let host = ConnectorHost::builder().config(test_config()).build().unwrap();
    let plugins = host.plugins();
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0].types, vec!["aws".to_string()]);
    assert_eq!(plugins[0].source, PluginSource::BuiltIn("aws"));
    assert_eq!(plugins[0].sha256, sha256_hex(AWS_COMPONENT), "the built-in is the same build as the file");
    assert!(plugins[0].fields.iter().any(|(name, _, required, _)| name == "conn_id" && *required));
}

#[test]
fn folder_plugins_are_listed_with_their_digest() {
    let dir = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    let host = build(test_config(), dir.path()).unwrap();
    let hostile = host.plugins().into_iter().find(|p| p.types == ["hostile"]).expect("listed");
    assert_eq!(hostile.source, PluginSource::File(dir.path().join("hostile.wasm")));
    assert_eq!(hostile.sha256, sha256_hex(HOSTILE_COMPONENT));
    assert_eq!(hostile.version, "0.0.1");
}

#[test]
fn the_empty_plugin_does_nothing_and_says_so() {
    let dir = plugin_dir(&[("empty.wasm", EMPTY_COMPONENT)]);
    let host = build(test_config(), dir.path()).unwrap();
    let spec = serde_json::json!({"type": "empty", "conn_id": "floor"});
    assert!(host.validate(&spec, None).unwrap().is_empty());
    let job = lava_conn::Job { realm: "prod".into(), job_id: "j".into() };
    let error = host.resolve_uncached(&spec, &job).unwrap_err().to_string();
    assert!(error.contains("the empty plugin resolves nothing"), "{error}");
}

#[test]
fn without_the_file_the_type_is_unknown() {
    let host = ConnectorHost::builder().config(test_config()).build().unwrap();
    let problems = host.validate(&serde_json::json!({"conn_id": "h", "type": "hostile"}), None).unwrap();
    assert_eq!(problems[0].field, "type");
    assert!(problems[0].message.contains("`hostile` is not handled"), "{problems:?}");
    assert!(problems[0].message.contains("known: aws"), "{problems:?}");
}

#[test]
fn broken_files_are_reported_and_skipped() {
    let dir = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    write_file(dir.path(), "garbage.wasm", b"\0asm this is not a component");
    write_file(dir.path(), "empty.wasm", b"");
    write_file(dir.path(), "notes.txt", b"ignored: not a .wasm file");
    let host = build(test_config(), dir.path()).unwrap();
    let skipped: Vec<_> = host.skipped_plugins().iter().map(|s| s.path.file_name().unwrap().to_owned()).collect();
    assert_eq!(skipped, vec!["empty.wasm", "garbage.wasm"]);
    assert!(host.skipped_plugins().iter().all(|s| s.reason.contains("not a WebAssembly component")));
    assert_eq!(host.plugins().len(), 2, "the good plugins still load");
}

#[test]
fn two_files_claiming_one_type_name_both() {
    let dir = plugin_dir(&[("a.wasm", HOSTILE_COMPONENT), ("b.wasm", HOSTILE_COMPONENT)]);
    let error = build(test_config(), dir.path()).err().expect("a conflict");
    let message = error.to_string();
    assert!(matches!(error, HostError::Load(LoadError::Conflict { .. })), "{message}");
    assert!(message.contains("a.wasm") && message.contains("b.wasm"), "{message}");
    assert!(message.contains("`hostile`"), "{message}");
}

#[test]
fn a_file_may_replace_the_builtin_only_when_configured() {
    let dir = plugin_dir(&[("my-aws.wasm", AWS_COMPONENT)]);
    let error = build(test_config(), dir.path()).err().expect("a conflict");
    let message = error.to_string();
    assert!(message.contains("built-in `aws`") && message.contains("my-aws.wasm"), "{message}");
    assert!(message.contains("replace_builtin"), "the message says how to allow it: {message}");

    let config = WorkerConfig { replace_builtin: vec!["aws".into()], ..test_config() };
    let host = build(config, dir.path()).unwrap();
    let plugins = host.plugins();
    assert_eq!(plugins.len(), 1, "{plugins:?}");
    assert_eq!(plugins[0].source, PluginSource::File(dir.path().join("my-aws.wasm")));
}

#[test]
fn a_missing_folder_is_an_error_naming_it() {
    let error = build(test_config(), std::path::Path::new("/nonexistent/plugins")).err().expect("an error");
    assert!(error.to_string().contains("/nonexistent/plugins"), "{error}");
}

#[test]
fn an_unknown_import_is_refused_at_load_naming_it() {
    let dir = plugin_dir(&[("backdoor.wasm", lava_conn_tests::BACKDOOR_COMPONENT)]);
    let host = build(test_config(), dir.path()).unwrap();
    let skipped = host.skipped_plugins();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].reason.contains("evil:plugin/backdoor"), "{}", skipped[0].reason);
    assert_eq!(host.plugins().len(), 1, "only the built-in");
}
