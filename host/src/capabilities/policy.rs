//! The worker's policy per connector type (`[policy.<type>]`), and the
//! grants of a `resolve` call: that policy intersected with what the plugin
//! declared (Zed's `capability_granter.rs` does the same for extensions).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::grants::{Capability, Grants, PolicySource, Scope};
use crate::sanitizer::sanitize;

/// What a worker allows plugins serving one connector type to call during
/// `resolve`, and how far: the `[policy.<type>]` table of its configuration.
/// Every list is empty by default: a type gets nothing it is not given.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TypePolicy {
    /// SSM parameter name prefixes (`{realm}` is the job's realm).
    pub ssm: Vec<String>,
    /// Secrets Manager secret name or ARN prefixes.
    pub secrets: Vec<String>,
    /// Role ARN patterns for STS `AssumeRole` (and a call's `as-role`).
    pub roles: Vec<String>,
    /// Redshift cluster identifier patterns.
    pub redshift_clusters: Vec<String>,
    /// Redshift Serverless workgroup name patterns.
    pub redshift_workgroups: Vec<String>,
    /// Database host patterns for RDS IAM tokens.
    pub rds_hosts: Vec<String>,
    /// Whether the type may have the worker's own credentials.
    pub worker_credentials: bool,
    /// Database host patterns a login may name (the server the job's client
    /// connects to, with the password); any host when empty, as in lava.
    pub db_hosts: Vec<String>,
}

impl TypePolicy {
    /// Each scoped capability with its list.
    fn lists(&self) -> [(Capability, &Vec<String>); 6] {
        [
            (Capability::Ssm, &self.ssm),
            (Capability::SecretsManager, &self.secrets),
            (Capability::Sts, &self.roles),
            (Capability::Redshift, &self.redshift_clusters),
            (Capability::RedshiftServerless, &self.redshift_workgroups),
            (Capability::RdsToken, &self.rds_hosts),
        ]
    }

    /// The policy's scope for each capability it grants.
    pub fn scopes(&self) -> BTreeMap<Capability, Scope> {
        let lists = self.lists();
        let mut scopes: BTreeMap<Capability, Scope> =
            lists.into_iter().filter(|(_, list)| !list.is_empty()).map(|(c, list)| (c, Scope::allowed(list))).collect();
        if self.worker_credentials {
            scopes.insert(Capability::WorkerCredentials, Scope::Any);
        }
        scopes
    }

    /// The first entry that cannot be one, as `key: why`.
    pub fn problem(&self) -> Option<String> {
        // `db_hosts` are host patterns, as RDS token hosts are.
        let db_hosts = (Capability::RdsToken, &self.db_hosts);
        self.lists().into_iter().chain([db_hosts]).find_map(|(capability, list)| {
            list.iter().find_map(|entry| {
                let key = if std::ptr::eq(list, &self.db_hosts) { "db_hosts" } else { capability.policy_key() };
                capability.scope_entry_problem(entry).map(|why| format!("{key}: `{}` {why}", sanitize(entry)))
            })
        })
    }

    /// The hosts a login may name: `None` for any (no `db_hosts`).
    pub fn login_hosts(&self) -> Option<Scope> {
        (!self.db_hosts.is_empty()).then(|| Scope::allowed(&self.db_hosts))
    }
}

/// What a plugin declared it needs: its scope per capability, or `Legacy`
/// for a plugin of a contract before 0.3.0, which declares nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Declared {
    /// Contract 0.1.0 or 0.2.0: held to the worker's policy alone.
    Legacy,
    /// Contract 0.3.0 or later: these capabilities, this far.
    Needs(BTreeMap<Capability, Scope>),
}

impl Declared {
    /// What the plugin declares it may need of `capability`, if anything.
    pub fn scope(&self, capability: Capability) -> Option<&Scope> {
        match self {
            Declared::Legacy => None,
            Declared::Needs(needs) => needs.get(&capability),
        }
    }
}

/// The worker's side of a call's grants, before the realm is known: the
/// policy's scopes and where they come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowed {
    /// The allowed scope per capability.
    pub scopes: BTreeMap<Capability, Scope>,
    /// Where they come from.
    pub source: PolicySource,
    /// The database hosts a login may name (`db_hosts`); any when `None`.
    pub login_hosts: Option<Scope>,
}

impl Allowed {
    /// The grants of a call for a job in `realm`: these scopes, narrowed to
    /// the plugin's `declared` needs, both with `{realm}` filled in.
    pub fn grants(&self, declared: &Declared, realm: &str, endpoints: Vec<String>) -> Grants {
        let for_realm = |scopes: &BTreeMap<Capability, Scope>| {
            scopes.iter().map(|(c, s)| (*c, s.for_realm(realm))).collect::<BTreeMap<_, _>>()
        };
        Grants {
            allowed: for_realm(&self.scopes),
            declared: match declared {
                Declared::Legacy => None,
                Declared::Needs(needs) => Some(for_realm(needs)),
            },
            endpoints,
            policy: self.source.clone(),
            login_hosts: self.login_hosts.clone(),
        }
    }

    /// The capabilities `declared` asks for that this policy grants none
    /// of: what `lava-conn plugins` lists as missing.
    pub fn missing(&self, declared: &Declared) -> Vec<Capability> {
        match declared {
            Declared::Legacy => Vec::new(),
            Declared::Needs(needs) => needs
                .keys()
                .copied()
                .filter(|c| match self.scopes.get(c) {
                    None => true,
                    Some(Scope::Only(entries)) => entries.is_empty(),
                    Some(Scope::Any) => false,
                })
                .collect(),
        }
    }
}
