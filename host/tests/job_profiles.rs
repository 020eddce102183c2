//! Jobs in any language with `lava-conn exec`: every connection is an AWS
//! profile whose credentials the parent serves and refreshes. Exercised with
//! boto3, the AWS CLI and the Rust SDK against a real moto server.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use lava_test_moto::{Fixture, venv, venv_program};
use serde_json::json;

const READER: &str = "arn:aws:iam::123456789012:role/reader";
const WRITER: &str = "arn:aws:iam::123456789012:role/writer";
const SHORT: &str = "arn:aws:iam::123456789012:role/short";

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        Fixture::start(
            &json!({"roles": ["reader", "writer", "short"]}),
            &json!([
                {"conn_id": "reader", "type": "aws", "enabled": true, "role_arn": READER},
                {"conn_id": "writer", "type": "aws", "enabled": true, "role_arn": WRITER, "region": "eu-west-1"},
                // STS's shortest session: every SDK is inside its refresh window at once.
                {"conn_id": "short", "type": "aws", "enabled": true, "role_arn": SHORT, "duration": "15m"},
            ]),
        )
    })
}

/// `lava-conn exec` of `command` with `conns`, the worker's moto settings and
/// the venv first on PATH.
fn exec(workdir: &Path, conns: &[&str], extra: &[&str], command: &[&str]) -> Command {
    let f = fixture();
    let path = format!("{}:{}", venv().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut exec = Command::new(env!("CARGO_BIN_EXE_lava-conn"));
    exec.args(["exec", "--realm", "prod", "--job-id", "sdk-job", "--connections"])
        .arg(f.connections.path())
        .arg("--workdir")
        .arg(workdir);
    for conn in conns {
        exec.args(["--conn", conn]);
    }
    exec.args(extra)
        .arg("--")
        .args(command)
        .envs(f.moto.env())
        .env("PATH", path)
        .env("HOME", workdir)
        .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"));
    exec
}

fn checked(mut command: Command) -> String {
    let out: Output = command.output().expect("lava-conn runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn python(code: &str) -> Vec<String> {
    vec![venv_program("python").display().to_string(), "-c".into(), code.into()]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_python_job_with_two_labels_sees_two_assumed_roles_through_boto3_profiles() {
    let workdir = lava_test_moto::tempdir();
    let code = r#"
import os, boto3
for label in ("a", "b"):
    session = boto3.Session(profile_name=label)
    print(label, session.region_name, session.client("sts").get_caller_identity()["Arn"])
print("default", os.environ.get("AWS_PROFILE"), os.environ.get("AWS_ACCESS_KEY_ID"))
"#;
    let stdout = checked(exec(workdir.path(), &["a=reader", "b=writer"], &[], &strs(&python(code))));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "a us-east-1 arn:aws:sts::123456789012:assumed-role/reader/lv-prod-sdk-job", "{stdout}");
    assert_eq!(lines[1], "b eu-west-1 arn:aws:sts::123456789012:assumed-role/writer/lv-prod-sdk-job", "{stdout}");
    // Two connections: no default, and never the worker's own keys.
    assert_eq!(lines[2], "default None None", "{stdout}");
    let leftovers: Vec<_> = std::fs::read_dir(workdir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "the job's folders are removed: {leftovers:?}");
}

#[test]
fn default_conn_makes_a_profile_the_one_sdk_code_gets_without_naming_it() {
    let workdir = lava_test_moto::tempdir();
    let code = r#"import boto3; print(boto3.client("sts").get_caller_identity()["Arn"])"#;
    let stdout =
        checked(exec(workdir.path(), &["a=reader", "b=writer"], &["--default-conn", "b"], &strs(&python(code))));
    assert_eq!(stdout.trim(), "arn:aws:sts::123456789012:assumed-role/writer/lv-prod-sdk-job");
    // One connection is the default by itself.
    let stdout = checked(exec(workdir.path(), &["only=reader"], &[], &strs(&python(code))));
    assert_eq!(stdout.trim(), "arn:aws:sts::123456789012:assumed-role/reader/lv-prod-sdk-job");
    let out = exec(workdir.path(), &["a=reader"], &["--default-conn", "zz"], &["true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(125), "a default that is not a label fails before the job starts");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--default-conn `zz`"));
}

#[test]
fn the_aws_cli_uses_a_connection_by_profile() {
    let workdir = lava_test_moto::tempdir();
    let script =
        "aws --profile b sts get-caller-identity --output text --query Arn && aws configure get region --profile b";
    let stdout = checked(exec(workdir.path(), &["a=reader", "b=writer"], &[], &["sh", "-c", script]));
    assert_eq!(stdout, "arn:aws:sts::123456789012:assumed-role/writer/lv-prod-sdk-job\neu-west-1\n");
}

/// `host/examples/job_profile.rs`, as built by `cargo test` (examples are built, not run).
#[test]
fn a_rust_job_uses_its_connections_profile_with_the_aws_sdk() {
    let example = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("examples/job_profile");
    assert!(example.exists(), "{} is built by cargo test", example.display());
    let example = example.display().to_string();
    let workdir = lava_test_moto::tempdir();
    let stdout = checked(exec(workdir.path(), &["a=reader", "b=writer"], &[], &[&example, "b"]));
    assert_eq!(stdout.trim(), "arn:aws:sts::123456789012:assumed-role/writer/lv-prod-sdk-job");
    let stdout = checked(exec(workdir.path(), &["a=reader"], &[], &[&example]));
    assert_eq!(stdout.trim(), "arn:aws:sts::123456789012:assumed-role/reader/lv-prod-sdk-job", "AWS_PROFILE");
}

#[test]
fn a_long_job_gets_new_credentials_when_the_old_ones_age_out() {
    let workdir = lava_test_moto::tempdir();
    // A 15-minute session is inside botocore's refresh window from the start,
    // so it asks the parent at each use; the parent's cache keeps a resolve
    // for 1 s, so a job longer than that is handed a new session.
    let code = r#"
import time, boto3
session = boto3.Session(profile_name="s")
sts = session.client("sts")
for _ in range(2):
    key = session.get_credentials().get_frozen_credentials().access_key
    print(key, sts.get_caller_identity()["Arn"])
    time.sleep(1.5)
"#;
    let before = fixture().moto.assume_role_requests(SHORT).len();
    let mut command = exec(workdir.path(), &["s=short"], &[], &strs(&python(code)));
    command.env("AWS_ACCESS_KEY_CACHE_TTL", "1s");
    let stdout = checked(command);
    let lines: Vec<(&str, &str)> = stdout.lines().map(|l| l.split_once(' ').unwrap()).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_ne!(lines[0].0, lines[1].0, "the second call used new credentials: {stdout}");
    for (_, arn) in &lines {
        assert_eq!(*arn, "arn:aws:sts::123456789012:assumed-role/short/lv-prod-sdk-job");
    }
    let moto = &fixture().moto;
    let assumed = moto.assume_role_requests(SHORT).len() - before;
    assert!(assumed >= 2, "moto saw {assumed} AssumeRole calls for the job");
    // Each identity call was signed with the session the job held at that moment.
    let signers: Vec<String> = moto
        .requests()
        .into_iter()
        .filter(|r| r.param("Action") == Some("GetCallerIdentity"))
        .filter_map(|r| r.signed_by)
        .collect();
    for (key, _) in &lines {
        assert!(signers.iter().any(|s| s == key), "{key} never reached moto: {signers:?}");
    }
}

#[test]
fn the_helper_refuses_labels_of_other_jobs_and_cannot_outlive_its_job() {
    let workdir = lava_test_moto::tempdir();
    let script = r#"socket=$(sed -n "s/.*--socket '\([^']*\)'.*/\1/p" "$AWS_CONFIG_FILE" | head -1)
echo "$socket" > "$HOME/socket"
stat -c '%a' "$(dirname "$socket")" "$AWS_CONFIG_FILE" "$AWS_SHARED_CREDENTIALS_FILE"
"$HELPER" credential-process --socket "$socket" --label other; echo "exit=$?""#;
    let mut command = exec(workdir.path(), &["a=reader"], &[], &["sh", "-c", script]);
    command.env("HELPER", env!("CARGO_BIN_EXE_lava-conn"));
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, "700\n600\n600\nexit=1\n");
    assert!(stderr.contains("connection label `other` is not one of this job's (a)"), "{stderr}");
    // After the job, its socket is gone and the helper says so.
    let socket = std::fs::read_to_string(workdir.path().join("socket")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args(["credential-process", "--socket", socket.trim(), "--label", "a"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did the job outlive it?"));
}

#[test]
fn lava_conn_never_takes_its_own_credentials_from_a_jobs_profile() {
    let workdir = lava_test_moto::tempdir();
    // A job that runs lava-conn again, with the job's environment (its profile
    // as the only credentials): refused, naming the profile and the fix.
    let nested = format!(
        "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; {} resolve --realm prod --job-id j --connections {} reader; echo \"exit=$?\"",
        env!("CARGO_BIN_EXE_lava-conn"),
        fixture().connections.path().display()
    );
    let out = exec(workdir.path(), &["a=reader"], &[], &["sh", "-c", &nested]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "exit=2", "{stderr}");
    assert!(stderr.contains("profile `a`") && stderr.contains("written by lava-conn for a job"), "{stderr}");
}
