//! A page member (a browser on `room-server --web`): one WebSocket
//! message in is one or more room lines (encoded with `--web-encoding`,
//! each taken whole by the room); each entry of the room goes out as one
//! JSON message, made once per feed entry for all the pages
//! ([`PageCache`]).

use std::io::{self, Read};
use std::time::Instant;

use mio::net::TcpStream;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

use super::conn::{after, turn_over, Conn, LinkedRoom, Turn};
use super::core::{Leave, Wrote};
use super::entry::Entry;
use super::feed::{Feed, Outbox};
use super::tcp::READ_SHARE;
use super::web::{self, PageCache, WebConfig};

/// Bytes of WebSocket messages put together before one write: what a
/// browser member may hold outside the feed when its socket is full.
pub const WEB_BATCH: usize = 16 * 1024;

/// A browser's upgraded connection; `rest` are the bytes it sent after its
/// request. Frames are at most one room line; tungstenite's read buffer is
/// small, as thousands of browsers may be members.
pub fn conn(stream: TcpStream, rest: Vec<u8>, max_line: usize) -> Conn {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(WEB_BATCH)
        .max_write_buffer_size(8 * max_line + 4 * WEB_BATCH)
        .max_message_size(Some(max_line))
        .max_frame_size(Some(max_line));
    Conn::Page(Box::new(WebSocket::from_partially_read(
        stream,
        rest,
        Role::Server,
        Some(config),
    )))
}

/// What a browser sent.
#[derive(Debug)]
enum FromPage {
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

fn next_message(ws: &mut WebSocket<TcpStream>) -> FromPage {
    loop {
        return match ws.read() {
            Ok(Message::Text(text)) => FromPage::Text(text),
            Ok(Message::Binary(_)) => FromPage::Binary,
            Ok(_) => FromPage::Control,
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                FromPage::Nothing
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
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

/// Reads a browser's messages: each text message is encoded with
/// `--web-encoding` into room lines, which the room takes like a TCP
/// member's (allowance, memory rules); the page is told whether it was
/// taken.
pub fn read(room: &mut LinkedRoom, key: usize, web: &WebConfig, now: Instant) -> Turn {
    let max_line = room.config().max_line;
    let mut budget = READ_SHARE;
    loop {
        if let Some(end) = turn_over(room, key, budget) {
            return end;
        }
        let Some(Conn::Page(ws)) = room.conn_mut(key).map(|l| &mut l.conn) else {
            return Turn::Done;
        };
        match next_message(ws) {
            FromPage::Text(text) => {
                budget = budget.saturating_sub(text.len());
                match web::room_lines(&text, web.encode, max_line) {
                    Err(why) => room.tell_page(key, Entry::page(web::refused(&why))),
                    Ok(lines) => {
                        room.tell_page(key, Entry::page(web::sent()));
                        if let Some(end) = after(room.take_lines(key, lines, now)) {
                            return end;
                        }
                    }
                }
            }
            FromPage::Binary => {
                close(
                    room,
                    key,
                    CloseCode::Unsupported,
                    "binary frames are not accepted",
                );
                return Turn::Done;
            }
            FromPage::Control => room.flush_soon(key),
            FromPage::Nothing => return Turn::Done,
            FromPage::Closed => {
                room.fail(key, Leave::Closed);
                return Turn::Done;
            }
            FromPage::TooBig => {
                let why = format!("message over {max_line} bytes (the room's --max-line)");
                close(room, key, CloseCode::Size, &why);
                return Turn::Done;
            }
            FromPage::NotUtf8 => {
                close(room, key, CloseCode::Invalid, "text that is not UTF-8");
                return Turn::Done;
            }
            FromPage::Protocol(why) => {
                close(room, key, CloseCode::Protocol, &why);
                return Turn::Done;
            }
            FromPage::Failed(why) => {
                room.fail(key, Leave::Failed(why));
                return Turn::Done;
            }
        }
    }
}

/// Closes a browser's connection with a close frame that says why; it
/// leaves the room.
fn close(room: &mut LinkedRoom, key: usize, code: CloseCode, reason: &str) {
    if let Some(Conn::Page(ws)) = room.conn_mut(key).map(|l| &mut l.conn) {
        say_goodbye(ws, code, reason);
    }
    room.fail(key, Leave::Failed(reason.to_string()));
}

/// Sends a close frame that says why, then stops writing.
pub fn say_goodbye(ws: &mut WebSocket<TcpStream>, code: CloseCode, reason: &str) {
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

/// One WebSocket text message per feed entry or private message, up to
/// [`WEB_BATCH`] bytes at a time, then one write, up to `budget` bytes.
/// More is taken from the feed only once tungstenite has written the last
/// batch out, so what a slow browser holds stays in the feed (and counts
/// in its cost), not in a buffer of its own.
pub fn write(
    ws: &mut WebSocket<TcpStream>,
    outbox: &mut Outbox,
    feed: &Feed,
    pages: &mut PageCache,
    mut budget: usize,
) -> Wrote {
    loop {
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
            let Some((seq, item)) = outbox.next_item(feed) else {
                break;
            };
            let len = item.wire().len();
            let text = match seq {
                None => pages.one(item),
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
            outbox.advance(feed, len);
            budget = budget.saturating_sub(len);
        }
        if batch == 0 {
            return Wrote::Idle;
        }
    }
}
