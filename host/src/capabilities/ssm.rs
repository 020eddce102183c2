//! `ssm`: parameter reads under the call's granted prefixes.

use super::{Capabilities, Outcome};

impl Capabilities {
    /// Read an SSM parameter, if the call's grants cover its name.
    pub async fn get_parameter(&mut self, name: &str, with_decryption: bool) -> Outcome<String> {
        let refusal = self.grants.ssm_refusal(name);
        let backend = self.backend.clone();
        self.capability("ssm.get-parameter", name, async move {
            match refusal {
                Some(refusal) => Err(refusal),
                None => backend.get_parameter(name, with_decryption).await,
            }
        })
        .await
    }
}
