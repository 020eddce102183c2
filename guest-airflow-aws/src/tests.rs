use lava_rules::problem::Severity;
use serde_json::json;

use super::*;
use lava_guest_kit::RawConnector;
use lava_guest_kit::spec::read_spec;
use lava_guest_kit::testing::FakeHost;

/// The connection and every problem, as `validate` finds them.
fn check(json: &str) -> (Option<Connection>, Vec<Problem>) {
    let checked = read_spec(&AirflowAwsConnector, json, &ValidateContext::default());
    (checked.spec.and_then(|spec| connection(&spec, &mut Vec::new())), checked.problems)
}

/// The credentials and the spec's warnings, through the SDK as the host calls it.
fn resolve(json: &str, host: &FakeHost) -> Result<(Credentials, Vec<Problem>), String> {
    let job = JobContext { conn_id: "c".into(), ..JobContext::default() };
    let resolved = AirflowAwsConnector.resolve_json(json, &job, host)?;
    Ok((resolved.aws.expect("credentials"), check(json).1))
}

/// What `session-name` reports.
fn session_name(json: &str) -> Result<String, Vec<Problem>> {
    AirflowAwsConnector.session_name_json(json, &JobContext::default(), &FakeHost::default())
}

/// The worker's own credentials, when a test grants them.
fn worker() -> Credentials {
    Credentials {
        access_key_id: "AKIAWORKER".into(),
        secret_access_key: "workersecret".into(),
        session_token: None,
        expiration: None,
        region: Some("us-east-1".into()),
        endpoint_url: None,
    }
}

fn spec(fields: Value) -> String {
    let mut spec = json!({"type": "airflow-aws", "conn_id": "aws_default"});
    for (k, v) in fields.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec.to_string()
}

fn errors(json: &str) -> Vec<Problem> {
    check(json).1.into_iter().filter(|p| p.severity == Severity::Error).collect()
}

#[test]
fn static_keys_with_region_and_endpoint() {
    let json = spec(json!({"conn_id": "s3_logs", "login": "AKIDLOGIN", "password": "pass/word",
        "extra": {"region_name": "eu-west-1", "endpoint_url": "http://localhost:4566", "aws_session_token": "tok"}}));
    let (c, problems) = resolve(&json, &FakeHost::default()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!((c.access_key_id.as_str(), c.secret_access_key.as_str()), ("AKIDLOGIN", "pass/word"));
    assert_eq!(c.session_token.as_deref(), Some("tok"));
    assert_eq!(c.region.as_deref(), Some("eu-west-1"));
    assert_eq!(c.endpoint_url.as_deref(), Some("http://localhost:4566"));
}

#[test]
fn roles_from_role_arn_or_account_and_role_name() {
    let fake = FakeHost::default();
    let json = spec(json!({"login": "AKID", "password": "SECRET", "extra":
        {"role_arn": "arn:aws:iam::123456789012:role/a", "external_id": "ext-1", "region_name": "ap-southeast-2",
         "assume_role_kwargs": {"DurationSeconds": 1800, "Tags": [{"Key": "team", "Value": "data"}],
            "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}], "Policy": "{\"Version\":\"2012-10-17\"}"}}}));
    let (c, _) = resolve(&json, &fake).unwrap();
    assert_eq!(c.access_key_id, "ASIAFAKEROLE");
    assert_eq!(c.region.as_deref(), Some("ap-southeast-2"));
    let (request, source) = fake.assumed.borrow()[0].clone();
    assert_eq!(request.role_arn, "arn:aws:iam::123456789012:role/a");
    assert_eq!(request.session_name, "airflow_aws_default");
    assert_eq!(request.duration_seconds, 1_800);
    assert_eq!(request.external_id.as_deref(), Some("ext-1"));
    assert_eq!(request.tags, vec![("team".to_string(), "data".to_string())]);
    assert_eq!(request.policy_arns, vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".to_string()]);
    assert_eq!(request.policy.as_deref(), Some("{\"Version\":\"2012-10-17\"}"));
    assert_eq!(source.unwrap().access_key_id, "AKID", "login/password are the source keys");

    let fake = FakeHost::default();
    let json =
        spec(json!({"conn_id": "x", "extra": "{\"aws_account_id\": \"123456789012\", \"aws_iam_role\": \"loader\"}"}));
    resolve(&json, &fake).unwrap();
    let (request, source) = fake.assumed.borrow()[0].clone();
    assert_eq!(request.role_arn, "arn:aws:iam::123456789012:role/loader");
    assert_eq!(request.duration_seconds, 3_600);
    assert!(source.is_none(), "without login the worker's credentials assume the role");

    // From a URI the account id is JSON-decoded into a number (Airflow core
    // 3.1.6+), which 8.29's f-string writes out as its digits.
    let fake = FakeHost::default();
    let json = spec(json!({"conn_id": "x", "uri": "aws://?aws_account_id=123456789012&aws_iam_role=loader"}));
    resolve(&json, &fake).unwrap();
    assert_eq!(fake.assumed.borrow()[0].0.role_arn, "arn:aws:iam::123456789012:role/loader");
    let json = spec(json!({"conn_id": "x", "extra": {"aws_account_id": [1], "aws_iam_role": "loader"}}));
    let problems = check(&json).1;
    assert!(
        problems.iter().any(|p| p.field == "extra.aws_account_id" && p.message.contains("not a list")),
        "{problems:?}"
    );
}

#[test]
fn uri_form() {
    let json = spec(json!({"conn_id": "from_uri",
        "uri": "aws://AKID%2B1:se%2Fcret@/?region_name=eu-west-1&role_arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr"}));
    let fake = FakeHost::default();
    let (c, _) = resolve(&json, &fake).unwrap();
    assert_eq!(c.region.as_deref(), Some("eu-west-1"));
    let (request, source) = fake.assumed.borrow()[0].clone();
    assert_eq!(request.role_arn, "arn:aws:iam::123456789012:role/r");
    let source = source.unwrap();
    assert_eq!((source.access_key_id.as_str(), source.secret_access_key.as_str()), ("AKID+1", "se/cret"));
}

#[test]
fn empty_connections_need_the_grant() {
    let json = spec(json!({}));
    let err = resolve(&json, &FakeHost::default()).unwrap_err();
    assert!(err.contains("worker's own credentials") && err.contains("refused"), "{err}");
    let (c, _) = resolve(&json, &FakeHost::default().with_worker_credentials(worker())).unwrap();
    assert_eq!(c.access_key_id, "AKIAWORKER");
}

#[test]
fn session_names_are_slugified_like_airflow() {
    assert_eq!(default_session_name("aws_default"), "airflow_aws_default");
    assert_eq!(default_session_name("aws/test"), "airflow_aws-test");
    assert_eq!(default_session_name("my conn/é!"), "airflow_my-conn-e");
    let long = spec(json!({"conn_id": "x".repeat(100), "extra": {"role_arn": "arn:aws:iam::123456789012:role/r"}}));
    let errors = errors(&long);
    assert!(errors.iter().any(|p| p.field == "conn_id" && p.message.contains("RoleSessionName")), "{errors:?}");
    let named = spec(json!({"conn_id": "x".repeat(100), "extra": {"role_arn": "arn:aws:iam::123456789012:role/r",
        "assume_role_kwargs": {"RoleSessionName": "short"}}}));
    assert_eq!(session_name(&named).unwrap(), "short");
}

#[test]
fn each_rule_names_its_field() {
    let role = "arn:aws:iam::123456789012:role/r";
    let cases: Vec<(Value, &str)> = vec![
        (json!({"uri": "aws://a:b@/", "login": "x"}), "login"),
        (json!({"uri": "aws://a://b://c"}), "uri"),
        (json!({"extra": "not json"}), "extra"),
        (json!({"extra": "[1]"}), "extra"),
        (json!({"extra": 5}), "extra"),
        (json!({"extra": {"aws_account_id": "12", "aws_iam_role": "r"}}), "extra.aws_iam_role"),
        (json!({"extra": {"role_arn": "nope"}}), "extra.role_arn"),
        (json!({"extra": {"region_name": "mars"}}), "extra.region_name"),
        (json!({"extra": {"endpoint_url": "localhost"}}), "extra.endpoint_url"),
        (json!({"extra": {"aws_session_token": "t"}}), "extra.aws_session_token"),
        (json!({"extra": {"profile_name": "p"}}), "extra.profile_name"),
        (json!({"extra": {"s3_config_file": "/etc/keys"}}), "extra.s3_config_file"),
        (json!({"extra": {"aws_access_key_id": 5, "aws_secret_access_key": "s"}}), "extra.aws_access_key_id"),
        (json!({"extra": {"role_arn": role, "external_id": "x"}}), "extra.external_id"),
        (
            json!({"extra": {"role_arn": role, "assume_role_method": "assume_role_with_saml"}}),
            "extra.assume_role_method",
        ),
        (json!({"extra": {"role_arn": role, "assume_role_kwargs": "{}"}}), "extra.assume_role_kwargs"),
        (
            json!({"extra": {"role_arn": role, "assume_role_kwargs": {"DurationSeconds": 60}}}),
            "extra.assume_role_kwargs.DurationSeconds",
        ),
        (
            json!({"extra": {"role_arn": role, "assume_role_kwargs": {"DurationSeconds": 1800.0}}}),
            "extra.assume_role_kwargs.DurationSeconds",
        ),
        (
            json!({"extra": {"role_arn": role, "assume_role_kwargs": {"Tags": [{"Key": "a*", "Value": "v"}]}}}),
            "extra.assume_role_kwargs.Tags",
        ),
        (
            json!({"extra": {"role_arn": role, "assume_role_kwargs": {"PolicyArns": [{"arn": "x"}]}}}),
            "extra.assume_role_kwargs.PolicyArns",
        ),
        (
            json!({"extra": {"role_arn": role, "assume_role_kwargs": {"Policy": "x".repeat(3000)}}}),
            "extra.assume_role_kwargs.Policy",
        ),
        (
            json!({"extra": {"role_arn": role, "assume_role_kwargs": {"SerialNumber": "mfa"}}}),
            "extra.assume_role_kwargs.SerialNumber",
        ),
        (
            json!({"extra": {"role_arn": role, "assume_role_kwargs": {"TokenCode": "123456"}}}),
            "extra.assume_role_kwargs.TokenCode",
        ),
        (
            json!({"extra": {"role_arn": role, "assume_role_kwargs": {"RoleSessionName": "x"}}}),
            "extra.assume_role_kwargs.RoleSessionName",
        ),
        (
            json!({"extra": {"role_arn": role, "assume_role_kwargs": {"SourceIdentity": "a b"}}}),
            "extra.assume_role_kwargs.SourceIdentity",
        ),
        (
            json!({"extra": {"role_arn": role, "assume_role_kwargs": {"TransitiveTagKeys": ["team"]}}}),
            "extra.assume_role_kwargs.TransitiveTagKeys",
        ),
        (
            json!({"extra": {"role_arn": role, "assume_role_kwargs": {"ProvidedContexts": []}}}),
            "extra.assume_role_kwargs.ProvidedContexts",
        ),
        (json!({"conn_id": ""}), "conn_id"),
        (json!({"conn_id": null}), "conn_id"),
        (json!({"enabled": "yes"}), "enabled"),
        (json!({"schema": "x"}), "schema"),
    ];
    for (fields, field) in cases {
        let json = spec(fields.clone());
        let errors = errors(&json);
        assert!(errors.iter().any(|p| p.field == field), "{fields}: expected `{field}`, got {errors:?}");
    }
}

#[test]
fn where_airflow_proceeds_a_warning_is_enough() {
    let role = "arn:aws:iam::123456789012:role/r";
    let cases: Vec<(Value, &str)> = vec![
        (json!({"login": "AKID"}), "login"),
        (json!({"password": "SECRET"}), "password"),
        (json!({"uri": "postgres://AKID:s@/"}), "uri"),
        (json!({"uri": "aws://AKID:s@/?__extra__=%7B%7D&region_name=eu-west-1"}), "uri"),
        (json!({"extra": {"aws_account_id": "123456789012"}}), "extra.aws_account_id"),
        (json!({"extra": {"aws_iam_role": "r"}}), "extra.aws_iam_role"),
        (
            json!({"extra": {"role_arn": role, "external_id": "abcdef", "assume_role_kwargs": {"ExternalId": "ghijkl"}}}),
            "extra.external_id",
        ),
        (json!({"extra": {"host": "https://h.example", "endpoint_url": "https://e.example"}}), "extra.endpoint_url"),
        (json!({"extra": {"config_kwargs": {"retries": 3}}}), "extra.config_kwargs"),
        (json!({"extra": {"bogus": 1}}), "extra.bogus"),
        (json!({"conn_id": "has space"}), "conn_id"),
    ];
    for (fields, field) in cases {
        let (connection, problems) = check(&spec(fields.clone()));
        assert!(connection.is_some(), "{fields}: {problems:?}");
        assert!(
            problems.iter().any(|p| p.field == field && p.severity == Severity::Warning),
            "{fields}: expected a warning on `{field}`, got {problems:?}"
        );
    }
}

#[test]
fn host_comes_before_endpoint_url_as_in_provider_8_29() {
    let (connection, _) =
        check(&spec(json!({"extra": {"host": "https://h.example", "endpoint_url": "https://e.example"}})));
    assert_eq!(connection.unwrap().endpoint_url.as_deref(), Some("https://h.example"));
}
