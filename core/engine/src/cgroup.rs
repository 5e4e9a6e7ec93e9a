//! The memory limit of the control group Weir runs in, for the default of `memory_limit`.
//!
//! Containers and systemd units on edge hosts cap memory with a cgroup; a collector that
//! buffers past it is killed and loses everything it held. Both cgroup versions are read:
//! v2 (`0::/path` in `/proc/self/cgroup`, limit in `memory.max`, "max" when unlimited) and
//! v1 (the `memory` controller's line, limit in `memory.limit_in_bytes`, a huge number when
//! unlimited).

use std::path::{Path, PathBuf};

/// Above this a v1 limit means "unlimited" (the kernel reports about 2^63 rounded to pages).
const V1_UNLIMITED: u64 = 1 << 62;

/// The memory limit of this process's cgroup, if it has one.
pub fn memory_limit() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    limit_files(&own, Path::new("/sys/fs/cgroup"))
        .into_iter()
        .find_map(|f| parse_limit(&std::fs::read_to_string(f).ok()?))
}

/// Where the limit may be read, given `/proc/self/cgroup`'s text, most specific first.
fn limit_files(proc_cgroup: &str, root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if controllers.is_empty() {
            files.push(root.join(rel).join("memory.max"));
        } else if controllers.split(',').any(|c| c == "memory") {
            files.push(root.join("memory").join(rel).join("memory.limit_in_bytes"));
        }
    }
    files
}

fn parse_limit(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        return None;
    }
    t.parse::<u64>().ok().filter(|&v| v > 0 && v < V1_UNLIMITED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_v1_and_v2_files() {
        let v1 = "4:memory:/system.slice/weir.service\n1:cpu:/\n";
        assert_eq!(
            limit_files(v1, Path::new("/c")),
            vec![PathBuf::from(
                "/c/memory/system.slice/weir.service/memory.limit_in_bytes"
            )]
        );
        let v2 = "0::/system.slice/weir.service\n";
        assert_eq!(
            limit_files(v2, Path::new("/c")),
            vec![PathBuf::from("/c/system.slice/weir.service/memory.max")]
        );
        assert!(limit_files("garbage", Path::new("/c")).is_empty());
    }

    #[test]
    fn unlimited_is_none() {
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None);
        assert_eq!(parse_limit("268435456\n"), Some(268_435_456));
        assert_eq!(parse_limit("nonsense"), None);
        assert_eq!(parse_limit("0"), None);
    }

    #[test]
    fn reads_this_machine_without_failing() {
        // Whatever the machine, reading never panics; a value, if any, is plausible.
        if let Some(l) = memory_limit() {
            assert!(l >= 1 << 20, "{l}");
        }
    }

    #[test]
    fn reads_limits_from_files() {
        let dir = tempfile_dir();
        let f = dir.join("memory/app/memory.limit_in_bytes");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, "104857600\n").unwrap();
        let files = limit_files("4:memory:/app\n", &dir);
        assert_eq!(
            files
                .iter()
                .find_map(|f| parse_limit(&std::fs::read_to_string(f).ok()?)),
            Some(104_857_600)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("weir-cgroup-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
}
