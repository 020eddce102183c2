//! A connector plugin of type `newer-wasi` that imports
//! `wasi:clocks/monotonic-clock@0.3.0`, a WASI version the host does not
//! link: the host must refuse it at load, naming the import.

#![cfg(target_family = "wasm")]

wit_bindgen::generate!({ world: "plugin", path: "wit", generate_all });

use exports::lava::connector::connector::Guest;
use lava::connector::types::{Descriptor, JobContext, Problem, Resolved, ValidateContext};

struct NewerWasi;
export!(NewerWasi);

impl Guest for NewerWasi {
    fn describe() -> Descriptor {
        Descriptor { types: vec!["newer-wasi".into()], version: "0.0.1".into(), fields: Vec::new() }
    }

    fn validate(_spec: String, _context: ValidateContext) -> Vec<Problem> {
        let _ = wasi::clocks::monotonic_clock::now();
        Vec::new()
    }

    fn session_name(_spec: String, _context: JobContext) -> Result<String, Vec<Problem>> {
        Ok("newer-wasi".into())
    }

    fn resolve(_spec: String, _context: JobContext) -> Result<Resolved, String> {
        Err("the newer-wasi plugin resolves nothing".into())
    }
}
