//! Windows: a listener owns its port (`SO_EXCLUSIVEADDRUSE`; Windows'
//! SO_REUSEADDR would let a second program take a port already bound),
//! the ANSI code page of piped text (`GetACP`), and unreachable reports
//! that arrive on the next receive.

use std::io;
use std::net::UdpSocket;
use std::os::windows::io::AsRawSocket;

use windows_sys::Win32::Globalization::GetACP;
use windows_sys::Win32::Networking::WinSock::{
    setsockopt, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, SO_REUSEADDR,
};
use windows_sys::Win32::System::Console::GetConsoleProcessList;

/// The user's UI language (`GetUserPreferredUILanguages`, through
/// `sys-locale`), e.g. `zh-CN`.
pub fn system_language() -> Option<String> {
    sys_locale::get_locale()
}

/// Whether the console window is this program's alone: started from
/// Explorer (a double-click), not from cmd.exe or PowerShell, whose
/// console holds the shell too.
pub fn console_is_ours_alone() -> bool {
    let mut pids = [0u32; 2];
    // SAFETY: a buffer of two process ids, its length given.
    let n = unsafe { GetConsoleProcessList(pids.as_mut_ptr(), 2) };
    n == 1
}

/// The encoding of the system's ANSI code page (GBK on Chinese Windows,
/// code page 936), in which files and pipes are often written.
pub fn ansi_encoding() -> Option<&'static encoding_rs::Encoding> {
    // SAFETY: GetACP takes nothing and returns a number.
    let cp = unsafe { GetACP() };
    codepage::to_encoding_no_replacement(u16::try_from(cp).ok()?)
}

/// How a listening socket holds its port: SO_EXCLUSIVEADDRUSE, so no
/// other socket may bind it while we hold it and a second chat-window or
/// room-server is told the port is in use; or, `shared` (several receivers
/// of one multicast group), SO_REUSEADDR.
///
/// # Errors
/// The OS error of `setsockopt`.
pub fn prepare_listener(socket: &socket2::Socket, shared: bool) -> io::Result<()> {
    let on: i32 = 1;
    let option = if shared {
        SO_REUSEADDR
    } else {
        SO_EXCLUSIVEADDRUSE
    };
    // SAFETY: a valid socket handle, and an int option value that lives for
    // the call.
    let rc = unsafe {
        setsockopt(
            socket.as_raw_socket() as usize,
            SOL_SOCKET,
            option,
            (&on as *const i32).cast(),
            std::mem::size_of::<i32>() as i32,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Windows reports "port unreachable" for a connected UDP socket as
/// WSAECONNRESET on the next receive: look without blocking.
pub fn peek_icmp_report(socket: &UdpSocket) -> Option<io::Error> {
    if socket.set_nonblocking(true).is_err() {
        return None;
    }
    let mut buf = [0u8; 1];
    let found = match socket.recv(&mut buf) {
        Err(e) if super::is_icmp_report(&e) => Some(e),
        _ => None,
    };
    let _ = socket.set_nonblocking(false);
    found
}

/// Whether an accept failed for want of resources (WSAEMFILE, WSAENOBUFS),
/// so waiting and trying again can help.
pub fn is_out_of_files(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(10024) | Some(10055))
}

/// The console keeps its own mode across programs; nothing to save.
pub struct TermMode;

impl TermMode {
    /// Nothing to save on Windows.
    pub fn save() -> Self {
        TermMode
    }

    /// Nothing to put back on Windows.
    pub fn restore(&self) {}
}
