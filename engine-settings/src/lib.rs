//! lava-conn's wasmtime engine settings, in one place: the host runs plugins
//! with them, and its build script precompiles the built-in components with
//! the very same ones, so that a first run maps the built-in instead of
//! compiling it (wasmtime refuses an artefact whose settings, target or CPU
//! features differ, and the host then compiles as before).

pub use wasmtime;

mod needs;
pub use needs::{CORE_INSTANCES_PER_SLOT, MEMORIES_PER_SLOT, Needs, TABLES_PER_SLOT, not_a_component};

use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Linear memory kept resident in a pooled slot between calls. A validate
/// touches well under this; a resolve a little more.
pub const KEEP_RESIDENT_BYTES: usize = 2 << 20;

/// What the engine's settings depend on in the worker's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineSettings {
    /// Instance slots (`max_concurrent_instances`).
    pub slots: u32,
    /// The largest linear memory the pool holds for one instance, in bytes:
    /// the largest of the worker's memory limits (`memory_limit_mib`,
    /// `plugin_memory_mib`). Each call's own limit is its store's.
    pub memory_bytes: usize,
    /// Pre-allocated instance slots (`pooling_allocator`).
    pub pooling: bool,
}

impl Default for EngineSettings {
    /// The worker configuration's defaults: what the built-ins are
    /// precompiled for.
    fn default() -> Self {
        Self { slots: 64, memory_bytes: 64 << 20, pooling: true }
    }
}

/// The engine configuration for `settings`.
pub fn config(settings: &EngineSettings) -> Config {
    let mut wasm = Config::new();
    wasm.wasm_component_model(true);
    wasm.epoch_interruption(true);
    // Plugin calls run on fibers, driven by the caller's task: an AWS
    // capability call suspends the plugin and is awaited on the caller's
    // runtime, and a busy plugin yields at every epoch tick, so no runtime
    // thread ever blocks on a plugin (issue 14: the hop to tokio's blocking
    // pool and back cost ~60 µs per resolve). wasmtime 48 has this on with
    // its `async` feature; calls use `*_async`. Component-model async
    // (streams, futures, tasks) is not in the contract, and costs per call
    // and per store.
    wasm.concurrency_support(false);
    // Neither is needed to run, trap or report a plugin failure, and both
    // are written into every compiled artefact, the built-in's included,
    // which a first run writes to the compile cache and syncs (issue 15's
    // cold start). `.eh_frame` only lets native unwinders (gdb, perf's DWARF
    // mode) walk through wasm frames; wasmtime walks them by frame pointer.
    // The address map only adds wasm byte offsets to a trap's backtrace,
    // and guests are built stripped, so offsets are all it would show. The
    // aws artefact, measured: 3,129,328 bytes with both, of which .eh_frame
    // 177,420 and the address map 314,122.
    wasm.native_unwind_info(false);
    wasm.generate_address_map(false);
    let slots = settings.slots;
    let mut pool = PoolingAllocationConfig::default();
    // Per slot, what the components we know need (`Needs`): a Rust one has
    // a handful of core instances, a Python one 14; one memory, a few
    // tables. A component that needs more takes several slots per call.
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_SLOT))
        .total_memories(slots.saturating_mul(MEMORIES_PER_SLOT))
        .total_tables(slots.saturating_mul(TABLES_PER_SLOT))
        .max_memory_size(settings.memory_bytes)
        // One fiber stack per slot. The default (1000 stacks, each with a
        // guard page set up by its own mprotect) cost every process ~10 ms
        // to start.
        .total_stacks(slots)
        // Reusing a slot is the hot path: reset what a call touched with
        // memset (only the pages it touched, where the kernel can say which)
        // instead of madvise, so the next call takes no page faults.
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES / 8)
        .pagemap_scan(wasmtime::Enabled::Auto);
    // Fiber stacks are not zeroed between calls (wasmtime's default). Wasm
    // cannot address them (its own stack is in its linear memory, which is
    // reset), and before fibers its frames ran on the caller's thread stack,
    // never zeroed either. Zeroing cost ~6 µs and five page faults per
    // uncached resolve against moto (of ~77 µs the host spent).
    wasm.allocation_strategy(if settings.pooling {
        InstanceAllocationStrategy::Pooling(pool)
    } else {
        InstanceAllocationStrategy::OnDemand
    });
    wasm
}

/// A key that is equal for two engines exactly when wasmtime would accept
/// one's compiled artefacts in the other (its compatibility hash: version,
/// settings, target, CPU features). Names the compile cache's folder, and
/// tells whether the built-in precompiled at build time fits the running
/// engine before anything is written or copied.
pub fn compatibility_key(engine: &wasmtime::Engine) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}
