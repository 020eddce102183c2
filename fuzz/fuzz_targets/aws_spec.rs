//! The aws spec validator never panics, and a spec it accepts resolves to a
//! well-formed AssumeRole request or static-keys read. A spec's fields parse
//! exactly as serde_json parses a map: the same keys in the same order with
//! the same values, and an error exactly where serde_json has one.
#![no_main]

use lava_guest_aws::AwsConnector;
use lava_guest_aws::spec::AwsSpec;
use lava_guest_kit::ValidateContext;
use lava_guest_kit::spec::read_spec;
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
    let checked = read_spec(&AwsConnector, text, &ValidateContext::in_realm("prod"));
    if let Some(AwsSpec { duration, policy_arns, tags, .. }) = checked.spec {
        assert!(duration.is_none_or(|d| (900..=43_200).contains(&d.0)));
        assert!(policy_arns.is_none_or(|p| p.0.len() <= 10));
        assert!(tags.is_none_or(|t| t.0.len() <= 50));
    }
});
