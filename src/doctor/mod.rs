//! `lanchat doctor`: why two machines cannot see each other, and what to
//! do. This machine's interfaces, ports and firewall; with PEER, probes
//! both ways (PEER runs `lanchat doctor --answer`, or is an IP Messenger
//! host with `--ipmsg`); with `--room`, the room. It only tells: nothing
//! is changed, and its probes are few and bounded (README "lanchat
//! doctor").
//!
//! | part | what it does |
//! |---|---|
//! | [`local`] | interfaces (virtual, 169.254, one subnet twice), ports and who holds them |
//! | [`firewall`] | nftables / iptables / ufw / firewalld; the Windows profile and rules |
//! | [`probe`] | the probes of PEER, IP Messenger's BR_ENTRY, a room's first line |
//! | [`answer`] | `--answer`: the other side |
//! | [`verdict`] | from what was seen to the table and the findings (pure) |
//! | [`wire`] | the probes' datagrams and the TCP question |

pub mod answer;
pub mod cli;
pub mod firewall;
pub mod local;
pub mod probe;
pub mod verdict;
pub mod wire;

use std::net::{IpAddr, Ipv4Addr};

use rust_i18n::t;
use serde::Serialize;

use crate::encoding::Encoding;

/// What the doctor is asked to look at.
#[derive(Debug, Clone)]
pub struct Config {
    /// PEER as typed (an address or a host name).
    pub peer: Option<String>,
    /// The UDP port (3456, or 2425 with `--ipmsg`, unless `-p`).
    pub port: u16,
    /// The encoding (`-e`).
    pub encoding: Encoding,
    /// `--ipmsg`.
    pub ipmsg: bool,
    /// `--room HOST[:PORT]`.
    pub room: Option<String>,
}

impl Config {
    /// The settings an answer carries, or ours to compare.
    pub fn settings(&self) -> wire::Settings {
        wire::Settings {
            version: env!("CARGO_PKG_VERSION").to_string(),
            port: self.port,
            encoding: self.encoding.label().to_string(),
            mode: if self.ipmsg { "ipmsg" } else { "udp" }.to_string(),
        }
    }
}

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeRow {
    /// Its stable name (`unicast-to-peer`, `multicast`, `tcp`…).
    pub name: &'static str,
    /// What it was, in the user's words.
    #[serde(skip)]
    pub label: String,
    /// It worked.
    pub ok: bool,
    /// What happened, in the user's words.
    pub detail: String,
}

/// One finding: a stable code, what is wrong, and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Its stable code (README "lanchat doctor").
    pub code: &'static str,
    /// What is wrong.
    pub text: String,
    /// What to do.
    pub fix: String,
    /// `problem` (exit 1) or `note` (told, not counted).
    pub severity: &'static str,
}

impl Finding {
    /// A problem: the doctor exits 1.
    pub fn problem(code: &'static str, text: String, fix: String) -> Finding {
        Finding {
            code,
            text,
            fix,
            severity: "problem",
        }
    }

    /// A note: told, but not counted as wrong (a VPN that may be fine, a
    /// firewall that could not be read).
    pub fn note(code: &'static str, text: String, fix: String) -> Finding {
        Finding {
            code,
            text,
            fix,
            severity: "note",
        }
    }

    fn rank(&self) -> usize {
        const ORDER: [&str; 14] = [
            "no-interface",
            "link-local",
            "port-in-use",
            "firewall-blocks",
            "replies-blocked",
            "peer-firewall",
            "unreachable",
            "not-on-subnet",
            "broadcast-filtered",
            "no-answer",
            "settings-differ",
            "same-subnet-twice",
            "virtual-adapter",
            "firewall-unreadable",
        ];
        ORDER
            .iter()
            .position(|c| *c == self.code)
            .unwrap_or(ORDER.len())
    }
}

/// One up IPv4 interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Iface {
    /// Its name (`eth0`, `Wi-Fi`).
    pub name: String,
    /// Its address.
    pub addr: Ipv4Addr,
    /// The prefix length.
    pub prefix: u8,
    /// Its broadcast address.
    pub broadcast: Option<Ipv4Addr>,
    /// A VPN, tunnel, virtual machine's or container's adapter (never the
    /// LAN's own link).
    #[serde(rename = "virtual")]
    pub is_virtual: bool,
    /// Windows' description of the adapter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// lanchat with no target broadcasts here.
    pub default_target: bool,
}

/// A port of this machine's.
#[derive(Debug, Clone, Serialize)]
pub struct PortRow {
    /// `udp` or `tcp`.
    pub proto: &'static str,
    /// The port.
    pub port: u16,
    /// It can be bound.
    pub free: bool,
    /// Who holds it (`chat-window (pid 4242)`), when held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
}

/// What the firewall reading gave.
#[derive(Debug, Clone, Serialize)]
pub struct FirewallRow {
    /// The tool read (empty when none could be).
    pub tool: String,
    /// It could be read.
    pub read: bool,
    /// The rules or policies that drop the port.
    pub blocks: Vec<String>,
}

/// Everything the doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The probes, in order.
    pub probes: Vec<ProbeRow>,
    /// The findings, most likely cause first.
    pub findings: Vec<Finding>,
    /// This machine's interfaces.
    pub interfaces: Vec<Iface>,
    /// This machine's ports.
    pub ports: Vec<PortRow>,
    /// This machine's firewall.
    pub firewall: FirewallRow,
}

impl Report {
    /// 0 when every probe worked and nothing is wrong, else 1.
    pub fn exit_code(&self) -> u8 {
        let wrong = self.findings.iter().any(|f| f.severity == "problem")
            || self.probes.iter().any(|p| !p.ok);
        if wrong {
            crate::exit::FAILURE
        } else {
            crate::exit::SUCCESS
        }
    }
}

/// Looks at this machine and, when asked, probes PEER and the room.
pub fn examine(config: &Config) -> Report {
    let peer = config.peer.as_deref().map(|p| resolve(p, config.port));
    let peer_v4 = match &peer {
        Some(Ok(IpAddr::V4(v4))) => Some(*v4),
        _ => None,
    };
    let interfaces = local::interfaces(peer_v4);
    let mut findings = local::interface_findings(&interfaces);
    let mut ports = Vec::new();
    let mut wanted = vec![(config.port, false)];
    if config.ipmsg {
        wanted.push((config.port, true));
    }
    for (port, tcp) in wanted {
        let state = local::check_port(port, tcp);
        let held_by = match &state {
            local::Port::Held(Ok(h)) if !h.is_empty() => Some(local::holders_text(h)),
            _ => None,
        };
        findings.extend(local::port_finding(port, tcp, &state));
        ports.push(PortRow {
            proto: if tcp { "tcp" } else { "udp" },
            port,
            free: state == local::Port::Free,
            held_by,
        });
    }
    let view = firewall::read(config.port);
    findings.extend(local::firewall_findings(&view, config.port));
    let firewall = FirewallRow {
        tool: view.tool.clone(),
        read: view.unreadable.is_none(),
        blocks: view.blocks.iter().map(|b| b.rule.clone()).collect(),
    };
    let mut probes = Vec::new();
    match (&peer, peer_v4) {
        (Some(Ok(_)), Some(v4)) => {
            let home = interfaces
                .iter()
                .find(|i| local::same_subnet(i.addr, v4, i.prefix));
            let is_local = v4.is_loopback() || crate::net::local_ips().contains(&IpAddr::V4(v4));
            let (source, subnet) = match (home, is_local) {
                (_, true) => (None, None),
                (Some(i), false) => (Some(i.addr), i.broadcast),
                (None, false) => (None, None),
            };
            let mut seen = probe::probe(v4, config.port, source, subnet, is_local);
            if subnet.is_some() {
                seen.neighbour = crate::sys::netinfo::neighbour_known(v4);
            }
            let ipmsg = config.ipmsg.then(|| {
                probe::ipmsg(v4, config.port, source, subnet, config.encoding_for_ipmsg())
            });
            let ours = verdict::Ours {
                port: config.port,
                encoding: config.encoding.label().to_string(),
                mode: if config.ipmsg { "ipmsg" } else { "udp" }.to_string(),
            };
            let answered = seen.settings.is_some();
            let mut rows = verdict::rows(&seen);
            if let Some(m) = &ipmsg {
                if !answered && m.unicast.is_some() {
                    // An IP Messenger host as it is: no doctor's rows to fail.
                    rows.clear();
                }
                rows.extend(verdict::ipmsg_rows(&v4.to_string(), config.port, m));
            }
            probes.extend(rows);
            findings.extend(verdict::findings(&seen, &ours, ipmsg.as_ref()));
        }
        (Some(Ok(other)), None) => {
            findings.push(Finding::problem(
                "unreachable",
                t!("doctor.finding.ipv6_peer", peer = other).into_owned(),
                t!("doctor.fix.unreachable").into_owned(),
            ));
        }
        (Some(Err(why)), _) => {
            findings.push(Finding::problem(
                "unreachable",
                why.clone(),
                t!("doctor.fix.unreachable").into_owned(),
            ));
        }
        (None, _) => {}
    }
    if let Some(room) = &config.room {
        let (row, finding) = examine_room(room, &interfaces);
        probes.push(row);
        findings.extend(finding);
    }
    findings.sort_by_key(Finding::rank);
    Report {
        probes,
        findings,
        interfaces,
        ports,
        firewall,
    }
}

impl Config {
    /// The legacy encoding IP Messenger packets are read in (GBK for
    /// `auto`, as FeiQ writes).
    fn encoding_for_ipmsg(&self) -> Encoding {
        match self.encoding {
            Encoding::Auto => Encoding::gb2312(),
            e => e,
        }
    }
}

fn examine_room(room: &str, interfaces: &[Iface]) -> (ProbeRow, Option<Finding>) {
    let target = crate::room::client::target(room, None).and_then(|(host, port)| {
        crate::net::lookup(host, port)
            .map_err(|why| t!("net.resolve", host = host, why = why).into_owned())
            .and_then(|a| {
                a.iter()
                    .find(|a| a.is_ipv4())
                    .or(a.first())
                    .copied()
                    .ok_or_else(|| t!("net.no_address").into_owned())
            })
    });
    match target {
        Ok(addr) => {
            let seen = probe::room(addr);
            let neighbour = match addr.ip() {
                IpAddr::V4(v4)
                    if interfaces
                        .iter()
                        .any(|i| local::same_subnet(i.addr, v4, i.prefix)) =>
                {
                    crate::sys::netinfo::neighbour_known(v4)
                }
                _ => None,
            };
            verdict::room(&addr.to_string(), &seen, neighbour)
        }
        Err(why) => verdict::room(room, &probe::RoomSeen::Failed(why), None),
    }
}

fn resolve(peer: &str, port: u16) -> Result<IpAddr, String> {
    let (host, port) = crate::net::split_host_port(peer, port)?;
    let addrs = crate::net::lookup(host, port)
        .map_err(|why| t!("net.resolve", host = host, why = why).into_owned())?;
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .map(|a| a.ip())
        .ok_or_else(|| t!("net.no_address").into_owned())
}

/// The report as a person reads it.
pub fn render(report: &Report, peer: Option<&str>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{}", t!("doctor.heading.machine"));
    if report.interfaces.is_empty() {
        let _ = writeln!(out, "  {}", t!("doctor.no_interfaces"));
    }
    for i in &report.interfaces {
        let mut line = format!("  {:<12} {}/{}", i.name, i.addr, i.prefix);
        if let Some(b) = i.broadcast {
            let _ = write!(line, "  {}", t!("doctor.broadcast", addr = b));
        }
        if let Some(d) = &i.description {
            let _ = write!(line, "  ({d})");
        }
        if i.is_virtual {
            let _ = write!(line, "  [{}]", t!("doctor.virtual"));
        }
        if i.default_target {
            let _ = write!(line, "  ← {}", t!("doctor.default_target"));
        }
        let _ = writeln!(out, "{line}");
    }
    for p in &report.ports {
        let proto = p.proto.to_uppercase();
        let state = match (&p.held_by, p.free) {
            (_, true) => t!("doctor.port_free").into_owned(),
            (Some(who), false) => t!("doctor.port_held", who = who).into_owned(),
            (None, false) => t!("doctor.port_busy").into_owned(),
        };
        let _ = writeln!(out, "  {proto} {}: {state}", p.port);
    }
    let fw = &report.firewall;
    let fw_line = if !fw.read {
        t!("doctor.firewall_unread").into_owned()
    } else if fw.blocks.is_empty() {
        t!("doctor.firewall_open", tool = fw.tool).into_owned()
    } else {
        t!("doctor.firewall_blocks", tool = fw.tool).into_owned()
    };
    let _ = writeln!(out, "  {fw_line}");
    if !report.probes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            t!("doctor.heading.probes", peer = peer.unwrap_or(""))
        );
        let width = report
            .probes
            .iter()
            .map(|p| unicode_width::UnicodeWidthStr::width(p.label.as_str()))
            .max()
            .unwrap_or(0);
        for p in &report.probes {
            let pad = width.saturating_sub(unicode_width::UnicodeWidthStr::width(p.label.as_str()));
            let mark = if p.ok { "✓" } else { "✗" };
            let _ = writeln!(out, "  {mark} {}{}  {}", p.label, " ".repeat(pad), p.detail);
        }
    }
    let _ = writeln!(out);
    if report.findings.is_empty() {
        let _ = writeln!(out, "{}", t!("doctor.all_well"));
    } else {
        let _ = writeln!(out, "{}", t!("doctor.heading.findings"));
        for f in &report.findings {
            let mark = if f.severity == "problem" { "✗" } else { "·" };
            let _ = writeln!(out, "  {mark} {}", f.text);
            let _ = writeln!(out, "    → {}", f.fix);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_go_most_likely_first_and_notes_do_not_fail() {
        let mut r = Report {
            probes: Vec::new(),
            findings: vec![
                Finding::note("virtual-adapter", "t".into(), "f".into()),
                Finding::problem("settings-differ", "t".into(), "f".into()),
                Finding::problem("replies-blocked", "t".into(), "f".into()),
            ],
            interfaces: Vec::new(),
            ports: Vec::new(),
            firewall: FirewallRow {
                tool: "nftables".into(),
                read: true,
                blocks: Vec::new(),
            },
        };
        r.findings.sort_by_key(Finding::rank);
        let codes: Vec<_> = r.findings.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            ["replies-blocked", "settings-differ", "virtual-adapter"]
        );
        assert_eq!(r.exit_code(), 1);
        r.findings.retain(|f| f.severity == "note");
        assert_eq!(r.exit_code(), 0);
        r.probes.push(ProbeRow {
            name: "tcp",
            label: "TCP".into(),
            ok: false,
            detail: "refused".into(),
        });
        assert_eq!(r.exit_code(), 1);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["probes"][0]["name"], "tcp");
        assert!(json["probes"][0].get("label").is_none());
        assert_eq!(json["findings"][0]["code"], "virtual-adapter");
        let text = render(&r, Some("10.0.0.2"));
        assert!(text.contains("✗ TCP") && text.contains("refused"), "{text}");
    }
}
