//! `lava-conn resolve` as a process against a real moto server, in every
//! output format, and as the AWS CLI's `credential_process`.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use lava_test_moto::{Fixture, venv_program};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/cli-loader";

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        Fixture::start(
            &json!({
            "kms_aliases": ["alias/lava-prod-sys"],
            "parameters": [{"name": "/lava/prod/aws/keys", "value": "AKIDCLI0001,cli'secret", "key": "alias/lava-prod-sys"}],
            "roles": ["cli-loader"],
            "secrets": [{"name": "prod/cli-db", "value": "{\"username\": \"app\", \"password\": \"pw\", \"host\": \"db.example.com\", \"port\": 5432, \"dbname\": \"d\"}"}],
            "clusters": ["cli-cluster"],
            "tables": [{"name": "lava.prod.connections", "items": [
                {"conn_id": "dyn", "type": "aws", "enabled": true, "role_arn": ROLE}
            ]}],
        }),
            &json!([
                {"conn_id": "role", "type": "aws", "enabled": true, "role_arn": ROLE, "region": "eu-west-1"},
                {"conn_id": "keys", "type": "aws", "enabled": true, "access_keys": "/lava/prod/aws/keys"},
            ]),
        )
    })
}

fn lava_conn(args: &[&str]) -> Output {
    let f = fixture();
    Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args(["resolve", "--realm", "prod", "--job-id", "cli-job", "--connections"])
        .arg(f.connections.path())
        .args(args)
        .envs(f.moto.env())
        .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
        .output()
        .expect("lava-conn runs")
}

fn ok_stdout(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn json_format() {
    let out = ok_stdout(&lava_conn(&["role"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["conn_id"], "role");
    assert_eq!(v["region"], "eu-west-1");
    assert!(v["access_key_id"].as_str().unwrap().starts_with("ASIA"), "{v}");
    assert!(v["session_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(v["expiration"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn env_format_is_shell_quoted() {
    let out = ok_stdout(&lava_conn(&["keys", "--format", "env"]));
    assert!(out.contains("export AWS_ACCESS_KEY_ID='AKIDCLI0001'\n"), "{out}");
    assert!(out.contains("export AWS_SECRET_ACCESS_KEY='cli'\\''secret'\n"), "{out}");
    assert!(out.contains("export AWS_REGION='us-east-1'\n"), "{out}");
    assert!(!out.contains("AWS_SESSION_TOKEN"), "static keys have no token: {out}");
    // The shell reads back exactly the secret.
    let echoed =
        Command::new("sh").arg("-c").arg(format!("{out}\nprintf %s \"$AWS_SECRET_ACCESS_KEY\"")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&echoed.stdout), "cli'secret");

    let out = ok_stdout(&lava_conn(&["role", "--format", "env"]));
    for name in ["AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_CREDENTIAL_EXPIRATION"] {
        assert!(out.contains(&format!("export {name}=")), "{name}: {out}");
    }
}

#[test]
fn redshift_format_refuses_quotes() {
    let out = ok_stdout(&lava_conn(&["role", "--format", "redshift"]));
    assert!(
        out.starts_with("ACCESS_KEY_ID 'ASIA")
            && out.contains("' SECRET_ACCESS_KEY '")
            && out.contains("' SESSION_TOKEN '"),
        "{out}"
    );
    let refused = lava_conn(&["keys", "--format", "redshift"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(refused.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("contains a quote") && !stderr.contains("cli'secret"), "{stderr}");
}

#[test]
fn dynamodb_store() {
    let f = fixture();
    let out = Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args([
            "resolve",
            "--realm",
            "prod",
            "--job-id",
            "j",
            "--connections",
            "dynamodb",
            "dyn",
            "--format",
            "credential-process",
        ])
        .envs(f.moto.env())
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&ok_stdout(&out)).unwrap();
    assert_eq!(v["Version"], 1);
}

#[test]
fn the_aws_cli_uses_it_as_credential_process() {
    let f = fixture();
    let config = f.connections.path().join("aws-config");
    let command = format!(
        "{} resolve --realm prod --job-id cli-job --connections {} role --format credential-process",
        env!("CARGO_BIN_EXE_lava-conn"),
        f.connections.path().display()
    );
    std::fs::write(&config, format!("[profile lava]\ncredential_process = {command}\nregion = eu-west-1\n")).unwrap();
    let out = Command::new(venv_program("aws"))
        .args(["sts", "get-caller-identity", "--profile", "lava", "--output", "json"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", f.connections.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_ENDPOINT_URL", &f.moto.endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // lava-conn runs with the worker's own credentials; the CLI ignores them
        // for an explicit --profile, so the identity proves credential_process was used.
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout} stderr: {}", String::from_utf8_lossy(&out.stderr));
    let identity: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(identity["Arn"], "arn:aws:sts::123456789012:assumed-role/cli-loader/lv-prod-cli-job");
}

#[test]
fn errors_go_to_stderr_only() {
    let out = lava_conn(&["missing-conn", "--format", "credential-process"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`missing-conn` is not in connection folder"));
}

/// `lava-conn resolve` at `RUST_LOG=lava_conn::audit=info`: its stderr.
fn audit_log(conn_id: &str) -> String {
    let f = fixture();
    let out = Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args(["resolve", "--realm", "prod", "--job-id", "audit-job", "--connections"])
        .arg(f.connections.path())
        .arg(conn_id)
        .envs(f.moto.env())
        .env("RUST_LOG", "lava_conn::audit=info")
        .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn every_aws_capability_call_is_one_audit_event_without_secrets() {
    let plugins = Command::new(env!("CARGO_BIN_EXE_lava-conn")).args(["plugins", "--json"]).output().unwrap();
    let rows: Value = serde_json::from_slice(&plugins.stdout).unwrap();
    let sha256 = rows["plugins"][0]["sha256"].as_str().unwrap().to_string();

    let log = audit_log("keys");
    let events: Vec<&str> = log.lines().filter(|l| l.contains("lava_conn::audit")).collect();
    assert_eq!(events.len(), 1, "{log}");
    for field in [
        "plugin=\"built-in `aws`\"".to_string(),
        format!("sha256=\"{sha256}\""),
        "connector_type=\"aws\"".into(),
        "realm=\"prod\"".into(),
        "job=\"audit-job\"".into(),
        "conn_id=\"keys\"".into(),
        "capability=\"ssm.get-parameter\"".into(),
        "target=\"/lava/prod/aws/keys\"".into(),
        "outcome=\"ok\"".into(),
        "duration_us=".into(),
    ] {
        assert!(events[0].contains(&field), "{field} missing in {}", events[0]);
    }
    assert!(!log.contains("cli'secret") && !log.contains("AKIDCLI0001"), "no value in the audit trail: {log}");

    let log = audit_log("role");
    let events: Vec<&str> = log.lines().filter(|l| l.contains("lava_conn::audit")).collect();
    assert_eq!(events.len(), 1, "{log}");
    assert!(events[0].contains("capability=\"sts.assume-role\"") && events[0].contains(&format!("target=\"{ROLE}\"")));
    assert!(!log.contains("ASIA"), "no key id of the session: {log}");
}

#[test]
fn a_worker_without_aws_credentials_is_told_so_in_one_line() {
    let home = lava_test_moto::tempdir();
    let out = Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args(["resolve", "--realm", "prod", "--job-id", "j", "--connections"])
        .arg(fixture().connections.path())
        .arg("role")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains("lava_conn::audit")).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("the worker has no AWS credentials") && lines[0].contains("AWS_PROFILE"), "{stderr}");
    assert!(!lines[0].contains(" { "), "no Debug dump: {stderr}");
}

#[test]
fn resolve_as_env_of_a_connection_without_aws_credentials_points_at_json_and_exec() {
    let f = fixture();
    let dir = lava_test_moto::tempdir();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(lava_conn_tests::TEMPLATE_COMPONENT, plugins.join("ssm-secret.wasm")).unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    let spec = json!({"conn_id": "secret", "type": "ssm-secret", "enabled": true, "parameter": "/lava/prod/aws/keys"});
    std::fs::write(specs.join("secret.json"), spec.to_string()).unwrap();
    let config = dir.path().join("worker.toml");
    std::fs::write(&config, "[policy.ssm-secret]\nssm = [\"/lava/{realm}/\"]\n").unwrap();
    let run = |format: &str| {
        Command::new(env!("CARGO_BIN_EXE_lava-conn"))
            .args(["--config", config.to_str().unwrap(), "--plugins", plugins.to_str().unwrap()])
            .args(["resolve", "--realm", "prod", "--job-id", "j", "--connections", specs.to_str().unwrap()])
            .args(["secret", "--format", format])
            .envs(f.moto.env())
            .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
            .output()
            .unwrap()
    };
    let out = run("env");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("yields no AWS credentials, which --format env prints"), "{stderr}");
    assert!(stderr.contains("`--format json`") && stderr.contains("`lava-conn exec`"), "{stderr}");
    assert!(out.stdout.is_empty());
    let json: Value = serde_json::from_str(&ok_stdout(&run("json"))).unwrap();
    assert_eq!(json["conn_id"], "secret", "{json}");
}

/// The CLI's own AWS backend (the worker's, loaded when first needed)
/// reaches every capability, not only SSM and STS: a backend that left one to
/// its trait's default would refuse it as unavailable.
#[test]
fn the_cli_reaches_secrets_manager_and_redshift_through_the_workers_aws() {
    let f = fixture();
    let dir = lava_test_moto::tempdir();
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    let specs_json = json!([
        {"conn_id": "pg", "type": "psql", "enabled": true, "secret_id": "prod/cli-db"},
        {"conn_id": "rs", "type": "redshift", "enabled": true, "host": "cli-cluster.x.us-east-1.redshift.amazonaws.com",
         "port": 5439, "database": "dev", "user": "etl"},
    ]);
    std::fs::write(specs.join("db.json"), specs_json.to_string()).unwrap();
    let config = dir.path().join("worker.toml");
    let policy = "[policy.psql]\nsecrets = [\"prod/\"]\n[policy.redshift]\nredshift_clusters = [\"cli-cluster\"]\n";
    std::fs::write(&config, policy).unwrap();
    for (conn_id, target) in [("pg", "prod/cli-db"), ("rs", "cli-cluster")] {
        let out = Command::new(env!("CARGO_BIN_EXE_lava-conn"))
            .args(["--config", config.to_str().unwrap()])
            .args(["resolve", "--realm", "prod", "--job-id", "j", "--connections", specs.to_str().unwrap()])
            .args([conn_id, "--format", "json"])
            .envs(f.moto.env())
            .env("RUST_LOG", "lava_conn::audit=info")
            .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
            .output()
            .unwrap();
        assert_eq!(serde_json::from_str::<Value>(&ok_stdout(&out)).unwrap()["conn_id"], conn_id);
        let log = String::from_utf8_lossy(&out.stderr);
        let call = log.lines().find(|l| l.contains("lava_conn::audit")).unwrap_or_default();
        assert!(call.contains(&format!("target=\"{target}\"")) && call.contains("outcome=\"ok\""), "{log}");
    }
}
