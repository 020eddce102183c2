//! Contract 0.3.0 end to end: the `family` test plugin in the real host,
//! the real AWS SDK, a real moto server. A capability the plugin does not
//! declare, or its type's policy does not grant, is refused before any
//! request (moto's recording shows none); what is declared and granted
//! reaches AWS; and a login launcher reaches the job as `LAVA_CONN_<LABEL>`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use lava_conn::{ConnectorHost, Job, TypePolicy, WorkerConfig};
use lava_conn_tests::{FAMILY_COMPONENT, plugin_dir, sdk_host, test_config};
use lava_test_moto::Moto;
use lava_test_moto::faults::{FaultServer, Reply};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/family";

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        Moto::start(&json!({
            "parameters": [{"name": "/lava/prod/family/x", "value": "from-ssm"}],
            "secrets": [
                {"name": "app/db", "value": "{\"password\": \"from-secrets\"}"},
                {"name": "app/binary", "binary": "not text"},
                {"name": "other/db", "value": "never read"},
            ],
            "clusters": ["warehouse", "warehouse-2"],
            "roles": ["family"],
        }))
    })
}

fn plugins() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| plugin_dir(&[("family.wasm", FAMILY_COMPONENT)]))
}

/// Every capability the plugin declares, as far as its scopes go.
fn granting_all() -> TypePolicy {
    TypePolicy {
        ssm: vec!["/lava/{realm}/".into()],
        secrets: vec!["app/".into(), "other/".into()],
        roles: vec![ROLE.into()],
        redshift_clusters: vec!["warehouse*".into()],
        redshift_workgroups: vec!["analytics".into()],
        rds_hosts: vec!["*.example.com".into()],
        worker_credentials: true,
        db_hosts: Vec::new(),
    }
}

fn config(policy: TypePolicy) -> WorkerConfig {
    let mut config = test_config();
    config.policy.insert("family".into(), policy);
    config
}

async fn host(
    config: WorkerConfig,
    loader: aws_config::ConfigLoader,
    specs: &Value,
) -> (ConnectorHost, tempfile::TempDir) {
    sdk_host(config, plugins().path(), loader, specs).await
}

fn job() -> Job {
    Job { realm: "prod".into(), job_id: "family".into() }
}

fn calls(conn_id: &str, calls: Value) -> Value {
    json!({"conn_id": conn_id, "type": "family", "enabled": true, "calls": calls})
}

/// The requests among `requests` that name `target` (tests share one moto,
/// and run at once: each looks only for its own names).
fn naming<'a>(requests: &'a [lava_test_moto::Request], target: &str) -> Vec<&'a lava_test_moto::Request> {
    requests.iter().filter(|r| r.body.contains(target) || r.params.iter().any(|(_, v)| v.contains(target))).collect()
}

/// Resolve `spec` under `policy`; with the requests moto saw meanwhile.
async fn resolve(policy: TypePolicy, spec: Value) -> (Result<Vec<String>, String>, Vec<lava_test_moto::Request>) {
    let before = moto().requests().len();
    let (host, _specs) = host(config(policy), moto().sdk_loader(), &json!([])).await;
    let got = host.resolve_spec(spec, &job()).await;
    let values =
        got.map(|r| r.values.iter().map(|v| v.value.expose_secret().to_string()).collect()).map_err(|e| e.to_string());
    (values, moto().requests().split_off(before))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capability_declared_and_granted_reaches_aws_through_the_sdk() {
    let spec = calls(
        "all",
        json!([
            {"ssm": "/lava/prod/family/x"},
            {"secret": "app/db"},
            {"sts": ROLE},
            {"redshift": "warehouse"},
            {"rds": "db.example.com"},
        ]),
    );
    let (values, requests) = resolve(granting_all(), spec).await;
    let values = values.unwrap();
    assert_eq!(values[0], "from-ssm");
    assert_eq!(values[1], "{\"password\": \"from-secrets\"}");
    assert!(values[2].starts_with("ASIA") || values[2].starts_with("AKIA"), "{}", values[2]);
    assert!(values[3].starts_with("IAM:etl:"), "moto's GetClusterCredentials: {}", values[3]);
    assert!(values[4].starts_with("db.example.com:5432/?Action=connect&DBUser=etl&"), "{}", values[4]);
    let targets: Vec<String> = requests
        .iter()
        .map(|r| if r.target.is_empty() { r.param("Action").unwrap_or("").into() } else { r.target.clone() })
        .collect();
    for call in ["AmazonSSM.GetParameter", "secretsmanager.GetSecretValue", "AssumeRole", "GetClusterCredentials"] {
        assert!(targets.iter().any(|t| t == call), "{call} reached moto: {targets:?}");
    }
    assert!(naming(&requests, "db.example.com").is_empty(), "the RDS token is signed locally, without a request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_capability_the_types_policy_does_not_grant_is_refused_before_any_request_naming_its_setting() {
    let refused_role = "arn:aws:iam::123456789012:role/refused";
    let cases = [
        ("/lava/prod/family/refused", "ssm", TypePolicy { ssm: vec![], ..granting_all() }),
        ("app/refused", "secrets", TypePolicy { secrets: vec![], ..granting_all() }),
        (refused_role, "roles", TypePolicy { roles: vec![], ..granting_all() }),
        ("refused-cluster", "redshift_clusters", TypePolicy { redshift_clusters: vec![], ..granting_all() }),
        ("refused-workgroup", "redshift_workgroups", TypePolicy { redshift_workgroups: vec![], ..granting_all() }),
        ("refused.example.com", "rds_hosts", TypePolicy { rds_hosts: vec![], ..granting_all() }),
    ];
    let call_for = ["ssm", "secret", "sts", "redshift", "serverless", "rds"];
    for ((target, setting, policy), call) in cases.into_iter().zip(call_for) {
        let (got, requests) = resolve(policy, calls("refused", json!([{call: target}]))).await;
        let error = got.expect_err(setting);
        assert!(error.contains(&format!("`{setting}` under `[policy.family]`")), "{setting}: {error}");
        assert!(error.contains("family"), "names the plugin: {error}");
        assert!(naming(&requests, target).is_empty(), "{setting}: nothing reached AWS: {requests:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capability_or_a_scope_the_plugin_does_not_declare_is_refused_before_any_request() {
    let (got, requests) = resolve(granting_all(), calls("undeclared", json!([{"worker": true}]))).await;
    let error = got.unwrap_err();
    assert!(error.contains("does not declare capability `worker-credentials`"), "{error}");
    assert!(naming(&requests, "GetCallerIdentity").is_empty());
    // Granted by the worker (`other/`), outside what the plugin declared (`app/`).
    let (got, requests) = resolve(granting_all(), calls("outside", json!([{"secret": "other/db"}]))).await;
    let error = got.unwrap_err();
    assert!(error.contains("other/db") && error.contains("app/"), "{error}");
    assert!(naming(&requests, "other/db").is_empty(), "{requests:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_secret_is_refused_and_a_missing_one_is_not_found() {
    let (got, _) = resolve(granting_all(), calls("binary", json!([{"secret": "app/binary"}]))).await;
    assert!(got.unwrap_err().contains("string"), "only string secrets");
    let (got, requests) = resolve(granting_all(), calls("missing", json!([{"secret": "app/missing"}]))).await;
    assert!(got.unwrap_err().contains("not found"));
    assert_eq!(naming(&requests, "app/missing").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redshift_credentials_as_a_role_are_asked_for_with_the_roles_keys() {
    let spec = calls("as-role", json!([{"redshift": "warehouse-2", "as_role": ROLE}]));
    let (values, requests) = resolve(granting_all(), spec).await;
    assert!(values.unwrap()[0].starts_with("IAM:etl:"));
    let assumed = requests
        .iter()
        .position(|r| r.param("Action") == Some("AssumeRole") && r.param("RoleArn") == Some(ROLE))
        .expect("the role first");
    let asked =
        requests.iter().position(|r| r.param("ClusterIdentifier") == Some("warehouse-2")).expect("then Redshift");
    assert!(assumed < asked);
    let signer = requests[asked].signed_by.as_deref().unwrap_or_default();
    assert!(signer.starts_with("ASIA"), "signed with the role's keys, not the worker's: {signer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serverless_credentials_come_from_a_stub_the_sdk_reaches_as_it_would_the_service() {
    // moto has no Redshift Serverless: a stub answers `GetCredentials`.
    let stub = FaultServer::start(|_| Reply::Respond {
        status: 200,
        content_type: "application/x-amz-json-1.1",
        body: r#"{"dbUser":"IAMR:family","dbPassword":"serverless-pw","expiration":4102444800}"#.into(),
    });
    let host = host_against(&stub).await;
    let resolved = host.resolve_spec(calls("sls", json!([{"serverless": "analytics"}])), &job()).await.unwrap();
    assert_eq!(resolved.values[0].value.expose_secret(), "IAMR:family:serverless-pw");
    assert_eq!(stub.requests(), 1);
    let error = host.resolve_spec(calls("sls", json!([{"serverless": "other"}])), &job()).await.unwrap_err();
    assert!(error.to_string().contains("redshift_workgroups"), "{error}");
    assert_eq!(stub.requests(), 1, "refused before the stub");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_launcher_reaches_the_job_as_lava_conn_label() {
    let specs = json!([{
        "conn_id": "warehouse", "type": "family", "enabled": true,
        "calls": [{"rds": "db.example.com"}],
        "launcher": "psql",
        "login": {"host": "db.example.com", "port": 5432, "user": "etl", "database": "dw", "password": "p:w\\#'\"",
                  "application_name": "lv-prod-family"},
    }]);
    let (host, _specs) = host(config(granting_all()), moto().sdk_loader(), &specs).await;
    let workdir = lava_test_moto::tempdir();
    let labels = BTreeMap::from([("db".to_string(), "warehouse".to_string())]);
    let env = host.prepare_job(&job(), &labels, workdir.path()).await.unwrap();
    let var = |name: &str| env.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let script = std::path::PathBuf::from(var("LAVA_CONN_DB").expect("the stand-in"));
    assert_eq!(script.file_name().unwrap(), "psql");
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.contains("export PGHOST=db.example.com") && text.ends_with("footer=off \"$@\"\n"), "{text}");
    let pgpass = std::fs::read_to_string(script.with_file_name(".pgpass")).unwrap();
    assert_eq!(pgpass, "db.example.com:5432:dw:etl:p\\:w\\\\#'\"\n");
    assert_eq!(var("LAVA_CONNID_DB").as_deref(), Some("warehouse"));
    assert!(var("LAVA_CONN_DB_CALL_0_FILE").is_some(), "the token is a private file");
    env.cleanup().unwrap();
    assert!(!script.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_a_launcher_refuses_fails_the_resolve_naming_the_field() {
    let spec = json!({"conn_id": "box", "type": "family", "enabled": true, "launcher": "ssh",
        "login": {"private_key": "k", "ssh_options": {"ProxyCommand": "sh -c 'id > /tmp/pwned'"}}});
    let (host, _specs) = host(config(granting_all()), moto().sdk_loader(), &json!([])).await;
    let error = host.resolve_spec(spec, &job()).await.unwrap_err().to_string();
    assert!(error.contains("SSH option `ProxyCommand` is refused"), "{error}");
}

/// A host whose AWS is `server`.
async fn host_against(server: &FaultServer) -> ConnectorHost {
    host(config(granting_all()), server.sdk_loader(), &json!([])).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_secret_read_is_retried_and_a_denied_one_says_so() {
    let server = FaultServer::start(|n| match n {
        0 | 1 => Reply::json_error("ThrottlingException", "Rate exceeded"),
        _ => Reply::Respond {
            status: 200,
            content_type: "application/x-amz-json-1.1",
            body: r#"{"Name":"app/db","SecretString":"after-throttling"}"#.into(),
        },
    });
    let host = host_against(&server).await;
    let resolved = host.resolve_spec(calls("throttled", json!([{"secret": "app/db"}])), &job()).await.unwrap();
    assert_eq!(resolved.values[0].value.expose_secret(), "after-throttling");
    assert_eq!(server.requests(), 3, "the SDK's retries");
    let denied = FaultServer::start(|_| Reply::json_error("AccessDeniedException", "not authorized to GetCredentials"));
    let host = host_against(&denied).await;
    let error = host.resolve_spec(calls("denied", json!([{"serverless": "analytics"}])), &job()).await.unwrap_err();
    assert!(error.to_string().contains("access denied: AccessDeniedException"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_moto_does_not_have_is_not_found() {
    let (got, _) = resolve(granting_all(), calls("no-cluster", json!([{"redshift": "warehouse-missing"}]))).await;
    let error = got.unwrap_err();
    assert!(error.contains("not found: ClusterNotFound"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_login_launcher_kind_reaches_the_job_from_a_real_component() {
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    let hostile = "p:w\\#'\"$(touch pwned)\n";
    let kinds = [
        (
            "mysql",
            json!({"host": "db.example.com", "user": "etl", "database": "dw", "password": hostile}),
            ".mysql.conf",
        ),
        (
            "sqlplus",
            json!({"host": "ora.example.com", "user": "scott", "password": "tiger$(touch pwned)"}),
            ".sqlplus-password",
        ),
        ("sqlite3", json!({"database": "/data/x.db"}), "sqlite3"),
        (
            "ssh",
            json!({"private_key": key, "user": "deploy", "ssh_options": {"StrictHostKeyChecking": "no"}}),
            "ssh.pem",
        ),
        ("scp", json!({"private_key": key}), "ssh.pem"),
        ("sftp", json!({"private_key": key}), "ssh.pem"),
        ("git", json!({"private_key": key}), "ssh.pem"),
        ("generic", Value::Null, "values"),
    ];
    let specs: Vec<Value> = kinds
        .iter()
        .map(|(kind, login, _)| {
            let mut spec = json!({"conn_id": format!("c-{kind}"), "type": "family", "enabled": true,
                                  "launcher": kind, "values": {"TOKEN": hostile}});
            if !login.is_null() {
                spec["login"] = login.clone();
            }
            spec
        })
        .collect();
    let (host, _specs) = host(config(granting_all()), moto().sdk_loader(), &Value::Array(specs)).await;
    let workdir = lava_test_moto::tempdir();
    let labels: BTreeMap<String, String> =
        kinds.iter().map(|(kind, ..)| (kind.to_string(), format!("c-{kind}"))).collect();
    let env = host.prepare_job(&job(), &labels, workdir.path()).await.unwrap();
    for (kind, _, file) in kinds {
        let var = format!("LAVA_CONN_{}", kind.to_uppercase());
        let script = env.vars.iter().find(|(k, _)| *k == var).map(|(_, v)| std::path::PathBuf::from(v)).expect(&var);
        let name = if kind == "generic" { "get-attr-value" } else { kind };
        assert_eq!(script.file_name().unwrap(), name, "{kind}");
        assert!(script.with_file_name(file).exists(), "{kind} wrote {file}");
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(!text.contains("touch pwned"), "{kind}: no secret or spec value in the script: {text}");
    }
    env.cleanup().unwrap();
}
