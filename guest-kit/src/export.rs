//! The contract's side of the SDK: the WIT bindings, the host's imports behind
//! [`Host`], and the glue [`export_connector!`](crate::export_connector)
//! expands to. Connector crates never name anything here.

/// The bindings of contract 0.2.0, generated once for every connector.
#[cfg(target_family = "wasm")]
pub mod wit {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit/v0.2.0",
        pub_export_macro: true,
        export_macro_name: "__export_wit",
        default_bindings_module: "lava_guest_kit::__wit",
    });
}

/// What the exported functions call, generic over the connector.
#[cfg(target_family = "wasm")]
pub mod glue {
    use super::wit::lava::connector::types as wit;
    use super::wit::lava::connector::{config, log, ssm, sts, worker_credentials};
    use crate::{
        AssumeRole, CapabilityError, Connector, Credentials, Host, JobContext, Launcher, Level, Problem, Resolved,
        Severity, ValidateContext,
    };

    /// The contract's imports, as the [`Host`] a connector is handed.
    struct WasmHost;

    impl Host for WasmHost {
        fn get_parameter(&self, name: &str) -> Result<String, CapabilityError> {
            ssm::get_parameter(name, true).map_err(error_from_wit)
        }

        fn assume_role(
            &self,
            request: &AssumeRole,
            source: Option<&Credentials>,
        ) -> Result<Credentials, CapabilityError> {
            let request = sts::AssumeRoleRequest {
                role_arn: request.role_arn.clone(),
                session_name: request.session_name.clone(),
                duration_seconds: request.duration_seconds,
                external_id: request.external_id.clone(),
                policy_arns: request.policy_arns.clone(),
                policy: request.policy.clone(),
                tags: request
                    .tags
                    .iter()
                    .map(|(key, value)| sts::Tag { key: key.clone(), value: value.clone() })
                    .collect(),
                transitive_tag_keys: request.transitive_tag_keys.clone(),
                endpoint_url: request.endpoint_url.clone(),
                source_identity: request.source_identity.clone(),
                region: request.region.clone(),
                source: source.cloned().map(credentials_to_wit),
            };
            sts::assume_role(&request).map(credentials_from_wit).map_err(error_from_wit)
        }

        fn worker_credentials(&self) -> Result<Credentials, CapabilityError> {
            worker_credentials::get().map(credentials_from_wit).map_err(error_from_wit)
        }

        fn log(&self, level: Level, message: &str) {
            let level = match level {
                Level::Trace => log::Level::Trace,
                Level::Debug => log::Level::Debug,
                Level::Info => log::Level::Info,
                Level::Warn => log::Level::Warn,
                Level::Error => log::Level::Error,
            };
            log::log(level, message);
        }

        fn setting(&self, key: &str) -> Option<String> {
            config::get(key)
        }
    }

    /// Without WASI a panic has no stderr to print to, and the host would
    /// see only a trap: log its message at error level first, which the
    /// host shows with the trap. Set at every entry, as every call runs in a
    /// fresh instance.
    #[cfg(target_os = "unknown")]
    fn report_panics() {
        std::panic::set_hook(Box::new(|panic| log::log(log::Level::Error, &panic.to_string())));
    }

    #[cfg(not(target_os = "unknown"))]
    fn report_panics() {}

    pub fn describe<C: Connector>() -> wit::Descriptor {
        report_panics();
        wit::Descriptor {
            types: vec![C::TYPE.to_string()],
            version: C::VERSION.to_string(),
            fields: C::FIELDS
                .iter()
                .map(|f| wit::FieldInfo {
                    name: f.name.to_string(),
                    type_name: f.type_name.to_string(),
                    required: f.required,
                    description: f.description.to_string(),
                })
                .collect(),
        }
    }

    pub fn validate<C: Connector>(spec: String, context: wit::ValidateContext) -> Vec<wit::Problem> {
        report_panics();
        problems_to_wit(C::default().validate(&spec, &ValidateContext { realm: context.realm }, &WasmHost))
    }

    pub fn session_name<C: Connector>(spec: String, context: wit::JobContext) -> Result<String, Vec<wit::Problem>> {
        report_panics();
        C::default().session_name(&spec, &job_from_wit(context), &WasmHost).map_err(problems_to_wit)
    }

    pub fn resolve<C: Connector>(spec: String, context: wit::JobContext) -> Result<wit::Resolved, String> {
        report_panics();
        let mut resolved = C::default().resolve(&spec, &job_from_wit(context), &WasmHost)?;
        if let Some(aws) = resolved.aws.as_mut().filter(|aws| aws.region.is_none()) {
            aws.region = WasmHost.setting("AWS_REGION");
        }
        Ok(resolved_to_wit(resolved))
    }

    fn job_from_wit(c: wit::JobContext) -> JobContext {
        JobContext {
            realm: c.realm,
            job_id: c.job_id,
            conn_id: c.conn_id,
            session_name_template: c.session_name_template,
        }
    }

    fn problems_to_wit(problems: Vec<Problem>) -> Vec<wit::Problem> {
        problems
            .into_iter()
            .map(|p| wit::Problem {
                field: p.field,
                message: p.message,
                severity: match p.severity {
                    Severity::Error => wit::Severity::Error,
                    Severity::Warning => wit::Severity::Warning,
                },
            })
            .collect()
    }

    fn resolved_to_wit(r: Resolved) -> wit::Resolved {
        wit::Resolved {
            values: r
                .values
                .into_iter()
                .map(|v| wit::NamedValue { name: v.name, value: v.value, secret: v.secret })
                .collect(),
            expiration: r.expiration,
            aws: r.aws.map(credentials_to_wit),
            launcher: r.launcher.map(|Launcher::AwsCli| wit::LauncherKind::AwsCli),
        }
    }

    fn credentials_to_wit(c: Credentials) -> wit::AwsCredentials {
        wit::AwsCredentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expiration: c.expiration,
            region: c.region,
            endpoint_url: c.endpoint_url,
        }
    }

    fn credentials_from_wit(c: wit::AwsCredentials) -> Credentials {
        Credentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expiration: c.expiration,
            region: c.region,
            endpoint_url: c.endpoint_url,
        }
    }

    fn error_from_wit(e: wit::CapabilityError) -> CapabilityError {
        match e {
            wit::CapabilityError::NotGranted(m) => CapabilityError::NotGranted(m),
            wit::CapabilityError::NotFound(m) => CapabilityError::NotFound(m),
            wit::CapabilityError::AccessDenied(m) => CapabilityError::AccessDenied(m),
            wit::CapabilityError::Throttled(m) => CapabilityError::Throttled(m),
            wit::CapabilityError::InvalidInput(m) => CapabilityError::InvalidInput(m),
            wit::CapabilityError::RegionDisabled(m) => CapabilityError::RegionDisabled(m),
            wit::CapabilityError::ExpiredToken(m) => CapabilityError::ExpiredToken(m),
            wit::CapabilityError::Unavailable(m) => CapabilityError::Unavailable(m),
            wit::CapabilityError::Other(m) => CapabilityError::Other(m),
        }
    }
}

/// Export a [`Connector`](crate::Connector) as the component's
/// `lava:connector/connector` (contract 0.2.0). Use it once per plugin crate,
/// at its root. Native builds (tests, fuzzing) expand it to nothing.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[cfg(target_family = "wasm")]
        #[doc(hidden)]
        pub struct __LavaConnectorExport;

        #[cfg(target_family = "wasm")]
        impl $crate::__wit::exports::lava::connector::connector::Guest for __LavaConnectorExport {
            fn describe() -> $crate::__wit::lava::connector::types::Descriptor {
                $crate::__glue::describe::<$connector>()
            }
            fn validate(
                spec: ::std::string::String,
                context: $crate::__wit::lava::connector::types::ValidateContext,
            ) -> ::std::vec::Vec<$crate::__wit::lava::connector::types::Problem> {
                $crate::__glue::validate::<$connector>(spec, context)
            }
            fn session_name(
                spec: ::std::string::String,
                context: $crate::__wit::lava::connector::types::JobContext,
            ) -> ::std::result::Result<
                ::std::string::String,
                ::std::vec::Vec<$crate::__wit::lava::connector::types::Problem>,
            > {
                $crate::__glue::session_name::<$connector>(spec, context)
            }
            fn resolve(
                spec: ::std::string::String,
                context: $crate::__wit::lava::connector::types::JobContext,
            ) -> ::std::result::Result<$crate::__wit::lava::connector::types::Resolved, ::std::string::String> {
                $crate::__glue::resolve::<$connector>(spec, context)
            }
        }

        #[cfg(target_family = "wasm")]
        $crate::__wit::__export_wit!(__LavaConnectorExport with_types_in $crate::__wit);
    };
}
