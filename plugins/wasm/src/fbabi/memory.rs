//! Where the host puts a call's inputs in the module's linear memory, and how it reads the
//! result back.
//!
//! Fluent Bit copies the tag and the record into the module with WAMR's
//! `wasm_runtime_module_malloc`, which uses, in this order:
//!
//! 1. the module's own allocator when it exports one: `malloc`/`free` (wasi-libc, TinyGo, or
//!    any module that exports them), or AssemblyScript's runtime (`__new` plus `__pin` or the
//!    older `__retain`, released with `__unpin` or `__release`; built with `--exportRuntime`);
//! 2. else a heap WAMR inserts into the module's memory at instantiation (`wasm_heap_size`).
//!
//! Weir does the same in the same order ([`Allocator`]). In the second case the host grows
//! the memory by whole pages and keeps those pages for itself: allocators that take their
//! memory with `memory.grow` (Rust's, Zig's, wasi-libc's, C without libc) never hand out
//! pages they did not grow. Modules whose allocator assumes it owns all the memory there is
//! (Go's runtime; AssemblyScript's without `--exportRuntime`) must export their allocator, as
//! they must for Fluent Bit.
//!
//! Unlike Fluent Bit, the host allocates one buffer per instance and reuses it for every call,
//! growing it when a record needs more (the old one is freed), so the guest heap never grows
//! with the number of records.

use wasmtime::{AsContextMut, Instance, Memory, TypedFunc};
use weir_event::event::skip_value;

/// Bytes in a WebAssembly page.
pub const PAGE: u64 = 65_536;

/// The smallest buffer the host asks for: most records fit.
const MIN_BUFFER: u32 = 4096;

/// How the host obtains memory inside the module.
#[derive(Clone)]
pub enum Allocator {
    Libc {
        malloc: TypedFunc<i32, i32>,
        free: TypedFunc<i32, ()>,
    },
    AssemblyScript {
        new: TypedFunc<(i32, i32), i32>,
        pin: TypedFunc<i32, i32>,
        unpin: TypedFunc<i32, ()>,
    },
    /// Pages the host grows at the end of the memory and keeps.
    HostPages,
}

impl Allocator {
    /// The module's allocator, if it exports one of the kinds WAMR recognises.
    pub fn detect(store: &mut impl AsContextMut, instance: &Instance) -> Self {
        let mut store = store.as_context_mut();
        let malloc = instance.get_typed_func::<i32, i32>(&mut store, "malloc");
        let free = instance.get_typed_func::<i32, ()>(&mut store, "free");
        if let (Ok(malloc), Ok(free)) = (malloc, free) {
            return Allocator::Libc { malloc, free };
        }
        let new = instance.get_typed_func::<(i32, i32), i32>(&mut store, "__new");
        let pin = instance
            .get_typed_func::<i32, i32>(&mut store, "__pin")
            .or_else(|_| instance.get_typed_func::<i32, i32>(&mut store, "__retain"));
        let unpin = instance
            .get_typed_func::<i32, ()>(&mut store, "__unpin")
            .or_else(|_| instance.get_typed_func::<i32, ()>(&mut store, "__release"));
        if let (Ok(new), Ok(pin), Ok(unpin)) = (new, pin, unpin) {
            return Allocator::AssemblyScript { new, pin, unpin };
        }
        Allocator::HostPages
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Allocator::Libc { .. } => "the module's malloc/free",
            Allocator::AssemblyScript { .. } => "the module's AssemblyScript runtime",
            Allocator::HostPages => "pages the host adds to the module's memory",
        }
    }
}

/// Why the host could not place a call's inputs in the module.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// The module's allocator trapped (or ran out of time): the instance is unusable.
    #[error("{0}")]
    Guest(wasmtime::Error),
    /// The allocator returned no memory, or the memory cannot grow that far.
    #[error("no room for {0} bytes in the module's memory")]
    NoRoom(u64),
}

/// The host's buffer in one instance's memory, reused from call to call.
#[derive(Debug, Default)]
pub struct Buffer {
    ptr: u32,
    cap: u32,
}

/// Where the inputs of one call were put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub tag: u32,
    pub record: u32,
}

/// Rounds `n` up to a multiple of 8.
fn align8(n: u64) -> u64 {
    n.div_ceil(8) * 8
}

impl Buffer {
    /// Copies `tag` and `record`, each followed by a NUL byte as Fluent Bit passes them, into
    /// the module's memory; grows the buffer first if they do not fit.
    ///
    /// `raise_limit` is called with the bytes the host is about to add to the memory itself
    /// (host pages), so the store's memory limit can make room for them: the module's own
    /// allowance is not spent on the host's buffer.
    pub fn place<T>(
        &mut self,
        store: &mut wasmtime::Store<T>,
        memory: &Memory,
        alloc: &Allocator,
        tag: &[u8],
        record: &[u8],
        raise_limit: impl FnOnce(&mut T, u64),
    ) -> Result<Placed, PlaceError> {
        let record_at = align8(tag.len() as u64 + 1);
        let need = record_at + record.len() as u64 + 1;
        if need > u64::from(self.cap) {
            self.grow(store, memory, alloc, need, raise_limit)?;
        }
        let base = u64::from(self.ptr);
        let data = memory.data_mut(&mut *store);
        let tag_at = usize::try_from(base).map_err(|_| PlaceError::NoRoom(need))?;
        let end = usize::try_from(base + need).map_err(|_| PlaceError::NoRoom(need))?;
        let Some(dst) = data.get_mut(tag_at..end) else {
            return Err(PlaceError::NoRoom(need));
        };
        let r = record_at as usize;
        dst[..tag.len()].copy_from_slice(tag);
        dst[tag.len()] = 0;
        dst[r..r + record.len()].copy_from_slice(record);
        dst[r + record.len()] = 0;
        Ok(Placed {
            tag: self.ptr,
            record: u32::try_from(base + record_at).map_err(|_| PlaceError::NoRoom(need))?,
        })
    }

    fn grow<T>(
        &mut self,
        store: &mut wasmtime::Store<T>,
        memory: &Memory,
        alloc: &Allocator,
        need: u64,
        raise_limit: impl FnOnce(&mut T, u64),
    ) -> Result<(), PlaceError> {
        // Doubling keeps reallocations rare when records grow slowly.
        let size = need.max(u64::from(self.cap) * 2).max(u64::from(MIN_BUFFER));
        let size32 = u32::try_from(size).map_err(|_| PlaceError::NoRoom(need))?;
        match alloc {
            Allocator::Libc { malloc, free } => {
                if self.cap > 0 {
                    free.call(&mut *store, self.ptr as i32)
                        .map_err(PlaceError::Guest)?;
                    self.cap = 0;
                }
                let p = malloc
                    .call(&mut *store, size32 as i32)
                    .map_err(PlaceError::Guest)? as u32;
                if p == 0 {
                    return Err(PlaceError::NoRoom(need));
                }
                self.ptr = p;
            }
            Allocator::AssemblyScript { new, pin, unpin } => {
                if self.cap > 0 {
                    unpin
                        .call(&mut *store, self.ptr as i32)
                        .map_err(PlaceError::Guest)?;
                    self.cap = 0;
                }
                // Class id 0 is an ArrayBuffer, as WAMR asks for.
                let p = new
                    .call(&mut *store, (size32 as i32, 0))
                    .map_err(PlaceError::Guest)? as u32;
                if p == 0 {
                    return Err(PlaceError::NoRoom(need));
                }
                pin.call(&mut *store, p as i32).map_err(PlaceError::Guest)?;
                self.ptr = p;
            }
            Allocator::HostPages => {
                // The old pages stay in the memory, unused: the total is at most twice the
                // largest record, since the buffer doubles.
                let pages = size.div_ceil(PAGE);
                raise_limit(store.data_mut(), pages * PAGE);
                let old = memory
                    .grow(&mut *store, pages)
                    .map_err(|_| PlaceError::NoRoom(need))?;
                let base = old
                    .checked_mul(PAGE)
                    .and_then(|b| u32::try_from(b).ok())
                    .ok_or(PlaceError::NoRoom(need))?;
                self.ptr = base;
                let usable = (pages * PAGE).min(u64::from(u32::MAX - base));
                self.cap = u32::try_from(usable).unwrap_or(u32::MAX);
                return Ok(());
            }
        }
        self.cap = size32;
        // The allocator may have grown the memory: check the buffer lies inside it.
        let end = u64::from(self.ptr) + size;
        if end > memory.data_size(&*store) as u64 {
            self.cap = 0;
            return Err(PlaceError::NoRoom(need));
        }
        Ok(())
    }
}

/// Why a result could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultError {
    #[error("the result pointer 0x{0:x} is outside the module's memory")]
    OutOfBounds(u32),
    #[error("the result at 0x{0:x} has no terminating NUL before the end of the memory")]
    Unterminated(u32),
    #[error("the result at 0x{at:x} is not valid MessagePack: {message}")]
    BadMsgpack { at: u32, message: String },
}

/// The NUL-terminated string at `ptr`, without its NUL; bounded by the memory's size.
pub fn c_string(mem: &[u8], ptr: u32) -> Result<&[u8], ResultError> {
    let rest = mem
        .get(ptr as usize..)
        .ok_or(ResultError::OutOfBounds(ptr))?;
    let len = memchr::memchr(0, rest).ok_or(ResultError::Unterminated(ptr))?;
    Ok(&rest[..len])
}

/// The MessagePack value that starts at `ptr`: its length comes from its encoding (so zero
/// bytes inside it are data), bounded by the memory's size.
pub fn msgpack_value(mem: &[u8], ptr: u32) -> Result<&[u8], ResultError> {
    let rest = mem
        .get(ptr as usize..)
        .filter(|r| !r.is_empty())
        .ok_or(ResultError::OutOfBounds(ptr))?;
    let end = skip_value(rest, 0).map_err(|e| ResultError::BadMsgpack {
        at: ptr,
        message: e.to_string(),
    })?;
    Ok(&rest[..end])
}

/// `len` bytes at `ptr` (the value–length form of the result).
pub fn span(mem: &[u8], ptr: u32, len: u32) -> Result<&[u8], ResultError> {
    let start = ptr as usize;
    start
        .checked_add(len as usize)
        .and_then(|end| mem.get(start..end))
        .ok_or(ResultError::OutOfBounds(ptr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_strings_stop_at_nul_and_at_the_memory_end() {
        let mem = b"ab\0cd";
        assert_eq!(c_string(mem, 0).unwrap(), b"ab");
        assert_eq!(c_string(mem, 2).unwrap(), b"");
        assert_eq!(c_string(mem, 3), Err(ResultError::Unterminated(3)));
        assert_eq!(c_string(mem, 6), Err(ResultError::OutOfBounds(6)));
    }

    #[test]
    fn msgpack_values_may_hold_zero_bytes() {
        // {"a": 0, "b": "x\0y"} then garbage.
        let mut mem = vec![0x82, 0xa1, b'a', 0x00, 0xa1, b'b', 0xa3, b'x', 0, b'y'];
        let n = mem.len();
        mem.extend_from_slice(&[0xff, 0x00, 0x13]);
        assert_eq!(msgpack_value(&mem, 0).unwrap().len(), n);
        // A map that claims more than the memory holds.
        assert!(matches!(
            msgpack_value(&[0x82, 0xa1, b'a'], 0),
            Err(ResultError::BadMsgpack { .. })
        ));
        assert_eq!(msgpack_value(&mem, 99), Err(ResultError::OutOfBounds(99)));
    }

    #[test]
    fn spans_are_bounded() {
        assert_eq!(span(b"abcd", 1, 2).unwrap(), b"bc");
        assert!(span(b"abcd", 3, 2).is_err());
        assert!(span(b"abcd", u32::MAX, u32::MAX).is_err());
    }

    #[test]
    fn host_pages_are_reused_and_grown() {
        let engine = crate::engine::engine();
        let m = wasmtime::Module::new(engine, "(module (memory (export \"memory\") 1))").unwrap();
        let mut store = wasmtime::Store::new(engine, 0u64);
        let i = wasmtime::Instance::new(&mut store, &m, &[]).unwrap();
        let mem = i.get_memory(&mut store, "memory").unwrap();
        let alloc = Allocator::detect(&mut store, &i);
        assert!(matches!(alloc, Allocator::HostPages));
        let mut buf = Buffer::default();
        let raise = |added: &mut u64, n: u64| *added += n;
        let p = buf
            .place(&mut store, &mem, &alloc, b"tag", b"{}", raise)
            .unwrap();
        assert_eq!(p.tag, PAGE as u32, "first page is the module's");
        assert_eq!(p.record, PAGE as u32 + 8);
        let data = mem.data(&store);
        assert_eq!(&data[p.tag as usize..p.tag as usize + 4], b"tag\0");
        assert_eq!(&data[p.record as usize..p.record as usize + 3], b"{}\0");
        assert_eq!(*store.data(), PAGE);
        // Same buffer for a second call.
        let q = buf
            .place(&mut store, &mem, &alloc, b"t", b"x", raise)
            .unwrap();
        assert_eq!(q.tag, p.tag);
        // A record larger than the buffer: new pages.
        let big = vec![b'x'; 100_000];
        let r = buf
            .place(&mut store, &mem, &alloc, b"t", &big, raise)
            .unwrap();
        assert_eq!(r.tag, 2 * PAGE as u32);
        assert_eq!(mem.data_size(&store) as u64, 4 * PAGE);
    }

    #[test]
    fn the_modules_malloc_is_used_and_the_buffer_freed_when_replaced() {
        // A bump allocator that counts frees in global 1.
        let wat = r#"(module
            (memory (export "memory") 2)
            (global $next (mut i32) (i32.const 1024))
            (global $frees (export "frees") (mut i32) (i32.const 0))
            (func (export "malloc") (param i32) (result i32)
                (local $p i32)
                global.get $next
                local.set $p
                global.get $next
                local.get 0
                i32.add
                global.set $next
                local.get $p)
            (func (export "free") (param i32)
                global.get $frees
                i32.const 1
                i32.add
                global.set $frees))"#;
        let engine = crate::engine::engine();
        let m = wasmtime::Module::new(engine, wat).unwrap();
        let mut store = wasmtime::Store::new(engine, 0u64);
        store.set_epoch_deadline(crate::engine::deadline_ticks(
            std::time::Duration::from_secs(10),
        ));
        let i = wasmtime::Instance::new(&mut store, &m, &[]).unwrap();
        let mem = i.get_memory(&mut store, "memory").unwrap();
        let alloc = Allocator::detect(&mut store, &i);
        assert!(matches!(alloc, Allocator::Libc { .. }));
        let mut buf = Buffer::default();
        let raise = |_: &mut u64, _: u64| {};
        let p = buf
            .place(&mut store, &mem, &alloc, b"t", b"{}", raise)
            .unwrap();
        assert_eq!(p.tag, 1024);
        for _ in 0..100 {
            buf.place(&mut store, &mem, &alloc, b"t", b"{}", raise)
                .unwrap();
        }
        let frees = i.get_global(&mut store, "frees").unwrap();
        assert_eq!(
            frees.get(&mut store).i32(),
            Some(0),
            "reused, not reallocated"
        );
        buf.place(&mut store, &mem, &alloc, b"t", &[b'x'; 5000], raise)
            .unwrap();
        assert_eq!(
            frees.get(&mut store).i32(),
            Some(1),
            "the old buffer is freed"
        );
    }
}
