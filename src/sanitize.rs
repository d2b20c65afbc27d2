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

/// Whether `b` can be the first byte of a character [`needs_escape`] may be
/// true for: C0 controls (tab too; checked later), DEL, and the UTF-8 lead
/// bytes of the C1 range (0xC2), U+061C (0xD8) and U+200E…U+2069 (0xE2).
/// CJK lead bytes (0xE3…0xE9) and continuation bytes never are.
#[inline(always)]
fn suspect(b: u8) -> bool {
    (b < 0x20) | (b == 0x7f) | (b == 0xc2) | (b == 0xd8) | (b == 0xe2)
}

/// The position of the first byte at or after `from` for which `hit`
/// holds. Checks 16 bytes at a time without branches, which the compiler
/// turns into SIMD when `hit` is a few comparisons.
#[inline(always)]
pub(crate) fn find_byte(bytes: &[u8], from: usize, hit: impl Fn(u8) -> bool) -> Option<usize> {
    const CHUNK: usize = 16;
    let mut i = from;
    while i + CHUNK <= bytes.len() {
        let chunk: &[u8; CHUNK] = bytes[i..i + CHUNK].try_into().expect("CHUNK bytes");
        if chunk.iter().fold(false, |any, &b| any | hit(b)) {
            break;
        }
        i += CHUNK;
    }
    bytes[i..].iter().position(|&b| hit(b)).map(|p| i + p)
}

/// Appends `text` to `out` with every dangerous character escaped.
///
/// Every character that needs escaping starts with a suspect byte, and a
/// suspect byte is always ASCII or a lead byte, so the text between suspect
/// bytes is copied as it is and only the character at each suspect byte is
/// decoded and checked.
pub fn push_line(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0; // first byte not yet copied
    let mut i = 0;
    while let Some(pos) = find_byte(bytes, i, suspect) {
        let ch = first_char(&text[pos..]);
        if needs_escape(ch) {
            out.push_str(&text[start..pos]);
            push_escape(out, ch);
            start = pos + ch.len_utf8();
        }
        i = pos + ch.len_utf8();
    }
    out.push_str(&text[start..]);
}

fn first_char(text: &str) -> char {
    text.chars().next().expect("a lead byte starts a char")
}

/// Returns `text` as one terminal-safe line.
pub fn one_line(text: &str) -> String {
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
        assert_eq!(one_line("你好\tworld"), "你好\tworld");
    }

    #[test]
    fn newlines_cannot_forge_a_sender_line() {
        assert_eq!(one_line("hi\n10.0.0.1:1\nfake"), "hi\\n10.0.0.1:1\\nfake");
        assert_eq!(one_line("a\rb"), "a\\rb");
    }

    #[test]
    fn escape_sequences_are_visible() {
        assert_eq!(one_line("\x1b[31mred"), "\\x1b[31mred");
        assert_eq!(one_line("\0\x07\x7f"), "\\x00\\x07\\x7f");
    }

    #[test]
    fn c1_and_bidi_are_visible() {
        assert_eq!(one_line("\u{85}\u{9b}"), "\\u{85}\\u{9b}");
        assert_eq!(one_line("abc\u{202e}def"), "abc\\u{202e}def");
        assert_eq!(one_line("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(one_line("\u{2028}"), "\\u{2028}");
    }

    #[test]
    fn fast_path_agrees_with_the_rule_for_every_character() {
        // Each char alone and between CJK text: escaped exactly when
        // needs_escape says so.
        for cp in (0..0x3000u32)
            .chain(0xFFF0..0x10000)
            .chain(0x1F600..0x1F610)
        {
            let Some(ch) = char::from_u32(cp) else {
                continue;
            };
            let text = format!("中{ch}文");
            let got = one_line(&text);
            let escaped = got != text;
            assert_eq!(escaped, needs_escape(ch), "U+{cp:04X}: {got:?}");
        }
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
