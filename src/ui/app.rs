//! `App`: the terminal window around a [`Session`]: the input line being
//! edited, where the message pane is scrolled to, and what each key and
//! mouse event does. Pure state: no terminal, no socket, no clock, so
//! every behaviour is unit-tested by calling its methods.
//!
//! ```text
//! key ──▶ App::key ──▶ editor │ scrolling │ Enter ──▶ Session::submit ──▶ [Action]
//!                                                   (refused: the line stays, the cursor on the culprit)
//! the runner performs the actions (Session::perform) and applies what the transport heard
//! draw(&App) reads the session, the editor and the scroll position
//! ```

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};

pub use crate::session::{
    split_paths, Action, Drops, Entry, FileCommand, Incoming, Info, Level, Mark, Mode, Offer,
    Outgoing, Session, User, Who, Wire, DEFAULT_SCROLLBACK, ENTRY_TEXT_MAX, SCROLLBACK_BYTES,
};
use crate::ui::editor::Editor;
use crate::ui::wrap;

/// Rows the mouse wheel scrolls.
const WHEEL_ROWS: usize = 3;

/// Where the view is: following the newest, or held at a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scroll {
    Follow,
    /// The bottom row shown is row `row` of entry `seq`; `made` is how
    /// many entries there were when the view was held (so the ones since
    /// are counted as unseen).
    At {
        seq: u64,
        row: usize,
        made: u64,
    },
}

/// The terminal window's state.
#[derive(Debug)]
pub struct App {
    session: Session,
    editor: Editor,
    scroll: Scroll,
    /// Size of the message pane's inside, set by the runner (columns, rows).
    pane: (u16, u16),
    /// Tab completion of a member's name after `/msg ` (room mode): what
    /// was typed, and the name last offered.
    completion: Option<(String, usize)>,
}

impl App {
    /// A window with these facts and wire rules, keeping `scrollback`
    /// messages.
    pub fn new(info: Info, wire: Wire, scrollback: usize) -> Self {
        Self::with_session(Session::new(info, wire, scrollback))
    }

    /// The terminal window around a session.
    pub fn with_session(session: Session) -> Self {
        App {
            session,
            editor: Editor::new(),
            scroll: Scroll::Follow,
            pane: (80, 20),
            completion: None,
        }
    }

    // ---- reading the state (for draw and tests) ---------------------------

    /// The session: messages, users, status, counts.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session, to change (the runner applies events and actions to it;
    /// call [`App::changed`] after).
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The edit line.
    pub fn editor(&self) -> &Editor {
        &self.editor
    }

    /// Messages that arrived while scrolled up (0 when following).
    pub fn unseen(&self) -> usize {
        match self.scroll {
            Scroll::Follow => 0,
            Scroll::At { made, .. } => {
                usize::try_from(self.session.scrollback().made() - made).unwrap_or(usize::MAX)
            }
        }
    }

    /// Whether the view follows the newest message.
    pub fn following(&self) -> bool {
        self.scroll == Scroll::Follow
    }

    /// The rows entry `e` takes in a pane `width` columns wide.
    pub fn entry_rows(&self, e: &Entry, width: usize) -> Vec<(usize, std::ops::Range<usize>)> {
        let label = self.session.sender_label(&e.who);
        let prefix = wrap::TIME_WIDTH + crate::ui::editor::width(&label) + 1;
        wrap::rows(prefix, &self.session.display_text(e), width)
    }

    /// The bottom row shown: the entry's index in the session's entries
    /// and the row within it (`None` when there are no entries).
    pub fn bottom(&self) -> Option<(usize, usize)> {
        let entries = self.session.entries();
        let last = entries.len().checked_sub(1)?;
        match self.scroll {
            Scroll::Follow => {
                let rows = self
                    .entry_rows(&entries[last], usize::from(self.pane.0))
                    .len();
                Some((last, rows - 1))
            }
            Scroll::At { seq, row, .. } => {
                let i = self.session.scrollback().index_of(seq).unwrap_or(0);
                Some((i, row))
            }
        }
    }

    // ---- changes from the runner ------------------------------------------

    /// The inside of the message pane is now `cols` × `rows`.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.pane = (cols.max(1), rows.max(1));
        self.clamp_scroll();
    }

    /// The session changed (messages came or went): a held view stays on an
    /// entry that still exists.
    pub fn changed(&mut self) {
        self.clamp_scroll();
    }

    /// Sending failed: `text` goes back in the box when the user has not
    /// typed anything since.
    pub fn put_back(&mut self, text: &str) {
        if self.editor.is_empty() {
            self.editor.insert(text);
        }
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
            KeyCode::Char('c') if ctrl => return self.leave(),
            KeyCode::Char('d') if ctrl => {
                if self.editor.is_empty() {
                    return self.leave();
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
            KeyCode::Tab if self.session.info().mode == Mode::Room => self.complete_member(),
            KeyCode::Tab => self.session.cycle_user(),
            KeyCode::Esc => self.session.clear_status(),
            _ => {}
        }
        Vec::new()
    }

    fn leave(&mut self) -> Vec<Action> {
        self.session.leave(0);
        vec![Action::Quit(0)]
    }

    fn page(&self) -> usize {
        usize::from(self.pane.1).saturating_sub(1).max(1)
    }

    /// Enter: the session takes the line (and the box is emptied, the view
    /// back at the newest), or refuses it (it stays, the cursor on the
    /// culprit).
    fn submit(&mut self) -> Vec<Action> {
        let text = self.editor.text().to_string();
        match self.session.submit(&text) {
            Ok(actions) => {
                self.editor.take();
                self.follow();
                actions
            }
            Err(refused) => {
                if let Some(at) = refused.at {
                    self.editor.set_cursor(at);
                }
                self.clamp_scroll();
                Vec::new()
            }
        }
    }

    /// Tab after `/msg ` (room mode): the members whose name (or address)
    /// starts with what is typed, one after another.
    fn complete_member(&mut self) {
        let text = self.editor.text().to_string();
        let Some(rest) = text.strip_prefix("/msg ") else {
            return;
        };
        if self.session.users().is_none() {
            return;
        }
        let names = self.session.member_names();
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

    /// Back to the newest message.
    pub fn follow(&mut self) {
        self.scroll = Scroll::Follow;
    }

    /// Rows of the entry at `index`.
    fn rows_of(&self, index: usize) -> usize {
        self.entry_rows(&self.session.entries()[index], usize::from(self.pane.0))
            .len()
    }

    /// Holds the view with row `row` of the entry at `index` at the bottom.
    fn hold(&mut self, index: usize, row: usize) {
        let made = match self.scroll {
            Scroll::At { made, .. } => made,
            Scroll::Follow => self.session.scrollback().made(),
        };
        self.scroll = Scroll::At {
            seq: self.session.entries()[index].seq,
            row,
            made,
        };
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
        self.hold(i, row);
    }

    /// Moves the view `n` rows towards newer messages; reaching the newest
    /// follows again.
    fn scroll_down(&mut self, mut n: usize) {
        let Scroll::At { seq, row, .. } = self.scroll else {
            return;
        };
        let Some(mut i) = self.session.scrollback().index_of(seq) else {
            self.follow();
            return;
        };
        let mut row = row;
        let last = self.session.entries().len() - 1;
        while n > 0 {
            let rows = self.rows_of(i);
            if row + n < rows {
                row += n;
                n = 0;
            } else if i < last {
                n -= rows - row;
                i += 1;
                row = 0;
            } else {
                self.follow();
                return;
            }
        }
        if i == last && row + 1 >= self.rows_of(i) {
            self.follow();
        } else {
            self.hold(i, row);
        }
    }

    /// Keeps a held view on an entry that still exists and a row it has.
    fn clamp_scroll(&mut self) {
        if let Scroll::At { seq, row, made } = self.scroll {
            let first = match self.session.entries().front() {
                Some(e) => e.seq,
                None => return self.follow(),
            };
            let (seq, row) = if seq < first { (first, 0) } else { (seq, row) };
            match self.session.scrollback().index_of(seq) {
                Some(i) => {
                    let row = row.min(self.rows_of(i) - 1);
                    self.scroll = Scroll::At { seq, row, made };
                }
                None => self.follow(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Encoding;
    use crossterm::event::KeyEventState;

    /// Messages arrive (as the runner applies them).
    fn recv(a: &mut App, batch: Vec<Incoming>) {
        a.session_mut().receive(batch, Drops::default());
        a.changed();
    }

    fn app() -> App {
        app_in(Mode::Udp, 65_507)
    }

    fn app_in(mode: Mode, max_bytes: usize) -> App {
        let mut a = App::new(
            Info {
                mode,
                title: "UDP聊天室".into(),
                listen: "0.0.0.0:3456".into(),
                target: "127.0.0.1:3456".into(),
                encoding: "gb2312".into(),
            },
            Wire {
                encoding: Encoding::gb2312(),
                max_bytes,
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
        let seqs = a.session_mut().sent(
            "12:00:01".into(),
            &[Outgoing {
                text: "你好".into(),
                bytes: vec![],
            }],
            None,
        );
        let e = a.session().entries().back().unwrap();
        assert_eq!(
            (e.seq, &e.who, e.text.as_str()),
            (seqs[0], &Who::Me, "你好")
        );
        assert_eq!(a.session().sender_label(&e.who), "me");
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
        let (level, text) = a.session().status().unwrap();
        assert_eq!(*level, Level::Error);
        assert_eq!(
            text,
            "'😀' (U+1F600) cannot be written in gb2312; try -e gb18030 or -e utf-8"
        );
        // Fixing it sends, and clears the error.
        a.key(press(KeyCode::Delete));
        let actions = a.key(press(KeyCode::Enter));
        assert_eq!(sent_texts(&actions), vec!["ok  no"]);
        a.session_mut().sent("t".into(), &[], None);
        assert!(a.session().status().is_none());
    }

    #[test]
    fn an_oversize_line_stays_with_its_size_and_the_cursor_past_the_limit() {
        let mut a = app_in(Mode::Udp, 10);
        a.paste("一二三四五六七");
        assert!(a.key(press(KeyCode::Enter)).is_empty());
        assert_eq!(a.editor().text(), "一二三四五六七");
        assert_eq!(
            a.editor().cursor(),
            "一二三四五".len(),
            "the 6th character passes 10 bytes"
        );
        assert!(a
            .session()
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
        assert_eq!(a.session().quit_code(), Some(0));
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
        a.session_mut().set_target("10.0.0.9:4000".into());
        assert_eq!(a.session().info().target, "10.0.0.9:4000");

        type_str(&mut a, "/alias 192.168.1.7 老王");
        a.key(press(KeyCode::Enter));
        recv(&mut a, vec![msg(7, "hi")]);
        let e = a.session().entries().back().unwrap().clone();
        assert_eq!(a.session().sender_label(&e.who), "老王 (192.168.1.7:3456)");
        type_str(&mut a, "/alias 192.168.1.7");
        a.key(press(KeyCode::Enter));
        assert_eq!(a.session().sender_label(&e.who), "192.168.1.7:3456");

        type_str(&mut a, "/help");
        a.key(press(KeyCode::Enter));
        assert_eq!(
            a.session().entries().len(),
            1 + crate::session::help().len()
        );
        assert_eq!(a.session().entries().back().unwrap().who, Who::Notice);
        type_str(&mut a, "/clear");
        a.key(press(KeyCode::Enter));
        assert!(a.session().entries().is_empty());

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
        assert!(a
            .session()
            .status()
            .unwrap()
            .1
            .contains("unknown command /nope"));
    }

    #[test]
    fn scrolling_holds_the_view_and_counts_new_messages() {
        let mut a = app(); // 60 × 10
        for i in 0..30 {
            recv(&mut a, vec![msg(1, &format!("m{i}"))]);
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
        a.session_mut().receive(
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
        a.session_mut().sent(
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
        recv(&mut a, vec![msg(1, "short")]);
        // 30 columns, a 26-column prefix: a long text takes several rows.
        recv(&mut a, vec![msg(1, &"x".repeat(40))]);
        // The first row holds 4 columns of text, the next ones 21 (under
        // the time's indent): 4 + 21 + 15.
        let rows = a.entry_rows(&a.session().entries()[1].clone(), 30).len();
        assert_eq!(rows, 3);
        assert_eq!(a.bottom(), Some((1, 2)));
        // 5 rows in all ("short" takes 2), 4 shown: one row to go up.
        a.key(press(KeyCode::PageUp));
        assert_eq!(a.bottom(), Some((1, 1)));
    }

    #[test]
    fn scrollback_is_bounded_and_counts_what_left() {
        let mut a = App::new(app().session().info().clone(), app().session().wire(), 5);
        for i in 0..12 {
            recv(&mut a, vec![msg(1, &format!("m{i}"))]);
        }
        assert_eq!(a.session().entries().len(), 5);
        assert_eq!(a.session().entries().front().unwrap().text, "m7");
        assert_eq!(a.session().counts(), (12, 1, 7));
        // A huge message is cut for the window.
        recv(&mut a, vec![msg(1, &"z".repeat(100_000))]);
        let e = a.session().entries().back().unwrap();
        assert!(e.text.len() < ENTRY_TEXT_MAX + 32);
        assert!(e
            .text
            .ends_with(&format!("… (+{} bytes)", 100_000 - ENTRY_TEXT_MAX)));
    }

    #[test]
    fn a_held_view_survives_its_entry_leaving_the_scrollback() {
        let mut a = App::new(app().session().info().clone(), app().session().wire(), 20);
        a.resize(60, 5);
        for i in 0..20 {
            recv(&mut a, vec![msg(1, &format!("m{i}"))]);
        }
        for _ in 0..5 {
            a.key(press(KeyCode::PageUp));
        }
        assert_eq!(a.bottom(), Some((4, 0)));
        for i in 0..30 {
            recv(&mut a, vec![msg(1, &format!("n{i}"))]);
        }
        assert_eq!(a.bottom(), Some((0, 0)), "held at the oldest still kept");
        assert_eq!(a.unseen(), 30);
    }

    #[test]
    fn counts_senders_and_drops() {
        let mut a = app();
        a.session_mut().receive(
            vec![msg(1, "a"), msg(2, "b"), msg(1, "c")],
            Drops {
                allow: 3,
                rate: 4,
                malformed: 1,
            },
        );
        assert_eq!(a.session().counts(), (3, 2, 0));
        assert_eq!(a.session().drops().rate, 4);
    }

    #[test]
    fn a_warning_outlives_the_next_line_and_esc_clears_it() {
        let mut a = app();
        a.session_mut().warn(
            Level::Warning,
            "nobody is listening at 127.0.0.1:9 (port unreachable); still sending",
        );
        type_str(&mut a, "x");
        a.key(press(KeyCode::Enter));
        a.session_mut().sent(
            "t".into(),
            &[Outgoing {
                text: "x".into(),
                bytes: vec![],
            }],
            None,
        );
        assert_eq!(a.session().status().unwrap().0, Level::Warning);
        a.key(press(KeyCode::Esc));
        assert!(a.session().status().is_none());
    }

    #[test]
    fn send_failure_puts_the_text_back() {
        let mut a = app();
        type_str(&mut a, "hello");
        let Action::Send(lines) = a.key(press(KeyCode::Enter)).remove(0) else {
            panic!()
        };
        let back = a.session_mut().send_failed(&lines, "network unreachable");
        a.put_back(&back);
        assert_eq!(a.editor().text(), "hello");
        assert_eq!(
            a.session().status().unwrap().1,
            "not sent: network unreachable"
        );
    }

    fn room_app() -> App {
        let mut a = app_in(Mode::Room, 65_507);
        a.session_mut().set_users(
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
            a.session_mut().command_sent("12:00:00".into(), line);
        }
        assert!(a.editor().is_empty());
        let shown: Vec<&str> = a
            .session()
            .entries()
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(
            shown,
            vec!["→ bob: 你好"],
            "only the private line is an entry"
        );
        // In UDP mode they are unknown commands.
        let mut u = app();
        type_str(&mut u, "/nick x");
        assert!(u.key(press(KeyCode::Enter)).is_empty());
        assert!(u
            .session()
            .status()
            .unwrap()
            .1
            .contains("unknown command /nick"));
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
        let mut a = app_in(Mode::Ipmsg, 65_507);
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
            let (level, text) = a.session().status().unwrap();
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
        assert!(u
            .session()
            .status()
            .unwrap()
            .1
            .contains("start lanchat with --ipmsg"));
    }

    #[test]
    fn an_offer_is_one_entry_its_progress_follows_it_and_files_lists_the_waiting() {
        let mut a = app_in(Mode::Ipmsg, 65_507);
        let bob = Who::Nick {
            nick: "bob".into(),
            addr: "10.0.0.2:2425".parse().unwrap(),
        };
        a.session_mut().offer(
            "12:00:00".into(),
            Offer {
                n: 1,
                who: bob.clone(),
                text: "报告.docx 2.3 MB, 图片/ 12 MB".into(),
                incoming: true,
            },
        );
        a.session_mut().offer(
            "12:00:01".into(),
            Offer {
                n: 2,
                who: Who::Me,
                text: "a.txt 3 B → bob".into(),
                incoming: false,
            },
        );
        let n = a.session().entries().len();
        assert_eq!(
            a.session().entries()[n - 2].text,
            "📎 [1] 报告.docx 2.3 MB, 图片/ 12 MB"
        );
        a.session_mut()
            .progress(1, "↓ 45% 6.4 MB of 14 MB, 3.1 MB/s", false);
        a.session_mut().progress(2, "bob ✓", false);
        assert_eq!(a.session().entries().len(), n, "progress makes no entry");
        assert!(a.session().entries()[n - 2]
            .text
            .ends_with("  ↓ 45% 6.4 MB of 14 MB, 3.1 MB/s"));
        assert_eq!(
            a.session().entries()[n - 1].text,
            "📎 [2] a.txt 3 B → bob  bob ✓"
        );
        // A hostile progress text stays on its line.
        a.session_mut().progress(1, "✗ x\x1b[2J\n: short", true);
        assert!(
            !a.session().entries()[n - 2].text.contains('\x1b')
                && !a.session().entries()[n - 2].text.contains('\n')
        );
        // /files: the incoming offers still fetchable (not own ones).
        type_str(&mut a, "/files");
        assert!(enter(&mut a).is_empty());
        assert_eq!(a.session().entries().len(), n + 1);
        assert_eq!(
            a.session().entries()[n].text,
            "📎 [1] 报告.docx 2.3 MB, 图片/ 12 MB ← bob (10.0.0.2)"
        );
        a.session_mut().progress(1, "✓ saved /tmp/x", false);
        type_str(&mut a, "/files");
        enter(&mut a);
        assert_eq!(a.session().entries().len(), n + 1);
        assert_eq!(a.session().status().unwrap().1, "no offers waiting");
        // The status line counts transfers.
        assert_eq!(a.session().transfers_note(), None);
        a.session_mut().set_transfers(3);
        assert_eq!(
            a.session().transfers_note().as_deref(),
            Some("⇅ 3 transfers")
        );
    }
}
