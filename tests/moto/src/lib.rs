//! A real moto server for tests: started on a free loopback port, seeded,
//! stopped when the test process exits, with a recording of every request it
//! served, so tests assert exactly what the host sent.

pub mod faults;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

/// How long moto may take to start and be seeded.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// The workspace's test venv (made by `./dev setup`), or `LAVA_CONN_TEST_VENV`.
pub fn venv() -> PathBuf {
    std::env::var_os("LAVA_CONN_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"))
}

/// A program of the test venv (`python`, `aws`), checked to exist.
pub fn venv_program(name: &str) -> PathBuf {
    let path = venv().join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: the emulator tests need the test venv; run `./dev setup` (it installs moto[server] and awscli)",
        path.display()
    );
    path
}

/// A seeded moto server and a folder holding one file of connection specs:
/// what most emulator test binaries share across their tests.
pub struct Fixture {
    /// The server.
    pub moto: Moto,
    /// The connection folder (`--connections`).
    pub connections: tempfile::TempDir,
}

impl Fixture {
    /// Start moto with `seed` and write `specs` (a list) to the connection folder.
    pub fn start(seed: &Value, specs: &Value) -> Fixture {
        let moto = Moto::start(seed);
        let connections = tempdir();
        std::fs::write(connections.path().join("connections.json"), specs.to_string()).expect("write the specs");
        Fixture { moto, connections }
    }
}

/// One request moto served.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request URL.
    pub url: String,
    /// `X-Amz-Target` for JSON protocols (SSM, DynamoDB), empty otherwise.
    pub target: String,
    /// Form parameters for query protocols (STS), in order.
    pub params: Vec<(String, String)>,
    /// The decoded body.
    pub body: String,
    /// The access key id the request was signed with (SigV4 `Credential=`).
    pub signed_by: Option<String>,
}

impl Request {
    /// The first form parameter called `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The form parameters as a map.
    pub fn param_map(&self) -> BTreeMap<String, String> {
        self.params.iter().cloned().collect()
    }
}

/// This process's scratch folder, `$TMPDIR/lava-conn-tests-<pid>`: every
/// test folder is made inside it, and it is removed when the process exits.
/// Fixtures held in `static`s are never dropped, so their `TempDir`s never
/// removed themselves: a passing `./dev test` left 16 folders (42 MB).
static SCRATCH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

extern "C" fn remove_scratch() {
    if let Some(path) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(path);
    }
}

fn scratch() -> &'static Path {
    SCRATCH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("lava-conn-tests-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("the tests' scratch folder");
        // SAFETY: registers a plain function, which only removes a folder.
        unsafe { libc::atexit(remove_scratch) };
        path
    })
}

/// A temporary folder for a test, inside this process's scratch folder: it
/// is removed when dropped, and with the whole scratch folder at exit.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("t").tempdir_in(scratch()).expect("a temporary folder")
}

/// A path inside this process's scratch folder (removed at exit).
pub fn scratch_path(name: &str) -> PathBuf {
    scratch().join(name)
}

/// A running, seeded moto server.
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    child: Mutex<Child>,
    _stdin: ChildStdin,
    recording: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    /// Start moto and seed it: the Python test kit's `serve_moto`, one
    /// seeder for authors' tests and ours (`seed_moto` gives the seed's shape).
    pub fn start(seed: &Value) -> Moto {
        let python = venv_program("python");
        let dir = tempdir();
        let seed_file = dir.path().join("seed.json");
        std::fs::write(&seed_file, seed.to_string()).expect("write the seed");
        let recording = dir.path().join("recording.jsonl");
        let log = std::fs::File::create(dir.path().join("moto.log")).expect("a log file");
        let mut child = Command::new(python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk/python-testkit/lava_conn_testkit.py"))
            .arg("serve-moto")
            .arg(&seed_file)
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start moto");
        let stdin = child.stdin.take().expect("moto's stdin");
        let stdout = child.stdout.take().expect("moto's stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let port = line.strip_prefix("ready ").map(str::trim).unwrap_or_else(|| {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.path().join("moto.log")).unwrap_or_default();
            panic!("moto did not start (said {line:?}); its log:\n{log}")
        });
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Mutex::new(child),
            _stdin: stdin,
            recording,
            _dir: dir,
        }
    }

    /// The raw recording file (one JSON object per request).
    pub fn recording_path(&self) -> &Path {
        &self.recording
    }

    /// Every request moto has served so far (seeding included).
    pub fn requests(&self) -> Vec<Request> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .map(|entry| {
                let raw = entry["body"].as_str().unwrap_or_default();
                let body = if entry["body_encoded"].as_bool() == Some(true) {
                    let bytes = base64::engine::general_purpose::STANDARD.decode(raw).unwrap_or_default();
                    String::from_utf8_lossy(&bytes).into_owned()
                } else {
                    raw.to_string()
                };
                let headers = &entry["headers"];
                let target = headers["X-Amz-Target"].as_str().or(headers["x-amz-target"].as_str()).unwrap_or_default();
                let params = if target.is_empty() {
                    form_urlencoded::parse(body.as_bytes()).into_owned().collect()
                } else {
                    Vec::new()
                };
                let signed_by = headers["Authorization"]
                    .as_str()
                    .and_then(|a| a.split("Credential=").nth(1))
                    .and_then(|c| c.split('/').next())
                    .map(str::to_string);
                let url = entry["url"].as_str().unwrap_or_default().to_string();
                Request { url, target: target.to_string(), params, body, signed_by }
            })
            .collect()
    }

    /// The STS `AssumeRole` requests made for `role_arn`.
    pub fn assume_role_requests(&self, role_arn: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.param("Action") == Some("AssumeRole") && r.param("RoleArn") == Some(role_arn))
            .collect()
    }

    /// The SSM `GetParameter` requests for `name`.
    pub fn get_parameter_requests(&self, name: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.target.ends_with(".GetParameter")
                    && serde_json::from_str::<Value>(&r.body).is_ok_and(|b| b["Name"] == name)
            })
            .collect()
    }

    /// SDK settings that talk to this server (us-east-1, test credentials).
    pub fn sdk_loader(&self) -> aws_config::ConfigLoader {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "moto"))
    }

    /// Environment for a child process (the CLI, the AWS CLI) to use this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
