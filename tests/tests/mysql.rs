//! lava's mysql family, the built-in `mysql` component, end to end: the
//! real host, the real AWS SDK against moto, and the `mysql` stand-in's
//! defaults file as MariaDB's own option reader reads it.

use std::collections::BTreeMap;
use std::process::Command;

use lava_conn::{ConnectorHost, Job, LauncherKind, TypePolicy};
use lava_conn_tests::{sdk_host, test_config};
use lava_test_moto::Moto;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// A password a defaults file must quote: `#` starts a comment, and a
/// line break would add an option.
const PASSWORD: &str = "p#w=\"x' \\ y";

async fn host(moto: &Moto, specs: &Value, policy: Option<(&str, TypePolicy)>) -> (ConnectorHost, tempfile::TempDir) {
    let mut config = test_config();
    if let Some((connector_type, policy)) = policy {
        config.policy.insert(connector_type.into(), policy);
    }
    // The built-ins only: an empty plugin folder.
    let plugins = lava_test_moto::tempdir();
    sdk_host(config, plugins.path(), moto.sdk_loader(), specs).await
}

fn job() -> Job {
    Job { realm: "prod".into(), job_id: "j1".into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mysql_password_from_ssm_reaches_the_client_through_its_defaults_file_intact() {
    let moto = Moto::start(&json!({"parameters": [{"name": "/lava/prod/orders/password", "value": PASSWORD}]}));
    let spec = json!({"conn_id": "orders", "type": "mariadb", "enabled": true, "host": "db.example.com",
        "port": "3306", "database": "orders", "user": "etl", "password": "/lava/prod/orders/password",
        "ssl_mode": "verify-full"});
    let (host, _folder) = host(&moto, &json!([spec]), None).await;
    assert_eq!(host.validate(&spec, Some("prod")).unwrap(), vec![]);
    let resolved = host.resolve("orders", &job()).await.unwrap();
    assert_eq!(resolved.launcher, Some(LauncherKind::Mysql));
    let login = resolved.login.as_ref().unwrap();
    assert_eq!(login.password.as_ref().unwrap().expose_secret(), PASSWORD);
    assert_eq!((login.port, login.ssl_mode.as_deref()), (Some(3306), Some("verify-full")));

    let workdir = lava_test_moto::tempdir();
    let labels = BTreeMap::from([("db".to_string(), "orders".to_string())]);
    let env = host.prepare_job(&job(), &labels, workdir.path()).await.unwrap();
    let script = env.vars.iter().find(|(k, _)| k == "LAVA_CONN_DB").map(|(_, v)| std::path::PathBuf::from(v)).unwrap();
    let defaults = script.with_file_name(".mysql.conf");
    match Command::new("my_print_defaults")
        .arg(format!("--defaults-file={}", defaults.display()))
        .arg("client")
        .output()
    {
        Ok(out) => {
            let printed = String::from_utf8_lossy(&out.stdout);
            assert!(printed.lines().any(|l| l == format!("--password={PASSWORD}")), "{printed}");
            assert!(printed.lines().any(|l| l == "--user=etl"), "{printed}");
        }
        Err(_) => {
            assert!(std::env::var_os("LAVA_CONN_REQUIRE_CLIENTS").is_none(), "my_print_defaults is not installed")
        }
    }
    env.cleanup().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_rds_without_a_password_gets_an_iam_token_and_keeps_tls() {
    let moto = Moto::start(&json!({}));
    let server = "orders.abc123.us-east-1.rds.amazonaws.com";
    let spec = json!({"conn_id": "orders", "type": "mysql-rds", "enabled": true, "host": server, "port": 3306,
        "database": "orders", "user": "etl", "ssl_mode": "require"});
    let policy = TypePolicy { rds_hosts: vec!["*.rds.amazonaws.com".into()], ..TypePolicy::default() };
    let (host, _folder) = host(&moto, &json!([spec]), Some(("mysql-rds", policy))).await;
    let resolved = host.resolve("orders", &job()).await.unwrap();
    let login = resolved.login.as_ref().unwrap();
    let token = login.password.as_ref().unwrap().expose_secret();
    assert!(token.starts_with(&format!("{server}:3306/?")) && token.contains("X-Amz-Signature="), "{token}");
    assert_eq!(login.ssl_mode.as_deref(), Some("require"));
    let without_tls = json!({"conn_id": "plain", "type": "mysql-rds", "enabled": true, "host": server, "port": 3306,
        "database": "orders", "user": "etl"});
    let problems = host.validate(&without_tls, Some("prod")).unwrap();
    assert_eq!(problems.iter().map(|p| p.field.as_str()).collect::<Vec<_>>(), ["ssl_mode"], "{problems:?}");
}
