//! lava's `aws` connector: plain Rust logic with native tests, and a thin
//! component shell (`component.rs`) that exposes it through the WIT contract.

pub mod resolve;
pub mod spec;

use lava_rules::session;

#[cfg(target_family = "wasm")]
mod component;

use resolve::{Capabilities, Credentials};
use spec::{Problem, Settings, Severity};

/// What a job is, as far as the connector cares.
#[derive(Clone, Debug)]
pub struct Job<'a> {
    pub realm: &'a str,
    pub job_id: &'a str,
    pub conn_id: &'a str,
    pub session_name_template: &'a str,
}

/// Check a spec; an empty list means valid.
pub fn validate(json: &str, settings: &Settings) -> Vec<Problem> {
    spec::check(json, settings).problems
}

/// The role-session name for the spec in this job, or what prevents one.
pub fn session_name(
    json: &str,
    job: &Job<'_>,
    settings: &Settings,
) -> Result<String, Vec<Problem>> {
    let checked = spec::check(json, settings);
    if checked.spec.is_none() {
        return Err(errors_only(checked.problems));
    }
    session::session_name(
        job.session_name_template,
        job.realm,
        job.job_id,
        job.conn_id,
    )
    .map_err(|message| {
        vec![Problem {
            field: "CONN_APP_NAME".into(),
            message,
            severity: Severity::Error,
        }]
    })
}

/// Resolve the spec for the job through the host's capabilities.
pub fn resolve(
    json: &str,
    job: &Job<'_>,
    settings: &Settings,
    caps: &dyn Capabilities,
) -> Result<Credentials, String> {
    let checked = spec::check(json, settings);
    let Some(spec) = checked.spec else {
        let problems: Vec<String> = errors_only(checked.problems)
            .into_iter()
            .map(|p| {
                if p.field.is_empty() {
                    p.message
                } else {
                    format!("{}: {}", p.field, p.message)
                }
            })
            .collect();
        return Err(format!("the spec is invalid: {}", problems.join("; ")));
    };
    let name = session::session_name(
        job.session_name_template,
        job.realm,
        job.job_id,
        job.conn_id,
    )
    .map_err(|message| format!("CONN_APP_NAME: {message}"))?;
    resolve::resolve(&spec, &name, caps)
}

fn errors_only(problems: Vec<Problem>) -> Vec<Problem> {
    problems
        .into_iter()
        .filter(|p| p.severity == Severity::Error)
        .collect()
}
