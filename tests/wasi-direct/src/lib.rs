//! A connector plugin of type `wasi-direct` that calls WASI's monotonic clock
//! itself: `validate` of `{"type": "wasi-direct", "pollables": N}` creates N
//! pollables and holds them all, then reports how many it held as a warning.
//! It proves that a plugin cannot make the host keep unbounded state.

#![cfg(target_family = "wasm")]

wit_bindgen::generate!({ world: "plugin", path: "wit", generate_all });

use exports::lava::connector::connector::Guest;
use lava::connector::types::{Descriptor, JobContext, Problem, Resolved, Severity, ValidateContext};
use wasi::clocks::monotonic_clock::subscribe_duration;

struct WasiDirect;
export!(WasiDirect);

/// The number after `"pollables":` in the spec (0 if absent).
fn pollables(spec: &str) -> usize {
    let Some(start) = spec.find("\"pollables\":") else { return 0 };
    let digits: String = spec[start + 12..].trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

impl Guest for WasiDirect {
    fn describe() -> Descriptor {
        Descriptor { types: vec!["wasi-direct".into()], version: "0.0.1".into(), fields: Vec::new() }
    }

    fn validate(spec: String, _context: ValidateContext) -> Vec<Problem> {
        let held: Vec<_> = (0..pollables(&spec)).map(|_| subscribe_duration(3_600_000_000_000)).collect();
        vec![Problem {
            field: "pollables".into(),
            message: format!("held {}", held.len()),
            severity: Severity::Warning,
        }]
    }

    fn session_name(_spec: String, _context: JobContext) -> Result<String, Vec<Problem>> {
        Ok("wasi-direct".into())
    }

    fn resolve(_spec: String, _context: JobContext) -> Result<Resolved, String> {
        Err("the wasi-direct plugin resolves nothing".into())
    }
}
