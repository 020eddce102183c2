//! The Python author's test kit (`sdk/python-testkit/lava_conn_testkit.py`): the
//! example connector's own tests, as its author runs them, pass against the
//! real host binary and a recording moto the kit starts.

use std::path::Path;
use std::process::Command;

#[test]
fn the_python_examples_own_tests_pass_in_the_real_host_through_the_python_test_kit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let component = lava_conn_tests::python_component("examples/python-connector", "db_login");
    let scratch = lava_test_moto::tempdir();
    let out = Command::new(lava_test_moto::venv_program("python"))
        .arg(root.join("examples/python-connector/test_db_login.py"))
        .arg("-v")
        .current_dir(scratch.path())
        .env("PYTHONPATH", root.join("sdk/python-testkit"))
        .env("LAVA_CONN_TEST_COMPONENT", &component)
        .env("LAVA_CONN_BIN", env!("CARGO_BIN_EXE_lava-conn"))
        .env("LAVA_CONN_COMPILE_CACHE", root.join("target/test-compile-cache"))
        .env("TMPDIR", scratch.path())
        .output()
        .expect("the test venv's python runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the example's tests failed:\n{stderr}");
    assert!(stderr.contains("Ran 3 tests") && stderr.trim_end().ends_with("OK"), "{stderr}");
}
