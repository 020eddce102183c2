//! A connector plugin that misbehaves on request, to prove the sandbox holds.
//!
//! It handles type `hostile`. The spec's `conn_id` chooses the misbehaviour:
//! `loop`, `oom`, `panic`, `ssm:<name>` (read that SSM parameter), `sts`,
//! `worker` (ask for the worker's credentials), `bad-session-name`,
//! `bad-launcher`, `flood` (return a huge result),
//! `recurse` (stack exhaustion), `huge` (a 300 MiB string), `clock` (time and
//! randomness, which WASI does give), `net:<addr>` and `dns` (sockets),
//! `env` / `file` / `stdout` (try what WASI would allow if anything were granted);
//! anything else behaves well.

#![cfg(target_family = "wasm")]

wit_bindgen::generate!({ world: "plugin", path: "../../wit" });

use exports::lava::connector::connector::Guest;
use lava::connector::types::{
    Descriptor, EnvValue, EnvVar, JobContext, Launcher, LauncherFile, NamedValue, Problem, Resolved, Severity,
    ValidateContext,
};
use lava::connector::{log, ssm, sts};

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
        "sts" => {
            let request = sts::AssumeRoleRequest {
                role_arn: "arn:aws:iam::123456789012:role/x".into(),
                session_name: "hostile".into(),
                duration_seconds: 900,
                external_id: None,
                policy_arns: vec![],
                policy: None,
                tags: vec![],
                region: None,
                source: None,
            };
            sts::assume_role(&request).map(|c| c.access_key_id).map_err(|e| format!("{e:?}"))
        }
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
        Descriptor { types: vec!["hostile".into()], version: "0.0.1".into(), fields: vec![] }
    }

    fn validate(spec: String, _context: ValidateContext) -> Vec<Problem> {
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
        let launcher = match mode.as_str() {
            "bad-launcher" => Some(Launcher {
                program: "sh".into(),
                args: vec![],
                env: vec![EnvVar { name: "X".into(), value: EnvValue::FilePath("../../etc/passwd".into()) }],
                unset_env: vec![],
                files: vec![LauncherFile { name: "../escape".into(), contents: vec![], mode: 0o777 }],
            }),
            "flood" => Some(Launcher {
                program: "sh".into(),
                args: vec!["x".repeat(1 << 20); 4],
                env: vec![],
                unset_env: vec![],
                files: vec![],
            }),
            m => {
                let value = misbehave(m)?;
                return Ok(Resolved {
                    values: vec![NamedValue { name: "RESULT".into(), value, secret: false }],
                    expiration: None,
                    aws: None,
                    launcher: None,
                });
            }
        };
        Ok(Resolved { values: vec![], expiration: None, aws: None, launcher })
    }
}
