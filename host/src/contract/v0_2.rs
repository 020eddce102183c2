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
        fields: d.fields.into_iter().map(new::FieldInfo::from).collect(),
        needs: Vec::new(),
    }
}

super::unchanged_between!(lava::connector => latest::lava::connector);

/// A 0.2.0 result in the latest shape.
pub(super) fn resolved(r: old::Resolved) -> new::Resolved {
    new::Resolved {
        values: r.values.into_iter().map(new::NamedValue::from).collect(),
        expiration: r.expiration,
        aws: r.aws.map(new::AwsCredentials::from),
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
        Ok(result.map_err(old::CapabilityError::from))
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
            tags: r.tags.into_iter().map(sts::Tag::from).collect(),
            transitive_tag_keys: r.transitive_tag_keys,
            source_identity: r.source_identity,
            region: r.region,
            endpoint_url: r.endpoint_url,
            source: r.source.map(new::AwsCredentials::from),
        };
        let result = sts::Host::assume_role(self, request).await?;
        Ok(result.map(old::AwsCredentials::from).map_err(old::CapabilityError::from))
    }
}

impl lava::connector::worker_credentials::Host for Capabilities {
    async fn get(&mut self) -> wasmtime::Result<Result<old::AwsCredentials, old::CapabilityError>> {
        let result = latest::lava::connector::worker_credentials::Host::get(self).await?;
        Ok(result.map(old::AwsCredentials::from).map_err(old::CapabilityError::from))
    }
}

impl lava::connector::log::Host for Capabilities {
    fn log(&mut self, level: lava::connector::log::Level, message: String) -> wasmtime::Result<()> {
        latest::lava::connector::log::Host::log(self, level.into(), message)
    }
}

impl lava::connector::config::Host for Capabilities {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        latest::lava::connector::config::Host::get(self, key)
    }
}
