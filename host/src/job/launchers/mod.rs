//! The stand-ins a job gets in place of a client program: one module per
//! launcher kind, each holding what the kind needs of a login and how its
//! script and files are written. A plugin picks a kind and hands typed
//! values; every byte the job runs is host text, every value from a login
//! is single-quoted for the shell or escaped for the file it lands in, and
//! every file is created owner-only in the connection's private folder.
//!
//! The rules every login value meets whatever the kind (no control
//! characters, nothing a client reads as an option, host names of host-name
//! characters) are here; a kind's own rules (which fields it uses, which TLS
//! modes it knows, which passwords its files can hold) are in its module.

mod aws;
mod generic;
mod mysql;
mod oracle;
mod postgres;
mod sqlite;
mod ssh;
#[cfg(test)]
pub(crate) mod testing;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::output::shell_quote;
use crate::folders::write_private;
use crate::results::{LauncherKind, Login, Resolved};
use crate::sanitizer::sanitize;

/// What a CA bundle holds, as PEM writes it.
const PEM_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";

/// A login field, for the rules of which kind uses and needs which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Host,
    Port,
    User,
    Password,
    Database,
    SslMode,
    CaCertificate,
    ApplicationName,
    PrivateKey,
    SshOptions,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Host => "host",
            Field::Port => "port",
            Field::User => "user",
            Field::Password => "password",
            Field::Database => "database",
            Field::SslMode => "ssl mode",
            Field::CaCertificate => "CA certificate",
            Field::ApplicationName => "application name",
            Field::PrivateKey => "private key",
            Field::SshOptions => "SSH options",
        }
    }

    /// The fields `login` sets.
    fn set_in(login: &Login) -> Vec<Field> {
        let set = [
            (Field::Host, login.host.is_some()),
            (Field::Port, login.port.is_some()),
            (Field::User, login.user.is_some()),
            (Field::Password, login.password.is_some()),
            (Field::Database, login.database.is_some()),
            (Field::SslMode, login.ssl_mode.is_some()),
            (Field::CaCertificate, login.ca_certificate.is_some()),
            (Field::ApplicationName, login.application_name.is_some()),
            (Field::PrivateKey, login.private_key.is_some()),
            (Field::SshOptions, !login.ssh_options.is_empty()),
        ];
        set.into_iter().filter(|(_, is_set)| *is_set).map(|(field, _)| field).collect()
    }
}

/// What a kind reads of a login: `uses` may be set, `needs` must be.
struct Shape {
    uses: &'static [Field],
    needs: &'static [Field],
}

/// The shape of each kind's login. A field a kind does not use is refused
/// rather than dropped, so that a plugin never believes a setting (a CA, a
/// TLS mode) took effect when the client never saw it.
fn shape(kind: LauncherKind) -> Shape {
    use Field::*;
    match kind {
        LauncherKind::AwsCli | LauncherKind::Generic => Shape { uses: &[], needs: &[] },
        LauncherKind::Psql => Shape {
            uses: &[Host, Port, User, Password, Database, SslMode, CaCertificate, ApplicationName],
            needs: &[Host, User, Database],
        },
        LauncherKind::Mysql => Shape {
            uses: &[Host, Port, User, Password, Database, SslMode, CaCertificate],
            needs: &[Host, User, Database],
        },
        LauncherKind::Sqlplus => {
            Shape { uses: &[Host, Port, User, Password, Database, SslMode], needs: &[Host, User, Password] }
        }
        LauncherKind::Sqlite3 => Shape { uses: &[Database], needs: &[Database] },
        LauncherKind::Ssh | LauncherKind::Scp | LauncherKind::Sftp | LauncherKind::Git => {
            Shape { uses: &[User, Port, PrivateKey, SshOptions], needs: &[PrivateKey] }
        }
    }
}

/// Text that reaches a file line or an argument: no NUL or line break, and
/// not starting with `-`, which a client would read as an option.
/// A login's word (`lava_rules::login`, the one rule), or why not.
fn check_word(what: &str, text: &str) -> Result<(), String> {
    refusal(what, text, lava_rules::login::word_problem(text))
}

/// A host name or address (`lava_rules::login`), or why not.
fn check_host(host: &str) -> Result<(), String> {
    refusal("host", host, lava_rules::login::host_problem(host))
}

fn refusal(what: &str, text: &str, problem: Option<&str>) -> Result<(), String> {
    match problem {
        None => Ok(()),
        Some(problem) if text.is_empty() || text.len() > 1024 => Err(format!("login {what} {problem}")),
        Some(problem) => Err(format!("login {what} `{}` {problem}", sanitize(text))),
    }
}

/// A login's values, each checked for what it may reach: file lines,
/// arguments, a script. Secrets may hold anything but NUL; a password that
/// a kind's file cannot hold is refused by that kind's rules.
pub(crate) fn check_login(login: &Login) -> Result<(), String> {
    if let Some(host) = &login.host {
        check_host(host)?;
    }
    for (what, text) in [
        ("user", &login.user),
        ("database", &login.database),
        ("ssl mode", &login.ssl_mode),
        ("application name", &login.application_name),
    ] {
        if let Some(text) = text {
            check_word(what, text)?;
        }
    }
    if login.port == Some(0) {
        return Err("login port 0 is not a port".into());
    }
    let secrets = [("password", &login.password), ("private key", &login.private_key)];
    for (what, secret) in secrets {
        if secret.as_ref().is_some_and(|s| s.expose_secret().contains('\0')) {
            return Err(format!("login {what} holds a NUL"));
        }
    }
    if login.ca_certificate.as_ref().is_some_and(|ca| ca.contains('\0') || !ca.contains(PEM_CERTIFICATE)) {
        return Err(format!("login CA certificate is not PEM text (`{PEM_CERTIFICATE}`)"));
    }
    for (name, value) in &login.ssh_options {
        ssh::check_option(name, value)?;
    }
    Ok(())
}

/// The TLS mode `login` asks for, if it is one of `known` (the kind's own
/// words); `Err` lists them.
/// TLS modes that encrypt, in the words of libpq and of lava (which the
/// MySQL stand-in maps to its client's).
const ENCRYPTED: &[&str] = &["require", "verify-ca", "verify-full"];

/// How lava recognises an RDS IAM token among passwords.
const IAM_TOKEN_MARK: &str = "X-Amz-Credential=";

fn is_iam_token(login: &Login) -> bool {
    login.password.as_ref().is_some_and(|p| p.expose_secret().contains(IAM_TOKEN_MARK))
}

/// An RDS IAM token is a bearer credential: a login that would send it to a
/// server that did not start TLS (no mode, or one that does not encrypt) is
/// refused, whichever client's stand-in it is for.
fn iam_token_needs_tls(login: &Login, mode: Option<&str>) -> Result<(), String> {
    if is_iam_token(login) && !mode.is_some_and(|m| ENCRYPTED.contains(&m)) {
        return Err(format!(
            "an RDS IAM token is sent in clear text without TLS: set the ssl mode to one of {}",
            ENCRYPTED.join(", ")
        ));
    }
    Ok(())
}

fn ssl_mode<'a>(login: &'a Login, known: &[&str]) -> Result<Option<&'a str>, String> {
    match login.ssl_mode.as_deref() {
        Some(mode) if !known.contains(&mode) => {
            Err(format!("ssl mode `{}` is not one of {}", sanitize(mode), known.join(", ")))
        }
        mode => Ok(mode),
    }
}

/// Whether a kind can be written from what a result holds: `Err` names the
/// kind, what is missing or refused, and what to change.
pub(crate) fn check_kind(kind: LauncherKind, login: Option<&Login>, has_aws: bool) -> Result<(), String> {
    let refuse = |why: String| format!("launcher `{}`: {why}", kind.as_str());
    if kind == LauncherKind::AwsCli && !has_aws {
        return Err("launcher `aws-cli` needs AWS credentials in the result, and there are none".into());
    }
    let shape = shape(kind);
    let empty = Login::default();
    let login = match login {
        Some(login) => login,
        None if shape.needs.is_empty() => &empty,
        None => return Err(refuse("needs a login, and the result has none".into())),
    };
    let set = Field::set_in(login);
    if let Some(unused) = set.iter().find(|f| !shape.uses.contains(f)) {
        return Err(refuse(format!("does not use the login's {}: leave it empty", unused.name())));
    }
    if let Some(missing) = shape.needs.iter().find(|f| !set.contains(f)) {
        return Err(refuse(format!("needs the login's {}, and there is none", missing.name())));
    }
    let own = match kind {
        LauncherKind::Psql => postgres::check(login),
        LauncherKind::Mysql => mysql::check(login),
        LauncherKind::Sqlplus => oracle::check(login),
        LauncherKind::Sqlite3 => sqlite::check(login),
        LauncherKind::Ssh | LauncherKind::Scp | LauncherKind::Sftp | LauncherKind::Git => ssh::check(login),
        LauncherKind::AwsCli | LauncherKind::Generic => Ok(()),
    };
    own.map_err(refuse)
}

/// Write `kind`'s stand-in for connection `conn_id` into `folder` (the
/// connection's private folder) from `resolved`, checked again here so
/// that a result built by library code meets the same rules as a plugin's.
/// Returns the script the job runs.
pub(crate) fn write(kind: LauncherKind, folder: &Path, conn_id: &str, resolved: &Resolved) -> Result<PathBuf, String> {
    // Paths reach scripts and files as text: one that is not UTF-8 would
    // be written as another path.
    if folder.to_str().is_none() {
        return Err(format!(
            "the work folder {} is not UTF-8 text: choose another (--workdir)",
            sanitize(&folder.to_string_lossy())
        ));
    }
    let login = resolved.login.as_ref();
    if let Some(login) = login {
        check_login(login)?;
    }
    check_kind(kind, login, resolved.aws.is_some())?;
    let empty = Login::default();
    let login = login.unwrap_or(&empty);
    let written = match kind {
        // `check_kind` refused a result without credentials: an error, never a panic.
        LauncherKind::AwsCli => match &resolved.aws {
            Some(aws) => aws::write(folder, conn_id, aws),
            None => Err(std::io::Error::other("the result holds no AWS credentials")),
        },
        LauncherKind::Psql => postgres::write(folder, conn_id, login),
        LauncherKind::Mysql => mysql::write(folder, conn_id, login),
        LauncherKind::Sqlplus => oracle::write(folder, conn_id, login),
        LauncherKind::Sqlite3 => sqlite::write(folder, conn_id, login),
        LauncherKind::Ssh | LauncherKind::Scp | LauncherKind::Sftp | LauncherKind::Git => {
            ssh::write(kind, folder, conn_id, login)
        }
        LauncherKind::Generic => generic::write(folder, conn_id, &resolved.values),
    };
    written.map_err(|e| {
        format!("cannot write the `{}` stand-in of connection `{}`: {e}", kind.as_str(), sanitize(conn_id))
    })
}

/// A stand-in script: host text from its first line to its last, with
/// every value single-quoted.
struct Script(String);

impl Script {
    /// `#!/bin/sh` and a comment naming the kind and the connection (spec
    /// text, sanitised so that it cannot end the comment).
    fn new(kind: &str, conn_id: &str) -> Self {
        Script(format!("#!/bin/sh\n# lava-conn stand-in for {kind} with connection {}\n", sanitize(conn_id)))
    }

    /// A line of host text.
    fn line(&mut self, text: &str) -> &mut Self {
        self.0.push_str(text);
        self.0.push('\n');
        self
    }

    /// Unset every variable of the job's whose name starts with one of
    /// `prefixes`, but those in `keep`: a client's settings are many and
    /// grow with each release, so the stand-in clears the family (a
    /// deny-list of names would miss the next one that redirects the
    /// connection) and then sets its own.
    fn unset_all(&mut self, prefixes: &[&str], keep: &[&str]) -> &mut Self {
        // POSIX sed: one expression per prefix (BRE has no alternation).
        let names: String = prefixes.iter().map(|p| format!(" -e 's/^\\({p}[A-Za-z0-9_]*\\)=.*/\\1/p'")).collect();
        let kept = if keep.is_empty() { String::new() } else { format!("({}) ;; ", keep.join("|")) };
        // Without `env` or `sed` (a minimal image) nothing would be cleared,
        // silently: the stand-in stops instead.
        self.line(
            "command -v env >/dev/null && command -v sed >/dev/null || \
             { echo \"${0##*/}: needs env and sed to clear the job's client settings\" >&2; exit 127; }",
        );
        self.line(&format!("for v in $(env | sed -n{names}); do case \"$v\" in {kept}(*) unset \"$v\" ;; esac; done"))
    }

    /// `export NAME=value`, the value quoted.
    fn export(&mut self, name: &str, value: &str) -> &mut Self {
        let _ = writeln!(self.0, "export {name}={}", quote_word(value));
        self
    }

    /// `program arg …`, each word quoted where the shell would read it.
    fn words(program: &str, args: &[String]) -> String {
        let mut line = program.to_string();
        for arg in args {
            line.push(' ');
            line.push_str(&quote_word(arg));
        }
        line
    }

    /// `exec program 'arg' … "$@"`.
    fn exec(&mut self, program: &str, args: &[String]) -> &mut Self {
        let command = Self::words(program, args);
        self.line(&format!("exec {command} \"$@\""))
    }

    /// Write it to `folder/name`, owner-only and executable.
    fn write(&self, folder: &Path, name: &str) -> std::io::Result<PathBuf> {
        let path = folder.join(name);
        write_private(&path, self.0.as_bytes(), 0o700)?;
        Ok(path)
    }
}

/// `word` as the shell should see it: bare when it holds only characters
/// no shell reads specially (as Python's `shlex.quote` decides, so that
/// scripts read as lava's did), single-quoted otherwise.
fn quote_word(word: &str) -> String {
    let bare = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '%' | '+' | '=' | ':' | ',' | '.' | '/' | '-')
        });
    if bare { word.to_string() } else { shell_quote(word) }
}

/// A path as script or file text.
fn path_text(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> Login {
        Login {
            host: Some("db.example.com".into()),
            port: Some(5432),
            user: Some("etl".into()),
            password: Some("p:a\\s#s\"w'o\nrd".into()),
            database: Some("warehouse".into()),
            ..Login::default()
        }
    }

    fn refusal(change: impl FnOnce(&mut Login)) -> String {
        let mut l = login();
        change(&mut l);
        check_login(&l).expect_err("refused")
    }

    #[test]
    fn a_login_whose_values_could_run_a_program_or_add_an_option_is_refused() {
        assert_eq!(check_login(&login()), Ok(()), "a password may hold anything but NUL");
        let cases = [
            (refusal(|l| l.host = Some("-oProxyCommand=sh".into())), "starts with `-`"),
            (refusal(|l| l.host = Some("db;touch x".into())), "not a host name"),
            (refusal(|l| l.user = Some("etl\nevil".into())), "control character"),
            (refusal(|l| l.database = Some("--help".into())), "starts with `-`"),
            (refusal(|l| l.port = Some(0)), "port 0"),
            (refusal(|l| l.password = Some("a\0b".into())), "password holds a NUL"),
            (refusal(|l| l.ca_certificate = Some("not pem".into())), "not PEM"),
        ];
        for (got, says) in cases {
            assert!(got.contains(says), "{got} should say {says}");
        }
    }

    #[test]
    fn each_kind_names_what_it_lacks_and_what_it_does_not_use() {
        assert!(check_kind(LauncherKind::AwsCli, None, false).unwrap_err().contains("AWS credentials"));
        assert!(check_kind(LauncherKind::Psql, None, false).unwrap_err().contains("needs a login"));
        let no_host = Login { host: None, ..login() };
        let error = check_kind(LauncherKind::Psql, Some(&no_host), false).unwrap_err();
        assert_eq!(error, "launcher `psql`: needs the login's host, and there is none");
        let file = Login { database: Some("/data/x.db".into()), ..Login::default() };
        assert_eq!(check_kind(LauncherKind::Sqlite3, Some(&file), false), Ok(()));
        assert_eq!(check_kind(LauncherKind::Generic, None, false), Ok(()));
        let error = check_kind(LauncherKind::Sqlite3, Some(&login()), false).unwrap_err();
        assert!(error.contains("does not use the login's host: leave it empty"), "{error}");
        let error = check_kind(LauncherKind::Generic, Some(&file), false).unwrap_err();
        assert!(error.contains("`generic`: does not use the login's database"), "{error}");
        let key = Login { private_key: Some("k".into()), host: Some("h".into()), ..Login::default() };
        let error = check_kind(LauncherKind::Ssh, Some(&key), false).unwrap_err();
        assert!(error.contains("does not use the login's host"), "the job names the destination: {error}");
    }

    #[test]
    fn a_stand_in_that_cannot_clear_the_jobs_client_settings_stops_rather_than_run_with_them() {
        let folder = tempfile::tempdir().unwrap();
        let mut script = Script::new("psql", "pg");
        script.unset_all(&["PG"], &[]).exec("true", &[]);
        let path = script.write(folder.path(), "psql").unwrap();
        let empty = tempfile::tempdir().unwrap();
        let out = testing::output(std::process::Command::new("/bin/sh").arg(&path).env("PATH", empty.path()));
        assert_eq!(out.status.code(), Some(127), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("needs env and sed"), "{out:?}");
    }

    #[test]
    fn a_tls_mode_a_kind_does_not_know_is_refused_listing_those_it_does() {
        let odd = Login { ssl_mode: Some("sometimes".into()), ..login() };
        let error = check_kind(LauncherKind::Psql, Some(&odd), false).unwrap_err();
        assert!(error.contains("`sometimes` is not one of disable, allow, prefer"), "{error}");
    }
}
