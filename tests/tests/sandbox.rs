//! The bounds hold: a hostile plugin is stopped, refused, or reported, and the
//! host serves a good call right after each.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use lava_conn::{ConnectorHost, HostError, Job, PluginFailure, WorkerConfig};
use lava_conn_tests::{FakeAws, HOSTILE_COMPONENT, PANICKING_COMPONENT, host_with, plugin_dir, test_config};
use serde_json::{Value, json};

struct Fixture {
    host: ConnectorHost,
    backend: Arc<FakeAws>,
    _plugins: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
        let backend = Arc::new(FakeAws::default().parameter("/lava/prod/granted", "granted-value"));
        let config = WorkerConfig { call_deadline_ms: 300, memory_limit_mib: 32, ..test_config() };
        let host = host_with(config, Some(plugins.path()), backend.clone());
        Fixture { host, backend, _plugins: plugins }
    })
}

/// A hostile spec making `attack` (a name, or `{name: argument}`).
fn hostile(attack: Value) -> Value {
    json!({"conn_id": "hostile-test", "type": "hostile", "enabled": true, "attack": attack})
}

/// A hostile-plugin spec without an attack.
fn well_behaved() -> Value {
    json!({"conn_id": "hostile-test", "type": "hostile", "enabled": true})
}

fn job() -> Job {
    Job { realm: "prod".into(), job_id: "j1".into() }
}

/// The host still serves: the aws built-in and the hostile plugin both answer.
fn assert_host_serves() {
    let host = &fixture().host;
    let aws = json!({"conn_id": "ok", "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::123456789012:role/r"});
    assert_eq!(host.validate(&aws, Some("prod")).unwrap(), vec![]);
    assert_eq!(host.validate(&well_behaved(), None).unwrap(), vec![]);
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
    let error = fixture().host.validate(&hostile(json!("loop")), None).unwrap_err();
    let elapsed = started.elapsed();
    let message = error.to_string();
    let (plugin, failure) = plugin_failure(error);
    assert!(matches!(failure, PluginFailure::Deadline(d) if d == Duration::from_millis(300)), "{failure:?}");
    assert!(plugin.contains("hostile.wasm"), "{plugin}");
    assert!(message.contains("deadline"), "{message}");
    assert!(elapsed >= Duration::from_millis(300), "stopped too early: {elapsed:?}");
    // Generous: this checks that the loop was stopped at all, not how fast.
    assert!(elapsed < Duration::from_secs(30), "not stopped: {elapsed:?}");
    assert_host_serves();
}

#[test]
fn time_in_host_calls_does_not_count_against_the_plugins_deadline() {
    // Two SSM reads of 400 ms each, with a 300 ms deadline for the plugin's own time.
    let backend = Arc::new(SlowBackend { delay: Duration::from_millis(400), calls: Default::default() });
    let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    let config = WorkerConfig { call_deadline_ms: 300, ..test_config() };
    let host =
        ConnectorHost::builder().config(config).plugin_dir(plugins.path()).backend(backend.clone()).build().unwrap();
    let resolved = host.resolve_uncached(&hostile(json!({"sts-endpoint": "none"})), &job());
    // The endpoint is refused (not granted), but only after the SSM read of 400 ms:
    // the plugin ran to its end instead of hitting its deadline.
    let message = resolved.unwrap_err().to_string();
    assert!(message.contains("NotGranted"), "{message}");
    assert_eq!(backend.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_panic_message_is_kept_to_4_kib() {
    let error = fixture().host.validate(&hostile(json!("panic-long")), None).unwrap_err();
    let (_, failure) = plugin_failure(error);
    match failure {
        PluginFailure::Trap(message) => {
            assert!(message.contains("panics at length"), "{}", &message[..200.min(message.len())]);
            assert!(message.len() < 4_096 + 200, "{} bytes kept", message.len());
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_host_serves();
}

#[test]
fn more_than_1000_problems_is_an_invalid_result() {
    let error = fixture().host.validate(&hostile(json!("many-problems")), None).unwrap_err();
    let (_, failure) = plugin_failure(error);
    assert!(
        matches!(&failure, PluginFailure::InvalidResult(m) if m.contains("2000 problems (at most 1000)")),
        "{failure:?}"
    );
    assert_host_serves();
}

#[test]
fn describe_gets_no_aws_and_an_invalid_type_is_skipped() {
    let backend = Arc::new(FakeAws::default());
    let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    let config = WorkerConfig { conn_app_name: "hostile-describe:asks-aws".into(), ..test_config() };
    let host = host_with(config, Some(plugins.path()), backend.clone());
    let hostile = host.plugins().into_iter().find(|p| p.types == ["hostile"]).expect("loaded");
    assert_eq!(hostile.version.matches("NotGranted").count(), 2, "{}", hostile.version);
    assert!(hostile.version.contains("SSM read") && hostile.version.contains("worker's own credentials"));
    assert!(backend.calls().is_empty(), "{:?}", backend.calls());

    let config = WorkerConfig { conn_app_name: "hostile-describe:bad-type".into(), ..test_config() };
    let host = host_with(config, Some(plugins.path()), Arc::new(FakeAws::default()));
    let skipped = host.skipped_plugins();
    assert!(
        skipped[0].reason.contains("claims connector type `bad type!`; types are 1 to 64 characters"),
        "{skipped:?}"
    );
}

#[test]
fn session_names_get_no_aws_either() {
    let calls_before = fixture().backend.calls();
    let problems =
        fixture().host.session_name(&hostile(json!({"ssm": "/lava/prod/granted"})), &job()).unwrap().unwrap_err();
    assert!(problems[0].message.contains("NotGranted"), "{problems:?}");
    let problems = fixture().host.session_name(&hostile(json!("worker")), &job()).unwrap().unwrap_err();
    assert!(problems[0].message.contains("NotGranted"), "{problems:?}");
    assert_eq!(fixture().backend.calls(), calls_before);
    // Positive control: the same read in a resolve reaches the backend.
    fixture().host.resolve_uncached(&hostile(json!({"ssm": "/lava/prod/granted"})), &job()).unwrap();
    assert!(fixture().backend.calls().len() > calls_before.len());
}

#[test]
fn endless_allocation_hits_the_memory_cap() {
    let error = fixture().host.validate(&hostile(json!("oom")), None).unwrap_err();
    let message = error.to_string();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(failure, PluginFailure::MemoryLimit(32)), "{failure:?}");
    assert!(message.contains("32 MiB"), "{message}");
    assert_host_serves();
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let error = fixture().host.validate(&hostile(json!("panic")), None).unwrap_err();
    let (plugin, failure) = plugin_failure(error);
    assert!(plugin.contains("hostile.wasm"));
    match failure {
        PluginFailure::Trap(message) => assert!(message.contains("panics on purpose"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_host_serves();
}

#[test]
fn a_plugin_without_wasi_that_panics_is_reported_with_its_message_too() {
    // Built like the built-ins: no stderr, so the message comes through the
    // log capability (guest-kit's panic hook).
    let plugins = plugin_dir(&[("panicking.wasm", PANICKING_COMPONENT)]);
    let host = host_with(test_config(), Some(plugins.path()), Arc::new(FakeAws::default()));
    let spec = json!({"conn_id": "p", "type": "panicking"});
    for _ in 0..2 {
        let (plugin, failure) = plugin_failure(host.validate(&spec, None).unwrap_err());
        assert!(plugin.contains("panicking.wasm"), "{plugin}");
        match failure {
            PluginFailure::Trap(message) => {
                let bytes = spec.to_string().len();
                assert!(message.contains(&format!("a spec of {bytes} bytes broke me")), "{message}");
                assert!(message.contains("panicked at"), "{message}");
            }
            other => panic!("expected a trap, got {other:?}"),
        }
    }
    assert_eq!(host.session_name(&spec, &Job { realm: "r".into(), job_id: "j".into() }).unwrap().unwrap(), "panicking");
}

#[test]
fn ssm_outside_the_grant_is_refused_before_any_request() {
    let calls_before = fixture().backend.calls();
    let error = fixture().host.resolve_uncached(&hostile(json!({"ssm": "/lava/other/secret"})), &job()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("NotGranted"), "{message}");
    assert!(message.contains("/lava/prod/"), "the refusal names the granted prefix: {message}");
    assert_eq!(fixture().backend.calls(), calls_before, "a refused call must not reach the backend");
    assert_host_serves();
}

#[test]
fn ssm_inside_the_grant_reaches_the_backend() {
    let resolved = fixture().host.resolve_uncached(&hostile(json!({"ssm": "/lava/prod/granted"})), &job()).unwrap();
    assert_eq!(resolved.values.len(), 1);
    assert!(fixture().backend.calls().contains(&"ssm:/lava/prod/granted".to_string()));
}

#[test]
fn validation_gets_no_aws_at_all() {
    let calls_before = fixture().backend.calls();
    let problems = fixture().host.validate(&hostile(json!({"ssm": "/lava/prod/granted"})), Some("prod")).unwrap();
    assert!(problems[0].message.contains("NotGranted"), "{problems:?}");
    let problems = fixture().host.validate(&hostile(json!("sts")), Some("prod")).unwrap();
    assert!(problems[0].message.contains("NotGranted"), "{problems:?}");
    assert_eq!(fixture().backend.calls(), calls_before);
}

/// The invalid-result message of a resolve, which must fail that way.
fn invalid_resolve(attack: Value) -> String {
    let error = fixture().host.resolve_uncached(&hostile(attack.clone()), &job()).unwrap_err();
    match plugin_failure(error) {
        (plugin, PluginFailure::InvalidResult(message)) => {
            assert!(plugin.contains("hostile.wasm"), "{plugin}");
            message
        }
        (_, other) => panic!("{attack}: expected an invalid result, got {other:?}"),
    }
}

#[test]
fn nonsense_results_are_rejected_each_by_its_own_check() {
    let error = fixture().host.session_name(&hostile(json!("bad-session-name")), &job()).unwrap_err();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(&failure, PluginFailure::InvalidResult(m) if m.contains("2 to 64")), "{failure:?}");
    for (mode, expected) in [
        ("bad-value-name", "value name `NOT A NAME` is not a variable-style name"),
        ("aws-cli-without-credentials", "launcher `aws-cli` needs AWS credentials"),
        ("resolved-bad-region", "is not an AWS region name"),
    ] {
        let message = invalid_resolve(json!(mode));
        assert!(message.contains(expected), "{mode}: {message}");
        assert_host_serves();
    }
}

#[test]
fn no_state_passes_between_calls_pooled_or_on_demand() {
    for pooling_allocator in [true, false] {
        let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
        let config = WorkerConfig { pooling_allocator, ..test_config() };
        let host = host_with(config, Some(plugins.path()), Arc::new(FakeAws::default()));
        for _ in 0..5 {
            let resolved = host.resolve_uncached(&hostile(json!("count")), &job()).unwrap();
            use secrecy::ExposeSecret;
            assert_eq!(resolved.values[0].value.expose_secret(), "calls=1", "pooling_allocator={pooling_allocator}");
        }
    }
}

#[test]
fn an_expiration_past_the_year_9999_is_an_error_not_a_panic() {
    for mode in ["expiration-max", "aws-expiration-max"] {
        let message = invalid_resolve(json!(mode));
        assert!(message.contains("18446744073709551615 is past the year 9999"), "{mode}: {message}");
    }
    // The cached path computes lifetimes from the expiration too.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = runtime.block_on(fixture().host.resolve_spec(hostile(json!("expiration-max")), &job())).unwrap_err();
    assert!(error.to_string().contains("past the year 9999"), "{error}");
    assert_host_serves();
}

#[test]
fn a_region_with_a_line_break_never_reaches_aws() {
    let calls_before = fixture().backend.calls();
    let value = resolve_value(json!("sts-bad-region"));
    assert!(value.contains("InvalidInput") && value.contains("not an AWS region name"), "{value}");
    assert!(!value.contains('\n'), "{value}");
    assert_eq!(fixture().backend.calls(), calls_before, "refused before any request");
    assert_host_serves();
}

#[test]
fn a_plugin_cannot_send_a_granted_secret_to_an_endpoint_of_its_choosing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let calls_before = fixture().backend.calls();
    let value = resolve_value(json!({"sts-endpoint": url}));
    assert!(value.contains("NotGranted") && value.contains("allowed_endpoints"), "{value}");
    let new_calls: Vec<String> = fixture().backend.calls().into_iter().skip(calls_before.len()).collect();
    assert_eq!(new_calls, ["ssm:/lava/prod/granted"], "the secret was read, but no STS call went out");
    assert!(listener.accept().is_err(), "nothing connected to the plugin's listener");
    // Positive control: the same request, with the endpoint allowed, reaches the backend.
    let backend = Arc::new(FakeAws::default());
    let config = WorkerConfig { allowed_endpoints: vec![url.clone()], ..test_config() };
    let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    let host = host_with(config, Some(plugins.path()), backend.clone());
    let _ = host.resolve_uncached(&hostile(json!({"sts-endpoint": url})), &job());
    assert!(backend.calls().iter().any(|c| c == &format!("sts:arn:aws:iam::123456789012:role/x via {url}")));
    assert_host_serves();
}

#[test]
fn resolved_credentials_cannot_steer_the_job_to_an_endpoint_unless_allowed() {
    let message = invalid_resolve(json!({"endpoint": "http://127.0.0.1:9"}));
    assert!(message.contains("`http://127.0.0.1:9` is not allowed") && message.contains("allowed_endpoints"));
    let config = WorkerConfig { allowed_endpoints: vec!["http://127.0.0.1:9".into()], ..test_config() };
    let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    let host = host_with(config, Some(plugins.path()), Arc::new(FakeAws::default()));
    let resolved = host.resolve_uncached(&hostile(json!({"endpoint": "http://127.0.0.1:9"})), &job()).unwrap();
    assert_eq!(resolved.aws.unwrap().endpoint_url.as_deref(), Some("http://127.0.0.1:9"));
    assert_host_serves();
}

#[test]
fn allowed_roles_is_checked_before_any_request() {
    let backend = Arc::new(FakeAws::default());
    let config = WorkerConfig { allowed_roles: vec!["arn:aws:iam::123456789012:role/lava-*".into()], ..test_config() };
    let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    let host = host_with(config, Some(plugins.path()), backend.clone());
    let refused = host.resolve_uncached(&hostile(json!({"role": "arn:aws:iam::123456789012:role/admin"})), &job());
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("NotGranted") && message.contains("allowed_roles"), "{message}");
    assert!(backend.calls().is_empty(), "{:?}", backend.calls());
    let _ = host.resolve_uncached(&hostile(json!({"role": "arn:aws:iam::123456789012:role/lava-loader"})), &job());
    assert_eq!(backend.calls(), ["sts:arn:aws:iam::123456789012:role/lava-loader"]);
}

#[test]
fn an_hour_long_sleep_ends_at_the_deadline_in_every_call() {
    let host = &fixture().host;
    type Call<'a> = Box<dyn Fn() -> HostError + 'a>;
    let checks: [(&str, Call); 3] = [
        ("validate", Box::new(|| host.validate(&hostile(json!("sleep")), None).unwrap_err())),
        ("session-name", Box::new(|| host.session_name(&hostile(json!("sleep")), &job()).unwrap_err())),
        ("resolve", Box::new(|| host.resolve_uncached(&hostile(json!("sleep")), &job()).unwrap_err())),
    ];
    for (call, check) in checks {
        let started = Instant::now();
        let (_, failure) = plugin_failure(check());
        let elapsed = started.elapsed();
        assert!(
            matches!(failure, PluginFailure::Deadline(d) if d == Duration::from_millis(300)),
            "{call}: {failure:?}"
        );
        // An hour asked for; the deadline is 300 ms. A generous bound: this
        // checks that the sleep was cut, not how fast.
        assert!(elapsed < Duration::from_secs(30), "{call} took {elapsed:?}");
        assert_host_serves();
    }
}

#[test]
fn a_plugin_whose_describe_sleeps_is_skipped_and_every_command_still_runs() {
    let plugins = plugin_dir(&[("sleepy.wasm", HOSTILE_COMPONENT), ("empty.wasm", lava_conn_tests::EMPTY_COMPONENT)]);
    let config =
        WorkerConfig { call_deadline_ms: 300, conn_app_name: "hostile-describe:sleep".into(), ..test_config() };
    let started = Instant::now();
    let host = host_with(config, Some(plugins.path()), Arc::new(FakeAws::default()));
    assert!(started.elapsed() < Duration::from_secs(30), "the load took {:?}", started.elapsed());
    let skipped = host.skipped_plugins();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].reason.contains("describe failed") && skipped[0].reason.contains("deadline"), "{skipped:?}");
    assert!(host.validate(&json!({"conn_id": "e", "type": "empty"}), None).unwrap().is_empty());
}

#[test]
fn endless_capability_calls_stop_at_the_budget() {
    for (mode, expected_call) in
        [("ssm-loop", "ssm:/lava/prod/granted"), ("sts-loop", "sts:arn:aws:iam::123456789012:role/x")]
    {
        let backend = Arc::new(FakeAws::default().parameter("/lava/prod/granted", "v"));
        let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
        let config = WorkerConfig { max_capability_calls: 7, ..test_config() };
        let host = host_with(config, Some(plugins.path()), backend.clone());
        let error = host.resolve_uncached(&hostile(json!(mode)), &job()).unwrap_err();
        let message = error.to_string();
        let (_, failure) = plugin_failure(error);
        assert!(matches!(failure, PluginFailure::CapabilityBudget(7)), "{mode}: {failure:?}");
        assert!(message.contains("max_capability_calls"), "{message}");
        assert_eq!(backend.calls(), vec![expected_call.to_string(); 7], "{mode}: exactly the budget reached AWS");
        // The next call is served, with a fresh budget.
        let _ = host.resolve_uncached(&hostile(json!({"ssm": "/lava/prod/granted"})), &job()).unwrap();
    }
}

/// Answers SSM reads after `delay`, like a slow AWS.
struct SlowBackend {
    delay: Duration,
    calls: std::sync::atomic::AtomicU32,
}

#[lava_conn::async_trait]
impl lava_conn::AwsBackend for SlowBackend {
    fn region(&self) -> Option<String> {
        None
    }
    async fn get_parameter(&self, _: &str, _: bool) -> Result<String, lava_conn::CapabilityError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        Ok("value".into())
    }
    async fn assume_role(
        &self,
        _: lava_conn::AssumeRoleRequest,
    ) -> Result<lava_conn::AwsCredentials, lava_conn::CapabilityError> {
        Err(lava_conn::CapabilityError::Unavailable("slow".into()))
    }
    async fn worker_credentials(&self) -> Result<lava_conn::AwsCredentials, lava_conn::CapabilityError> {
        Err(lava_conn::CapabilityError::Unavailable("slow".into()))
    }
}

#[test]
fn the_wall_clock_limit_counts_time_spent_in_host_calls() {
    let backend = Arc::new(SlowBackend { delay: Duration::from_millis(200), calls: Default::default() });
    let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    // The plugin's own deadline (host time excluded) would never fire here.
    let config = WorkerConfig { call_deadline_ms: 60_000, call_wall_limit_ms: 700, ..test_config() };
    let host =
        ConnectorHost::builder().config(config).plugin_dir(plugins.path()).backend(backend.clone()).build().unwrap();
    let started = Instant::now();
    let error = host.resolve_uncached(&hostile(json!("ssm-loop")), &job()).unwrap_err();
    let elapsed = started.elapsed();
    let message = error.to_string();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(failure, PluginFailure::WallClock(d) if d == Duration::from_millis(700)), "{failure:?}");
    assert!(message.contains("call_wall_limit_ms"), "{message}");
    let calls = backend.calls.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(calls, 4, "three calls of 200 ms, and a fourth cut at the 700 ms limit");
    assert!(elapsed >= Duration::from_millis(700), "{elapsed:?}");
    // The limit cuts the host call in progress: no slow call of overshoot.
    assert!(elapsed < Duration::from_millis(700 + 150), "{elapsed:?}");
}

#[test]
fn escape_sequences_and_bidi_overrides_from_a_plugin_are_neutralised() {
    let problems = fixture().host.validate(&hostile(json!("terminal")), None).unwrap();
    let p = &problems[0];
    for text in [&p.field, &p.message] {
        assert!(!text.chars().any(lava_conn::is_hidden), "{text:?}");
    }
    assert_eq!(p.field, "attack\\u{1b}[2K");
    assert_eq!(p.message, "\\u{1b}]0;owned\\u{7} all good\\u{202e}lmth.exe\\u{200b}");
}

fn resolve_value(attack: Value) -> String {
    match fixture().host.resolve_uncached(&hostile(attack), &job()) {
        Ok(r) => {
            use secrecy::ExposeSecret;
            r.values[0].value.expose_secret().to_string()
        }
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_flood_of_output_is_bounded() {
    let error = fixture().host.resolve_uncached(&hostile(json!("flood")), &job()).unwrap_err();
    let (_, failure) = plugin_failure(error);
    // wasmtime's hostcall fuel (set to max_plugin_output_bytes) stops the copy.
    assert!(matches!(&failure, PluginFailure::Trap(m) if m.contains("too much data")), "{failure:?}");
    assert_host_serves();
}

/// Counts the events of one tracing target on the current thread.
struct CountEvents {
    target: &'static str,
    count: Arc<std::sync::atomic::AtomicUsize>,
}

impl tracing::Subscriber for CountEvents {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == self.target {
            self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_log_flood_is_cut_off_at_256_lines() {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let subscriber = CountEvents { target: "lava_conn::plugin", count: count.clone() };
    let resolved = tracing::subscriber::with_default(subscriber, || {
        fixture().host.resolve_uncached(&hostile(json!("log")), &job()).unwrap()
    });
    assert_eq!(resolved.values.len(), 1);
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 256, "of the 100,000 lines the plugin logged");
}

#[test]
fn wasi_grants_nothing() {
    let value = |mode: &str| {
        let resolved = fixture().host.resolve_uncached(&hostile(json!(mode)), &job());
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
    assert!(file.starts_with("connection `hostile-test` cannot be resolved: file:"), "{file}");
    assert!(!file.contains("root:"), "{file}");
    assert_eq!(value("stdout"), "printed");
}

#[test]
fn deep_recursion_exhausts_the_stack_not_the_host() {
    let error = fixture().host.validate(&hostile(json!("recurse")), None).unwrap_err();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(&failure, PluginFailure::Trap(m) if m.contains("call stack exhausted")), "{failure:?}");
    assert_host_serves();
    // Big frames live on Rust's shadow stack in linear memory, placed first:
    // it runs off address 0 and traps, touching nothing of the host's.
    let error = fixture().host.validate(&hostile(json!("recurse-big")), None).unwrap_err();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(&failure, PluginFailure::Trap(m) if m.contains("out of bounds memory access")), "{failure:?}");
    assert_host_serves();
}

#[test]
fn a_huge_return_value_cannot_be_built() {
    let error = fixture().host.resolve_uncached(&hostile(json!("huge")), &job()).unwrap_err();
    let (_, failure) = plugin_failure(error);
    assert!(matches!(failure, PluginFailure::MemoryLimit(32)), "{failure:?}");
    assert_host_serves();
}

#[test]
fn clocks_and_randomness_work_sockets_do_not() {
    let value = |attack: Value| match fixture().host.resolve_uncached(&hostile(attack), &job()) {
        Ok(r) => {
            use secrecy::ExposeSecret;
            r.values[0].value.expose_secret().to_string()
        }
        Err(e) => e.to_string(),
    };
    assert_eq!(value(json!("clock")), "clock=true random=ok");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let net = value(json!({"net": addr.to_string()}));
    // The plugin's own error text (`net: <why>`); the conn id holds no `net:`.
    assert!(net.contains("cannot be resolved: net: "), "{net}");
    assert!(listener.accept().is_err(), "the plugin reached a socket");
    let dns = value(json!("dns"));
    assert!(dns.contains("cannot be resolved: dns: "), "{dns}");
}

#[test]
fn a_stuck_plugin_does_not_stall_other_calls() {
    let stuck = std::thread::spawn(|| fixture().host.validate(&hostile(json!("loop")), None));
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

#[test]
fn a_call_waits_for_a_busy_slot_and_fails_naming_the_settings_only_past_the_wait() {
    let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    let with_wait = |instance_wait_ms| {
        let config =
            WorkerConfig { max_concurrent_instances: 1, call_deadline_ms: 300, instance_wait_ms, ..test_config() };
        host_with(config, Some(plugins.path()), Arc::new(FakeAws::default()))
    };
    let stuck_then = |host: &ConnectorHost| {
        let stuck = {
            let host = host.clone();
            std::thread::spawn(move || host.validate(&hostile(json!("loop")), None))
        };
        std::thread::sleep(Duration::from_millis(100));
        let waiting = host.validate(&well_behaved(), None);
        assert!(matches!(plugin_failure(stuck.join().unwrap().unwrap_err()).1, PluginFailure::Deadline(_)));
        waiting
    };
    // Waiting long enough: the second call runs once the stuck one is stopped.
    assert_eq!(stuck_then(&with_wait(5_000)).unwrap(), vec![]);
    // Not long enough: an error naming the plugin, the bound and its settings.
    let error = stuck_then(&with_wait(50)).unwrap_err();
    let message = error.to_string();
    let (plugin, failure) = plugin_failure(error);
    assert!(plugin.contains("hostile.wasm"), "{plugin}");
    assert!(
        matches!(failure, PluginFailure::NoFreeSlot { slots: 1, waited } if waited == Duration::from_millis(50)),
        "{failure:?}"
    );
    assert!(message.contains("max_concurrent_instances") && message.contains("instance_wait_ms"), "{message}");
}

/// 200 validations at once, each holding its instance for 100 ms.
fn burst(host: &ConnectorHost) -> Vec<Result<Vec<lava_conn::Problem>, HostError>> {
    let spec = json!({"conn_id": "c", "type": "wasi-direct", "sleep_ms": 100});
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let (host, spec) = (host.clone(), spec.clone());
            std::thread::spawn(move || host.validate(&spec, None))
        })
        .collect();
    calls.into_iter().map(|call| call.join().unwrap()).collect()
}

#[test]
fn two_hundred_concurrent_validations_on_a_64_slot_pool_all_succeed() {
    let plugins = plugin_dir(&[("wasi-direct.wasm", lava_conn_tests::WASI_DIRECT_COMPONENT)]);
    let host = |instance_wait_ms| {
        let config = WorkerConfig { max_concurrent_instances: 64, instance_wait_ms, ..test_config() };
        host_with(config, Some(plugins.path()), Arc::new(FakeAws::default()))
    };
    // Positive control: without waiting, the burst does run out of slots.
    let refused = burst(&host(0))
        .into_iter()
        .filter(|r| matches!(r, Err(HostError::Plugin(e)) if matches!(e.failure, PluginFailure::NoFreeSlot { .. })))
        .count();
    assert!(refused > 0, "the burst never needed more than 64 slots");
    for result in burst(&host(30_000)) {
        assert_eq!(result.unwrap()[0].message, "held 0");
    }
}

/// `validate` of the wasi-direct plugin, holding `pollables` WASI pollables.
fn hold_pollables(host: &ConnectorHost, pollables: usize) -> Result<Vec<lava_conn::Problem>, HostError> {
    host.validate(&json!({"conn_id": "c", "type": "wasi-direct", "pollables": pollables}), None)
}

#[test]
fn a_plugin_that_hoards_host_resources_is_stopped_at_the_cap_and_the_next_call_is_served() {
    let plugins = plugin_dir(&[("wasi-direct.wasm", lava_conn_tests::WASI_DIRECT_COMPONENT)]);
    let host = host_with(test_config(), Some(plugins.path()), Arc::new(FakeAws::default()));
    // Positive control: the plugin really creates host resources, and a
    // thousand of them are within the cap.
    let problems = hold_pollables(&host, 1_000).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].message, "held 1000");
    let (plugin, failure) = plugin_failure(hold_pollables(&host, 20_000).unwrap_err());
    assert!(plugin.contains("wasi-direct.wasm"), "{plugin}");
    assert!(matches!(failure, PluginFailure::HostResources(10_000)), "{failure:?}");
    // Resources die with the call: the next one starts from an empty table.
    assert_eq!(hold_pollables(&host, 1_000).unwrap()[0].message, "held 1000");
}

#[test]
fn async_validations_wait_for_slots_without_blocking_the_callers_runtime() {
    let plugins = plugin_dir(&[("wasi-direct.wasm", lava_conn_tests::WASI_DIRECT_COMPONENT)]);
    let config = WorkerConfig { max_concurrent_instances: 4, ..test_config() };
    let host = host_with(config, Some(plugins.path()), Arc::new(FakeAws::default()));
    // One runtime thread: a plugin call made on it would hold up every task.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let spec = json!({"conn_id": "c", "type": "wasi-direct", "sleep_ms": 50});
        let calls: Vec<_> = (0..40)
            .map(|_| {
                tokio::spawn({
                    let (host, spec) = (host.clone(), spec.clone());
                    async move { host.validate_async(spec, None).await }
                })
            })
            .collect();
        // Spawned after the 40 calls, it runs before they are done: they wait
        // for slots off the runtime thread (ten rounds of 50 ms for 4 slots).
        let finished_when_the_marker_ran = tokio::spawn({
            let finished: Vec<_> = calls.iter().map(|c| c.abort_handle()).collect();
            async move { finished.iter().filter(|c| c.is_finished()).count() }
        })
        .await
        .unwrap();
        assert!(finished_when_the_marker_ran < 40, "the runtime thread was blocked by the calls");
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap()[0].message, "held 0");
        }
        let job = Job { realm: "prod".into(), job_id: "j".into() };
        assert_eq!(host.session_name_async(spec, job).await.unwrap(), Ok("wasi-direct".to_string()));
    });
}

/// Answers SSM reads only once released; counts the calls that reached it.
#[derive(Default)]
struct StallingBackend {
    released: tokio::sync::watch::Sender<bool>,
    calls: std::sync::atomic::AtomicU32,
}

impl StallingBackend {
    fn calls(&self) -> u32 {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[lava_conn::async_trait]
impl lava_conn::AwsBackend for StallingBackend {
    fn region(&self) -> Option<String> {
        None
    }
    async fn get_parameter(&self, _: &str, _: bool) -> Result<String, lava_conn::CapabilityError> {
        let mut released = self.released.subscribe();
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _ = released.wait_for(|r| *r).await;
        Ok("value".into())
    }
    async fn assume_role(
        &self,
        _: lava_conn::AssumeRoleRequest,
    ) -> Result<lava_conn::AwsCredentials, lava_conn::CapabilityError> {
        Err(lava_conn::CapabilityError::Unavailable("stalling".into()))
    }
    async fn worker_credentials(&self) -> Result<lava_conn::AwsCredentials, lava_conn::CapabilityError> {
        Err(lava_conn::CapabilityError::Unavailable("stalling".into()))
    }
}

#[tokio::test]
async fn dropping_a_resolve_stops_the_plugin_frees_its_slot_and_caches_nothing() {
    let backend = Arc::new(StallingBackend::default());
    let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    // One slot, and no waiting for it: a call still holding it would fail the next.
    let config = WorkerConfig { max_concurrent_instances: 1, instance_wait_ms: 0, ..test_config() };
    let host =
        ConnectorHost::builder().config(config).plugin_dir(plugins.path()).backend(backend.clone()).build().unwrap();
    let spec = hostile(json!({"ssm": "/lava/prod/granted"}));
    // Cancelled inside its capability call.
    let job = job();
    let resolve = host.resolve_spec(spec.clone(), &job);
    assert!(tokio::time::timeout(Duration::from_millis(300), resolve).await.is_err(), "it was stalled");
    assert_eq!(backend.calls(), 1, "the plugin was inside its SSM read when dropped");
    assert!(host.validate_async(hostile(json!("count")), None).await.is_ok(), "its slot is free again");
    // Cancelled while running: a busy plugin is stopped at its next epoch tick.
    let spinning = host.resolve_spec(hostile(json!("loop")), &job);
    assert!(tokio::time::timeout(Duration::from_millis(100), spinning).await.is_err());
    assert!(host.validate_async(hostile(json!("count")), None).await.is_ok(), "this slot is free too");
    // Nothing was cached, and no half-done round holds the spec: the next
    // resolve runs anew, and completes.
    backend.released.send_replace(true);
    let again = tokio::time::timeout(Duration::from_secs(10), host.resolve_spec(spec, &job)).await;
    assert!(again.is_ok(), "the next resolve was not stuck behind the cancelled one");
    assert_eq!(backend.calls(), 2);
}

#[test]
fn a_busy_plugin_yields_the_callers_runtime_thread() {
    let plugins = plugin_dir(&[("hostile.wasm", HOSTILE_COMPONENT)]);
    let config = WorkerConfig { call_deadline_ms: 400, ..test_config() };
    let host = host_with(config, Some(plugins.path()), Arc::new(FakeAws::default()));
    // One runtime thread for both: a plugin that kept it would starve the ticker.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (ticks, failure) = runtime.block_on(async {
        let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let ticker = tokio::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    ticks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        let failure = host.validate_async(hostile(json!("loop")), None).await.unwrap_err();
        ticker.abort();
        (ticks.load(std::sync::atomic::Ordering::SeqCst), failure)
    });
    let (_, failure) = plugin_failure(failure);
    assert!(matches!(failure, PluginFailure::Deadline(_)), "{failure:?}");
    // 400 ms of spinning: a plugin that kept the thread would leave the
    // ticker at 0; sharing it (a yield every 5 ms tick) gives it ~20 turns.
    assert!(ticks >= 10, "the ticker ran {ticks} times while the plugin spun");
}
