//! One HTTP server and one set of streams per listen address, shared by every instance that
//! asks for that address: how the exporter lives through a hot reload.
//!
//! A hot reload builds the whole new pipeline first (calling every factory) and only then
//! stops the outputs it replaces, which may still be flushing their last chunks. A new
//! `vivo_exporter` on the same address as a running one therefore cannot bind: the address is
//! taken, by design. Instead, a process-wide table keyed by the listen address holds, for each
//! address, the running server, the three streams and the instances holding it (*leases*):
//!
//! - The first instance on an address binds it (at factory time, so a taken port is a startup
//!   error naming `port`, as in Fluent Bit), starts the server and creates the streams.
//! - An instance created while another one holds the address, by a *different* build of the
//!   configuration (a hot reload), takes a lease on the same server and streams: nothing is
//!   rebound, no connection is dropped, and ids go on from where they were. Its settings
//!   (`stream_queue_size`, `empty_stream_on_read`, `http_cors_allow_origin`, `live_tail`) apply
//!   at once; the old instance, still draining, appends to the same streams.
//! - Two instances on one address in the *same* configuration are an error, as two binds would
//!   be in Fluent Bit. Instances of one build share their `Arc<ServiceConfig>`, which is how a
//!   duplicate is told from a reload.
//! - The newest lease's settings are the ones served. When it ends (its instance is shut down,
//!   or dropped because the reload that built it failed or left the running one in place), the
//!   previous lease's settings come back.
//! - When the last lease ends, the server stops, the address is released and the streams go.
//!
//! The server runs on a thread of its own with a single-threaded runtime: factories run before
//! the engine's runtime exists (and, on reload, from within it), and the server must outlive
//! any one instance. One thread per listen address is the whole cost.

use super::stream::Streams;
use super::Settings;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::thread::JoinHandle;
use tokio_util::sync::CancellationToken;
use weir_core::ServiceConfig;

/// What every request and flush of one address shares.
pub struct Exporter {
    /// The address the server is bound to (with the real port when 0 was asked).
    pub local: SocketAddr,
    pub streams: Streams,
    settings: RwLock<Arc<Settings>>,
}

impl Exporter {
    /// The settings in force: those of the newest instance holding the address.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn activate(&self, settings: Arc<Settings>) {
        self.streams.set_capacity(settings.stream_queue_size);
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }
}

/// Why an instance could not get its address.
#[derive(Debug)]
pub enum AcquireError {
    /// Another instance of the same configuration holds it (its name).
    SameConfig(Arc<str>),
    /// The address could not be bound.
    Bind(std::io::Error),
    /// The server could not start.
    Start(String),
}

impl std::fmt::Display for AcquireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AcquireError::SameConfig(other) => write!(f, "the address is already used by {other}"),
            AcquireError::Bind(e) => write!(f, "cannot listen: {e}"),
            AcquireError::Start(e) => write!(f, "cannot start the HTTP server: {e}"),
        }
    }
}

struct Holder {
    id: u64,
    build: Weak<ServiceConfig>,
    settings: Arc<Settings>,
}

struct Slot {
    exporter: Arc<Exporter>,
    server: Server,
    /// Oldest first; the last one's settings are in force.
    holders: Vec<Holder>,
}

/// The running server of one address.
pub struct Server {
    stop: CancellationToken,
    thread: JoinHandle<()>,
}

impl Server {
    /// Tells the server to stop; the returned thread ends once open connections have finished
    /// their current request.
    pub fn stop(self) -> JoinHandle<()> {
        self.stop.cancel();
        self.thread
    }
}

fn slots() -> std::sync::MutexGuard<'static, HashMap<SocketAddr, Slot>> {
    static SLOTS: OnceLock<Mutex<HashMap<SocketAddr, Slot>>> = OnceLock::new();
    // Every change to the table is a single insert or remove: a poisoned lock leaves it whole.
    SLOTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

static NEXT_LEASE: AtomicU64 = AtomicU64::new(1);

/// An instance's hold on its address. Dropping it releases the hold.
pub struct Lease {
    key: SocketAddr,
    id: u64,
    pub exporter: Arc<Exporter>,
    /// Whether the address was already held: this lease took over a running server.
    pub took_over: bool,
}

/// Takes a lease on `key` for an instance of the configuration `build`, binding the address
/// and starting the server when no one holds it.
pub fn acquire(
    key: SocketAddr,
    build: &Arc<ServiceConfig>,
    settings: Arc<Settings>,
) -> Result<Lease, AcquireError> {
    let id = NEXT_LEASE.fetch_add(1, Ordering::Relaxed);
    let holder = Holder {
        id,
        build: Arc::downgrade(build),
        settings: settings.clone(),
    };
    let mut slots = slots();
    if let Some(slot) = slots.get_mut(&key) {
        if let Some(same) = slot
            .holders
            .iter()
            .find(|h| std::ptr::eq(h.build.as_ptr(), Arc::as_ptr(build)))
        {
            return Err(AcquireError::SameConfig(same.settings.instance.clone()));
        }
        slot.exporter.activate(settings);
        slot.holders.push(holder);
        return Ok(Lease {
            key,
            id,
            exporter: slot.exporter.clone(),
            took_over: true,
        });
    }
    let listener = std::net::TcpListener::bind(key).map_err(AcquireError::Bind)?;
    listener
        .set_nonblocking(true)
        .map_err(|e| AcquireError::Start(e.to_string()))?;
    let local = listener
        .local_addr()
        .map_err(|e| AcquireError::Start(e.to_string()))?;
    let exporter = Arc::new(Exporter {
        local,
        streams: Streams::new(settings.stream_queue_size),
        settings: RwLock::new(settings),
    });
    let server = start(listener, exporter.clone())?;
    slots.insert(
        key,
        Slot {
            exporter: exporter.clone(),
            server,
            holders: vec![holder],
        },
    );
    Ok(Lease {
        key,
        id,
        exporter,
        took_over: false,
    })
}

/// Starts the server thread and waits until it accepts connections.
fn start(listener: std::net::TcpListener, exporter: Arc<Exporter>) -> Result<Server, AcquireError> {
    let stop = CancellationToken::new();
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
    let token = stop.clone();
    let thread = std::thread::Builder::new()
        .name("weir-vivo".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                weir_core::http::server::serve(
                    listener,
                    token,
                    "output:vivo_exporter",
                    move |req| {
                        let exporter = exporter.clone();
                        async move { super::http::handle(&exporter, &req) }
                    },
                )
                .await;
            });
        })
        .map_err(|e| AcquireError::Start(e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Server { stop, thread }),
        Ok(Err(e)) => Err(AcquireError::Start(e)),
        Err(_) => Err(AcquireError::Start("the server thread ended".into())),
    }
}

impl Lease {
    /// Ends the hold (once; later calls do nothing). Returns the server when this was the last
    /// hold on the address, for the caller to stop and wait for.
    pub fn release(&self) -> Option<Server> {
        let mut slots = slots();
        let slot = slots.get_mut(&self.key)?;
        let at = slot.holders.iter().position(|h| h.id == self.id)?;
        let was_newest = at + 1 == slot.holders.len();
        slot.holders.remove(at);
        match slot.holders.last() {
            None => slots.remove(&self.key).map(|s| s.server),
            Some(newest) => {
                if was_newest {
                    slot.exporter.activate(newest.settings.clone());
                }
                None
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(server) = self.release() {
            // Not waited for: a drop may happen on the engine's runtime, which must not block.
            // The thread ends on its own once its connections are done.
            drop(server.stop());
        }
    }
}
