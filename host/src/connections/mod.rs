//! Connections: where specs come from (a folder, lava's DynamoDB table), the
//! credential cache in front of resolving them, and the two ways AWS is
//! reached — the production [`SdkBackend`](sdk::SdkBackend) behind the
//! capabilities, and the SDK credentials provider embedders hand their own
//! clients.

pub(crate) mod cache;
pub(crate) mod provider;
pub(crate) mod rds_token;
pub(crate) mod sdk;
pub(crate) mod specs;
pub(crate) mod store;
