//! Sockets: set-up through socket2, address display, batched UDP receive.
//!
//! * [`bind_udp`] binds with SO_REUSEADDR, dual-stack on `::`, and a generous
//!   receive buffer, reporting the size the kernel granted;
//! * [`canonical`] shows IPv4 senders on a dual-stack socket as plain IPv4;
//! * [`BatchReceiver`] receives up to [`BATCH`] datagrams per system call with
//!   `recvmmsg` on Linux, into buffers allocated once, with a portable
//!   one-datagram fallback elsewhere.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use thiserror::Error;

/// Datagrams received per system call.
pub const BATCH: usize = 32;
/// Bytes per receive slot: any UDP datagram fits whole.
pub const SLOT: usize = 65_536;
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
    #[error("cannot listen on {addr}: {}", describe(.source))]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
    /// The multicast group could not be joined.
    #[error("cannot join multicast group {group}: {}", describe(.source))]
    Multicast {
        /// The group asked for.
        group: IpAddr,
        /// What the OS said.
        source: io::Error,
    },
    /// A socket option or another set-up step failed.
    #[error("cannot set up the socket: {}", describe(.0))]
    Setup(#[source] io::Error),
}

/// Says an OS error in words a user knows.
pub fn describe(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::EADDRINUSE) => "address already in use".into(),
        Some(libc::EADDRNOTAVAIL) => "address not available on this machine".into(),
        Some(libc::EACCES) => "permission denied".into(),
        Some(libc::ECONNREFUSED) => "connection refused".into(),
        Some(libc::ENETUNREACH) => "network unreachable".into(),
        Some(libc::EHOSTUNREACH) => "host unreachable".into(),
        _ => match err.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".into(),
            _ => {
                let text = err.to_string();
                // "Address family not supported by protocol (os error 97)"
                // → "address family not supported by protocol"
                let text = text.split(" (os error").next().unwrap_or(&text);
                let mut chars = text.chars();
                match chars.next() {
                    Some(first) => first.to_lowercase().chain(chars).collect(),
                    None => text.to_string(),
                }
            }
        },
    }
}

/// Shows an IPv4-mapped IPv6 sender (`[::ffff:1.2.3.4]:5`) as `1.2.3.4:5`.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

/// A bound UDP socket and the receive buffer the kernel granted.
#[derive(Debug)]
pub struct BoundUdp {
    /// The socket.
    pub socket: UdpSocket,
    /// SO_RCVBUF as reported by the kernel after set-up.
    pub recv_buffer: usize,
}

/// Binds a UDP socket for receiving: SO_REUSEADDR, dual-stack when `addr` is
/// the IPv6 unspecified address, SO_RCVBUF as asked (capped by the kernel).
///
/// # Errors
/// [`NetError::Bind`] when the address cannot be bound.
pub fn bind_udp(addr: SocketAddr, recv_buffer: usize) -> Result<BoundUdp, NetError> {
    let bind_err = |source| NetError::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(bind_err)?;
    socket.set_reuse_address(true).map_err(bind_err)?;
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
    let err = |source| NetError::Multicast { group, source };
    let invalid = |msg: String| err(io::Error::new(io::ErrorKind::InvalidInput, msg));
    match group {
        IpAddr::V4(g) => {
            let iface = match interface {
                None => Ipv4Addr::UNSPECIFIED,
                Some(s) => s
                    .parse()
                    .map_err(|_| invalid(format!("--interface '{s}' is not an IPv4 address")))?,
            };
            socket.join_multicast_v4(&g, &iface).map_err(err)
        }
        IpAddr::V6(g) => {
            let index = match interface {
                None => 0,
                Some(s) => interface_index(s).ok_or_else(|| {
                    invalid(format!(
                        "--interface '{s}' is not an interface name or index"
                    ))
                })?,
            };
            socket.join_multicast_v6(&g, index).map_err(err)
        }
    }
}

/// An interface index from a number (`2`) or a name (`eth0`).
pub fn interface_index(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the call's duration.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (index != 0).then_some(index)
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

/// Receives datagrams in batches into buffers allocated once.
pub struct BatchReceiver {
    bufs: Vec<u8>,
    lens: [usize; BATCH],
    froms: [SocketAddr; BATCH],
    #[cfg(target_os = "linux")]
    storages: Vec<libc::sockaddr_storage>,
}

impl Default for BatchReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchReceiver {
    /// Allocates the buffers: [`BATCH`] slots of [`SLOT`] bytes.
    pub fn new() -> Self {
        BatchReceiver {
            bufs: vec![0; BATCH * SLOT],
            lens: [0; BATCH],
            froms: [SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0); BATCH],
            #[cfg(target_os = "linux")]
            // SAFETY: sockaddr_storage is plain old data; all zeroes is valid.
            storages: vec![unsafe { std::mem::zeroed() }; BATCH],
        }
    }

    /// Datagram `i` of the last batch: its sender (canonical) and payload.
    pub fn get(&self, i: usize) -> (SocketAddr, &[u8]) {
        (self.froms[i], &self.bufs[i * SLOT..i * SLOT + self.lens[i]])
    }

    /// Receives up to [`BATCH`] datagrams. With `wait`, blocks for the first
    /// one up to the socket's read timeout; without, returns at once.
    /// Returns how many arrived (0 only without `wait`).
    ///
    /// # Errors
    /// The OS error; a timeout is `WouldBlock` or `TimedOut` (see
    /// [`is_transient`]).
    #[cfg(target_os = "linux")]
    pub fn recv(&mut self, socket: &UdpSocket, wait: bool) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        // SAFETY: all-zero mmsghdr / iovec are valid starting values.
        let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let base = self.bufs.as_mut_ptr();
        for i in 0..BATCH {
            iovecs[i] = libc::iovec {
                // SAFETY: i * SLOT + SLOT <= bufs.len().
                iov_base: unsafe { base.add(i * SLOT) }.cast(),
                iov_len: SLOT,
            };
            hdrs[i].msg_hdr.msg_name =
                (&mut self.storages[i] as *mut libc::sockaddr_storage).cast();
            hdrs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
            hdrs[i].msg_hdr.msg_iov = &mut iovecs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        let flags = if wait {
            libc::MSG_WAITFORONE
        } else {
            libc::MSG_DONTWAIT
        };
        let n = loop {
            // SAFETY: hdrs points at BATCH valid headers whose buffers and
            // name storage live in `self` and `iovecs` for the whole call.
            let n = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    BATCH as _,
                    flags as _,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                break n as usize;
            }
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if !wait && err.kind() == io::ErrorKind::WouldBlock {
                return Ok(0);
            }
            return Err(err);
        };
        for (i, hdr) in hdrs.iter().enumerate().take(n) {
            self.lens[i] = hdr.msg_len as usize;
            let mut storage = socket2::SockAddrStorage::zeroed();
            // SAFETY: SockAddrStorage is a sockaddr_storage; the kernel wrote
            // a valid address of msg_namelen bytes into ours.
            let addr = unsafe {
                *storage.view_as::<libc::sockaddr_storage>() = self.storages[i];
                SockAddr::new(storage, hdr.msg_hdr.msg_namelen)
            };
            self.froms[i] = addr.as_socket().map(canonical).unwrap_or(self.froms[i]);
        }
        Ok(n)
    }

    /// Portable fallback: one datagram per call.
    ///
    /// # Errors
    /// The OS error; a timeout is `WouldBlock` or `TimedOut`.
    #[cfg(not(target_os = "linux"))]
    pub fn recv(&mut self, socket: &UdpSocket, wait: bool) -> io::Result<usize> {
        if !wait {
            return Ok(0);
        }
        loop {
            match socket.recv_from(&mut self.bufs[..SLOT]) {
                Ok((len, from)) => {
                    self.lens[0] = len;
                    self.froms[0] = canonical(from);
                    return Ok(1);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Datagrams sent per system call by [`send_batch`] at most.
pub const SEND_BATCH: usize = 64;

/// Sends datagrams on a connected socket, up to [`SEND_BATCH`] per system
/// call (`sendmmsg` on Linux, one `send` each elsewhere). Returns how many
/// went out; an error is returned only when the first one fails (the error
/// of a later one surfaces on the next call, as with `send`).
///
/// # Errors
/// The OS error for the first datagram (e.g. ECONNREFUSED after an ICMP
/// port unreachable).
#[cfg(target_os = "linux")]
pub fn send_batch(socket: &UdpSocket, datagrams: &[&[u8]]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let n = datagrams.len().min(SEND_BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: all-zero iovec / mmsghdr are valid starting values.
    let mut iovecs: [libc::iovec; SEND_BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; SEND_BATCH] = unsafe { std::mem::zeroed() };
    for (i, d) in datagrams.iter().take(n).enumerate() {
        iovecs[i] = libc::iovec {
            iov_base: d.as_ptr() as *mut libc::c_void,
            iov_len: d.len(),
        };
        hdrs[i].msg_hdr.msg_iov = &mut iovecs[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    loop {
        // SAFETY: n headers, each pointing at one iovec over a live slice
        // the kernel only reads; no address (the socket is connected).
        let r = unsafe { libc::sendmmsg(socket.as_raw_fd(), hdrs.as_mut_ptr(), n as _, 0) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Portable fallback of [`send_batch`]: one `send` per datagram.
///
/// # Errors
/// The OS error for the first datagram.
#[cfg(not(target_os = "linux"))]
pub fn send_batch(socket: &UdpSocket, datagrams: &[&[u8]]) -> io::Result<usize> {
    for (i, d) in datagrams.iter().take(SEND_BATCH).enumerate() {
        if let Err(e) = socket.send(d) {
            return if i == 0 { Err(e) } else { Ok(i) };
        }
    }
    Ok(datagrams.len().min(SEND_BATCH))
}

/// Asks the kernel to report ICMP errors (such as "port unreachable") on
/// an unconnected UDP socket: they then show up on its next receive or
/// send, with the details in its error queue ([`unreachable_destinations`]).
///
/// # Errors
/// The OS error of `setsockopt`.
#[cfg(target_os = "linux")]
pub fn report_icmp_errors(socket: &UdpSocket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    let (level, name) = match socket.local_addr()? {
        SocketAddr::V4(_) => (libc::SOL_IP, libc::IP_RECVERR),
        SocketAddr::V6(_) => (libc::SOL_IPV6, libc::IPV6_RECVERR),
    };
    // SAFETY: setsockopt with a valid descriptor and an int option value.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Elsewhere ICMP errors are not reported on unconnected sockets.
///
/// # Errors
/// Never.
#[cfg(not(target_os = "linux"))]
pub fn report_icmp_errors(_socket: &UdpSocket) -> io::Result<()> {
    Ok(())
}

/// Whether an error from a UDP send or receive is an ICMP report about an
/// earlier datagram (the destination port or host is unreachable).
pub fn is_icmp_report(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ECONNREFUSED) | Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH)
    )
}

/// Empties the socket's error queue (see [`report_icmp_errors`]): the
/// destinations of earlier datagrams the network reported as unreachable,
/// each with what it said.
#[cfg(target_os = "linux")]
pub fn unreachable_destinations(socket: &UdpSocket) -> Vec<(SocketAddr, io::Error)> {
    use std::os::fd::AsRawFd;
    let mut out = Vec::new();
    loop {
        let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut control = [0u64; 64];
        let mut data = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: an all-zero msghdr is valid; its pointers are set to
        // buffers that live for the whole call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: a valid descriptor and a msghdr whose buffers are live.
        let n = unsafe {
            libc::recvmsg(
                socket.as_raw_fd(),
                &mut msg,
                libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return out;
        }
        // The error itself is in a control message of the IP level.
        let mut errno = libc::ECONNREFUSED;
        // SAFETY: CMSG_* walk the control buffer the kernel filled, within
        // msg_controllen.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let c = &*cmsg;
                if (c.cmsg_level == libc::SOL_IP && c.cmsg_type == libc::IP_RECVERR)
                    || (c.cmsg_level == libc::SOL_IPV6 && c.cmsg_type == libc::IPV6_RECVERR)
                {
                    let ee = libc::CMSG_DATA(cmsg).cast::<libc::sock_extended_err>();
                    errno = (*ee).ee_errno as i32;
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        let mut storage = socket2::SockAddrStorage::zeroed();
        // SAFETY: the kernel wrote a valid address of msg_namelen bytes.
        let addr = unsafe {
            *storage.view_as::<libc::sockaddr_storage>() = name;
            SockAddr::new(storage, msg.msg_namelen)
        };
        if let Some(dest) = addr.as_socket() {
            out.push((canonical(dest), io::Error::from_raw_os_error(errno)));
        }
    }
}

/// Elsewhere there is no error queue.
#[cfg(not(target_os = "linux"))]
pub fn unreachable_destinations(_socket: &UdpSocket) -> Vec<(SocketAddr, io::Error)> {
    Vec::new()
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
        let bound = bind_udp("127.0.0.1:0".parse().unwrap(), 1 << 20).unwrap();
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
        let err = bind_udp(addr, 0).unwrap_err();
        assert!(err.to_string().contains("address already in use"), "{err}");
    }

    #[test]
    fn describe_is_lowercase_without_os_error_number() {
        let e = io::Error::from_raw_os_error(libc::EAFNOSUPPORT);
        let text = describe(&e);
        assert!(!text.contains("os error"), "{text}");
        assert!(text.chars().next().unwrap().is_lowercase(), "{text}");
    }
}
