//! lava's `sqlite3` connector (lava 8.3.0, `lava/connection/sqlite3.py`):
//! `host` names the database file, and the job gets the host's `sqlite3`
//! stand-in on it. No AWS: lava's `s3://` files are refused (its copy back
//! to S3 never ran on Linux), and nothing is asked of the host.
//!
//! ```json
//! {"conn_id": "local", "type": "sqlite3", "enabled": true, "host": "/data/app.db", "port": 0}
//! ```

use lava_guest_kit::serde_json::Value;
use lava_guest_kit::{Connector, Host, JobContext, LauncherKind, Login, Problem, Resolved, Spec, ValidateContext};

/// The connector.
#[derive(Default)]
pub struct Sqlite;

lava_guest_kit::export_connector!(Sqlite);

/// A `sqlite3` connection's fields, as lava 8.3.0 reads them.
#[derive(Spec)]
pub struct SqliteSpec {
    /// The database file (a local path).
    pub host: String,
    /// Required by lava (any whole number) and unused; accepted.
    #[spec(type_name = "whole number (unused)")]
    pub port: Option<Value>,
    /// Who owns the connection.
    pub owner: Option<String>,
}

impl Connector for Sqlite {
    const TYPE: &'static str = "sqlite3";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Spec = SqliteSpec;

    fn check(&self, spec: &SqliteSpec, _: &ValidateContext, problems: &mut Vec<Problem>) {
        let whole = |v: &Value| v.is_i64() || v.is_u64() || v.as_str().is_some_and(|s| s.trim().parse::<i64>().is_ok());
        if spec.port.as_ref().is_some_and(|port| !port.is_null() && !whole(port)) {
            problems
                .push(Problem::error("port", "must be a whole number, as lava's `int(port)` reads it (it is unused)"));
        }
        let file = spec.host.as_str();
        if file.starts_with("s3://") {
            let message = "is an S3 object: lava-conn opens local database files only (lava's copy of it back \
                           to S3 used BSD `stat` and never ran on Linux)";
            problems.push(Problem::error("host", message));
        } else if file.trim().is_empty() || file.contains(['\'', '"', '\\']) || file.chars().any(char::is_control) {
            // lava's own rule: "Invalid database file (host parameter)".
            problems.push(Problem::error("host", "must be a database file's path without quotes or `\\`"));
        }
    }

    fn resolve(&self, spec: SqliteSpec, _: &JobContext, _: &dyn Host) -> Result<Resolved, String> {
        let login = Login { database: Some(spec.host), ..Login::default() };
        Ok(Resolved { launcher: Some(LauncherKind::Sqlite3), login: Some(login), ..Resolved::default() })
    }
}

#[cfg(test)]
mod tests {
    use lava_guest_kit::RawConnector;
    use lava_guest_kit::testing::FakeHost;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_local_file_is_the_stand_ins_database_and_an_s3_one_is_refused() {
        let spec = json!({"conn_id": "l", "type": "sqlite3", "enabled": true, "host": "/data/app.db", "port": "0"});
        let host = FakeHost::default();
        assert_eq!(Sqlite.validate_json(&spec.to_string(), &ValidateContext::default(), &host), vec![]);
        let resolved = Sqlite.resolve_json(&spec.to_string(), &JobContext::default(), &host).unwrap();
        assert_eq!(resolved.launcher, Some(LauncherKind::Sqlite3));
        assert_eq!(resolved.login.unwrap().database.as_deref(), Some("/data/app.db"));
        for bad in ["s3://bucket/app.db", "it's.db", ""] {
            let spec = json!({"conn_id": "l", "type": "sqlite3", "enabled": true, "host": bad});
            let problems = Sqlite.validate_json(&spec.to_string(), &ValidateContext::default(), &host);
            assert_eq!(problems.iter().map(|p| p.field.as_str()).collect::<Vec<_>>(), ["host"], "{bad}");
        }
    }
}
