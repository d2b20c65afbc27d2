//! Unix: the terminal mode (termios), and how a listener holds its port:
//! a UDP port is the program's alone unless it is shared on purpose
//! (multicast); a TCP listener may rebind a port whose earlier
//! connections are closing (SO_REUSEADDR, as servers do there).

use std::io;
use std::net::UdpSocket;

/// The locale that says which language messages are in, as POSIX reads it:
/// `LC_ALL`, else `LC_MESSAGES`, else `LANG` (an empty variable counts as
/// unset). `sys-locale` reads `LC_CTYPE` before `LANG` and never
/// `LC_MESSAGES`, which is the category for messages, so it is not used here.
pub fn system_language() -> Option<String> {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
}

/// Whether lanchat was started by a double-click, owning its console alone:
/// a Windows matter (a Unix program started from a file manager has no
/// terminal at all, and is told it needs one).
pub fn console_is_ours_alone() -> bool {
    false
}

/// Unix text on pipes is UTF-8; there is no ANSI code page.
pub fn ansi_encoding() -> Option<&'static encoding_rs::Encoding> {
    None
}

/// How a listening socket holds its port. UDP: with SO_REUSEADDR, Linux
/// lets a second program bind the same port and hands it the port's
/// unicast datagrams silently, so the port is shared only when asked
/// (`shared`: several receivers of one multicast group). TCP: SO_REUSEADDR
/// only lets a restarted server rebind at once (TIME_WAIT); two listeners
/// never share a port on Linux.
///
/// # Errors
/// The OS error of `setsockopt`.
pub fn prepare_listener(socket: &socket2::Socket, shared: bool) -> io::Result<()> {
    let tcp = socket.r#type()? == socket2::Type::STREAM;
    socket.set_reuse_address(tcp || shared)
}

/// Linux keeps an unreachable report in `SO_ERROR` (read by the caller);
/// nothing else to look at.
pub fn peek_icmp_report(_socket: &UdpSocket) -> Option<io::Error> {
    None
}

/// Whether an accept failed for want of descriptors (the process's or the
/// system's), so waiting and trying again can help.
pub fn is_out_of_files(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// The terminal mode of stdin, saved to be put back.
pub struct TermMode {
    saved: Option<libc::termios>,
}

impl TermMode {
    /// Saves the current mode of stdin (nothing when it is not a terminal).
    pub fn save() -> Self {
        // SAFETY: termios is plain data; tcgetattr fills it or fails.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: a valid descriptor and a pointer to an owned termios.
        let ok = unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut t) } == 0;
        TermMode {
            saved: ok.then_some(t),
        }
    }

    /// Puts the saved mode back.
    pub fn restore(&self) {
        if let Some(t) = &self.saved {
            // SAFETY: `t` is a mode tcgetattr returned for this descriptor.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, t);
            }
        }
    }
}
