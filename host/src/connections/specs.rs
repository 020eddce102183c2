//! Reading connection specs from JSON or YAML files.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A spec file could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum SpecFileError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// The file is neither valid JSON nor valid YAML, or holds no spec.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
}

/// The specs in `path`: one spec (a map) or a list of them, as JSON or YAML.
/// `.json` files are parsed as JSON, everything else as YAML (a superset).
pub fn read_spec_file(path: &Path) -> Result<Vec<Value>, SpecFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| SpecFileError::Read { path: path.to_path_buf(), source })?;
    let parse_error = |message: String| SpecFileError::Parse { path: path.to_path_buf(), message };
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let value: Value = if is_json {
        serde_json::from_str(&text).map_err(|e| parse_error(format!("invalid JSON: {e}")))?
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| parse_error(format!("invalid YAML: {e}")))?
    };
    match value {
        Value::Array(items) => {
            if let Some(i) = items.iter().position(|v| !v.is_object()) {
                return Err(parse_error(format!("item {i} of the list is not a connection spec (a map)")));
            }
            Ok(items)
        }
        Value::Object(_) => Ok(vec![value]),
        _ => Err(parse_error("holds neither a connection spec (a map) nor a list of them".into())),
    }
}

/// The `conn_id` of a spec, for messages; `<no conn_id>` when absent.
pub fn conn_id_of(spec: &Value) -> &str {
    spec.get("conn_id").and_then(Value::as_str).unwrap_or("<no conn_id>")
}
