//! Coming and going: admission (`--max-clients`, `--max-per-host`), a
//! member joining (announced, told the history) and leaving (announced,
//! why said on stderr). Part of the room's core: no I/O, the time passed
//! in.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::core::{Held, Leave, Member, Refusal, Room, Writing};
use super::entry::Entry;
use super::feed::Outbox;
use super::flow::Standing;
use super::framer::Framer;
use super::tongue::Tongue;
use super::wire;
use crate::filter::Bucket;

/// How often stderr says that one address is turned away for
/// `--max-per-host` (once per address per minute, not once per attempt).
const TOO_MANY_SAID_EVERY: Duration = Duration::from_secs(60);

impl<C> Room<C> {
    /// Whether a connection from `ip` may join now; a refusal is counted
    /// (and said on stderr, for one address once a minute).
    ///
    /// # Errors
    /// The [`Refusal`], whose notice the connection is told before it is
    /// closed.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        if self.bans.covering(ip, now).is_some() {
            self.stats.banned += 1;
            return Err(Refusal::Banned);
        }
        if self.guesses.locked(ip, now) {
            self.stats.banned += 1;
            return Err(Refusal::Guessing);
        }
        if self.members.len() >= self.config.max_clients {
            self.stats.turned_away += 1;
            let n = self.members.len();
            self.say(format!("[{ip}] turned away: room full ({n} clients)"));
            return Err(Refusal::Full);
        }
        let max = self.config.max_per_host;
        if max > 0 && self.hosts.get(&ip).copied().unwrap_or(0) >= max {
            self.stats.too_many_from_host += 1;
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
                self.say(format!(
                    "[{ip}] turned away: too many connections from {ip} (max {max}); said once a minute"
                ));
            }
            return Err(Refusal::TooMany(ip, max));
        }
        Ok(())
    }

    /// A connection from `addr` joins: announced to the others, its place
    /// in the feed after its own notice; told `hello` first (a page: who it
    /// is), then the history. In a room with a password it waits outside
    /// instead, told `! password required` and nothing else, until
    /// `/pass`. Returns its key ([`Room::next_key`] just before).
    pub fn join(&mut self, conn: C, addr: SocketAddr, hello: Option<Entry>, now: Instant) -> usize {
        let page = hello.is_some();
        let name = addr.to_string();
        let id = self.next_id;
        self.next_id += 1;
        let waiting = self.config.password.is_some();
        if !waiting {
            self.notice(Entry::entered(name.as_bytes()), id, now);
        }
        let bucket = self.config.max_rate.map(|r| Bucket::full(r, now));
        let member = Member {
            conn,
            addr,
            label: name.as_bytes().into(),
            name: name.clone(),
            nick: None,
            framer: Framer::new(self.config.max_line),
            held: Held::default(),
            outbox: Outbox::new(id, &self.feed),
            bucket,
            told_slow_down: false,
            wake: None,
            standing: Standing::default(),
            leaving: false,
            unwritable: false,
            writing: Writing::Idle,
            in_idle: !waiting,
            page,
            waiting,
            op: false,
            muted: self.muted_from(addr.ip(), now),
            told_muted: false,
            tongue: Tongue::Unknown,
            nick_key: None,
        };
        *self.hosts.entry(addr.ip()).or_default() += 1;
        let key = self.members.insert(member);
        self.stats.joined += 1;
        let via = if page { " from the web page" } else { "" };
        if let Some(hello) = hello {
            self.tell_page(key, hello);
        }
        if waiting {
            self.waiting += 1;
            self.say(format!(
                "[{name}] connected{via}, waiting for the password ({} waiting)",
                self.waiting
            ));
            self.tell(key, Entry::notice(wire::PASSWORD_REQUIRED));
            return key;
        }
        self.directory.joined(key, &self.members[key].name);
        self.roster.insert(id, key);
        self.idle.push((key, id));
        let line = format!("[{name}] entered room{via} ({} in room)", self.present());
        self.say(line);
        self.tell_history(key);
        key
    }

    /// A page member's encoding: its text is encoded with
    /// `--web-encoding` before the room takes it.
    pub fn set_page_tongue(&mut self, key: usize, encoding: &'static encoding_rs::Encoding) {
        if !self.config.relay_bytes {
            self.set_tongue(key, Tongue::Known(encoding));
        }
    }

    /// Member `key` is gone (why): it leaves the room, the others are
    /// told. Returns its connection, for the caller to close.
    pub fn remove(&mut self, key: usize, why: Leave, now: Instant) -> Option<C> {
        let m = self.members.try_remove(key)?;
        if let Some(n) = self.hosts.get_mut(&m.addr.ip()) {
            *n -= 1;
            if *n == 0 {
                self.hosts.remove(&m.addr.ip());
            }
        }
        if m.waiting {
            self.waiting -= 1;
            self.say(format!(
                "[{}] went without the password ({} waiting)",
                m.name, self.waiting
            ));
            return Some(m.conn);
        }
        let too_slow = why == Leave::TooSlow;
        if too_slow {
            self.stats.too_slow += 1;
        }
        let note = if too_slow { " (too slow)" } else { "" };
        let reason = match &why {
            Leave::Failed(r) => format!(": {r}"),
            _ => String::new(),
        };
        let line = format!(
            "[{}] left room{note}{reason} ({} in room)",
            m.shown(),
            self.present()
        );
        self.directory.left(key, &m.name, m.nick_key.as_deref());
        self.roster.remove(&m.outbox.id());
        if let Leave::Removed(_) = why {
            // Everyone was told why it went.
            self.say(format!(
                "[{}] removed ({} in room)",
                m.shown(),
                self.present()
            ));
        } else {
            self.say(line);
            let left = Entry::left(&m.label, too_slow).in_tongue(m.tongue);
            self.notice(left, 0, now);
        }
        Some(m.conn)
    }

    /// Member `key` failed (a protocol breach, a closed WebSocket): it goes
    /// at the end of this turn, told nothing more.
    pub fn fail(&mut self, key: usize, why: Leave) {
        if let Some(m) = self.members.get_mut(key) {
            m.leaving = true;
            self.to_remove.push((key, why));
        }
    }

    /// Its connection closed in order: a last line without a newline still
    /// counts, then it leaves.
    pub fn closed(&mut self, key: usize, now: Instant) {
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        if let Some(last) = m.framer.finish() {
            let last = last.to_vec();
            self.line(key, &last, now);
        }
        self.to_remove.push((key, Leave::Closed));
    }

    /// Members to remove now, with why (the caller closes their
    /// connections and calls [`Room::remove`]).
    pub fn take_removals(&mut self) -> Vec<(usize, Leave)> {
        std::mem::take(&mut self.to_remove)
    }
}
