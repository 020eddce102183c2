//! lava's duration grammar: never panics, and what it accepts is finite.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(seconds) = lava_rules::duration::parse_duration(text) {
        assert!(seconds.is_finite());
    }
});
