//! Fake client programs for the stand-ins' tests: a `psql`, `mysql`, `ssh`,
//! … on `PATH` that records its arguments, environment and standard input
//! (the files they name stay in the connection's folder to be read), in a
//! folder whose own name is hostile shell text, so that a stand-in that
//! quotes a path wrongly runs it.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Shell text that, if a stand-in ever let the shell read it as code,
/// would create `pwned` beside it.
pub(crate) const HOSTILE_NAME: &str = "it's $(touch pwned) `touch pwned` \"q\" ;touch pwned";

/// A password holding every character a file format or a shell treats
/// specially.
pub(crate) const HOSTILE_PASSWORD: &str = "p:a\\s#s\"w'o$(touch pwned)\n r;d ";

/// What a fake client saw.
#[derive(Debug)]
pub(crate) struct Recorded {
    /// Its arguments, `$0` first.
    pub args: Vec<String>,
    /// Its environment.
    pub env: BTreeMap<String, String>,
    /// What it read on standard input.
    pub stdin: String,
}

impl Recorded {
    /// A variable of its environment.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(String::as_str)
    }
}

/// A scratch folder with `bin/` (the fakes), `record/` and `conn/` (where
/// a stand-in is written), all under a hostile name.
pub(crate) struct Fakes {
    _root: tempfile::TempDir,
    top: PathBuf,
}

/// The fake: `--version` prints `$FAKE_VERSION`; anything else is recorded.
const FAKE: &str = r#"#!/bin/sh
case "$1" in --version) printf '%s\n' "${FAKE_VERSION:-fake 1.0}"; exit 0;; esac
printf '%s\0' "$0" "$@" > "$FAKE_RECORD/args"
env -0 > "$FAKE_RECORD/env"
# A client such as ssh under git gets a pipe that stays open: read only when asked.
if [ -n "${FAKE_READ_STDIN:-}" ]; then cat > "$FAKE_RECORD/stdin"; fi
"#;

impl Fakes {
    /// Fakes named `names`, under [`HOSTILE_NAME`].
    pub fn new(names: &[&str]) -> Self {
        Self::named(names, HOSTILE_NAME)
    }

    /// Fakes named `names`, under a folder called `folder`.
    pub fn named(names: &[&str], folder: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        let top = root.path().join(folder);
        for sub in ["bin", "record", "conn"] {
            std::fs::create_dir_all(top.join(sub)).unwrap();
        }
        std::fs::set_permissions(top.join("conn"), std::fs::Permissions::from_mode(0o700)).unwrap();
        for name in names {
            let path = top.join("bin").join(name);
            std::fs::write(&path, FAKE).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Fakes { _root: root, top }
    }

    /// Where a stand-in is to be written.
    pub fn folder(&self) -> PathBuf {
        self.top.join("conn")
    }

    /// Run `script` with `args`, `stdin` (recorded when not empty) and
    /// `env`, the fakes first on `PATH`, in an environment of nothing else.
    /// Panics if it fails or if anything created `pwned`.
    pub fn run(&self, script: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Recorded {
        let (recorded, out) = self.run_any(script, args, stdin, env);
        assert!(out.status.success(), "{}: {}", script.display(), String::from_utf8_lossy(&out.stderr));
        recorded
    }

    /// As [`Fakes::run`], whatever the script's exit status (a `git`
    /// whose fake `ssh` answers nothing fails after running it).
    pub fn run_any(
        &self,
        script: &Path,
        args: &[&str],
        stdin: &str,
        env: &[(&str, &str)],
    ) -> (Recorded, std::process::Output) {
        let record = self.top.join("record");
        let path = format!("{}:/usr/local/bin:/usr/bin:/bin", self.top.join("bin").display());
        let mut child = spawn(
            Command::new(script)
                .args(args)
                .env_clear()
                .env("PATH", path)
                .env("FAKE_RECORD", &record)
                .envs(env.iter().copied())
                .envs((!stdin.is_empty()).then_some(("FAKE_READ_STDIN", "1")))
                .current_dir(&self.top)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        self.assert_nothing_ran();
        let read = |name: &str| std::fs::read(record.join(name)).unwrap_or_default();
        let split = |bytes: Vec<u8>| -> Vec<String> {
            bytes
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        };
        let env = split(read("env"))
            .into_iter()
            .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let stdin = String::from_utf8_lossy(&read("stdin")).into_owned();
        (Recorded { args: split(read("args")), env, stdin }, out)
    }

    /// Nothing a hostile name or value held was run as code.
    pub fn assert_nothing_ran(&self) {
        for place in [self.top.clone(), self.top.join("conn"), self.top.parent().unwrap().to_path_buf()] {
            assert!(!place.join("pwned").exists(), "a value was run as shell code in {}", place.display());
        }
    }
}

/// AWS credentials for the tests, in `region`.
pub(crate) fn credentials(region: Option<&str>) -> crate::results::AwsCredentials {
    crate::results::AwsCredentials {
        access_key_id: "AKID".into(),
        secret_access_key: "SECRET".to_string().into(),
        session_token: Some("TOKEN".to_string().into()),
        expiration: None,
        region: region.map(str::to_string),
        endpoint_url: None,
    }
}

/// Each file in `folder` and its mode, by name.
pub(crate) fn modes(folder: &Path) -> BTreeMap<String, u32> {
    std::fs::read_dir(folder)
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().permissions().mode() & 0o777))
        .collect()
}

/// Spawn `command`, again while the kernel says its file is busy: a test
/// thread that forks while another has a script open for writing hands the
/// child that descriptor until it execs (`ETXTBSY`), a race of tests
/// writing and running scripts in parallel, not of the stand-ins.
pub(crate) fn spawn(command: &mut Command) -> std::process::Child {
    for _ in 0..100 {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            spawned => return spawned.unwrap(),
        }
    }
    panic!("{command:?} stayed busy");
}

/// Run `command` to its end with no input (see [`spawn`]).
pub(crate) fn output(command: &mut Command) -> std::process::Output {
    spawn(command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped())).wait_with_output().unwrap()
}
