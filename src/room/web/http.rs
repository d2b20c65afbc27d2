//! A connection to the web port until its request is answered (then
//! closed) or upgraded to a WebSocket (then a room member): the request
//! read as far as it has come, the reply written as far as the socket
//! takes it, and a deadline for the whole request; and [`Bounded`], how
//! many such connections one address, and all, may hold.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
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

/// Connections from one address under way at most; a new one past it
/// closes that address's oldest (so one host cannot hold the page).
pub const PER_HOST: usize = 16;

/// The page's connections until they are answered or upgraded, bounded per
/// address ([`PER_HOST`]) and in all: a new connection past either bound
/// closes the oldest of its address, or the oldest of all. So a host that
/// opens thousands of requests and never finishes them holds at most
/// [`PER_HOST`] places, and everyone else's page still loads. Generic over
/// the connection, so the rules are tested without sockets.
#[derive(Debug)]
pub struct Bounded<C> {
    conns: slab::Slab<(IpAddr, u64, C)>,
    /// Each address's connections, oldest first.
    by_host: HashMap<IpAddr, VecDeque<usize>>,
    /// Every connection, oldest first, as (key, serial); entries of keys
    /// since removed are skipped (and pruned now and then).
    order: VecDeque<(usize, u64)>,
    serial: u64,
    max: usize,
}

impl<C> Bounded<C> {
    /// At most `max` connections in all (at least [`PER_HOST`]).
    pub fn new(max: usize) -> Self {
        Bounded {
            conns: slab::Slab::new(),
            by_host: HashMap::new(),
            order: VecDeque::new(),
            serial: 0,
            max: max.max(PER_HOST),
        }
    }

    /// Adds a connection from `ip`; returns its key and the connections it
    /// pushed out, for the caller to close.
    pub fn insert(&mut self, ip: IpAddr, conn: C) -> (usize, Vec<C>) {
        let ip = ip.to_canonical();
        let mut out = Vec::new();
        let oldest_of_host = self
            .by_host
            .get(&ip)
            .filter(|q| q.len() >= PER_HOST)
            .and_then(|q| q.front().copied());
        if let Some(key) = oldest_of_host {
            out.extend(self.remove(key));
        }
        while self.conns.len() >= self.max {
            let Some((key, serial)) = self.order.pop_front() else {
                break;
            };
            if self.conns.get(key).is_some_and(|c| c.1 == serial) {
                out.extend(self.remove(key));
            }
        }
        self.serial += 1;
        let key = self.conns.insert((ip, self.serial, conn));
        self.by_host.entry(ip).or_default().push_back(key);
        self.order.push_back((key, self.serial));
        if self.order.len() > 2 * self.conns.len() + 64 {
            let conns = &self.conns;
            self.order
                .retain(|(k, s)| conns.get(*k).is_some_and(|c| c.1 == *s));
        }
        (key, out)
    }

    /// Takes a connection out (closed or upgraded).
    pub fn remove(&mut self, key: usize) -> Option<C> {
        let (ip, _, conn) = self.conns.try_remove(key)?;
        if let Some(q) = self.by_host.get_mut(&ip) {
            q.retain(|k| *k != key);
            if q.is_empty() {
                self.by_host.remove(&ip);
            }
        }
        Some(conn)
    }

    /// A connection by key.
    pub fn get_mut(&mut self, key: usize) -> Option<&mut C> {
        self.conns.get_mut(key).map(|c| &mut c.2)
    }

    /// Every connection, with its key.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &C)> {
        self.conns.iter().map(|(k, c)| (k, &c.2))
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(i: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, i])
    }

    #[test]
    fn one_address_holds_at_most_sixteen_and_its_oldest_goes_first() {
        let mut b = Bounded::new(1000);
        for n in 0..PER_HOST as u32 {
            assert!(b.insert(ip(2), n).1.is_empty());
        }
        let (_, out) = b.insert(ip(2), 100);
        assert_eq!(out, vec![0], "the oldest of that address");
        let (_, out) = b.insert(ip(2), 101);
        assert_eq!(out, vec![1]);
        // Another address is not touched.
        let (k3, out) = b.insert(ip(3), 200);
        assert!(out.is_empty());
        assert_eq!(b.len(), PER_HOST + 1);
        assert_eq!(b.remove(k3), Some(200));
        // IPv4-mapped IPv6 counts as its IPv4 address.
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        assert_eq!(b.insert(mapped, 102).1, vec![2]);
    }

    #[test]
    fn past_the_total_the_oldest_of_all_goes() {
        let mut b = Bounded::new(PER_HOST + 2);
        let mut keys = Vec::new();
        for i in 0..(PER_HOST + 2) as u8 {
            keys.push(b.insert(ip(10 + i), u32::from(i)).0);
        }
        // Removed ones are skipped when the oldest is looked for.
        b.remove(keys[0]);
        b.insert(ip(99), 1000);
        let (_, out) = b.insert(ip(98), 1001);
        assert_eq!(out, vec![1], "the oldest still there");
        assert_eq!(b.len(), PER_HOST + 2);
        // Churn does not grow the bookkeeping.
        for n in 0..10_000u32 {
            let (k, _) = b.insert(ip(50), n);
            b.remove(k);
        }
        assert!(b.order.len() <= 2 * b.len() + 64 + 1);
        assert!(b.by_host.len() <= b.len());
    }
}
