//! Files the host reads but does not trust (plugins, connection specs): how
//! they are read within a size cap, and what tells a rewritten or replaced
//! file from the one that was read (the folder store and the plugin index
//! both decide with it whether what they hold still matches the disk).

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

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

/// Why [`read_capped`] did not return a file's bytes.
#[derive(Debug)]
pub(crate) enum Refused {
    /// It could not be opened.
    Open(std::io::Error),
    /// It could not be read.
    Io(std::io::Error),
    /// It is a folder.
    Folder,
    /// It is a device, FIFO or socket.
    NotRegular,
    /// It is this many bytes, more than allowed.
    TooBig(u64),
    /// It grew past the cap while it was read.
    Grew,
}

/// The bytes of `path`, if it is a regular file (a symlink to one is fine)
/// of at most `max_bytes`, and its metadata. It is opened without blocking,
/// so that a FIFO cannot hang the read, and checked on the open handle, so
/// that it cannot be swapped between the check and the read; a file over
/// the cap is refused unread.
pub(crate) fn read_capped(path: &Path, max_bytes: u64) -> Result<(Vec<u8>, std::fs::Metadata), Refused> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(Refused::Open)?;
    let metadata = file.metadata().map_err(Refused::Io)?;
    if metadata.is_dir() {
        return Err(Refused::Folder);
    }
    if !metadata.is_file() {
        return Err(Refused::NotRegular);
    }
    if metadata.len() > max_bytes {
        return Err(Refused::TooBig(metadata.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    // The file may have grown since: read one byte past the cap at most.
    file.take(max_bytes + 1).read_to_end(&mut bytes).map_err(Refused::Io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(Refused::Grew);
    }
    Ok((bytes, metadata))
}
