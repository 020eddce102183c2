//! The host capabilities a plugin may import, each checked against the grants
//! of the call in progress before anything is sent anywhere.

use crate::bindings::lava::connector::types::{AwsCredentials, CapabilityError};
use crate::bindings::lava::connector::{config, log, ssm, sts, types, worker_credentials};
use crate::runtime::{CallState, printable};

/// Longest SSM parameter name AWS accepts.
const MAX_SSM_NAME: usize = 2_048;

/// Longest log message kept; the rest is cut.
const MAX_LOG_MESSAGE: usize = 2_048;

/// What a plugin may do during one call. Deny by default: [`Grants::none`].
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// SSM names a plugin may read must start with one of these.
    pub ssm_prefixes: Vec<String>,
    /// Whether the plugin may call STS `AssumeRole`.
    pub sts: bool,
    /// Whether the plugin may have the worker's own credentials for a job.
    pub worker_credentials: bool,
}

impl Grants {
    /// No AWS access at all (describe, validate, session-name).
    pub fn none() -> Self {
        Self::default()
    }

    /// Why an SSM read of `name` is refused, or `None` when it is granted.
    fn ssm_refusal(&self, name: &str) -> Option<String> {
        if name.len() > MAX_SSM_NAME {
            return Some(format!("an SSM name of {} bytes is longer than AWS allows", name.len()));
        }
        // SSM takes names literally, but a name with empty or dot segments is
        // never one a connector needs and could confuse a prefix check.
        let odd_segment = name.split('/').skip(1).any(|s| s.is_empty() || s == "." || s == "..");
        let granted = !odd_segment && self.ssm_prefixes.iter().any(|p| name.starts_with(p.as_str()));
        if granted {
            return None;
        }
        Some(if self.ssm_prefixes.is_empty() {
            format!("SSM read of `{}` refused: no SSM access is granted for this call", printable(name.as_bytes()))
        } else {
            format!(
                "SSM read of `{}` refused: only names under {} are granted for this call",
                printable(name.as_bytes()),
                self.ssm_prefixes.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// Where capability calls that pass the grant checks go: the real AWS SDK in
/// production, anything else in an embedder's own tests.
pub trait AwsBackend: Send + Sync {
    /// The worker's AWS region, when known; plugins use it when a spec names none.
    fn region(&self) -> Option<String>;
    /// Read an SSM parameter.
    fn get_parameter(&self, name: &str, with_decryption: bool) -> Result<String, CapabilityError>;
    /// Call STS `AssumeRole`.
    fn assume_role(&self, request: sts::AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError>;
    /// The worker's own current credentials, with its region.
    fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError>;
}

/// A backend for hosts that never resolve: every call is unavailable.
#[derive(Debug, Default)]
pub struct NoAws;

impl AwsBackend for NoAws {
    fn region(&self) -> Option<String> {
        None
    }
    fn get_parameter(&self, _: &str, _: bool) -> Result<String, CapabilityError> {
        Err(CapabilityError::Unavailable("this host has no AWS backend".into()))
    }
    fn assume_role(&self, _: sts::AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        Err(CapabilityError::Unavailable("this host has no AWS backend".into()))
    }
    fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        Err(CapabilityError::Unavailable("this host has no AWS backend".into()))
    }
}

impl types::Host for CallState {}

impl ssm::Host for CallState {
    fn get_parameter(&mut self, name: String, with_decryption: bool) -> Result<String, CapabilityError> {
        if let Some(refusal) = self.grants.ssm_refusal(&name) {
            tracing::warn!(plugin = %self.plugin, "{refusal}");
            return Err(CapabilityError::NotGranted(refusal));
        }
        tracing::debug!(plugin = %self.plugin, parameter = %name, "SSM read");
        self.in_host(|state| state.backend.get_parameter(&name, with_decryption))
    }
}

impl sts::Host for CallState {
    fn assume_role(&mut self, request: sts::AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        if !self.grants.sts {
            let refusal = "STS AssumeRole refused: no STS access is granted for this call".to_string();
            tracing::warn!(plugin = %self.plugin, "{refusal}");
            return Err(CapabilityError::NotGranted(refusal));
        }
        if !lava_rules::session::is_valid_session_name(&request.session_name) {
            return Err(CapabilityError::InvalidInput(format!(
                "role-session name `{}` is not 2 to 64 characters of [\\w+=,.@-]",
                printable(request.session_name.as_bytes())
            )));
        }
        tracing::debug!(plugin = %self.plugin, role = %request.role_arn, session = %request.session_name, "STS AssumeRole");
        self.in_host(|state| state.backend.assume_role(request))
    }
}

impl worker_credentials::Host for CallState {
    fn get(&mut self) -> Result<AwsCredentials, CapabilityError> {
        if !self.grants.worker_credentials {
            let refusal = "the worker's own credentials are not granted to this connector type; \
                           list its type in the worker configuration's `worker_credentials` to allow it"
                .to_string();
            tracing::warn!(plugin = %self.plugin, "{refusal}");
            return Err(CapabilityError::NotGranted(refusal));
        }
        tracing::info!(plugin = %self.plugin, "handing the worker's own credentials to a job (granted)");
        self.in_host(|state| state.backend.worker_credentials())
    }
}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) {
        if self.log_lines_left == 0 {
            return;
        }
        self.log_lines_left -= 1;
        let mut message = printable(message.as_bytes());
        if message.len() > MAX_LOG_MESSAGE {
            let cut = (0..=MAX_LOG_MESSAGE).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
            message.truncate(cut);
            message.push('…');
        }
        let plugin = &*self.plugin;
        match level {
            log::Level::Trace => tracing::trace!(target: "lava_conn::plugin", plugin, "{message}"),
            log::Level::Debug => tracing::debug!(target: "lava_conn::plugin", plugin, "{message}"),
            log::Level::Info => tracing::info!(target: "lava_conn::plugin", plugin, "{message}"),
            log::Level::Warn => tracing::warn!(target: "lava_conn::plugin", plugin, "{message}"),
            log::Level::Error => tracing::error!(target: "lava_conn::plugin", plugin, "{message}"),
        }
    }
}

impl config::Host for CallState {
    fn get(&mut self, key: String) -> Option<String> {
        if key == "AWS_REGION" {
            return self.backend.region();
        }
        self.settings.get(&key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::Grants;

    #[test]
    fn ssm_grants_are_prefix_checks() {
        let grants = Grants { ssm_prefixes: vec!["/lava/prod/".into()], ..Grants::none() };
        assert!(grants.ssm_refusal("/lava/prod/keys").is_none());
        assert!(grants.ssm_refusal("/lava/prod2/keys").is_some());
        assert!(grants.ssm_refusal("/lava/prodkeys").is_some());
        assert!(grants.ssm_refusal("/lava/prod/../dev/keys").is_some());
        assert!(grants.ssm_refusal("/lava/prod//keys").is_some());
        assert!(grants.ssm_refusal(&format!("/lava/prod/{}", "x".repeat(3000))).is_some());
        let refusal = Grants::none().ssm_refusal("/lava/prod/keys").unwrap();
        assert!(refusal.contains("no SSM access"), "{refusal}");
    }
}
