//! The contract: its generated bindings, one module per version; the
//! dispatcher that lets the rest of the host speak only the latest version;
//! and the boundary where what plugins return is checked into host types.
//!
//! Each version's WIT is frozen in `wit/v<version>/`. A plugin built against
//! an older version keeps loading: its module maps the old calls and results
//! onto the latest types (Zed's `extension_host` does the same). Nothing
//! outside this folder names a generated type: the capabilities are
//! implemented on host types (`capabilities/`), reached through
//! [`CapabilityView`], whatever the store type is.

pub(crate) mod boundary;
mod v0_1;
mod v0_2;
pub(crate) mod v0_3;

pub(crate) use v0_3 as latest;

use wasmtime::Store;
use wasmtime::component::{HasData, InstancePre, Linker};

use crate::capabilities::{Capabilities, CapabilityView};
pub(crate) use latest::lava::connector::types::{Descriptor, JobContext, Need, Problem, Resolved, ValidateContext};
use v0_1::lava::connector::types as t01;
use v0_2::lava::connector::types as t02;

/// A capability error from one contract version's type (or the host's) to
/// another's. The variants are the same in every version: one list here, so
/// no version's mapping can miss or cross one.
macro_rules! capability_error {
    ($error:expr, $($from:ident)::+ => $($to:ident)::+) => {
        match $error {
            $($from)::+::NotGranted(m) => $($to)::+::NotGranted(m),
            $($from)::+::NotFound(m) => $($to)::+::NotFound(m),
            $($from)::+::AccessDenied(m) => $($to)::+::AccessDenied(m),
            $($from)::+::Throttled(m) => $($to)::+::Throttled(m),
            $($from)::+::InvalidInput(m) => $($to)::+::InvalidInput(m),
            $($from)::+::RegionDisabled(m) => $($to)::+::RegionDisabled(m),
            $($from)::+::ExpiredToken(m) => $($to)::+::ExpiredToken(m),
            $($from)::+::Unavailable(m) => $($to)::+::Unavailable(m),
            $($from)::+::Other(m) => $($to)::+::Other(m),
        }
    };
}
pub(crate) use capability_error;

/// `From` conversions between two contract versions' records and enums that
/// the newer version did not change, in the directions a call needs (older
/// results up, newer arguments and capability results down). One list for
/// every pair, so no version's copy of a field mapping can drift; records a
/// version changed (`descriptor`, `resolved`, AssumeRole) keep their own.
/// Bindgen's `with:` cannot share them: the packages are versioned, and
/// their `types` interface changed between each pair.
macro_rules! unchanged_between {
    ($($old:ident)::+ => $($new:ident)::+) => {
        impl From<$($old)::+::types::AwsCredentials> for $($new)::+::types::AwsCredentials {
            fn from(c: $($old)::+::types::AwsCredentials) -> Self {
                let $($old)::+::types::AwsCredentials {
                    access_key_id, secret_access_key, session_token, expiration, region, endpoint_url,
                } = c;
                Self { access_key_id, secret_access_key, session_token, expiration, region, endpoint_url }
            }
        }
        impl From<$($new)::+::types::AwsCredentials> for $($old)::+::types::AwsCredentials {
            fn from(c: $($new)::+::types::AwsCredentials) -> Self {
                let $($new)::+::types::AwsCredentials {
                    access_key_id, secret_access_key, session_token, expiration, region, endpoint_url,
                } = c;
                Self { access_key_id, secret_access_key, session_token, expiration, region, endpoint_url }
            }
        }
        impl From<$($new)::+::types::CapabilityError> for $($old)::+::types::CapabilityError {
            fn from(e: $($new)::+::types::CapabilityError) -> Self {
                $crate::contract::capability_error!(e, $($new)::+::types::CapabilityError => $($old)::+::types::CapabilityError)
            }
        }
        impl From<&$($new)::+::types::ValidateContext> for $($old)::+::types::ValidateContext {
            fn from(c: &$($new)::+::types::ValidateContext) -> Self {
                Self { realm: c.realm.clone() }
            }
        }
        impl From<&$($new)::+::types::JobContext> for $($old)::+::types::JobContext {
            fn from(c: &$($new)::+::types::JobContext) -> Self {
                Self {
                    realm: c.realm.clone(),
                    job_id: c.job_id.clone(),
                    conn_id: c.conn_id.clone(),
                    session_name_template: c.session_name_template.clone(),
                }
            }
        }
        impl From<$($old)::+::types::Problem> for $($new)::+::types::Problem {
            fn from(p: $($old)::+::types::Problem) -> Self {
                let severity = match p.severity {
                    $($old)::+::types::Severity::Error => $($new)::+::types::Severity::Error,
                    $($old)::+::types::Severity::Warning => $($new)::+::types::Severity::Warning,
                };
                Self { field: p.field, message: p.message, severity }
            }
        }
        impl From<$($old)::+::types::FieldInfo> for $($new)::+::types::FieldInfo {
            fn from(f: $($old)::+::types::FieldInfo) -> Self {
                Self { name: f.name, type_name: f.type_name, required: f.required, description: f.description }
            }
        }
        impl From<$($old)::+::types::NamedValue> for $($new)::+::types::NamedValue {
            fn from(v: $($old)::+::types::NamedValue) -> Self {
                Self { name: v.name, value: v.value, secret: v.secret }
            }
        }
        impl From<$($old)::+::sts::Tag> for $($new)::+::sts::Tag {
            fn from(t: $($old)::+::sts::Tag) -> Self {
                Self { key: t.key, value: t.value }
            }
        }
        impl From<$($old)::+::log::Level> for $($new)::+::log::Level {
            fn from(level: $($old)::+::log::Level) -> Self {
                match level {
                    $($old)::+::log::Level::Trace => Self::Trace,
                    $($old)::+::log::Level::Debug => Self::Debug,
                    $($old)::+::log::Level::Info => Self::Info,
                    $($old)::+::log::Level::Warn => Self::Warn,
                    $($old)::+::log::Level::Error => Self::Error,
                }
            }
        }
    };
}
pub(crate) use unchanged_between;

/// A declared capability as the host names it.
pub(crate) fn capability(c: latest::lava::connector::types::Capability) -> crate::capabilities::Capability {
    use crate::capabilities::Capability as H;
    use latest::lava::connector::types::Capability as W;
    match c {
        W::Ssm => H::Ssm,
        W::SecretsManager => H::SecretsManager,
        W::Sts => H::Sts,
        W::Redshift => H::Redshift,
        W::RedshiftServerless => H::RedshiftServerless,
        W::RdsToken => H::RdsToken,
        W::WorkerCredentials => H::WorkerCredentials,
    }
}

/// The contract version a plugin was built against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContractVersion {
    /// `lava:connector@0.1.0`: free-form launchers (now refused by the host).
    V0_1,
    /// `lava:connector@0.2.0`: host-owned launcher kinds.
    V0_2,
    /// `lava:connector@0.3.0`: declared capabilities, lava's family's
    /// capabilities and launchers.
    V0_3,
}

impl ContractVersion {
    /// The newest version this host speaks.
    pub const LATEST: ContractVersion = ContractVersion::V0_3;

    /// The version as the WIT package writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ContractVersion::V0_1 => "0.1.0",
            ContractVersion::V0_2 => "0.2.0",
            ContractVersion::V0_3 => "0.3.0",
        }
    }
}

impl std::fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The projection from a store's data to its [`Capabilities`].
struct HasCapabilities;

impl HasData for HasCapabilities {
    type Data<'a> = &'a mut Capabilities;
}

/// Link every version's capabilities; a component takes the ones it imports.
pub(crate) fn add_to_linker<T: CapabilityView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    latest::Plugin::add_to_linker::<T, HasCapabilities>(linker, T::capabilities)?;
    v0_2::Plugin::add_to_linker::<T, HasCapabilities>(linker, T::capabilities)?;
    v0_1::Plugin::add_to_linker::<T, HasCapabilities>(linker, T::capabilities)?;
    Ok(())
}

/// A linked plugin of any supported contract version.
pub(crate) enum PluginPre<T: 'static> {
    V0_1(v0_1::PluginPre<T>),
    V0_2(v0_2::PluginPre<T>),
    V0_3(latest::ConnectorPre<T>),
}

/// One instance of a plugin, for one call.
pub(crate) enum PluginInstance {
    V0_1(v0_1::Plugin),
    V0_2(v0_2::Plugin),
    V0_3(latest::Connector),
}

impl<T: CapabilityView> PluginPre<T> {
    /// The plugin's contract version, read from the connector interface it exports.
    pub fn new(pre: InstancePre<T>) -> Result<Self, String> {
        if let Ok(latest) = latest::ConnectorPre::new(pre.clone()) {
            return Ok(PluginPre::V0_3(latest));
        }
        if let Ok(legacy) = v0_2::PluginPre::new(pre.clone()) {
            return Ok(PluginPre::V0_2(legacy));
        }
        match v0_1::PluginPre::new(pre.clone()) {
            Ok(legacy) => Ok(PluginPre::V0_1(legacy)),
            Err(_) => {
                let latest_error = latest::ConnectorPre::new(pre).err().map(|e| format!("{e:#}")).unwrap_or_default();
                Err(format!(
                    "does not export lava:connector/connector at a version this host speaks \
                     (0.1.0, 0.2.0 or 0.3.0): did its crate call `lava_guest_kit::export_connector!` \
                     (in Python, define the `Connector` class)? {latest_error}"
                ))
            }
        }
    }

    /// The contract version the plugin was built against.
    pub fn version(&self) -> ContractVersion {
        match self {
            PluginPre::V0_1(_) => ContractVersion::V0_1,
            PluginPre::V0_2(_) => ContractVersion::V0_2,
            PluginPre::V0_3(_) => ContractVersion::V0_3,
        }
    }

    /// A fresh instance in `store`.
    pub async fn instantiate(&self, store: &mut Store<T>) -> wasmtime::Result<PluginInstance> {
        Ok(match self {
            PluginPre::V0_1(pre) => PluginInstance::V0_1(pre.instantiate_async(store).await?),
            PluginPre::V0_2(pre) => PluginInstance::V0_2(pre.instantiate_async(store).await?),
            PluginPre::V0_3(pre) => PluginInstance::V0_3(pre.instantiate(store).await?),
        })
    }
}

impl PluginInstance {
    /// `describe`, as the latest contract's descriptor.
    pub async fn describe<T: CapabilityView>(&self, store: &mut Store<T>) -> wasmtime::Result<Descriptor> {
        match self {
            PluginInstance::V0_1(p) => {
                p.lava_connector_connector().call_describe(store).await.map(|d| v0_2::descriptor(v0_1::descriptor(d)))
            }
            PluginInstance::V0_2(p) => p.lava_connector_connector().call_describe(store).await.map(v0_2::descriptor),
            PluginInstance::V0_3(p) => p.describe(store).await,
        }
    }

    /// `validate`, as the latest contract's problems.
    pub async fn validate<T: CapabilityView>(
        &self,
        store: &mut Store<T>,
        spec: &str,
        context: &ValidateContext,
    ) -> wasmtime::Result<Vec<Problem>> {
        match self {
            PluginInstance::V0_1(p) => {
                let context = t01::ValidateContext::from(&t02::ValidateContext::from(context));
                let problems = p.lava_connector_connector().call_validate(store, spec, &context).await?;
                Ok(from_v0_1(problems))
            }
            PluginInstance::V0_2(p) => {
                p.lava_connector_connector().call_validate(store, spec, &context.into()).await.map(from_v0_2)
            }
            PluginInstance::V0_3(p) => p.validate(store, spec, context).await,
        }
    }

    /// `session-name`, as the latest contract's result.
    pub async fn session_name<T: CapabilityView>(
        &self,
        store: &mut Store<T>,
        spec: &str,
        context: &JobContext,
    ) -> wasmtime::Result<Result<String, Vec<Problem>>> {
        match self {
            PluginInstance::V0_1(p) => {
                let context = t01::JobContext::from(&t02::JobContext::from(context));
                let result = p.lava_connector_connector().call_session_name(store, spec, &context).await?;
                Ok(result.map_err(from_v0_1))
            }
            PluginInstance::V0_2(p) => p
                .lava_connector_connector()
                .call_session_name(store, spec, &context.into())
                .await
                .map(|r| r.map_err(from_v0_2)),
            PluginInstance::V0_3(p) => p.session_name(store, spec, context).await,
        }
    }

    /// `resolve`, as the latest contract's result. A 0.1.0 plugin's free-form
    /// launcher never survives the mapping (see [`v0_1::resolved`]).
    pub async fn resolve<T: CapabilityView>(
        &self,
        store: &mut Store<T>,
        spec: &str,
        context: &JobContext,
    ) -> wasmtime::Result<Result<Resolved, String>> {
        match self {
            PluginInstance::V0_1(p) => {
                let context = t01::JobContext::from(&t02::JobContext::from(context));
                let result = p.lava_connector_connector().call_resolve(&mut *store, spec, &context).await?;
                let plugin = store.data_mut().capabilities().plugin().clone();
                Ok(result.map(|r| v0_2::resolved(v0_1::resolved(&plugin, r))))
            }
            PluginInstance::V0_2(p) => p
                .lava_connector_connector()
                .call_resolve(store, spec, &context.into())
                .await
                .map(|r| r.map(v0_2::resolved)),
            PluginInstance::V0_3(p) => p.resolve(store, spec, context).await,
        }
    }
}

/// A 0.2.0 plugin's problems, as the latest contract's.
fn from_v0_2(problems: Vec<t02::Problem>) -> Vec<Problem> {
    problems.into_iter().map(Problem::from).collect()
}

/// A 0.1.0 plugin's problems, through 0.2.0's, as the latest contract's.
fn from_v0_1(problems: Vec<t01::Problem>) -> Vec<Problem> {
    from_v0_2(problems.into_iter().map(t02::Problem::from).collect())
}
