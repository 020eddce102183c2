//! No secret value reaches logs (at trace level), error messages, or the
//! output of commands that are not meant to print secrets.

use std::path::Path;
use std::process::{Command, Output};

use lava_test_moto::{Moto, venv};
use serde_json::json;

const STATIC_SECRET: &str = "StaticSecretKeyValue0123456789";
const EXTERNAL_ID: &str = "ExternalIdValue-4711-abcdef";

fn lava_conn(moto: &Moto, args: &[&str]) -> Output {
    let path = format!("{}:{}", venv().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args(args)
        .envs(moto.env())
        .env("RUST_LOG", "trace")
        .env("PATH", path)
        .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
        .output()
        .expect("lava-conn runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_clean(what: &str, haystack: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(!haystack.contains(secret.as_str()), "{what} contains the secret {}…", &secret[..4]);
    }
}

/// The values of `key = value` lines of an AWS config file.
fn config_value(config: &str, key: &str) -> String {
    config
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("{key} missing from the stand-in's config"))
        .to_string()
}

#[test]
fn the_whole_flow_at_trace_level_leaks_nothing() {
    let moto = Moto::start(&json!({
        "kms_aliases": ["alias/lava-prod-sys"],
        "parameters": [
            {"name": "/lava/prod/aws/keys", "value": format!("AKIDSECRETTEST01,{STATIC_SECRET}"), "key": "alias/lava-prod-sys"},
            {"name": "/lava/prod/aws/ext", "value": EXTERNAL_ID, "key": "alias/lava-prod-sys"},
        ],
        "roles": ["secretive"],
    }));
    let dir = lava_test_moto::tempdir();
    let conns = dir.path().join("conns");
    std::fs::create_dir(&conns).unwrap();
    let specs = json!([
        {"conn_id": "keys", "type": "aws", "enabled": true, "access_keys": "/lava/prod/aws/keys"},
        {"conn_id": "role", "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::123456789012:role/secretive",
         "external_id": "/lava/prod/aws/ext"},
        {"conn_id": "broken", "type": "aws", "enabled": true, "access_keys": "/lava/prod/aws/ext"},
    ]);
    std::fs::write(conns.join("c.json"), specs.to_string()).unwrap();
    let conns = conns.to_str().unwrap();
    let copied = dir.path().join("copied");
    std::fs::create_dir(&copied).unwrap();

    // exec: the job copies its stand-in's config aside, so the test learns the
    // session's secrets without anything printing them.
    let script = format!(
        "cp \"$(dirname \"$LAVA_CONN_ROLE\")/.aws_config\" {0}/role && cp \"$(dirname \"$LAVA_CONN_KEYS\")/.aws_config\" {0}/keys && $LAVA_CONN_ROLE sts get-caller-identity > /dev/null",
        copied.display()
    );
    let exec = lava_conn(
        &moto,
        &[
            "exec",
            "--realm",
            "prod",
            "--job-id",
            "j",
            "--connections",
            conns,
            "--conn",
            "role=role",
            "--conn",
            "keys=keys",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(exec.status.code(), Some(0), "{}", text(&exec.stderr));
    let role_config = std::fs::read_to_string(copied.join("role")).unwrap();
    let keys_config = std::fs::read_to_string(copied.join("keys")).unwrap();
    let secrets = vec![
        STATIC_SECRET.to_string(),
        EXTERNAL_ID.to_string(),
        config_value(&role_config, "aws_secret_access_key"),
        config_value(&role_config, "aws_session_token"),
    ];
    assert_eq!(config_value(&keys_config, "aws_secret_access_key"), STATIC_SECRET);
    assert!(text(&exec.stderr).contains("TRACE"), "trace logging was on");
    assert_clean("exec stderr (logs)", &text(&exec.stderr), &secrets);
    assert_clean("exec stdout", &text(&exec.stdout), &secrets);
    // The external ID did reach STS.
    let calls = moto.assume_role_requests("arn:aws:iam::123456789012:role/secretive");
    assert_eq!(calls[0].param("ExternalId"), Some(EXTERNAL_ID));

    // resolve prints secrets on stdout (its job) and never on stderr.
    for format in ["json", "env", "credential-process", "redshift"] {
        let out = lava_conn(
            &moto,
            &["resolve", "--realm", "prod", "--job-id", "j", "--connections", conns, "keys", "--format", format],
        );
        assert_eq!(out.status.code(), Some(0), "{format}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains(STATIC_SECRET), "{format} prints the secret");
        assert_clean(&format!("resolve --format {format} stderr"), &text(&out.stderr), &secrets);
    }

    // A malformed keys value (here the external ID) is an error that does not show it.
    let out = lava_conn(&moto, &["resolve", "--realm", "prod", "--job-id", "j", "--connections", conns, "broken"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_clean("an error message", &text(&out.stderr), &secrets);

    // Commands that print no secrets, with the specs that reference them.
    let spec_file = dir.path().join("conns/c.json");
    let spec_file = spec_file.to_str().unwrap();
    for args in [
        &["validate", "--realm", "prod", spec_file][..],
        &["session-name", "--realm", "prod", "--job-id", "j", spec_file],
        &["plugins"],
        &["--help"],
        &["exec", "--help"],
        &["resolve", "--help"],
    ] {
        let out = lava_conn(&moto, args);
        // A command that failed early would print nothing and pass the scan.
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert!(!out.stdout.is_empty(), "{args:?} printed nothing");
        assert_clean(&format!("{args:?} stdout"), &text(&out.stdout), &secrets);
        assert_clean(&format!("{args:?} stderr"), &text(&out.stderr), &secrets);
    }
}
