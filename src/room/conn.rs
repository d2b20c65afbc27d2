//! A member's connection, as the poll loop keeps it in the room: a plain
//! TCP stream (nc, ncat, telnet, room-client, `lanchat --room`) or a
//! browser's WebSocket. This is the one place that tells the two apart:
//! reading ([`tcp::read`], [`page::read`]) and writing, where each renders
//! the room's entries in its own form (the wire bytes as they are, or the
//! page's JSON).

use std::time::Instant;

use mio::net::TcpStream;
use tungstenite::WebSocket;

use super::core::{Room, Took};
use super::web::{PageCache, WebConfig};
use super::{page, tcp};

/// Bytes written to one member per turn before others get theirs.
const WRITE_SHARE: usize = 1024 * 1024;

/// A member's connection.
pub enum Conn {
    /// nc, ncat, telnet, room-client, lanchat --room.
    Tcp(TcpStream),
    /// A browser.
    Page(Box<WebSocket<TcpStream>>),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_page() { "Page" } else { "Tcp" })
    }
}

impl Conn {
    /// The socket underneath.
    pub fn stream(&mut self) -> &mut TcpStream {
        match self {
            Conn::Tcp(s) => s,
            Conn::Page(ws) => ws.get_mut(),
        }
    }

    /// Whether it is a browser.
    pub fn is_page(&self) -> bool {
        matches!(self, Conn::Page(_))
    }
}

/// What the room keeps for each member: its connection and whether it
/// waits in the read round.
#[derive(Debug)]
pub struct Link {
    /// The connection.
    pub conn: Conn,
    /// In the read round.
    pub want_read: bool,
}

/// How a read turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Nothing more to read now (or the member is throttled, or leaving).
    Done,
    /// Its share is used, or the room paused: read it again in the next round.
    Again,
}

/// The room as the poll loop drives it.
pub type LinkedRoom = Room<Link>;

/// Whether member `key` reads on with `budget` bytes of its share left:
/// `None` to go on, else how its turn ends (it is leaving; or its share is
/// used, or the room paused, and it is read again next round).
pub fn turn_over(room: &LinkedRoom, key: usize, budget: usize) -> Option<Turn> {
    if room.leaving(key) {
        return Some(Turn::Done);
    }
    (budget == 0 || room.paused()).then_some(Turn::Again)
}

/// How a turn goes on once the room took what was read: on (`None`), or
/// ended (throttled: its allowance wakes it; paused: the next round).
pub fn after(took: Took) -> Option<Turn> {
    match took {
        Took::All => None,
        Took::Throttled => Some(Turn::Done),
        Took::Paused => Some(Turn::Again),
    }
}

/// Reads what member `key` sent and hands it to the room, up to its
/// share of this turn.
pub fn read(
    room: &mut LinkedRoom,
    key: usize,
    buf: &mut [u8],
    web: Option<&WebConfig>,
    now: Instant,
) -> Turn {
    let page = room.conn_mut(key).is_some_and(|l| l.conn.is_page());
    match (page, web) {
        (false, _) => tcp::read(room, key, buf, now),
        (true, Some(web)) => page::read(room, key, web, now),
        (true, None) => Turn::Done,
    }
}

/// The last of a member the room removed (kicked, banned, refused for
/// guessing): what it was told is written out as far as its socket takes
/// it now, then `line`, before the connection is closed: a TCP member reads
/// the line, a page the notice and a close frame that says why.
pub fn goodbye(room: &mut LinkedRoom, key: usize, pages: Option<&mut PageCache>, line: &[u8]) {
    use std::io::Write;
    let Some((link, outbox, feed)) = room.last_parts(key) else {
        return;
    };
    match (&mut link.conn, pages) {
        (Conn::Tcp(stream), _) => {
            tcp::write(stream, outbox, feed, WRITE_SHARE);
        }
        (Conn::Page(ws), Some(pages)) => {
            page::write(ws, outbox, feed, pages, WRITE_SHARE);
        }
        (Conn::Page(_), None) => {}
    }
    match &mut link.conn {
        Conn::Tcp(stream) => {
            let _ = stream.write(line);
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
        Conn::Page(ws) => {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end();
            if !text.is_empty() {
                let _ = ws.write(tungstenite::Message::text(super::web::notice(text)));
            }
            // A close reason is at most 123 bytes.
            let mut reason = if text.is_empty() {
                "removed from the room".to_string()
            } else {
                text.to_string()
            };
            while reason.len() > 120 {
                reason.pop();
            }
            page::say_goodbye(
                ws,
                tungstenite::protocol::frame::coding::CloseCode::Policy,
                &reason,
            );
        }
    }
}

/// Writes to member `key` what the room has for it, each entry in the
/// connection's own form, up to its share of this turn.
pub fn write(room: &mut LinkedRoom, key: usize, pages: Option<&mut PageCache>) {
    let Some((link, outbox, feed)) = room.write_parts(key) else {
        return;
    };
    let wrote = match (&mut link.conn, pages) {
        (Conn::Tcp(stream), _) => tcp::write(stream, outbox, feed, WRITE_SHARE),
        (Conn::Page(ws), Some(pages)) => page::write(ws, outbox, feed, pages, WRITE_SHARE),
        (Conn::Page(_), None) => return,
    };
    room.wrote(key, wrote);
}
