//! Faults: the test fault proxy (`support/proxy.rs`) proven against a plain
//! echo server, so that tests which put it in front of PostgreSQL or an
//! object store can trust what it does — forward exactly, cut and stall at
//! exact byte counts, and report what it saw.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::proxy::{Fault, Faults, Proxy, Which};

/// An echo server on a free loopback port that counts what it received and
/// how many connections ended; stopped on drop.
struct Echo {
    port: u16,
    received: Arc<AtomicU64>,
    ended: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Echo {
    fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(AtomicU64::new(0));
        let ended = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, e, s) = (received.clone(), ended.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((mut sock, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let (r, e) = (r.clone(), e.clone());
                std::thread::spawn(move || {
                    sock.set_nonblocking(false).unwrap();
                    let mut buf = [0u8; 8192];
                    loop {
                        match sock.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                r.fetch_add(n as u64, Ordering::SeqCst);
                                if sock.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    e.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Echo {
            port,
            received,
            ended,
            stop,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn connect(p: &Proxy) -> TcpStream {
    let s = TcpStream::connect(p.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Read exactly `n` bytes (failing the test on a timeout or an early end).
fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("reading {n} bytes through the proxy: {e}"));
    buf
}

/// What the next read gives within `wait`: `Some(0)` at the end of the
/// stream, `Some(n)` for data, `None` when it timed out.
fn next_read(s: &mut TcpStream, wait: Duration) -> Option<usize> {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 1024];
    match s.read(&mut buf) {
        Ok(n) => Some(n),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        // A reset is an end too.
        Err(_) => Some(0),
    }
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 5 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_proxy_forwards_every_byte_both_ways_and_counts_them() {
    let echo = Echo::start();
    let proxy = Proxy::start(echo.addr());
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut s = connect(&proxy);
    let writer = {
        let mut w = s.try_clone().unwrap();
        let d = data.clone();
        std::thread::spawn(move || w.write_all(&d).unwrap())
    };
    assert_eq!(read_n(&mut s, data.len()), data);
    writer.join().unwrap();
    let seen = proxy.wait_until("all bytes counted", Duration::from_secs(5), |s| {
        s.up() == 300_000 && s.down() == 300_000
    });
    assert_eq!(seen.accepted(), 1);
    assert!(!seen.faulted());
    assert!(seen.conns[0].connected);
    // Closing the client ends the connection on both sides.
    drop(s);
    proxy.wait_until("the connection to end", Duration::from_secs(5), |s| {
        s.open() == 0
    });
    wait_for("the server to see the end", || {
        echo.ended.load(Ordering::SeqCst) == 1
    });
}

#[test]
fn a_cut_forwards_exactly_n_bytes_then_closes_both_sides() {
    let echo = Echo::start();
    let proxy = Proxy::to(echo.addr()).up(Fault::CutAfter(10)).start();
    let mut s = connect(&proxy);
    s.write_all(b"0123456789").unwrap();
    assert_eq!(read_n(&mut s, 10), b"0123456789");
    // The 11th byte cuts the connection: the client sees its end, the server
    // never receives that byte and sees its end too.
    s.write_all(b"more").unwrap();
    assert_eq!(next_read(&mut s, Duration::from_secs(5)), Some(0));
    wait_for("the server to see the end", || {
        echo.ended.load(Ordering::SeqCst) == 1
    });
    assert_eq!(echo.received.load(Ordering::SeqCst), 10);
    let seen = proxy.seen();
    assert_eq!(seen.up(), 10);
    assert!(seen.conns[0].up.faulted);
    assert_eq!(seen.open(), 0);
}

#[test]
fn a_cut_of_the_replies_ends_the_connection_when_the_server_sends_more() {
    let echo = Echo::start();
    let proxy = Proxy::to(echo.addr()).down(Fault::CutAfter(3)).start();
    let mut s = connect(&proxy);
    s.write_all(b"abcdef").unwrap();
    assert_eq!(read_n(&mut s, 3), b"abc");
    assert_eq!(next_read(&mut s, Duration::from_secs(5)), Some(0));
    let seen = proxy.seen();
    assert_eq!((seen.up(), seen.down()), (6, 3));
    assert!(seen.conns[0].down.faulted);
}

#[test]
fn a_stall_forwards_n_bytes_then_nothing_while_the_socket_stays_open() {
    let echo = Echo::start();
    let proxy = Proxy::to(echo.addr()).down(Fault::StallAfter(5)).start();
    let mut s = connect(&proxy);
    s.write_all(b"hello, world").unwrap();
    assert_eq!(read_n(&mut s, 5), b"hello");
    // Nothing more arrives, and the connection is not closed: the read
    // times out instead of ending.
    assert_eq!(next_read(&mut s, Duration::from_millis(700)), None);
    // Writing still works: the socket is open.
    s.write_all(b"!").unwrap();
    let seen = proxy.wait_until(
        "the server to get every byte",
        Duration::from_secs(5),
        |s| s.up() == 13,
    );
    assert_eq!(seen.down(), 5);
    assert!(seen.conns[0].down.faulted);
    assert!(seen.conns[0].open);
    assert_eq!(echo.ended.load(Ordering::SeqCst), 0);
    // The client's end shows up as the end of the up direction.
    drop(s);
    proxy.wait_until("the client's end", Duration::from_secs(5), |s| {
        s.conns[0].up.ended
    });
}

#[test]
fn a_stalled_upload_stops_reading_and_sees_the_client_leave() {
    let echo = Echo::start();
    let proxy = Proxy::to(echo.addr()).up(Fault::StallAfter(4)).start();
    let mut s = connect(&proxy);
    s.write_all(b"abcdefgh").unwrap();
    assert_eq!(read_n(&mut s, 4), b"abcd");
    assert_eq!(next_read(&mut s, Duration::from_millis(500)), None);
    assert_eq!(echo.received.load(Ordering::SeqCst), 4);
    let seen = proxy.seen();
    assert_eq!(seen.up(), 4);
    assert!(seen.conns[0].up.faulted && !seen.conns[0].up.ended);
    // The proxy reads nothing more from the client, yet sees it close.
    drop(s);
    proxy.wait_until("the client's end", Duration::from_secs(5), |s| {
        s.conns[0].up.ended
    });
}

#[test]
fn a_swallow_reads_and_discards_and_counts_what_it_discarded() {
    let echo = Echo::start();
    let proxy = Proxy::to(echo.addr()).up(Fault::SwallowAfter(4)).start();
    let mut s = connect(&proxy);
    s.write_all(b"abcdefghij").unwrap();
    assert_eq!(read_n(&mut s, 4), b"abcd");
    let seen = proxy.wait_until("6 bytes swallowed", Duration::from_secs(5), |s| {
        s.swallowed() == 6
    });
    assert_eq!(seen.up(), 4);
    assert_eq!(next_read(&mut s, Duration::from_millis(300)), None);
    assert_eq!(echo.received.load(Ordering::SeqCst), 4);
}

#[test]
fn a_black_hole_accepts_and_never_answers() {
    let proxy = Proxy::black_hole();
    let started = Instant::now();
    let mut s = connect(&proxy);
    assert!(started.elapsed() < Duration::from_secs(1), "connect hangs");
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(next_read(&mut s, Duration::from_millis(700)), None);
    let seen = proxy.seen();
    assert_eq!(seen.accepted(), 1);
    assert!(!seen.conns[0].connected);
    assert_eq!(seen.up(), 0);
    drop(s);
    proxy.wait_until("the client's end", Duration::from_secs(5), |s| {
        s.open() == 0
    });
}

#[test]
fn faults_can_be_given_to_one_connection_only() {
    let echo = Echo::start();
    let proxy = Proxy::to(echo.addr())
        .up(Fault::CutAfter(0))
        .only_connection(2)
        .start();
    let round_trip = |s: &mut TcpStream| {
        s.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).is_ok()
    };
    let mut first = connect(&proxy);
    assert!(round_trip(&mut first), "the first connection passes");
    let mut second = connect(&proxy);
    assert!(!round_trip(&mut second), "the second connection is cut");
    let mut third = connect(&proxy);
    assert!(round_trip(&mut third), "the third connection passes");
    let seen = proxy.seen();
    assert_eq!(seen.accepted(), 3);
    assert_eq!(seen.conns[1].faults.which, Which::Only(2));
    assert_eq!(seen.conns[1].up.forwarded, 0);
    assert!(!seen.conns[0].up.faulted && seen.conns[1].up.faulted);
}

#[test]
fn faults_set_later_apply_to_later_connections() {
    let echo = Echo::start();
    let proxy = Proxy::start(echo.addr());
    let mut before = connect(&proxy);
    // The kernel completes a connect before the proxy accepts it.
    proxy.wait_until("the first connection", Duration::from_secs(5), |s| {
        s.accepted() == 1
    });
    proxy.set_faults(Faults {
        silent: true,
        ..Faults::default()
    });
    let mut after = connect(&proxy);
    before.write_all(b"x").unwrap();
    assert_eq!(read_n(&mut before, 1), b"x");
    after.write_all(b"x").unwrap();
    assert_eq!(next_read(&mut after, Duration::from_millis(500)), None);
    let seen = proxy.seen();
    assert!(seen.conns[0].connected && !seen.conns[1].connected);
}

#[test]
fn dropping_the_proxy_closes_its_port_and_its_connections() {
    let echo = Echo::start();
    let proxy = Proxy::to(echo.addr()).up(Fault::StallAfter(0)).start();
    let addr = proxy.addr();
    let mut s = connect(&proxy);
    proxy.wait_until("a connection", Duration::from_secs(5), |s| {
        s.accepted() == 1
    });
    drop(proxy);
    assert_eq!(next_read(&mut s, Duration::from_secs(5)), Some(0));
    assert!(TcpStream::connect(&addr).is_err(), "the port still accepts");
}
