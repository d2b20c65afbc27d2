//! Who is who in the room: the three words the server reads (`/nick`,
//! `/who`, `/msg`), the rules a name must follow, and the directory that
//! finds a member by name or address.
//!
//! Names are bytes in their member's own encoding (the server decodes
//! nothing) and are compared with ASCII letters folded, so `Bob` and `bob`
//! are one name and `老王` is compared byte for byte.

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

/// The command a line is, if it is one: its first word is exactly `/nick`,
/// `/who` or `/msg`. Every other line, `/` or not, is relayed.
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

    /// Gives `key` the name `new` (its old one `old` is given up).
    ///
    /// # Errors
    /// Why not: the name breaks a rule, or another member has it.
    pub fn rename(&mut self, key: K, old: Option<&[u8]>, new: &[u8]) -> Result<(), &'static str> {
        check(new)?;
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
        for other in [
            &b"/nickname x"[..],
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
        assert_eq!(d.rename(2, Some(b"bob"), b"x y"), Err("has a space"));
        assert_eq!(d.find(b"bob"), Some(2), "a refused name keeps the old one");
    }
}
