//! Folders the host trusts with what it writes: compiled code (the compile
//! cache) and a job's private files (its work folder). Whoever can rename
//! or replace an entry of such a folder, or of any folder on the way to it,
//! can make the host write where they read, or make a job run their files.
//! So one rule decides for both: every folder on the path is owned by this
//! user or by root, and one that others may write has the sticky bit (in
//! which nobody but an entry's owner may rename or remove it, as in `/tmp`).
//!
//! The path is resolved once (`canonicalize`) and every folder on the
//! resolved path checked: no link on it can be swapped afterwards, since
//! nobody else can write where the links were. Entries the host creates
//! inside are created, never opened if they exist (`mkdir`, `O_EXCL`).

use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// This process's effective user.
pub(crate) fn this_user() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Group- or other-writable.
const WRITABLE_BY_OTHERS: u32 = 0o022;

/// The sticky bit: in such a folder only an entry's owner renames or removes it.
const STICKY: u32 = 0o1000;

/// `folder` (whose metadata, not following links, is `meta`) is one only
/// this user can change: a folder, ours, writable by nobody else.
pub(crate) fn check_private(folder: &Path, meta: &Metadata) -> Result<(), String> {
    if !meta.is_dir() {
        return Err(format!("{} is not a folder", folder.display()));
    }
    let uid = this_user();
    if meta.uid() != uid {
        return Err(format!("{} belongs to user {}, not to this user ({uid})", folder.display(), meta.uid()));
    }
    if meta.mode() & WRITABLE_BY_OTHERS != 0 {
        return Err(format!(
            "{} is writable by others (mode {:o}); `chmod go-w` it",
            folder.display(),
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// A work folder whose path nobody else can change.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WorkFolder {
    /// Only this user can write it: the host's folders go straight in.
    Private(PathBuf),
    /// Others may write it, but it is sticky (`/tmp`): the host makes an
    /// owner-only folder of its own inside, and puts its folders in that.
    Shared(PathBuf),
}

/// Check a job's work folder `path` and every folder on the way to it
/// ([`check_path`]); the error names the work folder, the folder at fault
/// and the fix.
pub(crate) fn check_work_folder(path: &Path) -> Result<WorkFolder, String> {
    check_path(path).map_err(|why| format!("work folder {}: {why}", path.display()))
}

/// Check `path` and every folder on the way to it (see the module's
/// comment); the error names the folder at fault and the fix.
pub(crate) fn check_path(path: &Path) -> Result<WorkFolder, String> {
    let resolved = std::fs::canonicalize(path).map_err(|e| format!("cannot be used: {e}"))?;
    let uid = this_user();
    let refuse = |folder: &Path, why: String| {
        let what = if folder == resolved { String::new() } else { format!(" (on the way to {})", resolved.display()) };
        Err(format!("{}{what} {why}", folder.display()))
    };
    let mut shared = false;
    for folder in resolved.ancestors() {
        let meta = std::fs::symlink_metadata(folder).map_err(|e| format!("cannot read {}: {e}", folder.display()))?;
        if !meta.is_dir() {
            return refuse(folder, "is not a folder".into());
        }
        if meta.uid() != uid && meta.uid() != 0 {
            return refuse(
                folder,
                format!(
                    "belongs to user {}, who could replace what the host writes there; use a folder of this \
                     user's ({uid}) own, on a path of folders owned by it or by root",
                    meta.uid()
                ),
            );
        }
        if meta.mode() & WRITABLE_BY_OTHERS != 0 {
            if meta.mode() & STICKY == 0 {
                return refuse(
                    folder,
                    format!(
                        "is writable by other users (mode {:o}) and not sticky: another user could rename the \
                         job's folders and plant their own files. `chmod go-w {}`, or `chmod +t` it, or use \
                         another folder",
                        meta.mode() & 0o7777,
                        folder.display()
                    ),
                );
            }
            shared |= folder == resolved;
        }
    }
    Ok(if shared { WorkFolder::Shared(resolved) } else { WorkFolder::Private(resolved) })
}

/// The file in each private folder that its living owner holds locked (an
/// open file description lock, `F_OFD_SETLK`): the kernel drops the lock
/// when the owner ends, however it ends, which tells a folder left behind
/// from one in use, across pid namespaces and pid reuse, and between two
/// callers in one process alike (unlike `flock` over NFS or POSIX locks).
pub(crate) const OWNER_LOCK: &str = ".lava-conn.lock";

/// Where a private folder is made and locked before it takes its name, so
/// that a sweep (which looks only at the final names) never meets one
/// whose lock is not yet held.
const STAGING_PREFIX: &str = ".lava-conn-new.";

/// An owner-only folder under an unpredictable name, locked while this
/// value lives, and removed when it is dropped or closed.
#[derive(Debug)]
pub(crate) struct PrivateFolder {
    path: PathBuf,
    _lock: File,
}

impl PrivateFolder {
    /// Create one in `parent`, named `prefix` and random characters.
    pub fn create(parent: &Path, prefix: &str) -> std::io::Result<Self> {
        let staging = tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)?;
        let lock = OpenOptions::new().write(true).create_new(true).mode(0o600).open(staging.path().join(OWNER_LOCK))?;
        if !try_lock(&lock) {
            return Err(std::io::Error::new(ErrorKind::WouldBlock, "a new folder's lock is held"));
        }
        let random = staging.path().file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix(STAGING_PREFIX));
        let path = parent.join(format!("{prefix}{}", random.unwrap_or_default()));
        rename_no_replace(staging.path(), &path)?;
        // Renamed: the staging name is gone, and this value removes the folder.
        let _ = staging.keep();
        Ok(Self { path, _lock: lock })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remove it now, reporting a failure.
    pub fn close(mut self) -> std::io::Result<()> {
        std::fs::remove_dir_all(std::mem::take(&mut self.path))
    }

    /// Leave it on disk and let its lock go, as an owner killed outright does.
    #[cfg(test)]
    pub fn abandon(mut self) -> PathBuf {
        std::mem::take(&mut self.path)
    }
}

impl Drop for PrivateFolder {
    fn drop(&mut self) {
        // Empty once closed or abandoned.
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Rename `from` to `to`, failing if `to` exists (`RENAME_NOREPLACE`).
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: renameat2(2) with two valid NUL-terminated paths.
    let done =
        unsafe { libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::RENAME_NOREPLACE) };
    if done == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Take `file`'s lock without waiting; false when another holds it.
fn try_lock(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: an all-zero flock is valid; fcntl(2) reads it and the
    // descriptor this `File` owns.
    unsafe {
        let mut lock: libc::flock = std::mem::zeroed();
        lock.l_type = libc::F_WRLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock) == 0
    }
}

/// Remove the private folders in `folder` whose owner has ended without
/// removing them (a `lava-conn exec` killed with SIGKILL leaves its
/// connections' files): entries named with one of `prefixes`, that are
/// folders of this user's (not links), holding an [`OWNER_LOCK`] nobody
/// holds. Returns what was removed. Best effort: an entry that changes
/// meanwhile is left alone.
pub(crate) fn sweep_abandoned(folder: &Path, prefixes: &[&str]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let uid = this_user();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !prefixes.iter().any(|p| name.to_string_lossy().starts_with(p)) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        let lock = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path.join(OWNER_LOCK));
        // A folder without a lock is not one of ours: never touched.
        let Ok(lock) = lock else { continue };
        if try_lock(&lock) && std::fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// Create `path` with owner-only permissions from the start (never briefly
/// world-readable), and write `contents`.
pub(crate) fn write_private(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(mode & 0o700).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_work_folder_others_can_write_is_refused_unless_sticky_and_then_shared() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("work");
        std::fs::create_dir(&folder).unwrap();
        chmod(&folder, 0o700);
        assert!(matches!(check_work_folder(&folder), Ok(WorkFolder::Private(_))));
        chmod(&folder, 0o777);
        let error = check_work_folder(&folder).unwrap_err();
        assert!(error.contains("writable by other users (mode 777)") && error.contains("chmod +t"), "{error}");
        chmod(&folder, 0o1777);
        assert!(matches!(check_work_folder(&folder), Ok(WorkFolder::Shared(_))));
        chmod(&folder, 0o770);
        assert!(check_work_folder(&folder).is_err(), "group-writable is writable by others");
    }

    #[test]
    fn a_folder_on_the_way_that_others_can_write_is_refused_and_named() {
        let root = tempfile::tempdir().unwrap();
        let open = root.path().join("open");
        let work = open.join("deeper/work");
        std::fs::create_dir_all(&work).unwrap();
        chmod(&open, 0o777);
        let error = check_work_folder(&work).unwrap_err();
        assert!(error.contains(&format!("{}: {} (on the way to", work.display(), open.display())), "{error}");
        // Through a link: the folder reached is checked, not the link's name.
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&work, &link).unwrap();
        assert!(check_work_folder(&link).unwrap_err().contains("on the way to"));
        chmod(&open, 0o755);
        assert_eq!(check_work_folder(&link), Ok(WorkFolder::Private(std::fs::canonicalize(&work).unwrap())));
    }

    #[test]
    fn a_folder_of_another_user_is_refused() {
        if this_user() != 0 {
            return; // Only root can give a folder away; CI runs as root.
        }
        let root = tempfile::tempdir().unwrap();
        let theirs = root.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
        let error = check_work_folder(&theirs.join(".")).unwrap_err();
        assert!(error.contains("belongs to user 65534"), "{error}");
    }

    #[test]
    fn only_folders_whose_owner_has_ended_are_swept() {
        let parent = tempfile::tempdir().unwrap();
        let live = PrivateFolder::create(parent.path(), "conn.a.").unwrap();
        let dead = PrivateFolder::create(parent.path(), "conn.b.").unwrap();
        std::fs::write(dead.path().join("value.PASSWORD"), "hunter2").unwrap();
        // Its owner ends without removing it, as a SIGKILL would leave it.
        let dead_path = dead.abandon();
        let unlocked = parent.path().join("conn.c.mine");
        std::fs::create_dir(&unlocked).unwrap();
        let other = parent.path().join("other.d");
        std::fs::create_dir(&other).unwrap();
        std::fs::File::create(other.join(OWNER_LOCK)).unwrap();
        assert_eq!(sweep_abandoned(parent.path(), &["conn."]), vec![dead_path.clone()]);
        assert!(!dead_path.exists());
        assert!(live.path().exists(), "a folder in use is kept");
        assert!(unlocked.exists() && other.exists(), "folders that are not ours are never touched");
    }

    #[test]
    fn a_second_lock_on_a_folder_in_use_fails_in_the_same_process_too() {
        let parent = tempfile::tempdir().unwrap();
        let live = PrivateFolder::create(parent.path(), "conn.a.").unwrap();
        let again = OpenOptions::new().write(true).open(live.path().join(OWNER_LOCK)).unwrap();
        assert!(!try_lock(&again), "another open file description of this process is refused");
        let path = live.path().to_path_buf();
        assert!(path.file_name().unwrap().to_string_lossy().starts_with("conn.a."), "{path:?}");
        live.close().unwrap();
        assert!(!path.exists());
        let staged: Vec<_> = std::fs::read_dir(parent.path()).unwrap().collect();
        assert!(staged.is_empty(), "no staging folder is left: {staged:?}");
    }
}
