//! The room's wire format: every line and notice the room sends, built
//! and parsed here and nowhere else (the server, the page's edge,
//! room-client and `lanchat --room` all come here).
//!
//! ```text
//! <WHO> text                  a member's line
//! *WHO* text                  a private line (/msg), to one member
//! [WHO] entered room          a member came
//! [WHO] left room             it went ( (too slow) when the room dropped it)
//! [WHO] is now NAME           it took a name (/nick), or went back to ip:port
//! ! N members:                the answer to /who, to the one who asked:
//! !   WHO                       one line per member (at most 200)
//! !   ... and K more
//! ! last K lines: … ! end of history        what a member who joins is told first
//! ! ...                       the server to one member (too long, slow down, full,
//!                             too many from one address, nick refused, no member)
//! ```
//!
//! WHO is `NAME@ip:port` for a member with a name, else `ip:port`. The
//! room relays bytes and never decodes them, so everything here is bytes
//! (a NAME is in its member's own encoding); the parser also reads decoded
//! text (the framing characters are ASCII, and no byte of a GBK, Big5,
//! Shift_JIS or UTF-8 multi-byte character is one of them). A NAME holds no
//! space, control byte, `<`, `>`, `[`, `]` or `@`, so every prefix parses
//! back unambiguously, and a member's text can never pose as another's
//! prefix: the room writes the real one first.

use std::ops::Range;

fn line(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 1);
    for p in parts {
        out.extend_from_slice(p);
    }
    out.push(b'\n');
    out
}

/// How the room names a member: `NAME@ip:port`, or `ip:port` without a name.
pub fn label(name: Option<&[u8]>, addr: &str) -> Box<[u8]> {
    match name {
        Some(n) => [n, b"@", addr.as_bytes()].concat().into(),
        None => addr.as_bytes().into(),
    }
}

/// A member's line: `<WHO> line\n`.
pub fn said(who: &[u8], text: &[u8]) -> Box<[u8]> {
    line(&[b"<", who, b"> ", text]).into()
}

/// A private line for one member: `*WHO* text\n`.
pub fn private(who: &[u8], text: &[u8]) -> Box<[u8]> {
    line(&[b"*", who, b"* ", text]).into()
}

/// `[WHO] entered room\n`.
pub fn entered(who: &[u8]) -> Vec<u8> {
    line(&[b"[", who, b"] entered room"])
}

/// `[WHO] left room\n`, or `… left room (too slow)\n` for a member the
/// room dropped.
pub fn left(who: &[u8], too_slow: bool) -> Vec<u8> {
    let note: &[u8] = if too_slow { b" (too slow)" } else { b"" };
    line(&[b"[", who, b"] left room", note])
}

/// `[WHO] is now NAME\n` (NAME: the new name, or `ip:port` again).
pub fn renamed(who: &[u8], now: &[u8]) -> Vec<u8> {
    line(&[b"[", who, b"] is now ", now])
}

/// `! nick NAME refused: REASON\n`.
pub fn nick_refused(name: &[u8], reason: &str) -> Vec<u8> {
    line(&[b"! nick ", name, b" refused: ", reason.as_bytes()])
}

/// `! no member NAME\n`, to the sender of a `/msg` nobody can take.
pub fn no_member(name: &[u8]) -> Vec<u8> {
    line(&[b"! no member ", name])
}

/// `! usage: /msg NAME text\n`.
pub const MSG_USAGE: &str = "! usage: /msg NAME text\n";

/// The first line of a `/who` answer: `! N members:\n`.
pub fn members(n: usize) -> String {
    format!("! {n} members:\n")
}

/// One member in a `/who` answer: `!   WHO\n`.
pub fn member(who: &[u8]) -> Vec<u8> {
    line(&[b"!   ", who])
}

/// The last line of a `/who` answer cut at 200: `!   ... and K more\n`.
/// (ASCII dots, so it reads right in every encoding.)
pub fn more(k: usize) -> String {
    format!("!   ... and {k} more\n")
}

/// Before the history a joining member gets: `! last K lines:\n`.
pub fn history_start(k: usize) -> String {
    format!("! last {k} lines:\n")
}

/// After it.
pub const HISTORY_END: &str = "! end of history\n";

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

// ---- access and operators ----------------------------------------------

/// To a member of a room with a password, until it gives it.
pub const PASSWORD_REQUIRED: &str = "! password required: /pass PASSWORD\n";
/// `/pass` with the wrong password.
pub const WRONG_PASSWORD: &str = "! wrong password\n";
/// `/pass` with the right one: the member is in the room.
pub const PASSWORD_ACCEPTED: &str = "! password accepted\n";
/// To an address that guessed too often (and to each try from it).
pub const TOO_MANY_WRONG: &str = "! too many wrong passwords\n";
/// `/pass` in a room without `--password`.
pub const NO_PASSWORD: &str = "! this room has no password\n";
/// `/op` in a room without `--op-password`.
pub const NO_OPERATORS: &str = "! this room has no operators\n";
/// `/op` with the right password.
pub const YOU_ARE_OP: &str = "! you are an operator\n";
/// `/op` with the wrong one.
pub const WRONG_OP_PASSWORD: &str = "! wrong operator password\n";
/// To a connection from a banned address.
pub const BANNED: &str = "! banned\n";
/// To a muted member, once.
pub const YOU_ARE_MUTED: &str = "! you are muted\n";
/// `/topic` alone when there is none.
pub const NO_TOPIC: &str = "! no topic\n";
/// `/bans` when there are none.
pub const NO_BANS: &str = "! no bans\n";
/// An operator aiming at itself (`/kick`, `/mute`, `/ban` of its own address).
pub const NOT_YOURSELF: &str = "! not on yourself\n";

/// `! only operators can /WORD\n`.
pub fn only_operators(word: &str) -> String {
    format!("! only operators can {word}\n")
}

/// `! usage: HOW\n` (`/kick NAME|ADDR [reason]`).
pub fn usage(how: &str) -> String {
    format!("! usage: {how}\n")
}

fn for_minutes(minutes: Option<u32>) -> String {
    minutes.map_or(String::new(), |m| format!(" for {m} minutes"))
}

/// `[WHO] was removed by OP: reason\n` (no `: reason` without one).
pub fn removed(who: &[u8], by: &[u8], reason: &[u8]) -> Vec<u8> {
    let sep: &[u8] = if reason.is_empty() { b"" } else { b": " };
    line(&[b"[", who, b"] was removed by ", by, sep, reason])
}

/// `[WHO] was muted by OP for N minutes\n` (no `for …` without a time).
pub fn muted(who: &[u8], by: &[u8], minutes: Option<u32>) -> Vec<u8> {
    line(&[
        b"[",
        who,
        b"] was muted by ",
        by,
        for_minutes(minutes).as_bytes(),
    ])
}

/// `[WHO] was unmuted by OP\n`.
pub fn unmuted(who: &[u8], by: &[u8]) -> Vec<u8> {
    line(&[b"[", who, b"] was unmuted by ", by])
}

/// `[NET] was banned by OP for N minutes\n`.
pub fn banned(net: &str, by: &[u8], minutes: Option<u32>) -> Vec<u8> {
    let net = format!("[{net}] was banned by ");
    line(&[net.as_bytes(), by, for_minutes(minutes).as_bytes()])
}

/// `[NET] was unbanned by OP\n`.
pub fn unbanned(net: &str, by: &[u8]) -> Vec<u8> {
    let net = format!("[{net}] was unbanned by ");
    line(&[net.as_bytes(), by])
}

/// `[WHO] became an operator\n`, to everyone.
pub fn opped(who: &[u8]) -> Vec<u8> {
    line(&[b"[", who, b"] became an operator"])
}

/// `! topic: TEXT\n`.
pub fn topic(text: &[u8]) -> Vec<u8> {
    line(&[b"! topic: ", text])
}

/// `! no ban on NET\n`.
pub fn no_ban(net: &str) -> String {
    format!("! no ban on {net}\n")
}

/// `! WHAT is not an address or a network\n`.
pub fn not_an_address(what: &[u8]) -> Vec<u8> {
    line(&[b"! ", what, b" is not an address or a network"])
}

/// `! WHAT is wider than /16, refused\n`.
pub fn too_wide(what: &[u8], widest: u8) -> Vec<u8> {
    let why = format!(" is wider than /{widest}, refused");
    line(&[b"! ", what, why.as_bytes()])
}

/// The first line of a `/bans` answer: `! N bans:\n`.
pub fn bans(n: usize) -> String {
    format!("! {n} bans:\n")
}

/// One ban in a `/bans` answer: `! ban NET for N more minutes, by OP\n`
/// or `! ban NET until lifted, by OP\n`.
pub fn ban(net: &str, minutes_left: Option<u64>, by: &str) -> String {
    match minutes_left {
        Some(m) => format!("! ban {net} for {m} more minutes, by {by}\n"),
        None => format!("! ban {net} until lifted, by {by}\n"),
    }
}

/// `! encoding: NAME\n` (`bytes`: lines pass unchanged; `unknown`: not yet
/// learnt).
pub fn encoding(name: &str) -> String {
    format!("! encoding: {name}\n")
}

/// `! unknown encoding LABEL\n`.
pub fn unknown_encoding(label: &[u8]) -> Vec<u8> {
    line(&[b"! unknown encoding ", label])
}

/// A line from the room, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a, T: ?Sized> {
    /// `<WHO> text`: a member's line.
    Said {
        /// Who, as the room names it.
        from: &'a T,
        /// What.
        text: &'a T,
    },
    /// `*WHO* text`: a private line to this member.
    Private {
        /// Who sent it.
        from: &'a T,
        /// What.
        text: &'a T,
    },
    /// `[WHO] entered room`.
    Entered(&'a T),
    /// `[WHO] left room`.
    Left(&'a T),
    /// `[WHO] was removed by OP…`: it was kicked (and is gone).
    Removed(&'a T),
    /// `[WHO] became an operator`.
    Opped(&'a T),
    /// `[WHO] is now NAME`.
    Renamed {
        /// As it was named.
        who: &'a T,
        /// Its new name (or `ip:port`).
        now: &'a T,
    },
    /// `! N members:` (the start of a `/who` answer).
    Members(usize),
    /// `!   WHO` (one member in a `/who` answer).
    Member(&'a T),
    /// `!   ... and K more` (the end of a `/who` answer cut at 200).
    More(usize),
    /// `! last K lines:`: the history a joining member is told begins.
    HistoryStart(usize),
    /// `! end of history`.
    HistoryEnd,
    /// Anything else: a notice of the room (`! slow down`, `! last 3 lines:`).
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

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Whether `b` can be a WHO: not empty, no space (a NAME has none, nor an
/// address), no `<` or `>`.
fn is_who(b: &[u8]) -> bool {
    !b.is_empty() && !b.iter().any(|c| matches!(c, b' ' | b'<' | b'>'))
}

/// Parses one line from the room (without its `\n`).
pub fn parse<T: Text + ?Sized>(line: &T) -> Line<'_, T> {
    let b = line.bytes();
    match b.first() {
        Some(b'<') => {
            if let Some(end) = find(b, 1, b"> ") {
                if is_who(&b[1..end]) {
                    return Line::Said {
                        from: line.part(1..end),
                        text: line.part(end + 2..b.len()),
                    };
                }
            }
        }
        Some(b'*') => {
            if let Some(end) = find(b, 1, b"* ") {
                if is_who(&b[1..end]) {
                    return Line::Private {
                        from: line.part(1..end),
                        text: line.part(end + 2..b.len()),
                    };
                }
            }
        }
        Some(b'[') => {
            // The WHO ends at the first "] " (an IPv6 address has "]:").
            if let Some(end) = find(b, 1, b"] ") {
                let who = line.part(1..end);
                let rest = &b[end + 2..];
                if rest == b"entered room" {
                    return Line::Entered(who);
                }
                if rest == b"left room" || rest == b"left room (too slow)" {
                    return Line::Left(who);
                }
                if rest.starts_with(b"was removed by ") {
                    return Line::Removed(who);
                }
                if rest == b"became an operator" {
                    return Line::Opped(who);
                }
                if let Some(now) = rest.strip_prefix(b"is now ") {
                    if !now.is_empty() {
                        return Line::Renamed {
                            who,
                            now: line.part(b.len() - now.len()..b.len()),
                        };
                    }
                }
            }
        }
        Some(b'!') => {
            if let Some(who) = b.strip_prefix(b"!   ") {
                if let Some(k) = who
                    .strip_prefix(b"... and ")
                    .and_then(|r| r.strip_suffix(b" more"))
                    .and_then(|k| std::str::from_utf8(k).ok())
                    .and_then(|k| k.parse().ok())
                {
                    return Line::More(k);
                }
                if !who.starts_with(b"... and ") && !who.is_empty() {
                    return Line::Member(line.part(4..b.len()));
                }
            } else if let Some(n) = number_between(b, b"! ", b" members:") {
                return Line::Members(n);
            } else if let Some(k) = number_between(b, b"! last ", b" lines:") {
                return Line::HistoryStart(k);
            } else if b == HISTORY_END.trim_end().as_bytes() {
                return Line::HistoryEnd;
            }
        }
        _ => {}
    }
    Line::Notice(line)
}

/// The number in `line` between `before` and `after` (`! 12 members:`).
fn number_between(line: &[u8], before: &[u8], after: &[u8]) -> Option<usize> {
    let n = line.strip_prefix(before)?.strip_suffix(after)?;
    std::str::from_utf8(n).ok()?.parse().ok()
}

/// A WHO split into its name (if it has one) and its `ip:port`.
pub fn split<T: Text + ?Sized>(who: &T) -> (Option<&T>, &T) {
    let b = who.bytes();
    match b.iter().position(|&c| c == b'@') {
        Some(at) => (Some(who.part(0..at)), who.part(at + 1..b.len())),
        None => (None, who),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_built_as_the_room_sends_them() {
        let a = label(None, "1.2.3.4:5");
        let b = label(Some("老王".as_bytes()), "1.2.3.4:6");
        assert_eq!(&*b, "老王@1.2.3.4:6".as_bytes());
        assert_eq!(
            &*said(&a, "你好".as_bytes()),
            "<1.2.3.4:5> 你好\n".as_bytes()
        );
        assert_eq!(&*said(&b, b"x"), "<老王@1.2.3.4:6> x\n".as_bytes());
        assert_eq!(&*private(&b, b"psst"), "*老王@1.2.3.4:6* psst\n".as_bytes());
        assert_eq!(entered(b"[::1]:7"), b"[[::1]:7] entered room\n");
        assert_eq!(left(&a, false), b"[1.2.3.4:5] left room\n");
        assert_eq!(
            left(&b, true),
            "[老王@1.2.3.4:6] left room (too slow)\n".as_bytes()
        );
        assert_eq!(renamed(&a, b"bob"), b"[1.2.3.4:5] is now bob\n");
        assert_eq!(
            nick_refused(b"x y", "has a space"),
            b"! nick x y refused: has a space\n"
        );
        assert_eq!(no_member(b"carol"), b"! no member carol\n");
        assert_eq!(members(3), "! 3 members:\n");
        assert_eq!(member(&b), "!   老王@1.2.3.4:6\n".as_bytes());
        assert_eq!(more(50), "!   ... and 50 more\n");
        assert_eq!(history_start(3), "! last 3 lines:\n");
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
    fn every_line_the_room_writes_parses_back() {
        let bob = label(Some(b"bob"), "[::1]:7");
        let built: Vec<Vec<u8>> = vec![
            said(&bob, b"x > y").into(),
            private(&bob, b"* hi *").into(),
            entered(&bob),
            left(&bob, true),
            renamed(&bob, b"robert"),
            removed(&bob, b"teacher", b"spam"),
            opped(&bob),
            members(12).into_bytes(),
            member(&bob),
            more(3).into_bytes(),
            history_start(5).into_bytes(),
            HISTORY_END.as_bytes().to_vec(),
        ];
        let parsed: Vec<Line<'_, [u8]>> = built.iter().map(|l| parse(&l[..l.len() - 1])).collect();
        let who: &[u8] = b"bob@[::1]:7";
        assert_eq!(
            parsed,
            vec![
                Line::Said {
                    from: who,
                    text: b"x > y"
                },
                Line::Private {
                    from: who,
                    text: b"* hi *"
                },
                Line::Entered(who),
                Line::Left(who),
                Line::Renamed {
                    who,
                    now: b"robert"
                },
                Line::Removed(who),
                Line::Opped(who),
                Line::Members(12),
                Line::Member(who),
                Line::More(3),
                Line::HistoryStart(5),
                Line::HistoryEnd,
            ]
        );
        assert_eq!(split(who), (Some(&b"bob"[..]), &b"[::1]:7"[..]));
        assert_eq!(split("1.2.3.4:5"), (None, "1.2.3.4:5"));
    }

    #[test]
    fn a_member_line_names_its_sender_and_text_cannot_pose_as_another() {
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
        // The room writes the real prefix first.
        assert_eq!(
            parse("<1.2.3.4:5> <6.6.6.6:6> fake"),
            Line::Said {
                from: "1.2.3.4:5",
                text: "<6.6.6.6:6> fake"
            }
        );
        assert_eq!(
            parse("<1.2.3.4:5> *boss@6.6.6.6:6* do it"),
            Line::Said {
                from: "1.2.3.4:5",
                text: "*boss@6.6.6.6:6* do it"
            }
        );
        for notice in [
            "<> empty",
            "<a<b> x",
            "<nobody",
            "! slow down",
            "<x>y",
            "** x",
            "[a] b",
        ] {
            assert_eq!(parse(notice), Line::Notice(notice), "{notice}");
        }
    }
}
