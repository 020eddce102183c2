//! Errors at the library boundary. None of them carries a secret value.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The worker configuration could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// A value is wrong; `origin` says where it came from.
    #[error("invalid worker configuration in {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Why a plugin call failed. The host keeps serving after every one of these.
#[derive(Debug, thiserror::Error)]
pub enum PluginFailure {
    /// The call ran past its epoch deadline.
    #[error("ran past its deadline of {} ms (setting call_deadline_ms) and was stopped", .0.as_millis())]
    Deadline(Duration),
    /// The call, host time and WASI sleeps included, ran past its wall-clock limit.
    #[error("ran past its wall-clock limit of {} ms (host calls and sleeps included; setting call_wall_limit_ms) and was stopped", .0.as_millis())]
    WallClock(Duration),
    /// The call made more AWS capability calls than its budget allows.
    #[error("made more than {0} capability calls in one call (setting max_capability_calls) and was stopped")]
    CapabilityBudget(u32),
    /// The instance tried to grow its memory past the cap.
    #[error("tried to use more than its memory limit of {0} MiB and was stopped")]
    MemoryLimit(u32),
    /// The instance held more host resources (WASI streams, pollables) at
    /// once than the host keeps for one call.
    #[error("held more than {0} host resources (WASI streams, pollables) at once and was stopped")]
    HostResources(usize),
    /// The instance trapped (a panic, an abort, an invalid operation).
    #[error("trapped: {0}")]
    Trap(String),
    /// The instance returned something the contract forbids.
    #[error("returned an invalid result: {0}")]
    InvalidResult(String),
    /// Every instance slot stayed busy for as long as a call may wait.
    #[error(
        "could not be started: all {slots} instance slots stayed busy for {} ms \
         (settings max_concurrent_instances and instance_wait_ms)",
        .waited.as_millis()
    )]
    NoFreeSlot { slots: u32, waited: Duration },
    /// The instance could not be created.
    #[error("could not be started: {0}")]
    Instantiate(String),
}

/// A plugin call failed; `plugin` names the plugin (built-in name or file).
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin} {failure}")]
pub struct PluginError {
    /// Where the plugin came from.
    pub plugin: String,
    /// What went wrong.
    pub failure: PluginFailure,
}

/// The plugin set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plugin folder could not be read.
    #[error("cannot read plugin folder {}: {source}", path.display())]
    Folder { path: PathBuf, source: std::io::Error },
    /// The wasmtime engine could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    /// A built-in component is broken (a build problem, not a user one).
    #[error("built-in plugin {name} is unusable: {message}")]
    BuiltIn { name: String, message: String },
}

/// A plugin file that was not loaded, and why. Reported, then skipped.
#[derive(Debug, Clone)]
pub struct SkippedPlugin {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

/// Any failure of the host's public API.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// See [`ConfigError`].
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// See [`LoadError`].
    #[error(transparent)]
    Load(#[from] LoadError),
    /// See [`PluginError`].
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// No loaded plugin handles the spec's type.
    #[error(
        "connector type `{connector_type}` is not handled by any loaded plugin (known: {known}); add its plugin to the plugin folder"
    )]
    UnknownType { connector_type: String, known: String },
    /// The spec cannot be dispatched to a plugin at all.
    #[error("{0}")]
    Spec(String),
    /// The spec is invalid; the problems say why.
    #[error("connection `{conn_id}` is invalid: {summary}")]
    Invalid { conn_id: String, summary: String },
    /// The plugin could not resolve the connection (its message names the cause).
    #[error("connection `{conn_id}` cannot be resolved: {message}")]
    Resolve { conn_id: String, message: String },
    /// The connection store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The host was built without a connection store.
    #[error("no connection store is configured: give the host a folder of specs or the DynamoDB store")]
    NoStore,
    /// A job's connection could not be prepared.
    #[error("connection {label}={conn_id}: {source}")]
    Connection { label: String, conn_id: String, source: Box<HostError> },
    /// The same failure, shared by every concurrent resolve of one connection.
    #[error(transparent)]
    Shared(std::sync::Arc<HostError>),
}

/// A spec file could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum SpecFileError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// The file is neither valid JSON nor valid YAML, or holds no spec.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
}

/// A connection store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No spec with this conn id.
    #[error("connection `{conn_id}` is not in {store}")]
    NotFound { conn_id: String, store: String },
    /// Files of the store that could not be read may define this conn id.
    #[error("connection `{conn_id}` cannot be served from {store} while {} of its files cannot be read (one may define it): {}; fix or remove them", unreadable.len(), unreadable.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    NotReadable { conn_id: String, store: String, unreadable: Vec<Arc<SpecFileError>> },
    /// Two files hold the same conn id.
    #[error("connection `{conn_id}` is defined twice: in {} and in {}", first.display(), second.display())]
    Duplicate { conn_id: String, first: PathBuf, second: PathBuf },
    /// A spec file is unreadable or invalid.
    #[error(transparent)]
    File(#[from] SpecFileError),
    /// The store could not be read.
    #[error("cannot read {store}: {message}")]
    Unavailable { store: String, message: String },
}

/// An error and its sources in words on one line, each message once: the
/// one wording for AWS failures (capabilities, the DynamoDB store) and for
/// the CLI's errors. The SDK's own `Display` says only "dispatch failure"
/// and its `Debug` dumps whole responses; library errors name their cause
/// in their own text, which a plain chain would repeat. A worker without
/// AWS credentials is told so in one line, with the fix, instead of the
/// last provider's failure in full.
pub fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        if e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>().is_some() {
            return no_credentials(e);
        }
        let message = e.to_string();
        if !messages.iter().any(|m| m.contains(&message)) {
            messages.push(message);
        }
        next = e.source();
    }
    messages.join(": ")
}

/// What a failed credentials chain says: that the worker has none, the last
/// provider's reason, and the fix.
fn no_credentials(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        last = e.to_string();
        next = e.source();
    }
    format!(
        "the worker has no AWS credentials (the last place tried said: {}); give it some: \
         AWS_PROFILE, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a role of the machine",
        last.trim_end_matches('.')
    )
}
