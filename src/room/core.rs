//! The room itself, without I/O: who is in it, what they said, who gets
//! what, who waits and who goes. No socket and no clock: the caller (the
//! poll loop in [`super::server`]) hands it bytes and lines with the time
//! they came, and takes back what to do: whom to write to, who is
//! throttled until when, who is dropped. Like [`crate::ipmsg::engine`] and
//! [`super::flow`], every rule is unit-tested on made-up `Instant`s.
//!
//! ```text
//! bytes (TCP) ──take_bytes──▶ framer ─┐
//! lines (page) ──take_lines───────────┼─▶ allowance (--max-rate: throttle) ─▶ line
//!                                     │     (waiting for --password: /pass only, the rest dropped)
//!                                     │     /nick /who /msg /encoding ──▶ commands (super::commands)
//!                                     │     /pass /op /kick /mute /ban /topic… ──▶ super::ops
//!                                     │     muted: dropped, told once
//!                                     │     anything else ──▶ Entry::said ──▶ feed (once) + history
//! join / leave ──▶ notices ──▶ feed   │
//! feed ──▶ each member's outbox ──▶ take_writes(): whom to write to now
//! scan(now) ──▶ flow: behind (pause reading), stuck, dropped (take_removals)
//! ```
//!
//! The room is generic over the connection `C` it keeps for each member
//! and never looks at it: the poll loop keeps its TCP stream or WebSocket
//! there, the tests keep nothing.
//!
//! The rules that keep the room whole:
//!
//! * **Throttle, never drop.** Past `--max-rate` lines a second, a member
//!   is not read until its allowance refills ([`Took::Throttled`]): its
//!   lines wait in its socket and TCP pushes back on the sender. It is
//!   told once `! slow down (max N lines/s)`. Nothing is lost or
//!   reordered, and no other member waits for it.
//! * **One copy of each line**, in the feed, trimmed behind the slowest
//!   member: memory follows what the slowest member has not read, not
//!   members × lines.
//! * **Backpressure, stuck members go**: see [`super::flow`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

pub use super::limits::{Config, Stats};

use slab::Slab;

use super::access::{Bans, Guesses};
use super::entry::{Entry, Label};
use super::feed::{Feed, MemberId, Outbox};
use super::flow::{Flow, Standing, State};
use super::framer::{Frame, Framer};
use super::history::History;
use super::names::{Command, Directory};
use super::tongue::Tongue;
use super::wire;
use crate::filter::Bucket;

/// How often members are looked over (trimming the feed, finding stuck
/// members) while anything is held.
pub const SCAN_EVERY: Duration = Duration::from_millis(5);
/// Private notices held for one member at most; more are not queued (a
/// member that keeps sending over-long lines and never reads).
const PRIVATE_MAX: usize = 1024;
/// Why a member left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leave {
    /// It closed the connection.
    Closed,
    /// The connection failed (reset, broken pipe…): what the OS said.
    Failed(String),
    /// Dropped: too far behind.
    TooSlow,
    /// Removed by an operator (kicked, its address banned) or refused for
    /// guessing passwords: what it has queued is written out as far as its
    /// socket takes it now, then this line (if any), and it is closed;
    /// nobody is told it left (they were told why already).
    Removed(Vec<u8>),
}

/// Where a member stands with writing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Writing {
    /// Nothing to send; in the idle list, woken by the next entry.
    Idle,
    /// Something to send; in the write lists.
    Queued,
    /// The socket is full; waits for the poll's writable event.
    Blocked,
}

/// How far a write turn got (the connection says).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wrote {
    /// Everything is out: nothing left to send.
    Idle,
    /// Its share of this turn is used; more next turn.
    Share,
    /// The socket is full.
    Blocked,
    /// Writing failed (the peer is gone).
    Failed,
}

/// How far taking a member's input got.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Took {
    /// Every byte (or the member is leaving, and the rest does not matter).
    All,
    /// Stopped: out of allowance; [`Room::tick`] says when it may go on.
    Throttled,
    /// Stopped: the room is paused (backpressure or memory); read it again
    /// in the next round.
    Paused,
}

/// Why a connection is not let in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Refusal {
    /// `--max-clients`.
    Full,
    /// `--max-per-host`.
    TooMany(IpAddr, usize),
    /// Its address is banned.
    Banned,
    /// Its address gave too many wrong passwords in a minute.
    Guessing,
}

impl Refusal {
    /// The line the refused connection is told.
    pub fn notice(&self) -> String {
        match *self {
            Refusal::Full => wire::ROOM_FULL.to_string(),
            Refusal::TooMany(ip, max) => wire::too_many(ip, max),
            Refusal::Banned => wire::BANNED.to_string(),
            Refusal::Guessing => wire::TOO_MANY_WRONG.to_string(),
        }
    }

    /// Why, shortly (a WebSocket close reason).
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Full => "room full",
            Refusal::TooMany(..) => "too many connections from this address",
            Refusal::Banned => "banned",
            Refusal::Guessing => "too many wrong passwords",
        }
    }
}

/// Input taken but not yet framed or relayed: the rest of a read when the
/// member was throttled, or the room paused, in the middle of it.
#[derive(Debug, Default)]
pub(super) struct Held {
    /// A TCP member's bytes.
    bytes: Vec<u8>,
    /// A page member's lines.
    lines: VecDeque<Vec<u8>>,
}

/// One member: what the room knows of it, and its connection.
#[derive(Debug)]
pub struct Member<C> {
    /// Its connection (the room never looks at it).
    pub conn: C,
    pub(super) addr: SocketAddr,
    /// Its address as the room shows it (`ip:port`, `[v6]:port`).
    pub(super) name: String,
    /// Its name, once it took one (`/nick`): bytes in its own encoding.
    pub(super) nick: Option<Box<[u8]>>,
    /// How its lines and notices name it: `NAME@ip:port`, or `ip:port`.
    pub(super) label: Label,
    pub(super) framer: Framer,
    pub(super) held: Held,
    /// Its place in the feed, and lines for it alone.
    pub(super) outbox: Outbox,
    /// Its `--max-rate` allowance.
    pub(super) bucket: Option<Bucket>,
    pub(super) told_slow_down: bool,
    /// Throttled: not read until then.
    pub(super) wake: Option<Instant>,
    /// How long it has been behind (see [`super::flow`]).
    pub(super) standing: Standing,
    /// Marked for removal; gets nothing more, is read no more.
    pub(super) leaving: bool,
    /// Writing to it failed (the peer reset the connection): it gets
    /// nothing more, but what it sent before is still read and relayed
    /// (TCP keeps what had arrived readable after a reset) until the
    /// socket reports the end.
    pub(super) unwritable: bool,
    pub(super) writing: Writing,
    /// In the idle list.
    pub(super) in_idle: bool,
    /// A browser (its lines are decoded for it, never re-encoded).
    pub(super) page: bool,
    /// Held back until it gives the room password: not in the room.
    pub(super) waiting: bool,
    /// An operator.
    pub(super) op: bool,
    /// Muted: until then (`Some(None)`: until `/unmute`).
    pub(super) muted: Option<Option<Instant>>,
    pub(super) told_muted: bool,
    /// Its encoding, as far as the room knows it.
    pub(super) tongue: Tongue,
    /// Its name as names are compared (see [`super::tongue::name_key`]).
    pub(super) nick_key: Option<Vec<u8>>,
}

impl<C> Member<C> {
    /// Whether it is still sent anything.
    pub(super) fn receives(&self) -> bool {
        !self.leaving && !self.unwritable
    }

    /// Whether it is sent the room's feed (and so holds a place in it):
    /// it receives and is in the room (not waiting for the password).
    pub(super) fn in_feed(&self) -> bool {
        self.receives() && !self.waiting
    }

    /// Its label as a member in `to` reads it.
    pub(super) fn label_in(&self, to: Tongue) -> Label {
        match super::tongue::recode(&self.label, self.tongue, to) {
            Some(bytes) => bytes.into(),
            None => self.label.clone(),
        }
    }

    /// Its label for stderr, decoded (see [`for_stderr`]).
    pub(super) fn shown(&self) -> String {
        for_stderr(&self.label)
    }
}

/// A name or notice of the room as stderr shows it: decoded, UTF-8 when it
/// is valid and GB18030 otherwise (a Windows member's GBK name), and made
/// one safe line; never raw bytes.
pub(super) fn for_stderr(bytes: &[u8]) -> String {
    let (text, _) = crate::encoding::Encoding::Auto.decode(bytes);
    crate::sanitize::one_line(&text)
}

/// The room.
#[derive(Debug)]
pub struct Room<C> {
    pub(super) config: Config,
    pub(super) flow: Flow,
    pub(super) feed: Feed,
    pub(super) members: Slab<Member<C>>,
    pub(super) next_id: MemberId,
    pub(super) stats: Stats,
    /// Members with nothing to send (key and id, as keys are reused).
    pub(super) idle: Vec<(usize, MemberId)>,
    /// Members to write to in this turn.
    pub(super) to_write: Vec<usize>,
    /// Members that used their write share; written next turn.
    pub(super) more_to_write: Vec<usize>,
    /// Members waiting for their allowance to refill.
    pub(super) throttled: Vec<usize>,
    /// Members to remove, with why.
    pub(super) to_remove: Vec<(usize, Leave)>,
    /// A member that is not stuck is over the high-water mark: read nobody.
    pub(super) behind: bool,
    /// The feed is full and nobody can be dropped yet: read nobody.
    pub(super) memory_full: bool,
    /// Look members over when the feed's end passes this offset.
    pub(super) scan_at_offset: u64,
    pub(super) last_scan: Instant,
    /// Members per IP address (canonical: IPv4-mapped as IPv4).
    pub(super) hosts: HashMap<IpAddr, usize>,
    /// When stderr last said an address was turned away for having
    /// `--max-per-host` members.
    pub(super) too_many_said: HashMap<IpAddr, Instant>,
    /// Members by name and by address (`/nick`, `/msg`).
    pub(super) directory: Directory<usize>,
    /// Members in the order they joined (`/who`).
    pub(super) roster: BTreeMap<MemberId, usize>,
    pub(super) history: History,
    /// Lines for stderr, in order, for the caller to print.
    pub(super) said: Vec<String>,
    /// Members waiting for the password (connections, not in the room).
    pub(super) waiting: usize,
    /// Wrong passwords per address.
    pub(super) guesses: Guesses,
    pub(super) bans: Bans,
    /// `/topic`: told to everyone who joins, after the history.
    pub(super) topic: Option<Rc<Entry>>,
    /// Addresses an operator muted a member from, until when (`None`:
    /// until `/unmute`): a member who joins from there again is muted.
    pub(super) muted_hosts: HashMap<IpAddr, Option<Instant>>,
}

impl<C> Room<C> {
    /// An empty room with these limits and this memory, started at `now`.
    pub fn new(config: Config, history: History, now: Instant) -> Room<C> {
        Room {
            flow: config.flow(),
            config,
            feed: Feed::new(),
            members: Slab::new(),
            next_id: 1,
            stats: Stats::default(),
            idle: Vec::new(),
            to_write: Vec::new(),
            more_to_write: Vec::new(),
            throttled: Vec::new(),
            to_remove: Vec::new(),
            behind: false,
            memory_full: false,
            scan_at_offset: 0,
            last_scan: now,
            hosts: HashMap::new(),
            too_many_said: HashMap::new(),
            directory: Directory::default(),
            roster: BTreeMap::new(),
            history,
            said: Vec::new(),
            waiting: 0,
            guesses: Guesses::default(),
            bans: Bans::default(),
            topic: None,
            muted_hosts: HashMap::new(),
        }
    }

    /// The limits.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counts so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Connections in the room, members waiting for the password too.
    #[allow(clippy::len_without_is_empty)] // a room is never asked that
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Members in the room (not those waiting for the password).
    pub fn present(&self) -> usize {
        self.members.len() - self.waiting
    }

    /// The key the next member will get (to register its connection
    /// under before it joins).
    pub fn next_key(&self) -> usize {
        self.members.vacant_key()
    }

    /// Whether reading is paused for the whole room.
    pub fn paused(&self) -> bool {
        self.behind || self.memory_full
    }

    /// Lines for stderr since the last call (with `verbose`), in order.
    pub fn take_said(&mut self) -> Vec<String> {
        std::mem::take(&mut self.said)
    }

    pub(super) fn say(&mut self, line: String) {
        if self.config.verbose {
            self.said.push(line);
        }
    }

    // ---- what members send --------------------------------------------

    /// Whether member `key` may be read now: it is here, not leaving, not
    /// waiting for its allowance.
    pub fn readable(&self, key: usize) -> bool {
        self.members
            .get(key)
            .is_some_and(|m| !m.leaving && m.wake.is_none())
    }

    /// Whether member `key` is leaving (or gone).
    pub fn leaving(&self, key: usize) -> bool {
        self.members.get(key).is_none_or(|m| m.leaving)
    }

    /// Takes what a TCP member sent: its lines, framed and capped, while
    /// it has allowance and the room is not paused; the rest is held for
    /// later ([`Room::take_held`]).
    pub fn take_bytes(&mut self, key: usize, data: &[u8], now: Instant) -> Took {
        let (used, took) = self.frame(key, data, now);
        if took != Took::All {
            if let Some(m) = self.members.get_mut(key) {
                m.held.bytes.extend_from_slice(&data[used..]);
            }
        }
        took
    }

    /// Takes a page member's lines (whole, already encoded and capped),
    /// while it has allowance and the room is not paused; the rest is held.
    pub fn take_lines(&mut self, key: usize, lines: Vec<Vec<u8>>, now: Instant) -> Took {
        if let Some(m) = self.members.get_mut(key) {
            m.held.lines.extend(lines);
        }
        self.take_held(key, now)
    }

    /// Takes what was held back earlier; [`Took::All`] once nothing is.
    pub fn take_held(&mut self, key: usize, now: Instant) -> Took {
        let Some(m) = self.members.get_mut(key) else {
            return Took::All;
        };
        if !m.held.bytes.is_empty() {
            let bytes = std::mem::take(&mut m.held.bytes);
            let (used, took) = self.frame(key, &bytes, now);
            if took != Took::All {
                if let Some(m) = self.members.get_mut(key) {
                    m.held.bytes = bytes[used..].to_vec();
                }
                return took;
            }
        }
        loop {
            if self
                .members
                .get(key)
                .is_none_or(|m| m.held.lines.is_empty())
            {
                return Took::All;
            }
            let took = self.ready(key, now);
            if took != Took::All {
                return took;
            }
            let Some(m) = self.members.get_mut(key).filter(|m| !m.leaving) else {
                return Took::All;
            };
            let Some(line) = m.held.lines.pop_front() else {
                return Took::All;
            };
            self.line(key, &line, now);
        }
    }

    /// Frames `data` and takes its lines while `ready` says so. Returns
    /// how many bytes it took and why it stopped.
    fn frame(&mut self, key: usize, data: &[u8], now: Instant) -> (usize, Took) {
        // The framer lends each line out while the room takes it, so it is
        // set aside for the while (an empty framer allocates nothing).
        let Some(m) = self.members.get_mut(key) else {
            return (data.len(), Took::All);
        };
        let mut framer = std::mem::replace(&mut m.framer, Framer::new(0));
        let mut used = 0;
        let mut took = Took::All;
        while used < data.len() {
            took = self.ready(key, now);
            if took != Took::All {
                break;
            }
            if self.leaving(key) {
                used = data.len();
                break;
            }
            let (n, frame) = framer.next(&data[used..]);
            used += n;
            match frame {
                None => {}
                Some(Frame::TooLong) => self.too_long(key),
                Some(Frame::Line(line)) => self.line(key, line, now),
            }
        }
        if let Some(m) = self.members.get_mut(key) {
            m.framer = framer;
        }
        (used, took)
    }

    /// Whether member `key` may have its next line taken now: the room is
    /// not paused (nor full: stuck members are dropped to make room first)
    /// and the member has allowance. Out of allowance, it is throttled and
    /// told once. [`Took::All`] means go on (or that the member is leaving).
    fn ready(&mut self, key: usize, now: Instant) -> Took {
        if self.paused() {
            return Took::Paused;
        }
        if !self.flow.has_room(self.feed.bytes()) && !self.make_room(now) {
            self.memory_full = true;
            return Took::Paused;
        }
        let rate = self.config.max_rate;
        let Some(m) = self.members.get_mut(key) else {
            return Took::All;
        };
        if m.leaving {
            return Took::All;
        }
        if let (Some(bucket), Some(rate)) = (&mut m.bucket, rate) {
            if !bucket.ready(rate, now) {
                m.wake = Some(now + bucket.wait(rate));
                self.throttled.push(key);
                self.stats.throttled += 1;
                if !m.told_slow_down {
                    m.told_slow_down = true;
                    self.tell(key, Entry::notice(wire::slow_down(rate)));
                }
                return Took::Throttled;
            }
        }
        Took::All
    }

    /// One line of member `key`: relayed (and kept for the history), or one
    /// of the words the room reads. It uses one line of the allowance.
    pub(super) fn line(&mut self, key: usize, line: &[u8], now: Instant) {
        let rate = self.config.max_rate;
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        if let (Some(bucket), Some(rate)) = (&mut m.bucket, rate) {
            bucket.take(rate, now);
        }
        let command = if line.first() == Some(&b'/') {
            super::names::command(line)
        } else {
            None
        };
        if m.waiting {
            // Outside the room: only the password is read; nothing else
            // is relayed, kept or held.
            return match command {
                Some(Command::Pass(pw)) => self.pass(key, pw, now),
                _ => self.tell(key, Entry::notice(wire::PASSWORD_REQUIRED)),
            };
        }
        if m.tongue == Tongue::Unknown && !self.config.relay_bytes {
            if let Some(t) = Tongue::learn(line) {
                self.set_tongue(key, t);
            }
        }
        if let Some(cmd) = command {
            return self.command(key, cmd, now);
        }
        if self.silenced(key, now) {
            return;
        }
        let Some(m) = self.members.get(key) else {
            return;
        };
        let entry = Entry::said(&m.label, line).in_tongue(m.tongue);
        let id = m.outbox.id();
        self.stats.lines += 1;
        if self.history.is_on() {
            self.history.relayed(&entry, SystemTime::now());
        }
        self.append(Some(key), entry, id, now);
    }

    fn too_long(&mut self, key: usize) {
        self.stats.too_long += 1;
        let notice = wire::line_too_long(self.config.max_line);
        self.tell(key, Entry::notice(notice));
    }

    // ---- what members are told ------------------------------------------

    /// Appends an entry to the feed (`from`: the member it is from, who does
    /// not get it; `sender`: its key, when it is a member) and wakes the
    /// idle members.
    fn append(&mut self, sender: Option<usize>, entry: Entry, from: MemberId, now: Instant) {
        let seq = self.feed.push(entry, from);
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
            if !m.in_feed() || m.writing != Writing::Idle {
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
            self.scan(now);
        }
    }

    /// Appends a notice to everyone (`from`: the member it is about, who
    /// does not get it). Notices are never held back, but a full feed
    /// first drops the stuck members it can.
    pub(super) fn notice(&mut self, entry: Entry, from: MemberId, now: Instant) {
        if !self.flow.has_room(self.feed.bytes()) {
            self.make_room(now);
        }
        self.append(None, entry, from, now);
    }

    /// A notice of the room's own for one member alone (`! slow down …`).
    /// At most [`PRIVATE_MAX`] bytes of them wait for a member (one that
    /// keeps sending over-long lines and never reads gets no more).
    pub fn tell(&mut self, key: usize, entry: Entry) {
        let Some(m) = self.members.get(key) else {
            return;
        };
        if m.outbox.private_bytes() + entry.wire().len() > PRIVATE_MAX {
            return;
        }
        self.queue_private(key, Rc::new(entry));
    }

    /// A message for one member alone that is not bounded like a notice
    /// (the page's own messages: who it is, whether its line was taken).
    pub fn tell_page(&mut self, key: usize, entry: Entry) {
        self.queue_private(key, Rc::new(entry));
    }

    /// A line for one member alone that is part of the conversation (a
    /// `/msg`, a refusal, a `/who` answer): it counts against that
    /// member's own queue like any line, and the flow rules apply to it
    /// (a member that never reads is dropped as too slow).
    pub(super) fn tell_counted(&mut self, key: usize, entry: Entry, now: Instant) {
        if !self.members.get(key).is_some_and(Member::receives) {
            return;
        }
        self.queue_private(key, Rc::new(entry));
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

    fn queue_private(&mut self, key: usize, msg: Rc<Entry>) {
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        if !m.receives() {
            return;
        }
        // A line for this member alone is written in its encoding now (a
        // page decodes each entry in its own).
        let msg = match m.tongue.known().filter(|_| !m.page) {
            Some(to) => match msg.wire_in(to) {
                Some(bytes) => Rc::new(Entry::named(bytes.into_vec())),
                None => msg,
            },
            None => msg,
        };
        m.outbox.tell(&self.feed, msg);
        if m.writing == Writing::Idle {
            m.writing = Writing::Queued;
            self.to_write.push(key);
        }
    }

    /// A member who joins first gets the history: `! last K lines:`, the
    /// lines as they were relayed, `! end of history` (nothing when there
    /// are none). The lines are shared, not copied.
    pub fn tell_history(&mut self, key: usize) {
        let k = self.history.lines().len();
        if k == 0 {
            return self.tell_topic(key);
        }
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        m.outbox
            .tell(&self.feed, Rc::new(Entry::notice(wire::history_start(k))));
        for line in self.history.lines() {
            m.outbox.tell(&self.feed, line.clone());
        }
        m.outbox
            .tell(&self.feed, Rc::new(Entry::notice(wire::HISTORY_END)));
        if m.writing == Writing::Idle {
            m.writing = Writing::Queued;
            self.to_write.push(key);
        }
        self.tell_topic(key);
    }

    /// The topic, to a member who joins (after the history).
    fn tell_topic(&mut self, key: usize) {
        if let Some(topic) = self.topic.clone() {
            self.queue_private(key, topic);
        }
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
