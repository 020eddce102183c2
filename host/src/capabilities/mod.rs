//! The host capabilities a plugin may import, one file per interface. Each
//! call is checked against the grants of the call in progress before anything
//! is sent anywhere, counted against the call's budget, and written to the
//! audit trail.
//!
//! Everything here is plain Rust on the host's own types: the contract's
//! generated traits are implemented in `contract/`, over [`Capabilities`],
//! which the sandbox's per-call state hands out through
//! [`CapabilityView`] (the view pattern of wasmtime-wasi and Spin's factors).
//! So capabilities are unit-tested without any wasm, and nothing here names
//! the sandbox.

mod backend;
mod config;
mod grants;
mod log;
mod policy;
mod rds;
mod redshift;
mod secrets;
mod ssm;
mod sts;
mod worker_credentials;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use backend::{
    AssumeRoleRequest, AuthTokenRequest, AwsBackend, CapabilityError, ClusterCredentialsRequest, NoAws,
    ServerlessCredentialsRequest,
};
pub use grants::{Capability, Grants, PolicySource, REALM_PLACEHOLDER, Scope, is_region};
pub(crate) use log::LogLevel;
pub use policy::{Allowed, Declared, TypePolicy};
pub use secrets::MAX_SECRET_BYTES;

use crate::sanitizer::sanitize;

/// The tracing target of the audit trail: one event per AWS capability call.
pub const AUDIT_TARGET: &str = "lava_conn::audit";

/// Log lines one plugin call may write.
const MAX_LOG_LINES: u32 = 256;

/// Who is calling, for the audit trail. Never holds a value, key or token.
#[derive(Clone, Debug, Default)]
pub(crate) struct Audit {
    /// SHA-256 of the plugin's component.
    pub sha256: Arc<str>,
    pub connector_type: String,
    pub realm: String,
    pub job: String,
    pub conn_id: String,
}

/// Everything a call's capabilities need besides the plugin: grants,
/// backend, settings, and who is calling.
pub(crate) struct CallContext {
    pub grants: Grants,
    pub backend: Arc<dyn AwsBackend>,
    pub settings: Arc<BTreeMap<String, String>>,
    pub audit: Audit,
}

impl CallContext {
    /// A call that is granted nothing and works for nobody: `describe` at
    /// load, and the plugin loads that come with it.
    pub fn granting_nothing(backend: &Arc<dyn AwsBackend>, settings: &Arc<BTreeMap<String, String>>) -> Self {
        Self { grants: Grants::none(), backend: backend.clone(), settings: settings.clone(), audit: Audit::default() }
    }
}

/// A call bound that a capability call hit: it ends the whole plugin call,
/// so that a plugin cannot catch the refusal and carry on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoundHit {
    /// The call's wall-clock limit was reached.
    WallClock,
    /// The call's capability budget was spent.
    CapabilityCalls,
}

impl std::fmt::Display for BoundHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BoundHit::WallClock => "the call's wall-clock limit was reached",
            BoundHit::CapabilityCalls => "the call's capability budget was spent",
        })
    }
}

impl std::error::Error for BoundHit {}

/// What a capability call yields: the plugin's answer, or a bound that ends
/// the plugin call.
pub(crate) type Outcome<T> = Result<Result<T, CapabilityError>, BoundHit>;

/// One plugin call's capabilities: its grants and budget, and the time its
/// host calls took. Made fresh for every call and dropped with it.
pub(crate) struct Capabilities {
    grants: Grants,
    backend: Arc<dyn AwsBackend>,
    settings: Arc<BTreeMap<String, String>>,
    audit: Audit,
    plugin: Arc<str>,
    log_lines_left: u32,
    calls_left: u32,
    wall_limit: Duration,
    started: Instant,
    /// Time spent inside host capability calls, which the deadline does not count.
    host_time: Duration,
    /// The plugin's last error-level log line, sanitised: a plugin without
    /// WASI has no stderr, and says why it is about to trap (its panic
    /// message) here instead.
    last_error: Option<String>,
    /// When the shortest-lived credential the host issued in this call
    /// stops working (an RDS token's 15 minutes): its result is cached no
    /// longer, whatever the plugin says.
    issued_until: Option<SystemTime>,
}

/// Per-call state that can lend out its [`Capabilities`]: how the contract's
/// bindings reach them without knowing the store type.
pub(crate) trait CapabilityView: Send + 'static {
    /// This call's capabilities.
    fn capabilities(&mut self) -> &mut Capabilities;
}

impl Capabilities {
    /// Capabilities for a call of `plugin` that started at `started`, with
    /// `calls` AWS capability calls and `wall_limit` of wall-clock time.
    pub fn new(context: CallContext, plugin: Arc<str>, calls: u32, wall_limit: Duration, started: Instant) -> Self {
        Self {
            grants: context.grants,
            backend: context.backend,
            settings: context.settings,
            audit: context.audit,
            plugin,
            log_lines_left: MAX_LOG_LINES,
            calls_left: calls,
            wall_limit,
            started,
            host_time: Duration::ZERO,
            last_error: None,
            issued_until: None,
        }
    }

    /// The plugin's last error-level log line in this call, if any.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// The plugin this call runs, as errors and logs name it.
    pub fn plugin(&self) -> &Arc<str> {
        &self.plugin
    }

    /// When the call started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Time spent in host capability calls so far.
    pub fn host_time(&self) -> Duration {
        self.host_time
    }

    /// Whether the call has run out of wall-clock time (host calls and
    /// sleeps included): the one test of the wall limit, for the capability
    /// calls here and for the sandbox's epoch checks.
    pub fn past_wall_limit(&self) -> bool {
        self.started.elapsed() >= self.wall_limit
    }

    /// Wall-clock time left to the call.
    fn wall_left(&self) -> Duration {
        self.wall_limit.saturating_sub(self.started.elapsed())
    }

    /// One AWS capability call: counted against the call's budget and its
    /// wall-clock limit (either ends the whole plugin call; the limit also
    /// cuts a backend call that runs past it), run with its time kept off
    /// the plugin's own deadline (AWS calls have timeouts of their own, and
    /// a slow AWS must not be reported as a runaway plugin), and recorded in
    /// the audit trail. `call` is not started when a bound is already hit.
    async fn capability<R>(
        &mut self,
        capability: &'static str,
        target: &str,
        call: impl Future<Output = Result<R, CapabilityError>>,
    ) -> Outcome<R> {
        if self.past_wall_limit() {
            return Err(BoundHit::WallClock);
        }
        if self.calls_left == 0 {
            return Err(BoundHit::CapabilityCalls);
        }
        self.calls_left -= 1;
        let started = Instant::now();
        let result = tokio::time::timeout(self.wall_left(), call).await;
        let took = started.elapsed();
        self.host_time += took;
        let result = result.map_err(|_| BoundHit::WallClock);
        let a = &self.audit;
        // Every text field is a quoted, escaped string: a value holding
        // ` outcome="ok"` stays inside its own quotes, so an event reads back
        // as exactly the fields written here.
        tracing::info!(
            target: AUDIT_TARGET,
            plugin = %Quoted(&self.plugin),
            sha256 = %Quoted(&a.sha256),
            connector_type = %Quoted(&a.connector_type),
            realm = %Quoted(&a.realm),
            job = %Quoted(&a.job),
            conn_id = %Quoted(&a.conn_id),
            capability,
            target = %Quoted(&sanitize(target)),
            outcome = match &result {
                Ok(Ok(_)) => "ok",
                Ok(Err(e)) => e.kind(),
                Err(_) => "wall-clock-limit",
            },
            duration_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        );
        if let Ok(Err(CapabilityError::NotGranted(refusal))) = &result {
            tracing::warn!(plugin = %Quoted(&self.plugin), "{refusal}");
        }
        result
    }
}

impl Capabilities {
    /// A capability call that may be made as a role: `refusal` (the call's
    /// grant and input checks) ends it, audited, before anything is sent;
    /// otherwise `as_role` is assumed first (an STS call of its own, checked,
    /// counted and audited as `sts.assume-role`) and `call` gets its
    /// credentials. The audit target is `target as <role>`.
    async fn capability_as_role<R, Call, Sent>(
        &mut self,
        capability: &'static str,
        target: &str,
        refusal: Option<CapabilityError>,
        as_role: Option<AssumeRoleRequest>,
        call: Call,
    ) -> Outcome<R>
    where
        Call: FnOnce(Option<crate::results::AwsCredentials>) -> Sent,
        Sent: Future<Output = Result<R, CapabilityError>>,
    {
        let target = match &as_role {
            Some(role) => format!("{target} as {}", role.role_arn),
            None => target.to_string(),
        };
        if let Some(refusal) = refusal {
            return self.capability(capability, &target, async { Err(refusal) }).await;
        }
        let source = match as_role {
            None => None,
            Some(role) => match self.assume_role(role).await? {
                Ok(credentials) => Some(credentials),
                Err(e) => return Ok(Err(e)),
            },
        };
        self.capability(capability, &target, call(source)).await
    }
}

/// A text field of an audit event, quoted and escaped exactly as Rust's
/// `Debug` writes a string (what `tracing`'s `?` gives), with printable
/// ASCII free of quotes and backslashes (nearly every value) written in one
/// piece: `Debug` escapes character by character, which took the audit
/// trail's cost from +0.9 to +3.0 µs per event (`BENCHMARKS.md`, row 3).
struct Quoted<'a>(&'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        if self.0.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\') {
            f.write_char('"')?;
            f.write_str(self.0)?;
            f.write_char('"')
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

impl Capabilities {
    /// A credential this call issued stops working at `until`.
    pub(crate) fn issued_until(&mut self, until: SystemTime) {
        self.issued_until = Some(self.issued_until.map_or(until, |t| t.min(until)));
    }

    /// When the shortest-lived credential issued in this call stops working.
    pub(crate) fn shortest_issued(&self) -> Option<SystemTime> {
        self.issued_until
    }
}

#[cfg(test)]
mod tests;
