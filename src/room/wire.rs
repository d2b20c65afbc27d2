//! The room's wire format: every line and notice the room sends, built
//! and parsed here and nowhere else (the server, the page's edge,
//! room-client and `lanchat --room` all come here).
//!
//! ```text
//! <NAME> text                 a member's line, NAME its address (ip:port)
//! [NAME] entered room         a member came
//! [NAME] left room            it went ( (too slow) when dropped)
//! ! ...                       the server to one member (too long, slow down, full,
//!                             too many from one address)
//! ```
//!
//! The room relays bytes and never decodes them, so everything here is
//! bytes; the parser also reads decoded text (the framing characters are
//! ASCII, and no byte of a GBK, Big5, Shift_JIS or UTF-8 multi-byte
//! character is one of them).

use std::ops::Range;

/// A member's line: `<name> line\n`.
pub fn said(name: &str, line: &[u8]) -> Box<[u8]> {
    let mut msg = Vec::with_capacity(name.len() + line.len() + 4);
    msg.push(b'<');
    msg.extend_from_slice(name.as_bytes());
    msg.extend_from_slice(b"> ");
    msg.extend_from_slice(line);
    msg.push(b'\n');
    msg.into()
}

/// `[name] entered room\n`.
pub fn entered(name: &str) -> String {
    format!("[{name}] entered room\n")
}

/// `[name] left room\n`, or `… left room (too slow)\n` for a member the
/// room dropped.
pub fn left(name: &str, too_slow: bool) -> String {
    let note = if too_slow { " (too slow)" } else { "" };
    format!("[{name}] left room{note}\n")
}

/// To the sender of an over-long line.
pub fn line_too_long(max: usize) -> String {
    format!("! line too long (max {max} bytes), dropped\n")
}

/// To a member past `--max-rate`, once.
pub fn slow_down(rate: u32) -> String {
    format!("! slow down (max {rate} lines/s)\n")
}

/// To a member turned away at `--max-clients`.
pub const ROOM_FULL: &str = "! room full\n";

/// To a member turned away because its address has `--max-per-host`
/// members already.
pub fn too_many(addr: std::net::IpAddr, max: usize) -> String {
    format!("! too many connections from {addr} (max {max})\n")
}

/// A line from the room, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a, T: ?Sized> {
    /// `<from> text`: a member's line.
    Said {
        /// Who, as the room names it.
        from: &'a T,
        /// What.
        text: &'a T,
    },
    /// Anything else: a notice of the room (`[…] entered room`, `! …`).
    Notice(&'a T),
}

/// Bytes or text, for [`parse`].
pub trait Text {
    /// The bytes.
    fn bytes(&self) -> &[u8];
    /// A part, between ASCII characters (so valid for text too).
    fn part(&self, range: Range<usize>) -> &Self;
}

impl Text for [u8] {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn part(&self, range: Range<usize>) -> &Self {
        &self[range]
    }
}

impl Text for str {
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn part(&self, range: Range<usize>) -> &Self {
        &self[range]
    }
}

/// Parses one line from the room (without its `\n`). A member's line is
/// `<NAME> text` where NAME is not empty and holds no `<` or `>`: the room
/// writes the real prefix first, so `<1.2.3.4:5> <6.6.6.6:6> x` is from
/// 1.2.3.4:5, whatever the text says.
pub fn parse<T: Text + ?Sized>(line: &T) -> Line<'_, T> {
    let b = line.bytes();
    if b.first() == Some(&b'<') {
        if let Some(end) = b[1..].windows(2).position(|w| w == b"> ") {
            let name = &b[1..1 + end];
            if !name.is_empty() && !name.contains(&b'<') && !name.contains(&b'>') {
                return Line::Said {
                    from: line.part(1..1 + end),
                    text: line.part(end + 3..b.len()),
                };
            }
        }
    }
    Line::Notice(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_built_as_the_room_sends_them() {
        assert_eq!(
            &*said("1.2.3.4:5", "你好".as_bytes()),
            "<1.2.3.4:5> 你好\n".as_bytes()
        );
        assert_eq!(entered("[::1]:7"), "[[::1]:7] entered room\n");
        assert_eq!(left("1.2.3.4:5", false), "[1.2.3.4:5] left room\n");
        assert_eq!(
            left("1.2.3.4:5", true),
            "[1.2.3.4:5] left room (too slow)\n"
        );
        assert_eq!(
            line_too_long(10),
            "! line too long (max 10 bytes), dropped\n"
        );
        assert_eq!(slow_down(5), "! slow down (max 5 lines/s)\n");
        assert_eq!(
            too_many("127.0.0.2".parse().unwrap(), 3),
            "! too many connections from 127.0.0.2 (max 3)\n"
        );
    }

    #[test]
    fn a_member_line_names_its_sender_and_notices_do_not() {
        assert_eq!(
            parse("<1.2.3.4:5> 你好"),
            Line::Said {
                from: "1.2.3.4:5",
                text: "你好"
            }
        );
        assert_eq!(
            parse(&b"<1.2.3.4:5> \xc4\xe3"[..]),
            Line::Said {
                from: &b"1.2.3.4:5"[..],
                text: &b"\xc4\xe3"[..]
            }
        );
        assert_eq!(
            parse("[1.2.3.4:5] entered room"),
            Line::Notice("[1.2.3.4:5] entered room")
        );
        // A member cannot pose as another: the room adds the real prefix.
        assert_eq!(
            parse("<1.2.3.4:5> <6.6.6.6:6> fake"),
            Line::Said {
                from: "1.2.3.4:5",
                text: "<6.6.6.6:6> fake"
            }
        );
        for notice in ["<> empty", "<a<b> x", "<nobody", "! slow down", "<x>y"] {
            assert_eq!(parse(notice), Line::Notice(notice), "{notice}");
        }
        // Whatever it is built from, it parses back.
        let built = said("[::1]:7", b"x > y");
        let line = &built[..built.len() - 1];
        assert_eq!(
            parse(line),
            Line::Said {
                from: &b"[::1]:7"[..],
                text: &b"x > y"[..]
            }
        );
    }
}
