//! A connector plugin of type `panicking`, built like the built-ins
//! (`lava-wasm-build::build_builtin`: no WASI, so no stderr), whose validate
//! panics with a message naming the spec's length.

#![cfg(target_family = "wasm")]

use lava_guest_kit::{Field, Host, JobContext, Problem, RawConnector, Resolved, ValidateContext};

#[derive(Default)]
struct Panicking;

lava_guest_kit::export_connector!(Panicking);

impl RawConnector for Panicking {
    const TYPE: &'static str = "panicking";
    const VERSION: &'static str = "0.0.1";
    const FIELDS: &'static [Field] = &[];

    fn validate_json(&self, spec: &str, _context: &ValidateContext, _host: &dyn Host) -> Vec<Problem> {
        panic!("a spec of {} bytes broke me", spec.len())
    }

    fn session_name_json(&self, _spec: &str, _context: &JobContext, _host: &dyn Host) -> Result<String, Vec<Problem>> {
        Ok("panicking".into())
    }

    fn resolve_json(&self, _spec: &str, _context: &JobContext, _host: &dyn Host) -> Result<Resolved, String> {
        Err("the panicking plugin resolves nothing".into())
    }
}
