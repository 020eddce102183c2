//! The host's caches: one bounded, single-flight cache that never keeps a
//! failure, used for resolved credentials (keyed by everything that changes
//! the result, never kept past their expiry minus a safety window) and for
//! connection specs read from a store (kept for `spec_cache_ttl`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::specs::{CachedSpec, SpecKey};
use crate::error::HostError;
use crate::results::{Job, Resolved};

/// Cached credentials are dropped this long before they expire, so a job never
/// gets credentials about to stop working (aws-vault's and botocore's margin).
pub const EXPIRY_SAFETY_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Everything that changes what a resolve returns. lava keys by conn id alone,
/// which hands one job's session (named after that job) to another, and keeps
/// serving credentials after the spec changed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey([u8; 32]);

impl CacheKey {
    /// One SHA-256 over every input, each length-prefixed so that no two
    /// different inputs run together into the same bytes; the spec enters as
    /// its digest. A fixed-size key makes a cache hit allocation-free.
    pub fn new(spec: &CachedSpec, conn_id: &str, job: &Job, template: &str) -> Self {
        let mut hasher = Sha256::new();
        for part in [job.realm.as_str(), conn_id, job.job_id.as_str(), template] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.update(spec.digest);
        Self(hasher.finalize().into())
    }
}

type Shared<V> = Result<Arc<V>, Arc<HostError>>;

/// What a cached value may say about its own end: resolved credentials
/// expire; a spec does not.
pub(crate) trait Expiring {
    /// When the value stops being usable, if it ever does.
    fn expiration(&self) -> Option<SystemTime> {
        None
    }
}

impl Expiring for Resolved {
    fn expiration(&self) -> Option<SystemTime> {
        self.expiration
    }
}

struct Entry<V> {
    value: Arc<V>,
    valid_until: Instant,
    last_used: u64,
}

struct State<K, V> {
    entries: HashMap<K, Entry<V>>,
    in_flight: HashMap<K, Arc<OnceCell<Shared<V>>>>,
    clock: u64,
}

/// A bounded LRU with single-flight loading.
pub(crate) struct Cache<K, V> {
    ttl: Duration,
    capacity: usize,
    state: Mutex<State<K, V>>,
}

/// Resolved connections, by everything that changes the result.
pub(crate) type CredentialCache = Cache<CacheKey, Resolved>;

/// Specs read from the store, by realm and conn id.
pub(crate) type SpecCache = Cache<SpecKey, CachedSpec>;

impl<K: Clone + Eq + std::hash::Hash, V: Expiring> Cache<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        let state = State { entries: HashMap::new(), in_flight: HashMap::new(), clock: 0 };
        Self { ttl, capacity, state: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K, V>> {
        // A panic elsewhere never leaves the map half-updated: recover it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh cached value, marked as just used.
    fn hit(state: &mut State<K, V>, key: &K, now: Instant) -> Option<Arc<V>> {
        state.clock += 1;
        let clock = state.clock;
        match state.entries.get_mut(key) {
            Some(entry) if entry.valid_until > now => {
                entry.last_used = clock;
                Some(entry.value.clone())
            }
            Some(_) => {
                state.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// The cached value for `key`, or the result of `resolve`, run once however
    /// many callers ask for the same key at the same time.
    pub async fn get_or_resolve<F, Fut>(&self, key: K, resolve: F) -> Result<Arc<V>, HostError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, HostError>>,
    {
        let cell = {
            let mut state = self.lock();
            if let Some(value) = Self::hit(&mut state, &key, Instant::now()) {
                return Ok(value);
            }
            state.in_flight.entry(key.clone()).or_default().clone()
        };
        // If this caller is dropped mid-resolve (its task cancelled), the
        // guard takes the unfilled cell out of the map, unless another
        // caller waits on it (one of them then runs its own resolve).
        let _guard = InFlightGuard { cache: self, key: key.clone(), cell: &cell };
        let mut ran_here = false;
        let shared = cell
            .get_or_init(|| {
                ran_here = true;
                async { resolve().await.map(Arc::new).map_err(Arc::new) }
            })
            .await
            .clone();
        if ran_here {
            let mut state = self.lock();
            // Only the round that ran removes its cell: a later round may have started.
            if state.in_flight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                state.in_flight.remove(&key);
            }
            if let Ok(value) = &shared {
                self.insert(&mut state, key, value.clone());
            }
        }
        drop(_guard);
        drop(cell);
        shared.map_err(|error| Arc::try_unwrap(error).unwrap_or_else(HostError::Shared))
    }

    fn insert(&self, state: &mut State<K, V>, key: K, value: Arc<V>) {
        let now = Instant::now();
        // Both durations are bounded (the TTL by the config check, expirations
        // at the plugin boundary); checked all the same, as a panic here
        // would take down every task sharing the cache.
        let mut valid_until = now.checked_add(self.ttl).unwrap_or(now);
        if let Some(expiration) = value.expiration() {
            let left = expiration.duration_since(SystemTime::now()).unwrap_or_default();
            let usable = left.saturating_sub(EXPIRY_SAFETY_WINDOW);
            valid_until = valid_until.min(now.checked_add(usable).unwrap_or(now));
        }
        if valid_until <= now || self.capacity == 0 {
            return;
        }
        if !state.entries.contains_key(&key) && state.entries.len() >= self.capacity {
            let oldest = state.entries.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                state.entries.remove(&oldest);
            }
        }
        state.clock += 1;
        let last_used = state.clock;
        state.entries.insert(key, Entry { value, valid_until, last_used });
    }

    /// How many entries are cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// How many resolves are in flight.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight.len()
    }
}

/// Removes an in-flight cell that nobody will fill: see `get_or_resolve`.
struct InFlightGuard<'a, K: Clone + Eq + std::hash::Hash, V: Expiring> {
    cache: &'a Cache<K, V>,
    key: K,
    cell: &'a Arc<OnceCell<Shared<V>>>,
}

impl<K: Clone + Eq + std::hash::Hash, V: Expiring> Drop for InFlightGuard<'_, K, V> {
    fn drop(&mut self) {
        let mut state = self.cache.lock();
        // Under the lock no new caller can take the cell: the map's reference
        // and this caller's are the only ones when nobody else waits.
        let ours_alone = state.in_flight.get(&self.key).is_some_and(|c| Arc::ptr_eq(c, self.cell))
            && Arc::strong_count(self.cell) == 2
            && !self.cell.initialized();
        if ours_alone {
            state.in_flight.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn resolved(expires_in: Option<Duration>) -> Resolved {
        Resolved {
            values: vec![],
            expiration: expires_in.map(|d| SystemTime::now() + d),
            aws: None,
            launcher: None,
            login: None,
        }
    }

    fn key(conn: &str, job: &str) -> CacheKey {
        let job = Job { realm: "prod".into(), job_id: job.into() };
        CacheKey::new(&CachedSpec::new(serde_json::json!({"conn_id": conn})), conn, &job, "t")
    }

    #[tokio::test]
    async fn hits_within_the_ttl_and_keys_by_job_and_spec() {
        let cache = CredentialCache::new(Duration::from_secs(60), 10);
        let calls = AtomicUsize::new(0);
        let resolve = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(resolved(None))
        };
        cache.get_or_resolve(key("a", "j1"), resolve).await.unwrap();
        cache.get_or_resolve(key("a", "j1"), resolve).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        cache.get_or_resolve(key("a", "j2"), resolve).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "another job is another key");
        let job = Job { realm: "prod".into(), job_id: "j1".into() };
        let changed =
            CacheKey::new(&CachedSpec::new(serde_json::json!({"conn_id": "a", "duration": "1h"})), "a", &job, "t");
        cache.get_or_resolve(changed, resolve).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "a changed spec is another key");
    }

    #[test]
    fn keys_do_not_run_inputs_together() {
        let spec = CachedSpec::new(serde_json::json!({}));
        let job = |realm: &str, id: &str| Job { realm: realm.into(), job_id: id.into() };
        assert_ne!(CacheKey::new(&spec, "c", &job("ab", "j"), "t"), CacheKey::new(&spec, "bc", &job("a", "j"), "t"));
        assert_ne!(CacheKey::new(&spec, "c", &job("r", "j"), "t"), CacheKey::new(&spec, "c", &job("r", "j"), "u"));
        assert_eq!(CacheKey::new(&spec, "c", &job("r", "j"), "t"), CacheKey::new(&spec, "c", &job("r", "j"), "t"));
    }

    #[tokio::test]
    async fn never_serves_past_expiry_minus_the_window() {
        let cache = CredentialCache::new(Duration::from_secs(600), 10);
        let calls = AtomicUsize::new(0);
        let resolve = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(resolved(Some(Duration::from_secs(4 * 60))))
        };
        cache.get_or_resolve(key("a", "j"), resolve).await.unwrap();
        cache.get_or_resolve(key("a", "j"), resolve).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "credentials inside the safety window are not cached");
        assert_eq!(cache.len(), 0);
    }

    #[tokio::test]
    async fn evicts_the_least_recently_used() {
        let cache = CredentialCache::new(Duration::from_secs(60), 2);
        let calls = AtomicUsize::new(0);
        let resolve = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(resolved(None))
        };
        cache.get_or_resolve(key("a", "j"), resolve).await.unwrap();
        cache.get_or_resolve(key("b", "j"), resolve).await.unwrap();
        cache.get_or_resolve(key("a", "j"), resolve).await.unwrap(); // a is now the most recent
        cache.get_or_resolve(key("c", "j"), resolve).await.unwrap(); // evicts b
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        cache.get_or_resolve(key("a", "j"), resolve).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "a stayed");
        cache.get_or_resolve(key("b", "j"), resolve).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4, "b was evicted");
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test]
    async fn an_entry_past_its_ttl_is_resolved_again() {
        let cache = CredentialCache::new(Duration::from_millis(50), 10);
        let calls = AtomicUsize::new(0);
        let resolve = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(resolved(None))
        };
        cache.get_or_resolve(key("a", "j"), resolve).await.unwrap();
        cache.get_or_resolve(key("a", "j"), resolve).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "within the TTL");
        tokio::time::sleep(Duration::from_millis(100)).await;
        cache.get_or_resolve(key("a", "j"), resolve).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "past the TTL");
    }

    /// Insertion order alone decides when nothing is used again: the oldest
    /// goes. Several caches, because a broken clock (ties) would pick one of
    /// the tied entries by hash order and could be lucky once.
    #[tokio::test]
    async fn without_reuse_the_oldest_insertion_is_evicted() {
        for _ in 0..8 {
            let cache = CredentialCache::new(Duration::from_secs(60), 4);
            for conn in ["a", "b", "c", "d", "e"] {
                cache.get_or_resolve(key(conn, "j"), || async { Ok(resolved(None)) }).await.unwrap();
            }
            let state = cache.lock();
            let kept = ["a", "b", "c", "d", "e"].map(|conn| state.entries.contains_key(&key(conn, "j")));
            assert_eq!(kept, [false, true, true, true, true]);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_resolve_once_and_failures_are_not_cached() {
        let cache = Arc::new(CredentialCache::new(Duration::from_secs(60), 10));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (cache, calls) = (cache.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_resolve(key("a", "j"), || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Err::<Resolved, _>(HostError::Spec("boom".into()))
                    })
                    .await
            }));
        }
        for task in tasks {
            let error = task.await.unwrap().unwrap_err();
            assert!(error.to_string().contains("boom"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one round for 100 concurrent callers");
        let error = cache.get_or_resolve(key("a", "j"), || async { Err(HostError::Spec("again".into())) }).await;
        assert!(error.unwrap_err().to_string().contains("again"), "the failure was not cached");
    }

    #[tokio::test]
    async fn a_cancelled_resolve_leaves_nothing_behind_and_the_next_one_runs() {
        let cache = CredentialCache::new(Duration::from_secs(60), 10);
        let never = cache.get_or_resolve(key("a", "j"), std::future::pending::<Result<Resolved, HostError>>);
        assert!(tokio::time::timeout(Duration::from_millis(20), never).await.is_err(), "it was still resolving");
        assert_eq!((cache.len(), cache.in_flight()), (0, 0), "no entry, and no cell left in flight");
        let calls = AtomicUsize::new(0);
        let resolve = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(resolved(None))
        };
        cache.get_or_resolve(key("a", "j"), resolve).await.unwrap();
        assert_eq!((calls.load(Ordering::SeqCst), cache.len(), cache.in_flight()), (1, 1, 0));
    }

    #[tokio::test]
    async fn when_the_first_caller_is_cancelled_a_waiting_one_resolves_instead() {
        let cache = Arc::new(CredentialCache::new(Duration::from_secs(60), 10));
        let first = tokio::spawn({
            let cache = cache.clone();
            async move { cache.get_or_resolve(key("a", "j"), std::future::pending).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = tokio::spawn({
            let cache = cache.clone();
            async move {
                cache
                    .get_or_resolve(key("a", "j"), || async {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(resolved(None))
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        first.abort();
        assert!(second.await.unwrap().is_ok(), "the waiter took over");
        assert_eq!((cache.len(), cache.in_flight()), (1, 0));
    }
}
