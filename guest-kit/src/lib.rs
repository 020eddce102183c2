//! The connector SDK: everything a lava-conn connector type needs besides its
//! own logic.
//!
//! A connector declares its spec as a struct with `#[derive(Spec)]`, and
//! implements [`Connector`] over it: `check` for the rules beyond types,
//! `resolve` (and, rarely, `session_name`). The SDK reads every spec into
//! the struct, with every problem named by its field, and makes `describe`'s
//! field table from the same declaration. What a connector may ask of the
//! host comes through the [`Host`] it is handed: SSM reads, STS AssumeRole,
//! the capabilities behind features, log lines, worker settings. Nothing
//! else reaches it: no files, network, environment or clock beyond the time
//! of day.
//!
//! ```
//! use lava_guest_kit::{Capability, Connector, Host, JobContext, NamedValue, Need, Resolved, Spec};
//!
//! #[derive(Default)]
//! pub struct Token;
//!
//! lava_guest_kit::export_connector!(Token);
//!
//! /// A `token` connection.
//! #[derive(Spec)]
//! pub struct TokenSpec {
//!     /// The SSM parameter holding the token.
//!     parameter: String,
//! }
//!
//! impl Connector for Token {
//!     const TYPE: &'static str = "token";
//!     const VERSION: &'static str = "1.0.0";
//!     const NEEDS: &'static [Need] = &[Need::within(Capability::Ssm, &["/lava/{realm}/"])];
//!     type Spec = TokenSpec;
//!
//!     fn resolve(&self, spec: TokenSpec, _: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
//!         let token = host.get_parameter(&spec.parameter).map_err(|e| format!("parameter: {e}"))?;
//!         Ok(Resolved::values(vec![NamedValue::secret("TOKEN", token)]))
//!     }
//! }
//! ```
//!
//! The guide is `docs/connectors-in-rust.md` in the repository, and
//! `examples/plugin-template/` is a complete crate to start from.

// `#[derive(Spec)]` names this crate by its name, in its own tests too.
extern crate self as lava_guest_kit;

mod export;
pub mod heap;
mod host;
pub mod spec;
pub mod testing;

pub use host::{
    AssumeRole, AuthToken, CapabilityError, ClusterCredentials, Credentials, DatabaseCredentials, Host, Level,
    ServerlessCredentials,
};
/// The derive for [`Spec`]: `#[derive(Spec)]` on a struct of named fields.
pub use lava_guest_kit_derive::Spec;
/// How the job uses what a connector resolved: a stand-in the host writes.
pub use lava_rules::launcher::LauncherKind;
pub use lava_rules::names::is_env_name;
pub use lava_rules::problem::{Problem, Severity, error_summary, errors, has_error};
/// The JSON library specs are read with, for a [`FieldValue`] of your own.
pub use serde_json;
pub use spec::Spec;
pub use spec::fields::{FieldError, FieldValue, Fields, LavaDuration, Port, SpecReader, parse_object};

#[doc(hidden)]
#[cfg(target_family = "wasm")]
pub use export::{glue as __glue, wit as __wit};

/// The contract version this SDK builds connectors against.
pub const CONTRACT_VERSION: &str = "0.3.0";

/// A host capability a connector calls during `resolve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// [`Host::get_parameter`]; scope: parameter name prefixes.
    Ssm,
    /// [`Host::get_secret_value`]; scope: secret name or ARN prefixes.
    SecretsManager,
    /// [`Host::assume_role`] and every `as_role`; scope: role ARN patterns.
    Sts,
    /// [`Host::get_cluster_credentials`]; scope: cluster identifier patterns.
    Redshift,
    /// [`Host::get_serverless_credentials`]; scope: workgroup name patterns.
    RedshiftServerless,
    /// [`Host::generate_auth_token`]; scope: database host patterns.
    RdsToken,
    /// [`Host::worker_credentials`]; no scope.
    WorkerCredentials,
}

/// One capability a connector needs, and how far (`{realm}` is the job's
/// realm; prefixes for SSM and Secrets Manager, glob patterns otherwise).
/// An empty scope asks for whatever the worker's policy allows. The host
/// refuses every call to a capability not declared, or outside its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// The capability.
    pub capability: Capability,
    /// How far.
    pub scope: &'static [&'static str],
}

impl Need {
    /// `capability`, as far as the worker's policy allows.
    pub const fn any(capability: Capability) -> Self {
        Self { capability, scope: &[] }
    }

    /// `capability`, within `scope`.
    pub const fn within(capability: Capability, scope: &'static [&'static str]) -> Self {
        Self { capability, scope }
    }
}

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

/// What the host knows when it asks for validation: the realm, and the
/// worker's settings (not its capabilities: validation calls no AWS).
#[derive(Clone, Default)]
pub struct ValidateContext<'h> {
    /// The realm the spec belongs to, when known.
    pub realm: Option<String>,
    /// Where [`ValidateContext::setting`] asks; only its settings are reachable.
    host: Option<&'h dyn Host>,
}

impl<'h> ValidateContext<'h> {
    /// A context for a spec of `realm`, without worker settings.
    pub fn in_realm(realm: impl Into<String>) -> Self {
        Self { realm: Some(realm.into()), host: None }
    }

    /// The same context, reading worker settings from `host`.
    pub fn with_settings<'a>(&self, host: &'a dyn Host) -> ValidateContext<'a> {
        ValidateContext { realm: self.realm.clone(), host: Some(host) }
    }

    /// A worker setting (`AWS_CONN_DURATION`, `AWS_ACCESS_KEY_CACHE_TTL`, …),
    /// asked of the host when called: each ask is a call out of the sandbox,
    /// so a check asks only for what it needs.
    pub fn setting(&self, key: &str) -> Option<String> {
        self.host?.setting(key)
    }
}

impl std::fmt::Debug for ValidateContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidateContext").field("realm", &self.realm).finish_non_exhaustive()
    }
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
    /// The job's role-session name: the worker's template (lava's
    /// `CONN_APP_NAME`) as the host rendered it for this job, cleansed.
    pub session_name: String,
}

impl JobContext {
    /// What `validate` would know of this job.
    pub fn validate_context(&self) -> ValidateContext<'static> {
        ValidateContext::in_realm(self.realm.clone())
    }
}

/// Where and how a job logs in, for the launchers that need it. The host
/// checks every value and writes every file itself.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Login {
    /// Host name or address.
    pub host: Option<String>,
    /// TCP port.
    pub port: Option<u16>,
    /// User name.
    pub user: Option<String>,
    /// Password; `Debug` never shows it.
    pub password: Option<String>,
    /// Database (for `sqlplus` the service, for `sqlite3` the file).
    pub database: Option<String>,
    /// TLS mode in the client's words.
    pub ssl_mode: Option<String>,
    /// A CA bundle, PEM text.
    pub ca_certificate: Option<String>,
    /// The application name the server sees.
    pub application_name: Option<String>,
    /// An SSH private key; `Debug` never shows it.
    pub private_key: Option<String>,
    /// SSH options (`name`, `value`); the host refuses unsafe ones.
    pub ssh_options: Vec<(String, String)>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .field("ssl_mode", &self.ssl_mode)
            .field("application_name", &self.application_name)
            .field("private_key", &self.private_key.as_ref().map(|_| "<redacted>"))
            .field("ssh_options", &self.ssh_options)
            .finish_non_exhaustive()
    }
}

/// One value handed to the job (for example a database password).
#[derive(Clone, PartialEq, Eq)]
pub struct NamedValue {
    /// Its name: a letter, then letters, digits and `_` (an environment variable name).
    pub name: String,
    /// The value itself.
    pub value: String,
    /// Whether the host must keep it out of logs and output (it always does for credentials).
    pub secret: bool,
}

impl NamedValue {
    /// A value the host keeps out of logs and output (a password, a token).
    pub fn secret(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { name: name.into(), value: value.into(), secret: true }
    }

    /// A value that may be shown (a host name, a user name).
    pub fn plain(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { name: name.into(), value: value.into(), secret: false }
    }
}

impl std::fmt::Debug for NamedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.secret { "<redacted>" } else { self.value.as_str() };
        f.debug_struct("NamedValue").field("name", &self.name).field("value", &value).finish()
    }
}

/// What a connection resolves to for one job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Named values for the job.
    pub values: Vec<NamedValue>,
    /// When the result stops being valid (seconds since the Unix epoch).
    pub expiration: Option<u64>,
    /// AWS credentials for the job.
    pub aws: Option<Credentials>,
    /// A host-written stand-in for the job.
    pub launcher: Option<LauncherKind>,
    /// The login the stand-in is written from.
    pub login: Option<Login>,
}

impl Resolved {
    /// AWS credentials, with lava's AWS CLI stand-in, valid until they expire.
    /// A region left empty is filled from the worker's `AWS_REGION` setting
    /// when the result leaves the plugin.
    pub fn aws(credentials: Credentials) -> Self {
        Self {
            expiration: credentials.expiration,
            aws: Some(credentials),
            launcher: Some(LauncherKind::AwsCli),
            values: Vec::new(),
            login: None,
        }
    }

    /// Named values only (no credentials, no stand-in).
    pub fn values(values: Vec<NamedValue>) -> Self {
        Self { values, ..Self::default() }
    }
}

/// A connector type: its spec as a type, and what it does with a spec that
/// has been read and checked. Implement it on a `Default` type and export it
/// with [`export_connector!`]; the host makes a fresh instance for every
/// call, so nothing carries over from one call to the next.
///
/// The SDK reads the spec for every call ([`spec::read_spec`]): `validate`
/// returns its problems, and `session_name` and `resolve` run only on a spec
/// without errors (`resolve` also only on an enabled connection, logging the
/// spec's warnings first).
pub trait Connector: Default {
    /// The spec `type` this connector handles (lowercase letters, digits, `-`, `_`).
    const TYPE: &'static str;
    /// Every spec `type` it handles: [`Connector::TYPE`] alone by default. A
    /// family of types that share their fields (lava's `psql`, `postgres`,
    /// `redshift`, …) lists them all, and reads which one a spec is from its
    /// `type` (a typed spec may hold it).
    const TYPES: &'static [&'static str] = &[Self::TYPE];
    /// The connector's version, shown by `lava-conn plugins`.
    const VERSION: &'static str;
    /// The capabilities `resolve` calls, and how far: the host grants no
    /// other (and only what the worker's policy allows of these). None by
    /// default.
    const NEEDS: &'static [Need] = &[];
    /// Whether a spec without `enabled` may be used. lava's connectors say
    /// no, and so does the default: the spec must say `"enabled": true`.
    const ENABLED_BY_DEFAULT: bool = false;
    /// The spec's fields: a struct with `#[derive(Spec)]`.
    type Spec: Spec;

    /// Problems beyond each field's type (a pattern, a range, fields that
    /// go together), added to `problems`. It runs once every field has been
    /// read; the host grants no AWS here, and `context` gives the realm and
    /// the worker's settings. By default there are none.
    fn check(&self, spec: &Self::Spec, context: &ValidateContext, problems: &mut Vec<Problem>) {
        let _ = (spec, context, problems);
    }

    /// The role-session name for the spec in this job. The host grants no
    /// AWS here. By default the worker's, which the host rendered for the
    /// job (lava's rule).
    fn session_name(&self, spec: &Self::Spec, context: &JobContext, host: &dyn Host) -> Result<String, Vec<Problem>> {
        let _ = (spec, host);
        Ok(context.session_name.clone())
    }

    /// Resolve the spec for the job through the host's capabilities. The
    /// error is shown to the user as it is: say which field and what to do,
    /// and never a secret.
    fn resolve(&self, spec: Self::Spec, context: &JobContext, host: &dyn Host) -> Result<Resolved, String>;
}

/// A connector type over the contract's own terms: the spec as JSON text,
/// and the field table written out. [`export_connector!`] exports any
/// `RawConnector`, and every [`Connector`] is one; implement this directly
/// only to read specs in a way the typed [`Spec`] cannot express.
pub trait RawConnector: Default {
    /// The spec `type` this connector handles (lowercase letters, digits, `-`, `_`).
    const TYPE: &'static str;
    /// As [`Connector::TYPES`].
    const TYPES: &'static [&'static str] = &[Self::TYPE];
    /// The connector's version, shown by `lava-conn plugins`.
    const VERSION: &'static str;
    /// The spec's fields, shown by `lava-conn describe`.
    const FIELDS: &'static [Field];
    /// As [`Connector::NEEDS`].
    const NEEDS: &'static [Need] = &[];

    /// The spec's problems; none means valid. The host grants no AWS here.
    /// By default a spec has none.
    fn validate_json(&self, spec: &str, context: &ValidateContext, host: &dyn Host) -> Vec<Problem> {
        let _ = (spec, context, host);
        Vec::new()
    }

    /// The role-session name for the spec in this job, or the spec's
    /// errors. By default the worker's, as [`Connector::session_name`].
    fn session_name_json(&self, spec: &str, context: &JobContext, host: &dyn Host) -> Result<String, Vec<Problem>> {
        let problems = self.validate_json(spec, &context.validate_context(), host);
        if has_error(&problems) {
            return Err(errors(problems));
        }
        Ok(context.session_name.clone())
    }

    /// Resolve the spec for the job, as [`Connector::resolve`].
    fn resolve_json(&self, spec: &str, context: &JobContext, host: &dyn Host) -> Result<Resolved, String>;
}

impl<C: Connector> RawConnector for C {
    const TYPE: &'static str = C::TYPE;
    const TYPES: &'static [&'static str] = C::TYPES;
    const VERSION: &'static str = C::VERSION;
    const FIELDS: &'static [Field] = <C::Spec as Spec>::FIELDS;
    const NEEDS: &'static [Need] = C::NEEDS;

    fn validate_json(&self, spec: &str, context: &ValidateContext, host: &dyn Host) -> Vec<Problem> {
        spec::read_spec(self, spec, &context.with_settings(host)).problems
    }

    fn session_name_json(&self, spec: &str, context: &JobContext, host: &dyn Host) -> Result<String, Vec<Problem>> {
        let checked = spec::read_spec(self, spec, &context.validate_context().with_settings(host));
        match checked.spec {
            Some(spec) => self.session_name(&spec, context, host),
            None => Err(errors(checked.problems)),
        }
    }

    fn resolve_json(&self, spec: &str, context: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        let checked = spec::read_spec(self, spec, &context.validate_context().with_settings(host));
        let Some(spec) = checked.spec else {
            return Err(format!("the spec is invalid: {}", error_summary(&checked.problems)));
        };
        log_warnings(host, context, &checked.problems);
        if !checked.enabled {
            return Err(format!("connection `{}` is not enabled: set `\"enabled\": true` to use it", context.conn_id));
        }
        self.resolve(spec, context, host)
    }
}

/// Log each warning of a connection at `warn` (a resolve cannot return them).
pub fn log_warnings(host: &dyn Host, context: &JobContext, problems: &[Problem]) {
    for p in problems.iter().filter(|p| p.severity == Severity::Warning) {
        host.log(Level::Warn, &format!("connection `{}`: {}: {}", context.conn_id, p.field, p.message));
    }
}
