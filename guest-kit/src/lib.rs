//! The connector SDK: everything a lava-conn connector type needs besides its
//! own logic.
//!
//! A connector is a type implementing [`Connector`] — its field table, and
//! `validate`, `session_name` and `resolve` over a spec — exported with
//! [`export_connector!`]. What it may ask of the host comes through the
//! [`Host`] it is handed: SSM reads, STS AssumeRole, the worker's
//! credentials, log lines, worker settings. Nothing else reaches it: no
//! files, network, environment or clock beyond the time of day.
//!
//! ```ignore
//! use lava_guest_kit::{Connector, Field, Host, JobContext, Problem, Resolved, ValidateContext};
//!
//! #[derive(Default)]
//! struct Token;
//!
//! impl Connector for Token {
//!     const TYPE: &'static str = "token";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     const FIELDS: &'static [Field] = &[Field::required("parameter", "string", "SSM parameter holding the token")];
//!
//!     fn validate(&self, spec: &str, _: &ValidateContext, _: &dyn Host) -> Vec<Problem> { /* … */ vec![] }
//!     fn resolve(&self, spec: &str, _: &JobContext, host: &dyn Host) -> Result<Resolved, String> { /* … */ }
//! }
//!
//! lava_guest_kit::export_connector!(Token);
//! ```
//!
//! The guide is "Write a connector type" in the repository's README, and
//! `examples/plugin-template/` is a complete crate to start from.

mod export;
pub mod heap;
mod host;
pub mod testing;

pub use host::{AssumeRole, CapabilityError, Credentials, Host, Level};
pub use lava_rules::fields::{SpecReader, parse_object};
pub use lava_rules::problem::{Problem, Severity, error_summary, has_error};

#[doc(hidden)]
#[cfg(target_family = "wasm")]
pub use export::{glue as __glue, wit as __wit};

/// The contract version this SDK builds connectors against.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// One spec field, as `lava-conn describe` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The field's name in the spec.
    pub name: &'static str,
    /// Its type, in words (`string`, `duration`, `list of strings`, …).
    pub type_name: &'static str,
    /// Whether a spec must have it.
    pub required: bool,
    /// What it means.
    pub description: &'static str,
}

impl Field {
    /// A field every spec must have.
    pub const fn required(name: &'static str, type_name: &'static str, description: &'static str) -> Self {
        Self { name, type_name, required: true, description }
    }

    /// A field a spec may leave out.
    pub const fn optional(name: &'static str, type_name: &'static str, description: &'static str) -> Self {
        Self { name, type_name, required: false, description }
    }
}

/// What the host knows when it asks for validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidateContext {
    /// The realm the spec belongs to, when known.
    pub realm: Option<String>,
}

/// The job a connection is resolved for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobContext {
    /// The realm the job runs in.
    pub realm: String,
    /// The job's id.
    pub job_id: String,
    /// The connection's id.
    pub conn_id: String,
    /// The worker's role-session name template (lava's `CONN_APP_NAME`).
    pub session_name_template: String,
}

/// How the job uses what a connector resolved: a stand-in the host writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    /// lava's AWS CLI stand-in (needs [`Resolved::aws`] credentials).
    AwsCli,
}

/// One value handed to the job (for example a database password).
#[derive(Clone, PartialEq, Eq)]
pub struct Value {
    /// Its name: a letter, then letters, digits and `_` (an environment variable name).
    pub name: String,
    /// The value itself.
    pub value: String,
    /// Whether the host must keep it out of logs and output (it always does for credentials).
    pub secret: bool,
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.secret { "<redacted>" } else { self.value.as_str() };
        f.debug_struct("Value").field("name", &self.name).field("value", &value).finish()
    }
}

/// What a connection resolves to for one job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Named values for the job.
    pub values: Vec<Value>,
    /// When the result stops being valid (seconds since the Unix epoch).
    pub expiration: Option<u64>,
    /// AWS credentials for the job.
    pub aws: Option<Credentials>,
    /// A host-written stand-in for the job.
    pub launcher: Option<Launcher>,
}

impl Resolved {
    /// AWS credentials, with lava's AWS CLI stand-in, valid until they expire.
    /// A region left empty is filled from the worker's `AWS_REGION` setting
    /// when the result leaves the plugin.
    pub fn aws(credentials: Credentials) -> Self {
        Self {
            expiration: credentials.expiration,
            aws: Some(credentials),
            launcher: Some(Launcher::AwsCli),
            values: Vec::new(),
        }
    }

    /// Named values only (no credentials, no stand-in).
    pub fn values(values: Vec<Value>) -> Self {
        Self { values, ..Self::default() }
    }
}

/// A connector type. Implement it on a `Default` type and export it with
/// [`export_connector!`]; the host makes a fresh instance for every call, so
/// nothing carries over from one call to the next.
pub trait Connector: Default {
    /// The spec `type` this connector handles (lowercase letters, digits, `-`, `_`).
    const TYPE: &'static str;
    /// The connector's version, shown by `lava-conn plugins`.
    const VERSION: &'static str;
    /// The spec's fields, shown by `lava-conn describe`.
    const FIELDS: &'static [Field];

    /// The spec's problems; none means valid. The host grants no AWS here.
    /// By default a spec has none.
    fn validate(&self, spec: &str, context: &ValidateContext, host: &dyn Host) -> Vec<Problem> {
        let _ = (spec, context, host);
        Vec::new()
    }

    /// The role-session name for the spec in this job. The host grants no AWS
    /// here. By default: the spec's errors if it has any, else the worker's
    /// template (lava's rule) rendered for the job.
    fn session_name(&self, spec: &str, context: &JobContext, host: &dyn Host) -> Result<String, Vec<Problem>> {
        let problems = self.validate(spec, &ValidateContext { realm: Some(context.realm.clone()) }, host);
        if has_error(&problems) {
            return Err(problems.into_iter().filter(|p| p.severity == Severity::Error).collect());
        }
        lava_rules::session::session_name(
            &context.session_name_template,
            &context.realm,
            &context.job_id,
            &context.conn_id,
        )
        .map_err(|message| vec![Problem::error("CONN_APP_NAME", message)])
    }

    /// Resolve the spec for the job through the host's capabilities. The
    /// error is shown to the user as it is: say which field and what to do.
    fn resolve(&self, spec: &str, context: &JobContext, host: &dyn Host) -> Result<Resolved, String>;
}

/// Log each warning of a connection at `warn` (a resolve cannot return them).
pub fn log_warnings(host: &dyn Host, context: &JobContext, problems: &[Problem]) {
    for p in problems.iter().filter(|p| p.severity == Severity::Warning) {
        host.log(Level::Warn, &format!("connection `{}`: {}: {}", context.conn_id, p.field, p.message));
    }
}
