//! `worker-credentials`: the worker's own credentials, for listed types only.

use super::{Capabilities, CapabilityError, Outcome};
use crate::types::AwsCredentials;

impl Capabilities {
    /// The worker's own credentials, if the call's grants include them.
    pub fn worker_credentials(&mut self) -> Outcome<AwsCredentials> {
        self.capability("worker-credentials.get", "", |caps| {
            if !caps.grants.worker_credentials {
                return Err(CapabilityError::NotGranted(
                    "the worker's own credentials are not granted to this connector type; \
                     list its type in the worker configuration's `worker_credentials` to allow it"
                        .into(),
                ));
            }
            caps.backend.worker_credentials()
        })
    }
}
