//! AWS SDK credentials for a connection, refreshed through the host's cache.

use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, future};
use secrecy::ExposeSecret;

use super::ConnectorHost;
use crate::connections::cache::EXPIRY_SAFETY_WINDOW;
use crate::error::HostError;
use crate::results::{Job, Resolved};

/// A credentials provider for one connection and job. Each time the SDK asks,
/// it resolves through the host (so through its cache). It reports an expiry
/// five minutes early, as botocore's refreshable credentials and aws-vault do,
/// so the SDK asks again before the session actually ends.
#[derive(Clone)]
pub struct ConnectionCredentials {
    host: ConnectorHost,
    conn_id: String,
    job: Job,
    refresh_margin: Duration,
}

impl std::fmt::Debug for ConnectionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionCredentials")
            .field("conn_id", &self.conn_id)
            .field("job", &self.job)
            .field("refresh_margin", &self.refresh_margin)
            .finish()
    }
}

impl ConnectionCredentials {
    /// A provider for `conn_id` in `job`.
    pub fn new(host: ConnectorHost, conn_id: impl Into<String>, job: Job) -> Self {
        Self { host, conn_id: conn_id.into(), job, refresh_margin: EXPIRY_SAFETY_WINDOW }
    }

    /// Ask for new credentials this long before the session ends (default five minutes).
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    async fn load(&self) -> provider::Result {
        let resolved = self
            .host
            .resolve(&self.conn_id, &self.job)
            .await
            .map_err(provider::error::CredentialsError::provider_error)?;
        to_sdk_credentials(&resolved, self.refresh_margin).ok_or_else(|| {
            provider::error::CredentialsError::not_loaded(format!(
                "connection `{}` yields no AWS credentials",
                self.conn_id
            ))
        })
    }
}

fn to_sdk_credentials(resolved: &Resolved, refresh_margin: Duration) -> Option<Credentials> {
    let aws = resolved.aws.as_ref()?;
    let refresh_at = aws.expiration.map(|e| e.checked_sub(refresh_margin).unwrap_or(SystemTime::UNIX_EPOCH));
    Some(Credentials::new(
        aws.access_key_id.clone(),
        aws.secret_access_key.expose_secret().to_string(),
        aws.session_token.as_ref().map(|t| t.expose_secret().to_string()),
        refresh_at,
        "lava-conn",
    ))
}

impl ProvideCredentials for ConnectionCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.load())
    }
}

impl ConnectorHost {
    /// An `aws_config::SdkConfig` whose credentials are those of `conn_id` for
    /// `job`, refreshed through the host's cache before they expire; region and
    /// endpoint come from the connection.
    pub async fn sdk_config(&self, conn_id: &str, job: &Job) -> Result<SdkConfig, HostError> {
        self.sdk_config_with(conn_id, job, aws_config::defaults(BehaviorVersion::latest())).await
    }

    /// [`ConnectorHost::sdk_config`] from a loader of your own (HTTP client,
    /// endpoint, retry settings). The connection's credentials, region and
    /// endpoint override the loader's.
    pub async fn sdk_config_with(
        &self,
        conn_id: &str,
        job: &Job,
        loader: ConfigLoader,
    ) -> Result<SdkConfig, HostError> {
        // Resolve once now: a broken connection fails here, not in the first AWS call.
        let resolved = self.resolve(conn_id, job).await?;
        let aws = resolved.aws.as_ref().ok_or_else(|| HostError::Resolve {
            conn_id: conn_id.to_string(),
            message: "the connector yields no AWS credentials".into(),
        })?;
        let mut loader = loader.credentials_provider(ConnectionCredentials::new(self.clone(), conn_id, job.clone()));
        if let Some(region) = &aws.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &aws.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        Ok(loader.load().await)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::results::AwsCredentials;

    fn resolved(expiration: SystemTime) -> Resolved {
        Resolved {
            values: vec![],
            expiration: Some(expiration),
            aws: Some(AwsCredentials {
                access_key_id: "AKID".into(),
                secret_access_key: "s".to_string().into(),
                session_token: None,
                expiration: Some(expiration),
                region: None,
                endpoint_url: None,
            }),
            launcher: None,
            login: None,
        }
    }

    #[test]
    fn by_default_the_sdk_is_told_to_refresh_five_minutes_early() {
        let cache = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache");
        let config =
            crate::config::WorkerConfig { compile_cache: Some(cache), ..crate::config::WorkerConfig::default() };
        let host = ConnectorHost::builder().config(config).build().expect("a host with the built-in");
        let provider = ConnectionCredentials::new(host, "c", Job::default());
        assert_eq!(provider.refresh_margin, Duration::from_secs(300));
        let expires = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let credentials = to_sdk_credentials(&resolved(expires), provider.refresh_margin).unwrap();
        assert_eq!(credentials.expiry(), Some(expires - Duration::from_secs(300)));
    }
}
