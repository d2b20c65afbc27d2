//! The room's feed: everything said in the room, once, and each member's
//! place in it.
//!
//! ```text
//!            trimmed ◀─┐                              ┌─▶ appended
//! feed:  [seq 40][seq 41][seq 42][seq 43][seq 44][seq 45]
//!         ▲ slowest member      ▲ member B      ▲ member C (caught up at 46)
//! ```
//!
//! Every relayed line and every join or leave notice is appended to one
//! [`Feed`] once, for the whole room (as in Kafka's log with consumer
//! offsets, or the LMAX disruptor's ring with sequence numbers). A member
//! holds an [`Outbox`]: its position in the feed, how much of the entry
//! there it has written, and a small queue of notices meant for it alone
//! (`! line too long`, `! slow down`). Entries a member sent itself are
//! skipped for it. The feed is trimmed behind the slowest member, so memory
//! follows what that member has not read yet, not members × lines: a join
//! storm of N clients costs N entries, not N²/2.
//!
//! Everything here is plain data; the event loop in [`super::server`]
//! turns an outbox into vectored writes with [`Outbox::slices`] and
//! [`Outbox::advance`].

use std::cell::{Cell, OnceCell};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::rc::Rc;

use super::entry::Entry;

/// Bytes counted per entry on top of its data: the entry itself (its wire
/// bytes' pointer, what it is, its encoding, who sent it, its offset, its
/// re-encoded forms' pointer: 64 bytes) and the allocator's share of its
/// buffer, so [`Feed::bytes`] tracks real memory.
pub const ENTRY_OVERHEAD: usize = 80;
/// Encodings the feed keeps re-encoded forms in at most (members in a
/// further encoding get lines as they were sent).
pub const FORMS: usize = 8;

/// An entry's forms in the encodings of [`Feed::targets`], made when a
/// member in that encoding is first sent it.
type Forms = [OnceCell<Box<[u8]>>; FORMS];

const _: () = assert!(std::mem::size_of::<Held>() + 16 <= ENTRY_OVERHEAD);

/// A member's identity in the feed (never reused); 0 is nobody.
pub type MemberId = u64;

/// One line or notice in the feed.
#[derive(Debug)]
struct Held {
    entry: Entry,
    /// Who sent it (they do not get it back); 0 for notices to all.
    from: MemberId,
    /// Bytes of all entries before this one, since the feed began.
    offset: u64,
    /// Its re-encoded forms (only for an entry whose encoding is known).
    forms: OnceCell<Box<Forms>>,
}

/// The append-only sequence of everything said in the room.
#[derive(Debug, Default)]
pub struct Feed {
    entries: VecDeque<Held>,
    /// Sequence number of `entries[0]`.
    base: u64,
    /// Bytes of all entries ever appended.
    end_offset: u64,
    /// Memory held, as counted by [`Feed::bytes`].
    held: usize,
    /// Memory the re-encoded forms hold.
    forms_held: Cell<usize>,
    /// The encodings forms are made in (a member's slot is its index).
    targets: Vec<&'static encoding_rs::Encoding>,
}

impl Feed {
    /// An empty feed.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sequence number the next entry will get.
    pub fn end(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    /// Sequence number of the oldest entry held.
    #[cfg(test)]
    pub fn start(&self) -> u64 {
        self.base
    }

    /// Appends an entry from `from` (0: from nobody); returns its sequence
    /// number.
    pub fn push(&mut self, entry: Entry, from: MemberId) -> u64 {
        let seq = self.end();
        let len = entry.wire().len();
        self.held += len + ENTRY_OVERHEAD;
        let offset = self.end_offset;
        self.end_offset += len as u64;
        self.entries.push_back(Held {
            entry,
            from,
            offset,
            forms: OnceCell::new(),
        });
        seq
    }

    /// Bytes of all entries before `seq` since the feed began (`seq` between
    /// [`Feed::start`] and [`Feed::end`]).
    pub fn offset(&self, seq: u64) -> u64 {
        match self.entries.get(seq.saturating_sub(self.base) as usize) {
            Some(e) => e.offset,
            None => self.end_offset,
        }
    }

    /// Bytes of all entries ever appended.
    pub fn end_offset(&self) -> u64 {
        self.end_offset
    }

    /// Memory the entries held take: their bytes plus [`ENTRY_OVERHEAD`]
    /// each.
    pub fn bytes(&self) -> usize {
        self.held + self.forms_held.get()
    }

    /// The slot of the forms in `to` (made for the first member in it),
    /// or `None` when every slot is taken.
    pub fn slot(&mut self, to: &'static encoding_rs::Encoding) -> Option<u8> {
        if let Some(i) = self.targets.iter().position(|t| *t == to) {
            return u8::try_from(i).ok();
        }
        if self.targets.len() == FORMS {
            return None;
        }
        self.targets.push(to);
        u8::try_from(self.targets.len() - 1).ok()
    }

    /// What a member in `slot` is sent of `e`: its form in that encoding,
    /// or its own bytes.
    fn form<'a>(&'a self, e: &'a Held, slot: Option<u8>) -> &'a [u8] {
        let wire = e.entry.wire();
        let (Some(slot), Some(from)) = (slot, e.entry.enc()) else {
            return wire;
        };
        let Some(&to) = self.targets.get(usize::from(slot)) else {
            return wire;
        };
        if from == to {
            return wire;
        }
        let forms = e.forms.get_or_init(Default::default);
        forms[usize::from(slot)].get_or_init(|| {
            let form = e.entry.wire_in(to).unwrap_or_else(|| wire.into());
            self.forms_held.set(self.forms_held.get() + form.len());
            form
        })
    }

    /// Entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every entry before `seq` (no member needs them any more).
    pub fn trim(&mut self, seq: u64) {
        while self.base < seq {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            self.held -= e.entry.wire().len() + ENTRY_OVERHEAD;
            if let Some(forms) = e.forms.get() {
                let n: usize = forms.iter().filter_map(|f| f.get()).map(|f| f.len()).sum();
                self.forms_held.set(self.forms_held.get() - n);
            }
            self.base += 1;
        }
    }

    fn get(&self, seq: u64) -> Option<&Held> {
        self.entries.get(seq.checked_sub(self.base)? as usize)
    }
}

/// What one member still has to receive: its place in the [`Feed`] and the
/// notices for it alone.
#[derive(Debug)]
pub struct Outbox {
    id: MemberId,
    /// The next entry to send.
    pos: u64,
    /// Bytes of the entry at `pos` already written.
    written: usize,
    /// Bytes of this member's own entries at or after `pos` (skipped).
    own_ahead: u64,
    /// Lines for this member alone (notices, private lines, history), each
    /// with the feed position it was told at: it is sent once every entry
    /// before that position is, so it keeps its place among the room's
    /// lines (a `/msg` never overtakes the lines its sender sent before).
    private: VecDeque<(u64, Rc<Entry>)>,
    /// Bytes of the front notice already written.
    private_written: usize,
    /// Bytes of the notices still to send.
    private_bytes: usize,
    /// The feed's forms this member is sent (its encoding's slot), or
    /// `None`: entries as they are.
    slot: Option<u8>,
    /// A new slot, taken once the entry being written is out.
    next_slot: Option<Option<u8>>,
}

impl Outbox {
    /// A member `id` that receives everything appended from now on.
    pub fn new(id: MemberId, feed: &Feed) -> Self {
        Outbox {
            id,
            pos: feed.end(),
            written: 0,
            own_ahead: 0,
            private: VecDeque::new(),
            private_written: 0,
            private_bytes: 0,
            slot: None,
            next_slot: None,
        }
    }

    /// From now on this member is sent the feed's forms in `slot` (its
    /// encoding), or the entries as they are (`None`).
    pub fn set_slot(&mut self, slot: Option<u8>) {
        if self.written == 0 {
            self.slot = slot;
        } else {
            self.next_slot = Some(slot);
        }
    }

    /// A member that waits outside the room (for the password): it is
    /// sent nothing of the feed, so its place moves to the feed's end.
    pub fn skip_feed(&mut self, feed: &Feed) {
        if self.written == 0 {
            self.pos = feed.end();
            self.own_ahead = 0;
        }
    }

    /// The member this outbox belongs to.
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// Its position in the feed: the next entry to send.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Bytes still to send to this member: feed entries not its own, and
    /// private notices.
    pub fn backlog(&self, feed: &Feed) -> u64 {
        (feed.end_offset - feed.offset(self.pos))
            .saturating_sub(self.written as u64 + self.own_ahead)
            + (self.private_bytes - self.private_written) as u64
    }

    /// What this member holds up in the room's memory: its
    /// [`Outbox::backlog`] plus [`ENTRY_OVERHEAD`] for each feed entry it
    /// has not passed yet (the feed cannot be trimmed past it).
    pub fn cost(&self, feed: &Feed) -> u64 {
        self.backlog(feed) + feed.end().saturating_sub(self.pos) * ENTRY_OVERHEAD as u64
    }

    /// Whether nothing is left to send.
    pub fn is_empty(&self, feed: &Feed) -> bool {
        self.backlog(feed) == 0
    }

    /// Bytes of private notices waiting (memory the room holds for them).
    pub fn private_bytes(&self) -> usize {
        self.private_bytes
    }

    /// Must be called when this member's own line was appended at `seq`:
    /// a member that was caught up stays caught up; one that is behind
    /// will skip it.
    pub fn appended_own(&mut self, feed: &Feed, seq: u64) {
        let Some(e) = feed.get(seq) else {
            return;
        };
        if self.pos == seq && self.written == 0 {
            self.pos += 1;
            self.skip_own(feed);
        } else {
            self.own_ahead += e.entry.wire().len() as u64;
        }
    }

    /// Queues a line for this member alone, after everything the feed
    /// holds now (shared: a history line is one copy for every member told
    /// it).
    pub fn tell(&mut self, feed: &Feed, msg: Rc<Entry>) {
        self.private_bytes += msg.wire().len();
        self.private.push_back((feed.end(), msg));
    }

    /// The private line at `i`, if it is due at feed position `seq`.
    fn private_due(&self, i: usize, seq: u64) -> Option<&Entry> {
        match self.private.get(i) {
            Some((at, msg)) if *at <= seq => Some(msg),
            _ => None,
        }
    }

    /// Moves past the member's own entries at `pos`.
    fn skip_own(&mut self, feed: &Feed) {
        while self.written == 0 {
            match feed.get(self.pos) {
                Some(e) if e.from == self.id => {
                    self.own_ahead -= e.entry.wire().len() as u64;
                    self.pos += 1;
                }
                _ => return,
            }
        }
    }

    /// Fills `out` with what to write next, in order: the rest of what was
    /// begun (a feed entry or a private line), then feed entries (not the
    /// member's own) and private lines, each private line once the entries
    /// before its place are out. Returns how many slices it filled.
    pub fn slices<'a>(&'a self, feed: &'a Feed, out: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        let mut seq = self.pos;
        let mut i = 0; // the next private line
        if out.is_empty() {
            return 0;
        }
        if self.written > 0 {
            if let Some(e) = feed.get(seq) {
                let form = feed.form(e, self.slot);
                out[n] = IoSlice::new(&form[self.written.min(form.len())..]);
                n += 1;
                seq += 1;
            }
        } else if self.private_written > 0 {
            if let Some((_, msg)) = self.private.front() {
                out[n] = IoSlice::new(&msg.wire()[self.private_written..]);
                n += 1;
                i = 1;
            }
        }
        while n < out.len() {
            if let Some(msg) = self.private_due(i, seq) {
                out[n] = IoSlice::new(msg.wire());
                n += 1;
                i += 1;
                continue;
            }
            let Some(e) = feed.get(seq) else {
                break;
            };
            if e.from != self.id {
                out[n] = IoSlice::new(feed.form(e, self.slot));
                n += 1;
            }
            seq += 1;
        }
        n
    }

    /// The next whole item to send, for a member that only ever takes
    /// whole items (a WebSocket member, one message per item): a private
    /// line (`None`) or a feed entry not its own (its sequence number).
    /// Take it with [`Outbox::advance`] by its length.
    pub fn next_item<'a>(&'a self, feed: &'a Feed) -> Option<(Option<u64>, &'a Entry)> {
        debug_assert!(self.written == 0 && self.private_written == 0);
        let mut seq = self.pos;
        loop {
            if let Some(msg) = self.private_due(0, seq) {
                return Some((None, msg));
            }
            let e = feed.get(seq)?;
            if e.from != self.id {
                return Some((Some(seq), &e.entry));
            }
            seq += 1;
        }
    }

    /// Records that `n` bytes of what [`Outbox::slices`] offered were
    /// written.
    pub fn advance(&mut self, feed: &Feed, mut n: usize) {
        // The same order as `slices`.
        if self.written > 0 {
            let Some(e) = feed.get(self.pos) else {
                return;
            };
            let left = feed.form(e, self.slot).len().saturating_sub(self.written);
            if n < left {
                self.written += n;
                return;
            }
            n -= left;
            self.written = 0;
            self.pos += 1;
            if let Some(slot) = self.next_slot.take() {
                self.slot = slot;
            }
        } else if self.private_written > 0 {
            let Some((_, front)) = self.private.front() else {
                return;
            };
            let left = front.wire().len() - self.private_written;
            if n < left {
                self.private_written += n;
                return;
            }
            n -= left;
            self.pop_private();
        }
        while n > 0 {
            if let Some(front) = self.private_due(0, self.pos) {
                let left = front.wire().len();
                if n < left {
                    self.private_written = n;
                    return;
                }
                n -= left;
                self.pop_private();
                continue;
            }
            let Some(e) = feed.get(self.pos) else {
                return;
            };
            if e.from == self.id {
                self.own_ahead -= e.entry.wire().len() as u64;
                self.pos += 1;
                continue;
            }
            let left = feed.form(e, self.slot).len();
            if n < left {
                self.written = n;
                return;
            }
            n -= left;
            self.pos += 1;
        }
        self.skip_own(feed);
    }

    fn pop_private(&mut self) {
        if let Some((_, msg)) = self.private.pop_front() {
            self.private_bytes -= msg.wire().len();
        }
        self.private_written = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> Entry {
        Entry::notice(text.as_bytes())
    }

    /// Everything `slices` offers, written `chunk` bytes at a time.
    fn drain(out: &mut Outbox, feed: &Feed, chunk: usize) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            let mut iov = [IoSlice::new(&[]); 4];
            let n = out.slices(feed, &mut iov);
            let bytes: Vec<u8> = iov[..n].iter().flat_map(|s| s.iter().copied()).collect();
            if bytes.is_empty() {
                return got;
            }
            let take = bytes.len().min(chunk);
            got.extend_from_slice(&bytes[..take]);
            out.advance(feed, take);
        }
    }

    #[test]
    fn each_member_gets_every_entry_but_its_own_whatever_the_write_sizes() {
        for chunk in [1, 2, 3, 5, 7, 100] {
            let mut feed = Feed::new();
            let mut a = Outbox::new(1, &feed);
            let mut b = Outbox::new(2, &feed);
            let s = feed.push(entry("<a> one\n"), 1);
            a.appended_own(&feed, s);
            feed.push(entry("[c] entered room\n"), 3);
            let s = feed.push(entry("<b> two\n"), 2);
            b.appended_own(&feed, s);
            b.tell(&feed, entry("! slow down\n").into());
            let s = feed.push(entry("<a> three\n"), 1);
            a.appended_own(&feed, s);
            assert_eq!(a.backlog(&feed), 25, "chunk {chunk}");
            assert_eq!(
                String::from_utf8(drain(&mut a, &feed, chunk)).unwrap(),
                "[c] entered room\n<b> two\n"
            );
            assert_eq!(
                String::from_utf8(drain(&mut b, &feed, chunk)).unwrap(),
                "<a> one\n[c] entered room\n! slow down\n<a> three\n",
                "told after three entries, it comes after them"
            );
            assert!(a.is_empty(&feed) && b.is_empty(&feed));
            assert_eq!((a.pos(), b.pos()), (feed.end(), feed.end()));
        }
    }

    #[test]
    fn a_notice_told_mid_entry_waits_for_the_entry_to_end() {
        let mut feed = Feed::new();
        let mut m = Outbox::new(1, &feed);
        feed.push(entry("abcdef\n"), 0);
        let mut iov = [IoSlice::new(&[]); 4];
        m.slices(&feed, &mut iov);
        m.advance(&feed, 3);
        m.tell(&feed, entry("!\n").into());
        feed.push(entry("xy\n"), 0);
        assert_eq!(drain(&mut m, &feed, 100), b"def\n!\nxy\n");
    }

    #[test]
    fn whole_items_come_in_the_same_order_as_slices() {
        let mut feed = Feed::new();
        let mut m = Outbox::new(2, &feed);
        feed.push(entry("<a> one\n"), 1);
        let s = feed.push(entry("<b> own\n"), 2);
        m.appended_own(&feed, s);
        m.tell(&feed, entry("{\"kind\":\"you\"}").into());
        feed.push(entry("<a> two\n"), 1);
        let mut got = Vec::new();
        while let Some((seq, item)) = m.next_item(&feed) {
            got.push((
                seq.is_none(),
                String::from_utf8(item.wire().to_vec()).unwrap(),
            ));
            let n = item.wire().len();
            m.advance(&feed, n);
        }
        assert_eq!(
            got,
            vec![
                (false, "<a> one\n".to_string()),
                (true, "{\"kind\":\"you\"}".to_string()),
                (false, "<a> two\n".to_string())
            ]
        );
        assert!(m.is_empty(&feed));
    }

    #[test]
    fn a_caught_up_sender_stays_caught_up() {
        let mut feed = Feed::new();
        let mut a = Outbox::new(1, &feed);
        for _ in 0..3 {
            let s = feed.push(entry("<a> x\n"), 1);
            a.appended_own(&feed, s);
        }
        assert!(a.is_empty(&feed));
        assert_eq!(a.pos(), feed.end());
    }

    #[test]
    fn trim_follows_the_slowest_member_and_frees_memory() {
        let mut feed = Feed::new();
        let mut slow = Outbox::new(1, &feed);
        let mut fast = Outbox::new(2, &feed);
        for i in 0..10 {
            feed.push(entry(&format!("line {i}\n")), 0);
        }
        let full = feed.bytes();
        assert_eq!(full, 10 * (7 + ENTRY_OVERHEAD));
        drain(&mut fast, &feed, 1000);
        feed.trim(slow.pos().min(fast.pos()));
        assert_eq!(feed.bytes(), full, "the slow member still needs them all");
        let mut iov = [IoSlice::new(&[]); 4];
        slow.slices(&feed, &mut iov);
        slow.advance(&feed, 7 * 4 + 2);
        feed.trim(slow.pos().min(fast.pos()));
        assert_eq!((feed.start(), feed.len()), (4, 6));
        assert_eq!(slow.backlog(&feed), 7 * 6 - 2);
        assert_eq!(
            drain(&mut slow, &feed, 1000),
            b"ne 4\nline 5\nline 6\nline 7\nline 8\nline 9\n"
        );
        feed.trim(slow.pos());
        assert!(feed.is_empty());
        assert_eq!(feed.bytes(), 0);
    }
}
