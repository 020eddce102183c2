//! The connector host embedders hold: the engine, the loaded plugins, the
//! worker's settings and the caches, and every call through them
//! (`validate`, `session-name`, `resolve`, a job's connections). The top of
//! the crate's layering (`docs/contributing.md`): it uses every module below
//! it, and none uses it.

pub(crate) mod sdk_credentials;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::capabilities::{Allowed, Audit, AwsBackend, CallContext, CapabilityView, Grants, NoAws};
use crate::config::WorkerConfig;
use crate::connections::cache::{CacheKey, CredentialCache, SpecCache};
use crate::connections::specs::{self, CachedSpec, SpecKey};
use crate::connections::store::ConnectionStore;
use crate::contract::ContractVersion;
use crate::contract::{JobContext, ValidateContext};
use crate::error::{HostError, PluginError, SkippedPlugin};
use crate::job::JobEnvironment;
use crate::registry::{LoadedPlugin, Registry, Unserved};
use crate::registry::{PluginInfo, PluginSource};
use crate::results::{Job, Problem, Resolved};
use crate::sandbox::{Runtime, block_on};
use crate::sanitizer::sanitize;
use crate::{folders, job};

/// Builds a [`ConnectorHost`].
#[derive(Default)]
pub struct HostBuilder {
    config: Option<WorkerConfig>,
    plugin_dir: Option<PathBuf>,
    backend: Option<Arc<dyn AwsBackend>>,
    store: Option<Arc<dyn ConnectionStore>>,
    compile_notice: Option<crate::sandbox::CompileNotice>,
}

impl HostBuilder {
    /// Use this worker configuration (default: [`WorkerConfig::default`]).
    pub fn config(mut self, config: WorkerConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Load plugins from this folder (overrides the configuration's `plugins`).
    pub fn plugin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.plugin_dir = Some(dir.into());
        self
    }

    /// Send granted AWS capability calls here (default: [`NoAws`], which refuses them).
    pub fn backend(mut self, backend: Arc<dyn AwsBackend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Call `notice` with a plugin's source and size just before it is
    /// compiled (the compile cache had no artefact for it: its first use
    /// here). A large plugin takes seconds: the CLI says so on a terminal.
    pub fn on_compile(mut self, notice: impl Fn(&str, u64) + Send + Sync + 'static) -> Self {
        self.compile_notice = Some(Arc::new(notice));
        self
    }

    /// Read connection specs from this store (needed by [`ConnectorHost::resolve`]).
    pub fn store(mut self, store: Arc<dyn ConnectionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Set up the engine and load the plugins.
    ///
    /// The configuration is checked first (as [`WorkerConfig::load`] does), so
    /// that no setting can later overflow a bound. The worker's own
    /// `AWS_ENDPOINT_URL*` variables are read now: plugins may name them.
    pub fn build(self) -> Result<ConnectorHost, HostError> {
        let config = self.config.unwrap_or_default();
        config.check("the host's configuration")?;
        let backend = self.backend.unwrap_or_else(|| Arc::new(NoAws));
        let settings = Arc::new(config.plugin_settings());
        let endpoints = config.endpoints_allowed(std::env::vars());
        let mut runtime = Runtime::new(&config)?;
        runtime.compile_notice = self.compile_notice;
        let plugin_dir = self.plugin_dir.or_else(|| config.plugins.clone());
        let context = || CallContext::granting_nothing(&backend, &settings);
        let max_file_bytes = u64::from(config.max_plugin_file_mib) << 20;
        let registry =
            Registry::load(&runtime, &context, plugin_dir.as_deref(), &config.replace_builtin, max_file_bytes)?;
        let cache = CredentialCache::new(config.cache_ttl(), config.aws_access_key_cache_size);
        let specs = SpecCache::new(config.spec_cache_ttl(), MAX_CACHED_SPECS);
        let store = self.store;
        let inner = HostInner { runtime, registry, config, backend, settings, endpoints, store, specs, cache };
        Ok(ConnectorHost { inner: Arc::new(inner) })
    }
}

/// The connector host: an engine, the loaded plugins, the worker's settings
/// and the credential cache. A cheap handle: clone it to share it across
/// tasks and threads; every plugin call is independent.
#[derive(Clone)]
pub struct ConnectorHost {
    inner: Arc<HostInner>,
}

struct HostInner {
    runtime: Runtime,
    registry: Registry,
    config: WorkerConfig,
    backend: Arc<dyn AwsBackend>,
    settings: Arc<BTreeMap<String, String>>,
    /// Endpoint URLs plugins may name: `allowed_endpoints` and the worker's own.
    endpoints: Vec<String>,
    store: Option<Arc<dyn ConnectionStore>>,
    /// Specs read from the store, for `spec_cache_ttl`.
    specs: SpecCache,
    cache: CredentialCache,
}

/// Specs kept from the store at most: a worker's connections, with room.
const MAX_CACHED_SPECS: usize = 10_000;

impl ConnectorHost {
    /// Start building a host.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// The worker configuration in force.
    pub fn config(&self) -> &WorkerConfig {
        &self.inner.config
    }

    /// Every plugin, built-ins first. A plugin file known from the plugin
    /// index is loaded now if no call has needed it yet. Blocks the calling
    /// thread.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        block_on(self.inner.registry.plugins(&self.inner.runtime, &|| self.base_context()))
    }

    /// Plugin files that were found but not loaded, and why (so far: a file
    /// known from the index is loaded, and can fail, at its first use).
    pub fn skipped_plugins(&self) -> Vec<SkippedPlugin> {
        self.inner.registry.skipped()
    }

    /// The context of a call that is granted nothing and works for nobody.
    fn base_context(&self) -> CallContext {
        CallContext::granting_nothing(&self.inner.backend, &self.inner.settings)
    }

    /// What a call of `plugin` needs besides the plugin: its grants, the
    /// backend, the shared settings, and who it works for (the audit trail).
    fn context(&self, plugin: &LoadedPlugin, grants: Grants, spec: &Value, job: Option<&Job>) -> CallContext {
        CallContext {
            grants,
            backend: self.inner.backend.clone(),
            settings: self.inner.settings.clone(),
            audit: Audit {
                sha256: plugin.sha256.clone(),
                connector_type: sanitize(spec.get("type").and_then(Value::as_str).unwrap_or_default()),
                realm: job.map(|j| sanitize(&j.realm)).unwrap_or_default(),
                job: job.map(|j| sanitize(&j.job_id)).unwrap_or_default(),
                conn_id: sanitize(specs::conn_id_of(spec)),
            },
        }
    }

    /// The plugin for the spec's `type`, or a problem saying why there is none.
    async fn plugin_for(&self, spec: &Value) -> Result<Arc<LoadedPlugin>, Problem> {
        let Some(object) = spec.as_object() else {
            return Err(Problem::error("", "a connection spec must be a map of fields"));
        };
        match object.get("type") {
            Some(Value::String(t)) => {
                match self.inner.registry.get(&self.inner.runtime, &|| self.base_context(), t).await {
                    Ok(Some(plugin)) => Ok(plugin),
                    Ok(None) => Err(Problem::error("type", self.unserved_type(t))),
                    Err(Unserved::Clash(first, second)) => Err(Problem::error(
                        "type",
                        format!(
                            "connector type `{}` is claimed by both {first} and {second}; \
                         remove one of them from the plugin folder",
                            sanitize(t)
                        ),
                    )),
                    Err(Unserved::Unloadable { source, reason }) => Err(Problem::error(
                        "type",
                        format!(
                            "connector type `{}` is served by {source}, which cannot be loaded: {reason}",
                            sanitize(t)
                        ),
                    )),
                }
            }
            Some(_) => Err(Problem::error("type", "must be a string naming the connector type, such as `aws`")),
            None => Err(Problem::error("type", "is required: it names the connector type, such as `aws`")),
        }
    }

    /// Why no plugin serves `connector_type`, and the fix: the files that
    /// were skipped (one may have been meant to serve it), or where plugins go.
    fn unserved_type(&self, connector_type: &str) -> String {
        let known = self.inner.registry.known_types();
        let unserved = format!(
            "connector type `{}` is not handled by any loaded plugin (known: {known})",
            sanitize(connector_type)
        );
        let skipped = self.skipped_plugins();
        if skipped.is_empty() {
            return format!("{unserved}; add its plugin to the plugin folder (`--plugins`, LAVA_CONN_PLUGINS)");
        }
        let files: Vec<String> =
            skipped.iter().map(|s| format!("{} ({})", sanitize(&s.path.to_string_lossy()), s.reason)).collect();
        format!("{unserved}; plugin files were skipped, one may be meant for it: {}", files.join("; "))
    }

    /// Check a spec. An empty list means valid; warnings do not make it invalid.
    /// Only plugin failures are errors. Blocks the calling thread: async
    /// callers use [`ConnectorHost::validate_async`].
    pub fn validate(&self, spec: &Value, realm: Option<&str>) -> Result<Vec<Problem>, HostError> {
        block_on(self.validate_in(spec, realm))
    }

    /// [`ConnectorHost::validate`] for async callers: the plugin runs on the
    /// caller's task, and yields while it waits for a slot or runs long.
    pub async fn validate_async(&self, spec: Value, realm: Option<String>) -> Result<Vec<Problem>, HostError> {
        self.validate_in(&spec, realm.as_deref()).await
    }

    async fn validate_in(&self, spec: &Value, realm: Option<&str>) -> Result<Vec<Problem>, HostError> {
        let plugin = &match self.plugin_for(spec).await {
            Ok(plugin) => plugin,
            Err(problem) => return Ok(vec![problem]),
        };
        let json = specs::to_json(spec);
        let context = ValidateContext { realm: realm.map(str::to_string) };
        let call = self.context(plugin, Grants::none(), spec, None);
        let problems = self
            .inner
            .runtime
            .call(&plugin.label, &plugin.pre, plugin.bounds, call, async |p, store| {
                p.validate(store, &json, &context).await
            })
            .await?;
        Ok(self.check_problems(plugin, problems)?)
    }

    /// [`ConnectorHost::session_name`] for async callers, on the caller's task.
    pub async fn session_name_async(&self, spec: Value, job: Job) -> Result<Result<String, Vec<Problem>>, HostError> {
        self.session_name_in(&spec, &job).await
    }

    fn check_problems(
        &self,
        plugin: &LoadedPlugin,
        problems: Vec<crate::contract::Problem>,
    ) -> Result<Vec<Problem>, PluginError> {
        const MAX_PROBLEMS: usize = 1_000;
        if problems.len() > MAX_PROBLEMS {
            return Err(plugin.invalid_result(format!("{} problems (at most {MAX_PROBLEMS})", problems.len())));
        }
        Ok(problems.into_iter().map(crate::contract::boundary::problem).collect())
    }

    /// The job as a plugin sees it. The worker's `CONN_APP_NAME` reaches
    /// the plugin rendered for the job and cleansed (lava's rule, in
    /// `lava_rules::session`): a template with no tags, which renders to
    /// itself. So the template is the host's alone to interpret, and a
    /// plugin needs no template engine (the SDK's default session name was
    /// 800 KB of every plugin). The error names the setting.
    fn job_context(&self, spec: &Value, job: &Job) -> Result<JobContext, Problem> {
        let conn_id = specs::conn_id_of(spec);
        let name =
            lava_rules::session::session_name(&self.inner.config.conn_app_name, &job.realm, &job.job_id, conn_id)
                .map_err(|message| Problem::error("CONN_APP_NAME", message))?;
        Ok(JobContext {
            realm: job.realm.clone(),
            job_id: job.job_id.clone(),
            conn_id: conn_id.to_string(),
            session_name_template: name,
        })
    }

    /// The STS role-session name for the spec in this job, or the problems
    /// that prevent one. Blocks the calling thread.
    pub fn session_name(&self, spec: &Value, job: &Job) -> Result<Result<String, Vec<Problem>>, HostError> {
        block_on(self.session_name_in(spec, job))
    }

    async fn session_name_in(&self, spec: &Value, job: &Job) -> Result<Result<String, Vec<Problem>>, HostError> {
        let plugin = &match self.plugin_for(spec).await {
            Ok(plugin) => plugin,
            Err(problem) => return Ok(Err(vec![problem])),
        };
        let json = specs::to_json(spec);
        let context = match self.job_context(spec, job) {
            Ok(context) => context,
            Err(problem) => return Ok(Err(vec![problem])),
        };
        let call = self.context(plugin, Grants::none(), spec, Some(job));
        let result = self
            .inner
            .runtime
            .call(&plugin.label, &plugin.pre, plugin.bounds, call, async |p, store| {
                p.session_name(store, &json, &context).await
            })
            .await?;
        match result {
            Ok(name) if lava_rules::session::is_valid_session_name(&name) => Ok(Ok(name)),
            Ok(name) => Err(plugin
                .invalid_result(format!("session name `{}` is not 2 to 64 characters of [\\w+=,.@-]", sanitize(&name)))
                .into()),
            Err(problems) => Ok(Err(self.check_problems(plugin, problems)?)),
        }
    }

    /// What the worker allows a plugin of `info` serving `connector_type`
    /// during `resolve` (`WorkerConfig::allowed_for`): the global settings
    /// are the default of the built-in types and of plugins of contracts
    /// before 0.3.0 only.
    pub fn allowed(&self, info: &PluginInfo, connector_type: &str) -> Allowed {
        let global_defaults = matches!(info.source, PluginSource::BuiltIn(_)) || info.contract < ContractVersion::V0_3;
        self.inner.config.allowed_for(connector_type, global_defaults)
    }

    /// The grants a `resolve` of a `connector_type` spec for `job` by the
    /// plugin of `info` gets: the worker's policy for the type, narrowed to
    /// what the plugin declared, with the job's realm filled in; and the
    /// endpoints `allowed_endpoints` lists (and the worker's own).
    pub fn resolve_grants(&self, info: &PluginInfo, job: &Job, connector_type: &str) -> Grants {
        self.allowed(info, connector_type).grants(&info.declared, &job.realm, self.inner.endpoints.clone())
    }

    /// Resolve `conn_id` from the store for `job`, through the caches: the
    /// spec is read from the store at most once per `spec_cache_ttl` (one
    /// read for concurrent callers), then resolved as [`Self::resolve_spec`].
    pub async fn resolve(&self, conn_id: &str, job: &Job) -> Result<Arc<Resolved>, HostError> {
        let store = self.inner.store.as_ref().ok_or(HostError::NoStore)?;
        let spec = self
            .inner
            .specs
            .get_or_resolve(SpecKey::new(&job.realm, conn_id), || async {
                Ok(CachedSpec::new(store.get(&job.realm, conn_id).await?))
            })
            .await?;
        self.resolve_cached(&spec, job).await
    }

    /// Resolve a spec for `job`, through the cache: within the TTL (and never
    /// past the credentials' expiry minus five minutes) the same spec for the
    /// same job is served from memory, and concurrent resolves share one round.
    pub async fn resolve_spec(&self, spec: Value, job: &Job) -> Result<Arc<Resolved>, HostError> {
        self.resolve_cached(&CachedSpec::new(spec), job).await
    }

    async fn resolve_cached(&self, spec: &CachedSpec, job: &Job) -> Result<Arc<Resolved>, HostError> {
        let conn_id = specs::conn_id_of(&spec.spec);
        let key = CacheKey::new(spec, conn_id, job, &self.inner.config.conn_app_name);
        self.inner.cache.get_or_resolve(key, || self.resolve_uncached_async(&spec.spec, job)).await
    }

    /// Resolve every connection of a job (`label → conn id`, labels `\w+`) and
    /// materialise them in `workdir`: a private folder per connection with its
    /// launcher, and the environment that points at them. With a
    /// `credential_helper` configured, every connection with AWS credentials
    /// is also a profile of the job's `AWS_CONFIG_FILE`, refreshed through
    /// this host while the returned guard lives (see `docs/cli-and-configuration.md`, "Python
    /// job"). The guard removes the folders and stops serving when dropped.
    /// Fails, naming the connection, if any connection cannot be resolved;
    /// nothing is left behind then.
    pub async fn prepare_job(
        &self,
        job: &Job,
        connections: &BTreeMap<String, String>,
        workdir: &std::path::Path,
    ) -> Result<JobEnvironment, HostError> {
        let from_store = connections.iter().map(|(label, conn_id)| (label.clone(), conn_id.clone(), None));
        let (mut env, resolved) = self.materialise_connections(job, from_store.collect(), workdir).await?;
        if let Some(helper) = &self.inner.config.credential_helper {
            let mut with_aws: Vec<_> = resolved
                .iter()
                .filter_map(|(label, _, r)| {
                    let aws = r.aws.as_ref()?;
                    Some((label.clone(), aws.region.clone(), aws.endpoint_url.clone()))
                })
                .collect();
            with_aws.sort();
            let (host, job_for_server) = (self.clone(), job.clone());
            let conn_ids = Arc::new(connections.clone());
            let resolve: job::server::ResolveLabel = Arc::new(move |label: &str| {
                let (host, job, conn_id) = (host.clone(), job_for_server.clone(), conn_ids.get(label).cloned());
                Box::pin(async move {
                    let conn_id = conn_id.ok_or_else(|| HostError::Spec("not one of this job's labels".into()))?;
                    host.resolve(&conn_id, &job).await
                })
            });
            let worker_region = self.inner.backend.region();
            job::add_profiles(&mut env, job, helper, &with_aws, worker_region.as_deref(), resolve)?;
        }
        Ok(env)
    }

    /// A job's connections from specs the caller holds (`label → spec`),
    /// made ready in `workdir` as [`ConnectorHost::prepare_job`] makes them
    /// from the store, but without AWS profiles (no credential server): for
    /// a worker that reads specs itself and hands its job only the stand-ins
    /// (lava's). Fails, naming the connection, if any cannot be resolved.
    pub async fn prepare_job_specs(
        &self,
        job: &Job,
        connections: &BTreeMap<String, Value>,
        workdir: &std::path::Path,
    ) -> Result<JobEnvironment, HostError> {
        let given = connections
            .iter()
            .map(|(label, spec)| (label.clone(), specs::conn_id_of(spec).to_string(), Some(spec.clone())));
        Ok(self.materialise_connections(job, given.collect(), workdir).await?.0)
    }

    /// What [`ConnectorHost::prepare_job`] and
    /// [`ConnectorHost::prepare_job_specs`] share: the labels and the work
    /// folder checked before any AWS call (one that would be refused costs
    /// none), every connection (label, conn id, and its spec when the caller
    /// holds it, else the store's) resolved concurrently, the first failure
    /// named by its connection, and the job's environment made from them.
    async fn materialise_connections(
        &self,
        job: &Job,
        connections: Vec<(String, String, Option<Value>)>,
        workdir: &std::path::Path,
    ) -> Result<(JobEnvironment, Vec<(String, String, Arc<Resolved>)>), HostError> {
        job::check_labels(connections.iter().map(|(label, ..)| label.as_str()))?;
        folders::check_work_folder(workdir).map_err(HostError::Spec)?;
        let mut tasks = tokio::task::JoinSet::new();
        for (label, conn_id, spec) in connections {
            let (host, job) = (self.clone(), job.clone());
            tasks.spawn(async move {
                let result = match spec {
                    Some(spec) => host.resolve_spec(spec, &job).await,
                    None => host.resolve(&conn_id, &job).await,
                };
                (label, conn_id, result)
            });
        }
        let mut resolved = Vec::with_capacity(tasks.len());
        while let Some(joined) = tasks.join_next().await {
            let (label, conn_id, result) =
                joined.map_err(|e| HostError::Spec(format!("a resolve task failed: {e}")))?;
            match result {
                Ok(r) => resolved.push((label, conn_id, r)),
                Err(error) => {
                    return Err(HostError::Connection { label, conn_id, source: Box::new(error) });
                }
            }
        }
        let map = resolved.iter().map(|(label, conn_id, r)| (label.clone(), (conn_id.clone(), r.as_ref()))).collect();
        let env = job::materialise(job, workdir, &map, self.inner.config.pass_worker_credentials)?;
        Ok((env, resolved))
    }

    /// Resolve a spec for a job, uncached, blocking the calling thread. The
    /// plugin may read SSM under the realm's prefixes and assume roles
    /// through the backend.
    pub fn resolve_uncached(&self, spec: &Value, job: &Job) -> Result<Resolved, HostError> {
        block_on(self.resolve_uncached_async(spec, job))
    }

    /// [`ConnectorHost::resolve_uncached`] on the caller's task: the plugin's
    /// AWS calls are awaited there. Dropping the future stops the plugin.
    pub async fn resolve_uncached_async(&self, spec: &Value, job: &Job) -> Result<Resolved, HostError> {
        let conn_id = specs::conn_id_of(spec).to_string();
        let plugin = &self.plugin_for(spec).await.map_err(|p| HostError::Invalid {
            conn_id: sanitize(&conn_id),
            summary: format!("{}: {}", p.field, p.message),
        })?;
        let json = specs::to_json(spec);
        let context = self.job_context(spec, job).map_err(|p| HostError::Resolve {
            conn_id: sanitize(&conn_id),
            message: sanitize(&format!("{}: {}", p.field, p.message)),
        })?;
        let connector_type = spec.get("type").and_then(Value::as_str).unwrap_or_default();
        let grants = self.resolve_grants(&plugin.info, job, connector_type);
        let call = self.context(plugin, grants.clone(), spec, Some(job));
        let result = self
            .inner
            .runtime
            .call(&plugin.label, &plugin.pre, plugin.bounds, call, async |p, store| {
                let resolved = p.resolve(store, &json, &context).await?;
                Ok((resolved, store.data_mut().capabilities().shortest_issued()))
            })
            .await?;
        match result {
            (Ok(resolved), issued_until) => crate::contract::boundary::resolved(resolved, &grants)
                .map(|mut resolved| {
                    // Cached no longer than a credential the host issued works.
                    resolved.expiration = resolved.expiration.into_iter().chain(issued_until).min();
                    resolved
                })
                .map_err(|message| plugin.invalid_result(message).into()),
            (Err(message), _) => Err(HostError::Resolve { conn_id: sanitize(&conn_id), message: sanitize(&message) }),
        }
    }
}
