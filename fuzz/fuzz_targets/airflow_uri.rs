//! Airflow URIs and whole airflow-aws specs: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = lava_guest_airflow_aws::uri::parse(text);
    let _ = lava_guest_airflow_aws::check(text);
});
