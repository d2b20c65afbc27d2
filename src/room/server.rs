//! The `room-server` event loop: the listeners, accepting, the timers, and
//! what happens to what members send.
//!
//! ```text
//! accept ──▶ Member (reads ──▶ rate allowance ──▶ Framer, capped)
//!        ──▶ "<ip:port> line\n" appended once to the room's Feed
//!        ──▶ every other member's Outbox (a position in the feed) ──▶ vectored writes
//! ```
//!
//! One thread, one mio `Poll` (epoll on Linux, IOCP on Windows: no select()
//! limit), no thread per client. The parts:
//!
//! * `super::member`: a member, its connection and its reads and writes;
//! * `super::feed`: the one copy of everything said, and each member's
//!   place in it;
//! * `super::flow`: who holds the room back, who is stuck, who is
//!   dropped (pure rules);
//! * [`super::web`]: the page's HTTP edge and its messages;
//! * [`super::wire`]: every line and notice the room writes.
//!
//! The rules that keep the room whole:
//!
//! * **Throttle, never drop.** Past `--max-rate` lines a second, a member is
//!   not read until its allowance refills: its lines wait in its socket and
//!   TCP pushes back on the sender. It is told once
//!   `! slow down (max N lines/s)`. Nothing is lost or reordered, and no
//!   other member waits for it.
//! * **One copy of each line**, in the `Feed`; the feed is trimmed behind
//!   the slowest member. Memory follows what the slowest member has not
//!   read, not members × lines.
//! * **Backpressure, stuck members go**: see `super::flow`.
//!
//! Reads take a bounded share per turn (round robin), so one flooding
//! member cannot starve the others; so do writes.
//!
//! With `--web`, a second listener serves the page; a browser whose
//! WebSocket upgrade is accepted becomes a member whose connection is a
//! WebSocket instead of a plain stream. Its text messages are encoded and
//! fed to the same framer, allowance and memory rules; feed entries reach
//! it as one JSON message each. Nothing else about the room differs for it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use thiserror::Error;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

use super::feed::{Feed, MemberId, ENTRY_OVERHEAD};
use super::flow::{Flow, Scan, State};
use super::framer::Frame;
use super::member::{Conn, FromPage, Leave, Member, Writing, Wrote};
use super::names::{self, Command, Directory, History, WHO_MAX};
use super::web::http::{Bounded, HttpConn, Step};
use super::web::{self, PageCache, WebConfig};
use super::wire;
use crate::filter::Bucket;
use crate::net::{self, canonical};
use crate::stop::Stop;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
const WEB_LISTENER: Token = Token(usize::MAX - 3);
/// Tokens of HTTP connections (not yet members) start here.
const HTTP_BASE: usize = 1 << (usize::BITS - 2);
/// Bytes read from one member per turn before others get theirs.
const READ_SHARE: usize = 256 * 1024;
/// Bytes written to one member per turn before others get theirs.
const WRITE_SHARE: usize = 1024 * 1024;
/// Read buffer size.
const READ_CHUNK: usize = 64 * 1024;
/// How often members are looked over (trimming the feed, finding stuck
/// members) while anything is held.
const SCAN_EVERY: Duration = Duration::from_millis(5);
/// Private notices held for one member at most; more are not queued (a
/// member that keeps sending over-long lines and never reads).
const PRIVATE_MAX: usize = 1024;

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
    /// Bytes held for one client (see `super::feed::Outbox::cost`) past
    /// which it is dropped as too slow, once stuck.
    pub max_queue: usize,
    /// Bytes the room's feed may hold in all, for every member together.
    pub max_memory: usize,
    /// Members from one IP address at most, TCP and page together (0: no
    /// limit); the next one is told `! too many connections` and closed.
    pub max_per_host: usize,
    /// The page's connections under way (not yet answered or upgraded) at
    /// most, in all; past it the oldest is closed. (From one address, at
    /// most [`super::web::http::PER_HOST`].)
    pub max_requests: usize,
    /// `--history N`: the last N relayed lines are told to a member who
    /// joins (0: off).
    pub history: usize,
    /// `--history-file`: every relayed line is appended to this chat log,
    /// and the last `history` lines are read back at start.
    pub history_file: Option<std::path::PathBuf>,
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
            max_per_host: 64,
            max_requests: 1024,
            history: 0,
            history_file: None,
            verbose: true,
        }
    }
}

impl Config {
    /// The largest entry one line can add to the feed: `<name> line\n`
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

    /// The flow rules' limits: the high-water mark of one member is a
    /// quarter of the smaller of `max_queue` and `max_memory`.
    fn flow(&self) -> Flow {
        Flow {
            high: (self.max_queue.min(self.max_memory) / 4) as u64,
            max_queue: self.max_queue as u64,
            max_memory: self.max_memory,
            entry_max: self.entry_max(),
        }
    }
}

/// Failures of the server as a whole (a client's own errors never are).
#[derive(Debug, Error)]
pub enum ServerError {
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {}", net::describe(.error))]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        error: io::Error,
    },
    /// The event loop failed.
    #[error("event loop failed: {}", net::describe(.0))]
    Poll(io::Error),
    /// The chat log could not be opened or read.
    #[error("cannot use the history file {}: {}", .path.display(), net::describe(.error))]
    History {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        error: io::Error,
    },
}

/// Binds a listening socket: SO_REUSEADDR on Unix (exclusive use on
/// Windows), dual-stack on `::`, a deep accept backlog.
///
/// # Errors
/// [`ServerError::Bind`] when the address cannot be bound.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, ServerError> {
    let err = |error| ServerError::Bind { addr, error };
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
    /// Of those, dropped because the room's feed was full.
    pub dropped_for_memory: u64,
    /// Lines dropped as too long.
    pub too_long: u64,
    /// Times a client was throttled by `--max-rate` (its reading paused).
    pub throttled: u64,
    /// Clients turned away because the room was full.
    pub turned_away: u64,
    /// Clients turned away because their address had `--max-per-host`.
    pub too_many_from_host: u64,
    /// The most the feed held at once, in bytes (`Feed::bytes`).
    pub peak_feed_bytes: usize,
}

/// A line a member sent, taken off its framer.
enum Taken {
    /// To relay: its feed entry, `<WHO> line\n`.
    Said(Box<[u8]>),
    /// `/nick`, `/who` or `/msg`: the line.
    Command(Vec<u8>),
}

impl Taken {
    fn of(label: &[u8], line: &[u8]) -> Taken {
        if line.first() == Some(&b'/') && names::command(line).is_some() {
            Taken::Command(line.to_vec())
        } else {
            Taken::Said(wire::said(label, line))
        }
    }
}

/// The web page's side of the room.
struct WebSide {
    listener: TcpListener,
    config: WebConfig,
    http: Bounded<HttpConn>,
    pages: PageCache,
}

/// How often stderr says that one address is turned away for
/// `--max-per-host` (once per address per minute, not once per attempt).
const TOO_MANY_SAID_EVERY: Duration = Duration::from_secs(60);

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

/// The room: a listener, its members, the feed, and the poll that drives
/// them.
pub struct Server {
    poll: Poll,
    listener: TcpListener,
    waker: Arc<Waker>,
    members: Slab<Member>,
    feed: Feed,
    next_id: MemberId,
    config: Config,
    flow: Flow,
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
    /// The feed is full and nobody can be dropped yet: read nobody.
    memory_full: bool,
    /// Look members over when the feed's end passes this offset.
    scan_at_offset: u64,
    last_scan: Instant,
    accept_paused: bool,
    read_buf: Vec<u8>,
    /// `--web`: the page's listener and its connections.
    web: Option<WebSide>,
    /// Members per IP address (canonical: IPv4-mapped as IPv4).
    hosts: HashMap<IpAddr, usize>,
    /// When stderr last said an address was turned away for having
    /// `--max-per-host` members.
    too_many_said: HashMap<IpAddr, Instant>,
    /// Members by name and by address (`/nick`, `/msg`).
    directory: Directory<usize>,
    /// Members in the order they joined (`/who`).
    roster: BTreeMap<MemberId, usize>,
    /// `--history`, `--history-file`.
    history: History,
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
        let history = History::open(
            config.history,
            config.history_file.as_deref(),
            config.max_line,
        )
        .map_err(|error| ServerError::History {
            path: config.history_file.clone().unwrap_or_default(),
            error,
        })?;
        Ok(Server {
            poll,
            listener,
            waker,
            members: Slab::new(),
            feed: Feed::new(),
            next_id: 1,
            flow: config.flow(),
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
            hosts: HashMap::new(),
            too_many_said: HashMap::new(),
            directory: Directory::default(),
            roster: BTreeMap::new(),
            history,
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
            pages: PageCache::new(config.decode),
            config,
            http: Bounded::new(self.config.max_requests),
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
                s.peak_feed_bytes / 1024
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
        if !self.feed.is_empty() || self.paused() {
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

    /// Looks every member over (see `super::flow`): who is behind, who
    /// is stuck, drops stuck members past `max_queue`, trims the feed
    /// behind the slowest, and decides whether reading pauses.
    fn scan(&mut self, now: Instant) {
        let mut scan = Scan::new(self.feed.end());
        for (key, m) in self.members.iter_mut() {
            if !m.receives() {
                continue;
            }
            let cost = m.outbox.cost(&self.feed);
            let state = self.flow.assess(&mut m.standing, cost, now);
            if state == State::Drop {
                m.leaving = true;
                self.to_remove.push((key, Leave::TooSlow));
                continue;
            }
            let pos = m.outbox.pos();
            scan.add(state, pos, self.feed.offset(pos));
        }
        self.feed.trim(scan.min_pos);
        self.behind = scan.behind;
        self.scan_at_offset = scan.next_at(&self.flow);
        self.last_scan = now;
        if self.memory_full && self.flow.has_room(self.feed.bytes()) {
            self.memory_full = false;
        }
    }

    /// Makes room in the feed for one more line: trims it, then drops
    /// stuck members, the furthest behind first, until it fits. Returns
    /// whether it fits; when not, nobody can be dropped yet.
    fn make_room(&mut self, now: Instant) -> bool {
        self.scan(now);
        while !self.flow.has_room(self.feed.bytes()) {
            let candidates = self
                .members
                .iter()
                .filter(|(_, m)| m.receives())
                .map(|(key, m)| (key, m.outbox.pos(), m.standing.stuck(now)));
            let Some(key) = self.flow.victim(candidates) else {
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
                .unwrap_or(self.feed.end());
            self.feed.trim(min_pos);
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
                    let addr = canonical(addr);
                    let name = addr.to_string();
                    if self.members.len() >= self.config.max_clients {
                        let _ = stream.write(wire::ROOM_FULL.as_bytes());
                        self.turned_away(&name);
                        continue;
                    }
                    if self.host_is_full(addr.ip()) {
                        let msg = wire::too_many(addr.ip(), self.config.max_per_host);
                        let _ = stream.write(msg.as_bytes());
                        self.too_many_from(addr.ip());
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    self.join(Conn::Tcp(stream), addr);
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
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    // Past the bounds, the oldest of this address (or of
                    // all) makes room: it is closed.
                    let conn = HttpConn::new(stream, peer, Instant::now());
                    let (key, pushed_out) = side.http.insert(peer.ip(), conn);
                    for mut old in pushed_out {
                        let _ = self.poll.registry().deregister(&mut old.stream);
                        let _ = old.stream.shutdown(std::net::Shutdown::Write);
                    }
                    let Some(h) = side.http.get_mut(key) else {
                        continue;
                    };
                    let token = Token(HTTP_BASE + key);
                    if self
                        .poll
                        .registry()
                        .register(
                            &mut h.stream,
                            token,
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .is_err()
                    {
                        side.http.remove(key);
                    }
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
        match h.advance(&side.config.origins) {
            Step::Wait => {}
            Step::Close => self.close_http(k),
            Step::Upgrade => self.upgrade(k),
        }
    }

    fn close_http(&mut self, k: usize) {
        if let Some(side) = &mut self.web {
            if let Some(mut h) = side.http.remove(k) {
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
            .filter(|(_, h)| h.deadline <= now && !h.upgrading())
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
        let Some(mut h) = side.http.remove(k) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut h.stream);
        let addr = match h.stream.peer_addr() {
            Ok(a) => canonical(a),
            Err(_) => return,
        };
        let rest = h.take_rest();
        let mut conn = Conn::websocket(h.stream, rest, self.config.max_line);
        let refusal = if self.members.len() >= self.config.max_clients {
            self.turned_away(&addr.to_string());
            Some((wire::ROOM_FULL.to_string(), "room full"))
        } else if self.host_is_full(addr.ip()) {
            self.too_many_from(addr.ip());
            let msg = wire::too_many(addr.ip(), self.config.max_per_host);
            Some((msg, "too many connections from this address"))
        } else {
            None
        };
        if let Some((notice, reason)) = refusal {
            if let Conn::Web(ws) = &mut conn {
                let _ = ws.write(Message::text(web::notice(&notice)));
                let _ = ws.close(Some(CloseFrame {
                    code: CloseCode::Again,
                    reason: reason.into(),
                }));
                let _ = ws.flush();
            }
            return;
        }
        self.join(conn, addr);
    }

    /// Whether `ip` already has `--max-per-host` members.
    fn host_is_full(&self, ip: IpAddr) -> bool {
        let max = self.config.max_per_host;
        max > 0 && self.hosts.get(&ip).copied().unwrap_or(0) >= max
    }

    /// One more turned away for its address's members; stderr says so once
    /// per address per minute.
    fn too_many_from(&mut self, ip: IpAddr) {
        self.stats.too_many_from_host += 1;
        if !self.config.verbose {
            return;
        }
        let now = Instant::now();
        if self.too_many_said.len() > 4096 {
            self.too_many_said
                .retain(|_, t| now.duration_since(*t) < TOO_MANY_SAID_EVERY);
        }
        let due = self
            .too_many_said
            .get(&ip)
            .is_none_or(|t| now.duration_since(*t) >= TOO_MANY_SAID_EVERY);
        if due {
            self.too_many_said.insert(ip, now);
            crate::status::line(&format!(
                "[{ip}] turned away: too many connections from {ip} (max {}); said once a minute",
                self.config.max_per_host
            ));
        }
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

    /// Makes a connection from `addr` a member: announced to the others,
    /// its place in the feed starting after its own notice.
    fn join(&mut self, mut conn: Conn, addr: SocketAddr) {
        let name = addr.to_string();
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
        self.notice(wire::entered(name.as_bytes()), id);
        let bucket = self
            .config
            .max_rate
            .map(|r| Bucket::full(r, Instant::now()));
        let member = Member::new(conn, addr, id, &self.feed, self.config.max_line, bucket);
        *self.hosts.entry(addr.ip()).or_default() += 1;
        let web = member.is_web();
        self.directory.joined(key, &member.name);
        self.roster.insert(id, key);
        let inserted = self.members.insert(member);
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
        self.tell_history(key);
        // A client may have sent data before registering.
        self.want_read(key);
    }

    /// Appends an entry to the feed (`from`: the sending member's id, 0 for
    /// nobody; `sender`: its key, when it is a member) and wakes the idle
    /// members.
    fn append(&mut self, sender: Option<usize>, data: Box<[u8]>, from: MemberId) {
        let seq = self.feed.push(data, from);
        self.stats.peak_feed_bytes = self.stats.peak_feed_bytes.max(self.feed.bytes());
        if let Some(m) = sender.and_then(|k| self.members.get_mut(k)) {
            m.outbox.appended_own(&self.feed, seq);
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
            if m.outbox.is_empty(&self.feed) {
                m.in_idle = true;
                self.idle.push((key, id));
            } else {
                m.writing = Writing::Queued;
                self.to_write.push(key);
            }
        }
        if self.feed.end_offset() > self.scan_at_offset {
            self.scan(Instant::now());
        }
    }

    /// Appends a join or leave notice (`from`: the member it is about, who
    /// does not get it). Notices are never held back, but a full feed
    /// first drops the stuck members it can.
    fn notice(&mut self, text: Vec<u8>, from: MemberId) {
        if !self.flow.has_room(self.feed.bytes()) {
            self.make_room(Instant::now());
        }
        self.append(None, text.into(), from);
    }

    /// A notice of the server's own for one member alone (`! slow down …`):
    /// as bytes to a TCP member, as a page message to a browser. At most
    /// [`PRIVATE_MAX`] of them wait for a member (one that keeps sending
    /// over-long lines and never reads gets no more).
    fn tell(&mut self, key: usize, msg: &str) {
        let Some(m) = self.members.get(key) else {
            return;
        };
        // The server's own words are ASCII: a page reads them as they are,
        // whatever --web-encoding says.
        let msg: Rc<[u8]> = if m.is_web() {
            web::notice(msg).into_bytes().into()
        } else {
            msg.as_bytes().into()
        };
        if m.outbox.private_bytes() + msg.len() > PRIVATE_MAX {
            return;
        }
        self.queue_private(key, msg);
    }

    /// A line for one member alone that is part of the conversation (a
    /// `/msg`, a refusal, a `/who` answer): it counts against that
    /// member's own queue like any line, and the flow rules apply to it
    /// (a member that never reads is dropped as too slow).
    fn tell_counted(&mut self, key: usize, line: Vec<u8>) {
        if let Some(msg) = self.for_member(key, &line) {
            self.tell_raw_counted(key, msg);
        }
    }

    fn tell_raw_counted(&mut self, key: usize, msg: Rc<[u8]>) {
        self.queue_private(key, msg);
        let now = Instant::now();
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        let cost = m.outbox.cost(&self.feed);
        match self.flow.assess(&mut m.standing, cost, now) {
            State::Drop => {
                m.leaving = true;
                self.to_remove.push((key, Leave::TooSlow));
            }
            State::Behind => self.behind = true,
            State::Fine | State::Stuck => {}
        }
    }

    /// A line of the room as member `key` takes it: the bytes for a TCP
    /// member, its page form for a browser.
    fn for_member(&self, key: usize, line: &[u8]) -> Option<Rc<[u8]>> {
        let m = self.members.get(key)?;
        if !m.receives() {
            return None;
        }
        Some(match (&self.web, m.is_web()) {
            (Some(side), true) => web::entry(line, side.config.decode).into_bytes().into(),
            _ => line.into(),
        })
    }

    /// A page message (JSON) for a browser member alone.
    fn tell_page(&mut self, key: usize, json: String) {
        if self.members.get(key).is_some_and(Member::receives) {
            self.queue_private(key, json.into_bytes().into());
        }
    }

    fn queue_private(&mut self, key: usize, msg: Rc<[u8]>) {
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        if !m.receives() {
            return;
        }
        m.outbox.tell(&self.feed, msg);
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
        if self.members[key].is_web() {
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
            match m.read(&mut self.read_buf) {
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
            match self.members[key].read_message() {
                FromPage::Text(text) => {
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
                FromPage::Binary => {
                    let why = "binary frames are not accepted";
                    return self.close_web(key, CloseCode::Unsupported, why.into());
                }
                FromPage::Control => self.flush_soon(key),
                FromPage::Nothing => return,
                FromPage::Closed => {
                    self.to_remove.push((key, Leave::Closed));
                    return;
                }
                FromPage::TooBig => {
                    let why = format!("message over {max_line} bytes (the room's --max-line)");
                    return self.close_web(key, CloseCode::Size, why);
                }
                FromPage::NotUtf8 => {
                    let why = "text that is not UTF-8";
                    return self.close_web(key, CloseCode::Invalid, why.into());
                }
                FromPage::Protocol(why) => return self.close_web(key, CloseCode::Protocol, why),
                FromPage::Failed(why) => {
                    self.to_remove.push((key, Leave::Failed(why)));
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
            m.close_web(code, &reason);
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
            if !self.flow.has_room(self.feed.bytes()) && !self.make_room(now) {
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
                        self.tell(key, &wire::slow_down(rate));
                    }
                    return (used, Took::Throttled);
                }
            }
            let (n, frame) = m.framer.next(&data[used..]);
            used += n;
            let taken = match frame {
                None => continue,
                Some(Frame::TooLong) => None,
                Some(Frame::Line(line)) => {
                    if let (Some(bucket), Some(rate)) = (&mut m.bucket, rate) {
                        bucket.take(rate, now);
                    }
                    Some(Taken::of(&m.label, line))
                }
            };
            match taken {
                Some(taken) => self.taken(key, taken),
                None => {
                    self.stats.too_long += 1;
                    self.tell(key, &wire::line_too_long(self.config.max_line));
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
        let taken = Taken::of(&m.label, line);
        self.taken(key, taken);
    }

    /// A line a member sent: relayed (and kept for the history), or one
    /// of the three words the server reads.
    fn taken(&mut self, key: usize, taken: Taken) {
        match taken {
            Taken::Said(entry) => {
                self.stats.lines += 1;
                if self.config.history > 0 {
                    self.history.relayed(&entry, std::time::SystemTime::now());
                }
                let id = self.members[key].outbox.id();
                self.append(Some(key), entry, id);
            }
            Taken::Command(line) => self.command(key, &line),
        }
    }

    /// `/nick`, `/who`, `/msg`.
    fn command(&mut self, key: usize, line: &[u8]) {
        let Some(cmd) = names::command(line) else {
            return;
        };
        match cmd {
            Command::Nick(new) => self.nick(key, new),
            Command::Who => self.who(key),
            Command::Msg { to, text } => match self.directory.find(to) {
                Some(to) => {
                    let from = self.members[key].label.clone();
                    self.tell_counted(to, wire::private(&from, text).into());
                }
                None => self.tell_counted(key, wire::no_member(to)),
            },
            Command::MsgUsage => self.tell(key, wire::MSG_USAGE),
        }
    }

    /// `/nick NAME` (or `/nick` alone, back to `ip:port`): taken and
    /// announced to everyone, or refused to the member alone.
    fn nick(&mut self, key: usize, new: Option<&[u8]>) {
        let m = &self.members[key];
        let old = m.nick.clone();
        if old.as_deref() == new {
            return; // already so
        }
        match new {
            Some(name) => {
                if let Err(why) = self.directory.rename(key, old.as_deref(), name) {
                    return self.tell_counted(key, wire::nick_refused(name, why));
                }
            }
            None => {
                if let Some(o) = &old {
                    self.directory.release(key, o);
                }
            }
        }
        let m = &mut self.members[key];
        let before = std::mem::replace(&mut m.label, wire::label(new, &m.name));
        m.nick = new.map(Into::into);
        let now: &[u8] = new.unwrap_or(m.name.as_bytes());
        let notice = wire::renamed(&before, now);
        if self.config.verbose {
            crate::status::line(String::from_utf8_lossy(&notice).trim_end());
        }
        self.notice(notice, 0);
    }

    /// The `/who` answer, to the member who asked alone: at most
    /// [`WHO_MAX`] members, in the order they joined.
    fn who(&mut self, key: usize) {
        let total = self.members.len();
        let listed: Vec<&[u8]> = self
            .roster
            .values()
            .take(WHO_MAX)
            .filter_map(|k| self.members.get(*k))
            .map(|m| &*m.label)
            .collect();
        let more = total.saturating_sub(listed.len());
        let answer = match (&self.web, self.members[key].is_web()) {
            (Some(side), true) => web::who(total, &listed, more, side.config.decode).into_bytes(),
            _ => {
                let mut out = wire::members(total).into_bytes();
                for who in &listed {
                    out.extend(wire::member(who));
                }
                if more > 0 {
                    out.extend(wire::more(more).into_bytes());
                }
                out
            }
        };
        self.tell_raw_counted(key, answer.into());
    }

    /// A member who joins first gets the history: `! last K lines:`, the
    /// lines as they were relayed, `! end of history` (nothing when there
    /// are none). The lines are shared, not copied, for TCP members.
    fn tell_history(&mut self, key: usize) {
        let k = self.history.lines().len();
        if k == 0 {
            return;
        }
        let web = match (&self.web, self.members[key].is_web()) {
            (Some(side), true) => Some(side.config.decode),
            _ => None,
        };
        let page = |bytes: &[u8]| -> Rc<[u8]> {
            match web {
                Some(decode) => web::entry(bytes, decode).into_bytes().into(),
                None => bytes.into(),
            }
        };
        let mut told: Vec<Rc<[u8]>> = Vec::with_capacity(k + 2);
        told.push(page(wire::history_start(k).as_bytes()));
        for line in self.history.lines() {
            told.push(match web {
                Some(_) => page(line),
                None => line.clone(),
            });
        }
        told.push(page(wire::HISTORY_END.as_bytes()));
        let m = &mut self.members[key];
        for msg in told {
            m.outbox.tell(&self.feed, msg);
        }
        if m.writing == Writing::Idle {
            m.writing = Writing::Queued;
            self.to_write.push(key);
        }
    }

    fn write_member(&mut self, key: usize) {
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        if !m.receives() {
            return;
        }
        let wrote = match (&mut self.web, m.is_web()) {
            (Some(side), true) => m.write_web(&self.feed, &mut side.pages, WRITE_SHARE),
            (None, true) => return,
            (_, false) => m.write_tcp(&self.feed, WRITE_SHARE),
        };
        match wrote {
            Wrote::Idle => self.now_idle(key),
            Wrote::Share => {
                m.writing = Writing::Queued;
                self.more_to_write.push(key);
            }
            Wrote::Blocked => m.writing = Writing::Blocked,
            Wrote::Failed => self.cannot_write(key),
        }
    }

    /// Nothing left to send: the member waits in the idle list.
    fn now_idle(&mut self, key: usize) {
        let m = &mut self.members[key];
        m.writing = Writing::Idle;
        m.standing.caught_up();
        if !m.in_idle {
            m.in_idle = true;
            self.idle.push((key, m.outbox.id()));
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
        if let Some(n) = self.hosts.get_mut(&m.addr.ip()) {
            *n -= 1;
            if *n == 0 {
                self.hosts.remove(&m.addr.ip());
            }
        }
        let too_slow = why == Leave::TooSlow;
        if too_slow {
            self.stats.too_slow += 1;
        }
        if self.config.verbose {
            let note = if too_slow { " (too slow)" } else { "" };
            let reason = match &why {
                Leave::Failed(r) => format!(": {r}"),
                _ => String::new(),
            };
            crate::status::line(&format!(
                "[{}] left room{note}{reason} ({} in room)",
                m.shown(),
                self.members.len()
            ));
        }
        self.directory.left(key, &m.name, m.nick.as_deref());
        self.roster.remove(&m.outbox.id());
        let notice = wire::left(&m.label, too_slow);
        drop(m);
        self.notice(notice, 0);
    }
}
