//! The messages a window keeps: oldest first, each with a sequence number,
//! bounded by count (`--scrollback`) and by bytes of text, so a flood of
//! large messages cannot grow memory without bound; what leaves is counted.

use std::collections::VecDeque;

use crate::chat::{Mark, Who};

/// Messages kept by default (`--scrollback`).
pub const DEFAULT_SCROLLBACK: usize = 10_000;
/// Bytes of message text kept in all, whatever `--scrollback` says.
pub const SCROLLBACK_BYTES: usize = 24 * 1024 * 1024;
/// Longest text shown for one message; the rest is cut (the log has it).
pub const ENTRY_TEXT_MAX: usize = 8 * 1024;

/// One message of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Sequence number (increasing; used for scrolling and marks).
    pub seq: u64,
    /// `HH:MM:SS` (empty for the window's own notes, such as `/help`).
    pub time: String,
    /// Sender.
    pub who: Who,
    /// Text, already terminal-safe (sanitized), cut at [`ENTRY_TEXT_MAX`].
    pub text: String,
    /// Delivery state of an own line, where the mode has one.
    pub mark: Option<Mark>,
}

/// The kept messages.
#[derive(Debug)]
pub struct Scrollback {
    entries: VecDeque<Entry>,
    next_seq: u64,
    max: usize,
    text_bytes: usize,
    /// Messages that left.
    evicted: u64,
    /// Counts the times entries were taken out of the middle or all at
    /// once (`/clear`, a line that could not be sent after all): a front
    /// end that copies the entries starts again when it changes.
    epoch: u64,
    /// Entries whose text or mark changed since [`Scrollback::take_modified`].
    modified: Vec<u64>,
}

impl Scrollback {
    /// Keeping at most `max` messages.
    pub fn new(max: usize) -> Self {
        Scrollback {
            entries: VecDeque::new(),
            next_seq: 1,
            max: max.max(1),
            text_bytes: 0,
            evicted: 0,
            epoch: 0,
            modified: Vec::new(),
        }
    }

    /// See the field: changes when entries left other than from the front.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The entries changed since the last call (sequence numbers, in the
    /// order they changed; one may be there twice).
    pub fn take_modified(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.modified)
    }

    fn touched(&mut self, seq: u64) {
        // Bounded: past this a front end would start again anyway.
        if self.modified.len() < 2 * self.max {
            self.modified.push(seq);
        } else {
            self.epoch += 1;
            self.modified.clear();
        }
    }

    /// The messages, oldest first.
    pub fn entries(&self) -> &VecDeque<Entry> {
        &self.entries
    }

    /// Messages that left the scrollback.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Entries made so far (the next one's sequence number less one).
    pub fn made(&self) -> u64 {
        self.next_seq - 1
    }

    /// The index of the entry numbered `seq`, if it is still kept.
    pub fn index_of(&self, seq: u64) -> Option<usize> {
        let first = self.entries.front()?.seq;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        (i < self.entries.len()).then_some(i)
    }

    /// Adds a message (its text cut at [`ENTRY_TEXT_MAX`]); returns its
    /// sequence number.
    pub fn push(&mut self, time: String, who: Who, mut text: String, mark: Option<Mark>) -> u64 {
        if text.len() > ENTRY_TEXT_MAX {
            let mut cut = ENTRY_TEXT_MAX;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let more = text.len() - cut;
            text.truncate(cut);
            text.push_str(&format!(" … (+{more} bytes)"));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.text_bytes += text.len();
        self.entries.push_back(Entry {
            seq,
            time,
            who,
            text,
            mark,
        });
        while self.entries.len() > self.max
            || (self.text_bytes > SCROLLBACK_BYTES && self.entries.len() > 1)
        {
            if let Some(old) = self.entries.pop_front() {
                self.text_bytes -= old.text.len();
                self.evicted += 1;
            }
        }
        seq
    }

    /// Replaces the text of entry `seq` (an offer's progress).
    pub fn set_text(&mut self, seq: u64, text: String) {
        if let Some(i) = self.index_of(seq) {
            self.text_bytes = self.text_bytes + text.len() - self.entries[i].text.len();
            self.entries[i].text = text;
            self.touched(seq);
        }
    }

    /// Sets the delivery mark of entry `seq`.
    pub fn set_mark(&mut self, seq: u64, mark: Mark) {
        if let Some(i) = self.index_of(seq) {
            self.entries[i].mark = Some(mark);
            self.touched(seq);
        }
    }

    /// Takes entries out (lines that could not be sent after all).
    pub fn remove(&mut self, seqs: &[u64]) {
        self.entries.retain(|e| !seqs.contains(&e.seq));
        self.text_bytes = self.entries.iter().map(|e| e.text.len()).sum();
        self.epoch += 1;
    }

    /// Forgets every entry (`/clear`).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.text_bytes = 0;
        self.epoch += 1;
    }
}
