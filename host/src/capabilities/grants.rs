//! What a call may do: the grants, deny by default, and the checks that
//! refuse a request before anything is sent anywhere.

use super::{AssumeRoleRequest, CapabilityError};
use crate::text::sanitize;

/// Longest SSM parameter name AWS accepts.
const MAX_SSM_NAME: usize = 2_048;

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
    pub(super) fn ssm_refusal(&self, name: &str) -> Option<String> {
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
    pub(super) fn sts_refusal(&self, request: &AssumeRoleRequest) -> Option<CapabilityError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::AwsCredentials;

    fn request(role_arn: &str) -> AssumeRoleRequest {
        AssumeRoleRequest {
            role_arn: role_arn.into(),
            session_name: "s1".into(),
            duration_seconds: 900,
            ..AssumeRoleRequest::default()
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
        let refused = |change: &dyn Fn(&mut AssumeRoleRequest)| {
            let mut r = request("arn:aws:iam::123456789012:role/r");
            r.source_identity = Some("alice@example.com".into());
            r.region = Some("eu-west-1".into());
            r.endpoint_url = Some("https://sts.allowed.example".into());
            change(&mut r);
            grants.sts_refusal(&r)
        };
        let source = |region: Option<&str>| AwsCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: "s".into(),
            session_token: None,
            expiration: None,
            region: region.map(str::to_string),
            endpoint_url: Some("https://evil.example".into()),
        };
        assert_eq!(refused(&|_| {}), None, "all valid");
        let invalid = |e: Option<CapabilityError>, what: &str| matches!(e, Some(CapabilityError::InvalidInput(m)) if m.contains(what));
        let not_granted = |e: Option<CapabilityError>| matches!(e, Some(CapabilityError::NotGranted(m)) if m.contains("allowed_endpoints"));
        assert!(invalid(refused(&|r| r.source_identity = Some("a b".into())), "source identity"));
        assert!(invalid(refused(&|r| r.region = Some("eu west 1".into())), "not an AWS region name"));
        assert!(
            invalid(refused(&|r| r.source = Some(source(Some("nowhere")))), "not an AWS region name"),
            "the source's region too"
        );
        assert!(not_granted(refused(&|r| r.source = Some(source(None)))), "the source's endpoint too");
        assert!(not_granted(refused(&|r| r.endpoint_url = Some("https://evil.example".into()))));
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
