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
    ("postgres", "lava-guest-postgres", &["guest-postgres", "guest-db", "guest-kit", "rules", "wit"]),
    ("mysql", "lava-guest-mysql", &["guest-mysql", "guest-db", "guest-kit", "rules", "wit"]),
    ("oracle", "lava-guest-oracle", &["guest-oracle", "guest-db", "guest-kit", "rules", "wit"]),
    ("ssh", "lava-guest-ssh", &["guest-ssh", "guest-kit", "rules", "wit"]),
    ("sqlite3", "lava-guest-sqlite", &["guest-sqlite", "guest-kit", "wit"]),
    ("generic", "lava-guest-generic", &["guest-generic", "guest-kit", "rules", "wit"]),
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
        // And its types, so that a run loads it only when a call needs one.
        let types = described_types(&bytes);
        std::fs::write(&precompiled, artefact).expect("write the precompiled built-in");
        writeln!(
            table,
            "    Builtin {{ name: {name:?}, types: &{types:?}, component: include_bytes!({:?}), sha256: {sha256:?}, \
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

/// The connector types the component's own `describe` lists: it runs here
/// once, on an engine of wasmtime's defaults, with every import a trap (a
/// `describe` calls none).
fn described_types(bytes: &[u8]) -> Vec<String> {
    use lava_engine_settings::wasmtime::component::{Component, Linker, Val};
    use lava_engine_settings::wasmtime::{Engine, Store};
    let engine = Engine::default();
    let component = Component::new(&engine, bytes).expect("the built-in compiles");
    let mut linker = Linker::<()>::new(&engine);
    linker.define_unknown_imports_as_traps(&component).expect("the built-in's imports");
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &component).expect("the built-in instantiates");
    let interface = instance
        .get_export_index(&mut store, None, "lava:connector/connector@0.3.0")
        .expect("the built-in exports the 0.3.0 connector");
    let describe = instance.get_export_index(&mut store, Some(&interface), "describe").expect("a describe export");
    let describe = instance.get_func(&mut store, describe).expect("describe is a function");
    let mut results = [Val::Bool(false)];
    describe.call(&mut store, &[], &mut results).expect("describe runs");
    let Val::Record(fields) = &results[0] else { panic!("describe returns a record") };
    let Some((_, Val::List(types))) = fields.iter().find(|(name, _)| name == "types") else {
        panic!("the descriptor has types")
    };
    types.iter().map(|t| if let Val::String(t) = t { t.clone() } else { panic!("a type is a string") }).collect()
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
