//! The contract's side of the SDK: the WIT bindings, the host's imports behind
//! [`Host`], and the glue [`export_connector!`](crate::export_connector)
//! expands to. Connector crates never name anything here.

/// The bindings of contract 0.3.0, generated once for every connector.
#[cfg(target_family = "wasm")]
pub mod wit {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit/v0.3.0",
        pub_export_macro: true,
        export_macro_name: "__export_wit",
        default_bindings_module: "lava_guest_kit::__wit",
    });
}

/// What the exported functions call, generic over the connector.
#[cfg(target_family = "wasm")]
pub mod glue {
    #[cfg(feature = "rds")]
    use super::wit::lava::connector::rds;
    #[cfg(feature = "redshift")]
    use super::wit::lava::connector::redshift;
    #[cfg(feature = "secrets-manager")]
    use super::wit::lava::connector::secrets_manager;
    use super::wit::lava::connector::types as wit;
    use super::wit::lava::connector::{config, log, ssm, sts, worker_credentials};
    #[cfg(feature = "rds")]
    use crate::AuthToken;
    use crate::{
        AssumeRole, Capability, CapabilityError, Credentials, Host, JobContext, LauncherKind, Level, Login, Problem,
        RawConnector, Resolved, Severity, ValidateContext,
    };
    #[cfg(feature = "redshift")]
    use crate::{ClusterCredentials, DatabaseCredentials, ServerlessCredentials};

    fn assume_role_to_wit(request: &AssumeRole, source: Option<&Credentials>) -> sts::AssumeRoleRequest {
        sts::AssumeRoleRequest {
            role_arn: request.role_arn.clone(),
            session_name: request.session_name.clone(),
            duration_seconds: request.duration_seconds,
            external_id: request.external_id.clone(),
            policy_arns: request.policy_arns.clone(),
            policy: request.policy.clone(),
            tags: request.tags.iter().map(|(key, value)| sts::Tag { key: key.clone(), value: value.clone() }).collect(),
            transitive_tag_keys: request.transitive_tag_keys.clone(),
            endpoint_url: request.endpoint_url.clone(),
            source_identity: request.source_identity.clone(),
            region: request.region.clone(),
            source: source.cloned().map(credentials_to_wit),
        }
    }

    #[cfg(feature = "redshift")]
    fn database_credentials_from_wit(c: wit::DatabaseCredentials) -> DatabaseCredentials {
        DatabaseCredentials { user: c.user, password: c.password, expiration: c.expiration }
    }

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
            sts::assume_role(&assume_role_to_wit(request, source)).map(credentials_from_wit).map_err(error_from_wit)
        }

        fn worker_credentials(&self) -> Result<Credentials, CapabilityError> {
            worker_credentials::get().map(credentials_from_wit).map_err(error_from_wit)
        }

        #[cfg(feature = "secrets-manager")]
        fn get_secret_value(&self, secret_id: &str) -> Result<String, CapabilityError> {
            secrets_manager::get_secret_value(secret_id).map_err(error_from_wit)
        }

        #[cfg(feature = "redshift")]
        fn get_cluster_credentials(&self, r: &ClusterCredentials) -> Result<DatabaseCredentials, CapabilityError> {
            let request = redshift::ClusterCredentialsRequest {
                cluster_identifier: r.cluster_identifier.clone(),
                db_user: r.db_user.clone(),
                db_name: r.db_name.clone(),
                duration_seconds: r.duration_seconds,
                auto_create: r.auto_create,
                db_groups: r.db_groups.clone(),
                region: r.region.clone(),
                as_role: r.as_role.as_ref().map(|role| assume_role_to_wit(role, None)),
            };
            redshift::get_cluster_credentials(&request).map(database_credentials_from_wit).map_err(error_from_wit)
        }

        #[cfg(feature = "redshift")]
        fn get_serverless_credentials(
            &self,
            r: &ServerlessCredentials,
        ) -> Result<DatabaseCredentials, CapabilityError> {
            let request = redshift::ServerlessCredentialsRequest {
                workgroup_name: r.workgroup_name.clone(),
                db_name: r.db_name.clone(),
                duration_seconds: r.duration_seconds,
                region: r.region.clone(),
                as_role: r.as_role.as_ref().map(|role| assume_role_to_wit(role, None)),
            };
            redshift::get_serverless_credentials(&request).map(database_credentials_from_wit).map_err(error_from_wit)
        }

        #[cfg(feature = "rds")]
        fn generate_auth_token(&self, r: &AuthToken) -> Result<String, CapabilityError> {
            let request = rds::AuthTokenRequest {
                host: r.host.clone(),
                port: r.port,
                user: r.user.clone(),
                region: r.region.clone(),
                as_role: r.as_role.as_ref().map(|role| assume_role_to_wit(role, None)),
            };
            rds::generate_auth_token(&request).map_err(error_from_wit)
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

    pub fn describe<C: RawConnector>() -> wit::Descriptor {
        report_panics();
        wit::Descriptor {
            types: C::TYPES.iter().map(|t| t.to_string()).collect(),
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
            needs: C::NEEDS
                .iter()
                .map(|n| wit::Need {
                    capability: capability_to_wit(n.capability),
                    scope: n.scope.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
        }
    }

    fn capability_to_wit(c: Capability) -> wit::Capability {
        match c {
            Capability::Ssm => wit::Capability::Ssm,
            Capability::SecretsManager => wit::Capability::SecretsManager,
            Capability::Sts => wit::Capability::Sts,
            Capability::Redshift => wit::Capability::Redshift,
            Capability::RedshiftServerless => wit::Capability::RedshiftServerless,
            Capability::RdsToken => wit::Capability::RdsToken,
            Capability::WorkerCredentials => wit::Capability::WorkerCredentials,
        }
    }

    fn launcher_to_wit(l: LauncherKind) -> wit::LauncherKind {
        match l {
            LauncherKind::AwsCli => wit::LauncherKind::AwsCli,
            LauncherKind::Psql => wit::LauncherKind::Psql,
            LauncherKind::Mysql => wit::LauncherKind::Mysql,
            LauncherKind::Ssh => wit::LauncherKind::Ssh,
            LauncherKind::Scp => wit::LauncherKind::Scp,
            LauncherKind::Sftp => wit::LauncherKind::Sftp,
            LauncherKind::Git => wit::LauncherKind::Git,
            LauncherKind::Sqlplus => wit::LauncherKind::Sqlplus,
            LauncherKind::Sqlite3 => wit::LauncherKind::Sqlite3,
            LauncherKind::Generic => wit::LauncherKind::Generic,
        }
    }

    fn login_to_wit(l: Login) -> wit::Login {
        wit::Login {
            host: l.host,
            port: l.port,
            user: l.user,
            password: l.password,
            database: l.database,
            ssl_mode: l.ssl_mode,
            ca_certificate: l.ca_certificate,
            application_name: l.application_name,
            private_key: l.private_key,
            ssh_options: l.ssh_options,
        }
    }

    pub fn validate<C: RawConnector>(spec: String, context: wit::ValidateContext) -> Vec<wit::Problem> {
        report_panics();
        problems_to_wit(C::default().validate_json(
            &spec,
            &ValidateContext { realm: context.realm, ..ValidateContext::default() },
            &WasmHost,
        ))
    }

    pub fn session_name<C: RawConnector>(spec: String, context: wit::JobContext) -> Result<String, Vec<wit::Problem>> {
        report_panics();
        C::default().session_name_json(&spec, &job_from_wit(context), &WasmHost).map_err(problems_to_wit)
    }

    pub fn resolve<C: RawConnector>(spec: String, context: wit::JobContext) -> Result<wit::Resolved, String> {
        report_panics();
        let mut resolved = C::default().resolve_json(&spec, &job_from_wit(context), &WasmHost)?;
        if let Some(aws) = resolved.aws.as_mut().filter(|aws| aws.region.is_none()) {
            aws.region = WasmHost.setting("AWS_REGION");
        }
        Ok(resolved_to_wit(resolved))
    }

    fn job_from_wit(c: wit::JobContext) -> JobContext {
        JobContext { realm: c.realm, job_id: c.job_id, conn_id: c.conn_id, session_name: c.session_name_template }
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
            launcher: r.launcher.map(launcher_to_wit),
            login: r.login.map(login_to_wit),
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

/// Export a [`Connector`](crate::Connector) (or a [`RawConnector`](crate::RawConnector)) as the component's
/// `lava:connector/connector` (contract 0.3.0). Use it once per plugin crate,
/// at its root. Native builds (tests, fuzzing) expand it to nothing.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        // Built in without WASI (`lava-wasm-build::build_builtin`), where
        // Rust's own allocator grows memory at every call of a fresh
        // instance: the arena (`heap`) for every connector built so.
        #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
        #[global_allocator]
        static __LAVA_HEAP: $crate::heap::Heap = $crate::heap::heap();

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
