//! What both aws connectors share: credentials, the AssumeRole request and
//! the host capabilities they use. (lava's AWS CLI stand-in is host code:
//! `lava_conn::job`.)

/// Credentials as the connector hands them out.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// Seconds since the Unix epoch.
    pub expiration: Option<u64>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("expiration", &self.expiration)
            .field("region", &self.region)
            .finish()
    }
}

/// An `AssumeRole` call as the connector asks the host for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: u32,
    pub external_id: Option<String>,
    pub policy_arns: Vec<String>,
    pub policy: Option<String>,
    pub tags: Vec<(String, String)>,
    /// Keys of `tags` that pass on to later sessions in a role chain.
    pub transitive_tag_keys: Vec<String>,
    /// The session's source identity.
    pub source_identity: Option<String>,
    pub region: Option<String>,
    /// The STS endpoint to call instead of the region's.
    pub endpoint_url: Option<String>,
}

/// A failed capability call, already worded for the user.
pub type CapabilityFailure = String;

/// The host powers the resolve flow uses; the component glue maps them to WIT imports.
pub trait Capabilities {
    /// Read and decrypt an SSM parameter.
    fn get_parameter(&self, name: &str) -> Result<String, CapabilityFailure>;
    /// Assume a role, with `source` credentials instead of the worker's when given.
    fn assume_role(&self, request: &AssumeRole, source: Option<&Credentials>)
    -> Result<Credentials, CapabilityFailure>;
    /// The worker's own credentials (a privilege the host may refuse).
    fn worker_credentials(&self) -> Result<Credentials, CapabilityFailure>;
}

#[cfg(test)]
mod tests {
    use super::Credentials;

    #[test]
    fn debug_shows_the_key_id_and_hides_the_secret_and_token() {
        let c = Credentials {
            access_key_id: "AKIDSHOWN".into(),
            secret_access_key: "s3cr3t-value".into(),
            session_token: Some("t0k3n-value".into()),
            expiration: Some(1),
            region: Some("eu-west-1".into()),
            endpoint_url: None,
        };
        let debug = format!("{c:?}");
        assert!(debug.contains("AKIDSHOWN") && debug.contains("eu-west-1"), "{debug}");
        assert!(!debug.contains("s3cr3t-value") && !debug.contains("t0k3n-value"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }
}
