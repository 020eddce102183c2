//! The launcher kinds beside `aws-cli`: what each needs of a login, and the
//! rules every login value meets before any file or script is written from
//! it. A plugin picks a kind and hands typed values; every byte the job
//! sees is host code.

use crate::text::sanitize;
use crate::types::{LauncherKind, Login};
use secrecy::ExposeSecret;

/// SSH options a login may set: none runs a program, reads or writes a
/// file, forwards anything or reaches another host. Everything else
/// (`ProxyCommand`, `LocalCommand`, `KnownHostsCommand`, `Match`,
/// `Include`, `IdentityFile`, `ProxyJump`, forwardings, …) is refused:
/// an allow-list, so that an option OpenSSH adds later is refused too.
pub const SAFE_SSH_OPTIONS: &[&str] = &[
    "addressfamily",
    "batchmode",
    "checkhostip",
    "ciphers",
    "compression",
    "connectionattempts",
    "connecttimeout",
    "hostkeyalgorithms",
    "identitiesonly",
    "kexalgorithms",
    "loglevel",
    "macs",
    "preferredauthentications",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "serveraliveinterval",
    "serveralivecountmax",
    "stricthostkeychecking",
    "tcpkeepalive",
    "updatehostkeys",
    "verifyhostkeydns",
];

/// What a CA bundle holds, as PEM writes it.
const PEM_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";

/// The one `UserKnownHostsFile` a login may name: lava's specs commonly
/// turn host key files off with it.
const NO_KNOWN_HOSTS: &str = "/dev/null";

/// Text that reaches a file line or an argument: no NUL or line break, and
/// not starting with `-`, which a client would read as an option.
fn check_word(what: &str, text: &str) -> Result<(), String> {
    if text.is_empty() || text.len() > 1024 {
        return Err(format!("login {what} is empty or longer than 1024 bytes"));
    }
    if text.chars().any(char::is_control) {
        return Err(format!("login {what} `{}` holds a control character or line break", sanitize(text)));
    }
    if text.starts_with('-') {
        return Err(format!(
            "login {what} `{}` starts with `-`, which a client would read as an option",
            sanitize(text)
        ));
    }
    Ok(())
}

/// A host name or address: letters, digits, `.`, `-`, `_` and `:` (IPv6).
fn check_host(host: &str) -> Result<(), String> {
    check_word("host", host)?;
    if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')) {
        return Err(format!("login host `{}` is not a host name or address", sanitize(host)));
    }
    Ok(())
}

/// An SSH option name and value a login may set.
fn check_ssh_option(name: &str, value: &str) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    let allowed =
        SAFE_SSH_OPTIONS.contains(&lower.as_str()) || (lower == "userknownhostsfile" && value == NO_KNOWN_HOSTS);
    if !allowed {
        return Err(format!(
            "SSH option `{}` is refused: only options that run no program, read no file and reach no other \
             host may be set ({}, and UserKnownHostsFile={NO_KNOWN_HOSTS})",
            sanitize(name),
            SAFE_SSH_OPTIONS.join(", ")
        ));
    }
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_graphic()) || value.contains(['%', '"', '\'', '\\']) {
        return Err(format!(
            "SSH option `{name}` value `{}` is not printable text without spaces, quotes, `\\` or `%`",
            sanitize(value)
        ));
    }
    Ok(())
}

/// A login's values, each checked for what it may reach: file lines,
/// arguments, a script. Secrets may hold anything but NUL; a password that
/// a kind's file cannot hold is refused by that kind's writer.
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
        check_ssh_option(name, value)?;
    }
    Ok(())
}

/// What a kind needs beside a checked login: `Err` names what is missing.
pub(crate) fn check_kind(kind: LauncherKind, login: Option<&Login>, has_aws: bool) -> Result<(), String> {
    let needs = |field: &str, present: bool| {
        if present {
            Ok(())
        } else {
            Err(format!("launcher `{}` needs the login's {field}, and there is none", kind.as_str()))
        }
    };
    match kind {
        LauncherKind::AwsCli => {
            if has_aws {
                Ok(())
            } else {
                Err("launcher `aws-cli` needs AWS credentials in the result, and there are none".into())
            }
        }
        LauncherKind::Generic => Ok(()),
        LauncherKind::Sqlite3 => needs("database", login.is_some_and(|l| l.database.is_some())),
        LauncherKind::Psql
        | LauncherKind::Mysql
        | LauncherKind::Ssh
        | LauncherKind::Scp
        | LauncherKind::Sftp
        | LauncherKind::Git
        | LauncherKind::Sqlplus => needs("host", login.is_some_and(|l| l.host.is_some())),
    }
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
    fn ssh_options_are_an_allow_list_of_options_that_run_nothing_and_read_nothing() {
        let with = |name: &str, value: &str| {
            let mut l = login();
            l.ssh_options = vec![(name.into(), value.into())];
            check_login(&l)
        };
        for (name, value) in [
            ("StrictHostKeyChecking", "no"),
            ("userknownhostsfile", "/dev/null"),
            ("ConnectTimeout", "10"),
            ("ServerAliveInterval", "30"),
        ] {
            assert_eq!(with(name, value), Ok(()), "{name}={value}");
        }
        for (name, value) in [
            ("ProxyCommand", "sh -c id"),
            ("proxycommand", "nc"),
            ("LocalCommand", "id"),
            ("PermitLocalCommand", "yes"),
            ("KnownHostsCommand", "/bin/id"),
            ("Match", "exec id"),
            ("Include", "/etc/passwd"),
            ("IdentityFile", "/root/.ssh/id_rsa"),
            ("ProxyJump", "evil"),
            ("UserKnownHostsFile", "/tmp/x"),
            ("ForwardAgent", "yes"),
            ("LocalForward", "1:h:2"),
            ("SendEnv", "*"),
        ] {
            let refused = with(name, value).expect_err(name);
            assert!(refused.contains("is refused"), "{refused}");
        }
        for value in ["a b", "%h", "x\"y", ""] {
            assert!(with("ConnectTimeout", value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn each_kind_names_what_it_lacks() {
        assert!(check_kind(LauncherKind::AwsCli, None, false).unwrap_err().contains("AWS credentials"));
        assert!(check_kind(LauncherKind::Psql, None, false).unwrap_err().contains("login's host"));
        let file = Login { database: Some("/data/x.db".into()), ..Login::default() };
        assert_eq!(check_kind(LauncherKind::Sqlite3, Some(&file), false), Ok(()));
        assert_eq!(check_kind(LauncherKind::Generic, None, false), Ok(()));
    }
}
