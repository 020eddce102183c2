//! The job's credential server: a Unix socket in the job's owner-only folder
//! that answers a profile's `credential_process` with the connection's
//! current credentials, resolved through the host's cache (so again near
//! expiry, for as long as the job runs).
//!
//! Who may ask: only processes that can enter the job's 0700 folder (its
//! user), checked again by the peer's uid; and only for this job's labels.
//! One request per connection: a line naming the label, answered with one
//! line of JSON, within bounds on size, time and concurrency.

use std::collections::BTreeSet;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

use super::output::credential_process;
use crate::error::HostError;
use crate::results::Resolved;
use crate::sanitizer::sanitize;

/// Resolves a label of the job through the host's cache.
pub(crate) type ResolveLabel =
    Arc<dyn Fn(&str) -> Pin<Box<dyn Future<Output = Result<Arc<Resolved>, HostError>> + Send>> + Send + Sync>;

/// Longest request line: a label (`\w+`, at most a few dozen bytes in practice).
const MAX_REQUEST_BYTES: u64 = 256;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests served at once; more wait for a turn. A job runs a handful of
/// SDK clients, and a resolve shares one round per connection anyway.
const MAX_CONCURRENT_REQUESTS: usize = 32;

/// The running server; dropping it stops it.
pub(crate) struct CredentialServer {
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for CredentialServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialServer").finish_non_exhaustive()
    }
}

impl Drop for CredentialServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listen on `socket` (in an owner-only folder) for requests for `labels`.
/// Needs a tokio runtime: the server is a task on it.
pub(crate) fn start(
    socket: &Path,
    labels: BTreeSet<String>,
    resolve: ResolveLabel,
) -> std::io::Result<CredentialServer> {
    let listener = UnixListener::bind(socket)?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    // SAFETY: geteuid(2) cannot fail and has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let labels = Arc::new(labels);
    let turns = Arc::new(Semaphore::new(MAX_CONCURRENT_REQUESTS));
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            if stream.peer_cred().map(|c| c.uid()).ok() != Some(uid) {
                tracing::warn!("credential request from another user refused");
                continue;
            }
            let Ok(turn) = turns.clone().acquire_owned().await else {
                return;
            };
            let (labels, resolve) = (labels.clone(), resolve.clone());
            tokio::spawn(async move {
                serve(stream, &labels, &resolve).await;
                drop(turn);
            });
        }
    });
    Ok(CredentialServer { task })
}

/// One request: read the label, answer with credentials or an error.
async fn serve(mut stream: UnixStream, labels: &BTreeSet<String>, resolve: &ResolveLabel) {
    let mut request = Vec::new();
    let mut limited = (&mut stream).take(MAX_REQUEST_BYTES);
    let answer = match tokio::time::timeout(REQUEST_TIMEOUT, limited.read_to_end(&mut request)).await {
        Ok(Ok(_)) => answer(&String::from_utf8_lossy(&request), labels, resolve).await,
        Ok(Err(_)) | Err(_) => return,
    };
    let _ = stream.write_all(format!("{answer}\n").as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The reply to a request for `label`: `credential_process` JSON (Version 1),
/// or `{"error": ...}` that the helper prints for the SDK to show.
async fn answer(request: &str, labels: &BTreeSet<String>, resolve: &ResolveLabel) -> String {
    let label = request.trim();
    if !labels.contains(label) {
        let known: Vec<&str> = labels.iter().map(String::as_str).collect();
        return json!({"error": format!(
            "connection label `{}` is not one of this job's ({})", sanitize(label), known.join(", ")
        )})
        .to_string();
    }
    match resolve(label).await {
        Ok(resolved) => match &resolved.aws {
            Some(aws) => credential_process(aws),
            None => json!({"error": format!("connection `{label}` yields no AWS credentials")}).to_string(),
        },
        Err(error) => json!({"error": format!("connection `{label}`: {error}")}).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::AwsCredentials;

    fn resolver() -> ResolveLabel {
        Arc::new(|label: &str| {
            let label = label.to_string();
            Box::pin(async move {
                if label == "broken" {
                    return Err(HostError::Resolve { conn_id: "c".into(), message: "no such role".into() });
                }
                Ok(Arc::new(Resolved {
                    values: vec![],
                    expiration: None,
                    aws: Some(AwsCredentials {
                        access_key_id: format!("AKID-{label}"),
                        secret_access_key: "s".to_string().into(),
                        session_token: None,
                        expiration: None,
                        region: None,
                        endpoint_url: None,
                    }),
                    launcher: None,
                    login: None,
                }))
            })
        })
    }

    async fn ask(socket: &Path, request: &[u8]) -> String {
        let mut stream = UnixStream::connect(socket).await.unwrap();
        stream.write_all(request).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        reply
    }

    #[tokio::test]
    async fn only_the_jobs_own_labels_are_served() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s");
        let labels = BTreeSet::from(["aws1".to_string(), "broken".to_string()]);
        let server = start(&socket, labels, resolver()).unwrap();
        let reply: serde_json::Value = serde_json::from_str(&ask(&socket, b"aws1\n").await).unwrap();
        assert_eq!((reply["Version"].as_i64(), reply["AccessKeyId"].as_str()), (Some(1), Some("AKID-aws1")));
        let reply = ask(&socket, b"other").await;
        assert!(reply.contains("`other` is not one of this job's (aws1, broken)"), "{reply}");
        let reply = ask(&socket, b"broken\n").await;
        assert!(reply.contains("\"error\"") && reply.contains("no such role"), "{reply}");
        // A request past the size bound is cut there (the rest is never
        // read: the client may see its connection reset), and the server
        // goes on serving.
        let mut stream = UnixStream::connect(&socket).await.unwrap();
        let _ = stream.write_all(&[b'a'; 10_000]).await;
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply).await;
        assert!(reply.is_empty() || reply.contains("is not one of this job's"), "{reply}");
        assert!(ask(&socket, b"aws1").await.contains("AKID-aws1"));
        assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
        drop(server);
        tokio::task::yield_now().await;
        // Stopped with its job: the socket no longer answers.
        let late = async {
            let mut stream = UnixStream::connect(&socket).await?;
            stream.write_all(b"aws1\n").await?;
            stream.shutdown().await?;
            let mut reply = String::new();
            stream.read_to_string(&mut reply).await?;
            Ok::<_, std::io::Error>(reply)
        };
        assert!(late.await.map_or(true, |r| r.is_empty()), "a stopped server answered");
    }
}
