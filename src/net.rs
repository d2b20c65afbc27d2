//! Sockets and addresses: set-up through socket2, addresses parsed and
//! shown in one place, errors said in words.
//!
//! * [`bind_udp`] binds a listener (SO_REUSEADDR on Unix, exclusive use on
//!   Windows: see [`crate::sys`]), dual-stack on `::`, with a generous
//!   receive buffer, reporting the size the kernel granted;
//! * [`canonical`] shows IPv4 senders on a dual-stack socket as plain IPv4;
//! * [`split_host_port`], [`unbracket`], [`lookup`], [`resolve`]: every
//!   `HOST[:PORT]`, `[v6]:port` and name a user types, parsed here only;
//! * [`describe`]: an OS error in lanchat's own words, chosen by its
//!   [`io::ErrorKind`] so they are the same on Linux and Windows (whose
//!   own error texts are not always there: Wine has none);
//! * [`BatchReceiver`], [`send_batch`]: batched UDP from [`crate::sys::udp`]
//!   (`recvmmsg`/`sendmmsg` on Linux, one datagram per call elsewhere).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use rust_i18n::t;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use thiserror::Error;

pub use crate::sys::udp::{
    report_icmp_errors, send_batch, unreachable_destinations, BatchReceiver,
};
pub use crate::sys::{canonical, is_icmp_report, BATCH, SEND_BATCH, SLOT};

/// Receive buffer asked for when the user does not choose one.
pub const DEFAULT_RECV_BUFFER: usize = 8 * 1024 * 1024;
/// Largest UDP payload over IPv4.
pub const MAX_PAYLOAD_V4: usize = 65_507;
/// Largest UDP payload over IPv6 (without jumbograms).
pub const MAX_PAYLOAD_V6: usize = 65_527;

/// Socket set-up failures, each naming the address the user gave.
#[derive(Debug, Error)]
pub enum NetError {
    /// The listening address could not be bound.
    #[error("{}", t!("net.bind", addr = .addr, why = describe(.error)))]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        error: io::Error,
    },
    /// The multicast group could not be joined.
    #[error("{}", t!("net.multicast", group = .group, why = describe(.error)))]
    Multicast {
        /// The group asked for.
        group: IpAddr,
        /// What the OS said.
        error: io::Error,
    },
    /// A socket option or another set-up step failed.
    #[error("{}", t!("net.setup", why = describe(.0)))]
    Setup(io::Error),
}

/// Says an OS error in words a user knows: lanchat's own for the errors a
/// chat tool meets (the same words on every OS), else the OS's text
/// without its number, else the kind of error with the number.
pub fn describe(err: &io::Error) -> String {
    use io::ErrorKind::*;
    let words = match err.kind() {
        AddrInUse => t!("net.addr_in_use"),
        AddrNotAvailable => t!("net.addr_not_available"),
        PermissionDenied => t!("net.permission_denied"),
        ConnectionRefused => t!("net.connection_refused"),
        NetworkUnreachable => t!("net.network_unreachable"),
        HostUnreachable => t!("net.host_unreachable"),
        NetworkDown => t!("net.network_down"),
        ConnectionReset => t!("net.connection_reset"),
        ConnectionAborted => t!("net.connection_aborted"),
        BrokenPipe => t!("net.broken_pipe"),
        NotConnected => t!("net.not_connected"),
        TimedOut | WouldBlock => t!("net.timed_out"),
        NotFound => t!("net.not_found"),
        StorageFull | QuotaExceeded => t!("files.disk_full"),
        _ => return os_words(err),
    };
    words.into_owned()
}

/// The OS's own text, lowercased and without `(os error N)`, when it has
/// one worth showing.
fn os_words(err: &io::Error) -> String {
    let text = err.to_string();
    let Some(code) = err.raw_os_error() else {
        return lower_first(&text); // a message of ours or a library's
    };
    // "Address family not supported by protocol (os error 97)"
    let text = text
        .split(" (os error")
        .next()
        .unwrap_or(&text)
        .trim()
        .trim_end_matches('.');
    if text.is_empty() || text.contains("FormatMessage") {
        // No message table (Wine): the kind at least, and the number.
        return t!("net.os_error", kind = err.kind(), code = code).into_owned();
    }
    lower_first(text)
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `[::1]` → `::1`; anything else as it is.
pub fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `HOST:PORT` as a user reads it: `[v6]:PORT` for an IPv6 host.
pub fn host_port(host: &str, port: u16) -> String {
    let bare = unbracket(host);
    if bare.contains(':') {
        format!("[{bare}]:{port}")
    } else {
        format!("{bare}:{port}")
    }
}

/// An IP address as typed for `-b` (brackets allowed for IPv6).
///
/// # Errors
/// A message with examples.
pub fn parse_ip(text: &str) -> Result<IpAddr, String> {
    unbracket(text)
        .parse()
        .map_err(|_| t!("net.not_ip", text = text).into_owned())
}

/// `ADDR`, `ADDR:PORT`, `[V6]:PORT` or `V6` (port 0 when none is given).
pub fn parse_source(text: &str) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    unbracket(text)
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 0))
}

/// Splits `HOST[:PORT]` (`[v6]:port`, a bare IPv6 address without a port,
/// a name), brackets removed.
///
/// # Errors
/// A message for a port that is not a number.
pub fn split_host_port(spec: &str, default_port: u16) -> Result<(&str, u16), String> {
    let bad_port = |p: &str| t!("net.bad_port", port = p, spec = spec).into_owned();
    if let Some(rest) = spec.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| t!("net.missing_bracket", spec = spec).into_owned())?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad_port(p))?,
            None if after.is_empty() => default_port,
            None => return Err(t!("net.expected_v6_port", spec = spec).into_owned()),
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

/// The addresses of `host` (a name or an address, brackets allowed).
///
/// # Errors
/// Why it did not resolve, in words (`name or service not known`).
pub fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    match (unbracket(host), port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(t!("net.no_address").into_owned())
            } else {
                Ok(addrs)
            }
        }
        Err(e) => {
            let text = e.to_string();
            // "failed to lookup address information: Name or service not known"
            if text.contains("failed to lookup address information") {
                let last = text.rsplit(": ").next().unwrap_or(&text);
                if last == "Name or service not known" {
                    Err(t!("net.no_such_host").into_owned())
                } else {
                    Err(lower_first(last))
                }
            } else if text.contains("FormatMessage") {
                // Windows without message tables (Wine): WSAHOST_NOT_FOUND.
                Err(t!("net.no_such_host").into_owned())
            } else {
                Err(describe(&e))
            }
        }
    }
}

/// Resolves `HOST[:PORT]` for a socket bound to `local`: the first address
/// of a family that socket can send to.
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
    let addrs =
        lookup(host, port).map_err(|why| t!("net.resolve", host = host, why = why).into_owned())?;
    let v6_socket = matches!(local, Some(SocketAddr::V6(_)));
    addrs
        .iter()
        .find(|a| a.is_ipv4() || v6_socket)
        .copied()
        .ok_or_else(|| t!("net.v6_only", spec = spec).into_owned())
}

/// A bound UDP socket and the receive buffer the kernel granted.
#[derive(Debug)]
pub struct BoundUdp {
    /// The socket.
    pub socket: UdpSocket,
    /// SO_RCVBUF as reported by the kernel after set-up.
    pub recv_buffer: usize,
}

/// Binds a UDP socket for receiving: the port is this program's alone (a
/// second program is refused with `address already in use`, on every OS),
/// unless `shared` (several receivers of a multicast group, see
/// [`crate::sys::prepare_listener`]); dual-stack when `addr` is the IPv6
/// unspecified address; SO_RCVBUF as asked (capped by the kernel).
///
/// # Errors
/// [`NetError::Bind`] when the address cannot be bound.
pub fn bind_udp(addr: SocketAddr, recv_buffer: usize, shared: bool) -> Result<BoundUdp, NetError> {
    let bind_err = |error| NetError::Bind { addr, error };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(bind_err)?;
    crate::sys::prepare_listener(&socket, shared).map_err(bind_err)?;
    if let SocketAddr::V6(v6) = addr {
        if v6.ip().is_unspecified() {
            socket.set_only_v6(false).map_err(bind_err)?;
        }
    }
    // Not fatal: the kernel caps it at net.core.rmem_max and we report it.
    let _ = socket.set_recv_buffer_size(recv_buffer);
    socket.bind(&SockAddr::from(addr)).map_err(bind_err)?;
    let granted = socket.recv_buffer_size().unwrap_or(0);
    Ok(BoundUdp {
        socket: socket.into(),
        recv_buffer: granted,
    })
}

/// Binds a listening TCP socket: SO_REUSEADDR on Unix (exclusive use on
/// Windows), dual-stack on `::`, a deep accept backlog, non-blocking.
///
/// # Errors
/// [`NetError::Bind`] when the address cannot be bound.
pub fn bind_tcp(addr: SocketAddr) -> Result<std::net::TcpListener, NetError> {
    let err = |error| NetError::Bind { addr, error };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    crate::sys::prepare_listener(&socket, false).map_err(err)?;
    if let SocketAddr::V6(v6) = addr {
        if v6.ip().is_unspecified() {
            socket.set_only_v6(false).map_err(err)?;
        }
    }
    socket.bind(&SockAddr::from(addr)).map_err(err)?;
    socket.listen(4096).map_err(err)?;
    socket.set_nonblocking(true).map_err(err)?;
    Ok(socket.into())
}

/// A TCP connection to `to` within `timeout`, from `local` when that is
/// an address of this machine's own (not unspecified) of `to`'s family.
///
/// # Errors
/// What the OS said (refused, timed out, unreachable…).
pub fn connect_from(
    local: IpAddr,
    to: SocketAddr,
    timeout: Duration,
) -> io::Result<std::net::TcpStream> {
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
    if !local.is_unspecified() && local.is_ipv4() == to.is_ipv4() {
        socket.bind(&SockAddr::from(SocketAddr::new(local, 0)))?;
    }
    socket.connect_timeout(&SockAddr::from(to), timeout)?;
    Ok(socket.into())
}

/// How a sending UDP socket is set up ([`udp_sender`]).
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// SO_BROADCAST (for `255.255.255.255` or a subnet's broadcast address).
    pub broadcast: bool,
    /// The multicast TTL, or the unicast hop limit.
    pub ttl: Option<u32>,
    /// The local address (and port) to send from.
    pub source: Option<SocketAddr>,
}

/// Which step of [`udp_sender`] failed.
#[derive(Debug)]
pub enum SendSetup {
    /// Creating the socket, an option, or connecting to the destination.
    Destination(io::Error),
    /// Binding the source address.
    Source(io::Error),
}

/// A UDP socket connected to `dest` for sending: broadcast, TTL and
/// source as asked, multicast sent out of the source's interface, a large
/// send buffer.
///
/// # Errors
/// [`SendSetup`]: which step failed, and what the OS said.
pub fn udp_sender(dest: SocketAddr, options: &SendOptions) -> Result<UdpSocket, SendSetup> {
    let dest_err = SendSetup::Destination;
    let socket = Socket::new(Domain::for_address(dest), Type::DGRAM, Some(Protocol::UDP))
        .map_err(dest_err)?;
    if options.broadcast {
        socket.set_broadcast(true).map_err(dest_err)?;
    }
    if let Some(ttl) = options.ttl {
        let multicast = dest.ip().is_multicast();
        match (dest, multicast) {
            (SocketAddr::V4(_), true) => socket.set_multicast_ttl_v4(ttl),
            (SocketAddr::V4(_), false) => socket.set_ttl_v4(ttl),
            (SocketAddr::V6(_), true) => socket.set_multicast_hops_v6(ttl),
            (SocketAddr::V6(_), false) => socket.set_unicast_hops_v6(ttl),
        }
        .map_err(dest_err)?;
    }
    if let (Some(src), IpAddr::V4(_)) = (options.source, dest.ip()) {
        if dest.ip().is_multicast() {
            if let IpAddr::V4(src_ip) = src.ip() {
                // Send multicast out of the interface that owns the source
                // address, not wherever the default route points.
                socket.set_multicast_if_v4(&src_ip).map_err(dest_err)?;
            }
        }
    }
    let _ = socket.set_send_buffer_size(4 * 1024 * 1024);
    if let Some(src) = options.source {
        socket
            .bind(&SockAddr::from(src))
            .map_err(SendSetup::Source)?;
    }
    socket.connect(&SockAddr::from(dest)).map_err(dest_err)?;
    Ok(socket.into())
}

/// Joins `group` on a bound socket. For IPv4, `interface` is the local
/// address of the interface (unspecified: the kernel's choice); for IPv6 it
/// is an interface index (0: the kernel's choice).
///
/// # Errors
/// [`NetError::Multicast`] when the group cannot be joined.
pub fn join_multicast(
    socket: &UdpSocket,
    group: IpAddr,
    interface: Option<&str>,
) -> Result<(), NetError> {
    let err = |error| NetError::Multicast { group, error };
    let invalid = |msg: String| err(io::Error::new(io::ErrorKind::InvalidInput, msg));
    match group {
        IpAddr::V4(g) => {
            let iface = match interface {
                None => Ipv4Addr::UNSPECIFIED,
                Some(s) => s
                    .parse()
                    .map_err(|_| invalid(t!("net.interface_v4", name = s).into_owned()))?,
            };
            socket.join_multicast_v4(&g, &iface).map_err(err)
        }
        IpAddr::V6(g) => {
            let index = match interface {
                None => 0,
                Some(s) => crate::sys::interface_index(s)
                    .ok_or_else(|| invalid(t!("net.interface_v6", name = s).into_owned()))?,
            };
            socket.join_multicast_v6(&g, index).map_err(err)
        }
    }
}

/// The unspecified address of the same family as `addr`.
pub fn unspecified_like(addr: &SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

/// Whether an I/O error only means "nothing yet" (timeout, would block,
/// interrupted), to be retried after polling the stop flag.
pub fn is_transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// The broadcast addresses of this machine's local networks: one for each
/// up, non-loopback IPv4 interface that has one (`192.168.1.255` on a
/// `192.168.1.0/24` LAN). Sending to each reaches every host of every
/// local network, where `255.255.255.255` would leave by one interface
/// only, and not at all on a host without a default route.
pub fn local_broadcasts() -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = interfaces()
        .into_iter()
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V4(v4) if !v4.ip.is_loopback() => v4.broadcast,
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The broadcast addresses to reach the local networks from a socket
/// bound to `bound`: every local network's ([`local_broadcasts`]) for an
/// unspecified address, else only those of the interface that has that
/// address (none for a loopback address: a socket bound there reaches no
/// network, and it must not broadcast on the machine's real ones).
pub fn local_broadcasts_for(bound: IpAddr) -> Vec<Ipv4Addr> {
    if bound.is_unspecified() {
        return local_broadcasts();
    }
    let bound = bound.to_canonical();
    let mut out: Vec<Ipv4Addr> = interfaces()
        .into_iter()
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V4(v4) if IpAddr::V4(v4.ip) == bound && !v4.ip.is_loopback() => {
                v4.broadcast
            }
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every address of this machine (loopback ones too).
pub fn local_ips() -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = interfaces().iter().map(|i| i.ip()).collect();
    out.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    out.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
    out.sort();
    out.dedup();
    out
}

/// Interfaces that are up (or whose state the kernel does not know).
fn interfaces() -> Vec<if_addrs::Interface> {
    use if_addrs::IfOperStatus::{Down, LowerLayerDown, NotPresent};
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !matches!(i.oper_status, Down | LowerLayerDown | NotPresent))
        .collect()
}

/// Sets the read timeout used to poll a stop flag (never zero).
///
/// # Errors
/// [`NetError::Setup`] when the option cannot be set.
pub fn set_poll_timeout(socket: &UdpSocket, timeout: Duration) -> Result<(), NetError> {
    socket
        .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
        .map_err(NetError::Setup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_ipv4_shown_as_ipv4() {
        let a: SocketAddr = "[::ffff:1.2.3.4]:5".parse().unwrap();
        assert_eq!(canonical(a).to_string(), "1.2.3.4:5");
        let b: SocketAddr = "[::1]:5".parse().unwrap();
        assert_eq!(canonical(b).to_string(), "[::1]:5");
    }

    #[test]
    fn batch_receives_whole_large_datagrams_and_senders() {
        let bound = bind_udp("127.0.0.1:0".parse().unwrap(), 1 << 20, false).unwrap();
        let dest = bound.socket.local_addr().unwrap();
        set_poll_timeout(&bound.socket, Duration::from_secs(5)).unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let big = vec![b'x'; MAX_PAYLOAD_V4];
        a.send_to(&big, dest).unwrap();
        a.send_to(b"", dest).unwrap();
        let mut rx = BatchReceiver::new();
        let mut got = Vec::new();
        while got.len() < 2 {
            let n = rx.recv(&bound.socket, true).unwrap();
            for i in 0..n {
                let (from, data) = rx.get(i);
                got.push((from, data.len()));
            }
        }
        let me = a.local_addr().unwrap();
        assert_eq!(got, vec![(me, MAX_PAYLOAD_V4), (me, 0)]);
        assert_eq!(rx.recv(&bound.socket, false).unwrap(), 0);
    }

    #[test]
    fn send_batch_sends_each_datagram_whole_and_in_order() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let msgs: Vec<Vec<u8>> = (0..100).map(|i| format!("m{i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let mut sent = 0;
        while sent < refs.len() {
            sent += send_batch(&tx, &refs[sent..]).unwrap();
        }
        let mut buf = [0u8; 64];
        for m in &msgs {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], m.as_slice());
        }
    }

    #[test]
    fn bind_in_use_says_so() {
        let first = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = first.local_addr().unwrap();
        // SO_REUSEADDR does not allow a second UDP bind while the first
        // socket lacks it.
        let err = bind_udp(addr, 0, false).unwrap_err();
        assert!(err.to_string().contains("address already in use"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn describe_is_lowercase_without_os_error_number() {
        let e = io::Error::from_raw_os_error(libc::EAFNOSUPPORT);
        let text = describe(&e);
        assert!(!text.contains("os error"), "{text}");
        assert!(text.chars().next().unwrap().is_lowercase(), "{text}");
    }

    #[test]
    fn errors_are_said_in_the_same_words_on_every_os() {
        use io::ErrorKind::*;
        for (kind, words) in [
            (AddrInUse, "address already in use"),
            (ConnectionRefused, "connection refused"),
            (PermissionDenied, "permission denied"),
            (TimedOut, "timed out"),
            (HostUnreachable, "host unreachable"),
        ] {
            assert_eq!(describe(&io::Error::from(kind)), words);
        }
        // Windows error numbers, as Wine reports them without a text.
        #[cfg(windows)]
        {
            assert_eq!(
                describe(&io::Error::from_raw_os_error(10048)),
                "address already in use"
            );
            assert_eq!(
                describe(&io::Error::from_raw_os_error(10061)),
                "connection refused"
            );
        }
        let custom = io::Error::new(InvalidInput, "Bad thing");
        assert_eq!(describe(&custom), "bad thing");
    }

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
        assert_eq!(split_host_port("[::1]", 3456).unwrap(), ("::1", 3456));
        assert_eq!(
            split_host_port("lab-pc:4000", 3456).unwrap(),
            ("lab-pc", 4000)
        );
        assert!(split_host_port("host:port", 1)
            .unwrap_err()
            .contains("not a port"));
        assert_eq!(unbracket("[fe80::1]"), "fe80::1");
        assert_eq!(host_port("[::1]", 5), "[::1]:5");
        assert_eq!(host_port("::1", 5), "[::1]:5");
        assert_eq!(host_port("lab", 5), "lab:5");
        assert_eq!(parse_ip("[::]").unwrap().to_string(), "::");
        assert!(parse_ip("localhost").is_err());
        assert_eq!(
            parse_source("127.0.0.2").unwrap().to_string(),
            "127.0.0.2:0"
        );
        assert_eq!(parse_source("[::1]:40").unwrap().to_string(), "[::1]:40");
        assert_eq!(parse_source("::1").unwrap().to_string(), "[::1]:0");
        assert_eq!(
            parse_source("127.0.0.2:7").unwrap().to_string(),
            "127.0.0.2:7"
        );
        assert!(parse_source("nope").is_none());
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
    fn a_socket_bound_to_loopback_broadcasts_nowhere() {
        assert!(local_broadcasts_for("127.0.0.2".parse().unwrap()).is_empty());
        assert_eq!(
            local_broadcasts_for("0.0.0.0".parse().unwrap()),
            local_broadcasts()
        );
    }
}
