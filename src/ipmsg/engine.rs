//! The IP Messenger state machine: who is online, what was sent and not yet
//! confirmed, what was already shown. No socket and no clock inside: every
//! method takes the packet and the time and returns the packets to send and
//! what happened, so the whole protocol is unit-tested.

use rust_i18n::t;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::encoding::Encoding;
use crate::filter::RateLimiter;
use crate::ipmsg::files::{self, Item};
use crate::ipmsg::packet::{self, cmd, opt};
use crate::sanitize;

/// Users listed at most; more are ignored (a flood of fake entries).
pub const MAX_USERS: usize = 10_000;
/// Sends of one message at most: the first and three more, a second apart.
pub const SENDS: u32 = 4;
/// Time between sends of an unconfirmed message.
pub const RETRY: Duration = Duration::from_secs(1);
/// Answers (ANSENTRY, RECVMSG, SENDINFO) per second to one address at
/// most, so lanchat cannot be used to amplify a flood.
pub const ANSWERS_PER_SECOND: u32 = 20;
/// Packet numbers remembered per sender, to show a retransmission once.
const SEEN_PER_SENDER: usize = 256;
/// Nick and group are cut at this many characters.
const NAME_MAX: usize = 64;

/// Who this user is on the LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    /// Login name (USER).
    pub user: String,
    /// Host name (HOST).
    pub host: String,
    /// Nick.
    pub nick: String,
    /// Group.
    pub group: String,
}

/// A packet to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Out {
    /// Where.
    pub to: SocketAddr,
    /// The packet.
    pub data: Vec<u8>,
}

/// What a packet or the passing of time brought about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    /// A message to show (already sanitized), once per packet number.
    Message {
        /// Sender.
        from: SocketAddr,
        /// Its nick, if it announced itself.
        nick: Option<String>,
        /// The text, terminal-safe.
        text: String,
        /// The text exactly (for the log).
        raw: String,
        /// Its packet number.
        packet: u64,
        /// Bytes of the packet.
        bytes: usize,
    },
    /// A user came online.
    Online {
        /// Nick (sanitized).
        nick: String,
        /// Address.
        addr: SocketAddr,
    },
    /// A user left.
    Offline {
        /// Nick (sanitized).
        nick: String,
        /// Address.
        addr: SocketAddr,
    },
    /// The user list changed (nick, group, absence, users).
    Users,
    /// One packet of an own line was confirmed, or given up on.
    Sent {
        /// The window's entry.
        seq: u64,
        /// To whom.
        to: SocketAddr,
        /// Their nick.
        nick: String,
        /// Its packet number.
        packet: u64,
        /// The text.
        text: String,
        /// Bytes of the packet.
        bytes: usize,
        /// Confirmed (RECVMSG) or not.
        delivered: bool,
    },
    /// Every packet of an own line is settled: all confirmed or not.
    Settled {
        /// The window's entry.
        seq: u64,
        /// Whether every recipient confirmed.
        delivered: bool,
    },
    /// A packet that was not IP Messenger's.
    Malformed,
    /// Files and folders offered (SENDMSG with FILEATTACHOPT), once per
    /// packet number.
    Offer {
        /// Who offers them.
        from: SocketAddr,
        /// Its nick, if it announced itself.
        nick: Option<String>,
        /// The offer's packet number (what requests name).
        packet: u64,
        /// The message's text (sanitized; often empty).
        text: String,
        /// The items, as the peer named them.
        items: Vec<Item>,
        /// The peer is iptux (it ignores offsets).
        iptux: bool,
        /// The offer said UTF-8 (UTF8OPT): the folder stream's names are
        /// UTF-8 too (else each is read as it looks).
        utf8: bool,
    },
    /// A peer declined or ended offer `packet` (RELEASEFILES).
    Released {
        /// Who.
        from: SocketAddr,
        /// The offer's packet number.
        packet: u64,
    },
}

/// A user online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Nick, sanitized.
    pub nick: String,
    /// Group, sanitized.
    pub group: String,
    /// Away.
    pub absent: bool,
    /// It announced UTF-8 (UTF8OPT, CAPUTF8OPT, or iptux's `utf-8`).
    pub utf8: bool,
    /// It is iptux (which ignores a request's offset and mis-reads `::`).
    pub iptux: bool,
}

#[derive(Debug)]
struct Pending {
    no: u64,
    to: SocketAddr,
    data: Vec<u8>,
    sends: u32,
    next: Instant,
    seq: u64,
    text: String,
}

/// The protocol's state.
#[derive(Debug)]
pub struct Engine {
    me: Me,
    legacy: Encoding,
    port: u16,
    local: Vec<IpAddr>,
    next_no: u64,
    peers: BTreeMap<SocketAddr, Peer>,
    pending: Vec<Pending>,
    /// Per own line: packets not settled yet, and whether any failed.
    lines: HashMap<u64, (u32, bool)>,
    seen: HashMap<SocketAddr, VecDeque<u64>>,
    /// Packet numbers of our own recent broadcasts (to ignore them when
    /// they come back).
    own: VecDeque<u64>,
    answers: RateLimiter,
    /// Users not listed because the list was full.
    pub ignored_users: u64,
}

impl Engine {
    /// A user `me` on `port`, with this machine's addresses `local`,
    /// writing `legacy` (GBK) to peers that did not announce UTF-8;
    /// packet numbers start at `first_no` (the current Unix time).
    pub fn new(me: Me, legacy: Encoding, port: u16, local: Vec<IpAddr>, first_no: u64) -> Self {
        Engine {
            me,
            legacy,
            port,
            local,
            next_no: first_no,
            peers: BTreeMap::new(),
            pending: Vec::new(),
            lines: HashMap::new(),
            seen: HashMap::new(),
            own: VecDeque::new(),
            answers: RateLimiter::new(ANSWERS_PER_SECOND),
            ignored_users: 0,
        }
    }

    /// The users online, by address.
    pub fn peers(&self) -> &BTreeMap<SocketAddr, Peer> {
        &self.peers
    }

    fn number(&mut self) -> u64 {
        let no = self.next_no;
        self.next_no += 1;
        if self.own.len() == 256 {
            self.own.pop_front();
        }
        self.own.push_back(no);
        no
    }

    fn packet(&mut self, command: u32, parts: &[&str], utf8: bool) -> Vec<u8> {
        let no = self.number();
        let (user, host) = (self.me.user.clone(), self.me.host.clone());
        packet::build(no, &user, &host, command, parts, utf8, self.legacy)
            .or_else(|_| packet::build(no, &user, &host, command, parts, true, self.legacy))
            .expect("UTF-8 writes everything")
    }

    /// BR_ENTRY (`nick\0group\0`, able to read UTF-8) to each address.
    pub fn entry(&mut self, dests: &[SocketAddr]) -> Vec<Out> {
        let (nick, group) = (self.me.nick.clone(), self.me.group.clone());
        let data = self.packet(cmd::BR_ENTRY | opt::CAPUTF8OPT, &[&nick, &group], false);
        dests
            .iter()
            .map(|&to| Out {
                to,
                data: data.clone(),
            })
            .collect()
    }

    /// BR_EXIT to each address and to every user online (those on other
    /// subnets do not hear the broadcast).
    pub fn exit(&mut self, dests: &[SocketAddr]) -> Vec<Out> {
        let (nick, group) = (self.me.nick.clone(), self.me.group.clone());
        let data = self.packet(cmd::BR_EXIT, &[&nick, &group], false);
        let mut to: Vec<SocketAddr> = dests.to_vec();
        to.extend(self.peers.keys().copied());
        to.sort();
        to.dedup();
        to.into_iter()
            .map(|to| Out {
                to,
                data: data.clone(),
            })
            .collect()
    }

    /// Sends `text` to `to`, or to every user online (one packet each), as
    /// SENDMSG|SENDCHECKOPT; `seq` is the window's entry for it.
    ///
    /// # Errors
    /// When there is nobody to send to.
    pub fn send(
        &mut self,
        to: Option<SocketAddr>,
        text: &str,
        seq: u64,
        now: Instant,
    ) -> Result<Vec<Out>, String> {
        Ok(self
            .deliver(to, text, None, seq, now)?
            .into_iter()
            .map(|(out, _)| out)
            .collect())
    }

    /// Offers `items` to `to`, or to every user online (an offer each), as
    /// SENDMSG|SENDCHECKOPT|FILEATTACHOPT with the attachment list after
    /// the text; sent again like a message until confirmed. Returns each
    /// packet with its number (what the recipient's requests will name).
    ///
    /// # Errors
    /// When there is nobody to offer them to.
    pub fn offer(
        &mut self,
        to: Option<SocketAddr>,
        items: &[Item],
        seq: u64,
        now: Instant,
    ) -> Result<Vec<(Out, u64)>, String> {
        self.deliver(to, "", Some(items), seq, now)
    }

    /// The users a line or an offer goes to: `to`, or everyone online.
    pub fn recipients(&self, to: Option<SocketAddr>) -> Vec<SocketAddr> {
        match to {
            Some(addr) => vec![addr],
            None => self.peers.keys().copied().collect(),
        }
    }

    fn deliver(
        &mut self,
        to: Option<SocketAddr>,
        text: &str,
        items: Option<&[Item]>,
        seq: u64,
        now: Instant,
    ) -> Result<Vec<(Out, u64)>, String> {
        let dests = self.recipients(to);
        if dests.is_empty() {
            return Err(t!("ipmsg.nobody_online").into_owned());
        }
        let mut out = Vec::new();
        for dest in dests {
            let peer = self.peers.get(&dest);
            let utf8 = peer.is_some_and(|p| p.utf8);
            let data = match items {
                None => self.packet(cmd::SENDMSG | opt::SENDCHECKOPT, &[text], utf8),
                Some(items) => {
                    // iptux reads "::" as the end of a name: give it "_".
                    let list = if peer.is_some_and(|p| p.iptux) {
                        let plain: Vec<Item> = items
                            .iter()
                            .map(|i| Item {
                                name: i.name.replace(':', "_"),
                                ..i.clone()
                            })
                            .collect();
                        files::build_list(&plain)
                    } else {
                        files::build_list(items)
                    };
                    let c = cmd::SENDMSG | opt::SENDCHECKOPT | opt::FILEATTACHOPT;
                    self.packet(c, &[text, &list], utf8)
                }
            };
            let no = self.next_no - 1;
            self.pending.push(Pending {
                no,
                to: dest,
                data: data.clone(),
                sends: 1,
                next: now + RETRY,
                seq,
                text: text.to_string(),
            });
            let line = self.lines.entry(seq).or_insert((0, false));
            line.0 += 1;
            out.push((Out { to: dest, data }, no));
        }
        Ok(out)
    }

    /// RELEASEFILES for offer `packet` of `to`: declined, or over.
    pub fn release(&mut self, to: SocketAddr, packet: u64) -> Out {
        let utf8 = self.peers.get(&to).is_some_and(|p| p.utf8);
        let data = self.packet(files::RELEASEFILES, &[&packet.to_string()], utf8);
        Out { to, data }
    }

    /// A TCP request for item `id` of offer `packet` from `offset`
    /// (GETFILEDATA) or its folder stream (GETDIRFILES), all hex.
    pub fn request(
        &mut self,
        to: SocketAddr,
        command: u32,
        packet: u64,
        id: u64,
        offset: u64,
    ) -> Vec<u8> {
        let utf8 = self.peers.get(&to).is_some_and(|p| p.utf8);
        let extra = files::request_extra(packet, id, offset);
        self.packet(command, &[&extra], utf8)
    }

    /// When [`Engine::tick`] next has something to do.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.next).min()
    }

    /// Resends what is due, gives up on what was sent [`SENDS`] times.
    pub fn tick(&mut self, now: Instant) -> (Vec<Out>, Vec<Happened>) {
        let mut out = Vec::new();
        let mut happened = Vec::new();
        let mut i = 0;
        while i < self.pending.len() {
            let p = &mut self.pending[i];
            if p.next > now {
                i += 1;
                continue;
            }
            if p.sends < SENDS {
                p.sends += 1;
                p.next = now + RETRY;
                out.push(Out {
                    to: p.to,
                    data: p.data.clone(),
                });
                i += 1;
            } else {
                let p = self.pending.swap_remove(i);
                self.settle(p, false, &mut happened);
            }
        }
        (out, happened)
    }

    fn settle(&mut self, p: Pending, delivered: bool, happened: &mut Vec<Happened>) {
        let nick = self
            .peers
            .get(&p.to)
            .map(|u| u.nick.clone())
            .unwrap_or_else(|| p.to.ip().to_string());
        happened.push(Happened::Sent {
            seq: p.seq,
            to: p.to,
            nick,
            packet: p.no,
            bytes: p.data.len(),
            text: p.text,
            delivered,
        });
        if let Some(line) = self.lines.get_mut(&p.seq) {
            line.0 -= 1;
            line.1 |= !delivered;
            if line.0 == 0 {
                let failed = line.1;
                self.lines.remove(&p.seq);
                happened.push(Happened::Settled {
                    seq: p.seq,
                    delivered: !failed,
                });
            }
        }
    }

    /// Whether an answer to `from` may go now (per-address budget).
    fn may_answer(&mut self, from: SocketAddr, now: Instant) -> bool {
        self.answers.admit(from.ip(), now)
    }

    /// Handles one datagram from `from`.
    pub fn receive(
        &mut self,
        from: SocketAddr,
        data: &[u8],
        now: Instant,
    ) -> (Vec<Out>, Vec<Happened>) {
        let mut out = Vec::new();
        let mut happened = Vec::new();
        let peer_utf8 = self.peers.get(&from).is_some_and(|p| p.utf8);
        let p = match packet::parse(data, self.legacy, peer_utf8) {
            Ok(p) => p,
            Err(_) => {
                happened.push(Happened::Malformed);
                return (out, happened);
            }
        };
        // Our own broadcast, come back: we never list ourselves.
        if from.port() == self.port && self.local.contains(&from.ip()) && self.own.contains(&p.no) {
            return (out, happened);
        }
        let legacy = self.legacy;
        match p.mode() {
            cmd::BR_ENTRY | cmd::ANSENTRY | cmd::BR_ABSENCE => {
                if p.mode() == cmd::BR_ENTRY {
                    // A new start: its packet numbers begin again (from the
                    // clock), and may be ones seen from it before.
                    self.seen.remove(&from);
                }
                let before = self.peers.get(&from).cloned();
                let absent = p.has(opt::ABSENCEOPT) && !p.is_from_iptux();
                let utf8 = p.has(opt::UTF8OPT)
                    || p.has(opt::CAPUTF8OPT)
                    || p.part(3, legacy).eq_ignore_ascii_case("utf-8")
                    || (p.utf8 && !data.is_ascii());
                let nick = name(&p.part(0, legacy), &p.user);
                let group = name(&p.part(1, legacy), "");
                if before.is_none() && self.peers.len() >= MAX_USERS {
                    self.ignored_users += 1;
                } else {
                    let peer = Peer {
                        nick: nick.clone(),
                        group,
                        absent,
                        utf8,
                        iptux: p.is_from_iptux(),
                    };
                    if before.as_ref() != Some(&peer) {
                        self.peers.insert(from, peer);
                        happened.push(Happened::Users);
                    }
                    if before.is_none() {
                        happened.push(Happened::Online { nick, addr: from });
                    }
                }
                // Our entry in the encoding the peer reads: iptux decides a
                // peer's encoding from its entry (GBK names make it read
                // that peer's UTF-8 messages as GB18030, garbled, until a
                // packet happens not to convert), ignoring UTF8OPT. So a
                // peer that reads UTF-8 is answered in UTF-8; and one first
                // heard answering our broadcast (which was in GBK) is told
                // our entry again in UTF-8, when our names are not ASCII.
                let learnt = p.mode() == cmd::ANSENTRY
                    && utf8
                    && !before.as_ref().is_some_and(|b| b.utf8)
                    && !(self.me.nick.is_ascii() && self.me.group.is_ascii());
                if (p.mode() == cmd::BR_ENTRY || learnt) && self.may_answer(from, now) {
                    let (nick, group) = (self.me.nick.clone(), self.me.group.clone());
                    let data = self.packet(cmd::ANSENTRY | opt::CAPUTF8OPT, &[&nick, &group], utf8);
                    out.push(Out { to: from, data });
                }
            }
            cmd::BR_EXIT => {
                if let Some(peer) = self.peers.remove(&from) {
                    happened.push(Happened::Offline {
                        nick: peer.nick,
                        addr: from,
                    });
                    happened.push(Happened::Users);
                }
            }
            cmd::SENDMSG => {
                if p.has(opt::SENDCHECKOPT)
                    && !p.has(opt::BROADCASTOPT)
                    && self.may_answer(from, now)
                {
                    let utf8 = p.utf8;
                    let data = self.packet(cmd::RECVMSG, &[&p.no.to_string()], utf8);
                    out.push(Out { to: from, data });
                }
                let seen = self.seen.entry(from).or_default();
                if seen.contains(&p.no) {
                    return (out, happened); // a retransmission: answered, shown once
                }
                if seen.len() == SEEN_PER_SENDER {
                    seen.pop_front();
                }
                seen.push_back(p.no);
                if self.seen.len() > MAX_USERS * 2 {
                    self.seen.retain(|k, _| *k == from);
                }
                let items = if p.has(opt::FILEATTACHOPT) && !p.has(opt::ENCRYPTOPT) {
                    files::parse_list(&p.part(1, legacy))
                } else {
                    Vec::new()
                };
                if !items.is_empty() {
                    let peer = self.peers.get(&from);
                    happened.push(Happened::Offer {
                        from,
                        nick: peer.map(|u| u.nick.clone()),
                        packet: p.no,
                        text: sanitize::one_line(&p.part(0, legacy)),
                        items,
                        iptux: p.is_from_iptux() || peer.is_some_and(|u| u.iptux),
                        utf8: p.has(opt::UTF8OPT),
                    });
                    return (out, happened);
                }
                let raw = if p.has(opt::ENCRYPTOPT) {
                    t!("ipmsg.encrypted").into_owned()
                } else if p.has(opt::FILEATTACHOPT) {
                    let mut t = p.part(0, legacy).into_owned();
                    t.push_str(&t!("ipmsg.unreadable_files"));
                    t
                } else {
                    p.part(0, legacy).into_owned()
                };
                happened.push(Happened::Message {
                    from,
                    nick: self.peers.get(&from).map(|u| u.nick.clone()),
                    text: sanitize::one_line(&raw),
                    raw,
                    packet: p.no,
                    bytes: data.len(),
                });
            }
            cmd::RECVMSG => {
                let acked: Option<u64> = p.part(0, legacy).trim().parse().ok();
                if let Some(i) = self
                    .pending
                    .iter()
                    .position(|x| Some(x.no) == acked && x.to.ip() == from.ip())
                {
                    let pending = self.pending.swap_remove(i);
                    self.settle(pending, true, &mut happened);
                }
            }
            files::RELEASEFILES => {
                if let Ok(packet) = p.part(0, legacy).trim().parse() {
                    happened.push(Happened::Released { from, packet });
                }
            }
            cmd::GETINFO if self.may_answer(from, now) => {
                let version = format!("lanchat {}", env!("CARGO_PKG_VERSION"));
                let data = self.packet(cmd::SENDINFO, &[&version], false);
                out.push(Out { to: from, data });
            }
            cmd::GETABSENCEINFO if self.may_answer(from, now) => {
                let data = self.packet(cmd::SENDABSENCEINFO, &["Not absence mode"], false);
                out.push(Out { to: from, data });
            }
            _ => {}
        }
        (out, happened)
    }
}

/// A nick or group as shown: sanitized, cut, `fallback` when empty.
fn name(text: &str, fallback: &str) -> String {
    let text = if text.trim().is_empty() {
        fallback
    } else {
        text
    };
    let cut: String = text.chars().take(NAME_MAX).collect();
    sanitize::one_line(&cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipmsg::packet::Packet;

    fn gbk() -> Encoding {
        Encoding::gb2312()
    }

    fn me() -> Engine {
        Engine::new(
            Me {
                user: "alice".into(),
                host: "lab1".into(),
                nick: "爱丽丝".into(),
                group: "实验室".into(),
            },
            gbk(),
            2425,
            vec!["10.0.0.1".parse().unwrap(), "127.0.0.1".parse().unwrap()],
            1_800_000_000,
        )
    }

    fn peer(i: u8) -> SocketAddr {
        format!("10.0.0.{i}:2425").parse().unwrap()
    }

    fn gb(s: &str) -> Vec<u8> {
        gbk().encode(s).unwrap()
    }

    fn entry_from(no: u64, nick: &str) -> Vec<u8> {
        let mut d = format!("1:{no}:bob:pc2:1:").into_bytes();
        d.extend(gb(nick));
        d.extend(b"\0grp\0");
        d
    }

    fn sendmsg(no: u64, text: &str, check: bool) -> Vec<u8> {
        let c = cmd::SENDMSG | if check { opt::SENDCHECKOPT } else { 0 };
        let mut d = format!("1:{no}:bob:pc2:{c}:").into_bytes();
        d.extend(gb(text));
        d.push(0);
        d
    }

    fn parsed(out: &Out) -> Packet<'_> {
        packet::parse(&out.data, gbk(), false).unwrap()
    }

    #[test]
    fn entry_announces_nick_and_group_in_gbk_with_increasing_numbers() {
        let mut e = me();
        let outs = e.entry(&[
            "10.0.0.255:2425".parse().unwrap(),
            "192.168.9.9:2425".parse().unwrap(),
        ]);
        assert_eq!(outs.len(), 2);
        let p = parsed(&outs[0]);
        assert_eq!(
            (p.mode(), p.no, p.user.as_ref(), p.host.as_ref()),
            (cmd::BR_ENTRY, 1_800_000_000, "alice", "lab1")
        );
        assert!(p.has(opt::CAPUTF8OPT) && !p.utf8);
        assert_eq!(
            (p.part(0, gbk()).as_ref(), p.part(1, gbk()).as_ref()),
            ("爱丽丝", "实验室")
        );
        let later = e.exit(&[]);
        assert!(later.is_empty(), "nobody to tell yet");
        assert!(e.next_no > 1_800_000_000);
    }

    #[test]
    fn a_br_entry_is_answered_listed_and_announced_online() {
        let mut e = me();
        let (out, happened) = e.receive(peer(2), &entry_from(5, "鲍勃"), Instant::now());
        assert_eq!(out.len(), 1);
        let ans = parsed(&out[0]);
        assert_eq!((out[0].to, ans.mode()), (peer(2), cmd::ANSENTRY));
        assert!(happened.contains(&Happened::Online {
            nick: "鲍勃".into(),
            addr: peer(2)
        }));
        let p = &e.peers()[&peer(2)];
        assert_eq!(
            (p.nick.as_str(), p.group.as_str(), p.absent),
            ("鲍勃", "grp", false)
        );
        // An ANSENTRY lists too, and is not answered.
        let (out, _) = e.receive(peer(3), b"1:6:carol:pc3:3:carol\0\0", Instant::now());
        assert!(out.is_empty());
        assert_eq!(e.peers().len(), 2);
        // Absence, then exit.
        let (_, h) = e.receive(peer(2), b"1:7:bob:pc2:260:bob[away]\0grp\0", Instant::now());
        assert!(h.contains(&Happened::Users));
        assert!(e.peers()[&peer(2)].absent);
        let (_, h) = e.receive(peer(2), b"1:8:bob:pc2:2:\0", Instant::now());
        assert!(h.contains(&Happened::Offline {
            nick: "bob[away]".into(),
            addr: peer(2)
        }));
        assert!(!e.peers().contains_key(&peer(2)));
    }

    #[test]
    fn own_broadcasts_coming_back_are_ignored() {
        let mut e = me();
        let outs = e.entry(&["10.0.0.255:2425".parse().unwrap()]);
        let (out, h) = e.receive(peer(1), &outs[0].data, Instant::now());
        assert!(out.is_empty() && h.is_empty());
        assert!(e.peers().is_empty(), "never lists itself");
    }

    #[test]
    fn iptux_entries_are_not_absent_and_read_as_utf8() {
        let mut e = me();
        let d = "1_iptux 0.8.3:1:root:vm:257:小明\0\0icon-tux.png\0utf-8\0".as_bytes();
        e.receive(peer(4), d, Instant::now());
        let p = &e.peers()[&peer(4)];
        assert_eq!(p.nick, "小明");
        assert!(!p.absent && p.utf8);
        // So what is sent to it is UTF-8, with the flag.
        let outs = e.send(Some(peer(4)), "你好 😀", 1, Instant::now()).unwrap();
        let p = parsed(&outs[0]);
        assert!(p.utf8 && p.has(opt::UTF8OPT | opt::SENDCHECKOPT));
        assert_eq!(p.part(0, gbk()), "你好 😀");
    }

    #[test]
    fn a_peer_that_reads_utf8_is_told_our_entry_in_utf8_from_the_first_packet() {
        // iptux 0.8.3 takes a peer's encoding from its entry and ignores
        // UTF8OPT: a GBK entry made it read the first UTF-8 line as GB18030.
        let mut e = me(); // nick 爱丽丝 (GBK on the broadcast)
        let iptux = "1_iptux 0.8.3:1:root:vm:1:root\0\0icon-tux.png\0utf-8\0".as_bytes();
        let (out, _) = e.receive(peer(4), iptux, Instant::now());
        let a = parsed(&out[0]);
        assert_eq!(a.mode(), cmd::ANSENTRY);
        assert!(a.utf8 && a.has(opt::UTF8OPT));
        assert!(
            out[0].data.windows(9).any(|w| w == "爱丽丝".as_bytes()),
            "UTF-8 on the wire"
        );
        // Heard first as an answer to our (GBK) broadcast: told again, in
        // UTF-8, once.
        let mut e = me();
        let ans = "1_iptux 0.8.3:2:root:vm:3:root\0\0icon-tux.png\0utf-8\0".as_bytes();
        let (out, _) = e.receive(peer(5), ans, Instant::now());
        assert_eq!(out.len(), 1);
        let a = parsed(&out[0]);
        assert!(a.mode() == cmd::ANSENTRY && a.utf8);
        let (out, _) = e.receive(peer(5), ans, Instant::now());
        assert!(out.is_empty(), "once: it knows us now");
        // A GBK peer (FeiQ) is answered in GBK, and an answer from it
        // gets nothing back.
        let mut e = me();
        let (out, _) = e.receive(peer(6), &entry_from(7, "飞秋"), Instant::now());
        let a = parsed(&out[0]);
        assert!(!a.utf8 && !a.has(opt::UTF8OPT));
        assert_eq!(a.part(0, gbk()), "爱丽丝");
    }

    #[test]
    fn a_message_is_shown_once_and_every_copy_confirmed() {
        let mut e = me();
        e.receive(peer(2), &entry_from(5, "鲍勃"), Instant::now());
        let now = Instant::now();
        let (out, h) = e.receive(peer(2), &sendmsg(100, "你好", true), now);
        let recv = parsed(&out[0]);
        assert_eq!(
            (recv.mode(), recv.part(0, gbk()).as_ref()),
            (cmd::RECVMSG, "100")
        );
        assert!(
            matches!(&h[0], Happened::Message { text, nick: Some(n), packet: 100, .. } if text == "你好" && n == "鲍勃")
        );
        // The retransmission: answered again, shown once.
        let (out, h) = e.receive(peer(2), &sendmsg(100, "你好", true), now);
        assert_eq!(out.len(), 1);
        assert!(h.is_empty());
        // Without SENDCHECKOPT: shown, not answered; hostile text sanitized.
        let (out, h) = e.receive(peer(2), &sendmsg(101, "\x1b[31mred\nfake", false), now);
        assert!(out.is_empty());
        assert!(matches!(&h[0], Happened::Message { text, .. } if text == "\\x1b[31mred\\nfake"));
    }

    #[test]
    fn answers_are_limited_per_address() {
        let mut e = me();
        let now = Instant::now();
        let answered: usize = (0..100)
            .map(|i| {
                e.receive(peer(9), &sendmsg(1000 + i, "x", true), now)
                    .0
                    .len()
            })
            .sum();
        assert_eq!(answered, ANSWERS_PER_SECOND as usize);
        // Another address has its own budget.
        assert_eq!(e.receive(peer(8), &sendmsg(1, "x", true), now).0.len(), 1);
    }

    #[test]
    fn sent_lines_are_retried_three_times_then_not_delivered() {
        let mut e = me();
        let t0 = Instant::now();
        e.receive(peer(2), &entry_from(5, "鲍勃"), t0);
        let first = e.send(Some(peer(2)), "在吗", 7, t0).unwrap();
        let p = parsed(&first[0]);
        assert!(p.has(opt::SENDCHECKOPT) && p.mode() == cmd::SENDMSG);
        assert_eq!(p.part(0, gbk()), "在吗");
        let mut resent = 0;
        let mut settled = None;
        for s in 1..=5 {
            let (out, h) = e.tick(t0 + RETRY * s);
            for o in &out {
                assert_eq!(o.data, first[0].data, "the same packet, same number");
            }
            resent += out.len();
            if let Some(x) = h.iter().find_map(|x| match x {
                Happened::Settled { seq, delivered } => Some((*seq, *delivered)),
                _ => None,
            }) {
                settled = Some((s, x));
            }
        }
        assert_eq!(resent, 3, "sent again up to 3 times");
        assert_eq!(
            settled,
            Some((4, (7, false))),
            "not delivered after the 4th second"
        );
        assert!(e.next_due().is_none());
    }

    #[test]
    fn a_recvmsg_with_the_packet_number_delivers_and_others_do_not() {
        let mut e = me();
        let t0 = Instant::now();
        e.receive(peer(2), &entry_from(5, "鲍勃"), t0);
        e.receive(peer(3), &entry_from(6, "卡罗"), t0);
        let outs = e.send(None, "大家好", 9, t0).unwrap();
        assert_eq!(outs.len(), 2, "one packet per user online");
        let nos: Vec<u64> = outs.iter().map(|o| parsed(o).no).collect();
        // A wrong number, or the right number from the wrong host: nothing.
        let (_, h) = e.receive(
            peer(2),
            format!("1:50:bob:pc2:33:{}\0", nos[0] + 99).as_bytes(),
            t0,
        );
        assert!(h.is_empty());
        let (_, h) = e.receive(
            peer(3),
            format!("1:51:c:pc3:33:{}\0", nos[0]).as_bytes(),
            t0,
        );
        assert!(h.is_empty());
        let (_, h) = e.receive(
            peer(2),
            format!("1:52:bob:pc2:33:{}\0", nos[0]).as_bytes(),
            t0,
        );
        assert!(matches!(&h[0], Happened::Sent { delivered: true, to, .. } if *to == peer(2)));
        assert_eq!(h.len(), 1, "settled only when both answered");
        let (_, h) = e.receive(
            peer(3),
            format!("1:53:c:pc3:33:{}\0", nos[1]).as_bytes(),
            t0,
        );
        assert_eq!(
            h.last(),
            Some(&Happened::Settled {
                seq: 9,
                delivered: true
            })
        );
        assert!(e.send(Some(peer(2)), "x", 10, t0).is_ok());
        let mut empty = me();
        assert!(empty
            .send(None, "x", 1, t0)
            .unwrap_err()
            .contains("nobody is online"));
    }

    #[test]
    fn getinfo_and_getabsenceinfo_are_answered_and_unknown_commands_ignored() {
        let mut e = me();
        let now = Instant::now();
        let (out, _) = e.receive(peer(2), b"1:9:bob:pc2:64:\0", now);
        let p = parsed(&out[0]);
        assert_eq!(p.mode(), cmd::SENDINFO);
        assert!(p.part(0, gbk()).starts_with("lanchat "));
        let (out, _) = e.receive(peer(2), b"1:10:bob:pc2:80:\0", now);
        assert_eq!(parsed(&out[0]).mode(), cmd::SENDABSENCEINFO);
        // File requests come by TCP; public keys, the host list: not
        // handled, not malformed.
        for c in [0x60u32, 0x72, 0x12, 0x30] {
            let (out, h) = e.receive(peer(2), format!("1:11:bob:pc2:{c}:x\0").as_bytes(), now);
            assert!(out.is_empty() && h.is_empty(), "{c:#x}");
        }
        // A message with files attached is an offer, with its text.
        let d = format!(
            "1:12:bob:pc2:{}:see attached\x001:a.txt:3:0:1:\x07\0",
            cmd::SENDMSG | opt::FILEATTACHOPT
        );
        let (_, h) = e.receive(peer(2), d.as_bytes(), now);
        assert!(
            matches!(&h[0], Happened::Offer { text, items, packet: 12, .. } if text == "see attached" && items.len() == 1 && items[0].name == "a.txt"),
            "{h:?}"
        );
    }

    #[test]
    fn malformed_packets_are_counted_and_change_nothing() {
        let mut e = me();
        for bad in [&b"hello"[..], b"1:x:u:h:1:", b"1:1:u:h:one:", b"9:1:u:h:1:"] {
            let (out, h) = e.receive(peer(2), bad, Instant::now());
            assert!(out.is_empty());
            assert_eq!(h, vec![Happened::Malformed]);
        }
        assert!(e.peers().is_empty());
    }

    #[test]
    fn hostile_nicks_are_escaped_and_cut_and_the_list_is_bounded() {
        let mut e = me();
        let evil = format!("\x1b[2J{}\u{202e}", "n".repeat(200));
        let mut d = b"1:5:bob:pc2:1:".to_vec();
        d.extend(evil.as_bytes());
        d.extend(b"\0\0");
        e.receive(peer(2), &d, Instant::now());
        let nick = &e.peers()[&peer(2)].nick;
        assert!(nick.starts_with("\\x1b[2J"), "{nick}");
        assert!(!nick.contains('\x1b'));
        assert!(nick.chars().count() < 80);
        for i in 0..(MAX_USERS + 50) {
            let from = SocketAddr::new(IpAddr::V4((0x0a01_0000 + i as u32).into()), 2425);
            e.receive(from, &entry_from(1, "x"), Instant::now());
        }
        assert_eq!(e.peers().len(), MAX_USERS);
        assert!(e.ignored_users >= 50);
    }

    fn item(id: u64, name: &str, size: u64, attr: u32) -> Item {
        Item {
            id,
            name: name.into(),
            size,
            mtime: 0x6600_0000,
            attr,
        }
    }

    #[test]
    fn an_offer_lists_its_items_after_the_nul_and_is_sent_again_until_confirmed() {
        let mut e = me();
        let now = Instant::now();
        e.receive(peer(2), &entry_from(1, "bob"), now);
        let items = [
            item(0, "报告.docx", 2300, files::ATTR_FILE),
            item(1, "a:b", 5, files::ATTR_FILE),
            item(2, "图片", 12_000_000, files::ATTR_DIR),
        ];
        let sent = e.offer(None, &items, 7, now).unwrap();
        assert_eq!(sent.len(), 1);
        let (out, no) = &sent[0];
        let p = parsed(out);
        assert_eq!(p.no, *no);
        assert_eq!(
            p.command,
            cmd::SENDMSG | opt::SENDCHECKOPT | opt::FILEATTACHOPT
        );
        assert_eq!(p.part(0, gbk()), "");
        let list = p.part(1, gbk());
        assert!(
            list.starts_with("0:报告.docx:8fc:66000000:1:\x07"),
            "{list:?}"
        );
        assert!(list.contains("1:a::b:5:"), "{list:?}");
        assert_eq!(files::parse_list(&list), items.to_vec());
        // Not confirmed: sent again with the same number, then given up.
        let later = now + Duration::from_secs(3);
        let (again, _) = e.tick(later);
        assert_eq!(parsed(&again[0]).no, *no);
        // Confirmed by RECVMSG: settled, never again.
        let (_, h) = e.receive(peer(2), format!("1:9:bob:pc2:33:{no}\0").as_bytes(), later);
        assert!(
            matches!(
                &h[0],
                Happened::Sent {
                    seq: 7,
                    delivered: true,
                    ..
                }
            ),
            "{h:?}"
        );
        assert!(e.next_due().is_none());
    }

    #[test]
    fn iptux_is_offered_names_without_colons() {
        let mut e = me();
        let now = Instant::now();
        let mut d = b"1_iptux 0.8.3:1:bob:pc2:1:".to_vec();
        d.extend(b"bob\0grp\0");
        e.receive(peer(3), &d, now);
        assert!(e.peers()[&peer(3)].iptux);
        let sent = e
            .offer(
                Some(peer(3)),
                &[item(0, "a::b:c.txt", 5, files::ATTR_FILE)],
                1,
                now,
            )
            .unwrap();
        let list = parsed(&sent[0].0).part(1, gbk()).into_owned();
        assert!(list.starts_with("0:a__b_c.txt:5:"), "{list:?}");
        assert!(
            e.offer(Some(peer(9)), &[], 1, now).is_ok(),
            "an address given is offered to"
        );
        let mut lonely = me();
        assert!(lonely.offer(None, &[], 1, now).is_err(), "nobody online");
    }

    #[test]
    fn offers_are_read_once_from_every_known_form() {
        let mut e = me();
        let now = Instant::now();
        e.receive(peer(2), &entry_from(1, "bob"), now);
        let c = cmd::SENDMSG | opt::FILEATTACHOPT;
        // FeiQ / IPMsg: GBK names, an ID and an extension field.
        let mut d = format!("1:40:bob:pc2:{}:", c | opt::SENDCHECKOPT).into_bytes();
        d.extend(gb(
            "看看\x000:报告.docx:8fc:66000000:1:14=1:\x071:图片:b71b00:66000000:2:\x07\0",
        ));
        let (out, h) = e.receive(peer(2), &d, now);
        assert_eq!(
            parsed(&out[0]).mode(),
            cmd::RECVMSG,
            "SENDCHECKOPT is answered"
        );
        let Happened::Offer {
            items,
            text,
            packet,
            nick,
            iptux,
            ..
        } = &h[0]
        else {
            panic!("{h:?}")
        };
        assert_eq!(
            (text.as_str(), *packet, nick.as_deref(), *iptux),
            ("看看", 40, Some("bob"), false)
        );
        assert_eq!(items.len(), 2);
        assert_eq!(
            (items[0].name.as_str(), items[0].size),
            ("报告.docx", 0x8fc)
        );
        assert!(items[1].is_dir());
        // The same packet again: answered, not offered twice.
        let (out, h) = e.receive(peer(2), &d, now);
        assert_eq!(out.len(), 1);
        assert!(h.is_empty(), "{h:?}");
        // iptux: no SENDCHECKOPT, an empty message, UTF-8.
        let d = format!(
            "1_iptux 0.8.3:41:bob:pc2:{}:\01:文件.txt:a:0:1:\x07\0",
            c | opt::UTF8OPT
        );
        let (out, h) = e.receive(peer(2), d.as_bytes(), now);
        assert!(out.is_empty());
        assert!(
            matches!(&h[0], Happened::Offer { items, iptux: true, utf8: true, .. } if items[0].name == "文件.txt" && items[0].id == 1),
            "{h:?}"
        );
        // A list nobody can read: the text, and that it could not be read.
        let d = format!("1:42:bob:pc2:{c}:hi\0garbage\0");
        let (_, h) = e.receive(peer(2), d.as_bytes(), now);
        assert!(
            matches!(&h[0], Happened::Message { text, .. } if text.contains("cannot be read")),
            "{h:?}"
        );
    }

    #[test]
    fn releasefiles_is_sent_and_read_with_the_packet_number_in_decimal() {
        let mut e = me();
        let now = Instant::now();
        let out = e.release(peer(2), 1234);
        let p = parsed(&out);
        assert_eq!(
            (p.mode(), p.part(0, gbk()).as_ref()),
            (files::RELEASEFILES, "1234")
        );
        let (_, h) = e.receive(peer(2), b"1:50:bob:pc2:97:1234\0", now);
        assert!(
            matches!(&h[0], Happened::Released { packet: 1234, from } if *from == peer(2)),
            "{h:?}"
        );
        let (_, h) = e.receive(peer(2), b"1:51:bob:pc2:97:what\0", now);
        assert!(h.is_empty());
    }

    #[test]
    fn a_file_request_is_hex_packet_id_offset() {
        let mut e = me();
        let r = e.request(peer(2), files::GETFILEDATA, 0x1234, 10, 400_000);
        let p = packet::parse(&r, gbk(), false).unwrap();
        assert_eq!(p.mode(), files::GETFILEDATA);
        assert_eq!(p.part(0, gbk()), "1234:a:61a80");
        let req = files::parse_request(&r).unwrap();
        assert_eq!((req.packet, req.offset), (0x1234, 400_000));
        assert_eq!(req.ids().collect::<Vec<_>>(), vec![10]);
    }

    #[test]
    fn a_peer_started_again_is_heard_though_its_numbers_repeat() {
        let mut e = me();
        let now = Instant::now();
        e.receive(peer(2), &entry_from(100, "bob"), now);
        let (_, h) = e.receive(peer(2), &sendmsg(101, "one", true), now);
        assert_eq!(h.len(), 1);
        let (_, h) = e.receive(peer(2), &sendmsg(101, "one", true), now);
        assert!(h.is_empty(), "a retransmission");
        // bob quits without BR_EXIT and starts again in the same second.
        e.receive(peer(2), &entry_from(100, "bob"), now);
        let (_, h) = e.receive(peer(2), &sendmsg(101, "two", true), now);
        assert!(
            matches!(&h[0], Happened::Message { text, .. } if text == "two"),
            "{h:?}"
        );
    }
}
