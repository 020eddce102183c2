//! `rds`: IAM authentication tokens, presigned by the host for the granted
//! database hosts; the signing keys never reach the plugin.

use super::grants::{Capability, region_refusal};
use super::redshift::{as_role_target, name_refusal};
use super::{AssumeRoleRequest, AuthTokenRequest, Capabilities, CapabilityError, Outcome};
use crate::text::sanitize;

impl Capabilities {
    /// An RDS IAM token for `request`, if the call's grants cover its host
    /// (and the role of `as_role`, which is assumed first to sign with).
    pub async fn generate_auth_token(
        &mut self,
        mut request: AuthTokenRequest,
        as_role: Option<AssumeRoleRequest>,
    ) -> Outcome<String> {
        let host = request.host.to_ascii_lowercase();
        let refusal = self
            .grants
            .refusal(Capability::RdsToken, &host, &format!("RDS token for host `{}`", sanitize(&host)))
            .or_else(|| {
                name_refusal(
                    "database host",
                    &host,
                    253,
                    |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'),
                    "letters, digits, `.`, `-` and `_`",
                )
            })
            .or_else(|| {
                // Any user name a database takes, but one line of printable text.
                name_refusal("database user", &request.user, 128, |c| !c.is_control(), "printable characters")
            })
            .or_else(|| {
                (request.port == 0).then(|| CapabilityError::InvalidInput("database port 0 is not a port".into()))
            })
            .or_else(|| region_refusal([request.region.as_deref()]));
        let target = as_role_target(&format!("{host}:{} user {}", request.port, request.user), as_role.as_ref());
        if let Some(refusal) = refusal {
            return self.capability("rds.generate-auth-token", &target, async { Err(refusal) }).await;
        }
        if let Some(role) = as_role {
            match self.assume_role(role).await? {
                Ok(credentials) => request.source = Some(credentials),
                Err(e) => return Ok(Err(e)),
            }
        }
        request.host = host;
        let backend = self.backend.clone();
        self.capability("rds.generate-auth-token", &target, async move { backend.generate_auth_token(request).await })
            .await
    }
}
