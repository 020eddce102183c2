//! The airflow-aws connector as a drop-in plugin: a `.wasm` file the host has
//! never seen, copied into a plugin folder, working against a real moto server.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use lava_conn::{ConnectorHost, Job, PluginSource, Severity, WorkerConfig};
use lava_conn_tests::{AIRFLOW_AWS_COMPONENT, plugin_dir, sdk_host, test_config};
use lava_test_moto::{Moto, venv};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start(&json!({"roles": ["af-arn", "af-parts", "af-uri", "af-exec"]})))
}

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// A plugin folder with only the airflow-aws component, as a user would drop it.
fn plugins() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| plugin_dir(&[("airflow-aws.wasm", AIRFLOW_AWS_COMPONENT)]))
}

async fn host_with(config: WorkerConfig, specs: Value) -> (ConnectorHost, tempfile::TempDir) {
    sdk_host(config, plugins().path(), moto().sdk_loader(), &specs).await
}

fn job() -> Job {
    Job { realm: "prod".into(), job_id: "af-job".into() }
}

#[test]
fn without_the_file_the_type_is_unknown_and_with_it_listed() {
    let bare = ConnectorHost::builder().config(test_config()).build().unwrap();
    let problems = bare.validate(&json!({"type": "airflow-aws", "conn_id": "x"}), None).unwrap();
    assert!(problems[0].message.contains("`airflow-aws` is not handled by any loaded plugin"), "{problems:?}");

    let host = ConnectorHost::builder().config(test_config()).plugin_dir(plugins().path()).build().unwrap();
    let listed = host.plugins().into_iter().find(|p| p.types == ["airflow-aws"]).expect("listed");
    assert_eq!(listed.source, PluginSource::File(plugins().path().join("airflow-aws.wasm")));
    let out = std::process::Command::new("sha256sum").arg(AIRFLOW_AWS_COMPONENT).output().unwrap();
    let expected = String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string();
    assert_eq!(listed.sha256, expected);
}

#[test]
fn validation_and_session_names() {
    let host = ConnectorHost::builder().config(test_config()).plugin_dir(plugins().path()).build().unwrap();
    let good = json!({"type": "airflow-aws", "conn_id": "s3 logs/é", "extra": {"role_arn": role("af-arn"), "region_name": "eu-west-1"}});
    // A space is not in Airflow's conn id alphabet: said, and used all the same.
    let problems = host.validate(&good, None).unwrap();
    assert!(problems.iter().all(|p| p.field == "conn_id" && p.severity == Severity::Warning), "{problems:?}");
    let name = host.session_name(&good, &job()).unwrap().unwrap();
    assert_eq!(name, "airflow_s3-logs-e", "slugified as Airflow does");
    let default_id = json!({"type": "airflow-aws", "conn_id": "aws_default", "extra": {"role_arn": role("af-arn")}});
    assert_eq!(host.session_name(&default_id, &job()).unwrap().unwrap(), "airflow_aws_default");

    let bad = json!({"type": "airflow-aws", "conn_id": "c", "extra": {"role_arn": role("af-arn"), "assume_role_method": "assume_role_with_web_identity"}});
    let problems = host.validate(&bad, None).unwrap();
    assert!(
        problems.iter().any(|p| p.field == "extra.assume_role_method" && p.severity == Severity::Error),
        "{problems:?}"
    );
    let ignored = json!({"type": "airflow-aws", "conn_id": "c", "extra": {"botocore_config": {}}});
    let problems = host.validate(&ignored, None).unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].severity, Severity::Warning);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_keys_and_roles_against_the_emulator() {
    let specs = json!([
        {"type": "airflow-aws", "conn_id": "keys", "login": "AKIDAIRFLOW01", "password": "airflow/secret",
         "extra": {"region_name": "eu-west-1"}},
        {"type": "airflow-aws", "conn_id": "by_arn", "login": "AKIDSOURCE01", "password": "src",
         "extra": {"role_arn": role("af-arn"), "external_id": "ext-af-1",
                   "assume_role_kwargs": {"DurationSeconds": 1800, "Tags": [{"Key": "team", "Value": "data"}],
                       "SourceIdentity": "alice@example.com", "TransitiveTagKeys": ["team"]}}},
        {"type": "airflow-aws", "conn_id": "by_parts", "extra": "{\"aws_account_id\": \"123456789012\", \"aws_iam_role\": \"af-parts\"}"},
        {"type": "airflow-aws", "conn_id": "by_uri",
         "uri": format!("aws://AKIDURI01:uri%2Fsecret@/?region_name=ap-southeast-2&role_arn={}", role("af-uri").replace(':', "%3A").replace('/', "%2F"))},
    ]);
    let (host, _dir) = host_with(test_config(), specs).await;

    let keys = host.resolve("keys", &job()).await.unwrap();
    let aws = keys.aws.as_ref().unwrap();
    assert_eq!(
        (aws.access_key_id.as_str(), aws.secret_access_key.expose_secret()),
        ("AKIDAIRFLOW01", "airflow/secret")
    );
    assert_eq!(aws.region.as_deref(), Some("eu-west-1"));

    let by_arn = host.resolve("by_arn", &job()).await.unwrap();
    assert!(by_arn.aws.as_ref().unwrap().session_token.is_some());
    let call = &moto().assume_role_requests(&role("af-arn"))[0];
    assert_eq!(call.param("RoleSessionName"), Some("airflow_by_arn"));
    assert_eq!(call.param("ExternalId"), Some("ext-af-1"), "the external ID itself reached STS");
    assert_eq!(call.param("DurationSeconds"), Some("1800"));
    assert_eq!(call.param("Tags.member.1.Key"), Some("team"));
    assert_eq!(call.param("SourceIdentity"), Some("alice@example.com"), "through the real SDK");
    assert_eq!(call.param("TransitiveTagKeys.member.1"), Some("team"));
    assert_eq!(call.signed_by.as_deref(), Some("AKIDSOURCE01"), "login/password made the call");

    host.resolve("by_parts", &job()).await.unwrap();
    let call = &moto().assume_role_requests(&role("af-parts"))[0];
    assert_eq!(call.param("RoleSessionName"), Some("airflow_by_parts"));
    assert_eq!(call.signed_by.as_deref(), Some("testing"), "without login, the worker's credentials made the call");

    let by_uri = host.resolve("by_uri", &job()).await.unwrap();
    assert_eq!(by_uri.aws.as_ref().unwrap().region.as_deref(), Some("ap-southeast-2"));
    let call = &moto().assume_role_requests(&role("af-uri"))[0];
    assert_eq!(call.signed_by.as_deref(), Some("AKIDURI01"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_own_credentials_are_a_privilege() {
    let specs = json!([{"type": "airflow-aws", "conn_id": "empty"}]);
    let (host, _dir) = host_with(test_config(), specs.clone()).await;
    let error = host.resolve("empty", &job()).await.unwrap_err().to_string();
    assert!(error.contains("not granted") && error.contains("worker_credentials"), "{error}");

    let config = WorkerConfig { worker_credentials: vec!["airflow-aws".into()], ..test_config() };
    let (host, _dir) = host_with(config, specs).await;
    let resolved = host.resolve("empty", &job()).await.unwrap();
    assert_eq!(resolved.aws.as_ref().unwrap().access_key_id, "testing", "the worker's own keys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_carries_the_endpoint_once_the_worker_allows_it() {
    let specs = json!([{"type": "airflow-aws", "conn_id": "af_exec", "login": "AKIDEXECAF01", "password": "pw",
        "extra": {"role_arn": role("af-exec"), "region_name": "eu-west-1", "endpoint_url": moto().endpoint}}]);
    // A connection's endpoint is a network destination: refused until listed.
    let (host, _dir) = host_with(test_config(), specs.clone()).await;
    let error = host.resolve("af_exec", &job()).await.unwrap_err().to_string();
    assert!(error.contains("allowed_endpoints") && error.contains(&moto().endpoint), "{error}");
    let config = WorkerConfig { allowed_endpoints: vec![moto().endpoint.clone()], ..test_config() };
    let (host, _dir) = host_with(config, specs).await;
    let workdir = lava_test_moto::tempdir();
    let connections = BTreeMap::from([("air".to_string(), "af_exec".to_string())]);
    let env = host.prepare_job(&job(), &connections, workdir.path()).await.unwrap();
    let path = format!("{}:{}", venv().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    // No AWS_ENDPOINT_URL here: the endpoint comes from the stand-in's own config.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("$LAVA_CONN_AIR sts get-caller-identity --output text --query Arn && grep -c endpoint_url \"$(dirname $LAVA_CONN_AIR)/.aws_config\"")
        .env_clear()
        .env("PATH", path)
        .env("HOME", workdir.path())
        .envs(env.vars.clone())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec![&*format!("arn:aws:sts::{ACCOUNT}:assumed-role/af-exec/airflow_af_exec"), "1"]
    );
    env.cleanup().unwrap();
}
