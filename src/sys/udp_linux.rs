//! Batched UDP on Linux: `recvmmsg` / `sendmmsg` into buffers allocated
//! once, and ICMP errors read from the socket's error queue
//! (`IP_RECVERR`), so "port unreachable" names the destination it is about.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use socket2::SockAddr;

use super::{canonical, BATCH, SEND_BATCH, SLOT};

/// Receives datagrams in batches into buffers allocated once.
pub struct BatchReceiver {
    bufs: Vec<u8>,
    lens: [usize; BATCH],
    froms: [SocketAddr; BATCH],
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
    /// The OS error; a timeout is `WouldBlock` or `TimedOut`.
    pub fn recv(&mut self, socket: &UdpSocket, wait: bool) -> io::Result<usize> {
        // SAFETY: all-zero mmsghdr / iovec are valid starting values.
        let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
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
}

/// Sends datagrams on a connected socket, up to [`SEND_BATCH`] per system
/// call. Returns how many went out; an error is returned only when the
/// first one fails (the error of a later one surfaces on the next call, as
/// with `send`).
///
/// # Errors
/// The OS error for the first datagram (e.g. ECONNREFUSED after an ICMP
/// port unreachable).
pub fn send_batch(socket: &UdpSocket, datagrams: &[&[u8]]) -> io::Result<usize> {
    let n = datagrams.len().min(SEND_BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: all-zero iovec / mmsghdr are valid starting values.
    let mut iovecs: [libc::iovec; SEND_BATCH] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
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

/// Asks the kernel to report ICMP errors (such as "port unreachable") on
/// an unconnected UDP socket: they then show up on its next receive or
/// send, with the details in its error queue ([`unreachable_destinations`]).
///
/// # Errors
/// The OS error of `setsockopt`.
pub fn report_icmp_errors(socket: &UdpSocket) -> io::Result<()> {
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

/// Empties the socket's error queue (see [`report_icmp_errors`]): the
/// destinations of earlier datagrams the network reported as unreachable,
/// each with what it said.
pub fn unreachable_destinations(socket: &UdpSocket) -> Vec<(SocketAddr, io::Error)> {
    let mut out = Vec::new();
    loop {
        // SAFETY: sockaddr_storage is plain old data; all zeroes is valid.
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
