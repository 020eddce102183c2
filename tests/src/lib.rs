//! Helpers shared by the component tests: hosts with real compiled plugins.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lava_conn::{ConnectorHost, WorkerConfig};

/// The hostile test component, as built by this crate's build script.
pub const HOSTILE_COMPONENT: &str = env!("LAVA_TEST_HOSTILE_COMPONENT");

/// The contract 0.3.0 `family` plugin: makes the capability calls and
/// returns the launcher and login its spec names.
pub const FAMILY_COMPONENT: &str = env!("LAVA_TEST_FAMILY_COMPONENT");

/// A connector built against the frozen contract 0.1.0 (type `legacy`) whose
/// free-form launchers attack the job.
pub const LEGACY_V0_1_COMPONENT: &str = env!("LAVA_TEST_LEGACY_V0_1_COMPONENT");

/// A connector whose calls do nothing (type `empty`): the sandbox's floor.
pub const EMPTY_COMPONENT: &str = env!("LAVA_TEST_EMPTY_COMPONENT");
/// A plugin built without WASI, like the built-ins, whose validate panics.
pub const PANICKING_COMPONENT: &str = env!("LAVA_TEST_PANICKING_COMPONENT");

/// A connector that imports a capability no host provides.
pub const BACKDOOR_COMPONENT: &str = env!("LAVA_TEST_BACKDOOR_COMPONENT");

/// A connector (type `wasi-direct`) that holds as many WASI pollables as its
/// spec's `pollables` asks for.
pub const WASI_DIRECT_COMPONENT: &str = env!("LAVA_TEST_WASI_DIRECT_COMPONENT");

/// A connector that imports `wasi:clocks/monotonic-clock@0.3.0`, a WASI
/// version the host does not link.
pub const NEWER_WASI_COMPONENT: &str = env!("LAVA_TEST_NEWER_WASI_COMPONENT");

/// `examples/plugin-template` (type `ssm-secret`), built as a crate of its own.
pub const TEMPLATE_COMPONENT: &str = env!("LAVA_TEST_TEMPLATE_COMPONENT");

/// `examples/http-basic` (type `http-basic`), the docs' example, built as a crate of its own.
pub const HTTP_BASIC_COMPONENT: &str = env!("LAVA_TEST_HTTP_BASIC_COMPONENT");

/// The airflow-aws connector, a drop-in plugin the host has never seen.
pub const AIRFLOW_AWS_COMPONENT: &str = env!("LAVA_TEST_AIRFLOW_AWS_COMPONENT");

/// The aws connector component as a file (the host embeds the same build).
pub const AWS_COMPONENT: &str = env!("LAVA_TEST_AWS_COMPONENT");

/// A connector written in Python with the SDK, built by componentize-py from
/// the test venv: `examples/python-connector` (module `db_login`, type
/// `db-login`) or `tests/python-hostile` (`py_hostile`, type `py-hostile`).
/// Built once into `target/python-plugins/` and reused while its sources, the
/// SDK, the contract and componentize-py are unchanged (a build is ~6 s).
pub fn python_component(folder: &str, module: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let componentize = lava_test_moto::venv_program("componentize-py");
    let version = std::process::Command::new(&componentize).arg("--version").output().expect("componentize-py runs");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    version.stdout.hash(&mut hasher);
    for source in [root.join(folder), root.join("sdk/python/lava_connector"), root.join("wit/v0.3.0")] {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&source).expect("a source folder").map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "py" || e == "wit")) {
            file.file_name().hash(&mut hasher);
            std::fs::read(file).expect("read a source").hash(&mut hasher);
        }
    }
    let out = root.join("target/python-plugins");
    let component = out.join(format!("{module}-{:016x}.wasm", hasher.finish()));
    if component.is_file() {
        return component;
    }
    std::fs::create_dir_all(&out).expect("create target/python-plugins");
    let partial = tempfile::Builder::new().suffix(".wasm").tempfile_in(&out).expect("a temporary file");
    let built = std::process::Command::new(&componentize)
        .current_dir(&root)
        .args(["-d", "wit/v0.3.0", "-w", "plugin", "componentize", module, "-p", folder, "-p", "sdk/python", "-o"])
        .arg(partial.path())
        .output()
        .expect("componentize-py runs");
    assert!(built.status.success(), "componentize-py failed:\n{}", String::from_utf8_lossy(&built.stderr));
    partial.persist(&component).expect("keep the component");
    component
}

/// A worker config for tests: defaults, a compile cache inside `target/`.
pub fn test_config() -> WorkerConfig {
    WorkerConfig {
        compile_cache: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache")),
        policy: test_policy(),
        ..WorkerConfig::default()
    }
}

/// The policy tables the tests' folder plugins of contract 0.3.0 need: what
/// an operator gives them (`[policy.<type>]`). A test of the policy itself
/// starts from `WorkerConfig::default()` instead.
pub fn test_policy() -> std::collections::BTreeMap<String, lava_conn::TypePolicy> {
    use lava_conn::TypePolicy;
    std::collections::BTreeMap::from([
        ("airflow-aws".to_string(), TypePolicy { roles: vec!["*".into()], ..TypePolicy::default() }),
        ("ssm-secret".to_string(), TypePolicy { ssm: vec!["/lava/{realm}/".into()], ..TypePolicy::default() }),
        ("db-login".to_string(), TypePolicy { ssm: vec!["/lava/{realm}/".into()], ..TypePolicy::default() }),
        (
            "py-hostile".to_string(),
            TypePolicy {
                ssm: vec!["/lava/{realm}/".into()],
                roles: vec!["*".into()],
                rds_hosts: vec!["*.example.com".into()],
                secrets: vec!["*".into()],
                ..TypePolicy::default()
            },
        ),
    ])
}

/// `n` distinct plugins: the airflow-aws component with its type renamed
/// `airflow-000`, `airflow-001`, … (same length, so the component stays valid).
pub fn renamed_airflow_plugins(n: usize) -> tempfile::TempDir {
    let dir = lava_test_moto::tempdir();
    let original = std::fs::read(AIRFLOW_AWS_COMPONENT).expect("the airflow-aws component");
    for i in 0..n {
        let renamed = format!("airflow-{i:03}");
        let mut bytes = original.clone();
        let mut at = 0;
        while let Some(found) = bytes[at..].windows(11).position(|w| w == b"airflow-aws") {
            bytes[at + found..at + found + 11].copy_from_slice(renamed.as_bytes());
            at += found + 11;
        }
        assert!(at > 0, "the type name is in the component");
        std::fs::write(dir.path().join(format!("{renamed}.wasm")), bytes).expect("write a plugin");
    }
    dir
}

/// A plugin folder holding copies of `components` under the given file names.
pub fn plugin_dir(components: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = lava_test_moto::tempdir();
    for (name, source) in components {
        std::fs::copy(source, dir.path().join(name)).expect("copy a component");
    }
    dir
}

/// Write `bytes` as `name` in `dir`.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("write a file");
}

/// The AWS the tests' hosts reach: the author's test kit's, which records
/// every call that passed the grant checks.
pub use lava_conn_testkit::FakeAws;

/// A host with the built-ins plus the components in `dir`, sending AWS calls to `backend`.
pub fn host_with(config: WorkerConfig, dir: Option<&Path>, backend: Arc<FakeAws>) -> ConnectorHost {
    let mut builder = ConnectorHost::builder().config(config).backend(backend);
    if let Some(dir) = dir {
        builder = builder.plugin_dir(dir);
    }
    let host = builder.build().expect("the host starts");
    // Every plugin file taken stock of, as `lava-conn plugins` does: a host
    // loads a file the index does not know when a call first needs it.
    host.plugins();
    host
}

/// A host with the plugins in `plugins`, the real AWS SDK configured from
/// `loader`, and the specs `specs` (a JSON list) as its connection folder,
/// which is returned: it must live as long as the host reads it.
pub async fn sdk_host(
    config: WorkerConfig,
    plugins: &Path,
    loader: aws_config::ConfigLoader,
    specs: &serde_json::Value,
) -> (ConnectorHost, tempfile::TempDir) {
    let connections = lava_test_moto::tempdir();
    std::fs::write(connections.path().join("specs.json"), specs.to_string()).expect("write the specs");
    let sdk = lava_conn::configure_sdk(loader).load().await;
    let store = lava_conn::FolderStore::open(connections.path()).expect("the connection folder");
    let host = ConnectorHost::builder()
        .config(config)
        .plugin_dir(plugins)
        .backend(lava_conn::SdkBackend::new(sdk))
        .store(Arc::new(store))
        .build()
        .expect("the host loads the plugins");
    (host, connections)
}
