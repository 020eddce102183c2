//! WASI's monotonic clock with every sleep cut to what is left of the call.
//!
//! wasmtime's own sleeps (`thread::sleep`, `subscribe-duration`, `poll`)
//! block the thread outside epoch checks, so a plugin could otherwise sleep
//! for an hour in any call. A cut sleep returns early; the plugin's next epoch
//! check then meets its deadline, and a call that returns before one still
//! fails (`Runtime::call` checks `sleep_cut`).

use std::time::{Duration, Instant};

use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::{DynPollable, Pollable};

use super::state::CallState;

/// The process's monotonic clock origin for `wasi:clocks/monotonic-clock`.
fn clock_origin() -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

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
