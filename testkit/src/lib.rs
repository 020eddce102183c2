//! A plugin author's test kit: an author's own `cargo test` loads their
//! component into the real lava-conn host, as a worker runs it (the
//! contract, the sandbox, the worker's policy and the boundary checks), with
//! a [`FakeAws`] that answers from fixed values and records every call that
//! passed the host's grant checks.
//!
//! ```no_run
//! use lava_conn_testkit::{FakeAws, TestHost, job};
//! use serde_json::json;
//!
//! let host = TestHost::builder(lava_conn_testkit::component!())
//!     .config("[policy.ssm-secret]\nssm = [\"/lava/{realm}/\"]")
//!     .aws(FakeAws::default().parameter("/lava/prod/pw", "hunter2"))
//!     .build()
//!     .unwrap();
//! let spec = json!({"conn_id": "w", "type": "ssm-secret", "enabled": true, "parameter": "/lava/prod/pw"});
//! assert_eq!(host.validate(&spec, Some("prod")), vec![]);
//! let resolved = host.resolve(&spec, &job("prod", "j1")).unwrap();
//! assert_eq!(host.aws_calls(), ["ssm:/lava/prod/pw"]);
//! ```
//!
//! The kit links the host (wasmtime and the AWS SDK): give the dev profile
//! the host's settings, as `examples/plugin-template/Cargo.toml` does, or an
//! unoptimised Cranelift makes each test wait seconds for its compile.

mod fake_aws;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use fake_aws::FakeAws;
use lava_conn::{ConnectorHost, WorkerConfig};
pub use lava_conn::{HostError, Job, LauncherKind, Login, NamedValue, PluginInfo, Problem, Resolved, Severity};
pub use secrecy::ExposeSecret;
pub use serde_json;

/// The component of the crate whose tests call it, built for the host
/// (release, `wasm32-wasip2`) on first use in a test run.
#[macro_export]
macro_rules! component {
    () => {
        $crate::build_component(env!("CARGO_MANIFEST_DIR"), env!("CARGO_PKG_NAME"))
    };
}

/// Build the plugin crate in `crate_dir` (its package `package`) into a
/// component, once per test run, in the `guests` folder of the target
/// folder the tests run from; [`component!`] passes the calling crate's.
pub fn build_component(crate_dir: &str, package: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<(String, String), PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = (crate_dir.to_string(), package.to_string());
    let build = || lava_wasm_build::build_author_crate(Path::new(crate_dir), package, &target_dir().join("guests"));
    built.entry(key).or_insert_with(build).clone()
}

/// The target folder of the running test binary (`<target>/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors().nth(3).expect("a test binary runs from <target>/<profile>/deps").to_path_buf()
}

/// A [`Job`] of `realm` and `job_id`.
pub fn job(realm: &str, job_id: &str) -> Job {
    Job { realm: realm.into(), job_id: job_id.into() }
}

/// The real host with one plugin, the author's, a worker configuration and
/// a [`FakeAws`].
pub struct TestHost {
    host: ConnectorHost,
    aws: Arc<FakeAws>,
    plugin: PluginInfo,
    // The plugin folder; the host reads it as long as it lives.
    _folder: tempfile::TempDir,
}

/// How a [`TestHost`] is set up: [`TestHost::builder`].
pub struct TestHostBuilder {
    component: PathBuf,
    config: String,
    aws: FakeAws,
}

impl TestHost {
    /// A host that will load `component` (a `.wasm` file), with the default
    /// worker configuration and a [`FakeAws`] with nothing in it.
    pub fn builder(component: impl Into<PathBuf>) -> TestHostBuilder {
        TestHostBuilder { component: component.into(), config: String::new(), aws: FakeAws::default() }
    }

    /// What the host read from the component: its types, contract version,
    /// declared needs and field table.
    pub fn plugin(&self) -> &PluginInfo {
        &self.plugin
    }

    /// Check a spec as `lava-conn validate` does. Panics when the plugin
    /// fails (traps, runs out of fuel, returns what the contract forbids):
    /// the test's failure then carries the host's message.
    pub fn validate(&self, spec: &serde_json::Value, realm: Option<&str>) -> Vec<Problem> {
        self.host.validate(spec, realm).unwrap_or_else(|e| panic!("{}", lava_conn::error_text(&e)))
    }

    /// The session name the host gives a job for `spec`, or the spec's problems.
    pub fn session_name(&self, spec: &serde_json::Value, job: &Job) -> Result<String, Vec<Problem>> {
        self.host.session_name(spec, job).unwrap_or_else(|e| panic!("{}", lava_conn::error_text(&e)))
    }

    /// Resolve `spec` for `job` as a worker does, uncached: the plugin's AWS
    /// calls go through the worker's grants to the [`FakeAws`].
    pub fn resolve(&self, spec: &serde_json::Value, job: &Job) -> Result<Resolved, HostError> {
        self.host.resolve_uncached(spec, job)
    }

    /// Every AWS call that passed the host's checks, in order (see [`FakeAws::calls`]).
    pub fn aws_calls(&self) -> Vec<String> {
        self.aws.calls()
    }
}

impl TestHostBuilder {
    /// The worker configuration, as TOML an operator writes in
    /// `lava-conn.toml` (the `[policy.<type>]` tables that grant the plugin
    /// its capabilities, above all). Checked as the host checks that file.
    pub fn config(mut self, toml: &str) -> Self {
        self.config = toml.to_string();
        self
    }

    /// The AWS the plugin's granted calls reach.
    pub fn aws(mut self, aws: FakeAws) -> Self {
        self.aws = aws;
        self
    }

    /// Load the plugin. An error names what failed: the configuration, or
    /// the component (not a component, a contract the host does not serve…).
    pub fn build(self) -> Result<TestHost, String> {
        let folder = tempfile::tempdir().map_err(|e| format!("cannot make a plugin folder: {e}"))?;
        let name = self.component.file_name().ok_or_else(|| format!("{} is not a file", self.component.display()))?;
        std::fs::copy(&self.component, folder.path().join(name))
            .map_err(|e| format!("cannot copy {}: {e}", self.component.display()))?;
        let config = worker_config(&self.config, folder.path())?;
        let aws = Arc::new(self.aws);
        let host = ConnectorHost::builder()
            .config(config)
            .plugin_dir(folder.path())
            .backend(aws.clone())
            .build()
            .map_err(|e| lava_conn::error_text(&e))?;
        let plugin = host.plugins().into_iter().find(|p| matches!(&p.source, lava_conn::PluginSource::File(_)));
        let Some(plugin) = plugin else {
            let skipped: Vec<String> = host.skipped_plugins().iter().map(|s| s.reason.to_string()).collect();
            return Err(format!("the host did not load {}: {}", self.component.display(), skipped.join("; ")));
        };
        Ok(TestHost { host, aws, plugin, _folder: folder })
    }
}

/// The configuration `toml` as the host reads it from a file, with the
/// compile cache in the test's own folder (not the user's cache).
fn worker_config(toml: &str, folder: &Path) -> Result<WorkerConfig, String> {
    let file = folder.join("lava-conn.toml");
    std::fs::write(&file, toml).map_err(|e| format!("cannot write the configuration: {e}"))?;
    let mut config = WorkerConfig::load(Some(&file), std::iter::empty()).map_err(|e| lava_conn::error_text(&e))?;
    std::fs::remove_file(&file).map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
    config.compile_cache.get_or_insert_with(|| target_dir().join("lava-testkit-compile-cache"));
    Ok(config)
}
