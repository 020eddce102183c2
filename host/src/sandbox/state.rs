//! What one call's store holds: WASI with nothing granted, the call's
//! capabilities, and the bounds' bookkeeping. Dropped with the store at the
//! end of the call, so nothing passes between calls.

use std::time::Duration;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::CallLimits;
use crate::capabilities::{Capabilities, CapabilityView};

/// Table elements one instance may have (Rust guests use a few hundred).
pub(super) const MAX_TABLE_ELEMENTS: usize = 100_000;

/// One call's store data.
pub(crate) struct CallState {
    /// Built at the plugin's first WASI call: most plugins make none (the
    /// built-in imports no WASI at all), and building one seeds two random
    /// number generators and boxes its clocks on every call.
    pub(super) wasi: Option<WasiCtx>,
    pub(super) table: ResourceTable,
    pub(super) limiter: MemoryLimiter,
    pub(super) stderr: MemoryOutputPipe,
    pub(super) caps: Capabilities,
    /// A WASI sleep was cut short at the call's limit: if the call then ends
    /// past its limit, it failed, whatever the plugin returned.
    pub(super) sleep_cut: bool,
    pub(super) limits: CallLimits,
}

impl CallState {
    /// How long the plugin may still wait or run: the smaller of what is left
    /// of its own deadline (guest time, which includes WASI sleeps but not
    /// host capability calls) and of the wall-clock limit.
    pub(super) fn time_left(&self) -> Duration {
        let elapsed = self.caps.started().elapsed();
        let guest_time = elapsed.saturating_sub(self.caps.host_time());
        self.limits.deadline.saturating_sub(guest_time).min(self.limits.wall_limit.saturating_sub(elapsed))
    }
}

impl CapabilityView for CallState {
    fn capabilities(&mut self) -> &mut Capabilities {
        &mut self.caps
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let stderr = &self.stderr;
        let ctx = self.wasi.get_or_insert_with(|| WasiCtxBuilder::new().stderr(stderr.clone()).build());
        WasiCtxView { ctx, table: &mut self.table }
    }
}

/// Enforces the memory cap and remembers that it did, so the error can say so.
pub(super) struct MemoryLimiter {
    pub cap: usize,
    pub hit: bool,
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
