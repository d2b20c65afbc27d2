//! UDP everywhere but Linux (Windows, macOS, the BSDs): one datagram per
//! system call, same API as the batched Linux code, so callers never know.
//! ICMP reports have no error queue here: they surface as an error of the
//! next receive (WSAECONNRESET on Windows), without a destination.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use super::{canonical, BATCH, SEND_BATCH, SLOT};

/// Receives datagrams into a buffer allocated once (one per call here).
pub struct BatchReceiver {
    bufs: Vec<u8>,
    lens: [usize; BATCH],
    froms: [SocketAddr; BATCH],
}

impl Default for BatchReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchReceiver {
    /// Allocates one [`SLOT`]-byte buffer: any datagram fits whole.
    pub fn new() -> Self {
        BatchReceiver {
            bufs: vec![0; SLOT],
            lens: [0; BATCH],
            froms: [SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0); BATCH],
        }
    }

    /// Datagram `i` of the last batch (only 0 here): sender and payload.
    pub fn get(&self, i: usize) -> (SocketAddr, &[u8]) {
        (self.froms[i], &self.bufs[..self.lens[i]])
    }

    /// Receives one datagram. With `wait`, blocks up to the socket's read
    /// timeout; without, returns 0 when none is waiting.
    ///
    /// # Errors
    /// The OS error; a timeout is `WouldBlock` or `TimedOut`.
    pub fn recv(&mut self, socket: &UdpSocket, wait: bool) -> io::Result<usize> {
        if !wait {
            socket.set_nonblocking(true)?;
        }
        let result = loop {
            match socket.recv_from(&mut self.bufs[..SLOT]) {
                Ok((len, from)) => {
                    self.lens[0] = len;
                    self.froms[0] = canonical(from);
                    break Ok(1);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if !wait && e.kind() == io::ErrorKind::WouldBlock => break Ok(0),
                Err(e) => break Err(e),
            }
        };
        if !wait {
            socket.set_nonblocking(false)?;
        }
        result
    }
}

/// One `send` per datagram on a connected socket; how many went out.
///
/// # Errors
/// The OS error for the first datagram.
pub fn send_batch(socket: &UdpSocket, datagrams: &[&[u8]]) -> io::Result<usize> {
    for (i, d) in datagrams.iter().take(SEND_BATCH).enumerate() {
        if let Err(e) = socket.send(d) {
            return if i == 0 { Err(e) } else { Ok(i) };
        }
    }
    Ok(datagrams.len().min(SEND_BATCH))
}

/// Nothing to ask for: reports arrive on the next receive anyway.
///
/// # Errors
/// Never.
pub fn report_icmp_errors(_socket: &UdpSocket) -> io::Result<()> {
    Ok(())
}

/// There is no error queue here: no destination is known.
pub fn unreachable_destinations(_socket: &UdpSocket) -> Vec<(SocketAddr, io::Error)> {
    Vec::new()
}
