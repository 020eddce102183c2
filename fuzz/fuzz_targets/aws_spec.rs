//! The aws spec validator never panics, and a spec it accepts resolves to a
//! well-formed AssumeRole request or static-keys read. A spec's fields parse
//! exactly as serde_json parses a map: the same keys in the same order with
//! the same values, and an error exactly where serde_json has one.
#![no_main]

use lava_guest_aws::spec::{Settings, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let ours = lava_guest_kit::parse_object(text)
        .map(|fields| fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<Vec<_>>());
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => assert_eq!(ours.ok(), Some(map.into_iter().collect())),
        Ok(_) => assert!(ours.is_err_and(|p| p.message.contains("must be a JSON object"))),
        Err(_) => assert!(ours.is_err_and(|p| p.message.contains("not valid JSON"))),
    }
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
