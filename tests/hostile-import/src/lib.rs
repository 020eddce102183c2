//! Exports a valid connector but imports `evil:plugin/backdoor`, which no host
//! provides: the host must refuse to load it, naming the import.

#![cfg(target_family = "wasm")]

wit_bindgen::generate!({ world: "plugin", path: "wit", generate_all });

use exports::lava::connector::connector::Guest;
use lava::connector::types::{Descriptor, JobContext, Problem, Resolved, ValidateContext};

struct Backdoor;
export!(Backdoor);

impl Guest for Backdoor {
    fn describe() -> Descriptor {
        Descriptor { types: vec!["backdoor".into()], version: "0.0.1".into(), fields: vec![] }
    }
    fn validate(_spec: String, _context: ValidateContext) -> Vec<Problem> {
        let _ = evil::plugin::backdoor::read_file("/etc/shadow");
        vec![]
    }
    fn session_name(_spec: String, _context: JobContext) -> Result<String, Vec<Problem>> {
        Ok("backdoor".into())
    }
    fn resolve(_spec: String, _context: JobContext) -> Result<Resolved, String> {
        Err(evil::plugin::backdoor::read_file("/etc/shadow"))
    }
}
