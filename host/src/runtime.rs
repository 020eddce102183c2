//! The sandbox: one wasmtime engine, and a fresh, bounded store for every call.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable, ResourceTableError};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap, UpdateDeadline,
};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{DynPollable, Pollable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::{PluginInstance, PluginPre};
use crate::capabilities::{Audit, AwsBackend, Grants};
use crate::compiled::{CacheState, CompiledStore};
use crate::config::WorkerConfig;
use crate::error::{LoadError, PluginError, PluginFailure};
use crate::text::sanitize_bytes;

/// How often the epoch advances; deadlines are whole ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// How much of a plugin's stderr (its panic message) is kept for the error.
const STDERR_CAPTURE_BYTES: usize = 4 * 1024;

/// Linear memory kept resident in a pooled slot between calls. A validate
/// touches well under this; a resolve a little more.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;

/// Table elements one instance may have (Rust guests use a few hundred).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Host resources (WASI streams, pollables) one call may hold at once. A
/// connector holds a handful; wasmtime's default of a million would let a
/// plugin that never drops them grow host memory by hundreds of MiB per call,
/// outside its own memory limit.
const MAX_HOST_RESOURCES: usize = 10_000;

/// Admission to the instance pool: a call takes a slot before its instance
/// exists and gives it back when its store is gone, so a burst beyond the
/// pool waits (bounded) instead of failing to instantiate. The pool's own
/// count is the same, so a call holding a slot always gets an instance.
pub(crate) struct Slots {
    free: Mutex<u32>,
    freed: Condvar,
    total: u32,
}

/// A taken slot; dropping it frees the slot.
struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(total: u32) -> Self {
        Self { free: Mutex::new(total), freed: Condvar::new(), total }
    }

    /// A slot, waiting at most `wait` for one.
    fn take(&self, wait: Duration) -> Option<Slot<'_>> {
        let deadline = Instant::now() + wait;
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            free = self.freed.wait_timeout(free, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        *free -= 1;
        Some(Slot(self))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

/// Bounds applied to every call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallLimits {
    pub deadline: Duration,
    pub memory_bytes: usize,
    pub memory_mib: u32,
    pub max_output_bytes: usize,
    /// Wall-clock limit, host time and WASI sleeps included.
    pub wall_limit: Duration,
    /// AWS capability calls allowed in one plugin call.
    pub capability_calls: u32,
    /// How long a call waits for a free instance slot.
    pub instance_wait: Duration,
}

/// A call bound that a host function hit: it ends the whole plugin call, so
/// that a plugin cannot catch the refusal and carry on.
#[derive(Debug)]
enum BoundHit {
    WallClock,
    CapabilityCalls,
}

impl std::fmt::Display for BoundHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BoundHit::WallClock => "the call's wall-clock limit was reached",
            BoundHit::CapabilityCalls => "the call's capability budget was spent",
        })
    }
}

impl std::error::Error for BoundHit {}

/// What one call's store holds. Dropped with the store at the end of the call,
/// so nothing passes between calls.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    stderr: MemoryOutputPipe,
    pub(crate) grants: Grants,
    pub(crate) backend: Arc<dyn AwsBackend>,
    pub(crate) settings: Arc<std::collections::BTreeMap<String, String>>,
    pub(crate) plugin: Arc<str>,
    pub(crate) audit: Audit,
    pub(crate) log_lines_left: u32,
    capability_calls_left: u32,
    /// A WASI sleep was cut short at the call's limit: if the call then ends
    /// past its limit, it failed, whatever the plugin returned.
    sleep_cut: bool,
    limits: CallLimits,
    started: Instant,
    /// Time spent inside host capability calls, which the deadline does not count.
    host_time: Duration,
}

impl CallState {
    /// Run a host capability call, keeping its time off the plugin's deadline:
    /// AWS calls have timeouts of their own, and a slow AWS must not be
    /// reported as a runaway plugin.
    pub(crate) fn in_host<R>(&mut self, call: impl FnOnce(&Self) -> R) -> R {
        let started = Instant::now();
        let result = call(self);
        self.host_time += started.elapsed();
        result
    }

    /// Take one AWS capability call from the budget; past the budget or the
    /// wall-clock limit, the plugin call ends here.
    pub(crate) fn spend_capability_call(&mut self) -> wasmtime::Result<()> {
        if self.started.elapsed() >= self.limits.wall_limit {
            return Err(BoundHit::WallClock.into());
        }
        if self.capability_calls_left == 0 {
            return Err(BoundHit::CapabilityCalls.into());
        }
        self.capability_calls_left -= 1;
        Ok(())
    }

    /// How long the plugin may still wait or run: the smaller of what is left
    /// of its own deadline (guest time, which includes WASI sleeps) and of the
    /// wall-clock limit.
    fn time_left(&self) -> Duration {
        let elapsed = self.started.elapsed();
        let guest_time = elapsed.saturating_sub(self.host_time);
        self.limits.deadline.saturating_sub(guest_time).min(self.limits.wall_limit.saturating_sub(elapsed))
    }
}

/// The process's monotonic clock origin for `wasi:clocks/monotonic-clock`.
fn clock_origin() -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// WASI's monotonic clock with every sleep cut to what is left of the call.
/// wasmtime's own sleeps (`thread::sleep`, `subscribe-duration`, `poll`) block
/// the thread outside epoch checks, so a plugin could otherwise sleep for an
/// hour in any call. A cut sleep returns early; the plugin's next epoch check
/// then meets its deadline, and a call that returns before one still fails
/// (`Runtime::call` checks `sleep_cut`).
impl monotonic_clock::Host for CallState {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(u64::try_from(clock_origin().elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let now = monotonic_clock::Host::now(self)?;
        self.sleep(Duration::from_nanos(when.saturating_sub(now)))
    }

    fn subscribe_duration(&mut self, duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.sleep(Duration::from_nanos(duration))
    }
}

impl CallState {
    fn sleep(&mut self, wanted: Duration) -> wasmtime::Result<Resource<DynPollable>> {
        let left = self.time_left();
        self.sleep_cut |= wanted > left;
        let until = tokio::time::Instant::now() + wanted.min(left);
        let sleep = self.table.push(CappedSleep(until))?;
        wasmtime_wasi::p2::subscribe(&mut self.table, sleep)
    }
}

/// A sleep that ends by the call's deadline.
struct CappedSleep(tokio::time::Instant);

#[async_trait::async_trait]
impl Pollable for CappedSleep {
    async fn ready(&mut self) {
        tokio::time::sleep_until(self.0).await;
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Enforces the memory cap and remembers that it did, so the error can say so.
struct MemoryLimiter {
    cap: usize,
    hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Everything a call needs besides the plugin: grants, backend, settings.
pub(crate) struct CallContext {
    pub grants: Grants,
    pub backend: Arc<dyn AwsBackend>,
    pub settings: Arc<std::collections::BTreeMap<String, String>>,
    pub audit: Audit,
}

/// The engine, the linker with the host capabilities, and the call bounds.
pub(crate) struct Runtime {
    engine: Engine,
    compiled: CompiledStore,
    linker: Linker<CallState>,
    pub(crate) limits: CallLimits,
    deadline_ticks: u64,
    slots: Slots,
}

impl Runtime {
    pub fn new(config: &WorkerConfig) -> Result<Self, LoadError> {
        let engine_error = |e: wasmtime::Error| LoadError::Engine(format!("{e:#}"));
        let memory_bytes = usize::try_from(config.memory_limit_mib).unwrap_or(usize::MAX) << 20;
        let mut wasm = Config::new();
        wasm.wasm_component_model(true);
        wasm.epoch_interruption(true);
        // Connectors are synchronous; the async machinery costs per call and per store.
        wasm.concurrency_support(false);
        let slots = config.max_concurrent_instances;
        let mut pool = PoolingAllocationConfig::default();
        // A Rust component has a handful of core instances; one memory, a few tables.
        pool.total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(8))
            .total_memories(slots.saturating_mul(2))
            .total_tables(slots.saturating_mul(8))
            .max_memory_size(memory_bytes)
            // Calls are synchronous and run on the caller's stack: no fiber
            // stacks. The default (1000 stacks, each with a guard page set
            // up by its own mprotect) cost every process ~10 ms to start.
            .total_stacks(0)
            // Reusing a slot is the hot path: reset what a call touched with
            // memset (only the pages it touched, where the kernel can say
            // which) instead of madvise, so the next call takes no page faults.
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES / 8)
            .pagemap_scan(wasmtime::Enabled::Auto);
        wasm.allocation_strategy(if config.pooling_allocator {
            InstanceAllocationStrategy::Pooling(pool)
        } else {
            InstanceAllocationStrategy::OnDemand
        });
        let engine = Engine::new(&wasm).map_err(engine_error)?;
        let compiled = CompiledStore::open(&compile_cache_dir(config), &engine);
        start_epoch_ticker(&engine);

        let mut linker = Linker::new(&engine);
        // Rust's std for wasm32-wasip2 imports WASI even when it uses none of it:
        // link it with nothing granted (no files, env, args, sockets, stdio).
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_error)?;
        // Then replace its monotonic clock with one whose sleeps end by the
        // call's deadline (see `monotonic_clock::Host for CallState`).
        linker.allow_shadowing(true);
        monotonic_clock::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
            .map_err(engine_error)?;
        linker.allow_shadowing(false);
        crate::bindings::add_to_linker(&mut linker).map_err(engine_error)?;
        let deadline = config.call_deadline();
        let deadline_ticks = ticks(deadline);
        Ok(Self {
            engine,
            compiled,
            linker,
            limits: CallLimits {
                deadline,
                memory_bytes,
                memory_mib: config.memory_limit_mib,
                max_output_bytes: config.max_plugin_output_bytes,
                wall_limit: config.call_wall_limit(),
                capability_calls: config.max_capability_calls,
                instance_wait: Duration::from_millis(config.instance_wait_ms),
            },
            slots: Slots::new(slots),
            deadline_ticks,
        })
    }

    /// Compile (or map from the compile cache) a component and link it.
    /// `sha256` is the hex digest of `bytes`.
    pub fn prepare(&self, bytes: &[u8], sha256: &str) -> Result<(PluginPre, CacheState), String> {
        let (component, cache) = self
            .compiled
            .component(&self.engine, bytes, sha256)
            .map_err(|e| format!("not a WebAssembly component: {e:#}"))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| format!("needs something the host does not provide: {e:#}"))?;
        Ok((PluginPre::new(pre)?, cache))
    }

    /// Run `body` in a fresh instance of `pre`, within the call bounds.
    pub fn call<R>(
        &self,
        plugin: &Arc<str>,
        pre: &PluginPre,
        context: CallContext,
        body: impl FnOnce(&PluginInstance, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let fail = |failure| PluginError { plugin: plugin.to_string(), failure };
        // Declared before the store, so dropped after it: the slot is free
        // only once the instance is gone.
        let _slot = self.slots.take(self.limits.instance_wait).ok_or_else(|| {
            fail(PluginFailure::NoFreeSlot { slots: self.slots.total, waited: self.limits.instance_wait })
        })?;
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
        let state = CallState {
            wasi,
            table: {
                let mut table = ResourceTable::new();
                table.set_max_capacity(MAX_HOST_RESOURCES);
                table
            },
            limiter: MemoryLimiter { cap: self.limits.memory_bytes, hit: false },
            stderr,
            grants: context.grants,
            backend: context.backend,
            settings: context.settings,
            plugin: plugin.clone(),
            audit: context.audit,
            log_lines_left: 256,
            capability_calls_left: self.limits.capability_calls,
            sleep_cut: false,
            limits: self.limits,
            started: Instant::now(),
            host_time: Duration::ZERO,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(self.deadline_ticks);
        store.epoch_deadline_callback(move |store| {
            let state = store.data();
            if state.started.elapsed() >= state.limits.wall_limit {
                return Err(BoundHit::WallClock.into());
            }
            match state.time_left() {
                left if !left.is_zero() => Ok(UpdateDeadline::Continue(ticks(left))),
                _ => Err(Trap::Interrupt.into()),
            }
        });
        store.set_hostcall_fuel(self.limits.max_output_bytes);
        let instance = match pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(e) => return Err(fail(self.classify(&store, e, true))),
        };
        let result = body(&instance, &mut store).map_err(|e| fail(self.classify(&store, e, false)))?;
        let state = store.data();
        // A cut sleep wakes at the limit, and the plugin may return before its
        // next epoch check: the call still ran out of time.
        if state.sleep_cut && state.time_left().is_zero() {
            return Err(fail(if state.started.elapsed() >= self.limits.wall_limit {
                PluginFailure::WallClock(self.limits.wall_limit)
            } else {
                PluginFailure::Deadline(self.limits.deadline)
            }));
        }
        Ok(result)
    }

    fn classify(&self, store: &Store<CallState>, error: wasmtime::Error, instantiating: bool) -> PluginFailure {
        match error.downcast_ref::<BoundHit>() {
            Some(BoundHit::WallClock) => return PluginFailure::WallClock(self.limits.wall_limit),
            Some(BoundHit::CapabilityCalls) => return PluginFailure::CapabilityBudget(self.limits.capability_calls),
            None => {}
        }
        if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return PluginFailure::Deadline(self.limits.deadline);
        }
        if matches!(error.downcast_ref::<ResourceTableError>(), Some(ResourceTableError::Full)) {
            return PluginFailure::HostResources(MAX_HOST_RESOURCES);
        }
        if store.data().limiter.hit {
            return PluginFailure::MemoryLimit(self.limits.memory_mib);
        }
        let stderr = sanitize_bytes(&store.data().stderr.contents());
        let detail = match error.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => format!("{error:#}"),
        };
        let message = if stderr.is_empty() { detail } else { format!("{detail}; plugin said: {stderr}") };
        if instantiating && error.downcast_ref::<Trap>().is_none() {
            PluginFailure::Instantiate(message)
        } else {
            PluginFailure::Trap(message)
        }
    }
}

/// Whole epoch ticks covering `duration` (at least one).
fn ticks(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros().div_ceil(EPOCH_TICK.as_micros())).unwrap_or(u64::MAX).max(1)
}

fn compile_cache_dir(config: &WorkerConfig) -> PathBuf {
    if let Some(dir) = &config.compile_cache {
        return dir.clone();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("lava-conn")
}

/// Advances the engine's epoch so deadlines fire; stops when the engine is dropped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("lava-conn-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("the epoch thread starts");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory-cap tests prove the limiter is installed on every store;
    /// this proves its table rule, which no Rust guest can reach (Rust
    /// emits no `table.grow`).
    #[test]
    fn the_limiter_refuses_tables_past_their_bound_and_memory_past_the_cap() {
        let mut limiter = MemoryLimiter { cap: 1 << 20, hit: false };
        assert!(limiter.table_growing(0, MAX_TABLE_ELEMENTS, None).unwrap());
        assert!(!limiter.table_growing(0, MAX_TABLE_ELEMENTS + 1, None).unwrap());
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!limiter.hit, "growth within the cap is not a hit");
        assert!(!limiter.memory_growing(0, (1 << 20) + 1, None).unwrap());
        assert!(limiter.hit);
    }
}
