//! What one instance of a component takes from the instance pool, read from
//! its binary before anything is compiled.
//!
//! A Rust connector is one core module and a few adapters; a Python one
//! (componentize-py) instantiates 14 core modules and starts with 12–13 MiB
//! of linear memory (issue 17). The pool is sized per instance slot; a
//! component that needs more than one slot's share takes several slots per
//! call, so that concurrent calls wait for the pool instead of failing inside
//! it; and a component whose memory at start is over its limit is refused
//! with the figure before it is compiled.

use wasmparser::{Instance, Parser, Payload};

/// Core instances the pool holds per instance slot: a Python component's 14
/// fit in one slot. Only a count: the pool reserves nothing per core instance.
pub const CORE_INSTANCES_PER_SLOT: u32 = 16;
/// Linear memories the pool holds per instance slot.
pub const MEMORIES_PER_SLOT: u32 = 2;
/// Tables the pool holds per instance slot.
pub const TABLES_PER_SLOT: u32 = 8;

/// Why `wasm` is not a component, said so that its author knows the fix;
/// `None` when its header is a component's. Read from the first 8 bytes,
/// before any parsing.
pub fn not_a_component(wasm: &[u8]) -> Option<String> {
    const MAGIC: &[u8] = b"\0asm";
    match wasm.get(..8) {
        // Version 0x0d, layer 1: the component model's binary.
        Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => None,
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Some(
            "a core WebAssembly module, not a component: build it with `--target wasm32-wasip2` \
             (or make it one with `wasm-tools component new`)"
                .into(),
        ),
        Some(header) if header.starts_with(MAGIC) => {
            Some("a WebAssembly binary of a version or layer this host does not read; it takes components".into())
        }
        _ => Some("not a WebAssembly file: a component starts with the bytes `\\0asm`".into()),
    }
}

/// What one instance of a component takes from the pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Core module instances it creates.
    pub core_instances: u32,
    /// Linear memories its modules define (imported ones are shared, not new).
    pub memories: u32,
    /// Tables its modules define.
    pub tables: u32,
    /// The largest initial size of one of its memories, in bytes: what one
    /// call has before the plugin runs any code.
    pub initial_memory_bytes: u64,
}

impl Needs {
    /// Read `wasm` (a component, or a core module). Counts every module's
    /// definitions once and every `instantiate`: exact for what
    /// wasm-component-ld and componentize-py emit, where each module is
    /// instantiated once.
    pub fn of(wasm: &[u8]) -> Result<Self, String> {
        let mut needs = Needs::default();
        // The parser's own message and offset: its `Display` of some errors
        // is a `Debug` dump of byte arrays.
        let parse_error = |e: wasmparser::BinaryReaderError| {
            format!("not a valid WebAssembly component: {} (at byte {})", e.message(), e.offset())
        };
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(parse_error)? {
                Payload::InstanceSection(reader) => {
                    for instance in reader {
                        if let Instance::Instantiate { .. } = instance.map_err(parse_error)? {
                            needs.core_instances = needs.core_instances.saturating_add(1);
                        }
                    }
                }
                Payload::MemorySection(reader) => {
                    for memory in reader {
                        let memory = memory.map_err(parse_error)?;
                        let page = memory.page_size_log2.map_or(1 << 16, |log2| 1u64 << log2.min(32));
                        needs.memories = needs.memories.saturating_add(1);
                        needs.initial_memory_bytes =
                            needs.initial_memory_bytes.max(memory.initial.saturating_mul(page));
                    }
                }
                // The section's declared count, which a hostile binary may
                // inflate: saturating, it then asks for more slots than any
                // pool has and is refused, never wrapped round to a few.
                Payload::TableSection(reader) => needs.tables = needs.tables.saturating_add(reader.count()),
                _ => {}
            }
        }
        // A core module on its own is one instance.
        needs.core_instances = needs.core_instances.max(1);
        Ok(needs)
    }

    /// Instance slots one call takes: one, or more for a component that
    /// needs more than one slot's share of any pooled resource.
    pub fn slots(&self) -> u32 {
        [
            self.core_instances.div_ceil(CORE_INSTANCES_PER_SLOT),
            self.memories.div_ceil(MEMORIES_PER_SLOT),
            self.tables.div_ceil(TABLES_PER_SLOT),
        ]
        .into_iter()
        .max()
        .unwrap_or(1)
        .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with `memories` memories of `pages` pages and `tables` tables,
    /// encoded by hand (section ids 4 and 5 of the core binary format).
    fn module(memories: u8, pages: u8, tables: u8) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        let mut table_section = vec![tables];
        for _ in 0..tables {
            table_section.extend([0x70, 0x00, 0x01]); // funcref, min 1
        }
        wasm.extend([4, table_section.len() as u8]);
        wasm.extend(table_section);
        let mut memory_section = vec![memories];
        for _ in 0..memories {
            memory_section.extend([0x00, pages]); // no max, min `pages`
        }
        wasm.extend([5, memory_section.len() as u8]);
        wasm.extend(memory_section);
        wasm
    }

    #[test]
    fn a_modules_memories_tables_and_initial_size_are_counted() {
        let needs = Needs::of(&module(1, 3, 2)).unwrap();
        assert_eq!(needs, Needs { core_instances: 1, memories: 1, tables: 2, initial_memory_bytes: 3 << 16 });
        assert_eq!(needs.slots(), 1);
    }

    #[test]
    fn more_than_a_slots_share_takes_more_slots() {
        let needs = Needs { core_instances: 14, memories: 1, tables: 2, initial_memory_bytes: 0 };
        assert_eq!(needs.slots(), 1, "a Python component fits one slot");
        assert_eq!(Needs { core_instances: 17, ..needs }.slots(), 2);
        assert_eq!(Needs { memories: 5, ..needs }.slots(), 3);
        assert_eq!(Needs { tables: 9, ..needs }.slots(), 2);
    }

    #[test]
    fn an_inflated_table_count_saturates_instead_of_wrapping() {
        // A component of two core modules, each with a table section that
        // declares 2^32 - 1 tables and holds none.
        let module = b"\0asm\x01\0\0\0\x04\x05\xff\xff\xff\xff\x0f";
        let mut component = b"\0asm\x0d\0\x01\0".to_vec();
        for _ in 0..2 {
            component.extend([1, module.len() as u8]);
            component.extend(module);
        }
        let needs = Needs::of(&component).unwrap();
        assert_eq!(needs.tables, u32::MAX);
        assert_eq!(needs.slots(), u32::MAX.div_ceil(TABLES_PER_SLOT));
    }

    #[test]
    fn a_damaged_binary_is_an_error_not_a_guess() {
        let mut wasm = module(1, 1, 0);
        wasm.truncate(wasm.len() - 1);
        assert!(Needs::of(&wasm).is_err());
    }
}
