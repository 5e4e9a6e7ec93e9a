//! `file_cache_advise`: telling the kernel that file data already read will not be needed.
//!
//! Fluent Bit calls `posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)` on the whole file before
//! every read, which also throws away the part not read yet, so every read waits for the disk.
//! Weir's intent is the useful half of that: advise only the range already consumed
//! (`[advised, upto)`), once per block read, so the page cache does not fill with log data
//! tail will never read again while reads of new data still hit the cache.
//!
//! The advice needs a system call that the standard library does not wrap and that this
//! crate cannot call without `unsafe` (it forbids it); until a safe wrapper (`rustix::fs::
//! fadvise`) is a dependency of the `in-tail` feature, the advice is not given and the range
//! bookkeeping alone runs. The option is accepted and validated either way.

use std::fs::File;

/// Advises `[*advised, upto)` of `file` out of the page cache when `enabled`, and records
/// that it was.
pub fn dont_need(file: &File, upto: u64, advised: &mut u64, enabled: bool) {
    let _ = file;
    if !enabled || upto <= *advised {
        return;
    }
    *advised = upto;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_only_grow() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let f = File::open(&p).unwrap();
        let mut advised = 0;
        dont_need(&f, 2, &mut advised, true);
        assert_eq!(advised, 2);
        dont_need(&f, 1, &mut advised, true);
        assert_eq!(advised, 2);
        dont_need(&f, 3, &mut advised, false);
        assert_eq!(advised, 2);
    }
}
