//! Profiling aid: N uncached resolves of a role connection against a moto
//! server (`perf record target/release/examples/resolve_loop 300`).

use lava_conn::{ConnectorHost, Job, WorkerConfig};
use lava_conn::{SdkBackend, configure_sdk};
use lava_test_moto::Moto;
use serde_json::json;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    let moto = Moto::start(&json!({"roles": ["loop"]}));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sdk = runtime.block_on(configure_sdk(moto.sdk_loader()).load());
    let host = ConnectorHost::builder()
        .config(WorkerConfig { aws_access_key_cache_ttl: "0s".into(), ..WorkerConfig::default() })
        .backend(SdkBackend::new(sdk))
        .build()
        .unwrap();
    let spec =
        json!({"conn_id": "loop", "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::123456789012:role/loop"});
    let job = Job { realm: "prod".into(), job_id: "loop".into() };
    let started = std::time::Instant::now();
    for _ in 0..n {
        runtime.block_on(host.resolve_spec(spec.clone(), &job)).unwrap();
    }
    println!("{:.0} µs per uncached resolve", started.elapsed().as_secs_f64() * 1e6 / n as f64);
}
