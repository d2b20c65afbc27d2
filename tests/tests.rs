//! The integration tests, one binary (as ripgrep's are): the real binaries
//! spawned on loopback (port 0, the real port read from stderr), several
//! hosts played by source addresses 127.0.0.2, .3, …, and the room server
//! run in-process where no separate process is needed. Every wait follows
//! an event and is bounded ([`util::WAIT`]).

mod util;

mod classroom;
mod docs;
mod doctor;
mod files;
mod gui;
mod lanchat;
mod language;
mod names;
mod properties;
mod room;
mod udp;
mod web;
