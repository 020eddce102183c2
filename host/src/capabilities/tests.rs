//! Each capability on its own, without wasm: a `Capabilities` for one call
//! against a backend that records what reaches it (Spin's factor tests do
//! the same). What a plugin meets through real components is tested in
//! `tests/tests/sandbox.rs`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::*;
use crate::results::{AwsCredentials, DatabaseCredentials};

/// Records every call that reaches it; answers from fixed values.
#[derive(Default)]
struct Recording {
    calls: Mutex<Vec<String>>,
    /// How long each call takes.
    latency: Duration,
}

impl Recording {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    async fn record(&self, call: String) {
        tokio::time::sleep(self.latency).await;
        self.calls.lock().unwrap().push(call);
    }
}

fn credentials(id: &str) -> AwsCredentials {
    AwsCredentials {
        access_key_id: id.into(),
        secret_access_key: "secret".into(),
        session_token: None,
        expiration: None,
        region: Some("eu-west-1".into()),
        endpoint_url: None,
    }
}

#[async_trait::async_trait]
impl AwsBackend for Recording {
    fn region(&self) -> Option<String> {
        Some("ap-southeast-2".into())
    }
    async fn get_parameter(&self, name: &str, with_decryption: bool) -> Result<String, CapabilityError> {
        self.record(format!("ssm:{name}:{with_decryption}")).await;
        Ok(format!("value of {name}"))
    }
    async fn assume_role(&self, request: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        self.record(format!("sts:{}:{}:{}", request.role_arn, request.session_name, request.duration_seconds)).await;
        Ok(credentials("ASIAROLE"))
    }
    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        self.record("worker".into()).await;
        Ok(credentials("AKIAWORKER"))
    }
    async fn get_secret_value(&self, secret_id: &str) -> Result<String, CapabilityError> {
        self.record(format!("secret:{secret_id}")).await;
        Ok(if secret_id.ends_with("/huge") {
            "x".repeat(MAX_SECRET_BYTES + 1)
        } else {
            format!("value of {secret_id}")
        })
    }
    async fn get_cluster_credentials(
        &self,
        r: ClusterCredentialsRequest,
    ) -> Result<DatabaseCredentials, CapabilityError> {
        let with = r.source.map(|s| s.access_key_id).unwrap_or_default();
        self.record(format!("redshift:{}:{}:{}:{with}", r.cluster_identifier, r.db_user, r.duration_seconds)).await;
        Ok(DatabaseCredentials { user: format!("IAM:{}", r.db_user), password: "pw".into(), expiration: None })
    }
    async fn get_serverless_credentials(
        &self,
        r: ServerlessCredentialsRequest,
    ) -> Result<DatabaseCredentials, CapabilityError> {
        let with = r.source.map(|s| s.access_key_id).unwrap_or_default();
        self.record(format!("serverless:{}:{}:{with}", r.workgroup_name, r.duration_seconds)).await;
        Ok(DatabaseCredentials { user: "IAMR:role".into(), password: "pw".into(), expiration: None })
    }
    async fn generate_auth_token(&self, r: AuthTokenRequest) -> Result<String, CapabilityError> {
        let with = r.source.map(|s| s.access_key_id).unwrap_or_default();
        self.record(format!("rds:{}:{}:{}:{with}", r.host, r.port, r.user)).await;
        Ok(format!("{}:{}/?Action=connect", r.host, r.port))
    }
}

/// Capabilities for one call with `grants`, a budget of 3 calls and a
/// one-minute wall limit, started `ago`.
fn capabilities(grants: Grants, backend: &Arc<Recording>, ago: Duration) -> Capabilities {
    let context = CallContext {
        grants,
        backend: backend.clone(),
        settings: Arc::new(BTreeMap::from([("CONN_APP_NAME".to_string(), "lv-{{ realm }}".to_string())])),
        audit: Audit::default(),
    };
    Capabilities::new(context, "test-plugin".into(), 3, Duration::from_secs(60), Instant::now() - ago)
}

/// The built-in `aws` type's grants under lava's defaults (in realm `prod`).
fn resolve_grants() -> Grants {
    allowing(&[(Capability::Ssm, Scope::Only(vec!["/lava/prod/".into()])), (Capability::Sts, Scope::Any)])
}

/// A legacy plugin's grants: the worker's `allowed` alone.
fn allowing(scopes: &[(Capability, Scope)]) -> Grants {
    Grants { allowed: scopes.iter().cloned().collect(), policy: PolicySource::Global("aws".into()), ..Grants::none() }
}

/// Every capability, for any target: what a worker's table could grant.
fn allowing_everything() -> Grants {
    let mut grants = allowing(&Capability::ALL.map(|c| (c, Scope::Any)));
    grants.policy = PolicySource::Table("db".into());
    grants
}

/// `grants`, for a plugin that declared `needs`.
fn declaring(grants: Grants, needs: &[Capability]) -> Grants {
    Grants { declared: Some(needs.iter().map(|c| (*c, Scope::Any)).collect()), ..grants }
}

fn role(arn: &str, session_name: &str) -> AssumeRoleRequest {
    AssumeRoleRequest {
        role_arn: arn.into(),
        session_name: session_name.into(),
        duration_seconds: 900,
        ..AssumeRoleRequest::default()
    }
}

#[tokio::test]
async fn ssm_reads_reach_aws_only_under_the_granted_prefixes() {
    let backend = Arc::new(Recording::default());
    let mut caps = capabilities(resolve_grants(), &backend, Duration::ZERO);
    assert_eq!(caps.get_parameter("/lava/prod/keys", true).await, Ok(Ok("value of /lava/prod/keys".into())));
    let refused = caps.get_parameter("/lava/dev/keys", true).await;
    assert!(matches!(&refused, Ok(Err(CapabilityError::NotGranted(m))) if m.contains("/lava/prod/")), "{refused:?}");
    assert_eq!(backend.calls(), ["ssm:/lava/prod/keys:true"], "the refused read never reached AWS");
}

#[tokio::test]
async fn without_grants_no_capability_reaches_aws() {
    let backend = Arc::new(Recording::default());
    let mut caps = capabilities(Grants::none(), &backend, Duration::ZERO);
    assert!(matches!(caps.get_parameter("/lava/prod/keys", true).await, Ok(Err(CapabilityError::NotGranted(_)))));
    assert!(matches!(
        caps.assume_role(role("arn:aws:iam::123456789012:role/r", "s1")).await,
        Ok(Err(CapabilityError::NotGranted(_)))
    ));
    assert!(
        matches!(caps.worker_credentials().await, Ok(Err(CapabilityError::NotGranted(m))) if m.contains("outside `resolve`"))
    );
    assert!(backend.calls().is_empty(), "{:?}", backend.calls());
}

#[tokio::test]
async fn assume_role_checks_the_role_and_the_session_name_before_aws() {
    let backend = Arc::new(Recording::default());
    let grants = allowing(&[(Capability::Sts, Scope::Only(vec!["arn:aws:iam::123456789012:role/lava-*".into()]))]);
    let mut caps = capabilities(grants, &backend, Duration::ZERO);
    let granted = caps.assume_role(role("arn:aws:iam::123456789012:role/lava-loader", "lv-prod-j1")).await;
    assert!(matches!(&granted, Ok(Ok(c)) if c.access_key_id == "ASIAROLE"), "{granted:?}");
    let other_role = caps.assume_role(role("arn:aws:iam::123456789012:role/admin", "lv-prod-j1")).await;
    assert!(matches!(&other_role, Ok(Err(CapabilityError::NotGranted(m))) if m.contains("allowed_roles")));
    let bad_name = caps.assume_role(role("arn:aws:iam::123456789012:role/lava-loader", "a b")).await;
    assert!(matches!(&bad_name, Ok(Err(CapabilityError::InvalidInput(m))) if m.contains("role-session name")));
    assert_eq!(backend.calls(), ["sts:arn:aws:iam::123456789012:role/lava-loader:lv-prod-j1:900"]);
}

fn cluster(id: &str) -> ClusterCredentialsRequest {
    ClusterCredentialsRequest {
        cluster_identifier: id.into(),
        db_user: "etl".into(),
        duration_seconds: 900,
        ..ClusterCredentialsRequest::default()
    }
}

fn workgroup(name: &str) -> ServerlessCredentialsRequest {
    ServerlessCredentialsRequest { workgroup_name: name.into(), duration_seconds: 900, ..Default::default() }
}

fn token(host: &str) -> AuthTokenRequest {
    AuthTokenRequest { host: host.into(), port: 5432, user: "etl".into(), ..AuthTokenRequest::default() }
}

/// The first refusal's text, or a panic naming what came instead.
fn refused<T: std::fmt::Debug>(outcome: Outcome<T>) -> String {
    match outcome {
        Ok(Err(CapabilityError::NotGranted(m) | CapabilityError::InvalidInput(m))) => m,
        other => panic!("not refused: {other:?}"),
    }
}

/// One call of each capability, in `Capability::ALL`'s order, each refused.
async fn call_every_capability(caps: &mut Capabilities) -> [String; 7] {
    [
        refused(caps.get_parameter("/lava/prod/x", true).await),
        refused(caps.get_secret_value("lava/prod/x").await),
        refused(caps.assume_role(role("arn:aws:iam::1:role/r", "s1")).await),
        refused(caps.get_cluster_credentials(cluster("main"), None).await),
        refused(caps.get_serverless_credentials(workgroup("wg1"), None).await),
        refused(caps.generate_auth_token(token("db.example"), None).await),
        refused(caps.worker_credentials().await),
    ]
}

#[tokio::test]
async fn each_capability_a_plugin_did_not_declare_is_refused_before_any_request() {
    let backend = Arc::new(Recording::default());
    let mut caps = capabilities(declaring(allowing_everything(), &[]), &backend, Duration::ZERO);
    caps.calls_left = 100;
    let refusals = call_every_capability(&mut caps).await;
    for (capability, refusal) in Capability::ALL.iter().zip(refusals) {
        assert!(refusal.contains(&format!("does not declare capability `{capability}`")), "{refusal}");
    }
    assert!(backend.calls().is_empty(), "{:?}", backend.calls());
}

#[tokio::test]
async fn each_capability_the_policy_does_not_allow_is_refused_naming_the_setting() {
    let backend = Arc::new(Recording::default());
    let grants = Grants { policy: PolicySource::Nothing("db".into()), ..declaring(Grants::none(), &Capability::ALL) };
    let mut caps = capabilities(grants, &backend, Duration::ZERO);
    caps.calls_left = 100;
    let refusals = call_every_capability(&mut caps).await;
    for (capability, refusal) in Capability::ALL.iter().zip(refusals) {
        let setting = format!("`{}` under `[policy.db]`", capability.policy_key());
        assert!(refusal.contains(&setting), "{capability}: {refusal}");
    }
    assert!(backend.calls().is_empty(), "{:?}", backend.calls());
}

#[tokio::test]
async fn the_family_capabilities_reach_aws_when_declared_and_allowed() {
    let backend = Arc::new(Recording::default());
    let mut caps = capabilities(declaring(allowing_everything(), &Capability::ALL), &backend, Duration::ZERO);
    caps.calls_left = 100;
    assert_eq!(caps.get_secret_value("lava/prod/db").await, Ok(Ok("value of lava/prod/db".into())));
    let db = caps.get_cluster_credentials(cluster("main"), None).await.unwrap().unwrap();
    assert_eq!(db.user, "IAM:etl");
    caps.get_serverless_credentials(workgroup("wg1"), None).await.unwrap().unwrap();
    let t = caps.generate_auth_token(token("DB.Example"), None).await.unwrap().unwrap();
    assert_eq!(t, "db.example:5432/?Action=connect", "host names are compared and signed in lower case");
    assert_eq!(
        backend.calls(),
        ["secret:lava/prod/db", "redshift:main:etl:900:", "serverless:wg1:900:", "rds:db.example:5432:etl:"]
    );
}

#[tokio::test]
async fn a_call_as_a_role_assumes_it_first_and_needs_sts_declared_and_allowed_too() {
    let backend = Arc::new(Recording::default());
    let as_role = || Some(role("arn:aws:iam::1:role/reader", "s1"));
    let without_sts = declaring(allowing_everything(), &[Capability::RedshiftServerless]);
    let mut caps = capabilities(without_sts, &backend, Duration::ZERO);
    let refusal = refused(caps.get_serverless_credentials(workgroup("wg1"), as_role()).await);
    assert!(refusal.contains("does not declare capability `sts`"), "{refusal}");
    assert!(backend.calls().is_empty(), "{:?}", backend.calls());
    let mut caps = capabilities(
        declaring(allowing_everything(), &[Capability::RedshiftServerless, Capability::Sts]),
        &backend,
        Duration::ZERO,
    );
    caps.get_serverless_credentials(workgroup("wg1"), as_role()).await.unwrap().unwrap();
    assert_eq!(backend.calls(), ["sts:arn:aws:iam::1:role/reader:s1:900", "serverless:wg1:900:ASIAROLE"]);
}

#[tokio::test]
async fn inputs_aws_would_refuse_or_a_file_could_not_hold_are_refused_before_the_request() {
    let backend = Arc::new(Recording::default());
    let mut caps = capabilities(declaring(allowing_everything(), &Capability::ALL), &backend, Duration::ZERO);
    caps.calls_left = 100;
    let cases = [
        (
            refused(
                caps.get_cluster_credentials(
                    ClusterCredentialsRequest { duration_seconds: 899, ..cluster("main") },
                    None,
                )
                .await,
            ),
            "900 to 3600",
        ),
        (refused(caps.get_cluster_credentials(cluster("Main"), None).await), "cluster identifier `Main`"),
        (
            refused(
                caps.get_cluster_credentials(
                    ClusterCredentialsRequest { db_user: "a b".into(), ..cluster("main") },
                    None,
                )
                .await,
            ),
            "database user",
        ),
        (
            refused(
                caps.get_cluster_credentials(
                    ClusterCredentialsRequest { region: Some("x".into()), ..cluster("main") },
                    None,
                )
                .await,
            ),
            "not an AWS region",
        ),
        (
            refused(
                caps.get_serverless_credentials(
                    ServerlessCredentialsRequest { duration_seconds: 3601, ..workgroup("wg1") },
                    None,
                )
                .await,
            ),
            "900 to 3600",
        ),
        (refused(caps.get_serverless_credentials(workgroup("wg/1"), None).await), "workgroup name"),
        (refused(caps.generate_auth_token(token("db.example/evil?x="), None).await), "database host"),
        (
            refused(caps.generate_auth_token(AuthTokenRequest { user: "a\nb".into(), ..token("db") }, None).await),
            "database user",
        ),
        (refused(caps.generate_auth_token(AuthTokenRequest { port: 0, ..token("db") }, None).await), "port 0"),
        (refused(caps.get_secret_value("").await), "secret id of 0 bytes"),
        (refused(caps.get_secret_value("lava/prod/../dev/x").await), "segment"),
    ];
    for (refusal, says) in cases {
        assert!(refusal.contains(says), "{refusal} should say {says}");
    }
    assert!(backend.calls().is_empty(), "{:?}", backend.calls());
    let huge = caps.get_secret_value("lava/prod/huge").await;
    assert!(matches!(&huge, Ok(Err(CapabilityError::InvalidInput(m))) if m.contains("65536")), "{huge:?}");
}

#[tokio::test]
async fn the_workers_credentials_are_handed_out_only_when_granted() {
    let backend = Arc::new(Recording::default());
    let grants = allowing(&[(Capability::WorkerCredentials, Scope::Any)]);
    let mut caps = capabilities(grants, &backend, Duration::ZERO);
    assert!(matches!(caps.worker_credentials().await, Ok(Ok(c)) if c.access_key_id == "AKIAWORKER"));
    assert_eq!(backend.calls(), ["worker"]);
}

#[tokio::test]
async fn the_budget_ends_the_call_and_refusals_count_against_it() {
    let backend = Arc::new(Recording::default());
    let mut caps = capabilities(resolve_grants(), &backend, Duration::ZERO);
    assert!(caps.get_parameter("/lava/prod/a", true).await.is_ok());
    assert!(matches!(caps.get_parameter("/elsewhere", true).await, Ok(Err(CapabilityError::NotGranted(_)))));
    assert!(caps.get_parameter("/lava/prod/b", false).await.is_ok());
    assert_eq!(caps.get_parameter("/lava/prod/c", true).await, Err(BoundHit::CapabilityCalls));
    assert_eq!(caps.worker_credentials().await.unwrap_err(), BoundHit::CapabilityCalls, "every capability shares it");
    assert_eq!(backend.calls(), ["ssm:/lava/prod/a:true", "ssm:/lava/prod/b:false"]);
}

#[tokio::test]
async fn past_the_wall_limit_nothing_more_is_sent() {
    let backend = Arc::new(Recording::default());
    let mut caps = capabilities(resolve_grants(), &backend, Duration::from_secs(61));
    assert_eq!(caps.get_parameter("/lava/prod/a", true).await, Err(BoundHit::WallClock));
    assert!(backend.calls().is_empty());
}

#[tokio::test]
async fn time_in_aws_is_the_hosts_not_the_plugins() {
    let backend = Arc::new(Recording { latency: Duration::from_millis(30), ..Recording::default() });
    let mut caps = capabilities(resolve_grants(), &backend, Duration::ZERO);
    assert_eq!(caps.host_time(), Duration::ZERO);
    caps.get_parameter("/lava/prod/a", true).await.unwrap().unwrap();
    caps.get_parameter("/lava/prod/b", true).await.unwrap().unwrap();
    assert!(caps.host_time() >= Duration::from_millis(60), "{:?}", caps.host_time());
    assert!(caps.host_time() <= caps.started().elapsed());
}

#[test]
fn settings_are_the_shared_ones_and_the_region_is_the_workers() {
    let backend = Arc::new(Recording::default());
    let caps = capabilities(Grants::none(), &backend, Duration::ZERO);
    assert_eq!(caps.setting("AWS_REGION").as_deref(), Some("ap-southeast-2"));
    assert_eq!(caps.setting("CONN_APP_NAME").as_deref(), Some("lv-{{ realm }}"));
    assert_eq!(caps.setting("HOME"), None, "only what the host shares");
    assert!(backend.calls().is_empty(), "settings are not AWS calls");
}

#[tokio::test]
async fn log_lines_stop_at_the_per_call_bound_and_cost_no_budget() {
    let backend = Arc::new(Recording::default());
    let mut caps = capabilities(resolve_grants(), &backend, Duration::ZERO);
    for i in 0..MAX_LOG_LINES + 10 {
        caps.log(LogLevel::Info, &format!("line {i}"));
    }
    assert_eq!(caps.log_lines_left, 0);
    assert!(caps.get_parameter("/lava/prod/a", true).await.unwrap().is_ok(), "logging spends no capability calls");
    assert_eq!(caps.calls_left, 2);
}

#[test]
fn a_bound_that_ends_a_call_says_which() {
    // Shown only if a bound ever escaped the sandbox's classification.
    assert_eq!(BoundHit::WallClock.to_string(), "the call's wall-clock limit was reached");
    assert_eq!(BoundHit::CapabilityCalls.to_string(), "the call's capability budget was spent");
}

/// A `MakeWriter` into a shared buffer, for reading events back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An event's fields as `key=value` pairs, read as a log parser would: a
/// value is a quoted string with `\`-escapes, or a bare word.
fn fields_of(event: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut rest = event.trim_start();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').expect("key=value");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = if after.starts_with('"') {
            chars.next();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.push(chars.next().expect("an escaped character").1),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            end
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            value.push_str(&after[..end]);
            end
        };
        fields.push((key.to_string(), value));
        rest = after[end..].trim_start();
    }
    fields
}

#[tokio::test]
async fn an_audit_event_reads_back_as_exactly_the_fields_the_host_wrote_whatever_the_values() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let forged = r#"x" outcome="ok" capability="sts.assume-role" target="arn:aws:iam::1:role/admin"#;
    let backend = Arc::new(Recording::default());
    let mut caps = capabilities(resolve_grants(), &backend, Duration::ZERO);
    caps.audit = Audit { conn_id: format!("c {forged}"), job: format!("j\\ {forged}"), ..Audit::default() };
    // The audit callsite's interest is cached for the whole process: another
    // test's thread hitting it with no subscriber can leave it "never", even
    // just after this thread asked again (it failed so in one CI run in many).
    // The call is repeated until the event is seen, at most five times: this
    // test is about the event's fields, not tracing's cache.
    let mut log = String::new();
    for _ in 0..5 {
        tracing::callsite::rebuild_interest_cache();
        captured.0.lock().unwrap().clear();
        let _ = caps.get_parameter(&format!("/lava/dev/{forged}"), true).await;
        log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        if log.contains("lava_conn::audit: ") {
            break;
        }
    }
    let events: Vec<&str> = log.lines().filter_map(|l| l.split_once("lava_conn::audit: ").map(|(_, e)| e)).collect();
    assert_eq!(events.len(), 1, "{log}");
    let fields = fields_of(events[0]);
    let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "plugin",
            "sha256",
            "connector_type",
            "realm",
            "job",
            "conn_id",
            "capability",
            "target",
            "outcome",
            "duration_us"
        ],
        "{}",
        events[0]
    );
    let value = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap();
    assert_eq!(value("outcome"), "not-granted");
    assert_eq!(value("capability"), "ssm.get-parameter");
    assert_eq!(value("target"), format!("/lava/dev/{forged}"));
    assert_eq!(value("conn_id"), format!("c {forged}"));
    assert_eq!(value("job"), format!("j\\ {forged}"));
}

#[test]
fn an_audit_field_is_quoted_exactly_as_debug_quotes_it() {
    for text in ["", "plain", "arn:aws:iam::1:role/x", "a\"b", "a\\b", "é", "\u{202e}", "a\nb", "\u{1b}[2J", " ~"] {
        assert_eq!(Quoted(text).to_string(), format!("{text:?}"), "{text:?}");
    }
}
