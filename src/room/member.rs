//! A member of the room: its connection (a plain TCP stream, or a browser's
//! WebSocket), its framer and allowance, its place in the feed, and the
//! reads and writes on its socket. The server ([`super::server`]) decides
//! what happens with what is read and when to write; this module only
//! moves bytes and says how far it got.

use std::io::{self, IoSlice, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

use super::feed::{Feed, MemberId, Outbox};
use super::flow::Standing;
use super::framer::Framer;
use super::web::PageCache;
use crate::filter::Bucket;

/// Buffers written per vectored write.
const IOV_MAX: usize = 64;
/// Bytes of WebSocket messages put together before one write: what a
/// browser member may hold outside the feed when its socket is full.
pub const WEB_BATCH: usize = 16 * 1024;

/// A member's connection: a plain TCP stream (nc, room-client, lanchat)
/// or a WebSocket (a browser on the web page).
pub enum Conn {
    /// nc, ncat, telnet, room-client, lanchat --room.
    Tcp(TcpStream),
    /// A browser.
    Web(Box<WebSocket<TcpStream>>),
}

impl Conn {
    /// A browser's upgraded connection; `rest` are the bytes it sent after
    /// its request. Frames are at most one room line; tungstenite's read
    /// buffer is small, as thousands of browsers may be members.
    pub fn websocket(stream: TcpStream, rest: Vec<u8>, max_line: usize) -> Conn {
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(WEB_BATCH)
            .max_write_buffer_size(8 * max_line + 4 * WEB_BATCH)
            .max_message_size(Some(max_line))
            .max_frame_size(Some(max_line));
        Conn::Web(Box::new(WebSocket::from_partially_read(
            stream,
            rest,
            Role::Server,
            Some(config),
        )))
    }

    /// The socket underneath.
    pub fn stream(&mut self) -> &mut TcpStream {
        match self {
            Conn::Tcp(s) => s,
            Conn::Web(ws) => ws.get_mut(),
        }
    }
}

/// Where a member stands with writing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Writing {
    /// Nothing to send; in the idle list, woken by the next entry.
    Idle,
    /// Something to send; in the server's write lists.
    Queued,
    /// The socket is full; waits for mio's writable event.
    Blocked,
}

/// How far a write turn got.
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

/// What a browser sent, read by [`Member::read_message`].
#[derive(Debug)]
pub enum FromPage {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message (refused).
    Binary,
    /// Ping, pong or close: tungstenite answers them on the next flush.
    Control,
    /// Nothing more now.
    Nothing,
    /// The browser closed the connection.
    Closed,
    /// A message over the frame limit.
    TooBig,
    /// Text that is not UTF-8.
    NotUtf8,
    /// Another breach of the protocol.
    Protocol(String),
    /// The connection failed.
    Failed(String),
}

/// Why a member left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leave {
    /// It closed the connection.
    Closed,
    /// The connection failed (reset, broken pipe…): what the OS said.
    Failed(String),
    /// Dropped: too far behind.
    TooSlow,
}

/// One member.
pub struct Member {
    /// Its connection.
    pub conn: Conn,
    /// Where it connects from.
    pub addr: std::net::SocketAddr,
    /// Its address as the room shows it (`ip:port`, `[v6]:port`).
    pub name: String,
    /// Its name, once it took one (`/nick`): bytes in its own encoding.
    pub nick: Option<Box<[u8]>>,
    /// How its lines and notices name it: `NAME@ip:port`, or `ip:port`.
    pub label: Box<[u8]>,
    /// Its lines, from its bytes.
    pub framer: Framer,
    /// Its place in the feed, and notices for it alone.
    pub outbox: Outbox,
    /// Bytes read but not yet framed: the rest of a read when the member
    /// was throttled, or the room paused, in the middle of it.
    pub inbox: Vec<u8>,
    /// Its `--max-rate` allowance.
    pub bucket: Option<Bucket>,
    /// Whether it was told `! slow down`.
    pub told_slow_down: bool,
    /// Throttled: not read until then.
    pub wake: Option<Instant>,
    /// How long it has been behind (see [`super::flow`]).
    pub standing: Standing,
    /// Marked for removal; gets nothing more, is read no more.
    pub leaving: bool,
    /// Writing to it failed (the peer reset the connection): it gets
    /// nothing more, but what it sent before is still read and relayed
    /// (TCP keeps what had arrived readable after a reset) until the
    /// socket reports the end.
    pub unwritable: bool,
    /// In the read round.
    pub want_read: bool,
    /// Where it stands with writing.
    pub writing: Writing,
    /// In the idle list.
    pub in_idle: bool,
}

impl Member {
    /// A member `id` joining now: it receives what is appended to `feed`
    /// from now on.
    pub fn new(
        conn: Conn,
        addr: std::net::SocketAddr,
        id: MemberId,
        feed: &Feed,
        max_line: usize,
        bucket: Option<Bucket>,
    ) -> Member {
        Member {
            conn,
            addr,
            name: addr.to_string(),
            nick: None,
            label: addr.to_string().into_bytes().into(),
            framer: Framer::new(max_line),
            outbox: Outbox::new(id, feed),
            inbox: Vec::new(),
            bucket,
            told_slow_down: false,
            wake: None,
            standing: Standing::default(),
            leaving: false,
            unwritable: false,
            want_read: false,
            writing: Writing::Idle,
            in_idle: true,
        }
    }

    /// Whether it is still sent anything (and so holds a place in the feed).
    pub fn receives(&self) -> bool {
        !self.leaving && !self.unwritable
    }

    /// Its label for stderr.
    pub fn shown(&self) -> String {
        String::from_utf8_lossy(&self.label).into_owned()
    }

    /// Whether it is a browser.
    pub fn is_web(&self) -> bool {
        matches!(self.conn, Conn::Web(_))
    }

    /// Reads what a TCP member sent into `buf`.
    ///
    /// # Errors
    /// The OS error (`WouldBlock` when nothing more is there).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.conn.stream().read(buf)
    }

    /// Reads a browser's next message.
    pub fn read_message(&mut self) -> FromPage {
        let Conn::Web(ws) = &mut self.conn else {
            return FromPage::Nothing;
        };
        loop {
            return match ws.read() {
                Ok(Message::Text(text)) => FromPage::Text(text),
                Ok(Message::Binary(_)) => FromPage::Binary,
                Ok(_) => FromPage::Control,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    FromPage::Nothing
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {
                    continue
                }
                Err(tungstenite::Error::ConnectionClosed)
                | Err(tungstenite::Error::AlreadyClosed)
                | Err(tungstenite::Error::Protocol(
                    tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                )) => FromPage::Closed,
                Err(tungstenite::Error::Capacity(_)) => FromPage::TooBig,
                Err(tungstenite::Error::Utf8(_)) => FromPage::NotUtf8,
                Err(tungstenite::Error::Protocol(p)) => FromPage::Protocol(p.to_string()),
                Err(e) => FromPage::Failed(e.to_string()),
            };
        }
    }

    /// Closes a browser's connection with a close frame that says why.
    pub fn close_web(&mut self, code: CloseCode, reason: &str) {
        let Conn::Web(ws) = &mut self.conn else {
            return;
        };
        let _ = ws.close(Some(CloseFrame {
            code,
            reason: reason.to_string().into(),
        }));
        let _ = ws.flush();
        // Read what is left of its input, so closing does not reset the
        // connection before the close frame is read.
        let mut sink = [0u8; 16 * 1024];
        for _ in 0..64 {
            match ws.get_mut().read(&mut sink) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        let _ = ws.get_mut().shutdown(std::net::Shutdown::Write);
    }

    /// Writes to a TCP member what its outbox holds, up to `budget` bytes.
    pub fn write_tcp(&mut self, feed: &Feed, mut budget: usize) -> Wrote {
        loop {
            let mut slices = [IoSlice::new(&[]); IOV_MAX];
            let n = self.outbox.slices(feed, &mut slices);
            if n == 0 {
                return Wrote::Idle;
            }
            let Conn::Tcp(stream) = &mut self.conn else {
                return Wrote::Failed;
            };
            match stream.write_vectored(&slices[..n]) {
                Ok(0) => return Wrote::Failed,
                Ok(written) => {
                    self.outbox.advance(feed, written);
                    budget = budget.saturating_sub(written);
                    if budget == 0 {
                        return Wrote::Share;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Wrote::Blocked,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Wrote::Failed,
            }
        }
    }

    /// One WebSocket text message per feed entry or private message, up to
    /// [`WEB_BATCH`] bytes at a time, then one write, up to `budget`
    /// bytes. More is taken from the feed only once tungstenite has
    /// written the last batch out, so what a slow browser holds stays in
    /// the feed (and counts in its cost), not in a buffer of its own.
    pub fn write_web(&mut self, feed: &Feed, pages: &mut PageCache, mut budget: usize) -> Wrote {
        loop {
            let Conn::Web(ws) = &mut self.conn else {
                return Wrote::Failed;
            };
            match ws.flush() {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Wrote::Blocked;
                }
                Err(_) => return Wrote::Failed,
            }
            if budget == 0 {
                return Wrote::Share;
            }
            let mut batch = 0;
            while batch < WEB_BATCH {
                let Some((seq, item)) = self.outbox.next_item(feed) else {
                    break;
                };
                let len = item.len();
                let text = match seq {
                    None => Utf8Bytes::from(String::from_utf8_lossy(item).into_owned()),
                    Some(seq) => pages.get(seq, item),
                };
                batch += text.len();
                match ws.write(Message::Text(text)) {
                    Ok(()) => {}
                    // Buffered by tungstenite; flushed above next time round.
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // Not taken: it stays in the feed for the next turn.
                    Err(tungstenite::Error::WriteBufferFull(_)) => return Wrote::Blocked,
                    Err(_) => return Wrote::Failed,
                }
                self.outbox.advance(feed, len);
                budget = budget.saturating_sub(len);
            }
            if batch == 0 {
                return Wrote::Idle;
            }
        }
    }
}
