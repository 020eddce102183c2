//! `lava_conn._native`: the lava-conn host in a Python process. The
//! `lava_conn` package wraps it (`python/lava_conn/`); this module only
//! crosses the boundary. Every call releases the GIL while the host works,
//! so Python threads share one host, its plugins and its credential cache.
//! Secrets stay in `secrecy` types until Python asks for one by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use lava_conn::{
    CONFIG_FILE_VARIABLE, ConnectorHost, Job, JobEnvironment, Problem, Severity, WorkerAws, WorkerConfig, error_text,
    parse_spec_text, worker_store,
};
use lava_rules::problem::error_summary;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pyo3::create_exception!(
    _native,
    Error,
    PyException,
    "lava-conn refused or failed a call; the message says why, as the CLI would."
);
pyo3::create_exception!(_native, InvalidSpec, Error, "A connection spec has errors; the message names each field.");

fn error(e: &(dyn std::error::Error + 'static)) -> PyErr {
    Error::new_err(error_text(e))
}

/// The host, as `lava_conn.Host` holds it.
#[pyclass(frozen, module = "lava_conn._native")]
struct Host {
    host: ConnectorHost,
    runtime: tokio::runtime::Runtime,
    /// The worker's AWS: loaded before a call that uses it, as the CLI does,
    /// so that plugins and profiles see the worker's region.
    aws: Arc<WorkerAws>,
    /// Whether a connection store was configured (`resolve` needs one).
    has_store: bool,
}

#[pymethods]
impl Host {
    /// A host configured as the CLI is: `config` (else `LAVA_CONN_CONFIG`),
    /// each setting overridden by its environment variable; `plugins` (else
    /// `LAVA_CONN_PLUGINS`, else the config's); `connections` (a folder of
    /// spec files or `dynamodb`, else the config's).
    #[new]
    #[pyo3(signature = (plugins=None, connections=None, config=None))]
    fn new(
        py: Python<'_>,
        plugins: Option<PathBuf>,
        connections: Option<String>,
        config: Option<PathBuf>,
    ) -> PyResult<Self> {
        py.detach(|| build(plugins, connections, config))
    }

    /// Every connector type the host serves (built in, and in the plugin
    /// folder), sorted.
    fn types(&self, py: Python<'_>) -> Vec<String> {
        let mut types: Vec<String> = py.detach(|| self.host.plugins()).into_iter().flat_map(|p| p.types).collect();
        types.sort();
        types
    }

    /// The problems of the one spec in `text` (JSON when `is_json`, else
    /// YAML), as (field, severity, message).
    #[pyo3(signature = (text, is_json, realm=None))]
    fn validate(
        &self,
        py: Python<'_>,
        text: &str,
        is_json: bool,
        realm: Option<String>,
    ) -> PyResult<Vec<(String, &'static str, String)>> {
        let spec = self.one_spec(text, is_json)?;
        let problems = py.detach(|| self.host.validate(&spec, realm.as_deref())).map_err(|e| error(&e))?;
        Ok(problems.into_iter().map(problem_tuple).collect())
    }

    /// The role-session name the host gives the job for the spec in `text`.
    #[pyo3(signature = (text, is_json, realm=None, job_id=None))]
    fn session_name(
        &self,
        py: Python<'_>,
        text: &str,
        is_json: bool,
        realm: Option<String>,
        job_id: Option<String>,
    ) -> PyResult<String> {
        let spec = self.one_spec(text, is_json)?;
        let job = self.job(realm, job_id)?;
        match py.detach(|| self.host.session_name(&spec, &job)).map_err(|e| error(&e))? {
            Ok(name) => Ok(name),
            Err(problems) => Err(invalid(lava_conn::conn_id_of(&spec), &problems)),
        }
    }

    /// What connection `conn_id` resolves to for the job, through the
    /// host's credential cache.
    #[pyo3(signature = (conn_id, realm=None, job_id=None))]
    fn resolve(
        &self,
        py: Python<'_>,
        conn_id: &str,
        realm: Option<String>,
        job_id: Option<String>,
    ) -> PyResult<Resolved> {
        self.need_store()?;
        let job = self.job(realm, job_id)?;
        let resolved = self.with_aws(py, self.host.resolve(conn_id, &job))?;
        Ok(Resolved { conn_id: conn_id.to_string(), resolved })
    }

    /// What the spec in `text` resolves to for the job: a connection that
    /// comes from the caller (Airflow's), not from the host's store. Cached
    /// as `resolve` is, keyed by the spec.
    #[pyo3(signature = (text, is_json, realm=None, job_id=None))]
    fn resolve_spec(
        &self,
        py: Python<'_>,
        text: &str,
        is_json: bool,
        realm: Option<String>,
        job_id: Option<String>,
    ) -> PyResult<Resolved> {
        let spec = self.one_spec(text, is_json)?;
        let conn_id = lava_conn::conn_id_of(&spec).to_string();
        let job = self.job(realm, job_id)?;
        let resolved = self.with_aws(py, self.host.resolve_spec(spec, &job))?;
        Ok(Resolved { conn_id, resolved })
    }

    /// A job's connections (`label → conn id`) made ready as `lava-conn
    /// exec` makes them, in private folders under `workdir` (default: the
    /// system's temporary folder).
    #[pyo3(signature = (connections, realm=None, job_id=None, workdir=None))]
    fn prepare_job(
        &self,
        py: Python<'_>,
        connections: BTreeMap<String, String>,
        realm: Option<String>,
        job_id: Option<String>,
        workdir: Option<PathBuf>,
    ) -> PyResult<PreparedJob> {
        self.need_store()?;
        let job = self.job(realm, job_id)?;
        let workdir = workdir.unwrap_or_else(std::env::temp_dir);
        let env = self.with_aws(py, self.host.prepare_job(&job, &connections, &workdir))?;
        Ok(PreparedJob::new(env))
    }

    /// A job's connections from specs the caller holds (label → the spec's
    /// JSON text, each read as `validate` reads one), made ready as
    /// `prepare_job` makes them, without AWS profiles: for a worker that
    /// reads specs itself (lava's).
    #[pyo3(signature = (specs, realm=None, job_id=None, workdir=None))]
    fn prepare_job_specs(
        &self,
        py: Python<'_>,
        specs: BTreeMap<String, String>,
        realm: Option<String>,
        job_id: Option<String>,
        workdir: Option<PathBuf>,
    ) -> PyResult<PreparedJob> {
        let specs = specs
            .into_iter()
            .map(|(label, text)| Ok((label, self.one_spec(&text, true)?)))
            .collect::<PyResult<BTreeMap<String, Value>>>()?;
        let job = self.job(realm, job_id)?;
        let workdir = workdir.unwrap_or_else(std::env::temp_dir);
        let env = self.with_aws(py, self.host.prepare_job_specs(&job, &specs, &workdir))?;
        Ok(PreparedJob::new(env))
    }
}

impl Host {
    /// `call` on the host's runtime with the GIL released, once the worker's
    /// AWS settings have loaded (as the CLI does: plugins and a job's
    /// profiles read the worker's region).
    fn with_aws<T: Send>(
        &self,
        py: Python<'_>,
        call: impl std::future::Future<Output = Result<T, lava_conn::HostError>> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            self.runtime.block_on(async {
                self.aws.sdk().await;
                call.await
            })
        })
        .map_err(|e| error(&e))
    }

    /// The one spec in `text`, held to the size a spec file may be.
    fn one_spec(&self, text: &str, is_json: bool) -> PyResult<Value> {
        let limit = self.host.config().max_spec_file_bytes();
        if text.len() as u64 > limit {
            return Err(Error::new_err(format!(
                "the spec is {} KiB, more than the {} KiB a spec may be (setting max_spec_file_kib)",
                (text.len() as u64).div_ceil(1024),
                limit / 1024
            )));
        }
        let source = Path::new(if is_json { "<spec>.json" } else { "<spec>" });
        let mut specs = parse_spec_text(source, text).map_err(|e| error(&e))?;
        match specs.len() {
            1 => Ok(specs.remove(0)),
            n => Err(Error::new_err(format!("the text holds {n} connection specs; pass one at a time"))),
        }
    }

    fn job(&self, realm: Option<String>, job_id: Option<String>) -> PyResult<Job> {
        let config = self.host.config();
        let realm = realm.or_else(|| config.realm.clone());
        let job_id = job_id.or_else(|| config.job_id.clone());
        match (realm, job_id) {
            (Some(realm), Some(job_id)) => Ok(Job { realm, job_id }),
            (None, _) => Err(Error::new_err("realm= (or LAVA_REALM, or `realm` in the config) is required")),
            (_, None) => Err(Error::new_err("job_id= (or LAVA_JOB_ID, or `job_id` in the config) is required")),
        }
    }

    fn need_store(&self) -> PyResult<()> {
        if self.has_store {
            return Ok(());
        }
        Err(Error::new_err(
            "no connections: pass connections= (a folder of spec files, or `dynamodb`), or set \
             LAVA_CONN_CONNECTIONS or `connections` in the config",
        ))
    }
}

fn build(plugins: Option<PathBuf>, connections: Option<String>, config: Option<PathBuf>) -> PyResult<Host> {
    let file = config.or_else(|| std::env::var_os(CONFIG_FILE_VARIABLE).map(PathBuf::from));
    let config = WorkerConfig::load(file.as_deref(), std::env::vars()).map_err(|e| error(&e))?;
    let plugins = plugins.or_else(|| std::env::var_os("LAVA_CONN_PLUGINS").map(PathBuf::from));
    let connections = connections.or_else(|| config.connections.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("lava-conn")
        .enable_all()
        .build()
        .map_err(|e| Error::new_err(format!("cannot start the host's runtime: {e}")))?;
    let _entered = runtime.enter();
    let aws = Arc::new(WorkerAws::default());
    let mut builder = ConnectorHost::builder().backend(aws.clone());
    if let Some(connections) = &connections {
        lava_conn::check_worker_profile(&std::env::vars().collect()).map_err(|e| error(&e))?;
        // The worker's AWS settings load while the engine and plugins are set up.
        let loading = aws.clone();
        runtime.spawn(async move {
            loading.sdk().await;
        });
        let store = worker_store(connections, &aws, config.max_spec_file_bytes()).map_err(|e| error(&e))?;
        builder = builder.store(store);
    }
    if let Some(plugins) = plugins {
        builder = builder.plugin_dir(plugins);
    }
    let host = builder.config(config).build().map_err(|e| error(&e))?;
    drop(_entered);
    Ok(Host { host, runtime, aws, has_store: connections.is_some() })
}

fn problem_tuple(p: Problem) -> (String, &'static str, String) {
    let severity = match p.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    (p.field, severity, p.message)
}

fn invalid(conn_id: &str, problems: &[Problem]) -> PyErr {
    InvalidSpec::new_err(format!(
        "connection `{}` is invalid: {}",
        lava_conn::sanitize(conn_id),
        error_summary(problems)
    ))
}

fn epoch_seconds(time: Option<SystemTime>) -> Option<f64> {
    time.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs_f64())
}

/// What a connection resolved to. Secret values and keys are read by name
/// and never appear in a `repr`.
#[pyclass(frozen, module = "lava_conn._native")]
struct Resolved {
    conn_id: String,
    resolved: Arc<lava_conn::Resolved>,
}

#[pymethods]
impl Resolved {
    /// The connection's id.
    #[getter]
    fn conn_id(&self) -> &str {
        &self.conn_id
    }

    /// The plain named values.
    #[getter]
    fn values(&self) -> BTreeMap<String, String> {
        let plain = self.resolved.values.iter().filter(|v| !v.secret);
        plain.map(|v| (v.name.clone(), v.value.expose_secret().to_string())).collect()
    }

    /// The names of the secret values ([`Resolved::secret`] reads one).
    #[getter]
    fn secret_names(&self) -> Vec<String> {
        self.resolved.values.iter().filter(|v| v.secret).map(|v| v.name.clone()).collect()
    }

    /// The secret value `name`.
    fn secret(&self, name: &str) -> PyResult<String> {
        let value = self.resolved.values.iter().find(|v| v.secret && v.name == name);
        let value =
            value.ok_or_else(|| Error::new_err(format!("connection `{}` has no secret `{name}`", self.conn_id)))?;
        Ok(value.value.expose_secret().to_string())
    }

    /// The AWS credentials, when the connector yields them.
    #[getter]
    fn credentials(&self) -> Option<Credentials> {
        self.resolved.aws.as_ref().map(|c| Credentials {
            access_key_id: c.access_key_id.clone(),
            secret_access_key: c.secret_access_key.clone(),
            session_token: c.session_token.clone(),
            expiration: epoch_seconds(c.expiration),
            region: c.region.clone(),
            endpoint_url: c.endpoint_url.clone(),
        })
    }

    /// When the result stops being valid, in seconds since the epoch.
    #[getter]
    fn expiration(&self) -> Option<f64> {
        epoch_seconds(self.resolved.expiration)
    }

    /// The stand-in the job gets (`aws-cli`, `psql`, …), if any.
    #[getter]
    fn launcher(&self) -> Option<&'static str> {
        self.resolved.launcher.map(|l| l.as_str())
    }

    fn __repr__(&self) -> String {
        format!(
            "Resolved(conn_id={:?}, values={:?}, secret_names={:?}, credentials={})",
            self.conn_id,
            self.values(),
            self.secret_names(),
            self.credentials().map_or_else(|| "None".into(), |c| c.__repr__())
        )
    }
}

/// AWS credentials; the secret key and token are read as attributes and
/// never shown in a `repr`.
#[pyclass(frozen, module = "lava_conn._native")]
struct Credentials {
    #[pyo3(get)]
    access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
    /// Seconds since the epoch.
    #[pyo3(get)]
    expiration: Option<f64>,
    #[pyo3(get)]
    region: Option<String>,
    #[pyo3(get)]
    endpoint_url: Option<String>,
}

#[pymethods]
impl Credentials {
    /// The secret access key.
    #[getter]
    fn secret_access_key(&self) -> String {
        self.secret_access_key.expose_secret().to_string()
    }

    /// The session token of temporary credentials.
    #[getter]
    fn session_token(&self) -> Option<String> {
        self.session_token.as_ref().map(|t| t.expose_secret().to_string())
    }

    fn __repr__(&self) -> String {
        format!(
            "Credentials(access_key_id={:?}, secret_access_key=<redacted>, session_token={}, expiration={:?}, \
             region={:?}, endpoint_url={:?})",
            self.access_key_id,
            if self.session_token.is_some() { "<redacted>" } else { "None" },
            self.expiration,
            self.region,
            self.endpoint_url
        )
    }
}

/// A job's prepared connections: the variables to set and remove, and the
/// private folders behind them, removed by `cleanup` (or when collected).
#[pyclass(frozen, module = "lava_conn._native")]
struct PreparedJob {
    #[pyo3(get)]
    vars: Vec<(String, String)>,
    #[pyo3(get)]
    remove: Vec<String>,
    env: Mutex<Option<JobEnvironment>>,
}

impl PreparedJob {
    fn new(env: JobEnvironment) -> Self {
        Self { vars: env.vars.clone(), remove: env.remove.clone(), env: Mutex::new(Some(env)) }
    }
}

#[pymethods]
impl PreparedJob {
    /// Remove the job's folders (and the secrets in them) now.
    fn cleanup(&self, py: Python<'_>) -> PyResult<()> {
        let env = self.env.lock().map_err(|_| Error::new_err("the job's environment is poisoned"))?.take();
        match env {
            Some(env) => {
                py.detach(|| env.cleanup()).map_err(|e| Error::new_err(format!("cannot remove the job's folders: {e}")))
            }
            None => Ok(()),
        }
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Host>()?;
    m.add_class::<Resolved>()?;
    m.add_class::<Credentials>()?;
    m.add_class::<PreparedJob>()?;
    m.add("Error", m.py().get_type::<Error>())?;
    m.add("InvalidSpec", m.py().get_type::<InvalidSpec>())?;
    Ok(())
}
