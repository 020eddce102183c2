//! Builds the hostile test component, so that the tests load a real plugin.

fn main() {
    let hostile = lava_wasm_build::build_guest("lava-test-hostile", &["tests/hostile", "wit"]);
    println!(
        "cargo:rustc-env=LAVA_TEST_HOSTILE_COMPONENT={}",
        hostile.display()
    );
}
