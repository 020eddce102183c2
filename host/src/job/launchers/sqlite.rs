//! `sqlite3`: lava's stand-in, `sqlite3 -init /dev/null -bail -batch "$@"
//! <file>`. lava also copied an `s3://` file down and back up (and, on
//! GNU systems, silently never back up: its `stat -f` is BSD's); this
//! launcher takes local files only and says so.

use std::path::{Path, PathBuf};

use super::{Script, quote_word};
use crate::results::Login;
use crate::sanitizer::sanitize;

/// The kind's own rules beside its shape.
pub(super) fn check(login: &Login) -> Result<(), String> {
    match login.database.as_deref() {
        Some(file) if file.contains("://") => Err(format!(
            "database `{}` is a URI: this launcher opens local files only (lava's S3 copy is not carried over)",
            sanitize(file)
        )),
        _ => Ok(()),
    }
}

/// Write the stand-in into `folder`; returns the script `sqlite3`.
pub(super) fn write(folder: &Path, conn_id: &str, login: &Login) -> std::io::Result<PathBuf> {
    // sqlite3 reads `file:…` as a URI (`?mode=memory` would lose every
    // write) and `:memory:` as no file: a relative name is made a path.
    let name = login.database.as_deref().unwrap_or_default();
    let path = if name.starts_with('/') || name.starts_with("./") { name.to_string() } else { format!("./{name}") };
    let file = quote_word(&path);
    Script::new("sqlite3", conn_id)
        .line(&format!("exec sqlite3 -init /dev/null -bail -batch \"$@\" {file}"))
        .write(folder, "sqlite3")
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::Stdio;

    use super::super::testing::{Fakes, HOSTILE_NAME, spawn};
    use super::*;

    #[test]
    fn the_job_arguments_come_before_the_file_whatever_its_name() {
        let fakes = Fakes::new(&["sqlite3"]);
        let file = format!("/data/{HOSTILE_NAME}.db");
        let login = Login { database: Some(file.clone()), ..Login::default() };
        let script = write(&fakes.folder(), "lite", &login).unwrap();
        let seen = fakes.run(&script, &["-json"], "select 1;", &[]);
        assert_eq!(seen.args[1..], ["-init", "/dev/null", "-bail", "-batch", "-json", file.as_str()]);
        assert_eq!(seen.stdin, "select 1;");
    }

    #[test]
    fn the_real_sqlite3_opens_the_file_the_login_names() {
        let fakes = Fakes::new(&[]);
        let file = fakes.folder().join(format!("{HOSTILE_NAME}.db"));
        let login = Login { database: Some(file.display().to_string()), ..Login::default() };
        let script = write(&fakes.folder(), "lite", &login).unwrap();
        let mut child = spawn(
            std::process::Command::new(&script).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()),
        );
        let sql = b"create table t(x); insert into t values (42); select x from t;";
        child.stdin.take().unwrap().write_all(sql).unwrap();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            let missing = String::from_utf8_lossy(&out.stderr).contains("not found");
            assert!(missing && std::env::var_os("LAVA_CONN_REQUIRE_CLIENTS").is_none(), "{out:?}");
            return;
        }
        assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
        assert!(file.exists());
        fakes.assert_nothing_ran();
    }

    #[test]
    fn a_relative_name_is_a_path_never_a_uri_or_memory() {
        let fakes = Fakes::new(&["sqlite3"]);
        let names = [
            ("file:x.db?mode=memory", "./file:x.db?mode=memory"),
            (":memory:", "./:memory:"),
            ("data/x.db", "./data/x.db"),
        ];
        for (name, opened) in names {
            let login = Login { database: Some(name.into()), ..Login::default() };
            let script = write(&fakes.folder(), name, &login).unwrap();
            let seen = fakes.run(&script, &[], "", &[]);
            assert_eq!(seen.args.last().map(String::as_str), Some(opened));
            std::fs::remove_file(script).unwrap();
        }
    }

    #[test]
    fn a_uri_is_refused_naming_what_is_not_carried_over() {
        let login = Login { database: Some("s3://bucket/x.db".into()), ..Login::default() };
        assert!(check(&login).unwrap_err().contains("local files only"));
    }
}
