//! Resolution end to end: the aws component in the real host, the real AWS SDK,
//! a real moto server. moto's recording shows exactly what reached AWS.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use lava_conn::{ConnectorHost, FolderStore, HostError, Job, WorkerConfig};
use lava_conn::{SdkBackend, configure_sdk};
use lava_conn_tests::test_config;
use lava_test_moto::Moto;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        Moto::start(&json!({
            "kms_aliases": ["alias/lava-prod-sys"],
            "parameters": [
                {"name": "/lava/prod/aws/keys", "value": "AKIDSTATIC0001,static/secret+value", "key": "alias/lava-prod-sys"},
                {"name": "/lava/prod/aws/bad-keys", "value": "nocommainthisvalue", "key": "alias/lava-prod-sys"},
                {"name": "/lava/prod/aws/ext-id", "value": "ext-id-4711", "key": "alias/lava-prod-sys"},
                {"name": "/shared/aws/ext-id", "value": "ext-id-shared"},
            ],
            "roles": ["loader", "cached", "single-flight", "ttl", "grant", "dyn", "fan", "spec-a", "spec-b"],
            "tables": [{"name": "lava.prod.connections", "items": std::iter::once(
                json!({"conn_id": "dyn-role", "type": "aws", "enabled": true, "role_arn": role("dyn"), "duration": "1h",
                 "tags": {"team": "data"}})
            ).chain((0..10).map(|i| json!({"conn_id": format!("fan-{i}"), "type": "aws", "enabled": true, "role_arn": role("fan")})))
            .collect::<Vec<_>>()}],
        }))
    })
}

async fn host_with(config: WorkerConfig) -> ConnectorHost {
    let sdk = configure_sdk(moto().sdk_loader()).load().await;
    ConnectorHost::builder().config(config).backend(SdkBackend::new(sdk)).build().expect("the host starts")
}

/// A host that reads its specs from moto's DynamoDB table, as a worker does.
async fn dynamo_host() -> ConnectorHost {
    let sdk = configure_sdk(moto().sdk_loader()).load().await;
    let store = lava_conn::DynamoStore::from_sdk_config(&sdk);
    ConnectorHost::builder().config(test_config()).backend(SdkBackend::new(sdk)).store(Arc::new(store)).build().unwrap()
}

async fn host() -> ConnectorHost {
    host_with(test_config()).await
}

fn job(id: &str) -> Job {
    Job { realm: "prod".into(), job_id: id.into() }
}

fn role_spec(conn_id: &str, role_name: &str) -> Value {
    json!({"conn_id": conn_id, "type": "aws", "enabled": true, "role_arn": role(role_name)})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_keys_from_a_secure_string() {
    let spec = json!({"conn_id": "keys", "type": "aws", "enabled": true, "access_keys": "/lava/prod/aws/keys"});
    let resolved = host().await.resolve_spec(spec, &job("static")).await.unwrap();
    let aws = resolved.aws.as_ref().unwrap();
    assert_eq!(aws.access_key_id, "AKIDSTATIC0001");
    assert_eq!(aws.secret_access_key.expose_secret(), "static/secret+value");
    assert!(aws.session_token.is_none());
    assert_eq!(aws.region.as_deref(), Some("us-east-1"), "the worker's region");
    let get = moto().get_parameter_requests("/lava/prod/aws/keys");
    assert!(!get.is_empty());
    assert!(get[0].body.contains("\"WithDecryption\":true"), "{}", get[0].body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assumed_role_with_every_option_reaches_sts() {
    let spec = json!({
        "conn_id": "loader", "type": "aws", "enabled": true,
        "role_arn": role("loader"),
        "duration": "1.5h",
        "external_id": "/lava/prod/aws/ext-id",
        "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess", format!("arn:aws:iam::{ACCOUNT}:policy/extra")],
        "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]},
        "tags": {"team": "data", "cost-centre": "4711"},
        "region": "ap-southeast-2",
    });
    let before = SystemTime::now();
    let resolved = host().await.resolve_spec(spec, &job("nightly/ÉTL")).await.unwrap();
    let aws = resolved.aws.as_ref().unwrap();
    assert!(aws.session_token.is_some());
    assert_eq!(aws.region.as_deref(), Some("ap-southeast-2"));
    let lifetime = aws.expiration.unwrap().duration_since(before).unwrap();
    assert!((5_300..=5_500).contains(&lifetime.as_secs()), "{lifetime:?}");

    let calls = moto().assume_role_requests(&role("loader"));
    assert_eq!(calls.len(), 1);
    let p = calls[0].param_map();
    assert_eq!(p["RoleSessionName"], "lv-prod-nightly.ETL");
    assert_eq!(p["DurationSeconds"], "5400");
    assert_eq!(p["ExternalId"], "ext-id-4711");
    assert_eq!(p["PolicyArns.member.1.arn"], "arn:aws:iam::aws:policy/ReadOnlyAccess");
    assert_eq!(p["PolicyArns.member.2.arn"], format!("arn:aws:iam::{ACCOUNT}:policy/extra"));
    assert_eq!(
        p["Policy"],
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#
    );
    let tags: Vec<(&str, &str)> = (1..=2)
        .map(|i| (p[&format!("Tags.member.{i}.Key")].as_str(), p[&format!("Tags.member.{i}.Value")].as_str()))
        .collect();
    assert_eq!(tags, vec![("team", "data"), ("cost-centre", "4711")]);

    // The credentials work, as the role and session named.
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&moto().sdk_loader().load().await)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                aws.access_key_id.clone(),
                aws.secret_access_key.expose_secret().to_string(),
                aws.session_token.as_ref().map(|t| t.expose_secret().to_string()),
                None,
                "resolved",
            ))
            .build(),
    );
    let identity = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(identity.arn().unwrap(), format!("arn:aws:sts::{ACCOUNT}:assumed-role/loader/lv-prod-nightly.ETL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_keys_by_spec_and_job() {
    let host = host().await;
    let spec = role_spec("cached", "cached");
    host.resolve_spec(spec.clone(), &job("a")).await.unwrap();
    host.resolve_spec(spec.clone(), &job("a")).await.unwrap();
    assert_eq!(moto().assume_role_requests(&role("cached")).len(), 1, "a hit within the TTL makes no call");
    host.resolve_spec(spec.clone(), &job("b")).await.unwrap();
    assert_eq!(moto().assume_role_requests(&role("cached")).len(), 2, "another job gets its own session");
    let mut changed = spec;
    changed["duration"] = json!("2h");
    host.resolve_spec(changed, &job("a")).await.unwrap();
    let calls = moto().assume_role_requests(&role("cached"));
    assert_eq!(calls.len(), 3, "a changed spec is resolved again");
    assert_eq!(calls[2].param("DurationSeconds"), Some("7200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_expire_with_the_ttl() {
    let config = WorkerConfig { aws_access_key_cache_ttl: "1s".into(), ..test_config() };
    let host = host_with(config).await;
    let spec = role_spec("ttl", "ttl");
    host.resolve_spec(spec.clone(), &job("a")).await.unwrap();
    host.resolve_spec(spec.clone(), &job("a")).await.unwrap();
    assert_eq!(moto().assume_role_requests(&role("ttl")).len(), 1);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    host.resolve_spec(spec, &job("a")).await.unwrap();
    assert_eq!(moto().assume_role_requests(&role("ttl")).len(), 2, "an expired entry is resolved again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resolves_make_one_call() {
    let host = host().await;
    let spec = role_spec("single-flight", "single-flight");
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (host, spec) = (host.clone(), spec.clone());
            tokio::spawn(async move { host.resolve_spec(spec, &job("sf")).await })
        })
        .collect();
    let mut keys = Vec::new();
    for task in tasks {
        keys.push(task.await.unwrap().unwrap().aws.as_ref().unwrap().access_key_id.clone());
    }
    assert_eq!(moto().assume_role_requests(&role("single-flight")).len(), 1, "100 concurrent resolves, one AssumeRole");
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "every caller got the same credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_cause_and_never_the_secret() {
    let host = host().await;
    let spec = json!({"conn_id": "missing", "type": "aws", "enabled": true, "access_keys": "/lava/prod/aws/missing"});
    let error = host.resolve_spec(spec, &job("e")).await.unwrap_err().to_string();
    assert!(error.contains("/lava/prod/aws/missing") && error.contains("not found"), "{error}");

    let spec = json!({"conn_id": "bad", "type": "aws", "enabled": true, "access_keys": "/lava/prod/aws/bad-keys"});
    let error = host.resolve_spec(spec, &job("e")).await.unwrap_err().to_string();
    assert!(error.contains("/lava/prod/aws/bad-keys") && error.contains("access_key_id,secret_access_key"), "{error}");
    assert!(!error.contains("nocommainthisvalue"), "the value leaked: {error}");

    let mut spec = role_spec("off", "loader");
    spec["enabled"] = json!(false);
    let error = host.resolve_spec(spec, &job("e")).await.unwrap_err().to_string();
    assert!(error.contains("`off` is not enabled"), "{error}");

    let mut spec = role_spec("invalid", "loader");
    spec["duration"] = json!("1 hour");
    let error = host.resolve_spec(spec, &job("e")).await.unwrap_err().to_string();
    assert!(error.contains("duration"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssm_outside_the_grant_is_refused_before_any_request() {
    let config = WorkerConfig { ssm_prefixes: vec!["/lava/{realm}/granted/".into()], ..test_config() };
    let narrow = host_with(config).await;
    let spec = json!({"conn_id": "grant", "type": "aws", "enabled": true, "access_keys": "/lava/prod/aws/keys"});
    let sent_before = moto().get_parameter_requests("/lava/prod/aws/keys").len();
    let error = narrow.resolve_spec(spec, &job("g")).await.unwrap_err().to_string();
    assert!(error.contains("not granted") && error.contains("/lava/prod/granted/"), "{error}");
    assert_eq!(moto().get_parameter_requests("/lava/prod/aws/keys").len(), sent_before, "nothing was sent");

    // An external ID outside the realm is refused by the default grants too.
    let mut spec = role_spec("grant-ext", "grant");
    spec["external_id"] = json!("/shared/aws/ext-id");
    let error = host().await.resolve_spec(spec, &job("g")).await.unwrap_err().to_string();
    assert!(error.contains("external_id") && error.contains("not granted"), "{error}");
    assert!(moto().get_parameter_requests("/shared/aws/ext-id").is_empty());
    assert!(moto().assume_role_requests(&role("grant")).is_empty());

    // Positive control: the recorder does see what the host sends, so the
    // empty lists above mean nothing was sent.
    let granted = json!({"conn_id": "grant-ok", "type": "aws", "enabled": true, "access_keys": "/lava/prod/aws/keys"});
    host().await.resolve_spec(granted, &job("g")).await.unwrap();
    assert!(moto().get_parameter_requests("/lava/prod/aws/keys").len() > sent_before, "the granted read was recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_fails_clearly_in_bounded_time() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let sdk = configure_sdk(moto().sdk_loader().endpoint_url(format!("http://{closed}"))).load().await;
    let host = ConnectorHost::builder().config(test_config()).backend(SdkBackend::new(sdk)).build().unwrap();
    let started = Instant::now();
    let error = host.resolve_spec(role_spec("down", "loader"), &job("d")).await.unwrap_err();
    let elapsed = started.elapsed();
    let message = error.to_string();
    assert!(message.contains("cannot reach AWS") || message.contains("no answer"), "{message}");
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_come_from_dynamodb_and_folders() {
    let host = dynamo_host().await;
    let resolved = host.resolve("dyn-role", &job("dynamo")).await.unwrap();
    assert!(resolved.aws.as_ref().unwrap().session_token.is_some());
    let calls = moto().assume_role_requests(&role("dyn"));
    assert_eq!(calls[0].param("DurationSeconds"), Some("3600"));
    let error = host.resolve("nope", &job("dynamo")).await.unwrap_err();
    assert!(matches!(error, HostError::Store(_)), "{error}");
    assert!(error.to_string().contains("lava.prod.connections"), "{error}");

    let dir = lava_test_moto::tempdir();
    std::fs::write(
        dir.path().join("c.yaml"),
        "conn_id: folder-keys\ntype: aws\nenabled: true\naccess_keys: /lava/prod/aws/keys\n",
    )
    .unwrap();
    let host = ConnectorHost::builder()
        .config(test_config())
        .backend(SdkBackend::new(configure_sdk(moto().sdk_loader()).load().await))
        .store(Arc::new(FolderStore::open(dir.path()).unwrap()))
        .build()
        .unwrap();
    let resolved = host.resolve("folder-keys", &job("folder")).await.unwrap();
    assert_eq!(resolved.aws.as_ref().unwrap().access_key_id, "AKIDSTATIC0001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resolves_by_conn_id_read_each_spec_once_and_assume_each_role_once() {
    let host = dynamo_host().await;
    let get_items = || {
        moto().requests().into_iter().filter(|r| r.target.ends_with(".GetItem") && r.body.contains("\"fan-")).count()
    };
    let (items_before, roles_before) = (get_items(), moto().assume_role_requests(&role("fan")).len());
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let host = host.clone();
            tokio::spawn(async move { host.resolve(&format!("fan-{}", i % 10), &job("fan")).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(get_items() - items_before, 10, "one GetItem per connection");
    assert_eq!(moto().assume_role_requests(&role("fan")).len() - roles_before, 10, "one AssumeRole per connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_spec_is_seen_within_spec_cache_ttl_and_not_before() {
    let dir = lava_test_moto::tempdir();
    let file = dir.path().join("c.yaml");
    let write = |role_name: &str| {
        std::fs::write(&file, format!("conn_id: edited\ntype: aws\nenabled: true\nrole_arn: {}\n", role(role_name)))
            .unwrap()
    };
    write("spec-a");
    let config = WorkerConfig { spec_cache_ttl: "1s".into(), ..test_config() };
    let host = ConnectorHost::builder()
        .config(config)
        .backend(SdkBackend::new(configure_sdk(moto().sdk_loader()).load().await))
        .store(Arc::new(FolderStore::open(dir.path()).unwrap()))
        .build()
        .unwrap();
    let assumed = |name: &str| moto().assume_role_requests(&role(name)).len();
    let first = host.resolve("edited", &job("edit")).await.unwrap();
    assert_eq!((assumed("spec-a"), assumed("spec-b")), (1, 0));
    write("spec-b");
    // Within the bound: the spec read a moment ago, and its cached credentials.
    let again = host.resolve("edited", &job("edit")).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "served from the caches");
    assert_eq!(assumed("spec-b"), 0);
    // Past it: the edited spec, and a session of the new role.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    host.resolve("edited", &job("edit")).await.unwrap();
    assert_eq!((assumed("spec-a"), assumed("spec-b")), (1, 1), "the edit was seen");
}
