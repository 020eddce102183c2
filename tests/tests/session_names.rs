//! Role-session names from the aws component in the real host.

use std::sync::{Arc, OnceLock};

use lava_conn::{ConnectorHost, Job, WorkerConfig};
use lava_conn_tests::{FakeAws, host_with, test_config};
use serde_json::{Value, json};

fn host() -> &'static ConnectorHost {
    static HOST: OnceLock<ConnectorHost> = OnceLock::new();
    HOST.get_or_init(|| host_with(test_config(), None, Arc::new(FakeAws::default())))
}

fn spec(conn_id: &str) -> Value {
    json!({"conn_id": conn_id, "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::123456789012:role/r"})
}

fn name_in(host: &ConnectorHost, realm: &str, job_id: &str, conn_id: &str) -> String {
    let job = Job { realm: realm.into(), job_id: job_id.into() };
    host.session_name(&spec(conn_id), &job).expect("the plugin runs").expect("the spec is valid")
}

fn name(realm: &str, job_id: &str) -> String {
    name_in(host(), realm, job_id, "aws1")
}

fn assert_valid(name: &str) {
    assert!((2..=64).contains(&name.len()), "{name:?} has {} characters", name.len());
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)),
        "{name:?} has characters STS rejects"
    );
}

#[test]
fn lavas_names_where_they_are_valid() {
    let cases = [
        ("prod", "daily-load", "lv-prod-daily-load"),
        ("prod", "café crème", "lv-prod-cafe.creme"),
        ("prod", "Ångström/Ørsted", "lv-prod-Angstrom.rsted"),
        ("prod", "ﬁnance ﬂow", "lv-prod-finance.flow"),
        ("prod", "ＦＵＬＬ－ｗｉｄｔｈ１", "lv-prod-FULL-width1"),
        ("prod", "データ処理", "lv-prod-"),
        ("prod", "load 🚀 now", "lv-prod-load.now"),
        ("prod", r#"it's "quoted""#, "lv-prod-its.quoted"),
        ("prod", r"back\slash", "lv-prod-backslash"),
        ("prod", "a:b;c", "lv-prod-a.b.c"),
        ("prod", "x=1,y@z", "lv-prod-x=1,y@z"),
        ("dev_1", "job", "lv-dev_1-job"),
    ];
    for (realm, job, expected) in cases {
        let got = name(realm, job);
        assert_eq!(got, expected, "realm {realm:?} job {job:?}");
        assert_valid(&got);
    }
}

#[test]
fn long_names_are_cut_to_64() {
    let got = name("prod", &"j".repeat(100));
    assert_eq!(got.len(), 64);
    assert_eq!(got, format!("lv-prod-{}", "j".repeat(56)));
}

#[test]
fn empty_realm_or_job_gives_lava() {
    assert_eq!(name("", "job"), "lava");
    assert_eq!(name("prod", ""), "lava");
}

#[test]
fn punctuation_only_ids_stay_valid() {
    let config = WorkerConfig { conn_app_name: "{{ job_id }}".into(), ..test_config() };
    let host = host_with(config, None, Arc::new(FakeAws::default()));
    for job in ["!!!", "...", "'\"\\", "🚀", "x", "é", "データ"] {
        let got = name_in(&host, "prod", job, "aws1");
        assert_eq!(got, "lava", "job {job:?}");
    }
    assert_eq!(name_in(&host, "prod", "--ab", "aws1"), "ab");
}

#[test]
fn templates_come_from_config() {
    let config = WorkerConfig { conn_app_name: "{{ conn_id }}@{{ realm }}".into(), ..test_config() };
    let host = host_with(config, None, Arc::new(FakeAws::default()));
    assert_eq!(name_in(&host, "prod", "j", "my conn"), "my.conn@prod");
}

#[test]
fn a_template_naming_what_is_not_defined_is_refused_when_the_host_starts_naming_the_setting() {
    let config = WorkerConfig { conn_app_name: "{{ unknown_variable }}".into(), ..test_config() };
    let error = lava_conn::ConnectorHost::builder().config(config).build().err().expect("refused at start").to_string();
    assert!(error.contains("CONN_APP_NAME") && error.contains("unknown_variable"), "{error}");
    // A template that renders for some jobs and not others fails those
    // calls, naming the setting.
    let config = WorkerConfig { conn_app_name: "{{ job_id | int }}".into(), ..test_config() };
    let host = host_with(config, None, Arc::new(FakeAws::default()));
    let job = Job { realm: "prod".into(), job_id: "j".into() };
    let problems = host.session_name(&spec("aws1"), &job).unwrap().unwrap_err();
    assert_eq!(problems[0].field, "CONN_APP_NAME", "{problems:?}");
}

#[test]
fn an_invalid_spec_gives_its_problems() {
    let job = Job { realm: "prod".into(), job_id: "j".into() };
    let bad = json!({"conn_id": "c", "type": "aws", "enabled": true, "role_arn": "nope"});
    let problems = host().session_name(&bad, &job).unwrap().unwrap_err();
    assert!(problems.iter().any(|p| p.field == "role_arn"), "{problems:?}");
}

#[test]
fn a_template_nested_as_deep_as_jinja_allows_renders_and_deeper_is_refused_with_the_configuration() {
    // The host renders the template (plugins get the name): minijinja's own
    // nesting limit (150 levels of parsing) refuses the deeper ones when the
    // configuration is checked, before any call.
    let parens = |depth: usize| format!("{}job_id{}", "(".repeat(depth), ")".repeat(depth));
    let expression = |depth: usize| format!("{{{{ {} ~ ({}) }}}}", parens(depth), parens(depth));
    let blocks = |depth: usize| {
        format!("{}{{{{ job_id ~ job_id }}}}{}", "{% if job_id %}".repeat(depth), "{% endif %}".repeat(depth))
    };
    let job = Job { realm: "prod".into(), job_id: "deep".into() };
    for (template, renders) in
        [(expression(70), true), (expression(1000), false), (blocks(140), true), (blocks(1000), false)]
    {
        let config = WorkerConfig { conn_app_name: template.clone(), ..test_config() };
        match lava_conn::ConnectorHost::builder().config(config).build() {
            Ok(host) => {
                assert!(renders, "{template}");
                assert_eq!(host.session_name(&spec("aws1"), &job).unwrap(), Ok("deepdeep".to_string()));
            }
            Err(error) => assert!(!renders && error.to_string().contains("CONN_APP_NAME"), "{template}: {error}"),
        }
    }
}
