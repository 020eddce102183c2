//! The benchmarks (`./dev bench`, `just bench`): the sandbox against the same
//! logic compiled natively, the floor of a sandboxed call, the credential
//! cache, resolves against a real moto server split into host and SDK time,
//! whole `lava-conn` processes against lava 8.3.0, concurrency and memory,
//! and a connector written in Python (componentize-py) beside the Rust ones.
//!
//! Criterion measures the times. What is not a time (STS calls made, memory)
//! is measured once and written to `target/criterion/lava-conn-facts.json`;
//! `host/benches/report.py` turns both into `BENCHMARKS.md`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group};
use lava_conn::{AssumeRoleRequest, AwsCredentials, CapabilityError};
use lava_conn::{AwsBackend, ConnectorHost, Job, WorkerConfig};
use lava_conn::{SdkBackend, configure_sdk};
use lava_conn_tests::{
    AIRFLOW_AWS_COMPONENT, EMPTY_COMPONENT, HTTP_BASIC_COMPONENT, TEMPLATE_COMPONENT, plugin_dir, python_component,
    test_config,
};
use lava_guest_aws::AwsConnector;
use lava_guest_kit::RawConnector;
use lava_test_moto::Moto;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/bench";

/// A typical role connection: tags, a managed policy, a duration.
fn role_spec() -> Value {
    json!({
        "conn_id": "bench", "type": "aws", "enabled": true, "role_arn": ROLE_ARN, "duration": "2h",
        "tags": {"team": "data"}, "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    })
}

/// The table's items: the role spec, and ten more like it (`fan-0`…`fan-9`).
fn stored_specs() -> Vec<Value> {
    let fan = (0..10).map(|i| {
        let mut spec = role_spec();
        spec["conn_id"] = json!(format!("fan-{i}"));
        spec
    });
    std::iter::once(role_spec()).chain(fan).collect()
}

fn job(job_id: &str) -> Job {
    Job { realm: "prod".into(), job_id: job_id.into() }
}

/// Everything the benchmarks share: one moto server, one SDK config, one runtime.
struct Bench {
    moto: Moto,
    runtime: Runtime,
    sdk: aws_config::SdkConfig,
}

impl Bench {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let moto = Moto::start(&json!({
            "roles": ["bench"],
            "tables": [{"name": "lava.prod.connections", "items": stored_specs()}],
        }));
        let sdk = runtime.block_on(configure_sdk(moto.sdk_loader()).load());
        Self { moto, runtime, sdk }
    }

    /// A host with the SDK backend against moto.
    fn host(&self, config: WorkerConfig) -> ConnectorHost {
        host_with(config, SdkBackend::new(self.sdk.clone()))
    }

    /// A host that reads its specs from the DynamoDB table, as a worker does.
    fn worker_host(&self) -> ConnectorHost {
        ConnectorHost::builder()
            .config(test_config())
            .backend(SdkBackend::new(self.sdk.clone()))
            .store(Arc::new(lava_conn::DynamoStore::from_sdk_config(&self.sdk)))
            .build()
            .unwrap()
    }

    fn timed_backend(&self) -> Arc<TimedBackend> {
        TimedBackend::around(SdkBackend::new(self.sdk.clone()))
    }
}

fn host_with(config: WorkerConfig, backend: Arc<dyn AwsBackend>) -> ConnectorHost {
    ConnectorHost::builder().config(config).backend(backend).build().unwrap()
}

/// A backend, timed: what an uncached resolve spends in AWS calls, so that
/// the rest of it is the host's.
struct TimedBackend {
    inner: Arc<dyn AwsBackend>,
    nanos: AtomicU64,
    assume_role_calls: AtomicU64,
}

impl TimedBackend {
    fn around(inner: Arc<dyn AwsBackend>) -> Arc<Self> {
        Arc::new(Self { inner, nanos: AtomicU64::new(0), assume_role_calls: AtomicU64::new(0) })
    }

    async fn timed<R>(&self, call: impl std::future::Future<Output = R>) -> R {
        let started = Instant::now();
        let result = call.await;
        self.nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result
    }

    fn take_time(&self) -> Duration {
        Duration::from_nanos(self.nanos.swap(0, Ordering::Relaxed))
    }
}

#[lava_conn::async_trait]
impl AwsBackend for TimedBackend {
    fn region(&self) -> Option<String> {
        self.inner.region()
    }
    async fn get_parameter(&self, name: &str, with_decryption: bool) -> Result<String, CapabilityError> {
        self.timed(self.inner.get_parameter(name, with_decryption)).await
    }
    async fn assume_role(&self, request: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        self.assume_role_calls.fetch_add(1, Ordering::Relaxed);
        self.timed(self.inner.assume_role(request)).await
    }
    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        self.timed(self.inner.worker_credentials()).await
    }
}

/// The `db-login` example connector, written in Python, built by
/// componentize-py (`lava_conn_tests::python_component`).
fn python_plugins() -> tempfile::TempDir {
    let component = python_component("examples/python-connector", "db_login");
    plugin_dir(&[("db-login.wasm", component.to_str().unwrap())])
}

/// A valid `db-login` spec.
fn python_spec() -> Value {
    json!({"conn_id": "warehouse", "type": "db-login", "enabled": true, "host": "warehouse.internal",
           "port": 5432, "database": "sales", "user": "etl", "password_parameter": "/lava/prod/warehouse/password"})
}

/// (1) validate through the sandbox, a fresh pooled instance per call, against
/// the same guest code compiled natively; and (7) the Python connector's.
fn validate(c: &mut Criterion, bench: &Bench) {
    let spec = role_spec();
    let text = spec.to_string();
    let context = lava_guest_kit::ValidateContext::in_realm("prod");
    let host = bench.host(test_config());
    let mut group = c.benchmark_group("validate");
    group.bench_function("native", |b| {
        b.iter(|| AwsConnector.validate_json(black_box(&text), &context, &InstantBackend))
    });
    group.bench_function("sandboxed", |b| b.iter(|| host.validate(black_box(&spec), Some("prod")).unwrap()));
    let python = python_plugins();
    let python_host = ConnectorHost::builder().config(test_config()).plugin_dir(python.path()).build().unwrap();
    let python_spec = python_spec();
    assert_eq!(python_host.validate(&python_spec, Some("prod")).unwrap(), []);
    group.bench_function("python", |b| b.iter(|| python_host.validate(black_box(&python_spec), Some("prod")).unwrap()));
    group.finish();
}

/// (2) The floor of the sandbox: a fresh instance and a call with an empty
/// body (`validate` of the empty test plugin), pooling and on-demand allocator.
fn floor(c: &mut Criterion) {
    let plugins = plugin_dir(&[("empty.wasm", EMPTY_COMPONENT)]);
    let spec = json!({"type": "empty", "conn_id": "floor"});
    let mut group = c.benchmark_group("floor");
    for (name, pooling_allocator) in [("pooling", true), ("on-demand", false)] {
        let host = ConnectorHost::builder()
            .config(WorkerConfig { pooling_allocator, ..test_config() })
            .plugin_dir(plugins.path())
            .build()
            .unwrap();
        group.bench_function(name, |b| b.iter(|| host.validate(black_box(&spec), None).unwrap()));
    }
    group.finish();
}

/// (3) A cache hit; an uncached resolve against moto, and the host's part of
/// it (its time less the time inside the SDK, measured in the same calls);
/// the same AssumeRole made with the SDK alone.
fn resolve(c: &mut Criterion, bench: &Bench) {
    let spec = role_spec();
    let job = job("bench");
    let cached = bench.host(test_config());
    bench.runtime.block_on(cached.resolve_spec(spec.clone(), &job)).unwrap();
    let mut group = c.benchmark_group("resolve");
    group.bench_function("cache-hit", |b| {
        b.to_async(&bench.runtime).iter(|| async { cached.resolve_spec(black_box(spec.clone()), &job).await.unwrap() })
    });
    // A worker's hit: by conn id, the spec from the spec cache, not DynamoDB.
    let worker = bench.worker_host();
    bench.runtime.block_on(worker.resolve("bench", &job)).unwrap();
    group.bench_function("cache-hit-by-conn-id", |b| {
        b.to_async(&bench.runtime).iter(|| async { worker.resolve(black_box("bench"), &job).await.unwrap() })
    });

    // A zero TTL caches nothing: every resolve is a full round to the backend.
    let uncached_host = |backend: &Arc<TimedBackend>| {
        host_with(WorkerConfig { aws_access_key_cache_ttl: "0s".into(), ..test_config() }, backend.clone())
    };
    let backend = bench.timed_backend();
    let uncached = uncached_host(&backend);
    // Milliseconds per call: the same number of calls in every sample.
    group.sampling_mode(SamplingMode::Flat).sample_size(30).measurement_time(Duration::from_secs(8));
    // The rounds' time, and of it the time inside the backend.
    let uncached_rounds = |host: &ConnectorHost, backend: &TimedBackend, iters: u64| {
        backend.take_time();
        let started = Instant::now();
        for _ in 0..iters {
            bench.runtime.block_on(host.resolve_spec(spec.clone(), &job)).unwrap();
        }
        (started.elapsed(), backend.take_time())
    };
    let host_part = |host: &ConnectorHost, backend: &TimedBackend, iters: u64| {
        let (total, in_backend) = uncached_rounds(host, backend, iters);
        total.saturating_sub(in_backend)
    };
    group.bench_function("uncached", |b| b.iter_custom(|iters| uncached_rounds(&uncached, &backend, iters).0));
    group.bench_function("uncached-host-part", |b| b.iter_custom(|iters| host_part(&uncached, &backend, iters)));
    // The same host work with the AWS call replaced by a 2 ms wait (about
    // moto's round trip) and nothing else: how much of the host's part above
    // is its own cold start after any wait, and how much the SDK's request
    // path and the emulator leave it to refill (measured this way: ~25 µs
    // here against ~70-100 µs after the real call, every phase of the host
    // slower by about the same factor).
    let waiting = TimedBackend::around(Arc::new(WaitingBackend(Duration::from_millis(2))));
    let waiting_host = uncached_host(&waiting);
    group.bench_function("uncached-host-part-after-a-wait", |b| {
        b.iter_custom(|iters| host_part(&waiting_host, &waiting, iters))
    });
    let sts = aws_sdk_sts::Client::new(&bench.sdk);
    group.bench_function("sdk-assume-role", |b| {
        b.iter(|| {
            bench
                .runtime
                .block_on(
                    // The request the plugin sends for `role_spec()`, tags and policy ARN included.
                    assume_role_as_the_plugin_does(&sts, ROLE_ARN).send(),
                )
                .unwrap()
        })
    });
    group.finish();
}

/// The work of a resolve without the network: the guest's logic compiled
/// natively, and the same resolve through the sandbox with a backend that
/// answers at once. Their difference is what the host adds to every resolve.
fn resolve_logic(c: &mut Criterion) {
    let spec = role_spec();
    let text = spec.to_string();
    let guest_job = lava_guest_kit::JobContext {
        realm: "prod".into(),
        job_id: "bench".into(),
        conn_id: "bench".into(),
        session_name: "lv-prod-bench".into(),
    };
    let host = host_with(test_config(), Arc::new(InstantBackend));
    let mut group = c.benchmark_group("resolve-logic");
    group.bench_function("native", |b| {
        b.iter(|| AwsConnector.resolve_json(black_box(&text), &guest_job, &InstantBackend).unwrap())
    });
    group.bench_function("sandboxed", |b| b.iter(|| host.resolve_uncached(black_box(&spec), &job("bench")).unwrap()));
    // What least privilege adds to each resolve: the type's policy
    // intersected with the plugin's declaration, `{realm}` filled in.
    let aws = host.plugins().into_iter().find(|p| p.types.iter().any(|t| t == "aws")).unwrap();
    group.bench_function("grants-only", |b| b.iter(|| host.resolve_grants(black_box(&aws), &job("bench"), "aws")));
    // The same with the audit trail on, as the CLI has it by default: each
    // capability call formats one event (here into a sink, not a terminal).
    let audited = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("lava_conn::audit=info"))
        .with_writer(std::io::sink)
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(audited, || {
        group.bench_function("sandboxed-audited", |b| {
            b.iter(|| host.resolve_uncached(black_box(&spec), &job("bench")).unwrap())
        });
    });
    group.finish();
}

/// Answers an AssumeRole as [`InstantBackend`] does, after blocking the
/// calling thread for a while: a network wait without the network. A thread
/// sleep, not a runtime timer, so that no other thread does anything while
/// the host waits (a timer is fired by a runtime worker, which then wakes
/// the caller: that hand-over is the network call's, and measured there).
struct WaitingBackend(Duration);

#[lava_conn::async_trait]
impl AwsBackend for WaitingBackend {
    fn region(&self) -> Option<String> {
        InstantBackend.region()
    }
    async fn get_parameter(&self, name: &str, with_decryption: bool) -> Result<String, CapabilityError> {
        InstantBackend.get_parameter(name, with_decryption).await
    }
    async fn assume_role(&self, request: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        std::thread::sleep(self.0);
        InstantBackend.assume_role(request).await
    }
    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        InstantBackend.worker_credentials().await
    }
}

/// Answers every AWS call at once with fixed credentials.
struct InstantBackend;

/// The credentials it answers with: one set, handed to the native logic as
/// SDK credentials and to the host in the contract's shape.
fn instant_credentials() -> lava_guest_kit::Credentials {
    lava_guest_kit::Credentials {
        access_key_id: "ASIAEXAMPLEKEY000000".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        session_token: Some("token".repeat(60)),
        expiration: Some(4_000_000_000),
        region: Some("us-east-1".into()),
        endpoint_url: None,
    }
}

#[lava_conn::async_trait]
impl AwsBackend for InstantBackend {
    fn region(&self) -> Option<String> {
        Some("us-east-1".into())
    }
    async fn get_parameter(&self, _: &str, _: bool) -> Result<String, CapabilityError> {
        Err(CapabilityError::Unavailable("not in this benchmark".into()))
    }
    async fn assume_role(&self, _: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        let lava_guest_kit::Credentials {
            access_key_id,
            secret_access_key,
            session_token,
            expiration,
            region,
            endpoint_url,
        } = instant_credentials();
        Ok(AwsCredentials {
            access_key_id,
            secret_access_key: secret_access_key.into(),
            session_token: session_token.map(Into::into),
            expiration: expiration.map(|s| std::time::UNIX_EPOCH + Duration::from_secs(s)),
            region,
            endpoint_url,
        })
    }
    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        Err(CapabilityError::Unavailable("not in this benchmark".into()))
    }
}

impl lava_guest_kit::Host for InstantBackend {
    fn get_parameter(&self, _: &str) -> Result<String, lava_guest_kit::CapabilityError> {
        Err(lava_guest_kit::CapabilityError::Unavailable("not in this benchmark".into()))
    }
    fn assume_role(
        &self,
        _: &lava_guest_kit::AssumeRole,
        _: Option<&lava_guest_kit::Credentials>,
    ) -> Result<lava_guest_kit::Credentials, lava_guest_kit::CapabilityError> {
        Ok(instant_credentials())
    }
    fn worker_credentials(&self) -> Result<lava_guest_kit::Credentials, lava_guest_kit::CapabilityError> {
        Err(lava_guest_kit::CapabilityError::Unavailable("not in this benchmark".into()))
    }
    fn log(&self, _: lava_guest_kit::Level, _: &str) {}
    fn setting(&self, _: &str) -> Option<String> {
        None
    }
}

/// (4) Whole processes against the same moto and DynamoDB connection:
/// `lava-conn resolve` with a warm and a cold compile cache, `lava-conn
/// validate`, and lava 8.3.0's `get_aws_session` (skipped without its venv).
fn processes(c: &mut Criterion, bench: &Bench) {
    let binary = env!("CARGO_BIN_EXE_lava-conn");
    let caches = tempfile::tempdir().unwrap();
    let warm_cache = caches.path().join("warm");
    let lava_conn = |cache: &Path, args: &[&str]| {
        let mut command = Command::new(binary);
        command.args(args).envs(bench.moto.env()).env("LAVA_CONN_COMPILE_CACHE", cache);
        command
    };
    let resolve = ["resolve", "--realm", "prod", "--job-id", "bench", "--connections", "dynamodb", "bench"];
    let spec_file = caches.path().join("spec.json");
    std::fs::write(&spec_file, role_spec().to_string()).unwrap();
    let validate = ["validate", "--realm", "prod", spec_file.to_str().unwrap()];
    run(&mut lava_conn(&warm_cache, &resolve));
    // The same commands with a folder of drop-in plugins present (none of
    // them needed), after a first run has compiled and indexed them.
    let folders: Vec<(usize, tempfile::TempDir)> = [10, 100].into_iter().map(|n| (n, renamed_plugins(n))).collect();
    let with_plugins = |folder: &Path, args: &[&str]| {
        let mut command = lava_conn(&warm_cache, &[]);
        command.arg("--plugins").arg(folder).args(args);
        command
    };
    for (_, folder) in &folders {
        run(&mut with_plugins(folder.path(), &resolve));
    }
    // (7) The Python connector in the folder: unused (an aws spec), and used.
    let python = python_plugins();
    let python_spec_file = caches.path().join("db-login.json");
    std::fs::write(&python_spec_file, python_spec().to_string()).unwrap();
    let validate_python = ["validate", "--realm", "prod", python_spec_file.to_str().unwrap()];
    run(&mut with_plugins(python.path(), &validate_python));

    let mut floor = Command::new(std::env::current_exe().unwrap());
    floor.env(FLOOR_MODE, "1").envs(bench.moto.env());
    run(&mut floor);

    let mut group = c.benchmark_group("process");
    group.sampling_mode(SamplingMode::Flat).sample_size(20).measurement_time(Duration::from_secs(6));
    group.bench_function("sdk-floor", |b| b.iter(|| run(&mut floor)));
    group.bench_function("lava-conn-resolve-warm", |b| b.iter(|| run(&mut lava_conn(&warm_cache, &resolve))));
    group.bench_function("lava-conn-validate-warm", |b| b.iter(|| run(&mut lava_conn(&warm_cache, &validate))));
    for (n, folder) in &folders {
        group.bench_function(format!("lava-conn-resolve-warm-{n}-plugins"), |b| {
            b.iter(|| run(&mut with_plugins(folder.path(), &resolve)))
        });
        group.bench_function(format!("lava-conn-validate-warm-{n}-plugins"), |b| {
            b.iter(|| run(&mut with_plugins(folder.path(), &validate)))
        });
    }
    group.bench_function("lava-conn-validate-warm-python-present", |b| {
        b.iter(|| run(&mut with_plugins(python.path(), &validate)))
    });
    group.bench_function("lava-conn-validate-warm-python-used", |b| {
        b.iter(|| run(&mut with_plugins(python.path(), &validate_python)))
    });
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    // Each run with a new, empty compile cache folder.
    let mut cold_runs = 0;
    for (name, args) in [("lava-conn-resolve-cold", &resolve[..]), ("lava-conn-validate-cold", &validate[..])] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    cold_runs += 1;
                    let mut command = lava_conn(&caches.path().join(format!("cold-{cold_runs}")), args);
                    let started = Instant::now();
                    run(&mut command);
                    spent += started.elapsed();
                }
                spent
            })
        });
    }
    match lava_python() {
        Some(python) => {
            group.measurement_time(Duration::from_secs(20));
            let mut lava = Command::new(python);
            lava.args([
                "-c",
                "from lava.connection import get_aws_session\n\
                 get_aws_session('bench', 'prod').get_credentials().get_frozen_credentials()",
            ])
            .envs(bench.moto.env());
            run(&mut lava);
            group.bench_function("lava-8.3.0-get-aws-session", |b| b.iter(|| run(&mut lava)));
        }
        None => eprintln!("lava 8.3.0 not found (.venv-lava or LAVA_PYTHON): `./dev bench` installs it"),
    }
    group.finish();
}

/// lava 8.3.0's Python: `LAVA_PYTHON`, or the venv `./dev bench` makes.
fn lava_python() -> Option<PathBuf> {
    std::env::var_os("LAVA_PYTHON")
        .map(PathBuf::from)
        .or_else(|| Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-lava/bin/python")))
        .filter(|p| p.is_file())
}

/// Run a command to completion; a failure stops the benchmark, with its stderr.
fn run(command: &mut Command) {
    let out = command.output().expect("the command runs");
    assert!(out.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Concurrent resolves per round in (5).
const CONCURRENT: usize = 10_000;

/// (5) 10,000 concurrent resolves over 10 connections (10 jobs of one spec),
/// each round in a new host with an empty cache.
fn concurrency(c: &mut Criterion, bench: &Bench) {
    let mut group = c.benchmark_group("concurrency");
    group.sampling_mode(SamplingMode::Flat).sample_size(20).measurement_time(Duration::from_secs(8));
    group.bench_with_input(BenchmarkId::new("resolves-over-10-connections", CONCURRENT), &CONCURRENT, |b, &n| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let backend = bench.timed_backend();
                let host = host_with(test_config(), backend.clone());
                let (wall, failed) = concurrent_resolves(&bench.runtime, &host, n);
                assert_eq!(failed, 0, "every resolve succeeds");
                spent += wall;
                assert_eq!(backend.assume_role_calls.load(Ordering::Relaxed), 10, "one STS call per connection");
            }
            spent
        })
    });
    group.finish();
}

/// Resolve `n` times at once on `runtime`, spread over 10 jobs: the wall
/// time, and how many failed.
fn concurrent_resolves(runtime: &Runtime, host: &ConnectorHost, n: usize) -> (Duration, usize) {
    let started = Instant::now();
    let failed = runtime.block_on(async {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let host = host.clone();
                tokio::spawn(
                    async move { host.resolve_spec(role_spec(), &job(&format!("c{}", i % 10))).await.map(drop) },
                )
            })
            .collect();
        let mut failed = 0;
        for task in tasks {
            failed += usize::from(!matches!(task.await, Ok(Ok(()))));
        }
        failed
    });
    (started.elapsed(), failed)
}

/// The figures that are not times, measured once.
fn facts(bench: &Bench, mut facts: BTreeMap<&'static str, Value>) -> BTreeMap<&'static str, Value> {
    // (5) STS calls as moto saw them, failures, the threads the runtime
    // needed, the host's CPU time and the peak memory of one round, after a
    // first round (in another host) has warmed the connections and moto.
    // The round runs on a runtime of its own, two workers like the bench's,
    // that counts every thread it starts (its workers and any blocking-pool
    // thread).
    let threads = Arc::new(AtomicU64::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start({
            let threads = threads.clone();
            move || {
                threads.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    concurrent_resolves(&runtime, &bench.host(test_config()), CONCURRENT);
    let host = bench.host(test_config());
    let before_calls = bench.moto.assume_role_requests(ROLE_ARN).len();
    let rss_before = proc_status_kib("VmRSS");
    reset_peak_rss();
    let cpu_before = own_cpu_time();
    let (wall, failed) = concurrent_resolves(&runtime, &host, CONCURRENT);
    let cpu = own_cpu_time() - cpu_before;
    facts.insert("concurrent_resolves", json!(CONCURRENT));
    facts.insert("concurrent_failed", json!(failed));
    facts.insert("concurrent_runtime_workers", json!(runtime.metrics().num_workers()));
    facts.insert("concurrent_runtime_threads", json!(threads.load(Ordering::SeqCst)));
    drop(runtime);
    facts.insert("concurrent_wall_ms", json!(wall.as_secs_f64() * 1e3));
    facts.insert("concurrent_host_cpu_ms", json!(cpu.as_secs_f64() * 1e3));
    facts.insert("concurrent_sts_calls", json!(bench.moto.assume_role_requests(ROLE_ARN).len() - before_calls));
    facts.insert("concurrent_rss_before_kib", json!(rss_before));
    facts.insert("concurrent_peak_rss_kib", json!(proc_status_kib("VmHWM")));

    // 1000 concurrent resolves by conn id over 10 connections of the table:
    // the GetItems and AssumeRoles moto saw.
    let worker = bench.worker_host();
    let get_items = || {
        bench
            .moto
            .requests()
            .into_iter()
            .filter(|r| r.target.ends_with(".GetItem") && r.body.contains("\"fan-"))
            .count()
    };
    let (items_before, roles_before) = (get_items(), bench.moto.assume_role_requests(ROLE_ARN).len());
    let failed = bench.runtime.block_on(async {
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let worker = worker.clone();
                tokio::spawn(async move { worker.resolve(&format!("fan-{}", i % 10), &job("by-id")).await.map(drop) })
            })
            .collect();
        let mut failed = 0;
        for task in tasks {
            failed += usize::from(!matches!(task.await, Ok(Ok(()))));
        }
        failed
    });
    assert_eq!(failed, 0, "every resolve by conn id succeeds");
    facts.insert("by_id_get_items", json!(get_items() - items_before));
    facts.insert("by_id_assume_roles", json!(bench.moto.assume_role_requests(ROLE_ARN).len() - roles_before));

    facts.insert("instance_kib", json!(per_live_instance_kib(&bench.runtime)));
    facts
}

/// (6) A host with the built-in only, and with 10 plugins more: the peak RSS
/// of `lava-conn plugins`, which loads them all and calls each one. Measured
/// before the bench process grows: a child's peak as `wait4` reports it is
/// at least its parent's peak when it was spawned.
fn process_memory_facts(facts: &mut BTreeMap<&'static str, Value>) {
    let ten = renamed_plugins(10);
    let plugins_rss = |extra: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lava-conn"));
        command.args(extra).arg("plugins");
        run(&mut command); // warms the compile cache
        let child = child_peak_rss_kib(&mut command);
        let own = proc_status_kib("VmHWM");
        assert!(child > own, "the child's peak ({child} KiB) must not be this process's ({own} KiB)");
        child
    };
    facts.insert("rss_builtin_kib", json!(plugins_rss(&[])));
    facts.insert("rss_builtin_plus_10_kib", json!(plugins_rss(&["--plugins", ten.path().to_str().unwrap()])));
    facts.insert("plugin_bytes", json!(std::fs::metadata(AIRFLOW_AWS_COMPONENT).unwrap().len()));
    // (9) What an author's plugin weighs, built as its author builds it.
    facts.insert("template_bytes", json!(std::fs::metadata(TEMPLATE_COMPONENT).unwrap().len()));
    facts.insert("http_basic_bytes", json!(std::fs::metadata(HTTP_BASIC_COMPONENT).unwrap().len()));
    python_compile_facts(facts);
}

/// (7) The Python connector's first load with an empty compile cache (a
/// `lava-conn describe` process: read, compile, store), three times: wall
/// time, peak RSS, and what it leaves in the cache.
fn python_compile_facts(facts: &mut BTreeMap<&'static str, Value>) {
    let python = python_plugins();
    let component = python.path().join("db-login.wasm");
    let caches = tempfile::tempdir().unwrap();
    let (mut walls, mut peaks, mut stored) = (Vec::new(), Vec::new(), 0);
    for run in 0..3 {
        let cache = caches.path().join(format!("cold-{run}"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_lava-conn"));
        command
            .env("LAVA_CONN_COMPILE_CACHE", &cache)
            .arg("--plugins")
            .arg(python.path())
            .args(["describe", "db-login"]);
        let started = Instant::now();
        peaks.push(child_peak_rss_kib(&mut command));
        walls.push(started.elapsed().as_secs_f64());
        stored = walk_bytes(&cache, "cwasm");
    }
    walls.sort_by(f64::total_cmp);
    facts.insert("python_component_bytes", json!(std::fs::metadata(component).unwrap().len()));
    facts.insert("python_cold_compile_seconds", json!(walls[1]));
    facts.insert("python_cold_compile_peak_kib", json!(peaks.iter().max()));
    // The built-in's artefact is stored beside it: the difference is Python's.
    let builtin_only = caches.path().join("builtin-only");
    let mut command = Command::new(env!("CARGO_BIN_EXE_lava-conn"));
    run(command.env("LAVA_CONN_COMPILE_CACHE", &builtin_only).arg("plugins"));
    facts.insert("python_artefact_bytes", json!(stored - walk_bytes(&builtin_only, "cwasm")));
}

/// Bytes of the files ending `.extension` under `dir`.
fn walk_bytes(dir: &Path, extension: &str) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            total += walk_bytes(&path, extension);
        } else if path.extension().is_some_and(|e| e == extension) {
            total += path.metadata().unwrap().len();
        }
    }
    total
}

/// `n` distinct plugins (`lava_conn_tests::renamed_airflow_plugins`),
/// checked to load in the real binary.
fn renamed_plugins(n: usize) -> tempfile::TempDir {
    let folder = lava_conn_tests::renamed_airflow_plugins(n);
    let mut check = Command::new(env!("CARGO_BIN_EXE_lava-conn"));
    let listed = check.args(["--plugins", folder.path().to_str().unwrap(), "plugins", "--json"]).output().unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let files = listed["plugins"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["source"].as_str().is_some_and(|s| s.starts_with('`')));
    assert_eq!(files.count(), n, "all {n} load: {listed}");
    folder
}

/// Memory of one live instance, mid-resolve: RSS with 48 resolves held
/// inside their first capability call, less RSS before, per resolve.
fn per_live_instance_kib(runtime: &Runtime) -> u64 {
    const LIVE: usize = 48;
    let gate = Arc::new(Gate::default());
    let host = ConnectorHost::builder().config(test_config()).backend(gate.clone()).build().unwrap();
    let spec = json!({"conn_id": "keys", "type": "aws", "enabled": true, "access_keys": "/lava/prod/keys"});
    let job = job("memory");
    // One resolve first, so that the code and the host's own start-up memory are in RSS.
    gate.open();
    host.resolve_uncached(&spec, &job).unwrap();
    gate.close();
    let before = proc_status_kib("VmRSS");
    let tasks: Vec<_> = (0..LIVE)
        .map(|_| {
            let (host, spec, job) = (host.clone(), spec.clone(), job.clone());
            runtime.spawn(async move { host.resolve_uncached_async(&spec, &job).await.unwrap() })
        })
        .collect();
    gate.wait_for(LIVE);
    let during = proc_status_kib("VmRSS");
    gate.open();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
    during.saturating_sub(before) / LIVE as u64
}

/// A backend whose SSM reads wait until the gate opens: the instances that
/// called it stay alive meanwhile.
#[derive(Default)]
struct Gate {
    open: tokio::sync::watch::Sender<bool>,
    waiting: AtomicU64,
}

impl Gate {
    fn open(&self) {
        self.open.send_replace(true);
    }
    fn close(&self) {
        self.open.send_replace(false);
        self.waiting.store(0, Ordering::SeqCst);
    }
    fn wait_for(&self, waiting: usize) {
        while self.waiting.load(Ordering::SeqCst) < waiting as u64 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[lava_conn::async_trait]
impl AwsBackend for Gate {
    fn region(&self) -> Option<String> {
        Some("us-east-1".into())
    }
    async fn get_parameter(&self, _: &str, _: bool) -> Result<String, CapabilityError> {
        let mut open = self.open.subscribe();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        open.wait_for(|open| *open).await.unwrap();
        Ok(format!("AKIAEXAMPLEKEY000000,{}", "s".repeat(40)))
    }
    async fn assume_role(&self, _: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        Err(CapabilityError::Unavailable("not in this benchmark".into()))
    }
    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        Err(CapabilityError::Unavailable("not in this benchmark".into()))
    }
}

/// A `/proc/self/status` figure in KiB (`VmRSS`, `VmHWM`).
fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// CPU time (user and system) this process has used so far. moto is another
/// process, so it is not counted.
fn own_cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is valid; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Make `VmHWM` start again from the current RSS (Linux `clear_refs` 5).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
}

/// (8) A connection folder holding `bytes` of specs (0: the one spec alone),
/// in JSON files of at most 512 KiB (the default cap is 1 MiB): lists of
/// role specs, the first holding `bench`. Written as text, a spec at a
/// time, so that making them does not grow this process.
fn spec_folder(bytes: usize) -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    let bench = role_spec().to_string();
    let mut other = role_spec();
    other["conn_id"] = json!("CONN_ID");
    let other = other.to_string();
    let (mut written, mut file, mut n) = (0, 0, 0);
    let mut text = format!("[{bench}");
    loop {
        let spec = other.replace("CONN_ID", &format!("s-{n}"));
        n += 1;
        let full = text.len() + spec.len() + 2 > 512 * 1024;
        if full || written + text.len() + 1 >= bytes {
            text.push(']');
            written += text.len();
            std::fs::write(folder.path().join(format!("specs-{file:03}.json")), &text).unwrap();
            file += 1;
            if written >= bytes {
                return folder;
            }
            text = format!("[{spec}");
        } else {
            text.push(',');
            text.push_str(&spec);
        }
    }
}

/// The spec folders of (8), by name: one spec, 1 MB, 10 MB.
fn spec_folders() -> Vec<(&'static str, tempfile::TempDir)> {
    vec![("one-spec", spec_folder(0)), ("1mb", spec_folder(1_000_000)), ("10mb", spec_folder(10_000_000))]
}

/// `lava-conn resolve bench` from `folder`, against moto.
fn resolve_from_folder(bench: &Bench, cache: &Path, folder: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lava-conn"));
    command
        .args(["resolve", "--realm", "prod", "--job-id", "bench", "--connections"])
        .arg(folder)
        .arg("bench")
        .envs(bench.moto.env())
        .env("LAVA_CONN_COMPILE_CACHE", cache);
    command
}

/// (8) Whole `lava-conn resolve` processes reading a folder of specs: time.
fn spec_folder_times(c: &mut Criterion, bench: &Bench) {
    let cache = tempfile::tempdir().unwrap();
    let folders = spec_folders();
    let mut group = c.benchmark_group("spec-folder");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).measurement_time(Duration::from_secs(8));
    for (name, folder) in &folders {
        run(&mut resolve_from_folder(bench, cache.path(), folder.path()));
        group.bench_function(*name, |b| b.iter(|| run(&mut resolve_from_folder(bench, cache.path(), folder.path()))));
    }
    group.finish();
}

/// (8) The peak RSS of `lava-conn resolve` reading each folder, measured
/// before the bench process grows (a child's peak as `wait4` reports it is
/// at least its parent's when it was spawned): so without moto, resolving a
/// conn id the folder does not hold, which fails once every file is read.
fn spec_folder_facts(facts: &mut BTreeMap<&'static str, Value>) {
    let cache = tempfile::tempdir().unwrap();
    for (name, folder) in spec_folders() {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lava-conn"));
        command
            .args(["resolve", "--realm", "prod", "--job-id", "bench", "--connections"])
            .arg(folder.path())
            .arg("not-in-the-folder")
            .env("LAVA_CONN_COMPILE_CACHE", cache.path())
            .envs([("AWS_REGION", "us-east-1"), ("AWS_EC2_METADATA_DISABLED", "true")]);
        let _ = command.output(); // warms the compile cache
        let (status, peak) = child_status_and_peak_rss_kib(&mut command);
        assert_eq!(status, 2, "the folder was read and the conn id not found");
        let own = proc_status_kib("VmHWM");
        assert!(peak > own, "the child's peak ({peak} KiB) must not be this process's ({own} KiB)");
        let bytes = walk_bytes(folder.path(), "json");
        let (peak_key, bytes_key) = match name {
            "one-spec" => ("spec_folder_one_spec_peak_kib", "spec_folder_one_spec_bytes"),
            "1mb" => ("spec_folder_1mb_peak_kib", "spec_folder_1mb_bytes"),
            _ => ("spec_folder_10mb_peak_kib", "spec_folder_10mb_bytes"),
        };
        facts.insert(peak_key, json!(peak));
        facts.insert(bytes_key, json!(bytes));
    }
}

/// Run `command` and return its peak RSS (KiB), from `wait4`.
fn child_peak_rss_kib(command: &mut Command) -> u64 {
    let (status, peak) = child_status_and_peak_rss_kib(command);
    assert_eq!(status, 0, "the child ran");
    peak
}

/// Run `command` (stdout and stderr discarded): its exit code and peak RSS (KiB), from `wait4`.
#[allow(clippy::zombie_processes, reason = "wait4 reaps the child")]
fn child_status_and_peak_rss_kib(command: &mut Command) -> (i32, u64) {
    let child = command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(pid > 0 && libc::WIFEXITED(status), "the child ran (status {status})");
    (libc::WEXITSTATUS(status), usage.ru_maxrss as u64)
}

fn benches(c: &mut Criterion) {
    let mut process_memory = BTreeMap::new();
    spec_folder_facts(&mut process_memory);
    process_memory_facts(&mut process_memory);
    let bench = Bench::start();
    let facts = facts(&bench, process_memory);
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("lava-conn-facts.json"), serde_json::to_string_pretty(&facts).unwrap()).unwrap();
    validate(c, &bench);
    floor(c);
    resolve_logic(c);
    resolve(c, &bench);
    concurrency(c, &bench);
    processes(c, &bench);
    spec_folder_times(c, &bench);
    lava_family(c);
}

criterion_group!(host_benches, benches);

/// A spec of each built-in lava family, its password (or key) from SSM.
fn family_specs() -> Vec<(&'static str, Value)> {
    let db = |t: &str| {
        json!({"conn_id": "bench", "type": t, "enabled": true, "host": "db.example.com", "port": 5432,
               "database": "d", "user": "etl", "password": "/lava/prod/pw"})
    };
    vec![
        ("postgres", db("postgres")),
        ("mysql", db("mysql")),
        (
            "oracle",
            json!({"conn_id": "bench", "type": "oracle", "enabled": true, "host": "ora.example.com",
                          "port": 1521, "service_name": "S", "user": "etl", "password": "/lava/prod/pw"}),
        ),
        (
            "ssh",
            json!({"conn_id": "bench", "type": "ssh", "enabled": true, "ssh_key": "/lava/prod/pw",
                       "ssh_options": ["StrictHostKeyChecking=no"]}),
        ),
        ("sqlite3", json!({"conn_id": "bench", "type": "sqlite3", "enabled": true, "host": "/data/app.db"})),
        (
            "generic",
            json!({"conn_id": "bench", "type": "generic", "enabled": true,
                           "attributes": {"url": "https://x", "token": {"type": "ssm", "parameter": "/lava/prod/pw"}}}),
        ),
    ]
}

/// Answers every SSM read at once, with the same text.
struct SsmBackend;

#[lava_conn::async_trait]
impl AwsBackend for SsmBackend {
    fn region(&self) -> Option<String> {
        Some("us-east-1".into())
    }
    async fn get_parameter(&self, _: &str, _: bool) -> Result<String, CapabilityError> {
        Ok("s3cr3t".into())
    }
    async fn assume_role(&self, _: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        Err(CapabilityError::Unavailable("not in this benchmark".into()))
    }
    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        Err(CapabilityError::Unavailable("not in this benchmark".into()))
    }
}

/// (10) lava's families, built in: validate, and resolve without network
/// (SSM answered at once), each through the sandbox.
fn lava_family(c: &mut Criterion) {
    let host = host_with(test_config(), Arc::new(SsmBackend));
    let mut group = c.benchmark_group("family");
    for (family, spec) in family_specs() {
        assert_eq!(host.validate(&spec, Some("prod")).unwrap(), [], "{family}");
        host.resolve_uncached(&spec, &job("bench")).unwrap();
        group.bench_function(format!("validate-{family}"), |b| {
            b.iter(|| host.validate(black_box(&spec), Some("prod")).unwrap())
        });
        group.bench_function(format!("resolve-{family}"), |b| {
            b.iter(|| host.resolve_uncached(black_box(&spec), &job("bench")).unwrap())
        });
    }
    group.finish();
}

/// The AssumeRole the aws plugin sends for `role_spec()`, tags and policy ARN included.
fn assume_role_as_the_plugin_does(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
) -> aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder {
    sts.assume_role()
        .role_arn(role_arn)
        .role_session_name("lv-prod-bench")
        .duration_seconds(7200)
        .tags(aws_sdk_sts::types::Tag::builder().key("team").value("data").build().unwrap())
        .policy_arns(
            aws_sdk_sts::types::PolicyDescriptorType::builder().arn("arn:aws:iam::aws:policy/ReadOnlyAccess").build(),
        )
}

/// Set in the environment of this binary run as the SDK floor (4): a plain
/// Rust process that makes the GetItem and AssumeRole of `lava-conn resolve`.
const FLOOR_MODE: &str = "LAVA_BENCH_SDK_FLOOR";

/// The floor for `lava-conn resolve` as a process: the same two AWS calls
/// with the AWS SDK alone, on the same runtime shape and SDK settings, the
/// credentials printed as JSON. No sandbox, no plugin, no caches.
fn sdk_floor() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let sdk = lava_conn::load_sdk_config().await;
        let item = aws_sdk_dynamodb::Client::new(&sdk)
            .get_item()
            .table_name("lava.prod.connections")
            .key("conn_id", aws_sdk_dynamodb::types::AttributeValue::S("bench".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        let role_arn = item["role_arn"].as_s().unwrap();
        let output = assume_role_as_the_plugin_does(&aws_sdk_sts::Client::new(&sdk), role_arn).send().await.unwrap();
        let credentials = output.credentials.unwrap();
        println!(
            "{}",
            json!({"access_key_id": credentials.access_key_id, "secret_access_key": credentials.secret_access_key,
                   "session_token": credentials.session_token})
        );
    });
}

fn main() {
    if std::env::var_os(FLOOR_MODE).is_some() {
        return sdk_floor();
    }
    host_benches();
    criterion::Criterion::default().configure_from_args().final_summary();
}
