//! The `room-server` poll loop: the listeners, the timers, and the turns in
//! which members are read and written. What the room does with what it
//! reads is the room core's (`super::core`: no I/O); accepting and admitting
//! connections is in `super::accept`; a member's connection, TCP or page,
//! is read and written in `super::conn`.
//!
//! ```text
//! poll ──▶ accept (super::accept) ──▶ admitted? ──▶ Room::join
//!      ──▶ readable member ──▶ read round (a share each, round robin) ──▶ Room::take_bytes | take_lines
//!      ──▶ Room::take_writes ──▶ write turn (a share each) ──▶ Room::wrote
//!      ──▶ Room::take_removals ──▶ close, Room::remove (announced)
//!      ──▶ Room::tick: throttled members back in the read round; the flow scan
//! ```
//!
//! One thread, one mio `Poll` (epoll on Linux, IOCP on Windows: no select()
//! limit), no thread per client. Reads take a bounded share per turn
//! (round robin), so one flooding member cannot starve the others; so do
//! writes.

use rust_i18n::t;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use thiserror::Error;

use super::conn::{self, Link, LinkedRoom, Turn};
use super::core::Leave;
use super::entry::Entry;
use super::history::History;
use super::web::http::{Bounded, HttpConn};
use super::web::{PageCache, WebConfig};
use crate::net;
use crate::stop::Stop;

pub use super::core::{Config, Stats};

pub(super) const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
pub(super) const WEB_LISTENER: Token = Token(usize::MAX - 3);
/// Tokens of HTTP connections (not yet members) start here.
pub(super) const HTTP_BASE: usize = 1 << (usize::BITS - 2);
/// Read buffer size.
const READ_CHUNK: usize = 64 * 1024;

/// Failures of the server as a whole (a client's own errors never are).
#[derive(Debug, Error)]
pub enum ServerError {
    /// The event loop failed.
    #[error("{}", t!("room.poll", why = net::describe(.0)))]
    Poll(io::Error),
    /// The bans file could not be read.
    #[error("{}", t!("room.bans_read", path = .path.display(), why = net::describe(.error)))]
    Bans {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        error: io::Error,
    },
    /// The chat log could not be opened or read.
    #[error("{}", t!("room.history_file", path = .path.display(), why = net::describe(.error)))]
    History {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        error: io::Error,
    },
}

/// The web page's side of the room.
pub(super) struct WebSide {
    pub(super) listener: TcpListener,
    pub(super) config: WebConfig,
    pub(super) http: Bounded<HttpConn>,
    pub(super) pages: PageCache,
}

/// The room, its listeners, and the poll that drives them.
pub struct Server {
    pub(super) poll: Poll,
    pub(super) listener: TcpListener,
    waker: Arc<Waker>,
    pub(super) room: LinkedRoom,
    /// `--web`: the page's listener and its connections.
    pub(super) web: Option<WebSide>,
    /// Members with unread data left after their share.
    more_to_read: VecDeque<usize>,
    /// Out of descriptors: accepting waits a little.
    pub(super) accept_paused: bool,
    read_buf: Vec<u8>,
    /// `--bans FILE`.
    bans_file: Option<std::path::PathBuf>,
}

impl Server {
    /// Takes a bound, listening socket.
    ///
    /// # Errors
    /// [`ServerError::Poll`] when the event loop cannot be created, and
    /// [`ServerError::History`] when the chat log cannot be read.
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
        let bans_file = config.bans_file.clone();
        let mut room = LinkedRoom::new(config, history, Instant::now());
        if let Some(path) = &bans_file {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    for line in room.load_bans(&text, Instant::now(), SystemTime::now()) {
                        crate::status::say(&format!(
                            "room-server: {}",
                            t!("room.bans_bad_line", path = path.display(), line = line)
                        ));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(ServerError::Bans {
                        path: path.clone(),
                        error,
                    })
                }
            }
        }
        Ok(Server {
            poll,
            listener,
            waker,
            room,
            web: None,
            more_to_read: VecDeque::new(),
            accept_paused: false,
            read_buf: vec![0; READ_CHUNK],
            bans_file,
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
            http: Bounded::new(self.room.config().max_requests),
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
                            self.room.writable(key);
                        }
                    }
                }
            }
            if self.accept_paused {
                self.accept();
            }
            let now = Instant::now();
            self.expire_http(now);
            for key in self.room.tick(now) {
                self.want_read(key);
            }
            self.read_round();
            self.room.next_turn();
            self.settle();
        }
        let stats = self.room.stats().clone();
        if self.room.config().verbose {
            let s = &stats;
            crate::status::say(&format!(
                "room-server: {}",
                t!(
                    "room.stopping",
                    clients = self.room.len(),
                    joined = s.joined,
                    lines = s.lines,
                    slow = s.too_slow,
                    memory = s.dropped_for_memory,
                    throttled = s.throttled,
                    peak = s.peak_feed_bytes / 1024
                )
            ));
        }
        Ok(stats)
    }

    /// How long the next poll may wait.
    fn timeout(&self, now: Instant) -> Option<Duration> {
        let work_left =
            self.room.more_to_write() || (!self.room.paused() && !self.more_to_read.is_empty());
        if work_left {
            return Some(Duration::ZERO);
        }
        let mut wait = self.room.timeout(now);
        let mut sooner = |d: Duration| wait = Some(wait.map_or(d, |w| w.min(d)));
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
            if self.room.paused() {
                break;
            }
            let Some(key) = self.more_to_read.pop_front() else {
                break;
            };
            if let Some(link) = self.room.conn_mut(key) {
                link.want_read = false;
                self.read_member(key);
            }
        }
    }

    /// Puts a member at the back of the read round, once (not while it is
    /// throttled: the room's tick does that).
    pub(super) fn want_read(&mut self, key: usize) {
        if !self.room.readable(key) {
            return;
        }
        if let Some(link) = self.room.conn_mut(key) {
            if !link.want_read {
                link.want_read = true;
                self.more_to_read.push_back(key);
            }
        }
    }

    /// Reads member `key`: what it sent before and the room held back
    /// first, then its connection, up to its share.
    fn read_member(&mut self, key: usize) {
        if !self.room.readable(key) {
            return;
        }
        let now = Instant::now();
        let web = self.web.as_ref().map(|w| &w.config);
        let end = match conn::after(self.room.take_held(key, now)) {
            Some(end) => end,
            None => conn::read(&mut self.room, key, &mut self.read_buf, web, now),
        };
        if end == Turn::Again {
            self.want_read(key);
        }
    }

    /// Writes queued output and removes departed members until nothing
    /// changes (a departure is announced, which may queue more output).
    fn settle(&mut self) {
        loop {
            for key in self.room.take_writes() {
                conn::write(&mut self.room, key, self.web.as_mut().map(|w| &mut w.pages));
            }
            let removals = self.room.take_removals();
            if removals.is_empty() {
                break;
            }
            for (key, why) in removals {
                self.remove(key, why);
            }
        }
        for line in self.room.take_said() {
            crate::status::say(&line);
        }
        self.save_bans();
    }

    fn remove(&mut self, key: usize, why: Leave) {
        if let Leave::Removed(line) = &why {
            let pages = self.web.as_mut().map(|w| &mut w.pages);
            conn::goodbye(&mut self.room, key, pages, line);
        }
        if let Some(mut link) = self.room.remove(key, why, Instant::now()) {
            let _ = self.poll.registry().deregister(link.conn.stream());
        }
    }

    /// The bans changed: `--bans FILE` is written again (a new file put in
    /// place, so a crash never leaves half of one).
    fn save_bans(&mut self) {
        let Some(path) = self.bans_file.clone() else {
            return;
        };
        let Some(text) = self.room.take_bans_file(Instant::now(), SystemTime::now()) else {
            return;
        };
        let tmp = path.with_extension("tmp");
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            crate::status::say(&format!(
                "room-server: {}",
                t!(
                    "room.bans_write",
                    path = path.display(),
                    why = net::describe(&e)
                )
            ));
        }
    }

    /// Registers `link`'s connection with the poll and makes it a member
    /// (`hello`: what a page is told first); returns its key.
    pub(super) fn join(
        &mut self,
        mut link: Link,
        addr: SocketAddr,
        hello: Option<Entry>,
    ) -> Option<usize> {
        let key = self.room.next_key();
        if let Err(e) = self.poll.registry().register(
            link.conn.stream(),
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            crate::status::say(&format!("[{addr}] cannot register: {}", net::describe(&e)));
            return None;
        }
        let joined = self.room.join(link, addr, hello, Instant::now());
        debug_assert_eq!(joined, key);
        // A client may have sent data before registering.
        self.want_read(key);
        Some(key)
    }
}
