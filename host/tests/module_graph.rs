//! The library's modules depend on each other the way `docs/contributing.md`
//! says they do: the layering there, read from the page itself, is checked
//! against every `crate::` path in `host/src` (comments aside). A module
//! uses only modules on lines below its own, so the graph has no cycle, and
//! a new module must be given its place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers the docs state, top first: the block after the line
/// "Module layers, top first".
fn stated_layers() -> Vec<Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let page = std::fs::read_to_string(root.join("docs/contributing.md")).unwrap();
    let after = page.split("Module layers, top first").nth(1).expect("docs/contributing.md states the module layers");
    let block = after.split("```text\n").nth(1).unwrap().split("```").next().unwrap();
    block.lines().map(|line| line.split_whitespace().map(str::to_string).collect()).collect()
}

/// Each top-level module of the library and the top-level modules its code names.
fn actual_edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().trim_end_matches(".rs").to_string();
        // The crate root re-exports everything; the binary's commands use the library as any user does.
        if ["lib", "main", "cli"].contains(&name.as_str()) {
            continue;
        }
        let targets = edges.entry(name.clone()).or_default();
        for file in rust_files(&entry.path()) {
            let text = std::fs::read_to_string(file).unwrap();
            for line in text.lines().map(|l| l.split("//").next().unwrap()) {
                targets.extend(named_modules(line).into_iter().filter(|m| *m != name));
            }
        }
    }
    edges
}

fn rust_files(path: &Path) -> Vec<std::path::PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    std::fs::read_dir(path).unwrap().flatten().flat_map(|e| rust_files(&e.path())).collect()
}

/// `crate::x::…` and `use crate::{x, y::…}` in one line of code.
fn named_modules(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for rest in line.split("crate::").skip(1) {
        let list = match rest.strip_prefix('{') {
            Some(inner) => inner.split('}').next().unwrap().split(',').map(str::trim).collect(),
            None => vec![rest],
        };
        for item in list {
            let module: String = item.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !module.is_empty() {
                found.push(module);
            }
        }
    }
    found
}

#[test]
fn every_module_uses_only_the_layers_below_it_as_the_docs_state() {
    let layers = stated_layers();
    let level: BTreeMap<&str, usize> =
        layers.iter().enumerate().flat_map(|(i, layer)| layer.iter().map(move |m| (m.as_str(), i))).collect();
    let edges = actual_edges();
    let unplaced: Vec<&String> = edges.keys().filter(|m| !level.contains_key(m.as_str())).collect();
    assert!(unplaced.is_empty(), "modules without a layer in docs/contributing.md: {unplaced:?}");
    let mut upward = Vec::new();
    for (module, targets) in &edges {
        for target in targets.iter().filter(|t| level.contains_key(t.as_str())) {
            if level[target.as_str()] <= level[module.as_str()] {
                upward.push(format!("{module} -> {target}"));
            }
        }
    }
    assert!(upward.is_empty(), "uses of a module not below (a cycle, or docs that are wrong): {upward:?}");
}

#[test]
fn the_layers_name_every_module_once() {
    let stated: Vec<String> = stated_layers().into_iter().flatten().collect();
    let unique: BTreeSet<&String> = stated.iter().collect();
    assert_eq!(unique.len(), stated.len(), "a module listed twice: {stated:?}");
    let actual: BTreeSet<String> = actual_edges().into_keys().collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<BTreeSet<_>>(),
        actual,
        "docs/contributing.md and host/src differ"
    );
}
