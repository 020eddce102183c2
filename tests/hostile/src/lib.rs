//! A connector plugin that misbehaves on request, to prove the sandbox holds.
//!
//! It handles type `hostile`. The spec's `attack` field chooses the
//! misbehaviour, as a value of [`Attack`]: `"loop"`, or `{"ssm": "/name"}`
//! for one with an argument. A spec without one behaves well; an attack this
//! plugin does not know is a validation error, so a test cannot pass by
//! misspelling its attack. What `describe` does comes from the worker's
//! `CONN_APP_NAME` (the only worker text a plugin sees then), read as a
//! [`DescribeAttack`] when it is exactly `hostile-describe:<attack>`.

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

/// What the spec's `attack` asks for.
#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Attack {
    /// Spin forever.
    Loop,
    /// Allocate until stopped.
    Oom,
    /// Panic.
    Panic,
    /// Panic with a 100 KB message.
    PanicLong,
    /// Exhaust the call stack.
    Recurse,
    /// Exhaust the shadow stack in linear memory.
    RecurseBig,
    /// Build a 300 MiB string.
    Huge,
    /// Read the time and randomness (WASI does give them).
    Clock,
    /// Open a TCP connection to this address.
    Net(String),
    /// Look up a name.
    Dns,
    /// Assume a fixed role.
    Sts,
    /// Assume this role.
    Role(String),
    /// Send AssumeRole, carrying a granted secret, to this endpoint.
    StsEndpoint(String),
    /// AssumeRole with a region holding a line break.
    StsBadRegion,
    /// Bump a `static` and return it.
    Count,
    /// Sleep for an hour through WASI.
    Sleep,
    /// Read SSM without end.
    SsmLoop,
    /// Call STS without end.
    StsLoop,
    /// Ask for the worker's credentials.
    Worker,
    /// Read the environment and arguments.
    Env,
    /// Read a file.
    File,
    /// Print to stdout.
    Stdout,
    /// Write 100,000 log lines.
    Log,
    /// Read this SSM parameter.
    Ssm(String),
    /// Return 2,000 problems.
    ManyProblems,
    /// Return a problem full of escape sequences and bidi overrides.
    Terminal,
    /// Return a session name STS refuses.
    BadSessionName,
    /// Resolve to credentials that steer the job to this endpoint.
    Endpoint(String),
    /// Resolve to credentials whose region holds a `credential_process` line.
    ResolvedBadRegion,
    /// Resolve with an expiration past any date.
    ExpirationMax,
    /// Resolve to credentials with an expiration past any date.
    AwsExpirationMax,
    /// Ask for the AWS CLI stand-in without credentials.
    AwsCliWithoutCredentials,
    /// Resolve to a value whose name is not a variable name.
    BadValueName,
    /// Resolve to a 4 MiB value.
    Flood,
}

/// What `describe` does, from `CONN_APP_NAME = hostile-describe:<attack>`.
#[derive(serde::Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum DescribeAttack {
    /// Sleep for an hour.
    Sleep,
    /// List its type twice (in two cases).
    DuplicateTypes,
    /// Claim a type that is not a type name.
    BadType,
    /// Ask for SSM and the worker's credentials, and say what came back.
    AsksAws,
}

/// The spec's attack: none, one, or an error naming what is wrong.
fn attack(spec: &str) -> Result<Option<Attack>, String> {
    let spec: serde_json::Value = serde_json::from_str(spec).map_err(|e| format!("spec: {e}"))?;
    match spec.get("attack") {
        None => Ok(None),
        Some(attack) => serde_json::from_value(attack.clone()).map(Some).map_err(|e| format!("attack: {e}")),
    }
}

fn describe_attack() -> Option<DescribeAttack> {
    let template = config::get("CONN_APP_NAME")?;
    let name = template.strip_prefix("hostile-describe:")?;
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

/// A problem on the `attack` field.
fn problem(message: String) -> Problem {
    Problem { field: "attack".into(), message, severity: Severity::Error }
}

/// The attacks every call can make; the others answer as well-behaved.
fn misbehave(attack: &Attack) -> Result<String, String> {
    match attack {
        Attack::Loop => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        Attack::Oom => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
            }
        }
        Attack::Panic => panic!("hostile plugin panics on purpose"),
        Attack::PanicLong => panic!("hostile plugin panics at length: {}", "x".repeat(100_000)),
        Attack::Recurse => Ok(format!("{}", recurse(std::hint::black_box(1)))),
        Attack::RecurseBig => Ok(format!("{}", recurse_big_frames(std::hint::black_box(1)))),
        Attack::Huge => {
            // Hundreds of MiB: more than the memory cap lets it build.
            let huge = "x".repeat(300 << 20);
            Ok(huge)
        }
        Attack::Clock => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?;
            let mut seeds = std::collections::hash_map::RandomState::new();
            let _ = &mut seeds;
            Ok(format!("clock={} random=ok", now.as_secs() > 0))
        }
        Attack::Net(address) => match std::net::TcpStream::connect(address) {
            Ok(_) => Ok("connected".into()),
            Err(e) => Err(format!("net: {e}")),
        },
        Attack::Dns => match std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 80)) {
            Ok(addrs) => Ok(format!("resolved {}", addrs.count())),
            Err(e) => Err(format!("dns: {e}")),
        },
        Attack::Sts => sts::assume_role(&request("arn:aws:iam::123456789012:role/x"))
            .map(|c| c.access_key_id)
            .map_err(|e| format!("{e:?}")),
        Attack::Role(arn) => sts::assume_role(&request(arn)).map(|c| c.access_key_id).map_err(|e| format!("{e:?}")),
        Attack::StsEndpoint(endpoint) => {
            // Exfiltration: a granted secret in the tags, sent where the plugin says.
            let secret = ssm::get_parameter("/lava/prod/granted", true).unwrap_or_default();
            let mut r = request("arn:aws:iam::123456789012:role/x");
            r.tags = vec![sts::Tag { key: "stolen".into(), value: secret }];
            r.endpoint_url = Some(endpoint.clone());
            r.source = Some(credentials(None, None, None));
            sts::assume_role(&r).map(|c| c.access_key_id).map_err(|e| format!("{e:?}"))
        }
        Attack::StsBadRegion => {
            let mut r = request("arn:aws:iam::123456789012:role/x");
            r.region = Some(INJECTED_REGION.into());
            sts::assume_role(&r).map(|c| c.access_key_id).map_err(|e| format!("{e:?}"))
        }
        Attack::Count => {
            // State that would leak between calls if an instance were reused.
            static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            Ok(format!("calls={}", CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1))
        }
        Attack::Sleep => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            Ok("slept".into())
        }
        Attack::SsmLoop => loop {
            let _ = std::hint::black_box(ssm::get_parameter("/lava/prod/granted", true));
        },
        Attack::StsLoop => loop {
            let _ = std::hint::black_box(sts::assume_role(&request("arn:aws:iam::123456789012:role/x")));
        },
        Attack::Worker => {
            lava::connector::worker_credentials::get().map(|c| c.access_key_id).map_err(|e| format!("{e:?}"))
        }
        Attack::Env => Ok(format!(
            "env={:?} args={:?}",
            std::env::vars().collect::<Vec<_>>(),
            std::env::args().collect::<Vec<_>>()
        )),
        Attack::File => std::fs::read_to_string("/etc/passwd").map_err(|e| format!("file: {e}")),
        Attack::Stdout => {
            println!("hostile output on stdout");
            Ok("printed".into())
        }
        Attack::Log => {
            for i in 0..100_000 {
                log::log(log::Level::Info, &format!("hostile log line {i}"));
            }
            Ok("logged".into())
        }
        Attack::Ssm(name) => ssm::get_parameter(name, true).map_err(|e| format!("{e:?}")),
        // The attacks on one call's result (problems, session names, resolved
        // values) are made there; in any other call they behave.
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
        let attack = describe_attack();
        if attack == Some(DescribeAttack::Sleep) {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
        let types = match attack {
            Some(DescribeAttack::DuplicateTypes) => vec!["hostile".to_string(), "HOSTILE".into()],
            Some(DescribeAttack::BadType) => vec!["bad type!".into()],
            _ => vec!["hostile".to_string()],
        };
        let mut version = "0.0.1".to_string();
        if attack == Some(DescribeAttack::AsksAws) {
            // What describe gets when it asks for AWS, shown in its version.
            let ssm = ssm::get_parameter("/lava/prod/granted", true).err().map(|e| format!("{e:?}"));
            let worker = lava::connector::worker_credentials::get().err().map(|e| format!("{e:?}"));
            version = format!("ssm={} worker={}", ssm.unwrap_or_default(), worker.unwrap_or_default());
        }
        Descriptor { types, version, fields: vec![] }
    }

    fn validate(spec: String, _context: ValidateContext) -> Vec<Problem> {
        let attack = match attack(&spec) {
            Ok(Some(attack)) => attack,
            Ok(None) => return vec![],
            Err(message) => return vec![problem(message)],
        };
        match attack {
            Attack::ManyProblems => {
                let one =
                    Problem { field: "attack".into(), message: "one of many".into(), severity: Severity::Warning };
                vec![one; 2_000]
            }
            Attack::Terminal => vec![Problem {
                field: "attack\u{1b}[2K".into(),
                message: "\u{1b}]0;owned\u{7}\rall good\u{202E}lmth.exe\u{200B}".into(),
                severity: Severity::Error,
            }],
            attack => match misbehave(&attack) {
                Ok(_) => vec![],
                Err(message) => vec![problem(message)],
            },
        }
    }

    fn session_name(spec: String, _context: JobContext) -> Result<String, Vec<Problem>> {
        match attack(&spec).map_err(|message| vec![problem(message)])? {
            None => Ok("hostile-session".into()),
            Some(Attack::BadSessionName) => Ok("no spaces allowed here".into()),
            Some(attack) => {
                misbehave(&attack).map(|_| "hostile-session".into()).map_err(|message| vec![problem(message)])
            }
        }
    }

    fn resolve(spec: String, _context: JobContext) -> Result<Resolved, String> {
        let resolved = |aws: Option<AwsCredentials>, expiration: Option<u64>, launcher: Option<LauncherKind>| {
            Ok(Resolved { values: vec![], expiration, aws, launcher })
        };
        let value = |name: &str, value: String| {
            Ok(Resolved {
                values: vec![NamedValue { name: name.into(), value, secret: false }],
                expiration: None,
                aws: None,
                launcher: None,
            })
        };
        match attack(&spec)? {
            None => value("RESULT", "fine".into()),
            Some(Attack::Endpoint(endpoint)) => {
                resolved(Some(credentials(Some(endpoint), None, None)), None, Some(LauncherKind::AwsCli))
            }
            Some(Attack::ResolvedBadRegion) => {
                resolved(Some(credentials(None, Some(INJECTED_REGION.into()), None)), None, Some(LauncherKind::AwsCli))
            }
            Some(Attack::ExpirationMax) => resolved(None, Some(u64::MAX), None),
            Some(Attack::AwsExpirationMax) => resolved(Some(credentials(None, None, Some(u64::MAX))), None, None),
            Some(Attack::AwsCliWithoutCredentials) => resolved(None, None, Some(LauncherKind::AwsCli)),
            Some(Attack::BadValueName) => value("NOT A NAME", "v".into()),
            Some(Attack::Flood) => value("FLOOD", "x".repeat(4 << 20)),
            Some(attack) => value("RESULT", misbehave(&attack)?),
        }
    }
}
