//! The room's notices in the reader's language.
//!
//! On the wire the room speaks English, always (`[WHO] entered room`,
//! `! no member NAME`): nc, scripts and the classic client read those
//! words. `lanchat --room` and the page show them in the reader's
//! language: [`classify()`] names a notice's sentence (a catalog key under
//! `room.notice.`) and what fills it; [`shown()`] writes it in this
//! process's language, and the page fills the same key from its own
//! catalog in the browser's.

use std::borrow::Cow;

use serde::Serialize;

use super::wire::{self, Line};

/// A notice as a sentence of the catalog: its key and what fills it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Said {
    /// The catalog key (`room.notice.entered`).
    pub key: &'static str,
    /// The placeholders' values, by name.
    pub args: Vec<(&'static str, String)>,
}

impl Said {
    fn new(key: &'static str, args: &[(&'static str, &str)]) -> Said {
        Said {
            key,
            args: args.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
        }
    }

    /// The sentence in this process's language.
    pub fn text(&self) -> String {
        self.text_in(&rust_i18n::locale())
    }

    /// The sentence in the catalog's `locale`.
    pub fn text_in(&self, locale: &str) -> String {
        let template = crate::_rust_i18n_translate(locale, self.key);
        let names: Vec<&str> = self.args.iter().map(|(k, _)| *k).collect();
        let values: Vec<String> = self.args.iter().map(|(_, v)| v.clone()).collect();
        rust_i18n::replace_patterns(&template, &names, &values)
    }
}

/// The sentence a notice line of the room says (without its `\n`), or
/// `None` for a line that is not one of the room's notices.
pub fn classify(line: &str) -> Option<Said> {
    let said = match wire::parse(line) {
        Line::Entered(who) => Said::new("room.notice.entered", &[("who", who)]),
        Line::Left(who) if line.ends_with("(too slow)") => {
            Said::new("room.notice.left_slow", &[("who", who)])
        }
        Line::Left(who) => Said::new("room.notice.left", &[("who", who)]),
        Line::Renamed { who, now } => {
            Said::new("room.notice.renamed", &[("who", who), ("now", now)])
        }
        Line::Members(n) => Said::new("room.notice.members", &[("n", &n.to_string())]),
        Line::More(k) => Said::new("room.notice.more", &[("n", &k.to_string())]),
        Line::Member(who) => Said::new("room.notice.member", &[("who", who)]),
        Line::HistoryStart(k) => Said::new("room.notice.history", &[("n", &k.to_string())]),
        Line::HistoryEnd => Said::new("room.notice.history_end", &[]),
        _ => return server_notice(line),
    };
    Some(said)
}

/// The `!` lines the server says to one member.
fn server_notice(line: &str) -> Option<Said> {
    let rest = line.strip_prefix("! ")?;
    if let Some(name_why) = rest.strip_prefix("nick ") {
        let (name, why) = name_why.split_once(" refused: ")?;
        let reason = match why {
            "in use" => "room.notice.nick_in_use",
            "has a space" => "room.notice.nick_space",
            "has a control character" => "room.notice.nick_control",
            "has one of < > [ ] @" => "room.notice.nick_brackets",
            "too long (max 32 bytes)" => "room.notice.nick_long",
            _ => return None,
        };
        return Some(Said::new(reason, &[("name", name)]));
    }
    if let Some(name) = rest.strip_prefix("no member ") {
        return Some(Said::new("room.notice.no_member", &[("name", name)]));
    }
    if rest == "usage: /msg NAME text" {
        return Some(Said::new("room.notice.msg_usage", &[]));
    }
    if rest == "room full" {
        return Some(Said::new("room.notice.full", &[]));
    }
    if let Some(max) = between(rest, "line too long (max ", " bytes), dropped") {
        return Some(Said::new("room.notice.too_long", &[("max", max)]));
    }
    if let Some(max) = between(rest, "slow down (max ", " lines/s)") {
        return Some(Said::new("room.notice.slow_down", &[("max", max)]));
    }
    if let Some(addr_max) = rest.strip_prefix("too many connections from ") {
        let (addr, max) = addr_max.split_once(" (max ")?;
        let max = max.strip_suffix(')')?;
        return Some(Said::new(
            "room.notice.too_many",
            &[("addr", addr), ("max", max)],
        ));
    }
    None
}

fn between<'a>(text: &'a str, before: &str, after: &str) -> Option<&'a str> {
    let inner = text.strip_prefix(before)?.strip_suffix(after)?;
    inner.bytes().all(|b| b.is_ascii_digit()).then_some(inner)
}

/// A line from the room as this process's reader reads it: a notice in
/// their language, anything else as it came.
pub fn shown(line: &str) -> Cow<'_, str> {
    match classify(line) {
        Some(said) => Cow::Owned(said.text()),
        None => Cow::Borrowed(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every notice the server writes, as it writes it.
    fn every_notice() -> Vec<String> {
        let s = |b: Vec<u8>| String::from_utf8(b).unwrap().trim_end().to_string();
        vec![
            s(wire::entered(b"a@10.0.0.2:1")),
            s(wire::left(b"a@10.0.0.2:1", false)),
            s(wire::left(b"a@10.0.0.2:1", true)),
            s(wire::renamed(b"10.0.0.2:1", b"a")),
            s(wire::nick_refused(b"a", "in use")),
            s(wire::nick_refused(b"a b", "has a space")),
            s(wire::nick_refused(b"a", "has a control character")),
            s(wire::nick_refused(b"<a>", "has one of < > [ ] @")),
            s(wire::nick_refused(b"aaaa", "too long (max 32 bytes)")),
            s(wire::no_member(b"bob")),
            wire::MSG_USAGE.trim_end().to_string(),
            wire::members(3).trim_end().to_string(),
            wire::more(7).trim_end().to_string(),
            s(wire::member(b"a@10.0.0.2:1")),
            wire::history_start(5).trim_end().to_string(),
            wire::HISTORY_END.trim_end().to_string(),
            wire::line_too_long(65536).trim_end().to_string(),
            wire::slow_down(1000).trim_end().to_string(),
            wire::ROOM_FULL.trim_end().to_string(),
            wire::too_many("10.0.0.2".parse().unwrap(), 64)
                .trim_end()
                .to_string(),
        ]
    }

    #[test]
    fn every_notice_of_the_server_has_a_sentence() {
        let keys: Vec<String> = crate::i18n::messages("en", "room.notice.")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for line in every_notice() {
            let said = classify(&line).unwrap_or_else(|| panic!("no sentence for {line:?}"));
            assert!(
                keys.iter().any(|k| k == said.key),
                "{} is not in the catalog",
                said.key
            );
        }
        // The reasons a name is refused, as the server gives them.
        for name in [&b"a b"[..], b"a\x01", b"<a>", &[b'a'; 40]] {
            let why = crate::room::names::check(name).unwrap_err();
            let line = String::from_utf8_lossy(&wire::nick_refused(name, why)).into_owned();
            assert!(classify(line.trim_end()).is_some(), "{line:?}");
        }
    }

    #[test]
    fn in_english_a_notice_reads_as_on_the_wire() {
        rust_i18n::set_locale("en");
        for line in every_notice() {
            // `!   ... and K more` is shown without its indent.
            assert_eq!(
                shown(&line).trim_start_matches("!   "),
                line.trim_start_matches("!   ")
            );
        }
    }

    #[test]
    fn lines_of_members_are_never_taken_for_notices() {
        assert_eq!(classify("<a@10.0.0.2:1> [b] entered room"), None);
        assert_eq!(classify("*a@10.0.0.2:1* ! room full"), None);
        assert_eq!(classify("! something new"), None);
        assert_eq!(classify("! slow down (max lots lines/s)"), None);
    }

    #[test]
    fn a_notice_fills_its_sentence_in_chinese() {
        let said = classify("[老王@10.0.0.2:1] entered room").unwrap();
        let text = said.text_in("zh-CN");
        assert!(text.contains("老王@10.0.0.2:1"), "{text}");
        assert!(!text.contains("entered"), "{text}");
    }
}
