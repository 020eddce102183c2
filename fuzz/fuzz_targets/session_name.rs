//! Session names: whatever the template and ids, the result is 2–64
//! characters STS accepts, or a template error; and the engine-free
//! rendering agrees with minijinja wherever it renders.
#![no_main]

use lava_rules::session::{DEFAULT_TEMPLATE, is_valid_session_name, render_plain, render_with_minijinja, session_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\u{0}');
    let (realm, job, template) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next());
    let name = session_name(DEFAULT_TEMPLATE, realm, job, "conn").expect("the default template renders");
    assert!(is_valid_session_name(&name), "{name:?}");
    if let Some(template) = template {
        if let Ok(name) = session_name(template, realm, job, "conn") {
            assert!(is_valid_session_name(&name), "{name:?}");
        }
        // The engine-free path renders exactly what the engine does.
        if let Some(plain) = render_plain(template, realm, job, "conn") {
            assert_eq!(Ok(plain), render_with_minijinja(template, realm, job, "conn"), "{template:?}");
        }
    }
    let airflow = lava_guest_airflow_aws::default_session_name(text);
    assert!(airflow.starts_with("airflow_"), "{airflow:?}");
});
