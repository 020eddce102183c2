//! Build-script helper: compiles a guest crate of this workspace into a
//! `wasm32-wasip2` component, so that `cargo build` alone yields a host with
//! its components built in, and tests load the real compiled plugins.
//!
//! The guest is built with a nested `cargo` in its own target folder
//! (`target/guests`), because the outer cargo holds the lock on the usual one.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every plugin is compiled for.
pub const GUEST_TARGET: &str = "wasm32-wasip2";

/// The cargo profile for guests (size-optimised; see the workspace `Cargo.toml`).
pub const GUEST_PROFILE: &str = "guest";

/// The target the built-in connectors are compiled for: no WASI in the
/// standard library, so the component imports nothing but the contract.
pub const BUILTIN_TARGET: &str = "wasm32-unknown-unknown";

/// The cargo profile for built-ins (see the workspace `Cargo.toml`).
pub const BUILTIN_PROFILE: &str = "builtin";

/// Build the workspace package `package` for [`GUEST_TARGET`] and return the
/// path of its component. `watch` lists the folders (relative to the workspace
/// root) whose changes must rebuild it. Panics with a message that says what
/// to do when the build cannot run; a build script has no better channel.
pub fn build_guest(package: &str, watch: &[&str]) -> PathBuf {
    build_workspace_package(package, watch, GUEST_TARGET, GUEST_PROFILE)
}

/// Build the workspace package `package` for `target` with `profile`,
/// rebuilt when `watch` or the workspace's manifests change.
fn build_workspace_package(package: &str, watch: &[&str], target: &str, profile: &str) -> PathBuf {
    let workspace = workspace_root();
    watch_folders(&workspace, watch.iter().chain(["Cargo.lock", "Cargo.toml", ".cargo/config.toml"].iter()));
    let args = ["--package", package, "--profile", profile];
    cargo_build(&workspace, &workspace.join("target").join("guests"), package, target, &args, profile)
}

/// Build the workspace package `package` as a built-in: for
/// [`BUILTIN_TARGET`], made a component here (wit-component, from the
/// contract the bindings embed), so that it imports only what the contract
/// names. Built-ins are ours and are never given WASI: a component without
/// it is smaller, starts fewer core instances per call, and can call nothing
/// but the capabilities (issue 15).
pub fn build_builtin(package: &str, watch: &[&str]) -> PathBuf {
    let module = build_workspace_package(package, watch, BUILTIN_TARGET, BUILTIN_PROFILE);
    let bytes = std::fs::read(&module).unwrap_or_else(|e| panic!("read {}: {e}", module.display()));
    let bytes = without_post_returns(&bytes)
        .unwrap_or_else(|e| panic!("{} is not a WebAssembly module: {e}", module.display()));
    let component = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|encoder| encoder.validate(true).encode())
        .unwrap_or_else(|e| {
            panic!("making `{package}` a component failed (does it import anything but the contract?): {e:#}")
        });
    // Two build scripts (the host's, the tests') make the same file: each
    // writes its own and renames it into place, so neither reads half of one.
    let path = module.with_extension("component.wasm");
    let partial = module.with_extension(format!("component.wasm.{}", std::process::id()));
    std::fs::write(&partial, component)
        .and_then(|()| std::fs::rename(&partial, &path))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// `module` without its `cabi_post_*` exports, the functions that free what
/// a call returned once the host has read it. A built-in's instance is
/// dropped right after its one call, and its arena (`lava_guest_kit::heap`)
/// frees nothing but the latest block, so these calls would be work for
/// nothing; wasmtime also looks each one up at every instantiation (0.33 µs
/// of a ~10 µs validate, profiled). Without them the component has no
/// post-return functions, which the component model allows.
pub fn without_post_returns(module: &[u8]) -> Result<Vec<u8>, wasmparser::BinaryReaderError> {
    let mut out = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        match payload? {
            wasmparser::Payload::ExportSection(reader) => {
                let mut exports = wasm_encoder::ExportSection::new();
                for export in reader {
                    let export = export?;
                    if !export.name.starts_with("cabi_post_") {
                        exports.export(export.name, export.kind.into(), export.index);
                    }
                }
                out.section(&exports);
            }
            payload => {
                if let Some((id, range)) = payload.as_section() {
                    out.section(&wasm_encoder::RawSection { id, data: &module[range] });
                }
            }
        }
    }
    Ok(out.finish())
}

/// Build the stand-alone plugin crate in `folder` (relative to the workspace
/// root; a workspace of its own, as a plugin author's crate is) with its own
/// release profile, and return the path of its component.
pub fn build_plugin_crate(folder: &str, package: &str) -> PathBuf {
    let workspace = workspace_root();
    // Its SDK is part of this workspace: a change there rebuilds it too.
    watch_folders(&workspace, [folder, "guest-kit", "rules", "wit", ".cargo/config.toml"].iter());
    // `--locked`: the crate's committed lock file decides its dependencies.
    build_crate(&workspace.join(folder), package, &workspace.join("target").join("guests"), &["--locked"])
}

/// Build an author's plugin crate (the package `package` whose manifest is
/// in `crate_dir`) for [`GUEST_TARGET`] with its own release profile, in
/// `target_dir`, and return the path of its component: what an author's
/// tests load (`lava-conn-testkit`). Panics, saying why, when it cannot.
pub fn build_author_crate(crate_dir: &Path, package: &str, target_dir: &Path) -> PathBuf {
    build_crate(crate_dir, package, target_dir, &[])
}

/// Built from its own folder, as its author builds it: its own
/// `.cargo/config.toml` applies (the initial memory), and a build from a
/// build script and one from the author's tests are the same build.
fn build_crate(crate_dir: &Path, package: &str, target_dir: &Path, extra: &[&str]) -> PathBuf {
    let manifest = crate_dir.join("Cargo.toml");
    let manifest = manifest.to_str().unwrap_or_else(|| panic!("{} is not a UTF-8 path", manifest.display()));
    let args: Vec<&str> = ["--manifest-path", manifest, "--release"].into_iter().chain(extra.iter().copied()).collect();
    cargo_build(crate_dir, target_dir, package, GUEST_TARGET, &args, "release")
}

fn watch_folders<'a>(workspace: &Path, folders: impl Iterator<Item = &'a &'a str>) {
    for folder in folders {
        println!("cargo:rerun-if-changed={}", workspace.join(folder).display());
    }
}

fn cargo_build(
    current_dir: &Path,
    target_dir: &Path,
    package: &str,
    target: &str,
    args: &[&str],
    profile: &str,
) -> PathBuf {
    ensure_target_installed(target);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(current_dir)
        .args(["build", "--quiet", "--target", target])
        .args(args)
        .arg("--target-dir")
        .arg(target_dir);
    // What the outer cargo set up for the host build must not leak into the
    // guest build: flags for another target, clippy's wrapper, the target dir.
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_LLVM_COV",
        "LLVM_PROFILE_FILE",
    ] {
        command.env_remove(variable);
    }
    let status =
        command.status().unwrap_or_else(|e| panic!("cannot run cargo to build the `{package}` component: {e}"));
    assert!(status.success(), "building the `{package}` component for {target} failed (see the errors above)");
    let artifact = target_dir.join(target).join(profile).join(format!("{}.wasm", package.replace('-', "_")));
    assert!(artifact.is_file(), "the `{package}` build produced no {}", artifact.display());
    artifact
}

fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run from a build script"));
    manifest_dir
        .ancestors()
        .find(|dir| std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|text| text.contains("[workspace]")))
        .expect("the package is inside the lava-conn workspace")
        .to_path_buf()
}

/// A missing target gives a baffling `can't find crate for core`; say what to run instead.
fn ensure_target_installed(target: &str) {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if !libdir.is_some_and(|dir| dir.is_dir()) {
        panic!(
            "the Rust target {target} is not installed; connectors are compiled for it.\n\
             Run `rustup target add {target}` (or `./dev setup`) and build again."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module of two functions, exported as `run` and `cabi_post_run`.
    fn module() -> Vec<u8> {
        let mut module = wasm_encoder::Module::new();
        let mut types = wasm_encoder::TypeSection::new();
        types.ty().function([], []);
        module.section(&types);
        let mut functions = wasm_encoder::FunctionSection::new();
        functions.function(0).function(0);
        module.section(&functions);
        let mut exports = wasm_encoder::ExportSection::new();
        exports.export("run", wasm_encoder::ExportKind::Func, 0);
        exports.export("cabi_post_run", wasm_encoder::ExportKind::Func, 1);
        module.section(&exports);
        let mut code = wasm_encoder::CodeSection::new();
        for _ in 0..2 {
            let mut body = wasm_encoder::Function::new([]);
            body.instructions().end();
            code.function(&body);
        }
        module.section(&code);
        module.section(&wasm_encoder::CustomSection { name: "note".into(), data: b"kept".into() });
        module.finish()
    }

    /// Each section as (id, contents), and the export names.
    fn sections(module: &[u8]) -> (Vec<(u8, Vec<u8>)>, Vec<String>) {
        let (mut sections, mut exports) = (Vec::new(), Vec::new());
        for payload in wasmparser::Parser::new(0).parse_all(module) {
            let payload = payload.unwrap();
            if let wasmparser::Payload::ExportSection(reader) = &payload {
                exports.extend(reader.clone().into_iter().map(|e| e.unwrap().name.to_string()));
            }
            if let Some((id, range)) = payload.as_section() {
                sections.push((id, module[range].to_vec()));
            }
        }
        (sections, exports)
    }

    #[test]
    fn only_the_post_return_exports_are_removed_and_every_other_section_is_kept_as_it_was() {
        let before = module();
        let after = without_post_returns(&before).unwrap();
        let (sections_before, exports_before) = sections(&before);
        let (sections_after, exports_after) = sections(&after);
        assert_eq!(exports_before, ["run", "cabi_post_run"]);
        assert_eq!(exports_after, ["run"]);
        let not_exports = |s: &[(u8, Vec<u8>)]| s.iter().filter(|(id, _)| *id != 7).cloned().collect::<Vec<_>>();
        assert_eq!(not_exports(&sections_after), not_exports(&sections_before));
        assert_eq!(sections_after.len(), 5, "type, function, export, code and the custom section");
    }

    #[test]
    fn a_module_that_is_not_wasm_is_an_error() {
        assert!(without_post_returns(b"\0asm\x01\0\0\0\x07\x05garbage").is_err());
        assert!(without_post_returns(b"not wasm").is_err());
    }
}
