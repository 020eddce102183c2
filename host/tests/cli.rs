//! The `lava-conn` binary as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn lava_conn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args(args)
        .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
        .env_remove("LAVA_CONN_PLUGINS")
        .env_remove("LAVA_REALM")
        .env_remove("LAVA_JOB_ID")
        .output()
        .expect("lava-conn runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn validate_exit_codes() {
    let good = examples().join("connections.yaml");
    let bad = examples().join("bad-connection.json");
    let out = lava_conn(&["validate", "--realm", "prod", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("warehouse-loader: ok"));

    let out = lava_conn(&["validate", "--realm", "prod", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("broken: regoin: error: is not a field"), "{text}");
    assert!(text.contains("broken: enabled: error:"), "{text}");
    assert!(text.contains("3 spec(s) checked: 2 valid, 1 invalid"), "{text}");

    let out = lava_conn(&["validate", "/nonexistent/spec.json"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/spec.json"), "{stderr}");
    assert_eq!(stderr.matches("No such file").count(), 1, "the cause once, not doubled: {stderr}");

    let out = lava_conn(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn validate_reports_a_malformed_file_among_the_others_and_goes_on() {
    let dir = lava_test_moto::tempdir();
    let malformed = dir.path().join("malformed.json");
    std::fs::write(&malformed, r#"{"conn_id": "a", "type": "aws", "#).unwrap();
    let good = examples().join("connections.yaml");
    let missing = dir.path().join("missing.yaml");
    let files = [malformed.to_str().unwrap(), good.to_str().unwrap(), missing.to_str().unwrap()];
    let out = lava_conn(&[&["validate", "--realm", "prod"][..], &files].concat());
    assert_eq!(out.status.code(), Some(2), "a file that cannot be read is a failure");
    let (text, stderr) = (stdout(&out), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(text.contains("warehouse-loader: ok"), "the good file is still checked: {text}");
    assert!(text.contains("; 2 file(s) could not be read"), "{text}");
    assert!(stderr.contains("malformed.json: invalid JSON") && stderr.contains("missing.yaml"), "{stderr}");

    let out = lava_conn(&[&["validate", "--json", "--realm", "prod"][..], &files].concat());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let entries = report.as_array().unwrap();
    let files: Vec<&str> = entries.iter().map(|e| e["file"].as_str().unwrap()).collect();
    assert!(files[0].ends_with("malformed.json") && files.last().unwrap().ends_with("missing.yaml"), "{files:?}");
    assert!(entries[0]["error"].as_str().unwrap().contains("invalid JSON"), "{report}");
    assert_eq!(entries.iter().filter(|e| e["valid"] == true).count(), entries.len() - 2, "{report}");
}

#[test]
fn a_file_that_is_not_a_component_is_skipped_saying_what_it_is_and_the_fix() {
    let dir = lava_test_moto::tempdir();
    std::fs::write(dir.path().join("garbage.wasm"), b"garbage!").unwrap();
    std::fs::write(dir.path().join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let spec = dir.path().join("mine.json");
    std::fs::write(&spec, r#"{"conn_id": "c", "type": "mine", "enabled": true}"#).unwrap();
    let out = lava_conn(&["--plugins", dir.path().to_str().unwrap(), "validate", spec.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("core.wasm: a core WebAssembly module, not a component: build it with `--target wasm32-wasip2`"),
        "{stderr}"
    );
    assert!(stderr.contains("garbage.wasm: not a WebAssembly file"), "{stderr}");
    assert!(!stderr.contains("0x"), "no byte dumps: {stderr}");
    assert_eq!(stderr.matches("garbage.wasm").count(), 1, "said once: {stderr}");
    let text = stdout(&out);
    assert!(
        text.contains("plugin files were skipped, one may be meant for it") && text.contains("core.wasm"),
        "{text}"
    );
}

#[test]
fn validate_json_is_machine_readable() {
    let bad = examples().join("bad-connection.json");
    let out = lava_conn(&["validate", "--json", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report[0]["conn_id"], "broken");
    assert_eq!(report[0]["valid"], false);
    let fields: Vec<&str> =
        report[0]["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"role_arn") && fields.contains(&"duration"), "{fields:?}");
}

#[test]
fn session_names_for_a_file() {
    let good = examples().join("connections.yaml");
    let out = lava_conn(&["session-name", "--realm", "prod", "--job-id", "nightly/ÉTL", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "warehouse-loader\tlv-prod-nightly.ETL\nlegacy-keys\tlv-prod-nightly.ETL\n");

    let bad = examples().join("bad-connection.json");
    let out = lava_conn(&["session-name", "--realm", "prod", "--job-id", "j", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken: role_arn"));

    let out = lava_conn(&["session-name", "--job-id", "j", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--realm"));
}

#[test]
fn plugins_lists_the_builtin() {
    let out = lava_conn(&["plugins", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let out: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = &out["plugins"];
    assert_eq!(out["skipped"], serde_json::json!([]));
    assert_eq!(rows[0]["type"], "aws");
    assert_eq!(rows[0]["source"], "built-in `aws`");
    assert_eq!(rows[0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(rows[0]["contract"], "0.3.0");
    // The built-in declares SSM and STS and, without a `[policy.aws]`
    // table, is granted lava's defaults: nothing it declares is missing.
    assert_eq!(
        rows[0]["capabilities"],
        serde_json::json!({
            "declared": [{"capability": "ssm", "scope": "any"}, {"capability": "sts", "scope": "any"}],
            "granted": [
                {"capability": "ssm", "scope": ["/lava/{realm}/"], "setting": "`ssm_prefixes`"},
                {"capability": "sts", "scope": "any", "setting": "`allowed_roles`"},
            ],
            "missing": [],
        })
    );
    let out = lava_conn(&["plugins"]);
    assert!(stdout(&out).lines().next().unwrap().contains("CONTRACT"), "{}", stdout(&out));
}

#[test]
fn describe_and_plugins_show_an_author_what_the_host_made_of_a_plugin() {
    let plugins = lava_conn_tests::plugin_dir(&[
        ("ssm-secret.wasm", lava_conn_tests::TEMPLATE_COMPONENT),
        ("broken.wasm", lava_conn_tests::BACKDOOR_COMPONENT),
    ]);
    let cache = lava_test_moto::tempdir();
    let run = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lava-conn"));
        command.env("LAVA_CONN_COMPILE_CACHE", cache.path()).env_remove("LAVA_CONN_PLUGINS");
        command.arg("--plugins").arg(plugins.path()).args(args);
        command.output().unwrap()
    };
    let first = run(&["describe", "--json", "SSM-Secret"]);
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(first["type"], "ssm-secret");
    assert_eq!(first["contract"], "0.3.0");
    // A 0.3.0 plugin from the folder gets nothing without its type's table,
    // and is listed with what it declares and lacks.
    assert_eq!(
        first["capabilities"],
        serde_json::json!({
            "declared": [{"capability": "ssm", "scope": "any"}],
            "granted": [],
            "missing": [{"capability": "ssm", "setting": "`ssm` under `[policy.ssm-secret]`"}],
        })
    );
    assert_eq!(first["compile_cache"], "compiled", "an empty cache compiles and stores");
    let size = std::fs::metadata(lava_conn_tests::TEMPLATE_COMPONENT).unwrap().len();
    assert_eq!(first["size_bytes"], size);
    assert_eq!(
        first["fields"][4],
        serde_json::json!({"name": "parameter", "type": "string", "required": true,
        "description": "The SSM SecureString parameter holding the secret."})
    );

    let listed = run(&["plugins", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let template = listed["plugins"].as_array().unwrap().iter().find(|p| p["type"] == "ssm-secret").unwrap();
    assert_eq!(template["compile_cache"], "mapped", "the next start maps what the first stored");
    // What it costs the pool: a Rust component fits one slot; the template
    // links with 2 MiB of memory at start (`.cargo/config.toml`), under the 64 MiB limit.
    assert_eq!((template["slots_per_call"].as_u64(), template["memory_limit_mib"].as_u64()), (Some(1), Some(64)));
    assert_eq!(template["initial_memory_bytes"], 2 << 20, "{template}");
    assert!(template["core_instances"].as_u64().is_some_and(|n| (1..=16).contains(&n)), "{template}");
    assert_eq!(listed["skipped"].as_array().unwrap().len(), 1);
    assert!(listed["skipped"][0]["reason"].as_str().unwrap().contains("evil:plugin/backdoor"), "{listed}");

    let text = stdout(&run(&["describe", "ssm-secret"]));
    assert!(text.contains("compile cache: mapped") && text.contains("parameter"), "{text}");
    assert!(text.contains("memory:        2.0 MiB at start, limit 64 MiB"), "{text}");
    let table = stdout(&run(&["plugins"]));
    assert!(table.lines().next().is_some_and(|header| header.contains("MEMORY SLOTS")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("ssm-secret") && l.contains(" 2.0/64     1 ")), "{table}");
    let unknown = run(&["describe", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("`nope`") && stderr.contains("ssm-secret"), "{stderr}");
}

/// `lava-conn` with a plugin folder.
fn lava_conn_with_plugins(plugins: &Path, args: &[&str]) -> Output {
    let mut full = vec!["--plugins", plugins.to_str().unwrap()];
    full.extend_from_slice(args);
    lava_conn(&full)
}

#[test]
fn validate_checks_every_file_even_after_a_plugin_failure() {
    let plugins = lava_conn_tests::plugin_dir(&[("hostile.wasm", lava_conn_tests::HOSTILE_COMPONENT)]);
    let specs = lava_test_moto::tempdir();
    let write = |name: &str, spec: serde_json::Value| {
        let path = specs.path().join(name);
        std::fs::write(&path, spec.to_string()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let a = write("a.json", serde_json::json!({"conn_id": "panic", "type": "hostile", "attack": "panic"}));
    let b = write("b.json", serde_json::json!({"conn_id": "bad", "type": "aws", "enabled": true}));
    let c = write(
        "c.json",
        serde_json::json!({"conn_id": "good", "type": "aws", "enabled": true,
        "role_arn": "arn:aws:iam::123456789012:role/r"}),
    );
    let out = lava_conn_with_plugins(plugins.path(), &["validate", &a, &b, &c]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "a plugin failure exits 2: {text}");
    assert!(text.contains("panic: error: plugin `") && text.contains("hostile.wasm` trapped"), "{text}");
    assert!(text.contains("bad: error:"), "b was checked: {text}");
    assert!(text.contains("good: ok"), "c was checked: {text}");
    assert!(text.contains("3 spec(s) checked: 1 valid, 1 invalid, 1 not checked (plugin failure)"), "{text}");

    let out = lava_conn_with_plugins(plugins.path(), &["validate", "--json", &a, &c]);
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report[0]["error"].as_str().unwrap().contains("trapped"), "{report}");
    assert_eq!(report[1]["valid"], true);
}

/// Bytes that move a terminal's cursor, retitle it, or reorder text.
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let hidden: Vec<char> = text.chars().filter(|&c| !matches!(c, '\n' | '\t') && lava_conn::is_hidden(c)).collect();
    assert!(hidden.is_empty(), "{what} holds {hidden:?}: {text}");
}

#[test]
fn spec_and_plugin_text_reaches_the_terminal_sanitised() {
    let plugins = lava_conn_tests::plugin_dir(&[("hostile.wasm", lava_conn_tests::HOSTILE_COMPONENT)]);
    lava_conn_tests::write_file(plugins.path(), "evil\u{1b}[2J\u{202e}.wasm", b"not a component");
    let specs = lava_test_moto::tempdir();
    let file = specs.path().join("specs.json");
    std::fs::write(
        &file,
        serde_json::json!([
            {"conn_id": "x\u{1b}]0;owned\u{7}\r\u{202e}", "type": "nope\u{1b}[31m"},
            {"conn_id": "terminal", "type": "hostile", "attack": "terminal"},
            {"conn_id": "panic", "type": "hostile", "attack": "panic"},
        ])
        .to_string(),
    )
    .unwrap();
    let out = lava_conn_with_plugins(plugins.path(), &["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_terminal_safe("stdout", &out.stdout);
    assert_terminal_safe("stderr", &out.stderr);
    // Escaped, not dropped: the operator can still see what was there.
    assert!(stdout(&out).contains("x\\u{1b}]0;owned\\u{7}"), "{}", stdout(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("evil\\u{1b}[2J\\u{202e}.wasm"));
    let out = lava_conn_with_plugins(
        plugins.path(),
        &["session-name", "--realm", "r", "--job-id", "j", file.to_str().unwrap()],
    );
    assert_terminal_safe("stdout", &out.stdout);
    assert_terminal_safe("stderr", &out.stderr);
}

#[test]
fn every_command_has_help() {
    for command in [&["--help"][..], &["validate", "--help"], &["session-name", "--help"], &["plugins", "--help"]] {
        let out = lava_conn(command);
        assert_eq!(out.status.code(), Some(0), "{command:?}");
        assert!(stdout(&out).contains("Usage:"), "{command:?}");
    }
}

#[test]
fn a_first_run_maps_the_builtin_precompiled_at_build_time_instead_of_compiling_it() {
    let cache = lava_test_moto::tempdir();
    let builtin_state = || {
        let out = Command::new(env!("CARGO_BIN_EXE_lava-conn"))
            .env("LAVA_CONN_COMPILE_CACHE", cache.path())
            .env_remove("LAVA_CONN_PLUGINS")
            .args(["plugins", "--json"])
            .output()
            .unwrap();
        let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        listed["plugins"][0]["compile_cache"].as_str().unwrap().to_string()
    };
    assert_eq!(builtin_state(), "embedded", "an empty cache takes the build's artefact");
    let stored: Vec<_> =
        walk(cache.path()).into_iter().filter(|p| p.extension().is_some_and(|e| e == "cwasm")).collect();
    assert_eq!(stored.len(), 7, "and stores each built-in's: {stored:?}");
    assert_eq!(builtin_state(), "mapped", "the next start maps the stored copy");
}

/// Every file below `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .flat_map(|p| if p.is_dir() { walk(&p) } else { vec![p] })
        .collect()
}

/// `lava-conn ARGS` with its stdout a pipe whose reader has already gone.
fn with_stdout_closed(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args(args)
        .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("lava-conn runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn every_command_ends_quietly_when_its_reader_has_gone() {
    use std::os::unix::process::ExitStatusExt;
    let specs = lava_test_moto::tempdir();
    let file = specs.path().join("many.json");
    // More than a pipe's 64 KiB of output, so that no write fits in its buffer.
    let many: Vec<serde_json::Value> = (0..2000)
        .map(|i| serde_json::json!({"conn_id": format!("c{i}"), "type": "aws", "enabled": true, "regoin": "x"}))
        .collect();
    std::fs::write(&file, serde_json::Value::Array(many).to_string()).unwrap();
    let file = file.to_str().unwrap();
    let good = examples().join("connections.yaml");
    let good = good.to_str().unwrap();
    for args in [
        &["validate", "--json", file][..],
        &["validate", file],
        &["session-name", "--realm", "r", "--job-id", "j", good],
        &["plugins", "--json"],
        &["describe", "aws"],
    ] {
        let (status, stderr) = with_stdout_closed(args);
        assert_eq!(status.signal(), Some(libc::SIGPIPE), "{args:?} ends as Unix tools do: {status:?} {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_closed_stderr_loses_log_lines_but_never_the_command() {
    // A spec file that cannot be parsed: a warning in the log as the folder is read.
    let specs = lava_test_moto::tempdir();
    std::fs::write(specs.path().join("broken.yaml"), "conn_id: [").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .args(["resolve", "--realm", "prod", "--job-id", "j", "--connections"])
        .arg(specs.path())
        .arg("missing")
        .env("LAVA_CONN_COMPILE_CACHE", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache"))
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "the command's own failure, not a panic (101)");
}

/// `lava-conn guard FOLDER` told `lines` by its pipe, which then closes.
fn guard(folder: &Path, lines: &str) -> std::process::ExitStatus {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lava-conn"))
        .arg("guard")
        .arg(folder)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    child.wait().unwrap()
}

#[test]
fn the_guard_cleans_up_only_after_an_exec_that_never_said_done_and_forgets_a_reaped_job() {
    use std::os::unix::process::ExitStatusExt;
    let parent = lava_test_moto::tempdir();
    let folder = parent.path().join("conn.a.x");
    std::fs::create_dir(&folder).unwrap();
    let mut job = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = job.id();
    // Said done: nothing to do.
    assert!(guard(&folder, &format!("kill {pid}\ndone\n")).success());
    assert!(folder.exists());
    // Reaped (its pid may be another's by now), then exec died: the folder goes, the pid is spared.
    assert!(guard(&folder, &format!("kill {pid}\nended\nkill {pid}\n")).success());
    assert!(!folder.exists());
    assert!(job.try_wait().unwrap().is_none(), "a job reported ended is never killed");
    // Exec died while the job ran: the job is killed.
    std::fs::create_dir(&folder).unwrap();
    assert!(guard(&folder, &format!("kill {pid}\n")).success());
    assert_eq!(job.wait().unwrap().signal(), Some(libc::SIGKILL));
    assert!(!folder.exists());
}

#[test]
fn help_names_every_settings_variable_logging_and_the_audit_trail() {
    let help = stdout(&lava_conn(&["--help"]));
    for (variable, key) in lava_conn::setting_overrides() {
        assert!(help.lines().any(|l| l.contains(variable) && l.contains(key)), "{variable} ({key}) missing:\n{help}");
    }
    assert!(help.contains("RUST_LOG") && help.contains("lava_conn::audit"), "{help}");
    let resolve = stdout(&lava_conn(&["resolve", "--help"]));
    for variable in ["LAVA_REALM", "LAVA_JOB_ID", "LAVA_CONN_CONNECTIONS", "LAVA_CONN_CONFIG", "LAVA_CONN_PLUGINS"] {
        assert!(resolve.contains(variable), "{variable} missing:\n{resolve}");
    }
}
