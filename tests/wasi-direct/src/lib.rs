//! A connector plugin of type `wasi-direct` that calls WASI's monotonic clock
//! itself: `validate` of `{"type": "wasi-direct", "pollables": N}` creates N
//! pollables and holds them all, then reports how many it held as a warning.
//! It proves that a plugin cannot make the host keep unbounded state. With
//! `"sleep_ms": M` it first sleeps M milliseconds through WASI (a call that
//! keeps its instance slot busy).

#![cfg(target_family = "wasm")]

wit_bindgen::generate!({ world: "plugin", path: "wit", generate_all });

use exports::lava::connector::connector::Guest;
use lava::connector::types::{Descriptor, JobContext, Problem, Resolved, Severity, ValidateContext};
use wasi::clocks::monotonic_clock::subscribe_duration;

struct WasiDirect;
export!(WasiDirect);

/// The number after `"<key>":` in the spec (0 if absent).
fn number(spec: &str, key: &str) -> u64 {
    let key = format!("\"{key}\":");
    let Some(start) = spec.find(&key) else { return 0 };
    let digits: String = spec[start + key.len()..].trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

impl Guest for WasiDirect {
    fn describe() -> Descriptor {
        Descriptor { types: vec!["wasi-direct".into()], version: "0.0.1".into(), fields: Vec::new() }
    }

    fn validate(spec: String, _context: ValidateContext) -> Vec<Problem> {
        let sleep_ms = number(&spec, "sleep_ms");
        if sleep_ms > 0 {
            subscribe_duration(sleep_ms * 1_000_000).block();
        }
        let held: Vec<_> = (0..number(&spec, "pollables")).map(|_| subscribe_duration(3_600_000_000_000)).collect();
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
