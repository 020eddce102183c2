//! The plugin index: which connector types each plugin file serves, kept
//! beside the compile cache, so that a command loads only the plugin it
//! needs instead of every file in the folder (100 plugins made a warm
//! `validate` 80 ms and 120 MiB instead of 4 ms and 15 MiB).
//!
//! An entry is trusted only for the file it describes: the same path, device,
//! inode, size, modification and change times (the change time cannot be
//! set back by a user), described under the same worker settings (a plugin
//! may read them in `describe`). A file that differs in any of them is
//! loaded and described again. A file that still has its entry's identity
//! is not read again to be used: its digest and needs are the entry's, and
//! its compiled artefact is mapped (reading and hashing an 18 MB Python
//! plugin was ~22 ms of every start, issue 17); it is read, and its digest
//! checked, only when that artefact is missing. It is still linked and
//! described before its first call, and refused if its types differ from the
//! entry (see `Registry::plugin`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub(crate) use crate::untrusted_files::FileIdentity;

/// Entries kept at most, over every plugin folder that shares the cache.
const MAX_ENTRIES: usize = 10_000;

/// One indexed plugin file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Indexed {
    pub identity: FileIdentity,
    /// SHA-256 of the settings `describe` was given, hex.
    pub settings: String,
    /// SHA-256 of its bytes, hex: the same key as its compiled artefact.
    pub sha256: String,
    /// The connector types it described, lower case.
    pub types: Vec<String>,
    /// What one instance of it takes from the pool.
    pub needs: IndexedNeeds,
}

/// `lava_engine_settings::Needs`, as the index keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IndexedNeeds {
    core_instances: u32,
    memories: u32,
    tables: u32,
    initial_memory_bytes: u64,
}

impl From<lava_engine_settings::Needs> for IndexedNeeds {
    fn from(n: lava_engine_settings::Needs) -> Self {
        Self {
            core_instances: n.core_instances,
            memories: n.memories,
            tables: n.tables,
            initial_memory_bytes: n.initial_memory_bytes,
        }
    }
}

impl From<IndexedNeeds> for lava_engine_settings::Needs {
    fn from(n: IndexedNeeds) -> Self {
        Self {
            core_instances: n.core_instances,
            memories: n.memories,
            tables: n.tables,
            initial_memory_bytes: n.initial_memory_bytes,
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    files: BTreeMap<String, Indexed>,
}

/// 2: entries carry the plugin's needs.
const VERSION: u32 = 2;

/// The index as read at start, and what this run learnt.
pub(crate) struct Index {
    path: Option<PathBuf>,
    files: BTreeMap<String, Indexed>,
    changed: bool,
}

impl Index {
    /// The index at `path` (none when there is no usable compile cache). A
    /// missing, unreadable or older index is an empty one.
    pub fn open(path: Option<PathBuf>) -> Self {
        let files = path
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice::<IndexFile>(&bytes).ok())
            .filter(|index| index.version == VERSION)
            .map(|index| index.files)
            .unwrap_or_default();
        Self { path, files, changed: false }
    }

    /// The entry for `path`, if the file there is still the one indexed and
    /// it was described under these settings.
    pub fn lookup(&self, path: &Path, identity: &FileIdentity, settings: &str) -> Option<&Indexed> {
        self.files.get(path.to_str()?).filter(|entry| &entry.identity == identity && entry.settings == settings)
    }

    /// Record what loading `path` found.
    pub fn record(&mut self, path: &Path, entry: Indexed) {
        if let Some(key) = path.to_str()
            && self.files.get(key) != Some(&entry)
        {
            self.files.insert(key.to_string(), entry);
            self.changed = true;
        }
    }

    /// Forget the files of `folder` that are not in `present` (removed, or
    /// no longer loadable).
    pub fn retain_in(&mut self, folder: &Path, present: &[PathBuf]) {
        let before = self.files.len();
        self.files.retain(|key, _| {
            let path = Path::new(key);
            path.parent() != Some(folder) || present.iter().any(|p| p == path)
        });
        self.changed |= self.files.len() != before;
    }

    /// Write the index if this run changed it: atomically, owner-only, in
    /// the compile cache's private folder. Best effort: without it the next
    /// run loads the files again.
    pub fn save(mut self) {
        let Some(path) = self.path.take().filter(|_| self.changed) else {
            return;
        };
        while self.files.len() > MAX_ENTRIES {
            self.files.pop_first();
        }
        let index = IndexFile { version: VERSION, files: self.files };
        let written = (|| -> std::io::Result<()> {
            let folder = path.parent().unwrap_or(Path::new("."));
            let mut file = tempfile::NamedTempFile::new_in(folder)?;
            serde_json::to_writer(&mut file, &index)?;
            file.persist(&path).map_err(|e| e.error)?;
            Ok(())
        })();
        if let Err(e) = written {
            tracing::warn!(index = %path.display(), "cannot store the plugin index: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(len: u64) -> FileIdentity {
        FileIdentity::with_len(len)
    }

    fn entry(len: u64) -> Indexed {
        let needs =
            lava_engine_settings::Needs { core_instances: 14, memories: 1, tables: 2, initial_memory_bytes: 13 << 20 };
        Indexed {
            identity: identity(len),
            settings: "s1".into(),
            sha256: "ab".into(),
            types: vec!["t".into()],
            needs: needs.into(),
        }
    }

    #[test]
    fn an_entry_serves_only_the_file_it_was_made_from_and_survives_a_restart() {
        let cache = tempfile::tempdir().unwrap();
        let path = cache.path().join("plugin-index.json");
        let folder = Path::new("/plugins");
        let mut index = Index::open(Some(path.clone()));
        index.record(&folder.join("a.wasm"), entry(10));
        index.record(&folder.join("b.wasm"), entry(20));
        index.save();
        let mut index = Index::open(Some(path.clone()));
        assert_eq!(index.lookup(&folder.join("a.wasm"), &identity(10), "s1"), Some(&entry(10)));
        assert_eq!(index.lookup(&folder.join("a.wasm"), &identity(11), "s1"), None, "a rewritten file is not trusted");
        assert_eq!(index.lookup(&folder.join("a.wasm"), &identity(10), "s2"), None, "nor one described otherwise");
        index.retain_in(folder, &[folder.join("a.wasm")]);
        index.save();
        let index = Index::open(Some(path.clone()));
        assert_eq!(index.lookup(&folder.join("b.wasm"), &identity(20), "s1"), None, "a removed file is forgotten");
        // A damaged index is an empty one, never an error.
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(Index::open(Some(path)).lookup(&folder.join("a.wasm"), &identity(10), "s1"), None);
    }
}
