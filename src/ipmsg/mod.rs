//! The IP Messenger protocol (IPMsg for Windows, FeiQ 飞秋, iptux): what
//! `lanchat --ipmsg` speaks. Protocol only, no sockets: the transport in
//! [`crate::transport::ipmsg_mode`] drives it.
//!
//! * `packet`: the packet format, parsed and built;
//! * `engine`: the protocol's state (users, unconfirmed messages,
//!   duplicates, offers), pure and unit-tested;
//! * [`files`]: the formats of files and folders (attachment lists, TCP
//!   requests, the folder stream) and safe names.
//!
//! Handled: BR_ENTRY, ANSENTRY, BR_ABSENCE, BR_EXIT, SENDMSG (with
//! SENDCHECKOPT answered by RECVMSG, and FILEATTACHOPT offers), RECVMSG,
//! RELEASEFILES, GETINFO, GETABSENCEINFO; over TCP, GETFILEDATA and
//! GETDIRFILES. Not handled: encryption, sealed messages' READMSG, absence
//! messages of our own.

pub(crate) mod engine;
pub mod files;
pub(crate) mod packet;

pub use packet::PORT;

/// Longest text sent in one packet, in bytes (iptux reads 8 KiB packets).
pub const MAX_TEXT: usize = 7_900;
