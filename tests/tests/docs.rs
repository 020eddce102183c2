//! The docs name only what exists: every relative link, and every path of
//! this repository written in backticks, in README.md, SECURITY.md and
//! docs/. A user of the product has only the product: nothing may point
//! outside it.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut docs = vec![root.join("README.md"), root.join("SECURITY.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    docs.extend(pages);
    docs
}

/// The top-level folders whose paths the docs name in backticks.
const TOP: &[&str] = &[
    "host/",
    "guest-aws/",
    "guest-airflow-aws/",
    "guest-kit/",
    "rules/",
    "engine/",
    "wasm-build/",
    "tests/",
    "examples/",
    "sdk/",
    "wit/",
    "docs/",
    "fuzz/",
    ".cargo/",
    ".ci/",
];

/// `host/src/lib.rs`, `tests/tests/x.rs::a_test`, `guest-kit/` → the path part.
fn repository_path(code: &str) -> Option<&str> {
    let path = code.split("::").next()?.trim_end_matches([',', '.', ':', ')']);
    let plain = !path.contains([' ', '<', '>', '{', '}', '$', '…']) && !path.contains("...");
    (plain && TOP.iter().any(|top| path.starts_with(top))).then_some(path)
}

fn exists(path: &Path) -> bool {
    let text = path.to_string_lossy();
    match text.split_once('*') {
        // `host/src/capabilities/*.rs`: the folder exists and holds such a file.
        Some((folder, suffix)) => std::fs::read_dir(folder)
            .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().ends_with(suffix)))
            .unwrap_or(false),
        None => path.exists(),
    }
}

#[test]
fn every_path_and_link_the_docs_name_exists() {
    let root = root();
    let mut missing = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(&root).unwrap().display().to_string();
        for (i, line) in text.lines().enumerate() {
            for link in line.split("](").skip(1).filter_map(|rest| rest.split(')').next()) {
                let target = link.split('#').next().unwrap();
                if target.is_empty() || target.starts_with("http://") || target.starts_with("https://") {
                    continue;
                }
                if !exists(&doc.parent().unwrap().join(target)) {
                    missing.push(format!("{name}:{}: link {link}", i + 1));
                }
            }
            for code in line.split('`').skip(1).step_by(2) {
                if let Some(path) = repository_path(code).filter(|p| !exists(&root.join(p))) {
                    missing.push(format!("{name}:{}: path {path}", i + 1));
                }
            }
        }
    }
    assert!(missing.is_empty(), "the docs name what does not exist:\n{}", missing.join("\n"));
}

#[test]
fn the_docs_point_nowhere_outside_the_product() {
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        assert!(!text.contains("../shared"), "{} points at ../shared, which users do not have", doc.display());
    }
}

#[test]
fn the_readme_is_what_a_newcomer_reads() {
    let lines = std::fs::read_to_string(root().join("README.md")).unwrap().lines().count();
    assert!(lines <= 250, "README.md has {lines} lines: move detail into docs/ and link it");
}
