//! `config`: the worker settings shared with connectors.

use super::Capabilities;

impl Capabilities {
    /// A shared worker setting; `AWS_REGION` is the worker's own region.
    pub fn setting(&self, key: &str) -> Option<String> {
        if key == "AWS_REGION" {
            return self.backend.region();
        }
        self.settings.get(key).cloned()
    }
}
