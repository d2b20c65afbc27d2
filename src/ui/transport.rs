//! The seam between the window and the network: one [`Transport`] per
//! mode, each with its own receiving thread that hands [`Event`]s to the
//! window's loop.
//!
//! * [`Udp`]: the default. One socket, bound like `chat-window`'s (same
//!   decoding, sanitizing, `--allow`, `--max-rate`, `--multicast`), that
//!   also sends, so peers see this user as one stable `ip:port`. Its
//!   receiver is the library's batched receive and admission, not a copy.
//! * [`Room`]: a `room-server` connection, framed and decoded like
//!   `room-client`'s.
//! * `ipmsg::Ipmsg` (in [`crate::ipmsg`]): IP Messenger.
//!
//! Sending happens on the window's thread and never blocks it: UDP sends
//! do not, and the room's stream is written by a thread of its own.

use std::collections::VecDeque;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::encoding::Encoding;
use crate::filter::{AllowList, RateLimiter};
use crate::message::{self, local_hms, Renderer, Scratch, SentRecord};
use crate::net::{self, BatchReceiver};
use crate::room::framer::{Frame, Framer};
use crate::sanitize;
use crate::stop::POLL_INTERVAL;
use crate::ui::app::{Drops, Incoming, Mark, Outgoing, User, Who};

/// What the receiving threads (and the terminal and signals) tell the
/// window.
#[derive(Debug)]
pub enum Event {
    /// A key, paste, mouse or resize event.
    Term(crossterm::event::Event),
    /// Messages received, and what was dropped meanwhile.
    Received(Vec<Incoming>, Drops),
    /// The network reported a destination unreachable.
    Unreachable(SocketAddr, String),
    /// The connection (room mode) ended.
    Disconnected(String),
    /// A warning for the status line.
    Warning(String),
    /// IP Messenger: who is online now.
    Users(Vec<User>),
    /// IP Messenger: a user came or went (a line for the messages).
    Presence(String),
    /// IP Messenger: the delivery state of an own line.
    Delivery {
        /// The window's entry.
        seq: u64,
        /// Its new state.
        mark: Mark,
    },
    /// Ctrl-C in another terminal, SIGTERM or SIGHUP.
    Signal,
}

/// Why sending did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError(pub String);

/// One way of talking to the network.
pub trait Transport {
    /// Sends lines, in order, to the current target. `entries` are the
    /// window's entries for them (for delivery marks), `time` the time.
    ///
    /// # Errors
    /// [`SendError`] when the lines could not go out (nothing was sent).
    fn send(
        &mut self,
        lines: &[Outgoing],
        entries: &[u64],
        time: SystemTime,
    ) -> Result<(), SendError>;

    /// Changes the target (`/to`); returns how the status line names it.
    ///
    /// # Errors
    /// Why the target is not usable.
    fn set_target(&mut self, target: &str) -> Result<String, String>;

    /// How the status line names the current target.
    fn target_label(&self) -> String;

    /// The user the window chose to send to (IP Messenger; `None`: all).
    fn select(&mut self, _user: Option<SocketAddr>) {}

    /// Warnings found while sending (a destination reported unreachable).
    fn warnings(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// Called once before the window closes (IP Messenger says goodbye).
    fn close(&mut self) {}
}

/// A log of everything received and sent (`--log`), shared by the
/// receiving thread and the window.
#[derive(Clone)]
pub struct Log(Arc<Mutex<File>>);

impl Log {
    /// Appends to `file`.
    pub fn new(file: File) -> Self {
        Log(Arc::new(Mutex::new(file)))
    }

    /// Writes whole JSON lines (one write, so nothing is half there).
    pub fn write(&self, lines: &str) {
        if lines.is_empty() {
            return;
        }
        if let Ok(mut f) = self.0.lock() {
            let _ = f.write_all(lines.as_bytes());
        }
    }

    /// Logs a sent line.
    pub fn sent(&self, to: &str, text: &str, bytes: usize, time: SystemTime) {
        let record = SentRecord {
            ts: message::timestamp(time).into(),
            to: to.into(),
            text: text.into(),
            bytes,
        };
        let mut line = serde_json::to_string(&record).expect("a record always serializes");
        line.push('\n');
        self.write(&line);
    }
}

// ---- UDP --------------------------------------------------------------------

/// How the UDP mode listens and sends.
#[derive(Debug, Clone)]
pub struct UdpConfig {
    /// Encoding of received text (may be `auto`).
    pub decode: Encoding,
    /// `--allow`.
    pub allow: AllowList,
    /// `--max-rate`.
    pub max_rate: Option<u32>,
    /// `--multicast GROUP`: joined for listening.
    pub multicast: Option<IpAddr>,
    /// `--interface` for the group.
    pub interface: Option<String>,
}

/// Recently sent datagrams, so the copy that broadcast or multicast brings
/// back to this socket is not shown twice.
#[derive(Debug, Default)]
struct Recent {
    sent: VecDeque<(u64, Instant)>,
}

/// How long a sent datagram is waited for to come back.
const ECHO_WINDOW: Duration = Duration::from_secs(5);

impl Recent {
    fn hash(payload: &[u8]) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        payload.hash(&mut h);
        h.finish()
    }

    fn add(&mut self, payload: &[u8], copies: usize) {
        let now = Instant::now();
        while self
            .sent
            .front()
            .is_some_and(|(_, t)| now.duration_since(*t) > ECHO_WINDOW)
        {
            self.sent.pop_front();
        }
        for _ in 0..copies.min(64) {
            if self.sent.len() == 4096 {
                self.sent.pop_front();
            }
            self.sent.push_back((Self::hash(payload), now));
        }
    }

    /// Whether `payload` is a copy of something sent; forgets that copy.
    fn take(&mut self, payload: &[u8]) -> bool {
        let h = Self::hash(payload);
        match self.sent.iter().position(|(x, _)| *x == h) {
            Some(i) => {
                self.sent.remove(i);
                true
            }
            None => false,
        }
    }
}

/// Where lines go in UDP mode.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// The broadcast address of every local network.
    Broadcast(Vec<SocketAddr>),
    /// One address (unicast, a broadcast address, or a multicast group).
    One(SocketAddr),
}

/// The UDP mode: one socket that listens and sends.
pub struct Udp {
    socket: Arc<UdpSocket>,
    port: u16,
    target: Target,
    recent: Arc<Mutex<Recent>>,
    log: Option<Log>,
    stop: Arc<AtomicBool>,
    warned: Vec<SocketAddr>,
}

impl Udp {
    /// Starts receiving on a bound socket (events go to `events`) and
    /// sends to `target` (`None`: the local networks' broadcast
    /// addresses).
    ///
    /// # Errors
    /// A message for a target that cannot be used or a group that cannot
    /// be joined.
    pub fn start(
        socket: UdpSocket,
        config: UdpConfig,
        target: Option<&str>,
        log: Option<Log>,
        events: SyncSender<Event>,
    ) -> Result<Udp, String> {
        let port = socket.local_addr().map_err(|e| net::describe(&e))?.port();
        let _ = socket.set_broadcast(true);
        let _ = net::report_icmp_errors(&socket);
        config.decode.prepare();
        if let Some(group) = config.multicast {
            net::join_multicast(&socket, group, config.interface.as_deref())
                .map_err(|e| e.to_string())?;
        }
        let socket = Arc::new(socket);
        let mut udp = Udp {
            socket: socket.clone(),
            port,
            target: Target::Broadcast(Vec::new()),
            recent: Arc::new(Mutex::new(Recent::default())),
            log: log.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            warned: Vec::new(),
        };
        udp.set_target(target.unwrap_or("broadcast"))?;
        let receiver = Receiver {
            socket,
            port,
            config,
            recent: udp.recent.clone(),
            local: net::local_ips(),
            log,
            events,
            stop: udp.stop.clone(),
        };
        thread::spawn(move || receiver.run());
        Ok(udp)
    }

    fn destinations(&self) -> Vec<SocketAddr> {
        match &self.target {
            Target::Broadcast(all) => all.clone(),
            Target::One(a) => vec![*a],
        }
    }

    /// Sends one datagram; a "port unreachable" reported for an earlier
    /// datagram surfaces here and means this one did not go: send again.
    fn send_one(&mut self, bytes: &[u8], to: SocketAddr) -> io::Result<()> {
        let to = self.family_of_socket(to);
        let mut tries = 0;
        loop {
            match self.socket.send_to(bytes, to) {
                Ok(_) => return Ok(()),
                Err(e) if net::is_icmp_report(&e) && tries < 4 => tries += 1,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// An IPv4 destination on a dual-stack socket is written as IPv4-mapped.
    fn family_of_socket(&self, to: SocketAddr) -> SocketAddr {
        match (self.socket.local_addr(), to) {
            (Ok(SocketAddr::V6(_)), SocketAddr::V4(v4)) => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            _ => to,
        }
    }
}

/// The warning for a destination reported unreachable, the first time.
pub fn unreachable_warning(
    warned: &mut Vec<SocketAddr>,
    dest: SocketAddr,
    err: &io::Error,
) -> Option<String> {
    if warned.contains(&dest) {
        return None;
    }
    warned.push(dest);
    Some(if err.raw_os_error() == Some(libc::ECONNREFUSED) {
        format!("nobody is listening at {dest} (port unreachable); still sending")
    } else {
        format!("{dest}: {}", net::describe(err))
    })
}

impl Transport for Udp {
    fn send(
        &mut self,
        lines: &[Outgoing],
        _entries: &[u64],
        time: SystemTime,
    ) -> Result<(), SendError> {
        let dests = self.destinations();
        if dests.is_empty() {
            return Err(SendError(
                "no local network to broadcast to (no up IPv4 interface with a broadcast address); use /to HOST".into(),
            ));
        }
        for line in lines {
            // Copies may come back (broadcast, multicast, or to oneself).
            if let Ok(mut r) = self.recent.lock() {
                r.add(&line.bytes, dests.len());
            }
            let mut errors = Vec::new();
            for &dest in &dests {
                match self.send_one(&line.bytes, dest) {
                    Ok(()) => {
                        if let Some(log) = &self.log {
                            log.sent(&dest.to_string(), &line.text, line.bytes.len(), time);
                        }
                    }
                    Err(e) => errors.push(format!("{dest}: {}", net::describe(&e))),
                }
            }
            if errors.len() == dests.len() {
                return Err(SendError(errors.join("; ")));
            }
        }
        Ok(())
    }

    fn set_target(&mut self, spec: &str) -> Result<String, String> {
        let target = if spec == "broadcast" {
            Target::Broadcast(
                net::local_broadcasts()
                    .into_iter()
                    .map(|b| SocketAddr::new(IpAddr::V4(b), self.port))
                    .collect(),
            )
        } else {
            let addr = resolve(spec, self.port, self.socket.local_addr().ok())?;
            if let IpAddr::V4(g) = addr.ip() {
                if g.is_multicast() {
                    // Join it, to hear the group too; TTL 1 keeps it on the LAN.
                    let _ = self.socket.join_multicast_v4(&g, &Ipv4Addr::UNSPECIFIED);
                    let _ = self.socket.set_multicast_ttl_v4(1);
                }
            }
            if let IpAddr::V6(g) = addr.ip() {
                if g.is_multicast() {
                    let _ = self.socket.join_multicast_v6(&g, 0);
                }
            }
            Target::One(addr)
        };
        self.target = target;
        Ok(self.target_label())
    }

    fn target_label(&self) -> String {
        match &self.target {
            Target::Broadcast(all) if all.is_empty() => {
                "broadcast (no local network: /to HOST)".into()
            }
            Target::Broadcast(all) => {
                let ips: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
                format!("broadcast ({})", ips.join(", "))
            }
            Target::One(a) => a.to_string(),
        }
    }

    /// Destinations reported unreachable that a send found (once each).
    fn warnings(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for (dest, err) in net::unreachable_destinations(&self.socket) {
            if let Some(w) = unreachable_warning(&mut self.warned, dest, &err) {
                out.push(w);
            }
        }
        out
    }

    fn close(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Resolves `HOST[:PORT]` (`[v6]:port`, a bare IPv6 address, a name) for a
/// socket bound to `local`.
///
/// # Errors
/// Why it cannot be used: not resolvable, or of a family the socket cannot
/// send to.
pub fn resolve(
    spec: &str,
    default_port: u16,
    local: Option<SocketAddr>,
) -> Result<SocketAddr, String> {
    let spec = spec.trim();
    let (host, port) = split_host_port(spec, default_port)?;
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            let text = e.to_string();
            format!(
                "cannot resolve '{host}': {}",
                text.rsplit(": ").next().unwrap_or(&text).to_lowercase()
            )
        })?
        .collect();
    let v6_socket = matches!(local, Some(SocketAddr::V6(_)));
    addrs
        .iter()
        .find(|a| a.is_ipv4() || v6_socket)
        .copied()
        .ok_or_else(|| format!("{spec} is IPv6 only; start with -b :: to send to IPv6"))
}

/// Splits `HOST[:PORT]`; a bare IPv6 address has no port.
///
/// # Errors
/// A message for a port that is not a number.
pub fn split_host_port(spec: &str, default_port: u16) -> Result<(&str, u16), String> {
    let bad_port = |p: &str| format!("'{p}' is not a port number (in {spec})");
    if let Some(rest) = spec.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{spec}': missing ']'"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad_port(p))?,
            None if after.is_empty() => default_port,
            None => return Err(format!("'{spec}': expected [ADDR]:PORT")),
        };
        return Ok((host, port));
    }
    if spec.parse::<Ipv6Addr>().is_ok() {
        return Ok((spec, default_port));
    }
    match spec.rsplit_once(':') {
        Some((host, p)) => Ok((host, p.parse().map_err(|_| bad_port(p))?)),
        None => Ok((spec, default_port)),
    }
}

/// The UDP receiving thread.
struct Receiver {
    socket: Arc<UdpSocket>,
    port: u16,
    config: UdpConfig,
    recent: Arc<Mutex<Recent>>,
    local: Vec<IpAddr>,
    log: Option<Log>,
    events: SyncSender<Event>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn run(self) {
        let renderer = Renderer {
            encoding: self.config.decode,
            ..Renderer::default()
        };
        let mut limiter = self.config.max_rate.map(RateLimiter::new);
        let mut rx = BatchReceiver::new();
        let mut scratch = Scratch::default();
        let mut json = String::new();
        let mut warned = Vec::new();
        let _ = net::set_poll_timeout(&self.socket, POLL_INTERVAL);
        while !self.stop.load(Ordering::Relaxed) {
            let n = match rx.recv(&self.socket, true) {
                Ok(n) => n,
                Err(e) if net::is_icmp_report(&e) => {
                    for (dest, err) in net::unreachable_destinations(&self.socket) {
                        if let Some(w) = unreachable_warning(&mut warned, dest, &err) {
                            if self.events.send(Event::Unreachable(dest, w)).is_err() {
                                return;
                            }
                        }
                    }
                    continue;
                }
                Err(e) if net::is_transient(&e) => continue,
                Err(e) => {
                    let _ = self.events.send(Event::Warning(format!(
                        "receiving failed: {}",
                        net::describe(&e)
                    )));
                    thread::sleep(POLL_INTERVAL);
                    continue;
                }
            };
            let now = SystemTime::now();
            let hms = local_hms(now);
            let instant = Instant::now();
            let mut batch = Vec::with_capacity(n);
            let mut drops = Drops::default();
            for i in 0..n {
                let (from, payload) = rx.get(i);
                if from.port() == self.port
                    && self.local.contains(&from.ip())
                    && self
                        .recent
                        .lock()
                        .map(|mut r| r.take(payload))
                        .unwrap_or(false)
                {
                    continue; // our own line, back from broadcast or multicast
                }
                if !self.config.allow.allows(from.ip()) {
                    drops.allow += 1;
                    continue;
                }
                if let Some(l) = &mut limiter {
                    if !l.admit(from.ip(), instant) {
                        drops.rate += 1;
                        continue;
                    }
                }
                let mut text = String::new();
                let log = if self.log.is_some() {
                    Some(&mut json)
                } else {
                    None
                };
                let r = renderer.render_entry(
                    &mut text,
                    log,
                    &mut scratch,
                    &from.to_string(),
                    payload,
                    now,
                );
                if r.malformed {
                    drops.malformed += 1;
                }
                batch.push(Incoming {
                    time: hms.clone(),
                    who: Who::Peer(from),
                    text,
                });
            }
            if let Some(log) = &self.log {
                log.write(&json);
                json.clear();
            }
            if (!batch.is_empty() || drops != Drops::default())
                && self.events.send(Event::Received(batch, drops)).is_err()
            {
                return;
            }
        }
    }
}

// ---- the room ---------------------------------------------------------------

/// Lines queued for the room's writer at most; past it, sending is refused
/// (the room is not reading us) rather than blocking the window.
const ROOM_QUEUE: usize = 4096;

/// The room mode: a `room-server` connection.
pub struct Room {
    writer: SyncSender<Vec<u8>>,
    stream: TcpStream,
    label: String,
    log: Option<Log>,
}

impl Room {
    /// Starts reading and writing on a connected stream.
    ///
    /// # Errors
    /// When the stream cannot be shared between the threads.
    pub fn start(
        stream: TcpStream,
        label: String,
        decode: Encoding,
        log: Option<Log>,
        events: SyncSender<Event>,
    ) -> io::Result<Room> {
        let reader = stream.try_clone()?;
        let mut out = stream.try_clone()?;
        let (writer, lines) = mpsc::sync_channel::<Vec<u8>>(ROOM_QUEUE);
        let events_w = events.clone();
        thread::spawn(move || {
            for line in lines {
                if let Err(e) = out.write_all(&line) {
                    let _ = events_w.send(Event::Disconnected(format!(
                        "cannot write to the room: {}",
                        net::describe(&e)
                    )));
                    return;
                }
            }
        });
        let room_log = log.clone();
        thread::spawn(move || read_room(reader, decode, room_log, events));
        Ok(Room {
            writer,
            stream,
            label,
            log,
        })
    }
}

/// Lines from the server longer than this are cut (as in room-client).
const ROOM_LINE_MAX: usize = 1024 * 1024;

fn read_room(mut stream: TcpStream, decode: Encoding, log: Option<Log>, events: SyncSender<Event>) {
    let mut framer = Framer::new(ROOM_LINE_MAX);
    let mut buf = vec![0u8; 64 * 1024];
    let peer = stream
        .peer_addr()
        .map(|a| net::canonical(a).to_string())
        .unwrap_or_default();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => {
                let _ = events.send(Event::Disconnected("the room closed the connection".into()));
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = events.send(Event::Disconnected(format!(
                    "connection lost: {}",
                    net::describe(&e)
                )));
                return;
            }
        };
        let now = SystemTime::now();
        let hms = local_hms(now);
        let mut batch = Vec::new();
        let mut json = String::new();
        framer.push(&buf[..n], |frame| {
            let line = match frame {
                Frame::Line(line) => line,
                Frame::TooLong => {
                    batch.push(Incoming {
                        time: hms.clone(),
                        who: Who::Notice,
                        text: "(a line too long to show was cut)".into(),
                    });
                    return;
                }
            };
            let (text, malformed) = decode.decode(line);
            let (who, body) = room_line(&text);
            if log.is_some() {
                let record = message::Record {
                    ts: message::timestamp(now).into(),
                    from: match &who {
                        Who::Member(name) => name.as_str().into(),
                        _ => peer.as_str().into(),
                    },
                    text: text.as_ref().into(),
                    bytes: line.len(),
                    malformed,
                };
                record.push_json(&mut json);
            }
            batch.push(Incoming {
                time: hms.clone(),
                who,
                text: sanitize::line(body),
            });
        });
        if let Some(log) = &log {
            log.write(&json);
        }
        if !batch.is_empty()
            && events
                .send(Event::Received(batch, Drops::default()))
                .is_err()
        {
            return;
        }
    }
}

/// Splits a room line `<ip:port> text` into its sender and text; any other
/// line (`[ip:port] entered room`, `! slow down`) is a notice.
pub fn room_line(text: &str) -> (Who, &str) {
    if let Some(rest) = text.strip_prefix('<') {
        if let Some((name, body)) = rest.split_once("> ") {
            if !name.is_empty() && !name.contains(['<', '>']) {
                return (Who::Member(sanitize::line(name)), body);
            }
        }
    }
    (Who::Notice, text)
}

impl Transport for Room {
    fn send(
        &mut self,
        lines: &[Outgoing],
        _entries: &[u64],
        time: SystemTime,
    ) -> Result<(), SendError> {
        let mut wire = Vec::new();
        for l in lines {
            wire.extend_from_slice(&l.bytes);
            wire.push(b'\n');
        }
        match self.writer.try_send(wire) {
            Ok(()) => {
                if let Some(log) = &self.log {
                    for l in lines {
                        log.sent(&self.label, &l.text, l.bytes.len() + 1, time);
                    }
                }
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                Err(SendError("the room is not taking lines right now".into()))
            }
            Err(TrySendError::Disconnected(_)) => Err(SendError("not connected".into())),
        }
    }

    fn set_target(&mut self, _target: &str) -> Result<String, String> {
        Err("in room mode every line goes to the room; /to is for UDP mode".into())
    }

    fn target_label(&self) -> String {
        format!("room {}", self.label)
    }

    fn close(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("10.0.0.1", 3456).unwrap(),
            ("10.0.0.1", 3456)
        );
        assert_eq!(
            split_host_port("10.0.0.1:9", 3456).unwrap(),
            ("10.0.0.1", 9)
        );
        assert_eq!(split_host_port("::1", 3456).unwrap(), ("::1", 3456));
        assert_eq!(split_host_port("[::1]:9", 3456).unwrap(), ("::1", 9));
        assert_eq!(
            split_host_port("lab-pc:4000", 3456).unwrap(),
            ("lab-pc", 4000)
        );
        assert!(split_host_port("host:port", 1)
            .unwrap_err()
            .contains("not a port"));
    }

    #[test]
    fn resolve_refuses_ipv6_on_an_ipv4_socket() {
        let v4: SocketAddr = "0.0.0.0:3456".parse().unwrap();
        assert!(resolve("::1", 3456, Some(v4))
            .unwrap_err()
            .contains("-b ::"));
        assert_eq!(
            resolve("127.0.0.1", 3456, Some(v4)).unwrap().to_string(),
            "127.0.0.1:3456"
        );
    }

    #[test]
    fn room_lines_name_their_sender_and_notices_do_not() {
        assert_eq!(
            room_line("<1.2.3.4:5> 你好"),
            (Who::Member("1.2.3.4:5".into()), "你好")
        );
        assert_eq!(room_line("[1.2.3.4:5] entered room").0, Who::Notice);
        // A member cannot pose as another: the room adds the real prefix.
        assert_eq!(
            room_line("<1.2.3.4:5> <6.6.6.6:6> fake"),
            (Who::Member("1.2.3.4:5".into()), "<6.6.6.6:6> fake")
        );
    }

    #[test]
    fn own_copies_are_recognised_once_each() {
        let mut r = Recent::default();
        r.add(b"hi", 2);
        assert!(r.take(b"hi"));
        assert!(r.take(b"hi"));
        assert!(!r.take(b"hi"), "a third copy is someone else's");
        assert!(!r.take(b"other"));
    }
}
