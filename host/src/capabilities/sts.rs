//! `sts`: AssumeRole, for the roles, regions and endpoints the call may use.

use super::{AssumeRoleRequest, Capabilities, Outcome};
use crate::results::AwsCredentials;

impl Capabilities {
    /// Assume a role, if the call's grants allow the request as a whole.
    pub async fn assume_role(&mut self, request: AssumeRoleRequest) -> Outcome<AwsCredentials> {
        let target = match request.endpoint_url.as_deref() {
            Some(endpoint) => format!("{} via {endpoint}", request.role_arn),
            None => request.role_arn.clone(),
        };
        let refusal = self.grants.sts_refusal(&request);
        let backend = self.backend.clone();
        self.capability("sts.assume-role", &target, async move {
            match refusal {
                Some(refusal) => Err(refusal),
                None => backend.assume_role(request).await,
            }
        })
        .await
    }
}
