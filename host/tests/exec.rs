//! `lava-conn exec` with the real AWS CLI against a real moto server.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use lava_test_moto::{Fixture, venv};
use serde_json::json;

const ROLE: &str = "arn:aws:iam::123456789012:role/exec-role";

/// Where the 0.1.0 plugin's launchers would leave their marks if any of
/// their code ran: one file per attack, none of which may ever appear.
fn marker(name: &str) -> PathBuf {
    lava_test_moto::scratch_path("exec-markers").join(name)
}

/// A plugin folder with the connector built against contract 0.1.0, and the
/// template (`ssm-secret`, which hands the job one secret value).
fn plugins() -> &'static tempfile::TempDir {
    static PLUGINS: OnceLock<tempfile::TempDir> = OnceLock::new();
    PLUGINS.get_or_init(|| {
        lava_conn_tests::plugin_dir(&[
            ("legacy.wasm", lava_conn_tests::LEGACY_V0_1_COMPONENT),
            ("ssm-secret.wasm", lava_conn_tests::TEMPLATE_COMPONENT),
        ])
    })
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        Fixture::start(
            &json!({
                "kms_aliases": ["alias/lava-prod-sys"],
                "parameters": [{"name": "/lava/prod/aws/keys", "value": "AKIDEXEC0001,execsecretvalue", "key": "alias/lava-prod-sys"},
                               {"name": "/lava/prod/db/password", "value": "s3cr3t-db-value"}],
                "roles": ["exec-role"],
            }),
            &json!([
                {"conn_id": "role", "type": "aws", "enabled": true, "role_arn": ROLE},
                {"conn_id": "keys", "type": "aws", "enabled": true, "access_keys": "/lava/prod/aws/keys"},
                {"conn_id": "aws-launcher", "type": "legacy", "marker": marker("aws-launcher")},
                {"conn_id": "sh-launcher", "type": "legacy", "marker": marker("sh-launcher")},
                {"conn_id": "db-secret", "type": "ssm-secret", "enabled": true, "parameter": "/lava/prod/db/password", "name": "DB_PASSWORD"},
                {"conn_id": "warehouse", "type": "postgres", "enabled": true, "host": "db.example.com", "port": "5432",
                 "database": "sales", "user": "etl", "password": "/lava/prod/db/password"},
            ]),
        )
    })
}

/// `lava-conn exec` with the worker's own (stale-looking) AWS variables set,
/// the venv's `aws` on PATH, and `workdir` for the private folders.
fn exec_command(workdir: &Path, conns: &[&str], script: &str) -> Command {
    let f = fixture();
    let path = format!("{}:{}", venv().join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new(env!("CARGO_BIN_EXE_lava-conn"));
    command
        .args(["exec", "--realm", "prod", "--job-id", "exec-job", "--connections"])
        .arg(f.connections.path())
        .arg("--workdir")
        .arg(workdir)
        .arg("--plugins")
        .arg(plugins().path());
    for conn in conns {
        command.args(["--conn", conn]);
    }
    command
        .args(["--", "sh", "-c", script])
        .envs(f.moto.env())
        // A stale profile must not reach the stand-in either.
        .env("AWS_PROFILE", "stale-profile")
        .env("PATH", path)
        .env("HOME", workdir)
        .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
        .env("LAVA_CONN_CONFIG", worker_config(workdir, ""));
    // Signals as a worker's own would be: not ignored. Tests run under
    // `nohup` or as a background job inherit SIGHUP and SIGINT ignored,
    // which lava-conn's command would inherit in turn, and a shell cannot
    // `trap` a signal ignored on entry.
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            for signal in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM] {
                libc::signal(signal, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    command
}

fn run(workdir: &Path, conns: &[&str], script: &str) -> Output {
    exec_command(workdir, conns, script).output().expect("lava-conn runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn private_folders(workdir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(workdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("conn."))
        .collect()
}

/// What an operator gives the template's type (a 0.3.0 plugin from the
/// folder gets no capability without its `[policy.<type>]` table).
const POLICY: &str = "[policy.ssm-secret]\nssm = [\"/lava/{realm}/\"]\n";

/// A worker configuration file in `workdir` with the tests' policy and `extra`.
fn worker_config(workdir: &Path, extra: &str) -> std::path::PathBuf {
    let file = workdir.join("lava-conn-test-worker.toml");
    std::fs::write(&file, format!("{extra}{POLICY}")).unwrap();
    file
}

#[test]
fn the_stand_in_runs_the_aws_cli_as_the_connection() {
    let workdir = lava_test_moto::tempdir();
    let out = run(
        workdir.path(),
        &["aws1=role", "keys=keys"],
        r#"$LAVA_CONN_AWS1 sts get-caller-identity --output text --query Arn &&
           echo "id=$LAVA_CONNID_AWS1 keys=$LAVA_CONNID_KEYS realm=$LAVA_REALM job=$LAVA_JOB_ID" &&
           $LAVA_CONN_KEYS configure get aws_access_key_id"#,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout}\nstderr: {}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "arn:aws:sts::123456789012:assumed-role/exec-role/lv-prod-exec-job");
    assert_eq!(lines[1], "id=role keys=keys realm=prod job=exec-job");
    assert_eq!(lines[2], "AKIDEXEC0001");
    assert!(private_folders(workdir.path()).is_empty(), "the private folders are removed");
}

#[test]
fn folders_and_files_are_private_while_the_command_runs() {
    let workdir = lava_test_moto::tempdir();
    let out = run(
        workdir.path(),
        &["aws1=role"],
        r#"dir=$(dirname "$LAVA_CONN_AWS1"); stat -c '%a %n' "$dir" "$LAVA_CONN_AWS1" "$dir/.aws_config" "$dir/.aws_credentials""#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let modes: Vec<String> =
        text(&out.stdout).lines().map(|l| l.split_whitespace().next().unwrap().to_string()).collect();
    assert_eq!(modes, vec!["700", "700", "600", "600"], "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("/conn.aws1."), "{}", text(&out.stdout));
    assert!(private_folders(workdir.path()).is_empty());
}

#[test]
fn a_connections_secret_value_reaches_the_job_as_a_private_file_never_in_its_environment() {
    let workdir = lava_test_moto::tempdir();
    let out = run(
        workdir.path(),
        &["db=db-secret"],
        r#"stat -c '%a' "$LAVA_CONN_DB_DB_PASSWORD_FILE" && cat "$LAVA_CONN_DB_DB_PASSWORD_FILE" && echo &&
           echo "in env: $(env | grep -c s3cr3t-db-value)""#,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "600\ns3cr3t-db-value\nin env: 0\n");
    assert!(!text(&out.stderr).contains("s3cr3t-db-value"), "nor in lava-conn's own output");
    assert!(private_folders(workdir.path()).is_empty(), "its folder is gone with the job");
}

#[test]
fn exit_codes_pass_through() {
    let workdir = lava_test_moto::tempdir();
    assert_eq!(run(workdir.path(), &["aws1=role"], "exit 7").status.code(), Some(7));
    assert_eq!(run(workdir.path(), &["aws1=role"], "kill -KILL $$").status.code(), Some(128 + 9));
    assert!(private_folders(workdir.path()).is_empty(), "removed after a signal too");
}

#[test]
fn signals_are_forwarded_and_folders_removed() {
    for (signal, name) in [(libc::SIGTERM, "TERM"), (libc::SIGINT, "INT"), (libc::SIGHUP, "HUP")] {
        let workdir = lava_test_moto::tempdir();
        let marker = workdir.path().join("started");
        let script = format!(
            "trap 'echo got-{name}; exit 3' {name}; touch {}; while true; do sleep 0.1; done",
            marker.display()
        );
        let child = exec_command(workdir.path(), &["aws1=role"], &script).stdout(Stdio::piped()).spawn().unwrap();
        let started = Instant::now();
        while !marker.exists() {
            assert!(started.elapsed() < Duration::from_secs(30), "the command never started");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(private_folders(workdir.path()).len(), 1, "the folder exists while the command runs");
        // SAFETY: kill(2) on our own child process.
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(text(&out.stdout).trim(), format!("got-{name}"), "the command got SIG{name}");
        assert_eq!(out.status.code(), Some(3), "and its exit code came back");
        assert!(private_folders(workdir.path()).is_empty());
    }
}

#[test]
fn a_command_that_cannot_be_run_is_126() {
    let workdir = lava_test_moto::tempdir();
    let not_executable = workdir.path().join("job.sh");
    std::fs::write(&not_executable, "#!/bin/sh\necho ran\n").unwrap();
    let f = fixture();
    let out = Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args(["exec", "--realm", "prod", "--job-id", "j", "--connections"])
        .arg(f.connections.path())
        .args(["--conn", "a=keys", "--"])
        .arg(&not_executable)
        .envs(f.moto.env())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("job.sh"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unresolvable_connection_stops_the_start() {
    let workdir = lava_test_moto::tempdir();
    let marker = workdir.path().join("ran");
    let out = run(workdir.path(), &["aws1=role", "bad=missing"], &format!("touch {}", marker.display()));
    assert_eq!(out.status.code(), Some(125));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad=missing") && stderr.contains("`missing` is not in"), "{stderr}");
    assert!(!marker.exists(), "the command did not run");
    assert!(private_folders(workdir.path()).is_empty());

    let out = run(workdir.path(), &["no-dash=role"], "true");
    assert_eq!(out.status.code(), Some(125), "a bad label fails before the job starts");
    assert!(text(&out.stderr).contains("`no-dash`"));
}

#[test]
fn a_missing_command_is_127() {
    let f = fixture();
    let out = Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args(["exec", "--realm", "prod", "--job-id", "j", "--connections"])
        .arg(f.connections.path())
        .args(["--conn", "a=keys", "--", "/nonexistent/program"])
        .envs(f.moto.env())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("/nonexistent/program"));
}

/// The embedding example (`docs/embedding.md`), as built by `cargo test` (examples are built, not run).
#[test]
fn the_embedding_example_runs() {
    let f = fixture();
    let example = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("examples/worker");
    assert!(example.exists(), "{} is built by cargo test", example.display());
    let out = Command::new(example)
        .arg(f.connections.path())
        .arg("role")
        .envs(f.moto.env())
        .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("Rust code runs as arn:aws:sts::123456789012:assumed-role/exec-role/lv-prod-example"),
        "{stdout}"
    );
    assert!(stdout.contains("job sees LAVA_CONN_AWS1=/") && stdout.contains("for role"), "{stdout}");
}

#[test]
fn a_contract_0_1_0_launcher_never_runs_plugin_code_in_the_job() {
    std::fs::create_dir_all(marker("")).unwrap();
    let workdir = lava_test_moto::tempdir();
    let out = run(
        workdir.path(),
        &["old=aws-launcher", "shell=sh-launcher"],
        r#"$LAVA_CONN_OLD configure get aws_access_key_id &&
           $LAVA_CONN_OLD sts get-caller-identity --output text --query Account &&
           echo "shell=${LAVA_CONN_SHELL:-none} preload=${LD_PRELOAD:-none} bash_env=${BASH_ENV:-none}" &&
           ls -A "$(dirname "$LAVA_CONN_OLD")" | tr '\n' ' ' && echo &&
           cat "$LAVA_CONN_OLD""#,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout}\nstderr: {}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "AKIDLEGACY0001", "the host's stand-in carries the plugin's credentials");
    assert_eq!(lines[1], "123456789012", "and the real AWS CLI works with them");
    assert_eq!(lines[2], "shell=none preload=none bash_env=none", "the shell launcher was refused");
    assert_eq!(
        lines[3].trim(),
        ".aws_config .aws_credentials .lava-conn.lock aws",
        "none of the plugin's files was written"
    );
    let script = lines[4..].join("\n");
    assert!(script.ends_with("exec aws --profile lava \"$@\""), "host text only: {script}");
    for attack in ["evil", "LD_PRELOAD", "BASH_ENV", "PATH=", "127.0.0.1:9"] {
        assert!(!script.contains(attack), "{attack} in {script}");
    }
    for name in ["aws-launcher", "sh-launcher"] {
        assert!(!marker(name).exists(), "the {name} plugin's code ran in the job");
    }
    let stderr = text(&out.stderr);
    assert!(stderr.contains("free-form launcher refused"), "the operator is told: {stderr}");
    assert!(private_folders(workdir.path()).is_empty());
}

#[test]
fn the_job_never_sees_the_workers_own_credentials() {
    let workdir = lava_test_moto::tempdir();
    let worker_variables = [
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "worker-session-token-1234"),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials"),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "worker-container-token-5678"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/token"),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/worker"),
    ];
    let script = "env | grep '^AWS_' | cut -d= -f1 | sort | tr '\\n' ' '; echo; echo \"profile=$AWS_PROFILE\"; \
                  $LAVA_CONN_AWS1 sts get-caller-identity --output text --query Arn";
    let mut command = exec_command(workdir.path(), &["aws1=role"], script);
    command.envs(worker_variables);
    let out = command.output().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let seen: Vec<&str> = stdout.lines().next().unwrap().split_whitespace().collect();
    // AWS_PROFILE is the job's own: its connection's profile, not the worker's.
    for variable in lava_conn::WORKER_CREDENTIAL_VARIABLES.iter().filter(|v| **v != "AWS_PROFILE") {
        assert!(!seen.contains(variable), "the job saw {variable}: {seen:?}");
    }
    assert_eq!(stdout.lines().nth(1), Some("profile=aws1"), "{stdout}");
    // Positive control: the settings the job may keep are still there, and the
    // worker itself had its credentials (it resolved the connection with them).
    assert!(seen.contains(&"AWS_ENDPOINT_URL") && seen.contains(&"AWS_CONFIG_FILE"), "{seen:?}");
    assert!(stdout.contains("assumed-role/exec-role/"), "{stdout}");

    // `pass_worker_credentials = true` hands them on, as the setting says.
    let config = workdir.path().join("worker.toml");
    std::fs::write(&config, format!("pass_worker_credentials = true\n{POLICY}")).unwrap();
    let mut command = exec_command(workdir.path(), &["aws1=role"], "echo \"$AWS_SESSION_TOKEN\"");
    command.envs(worker_variables).env("LAVA_CONN_CONFIG", &config);
    let out = command.output().unwrap();
    assert_eq!(text(&out.stdout).trim(), "worker-session-token-1234", "{}", text(&out.stderr));
}

#[test]
fn the_stand_in_clears_stale_credentials_before_it_runs_aws() {
    let workdir = lava_test_moto::tempdir();
    // A fake `aws` first on PATH: it shows what the real one would see.
    let bin = workdir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("aws");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"args=$*\"\nenv | grep '^AWS_' | sort\nstat -c 'creds=%a %s' \"$AWS_SHARED_CREDENTIALS_FILE\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    // The job sets stale credentials of its own before it calls the stand-in.
    let script = "AWS_ACCESS_KEY_ID=stale AWS_SECRET_ACCESS_KEY=stale AWS_SESSION_TOKEN=stale \
                  AWS_SECURITY_TOKEN=stale AWS_PROFILE=stale AWS_DEFAULT_PROFILE=stale \
                  AWS_CREDENTIAL_EXPIRATION=stale $LAVA_CONN_AWS1 s3 ls";
    let out = exec_command(workdir.path(), &["aws1=role"], script).env("PATH", path).output().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("args=--profile lava s3 ls"), "{stdout}");
    for stale in [
        "AWS_ACCESS_KEY_ID=",
        "AWS_SECRET_ACCESS_KEY=",
        "AWS_SESSION_TOKEN=",
        "AWS_SECURITY_TOKEN=",
        "AWS_PROFILE=",
        "AWS_DEFAULT_PROFILE=",
        "AWS_CREDENTIAL_EXPIRATION=",
    ] {
        assert!(!stdout.lines().any(|l| l.starts_with(stale)), "{stale} reached aws:\n{stdout}");
    }
    assert!(stdout.lines().any(|l| l.starts_with("AWS_CONFIG_FILE=") && l.ends_with("/.aws_config")), "{stdout}");
    assert!(stdout.contains("creds=600 0"), "an empty owner-only credentials file: {stdout}");
}

#[test]
fn a_job_never_runs_as_the_worker_whose_credentials_are_in_files() {
    let workdir = lava_test_moto::tempdir();
    // The worker's keys only in files: the credentials file named by a
    // variable, a profile in its config file, and `~/.aws/credentials`.
    let files = lava_test_moto::tempdir();
    let credentials = files.path().join("credentials");
    std::fs::write(&credentials, "[default]\naws_access_key_id = AKIDWORKERFILE\naws_secret_access_key = x\n").unwrap();
    let config = files.path().join("config");
    std::fs::write(&config, "[profile worker]\naws_access_key_id = AKIDWORKERPROFILE\naws_secret_access_key = x\n")
        .unwrap();
    std::fs::create_dir(workdir.path().join(".aws")).unwrap();
    // boto's own file, which botocore's default chain reads too.
    std::fs::write(
        workdir.path().join(".boto"),
        "[Credentials]\naws_access_key_id = AKIDWORKERBOTO\naws_secret_access_key = x\n",
    )
    .unwrap();
    std::fs::write(
        workdir.path().join(".aws/credentials"),
        "[default]\naws_access_key_id = AKIDWORKERHOME\naws_secret_access_key = x\n",
    )
    .unwrap();
    // What any SDK's default chain finds in the job: boto3's, and the AWS CLI's.
    let python = venv().join("bin/python");
    let script = format!(
        "{} -c 'import boto3; c = boto3.Session().get_credentials(); print(c and c.access_key)'; \
         aws sts get-caller-identity --query Arn --output text 2>&1 | head -c 200; echo; \
         AWS_PROFILE=worker aws sts get-caller-identity --query Arn --output text 2>&1 | head -c 200",
        python.display()
    );
    // The worker resolves with the file's keys (moto takes any).
    let keys_in_files = |command: &mut Command| {
        command
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials);
    };
    for (with_file_variables, home_only) in [(true, false), (false, true)] {
        let mut command = exec_command(workdir.path(), &["db=db-secret"], &script);
        command.env_remove("AWS_EC2_METADATA_DISABLED");
        if with_file_variables {
            keys_in_files(&mut command);
            command.env("AWS_CONFIG_FILE", &config);
        }
        let out = command.output().unwrap();
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
        assert_eq!(stdout.lines().next(), Some("None"), "boto3 found the worker's keys: {stdout}");
        assert!(!stdout.contains("AKIDWORKER") && !stdout.contains("arn:aws"), "{stdout}");
        assert!(stdout.contains("Unable to locate credentials"), "home only: {home_only}: {stdout}");
    }

    // Positive control: with the worker's credentials passed on, the job finds them.
    let settings = files.path().join("worker.toml");
    std::fs::write(&settings, format!("pass_worker_credentials = true\n{POLICY}")).unwrap();
    let mut command = exec_command(workdir.path(), &["db=db-secret"], &script);
    keys_in_files(&mut command);
    command.env("LAVA_CONN_CONFIG", &settings);
    let out = command.output().unwrap();
    assert_eq!(text(&out.stdout).lines().next(), Some("AKIDWORKERFILE"), "{}", text(&out.stderr));
}

/// Whether `pid` is a process that runs (not gone, not a zombie).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Wait up to 20 s for `done`.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(20), "{what}: not within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An `exec` whose job (and a child of the job) is running, with a
/// connection of long-lived keys: (exec, job pid, job's child pid).
fn a_running_job(workdir: &Path) -> (std::process::Child, i32, i32) {
    let pids = workdir.join("pids");
    let script = format!("sleep 300 & echo $$ $! > {}.tmp && mv {0}.tmp {0}; wait", pids.display());
    let exec = exec_command(workdir, &["keys=keys"], &script).stdin(Stdio::null()).spawn().unwrap();
    eventually("the job started", || pids.exists());
    let text = std::fs::read_to_string(&pids).unwrap();
    let (job, child) = text.trim().split_once(' ').unwrap();
    (exec, job.parse().unwrap(), child.parse().unwrap())
}

#[test]
fn a_killed_exec_takes_its_job_with_it_and_leaves_no_secret_behind() {
    let workdir = lava_test_moto::tempdir();
    let (mut exec, job, child) = a_running_job(workdir.path());
    let folders = private_folders(workdir.path());
    assert_eq!(folders.len(), 1, "the connection's folder, with its keys: {folders:?}");
    assert!(std::fs::read_to_string(folders[0].join(".aws_config")).unwrap().contains("execsecretvalue"));
    assert!(running(job) && running(child));
    exec.kill().unwrap(); // SIGKILL, as subprocess.run(timeout=…) sends
    exec.wait().unwrap();
    eventually("the job ended with exec", || !running(job));
    eventually("and so did the job's own child", || !running(child));
    eventually("the keys are gone from disk", || private_folders(workdir.path()).is_empty());
}

#[test]
fn what_a_killed_exec_and_its_guard_left_is_swept_by_the_next_exec() {
    let workdir = lava_test_moto::tempdir();
    let (mut exec, job, _) = a_running_job(workdir.path());
    let folder = private_folders(workdir.path()).remove(0);
    // Its guard is killed first, as a kill of the whole cgroup would.
    let guards: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.contains("\0guard\0") && cmdline.contains(&*folder.to_string_lossy())
        })
        .collect();
    assert_eq!(guards.len(), 1, "one guard watches the job's folders");
    // SAFETY: kill(2) of a process this test started (through exec).
    unsafe { libc::kill(guards[0], libc::SIGKILL) };
    eventually("the guard ended", || !running(guards[0]));
    exec.kill().unwrap();
    exec.wait().unwrap();
    eventually("the job ended with exec", || !running(job));
    assert!(folder.exists(), "nobody was left to remove it");
    let out = run(workdir.path(), &["aws1=role"], "true");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!folder.exists(), "the next exec in the work folder removed it");
    assert!(text(&out.stderr).contains("left behind by a lava-conn"), "and said so: {}", text(&out.stderr));
}

#[test]
fn every_failure_before_the_job_starts_exits_125() {
    let f = fixture();
    let connections = f.connections.path().to_str().unwrap();
    let job = ["exec", "--realm", "prod", "--job-id", "j", "--connections", connections];
    let with = |rest: &[&'static str]| -> Vec<&str> { job.iter().copied().chain(rest.iter().copied()).collect() };
    for args in [
        vec!["exec", "--job-id", "j", "--connections", connections, "--conn", "a=keys", "--", "true"],
        with(&["--conn", "a=keys", "true"]),
        with(&["--", "true"]),
        with(&["--conn", "a=keys", "--conn", "A=role", "--", "true"]),
        with(&["--conn", "a-b=keys", "--", "true"]),
        with(&["--nonsense", "--conn", "a=keys", "--", "true"]),
        vec![
            "--config",
            "/nonexistent.toml",
            "exec",
            "--realm",
            "prod",
            "--job-id",
            "j",
            "--conn",
            "a=keys",
            "--",
            "true",
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_lava-conn")).args(&args).envs(f.moto.env()).output().unwrap();
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", text(&out.stderr));
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_lava-conn")).args(["exec", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "help is not a failure");
    let out = Command::new(env!("CARGO_BIN_EXE_lava-conn")).args(["validate", "--nonsense"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "other commands keep clap's 2");
}

#[test]
fn a_job_uses_a_postgres_and_an_aws_connection_together() {
    let workdir = lava_test_moto::tempdir();
    // A psql that says what it was given: the real one is tested against a real server.
    let bin = workdir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let psql = bin.join("psql");
    std::fs::write(
        &psql,
        "#!/bin/sh\necho \"psql $PGUSER@$PGHOST:$PGPORT/$PGDATABASE app=$PGAPPNAME $*\"\ncat \"$PGPASSFILE\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&psql, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let script = format!(
        r#"PATH={}:$PATH; $LAVA_CONN_DB -c 'select 1' && $LAVA_CONN_AWS1 sts get-caller-identity --output text --query Arn"#,
        bin.display()
    );
    let out = run(workdir.path(), &["db=warehouse", "aws1=role"], &script);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout}\nstderr: {}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "psql etl@db.example.com:5432/sales app=lv-prod-exec-job --no-psqlrc --quiet --no-password --set ON_ERROR_STOP=on \
         --pset footer=off -c select 1"
    );
    assert_eq!(lines[1], "db.example.com:5432:sales:etl:s3cr3t-db-value", "the .pgpass, read from SSM");
    assert_eq!(lines[2], "arn:aws:sts::123456789012:assumed-role/exec-role/lv-prod-exec-job");
    assert!(private_folders(workdir.path()).is_empty(), "the stand-ins are gone after the job");
}
