//! A TCP fault proxy for tests: it listens on a free loopback port, forwards
//! each connection to a target (PostgreSQL, moto, Azurite, the GCS emulator)
//! and misbehaves on request, so that tests can show what convoy does when
//! the network or a server stops cooperating mid-stream.
//!
//! Faults are chosen per direction — `up` is client → server, `down` is
//! server → client — and can be limited to one connection (the k-th) or to
//! every connection from the k-th on, because a copy often opens a first
//! connection to look (a HEAD, a catalogue query) and a second to move data:
//!
//! - [`Fault::Pass`]: forward everything;
//! - [`Fault::CutAfter`]: forward N bytes; when the sender sends more, close
//!   both sides (each peer sees the connection end, as when a middlebox or
//!   the server drops it);
//! - [`Fault::StallAfter`]: forward N bytes, then stop reading that direction
//!   and say nothing: the sockets stay open, the sender's bytes pile up in
//!   the kernel's buffers until its writes block (a dead path, a hung peer);
//! - [`Fault::SwallowAfter`]: forward N bytes, then keep reading and discard
//!   (a peer that accepts everything and never answers); what is discarded is
//!   counted, so a test can see whether the client kept sending;
//! - [`Proxy::black_hole`] / [`Builder::silent`]: accept the connection and
//!   never answer, never read, never connect to the target (a listener that
//!   hangs before the first byte — connect succeeds, the handshake does not).
//!
//! ```ignore
//! // PostgreSQL answers the first connection; the second stalls 64 KiB
//! // into what convoy sends (mid-COPY).
//! let proxy = Proxy::to(("127.0.0.1", pg::shared().port))
//!     .up(Fault::StallAfter(64 << 10))
//!     .every_connection_from(2)
//!     .start();
//! // … point convoy at port proxy.port, then:
//! let seen = proxy.wait_for_fault(Duration::from_secs(30));
//! ```
//!
//! The proxy reports what it saw ([`Proxy::seen`]): every connection, bytes
//! forwarded each way, whether a fault fired, and whether the client went
//! away. Written by hand with std threads and sockets (plus one `poll` from
//! libc to notice a client leaving a connection the proxy no longer reads):
//! byte-exact fault points per direction are a few hundred lines, and a
//! helper with no async runtime of its own can sit in front of any service
//! from any test. Everything stops when the proxy is dropped: the listener
//! and every connection close.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often blocked threads look at the stop flag.
const TICK: Duration = Duration::from_millis(20);

/// What the proxy does to one direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    Pass,
    /// Forward this many bytes; when the sender sends more, close both
    /// sides of the connection (the extra bytes are not forwarded).
    CutAfter(u64),
    /// Forward this many bytes, then stop reading this direction; nothing
    /// is closed and nothing more is forwarded.
    StallAfter(u64),
    /// Forward this many bytes, then read and discard everything after.
    SwallowAfter(u64),
}

impl Fault {
    fn limit(self) -> Option<u64> {
        match self {
            Fault::Pass => None,
            Fault::CutAfter(n) | Fault::StallAfter(n) | Fault::SwallowAfter(n) => Some(n),
        }
    }
}

/// Which connections the faults apply to (1 is the first accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    All,
    Only(usize),
    From(usize),
}

impl Which {
    fn applies(self, index: usize) -> bool {
        match self {
            Which::All => true,
            Which::Only(k) => index == k,
            Which::From(k) => index >= k,
        }
    }
}

/// The faults of the connections a proxy accepts from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    pub up: Fault,
    pub down: Fault,
    /// Accept, then never read, write or connect to the target.
    pub silent: bool,
    pub which: Which,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            up: Fault::Pass,
            down: Fault::Pass,
            silent: false,
            which: Which::All,
        }
    }
}

/// What one direction of one connection saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flow {
    /// Bytes read from the sender and written to the receiver.
    pub forwarded: u64,
    /// Bytes read and discarded after a [`Fault::SwallowAfter`].
    pub swallowed: u64,
    /// The fault of this direction fired (its byte count was reached).
    pub faulted: bool,
    /// The sender closed its side (end of stream or an error).
    pub ended: bool,
}

/// What one connection saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    /// 1 for the first connection accepted.
    pub index: usize,
    /// client → server
    pub up: Flow,
    /// server → client
    pub down: Flow,
    /// The faults this connection got.
    pub faults: Faults,
    /// Whether the connection to the target was made (never when silent).
    pub connected: bool,
    /// The proxy still holds the connection (a stalled one stays until the
    /// proxy is dropped, or until the client is seen to go away).
    pub open: bool,
}

/// Everything the proxy saw so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub conns: Vec<Conn>,
}

impl Seen {
    /// Connections accepted.
    pub fn accepted(&self) -> usize {
        self.conns.len()
    }

    /// Bytes forwarded client → server, over every connection.
    pub fn up(&self) -> u64 {
        self.conns.iter().map(|c| c.up.forwarded).sum()
    }

    /// Bytes forwarded server → client, over every connection.
    pub fn down(&self) -> u64 {
        self.conns.iter().map(|c| c.down.forwarded).sum()
    }

    /// Bytes discarded after a swallow, both ways.
    pub fn swallowed(&self) -> u64 {
        self.conns
            .iter()
            .map(|c| c.up.swallowed + c.down.swallowed)
            .sum()
    }

    /// Whether any fault fired on any connection.
    pub fn faulted(&self) -> bool {
        self.conns.iter().any(|c| c.up.faulted || c.down.faulted)
    }

    /// Connections the proxy still holds.
    pub fn open(&self) -> usize {
        self.conns.iter().filter(|c| c.open).count()
    }
}

#[derive(Default)]
struct FlowState {
    forwarded: AtomicU64,
    swallowed: AtomicU64,
    faulted: AtomicBool,
    ended: AtomicBool,
}

impl FlowState {
    fn snapshot(&self) -> Flow {
        Flow {
            forwarded: self.forwarded.load(Ordering::SeqCst),
            swallowed: self.swallowed.load(Ordering::SeqCst),
            faulted: self.faulted.load(Ordering::SeqCst),
            ended: self.ended.load(Ordering::SeqCst),
        }
    }
}

struct ConnState {
    index: usize,
    faults: Faults,
    up: FlowState,
    down: FlowState,
    connected: AtomicBool,
    /// Set when the connection is over (cut, both directions ended, the
    /// client gone, or the proxy stopping): every thread of it returns.
    closed: AtomicBool,
}

struct Shared {
    target: Option<SocketAddr>,
    faults: Mutex<Faults>,
    conns: Mutex<Vec<Arc<ConnState>>>,
    stop: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A running proxy; stopped (listener and every connection closed) on drop.
pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// Faults to start a proxy with.
pub struct Builder {
    target: Option<SocketAddr>,
    faults: Faults,
}

impl Builder {
    /// Faults on client → server bytes.
    pub fn up(mut self, f: Fault) -> Builder {
        self.faults.up = f;
        self
    }

    /// Faults on server → client bytes.
    pub fn down(mut self, f: Fault) -> Builder {
        self.faults.down = f;
        self
    }

    /// The same fault both ways (each direction counts its own bytes).
    pub fn both(self, f: Fault) -> Builder {
        self.up(f).down(f)
    }

    /// Accept and never answer (connect succeeds; nothing else happens).
    pub fn silent(mut self) -> Builder {
        self.faults.silent = true;
        self
    }

    /// Only the k-th connection (1 is the first) gets the faults; the
    /// others pass through.
    pub fn only_connection(mut self, k: usize) -> Builder {
        assert!(k >= 1, "connections are counted from 1");
        self.faults.which = Which::Only(k);
        self
    }

    /// The k-th connection and every later one get the faults.
    pub fn every_connection_from(mut self, k: usize) -> Builder {
        assert!(k >= 1, "connections are counted from 1");
        self.faults.which = Which::From(k);
        self
    }

    pub fn start(self) -> Proxy {
        Proxy::launch(self.target, self.faults)
    }
}

fn resolve(target: impl ToSocketAddrs + std::fmt::Debug) -> SocketAddr {
    let what = format!("{target:?}");
    target
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("fault proxy: cannot resolve target {what}: {e}"))
        .next()
        .unwrap_or_else(|| panic!("fault proxy: target {what} resolves to no address"))
}

impl Proxy {
    /// A proxy to `target` that forwards everything (until told otherwise
    /// with [`Proxy::set_faults`]).
    pub fn start(target: impl ToSocketAddrs + std::fmt::Debug) -> Proxy {
        Proxy::to(target).start()
    }

    /// A proxy to `target`, with faults to choose before it starts.
    pub fn to(target: impl ToSocketAddrs + std::fmt::Debug) -> Builder {
        Builder {
            target: Some(resolve(target)),
            faults: Faults::default(),
        }
    }

    /// A listener that accepts every connection and never answers.
    pub fn black_hole() -> Proxy {
        Proxy::launch(
            None,
            Faults {
                silent: true,
                ..Faults::default()
            },
        )
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Faults for connections accepted from now on (connections already
    /// accepted keep theirs; a client's connect completes before the proxy
    /// accepts it, so wait for [`Seen::accepted`] to count it first).
    pub fn set_faults(&self, faults: Faults) {
        assert!(
            faults.silent || self.shared.target.is_some(),
            "a black hole has no target to forward to"
        );
        *self.shared.faults.lock().unwrap() = faults;
    }

    /// What the proxy saw so far.
    pub fn seen(&self) -> Seen {
        let conns = self.shared.conns.lock().unwrap();
        Seen {
            conns: conns
                .iter()
                .map(|c| Conn {
                    index: c.index,
                    up: c.up.snapshot(),
                    down: c.down.snapshot(),
                    faults: c.faults,
                    connected: c.connected.load(Ordering::SeqCst),
                    open: !c.closed.load(Ordering::SeqCst),
                })
                .collect(),
        }
    }

    /// Wait until `cond` holds for what the proxy saw; fails the test,
    /// naming `what` and showing what was seen, if it does not within
    /// `timeout`.
    pub fn wait_until(&self, what: &str, timeout: Duration, cond: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.seen();
            if cond(&seen) {
                return seen;
            }
            if Instant::now() > deadline {
                panic!("fault proxy: {what} did not happen within {timeout:?}; seen: {seen:#?}");
            }
            std::thread::sleep(TICK);
        }
    }

    /// Wait until a fault fired on some connection.
    pub fn wait_for_fault(&self, timeout: Duration) -> Seen {
        self.wait_until("a fault", timeout, Seen::faulted)
    }

    fn launch(target: Option<SocketAddr>, faults: Faults) -> Proxy {
        assert!(
            faults.silent || target.is_some(),
            "a fault proxy needs a target unless it is silent"
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("fault proxy: bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        listener
            .set_nonblocking(true)
            .expect("fault proxy: non-blocking listener");
        let shared = Arc::new(Shared {
            target,
            faults: Mutex::new(faults),
            conns: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("fault-proxy-{port}"))
            .spawn(move || accept_loop(listener, s))
            .unwrap();
        Proxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        let threads = std::mem::take(&mut *self.shared.threads.lock().unwrap());
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                let _ = client.set_nodelay(true);
                let faults = *shared.faults.lock().unwrap();
                let mut conns = shared.conns.lock().unwrap();
                let index = conns.len() + 1;
                let applied = if faults.which.applies(index) {
                    faults
                } else {
                    Faults {
                        which: faults.which,
                        ..Faults::default()
                    }
                };
                let conn = Arc::new(ConnState {
                    index,
                    faults: applied,
                    up: FlowState::default(),
                    down: FlowState::default(),
                    connected: AtomicBool::new(false),
                    closed: AtomicBool::new(false),
                });
                conns.push(conn.clone());
                drop(conns);
                let s = shared.clone();
                let t = std::thread::Builder::new()
                    .name(format!("fault-proxy-conn-{index}"))
                    .spawn(move || serve(client, conn, s))
                    .unwrap();
                shared.threads.lock().unwrap().push(t);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK / 4),
            Err(_) => std::thread::sleep(TICK),
        }
    }
}

fn stopping(shared: &Shared, conn: &ConnState) -> bool {
    shared.stop.load(Ordering::SeqCst) || conn.closed.load(Ordering::SeqCst)
}

/// Whether the peer of a socket we are not reading from has gone away:
/// a zero-length poll for hang-up, without consuming any byte.
fn peer_gone(s: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

fn serve(client: TcpStream, conn: Arc<ConnState>, shared: Arc<Shared>) {
    if conn.faults.silent {
        // Hold the socket, read nothing, say nothing; let go when the
        // client leaves or the proxy stops.
        while !stopping(&shared, &conn) {
            if peer_gone(&client) {
                conn.up.ended.store(true, Ordering::SeqCst);
                break;
            }
            std::thread::sleep(TICK);
        }
        conn.closed.store(true, Ordering::SeqCst);
        return;
    }
    let target = shared.target.expect("a forwarding proxy has a target");
    let server = match TcpStream::connect_timeout(&target, Duration::from_secs(5)) {
        Ok(s) => s,
        Err(_) => {
            // The target is down: the client sees its connection close.
            conn.closed.store(true, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    };
    let _ = server.set_nodelay(true);
    conn.connected.store(true, Ordering::SeqCst);
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (conn2, shared2) = (conn.clone(), shared.clone());
    let down = std::thread::spawn(move || {
        pump(&s2, &c2, &conn2, &shared2, Direction::Down);
    });
    pump(&client, &server, &conn, &shared, Direction::Up);
    let _ = down.join();
    conn.closed.store(true, Ordering::SeqCst);
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down,
}

/// Write all of `data` unless the connection or the proxy stops first (a
/// receiver that stopped reading must not keep the proxy from stopping).
fn write_all(mut to: &TcpStream, mut data: &[u8], conn: &ConnState, shared: &Shared) -> bool {
    while !data.is_empty() {
        if stopping(shared, conn) {
            return false;
        }
        match to.write(data) {
            Ok(0) => return false,
            Ok(n) => data = &data[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Copy `from` → `to` under this direction's fault until the sender ends,
/// the connection is cut, or the proxy stops.
fn pump(from: &TcpStream, to: &TcpStream, conn: &ConnState, shared: &Shared, dir: Direction) {
    let (fault, flow) = match dir {
        Direction::Up => (conn.faults.up, &conn.up),
        Direction::Down => (conn.faults.down, &conn.down),
    };
    let _ = from.set_read_timeout(Some(TICK));
    let _ = to.set_write_timeout(Some(TICK));
    let mut buf = vec![0u8; 64 * 1024];
    let mut reader = from;
    let end = |flow: &FlowState| {
        flow.ended.store(true, Ordering::SeqCst);
        let _ = to.shutdown(Shutdown::Write);
    };
    loop {
        if stopping(shared, conn) {
            return;
        }
        let sent = flow.forwarded.load(Ordering::SeqCst);
        let at_limit = fault.limit().is_some_and(|n| sent >= n);
        if at_limit && matches!(fault, Fault::StallAfter(_)) {
            flow.faulted.store(true, Ordering::SeqCst);
            // Read nothing more. A sender that closes its socket is still
            // seen (through a poll), so a test can tell that the client went
            // away; the other direction goes on until it ends or the proxy
            // stops.
            while !stopping(shared, conn) {
                if peer_gone(from) {
                    flow.ended.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::sleep(TICK);
            }
            return;
        }
        // Never read past the fault point, so the byte count is exact; at a
        // cut, one more byte tells that the sender goes on.
        let want = match fault {
            Fault::CutAfter(_) if at_limit => 1,
            Fault::CutAfter(n) | Fault::StallAfter(n) => buf.len().min((n - sent) as usize),
            Fault::SwallowAfter(n) if !at_limit => buf.len().min((n - sent) as usize),
            Fault::SwallowAfter(_) | Fault::Pass => buf.len(),
        };
        match reader.read(&mut buf[..want]) {
            Ok(0) => return end(flow),
            Ok(n) => {
                if at_limit {
                    flow.faulted.store(true, Ordering::SeqCst);
                    if matches!(fault, Fault::CutAfter(_)) {
                        conn.closed.store(true, Ordering::SeqCst);
                        let _ = from.shutdown(Shutdown::Both);
                        let _ = to.shutdown(Shutdown::Both);
                        return;
                    }
                    flow.swallowed.fetch_add(n as u64, Ordering::SeqCst);
                    continue;
                }
                if !write_all(to, &buf[..n], conn, shared) {
                    // The receiver is gone: the connection is over for both.
                    conn.closed.store(true, Ordering::SeqCst);
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
                flow.forwarded.fetch_add(n as u64, Ordering::SeqCst);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return end(flow),
        }
    }
}
