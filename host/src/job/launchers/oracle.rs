//! `sqlplus`: lava's stand-in for `oracle` and `oracle-rds`. lava put
//! `'user/password@dsn'` on sqlplus's command line, where `ps` shows it to
//! every local user, and let a quote in the password end the shell's
//! quoting. Here the command line holds `user@dsn` only; sqlplus, given no
//! password, reads it as the first line of its standard input, which the
//! script feeds from a private file before the job's own input.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::{Script, path_text, quote_word, ssl_mode};
use crate::folders::write_private;
use crate::results::Login;
use crate::sanitizer::sanitize;

/// lava's thick-mode rules: `require` cannot be had without a wallet, and a
/// CA needs one too (so the kind takes no CA).
const SSL_MODES: &[&str] = &["disable", "verify-ca", "verify-full"];

/// Oracle's listener port when the login names none.
const DEFAULT_PORT: u16 = 1521;

/// The kind's own rules beside its shape. The user and service become
/// connect-descriptor text, so they hold only the characters Oracle's
/// unquoted names do; a password is typed at sqlplus's prompt, which ends
/// at a line break and strips double quotes.
pub(super) fn check(login: &Login) -> Result<(), String> {
    ssl_mode(login, SSL_MODES)?;
    let name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '#' | '.');
    if let Some(user) = login.user.as_deref().filter(|u| !u.chars().all(name)) {
        return Err(format!("user `{}` is not an Oracle name (letters, digits, `_`, `$`, `#`, `.`)", sanitize(user)));
    }
    if let Some(service) = login.database.as_deref().filter(|d| !d.chars().all(|c| name(c) || c == '-')) {
        return Err(format!(
            "database (the service name) `{}` holds a character a connect descriptor would read",
            sanitize(service)
        ));
    }
    if login.password.as_ref().is_some_and(|p| p.expose_secret().contains(['\n', '\r', '"'])) {
        return Err("the password holds a line break or a double quote, which sqlplus cannot take at its prompt".into());
    }
    Ok(())
}

/// The connect descriptor lava's `oracledb` wrote: TCP or TLS, the service
/// when there is one, and the server's name checked for `verify-full`.
fn descriptor(login: &Login) -> String {
    let tls = matches!(login.ssl_mode.as_deref(), Some("verify-ca" | "verify-full"));
    let mut dsn = format!(
        "(DESCRIPTION=(ADDRESS=(PROTOCOL={})(HOST={})(PORT={}))",
        if tls { "tcps" } else { "tcp" },
        login.host.as_deref().unwrap_or_default(),
        login.port.unwrap_or(DEFAULT_PORT)
    );
    if let Some(service) = &login.database {
        dsn.push_str(&format!("(CONNECT_DATA=(SERVICE_NAME={service}))"));
    }
    if login.ssl_mode.as_deref() == Some("verify-full") {
        dsn.push_str("(SECURITY=(SSL_SERVER_DN_MATCH=ON))");
    }
    dsn.push(')');
    dsn
}

/// Write the stand-in into `folder`; returns the script `sqlplus`.
pub(super) fn write(folder: &Path, conn_id: &str, login: &Login) -> std::io::Result<PathBuf> {
    let secret = folder.join(".sqlplus-password");
    let password = login.password.as_ref().map(|p| p.expose_secret().to_string()).unwrap_or_default();
    write_private(&secret, format!("{password}\n").as_bytes(), 0o600)?;
    let logon = format!("{}@{}", login.user.as_deref().unwrap_or_default(), descriptor(login));
    let command = Script::words("sqlplus", &["-NOLOGINTIME".into(), "-L".into(), "-S".into(), logon]);
    Script::new("sqlplus", conn_id)
        .line(&format!("{{ cat {} && cat; }} | {command} \"$@\"", quote_word(&path_text(&secret))))
        .write(folder, "sqlplus")
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fakes, modes};
    use super::*;

    fn login() -> Login {
        Login {
            host: Some("ora.example.com".into()),
            user: Some("scott".into()),
            password: Some("ti'g$(touch pwned)er#:\\".into()),
            database: Some("svc".into()),
            ..Login::default()
        }
    }

    #[test]
    fn the_password_is_never_on_the_command_line_and_reaches_sqlplus_first_on_its_input() {
        let fakes = Fakes::new(&["sqlplus"]);
        let script = write(&fakes.folder(), "ora", &login()).unwrap();
        let seen = fakes.run(&script, &["@job.sql"], "select 1 from dual;\n", &[]);
        assert_eq!(
            seen.args[1..],
            [
                "-NOLOGINTIME",
                "-L",
                "-S",
                "scott@(DESCRIPTION=(ADDRESS=(PROTOCOL=tcp)(HOST=ora.example.com)(PORT=1521))(CONNECT_DATA=(SERVICE_NAME=svc)))",
                "@job.sql"
            ]
        );
        assert_eq!(seen.stdin, "ti'g$(touch pwned)er#:\\\nselect 1 from dual;\n");
        assert!(!std::fs::read_to_string(&script).unwrap().contains("er#:"), "nor in the script");
        assert_eq!(modes(&fakes.folder())[".sqlplus-password"], 0o600);
    }

    #[test]
    fn tls_follows_lavas_thick_mode_rules() {
        let full = Login { ssl_mode: Some("verify-full".into()), port: Some(2484), ..login() };
        assert_eq!(
            descriptor(&full),
            "(DESCRIPTION=(ADDRESS=(PROTOCOL=tcps)(HOST=ora.example.com)(PORT=2484))(CONNECT_DATA=(SERVICE_NAME=svc))\
             (SECURITY=(SSL_SERVER_DN_MATCH=ON)))"
        );
        assert!(check(&Login { ssl_mode: Some("require".into()), ..login() }).unwrap_err().contains("not one of"));
    }

    #[test]
    fn names_that_would_change_the_descriptor_and_passwords_the_prompt_cannot_take_are_refused() {
        for bad in [
            Login { database: Some("svc)(HOST=evil".into()), ..login() },
            Login { user: Some("scott/tiger@evil".into()), ..login() },
            Login { password: Some("two\nlines".into()), ..login() },
            Login { password: Some("q\"uote".into()), ..login() },
        ] {
            assert!(check(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(check(&login()), Ok(()));
    }
}
