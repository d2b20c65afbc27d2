//! The platform layer: everything that differs between Linux, other Unix
//! systems and Windows, behind one small API. Nothing else in the crate
//! calls into `libc` or the Windows API, and nothing else has `unsafe`.
//!
//! | concern | Linux / Unix | Windows |
//! |---|---|---|
//! | login and host name | `whoami` | `whoami` |
//! | local time of day | `jiff` (the system time zone) | `jiff` |
//! | open-file limit | `rlimit`: raised to the hard limit | none (sockets are not files) |
//! | interface index | `if-addrs` | `if-addrs` |
//! | a listener that owns its port | `SO_REUSEADDR` | `SO_EXCLUSIVEADDRUSE` (`windows.rs`) |
//! | the user's language | `LC_ALL`, else `LC_MESSAGES`, else `LANG` (POSIX) | the UI language (`sys-locale`) |
//! | the ANSI code page of piped text | none (UTF-8) | `GetACP` |
//! | the terminal mode, restored on exit | `termios` (`unix.rs`) | the console keeps its mode |
//! | who holds a port, neighbours, default route (`lanchat doctor`) | `/proc` (`netinfo_linux.rs`) | the IP helper tables (`netinfo_windows.rs`) |
//! | batched UDP | `recvmmsg`/`sendmmsg`, ICMP errors from the error queue (`udp_linux.rs`) | one datagram per call (`udp_portable.rs`) |
//!
//! Per-OS code is chosen by `#[cfg]` on whole files (`#[path]`), as
//! quinn-udp does, so each file reads as one platform's story.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::OnceLock;
use std::time::SystemTime;

#[cfg(unix)]
#[path = "unix.rs"]
mod os;
#[cfg(windows)]
#[path = "windows.rs"]
mod os;

#[cfg(target_os = "linux")]
#[path = "netinfo_linux.rs"]
pub mod netinfo;
#[cfg(windows)]
#[path = "netinfo_windows.rs"]
pub mod netinfo;
#[cfg(all(unix, not(target_os = "linux")))]
#[path = "netinfo_other.rs"]
pub mod netinfo;

#[cfg(target_os = "linux")]
#[path = "udp_linux.rs"]
pub mod udp;
#[cfg(not(target_os = "linux"))]
#[path = "udp_portable.rs"]
pub mod udp;

pub use os::{
    ansi_encoding, console_is_ours_alone, is_out_of_files, prepare_listener, system_language,
    TermMode,
};

/// A program holding a port, as the OS names it (for `lanchat doctor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// Its name (`chat-window`, `lanchat.exe`), where the OS tells it.
    pub name: Option<String>,
}

/// Datagrams received per system call (where batching exists).
pub const BATCH: usize = 32;
/// Datagrams sent per system call at most.
pub const SEND_BATCH: usize = 64;
/// Bytes per receive slot: any UDP datagram fits whole.
pub const SLOT: usize = 65_536;

/// Shows an IPv4-mapped IPv6 sender (`[::ffff:1.2.3.4]:5`) as `1.2.3.4:5`.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

/// The login name (IP Messenger's USER field): `$USER` / `$LOGNAME`
/// (`%USERNAME%` on Windows) when set, else what the OS says, else
/// `lanchat`.
pub fn user_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .or_else(|| whoami::username().ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "lanchat".into())
}

/// The host name (IP Messenger's HOST field), or `localhost` when the OS
/// will not say.
pub fn host_name() -> String {
    whoami::hostname()
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The machine's time zone, read once (the system's settings, or `TZ`).
fn time_zone() -> &'static jiff::tz::TimeZone {
    static TZ: OnceLock<jiff::tz::TimeZone> = OnceLock::new();
    TZ.get_or_init(|| jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC))
}

/// Seconds east of UTC of the machine's local time at `time`.
pub fn local_offset(time: SystemTime) -> i32 {
    jiff::Timestamp::try_from(time)
        .map(|ts| time_zone().to_offset(ts).seconds())
        .unwrap_or(0)
}

/// Raises the open-file soft limit as far as the hard limit allows (each
/// TCP member needs a descriptor); returns the limit now in force, or
/// `None` where there is no such limit (Windows: sockets are not counted
/// against one).
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => Some(n),
            Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft),
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// An interface index from a number (`2`) or a name (`eth0`; on Windows
/// the adapter's name as `if-addrs` gives it).
pub fn interface_index(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .filter(|i| i.name == name)
        .find_map(|i| i.index)
}

/// Whether an I/O error on a UDP socket is the network's report about an
/// earlier datagram (its destination port or host unreachable), not a
/// failure of this call. Linux says ECONNREFUSED (or the unreachables);
/// Windows says WSAECONNRESET on the next receive.
pub fn is_icmp_report(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        err.kind(),
        ConnectionRefused | HostUnreachable | NetworkUnreachable
    ) || (cfg!(windows) && err.kind() == ConnectionReset)
}

/// Reads any report waiting on a connected UDP socket without blocking;
/// returns it if it says the destination is unreachable. Linux leaves it
/// in `SO_ERROR`; Windows hands it to the next receive.
pub fn take_icmp_report(socket: &UdpSocket) -> Option<std::io::Error> {
    if let Ok(Some(e)) = socket.take_error() {
        if is_icmp_report(&e) {
            return Some(e);
        }
    }
    os::peek_icmp_report(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_never_empty() {
        assert!(!user_name().is_empty());
        assert!(!host_name().is_empty());
    }

    #[test]
    fn the_local_offset_is_within_a_day() {
        let off = local_offset(SystemTime::now());
        assert!(off.abs() <= 26 * 3600, "{off}");
    }

    #[test]
    fn interface_indexes_by_number_and_by_name() {
        assert_eq!(interface_index("7"), Some(7));
        assert_eq!(interface_index("no-such-interface-x"), None);
        let lo = if_addrs::get_if_addrs()
            .unwrap_or_default()
            .into_iter()
            .find(|i| i.is_loopback() && i.index.is_some());
        if let Some(lo) = lo {
            assert_eq!(interface_index(&lo.name), lo.index);
        }
    }

    #[test]
    fn unreachable_reports_are_told_from_failures() {
        use std::io::{Error, ErrorKind};
        assert!(is_icmp_report(&Error::from(ErrorKind::ConnectionRefused)));
        assert!(!is_icmp_report(&Error::from(ErrorKind::PermissionDenied)));
        assert_eq!(
            is_icmp_report(&Error::from(ErrorKind::ConnectionReset)),
            cfg!(windows)
        );
    }
}
