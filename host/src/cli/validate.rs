//! `lava-conn validate`: check connection specs, every one of them.

use std::path::PathBuf;
use std::process::ExitCode;

use lava_conn::{WorkerConfig, conn_id_of, read_spec_file, sanitize};
use serde_json::json;

use super::common::{EXIT_FAILURE, EXIT_INVALID, Globals, has_error, host, problem_line, report_skipped};

/// Check connection specs. Exit 0 when all are valid (warnings allowed), 1
/// when any is invalid, 2 for usage or I/O errors or when a plugin failed on
/// any spec (every spec is still checked).
#[derive(clap::Args)]
pub struct Args {
    /// The realm the specs belong to (`access_keys` must be under `/lava/<realm>/`) [default: LAVA_REALM, or `realm` in the config].
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
    // A file that cannot be read is that file's outcome, and a plugin
    // failure a spec's: the others are still checked, in the order given.
    let mut report = Vec::new();
    let (mut specs, mut invalid, mut failed, mut unreadable) = (0, 0, 0, 0);
    for file in files {
        let read = match read_spec_file(file, max_spec_bytes) {
            Ok(read) => read,
            Err(error) => {
                unreadable += 1;
                let error = sanitize(&error.to_string());
                if json {
                    report.push(json!({ "file": file, "valid": false, "error": error }));
                } else {
                    eprintln!("lava-conn: {error}");
                }
                continue;
            }
        };
        for spec in &read {
            specs += 1;
            let conn_id = conn_id_of(spec);
            let problems = match host.validate(spec, realm) {
                Ok(problems) => problems,
                Err(error) => {
                    failed += 1;
                    if json {
                        let error = error.to_string();
                        report.push(json!({ "file": file, "conn_id": conn_id, "valid": false, "error": error }));
                    } else {
                        println!("{}: error: {error}", sanitize(conn_id));
                    }
                    continue;
                }
            };
            let valid = !has_error(&problems);
            invalid += usize::from(!valid);
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
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", summary(specs, invalid, failed, unreadable));
    }
    report_skipped(&host);
    Ok(match (failed + unreadable, invalid) {
        (0, 0) => ExitCode::SUCCESS,
        (0, _) => ExitCode::from(EXIT_INVALID),
        _ => ExitCode::from(EXIT_FAILURE),
    })
}

/// The summary line: every spec counted, and what could not be checked.
fn summary(specs: usize, invalid: usize, failed: usize, unreadable: usize) -> String {
    let mut line = format!("{specs} spec(s) checked: {} valid, {invalid} invalid", specs - invalid - failed);
    if failed > 0 {
        line.push_str(&format!(", {failed} not checked (plugin failure)"));
    }
    if unreadable > 0 {
        line.push_str(&format!("; {unreadable} file(s) could not be read"));
    }
    line
}
