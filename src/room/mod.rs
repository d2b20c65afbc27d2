//! The TCP chat room.
//!
//! The room's core has no I/O; the poll loop and the connections are
//! around it:
//!
//! * `core`: the room itself (members coming and going, lines taken,
//!   what everyone is told, throttling), with `membership` (admission,
//!   joining, leaving), `pace` (whom to write to,
//!   who is read again, the flow scan), `commands` (`/nick`, `/who`,
//!   `/msg`, `/encoding`), `ops` (`/pass` and the operators' words),
//!   `access` (the guessing limit, bans), `tongue` (each member's encoding
//!   and re-encoding), `names` (the name rules, the directory), `history`, `feed`
//!   (everything said, once, and each member's place in it), `flow`
//!   (backpressure, stuck members, memory) and `limits`: no socket, no
//!   clock;
//! * [`entry`]: what the room says, typed, in its TCP form with its parts;
//! * [`server`]: the poll loop, with `accept` (listeners, admission, the
//!   page's HTTP connections) and `conn` (a member's connection, TCP in
//!   `tcp`, a browser in `page`: the one place the two differ);
//! * [`framer`]: lines from a byte stream, with a length cap;
//! * [`wire`]: every line and notice format, built and parsed in one place;
//! * [`web`]: the room as a web page: HTTP, the Origin rule, the page's
//!   messages and assets;
//! * [`client`]: the `room-client`: keyboard and socket at once.

mod accept;
mod access;
pub mod client;
mod commands;
mod conn;
mod core;
pub mod entry;
mod feed;
mod flow;
pub mod framer;
mod history;
mod limits;
mod membership;
mod names;
mod ops;
mod pace;
mod page;
pub mod server;
mod tcp;
#[cfg(test)]
mod testkit;
mod tongue;
pub mod web;
pub mod wire;
pub mod words;

pub use names::WHO_MAX;
