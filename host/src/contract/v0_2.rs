//! `lava:connector@0.2.0` (`wit/v0.2.0`, frozen): its capabilities mapped
//! onto the latest ones, and its results onto the latest types.
//!
//! A 0.2.0 plugin declares no capabilities: it keeps the powers it had,
//! held to the worker's policy alone (`Declared::Legacy`). It cannot reach
//! the capabilities 0.3.0 added, nor return a login.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/v0.2.0",
    imports: {
        "lava:connector/ssm.get-parameter": async | trappable,
        "lava:connector/sts.assume-role": async | trappable,
        "lava:connector/worker-credentials.get": async | trappable,
        default: trappable,
    },
    exports: { default: async },
});

use super::latest;
use crate::capabilities::Capabilities;
use latest::lava::connector::types as new;
use lava::connector::types as old;

pub(super) fn descriptor(d: old::Descriptor) -> new::Descriptor {
    new::Descriptor {
        types: d.types,
        version: d.version,
        fields: d
            .fields
            .into_iter()
            .map(|f| new::FieldInfo {
                name: f.name,
                type_name: f.type_name,
                required: f.required,
                description: f.description,
            })
            .collect(),
        needs: Vec::new(),
    }
}

pub(super) fn problems(problems: Vec<old::Problem>) -> Vec<new::Problem> {
    problems
        .into_iter()
        .map(|p| new::Problem {
            field: p.field,
            message: p.message,
            severity: match p.severity {
                old::Severity::Error => new::Severity::Error,
                old::Severity::Warning => new::Severity::Warning,
            },
        })
        .collect()
}

pub(super) fn validate_context(c: &new::ValidateContext) -> old::ValidateContext {
    old::ValidateContext { realm: c.realm.clone() }
}

pub(super) fn job_context(c: &new::JobContext) -> old::JobContext {
    old::JobContext {
        realm: c.realm.clone(),
        job_id: c.job_id.clone(),
        conn_id: c.conn_id.clone(),
        session_name_template: c.session_name_template.clone(),
    }
}

pub(super) fn credentials_to_new(c: old::AwsCredentials) -> new::AwsCredentials {
    new::AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
        expiration: c.expiration,
        region: c.region,
        endpoint_url: c.endpoint_url,
    }
}

fn credentials_to_old(c: new::AwsCredentials) -> old::AwsCredentials {
    old::AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.session_token,
        expiration: c.expiration,
        region: c.region,
        endpoint_url: c.endpoint_url,
    }
}

fn error_to_old(e: new::CapabilityError) -> old::CapabilityError {
    super::capability_error!(e, new::CapabilityError => old::CapabilityError)
}

/// A 0.2.0 result in the latest shape.
pub(super) fn resolved(r: old::Resolved) -> new::Resolved {
    new::Resolved {
        values: r
            .values
            .into_iter()
            .map(|v| new::NamedValue { name: v.name, value: v.value, secret: v.secret })
            .collect(),
        expiration: r.expiration,
        aws: r.aws.map(credentials_to_new),
        launcher: r.launcher.map(|old::LauncherKind::AwsCli| new::LauncherKind::AwsCli),
        login: None,
    }
}

impl old::Host for Capabilities {}

impl lava::connector::ssm::Host for Capabilities {
    async fn get_parameter(
        &mut self,
        name: String,
        with_decryption: bool,
    ) -> wasmtime::Result<Result<String, old::CapabilityError>> {
        let result = latest::lava::connector::ssm::Host::get_parameter(self, name, with_decryption).await?;
        Ok(result.map_err(error_to_old))
    }
}

impl lava::connector::sts::Host for Capabilities {
    async fn assume_role(
        &mut self,
        r: lava::connector::sts::AssumeRoleRequest,
    ) -> wasmtime::Result<Result<old::AwsCredentials, old::CapabilityError>> {
        use latest::lava::connector::sts;
        let request = sts::AssumeRoleRequest {
            role_arn: r.role_arn,
            session_name: r.session_name,
            duration_seconds: r.duration_seconds,
            external_id: r.external_id,
            policy_arns: r.policy_arns,
            policy: r.policy,
            tags: r.tags.into_iter().map(|t| sts::Tag { key: t.key, value: t.value }).collect(),
            transitive_tag_keys: r.transitive_tag_keys,
            source_identity: r.source_identity,
            region: r.region,
            endpoint_url: r.endpoint_url,
            source: r.source.map(credentials_to_new),
        };
        let result = sts::Host::assume_role(self, request).await?;
        Ok(result.map(credentials_to_old).map_err(error_to_old))
    }
}

impl lava::connector::worker_credentials::Host for Capabilities {
    async fn get(&mut self) -> wasmtime::Result<Result<old::AwsCredentials, old::CapabilityError>> {
        let result = latest::lava::connector::worker_credentials::Host::get(self).await?;
        Ok(result.map(credentials_to_old).map_err(error_to_old))
    }
}

impl lava::connector::log::Host for Capabilities {
    fn log(&mut self, level: lava::connector::log::Level, message: String) -> wasmtime::Result<()> {
        use latest::lava::connector::log::Level as New;
        use lava::connector::log::Level as Old;
        let level = match level {
            Old::Trace => New::Trace,
            Old::Debug => New::Debug,
            Old::Info => New::Info,
            Old::Warn => New::Warn,
            Old::Error => New::Error,
        };
        latest::lava::connector::log::Host::log(self, level, message)
    }
}

impl lava::connector::config::Host for Capabilities {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        latest::lava::connector::config::Host::get(self, key)
    }
}
