//! Worker configuration: a TOML file plus environment overrides, with lava's names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::ConfigError;

/// Longest `AWS_ACCESS_KEY_CACHE_TTL`: 30 days.
const MAX_CACHE_TTL_SECONDS: f64 = 30.0 * 86_400.0;

pub use crate::capabilities::REALM_PLACEHOLDER;
use crate::capabilities::{Allowed, Capability, PolicySource, Scope, TypePolicy};

/// The default cap on a spec file's size (`max_spec_file_kib`): lava's own
/// store holds specs of at most 400 KB (a DynamoDB item); a file of a list
/// of specs has room for thousands. Parsing takes ~50 bytes of memory per
/// byte of YAML, so the cap also bounds what one file costs.
pub const DEFAULT_MAX_SPEC_FILE_KIB: u32 = 1024;

/// How the worker runs connectors. Every field has lava's default; unknown keys
/// are an error, so that a typo never silently falls back to a default.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// The lava realm (deployment) this worker serves.
    pub realm: Option<String>,
    /// The job being run, when the worker runs one job per process.
    pub job_id: Option<String>,
    /// Folder of `*.wasm` connector plugins loaded beside the built-in ones.
    pub plugins: Option<PathBuf>,
    /// Where connection specs come from: a folder of JSON/YAML files, or `dynamodb`
    /// for lava's table `lava.<realm>.connections`.
    pub connections: Option<String>,
    /// Connector types a dropped-in plugin may take over from a built-in one.
    pub replace_builtin: Vec<String>,
    /// Connector types that may hand the worker's own AWS credentials to a job
    /// (an empty Airflow connection means "the default chain"). None by default.
    pub worker_credentials: Vec<String>,
    /// SSM name prefixes a plugin may read during `resolve`; `{realm}` is replaced by the realm.
    pub ssm_prefixes: Vec<String>,
    /// Default session length for assumed roles (lava's `AWS_CONN_DURATION`).
    #[serde(rename = "AWS_CONN_DURATION")]
    pub aws_conn_duration: String,
    /// How long resolved credentials are reused (lava's `AWS_ACCESS_KEY_CACHE_TTL`).
    #[serde(rename = "AWS_ACCESS_KEY_CACHE_TTL")]
    pub aws_access_key_cache_ttl: String,
    /// How long a spec read from the connection store is used before it is
    /// read again: a changed spec is seen within this bound. `0s` reads the
    /// store on every resolve.
    pub spec_cache_ttl: String,
    /// How many resolved connections are cached (lava's `AWS_ACCESS_KEY_CACHE_SIZE`).
    #[serde(rename = "AWS_ACCESS_KEY_CACHE_SIZE")]
    pub aws_access_key_cache_size: usize,
    /// Role-session name template (lava's `CONN_APP_NAME`).
    #[serde(rename = "CONN_APP_NAME")]
    pub conn_app_name: String,
    /// Limit on a plugin's own running time in one call (WASI sleeps
    /// included, host AWS calls not), in milliseconds.
    pub call_deadline_ms: u64,
    /// Wall-clock limit on one plugin call, everything included (host AWS
    /// calls too), in milliseconds.
    pub call_wall_limit_ms: u64,
    /// AWS capability calls (SSM, STS, worker credentials) one plugin call may make.
    pub max_capability_calls: u32,
    /// Largest plugin file loaded from the plugin folder, in MiB; bigger files are skipped unread.
    pub max_plugin_file_mib: u32,
    /// Largest connection spec file read, in KiB; a bigger one is refused
    /// unread, naming it, and the other files' specs are still served.
    pub max_spec_file_kib: u32,
    /// Endpoint URLs plugins may name (STS `source` credentials, resolved
    /// credentials for the job). Empty by default: a plugin cannot steer any
    /// AWS traffic. The worker's own `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_STS`
    /// and `AWS_ENDPOINT_URL_SSM` are always allowed.
    pub allowed_endpoints: Vec<String>,
    /// Role ARNs plugins may assume, as glob patterns (`*`, `?`, `[…]`).
    /// Empty (the default) allows any role, as lava does.
    pub allowed_roles: Vec<String>,
    /// What plugins serving each connector type may call during `resolve`,
    /// and how far (`[policy.<type>]`). A type with a table gets exactly
    /// that. Without one, the built-in types and plugins of contracts before
    /// 0.3.0 get the global `ssm_prefixes`, `allowed_roles` and
    /// `worker_credentials` (lava's behaviour); a 0.3.0 plugin from the
    /// folder gets nothing.
    pub policy: BTreeMap<String, TypePolicy>,
    /// Pass the worker's own AWS credential variables (keys, token, profile,
    /// container and web-identity settings) on to jobs run by `exec` and
    /// `prepare_job`. Off by default: a job gets its connections, not the worker.
    pub pass_worker_credentials: bool,
    /// Linear-memory limit of one plugin instance, in MiB.
    pub memory_limit_mib: u32,
    /// Memory limits for particular connector types, in MiB, instead of
    /// `memory_limit_mib` (a Python plugin starts with 12–13 MiB and grows):
    /// `[plugin_memory_mib]` then `db-login = 128`. A plugin serving several
    /// types gets the largest of theirs.
    pub plugin_memory_mib: BTreeMap<String, u32>,
    /// Most bytes a plugin may hand the host in one call (results, capability arguments).
    pub max_plugin_output_bytes: usize,
    /// How many plugin instances may be live at once (pooling allocator slots).
    pub max_concurrent_instances: u32,
    /// How long a call waits for a free instance slot when all are busy
    /// before it fails; 0 fails at once.
    pub instance_wait_ms: u64,
    /// Pre-allocate instance slots (fast, reserves virtual memory for
    /// `max_concurrent_instances` memories) rather than allocating per call.
    pub pooling_allocator: bool,
    /// Where compiled components are cached; default `$XDG_CACHE_HOME/lava-conn` or `~/.cache/lava-conn`.
    pub compile_cache: Option<PathBuf>,
    /// Most MiB of compiled components the compile cache keeps; past it the
    /// least recently written go. Size it for the plugin folder: the aws
    /// component compiles to about 3 MiB, a Python one to about 35 MiB.
    pub compile_cache_max_mib: u64,
    /// The `lava-conn` program a job's AWS profiles run as their
    /// `credential_process` (absolute path). `lava-conn exec` uses itself;
    /// an embedder sets it to the installed `lava-conn`. Unset, jobs get the
    /// `LAVA_CONN_<LABEL>` stand-ins but no profiles.
    pub credential_helper: Option<PathBuf>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            realm: None,
            job_id: None,
            plugins: None,
            connections: None,
            replace_builtin: Vec::new(),
            worker_credentials: Vec::new(),
            ssm_prefixes: vec![format!("/lava/{REALM_PLACEHOLDER}/")],
            aws_conn_duration: "3h".into(),
            aws_access_key_cache_ttl: "10m".into(),
            spec_cache_ttl: "1m".into(),
            aws_access_key_cache_size: 20,
            conn_app_name: "lv-{{ realm }}-{{ job_id }}".into(),
            call_deadline_ms: 1_000,
            // Two AWS calls of at most 12 s each (the SDK's operation timeout)
            // is the most a built-in connector makes; twice that, with room.
            call_wall_limit_ms: 60_000,
            // The built-in connectors make at most three (SSM, then STS).
            max_capability_calls: 32,
            max_plugin_file_mib: 64,
            max_spec_file_kib: DEFAULT_MAX_SPEC_FILE_KIB,
            allowed_endpoints: Vec::new(),
            allowed_roles: Vec::new(),
            policy: BTreeMap::new(),
            pass_worker_credentials: false,
            memory_limit_mib: 64,
            plugin_memory_mib: BTreeMap::new(),
            max_plugin_output_bytes: 1 << 20,
            max_concurrent_instances: 64,
            // Half the wall limit: a burst waits for the slots in use to end,
            // a pool wedged by slow AWS calls is reported instead of queued on.
            instance_wait_ms: 30_000,
            pooling_allocator: true,
            compile_cache: None,
            compile_cache_max_mib: 1024,
            credential_helper: None,
        }
    }
}

/// The memory limits plugins run under: `memory_limit_mib`, and
/// `plugin_memory_mib` for the types it lists.
#[derive(Clone, Debug)]
pub(crate) struct MemoryLimits {
    default_mib: u32,
    per_type: BTreeMap<String, u32>,
}

impl MemoryLimits {
    /// The limit of a plugin serving `types`, in MiB: the largest of their
    /// own, with the default for a type not listed.
    pub fn for_types(&self, types: &[String]) -> u32 {
        let limit = |t: &String| {
            let listed = self.per_type.iter().find(|(k, _)| k.eq_ignore_ascii_case(t));
            listed.map_or(self.default_mib, |(_, mib)| *mib)
        };
        types.iter().map(limit).max().unwrap_or(self.default_mib)
    }

    /// The largest limit any plugin may have, in MiB: what the instance pool
    /// holds per memory, and the bound while a plugin describes itself
    /// (before its types are known).
    pub fn ceiling(&self) -> u32 {
        self.per_type.values().copied().chain([self.default_mib]).max().unwrap_or(self.default_mib)
    }
}

/// The variable naming the worker configuration file (the `--config` option).
pub const CONFIG_FILE_VARIABLE: &str = "LAVA_CONN_CONFIG";

/// Whether lava-conn reads the variable `name` as one of its own settings:
/// the configuration file, or any override of [`ENV_OVERRIDES`]. A job's
/// connections may never set one (`job::Claims`): a lava-conn inside the job
/// would obey its parent's plugins.
pub fn is_setting_variable(name: &str) -> bool {
    setting_variables().any(|variable| variable == name)
}

/// Every variable lava-conn reads as a setting of its own.
pub(crate) fn setting_variables() -> impl Iterator<Item = &'static str> {
    std::iter::once(CONFIG_FILE_VARIABLE).chain(ENV_OVERRIDES.iter().map(|(variable, _)| *variable))
}

/// The environment variables that override the configuration file, each
/// with the key it sets (`lava-conn --help` lists them).
pub fn setting_overrides() -> &'static [(&'static str, &'static str)] {
    ENV_OVERRIDES
}

/// Environment variables that override the file, and the key each sets.
/// lava's own parameter names are accepted bare and with lava's `LAVA_` prefix.
const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("LAVA_REALM", "realm"),
    ("LAVA_JOB_ID", "job_id"),
    ("LAVA_CONN_PLUGINS", "plugins"),
    ("LAVA_CONN_CONNECTIONS", "connections"),
    ("LAVA_CONN_SSM_PREFIXES", "ssm_prefixes"),
    ("LAVA_CONN_REPLACE_BUILTIN", "replace_builtin"),
    ("LAVA_CONN_WORKER_CREDENTIALS", "worker_credentials"),
    ("LAVA_CONN_CALL_DEADLINE_MS", "call_deadline_ms"),
    ("LAVA_CONN_CALL_WALL_LIMIT_MS", "call_wall_limit_ms"),
    ("LAVA_CONN_MAX_CAPABILITY_CALLS", "max_capability_calls"),
    ("LAVA_CONN_MAX_PLUGIN_FILE_MIB", "max_plugin_file_mib"),
    ("LAVA_CONN_MAX_SPEC_FILE_KIB", "max_spec_file_kib"),
    ("LAVA_CONN_ALLOWED_ENDPOINTS", "allowed_endpoints"),
    ("LAVA_CONN_ALLOWED_ROLES", "allowed_roles"),
    ("LAVA_CONN_MEMORY_LIMIT_MIB", "memory_limit_mib"),
    ("LAVA_CONN_PLUGIN_MEMORY_MIB", "plugin_memory_mib"),
    ("LAVA_CONN_INSTANCE_WAIT_MS", "instance_wait_ms"),
    ("LAVA_CONN_COMPILE_CACHE", "compile_cache"),
    ("LAVA_CONN_COMPILE_CACHE_MAX_MIB", "compile_cache_max_mib"),
    ("LAVA_CONN_CREDENTIAL_HELPER", "credential_helper"),
    ("LAVA_CONN_SPEC_CACHE_TTL", "spec_cache_ttl"),
    ("AWS_CONN_DURATION", "AWS_CONN_DURATION"),
    ("LAVA_AWS_CONN_DURATION", "AWS_CONN_DURATION"),
    ("AWS_ACCESS_KEY_CACHE_TTL", "AWS_ACCESS_KEY_CACHE_TTL"),
    ("LAVA_AWS_ACCESS_KEY_CACHE_TTL", "AWS_ACCESS_KEY_CACHE_TTL"),
    ("AWS_ACCESS_KEY_CACHE_SIZE", "AWS_ACCESS_KEY_CACHE_SIZE"),
    ("LAVA_AWS_ACCESS_KEY_CACHE_SIZE", "AWS_ACCESS_KEY_CACHE_SIZE"),
    ("CONN_APP_NAME", "CONN_APP_NAME"),
    ("LAVA_CONN_APP_NAME", "CONN_APP_NAME"),
];

/// A duration setting that [`WorkerConfig::check`] has accepted.
fn checked_duration(text: &str, default_seconds: f64) -> Duration {
    let seconds = lava_rules::duration::parse_duration(text).unwrap_or(default_seconds);
    Duration::from_secs_f64(seconds.clamp(0.0, MAX_CACHE_TTL_SECONDS))
}

impl WorkerConfig {
    /// Load `file` (when given) and apply the environment overrides of `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut table = match file {
            None => toml::Table::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid { origin: path.display().to_string(), message: e.to_string() })?
            }
        };
        let env: BTreeMap<String, String> = env.into_iter().collect();
        for (variable, key) in ENV_OVERRIDES {
            let Some(value) = env.get(*variable) else {
                continue;
            };
            let value = match *key {
                "ssm_prefixes" | "replace_builtin" | "worker_credentials" | "allowed_endpoints" | "allowed_roles" => {
                    toml::Value::Array(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(|s| toml::Value::String(s.to_string()))
                            .collect(),
                    )
                }
                // `type=MiB,type=MiB`, as the file's table.
                "plugin_memory_mib" => {
                    let mut limits = toml::Table::new();
                    for pair in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let parsed =
                            pair.split_once('=').and_then(|(t, mib)| Some((t.trim(), mib.trim().parse::<i64>().ok()?)));
                        let Some((connector_type, mib)) = parsed else {
                            return Err(ConfigError::Invalid {
                                origin: format!("environment variable {variable}"),
                                message: format!("`{pair}` is not `TYPE=MIB` (for example `db-login=128`)"),
                            });
                        };
                        limits.insert(connector_type.to_string(), toml::Value::Integer(mib));
                    }
                    toml::Value::Table(limits)
                }
                "call_deadline_ms"
                | "call_wall_limit_ms"
                | "max_capability_calls"
                | "max_plugin_file_mib"
                | "max_spec_file_kib"
                | "memory_limit_mib"
                | "instance_wait_ms"
                | "compile_cache_max_mib"
                | "AWS_ACCESS_KEY_CACHE_SIZE" => {
                    toml::Value::Integer(value.trim().parse().map_err(|_| ConfigError::Invalid {
                        origin: format!("environment variable {variable}"),
                        message: format!("`{value}` is not a whole number"),
                    })?)
                }
                _ => toml::Value::String(value.clone()),
            };
            table.insert(key.to_string(), value);
        }
        let origin = file.map_or_else(|| "the environment".to_string(), |p| p.display().to_string());
        let config: WorkerConfig = table
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid { origin: origin.clone(), message: e.to_string() })?;
        config.check(&origin)?;
        Ok(config)
    }

    /// Every value within the bounds the host can honour: nothing here may
    /// later overflow a time or size computation.
    pub(crate) fn check(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { origin: origin.to_string(), message };
        for (key, value, max_seconds) in [
            ("AWS_CONN_DURATION", &self.aws_conn_duration, f64::from(lava_rules::sts::MAX_DURATION_SECONDS)),
            ("AWS_ACCESS_KEY_CACHE_TTL", &self.aws_access_key_cache_ttl, MAX_CACHE_TTL_SECONDS),
            ("spec_cache_ttl", &self.spec_cache_ttl, MAX_CACHE_TTL_SECONDS),
        ] {
            let seconds = lava_rules::duration::parse_duration(value).map_err(|e| invalid(format!("{key}: {e}")))?;
            if !(0.0..=max_seconds).contains(&seconds) {
                return Err(invalid(format!("{key}: `{value}` must be between 0 and {max_seconds} seconds")));
            }
        }
        // A template that cannot parse fails here, not at every job's call.
        lava_rules::session::check_template(&self.conn_app_name).map_err(|e| invalid(format!("CONN_APP_NAME: {e}")))?;
        let ranges: [(&str, u64, std::ops::RangeInclusive<u64>); 11] = [
            ("call_deadline_ms", self.call_deadline_ms, 1..=600_000),
            ("call_wall_limit_ms", self.call_wall_limit_ms, 1..=3_600_000),
            ("max_capability_calls", u64::from(self.max_capability_calls), 1..=100_000),
            ("max_plugin_file_mib", u64::from(self.max_plugin_file_mib), 1..=4096),
            ("max_spec_file_kib", u64::from(self.max_spec_file_kib), 1..=65_536),
            ("memory_limit_mib", u64::from(self.memory_limit_mib), 1..=4096),
            ("max_concurrent_instances", u64::from(self.max_concurrent_instances), 1..=10_000),
            ("instance_wait_ms", self.instance_wait_ms, 0..=3_600_000),
            ("compile_cache_max_mib", self.compile_cache_max_mib, 1..=1 << 20),
            ("max_plugin_output_bytes", self.max_plugin_output_bytes as u64, 1..=(1 << 30)),
            ("AWS_ACCESS_KEY_CACHE_SIZE", self.aws_access_key_cache_size as u64, 0..=1_000_000),
        ];
        for (key, value, range) in ranges {
            if !range.contains(&value) {
                return Err(invalid(format!("{key} must be {} to {}, not {value}", range.start(), range.end())));
            }
        }
        for (connector_type, mib) in &self.plugin_memory_mib {
            if !(1..=4096).contains(mib) {
                return Err(invalid(format!("plugin_memory_mib.{connector_type} must be 1 to 4096, not {mib}")));
            }
        }
        for prefix in &self.ssm_prefixes {
            if !prefix.starts_with('/') || !prefix.ends_with('/') {
                return Err(invalid(format!(
                    "ssm_prefixes: `{prefix}` must start and end with `/` (for example `/lava/{{realm}}/`)"
                )));
            }
        }
        for endpoint in &self.allowed_endpoints {
            let scheme_ok = endpoint.starts_with("https://") || endpoint.starts_with("http://");
            if !scheme_ok || endpoint.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(format!(
                    "allowed_endpoints: `{endpoint}` must be an http:// or https:// URL (for example `https://sts.eu-west-1.amazonaws.com`)"
                )));
            }
        }
        if let Some(helper) = &self.credential_helper {
            let text = helper.to_string_lossy();
            if !helper.is_absolute() || text.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "credential_helper: `{}` must be the absolute path of the lava-conn program, on one line",
                    crate::sanitizer::sanitize(&text)
                )));
            }
        }
        for pattern in &self.allowed_roles {
            glob::Pattern::new(pattern)
                .map_err(|e| invalid(format!("allowed_roles: `{pattern}` is not a glob pattern: {e}")))?;
        }
        let mut types = std::collections::BTreeSet::new();
        for (connector_type, table) in &self.policy {
            if !types.insert(connector_type.to_ascii_lowercase()) {
                return Err(invalid(format!(
                    "policy: connector type `{connector_type}` has two tables (types are compared case-insensitively)"
                )));
            }
            if let Some(problem) = table.problem() {
                return Err(invalid(format!("policy.{connector_type}.{problem}")));
            }
        }
        Ok(())
    }

    /// The memory limits plugins run under.
    pub(crate) fn memory_limits(&self) -> MemoryLimits {
        MemoryLimits { default_mib: self.memory_limit_mib, per_type: self.plugin_memory_mib.clone() }
    }

    /// The per-call wall-clock limit, everything included.
    pub fn call_wall_limit(&self) -> Duration {
        Duration::from_millis(self.call_wall_limit_ms)
    }

    /// The endpoints plugins may name: `allowed_endpoints` and the worker's
    /// own endpoint variables in `env`.
    pub fn endpoints_allowed(&self, env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
        let own = env.into_iter().filter(|(k, v)| {
            matches!(k.as_str(), "AWS_ENDPOINT_URL" | "AWS_ENDPOINT_URL_STS" | "AWS_ENDPOINT_URL_SSM") && !v.is_empty()
        });
        self.allowed_endpoints.iter().cloned().chain(own.map(|(_, v)| v)).collect()
    }

    /// The limit on a plugin's own running time per call.
    pub fn call_deadline(&self) -> Duration {
        Duration::from_millis(self.call_deadline_ms)
    }

    /// The cache lifetime, already checked by [`WorkerConfig::load`].
    pub fn cache_ttl(&self) -> Duration {
        checked_duration(&self.aws_access_key_cache_ttl, 600.0)
    }

    /// How long a spec read from the store is used, already checked.
    pub fn spec_cache_ttl(&self) -> Duration {
        checked_duration(&self.spec_cache_ttl, 60.0)
    }

    /// The largest spec file read, in bytes.
    pub fn max_spec_file_bytes(&self) -> u64 {
        u64::from(self.max_spec_file_kib) * 1024
    }

    /// What the worker allows a plugin serving `connector_type` during
    /// `resolve`: its `[policy.<type>]` table if it has one; otherwise, when
    /// `global_defaults` (a built-in type, or a plugin of a contract before
    /// 0.3.0), SSM under `ssm_prefixes` and STS for `allowed_roles` (any
    /// role when empty, as lava does); otherwise nothing. The worker's own
    /// credentials too whenever `worker_credentials` lists the type.
    pub fn allowed_for(&self, connector_type: &str, global_defaults: bool) -> Allowed {
        let connector_type = connector_type.to_ascii_lowercase();
        let table = self.policy.iter().find(|(t, _)| t.eq_ignore_ascii_case(&connector_type)).map(|(_, t)| t);
        let mut allowed = match table {
            Some(table) => Allowed {
                scopes: table.scopes(),
                source: PolicySource::Table(connector_type.clone()),
                login_hosts: table.login_hosts(),
            },
            None if global_defaults => {
                let roles =
                    if self.allowed_roles.is_empty() { Scope::Any } else { Scope::allowed(&self.allowed_roles) };
                let scopes = BTreeMap::from([
                    (Capability::Ssm, Scope::Only(self.ssm_prefixes.clone())),
                    (Capability::Sts, roles),
                ]);
                Allowed { scopes, source: PolicySource::Global(connector_type.clone()), login_hosts: None }
            }
            None => Allowed {
                scopes: BTreeMap::new(),
                source: PolicySource::Nothing(connector_type.clone()),
                login_hosts: None,
            },
        };
        // `worker_credentials` names types one by one: it allows them
        // whatever else their policy says.
        if self.worker_credentials.iter().any(|t| t.eq_ignore_ascii_case(&connector_type)) {
            allowed.scopes.insert(Capability::WorkerCredentials, Scope::Any);
        }
        allowed
    }

    /// The settings plugins may read through the `config` capability.
    pub fn plugin_settings(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("AWS_CONN_DURATION".to_string(), self.aws_conn_duration.clone()),
            ("AWS_ACCESS_KEY_CACHE_TTL".to_string(), self.aws_access_key_cache_ttl.clone()),
            ("CONN_APP_NAME".to_string(), self.conn_app_name.clone()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_lavas() {
        let c = WorkerConfig::load(None, env(&[])).unwrap();
        assert_eq!(c.aws_conn_duration, "3h");
        assert_eq!(c.cache_ttl(), Duration::from_secs(600));
        assert_eq!(c.aws_access_key_cache_size, 20);
        assert_eq!(c.conn_app_name, "lv-{{ realm }}-{{ job_id }}");
        let grants = c.allowed_for("aws", true).grants(&crate::capabilities::Declared::Legacy, "prod", Vec::new());
        assert_eq!(grants.allowed[&Capability::Ssm], Scope::Only(vec!["/lava/prod/".to_string()]));
        assert_eq!(grants.allowed[&Capability::Sts], Scope::Any, "any role, as lava");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = std::env::temp_dir().join(format!("lava-conn-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("worker.toml");
        std::fs::write(&file, "AWS_CONN_DURATON = \"1h\"\n").unwrap();
        let err = WorkerConfig::load(Some(&file), env(&[])).unwrap_err().to_string();
        assert!(err.contains("AWS_CONN_DURATON"), "{err}");
        std::fs::write(&file, "AWS_CONN_DURATION = \"1h\"\nrealm = \"dev\"\n").unwrap();
        let c = WorkerConfig::load(Some(&file), env(&[("LAVA_REALM", "prod")])).unwrap();
        assert_eq!((c.aws_conn_duration.as_str(), c.realm.as_deref()), ("1h", Some("prod")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = WorkerConfig::load(None, env(&[("AWS_CONN_DURATION", "3 hours")])).unwrap_err().to_string();
        assert!(err.contains("AWS_CONN_DURATION"), "{err}");
        let err = WorkerConfig::load(None, env(&[("AWS_ACCESS_KEY_CACHE_SIZE", "x")])).unwrap_err().to_string();
        assert!(err.contains("AWS_ACCESS_KEY_CACHE_SIZE"), "{err}");
    }

    #[test]
    fn out_of_range_settings_are_refused_before_they_can_overflow() {
        for (variable, value, key) in [
            ("AWS_ACCESS_KEY_CACHE_TTL", "1e20", "AWS_ACCESS_KEY_CACHE_TTL"),
            ("AWS_ACCESS_KEY_CACHE_TTL", "-5m", "AWS_ACCESS_KEY_CACHE_TTL"),
            ("AWS_CONN_DURATION", "1e300", "AWS_CONN_DURATION"),
            ("AWS_CONN_DURATION", "13h", "AWS_CONN_DURATION"),
            ("LAVA_CONN_CALL_DEADLINE_MS", "0", "call_deadline_ms"),
            ("LAVA_CONN_CALL_DEADLINE_MS", "9999999999999", "call_deadline_ms"),
            ("LAVA_CONN_CALL_WALL_LIMIT_MS", "999999999999", "call_wall_limit_ms"),
            ("LAVA_CONN_MAX_CAPABILITY_CALLS", "0", "max_capability_calls"),
            ("LAVA_CONN_MAX_PLUGIN_FILE_MIB", "0", "max_plugin_file_mib"),
            ("LAVA_CONN_MEMORY_LIMIT_MIB", "5000", "memory_limit_mib"),
            ("LAVA_CONN_INSTANCE_WAIT_MS", "3600001", "instance_wait_ms"),
            ("LAVA_CONN_COMPILE_CACHE_MAX_MIB", "0", "compile_cache_max_mib"),
            ("LAVA_CONN_ALLOWED_ENDPOINTS", "ftp://x", "allowed_endpoints"),
            ("LAVA_CONN_ALLOWED_ROLES", "arn:[", "allowed_roles"),
        ] {
            let err = WorkerConfig::load(None, env(&[(variable, value)])).unwrap_err().to_string();
            assert!(err.contains(key), "{variable}={value}: {err}");
        }
        let c = WorkerConfig::load(None, env(&[("AWS_ACCESS_KEY_CACHE_TTL", "30d")])).unwrap();
        assert_eq!(c.cache_ttl(), Duration::from_secs(30 * 86_400));
        let c = WorkerConfig::load(None, env(&[("LAVA_CONN_INSTANCE_WAIT_MS", "0")])).unwrap();
        assert_eq!(c.instance_wait_ms, 0, "0 is allowed: fail at once");
    }

    #[test]
    fn a_types_memory_limit_is_its_own_the_largest_of_its_types_or_the_default() {
        let c = WorkerConfig::load(None, env(&[("LAVA_CONN_PLUGIN_MEMORY_MIB", "db-login=128, Tiny=16")])).unwrap();
        let types = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let limits = c.memory_limits();
        assert_eq!(limits.for_types(&types(&["db-login"])), 128);
        assert_eq!(limits.for_types(&types(&["tiny"])), 16, "types compare case-insensitively, and may lower it");
        assert_eq!(limits.for_types(&types(&["tiny", "other"])), 64, "an unlisted type has the default");
        assert_eq!(limits.for_types(&types(&["tiny", "db-login"])), 128);
        assert_eq!(limits.ceiling(), 128);
        assert_eq!(WorkerConfig::default().memory_limits().ceiling(), 64);
        for bad in ["db-login", "db-login=lots", "db-login=0", "db-login=5000"] {
            let err = WorkerConfig::load(None, env(&[("LAVA_CONN_PLUGIN_MEMORY_MIB", bad)])).unwrap_err().to_string();
            assert!(err.contains("LAVA_CONN_PLUGIN_MEMORY_MIB") || err.contains("plugin_memory_mib"), "{bad}: {err}");
        }
    }

    #[test]
    fn prefixes_and_endpoints_are_checked_one_condition_at_a_time() {
        for (variable, value, ok) in [
            ("LAVA_CONN_SSM_PREFIXES", "/lava/{realm}/", true),
            ("LAVA_CONN_SSM_PREFIXES", "lava/{realm}/", false),
            ("LAVA_CONN_SSM_PREFIXES", "/lava/{realm}", false),
            ("LAVA_CONN_ALLOWED_ENDPOINTS", "https://sts.example", true),
            ("LAVA_CONN_ALLOWED_ENDPOINTS", "http://127.0.0.1:5000", true),
            ("LAVA_CONN_ALLOWED_ENDPOINTS", "https://a b.example", false),
            ("LAVA_CONN_ALLOWED_ENDPOINTS", "https://a\u{7}.example", false),
        ] {
            assert_eq!(WorkerConfig::load(None, env(&[(variable, value)])).is_ok(), ok, "{variable}={value:?}");
        }
    }

    #[test]
    fn durations_and_shared_settings_are_what_the_config_says() {
        let c = WorkerConfig { call_deadline_ms: 1500, call_wall_limit_ms: 7000, ..WorkerConfig::default() };
        assert_eq!((c.call_deadline(), c.call_wall_limit()), (Duration::from_millis(1500), Duration::from_secs(7)));
        let shared = WorkerConfig::default().plugin_settings();
        assert_eq!(
            shared.into_iter().collect::<Vec<_>>(),
            [
                ("AWS_ACCESS_KEY_CACHE_TTL".to_string(), "10m".to_string()),
                ("AWS_CONN_DURATION".to_string(), "3h".to_string()),
                ("CONN_APP_NAME".to_string(), "lv-{{ realm }}-{{ job_id }}".to_string()),
            ]
        );
    }

    #[test]
    fn list_and_number_overrides_are_parsed_from_the_environment() {
        let c = WorkerConfig::load(
            None,
            env(&[
                ("LAVA_CONN_ALLOWED_ENDPOINTS", "https://a.example, https://b.example,"),
                ("LAVA_CONN_ALLOWED_ROLES", "arn:aws:iam::*:role/lava-*"),
                ("LAVA_CONN_CALL_DEADLINE_MS", " 1500 "),
                ("LAVA_CONN_MAX_CAPABILITY_CALLS", "5"),
            ]),
        )
        .unwrap();
        assert_eq!(c.allowed_endpoints, ["https://a.example", "https://b.example"]);
        assert_eq!(c.allowed_roles, ["arn:aws:iam::*:role/lava-*"]);
        assert_eq!((c.call_deadline_ms, c.max_capability_calls), (1500, 5));
    }

    #[test]
    fn the_workers_own_endpoints_are_allowed_besides_the_configured_ones() {
        let c = WorkerConfig { allowed_endpoints: vec!["https://a.example".into()], ..WorkerConfig::default() };
        let allowed = c.endpoints_allowed(env(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_S3", "http://s3.example"),
            ("AWS_ENDPOINT_URL_STS", ""),
        ]));
        assert_eq!(allowed, vec!["https://a.example".to_string(), "http://127.0.0.1:5000".to_string()]);
    }

    #[test]
    fn realms_cannot_widen_prefixes() {
        let c = WorkerConfig::load(None, env(&[])).unwrap();
        for realm in ["", "a/b", "..", "*", "pro?", "[a-z]"] {
            let grants = c.allowed_for("aws", true).grants(&crate::capabilities::Declared::Legacy, realm, Vec::new());
            assert_eq!(grants.allowed[&Capability::Ssm], Scope::Only(Vec::new()), "{realm:?}");
        }
    }

    #[test]
    fn a_type_with_a_policy_table_gets_exactly_it_and_one_without_gets_the_global_settings_or_nothing() {
        let file = "allowed_roles = [\"arn:aws:iam::*:role/lava-*\"]\nworker_credentials = [\"airflow-aws\"]\n\
                    [policy.DB-Login]\nssm = [\"/lava/{realm}/db/\"]\nrds_hosts = [\"*.rds.amazonaws.com\"]\n";
        let c: WorkerConfig = toml::from_str(file).unwrap();
        c.check("test").unwrap();
        let table = c.allowed_for("db-login", false);
        assert_eq!(table.source, PolicySource::Table("db-login".into()));
        assert_eq!(
            table.scopes.keys().copied().collect::<Vec<_>>(),
            [Capability::Ssm, Capability::RdsToken],
            "no STS: the table does not list roles"
        );
        let global = c.allowed_for("airflow-aws", true);
        assert_eq!(global.scopes[&Capability::Sts], Scope::Only(vec!["arn:aws:iam::*:role/lava-*".into()]));
        assert_eq!(global.scopes[&Capability::WorkerCredentials], Scope::Any);
        assert!(!c.allowed_for("aws", true).scopes.contains_key(&Capability::WorkerCredentials));
        let listed = c.allowed_for("airflow-aws", false);
        assert_eq!(listed.scopes.keys().copied().collect::<Vec<_>>(), [Capability::WorkerCredentials]);
        let nothing = c.allowed_for("postgres", false);
        assert!(nothing.scopes.is_empty());
        assert_eq!(nothing.source, PolicySource::Nothing("postgres".into()));
        for (bad, says) in [
            ("[policy.x]\nroles = [\"[\"]\n", "policy.x.roles: `[` not a glob pattern"),
            ("[policy.x]\nssm = [\"\"]\n", "policy.x.ssm: `` an empty prefix"),
            ("[policy.x]\nsecret = [\"a\"]\n", "unknown field `secret`"),
            ("[policy.x]\n[policy.X]\n", "has two tables"),
        ] {
            let error = toml::from_str::<WorkerConfig>(bad)
                .map_err(|e| e.to_string())
                .and_then(|c| c.check("test").map_err(|e| e.to_string()))
                .unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
