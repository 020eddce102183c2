//! Compiled components on disk, mapped into memory when loaded.
//!
//! Compiling the 1 MB aws component takes Cranelift about 120 ms, far more
//! than a CLI call may spend, so compiled code is kept on disk between runs.
//! wasmtime's own cache (`Config::cache`) was measured first: on every load it
//! hashes the wasm, decompresses the zstd-compressed artifact, copies the code
//! into fresh memory and rewrites a usage-stats file: about 10 of the 13 ms
//! that a `lava-conn validate` process took. This store keeps wasmtime's own serialized format
//! (`Engine::precompile_component`) uncompressed and loads it with
//! `Component::deserialize_file`, which maps the file: the kernel shares the
//! pages between worker processes and reads only what a call touches.
//!
//! Loading compiled code runs it as native code, so the folder is trusted only
//! when it is this user's and nobody else can write to it; otherwise the store
//! is not used and components are compiled in memory on every start.
//!
//! An artefact is written without waiting for the disk: syncing the 2.6 MB
//! aws artefact took 2 to 8 ms on the bench machine, more than a warm
//! `lava-conn validate` takes in all (issue 15's cold start). Until the
//! machine restarts, the kernel's page cache serves every reader the whole
//! file once it is renamed into place; only a crash or power loss can leave
//! it torn on disk, and either means a new boot. So beside each artefact a
//! seal (`<digest>.sealed`) records the boot it was written in and the
//! artefact's SHA-256: in that boot the artefact is trusted as it is; after
//! a restart it is hashed once and compared before it is mapped, and sealed
//! again for the new boot. An artefact without a matching seal is written
//! again. Where the boot cannot be known, artefacts are synced instead.

use std::fs::DirBuilder;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a plugin's compiled code came from when it was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheState {
    /// Mapped from the compile cache: no compiling.
    Mapped,
    /// Compiled now, and stored for the next start.
    Compiled,
    /// Compiled now in memory only: the cache is off or could not store it.
    NotCached,
    /// Precompiled into the host at build time (a built-in), and stored
    /// for the next start.
    Embedded,
}

impl CacheState {
    /// The state in one word, as `lava-conn plugins` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mapped => "mapped",
            Self::Compiled => "compiled",
            Self::NotCached => "not-cached",
            Self::Embedded => "embedded",
        }
    }
}

/// Where this engine's compiled components live, if anywhere, and how many
/// bytes of them are kept. The bound is in bytes, not files: a count let a
/// folder of 40 plugins evict its own artefacts and recompile them on every
/// start (7.7–8.8 s for `lava-conn plugins`, issue 15).
pub(crate) struct CompiledStore {
    folder: Option<PathBuf>,
    max_bytes: u64,
    /// `lava_engine_settings::compatibility_key` of the engine.
    engine_key: u64,
    /// This boot's identity (`/proc/sys/kernel/random/boot_id`); `None`
    /// where there is none, and artefacts are then synced to disk.
    boot: Option<String>,
}

/// A built-in's artefact, precompiled by the build script, and the
/// compatibility key of the engine that compiled it.
#[derive(Clone, Copy)]
pub(crate) struct Precompiled {
    pub bytes: &'static [u8],
    pub engine_key: u64,
    /// The artefact's SHA-256 (hex), for its seal once stored.
    pub sha256: &'static str,
}

impl CompiledStore {
    /// Use `root` (created owner-only if missing) for `engine`'s artifacts.
    /// An unusable folder is logged and leaves the store off: a slower start
    /// is better than no start.
    pub fn open(root: &Path, engine: &Engine, max_bytes: u64) -> Self {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok();
        Self::open_in_boot(root, engine, max_bytes, boot.map(|b| b.trim().to_string()).filter(|b| !b.is_empty()))
    }

    /// [`Self::open`], in the boot named `boot`.
    fn open_in_boot(root: &Path, engine: &Engine, max_bytes: u64, boot: Option<String>) -> Self {
        // Artifacts of another wasmtime version or setting cannot be loaded by
        // this engine; a folder per engine keeps binaries side by side from
        // evicting each other's. `deserialize_file` checks compatibility
        // again, so a hash collision only costs a recompile.
        let engine_key = lava_engine_settings::compatibility_key(engine);
        let folder = root.join(format!("engine-{engine_key:016x}"));
        match private_folder(root).and_then(|()| private_folder(&folder)) {
            Ok(()) => Self { folder: Some(folder), max_bytes, engine_key, boot },
            Err(reason) => {
                tracing::warn!(folder = %root.display(), "compile cache not used, components are compiled at every start: {reason}");
                Self { folder: None, max_bytes, engine_key, boot }
            }
        }
    }

    /// This engine's private folder, when the store is in use.
    pub fn folder(&self) -> Option<&Path> {
        self.folder.as_deref()
    }

    /// The component for `wasm`, whose SHA-256 is `digest`: mapped from the
    /// store when it is there; else taken from `embedded` (a built-in's
    /// artefact, precompiled at build time) when this engine accepts it;
    /// else compiled. Either way stored for the next start. `None` when it
    /// would have to be compiled and `wasm` was not given: a caller that
    /// trusts a digest without the bytes reads them then.
    pub fn component(
        &self,
        engine: &Engine,
        wasm: Option<&[u8]>,
        digest: &str,
        embedded: Option<Precompiled>,
        before_compile: &dyn Fn(),
    ) -> wasmtime::Result<Option<(Component, CacheState)>> {
        // An artefact compiled for other settings or another CPU would be
        // refused by wasmtime: known here from the keys, before anything is
        // written or copied.
        let embedded = embedded.filter(|p| p.engine_key == self.engine_key);
        // SAFETY: the bytes were produced by `Engine::precompile_component`
        // in this crate's build script and are part of this binary; wasmtime
        // checks again that they were compiled for this engine.
        let from_memory = |bytes: &'static [u8]| unsafe { Component::deserialize(engine, bytes) };
        let Some(folder) = &self.folder else {
            return Ok(match (embedded.map(|p| from_memory(p.bytes)), wasm) {
                (Some(Ok(component)), _) => Some((component, CacheState::Embedded)),
                (_, Some(wasm)) => {
                    before_compile();
                    Some((Component::new(engine, wasm)?, CacheState::NotCached))
                }
                (_, None) => None,
            });
        };
        let path = folder.join(format!("{digest}.cwasm"));
        if path.is_file() && self.trusted(folder, &path) {
            // SAFETY: the file was written by `Engine::precompile_component`
            // into a folder only this user can write to (checked in `open`),
            // and wasmtime checks it was compiled for this engine.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(Some((component, CacheState::Mapped))),
                // The artefact is fine; the pool cannot hold the component,
                // and compiling it again (5.5 s for a Python one, issue 17)
                // would end the same way.
                Err(e) if refused_by_pool(&e) => return Err(e),
                Err(e) => tracing::warn!(artifact = %path.display(), "recompiling a stored component: {e:#}"),
            }
        }
        // A built-in's artefact from the build is stored first and then
        // mapped like any stored one: deserializing it from memory copied
        // 3.4 MiB into fresh pages at every start (a warm `lava-conn
        // validate` 4.0 -> 5.8 ms), and once stored the copy is never needed.
        if let Some(Precompiled { bytes, sha256, .. }) = embedded {
            let component = match self.store(folder, &path, bytes, sha256) {
                // SAFETY: as above; the file holds this binary's own artefact.
                Ok(()) => unsafe { Component::deserialize_file(engine, &path) },
                Err(e) => {
                    tracing::warn!(artifact = %path.display(), "cannot store a compiled component: {e}");
                    from_memory(bytes)
                }
            };
            match component {
                Ok(component) => return Ok(Some((component, CacheState::Embedded))),
                Err(e) => tracing::warn!("the built-in's precompiled artefact was refused, compiling: {e:#}"),
            }
        }
        let Some(wasm) = wasm else {
            return Ok(None);
        };
        before_compile();
        let compiled = engine.precompile_component(wasm)?;
        let state = match self.store(folder, &path, &compiled, &sha256_hex(&compiled)) {
            Ok(()) => CacheState::Compiled,
            Err(e) => {
                tracing::warn!(artifact = %path.display(), "cannot store a compiled component: {e}");
                CacheState::NotCached
            }
        };
        // SAFETY: `compiled` was produced by this engine just now.
        Ok(Some((unsafe { Component::deserialize(engine, &compiled) }?, state)))
    }

    /// Whether the artefact at `path` is whole: sealed in this boot, or
    /// found unchanged from its seal now (and sealed for this boot).
    fn trusted(&self, folder: &Path, path: &Path) -> bool {
        let Some(boot) = &self.boot else { return true };
        let Ok(seal) = std::fs::read_to_string(seal_path(path)) else { return false };
        let Some((sealed_boot, sha256)) = seal.split_once('\n') else { return false };
        if sealed_boot == boot {
            return true;
        }
        let sha256 = sha256.trim_end();
        let whole = std::fs::read(path).is_ok_and(|artefact| sha256_hex(&artefact) == sha256);
        if whole {
            // Best effort: unsealed, the next start would only hash it again.
            let _ = self.seal(folder, path, sha256);
        }
        whole
    }

    /// Record that the artefact at `path`, whose SHA-256 is `sha256`, was
    /// whole in this boot.
    fn seal(&self, folder: &Path, path: &Path, sha256: &str) -> std::io::Result<()> {
        let Some(boot) = &self.boot else { return Ok(()) };
        write_atomically(folder, &seal_path(path), format!("{boot}\n{sha256}\n").as_bytes(), false)
    }

    /// Store `compiled`, whose SHA-256 is `sha256`, at `path`: sealed for
    /// this boot, or synced to disk where the boot is unknown. Then keep
    /// the folder within its bytes.
    fn store(&self, folder: &Path, path: &Path, compiled: &[u8], sha256: &str) -> std::io::Result<()> {
        write_atomically(folder, path, compiled, self.boot.is_none())?;
        self.seal(folder, path, sha256)?;
        evict_oldest(folder, self.max_bytes, path);
        Ok(())
    }
}

/// Where the seal of the artefact at `path` is kept.
fn seal_path(path: &Path) -> PathBuf {
    path.with_extension("sealed")
}

/// SHA-256 of `bytes`, hex: what names a plugin's artefact, and what its
/// seal holds of the artefact.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Whether wasmtime refused a component because the instance pool cannot
/// hold it (a memory, table or instance over the pool's sizes), rather than
/// because the artefact is damaged or stale. wasmtime says so only in its
/// message (`… does not fit in pooling allocator requirements`).
fn refused_by_pool(error: &wasmtime::Error) -> bool {
    error.chain().any(|cause| cause.to_string().contains("pooling allocator"))
}

/// Create `folder` owner-only if missing; accept it only if it is ours, not
/// writable by anyone else, and on a path nobody else can change (the rule
/// a job's work folder follows too: whoever could swap a folder on the way
/// could swap in their own native code).
fn private_folder(folder: &Path) -> Result<(), String> {
    DirBuilder::new().recursive(true).mode(0o700).create(folder).map_err(|e| format!("cannot create it: {e}"))?;
    let meta = std::fs::symlink_metadata(folder).map_err(|e| format!("cannot read it: {e}"))?;
    crate::folders::check_private(folder, &meta)?;
    crate::folders::check_path(folder).map(drop)
}

/// Write atomically (a reader sees the whole file or none) and owner-only,
/// synced to disk first if `sync`.
fn write_atomically(folder: &Path, path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let mut file = tempfile::NamedTempFile::new_in(folder)?;
    file.write_all(bytes)?;
    if sync {
        file.as_file().sync_data()?;
    }
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Keep at most `max_bytes` of artefacts in `folder`, removing the least
/// recently written first (plugins that were replaced leave theirs behind),
/// but never `keep`, the one just stored. Best effort: a file another
/// process removed first is fine.
fn evict_oldest(folder: &Path, max_bytes: u64, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    let mut artifacts: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "cwasm"))
        .filter_map(|p| {
            let meta = std::fs::metadata(&p).ok()?;
            Some((meta.modified().ok()?, meta.len(), p))
        })
        .collect();
    let mut total: u64 = artifacts.iter().map(|(_, len, _)| len).sum();
    if total <= max_bytes {
        return;
    }
    artifacts.sort();
    for (_, len, path) in &artifacts {
        if total <= max_bytes {
            break;
        }
        if path != keep && std::fs::remove_file(path).is_ok() {
            let _ = std::fs::remove_file(seal_path(path));
            total -= len;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::time::{Duration, SystemTime};

    use super::*;

    /// The smallest component: the preamble alone (magic, version 0x0d, layer 1).
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    fn artifact(root: &Path, digest: &str) -> PathBuf {
        let engine_folder = std::fs::read_dir(root).unwrap().next().expect("an engine folder").unwrap().path();
        engine_folder.join(format!("{digest}.cwasm"))
    }

    #[test]
    fn a_miss_stores_owner_only_and_a_hit_maps_without_rewriting() {
        let engine = Engine::default();
        let root = tempfile::tempdir().unwrap();
        let store = CompiledStore::open(&root.path().join("cache"), &engine, 1 << 30);
        store.component(&engine, Some(EMPTY_COMPONENT), "d1", None, &|| {}).unwrap();
        let path = artifact(&root.path().join("cache"), "d1");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777, 0o700);

        let written = meta.modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        store.component(&engine, Some(EMPTY_COMPONENT), "d1", None, &|| {}).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), written, "a hit must not rewrite");
    }

    #[test]
    fn a_built_artefact_is_taken_only_from_an_engine_it_fits_and_is_stored() {
        let engine = Engine::default();
        let bytes: &'static [u8] = Box::leak(engine.precompile_component(EMPTY_COMPONENT).unwrap().into_boxed_slice());
        let key = lava_engine_settings::compatibility_key(&engine);
        let root = tempfile::tempdir().unwrap();
        let store = CompiledStore::open(&root.path().join("cache"), &engine, 1 << 30);
        let fits = Precompiled { bytes, engine_key: key, sha256: "unused" };
        let (_, state) = store.component(&engine, Some(EMPTY_COMPONENT), "fits", Some(fits), &|| {}).unwrap().unwrap();
        assert_eq!(state, CacheState::Embedded);
        assert_eq!(std::fs::read(artifact(&root.path().join("cache"), "fits")).unwrap(), bytes, "stored as built");
        // Built for another engine: never stored nor copied, compiled instead.
        let other = Precompiled { bytes, engine_key: key ^ 1, sha256: "unused" };
        let (_, state) =
            store.component(&engine, Some(EMPTY_COMPONENT), "other", Some(other), &|| {}).unwrap().unwrap();
        assert_eq!(state, CacheState::Compiled);
        let (_, state) = CompiledStore::open(&root.path().join("nowhere\0"), &engine, 1)
            .component(&engine, Some(EMPTY_COMPONENT), "x", Some(other), &|| {})
            .unwrap()
            .unwrap();
        assert_eq!(state, CacheState::NotCached, "without a cache folder as well");
    }

    #[test]
    fn an_artefact_is_sealed_for_its_boot_and_after_a_restart_checked_before_it_is_mapped() {
        let engine = Engine::default();
        let root = tempfile::tempdir().unwrap();
        let in_boot =
            |boot: Option<&str>| CompiledStore::open_in_boot(root.path(), &engine, 1 << 30, boot.map(String::from));
        let (_, state) =
            in_boot(Some("boot-1")).component(&engine, Some(EMPTY_COMPONENT), "s1", None, &|| {}).unwrap().unwrap();
        assert_eq!(state, CacheState::Compiled);
        let path = artifact(root.path(), "s1");
        let stored = std::fs::read(&path).unwrap();
        let seal = seal_path(&path);
        assert_eq!(std::fs::read_to_string(&seal).unwrap(), format!("boot-1\n{}\n", sha256_hex(&stored)));

        // After a restart, checked and sealed for the new boot.
        let (_, state) = in_boot(Some("boot-2")).component(&engine, None, "s1", None, &|| {}).unwrap().expect("mapped");
        assert_eq!(state, CacheState::Mapped);
        assert!(std::fs::read_to_string(&seal).unwrap().starts_with("boot-2\n"));

        // Torn by a crash: one page never reached the disk. Not mapped after
        // the restart; compiled and stored again when the bytes are at hand.
        let mut torn = stored.clone();
        let middle = torn.len() / 2;
        torn[middle] ^= 0xff;
        std::fs::write(&path, &torn).unwrap();
        assert!(in_boot(Some("boot-3")).component(&engine, None, "s1", None, &|| {}).unwrap().is_none());
        let (_, state) =
            in_boot(Some("boot-3")).component(&engine, Some(EMPTY_COMPONENT), "s1", None, &|| {}).unwrap().unwrap();
        assert_eq!(state, CacheState::Compiled);
        assert_eq!(std::fs::read(&path).unwrap(), stored);

        // Without a seal (or with a broken one) it is not trusted either.
        std::fs::write(&seal, "garbage").unwrap();
        assert!(in_boot(Some("boot-4")).component(&engine, None, "s1", None, &|| {}).unwrap().is_none());
        std::fs::remove_file(&seal).unwrap();
        assert!(in_boot(Some("boot-4")).component(&engine, None, "s1", None, &|| {}).unwrap().is_none());
    }

    #[test]
    fn where_the_boot_is_unknown_artefacts_are_synced_and_need_no_seal() {
        let engine = Engine::default();
        let root = tempfile::tempdir().unwrap();
        let store = CompiledStore::open_in_boot(root.path(), &engine, 1 << 30, None);
        store.component(&engine, Some(EMPTY_COMPONENT), "u1", None, &|| {}).unwrap();
        let path = artifact(root.path(), "u1");
        assert!(!seal_path(&path).exists());
        let (_, state) = store.component(&engine, None, "u1", None, &|| {}).unwrap().expect("mapped");
        assert_eq!(state, CacheState::Mapped);
    }

    #[test]
    fn without_the_bytes_a_stored_artefact_is_mapped_and_a_missing_one_asked_for() {
        let engine = Engine::default();
        let root = tempfile::tempdir().unwrap();
        let store = CompiledStore::open(root.path(), &engine, 1 << 30);
        assert!(
            store.component(&engine, None, "d4", None, &|| {}).unwrap().is_none(),
            "nothing to map, nothing to compile"
        );
        store.component(&engine, Some(EMPTY_COMPONENT), "d4", None, &|| {}).unwrap();
        let (_, state) = store.component(&engine, None, "d4", None, &|| {}).unwrap().expect("mapped without the bytes");
        assert_eq!(state, CacheState::Mapped);
        std::fs::write(artifact(root.path(), "d4"), b"not an artifact").unwrap();
        assert!(store.component(&engine, None, "d4", None, &|| {}).unwrap().is_none(), "a damaged one needs the bytes");
    }

    #[test]
    fn a_damaged_artifact_is_recompiled_and_replaced() {
        let engine = Engine::default();
        let root = tempfile::tempdir().unwrap();
        let store = CompiledStore::open(root.path(), &engine, 1 << 30);
        store.component(&engine, Some(EMPTY_COMPONENT), "d2", None, &|| {}).unwrap();
        let path = artifact(root.path(), "d2");
        let good = std::fs::read(&path).unwrap();
        std::fs::write(&path, b"not an artifact").unwrap();
        store.component(&engine, Some(EMPTY_COMPONENT), "d2", None, &|| {}).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), good);
    }

    #[test]
    fn a_component_the_pool_cannot_hold_is_refused_without_recompiling() {
        // A component of one core module with a 2-page (128 KiB) memory.
        let module = b"\0asm\x01\0\0\0\x05\x03\x01\x00\x02";
        let mut component = b"\0asm\x0d\0\x01\0\x01".to_vec();
        component.push(module.len() as u8);
        component.extend(module);
        let engine_for = |memory_bytes| {
            let settings = lava_engine_settings::EngineSettings { slots: 2, memory_bytes, pooling: true };
            Engine::new(&lava_engine_settings::config(&settings)).unwrap()
        };
        let root = tempfile::tempdir().unwrap();
        let roomy = engine_for(1 << 20);
        CompiledStore::open(root.path(), &roomy, 1 << 30)
            .component(&roomy, Some(&component), "big", None, &|| {})
            .unwrap();
        let path = artifact(root.path(), "big");
        let written = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));

        let small = engine_for(1 << 16);
        let store = CompiledStore::open(root.path(), &small, 1 << 30);
        let error = store.component(&small, Some(&component), "big", None, &|| {}).map(|_| ()).unwrap_err();
        assert!(refused_by_pool(&error), "{error:#}");
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), written, "not compiled and stored again");
        let damaged = wasmtime::Error::msg("failed to parse precompiled artifact");
        assert!(!refused_by_pool(&damaged), "a damaged artefact is still recompiled");
    }

    #[test]
    fn a_folder_others_can_write_is_not_used() {
        let engine = Engine::default();
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let store = CompiledStore::open(root.path(), &engine, 1 << 30);
        assert!(store.folder.is_none());
        store.component(&engine, Some(EMPTY_COMPONENT), "d3", None, &|| {}).unwrap();
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0, "nothing is written there");
    }

    #[test]
    fn a_folder_on_a_path_others_can_change_is_not_used() {
        let engine = Engine::default();
        let parent = tempfile::tempdir().unwrap();
        std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let root = parent.path().join("cache");
        let store = CompiledStore::open(&root, &engine, 1 << 30);
        assert!(store.folder.is_none(), "another user could rename `cache` and put their own code there");
        store.component(&engine, Some(EMPTY_COMPONENT), "d4", None, &|| {}).unwrap();
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0, "nothing is written there");
    }

    /// Files of `len` bytes named 00.cwasm, 01.cwasm, …, oldest first.
    fn artifacts(folder: &Path, count: usize, len: usize) {
        let start = SystemTime::now() - Duration::from_secs(3600);
        for i in 0..count {
            let path = folder.join(format!("{i:02}.cwasm"));
            std::fs::write(&path, vec![0u8; len]).unwrap();
            File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(start + Duration::from_secs(i as u64))
                .unwrap();
        }
    }

    fn left(folder: &Path) -> Vec<String> {
        let mut left: Vec<String> =
            std::fs::read_dir(folder).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        left
    }

    #[test]
    fn the_oldest_artifacts_go_once_the_folder_is_over_its_bytes() {
        let folder = tempfile::tempdir().unwrap();
        artifacts(folder.path(), 12, 1000);
        std::fs::write(folder.path().join("notes.txt"), "kept").unwrap();
        std::fs::write(folder.path().join("00.sealed"), "boot\nsum\n").unwrap();
        std::fs::write(folder.path().join("05.sealed"), "boot\nsum\n").unwrap();
        evict_oldest(folder.path(), 10_000, &folder.path().join("11.cwasm"));
        let left = left(folder.path());
        assert_eq!(left.len(), 12, "ten artefacts fit in 10,000 bytes; the notes and a kept seal stay: {left:?}");
        assert_eq!(left[0], "02.cwasm", "the two oldest went, with the seal of one");
        assert!(left.contains(&"05.sealed".to_string()));
        assert!(left.contains(&"notes.txt".to_string()));
    }

    #[test]
    fn a_folder_of_many_plugins_keeps_them_all_within_the_bytes() {
        // The count bound this replaced kept 32: a folder of 40 evicted its own.
        let folder = tempfile::tempdir().unwrap();
        artifacts(folder.path(), 40, 1000);
        evict_oldest(folder.path(), 1 << 20, &folder.path().join("39.cwasm"));
        assert_eq!(left(folder.path()).len(), 40);
    }

    #[test]
    fn the_artifact_just_stored_stays_even_alone_over_the_bound() {
        let folder = tempfile::tempdir().unwrap();
        artifacts(folder.path(), 3, 1000);
        evict_oldest(folder.path(), 500, &folder.path().join("00.cwasm"));
        assert_eq!(left(folder.path()), ["00.cwasm"], "the others went; the one in use stayed");
    }
}
