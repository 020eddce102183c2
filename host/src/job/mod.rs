//! Handing connections to a job the way lava's exe jobs do: for each label, a
//! private folder holding a CLI stand-in and the environment that points at
//! it. Every byte of a stand-in is written here, by host code, from typed and
//! checked results: a plugin picks a launcher kind, never a program, a
//! variable or a file. `output` holds the other shapes a job or tool takes
//! credentials in (JSON, shell `export` lines, `credential_process`).

pub(crate) mod launchers;
pub mod output;
pub(crate) mod profiles;
pub(crate) mod server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use crate::error::HostError;
use crate::folders::{PrivateFolder, WorkFolder, check_work_folder, sweep_abandoned, write_private};
use crate::results::{Job, Resolved};
use crate::sanitizer::sanitize;

/// The worker's own AWS credential settings. `exec` and `prepare_job` keep
/// them from jobs (unless `pass_worker_credentials`): a job gets its
/// connections, not the worker's identity.
pub const WORKER_CREDENTIAL_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    // Older names some SDKs still read (Java v1, Go), and botocore's
    // `OriginalEC2Provider` file.
    "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "AWS_CREDENTIAL_FILE",
];

/// Where an AWS SDK finds credentials without any variable of
/// [`WORKER_CREDENTIAL_VARIABLES`]: the worker's config and credentials
/// files (named by these variables, or `~/.aws/` when unset: profiles, SSO
/// caches, `credential_process`), boto's files, and the instance's
/// metadata endpoint. A job
/// gets these values instead (unless `pass_worker_credentials`), so that no
/// SDK's default chain reaches the worker's identity; a job's own profiles
/// (`add_profiles`) and stand-ins name their own files.
pub const NEUTRAL_CREDENTIAL_SOURCES: &[(&str, &str)] = &[
    ("AWS_CONFIG_FILE", "/dev/null"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    // botocore's `BotoProvider` reads `/etc/boto.cfg` and `~/.boto` unless
    // this names another file; it skips one that is not a regular file.
    ("BOTO_CONFIG", "/dev/null"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// A connection label failed the `\w+` rule.
pub fn check_label(label: &str) -> Result<(), HostError> {
    let valid = !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(HostError::Spec(format!(
            "connection label `{label}` must be letters, digits and `_` only (it becomes LAVA_CONN_{})",
            label.to_uppercase()
        )))
    }
}

/// Labels that are each valid, and no two of which would set one variable:
/// labels become variable names in upper case, so `db` and `DB` (or `ß`
/// and `ss`) would be one connection's name for two.
pub fn check_labels<'a>(labels: impl IntoIterator<Item = &'a str>) -> Result<(), HostError> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for label in labels {
        check_label(label)?;
        if let Some(other) = seen.insert(label.to_uppercase(), label) {
            return Err(HostError::Spec(format!(
                "connection labels `{}` and `{}` would both set LAVA_CONNID_{}: labels become variable names in \
                 upper case; rename one of them",
                sanitize(other),
                sanitize(label),
                label.to_uppercase()
            )));
        }
    }
    Ok(())
}

/// The variables a job's connections set, and which label set each: every
/// one is claimed here, so that two labels never set one variable, and no
/// connection sets a variable that a lava-conn inside the job would read as
/// one of its own settings ([`crate::config::is_setting_variable`]).
#[derive(Default)]
struct Claims<'a> {
    set_by: BTreeMap<String, &'a str>,
}

impl<'a> Claims<'a> {
    fn claim(&mut self, name: &str, label: &'a str) -> Result<(), HostError> {
        if crate::config::is_setting_variable(name) {
            return Err(HostError::Spec(format!(
                "connection `{label}` would set {name}, which is a lava-conn setting: a lava-conn run inside the \
                 job would obey it. Rename the label, or have the plugin rename its value"
            )));
        }
        match self.set_by.insert(name.to_string(), label) {
            None => Ok(()),
            // A secret value `X` and a plain one `X_FILE` from one plugin.
            Some(other) if other == label => Err(HostError::Spec(format!(
                "connection `{label}` resolved two values that would both set {name}: its plugin must rename one"
            ))),
            Some(other) => Err(HostError::Spec(format!(
                "connections `{other}` and `{label}` would both set {name}: rename one of the labels"
            ))),
        }
    }
}

/// The environment a job gets for its connections, and the private folders
/// that back it. Dropping this removes the folders (and the secrets in them).
#[derive(Debug)]
pub struct JobEnvironment {
    /// Variables to add to the job's environment: `LAVA_REALM`, `LAVA_JOB_ID`,
    /// and per label `LAVA_CONNID_<LABEL>`; when the connector has a
    /// launcher, `LAVA_CONN_<LABEL>`; for each named value it resolved,
    /// `LAVA_CONN_<LABEL>_<NAME>` (the value) or, for a secret one,
    /// `LAVA_CONN_<LABEL>_<NAME>_FILE` (a private file holding it).
    pub vars: Vec<(String, String)>,
    /// Variables to remove from the job's inherited environment: the
    /// worker's own AWS credential settings ([`WORKER_CREDENTIAL_VARIABLES`]),
    /// unless the worker configuration passes them on.
    pub remove: Vec<String>,
    /// Where this job's folders are: the work folder, or the host's own
    /// folder in it when others may write the work folder.
    workdir: PathBuf,
    folders: Vec<PrivateFolder>,
    /// The host's own folder in a shared work folder, removed last.
    host_folder: Option<PrivateFolder>,
    /// Labels with a profile in the job's AWS config file.
    profiles: Vec<String>,
    /// Answers the profiles' `credential_process`; stops when this is dropped.
    server: Option<server::CredentialServer>,
}

impl JobEnvironment {
    /// The private folders, one per connection with a launcher or a secret
    /// value, one for the job's profiles, and last the host's own folder
    /// holding them when the work folder is shared.
    pub fn folders(&self) -> impl Iterator<Item = &Path> {
        self.folders.iter().chain(&self.host_folder).map(|d| d.path())
    }

    /// Give `command` this environment: remove the worker's own credential
    /// variables (`remove`), then set `vars`.
    pub fn apply<'c>(&self, command: &'c mut std::process::Command) -> &'c mut std::process::Command {
        for name in &self.remove {
            command.env_remove(name);
        }
        command.envs(self.vars.iter().map(|(k, v)| (k, v)))
    }

    /// Make `label`'s profile the job's default (`AWS_PROFILE`), for SDK
    /// code that names no profile. A job with one connection has it already.
    pub fn set_default_profile(&mut self, label: &str) -> Result<(), HostError> {
        if !self.profiles.iter().any(|l| l == label) {
            return Err(HostError::Spec(format!(
                "`{}` has no AWS profile: the default must be one of the job's labels with AWS credentials ({})",
                sanitize(label),
                self.profiles.join(", ")
            )));
        }
        self.set_var("AWS_PROFILE", label);
        Ok(())
    }

    /// Set `name` to `value`, replacing any value set before.
    fn set_var(&mut self, name: &str, value: &str) {
        self.vars.retain(|(set, _)| set != name);
        self.vars.push((name.to_string(), value.to_string()));
    }

    /// Remove the folders now, reporting any failure (dropping also removes
    /// them). The credential server stops first.
    pub fn cleanup(mut self) -> std::io::Result<()> {
        self.server = None;
        for folder in self.folders.drain(..).chain(self.host_folder.take()) {
            folder.close()?;
        }
        Ok(())
    }
}

/// What the host names the folders it makes in a work folder.
const FOLDER_PREFIXES: &[&str] = &["conn.", "job.", "lava-conn."];

/// The folder to make a job's folders in: `workdir` once checked (see
/// [`crate::folders`]), or, when others may write it (a sticky folder such
/// as `/tmp`), a new owner-only folder of the host's inside it. Folders a
/// killed lava-conn left there are removed first.
fn work_folder(workdir: &Path) -> Result<(PathBuf, Option<PrivateFolder>), HostError> {
    let (folder, shared) = match check_work_folder(workdir).map_err(HostError::Spec)? {
        WorkFolder::Private(folder) => (folder, false),
        WorkFolder::Shared(folder) => (folder, true),
    };
    for removed in sweep_abandoned(&folder, FOLDER_PREFIXES) {
        tracing::warn!(
            "removed {}, left behind by a lava-conn that ended without cleaning up",
            sanitize(&removed.to_string_lossy())
        );
    }
    if !shared {
        return Ok((folder, None));
    }
    let own = PrivateFolder::create(&folder, "lava-conn.")
        .map_err(|e| HostError::Spec(format!("cannot create a private folder in {}: {e}", folder.display())))?;
    Ok((own.path().to_path_buf(), Some(own)))
}

/// Build the environment for `resolved` connections (label → conn id and
/// result) in `workdir`; `pass_worker_credentials` keeps the worker's own
/// credential variables in the job's environment.
pub fn materialise(
    job: &Job,
    workdir: &Path,
    connections: &BTreeMap<String, (String, &Resolved)>,
    pass_worker_credentials: bool,
) -> Result<JobEnvironment, HostError> {
    let io_error = |what: &str, e: std::io::Error| HostError::Spec(format!("{what}: {e}"));
    check_labels(connections.keys().map(String::as_str))?;
    let (workdir, host_folder) = work_folder(workdir)?;
    let mut vars = vec![("LAVA_REALM".into(), job.realm.clone()), ("LAVA_JOB_ID".into(), job.job_id.clone())];
    let remove = if pass_worker_credentials {
        Vec::new()
    } else {
        vars.extend(NEUTRAL_CREDENTIAL_SOURCES.iter().map(|(name, value)| (name.to_string(), value.to_string())));
        WORKER_CREDENTIAL_VARIABLES.iter().map(|v| v.to_string()).collect()
    };
    let mut env =
        JobEnvironment { vars, remove, workdir, folders: Vec::new(), host_folder, profiles: Vec::new(), server: None };
    // Two labels must not set one variable (label `db` with value `X_Y` and
    // label `db_x` with value `Y`), nor any a setting of lava-conn's.
    let mut claims = Claims::default();
    for (label, (conn_id, resolved)) in connections {
        let upper = label.to_uppercase();
        let mut own: Vec<(String, String)> = vec![(format!("LAVA_CONNID_{upper}"), conn_id.clone())];
        // Made at its first use, owner-only from creation, under an unpredictable name.
        let mut folder: Option<PrivateFolder> = None;
        let workdir = &env.workdir;
        let mut private_folder = || -> Result<PathBuf, HostError> {
            if let Some(made) = &folder {
                return Ok(made.path().to_path_buf());
            }
            let made = PrivateFolder::create(workdir, &format!("conn.{label}."))
                .map_err(|e| io_error(&format!("cannot create a private folder in {}", workdir.display()), e))?;
            Ok(folder.insert(made).path().to_path_buf())
        };
        if let Some(kind) = resolved.launcher {
            let script = launchers::write(kind, &private_folder()?, conn_id, resolved).map_err(HostError::Spec)?;
            own.push((format!("LAVA_CONN_{upper}"), script.display().to_string()));
        }
        // Names were checked at the boundary: a letter or `_`, then letters,
        // digits and `_`. A secret never goes into the environment (which
        // `ps e` and child processes see): into a 0600 file, named by a variable.
        for value in &resolved.values {
            if value.secret {
                let path = private_folder()?.join(format!("value.{}", value.name));
                write_private(&path, value.value.expose_secret().as_bytes(), 0o600).map_err(|e| {
                    io_error(&format!("cannot write value `{}` of connection `{conn_id}`", value.name), e)
                })?;
                own.push((format!("LAVA_CONN_{upper}_{}_FILE", value.name), path.display().to_string()));
            } else {
                own.push((format!("LAVA_CONN_{upper}_{}", value.name), value.value.expose_secret().to_string()));
            }
        }
        for (name, _) in &own {
            claims.claim(name, label)?;
        }
        env.vars.extend(own);
        env.folders.extend(folder);
    }
    Ok(env)
}

/// Give the job's connections with AWS credentials one profile each, in an
/// owner-only folder of the job's work folder: `AWS_CONFIG_FILE` (and an empty
/// `AWS_SHARED_CREDENTIALS_FILE`, so that the user's own file cannot shadow a
/// profile), `AWS_PROFILE` when there is one connection, and the server
/// that answers the profiles' `credential_process` through `resolve`.
/// `connections` are (label, region, endpoint); a profile without a region
/// of its own gets `worker_region`. Must run on a tokio runtime.
pub(crate) fn add_profiles(
    env: &mut JobEnvironment,
    job: &Job,
    helper: &Path,
    connections: &[(String, Option<String>, Option<String>)],
    worker_region: Option<&str>,
    resolve: server::ResolveLabel,
) -> Result<(), HostError> {
    if connections.is_empty() {
        return Ok(());
    }
    let io_error = |what: &str, e: std::io::Error| HostError::Spec(format!("{what}: {e}"));
    let folder = PrivateFolder::create(&env.workdir, "job.")
        .map_err(|e| io_error(&format!("cannot create the job's folder in {}", env.workdir.display()), e))?;
    let socket = folder.path().join("credentials.sock");
    let profiles: Vec<profiles::Profile<'_>> = connections
        .iter()
        .map(|(label, region, endpoint_url)| profiles::Profile {
            label,
            region: region.as_deref().or(worker_region),
            endpoint_url: endpoint_url.as_deref(),
        })
        .collect();
    let config = folder.path().join("aws_config");
    let credentials = folder.path().join("aws_credentials");
    let text = profiles::config_file(helper, &socket, job, &profiles)?;
    write_private(&config, text.as_bytes(), 0o600).map_err(|e| io_error("cannot write the job's AWS config", e))?;
    write_private(&credentials, b"", 0o600).map_err(|e| io_error("cannot write the job's AWS config", e))?;
    let labels = connections.iter().map(|(label, ..)| label.clone()).collect();
    env.server = Some(
        server::start(&socket, labels, resolve)
            .map_err(|e| io_error(&format!("cannot listen on {}", socket.display()), e))?,
    );
    // A region in the environment would override every profile's own.
    if profiles.iter().all(|p| p.region.is_some()) {
        env.remove.extend(["AWS_REGION".to_string(), "AWS_DEFAULT_REGION".to_string()]);
    }
    env.set_var("AWS_CONFIG_FILE", &config.display().to_string());
    env.set_var("AWS_SHARED_CREDENTIALS_FILE", &credentials.display().to_string());
    env.profiles = connections.iter().map(|(label, ..)| label.clone()).collect();
    if let [only] = env.profiles.as_slice() {
        let only = only.clone();
        env.set_var("AWS_PROFILE", &only);
    }
    env.folders.push(folder);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::job::launchers::testing::credentials;
    use crate::results::LauncherKind;

    fn with_values(values: &[(&str, &str, bool)]) -> Resolved {
        Resolved {
            values: values
                .iter()
                .map(|(name, value, secret)| crate::results::NamedValue {
                    name: name.to_string(),
                    value: value.to_string().into(),
                    secret: *secret,
                })
                .collect(),
            expiration: None,
            aws: None,
            launcher: None,
            login: None,
        }
    }

    #[test]
    fn a_jobs_values_are_variables_and_its_secret_ones_private_files() {
        let workdir = tempfile::tempdir().unwrap();
        let resolved = with_values(&[("HOST", "db.internal", false), ("PASSWORD", "hunter2", true)]);
        let connections = BTreeMap::from([("db".to_string(), ("warehouse".to_string(), &resolved))]);
        let job = Job { realm: "prod".into(), job_id: "j".into() };
        let env = materialise(&job, workdir.path(), &connections, false).unwrap();
        let var = |name: &str| env.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        assert_eq!(var("LAVA_CONN_DB_HOST").as_deref(), Some("db.internal"));
        assert_eq!(var("LAVA_CONN_DB_PASSWORD"), None, "a secret is never in the environment");
        assert!(env.vars.iter().all(|(_, v)| !v.contains("hunter2")));
        let file = PathBuf::from(var("LAVA_CONN_DB_PASSWORD_FILE").expect("its file is named"));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "hunter2");
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        let folder = file.parent().unwrap().to_path_buf();
        assert_eq!(std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777, 0o700);
        env.cleanup().unwrap();
        assert!(!folder.exists(), "removed with the job");
    }

    /// Why `materialise` refuses these connections (labelled, resolved).
    fn refusal(connections: &[(&str, &Resolved)]) -> String {
        refusal_in(tempfile::tempdir().unwrap().path(), connections)
    }

    /// Why `materialise` refuses these connections in `workdir`.
    fn refusal_in(workdir: &Path, connections: &[(&str, &Resolved)]) -> String {
        let connections: BTreeMap<String, (String, &Resolved)> = connections
            .iter()
            .map(|(label, resolved)| (label.to_string(), (format!("{label}-id"), *resolved)))
            .collect();
        let job = Job { realm: "prod".into(), job_id: "j".into() };
        materialise(&job, workdir, &connections, false).unwrap_err().to_string()
    }

    #[test]
    fn two_labels_that_would_set_one_variable_are_refused() {
        let (a, b) = (with_values(&[("X_Y", "1", false)]), with_values(&[("Y", "2", false)]));
        let error = refusal(&[("db", &a), ("db_x", &b)]);
        assert!(error.contains("`db` and `db_x`") && error.contains("LAVA_CONN_DB_X_Y"), "{error}");
    }

    #[test]
    fn a_secret_value_and_a_plain_one_that_would_set_one_variable_are_refused() {
        let resolved = with_values(&[("PASSWORD", "s3cret", true), ("PASSWORD_FILE", "/etc/passwd", false)]);
        let error = refusal(&[("db", &resolved)]);
        assert!(
            error.contains("connection `db` resolved two values") && error.contains("LAVA_CONN_DB_PASSWORD_FILE"),
            "{error}"
        );
    }

    #[test]
    fn labels_that_differ_only_in_case_are_refused_naming_both() {
        let none = with_values(&[]);
        for (a, b) in [("db", "DB"), ("ß", "ss"), ("Straße", "STRASSE")] {
            let error = refusal(&[(a, &none), (b, &none)]);
            assert!(error.contains(&format!("`{a}`")) && error.contains(&format!("`{b}`")), "{error}");
            assert!(error.contains("LAVA_CONNID_"), "{error}");
        }
        assert!(check_labels(["db", "db2"]).is_ok());
    }

    /// Resolved AWS credentials with the `aws-cli` launcher.
    fn with_launcher() -> Resolved {
        Resolved { aws: Some(credentials(None)), launcher: Some(LauncherKind::AwsCli), ..with_values(&[]) }
    }

    #[test]
    fn no_connection_sets_a_variable_lava_conn_reads_as_a_setting_whatever_the_label() {
        let launcher = with_launcher();
        let mut tried = 0;
        for setting in crate::config::setting_variables() {
            let Some(rest) = setting.strip_prefix("LAVA_CONN_") else { continue };
            // The launcher's own variable: label = the rest.
            let error = refusal(&[(&rest.to_lowercase(), &launcher)]);
            assert!(error.contains(setting) && error.contains("lava-conn setting"), "{setting}: {error}");
            // Every split of the rest into a label and a value's name, plain or secret.
            for (i, _) in rest.match_indices('_') {
                let (label, name) = (rest[..i].to_lowercase(), &rest[i + 1..]);
                let plain = with_values(&[(name, "/", false)]);
                let error = refusal(&[(&label, &plain)]);
                assert!(error.contains(setting), "{setting} as ({label}, {name}): {error}");
                if let Some(secret_name) = name.strip_suffix("_FILE") {
                    let secret = with_values(&[(secret_name, "/", true)]);
                    let error = refusal(&[(&label, &secret)]);
                    assert!(error.contains(setting), "{setting} as ({label}, secret {secret_name}): {error}");
                }
                tried += 1;
            }
        }
        assert!(tried > 20, "the settings were all tried: {tried}");
    }

    #[test]
    fn the_default_profile_must_be_a_label_with_aws_credentials() {
        let workdir = tempfile::tempdir().unwrap();
        let resolved = with_values(&[("HOST", "db.internal", false)]);
        let connections = BTreeMap::from([("db".to_string(), ("warehouse".to_string(), &resolved))]);
        let job = Job { realm: "prod".into(), job_id: "j".into() };
        let mut env = materialise(&job, workdir.path(), &connections, false).unwrap();
        env.profiles = vec!["aws1".into(), "aws2".into()];
        let error = env.set_default_profile("db").unwrap_err().to_string();
        assert!(error.contains("`db` has no AWS profile") && error.contains("aws1, aws2"), "{error}");
        env.set_default_profile("aws2").unwrap();
        env.set_default_profile("aws1").unwrap();
        let set: Vec<&str> = env.vars.iter().filter(|(k, _)| k == "AWS_PROFILE").map(|(_, v)| v.as_str()).collect();
        assert_eq!(set, ["aws1"], "one AWS_PROFILE, the last chosen");
    }

    #[test]
    fn the_folders_are_listed_and_a_failed_removal_is_reported() {
        let job = Job { realm: "prod".into(), job_id: "j".into() };
        let secret = with_values(&[("PASSWORD", "hunter2", true)]);
        let connections = BTreeMap::from([("db".to_string(), ("warehouse".to_string(), &secret))]);
        // A sticky folder others may write: the host's own folder holds the connection's.
        let shared = tempfile::tempdir().unwrap();
        std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let env = materialise(&job, shared.path(), &connections, false).unwrap();
        let folders: Vec<PathBuf> = env.folders().map(Path::to_path_buf).collect();
        assert_eq!(folders.len(), 2, "{folders:?}");
        assert!(folders[0].starts_with(&folders[1]), "the connection's folder is inside the host's own: {folders:?}");
        assert!(folders[1].file_name().unwrap().to_string_lossy().starts_with("lava-conn."), "{folders:?}");
        assert_eq!(std::fs::metadata(&folders[1]).unwrap().permissions().mode() & 0o777, 0o700);
        env.cleanup().unwrap();
        assert!(folders.iter().all(|f| !f.exists()));
        // A folder that cannot be removed is an error, not silence.
        let workdir = tempfile::tempdir().unwrap();
        let env = materialise(&job, workdir.path(), &connections, false).unwrap();
        let folder = env.folders().next().unwrap().to_path_buf();
        std::fs::remove_dir_all(&folder).unwrap();
        assert!(env.cleanup().is_err(), "the removal of {} failed and says so", folder.display());
    }

    #[test]
    fn a_work_folder_others_can_write_without_the_sticky_bit_is_refused_naming_it() {
        let workdir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(workdir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let none = with_values(&[("X", "1", true)]);
        let error = refusal_in(workdir.path(), &[("db", &none)]);
        assert!(error.contains(&workdir.path().display().to_string()) && error.contains("chmod go-w"), "{error}");
        assert_eq!(std::fs::read_dir(workdir.path()).unwrap().count(), 0, "nothing was written there");
    }
}
