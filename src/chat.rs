//! The chat model every front end and transport shares: who said what,
//! delivery marks, users online, what a line to send is, and the events a
//! transport reports. Plain data, no I/O: the window ([`crate::ui`]) owns
//! the state built from it, the transports ([`crate::transport`]) produce
//! it, and neither knows the other.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Which network a transport talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Datagrams on a UDP port (chat-window, input-box, the classic programs).
    Udp,
    /// A `room-server` connection.
    Room,
    /// An IP Messenger / FeiQ / iptux LAN.
    Ipmsg,
}

impl Mode {
    /// How the status line names the mode.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Udp => "UDP",
            Mode::Room => "room",
            Mode::Ipmsg => "IPMsg",
        }
    }

    /// Whether own lines wait for a receipt (✓ / ✗).
    pub fn confirms_delivery(self) -> bool {
        self == Mode::Ipmsg
    }
}

/// Who an entry is from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    /// This user.
    Me,
    /// A UDP sender.
    Peer(SocketAddr),
    /// A room member.
    Member(Member),
    /// A room member's private line (`/msg`) to this user.
    Private(Member),
    /// An IP Messenger user: nick and address.
    Nick {
        /// Nick (sanitized).
        nick: String,
        /// Address.
        addr: SocketAddr,
    },
    /// The room or the program itself (join/leave notices, help).
    Notice,
}

/// A room member as the room names it (`NAME@ip:port`, or `ip:port`),
/// read once when its line arrives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// As the room names it, sanitized.
    pub label: String,
    /// Its name, when it took one (sanitized).
    pub name: Option<String>,
    /// Its address, when the room's name holds one (a relay that is not a
    /// `room-server` may name members otherwise).
    pub addr: Option<SocketAddr>,
}

/// The delivery state of an own line (IP Messenger mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Waiting for the receipt.
    Pending,
    /// Acknowledged.
    Delivered,
    /// Never acknowledged.
    NotDelivered,
}

/// A received message, decoded and sanitized by the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// `HH:MM:SS` of arrival.
    pub time: String,
    /// Sender.
    pub who: Who,
    /// Text, terminal-safe.
    pub text: String,
}

/// What a transport's receiver counted besides messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drops {
    /// Dropped by `--allow`.
    pub allow: u64,
    /// Dropped by `--max-rate`.
    pub rate: u64,
    /// Malformed (counted, shown or ignored by the mode).
    pub malformed: u64,
}

/// One line to send: its text and the bytes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The text as typed.
    pub text: String,
    /// Encoded.
    pub bytes: Vec<u8>,
}

/// The group of a room's operator in [`User::group`] (shown as `@` before
/// its name, as IRC shows one).
pub const OPERATOR: &str = "@";

/// A user online (IP Messenger mode; a room's member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Nick, sanitized.
    pub nick: String,
    /// Group, sanitized.
    pub group: String,
    /// Address.
    pub addr: SocketAddr,
    /// Marked absent.
    pub absent: bool,
}

/// What a transport's threads report.
#[derive(Debug)]
pub enum Event {
    /// Messages received, and what was dropped meanwhile.
    Received(Vec<Incoming>, Drops),
    /// The network reported a destination unreachable: the warning.
    Unreachable(SocketAddr, String),
    /// The connection (room mode) ended: why.
    Disconnected(String),
    /// A warning for the status line.
    Warning(String),
    /// Who is online now.
    Users(Vec<User>),
    /// A user came or went (a line for the messages).
    Presence(String),
    /// The delivery state of an own line.
    Delivery {
        /// The window's entry.
        seq: u64,
        /// Its new state.
        mark: Mark,
    },
    /// Files offered, to this user or by it: a new entry.
    Offer(Offer),
    /// How an offer's transfers stand, shown after its entry.
    Progress {
        /// The offer's number.
        n: u64,
        /// `↓ 45% 10 MB of 22 MB, 3.1 MB/s`, `✓ saved in …`, `✗ …`.
        text: String,
        /// Whether `/get N` may (still, or again) fetch it.
        fetchable: bool,
    },
    /// Transfers running now, both ways (for the status line).
    Transfers(usize),
}

/// An offer of files and folders, as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Its number (`[N]`, for `/get N`, `/drop N`, `/cancel N`).
    pub n: u64,
    /// Who offers it (`Who::Me` for the user's own).
    pub who: Who,
    /// `报告.docx 2.3 MB, 图片/ 12 MB` (and `→ NICK` for an own offer),
    /// the message's text first when there is one.
    pub text: String,
    /// Offered to this user (not by it).
    pub incoming: bool,
}

/// What the window asks of files (IP Messenger mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCommand {
    /// `/send PATH...`: offer these to the chosen user, or everyone.
    Send(Vec<PathBuf>),
    /// Offer what a folder of lanchat's own holds (files and folders the
    /// desktop window's page handed over), to the chosen user or everyone;
    /// the folder goes when the offer ends.
    SendSpool(Spool),
    /// `/get N`: fetch offer N into the download folder.
    Get(u64),
    /// `/drop N`: decline offer N.
    Drop(u64),
    /// `/cancel N`: end an own offer N.
    Cancel(u64),
}

/// A folder of lanchat's own that holds files to offer (what the desktop
/// window's page handed over), removed when the last holder lets go: the
/// offer made of it ending (every recipient done, or `/cancel`), or
/// lanchat quitting. (The one thing here that touches the disk: on drop.)
#[derive(Clone, Debug)]
pub struct Spool(Arc<SpoolDir>);

#[derive(Debug)]
struct SpoolDir(PathBuf);

impl Drop for SpoolDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Spool {
    /// Holds `dir`, removing it once the last copy is dropped.
    pub fn new(dir: PathBuf) -> Spool {
        Spool(Arc::new(SpoolDir(dir)))
    }

    /// The folder.
    pub fn path(&self) -> &std::path::Path {
        &self.0 .0
    }

    /// What it holds (its top level), in name order: what is offered.
    ///
    /// # Errors
    /// The folder cannot be read.
    pub fn items(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut items: Vec<PathBuf> = std::fs::read_dir(self.path())?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        items.sort();
        Ok(items)
    }
}

impl PartialEq for Spool {
    fn eq(&self, other: &Self) -> bool {
        self.path() == other.path()
    }
}

impl Eq for Spool {}

/// Where a transport's threads hand their [`Event`]s: the window's event
/// channel, or a test's. Cheap to clone, one per thread.
#[derive(Clone)]
pub struct Sink(Arc<dyn Fn(Event) -> bool + Send + Sync>);

impl Sink {
    /// A sink calling `f`, which says whether anyone still listens.
    pub fn new(f: impl Fn(Event) -> bool + Send + Sync + 'static) -> Sink {
        Sink(Arc::new(f))
    }

    /// Hands over an event; false when nobody listens any more (the
    /// thread should end).
    pub fn send(&self, event: Event) -> bool {
        (self.0)(event)
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}
