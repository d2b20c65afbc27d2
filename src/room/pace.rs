//! The room's pace: whom to write to and when (each member's turn and
//! share), who is read again once its allowance refills, and the flow scan
//! that decides who holds the room back, who is stuck and who is dropped
//! (the rules are [`super::flow`]'s). Part of the core: no I/O, the time
//! passed in.

use std::time::{Duration, Instant};

use super::core::{Leave, Room, Writing, Wrote, SCAN_EVERY};
use super::feed::{Feed, Outbox};
use super::flow::{Scan, State};

impl<C> Room<C> {
    /// Members to write to now (the caller writes, then says how far it
    /// got with [`Room::wrote`]).
    pub fn take_writes(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.to_write)
    }

    /// Whether anyone used its write share and waits for the next turn.
    pub fn more_to_write(&self) -> bool {
        !self.more_to_write.is_empty()
    }

    /// A new turn: those that used their share are written again.
    pub fn next_turn(&mut self) {
        self.to_write.append(&mut self.more_to_write);
    }

    /// What member `key` is to be sent, with its connection: the feed and
    /// its outbox. `None` when it is not sent anything any more.
    pub fn write_parts(&mut self, key: usize) -> Option<(&mut C, &mut Outbox, &Feed)> {
        let m = self.members.get_mut(key)?;
        if !m.receives() {
            return None;
        }
        if m.waiting {
            m.outbox.skip_feed(&self.feed);
        }
        Some((&mut m.conn, &mut m.outbox, &self.feed))
    }

    /// What member `key` has queued, with its connection, for the last
    /// write before it is closed (a member the room removes: it is leaving,
    /// but what it was told still goes out).
    pub fn last_parts(&mut self, key: usize) -> Option<(&mut C, &mut Outbox, &Feed)> {
        let m = self.members.get_mut(key)?;
        if m.unwritable {
            return None;
        }
        if m.waiting {
            m.outbox.skip_feed(&self.feed);
        }
        Some((&mut m.conn, &mut m.outbox, &self.feed))
    }

    /// Member `key`'s connection.
    pub fn conn_mut(&mut self, key: usize) -> Option<&mut C> {
        self.members.get_mut(key).map(|m| &mut m.conn)
    }

    /// How writing to member `key` went.
    pub fn wrote(&mut self, key: usize, wrote: Wrote) {
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        match wrote {
            Wrote::Idle => {
                m.writing = Writing::Idle;
                m.standing.caught_up();
                if !m.in_idle && !m.waiting {
                    m.in_idle = true;
                    self.idle.push((key, m.outbox.id()));
                }
            }
            Wrote::Share => {
                m.writing = Writing::Queued;
                self.more_to_write.push(key);
            }
            Wrote::Blocked => m.writing = Writing::Blocked,
            // The member gets nothing more, but what it sent is still read
            // (in its turn, within its allowance) until the socket reports
            // the end; then it leaves.
            Wrote::Failed => m.unwritable = true,
        }
    }

    /// Member `key`'s socket has room again.
    pub fn writable(&mut self, key: usize) {
        if let Some(m) = self.members.get_mut(key) {
            if m.writing == Writing::Blocked {
                m.writing = Writing::Queued;
                self.to_write.push(key);
            }
        }
    }

    /// Member `key`'s connection has something of its own to send (a
    /// WebSocket's pong or close): write it this turn.
    pub fn flush_soon(&mut self, key: usize) {
        if let Some(m) = self.members.get_mut(key) {
            if m.writing != Writing::Queued {
                m.writing = Writing::Queued;
                self.to_write.push(key);
            }
        }
    }

    /// Time passed: returns the throttled members whose allowance has
    /// refilled (to be read again), and looks the members over when due.
    pub fn tick(&mut self, now: Instant) -> Vec<usize> {
        let mut woken = Vec::new();
        let mut i = 0;
        while i < self.throttled.len() {
            let key = self.throttled[i];
            match self.members.get_mut(key) {
                Some(m) if m.wake.is_some_and(|w| w > now) => i += 1,
                Some(m) => {
                    m.wake = None;
                    self.throttled.swap_remove(i);
                    woken.push(key);
                }
                None => {
                    self.throttled.swap_remove(i);
                }
            }
        }
        if now.duration_since(self.last_scan) >= SCAN_EVERY {
            self.scan(now);
        }
        woken
    }

    /// How long the caller may wait before [`Room::tick`] has something to
    /// do (`None`: nothing is due).
    pub fn timeout(&self, now: Instant) -> Option<Duration> {
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
        wait
    }

    /// Looks every member over (see [`super::flow`]): who is behind, who
    /// is stuck, drops stuck members past `max_queue`, trims the feed
    /// behind the slowest, and decides whether reading pauses.
    pub fn scan(&mut self, now: Instant) {
        let mut scan = Scan::new(self.feed.end());
        for (key, m) in self.members.iter_mut() {
            if !m.in_feed() {
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
    pub(super) fn make_room(&mut self, now: Instant) -> bool {
        self.scan(now);
        while !self.flow.has_room(self.feed.bytes()) {
            let candidates = self
                .members
                .iter()
                .filter(|(_, m)| m.in_feed())
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
                .filter(|(_, m)| m.in_feed())
                .map(|(_, m)| m.outbox.pos())
                .min()
                .unwrap_or(self.feed.end());
            self.feed.trim(min_pos);
        }
        true
    }
}
