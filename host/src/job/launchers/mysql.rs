//! `mysql`: lava's stand-in for the MySQL family (`mysql`, `mariadb`,
//! `mysql-rds`, `mysql-aurora`, `mariadb-rds`). The user and password go in
//! a private defaults file, the server on the command line, and the TLS
//! arguments follow the client's flavour, which the script asks the client
//! (`mysql --version`) each time it runs, as lava asked once per worker:
//! MySQL's and MariaDB's clients spell TLS differently. Where lava's
//! stand-in is wrong the host is not: the defaults file's values are quoted
//! and escaped (lava wrote them raw, so a `#` ended a password and a line
//! break added an option), no line of it is longer than the clients read
//! as one, MariaDB's `verify-ca` verifies the server (lava's fell back to
//! `require` without a CA), the connection is TCP to the login's host and
//! port (`localhost` is a socket otherwise), and the job's own client
//! settings (`MYSQL_PWD`, `MYSQL_UNIX_PORT`, the cleartext switch, MySQL's
//! login-path file, …) are cleared first.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::{ENCRYPTED, Script, iam_token_needs_tls, is_iam_token, path_text, ssl_mode};
use crate::folders::write_private;
use crate::results::Login;

/// The TLS modes, in libpq's words as lava's specs use them.
const SSL_MODES: &[&str] = &["disable", "prefer", "require", "verify-ca", "verify-full"];

/// MariaDB's option-file reader takes at most 4095 bytes of a line and
/// reads the rest as a line of its own (any option): a longer line is
/// refused, with room to spare.
const MAX_LINE: usize = 4000;

/// The client settings of the job's that only shape its own session.
const KEPT_VARIABLES: &[&str] = &["MYSQL_HISTFILE", "MYSQL_HISTIGNORE", "MYSQL_PS1"];

/// The kind's own rules beside its shape.
pub(super) fn check(login: &Login) -> Result<(), String> {
    let mode = ssl_mode(login, SSL_MODES)?;
    let encrypted = mode.is_some_and(|m| ENCRYPTED.contains(&m));
    iam_token_needs_tls(login, mode)?;
    for line in defaults_file(login).lines() {
        if line.len() >= MAX_LINE {
            let field = line.split('=').next().unwrap_or_default();
            return Err(format!(
                "the {field} is {} bytes as the MySQL defaults file holds it; a line there may hold fewer than {MAX_LINE}",
                line.len()
            ));
        }
    }
    if login.ca_certificate.is_some() && !encrypted {
        return Err(format!(
            "a CA certificate is used only with TLS: set the ssl mode to one of {}, or leave the CA out",
            ENCRYPTED.join(", ")
        ));
    }
    Ok(())
}

/// Write the stand-in into `folder`; returns the script `mysql`.
pub(super) fn write(folder: &Path, conn_id: &str, login: &Login) -> std::io::Result<PathBuf> {
    let defaults = folder.join(".mysql.conf");
    write_private(&defaults, defaults_file(login).as_bytes(), 0o600)?;
    let ca = match &login.ca_certificate {
        Some(ca) => {
            let path = folder.join("ca.pem");
            write_private(&path, ca.as_bytes(), 0o400)?;
            Some(path_text(&path))
        }
        None => None,
    };
    let mode = login.ssl_mode.as_deref();
    let (mysql, mariadb) = (mysql_tls(mode, ca.as_deref(), is_iam_token(login)), mariadb_tls(mode, ca.as_deref()));
    let mut args = vec![
        format!("--defaults-file={}", path_text(&defaults)),
        "--batch".into(),
        "--connect-timeout=10".into(),
        "--protocol=TCP".into(),
    ];
    for (name, value) in
        [("host", &login.host), ("port", &login.port.map(|p| p.to_string())), ("database", &login.database)]
    {
        if let Some(value) = value {
            args.push(format!("--{name}={value}"));
        }
    }
    let set = |tls: &[String]| Script::words("set --", tls) + " \"$@\" ;;";
    Script::new("mysql", conn_id)
        .unset_all(&["MYSQL_", "MARIADB_", "LIBMYSQL_"], KEPT_VARIABLES)
        // MySQL's client reads `~/.mylogin.cnf` even with `--defaults-file`, after it.
        .export("MYSQL_TEST_LOGIN_FILE", "/dev/null")
        .line("case \"$(mysql --version 2>/dev/null)\" in")
        .line(&format!("*[Mm][Aa][Rr][Ii][Aa][Dd][Bb]*) {}", set(&mariadb)))
        .line(&format!("*) {}", set(&mysql)))
        .line("esac")
        .exec("mysql", &args)
        .write(folder, "mysql")
}

/// The MySQL (Oracle) client's TLS arguments.
fn mysql_tls(mode: Option<&str>, ca: Option<&str>, iam: bool) -> Vec<String> {
    let Some(mode) = mode else { return Vec::new() };
    let named = match mode {
        "disable" => "DISABLED",
        "prefer" => "PREFERRED",
        "require" => "REQUIRED",
        "verify-ca" => "VERIFY_CA",
        _ => "VERIFY_IDENTITY",
    };
    let mut args = vec![format!("--ssl-mode={named}")];
    args.extend(ca.map(|ca| format!("--ssl-ca={ca}")));
    if iam {
        args.push("--enable-cleartext-plugin".into());
    }
    args
}

/// The MariaDB client's TLS arguments. Its client cannot verify a CA
/// without the host name, so `verify-ca` verifies both: stricter than
/// asked, never weaker.
fn mariadb_tls(mode: Option<&str>, ca: Option<&str>) -> Vec<String> {
    match mode {
        None | Some("prefer") => Vec::new(),
        Some("disable") => vec!["--skip-ssl".into()],
        Some(mode) => {
            let mut args = vec![ca.map_or_else(|| "--ssl".into(), |ca| format!("--ssl-ca={ca}"))];
            if mode != "require" {
                args.push("--ssl-verify-server-cert".into());
            }
            args
        }
    }
}

/// `[client]` with the user and password, each double-quoted with the
/// escapes both clients' option-file readers undo (`\\`, `\"`, `\n`, `\r`,
/// `\t`, `\b`): a `#`, a quote or a line break is part of the value.
fn defaults_file(login: &Login) -> String {
    let mut out = String::from("[client]\n");
    if let Some(user) = &login.user {
        out.push_str(&format!("user={}\n", option_value(user)));
    }
    if let Some(password) = &login.password {
        out.push_str(&format!("password={}\n", option_value(password.expose_secret())));
    }
    out
}

fn option_value(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fakes, HOSTILE_PASSWORD, modes};
    use super::*;

    const MARIADB: &str = "mysql  Ver 15.1 Distrib 10.11.14-MariaDB, for debian-linux-gnu (x86_64)";
    const MYSQL: &str = "mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)";

    fn login(mode: Option<&str>, password: &str) -> Login {
        Login {
            host: Some("db.example.com".into()),
            port: Some(3306),
            user: Some("us\"er #1".into()),
            password: Some(password.to_string().into()),
            database: Some("my db".into()),
            ssl_mode: mode.map(str::to_string),
            ..Login::default()
        }
    }

    /// The arguments each flavour's client gets, after the defaults file.
    fn arguments(login: &Login, flavour: &str) -> Vec<String> {
        let fakes = Fakes::new(&["mysql"]);
        let script = write(&fakes.folder(), "my", login).unwrap();
        let stale =
            [("FAKE_VERSION", flavour), ("MYSQL_PWD", "stale"), ("MYSQL_UNIX_PORT", "/tmp/s"), ("MYSQL_PS1", "> ")];
        let seen = fakes.run(&script, &["-e", "select 1"], "", &stale);
        assert_eq!((seen.var("MYSQL_PWD"), seen.var("MYSQL_UNIX_PORT")), (None, None), "the job's settings are gone");
        assert_eq!(seen.var("MYSQL_PS1"), Some("> "), "but its prompt");
        assert_eq!(seen.var("MYSQL_TEST_LOGIN_FILE"), Some("/dev/null"));
        assert_eq!(seen.args[1], format!("--defaults-file={}", fakes.folder().join(".mysql.conf").display()));
        seen.args[2..].to_vec()
    }

    #[test]
    fn each_flavour_gets_lavas_arguments_and_its_own_tls_words() {
        let base = [
            "--batch",
            "--connect-timeout=10",
            "--protocol=TCP",
            "--host=db.example.com",
            "--port=3306",
            "--database=my db",
        ];
        let with = |tls: &[&str]| -> Vec<String> {
            base.iter().chain(tls).chain(&["-e", "select 1"]).map(|s| s.to_string()).collect()
        };
        let plain = login(None, "pw");
        assert_eq!(arguments(&plain, MYSQL), with(&[]));
        assert_eq!(arguments(&plain, MARIADB), with(&[]));
        let full = login(Some("verify-full"), "pw");
        assert_eq!(arguments(&full, MYSQL), with(&["--ssl-mode=VERIFY_IDENTITY"]));
        assert_eq!(arguments(&full, MARIADB), with(&["--ssl", "--ssl-verify-server-cert"]));
        let iam = login(Some("require"), "db:3306/?Action=connect&DBUser=u&X-Amz-Credential=abc");
        assert_eq!(arguments(&iam, MYSQL), with(&["--ssl-mode=REQUIRED", "--enable-cleartext-plugin"]));
        assert_eq!(arguments(&iam, MARIADB), with(&["--ssl"]));
    }

    #[test]
    fn a_password_longer_than_a_defaults_file_line_is_refused_rather_than_read_as_options() {
        let long = login(None, &format!("{}local-infile=1 #", "A".repeat(4084)));
        let error = check(&long).unwrap_err();
        assert!(error.contains("the password is 4111 bytes"), "{error}");
        assert_eq!(check(&login(Some("require"), &"t".repeat(1500))), Ok(()), "an IAM token's length is fine");
    }

    #[test]
    fn an_iam_token_or_a_ca_without_tls_is_refused_naming_the_modes() {
        let iam = login(None, "x&X-Amz-Credential=abc");
        assert!(check(&iam).unwrap_err().contains("clear text without TLS"));
        let ca = Login { ca_certificate: Some("-----BEGIN CERTIFICATE-----".into()), ..login(Some("prefer"), "p") };
        assert!(check(&ca).unwrap_err().contains("CA certificate is used only with TLS"));
        assert!(check(&Login { ssl_mode: Some("verify-ca".into()), ..ca }).is_ok());
    }

    #[test]
    fn the_defaults_file_holds_any_password_as_mariadbs_own_reader_reads_it() {
        let fakes = Fakes::new(&["mysql"]);
        let password = format!("{HOSTILE_PASSWORD}\ttab\r\u{8}");
        let script = write(&fakes.folder(), "my", &login(None, &password)).unwrap();
        fakes.run(&script, &[], "", &[]);
        let defaults = fakes.folder().join(".mysql.conf");
        assert_eq!(modes(&fakes.folder()), [(".mysql.conf".into(), 0o600), ("mysql".into(), 0o700)].into());
        // MariaDB's own option-file reader, where the machine has it (CI installs it).
        let Ok(out) = std::process::Command::new("my_print_defaults")
            .arg(format!("--defaults-file={}", defaults.display()))
            .arg("client")
            .output()
        else {
            assert!(std::env::var_os("LAVA_CONN_REQUIRE_CLIENTS").is_none(), "my_print_defaults is not installed");
            return;
        };
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let printed = String::from_utf8(out.stdout).unwrap();
        assert_eq!(printed, format!("--user=us\"er #1\n--password={password}\n"));
    }
}
