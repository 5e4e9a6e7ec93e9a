//! HTTP servers that belong to a listen address rather than to a plugin instance, so that an
//! output that listens (`prometheus_exporter`, `vivo_exporter`) lives through a hot reload.
//!
//! A hot reload builds the whole new pipeline first (calling every factory) and only then stops
//! the outputs it replaces, which may still be flushing their last chunks. A new instance on
//! the address of a running one therefore cannot bind it: the address is taken, by design.
//! Instead, each plugin keeps a [`LeaseTable`], a process-wide table keyed by listen address
//! that holds, for each address, the running server, the state its requests and flushes share
//! (the plugin's `S`: series, streams) and the instances holding it (*leases*), each with its
//! settings (the plugin's `T`):
//!
//! - The first instance on an address binds it (at factory time, so a taken port is a startup
//!   error naming `port`, as in Fluent Bit), creates the state and starts the server.
//! - An instance created while another one holds the address, by a *different* build of the
//!   configuration (a hot reload), takes a lease on the same server and state: nothing is
//!   rebound, no connection is dropped, nothing the clients read resets. Its settings apply at
//!   once; the old instance, still draining, goes on writing to the same state.
//! - Two instances on one address in the *same* configuration are an error, as two binds would
//!   be in Fluent Bit. Instances of one build share their `Arc<ServiceConfig>`, which is how a
//!   duplicate is told from a reload.
//! - The newest lease's settings are the ones served. When it ends (its instance is shut down,
//!   or dropped because the reload that built it failed or left the running one in place), the
//!   previous lease's settings come back.
//! - When the last lease ends, the server stops, the address is released and the state goes.
//! - Port 0 (any free port) is never shared: each instance asking for it gets a port of its
//!   own, since two such instances asked for no address in particular.
//!
//! The server runs on a thread of its own with a single-threaded runtime: factories run before
//! the engine's runtime exists (and, on reload, from within it), and the server must outlive
//! any one instance. One thread per listen address is the whole cost.

use crate::context::BuildContext;
use crate::http::server::{self, Body};
use crate::service::ServiceConfig;
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::thread::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The servers of one plugin, by listen address: one `static` per plugin.
///
/// `S` is what the server and the instances on one address share; `T` is one instance's
/// settings, of which the newest lease's are in force.
pub struct LeaseTable<S, T> {
    /// Names the servers in log lines (`output:prometheus_exporter`).
    component: &'static str,
    /// Names the servers' threads.
    thread: &'static str,
    /// Called when settings come into force on a running address.
    on_settings: fn(&S, &T),
    /// A process has a handful of listen addresses at most: a list is all the map it needs.
    /// Every change to it is one push, insert or remove, so a poisoned lock leaves it whole.
    slots: Mutex<Vec<Slot<S, T>>>,
    next_id: AtomicU64,
}

/// What the server and the instances holding one address share.
pub struct Shared<S, T> {
    local: SocketAddr,
    state: S,
    settings: RwLock<Arc<T>>,
}

impl<S, T> Shared<S, T> {
    /// The address the server is bound to (with the real port when 0 was asked).
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The plugin's state for this address.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The settings in force: those of the newest instance holding the address.
    pub fn settings(&self) -> Arc<T> {
        self.settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Why an instance could not get its address.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another instance of the same configuration holds the address (its name).
    #[error("the address is already used by {0}")]
    Duplicate(Arc<str>),
    /// The address could not be bound.
    #[error("cannot listen: {0}")]
    Bind(std::io::Error),
    /// The server could not start.
    #[error("cannot start the HTTP server: {0}")]
    Start(String),
}

struct Holder<T> {
    id: u64,
    instance: Arc<str>,
    /// Weak, so a lease does not keep an old configuration alive; the allocation outlives
    /// the value, so its address cannot be taken by a later build while this is held.
    build: Weak<ServiceConfig>,
    settings: Arc<T>,
}

struct Slot<S, T> {
    key: SocketAddr,
    shared: Arc<Shared<S, T>>,
    server: Server,
    /// Oldest first; the last one's settings are in force.
    holders: Vec<Holder<T>>,
}

impl<S, T> Slot<S, T> {
    fn activate(&self, on_settings: fn(&S, &T), settings: Arc<T>) {
        on_settings(&self.shared.state, &settings);
        *self
            .shared
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = settings;
    }
}

/// The running server of one address.
struct Server {
    stop: CancellationToken,
    thread: JoinHandle<()>,
}

impl Server {
    /// Tells the server to stop; the returned thread ends once open connections have finished
    /// their current request.
    fn stop(self) -> JoinHandle<()> {
        self.stop.cancel();
        self.thread
    }
}

fn ignore<S, T>(_: &S, _: &T) {}

impl<S, T> LeaseTable<S, T>
where
    S: Send + Sync + 'static,
    T: Send + Sync + 'static,
{
    /// An empty table whose servers log as `component` and run on threads named `thread`.
    pub const fn new(component: &'static str, thread: &'static str) -> Self {
        Self {
            component,
            thread,
            on_settings: ignore::<S, T>,
            slots: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
        }
    }

    /// Calls `f` with the shared state and the settings each time settings come into force on
    /// a running address (a lease taken over it, or the newest one ended), before requests
    /// see them: for state that depends on them, such as a capacity.
    pub const fn on_settings(mut self, f: fn(&S, &T)) -> Self {
        self.on_settings = f;
        self
    }

    fn slots(&self) -> MutexGuard<'_, Vec<Slot<S, T>>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a lease on `addr` for the instance `ctx` builds, with its `settings`.
    ///
    /// When no one holds the address, binds it, creates the state with `make_state` and starts
    /// a server that answers each request with `handler`. When an instance of another build
    /// holds it, takes the running server over ([`Lease::took_over`]). Fails when an instance
    /// of the same build holds it, or the address cannot be bound.
    pub fn acquire<H, Fut>(
        &'static self,
        addr: SocketAddr,
        ctx: &BuildContext,
        settings: T,
        make_state: impl FnOnce(&T) -> S,
        handler: H,
    ) -> Result<Lease<S, T>, LeaseError>
    where
        H: Fn(Arc<Shared<S, T>>, Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let settings = Arc::new(settings);
        let holder = Holder {
            id,
            instance: ctx.instance.clone(),
            build: Arc::downgrade(&ctx.service),
            settings: settings.clone(),
        };
        let mut slots = self.slots();
        let running = slots.iter_mut().find(|s| addr.port() != 0 && s.key == addr);
        if let Some(slot) = running {
            if let Some(same) = slot
                .holders
                .iter()
                .find(|h| std::ptr::eq(h.build.as_ptr(), Arc::as_ptr(&ctx.service)))
            {
                return Err(LeaseError::Duplicate(same.instance.clone()));
            }
            slot.activate(self.on_settings, settings);
            slot.holders.push(holder);
            return Ok(Lease {
                table: self,
                key: addr,
                id,
                shared: slot.shared.clone(),
                took_over: true,
            });
        }
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(LeaseError::Bind)?;
        let local = listener.local_addr().map_err(LeaseError::Bind)?;
        let shared = Arc::new(Shared {
            local,
            state: make_state(&settings),
            settings: RwLock::new(settings),
        });
        let server = self.start(listener, shared.clone(), handler)?;
        // Under its real port, where a later instance naming that port finds it.
        let key = if addr.port() == 0 { local } else { addr };
        slots.push(Slot {
            key,
            shared: shared.clone(),
            server,
            holders: vec![holder],
        });
        Ok(Lease {
            table: self,
            key,
            id,
            shared,
            took_over: false,
        })
    }

    /// Starts the server thread and waits until it accepts connections.
    fn start<H, Fut>(
        &self,
        listener: std::net::TcpListener,
        shared: Arc<Shared<S, T>>,
        handler: H,
    ) -> Result<Server, LeaseError>
    where
        H: Fn(Arc<Shared<S, T>>, Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let token = stop.clone();
        let component = self.component;
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
        let thread = std::thread::Builder::new()
            .name(self.thread.into())
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
                    server::serve(listener, token, component, move |req| {
                        handler(shared.clone(), req)
                    })
                    .await;
                });
            })
            .map_err(|e| LeaseError::Start(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Server { stop, thread }),
            Ok(Err(e)) => Err(LeaseError::Start(e)),
            Err(_) => Err(LeaseError::Start("its thread ended".into())),
        }
    }

    /// Ends the hold `id` on `key` (once; later calls do nothing). Returns the server when
    /// this was the last hold on the address, for the caller to stop.
    fn release(&self, key: SocketAddr, id: u64) -> Option<Server> {
        let mut slots = self.slots();
        let at_slot = slots.iter().position(|s| s.key == key)?;
        let slot = &mut slots[at_slot];
        let at = slot.holders.iter().position(|h| h.id == id)?;
        let was_newest = at + 1 == slot.holders.len();
        slot.holders.remove(at);
        match slot.holders.last() {
            None => Some(slots.swap_remove(at_slot).server),
            Some(newest) => {
                if was_newest {
                    let settings = newest.settings.clone();
                    slot.activate(self.on_settings, settings);
                }
                None
            }
        }
    }
}

/// An instance's hold on its address. Dropping it ends the hold without waiting for the
/// server; [`Lease::shutdown`] waits.
pub struct Lease<S: Send + Sync + 'static, T: Send + Sync + 'static> {
    table: &'static LeaseTable<S, T>,
    key: SocketAddr,
    id: u64,
    shared: Arc<Shared<S, T>>,
    took_over: bool,
}

/// The address a listening plugin's `host` and `port` name, and how to show it in messages
/// (`[::1]:2021` for IPv6). A name that does not resolve is an error about `host`.
pub fn listen_address(
    p: &weir_config::Params,
    host: &str,
    port: u16,
) -> Result<(SocketAddr, String), weir_config::ConfigError> {
    use std::net::ToSocketAddrs;
    let shown = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| p.error("host", format!("cannot resolve '{host}': {e}")))?
        .next()
        .ok_or_else(|| p.error("host", format!("'{host}' resolves to no address")))?;
    Ok((addr, shown))
}

impl<S, T> Lease<S, T>
where
    S: Send + Sync + 'static,
    T: Send + Sync + 'static,
{
    /// What the server and the other instances on the address share.
    pub fn shared(&self) -> &Shared<S, T> {
        &self.shared
    }

    /// Whether the address was already held: this lease took over a running server.
    pub fn took_over(&self) -> bool {
        self.took_over
    }

    /// Logs where the instance serves: on a new listener, or on the one it took over, with
    /// what carries on (`carried`: "series", "streams and ids").
    pub fn log_start(&self, component: &str, carried: &str) {
        let local = self.shared.local();
        if self.took_over {
            crate::info!(
                component,
                "taking over the listener on iface={} tcp_port={}: {} carry on",
                local.ip(),
                local.port(),
                carried
            );
        } else {
            crate::info!(
                component,
                "listening iface={} tcp_port={}",
                local.ip(),
                local.port()
            );
        }
    }

    /// Ends the hold. When it was the last, stops the server and waits until its open
    /// connections have finished their current request, so the port is free on return.
    /// Unbounded: a caller that must not wait on a stuck client puts a timeout around it
    /// (the hold is ended at the first poll either way).
    pub async fn shutdown(&self) {
        if let Some(server) = self.table.release(self.key, self.id) {
            let thread = server.stop();
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl<S, T> Drop for Lease<S, T>
where
    S: Send + Sync + 'static,
    T: Send + Sync + 'static,
{
    fn drop(&mut self) {
        if let Some(server) = self.table.release(self.key, self.id) {
            // Not waited for: a drop may happen on the engine's runtime, which must not block.
            // An instance built but never run (another plugin failed) still frees its port;
            // the thread ends on its own once its connections are done.
            drop(server.stop());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// What the test servers share: how many times settings came into force.
    #[derive(Default)]
    struct Counter {
        applied: AtomicUsize,
    }

    /// A test server answers every request with its settings: the text in force.
    static TABLE: LeaseTable<Counter, String> = LeaseTable::new("lease_test", "weir-lease-test")
        .on_settings(|c, _| {
            c.applied.fetch_add(1, Ordering::Relaxed);
        });

    fn ctx(instance: &str) -> BuildContext {
        BuildContext::new(
            instance.into(),
            Arc::new(ServiceConfig::default()),
            Arc::new(weir_parser::ParserRegistry::new()),
            std::env::temp_dir(),
        )
    }

    /// Another instance of the same build as `of`.
    fn sibling(of: &BuildContext, instance: &str) -> BuildContext {
        BuildContext::new(
            instance.into(),
            of.service.clone(),
            of.parsers.clone(),
            of.config_dir.clone(),
        )
    }

    fn acquire(
        addr: SocketAddr,
        ctx: &BuildContext,
        text: &str,
    ) -> Result<Lease<Counter, String>, LeaseError> {
        TABLE.acquire(
            addr,
            ctx,
            text.to_string(),
            |_| Counter::default(),
            |shared, _req| async move {
                server::response(
                    hyper::StatusCode::OK,
                    "text/plain",
                    shared.settings().to_string(),
                )
            },
        )
    }

    /// The body of `GET /` from `addr`.
    fn get(addr: SocketAddr) -> String {
        let mut s = std::net::TcpStream::connect(addr).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp.split_once("\r\n\r\n").unwrap().1.to_string()
    }

    /// A port free on `ip` when asked (each test has its own loopback address, so tests
    /// running at once never share an entry of the table).
    fn free(ip: &str) -> SocketAddr {
        std::net::TcpListener::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_new_build_takes_the_running_server_over() {
        let addr = free("127.0.20.1");
        let old = acquire(addr, &ctx("old.0"), "old").unwrap();
        assert!(!old.took_over());
        assert_eq!(get(addr), "old");
        let new = acquire(addr, &ctx("new.0"), "new").unwrap();
        assert!(new.took_over());
        assert!(Arc::ptr_eq(&old.shared, &new.shared), "one state");
        assert_eq!(new.shared().local(), addr, "nothing rebound");
        assert_eq!(get(addr), "new", "the newest settings are served");
        assert_eq!(new.shared().state().applied.load(Ordering::Relaxed), 1);
        // The old instance stops: the server stays, for the new one.
        runtime().block_on(old.shutdown());
        assert_eq!(get(addr), "new");
        drop(old);
        assert_eq!(get(addr), "new");
    }

    #[test]
    fn two_instances_of_one_build_on_one_address_are_an_error() {
        let addr = free("127.0.20.2");
        let first = ctx("first.0");
        let _held = acquire(addr, &first, "a").unwrap();
        let e = acquire(addr, &sibling(&first, "second.0"), "b")
            .err()
            .expect("a duplicate");
        assert!(matches!(e, LeaseError::Duplicate(_)));
        assert_eq!(e.to_string(), "the address is already used by first.0");
        assert_eq!(get(addr), "a", "the refused one changed nothing");
    }

    #[test]
    fn the_previous_settings_come_back_when_the_newest_lease_ends() {
        let addr = free("127.0.20.3");
        let a = acquire(addr, &ctx("a.0"), "a").unwrap();
        let b = acquire(addr, &ctx("b.0"), "b").unwrap();
        let c = acquire(addr, &ctx("c.0"), "c").unwrap();
        assert_eq!(get(addr), "c");
        // Not the newest: nothing changes.
        drop(b);
        assert_eq!(get(addr), "c");
        drop(c);
        assert_eq!(get(addr), "a");
        // b and c came into force, then a came back.
        assert_eq!(a.shared().state().applied.load(Ordering::Relaxed), 3);
        drop(a);
    }

    #[test]
    fn the_last_lease_stops_the_server_and_frees_the_port() {
        let addr = free("127.0.20.4");
        let old = acquire(addr, &ctx("old.0"), "old").unwrap();
        let new = acquire(addr, &ctx("new.0"), "new").unwrap();
        let rt = runtime();
        rt.block_on(old.shutdown());
        assert_eq!(get(addr), "new");
        rt.block_on(new.shutdown());
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "the server stopped"
        );
        assert!(
            std::net::TcpListener::bind(addr).is_ok(),
            "the port is free"
        );
        // Dropping after shutdown does nothing more; the address can be taken afresh.
        drop((old, new));
        let again = acquire(addr, &ctx("again.0"), "again").unwrap();
        assert!(!again.took_over());
        assert_eq!(get(addr), "again");
    }

    #[test]
    fn dropping_the_last_lease_frees_the_port_too() {
        let addr = free("127.0.20.5");
        drop(acquire(addr, &ctx("a.0"), "a").unwrap());
        // The drop does not wait for the server thread, which lets go of the port as it ends.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpListener::bind(addr).is_err() {
            assert!(std::time::Instant::now() < deadline, "the port stays taken");
            std::thread::sleep(Duration::from_millis(10));
        }
        let again = acquire(addr, &ctx("b.0"), "b").unwrap();
        assert!(!again.took_over());
    }

    #[test]
    fn port_0_is_never_shared() {
        let any: SocketAddr = "127.0.20.6:0".parse().unwrap();
        let build = ctx("a.0");
        let a = acquire(any, &build, "a").unwrap();
        // Same build, or another: each gets a port of its own.
        let b = acquire(any, &sibling(&build, "b.0"), "b").unwrap();
        let c = acquire(any, &ctx("c.0"), "c").unwrap();
        assert!(!b.took_over() && !c.took_over());
        let ports = [a.shared().local(), b.shared().local(), c.shared().local()];
        assert!(ports.iter().all(|p| p.port() != 0));
        assert!(ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2]);
        assert_eq!(
            (get(ports[0]), get(ports[1]), get(ports[2])),
            ("a".into(), "b".into(), "c".into())
        );
        // The real port, named, is the running server's.
        let d = acquire(a.shared().local(), &ctx("d.0"), "d").unwrap();
        assert!(d.took_over());
        assert_eq!(get(ports[0]), "d");
    }

    #[test]
    fn a_taken_address_is_a_bind_error() {
        let taken = std::net::TcpListener::bind("127.0.20.7:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = acquire(addr, &ctx("a.0"), "a").err().expect("taken");
        assert!(matches!(e, LeaseError::Bind(_)), "{e}");
        assert!(e.to_string().starts_with("cannot listen: "), "{e}");
    }
}
