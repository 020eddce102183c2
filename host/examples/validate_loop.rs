//! Profiling aid: validate one spec through the sandbox N times
//! (`perf record target/release/examples/validate_loop 20000`).

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let host = lava_conn::ConnectorHost::builder().build().expect("host");
    let spec = serde_json::json!({
        "conn_id": "bench", "type": "aws", "enabled": true,
        "role_arn": "arn:aws:iam::123456789012:role/bench", "duration": "2h",
        "tags": {"team": "data"}, "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    });
    let started = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(host.validate(&spec, Some("prod")).expect("validate"));
    }
    println!("{:.2} µs per validate", started.elapsed().as_secs_f64() * 1e6 / n as f64);
}
