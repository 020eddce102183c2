//! Compiles the built-in connector components, precompiles each with the
//! host's own engine settings (`lava-engine-settings`), and writes the table the crate
//! embeds them from (`$OUT_DIR/builtins.rs`): `lava-conn` works with no plugin
//! folder and, on a first run with an empty compile cache, maps the built-in
//! instead of compiling it (~0.5 s). Adding a built-in is one line in `BUILTINS`.

use std::fmt::Write as _;

use sha2::Digest;

/// The built-ins: their name in `lava-conn plugins`, the workspace package
/// that is compiled, and the folders whose changes rebuild it.
const BUILTINS: &[(&str, &str, &[&str])] = &[
    ("aws", "lava-guest-aws", &["guest-aws", "guest-kit", "rules", "wit"]),
    ("postgres", "lava-guest-postgres", &["guest-postgres", "guest-kit", "rules", "wit"]),
];

fn main() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let engine = engine();
    let mut table = String::from(
        "/// The built-in plugins, compiled (and precompiled) by the build script.\n\
         pub(crate) const BUILTINS: &[Builtin] = &[\n",
    );
    for (name, package, watch) in BUILTINS {
        let component = lava_wasm_build::build_builtin(package, watch);
        // Its digest names its compiled form in the compile cache; computed
        // here so that no run of the host hashes a megabyte to start.
        let bytes = std::fs::read(&component).expect("read the built component");
        let sha256 = format!("{:x}", sha2::Sha256::digest(&bytes));
        let precompiled = out.join(format!("{name}.cwasm"));
        let artefact = engine.precompile_component(&bytes).expect("precompile the built-in component");
        // What the compile cache checks a stored copy against after a reboot.
        let artefact_sha256 = format!("{:x}", sha2::Sha256::digest(&artefact));
        // Read here too, so that no run parses the component to size its calls.
        let needs = lava_engine_settings::Needs::of(&bytes).expect("the built-in component parses");
        std::fs::write(&precompiled, artefact).expect("write the precompiled built-in");
        writeln!(
            table,
            "    Builtin {{ name: {name:?}, component: include_bytes!({:?}), sha256: {sha256:?}, \
             precompiled: Precompiled {{ bytes: include_bytes!({:?}), engine_key: {}, sha256: {artefact_sha256:?} }}, \
             needs: lava_engine_settings::{needs:?} }},",
            component.display().to_string(),
            precompiled.display().to_string(),
            lava_engine_settings::compatibility_key(&engine)
        )
        .unwrap();
    }
    table.push_str("];\n");
    std::fs::write(out.join("builtins.rs"), table).expect("write the built-in table");
}

/// The host's engine with the worker's default settings, for the target
/// being built. For the machine's own target the CPU features are detected
/// as the host detects them at run time; a host on a CPU without them (or
/// with other settings) finds the artefact refused and compiles instead.
fn engine() -> lava_engine_settings::wasmtime::Engine {
    let mut config = lava_engine_settings::config(&lava_engine_settings::EngineSettings::default());
    let (target, host) = (std::env::var("TARGET").unwrap_or_default(), std::env::var("HOST").unwrap_or_default());
    if target != host {
        config.target(&target).expect("a target wasmtime compiles for");
    }
    lava_engine_settings::wasmtime::Engine::new(&config).expect("the engine for precompiling")
}
