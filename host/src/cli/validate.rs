//! `lava-conn validate`: check connection specs, every one of them.

use std::path::PathBuf;
use std::process::ExitCode;

use lava_conn::{WorkerConfig, conn_id_of, read_spec_file, sanitize};
use serde_json::json;

use super::common::{EXIT_FAILURE, EXIT_INVALID, Globals, has_error, host, problem_line};

/// Check connection specs. Exit 0 when all are valid (warnings allowed), 1
/// when any is invalid, 2 for usage or I/O errors or when a plugin failed on
/// any spec (every spec is still checked).
#[derive(clap::Args)]
pub struct Args {
    /// The realm the specs belong to (`access_keys` must be under `/lava/<realm>/`).
    #[arg(long)]
    realm: Option<String>,
    /// Print machine-readable JSON instead of one line per problem.
    #[arg(long)]
    json: bool,
    /// Spec files, JSON or YAML, each holding one spec or a list of specs.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

pub fn run(args: &Args, globals: &Globals, config: WorkerConfig) -> anyhow::Result<ExitCode> {
    let realm = args.realm.clone().or_else(|| config.realm.clone());
    let max_spec_bytes = config.max_spec_file_bytes();
    let host = host(globals, config, None)?;
    let (realm, json, files) = (realm.as_deref(), args.json, &args.files);
    let mut specs = Vec::new();
    for file in files {
        for spec in read_spec_file(file, max_spec_bytes)? {
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
