//! `secrets-manager`: a secret's string value, for the granted prefixes.

use super::{Capabilities, CapabilityError, Outcome};

/// Largest secret value handed to a plugin: AWS's own limit on a secret.
pub const MAX_SECRET_BYTES: usize = 65_536;

impl Capabilities {
    /// Read a secret's current string value, if the call's grants cover its id.
    pub async fn get_secret_value(&mut self, secret_id: &str) -> Outcome<String> {
        let refusal = self.grants.secret_refusal(secret_id);
        let backend = self.backend.clone();
        self.capability("secrets-manager.get-secret-value", secret_id, async move {
            if let Some(refusal) = refusal {
                return Err(refusal);
            }
            let value = backend.get_secret_value(secret_id).await?;
            // Any backend, and any endpoint it reached, is held to AWS's bound.
            if value.len() > MAX_SECRET_BYTES {
                return Err(CapabilityError::InvalidInput(format!(
                    "secret `{}` holds {} bytes, more than the {MAX_SECRET_BYTES} a secret can",
                    crate::sanitizer::sanitize(secret_id),
                    value.len()
                )));
            }
            Ok(value)
        })
        .await
    }
}
