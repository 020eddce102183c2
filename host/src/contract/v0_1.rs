//! `lava:connector@0.1.0` (`wit/v0.1.0`, frozen): its capabilities mapped onto
//! 0.2.0's, and its results onto 0.2.0's types, which `v0_2` maps onto the
//! latest (each version maps onto the next, as Zed's `since_v0_*` do).
//!
//! The one thing 0.1.0 could say that 0.2.0 cannot is a free-form launcher
//! (program, environment, files): a plugin could make a job run anything. It
//! is never honoured. When the plugin also returned AWS credentials and its
//! launcher ran `aws`, the job gets the host's own AWS CLI stand-in for those
//! credentials, which is what the built-in connectors of 0.1.0 asked for;
//! anything else is dropped with a warning.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/v0.1.0",
    imports: {
        "lava:connector/ssm.get-parameter": async | trappable,
        "lava:connector/sts.assume-role": async | trappable,
        "lava:connector/worker-credentials.get": async | trappable,
        default: trappable,
    },
    exports: { default: async },
});

use super::v0_2 as next;
use crate::capabilities::Capabilities;
use lava::connector::types as old;
use next::lava::connector::types as new;

pub(super) fn descriptor(d: old::Descriptor) -> new::Descriptor {
    new::Descriptor {
        types: d.types,
        version: d.version,
        fields: d.fields.into_iter().map(new::FieldInfo::from).collect(),
    }
}

super::unchanged_between!(lava::connector => next::lava::connector);

/// A 0.1.0 result in the latest shape; `plugin` names it in the warning.
pub(super) fn resolved(plugin: &str, r: old::Resolved) -> new::Resolved {
    let launcher = r.launcher.and_then(|launcher| {
        let runs_aws = std::path::Path::new(&launcher.program).file_name().is_some_and(|name| name == "aws");
        if runs_aws && r.aws.is_some() {
            tracing::warn!(
                plugin,
                "contract 0.1.0 launcher replaced by the host's own AWS CLI stand-in; \
                 the plugin's program, arguments, environment and files are ignored"
            );
            Some(new::LauncherKind::AwsCli)
        } else {
            tracing::warn!(
                plugin,
                program = %crate::sanitizer::sanitize(&launcher.program),
                "contract 0.1.0 free-form launcher refused: a plugin cannot choose what a job runs \
                 (rebuild the plugin against lava:connector@0.2.0 and return a launcher kind)"
            );
            None
        }
    });
    new::Resolved {
        values: r.values.into_iter().map(new::NamedValue::from).collect(),
        expiration: r.expiration,
        aws: r.aws.map(new::AwsCredentials::from),
        launcher,
    }
}

impl old::Host for Capabilities {}

impl lava::connector::ssm::Host for Capabilities {
    async fn get_parameter(
        &mut self,
        name: String,
        with_decryption: bool,
    ) -> wasmtime::Result<Result<String, old::CapabilityError>> {
        let result = next::lava::connector::ssm::Host::get_parameter(self, name, with_decryption).await?;
        Ok(result.map_err(old::CapabilityError::from))
    }
}

impl lava::connector::sts::Host for Capabilities {
    async fn assume_role(
        &mut self,
        r: lava::connector::sts::AssumeRoleRequest,
    ) -> wasmtime::Result<Result<old::AwsCredentials, old::CapabilityError>> {
        use next::lava::connector::sts;
        let request = sts::AssumeRoleRequest {
            role_arn: r.role_arn,
            session_name: r.session_name,
            duration_seconds: r.duration_seconds,
            external_id: r.external_id,
            policy_arns: r.policy_arns,
            policy: r.policy,
            tags: r.tags.into_iter().map(sts::Tag::from).collect(),
            transitive_tag_keys: Vec::new(),
            source_identity: None,
            region: r.region,
            // 0.1.0 sent the call to the source credentials' endpoint.
            endpoint_url: r.source.as_ref().and_then(|s| s.endpoint_url.clone()),
            source: r.source.map(new::AwsCredentials::from),
        };
        let result = sts::Host::assume_role(self, request).await?;
        Ok(result.map(old::AwsCredentials::from).map_err(old::CapabilityError::from))
    }
}

impl lava::connector::worker_credentials::Host for Capabilities {
    async fn get(&mut self) -> wasmtime::Result<Result<old::AwsCredentials, old::CapabilityError>> {
        let result = next::lava::connector::worker_credentials::Host::get(self).await?;
        Ok(result.map(old::AwsCredentials::from).map_err(old::CapabilityError::from))
    }
}

impl lava::connector::log::Host for Capabilities {
    fn log(&mut self, level: lava::connector::log::Level, message: String) -> wasmtime::Result<()> {
        next::lava::connector::log::Host::log(self, level.into(), message)
    }
}

impl lava::connector::config::Host for Capabilities {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        next::lava::connector::config::Host::get(self, key)
    }
}
