//! A worker embedding lava-conn: credentials for Rust code, and a job's
//! environment with `LAVA_CONN_<LABEL>` stand-ins.
//!
//! `cargo run -p lava-conn --example worker -- CONN_DIR CONN_ID [REALM] [JOB_ID]`
//! with the worker's own AWS credentials in the environment (or
//! `AWS_ENDPOINT_URL` pointing at an emulator).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use lava_conn::SdkBackend;
use lava_conn::{ConnectorHost, FolderStore, Job, WorkerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(conn_dir), Some(conn_id)) = (args.next(), args.next()) else {
        eprintln!("usage: worker CONN_DIR CONN_ID [REALM] [JOB_ID]");
        std::process::exit(2);
    };
    let job = Job {
        realm: args.next().unwrap_or_else(|| "prod".into()),
        job_id: args.next().unwrap_or_else(|| "example".into()),
    };

    let host = ConnectorHost::builder()
        .config(WorkerConfig::load(None, std::env::vars())?)
        .backend(SdkBackend::from_env().await)
        .store(Arc::new(FolderStore::open(&PathBuf::from(conn_dir))?))
        .build()?;

    // Rust code: an SdkConfig whose credentials refresh through the host's cache.
    let sdk = host.sdk_config(&conn_id, &job).await?;
    let who = aws_sdk_sts::Client::new(&sdk).get_caller_identity().send().await?;
    println!("Rust code runs as {}", who.arn().unwrap_or_default());

    // A job: its environment points at the stand-in in a private folder.
    let workdir = tempfile::tempdir()?;
    let connections = BTreeMap::from([("aws1".to_string(), conn_id.clone())]);
    let env = host.prepare_job(&job, &connections, workdir.path()).await?;
    let mut job_command = std::process::Command::new("sh");
    job_command.arg("-c").arg("echo \"job sees LAVA_CONN_AWS1=$LAVA_CONN_AWS1 for $LAVA_CONNID_AWS1\"");
    // The job's environment, less the worker's own AWS credential variables.
    let status = env.apply(&mut job_command).status()?;
    env.cleanup()?;
    // `exit` runs no destructors: the work folder is removed before it.
    workdir.close()?;
    std::process::exit(status.code().unwrap_or(1));
}
