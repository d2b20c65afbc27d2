//! The `room-server` event loop.
//!
//! ```text
//! accept ──▶ client (reads ──▶ Framer, capped) ──▶ one shared "<ip:port> line\n"
//!        ──▶ every other client's bounded queue ──▶ vectored writes
//!        overflow ──▶ client dropped, "[ip:port] left room (too slow)"
//! ```
//!
//! One thread, one mio `Poll` (epoll on Linux: no select() limit), no thread
//! per client. Each relayed line is built once into a reference-counted
//! buffer that every recipient's queue shares. A client that stops reading
//! only fills its own queue; past [`Config::max_queue`] bytes it is dropped,
//! so it never slows the room. Reads take a bounded share per turn, so one
//! flooding client cannot starve the others.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use thiserror::Error;

use crate::filter::Bucket;
use crate::net::{self, canonical};
use crate::room::framer::{Frame, Framer};
use crate::stop::Stop;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
/// Bytes read from one client per turn before others get theirs.
const READ_SHARE: usize = 256 * 1024;
/// Read buffer size.
const READ_CHUNK: usize = 64 * 1024;
/// Buffers written per vectored write.
const IOV_MAX: usize = 64;

/// Limits of the room.
#[derive(Debug, Clone)]
pub struct Config {
    /// Clients at most; the next one is told `! room full` and closed.
    pub max_clients: usize,
    /// Longest line relayed, in bytes (line ending excluded).
    pub max_line: usize,
    /// Lines per second per client (`None`: no limit).
    pub max_rate: Option<u32>,
    /// Bytes queued for one client before it is dropped as too slow.
    pub max_queue: usize,
    /// Log joins and leaves on stderr.
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_clients: 10_000,
            max_line: 65_536,
            max_rate: Some(1_000),
            max_queue: 4 * 1024 * 1024,
            verbose: true,
        }
    }
}

/// Failures of the server as a whole (a client's own errors never are).
#[derive(Debug, Error)]
pub enum ServerError {
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {}", net::describe(.source))]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
    /// The event loop failed.
    #[error("event loop failed: {}", net::describe(.0))]
    Poll(#[source] io::Error),
}

/// Binds the listening socket: SO_REUSEADDR, dual-stack on `::`, a deep
/// accept backlog.
///
/// # Errors
/// [`ServerError::Bind`] when the address cannot be bound.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, ServerError> {
    let err = |source| ServerError::Bind { addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    socket.set_reuse_address(true).map_err(err)?;
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

/// Raises the open-file soft limit to the hard limit; returns the new soft
/// limit (each client needs one descriptor).
pub fn raise_fd_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid, owned struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let mut raised = lim;
            raised.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur as u64;
            }
        }
        lim.rlim_cur as u64
    }
}

/// Counts kept by the server.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Clients accepted in all.
    pub joined: u64,
    /// Lines relayed (each counted once, however many receive it).
    pub lines: u64,
    /// Clients dropped as too slow.
    pub too_slow: u64,
    /// Lines dropped as too long.
    pub too_long: u64,
    /// Lines dropped by the rate limit.
    pub rate_limited: u64,
    /// Clients turned away because the room was full.
    pub turned_away: u64,
}

struct Client {
    stream: TcpStream,
    name: String,
    framer: Framer,
    queue: VecDeque<Rc<[u8]>>,
    /// Bytes of the queue's front already written.
    head_written: usize,
    queued: usize,
    bucket: Option<Bucket>,
    told_slow_down: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Leave {
    Normal,
    TooSlow,
}

/// The room: a listener, its clients and the poll that drives them.
pub struct Server {
    poll: Poll,
    listener: TcpListener,
    waker: Arc<Waker>,
    clients: Slab<Client>,
    config: Config,
    stats: Stats,
    /// Clients with unread data left after their share.
    more_to_read: Vec<usize>,
    /// Clients with queued output to try writing.
    to_write: Vec<usize>,
    /// Clients to remove, with why.
    to_remove: Vec<(usize, Leave)>,
    accept_paused: bool,
    read_buf: Vec<u8>,
}

impl Server {
    /// Takes a bound, listening socket.
    ///
    /// # Errors
    /// [`ServerError::Poll`] when the event loop cannot be created.
    pub fn new(listener: std::net::TcpListener, config: Config) -> Result<Server, ServerError> {
        let poll = Poll::new().map_err(ServerError::Poll)?;
        listener.set_nonblocking(true).map_err(ServerError::Poll)?;
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(ServerError::Poll)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(ServerError::Poll)?);
        Ok(Server {
            poll,
            listener,
            waker,
            clients: Slab::new(),
            config,
            stats: Stats::default(),
            more_to_read: Vec::new(),
            to_write: Vec::new(),
            to_remove: Vec::new(),
            accept_paused: false,
            read_buf: vec![0; READ_CHUNK],
        })
    }

    /// Where the server listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Wakes the loop (call after setting the stop flag).
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Runs until the stop flag is set; returns the counts.
    ///
    /// # Errors
    /// [`ServerError::Poll`] when polling itself fails.
    pub fn run(mut self, stop: &Stop) -> Result<Stats, ServerError> {
        let mut events = Events::with_capacity(1024);
        while !stop.is_set() {
            // Unread data left over: just look for new events. Accepting
            // paused for lack of descriptors: retry soon. Else wait; the
            // stop handler wakes the poll.
            let timeout = if !self.more_to_read.is_empty() {
                Some(Duration::ZERO)
            } else if self.accept_paused {
                Some(Duration::from_millis(100))
            } else {
                None
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ServerError::Poll(e)),
            }
            let mut readable: Vec<usize> = std::mem::take(&mut self.more_to_read);
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    Token(key) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            readable.push(key);
                        }
                        if event.is_writable() {
                            self.to_write.push(key);
                        }
                    }
                }
            }
            if self.accept_paused {
                self.accept();
            }
            readable.sort_unstable();
            readable.dedup();
            for key in readable {
                self.read_client(key);
            }
            self.settle();
        }
        if self.config.verbose {
            eprintln!(
                "room-server: stopping; {} clients connected, {} joined in all, {} lines relayed",
                self.clients.len(),
                self.stats.joined,
                self.stats.lines
            );
        }
        Ok(self.stats)
    }

    /// Writes queued output and removes departed clients until nothing
    /// changes (a departure is announced, which may queue more output).
    fn settle(&mut self) {
        loop {
            let writes = std::mem::take(&mut self.to_write);
            for key in writes {
                self.write_client(key);
            }
            if self.to_remove.is_empty() {
                break;
            }
            let removals = std::mem::take(&mut self.to_remove);
            for (key, why) in removals {
                self.remove(key, why);
            }
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, addr)) => {
                    self.accept_paused = false;
                    let name = canonical(addr).to_string();
                    if self.clients.len() >= self.config.max_clients {
                        let _ = stream.write(b"! room full\n");
                        self.stats.turned_away += 1;
                        if self.config.verbose {
                            eprintln!(
                                "[{name}] turned away: room full ({} clients)",
                                self.clients.len()
                            );
                        }
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let entry = self.clients.vacant_entry();
                    let key = entry.key();
                    if let Err(e) = self.poll.registry().register(
                        &mut stream,
                        Token(key),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        eprintln!("[{name}] cannot register: {}", net::describe(&e));
                        continue;
                    }
                    entry.insert(Client {
                        stream,
                        name: name.clone(),
                        framer: Framer::new(self.config.max_line),
                        queue: VecDeque::new(),
                        head_written: 0,
                        queued: 0,
                        bucket: self
                            .config
                            .max_rate
                            .map(|r| Bucket::full(r, Instant::now())),
                        told_slow_down: false,
                    });
                    self.stats.joined += 1;
                    if self.config.verbose {
                        crate::status::line(&format!(
                            "[{name}] entered room ({} in room)",
                            self.clients.len()
                        ));
                    }
                    let msg = format!("[{name}] entered room\n");
                    self.broadcast(Some(key), msg.into_bytes().into());
                    // A client may have sent data before registering.
                    self.more_to_read.push(key);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) => {
                    // Out of descriptors: leave the connection in the
                    // backlog and try again shortly.
                    if !self.accept_paused && self.config.verbose {
                        eprintln!(
                            "room-server: cannot accept: {} ({} clients)",
                            net::describe(&e),
                            self.clients.len()
                        );
                    }
                    self.accept_paused = true;
                    return;
                }
                Err(_) => {
                    // ECONNABORTED and the like concern one connection only.
                }
            }
        }
    }

    /// Queues `msg` for every client but `except`.
    fn broadcast(&mut self, except: Option<usize>, msg: Rc<[u8]>) {
        let max_queue = self.config.max_queue;
        for (key, client) in self.clients.iter_mut() {
            if Some(key) == except {
                continue;
            }
            if client.queued > max_queue {
                continue; // already marked too slow
            }
            let was_empty = client.queue.is_empty();
            client.queued += msg.len();
            client.queue.push_back(msg.clone());
            if client.queued > max_queue {
                self.to_remove.push((key, Leave::TooSlow));
            } else if was_empty {
                self.to_write.push(key);
            }
        }
    }

    /// Queues `msg` for one client.
    fn tell(&mut self, key: usize, msg: &[u8]) {
        if let Some(client) = self.clients.get_mut(key) {
            if client.queue.is_empty() {
                self.to_write.push(key);
            }
            client.queued += msg.len();
            client.queue.push_back(msg.into());
        }
    }

    fn read_client(&mut self, key: usize) {
        let mut budget = READ_SHARE;
        loop {
            let Some(client) = self.clients.get_mut(key) else {
                return;
            };
            if budget == 0 {
                self.more_to_read.push(key);
                return;
            }
            match client.stream.read(&mut self.read_buf) {
                Ok(0) => {
                    // Orderly close: a last line without newline still counts.
                    if let Some(last) = client.framer.finish() {
                        self.relay_line(key, &last);
                    }
                    self.to_remove.push((key, Leave::Normal));
                    return;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    let data = std::mem::take(&mut self.read_buf);
                    self.frame(key, &data[..n]);
                    self.read_buf = data;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // Reset mid-line: the partial line is dropped.
                    self.to_remove.push((key, Leave::Normal));
                    return;
                }
            }
        }
    }

    fn frame(&mut self, key: usize, data: &[u8]) {
        let mut framer = match self.clients.get_mut(key) {
            Some(c) => std::mem::replace(&mut c.framer, Framer::new(0)),
            None => return,
        };
        framer.push(data, |frame| match frame {
            Frame::Line(line) => self.relay_line(key, line),
            Frame::TooLong => {
                self.stats.too_long += 1;
                let msg = format!(
                    "! line too long (max {} bytes), dropped\n",
                    self.config.max_line
                );
                self.tell(key, msg.as_bytes());
            }
        });
        if let Some(c) = self.clients.get_mut(key) {
            c.framer = framer;
        }
    }

    fn relay_line(&mut self, key: usize, line: &[u8]) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if let (Some(bucket), Some(rate)) = (&mut client.bucket, self.config.max_rate) {
            if !bucket.take(rate, Instant::now()) {
                self.stats.rate_limited += 1;
                if !client.told_slow_down {
                    client.told_slow_down = true;
                    self.tell(key, b"! slow down\n");
                }
                return;
            }
            client.told_slow_down = false;
        }
        let mut msg = Vec::with_capacity(client.name.len() + line.len() + 4);
        msg.push(b'<');
        msg.extend_from_slice(client.name.as_bytes());
        msg.extend_from_slice(b"> ");
        msg.extend_from_slice(line);
        msg.push(b'\n');
        self.stats.lines += 1;
        self.broadcast(Some(key), msg.into());
    }

    fn write_client(&mut self, key: usize) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        while !client.queue.is_empty() {
            let mut slices = [IoSlice::new(&[]); IOV_MAX];
            let mut n = 0;
            for (i, buf) in client.queue.iter().take(IOV_MAX).enumerate() {
                slices[i] = IoSlice::new(if i == 0 {
                    &buf[client.head_written..]
                } else {
                    buf
                });
                n += 1;
            }
            match client.stream.write_vectored(&slices[..n]) {
                Ok(0) => {
                    self.to_remove.push((key, Leave::Normal));
                    return;
                }
                Ok(mut written) => {
                    client.queued -= written;
                    while written > 0 {
                        let front_left = client.queue[0].len() - client.head_written;
                        if written >= front_left {
                            written -= front_left;
                            client.queue.pop_front();
                            client.head_written = 0;
                        } else {
                            client.head_written += written;
                            written = 0;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.to_remove.push((key, Leave::Normal));
                    return;
                }
            }
        }
    }

    fn remove(&mut self, key: usize, why: Leave) {
        let Some(mut client) = self.clients.try_remove(key) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut client.stream);
        if why == Leave::TooSlow {
            self.stats.too_slow += 1;
        }
        let note = match why {
            Leave::Normal => "",
            Leave::TooSlow => " (too slow)",
        };
        if self.config.verbose {
            crate::status::line(&format!(
                "[{}] left room{note} ({} in room)",
                client.name,
                self.clients.len()
            ));
        }
        let msg = format!("[{}] left room{note}\n", client.name);
        drop(client);
        self.broadcast(None, msg.into_bytes().into());
    }
}
