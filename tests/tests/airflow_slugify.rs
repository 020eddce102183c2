//! The airflow-aws session name against the real python-slugify (the
//! version and transliteration backend Airflow installs), over a few thousand
//! generated conn ids: accents, CJK, emoji, punctuation runs, quotes, HTML
//! entities, digits with commas. Differential: python-slugify is the oracle.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use lava_conn::{ConnectorHost, Job};
use lava_conn_tests::{AIRFLOW_AWS_COMPONENT, FakeAws, plugin_dir, test_config};
use lava_guest_airflow_aws::default_session_name;
use serde_json::{Value, json};

/// Pieces conn ids are made of, each a known trap of slugify's.
const PIECES: &[&str] = &[
    "aws",
    "default",
    "S3",
    "x",
    "_",
    "-",
    "--",
    "/",
    "\\",
    ".",
    ",",
    "+",
    "=",
    "@",
    "#",
    "!",
    "(",
    ")",
    ":",
    " ",
    "  ",
    "\t",
    "'",
    "''",
    "\"",
    "`",
    "é",
    "Ü",
    "ø",
    "ß",
    "Æ",
    "ﬁ",
    "İ",
    "Σ",
    "ς",
    "東京",
    "한국",
    "ру",
    "ﷺ",
    "①",
    "²",
    "½",
    "😀",
    "👩‍💻",
    "\u{200d}",
    "\u{301}",
    "\u{feff}",
    "&amp;",
    "&lt;",
    "&eacute;",
    "&szlig;",
    "&nbsp;",
    "&#65;",
    "&#x42;",
    "&#X43;",
    "&#99999999;",
    "&#55296;",
    "&#39;",
    "&#1633;",
    "&apos;",
    "&bogus;",
    "&",
    ";",
    "1,000",
    "1,2,3",
    ",5",
    "٣,٤",
    "0",
    "42",
    "\u{0}",
    "ǅ",
    "Ⅻ",
    "ｆｕｌｌ",
];

/// A small deterministic generator, so that a failure can be reproduced.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn conn_ids(count: usize) -> Vec<String> {
    let mut rng = XorShift(0x005e_ed1a_7ac0_ffee);
    (0..count)
        .map(|i| {
            // Every 25th is long: past STS's 64 characters once slugified.
            let pieces = if i % 25 == 0 { 40 } else { 1 + rng.next() % 10 };
            (0..pieces).map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize]).collect()
        })
        .collect()
}

/// python-slugify's answers, from the test venv (`./dev setup` installs it).
fn python_slugify(names: &[String]) -> Vec<String> {
    let python = lava_test_moto::venv_program("python");
    let script = r#"
import importlib.util, json, sys
# slugify prefers the `unidecode` package when present; Airflow installs text-unidecode only.
assert importlib.util.find_spec("unidecode") is None, "the GPL unidecode package is installed: remove it"
from slugify import slugify
names = json.load(sys.stdin)
json.dump([slugify(n, regex_pattern=r"[^\w+=,.@-]+") for n in names], sys.stdout)
"#;
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the venv's python runs");
    let input = serde_json::to_vec(&json!(names)).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python-slugify failed (run ./dev setup)");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_port_agrees_with_python_slugify_on_thousands_of_conn_ids() {
    let ids = conn_ids(4_000);
    let names: Vec<String> = ids.iter().map(|id| format!("Airflow_{id}")).collect();
    let expected = python_slugify(&names);
    let differ: Vec<String> = ids
        .iter()
        .zip(&expected)
        .filter(|(id, want)| default_session_name(id) != **want)
        .map(|(id, want)| format!("{id:?}: python {want:?}, port {:?}", default_session_name(id)))
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} differ:\n{}",
        differ.len(),
        ids.len(),
        differ[..differ.len().min(20)].join("\n")
    );
    // The generator reached the interesting cases.
    assert!(expected.iter().any(|s| !s.is_ascii()), "an entity-decoded letter survives somewhere");
    assert!(expected.iter().any(|s| s.chars().count() > 64), "some names are too long for STS");
}

#[test]
fn the_component_names_sessions_as_python_slugify_does() {
    let plugins = plugin_dir(&[("airflow-aws.wasm", AIRFLOW_AWS_COMPONENT)]);
    let host = ConnectorHost::builder()
        .config(test_config())
        .plugin_dir(plugins.path())
        .backend(Arc::new(FakeAws::default()))
        .build()
        .unwrap();
    let ids: Vec<String> = conn_ids(300).into_iter().filter(|id| !id.is_empty()).collect();
    let names: Vec<String> = ids.iter().map(|id| format!("Airflow_{id}")).collect();
    let expected = python_slugify(&names);
    let job = Job { realm: "prod".into(), job_id: "j".into() };
    for (id, want) in ids.iter().zip(&expected) {
        let spec: Value = json!({"type": "airflow-aws", "conn_id": id});
        match host.session_name(&spec, &job).unwrap() {
            Ok(name) => assert_eq!(&name, want, "{id:?}"),
            // Past 64 characters, or a non-ASCII letter: STS would refuse it,
            // so the connector says so, naming the slug and the fix.
            Err(problems) => {
                let valid = lava_rules_is_valid(want);
                assert!(!valid, "{id:?}: python gives the valid {want:?}, the component refused: {problems:?}");
                assert!(problems[0].message.contains("RoleSessionName"), "{problems:?}");
            }
        }
    }
}

/// STS's rule for a role-session name, written out here as an independent oracle.
fn lava_rules_is_valid(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}
