use lava_guest_kit::testing::FakeHost;
use lava_guest_kit::{LauncherKind, RawConnector, Severity};
use serde_json::{Value, json};

use super::*;

fn validate(spec: &Value) -> Vec<(String, Severity, String)> {
    let context = ValidateContext::in_realm("prod");
    let problems = Postgres.validate_json(&spec.to_string(), &context, &FakeHost::default());
    problems.into_iter().map(|p| (p.field, p.severity, p.message)).collect()
}

fn fields(spec: &Value) -> Vec<String> {
    validate(spec).into_iter().map(|(field, ..)| field).collect()
}

fn spec(connector_type: &str) -> Value {
    json!({"conn_id": "warehouse", "type": connector_type, "enabled": true, "host": "db.example.com",
        "port": 5432, "database": "sales", "user": "etl", "password": "/lava/prod/warehouse/password"})
}

fn with(mut spec: Value, changes: Value) -> Value {
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            spec.as_object_mut().unwrap().remove(key);
        } else {
            spec[key] = value.clone();
        }
    }
    spec
}

fn job() -> JobContext {
    JobContext {
        realm: "prod".into(),
        job_id: "j1".into(),
        conn_id: "warehouse".into(),
        session_name: "lv-prod-j1".into(),
    }
}

#[test]
fn a_complete_spec_of_every_type_of_the_family_has_no_problems() {
    for connector_type in <Postgres as Connector>::TYPES {
        assert_eq!(validate(&spec(connector_type)), vec![], "{connector_type}");
    }
    assert_eq!(validate(&spec("PSQL")), vec![], "any case, as lava lowers it");
}

#[test]
fn a_port_is_a_number_or_a_string_of_digits_as_lava_takes_it() {
    assert_eq!(validate(&with(spec("psql"), json!({"port": "5439"}))), vec![]);
    let bad = validate(&with(spec("psql"), json!({"port": "abc"})));
    assert_eq!(bad[0].0, "port");
    assert!(bad[0].2.contains("port number from 1 to 65535"), "{bad:?}");
    assert_eq!(fields(&with(spec("psql"), json!({"port": 70000}))), ["port"]);
    assert_eq!(fields(&with(spec("psql"), json!({"port": 0}))), ["port"]);
}

#[test]
fn without_a_password_only_the_iam_types_are_valid_as_lava_says_password_must_be_specified() {
    let bare = |t: &str| with(spec(t), json!({"password": null}));
    for plain in ["psql", "postgres"] {
        let problems = validate(&bare(plain));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "password");
        assert!(problems[0].2.contains(&format!("is required for a `{plain}` connection")), "{problems:?}");
    }
    for iam in ["postgres-rds", "postgres-aurora", "redshift", "redshift-serverless"] {
        assert_eq!(validate(&bare(iam)), vec![], "{iam}");
    }
    // Redshift Serverless names its user from the IAM identity.
    assert_eq!(validate(&with(bare("redshift-serverless"), json!({"user": null}))), vec![]);
    assert_eq!(fields(&with(bare("redshift"), json!({"user": null}))), ["user"]);
}

#[test]
fn a_login_value_the_host_would_refuse_at_the_jobs_start_is_said_at_validate() {
    let bad = with(spec("postgres"), json!({"host": "db example.com", "user": "-oProxyCommand=x"}));
    let problems = validate(&bad);
    let named: Vec<(&str, &str)> = problems.iter().map(|(f, _, m)| (f.as_str(), m.as_str())).collect();
    assert_eq!(
        named,
        [
            ("host", "is not a host name or address"),
            ("user", "starts with `-`, which a client would read as an option")
        ]
    );
}

#[test]
fn a_secret_id_may_fill_every_login_field_the_spec_leaves_out() {
    let from_secret = json!({"conn_id": "w", "type": "postgres", "enabled": true, "secret_id": "prod/warehouse"});
    assert_eq!(validate(&from_secret), vec![]);
    let bare = json!({"conn_id": "w", "type": "postgres", "enabled": true});
    assert_eq!(fields(&bare), ["host", "database", "user", "port", "password"]);
}

#[test]
fn a_field_of_another_member_of_the_family_is_an_error_naming_where_it_applies() {
    let problems = validate(&with(spec("postgres"), json!({"cluster_id": "c1", "workgroup": "w"})));
    let named: Vec<(&str, &str)> = problems.iter().map(|(f, _, m)| (f.as_str(), m.as_str())).collect();
    assert_eq!(
        named,
        [
            ("cluster_id", "applies only to `redshift` connections, not `postgres`"),
            ("workgroup", "applies only to `redshift-serverless` connections, not `postgres`")
        ]
    );
    assert_eq!(validate(&with(spec("redshift"), json!({"cluster_id": "c1", "password_duration": "30m"}))), vec![]);
}

#[test]
fn lavas_tls_modes_only_and_no_ca_file_yet() {
    for mode in ["require", "verify-ca", "verify-full"] {
        assert_eq!(validate(&with(spec("psql"), json!({"ssl_mode": mode}))), vec![], "{mode}");
    }
    let problems = validate(&with(spec("psql"), json!({"ssl_mode": "disable"})));
    assert_eq!(problems[0].2, "must be `require`, `verify-ca` or `verify-full` (lava's modes), not `disable`");
    assert_eq!(
        fields(&with(spec("psql"), json!({"ssl_ca_file": "/etc/ca.pem", "ca_cert": "s3://b/ca"}))),
        ["ssl_ca_file", "ca_cert"]
    );
    let both = validate(&with(spec("psql"), json!({"ssl_mode": "require", "ssl": true})));
    assert_eq!((both[0].0.as_str(), both[0].1), ("ssl", Severity::Warning));
}

#[test]
fn redshift_durations_and_serverless_role_fields_are_checked_before_any_call() {
    let short = validate(&with(spec("redshift"), json!({"password_duration": "5m"})));
    assert_eq!(short[0].0, "password_duration");
    assert!(short[0].2.contains("not 300 s"), "{short:?}");
    let serverless = with(spec("redshift-serverless"), json!({"role_arn": "not-an-arn", "region": "mars-1"}));
    assert_eq!(fields(&serverless), ["role_arn", "region"]);
    let without_role = validate(&with(spec("redshift-serverless"), json!({"tags": {"team": "data"}})));
    assert_eq!((without_role[0].0.as_str(), without_role[0].1), ("tags", Severity::Warning));
}

#[test]
fn an_unknown_field_is_refused_in_the_words_of_its_own_type() {
    let problems = validate(&with(spec("redshift"), json!({"sslmode": "require", "X-note": "ignored"})));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "sslmode");
    assert!(problems[0].2.starts_with("is not a field of a `redshift` connection"), "{problems:?}");
    let other = validate(&with(spec("redshift"), json!({"type": "mysql"})));
    assert!(other[0].2.contains("this connector handles `postgres`, `psql`"), "{other:?}");
}

#[test]
fn a_password_read_from_ssm_makes_the_psql_login_with_the_jobs_application_name() {
    let host = FakeHost::default().with_parameter("/lava/prod/warehouse/password", "s3cr:et");
    let spec = with(spec("postgres"), json!({"port": "5439", "ssl": true}));
    let resolved = Postgres.resolve_json(&spec.to_string(), &job(), &host).unwrap();
    assert_eq!(resolved.launcher, Some(LauncherKind::Psql));
    let login = resolved.login.unwrap();
    assert_eq!(login.host.as_deref(), Some("db.example.com"));
    assert_eq!(login.port, Some(5439));
    assert_eq!((login.user.as_deref(), login.password.as_deref()), (Some("etl"), Some("s3cr:et")));
    assert_eq!(login.database.as_deref(), Some("sales"));
    assert_eq!(login.ssl_mode.as_deref(), Some("require"), "lava's ssl: true");
    assert_eq!(login.application_name.as_deref(), Some("lv-prod-j1"));
    assert_eq!(*host.read.borrow(), ["/lava/prod/warehouse/password"]);
}

#[test]
fn a_refused_read_names_the_field_and_parameter_and_never_a_value() {
    let error = Postgres.resolve_json(&spec("psql").to_string(), &job(), &FakeHost::default()).unwrap_err();
    assert!(error.starts_with("password: cannot read SSM parameter `/lava/prod/warehouse/password`"), "{error}");
}
