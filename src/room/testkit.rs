//! What the room core's tests share: a room on made-up time, members on
//! made-up addresses (10.0.0.HOST), and what a member would be written.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::time::Instant;

use super::core::{Config, Room, Wrote};
use super::history::History;

/// A room with `config` (saying what it does), started now.
pub fn room(config: Config) -> (Room<()>, Instant) {
    let t0 = Instant::now();
    let config = Config {
        verbose: true,
        ..config
    };
    let history = History::open(config.history, None, config.max_line).unwrap();
    (Room::new(config, history, t0), t0)
}

/// `10.0.0.HOST:PORT`.
pub fn addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, host], port))
}

/// A member from `10.0.0.HOST:1000`, admitted and joined.
pub fn join(room: &mut Room<()>, host: u8, now: Instant) -> usize {
    room.admit(addr(host, 1000).ip(), now).unwrap();
    room.join((), addr(host, 1000), None, now)
}

/// Everything member `key` would be written now, taken.
pub fn drain(room: &mut Room<()>, key: usize) -> Vec<u8> {
    let mut got = Vec::new();
    if let Some((_, outbox, feed)) = room.write_parts(key) {
        loop {
            let mut iov = [IoSlice::new(&[]); 16];
            let n = outbox.slices(feed, &mut iov);
            if n == 0 {
                break;
            }
            let bytes: Vec<u8> = iov[..n].iter().flat_map(|s| s.iter().copied()).collect();
            outbox.advance(feed, bytes.len());
            got.extend(bytes);
        }
    }
    room.wrote(key, Wrote::Idle);
    got
}
