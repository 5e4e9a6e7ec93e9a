//! `file_cache_advise`: telling the kernel that file data already read will not be needed.
//!
//! Tail reads each byte of a log file once, so the pages it has read only push more useful
//! data out of the page cache. With `file_cache_advise` on (the default, as in Fluent Bit),
//! Weir advises `POSIX_FADV_DONTNEED` on the part of the file it has consumed, after each
//! block read.
//!
//! Where Weir differs from Fluent Bit, on purpose: Fluent Bit calls
//! `posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)` on the whole file *before* every read. That
//! also throws away the data not read yet, including what the kernel's readahead has just
//! fetched, so every read misses the cache and waits for the disk: on a busy file the option
//! meant to save memory costs I/O. Weir advises only `[start, consumed)`, after the read, so
//! readahead keeps working for what comes next. (A recent change to Fluent Bit moves it to the
//! same consumed-range advice, so the two are expected to converge.)
//!
//! The kernel drops only whole pages that lie inside the range. The page holding the boundary
//! between consumed and unread data is partly unread, so it stays; the next advice starts a
//! little before the previous end ([`ALIGN`]) so that this page goes once it is consumed,
//! instead of being skipped at both calls and staying cached for good.
//!
//! The advice is a hint: a file that cannot take it (a FIFO, a file system that ignores it) is
//! read as usual. It is given on Linux, Android and FreeBSD, where `posix_fadvise` exists with
//! this meaning; elsewhere the option is accepted and does nothing, as Fluent Bit only has it
//! on Linux.

use std::fs::File;
use std::io;

/// Each advice starts at the previous end rounded down to this many bytes: a multiple of
/// every common page size (4, 16 and 64 KiB), so the partly consumed page at the previous
/// end is inside the new range. Re-advising up to 64 KiB that is already out of the cache
/// costs the kernel a few lookups.
pub const ALIGN: u64 = 64 * 1024;

/// Advises the bytes of `file` from `*advised` (rounded down to [`ALIGN`]) up to `upto` out of
/// the page cache when `enabled`, and records `upto` in `*advised`.
///
/// Nothing is done when `upto` is not past `*advised`. An error from the system is returned
/// for the caller to ignore or log; the range counts as advised either way, so a file that
/// refuses the advice is not asked again for the same bytes.
pub fn dont_need(file: &File, upto: u64, advised: &mut u64, enabled: bool) -> io::Result<()> {
    if !enabled || upto <= *advised {
        return Ok(());
    }
    let start = *advised - *advised % ALIGN;
    *advised = upto;
    advise(file, start, upto - start)
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn advise(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use rustix::fs::{fadvise, Advice};
    // A zero length would mean "to the end of the file", including what is not read yet.
    let Some(len) = std::num::NonZeroU64::new(len) else {
        return Ok(());
    };
    fadvise(file, offset, Some(len), Advice::DontNeed).map_err(io::Error::from)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn advise(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn ranges_only_grow() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let f = File::open(&p).unwrap();
        let mut advised = 0;
        dont_need(&f, 2, &mut advised, true).unwrap();
        assert_eq!(advised, 2);
        dont_need(&f, 1, &mut advised, true).unwrap();
        assert_eq!(advised, 2);
        dont_need(&f, 3, &mut advised, false).unwrap();
        assert_eq!(advised, 2);
    }

    #[test]
    fn advice_on_a_file_being_read_succeeds_and_leaves_the_data_intact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let mut f = File::open(&p).unwrap();
        let mut advised = 0;
        let mut got = Vec::new();
        let mut buf = vec![0; 70_000];
        loop {
            let n = f.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            dont_need(&f, got.len() as u64, &mut advised, true).unwrap();
            assert_eq!(advised, got.len() as u64);
        }
        assert_eq!(got, data);
        // Dropped pages are read again from the file, unchanged.
        assert_eq!(std::fs::read(&p).unwrap(), data);
    }
}
