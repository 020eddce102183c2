//! What the commands share: the host they run against, the job and store
//! arguments, exit codes, and how problems are printed.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use lava_conn::{
    AwsBackend, ConnectionStore, ConnectorHost, Job, Problem, Severity, WorkerAws, WorkerConfig, sanitize, worker_store,
};
use serde_json::Value;

/// Exit code for invalid specs.
pub const EXIT_INVALID: u8 = 1;
/// Exit code for usage, I/O and plugin failures (clap uses 2 for usage errors too).
pub const EXIT_FAILURE: u8 = 2;
/// Exit code of `exec` when lava-conn itself fails (as `env` and `nohup` do).
pub const EXIT_EXEC_FAILURE: u8 = 125;

/// The options every command takes.
pub struct Globals {
    /// The folder of drop-in plugins.
    pub plugins: Option<PathBuf>,
}

/// The job a command works for; defaults from the worker config (`LAVA_REALM`, `LAVA_JOB_ID`).
#[derive(clap::Args)]
pub struct JobArgs {
    /// The realm [default: LAVA_REALM, or `realm` in the config].
    #[arg(long)]
    pub realm: Option<String>,
    /// The job id, which names the STS session [default: LAVA_JOB_ID, or `job_id` in the config].
    #[arg(long)]
    pub job_id: Option<String>,
}

impl JobArgs {
    pub fn job(&self, config: &WorkerConfig) -> anyhow::Result<Job> {
        let realm =
            self.realm.clone().or_else(|| config.realm.clone()).context("--realm (or LAVA_REALM) is required")?;
        let job_id =
            self.job_id.clone().or_else(|| config.job_id.clone()).context("--job-id (or LAVA_JOB_ID) is required")?;
        Ok(Job { realm, job_id })
    }
}

/// Where connection specs come from.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// A folder of JSON/YAML spec files, or `dynamodb` (table
    /// `lava.<realm>.connections`) [default: LAVA_CONN_CONNECTIONS, or
    /// `connections` in the config].
    #[arg(long, value_name = "DIR|dynamodb")]
    pub connections: Option<String>,
}

impl StoreArgs {
    pub fn connections(&self, config: &WorkerConfig) -> anyhow::Result<String> {
        self.connections
            .clone()
            .or_else(|| config.connections.clone())
            .context("--connections DIR|dynamodb (or `connections` in the worker config) is required")
    }
}

/// The host for a command, with the built-ins and the plugin folder; on a
/// terminal, a plugin compiled for its first use is announced.
pub fn host(
    globals: &Globals,
    config: WorkerConfig,
    aws: Option<(Arc<dyn AwsBackend>, Arc<dyn ConnectionStore>)>,
) -> anyhow::Result<ConnectorHost> {
    let mut builder = ConnectorHost::builder().config(config);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        builder = builder.on_compile(|source, bytes| {
            let mb = bytes as f64 / 1e6;
            eprintln!("lava-conn: compiling {} ({mb:.1} MB), its first use here…", sanitize(source));
        });
    }
    if let Some(dir) = &globals.plugins {
        builder = builder.plugin_dir(dir);
    }
    if let Some((backend, store)) = aws {
        builder = builder.backend(backend).store(store);
    }
    Ok(builder.build()?)
}

/// Each plugin file skipped so far, one line each on stderr, for a command
/// that checked specs (`validate`, `session-name`): files are loaded when a
/// spec first needs a type no built-in serves, so this comes at the end.
pub fn report_skipped(host: &ConnectorHost) {
    for skipped in host.skipped_plugins() {
        eprintln!("lava-conn: skipped plugin {}: {}", sanitize(&skipped.path.to_string_lossy()), skipped.reason);
    }
}

/// A host with the worker's AWS credentials and the given connection store.
/// The worker's AWS settings load (and, with `prefetch`, the spec is read)
/// while the engine and plugins are set up: on two cores the two overlap,
/// which took a warm `lava-conn resolve` from 16.2 to 15.0 ms against moto.
pub async fn aws_host(
    globals: &Globals,
    config: WorkerConfig,
    connections: &str,
    prefetch: Option<(&str, &str)>,
) -> anyhow::Result<(ConnectorHost, Option<Value>)> {
    lava_conn::check_worker_profile(&std::env::vars().collect())?;
    let max_spec_bytes = config.max_spec_file_bytes();
    let sdk = Arc::new(WorkerAws::default());
    tokio::spawn({
        let sdk = sdk.clone();
        async move {
            sdk.sdk().await;
        }
    });
    let store = worker_store(connections, &sdk, max_spec_bytes)?;
    let spec = prefetch.map(|(realm, conn_id)| {
        let (store, realm, conn_id) = (store.clone(), realm.to_string(), conn_id.to_string());
        tokio::spawn(async move { store.get(&realm, &conn_id).await })
    });
    let host = host(globals, config, Some((sdk.clone(), store)))?;
    let spec = match spec {
        Some(task) => Some(task.await??),
        None => None,
    };
    // Plugins ask for the worker's region without waiting: have it first.
    sdk.sdk().await;
    Ok((host, spec))
}

/// A runtime for the commands that talk to AWS.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

pub fn has_error(problems: &[Problem]) -> bool {
    problems.iter().any(|p| p.severity == Severity::Error)
}

/// One problem as a line; the conn id is spec text, so it is sanitised (the
/// host already sanitised the plugin's field and message).
pub fn problem_line(conn_id: &str, p: &Problem) -> String {
    let conn_id = sanitize(conn_id);
    let severity = match p.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    if p.field.is_empty() {
        format!("{conn_id}: {severity}: {}", p.message)
    } else {
        format!("{conn_id}: {}: {severity}: {}", p.field, p.message)
    }
}
