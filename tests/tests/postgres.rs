//! lava's postgres family, the built-in `postgres` component, end to end:
//! the real host, the real AWS SDK against moto (SSM, Secrets Manager,
//! Redshift; RDS tokens are presigned without a request), and the `psql`
//! stand-in the job gets. Redshift Serverless, which moto lacks, goes to
//! the test kit's recording AWS.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use lava_conn::{ConnectorHost, Job, LauncherKind, TypePolicy, WorkerConfig};
use lava_conn_tests::{FakeAws, host_with, sdk_host, test_config};
use lava_test_moto::Moto;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// A password `.pgpass` must escape (`:` and `\`), with what a shell would act on.
const REAL_PASSWORD: &str = "p:w\\#'\" $(touch pwned)";

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        Moto::start(&json!({
            "parameters": [
                {"name": "/lava/prod/warehouse/password", "value": "s3cr:et\\pw"},
                {"name": "/lava/prod/sales/password", "value": "s3cr:et\\pw"},
                {"name": "/lava/prod/real-postgres/password", "value": REAL_PASSWORD},
            ],
            "secrets": [
                {"name": "prod/sales", "value": "{\"username\": \"app\", \"password\": \"from-secret\", \
                    \"host\": \"sales.example.com\", \"port\": 5433, \"dbname\": \"sales\", \"engine\": \"postgres\"}"},
                {"name": "prod/not-json", "value": "hunter2"},
            ],
            "clusters": ["analytics"],
        }))
    })
}

fn job() -> Job {
    Job { realm: "prod".into(), job_id: "j1".into() }
}

/// The worker's policy for one type of the family, beside SSM under the realm.
fn config(connector_type: &str, policy: TypePolicy) -> WorkerConfig {
    let mut config = test_config();
    let policy = TypePolicy { ssm: vec!["/lava/{realm}/".into()], ..policy };
    config.policy.insert(connector_type.into(), policy);
    config
}

async fn host(config: WorkerConfig) -> (ConnectorHost, tempfile::TempDir, tempfile::TempDir) {
    let plugins = lava_test_moto::tempdir();
    let (host, specs) = sdk_host(config, plugins.path(), moto().sdk_loader(), &json!([])).await;
    (host, specs, plugins)
}

fn spec(connector_type: &str, fields: Value) -> Value {
    let mut spec = json!({"conn_id": "warehouse", "type": connector_type, "enabled": true});
    spec.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    spec
}

/// The login's fields, the password shown.
fn login(resolved: &lava_conn::Resolved) -> (String, u16, String, String, String) {
    assert_eq!(resolved.launcher, Some(LauncherKind::Psql));
    let login = resolved.login.as_ref().expect("a login");
    (
        login.host.clone().unwrap(),
        login.port.unwrap(),
        login.user.clone().unwrap(),
        login.database.clone().unwrap(),
        login.password.as_ref().unwrap().expose_secret().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_password_is_read_from_ssm_and_the_job_gets_lavas_psql_stand_in() {
    let (host, _specs, _plugins) = host(test_config()).await;
    let spec = spec(
        "postgres",
        json!({"host": "db.example.com", "port": "5432", "database": "sales", "user": "etl",
               "password": "/lava/prod/warehouse/password", "ssl_mode": "verify-full"}),
    );
    assert_eq!(host.validate(&spec, Some("prod")).unwrap(), vec![]);
    let resolved = host.resolve_spec(spec.clone(), &job()).await.unwrap();
    let expected = ("db.example.com".into(), 5432, "etl".into(), "sales".into(), "s3cr:et\\pw".into());
    assert_eq!(login(&resolved), expected);
    // The tests share one moto, each reading its own parameters.
    assert_eq!(moto().get_parameter_requests("/lava/prod/warehouse/password").len(), 1);

    let specs = lava_test_moto::tempdir();
    std::fs::write(specs.path().join("specs.json"), json!([spec]).to_string()).unwrap();
    let store = lava_conn::FolderStore::open(specs.path()).unwrap();
    let sdk = lava_conn::configure_sdk(moto().sdk_loader()).load().await;
    let host = ConnectorHost::builder()
        .config(test_config())
        .backend(lava_conn::SdkBackend::new(sdk))
        .store(Arc::new(store))
        .build()
        .unwrap();
    let workdir = lava_test_moto::tempdir();
    let labels = BTreeMap::from([("db".to_string(), "warehouse".to_string())]);
    let env = host.prepare_job(&job(), &labels, workdir.path()).await.unwrap();
    let script = env.vars.iter().find(|(k, _)| k == "LAVA_CONN_DB").map(|(_, v)| std::path::PathBuf::from(v)).unwrap();
    let text = std::fs::read_to_string(&script).unwrap();
    for line in ["export PGHOST=db.example.com", "export PGPORT=5432", "export PGSSLMODE=verify-full"] {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert!(
        text.contains("PGAPPNAME=lv-prod-j1; export PGAPPNAME"),
        "the application name, unless the job set one: {text}"
    );
    let pgpass = std::fs::read_to_string(script.with_file_name(".pgpass")).unwrap();
    assert_eq!(pgpass, "db.example.com:5432:sales:etl:s3cr\\:et\\\\pw\n", "every field escaped");
    env.cleanup().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_fills_what_the_spec_leaves_out_and_the_spec_wins_where_both_say() {
    let policy = TypePolicy { secrets: vec!["prod/".into()], ..TypePolicy::default() };
    let (host, _specs, _plugins) = host(config("psql", policy)).await;
    let resolved = host.resolve_spec(spec("psql", json!({"secret_id": "prod/sales"})), &job()).await.unwrap();
    let from_secret = ("sales.example.com".into(), 5433, "app".into(), "sales".into(), "from-secret".into());
    assert_eq!(login(&resolved), from_secret);
    let mixed =
        spec("psql", json!({"secret_id": "prod/sales", "user": "etl", "password": "/lava/prod/sales/password"}));
    let resolved = host.resolve_spec(mixed, &job()).await.unwrap();
    let (_, _, user, _, password) = login(&resolved);
    assert_eq!((user.as_str(), password.as_str()), ("etl", "s3cr:et\\pw"), "the spec's user, its SSM password");
    let error = host.resolve_spec(spec("psql", json!({"secret_id": "prod/not-json"})), &job()).await.unwrap_err();
    let error = error.to_string();
    assert!(error.contains("is not a JSON object of login fields") && !error.contains("hunter2"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_types_policy_a_secret_is_refused_before_any_request_naming_the_setting() {
    let (host, _specs, _plugins) = host(test_config()).await;
    let before = moto().requests().len();
    let error = host.resolve_spec(spec("postgres", json!({"secret_id": "prod/sales"})), &job()).await.unwrap_err();
    assert!(error.to_string().contains("`secrets` under `[policy.postgres]`"), "{error}");
    let after = moto().requests();
    assert!(after[before..].iter().all(|r| !r.body.contains("prod/sales")), "nothing reached Secrets Manager");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redshift_without_a_password_gets_cluster_credentials_as_lava_asks_for_them() {
    let policy = TypePolicy { redshift_clusters: vec!["analytics".into()], ..TypePolicy::default() };
    let (host, _specs, _plugins) = host(config("redshift", policy)).await;
    let before = moto().requests().len();
    let spec = spec(
        "redshift",
        json!({"host": "analytics.abc123.us-east-1.redshift.amazonaws.com", "port": 5439,
                                 "database": "dev", "user": "etl"}),
    );
    let resolved = host.resolve_spec(spec, &job()).await.unwrap();
    let (_, port, user, database, password) = login(&resolved);
    assert_eq!((port, user.as_str(), database.as_str()), (5439, "IAM:etl", "dev"), "the user AWS names");
    assert_eq!(password.len(), 32);
    assert!(resolved.expiration.is_some(), "cached no longer than the password works");
    let tls = resolved.login.as_ref().unwrap().ssl_mode.as_deref();
    assert_eq!(tls, Some("require"), "a temporary password only over TLS (lava's `prefer` would offer it in clear)");
    let requests = moto().requests();
    let asked: Vec<_> =
        requests[before..].iter().filter(|r| r.param("Action") == Some("GetClusterCredentials")).collect();
    assert_eq!(asked.len(), 1);
    let params: BTreeMap<&str, &str> = asked[0].params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(params.get("ClusterIdentifier"), Some(&"analytics"), "the host's first label");
    assert_eq!(params.get("DbUser"), Some(&"etl"));
    assert_eq!(params.get("DbName"), Some(&"dev"));
    assert_eq!(params.get("DurationSeconds"), Some(&"900"), "lava's 15m");
    assert_eq!(params.get("AutoCreate"), Some(&"false"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rds_without_a_password_gets_an_iam_token_for_its_host_port_and_user() {
    let policy = TypePolicy { rds_hosts: vec!["*.rds.amazonaws.com".into()], ..TypePolicy::default() };
    let (host, _specs, _plugins) = host(config("postgres-rds", policy)).await;
    let server = "db.abc123.us-east-1.rds.amazonaws.com";
    let spec = spec("postgres-rds", json!({"host": server, "port": 5432, "database": "sales", "user": "etl"}));
    let resolved = host.resolve_spec(spec, &job()).await.unwrap();
    let (_, _, user, _, token) = login(&resolved);
    assert_eq!(user, "etl");
    assert!(token.starts_with(&format!("{server}:5432/?")), "{token}");
    assert!(token.contains("Action=connect") && token.contains("DBUser=etl") && token.contains("X-Amz-Signature="));
    // Cached no longer than the token works (15 minutes), whatever the cache's TTL.
    let expires = resolved.expiration.expect("the token's expiry");
    let left = expires.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(left <= std::time::Duration::from_secs(900) && left > std::time::Duration::from_secs(800), "{left:?}");
    let outside = json!({"conn_id": "other", "type": "postgres-rds", "enabled": true, "host": "db.evil.example",
        "port": 5432, "database": "d", "user": "etl"});
    let error = host.resolve_spec(outside, &job()).await.unwrap_err().to_string();
    assert!(error.contains("db.evil.example") && error.contains("rds_hosts"), "{error}");
}

#[test]
fn redshift_serverless_assumes_its_role_then_asks_for_credentials_in_the_specs_region() {
    let policy = TypePolicy {
        roles: vec!["arn:aws:iam::123456789012:role/*".into()],
        redshift_workgroups: vec!["analytics".into()],
        ..TypePolicy::default()
    };
    let aws =
        FakeAws::default().role("arn:aws:iam::123456789012:role/reader").parameter("/lava/prod/external-id", "ext-1");
    let aws = Arc::new(aws);
    let host = host_with(config("redshift-serverless", policy), None, aws.clone());
    let spec = spec(
        "redshift-serverless",
        json!({"host": "analytics.123456789012.eu-west-1.redshift-serverless.amazonaws.com", "port": 5439,
               "database": "dev", "role_arn": "arn:aws:iam::123456789012:role/reader",
               "external_id": "/lava/prod/external-id", "region": "eu-west-1", "tags": {"team": "data"}}),
    );
    assert_eq!(host.validate(&spec, Some("prod")).unwrap(), vec![]);
    let resolved = host.resolve_uncached(&spec, &job()).unwrap();
    let (_, _, user, _, password) = login(&resolved);
    assert_eq!((user.as_str(), password.as_str()), ("IAMR:fake", "fake-database-password"));
    assert_eq!(
        aws.calls(),
        ["ssm:/lava/prod/external-id", "sts:arn:aws:iam::123456789012:role/reader", "redshift-serverless:analytics"]
    );
}

#[test]
fn every_type_of_the_family_is_served_by_the_one_built_in_and_described_field_by_field() {
    let host = host_with(test_config(), None, Arc::new(FakeAws::default()));
    let plugins = host.plugins();
    let postgres: Vec<&lava_conn::PluginInfo> =
        plugins.iter().filter(|p| p.source == lava_conn::PluginSource::BuiltIn("postgres")).collect();
    assert_eq!(postgres.len(), 1, "{plugins:?}");
    assert_eq!(
        postgres[0].types,
        ["postgres", "psql", "postgres-rds", "postgres-aurora", "redshift", "redshift-serverless"]
    );
    let fields: Vec<&str> = postgres[0].fields.iter().map(|(name, ..)| name.as_str()).collect();
    for field in ["host", "port", "database", "user", "password", "secret_id", "ssl_mode", "cluster_id", "workgroup"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
}

/// A PostgreSQL server of Debian's package, started for one test on a free
/// loopback port with its socket and data in a scratch folder, run as
/// `nobody` when the tests run as root (it refuses root). Stopped on drop.
struct Server {
    port: u16,
    socket: std::path::PathBuf,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Server {
    /// `None` when the server is not installed (`apt-get install postgresql`),
    /// which fails instead under `LAVA_CONN_REQUIRE_CLIENTS` (CI).
    fn start() -> Option<Server> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .find(|bin| bin.join("initdb").is_file());
        let Some(bin) = bin else {
            assert!(std::env::var_os("LAVA_CONN_REQUIRE_CLIENTS").is_none(), "the PostgreSQL server is not installed");
            return None;
        };
        let dir = lava_test_moto::tempdir();
        let as_server = |program: &str| {
            let mut command = std::process::Command::new("setpriv");
            if unsafe { libc::geteuid() } == 0 {
                command.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
            }
            command.arg(bin.join(program)).env("LC_ALL", "C");
            command
        };
        if unsafe { libc::geteuid() } == 0 {
            let chown = std::process::Command::new("chown").arg("nobody:nogroup").arg(dir.path()).status();
            assert!(chown.unwrap().success());
        }
        let data = dir.path().join("data");
        let init = as_server("initdb")
            .args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(init.status.success(), "initdb: {}", String::from_utf8_lossy(&init.stderr));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = as_server("postgres")
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-k"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = Server { port, socket: dir.path().to_path_buf(), child, _dir: dir };
        for _ in 0..100 {
            if server.sql("select 1").is_ok() {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("PostgreSQL did not start on port {port}");
    }

    /// Run `sql` as the superuser over the server's socket.
    fn sql(&self, sql: &str) -> Result<String, String> {
        let out = std::process::Command::new("psql")
            .args(["-X", "-q", "-At", "-U", "postgres", "-d", "postgres", "-p", &self.port.to_string(), "-h"])
            .arg(&self.socket)
            .args(["-c", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_psql_logs_in_to_a_real_postgresql_with_the_password_read_from_ssm() {
    let Some(server) = Server::start() else { return };
    let quoted = REAL_PASSWORD.replace('\'', "''");
    server.sql(&format!("create role etl login password '{quoted}'")).unwrap();
    server.sql("create database sales owner etl").unwrap();
    let parameter = "/lava/prod/real-postgres/password";
    let spec = json!({"conn_id": "real", "type": "postgres", "enabled": true, "host": "127.0.0.1",
        "port": server.port.to_string(), "database": "sales", "user": "etl", "password": parameter});
    let specs = lava_test_moto::tempdir();
    std::fs::write(specs.path().join("specs.json"), json!([spec]).to_string()).unwrap();
    let sdk = lava_conn::configure_sdk(moto().sdk_loader()).load().await;
    let host = ConnectorHost::builder()
        .config(test_config())
        .backend(lava_conn::SdkBackend::new(sdk))
        .store(Arc::new(lava_conn::FolderStore::open(specs.path()).unwrap()))
        .build()
        .unwrap();
    let workdir = lava_test_moto::tempdir();
    let labels = BTreeMap::from([("db".to_string(), "real".to_string())]);
    let env = host.prepare_job(&job(), &labels, workdir.path()).await.unwrap();
    let script = env.vars.iter().find(|(k, _)| k == "LAVA_CONN_DB").map(|(_, v)| v.clone()).unwrap();
    let out = env
        .apply(std::process::Command::new(&script).args([
            "-At",
            "-c",
            "select current_user, current_database(), application_name from pg_stat_activity where pid = pg_backend_pid()",
        ]))
        .current_dir(workdir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.trim(), "etl|sales|lv-prod-j1", "a real login, as lava's job would make it");
    assert!(!workdir.path().join("pwned").exists());
    env.cleanup().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_db_hosts_a_login_may_name_only_those_servers_whatever_the_spec_says() {
    let policy = TypePolicy { db_hosts: vec!["*.example.com".into()], ..TypePolicy::default() };
    let (host, _specs, _plugins) = host(config("postgres", policy)).await;
    let allowed = spec(
        "postgres",
        json!({"host": "db.example.com", "port": 5432, "database": "sales", "user": "etl",
               "password": "/lava/prod/sales/password"}),
    );
    assert_eq!(login(&host.resolve_spec(allowed, &job()).await.unwrap()).0, "db.example.com");
    // The same password, sent to a server of the spec author's choosing.
    let elsewhere = json!({"conn_id": "elsewhere", "type": "postgres", "enabled": true, "host": "db.evil.example.net",
        "port": 5432, "database": "sales", "user": "etl", "password": "/lava/prod/sales/password"});
    let error = host.resolve_spec(elsewhere, &job()).await.unwrap_err().to_string();
    assert!(error.contains("db.evil.example.net") && error.contains("`db_hosts` under `[policy.postgres]`"), "{error}");
}
