//! The network sides of `lanchat`, one [`Transport`] per [`Mode`], each with
//! its own receiving thread that hands [`Event`]s to a [`Sink`].
//!
//! ```text
//! window ──send(lines, to)──▶ Transport ──▶ socket / stream      (never blocks the window)
//! socket / stream ──▶ receiving thread ──▶ Sink ──▶ Event::Received, Users, Delivery, …
//!                                        └──▶ Journal (--log)
//! ```
//!
//! * [`udp::Udp`]: the default. One socket, bound like `chat-window`'s
//!   (same decoding, sanitizing, `--allow`, `--max-rate`, `--multicast`),
//!   that also sends, so peers see this user as one stable `ip:port`.
//! * [`room_mode::Room`]: a `room-server` connection, read like `room-client`.
//! * [`ipmsg_mode::Ipmsg`]: IP Messenger, over the protocol in [`crate::ipmsg`].
//! * [`Journal`] (in [`crate::journal`]): the `--log` file all three write to.
//!
//! Nothing here knows the window: a transport only sees lines to send and
//! a [`Sink`] for what it hears.

pub mod ipmsg_mode;
pub mod room_mode;
pub mod transfers;
pub mod udp;

use rust_i18n::t;
use std::net::SocketAddr;
use std::time::SystemTime;

pub use crate::chat::{Event, Mode, Sink};
use crate::chat::{FileCommand, Outgoing};
pub use crate::journal::Journal;

/// Why sending did not work (nothing was sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError(pub String);

/// One way of talking to the network.
pub trait Transport {
    /// Which mode this is.
    fn mode(&self) -> Mode;

    /// Sends lines, in order, to `to` (IP Messenger: the user chosen in
    /// the window; `None`: everyone online, or the current target of the
    /// other modes). `entries` are the window's entries for the lines
    /// (for delivery marks). Returns the warnings sending found (a
    /// destination reported unreachable), once each.
    ///
    /// # Errors
    /// [`SendError`] when the lines could not go out (nothing was sent).
    fn send(
        &mut self,
        lines: &[Outgoing],
        entries: &[u64],
        to: Option<SocketAddr>,
        time: SystemTime,
    ) -> Result<Vec<String>, SendError>;

    /// Changes the target (`/to` in UDP mode); returns how the status line
    /// names it.
    ///
    /// # Errors
    /// Why the target is not usable, or that the mode has no such thing.
    fn set_target(&mut self, target: &str) -> Result<String, String>;

    /// How the status line names the current target.
    fn target_label(&self) -> String;

    /// `/send`, `/get`, `/drop`, `/cancel` to `to` (the chosen user, or
    /// everyone): returns what to say in the status line.
    ///
    /// # Errors
    /// Why not (in modes without files: that they need `--ipmsg`).
    fn files(&mut self, _cmd: FileCommand, _to: Option<SocketAddr>) -> Result<String, String> {
        Err(t!("files.need_ipmsg").into_owned())
    }

    /// Called once before the window closes (IP Messenger says goodbye).
    fn close(&mut self) {}
}
