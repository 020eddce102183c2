//! Builds the components the tests load: the hostile test plugin, the
//! contract 0.3.0 `family` plugin (every capability and launcher), a plugin
//! built against the frozen contract 0.1.0, the
//! empty plugin (the benchmarks' floor), two that call or import WASI
//! directly (host-resource hoarding, a newer WASI), one built without WASI
//! that panics, the plugin template
//! and the docs' `http-basic` example (each built as its author would,
//! outside the workspace), the
//! drop-in airflow-aws plugin, and the aws connector as a plain file (the host
//! embeds its own copy of the same build, made without WASI).

fn main() {
    let hostile = lava_wasm_build::build_guest("lava-test-hostile", &["tests/hostile", "wit"]);
    println!("cargo:rustc-env=LAVA_TEST_HOSTILE_COMPONENT={}", hostile.display());
    let family = lava_wasm_build::build_guest("lava-test-family", &["tests/family", "guest-kit", "rules", "wit"]);
    println!("cargo:rustc-env=LAVA_TEST_FAMILY_COMPONENT={}", family.display());
    let legacy = lava_wasm_build::build_guest("lava-test-legacy-v0-1", &["tests/legacy-v0_1", "wit"]);
    println!("cargo:rustc-env=LAVA_TEST_LEGACY_V0_1_COMPONENT={}", legacy.display());
    let empty = lava_wasm_build::build_guest("lava-test-empty", &["tests/empty", "wit"]);
    println!("cargo:rustc-env=LAVA_TEST_EMPTY_COMPONENT={}", empty.display());
    let backdoor = lava_wasm_build::build_guest("lava-test-hostile-import", &["tests/hostile-import", "wit"]);
    println!("cargo:rustc-env=LAVA_TEST_BACKDOOR_COMPONENT={}", backdoor.display());
    let wasi_direct = lava_wasm_build::build_guest("lava-test-wasi-direct", &["tests/wasi-direct", "wit"]);
    println!("cargo:rustc-env=LAVA_TEST_WASI_DIRECT_COMPONENT={}", wasi_direct.display());
    let newer_wasi = lava_wasm_build::build_guest("lava-test-newer-wasi", &["tests/newer-wasi", "wit"]);
    println!("cargo:rustc-env=LAVA_TEST_NEWER_WASI_COMPONENT={}", newer_wasi.display());
    let panicking = lava_wasm_build::build_builtin("lava-test-panicking", &["tests/panicking", "guest-kit", "wit"]);
    println!("cargo:rustc-env=LAVA_TEST_PANICKING_COMPONENT={}", panicking.display());
    let template = lava_wasm_build::build_plugin_crate("examples/plugin-template", "lava-plugin-template");
    println!("cargo:rustc-env=LAVA_TEST_TEMPLATE_COMPONENT={}", template.display());
    let http_basic = lava_wasm_build::build_plugin_crate("examples/http-basic", "lava-example-http-basic");
    println!("cargo:rustc-env=LAVA_TEST_HTTP_BASIC_COMPONENT={}", http_basic.display());
    let aws = lava_wasm_build::build_builtin("lava-guest-aws", &["guest-aws", "guest-kit", "rules", "wit"]);
    println!("cargo:rustc-env=LAVA_TEST_AWS_COMPONENT={}", aws.display());
    let airflow =
        lava_wasm_build::build_guest("lava-guest-airflow-aws", &["guest-airflow-aws", "guest-kit", "rules", "wit"]);
    println!("cargo:rustc-env=LAVA_TEST_AIRFLOW_AWS_COMPONENT={}", airflow.display());
}
