//! Compiles the built-in connector components and writes the table the
//! crate embeds them from (`$OUT_DIR/builtins.rs`): `lava-conn` works with
//! no plugin folder, and adding a built-in is one line in `BUILTINS`.

use std::fmt::Write as _;

use sha2::Digest;

/// The built-ins: their name in `lava-conn plugins`, the workspace package
/// that is compiled, and the folders whose changes rebuild it.
const BUILTINS: &[(&str, &str, &[&str])] = &[("aws", "lava-guest-aws", &["guest-aws", "guest-kit", "rules", "wit"])];

fn main() {
    let mut table = String::from(
        "/// The built-in plugins, compiled by the build script: name, component, SHA-256 (hex).\n\
         pub(crate) const BUILTINS: &[(&str, &[u8], &str)] = &[\n",
    );
    for (name, package, watch) in BUILTINS {
        let component = lava_wasm_build::build_guest(package, watch);
        // Its digest names its compiled form in the compile cache; computed
        // here so that no run of the host hashes a megabyte to start.
        let bytes = std::fs::read(&component).expect("read the built component");
        let sha256 = format!("{:x}", sha2::Sha256::digest(&bytes));
        writeln!(table, "    ({name:?}, include_bytes!({:?}), {sha256:?}),", component.display().to_string()).unwrap();
    }
    table.push_str("];\n");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("builtins.rs"), table).expect("write the built-in table");
}
