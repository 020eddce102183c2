//! Where capability calls that pass the grant checks go, in the host's own
//! types: embedders implement [`AwsBackend`] without touching the contract's
//! generated code, and a contract change never breaks them.

use crate::results::{AwsCredentials, DatabaseCredentials};

/// Why a capability call was refused or failed. The text is shown to users
/// and plugins; it never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    /// The call's grants do not allow it.
    #[error("not granted: {0}")]
    NotGranted(String),
    /// The parameter, role or credentials do not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// AWS refused the call.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// AWS throttled the call.
    #[error("throttled: {0}")]
    Throttled(String),
    /// AWS (or the host, before sending) refused the input.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// STS is not activated in the region.
    #[error("region disabled: {0}")]
    RegionDisabled(String),
    /// The worker's own credentials have expired.
    #[error("expired token: {0}")]
    ExpiredToken(String),
    /// AWS could not be reached in time.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl CapabilityError {
    /// The kind in one word, as the audit trail names outcomes.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotGranted(_) => "not-granted",
            Self::NotFound(_) => "not-found",
            Self::AccessDenied(_) => "access-denied",
            Self::Throttled(_) => "throttled",
            Self::InvalidInput(_) => "invalid-input",
            Self::RegionDisabled(_) => "region-disabled",
            Self::ExpiredToken(_) => "expired-token",
            Self::Unavailable(_) => "unavailable",
            Self::Other(_) => "other",
        }
    }
}

/// An STS `AssumeRole` call that passed the grant checks.
#[derive(Clone, Debug, Default)]
pub struct AssumeRoleRequest {
    /// The role to assume.
    pub role_arn: String,
    /// The role-session name (checked: 2–64 of `[\w+=,.@-]`).
    pub session_name: String,
    /// The session's lifetime.
    pub duration_seconds: u32,
    /// The external id the role's trust policy asks for.
    pub external_id: Option<String>,
    /// Managed policies that narrow the session.
    pub policy_arns: Vec<String>,
    /// An inline session policy (JSON).
    pub policy: Option<String>,
    /// Session tags (key, value), in order.
    pub tags: Vec<(String, String)>,
    /// Keys of `tags` that pass on to later sessions in a role chain.
    pub transitive_tag_keys: Vec<String>,
    /// The session's source identity (checked like a session name).
    pub source_identity: Option<String>,
    /// The STS region (checked: AWS's shape); the worker's when absent.
    pub region: Option<String>,
    /// An STS endpoint to call instead of the region's (checked: allowed).
    pub endpoint_url: Option<String>,
    /// Credentials to call with instead of the worker's.
    pub source: Option<AwsCredentials>,
}

/// A Redshift `GetClusterCredentials` call that passed the grant checks.
#[derive(Clone, Debug, Default)]
pub struct ClusterCredentialsRequest {
    /// The provisioned cluster (checked: AWS's identifier shape).
    pub cluster_identifier: String,
    /// The database user.
    pub db_user: String,
    /// The database the user may log in to; any when `None`.
    pub db_name: Option<String>,
    /// How long the password works (checked: 900 to 3600 seconds).
    pub duration_seconds: u32,
    /// Create the user if it does not exist.
    pub auto_create: bool,
    /// Groups the user joins for the session.
    pub db_groups: Vec<String>,
    /// The cluster's region (checked: AWS's shape); the worker's when `None`.
    pub region: Option<String>,
    /// Credentials to call with instead of the worker's (the call's `as-role`).
    pub source: Option<AwsCredentials>,
}

/// A Redshift Serverless `GetCredentials` call that passed the grant checks.
#[derive(Clone, Debug, Default)]
pub struct ServerlessCredentialsRequest {
    /// The workgroup (checked: AWS's name shape).
    pub workgroup_name: String,
    /// The database; the workgroup's default when `None`.
    pub db_name: Option<String>,
    /// How long the password works (checked: 900 to 3600 seconds).
    pub duration_seconds: u32,
    /// The workgroup's region (checked: AWS's shape); the worker's when `None`.
    pub region: Option<String>,
    /// Credentials to call with instead of the worker's (the call's `as-role`).
    pub source: Option<AwsCredentials>,
}

/// An RDS IAM authentication token to presign, checked against the grants.
#[derive(Clone, Debug, Default)]
pub struct AuthTokenRequest {
    /// The database host (checked: a host name).
    pub host: String,
    /// The database port.
    pub port: u16,
    /// The database user.
    pub user: String,
    /// The database's region (checked: AWS's shape); the worker's when `None`.
    pub region: Option<String>,
    /// Credentials to sign with instead of the worker's (the call's `as-role`).
    pub source: Option<AwsCredentials>,
}

/// The refusal of a capability a backend does not implement.
fn not_implemented(what: &str) -> CapabilityError {
    CapabilityError::Unavailable(format!("this host's AWS backend does not implement {what}"))
}

/// Where capability calls that pass the grant checks go: the real AWS SDK in
/// production ([`crate::SdkBackend`]), anything else in an embedder's tests.
///
/// The calls are async and awaited on the caller's task, inside the plugin
/// call: implement them with [`async_trait`](crate::async_trait) and never
/// block in them (a blocked call holds a runtime thread and an instance slot).
#[async_trait::async_trait]
pub trait AwsBackend: Send + Sync {
    /// The worker's AWS region, when known; plugins use it when a spec names none.
    fn region(&self) -> Option<String>;
    /// Read an SSM parameter.
    async fn get_parameter(&self, name: &str, with_decryption: bool) -> Result<String, CapabilityError>;
    /// Call STS `AssumeRole`.
    async fn assume_role(&self, request: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError>;
    /// The worker's own current credentials, with its region.
    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError>;
    /// A secret's current string value (Secrets Manager `GetSecretValue`).
    /// Implemented by default as unavailable, so that a backend written
    /// before contract 0.3.0 keeps compiling; likewise the three below.
    async fn get_secret_value(&self, secret_id: &str) -> Result<String, CapabilityError> {
        let _ = secret_id;
        Err(not_implemented("Secrets Manager"))
    }
    /// Redshift `GetClusterCredentials`.
    async fn get_cluster_credentials(
        &self,
        request: ClusterCredentialsRequest,
    ) -> Result<DatabaseCredentials, CapabilityError> {
        let _ = request;
        Err(not_implemented("Redshift"))
    }
    /// Redshift Serverless `GetCredentials`.
    async fn get_serverless_credentials(
        &self,
        request: ServerlessCredentialsRequest,
    ) -> Result<DatabaseCredentials, CapabilityError> {
        let _ = request;
        Err(not_implemented("Redshift Serverless"))
    }
    /// An RDS IAM authentication token, presigned without a request.
    async fn generate_auth_token(&self, request: AuthTokenRequest) -> Result<String, CapabilityError> {
        let _ = request;
        Err(not_implemented("RDS IAM tokens"))
    }
}

/// A backend for hosts that never resolve: every call is unavailable.
#[derive(Debug, Default)]
pub struct NoAws;

#[async_trait::async_trait]
impl AwsBackend for NoAws {
    fn region(&self) -> Option<String> {
        None
    }
    async fn get_parameter(&self, _: &str, _: bool) -> Result<String, CapabilityError> {
        Err(CapabilityError::Unavailable("this host has no AWS backend".into()))
    }
    async fn assume_role(&self, _: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        Err(CapabilityError::Unavailable("this host has no AWS backend".into()))
    }
    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        Err(CapabilityError::Unavailable("this host has no AWS backend".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_host_without_aws_refuses_every_call() {
        assert_eq!(NoAws.region(), None);
        assert!(matches!(NoAws.get_parameter("/x", true).await, Err(CapabilityError::Unavailable(_))));
        assert!(matches!(NoAws.assume_role(AssumeRoleRequest::default()).await, Err(CapabilityError::Unavailable(_))));
        assert!(matches!(NoAws.worker_credentials().await, Err(CapabilityError::Unavailable(_))));
        assert!(matches!(NoAws.get_secret_value("s").await, Err(CapabilityError::Unavailable(_))));
        let cluster = NoAws.get_cluster_credentials(ClusterCredentialsRequest::default()).await;
        assert!(matches!(cluster, Err(CapabilityError::Unavailable(_))));
        let serverless = NoAws.get_serverless_credentials(ServerlessCredentialsRequest::default()).await;
        assert!(matches!(serverless, Err(CapabilityError::Unavailable(_))));
        assert!(matches!(
            NoAws.generate_auth_token(AuthTokenRequest::default()).await,
            Err(CapabilityError::Unavailable(_))
        ));
    }

    #[test]
    fn outcomes_are_named_for_the_audit_trail() {
        let kinds: Vec<&str> = [
            CapabilityError::NotGranted(String::new()),
            CapabilityError::NotFound(String::new()),
            CapabilityError::AccessDenied(String::new()),
            CapabilityError::Throttled(String::new()),
            CapabilityError::InvalidInput(String::new()),
            CapabilityError::RegionDisabled(String::new()),
            CapabilityError::ExpiredToken(String::new()),
            CapabilityError::Unavailable(String::new()),
            CapabilityError::Other(String::new()),
        ]
        .iter()
        .map(CapabilityError::kind)
        .collect();
        assert_eq!(
            kinds,
            [
                "not-granted",
                "not-found",
                "access-denied",
                "throttled",
                "invalid-input",
                "region-disabled",
                "expired-token",
                "unavailable",
                "other"
            ]
        );
    }
}
