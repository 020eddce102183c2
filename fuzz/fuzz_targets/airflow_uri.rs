//! Airflow URIs and whole airflow-aws specs: never panic.
#![no_main]

use lava_guest_airflow_aws::AirflowAwsConnector;
use lava_guest_kit::ValidateContext;
use lava_guest_kit::spec::read_spec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = lava_guest_airflow_aws::uri::parse(text);
    let checked = read_spec(&AirflowAwsConnector, text, &ValidateContext::default());
    if let Some(spec) = checked.spec {
        // A spec without errors always gives a connection.
        assert!(lava_guest_airflow_aws::connection(&spec, &mut Vec::new()).is_some());
    }
});
