//! The plugin registry: built-in aws, a plugin folder, conflicts, broken files.

use std::sync::Arc;

use lava_conn::{ConnectorHost, ContractVersion, HostError, PluginSource, WorkerConfig};
use lava_conn_tests::{
    AWS_COMPONENT, EMPTY_COMPONENT, FakeAws, HOSTILE_COMPONENT, plugin_dir, test_config, write_file,
};

/// The digest `lava-conn plugins` must show, computed independently with `sha256sum`.
fn sha256_hex(path: &str) -> String {
    let out = std::process::Command::new("sha256sum").arg(path).output().expect("sha256sum runs");
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

/// A host that has taken stock of every plugin file, as `lava-conn plugins`
/// does (a host loads a file the index does not know when a call first
/// needs a type no built-in serves).
fn build(config: WorkerConfig, dir: &std::path::Path) -> Result<ConnectorHost, HostError> {
    let host = build_lazy(config, dir)?;
    host.plugins();
    Ok(host)
}

/// A host as built: no file loaded that no call has needed.
fn build_lazy(config: WorkerConfig, dir: &std::path::Path) -> Result<ConnectorHost, HostError> {
    ConnectorHost::builder().config(config).plugin_dir(dir).backend(Arc::new(FakeAws::default())).build()
}

/// The built-ins: `aws`, and lava's postgres, mysql, oracle, ssh, sqlite3
/// and generic connectors.
const BUILT_INS: usize = 7;

#[test]
fn the_builtin_aws_needs_no_folder() {
    let host = ConnectorHost::builder().config(test_config()).build().unwrap();
    let plugins = host.plugins();
    assert_eq!(plugins.len(), BUILT_INS);
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
    // Built against the frozen 0.2.0: a plugin of an older contract still loads.
    assert_eq!(hostile.contract, ContractVersion::V0_2);
}

#[test]
fn a_plugin_built_against_contract_0_1_0_still_loads_and_says_so() {
    let dir = plugin_dir(&[("legacy.wasm", lava_conn_tests::LEGACY_V0_1_COMPONENT)]);
    let host = build(test_config(), dir.path()).unwrap();
    assert!(host.skipped_plugins().is_empty(), "{:?}", host.skipped_plugins());
    let legacy = host.plugins().into_iter().find(|p| p.types == ["legacy"]).expect("listed");
    assert_eq!(legacy.contract, ContractVersion::V0_1);
    assert_eq!(legacy.version, "0.1.0-test");
    let problems = host.validate(&serde_json::json!({"conn_id": "x", "type": "legacy"}), None).unwrap();
    assert_eq!((problems[0].field.as_str(), problems[0].message.as_str()), ("marker", "is required"));
    let job = lava_conn::Job { realm: "prod".into(), job_id: "j".into() };
    let spec = serde_json::json!({"conn_id": "x", "type": "legacy", "marker": "/m"});
    assert_eq!(host.session_name(&spec, &job).unwrap().unwrap(), "legacy-session");
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
    let reasons: Vec<String> = host.skipped_plugins().into_iter().map(|s| s.reason).collect();
    assert!(reasons[0].starts_with("not a WebAssembly file"), "{reasons:?}");
    assert!(
        reasons[1].starts_with("a WebAssembly binary of a version or layer this host does not read"),
        "{reasons:?}"
    );
    assert_eq!(host.plugins().len(), BUILT_INS + 1, "the good plugin still loads");
}

#[test]
fn two_files_claiming_one_type_are_skipped_and_a_spec_of_it_names_both() {
    let dir = plugin_dir(&[("a.wasm", HOSTILE_COMPONENT), ("b.wasm", HOSTILE_COMPONENT), ("e.wasm", EMPTY_COMPONENT)]);
    let host = build(test_config(), dir.path()).unwrap();
    let skipped = host.skipped_plugins();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].path.ends_with("b.wasm"), "{skipped:?}");
    assert!(skipped[0].reason.contains("a.wasm") && skipped[0].reason.contains("`hostile`"), "{skipped:?}");
    let problems = host.validate(&serde_json::json!({"conn_id": "h", "type": "HOSTILE"}), None).unwrap();
    assert_eq!(problems[0].field, "type");
    assert!(problems[0].message.contains("a.wasm") && problems[0].message.contains("b.wasm"), "{problems:?}");
    // Every other plugin keeps serving.
    assert!(host.validate(&serde_json::json!({"conn_id": "e", "type": "empty"}), None).unwrap().is_empty());
    let aws = serde_json::json!({"conn_id": "a", "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::123456789012:role/r"});
    assert!(host.validate(&aws, None).unwrap().is_empty());
}

#[test]
fn a_plugin_listing_a_type_twice_is_skipped_and_the_rest_load() {
    let dir = plugin_dir(&[("dup.wasm", HOSTILE_COMPONENT), ("e.wasm", EMPTY_COMPONENT)]);
    let config = WorkerConfig { conn_app_name: "hostile-describe:duplicate-types".into(), ..test_config() };
    let host = build(config, dir.path()).unwrap();
    let skipped = host.skipped_plugins();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].reason.contains("lists connector type `hostile` more than once"), "{}", skipped[0].reason);
    assert!(!skipped[0].reason.contains("claimed by both"), "{}", skipped[0].reason);
    assert_eq!(host.plugins().len(), BUILT_INS + 1, "the built-ins and empty.wasm");
}

#[test]
fn entries_that_are_not_regular_files_are_reported_and_skipped() {
    let dir = plugin_dir(&[("good.wasm", HOSTILE_COMPONENT)]);
    let fifo = dir.path().join("fifo.wasm");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) reads a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("device.wasm")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("missing"), dir.path().join("dangling.wasm")).unwrap();
    std::fs::create_dir(dir.path().join("folder.wasm")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("good.wasm"), dir.path().join("link.wasm")).unwrap();
    let config = WorkerConfig { replace_builtin: vec![], ..test_config() };
    let host = build(config, dir.path()).unwrap();
    let mut skipped: Vec<(String, String)> = host
        .skipped_plugins()
        .iter()
        .map(|s| (s.path.file_name().unwrap().to_string_lossy().into_owned(), s.reason.clone()))
        .collect();
    skipped.sort();
    let names: Vec<&str> = skipped.iter().map(|(n, _)| n.as_str()).collect();
    // link.wasm is a symlink to a regular file: it loads, then clashes with good.wasm.
    assert_eq!(names, ["dangling.wasm", "device.wasm", "fifo.wasm", "folder.wasm", "link.wasm"], "{skipped:?}");
    assert!(skipped[0].1.contains("cannot be opened"), "{skipped:?}");
    assert!(skipped[1].1.contains("not a regular file"), "{skipped:?}");
    assert!(skipped[2].1.contains("not a regular file"), "{skipped:?}");
    assert!(skipped[3].1.contains("a folder"), "{skipped:?}");
    assert!(skipped[4].1.contains("claims connector type `hostile`"), "{skipped:?}");
}

#[test]
fn a_file_over_the_size_cap_is_refused_without_reading_it() {
    let dir = plugin_dir(&[]);
    // A sparse 64 GiB file: reading it whole would take minutes and memory.
    let big = std::fs::File::create(dir.path().join("big.wasm")).unwrap();
    big.set_len(64 << 30).unwrap();
    let started = std::time::Instant::now();
    let host = build(WorkerConfig { max_plugin_file_mib: 1, ..test_config() }, dir.path()).unwrap();
    let skipped = host.skipped_plugins();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].reason.contains("more than the 1 MiB allowed (setting max_plugin_file_mib)"), "{skipped:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn a_file_may_replace_the_builtin_only_when_configured() {
    let dir = plugin_dir(&[("my-aws.wasm", AWS_COMPONENT)]);
    let host = build(test_config(), dir.path()).unwrap();
    let skipped = host.skipped_plugins();
    assert_eq!(skipped.len(), 1);
    let message = &skipped[0].reason;
    assert!(message.contains("built-in `aws`"), "{message}");
    assert!(message.contains("replace_builtin"), "the message says how to allow it: {message}");
    assert_eq!(host.plugins()[0].source, PluginSource::BuiltIn("aws"), "the built-in keeps serving aws");

    let config = WorkerConfig { replace_builtin: vec!["aws".into()], ..test_config() };
    let host = build(config, dir.path()).unwrap();
    let plugins = host.plugins();
    let aws = plugins.iter().find(|p| p.types == ["aws"]).expect("aws is served");
    assert_eq!(aws.source, PluginSource::File(dir.path().join("my-aws.wasm")));
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
    assert_eq!(host.plugins().len(), BUILT_INS, "only the built-ins");
}

#[test]
fn a_plugin_importing_a_newer_wasi_is_refused_at_load_naming_the_import() {
    let dir = plugin_dir(&[("newer.wasm", lava_conn_tests::NEWER_WASI_COMPONENT)]);
    let host = build(test_config(), dir.path()).unwrap();
    let skipped = host.skipped_plugins();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].reason.contains("wasi:clocks/monotonic-clock@0.3.0"), "{}", skipped[0].reason);
    assert_eq!(host.plugins().len(), BUILT_INS, "only the built-ins");
}

fn airflow_spec(connector_type: &str) -> serde_json::Value {
    serde_json::json!({"conn_id": "a", "type": connector_type, "login": "AKIDEXAMPLE", "password": "secret"})
}

#[test]
fn a_host_with_an_indexed_folder_loads_a_plugin_only_when_a_call_needs_it() {
    let cache = lava_test_moto::tempdir();
    let config = || WorkerConfig { compile_cache: Some(cache.path().to_path_buf()), ..test_config() };
    let dir = lava_conn_tests::renamed_airflow_plugins(3);
    // The first host loads and describes every file, and indexes them.
    let first = build(config(), dir.path()).unwrap();
    assert_eq!(first.plugins().len(), BUILT_INS + 3, "the built-ins and three files");
    // The next one takes stock from the index: the files are not loaded yet.
    let host = build_lazy(config(), dir.path()).unwrap();
    assert!(host.skipped_plugins().is_empty());
    std::fs::write(dir.path().join("airflow-001.wasm"), b"no longer a component").unwrap();
    assert!(host.validate(&airflow_spec("airflow-000"), None).unwrap().is_empty(), "000 loads when needed");
    assert!(host.skipped_plugins().is_empty(), "001 was not touched");
    // 001's file changed after this host took stock: it is refused, never trusted stale.
    let problems = host.validate(&airflow_spec("airflow-001"), None).unwrap();
    assert!(problems[0].message.contains("cannot be loaded: changed since this host started"), "{problems:?}");
    assert_eq!(host.skipped_plugins()[0].path, dir.path().join("airflow-001.wasm"));
    // A new host sees the changed file for what it is, at start.
    let after = build(config(), dir.path()).unwrap();
    let skipped = after.skipped_plugins();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].reason.starts_with("not a WebAssembly file"), "{skipped:?}");
    assert_eq!(after.plugins().len(), BUILT_INS + 2, "the built-ins and the two files left");
}

#[test]
fn an_index_entry_is_not_trusted_for_a_file_swapped_in_its_place() {
    let cache = lava_test_moto::tempdir();
    let config = || WorkerConfig { compile_cache: Some(cache.path().to_path_buf()), ..test_config() };
    let dir = lava_conn_tests::renamed_airflow_plugins(2);
    build(config(), dir.path()).unwrap();
    // airflow-001.wasm is replaced by another valid plugin (000's bytes) between runs.
    std::fs::copy(dir.path().join("airflow-000.wasm"), dir.path().join("airflow-001.wasm")).unwrap();
    let host = build(config(), dir.path()).unwrap();
    let skipped = host.skipped_plugins();
    assert!(skipped.iter().any(|s| s.reason.contains("which `") && s.reason.contains("claims too")), "{skipped:?}");
    let problems = host.validate(&airflow_spec("airflow-001"), None).unwrap();
    assert!(problems[0].message.contains("not handled by any loaded plugin"), "{problems:?}");
}

#[test]
fn an_indexed_plugin_whose_artefact_is_gone_is_read_checked_and_compiled_again() {
    let cache = lava_test_moto::tempdir();
    let config = || WorkerConfig { compile_cache: Some(cache.path().to_path_buf()), ..test_config() };
    let dir = lava_conn_tests::renamed_airflow_plugins(1);
    build(config(), dir.path()).unwrap();
    // The file is unchanged, so its next use maps the artefact without
    // reading the file. With the artefacts deleted, it is read, checked
    // against its indexed digest, compiled and stored again.
    for artefact in std::fs::read_dir(cache.path()).unwrap().flat_map(|engine| {
        let engine = engine.unwrap().path();
        std::fs::read_dir(engine).unwrap().map(|e| e.unwrap().path())
    }) {
        if artefact.extension().is_some_and(|e| e == "cwasm") {
            std::fs::remove_file(artefact).unwrap();
        }
    }
    let host = build(config(), dir.path()).unwrap();
    assert!(host.validate(&airflow_spec("airflow-000"), None).unwrap().is_empty());
    let info = host.plugins().into_iter().find(|p| p.types == ["airflow-000"]).unwrap();
    assert_eq!(info.compile_cache.as_str(), "compiled", "read and compiled again");
    assert_eq!(info.size_bytes, std::fs::metadata(dir.path().join("airflow-000.wasm")).unwrap().len());
}

#[test]
fn a_plugin_compiled_for_its_first_use_is_announced_once_and_a_cached_one_never() {
    let dir = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    let cache = lava_test_moto::tempdir();
    let config = WorkerConfig { compile_cache: Some(cache.path().to_path_buf()), ..test_config() };
    let announced = Arc::new(std::sync::Mutex::new(Vec::new()));
    let host = |config: WorkerConfig| {
        let announced = announced.clone();
        ConnectorHost::builder()
            .config(config)
            .plugin_dir(dir.path())
            .on_compile(move |source, bytes| announced.lock().unwrap().push((source.to_string(), bytes)))
            .build()
            .unwrap()
    };
    host(config.clone()).plugins();
    let size = std::fs::metadata(HOSTILE_COMPONENT).unwrap().len();
    let file = PluginSource::File(dir.path().join("hostile.wasm")).to_string();
    // The built-in comes precompiled: only the file is compiled, once.
    assert_eq!(*announced.lock().unwrap(), [(file, size)]);
    host(config).plugins();
    assert_eq!(announced.lock().unwrap().len(), 1, "mapped from the cache the second time: nothing to say");
}

#[test]
fn a_call_that_needs_no_plugin_file_never_waits_for_one_to_compile() {
    let dir = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    write_file(dir.path(), "broken.wasm", b"not a component");
    let cache = lava_test_moto::tempdir();
    let compiled = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorder = compiled.clone();
    let host = ConnectorHost::builder()
        .config(WorkerConfig { compile_cache: Some(cache.path().to_path_buf()), ..test_config() })
        .plugin_dir(dir.path())
        .on_compile(move |source, _| recorder.lock().unwrap().push(source.to_string()))
        .build()
        .unwrap();
    // A type a built-in serves (no file may take it over): no file is read.
    let aws = serde_json::json!({"conn_id": "a", "type": "aws", "enabled": true,
        "role_arn": "arn:aws:iam::123456789012:role/r"});
    assert!(host.validate(&aws, Some("prod")).unwrap().is_empty());
    assert!(compiled.lock().unwrap().is_empty(), "nothing compiled for an aws spec");
    assert!(host.skipped_plugins().is_empty(), "nor the broken file read");
    // Another type: every file is taken stock of then, once.
    let hostile = serde_json::json!({"conn_id": "h", "type": "hostile"});
    host.validate(&hostile, None).unwrap();
    assert_eq!(compiled.lock().unwrap().len(), 1, "the hostile plugin, compiled once");
    let skipped = host.skipped_plugins();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].path.ends_with("broken.wasm"));
    host.validate(&hostile, None).unwrap();
    assert_eq!(compiled.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_call_dropped_while_a_plugin_file_loads_leaves_it_for_the_next_call() {
    let dir = plugin_dir(&[("sleepy.wasm", HOSTILE_COMPONENT)]);
    // Its describe sleeps until the deadline: the load awaits there.
    let config =
        WorkerConfig { call_deadline_ms: 300, conn_app_name: "hostile-describe:sleep".into(), ..test_config() };
    let host = build_lazy(config, dir.path()).unwrap();
    let hostile = serde_json::json!({"conn_id": "h", "type": "hostile"});
    let dropped =
        tokio::time::timeout(std::time::Duration::from_millis(50), host.validate_async(hostile.clone(), None));
    assert!(dropped.await.is_err(), "the call was dropped while the file loaded");
    // The next call loads it again, to the end: here, to its refusal.
    host.validate_async(hostile, None).await.unwrap();
    let skipped = host.skipped_plugins();
    assert_eq!(skipped.len(), 1, "the file was not lost: {skipped:?}");
    assert!(skipped[0].reason.contains("describe failed"), "{skipped:?}");
}
