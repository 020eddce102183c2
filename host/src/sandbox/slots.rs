//! Admission to the instance pool.

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

/// Admission to the instance pool: a call takes a slot before its instance
/// exists and gives it back when its store is gone, so a burst beyond the
/// pool waits (bounded, first come first served) instead of failing to
/// instantiate. The pool's own count is the same, so a call holding a slot
/// always gets an instance. Waiting is async: a waiting call holds no thread.
pub(super) struct Slots {
    semaphore: Semaphore,
    pub total: u32,
}

/// A taken slot; dropping it frees the slot.
pub(super) type Slot<'a> = SemaphorePermit<'a>;

impl Slots {
    pub fn new(total: u32) -> Self {
        Self { semaphore: Semaphore::new(total as usize), total }
    }

    /// `count` slots (a big component's call takes several), waiting at
    /// most `wait` for them. All or none: a call never holds part of its slots.
    pub async fn take(&self, count: u32, wait: Duration) -> Option<Slot<'_>> {
        // The uncontended path needs no timer.
        if let Ok(slot) = self.semaphore.try_acquire_many(count) {
            return Some(slot);
        }
        tokio::time::timeout(wait, self.semaphore.acquire_many(count)).await.ok()?.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn slots_are_taken_up_to_the_total_and_the_next_waits_only_as_long_as_allowed() {
        let slots = Slots::new(2);
        let (a, b) = (slots.take(1, Duration::ZERO).await, slots.take(1, Duration::ZERO).await);
        assert!(a.is_some() && b.is_some());
        assert!(slots.take(1, Duration::ZERO).await.is_none(), "a third of two");
        let started = Instant::now();
        assert!(slots.take(1, Duration::from_millis(50)).await.is_none());
        assert!(started.elapsed() >= Duration::from_millis(50), "it waited before giving up");
        drop(a);
        assert!(slots.take(1, Duration::ZERO).await.is_some(), "a freed slot is taken at once");
    }

    #[tokio::test]
    async fn a_freed_slot_wakes_a_waiting_call() {
        let slots = Arc::new(Slots::new(1));
        let held = slots.take(1, Duration::ZERO).await.unwrap();
        // Woken by the freed slot, it returns at once; left to its timeout,
        // it would take the full 20 s.
        let waiter = {
            let slots = slots.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                slots.take(1, Duration::from_secs(20)).await.is_some() && started.elapsed() < Duration::from_secs(10)
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        assert!(waiter.await.unwrap(), "the waiter was woken for the freed slot, not by its timeout");
        assert_eq!(slots.semaphore.available_permits(), 1, "its slot came back");
    }

    #[tokio::test]
    async fn a_call_taking_several_slots_takes_all_or_none() {
        let slots = Slots::new(3);
        let one = slots.take(1, Duration::ZERO).await.unwrap();
        assert!(slots.take(3, Duration::ZERO).await.is_none(), "three of the two left");
        assert_eq!(slots.semaphore.available_permits(), 2, "the refused call holds none");
        let two = slots.take(2, Duration::ZERO).await.unwrap();
        assert!(slots.take(1, Duration::ZERO).await.is_none());
        drop(two);
        assert_eq!(slots.semaphore.available_permits(), 2, "both came back");
        drop(one);
    }
}
