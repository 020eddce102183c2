//! Connectors written in Python with the SDK (`sdk/python`), built by
//! componentize-py and loaded into the real host: the `db-login` example
//! against moto, its session names against the Rust SDK's, and a hostile
//! Python plugin contained while the host serves the next call.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lava_conn::{ConnectorHost, FolderStore, Job, Severity, WorkerConfig};
use lava_conn::{SdkBackend, configure_sdk};
use lava_conn_tests::{TEMPLATE_COMPONENT, python_component, test_config};
use lava_test_moto::Moto;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

const PASSWORD: &str = "hunter2-not-in-any-log";

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        Moto::start(&json!({"parameters": [
            {"name": "/lava/prod/warehouse/password", "value": PASSWORD},
            {"name": "/other/warehouse/password", "value": "elsewhere"},
        ]}))
    })
}

/// A plugin folder with the db-login example, the hostile Python plugin and
/// the Rust template (whose session names are the Rust SDK's default).
fn plugins() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = lava_test_moto::tempdir();
        let db_login = python_component("examples/python-connector", "db_login");
        std::fs::copy(db_login, dir.path().join("db-login.wasm")).unwrap();
        let hostile = python_component("tests/python-hostile", "py_hostile");
        std::fs::copy(hostile, dir.path().join("py-hostile.wasm")).unwrap();
        std::fs::copy(TEMPLATE_COMPONENT, dir.path().join("ssm-secret.wasm")).unwrap();
        dir
    })
}

/// A host that has taken stock of every plugin file (as `lava-conn plugins` does).
fn host(config: WorkerConfig) -> ConnectorHost {
    let host = ConnectorHost::builder().config(config).plugin_dir(plugins().path()).build().expect("the host loads");
    host.plugins();
    host
}

fn db_login(conn_id: &str, parameter: &str) -> Value {
    json!({"conn_id": conn_id, "type": "db-login", "enabled": true, "host": "warehouse.internal",
           "port": 6432, "database": "sales", "user": "etl", "password_parameter": parameter})
}

fn job(job_id: &str) -> Job {
    Job { realm: "prod".into(), job_id: job_id.into() }
}

#[test]
fn the_python_connector_describes_itself_and_names_the_field_of_every_problem() {
    let host = host(test_config());
    let info = host.plugins().into_iter().find(|p| p.types == ["db-login"]).expect("db-login is loaded");
    let fields: Vec<(&str, bool)> =
        info.fields.iter().map(|(name, _, required, _)| (name.as_str(), *required)).collect();
    assert!(fields.contains(&("password_parameter", true)) && fields.contains(&("port", false)), "{fields:?}");
    assert_eq!(info.core_instances, 14, "CPython's component instantiates 14 core modules");
    assert_eq!(info.slots_per_call, 1, "and fits one slot of the pool");
    assert!(info.initial_memory_bytes > 8 << 20, "{}", info.initial_memory_bytes);

    let good = db_login("warehouse", "/lava/prod/warehouse/password");
    assert_eq!(host.validate(&good, Some("prod")).unwrap(), []);
    // What the SDK reads for every connector, and each field by its type:
    // found all at once, in the Rust SDK's words.
    let bad = json!({"conn_id": "w2", "type": "db-login", "host": "h", "user": 3, "password_parameter": "/x",
                     "colour": "blue"});
    let problems: Vec<(String, Severity, String)> =
        host.validate(&bad, Some("prod")).unwrap().into_iter().map(|p| (p.field, p.severity, p.message)).collect();
    let fields: Vec<&str> = problems.iter().map(|(f, _, _)| f.as_str()).collect();
    assert_eq!(fields, ["colour", "enabled", "database", "user"], "{problems:?}");
    assert!(problems.iter().all(|(_, s, _)| *s == Severity::Error), "{problems:?}");
    assert_eq!(problems[3].2, "must be a string, not a number");
    // The connector's own checks, on a spec of the right types.
    let odd = json!({"conn_id": "w2", "type": "db-login", "enabled": true, "host": "", "port": 70000,
                     "database": "d", "user": "u", "password_parameter": "/other/x"});
    let problems: Vec<(String, Severity)> =
        host.validate(&odd, Some("prod")).unwrap().into_iter().map(|p| (p.field, p.severity)).collect();
    assert_eq!(
        problems,
        [
            ("host".to_string(), Severity::Error),
            ("port".to_string(), Severity::Error),
            ("password_parameter".to_string(), Severity::Warning)
        ]
    );
    let not_json = host.validate(&json!("not an object"), None);
    assert!(not_json.is_err() || !not_json.unwrap().is_empty());
}

#[test]
fn its_session_names_are_the_rust_sdks_for_the_same_jobs_and_templates() {
    // The same default rule on both sides: the Rust SDK (the template, type
    // ssm-secret) and the Python SDK (db-login), for awkward job ids.
    let rust_spec = json!({"conn_id": "warehouse", "type": "ssm-secret", "enabled": true, "parameter": "/lava/prod/x"});
    let python_spec = db_login("warehouse", "/lava/prod/warehouse/password");
    for template in ["lv-{{ realm }}-{{ job_id }}", "{{conn_id}}@{{ realm }}/{{job_id}}\n", "x{y}z-{{ job_id }}"] {
        let host = host(WorkerConfig { conn_app_name: template.into(), ..test_config() });
        for job_id in ["nightly/ÉTL load", "'quoted' \"job\"", "ﬁle—ünïcode ⅷ", "--", "a".repeat(80).as_str()]
        {
            let rust = host.session_name(&rust_spec, &job(job_id)).unwrap().unwrap();
            let python = host.session_name(&python_spec, &job(job_id)).unwrap().unwrap();
            assert_eq!(python, rust, "template {template:?}, job {job_id:?}");
        }
    }
    // A template past the three variables: the host renders it, so a
    // plugin needs no Jinja of its own, and both agree.
    let host = host(WorkerConfig { conn_app_name: "{{ job_id | upper }}".into(), ..test_config() });
    let python = host.session_name(&python_spec, &job("j1")).unwrap().unwrap();
    assert_eq!((python.as_str(), host.session_name(&rust_spec, &job("j1")).unwrap()), ("J1", Ok("J1".into())));
    // And a spec with errors has no session name: its errors instead.
    let problems = host
        .session_name(&json!({"conn_id": "x", "type": "db-login", "enabled": true}), &job("j"))
        .unwrap()
        .unwrap_err();
    assert!(problems.iter().any(|p| p.field == "host"), "{problems:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_resolves_the_password_from_ssm_under_the_realms_grant_and_nothing_else() {
    let connections = lava_test_moto::tempdir();
    let specs = json!([
        db_login("warehouse", "/lava/prod/warehouse/password"),
        db_login("elsewhere", "/other/warehouse/password")
    ]);
    std::fs::write(connections.path().join("db.json"), specs.to_string()).unwrap();
    let sdk = configure_sdk(moto().sdk_loader()).load().await;
    let host = ConnectorHost::builder()
        .config(test_config())
        .plugin_dir(plugins().path())
        .backend(SdkBackend::new(sdk))
        .store(Arc::new(FolderStore::open(connections.path()).unwrap()))
        .build()
        .unwrap();

    let resolved = host.resolve("warehouse", &job("load")).await.unwrap();
    let values: Vec<(&str, &str, bool)> =
        resolved.values.iter().map(|v| (v.name.as_str(), v.value.expose_secret(), v.secret)).collect();
    assert_eq!(
        values,
        [
            ("HOST", "warehouse.internal", false),
            ("PORT", "6432", false),
            ("DATABASE", "sales", false),
            ("USER", "etl", false),
            ("PASSWORD", PASSWORD, true),
        ]
    );
    assert_eq!(moto().get_parameter_requests("/lava/prod/warehouse/password").len(), 1, "one read, through the SDK");
    assert!(!format!("{resolved:?}").contains(PASSWORD), "the password is redacted in Debug");

    let error = host.resolve("elsewhere", &job("load")).await.unwrap_err().to_string();
    assert!(error.contains("password_parameter") && error.contains("/lava/prod/"), "{error}");
    assert_eq!(moto().get_parameter_requests("/other/warehouse/password").len(), 0, "refused before anything was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdks_capability_wrappers_reach_the_host_and_its_refusals_come_back_as_exceptions() {
    let role = "arn:aws:iam::123456789012:role/py-probe";
    let sdk = configure_sdk(moto().sdk_loader()).load().await;
    let host = ConnectorHost::builder()
        .config(WorkerConfig { aws_conn_duration: "2h".into(), ..test_config() })
        .plugin_dir(plugins().path())
        .backend(SdkBackend::new(sdk))
        .build()
        .unwrap();
    let spec = json!({"conn_id": "probe", "type": "py-hostile", "role_arn": role});
    let resolved = host.resolve_uncached_async(&spec, &job("probe-job")).await.unwrap();
    let values: Vec<(&str, &str)> =
        resolved.values.iter().map(|v| (v.name.as_str(), v.value.expose_secret())).collect();
    assert_eq!(
        values,
        [
            ("DURATION", "2h"),
            ("OTHER_REALM", "NotGranted"),
            ("PROD", "NotFound"),
            ("WORKER", "NotGranted"),
            ("RDS", "db.example.com:5432/?Action=connect"),
            ("SECRET", "NotGranted"),
            ("REDSHIFT", "NotGranted"),
            ("SERVERLESS", "NotGranted"),
        ],
        "config.get, ssm's refusal and miss, the worker's credentials (not declared), an RDS token (declared and granted), \
         Secrets Manager (granted, not declared), Redshift (declared, not granted) and Serverless (neither) as \
         exceptions"
    );
    assert!(resolved.aws.as_ref().unwrap().session_token.is_some());
    let call = &moto().assume_role_requests(role)[0];
    assert_eq!(call.param("RoleSessionName"), Some("lv-prod-probe-job"), "the SDK's default session name");
    assert_eq!(call.param("DurationSeconds"), Some("900"));
    assert_eq!((call.param("Tags.member.1.Key"), call.param("Tags.member.1.Value")), (Some("team"), Some("data")));
    assert_eq!(call.param("ExternalId"), Some("py-ext"));
    assert_eq!(moto().get_parameter_requests("/lava/other-realm/x").len(), 0, "the refused read was never sent");
}

#[test]
fn a_hostile_python_plugin_is_contained_and_the_host_serves_the_next_call() {
    let host = host(WorkerConfig { call_deadline_ms: 500, memory_limit_mib: 64, ..test_config() });
    let hostile = |attack: &str| json!({"conn_id": "h", "type": "py-hostile", "attack": attack});
    let good = db_login("warehouse", "/lava/prod/warehouse/password");
    for (attack, expected) in
        [("raise", "the plugin gave up on purpose"), ("loop", "deadline"), ("memory", "memory limit of 64 MiB")]
    {
        let error = host.validate(&hostile(attack), None).unwrap_err().to_string();
        assert!(error.contains("py-hostile.wasm"), "{attack}: the error names the plugin: {error}");
        assert!(error.contains(expected), "{attack}: {error}");
        assert_eq!(host.validate(&hostile("none"), None).unwrap(), [], "{attack}: the plugin serves the next call");
        assert_eq!(host.validate(&good, Some("prod")).unwrap(), [], "{attack}: and so does every other");
    }
    // A type's own limit is the one its calls run under.
    let mut config = WorkerConfig { call_deadline_ms: 500, ..test_config() };
    config.plugin_memory_mib.insert("py-hostile".into(), 24);
    let error = self::host(config).validate(&hostile("memory"), None).unwrap_err().to_string();
    assert!(error.contains("memory limit of 24 MiB"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_python_calls_fill_every_slot_of_the_pool_without_failing() {
    // Four slots, four Python calls held at once (each sleeps in the plugin).
    // Sized for Rust components (8 core instances a slot), the pool had room
    // for two of these 14-instance components, and the third failed.
    let config = WorkerConfig { max_concurrent_instances: 4, instance_wait_ms: 0, ..test_config() };
    let host = Arc::new(host(config));
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(async move {
                host.validate_async(json!({"conn_id": "h", "type": "py-hostile", "attack": "sleep"}), None).await
            })
        })
        .collect();
    let started = std::time::Instant::now();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), []);
    }
    assert!(started.elapsed() < Duration::from_millis(1200), "the four ran at once: {:?}", started.elapsed());
}

#[test]
fn a_python_plugin_over_its_memory_limit_is_refused_with_its_need_before_compiling() {
    let cache = lava_test_moto::tempdir();
    let small = WorkerConfig { memory_limit_mib: 8, compile_cache: Some(cache.path().into()), ..test_config() };
    let host = host(small.clone());
    let skipped = host.skipped_plugins();
    let refusal = skipped.iter().find(|s| s.path.ends_with("db-login.wasm")).expect("db-login is refused");
    assert!(refusal.reason.contains("needs 12.") && refusal.reason.contains("limit of 8 MiB"), "{}", refusal.reason);
    assert!(refusal.reason.contains("plugin_memory_mib") && refusal.reason.contains("memory_limit_mib"));
    let compiled_size = |dir: &std::path::Path| -> u64 {
        walk(dir)
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .map(|p| p.metadata().unwrap().len())
            .sum()
    };
    assert!(compiled_size(cache.path()) < 20 << 20, "the Python components (35 MB compiled) were not compiled");

    // Its own limit lets it in, and only it.
    let mut roomy = small;
    roomy.plugin_memory_mib.insert("db-login".into(), 32);
    let host = self::host(roomy);
    let info = host.plugins().into_iter().find(|p| p.types == ["db-login"]).expect("db-login loads");
    assert_eq!(info.memory_limit_mib, 32);
    assert!(host.skipped_plugins().iter().any(|s| s.path.ends_with("py-hostile.wasm")), "py-hostile is still 8 MiB");
}

#[test]
fn an_indexed_python_plugin_over_the_file_size_cap_is_refused_though_it_is_not_read() {
    // Indexed (and compiled) by a first host; the next one does not read
    // the unchanged file to use it, and still holds it to the size cap. A
    // cache of its own: the index is per cache, and other tests change settings.
    let cache = lava_test_moto::tempdir();
    let config = WorkerConfig { compile_cache: Some(cache.path().into()), ..test_config() };
    host(config.clone()).validate(&db_login("w", "/lava/prod/w"), None).unwrap();
    let capped = host(WorkerConfig { max_plugin_file_mib: 8, ..config });
    let problems = capped.validate(&db_login("w", "/lava/prod/w"), None).unwrap();
    assert!(problems[0].message.contains("MiB allowed (setting max_plugin_file_mib)"), "{problems:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}
