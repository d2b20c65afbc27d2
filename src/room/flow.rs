//! The room's flow control: who holds the room back, who is stuck, who is
//! dropped, and whether the feed has room for another line. A pure core
//! with no sockets and no clock (the caller passes `Instant`s in), like
//! [`crate::ipmsg::engine`], so every rule is unit-tested on made-up times.
//!
//! The rules, for each member's cost (what it holds up in memory, see
//! [`super::feed::Outbox::cost`]):
//!
//! * over the **high-water mark** (a quarter of the smaller of
//!   `--max-queue` and `--max-memory`) the member is **behind**: the room
//!   stops reading senders until it catches up (backpressure), so a burst
//!   never costs a reader its place;
//! * behind for [`STALL`] it is **stuck**: it no longer holds the room
//!   back, and once its cost passes `--max-queue` it is **dropped**;
//! * when the feed would pass `--max-memory`, stuck members are dropped
//!   furthest behind first ([`Flow::victim`]); a member that keeps up never
//!   is, and if none is stuck yet the room waits.

use std::time::{Duration, Instant};

/// A member over the high-water mark this long is stuck.
pub const STALL: Duration = Duration::from_secs(1);

/// The limits, as the flow rules use them.
#[derive(Debug, Clone, Copy)]
pub struct Flow {
    /// The high-water mark of one member, in bytes of cost.
    pub high: u64,
    /// `--max-queue`: a stuck member past it is dropped.
    pub max_queue: u64,
    /// `--max-memory`: what the feed may hold.
    pub max_memory: usize,
    /// The largest entry one line can add to the feed.
    pub entry_max: usize,
}

/// Where one member stands, kept by the member between scans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// Since when its cost has been over the high-water mark.
    over_since: Option<Instant>,
}

impl Standing {
    /// It caught up (nothing left to send).
    pub fn caught_up(&mut self) {
        self.over_since = None;
    }

    /// Whether it has been over the high-water mark for [`STALL`].
    pub fn stuck(&self, now: Instant) -> bool {
        self.over_since
            .is_some_and(|since| now.duration_since(since) >= STALL)
    }
}

/// What a member is, after a look at its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Under the high-water mark.
    Fine,
    /// Over it, not for long: the room waits for it.
    Behind,
    /// Over it for [`STALL`]: the room goes on without it.
    Stuck,
    /// Stuck and past `--max-queue`: to be dropped as too slow.
    Drop,
}

impl Flow {
    /// Looks at one member whose cost is `cost` now, updating its standing.
    pub fn assess(&self, standing: &mut Standing, cost: u64, now: Instant) -> State {
        if cost > self.high {
            standing.over_since.get_or_insert(now);
        } else {
            standing.over_since = None;
            return State::Fine;
        }
        match standing.stuck(now) {
            true if cost > self.max_queue => State::Drop,
            true => State::Stuck,
            false => State::Behind,
        }
    }

    /// Whether a feed holding `bytes` can take the longest line without
    /// passing `--max-memory`.
    pub fn has_room(&self, bytes: usize) -> bool {
        bytes + self.entry_max <= self.max_memory
    }

    /// The member to drop for memory: of the stuck ones, the furthest
    /// behind (the lowest position in the feed). `members` gives each
    /// one's key, position and whether it is stuck.
    pub fn victim<K>(&self, members: impl Iterator<Item = (K, u64, bool)>) -> Option<K> {
        members
            .filter(|(_, _, stuck)| *stuck)
            .min_by_key(|(_, pos, _)| *pos)
            .map(|(key, _, _)| key)
    }
}

/// What one scan of every member found, member by member.
#[derive(Debug, Clone, Copy)]
pub struct Scan {
    /// A member that is not stuck is over the high-water mark.
    pub behind: bool,
    /// The lowest position of a member still sent anything: the feed is
    /// trimmed to it.
    pub min_pos: u64,
    /// The lowest feed offset of a member not stuck.
    min_free: u64,
    /// The lowest feed offset of a stuck member.
    min_stuck: u64,
}

impl Scan {
    /// A scan of a feed whose end is at `end`.
    pub fn new(end: u64) -> Self {
        Scan {
            behind: false,
            min_pos: end,
            min_free: u64::MAX,
            min_stuck: u64::MAX,
        }
    }

    /// Counts one member that stays: its state, position and offset.
    pub fn add(&mut self, state: State, pos: u64, offset: u64) {
        self.behind |= state == State::Behind;
        self.min_pos = self.min_pos.min(pos);
        if state == State::Stuck {
            self.min_stuck = self.min_stuck.min(offset);
        } else {
            self.min_free = self.min_free.min(offset);
        }
    }

    /// The feed offset at which the next scan is due if nothing else
    /// changes: when a member not stuck could reach the high-water mark,
    /// or a stuck one `--max-queue` (costs grow no faster than the feed).
    pub fn next_at(&self, flow: &Flow) -> u64 {
        self.min_free
            .saturating_add(flow.high)
            .min(self.min_stuck.saturating_add(flow.max_queue))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> Flow {
        Flow {
            high: 100,
            max_queue: 400,
            max_memory: 1000,
            entry_max: 50,
        }
    }

    #[test]
    fn a_member_over_the_mark_is_behind_then_stuck_then_dropped() {
        let f = flow();
        let t0 = Instant::now();
        let mut s = Standing::default();
        assert_eq!(
            f.assess(&mut s, 100, t0),
            State::Fine,
            "at the mark is fine"
        );
        assert_eq!(f.assess(&mut s, 101, t0), State::Behind);
        let just_before = t0 + STALL - Duration::from_millis(1);
        assert_eq!(f.assess(&mut s, 500, just_before), State::Behind);
        assert_eq!(f.assess(&mut s, 400, t0 + STALL), State::Stuck);
        assert!(s.stuck(t0 + STALL));
        assert_eq!(f.assess(&mut s, 401, t0 + STALL), State::Drop);
        // Catching up, even for a moment, starts the clock again.
        assert_eq!(f.assess(&mut s, 0, t0 + STALL * 2), State::Fine);
        assert_eq!(f.assess(&mut s, 500, t0 + STALL * 2), State::Behind);
        s.caught_up();
        assert!(!s.stuck(t0 + STALL * 9));
    }

    #[test]
    fn memory_drops_the_stuck_member_furthest_behind_and_never_one_that_keeps_up() {
        let f = flow();
        let members = vec![
            ("a", 10, false),
            ("b", 30, true),
            ("c", 20, true),
            ("d", 5, false),
        ];
        assert_eq!(f.victim(members.into_iter()), Some("c"));
        assert_eq!(f.victim(vec![("a", 1, false)].into_iter()), None);
        assert!(f.has_room(950));
        assert!(!f.has_room(951));
    }

    #[test]
    fn a_scan_says_who_holds_the_room_and_when_to_look_again() {
        let f = flow();
        let mut scan = Scan::new(9);
        assert_eq!(scan.next_at(&f), u64::MAX, "nobody: never");
        scan.add(State::Fine, 7, 700);
        scan.add(State::Stuck, 3, 300);
        assert!(!scan.behind);
        assert_eq!(scan.min_pos, 3);
        assert_eq!(
            scan.next_at(&f),
            700,
            "the stuck one reaches max_queue first"
        );
        scan.add(State::Behind, 8, 550);
        assert!(scan.behind);
        assert_eq!(
            scan.next_at(&f),
            650,
            "the one behind reaches the mark first"
        );
    }
}
