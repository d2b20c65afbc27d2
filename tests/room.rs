//! room-server and room-client, as users run them: real binaries on
//! loopback, port 0, raw TCP clients from 127.0.0.2, .3, … as several hosts.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use util::{bracketed_name, have, run, Proc, Tmux, WAIT};

fn server(args: &[&str]) -> (Proc, SocketAddr) {
    let mut all = vec!["-b", "127.0.0.1", "-p", "0"];
    all.extend_from_slice(args);
    let mut p = Proc::spawn("room-server", &all);
    let addr = p.listen_addr("Chat server started on");
    (p, addr)
}

/// A raw TCP client, like nc.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    name: String,
}

impl Conn {
    fn open(from: &str, to: SocketAddr) -> Conn {
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

    fn send(&mut self, data: &[u8]) {
        self.writer.write_all(data).unwrap();
    }

    fn line_bytes(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        let n = self
            .reader
            .read_until(b'\n', &mut buf)
            .unwrap_or_else(|e| panic!("{}: no line: {e}", self.name));
        assert!(n > 0, "{}: connection closed", self.name);
        buf
    }

    fn line(&mut self) -> String {
        String::from_utf8(self.line_bytes()).unwrap()
    }

    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).is_ok()
    }
}

#[test]
fn join_relay_leave_in_order_without_echo_bytes_unchanged() {
    let (mut srv, addr) = server(&[]);
    let mut a = Conn::open("127.0.0.2", addr);
    srv.wait_stderr(&format!("[{}] entered room", a.name));
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
    srv.wait_stderr(&format!("[{c_name}] left room"));
}

fn raise_nofile() {
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
    let (mut srv, addr) = server(&["--max-line", "100"]);
    let mut a = Conn::open("127.0.0.2", addr);
    let mut b = Conn::open("127.0.0.3", addr);
    srv.wait_stderr("(2 in room)");
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
    let (mut srv, addr) = server(&["--max-clients", "2"]);
    let _a = Conn::open("127.0.0.2", addr);
    let _b = Conn::open("127.0.0.3", addr);
    srv.wait_stderr("(2 in room)");
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
    let (_srv, addr) = server(&[]);
    let mut a = Conn::open("127.0.0.2", addr);
    let mut b = Conn::open("127.0.0.3", addr);
    a.line();
    b.send(b"bye");
    b.writer.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(a.line(), format!("<{}> bye\n", b.name));
    assert_eq!(a.line(), format!("[{}] left room\n", b.name));
}

#[test]
fn rate_limit_drops_excess_and_says_slow_down_once() {
    let (mut srv, addr) = server(&["--max-rate", "5"]);
    let mut a = Conn::open("127.0.0.2", addr);
    let mut b = Conn::open("127.0.0.3", addr);
    srv.wait_stderr("(2 in room)");
    a.line();
    let burst: String = (0..50).map(|i| format!("m{i}\n")).collect();
    b.send(burst.as_bytes());
    assert_eq!(b.line(), "! slow down\n");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    a.writer
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    while Instant::now() < deadline {
        let mut l = String::new();
        match a.reader.read_line(&mut l) {
            Ok(n) if n > 0 => got.push(l),
            _ => break,
        }
    }
    assert!(got.len() >= 5 && got.len() < 50, "{} relayed", got.len());
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
    let (code, _, err) = run(Command::new(util::bin("room-server")).args([
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
    let (code, _, err) =
        run(Command::new(util::bin("room-client")).args(["127.0.0.1", "-p", &port.to_string()]));
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim(),
        format!("room-client: Unable to connect to 127.0.0.1:{port}: connection refused")
    );
}

#[test]
fn client_on_a_terminal_keeps_the_typed_line_intact() {
    if !have("tmux") {
        return;
    }
    let (mut srv, addr) = server(&[]);
    let mut peer = Conn::open("127.0.0.2", addr);
    let cmd = format!("{} 127.0.0.1 -p {}", util::bin("room-client"), addr.port());
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
    let chatters: Vec<Conn> = (0..CHATTERS)
        .map(|i| Conn::open(&format!("127.0.0.{}", 20 + i), addr))
        .collect();
    let names: Vec<String> = chatters.iter().map(|c| c.name.clone()).collect();
    let start = Instant::now();
    let handles: Vec<_> = chatters
        .into_iter()
        .enumerate()
        .map(|(me, mut conn)| {
            let names = names.clone();
            thread::spawn(move || {
                let mut writer = conn.writer.try_clone().unwrap();
                let sent = thread::spawn(move || {
                    let mut n = 0u64;
                    while start.elapsed() < Duration::from_secs(SECONDS) {
                        writeln!(writer, "seq {n}").unwrap();
                        n += 1;
                        thread::sleep(Duration::from_millis(20));
                    }
                    writeln!(writer, "done").unwrap();
                    n
                });
                // Read until every other chatter said "done"; per sender the
                // numbers must run 0, 1, 2, … without a gap.
                let mut next = vec![0u64; names.len()];
                let mut done = vec![false; names.len()];
                done[me] = true;
                while !done.iter().all(|&d| d) {
                    let line = conn.line();
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
                        assert_eq!(
                            n.parse::<u64>().unwrap(),
                            next[k],
                            "from {who}: lost or reordered"
                        );
                        next[k] += 1;
                    }
                }
                (sent.join().unwrap(), next)
            })
        })
        .collect();
    let results: Vec<(u64, Vec<u64>)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let cycles: u64 = churners.into_iter().map(|h| h.join().unwrap()).sum();
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
