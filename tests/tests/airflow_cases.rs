//! Airflow's own test cases for its AWS connection, run through the real
//! airflow-aws component in the real host. Each case names the Airflow test
//! (apache/airflow, Amazon provider 9.x unless it says 8.29.0; Airflow core
//! for URIs) or provider code it comes from, and asks what Airflow decides:
//! the keys, the AssumeRole request, the session name, or the refusal.
//! Airflow's mock key ids (`mock-aws-access-key-id`) are written key-shaped
//! here (`AKIDMOCKACCESSKEY`): the host refuses a key id that is not letters
//! and digits, which no AWS key id is.

use std::sync::{Arc, Mutex};

use lava_conn::{AssumeRoleRequest, AwsCredentials, CapabilityError};
use lava_conn::{AwsBackend, ConnectorHost, Job, Severity, WorkerConfig};
use lava_conn_tests::{AIRFLOW_AWS_COMPONENT, plugin_dir, test_config};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::222222222222:role/awesome-role";

/// Records every AssumeRole request whole, and answers it.
#[derive(Default)]
struct Sts {
    requests: Mutex<Vec<AssumeRoleRequest>>,
}

#[lava_conn::async_trait]
impl AwsBackend for Sts {
    fn region(&self) -> Option<String> {
        Some("us-east-1".into())
    }
    async fn get_parameter(&self, _: &str, _: bool) -> Result<String, CapabilityError> {
        Err(CapabilityError::NotFound("no SSM here".into()))
    }
    async fn assume_role(&self, request: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        self.requests.lock().unwrap().push(request);
        Ok(AwsCredentials {
            access_key_id: "ASIAASSUMED".into(),
            secret_access_key: "assumed-secret".into(),
            session_token: Some("assumed-token".into()),
            expiration: Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(4_000_000_000)),
            region: None,
            endpoint_url: None,
        })
    }
    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        Ok(AwsCredentials {
            access_key_id: "AKIDWORKER".into(),
            secret_access_key: "worker-secret".into(),
            session_token: None,
            expiration: None,
            region: Some("us-east-1".into()),
            endpoint_url: None,
        })
    }
}

/// What Airflow decides for a connection.
#[derive(Debug)]
enum Outcome {
    /// Airflow refuses it (or STS would): the error's field and a fragment of its message.
    Refused(&'static str, &'static str),
    /// The worker's own default chain.
    WorkerChain,
    /// Static keys: the key id and the session token.
    Keys(&'static str, Option<&'static str>),
    /// An assumed role.
    Role(Role),
}

#[derive(Debug, Default)]
struct Role {
    /// The source key id; `None`: the worker's own credentials sign.
    source: Option<&'static str>,
    source_token: Option<&'static str>,
    session_name: &'static str,
    external_id: Option<&'static str>,
    duration: u32,
    sts_endpoint: Option<&'static str>,
    source_identity: Option<&'static str>,
    transitive_tag_keys: &'static [&'static str],
}

struct Case {
    airflow: &'static str,
    spec: Value,
    outcome: Outcome,
    /// Fields that must carry a warning.
    warnings: &'static [&'static str],
}

fn role(session_name: &'static str) -> Role {
    Role { session_name, duration: 3_600, ..Role::default() }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            airflow: "test_connection_wrapper.py::test_get_credentials_from_login[token]",
            spec: json!({"conn_id": "mock-conn-id", "login": "AKIDMOCKACCESSKEY", "password": "mock-aws-secret-access-key",
                "extra": {"aws_session_token": "mock-aws-session-token"}}),
            outcome: Outcome::Keys("AKIDMOCKACCESSKEY", Some("mock-aws-session-token")),
            warnings: &[],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_credentials_from_login[no token]",
            spec: json!({"conn_id": "mock-conn-id", "login": "AKIDMOCKACCESSKEY", "password": "mock-aws-secret-access-key"}),
            outcome: Outcome::Keys("AKIDMOCKACCESSKEY", None),
            warnings: &[],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_credentials_from_extra[token]",
            spec: json!({"conn_id": "mock-conn-id", "extra": {"aws_access_key_id": "AKIDMOCKACCESSKEY",
                "aws_secret_access_key": "mock-aws-secret-access-key", "aws_session_token": "mock-aws-session-token"}}),
            outcome: Outcome::Keys("AKIDMOCKACCESSKEY", Some("mock-aws-session-token")),
            warnings: &[],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_credentials_from_extra[no token]",
            spec: json!({"conn_id": "mock-conn-id", "extra": {"aws_access_key_id": "AKIDMOCKACCESSKEY",
                "aws_secret_access_key": "mock-aws-secret-access-key"}}),
            outcome: Outcome::Keys("AKIDMOCKACCESSKEY", None),
            warnings: &[],
        },
        Case {
            airflow: "connection_wrapper.py::_get_credentials (login and password come before keys in extra)",
            spec: json!({"conn_id": "c", "login": "AKIDLOGIN", "password": "pw",
                "extra": {"aws_access_key_id": "AKIDEXTRA", "aws_secret_access_key": "s"}}),
            outcome: Outcome::Keys("AKIDLOGIN", None),
            warnings: &["extra.aws_access_key_id"],
        },
        Case {
            airflow: "connection_wrapper.py::_get_credentials (login without password falls through to extra)",
            spec: json!({"conn_id": "c", "login": "AKIDLOGIN",
                "extra": {"aws_access_key_id": "AKIDEXTRA", "aws_secret_access_key": "s"}}),
            outcome: Outcome::Keys("AKIDEXTRA", None),
            warnings: &["login"],
        },
        Case {
            airflow: "connection_wrapper.py::_get_credentials (session_kwargs after extra)",
            spec: json!({"conn_id": "c", "extra": {"session_kwargs": {"aws_access_key_id": "AKIDKWARGS",
                "aws_secret_access_key": "s", "aws_session_token": "kwargs-token"}}}),
            outcome: Outcome::Keys("AKIDKWARGS", Some("kwargs-token")),
            warnings: &["extra.session_kwargs"],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_session_kwargs_from_wrapper[key id without secret]",
            spec: json!({"conn_id": "c", "extra": {"aws_access_key_id": "AKIDMOCKACCESSKEY", "region_name": "eu-west-1"}}),
            outcome: Outcome::WorkerChain,
            warnings: &["extra.aws_access_key_id"],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_session_kwargs_from_wrapper[token without keys] (boto3 cannot sign)",
            spec: json!({"conn_id": "c", "extra": {"aws_session_token": "mock-aws-session-token"}}),
            outcome: Outcome::Refused("extra.aws_session_token", "needs the keys it belongs to"),
            warnings: &[],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_session_kwargs_from_wrapper[profile_name] (no profiles in the sandbox)",
            spec: json!({"conn_id": "c", "extra": {"profile_name": "mock-profile"}}),
            outcome: Outcome::Refused("extra.profile_name", "profiles live in the worker's files"),
            warnings: &[],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_warn_wrong_profile_param_used",
            spec: json!({"conn_id": "c", "extra": {"profile": "mock-profile"}}),
            outcome: Outcome::WorkerChain,
            warnings: &["extra.profile"],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_empty_role_arn",
            spec: json!({"conn_id": "mock-conn-id"}),
            outcome: Outcome::WorkerChain,
            warnings: &[],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_role_arn[account and role also set]",
            spec: json!({"conn_id": "mock-conn-id", "extra": {"role_arn": ROLE, "aws_account_id": "111111111111", "aws_iam_role": "another-role"}}),
            outcome: Outcome::Role(role("airflow_mock-conn-id")),
            warnings: &["extra.aws_iam_role"],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_default_assume_role_method",
            spec: json!({"conn_id": "mock-conn-id", "extra": {"role_arn": ROLE}}),
            outcome: Outcome::Role(role("airflow_mock-conn-id")),
            warnings: &[],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_assume_role_method[assume_role_with_saml] (no SAML in the sandbox)",
            spec: json!({"conn_id": "c", "extra": {"role_arn": ROLE, "assume_role_method": "assume_role_with_saml"}}),
            outcome: Outcome::Refused("extra.assume_role_method", "not available in the sandbox"),
            warnings: &[],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_assume_role_method[assume_role_with_web_identity] (no web identity)",
            spec: json!({"conn_id": "c", "extra": {"role_arn": ROLE, "assume_role_method": "assume_role_with_web_identity"}}),
            outcome: Outcome::Refused("extra.assume_role_method", "not available in the sandbox"),
            warnings: &[],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_unsupported_assume_role_method",
            spec: json!({"conn_id": "c", "extra": {"role_arn": ROLE, "assume_role_method": "dummy_method"}}),
            outcome: Outcome::Refused("extra.assume_role_method", "`dummy_method`"),
            warnings: &[],
        },
        Case {
            airflow: "connection_wrapper.py::_get_assume_role_configs (no role_arn: method and kwargs are not read)",
            spec: json!({"conn_id": "c", "extra": {"assume_role_method": "dummy_method", "assume_role_kwargs": {"Bogus": 1}}}),
            outcome: Outcome::WorkerChain,
            warnings: &["extra.assume_role_method", "extra.assume_role_kwargs"],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_assume_role_kwargs[DurationSeconds=42] (STS refuses under 900)",
            spec: json!({"conn_id": "c", "extra": {"role_arn": ROLE, "assume_role_kwargs": {"DurationSeconds": 42}}}),
            outcome: Outcome::Refused("extra.assume_role_kwargs.DurationSeconds", "900"),
            warnings: &[],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_assume_role_kwargs_external_id_in_kwargs[no extra external_id]",
            spec: json!({"conn_id": "c", "extra": {"role_arn": ROLE, "assume_role_kwargs": {"ExternalId": "mock-external-id-in-kwargs"}}}),
            outcome: Outcome::Role(Role { external_id: Some("mock-external-id-in-kwargs"), ..role("airflow_c") }),
            warnings: &[],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_get_assume_role_kwargs_external_id_in_kwargs[extra external_id] (8.29: kwargs win)",
            spec: json!({"conn_id": "c", "extra": {"role_arn": ROLE, "external_id": "mock-external-id-in-extra",
                "assume_role_kwargs": {"ExternalId": "mock-external-id-in-kwargs"}}}),
            outcome: Outcome::Role(Role { external_id: Some("mock-external-id-in-kwargs"), ..role("airflow_c") }),
            warnings: &["extra.external_id"],
        },
        Case {
            airflow: "8.29.0 connection_wrapper.py::_get_assume_role_configs (external_id becomes ExternalId)",
            spec: json!({"conn_id": "c", "extra": {"role_arn": ROLE, "external_id": "ext-1234"}}),
            outcome: Outcome::Role(Role { external_id: Some("ext-1234"), ..role("airflow_c") }),
            warnings: &["extra.external_id"],
        },
        Case {
            airflow: "8.29.0 connection_wrapper.py::_get_assume_role_configs (role from aws_account_id and aws_iam_role)",
            spec: json!({"conn_id": "c", "extra": {"aws_account_id": "123456789012", "aws_iam_role": "loader"}}),
            outcome: Outcome::Role(role("airflow_c")),
            warnings: &["extra.aws_iam_role"],
        },
        Case {
            airflow: "core 3.1.6+ connection.py::_parse_from_uri (query values JSON-decoded: the account id is an int), \
                      then 8.29.0 _get_assume_role_configs's f-string",
            spec: json!({"conn_id": "c", "uri": "aws://?aws_account_id=123456789012&aws_iam_role=loader"}),
            outcome: Outcome::Role(role("airflow_c")),
            warnings: &["extra.aws_iam_role"],
        },
        Case {
            airflow: "8.29.0 connection_wrapper.py::_get_assume_role_configs (aws_account_id alone is not a role)",
            spec: json!({"conn_id": "c", "extra": {"aws_account_id": "123456789012"}}),
            outcome: Outcome::WorkerChain,
            warnings: &["extra.aws_account_id"],
        },
        Case {
            airflow: "test_base_aws.py::TestAwsBaseHook::test_assume_role[not-set]",
            spec: json!({"conn_id": "aws/test", "extra": {"role_arn": ROLE, "endpoint_url": "https://example.org"}}),
            outcome: Outcome::Role(role("airflow_aws-test")),
            warnings: &[],
        },
        Case {
            airflow: "test_base_aws.py::TestAwsBaseHook::test_assume_role[custom]",
            spec: json!({"conn_id": "aws/test", "extra": {"role_arn": ROLE, "endpoint_url": "https://example.org",
                "service_config": {"sts": {"endpoint_url": "https://foo.bar/spam/egg"}}}}),
            outcome: Outcome::Role(Role { sts_endpoint: Some("https://foo.bar/spam/egg"), ..role("airflow_aws-test") }),
            warnings: &[],
        },
        Case {
            airflow: "test_base_aws.py::TestSessionFactory::test_get_credentials_from_role_arn[assume-with-initial-creds]",
            spec: json!({"conn_id": "assume-with-initial-creds", "extra": {"aws_access_key_id": "AKIDMOCKACCESSKEY",
                "aws_secret_access_key": "AKIDMOCKACCESSKEY", "aws_session_token": "mock_aws_session_token",
                "role_arn": "arn:aws:iam::123456789012:role/role_arn", "region_name": "ap-southeast-2"}}),
            outcome: Outcome::Role(Role {
                source: Some("AKIDMOCKACCESSKEY"),
                source_token: Some("mock_aws_session_token"),
                ..role("airflow_assume-with-initial-creds")
            }),
            warnings: &[],
        },
        Case {
            airflow: "test_base_aws.py::TestSessionFactory::test_get_credentials_from_role_arn[assume-without-initial-creds]",
            spec: json!({"conn_id": "assume-without-initial-creds",
                "extra": {"role_arn": "arn:aws:iam::123456789012:role/role_arn", "region_name": "sa-east-1"}}),
            outcome: Outcome::Role(role("airflow_assume-without-initial-creds")),
            warnings: &[],
        },
        Case {
            airflow: "hooks/base_aws.py::_assume_role (RoleSessionName in kwargs replaces the default)",
            spec: json!({"conn_id": "c", "extra": {"role_arn": ROLE, "assume_role_kwargs": {"RoleSessionName": "airflow",
                "SourceIdentity": "alice@example.com", "Tags": [{"Key": "team", "Value": "data"}], "TransitiveTagKeys": ["team"]}}}),
            outcome: Outcome::Role(Role {
                source_identity: Some("alice@example.com"),
                transitive_tag_keys: &["team"],
                ..role("airflow")
            }),
            warnings: &[],
        },
        Case {
            airflow: "hooks/base_aws.py::_assume_role (RoleArn in kwargs is overridden by role_arn)",
            spec: json!({"conn_id": "c", "extra": {"role_arn": ROLE, "assume_role_kwargs": {"RoleArn": "arn:aws:iam::999999999999:role/other"}}}),
            outcome: Outcome::Role(role("airflow_c")),
            warnings: &["extra.assume_role_kwargs.RoleArn"],
        },
        Case {
            airflow: "hooks/base_aws.py::_assume_role (MFA: nobody is there to type a code)",
            spec: json!({"conn_id": "c", "extra": {"role_arn": ROLE, "assume_role_kwargs": {"SerialNumber": "arn:aws:iam::123456789012:mfa/u", "TokenCode": "123456"}}}),
            outcome: Outcome::Refused("extra.assume_role_kwargs.SerialNumber", "MFA"),
            warnings: &[],
        },
        Case {
            airflow: "hooks/base_aws.py::_strip_invalid_session_name_characters (over 64 characters, STS refuses)",
            spec: json!({"conn_id": "a_very_long_connection_id_that_airflow_would_send_to_sts_as_it_is", "extra": {"role_arn": ROLE}}),
            outcome: Outcome::Refused("conn_id", "RoleSessionName"),
            warnings: &[],
        },
        Case {
            airflow: "test_connection.py::test_parse_from_uri[type://user:pass@protocol://host:port?param=value]",
            spec: json!({"conn_id": "c", "uri": "aws://user:pass@protocol://host:port?param=value"}),
            outcome: Outcome::Refused("uri", "Invalid connection string"),
            warnings: &[],
        },
        Case {
            airflow: "connection.py::_parse_from_uri (more than two `://`)",
            spec: json!({"conn_id": "c", "uri": "aws://a://b://c"}),
            outcome: Outcome::Refused("uri", "more than twice"),
            warnings: &[],
        },
        Case {
            airflow: "test_connection.py::test_parse_from_uri[type://protocol://user:pass@host:123?param=value]",
            spec: json!({"conn_id": "c", "uri": "type://protocol://AKIDURI:pass@host:123?region_name=eu-west-1"}),
            outcome: Outcome::Keys("AKIDURI", None),
            warnings: &["uri"],
        },
        Case {
            airflow: "test_connection_wrapper.py::test_unexpected_aws_connection_type[google-cloud-platform]",
            spec: json!({"conn_id": "c", "uri": "google-cloud-platform://AKIDURI:pass@/"}),
            outcome: Outcome::Keys("AKIDURI", None),
            warnings: &["uri"],
        },
        Case {
            airflow: "connection.py::_parse_from_uri (`__extra__` wins over other query parameters)",
            spec: json!({"conn_id": "c", "uri": "aws://@/?__extra__=%7B%22role_arn%22%3A+%22arn%3Aaws%3Aiam%3A%3A222222222222%3Arole%2Fawesome-role%22%7D&role_arn=ignored"}),
            outcome: Outcome::Role(role("airflow_c")),
            warnings: &["uri"],
        },
        Case {
            airflow: "connection.py::_parse_from_uri (query values are JSON-decoded)",
            spec: json!({"conn_id": "c", "uri": "aws://@/?role_arn=arn%3Aaws%3Aiam%3A%3A222222222222%3Arole%2Fawesome-role&assume_role_kwargs=%7B%22DurationSeconds%22%3A+1800%7D"}),
            outcome: Outcome::Role(Role { duration: 1_800, ..role("airflow_c") }),
            warnings: &[],
        },
    ]
}

fn host(backend: Arc<Sts>) -> (ConnectorHost, tempfile::TempDir) {
    let plugins = plugin_dir(&[("airflow-aws.wasm", AIRFLOW_AWS_COMPONENT)]);
    let config = WorkerConfig {
        worker_credentials: vec!["airflow-aws".into()],
        allowed_endpoints: vec!["https://foo.bar/spam/egg".into(), "https://example.org".into()],
        ..test_config()
    };
    let host = ConnectorHost::builder().config(config).plugin_dir(plugins.path()).backend(backend).build().unwrap();
    (host, plugins)
}

#[test]
fn every_airflow_case_ends_as_airflow_decides() {
    let backend = Arc::new(Sts::default());
    let (host, _plugins) = host(backend.clone());
    let job = Job { realm: "prod".into(), job_id: "j".into() };
    let mut failures = Vec::new();
    for case in cases() {
        let mut spec = case.spec.clone();
        spec["type"] = json!("airflow-aws");
        let problems = host.validate(&spec, Some("prod")).unwrap();
        let errors: Vec<_> = problems.iter().filter(|p| p.severity == Severity::Error).collect();
        let warned: Vec<&str> =
            problems.iter().filter(|p| p.severity == Severity::Warning).map(|p| p.field.as_str()).collect();
        let mut fail = |what: String| failures.push(format!("{}: {what}\n  problems: {problems:?}", case.airflow));
        for field in case.warnings {
            if !warned.contains(field) {
                fail(format!("no warning on `{field}`"));
            }
        }
        if let Outcome::Refused(field, fragment) = case.outcome {
            if !errors.iter().any(|p| p.field == field && p.message.contains(fragment)) {
                fail(format!("expected an error on `{field}` containing `{fragment}`"));
            }
            continue;
        }
        if !errors.is_empty() {
            fail("expected no error".into());
            continue;
        }
        backend.requests.lock().unwrap().clear();
        let resolved = match host.resolve_uncached(&spec, &job) {
            Ok(resolved) => resolved,
            Err(e) => {
                fail(format!("resolve failed: {e}"));
                continue;
            }
        };
        let aws = resolved.aws.expect("AWS credentials");
        let requests = backend.requests.lock().unwrap().clone();
        match case.outcome {
            Outcome::WorkerChain => {
                if aws.access_key_id != "AKIDWORKER" || !requests.is_empty() {
                    fail(format!(
                        "expected the worker's chain, got {} and {} AssumeRole",
                        aws.access_key_id,
                        requests.len()
                    ));
                }
            }
            Outcome::Keys(id, token) => {
                use secrecy::ExposeSecret;
                let got_token = aws.session_token.as_ref().map(|t| t.expose_secret().to_string());
                if aws.access_key_id != id || got_token.as_deref() != token || !requests.is_empty() {
                    fail(format!("expected keys {id} / {token:?}, got {} / {got_token:?}", aws.access_key_id));
                }
            }
            Outcome::Role(expected) => {
                let [request] = requests.as_slice() else {
                    fail(format!("expected one AssumeRole, got {}", requests.len()));
                    continue;
                };
                let source = request.source.as_ref();
                let got = (
                    source.map(|s| s.access_key_id.as_str()),
                    source.and_then(|s| s.session_token.as_ref()).map(secrecy::ExposeSecret::expose_secret),
                    request.session_name.as_str(),
                    request.external_id.as_deref(),
                    request.duration_seconds,
                    request.endpoint_url.as_deref(),
                    request.source_identity.as_deref(),
                    request.transitive_tag_keys.iter().map(String::as_str).collect::<Vec<_>>(),
                );
                let want = (
                    expected.source,
                    expected.source_token,
                    expected.session_name,
                    expected.external_id,
                    expected.duration,
                    expected.sts_endpoint,
                    expected.source_identity,
                    expected.transitive_tag_keys.to_vec(),
                );
                if got != want {
                    fail(format!("AssumeRole differs:\n  got  {got:?}\n  want {want:?}"));
                }
                if aws.access_key_id != "ASIAASSUMED" {
                    fail(format!("the job got {} instead of the assumed role", aws.access_key_id));
                }
            }
            Outcome::Refused(..) => unreachable!(),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Airflow:\n{}",
        failures.len(),
        cases().len(),
        failures.join("\n")
    );
}

#[test]
fn a_spec_without_conn_id_is_refused_as_the_store_would_not_find_it() {
    let (host, _plugins) = host(Arc::new(Sts::default()));
    let problems = host.validate(&json!({"type": "airflow-aws", "login": "A", "password": "B"}), None).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.field == "conn_id" && p.severity == Severity::Error && p.message.contains("required")),
        "{problems:?}"
    );
}
