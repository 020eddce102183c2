//! `psql`: lava's stand-in for the Postgres family (`psql`, `postgres`,
//! `postgres-rds`, `postgres-aurora`, `redshift`, `redshift-serverless`).
//! libpq's variables name the server, and a `.pgpass` the password, so that
//! nothing secret is in the script or on a command line. Where lava's
//! stand-in is wrong the host is not: every `.pgpass` field is escaped (lava
//! escaped only `:` in two of them), a password a `.pgpass` cannot hold is
//! read from a private file when the script runs (lava wrote it into the
//! script), the application name fallback is exported (lava's never
//! reached `psql`), and the job's own libpq settings that would redirect or
//! weaken the connection are cleared first.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::{Script, iam_token_needs_tls, path_text, ssl_mode};
use crate::folders::write_private;
use crate::results::Login;

/// libpq's `sslmode` values.
const SSL_MODES: &[&str] = &["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

/// lava's limit for a `.pgpass` password ("psql truncates long passwords").
const PGPASS_MAX_PASSWORD: usize = 99;

/// libpq before 13 read `.pgpass` lines into a 320-byte buffer and took
/// the rest of a longer line as another entry: a line this long or longer
/// is not written, and its password (an RDS IAM token is about 1 KB) goes
/// through `PGPASSWORD`.
const PGPASS_MAX_LINE: usize = 320;

/// The job's libpq variables that shape its session, not where or as whom
/// it connects: every other `PG*` variable (a host address, a port, a
/// service file, a password, TLS and Kerberos settings, …) is cleared
/// before the stand-in sets its own.
const KEPT_VARIABLES: &[&str] =
    &["PGAPPNAME", "PGCLIENTENCODING", "PGDATESTYLE", "PGTZ", "PGOPTIONS", "PGCONNECT_TIMEOUT"];

/// lava's `psql` arguments.
const PSQL_ARGS: &[&str] =
    &["--no-psqlrc", "--quiet", "--no-password", "--set", "ON_ERROR_STOP=on", "--pset", "footer=off"];

/// The kind's own rules beside its shape.
pub(super) fn check(login: &Login) -> Result<(), String> {
    let mode = ssl_mode(login, SSL_MODES)?;
    iam_token_needs_tls(login, mode)
}

/// Write the stand-in into `folder`; returns the script `psql`.
pub(super) fn write(folder: &Path, conn_id: &str, login: &Login) -> std::io::Result<PathBuf> {
    let mut script = Script::new("psql", conn_id);
    script.unset_all(&["PG"], KEPT_VARIABLES);
    let port = login.port.map(|p| p.to_string());
    for (name, value) in
        [("PGUSER", &login.user), ("PGHOST", &login.host), ("PGPORT", &port), ("PGDATABASE", &login.database)]
    {
        if let Some(value) = value {
            script.export(name, value);
        }
    }
    script.export("PGSSLMODE", login.ssl_mode.as_deref().unwrap_or("prefer"));
    if let Some(ca) = &login.ca_certificate {
        let path = folder.join("ca.pem");
        write_private(&path, ca.as_bytes(), 0o400)?;
        script.export("PGSSLROOTCERT", &path_text(&path));
    }
    if let Some(password) = &login.password {
        let password = password.expose_secret();
        let line = pgpass_line(login, password);
        if fits_pgpass(password, &line) {
            let path = folder.join(".pgpass");
            write_private(&path, line.as_bytes(), 0o600)?;
            script.export("PGPASSFILE", &path_text(&path));
        } else {
            let path = folder.join(".password");
            write_private(&path, password.as_bytes(), 0o600)?;
            // `$(…)` drops trailing line breaks: the `x` keeps them.
            let quoted = super::quote_word(&path_text(&path));
            script.line(&format!("PGPASSWORD=$(cat {quoted} && printf x) || exit 1"));
            script.line("PGPASSWORD=${PGPASSWORD%x}; export PGPASSWORD");
        }
    }
    if let Some(name) = &login.application_name {
        // The job's own name wins, as in lava's sqlc jobs.
        let quoted = super::quote_word(name);
        script.line(&format!("if [ -z \"${{PGAPPNAME:-}}\" ]; then PGAPPNAME={quoted}; export PGAPPNAME; fi"));
    }
    let args: Vec<String> = PSQL_ARGS.iter().map(|a| a.to_string()).collect();
    script.exec("psql", &args).write(folder, "psql")
}

/// Whether `.pgpass` can hold `password` in `line`: one line, within
/// lava's limit and old libpq's.
fn fits_pgpass(password: &str, line: &str) -> bool {
    password.len() < PGPASS_MAX_PASSWORD && !password.contains(['\n', '\r']) && line.len() < PGPASS_MAX_LINE
}

/// `host:port:database:user:password`, each field with `\`, `:` and `*`
/// escaped as libpq reads them (a field of `*` alone would match any); a
/// missing port matches any.
fn pgpass_line(login: &Login, password: &str) -> String {
    let escape = |field: &str| field.replace('\\', "\\\\").replace(':', "\\:").replace('*', "\\*");
    let field = |value: &Option<String>| value.as_deref().map(escape).unwrap_or_else(|| "*".into());
    let port = login.port.map(|p| p.to_string()).unwrap_or_else(|| "*".into());
    format!("{}:{port}:{}:{}:{}\n", field(&login.host), field(&login.database), field(&login.user), escape(password))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fakes, HOSTILE_PASSWORD, modes};
    use super::*;

    /// A login whose names hold `.pgpass`'s separators, with `password`.
    pub(super) fn login(password: &str) -> Login {
        Login {
            host: Some("db.example.com".into()),
            port: Some(5432),
            user: Some("us:er\\x".into()),
            password: Some(password.to_string().into()),
            database: Some("ware:house".into()),
            application_name: Some("lv-prod-job's 1".into()),
            ..Login::default()
        }
    }

    #[test]
    fn an_rds_token_goes_only_to_a_server_that_started_tls_as_for_mysql() {
        let token = "db.example.com:5432/?Action=connect&DBUser=etl&X-Amz-Credential=abc";
        for mode in [None, Some("disable"), Some("allow"), Some("prefer")] {
            let iam = Login { ssl_mode: mode.map(str::to_string), ..login(token) };
            assert!(check(&iam).unwrap_err().contains("clear text without TLS"), "{mode:?}");
        }
        assert!(check(&Login { ssl_mode: Some("require".into()), ..login(token) }).is_ok());
        assert!(check(&login("an ordinary password")).is_ok(), "libpq's default `prefer` for a password");
    }

    #[test]
    fn pgpass_escapes_backslash_and_colon_in_every_field() {
        assert_eq!(
            pgpass_line(&login("p:a\\ss#\"'"), "p:a\\ss#\"'"),
            "db.example.com:5432:ware\\:house:us\\:er\\\\x:p\\:a\\\\ss#\"'\n"
        );
        let ipv6 = Login { host: Some("::1".into()), port: None, ..login("pw") };
        assert_eq!(pgpass_line(&ipv6, "pw"), "\\:\\:1:*:ware\\:house:us\\:er\\\\x:pw\n");
        let any = Login { user: Some("*".into()), database: Some("*".into()), ..login("*") };
        assert_eq!(pgpass_line(&any, "*"), "db.example.com:5432:\\*:\\*:\\*\n", "a `*` is never a wildcard");
    }

    #[test]
    fn psql_gets_libpq_variables_a_private_pgpass_and_lavas_arguments() {
        let fakes = Fakes::new(&["psql"]);
        let password = "p:a\\s#s\"w'o $(touch pwned)";
        let script = write(&fakes.folder(), "pg\nrm -rf ~", &login(password)).unwrap();
        let stale = [
            ("PGPASSWORD", "stale"),
            ("PGHOSTADDR", "10.9.9.9"),
            ("PGSSLROOTCERT", "/tmp/theirs"),
            ("PGOPTIONS", "-c x=1"),
        ];
        let seen = fakes.run(&script, &["-c", "select 1"], "", &stale);
        assert_eq!(
            seen.args[1..],
            [
                "--no-psqlrc",
                "--quiet",
                "--no-password",
                "--set",
                "ON_ERROR_STOP=on",
                "--pset",
                "footer=off",
                "-c",
                "select 1"
            ]
        );
        assert_eq!(seen.var("PGUSER"), Some("us:er\\x"));
        assert_eq!(seen.var("PGHOST"), Some("db.example.com"));
        assert_eq!(seen.var("PGPORT"), Some("5432"));
        assert_eq!(seen.var("PGDATABASE"), Some("ware:house"));
        assert_eq!(seen.var("PGSSLMODE"), Some("prefer"), "lava's default");
        assert_eq!(seen.var("PGAPPNAME"), Some("lv-prod-job's 1"), "exported, unlike lava's fallback");
        let gone = (seen.var("PGPASSWORD"), seen.var("PGHOSTADDR"), seen.var("PGSSLROOTCERT"));
        assert_eq!(gone, (None, None, None), "the job's settings of where and how to connect are gone");
        assert_eq!(seen.var("PGOPTIONS"), Some("-c x=1"), "its session's own settings stay");
        let pgpass = seen.var("PGPASSFILE").expect("a .pgpass");
        assert_eq!(
            std::fs::read_to_string(pgpass).unwrap(),
            "db.example.com:5432:ware\\:house:us\\:er\\\\x:p\\:a\\\\s#s\"w'o $(touch pwned)\n"
        );
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(!text.contains("w'o"), "the password is not in the script: {text}");
        assert_eq!(modes(&fakes.folder()), [(".pgpass".into(), 0o600), ("psql".into(), 0o700)].into());
    }

    #[test]
    fn a_password_pgpass_cannot_hold_reaches_psql_whole_through_its_environment_from_a_private_file() {
        let fakes = Fakes::new(&["psql"]);
        let long = format!("{HOSTILE_PASSWORD}{}\n\n", "x".repeat(120));
        let script = write(&fakes.folder(), "pg", &login(&long)).unwrap();
        let seen = fakes.run(&script, &[], "", &[("PGAPPNAME", "the job's own")]);
        assert_eq!(seen.var("PGPASSWORD"), Some(long.as_str()), "every byte, trailing line breaks too");
        assert_eq!(seen.var("PGPASSFILE"), None);
        assert_eq!(seen.var("PGAPPNAME"), Some("the job's own"));
        assert!(!std::fs::read_to_string(&script).unwrap().contains("xxxx"), "not in the script");
        assert_eq!(modes(&fakes.folder())[".password"], 0o600);
    }

    #[test]
    fn a_line_old_libpq_would_split_is_never_written_and_its_password_still_arrives() {
        let fakes = Fakes::new(&["psql"]);
        let long = Login { database: Some("d".repeat(300)), ..login("pw") };
        let script = write(&fakes.folder(), "pg", &long).unwrap();
        let seen = fakes.run(&script, &[], "", &[]);
        assert_eq!((seen.var("PGPASSWORD"), seen.var("PGPASSFILE")), (Some("pw"), None));
        assert!(!fakes.folder().join(".pgpass").exists());
    }

    #[test]
    fn a_ca_is_a_read_only_file_and_the_tls_mode_is_libpqs() {
        let fakes = Fakes::new(&["psql"]);
        let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let with_ca = Login {
            ca_certificate: Some(ca.into()),
            ssl_mode: Some("verify-full".into()),
            password: None,
            ..login("")
        };
        assert_eq!(check(&with_ca), Ok(()));
        let script = write(&fakes.folder(), "pg", &with_ca).unwrap();
        let seen = fakes.run(&script, &[], "", &[]);
        assert_eq!(seen.var("PGSSLMODE"), Some("verify-full"));
        assert_eq!(std::fs::read_to_string(seen.var("PGSSLROOTCERT").unwrap()).unwrap(), ca);
        assert_eq!(modes(&fakes.folder())["ca.pem"], 0o400);
        assert!(check(&Login { ssl_mode: Some("REQUIRED".into()), ..with_ca }).is_err());
    }
}

/// The real `psql` against a Postgres server on loopback that asks for a
/// clear-text password, records what the client sent, and refuses: what
/// libpq made of the stand-in's variables and `.pgpass`, byte for byte.
#[cfg(test)]
mod real_psql {
    use std::collections::BTreeMap;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::super::testing::{Fakes, HOSTILE_PASSWORD, output};
    use super::*;

    /// What the client sent: its startup parameters and its password.
    type Seen = (BTreeMap<String, String>, String);

    fn read_message(stream: &mut impl Read, typed: bool) -> std::io::Result<Vec<u8>> {
        if typed {
            stream.read_exact(&mut [0u8; 1])?;
        }
        let mut len = [0u8; 4];
        stream.read_exact(&mut len)?;
        let mut body = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
        stream.read_exact(&mut body)?;
        Ok(body)
    }

    /// Serve one connection on `listener`.
    fn serve(listener: TcpListener) -> std::io::Result<Seen> {
        const SSL_REQUEST: u32 = 80_877_103;
        const GSSENC_REQUEST: u32 = 80_877_104;
        let (mut stream, _) = listener.accept()?;
        let startup = loop {
            let body = read_message(&mut stream, false)?;
            let code = u32::from_be_bytes(body[..4].try_into().unwrap());
            if code == SSL_REQUEST || code == GSSENC_REQUEST {
                stream.write_all(b"N")?;
                continue;
            }
            break body;
        };
        let words: Vec<String> =
            startup[4..].split(|b| *b == 0).map(|w| String::from_utf8_lossy(w).into_owned()).collect();
        let params = words
            .chunks(2)
            .filter(|p| p.len() == 2 && !p[0].is_empty())
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        // AuthenticationCleartextPassword, then the client's PasswordMessage.
        stream.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3])?;
        let password = read_message(&mut stream, true)?;
        let password = String::from_utf8_lossy(password.strip_suffix(&[0]).unwrap_or(&password)).into_owned();
        let error = b"SFATAL\0C28P01\0Mrecorded by the test\0\0";
        stream.write_all(b"E")?;
        stream.write_all(&(error.len() as u32 + 4).to_be_bytes())?;
        stream.write_all(error)?;
        Ok((params, password))
    }

    /// Run the real psql through a stand-in for `login` (its port set to
    /// the server's); `None` when this machine has no psql.
    fn psql_sends(login: Login) -> Option<Seen> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || serve(listener));
        let fakes = Fakes::new(&[]);
        let login = Login { host: Some("127.0.0.1".into()), port: Some(port), ..login };
        let script = write(&fakes.folder(), "pg", &login).unwrap();
        let out = output(std::process::Command::new(&script).args(["-c", "select 1"]).env("HOME", fakes.folder()));
        fakes.assert_nothing_ran();
        if String::from_utf8_lossy(&out.stderr).contains("not found") {
            assert!(std::env::var_os("LAVA_CONN_REQUIRE_CLIENTS").is_none(), "psql did not run: {out:?}");
            return None;
        }
        // A psql that never connected leaves the server waiting: this
        // connection, closed at once, ends its wait in an error.
        drop(std::net::TcpStream::connect(("127.0.0.1", port)));
        Some(server.join().unwrap().unwrap_or_else(|e| panic!("psql did not connect ({e}): {out:?}")))
    }

    /// The tests' login, its host and port left to [`psql_sends`].
    fn login(password: &str) -> Login {
        Login { host: None, port: None, ..super::tests::login(password) }
    }

    #[test]
    fn the_real_psql_sends_the_pgpass_password_and_the_logins_names() {
        let password = "p:a\\s#s\"w'o $(touch pwned) ;x";
        let Some((params, sent)) = psql_sends(login(password)) else { return };
        assert_eq!(sent, password);
        assert_eq!(params.get("user").map(String::as_str), Some("us:er\\x"));
        assert_eq!(params.get("database").map(String::as_str), Some("ware:house"));
        assert_eq!(params.get("application_name").map(String::as_str), Some("lv-prod-job's 1"));
    }

    #[test]
    fn the_real_psql_sends_a_password_pgpass_cannot_hold_whole() {
        let long = format!("{HOSTILE_PASSWORD}{}", "y".repeat(150));
        let Some((_, sent)) = psql_sends(login(&long)) else { return };
        assert_eq!(sent, long);
    }
}
