//! What the room says, typed: a member's line, a private line, a join, a
//! leave, a new name, the room's own notices, a `/who` answer. An
//! [`Entry`] is made once, when it is said, in its TCP form (the bytes of
//! [`super::wire`], which every TCP member is sent as they are); it also
//! knows what it is and where its parts are, so the page's form (JSON,
//! [`super::web::page`]) is made from the parts, never by parsing the
//! room's own text back.
//!
//! ```text
//! Entry::said(label, text) ──▶ kind: Said, wire: "<label> text\n"
//!                               ├──▶ TCP member: wire, as it is (vectored writes)
//!                               └──▶ page member: {"kind":"line","from":label,"text":text}
//! ```
//!
//! The parts are kept as lengths into the wire bytes, so an entry costs
//! what its bytes cost and a small tag (see `super::feed::ENTRY_OVERHEAD`).

use std::rc::Rc;

use super::tongue::{self, Tongue};
use super::wire;

/// How the room names a member (`NAME@ip:port`, or `ip:port`), shared by
/// the member and the entries that name it.
pub type Label = Rc<[u8]>;

/// What an entry is. The lengths say where its parts are in its wire
/// bytes (`who`: the length of the WHO it names).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `<WHO> text\n`.
    Said { who: u16 },
    /// `*WHO* text\n`.
    Private { who: u16 },
    /// `[WHO] entered room\n`.
    Entered { who: u16 },
    /// `[WHO] left room\n`, `… (too slow)`.
    Left { who: u16 },
    /// `[WHO] is now NAME\n`.
    Renamed { who: u16 },
    /// `! …\n`: the room's own words (ASCII), to everyone or to one member.
    Notice,
    /// `! …\n` with a name or text of a member's in it (its own bytes).
    Named,
    /// `[WHO] was removed by …`.
    Removed { who: u16 },
    /// `[WHO] became an operator`.
    Opped { who: u16 },
    /// The answer to `/who` (several `!` lines on the wire).
    Who(Box<WhoAnswer>),
    /// A message only a page takes (its answer to a page's message, or
    /// who the page is): already in the page's form.
    Page,
}

/// The members listed in a `/who` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WhoAnswer {
    total: usize,
    members: Vec<Label>,
    more: usize,
}

/// One thing the room says, in its TCP form, with what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    kind: Kind,
    wire: Box<[u8]>,
    /// The encoding its bytes are in, when the room knows it and may
    /// re-encode them (see [`super::tongue::source`]); `None`: they pass
    /// as they are.
    enc: Option<&'static encoding_rs::Encoding>,
}

/// An entry's parts, for a front end that shows them (the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View<'a> {
    /// A member's line.
    Said {
        /// Who said it.
        from: &'a [u8],
        /// What.
        text: &'a [u8],
    },
    /// A line to this member alone (`/msg`).
    Private {
        /// Who sent it.
        from: &'a [u8],
        /// What.
        text: &'a [u8],
    },
    /// A member came.
    Entered {
        /// Who.
        who: &'a [u8],
        /// The whole notice, as TCP members read it.
        line: &'a [u8],
    },
    /// A member went.
    Left {
        /// Who.
        who: &'a [u8],
        /// The whole notice.
        line: &'a [u8],
    },
    /// A member took a name, or went back to its address.
    Renamed {
        /// As it was named.
        who: &'a [u8],
        /// Its new name (or `ip:port`).
        now: &'a [u8],
        /// The whole notice.
        line: &'a [u8],
    },
    /// A member was removed by an operator.
    Removed {
        /// Who.
        who: &'a [u8],
        /// The whole notice.
        line: &'a [u8],
    },
    /// A member became an operator.
    Opped {
        /// Who.
        who: &'a [u8],
        /// The whole notice.
        line: &'a [u8],
    },
    /// The room's own words (ASCII: the same in every encoding).
    Notice(&'a [u8]),
    /// A notice with a member's name or text in it, in its own bytes.
    Named(&'a [u8]),
    /// A `/who` answer.
    Who {
        /// Members in the room.
        total: usize,
        /// The first of them (at most [`super::names::WHO_MAX`]).
        members: &'a [Label],
        /// How many more there are.
        more: usize,
    },
    /// A message already in the page's form.
    Page(&'a str),
}

fn len16(who: &[u8]) -> u16 {
    // A WHO is a name of at most 32 bytes and an address: far below this.
    u16::try_from(who.len()).unwrap_or(u16::MAX)
}

fn chomp(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\n").unwrap_or(b)
}

impl Entry {
    /// A member's line: `<WHO> text\n`.
    pub fn said(who: &[u8], text: &[u8]) -> Entry {
        Entry {
            kind: Kind::Said { who: len16(who) },
            wire: wire::said(who, text),
            enc: None,
        }
    }

    /// A private line: `*WHO* text\n`.
    pub fn private(who: &[u8], text: &[u8]) -> Entry {
        Entry {
            kind: Kind::Private { who: len16(who) },
            wire: wire::private(who, text),
            enc: None,
        }
    }

    /// `[WHO] entered room\n`.
    pub fn entered(who: &[u8]) -> Entry {
        Entry {
            kind: Kind::Entered { who: len16(who) },
            wire: wire::entered(who).into(),
            enc: None,
        }
    }

    /// `[WHO] left room\n` (`(too slow)` when the room dropped it).
    pub fn left(who: &[u8], too_slow: bool) -> Entry {
        Entry {
            kind: Kind::Left { who: len16(who) },
            wire: wire::left(who, too_slow).into(),
            enc: None,
        }
    }

    /// `[WHO] is now NAME\n`.
    pub fn renamed(who: &[u8], now: &[u8]) -> Entry {
        Entry {
            kind: Kind::Renamed { who: len16(who) },
            wire: wire::renamed(who, now).into(),
            enc: None,
        }
    }

    /// One of the room's own lines in its own words (`! slow down …\n`,
    /// built by [`super::wire`]; ASCII).
    pub fn notice(line: impl Into<Vec<u8>>) -> Entry {
        Entry {
            kind: Kind::Notice,
            wire: line.into().into(),
            enc: None,
        }
    }

    /// One of the room's own lines that names something a member typed
    /// (`! no member NAME\n`, `! nick NAME refused: …\n`).
    pub fn named(line: impl Into<Vec<u8>>) -> Entry {
        Entry {
            kind: Kind::Named,
            wire: line.into().into(),
            enc: None,
        }
    }

    /// The answer to `/who`: `total` members, the first of them listed,
    /// `more` not listed.
    pub fn who(total: usize, members: Vec<Label>, more: usize) -> Entry {
        let mut out = wire::members(total).into_bytes();
        for m in &members {
            out.extend(wire::member(m));
        }
        if more > 0 {
            out.extend(wire::more(more).into_bytes());
        }
        Entry {
            kind: Kind::Who(Box::new(WhoAnswer {
                total,
                members,
                more,
            })),
            wire: out.into(),
            enc: None,
        }
    }

    /// `[WHO] was removed by OP…` (kicked, or its address banned).
    pub fn removed(who: &[u8], line: Vec<u8>) -> Entry {
        Entry {
            kind: Kind::Removed { who: len16(who) },
            wire: line.into(),
            enc: None,
        }
    }

    /// `[WHO] became an operator`.
    pub fn opped(who: &[u8]) -> Entry {
        Entry {
            kind: Kind::Opped { who: len16(who) },
            wire: wire::opped(who).into(),
            enc: None,
        }
    }

    /// The same entry, its bytes marked as written in `tongue` (when that
    /// is known and they decode in it), so the room may re-encode them for
    /// members in other encodings.
    pub fn in_tongue(mut self, tongue: Tongue) -> Entry {
        self.enc = tongue::source(&self.wire, tongue);
        self
    }

    /// The encoding its bytes are in, when the room may re-encode them.
    pub fn enc(&self) -> Option<&'static encoding_rs::Encoding> {
        self.enc
    }

    /// Its bytes for a TCP member in `to`: re-encoded when its own
    /// encoding is known and differs (`None`: as they are).
    pub fn wire_in(&self, to: &'static encoding_rs::Encoding) -> Option<Box<[u8]>> {
        let from = self.enc.filter(|from| *from != to)?;
        tongue::convert(&self.wire, from, to).map(Into::into)
    }

    /// A message for a page alone, already in its form (JSON).
    pub fn page(json: String) -> Entry {
        Entry {
            kind: Kind::Page,
            wire: json.into_bytes().into(),
            enc: None,
        }
    }

    /// A line read back from the chat log (`<WHO> text`), as it was said.
    pub fn from_log(line: &[u8]) -> Option<Entry> {
        match wire::parse(line) {
            wire::Line::Said { from, text } => Some(Entry::said(from, text)),
            _ => None,
        }
    }

    /// The TCP form: the bytes every TCP member is sent.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// Whether it is a member's line (what the history keeps).
    pub fn is_said(&self) -> bool {
        matches!(self.kind, Kind::Said { .. })
    }

    /// Its parts.
    pub fn view(&self) -> View<'_> {
        let w = &self.wire[..];
        let line = chomp(w);
        // Where WHO is: after one opening character ('<', '*' or '[').
        let who = |n: u16| &w[1..1 + usize::from(n)];
        match &self.kind {
            Kind::Said { who: n } | Kind::Private { who: n } => {
                let from = who(*n);
                let text = &line[(usize::from(*n) + 3).min(line.len())..];
                if matches!(self.kind, Kind::Said { .. }) {
                    View::Said { from, text }
                } else {
                    View::Private { from, text }
                }
            }
            Kind::Entered { who: n } => View::Entered { who: who(*n), line },
            Kind::Left { who: n } => View::Left { who: who(*n), line },
            Kind::Removed { who: n } => View::Removed { who: who(*n), line },
            Kind::Opped { who: n } => View::Opped { who: who(*n), line },
            Kind::Renamed { who: n } => {
                // "[" WHO "] is now " NAME
                let start = (usize::from(*n) + 10).min(line.len());
                View::Renamed {
                    who: who(*n),
                    now: &line[start..],
                    line,
                }
            }
            Kind::Notice => View::Notice(line),
            Kind::Named => View::Named(line),
            Kind::Who(a) => View::Who {
                total: a.total,
                members: &a.members,
                more: a.more,
            },
            Kind::Page => View::Page(std::str::from_utf8(w).unwrap_or("")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_is_its_wire_line_and_its_parts() {
        let bob: &[u8] = "老王@[::1]:7".as_bytes();
        let e = Entry::said(bob, b"x > y");
        assert_eq!(e.wire(), "<老王@[::1]:7> x > y\n".as_bytes());
        assert_eq!(
            e.view(),
            View::Said {
                from: bob,
                text: b"x > y"
            }
        );
        assert!(e.is_said());
        let e = Entry::private(bob, b"* hi *");
        assert_eq!(
            e.view(),
            View::Private {
                from: bob,
                text: b"* hi *"
            }
        );
        let e = Entry::entered(b"1.2.3.4:5");
        assert_eq!(
            e.view(),
            View::Entered {
                who: b"1.2.3.4:5",
                line: b"[1.2.3.4:5] entered room"
            }
        );
        let e = Entry::left(bob, true);
        assert_eq!(e.wire(), "[老王@[::1]:7] left room (too slow)\n".as_bytes());
        assert!(matches!(e.view(), View::Left { who, .. } if who == bob));
        let e = Entry::renamed(b"1.2.3.4:5", "老王".as_bytes());
        assert_eq!(
            e.view(),
            View::Renamed {
                who: b"1.2.3.4:5",
                now: "老王".as_bytes(),
                line: "[1.2.3.4:5] is now 老王".as_bytes()
            }
        );
        let e = Entry::notice(wire::slow_down(5));
        assert_eq!(e.view(), View::Notice(b"! slow down (max 5 lines/s)"));
        let who = Entry::who(3, vec![bob.into(), b"10.0.0.3:1"[..].into()], 1);
        assert_eq!(
            who.wire(),
            "! 3 members:\n!   老王@[::1]:7\n!   10.0.0.3:1\n!   ... and 1 more\n".as_bytes()
        );
        assert!(
            matches!(who.view(), View::Who { total: 3, more: 1, members } if members.len() == 2)
        );
        assert_eq!(
            Entry::page("{}".into()).view(),
            View::Page("{}"),
            "a page's message is its own form"
        );
        // Read back from the chat log.
        let back = Entry::from_log("<老王@[::1]:7> 你好".as_bytes()).unwrap();
        assert_eq!(back, Entry::said(bob, "你好".as_bytes()));
        assert_eq!(Entry::from_log(b"! not a line"), None);
    }
}
