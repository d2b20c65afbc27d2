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
//! Dependencies run one way: `bin/*` → [`ui`] and [`gui`] → [`session`] → [`transport`]
//! → [`chat`] and the protocol modules ([`room`], [`ipmsg`]) → the text,
//! time and socket layers ([`encoding`], [`sanitize`], [`message`],
//! [`clock`], [`journal`], [`net`]) → [`sys`]. Nothing below `ui` imports
//! `ui`; nothing below `session` imports it; only `sys` calls the OS.
//!
//! | module | what it owns |
//! |---|---|
//! | [`sys`] | every OS call, per OS behind `#[cfg]`: user and host name, local time, open-file limit, interface index, exclusive ports on Windows, the ANSI code page, the terminal mode, batched UDP (`recvmmsg`/`sendmmsg`) and its portable fallback |
//! | [`encoding`] | [`encoding::Encoding`]: a label parsed once; lossy decode (with a private GBK fast path), strict encode |
//! | [`sanitize`] | turning decoded text into one terminal-safe line |
//! | [`message`] | a received datagram and its text and JSON renderings; the `--log` records |
//! | [`clock`] | times as shown: RFC 3339 in records, `HH:MM:SS` local next to a message |
//! | [`journal`] | the `--log` file: opened once, whole lines per write |
//! | [`net`] | sockets through socket2 (UDP and TCP listening, sending, connecting), addresses parsed and shown in one place, errors in words |
//! | [`filter`] | the `--allow` list, the per-sender token bucket, and the two together ([`filter::Admission`]) |
//! | [`page`] | the page (HTML, script, style) inside the binary: the room's page and the desktop window's |
//! | [`window`], [`input`] | the `chat-window` and `input-box` loops |
//! | [`stdin`] | stdin read on its own thread: blocks, edited lines, splitting |
//! | [`room`] | the TCP room: an I/O-free core (`core`, `membership`, `pace`, `commands`, `names`, `history`, `feed`, `flow`), typed entries ([`room::entry`]), the poll loop ([`room::server`]) with `accept` and the connections (`conn`: `tcp`, `page`), [`room::wire`], [`room::web`], [`room::client`] |
//! | [`ipmsg`] | the IP Messenger protocol: `packet`, `engine` (pure), `files` (lists, requests, the folder stream, safe names) |
//! | [`chat`] | the model every front end and transport shares: who (a room member read once), marks, users, lines, events, the mode |
//! | [`transport`] | `lanchat`'s network sides behind one trait: `udp`, `room_mode`, `ipmsg_mode`, and `transfers` (IP Messenger's files: fetch, serve, slots, records) |
//! | [`session`] | the window's state and commands for any front end: the scrollback, users, offers, status, what a typed line does, applying events and performing actions |
//! | [`ui`] | `lanchat`'s terminal window: keys, the edit line, scrolling, drawing, the terminal guard |
//! | [`gui`] | `lanchat --gui`: the same session as a page in the user's browser (loopback, token, Host and Origin checked), tabs, uploads |
//! | [`i18n`] | the language of everything a person reads: the catalogs (`locales/`), the choice from the locale, clap's own words |
//! | [`cli`] | value parsers and option groups shared by the binaries |
//! | [`status`] | status lines on stderr, one write each (scripts read them) |
//! | [`stop`] | the Ctrl-C / SIGTERM flag every loop polls |
//! | [`exit`] | the named exit codes |
//! | [`tty`] | terminal detection and restoring the terminal mode on exit |
//!
//! Every loop takes an already bound socket and a [`stop::Stop`], so tests can
//! drive the real loop in-process and the binaries stay thin.

rust_i18n::i18n!("locales", fallback = "en");

pub mod chat;
pub mod cli;
pub mod clock;
pub mod doctor;
pub mod encoding;
pub mod exit;
pub mod filter;
pub mod gui;
pub mod i18n;
pub mod input;
pub mod ipmsg;
pub mod journal;
pub mod message;
pub mod net;
pub mod page;
pub mod room;
pub mod sanitize;
pub mod session;
pub mod status;
pub mod stdin;
pub mod stop;
pub mod sys;
pub mod transport;
pub mod tty;
pub mod ui;
pub mod window;
