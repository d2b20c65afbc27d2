//! Who is who in the room: the three words the server reads (`/nick`,
//! `/who`, `/msg`), the rules a name must follow, and the directory that
//! finds a member by name or address.
//!
//! Names are bytes in their member's own encoding, checked as typed, and
//! compared as text when the member's encoding is known (see
//! [`super::tongue::name_key`]: the directory is given that form), with
//! ASCII letters folded, so `Bob` and `bob` are one name and `老王` is one
//! name in GBK and in UTF-8.

use std::collections::HashMap;

/// The longest name, in bytes.
pub const NAME_MAX: usize = 32;
/// Members listed in a `/who` answer at most.
pub const WHO_MAX: usize = 200;

/// A line the server reads instead of relaying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/nick NAME`, or `/nick` alone (back to `ip:port`).
    Nick(Option<&'a [u8]>),
    /// `/who`.
    Who,
    /// `/msg NAME text`.
    Msg {
        /// The member it is for (a name, or `ip:port`).
        to: &'a [u8],
        /// The text.
        text: &'a [u8],
    },
    /// `/msg` without a name and a text.
    MsgUsage,
    /// `/pass PASSWORD`: the room password.
    Pass(&'a [u8]),
    /// `/op PASSWORD`: the operator password.
    Op(&'a [u8]),
    /// `/kick NAME|ADDR [reason]`.
    Kick {
        /// A name, an `ip:port` or an address.
        who: &'a [u8],
        /// Why (may be empty).
        reason: &'a [u8],
    },
    /// `/mute NAME|ADDR [MINUTES]`.
    Mute {
        /// A name, an `ip:port` or an address.
        who: &'a [u8],
        /// For how long (`None`: until `/unmute` or it leaves).
        minutes: Option<u32>,
    },
    /// `/unmute NAME|ADDR`.
    Unmute(&'a [u8]),
    /// `/ban ADDR|CIDR [MINUTES]`.
    Ban {
        /// An address or a network.
        what: &'a [u8],
        /// For how long (`None`: until `/unban`).
        minutes: Option<u32>,
    },
    /// `/unban ADDR|CIDR`.
    Unban(&'a [u8]),
    /// `/bans`.
    Bans,
    /// `/topic TEXT`, or `/topic` alone (shows it).
    Topic(Option<&'a [u8]>),
    /// `/encoding LABEL`, or `/encoding` alone (shows it).
    Encoding(Option<&'a [u8]>),
    /// One of the words above, wrongly used: the usage line to tell.
    Usage(&'static str),
}

/// The longest time an operator can give (`/mute`, `/ban`): a year.
pub const MINUTES_MAX: u32 = 366 * 24 * 60;

/// `WORD [MINUTES]` after a command: the word, and the minutes when given
/// (`Err` when the minutes are not a whole number from 1 to a year, or
/// something follows them).
fn word_and_minutes(rest: &[u8]) -> Result<(&[u8], Option<u32>), ()> {
    let rest = trim(rest);
    let (word, more) = match rest.iter().position(|&c| c == b' ') {
        Some(i) => (&rest[..i], trim(&rest[i + 1..])),
        None => (rest, &b""[..]),
    };
    if word.is_empty() {
        return Err(());
    }
    if more.is_empty() {
        return Ok((word, None));
    }
    let minutes = std::str::from_utf8(more)
        .ok()
        .and_then(|m| m.parse::<u32>().ok())
        .filter(|m| (1..=MINUTES_MAX).contains(m))
        .ok_or(())?;
    Ok((word, Some(minutes)))
}

/// One word after a command (`/unmute NAME`), or `None` for none or more.
fn one_word(rest: &[u8]) -> Option<&[u8]> {
    let w = trim(rest);
    (!w.is_empty() && !w.contains(&b' ')).then_some(w)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// The usage lines of the words (`! usage: …`).
pub mod usage {
    /// `/kick`.
    pub const KICK: &str = "/kick NAME|ADDR [reason]";
    /// `/mute`.
    pub const MUTE: &str = "/mute NAME|ADDR [MINUTES]";
    /// `/unmute`.
    pub const UNMUTE: &str = "/unmute NAME|ADDR";
    /// `/ban`.
    pub const BAN: &str = "/ban ADDR|CIDR [MINUTES]";
    /// `/unban`.
    pub const UNBAN: &str = "/unban ADDR|CIDR";
    /// `/op`.
    pub const OP: &str = "/op PASSWORD";
}

/// The command a line is, if it is one: its first word is exactly one of
/// the room's (`/nick`, `/who`, `/msg`, `/encoding`, `/pass`, `/op`,
/// `/kick`, `/mute`, `/unmute`, `/ban`, `/unban`, `/bans`, `/topic`).
/// Every other line, `/` or not, is relayed.
pub fn command(line: &[u8]) -> Option<Command<'_>> {
    let (word, rest) = match line.iter().position(|&c| c == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &b""[..]),
    };
    match word {
        b"/nick" => {
            let name = trim(rest);
            Some(Command::Nick((!name.is_empty()).then_some(name)))
        }
        b"/who" => Some(Command::Who),
        b"/msg" => {
            let rest = trim(rest);
            match rest.iter().position(|&c| c == b' ') {
                Some(i) if !trim(&rest[i + 1..]).is_empty() => Some(Command::Msg {
                    to: &rest[..i],
                    text: &rest[i + 1..],
                }),
                _ => Some(Command::MsgUsage),
            }
        }
        b"/pass" => Some(Command::Pass(trim(rest))),
        b"/op" => match trim(rest) {
            b"" => Some(Command::Usage(usage::OP)),
            p => Some(Command::Op(p)),
        },
        b"/kick" => {
            let rest = trim(rest);
            let (who, reason) = match rest.iter().position(|&c| c == b' ') {
                Some(i) => (&rest[..i], trim(&rest[i + 1..])),
                None => (rest, &b""[..]),
            };
            Some(if who.is_empty() {
                Command::Usage(usage::KICK)
            } else {
                Command::Kick { who, reason }
            })
        }
        b"/mute" => Some(match word_and_minutes(rest) {
            Ok((who, minutes)) => Command::Mute { who, minutes },
            Err(()) => Command::Usage(usage::MUTE),
        }),
        b"/unmute" => Some(one_word(rest).map_or(Command::Usage(usage::UNMUTE), Command::Unmute)),
        b"/ban" => Some(match word_and_minutes(rest) {
            Ok((what, minutes)) => Command::Ban { what, minutes },
            Err(()) => Command::Usage(usage::BAN),
        }),
        b"/unban" => Some(one_word(rest).map_or(Command::Usage(usage::UNBAN), Command::Unban)),
        b"/bans" => Some(Command::Bans),
        b"/topic" => {
            let text = trim(rest);
            Some(Command::Topic((!text.is_empty()).then_some(text)))
        }
        b"/encoding" => Some(Command::Encoding(one_word(rest))),
        _ => None,
    }
}

/// Why a name cannot be taken (`! nick NAME refused: REASON`).
pub fn check(name: &[u8]) -> Result<(), &'static str> {
    if name.len() > NAME_MAX {
        return Err("too long (max 32 bytes)");
    }
    if name.contains(&b' ') {
        return Err("has a space");
    }
    if name.iter().any(|&c| c < 0x20 || c == 0x7f) {
        return Err("has a control character");
    }
    if name.iter().any(|c| b"<>[]@".contains(c)) {
        return Err("has one of < > [ ] @");
    }
    Ok(())
}

/// A name as names are compared: ASCII letters folded to lower case.
fn fold(name: &[u8]) -> Vec<u8> {
    name.to_ascii_lowercase()
}

/// Finds members by name and by `ip:port`; says which names are taken.
#[derive(Debug, Default)]
pub struct Directory<K> {
    names: HashMap<Vec<u8>, K>,
    addrs: HashMap<Box<[u8]>, K>,
}

impl<K: Copy + PartialEq> Directory<K> {
    /// A member `key` at `addr` joined.
    pub fn joined(&mut self, key: K, addr: &str) {
        self.addrs.insert(addr.as_bytes().into(), key);
    }

    /// Member `key` at `addr` (named `name`) left.
    pub fn left(&mut self, key: K, addr: &str, name: Option<&[u8]>) {
        if self.addrs.get(addr.as_bytes()) == Some(&key) {
            self.addrs.remove(addr.as_bytes());
        }
        if let Some(n) = name {
            self.release(key, n);
        }
    }

    /// Gives `key` the name `new` (its old one `old` is given up). Both
    /// are names as they are compared ([`super::tongue::name_key`]); the
    /// caller has checked the rules ([`check`]) on the name as typed.
    ///
    /// # Errors
    /// `in use`: another member has it.
    pub fn rename(&mut self, key: K, old: Option<&[u8]>, new: &[u8]) -> Result<(), &'static str> {
        let folded = fold(new);
        match self.names.get(&folded) {
            Some(holder) if *holder != key => return Err("in use"),
            _ => {}
        }
        if let Some(o) = old {
            self.release(key, o);
        }
        self.names.insert(folded, key);
        Ok(())
    }

    /// `key` gives up its name `name`.
    pub fn release(&mut self, key: K, name: &[u8]) {
        let folded = fold(name);
        if self.names.get(&folded) == Some(&key) {
            self.names.remove(&folded);
        }
    }

    /// The member called `who`: a name (ASCII letters without case), or an
    /// `ip:port`.
    pub fn find(&self, who: &[u8]) -> Option<K> {
        self.names
            .get(&fold(who))
            .or_else(|| self.addrs.get(who))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_words_and_nothing_else() {
        assert_eq!(command(b"/nick bob"), Some(Command::Nick(Some(b"bob"))));
        assert_eq!(command(b"/nick  bob  "), Some(Command::Nick(Some(b"bob"))));
        assert_eq!(command(b"/nick"), Some(Command::Nick(None)));
        assert_eq!(command(b"/nick   "), Some(Command::Nick(None)));
        assert_eq!(command(b"/nick a b"), Some(Command::Nick(Some(b"a b"))));
        assert_eq!(command(b"/who"), Some(Command::Who));
        assert_eq!(command(b"/who is here"), Some(Command::Who));
        assert_eq!(
            command(b"/msg bob hi there"),
            Some(Command::Msg {
                to: b"bob",
                text: b"hi there"
            })
        );
        assert_eq!(command(b"/msg bob"), Some(Command::MsgUsage));
        assert_eq!(command(b"/msg"), Some(Command::MsgUsage));
        assert_eq!(command(b"/pass  s e "), Some(Command::Pass(b"s e")));
        assert_eq!(command(b"/op"), Some(Command::Usage(usage::OP)));
        assert_eq!(command(b"/op pw"), Some(Command::Op(b"pw")));
        assert_eq!(
            command(b"/kick bob  too loud "),
            Some(Command::Kick {
                who: b"bob",
                reason: b"too loud"
            })
        );
        assert_eq!(command(b"/kick"), Some(Command::Usage(usage::KICK)));
        assert_eq!(
            command(b"/mute bob 10"),
            Some(Command::Mute {
                who: b"bob",
                minutes: Some(10)
            })
        );
        assert_eq!(
            command(b"/mute 10.0.0.2"),
            Some(Command::Mute {
                who: b"10.0.0.2",
                minutes: None
            })
        );
        for bad in [
            &b"/mute bob 0"[..],
            b"/mute bob x",
            b"/mute",
            b"/mute bob 5 6",
            b"/mute bob 999999999",
        ] {
            assert_eq!(command(bad), Some(Command::Usage(usage::MUTE)), "{bad:?}");
        }
        assert_eq!(
            command(b"/ban 10.0.0.0/24 60"),
            Some(Command::Ban {
                what: b"10.0.0.0/24",
                minutes: Some(60)
            })
        );
        assert_eq!(
            command(b"/unban 10.0.0.9"),
            Some(Command::Unban(b"10.0.0.9"))
        );
        assert_eq!(command(b"/unban a b"), Some(Command::Usage(usage::UNBAN)));
        assert_eq!(command(b"/bans"), Some(Command::Bans));
        assert_eq!(command(b"/topic"), Some(Command::Topic(None)));
        assert_eq!(
            command(b"/topic  Lab 3: loops "),
            Some(Command::Topic(Some(b"Lab 3: loops")))
        );
        assert_eq!(
            command(b"/encoding utf-8"),
            Some(Command::Encoding(Some(b"utf-8")))
        );
        assert_eq!(command(b"/encoding"), Some(Command::Encoding(None)));
        for other in [
            &b"/nickname x"[..],
            b"/passwd x",
            b"/topics",
            b"/me waves",
            b"//nick x",
            b"nick",
            b"/NICK x",
            b" /who",
            b"",
        ] {
            assert_eq!(command(other), None, "{:?}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn names_follow_the_rules() {
        assert_eq!(check(b"bob"), Ok(()));
        assert_eq!(check("老王".as_bytes()), Ok(()));
        assert_eq!(
            check(&[0xC0, 0xCF, 0xCD, 0xF5]),
            Ok(()),
            "GBK bytes are a name too"
        );
        assert_eq!(check(&[b'x'; 32]), Ok(()));
        assert_eq!(check(&[b'x'; 33]), Err("too long (max 32 bytes)"));
        assert_eq!(check(b"a\x1bb"), Err("has a control character"));
        assert_eq!(check(b"a\x7f"), Err("has a control character"));
        for bad in [&b"<x"[..], b"x>", b"[x", b"x]", b"a@b"] {
            assert_eq!(check(bad), Err("has one of < > [ ] @"));
        }
    }

    #[test]
    fn names_are_unique_without_ascii_case_and_found_by_name_or_address() {
        let mut d: Directory<u32> = Directory::default();
        d.joined(1, "1.2.3.4:5");
        d.joined(2, "1.2.3.4:6");
        assert_eq!(d.rename(1, None, b"Bob"), Ok(()));
        assert_eq!(d.rename(2, None, b"bOB"), Err("in use"));
        assert_eq!(
            d.rename(1, Some(b"Bob"), b"BOB"),
            Ok(()),
            "one's own name in another case"
        );
        assert_eq!(d.find(b"bob"), Some(1));
        assert_eq!(d.find(b"1.2.3.4:6"), Some(2));
        assert_eq!(d.find(b"carol"), None);
        assert_eq!(d.rename(2, None, "老王".as_bytes()), Ok(()));
        assert_eq!(d.find("老王".as_bytes()), Some(2));
        d.left(1, "1.2.3.4:5", Some(b"BOB"));
        assert_eq!(d.find(b"bob"), None);
        assert_eq!(
            d.rename(2, Some("老王".as_bytes()), b"bob"),
            Ok(()),
            "free again"
        );
        assert_eq!(d.rename(1, None, b"bob"), Err("in use"));
        assert_eq!(d.find(b"bob"), Some(2), "a refused name keeps the old one");
    }
}
