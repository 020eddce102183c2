//! The `lava-conn` binary as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn lava_conn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args(args)
        .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
        .env_remove("LAVA_CONN_PLUGINS")
        .env_remove("LAVA_REALM")
        .env_remove("LAVA_JOB_ID")
        .output()
        .expect("lava-conn runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn validate_exit_codes() {
    let good = examples().join("connections.yaml");
    let bad = examples().join("bad-connection.json");
    let out = lava_conn(&["validate", "--realm", "prod", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("warehouse-loader: ok"));

    let out = lava_conn(&["validate", "--realm", "prod", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("broken: regoin: error: is not a field"), "{text}");
    assert!(text.contains("broken: enabled: error:"), "{text}");
    assert!(text.contains("3 spec(s) checked: 2 valid, 1 invalid"), "{text}");

    let out = lava_conn(&["validate", "/nonexistent/spec.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/spec.json"));

    let out = lava_conn(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn validate_json_is_machine_readable() {
    let bad = examples().join("bad-connection.json");
    let out = lava_conn(&["validate", "--json", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report[0]["conn_id"], "broken");
    assert_eq!(report[0]["valid"], false);
    let fields: Vec<&str> =
        report[0]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"role_arn") && fields.contains(&"duration"), "{fields:?}");
}

#[test]
fn session_names_for_a_file() {
    let good = examples().join("connections.yaml");
    let out = lava_conn(&["session-name", "--realm", "prod", "--job-id", "nightly/ÉTL", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "warehouse-loader\tlv-prod-nightly.ETL\nlegacy-keys\tlv-prod-nightly.ETL\n");

    let bad = examples().join("bad-connection.json");
    let out = lava_conn(&["session-name", "--realm", "prod", "--job-id", "j", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken: role_arn"));

    let out = lava_conn(&["session-name", "--job-id", "j", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--realm"));
}

#[test]
fn plugins_lists_the_builtin() {
    let out = lava_conn(&["plugins", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["type"], "aws");
    assert_eq!(rows[0]["source"], "built-in `aws`");
    assert_eq!(rows[0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn every_command_has_help() {
    for command in [&["--help"][..], &["validate", "--help"], &["session-name", "--help"], &["plugins", "--help"]] {
        let out = lava_conn(command);
        assert_eq!(out.status.code(), Some(0), "{command:?}");
        assert!(stdout(&out).contains("Usage:"), "{command:?}");
    }
}
