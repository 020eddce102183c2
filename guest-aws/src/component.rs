//! The WIT glue: the shared kit's bindings around the plain-Rust logic.

use lava_guest_kit::exports::lava::connector::connector::Guest;
use lava_guest_kit::lava::connector::types::{Descriptor, JobContext, Problem, Resolved, ValidateContext};
use lava_guest_kit::{HostCapabilities, descriptor, log_warnings, problems_to_wit, resolved_aws, setting};

use crate::spec::{self, Settings};

struct AwsConnector;

lava_guest_kit::export_connector!(AwsConnector);

fn settings(realm: Option<String>) -> Settings {
    Settings {
        realm: realm.filter(|r| !r.is_empty()),
        default_duration: setting("AWS_CONN_DURATION"),
        cache_ttl: setting("AWS_ACCESS_KEY_CACHE_TTL"),
    }
}

fn job(context: &JobContext) -> crate::Job<'_> {
    crate::Job {
        realm: &context.realm,
        job_id: &context.job_id,
        conn_id: &context.conn_id,
        session_name_template: &context.session_name_template,
    }
}

impl Guest for AwsConnector {
    fn describe() -> Descriptor {
        descriptor(spec::CONNECTOR_TYPE, env!("CARGO_PKG_VERSION"), spec::FIELDS)
    }

    fn validate(spec: String, context: ValidateContext) -> Vec<Problem> {
        problems_to_wit(crate::validate(&spec, &settings(context.realm)))
    }

    fn session_name(spec: String, context: JobContext) -> Result<String, Vec<Problem>> {
        crate::session_name(&spec, &job(&context), &settings(Some(context.realm.clone()))).map_err(problems_to_wit)
    }

    fn resolve(spec: String, context: JobContext) -> Result<Resolved, String> {
        let settings = settings(Some(context.realm.clone()));
        let (mut credentials, warnings) = crate::resolve(&spec, &job(&context), &settings, &HostCapabilities)?;
        log_warnings(&context, &warnings);
        if credentials.region.is_none() {
            credentials.region = setting("AWS_REGION");
        }
        Ok(resolved_aws(credentials))
    }
}
