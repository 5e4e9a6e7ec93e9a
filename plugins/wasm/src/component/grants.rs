//! What a plugin may reach outside its sandbox: nothing unless its configuration grants it.
//!
//! - `wasm.allow_env NAME,...`: those environment variables of Weir's process, read when the
//!   instance is made (not the others, and not Weir's configuration variables).
//! - `wasm.allow_dirs host[:guest][:ro|rw],...`: those directories, opened at `guest` (the same
//!   path by default), read-only unless `rw`. A relative host path is relative to Weir's
//!   working directory, as other plugins' paths.
//! - `wasm.allow_network on` (inputs and outputs only): sockets (TCP, UDP, name lookups) and
//!   outgoing `wasi:http` requests. Without it every address is refused, and so is every
//!   outgoing HTTP request (componentize-js components import `wasi:http` whether they use it
//!   or not, so it is always linked).
//!
//! Standard output and error are not connected: Weir's standard output may carry data (the
//! `stdout` output), and plugins log through the `log` import. Clocks and random numbers are
//! always available: they reveal nothing about the host a plugin could not learn otherwise.

use std::path::PathBuf;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

/// A directory a plugin may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    pub host: PathBuf,
    pub guest: String,
    pub writable: bool,
}

/// Everything one instance is granted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub env: Vec<String>,
    pub dirs: Vec<DirGrant>,
    pub network: bool,
}

/// A grant that cannot be given, with the key it came from.
#[derive(Debug)]
pub struct GrantError {
    pub key: &'static str,
    pub message: String,
}

impl Grants {
    pub fn from_settings(
        env: &[String],
        dirs: &[String],
        network: bool,
        resolve: &dyn Fn(&str) -> PathBuf,
    ) -> Result<Self, GrantError> {
        let mut g = Grants {
            network,
            ..Grants::default()
        };
        for name in env {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return Err(GrantError {
                    key: "wasm.allow_env",
                    message: format!("'{name}' is not an environment variable name"),
                });
            }
            g.env.push(name.clone());
        }
        for spec in dirs {
            g.dirs.push(parse_dir(spec, resolve)?);
        }
        Ok(g)
    }

    /// The WASI context of one instance: exactly these grants.
    pub fn wasi_ctx(&self) -> Result<WasiCtx, String> {
        let mut b = WasiCtxBuilder::new();
        // Calls into plugins run on threads that may block (never on an async worker without
        // tokio's block_in_place), so file operations need not hop to another thread.
        b.allow_blocking_current_thread(true);
        for name in &self.env {
            if let Some(v) = std::env::var_os(name) {
                b.env(name, v.to_string_lossy());
            }
        }
        for d in &self.dirs {
            let perms = if d.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            b.preopened_dir(&d.host, &d.guest, perms)
                .map_err(|e| format!("cannot open {}: {e:#}", d.host.display()))?;
        }
        if self.network {
            b.inherit_network();
            b.allow_tcp(true);
            b.allow_udp(true);
            b.allow_ip_name_lookup(true);
        }
        Ok(b.build())
    }
}

fn parse_dir(spec: &str, resolve: &dyn Fn(&str) -> PathBuf) -> Result<DirGrant, GrantError> {
    let err = |message: String| GrantError {
        key: "wasm.allow_dirs",
        message,
    };
    let (rest, writable) = match spec.rsplit_once(':') {
        Some((r, "rw")) => (r, true),
        Some((r, "ro")) => (r, false),
        _ => (spec, false),
    };
    let (host, guest) = match rest.split_once(':') {
        Some((h, g)) if !g.is_empty() => (h, g.to_string()),
        Some((h, _)) => (h, h.to_string()),
        None => (rest, rest.to_string()),
    };
    if host.is_empty() {
        return Err(err(format!("'{spec}': expected host[:guest][:ro|rw]")));
    }
    let path = resolve(host);
    if !path.is_dir() {
        return Err(err(format!("'{}' is not a directory", path.display())));
    }
    Ok(DirGrant {
        host: path,
        guest,
        writable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(dirs: &[&str]) -> Result<Grants, GrantError> {
        let dirs: Vec<String> = dirs.iter().map(|s| s.to_string()).collect();
        Grants::from_settings(&[], &dirs, false, &|p| PathBuf::from(p))
    }

    #[test]
    fn directory_grants() {
        let tmp = tempfile::tempdir().unwrap();
        let h = tmp.path().display().to_string();
        let g = grants(&[
            &h,
            &format!("{h}:/data"),
            &format!("{h}:/w:rw"),
            &format!("{h}:ro"),
        ])
        .unwrap();
        assert_eq!(
            g.dirs[0],
            DirGrant {
                host: tmp.path().into(),
                guest: h.clone(),
                writable: false
            }
        );
        assert_eq!(g.dirs[1].guest, "/data");
        assert!(g.dirs[2].writable && g.dirs[2].guest == "/w");
        assert!(!g.dirs[3].writable && g.dirs[3].guest == h);
        assert!(grants(&["/no/such/dir"]).is_err());
        assert!(grants(&[":/x"]).is_err());
    }

    #[test]
    fn env_names_are_names() {
        let bad = Grants::from_settings(&["A=B".into()], &[], false, &|p| PathBuf::from(p));
        assert!(bad.is_err());
    }
}
