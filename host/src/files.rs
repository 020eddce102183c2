//! What tells a rewritten or replaced file from the one that was read: the
//! folder store and the plugin index both decide with it whether what they
//! hold still matches the disk.

use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};

/// A file's device, inode, size, and modification and change times (the
/// change time cannot be set back by a user, so a rewrite always shows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileIdentity {
    dev: u64,
    ino: u64,
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileIdentity {
    pub fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
            len: metadata.len(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// The file's size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// An identity for tests, distinguished by its size.
    #[cfg(test)]
    pub fn with_len(len: u64) -> Self {
        Self { dev: 1, ino: 2, len, modified: (3, 4), changed: (5, 6) }
    }
}
