//! `lava:connector@0.3.0`, the latest contract (`wit/v0.3.0`): its
//! capability imports implemented over the host's [`Capabilities`], with the
//! conversions between its generated types and the host's.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/v0.3.0",
    // A host function may end the whole call (a spent capability budget, the
    // wall-clock limit), which a plugin cannot catch and carry on after. The
    // AWS calls are async: awaited on the caller's task while the plugin's
    // fiber is suspended; logging and settings answer at once.
    imports: {
        "lava:connector/ssm.get-parameter": async | trappable,
        "lava:connector/sts.assume-role": async | trappable,
        "lava:connector/worker-credentials.get": async | trappable,
        "lava:connector/secrets-manager.get-secret-value": async | trappable,
        "lava:connector/redshift.get-cluster-credentials": async | trappable,
        "lava:connector/redshift.get-serverless-credentials": async | trappable,
        "lava:connector/rds.generate-auth-token": async | trappable,
        default: trappable,
    },
    exports: { default: async },
});

use std::time::UNIX_EPOCH;

use secrecy::ExposeSecret;
use wasmtime::AsContextMut;
use wasmtime::component::{ComponentExportIndex, ComponentNamedList, Instance, InstancePre, Lift, Lower};

use crate::capabilities::{self as host, Capabilities, LogLevel, Outcome};
use lava::connector::types::{AwsCredentials, CapabilityError, DatabaseCredentials};
use lava::connector::{config, log, rds, redshift, secrets_manager, ssm, sts, types, worker_credentials};

/// The connector interface this contract's plugins export.
const CONNECTOR: &str = "lava:connector/connector@0.3.0";

/// A component checked against this contract once, when it is loaded.
///
/// Not bindgen's `PluginPre`: its instances type-check all four exports at
/// every instantiation (`GuestIndices::load`), 0.47 µs of a ~10 µs validate
/// in a profile; a [`Connector`] checks none at a call (see `Connector::call`).
pub(crate) struct ConnectorPre<T: 'static> {
    pre: InstancePre<T>,
    exports: Exports,
}

/// Where the connector's functions are in the component.
#[derive(Clone, Copy)]
struct Exports {
    describe: ComponentExportIndex,
    validate: ComponentExportIndex,
    session_name: ComponentExportIndex,
    resolve: ComponentExportIndex,
}

impl<T: Send + 'static> ConnectorPre<T> {
    /// `pre`, if its exports have this contract's names and types.
    pub fn new(pre: InstancePre<T>) -> wasmtime::Result<Self> {
        // bindgen's own check: every export, with its type.
        PluginPre::new(pre.clone())?;
        let component = pre.component();
        let connector = component.get_export_index(None, CONNECTOR);
        let export = |name: &str| {
            component
                .get_export_index(connector.as_ref(), name)
                .ok_or_else(|| wasmtime::format_err!("no export `{name}` in `{CONNECTOR}`"))
        };
        let exports = Exports {
            describe: export("describe")?,
            validate: export("validate")?,
            session_name: export("session-name")?,
            resolve: export("resolve")?,
        };
        Ok(Self { pre, exports })
    }

    /// A fresh instance in `store`.
    pub async fn instantiate(&self, store: impl AsContextMut<Data = T>) -> wasmtime::Result<Connector> {
        Ok(Connector { instance: self.pre.instantiate_async(store).await?, exports: self.exports })
    }
}

/// One instance of a [`ConnectorPre`]; its exports' types were checked
/// when the component was loaded.
pub(crate) struct Connector {
    instance: Instance,
    exports: Exports,
}

impl Connector {
    /// Calls `export` with `params`.
    async fn call<P, R, S>(&self, mut store: S, export: ComponentExportIndex, params: P) -> wasmtime::Result<R>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        R: Lift + Send + Sync + 'static,
        S: AsContextMut<Data: Send>,
    {
        let func = self
            .instance
            .get_func(&mut store, export)
            .ok_or_else(|| wasmtime::format_err!("the connector's export is missing"))?;
        // Not `get_typed_func`, which type-checks the export at every call:
        // for `resolve`, whose result type is the contract's largest, that
        // was 1.3 µs of a 19 µs resolve (a same-run A/B, issue 28).
        // SAFETY: `export` is one of `Exports`, found in `ConnectorPre::new`
        // after bindgen's `PluginPre::new` type-checked every export of this
        // component against this contract; each method below passes its own
        // export with that export's bindgen parameter and result types.
        let func = unsafe { wasmtime::component::TypedFunc::<P, (R,)>::new_unchecked(func) };
        Ok(func.call_async(store, params).await?.0)
    }

    /// `describe`.
    pub async fn describe<S: AsContextMut<Data: Send>>(&self, store: S) -> wasmtime::Result<types::Descriptor> {
        self.call(store, self.exports.describe, ()).await
    }

    /// `validate`.
    pub async fn validate<S: AsContextMut<Data: Send>>(
        &self,
        store: S,
        spec: &str,
        context: &types::ValidateContext,
    ) -> wasmtime::Result<Vec<types::Problem>> {
        self.call(store, self.exports.validate, (spec, context)).await
    }

    /// `session-name`.
    pub async fn session_name<S: AsContextMut<Data: Send>>(
        &self,
        store: S,
        spec: &str,
        context: &types::JobContext,
    ) -> wasmtime::Result<Result<String, Vec<types::Problem>>> {
        self.call(store, self.exports.session_name, (spec, context)).await
    }

    /// `resolve`.
    pub async fn resolve<S: AsContextMut<Data: Send>>(
        &self,
        store: S,
        spec: &str,
        context: &types::JobContext,
    ) -> wasmtime::Result<Result<types::Resolved, String>> {
        self.call(store, self.exports.resolve, (spec, context)).await
    }
}

/// A capability outcome as the bindings return it: a bound hit ends the call.
fn trappable<T, U>(outcome: Outcome<T>, map: impl FnOnce(T) -> U) -> wasmtime::Result<Result<U, CapabilityError>> {
    Ok(outcome?.map(map).map_err(error_to_wit))
}

pub(super) fn error_to_wit(e: host::CapabilityError) -> CapabilityError {
    super::capability_error!(e, host::CapabilityError => CapabilityError)
}

/// Host credentials for the plugin: the one place their secrets leave
/// `secrecy` on their way into a sandbox.
fn credentials_to_wit(c: crate::results::AwsCredentials) -> AwsCredentials {
    AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key.expose_secret().to_string(),
        session_token: c.session_token.map(|t| t.expose_secret().to_string()),
        expiration: c.expiration.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()),
        region: c.region,
        endpoint_url: c.endpoint_url,
    }
}

/// A plugin's source credentials for AssumeRole. Their expiration is not
/// used; one past what a time can hold is dropped rather than refused.
fn credentials_from_wit(c: AwsCredentials) -> crate::results::AwsCredentials {
    crate::results::AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key.into(),
        session_token: c.session_token.map(Into::into),
        expiration: c.expiration.and_then(|s| UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s))),
        region: c.region,
        endpoint_url: c.endpoint_url,
    }
}

impl types::Host for Capabilities {}

impl ssm::Host for Capabilities {
    async fn get_parameter(
        &mut self,
        name: String,
        with_decryption: bool,
    ) -> wasmtime::Result<Result<String, CapabilityError>> {
        trappable(Capabilities::get_parameter(self, &name, with_decryption).await, |value| value)
    }
}

impl From<sts::AssumeRoleRequest> for host::AssumeRoleRequest {
    fn from(r: sts::AssumeRoleRequest) -> Self {
        host::AssumeRoleRequest {
            role_arn: r.role_arn,
            session_name: r.session_name,
            duration_seconds: r.duration_seconds,
            external_id: r.external_id,
            policy_arns: r.policy_arns,
            policy: r.policy,
            tags: r.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            transitive_tag_keys: r.transitive_tag_keys,
            source_identity: r.source_identity,
            region: r.region,
            endpoint_url: r.endpoint_url,
            source: r.source.map(credentials_from_wit),
        }
    }
}

impl sts::Host for Capabilities {
    async fn assume_role(
        &mut self,
        r: sts::AssumeRoleRequest,
    ) -> wasmtime::Result<Result<AwsCredentials, CapabilityError>> {
        trappable(Capabilities::assume_role(self, r.into()).await, credentials_to_wit)
    }
}

impl secrets_manager::Host for Capabilities {
    async fn get_secret_value(&mut self, secret_id: String) -> wasmtime::Result<Result<String, CapabilityError>> {
        trappable(Capabilities::get_secret_value(self, &secret_id).await, |value| value)
    }
}

/// Database credentials for the plugin: their password leaves `secrecy` here.
fn database_credentials_to_wit(c: crate::results::DatabaseCredentials) -> DatabaseCredentials {
    DatabaseCredentials {
        user: c.user,
        password: c.password.expose_secret().to_string(),
        expiration: c.expiration.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()),
    }
}

impl redshift::Host for Capabilities {
    async fn get_cluster_credentials(
        &mut self,
        r: redshift::ClusterCredentialsRequest,
    ) -> wasmtime::Result<Result<DatabaseCredentials, CapabilityError>> {
        let request = host::ClusterCredentialsRequest {
            cluster_identifier: r.cluster_identifier,
            db_user: r.db_user,
            db_name: r.db_name,
            duration_seconds: r.duration_seconds,
            auto_create: r.auto_create,
            db_groups: r.db_groups,
            region: r.region,
            source: None,
        };
        let outcome = Capabilities::get_cluster_credentials(self, request, r.as_role.map(Into::into)).await;
        trappable(outcome, database_credentials_to_wit)
    }

    async fn get_serverless_credentials(
        &mut self,
        r: redshift::ServerlessCredentialsRequest,
    ) -> wasmtime::Result<Result<DatabaseCredentials, CapabilityError>> {
        let request = host::ServerlessCredentialsRequest {
            workgroup_name: r.workgroup_name,
            db_name: r.db_name,
            duration_seconds: r.duration_seconds,
            region: r.region,
            source: None,
        };
        let outcome = Capabilities::get_serverless_credentials(self, request, r.as_role.map(Into::into)).await;
        trappable(outcome, database_credentials_to_wit)
    }
}

impl rds::Host for Capabilities {
    async fn generate_auth_token(
        &mut self,
        r: rds::AuthTokenRequest,
    ) -> wasmtime::Result<Result<String, CapabilityError>> {
        let request =
            host::AuthTokenRequest { host: r.host, port: r.port, user: r.user, region: r.region, source: None };
        trappable(Capabilities::generate_auth_token(self, request, r.as_role.map(Into::into)).await, |token| token)
    }
}

impl worker_credentials::Host for Capabilities {
    async fn get(&mut self) -> wasmtime::Result<Result<AwsCredentials, CapabilityError>> {
        trappable(Capabilities::worker_credentials(self).await, credentials_to_wit)
    }
}

impl log::Host for Capabilities {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        Capabilities::log(self, level, &message);
        Ok(())
    }
}

impl config::Host for Capabilities {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.setting(&key))
    }
}
