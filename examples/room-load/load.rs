//! The load tool itself (Unix: raw sockets driven through epoll).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tungstenite::{Message, WebSocket};

#[derive(Parser)]
struct Args {
    /// The room server (loopback)
    server: SocketAddr,
    /// The room's web port (room-server --web), for WebSocket members
    #[arg(long, value_name = "ADDR")]
    web: Option<SocketAddr>,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Connect N clients and check one line reaches all of them
    Hold {
        #[arg(long)]
        clients: usize,
        /// Seconds allowed for connecting and for the line to arrive
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Connect N WebSocket members (needs --web), then one line from a
    /// TCP client must reach all of them
    HoldWeb {
        #[arg(long)]
        clients: usize,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Relay load: lines/s delivered, prefixed share, latency
    Fanout {
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        senders: usize,
        /// Lines per second in all (0: as fast as the senders can)
        #[arg(long, default_value_t = 0)]
        rate: u64,
        /// Seconds of sending
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Lines per sender instead (0: send for --seconds); the run then
        /// lasts until every line is delivered (at most 60 s)
        #[arg(long, default_value_t = 0)]
        count: u64,
        /// Payload bytes per line
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Add one client that never reads
        #[arg(long)]
        stuck: bool,
        /// Of the clients, this many are WebSocket members (needs --web);
        /// the senders are TCP clients
        #[arg(long, default_value_t = 0)]
        ws: usize,
        /// Every TCP client takes a name first (`/nick cN`), so every line
        /// carries `<cN@ip:port>`
        #[arg(long)]
        named: bool,
        /// A room with a password (`room-server --password`): every TCP
        /// client gives it first (`/pass PW`)
        #[arg(long, value_name = "PW")]
        password: Option<String>,
        /// The first client becomes an operator (`/op PW`), so the room
        /// has one while the load runs
        #[arg(long, value_name = "PW")]
        op: Option<String>,
    },
    /// History: one client relays L lines of S bytes into a room started
    /// with `--history L`; then, N times, a new member joins and reads its
    /// history: the time from connecting to `! end of history`
    History {
        #[arg(long, default_value_t = 1000)]
        lines: usize,
        #[arg(long, default_value_t = 1000)]
        size: usize,
        #[arg(long, default_value_t = 20)]
        joins: usize,
    },
    /// Join storm: N silent clients, then everyone reads its notices
    Storm {
        #[arg(long)]
        clients: usize,
        /// Seconds nobody reads after the last client joined
        #[arg(long, default_value_t = 5)]
        quiet: u64,
        /// Seconds allowed in all
        #[arg(long, default_value_t = 180)]
        seconds: u64,
    },
    /// One client pipes a file of lines; readers check every line
    Bulk {
        #[arg(long, default_value_t = 20_000)]
        lines: usize,
        /// Bytes per line, newline excluded
        #[arg(long, default_value_t = 1000)]
        size: usize,
        #[arg(long, default_value_t = 2)]
        readers: usize,
        /// Seconds allowed in all
        #[arg(long, default_value_t = 300)]
        seconds: u64,
    },
}

fn raise_nofile() {
    // SAFETY: get/setrlimit on this process with an owned struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Connects from 127.0.<1 + i/250>.<1 + i%250>, so thousands of clients do
/// not share one source address's ports.
fn connect(server: SocketAddr, i: usize) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    let src: SocketAddr = format!("127.0.{}.{}:0", 1 + i / 250, 1 + i % 250)
        .parse()
        .unwrap();
    if server.is_ipv4() {
        socket.bind(&SockAddr::from(src))?;
    }
    socket.connect_timeout(&SockAddr::from(server), Duration::from_secs(10))?;
    let stream: TcpStream = socket.into();
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn hold(server: SocketAddr, n: usize, seconds: u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        match connect(server, i) {
            Ok(c) => conns.push(c),
            Err(e) => {
                println!("held=0 connected={i} error={}", e.kind());
                return;
            }
        }
        if Instant::now() > deadline {
            println!("held=0 connected={i} error=timeout");
            return;
        }
    }
    // One epoll thread watches every client for the marker line.
    let marker = format!("hold-marker-{}", std::process::id());
    let got = {
        use mio::{Events, Poll};
        use std::io::Read;
        let mut poll = Poll::new().unwrap();
        // Moved, not cloned: 10,000 clients must not need 20,000 files.
        let mut socks: Vec<(mio::net::TcpStream, Vec<u8>, bool)> =
            register(&poll, conns.drain(1..))
                .into_iter()
                .map(|m| (m, Vec::new(), false))
                .collect();
        write_fully(&mut conns[0], format!("{marker}\n").as_bytes()).expect("send marker");
        let mut events = Events::with_capacity(4096);
        let mut buf = vec![0u8; 64 * 1024];
        let mut reached = 0;
        while reached < n - 1 && Instant::now() < deadline {
            let _ = poll.poll(&mut events, Some(Duration::from_millis(100)));
            for ev in events.iter() {
                let (s, pending, done) = &mut socks[ev.token().0];
                while let Ok(k) = s.read(&mut buf) {
                    if k == 0 {
                        break;
                    }
                    pending.extend_from_slice(&buf[..k]);
                }
                if !*done
                    && pending
                        .windows(marker.len())
                        .any(|w| w == marker.as_bytes())
                {
                    *done = true;
                    reached += 1;
                }
                // Keep only a tail that could hold the start of the marker.
                let keep = pending.len().min(marker.len());
                pending.drain(..pending.len() - keep);
            }
        }
        reached
    };
    let held = if got == n - 1 { n } else { got };
    println!("held={held} connected={n} reached={got}");
}

fn storm(server: SocketAddr, n: usize, quiet: u64, seconds: u64) {
    use mio::{Events, Poll};
    use std::io::Read;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        match connect(server, i) {
            Ok(c) => conns.push(c),
            Err(e) => {
                println!("connected={i} complete=0 error={}", e.kind());
                return;
            }
        }
    }
    thread::sleep(Duration::from_secs(quiet));
    let poll = Poll::new().unwrap();
    let mut socks = register(&poll, conns);
    let mut poll = poll;
    // Lines received per client; client i is owed n-1-i join notices.
    let mut got = vec![0usize; n];
    let mut complete = (0..n).filter(|&i| n - 1 - i == 0).count();
    let mut events = Events::with_capacity(4096);
    let mut buf = vec![0u8; 256 * 1024];
    let mut closed = 0;
    while complete < n && Instant::now() < deadline {
        let _ = poll.poll(&mut events, Some(Duration::from_millis(100)));
        for ev in events.iter() {
            let i = ev.token().0;
            loop {
                match socks[i].read(&mut buf) {
                    Ok(0) => {
                        closed += 1;
                        let _ = poll.registry().deregister(&mut socks[i]);
                        break;
                    }
                    Ok(k) => {
                        let before = got[i];
                        got[i] += buf[..k].iter().filter(|&&b| b == b'\n').count();
                        let owed = n - 1 - i;
                        if before < owed && got[i] >= owed {
                            complete += 1;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
    }
    let lines: usize = got.iter().sum();
    println!(
        "connected={n} complete={complete} closed={closed} lines={lines} expected={}",
        n * (n - 1) / 2
    );
}

fn bulk(server: SocketAddr, lines: usize, size: usize, readers: usize, seconds: u64) {
    use std::io::{BufRead, BufReader};
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let readers: Vec<TcpStream> = (0..readers)
        .map(|i| connect(server, i + 1).expect("connect reader"))
        .collect();
    let sender = connect(server, 0).expect("connect sender");
    thread::sleep(Duration::from_millis(300)); // let the join notices pass
    let filler = "x".repeat(size.saturating_sub(8));
    let start = Instant::now();
    let handles: Vec<_> = readers
        .into_iter()
        .map(|r| {
            let filler = filler.clone();
            thread::spawn(move || {
                let _ = r.set_read_timeout(Some(Duration::from_secs(5)));
                let mut r = BufReader::new(r);
                let (mut next, mut intact, mut reordered) = (0usize, 0usize, 0usize);
                let mut line = Vec::new();
                while next < lines && Instant::now() < deadline {
                    line.clear();
                    match r.read_until(b'\n', &mut line) {
                        Ok(0) => break,
                        Ok(_) => {}
                        // Nothing for 5 s (or the room closed us): the
                        // rest is lost.
                        Err(_) => break,
                    }
                    // "<who> 00000042xxx…" (the room's prefix), or bare.
                    let body: &[u8] = if line.starts_with(b"<") {
                        match line.windows(2).position(|w| w == b"> ") {
                            Some(p) => &line[p + 2..],
                            None => continue,
                        }
                    } else {
                        &line
                    };
                    let body = body.strip_suffix(b"\n").unwrap_or(body);
                    let Some(num) = std::str::from_utf8(body.get(..8).unwrap_or_default())
                        .ok()
                        .and_then(|d| d.parse::<usize>().ok())
                    else {
                        continue; // notices, or a mangled line
                    };
                    if &body[8..] != filler.as_bytes() {
                        continue;
                    }
                    if num < next {
                        reordered += 1;
                        continue;
                    }
                    intact += 1;
                    next = num + 1;
                }
                (intact, reordered, start.elapsed())
            })
        })
        .collect();
    let mut file = Vec::with_capacity(lines * (size + 1));
    for i in 0..lines {
        file.extend_from_slice(format!("{i:08}{filler}\n").as_bytes());
    }
    // Not joined: a room that stops reading it would hold it for ever. The
    // sender stays connected until the readers are done (closing with the
    // room's notices unread would reset the connection, and TCP would
    // discard whatever the room had not read yet).
    let written = Arc::new(AtomicBool::new(false));
    let done = written.clone();
    let mut copy = sender.try_clone().expect("clone sender");
    thread::spawn(move || {
        if copy.write_all(&file).is_ok() {
            done.store(true, Ordering::Relaxed);
        }
    });
    let mut delivered = 0;
    let mut reordered = 0;
    let mut secs = 0.0f64;
    let n_readers = handles.len();
    for h in handles {
        let (i, r, t) = h.join().unwrap();
        delivered += i;
        reordered += r;
        secs = secs.max(t.as_secs_f64());
    }
    let write_ok = written.load(Ordering::Relaxed);
    drop(sender);
    let per_reader = delivered as f64 / n_readers as f64;
    println!(
        "sent={lines} delivered={delivered} lost={} reordered={reordered} seconds={secs:.2} lines_per_s={:.0} sender_ok={}",
        lines * n_readers - delivered,
        per_reader / secs.max(1e-9),
        u8::from(write_ok)
    );
}

/// What a page member reads of a message: its kind and text, borrowed
/// from the frame unless escaped; no map is built per message.
#[derive(serde::Deserialize)]
struct PageMessage<'a> {
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<std::borrow::Cow<'a, str>>,
}

/// A WebSocket member, as a browser would be: it joins through the page's
/// origin.
fn ws_connect(web: SocketAddr, i: usize) -> Result<WebSocket<TcpStream>, String> {
    use tungstenite::client::IntoClientRequest;
    let stream = connect(web, i).map_err(|e| e.to_string())?;
    let mut req = format!("ws://{web}/ws")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    req.headers_mut().insert(
        "Origin",
        format!("http://{web}").parse().expect("a header value"),
    );
    tungstenite::client(req, stream)
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

/// Reads every WebSocket member with one mio poll, counting relayed test
/// lines (`{"kind":"line","from":…,"text":"L <t_us> …"}`) and their latency.
fn read_pages(
    mut pages: Vec<WebSocket<TcpStream>>,
    stats: &Stats,
    stop: &AtomicBool,
    origin: Instant,
) {
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll, Token};
    use std::os::fd::AsRawFd;
    let mut poll = Poll::new().unwrap();
    for (i, p) in pages.iter_mut().enumerate() {
        p.get_mut().set_nonblocking(true).unwrap();
        let fd = p.get_ref().as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&fd), Token(i), Interest::READABLE)
            .unwrap();
    }
    let mut events = Events::with_capacity(1024);
    let (mut delivered, mut lat) = (0u64, Vec::new());
    // Messages may already wait in tungstenite's buffers: read all once.
    let mut ready: Vec<usize> = (0..pages.len()).collect();
    while !stop.load(Ordering::Relaxed) {
        for i in ready.drain(..) {
            loop {
                match pages[i].read() {
                    Ok(Message::Text(t)) => {
                        let Ok(m) = serde_json::from_str::<PageMessage>(&t) else {
                            continue;
                        };
                        let text = m.text.as_deref().unwrap_or("");
                        if m.kind == "line" && text.starts_with("L ") {
                            delivered += 1;
                            if let Some(t) =
                                text.split(' ').nth(1).and_then(|t| t.parse::<u64>().ok())
                            {
                                let now = origin.elapsed().as_micros() as u64;
                                lat.push(now.saturating_sub(t).min(u64::from(u32::MAX)) as u32);
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break, // WouldBlock, or closed
                }
            }
        }
        stats.delivered.fetch_add(delivered, Ordering::Relaxed);
        delivered = 0;
        let _ = poll.poll(&mut events, Some(Duration::from_millis(50)));
        ready.extend(events.iter().map(|e| e.token().0));
    }
    // Lines in the JSON carry their sender: all are prefixed.
    stats
        .latencies_us
        .lock()
        .unwrap()
        .extend(lat.iter().copied());
    stats
        .prefixed
        .fetch_add(lat.len() as u64, Ordering::Relaxed);
}

/// N WebSocket members; one line from a TCP client must reach them all.
fn hold_web(server: SocketAddr, web: SocketAddr, n: usize, seconds: u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut pages = Vec::with_capacity(n);
    for i in 0..n {
        match ws_connect(web, i) {
            Ok(p) => pages.push(p),
            Err(e) => {
                println!("held=0 connected={i} error={e}");
                return;
            }
        }
    }
    let marker = format!("hold-marker-{}", std::process::id());
    let mut sender = connect(server, n).expect("connect the sender");
    write_fully(&mut sender, format!("{marker}\n").as_bytes()).expect("send marker");
    let mut reached = 0;
    for p in &mut pages {
        let _ = p.get_mut().set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ));
        loop {
            match p.read() {
                Ok(Message::Text(t)) if t.contains(&marker) => {
                    reached += 1;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    let held = if reached == n { n } else { reached };
    println!("held={held} connected={n} reached={reached}");
}

struct Stats {
    delivered: AtomicU64,
    prefixed: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
}

#[allow(clippy::too_many_arguments)]
fn fanout(
    server: SocketAddr,
    web: Option<SocketAddr>,
    (clients, ws, senders, named): (usize, usize, usize, bool),
    (password, op): (Option<&str>, Option<&str>),
    rate: u64,
    seconds: u64,
    count: u64,
    size: usize,
    stuck: bool,
) {
    let origin = Instant::now();
    let stats = Arc::new(Stats {
        delivered: AtomicU64::new(0),
        prefixed: AtomicU64::new(0),
        latencies_us: Mutex::new(Vec::new()),
    });
    let tcp = clients - ws.min(clients);
    let conns: Vec<TcpStream> = (0..tcp)
        .map(|i| {
            let mut c = connect(server, i).expect("connect");
            if let Some(pw) = password {
                c.write_all(format!("/pass {pw}\n").as_bytes())
                    .expect("/pass");
            }
            if let (Some(pw), 0) = (op, i) {
                c.write_all(format!("/op {pw}\n").as_bytes()).expect("/op");
            }
            if named {
                c.write_all(format!("/nick c{i}\n").as_bytes())
                    .expect("/nick");
            }
            c
        })
        .collect();
    let pages: Vec<WebSocket<TcpStream>> = (0..clients - tcp)
        .map(|i| {
            ws_connect(web.expect("--web for WebSocket members"), tcp + i)
                .expect("WebSocket connect")
        })
        .collect();
    let _stuck = stuck.then(|| {
        let mut c = connect(server, clients).expect("connect stuck client");
        // In a room with a password it is let in first: a member that
        // never reads, not one waiting outside.
        if let Some(pw) = password {
            c.write_all(format!("/pass {pw}\n").as_bytes())
                .expect("/pass");
        }
        c
    });
    let stop_reading = Arc::new(AtomicBool::new(false));
    // One epoll thread reads every TCP client (and one every WebSocket
    // member), so the figures measure the room and not the wake-up of a
    // hundred reader threads.
    let reader = {
        let streams: Vec<TcpStream> = conns.iter().map(|c| c.try_clone().unwrap()).collect();
        let stats = stats.clone();
        let stop = stop_reading.clone();
        thread::spawn(move || read_all(streams, &stats, &stop, origin))
    };
    let ws_reader = (!pages.is_empty()).then(|| {
        let stats = stats.clone();
        let stop = stop_reading.clone();
        thread::spawn(move || read_pages(pages, &stats, &stop, origin))
    });
    // Let the join notices settle before measuring.
    thread::sleep(Duration::from_millis(300));
    let pad = "x".repeat(size.saturating_sub(24));
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let per_sender_rate = rate as f64 / senders as f64;
    let sender_threads: Vec<_> = conns
        .iter()
        .take(senders)
        .map(|c| {
            let mut c = c.try_clone().unwrap();
            let pad = pad.clone();
            let sent = sent.clone();
            thread::spawn(move || {
                let mut n = 0u64;
                let end = start + Duration::from_secs(if count > 0 { 60 } else { seconds });
                while Instant::now() < end && (count == 0 || n < count) {
                    if per_sender_rate > 0.0 {
                        // Sleep until this line is due (no busy polling:
                        // the load must not steal the room's CPU).
                        let due = start + Duration::from_secs_f64(n as f64 / per_sender_rate);
                        let now = Instant::now();
                        if due > now {
                            thread::sleep(due - now);
                        }
                    }
                    let line = format!("L {} {pad}\n", origin.elapsed().as_micros());
                    if let Err(e) = write_fully(&mut c, line.as_bytes()) {
                        // The room froze (10 s without progress) or closed us.
                        eprintln!("room-load: sender stopped: {e}");
                        break;
                    }
                    n += 1;
                }
                sent.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    for t in sender_threads {
        t.join().unwrap();
    }
    let send_secs = start.elapsed().as_secs_f64();
    // Drain: until every delivery arrived, or nothing more came for 1 s
    // (bounded by 15 s, or 60 s for a --count run).
    let want = sent.load(Ordering::Relaxed) * (clients as u64 - 1);
    let drain_end = Instant::now() + Duration::from_secs(if count > 0 { 60 } else { 15 });
    let (mut last, mut last_change) = (u64::MAX, Instant::now());
    while Instant::now() < drain_end {
        let now = stats.delivered.load(Ordering::Relaxed);
        if now >= want {
            break;
        }
        if now != last {
            (last, last_change) = (now, Instant::now());
        } else if last_change.elapsed() > Duration::from_secs(1) {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let elapsed = start.elapsed().as_secs_f64();
    stop_reading.store(true, Ordering::Relaxed);
    let _ = reader.join();
    if let Some(r) = ws_reader {
        let _ = r.join();
    }
    let delivered = stats.delivered.load(Ordering::Relaxed);
    let prefixed = stats.prefixed.load(Ordering::Relaxed);
    let mut lat = stats.latencies_us.lock().unwrap().clone();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            0.0
        } else {
            f64::from(lat[((lat.len() - 1) as f64 * p) as usize]) / 1000.0
        }
    };
    println!(
        "sent={} send_seconds={:.2} expected={} delivered={} delivery_pct={:.2} lines_per_s={:.0} prefixed_pct={:.2} p50_ms={:.3} p99_ms={:.3}",
        sent.load(Ordering::Relaxed),
        send_secs,
        want,
        delivered,
        if want > 0 { 100.0 * delivered as f64 / want as f64 } else { 0.0 },
        delivered as f64 / elapsed,
        if delivered > 0 { 100.0 * prefixed as f64 / delivered as f64 } else { 0.0 },
        pct(0.5),
        pct(0.99)
    );
}

/// Writes all of `data` to a socket that the reader thread made
/// non-blocking (the flag is shared by every copy of the socket): waits for
/// room with poll(2), giving up after 10 s without progress.
/// `lines` lines of `size` bytes into the room, then `joins` members who
/// join one after another: each is timed from connecting until it has
/// read its whole history (`! end of history`).
fn history(server: SocketAddr, lines: usize, size: usize, joins: usize) {
    use std::io::{BufRead, BufReader};
    let mut sender = connect(server, 0).expect("connect");
    let reader = connect(server, 1).expect("connect");
    reader
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut reader = BufReader::new(reader);
    let pad = "h".repeat(size.saturating_sub(8));
    let block: String = (0..lines).map(|i| format!("{i:07} {pad}\n")).collect();
    sender.write_all(block.as_bytes()).expect("send");
    // Every line relayed: the reader has the last.
    let last = format!("{:07} ", lines - 1);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            println!("history: the room closed the reader");
            return;
        }
        if line.contains(&last) {
            break;
        }
    }
    let mut times = Vec::new();
    let mut got_lines = 0usize;
    for j in 0..joins {
        let start = Instant::now();
        let c = connect(server, 2 + j).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut r = BufReader::with_capacity(256 * 1024, c);
        let mut n = 0usize;
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if line == "! end of history\n" {
                break;
            }
            n += 1;
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        got_lines = n.saturating_sub(1); // less the "! last K lines:" line
    }
    times.sort_by(f64::total_cmp);
    println!(
        "joins={} history_lines={} p50_ms={:.3} max_ms={:.3}",
        joins,
        got_lines,
        times[times.len() / 2],
        times[times.len() - 1]
    );
}

fn write_fully(stream: &mut TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    while !data.is_empty() {
        match stream.write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let mut pfd = libc::pollfd {
                    fd: stream.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one valid pollfd for the duration of the call.
                if unsafe { libc::poll(&mut pfd, 1, 10_000) } == 0 {
                    return Err(std::io::ErrorKind::TimedOut.into());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes the streams non-blocking and registers them for reading with
/// `poll`, the i-th as `Token(i)`.
fn register(
    poll: &mio::Poll,
    streams: impl IntoIterator<Item = TcpStream>,
) -> Vec<mio::net::TcpStream> {
    streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.set_nonblocking(true).unwrap();
            let mut m = mio::net::TcpStream::from_std(s);
            poll.registry()
                .register(&mut m, mio::Token(i), mio::Interest::READABLE)
                .unwrap();
            m
        })
        .collect()
}

/// Reads every stream with one mio poll; counts relayed test lines, how
/// many carried a sender prefix, and their latency.
fn read_all(streams: Vec<TcpStream>, stats: &Stats, stop: &AtomicBool, origin: Instant) {
    use mio::{Events, Poll};
    use std::io::Read;
    let mut poll = Poll::new().unwrap();
    let mut conns: Vec<(mio::net::TcpStream, Vec<u8>)> = register(&poll, streams)
        .into_iter()
        .map(|m| (m, Vec::new()))
        .collect();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 256 * 1024];
    let mut lat = Vec::new();
    let (mut delivered, mut prefixed) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let _ = poll.poll(&mut events, Some(Duration::from_millis(50)));
        for ev in events.iter() {
            let (stream, pending) = &mut conns[ev.token().0];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                    Err(_) => break, // WouldBlock, or the room closed us
                }
            }
            let now = origin.elapsed().as_micros() as u64;
            let mut start = 0;
            while let Some(p) = pending[start..].iter().position(|&b| b == b'\n') {
                let line = &pending[start..start + p];
                start += p + 1;
                // "<who> L <t_us> ..." or, unprefixed, "L <t_us> ..."
                let (body, has_prefix) = if line.starts_with(b"<") {
                    match line.windows(4).position(|w| w == b"> L ") {
                        Some(q) => (&line[q + 2..], true),
                        None => continue, // not a test line
                    }
                } else if line.starts_with(b"L ") {
                    (line, false)
                } else {
                    continue; // join and leave notices
                };
                delivered += 1;
                prefixed += u64::from(has_prefix);
                let t = body
                    .split(|&b| b == b' ')
                    .nth(1)
                    .and_then(|t| std::str::from_utf8(t).ok()?.parse::<u64>().ok());
                if let Some(t) = t {
                    lat.push(now.saturating_sub(t).min(u64::from(u32::MAX)) as u32);
                }
            }
            pending.drain(..start);
        }
        stats.delivered.fetch_add(delivered, Ordering::Relaxed);
        delivered = 0;
    }
    stats.prefixed.fetch_add(prefixed, Ordering::Relaxed);
    stats.latencies_us.lock().unwrap().extend(lat);
}

pub fn main() {
    let args = Args::parse();
    assert!(
        args.server.ip().is_loopback() && args.web.is_none_or(|w| w.ip().is_loopback()),
        "benchmarks connect only to loopback"
    );
    raise_nofile();
    match args.mode {
        Mode::Hold { clients, seconds } => hold(args.server, clients, seconds),
        Mode::HoldWeb { clients, seconds } => hold_web(
            args.server,
            args.web.expect("hold-web needs --web"),
            clients,
            seconds,
        ),
        Mode::Storm {
            clients,
            quiet,
            seconds,
        } => storm(args.server, clients, quiet, seconds),
        Mode::Bulk {
            lines,
            size,
            readers,
            seconds,
        } => bulk(args.server, lines, size, readers, seconds),
        Mode::Fanout {
            clients,
            senders,
            rate,
            seconds,
            size,
            stuck,
            count,
            ws,
            named,
            password,
            op,
        } => fanout(
            args.server,
            args.web,
            (clients, ws, senders, named),
            (password.as_deref(), op.as_deref()),
            rate,
            seconds,
            count,
            size,
            stuck,
        ),
        Mode::History { lines, size, joins } => history(args.server, lines, size, joins),
    }
}
