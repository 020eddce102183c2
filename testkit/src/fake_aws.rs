//! The AWS a plugin under test reaches: fixed answers, every call recorded.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use lava_conn::{
    AssumeRoleRequest, AuthTokenRequest, AwsBackend, AwsCredentials, CapabilityError, ClusterCredentialsRequest,
    DatabaseCredentials, ServerlessCredentialsRequest,
};

/// An [`AwsBackend`] for an author's tests. It sees only calls that passed
/// the host's grant checks, so [`FakeAws::calls`] is what the worker's
/// policy let through; a call it has no answer for is `not found` (SSM,
/// Secrets Manager) or `access denied` (a role it was not given).
#[derive(Debug)]
pub struct FakeAws {
    region: String,
    parameters: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    roles: Vec<String>,
    calls: Mutex<Vec<String>>,
}

impl Default for FakeAws {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            parameters: BTreeMap::new(),
            secrets: BTreeMap::new(),
            roles: Vec::new(),
            calls: Mutex::new(Vec::new()),
        }
    }
}

impl FakeAws {
    /// An SSM parameter (any type: the host always reads with decryption).
    pub fn parameter(mut self, name: &str, value: &str) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }

    /// A Secrets Manager secret's string value.
    pub fn secret(mut self, secret_id: &str, value: &str) -> Self {
        self.secrets.insert(secret_id.into(), value.into());
        self
    }

    /// A role that `AssumeRole` grants (with made-up credentials).
    pub fn role(mut self, role_arn: &str) -> Self {
        self.roles.push(role_arn.into());
        self
    }

    /// The worker's region (default `us-east-1`).
    pub fn region(mut self, region: &str) -> Self {
        self.region = region.into();
        self
    }

    /// Every call that reached AWS, in order: `ssm:<name>`,
    /// `secretsmanager:<id>`, `sts:<role>` (`sts:<role> via <endpoint>` when
    /// the call names an endpoint),
    /// `worker-credentials`, `redshift:<cluster>/<user>`,
    /// `redshift-serverless:<workgroup>`, `rds:<user>@<host>:<port>`.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, call: String) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
    }

    fn credentials(&self, key: &str, seconds: u32, region: Option<String>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: key.into(),
            secret_access_key: "fake-secret-access-key".into(),
            session_token: Some("fake-session-token".into()),
            expiration: Some(SystemTime::now() + Duration::from_secs(seconds.into())),
            region: Some(region.unwrap_or_else(|| self.region.clone())),
            endpoint_url: None,
        }
    }
}

fn database(user: String, seconds: u32) -> DatabaseCredentials {
    DatabaseCredentials {
        user,
        password: "fake-database-password".into(),
        expiration: Some(SystemTime::now() + Duration::from_secs(seconds.into())),
    }
}

#[lava_conn::async_trait]
impl AwsBackend for FakeAws {
    fn region(&self) -> Option<String> {
        Some(self.region.clone())
    }

    async fn get_parameter(&self, name: &str, _with_decryption: bool) -> Result<String, CapabilityError> {
        self.record(format!("ssm:{name}"));
        let value = self.parameters.get(name);
        value.cloned().ok_or_else(|| CapabilityError::NotFound(format!("SSM parameter `{name}` does not exist")))
    }

    async fn assume_role(&self, request: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        self.record(match request.endpoint_url.as_deref() {
            Some(endpoint) => format!("sts:{} via {endpoint}", request.role_arn),
            None => format!("sts:{}", request.role_arn),
        });
        if !self.roles.contains(&request.role_arn) {
            return Err(CapabilityError::AccessDenied(format!("the fake AWS has no role `{}`", request.role_arn)));
        }
        Ok(self.credentials("ASIAFAKEASSUMEDROLE", request.duration_seconds, request.region))
    }

    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        self.record("worker-credentials".into());
        Ok(self.credentials("ASIAFAKEWORKER", 3600, None))
    }

    async fn get_secret_value(&self, secret_id: &str) -> Result<String, CapabilityError> {
        self.record(format!("secretsmanager:{secret_id}"));
        let value = self.secrets.get(secret_id);
        value.cloned().ok_or_else(|| CapabilityError::NotFound(format!("secret `{secret_id}` does not exist")))
    }

    async fn get_cluster_credentials(
        &self,
        request: ClusterCredentialsRequest,
    ) -> Result<DatabaseCredentials, CapabilityError> {
        self.record(format!("redshift:{}/{}", request.cluster_identifier, request.db_user));
        Ok(database(format!("IAM:{}", request.db_user), request.duration_seconds))
    }

    async fn get_serverless_credentials(
        &self,
        request: ServerlessCredentialsRequest,
    ) -> Result<DatabaseCredentials, CapabilityError> {
        self.record(format!("redshift-serverless:{}", request.workgroup_name));
        Ok(database("IAMR:fake".into(), request.duration_seconds))
    }

    async fn generate_auth_token(&self, request: AuthTokenRequest) -> Result<String, CapabilityError> {
        self.record(format!("rds:{}@{}:{}", request.user, request.host, request.port));
        // The shape of a real token: the host tells an IAM token by `X-Amz-Credential=`.
        let region = request.region.as_deref().unwrap_or(&self.region);
        Ok(format!(
            "{}:{}/?Action=connect&DBUser={}&X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=ASIAFAKE%2F20261207%2F{region}%2Frds-db%2Faws4_request&X-Amz-Expires=900\
             &X-Amz-Signature=fake",
            request.host, request.port, request.user
        ))
    }
}
