//! `lava-conn resolve`: a connection's credentials for a job, in the shape a
//! tool wants them. Secrets go to stdout only.

use std::process::ExitCode;

use anyhow::Context;
use lava_conn::{WorkerConfig, output, sanitize};

use super::common::{Globals, JobArgs, StoreArgs, aws_host, runtime};

/// Resolve a connection for a job and print what the job gets. Secrets go to
/// stdout only; logs and errors go to stderr and never hold them.
#[derive(clap::Args)]
pub struct Args {
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
}

/// Output formats of `resolve`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
    Env,
    CredentialProcess,
    Redshift,
}

pub fn run(args: &Args, globals: &Globals, config: WorkerConfig) -> anyhow::Result<ExitCode> {
    let job = &args.job.job(&config)?;
    let connections = &args.store.connections(&config)?;
    let (conn_id, format) = (&args.conn_id, args.format);
    let runtime = runtime()?;
    runtime.block_on(async {
        let (host, spec) = aws_host(globals, config, connections, Some((&job.realm, conn_id))).await?;
        let spec = spec.context("the spec was read while the host started")?;
        let resolved = host.resolve_spec(spec, job).await?;
        let aws = || {
            resolved.aws.as_ref().with_context(|| {
                format!(
                    "connection `{}` yields no AWS credentials, which --format {} prints; \
                         `--format json` prints what it yields, and `lava-conn exec` hands it to a job",
                    sanitize(conn_id),
                    clap::ValueEnum::to_possible_value(&format).map(|v| v.get_name().to_string()).unwrap_or_default()
                )
            })
        };
        let text = match format {
            Format::Json => format!("{:#}\n", output::json(conn_id, &resolved)),
            Format::Env => output::env_lines(aws()?),
            Format::CredentialProcess => format!("{}\n", output::credential_process(aws()?)),
            Format::Redshift => format!("{}\n", output::redshift_clause(aws()?).map_err(anyhow::Error::msg)?),
        };
        print!("{text}");
        Ok(ExitCode::SUCCESS)
    })
}
