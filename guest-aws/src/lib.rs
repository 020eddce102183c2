//! lava's `aws` connector: plain Rust logic with native tests, exported as a
//! component through the connector SDK.

pub mod resolve;
pub mod spec;

use lava_guest_kit::{Capability, Connector, Host, JobContext, Need, Problem, Resolved, ValidateContext};
use spec::AwsSpec;

/// lava's `aws` connector type.
#[derive(Default)]
pub struct AwsConnector;

lava_guest_kit::export_connector!(AwsConnector);

impl Connector for AwsConnector {
    const TYPE: &'static str = spec::CONNECTOR_TYPE;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// lava's `aws`: static keys or an external id from SSM, and a role.
    const NEEDS: &'static [Need] = &[Need::any(Capability::Ssm), Need::any(Capability::Sts)];
    type Spec = AwsSpec;

    fn check(&self, spec: &AwsSpec, context: &ValidateContext, problems: &mut Vec<Problem>) {
        spec::check(spec, context, problems);
    }

    fn resolve(&self, spec: AwsSpec, job: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        let context = job.validate_context().with_settings(host);
        resolve::resolve(&spec, &job.session_name, &context, host).map(Resolved::aws)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lava_guest_kit::testing::FakeHost;
    use lava_guest_kit::{AssumeRole, Credentials, RawConnector};

    fn job() -> JobContext {
        JobContext {
            realm: "prod".into(),
            job_id: "nightly".into(),
            conn_id: "aws1".into(),
            session_name: "lv-prod-nightly".into(),
        }
    }

    /// The credentials a resolve gives, through the SDK as the host calls it.
    fn resolve(spec: &str, host: &FakeHost) -> Result<Credentials, String> {
        AwsConnector.resolve_json(spec, &job(), host).map(|r| r.aws.expect("credentials"))
    }

    #[test]
    fn static_keys_split_at_the_first_comma() {
        let caps = FakeHost::default().with_parameter("/lava/prod/keys", "AKIDEXAMPLE,se,cret");
        let spec =
            r#"{"conn_id":"aws1","type":"aws","enabled":true,"access_keys":"/lava/prod/keys","region":"eu-west-1"}"#;
        let c = resolve(spec, &caps).unwrap();
        assert_eq!(c.access_key_id, "AKIDEXAMPLE");
        assert_eq!(c.secret_access_key, "se,cret");
        assert_eq!(c.session_token, None);
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert!(caps.assumed.borrow().is_empty());
    }

    #[test]
    fn malformed_keys_name_the_parameter_not_the_value() {
        for value in ["nocommahere", ",xyzzyq", "AKIDQQ,", "AK IDQQ,plughq", "AKIDQQ,plu\nghq", "AKIDQQ,plu\0ghq"] {
            let caps = FakeHost::default().with_parameter("/lava/prod/keys", value);
            let spec = r#"{"conn_id":"aws1","type":"aws","enabled":true,"access_keys":"/lava/prod/keys"}"#;
            let err = resolve(spec, &caps).unwrap_err();
            assert!(err.contains("/lava/prod/keys"), "{err}");
            for part in value.split(',').filter(|p| p.len() > 2) {
                assert!(!err.contains(part), "the value leaked: {err}");
            }
        }
    }

    #[test]
    fn roles_are_assumed_with_every_spec_field() {
        let caps = FakeHost::default().with_parameter("/lava/prod/ext", "ext-id-123");
        let spec = r#"{"conn_id":"aws1","type":"aws","enabled":true,
            "role_arn":"arn:aws:iam::123456789012:role/r","duration":"1.5h","external_id":"/lava/prod/ext",
            "policy_arns":"arn:aws:iam::aws:policy/ReadOnlyAccess",
            "policy":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]},
            "tags":{"team":"data","env":"prod"},"region":"ap-southeast-2"}"#;
        let c = resolve(spec, &caps).unwrap();
        assert_eq!(c.session_token.as_deref(), Some("fake-role-token"));
        assert_eq!(c.region.as_deref(), Some("ap-southeast-2"));
        assert!(
            caps.assumed.borrow()[0].1.is_none(),
            "lava's aws connector assumes roles with the worker's credentials"
        );
        let assumed = caps.assumed_requests();
        assert_eq!(
            assumed[0],
            AssumeRole {
                role_arn: "arn:aws:iam::123456789012:role/r".into(),
                session_name: "lv-prod-nightly".into(),
                duration_seconds: 5_400,
                external_id: Some("ext-id-123".into()),
                policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
                policy: Some(
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#
                        .into()
                ),
                tags: vec![("team".into(), "data".into()), ("env".into(), "prod".into())],
                region: Some("ap-southeast-2".into()),
                ..AssumeRole::default()
            }
        );
    }

    #[test]
    fn the_default_duration_comes_from_the_worker() {
        let caps = FakeHost::default();
        let spec = r#"{"conn_id":"aws1","type":"aws","enabled":true,"role_arn":"arn:aws:iam::123456789012:role/r"}"#;
        resolve(spec, &caps).unwrap();
        let worker = FakeHost::default().with_setting("AWS_CONN_DURATION", "45m");
        resolve(spec, &worker).unwrap();
        let durations: Vec<u32> =
            caps.assumed_requests().iter().chain(&worker.assumed_requests()).map(|a| a.duration_seconds).collect();
        assert_eq!(durations, vec![10_800, 2_700]);
    }

    #[test]
    fn disabled_connections_are_refused_by_name() {
        let spec = r#"{"conn_id":"aws1","type":"aws","enabled":false,"role_arn":"arn:aws:iam::123456789012:role/r"}"#;
        let err = resolve(spec, &FakeHost::default()).unwrap_err();
        assert!(err.contains("`aws1` is not enabled"), "{err}");
    }

    #[test]
    fn a_bad_external_id_value_is_refused() {
        let caps = FakeHost::default().with_parameter("/lava/prod/ext", "x");
        let spec = r#"{"conn_id":"aws1","type":"aws","enabled":true,"role_arn":"arn:aws:iam::123456789012:role/r","external_id":"/lava/prod/ext"}"#;
        let err = resolve(spec, &caps).unwrap_err();
        assert!(err.contains("external_id") && err.contains("2 to 1224"), "{err}");
        assert!(caps.assumed.borrow().is_empty());
    }

    #[test]
    fn credentials_never_print_their_secrets() {
        let c = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "SECRET".into(),
            session_token: Some("TOKEN".into()),
            expiration: None,
            region: Some("us-east-1".into()),
            endpoint_url: None,
        };
        assert!(format!("{c:?}").contains("AKID"));
        assert!(!format!("{c:?}").contains("SECRET"));
        assert!(!format!("{c:?}").contains("TOKEN"));
    }

    #[test]
    fn a_setting_is_asked_of_the_host_only_when_a_check_needs_it() {
        let asked = |spec: &str| {
            let host = FakeHost::default();
            AwsConnector.validate_json(spec, &ValidateContext::in_realm("prod"), &host);
            host.settings_read.take()
        };
        let role = r#""conn_id":"aws1","type":"aws","enabled":true,"role_arn":"arn:aws:iam::123456789012:role/r""#;
        assert_eq!(asked(&format!("{{{role}}}")), ["AWS_CONN_DURATION", "AWS_ACCESS_KEY_CACHE_TTL"]);
        assert_eq!(asked(&format!(r#"{{{role},"duration":"2h"}}"#)), ["AWS_ACCESS_KEY_CACHE_TTL"]);
        let keys = r#"{"conn_id":"aws1","type":"aws","enabled":true,"access_keys":"/lava/prod/keys"}"#;
        // Without a role there is no session length to take from the worker.
        assert_eq!(asked(keys), [] as [&str; 0]);
    }

    #[test]
    fn the_connector_reads_the_workers_settings_and_logs_the_specs_warnings() {
        // A 20-minute session against a 10-minute cache TTL draws a warning.
        let host = FakeHost::default()
            .with_setting("AWS_CONN_DURATION", "20m")
            .with_setting("AWS_ACCESS_KEY_CACHE_TTL", "15m");
        let spec = r#"{"conn_id":"aws1","type":"aws","enabled":true,"role_arn":"arn:aws:iam::123456789012:role/r"}"#;
        let resolved = AwsConnector.resolve_json(spec, &job(), &host).unwrap();
        assert_eq!(resolved.launcher, Some(lava_guest_kit::LauncherKind::AwsCli));
        assert_eq!(resolved.aws.as_ref().map(|c| c.access_key_id.as_str()), Some("ASIAFAKEROLE"));
        assert_eq!(host.assumed_requests()[0].duration_seconds, 1_200);
        let logged = host.logged.borrow();
        assert!(
            logged.iter().any(|(level, line)| *level == lava_guest_kit::Level::Warn && line.contains("aws1")),
            "{logged:?}"
        );
    }
}
