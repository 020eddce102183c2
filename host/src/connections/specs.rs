//! Connection specs: reading them from JSON or YAML files, and a spec as the
//! host keeps it once read (with its digest, which keys the credential cache).

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::cache::Expiring;

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

/// The spec as the JSON text a plugin is given. Serialised straight into a
/// buffer: `Value`'s `Display` passes every token through `fmt`.
pub fn to_json(spec: &Value) -> String {
    serde_json::to_string(spec).expect("a JSON value always serialises")
}

/// A spec with the SHA-256 of its JSON: what the credential cache keys by,
/// computed once per read rather than at every resolve.
#[derive(Debug)]
pub(crate) struct CachedSpec {
    pub spec: Value,
    pub digest: [u8; 32],
}

impl CachedSpec {
    pub fn new(spec: Value) -> Self {
        let mut hasher = Sha256::new();
        serde_json::to_writer(HashWriter(&mut hasher), &spec).expect("a JSON value always serialises");
        Self { digest: hasher.finalize().into(), spec }
    }
}

impl Expiring for CachedSpec {}

/// Feeds serialised JSON straight into the digest, with no copy of it.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Which spec: a realm's conn id. Hashed into a fixed-size key, each part
/// length-prefixed, so that a lookup allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SpecKey([u8; 32]);

impl SpecKey {
    pub fn new(realm: &str, conn_id: &str) -> Self {
        let mut hasher = Sha256::new();
        for part in [realm, conn_id] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        Self(hasher.finalize().into())
    }
}
