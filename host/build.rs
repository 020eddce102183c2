//! Compiles the built-in aws connector component and hands its path to the
//! crate, which embeds it: `lava-conn` works with no plugin folder.

fn main() {
    let component = lava_wasm_build::build_guest("lava-guest-aws", &["guest-aws", "guest-kit", "rules", "wit"]);
    println!("cargo:rustc-env=LAVA_AWS_COMPONENT={}", component.display());
}
