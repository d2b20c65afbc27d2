//! The probes of PEER: lanchat-doctor datagrams by unicast, the subnet's
//! broadcast, 255.255.255.255 and multicast, a TCP question; IP
//! Messenger's BR_ENTRY; a room's first line. Few and bounded: at most
//! three rounds 700 ms apart (a kind heard is not sent again), about 5 s
//! in all.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::wire::{self, Kind, Message, Report, Settings};
use crate::encoding::Encoding;
use crate::ipmsg::packet::{self, cmd, opt};

/// The multicast group probed (TTL 1: this link only).
pub const GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 34, 56);
const ROUNDS: u32 = 3;
const ROUND_GAP: Duration = Duration::from_millis(700);
const SETTLE: Duration = Duration::from_millis(1200);
const TCP_TIMEOUT: Duration = Duration::from_secs(2);

/// What TCP to PEER's port gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tcp {
    /// A doctor's answer.
    Report(Report),
    /// Something answered, not a doctor (a chat room, another program).
    Other,
    /// Refused: the host is there, nothing listens.
    Refused,
    /// No answer in time.
    Silent,
    /// Another failure.
    Failed(String),
}

/// Everything the probes of PEER saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// PEER.
    pub peer: IpAddr,
    /// The port probed.
    pub port: u16,
    /// PEER is this machine (no broadcast or multicast is sent then).
    pub local: bool,
    /// The broadcast address of PEER's subnet, when it is on one of ours.
    pub subnet: Option<Ipv4Addr>,
    /// The kinds sent.
    pub sent: BTreeSet<Kind>,
    /// The kinds PEER heard (its replies and its TCP report together).
    pub heard: BTreeSet<Kind>,
    /// A reply to a probe came back.
    pub replies: bool,
    /// PEER's own datagram (a new flow) reached our port.
    pub hello: bool,
    /// TCP to PEER's port.
    pub tcp: Tcp,
    /// PEER's host said "port unreachable" (it is up; nothing listens).
    pub refused: bool,
    /// The neighbour table knows PEER's link-layer address.
    pub neighbour: Option<bool>,
    /// PEER's doctor's settings.
    pub settings: Option<Settings>,
    /// A doctor answering on the other well-known port, with its settings.
    pub elsewhere: Option<Settings>,
}

/// The other well-known port: 2425 for 3456 and 3456 for anything else.
pub fn other_port(port: u16) -> u16 {
    if port == 3456 {
        packet::PORT
    } else {
        3456
    }
}

fn udp_socket(bind: SocketAddr) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.bind(&bind.into())?;
    s.set_broadcast(true)?;
    s.set_multicast_ttl_v4(1)?;
    if let IpAddr::V4(v4) = bind.ip() {
        if !v4.is_unspecified() {
            s.set_multicast_if_v4(&v4)?;
        }
    }
    s.set_read_timeout(Some(Duration::from_millis(50)))?;
    Ok(s.into())
}

/// Binds the probing socket on `ip`: on `port` when free (PEER's answers
/// and hello come to lanchat's own port), else on any port.
fn bind_prober(ip: Ipv4Addr, port: u16) -> std::io::Result<UdpSocket> {
    udp_socket(SocketAddr::from((ip, port))).or_else(|_| udp_socket(SocketAddr::from((ip, 0))))
}

/// Probes PEER (IPv4) on `port`. `source` is the address of the interface
/// on PEER's subnet (if any) and `subnet` that subnet's broadcast.
pub fn probe(
    peer: Ipv4Addr,
    port: u16,
    source: Option<Ipv4Addr>,
    subnet: Option<Ipv4Addr>,
    local: bool,
) -> Seen {
    let session = wire::new_session();
    let mut seen = Seen {
        peer: IpAddr::V4(peer),
        port,
        local,
        subnet,
        sent: BTreeSet::new(),
        heard: BTreeSet::new(),
        replies: false,
        hello: false,
        tcp: Tcp::Silent,
        refused: false,
        neighbour: None,
        settings: None,
        elsewhere: None,
    };
    let ip = source.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let Ok(socket) = bind_prober(ip, port) else {
        seen.tcp = ask(peer, port, &session);
        return seen;
    };
    let reply_port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    // A connected socket hears "port unreachable" for PEER.
    let connected = UdpSocket::bind((ip, 0))
        .and_then(|s| s.connect((peer, port)).map(|()| s))
        .and_then(|s| s.set_nonblocking(true).map(|()| s))
        .ok();
    let datagram = |kind| {
        Message::Probe {
            session: session.clone(),
            kind,
            reply_port,
        }
        .to_bytes()
    };
    let mut targets: Vec<(Kind, SocketAddr)> =
        vec![(Kind::Unicast, SocketAddr::from((peer, port)))];
    if !local {
        if let Some(b) = subnet {
            targets.push((Kind::Subnet, SocketAddr::from((b, port))));
        }
        targets.push((Kind::All, SocketAddr::from((Ipv4Addr::BROADCAST, port))));
        targets.push((Kind::Multicast, SocketAddr::from((GROUP, port))));
    }
    targets.push((Kind::Port, SocketAddr::from((peer, other_port(port)))));
    let start = Instant::now();
    let mut buf = vec![0u8; 2048];
    for round in 0..ROUNDS {
        for (kind, to) in &targets {
            if seen.heard.contains(kind) || (*kind == Kind::Port && round > 0) {
                continue;
            }
            seen.sent.insert(*kind);
            let _ = socket.send_to(&datagram(*kind), to);
        }
        if round == 0 {
            if let Some(c) = &connected {
                let _ = c.send(&datagram(Kind::Unicast));
            }
        }
        let until = start + ROUND_GAP * (round + 1);
        collect(
            &socket,
            connected.as_ref(),
            &session,
            &mut seen,
            until,
            &mut buf,
        );
        if done(&seen) {
            break;
        }
    }
    if !done(&seen) {
        collect(
            &socket,
            connected.as_ref(),
            &session,
            &mut seen,
            Instant::now() + SETTLE,
            &mut buf,
        );
    }
    if let Some(c) = &connected {
        seen.refused |= crate::sys::take_icmp_report(c).is_some();
    }
    seen.tcp = ask(peer, port, &session);
    if let Tcp::Report(r) = &seen.tcp {
        seen.heard
            .extend(r.heard.iter().copied().filter(|k| *k != Kind::Port));
        seen.settings.get_or_insert_with(|| r.settings.clone());
    }
    if seen.settings.is_none() && seen.elsewhere.is_none() {
        if let Tcp::Report(r) = ask(peer, other_port(port), &session) {
            seen.elsewhere = Some(r.settings);
        }
    }
    seen
}

/// Every kind sent was heard and the hello came.
fn done(seen: &Seen) -> bool {
    seen.hello
        && seen
            .sent
            .iter()
            .filter(|k| **k != Kind::Port)
            .all(|k| seen.heard.contains(k))
}

fn collect(
    socket: &UdpSocket,
    connected: Option<&UdpSocket>,
    session: &str,
    seen: &mut Seen,
    until: Instant,
    buf: &mut [u8],
) {
    while Instant::now() < until && !done(seen) {
        for s in std::iter::once(socket).chain(connected) {
            match s.recv_from(buf) {
                Ok((n, from)) => take(&buf[..n], from, session, seen),
                Err(e) if crate::net::is_icmp_report(&e) => seen.refused = true,
                Err(_) => {}
            }
        }
    }
}

fn take(data: &[u8], from: SocketAddr, session: &str, seen: &mut Seen) {
    if from.ip() != seen.peer && !seen.local {
        return;
    }
    match Message::parse(data) {
        Some(Message::Heard {
            session: s,
            kind,
            settings,
        }) if s == session => {
            if kind == Kind::Port {
                seen.elsewhere = Some(settings);
            } else {
                seen.heard.insert(kind);
                seen.replies = true;
                seen.settings = Some(settings);
            }
        }
        Some(Message::Hello {
            session: s,
            settings,
        }) if s == session => {
            seen.hello = true;
            seen.settings.get_or_insert(settings);
        }
        _ => {}
    }
}

/// Asks PEER's doctor over TCP what it heard.
fn ask(peer: Ipv4Addr, port: u16, session: &str) -> Tcp {
    let addr = SocketAddr::from((peer, port));
    let stream = match TcpStream::connect_timeout(&addr, TCP_TIMEOUT) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Tcp::Refused,
        Err(e) if crate::net::is_transient(&e) => return Tcp::Silent,
        Err(e) => return Tcp::Failed(crate::net::describe(&e)),
    };
    let _ = stream.set_read_timeout(Some(TCP_TIMEOUT));
    let _ = stream.set_write_timeout(Some(TCP_TIMEOUT));
    if (&stream).write_all(&wire::ask(session)).is_err() {
        return Tcp::Other;
    }
    let mut line = String::new();
    let mut reader = BufReader::new(limited(stream));
    match reader.read_line(&mut line) {
        Ok(_) => serde_json::from_str(line.trim_end()).map_or(Tcp::Other, Tcp::Report),
        Err(_) => Tcp::Other,
    }
}

/// A doctor's answer is a few hundred bytes; a stranger's stream is read
/// no further than 64 KiB.
fn limited(stream: TcpStream) -> std::io::Take<TcpStream> {
    std::io::Read::take(stream, 64 * 1024)
}

/// What probing PEER as an IP Messenger host gave.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpmsgSeen {
    /// PEER answered the unicast BR_ENTRY: its user@host (nick).
    pub unicast: Option<String>,
    /// PEER answered the broadcast BR_ENTRY.
    pub broadcast: bool,
    /// The broadcast was sent (PEER is on a local subnet).
    pub broadcast_sent: bool,
}

/// Probes PEER as IP Messenger, FeiQ and iptux are: BR_ENTRY to PEER
/// and to the subnet's broadcast, each answered by ANSENTRY; BR_EXIT after.
pub fn ipmsg(
    peer: Ipv4Addr,
    port: u16,
    source: Option<Ipv4Addr>,
    subnet: Option<Ipv4Addr>,
    legacy: Encoding,
) -> IpmsgSeen {
    let mut seen = IpmsgSeen::default();
    let ip = source.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let Ok(socket) = bind_prober(ip, port) else {
        return seen;
    };
    let user = crate::sys::user_name();
    let host = crate::sys::host_name();
    let no = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1);
    let entry = packet::build(
        no,
        &user,
        &host,
        cmd::BR_ENTRY | opt::CAPUTF8OPT,
        &["lanchat doctor", ""],
        false,
        legacy,
    )
    .unwrap_or_default();
    let exit =
        packet::build(no + 1, &user, &host, cmd::BR_EXIT, &[""], false, legacy).unwrap_or_default();
    let mut buf = vec![0u8; 8192];
    let wait = |seen_name: &mut Option<String>, buf: &mut [u8]| {
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            if let Ok((n, from)) = socket.recv_from(buf) {
                if from.ip() != IpAddr::V4(peer) {
                    continue;
                }
                if let Ok(p) = packet::parse(&buf[..n], legacy, false) {
                    if p.mode() == cmd::ANSENTRY || p.mode() == cmd::BR_ENTRY {
                        let nick = p.part(0, legacy);
                        *seen_name = Some(format!("{}@{} ({})", p.user, p.host, nick.trim()));
                        return;
                    }
                }
            }
        }
    };
    for _ in 0..2 {
        let _ = socket.send_to(&entry, (peer, port));
        wait(&mut seen.unicast, &mut buf);
        if seen.unicast.is_some() {
            break;
        }
    }
    if let Some(b) = subnet {
        seen.broadcast_sent = true;
        let mut got = None;
        let _ = socket.send_to(&entry, (b, port));
        wait(&mut got, &mut buf);
        seen.broadcast = got.is_some();
        let _ = socket.send_to(&exit, (b, port));
    }
    let _ = socket.send_to(&exit, (peer, port));
    seen
}

/// A room's first line, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomSeen {
    /// Connected; its first line.
    Line(String),
    /// Connected, but nothing came in time.
    Quiet,
    /// Refused.
    Refused,
    /// No answer.
    Silent,
    /// Another failure (the name does not resolve…).
    Failed(String),
}

/// Connects to a room and reads its first line.
pub fn room(addr: SocketAddr) -> RoomSeen {
    let stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return RoomSeen::Refused,
        Err(e) if crate::net::is_transient(&e) => return RoomSeen::Silent,
        Err(e) => return RoomSeen::Failed(crate::net::describe(&e)),
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let mut line = Vec::new();
    let mut reader = BufReader::new(limited(stream));
    match reader.read_until(b'\n', &mut line) {
        Ok(n) if n > 0 => {
            let text = match Encoding::for_decoding("auto") {
                Ok(e) => e.decode(&line).0.into_owned(),
                Err(_) => String::from_utf8_lossy(&line).into_owned(),
            };
            RoomSeen::Line(crate::sanitize::one_line(text.trim_end()))
        }
        _ => RoomSeen::Quiet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_other_port() {
        assert_eq!(other_port(3456), 2425);
        assert_eq!(other_port(2425), 3456);
        assert_eq!(other_port(5000), 3456);
    }

    #[test]
    fn a_port_nobody_holds_is_refused_on_loopback() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_port = tcp.local_addr().unwrap().port();
        drop(tcp);
        assert_eq!(
            ask(Ipv4Addr::LOCALHOST, tcp_port, "0123456789abcdef"),
            Tcp::Refused
        );
        assert_eq!(
            room(SocketAddr::from((Ipv4Addr::LOCALHOST, tcp_port))),
            RoomSeen::Refused
        );
    }
}
