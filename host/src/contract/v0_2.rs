//! `lava:connector@0.2.0`, the latest contract (`wit/v0.2.0`): its
//! capability imports implemented over the host's [`Capabilities`], with the
//! conversions between its generated types and the host's.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/v0.2.0",
    // A host function may end the whole call (a spent capability budget, the
    // wall-clock limit), which a plugin cannot catch and carry on after. The
    // AWS calls are async: awaited on the caller's task while the plugin's
    // fiber is suspended; logging and settings answer at once.
    imports: {
        "lava:connector/ssm.get-parameter": async | trappable,
        "lava:connector/sts.assume-role": async | trappable,
        "lava:connector/worker-credentials.get": async | trappable,
        default: trappable,
    },
    exports: { default: async },
});

use std::time::UNIX_EPOCH;

use secrecy::ExposeSecret;

use crate::capabilities::{self as host, Capabilities, LogLevel, Outcome};
use lava::connector::types::{AwsCredentials, CapabilityError};
use lava::connector::{config, log, ssm, sts, types, worker_credentials};

/// A capability outcome as the bindings return it: a bound hit ends the call.
fn trappable<T, U>(outcome: Outcome<T>, map: impl FnOnce(T) -> U) -> wasmtime::Result<Result<U, CapabilityError>> {
    Ok(outcome?.map(map).map_err(error_to_wit))
}

pub(super) fn error_to_wit(e: host::CapabilityError) -> CapabilityError {
    use host::CapabilityError as H;
    match e {
        H::NotGranted(m) => CapabilityError::NotGranted(m),
        H::NotFound(m) => CapabilityError::NotFound(m),
        H::AccessDenied(m) => CapabilityError::AccessDenied(m),
        H::Throttled(m) => CapabilityError::Throttled(m),
        H::InvalidInput(m) => CapabilityError::InvalidInput(m),
        H::RegionDisabled(m) => CapabilityError::RegionDisabled(m),
        H::ExpiredToken(m) => CapabilityError::ExpiredToken(m),
        H::Unavailable(m) => CapabilityError::Unavailable(m),
        H::Other(m) => CapabilityError::Other(m),
    }
}

/// Host credentials for the plugin: the one place their secrets leave
/// `secrecy` on their way into a sandbox.
fn credentials_to_wit(c: crate::types::AwsCredentials) -> AwsCredentials {
    AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key.expose_secret().to_string(),
        session_token: c.session_token.map(|t| t.expose_secret().to_string()),
        expiration: c.expiration.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()),
        region: c.region,
        endpoint_url: c.endpoint_url,
    }
}

/// A plugin's source credentials for AssumeRole. Their expiration is not
/// used; one past what a time can hold is dropped rather than refused.
fn credentials_from_wit(c: AwsCredentials) -> crate::types::AwsCredentials {
    crate::types::AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key.into(),
        session_token: c.session_token.map(Into::into),
        expiration: c.expiration.and_then(|s| UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s))),
        region: c.region,
        endpoint_url: c.endpoint_url,
    }
}

impl types::Host for Capabilities {}

impl ssm::Host for Capabilities {
    async fn get_parameter(
        &mut self,
        name: String,
        with_decryption: bool,
    ) -> wasmtime::Result<Result<String, CapabilityError>> {
        trappable(Capabilities::get_parameter(self, &name, with_decryption).await, |value| value)
    }
}

impl sts::Host for Capabilities {
    async fn assume_role(
        &mut self,
        r: sts::AssumeRoleRequest,
    ) -> wasmtime::Result<Result<AwsCredentials, CapabilityError>> {
        let request = host::AssumeRoleRequest {
            role_arn: r.role_arn,
            session_name: r.session_name,
            duration_seconds: r.duration_seconds,
            external_id: r.external_id,
            policy_arns: r.policy_arns,
            policy: r.policy,
            tags: r.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            transitive_tag_keys: r.transitive_tag_keys,
            source_identity: r.source_identity,
            region: r.region,
            endpoint_url: r.endpoint_url,
            source: r.source.map(credentials_from_wit),
        };
        trappable(Capabilities::assume_role(self, request).await, credentials_to_wit)
    }
}

impl worker_credentials::Host for Capabilities {
    async fn get(&mut self) -> wasmtime::Result<Result<AwsCredentials, CapabilityError>> {
        trappable(Capabilities::worker_credentials(self).await, credentials_to_wit)
    }
}

impl log::Host for Capabilities {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        Capabilities::log(self, level, &message);
        Ok(())
    }
}

impl config::Host for Capabilities {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.setting(&key))
    }
}
