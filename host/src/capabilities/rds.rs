//! `rds`: IAM authentication tokens, presigned by the host for the granted
//! database hosts; the signing keys never reach the plugin.

use super::grants::{Capability, region_refusal};
use super::redshift::name_refusal;
use super::{AssumeRoleRequest, AuthTokenRequest, Capabilities, CapabilityError, Outcome};
use crate::sanitizer::sanitize;

/// How long an RDS IAM authentication token works (AWS's fixed 15 minutes).
const RDS_TOKEN_LIFE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl Capabilities {
    /// An RDS IAM token for `request`, if the call's grants cover its host
    /// (and the role of `as_role`, which is assumed first to sign with).
    pub async fn generate_auth_token(
        &mut self,
        request: AuthTokenRequest,
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
        let target = format!("{host}:{} user {}", request.port, request.user);
        let backend = self.backend.clone();
        let call =
            |source| async move { backend.generate_auth_token(AuthTokenRequest { host, source, ..request }).await };
        let outcome = self.capability_as_role("rds.generate-auth-token", &target, refusal, as_role, call).await;
        if let Ok(Ok(_)) = &outcome {
            self.issued_until(std::time::SystemTime::now() + RDS_TOKEN_LIFE);
        }
        outcome
    }
}
