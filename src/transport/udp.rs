//! UDP mode: one socket that listens like `chat-window` and sends like
//! `input-box`, from the same port, so every peer sees this user as one
//! stable `ip:port`. Its receiver is the library's batched receive and
//! admission, not a copy of chat-window's.

use rust_i18n::t;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::{Journal, Mode, SendError, Sink, Transport};
use crate::chat::{Drops, Event, Incoming, Outgoing, Who};
use crate::clock::local_hms;
use crate::encoding::Encoding;
use crate::filter::{Admission, AllowList, Refused};
use crate::message::{Renderer, Scratch};
use crate::net::{self, BatchReceiver};
use crate::stop::POLL_INTERVAL;

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
    /// The unicast target, for a report that names no destination
    /// (Windows has no error queue).
    unicast: Arc<Mutex<Option<SocketAddr>>>,
    recent: Arc<Mutex<Recent>>,
    journal: Option<Journal>,
    stop: Arc<AtomicBool>,
    warned: Vec<SocketAddr>,
}

impl Udp {
    /// Starts receiving on a bound socket (events go to `sink`) and sends
    /// to `target` (`None`: the local networks' broadcast addresses).
    ///
    /// # Errors
    /// A message for a target that cannot be used or a group that cannot
    /// be joined.
    pub fn start(
        socket: UdpSocket,
        config: UdpConfig,
        target: Option<&str>,
        journal: Option<Journal>,
        sink: Sink,
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
            unicast: Arc::new(Mutex::new(None)),
            recent: Arc::new(Mutex::new(Recent::default())),
            journal: journal.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            warned: Vec::new(),
        };
        udp.set_target(target.unwrap_or("broadcast"))?;
        let receiver = Receiver {
            socket,
            port,
            admission: Admission::new(config.allow, config.max_rate),
            decode: config.decode,
            unicast: udp.unicast.clone(),
            recent: udp.recent.clone(),
            local: net::local_ips(),
            journal,
            sink,
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
    /// datagram surfaces here (on Linux) and means this one did not go:
    /// send again.
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
    // "Port unreachable": ECONNREFUSED on Linux, WSAECONNRESET on Windows.
    let refused = matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    );
    Some(if refused {
        format!("nobody is listening at {dest} (port unreachable); still sending")
    } else {
        format!("{dest}: {}", net::describe(err))
    })
}

impl Transport for Udp {
    fn mode(&self) -> Mode {
        Mode::Udp
    }

    fn send(
        &mut self,
        lines: &[Outgoing],
        _entries: &[u64],
        _to: Option<SocketAddr>,
        time: SystemTime,
    ) -> Result<Vec<String>, SendError> {
        let dests = self.destinations();
        if dests.is_empty() {
            return Err(SendError(t!("udp.no_network").into_owned()));
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
                        if let Some(j) = &self.journal {
                            j.sent(&dest.to_string(), &line.text, line.bytes.len(), time);
                        }
                    }
                    Err(e) => errors.push(format!("{dest}: {}", net::describe(&e))),
                }
            }
            if errors.len() == dests.len() {
                return Err(SendError(errors.join("; ")));
            }
        }
        // Destinations reported unreachable that a send found (once each).
        let mut warnings = Vec::new();
        for (dest, err) in net::unreachable_destinations(&self.socket) {
            if let Some(w) = unreachable_warning(&mut self.warned, dest, &err) {
                warnings.push(w);
            }
        }
        Ok(warnings)
    }

    fn set_target(&mut self, spec: &str) -> Result<String, String> {
        let target = if spec == "broadcast" {
            let bound = self
                .socket
                .local_addr()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
            Target::Broadcast(
                net::local_broadcasts_for(bound)
                    .into_iter()
                    .map(|b| SocketAddr::new(IpAddr::V4(b), self.port))
                    .collect(),
            )
        } else {
            let addr = net::resolve(spec, self.port, self.socket.local_addr().ok())?;
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
        if let Ok(mut u) = self.unicast.lock() {
            *u = match target {
                Target::One(a) if !a.ip().is_multicast() => Some(a),
                _ => None,
            };
        }
        self.target = target;
        Ok(self.target_label())
    }

    fn target_label(&self) -> String {
        match &self.target {
            Target::Broadcast(all) if all.is_empty() => t!("udp.target_no_network").into_owned(),
            Target::Broadcast(all) => {
                let ips: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
                t!("udp.target_broadcast", ips = ips.join(", ")).into_owned()
            }
            Target::One(a) => a.to_string(),
        }
    }

    fn close(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The UDP receiving thread.
struct Receiver {
    socket: Arc<UdpSocket>,
    port: u16,
    admission: Admission,
    decode: Encoding,
    unicast: Arc<Mutex<Option<SocketAddr>>>,
    recent: Arc<Mutex<Recent>>,
    local: Vec<IpAddr>,
    journal: Option<Journal>,
    sink: Sink,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    /// The destinations an unreachable report is about: from the error
    /// queue where there is one (Linux), else the unicast target.
    fn unreachable(&self, err: &io::Error) -> Vec<(SocketAddr, io::Error)> {
        let found = net::unreachable_destinations(&self.socket);
        if !found.is_empty() {
            return found;
        }
        match self.unicast.lock().ok().and_then(|u| *u) {
            Some(dest) => vec![(dest, io::Error::from(err.kind()))],
            None => Vec::new(),
        }
    }

    fn run(mut self) {
        let renderer = Renderer {
            encoding: self.decode,
            ..Renderer::default()
        };
        let mut rx = BatchReceiver::new();
        let mut scratch = Scratch::default();
        let mut json = String::new();
        let mut warned = Vec::new();
        let _ = net::set_poll_timeout(&self.socket, POLL_INTERVAL);
        while !self.stop.load(Ordering::Relaxed) {
            let n = match rx.recv(&self.socket, true) {
                Ok(n) => n,
                Err(e) if net::is_icmp_report(&e) => {
                    for (dest, err) in self.unreachable(&e) {
                        if let Some(w) = unreachable_warning(&mut warned, dest, &err) {
                            if !self.sink.send(Event::Unreachable(dest, w)) {
                                return;
                            }
                        }
                    }
                    continue;
                }
                Err(e) if net::is_transient(&e) => continue,
                Err(e) => {
                    let warning = format!("receiving failed: {}", net::describe(&e));
                    if !self.sink.send(Event::Warning(warning)) {
                        return;
                    }
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
                match self.admission.admit(from.ip(), instant) {
                    Ok(()) => {}
                    Err(Refused::Allow) => {
                        drops.allow += 1;
                        continue;
                    }
                    Err(Refused::Rate) => {
                        drops.rate += 1;
                        continue;
                    }
                }
                let mut text = String::new();
                let log = self.journal.is_some().then_some(&mut json);
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
            if let Some(j) = &self.journal {
                j.write(&json);
                json.clear();
            }
            if (!batch.is_empty() || drops != Drops::default())
                && !self.sink.send(Event::Received(batch, drops))
            {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_copies_are_recognised_once_each() {
        let mut r = Recent::default();
        r.add(b"hi", 2);
        assert!(r.take(b"hi"));
        assert!(r.take(b"hi"));
        assert!(!r.take(b"hi"), "a third copy is someone else's");
        assert!(!r.take(b"other"));
    }

    #[test]
    fn an_unreachable_destination_is_warned_about_once() {
        let mut warned = Vec::new();
        let dest: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            unreachable_warning(&mut warned, dest, &refused).unwrap(),
            "nobody is listening at 127.0.0.1:9 (port unreachable); still sending"
        );
        assert!(unreachable_warning(&mut warned, dest, &refused).is_none());
        let other: SocketAddr = "127.0.0.1:10".parse().unwrap();
        let host = io::Error::from(io::ErrorKind::HostUnreachable);
        assert_eq!(
            unreachable_warning(&mut warned, other, &host).unwrap(),
            "127.0.0.1:10: host unreachable"
        );
    }
}
