//! The window's state for any front end: the messages kept, who is
//! online, the offers of files, the status, and what a line typed in the
//! input box does (a command, or lines composed for the wire). No terminal
//! and no page: the terminal window ([`crate::ui`]) and the desktop window
//! drive the same [`Session`], each with its own keys and drawing.
//!
//! ```text
//! transport ──chat::Event──▶ Session::apply ──▶ entries, users, offers, status
//! front end ──text typed──▶ Session::submit ──▶ [Action] ──▶ Session::perform ──▶ Transport
//!                                  └─ refused: the text stays, the reason in the status
//! front end draws from Session (entries, sender_label, status, users, counts)
//! ```
//!
//! * [`scrollback`]: the messages kept, bounded;
//! * [`commands`]: what a typed line does (slash commands, composing).

pub mod commands;
pub mod scrollback;

use rust_i18n::t;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use crate::chat::Event;
pub use crate::chat::{Drops, FileCommand, Incoming, Mark, Mode, Offer, Outgoing, User, Who};
use crate::clock::local_hms;
use crate::encoding::Encoding;
use crate::transport::Transport;
pub use commands::{help, split_paths, Refused};
pub use scrollback::{Entry, Scrollback, DEFAULT_SCROLLBACK, ENTRY_TEXT_MAX, SCROLLBACK_BYTES};

/// Distinct senders counted at most.
const SENDERS_MAX: usize = 65_536;

/// What the front end must have done after a line was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these lines, in order, to the current target.
    Send(Vec<Outgoing>),
    /// `/to TARGET`.
    SetTarget(String),
    /// A line for the room server itself (`/nick`, `/who`, `/msg`): sent
    /// as it is, not shown as an own line.
    Command(Outgoing),
    /// Leave with this exit code.
    Quit(u8),
    /// `/send`, `/get`, `/drop`, `/cancel` (IP Messenger mode).
    Files(FileCommand),
}

/// How lines are checked and encoded before sending.
#[derive(Debug, Clone, Copy)]
pub struct Wire {
    /// Encoding of sent text.
    pub encoding: Encoding,
    /// Largest encoded line (the datagram limit, or the room's line limit).
    pub max_bytes: usize,
}

/// The fixed facts the status line shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The mode.
    pub mode: Mode,
    /// Title of the message pane (`UDP聊天室`, `聊天室 HOST:PORT`).
    pub title: String,
    /// Where it listens (or what it is connected to).
    pub listen: String,
    /// Where lines go.
    pub target: String,
    /// Encoding label.
    pub encoding: String,
}

/// Severity of the status line's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A fact (`/help` hints, target changed).
    Info,
    /// Something went wrong but nothing was lost.
    Warning,
    /// A line was refused.
    Error,
}

/// An offer's entry: where it is, what it says, how it stands.
#[derive(Debug, Clone)]
struct OfferEntry {
    seq: u64,
    base: String,
    /// Who offers it.
    who: Who,
    incoming: bool,
    fetchable: bool,
}

/// The window's state.
#[derive(Debug)]
pub struct Session {
    info: Info,
    wire: Wire,
    log: Scrollback,
    aliases: HashMap<IpAddr, String>,
    /// Messages received.
    received: u64,
    senders: HashSet<Who>,
    drops: Drops,
    status: Option<(Level, String)>,
    /// The offer the status speaks of (`fetching [N]`), to say how its
    /// transfer ended when it does.
    status_about: Option<u64>,
    /// Users online (IP Messenger, room), and which one `/to` or Tab chose.
    users: Option<Vec<User>>,
    selected: Option<SocketAddr>,
    /// Offers of files, by number (IP Messenger mode).
    offers: HashMap<u64, OfferEntry>,
    /// Offers by the sequence number of their entry.
    offer_seqs: HashMap<u64, u64>,
    /// Transfers running now.
    transfers: usize,
    /// Lines sent.
    sent: u64,
    /// The connection was lost (room mode): leaving then exits 1.
    lost: bool,
    quit: Option<u8>,
}

impl Session {
    /// A window with these facts and wire rules, keeping `scrollback`
    /// messages.
    pub fn new(info: Info, wire: Wire, scrollback: usize) -> Self {
        Session {
            info,
            wire,
            log: Scrollback::new(scrollback),
            aliases: HashMap::new(),
            received: 0,
            senders: HashSet::new(),
            drops: Drops::default(),
            status: None,
            status_about: None,
            users: None,
            selected: None,
            offers: HashMap::new(),
            offer_seqs: HashMap::new(),
            transfers: 0,
            sent: 0,
            lost: false,
            quit: None,
        }
    }

    // ---- reading the state ------------------------------------------------

    /// The status line's facts.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// How lines are encoded.
    pub fn wire(&self) -> Wire {
        self.wire
    }

    /// The messages kept, oldest first.
    pub fn entries(&self) -> &VecDeque<Entry> {
        self.log.entries()
    }

    /// The kept messages, with their bookkeeping.
    pub fn scrollback(&self) -> &Scrollback {
        &self.log
    }

    /// The kept messages, to take what changed ([`Scrollback::take_modified`]).
    pub fn scrollback_mut(&mut self) -> &mut Scrollback {
        &mut self.log
    }

    /// The latest status message.
    pub fn status(&self) -> Option<&(Level, String)> {
        self.status.as_ref()
    }

    /// Messages received, distinct senders, evicted from the scrollback.
    pub fn counts(&self) -> (u64, usize, u64) {
        (self.received, self.senders.len(), self.log.evicted())
    }

    /// Drops counted by the receiver.
    pub fn drops(&self) -> Drops {
        self.drops
    }

    /// Lines sent.
    pub fn sent_count(&self) -> u64 {
        self.sent
    }

    /// Whether the connection was lost (room mode).
    pub fn lost(&self) -> bool {
        self.lost
    }

    /// The exit code, once the user asked to leave.
    pub fn quit_code(&self) -> Option<u8> {
        self.quit
    }

    /// The users pane (IP Messenger and room modes).
    pub fn users(&self) -> Option<&[User]> {
        self.users.as_deref()
    }

    /// The user lines go to (IP Messenger mode; `None`: everyone).
    pub fn selected(&self) -> Option<SocketAddr> {
        self.selected
    }

    /// Transfers running now.
    pub fn transfers(&self) -> usize {
        self.transfers
    }

    /// The status line's note of transfers, when there are some.
    pub fn transfers_note(&self) -> Option<String> {
        (self.transfers > 0).then(|| t!("window.transfers", n = self.transfers).into_owned())
    }

    /// The mark own lines start with: pending in a mode that confirms
    /// delivery (IP Messenger), none otherwise.
    pub fn pending_mark(&self) -> Option<Mark> {
        self.info.mode.confirms_delivery().then_some(Mark::Pending)
    }

    /// How an entry's sender is shown: `me`, `ip:port`, `NAME (ip:port)`,
    /// `NICK (ip)`, or `*` for notices.
    pub fn sender_label(&self, who: &Who) -> String {
        match who {
            Who::Me => t!("window.me").into_owned(),
            Who::Peer(addr) => match self.aliases.get(&addr.ip()) {
                Some(name) => format!("{name} ({addr})"),
                None => addr.to_string(),
            },
            Who::Member(m) => match m.addr.and_then(|a| self.aliases.get(&a.ip())) {
                // An alias names a member without a name of its own.
                Some(alias) if m.name.is_none() => format!("{alias} ({})", m.label),
                _ => m.label.clone(),
            },
            Who::Nick { nick, addr } => format!("{nick} ({})", addr.ip()),
            Who::Private(m) => t!("window.private_to_me", who = m.label).into_owned(),
            Who::Notice => "*".into(),
        }
    }

    /// The text of an entry as shown, with its delivery mark.
    pub fn display_text(&self, e: &Entry) -> String {
        match e.mark {
            None => e.text.clone(),
            Some(Mark::Pending) => format!("{} …", e.text),
            Some(Mark::Delivered) => format!("{} ✓", e.text),
            Some(Mark::NotDelivered) => t!("window.not_delivered", text = e.text).into_owned(),
        }
    }

    /// What an empty window says, so a newcomer finds the way: where a line
    /// goes, how to find the commands, and the mode's own.
    pub fn hints(&self) -> Vec<String> {
        let mode = match self.info.mode {
            Mode::Udp => t!("window.hint_udp"),
            Mode::Room => t!("window.hint_room"),
            Mode::Ipmsg => t!("window.hint_ipmsg"),
        };
        vec![
            t!("window.hint_type", target = self.info.target).into_owned(),
            t!("window.hint_help").into_owned(),
            mode.into_owned(),
        ]
    }

    /// Whether the status line should point to `/help`: nothing said yet,
    /// nothing received or sent.
    pub fn newcomer(&self) -> bool {
        self.status.is_none() && self.received == 0 && self.sent == 0
    }

    // ---- changes ----------------------------------------------------------

    /// The status line's target changed (`/to` succeeded).
    pub fn set_target(&mut self, label: String) {
        self.info.target = label.clone();
        self.set_status(
            Level::Info,
            t!("window.now_sending_to", target = label).into_owned(),
        );
    }

    /// Shows a warning or error on the status line.
    pub fn warn(&mut self, level: Level, text: impl Into<String>) {
        self.set_status(level, text.into());
    }

    /// Clears the status line (Esc).
    pub fn clear_status(&mut self) {
        self.status = None;
    }

    pub(crate) fn set_status(&mut self, level: Level, text: String) {
        self.status = Some((level, crate::sanitize::one_line(&text)));
        self.status_about = None;
    }

    /// Sets an alias (as `--alias IP=NAME` does).
    pub fn alias(&mut self, ip: IpAddr, name: &str) {
        self.aliases
            .insert(ip.to_canonical(), crate::sanitize::one_line(name));
    }

    fn unalias(&mut self, ip: IpAddr) {
        self.aliases.remove(&ip.to_canonical());
    }

    /// Adds received messages and the receiver's counts.
    pub fn receive(&mut self, batch: Vec<Incoming>, drops: Drops) {
        self.drops.allow += drops.allow;
        self.drops.rate += drops.rate;
        self.drops.malformed += drops.malformed;
        for m in batch {
            // Messages and their senders; the room's notices are neither.
            if m.who != Who::Notice {
                self.count_from(&m.who);
            }
            self.log.push(m.time, m.who, m.text, None);
        }
    }

    /// One more message, from `who`.
    fn count_from(&mut self, who: &Who) {
        self.received += 1;
        if self.senders.len() < SENDERS_MAX && !self.senders.contains(who) {
            self.senders.insert(who.clone());
        }
    }

    /// Adds a notice (join/leave, disconnection) to the messages.
    pub fn notice(&mut self, time: String, text: &str) {
        self.log
            .push(time, Who::Notice, crate::sanitize::one_line(text), None);
    }

    /// Adds a note of the window's own (no time: `/help`, `/files`).
    pub(crate) fn note(&mut self, text: String) {
        self.log.push(String::new(), Who::Notice, text, None);
    }

    /// The lines of an [`Action::Send`] went out: shows them as own lines.
    /// Returns their entries' sequence numbers (for [`Session::set_mark`]).
    pub fn sent(&mut self, time: String, lines: &[Outgoing], mark: Option<Mark>) -> Vec<u64> {
        // A refusal is over once a line goes; a warning (nobody listening)
        // still holds, and stays until replaced or Esc.
        if self
            .status
            .as_ref()
            .is_some_and(|(l, _)| *l == Level::Error)
        {
            self.status = None;
        }
        lines
            .iter()
            .map(|l| {
                self.log.push(
                    time.clone(),
                    Who::Me,
                    crate::sanitize::one_line(&l.text),
                    mark,
                )
            })
            .collect()
    }

    /// Sending failed for a reason of the network: the status says why,
    /// and the text to put back in the input box is returned.
    pub fn send_failed(&mut self, lines: &[Outgoing], why: &str) -> String {
        self.set_status(Level::Error, t!("window.not_sent", why = why).into_owned());
        let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        text.join("\n")
    }

    /// Takes back the entries of lines that could not be sent after all.
    pub fn unsend(&mut self, seqs: &[u64]) {
        self.log.remove(seqs);
    }

    /// Files offered, to this user or by it: a new entry `📎 [N] …`.
    pub fn offer(&mut self, time: String, offer: Offer) {
        let base = crate::sanitize::one_line(&format!("📎 [{}] {}", offer.n, offer.text));
        if offer.who != Who::Me {
            self.count_from(&offer.who);
        }
        let seq = self.log.push(time, offer.who.clone(), base.clone(), None);
        self.offer_seqs.insert(seq, offer.n);
        self.offers.insert(
            offer.n,
            OfferEntry {
                seq,
                base,
                who: offer.who,
                incoming: offer.incoming,
                fetchable: offer.incoming,
            },
        );
    }

    /// How offer `n` stands: shown after its entry. When the status line
    /// speaks of this offer (`fetching [n]`) and its transfer has ended
    /// (`✓ …`, `✗ …`), the status says how it ended instead.
    pub fn progress(&mut self, n: u64, text: &str, fetchable: bool) {
        let Some(o) = self.offers.get_mut(&n) else {
            return;
        };
        o.fetchable = fetchable;
        let text = crate::sanitize::one_line(text);
        let shown = format!("{}  {text}", o.base);
        let seq = o.seq;
        self.log.set_text(seq, shown);
        let ended = text.starts_with('✓') || text.starts_with('✗');
        if ended && self.status_about == Some(n) {
            let level = if text.starts_with('✗') {
                Level::Error
            } else {
                Level::Info
            };
            self.set_status(level, format!("[{n}] {text}"));
        }
    }

    /// The incoming offers not fetched yet, by number: each entry's text and
    /// who offers it (`📎 [1] 报告.docx 2.3 MB ← 小王 (10.0.0.2)`).
    pub(crate) fn waiting_offers(&self) -> Vec<(u64, String)> {
        let mut waiting: Vec<(u64, String)> = self
            .offers
            .iter()
            .filter(|(_, o)| o.incoming && o.fetchable)
            .map(|(n, o)| (*n, format!("{} ← {}", o.base, self.sender_label(&o.who))))
            .collect();
        waiting.sort();
        waiting
    }

    /// Transfers running now (the status line counts them).
    pub fn set_transfers(&mut self, n: usize) {
        self.transfers = n;
    }

    /// Sets the delivery mark of an own entry.
    pub fn set_mark(&mut self, seq: u64, mark: Mark) {
        self.log.set_mark(seq, mark);
    }

    /// Replaces the users pane (IP Messenger and room modes).
    pub fn set_users(&mut self, users: Vec<User>) {
        if let Some(sel) = self.selected {
            if !users.iter().any(|u| u.addr == sel) {
                self.selected = None;
                self.info.target = t!("ipmsg.everyone").into_owned();
            }
        }
        self.users = Some(users);
    }

    /// Chooses who lines go to (IP Messenger mode).
    pub fn select(&mut self, user: Option<SocketAddr>) {
        self.selected = user;
        self.info.target = match user.and_then(|a| self.user(a)) {
            Some(u) => format!("{} ({})", u.nick, u.addr.ip()),
            None => t!("ipmsg.everyone").into_owned(),
        };
    }

    /// The next user after the selected one, then everyone (Tab).
    pub fn cycle_user(&mut self) {
        let Some(users) = &self.users else {
            return;
        };
        let next = match self
            .selected
            .and_then(|s| users.iter().position(|u| u.addr == s))
        {
            None => users.first().map(|u| u.addr),
            Some(i) if i + 1 < users.len() => Some(users[i + 1].addr),
            Some(_) => None, // after the last: everyone
        };
        self.select(next);
    }

    fn user(&self, addr: SocketAddr) -> Option<&User> {
        self.users.as_ref()?.iter().find(|u| u.addr == addr)
    }

    /// The offer entry `seq` shows, if it is one: its number, and whether
    /// `/get` may fetch it.
    pub fn offer_of(&self, seq: u64) -> Option<(u64, bool)> {
        let n = *self.offer_seqs.get(&seq)?;
        let o = self.offers.get(&n)?;
        Some((n, o.incoming && o.fetchable))
    }

    /// The UDP senders heard, by their alias if they have one, else their
    /// address; in the order of their addresses.
    pub fn peers_heard(&self) -> Vec<(String, SocketAddr)> {
        let mut peers: Vec<(String, SocketAddr)> = self
            .senders
            .iter()
            .filter_map(|w| match w {
                Who::Peer(a) => Some((self.aliases.get(&a.ip()).cloned().unwrap_or_default(), *a)),
                _ => None,
            })
            .collect();
        peers.sort_by_key(|(_, a)| *a);
        peers
    }

    /// The names another member can be called by in `/msg` (room mode):
    /// its nick, or its address when it has none; sorted, once each. The
    /// user itself (the member at the address it is connected from) is not
    /// among them.
    pub fn member_names(&self) -> Vec<String> {
        let me = self.info.listen.as_str();
        let mut names: Vec<String> = self
            .users
            .iter()
            .flatten()
            .filter(|u| u.addr.to_string() != me)
            .map(|u| {
                if u.nick.is_empty() {
                    u.addr.to_string()
                } else {
                    u.nick.clone()
                }
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The user asked to leave with this exit code.
    pub fn leave(&mut self, code: u8) {
        self.quit = Some(code);
    }

    // ---- what the transport heard, what the user asked ---------------------

    /// Applies what the transport heard, at `now`.
    pub fn apply(&mut self, ev: Event, now: SystemTime) {
        match ev {
            Event::Received(batch, drops) => self.receive(batch, drops),
            Event::Unreachable(_, warning) | Event::Warning(warning) => {
                self.warn(Level::Warning, warning)
            }
            Event::Disconnected(why) => {
                self.lost = true;
                self.notice(local_hms(now), &why);
                self.warn(Level::Error, t!("window.lost", why = why).into_owned());
            }
            Event::Users(users) => self.set_users(users),
            Event::Presence(line) => self.notice(local_hms(now), &line),
            Event::Delivery { seq, mark } => self.set_mark(seq, mark),
            Event::Offer(offer) => self.offer(local_hms(now), offer),
            Event::Progress { n, text, fetchable } => self.progress(n, &text, fetchable),
            Event::Transfers(n) => self.set_transfers(n),
        }
    }

    /// Does what a typed line asked, through `transport`, at `now`. Returns
    /// the text to put back in the input box when sending failed.
    pub fn perform(
        &mut self,
        action: Action,
        transport: &mut dyn Transport,
        now: SystemTime,
    ) -> Option<String> {
        match action {
            Action::Send(lines) => {
                let mark = self.pending_mark();
                // The entries first, so delivery reports can find them.
                let seqs = self.sent(local_hms(now), &lines, mark);
                match transport.send(&lines, &seqs, self.selected, now) {
                    Ok(warnings) => {
                        self.sent += lines.len() as u64;
                        for warning in warnings {
                            self.warn(Level::Warning, warning);
                        }
                    }
                    Err(e) => {
                        self.unsend(&seqs);
                        return Some(self.send_failed(&lines, &e.0));
                    }
                }
            }
            Action::Command(line) => {
                match transport.send(std::slice::from_ref(&line), &[], None, now) {
                    Ok(_) => self.command_sent(local_hms(now), &line),
                    Err(e) => {
                        self.warn(Level::Error, t!("window.not_sent", why = e.0).into_owned())
                    }
                }
            }
            Action::Files(cmd) => {
                let about = match cmd {
                    FileCommand::Get(n) => Some(n),
                    _ => None,
                };
                match transport.files(cmd, self.selected) {
                    Ok(said) => {
                        self.warn(Level::Info, said);
                        self.status_about = about;
                    }
                    Err(why) => self.warn(Level::Error, why),
                }
            }
            Action::SetTarget(spec) => match transport.set_target(&spec) {
                Ok(label) => self.set_target(label),
                Err(why) => self.warn(Level::Error, why),
            },
            Action::Quit(_) => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::SendError;

    /// A transport that records what it is asked, and fails when told to.
    #[derive(Default)]
    struct Fake {
        sent: Vec<(Vec<String>, Option<SocketAddr>)>,
        fail: Option<String>,
    }

    impl Transport for Fake {
        fn mode(&self) -> Mode {
            Mode::Udp
        }
        fn send(
            &mut self,
            lines: &[Outgoing],
            _entries: &[u64],
            to: Option<SocketAddr>,
            _time: SystemTime,
        ) -> Result<Vec<String>, SendError> {
            if let Some(why) = &self.fail {
                return Err(SendError(why.clone()));
            }
            self.sent
                .push((lines.iter().map(|l| l.text.clone()).collect(), to));
            Ok(vec!["nobody is listening at 10.0.0.9:3456".into()])
        }
        fn set_target(&mut self, target: &str) -> Result<String, String> {
            Ok(format!("{target} (set)"))
        }
        fn target_label(&self) -> String {
            String::new()
        }
        fn files(&mut self, cmd: FileCommand, _to: Option<SocketAddr>) -> Result<String, String> {
            match cmd {
                FileCommand::Get(n) => Ok(format!("fetching [{n}]")),
                other => Err(format!("not here: {other:?}")),
            }
        }
    }

    fn session(mode: Mode) -> Session {
        let info = Info {
            mode,
            title: "UDP聊天室".into(),
            listen: "0.0.0.0:3456".into(),
            target: "broadcast".into(),
            encoding: "gb2312".into(),
        };
        let wire = Wire {
            encoding: Encoding::gb2312(),
            max_bytes: 65_507,
        };
        Session::new(info, wire, DEFAULT_SCROLLBACK)
    }

    #[test]
    fn a_typed_text_is_composed_sent_and_shown_as_own_lines() {
        let mut s = session(Mode::Udp);
        let mut t = Fake::default();
        let now = SystemTime::now();
        for action in s.submit("你好\nsecond").unwrap() {
            assert_eq!(s.perform(action, &mut t, now), None);
        }
        assert_eq!(t.sent, vec![(vec!["你好".into(), "second".into()], None)]);
        let texts: Vec<&str> = s.entries().iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, vec!["你好", "second"]);
        assert!(s.entries().iter().all(|e| e.who == Who::Me));
        assert_eq!(s.sent_count(), 2);
        assert_eq!(s.status().unwrap().0, Level::Warning, "what sending found");
        for action in s.submit("/to 10.0.0.9").unwrap() {
            s.perform(action, &mut t, now);
        }
        assert_eq!(s.info().target, "10.0.0.9 (set)");
    }

    #[test]
    fn a_failed_send_takes_its_lines_back_and_returns_the_text() {
        let mut s = session(Mode::Udp);
        let mut t = Fake {
            fail: Some("network unreachable".into()),
            ..Fake::default()
        };
        let actions = s.submit("hello").unwrap();
        let back = s.perform(actions[0].clone(), &mut t, SystemTime::now());
        assert_eq!(back.as_deref(), Some("hello"));
        assert!(s.entries().is_empty(), "nothing shown as sent");
        assert_eq!(s.status().unwrap().1, "not sent: network unreachable");
    }

    #[test]
    fn a_refused_text_says_where_and_why() {
        let mut s = session(Mode::Udp);
        assert_eq!(s.submit("ok 😀"), Err(Refused { at: Some(3) }));
        assert!(s.status().unwrap().1.starts_with("'😀' (U+1F600)"));
        assert_eq!(s.submit("/nope"), Err(Refused { at: None }));
        assert_eq!(s.submit("/quit"), Ok(vec![Action::Quit(0)]));
        assert_eq!(s.quit_code(), Some(0));
    }

    fn bob() -> Who {
        Who::Nick {
            nick: "bob".into(),
            addr: "10.0.0.2:2425".parse().unwrap(),
        }
    }

    #[test]
    fn messages_and_senders_are_counted_notices_are_not() {
        let mut s = session(Mode::Ipmsg);
        let msg = |who: Who| Incoming {
            time: "12:00:00".into(),
            who,
            text: "x".into(),
        };
        s.receive(
            vec![msg(bob()), msg(Who::Notice), msg(bob())],
            Drops::default(),
        );
        assert_eq!(s.counts(), (2, 1, 0), "two messages from one sender");
        s.offer(
            "12:00:01".into(),
            Offer {
                n: 1,
                who: bob(),
                text: "a.txt 3 B".into(),
                incoming: true,
            },
        );
        assert_eq!(
            s.counts(),
            (3, 1, 0),
            "an offer is a message from its sender"
        );
    }

    #[test]
    fn the_status_says_how_things_stand_now() {
        let mut s = session(Mode::Ipmsg);
        let mut t = Fake::default();
        let now = SystemTime::now();
        // An error is over once a command is taken.
        assert!(s.submit("/nope").is_err());
        assert_eq!(s.status().unwrap().0, Level::Error);
        s.submit("/help").unwrap();
        assert!(s.status().is_none(), "{:?}", s.status());
        // "fetching [1]" until the transfer ends, then how it ended.
        s.offer(
            "12:00:00".into(),
            Offer {
                n: 1,
                who: bob(),
                text: "a.txt 3 B".into(),
                incoming: true,
            },
        );
        for action in s.submit("/get 1").unwrap() {
            s.perform(action, &mut t, now);
        }
        assert_eq!(s.status().unwrap().1, "fetching [1]");
        s.progress(1, "↓ 45% 1 B of 3 B, 1 B/s", false);
        assert_eq!(s.status().unwrap().1, "fetching [1]");
        s.progress(1, "✓ saved /dl/a.txt", false);
        assert_eq!(
            s.status().unwrap(),
            &(Level::Info, "[1] ✓ saved /dl/a.txt".into())
        );
        // Another offer's end does not take the status over.
        s.set_status(Level::Info, "now sending to bob".into());
        s.progress(1, "✗ short", true);
        assert_eq!(s.status().unwrap().1, "now sending to bob");
    }

    #[test]
    fn files_lists_who_offers_each() {
        let mut s = session(Mode::Ipmsg);
        s.offer(
            "12:00:00".into(),
            Offer {
                n: 3,
                who: bob(),
                text: "报告.docx 2.3 MB".into(),
                incoming: true,
            },
        );
        s.submit("/files").unwrap();
        assert_eq!(
            s.entries().back().unwrap().text,
            "📎 [3] 报告.docx 2.3 MB ← bob (10.0.0.2)"
        );
    }

    #[test]
    fn the_user_is_not_among_the_names_to_complete() {
        let mut s = session(Mode::Room);
        s.info.listen = "10.0.0.9:4000".into();
        let user = |nick: &str, addr: &str| User {
            nick: nick.into(),
            group: String::new(),
            addr: addr.parse().unwrap(),
            absent: false,
        };
        s.set_users(vec![
            user("aaa", "10.0.0.9:4000"),
            user("bob", "10.0.0.2:5"),
            user("", "10.0.0.3:6"),
        ]);
        assert_eq!(s.member_names(), vec!["10.0.0.3:6", "bob"]);
    }

    #[test]
    fn an_empty_window_says_how_to_begin() {
        for mode in [Mode::Udp, Mode::Room, Mode::Ipmsg] {
            let s = session(mode);
            let hints = s.hints().join("\n");
            assert!(hints.contains("/help"), "{hints}");
            assert!(hints.contains("it goes to broadcast"), "{hints}");
            assert!(s.newcomer());
        }
        assert!(session(Mode::Ipmsg)
            .hints()
            .join(" ")
            .contains("/send PATH"));
        assert!(session(Mode::Room).hints().join(" ").contains("/msg NAME"));
    }

    #[test]
    fn what_the_transport_heard_is_applied() {
        let mut s = session(Mode::Room);
        let now = SystemTime::now();
        s.apply(
            Event::Received(
                vec![Incoming {
                    time: "12:00:00".into(),
                    who: Who::Member(crate::chat::Member {
                        label: "bob@10.0.0.2:5".into(),
                        name: Some("bob".into()),
                        addr: "10.0.0.2:5".parse().ok(),
                    }),
                    text: "hi".into(),
                }],
                Drops::default(),
            ),
            now,
        );
        s.apply(Event::Disconnected("the room closed".into()), now);
        assert!(s.lost());
        assert_eq!(s.entries().len(), 2);
        assert_eq!(s.entries()[1].who, Who::Notice);
        assert_eq!(s.counts(), (1, 1, 0));
        assert_eq!(s.status().unwrap().1, "the room closed; /quit to leave");
    }
}
