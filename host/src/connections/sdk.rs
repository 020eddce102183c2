//! The production [`AwsBackend`]: the AWS SDK for Rust, with the worker's own
//! credentials and region from `aws-config`'s default chain.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::Credentials;
use aws_sdk_sts::error::ProvideErrorMetadata;
use aws_sdk_sts::error::SdkError;
use secrecy::ExposeSecret;

use crate::capabilities::{
    AssumeRoleRequest, AuthTokenRequest, AwsBackend, CapabilityError, ClusterCredentialsRequest, MAX_SECRET_BYTES,
    ServerlessCredentialsRequest,
};
use crate::error::error_text;
use crate::results::{AwsCredentials, DatabaseCredentials};

/// Attempts per AWS call (standard retry mode).
const MAX_ATTEMPTS: u32 = 3;
/// Time to open a connection to an AWS endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time for one attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for a whole call, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(12);
/// STS clients kept, one per region. AWS has about 35 regions; region names
/// come from plugins (checked for AWS's shape by the host), so the map is
/// bounded whatever they send: past the bound a client is built per call.
const MAX_STS_CLIENTS: usize = 64;

/// The SDK settings lava-conn uses: the default chain (environment, profile,
/// web identity, ECS, instance metadata; `AWS_ENDPOINT_URL[_<SERVICE>]`
/// honoured), standard retries with bounded attempts, and timeouts.
pub async fn load_sdk_config() -> SdkConfig {
    configure(aws_config::defaults(BehaviorVersion::latest())).load().await
}

/// Apply lava-conn's retry and timeout policy to a config loader.
pub fn configure(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    loader.retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build(),
    )
}

/// SSM and STS through the AWS SDK. Clients are built once and shared; STS
/// clients are kept per region.
pub struct SdkBackend {
    config: SdkConfig,
    ssm: aws_sdk_ssm::Client,
    sts_by_region: RwLock<HashMap<String, aws_sdk_sts::Client>>,
}

impl std::fmt::Debug for SdkBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkBackend").field("region", &self.config.region()).finish_non_exhaustive()
    }
}

impl SdkBackend {
    /// A backend over `config`. Its calls are awaited on the task of the
    /// plugin call that makes them.
    pub fn new(config: SdkConfig) -> Arc<Self> {
        Arc::new(Self { ssm: aws_sdk_ssm::Client::new(&config), sts_by_region: RwLock::new(HashMap::new()), config })
    }

    /// A backend from the environment ([`load_sdk_config`]).
    pub async fn from_env() -> Arc<Self> {
        Self::new(load_sdk_config().await)
    }

    /// The SDK settings, for other clients (for example a DynamoDB connection store).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The SDK settings of one call: the worker's, in `region` and with
    /// `source` credentials when given. Secrets Manager, Redshift and RDS
    /// calls build their client from it per call (a resolve's result is
    /// cached, and these calls are one per resolve); STS keeps its clients.
    fn call_config(&self, region: Option<&str>, source: Option<&AwsCredentials>) -> SdkConfig {
        let mut builder = self.config.to_builder();
        if let Some(region) = region {
            builder.set_region(Some(Region::new(region.to_string())));
        }
        if let Some(source) = source {
            builder.set_credentials_provider(Some(aws_credential_types::provider::SharedCredentialsProvider::new(
                static_credentials(source),
            )));
        }
        builder.build()
    }

    fn sts_client(&self, region: Option<&str>) -> aws_sdk_sts::Client {
        let region = region.map(str::to_string).or_else(|| self.region()).unwrap_or_default();
        if let Some(client) = self.sts_by_region.read().unwrap_or_else(|e| e.into_inner()).get(&region) {
            return client.clone();
        }
        let mut conf = aws_sdk_sts::config::Builder::from(&self.config);
        if !region.is_empty() {
            conf = conf.region(Region::new(region.clone()));
        }
        let client = aws_sdk_sts::Client::from_conf(conf.build());
        let mut clients = self.sts_by_region.write().unwrap_or_else(|e| e.into_inner());
        if clients.len() < MAX_STS_CLIENTS {
            clients.insert(region, client.clone());
        }
        client
    }
}

#[async_trait::async_trait]
impl AwsBackend for SdkBackend {
    fn region(&self) -> Option<String> {
        self.config.region().map(|r| r.to_string())
    }

    async fn get_parameter(&self, name: &str, with_decryption: bool) -> Result<String, CapabilityError> {
        let request = self.ssm.get_parameter().name(name).with_decryption(with_decryption).send();
        let output = request.await.map_err(capability_error)?;
        output
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| CapabilityError::NotFound(format!("SSM parameter `{name}` has no value")))
    }

    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        use aws_credential_types::provider::ProvideCredentials;
        let provider = self
            .config
            .credentials_provider()
            .ok_or_else(|| CapabilityError::NotFound("the worker has no AWS credentials provider".into()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| CapabilityError::Unavailable(format!("the worker's credentials: {}", error_text(&e))))?;
        Ok(AwsCredentials {
            access_key_id: credentials.access_key_id().to_string(),
            secret_access_key: credentials.secret_access_key().into(),
            session_token: credentials.session_token().map(Into::into),
            expiration: credentials.expiry(),
            region: self.region(),
            endpoint_url: None,
        })
    }

    async fn get_secret_value(&self, secret_id: &str) -> Result<String, CapabilityError> {
        let client = aws_sdk_secretsmanager::Client::new(&self.call_config(None, None));
        let output = client.get_secret_value().secret_id(secret_id).send().await.map_err(capability_error)?;
        match (output.secret_string, output.secret_binary) {
            (Some(text), _) if text.len() <= MAX_SECRET_BYTES => Ok(text),
            (Some(text), _) => Err(CapabilityError::InvalidInput(format!(
                "secret `{secret_id}` holds {} bytes, more than the {MAX_SECRET_BYTES} a secret can",
                text.len()
            ))),
            (None, Some(_)) => Err(CapabilityError::InvalidInput(format!(
                "secret `{secret_id}` is binary; only string secrets are read"
            ))),
            (None, None) => Err(CapabilityError::NotFound(format!("secret `{secret_id}` has no value"))),
        }
    }

    async fn get_cluster_credentials(
        &self,
        request: ClusterCredentialsRequest,
    ) -> Result<DatabaseCredentials, CapabilityError> {
        let config = self.call_config(request.region.as_deref(), request.source.as_ref());
        let duration = i32::try_from(request.duration_seconds)
            .map_err(|_| CapabilityError::InvalidInput("duration is out of range".into()))?;
        let output = aws_sdk_redshift::Client::new(&config)
            .get_cluster_credentials()
            .cluster_identifier(&request.cluster_identifier)
            .db_user(&request.db_user)
            .set_db_name(request.db_name.clone())
            .duration_seconds(duration)
            .auto_create(request.auto_create)
            .set_db_groups((!request.db_groups.is_empty()).then(|| request.db_groups.clone()))
            .send()
            .await
            .map_err(capability_error)?;
        database_credentials(output.db_user, output.db_password, output.expiration, "Redshift")
    }

    async fn get_serverless_credentials(
        &self,
        request: ServerlessCredentialsRequest,
    ) -> Result<DatabaseCredentials, CapabilityError> {
        let config = self.call_config(request.region.as_deref(), request.source.as_ref());
        let duration = i32::try_from(request.duration_seconds)
            .map_err(|_| CapabilityError::InvalidInput("duration is out of range".into()))?;
        let output = aws_sdk_redshiftserverless::Client::new(&config)
            .get_credentials()
            .workgroup_name(&request.workgroup_name)
            .set_db_name(request.db_name.clone())
            .duration_seconds(duration)
            .send()
            .await
            .map_err(capability_error)?;
        database_credentials(output.db_user, output.db_password, output.expiration, "Redshift Serverless")
    }

    async fn generate_auth_token(&self, request: AuthTokenRequest) -> Result<String, CapabilityError> {
        use aws_credential_types::provider::ProvideCredentials;
        let config = self.call_config(request.region.as_deref(), request.source.as_ref());
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            CapabilityError::InvalidInput("no region for the RDS token: the request and the worker name none".into())
        })?;
        let provider = config
            .credentials_provider()
            .ok_or_else(|| CapabilityError::NotFound("the worker has no AWS credentials provider".into()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| CapabilityError::Unavailable(format!("the signing credentials: {}", error_text(&e))))?;
        super::rds_token::auth_token(
            credentials,
            &region,
            &request.host,
            request.port,
            &request.user,
            std::time::SystemTime::now(),
        )
    }

    async fn assume_role(&self, request: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        let client = match (&request.source, &request.endpoint_url) {
            (None, None) => self.sts_client(request.region.as_deref()),
            // Source keys (an Airflow login/password) or an STS endpoint of the
            // connection's (allowed by the host): a client of its own.
            (source, endpoint) => {
                let mut conf = aws_sdk_sts::config::Builder::from(&self.config);
                if let Some(source) = source {
                    conf = conf.credentials_provider(static_credentials(source));
                }
                let region = request.region.clone().or_else(|| source.as_ref().and_then(|s| s.region.clone()));
                if let Some(region) = region {
                    conf = conf.region(Region::new(region));
                }
                if let Some(endpoint) = endpoint {
                    conf = conf.endpoint_url(endpoint);
                }
                aws_sdk_sts::Client::from_conf(conf.build())
            }
        };
        let tags = request
            .tags
            .iter()
            .map(|(key, value)| aws_sdk_sts::types::Tag::builder().key(key).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CapabilityError::InvalidInput(format!("session tag: {e}")))?;
        let policy_arns = request
            .policy_arns
            .iter()
            .map(|arn| aws_sdk_sts::types::PolicyDescriptorType::builder().arn(arn).build())
            .collect::<Vec<_>>();
        let duration = i32::try_from(request.duration_seconds)
            .map_err(|_| CapabilityError::InvalidInput("duration is out of range".into()))?;
        let call = client
            .assume_role()
            .role_arn(&request.role_arn)
            .role_session_name(&request.session_name)
            .duration_seconds(duration)
            .set_external_id(request.external_id.clone())
            .set_policy(request.policy.clone())
            .set_policy_arns((!policy_arns.is_empty()).then_some(policy_arns))
            .set_tags((!tags.is_empty()).then_some(tags))
            .set_transitive_tag_keys(
                (!request.transitive_tag_keys.is_empty()).then(|| request.transitive_tag_keys.clone()),
            )
            .set_source_identity(request.source_identity.clone())
            .send();
        let output = call.await.map_err(capability_error)?;
        let credentials =
            output.credentials.ok_or_else(|| CapabilityError::Other("STS returned no credentials".into()))?;
        Ok(AwsCredentials {
            access_key_id: credentials.access_key_id,
            secret_access_key: credentials.secret_access_key.into(),
            session_token: Some(credentials.session_token.into()),
            expiration: std::time::SystemTime::try_from(credentials.expiration).ok(),
            region: request.region.or_else(|| client.config().region().map(|r| r.to_string())),
            endpoint_url: None,
        })
    }
}

/// Credentials a call is made with instead of the worker's.
fn static_credentials(source: &AwsCredentials) -> Credentials {
    Credentials::new(
        source.access_key_id.clone(),
        source.secret_access_key.expose_secret().to_string(),
        source.session_token.as_ref().map(|t| t.expose_secret().to_string()),
        None,
        "lava-conn-connection",
    )
}

/// Database credentials from an SDK answer.
fn database_credentials(
    user: Option<String>,
    password: Option<String>,
    expiration: Option<aws_sdk_redshift::primitives::DateTime>,
    service: &str,
) -> Result<DatabaseCredentials, CapabilityError> {
    match (user, password) {
        (Some(user), Some(password)) => Ok(DatabaseCredentials {
            user,
            password: password.into(),
            expiration: expiration.and_then(|t| std::time::SystemTime::try_from(t).ok()),
        }),
        _ => Err(CapabilityError::Other(format!("{service} returned no user or password"))),
    }
}

/// Word an SDK failure as a typed capability error. The plugin adds what was
/// being done; this says why it failed. AWS error messages name resources,
/// never secret values.
fn capability_error<E, R>(error: SdkError<E, R>) -> CapabilityError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let code = error.code().unwrap_or_default().to_string();
    let message = error.message().unwrap_or_default().to_string();
    let text = |default: &str| {
        let detail = if message.is_empty() { default.to_string() } else { message.clone() };
        if code.is_empty() { detail } else { format!("{code}: {detail}") }
    };
    match &error {
        SdkError::TimeoutError(_) => {
            return CapabilityError::Unavailable("no answer from AWS in time".into());
        }
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => {
            return CapabilityError::Unavailable(format!("cannot reach AWS: {}", error_text(&error)));
        }
        SdkError::DispatchFailure(_) => {
            return CapabilityError::Unavailable(format!("the request could not be sent: {}", error_text(&error)));
        }
        _ => {}
    }
    match code.as_str() {
        "ParameterNotFound"
        | "ParameterVersionNotFound"
        | "NoSuchEntity"
        | "ResourceNotFoundException"
        | "ClusterNotFound"
        | "ClusterNotFoundFault" => CapabilityError::NotFound(text("not found")),
        "AccessDenied"
        | "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "InvalidSignatureException"
        | "KMS.AccessDeniedException" => CapabilityError::AccessDenied(text("access denied")),
        "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "ThrottledException" => CapabilityError::Throttled(text("throttled")),
        "MalformedPolicyDocument"
        | "MalformedPolicyDocumentException"
        | "PackedPolicyTooLarge"
        | "PackedPolicyTooLargeException"
        | "ValidationError"
        | "ValidationException"
        | "InvalidParameter"
        | "InvalidParameterValue"
        | "InvalidKeyId" => CapabilityError::InvalidInput(text("invalid input")),
        "RegionDisabledException" | "RegionDisabled" => CapabilityError::RegionDisabled(text("region disabled")),
        "ExpiredToken" | "ExpiredTokenException" => CapabilityError::ExpiredToken(text("expired token")),
        _ => CapabilityError::Other(text(&error_text(&error))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sts_client_map_stops_at_its_bound_and_later_regions_still_get_their_own_client() {
        let config =
            SdkConfig::builder().behavior_version(BehaviorVersion::latest()).region(Region::new("eu-west-1")).build();
        let backend = SdkBackend::new(config);
        let kept = || backend.sts_by_region.read().unwrap().len();
        for i in 0..100 {
            let region = format!("xx-test-{i}");
            let client = backend.sts_client(Some(&region));
            assert_eq!(client.config().region().map(|r| r.as_ref()), Some(region.as_str()));
            assert_eq!(kept(), (i + 1).min(MAX_STS_CLIENTS), "after {region}");
        }
        // The worker's own region is the default, and an uncached region is
        // still served (a client for the call, not kept).
        let client = backend.sts_client(None);
        assert_eq!(client.config().region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(kept(), MAX_STS_CLIENTS);
    }
}
