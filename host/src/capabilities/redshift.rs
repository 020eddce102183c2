//! `redshift`: temporary database credentials for provisioned clusters and
//! Serverless workgroups, for the granted clusters and workgroups, and
//! optionally as a role the call may assume.

use super::grants::{Capability, region_refusal};
use super::{
    AssumeRoleRequest, Capabilities, CapabilityError, ClusterCredentialsRequest, Outcome, ServerlessCredentialsRequest,
};
use crate::results::DatabaseCredentials;
use crate::sanitizer::sanitize;

/// The lifetimes Redshift accepts for a temporary password, in seconds.
const DURATIONS: std::ops::RangeInclusive<u32> = 900..=3600;

/// `text` as a name of 1 to `max` characters that `allowed` accepts, or the
/// refusal naming `what`.
pub(super) fn name_refusal(
    what: &str,
    text: &str,
    max: usize,
    allowed: fn(char) -> bool,
    words: &str,
) -> Option<CapabilityError> {
    let ok = !text.is_empty() && text.len() <= max && text.chars().all(allowed);
    (!ok).then(|| CapabilityError::InvalidInput(format!("{what} `{}` is not 1 to {max} {words}", sanitize(text))))
}

/// A database user or object name as Redshift takes it.
fn is_db_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-' | '+' | '.' | '@')
}

fn duration_refusal(seconds: u32) -> Option<CapabilityError> {
    (!DURATIONS.contains(&seconds)).then(|| {
        CapabilityError::InvalidInput(format!("duration {seconds} s is not 900 to 3600 seconds, as Redshift requires"))
    })
}

impl Capabilities {
    /// Redshift `GetClusterCredentials`, if the call's grants cover the
    /// cluster (and the role of `as_role`, which is assumed first).
    pub async fn get_cluster_credentials(
        &mut self,
        request: ClusterCredentialsRequest,
        as_role: Option<AssumeRoleRequest>,
    ) -> Outcome<DatabaseCredentials> {
        let cluster = request.cluster_identifier.clone();
        let refusal = self
            .grants
            .refusal(
                Capability::Redshift,
                &cluster,
                &format!("Redshift credentials for cluster `{}`", sanitize(&cluster)),
            )
            .or_else(|| {
                name_refusal(
                    "cluster identifier",
                    &cluster,
                    63,
                    |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
                    "lower-case letters, digits and `-`",
                )
            })
            .or_else(|| {
                name_refusal("database user", &request.db_user, 128, is_db_name_char, "letters, digits and `_$-+.@`")
            })
            .or_else(|| {
                let names = request.db_name.iter().chain(&request.db_groups);
                names
                    .into_iter()
                    .find_map(|n| name_refusal("database name", n, 64, is_db_name_char, "letters, digits and `_$-+.@`"))
            })
            .or_else(|| duration_refusal(request.duration_seconds))
            .or_else(|| region_refusal([request.region.as_deref()]));
        let backend = self.backend.clone();
        let call = |source| async move {
            backend.get_cluster_credentials(ClusterCredentialsRequest { source, ..request }).await
        };
        self.capability_as_role("redshift.get-cluster-credentials", &cluster, refusal, as_role, call).await
    }

    /// Redshift Serverless `GetCredentials`, if the call's grants cover the
    /// workgroup (and the role of `as_role`, which is assumed first, as
    /// lava's serverless getter does).
    pub async fn get_serverless_credentials(
        &mut self,
        request: ServerlessCredentialsRequest,
        as_role: Option<AssumeRoleRequest>,
    ) -> Outcome<DatabaseCredentials> {
        let workgroup = request.workgroup_name.clone();
        let refusal =
            self.grants
                .refusal(
                    Capability::RedshiftServerless,
                    &workgroup,
                    &format!("Redshift Serverless credentials for workgroup `{}`", sanitize(&workgroup)),
                )
                .or_else(|| {
                    name_refusal(
                        "workgroup name",
                        &workgroup,
                        64,
                        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
                        "lower-case letters, digits and `-`",
                    )
                })
                .or_else(|| {
                    request.db_name.as_deref().and_then(|n| {
                        name_refusal("database name", n, 64, is_db_name_char, "letters, digits and `_$-+.@`")
                    })
                })
                .or_else(|| duration_refusal(request.duration_seconds))
                .or_else(|| region_refusal([request.region.as_deref()]));
        let backend = self.backend.clone();
        let call = |source| async move {
            backend.get_serverless_credentials(ServerlessCredentialsRequest { source, ..request }).await
        };
        self.capability_as_role("redshift.get-serverless-credentials", &workgroup, refusal, as_role, call).await
    }
}
