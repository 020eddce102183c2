//! What a call may do: the grants, deny by default, and the checks that
//! refuse a request before anything is sent anywhere.

use std::collections::BTreeMap;

use super::{AssumeRoleRequest, CapabilityError};
use crate::sanitizer::sanitize;

/// The placeholder for the job's realm in scopes and `ssm_prefixes`.
pub const REALM_PLACEHOLDER: &str = "{realm}";

/// Longest SSM parameter name AWS accepts.
const MAX_SSM_NAME: usize = 2_048;
/// Longest secret id (a name of 512, or its ARN) Secrets Manager accepts.
const MAX_SECRET_ID: usize = 2_048;

/// A host capability a plugin may call during `resolve`: what a 0.3.0
/// plugin declares (`descriptor.needs`) and a worker's policy allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// SSM `GetParameter`; scoped by name prefixes.
    Ssm,
    /// Secrets Manager `GetSecretValue`; scoped by name or ARN prefixes.
    SecretsManager,
    /// STS `AssumeRole` (also a call's `as-role`); scoped by role ARN patterns.
    Sts,
    /// Redshift `GetClusterCredentials`; scoped by cluster identifier patterns.
    Redshift,
    /// Redshift Serverless `GetCredentials`; scoped by workgroup name patterns.
    RedshiftServerless,
    /// RDS IAM authentication tokens; scoped by database host patterns.
    RdsToken,
    /// The worker's own credentials; no scope.
    WorkerCredentials,
}

/// How a capability's scope is compared with a call's target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Matching {
    /// Byte-for-byte prefixes, and no empty, `.` or `..` segment in the target.
    Prefix,
    /// Glob patterns (`*`, `?`, `[…]`); host names compared in lower case.
    Pattern { lower_case: bool },
    /// Nothing to compare: granted or not.
    Unscoped,
}

impl Capability {
    /// Every capability, in the contract's order.
    pub const ALL: [Capability; 7] = [
        Capability::Ssm,
        Capability::SecretsManager,
        Capability::Sts,
        Capability::Redshift,
        Capability::RedshiftServerless,
        Capability::RdsToken,
        Capability::WorkerCredentials,
    ];

    /// The capability as the contract names it (`secrets-manager`).
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Ssm => "ssm",
            Capability::SecretsManager => "secrets-manager",
            Capability::Sts => "sts",
            Capability::Redshift => "redshift",
            Capability::RedshiftServerless => "redshift-serverless",
            Capability::RdsToken => "rds-token",
            Capability::WorkerCredentials => "worker-credentials",
        }
    }

    /// Its key in a `[policy.<type>]` table of the worker configuration.
    pub fn policy_key(self) -> &'static str {
        match self {
            Capability::Ssm => "ssm",
            Capability::SecretsManager => "secrets",
            Capability::Sts => "roles",
            Capability::Redshift => "redshift_clusters",
            Capability::RedshiftServerless => "redshift_workgroups",
            Capability::RdsToken => "rds_hosts",
            Capability::WorkerCredentials => "worker_credentials",
        }
    }

    /// What a scope entry of it is, in words.
    pub fn scope_words(self) -> &'static str {
        match self {
            Capability::Ssm => "parameter name prefixes",
            Capability::SecretsManager => "secret name or ARN prefixes",
            Capability::Sts => "role ARN patterns",
            Capability::Redshift => "cluster identifier patterns",
            Capability::RedshiftServerless => "workgroup name patterns",
            Capability::RdsToken => "database host patterns",
            Capability::WorkerCredentials => "no scope",
        }
    }

    fn matching(self) -> Matching {
        match self {
            Capability::Ssm | Capability::SecretsManager => Matching::Prefix,
            Capability::RdsToken => Matching::Pattern { lower_case: true },
            Capability::WorkerCredentials => Matching::Unscoped,
            _ => Matching::Pattern { lower_case: false },
        }
    }

    /// Whether `entry` can be a scope entry of this capability: a pattern
    /// must parse; a prefix must not be empty.
    pub fn scope_entry_problem(self, entry: &str) -> Option<String> {
        match self.matching() {
            Matching::Prefix if entry.is_empty() => Some("an empty prefix would match everything; use `*`".into()),
            Matching::Pattern { .. } => glob::Pattern::new(entry).err().map(|e| format!("not a glob pattern: {e}")),
            Matching::Unscoped if !entry.is_empty() => Some("takes no scope".into()),
            _ => None,
        }
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Capability {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| format!("`{}` is not a capability", sanitize(text)))
    }
}

/// How far a capability reaches: any target, or the targets one of the
/// entries covers (none, when it has none). `*` alone is `Any`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every target.
    Any,
    /// Targets these entries cover (prefixes or patterns, by capability).
    Only(Vec<String>),
}

impl Scope {
    /// The scope `entries` give: `Any` for none at all (a declaration that
    /// defers to the worker's policy) or for `*`.
    pub fn declared(entries: Vec<String>) -> Self {
        if entries.is_empty() || entries.iter().any(|e| e == "*") { Scope::Any } else { Scope::Only(entries) }
    }

    /// The scope a policy list gives: nothing for none, `Any` for `*`.
    pub fn allowed(entries: &[String]) -> Self {
        if entries.iter().any(|e| e == "*") { Scope::Any } else { Scope::Only(entries.to_vec()) }
    }

    /// The scope with `{realm}` replaced by `realm`. An entry naming the
    /// realm covers nothing when the realm could widen it: a realm is
    /// letters, digits, `-`, `_` and `.` (not `.` or `..` alone), so it can
    /// neither leave a prefix's folder nor add a wildcard to a pattern.
    pub fn for_realm(&self, realm: &str) -> Self {
        match self {
            Scope::Any => Scope::Any,
            Scope::Only(entries) => {
                let plain = !realm.is_empty()
                    && realm != "."
                    && realm != ".."
                    && realm.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                Scope::Only(
                    entries
                        .iter()
                        .filter(|e| plain || !e.contains(REALM_PLACEHOLDER))
                        .map(|e| e.replace(REALM_PLACEHOLDER, realm))
                        .collect(),
                )
            }
        }
    }

    /// Whether `target` of `capability` is within the scope.
    /// Whether a login may name `host`: `db_hosts` patterns match as RDS
    /// token hosts do (globs, any case).
    pub(crate) fn covers_host(&self, host: &str) -> bool {
        self.covers(Capability::RdsToken, &host.to_ascii_lowercase())
    }

    fn covers(&self, capability: Capability, target: &str) -> bool {
        let entries = match self {
            Scope::Any => return true,
            Scope::Only(entries) => entries,
        };
        match capability.matching() {
            Matching::Prefix => entries.iter().any(|p| !p.is_empty() && target.starts_with(p.as_str())),
            Matching::Pattern { lower_case } => {
                let options = glob::MatchOptions { case_sensitive: !lower_case, ..glob::MatchOptions::new() };
                entries.iter().any(|p| glob::Pattern::new(p).is_ok_and(|p| p.matches_with(target, options)))
            }
            Matching::Unscoped => !entries.is_empty(),
        }
    }

    /// The scope in a message: `any` or the entries, quoted.
    fn words(&self) -> String {
        match self {
            Scope::Any => "any".into(),
            Scope::Only(entries) if entries.is_empty() => "none".into(),
            Scope::Only(entries) => entries.iter().map(|e| format!("`{}`", sanitize(e))).collect::<Vec<_>>().join(", "),
        }
    }
}

/// Where a call's allowed scopes come from, for the refusal that names the
/// setting to change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PolicySource {
    /// The worker's `[policy.<type>]` table for this connector type.
    Table(String),
    /// The worker's global settings (`ssm_prefixes`, `allowed_roles`,
    /// `worker_credentials`): the built-in connectors and plugins of
    /// contracts before 0.3.0, for a type without a table.
    Global(String),
    /// Nothing: a plugin of contract 0.3.0 from the folder whose type has
    /// no table.
    Nothing(String),
    /// No call in progress: describe, validate and session-name.
    #[default]
    NoCall,
}

impl PolicySource {
    /// The setting that allows `capability` for this call's type.
    pub fn setting(&self, capability: Capability) -> String {
        let table = |t: &str| format!("`{}` under `[policy.{}]`", capability.policy_key(), sanitize(t));
        match (self, capability) {
            (PolicySource::Global(_), Capability::Ssm) => "`ssm_prefixes`".into(),
            (PolicySource::Global(_), Capability::Sts) => "`allowed_roles`".into(),
            (PolicySource::Global(_), Capability::WorkerCredentials) => "`worker_credentials`".into(),
            (PolicySource::Table(t) | PolicySource::Global(t) | PolicySource::Nothing(t), _) => table(t),
            (PolicySource::NoCall, _) => "nothing (no capability is granted outside `resolve`)".into(),
        }
    }
}

/// What a plugin may do during one call. Deny by default: [`Grants::none`].
///
/// A target is granted when the worker's policy covers it (`allowed`) and,
/// for a plugin of contract 0.3.0 or later, its own declaration does too
/// (`declared`): the intersection, as Zed's capability granter does it.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// What the worker's policy allows, per capability; absent is nothing.
    pub allowed: BTreeMap<Capability, Scope>,
    /// What the plugin declared, per capability; `None` for a plugin of a
    /// contract before 0.3.0, which declares nothing and keeps the powers
    /// it had: `allowed` alone.
    pub declared: Option<BTreeMap<Capability, Scope>>,
    /// Endpoint URLs a plugin may name (STS `source` credentials, resolved
    /// credentials); anything else is refused.
    pub endpoints: Vec<String>,
    /// Where `allowed` comes from, for refusals.
    pub policy: PolicySource,
    /// The database hosts a login may name (`db_hosts`); any when `None`.
    pub login_hosts: Option<Scope>,
}

impl Grants {
    /// No AWS access at all (describe, validate, session-name).
    pub fn none() -> Self {
        Self::default()
    }

    /// Why `capability` on `target` is refused, or `None` when the worker's
    /// policy and the plugin's declaration both cover it. `what` names the
    /// call in the message (`SSM read of `/x``).
    pub(super) fn refusal(&self, capability: Capability, target: &str, what: &str) -> Option<CapabilityError> {
        if self.policy == PolicySource::NoCall {
            return Some(CapabilityError::NotGranted(format!(
                "{what} refused: no capability is granted outside `resolve` (not in describe, validate or session-name)"
            )));
        }
        if let Some(declared) = &self.declared {
            match declared.get(&capability) {
                None => {
                    return Some(CapabilityError::NotGranted(format!(
                        "{what} refused: the plugin does not declare capability `{capability}` in its \
                         `describe` (`needs`); a plugin gets only what it declares"
                    )));
                }
                Some(scope) if !scope.covers(capability, target) => {
                    return Some(CapabilityError::NotGranted(format!(
                        "{what} refused: outside the scope the plugin declares for `{capability}` ({})",
                        scope.words()
                    )));
                }
                Some(_) => {}
            }
        }
        let allowed = self.allowed.get(&capability).cloned().unwrap_or(Scope::Only(Vec::new()));
        if allowed.covers(capability, target) {
            return None;
        }
        let setting = self.policy.setting(capability);
        Some(CapabilityError::NotGranted(match allowed {
            Scope::Only(entries) if entries.is_empty() => format!(
                "{what} refused: the worker's policy grants no `{capability}` to this connector type; \
                 allow it with {setting} ({}) in the worker configuration",
                capability.scope_words()
            ),
            scope => format!(
                "{what} refused: the worker's policy for this connector type allows only {} ({setting})",
                scope.words()
            ),
        }))
    }

    /// Why an SSM read of `name` is refused, or `None` when it is granted.
    pub(super) fn ssm_refusal(&self, name: &str) -> Option<CapabilityError> {
        if name.len() > MAX_SSM_NAME {
            return Some(CapabilityError::InvalidInput(format!(
                "an SSM name of {} bytes is longer than AWS allows",
                name.len()
            )));
        }
        let what = format!("SSM read of `{}`", sanitize(name));
        odd_segment_refusal(&what, name).or_else(|| self.refusal(Capability::Ssm, name, &what))
    }

    /// Why a Secrets Manager read of `secret_id` is refused, or `None`.
    pub(super) fn secret_refusal(&self, secret_id: &str) -> Option<CapabilityError> {
        if secret_id.is_empty() || secret_id.len() > MAX_SECRET_ID {
            return Some(CapabilityError::InvalidInput(format!(
                "a secret id of {} bytes is not 1 to {MAX_SECRET_ID}",
                secret_id.len()
            )));
        }
        let what = format!("Secrets Manager read of `{}`", sanitize(secret_id));
        odd_segment_refusal(&what, secret_id).or_else(|| self.refusal(Capability::SecretsManager, secret_id, &what))
    }

    /// Why an `AssumeRole` request is refused before it is sent, or `None`.
    pub(super) fn sts_refusal(&self, request: &AssumeRoleRequest) -> Option<CapabilityError> {
        let what = format!("STS AssumeRole of `{}`", sanitize(&request.role_arn));
        if let Some(refusal) = self.refusal(Capability::Sts, &request.role_arn, &what) {
            return Some(refusal);
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
        if let Some(refusal) = region_refusal(regions) {
            return Some(refusal);
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

/// A name with an empty, `.` or `..` segment after its first: never one a
/// connector needs, and one that could confuse a prefix check.
fn odd_segment_refusal(what: &str, name: &str) -> Option<CapabilityError> {
    let odd = name.split('/').skip(1).any(|s| s.is_empty() || s == "." || s == "..");
    odd.then(|| CapabilityError::NotGranted(format!("{what} refused: a name with an empty, `.` or `..` segment")))
}

/// The first of `regions` that is not of AWS's shape, as a refusal.
pub(super) fn region_refusal<'a>(regions: impl IntoIterator<Item = Option<&'a str>>) -> Option<CapabilityError> {
    let region = regions.into_iter().flatten().find(|r| !is_region(r))?;
    Some(CapabilityError::InvalidInput(format!(
        "region `{}` is not an AWS region name (such as `eu-west-1`)",
        sanitize(region)
    )))
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
    use crate::results::AwsCredentials;

    fn request(role_arn: &str) -> AssumeRoleRequest {
        AssumeRoleRequest {
            role_arn: role_arn.into(),
            session_name: "s1".into(),
            duration_seconds: 900,
            ..AssumeRoleRequest::default()
        }
    }

    /// Grants of a legacy plugin: the worker's `allowed` alone.
    fn allowing(scopes: &[(Capability, Scope)]) -> Grants {
        Grants { allowed: scopes.iter().cloned().collect(), policy: PolicySource::Table("t".into()), ..Grants::none() }
    }

    fn only(entries: &[&str]) -> Scope {
        Scope::Only(entries.iter().map(|e| e.to_string()).collect())
    }

    fn not_granted(refusal: Option<CapabilityError>) -> String {
        match refusal {
            Some(CapabilityError::NotGranted(m)) => m,
            other => panic!("not a NotGranted refusal: {other:?}"),
        }
    }

    #[test]
    fn ssm_grants_are_prefix_checks() {
        let grants = allowing(&[(Capability::Ssm, only(&["/lava/prod/"]))]);
        assert!(grants.ssm_refusal("/lava/prod/keys").is_none());
        assert!(grants.ssm_refusal("/lava/prod2/keys").is_some());
        assert!(grants.ssm_refusal("/lava/prodkeys").is_some());
        assert!(grants.ssm_refusal("/lava/prod/../dev/keys").is_some());
        assert!(grants.ssm_refusal("/lava/prod//keys").is_some());
        assert!(grants.ssm_refusal(&format!("/lava/prod/{}", "x".repeat(3000))).is_some());
        // AWS's limit, at its edge: 2048 bytes are a name, 2049 are not.
        assert!(grants.ssm_refusal(&format!("/lava/prod/{}", "x".repeat(2048 - 11))).is_none());
        assert!(grants.ssm_refusal(&format!("/lava/prod/{}", "x".repeat(2049 - 11))).is_some());
        let refusal = not_granted(Grants::none().ssm_refusal("/lava/prod/keys"));
        assert!(refusal.contains("outside `resolve`"), "{refusal}");
    }

    #[test]
    fn allowed_roles_narrow_which_arns_may_be_assumed() {
        let any = allowing(&[(Capability::Sts, Scope::Any)]);
        assert!(any.sts_refusal(&request("arn:aws:iam::123456789012:role/anything")).is_none());
        let narrow = Grants {
            policy: PolicySource::Global("aws".into()),
            ..allowing(&[(Capability::Sts, only(&["arn:aws:iam::123456789012:role/lava-*"]))])
        };
        assert!(narrow.sts_refusal(&request("arn:aws:iam::123456789012:role/lava-loader")).is_none());
        let refused = not_granted(narrow.sts_refusal(&request("arn:aws:iam::999999999999:role/lava-loader")));
        assert!(refused.contains("allowed_roles"), "{refused}");
    }

    #[test]
    fn a_declaring_plugin_gets_the_intersection_of_its_declaration_and_the_policy() {
        let declared =
            BTreeMap::from([(Capability::Ssm, only(&["/lava/prod/db/"])), (Capability::SecretsManager, Scope::Any)]);
        let grants = Grants {
            declared: Some(declared),
            ..allowing(&[(Capability::Ssm, only(&["/lava/prod/"])), (Capability::Sts, Scope::Any)])
        };
        assert!(grants.ssm_refusal("/lava/prod/db/password").is_none(), "both cover it");
        let outside = not_granted(grants.ssm_refusal("/lava/prod/other"));
        assert!(outside.contains("outside the scope the plugin declares for `ssm`"), "{outside}");
        let undeclared = not_granted(grants.sts_refusal(&request("arn:aws:iam::1:role/r")));
        assert!(undeclared.contains("does not declare capability `sts`"), "{undeclared}");
        let disallowed = not_granted(grants.secret_refusal("lava/prod/db"));
        assert!(
            disallowed.contains("grants no `secrets-manager`") && disallowed.contains("`secrets` under `[policy.t]`"),
            "{disallowed}"
        );
    }

    #[test]
    fn each_refusal_names_the_setting_that_would_allow_it() {
        let cases = [
            (PolicySource::Global("aws".into()), Capability::Ssm, "`ssm_prefixes`"),
            (PolicySource::Global("aws".into()), Capability::Sts, "`allowed_roles`"),
            (PolicySource::Global("airflow-aws".into()), Capability::WorkerCredentials, "`worker_credentials`"),
            (PolicySource::Global("aws".into()), Capability::Redshift, "`redshift_clusters` under `[policy.aws]`"),
            (PolicySource::Nothing("pg".into()), Capability::RdsToken, "`rds_hosts` under `[policy.pg]`"),
            (
                PolicySource::Table("pg".into()),
                Capability::RedshiftServerless,
                "`redshift_workgroups` under `[policy.pg]`",
            ),
        ];
        for (source, capability, setting) in cases {
            let grants = Grants { policy: source, ..Grants::none() };
            let refusal = not_granted(grants.refusal(capability, "x", "a call"));
            assert!(refusal.contains(setting), "{capability}: {refusal}");
        }
    }

    #[test]
    fn patterns_match_whole_targets_and_host_names_in_any_case() {
        let grants = allowing(&[
            (Capability::RdsToken, only(&["*.rds.amazonaws.com"])),
            (Capability::Redshift, only(&["etl-*"])),
        ]);
        assert!(grants.refusal(Capability::RdsToken, "db.x.eu-west-1.RDS.amazonaws.com", "t").is_none());
        assert!(grants.refusal(Capability::RdsToken, "db.rds.amazonaws.com.evil.example", "t").is_some());
        assert!(grants.refusal(Capability::Redshift, "etl-main", "t").is_none());
        assert!(grants.refusal(Capability::Redshift, "ETL-main", "t").is_some(), "cluster ids are case-sensitive");
        assert!(grants.refusal(Capability::Redshift, "prod-etl-main", "t").is_some());
    }

    #[test]
    fn a_realm_fills_in_scopes_only_when_it_cannot_widen_them() {
        let scope = only(&["/lava/{realm}/", "arn:aws:iam::*:role/{realm}-*", "/shared/"]);
        assert_eq!(scope.for_realm("prod"), only(&["/lava/prod/", "arn:aws:iam::*:role/prod-*", "/shared/"]));
        for realm in ["", ".", "..", "a/b", "*", "p?", "[p]", "p\n"] {
            assert_eq!(scope.for_realm(realm), only(&["/shared/"]), "{realm:?}");
        }
        assert_eq!(Scope::Any.for_realm("*"), Scope::Any);
    }

    #[test]
    fn source_identities_regions_and_endpoints_are_checked_before_the_request() {
        let grants = Grants {
            endpoints: vec!["https://sts.allowed.example".into()],
            ..allowing(&[(Capability::Sts, Scope::Any)])
        };
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
