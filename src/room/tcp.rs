//! A TCP member (nc, ncat, telnet, room-client, `lanchat --room`): its
//! bytes go to the room's framer as they come; the room's entries go to
//! it in their wire form, many at a time in one vectored write.

use std::io::{self, IoSlice, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;

use super::conn::{after, turn_over, Conn, LinkedRoom, Turn};
use super::core::{Leave, Wrote};
use super::feed::{Feed, Outbox};
use crate::net;

/// Bytes read from one member per turn before others get theirs.
pub const READ_SHARE: usize = 256 * 1024;
/// Buffers written per vectored write.
const IOV_MAX: usize = 64;

/// Reads member `key`'s bytes into `buf` and hands them to the room, up to
/// [`READ_SHARE`] this turn.
pub fn read(room: &mut LinkedRoom, key: usize, buf: &mut [u8], now: Instant) -> Turn {
    let mut budget = READ_SHARE;
    loop {
        if let Some(end) = turn_over(room, key, budget) {
            return end;
        }
        let Some(Conn::Tcp(stream)) = room.conn_mut(key).map(|l| &mut l.conn) else {
            return Turn::Done;
        };
        match stream.read(buf) {
            Ok(0) => {
                room.closed(key, now);
                return Turn::Done;
            }
            Ok(n) => {
                budget = budget.saturating_sub(n);
                if let Some(end) = after(room.take_bytes(key, &buf[..n], now)) {
                    return end;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Turn::Done,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // Reset mid-line: the partial line is dropped.
                room.fail(key, Leave::Failed(net::describe(&e)));
                return Turn::Done;
            }
        }
    }
}

/// Writes what `outbox` holds, up to `budget` bytes.
pub fn write(stream: &mut TcpStream, outbox: &mut Outbox, feed: &Feed, mut budget: usize) -> Wrote {
    loop {
        let mut slices = [IoSlice::new(&[]); IOV_MAX];
        let n = outbox.slices(feed, &mut slices);
        if n == 0 {
            return Wrote::Idle;
        }
        match stream.write_vectored(&slices[..n]) {
            Ok(0) => return Wrote::Failed,
            Ok(written) => {
                outbox.advance(feed, written);
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
