//! Compiles the built-in aws connector component and hands its path to the
//! crate, which embeds it: `lava-conn` works with no plugin folder.

use sha2::Digest;

fn main() {
    let component = lava_wasm_build::build_guest("lava-guest-aws", &["guest-aws", "guest-kit", "rules", "wit"]);
    println!("cargo:rustc-env=LAVA_AWS_COMPONENT={}", component.display());
    // Its digest names its compiled form in the compile cache; computed here
    // so that no run of the host hashes a megabyte to start.
    let bytes = std::fs::read(&component).expect("read the built aws component");
    println!("cargo:rustc-env=LAVA_AWS_COMPONENT_SHA256={:x}", sha2::Sha256::digest(&bytes));
}
