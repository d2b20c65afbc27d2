//! From what the probes saw to the table and the findings: pure, so every
//! cause is unit-tested without a network.

use rust_i18n::t;

use super::answer::kind_words;
use super::probe::{IpmsgSeen, RoomSeen, Seen, Tcp, GROUP};
use super::wire::{Kind, Settings};
use super::{Finding, ProbeRow};

/// The settings this doctor runs with, to compare with PEER's.
#[derive(Debug, Clone)]
pub struct Ours {
    /// The port.
    pub port: u16,
    /// The encoding's label.
    pub encoding: String,
    /// `udp` or `ipmsg`.
    pub mode: String,
}

/// The rows of the probes of PEER.
pub fn rows(seen: &Seen) -> Vec<ProbeRow> {
    let peer = seen.peer;
    let heard = |k: Kind| seen.heard.contains(&k);
    let mut out = Vec::new();
    let mut row = |name: &'static str, label: String, ok: bool, detail: String| {
        out.push(ProbeRow {
            name,
            label,
            ok,
            detail,
        });
    };
    let yes = || t!("doctor.detail.heard", peer = peer).into_owned();
    let no = || t!("doctor.detail.not_heard", peer = peer).into_owned();
    row(
        "unicast-to-peer",
        t!("doctor.probe.unicast_to", peer = peer, port = seen.port).into_owned(),
        heard(Kind::Unicast),
        if heard(Kind::Unicast) { yes() } else { no() },
    );
    row(
        "unicast-from-peer",
        t!("doctor.probe.unicast_from", peer = peer).into_owned(),
        seen.hello,
        if seen.hello {
            t!("doctor.detail.came").into_owned()
        } else if seen.replies {
            t!("doctor.detail.only_replies").into_owned()
        } else {
            t!("doctor.detail.nothing_came").into_owned()
        },
    );
    if !seen.local {
        match seen.subnet {
            Some(b) => row(
                "subnet-broadcast",
                t!("doctor.probe.subnet", addr = b).into_owned(),
                heard(Kind::Subnet),
                if heard(Kind::Subnet) { yes() } else { no() },
            ),
            None => row(
                "subnet-broadcast",
                t!("doctor.probe.subnet", addr = "-").into_owned(),
                false,
                t!("doctor.detail.no_subnet", peer = peer).into_owned(),
            ),
        }
        row(
            "limited-broadcast",
            t!("doctor.probe.subnet", addr = "255.255.255.255").into_owned(),
            heard(Kind::All),
            if heard(Kind::All) { yes() } else { no() },
        );
        row(
            "multicast",
            t!("doctor.probe.multicast", group = GROUP).into_owned(),
            heard(Kind::Multicast),
            if heard(Kind::Multicast) { yes() } else { no() },
        );
    }
    let (ok, detail) = match &seen.tcp {
        Tcp::Report(_) => (true, t!("doctor.detail.tcp_answered").into_owned()),
        Tcp::Other => (true, t!("doctor.detail.tcp_other").into_owned()),
        Tcp::Refused => (false, t!("doctor.detail.refused").into_owned()),
        Tcp::Silent => (false, t!("doctor.detail.silent").into_owned()),
        Tcp::Failed(why) => (false, why.clone()),
    };
    row(
        "tcp",
        t!("doctor.probe.tcp", peer = peer, port = seen.port).into_owned(),
        ok,
        detail,
    );
    out
}

/// The findings of the probes of PEER, most likely cause first.
pub fn findings(seen: &Seen, ours: &Ours, ipmsg: Option<&IpmsgSeen>) -> Vec<Finding> {
    let peer = seen.peer.to_string();
    let port = seen.port;
    let mut out = Vec::new();
    let allow_in = allow_command(port);
    let answered = seen.settings.is_some();
    let ipmsg_answered = ipmsg.is_some_and(|m| m.unicast.is_some());
    if !seen.local && seen.subnet.is_none() {
        out.push(Finding::problem(
            "not-on-subnet",
            t!("doctor.finding.not_on_subnet", peer = peer).into_owned(),
            t!("doctor.fix.not_on_subnet", peer = peer).into_owned(),
        ));
    }
    if answered {
        if !seen.heard.contains(&Kind::Unicast) {
            // TCP told us PEER is there and answering, yet no datagram of
            // ours reached it.
            out.push(Finding::problem(
                "peer-firewall",
                t!("doctor.finding.peer_firewall_tcp", peer = peer, port = port).into_owned(),
                t!("doctor.fix.peer_firewall", peer = peer, port = port).into_owned(),
            ));
        } else if !seen.hello {
            out.push(Finding::problem(
                "replies-blocked",
                t!("doctor.finding.replies_blocked", peer = peer, port = port).into_owned(),
                t!("doctor.fix.command", command = allow_in).into_owned(),
            ));
        }
        if seen.heard.contains(&Kind::Unicast) && !seen.local && seen.subnet.is_some() {
            let missing: Vec<String> = [Kind::Subnet, Kind::All, Kind::Multicast]
                .into_iter()
                .filter(|k| seen.sent.contains(k) && !seen.heard.contains(k))
                .map(kind_words)
                .collect();
            if !missing.is_empty() {
                out.push(Finding::problem(
                    "broadcast-filtered",
                    t!(
                        "doctor.finding.broadcast_filtered",
                        which = missing.join(", ")
                    )
                    .into_owned(),
                    t!("doctor.fix.broadcast_filtered", peer = peer).into_owned(),
                ));
            }
        }
    } else if let Some(theirs) = &seen.elsewhere {
        out.extend(differ(&peer, ours, theirs));
    } else if ipmsg_answered {
        // An IP Messenger host, no doctor: the ipmsg rows tell the rest.
    } else {
        let up = match (&seen.tcp, seen.refused, seen.neighbour) {
            (Tcp::Refused | Tcp::Other, _, _) | (_, true, _) => {
                Some(t!("doctor.evidence.refuses").into_owned())
            }
            (_, _, Some(true)) => Some(t!("doctor.evidence.arp").into_owned()),
            _ => None,
        };
        let firewalled =
            matches!(seen.tcp, Tcp::Silent) && !seen.refused && seen.neighbour == Some(true);
        if firewalled {
            out.push(Finding::problem(
                "peer-firewall",
                t!("doctor.finding.peer_firewall", peer = peer, port = port).into_owned(),
                t!("doctor.fix.peer_firewall", peer = peer, port = port).into_owned(),
            ));
        } else if let Some(evidence) = up {
            out.push(Finding::problem(
                "no-answer",
                t!("doctor.finding.no_answer", peer = peer, evidence = evidence).into_owned(),
                t!("doctor.fix.no_answer", peer = peer).into_owned(),
            ));
        } else {
            out.push(Finding::problem(
                "unreachable",
                t!("doctor.finding.unreachable", peer = peer).into_owned(),
                t!("doctor.fix.unreachable").into_owned(),
            ));
        }
    }
    if let Some(theirs) = &seen.settings {
        out.extend(differ(&peer, ours, theirs));
    }
    if let Some(m) = ipmsg {
        if m.unicast.is_some() && m.broadcast_sent && !m.broadcast {
            out.push(Finding::problem(
                "broadcast-filtered",
                t!(
                    "doctor.finding.broadcast_filtered",
                    which = t!("doctor.kind.ipmsg_broadcast")
                )
                .into_owned(),
                t!("doctor.fix.broadcast_filtered", peer = peer).into_owned(),
            ));
        }
    }
    out
}

/// What differs between our settings and PEER's.
pub fn differ(peer: &str, ours: &Ours, theirs: &Settings) -> Vec<Finding> {
    let mut out = Vec::new();
    if theirs.port != ours.port {
        out.push(Finding::problem(
            "settings-differ",
            t!(
                "doctor.finding.port_differs",
                peer = peer,
                theirs = theirs.port,
                ours = ours.port
            )
            .into_owned(),
            t!("doctor.fix.port_differs", port = theirs.port).into_owned(),
        ));
    }
    if theirs.mode != ours.mode {
        out.push(Finding::problem(
            "settings-differ",
            t!(
                "doctor.finding.mode_differs",
                peer = peer,
                theirs = theirs.mode,
                ours = ours.mode
            )
            .into_owned(),
            t!("doctor.fix.mode_differs").into_owned(),
        ));
    }
    let legacy = |e: &str| e != "utf-8" && e != "auto";
    let clash = theirs.encoding != ours.encoding
        && ours.encoding != "auto"
        && !(theirs.encoding == "auto" && legacy(&ours.encoding));
    if clash {
        out.push(Finding::problem(
            "settings-differ",
            t!(
                "doctor.finding.encoding_differs",
                peer = peer,
                theirs = theirs.encoding,
                ours = ours.encoding
            )
            .into_owned(),
            t!("doctor.fix.encoding_differs", theirs = theirs.encoding).into_owned(),
        ));
    }
    out
}

/// The rows of the IP Messenger probes.
pub fn ipmsg_rows(peer: &str, port: u16, m: &IpmsgSeen) -> Vec<ProbeRow> {
    let mut out = vec![ProbeRow {
        name: "ipmsg-unicast",
        label: t!("doctor.probe.ipmsg_unicast", peer = peer, port = port).into_owned(),
        ok: m.unicast.is_some(),
        detail: match &m.unicast {
            Some(who) => t!("doctor.detail.ipmsg_answered", who = who).into_owned(),
            None => t!("doctor.detail.ipmsg_silent").into_owned(),
        },
    }];
    if m.broadcast_sent {
        out.push(ProbeRow {
            name: "ipmsg-broadcast",
            label: t!("doctor.probe.ipmsg_broadcast").into_owned(),
            ok: m.broadcast,
            detail: if m.broadcast {
                t!("doctor.detail.heard", peer = peer).into_owned()
            } else {
                t!("doctor.detail.not_heard", peer = peer).into_owned()
            },
        });
    }
    out
}

/// The row and the finding of a room.
pub fn room(target: &str, seen: &RoomSeen, neighbour: Option<bool>) -> (ProbeRow, Option<Finding>) {
    let label = t!("doctor.probe.room", room = target).into_owned();
    let (ok, detail) = match seen {
        RoomSeen::Line(l) => (true, t!("doctor.detail.first_line", line = l).into_owned()),
        RoomSeen::Quiet => (true, t!("doctor.detail.room_quiet").into_owned()),
        RoomSeen::Refused => (false, t!("doctor.detail.refused").into_owned()),
        RoomSeen::Silent => (false, t!("doctor.detail.silent").into_owned()),
        RoomSeen::Failed(why) => (false, why.clone()),
    };
    let finding = match seen {
        RoomSeen::Line(_) | RoomSeen::Quiet => None,
        RoomSeen::Refused => Some(Finding::problem(
            "no-answer",
            t!("doctor.finding.room_refused", room = target).into_owned(),
            t!("doctor.fix.room_refused").into_owned(),
        )),
        RoomSeen::Silent if neighbour == Some(true) => Some(Finding::problem(
            "peer-firewall",
            t!("doctor.finding.room_firewall", room = target).into_owned(),
            t!("doctor.fix.room_firewall").into_owned(),
        )),
        RoomSeen::Silent | RoomSeen::Failed(_) => Some(Finding::problem(
            "unreachable",
            t!(
                "doctor.finding.room_unreachable",
                room = target,
                why = detail
            )
            .into_owned(),
            t!("doctor.fix.unreachable").into_owned(),
        )),
    };
    (
        ProbeRow {
            name: "room",
            label,
            ok,
            detail,
        },
        finding,
    )
}

/// The command that lets UDP `port` in on this OS.
pub fn allow_command(port: u16) -> String {
    if cfg!(windows) {
        format!("netsh advfirewall firewall add rule name=\"lanchat UDP {port}\" dir=in action=allow protocol=UDP localport={port}")
    } else {
        format!("sudo nft insert rule inet filter input udp dport {port} accept   # ufw: sudo ufw allow {port}/udp")
    }
}

#[cfg(test)]
mod tests {
    use super::super::probe::Seen;
    use super::*;
    use std::collections::BTreeSet;

    fn settings(encoding: &str) -> Settings {
        Settings {
            version: "0.1.0".into(),
            port: 3456,
            encoding: encoding.into(),
            mode: "udp".into(),
        }
    }

    fn ours() -> Ours {
        Ours {
            port: 3456,
            encoding: "gb2312".into(),
            mode: "udp".into(),
        }
    }

    fn all() -> BTreeSet<Kind> {
        [Kind::Unicast, Kind::Subnet, Kind::All, Kind::Multicast]
            .into_iter()
            .collect()
    }

    fn well() -> Seen {
        Seen {
            peer: "10.77.0.2".parse().unwrap(),
            port: 3456,
            local: false,
            subnet: Some("10.77.0.255".parse().unwrap()),
            sent: all(),
            heard: all(),
            replies: true,
            hello: true,
            tcp: Tcp::Report(super::super::wire::Report {
                settings: settings("gb2312"),
                heard: all().into_iter().collect(),
            }),
            refused: false,
            neighbour: Some(true),
            settings: Some(settings("gb2312")),
            elsewhere: None,
        }
    }

    fn codes(seen: &Seen) -> Vec<&'static str> {
        findings(seen, &ours(), None)
            .iter()
            .map(|f| f.code)
            .collect()
    }

    #[test]
    fn all_well_says_nothing_and_every_row_is_ok() {
        assert!(codes(&well()).is_empty());
        assert!(rows(&well()).iter().all(|r| r.ok));
    }

    #[test]
    fn each_cause_is_told_apart() {
        // The peer's firewall drops UDP: TCP answers, nothing heard.
        let mut s = well();
        s.heard.clear();
        s.replies = false;
        s.hello = false;
        assert_eq!(codes(&s), ["peer-firewall"]);
        // Our firewall drops what comes in: PEER heard us (said over TCP).
        let mut s = well();
        s.replies = false;
        s.hello = false;
        assert_eq!(codes(&s), ["replies-blocked"]);
        // Broadcast and multicast filtered by the network.
        let mut s = well();
        s.heard = [Kind::Unicast].into_iter().collect();
        assert_eq!(codes(&s), ["broadcast-filtered"]);
        // Behind a router.
        let mut s = well();
        s.subnet = None;
        s.heard = [Kind::Unicast].into_iter().collect();
        s.sent = [Kind::Unicast, Kind::All, Kind::Multicast]
            .into_iter()
            .collect();
        assert_eq!(codes(&s), ["not-on-subnet"]);
        // Nothing at all, the address answers ARP: its firewall.
        let mut s = well();
        s.heard.clear();
        s.replies = false;
        s.hello = false;
        s.settings = None;
        s.tcp = Tcp::Silent;
        assert_eq!(codes(&s), ["peer-firewall"]);
        // Nothing, not even ARP.
        s.neighbour = Some(false);
        assert_eq!(codes(&s), ["unreachable"]);
        // Up (its TCP port refuses) but no doctor there.
        s.tcp = Tcp::Refused;
        assert_eq!(codes(&s), ["no-answer"]);
        // Another encoding.
        let mut s = well();
        s.settings = Some(settings("utf-8"));
        assert_eq!(codes(&s), ["settings-differ"]);
        let f = findings(&s, &ours(), None);
        assert!(
            f[0].text.contains("utf-8") && f[0].fix.contains("-e utf-8"),
            "{f:?}"
        );
        // A doctor on the other port.
        let mut s = well();
        s.heard.clear();
        s.settings = None;
        s.tcp = Tcp::Refused;
        s.elsewhere = Some(Settings {
            port: 2425,
            mode: "ipmsg".into(),
            ..settings("gb2312")
        });
        let c = codes(&s);
        assert_eq!(c, ["settings-differ", "settings-differ"]);
    }

    #[test]
    fn auto_reads_both_and_rooms_are_told() {
        let o = Ours {
            encoding: "auto".into(),
            ..ours()
        };
        assert!(differ("x", &o, &settings("utf-8")).is_empty());
        assert!(differ("x", &ours(), &settings("auto")).is_empty());
        assert_eq!(differ("x", &ours(), &settings("utf-8")).len(), 1);
        let (row, f) = room("10.0.0.1:5000", &RoomSeen::Line("! welcome".into()), None);
        assert!(row.ok && f.is_none());
        let (row, f) = room("10.0.0.1:5000", &RoomSeen::Refused, Some(true));
        assert!(!row.ok && f.unwrap().code == "no-answer");
        let (_, f) = room("10.0.0.1:5000", &RoomSeen::Silent, Some(true));
        assert_eq!(f.unwrap().code, "peer-firewall");
        let (_, f) = room("10.0.0.1:5000", &RoomSeen::Silent, Some(false));
        assert_eq!(f.unwrap().code, "unreachable");
    }

    #[test]
    fn an_ip_messenger_host_without_a_doctor_is_not_no_answer() {
        let mut s = well();
        s.heard.clear();
        s.replies = false;
        s.hello = false;
        s.settings = None;
        s.tcp = Tcp::Refused;
        let m = IpmsgSeen {
            unicast: Some("wang@pc (老王)".into()),
            broadcast: false,
            broadcast_sent: true,
        };
        let c: Vec<_> = findings(&s, &ours(), Some(&m))
            .iter()
            .map(|f| f.code)
            .collect();
        assert_eq!(c, ["broadcast-filtered"]);
        assert!(ipmsg_rows("10.77.0.2", 2425, &m)[0].ok);
    }
}
