//! The line being typed: text, a cursor, history.
//!
//! The cursor is a byte index that always sits on a grapheme boundary, so
//! ←, →, Backspace and Delete move over whole user-perceived characters
//! (an emoji with its modifiers, a letter with its accents, a CJK
//! character) and never split one. Where the cursor shows on screen is a
//! display width (CJK and most emoji take two columns), computed with
//! `unicode-width`; [`Editor::view`] cuts the window of the line that fits
//! the box and says which column the cursor is in, so the real terminal
//! cursor (where input methods draw) sits exactly at the edit point.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Lines kept for ↑/↓.
const HISTORY: usize = 500;

/// An edit line with history.
#[derive(Debug, Default, Clone)]
pub struct Editor {
    text: String,
    /// Byte index into `text`, on a grapheme boundary.
    cursor: usize,
    history: Vec<String>,
    /// While browsing history: the entry shown, and the line being typed
    /// before browsing started.
    browsing: Option<(usize, String)>,
}

/// What of the line fits in a box, and where the cursor is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The visible part, as shown (a newline as `↵`, a tab as a space).
    pub text: String,
    /// The cursor's column within `text`.
    pub cursor_col: u16,
}

impl Editor {
    /// An empty line.
    pub fn new() -> Self {
        Self::default()
    }

    /// The text typed so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor's byte index in [`Editor::text`].
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Inserts text at the cursor. Line breaks become `\n` whatever their
    /// form (terminals paste them as `\r`, files have `\r\n`); other control
    /// characters but tab become U+FFFD, so nothing typed or pasted can move
    /// the terminal's cursor.
    pub fn insert(&mut self, s: &str) {
        self.browsing = None;
        let clean: String = s
            .replace("\r\n", "\n")
            .chars()
            .map(|c| if c == '\r' { '\n' } else { c })
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    '\u{FFFD}'
                } else {
                    c
                }
            })
            .collect();
        self.text.insert_str(self.cursor, &clean);
        self.cursor += clean.len();
        // An inserted combining mark joins the grapheme before it: keep the
        // cursor on a boundary.
        self.cursor = self.boundary_at_or_after(self.cursor);
    }

    /// Moves one grapheme left.
    pub fn left(&mut self) {
        self.cursor = self.prev_boundary(self.cursor);
    }

    /// Moves one grapheme right.
    pub fn right(&mut self) {
        self.cursor = self.next_boundary(self.cursor);
    }

    /// Moves to the start.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves to the end.
    pub fn end(&mut self) {
        self.cursor = self.text.len();
    }

    /// Deletes the grapheme before the cursor.
    pub fn backspace(&mut self) {
        self.browsing = None;
        let start = self.prev_boundary(self.cursor);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Deletes the grapheme at the cursor.
    pub fn delete(&mut self) {
        self.browsing = None;
        let end = self.next_boundary(self.cursor);
        self.text.replace_range(self.cursor..end, "");
    }

    /// Deletes the word before the cursor (and the spaces after it), as
    /// Ctrl-W does in a shell.
    pub fn delete_word(&mut self) {
        self.browsing = None;
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end_matches(|c: char| c.is_whitespace());
        let start = trimmed
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map(|(i, c)| i + c.len_utf8())
            .unwrap_or(0);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Deletes everything before the cursor, as Ctrl-U does.
    pub fn delete_to_start(&mut self) {
        self.browsing = None;
        self.text.replace_range(..self.cursor, "");
        self.cursor = 0;
    }

    /// Puts the cursor on the grapheme that contains byte `at` (used to
    /// point at the character that could not be sent).
    pub fn set_cursor(&mut self, at: usize) {
        let at = at.min(self.text.len());
        self.cursor = if self.text.is_char_boundary(at) {
            self.boundary_at_or_before(at)
        } else {
            self.boundary_at_or_before(self.char_start(at))
        };
    }

    /// Takes the line (for sending): clears the box, adds the line to the
    /// history.
    pub fn take(&mut self) -> String {
        self.browsing = None;
        self.cursor = 0;
        let line = std::mem::take(&mut self.text);
        if !line.is_empty() && self.history.last() != Some(&line) {
            if self.history.len() == HISTORY {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        line
    }

    /// Recalls the previous history entry (↑).
    pub fn history_up(&mut self) {
        let index = match &self.browsing {
            Some((0, _)) => return,
            Some((i, _)) => i - 1,
            None if self.history.is_empty() => return,
            None => {
                let typed = self.text.clone();
                self.browsing = Some((self.history.len(), typed));
                self.history.len() - 1
            }
        };
        if let Some((i, _)) = &mut self.browsing {
            *i = index;
        }
        self.text = self.history[index].clone();
        self.cursor = self.text.len();
    }

    /// Goes forward in the history (↓), back to the line being typed.
    pub fn history_down(&mut self) {
        let Some((i, typed)) = self.browsing.take() else {
            return;
        };
        if i + 1 < self.history.len() {
            self.text = self.history[i + 1].clone();
            self.browsing = Some((i + 1, typed));
        } else {
            self.text = typed;
        }
        self.cursor = self.text.len();
    }

    /// The part of the line that fits in `width` columns with the cursor
    /// in view, the cursor's column in it (a cursor at the end needs one
    /// column of its own).
    pub fn view(&self, width: u16) -> View {
        let width = usize::from(width);
        if width == 0 {
            return View {
                text: String::new(),
                cursor_col: 0,
            };
        }
        let graphemes: Vec<(usize, &str)> = self.text.grapheme_indices(true).collect();
        let cells = |g: &str| shown(g).1;
        // Columns before the cursor.
        let at = graphemes
            .iter()
            .position(|(i, _)| *i >= self.cursor)
            .unwrap_or(graphemes.len());
        // Start as far left as possible while the cursor (plus one cell for
        // it) still fits.
        let mut start = 0;
        let mut used: usize = graphemes[..at].iter().map(|(_, g)| cells(g)).sum();
        while used + 1 > width && start < at {
            used -= cells(graphemes[start].1);
            start += 1;
        }
        let mut text = String::new();
        let mut col = 0;
        let mut cursor_col = 0;
        for (k, (_, g)) in graphemes.iter().enumerate().skip(start) {
            if k == at {
                cursor_col = col;
            }
            let (s, w) = shown(g);
            if col + w > width {
                break;
            }
            text.push_str(&s);
            col += w;
        }
        if at == graphemes.len() {
            cursor_col = col.min(width - 1);
        }
        View {
            text,
            cursor_col: cursor_col as u16,
        }
    }

    fn prev_boundary(&self, at: usize) -> usize {
        self.text[..at]
            .grapheme_indices(true)
            .next_back()
            .map(|(i, _)| i)
            .unwrap_or(0)
    }

    fn next_boundary(&self, at: usize) -> usize {
        self.text[at..]
            .graphemes(true)
            .next()
            .map(|g| at + g.len())
            .unwrap_or(self.text.len())
    }

    fn boundary_at_or_before(&self, at: usize) -> usize {
        self.text
            .grapheme_indices(true)
            .map(|(i, _)| i)
            .take_while(|&i| i <= at)
            .last()
            .unwrap_or(0)
    }

    fn boundary_at_or_after(&self, at: usize) -> usize {
        self.text
            .grapheme_indices(true)
            .map(|(i, _)| i)
            .find(|&i| i >= at)
            .unwrap_or(self.text.len())
    }

    fn char_start(&self, mut at: usize) -> usize {
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }
}

/// How a grapheme of the edit line is shown, and its width in columns (at
/// least one, so every grapheme can be stepped over visibly).
fn shown(g: &str) -> (std::borrow::Cow<'_, str>, usize) {
    match g {
        "\n" => ("↵".into(), 1),
        "\t" => (" ".into(), 1),
        _ => (g.into(), g.width().max(1)),
    }
}

/// Display width of `s` in columns.
pub fn width(s: &str) -> usize {
    s.width()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> Editor {
        let mut e = Editor::new();
        e.insert(s);
        e
    }

    #[test]
    fn chinese_left_insert_right() {
        // Type 你好, ←, X, →: 你X好 with the cursor at the end.
        let mut e = typed("你好");
        e.left();
        e.insert("X");
        assert_eq!(e.text(), "你X好");
        assert_eq!(e.cursor(), "你X".len());
        e.right();
        assert_eq!(e.cursor(), e.text().len());
        let v = e.view(20);
        assert_eq!(v.text, "你X好");
        assert_eq!(v.cursor_col, 5, "2 + 1 + 2 columns before the cursor");
    }

    #[test]
    fn backspace_removes_a_whole_emoji_with_its_modifiers() {
        let mut e = typed("a👍🏽b👨‍👩‍👧");
        e.backspace();
        assert_eq!(e.text(), "a👍🏽b");
        e.left();
        e.backspace();
        assert_eq!(e.text(), "ab");
        e.end();
        e.insert("e\u{301}"); // e + combining acute: one grapheme
        e.backspace();
        assert_eq!(e.text(), "ab");
    }

    #[test]
    fn delete_at_cursor_and_word_and_to_start() {
        let mut e = typed("hello big world");
        e.home();
        e.delete();
        assert_eq!(e.text(), "ello big world");
        e.end();
        e.delete_word();
        assert_eq!(e.text(), "ello big ");
        e.delete_word();
        assert_eq!(e.text(), "ello ");
        e.insert("你好 世界");
        e.left();
        e.left();
        e.delete_to_start();
        assert_eq!(e.text(), "世界");
        assert_eq!(e.cursor(), 0);
    }

    #[test]
    fn history_recalls_and_returns_to_the_line_being_typed() {
        let mut e = Editor::new();
        for l in ["one", "two"] {
            e.insert(l);
            e.take();
        }
        e.insert("draft");
        e.history_up();
        assert_eq!(e.text(), "two");
        e.history_up();
        assert_eq!(e.text(), "one");
        e.history_up();
        assert_eq!(e.text(), "one", "stays at the oldest");
        e.history_down();
        assert_eq!(e.text(), "two");
        e.history_down();
        assert_eq!(e.text(), "draft");
    }

    #[test]
    fn paste_keeps_line_breaks_and_neutralises_controls() {
        let e = typed("a\r\nb\x1b[31m\tc\rd");
        assert_eq!(e.text(), "a\nb\u{FFFD}[31m\tc\nd");
        assert_eq!(e.view(40).text, "a↵b\u{FFFD}[31m c↵d");
    }

    #[test]
    fn view_scrolls_to_keep_the_cursor_in_a_narrow_box() {
        let mut e = typed("一二三四五六七八九十");
        let v = e.view(7);
        // 20 columns of text, 7 wide: the end and the cursor cell show.
        assert_eq!(v.text, "八九十");
        assert_eq!(v.cursor_col, 6);
        e.home();
        let v = e.view(7);
        assert_eq!(v.text, "一二三");
        assert_eq!(v.cursor_col, 0);
        assert_eq!(e.view(0).text, "");
        assert_eq!(e.view(1).cursor_col, 0);
    }

    #[test]
    fn set_cursor_lands_on_the_grapheme_holding_a_byte() {
        let mut e = typed("ok 😀 no");
        e.set_cursor("ok ".len() + 2); // inside the emoji's bytes
        assert_eq!(e.cursor(), "ok ".len());
    }
}
