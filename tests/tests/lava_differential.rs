//! lava 8.3.0's own code against lava-conn, case by case: for each spec,
//! lava's `get_cli_connection` (in `.venv-lava`, reading DynamoDB and SSM in
//! moto as a lava worker does) writes its stand-in, lava-conn writes its
//! own from the same spec, and each runs a fake client that records how it
//! was run: its arguments, its family's environment variables, and what the
//! files they name hold (`.pgpass`, MySQL's defaults as MariaDB's own reader
//! reads them, the ssh key). Every line on which the two differ must be one
//! of the differences `docs/lava-behaviour.md` lists, each named below with
//! its reason; any other fails the test. The counts are printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use lava_conn::{ConnectorHost, Job};
use lava_conn_tests::test_config;
use lava_test_moto::Moto;
use serde_json::{Value, json};

const KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";

/// A case: the spec, and the differences from lava it may show (each a
/// line prefix of lava-conn's record or of lava's, and why).
struct Case {
    spec: Value,
    /// Arguments the job gives the stand-in.
    args: &'static [&'static str],
    differences: &'static [(&'static str, &'static str)],
}

/// PGAPPNAME: lava's stand-in sets it without `export`, so psql never saw it.
const APP_NAME: (&str, &str) = ("ours: env PGAPPNAME=", "lava's PGAPPNAME never reached psql; lava-conn's does");
/// An IAM login over TLS: lava's was libpq's `prefer`.
const IAM_TLS: [(&str, &str); 3] = [
    APP_NAME,
    ("ours: env PGSSLMODE=require", "a bearer credential is never offered to a server that did not start TLS"),
    ("lava: env PGSSLMODE=prefer", "lava's default"),
];
/// lava-conn's mysql stand-in connects over TCP.
const TCP: (&str, &str) = ("ours: arg --protocol=TCP", "lava-conn connects over TCP (`localhost` would be a socket)");
/// MySQL's login-path file, read even with `--defaults-file`.
const LOGIN_PATH: (&str, &str) = (
    "ours: env MYSQL_TEST_LOGIN_FILE=/dev/null",
    "MySQL's login-path file (read even with --defaults-file) is not read",
);
/// lava's defaults file holds the password raw: `#` starts a comment.
const HASH_ENDS_PASSWORD: [(&str, &str); 2] = [
    ("lava: defaults --password=s3cr:et", "lava's unquoted defaults file cut the password at `#`"),
    ("ours: defaults --password=s3cr:et#1", "lava-conn's quoted defaults file keeps the whole password"),
];
const MYSQL: [(&str, &str); 4] = [TCP, LOGIN_PATH, HASH_ENDS_PASSWORD[0], HASH_ENDS_PASSWORD[1]];
/// ssh with host-key checking relaxed: nothing written to the job user's known_hosts.
const KNOWN_HOSTS: [(&str, &str); 2] = [
    ("ours: arg -o", "the option's flag"),
    ("ours: arg UserKnownHostsFile=/dev/null", "relaxed checking writes no key into the job user's ~/.ssh/known_hosts"),
];
/// The same for git's ssh command.
const GIT_KNOWN_HOSTS: [(&str, &str); 2] = [
    (
        "ours: env GIT_SSH_COMMAND=ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i <dir>/ssh.pem",
        "relaxed checking writes no key into the job user's ~/.ssh/known_hosts",
    ),
    ("lava: env GIT_SSH_COMMAND=ssh -o StrictHostKeyChecking=no -i <dir>/ssh.pem", "lava's"),
];
/// sqlplus: the password never on a command line.
const SQLPLUS: [(&str, &str); 2] = [
    ("lava: arg etl/s3cr:et#1@", "lava's password on sqlplus's command line, in `ps` for every local user"),
    ("ours: arg etl@", "the user and descriptor; the password is the first line of sqlplus's input"),
];

fn cases() -> Vec<Case> {
    let db = |t: &str, port: Value| {
        json!({"conn_id": t, "type": t, "enabled": true, "host": "db.example.com", "port": port, "database": "d",
               "user": "etl", "password": "/lava/prod/pw"})
    };
    vec![
        Case { spec: db("psql", json!(5432)), args: &["-c", "select 1"], differences: &[APP_NAME] },
        Case { spec: db("postgres", json!("5433")), args: &["-l"], differences: &[APP_NAME] },
        Case {
            spec: json!({"conn_id": "pg-tls", "type": "postgres-rds", "enabled": true, "host": "db.example.com",
                         "port": 5432, "database": "d", "user": "etl", "password": "/lava/prod/pw",
                         "ssl_mode": "verify-full"}),
            args: &[],
            differences: &[APP_NAME],
        },
        Case {
            spec: json!({"conn_id": "pg-secret", "type": "postgres", "enabled": true, "secret_id": "prod/db"}),
            args: &[],
            differences: &[APP_NAME],
        },
        Case { spec: db("postgres-aurora", json!(5432)), args: &[], differences: &[APP_NAME] },
        Case {
            spec: json!({"conn_id": "warehouse", "type": "redshift", "enabled": true,
                         "host": "analytics.x.us-east-1.redshift.amazonaws.com", "port": 5439, "database": "dev",
                         "user": "etl"}),
            args: &[],
            differences: &IAM_TLS,
        },
        Case { spec: db("mysql", json!(3306)), args: &["-e", "select 1"], differences: &MYSQL },
        Case { spec: db("mysql-rds", json!(3306)), args: &[], differences: &MYSQL },
        Case { spec: db("mariadb-rds", json!(3306)), args: &[], differences: &MYSQL },
        Case { spec: db("mariadb", json!("3306")), args: &[], differences: &MYSQL },
        Case {
            spec: json!({"conn_id": "mysql-tls", "type": "mysql", "enabled": true, "host": "db.example.com",
                         "port": 3306, "database": "d", "user": "etl", "password": "/lava/prod/pw",
                         "ssl_mode": "require"}),
            args: &[],
            differences: &MYSQL,
        },
        Case {
            spec: json!({"conn_id": "box", "type": "ssh", "enabled": true, "ssh_key": "/lava/prod/key",
                         "ssh_options": ["StrictHostKeyChecking=no", "ConnectTimeout=10"]}),
            args: &["deploy@host", "uptime"],
            differences: &KNOWN_HOSTS,
        },
        Case {
            spec: json!({"conn_id": "copy", "type": "scp", "enabled": true, "ssh_key": "/lava/prod/key"}),
            args: &["a", "host:b"],
            differences: &[],
        },
        Case {
            spec: json!({"conn_id": "files", "type": "sftp", "enabled": true, "ssh_key": "/lava/prod/key"}),
            args: &["host"],
            differences: &[],
        },
        Case {
            spec: json!({"conn_id": "repo", "type": "git", "enabled": true, "ssh_key": "/lava/prod/key",
                         "ssh_options": ["StrictHostKeyChecking=no"]}),
            args: &["clone", "ssh://git@host/repo.git"],
            differences: &GIT_KNOWN_HOSTS,
        },
        Case {
            spec: json!({"conn_id": "ledger", "type": "oracle", "enabled": true, "host": "ora.example.com",
                         "port": 1521, "service_name": "LEDGER", "user": "etl", "password": "/lava/prod/pw"}),
            args: &["@report.sql"],
            differences: &SQLPLUS,
        },
        Case {
            spec: json!({"conn_id": "ledger-rds", "type": "oracle-rds", "enabled": true, "host": "ora.example.com",
                         "port": "1521", "service_name": "LEDGER", "user": "etl", "password": "/lava/prod/pw"}),
            args: &[],
            differences: &SQLPLUS,
        },
        Case {
            spec: json!({"conn_id": "local", "type": "sqlite3", "enabled": true, "host": "/data/app.db", "port": 0}),
            args: &[".tables"],
            differences: &[],
        },
        Case {
            spec: json!({"conn_id": "vendor", "type": "generic", "enabled": true,
                         "attributes": {"url": "https://api.example.com", "retries": 3,
                                        "token": {"type": "ssm", "parameter": "/lava/prod/pw"}}}),
            args: &["token"],
            differences: &[],
        },
    ]
}

/// Specs lava refuses at the job's start, and lava-conn too (at `validate`).
fn refused() -> Vec<Value> {
    vec![
        json!({"conn_id": "no-password", "type": "psql", "enabled": true, "host": "h", "port": 5432,
               "database": "d", "user": "u"}),
        json!({"conn_id": "no-key", "type": "ssh", "enabled": true}),
        json!({"conn_id": "bad-tls", "type": "postgres", "enabled": true, "host": "h", "port": 5432,
               "database": "d", "user": "u", "password": "/lava/prod/pw", "ssl_mode": "disable"}),
        json!({"conn_id": "bad-attribute", "type": "generic", "enabled": true, "attributes": {"x": {"type": "s3"}}}),
    ]
}

/// The fake client: how it was run, one fact a line.
const RECORDER: &str = r#"#!/bin/sh
name=${0##*/}
[ "$name" = mysql ] && [ "$1" = --version ] && { echo 'mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)'; exit 0; }
echo "client $name"
for a in "$@"; do echo "arg $a"; done
env | grep -E '^(PG|MYSQL|GIT_)' | sort | sed 's/^/env /'
if [ -n "$PGPASSFILE" ] && [ -f "$PGPASSFILE" ]; then sed 's/^/pgpass /' "$PGPASSFILE"; fi
key=
for a in "$@"; do
    case "$a" in --defaults-file=*) my_print_defaults --defaults-file="${a#--defaults-file=}" client | sed 's/^/defaults /';; esac
    [ "$key" = next ] && { sed 's/^/key /' "$a"; key=; }
    if [ "$a" = -i ]; then key=next; fi
done
exit 0
"#;

fn lava_python() -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-lava/bin/python");
    if python.is_file() {
        return Some(python);
    }
    assert!(std::env::var_os("LAVA_CONN_REQUIRE_CLIENTS").is_none(), "lava 8.3.0 is not in .venv-lava (./dev setup)");
    None
}

/// What a stand-in's client recorded, with the connection's own folder
/// written `<dir>` and the job's values as they are.
fn record(script: &Path, args: &[&str], bin: &Path, env: &[(String, String)], dir_of: &Path) -> Vec<String> {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(script)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PATH", path)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {}", script.display(), String::from_utf8_lossy(&out.stderr));
    let folder = dir_of.display().to_string();
    let text = String::from_utf8_lossy(&out.stdout).replace(&folder, "<dir>");
    text.lines().map(masked).collect()
}

/// A `.pgpass` line of Redshift's temporary credentials with the password
/// masked: moto makes a new one for each call, lava's and lava-conn's.
fn masked(line: &str) -> String {
    match line.strip_prefix("pgpass ") {
        Some(entry) if entry.contains(":IAM\\:") => {
            let cut = entry.rfind(':').unwrap_or(entry.len());
            format!("pgpass {}:<temporary password>", &entry[..cut])
        }
        _ => line.to_string(),
    }
}

/// Lines of `a` not in `b`, each once per extra occurrence.
fn only_in(a: &[String], b: &[String]) -> Vec<String> {
    let mut rest: Vec<&String> = b.iter().collect();
    a.iter()
        .filter(|line| match rest.iter().position(|r| r == line) {
            Some(at) => {
                rest.remove(at);
                false
            }
            None => true,
        })
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lava_conn_writes_what_lavas_own_code_writes_but_for_the_documented_differences() {
    let Some(python) = lava_python() else { return };
    let cases = cases();
    let mut items: Vec<Value> = cases.iter().map(|c| c.spec.clone()).collect();
    items.extend(refused());
    let secret = json!({"username": "app", "password": "from-secret", "host": "sales.example.com", "port": 5434,
                        "dbname": "sales"});
    let moto = Moto::start(&json!({
        "parameters": [{"name": "/lava/prod/pw", "value": "s3cr:et#1"},
                       {"name": "/lava/prod/key", "value": KEY.replace('\n', ",")}],
        "secrets": [{"name": "prod/db", "value": secret.to_string()}],
        "clusters": ["analytics"],
        "tables": [{"name": "lava.prod.connections", "items": items}],
    }));
    let scratch = lava_test_moto::tempdir();
    let bin = scratch.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for client in ["psql", "mysql", "ssh", "scp", "sftp", "git", "sqlite3", "sqlplus"] {
        std::fs::write(bin.join(client), RECORDER).unwrap();
        std::fs::set_permissions(bin.join(client), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let mut config = test_config();
    config.policy.insert(
        "postgres".into(),
        lava_conn::TypePolicy {
            ssm: vec!["/lava/{realm}/".into()],
            secrets: vec!["prod/".into()],
            ..lava_conn::TypePolicy::default()
        },
    );
    config.policy.insert(
        "redshift".into(),
        lava_conn::TypePolicy {
            ssm: vec!["/lava/{realm}/".into()],
            redshift_clusters: vec!["analytics".into()],
            ..lava_conn::TypePolicy::default()
        },
    );
    let sdk = lava_conn::configure_sdk(moto.sdk_loader()).load().await;
    // lava's own table (`lava.<realm>.connections`), which both read.
    let store = lava_conn::DynamoStore::from_sdk_config(&sdk);
    let host = ConnectorHost::builder()
        .config(config)
        .backend(lava_conn::SdkBackend::new(sdk))
        .store(Arc::new(store))
        .build()
        .unwrap();
    let job = Job { realm: "prod".into(), job_id: "j1".into() };
    let job_env = vec![("LAVA_REALM".to_string(), "prod".to_string()), ("LAVA_JOB_ID".to_string(), "j1".to_string())];
    let (mut same, mut documented) = (0, Vec::new());
    for case in &cases {
        let conn_id = case.spec["conn_id"].as_str().unwrap();
        // lava's own stand-in.
        let out = run_lava(&python, &moto, conn_id, scratch.path(), &bin);
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(out.status.success(), "lava refused {conn_id}: {stdout} {}", String::from_utf8_lossy(&out.stderr));
        let lava_script = PathBuf::from(&stdout);
        let lava = record(&lava_script, case.args, &bin, &job_env, lava_script.parent().unwrap());
        // lava-conn's, from the same spec in the same table.
        let work = scratch.path().join(format!("ours-{conn_id}"));
        std::fs::create_dir(&work).unwrap();
        let labels = BTreeMap::from([("c".to_string(), conn_id.to_string())]);
        let env = host.prepare_job(&job, &labels, &work).await.unwrap();
        let script = env.vars.iter().find(|(k, _)| k == "LAVA_CONN_C").map(|(_, v)| PathBuf::from(v)).unwrap();
        let mut vars = env.vars.clone();
        vars.extend(job_env.clone());
        let ours = record(&script, case.args, &bin, &vars, script.parent().unwrap());
        env.cleanup().unwrap();
        let differing: Vec<String> = only_in(&ours, &lava)
            .into_iter()
            .map(|l| format!("ours: {l}"))
            .chain(only_in(&lava, &ours).into_iter().map(|l| format!("lava: {l}")))
            .collect();
        for line in &differing {
            let reason = case.differences.iter().find(|(prefix, _)| line.starts_with(prefix));
            assert!(
                reason.is_some(),
                "{conn_id}: an undocumented difference: {line}\nlava: {lava:#?}\nours: {ours:#?}"
            );
        }
        if differing.is_empty() {
            same += 1;
        } else {
            documented.push(format!("{conn_id}: {}", differing.join("; ")));
        }
    }
    for spec in refused() {
        let conn_id = spec["conn_id"].as_str().unwrap();
        let lava = run_lava(&python, &moto, conn_id, scratch.path(), &bin);
        assert_eq!(lava.status.code(), Some(3), "lava refuses {conn_id}: {}", String::from_utf8_lossy(&lava.stdout));
        let problems = host.validate(&spec, Some("prod")).unwrap();
        let refuses = problems.iter().any(|p| p.severity == lava_conn::Severity::Error);
        assert!(refuses, "lava-conn refuses {conn_id} too: {problems:?}");
        same += 1;
    }
    eprintln!(
        "lava 8.3.0 against lava-conn: {} cases, {same} the same, {} with documented differences:\n  {}",
        same + documented.len(),
        documented.len(),
        documented.join("\n  ")
    );
}

/// lava's own `get_cli_connection` for `conn_id`, writing into a folder of
/// its own in `scratch`, with the fake clients first on its `PATH` (lava
/// asks `mysql --version` when it writes the stand-in: the same client).
fn run_lava(python: &Path, moto: &Moto, conn_id: &str, scratch: &Path, bin: &Path) -> std::process::Output {
    let dir = scratch.join(format!("lava-{conn_id}"));
    std::fs::create_dir(&dir).unwrap();
    Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("lava/cli_connection.py"))
        .args([conn_id, "prod"])
        .arg(&dir)
        .envs(moto.env())
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .output()
        .unwrap()
}
