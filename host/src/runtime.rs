//! The sandbox: one wasmtime engine, and a fresh, bounded store for every call.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap, UpdateDeadline,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::{Plugin, PluginPre};
use crate::capabilities::{AwsBackend, Grants};
use crate::compiled::CompiledStore;
use crate::config::WorkerConfig;
use crate::error::{LoadError, PluginError, PluginFailure};

/// How often the epoch advances; deadlines are whole ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// How much of a plugin's stderr (its panic message) is kept for the error.
const STDERR_CAPTURE_BYTES: usize = 4 * 1024;

/// Linear memory kept resident in a pooled slot between calls. A validate
/// touches well under this; a resolve a little more.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;

/// Table elements one instance may have (Rust guests use a few hundred).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Bounds applied to every call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallLimits {
    pub deadline: Duration,
    pub memory_bytes: usize,
    pub memory_mib: u32,
    pub max_output_bytes: usize,
}

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
    pub(crate) log_lines_left: u32,
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
}

/// The engine, the linker with the host capabilities, and the call bounds.
pub(crate) struct Runtime {
    engine: Engine,
    compiled: CompiledStore,
    linker: Linker<CallState>,
    pub(crate) limits: CallLimits,
    deadline_ticks: u64,
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
        Plugin::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state).map_err(engine_error)?;
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
            },
            deadline_ticks,
        })
    }

    /// Compile (or map from the compile cache) a component and link it.
    /// `sha256` is the hex digest of `bytes`.
    pub fn prepare(&self, bytes: &[u8], sha256: &str) -> Result<PluginPre<CallState>, String> {
        let component = self
            .compiled
            .component(&self.engine, bytes, sha256)
            .map_err(|e| format!("not a WebAssembly component: {e:#}"))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| format!("needs something the host does not provide: {e:#}"))?;
        PluginPre::new(pre).map_err(|e| format!("does not export the lava:connector/connector interface: {e:#}"))
    }

    /// Run `body` in a fresh instance of `pre`, within the call bounds.
    pub fn call<R>(
        &self,
        plugin: &Arc<str>,
        pre: &PluginPre<CallState>,
        context: CallContext,
        body: impl FnOnce(&Plugin, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
        let state = CallState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter { cap: self.limits.memory_bytes, hit: false },
            stderr,
            grants: context.grants,
            backend: context.backend,
            settings: context.settings,
            plugin: plugin.clone(),
            log_lines_left: 256,
            started: Instant::now(),
            host_time: Duration::ZERO,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(self.deadline_ticks);
        let deadline = self.limits.deadline;
        store.epoch_deadline_callback(move |store| {
            let state = store.data();
            let guest_time = state.started.elapsed().saturating_sub(state.host_time);
            match deadline.checked_sub(guest_time) {
                Some(left) if !left.is_zero() => Ok(UpdateDeadline::Continue(ticks(left))),
                _ => Err(Trap::Interrupt.into()),
            }
        });
        store.set_hostcall_fuel(self.limits.max_output_bytes);
        let fail = |failure| PluginError { plugin: plugin.to_string(), failure };
        let instance = match pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(e) => return Err(fail(self.classify(&store, e, true))),
        };
        body(&instance, &mut store).map_err(|e| fail(self.classify(&store, e, false)))
    }

    fn classify(&self, store: &Store<CallState>, error: wasmtime::Error, instantiating: bool) -> PluginFailure {
        if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return PluginFailure::Deadline(self.limits.deadline);
        }
        if store.data().limiter.hit {
            return PluginFailure::MemoryLimit(self.limits.memory_mib);
        }
        let stderr = printable(&store.data().stderr.contents());
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

/// Plugin text made safe for one log or error line: no control characters, bounded.
pub(crate) fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len().min(1024));
    for c in text.trim().chars().take(1024) {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out
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
