//! The TCP chat room.
//!
//! * [`framer`]: lines from a byte stream, with a length cap;
//! * [`server`]: the `room-server` event loop (mio), bounded queues;
//! * [`client`]: the `room-client`: keyboard and socket at once.

pub mod client;
pub mod framer;
pub mod server;
