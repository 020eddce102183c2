//! `worker-credentials`: the worker's own credentials, for listed types only.

use super::{Capabilities, CapabilityError, Outcome};
use crate::types::AwsCredentials;

impl Capabilities {
    /// The worker's own credentials, if the call's grants include them.
    pub async fn worker_credentials(&mut self) -> Outcome<AwsCredentials> {
        let granted = self.grants.worker_credentials;
        let backend = self.backend.clone();
        self.capability("worker-credentials.get", "", async move {
            if !granted {
                return Err(CapabilityError::NotGranted(
                    "the worker's own credentials are not granted to this connector type; \
                     list its type in the worker configuration's `worker_credentials` to allow it"
                        .into(),
                ));
            }
            backend.worker_credentials().await
        })
        .await
    }
}
