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
//! Dependencies run one way: `bin/*` → [`ui`] → [`transport`] → [`chat`]
//! and the protocol modules ([`room`], [`ipmsg`]) → the text and socket
//! layers ([`encoding`], [`sanitize`], [`message`], [`net`]) → [`sys`].
//! Nothing below `ui` imports `ui`.
//!
//! | module | what it owns |
//! |---|---|
//! | [`sys`] | every OS call, per OS behind `#[cfg]`: user and host name, local time, open-file limit, interface index, exclusive ports on Windows, the ANSI code page, the terminal mode, batched UDP (`recvmmsg`/`sendmmsg`) and its portable fallback |
//! | [`encoding`] | [`encoding::Encoding`]: a label parsed once; lossy decode (with a private GBK fast path), strict encode |
//! | [`sanitize`] | turning decoded text into one terminal-safe line |
//! | [`message`] | a received datagram and its text and JSON renderings; times |
//! | [`net`] | sockets through socket2, addresses parsed and shown in one place, errors in words |
//! | [`filter`] | the `--allow` list, the per-sender token bucket, and the two together ([`filter::Admission`]) |
//! | [`window`], [`input`] | the `chat-window` and `input-box` loops |
//! | [`lines`] | stdin read on its own thread: blocks, edited lines, splitting |
//! | [`room`] | the TCP room: `server` (poll loop), `member`, `feed`, `flow`, `framer`, `wire`, `web`, `client` |
//! | [`ipmsg`] | the IP Messenger protocol: `packet`, `engine` (pure), `files` (lists, requests, the folder stream, safe names) |
//! | [`chat`] | the model every front end and transport shares: who, marks, users, lines, events, the mode |
//! | [`transport`] | `lanchat`'s network sides behind one trait: `udp`, `room`, `ipmsg`, and `files` (IP Messenger's transfers); the `--log` journal |
//! | [`ui`] | `lanchat`'s window: App state, drawing, the editor, the terminal |
//! | [`cli`] | value parsers and option groups shared by the binaries |
//! | [`status`] | status lines on stderr, one write each (scripts read them) |
//! | [`stop`] | the Ctrl-C / SIGTERM flag every loop polls |
//! | [`exit`] | the named exit codes |
//! | [`tty`] | terminal detection and restoring the terminal mode on exit |
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
pub mod session;
pub mod status;
pub mod stop;
pub mod sys;
pub mod transport;
pub mod tty;
pub mod ui;
pub mod window;
