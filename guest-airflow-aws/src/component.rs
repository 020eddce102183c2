//! The WIT glue: the shared kit's bindings around the plain-Rust logic.

use lava_guest_kit::exports::lava::connector::connector::Guest;
use lava_guest_kit::lava::connector::types::{Descriptor, JobContext, Problem, Resolved, ValidateContext};
use lava_guest_kit::{HostCapabilities, descriptor, log_warnings, problems_to_wit, resolved_aws, setting};

struct AirflowAwsConnector;

lava_guest_kit::export_connector!(AirflowAwsConnector);

impl Guest for AirflowAwsConnector {
    fn describe() -> Descriptor {
        descriptor(crate::CONNECTOR_TYPE, env!("CARGO_PKG_VERSION"), crate::FIELDS)
    }

    fn validate(spec: String, _context: ValidateContext) -> Vec<Problem> {
        problems_to_wit(crate::check(&spec).1)
    }

    fn session_name(spec: String, _context: JobContext) -> Result<String, Vec<Problem>> {
        crate::session_name(&spec).map_err(problems_to_wit)
    }

    fn resolve(spec: String, context: JobContext) -> Result<Resolved, String> {
        let (mut credentials, warnings) = crate::resolve(&spec, &HostCapabilities)?;
        log_warnings(&context, &warnings);
        if credentials.region.is_none() {
            credentials.region = setting("AWS_REGION");
        }
        Ok(resolved_aws(credentials))
    }
}
