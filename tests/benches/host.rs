//! `./dev bench`: the sandbox's cost against native logic, the cache, and a
//! resolve against a real moto server. Figures are medians; ratios are
//! against a baseline measured in the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use lava_conn::aws::{SdkBackend, configure};
use lava_conn::{ConnectorHost, Job, WorkerConfig};
use lava_conn_tests::test_config;
use lava_test_moto::Moto;
use serde_json::json;

/// Median time of one `op`, over `rounds` rounds of `per_round` calls.
fn median(rounds: usize, per_round: usize, mut op: impl FnMut()) -> Duration {
    for _ in 0..per_round {
        op();
    }
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_round {
                op();
            }
            start.elapsed() / per_round as u32
        })
        .collect();
    samples.sort();
    samples[rounds / 2]
}

fn micros(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let spec = json!({
        "conn_id": "bench", "type": "aws", "enabled": true,
        "role_arn": "arn:aws:iam::123456789012:role/bench", "duration": "2h",
        "tags": {"team": "data"}, "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    });
    let json_text = spec.to_string();
    let settings = lava_guest_aws::spec::Settings { realm: Some("prod".into()), ..Default::default() };
    let native = median(21, 2_000, || {
        black_box(lava_guest_aws::validate(black_box(&json_text), &settings));
    });

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let moto = Moto::start(&json!({
        "roles": ["bench"],
        "tables": [{"name": "lava.prod.connections", "items": [spec.clone()]}],
    }));
    let sdk = runtime.block_on(configure(moto.sdk_loader()).load());
    let host_for = |config: WorkerConfig| {
        ConnectorHost::builder()
            .config(config)
            .backend(SdkBackend::new(sdk.clone(), runtime.handle().clone()))
            .build()
            .unwrap()
    };
    let host = host_for(test_config());
    let sandboxed = median(21, 500, || {
        black_box(host.validate(black_box(&spec), Some("prod")).unwrap());
    });

    // The floor of the sandbox: a fresh instance and a near-empty call
    // (`describe` of the tiny hostile test plugin), pooled and on demand.
    let floor_plugins = lava_conn_tests::plugin_dir(&[("hostile.wasm", lava_conn_tests::HOSTILE_COMPONENT)]);
    let floor = |pooling_allocator: bool| {
        let host = ConnectorHost::builder()
            .config(WorkerConfig { pooling_allocator, ..test_config() })
            .plugin_dir(floor_plugins.path())
            .build()
            .unwrap();
        let spec = json!({"type": "hostile", "conn_id": "fine"});
        median(21, 1_000, || {
            black_box(host.validate(black_box(&spec), None).unwrap());
        })
    };
    let floor_pooled = floor(true);
    let floor_on_demand = floor(false);

    let job = Job { realm: "prod".into(), job_id: "bench".into() };
    runtime.block_on(host.resolve_spec(spec.clone(), &job)).unwrap();
    let hit = runtime.block_on(async {
        let mut samples = Vec::new();
        for _ in 0..21 {
            let start = Instant::now();
            for _ in 0..10_000 {
                black_box(host.resolve_spec(spec.clone(), &job).await.unwrap());
            }
            samples.push(start.elapsed() / 10_000);
        }
        samples.sort();
        samples[10]
    });

    // Uncached: a zero TTL caches nothing, so every resolve is a full round.
    let uncached_host = host_for(WorkerConfig { aws_access_key_cache_ttl: "0s".into(), ..test_config() });
    let uncached = median(51, 1, || {
        runtime.block_on(uncached_host.resolve_spec(spec.clone(), &job)).unwrap();
    });
    // The same AssumeRole straight through the SDK: the part that is not the host's.
    let sts = aws_sdk_sts::Client::new(&sdk);
    let sdk_only = median(51, 1, || {
        runtime
            .block_on(
                sts.assume_role()
                    .role_arn("arn:aws:iam::123456789012:role/bench")
                    .role_session_name("lv-prod-bench")
                    .duration_seconds(7200)
                    .send(),
            )
            .unwrap();
    });
    let overhead = uncached.saturating_sub(sdk_only);

    let concurrent_host = host_for(test_config());
    let moto_calls_before = moto.assume_role_requests("arn:aws:iam::123456789012:role/bench").len();
    let started = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let (host, spec) = (concurrent_host.clone(), spec.clone());
                let job = Job { realm: "prod".into(), job_id: format!("c{}", i % 10) };
                tokio::spawn(async move { host.resolve_spec(spec, &job).await.map(|_| ()) })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    let wall = started.elapsed();
    let sts_calls = moto.assume_role_requests("arn:aws:iam::123456789012:role/bench").len() - moto_calls_before;

    let processes = whole_process(&moto);

    println!("| measure | figure | ratio |");
    println!("|---|---|---|");
    println!("| validate, native logic | {} | 1.0× |", micros(native));
    println!(
        "| validate, fresh pooled instance per call | {} | {:.1}× native |",
        micros(sandboxed),
        sandboxed.as_secs_f64() / native.as_secs_f64()
    );
    println!("| fresh instance + near-empty call, pooling | {} | 1.0× |", micros(floor_pooled));
    println!(
        "| fresh instance + near-empty call, on-demand | {} | {:.1}× pooling |",
        micros(floor_on_demand),
        floor_on_demand.as_secs_f64() / floor_pooled.as_secs_f64()
    );
    println!("| resolve, cache hit | {:.0} ns | — |", hit.as_secs_f64() * 1e9);
    println!("| resolve, uncached, against moto (median of 51) | {} | 1.0× |", micros(uncached));
    println!(
        "| the same AssumeRole, SDK only | {} | {:.2}× of uncached |",
        micros(sdk_only),
        sdk_only.as_secs_f64() / uncached.as_secs_f64()
    );
    println!(
        "| host overhead of an uncached resolve | {} | {:.1} % |",
        micros(overhead),
        100.0 * overhead.as_secs_f64() / uncached.as_secs_f64()
    );
    for row in processes {
        println!("{row}");
    }
    println!(
        "| 1000 concurrent resolves over 10 jobs | {:.1} ms wall, {sts_calls} STS calls | — |",
        wall.as_secs_f64() * 1e3
    );
}

/// Median wall time of running `command` `runs` times (after one warm-up run).
fn process_median(runs: usize, mut command: impl FnMut() -> std::process::Command) -> Duration {
    let mut samples: Vec<Duration> = (0..=runs)
        .map(|_| {
            let started = Instant::now();
            let out = command().output().expect("the command runs");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            started.elapsed()
        })
        .skip(1)
        .collect();
    samples.sort();
    samples[runs / 2]
}

/// Whole processes: `lava-conn` (warm and cold compile cache) against lava
/// 8.3.0 resolving the same DynamoDB connection against the same moto.
/// `./dev bench` provides the release binary and lava's venv.
fn whole_process(moto: &Moto) -> Vec<String> {
    let (Some(binary), Some(lava_python)) = (std::env::var_os("LAVA_CONN_BIN"), std::env::var_os("LAVA_PYTHON")) else {
        return vec!["| whole-process rows | skipped: run through `./dev bench` | — |".into()];
    };
    let caches = tempfile::tempdir().unwrap();
    let warm_cache = caches.path().join("warm");
    let lava_conn = |cache: &std::path::Path, args: &[&str]| {
        let mut command = std::process::Command::new(&binary);
        command.args(args).envs(moto.env()).env("LAVA_CONN_COMPILE_CACHE", cache);
        command
    };
    let resolve = ["resolve", "--realm", "prod", "--job-id", "bench", "--connections", "dynamodb", "bench"];
    let warm = process_median(21, || lava_conn(&warm_cache, &resolve));
    let mut cold_runs = 0;
    let cold = process_median(5, || {
        cold_runs += 1;
        lava_conn(&caches.path().join(format!("cold-{cold_runs}")), &resolve)
    });
    let spec_file = caches.path().join("spec.json");
    let spec = json!({"conn_id": "v", "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::123456789012:role/v"});
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let validate = process_median(21, || lava_conn(&warm_cache, &["validate", spec_file.to_str().unwrap()]));
    let lava = process_median(7, || {
        let mut command = std::process::Command::new(&lava_python);
        command
            .args([
                "-c",
                "from lava.connection import get_aws_session\n\
                 get_aws_session('bench', 'prod').get_credentials().get_frozen_credentials()",
            ])
            .envs(moto.env());
        command
    });
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    vec![
        format!("| lava 8.3.0 `get_aws_session`, whole process (median of 7) | {:.1} ms | 1.0× |", ms(lava)),
        format!(
            "| `lava-conn resolve`, whole process, warm compile cache (median of 21) | {:.1} ms | {:.1}× faster than lava |",
            ms(warm),
            lava.as_secs_f64() / warm.as_secs_f64()
        ),
        format!(
            "| `lava-conn resolve`, whole process, cold compile cache (median of 5) | {:.1} ms | {:.1}× faster than lava |",
            ms(cold),
            lava.as_secs_f64() / cold.as_secs_f64()
        ),
        format!(
            "| `lava-conn validate` of one spec, whole process, warm cache (median of 21) | {:.1} ms | — |",
            ms(validate)
        ),
    ]
}
