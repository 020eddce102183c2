//! `lava-conn session-name`: the STS role-session name for specs in a job.

use std::path::PathBuf;
use std::process::ExitCode;

use lava_conn::{WorkerConfig, conn_id_of, read_spec_file, sanitize};

use super::common::{EXIT_INVALID, Globals, JobArgs, host, problem_line};

/// Print the STS role-session name for the spec(s) in FILE.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    job: JobArgs,
    /// Spec file, JSON or YAML. With several specs, prints `conn_id<TAB>name` lines.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub fn run(args: &Args, globals: &Globals, config: WorkerConfig) -> anyhow::Result<ExitCode> {
    let job = args.job.job(&config)?;
    let max_spec_bytes = config.max_spec_file_bytes();
    let host = host(globals, config, None)?;
    let (job, file) = (&job, &args.file);
    let specs = read_spec_file(file, max_spec_bytes)?;
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
    super::common::report_skipped(&host);
    Ok(code)
}
