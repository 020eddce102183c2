//! The host capabilities a plugin may import, each checked against the grants
//! of the call in progress before anything is sent anywhere, counted against
//! the call's budget, and written to the audit trail.

use std::time::Instant;

use crate::bindings::latest::lava::connector::types::{AwsCredentials, CapabilityError};
use crate::bindings::latest::lava::connector::{config, log, ssm, sts, types, worker_credentials};
use crate::runtime::CallState;
use crate::text::sanitize;

/// Longest SSM parameter name AWS accepts.
const MAX_SSM_NAME: usize = 2_048;

/// Longest log message kept; the rest is cut.
const MAX_LOG_MESSAGE: usize = 2_048;

/// The tracing target of the audit trail: one event per AWS capability call.
pub const AUDIT_TARGET: &str = "lava_conn::audit";

/// What a plugin may do during one call. Deny by default: [`Grants::none`].
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// SSM names a plugin may read must start with one of these.
    pub ssm_prefixes: Vec<String>,
    /// Whether the plugin may call STS `AssumeRole`.
    pub sts: bool,
    /// Role ARNs the plugin may assume, as glob patterns (`*`, `?`, `[…]`);
    /// empty means any role (lava's behaviour).
    pub sts_roles: Vec<String>,
    /// Endpoint URLs a plugin may name (STS `source` credentials, resolved
    /// credentials); anything else is refused.
    pub endpoints: Vec<String>,
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
            format!("SSM read of `{}` refused: no SSM access is granted for this call", sanitize(name))
        } else {
            format!(
                "SSM read of `{}` refused: only names under {} are granted for this call",
                sanitize(name),
                self.ssm_prefixes.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// Why an `AssumeRole` request is refused before it is sent, or `None`.
    fn sts_refusal(&self, request: &sts::AssumeRoleRequest) -> Option<CapabilityError> {
        if !self.sts {
            return Some(CapabilityError::NotGranted(
                "STS AssumeRole refused: no STS access is granted for this call".into(),
            ));
        }
        let role_allowed = self.sts_roles.is_empty()
            || self.sts_roles.iter().any(|p| glob::Pattern::new(p).is_ok_and(|p| p.matches(&request.role_arn)));
        if !role_allowed {
            return Some(CapabilityError::NotGranted(format!(
                "STS AssumeRole of `{}` refused: the worker configuration's `allowed_roles` does not match it",
                sanitize(&request.role_arn)
            )));
        }
        if !lava_rules::session::is_valid_session_name(&request.session_name) {
            return Some(CapabilityError::InvalidInput(format!(
                "role-session name `{}` is not 2 to 64 characters of [\\w+=,.@-]",
                sanitize(&request.session_name)
            )));
        }
        if let Some(identity) =
            request.source_identity.as_deref().filter(|i| !lava_rules::session::is_valid_session_name(i))
        {
            return Some(CapabilityError::InvalidInput(format!(
                "source identity `{}` is not 2 to 64 characters of [\\w+=,.@-]",
                sanitize(identity)
            )));
        }
        let regions = [request.region.as_deref(), request.source.as_ref().and_then(|s| s.region.as_deref())];
        if let Some(region) = regions.into_iter().flatten().find(|r| !is_region(r)) {
            return Some(CapabilityError::InvalidInput(format!(
                "region `{}` is not an AWS region name (such as `eu-west-1`)",
                sanitize(region)
            )));
        }
        // The source credentials' endpoint is not used for the call, but a
        // plugin naming one it may not use is refused all the same.
        let endpoints =
            [request.endpoint_url.as_deref(), request.source.as_ref().and_then(|s| s.endpoint_url.as_deref())];
        endpoints.into_iter().flatten().find_map(|e| self.endpoint_refusal(e)).map(CapabilityError::NotGranted)
    }

    /// Why a plugin-named endpoint URL may not be used, or `None` when the
    /// worker configuration allows it.
    pub(crate) fn endpoint_refusal(&self, url: &str) -> Option<String> {
        let wanted = normalise_endpoint(url);
        if self.endpoints.iter().any(|allowed| normalise_endpoint(allowed) == wanted) {
            return None;
        }
        Some(format!(
            "endpoint `{}` is not allowed: plugins may only name endpoints listed in the worker \
             configuration's `allowed_endpoints` (or the worker's own AWS_ENDPOINT_URL)",
            sanitize(url)
        ))
    }
}

/// An endpoint URL in the form used to compare it: scheme and host are case
/// insensitive, a trailing `/` means nothing.
fn normalise_endpoint(url: &str) -> String {
    url.trim_end_matches('/').to_ascii_lowercase()
}

/// Whether `region` has the shape of an AWS region name: a partition prefix
/// of 2–4 letters, one or more words, and a number (`eu-west-1`,
/// `us-gov-west-1`, `us-isob-east-1`, `eusc-de-east-1`).
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    region.len() <= 32
        && (2..=4).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle.iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&last.len())
        && last.bytes().all(|b| b.is_ascii_digit())
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

/// Who is calling, for the audit trail. Never holds a value, key or token.
#[derive(Clone, Debug, Default)]
pub(crate) struct Audit {
    /// SHA-256 of the plugin's component.
    pub sha256: std::sync::Arc<str>,
    pub connector_type: String,
    pub realm: String,
    pub job: String,
    pub conn_id: String,
}

/// The outcome of a capability call, as the audit trail words it.
fn outcome<T>(result: &Result<T, CapabilityError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(CapabilityError::NotGranted(_)) => "not-granted",
        Err(CapabilityError::NotFound(_)) => "not-found",
        Err(CapabilityError::AccessDenied(_)) => "access-denied",
        Err(CapabilityError::Throttled(_)) => "throttled",
        Err(CapabilityError::InvalidInput(_)) => "invalid-input",
        Err(CapabilityError::RegionDisabled(_)) => "region-disabled",
        Err(CapabilityError::ExpiredToken(_)) => "expired-token",
        Err(CapabilityError::Unavailable(_)) => "unavailable",
        Err(CapabilityError::Other(_)) => "other",
    }
}

impl CallState {
    /// One AWS capability call: counted against the call's budget and its
    /// wall-clock limit (either ends the whole plugin call), run with its time
    /// kept off the plugin's own deadline, and recorded in the audit trail.
    fn capability<R>(
        &mut self,
        capability: &'static str,
        target: &str,
        call: impl FnOnce(&Self) -> Result<R, CapabilityError>,
    ) -> wasmtime::Result<Result<R, CapabilityError>> {
        self.spend_capability_call()?;
        let started = Instant::now();
        let result = self.in_host(call);
        let a = &self.audit;
        tracing::info!(
            target: AUDIT_TARGET,
            plugin = %self.plugin,
            sha256 = %a.sha256,
            connector_type = %a.connector_type,
            realm = %a.realm,
            job = %a.job,
            conn_id = %a.conn_id,
            capability,
            target = %sanitize(target),
            outcome = outcome(&result),
            duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        );
        if let Err(CapabilityError::NotGranted(refusal)) = &result {
            tracing::warn!(plugin = %self.plugin, "{refusal}");
        }
        Ok(result)
    }
}

/// A plugin's log message as one bounded line: sanitised (which also cuts
/// it to 1024 characters), then cut to 2 KiB on a character boundary.
fn log_line(message: &str) -> String {
    let mut line = sanitize(message);
    if line.len() > MAX_LOG_MESSAGE {
        let cut = (0..=MAX_LOG_MESSAGE).rev().find(|&i| line.is_char_boundary(i)).unwrap_or(0);
        line.truncate(cut);
        line.push('…');
    }
    line
}

impl types::Host for CallState {}

impl ssm::Host for CallState {
    fn get_parameter(
        &mut self,
        name: String,
        with_decryption: bool,
    ) -> wasmtime::Result<Result<String, CapabilityError>> {
        self.capability("ssm.get-parameter", &name, |state| {
            if let Some(refusal) = state.grants.ssm_refusal(&name) {
                return Err(CapabilityError::NotGranted(refusal));
            }
            state.backend.get_parameter(&name, with_decryption)
        })
    }
}

impl sts::Host for CallState {
    fn assume_role(
        &mut self,
        request: sts::AssumeRoleRequest,
    ) -> wasmtime::Result<Result<AwsCredentials, CapabilityError>> {
        let target = match request.endpoint_url.as_deref() {
            Some(endpoint) => format!("{} via {endpoint}", request.role_arn),
            None => request.role_arn.clone(),
        };
        self.capability("sts.assume-role", &target, |state| {
            if let Some(refusal) = state.grants.sts_refusal(&request) {
                return Err(refusal);
            }
            state.backend.assume_role(request)
        })
    }
}

impl worker_credentials::Host for CallState {
    fn get(&mut self) -> wasmtime::Result<Result<AwsCredentials, CapabilityError>> {
        self.capability("worker-credentials.get", "", |state| {
            if !state.grants.worker_credentials {
                return Err(CapabilityError::NotGranted(
                    "the worker's own credentials are not granted to this connector type; \
                     list its type in the worker configuration's `worker_credentials` to allow it"
                        .into(),
                ));
            }
            state.backend.worker_credentials()
        })
    }
}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        if self.log_lines_left == 0 {
            return Ok(());
        }
        self.log_lines_left -= 1;
        let message = log_line(&message);
        let plugin = &*self.plugin;
        match level {
            log::Level::Trace => tracing::trace!(target: "lava_conn::plugin", plugin, "{message}"),
            log::Level::Debug => tracing::debug!(target: "lava_conn::plugin", plugin, "{message}"),
            log::Level::Info => tracing::info!(target: "lava_conn::plugin", plugin, "{message}"),
            log::Level::Warn => tracing::warn!(target: "lava_conn::plugin", plugin, "{message}"),
            log::Level::Error => tracing::error!(target: "lava_conn::plugin", plugin, "{message}"),
        }
        Ok(())
    }
}

impl config::Host for CallState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        if key == "AWS_REGION" {
            return Ok(self.backend.region());
        }
        Ok(self.settings.get(&key).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(role_arn: &str) -> sts::AssumeRoleRequest {
        sts::AssumeRoleRequest {
            role_arn: role_arn.into(),
            session_name: "s1".into(),
            duration_seconds: 900,
            external_id: None,
            policy_arns: vec![],
            policy: None,
            tags: vec![],
            transitive_tag_keys: vec![],
            source_identity: None,
            region: None,
            endpoint_url: None,
            source: None,
        }
    }

    #[test]
    fn ssm_grants_are_prefix_checks() {
        let grants = Grants { ssm_prefixes: vec!["/lava/prod/".into()], ..Grants::none() };
        assert!(grants.ssm_refusal("/lava/prod/keys").is_none());
        assert!(grants.ssm_refusal("/lava/prod2/keys").is_some());
        assert!(grants.ssm_refusal("/lava/prodkeys").is_some());
        assert!(grants.ssm_refusal("/lava/prod/../dev/keys").is_some());
        assert!(grants.ssm_refusal("/lava/prod//keys").is_some());
        assert!(grants.ssm_refusal(&format!("/lava/prod/{}", "x".repeat(3000))).is_some());
        // AWS's limit, at its edge: 2048 bytes are a name, 2049 are not.
        assert!(grants.ssm_refusal(&format!("/lava/prod/{}", "x".repeat(2048 - 11))).is_none());
        assert!(grants.ssm_refusal(&format!("/lava/prod/{}", "x".repeat(2049 - 11))).is_some());
        let refusal = Grants::none().ssm_refusal("/lava/prod/keys").unwrap();
        assert!(refusal.contains("no SSM access"), "{refusal}");
    }

    #[test]
    fn allowed_roles_narrow_which_arns_may_be_assumed() {
        let any = Grants { sts: true, ..Grants::none() };
        assert!(any.sts_refusal(&request("arn:aws:iam::123456789012:role/anything")).is_none());
        let narrow = Grants { sts: true, sts_roles: vec!["arn:aws:iam::123456789012:role/lava-*".into()], ..any };
        assert!(narrow.sts_refusal(&request("arn:aws:iam::123456789012:role/lava-loader")).is_none());
        let refused = narrow.sts_refusal(&request("arn:aws:iam::999999999999:role/lava-loader"));
        assert!(matches!(&refused, Some(CapabilityError::NotGranted(m)) if m.contains("allowed_roles")), "{refused:?}");
    }

    #[test]
    fn source_identities_regions_and_endpoints_are_checked_before_the_request() {
        let grants = Grants { sts: true, endpoints: vec!["https://sts.allowed.example".into()], ..Grants::none() };
        let refused = |r: &sts::AssumeRoleRequest| grants.sts_refusal(r).map(|e| format!("{e:?}"));
        let mut r = request("arn:aws:iam::123456789012:role/r");
        r.source_identity = Some("alice@example.com".into());
        r.region = Some("eu-west-1".into());
        r.endpoint_url = Some("https://sts.allowed.example".into());
        assert_eq!(refused(&r), None, "all valid");
        let mut bad = r.clone();
        bad.source_identity = Some("a b".into());
        assert!(refused(&bad).unwrap().contains("source identity"));
        let mut bad = r.clone();
        bad.region = Some("eu west 1".into());
        assert!(refused(&bad).unwrap().contains("not an AWS region name"));
        let mut bad = r.clone();
        bad.source = Some(AwsCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: "s".into(),
            session_token: None,
            expiration: None,
            region: Some("nowhere".into()),
            endpoint_url: Some("https://evil.example".into()),
        });
        assert!(refused(&bad).unwrap().contains("not an AWS region name"), "the source's region too");
        bad.source.as_mut().unwrap().region = None;
        assert!(refused(&bad).unwrap().contains("allowed_endpoints"), "the source's endpoint too");
        let mut bad = r.clone();
        bad.endpoint_url = Some("https://evil.example".into());
        assert!(refused(&bad).unwrap().contains("allowed_endpoints"));
    }

    #[test]
    fn log_lines_are_sanitised_and_bounded_in_bytes() {
        assert_eq!(log_line("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(log_line(&"x".repeat(2048)).chars().count(), 1025, "sanitize's 1024 characters and `…`");
        let wide = log_line(&"😀".repeat(1000));
        assert!(wide.len() <= 2048 + '…'.len_utf8(), "{} bytes", wide.len());
        assert!(wide.ends_with('…') && wide.len() > 2040, "cut near 2 KiB, not before: {}", wide.len());
        let exact = "é".repeat(1024);
        assert_eq!(log_line(&exact), exact, "2048 bytes exactly are kept whole");
    }

    #[test]
    fn outcomes_are_named_for_the_audit_trail() {
        let outcomes: Vec<&str> = [
            Ok(()),
            Err(CapabilityError::NotGranted(String::new())),
            Err(CapabilityError::NotFound(String::new())),
            Err(CapabilityError::AccessDenied(String::new())),
            Err(CapabilityError::Throttled(String::new())),
            Err(CapabilityError::InvalidInput(String::new())),
            Err(CapabilityError::RegionDisabled(String::new())),
            Err(CapabilityError::ExpiredToken(String::new())),
            Err(CapabilityError::Unavailable(String::new())),
            Err(CapabilityError::Other(String::new())),
        ]
        .iter()
        .map(outcome)
        .collect();
        assert_eq!(
            outcomes,
            [
                "ok",
                "not-granted",
                "not-found",
                "access-denied",
                "throttled",
                "invalid-input",
                "region-disabled",
                "expired-token",
                "unavailable",
                "other"
            ]
        );
    }

    #[test]
    fn a_host_without_aws_refuses_every_call() {
        assert_eq!(NoAws.region(), None);
        assert!(matches!(NoAws.get_parameter("/x", true), Err(CapabilityError::Unavailable(_))));
        assert!(matches!(
            NoAws.assume_role(request("arn:aws:iam::123456789012:role/r")),
            Err(CapabilityError::Unavailable(_))
        ));
        assert!(matches!(NoAws.worker_credentials(), Err(CapabilityError::Unavailable(_))));
    }

    #[test]
    fn endpoints_must_be_listed() {
        let grants = Grants { endpoints: vec!["http://127.0.0.1:5000/".into()], ..Grants::none() };
        assert!(grants.endpoint_refusal("http://127.0.0.1:5000").is_none());
        assert!(grants.endpoint_refusal("HTTP://127.0.0.1:5000/").is_none());
        let refusal = grants.endpoint_refusal("http://127.0.0.1:5001").unwrap();
        assert!(refusal.contains("allowed_endpoints"), "{refusal}");
        assert!(Grants::none().endpoint_refusal("https://sts.amazonaws.com").is_some());
    }

    #[test]
    fn region_names_have_aws_shape() {
        for good in ["us-east-1", "eu-west-1", "us-gov-west-1", "us-isob-east-1", "ap-southeast-4", "eusc-de-east-1"] {
            assert!(is_region(good), "{good}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us-east-1\n",
            "us-east-1 ",
            "us--1",
            "-us-east-1",
            "us-east-123",
            "us-east-1\ncredential_process = sh",
            "localhost",
            "us-east-1.evil.com",
        ] {
            assert!(!is_region(bad), "{bad:?}");
        }
    }
}
