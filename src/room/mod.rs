//! The TCP chat room.
//!
//! * [`framer`]: lines from a byte stream, with a length cap;
//! * [`log`]: the room-wide log of lines and notices, and each member's place in it;
//! * [`server`]: the `room-server` event loop (mio), bounded queues;
//! * [`web`]: the room as a web page: HTTP, the Origin rule, the page's messages;
//! * [`client`]: the `room-client`: keyboard and socket at once.

pub mod client;
pub mod framer;
pub mod log;
pub mod server;
pub mod web;
pub mod wire;
