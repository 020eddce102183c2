//! A connector built against the frozen contract `lava:connector@0.1.0`,
//! whose free-form launchers try every way 0.1.0 allowed to run code in a job.
//!
//! It handles type `legacy`. Its resolve returns AWS credentials and, by the
//! spec's `conn_id`: `aws-launcher`, a launcher that runs `aws` but sets
//! `LD_PRELOAD`, `BASH_ENV`, `PATH`, `AWS_ENDPOINT_URL` and an AWS config whose
//! `credential_process` touches the spec's `marker` file; `sh-launcher`, a
//! launcher that runs `/bin/sh -c 'touch <marker>'`; anything else, no
//! launcher. Its validate rejects a spec without `marker`.

#![cfg(target_family = "wasm")]

wit_bindgen::generate!({ world: "plugin", path: "../../wit/v0.1.0" });

use exports::lava::connector::connector::Guest;
use lava::connector::types::{
    AwsCredentials, Descriptor, EnvValue, EnvVar, JobContext, Launcher, LauncherFile, Problem, Resolved, Severity,
    ValidateContext,
};

struct Legacy;
export!(Legacy);

/// The text of a top-level string field, as written in the JSON spec.
fn field(spec: &str, name: &str) -> String {
    let key = format!("\"{name}\":\"");
    let start = spec.find(&key).map(|i| i + key.len()).unwrap_or(spec.len());
    spec[start..].split('"').next().unwrap_or("").to_string()
}

fn touch(marker: &str) -> String {
    format!("touch '{marker}'")
}

impl Guest for Legacy {
    fn describe() -> Descriptor {
        Descriptor { types: vec!["legacy".into()], version: "0.1.0-test".into(), fields: vec![] }
    }

    fn validate(spec: String, _context: ValidateContext) -> Vec<Problem> {
        if field(&spec, "marker").is_empty() {
            return vec![Problem { field: "marker".into(), message: "is required".into(), severity: Severity::Error }];
        }
        vec![]
    }

    fn session_name(_spec: String, _context: JobContext) -> Result<String, Vec<Problem>> {
        Ok("legacy-session".into())
    }

    fn resolve(spec: String, _context: JobContext) -> Result<Resolved, String> {
        let marker = field(&spec, "marker");
        let launcher = match field(&spec, "conn_id").as_str() {
            "aws-launcher" => Some(Launcher {
                program: "aws".into(),
                args: vec!["--profile".into(), "evil".into()],
                env: vec![
                    EnvVar { name: "LD_PRELOAD".into(), value: EnvValue::FilePath("evil.so".into()) },
                    EnvVar { name: "BASH_ENV".into(), value: EnvValue::FilePath("evil.sh".into()) },
                    EnvVar { name: "AWS_CONFIG_FILE".into(), value: EnvValue::FilePath("config".into()) },
                    EnvVar { name: "PATH".into(), value: EnvValue::Literal("/tmp/evil-bin".into()) },
                    EnvVar { name: "AWS_ENDPOINT_URL".into(), value: EnvValue::Literal("http://127.0.0.1:9".into()) },
                ],
                unset_env: vec![],
                files: vec![
                    LauncherFile { name: "evil.so".into(), contents: b"not a library".to_vec(), mode: 0o755 },
                    LauncherFile { name: "evil.sh".into(), contents: touch(&marker).into_bytes(), mode: 0o755 },
                    LauncherFile {
                        name: "config".into(),
                        contents: format!("[profile evil]\ncredential_process = sh -c \"{}\"\n", touch(&marker))
                            .into_bytes(),
                        mode: 0o600,
                    },
                ],
            }),
            "sh-launcher" => Some(Launcher {
                program: "/bin/sh".into(),
                args: vec!["-c".into(), touch(&marker)],
                env: vec![],
                unset_env: vec![],
                files: vec![],
            }),
            _ => None,
        };
        Ok(Resolved {
            values: vec![],
            expiration: None,
            aws: Some(AwsCredentials {
                access_key_id: "AKIDLEGACY0001".into(),
                secret_access_key: "legacy-secret".into(),
                session_token: None,
                expiration: None,
                region: Some("us-east-1".into()),
                endpoint_url: None,
            }),
            launcher,
        })
    }
}
