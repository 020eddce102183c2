//! Session names: whatever the template and ids, the result is 2–64
//! characters STS accepts, or a template error; and the engine-free
//! rendering agrees with minijinja wherever it renders.
#![no_main]

use lava_rules::session::{DEFAULT_TEMPLATE, render_plain, render_with_minijinja, session_name};
use libfuzzer_sys::fuzz_target;

/// STS's documented pattern, `[\w+=,.@-]{2,64}` over ASCII, written here
/// byte by byte so that the production check is never its own judge.
fn sts_accepts(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\u{0}');
    let (realm, job, template) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next());
    let name = session_name(DEFAULT_TEMPLATE, realm, job, "conn").expect("the default template renders");
    assert!(sts_accepts(&name), "{name:?}");
    if let Some(template) = template {
        if let Ok(name) = session_name(template, realm, job, "conn") {
            assert!(sts_accepts(&name), "{name:?}");
        }
        // The engine-free path renders exactly what the engine does.
        if let Some(plain) = render_plain(template, realm, job, "conn") {
            assert_eq!(Ok(plain), render_with_minijinja(template, realm, job, "conn"), "{template:?}");
        }
    }
    let airflow = lava_guest_airflow_aws::default_session_name(text);
    assert!(airflow.starts_with("airflow_"), "{airflow:?}");
    // The production check agrees with the pattern on arbitrary text too.
    assert_eq!(lava_rules::session::is_valid_session_name(text), sts_accepts(text), "{text:?}");
});
