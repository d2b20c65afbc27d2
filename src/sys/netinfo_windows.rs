//! What Windows tells about its network through the IP helper API, for
//! `lanchat doctor`: who holds a port (`GetExtendedUdpTable`,
//! `GetExtendedTcpTable` with owner pids, the image name from
//! `QueryFullProcessImageNameW`), the neighbour table (`GetIpNetTable`),
//! the adapters' descriptions and gateways (`GetAdaptersAddresses`).
//! Read only; nothing is changed.

use std::net::Ipv4Addr;

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_BUFFER_OVERFLOW, ERROR_INSUFFICIENT_BUFFER,
};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetAdaptersAddresses, GetExtendedTcpTable, GetExtendedUdpTable, GetIpNetTable,
    GAA_FLAG_INCLUDE_GATEWAYS, IP_ADAPTER_ADDRESSES_LH, MIB_IPNETROW_LH,
    TCP_TABLE_OWNER_PID_LISTENER, UDP_TABLE_OWNER_PID,
};
use windows_sys::Win32::System::Threading::{
    OpenProcess, QueryFullProcessImageNameW, PROCESS_QUERY_LIMITED_INFORMATION,
};

use super::Holder;

const AF_INET: u32 = 2;
const AF_INET6: u32 = 23;

/// The programs holding UDP (or listening TCP) `port`.
///
/// # Errors
/// The IP helper tables could not be read.
pub fn port_holders(port: u16, tcp: bool) -> Result<Vec<Holder>, String> {
    // (family, bytes per row, offset of the port, offset of the pid)
    let layouts: [(u32, usize, usize, usize); 2] = if tcp {
        [(AF_INET, 24, 8, 20), (AF_INET6, 56, 20, 52)]
    } else {
        [(AF_INET, 12, 4, 8), (AF_INET6, 28, 20, 24)]
    };
    let mut pids = Vec::new();
    let mut read_any = None;
    for (family, row, port_at, pid_at) in layouts {
        match table(family, tcp) {
            Ok(bytes) => {
                read_any = Some(());
                pids.extend(rows_on_port(&bytes, row, port_at, pid_at, port));
            }
            Err(code) if read_any.is_none() && family == AF_INET => {
                return Err(format!(
                    "GetExtended{}Table: error {code}",
                    if tcp { "Tcp" } else { "Udp" }
                ));
            }
            Err(_) => {}
        }
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids
        .into_iter()
        .map(|pid| Holder {
            pid,
            name: image_name(pid),
        })
        .collect())
}

/// One owner-pid table as bytes (the count, then the rows).
fn table(family: u32, tcp: bool) -> Result<Vec<u32>, u32> {
    let mut size = 0u32;
    let call = |buf: *mut core::ffi::c_void, size: &mut u32| unsafe {
        if tcp {
            GetExtendedTcpTable(buf, size, 0, family, TCP_TABLE_OWNER_PID_LISTENER, 0)
        } else {
            GetExtendedUdpTable(buf, size, 0, family, UDP_TABLE_OWNER_PID, 0)
        }
    };
    let first = call(std::ptr::null_mut(), &mut size);
    if first != ERROR_INSUFFICIENT_BUFFER && first != 0 {
        return Err(first);
    }
    for _ in 0..4 {
        // u32s keep the rows aligned.
        let mut buf = vec![0u32; (size as usize).div_ceil(4) + 1];
        match call(buf.as_mut_ptr().cast(), &mut size) {
            0 => return Ok(buf),
            ERROR_INSUFFICIENT_BUFFER => continue, // the table grew meanwhile
            other => return Err(other),
        }
    }
    Err(ERROR_INSUFFICIENT_BUFFER)
}

/// The pids of the rows whose local port (network order in the low 16
/// bits) is `port`.
fn rows_on_port(words: &[u32], row: usize, port_at: usize, pid_at: usize, port: u16) -> Vec<u32> {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let count = words.first().copied().unwrap_or(0) as usize;
    let word = |at: usize| -> Option<u32> {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    (0..count)
        .filter_map(|i| {
            let base = 4 + i * row;
            let p = word(base + port_at)?;
            let p = u16::from_be_bytes([(p & 0xff) as u8, ((p >> 8) & 0xff) as u8]);
            (p == port).then(|| word(base + pid_at)).flatten()
        })
        .collect()
}

/// A process's image file name (`lanchat.exe`), where Windows tells it.
fn image_name(pid: u32) -> Option<String> {
    if pid == 0 {
        return None;
    }
    unsafe {
        let handle = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if handle.is_null() {
            return None;
        }
        let mut buf = [0u16; 1024];
        let mut len = buf.len() as u32;
        let ok = QueryFullProcessImageNameW(handle, 0, buf.as_mut_ptr(), &mut len);
        CloseHandle(handle);
        if ok == 0 {
            return None;
        }
        let path = String::from_utf16_lossy(&buf[..len as usize]);
        Some(path.rsplit(['\\', '/']).next().unwrap_or(&path).to_string())
    }
}

/// Whether the neighbour table has a link-layer address for `ip`;
/// `None` when it cannot be read.
pub fn neighbour_known(ip: Ipv4Addr) -> Option<bool> {
    let mut size = 0u32;
    let first = unsafe { GetIpNetTable(std::ptr::null_mut(), &mut size, 0) };
    if first != ERROR_INSUFFICIENT_BUFFER && first != 0 {
        return None;
    }
    let mut buf = vec![0u32; (size as usize).div_ceil(4) + 1];
    if unsafe { GetIpNetTable(buf.as_mut_ptr().cast(), &mut size, 0) } != 0 {
        return None;
    }
    let count = buf[0] as usize;
    let rows =
        unsafe { std::slice::from_raw_parts(buf.as_ptr().add(1).cast::<MIB_IPNETROW_LH>(), count) };
    Some(rows.iter().any(|r| {
        // dwType 3 dynamic, 4 static; 2 is an entry that did not resolve.
        let kind = unsafe { r.Anonymous.dwType };
        Ipv4Addr::from(r.dwAddr.to_ne_bytes()) == ip
            && (kind == 3 || kind == 4)
            && r.dwPhysAddrLen > 0
            && r.bPhysAddr[..r.dwPhysAddrLen.min(8) as usize]
                .iter()
                .any(|&b| b != 0)
    }))
}

/// Every adapter: (friendly name, description, has a gateway).
fn adapters() -> Vec<(String, String, bool)> {
    let mut size = 16 * 1024u32;
    for _ in 0..4 {
        let mut buf = vec![0u64; (size as usize).div_ceil(8) + 1];
        let first = buf.as_mut_ptr().cast::<IP_ADAPTER_ADDRESSES_LH>();
        let rc = unsafe {
            GetAdaptersAddresses(
                AF_INET,
                GAA_FLAG_INCLUDE_GATEWAYS,
                std::ptr::null(),
                first,
                &mut size,
            )
        };
        if rc == ERROR_BUFFER_OVERFLOW {
            continue;
        }
        if rc != 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut at = first;
        while !at.is_null() {
            let a = unsafe { &*at };
            out.push((
                wide(a.FriendlyName),
                wide(a.Description),
                !a.FirstGatewayAddress.is_null(),
            ));
            at = a.Next;
        }
        return out;
    }
    Vec::new()
}

fn wide(p: *const u16) -> String {
    if p.is_null() {
        return String::new();
    }
    unsafe {
        let mut len = 0;
        while *p.add(len) != 0 && len < 4096 {
            len += 1;
        }
        String::from_utf16_lossy(std::slice::from_raw_parts(p, len))
    }
}

/// The adapters that have a default gateway, by friendly name (the name
/// `if-addrs` gives).
pub fn default_route_interfaces() -> Vec<String> {
    adapters()
        .into_iter()
        .filter(|(_, _, gateway)| *gateway)
        .map(|(name, _, _)| name)
        .collect()
}

/// (friendly name, description) of every adapter: "vEthernet (WSL)",
/// "Hyper-V Virtual Ethernet Adapter".
pub fn adapter_descriptions() -> Vec<(String, String)> {
    adapters().into_iter().map(|(n, d, _)| (n, d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_found_by_port_in_network_order() {
        // count 2; rows of (addr, port, pid)
        let port = |p: u16| u32::from_ne_bytes([(p >> 8) as u8, p as u8, 0, 0]);
        let words = vec![2, 0, port(3456), 77, 0, port(2425), 88];
        assert_eq!(rows_on_port(&words, 12, 4, 8, 3456), vec![77]);
        assert_eq!(rows_on_port(&words, 12, 4, 8, 2425), vec![88]);
        assert!(rows_on_port(&words, 12, 4, 8, 1).is_empty());
    }
}
