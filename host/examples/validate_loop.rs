//! Profiling aid: validate one spec through the sandbox N times.
//! `perf record target/release/examples/validate_loop 20000 [PLUGIN_DIR SPEC_JSON]`
//! (without a plugin folder: a role spec through the built-in aws connector).

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let mut builder = lava_conn::ConnectorHost::builder();
    let mut spec = serde_json::json!({
        "conn_id": "bench", "type": "aws", "enabled": true,
        "role_arn": "arn:aws:iam::123456789012:role/bench", "duration": "2h",
        "tags": {"team": "data"}, "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    });
    if let (Some(folder), Some(json)) = (args.next(), args.next()) {
        builder = builder.plugin_dir(folder);
        spec = serde_json::from_str(&json).expect("SPEC_JSON is JSON");
    }
    let host = builder.build().expect("host");
    let started = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(host.validate(&spec, Some("prod")).expect("validate"));
    }
    println!("{:.2} µs per validate", started.elapsed().as_secs_f64() * 1e6 / n as f64);
}
