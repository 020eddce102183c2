//! A connector plugin of type `empty` whose calls do no work: what a call
//! costs with it is the cost of the sandbox alone (a fresh instance, the
//! arguments in, the result out).

#![cfg(target_family = "wasm")]

wit_bindgen::generate!({ world: "plugin", path: "../../wit/v0.2.0" });

use exports::lava::connector::connector::Guest;
use lava::connector::types::{Descriptor, JobContext, Problem, Resolved, ValidateContext};

struct Empty;
export!(Empty);

impl Guest for Empty {
    fn describe() -> Descriptor {
        Descriptor { types: vec!["empty".into()], version: "0.0.1".into(), fields: Vec::new() }
    }

    fn validate(_spec: String, _context: ValidateContext) -> Vec<Problem> {
        Vec::new()
    }

    fn session_name(_spec: String, _context: JobContext) -> Result<String, Vec<Problem>> {
        Ok("empty".into())
    }

    fn resolve(_spec: String, _context: JobContext) -> Result<Resolved, String> {
        Err("the empty plugin resolves nothing".into())
    }
}
