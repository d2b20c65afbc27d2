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
/// A client whose queue stays over the high-water mark (a quarter of
/// `max_queue`) this long is stuck: it no longer holds the room back, and
/// is dropped as too slow once its queue overflows.
const STALL: Duration = Duration::from_secs(1);
/// A queue past this many times `max_queue` is dropped at once, stuck or
/// not, so memory stays bounded whatever happens.
const HARD_CAP: usize = 4;

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
    /// The last time the queue was at or under the high-water mark.
    caught_up: Instant,
    /// Marked for removal as too slow; gets nothing more.
    leaving: bool,
    /// In the read round (`more_to_read`).
    want_read: bool,
}

impl Client {
    /// Queues `msg`; returns whether the queue was empty before.
    fn enqueue(&mut self, msg: Rc<[u8]>, high: usize, now: Instant) -> bool {
        let was_empty = self.queue.is_empty();
        if self.queued <= high {
            self.caught_up = now;
        }
        self.queued += msg.len();
        self.queue.push_back(msg);
        was_empty
    }

    /// Over the high-water mark, and not for long: the room waits for it.
    fn holds_room(&self, high: usize, now: Instant) -> bool {
        self.queued > high && now.duration_since(self.caught_up) < STALL
    }

    /// Whether it must go: its queue overflowed while it was stuck, or
    /// passed the hard cap.
    fn too_slow(&self, max_queue: usize, now: Instant) -> bool {
        (self.queued > max_queue && now.duration_since(self.caught_up) >= STALL)
            || self.queued > max_queue.saturating_mul(HARD_CAP)
    }
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
    more_to_read: VecDeque<usize>,
    /// Clients with queued output to try writing.
    to_write: Vec<usize>,
    /// Clients whose queue was non-empty when last looked at (may repeat).
    backlogged: Vec<usize>,
    /// Set when a client that is not stuck went over the high-water mark:
    /// reading stops until the queues drain (backpressure).
    reads_paused: bool,
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
            more_to_read: VecDeque::new(),
            to_write: Vec::new(),
            backlogged: Vec::new(),
            reads_paused: false,
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
            // Backpressure: while a client that is still reading has a long
            // queue, read nobody (their TCP windows fill and the senders
            // wait), and look again soon. Unread data left over: just look
            // for new events. Accepting paused for lack of descriptors:
            // retry soon. Else wait; the stop handler wakes the poll.
            let behind = self.room_behind();
            let timeout = if behind {
                Some(Duration::from_millis(5))
            } else if !self.more_to_read.is_empty() {
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
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    Token(key) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.want_read(key);
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
            // Round robin: each client with data waiting reads its share in
            // turn; one that has more goes to the back. Backpressure stops
            // the round early, and the next round resumes where it stopped.
            if !self.room_behind() {
                for _ in 0..self.more_to_read.len() {
                    if self.reads_paused {
                        break;
                    }
                    let Some(key) = self.more_to_read.pop_front() else {
                        break;
                    };
                    if let Some(c) = self.clients.get_mut(key) {
                        c.want_read = false;
                        self.read_client(key);
                    }
                }
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

    /// Puts a client at the back of the read round, once.
    fn want_read(&mut self, key: usize) {
        if let Some(c) = self.clients.get_mut(key) {
            if !c.want_read {
                c.want_read = true;
                self.more_to_read.push_back(key);
            }
        }
    }

    /// The high-water mark of a queue: a quarter of `max_queue`.
    fn high(&self) -> usize {
        self.config.max_queue / 4
    }

    /// Whether some client that is not stuck is over the high-water mark;
    /// also drops the clients that are stuck and overflowed.
    fn room_behind(&mut self) -> bool {
        let (high, max_queue) = (self.high(), self.config.max_queue);
        let now = Instant::now();
        let clients = &self.clients;
        self.backlogged
            .retain(|&k| clients.get(k).is_some_and(|c| !c.queue.is_empty()));

        self.backlogged.sort_unstable();
        self.backlogged.dedup();
        let mut behind = false;
        for &k in &self.backlogged {
            let c = &mut self.clients[k];
            if c.leaving {
                continue;
            }
            if c.too_slow(max_queue, now) {
                c.leaving = true;
                self.to_remove.push((k, Leave::TooSlow));
            } else if c.holds_room(high, now) {
                behind = true;
            }
        }
        self.reads_paused = behind;
        behind
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
                        caught_up: Instant::now(),
                        leaving: false,
                        want_read: false,
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
                    self.want_read(key);
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
        let (high, max_queue) = (self.high(), self.config.max_queue);
        let now = Instant::now();
        for (key, client) in self.clients.iter_mut() {
            if Some(key) == except || client.leaving {
                continue;
            }
            if client.enqueue(msg.clone(), high, now) {
                self.to_write.push(key);
                self.backlogged.push(key);
            }
            if client.too_slow(max_queue, now) {
                client.leaving = true;
                self.to_remove.push((key, Leave::TooSlow));
            } else if client.holds_room(high, now) {
                // Stop reading senders until it catches up.
                self.reads_paused = true;
            }
        }
    }

    /// Queues `msg` for one client.
    fn tell(&mut self, key: usize, msg: &[u8]) {
        let (high, now) = (self.high(), Instant::now());
        if let Some(client) = self.clients.get_mut(key) {
            if client.enqueue(msg.into(), high, now) {
                self.to_write.push(key);
                self.backlogged.push(key);
            }
        }
    }

    fn read_client(&mut self, key: usize) {
        let mut budget = READ_SHARE;
        loop {
            let Some(client) = self.clients.get_mut(key) else {
                return;
            };
            if budget == 0 || self.reads_paused {
                self.want_read(key);
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
        let high = self.high();
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
                    if client.queued <= high {
                        client.caught_up = Instant::now();
                    }
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
