//! room-server and room-client, as users run them: real binaries on
//! loopback, port 0, raw TCP clients from 127.0.0.2, .3, … as several hosts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{bracketed_name, have, run, start_server, Proc, Tmux, WAIT};
use lanchat::room::server::Config;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

pub fn server(args: &[&str]) -> (Proc, SocketAddr) {
    let mut all = vec!["-b", "127.0.0.1", "-p", "0"];
    all.extend_from_slice(args);
    let mut p = Proc::spawn("room-server", &all);
    let addr = p.listen_addr("Chat server started on");
    (p, addr)
}

/// A raw TCP client, like nc.
pub struct Conn {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
    pub name: String,
}

impl Conn {
    pub fn open(from: &str, to: SocketAddr) -> Conn {
        let socket =
            Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP)).unwrap();
        socket
            .bind(&SockAddr::from(SocketAddr::new(from.parse().unwrap(), 0)))
            .unwrap();
        socket.connect_timeout(&SockAddr::from(to), WAIT).unwrap();
        let stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let name = stream.local_addr().unwrap().to_string();
        Conn {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            name,
        }
    }

    pub fn send(&mut self, data: &[u8]) {
        self.writer.write_all(data).unwrap();
    }

    /// The next line, within [`WAIT`] (a read timeout: it is not the end
    /// of the connection, it is the end of the test's patience).
    pub fn line_bytes(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        let n = self.reader.read_until(b'\n', &mut buf).unwrap_or_else(|e| {
            let partial = String::from_utf8_lossy(&buf);
            match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    panic!(
                        "{}: no line within {WAIT:?} (so far: {partial:?})",
                        self.name
                    )
                }
                _ => panic!("{}: no line: {e}", self.name),
            }
        });
        assert!(n > 0, "{}: connection closed", self.name);
        buf
    }

    pub fn line(&mut self) -> String {
        String::from_utf8(self.line_bytes()).unwrap()
    }

    pub fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).is_ok()
    }
}

#[test]
fn join_relay_leave_in_order_without_echo_bytes_unchanged() {
    // In-process: connections are accepted in the order they connect, so
    // a is a member before b joins.
    let room = start_server(Config::default());
    let addr = room.addr;
    let mut a = Conn::open("127.0.0.2", addr);
    let mut b = Conn::open("127.0.0.3", addr);
    assert_eq!(a.line(), format!("[{}] entered room\n", b.name));
    let mut c = Conn::open("127.0.0.4", addr);
    assert_eq!(a.line(), format!("[{}] entered room\n", c.name));
    assert_eq!(b.line(), format!("[{}] entered room\n", c.name));

    // GB2312 bytes pass through untouched, in order, not echoed.
    let gb: &[u8] = &[0xC4, 0xE3, 0xBA, 0xC3];
    a.send(gb);
    a.send(b"\nsecond\r\nthird\n");
    for conn in [&mut b, &mut c] {
        let mut want = format!("<{}> ", a.name).into_bytes();
        want.extend_from_slice(gb);
        want.push(b'\n');
        assert_eq!(conn.line_bytes(), want);
        assert_eq!(conn.line(), format!("<{}> second\n", a.name));
        assert_eq!(conn.line(), format!("<{}> third\n", a.name));
    }
    b.send(b"from b\n");
    assert_eq!(
        a.line(),
        format!("<{}> from b\n", b.name),
        "a's own lines were not echoed"
    );

    let c_name = c.name.clone();
    drop(c);
    assert_eq!(a.line(), format!("[{c_name}] left room\n"));
    assert_eq!(b.line(), format!("[{c_name}] left room\n"));
    drop((a, b));
    let stats = room.stop();
    assert_eq!((stats.joined, stats.lines), (3, 4));
}

pub fn raise_nofile() {
    #[cfg(unix)]
    // SAFETY: plain get/setrlimit on this test process.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

#[test]
fn two_thousand_concurrent_clients_all_receive_one_message() {
    const N: usize = 2000;
    raise_nofile();
    let (mut srv, addr) = server(&[]);
    let mut conns: Vec<TcpStream> = Vec::with_capacity(N);
    for i in 0..N {
        // Spread over several source addresses, as several hosts.
        let from = format!("127.0.1.{}", 1 + i % 200);
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        socket
            .bind(&SockAddr::from(SocketAddr::new(from.parse().unwrap(), 0)))
            .unwrap();
        socket.connect_timeout(&SockAddr::from(addr), WAIT).unwrap();
        conns.push(socket.into());
    }
    srv.wait_stderr(&format!("({N} in room)"));
    let sender_name = conns[0].local_addr().unwrap().to_string();
    conns[0].write_all("大家好\n".as_bytes()).unwrap();
    let want = format!("<{sender_name}> 大家好\n");
    let mut reached = 0;
    for conn in conns.iter().skip(1) {
        conn.set_read_timeout(Some(WAIT)).unwrap();
        let mut r = BufReader::new(conn);
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap() == 0 {
                panic!("connection closed before the message");
            }
            if line == want {
                reached += 1;
                break;
            }
        }
    }
    assert_eq!(reached, N - 1);
}

#[test]
fn slow_consumer_is_dropped_and_never_slows_the_others() {
    const LINES: usize = 50_000; // 50,000 lines of 1,000 bytes: 50 MB
    let (mut srv, addr) = server(&["--max-rate", "1000000", "--max-queue", "1048576"]);
    let slow = Conn::open("127.0.0.9", addr);
    let slow_name = slow.name.clone();
    srv.wait_stderr(&format!("[{slow_name}] entered"));
    let readers: Vec<Conn> = ["127.0.0.2", "127.0.0.3"]
        .iter()
        .map(|h| Conn::open(h, addr))
        .collect();
    let mut sender = Conn::open("127.0.0.4", addr);
    srv.wait_stderr(&format!("[{}] entered", sender.name));
    let sender_name = sender.name.clone();
    let handles: Vec<_> = readers
        .into_iter()
        .map(|mut r| {
            let prefix = format!("<{sender_name}> ");
            thread::spawn(move || {
                let mut next = 0usize;
                let mut saw_slow_drop = false;
                while next < LINES {
                    let line = r.line();
                    if let Some(body) = line.strip_prefix(&prefix) {
                        let n: usize = body[..8].parse().unwrap();
                        assert_eq!(n, next, "in order, none lost");
                        assert_eq!(body.len(), 1001);
                        next += 1;
                    } else if line.contains("left room (too slow)") {
                        saw_slow_drop = true;
                    }
                }
                (next, saw_slow_drop)
            })
        })
        .collect();
    let filler = "x".repeat(992);
    let mut batch = String::new();
    for i in 0..LINES {
        batch.push_str(&format!("{i:08}{filler}\n"));
        if batch.len() > 256 * 1024 {
            sender.send(batch.as_bytes());
            batch.clear();
        }
    }
    sender.send(batch.as_bytes());
    let mut dropped_seen = false;
    for h in handles {
        let (n, saw) = h.join().unwrap();
        assert_eq!(n, LINES);
        dropped_seen |= saw;
    }
    srv.wait_stderr(&format!("[{slow_name}] left room (too slow)"));
    assert!(
        dropped_seen,
        "the others were told the slow one left (too slow)"
    );
    drop(slow);
}

#[test]
fn a_flooding_sender_is_slowed_down_not_its_readers_dropped() {
    // Backpressure: with a small queue bound and no rate limit, a sender
    // writing 20 MB as fast as it can must not get readers that keep
    // reading dropped as "too slow"; the room reads the sender more slowly.
    const LINES: usize = 20_000;
    let (mut srv, addr) = server(&["--max-rate", "1000000", "--max-queue", "65536"]);
    let readers: Vec<Conn> = ["127.0.0.2", "127.0.0.3"]
        .iter()
        .map(|h| Conn::open(h, addr))
        .collect();
    let mut sender = Conn::open("127.0.0.4", addr);
    srv.wait_stderr("(3 in room)");
    let prefix = format!("<{}> ", sender.name);
    let handles: Vec<_> = readers
        .into_iter()
        .map(|mut r| {
            let prefix = prefix.clone();
            thread::spawn(move || {
                let mut n = 0;
                while n < LINES {
                    let line = r.line();
                    assert!(!line.contains("too slow"), "{line}");
                    if line.starts_with(&prefix) {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let line = format!("{}\n", "z".repeat(999));
    let block = line.repeat(100);
    for _ in 0..LINES / 100 {
        sender.send(block.as_bytes());
    }
    for h in handles {
        assert_eq!(h.join().unwrap(), LINES);
    }
    assert!(!srv.stderr().contains("too slow"), "{}", srv.stderr());
}

#[test]
fn line_over_max_line_is_dropped_and_only_its_sender_told() {
    let room = start_server(Config {
        max_line: 100,
        ..Config::default()
    });
    let addr = room.addr;
    let mut a = Conn::open("127.0.0.2", addr);
    let mut b = Conn::open("127.0.0.3", addr);
    a.line(); // b entered
    let long = "y".repeat(5000);
    a.send(format!("{long}\nshort\n").as_bytes());
    assert_eq!(a.line(), "! line too long (max 100 bytes), dropped\n");
    assert_eq!(b.line(), format!("<{}> short\n", a.name));
    let exact = "z".repeat(100);
    a.send(format!("{exact}\n").as_bytes());
    assert_eq!(
        b.line(),
        format!("<{}> {exact}\n", a.name),
        "a line of exactly max bytes passes"
    );
}

#[test]
fn room_full_beyond_max_clients() {
    let room = start_server(Config {
        max_clients: 2,
        ..Config::default()
    });
    let addr = room.addr;
    let mut a = Conn::open("127.0.0.2", addr);
    let _b = Conn::open("127.0.0.3", addr);
    a.line(); // b entered: the room has its two
    let mut c = Conn::open("127.0.0.4", addr);
    assert_eq!(c.line(), "! room full\n");
    assert!(c.closed());
}

#[test]
fn reset_mid_line_is_noticed_and_partial_line_dropped() {
    let (mut srv, addr) = server(&[]);
    let mut a = Conn::open("127.0.0.2", addr);
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket
        .bind(&SockAddr::from(SocketAddr::new(
            "127.0.0.3".parse().unwrap(),
            0,
        )))
        .unwrap();
    socket.connect(&SockAddr::from(addr)).unwrap();
    let name = socket
        .local_addr()
        .unwrap()
        .as_socket()
        .unwrap()
        .to_string();
    assert_eq!(a.line(), format!("[{name}] entered room\n"));
    let mut s: TcpStream = socket.try_clone().unwrap().into();
    s.write_all(b"half a li").unwrap();
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
    drop(socket); // RST
    assert_eq!(
        a.line(),
        format!("[{name}] left room\n"),
        "no partial line relayed"
    );
    srv.wait_stderr(&format!("[{name}] left room"));
}

#[test]
fn orderly_close_relays_last_line_without_newline() {
    let room = start_server(Config::default());
    let addr = room.addr;
    let mut a = Conn::open("127.0.0.2", addr);
    let mut b = Conn::open("127.0.0.3", addr);
    a.line();
    b.send(b"bye");
    b.writer.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(a.line(), format!("<{}> bye\n", b.name));
    assert_eq!(a.line(), format!("[{}] left room\n", b.name));
}

#[test]
fn max_rate_throttles_a_sender_loses_nothing_and_slows_nobody_else() {
    // 1,000 lines at once against --max-rate 100: all arrive, whole and in
    // order (about 10 s); the sender is told once; another member's line
    // is relayed at once, in the middle of the throttled stream.
    const LINES: usize = 1000;
    let (mut srv, addr) = server(&["--max-rate", "100"]);
    let mut reader = Conn::open("127.0.0.2", addr);
    let mut sender = Conn::open("127.0.0.3", addr);
    let mut other = Conn::open("127.0.0.4", addr);
    srv.wait_stderr("(3 in room)");
    reader.line();
    reader.line();
    sender.line();
    let burst: String = (0..LINES).map(|i| format!("m{i}\n")).collect();
    sender.send(burst.as_bytes());
    assert_eq!(sender.line(), "! slow down (max 100 lines/s)\n");
    let mut next = 0;
    let mut other_at = None;
    while next < LINES {
        let line = reader.line();
        if line == format!("<{}> m{next}\n", sender.name) {
            next += 1;
            // Once the first burst (the allowance of one second) is
            // through, the other member speaks.
            if next == 150 {
                other.send(b"not throttled\n");
            }
        } else if line == format!("<{}> not throttled\n", other.name) {
            other_at = Some(next);
        } else {
            panic!("after m{}: unexpected {line:?}", next - 1);
        }
    }
    let other_at = other_at.expect("the other member's line arrived");
    assert!(
        other_at < LINES - 100,
        "the other member's line waited for the throttled sender: after m{other_at}"
    );
    // Told once only, and never dropped: its next line still arrives.
    sender.send(b"still here\n");
    assert_eq!(reader.line(), format!("<{}> still here\n", sender.name));
    sender
        .writer
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut rest = String::new();
    let _ = sender.reader.read_line(&mut rest);
    assert!(!rest.contains("slow down"), "told twice: {rest:?}");
    assert!(!srv.stderr().contains(&format!("[{}] left", sender.name)));
}

#[cfg(target_os = "linux")]
#[test]
fn lines_that_reached_the_room_are_relayed_even_after_their_sender_resets() {
    // A throttled sender sends 300 lines and resets the connection (close
    // with unread data, or SO_LINGER 0): TCP keeps what had arrived
    // readable, so the room still relays all 300, then the leave notice,
    // even when writing to it fails first (a new member's join notice).
    const LINES: usize = 300;
    let (mut srv, addr) = server(&["--max-rate", "100"]);
    let mut reader = Conn::open("127.0.0.2", addr);
    let sender = Conn::open("127.0.0.3", addr);
    srv.wait_stderr("(2 in room)");
    reader.line();
    let _ = sender.writer.set_nodelay(true);
    let burst: String = (0..LINES).map(|i| format!("r{i}\n")).collect();
    (&sender.writer).write_all(burst.as_bytes()).unwrap();
    // Every byte acknowledged by the server's side (its send queue empty)
    // before the reset, so none of them is still in flight.
    let deadline = Instant::now() + WAIT;
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ writes one int for a valid socket descriptor.
        let rc = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(&sender.writer),
                libc::TIOCOUTQ,
                &mut queued,
            )
        };
        assert_eq!(rc, 0);
        if queued == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{queued} bytes never left");
        thread::sleep(Duration::from_millis(5));
    }
    let name = sender.name.clone();
    socket2::SockRef::from(&sender.writer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(sender); // RST
    let _late = Conn::open("127.0.0.4", addr); // makes the room write to it
    let mut next = 0;
    while next < LINES {
        let line = reader.line();
        if line.starts_with(&format!("<{name}> ")) {
            assert_eq!(line, format!("<{name}> r{next}\n"));
            next += 1;
        } else {
            assert!(line.ends_with("entered room\n"), "{line:?} after r{next}");
        }
    }
    assert_eq!(reader.line(), format!("[{name}] left room\n"));
}

/// The server's peak resident memory (VmHWM), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[test]
fn a_file_piped_in_at_the_default_rate_reaches_every_reader_whole_and_in_order() {
    // What a user does: `seq ... | nc host 5000`, 50,000 lines of 1,000
    // bytes, as fast as TCP takes them. The default --max-rate (1,000/s)
    // throttles it: about 50 s, nothing lost. A member that never reads is
    // dropped (too slow); the sender never is.
    const LINES: usize = 50_000;
    let (mut srv, addr) = server(&[]);
    let stuck = Conn::open("127.0.0.9", addr);
    let readers: Vec<Conn> = ["127.0.0.2", "127.0.0.3"]
        .iter()
        .map(|h| Conn::open(h, addr))
        .collect();
    let sender = Conn::open("127.0.0.4", addr);
    srv.wait_stderr("(4 in room)");
    let prefix = format!("<{}> ", sender.name);
    let handles: Vec<_> = readers
        .into_iter()
        .map(|mut r| {
            let prefix = prefix.clone();
            thread::spawn(move || {
                let filler = "x".repeat(992);
                let mut next = 0usize;
                while next < LINES {
                    let line = r.line();
                    if let Some(body) = line.strip_prefix(&prefix) {
                        assert_eq!(body, format!("{next:08}{filler}\n"), "line {next}");
                        next += 1;
                    }
                }
                next
            })
        })
        .collect();
    let mut writer = sender.writer.try_clone().unwrap();
    let feeder = thread::spawn(move || {
        let filler = "x".repeat(992);
        let file: String = (0..LINES).map(|i| format!("{i:08}{filler}\n")).collect();
        writer.write_all(file.as_bytes()).unwrap();
    });
    for h in handles {
        assert_eq!(h.join().unwrap(), LINES);
    }
    feeder.join().unwrap();
    srv.wait_stderr(&format!("[{}] left room (too slow)", stuck.name));
    let err = srv.stderr();
    assert!(
        !err.contains(&format!("[{}] left", sender.name)),
        "the sender was disconnected:\n{err}"
    );
    drop(stuck);
}

#[test]
fn join_storm_of_10000_silent_clients_costs_little_and_drops_nobody() {
    // 10,000 clients join while none reads: client i is owed the join
    // notices of clients i+1 … (50 M in all). Stored once in the room's
    // log, they cost a few MiB; after 10 s the clients read, and each gets
    // exactly its notices, in order.
    const N: usize = 10_000;
    raise_nofile();
    let (mut srv, addr) = server(&[]);
    let pid = srv.child.id();
    let baseline = open_files(pid);
    let mut streams = Vec::with_capacity(N);
    for i in 0..N {
        let from = format!("127.0.{}.{}", 100 + i / 250, 1 + i % 250);
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        socket
            .bind(&SockAddr::from(SocketAddr::new(from.parse().unwrap(), 0)))
            .unwrap();
        socket.connect_timeout(&SockAddr::from(addr), WAIT).unwrap();
        streams.push(TcpStream::from(socket));
    }
    srv.wait_stderr(&format!("({N} in room)"));
    let names: Vec<String> = streams
        .iter()
        .map(|s| s.local_addr().unwrap().to_string())
        .collect();
    thread::sleep(Duration::from_secs(10)); // the storm's point: nobody reads
                                            // One poll reads them all; each stream must be exactly the notices
                                            // of the later clients.
    use mio::{Events, Interest, Poll, Token};
    let mut poll = Poll::new().unwrap();
    let mut socks: Vec<mio::net::TcpStream> = streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.set_nonblocking(true).unwrap();
            let mut m = mio::net::TcpStream::from_std(s);
            poll.registry()
                .register(&mut m, Token(i), Interest::READABLE)
                .unwrap();
            m
        })
        .collect();
    // Per client: the next notice owed and how much of it has arrived.
    let mut owed: Vec<(usize, usize)> = (0..N).map(|i| (i + 1, 0)).collect();
    let mut complete = owed.iter().filter(|(j, _)| *j == N).count();
    let notices: Vec<Vec<u8>> = names
        .iter()
        .map(|n| format!("[{n}] entered room\n").into_bytes())
        .collect();
    let mut events = Events::with_capacity(4096);
    let mut buf = vec![0u8; 256 * 1024];
    let deadline = Instant::now() + Duration::from_secs(240);
    while complete < N {
        assert!(
            Instant::now() < deadline,
            "only {complete} of {N} clients got all their notices; server:\n{}",
            srv.stderr()
        );
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        for ev in events.iter() {
            let i = ev.token().0;
            loop {
                let n = match socks[i].read(&mut buf) {
                    Ok(0) => panic!("client {i} was closed; server:\n{}", srv.stderr()),
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client {i}: {e}"),
                };
                let mut data = &buf[..n];
                let (j, at) = &mut owed[i];
                while !data.is_empty() {
                    assert!(*j < N, "client {i}: more than its notices: {data:?}");
                    let want = &notices[*j][*at..];
                    let k = want.len().min(data.len());
                    assert_eq!(
                        &data[..k],
                        &want[..k],
                        "client {i}: notice of client {j} wrong or out of order"
                    );
                    data = &data[k..];
                    *at += k;
                    if *at == notices[*j].len() {
                        *j += 1;
                        *at = 0;
                        if *j == N {
                            complete += 1;
                        }
                    }
                }
            }
        }
    }
    let peak = peak_rss_kib(pid);
    eprintln!("room-server peak RSS: {peak} KiB");
    assert!(
        peak < 64 * 1024,
        "room-server peak RSS {peak} KiB (limit 64 MiB)"
    );
    assert!(!srv.stderr().contains("too slow"), "{}", srv.stderr());
    drop(socks);
    let deadline = Instant::now() + WAIT;
    while open_files(pid) > baseline && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(open_files(pid), baseline, "descriptors leaked");
}

#[test]
fn max_memory_bounds_the_whole_room_and_drops_the_stuck_clients_first() {
    // --max-queue is out of the way (1 GiB); --max-memory 32MiB is the
    // bound. 20 clients never read; a fast sender sends 100 MB; the two
    // readers get all of it; the 20 are dropped; RSS stays near the bound.
    const LINES: usize = 100_000;
    const STUCK: usize = 20;
    let (mut srv, addr) = server(&[
        "--max-rate",
        "1000000",
        "--max-queue",
        "1GiB",
        "--max-memory",
        "32MiB",
    ]);
    let pid = srv.child.id();
    let stuck: Vec<Conn> = (0..STUCK)
        .map(|i| Conn::open(&format!("127.0.3.{}", i + 1), addr))
        .collect();
    let readers: Vec<Conn> = ["127.0.0.2", "127.0.0.3"]
        .iter()
        .map(|h| Conn::open(h, addr))
        .collect();
    let sender = Conn::open("127.0.0.4", addr);
    srv.wait_stderr(&format!("({} in room)", STUCK + 3));
    let prefix = format!("<{}> ", sender.name);
    let handles: Vec<_> = readers
        .into_iter()
        .map(|mut r| {
            let prefix = prefix.clone();
            thread::spawn(move || {
                let mut next = 0usize;
                let mut dropped = 0;
                while next < LINES {
                    let line = r.line();
                    if let Some(body) = line.strip_prefix(&prefix) {
                        assert_eq!(body[..8].parse::<usize>().unwrap(), next);
                        assert_eq!(body.len(), 1001);
                        next += 1;
                    } else if line.ends_with("left room (too slow)\n") {
                        dropped += 1;
                    }
                }
                (next, dropped)
            })
        })
        .collect();
    let mut writer = sender.writer.try_clone().unwrap();
    let feeder = thread::spawn(move || {
        let filler = "y".repeat(992);
        let mut block = String::new();
        for i in 0..LINES {
            block.push_str(&format!("{i:08}{filler}\n"));
            if block.len() >= 256 * 1024 {
                writer.write_all(block.as_bytes()).unwrap();
                block.clear();
            }
        }
        writer.write_all(block.as_bytes()).unwrap();
    });
    for h in handles {
        let (got, dropped) = h.join().unwrap();
        assert_eq!(got, LINES);
        assert!(dropped <= STUCK, "{dropped} drops announced");
    }
    feeder.join().unwrap();
    // Dropped furthest behind first: an order load decides, so any order.
    let dropped: Vec<String> = stuck
        .iter()
        .map(|s| format!("[{}] left room (too slow)", s.name))
        .collect();
    srv.wait_stderr_all(&dropped);
    let peak = peak_rss_kib(pid);
    eprintln!("room-server peak RSS: {peak} KiB");
    assert!(
        peak < (32 + 24) * 1024,
        "room-server peak RSS {peak} KiB with --max-memory 32MiB"
    );
}

#[test]
fn max_per_host_turns_away_the_fourth_and_fifth_from_one_address_and_nobody_else() {
    let (mut srv, addr) = server(&["--max-per-host", "3"]);
    let mut first = Conn::open("127.0.0.2", addr);
    let _more: Vec<Conn> = (0..2).map(|_| Conn::open("127.0.0.2", addr)).collect();
    srv.wait_stderr("(3 in room)");
    for _ in 0..2 {
        let mut c = Conn::open("127.0.0.2", addr);
        assert_eq!(c.line(), "! too many connections from 127.0.0.2 (max 3)\n");
        assert!(c.closed());
    }
    // Another address is not affected.
    let other = Conn::open("127.0.0.3", addr);
    first.line();
    first.line();
    assert_eq!(first.line(), format!("[{}] entered room\n", other.name));
    srv.wait_stderr("(4 in room)");
    let said = srv
        .stderr()
        .lines()
        .filter(|l| l.contains("too many connections from 127.0.0.2"))
        .count();
    assert_eq!(
        said,
        1,
        "said once a minute, not per attempt: {}",
        srv.stderr()
    );
    // A place freed is a place again.
    drop(first);
    srv.wait_stderr("(3 in room)");
    let mut again = Conn::open("127.0.0.2", addr);
    srv.wait_stderr("(4 in room)");
    again.send(b"back\n");
}

#[test]
fn the_default_max_per_host_is_64_and_0_is_no_limit() {
    let room = start_server(Config::default());
    let mut watcher = Conn::open("127.0.0.4", room.addr);
    let members: Vec<Conn> = (0..64)
        .map(|_| Conn::open("127.0.0.5", room.addr))
        .collect();
    for _ in 0..64 {
        assert!(watcher.line().ends_with("entered room\n"));
    }
    let mut refused = Conn::open("127.0.0.5", room.addr);
    assert_eq!(
        refused.line(),
        "! too many connections from 127.0.0.5 (max 64)\n"
    );
    drop(members);
    let unlimited = start_server(Config {
        max_per_host: 0,
        ..Config::default()
    });
    let mut watcher = Conn::open("127.0.0.4", unlimited.addr);
    let _many: Vec<Conn> = (0..200)
        .map(|_| Conn::open("127.0.0.6", unlimited.addr))
        .collect();
    for _ in 0..200 {
        assert!(watcher.line().ends_with("entered room\n"));
    }
    assert_eq!(unlimited.stop().too_many_from_host, 0);
    assert_eq!(room.stop().too_many_from_host, 1);
}

#[test]
fn nc_and_ncat_work_as_clients() {
    let (_srv, addr) = server(&[]);
    let mut a = Conn::open("127.0.0.2", addr);
    let port = addr.port().to_string();
    for tool in ["nc", "ncat"] {
        if !have(tool) {
            continue;
        }
        let mut p = Proc::spawn_cmd(tool, Command::new(tool).args(["127.0.0.1", &port]));
        let entered = a.line();
        assert!(entered.ends_with("entered room\n"), "{entered}");
        let name = bracketed_name(&entered);
        p.write("你好 from nc\n".as_bytes());
        assert_eq!(a.line(), format!("<{name}> 你好 from nc\n"));
        a.send(b"hello tool\n");
        assert_eq!(p.line(), format!("<{}> hello tool", a.name));
        p.close_stdin();
        drop(p);
        assert_eq!(a.line(), format!("[{name}] left room\n"));
    }
}

#[test]
fn a_file_piped_through_nc_and_ncat_arrives_whole_at_the_default_rate() {
    // `seq -f 'line %g' 1 3000 | nc host 5000`: three seconds' worth of the
    // default --max-rate; every line arrives, in order. ncat half-closes at
    // the end of its input and waits; nc stays until it is stopped.
    const LINES: usize = 3000;
    let (_srv, addr) = server(&[]);
    let mut reader = Conn::open("127.0.0.2", addr);
    let port = addr.port().to_string();
    let file: String = (1..=LINES).map(|i| format!("line {i}\n")).collect();
    for tool in ["ncat", "nc"] {
        if !have(tool) {
            continue;
        }
        let mut p = Proc::spawn_cmd(tool, Command::new(tool).args(["127.0.0.1", &port]));
        let name = bracketed_name(&reader.line());
        p.write(file.as_bytes());
        p.close_stdin();
        for i in 1..=LINES {
            assert_eq!(reader.line(), format!("<{name}> line {i}\n"), "{tool}");
        }
        assert_eq!(p.line(), "! slow down (max 1000 lines/s)", "{tool}");
        drop(p);
        assert_eq!(reader.line(), format!("[{name}] left room\n"), "{tool}");
    }
}

#[test]
fn ipv6_and_dual_stack_names() {
    let mut srv = Proc::spawn("room-server", &["-b", "::", "-p", "0"]);
    let addr = srv.listen_addr("Chat server started on");
    let mut v6 = Conn::open("::1", SocketAddr::new("::1".parse().unwrap(), addr.port()));
    let v4 = Conn::open(
        "127.0.0.2",
        SocketAddr::new("127.0.0.1".parse().unwrap(), addr.port()),
    );
    assert_eq!(
        v6.line(),
        format!("[{}] entered room\n", v4.name),
        "IPv4 shown plainly"
    );
    assert!(v6.name.starts_with("[::1]:"));
}

#[cfg(unix)]
#[test]
fn server_stops_on_sigint_with_130() {
    let (mut srv, _) = server(&[]);
    let limit = srv.wait_stderr("open-file limit");
    assert!(limit.contains("room for"), "{limit}");
    srv.signal(libc::SIGINT);
    srv.expect_exit(130);
    let (mut srv, _) = server(&[]);
    srv.signal(libc::SIGTERM);
    srv.expect_exit(130);
}

#[test]
fn server_bind_in_use_is_one_clear_error() {
    let (_srv, addr) = server(&[]);
    let (code, _, err) = run(Command::new(crate::util::bin("room-server")).args([
        "-b",
        "127.0.0.1",
        "-p",
        &addr.port().to_string(),
    ]));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("cannot listen on 127.0.0.1:") && err.contains("address already in use"),
        "{err}"
    );
    // lanchat's words alone, not theirs followed by the OS's.
    assert!(!err.contains("os error"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

// ---- room-client ------------------------------------------------------------

#[test]
fn client_sends_encoded_lines_and_prints_sanitized_decoded_ones() {
    let (mut srv, addr) = server(&[]);
    let mut peer = Conn::open("127.0.0.2", addr);
    let mut cl = Proc::spawn(
        "room-client",
        &["127.0.0.1", "-p", &addr.port().to_string()],
    );
    cl.wait_stderr("Connected to remote host. Start sending messages!");
    let entered = peer.line();
    let name = bracketed_name(&entered);
    cl.write("你好\n".as_bytes());
    let mut want = format!("<{name}> ").into_bytes();
    want.extend_from_slice(&[0xC4, 0xE3, 0xBA, 0xC3, b'\n']);
    assert_eq!(peer.line_bytes(), want, "sent as GB2312");
    let mut msg = vec![0xCA, 0xC0, 0xBD, 0xE7]; // 世界
    msg.extend_from_slice(b" \x1b[31m\r\n");
    peer.send(&msg);
    assert_eq!(cl.line(), format!("<{}> 世界 \\x1b[31m", peer.name));
    cl.close_stdin();
    cl.expect_exit(0);
    srv.wait_stderr(&format!("[{name}] left room"));
}

#[test]
fn client_takes_its_name_on_joining() {
    let (mut srv, addr) = server(&[]);
    let mut peer = Conn::open("127.0.0.2", addr);
    let mut cl = Proc::spawn(
        "room-client",
        &[
            "127.0.0.1",
            "-p",
            &addr.port().to_string(),
            "--name",
            "小明",
        ],
    );
    cl.wait_stderr("Connected to remote host. Start sending messages!");
    let name = bracketed_name(&peer.line());
    let mut want = format!("[{name}] is now ").into_bytes();
    want.extend_from_slice(&[0xD0, 0xA1, 0xC3, 0xF7, b'\n']); // 小明, GB2312
    assert_eq!(peer.line_bytes(), want);
    cl.write(b"hello\n");
    let mut want = vec![b'<', 0xD0, 0xA1, 0xC3, 0xF7];
    want.extend(format!("@{name}> hello\n").as_bytes());
    assert_eq!(peer.line_bytes(), want);
    cl.close_stdin();
    cl.expect_exit(0);
    srv.wait_stderr("left room");
    // A name the encoding cannot write: one clear line, exit 1.
    let (code, _, err) = run(Command::new(crate::util::bin("room-client")).args([
        "127.0.0.1",
        "-p",
        &addr.port().to_string(),
        "--name",
        "😀",
    ]));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--name 😀: '😀' (U+1F600) cannot be written in gb2312"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn client_says_disconnected_when_server_goes_away() {
    let (mut srv, addr) = server(&[]);
    let mut cl = Proc::spawn(
        "room-client",
        &["127.0.0.1", "-p", &addr.port().to_string()],
    );
    cl.wait_stderr("Connected to remote host");
    srv.wait_stderr("entered room");
    srv.signal(libc::SIGTERM);
    srv.expect_exit(130);
    cl.expect_exit(1);
    assert!(
        cl.stderr().contains("Disconnected from server"),
        "{}",
        cl.stderr()
    );
}

#[test]
fn client_connect_failure_is_one_clear_line() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (code, _, err) = run(Command::new(crate::util::bin("room-client")).args([
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ]));
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim(),
        format!("room-client: Unable to connect to 127.0.0.1:{port}: connection refused")
    );
}

#[test]
fn client_takes_the_port_in_host_or_in_p_but_not_two_different_ones() {
    let room = start_server(Config::default());
    let mut peer = Conn::open("127.0.0.2", room.addr);
    let (code, _) = crate::util::run_bin_with_input(
        "room-client",
        &[&format!("127.0.0.1:{}", room.addr.port())],
        "你好\n".as_bytes(),
    );
    assert_eq!(code, Some(0));
    assert!(peer.line().ends_with("] entered room\n"));
    let line = peer.line_bytes();
    assert!(line.starts_with(b"<127.0.0.1:"), "{line:?}");
    assert!(line.ends_with(b"> \xc4\xe3\xba\xc3\n"), "{line:?}");

    let (code, _, err) = run(Command::new(crate::util::bin("room-client")).args([
        &format!("127.0.0.1:{}", room.addr.port()),
        "-p",
        "1",
    ]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("give the port once"), "{err}");
    drop(peer);
    room.stop();
}

#[test]
fn client_on_a_terminal_keeps_the_typed_line_intact() {
    if !have("tmux") {
        return;
    }
    let (mut srv, addr) = server(&[]);
    let mut peer = Conn::open("127.0.0.2", addr);
    let cmd = format!(
        "{} 127.0.0.1 -p {}",
        crate::util::bin("room-client"),
        addr.port()
    );
    let term = Tmux::start("room-client", &cmd, 120, 20);
    term.wait_screen(|s| s.contains("<You>"));
    let name = bracketed_name(&peer.line());
    term.type_text("half typed");
    term.wait_screen(|s| s.contains("<You> half typed"));
    peer.send(&[0xC4, 0xE3, 0xBA, 0xC3, b'\n']);
    let screen = term.wait_screen(|s| s.contains("你好"));
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    let msg_at = lines.iter().position(|l| l.contains("你好")).unwrap();
    let input_at = lines
        .iter()
        .position(|l| l.contains("<You> half typed"))
        .unwrap_or_else(|| panic!("typed line lost:\n{screen}"));
    assert!(
        msg_at < input_at,
        "message printed above the input line:\n{screen}"
    );
    // Finish the line: it is sent whole.
    term.type_text(" now");
    term.key("Enter");
    assert_eq!(peer.line(), format!("<{name}> half typed now\n"));
    srv.wait_stderr("entered room");
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One chatter of the churn test: sends "seq N" every 20 ms for
/// `SECONDS`, then "done", while checking that every other chatter's
/// numbers arrive 0, 1, 2, … until its "done". Returns how many it sent
/// and how many it got from each, or, past `deadline` or on any error,
/// what it saw.
fn chatter(
    me: usize,
    conn: Conn,
    names: &[String],
    start: Instant,
    deadline: Instant,
) -> Result<(u64, Vec<u64>), String> {
    const SECONDS: u64 = 20;
    let Conn {
        mut reader,
        writer,
        name,
    } = conn;
    let mut out = writer.try_clone().unwrap();
    let sent = thread::spawn(move || -> Result<u64, String> {
        let mut n = 0u64;
        while start.elapsed() < Duration::from_secs(SECONDS) {
            writeln!(out, "seq {n}").map_err(|e| format!("writing seq {n}: {e}"))?;
            n += 1;
            thread::sleep(Duration::from_millis(20));
        }
        writeln!(out, "done").map_err(|e| format!("writing done: {e}"))?;
        Ok(n)
    });
    writer
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut next = vec![0u64; names.len()];
    let mut done = vec![false; names.len()];
    done[me] = true;
    let mut seen = 0u64;
    let mut line = String::new();
    let failed = |why: String, next: &[u64], done: &[bool], seen: u64| {
        let waiting: Vec<String> = (0..names.len())
            .filter(|&k| !done[k])
            .map(|k| format!("{} (at seq {})", names[k], next[k]))
            .collect();
        format!(
            "chatter {me} {name}: {why}; {seen} lines read; still waiting for: {}",
            waiting.join(", ")
        )
    };
    while !done.iter().all(|&d| d) {
        if Instant::now() > deadline {
            return Err(failed("deadline passed".into(), &next, &done, seen));
        }
        // A timed-out read keeps what it read of a line in `line`; it is
        // cleared only once a whole line was handled.
        if line.ends_with('\n') {
            line.clear();
        }
        match reader.read_line(&mut line) {
            Ok(0) => return Err(failed("connection closed".into(), &next, &done, seen)),
            Ok(_) if line.ends_with('\n') => seen += 1,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return Err(failed(format!("read failed: {e}"), &next, &done, seen)),
        }
        let Some(rest) = line.strip_prefix('<') else {
            continue;
        };
        let Some((who, body)) = rest.split_once("> ") else {
            continue;
        };
        let Some(k) = names.iter().position(|n| n == who) else {
            continue;
        };
        let body = body.trim_end();
        if body == "done" {
            done[k] = true;
        } else if let Some(n) = body.strip_prefix("seq ") {
            if n.parse::<u64>().ok() != Some(next[k]) {
                let why = format!("from {who}: got seq {n}, wanted {}", next[k]);
                return Err(failed(why, &next, &done, seen));
            }
            next[k] += 1;
        }
    }
    let n = sent
        .join()
        .unwrap()
        .map_err(|e| failed(e, &next, &done, seen))?;
    // Leave in good order: half-close, then read until the room closes.
    // Dropping the socket now, with churn notices unread, would reset the
    // connection, and a reset discards what this side had not sent yet
    // (its last lines, held back by Nagle's algorithm): the others would
    // wait for its "done" for ever. That is how this test once hung.
    writer.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    loop {
        if Instant::now() > deadline {
            return Err(failed("the room never closed".into(), &next, &done, seen));
        }
        rest.clear();
        match reader.read_until(b'\n', &mut rest) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(failed(format!("closing: {e}"), &next, &done, seen)),
        }
    }
    Ok((n, next))
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[test]
fn churn_of_500_clients_loses_and_reorders_nothing_and_leaks_no_files() {
    const CHURN: usize = 500;
    const CHATTERS: usize = 10;
    const SECONDS: u64 = 20;
    raise_nofile();
    let (mut srv, addr) = server(&["--max-rate", "100000"]);
    let pid = srv.child.id();
    let baseline = open_files(pid);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // 500 clients that keep connecting and leaving (and never read).
    let churners: Vec<_> = (0..4)
        .map(|t| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut pool: Vec<Option<TcpStream>> = (0..CHURN / 4).map(|_| None).collect();
                let mut i = 0usize;
                let mut cycles = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let slot = i % pool.len();
                    // Close the old connection (some with a reset), open anew.
                    if let Some(old) = pool[slot].take() {
                        if i.is_multiple_of(3) {
                            let _ = socket2::SockRef::from(&old).set_linger(Some(Duration::ZERO));
                        }
                        drop(old);
                    }
                    let from = format!("127.0.{}.{}", 10 + t, 1 + slot % 250);
                    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
                    s.bind(&SockAddr::from(SocketAddr::new(from.parse().unwrap(), 0)))
                        .unwrap();
                    if s.connect_timeout(&SockAddr::from(addr), WAIT).is_ok() {
                        pool[slot] = Some(s.into());
                    }
                    i += 1;
                    cycles += 1;
                    // Each join and leave is announced to ~500 others: pace
                    // the churn so the test measures correctness, not load.
                    thread::sleep(Duration::from_millis(10));
                }
                cycles
            })
        })
        .collect();

    // 10 chatters, each sending numbered lines and checking everyone else's.
    // Everything is bounded by one deadline: a chatter that has not heard
    // every other chatter's "done" by then reports what it saw instead of
    // waiting for ever (churn notices alone never time a read out).
    let deadline = Instant::now() + Duration::from_secs(SECONDS + 60);
    let chatters: Vec<Conn> = (0..CHATTERS)
        .map(|i| Conn::open(&format!("127.0.0.{}", 20 + i), addr))
        .collect();
    let names: Vec<String> = chatters.iter().map(|c| c.name.clone()).collect();
    let start = Instant::now();
    let handles: Vec<_> = chatters
        .into_iter()
        .enumerate()
        .map(|(me, conn)| {
            let names = names.clone();
            thread::spawn(move || chatter(me, conn, &names, start, deadline))
        })
        .collect();
    let results: Vec<Result<(u64, Vec<u64>), String>> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let cycles: u64 = churners.into_iter().map(|h| h.join().unwrap()).sum();
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "chatters failed:\n{}\nserver stderr (last 40 lines):\n{}",
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        tail(&srv.stderr(), 40)
    );
    let results: Vec<(u64, Vec<u64>)> = results.into_iter().map(Result::unwrap).collect();
    for (me, (_, got)) in results.iter().enumerate() {
        for (k, (sent, _)) in results.iter().enumerate() {
            if k != me {
                assert_eq!(got[k], *sent, "chatter {me} got every line of chatter {k}");
            }
        }
    }
    assert!(cycles >= CHURN as u64, "clients churned: {cycles}");
    // Every client (churners, and chatters whose threads ended) is gone
    // now: the server's descriptors come back to the start. Bounded wait.
    let want = baseline;
    let deadline = Instant::now() + WAIT;
    while open_files(pid) > want && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(open_files(pid), want, "descriptors leaked");
    srv.wait_stderr("left room");
}
