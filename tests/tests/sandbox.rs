//! The bounds hold: a hostile plugin is stopped, refused, or reported, and the
//! host serves a good call right after each.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use lava_conn::{ConnectorHost, HostError, Job, PluginFailure, WorkerConfig};
use lava_conn_tests::{HOSTILE_COMPONENT, RecordingBackend, host_with, plugin_dir, test_config};
use serde_json::{Value, json};

struct Fixture {
    host: ConnectorHost,
    backend: Arc<RecordingBackend>,
    _plugins: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
        let backend = Arc::new(RecordingBackend {
            parameters: vec![("/lava/prod/granted".into(), "granted-value".into())],
            ..RecordingBackend::default()
        });
        let config = WorkerConfig { call_deadline_ms: 300, memory_limit_mib: 32, ..test_config() };
        let host = host_with(config, Some(plugins.path()), backend.clone());
        Fixture { host, backend, _plugins: plugins }
    })
}

fn hostile(mode: &str) -> Value {
    json!({"conn_id": mode, "type": "hostile", "enabled": true})
}

fn job() -> Job {
    Job { realm: "prod".into(), job_id: "j1".into() }
}

/// The host still serves: the aws built-in and the hostile plugin both answer.
fn assert_host_serves() {
    let host = &fixture().host;
    let aws = json!({"conn_id": "ok", "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::123456789012:role/r"});
    assert_eq!(host.validate(&aws, Some("prod")).unwrap(), vec![]);
    assert_eq!(host.validate(&hostile("fine"), None).unwrap(), vec![]);
}

fn plugin_failure(error: HostError) -> (String, PluginFailure) {
    match error {
        HostError::Plugin(e) => (e.plugin, e.failure),
        other => panic!("expected a plugin failure, got {other}"),
    }
}

#[test]
fn an_endless_loop_is_stopped_by_the_deadline() {
    let started = Instant::now();
    let error = fixture().host.validate(&hostile("loop"), None).unwrap_err();
    let elapsed = started.elapsed();
    let message = error.to_string();
    let (plugin, failure) = plugin_failure(error);
    assert!(matches!(failure, PluginFailure::Deadline(d) if d == Duration::from_millis(300)), "{failure:?}");
    assert!(plugin.contains("hostile.wasm"), "{plugin}");
    assert!(message.contains("deadline"), "{message}");
    assert!(elapsed >= Duration::from_millis(300), "stopped too early: {elapsed:?}");
    assert_host_serves();
}

#[test]
fn endless_allocation_hits_the_memory_cap() {
    let error = fixture().host.validate(&hostile("oom"), None).unwrap_err();
    let message = error.to_string();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(failure, PluginFailure::MemoryLimit(32)), "{failure:?}");
    assert!(message.contains("32 MiB"), "{message}");
    assert_host_serves();
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let error = fixture().host.validate(&hostile("panic"), None).unwrap_err();
    let (plugin, failure) = plugin_failure(error);
    assert!(plugin.contains("hostile.wasm"));
    match failure {
        PluginFailure::Trap(message) => assert!(message.contains("panics on purpose"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_host_serves();
}

#[test]
fn ssm_outside_the_grant_is_refused_before_any_request() {
    let calls_before = fixture().backend.calls();
    let error = fixture().host.resolve_uncached(&hostile("ssm:/lava/other/secret"), &job()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("NotGranted"), "{message}");
    assert!(message.contains("/lava/prod/"), "the refusal names the granted prefix: {message}");
    assert_eq!(fixture().backend.calls(), calls_before, "a refused call must not reach the backend");
    assert_host_serves();
}

#[test]
fn ssm_inside_the_grant_reaches_the_backend() {
    let resolved = fixture().host.resolve_uncached(&hostile("ssm:/lava/prod/granted"), &job()).unwrap();
    assert_eq!(resolved.values.len(), 1);
    assert!(fixture().backend.calls().contains(&"ssm:/lava/prod/granted".to_string()));
}

#[test]
fn validation_gets_no_aws_at_all() {
    let calls_before = fixture().backend.calls();
    let problems = fixture().host.validate(&hostile("ssm:/lava/prod/granted"), Some("prod")).unwrap();
    assert!(problems[0].message.contains("NotGranted"), "{problems:?}");
    let problems = fixture().host.validate(&hostile("sts"), Some("prod")).unwrap();
    assert!(problems[0].message.contains("NotGranted"), "{problems:?}");
    assert_eq!(fixture().backend.calls(), calls_before);
}

#[test]
fn nonsense_results_are_rejected() {
    let error = fixture().host.session_name(&hostile("bad-session-name"), &job()).unwrap_err();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(failure, PluginFailure::InvalidResult(_)), "{failure:?}");

    let error = fixture().host.resolve_uncached(&hostile("bad-launcher"), &job()).unwrap_err();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(&failure, PluginFailure::InvalidResult(m) if m.contains("plain file name")), "{failure:?}");
    assert_host_serves();
}

#[test]
fn a_flood_of_output_is_bounded() {
    let error = fixture().host.resolve_uncached(&hostile("flood"), &job()).unwrap_err();
    let (_, failure) = plugin_failure(error);
    // wasmtime's hostcall fuel (set to max_plugin_output_bytes) stops the copy.
    assert!(matches!(&failure, PluginFailure::Trap(m) if m.contains("too much data")), "{failure:?}");
    assert_host_serves();
}

#[test]
fn a_log_flood_is_cut_off() {
    let resolved = fixture().host.resolve_uncached(&hostile("log"), &job()).unwrap();
    assert_eq!(resolved.values.len(), 1);
}

#[test]
fn wasi_grants_nothing() {
    let value = |mode: &str| {
        let resolved = fixture().host.resolve_uncached(&hostile(mode), &job());
        match resolved {
            Ok(r) => {
                use secrecy::ExposeSecret;
                r.values[0].value.expose_secret().to_string()
            }
            Err(e) => e.to_string(),
        }
    };
    assert_eq!(value("env"), "env=[] args=[]");
    let file = value("file");
    assert!(file.starts_with("connection `file` cannot be resolved: file:"), "{file}");
    assert!(!file.contains("root:"), "{file}");
    assert_eq!(value("stdout"), "printed");
}

#[test]
fn deep_recursion_exhausts_the_stack_not_the_host() {
    let error = fixture().host.validate(&hostile("recurse"), None).unwrap_err();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(&failure, PluginFailure::Trap(m) if m.contains("call stack exhausted")), "{failure:?}");
    assert_host_serves();
    // Big frames live on Rust's shadow stack in linear memory, placed first:
    // it runs off address 0 and traps, touching nothing of the host's.
    let error = fixture().host.validate(&hostile("recurse-big"), None).unwrap_err();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(&failure, PluginFailure::Trap(m) if m.contains("out of bounds memory access")), "{failure:?}");
    assert_host_serves();
}

#[test]
fn a_huge_return_value_cannot_be_built() {
    let error = fixture().host.resolve_uncached(&hostile("huge"), &job()).unwrap_err();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(failure, PluginFailure::MemoryLimit(32)), "{failure:?}");
    assert_host_serves();
}

#[test]
fn clocks_and_randomness_work_sockets_do_not() {
    let value = |mode: &str| match fixture().host.resolve_uncached(&hostile(mode), &job()) {
        Ok(r) => {
            use secrecy::ExposeSecret;
            r.values[0].value.expose_secret().to_string()
        }
        Err(e) => e.to_string(),
    };
    assert_eq!(value("clock"), "clock=true random=ok");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let net = value(&format!("net:{addr}"));
    assert!(net.contains("net:"), "{net}");
    assert!(listener.accept().is_err(), "the plugin reached a socket");
    let dns = value("dns");
    assert!(dns.contains("dns:"), "{dns}");
}

#[test]
fn a_stuck_plugin_does_not_stall_other_calls() {
    let stuck = std::thread::spawn(|| fixture().host.validate(&hostile("loop"), None));
    std::thread::sleep(Duration::from_millis(50));
    let aws = json!({"conn_id": "ok", "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::123456789012:role/r"});
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(fixture().host.validate(&aws, Some("prod")).unwrap(), vec![]);
    }
    let side_by_side = started.elapsed();
    assert!(!stuck.is_finished(), "20 good calls finished while the stuck one still ran ({side_by_side:?})");
    let error = stuck.join().unwrap().unwrap_err();
    assert!(matches!(plugin_failure(error).1, PluginFailure::Deadline(_)));
}
