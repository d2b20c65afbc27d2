//! Turning untrusted text into one terminal-safe line.
//!
//! Text from the network must never be able to produce a second output line
//! (forging a sender line), move the cursor, recolour the terminal or reorder
//! what is shown. [`push_line`] appends text with every such character shown
//! as a visible escape:
//!
//! | character | shown as |
//! |---|---|
//! | `\n`, `\r` | `\n`, `\r` |
//! | other C0 controls but tab, and DEL | `\x1b`, `\x00`, `\x7f`, … |
//! | C1 controls U+0080–U+009F | `\u{85}`, … |
//! | bidi controls U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C | `\u{202e}`, … |
//! | line and paragraph separators U+2028, U+2029 | `\u{2028}`, `\u{2029}` |
//!
//! Tab is kept. A backslash is kept as it is: it cannot move or colour
//! anything, and escaping it would garble Windows paths.

/// Removes one trailing `\n` or `\r\n`.
pub fn strip_line_ending(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

/// Whether `ch` must be escaped before it reaches a terminal.
pub fn needs_escape(ch: char) -> bool {
    matches!(ch,
        '\0'..='\x08' | '\x0a'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}')
}

/// Appends `text` to `out` with every dangerous character escaped.
pub fn push_line(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(pos) = rest.find(needs_escape) {
        out.push_str(&rest[..pos]);
        let ch = rest[pos..]
            .chars()
            .next()
            .expect("find returned a char boundary");
        push_escape(out, ch);
        rest = &rest[pos + ch.len_utf8()..];
    }
    out.push_str(rest);
}

/// Returns `text` as one terminal-safe line.
pub fn line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_line(&mut out, text);
    out
}

fn push_escape(out: &mut String, ch: char) {
    use std::fmt::Write;
    match ch {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\0'..='\x1f' | '\x7f' => {
            let _ = write!(out, "\\x{:02x}", ch as u32);
        }
        _ => {
            let _ = write!(out, "\\u{{{:x}}}", ch as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_and_tab_unchanged() {
        assert_eq!(line("你好\tworld"), "你好\tworld");
    }

    #[test]
    fn newlines_cannot_forge_a_sender_line() {
        assert_eq!(line("hi\n10.0.0.1:1\nfake"), "hi\\n10.0.0.1:1\\nfake");
        assert_eq!(line("a\rb"), "a\\rb");
    }

    #[test]
    fn escape_sequences_are_visible() {
        assert_eq!(line("\x1b[31mred"), "\\x1b[31mred");
        assert_eq!(line("\0\x07\x7f"), "\\x00\\x07\\x7f");
    }

    #[test]
    fn c1_and_bidi_are_visible() {
        assert_eq!(line("\u{85}\u{9b}"), "\\u{85}\\u{9b}");
        assert_eq!(line("abc\u{202e}def"), "abc\\u{202e}def");
        assert_eq!(line("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(line("\u{2028}"), "\\u{2028}");
    }

    #[test]
    fn one_trailing_line_ending_is_stripped() {
        assert_eq!(strip_line_ending("a\r\n"), "a");
        assert_eq!(strip_line_ending("a\n"), "a");
        assert_eq!(strip_line_ending("a\n\n"), "a\n");
        assert_eq!(strip_line_ending("a\r"), "a\r");
        assert_eq!(strip_line_ending(""), "");
    }
}
