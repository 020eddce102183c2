//! The allocator for connectors built without WASI (`wasm32-unknown-unknown`,
//! as the built-ins are).
//!
//! Rust's own allocator on that target (dlmalloc) takes memory only by
//! growing it, never from the pages the module starts with, so every call of
//! a fresh instance grew its memory once and the host then shrank it back:
//! two page-protection changes per call, measured +6.6 µs on a 13 µs
//! validate. Talc, given the start pages first, allocates a call's working
//! set without growing (the initial memory is sized for it, see
//! `.cargo/config.toml`), and grows like talc's own WebAssembly source past
//! them.
//!
//! ```ignore
//! #[cfg(all(target_family = "wasm", target_os = "unknown"))]
//! #[global_allocator]
//! static HEAP: lava_guest_kit::heap::Heap = lava_guest_kit::heap::heap();
//! ```

use core::alloc::Layout;
use core::ptr::NonNull;

use talc::base::Talc;
use talc::base::binning::Binning;
use talc::cell::TalcSyncCell;
use talc::wasm::WasmBinning;

/// A global allocator: talc over the module's start pages, then grown memory.
pub type Heap = TalcSyncCell<StartPagesFirst, WasmBinning>;

/// A WebAssembly page.
const PAGE: usize = 64 << 10;

unsafe extern "C" {
    /// Where the linker put the end of the stack and static data.
    static __heap_base: u8;
}

/// Talc's memory source: the start pages from `__heap_base`, then pages
/// grown on demand, each run extending the heap it follows.
#[derive(Debug, Default)]
pub struct StartPagesFirst {
    /// The end of the heap so far; `None` before the first claim.
    end: Option<NonNull<u8>>,
}

impl StartPagesFirst {
    /// The source before any memory is claimed.
    pub const fn new() -> Self {
        Self { end: None }
    }
}

// SAFETY: claims only memory nothing else uses (above the stack and static
// data, or just grown), and never allocates.
unsafe impl talc::source::Source for StartPagesFirst {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        if talc.source.end.is_none() {
            let base = (&raw const __heap_base).cast_mut();
            let start_end = core::arch::wasm32::memory_size(0) * PAGE;
            if let Some(size) = start_end.checked_sub(base as usize).filter(|size| *size > 0) {
                // SAFETY: from the heap base to the end of the start pages is
                // unused by anything else, by the linker's layout.
                talc.source.end = unsafe { talc.claim(base, size) };
                if talc.source.end.is_some() {
                    return Ok(());
                }
            }
        }
        // Enough pages for the request with talc's bookkeeping; short, talc
        // asks again and more is grown.
        // Saturating: a request near the address space's size asks for more
        // pages than can be grown, and fails at once.
        let pages =
            layout.size().saturating_add(layout.align()).saturating_add(2 * talc::base::CHUNK_UNIT).div_ceil(PAGE);
        let grown = core::arch::wasm32::memory_grow(0, pages);
        if grown == usize::MAX {
            return Err(());
        }
        let base = (grown * PAGE) as *mut u8;
        let end = base.wrapping_add(pages * PAGE);
        talc.source.end = match talc.source.end.take() {
            // SAFETY: the grown pages follow the heap's end directly.
            Some(old_end) if old_end.as_ptr() == base => Some(unsafe { talc.extend(old_end, end) }),
            // SAFETY: just grown, used by nothing else.
            _ => unsafe { talc.claim(base, pages * PAGE) },
        };
        Ok(())
    }
}

/// The allocator, before any memory is claimed.
pub const fn heap() -> Heap {
    TalcSyncCell::new_wasm(StartPagesFirst::new())
}
