//! Arbitrary JSON through the real wasm boundary: the host never panics, and
//! the real connectors always answer (problems, a name, or a resolve error);
//! they never trap, whatever the spec.

use std::sync::Arc;

use lava_conn::{ConnectorHost, HostError, Job};
use lava_conn_tests::{AIRFLOW_AWS_COMPONENT, FakeAws, host_with, plugin_dir, test_config};
use serde_json::{Map, Value, json};

/// xorshift64*: deterministic, so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIELDS: &[&str] = &[
    "conn_id",
    "type",
    "enabled",
    "description",
    "owner",
    "secret_id",
    "access_keys",
    "role_arn",
    "duration",
    "external_id",
    "policy_arns",
    "policy",
    "region",
    "tags",
    "login",
    "password",
    "extra",
    "uri",
    "X-note",
    "aws_account_id",
    "aws_iam_role",
    "region_name",
    "endpoint_url",
    "assume_role_kwargs",
    "DurationSeconds",
    "Tags",
];

const STRINGS: &[&str] = &[
    "",
    "aws",
    "AWS",
    "airflow-aws",
    "3h",
    " 2 h ",
    "1e400h",
    "-5m",
    "nan",
    "/lava/prod/aws/keys",
    "/lava/../x",
    "arn:aws:iam::123456789012:role/r",
    "arn:aws:iam::aws:policy/P",
    "us-east-1",
    "aws://a:b@/?role_arn=x&__extra__=%7B%7D",
    "aws://%ZZ@/",
    "{\"role_arn\": 1}",
    "é\u{0}\u{202e}😀",
    "'\"\\",
    "{{ realm }}",
    "http://localhost:1",
];

fn value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 3 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!((rng.next() as f64) / 7.0 * if rng.below(2) == 0 { 1.0 } else { -1e-9 }),
        4 | 5 => Value::String(rng.pick(STRINGS).to_string()),
        6 => Value::String("x".repeat(rng.below(5000) as usize)),
        7 => Value::Array((0..rng.below(12)).map(|_| value(rng, depth + 1)).collect()),
        _ => object(rng, depth + 1),
    }
}

fn object(rng: &mut Rng, depth: u32) -> Value {
    let mut map = Map::new();
    for _ in 0..rng.below(10) {
        let key = if rng.below(4) == 0 { format!("k{}", rng.below(100)) } else { rng.pick(FIELDS).to_string() };
        map.insert(key, value(rng, depth));
    }
    Value::Object(map)
}

fn spec(rng: &mut Rng) -> Value {
    let mut spec = object(rng, 1);
    if let Value::Object(map) = &mut spec {
        match rng.below(5) {
            0 => {}
            1 | 2 => {
                map.insert("type".into(), json!("aws"));
            }
            _ => {
                map.insert("type".into(), json!("airflow-aws"));
            }
        }
    }
    spec
}

#[test]
fn arbitrary_specs_never_crash_the_host_or_trap_a_connector() {
    let plugins = plugin_dir(&[("airflow-aws.wasm", AIRFLOW_AWS_COMPONENT)]);
    let host: ConnectorHost = host_with(test_config(), Some(plugins.path()), Arc::new(FakeAws::default()));
    let job = Job { realm: "prod".into(), job_id: "property".into() };
    let mut rng = Rng(0x5EED_1A7A_C0DE_0001);
    let mut answered = 0;
    for case in 0..400 {
        let spec = spec(&mut rng);
        let context = format!("case {case}: {}", spec.to_string().chars().take(300).collect::<String>());
        let problems = host.validate(&spec, Some("prod")).unwrap_or_else(|e| panic!("{context}: validate failed: {e}"));
        let named = host.session_name(&spec, &job).unwrap_or_else(|e| panic!("{context}: session-name failed: {e}"));
        if let Ok(name) = &named {
            assert!((2..=64).contains(&name.len()), "{context}: {name}");
        }
        // Resolve agrees with validate: a spec with errors never resolves, and
        // its failure names a field that validate named; a spec without
        // errors fails, if at all, for a reason other than its own validity.
        let errors: Vec<&str> =
            problems.iter().filter(|p| p.severity == lava_conn::Severity::Error).map(|p| p.field.as_str()).collect();
        match host.resolve_uncached(&spec, &job) {
            Ok(_) => assert!(errors.is_empty(), "{context}: resolved despite errors on {errors:?}"),
            Err(HostError::Plugin(e)) => panic!("{context}: resolve trapped: {e}"),
            Err(e) => {
                let message = e.to_string();
                if errors.is_empty() {
                    assert!(!message.contains("invalid"), "{context}: valid, yet resolve says {message}");
                } else {
                    assert!(
                        errors.iter().any(|field| message.contains(field)),
                        "{context}: resolve's error names none of {errors:?}: {message}"
                    );
                }
            }
        }
        answered += usize::from(!problems.is_empty() || named.is_ok());
    }
    assert_eq!(answered, 400, "every case got problems or a name");
}
