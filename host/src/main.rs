//! `lava-conn`: validate connection specs, derive session names, list plugins.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::Arc;

use lava_conn::aws::SdkBackend;
use lava_conn::output;
use lava_conn::specs::{conn_id_of, read_spec_file};
use lava_conn::text::sanitize;
use lava_conn::{ConnectionStore, ConnectorHost, DynamoStore, FolderStore, Job, Problem, Severity, WorkerConfig};
use serde_json::json;

/// Exit code for invalid specs.
const EXIT_INVALID: u8 = 1;
/// Exit code for usage, I/O and plugin failures (clap uses 2 for usage errors too).
const EXIT_FAILURE: u8 = 2;
/// Exit code of `exec` when lava-conn itself fails (as `env` and `nohup` do).
const EXIT_EXEC_FAILURE: u8 = 125;

/// A WebAssembly-sandboxed connector host for lava connections.
#[derive(Parser)]
#[command(name = "lava-conn", version, about, propagate_version = true)]
struct Cli {
    /// Worker configuration file (TOML).
    #[arg(long, global = true, env = "LAVA_CONN_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Folder of connector plugins (`*.wasm`) to load beside the built-in ones.
    #[arg(long, global = true, env = "LAVA_CONN_PLUGINS", value_name = "DIR")]
    plugins: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check connection specs. Exit 0 when all are valid (warnings allowed),
    /// 1 when any is invalid, 2 for usage or I/O errors or when a plugin
    /// failed on any spec (every spec is still checked).
    Validate {
        /// The realm the specs belong to (`access_keys` must be under `/lava/<realm>/`).
        #[arg(long)]
        realm: Option<String>,
        /// Print machine-readable JSON instead of one line per problem.
        #[arg(long)]
        json: bool,
        /// Spec files, JSON or YAML, each holding one spec or a list of specs.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the STS role-session name for the spec(s) in FILE.
    SessionName {
        #[command(flatten)]
        job: JobArgs,
        /// Spec file, JSON or YAML. With several specs, prints `conn_id<TAB>name` lines.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Resolve a connection for a job and print what the job gets. Secrets go
    /// to stdout only; logs and errors go to stderr and never hold them.
    Resolve {
        #[command(flatten)]
        job: JobArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// Output: `json`, `env` (export lines), `credential-process` (AWS
        /// credential_process JSON) or `redshift` (UNLOAD/COPY authorization).
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// The connection to resolve.
        conn_id: String,
    },
    /// Run COMMAND with connections, as lava's exe jobs do: for each
    /// `--conn LABEL=CONN_ID`, `LAVA_CONN_<LABEL>` is the path of a stand-in
    /// for the connector's CLI (for aws, `$LAVA_CONN_AWS1 s3 ls`) and
    /// `LAVA_CONNID_<LABEL>` the conn id; `LAVA_REALM` and `LAVA_JOB_ID` are set.
    /// Exits with COMMAND's status (128+N if killed by signal N), 125 when
    /// lava-conn itself fails, 126/127 when COMMAND cannot be run / is not found.
    Exec {
        #[command(flatten)]
        job: JobArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// Folder for the connections' private folders (default: a new temporary folder).
        #[arg(long, value_name = "DIR")]
        workdir: Option<PathBuf>,
        /// A connection for the command, as LABEL=CONN_ID (LABEL: letters, digits, `_`).
        #[arg(long = "conn", value_name = "LABEL=CONN_ID", required = true)]
        conns: Vec<String>,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// List the loaded connector plugins: type, version, contract, size,
    /// compile-cache state, source, sha256; and the files that were skipped.
    Plugins {
        /// Print machine-readable JSON (with each type's fields).
        #[arg(long)]
        json: bool,
    },
    /// Show one connector type: its plugin, and the spec fields it documents.
    Describe {
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
        /// The connector type (case-insensitive).
        #[arg(value_name = "TYPE")]
        connector_type: String,
    },
}

/// The job a command works for; defaults from the worker config (`LAVA_REALM`, `LAVA_JOB_ID`).
#[derive(clap::Args)]
struct JobArgs {
    /// The realm.
    #[arg(long)]
    realm: Option<String>,
    /// The job id (it names the STS session).
    #[arg(long)]
    job_id: Option<String>,
}

impl JobArgs {
    fn job(&self, config: &WorkerConfig) -> anyhow::Result<Job> {
        let realm =
            self.realm.clone().or_else(|| config.realm.clone()).context("--realm (or LAVA_REALM) is required")?;
        let job_id =
            self.job_id.clone().or_else(|| config.job_id.clone()).context("--job-id (or LAVA_JOB_ID) is required")?;
        Ok(Job { realm, job_id })
    }
}

/// Where connection specs come from.
#[derive(clap::Args)]
struct StoreArgs {
    /// A folder of JSON/YAML spec files, or `dynamodb` (table
    /// `lava.<realm>.connections`). Default: the config's `connections`.
    #[arg(long, value_name = "DIR|dynamodb")]
    connections: Option<String>,
}

impl StoreArgs {
    fn connections(&self, config: &WorkerConfig) -> anyhow::Result<String> {
        self.connections
            .clone()
            .or_else(|| config.connections.clone())
            .context("--connections DIR|dynamodb (or `connections` in the worker config) is required")
    }
}

/// Output formats of `resolve`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
    Env,
    CredentialProcess,
    Redshift,
}

fn main() -> ExitCode {
    // The audit trail (one line per AWS capability call) is on unless
    // RUST_LOG says otherwise: an operator needs it most when nobody asked.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,lava_conn::audit=info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("lava-conn: {error:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn host(
    cli: &Cli,
    config: WorkerConfig,
    aws: Option<(Arc<SdkBackend>, Arc<dyn ConnectionStore>)>,
) -> anyhow::Result<ConnectorHost> {
    let mut builder = ConnectorHost::builder().config(config);
    if let Some(dir) = &cli.plugins {
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = WorkerConfig::load(cli.config.as_deref(), std::env::vars())?;
    match &cli.command {
        Command::Validate { realm, json, files } => {
            let realm = realm.clone().or_else(|| config.realm.clone());
            let host = host(&cli, config, None)?;
            validate(&host, realm.as_deref(), *json, files)
        }
        Command::SessionName { job, file } => {
            let job = job.job(&config)?;
            let host = host(&cli, config, None)?;
            session_name(&host, &job, file)
        }
        Command::Resolve { job, store, format, conn_id } => {
            let job = job.job(&config)?;
            let connections = store.connections(&config)?;
            resolve(&cli, config, &connections, &job, conn_id, *format)
        }
        Command::Exec { job, store, workdir, conns, command } => {
            let job = job.job(&config)?;
            let connections = store.connections(&config)?;
            let labels = parse_conns(conns)?;
            match exec(&cli, config, &connections, &job, &labels, workdir.as_deref(), command) {
                Ok(code) => Ok(code),
                Err(error) => {
                    eprintln!("lava-conn: {error:#}");
                    Ok(ExitCode::from(EXIT_EXEC_FAILURE))
                }
            }
        }
        Command::Plugins { json } => {
            plugins(&host(&cli, config, None)?, *json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Describe { json, connector_type } => describe(&host(&cli, config, None)?, connector_type, *json),
    }
}

/// A host with the worker's AWS credentials and the given connection store.
async fn aws_host(cli: &Cli, config: WorkerConfig, connections: &str) -> anyhow::Result<ConnectorHost> {
    let backend = SdkBackend::from_env().await;
    let store: Arc<dyn ConnectionStore> = if connections == "dynamodb" {
        Arc::new(DynamoStore::from_sdk_config(backend.sdk_config()))
    } else {
        Arc::new(FolderStore::open(Path::new(connections))?)
    };
    host(cli, config, Some((backend, store)))
}

fn resolve(
    cli: &Cli,
    config: WorkerConfig,
    connections: &str,
    job: &Job,
    conn_id: &str,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let host = aws_host(cli, config, connections).await?;
        let resolved = host.resolve(conn_id, job).await?;
        let aws = || {
            resolved
                .aws
                .as_ref()
                .with_context(|| format!("connection `{conn_id}` yields no AWS credentials for this format"))
        };
        let text = match format {
            Format::Json => format!("{:#}\n", output::json(conn_id, &resolved)),
            Format::Env => output::env_lines(aws()?),
            Format::CredentialProcess => format!("{}\n", output::credential_process(aws()?)),
            Format::Redshift => format!("{}\n", output::redshift_clause(aws()?).map_err(anyhow::Error::msg)?),
        };
        std::io::stdout().write_all(text.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `LABEL=CONN_ID` pairs; a label given twice is an error.
fn parse_conns(conns: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for pair in conns {
        let (label, conn_id) =
            pair.split_once('=').with_context(|| format!("--conn `{pair}` must be LABEL=CONN_ID"))?;
        lava_conn::job::check_label(label)?;
        anyhow::ensure!(!conn_id.is_empty(), "--conn `{pair}` has an empty conn id");
        if map.insert(label.to_string(), conn_id.to_string()).is_some() {
            anyhow::bail!("--conn label `{label}` is given twice");
        }
    }
    Ok(map)
}

/// Run the command with its connections; the private folders are removed
/// whatever happens (the guard is dropped on every path out of here).
fn exec(
    cli: &Cli,
    config: WorkerConfig,
    connections: &str,
    job: &Job,
    labels: &BTreeMap<String, String>,
    workdir: Option<&Path>,
    command: &[String],
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let host = aws_host(cli, config, connections).await?;
        let scratch = match workdir {
            Some(_) => None,
            None => Some(
                tempfile::Builder::new()
                    .prefix("lava-conn.")
                    .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                    .tempdir()?,
            ),
        };
        let workdir = workdir.or(scratch.as_ref().map(|d| d.path())).expect("one of the two");
        let env = host.prepare_job(job, labels, workdir).await?;
        let mut child_command = tokio::process::Command::new(&command[0]);
        for name in &env.remove {
            child_command.env_remove(name);
        }
        let mut child = match child_command.args(&command[1..]).envs(env.vars.clone()).spawn() {
            Ok(child) => child,
            Err(e) => {
                eprintln!("lava-conn: cannot run `{}`: {e}", sanitize(&command[0]));
                let code = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
                return Ok(ExitCode::from(code));
            }
        };
        let status = wait_forwarding_signals(&mut child).await?;
        env.cleanup().context("cannot remove the connections' private folders")?;
        let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
    })
}

/// Wait for the child, passing on SIGINT, SIGTERM and SIGHUP: the command
/// decides how to stop, and lava-conn stays to clean up after it.
async fn wait_forwarding_signals(child: &mut tokio::process::Child) -> anyhow::Result<std::process::ExitStatus> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let pid = child.id().context("the command has no process id")?;
    loop {
        let forwarded = tokio::select! {
            status = child.wait() => return Ok(status?),
            _ = interrupt.recv() => libc::SIGINT,
            _ = terminate.recv() => libc::SIGTERM,
            _ = hangup.recv() => libc::SIGHUP,
        };
        // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our
        // child, which has not been reaped while we hold it here.
        unsafe {
            libc::kill(libc::pid_t::try_from(pid).unwrap_or(0), forwarded);
        }
    }
}

fn has_error(problems: &[Problem]) -> bool {
    problems.iter().any(|p| p.severity == Severity::Error)
}

/// One problem as a line; the conn id is spec text, so it is sanitised (the
/// host already sanitised the plugin's field and message).
fn problem_line(conn_id: &str, p: &Problem) -> String {
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

fn validate(host: &ConnectorHost, realm: Option<&str>, json: bool, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut specs = Vec::new();
    for file in files {
        for spec in read_spec_file(file)? {
            specs.push((file, spec));
        }
    }
    let mut report = Vec::with_capacity(specs.len());
    let (mut invalid, mut failed) = (0, 0);
    for (file, spec) in &specs {
        let conn_id = conn_id_of(spec);
        // A plugin failure is this spec's outcome; the other specs are still checked.
        let problems = match host.validate(spec, realm) {
            Ok(problems) => problems,
            Err(error) => {
                failed += 1;
                if json {
                    report
                        .push(json!({ "file": file, "conn_id": conn_id, "valid": false, "error": error.to_string() }));
                } else {
                    println!("{}: error: {error}", sanitize(conn_id));
                }
                continue;
            }
        };
        let valid = !has_error(&problems);
        if !valid {
            invalid += 1;
        }
        if json {
            report.push(json!({ "file": file, "conn_id": conn_id, "valid": valid, "problems": problems }));
        } else {
            for p in &problems {
                println!("{}", problem_line(conn_id, p));
            }
            if valid {
                println!("{}: ok", sanitize(conn_id));
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let valid = specs.len() - invalid - failed;
        let failures = if failed == 0 { String::new() } else { format!(", {failed} not checked (plugin failure)") };
        println!("{} spec(s) checked: {valid} valid, {invalid} invalid{failures}", specs.len());
    }
    Ok(match (failed, invalid) {
        (0, 0) => ExitCode::SUCCESS,
        (0, _) => ExitCode::from(EXIT_INVALID),
        _ => ExitCode::from(EXIT_FAILURE),
    })
}

fn session_name(host: &ConnectorHost, job: &Job, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let specs = read_spec_file(file)?;
    let several = specs.len() > 1;
    let mut code = ExitCode::SUCCESS;
    for spec in &specs {
        let conn_id = conn_id_of(spec);
        match host.session_name(spec, job)? {
            Ok(name) if several => println!("{}\t{name}", sanitize(conn_id)),
            Ok(name) => println!("{name}"),
            Err(problems) => {
                for p in &problems {
                    eprintln!("{}", problem_line(conn_id, p));
                }
                code = ExitCode::from(EXIT_INVALID);
            }
        }
    }
    Ok(code)
}

/// One plugin's row for `plugins --json` and `describe --json`.
fn plugin_json(p: &lava_conn::PluginInfo, connector_type: &str) -> serde_json::Value {
    json!({
        "type": connector_type,
        "version": p.version,
        "contract": p.contract.as_str(),
        "source": p.source.to_string(),
        "sha256": p.sha256,
        "size_bytes": p.size_bytes,
        "compile_cache": p.compile_cache.as_str(),
        "fields": p.fields.iter().map(|(name, type_name, required, description)| json!({
            "name": name, "type": type_name, "required": required, "description": description,
        })).collect::<Vec<_>>(),
    })
}

fn plugin_source(p: &lava_conn::PluginInfo) -> String {
    match &p.source {
        lava_conn::PluginSource::BuiltIn(_) => "built-in".to_string(),
        lava_conn::PluginSource::File(path) => sanitize(&path.to_string_lossy()),
    }
}

fn plugins(host: &ConnectorHost, json: bool) {
    let plugins = host.plugins();
    if json {
        let rows: Vec<_> = plugins.iter().flat_map(|p| p.types.iter().map(move |t| plugin_json(p, t))).collect();
        let skipped: Vec<_> = host
            .skipped_plugins()
            .iter()
            .map(|s| json!({"source": sanitize(&s.path.to_string_lossy()), "reason": s.reason}))
            .collect();
        let out = json!({"plugins": rows, "skipped": skipped});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return;
    }
    println!(
        "{:<16} {:<10} {:<8} {:>9} {:<10} {:<40} SHA256",
        "TYPE", "VERSION", "CONTRACT", "SIZE", "CACHE", "SOURCE"
    );
    for p in &plugins {
        let source = plugin_source(p);
        for t in &p.types {
            println!(
                "{t:<16} {:<10} {:<8} {:>9} {:<10} {source:<40} {}",
                p.version,
                p.contract.as_str(),
                p.size_bytes,
                p.compile_cache.as_str(),
                p.sha256
            );
        }
    }
    for s in host.skipped_plugins() {
        println!("skipped: {}: {}", sanitize(&s.path.to_string_lossy()), s.reason);
    }
}

fn describe(host: &ConnectorHost, connector_type: &str, json: bool) -> anyhow::Result<ExitCode> {
    let wanted = connector_type.to_ascii_lowercase();
    let plugins = host.plugins();
    let Some(plugin) = plugins.iter().find(|p| p.types.contains(&wanted)) else {
        let known: Vec<&str> = plugins.iter().flat_map(|p| p.types.iter().map(String::as_str)).collect();
        anyhow::bail!(
            "no plugin serves connector type `{}`; known types: {} (see `lava-conn plugins` for skipped files)",
            sanitize(connector_type),
            known.join(", ")
        );
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&plugin_json(plugin, &wanted)).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    println!("type:          {wanted}");
    println!("version:       {}", plugin.version);
    println!("contract:      {}", plugin.contract.as_str());
    println!("source:        {}", plugin_source(plugin));
    println!("size:          {} bytes", plugin.size_bytes);
    println!("compile cache: {}", plugin.compile_cache.as_str());
    println!("sha256:        {}", plugin.sha256);
    println!();
    println!("{:<20} {:<22} {:<9} DESCRIPTION", "FIELD", "TYPE", "REQUIRED");
    for (name, type_name, required, description) in &plugin.fields {
        println!("{name:<20} {type_name:<22} {:<9} {description}", if *required { "yes" } else { "no" });
    }
    Ok(ExitCode::SUCCESS)
}
