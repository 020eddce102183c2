//! Every connector type of lava 8.3.0 a job uses, built in: each validates,
//! resolves through the real AWS SDK against moto, and works under `exec`:
//! its stand-in runs a client (here a fake that says how it was run; the
//! real `psql` and `ssh` log in to real servers in `postgres.rs` and
//! `ssh.rs`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use lava_conn::{Job, TypePolicy};
use lava_conn_tests::{sdk_host, test_config};
use lava_test_moto::Moto;
use serde_json::{Value, json};

/// Each type, a spec of it, and the client its stand-in runs.
fn cases() -> Vec<(&'static str, Value, &'static str)> {
    let db = |t: &str, port: u16| {
        json!({"type": t, "host": "db.example.com", "port": port, "database": "d", "user": "etl",
               "password": "/lava/prod/pw"})
    };
    let key = |t: &str| json!({"type": t, "ssh_key": "/lava/prod/key", "ssh_options": ["BatchMode=yes"]});
    vec![
        ("psql", db("psql", 5432), "psql"),
        ("postgres", db("postgres", 5432), "psql"),
        ("postgres-rds", db("postgres-rds", 5432), "psql"),
        ("postgres-aurora", db("postgres-aurora", 5432), "psql"),
        (
            "redshift",
            json!({"type": "redshift", "host": "analytics.x.us-east-1.redshift.amazonaws.com", "port": 5439,
                   "database": "dev", "user": "etl"}),
            "psql",
        ),
        ("redshift-serverless", db("redshift-serverless", 5439), "psql"),
        ("mysql", db("mysql", 3306), "mysql"),
        ("mariadb", db("mariadb", 3306), "mysql"),
        ("mysql-rds", db("mysql-rds", 3306), "mysql"),
        (
            "mysql-aurora",
            json!({"type": "mysql-aurora", "host": "orders.x.us-east-1.rds.amazonaws.com", "port": 3306,
                   "database": "d", "user": "etl", "ssl_mode": "require"}),
            "mysql",
        ),
        ("mariadb-rds", db("mariadb-rds", 3306), "mysql"),
        (
            "oracle",
            json!({"type": "oracle", "host": "ora.example.com", "port": 1521, "service_name": "LEDGER",
                   "user": "etl", "password": "/lava/prod/pw"}),
            "sqlplus",
        ),
        (
            "oracle-rds",
            json!({"type": "oracle-rds", "host": "ora.example.com", "port": "1521", "database": "LEDGER",
                   "user": "etl", "password": "/lava/prod/pw"}),
            "sqlplus",
        ),
        ("ssh", key("ssh"), "ssh"),
        ("scp", key("scp"), "scp"),
        ("sftp", key("sftp"), "sftp"),
        ("git", key("git"), "git"),
        ("sqlite3", json!({"type": "sqlite3", "host": "/data/app.db", "port": 0}), "sqlite3"),
        (
            "generic",
            json!({"type": "generic", "attributes": {"url": "https://api.example.com",
                   "token": {"type": "ssm", "parameter": "/lava/prod/pw"}}}),
            "get-attr-value",
        ),
    ]
}

/// Fake clients that print their name and arguments (`mysql --version`
/// answers as MySQL's client, which the stand-in asks first).
fn fake_clients(dir: &Path) {
    for client in ["psql", "mysql", "sqlplus", "sqlite3", "ssh", "scp", "sftp", "git"] {
        let path = dir.join(client);
        let version = if client == "mysql" {
            "[ \"$1\" = --version ] && { echo 'mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)'; exit 0; }\n"
        } else {
            ""
        };
        std::fs::write(&path, format!("#!/bin/sh\n{version}echo \"{client} $*\"\n")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lava_type_validates_resolves_and_runs_its_client_under_exec() {
    let moto = Moto::start(&json!({
        "parameters": [{"name": "/lava/prod/pw", "value": "pw"},
                       {"name": "/lava/prod/key", "value": "-----BEGIN KEY-----,AAAA,-----END KEY-----"}],
        "clusters": ["analytics"],
    }));
    let cases = cases();
    let specs: Vec<Value> = cases
        .iter()
        .map(|(t, spec, _)| {
            let mut spec = spec.clone();
            spec["conn_id"] = json!(format!("c-{t}"));
            spec["enabled"] = json!(true);
            spec
        })
        .collect();
    let mut config = test_config();
    let ssm = vec!["/lava/{realm}/".to_string()];
    config.policy.insert(
        "redshift".into(),
        TypePolicy { ssm: ssm.clone(), redshift_clusters: vec!["analytics".into()], ..TypePolicy::default() },
    );
    config.policy.insert(
        "mysql-aurora".into(),
        TypePolicy { ssm, rds_hosts: vec!["*.rds.amazonaws.com".into()], ..TypePolicy::default() },
    );
    // The built-ins only: an empty plugin folder.
    let plugins = lava_test_moto::tempdir();
    let (host, _folder) = sdk_host(config, plugins.path(), moto.sdk_loader(), &Value::Array(specs.clone())).await;
    for spec in &specs {
        assert_eq!(host.validate(spec, Some("prod")).unwrap(), vec![], "{spec}");
    }
    let workdir = lava_test_moto::tempdir();
    let bin = workdir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    fake_clients(&bin);
    let labels: BTreeMap<String, String> =
        cases.iter().map(|(t, ..)| (t.replace('-', "_"), format!("c-{t}"))).collect();
    let job = Job { realm: "prod".into(), job_id: "j1".into() };
    let env = host.prepare_job(&job, &labels, workdir.path()).await.unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    for (connector_type, _, client) in &cases {
        let var = format!("LAVA_CONN_{}", connector_type.replace('-', "_").to_uppercase());
        let script = env.vars.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone()).expect(&var);
        let arg = if *client == "get-attr-value" { "url" } else { "job-argument" };
        let out =
            env.apply(Command::new(&script).arg(arg)).env("PATH", &path).stdin(std::process::Stdio::null()).output();
        let out = out.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{connector_type}: {}", String::from_utf8_lossy(&out.stderr));
        if *client == "get-attr-value" {
            assert_eq!(stdout, "https://api.example.com", "{connector_type}");
        } else {
            assert!(stdout.starts_with(&format!("{client} ")), "{connector_type}: {stdout}");
            // The job's arguments last, but for sqlite3, where lava puts the file last.
            let last = if *client == "sqlite3" { "job-argument /data/app.db" } else { "job-argument" };
            assert!(stdout.trim_end().ends_with(last), "{connector_type}: {stdout}");
        }
    }
    env.cleanup().unwrap();
}
