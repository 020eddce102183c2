//! Where connection specs come from: a folder of files, or lava's DynamoDB table.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};

use super::specs::{parse_spec_text, read_spec_text};
use crate::config::DEFAULT_MAX_SPEC_FILE_KIB;
use crate::error::{SpecFileError, StoreError};
use crate::sanitizer::sanitize;
use crate::untrusted_files::FileIdentity;

/// A boxed future, so that stores can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where specs come from. One small method; implement it for any other source.
pub trait ConnectionStore: Send + Sync {
    /// The spec of `conn_id` in `realm`.
    fn get<'a>(&'a self, realm: &'a str, conn_id: &'a str) -> BoxFuture<'a, Result<Value, StoreError>>;
}

/// Specs from a folder of JSON/YAML files (one spec or a list per file).
/// A file that cannot be read (too big, nested too deep, not JSON or YAML,
/// a key given twice) is reported and left out; the others' specs are
/// served. Read at open, and again whenever a `get` finds that the folder's files
/// changed (a file added, removed or rewritten, by size, times and inode),
/// so a long-running worker sees edited specs; the host's spec cache bounds
/// how often a `get` comes (`spec_cache_ttl`).
#[derive(Debug)]
pub struct FolderStore {
    folder: PathBuf,
    max_file_bytes: u64,
    snapshot: RwLock<Arc<Snapshot>>,
}

/// The folder's specs as read, and the identity of the files they came from.
#[derive(Debug)]
struct Snapshot {
    files: Vec<SpecFile>,
    specs: BTreeMap<String, (PathBuf, Value)>,
    /// Conn ids two files define: served by neither (the first two files).
    duplicates: BTreeMap<String, (PathBuf, PathBuf)>,
    /// The files that could not be read or parsed.
    unreadable: Vec<Unreadable>,
}

/// A spec file left out, why, and its text when it was read (a conn id
/// in it is not served from another file: it may be a duplicate).
#[derive(Debug)]
struct Unreadable {
    error: Arc<SpecFileError>,
    text: Option<String>,
}

impl Snapshot {
    /// A file that could not be read or parsed: reported, and kept to name.
    fn leave_out(&mut self, error: SpecFileError, text: Option<String>) {
        tracing::warn!("connection specs: {}", sanitize(&error.to_string()));
        self.unreadable.push(Unreadable { error: Arc::new(error), text });
    }

    /// A spec read from `path`. One without a conn id is left out; a conn id
    /// defined twice is served from neither file, and only that conn id fails.
    fn insert(&mut self, path: &Path, spec: Value) {
        let Some(conn_id) = spec.get("conn_id").and_then(Value::as_str).map(str::to_string) else {
            tracing::warn!(
                "connection specs: {}: a spec without a conn_id is left out",
                sanitize(&path.to_string_lossy())
            );
            return;
        };
        if self.duplicates.contains_key(&conn_id) {
            return;
        }
        if let Some((first, _)) = self.specs.remove(&conn_id) {
            self.duplicates.insert(conn_id, (first, path.to_path_buf()));
            return;
        }
        self.specs.insert(conn_id, (path.to_path_buf(), spec));
    }

    /// The spec of `conn_id`. It is refused while a file that could not be
    /// parsed mentions it: that file may define it too, and serving the
    /// other would let one file take over another's conn id by breaking it.
    fn get(&self, conn_id: &str, store: String) -> Result<Value, StoreError> {
        if let Some((first, second)) = self.duplicates.get(conn_id) {
            let (first, second) = (first.clone(), second.clone());
            return Err(StoreError::Duplicate { conn_id: conn_id.to_string(), first, second });
        }
        let errors = |files: Vec<&Unreadable>| files.into_iter().map(|u| u.error.clone()).collect();
        let mentioning: Vec<&Unreadable> =
            self.unreadable.iter().filter(|u| u.text.as_deref().is_some_and(|text| text.contains(conn_id))).collect();
        if !mentioning.is_empty() {
            return Err(StoreError::NotReadable {
                conn_id: conn_id.to_string(),
                store,
                unreadable: errors(mentioning),
            });
        }
        match self.specs.get(conn_id) {
            Some((_, spec)) => Ok(spec.clone()),
            None if self.unreadable.is_empty() => Err(StoreError::NotFound { conn_id: conn_id.to_string(), store }),
            None => {
                let unreadable = errors(self.unreadable.iter().collect());
                Err(StoreError::NotReadable { conn_id: conn_id.to_string(), store, unreadable })
            }
        }
    }
}

/// A spec file and its identity when it was read.
#[derive(Debug, PartialEq, Eq)]
struct SpecFile {
    path: PathBuf,
    identity: FileIdentity,
}

impl FolderStore {
    /// Read every `*.json`, `*.yaml` and `*.yml` in `folder`, each of at
    /// most the default size ([`DEFAULT_MAX_SPEC_FILE_KIB`]). A conn id two
    /// files define is an error naming both, for that conn id alone.
    pub fn open(folder: &Path) -> Result<Self, StoreError> {
        Self::open_capped(folder, u64::from(DEFAULT_MAX_SPEC_FILE_KIB) * 1024)
    }

    /// As [`FolderStore::open`], with files of at most `max_file_bytes`
    /// (`WorkerConfig::max_spec_file_bytes`).
    pub fn open_capped(folder: &Path, max_file_bytes: u64) -> Result<Self, StoreError> {
        let snapshot = Self::read(Self::scan(folder)?, max_file_bytes);
        Ok(Self { folder: folder.to_path_buf(), max_file_bytes, snapshot: RwLock::new(Arc::new(snapshot)) })
    }

    /// The spec files in `folder`, in name order, with their identities.
    fn scan(folder: &Path) -> Result<Vec<SpecFile>, StoreError> {
        let unavailable = |e: std::io::Error| StoreError::Unavailable {
            store: format!("connection folder {}", folder.display()),
            message: e.to_string(),
        };
        let mut files: Vec<SpecFile> = std::fs::read_dir(folder)
            .map_err(unavailable)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "yaml" || e == "yml"))
            .filter_map(|path| {
                let metadata = std::fs::metadata(&path).ok().filter(|m| m.is_file())?;
                Some(SpecFile { identity: FileIdentity::of(&metadata), path })
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    fn read(files: Vec<SpecFile>, max_file_bytes: u64) -> Snapshot {
        let mut snapshot =
            Snapshot { files: Vec::new(), specs: BTreeMap::new(), duplicates: BTreeMap::new(), unreadable: Vec::new() };
        for file in &files {
            let text = match read_spec_text(&file.path, max_file_bytes) {
                Ok(text) => text,
                Err(error) => {
                    snapshot.leave_out(error, None);
                    continue;
                }
            };
            match parse_spec_text(&file.path, &text) {
                Ok(specs) => specs.into_iter().for_each(|spec| snapshot.insert(&file.path, spec)),
                Err(error) => snapshot.leave_out(error, Some(text)),
            }
        }
        snapshot.files = files;
        snapshot
    }

    /// The specs as the folder holds them now: the last read, unless a file changed.
    fn current(&self) -> Result<Arc<Snapshot>, StoreError> {
        let files = Self::scan(&self.folder)?;
        let last = self.snapshot.read().unwrap_or_else(|e| e.into_inner()).clone();
        if last.files == files {
            return Ok(last);
        }
        let fresh = Arc::new(Self::read(files, self.max_file_bytes));
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        Ok(fresh)
    }

    /// The conn ids in the folder, as it holds them now.
    pub fn conn_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.current()?.specs.keys().cloned().collect())
    }
}

impl ConnectionStore for FolderStore {
    fn get<'a>(&'a self, _realm: &'a str, conn_id: &'a str) -> BoxFuture<'a, Result<Value, StoreError>> {
        let found = self
            .current()
            .and_then(|snapshot| snapshot.get(conn_id, format!("connection folder {}", self.folder.display())));
        Box::pin(std::future::ready(found))
    }
}

/// lava's own store: DynamoDB table `lava.<realm>.connections`, keyed by `conn_id`.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
}

impl DynamoStore {
    /// A store reading through `client`.
    pub fn new(client: aws_sdk_dynamodb::Client) -> Self {
        Self { client }
    }

    /// A store reading with these SDK settings (region, credentials, endpoint).
    pub fn from_sdk_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_dynamodb::Client::new(config))
    }

    /// The table holding `realm`'s connections.
    pub fn table_name(realm: &str) -> String {
        format!("lava.{realm}.connections")
    }
}

impl ConnectionStore for DynamoStore {
    fn get<'a>(&'a self, realm: &'a str, conn_id: &'a str) -> BoxFuture<'a, Result<Value, StoreError>> {
        Box::pin(async move {
            let table = Self::table_name(realm);
            let store = format!("DynamoDB table {table}");
            let output = self
                .client
                .get_item()
                .table_name(&table)
                .key("conn_id", AttributeValue::S(conn_id.to_string()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| StoreError::Unavailable { store: store.clone(), message: crate::error::error_text(&e) })?;
            let item = output.item.ok_or_else(|| StoreError::NotFound { conn_id: conn_id.to_string(), store })?;
            Ok(Value::Object(item.into_iter().map(|(k, v)| (k, attribute_to_json(v))).collect()))
        })
    }
}

/// DynamoDB's typed attributes as the JSON a spec file would hold.
fn attribute_to_json(value: AttributeValue) -> Value {
    let number = |n: String| {
        n.parse::<i64>()
            .map(Number::from)
            .ok()
            .or_else(|| n.parse::<f64>().ok().and_then(Number::from_f64))
            .map_or(Value::String(n), Value::Number)
    };
    match value {
        AttributeValue::S(s) => Value::String(s),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(items) => Value::Array(items.into_iter().map(attribute_to_json).collect()),
        AttributeValue::M(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, attribute_to_json(v))).collect::<Map<_, _>>())
        }
        AttributeValue::Ss(items) => Value::Array(items.into_iter().map(Value::String).collect()),
        AttributeValue::Ns(items) => Value::Array(items.into_iter().map(number).collect()),
        // Binary attributes have no place in a connection spec.
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_conn_ids_name_both_files() {
        let dir = std::env::temp_dir().join(format!("lava-conn-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.json"), r#"{"conn_id": "x", "type": "aws"}"#).unwrap();
        std::fs::write(dir.join("b.yaml"), "- conn_id: y\n  type: aws\n- conn_id: x\n  type: aws\n").unwrap();
        let store = FolderStore::open(&dir).unwrap();
        let error = get(&store, "x").unwrap_err().to_string();
        assert!(error.contains("a.json") && error.contains("b.yaml") && error.contains("`x`"), "{error}");
        assert!(get(&store, "y").is_ok(), "only the conn id defined twice fails");
        std::fs::remove_file(dir.join("a.json")).unwrap();
        let store = FolderStore::open(&dir).unwrap();
        assert_eq!(store.conn_ids().unwrap(), vec!["x", "y"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn get(store: &FolderStore, conn_id: &str) -> Result<Value, StoreError> {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(store.get("prod", conn_id))
    }

    #[test]
    fn a_long_lived_folder_store_sees_specs_added_changed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.json");
        std::fs::write(&file, r#"{"conn_id": "x", "type": "aws", "role_arn": "one"}"#).unwrap();
        let store = FolderStore::open(dir.path()).unwrap();
        assert_eq!(get(&store, "x").unwrap()["role_arn"], "one");
        // Rewritten with the same size: the identity still tells it apart.
        std::fs::write(&file, r#"{"conn_id": "x", "type": "aws", "role_arn": "two"}"#).unwrap();
        assert_eq!(get(&store, "x").unwrap()["role_arn"], "two");
        std::fs::write(dir.path().join("b.yaml"), "conn_id: y\ntype: aws\n").unwrap();
        assert_eq!(store.conn_ids().unwrap(), vec!["x", "y"]);
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(get(&store, "x"), Err(StoreError::NotFound { .. })));
        // A file broken mid-edit is an error naming it, not a stale answer.
        std::fs::write(dir.path().join("b.yaml"), "conn_id: [").unwrap();
        let error = get(&store, "y").unwrap_err().to_string();
        assert!(error.contains("b.yaml"), "{error}");
    }

    #[test]
    fn a_spec_file_that_cannot_be_read_stops_no_resolve_of_another_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("good.json"), r#"{"conn_id": "x", "type": "aws"}"#).unwrap();
        // Deep nesting, a file over the cap, and a repeated key: each named, none fatal.
        std::fs::write(dir.path().join("deep.yaml"), "[".repeat(100_000)).unwrap();
        std::fs::write(dir.path().join("big.yaml"), format!("conn_id: big\nx: '{}'\n", "a".repeat(210_000))).unwrap();
        std::fs::write(dir.path().join("twice.json"), "{\"conn_id\": \"t\",\n \"conn_id\": \"u\"}").unwrap();
        let started = std::time::Instant::now();
        let store = FolderStore::open_capped(dir.path(), 200 * 1024).unwrap();
        assert_eq!(get(&store, "x").unwrap()["type"], "aws");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        let error = get(&store, "big").unwrap_err().to_string();
        assert!(error.contains("while 3 of its files cannot be read"), "{error}");
        assert!(error.contains("deep.yaml: nests deeper than 64 levels"), "{error}");
        assert!(error.contains("big.yaml: is 206 KiB, more than the 200 KiB"), "{error}");
        assert!(error.contains("max_spec_file_kib"), "{error}");
        assert!(error.contains("twice.json: key `conn_id` is given twice in one map (it is a key on lines 1 and 2)"));
    }

    #[test]
    fn a_conn_id_in_a_file_that_cannot_be_parsed_is_not_served_from_another() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a-theirs.json"), r#"{"conn_id": "payments", "role_arn": "theirs"}"#).unwrap();
        std::fs::write(dir.path().join("b-owner.yaml"), "conn_id: payments\nrole_arn: a\nrole_arn: b\n").unwrap();
        std::fs::write(dir.path().join("c.json"), r#"[{"type": "aws"}, {"type": "aws"}, {"conn_id": "z"}]"#).unwrap();
        let store = FolderStore::open(dir.path()).unwrap();
        let error = get(&store, "payments").unwrap_err().to_string();
        assert!(error.contains("b-owner.yaml") && error.contains("role_arn"), "{error}");
        assert!(get(&store, "z").is_ok(), "specs without a conn id are left out, the file's others served");
    }

    #[test]
    fn dynamodb_attributes_become_json() {
        let item = AttributeValue::M(
            [
                ("conn_id".to_string(), AttributeValue::S("c".into())),
                ("enabled".to_string(), AttributeValue::Bool(true)),
                ("duration".to_string(), AttributeValue::N("3600".into())),
                ("policy_arns".to_string(), AttributeValue::L(vec![AttributeValue::S("arn".into())])),
                ("tags".to_string(), AttributeValue::M([("k".to_string(), AttributeValue::S("v".into()))].into())),
            ]
            .into(),
        );
        assert_eq!(
            attribute_to_json(item),
            serde_json::json!({"conn_id": "c", "enabled": true, "duration": 3600, "policy_arns": ["arn"], "tags": {"k": "v"}})
        );
    }
}
