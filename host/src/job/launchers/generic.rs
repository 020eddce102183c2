//! `generic`: lava's attribute reader, `get-attr-value NAME`, over the
//! result's named values, each in an owner-only file of `values/`. lava's
//! script read `values/$1` for any `$1`, so `../../etc/passwd` read any
//! file; here the script knows its names and reads only those.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::{Script, path_text, quote_word};
use crate::folders::write_private;
use crate::results::NamedValue;
use crate::sanitizer::is_env_name;

/// Write the stand-in into `folder`; returns the script `get-attr-value`.
pub(super) fn write(folder: &Path, conn_id: &str, values: &[NamedValue]) -> std::io::Result<PathBuf> {
    let dir = folder.join("values");
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    let mut names = Vec::with_capacity(values.len());
    for value in values {
        // Checked at the boundary; again here, as it becomes a file name and a `case` pattern.
        if !is_env_name(&value.name) {
            return Err(std::io::Error::other(format!("value name `{}` is not a name", value.name.escape_debug())));
        }
        write_private(&dir.join(&value.name), value.value.expose_secret().as_bytes(), 0o600)?;
        names.push(value.name.as_str());
    }
    let mut script = Script::new("lava's generic connector", conn_id);
    script
        .line("if [ $# -ne 1 ]; then echo \"Usage: ${0##*/} param_name\" >&2; exit 1; fi")
        .line(&format!("VALUE_DIR={}", quote_word(&path_text(&dir))));
    if !names.is_empty() {
        // `(a|b)`: with the opening parenthesis a name such as `esac` is a pattern, not a keyword.
        script.line(&format!("case \"$1\" in ({}) exec cat \"$VALUE_DIR/$1\" ;; esac", names.join("|")));
    }
    script.line("printf '%s: No such parameter\\n' \"$1\" >&2").line("exit 1").write(folder, "get-attr-value")
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::super::testing::{Fakes, modes, output};
    use super::*;

    fn value(name: &str, value: &str) -> NamedValue {
        NamedValue { name: name.into(), value: value.to_string().into(), secret: true }
    }

    #[test]
    fn each_name_reads_its_value_and_nothing_else_is_read() {
        let fakes = Fakes::new(&[]);
        let values = [value("esac", "first"), value("token", "s3cr$(touch pwned)et\n"), value("HOST", "db")];
        let script = write(&fakes.folder(), "gen", &values).unwrap();
        let get = |args: &[&str]| output(Command::new(&script).args(args));
        let out = get(&["token"]);
        assert!(out.status.success());
        assert_eq!(out.stdout, b"s3cr$(touch pwned)et\n", "exactly, as lava's `fp.write`");
        assert_eq!(get(&["HOST"]).stdout, b"db");
        assert_eq!(get(&["esac"]).stdout, b"first", "a name that is a shell keyword");
        for name in ["../../../../etc/passwd", "missing", "token x", "*"] {
            let out = get(&[name]);
            assert_eq!(out.status.code(), Some(1), "{name}");
            assert_eq!(String::from_utf8_lossy(&out.stderr), format!("{name}: No such parameter\n"));
        }
        let out = get(&[]);
        assert_eq!(
            (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned()),
            (Some(1), "Usage: get-attr-value param_name\n".into())
        );
        let files = [("HOST".into(), 0o600), ("esac".into(), 0o600), ("token".into(), 0o600)];
        assert_eq!(modes(&fakes.folder().join("values")), files.into());
        assert_eq!(modes(&fakes.folder())["values"], 0o700);
        fakes.assert_nothing_ran();
    }

    #[test]
    fn a_name_that_is_not_one_is_refused_before_any_file() {
        let fakes = Fakes::new(&[]);
        assert!(write(&fakes.folder(), "gen", &[value("../x", "v")]).is_err());
        assert!(write(&Fakes::new(&[]).folder(), "gen", &[]).is_ok(), "no values: every name is unknown");
    }
}
