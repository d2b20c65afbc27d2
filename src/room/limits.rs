//! The room's limits (`--max-clients`, `--max-line`, `--max-rate`, the
//! queue and memory bounds, `--max-per-host`, the history) and the counts
//! it keeps.

use super::feed::ENTRY_OVERHEAD;
use super::flow::Flow;
use rust_i18n::t;

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
    /// `--password`: members are held back until they give it (`/pass`).
    pub password: Option<Box<[u8]>>,
    /// `--op-password`: `/op` with it makes a member an operator.
    pub op_password: Option<Box<[u8]>>,
    /// `--bans FILE`: the bans, kept over a restart.
    pub bans_file: Option<std::path::PathBuf>,
    /// `--relay-bytes`: lines pass as they were sent, never re-encoded.
    pub relay_bytes: bool,
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
            password: None,
            op_password: None,
            bans_file: None,
            relay_bytes: false,
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
            return Err(t!(
                "room.max_memory",
                memory = self.max_memory,
                line = self.max_line,
                least = 2 * self.entry_max()
            )
            .into_owned());
        }
        Ok(())
    }

    /// The flow rules' limits: the high-water mark of one member is a
    /// quarter of the smaller of `max_queue` and `max_memory`.
    pub(super) fn flow(&self) -> Flow {
        Flow {
            high: (self.max_queue.min(self.max_memory) / 4) as u64,
            max_queue: self.max_queue as u64,
            max_memory: self.max_memory,
            entry_max: self.entry_max(),
        }
    }
}

/// Counts kept by the room.
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
    /// Connections refused for a ban or for guessing passwords.
    pub banned: u64,
    /// The most the feed held at once, in bytes (`Feed::bytes`).
    pub peak_feed_bytes: usize,
}
