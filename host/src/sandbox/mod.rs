//! The sandbox: one wasmtime engine with a pool of instance slots, the
//! compile cache, and a fresh, bounded store for every call. It runs plugins
//! of any contract version through `contract/` and hands each call its
//! capabilities (`capabilities/`); it decides nothing a plugin may do.

mod clock;
pub(crate) mod compiled;
mod slots;
mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lava_engine_settings::{EngineSettings, Needs};
use wasmtime::component::{HasSelf, Linker, ResourceTable, ResourceTableError};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use crate::capabilities::{BoundHit, CallContext, Capabilities};
use crate::config::{MemoryLimits, WorkerConfig};
use crate::contract::{PluginInstance, PluginPre};
use crate::error::{LoadError, PluginError, PluginFailure};
use crate::sanitizer::sanitize_bytes;
use compiled::{CacheState, CompiledStore};
use slots::Slots;
pub(crate) use state::CallState;
use state::MemoryLimiter;

/// How often the epoch advances: a busy plugin yields, and its limits are
/// checked, once per tick.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// How much of a plugin's stderr (its panic message) is kept for the error.
const STDERR_CAPTURE_BYTES: usize = 4 * 1024;

/// Host resources (WASI streams, pollables) one call may hold at once. A
/// connector holds a handful; wasmtime's default of a million would let a
/// plugin that never drops them grow host memory by hundreds of MiB per call,
/// outside its own memory limit.
const MAX_HOST_RESOURCES: usize = 10_000;

/// Bounds applied to every call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallLimits {
    pub deadline: Duration,
    pub max_output_bytes: usize,
    /// Wall-clock limit, host time and WASI sleeps included.
    pub wall_limit: Duration,
    /// AWS capability calls allowed in one plugin call.
    pub capability_calls: u32,
    /// How long a call waits for a free instance slot.
    pub instance_wait: Duration,
}

/// What one plugin's calls may take: its memory limit and the instance
/// slots one call holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PluginBounds {
    pub memory_mib: u32,
    pub slots: u32,
}

/// Told of each plugin about to be compiled (the compile cache has no
/// artefact for it): its source and size in bytes. Compiling a large plugin
/// takes seconds, so whoever holds the host can say why it waits.
pub type CompileNotice = std::sync::Arc<dyn Fn(&str, u64) + Send + Sync>;

/// The engine, the linker with the host capabilities, and the call bounds.
pub(crate) struct Runtime {
    engine: Engine,
    compiled: CompiledStore,
    linker: Linker<CallState>,
    pub(crate) limits: CallLimits,
    slots: Slots,
    memory: MemoryLimits,
    pub(crate) compile_notice: Option<CompileNotice>,
}

impl Runtime {
    pub fn new(config: &WorkerConfig) -> Result<Self, LoadError> {
        let engine_error = |e: wasmtime::Error| LoadError::Engine(format!("{e:#}"));
        // The pool holds the largest memory any plugin may have; each call's
        // own limit is its store's limiter.
        let memory = config.memory_limits();
        let memory_bytes = usize::try_from(memory.ceiling()).unwrap_or(usize::MAX) << 20;
        let slots = config.max_concurrent_instances;
        let wasm =
            lava_engine_settings::config(&EngineSettings { slots, memory_bytes, pooling: config.pooling_allocator });
        let engine = Engine::new(&wasm).map_err(engine_error)?;
        let compiled = CompiledStore::open(&compile_cache_dir(config), &engine, config.compile_cache_max_mib << 20);
        start_epoch_ticker(&engine);

        let mut linker = Linker::new(&engine);
        // Rust's std for wasm32-wasip2 imports WASI even when it uses none of it:
        // link it with nothing granted (no files, env, args, sockets, stdio).
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_error)?;
        // Then replace its monotonic clock with one whose sleeps end by the
        // call's deadline (see `monotonic_clock::Host for CallState`).
        linker.allow_shadowing(true);
        monotonic_clock::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
            .map_err(engine_error)?;
        linker.allow_shadowing(false);
        crate::contract::add_to_linker(&mut linker).map_err(engine_error)?;
        let deadline = config.call_deadline();
        Ok(Self {
            engine,
            compiled,
            linker,
            limits: CallLimits {
                deadline,
                max_output_bytes: config.max_plugin_output_bytes,
                wall_limit: config.call_wall_limit(),
                capability_calls: config.max_capability_calls,
                instance_wait: Duration::from_millis(config.instance_wait_ms),
            },
            slots: Slots::new(slots),
            memory,
            compile_notice: None,
        })
    }

    /// The bounds of a plugin serving `types` that needs `needs`, or why it
    /// cannot run here. `types` is empty before the plugin has described
    /// itself: it then gets the largest limit any type may have.
    pub fn bounds_for(&self, types: &[String], needs: &Needs) -> Result<PluginBounds, String> {
        let memory_mib = if types.is_empty() { self.memory.ceiling() } else { self.memory.for_types(types) };
        let need_mib = needs.initial_memory_bytes.div_ceil(1 << 20);
        if needs.initial_memory_bytes > u64::from(memory_mib) << 20 {
            let setting = match types.first() {
                Some(t) => {
                    format!("set `plugin_memory_mib` for `{t}` (`[plugin_memory_mib]` then `{t} = {}`)", need_mib * 2)
                }
                None => "set `plugin_memory_mib` for its type".to_string(),
            };
            return Err(format!(
                "needs {:.1} MiB of linear memory before it runs any code, more than its limit of {memory_mib} MiB: \
                 {setting}, or raise `memory_limit_mib` to at least {need_mib}",
                needs.initial_memory_bytes as f64 / f64::from(1 << 20),
            ));
        }
        let slots = needs.slots();
        if slots > self.slots.total {
            return Err(format!(
                "needs {slots} instance slots per call ({} core instances, {} memories, {} tables), more than \
                 the {} of this worker: raise `max_concurrent_instances`",
                needs.core_instances, needs.memories, needs.tables, self.slots.total
            ));
        }
        Ok(PluginBounds { memory_mib, slots })
    }

    /// Where the plugin index is kept: beside the compiled components, in
    /// the compile cache's private folder (none when that is not in use).
    pub fn plugin_index_path(&self) -> Option<PathBuf> {
        self.compiled.folder().map(|folder| folder.join("plugin-index.json"))
    }

    /// Compile (or map from the compile cache, or take the built-in's
    /// precompiled `embedded` artefact) a component and link it. `sha256` is
    /// the hex digest of `bytes`. `Ok(None)` when `bytes` were not given and the cache has no
    /// usable artefact: the caller reads them and asks again.
    pub fn prepare(
        &self,
        source: &str,
        bytes: Option<&[u8]>,
        sha256: &str,
        embedded: Option<compiled::Precompiled>,
    ) -> Result<Option<(PluginPre<CallState>, CacheState)>, String> {
        let before_compile = || {
            if let (Some(notice), Some(bytes)) = (&self.compile_notice, bytes) {
                notice(source, bytes.len() as u64);
            }
        };
        let Some((component, cache)) = self
            .compiled
            .component(&self.engine, bytes, sha256, embedded, &before_compile)
            .map_err(|e| format!("not a WebAssembly component: {e:#}"))?
        else {
            return Ok(None);
        };
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| format!("needs something the host does not provide: {e:#}"))?;
        Ok(Some((PluginPre::new(pre)?, cache)))
    }

    /// Run `body` in a fresh instance of `pre`, within the call bounds, on
    /// the caller's task. Dropping the returned future stops the call: the
    /// plugin's fiber is unwound, its store dropped and its slot freed.
    pub async fn call<R>(
        &self,
        plugin: &Arc<str>,
        pre: &PluginPre<CallState>,
        bounds: PluginBounds,
        context: CallContext,
        body: impl AsyncFnOnce(&PluginInstance, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let fail = |failure| PluginError { plugin: plugin.to_string(), failure };
        // Declared before the store, so dropped after it: the slot is free
        // only once the instance is gone.
        let _slot = self.slots.take(bounds.slots, self.limits.instance_wait).await.ok_or_else(|| {
            fail(PluginFailure::NoFreeSlot { slots: self.slots.total, waited: self.limits.instance_wait })
        })?;
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        let caps = Capabilities::new(
            context,
            plugin.clone(),
            self.limits.capability_calls,
            self.limits.wall_limit,
            Instant::now(),
        );
        let state = CallState {
            wasi: None,
            table: {
                let mut table = ResourceTable::new();
                table.set_max_capacity(MAX_HOST_RESOURCES);
                table
            },
            limiter: MemoryLimiter { cap: usize::try_from(bounds.memory_mib).unwrap_or(usize::MAX) << 20, hit: false },
            stderr,
            caps,
            sleep_cut: false,
            limits: self.limits,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        // The callback runs at every tick of plugin time: it ends the call
        // at its limits, and otherwise yields to the caller's executor, so
        // that a busy plugin shares its runtime thread.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |store| {
            let state = store.data();
            if state.caps.past_wall_limit() {
                return Err(BoundHit::WallClock.into());
            }
            if state.time_left().is_zero() {
                return Err(Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store.set_hostcall_fuel(self.limits.max_output_bytes);
        let instance = match pre.instantiate(&mut store).await {
            Ok(instance) => instance,
            Err(e) => return Err(fail(self.classify(&store, bounds, e, true))),
        };
        let result = body(&instance, &mut store).await.map_err(|e| fail(self.classify(&store, bounds, e, false)))?;
        let state = store.data();
        // A cut sleep wakes at the limit, and the plugin may return before its
        // next epoch check: the call still ran out of time.
        if state.sleep_cut && state.time_left().is_zero() {
            return Err(fail(if state.caps.past_wall_limit() {
                PluginFailure::WallClock(self.limits.wall_limit)
            } else {
                PluginFailure::Deadline(self.limits.deadline)
            }));
        }
        Ok(result)
    }

    fn classify(
        &self,
        store: &Store<CallState>,
        bounds: PluginBounds,
        error: wasmtime::Error,
        instantiating: bool,
    ) -> PluginFailure {
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
            return PluginFailure::MemoryLimit(bounds.memory_mib);
        }
        // What the plugin said before it failed: its stderr, or without WASI
        // its last error-level log line (guest-kit logs a panic there).
        let mut stderr = sanitize_bytes(&store.data().stderr.contents());
        if stderr.is_empty() {
            stderr = store.data().caps.last_error().unwrap_or_default().to_string();
        }
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

/// Drive a host future to its end for a synchronous caller. Outside a tokio
/// runtime it runs on the calling thread (with wasmtime-wasi's shared
/// runtime for timers and I/O); inside one, where blocking in place would
/// panic, on a thread of its own.
pub(crate) fn block_on<F>(future: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    // Boxed once here, so that the layers below (the runtime's `block_on`,
    // its park loop) move a pointer instead of the future: a validate's is
    // ~3.8 KB, and those copies were ~0.3 µs of a ~11.5 µs validate.
    let future = Box::pin(future);
    if tokio::runtime::Handle::try_current().is_err() {
        return wasmtime_wasi::runtime::in_tokio(future);
    }
    std::thread::scope(|scope| {
        let driver = std::thread::Builder::new()
            .name("lava-conn-blocking".into())
            .spawn_scoped(scope, || wasmtime_wasi::runtime::in_tokio(future));
        match driver.map(|thread| thread.join()) {
            Ok(Ok(output)) => output,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(e) => panic!("cannot start a thread for a blocking host call: {e}"),
        }
    })
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
