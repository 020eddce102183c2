//! The embedding API: an `SdkConfig` for a conn id, refreshed through the host.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::identity::IdentityCache;
use lava_conn::{ConnectionCredentials, ConnectorHost, FolderStore, Job, WorkerConfig};
use lava_conn::{SdkBackend, configure_sdk};
use lava_conn_tests::test_config;
use lava_test_moto::{Fixture, Moto};
use serde_json::json;

/// The refresh test reads the order of moto's requests: the tests here take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const ROLE: &str = "arn:aws:iam::123456789012:role/embedded";
const SHORT_ROLE: &str = "arn:aws:iam::123456789012:role/short-lived";

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        Fixture::start(
            &json!({"roles": ["embedded", "short-lived"]}),
            &json!([
                {"conn_id": "warehouse", "type": "aws", "enabled": true, "role_arn": ROLE, "region": "eu-west-1"},
                {"conn_id": "short", "type": "aws", "enabled": true, "role_arn": SHORT_ROLE, "duration": "15m"},
            ]),
        )
    })
}

async fn host(config: WorkerConfig) -> ConnectorHost {
    let f = fixture();
    let sdk = configure_sdk(f.moto.sdk_loader()).load().await;
    ConnectorHost::builder()
        .config(config)
        .backend(SdkBackend::new(sdk))
        .store(Arc::new(FolderStore::open(f.connections.path()).unwrap()))
        .build()
        .unwrap()
}

/// The access keys the `GetCallerIdentity` calls were signed with, in order.
fn signing_keys(moto: &Moto) -> Vec<String> {
    moto.requests()
        .into_iter()
        .filter(|r| r.param("Action") == Some("GetCallerIdentity"))
        .filter_map(|r| r.signed_by)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_config_for_a_conn_id() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let host = host(test_config()).await;
    let job = Job { realm: "prod".into(), job_id: "embedded-job".into() };
    let sdk = host.sdk_config_with("warehouse", &job, fixture().moto.sdk_loader()).await.unwrap();
    assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"), "the connection's region");
    let identity = aws_sdk_sts::Client::new(&sdk).get_caller_identity().send().await.unwrap();
    assert_eq!(identity.arn(), Some("arn:aws:sts::123456789012:assumed-role/embedded/lv-prod-embedded-job"));

    let error = host.sdk_config("nope", &job).await.unwrap_err();
    assert!(error.to_string().contains("`nope`"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_refresh_before_the_session_ends() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // A 1 s cache TTL and a refresh margin that leaves the 15-minute session
    // 4 s of life as far as the SDK knows: a short-lived session.
    let config = WorkerConfig { aws_access_key_cache_ttl: "1s".into(), ..test_config() };
    let host = host(config).await;
    let job = Job { realm: "prod".into(), job_id: "refresh-job".into() };
    let provider =
        ConnectionCredentials::new(host.clone(), "short", job.clone()).with_refresh_margin(Duration::from_secs(896));
    let sdk = fixture()
        .moto
        .sdk_loader()
        .credentials_provider(provider)
        .identity_cache(IdentityCache::lazy().buffer_time(Duration::from_secs(1)).build())
        .load()
        .await;
    let sts = aws_sdk_sts::Client::new(&sdk);
    let calls_before = fixture().moto.assume_role_requests(SHORT_ROLE).len();
    sts.get_caller_identity().send().await.unwrap();
    sts.get_caller_identity().send().await.unwrap();
    assert_eq!(fixture().moto.assume_role_requests(SHORT_ROLE).len() - calls_before, 1, "reused while fresh");
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    let identity = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(identity.arn(), Some("arn:aws:sts::123456789012:assumed-role/short-lived/lv-prod-refresh-job"));
    assert_eq!(fixture().moto.assume_role_requests(SHORT_ROLE).len() - calls_before, 2, "refreshed before expiry");
    let keys = signing_keys(&fixture().moto);
    assert!(keys.len() >= 3, "{keys:?}");
    let last_three = &keys[keys.len() - 3..];
    assert_eq!(last_three[0], last_three[1]);
    assert_ne!(last_three[1], last_three[2], "the last call used the new session");
}
