//! The `room-server` event loop.
//!
//! ```text
//! accept ──▶ member (reads ──▶ rate allowance ──▶ Framer, capped)
//!        ──▶ "<ip:port> line\n" appended once to the room's Log
//!        ──▶ every other member's Outbox (a position in the log) ──▶ vectored writes
//! ```
//!
//! One thread, one mio `Poll` (epoll on Linux: no select() limit), no
//! thread per client. The rules that keep the room whole:
//!
//! * **Throttle, never drop.** Past `--max-rate` lines a second, a member is
//!   not read until its allowance refills: its lines wait in its socket and
//!   TCP pushes back on the sender. It is told once
//!   `! slow down (max N lines/s)`. Nothing is lost or reordered, and no
//!   other member waits for it.
//! * **One copy of each line.** Lines and join/leave notices are stored
//!   once in a [`Log`]; each member keeps a position in it ([`Outbox`]),
//!   and the log is trimmed behind the slowest member. Memory follows what
//!   the slowest member has not read, not members × lines.
//! * **Backpressure for members that are behind.** When a member's
//!   [`Outbox::cost`] passes the high-water mark (a quarter of the smaller
//!   of `--max-queue` and `--max-memory`), the room stops reading senders
//!   until it catches up, so a burst never costs a reader its place.
//! * **Stuck members go.** A member over the high-water mark for a second
//!   is stuck: it no longer holds the room back; once its cost passes
//!   `--max-queue` it is dropped (`left room (too slow)`). When the log
//!   would pass `--max-memory`, stuck members are dropped furthest behind
//!   first; a member that keeps up never is. If none is stuck yet, the
//!   room waits (reads nobody) until one is or the log drains.
//!
//! Reads take a bounded share per turn (round robin), so one flooding
//! member cannot starve the others; so do writes.
//!
//! With `--web`, a second listener serves the page ([`super::web`]); a
//! browser whose WebSocket upgrade is accepted becomes a member whose
//! connection is a tungstenite WebSocket instead of a plain stream. Its text
//! messages are encoded and fed to the same framer, allowance and memory
//! rules; log entries reach it as one JSON message each. Nothing else about
//! the room differs for it.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use thiserror::Error;

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

use crate::filter::Bucket;
use crate::net::{self, canonical};
use crate::room::framer::{Frame, Framer};
use crate::room::log::{Log, MemberId, Outbox, ENTRY_OVERHEAD};
use crate::room::web::{self, Parsed, Reply, WebConfig};
use crate::stop::Stop;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
const WEB_LISTENER: Token = Token(usize::MAX - 3);
/// Tokens of HTTP connections (not yet members) start here.
const HTTP_BASE: usize = 1 << (usize::BITS - 2);
/// HTTP connections waiting for their request at most; more are closed.
const MAX_HTTP: usize = 1024;
/// How long an HTTP connection may take to send its request.
const HTTP_DEADLINE: Duration = Duration::from_secs(10);
/// Bytes read from one member per turn before others get theirs.
const READ_SHARE: usize = 256 * 1024;
/// Bytes written to one member per turn before others get theirs.
const WRITE_SHARE: usize = 1024 * 1024;
/// Read buffer size.
const READ_CHUNK: usize = 64 * 1024;
/// Buffers written per vectored write.
const IOV_MAX: usize = 64;
/// A member over the high-water mark this long is stuck: it no longer
/// holds the room back, and may be dropped.
const STALL: Duration = Duration::from_secs(1);
/// How often members are looked over (trimming the log, finding stuck
/// members) while anything is held.
const SCAN_EVERY: Duration = Duration::from_millis(5);
/// Private notices held for one member at most; more are not queued (a
/// member that keeps sending over-long lines and never reads).
const PRIVATE_MAX: usize = 1024;
/// Bytes of WebSocket messages put together before one write: what a
/// browser member may hold outside the log when its socket is full.
const WEB_BATCH: usize = 16 * 1024;
/// Log entries whose page form (JSON) is kept, so a line is decoded once
/// for all the browsers, not once each.
const PAGE_CACHE: usize = 512;

/// Limits of the room.
#[derive(Debug, Clone)]
pub struct Config {
    /// Clients at most; the next one is told `! room full` and closed.
    pub max_clients: usize,
    /// Longest line relayed, in bytes (line ending excluded).
    pub max_line: usize,
    /// Lines per second per client (`None`: no limit); past it the client
    /// is read more slowly, never dropped.
    pub max_rate: Option<u32>,
    /// Bytes held for one client (see [`Outbox::cost`]) past which it is
    /// dropped as too slow, once stuck.
    pub max_queue: usize,
    /// Bytes the room's log may hold in all, for every member together.
    pub max_memory: usize,
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
            max_memory: 256 * 1024 * 1024,
            verbose: true,
        }
    }
}

impl Config {
    /// The largest entry one line can add to the log: `<name> line\n`
    /// (the longest name is an IPv6 `[addr%scope]:port`).
    pub fn entry_max(&self) -> usize {
        self.max_line + 64 + ENTRY_OVERHEAD
    }

    /// Checks that the limits fit together.
    ///
    /// # Errors
    /// A message naming the options when `--max-memory` cannot hold two
    /// of the longest lines.
    pub fn check(&self) -> Result<(), String> {
        if self.max_memory < 2 * self.entry_max() {
            return Err(format!(
                "--max-memory {} is too small for --max-line {}: it must be at least {} bytes",
                self.max_memory,
                self.max_line,
                2 * self.entry_max()
            ));
        }
        Ok(())
    }

    /// The high-water mark of one member: a quarter of the smaller of
    /// `max_queue` and `max_memory`.
    fn high(&self) -> u64 {
        (self.max_queue.min(self.max_memory) / 4) as u64
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
    crate::sys::prepare_listener(&socket).map_err(err)?;
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

/// Counts kept by the server.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Clients accepted in all.
    pub joined: u64,
    /// Lines relayed (each counted once, however many receive it).
    pub lines: u64,
    /// Clients dropped as too slow (for their queue or for memory).
    pub too_slow: u64,
    /// Of those, dropped because the room's log was full.
    pub dropped_for_memory: u64,
    /// Lines dropped as too long.
    pub too_long: u64,
    /// Times a client was throttled by `--max-rate` (its reading paused).
    pub throttled: u64,
    /// Clients turned away because the room was full.
    pub turned_away: u64,
    /// The most the log held at once, in bytes ([`Log::bytes`]).
    pub peak_log_bytes: usize,
}

/// Where a member stands with writing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Writing {
    /// Nothing to send; in the idle list, woken by the next entry.
    Idle,
    /// Something to send; in `to_write` or `more_to_write`.
    Queued,
    /// The socket is full; waits for mio's writable event.
    Blocked,
}

/// A member's connection: a plain TCP stream (nc, room-client, lanchat)
/// or a WebSocket (a browser on the web page).
enum Conn {
    Tcp(TcpStream),
    Web(Box<WebSocket<TcpStream>>),
}

impl Conn {
    fn stream(&mut self) -> &mut TcpStream {
        match self {
            Conn::Tcp(s) => s,
            Conn::Web(ws) => ws.get_mut(),
        }
    }
}

/// A connection to the web port that has not become a member (yet).
struct HttpConn {
    stream: TcpStream,
    request: Vec<u8>,
    /// The response, once decided, and how much of it is written.
    response: Option<(Reply, usize)>,
    /// Bytes after the request (a WebSocket frame sent early).
    rest: Vec<u8>,
    deadline: Instant,
}

/// The web page's side of the room.
struct WebSide {
    listener: TcpListener,
    config: WebConfig,
    http: Slab<HttpConn>,
}

struct Member {
    conn: Conn,
    name: String,
    framer: Framer,
    outbox: Outbox,
    /// Bytes read but not yet framed: the rest of a read when the member
    /// was throttled, or the room paused, in the middle of it.
    inbox: Vec<u8>,
    bucket: Option<Bucket>,
    told_slow_down: bool,
    /// Throttled: not read until then.
    wake: Option<Instant>,
    /// Since when its cost has been over the high-water mark.
    over_since: Option<Instant>,
    /// Marked for removal; gets nothing more, is read no more.
    leaving: bool,
    /// Writing to it failed (the peer reset the connection): it gets
    /// nothing more, but what it sent before is still read and relayed
    /// (TCP keeps what had arrived readable after a reset) until the
    /// socket reports the end.
    unwritable: bool,
    /// In the read round (`more_to_read`).
    want_read: bool,
    writing: Writing,
    /// In the idle list.
    in_idle: bool,
}

impl Member {
    /// Whether it is still sent anything (and so holds a place in the log).
    fn receives(&self) -> bool {
        !self.leaving && !self.unwritable
    }

    fn stuck(&self, now: Instant) -> bool {
        self.over_since
            .is_some_and(|since| now.duration_since(since) >= STALL)
    }
}

/// Why a member left.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Leave {
    /// It closed the connection.
    Closed,
    /// The connection failed (reset, broken pipe…): what the OS said.
    Failed(String),
    /// Dropped: too far behind.
    TooSlow,
}

/// How far [`Server::take_lines`] got.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Took {
    /// Every byte.
    All,
    /// Stopped: out of allowance; woken by the throttle timer.
    Throttled,
    /// Stopped: the room is paused (backpressure or memory); back in the
    /// read round.
    Paused,
}

/// The room: a listener, its members, the log, and the poll that drives
/// them.
pub struct Server {
    poll: Poll,
    listener: TcpListener,
    waker: Arc<Waker>,
    members: Slab<Member>,
    log: Log,
    next_id: MemberId,
    config: Config,
    stats: Stats,
    /// Members with unread data left after their share.
    more_to_read: VecDeque<usize>,
    /// Members to write to in this turn.
    to_write: Vec<usize>,
    /// Members that used their write share; written next turn.
    more_to_write: Vec<usize>,
    /// Members with nothing to send (key and id, as keys are reused).
    idle: Vec<(usize, MemberId)>,
    /// Members waiting for their allowance to refill.
    throttled: Vec<usize>,
    /// Members to remove, with why.
    to_remove: Vec<(usize, Leave)>,
    /// A member that is not stuck is over the high-water mark: read nobody.
    behind: bool,
    /// The log is full and nobody can be dropped yet: read nobody.
    memory_full: bool,
    /// Look members over when the log's end passes this offset.
    scan_at_offset: u64,
    last_scan: Instant,
    accept_paused: bool,
    read_buf: Vec<u8>,
    /// `--web`: the page's listener and its connections.
    web: Option<WebSide>,
    /// The page form of recent log entries, by sequence number.
    page_cache: VecDeque<(u64, Utf8Bytes)>,
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
            members: Slab::new(),
            log: Log::new(),
            next_id: 1,
            config,
            stats: Stats::default(),
            more_to_read: VecDeque::new(),
            to_write: Vec::new(),
            more_to_write: Vec::new(),
            idle: Vec::new(),
            throttled: Vec::new(),
            to_remove: Vec::new(),
            behind: false,
            memory_full: false,
            scan_at_offset: 0,
            last_scan: Instant::now(),
            accept_paused: false,
            read_buf: vec![0; READ_CHUNK],
            web: None,
            page_cache: VecDeque::new(),
        })
    }

    /// Also serves the room's web page on `listener` (bound, listening):
    /// browsers that open its WebSocket are members like any other.
    ///
    /// # Errors
    /// [`ServerError::Poll`] when the listener cannot be registered.
    pub fn with_web(
        mut self,
        listener: std::net::TcpListener,
        config: WebConfig,
    ) -> Result<Server, ServerError> {
        listener.set_nonblocking(true).map_err(ServerError::Poll)?;
        let mut listener = TcpListener::from_std(listener);
        self.poll
            .registry()
            .register(&mut listener, WEB_LISTENER, Interest::READABLE)
            .map_err(ServerError::Poll)?;
        self.web = Some(WebSide {
            listener,
            config,
            http: Slab::new(),
        });
        Ok(self)
    }

    /// Where the web page is served, with `--web`.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web.as_ref().and_then(|w| w.listener.local_addr().ok())
    }

    /// Where the server listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Wakes the loop (call after setting the stop flag).
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Whether reading is paused for the whole room.
    fn paused(&self) -> bool {
        self.behind || self.memory_full
    }

    /// Runs until the stop flag is set; returns the counts.
    ///
    /// # Errors
    /// [`ServerError::Poll`] when polling itself fails.
    pub fn run(mut self, stop: &Stop) -> Result<Stats, ServerError> {
        let mut events = Events::with_capacity(1024);
        while !stop.is_set() {
            let timeout = self.timeout(Instant::now());
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ServerError::Poll(e)),
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    WEB_LISTENER => self.accept_web(),
                    Token(t) if t >= HTTP_BASE => self.http_ready(t - HTTP_BASE),
                    Token(key) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.want_read(key);
                        }
                        if event.is_writable() || event.is_error() {
                            self.writable(key);
                        }
                    }
                }
            }
            if self.accept_paused {
                self.accept();
            }
            let now = Instant::now();
            self.expire_http(now);
            self.wake_throttled(now);
            if now.duration_since(self.last_scan) >= SCAN_EVERY {
                self.scan(now);
            }
            self.read_round();
            self.to_write.append(&mut self.more_to_write);
            self.settle();
        }
        if self.config.verbose {
            let s = &self.stats;
            eprintln!(
                "room-server: stopping; {} clients connected, {} joined in all, {} lines relayed, \
                 {} dropped as too slow ({} for memory), {} throttled, log peak {} KiB",
                self.members.len(),
                s.joined,
                s.lines,
                s.too_slow,
                s.dropped_for_memory,
                s.throttled,
                s.peak_log_bytes / 1024
            );
        }
        Ok(self.stats)
    }

    /// How long the next poll may wait.
    fn timeout(&self, now: Instant) -> Option<Duration> {
        let work_left =
            !self.more_to_write.is_empty() || (!self.paused() && !self.more_to_read.is_empty());
        if work_left {
            return Some(Duration::ZERO);
        }
        let mut wait: Option<Duration> = None;
        let mut sooner = |d: Duration| wait = Some(wait.map_or(d, |w| w.min(d)));
        // Something is held or someone is behind: look again soon.
        if !self.log.is_empty() || self.paused() {
            sooner(SCAN_EVERY.saturating_sub(now.duration_since(self.last_scan)));
        }
        for &key in &self.throttled {
            if let Some(wake) = self.members.get(key).and_then(|m| m.wake) {
                sooner(wake.saturating_duration_since(now));
            }
        }
        if self.accept_paused {
            sooner(Duration::from_millis(100));
        }
        if let Some(w) = &self.web {
            if let Some(first) = w.http.iter().map(|(_, h)| h.deadline).min() {
                sooner(first.saturating_duration_since(now));
            }
        }
        wait
    }

    /// Round robin: each member with data waiting reads its share in turn;
    /// one that has more goes to the back. A pause stops the round early,
    /// and the next round resumes where it stopped.
    fn read_round(&mut self) {
        for _ in 0..self.more_to_read.len() {
            if self.paused() {
                break;
            }
            let Some(key) = self.more_to_read.pop_front() else {
                break;
            };
            if let Some(m) = self.members.get_mut(key) {
                m.want_read = false;
                self.read_member(key);
            }
        }
    }

    /// Puts a member at the back of the read round, once (not while it is
    /// throttled: the throttle timer does that).
    fn want_read(&mut self, key: usize) {
        if let Some(m) = self.members.get_mut(key) {
            if !m.want_read && m.wake.is_none() && !m.leaving {
                m.want_read = true;
                self.more_to_read.push_back(key);
            }
        }
    }

    /// mio says the socket has room again.
    fn writable(&mut self, key: usize) {
        if let Some(m) = self.members.get_mut(key) {
            if m.writing == Writing::Blocked {
                m.writing = Writing::Queued;
                self.to_write.push(key);
            }
        }
    }

    /// Members whose allowance has refilled go back to the read round.
    fn wake_throttled(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.throttled.len() {
            let key = self.throttled[i];
            match self.members.get_mut(key) {
                Some(m) if m.wake.is_some_and(|w| w > now) => i += 1,
                Some(m) => {
                    m.wake = None;
                    self.throttled.swap_remove(i);
                    self.want_read(key);
                }
                None => {
                    self.throttled.swap_remove(i);
                }
            }
        }
    }

    /// Looks every member over: updates who is behind and who is stuck,
    /// drops stuck members past `max_queue`, trims the log behind the
    /// slowest, and decides whether reading pauses.
    fn scan(&mut self, now: Instant) {
        let high = self.config.high();
        let max_queue = self.config.max_queue as u64;
        let mut min_pos = self.log.end();
        let (mut min_free, mut min_stuck) = (u64::MAX, u64::MAX);
        let mut behind = false;
        for (key, m) in self.members.iter_mut() {
            if !m.receives() {
                continue;
            }
            let cost = m.outbox.cost(&self.log);
            if cost > high {
                m.over_since.get_or_insert(now);
            } else {
                m.over_since = None;
            }
            let stuck = m.stuck(now);
            if stuck && cost > max_queue {
                m.leaving = true;
                self.to_remove.push((key, Leave::TooSlow));
                continue;
            }
            behind |= cost > high && !stuck;
            let pos = m.outbox.pos();
            min_pos = min_pos.min(pos);
            let offset = self.log.offset(pos);
            if stuck {
                min_stuck = min_stuck.min(offset);
            } else {
                min_free = min_free.min(offset);
            }
        }
        self.log.trim(min_pos);
        self.behind = behind;
        // The next time someone may cross a line, if nothing else changes:
        // a member not stuck reaching the high-water mark, a stuck one
        // reaching max_queue (costs grow no faster than the log's end).
        self.scan_at_offset = min_free
            .saturating_add(high)
            .min(min_stuck.saturating_add(max_queue));
        self.last_scan = now;
        if self.memory_full && self.log_has_room() {
            self.memory_full = false;
        }
    }

    /// Whether the log can take the longest line without passing
    /// `max_memory`.
    fn log_has_room(&self) -> bool {
        self.log.bytes() + self.config.entry_max() <= self.config.max_memory
    }

    /// Makes room in the log for one more line: trims it, then drops stuck
    /// members, the furthest behind first, until it fits. Returns whether
    /// it fits; when not, nobody can be dropped yet.
    fn make_room(&mut self, now: Instant) -> bool {
        self.scan(now);
        while !self.log_has_room() {
            let victim = self
                .members
                .iter()
                .filter(|(_, m)| m.receives() && m.stuck(now))
                .min_by_key(|(_, m)| m.outbox.pos())
                .map(|(key, _)| key);
            let Some(key) = victim else {
                return false;
            };
            self.members[key].leaving = true;
            self.to_remove.push((key, Leave::TooSlow));
            self.stats.dropped_for_memory += 1;
            let min_pos = self
                .members
                .iter()
                .filter(|(_, m)| m.receives())
                .map(|(_, m)| m.outbox.pos())
                .min()
                .unwrap_or(self.log.end());
            self.log.trim(min_pos);
        }
        true
    }

    /// Writes queued output and removes departed members until nothing
    /// changes (a departure is announced, which may queue more output).
    fn settle(&mut self) {
        loop {
            let writes = std::mem::take(&mut self.to_write);
            for key in writes {
                self.write_member(key);
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
                    if self.members.len() >= self.config.max_clients {
                        let _ = stream.write(b"! room full\n");
                        self.turned_away(&name);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    self.join(Conn::Tcp(stream), name);
                }
                Err(e) => {
                    if self.accept_failed(e) {
                        return;
                    }
                }
            }
        }
    }

    fn accept_web(&mut self) {
        loop {
            let Some(side) = &mut self.web else {
                return;
            };
            match side.listener.accept() {
                Ok((mut stream, _)) => {
                    if side.http.len() >= MAX_HTTP {
                        continue; // closed: too many requests under way
                    }
                    let _ = stream.set_nodelay(true);
                    let entry = side.http.vacant_entry();
                    let token = Token(HTTP_BASE + entry.key());
                    if self
                        .poll
                        .registry()
                        .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                        .is_err()
                    {
                        continue;
                    }
                    entry.insert(HttpConn {
                        stream,
                        request: Vec::new(),
                        response: None,
                        rest: Vec::new(),
                        deadline: Instant::now() + HTTP_DEADLINE,
                    });
                }
                Err(e) => {
                    if self.accept_failed(e) {
                        return;
                    }
                }
            }
        }
    }

    /// An HTTP connection can be read or written: read the request,
    /// decide, write the response; then close, or make it a member.
    fn http_ready(&mut self, k: usize) {
        let Some(side) = &mut self.web else {
            return;
        };
        let Some(h) = side.http.get_mut(k) else {
            return;
        };
        let mut buf = [0u8; 4096];
        while h.response.is_none() {
            match h.stream.read(&mut buf) {
                Ok(0) => return self.close_http(k),
                Ok(n) => {
                    h.request.extend_from_slice(&buf[..n]);
                    let Ok(local) = h.stream.local_addr() else {
                        return self.close_http(k);
                    };
                    if let Parsed::Done(reply, used) =
                        web::handle(&h.request, local, &side.config.origins)
                    {
                        h.rest = h.request.split_off(used.min(h.request.len()));
                        h.response = Some((reply, 0));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close_http(k),
            }
        }
        let Some((reply, written)) = &mut h.response else {
            return;
        };
        let bytes = match reply {
            Reply::Close(b) | Reply::Upgrade(b) => b,
        };
        while *written < bytes.len() {
            match h.stream.write(&bytes[*written..]) {
                Ok(0) => return self.close_http(k),
                Ok(n) => *written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close_http(k),
            }
        }
        if matches!(reply, Reply::Upgrade(_)) {
            self.upgrade(k);
        } else {
            self.close_http(k);
        }
    }

    fn close_http(&mut self, k: usize) {
        if let Some(side) = &mut self.web {
            if let Some(mut h) = side.http.try_remove(k) {
                let _ = self.poll.registry().deregister(&mut h.stream);
                let _ = h.stream.shutdown(std::net::Shutdown::Write);
            }
        }
    }

    /// HTTP connections that took too long to send a request are closed.
    fn expire_http(&mut self, now: Instant) {
        let Some(side) = &self.web else {
            return;
        };
        let late: Vec<usize> = side
            .http
            .iter()
            .filter(|(_, h)| {
                h.deadline <= now && !matches!(h.response, Some((Reply::Upgrade(_), _)))
            })
            .map(|(k, _)| k)
            .collect();
        for k in late {
            self.close_http(k);
        }
    }

    /// The 101 response is out: the connection is a WebSocket member now.
    fn upgrade(&mut self, k: usize) {
        let Some(side) = &mut self.web else {
            return;
        };
        let Some(mut h) = side.http.try_remove(k) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut h.stream);
        let name = match h.stream.peer_addr() {
            Ok(a) => canonical(a).to_string(),
            Err(_) => return,
        };
        // Frames are at most one room line; tungstenite's read buffer is
        // small, as thousands of browsers may be members.
        let limit = self.config.max_line;
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(WEB_BATCH)
            .max_write_buffer_size(8 * limit + 4 * WEB_BATCH)
            .max_message_size(Some(limit))
            .max_frame_size(Some(limit));
        let mut ws = WebSocket::from_partially_read(
            h.stream,
            std::mem::take(&mut h.rest),
            Role::Server,
            Some(ws_config),
        );
        if self.members.len() >= self.config.max_clients {
            let _ = ws.write(Message::text(web::notice("! room full")));
            let _ = ws.close(Some(CloseFrame {
                code: CloseCode::Again,
                reason: "room full".into(),
            }));
            let _ = ws.flush();
            self.turned_away(&name);
            return;
        }
        self.join(Conn::Web(Box::new(ws)), name);
    }

    fn turned_away(&mut self, name: &str) {
        self.stats.turned_away += 1;
        if self.config.verbose {
            eprintln!(
                "[{name}] turned away: room full ({} clients)",
                self.members.len()
            );
        }
    }

    /// Handles an accept error; returns whether to stop accepting for now.
    fn accept_failed(&mut self, e: io::Error) -> bool {
        match e.kind() {
            io::ErrorKind::WouldBlock => true,
            io::ErrorKind::Interrupted => false,
            _ if crate::sys::is_out_of_files(&e) => {
                // Out of descriptors: leave the connection in the backlog
                // and try again shortly.
                if !self.accept_paused && self.config.verbose {
                    eprintln!(
                        "room-server: cannot accept: {} ({} clients)",
                        net::describe(&e),
                        self.members.len()
                    );
                }
                self.accept_paused = true;
                true
            }
            // ECONNABORTED and the like concern one connection only.
            _ => false,
        }
    }

    /// Makes a connection a member: announced to the others, its place in
    /// the log starting after its own notice.
    fn join(&mut self, mut conn: Conn, name: String) {
        let key = self.members.vacant_key();
        if let Err(e) = self.poll.registry().register(
            conn.stream(),
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            eprintln!("[{name}] cannot register: {}", net::describe(&e));
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.notice(format!("[{name}] entered room\n"), id);
        let now = Instant::now();
        let web = matches!(conn, Conn::Web(_));
        let inserted = self.members.insert(Member {
            conn,
            name,
            framer: Framer::new(self.config.max_line),
            outbox: Outbox::new(id, &self.log),
            inbox: Vec::new(),
            bucket: self.config.max_rate.map(|r| Bucket::full(r, now)),
            told_slow_down: false,
            wake: None,
            over_since: None,
            leaving: false,
            unwritable: false,
            want_read: false,
            writing: Writing::Idle,
            in_idle: true,
        });
        debug_assert_eq!(inserted, key);
        self.idle.push((key, id));
        self.stats.joined += 1;
        if self.config.verbose {
            let m = &self.members[key];
            let via = if web { " from the web page" } else { "" };
            crate::status::line(&format!(
                "[{}] entered room{via} ({} in room)",
                m.name,
                self.members.len()
            ));
        }
        if web {
            let you = web::you(&self.members[key].name, self.config.max_line);
            self.tell_page(key, you);
        }
        // A client may have sent data before registering.
        self.want_read(key);
    }

    /// Appends an entry to the log (`from`: the sending member's id, 0 for
    /// nobody; `sender`: its key, when it is a member) and wakes the idle
    /// members.
    fn append(&mut self, sender: Option<usize>, data: Box<[u8]>, from: MemberId) {
        let seq = self.log.push(data, from);
        self.stats.peak_log_bytes = self.stats.peak_log_bytes.max(self.log.bytes());
        if let Some(m) = sender.and_then(|k| self.members.get_mut(k)) {
            m.outbox.appended_own(&self.log, seq);
        }
        for (key, id) in std::mem::take(&mut self.idle) {
            let Some(m) = self.members.get_mut(key) else {
                continue;
            };
            if m.outbox.id() != id {
                continue; // the key was reused; the new member has its own entry
            }
            m.in_idle = false;
            if !m.receives() || m.writing != Writing::Idle {
                continue;
            }
            if m.outbox.is_empty(&self.log) {
                m.in_idle = true;
                self.idle.push((key, id));
            } else {
                m.writing = Writing::Queued;
                self.to_write.push(key);
            }
        }
        if self.log.end_offset() > self.scan_at_offset {
            self.scan(Instant::now());
        }
    }

    /// Appends a join or leave notice (`from`: the member it is about, who
    /// does not get it). Notices are never held back, but a full log first
    /// drops the stuck members it can.
    fn notice(&mut self, text: String, from: MemberId) {
        if !self.log_has_room() {
            self.make_room(Instant::now());
        }
        self.append(None, text.into_bytes().into(), from);
    }

    /// Queues a notice for one member alone.
    /// A notice of the server's own (`! slow down …`): as bytes to a TCP
    /// member, as a page message to a browser.
    fn tell(&mut self, key: usize, msg: &[u8]) {
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        let msg: Box<[u8]> = match m.conn {
            Conn::Tcp(_) => msg.into(),
            Conn::Web(_) => web::notice(&String::from_utf8_lossy(msg))
                .into_bytes()
                .into(),
        };
        self.tell_raw(key, msg);
    }

    /// A page message (JSON) for a browser member alone.
    fn tell_page(&mut self, key: usize, json: String) {
        self.tell_raw(key, json.into_bytes().into());
    }

    fn tell_raw(&mut self, key: usize, msg: Box<[u8]>) {
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        if !m.receives() || m.outbox.private_bytes() + msg.len() > PRIVATE_MAX {
            return;
        }
        m.outbox.tell(msg);
        if m.writing == Writing::Idle {
            m.writing = Writing::Queued;
            self.to_write.push(key);
        }
    }

    fn read_member(&mut self, key: usize) {
        // Lines held back earlier go first.
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        if m.leaving || m.wake.is_some() {
            return;
        }
        if !m.inbox.is_empty() {
            let inbox = std::mem::take(&mut m.inbox);
            let (used, took) = self.take_lines(key, &inbox);
            if took != Took::All {
                if let Some(m) = self.members.get_mut(key) {
                    m.inbox = inbox[used..].to_vec();
                }
                if took == Took::Paused {
                    self.want_read(key);
                }
                return;
            }
        }
        let web = matches!(self.members[key].conn, Conn::Web(_));
        if web {
            self.read_web(key);
        } else {
            self.read_tcp(key);
        }
    }

    /// After take_lines stopped early: keeps the rest of `data` for later
    /// and puts the member where it will be read again. Returns whether
    /// reading goes on now.
    fn took(&mut self, key: usize, data: &[u8], used: usize, took: Took) -> bool {
        if took != Took::All {
            if let Some(m) = self.members.get_mut(key) {
                m.inbox.extend_from_slice(&data[used..]);
            }
        }
        match took {
            Took::All => true,
            Took::Throttled => false,
            Took::Paused => {
                self.want_read(key);
                false
            }
        }
    }

    /// Whether member `key` reads on now, with `budget` bytes of its share
    /// left; when its share is used or the room is paused, it goes back to
    /// the read round.
    fn reads_on(&mut self, key: usize, budget: usize) -> bool {
        if self.members.get(key).is_none_or(|m| m.leaving) {
            return false;
        }
        if budget == 0 || self.paused() {
            self.want_read(key);
            return false;
        }
        true
    }

    fn read_tcp(&mut self, key: usize) {
        let mut budget = READ_SHARE;
        while self.reads_on(key, budget) {
            let m = &mut self.members[key];
            match m.conn.stream().read(&mut self.read_buf) {
                Ok(0) => {
                    // Orderly close: a last line without newline still counts.
                    if let Some(last) = m.framer.finish() {
                        self.relay(key, &last);
                    }
                    self.to_remove.push((key, Leave::Closed));
                    return;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    let data = std::mem::take(&mut self.read_buf);
                    let (used, took) = self.take_lines(key, &data[..n]);
                    let go_on = self.took(key, &data[..n], used, took);
                    self.read_buf = data;
                    if !go_on {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Reset mid-line: the partial line is dropped.
                    self.to_remove.push((key, Leave::Failed(net::describe(&e))));
                    return;
                }
            }
        }
    }

    /// Reads a browser's messages: each text message is encoded with
    /// `--web-encoding` and goes through the same framer, allowance and
    /// memory rules as a TCP member's bytes; the page is told whether it
    /// was taken.
    fn read_web(&mut self, key: usize) {
        let Some(side) = &self.web else {
            return;
        };
        let encode = side.config.encode;
        let max_line = self.config.max_line;
        let mut budget = READ_SHARE;
        while self.reads_on(key, budget) {
            let Conn::Web(ws) = &mut self.members[key].conn else {
                return;
            };
            match ws.read() {
                Ok(Message::Text(text)) => {
                    budget = budget.saturating_sub(text.len());
                    match web::lines(&text, encode, max_line) {
                        Err(why) => self.tell_page(key, web::refused(&why)),
                        Ok(bytes) => {
                            self.tell_page(key, web::sent());
                            let (used, took) = self.take_lines(key, &bytes);
                            if !self.took(key, &bytes, used, took) {
                                return;
                            }
                        }
                    }
                }
                Ok(Message::Binary(_)) => {
                    return self.close_web(
                        key,
                        CloseCode::Unsupported,
                        "binary frames are not accepted".into(),
                    );
                }
                // Ping, pong, close: tungstenite answers them on the next
                // flush.
                Ok(_) => self.flush_soon(key),
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(tungstenite::Error::ConnectionClosed)
                | Err(tungstenite::Error::AlreadyClosed) => {
                    self.to_remove.push((key, Leave::Closed));
                    return;
                }
                Err(tungstenite::Error::Capacity(_)) => {
                    let why = format!("message over {max_line} bytes (the room's --max-line)");
                    return self.close_web(key, CloseCode::Size, why);
                }
                Err(tungstenite::Error::Utf8(_)) => {
                    return self.close_web(
                        key,
                        CloseCode::Invalid,
                        "text that is not UTF-8".into(),
                    );
                }
                Err(tungstenite::Error::Protocol(
                    tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                )) => {
                    self.to_remove.push((key, Leave::Closed));
                    return;
                }
                Err(tungstenite::Error::Protocol(p)) => {
                    return self.close_web(key, CloseCode::Protocol, p.to_string());
                }
                Err(e) => {
                    self.to_remove.push((key, Leave::Failed(e.to_string())));
                    return;
                }
            }
        }
    }

    /// Closes a browser's connection with a WebSocket close frame that says
    /// why; it leaves the room.
    fn close_web(&mut self, key: usize, code: CloseCode, reason: String) {
        if let Some(m) = self.members.get_mut(key) {
            m.leaving = true;
            if let Conn::Web(ws) = &mut m.conn {
                let _ = ws.close(Some(CloseFrame {
                    code,
                    reason: reason.clone().into(),
                }));
                let _ = ws.flush();
                // Read what is left of its input, so closing does not reset
                // the connection before the close frame is read.
                let mut sink = [0u8; 16 * 1024];
                for _ in 0..64 {
                    match ws.get_mut().read(&mut sink) {
                        Ok(n) if n > 0 => {}
                        _ => break,
                    }
                }
                let _ = ws.get_mut().shutdown(std::net::Shutdown::Write);
            }
        }
        self.to_remove.push((key, Leave::Failed(reason)));
    }

    /// Frames and relays the lines in `data` while the member has
    /// allowance and the room is not paused. Returns how many bytes it
    /// took and why it stopped.
    fn take_lines(&mut self, key: usize, data: &[u8]) -> (usize, Took) {
        let now = Instant::now();
        let rate = self.config.max_rate;
        let mut used = 0;
        while used < data.len() {
            if self.paused() {
                return (used, Took::Paused);
            }
            if !self.log_has_room() && !self.make_room(now) {
                self.memory_full = true;
                return (used, Took::Paused);
            }
            let Some(m) = self.members.get_mut(key) else {
                return (data.len(), Took::All);
            };
            if m.leaving {
                return (data.len(), Took::All);
            }
            if let (Some(bucket), Some(rate)) = (&mut m.bucket, rate) {
                if !bucket.ready(rate, now) {
                    m.wake = Some(now + bucket.wait(rate));
                    self.throttled.push(key);
                    self.stats.throttled += 1;
                    if !m.told_slow_down {
                        m.told_slow_down = true;
                        let msg = format!("! slow down (max {rate} lines/s)\n");
                        self.tell(key, msg.as_bytes());
                    }
                    return (used, Took::Throttled);
                }
            }
            let (n, frame) = m.framer.next(&data[used..]);
            used += n;
            let entry = match frame {
                None => continue,
                Some(Frame::TooLong) => None,
                Some(Frame::Line(line)) => {
                    if let (Some(bucket), Some(rate)) = (&mut m.bucket, rate) {
                        bucket.take(rate, now);
                    }
                    Some(relayed(&m.name, line))
                }
            };
            match entry {
                Some(entry) => {
                    self.stats.lines += 1;
                    let id = self.members[key].outbox.id();
                    self.append(Some(key), entry, id);
                }
                None => {
                    self.stats.too_long += 1;
                    let msg = format!(
                        "! line too long (max {} bytes), dropped\n",
                        self.config.max_line
                    );
                    self.tell(key, msg.as_bytes());
                }
            }
        }
        (used, Took::All)
    }

    /// Relays one line of a member, whatever its allowance (the last line
    /// of a closing connection).
    fn relay(&mut self, key: usize, line: &[u8]) {
        let Some(m) = self.members.get(key) else {
            return;
        };
        let entry = relayed(&m.name, line);
        let id = m.outbox.id();
        self.stats.lines += 1;
        self.append(Some(key), entry, id);
    }

    fn write_member(&mut self, key: usize) {
        match self.members.get(key) {
            Some(m) if m.receives() => {
                if matches!(m.conn, Conn::Web(_)) {
                    self.write_web(key);
                } else {
                    self.write_tcp(key);
                }
            }
            _ => {}
        }
    }

    /// Nothing left to send: the member waits in the idle list.
    fn now_idle(&mut self, key: usize) {
        let m = &mut self.members[key];
        m.writing = Writing::Idle;
        m.over_since = None;
        if !m.in_idle {
            m.in_idle = true;
            self.idle.push((key, m.outbox.id()));
        }
    }

    fn write_tcp(&mut self, key: usize) {
        let mut budget = WRITE_SHARE;
        loop {
            let m = &mut self.members[key];
            let mut slices = [IoSlice::new(&[]); IOV_MAX];
            let n = m.outbox.slices(&self.log, &mut slices);
            if n == 0 {
                return self.now_idle(key);
            }
            let Conn::Tcp(stream) = &mut m.conn else {
                return;
            };
            match stream.write_vectored(&slices[..n]) {
                Ok(0) => return self.cannot_write(key),
                Ok(written) => {
                    m.outbox.advance(&self.log, written);
                    budget = budget.saturating_sub(written);
                    if budget == 0 {
                        m.writing = Writing::Queued;
                        self.more_to_write.push(key);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    m.writing = Writing::Blocked;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.cannot_write(key),
            }
        }
    }

    /// One WebSocket text message per log entry or private message, up to
    /// [`WEB_BATCH`] bytes at a time, then one write. More is taken from
    /// the log only once tungstenite has written the last batch out, so
    /// what a slow browser holds stays in the log (and counts in its
    /// cost), not in a buffer of its own.
    fn write_web(&mut self, key: usize) {
        let Some(decode) = self.web.as_ref().map(|w| w.config.decode) else {
            return;
        };
        let mut budget = WRITE_SHARE;
        loop {
            let m = &mut self.members[key];
            let Conn::Web(ws) = &mut m.conn else {
                return;
            };
            match ws.flush() {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    m.writing = Writing::Blocked;
                    return;
                }
                Err(_) => return self.cannot_write(key),
            }
            if budget == 0 {
                m.writing = Writing::Queued;
                self.more_to_write.push(key);
                return;
            }
            let mut batch = 0;
            while batch < WEB_BATCH {
                let Some((seq, item)) = m.outbox.next_item(&self.log) else {
                    break;
                };
                let len = item.len();
                let text = match seq {
                    None => Utf8Bytes::from(String::from_utf8_lossy(item).into_owned()),
                    Some(seq) => page_form(&mut self.page_cache, seq, item, decode),
                };
                batch += text.len();
                match ws.write(Message::Text(text)) {
                    Ok(()) => {}
                    // Buffered by tungstenite; flushed above next time round.
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // Not taken: it stays in the log for the next turn.
                    Err(tungstenite::Error::WriteBufferFull(_)) => {
                        m.writing = Writing::Blocked;
                        return;
                    }
                    Err(_) => return self.cannot_write(key),
                }
                m.outbox.advance(&self.log, len);
                budget = budget.saturating_sub(len);
            }
            if batch == 0 {
                return self.now_idle(key);
            }
        }
    }

    /// Makes the member's writer run this turn (to flush a WebSocket's
    /// automatic answers: pong, close).
    fn flush_soon(&mut self, key: usize) {
        if let Some(m) = self.members.get_mut(key) {
            if m.writing != Writing::Queued {
                m.writing = Writing::Queued;
                self.to_write.push(key);
            }
        }
    }

    /// Writing failed: the member gets nothing more, but what it sent is
    /// still read (in its turn, within its allowance) until the socket
    /// reports the end; then it leaves.
    fn cannot_write(&mut self, key: usize) {
        if let Some(m) = self.members.get_mut(key) {
            m.unwritable = true;
        }
        self.want_read(key);
    }

    fn remove(&mut self, key: usize, why: Leave) {
        let Some(mut m) = self.members.try_remove(key) else {
            return;
        };
        let _ = self.poll.registry().deregister(m.conn.stream());
        if why == Leave::TooSlow {
            self.stats.too_slow += 1;
        }
        let note = if why == Leave::TooSlow {
            " (too slow)"
        } else {
            ""
        };
        if self.config.verbose {
            let reason = match &why {
                Leave::Failed(r) => format!(": {r}"),
                _ => String::new(),
            };
            crate::status::line(&format!(
                "[{}] left room{note}{reason} ({} in room)",
                m.name,
                self.members.len()
            ));
        }
        let notice = format!("[{}] left room{note}\n", m.name);
        drop(m);
        self.notice(notice, 0);
    }
}

/// The page form (JSON) of log entry `seq`, from the cache or made and
/// kept. Made once for all the page's members: each gets a reference to
/// the same bytes.
fn page_form(
    cache: &mut VecDeque<(u64, Utf8Bytes)>,
    seq: u64,
    item: &[u8],
    decode: crate::encoding::Encoding,
) -> Utf8Bytes {
    if let Some((_, json)) = cache.iter().rev().find(|(s, _)| *s == seq) {
        return json.clone();
    }
    let json = Utf8Bytes::from(web::entry(item, decode));
    if cache.len() == PAGE_CACHE {
        cache.pop_front();
    }
    cache.push_back((seq, json.clone()));
    json
}

/// The log entry of a relayed line: `<name> line\n`.
fn relayed(name: &str, line: &[u8]) -> Box<[u8]> {
    let mut msg = Vec::with_capacity(name.len() + line.len() + 4);
    msg.push(b'<');
    msg.extend_from_slice(name.as_bytes());
    msg.extend_from_slice(b"> ");
    msg.extend_from_slice(line);
    msg.push(b'\n');
    msg.into()
}
