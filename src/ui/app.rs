//! `App`: everything the window shows, and what each key and message does
//! to it. Pure state: no terminal, no socket, no clock (times are passed
//! in), so every behaviour is unit-tested by calling its methods.
//!
//! ```text
//! key ──▶ App::key ──▶ [Action::Send(lines) | Action::SetTarget | Action::Quit]
//!                         │ the runner sends, then tells App: sent() / refused() / warn()
//! message batch ──▶ App::receive ──▶ entries (bounded), counts
//! draw(&App) reads it all
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};

pub use crate::chat::{Drops, FileCommand, Incoming, Mark, Mode, Offer, Outgoing, User, Who};
use crate::encoding::{EncodeError, Encoding};
use crate::ui::editor::Editor;
use crate::ui::wrap;

/// Messages kept by default (`--scrollback`).
pub const DEFAULT_SCROLLBACK: usize = 10_000;
/// Bytes of message text kept in all, whatever `--scrollback` says, so a
/// flood of large datagrams cannot grow memory without bound.
pub const SCROLLBACK_BYTES: usize = 24 * 1024 * 1024;
/// Longest text shown for one message; the rest is cut (the log has it).
pub const ENTRY_TEXT_MAX: usize = 8 * 1024;
/// Distinct senders counted at most.
const SENDERS_MAX: usize = 65_536;
/// Rows the mouse wheel scrolls.
const WHEEL_ROWS: usize = 3;

/// One message in the upper pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Sequence number (increasing; used for scrolling and marks).
    pub seq: u64,
    /// `HH:MM:SS`.
    pub time: String,
    /// Sender.
    pub who: Who,
    /// Text, already terminal-safe (sanitized), cut at [`ENTRY_TEXT_MAX`].
    pub text: String,
    /// Delivery state of an own line, where the mode has one.
    pub mark: Option<Mark>,
}

/// What the runner must do after a key.
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

/// Where the view is: following the newest, or held at a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scroll {
    Follow,
    /// The bottom row shown is row `row` of entry `seq`.
    At {
        seq: u64,
        row: usize,
    },
}

/// The window's state.
#[derive(Debug)]
pub struct App {
    info: Info,
    wire: Wire,
    entries: VecDeque<Entry>,
    next_seq: u64,
    scrollback: usize,
    text_bytes: usize,
    editor: Editor,
    scroll: Scroll,
    /// Messages that arrived while scrolled up.
    unseen: usize,
    aliases: HashMap<IpAddr, String>,
    /// Messages received.
    received: u64,
    senders: HashSet<Who>,
    /// Messages that left the scrollback.
    evicted: u64,
    drops: Drops,
    status: Option<(Level, String)>,
    /// Size of the message pane's inside, set by the runner (columns, rows).
    pane: (u16, u16),
    /// Users online (IP Messenger mode), and which one `/to` or Tab chose.
    users: Option<Vec<User>>,
    selected: Option<SocketAddr>,
    /// Tab completion of a member's name after `/msg ` (room mode): what
    /// was typed, and the name last offered.
    completion: Option<(String, usize)>,
    /// Offers of files, by number (IP Messenger mode).
    offers: HashMap<u64, OfferEntry>,
    /// Transfers running now.
    transfers: usize,
    quit: Option<u8>,
}

/// An offer's entry: where it is, what it says, how it stands.
#[derive(Debug, Clone)]
struct OfferEntry {
    seq: u64,
    base: String,
    incoming: bool,
    fetchable: bool,
}

/// The help shown by `/help`.
pub const HELP: &[&str] = &[
    "keys: Enter send · ←/→ Home/End move · Backspace/Delete · Ctrl-W word · Ctrl-U to start",
    "      ↑/↓ earlier lines · PgUp/PgDn or the mouse wheel scroll · End back to the newest",
    "      Esc clear the status · Ctrl-C, Ctrl-D (empty line) or /quit leave · 88 sends and leaves",
    "commands: /to TARGET (host[:port], broadcast address, multicast group, or 'broadcast')",
    "          /alias IP NAME (/alias IP to forget) · /clear · /help · /quit · //text sends /text",
    "room:     /nick NAME (/nick alone: back to ip:port) · /who · /msg NAME text (Tab completes NAME)",
    "files:    /send PATH... (to the chosen user, or everyone) · /files · /get N · /drop N · /cancel N",
];

impl App {
    /// A window with these facts and wire rules, keeping `scrollback`
    /// messages.
    pub fn new(info: Info, wire: Wire, scrollback: usize) -> Self {
        App {
            info,
            wire,
            entries: VecDeque::new(),
            next_seq: 1,
            scrollback: scrollback.max(1),
            text_bytes: 0,
            editor: Editor::new(),
            scroll: Scroll::Follow,
            unseen: 0,
            aliases: HashMap::new(),
            received: 0,
            senders: HashSet::new(),
            evicted: 0,
            drops: Drops::default(),
            status: None,
            pane: (80, 20),
            users: None,
            selected: None,
            completion: None,
            offers: HashMap::new(),
            transfers: 0,
            quit: None,
        }
    }

    // ---- reading the state (for draw and tests) ---------------------------

    /// The status line's facts.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The messages kept, oldest first.
    pub fn entries(&self) -> &VecDeque<Entry> {
        &self.entries
    }

    /// The edit line.
    pub fn editor(&self) -> &Editor {
        &self.editor
    }

    /// The latest status message.
    pub fn status(&self) -> Option<&(Level, String)> {
        self.status.as_ref()
    }

    /// Messages received, distinct senders, evicted from the scrollback.
    pub fn counts(&self) -> (u64, usize, u64) {
        (self.received, self.senders.len(), self.evicted)
    }

    /// Drops counted by the receiver.
    pub fn drops(&self) -> Drops {
        self.drops
    }

    /// Messages that arrived while scrolled up (0 when following).
    pub fn unseen(&self) -> usize {
        self.unseen
    }

    /// Whether the view follows the newest message.
    pub fn following(&self) -> bool {
        self.scroll == Scroll::Follow
    }

    /// The exit code, once the user asked to leave.
    pub fn quit_code(&self) -> Option<u8> {
        self.quit
    }

    /// The users pane, in IP Messenger mode.
    pub fn users(&self) -> Option<&[User]> {
        self.users.as_deref()
    }

    /// The user lines go to (IP Messenger mode; `None`: everyone).
    pub fn selected(&self) -> Option<SocketAddr> {
        self.selected
    }

    /// How an entry's sender is shown: `me`, `ip:port`, `NAME (ip:port)`,
    /// `NICK (ip)`, or `*` for notices.
    pub fn sender_label(&self, who: &Who) -> String {
        match who {
            Who::Me => "me".into(),
            Who::Peer(addr) => match self.aliases.get(&addr.ip()) {
                Some(name) => format!("{name} ({addr})"),
                None => addr.to_string(),
            },
            Who::Member(name) => {
                let ip = name
                    .parse::<SocketAddr>()
                    .ok()
                    .map(|a| crate::net::canonical(a).ip());
                match ip.and_then(|ip| self.aliases.get(&ip)) {
                    Some(alias) => format!("{alias} ({name})"),
                    None => name.clone(),
                }
            }
            Who::Nick { nick, addr } => format!("{nick} ({})", addr.ip()),
            Who::Private(name) => format!("{name} → me"),
            Who::Notice => "*".into(),
        }
    }

    /// The rows entry `e` takes in a pane `width` columns wide.
    pub fn entry_rows(&self, e: &Entry, width: usize) -> Vec<(usize, std::ops::Range<usize>)> {
        let prefix = wrap::TIME_WIDTH + crate::ui::editor::width(&self.sender_label(&e.who)) + 1;
        wrap::rows(prefix, &self.display_text(e), width)
    }

    /// The text of an entry as shown, with its delivery mark.
    pub fn display_text(&self, e: &Entry) -> String {
        match e.mark {
            None => e.text.clone(),
            Some(Mark::Pending) => format!("{} …", e.text),
            Some(Mark::Delivered) => format!("{} ✓", e.text),
            Some(Mark::NotDelivered) => format!("{} ✗ not delivered", e.text),
        }
    }

    /// The bottom row shown: the entry's index in [`App::entries`] and
    /// the row within it (`None` when there are no entries).
    pub fn bottom(&self) -> Option<(usize, usize)> {
        let last = self.entries.len().checked_sub(1)?;
        match self.scroll {
            Scroll::Follow => {
                let rows = self
                    .entry_rows(&self.entries[last], usize::from(self.pane.0))
                    .len();
                Some((last, rows - 1))
            }
            Scroll::At { seq, row } => {
                let i = self.index_of(seq).unwrap_or(0);
                Some((i, row))
            }
        }
    }

    fn index_of(&self, seq: u64) -> Option<usize> {
        let first = self.entries.front()?.seq;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        (i < self.entries.len()).then_some(i)
    }

    // ---- changes from the runner ------------------------------------------

    /// The inside of the message pane is now `cols` × `rows`.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.pane = (cols.max(1), rows.max(1));
        self.clamp_scroll();
    }

    /// The status line's target changed (`/to` succeeded).
    pub fn set_target(&mut self, label: String) {
        self.info.target = label.clone();
        self.set_status(Level::Info, format!("now sending to {label}"));
    }

    /// Shows a warning or error on the status line.
    pub fn warn(&mut self, level: Level, text: impl Into<String>) {
        self.set_status(level, text.into());
    }

    fn set_status(&mut self, level: Level, text: String) {
        self.status = Some((level, crate::sanitize::line(&text)));
    }

    /// Sets an alias (as `--alias IP=NAME` does).
    pub fn alias(&mut self, ip: IpAddr, name: &str) {
        self.aliases
            .insert(ip.to_canonical(), crate::sanitize::line(name));
    }

    /// Adds received messages and the receiver's counts.
    pub fn receive(&mut self, batch: Vec<Incoming>, drops: Drops) {
        self.drops.allow += drops.allow;
        self.drops.rate += drops.rate;
        self.drops.malformed += drops.malformed;
        for m in batch {
            self.received += 1;
            if self.senders.len() < SENDERS_MAX && m.who != Who::Notice {
                self.senders.insert(m.who.clone());
            }
            self.push(m.time, m.who, m.text, None);
        }
    }

    /// Adds a notice (join/leave, disconnection) to the messages.
    pub fn notice(&mut self, time: String, text: &str) {
        self.push(time, Who::Notice, crate::sanitize::line(text), None);
    }

    /// The lines of an [`Action::Send`] went out: shows them as own lines.
    /// Returns their entries' sequence numbers (for [`App::set_mark`]).
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
        self.follow();
        lines
            .iter()
            .map(|l| self.push(time.clone(), Who::Me, crate::sanitize::line(&l.text), mark))
            .collect()
    }

    /// Sending failed for a reason of the network: the text goes back in
    /// the box (when the user has not typed anything since) and the status
    /// says why.
    pub fn send_failed(&mut self, lines: &[Outgoing], why: &str) {
        if self.editor.is_empty() {
            let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
            self.editor.insert(&text.join("\n"));
        }
        self.set_status(Level::Error, format!("not sent: {why}"));
    }

    /// The mark own lines start with: pending in a mode that confirms
    /// delivery (IP Messenger), none otherwise.
    pub fn pending_mark(&self) -> Option<Mark> {
        self.info.mode.confirms_delivery().then_some(Mark::Pending)
    }

    /// Takes back the entries of lines that could not be sent after all.
    pub fn unsend(&mut self, seqs: &[u64]) {
        self.entries.retain(|e| !seqs.contains(&e.seq));
        self.text_bytes = self.entries.iter().map(|e| e.text.len()).sum();
        self.clamp_scroll();
    }

    /// Files offered, to this user or by it: a new entry `📎 [N] …`.
    pub fn offer(&mut self, time: String, offer: Offer) {
        let base = crate::sanitize::line(&format!("📎 [{}] {}", offer.n, offer.text));
        if offer.who == Who::Me {
            self.follow();
        } else {
            self.received += 1;
        }
        let seq = self.push(time, offer.who, base.clone(), None);
        self.offers.insert(
            offer.n,
            OfferEntry {
                seq,
                base,
                incoming: offer.incoming,
                fetchable: offer.incoming,
            },
        );
    }

    /// How offer `n` stands: shown after its entry.
    pub fn progress(&mut self, n: u64, text: &str, fetchable: bool) {
        let Some(o) = self.offers.get_mut(&n) else {
            return;
        };
        o.fetchable = fetchable;
        let shown = format!("{}  {}", o.base, crate::sanitize::line(text));
        let seq = o.seq;
        if let Some(i) = self.index_of(seq) {
            self.text_bytes = self.text_bytes + shown.len() - self.entries[i].text.len();
            self.entries[i].text = shown;
        }
    }

    /// Transfers running now (the status line counts them).
    pub fn set_transfers(&mut self, n: usize) {
        self.transfers = n;
    }

    /// Transfers running now.
    pub fn transfers(&self) -> usize {
        self.transfers
    }

    /// Sets the delivery mark of an own entry.
    pub fn set_mark(&mut self, seq: u64, mark: Mark) {
        if let Some(i) = self.index_of(seq) {
            self.entries[i].mark = Some(mark);
        }
    }

    /// Replaces the users pane (IP Messenger mode).
    pub fn set_users(&mut self, users: Vec<User>) {
        if let Some(sel) = self.selected {
            if !users.iter().any(|u| u.addr == sel) {
                self.selected = None;
                self.info.target = "everyone online".into();
            }
        }
        self.users = Some(users);
    }

    /// Chooses who lines go to (IP Messenger mode).
    pub fn select(&mut self, user: Option<SocketAddr>) {
        self.selected = user;
        self.info.target = match user.and_then(|a| self.user(a)) {
            Some(u) => format!("{} ({})", u.nick, u.addr.ip()),
            None => "everyone online".into(),
        };
    }

    fn user(&self, addr: SocketAddr) -> Option<&User> {
        self.users.as_ref()?.iter().find(|u| u.addr == addr)
    }

    fn push(&mut self, time: String, who: Who, mut text: String, mark: Option<Mark>) -> u64 {
        if text.len() > ENTRY_TEXT_MAX {
            let mut cut = ENTRY_TEXT_MAX;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let more = text.len() - cut;
            text.truncate(cut);
            text.push_str(&format!(" … (+{more} bytes)"));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.text_bytes += text.len();
        self.entries.push_back(Entry {
            seq,
            time,
            who,
            text,
            mark,
        });
        while self.entries.len() > self.scrollback
            || (self.text_bytes > SCROLLBACK_BYTES && self.entries.len() > 1)
        {
            if let Some(old) = self.entries.pop_front() {
                self.text_bytes -= old.text.len();
                self.evicted += 1;
            }
        }
        if self.scroll != Scroll::Follow {
            self.unseen += 1;
            self.clamp_scroll();
        }
        seq
    }

    // ---- keys -------------------------------------------------------------

    /// A pasted text: inserted where the cursor is, never sent by itself.
    pub fn paste(&mut self, text: &str) {
        self.editor.insert(text);
    }

    /// A mouse event: the wheel scrolls.
    pub fn mouse(&mut self, ev: MouseEvent) {
        match ev.kind {
            MouseEventKind::ScrollUp => self.scroll_up(WHEEL_ROWS),
            MouseEventKind::ScrollDown => self.scroll_down(WHEEL_ROWS),
            _ => {}
        }
    }

    /// A key. Only presses count (Windows also reports releases).
    pub fn key(&mut self, key: KeyEvent) -> Vec<Action> {
        if key.kind != KeyEventKind::Press && key.kind != KeyEventKind::Repeat {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if key.code != KeyCode::Tab {
            self.completion = None;
        }
        match key.code {
            KeyCode::Char('c') if ctrl => return self.leave(0),
            KeyCode::Char('d') if ctrl => {
                if self.editor.is_empty() {
                    return self.leave(0);
                }
                self.editor.delete();
            }
            KeyCode::Char('w') if ctrl => self.editor.delete_word(),
            KeyCode::Char('u') if ctrl => self.editor.delete_to_start(),
            KeyCode::Char('a') if ctrl => self.editor.home(),
            KeyCode::Char('e') if ctrl => self.editor.end(),
            KeyCode::Char('l') if ctrl => {}
            KeyCode::Char(c) if !ctrl => self.editor.insert(c.encode_utf8(&mut [0; 4])),
            KeyCode::Enter => return self.submit(),
            KeyCode::Backspace => self.editor.backspace(),
            KeyCode::Delete => self.editor.delete(),
            KeyCode::Left => self.editor.left(),
            KeyCode::Right => self.editor.right(),
            KeyCode::Home => self.editor.home(),
            KeyCode::End => {
                self.editor.end();
                self.follow();
            }
            KeyCode::Up => self.editor.history_up(),
            KeyCode::Down => self.editor.history_down(),
            KeyCode::PageUp => self.scroll_up(self.page()),
            KeyCode::PageDown => self.scroll_down(self.page()),
            KeyCode::Tab if self.info.mode == Mode::Room => {
                self.complete_member();
                return Vec::new();
            }
            KeyCode::Tab => self.cycle_user(),
            KeyCode::Esc => self.status = None,
            _ => {}
        }
        Vec::new()
    }

    fn leave(&mut self, code: u8) -> Vec<Action> {
        self.quit = Some(code);
        vec![Action::Quit(code)]
    }

    fn page(&self) -> usize {
        usize::from(self.pane.1).saturating_sub(1).max(1)
    }

    fn cycle_user(&mut self) {
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

    /// Enter: a command, or lines to send.
    fn submit(&mut self) -> Vec<Action> {
        let text = self.editor.text().to_string();
        if let Some(rest) = text.strip_prefix('/') {
            if !rest.starts_with('/') {
                return self.command(rest);
            }
        }
        // `//text` sends `/text`.
        let body = text
            .strip_prefix("//")
            .map(|r| format!("/{r}"))
            .unwrap_or(text);
        let quit = body == "88";
        match self.encode_lines(&body) {
            Ok(lines) => {
                self.editor.take();
                let mut actions = vec![Action::Send(lines)];
                if quit {
                    self.quit = Some(0);
                    actions.push(Action::Quit(0));
                }
                actions
            }
            Err((at, why)) => {
                // What could not be sent stays, the cursor on the culprit.
                let shift = self.editor.text().len() - body.len();
                self.editor.set_cursor(at + shift);
                self.set_status(Level::Error, why);
                Vec::new()
            }
        }
    }

    /// Encodes each line of `text` (a paste may hold several). On failure:
    /// the byte index of the culprit and why.
    fn encode_lines(&self, text: &str) -> Result<Vec<Outgoing>, (usize, String)> {
        let mut out = Vec::new();
        let mut offset = 0;
        for line in text.split('\n') {
            let bytes = match self.wire.encoding.encode(line) {
                Ok(b) => b,
                Err(EncodeError::Unmappable { ch, label }) => {
                    let at = offset + line.find(ch).unwrap_or(0);
                    return Err((
                        at,
                        format!(
                            "'{ch}' (U+{:04X}) cannot be written in {label}; try -e gb18030 or -e utf-8",
                            ch as u32
                        ),
                    ));
                }
            };
            if bytes.len() > self.wire.max_bytes {
                let at = offset + self.first_over_limit(line);
                return Err((
                    at,
                    format!(
                        "{} bytes after encoding, over the {}-byte limit; not sent",
                        bytes.len(),
                        self.wire.max_bytes
                    ),
                ));
            }
            out.push(Outgoing {
                text: line.to_string(),
                bytes,
            });
            offset += line.len() + 1;
        }
        Ok(out)
    }

    /// Byte index of the first character that takes `line` over the limit.
    fn first_over_limit(&self, line: &str) -> usize {
        let mut total = 0;
        for (i, ch) in line.char_indices() {
            total += self
                .wire
                .encoding
                .encode(ch.encode_utf8(&mut [0; 4]))
                .map(|b| b.len())
                .unwrap_or(4);
            if total > self.wire.max_bytes {
                return i;
            }
        }
        line.len()
    }

    fn command(&mut self, rest: &str) -> Vec<Action> {
        let (name, arg) = match rest.split_once(char::is_whitespace) {
            Some((n, a)) => (n, a.trim()),
            None => (rest, ""),
        };
        let done = |app: &mut App| {
            app.editor.take();
        };
        if self.info.mode == Mode::Room && matches!(name, "nick" | "who" | "msg") {
            return self.room_command();
        }
        if self.info.mode == Mode::Ipmsg {
            if let Some(actions) = self.file_command(name, arg) {
                return actions;
            }
        } else if matches!(name, "send" | "files" | "get" | "drop" | "cancel") {
            self.set_status(
                Level::Error,
                "files go over IP Messenger: start lanchat with --ipmsg".into(),
            );
            return Vec::new();
        }
        match name {
            "quit" | "q" => {
                done(self);
                return self.leave(0);
            }
            "help" => {
                done(self);
                for line in HELP {
                    self.push(String::new(), Who::Notice, (*line).to_string(), None);
                }
                self.follow();
            }
            "clear" => {
                done(self);
                self.entries.clear();
                self.text_bytes = 0;
                self.follow();
            }
            "to" if arg.is_empty() => {
                done(self);
                let target = self.info.target.clone();
                self.set_status(Level::Info, format!("sending to {target}"));
            }
            "to" => {
                if let (Mode::Ipmsg, Some(users)) = (self.info.mode, &self.users) {
                    // IP Messenger: a nick or an address of a user online.
                    let hit = users
                        .iter()
                        .find(|u| u.nick == arg || u.addr.ip().to_string() == arg)
                        .map(|u| u.addr);
                    return match (arg, hit) {
                        ("*" | "all" | "everyone", _) => {
                            done(self);
                            self.select(None);
                            Vec::new()
                        }
                        (_, Some(addr)) => {
                            done(self);
                            self.select(Some(addr));
                            Vec::new()
                        }
                        (_, None) => {
                            self.set_status(Level::Error, format!("nobody online is called {arg}"));
                            Vec::new()
                        }
                    };
                }
                done(self);
                return vec![Action::SetTarget(arg.to_string())];
            }
            "alias" => {
                let mut parts = arg.splitn(2, char::is_whitespace);
                let ip = parts.next().unwrap_or("");
                let name = parts.next().unwrap_or("").trim();
                match crate::cli::bind_addr(ip) {
                    Ok(ip) if name.is_empty() => {
                        done(self);
                        self.aliases.remove(&ip.to_canonical());
                        self.set_status(Level::Info, format!("alias for {ip} removed"));
                    }
                    Ok(ip) => {
                        done(self);
                        self.alias(ip, name);
                        self.set_status(Level::Info, format!("{ip} is now shown as {name}"));
                    }
                    Err(_) => {
                        self.set_status(
                            Level::Error,
                            "usage: /alias IP NAME (or /alias IP to forget)".to_string(),
                        );
                    }
                }
            }
            _ => {
                let shown = crate::sanitize::line(name);
                self.set_status(
                    Level::Error,
                    format!("unknown command /{shown}; /help lists them"),
                );
            }
        }
        Vec::new()
    }

    /// `/nick`, `/who`, `/msg` in room mode: the line goes to the server,
    /// which answers; a private line is shown as one.
    fn room_command(&mut self) -> Vec<Action> {
        let text = self.editor.text().to_string();
        let line = match self.encode_lines(&text) {
            Ok(mut lines) if lines.len() == 1 => lines.remove(0),
            Ok(_) => {
                self.set_status(Level::Error, "one command per line".to_string());
                return Vec::new();
            }
            Err((at, why)) => {
                self.editor.set_cursor(at);
                self.set_status(Level::Error, why);
                return Vec::new();
            }
        };
        self.editor.take();
        vec![Action::Command(line)]
    }

    /// `/send`, `/files`, `/get`, `/drop`, `/cancel` (IP Messenger mode);
    /// `None` for any other word.
    fn file_command(&mut self, name: &str, arg: &str) -> Option<Vec<Action>> {
        let number = |app: &mut App, what: &str| -> Option<u64> {
            match arg
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
            {
                Ok(n) => Some(n),
                Err(_) => {
                    app.set_status(
                        Level::Error,
                        format!("usage: /{what} N (the offer's number)"),
                    );
                    None
                }
            }
        };
        let cmd = match name {
            "send" => {
                let paths = split_paths(arg);
                if paths.is_empty() {
                    self.set_status(
                        Level::Error,
                        "usage: /send PATH... (files and folders)".into(),
                    );
                    return Some(Vec::new());
                }
                FileCommand::Send(paths)
            }
            "get" | "drop" | "cancel" => {
                let Some(n) = number(self, name) else {
                    return Some(Vec::new()); // said how; the line stays
                };
                match name {
                    "get" => FileCommand::Get(n),
                    "drop" => FileCommand::Drop(n),
                    _ => FileCommand::Cancel(n),
                }
            }
            "files" => {
                self.editor.take();
                let mut waiting: Vec<(u64, String)> = self
                    .offers
                    .iter()
                    .filter(|(_, o)| o.incoming && o.fetchable)
                    .map(|(n, o)| (*n, o.base.clone()))
                    .collect();
                waiting.sort();
                if waiting.is_empty() {
                    self.set_status(Level::Info, "no offers waiting".into());
                } else {
                    for (_, base) in waiting {
                        self.push(String::new(), Who::Notice, base, None);
                    }
                    self.follow();
                }
                return Some(Vec::new());
            }
            _ => return None,
        };
        self.editor.take();
        Some(vec![Action::Files(cmd)])
    }

    /// A room command went out at `time`: a private line is shown as the
    /// user's own, `→ NAME: text` (the server sends nothing back for it);
    /// `/nick` and `/who` are answered by the server.
    pub fn command_sent(&mut self, time: String, line: &Outgoing) {
        let Some(rest) = line.text.strip_prefix("/msg ") else {
            return;
        };
        if let Some((to, said)) = rest.trim_start().split_once(' ') {
            self.follow();
            let shown = format!("→ {to}: {}", said.trim_start());
            self.push(time, Who::Me, crate::sanitize::line(&shown), None);
        }
    }

    /// Tab after `/msg ` (room mode): the members whose name (or address)
    /// starts with what is typed, one after another.
    fn complete_member(&mut self) {
        let text = self.editor.text().to_string();
        let Some(rest) = text.strip_prefix("/msg ") else {
            return;
        };
        let Some(users) = &self.users else {
            return;
        };
        let mut names: Vec<String> = users
            .iter()
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
        let (prefix, from) = match &self.completion {
            Some((prefix, i))
                if rest == format!("{} ", names.get(*i).map_or("", |n| n.as_str())) =>
            {
                (prefix.clone(), i + 1)
            }
            _ => {
                if rest.contains(' ') {
                    return;
                }
                (rest.to_string(), 0)
            }
        };
        let fits = |n: &String| n.to_lowercase().starts_with(&prefix.to_lowercase());
        let found = (0..names.len())
            .map(|k| (from + k) % names.len())
            .find(|&i| fits(&names[i]));
        if let Some(i) = found {
            self.editor.take();
            self.editor.insert(&format!("/msg {} ", names[i]));
            self.completion = Some((prefix, i));
        }
    }

    // ---- scrolling --------------------------------------------------------

    /// The status line's note of transfers, when there are some.
    pub fn transfers_note(&self) -> Option<String> {
        (self.transfers > 0).then(|| format!("⇅ {} transfers", self.transfers))
    }

    fn follow(&mut self) {
        self.scroll = Scroll::Follow;
        self.unseen = 0;
    }

    /// Rows of the entry at `index`.
    fn rows_of(&self, index: usize) -> usize {
        self.entry_rows(&self.entries[index], usize::from(self.pane.0))
            .len()
    }

    /// Moves the view `n` rows towards older messages (not past the top:
    /// the oldest row stays at the top of a full pane).
    fn scroll_up(&mut self, n: usize) {
        let Some((mut i, mut row)) = self.bottom() else {
            return;
        };
        // Rows above the bottom row, to see whether there is room to move.
        let height = usize::from(self.pane.1);
        let above: usize = (0..i).map(|k| self.rows_of(k)).sum::<usize>() + row;
        let can = above.saturating_sub(height.saturating_sub(1));
        let mut n = n.min(can);
        if n == 0 {
            return;
        }
        while n > 0 {
            if row >= n {
                row -= n;
                n = 0;
            } else {
                n -= row + 1;
                i -= 1;
                row = self.rows_of(i) - 1;
            }
        }
        self.scroll = Scroll::At {
            seq: self.entries[i].seq,
            row,
        };
    }

    /// Moves the view `n` rows towards newer messages; reaching the newest
    /// follows again.
    fn scroll_down(&mut self, mut n: usize) {
        let Scroll::At { seq, row } = self.scroll else {
            return;
        };
        let Some(mut i) = self.index_of(seq) else {
            self.follow();
            return;
        };
        let mut row = row;
        while n > 0 {
            let rows = self.rows_of(i);
            if row + n < rows {
                row += n;
                n = 0;
            } else if i + 1 < self.entries.len() {
                n -= rows - row;
                i += 1;
                row = 0;
            } else {
                self.follow();
                return;
            }
        }
        if i + 1 == self.entries.len() && row + 1 >= self.rows_of(i) {
            self.follow();
        } else {
            self.scroll = Scroll::At {
                seq: self.entries[i].seq,
                row,
            };
        }
    }

    /// Keeps a held view on an entry that still exists and a row it has.
    fn clamp_scroll(&mut self) {
        if let Scroll::At { seq, row } = self.scroll {
            let first = match self.entries.front() {
                Some(e) => e.seq,
                None => return self.follow(),
            };
            let (seq, row) = if seq < first { (first, 0) } else { (seq, row) };
            match self.index_of(seq) {
                Some(i) => {
                    let row = row.min(self.rows_of(i) - 1);
                    self.scroll = Scroll::At { seq, row };
                }
                None => self.follow(),
            }
        }
    }
}

/// The paths of `/send`: separated by spaces; a path with spaces in
/// quotes (`"my file.txt"` or `'my file.txt'`, as terminals paste a
/// dropped file); a leading `~/` is the home folder. (No backslash
/// escapes: on Windows `\` is the path separator.)
pub fn split_paths(text: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|p| match (p.strip_prefix("~/"), dirs::home_dir()) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => std::path::PathBuf::from(p),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    fn app() -> App {
        let mut a = App::new(
            Info {
                mode: Mode::Udp,
                title: "UDP聊天室".into(),
                listen: "0.0.0.0:3456".into(),
                target: "127.0.0.1:3456".into(),
                encoding: "gb2312".into(),
            },
            Wire {
                encoding: Encoding::gb2312(),
                max_bytes: 65_507,
            },
            DEFAULT_SCROLLBACK,
        );
        a.resize(60, 10);
        a
    }

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn type_str(a: &mut App, s: &str) {
        for c in s.chars() {
            assert!(a.key(press(KeyCode::Char(c))).is_empty());
        }
    }

    fn peer(i: u8) -> Who {
        Who::Peer(format!("192.168.1.{i}:3456").parse().unwrap())
    }

    fn msg(i: u8, text: &str) -> Incoming {
        Incoming {
            time: "12:00:00".into(),
            who: peer(i),
            text: text.into(),
        }
    }

    fn sent_texts(actions: &[Action]) -> Vec<String> {
        match actions.first() {
            Some(Action::Send(lines)) => lines.iter().map(|l| l.text.clone()).collect(),
            other => panic!("not a send: {other:?}"),
        }
    }

    #[test]
    fn enter_sends_the_line_as_gb2312_and_clears_the_box() {
        let mut a = app();
        type_str(&mut a, "你好");
        let actions = a.key(press(KeyCode::Enter));
        assert_eq!(
            actions,
            vec![Action::Send(vec![Outgoing {
                text: "你好".into(),
                bytes: vec![0xC4, 0xE3, 0xBA, 0xC3],
            }])]
        );
        assert!(a.editor().is_empty());
        let seqs = a.sent(
            "12:00:01".into(),
            &[Outgoing {
                text: "你好".into(),
                bytes: vec![],
            }],
            None,
        );
        let e = a.entries().back().unwrap();
        assert_eq!(
            (e.seq, &e.who, e.text.as_str()),
            (seqs[0], &Who::Me, "你好")
        );
        assert_eq!(a.sender_label(&e.who), "me");
    }

    #[test]
    fn wide_characters_edit_by_grapheme() {
        let mut a = app();
        type_str(&mut a, "你好");
        a.key(press(KeyCode::Left));
        type_str(&mut a, "X");
        a.key(press(KeyCode::Right));
        assert_eq!(a.editor().text(), "你X好");
        assert_eq!(a.editor().view(40).cursor_col, 5);
        a.paste("😀");
        a.key(press(KeyCode::Backspace));
        assert_eq!(a.editor().text(), "你X好");
    }

    #[test]
    fn only_key_presses_count() {
        let mut a = app();
        let mut release = press(KeyCode::Char('x'));
        release.kind = KeyEventKind::Release;
        release.state = KeyEventState::NONE;
        a.key(release);
        assert!(a.editor().is_empty());
    }

    #[test]
    fn an_unencodable_line_stays_with_the_cursor_on_the_culprit() {
        let mut a = app();
        type_str(&mut a, "ok 😀 no");
        assert!(a.key(press(KeyCode::Enter)).is_empty(), "nothing sent");
        assert_eq!(a.editor().text(), "ok 😀 no");
        assert_eq!(a.editor().cursor(), "ok ".len());
        let (level, text) = a.status().unwrap();
        assert_eq!(*level, Level::Error);
        assert_eq!(
            text,
            "'😀' (U+1F600) cannot be written in gb2312; try -e gb18030 or -e utf-8"
        );
        // Fixing it sends, and clears the error.
        a.key(press(KeyCode::Delete));
        let actions = a.key(press(KeyCode::Enter));
        assert_eq!(sent_texts(&actions), vec!["ok  no"]);
        a.sent("t".into(), &[], None);
        assert!(a.status().is_none());
    }

    #[test]
    fn an_oversize_line_stays_with_its_size_and_the_cursor_past_the_limit() {
        let mut a = app();
        a.wire.max_bytes = 10;
        a.paste("一二三四五六七");
        assert!(a.key(press(KeyCode::Enter)).is_empty());
        assert_eq!(a.editor().text(), "一二三四五六七");
        assert_eq!(
            a.editor().cursor(),
            "一二三四五".len(),
            "the 6th character passes 10 bytes"
        );
        assert!(a
            .status()
            .unwrap()
            .1
            .starts_with("14 bytes after encoding, over the 10-byte limit"));
    }

    #[test]
    fn a_pasted_text_is_inserted_and_sent_line_by_line_on_enter() {
        let mut a = app();
        type_str(&mut a, "[");
        a.paste("one\r\ntwo\nthree");
        type_str(&mut a, "]");
        assert_eq!(a.editor().text(), "[one\ntwo\nthree]");
        let actions = a.key(press(KeyCode::Enter));
        assert_eq!(sent_texts(&actions), vec!["[one", "two", "three]"]);
    }

    #[test]
    fn a_bad_line_in_a_paste_stops_all_of_them() {
        let mut a = app();
        a.paste("fine\nnot 😀 fine");
        assert!(a.key(press(KeyCode::Enter)).is_empty());
        assert_eq!(a.editor().cursor(), "fine\nnot ".len());
    }

    #[test]
    fn eighty_eight_is_sent_then_quits() {
        let mut a = app();
        type_str(&mut a, "88");
        let actions = a.key(press(KeyCode::Enter));
        assert_eq!(sent_texts(&actions), vec!["88"]);
        assert_eq!(actions[1], Action::Quit(0));
        assert_eq!(a.quit_code(), Some(0));
    }

    #[test]
    fn quit_keys_and_command() {
        for keys in [vec![ctrl('c')], vec![ctrl('d')]] {
            let mut a = app();
            let mut last = Vec::new();
            for k in keys {
                last = a.key(k);
            }
            assert_eq!(last, vec![Action::Quit(0)]);
        }
        // Ctrl-D on a non-empty line deletes instead.
        let mut a = app();
        type_str(&mut a, "ab");
        a.key(press(KeyCode::Home));
        assert!(a.key(ctrl('d')).is_empty());
        assert_eq!(a.editor().text(), "b");
        let mut a = app();
        type_str(&mut a, "/quit");
        assert_eq!(a.key(press(KeyCode::Enter)), vec![Action::Quit(0)]);
    }

    #[test]
    fn commands_to_alias_clear_help_and_a_literal_slash() {
        let mut a = app();
        type_str(&mut a, "/to 10.0.0.9:4000");
        assert_eq!(
            a.key(press(KeyCode::Enter)),
            vec![Action::SetTarget("10.0.0.9:4000".into())]
        );
        a.set_target("10.0.0.9:4000".into());
        assert_eq!(a.info().target, "10.0.0.9:4000");

        type_str(&mut a, "/alias 192.168.1.7 老王");
        a.key(press(KeyCode::Enter));
        a.receive(vec![msg(7, "hi")], Drops::default());
        let e = a.entries().back().unwrap().clone();
        assert_eq!(a.sender_label(&e.who), "老王 (192.168.1.7:3456)");
        type_str(&mut a, "/alias 192.168.1.7");
        a.key(press(KeyCode::Enter));
        assert_eq!(a.sender_label(&e.who), "192.168.1.7:3456");

        type_str(&mut a, "/help");
        a.key(press(KeyCode::Enter));
        assert_eq!(a.entries().len(), 1 + HELP.len());
        assert_eq!(a.entries().back().unwrap().who, Who::Notice);
        type_str(&mut a, "/clear");
        a.key(press(KeyCode::Enter));
        assert!(a.entries().is_empty());

        type_str(&mut a, "//etc/hosts");
        assert_eq!(
            sent_texts(&a.key(press(KeyCode::Enter))),
            vec!["/etc/hosts"]
        );

        type_str(&mut a, "/nope\x1b");
        assert!(a.key(press(KeyCode::Enter)).is_empty());
        assert_eq!(
            a.editor().text(),
            "/nope\u{FFFD}",
            "an unknown command stays"
        );
        assert!(a.status().unwrap().1.contains("unknown command /nope"));
    }

    #[test]
    fn scrolling_holds_the_view_and_counts_new_messages() {
        let mut a = app(); // 60 × 10
        for i in 0..30 {
            a.receive(vec![msg(1, &format!("m{i}"))], Drops::default());
        }
        assert!(a.following());
        assert_eq!(a.bottom(), Some((29, 0)));
        a.key(press(KeyCode::PageUp));
        assert!(!a.following());
        assert_eq!(
            a.bottom(),
            Some((20, 0)),
            "a page is the pane's rows less one"
        );
        a.receive(
            vec![msg(2, "new one"), msg(2, "and another")],
            Drops::default(),
        );
        assert_eq!(
            a.bottom(),
            Some((20, 0)),
            "new messages do not move the view"
        );
        assert_eq!(a.unseen(), 2);
        a.mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 0,
            row: 0,
            modifiers: KeyModifiers::NONE,
        });
        assert_eq!(a.bottom(), Some((23, 0)));
        // The top stops at the oldest message.
        for _ in 0..10 {
            a.key(press(KeyCode::PageUp));
        }
        assert_eq!(
            a.bottom(),
            Some((9, 0)),
            "the oldest row at the top of a full pane"
        );
        a.key(press(KeyCode::End));
        assert!(a.following());
        assert_eq!(a.unseen(), 0);
        // Sending returns to the newest too.
        a.key(press(KeyCode::PageUp));
        type_str(&mut a, "x");
        a.key(press(KeyCode::Enter));
        a.sent(
            "t".into(),
            &[Outgoing {
                text: "x".into(),
                bytes: vec![],
            }],
            None,
        );
        assert!(a.following());
    }

    #[test]
    fn scrolling_counts_wrapped_rows() {
        let mut a = app();
        a.resize(30, 4);
        a.receive(vec![msg(1, "short")], Drops::default());
        // 30 columns, a 26-column prefix: a long text takes several rows.
        a.receive(vec![msg(1, &"x".repeat(40))], Drops::default());
        // The first row holds 4 columns of text, the next ones 21 (under
        // the time's indent): 4 + 21 + 15.
        let rows = a.entry_rows(&a.entries()[1].clone(), 30).len();
        assert_eq!(rows, 3);
        assert_eq!(a.bottom(), Some((1, 2)));
        // 5 rows in all ("short" takes 2), 4 shown: one row to go up.
        a.key(press(KeyCode::PageUp));
        assert_eq!(a.bottom(), Some((1, 1)));
    }

    #[test]
    fn scrollback_is_bounded_and_counts_what_left() {
        let mut a = App::new(app().info.clone(), app().wire, 5);
        for i in 0..12 {
            a.receive(vec![msg(1, &format!("m{i}"))], Drops::default());
        }
        assert_eq!(a.entries().len(), 5);
        assert_eq!(a.entries().front().unwrap().text, "m7");
        assert_eq!(a.counts(), (12, 1, 7));
        // A huge message is cut for the window.
        a.receive(vec![msg(1, &"z".repeat(100_000))], Drops::default());
        let e = a.entries().back().unwrap();
        assert!(e.text.len() < ENTRY_TEXT_MAX + 32);
        assert!(e
            .text
            .ends_with(&format!("… (+{} bytes)", 100_000 - ENTRY_TEXT_MAX)));
    }

    #[test]
    fn a_held_view_survives_its_entry_leaving_the_scrollback() {
        let mut a = App::new(app().info.clone(), app().wire, 20);
        a.resize(60, 5);
        for i in 0..20 {
            a.receive(vec![msg(1, &format!("m{i}"))], Drops::default());
        }
        for _ in 0..5 {
            a.key(press(KeyCode::PageUp));
        }
        assert_eq!(a.bottom(), Some((4, 0)));
        for i in 0..30 {
            a.receive(vec![msg(1, &format!("n{i}"))], Drops::default());
        }
        assert_eq!(a.bottom(), Some((0, 0)), "held at the oldest still kept");
        assert_eq!(a.unseen(), 30);
    }

    #[test]
    fn counts_senders_and_drops() {
        let mut a = app();
        a.receive(
            vec![msg(1, "a"), msg(2, "b"), msg(1, "c")],
            Drops {
                allow: 3,
                rate: 4,
                malformed: 1,
            },
        );
        assert_eq!(a.counts(), (3, 2, 0));
        assert_eq!(a.drops().rate, 4);
    }

    #[test]
    fn a_warning_outlives_the_next_line_and_esc_clears_it() {
        let mut a = app();
        a.warn(
            Level::Warning,
            "nobody is listening at 127.0.0.1:9 (port unreachable); still sending",
        );
        type_str(&mut a, "x");
        a.key(press(KeyCode::Enter));
        a.sent(
            "t".into(),
            &[Outgoing {
                text: "x".into(),
                bytes: vec![],
            }],
            None,
        );
        assert_eq!(a.status().unwrap().0, Level::Warning);
        a.key(press(KeyCode::Esc));
        assert!(a.status().is_none());
    }

    #[test]
    fn send_failure_puts_the_text_back() {
        let mut a = app();
        type_str(&mut a, "hello");
        let Action::Send(lines) = a.key(press(KeyCode::Enter)).remove(0) else {
            panic!()
        };
        a.send_failed(&lines, "network unreachable");
        assert_eq!(a.editor().text(), "hello");
        assert_eq!(a.status().unwrap().1, "not sent: network unreachable");
    }

    fn room_app() -> App {
        let mut a = app();
        a.info.mode = Mode::Room;
        a.set_users(
            ["bob@10.0.0.2:5", "barbara@10.0.0.3:5", "10.0.0.4:5"]
                .iter()
                .map(|w| {
                    let (name, addr) = crate::room::wire::split(*w);
                    User {
                        nick: name.unwrap_or("").into(),
                        group: String::new(),
                        addr: addr.parse().unwrap(),
                        absent: false,
                    }
                })
                .collect(),
        );
        a
    }

    #[test]
    fn room_commands_go_to_the_server_and_a_private_line_shows_as_sent() {
        let mut a = room_app();
        for cmd in ["/nick 小李", "/who", "/msg bob 你好"] {
            type_str(&mut a, cmd);
            let actions = a.key(press(KeyCode::Enter));
            let [Action::Command(line)] = actions.as_slice() else {
                panic!("{cmd}: {actions:?}")
            };
            assert_eq!(line.text, cmd);
            assert_eq!(line.bytes, Encoding::gb2312().encode(cmd).unwrap());
            a.command_sent("12:00:00".into(), line);
        }
        assert!(a.editor().is_empty());
        let shown: Vec<&str> = a.entries().iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            shown,
            vec!["→ bob: 你好"],
            "only the private line is an entry"
        );
        // In UDP mode they are unknown commands.
        let mut u = app();
        type_str(&mut u, "/nick x");
        assert!(u.key(press(KeyCode::Enter)).is_empty());
        assert!(u.status().unwrap().1.contains("unknown command /nick"));
        // /to keeps its meaning: the room transport refuses it.
        type_str(&mut a, "/to bob");
        assert_eq!(
            a.key(press(KeyCode::Enter)),
            vec![Action::SetTarget("bob".into())]
        );
    }

    #[test]
    fn tab_completes_member_names_after_msg() {
        let mut a = room_app();
        type_str(&mut a, "/msg b");
        a.key(press(KeyCode::Tab));
        assert_eq!(a.editor().text(), "/msg barbara ");
        a.key(press(KeyCode::Tab));
        assert_eq!(a.editor().text(), "/msg bob ", "the next one that fits");
        a.key(press(KeyCode::Tab));
        assert_eq!(a.editor().text(), "/msg barbara ", "round again");
        type_str(&mut a, "hi");
        assert_eq!(a.editor().text(), "/msg barbara hi");
        a.key(press(KeyCode::Tab));
        assert_eq!(
            a.editor().text(),
            "/msg barbara hi",
            "only the name is completed"
        );
        // A member without a name is completed by its address.
        let mut a = room_app();
        type_str(&mut a, "/msg 10.");
        a.key(press(KeyCode::Tab));
        assert_eq!(a.editor().text(), "/msg 10.0.0.4:5 ");
        // Elsewhere Tab does nothing in room mode.
        let mut a = room_app();
        type_str(&mut a, "hello b");
        a.key(press(KeyCode::Tab));
        assert_eq!(a.editor().text(), "hello b");
    }

    fn enter(a: &mut App) -> Vec<Action> {
        a.key(press(KeyCode::Enter))
    }

    #[test]
    fn file_commands_become_actions_in_ipmsg_mode_and_say_their_usage() {
        let mut a = app();
        a.info.mode = Mode::Ipmsg;
        type_str(&mut a, "/send 'my file.txt' \"图 片\" plain ~/x");
        let Some(Action::Files(FileCommand::Send(paths))) = enter(&mut a).pop() else {
            panic!("no /send action")
        };
        assert_eq!(paths[0], std::path::PathBuf::from("my file.txt"));
        assert_eq!(paths[1], std::path::PathBuf::from("图 片"));
        assert_eq!(paths[2], std::path::PathBuf::from("plain"));
        assert!(paths[3].ends_with("x") && paths[3] != std::path::Path::new("~/x"));
        assert!(a.editor().text().is_empty());
        for (typed, want) in [
            ("/get 3", FileCommand::Get(3)),
            ("/get [4]", FileCommand::Get(4)),
            ("/drop 5", FileCommand::Drop(5)),
            ("/cancel 6", FileCommand::Cancel(6)),
        ] {
            type_str(&mut a, typed);
            assert_eq!(enter(&mut a), vec![Action::Files(want)], "{typed}");
        }
        for typed in ["/get", "/get x", "/drop -1", "/send"] {
            type_str(&mut a, typed);
            assert!(enter(&mut a).is_empty(), "{typed}");
            let (level, text) = a.status().unwrap();
            assert!(
                *level == Level::Error && text.starts_with("usage: /"),
                "{typed}: {text}"
            );
            assert_eq!(a.editor().text(), typed, "a usage error keeps the line");
            a.editor.take();
        }
        // Not IP Messenger: /send is no file command.
        let mut u = app();
        type_str(&mut u, "/send x");
        assert!(enter(&mut u).is_empty());
        assert!(u.status().unwrap().1.contains("start lanchat with --ipmsg"));
    }

    #[test]
    fn an_offer_is_one_entry_its_progress_follows_it_and_files_lists_the_waiting() {
        let mut a = app();
        a.info.mode = Mode::Ipmsg;
        let bob = Who::Nick {
            nick: "bob".into(),
            addr: "10.0.0.2:2425".parse().unwrap(),
        };
        a.offer(
            "12:00:00".into(),
            Offer {
                n: 1,
                who: bob.clone(),
                text: "报告.docx 2.3 MB, 图片/ 12 MB".into(),
                incoming: true,
            },
        );
        a.offer(
            "12:00:01".into(),
            Offer {
                n: 2,
                who: Who::Me,
                text: "a.txt 3 B → bob".into(),
                incoming: false,
            },
        );
        let n = a.entries().len();
        assert_eq!(
            a.entries()[n - 2].text,
            "📎 [1] 报告.docx 2.3 MB, 图片/ 12 MB"
        );
        a.progress(1, "↓ 45% 6.4 MB of 14 MB, 3.1 MB/s", false);
        a.progress(2, "bob ✓", false);
        assert_eq!(a.entries().len(), n, "progress makes no entry");
        assert!(a.entries()[n - 2]
            .text
            .ends_with("  ↓ 45% 6.4 MB of 14 MB, 3.1 MB/s"));
        assert_eq!(a.entries()[n - 1].text, "📎 [2] a.txt 3 B → bob  bob ✓");
        // A hostile progress text stays on its line.
        a.progress(1, "✗ x\x1b[2J\n: short", true);
        assert!(
            !a.entries()[n - 2].text.contains('\x1b') && !a.entries()[n - 2].text.contains('\n')
        );
        // /files: the incoming offers still fetchable (not own ones).
        type_str(&mut a, "/files");
        assert!(enter(&mut a).is_empty());
        assert_eq!(a.entries().len(), n + 1);
        assert_eq!(a.entries()[n].text, "📎 [1] 报告.docx 2.3 MB, 图片/ 12 MB");
        a.progress(1, "✓ saved /tmp/x", false);
        type_str(&mut a, "/files");
        enter(&mut a);
        assert_eq!(a.entries().len(), n + 1);
        assert_eq!(a.status().unwrap().1, "no offers waiting");
        // The status line counts transfers.
        assert_eq!(a.transfers_note(), None);
        a.set_transfers(3);
        assert_eq!(a.transfers_note().as_deref(), Some("⇅ 3 transfers"));
    }
}
