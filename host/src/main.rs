//! `lava-conn`: validate connection specs, derive session names, list plugins.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use lava_conn::aws::SdkBackend;
use lava_conn::output;
use lava_conn::specs::{conn_id_of, read_spec_file};
use lava_conn::{
    ConnectionStore, ConnectorHost, DynamoStore, FolderStore, Job, Problem, Severity, WorkerConfig,
};
use serde_json::json;

/// Exit code for invalid specs.
const EXIT_INVALID: u8 = 1;
/// Exit code for usage, I/O and plugin failures (clap uses 2 for usage errors too).
const EXIT_FAILURE: u8 = 2;

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
    /// 1 when any is invalid, 2 for usage or I/O errors.
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
        /// The realm.
        #[arg(long)]
        realm: Option<String>,
        /// The job id.
        #[arg(long)]
        job_id: Option<String>,
        /// Spec file, JSON or YAML. With several specs, prints `conn_id<TAB>name` lines.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Resolve a connection for a job and print what the job gets. Secrets go
    /// to stdout only; logs and errors go to stderr and never hold them.
    Resolve {
        /// The realm.
        #[arg(long)]
        realm: Option<String>,
        /// The job id (it names the STS session).
        #[arg(long)]
        job_id: Option<String>,
        /// Where specs come from: a folder of JSON/YAML files, or `dynamodb`
        /// (table `lava.<realm>.connections`). Default: the config's `connections`.
        #[arg(long, value_name = "DIR|dynamodb")]
        connections: Option<String>,
        /// Output: `json`, `env` (export lines), `credential-process` (AWS
        /// credential_process JSON) or `redshift` (UNLOAD/COPY authorization).
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// The connection to resolve.
        conn_id: String,
    },
    /// List the loaded connector plugins: type, version, source, sha256.
    Plugins {
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
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
        eprintln!(
            "lava-conn: skipped plugin {}: {}",
            skipped.path.display(),
            skipped.reason
        );
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
        Command::SessionName {
            realm,
            job_id,
            file,
        } => {
            let job = job(realm.clone(), job_id.clone(), &config)?;
            let host = host(&cli, config, None)?;
            session_name(&host, &job, file)
        }
        Command::Resolve {
            realm,
            job_id,
            connections,
            format,
            conn_id,
        } => {
            let job = job(realm.clone(), job_id.clone(), &config)?;
            let connections = connections
                .clone()
                .or_else(|| config.connections.clone())
                .context("--connections DIR|dynamodb (or `connections` in the worker config) is required")?;
            resolve(&cli, config, &connections, &job, conn_id, *format)
        }
        Command::Plugins { json } => {
            plugins(&host(&cli, config, None)?, *json);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn job(
    realm: Option<String>,
    job_id: Option<String>,
    config: &WorkerConfig,
) -> anyhow::Result<Job> {
    let realm = realm
        .or_else(|| config.realm.clone())
        .context("--realm (or LAVA_REALM) is required")?;
    let job_id = job_id
        .or_else(|| config.job_id.clone())
        .context("--job-id (or LAVA_JOB_ID) is required")?;
    Ok(Job { realm, job_id })
}

fn resolve(
    cli: &Cli,
    config: WorkerConfig,
    connections: &str,
    job: &Job,
    conn_id: &str,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let backend = SdkBackend::from_env().await;
        let store: Arc<dyn ConnectionStore> = if connections == "dynamodb" {
            Arc::new(DynamoStore::from_sdk_config(backend.sdk_config()))
        } else {
            Arc::new(FolderStore::open(Path::new(connections))?)
        };
        let host = host(cli, config, Some((backend, store)))?;
        let resolved = host.resolve(conn_id, job).await?;
        let aws = || {
            resolved.aws.as_ref().with_context(|| {
                format!("connection `{conn_id}` yields no AWS credentials for this format")
            })
        };
        let text = match format {
            Format::Json => format!("{:#}\n", output::json(conn_id, &resolved)),
            Format::Env => output::env_lines(aws()?),
            Format::CredentialProcess => format!("{}\n", output::credential_process(aws()?)),
            Format::Redshift => format!(
                "{}\n",
                output::redshift_clause(aws()?).map_err(anyhow::Error::msg)?
            ),
        };
        std::io::stdout().write_all(text.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    })
}

fn has_error(problems: &[Problem]) -> bool {
    problems.iter().any(|p| p.severity == Severity::Error)
}

fn problem_line(conn_id: &str, p: &Problem) -> String {
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

fn validate(
    host: &ConnectorHost,
    realm: Option<&str>,
    json: bool,
    files: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let mut specs = Vec::new();
    for file in files {
        for spec in read_spec_file(file)? {
            specs.push((file, spec));
        }
    }
    let mut report = Vec::with_capacity(specs.len());
    let mut invalid = 0;
    for (file, spec) in &specs {
        let problems = host.validate(spec, realm)?;
        let conn_id = conn_id_of(spec);
        let valid = !has_error(&problems);
        if !valid {
            invalid += 1;
        }
        if json {
            report.push(
                json!({ "file": file, "conn_id": conn_id, "valid": valid, "problems": problems }),
            );
        } else {
            for p in &problems {
                println!("{}", problem_line(conn_id, p));
            }
            if valid {
                println!("{conn_id}: ok");
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} spec(s) checked: {} valid, {invalid} invalid",
            specs.len(),
            specs.len() - invalid
        );
    }
    Ok(if invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

fn session_name(
    host: &ConnectorHost,
    job: &Job,
    file: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let specs = read_spec_file(file)?;
    let several = specs.len() > 1;
    let mut code = ExitCode::SUCCESS;
    for spec in &specs {
        let conn_id = conn_id_of(spec);
        match host.session_name(spec, job)? {
            Ok(name) if several => println!("{conn_id}\t{name}"),
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

fn plugins(host: &ConnectorHost, json: bool) {
    let plugins = host.plugins();
    if json {
        let rows: Vec<_> = plugins
            .iter()
            .flat_map(|p| {
                p.types.iter().map(move |t| {
                    json!({ "type": t, "version": p.version, "source": p.source.to_string(), "sha256": p.sha256 })
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return;
    }
    println!("{:<16} {:<10} {:<40} SHA256", "TYPE", "VERSION", "SOURCE");
    for p in &plugins {
        let source = match &p.source {
            lava_conn::PluginSource::BuiltIn(_) => "built-in".to_string(),
            lava_conn::PluginSource::File(path) => path.display().to_string(),
        };
        for t in &p.types {
            println!("{t:<16} {:<10} {source:<40} {}", p.version, p.sha256);
        }
    }
}
