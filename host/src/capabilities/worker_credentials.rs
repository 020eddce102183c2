//! `worker-credentials`: the worker's own credentials, for listed types only.

use super::grants::Capability;
use super::{Capabilities, Outcome};
use crate::results::AwsCredentials;

impl Capabilities {
    /// The worker's own credentials, if the call's grants include them.
    pub async fn worker_credentials(&mut self) -> Outcome<AwsCredentials> {
        let refusal = self.grants.refusal(Capability::WorkerCredentials, "", "the worker's own credentials");
        let backend = self.backend.clone();
        self.capability("worker-credentials.get", "", async move {
            if let Some(refusal) = refusal {
                return Err(refusal);
            }
            backend.worker_credentials().await
        })
        .await
    }
}
