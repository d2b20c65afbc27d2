//! This machine: its interfaces (and the usual troubles with them), its
//! ports (and who holds them), its firewall. Read only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ipnet::Ipv4Net;
use rust_i18n::t;

use super::firewall;
use super::{Finding, Iface};
use crate::sys::{netinfo, Holder};

/// Names (and, on Windows, descriptions) of adapters that are virtual:
/// VPNs, tunnels, virtual machines' and containers' networks.
const VIRTUAL_NAMES: [&str; 22] = [
    "tun",
    "tap",
    "wg",
    "docker",
    "br-",
    "veth",
    "virbr",
    "vmnet",
    "vboxnet",
    "zt",
    "tailscale",
    "utun",
    "ppp",
    "vnet",
    "lxcbr",
    "lxdbr",
    "cni",
    "flannel",
    "cali",
    "vxlan",
    "ipsec",
    "nordlynx",
];
const VIRTUAL_WORDS: [&str; 14] = [
    "vethernet",
    "hyper-v",
    "vmware",
    "virtualbox",
    "tap-windows",
    "wireguard",
    "wintun",
    "openvpn",
    "tailscale",
    "zerotier",
    "docker",
    "vpn",
    "virtual",
    "tunnel",
];

/// Whether a name or description is a virtual adapter's.
pub(crate) fn looks_virtual(name: &str, description: &str) -> bool {
    let n = name.to_lowercase();
    let d = description.to_lowercase();
    VIRTUAL_NAMES.iter().any(|p| n.starts_with(p))
        || VIRTUAL_WORDS.iter().any(|w| n.contains(w) || d.contains(w))
}

/// One IPv4 address of an up interface, as the OS lists it.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    pub name: String,
    pub addr: Ipv4Addr,
    pub prefix: u8,
    pub broadcast: Option<Ipv4Addr>,
}

/// This machine's up IPv4 interfaces (loopback left out), `peer` telling
/// which is the LAN.
pub fn interfaces(peer: Option<Ipv4Addr>) -> Vec<Iface> {
    use if_addrs::IfOperStatus::{Down, LowerLayerDown, NotPresent};
    let raw: Vec<Raw> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !matches!(i.oper_status, Down | LowerLayerDown | NotPresent))
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V4(v4) if !v4.ip.is_loopback() => Some(Raw {
                name: i.name.clone(),
                addr: v4.ip,
                prefix: v4.prefixlen,
                broadcast: v4.broadcast,
            }),
            _ => None,
        })
        .collect();
    classify(
        raw,
        &netinfo::default_route_interfaces(),
        &netinfo::adapter_descriptions(),
        &crate::net::local_broadcasts(),
        peer,
    )
}

/// The interfaces with what the doctor needs to know of each: virtual
/// unless it carries the default route or PEER's subnet (then it is the
/// LAN, whatever its kind), and whether lanchat's default target
/// broadcasts there.
pub(crate) fn classify(
    raw: Vec<Raw>,
    defaults: &[String],
    descriptions: &[(String, String)],
    broadcasts: &[Ipv4Addr],
    peer: Option<Ipv4Addr>,
) -> Vec<Iface> {
    raw.into_iter()
        .map(|r| {
            let description = descriptions
                .iter()
                .find(|(n, _)| *n == r.name)
                .map(|(_, d)| d.clone())
                .filter(|d| !d.is_empty() && *d != r.name);
            let lan = defaults.contains(&r.name)
                || peer.is_some_and(|p| same_subnet(r.addr, p, r.prefix));
            let is_virtual = !lan && looks_virtual(&r.name, description.as_deref().unwrap_or(""));
            Iface {
                default_target: r.broadcast.is_some_and(|b| broadcasts.contains(&b)),
                name: r.name,
                addr: r.addr,
                prefix: r.prefix,
                broadcast: r.broadcast,
                is_virtual,
                description,
            }
        })
        .collect()
}

/// Whether `a` and `b` are on one subnet of `prefix` bits.
pub fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    Ipv4Net::new(a, prefix.min(32)).is_ok_and(|net| net.contains(&b))
}

/// The network of an address: `192.168.1.0/24`.
fn network(addr: Ipv4Addr, prefix: u8) -> String {
    Ipv4Net::new(addr, prefix.min(32))
        .map(|n| n.trunc().to_string())
        .unwrap_or_default()
}

/// The programs holding a port, as a person reads them:
/// `chat-window (pid 4242), pid 77`.
pub fn holders_text(holders: &[Holder]) -> String {
    holders
        .iter()
        .map(|h| match &h.name {
            Some(n) => t!("doctor.program", name = n, pid = h.pid).into_owned(),
            None => t!("doctor.program_unnamed", pid = h.pid).into_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The troubles with the interfaces.
pub fn interface_findings(ifaces: &[Iface]) -> Vec<Finding> {
    let mut out = Vec::new();
    if ifaces.is_empty() {
        out.push(Finding::problem(
            "no-interface",
            t!("doctor.finding.no_interface").into_owned(),
            t!(
                "doctor.fix.no_interface",
                command = if cfg!(windows) {
                    "ipconfig"
                } else {
                    "ip -4 addr"
                }
            )
            .into_owned(),
        ));
    }
    for i in ifaces.iter().filter(|i| i.addr.is_link_local()) {
        let command = if cfg!(windows) {
            format!("ipconfig /renew \"{}\"", i.name)
        } else {
            format!("sudo dhclient -v {}", i.name)
        };
        out.push(Finding::problem(
            "link-local",
            t!("doctor.finding.link_local", name = i.name, addr = i.addr).into_owned(),
            t!("doctor.fix.link_local", command = command).into_owned(),
        ));
    }
    for i in ifaces.iter().filter(|i| i.is_virtual) {
        let what = match &i.description {
            Some(d) => format!("{} ({d})", i.name),
            None => i.name.clone(),
        };
        out.push(Finding::note(
            "virtual-adapter",
            t!("doctor.finding.virtual_adapter", name = what, addr = i.addr).into_owned(),
            t!("doctor.fix.virtual_adapter", command = link_down(&i.name)).into_owned(),
        ));
    }
    let real: Vec<&Iface> = ifaces.iter().filter(|i| !i.addr.is_link_local()).collect();
    let mut told = Vec::new();
    for (n, a) in real.iter().enumerate() {
        for b in &real[n + 1..] {
            let net = network(a.addr, a.prefix);
            if a.name != b.name
                && a.prefix == b.prefix
                && same_subnet(a.addr, b.addr, a.prefix)
                && !told.contains(&net)
            {
                told.push(net.clone());
                out.push(Finding::problem(
                    "same-subnet-twice",
                    t!(
                        "doctor.finding.same_subnet_twice",
                        first = a.name,
                        second = b.name,
                        subnet = net
                    )
                    .into_owned(),
                    t!("doctor.fix.same_subnet_twice", command = link_down(&b.name)).into_owned(),
                ));
            }
        }
    }
    out
}

fn link_down(name: &str) -> String {
    if cfg!(windows) {
        format!("netsh interface set interface name=\"{name}\" admin=disabled")
    } else {
        format!("sudo ip link set {name} down")
    }
}

/// Whether a port can be bound, and if not who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Port {
    /// It can be bound.
    Free,
    /// It cannot; the holders the OS names (maybe none), or why it would not.
    Held(Result<Vec<Holder>, String>),
    /// Another reason (permission…).
    Failed(String),
}

/// Tries to bind UDP (or TCP) `port` on every address, the way lanchat
/// does (the port its alone), and lets it go at once.
pub fn check_port(port: u16, tcp: bool) -> Port {
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
    let bound = if tcp {
        crate::net::bind_tcp(addr).map(drop)
    } else {
        crate::net::bind_udp(addr, 0, false).map(drop)
    };
    match bound {
        Ok(()) => Port::Free,
        Err(crate::net::NetError::Bind { error, .. })
            if error.kind() == std::io::ErrorKind::AddrInUse =>
        {
            Port::Held(netinfo::port_holders(port, tcp))
        }
        Err(e) => Port::Failed(e.to_string()),
    }
}

/// The finding for a port that is held.
pub fn port_finding(port: u16, tcp: bool, state: &Port) -> Option<Finding> {
    let proto = if tcp { "TCP" } else { "UDP" };
    let (text, fix) = match state {
        Port::Free => return None,
        Port::Held(Ok(holders)) if !holders.is_empty() => {
            let programs = holders_text(holders);
            let kill = holders
                .iter()
                .map(|h| {
                    if cfg!(windows) {
                        format!("taskkill /PID {}", h.pid)
                    } else {
                        format!("kill {}", h.pid)
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            (
                t!(
                    "doctor.finding.port_in_use",
                    proto = proto,
                    port = port,
                    programs = programs
                )
                .into_owned(),
                t!("doctor.fix.port_in_use", command = kill).into_owned(),
            )
        }
        Port::Held(other) => {
            let why = match other {
                Err(why) => why.clone(),
                Ok(_) => t!("doctor.holder_hidden").into_owned(),
            };
            (
                t!(
                    "doctor.finding.port_in_use_unnamed",
                    proto = proto,
                    port = port,
                    why = why
                )
                .into_owned(),
                t!(
                    "doctor.fix.port_in_use_unnamed",
                    command = if cfg!(windows) {
                        format!("netstat -ano -p udp | findstr :{port}")
                    } else {
                        format!("sudo ss -ulpn 'sport = :{port}'")
                    }
                )
                .into_owned(),
            )
        }
        Port::Failed(why) => (
            t!(
                "doctor.finding.port_failed",
                proto = proto,
                port = port,
                why = why
            )
            .into_owned(),
            t!("doctor.fix.port_failed").into_owned(),
        ),
    };
    Some(Finding::problem("port-in-use", text, fix))
}

/// The firewall's findings.
pub fn firewall_findings(view: &firewall::View, port: u16) -> Vec<Finding> {
    if let Some(why) = &view.unreadable {
        let fix = if cfg!(windows) {
            t!("doctor.fix.firewall_unreadable_windows").into_owned()
        } else {
            t!("doctor.fix.firewall_unreadable").into_owned()
        };
        return vec![Finding::note(
            "firewall-unreadable",
            t!("doctor.finding.firewall_unreadable", why = why).into_owned(),
            fix,
        )];
    }
    view.blocks
        .iter()
        .map(|b| {
            Finding::problem(
                "firewall-blocks",
                t!("doctor.finding.firewall_blocks", port = port, rule = b.rule).into_owned(),
                t!("doctor.fix.command", command = b.fix).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, addr: &str, prefix: u8) -> Raw {
        let addr: Ipv4Addr = addr.parse().unwrap();
        let host = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
        Raw {
            name: name.into(),
            addr,
            prefix,
            broadcast: Some(Ipv4Addr::from(u32::from(addr) | host)),
        }
    }

    #[test]
    fn virtual_adapters_by_name_and_description_but_never_the_lan() {
        assert!(looks_virtual("tun0", ""));
        assert!(looks_virtual("wg0", ""));
        assert!(looks_virtual("docker0", ""));
        assert!(looks_virtual("vEthernet (WSL)", ""));
        assert!(looks_virtual("Ethernet 3", "TAP-Windows Adapter V9"));
        assert!(looks_virtual(
            "以太网 2",
            "VMware Virtual Ethernet Adapter for VMnet8"
        ));
        assert!(!looks_virtual("eth0", ""));
        assert!(!looks_virtual("Wi-Fi", "Intel(R) Wi-Fi 6 AX201 160MHz"));
        let list = classify(
            vec![
                raw("veth1", "10.77.0.1", 24),
                raw("tun0", "10.8.0.2", 24),
                raw("docker0", "172.17.0.1", 16),
            ],
            &["veth1".to_string()],
            &[],
            &["10.77.0.255".parse().unwrap()],
            None,
        );
        assert!(!list[0].is_virtual && list[0].default_target);
        assert!(list[1].is_virtual && !list[1].default_target);
        // PEER's subnet makes an interface the LAN too.
        let list = classify(
            vec![raw("docker0", "172.17.0.1", 16)],
            &[],
            &[],
            &[],
            Some("172.17.0.5".parse().unwrap()),
        );
        assert!(!list[0].is_virtual);
    }

    #[test]
    fn interface_troubles_are_told() {
        let codes = |ifaces: Vec<Raw>| -> Vec<&'static str> {
            interface_findings(&classify(ifaces, &[], &[], &[], None))
                .iter()
                .map(|f| f.code)
                .collect()
        };
        assert_eq!(codes(vec![]), ["no-interface"]);
        assert_eq!(codes(vec![raw("eth0", "169.254.3.4", 16)]), ["link-local"]);
        assert_eq!(
            codes(vec![
                raw("eth0", "192.168.1.5", 24),
                raw("wlan0", "192.168.1.9", 24)
            ]),
            ["same-subnet-twice"]
        );
        assert_eq!(
            codes(vec![
                raw("eth0", "192.168.1.5", 24),
                raw("tun0", "10.8.0.2", 24)
            ]),
            ["virtual-adapter"]
        );
        assert!(codes(vec![raw("eth0", "192.168.1.5", 24)]).is_empty());
        // Two addresses on one interface are not "twice".
        assert!(codes(vec![
            raw("eth0", "192.168.1.5", 24),
            raw("eth0", "192.168.1.6", 24)
        ])
        .is_empty());
    }

    #[test]
    fn subnets() {
        let a: Ipv4Addr = "192.168.1.5".parse().unwrap();
        assert!(same_subnet(a, "192.168.1.200".parse().unwrap(), 24));
        assert!(!same_subnet(a, "192.168.2.5".parse().unwrap(), 24));
        assert!(same_subnet(a, "10.0.0.1".parse().unwrap(), 0));
        assert_eq!(network(a, 24), "192.168.1.0/24");
    }

    #[test]
    fn a_held_port_names_its_holder() {
        let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        let port = s.local_addr().unwrap().port();
        let state = check_port(port, false);
        assert!(matches!(state, Port::Held(_)), "{state:?}");
        let f = port_finding(port, false, &state).unwrap();
        assert_eq!(f.code, "port-in-use");
        if cfg!(target_os = "linux") {
            assert!(
                f.text.contains(&std::process::id().to_string()),
                "{}",
                f.text
            );
        }
        drop(s);
        assert_eq!(check_port(port, false), Port::Free);
    }
}
