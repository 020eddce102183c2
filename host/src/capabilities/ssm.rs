//! `ssm`: parameter reads under the call's granted prefixes.

use super::{Capabilities, CapabilityError, Outcome};

impl Capabilities {
    /// Read an SSM parameter, if the call's grants cover its name.
    pub fn get_parameter(&mut self, name: &str, with_decryption: bool) -> Outcome<String> {
        self.capability("ssm.get-parameter", name, |caps| {
            if let Some(refusal) = caps.grants.ssm_refusal(name) {
                return Err(CapabilityError::NotGranted(refusal));
            }
            caps.backend.get_parameter(name, with_decryption)
        })
    }
}
