//! Injected AWS faults: each gives a clear error (or success after retries)
//! within a stated bound, and the cache never keeps a failure.
//!
//! Bounds (lava_conn::SdkBackend): 3 attempts (standard retry mode), 3 s to connect,
//! 5 s per attempt, 12 s per call.

use std::time::{Duration, Instant};

use lava_conn::{ConnectorHost, Job};
use lava_conn::{SdkBackend, configure_sdk};
use lava_conn_tests::test_config;
use lava_test_moto::faults::{FaultServer, Reply};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

async fn host_against(server: &FaultServer) -> ConnectorHost {
    let sdk = configure_sdk(server.sdk_loader()).load().await;
    ConnectorHost::builder().config(test_config()).backend(SdkBackend::new(sdk)).build().unwrap()
}

fn keys_spec() -> Value {
    json!({"conn_id": "faulty", "type": "aws", "enabled": true, "access_keys": "/lava/prod/aws/keys"})
}

fn job() -> Job {
    Job { realm: "prod".into(), job_id: "faults".into() }
}

async fn resolve_error(server: &FaultServer, spec: Value) -> (String, Duration) {
    let host = host_against(server).await;
    let started = Instant::now();
    let error = host.resolve_spec(spec, &job()).await.unwrap_err().to_string();
    (error, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied() {
    let server = FaultServer::start(|_| Reply::json_error("AccessDeniedException", "User testing is not authorized"));
    let (error, _) = resolve_error(&server, keys_spec()).await;
    assert!(error.contains("access denied: AccessDeniedException: User testing is not authorized"), "{error}");
    assert!(error.contains("/lava/prod/aws/keys"), "{error}");
    assert_eq!(server.requests(), 1, "not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_decrypt_failure() {
    let server = FaultServer::start(|_| Reply::json_error("InvalidKeyId", "KMS key alias/lava-prod-sys is disabled"));
    let (error, _) = resolve_error(&server, keys_spec()).await;
    assert!(error.contains("InvalidKeyId: KMS key alias/lava-prod-sys is disabled"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_twice_then_served() {
    let server = FaultServer::start(|n| {
        if n < 2 {
            Reply::json_error("ThrottlingException", "Rate exceeded")
        } else {
            Reply::ssm_parameter("/lava/prod/aws/keys", "AKIDFAULT0001,faultsecret")
        }
    });
    let host = host_against(&server).await;
    let resolved = host.resolve_spec(keys_spec(), &job()).await.unwrap();
    let aws = resolved.aws.as_ref().unwrap();
    assert_eq!((aws.access_key_id.as_str(), aws.secret_access_key.expose_secret()), ("AKIDFAULT0001", "faultsecret"));
    assert_eq!(server.requests(), 3, "two throttled attempts and a good one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_forever_gives_up_and_caches_nothing() {
    let server = FaultServer::start(|_| Reply::json_error("ThrottlingException", "Rate exceeded"));
    let host = host_against(&server).await;
    let started = Instant::now();
    let error = host.resolve_spec(keys_spec(), &job()).await.unwrap_err().to_string();
    assert!(error.contains("throttled by AWS: ThrottlingException: Rate exceeded"), "{error}");
    assert_eq!(server.requests(), 3, "bounded attempts");
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    host.resolve_spec(keys_spec(), &job()).await.unwrap_err();
    assert_eq!(server.requests(), 6, "the failure was not cached: a new round was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_given_up_on() {
    let server = FaultServer::start(|_| Reply::Hang);
    let (error, elapsed) = resolve_error(&server, keys_spec()).await;
    assert!(error.contains("AWS unavailable"), "{error}");
    assert!(elapsed < Duration::from_secs(15), "bounded by the 12 s operation timeout: {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_rejections_are_worded() {
    let server = FaultServer::start(|_| Reply::xml_error("MalformedPolicyDocument", "Syntax errors in policy"));
    let spec = json!({"conn_id": "policy", "type": "aws", "enabled": true,
        "role_arn": "arn:aws:iam::123456789012:role/r", "policy": {"Version": "2012-10-17", "Statement": []}});
    let (error, _) = resolve_error(&server, spec).await;
    assert!(error.contains("rejected by AWS: MalformedPolicyDocument: Syntax errors in policy"), "{error}");

    let server = FaultServer::start(|_| {
        Reply::xml_error("PackedPolicyTooLarge", "Packed size of the session tags and policies exceeds the limit")
    });
    let spec = json!({"conn_id": "packed", "type": "aws", "enabled": true,
        "role_arn": "arn:aws:iam::123456789012:role/r", "tags": {"team": "data"}});
    let (error, _) = resolve_error(&server, spec).await;
    assert!(error.contains("rejected by AWS: PackedPolicyTooLarge: Packed size"), "{error}");
    assert_eq!(server.requests(), 1, "an input AWS refused is not retried");

    let server =
        FaultServer::start(|_| Reply::xml_error("RegionDisabledException", "STS is not activated in ap-east-1"));
    let spec =
        json!({"conn_id": "region", "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::123456789012:role/r"});
    let (error, _) = resolve_error(&server, spec).await;
    assert!(error.contains("STS is not activated in the region"), "{error}");

    let server = FaultServer::start(|_| {
        Reply::xml_error("ExpiredToken", "The security token included in the request is expired")
    });
    let spec =
        json!({"conn_id": "expired", "type": "aws", "enabled": true, "role_arn": "arn:aws:iam::123456789012:role/r"});
    let (error, _) = resolve_error(&server, spec).await;
    assert!(error.contains("the worker's credentials have expired"), "{error}");
}
