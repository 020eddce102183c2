//! The plugin registry: built-in components plus every `*.wasm` in a folder.
//! No file in the folder can stop the others from loading: each bad one is
//! reported and skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::capabilities::{CallContext, Declared, Scope};
use crate::contract::{ContractVersion, Descriptor, PluginPre};
use crate::error::{LoadError, PluginError, PluginFailure, SkippedPlugin};
use crate::sandbox::CallState;
use crate::sandbox::compiled::{CacheState, Precompiled, sha256_hex};
use crate::sandbox::{PluginBounds, Runtime, block_on};
use crate::sanitizer::sanitize;

mod index;

/// A plugin compiled into the host.
pub(crate) struct Builtin {
    /// Its name in `lava-conn plugins`.
    name: &'static str,
    /// The connector types its `describe` lists (read at build time): a
    /// run loads it only when a call needs one of them.
    types: &'static [&'static str],
    /// The component.
    component: &'static [u8],
    /// The component's SHA-256, hex, computed at build time.
    sha256: &'static str,
    /// The component precompiled for the default engine settings.
    precompiled: Precompiled,
    /// What one instance of it takes from the pool.
    needs: lava_engine_settings::Needs,
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// Where a plugin came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginSource {
    /// Compiled into the host.
    BuiltIn(&'static str),
    /// Loaded from this file.
    File(PathBuf),
}

impl fmt::Display for PluginSource {
    /// A file name is outside text: shown sanitised.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginSource::BuiltIn(name) => write!(f, "built-in `{name}`"),
            PluginSource::File(path) => write!(f, "`{}`", sanitize(&path.to_string_lossy())),
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
    /// The contract version it was built against.
    pub contract: ContractVersion,
    /// Where it came from.
    pub source: PluginSource,
    /// SHA-256 of the component bytes, hex.
    pub sha256: String,
    /// The component's size.
    pub size_bytes: u64,
    /// Whether its compiled code came from the compile cache at load.
    pub compile_cache: CacheState,
    /// The spec fields it documents: name, type, required, description.
    pub fields: Vec<(String, String, bool, String)>,
    /// The capabilities it declares it needs during `resolve`, and how far
    /// (`Declared::Legacy` for a plugin of a contract before 0.3.0).
    pub declared: Declared,
    /// Its memory limit per call, in MiB.
    pub memory_limit_mib: u32,
    /// Its linear memory before it runs any code, in bytes.
    pub initial_memory_bytes: u64,
    /// Core module instances one instance of it creates.
    pub core_instances: u32,
    /// Instance slots one call holds (`max_concurrent_instances` in all).
    pub slots_per_call: u32,
}

/// A compiled, linked plugin, ready to be instantiated for each call.
pub(crate) struct LoadedPlugin {
    pub info: PluginInfo,
    /// The plugin's name in errors and logs.
    pub label: Arc<str>,
    /// Its digest, for the audit trail.
    pub sha256: Arc<str>,
    pub pre: PluginPre<CallState>,
    pub bounds: PluginBounds,
    /// What one instance takes from the pool (kept in the plugin index).
    pub needs: lava_engine_settings::Needs,
}

impl LoadedPlugin {
    /// The error for a result this plugin returned that the contract forbids.
    pub fn invalid_result(&self, message: String) -> PluginError {
        PluginError { plugin: self.label.to_string(), failure: PluginFailure::InvalidResult(message) }
    }
}

/// A plugin that serves connector types: loaded, or known from the index
/// and loaded before its first call.
pub(crate) struct Entry {
    source: PluginSource,
    types: Vec<String>,
    /// For a file known from the index: its entry, checked again at load.
    indexed: Option<index::Indexed>,
    loaded: tokio::sync::OnceCell<Result<Arc<LoadedPlugin>, String>>,
}

impl Entry {
    fn loaded(plugin: LoadedPlugin) -> Self {
        Self {
            source: plugin.info.source.clone(),
            types: plugin.info.types.clone(),
            indexed: None,
            loaded: tokio::sync::OnceCell::new_with(Some(Ok(Arc::new(plugin)))),
        }
    }
}

/// Why there is no plugin for a type.
pub(crate) enum Unserved {
    /// Two files claim it; neither serves it.
    Clash(String, String),
    /// Its plugin file could not be loaded now.
    Unloadable { source: String, reason: String },
}

/// The plugins, by connector type.
pub(crate) struct Registry {
    tables: std::sync::RwLock<Tables>,
    /// Plugin files the index did not know, not loaded yet: loaded (and
    /// indexed) the first time a call needs a type that is not a built-in's
    /// (no file can serve a built-in type unless `replace_builtin` lists
    /// it), so a command that needs no plugin never waits for one to
    /// compile (an 18 MB Python plugin: 9 s).
    pending: tokio::sync::Mutex<Option<Pending>>,
    replaceable: Vec<String>,
    skipped: Mutex<Vec<SkippedPlugin>>,
    max_file_bytes: u64,
}

/// Which plugin serves which type.
#[derive(Default)]
struct Tables {
    by_type: BTreeMap<String, Arc<Entry>>,
    entries: Vec<Arc<Entry>>,
    /// Types that two files claim: served by neither, so that which file
    /// wins never depends on file names. The value names both.
    clashes: BTreeMap<String, (String, String)>,
}

/// The folder's files still to load, and what indexing them needs.
struct Pending {
    folder: PathBuf,
    files: Vec<PathBuf>,
    /// The files taken stock of so far (kept in the index).
    present: Vec<PathBuf>,
    index: index::Index,
    settings: String,
}

impl Registry {
    /// Load the built-ins, then take stock of every `*.wasm` in `folder`
    /// (sorted by name): a file the index knows unchanged is loaded when its
    /// type is first needed; any other is loaded (and indexed) when a call
    /// first needs a type no built-in serves, or the list of plugins.
    /// `replaceable` lists built-in types a file may take over; files larger
    /// than `max_file_bytes` are skipped unread.
    pub fn load(
        runtime: &Runtime,
        context: &(dyn Fn() -> CallContext + Sync),
        folder: Option<&Path>,
        replaceable: &[String],
        max_file_bytes: u64,
    ) -> Result<Self, LoadError> {
        // One driver for every load: inside a runtime each `block_on` needs
        // a thread of its own, which was one thread per plugin loaded.
        block_on(Self::load_all(runtime, context, folder, replaceable, max_file_bytes))
    }

    async fn load_all(
        runtime: &Runtime,
        context: &(dyn Fn() -> CallContext + Sync),
        folder: Option<&Path>,
        replaceable: &[String],
        max_file_bytes: u64,
    ) -> Result<Self, LoadError> {
        let mut registry = Registry {
            tables: std::sync::RwLock::new(Tables::default()),
            pending: tokio::sync::Mutex::new(None),
            replaceable: replaceable.to_vec(),
            skipped: Mutex::new(Vec::new()),
            max_file_bytes,
        };
        for built_in in BUILTINS {
            let types = built_in.types.iter().map(|t| t.to_string()).collect();
            let entry = Entry {
                source: PluginSource::BuiltIn(built_in.name),
                types,
                indexed: None,
                loaded: Default::default(),
            };
            if let Err(reason) = registry.add(entry) {
                return Err(LoadError::BuiltIn { name: built_in.name.to_string(), message: reason });
            }
        }
        let Some(folder) = folder else {
            return Ok(registry);
        };
        let index = index::Index::open(runtime.plugin_index_path());
        let settings = sha256_hex(&serde_json::to_vec(&*context().settings).unwrap_or_default());
        let mut pending =
            Pending { folder: folder.to_path_buf(), files: Vec::new(), present: Vec::new(), index, settings };
        for path in wasm_entries(folder)? {
            let known = std::fs::metadata(&path)
                .ok()
                .filter(std::fs::Metadata::is_file)
                .and_then(|m| pending.index.lookup(&path, &index::FileIdentity::of(&m), &pending.settings).cloned());
            let Some(indexed) = known else {
                pending.files.push(path);
                continue;
            };
            let entry = Entry {
                source: PluginSource::File(path.clone()),
                types: indexed.types.clone(),
                indexed: Some(indexed),
                loaded: tokio::sync::OnceCell::new(),
            };
            match registry.add(entry) {
                Ok(()) => pending.present.push(path),
                Err(reason) => registry.skip(path, reason),
            }
        }
        if pending.files.is_empty() {
            pending.index.retain_in(folder, &pending.present);
            pending.index.save();
        } else {
            *registry.pending.get_mut() = Some(pending);
        }
        Ok(registry)
    }

    /// Load the files the index did not know, once: each is read, compiled,
    /// described and indexed; one that cannot be is skipped, naming why.
    async fn settle(&self, runtime: &Runtime, context: &(dyn Fn() -> CallContext + Sync)) {
        let mut guard = self.pending.lock().await;
        let Some(pending) = guard.as_mut() else {
            return;
        };
        // A file leaves the list only once it is handled: a call dropped
        // while one compiles (an aborted job's other connections) leaves it
        // for the next call, not lost.
        while let Some(path) = pending.files.first().cloned() {
            let entry = match read_plugin_file(&path, self.max_file_bytes) {
                Ok((bytes, identity)) => {
                    let candidate = Candidate::read(PluginSource::File(path.clone()), &bytes);
                    let load = load_one(runtime, context(), candidate).await;
                    load.and_then(|p| p.ok_or_else(unreachable_bytes)).map(|plugin| {
                        let (types, sha256) = (plugin.info.types.clone(), plugin.info.sha256.clone());
                        let needs = plugin.needs.into();
                        let settings = pending.settings.clone();
                        pending.index.record(&path, index::Indexed { identity, settings, sha256, types, needs });
                        Entry::loaded(plugin)
                    })
                }
                Err(reason) => Err(reason),
            };
            pending.files.remove(0);
            match entry.and_then(|entry| self.add(entry)) {
                Ok(()) => pending.present.push(path),
                Err(reason) => self.skip(path, reason),
            }
        }
        pending.index.retain_in(&pending.folder, &pending.present);
        if let Some(pending) = guard.take() {
            pending.index.save();
        }
    }

    fn skip(&self, path: PathBuf, reason: String) {
        // At info: whoever holds the host reports `skipped_plugins()` in its
        // own words (the CLI, one line each), and a warning here said it twice.
        tracing::info!(plugin = %sanitize(&path.to_string_lossy()), "skipping plugin: {reason}");
        self.skipped.lock().unwrap_or_else(|e| e.into_inner()).push(SkippedPlugin { path, reason });
    }

    /// Plugin files that were found but not loaded, and why.
    pub fn skipped(&self) -> Vec<SkippedPlugin> {
        self.skipped.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Register a plugin, or say why it is skipped. A file that clashes with
    /// another file takes the clashing type out of service for both.
    fn add(&self, entry: Entry) -> Result<(), String> {
        let entry = Arc::new(entry);
        let mut tables = self.tables.write().unwrap_or_else(|e| e.into_inner());
        let mut replaces = Vec::new();
        for connector_type in &entry.types {
            // The file that claimed the type first, when this one clashes with it.
            let first = match (tables.clashes.get(connector_type), tables.by_type.get(connector_type)) {
                (Some((first, _)), _) => first.clone(),
                (None, None) => continue,
                (None, Some(existing)) => match &existing.source {
                    PluginSource::BuiltIn(_) if self.replaceable(connector_type) => {
                        replaces.push(connector_type.clone());
                        continue;
                    }
                    builtin @ PluginSource::BuiltIn(_) => {
                        return Err(format!(
                            "claims connector type `{connector_type}`, which the {builtin} plugin serves \
                             (list `{connector_type}` in the worker's replace_builtin to let the file replace the built-in)"
                        ));
                    }
                    file @ PluginSource::File(_) => file.to_string(),
                },
            };
            tables.by_type.remove(connector_type);
            tables.clashes.insert(connector_type.clone(), (first.clone(), entry.source.to_string()));
            return Err(format!(
                "claims connector type `{connector_type}`, which {first} claims too; \
                 neither serves it until one is removed"
            ));
        }
        for connector_type in &entry.types {
            if replaces.contains(connector_type) {
                tracing::info!(connector_type, by = %entry.source, "plugin replaces a built-in");
            }
            tables.by_type.insert(connector_type.clone(), entry.clone());
        }
        let Tables { by_type, entries, .. } = &mut *tables;
        entries.retain(|e| by_type.values().any(|f| Arc::ptr_eq(e, f)));
        entries.push(entry);
        Ok(())
    }

    /// Whether a file may take `connector_type` over from a built-in.
    fn replaceable(&self, connector_type: &str) -> bool {
        self.replaceable.iter().any(|t| t.eq_ignore_ascii_case(connector_type))
    }

    /// The plugin for a connector type (case-insensitive), loading it if
    /// this is its first use; `Ok(None)` when no plugin claims the type.
    pub async fn get(
        &self,
        runtime: &Runtime,
        context: &(dyn Fn() -> CallContext + Sync),
        connector_type: &str,
    ) -> Result<Option<Arc<LoadedPlugin>>, Unserved> {
        let lowered = connector_type.to_ascii_lowercase();
        // A built-in's type that no file may take over: the files not
        // loaded yet cannot change who serves it.
        let builtin = self.entry(&lowered).filter(|e| matches!(e.source, PluginSource::BuiltIn(_)));
        if builtin.is_none() || self.replaceable(&lowered) {
            self.settle(runtime, context).await;
        }
        let clash = self.tables.read().unwrap_or_else(|e| e.into_inner()).clashes.get(&lowered).cloned();
        if let Some((first, second)) = clash {
            return Err(Unserved::Clash(first, second));
        }
        let Some(entry) = self.entry(&lowered) else {
            return Ok(None);
        };
        self.plugin(runtime, context, &entry).await.map(Some)
    }

    /// The entry serving a (lowercased) type.
    fn entry(&self, lowered: &str) -> Option<Arc<Entry>> {
        self.tables.read().unwrap_or_else(|e| e.into_inner()).by_type.get(lowered).cloned()
    }

    /// An entry's plugin, loaded and checked against its index entry the
    /// first time. A file that changed since it was indexed is refused (and
    /// reported): this run took stock of another file.
    async fn plugin(
        &self,
        runtime: &Runtime,
        context: &(dyn Fn() -> CallContext + Sync),
        entry: &Entry,
    ) -> Result<Arc<LoadedPlugin>, Unserved> {
        if let PluginSource::BuiltIn(name) = entry.source {
            // Only a success is kept: a first load that failed for a passing
            // reason (every slot busy for its describe, the compile cache
            // unwritable) is tried again by the next call, not kept until restart.
            let loaded = entry
                .loaded
                .get_or_try_init(|| async { load_builtin(runtime, context, name, &entry.types).await.map(Ok) })
                .await;
            let loaded = loaded.and_then(Clone::clone);
            return loaded.map_err(|reason| Unserved::Unloadable { source: entry.source.to_string(), reason });
        }
        let loaded = entry
            .loaded
            .get_or_init(|| async {
                let (PluginSource::File(path), Some(indexed)) = (&entry.source, &entry.indexed) else {
                    return Err("was not loaded".to_string());
                };
                let result = async {
                    let changed = || "changed since this host started; start it again to load the new file".to_string();
                    let identity = std::fs::metadata(path)
                        .ok()
                        .filter(std::fs::Metadata::is_file)
                        .map(|m| index::FileIdentity::of(&m))
                        .ok_or_else(changed)?;
                    if identity != indexed.identity {
                        return Err(changed());
                    }
                    within_size(identity.len(), self.max_file_bytes)?;
                    // The same file as indexed: its digest and needs are the
                    // index's, and its artefact is mapped without reading it.
                    let trusted = Candidate {
                        source: entry.source.clone(),
                        bytes: None,
                        size: identity.len(),
                        sha256: indexed.sha256.clone(),
                        needs: Some(indexed.needs.into()),
                        precompiled: None,
                    };
                    let plugin = match load_one(runtime, context(), trusted).await? {
                        Some(plugin) => plugin,
                        // No usable artefact: read the file, and check it is the one indexed.
                        None => {
                            let (bytes, identity) = read_plugin_file(path, self.max_file_bytes)?;
                            let candidate = Candidate::read(entry.source.clone(), &bytes);
                            if identity != indexed.identity || candidate.sha256 != indexed.sha256 {
                                return Err(changed());
                            }
                            load_one(runtime, context(), candidate).await?.ok_or_else(unreachable_bytes)?
                        }
                    };
                    if plugin.info.types != indexed.types {
                        return Err(format!(
                            "now claims connector types {:?}, not the {:?} it was indexed with",
                            plugin.info.types, indexed.types
                        ));
                    }
                    Ok(Arc::new(plugin))
                }
                .await;
                if let Err(reason) = &result {
                    self.skip(path.clone(), reason.clone());
                }
                result
            })
            .await;
        loaded.clone().map_err(|reason| Unserved::Unloadable { source: entry.source.to_string(), reason })
    }

    /// The known connector types, comma-separated, for messages.
    pub fn known_types(&self) -> String {
        self.tables.read().unwrap_or_else(|e| e.into_inner()).by_type.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// Every plugin, built-ins first, each loaded (a file that can no longer
    /// be loaded is left out, and reported with the skipped ones).
    pub async fn plugins(&self, runtime: &Runtime, context: &(dyn Fn() -> CallContext + Sync)) -> Vec<PluginInfo> {
        self.settle(runtime, context).await;
        let entries = self.tables.read().unwrap_or_else(|e| e.into_inner()).entries.clone();
        let mut infos = Vec::with_capacity(entries.len());
        for entry in &entries {
            if let Ok(plugin) = self.plugin(runtime, context, entry).await {
                infos.push(plugin.info.clone());
            }
        }
        infos
    }
}

/// A built-in, the first time a call needs it: its precompiled artefact
/// mapped (or compiled), and described. It must serve the types its build
/// read from it.
async fn load_builtin(
    runtime: &Runtime,
    context: &(dyn Fn() -> CallContext + Sync),
    name: &'static str,
    types: &[String],
) -> Result<Arc<LoadedPlugin>, String> {
    let built_in = BUILTINS.iter().find(|b| b.name == name).ok_or_else(unreachable_bytes)?;
    let candidate = Candidate {
        source: PluginSource::BuiltIn(name),
        bytes: Some(built_in.component),
        size: built_in.component.len() as u64,
        sha256: built_in.sha256.to_string(),
        needs: Some(built_in.needs),
        precompiled: Some(built_in.precompiled),
    };
    let plugin = load_one(runtime, context(), candidate).await?.ok_or_else(unreachable_bytes)?;
    if plugin.info.types != types {
        return Err(format!("serves {:?}, not the {types:?} it was built with", plugin.info.types));
    }
    Ok(Arc::new(plugin))
}

/// Every `*.wasm` entry of `folder`, sorted, whatever kind of file it is.
fn wasm_entries(folder: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries =
        std::fs::read_dir(folder).map_err(|source| LoadError::Folder { path: folder.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

/// Whether a plugin file of `len` bytes may be loaded.
fn within_size(len: u64, max_bytes: u64) -> Result<(), String> {
    if len > max_bytes {
        return Err(format!(
            "is {} MiB, more than the {} MiB allowed (setting max_plugin_file_mib)",
            len.div_ceil(1 << 20),
            max_bytes >> 20
        ));
    }
    Ok(())
}

/// A plugin file's bytes, if it is a regular file of at most `max_bytes`
/// ([`crate::untrusted_files::read_capped`]).
fn read_plugin_file(path: &Path, max_bytes: u64) -> Result<(Vec<u8>, index::FileIdentity), String> {
    use crate::untrusted_files::Refused;
    let (bytes, metadata) = crate::untrusted_files::read_capped(path, max_bytes).map_err(|refused| match refused {
        Refused::Open(e) => format!("cannot be opened: {e}"),
        Refused::Io(e) => format!("cannot be read: {e}"),
        Refused::Folder => "is a folder; plugins must be regular files".into(),
        Refused::NotRegular => "is not a regular file (a device, FIFO or socket); plugins must be regular files".into(),
        Refused::TooBig(len) => within_size(len, max_bytes).expect_err("over the cap"),
        Refused::Grew => format!("grew past the {} MiB allowed while it was read", max_bytes >> 20),
    })?;
    Ok((bytes, index::FileIdentity::of(&metadata)))
}

/// A component to load, and what is known of it ahead of loading.
struct Candidate<'a> {
    source: PluginSource,
    /// Its bytes, unless the index vouches for them (then read only if the
    /// compile cache has no artefact for them).
    bytes: Option<&'a [u8]>,
    size: u64,
    /// SHA-256 of its bytes, hex.
    sha256: String,
    /// What one instance takes from the pool, when known without parsing it.
    needs: Option<lava_engine_settings::Needs>,
    /// A built-in's artefact, precompiled at build time.
    precompiled: Option<Precompiled>,
}

impl<'a> Candidate<'a> {
    /// A file that was just read.
    fn read(source: PluginSource, bytes: &'a [u8]) -> Self {
        let sha256 = sha256_hex(bytes);
        Self { source, bytes: Some(bytes), size: bytes.len() as u64, sha256, needs: None, precompiled: None }
    }
}

/// `load_one` asks for bytes only when it was given none.
fn unreachable_bytes() -> String {
    "was loaded without its bytes".to_string()
}

/// A 0.3.0 plugin's `needs`, checked: each capability once, each scope
/// entry one the capability can have (a pattern that parses).
fn declared_needs(needs: Vec<crate::contract::Need>) -> Result<Declared, String> {
    let mut declared = BTreeMap::new();
    for need in needs {
        let capability = crate::contract::capability(need.capability);
        if let Some(problem) = need.scope.iter().find_map(|e| capability.scope_entry_problem(e).map(|p| (e, p))) {
            return Err(format!(
                "declares capability `{capability}` with scope entry `{}`: {}",
                sanitize(problem.0),
                problem.1
            ));
        }
        if declared.insert(capability, Scope::declared(need.scope)).is_some() {
            return Err(format!("declares capability `{capability}` more than once"));
        }
    }
    Ok(Declared::Needs(declared))
}

/// Compile, link and describe one component; the error says why it is
/// unusable. `Ok(None)` when its bytes are needed and were not given.
async fn load_one(
    runtime: &Runtime,
    mut context: CallContext,
    candidate: Candidate<'_>,
) -> Result<Option<LoadedPlugin>, String> {
    let Candidate { source, bytes, size, sha256, needs, precompiled } = candidate;
    let needs = match (needs, bytes) {
        (Some(needs), _) => needs,
        (None, Some(bytes)) => {
            if let Some(problem) = lava_engine_settings::not_a_component(bytes) {
                return Err(problem);
            }
            lava_engine_settings::Needs::of(bytes)?
        }
        (None, None) => return Ok(None),
    };
    // Its types are not known yet: it describes itself under the largest
    // limit. A component the pool cannot hold is refused here, before
    // anything is compiled.
    let describing = runtime.bounds_for(&[], &needs)?;
    let Some((pre, compile_cache)) = runtime.prepare(&source.to_string(), bytes, &sha256, precompiled)? else {
        return Ok(None);
    };
    let label: Arc<str> = source.to_string().into();
    let sha256: Arc<str> = sha256.into();
    context.audit.sha256 = sha256.clone();
    let descriptor = runtime
        .call(&label, &pre, describing, context, async |plugin, store| plugin.describe(store).await)
        .await
        .map_err(|e| format!("describe failed: {}", e.failure))?;
    let Descriptor { types, version, fields, needs: declared_needs_list } = descriptor;
    let declared = match pre.version() {
        ContractVersion::V0_1 | ContractVersion::V0_2 => Declared::Legacy,
        ContractVersion::V0_3 => declared_needs(declared_needs_list)?,
    };
    if types.is_empty() {
        return Err("claims no connector type".into());
    }
    let mut lowered = Vec::with_capacity(types.len());
    let mut seen = BTreeSet::new();
    for t in types {
        let valid = !t.is_empty()
            && t.len() <= 64
            && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(format!(
                "claims connector type `{}`; types are 1 to 64 characters of letters, digits, `-`, `_` and `.`",
                sanitize(&t)
            ));
        }
        let t = t.to_ascii_lowercase();
        if !seen.insert(t.clone()) {
            return Err(format!("lists connector type `{t}` more than once (types are compared case-insensitively)"));
        }
        lowered.push(t);
    }
    let bounds = runtime.bounds_for(&lowered, &needs)?;
    let info = PluginInfo {
        types: lowered,
        version: sanitize(&version),
        contract: pre.version(),
        source,
        sha256: sha256.to_string(),
        size_bytes: size,
        compile_cache,
        fields: fields
            .into_iter()
            .map(|f| (sanitize(&f.name), sanitize(&f.type_name), f.required, sanitize(&f.description)))
            .collect(),
        declared,
        memory_limit_mib: bounds.memory_mib,
        initial_memory_bytes: needs.initial_memory_bytes,
        core_instances: needs.core_instances,
        slots_per_call: bounds.slots,
    };
    Ok(Some(LoadedPlugin { info, label, sha256, pre, bounds, needs }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtins_import_nothing_but_the_contract() {
        let engine = wasmtime::Engine::default();
        for built_in in BUILTINS {
            let component = wasmtime::component::Component::new(&engine, built_in.component).unwrap();
            let imports: Vec<String> =
                component.component_type().imports(&engine).map(|(name, _)| name.to_string()).collect();
            assert!(imports.iter().any(|name| name.starts_with("lava:connector/sts@")), "{imports:?}");
            assert!(
                imports.iter().all(|name| name.starts_with("lava:connector/")),
                "the `{}` built-in imports more than the contract (no WASI): {imports:?}",
                built_in.name
            );
        }
    }

    #[test]
    fn the_builtins_have_no_post_return_functions() {
        // `lava_wasm_build::without_post_returns`: no lifted export has one.
        use wasmparser::{CanonicalFunction, CanonicalOption, Parser, Payload};
        for built_in in BUILTINS {
            let mut lifted = 0;
            for payload in Parser::new(0).parse_all(built_in.component) {
                let Payload::ComponentCanonicalSection(section) = payload.unwrap() else { continue };
                for function in section {
                    if let CanonicalFunction::Lift { options, .. } = function.unwrap() {
                        lifted += 1;
                        assert!(
                            !options.iter().any(|o| matches!(o, CanonicalOption::PostReturn(_))),
                            "the `{}` built-in has post-return functions",
                            built_in.name
                        );
                    }
                }
            }
            assert_eq!(lifted, 4, "describe, validate, session-name and resolve are lifted");
        }
    }
}
