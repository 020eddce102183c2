//! The boundary: what a plugin returns, checked into the host's own types.
//! Nothing a plugin hands over reaches a job, a terminal or a log unless it
//! passed here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::latest::lava::connector::types as wit;
use crate::capabilities::{Grants, is_region};
use crate::job::launchers;
use crate::results::{AwsCredentials, LauncherKind, Login, NamedValue, Problem, Resolved, Severity};
use crate::sanitizer::{is_env_name, sanitize};

/// A plugin's problem, sanitised.
pub(crate) fn problem(p: wit::Problem) -> Problem {
    Problem {
        field: sanitize(&p.field),
        message: sanitize(&p.message),
        severity: match p.severity {
            wit::Severity::Error => Severity::Error,
            wit::Severity::Warning => Severity::Warning,
        },
    }
}

/// Latest expiration accepted: the end of year 9999, the last instant that
/// RFC 3339 and every AWS tool can write.
const MAX_EPOCH_SECONDS: u64 = 253_402_300_799;

/// A plugin's expiration as a time, or why it is not one.
fn epoch_seconds(what: &str, seconds: u64) -> Result<SystemTime, String> {
    if seconds > MAX_EPOCH_SECONDS {
        return Err(format!("{what} {seconds} is past the year 9999"));
    }
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds)).ok_or_else(|| format!("{what} {seconds} is out of range"))
}

/// Text that goes into a file a tool reads line by line: no NUL, no line break.
fn check_line(what: &str, text: &str) -> Result<(), String> {
    if text.contains(['\0', '\n', '\r']) {
        return Err(format!("{what} contains a NUL or line break"));
    }
    Ok(())
}

/// Credentials from a plugin, checked: they go into a config file the AWS
/// CLI reads, so nothing in them may start a new line or name a region or
/// endpoint the worker did not allow.
pub(crate) fn credentials(c: wit::AwsCredentials, grants: &Grants) -> Result<AwsCredentials, String> {
    let id_ok =
        (1..=128).contains(&c.access_key_id.len()) && c.access_key_id.chars().all(|c| c.is_ascii_alphanumeric());
    if !id_ok {
        return Err("AWS access key id is not 1 to 128 letters and digits".into());
    }
    if c.secret_access_key.is_empty() {
        return Err("AWS secret access key is empty".into());
    }
    for (what, text) in [("secret access key", Some(&c.secret_access_key)), ("session token", c.session_token.as_ref())]
    {
        if let Some(text) = text {
            check_line(what, text)?;
        }
    }
    if let Some(region) = c.region.as_deref().filter(|r| !is_region(r)) {
        return Err(format!("region `{}` is not an AWS region name (such as `eu-west-1`)", sanitize(region)));
    }
    if let Some(url) = &c.endpoint_url {
        check_line("endpoint URL", url)?;
        if let Some(refusal) = grants.endpoint_refusal(url) {
            return Err(refusal);
        }
    }
    Ok(AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key.into(),
        session_token: c.session_token.map(Into::into),
        expiration: c.expiration.map(|s| epoch_seconds("AWS credential expiration", s)).transpose()?,
        region: c.region,
        endpoint_url: c.endpoint_url,
    })
}

/// A plugin's result, checked at the boundary: nothing in it reaches a
/// job or a terminal unless it passed here.
pub(crate) fn resolved(r: wit::Resolved, grants: &Grants) -> Result<Resolved, String> {
    let mut values = Vec::with_capacity(r.values.len());
    // A set, not a scan: a plugin may hand over hundreds of thousands of values.
    let mut names = std::collections::HashSet::with_capacity(r.values.len());
    for v in r.values {
        if !is_env_name(&v.name) {
            return Err(format!("value name `{}` is not a variable-style name", sanitize(&v.name)));
        }
        // Each becomes one variable (or file) of a job: a second of the same
        // name would silently replace the first.
        if !names.insert(v.name.clone()) {
            return Err(format!("value name `{}` appears more than once", v.name));
        }
        // A value that is not secret goes into the job's environment, which
        // cannot hold a NUL (the job would not start); a secret one goes to a file.
        if !v.secret && v.value.contains('\0') {
            return Err(format!("value `{}` holds a NUL, which an environment variable cannot", v.name));
        }
        values.push(NamedValue { name: v.name, value: v.value.into(), secret: v.secret });
    }
    let aws = r.aws.map(|c| credentials(c, grants)).transpose()?;
    let login = r.login.map(|l| login(l, grants)).transpose()?;
    let launcher = r.launcher.map(launcher_kind);
    if let Some(kind) = launcher {
        launchers::check_kind(kind, login.as_ref(), aws.is_some())?;
    }
    Ok(Resolved {
        values,
        expiration: r.expiration.map(|s| epoch_seconds("expiration", s)).transpose()?,
        aws,
        launcher,
        login,
    })
}

fn launcher_kind(kind: wit::LauncherKind) -> LauncherKind {
    use wit::LauncherKind as W;
    match kind {
        W::AwsCli => LauncherKind::AwsCli,
        W::Psql => LauncherKind::Psql,
        W::Mysql => LauncherKind::Mysql,
        W::Ssh => LauncherKind::Ssh,
        W::Scp => LauncherKind::Scp,
        W::Sftp => LauncherKind::Sftp,
        W::Git => LauncherKind::Git,
        W::Sqlplus => LauncherKind::Sqlplus,
        W::Sqlite3 => LauncherKind::Sqlite3,
        W::Generic => LauncherKind::Generic,
    }
}

/// A plugin's login, checked: its values reach files and arguments.
fn login(l: wit::Login, grants: &Grants) -> Result<Login, String> {
    let login = Login {
        host: l.host,
        port: l.port,
        user: l.user,
        password: l.password.map(Into::into),
        database: l.database,
        ssl_mode: l.ssl_mode,
        ca_certificate: l.ca_certificate,
        application_name: l.application_name,
        private_key: l.private_key.map(Into::into),
        ssh_options: l.ssh_options,
    };
    launchers::check_login(&login)?;
    if let (Some(hosts), Some(host)) = (&grants.login_hosts, &login.host)
        && !hosts.covers_host(host)
    {
        let table = match &grants.policy {
            crate::capabilities::PolicySource::Table(t) => format!(" under `[policy.{}]`", sanitize(t)),
            _ => String::new(),
        };
        return Err(format!(
            "login host `{}` is not one the worker allows a login to name: allow it with `db_hosts`{table}",
            sanitize(host)
        ));
    }
    Ok(login)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wit_credentials() -> wit::AwsCredentials {
        wit::AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "s3cr3t-value".into(),
            session_token: Some("t0k3n-value".into()),
            expiration: Some(4_000_000_000),
            region: Some("eu-west-1".into()),
            endpoint_url: None,
        }
    }

    fn wit_resolved(aws: Option<wit::AwsCredentials>) -> wit::Resolved {
        wit::Resolved { values: vec![], expiration: None, aws, launcher: Some(wit::LauncherKind::AwsCli), login: None }
    }

    fn refusal(r: wit::Resolved) -> String {
        let grants = Grants { endpoints: vec!["https://allowed.example".into()], ..Grants::none() };
        super::resolved(r, &grants).expect_err("refused")
    }

    #[test]
    fn good_credentials_pass_and_keep_their_values() {
        let grants = Grants { endpoints: vec!["https://allowed.example".into()], ..Grants::none() };
        let mut c = wit_credentials();
        c.endpoint_url = Some("https://allowed.example/".into());
        let mut plugin_result = wit_resolved(Some(c));
        plugin_result.values = ["DB_PASSWORD", "_TOKEN", "x1"]
            .map(|name| wit::NamedValue { name: name.into(), value: "v".into(), secret: true })
            .to_vec();
        let r = super::resolved(plugin_result, &grants).unwrap();
        assert_eq!(r.values.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["DB_PASSWORD", "_TOKEN", "x1"]);
        let aws = r.aws.unwrap();
        assert_eq!(aws.expiration, Some(UNIX_EPOCH + Duration::from_secs(4_000_000_000)));
        assert_eq!(r.launcher, Some(LauncherKind::AwsCli));
        let debug = format!("{aws:?}");
        assert!(!debug.contains("s3cr3t-value") && !debug.contains("t0k3n-value"), "{debug}");
        assert!(debug.contains("[REDACTED]"), "{debug}");
    }

    /// One case per check, each failing that check alone.
    #[test]
    fn each_check_refuses_with_its_own_message() {
        let with = |f: fn(&mut wit::AwsCredentials)| {
            let mut c = wit_credentials();
            f(&mut c);
            refusal(wit_resolved(Some(c)))
        };
        let cases = [
            (with(|c| c.access_key_id = String::new()), "access key id is not 1 to 128 letters and digits"),
            (with(|c| c.access_key_id = "AKID-1".into()), "access key id is not 1 to 128 letters and digits"),
            (with(|c| c.access_key_id = "A".repeat(129)), "access key id is not 1 to 128 letters and digits"),
            (with(|c| c.secret_access_key = String::new()), "secret access key is empty"),
            (
                with(|c| c.secret_access_key = "s\ncredential_process = x".into()),
                "secret access key contains a NUL or line break",
            ),
            (with(|c| c.session_token = Some("t\r".into())), "session token contains a NUL or line break"),
            (with(|c| c.session_token = Some("t\0".into())), "session token contains a NUL or line break"),
            (with(|c| c.region = Some("eu-west-1\nx".into())), "is not an AWS region name"),
            (
                with(|c| c.endpoint_url = Some("https://allowed.example\n".into())),
                "endpoint URL contains a NUL or line break",
            ),
            (with(|c| c.endpoint_url = Some("https://evil.example".into())), "allowed_endpoints"),
            (
                with(|c| c.expiration = Some(u64::MAX)),
                "AWS credential expiration 18446744073709551615 is past the year 9999",
            ),
            (refusal(wit_resolved(None)), "launcher `aws-cli` needs AWS credentials"),
        ];
        for (got, want) in cases {
            assert!(got.contains(want), "{got:?} should say {want:?}");
        }
        let mut r = wit_resolved(None);
        r.launcher = None;
        r.expiration = Some(MAX_EPOCH_SECONDS + 1);
        assert!(refusal(r).contains("past the year 9999"));
        let mut r = wit_resolved(None);
        r.launcher = None;
        r.values = vec![wit::NamedValue { name: "1X".into(), value: "v".into(), secret: true }];
        assert!(refusal(r).contains("value name `1X` is not a variable-style name"));
        let value =
            |name: &str, value: &str, secret| wit::NamedValue { name: name.into(), value: value.into(), secret };
        let mut r = wit_resolved(None);
        r.launcher = None;
        r.values = vec![value("HOST", "a", false), value("HOST", "b", false)];
        assert!(refusal(r).contains("value name `HOST` appears more than once"));
        let mut r = wit_resolved(None);
        r.launcher = None;
        r.values = vec![value("HOST", "a\0b", false)];
        assert!(refusal(r).contains("value `HOST` holds a NUL"));
        let mut r = wit_resolved(None);
        r.launcher = None;
        r.values = vec![value("KEY", "binary\0secret", true)];
        assert!(resolved(r, &Grants::none()).is_ok(), "a secret one goes to a file: any bytes");
    }

    #[test]
    fn the_last_representable_second_is_accepted() {
        assert!(epoch_seconds("t", MAX_EPOCH_SECONDS).is_ok());
        assert!(epoch_seconds("t", MAX_EPOCH_SECONDS + 1).is_err());
    }
}
