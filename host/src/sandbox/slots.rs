//! Admission to the instance pool.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Admission to the instance pool: a call takes a slot before its instance
/// exists and gives it back when its store is gone, so a burst beyond the
/// pool waits (bounded) instead of failing to instantiate. The pool's own
/// count is the same, so a call holding a slot always gets an instance.
pub(super) struct Slots {
    free: Mutex<u32>,
    freed: Condvar,
    pub total: u32,
}

/// A taken slot; dropping it frees the slot.
pub(super) struct Slot<'a>(&'a Slots);

impl Slots {
    pub fn new(total: u32) -> Self {
        Self { free: Mutex::new(total), freed: Condvar::new(), total }
    }

    /// A slot, waiting at most `wait` for one.
    pub fn take(&self, wait: Duration) -> Option<Slot<'_>> {
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
