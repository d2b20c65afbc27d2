//! What the desktop window's tabs are sent: the session as the page draws
//! it (entries with their sender, address and kind, the status, the
//! members, the counts), kept with revisions so that each tab is sent only
//! what changed since it last read, or all of it again when it fell
//! behind. A tab that stops reading is sent the newest state when it reads
//! again, never a backlog: it asks for what is newer than what it has.
//!
//! ```text
//! Session ──publish (≤ 30 a second)──▶ View (entries, revisions, meta)
//! tab ──since(seen)──▶ one JSON update: new and changed entries, the meta if it changed;
//!                      everything again (reset) when `seen` is too old
//! ```
//!
//! Pure: no socket, no thread; the loop publishes, the tabs' threads read.

use std::collections::VecDeque;

use serde::Serialize;

use crate::chat::{Mark, Who};
use crate::session::{Entry, Level, Session};

/// Entries sent in one update at most: past it a tab is sent the newest
/// (a flood is not read row by row; the page stays usable).
pub const MAX_PER_UPDATE: usize = 200;
/// Entries the view keeps, the newest (what a tab opened or reloaded gets;
/// the page draws no more than this either).
pub const VIEW_MAX: usize = 2000;

/// One entry as the page draws it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryView {
    seq: u64,
    #[serde(skip)]
    rev: u64,
    time: String,
    /// How the sender is shown (`老王 (192.168.1.22:3456)`, `me`, `*`).
    from: String,
    /// The sender's address, when it has one (the page colours by it).
    #[serde(skip_serializing_if = "Option::is_none")]
    addr: Option<String>,
    /// `peer`, `me`, `notice`, `private`.
    kind: &'static str,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    mark: Option<&'static str>,
    /// The offer this entry shows (its number), with whether `/get` may
    /// fetch it.
    #[serde(skip_serializing_if = "Option::is_none")]
    offer: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    fetchable: bool,
}

/// A member of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    name: String,
    addr: String,
    group: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    selected: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    me: bool,
}

/// Everything but the entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meta {
    mode: &'static str,
    title: String,
    listen: String,
    target: String,
    encoding: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<(&'static str, String)>,
    received: u64,
    senders: usize,
    evicted: u64,
    dropped: u64,
    transfers: usize,
    /// Who is online (IP Messenger, room), or the senders heard (UDP).
    members: Vec<MemberView>,
    hints: Vec<String>,
    newcomer: bool,
}

/// One update for a tab.
#[derive(Debug, Serialize)]
struct Update<'a> {
    kind: &'static str,
    /// Everything is here: what the page had is gone.
    reset: bool,
    /// The oldest entry kept: the page drops those before it.
    first: u64,
    entries: Vec<&'a EntryView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<&'a Meta>,
}

/// The state the tabs read.
#[derive(Debug, Default)]
pub struct View {
    rev: u64,
    entries: VecDeque<EntryView>,
    /// A tab that last read before this revision is sent everything.
    reset_rev: u64,
    epoch: Option<u64>,
    meta: Option<Meta>,
    meta_rev: u64,
}

fn who_kind(who: &Who) -> &'static str {
    match who {
        Who::Me => "me",
        Who::Notice => "notice",
        Who::Private(_) => "private",
        Who::Peer(_) | Who::Member(_) | Who::Nick { .. } => "peer",
    }
}

fn who_addr(who: &Who) -> Option<String> {
    match who {
        Who::Peer(a) | Who::Nick { addr: a, .. } => Some(a.to_string()),
        Who::Member(m) | Who::Private(m) => m.addr.map(|a| a.to_string()),
        Who::Me | Who::Notice => None,
    }
}

fn mark_name(mark: Option<Mark>) -> Option<&'static str> {
    mark.map(|m| match m {
        Mark::Pending => "pending",
        Mark::Delivered => "delivered",
        Mark::NotDelivered => "not-delivered",
    })
}

impl View {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// The newest revision (a tab that has it has everything).
    pub fn rev(&self) -> u64 {
        self.rev
    }

    fn entry(&self, s: &Session, e: &Entry, rev: u64) -> EntryView {
        let offer = s.offer_of(e.seq);
        EntryView {
            seq: e.seq,
            rev,
            time: e.time.clone(),
            from: s.sender_label(&e.who),
            addr: who_addr(&e.who),
            kind: who_kind(&e.who),
            text: e.text.clone(),
            mark: mark_name(e.mark),
            offer: offer.map(|(n, _)| n),
            fetchable: offer.is_some_and(|(_, f)| f),
        }
    }

    /// Takes what changed in the session since the last call. Returns
    /// whether anything did.
    pub fn publish(&mut self, s: &mut Session) -> bool {
        let before = self.rev;
        let next = self.rev + 1;
        let modified = s.scrollback_mut().take_modified();
        let epoch = s.scrollback().epoch();
        if self.epoch != Some(epoch) {
            // Entries left from the middle (or it is the first time):
            // everything again.
            self.epoch = Some(epoch);
            let from = s.entries().len().saturating_sub(VIEW_MAX);
            self.entries = s
                .entries()
                .range(from..)
                .map(|e| self.entry(s, e, next))
                .collect();
            self.reset_rev = next;
            self.rev = next;
        } else {
            let last = self.entries.back().map_or(0, |e| e.seq);
            let mut start = s.entries().partition_point(|e| e.seq <= last);
            // A flood: only the newest are made into views.
            start = start.max(s.entries().len().saturating_sub(VIEW_MAX));
            let grew = start < s.entries().len();
            for e in s.entries().range(start..) {
                self.entries.push_back(self.entry(s, e, next));
            }
            let first = s.entries().front().map_or(u64::MAX, |e| e.seq);
            while self.entries.front().is_some_and(|e| e.seq < first)
                || self.entries.len() > VIEW_MAX
            {
                self.entries.pop_front();
            }
            let mut changed = grew;
            for seq in modified {
                let Some(i) = s.scrollback().index_of(seq) else {
                    continue;
                };
                let fresh = self.entry(s, &s.entries()[i], next);
                if let Some(old) = self.entries.iter_mut().rev().find(|v| v.seq == seq) {
                    *old = fresh;
                    changed = true;
                }
            }
            if changed {
                self.rev = next;
            }
        }
        let meta = meta(s);
        if self.meta.as_ref() != Some(&meta) {
            self.meta = Some(meta);
            self.rev = next;
            self.meta_rev = next;
        }
        self.rev != before
    }

    /// The update for a tab that has everything up to revision `seen` (0:
    /// nothing yet): `None` when it is up to date, else the newest
    /// revision and the JSON to send.
    pub fn since(&self, seen: u64) -> Option<(u64, String)> {
        if seen >= self.rev {
            return None;
        }
        let mut reset = seen < self.reset_rev || seen == 0;
        let mut entries: Vec<&EntryView> = if reset {
            self.entries.iter().collect()
        } else {
            self.entries.iter().filter(|e| e.rev > seen).collect()
        };
        if entries.len() > MAX_PER_UPDATE {
            // A flood: the newest, and the page starts again from them.
            reset = true;
            entries.drain(..entries.len() - MAX_PER_UPDATE);
        }
        let first = entries
            .first()
            .filter(|_| reset)
            .map(|e| e.seq)
            .or(self.entries.front().map(|e| e.seq))
            .unwrap_or(0);
        let update = Update {
            kind: "state",
            reset,
            first,
            entries,
            meta: self.meta.as_ref().filter(|_| reset || self.meta_rev > seen),
        };
        let json = serde_json::to_string(&update).expect("an update always serializes");
        Some((self.rev, json))
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Error => "error",
    }
}

/// Everything but the entries, as the page shows it.
fn meta(s: &Session) -> Meta {
    let info = s.info();
    let (received, senders, evicted) = s.counts();
    let drops = s.drops();
    let me = info.listen.as_str();
    // IP Messenger and room: who is online; UDP: the senders heard.
    let members: Vec<MemberView> = match s.users() {
        Some(users) => users
            .iter()
            .map(|u| MemberView {
                // A room's operator has the group `@` (the page marks it).
                name: u.nick.clone(),
                addr: u.addr.to_string(),
                group: u.group.clone(),
                selected: s.selected() == Some(u.addr),
                me: u.addr.to_string() == me,
            })
            .collect(),
        None => s
            .peers_heard()
            .into_iter()
            .map(|(name, addr)| MemberView {
                name,
                addr: addr.to_string(),
                group: String::new(),
                selected: false,
                me: false,
            })
            .collect(),
    };
    Meta {
        mode: info.mode.label(),
        title: info.title.clone(),
        listen: info.listen.clone(),
        target: info.target.clone(),
        encoding: info.encoding.clone(),
        status: s.status().map(|(l, t)| (level_name(*l), t.clone())),
        received,
        senders,
        evicted,
        dropped: drops.allow + drops.rate,
        transfers: s.transfers(),
        members,
        hints: s.hints(),
        newcomer: s.newcomer(),
    }
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
