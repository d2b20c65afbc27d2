//! A connection to the web port until its request is answered (then
//! closed) or upgraded to a WebSocket (then a room member): the request
//! read as far as it has come, the reply written as far as the socket
//! takes it, and a deadline for the whole request.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use super::{handle, Parsed, Reply};

/// How long a connection may take to send its request.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Where a connection is after a look at its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Waiting for more of the request, or for room to write the reply.
    Wait,
    /// Done (answered, or broken): close it.
    Close,
    /// The 101 reply is out: it is a WebSocket now.
    Upgrade,
}

/// A connection that has not become a member (yet).
pub struct HttpConn {
    /// The socket.
    pub stream: TcpStream,
    /// The peer's address.
    pub peer: SocketAddr,
    request: Vec<u8>,
    /// The reply, once decided, and how much of it is written.
    response: Option<(Reply, usize)>,
    /// Bytes after the request (a WebSocket frame sent early).
    rest: Vec<u8>,
    /// When it must have sent its request.
    pub deadline: Instant,
}

impl HttpConn {
    /// A connection accepted at `now`.
    pub fn new(stream: TcpStream, peer: SocketAddr, now: Instant) -> Self {
        HttpConn {
            stream,
            peer,
            request: Vec::new(),
            response: None,
            rest: Vec::new(),
            deadline: now + DEADLINE,
        }
    }

    /// Whether its request is still unfinished (what the deadline and the
    /// bounds on unfinished requests are about).
    pub fn unfinished(&self) -> bool {
        self.response.is_none()
    }

    /// Whether it is writing a 101 (it is past its deadline's concern).
    pub fn upgrading(&self) -> bool {
        matches!(self.response, Some((Reply::Upgrade(_), _)))
    }

    /// Reads the request and writes the reply as far as the socket
    /// allows; `origins` are the `--web-origin`s.
    pub fn advance(&mut self, origins: &[String]) -> Step {
        let mut buf = [0u8; 4096];
        while self.response.is_none() {
            match self.stream.read(&mut buf) {
                Ok(0) => return Step::Close,
                Ok(n) => {
                    self.request.extend_from_slice(&buf[..n]);
                    let Ok(local) = self.stream.local_addr() else {
                        return Step::Close;
                    };
                    if let Parsed::Done(reply, used) = handle(&self.request, local, origins) {
                        self.rest = self.request.split_off(used.min(self.request.len()));
                        self.response = Some((reply, 0));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close,
            }
        }
        let Some((reply, written)) = &mut self.response else {
            return Step::Wait;
        };
        let bytes = match reply {
            Reply::Close(b) | Reply::Upgrade(b) => b,
        };
        while *written < bytes.len() {
            match self.stream.write(&bytes[*written..]) {
                Ok(0) => return Step::Close,
                Ok(n) => *written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close,
            }
        }
        match reply {
            Reply::Upgrade(_) => Step::Upgrade,
            Reply::Close(_) => Step::Close,
        }
    }

    /// The bytes the browser sent after its request (its first WebSocket
    /// frames, if it did not wait for the 101).
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.rest)
    }
}
