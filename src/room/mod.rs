//! The TCP chat room.
//!
//! * [`server`]: the `room-server` event loop (mio): listeners, accepting,
//!   timers, what members' lines become;
//! * `member`: one member, its connection (TCP or WebSocket), its reads
//!   and writes;
//! * `feed`: everything said in the room, once, and each member's place
//!   in it;
//! * `flow`: backpressure, stuck members, memory (pure rules);
//! * [`framer`]: lines from a byte stream, with a length cap;
//! * [`wire`]: every line and notice format, built and parsed in one place;
//! * `names`: `/nick`, `/who`, `/msg`, the name rules, the history;
//! * [`web`]: the room as a web page: HTTP, the Origin rule, the page's
//!   messages;
//! * [`client`]: the `room-client`: keyboard and socket at once.

pub mod client;
mod feed;
mod flow;
pub mod framer;
mod member;
mod names;
pub mod server;
pub mod web;
pub mod wire;

pub use names::WHO_MAX;
