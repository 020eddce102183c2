//! The plugin registry: built-in components plus every `*.wasm` in a folder.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::bindings::PluginPre;
use crate::bindings::lava::connector::types::Descriptor;
use crate::error::{LoadError, PluginError, PluginFailure, SkippedPlugin};
use crate::runtime::{CallContext, CallState, Runtime};

/// The aws connector, compiled by the build script and embedded in the binary.
const BUILTIN_AWS: &[u8] = include_bytes!(env!("LAVA_AWS_COMPONENT"));

/// SHA-256 of [`BUILTIN_AWS`], hex, computed by the build script.
const BUILTIN_AWS_SHA256: &str = env!("LAVA_AWS_COMPONENT_SHA256");

/// Where a plugin came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginSource {
    /// Compiled into the host.
    BuiltIn(&'static str),
    /// Loaded from this file.
    File(PathBuf),
}

impl fmt::Display for PluginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginSource::BuiltIn(name) => write!(f, "built-in `{name}`"),
            PluginSource::File(path) => write!(f, "`{}`", path.display()),
        }
    }
}

/// What `lava-conn plugins` shows about one plugin.
#[derive(Clone, Debug)]
pub struct PluginInfo {
    /// Connector types it handles (lower case).
    pub types: Vec<String>,
    /// Its own version.
    pub version: String,
    /// Where it came from.
    pub source: PluginSource,
    /// SHA-256 of the component bytes, hex.
    pub sha256: String,
    /// The spec fields it documents: name, type, required, description.
    pub fields: Vec<(String, String, bool, String)>,
}

/// A compiled, linked plugin, ready to be instantiated for each call.
pub(crate) struct LoadedPlugin {
    pub info: PluginInfo,
    /// The plugin's name in errors and logs.
    pub label: Arc<str>,
    pub pre: PluginPre<CallState>,
}

impl LoadedPlugin {
    /// The error for a result this plugin returned that the contract forbids.
    pub fn invalid_result(&self, message: String) -> PluginError {
        PluginError { plugin: self.label.to_string(), failure: PluginFailure::InvalidResult(message) }
    }
}

/// All loaded plugins, by connector type.
pub(crate) struct Registry {
    by_type: BTreeMap<String, Arc<LoadedPlugin>>,
    plugins: Vec<Arc<LoadedPlugin>>,
    pub skipped: Vec<SkippedPlugin>,
}

impl Registry {
    /// Load the built-ins, then every `*.wasm` in `folder` (sorted by name).
    /// `replaceable` lists built-in types a file may take over.
    pub fn load(
        runtime: &Runtime,
        context: &dyn Fn() -> CallContext,
        folder: Option<&Path>,
        replaceable: &[String],
    ) -> Result<Self, LoadError> {
        let mut registry = Registry { by_type: BTreeMap::new(), plugins: Vec::new(), skipped: Vec::new() };
        let builtin = PluginSource::BuiltIn("aws");
        let aws = load_one(runtime, context, builtin.clone(), BUILTIN_AWS, BUILTIN_AWS_SHA256.into())
            .map_err(|message| LoadError::BuiltIn { name: builtin.to_string(), message })?;
        registry.add(aws, replaceable)?;
        if let Some(folder) = folder {
            for path in wasm_files(folder)? {
                let loaded = std::fs::read(&path).map_err(|e| format!("cannot be read: {e}")).and_then(|bytes| {
                    let sha256 = format!("{:x}", Sha256::digest(&bytes));
                    load_one(runtime, context, PluginSource::File(path.clone()), &bytes, sha256)
                });
                match loaded {
                    Ok(plugin) => registry.add(plugin, replaceable)?,
                    Err(reason) => {
                        tracing::warn!(plugin = %path.display(), "skipping plugin: {reason}");
                        registry.skipped.push(SkippedPlugin { path, reason });
                    }
                }
            }
        }
        Ok(registry)
    }

    fn add(&mut self, plugin: LoadedPlugin, replaceable: &[String]) -> Result<(), LoadError> {
        let plugin = Arc::new(plugin);
        for connector_type in &plugin.info.types {
            if let Some(existing) = self.by_type.get(connector_type) {
                let may_replace = matches!(existing.info.source, PluginSource::BuiltIn(_))
                    && replaceable.iter().any(|t| t.eq_ignore_ascii_case(connector_type));
                if !may_replace {
                    let hint = if matches!(existing.info.source, PluginSource::BuiltIn(_)) {
                        format!(
                            " (or list `{connector_type}` in the worker's replace_builtin to let the file replace the built-in)"
                        )
                    } else {
                        String::new()
                    };
                    return Err(LoadError::Conflict {
                        connector_type: connector_type.clone(),
                        first: existing.info.source.to_string(),
                        second: plugin.info.source.to_string(),
                        hint,
                    });
                }
                tracing::info!(connector_type, replaced = %existing.info.source, by = %plugin.info.source, "plugin replaces a built-in");
            }
            self.by_type.insert(connector_type.clone(), plugin.clone());
        }
        self.plugins.retain(|p| self.by_type.values().any(|q| Arc::ptr_eq(p, q)));
        self.plugins.push(plugin);
        Ok(())
    }

    /// The plugin for a connector type (case-insensitive).
    pub fn get(&self, connector_type: &str) -> Option<&Arc<LoadedPlugin>> {
        self.by_type.get(&connector_type.to_ascii_lowercase())
    }

    /// The known connector types, comma-separated, for messages.
    pub fn known_types(&self) -> String {
        self.by_type.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// Every loaded plugin, built-ins first.
    pub fn plugins(&self) -> impl Iterator<Item = &PluginInfo> {
        self.plugins.iter().map(|p| &p.info)
    }
}

fn wasm_files(folder: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries =
        std::fs::read_dir(folder).map_err(|source| LoadError::Folder { path: folder.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "wasm") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Compile, link and describe one component; the error says why it is unusable.
fn load_one(
    runtime: &Runtime,
    context: &dyn Fn() -> CallContext,
    source: PluginSource,
    bytes: &[u8],
    sha256: String,
) -> Result<LoadedPlugin, String> {
    let pre = runtime.prepare(bytes, &sha256)?;
    let label: Arc<str> = source.to_string().into();
    let descriptor = runtime
        .call(&label, &pre, context(), |plugin, store| plugin.lava_connector_connector().call_describe(store))
        .map_err(|e| format!("describe failed: {}", e.failure))?;
    let Descriptor { types, version, fields } = descriptor;
    if types.is_empty() {
        return Err("claims no connector type".into());
    }
    let mut lowered = Vec::with_capacity(types.len());
    for t in types {
        let valid = !t.is_empty()
            && t.len() <= 64
            && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(format!(
                "claims connector type `{}`; types are 1 to 64 characters of letters, digits, `-`, `_` and `.`",
                crate::runtime::printable(t.as_bytes())
            ));
        }
        lowered.push(t.to_ascii_lowercase());
    }
    lowered.dedup();
    let info = PluginInfo {
        types: lowered,
        version: crate::runtime::printable(version.as_bytes()),
        source,
        sha256,
        fields: fields.into_iter().map(|f| (f.name, f.type_name, f.required, f.description)).collect(),
    };
    Ok(LoadedPlugin { info, label, pre })
}
