//! The WIT glue: maps the contract's types to the plain-Rust logic and back.

wit_bindgen::generate!({
    world: "plugin",
    path: "../wit",
});

use exports::lava::connector::connector::{
    Descriptor, EnvValue, EnvVar, FieldInfo, Guest, JobContext, Launcher, LauncherFile, Problem,
    Resolved, ValidateContext,
};
use lava::connector::types::{AwsCredentials, CapabilityError, Severity};
use lava::connector::{config, log, ssm, sts};

use crate::resolve::{self, AssumeRole, Capabilities, Credentials};
use crate::spec::{self, Settings};

struct AwsConnector;

export!(AwsConnector);

fn settings(realm: Option<String>) -> Settings {
    Settings {
        realm: realm.filter(|r| !r.is_empty()),
        default_duration: config::get("AWS_CONN_DURATION"),
        cache_ttl: config::get("AWS_ACCESS_KEY_CACHE_TTL"),
    }
}

fn to_wit(problems: Vec<spec::Problem>) -> Vec<Problem> {
    problems
        .into_iter()
        .map(|p| Problem {
            field: p.field,
            message: p.message,
            severity: match p.severity {
                spec::Severity::Error => Severity::Error,
                spec::Severity::Warning => Severity::Warning,
            },
        })
        .collect()
}

fn job(context: &JobContext) -> crate::Job<'_> {
    crate::Job {
        realm: &context.realm,
        job_id: &context.job_id,
        conn_id: &context.conn_id,
        session_name_template: &context.session_name_template,
    }
}

impl Guest for AwsConnector {
    fn describe() -> Descriptor {
        Descriptor {
            types: vec![spec::CONNECTOR_TYPE.to_string()],
            version: env!("CARGO_PKG_VERSION").to_string(),
            fields: spec::FIELDS
                .iter()
                .map(|(name, type_name, required, description)| FieldInfo {
                    name: name.to_string(),
                    type_name: type_name.to_string(),
                    required: *required,
                    description: description.to_string(),
                })
                .collect(),
        }
    }

    fn validate(spec: String, context: ValidateContext) -> Vec<Problem> {
        to_wit(crate::validate(&spec, &settings(context.realm)))
    }

    fn session_name(spec: String, context: JobContext) -> Result<String, Vec<Problem>> {
        crate::session_name(
            &spec,
            &job(&context),
            &settings(Some(context.realm.clone())),
        )
        .map_err(to_wit)
    }

    fn resolve(spec: String, context: JobContext) -> Result<Resolved, String> {
        let settings = settings(Some(context.realm.clone()));
        let (mut credentials, warnings) =
            crate::resolve(&spec, &job(&context), &settings, &HostCapabilities)?;
        for warning in warnings {
            log::log(
                log::Level::Warn,
                &format!(
                    "connection `{}`: {}: {}",
                    context.conn_id, warning.field, warning.message
                ),
            );
        }
        if credentials.region.is_none() {
            credentials.region = config::get("AWS_REGION");
        }
        Ok(Resolved {
            values: Vec::new(),
            expiration: credentials.expiration,
            launcher: Some(launcher(&credentials)),
            aws: Some(credentials_to_wit(credentials)),
        })
    }
}

/// lava's `aws` stand-in: `AWS_CONFIG_FILE=<.aws_config> aws --profile lava "$@"`.
fn launcher(credentials: &Credentials) -> Launcher {
    const CONFIG: &str = ".aws_config";
    // An empty credentials file keeps a `[lava]` profile in the user's own
    // ~/.aws/credentials from overriding the connection's keys.
    const CREDENTIALS: &str = ".aws_credentials";
    let unset_env = resolve::STALE_AWS_VARIABLES
        .iter()
        .filter(|v| credentials.region.is_some() || !v.ends_with("REGION"))
        .map(|v| v.to_string())
        .collect();
    Launcher {
        program: "aws".into(),
        args: vec!["--profile".into(), "lava".into()],
        env: vec![
            EnvVar {
                name: "AWS_CONFIG_FILE".into(),
                value: EnvValue::FilePath(CONFIG.into()),
            },
            EnvVar {
                name: "AWS_SHARED_CREDENTIALS_FILE".into(),
                value: EnvValue::FilePath(CREDENTIALS.into()),
            },
        ],
        unset_env,
        files: vec![
            LauncherFile {
                name: CONFIG.into(),
                contents: resolve::aws_config_file(credentials).into_bytes(),
                mode: 0o600,
            },
            LauncherFile {
                name: CREDENTIALS.into(),
                contents: Vec::new(),
                mode: 0o600,
            },
        ],
    }
}

fn credentials_to_wit(c: Credentials) -> AwsCredentials {
    AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
        expiration: c.expiration,
        region: c.region,
        endpoint_url: c.endpoint_url,
    }
}

fn describe_error(error: CapabilityError) -> String {
    match error {
        CapabilityError::NotGranted(m) => format!("not granted by the worker: {m}"),
        CapabilityError::NotFound(m) => format!("not found: {m}"),
        CapabilityError::AccessDenied(m) => format!("access denied: {m}"),
        CapabilityError::Throttled(m) => format!("throttled by AWS: {m}"),
        CapabilityError::InvalidInput(m) => format!("rejected by AWS: {m}"),
        CapabilityError::RegionDisabled(m) => format!("STS is not activated in the region: {m}"),
        CapabilityError::ExpiredToken(m) => format!("the worker's credentials have expired: {m}"),
        CapabilityError::Unavailable(m) => format!("AWS unavailable: {m}"),
        CapabilityError::Other(m) => m,
    }
}

struct HostCapabilities;

impl Capabilities for HostCapabilities {
    fn get_parameter(&self, name: &str) -> Result<String, String> {
        ssm::get_parameter(name, true).map_err(describe_error)
    }

    fn assume_role(&self, request: &AssumeRole) -> Result<Credentials, String> {
        let request = sts::AssumeRoleRequest {
            role_arn: request.role_arn.clone(),
            session_name: request.session_name.clone(),
            duration_seconds: request.duration_seconds,
            external_id: request.external_id.clone(),
            policy_arns: request.policy_arns.clone(),
            policy: request.policy.clone(),
            tags: request
                .tags
                .iter()
                .map(|(key, value)| sts::Tag {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            region: request.region.clone(),
            source: None,
        };
        let c = sts::assume_role(&request).map_err(describe_error)?;
        Ok(Credentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expiration: c.expiration,
            region: c.region,
            endpoint_url: c.endpoint_url,
        })
    }
}
