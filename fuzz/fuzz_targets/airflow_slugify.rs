//! Airflow's session-name slugify, ported: whatever the text (entities,
//! quotes, digits with commas, any script), it never panics, and what it
//! returns is what python-slugify's last steps guarantee: only Python word
//! characters and `+=,.@-`, no ASCII capitals, no `--`, no dash at either
//! end. (Equality with the real python-slugify is the differential test's
//! job: `tests/tests/airflow_slugify.rs`.)
#![no_main]

use lava_guest_airflow_aws::slugify::{is_python_word, slugify_session_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let slug = slugify_session_name(text);
    assert!(!slug.contains("--") && !slug.starts_with('-') && !slug.ends_with('-'), "{slug:?}");
    assert!(!slug.chars().any(|c| c.is_ascii_uppercase()), "{slug:?}");
    assert!(slug.chars().all(|c| is_python_word(c) || "+=,.@-".contains(c)), "{slug:?}");
});
