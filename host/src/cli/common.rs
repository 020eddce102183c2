//! What the commands share: the host they run against, the job and store
//! arguments, exit codes, and how problems are printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use lava_conn::{
    ConnectionStore, ConnectorHost, DynamoStore, FolderStore, Job, Problem, SdkBackend, Severity, WorkerConfig,
    sanitize,
};

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
    /// The realm.
    #[arg(long)]
    pub realm: Option<String>,
    /// The job id (it names the STS session).
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
    /// `lava.<realm>.connections`). Default: the config's `connections`.
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

/// The host for a command, with the built-ins and the plugin folder; each
/// skipped plugin file is reported on stderr.
pub fn host(
    globals: &Globals,
    config: WorkerConfig,
    aws: Option<(Arc<SdkBackend>, Arc<dyn ConnectionStore>)>,
) -> anyhow::Result<ConnectorHost> {
    let mut builder = ConnectorHost::builder().config(config);
    if let Some(dir) = &globals.plugins {
        builder = builder.plugin_dir(dir);
    }
    if let Some((backend, store)) = aws {
        builder = builder.backend(backend).store(store);
    }
    let host = builder.build()?;
    for skipped in host.skipped_plugins() {
        eprintln!("lava-conn: skipped plugin {}: {}", sanitize(&skipped.path.to_string_lossy()), skipped.reason);
    }
    Ok(host)
}

/// A host with the worker's AWS credentials and the given connection store.
pub async fn aws_host(globals: &Globals, config: WorkerConfig, connections: &str) -> anyhow::Result<ConnectorHost> {
    lava_conn::check_worker_profile(&std::env::vars().collect())?;
    let backend = SdkBackend::from_env().await;
    let store: Arc<dyn ConnectionStore> = if connections == "dynamodb" {
        Arc::new(DynamoStore::from_sdk_config(backend.sdk_config()))
    } else {
        Arc::new(FolderStore::open(Path::new(connections))?)
    };
    host(globals, config, Some((backend, store)))
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
