//! lava's `aws` connector: plain Rust logic with native tests, and a thin
//! component shell (`component.rs`) that exposes it through the WIT contract.

pub mod resolve;
pub mod spec;

use lava_rules::session;

#[cfg(target_family = "wasm")]
mod component;

use lava_rules::aws::{Capabilities, Credentials};
use lava_rules::problem::{Problem, Severity};
use spec::Settings;

/// What a job is, as far as the connector cares.
#[derive(Clone, Debug)]
pub struct Job<'a> {
    pub realm: &'a str,
    pub job_id: &'a str,
    pub conn_id: &'a str,
    pub session_name_template: &'a str,
}

/// Check a spec; an empty list means valid.
pub fn validate(json: &str, settings: &Settings) -> Vec<Problem> {
    spec::check(json, settings).problems
}

/// The role-session name for the spec in this job, or what prevents one.
pub fn session_name(json: &str, job: &Job<'_>, settings: &Settings) -> Result<String, Vec<Problem>> {
    let checked = spec::check(json, settings);
    if checked.spec.is_none() {
        return Err(errors_only(checked.problems));
    }
    session::session_name(job.session_name_template, job.realm, job.job_id, job.conn_id)
        .map_err(|message| vec![Problem { field: "CONN_APP_NAME".into(), message, severity: Severity::Error }])
}

/// Resolve the spec for the job through the host's capabilities. Also returns
/// the spec's warnings, which the component logs (a duration too close to the
/// cache TTL, for example).
pub fn resolve(
    json: &str,
    job: &Job<'_>,
    settings: &Settings,
    caps: &dyn Capabilities,
) -> Result<(Credentials, Vec<Problem>), String> {
    let checked = spec::check(json, settings);
    let Some(spec) = checked.spec else {
        let problems: Vec<String> = errors_only(checked.problems)
            .into_iter()
            .map(|p| if p.field.is_empty() { p.message } else { format!("{}: {}", p.field, p.message) })
            .collect();
        return Err(format!("the spec is invalid: {}", problems.join("; ")));
    };
    let name = session::session_name(job.session_name_template, job.realm, job.job_id, job.conn_id)
        .map_err(|message| format!("CONN_APP_NAME: {message}"))?;
    let credentials = resolve::resolve(&spec, &name, caps)?;
    Ok((credentials, checked.problems))
}

fn errors_only(problems: Vec<Problem>) -> Vec<Problem> {
    problems.into_iter().filter(|p| p.severity == Severity::Error).collect()
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use lava_rules::aws::AssumeRole;

    /// Capabilities that answer from fixed values and record the AssumeRole calls.
    #[derive(Default)]
    struct Fake {
        parameters: Vec<(&'static str, &'static str)>,
        assumed: RefCell<Vec<AssumeRole>>,
    }

    impl Capabilities for Fake {
        fn get_parameter(&self, name: &str) -> Result<String, String> {
            self.parameters
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
                .ok_or_else(|| format!("not found: {name}"))
        }
        fn worker_credentials(&self) -> Result<Credentials, String> {
            Err("not granted".into())
        }
        fn assume_role(&self, request: &AssumeRole, source: Option<&Credentials>) -> Result<Credentials, String> {
            assert!(source.is_none(), "lava's aws connector assumes roles with the worker's credentials");
            self.assumed.borrow_mut().push(request.clone());
            Ok(Credentials {
                access_key_id: "ASIATEST".into(),
                secret_access_key: "s3cr3t".into(),
                session_token: Some("token".into()),
                expiration: Some(1_900_000_000),
                region: None,
                endpoint_url: None,
            })
        }
    }

    const JOB: Job<'static> =
        Job { realm: "prod", job_id: "nightly", conn_id: "aws1", session_name_template: session::DEFAULT_TEMPLATE };

    fn settings() -> Settings {
        Settings { realm: Some("prod".into()), ..Settings::default() }
    }

    #[test]
    fn static_keys_split_at_the_first_comma() {
        let caps = Fake { parameters: vec![("/lava/prod/keys", "AKIDEXAMPLE,se,cret")], ..Fake::default() };
        let spec =
            r#"{"conn_id":"aws1","type":"aws","enabled":true,"access_keys":"/lava/prod/keys","region":"eu-west-1"}"#;
        let (c, _) = resolve(spec, &JOB, &settings(), &caps).unwrap();
        assert_eq!(c.access_key_id, "AKIDEXAMPLE");
        assert_eq!(c.secret_access_key, "se,cret");
        assert_eq!(c.session_token, None);
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert!(caps.assumed.borrow().is_empty());
    }

    #[test]
    fn malformed_keys_name_the_parameter_not_the_value() {
        for value in ["nocommahere", ",xyzzyq", "AKIDQQ,", "AK IDQQ,plughq"] {
            let caps = Fake { parameters: vec![("/lava/prod/keys", value)], ..Fake::default() };
            let spec = r#"{"conn_id":"aws1","type":"aws","enabled":true,"access_keys":"/lava/prod/keys"}"#;
            let err = resolve(spec, &JOB, &settings(), &caps).unwrap_err();
            assert!(err.contains("/lava/prod/keys"), "{err}");
            for part in value.split(',').filter(|p| p.len() > 2) {
                assert!(!err.contains(part), "the value leaked: {err}");
            }
        }
    }

    #[test]
    fn roles_are_assumed_with_every_spec_field() {
        let caps = Fake { parameters: vec![("/lava/prod/ext", "ext-id-123")], ..Fake::default() };
        let spec = r#"{"conn_id":"aws1","type":"aws","enabled":true,
            "role_arn":"arn:aws:iam::123456789012:role/r","duration":"1.5h","external_id":"/lava/prod/ext",
            "policy_arns":"arn:aws:iam::aws:policy/ReadOnlyAccess",
            "policy":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]},
            "tags":{"team":"data","env":"prod"},"region":"ap-southeast-2"}"#;
        let (c, _) = resolve(spec, &JOB, &settings(), &caps).unwrap();
        assert_eq!(c.session_token.as_deref(), Some("token"));
        assert_eq!(c.region.as_deref(), Some("ap-southeast-2"));
        let assumed = caps.assumed.borrow();
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
        let caps = Fake::default();
        let spec = r#"{"conn_id":"aws1","type":"aws","enabled":true,"role_arn":"arn:aws:iam::123456789012:role/r"}"#;
        resolve(spec, &JOB, &settings(), &caps).unwrap();
        let worker = Settings { default_duration: Some("45m".into()), ..settings() };
        resolve(spec, &JOB, &worker, &caps).unwrap();
        let durations: Vec<u32> = caps.assumed.borrow().iter().map(|a| a.duration_seconds).collect();
        assert_eq!(durations, vec![10_800, 2_700]);
    }

    #[test]
    fn disabled_connections_are_refused_by_name() {
        let spec = r#"{"conn_id":"aws1","type":"aws","enabled":false,"role_arn":"arn:aws:iam::123456789012:role/r"}"#;
        let err = resolve(spec, &JOB, &settings(), &Fake::default()).unwrap_err();
        assert!(err.contains("`aws1` is not enabled"), "{err}");
    }

    #[test]
    fn a_bad_external_id_value_is_refused() {
        let caps = Fake { parameters: vec![("/lava/prod/ext", "x")], ..Fake::default() };
        let spec = r#"{"conn_id":"aws1","type":"aws","enabled":true,"role_arn":"arn:aws:iam::123456789012:role/r","external_id":"/lava/prod/ext"}"#;
        let err = resolve(spec, &JOB, &settings(), &caps).unwrap_err();
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
}
