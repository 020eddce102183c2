//! The aws spec validator never panics, and a spec it accepts resolves to a
//! well-formed AssumeRole request or static-keys read.
#![no_main]

use lava_guest_aws::spec::{Settings, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let settings = Settings { realm: Some("prod".into()), ..Settings::default() };
    let checked = check(text, &settings);
    if let Some(spec) = checked.spec {
        assert!(!spec.conn_id.is_empty());
        if let lava_guest_aws::spec::Source::Role(role) = spec.source {
            assert!((900..=43_200).contains(&role.duration_seconds));
            assert!(role.policy_arns.len() <= 10);
            assert!(role.tags.len() <= 50);
        }
    }
});
