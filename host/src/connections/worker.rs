//! A worker's own AWS and connection store, as the CLI and embedders in other
//! languages (the Python package) set them up: the SDK's settings load once,
//! when a call first needs them, so that a command which needs no AWS never
//! waits for the default credential chain.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::capabilities::{
    AssumeRoleRequest, AuthTokenRequest, AwsBackend, CapabilityError, ClusterCredentialsRequest,
    ServerlessCredentialsRequest,
};
use crate::connections::sdk::SdkBackend;
use crate::connections::store::{BoxFuture, ConnectionStore, DynamoStore, FolderStore};
use crate::error::StoreError;
use crate::results::{AwsCredentials, DatabaseCredentials};

/// The worker's AWS through the SDK ([`SdkBackend::from_env`]), loaded by
/// whichever call needs it first. Every capability is forwarded: a lazy
/// backend that left one to the trait's default would refuse it.
#[derive(Default)]
pub struct WorkerAws {
    backend: OnceCell<Arc<SdkBackend>>,
}

impl WorkerAws {
    /// The SDK backend, loading the worker's settings on first use.
    pub async fn sdk(&self) -> &Arc<SdkBackend> {
        self.backend.get_or_init(SdkBackend::from_env).await
    }
}

#[async_trait::async_trait]
impl AwsBackend for WorkerAws {
    fn region(&self) -> Option<String> {
        self.backend.get().and_then(|b| b.region())
    }
    async fn get_parameter(&self, name: &str, with_decryption: bool) -> Result<String, CapabilityError> {
        self.sdk().await.get_parameter(name, with_decryption).await
    }
    async fn assume_role(&self, request: AssumeRoleRequest) -> Result<AwsCredentials, CapabilityError> {
        self.sdk().await.assume_role(request).await
    }
    async fn worker_credentials(&self) -> Result<AwsCredentials, CapabilityError> {
        self.sdk().await.worker_credentials().await
    }
    async fn get_secret_value(&self, secret_id: &str) -> Result<String, CapabilityError> {
        self.sdk().await.get_secret_value(secret_id).await
    }
    async fn get_cluster_credentials(
        &self,
        request: ClusterCredentialsRequest,
    ) -> Result<DatabaseCredentials, CapabilityError> {
        self.sdk().await.get_cluster_credentials(request).await
    }
    async fn get_serverless_credentials(
        &self,
        request: ServerlessCredentialsRequest,
    ) -> Result<DatabaseCredentials, CapabilityError> {
        self.sdk().await.get_serverless_credentials(request).await
    }
    async fn generate_auth_token(&self, request: AuthTokenRequest) -> Result<String, CapabilityError> {
        self.sdk().await.generate_auth_token(request).await
    }
}

/// The store `connections` names: `dynamodb` (lava's table per realm,
/// through `aws` once its settings are loaded), or a folder of spec files of
/// at most `max_spec_file_bytes` each.
pub fn worker_store(
    connections: &str,
    aws: &Arc<WorkerAws>,
    max_spec_file_bytes: u64,
) -> Result<Arc<dyn ConnectionStore>, StoreError> {
    if connections == "dynamodb" {
        return Ok(Arc::new(LazyDynamo { aws: aws.clone(), store: OnceCell::new() }));
    }
    Ok(Arc::new(FolderStore::open_capped(Path::new(connections), max_spec_file_bytes)?))
}

/// lava's DynamoDB store, made once the worker's AWS settings are loaded.
struct LazyDynamo {
    aws: Arc<WorkerAws>,
    store: OnceCell<DynamoStore>,
}

impl ConnectionStore for LazyDynamo {
    fn get<'a>(&'a self, realm: &'a str, conn_id: &'a str) -> BoxFuture<'a, Result<serde_json::Value, StoreError>> {
        Box::pin(async move {
            let store = self
                .store
                .get_or_init(|| async { DynamoStore::from_sdk_config(self.aws.sdk().await.sdk_config()) })
                .await;
            store.get(realm, conn_id).await
        })
    }
}
