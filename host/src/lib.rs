//! lava-conn: a WebAssembly-sandboxed connector host.
//!
//! Connector logic (validate a connection spec, derive the STS role-session
//! name, resolve credentials) runs in WebAssembly components that can reach
//! nothing but the capabilities this host grants for each call: SSM reads under
//! the realm's prefixes and STS `AssumeRole` during `resolve`, logging and a
//! few worker settings always. Each call gets a fresh instance with a memory
//! cap and an epoch deadline; a failing plugin is an error, never a crash.
//!
//! ```no_run
//! use lava_conn::{ConnectorHost, WorkerConfig};
//!
//! let host = ConnectorHost::builder().config(WorkerConfig::default()).build()?;
//! let spec = serde_json::json!({
//!     "conn_id": "aws1", "type": "aws", "enabled": true,
//!     "role_arn": "arn:aws:iam::123456789012:role/loader",
//! });
//! assert!(host.validate(&spec, Some("prod"))?.is_empty());
//! # Ok::<(), lava_conn::HostError>(())
//! ```

mod capabilities;
mod config;
mod connections;
mod connector_host;
mod contract;
mod error;
mod folders;
mod job;
mod registry;
mod results;
mod sandbox;
mod sanitizer;
mod untrusted_files;

// The public API, in one place: every module is private.
pub use crate::capabilities::{
    AUDIT_TARGET, Allowed, AssumeRoleRequest, AuthTokenRequest, AwsBackend, Capability, CapabilityError,
    ClusterCredentialsRequest, Declared, Grants, MAX_SECRET_BYTES, NoAws, PolicySource, Scope,
    ServerlessCredentialsRequest, TypePolicy,
};
pub use crate::config::{
    CONFIG_FILE_VARIABLE, DEFAULT_MAX_SPEC_FILE_KIB, WorkerConfig, is_setting_variable, setting_overrides,
};
pub use crate::connections::sdk::{SdkBackend, configure as configure_sdk, load_sdk_config};
pub use crate::connections::specs::{MAX_SPEC_NESTING, conn_id_of, parse_spec_text, read_spec_file};
pub use crate::connections::store::{BoxFuture, ConnectionStore, DynamoStore, FolderStore};
pub use crate::connections::worker::{WorkerAws, worker_store};
pub use crate::connector_host::sdk_credentials::ConnectionCredentials;
pub use crate::connector_host::{ConnectorHost, HostBuilder};
pub use crate::contract::ContractVersion;
pub use crate::error::{
    ConfigError, HostError, LoadError, PluginError, PluginFailure, SkippedPlugin, SpecFileError, StoreError, error_text,
};
pub use crate::job::output;
pub use crate::job::profiles::check_worker_profile;
pub use crate::job::{
    JobEnvironment, NEUTRAL_CREDENTIAL_SOURCES, WORKER_CREDENTIAL_VARIABLES, check_label, check_labels,
};
pub use crate::registry::{PluginInfo, PluginSource};
pub use crate::results::{
    AwsCredentials, DatabaseCredentials, Job, LauncherKind, Login, NamedValue, Problem, Resolved, Severity,
};
pub use crate::sandbox::compiled::CacheState;
pub use crate::sanitizer::{is_hidden, sanitize};
/// The attribute for implementing [`AwsBackend`] (its calls are async).
pub use async_trait::async_trait;
