//! Connections: where specs come from (a folder, lava's DynamoDB table), the
//! caches in front of reading and resolving them, and the production
//! [`SdkBackend`](sdk::SdkBackend) behind the capabilities, loaded when
//! first needed for a worker ([`WorkerAws`](worker::WorkerAws)). (The SDK
//! credentials provider embedders hand their own clients resolves through
//! the host: `connector_host::sdk_credentials`.)

pub(crate) mod cache;
pub(crate) mod rds_token;
pub(crate) mod sdk;
pub(crate) mod specs;
pub(crate) mod store;
pub(crate) mod worker;
