//! lanchat: a LAN chat toolkit.
//!
//! The programs that share this library:
//!
//! * the UDP pair, `chat-window` (receiver) and `input-box` (sender), which
//!   speak GB2312/GBK on the wire like the classic Python teaching programs;
//! * the TCP room, `room-server` and `room-client`;
//! * `lanchat`, both halves of the UDP pair in one terminal window, which
//!   also joins a room (`--room`) or an IP Messenger LAN (`--ipmsg`);
//! * `room-server --web`, the room as a web page.
//!
//! # Layout
//!
//! | module | what it owns |
//! |---|---|
//! | [`encoding`] | [`encoding::Encoding`]: a label parsed once; lossy decode, strict encode |
//! | [`sanitize`] | turning decoded text into one terminal-safe line |
//! | [`message`] | a received datagram and its text and JSON renderings |
//! | [`net`] | socket set-up (socket2), address display, batched UDP receive |
//! | [`gbk`] | the table-driven GBK/GB18030 decode fast path (tables asked of encoding_rs) |
//! | [`filter`] | the `--allow` list and the per-sender token-bucket rate limit |
//! | [`window`] | the `chat-window` loop |
//! | [`input`] | the `input-box` loop |
//! | [`ipmsg`] | `lanchat --ipmsg`: the IP Messenger protocol (packets, state, transport) |
//! | [`lines`] | stdin read on its own thread: blocks, edited lines, splitting |
//! | [`room`] | the TCP room: line framer, the shared log, server event loop, the web page, client |
//! | [`cli`] | value parsers and option groups shared by the binaries (encodings, durations, addresses, listening) |
//! | [`status`] | status lines on stderr, one write each (scripts read them) |
//! | [`stop`] | the Ctrl-C / SIGTERM flag every loop polls |
//! | [`exit`] | the named exit codes |
//! | [`tty`] | terminal detection and restoring the terminal mode on exit |
//! | [`ui`] | `lanchat`: the one-window chat (App state, drawing, transports) |
//!
//! Every loop takes an already bound socket and a [`stop::Stop`], so tests can
//! drive the real loop in-process and the binaries stay thin.

pub mod chat;
pub mod cli;
pub mod encoding;
pub mod exit;
pub mod filter;
pub mod input;
pub mod ipmsg;
pub mod lines;
pub mod message;
pub mod net;
pub mod room;
pub mod sanitize;
pub mod status;
pub mod stop;
pub mod sys;
pub mod transport;
pub mod tty;
pub mod ui;
pub mod window;
