//! What Linux tells about its network through `/proc`, for `lanchat
//! doctor`: who holds a port (`/proc/net/{udp,tcp}*` and the sockets in
//! `/proc/*/fd`), the neighbour table (`/proc/net/arp`), the default
//! route (`/proc/net/route`). Read only; nothing is changed.

use std::collections::HashSet;
use std::fs;
use std::net::Ipv4Addr;

use super::Holder;

/// The programs holding UDP (or listening TCP) `port`.
///
/// # Errors
/// The socket tables could not be read.
pub fn port_holders(port: u16, tcp: bool) -> Result<Vec<Holder>, String> {
    let tables: &[&str] = if tcp {
        &["/proc/net/tcp", "/proc/net/tcp6"]
    } else {
        &["/proc/net/udp", "/proc/net/udp6"]
    };
    let mut inodes = HashSet::new();
    let mut read_any = false;
    for table in tables {
        if let Ok(text) = fs::read_to_string(table) {
            read_any = true;
            inodes.extend(socket_inodes(&text, port, tcp));
        }
    }
    if !read_any {
        return Err(format!("cannot read {}", tables[0]));
    }
    let mut out = Vec::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return Ok(out);
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // Another user's descriptors are closed to us without root: that
        // program stays unnamed (the caller says so).
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .ok()
                .and_then(|l| l.to_str().and_then(socket_inode))
                .is_some_and(|ino| inodes.contains(&ino))
        });
        if holds {
            let name = fs::read_to_string(entry.path().join("comm"))
                .ok()
                .map(|s| s.trim().to_string());
            out.push(Holder { pid, name });
        }
    }
    out.sort_by_key(|h| h.pid);
    Ok(out)
}

/// The inodes of the sockets on local `port` in one `/proc/net` table
/// (only listening ones, state `0A`, for TCP).
pub(crate) fn socket_inodes(table: &str, port: u16, tcp: bool) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local = cols.get(1)?;
            let p = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            let listening = !tcp || cols.get(3) == Some(&"0A");
            (p == port && listening)
                .then(|| cols.get(9)?.parse().ok())
                .flatten()
        })
        .filter(|&ino| ino != 0)
        .collect()
}

fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Whether the neighbour table has a link-layer address for `ip` (it
/// answered ARP); `None` when the table cannot be read.
pub fn neighbour_known(ip: Ipv4Addr) -> Option<bool> {
    let text = fs::read_to_string("/proc/net/arp").ok()?;
    Some(arp_has(&text, ip))
}

pub(crate) fn arp_has(table: &str, ip: Ipv4Addr) -> bool {
    table.lines().skip(1).any(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // Flags 0x2: complete. An incomplete entry (0x0) is an address
        // that did not answer.
        cols.first().and_then(|a| a.parse::<Ipv4Addr>().ok()) == Some(ip)
            && cols
                .get(2)
                .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
                .is_some_and(|f| f & 0x2 != 0)
            && cols.get(3).is_some_and(|mac| *mac != "00:00:00:00:00:00")
    })
}

/// The interfaces that carry a default route.
pub fn default_route_interfaces() -> Vec<String> {
    fs::read_to_string("/proc/net/route")
        .map(|t| default_routes(&t))
        .unwrap_or_default()
}

pub(crate) fn default_routes(table: &str) -> Vec<String> {
    let mut out: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            (cols.get(1) == Some(&"00000000") && cols.get(7) == Some(&"00000000"))
                .then(|| cols[0].to_string())
        })
        .collect();
    out.dedup();
    out
}

/// Adapter descriptions exist on Windows only.
pub fn adapter_descriptions() -> Vec<(String, String)> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_and_listening_tcp_sockets_by_port() {
        let udp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
            1234: 00000000:0D80 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 55501 2 0000000000000000 0\n\
            1235: 0100007F:0979 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 55502 2 0000000000000000 0\n";
        assert_eq!(socket_inodes(udp, 3456, false), vec![55501]);
        assert_eq!(socket_inodes(udp, 2425, false), vec![55502]);
        let tcp = "  sl  local_address rem_address   st\n\
            0: 00000000:0979 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 777 1\n\
            1: 0A00000B:0979 0A00000C:C000 01 00000000:00000000 00:00000000 00000000 0 0 778 1\n";
        assert_eq!(socket_inodes(tcp, 2425, true), vec![777]);
        assert_eq!(socket_inode("socket:[55501]"), Some(55501));
        assert_eq!(socket_inode("pipe:[1]"), None);
    }

    #[test]
    fn complete_neighbours_only() {
        let arp =
            "IP address       HW type     Flags       HW address            Mask     Device\n\
            10.77.0.2        0x1         0x2         aa:bb:cc:dd:ee:ff     *        eth0\n\
            10.77.0.9        0x1         0x0         00:00:00:00:00:00     *        eth0\n";
        assert!(arp_has(arp, "10.77.0.2".parse().unwrap()));
        assert!(!arp_has(arp, "10.77.0.9".parse().unwrap()));
        assert!(!arp_has(arp, "10.77.0.3".parse().unwrap()));
    }

    #[test]
    fn default_route_interface() {
        let route =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
            eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(default_routes(route), vec!["eth0".to_string()]);
    }

    #[test]
    fn this_process_is_named_as_the_holder_of_its_port() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        let holders = port_holders(port, false).unwrap();
        assert!(
            holders.iter().any(|h| h.pid == std::process::id()),
            "{holders:?}"
        );
    }
}
