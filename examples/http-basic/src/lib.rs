//! A connector type `http-basic`: an HTTP service's URL and user, and its
//! password read from SSM, for a job that calls the service.
//!
//! ```json
//! {"conn_id": "billing-api", "type": "http-basic", "enabled": true,
//!  "url": "https://billing.example.com/api", "user": "etl",
//!  "password": "/lava/prod/billing-api/password"}
//! ```

use lava_guest_kit::{
    Capability, Connector, Host, JobContext, NamedValue, Need, Problem, Resolved, Spec, ValidateContext,
};

/// The connector type.
#[derive(Default)]
pub struct HttpBasic;

lava_guest_kit::export_connector!(HttpBasic);

/// An `http-basic` connection.
#[derive(Spec)]
pub struct HttpBasicSpec {
    /// The service's base URL, `https://…`.
    url: String,
    /// The user name.
    user: String,
    /// The SSM parameter holding the password.
    password: String,
}

impl Connector for HttpBasic {
    const TYPE: &'static str = "http-basic";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// Passwords under the job's realm only, whatever else the worker allows.
    const NEEDS: &'static [Need] = &[Need::within(Capability::Ssm, &["/lava/{realm}/"])];
    type Spec = HttpBasicSpec;

    fn check(&self, spec: &HttpBasicSpec, _: &ValidateContext, problems: &mut Vec<Problem>) {
        if !spec.url.starts_with("https://") {
            problems.push(Problem::error("url", "must start with `https://`: the password goes with every request"));
        }
        if !spec.password.starts_with('/') {
            problems.push(Problem::error(
                "password",
                "must name an SSM parameter (`/lava/<realm>/…`), not hold a password",
            ));
        }
    }

    fn resolve(&self, spec: HttpBasicSpec, _: &JobContext, host: &dyn Host) -> Result<Resolved, String> {
        let password = host
            .get_parameter(&spec.password)
            .map_err(|e| format!("password: cannot read SSM parameter `{}`: {e}", spec.password))?;
        Ok(Resolved::values(vec![
            NamedValue::plain("HTTP_URL", spec.url),
            NamedValue::plain("HTTP_USER", spec.user),
            NamedValue::secret("HTTP_PASSWORD", password),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use lava_guest_kit::testing::FakeHost;
    use lava_guest_kit::{RawConnector, Severity};

    use super::*;

    const SPEC: &str = r#"{"conn_id": "billing-api", "type": "http-basic", "enabled": true,
        "url": "https://billing.example.com/api", "user": "etl", "password": "/lava/prod/billing/password"}"#;

    fn job() -> JobContext {
        JobContext { realm: "prod".into(), job_id: "j".into(), conn_id: "billing-api".into(), ..JobContext::default() }
    }

    #[test]
    fn a_good_spec_resolves_to_the_url_the_user_and_the_secret_password() {
        let host = FakeHost::default().with_parameter("/lava/prod/billing/password", "s3cret");
        assert_eq!(HttpBasic.validate_json(SPEC, &ValidateContext::default(), &host), vec![]);
        let values = HttpBasic.resolve_json(SPEC, &job(), &host).unwrap().values;
        let shown: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
        assert_eq!(
            shown,
            [
                r#"NamedValue { name: "HTTP_URL", value: "https://billing.example.com/api" }"#,
                r#"NamedValue { name: "HTTP_USER", value: "etl" }"#,
                r#"NamedValue { name: "HTTP_PASSWORD", value: "<redacted>" }"#,
            ]
        );
        assert_eq!(values[2], NamedValue::secret("HTTP_PASSWORD", "s3cret"));
    }

    #[test]
    fn a_plain_http_url_and_a_password_in_the_spec_are_refused() {
        let spec = SPEC.replace("https://", "http://").replace("/lava/prod/billing/password", "hunter2");
        let problems = HttpBasic.validate_json(&spec, &ValidateContext::default(), &FakeHost::default());
        let fields: Vec<(&str, Severity)> = problems.iter().map(|p| (p.field.as_str(), p.severity)).collect();
        assert_eq!(fields, [("url", Severity::Error), ("password", Severity::Error)]);
        assert!(problems.iter().all(|p| !p.message.contains("hunter2")), "{problems:?}");
    }
}
