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
        Line::Removed(who) => {
            let rest = line.split_once("] was removed by ")?.1;
            match rest.split_once(": ") {
                Some((by, reason)) => Said::new(
                    "room.notice.removed",
                    &[("who", who), ("by", by), ("reason", reason)],
                ),
                None => Said::new("room.notice.removed_plain", &[("who", who), ("by", rest)]),
            }
        }
        Line::Opped(who) => Said::new("room.notice.opped", &[("who", who)]),
        Line::Members(n) => Said::new("room.notice.members", &[("n", &n.to_string())]),
        Line::More(k) => Said::new("room.notice.more", &[("n", &k.to_string())]),
        Line::Member(who) => Said::new("room.notice.member", &[("who", who)]),
        Line::HistoryStart(k) => Said::new("room.notice.history", &[("n", &k.to_string())]),
        Line::HistoryEnd => Said::new("room.notice.history_end", &[]),
        _ => return server_notice(line),
    };
    Some(said)
}

/// What an operator did to a member or an address, as everyone is told:
/// `[WHO] was muted by OP for N minutes`, `… was unmuted by OP`, `[NET]
/// was banned by OP`, `… was unbanned by OP`.
fn op_action(line: &str) -> Option<Said> {
    let inner = line.strip_prefix('[')?;
    let (who, rest) = inner.split_once("] was ")?;
    let (what, by_etc) = rest.split_once(" by ")?;
    let (by, minutes) = match by_etc.rsplit_once(" for ") {
        Some((by, n)) => match n.strip_suffix(" minutes") {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (by, Some(n)),
            _ => (by_etc, None),
        },
        None => (by_etc, None),
    };
    let key = match (what, minutes.is_some()) {
        ("muted", false) => "room.notice.muted",
        ("muted", true) => "room.notice.muted_for",
        ("unmuted", false) => "room.notice.unmuted",
        ("banned", false) => "room.notice.banned",
        ("banned", true) => "room.notice.banned_for",
        ("unbanned", false) => "room.notice.unbanned",
        _ => return None,
    };
    let mut args = vec![("who", who), ("by", by)];
    if let Some(n) = minutes {
        args.push(("n", n));
    }
    Some(Said::new(key, &args))
}

/// The `!` lines of the room's gate and its operators.
fn access_notice(rest: &str) -> Option<Said> {
    let plain = match rest {
        "password required: /pass PASSWORD" => Some("room.notice.password_required"),
        "wrong password" => Some("room.notice.wrong_password"),
        "password accepted" => Some("room.notice.password_accepted"),
        "too many wrong passwords" => Some("room.notice.too_many_wrong"),
        "this room has no password" => Some("room.notice.no_password"),
        "this room has no operators" => Some("room.notice.no_operators"),
        "you are an operator" => Some("room.notice.you_are_op"),
        "wrong operator password" => Some("room.notice.wrong_op_password"),
        "banned" => Some("room.notice.banned_you"),
        "you are muted" => Some("room.notice.you_are_muted"),
        "no topic" => Some("room.notice.no_topic"),
        "no bans" => Some("room.notice.no_bans"),
        "not on yourself" => Some("room.notice.not_yourself"),
        _ => None,
    };
    if let Some(key) = plain {
        return Some(Said::new(key, &[]));
    }
    let one = |key, name, value| Some(Said::new(key, &[(name, value)]));
    if let Some(word) = rest.strip_prefix("only operators can ") {
        return one("room.notice.only_operators", "word", word);
    }
    if let Some(how) = rest
        .strip_prefix("usage: ")
        .filter(|h| !h.starts_with("/msg "))
    {
        return one("room.notice.usage", "how", how);
    }
    if let Some(text) = rest.strip_prefix("topic: ") {
        return one("room.notice.topic", "text", text);
    }
    if let Some(net) = rest.strip_prefix("no ban on ") {
        return one("room.notice.no_ban", "net", net);
    }
    if let Some(name) = rest.strip_prefix("encoding: ") {
        return one("room.notice.encoding", "name", name);
    }
    if let Some(label) = rest.strip_prefix("unknown encoding ") {
        return one("room.notice.unknown_encoding", "label", label);
    }
    if let Some(what) = rest.strip_suffix(" is not an address or a network") {
        return one("room.notice.not_an_address", "what", what);
    }
    if let Some((what, widest)) = rest
        .strip_suffix(", refused")
        .and_then(|r| r.rsplit_once(" is wider than /"))
    {
        return Some(Said::new(
            "room.notice.too_wide",
            &[("what", what), ("widest", widest)],
        ));
    }
    if let Some(n) = between(rest, "", " bans:") {
        return one("room.notice.bans", "n", n);
    }
    if let Some(ban) = rest.strip_prefix("ban ") {
        let (what, by) = ban.rsplit_once(", by ")?;
        if let Some(net) = what.strip_suffix(" until lifted") {
            return Some(Said::new(
                "room.notice.ban_lifted",
                &[("net", net), ("by", by)],
            ));
        }
        let (net, n) = what.split_once(" for ")?;
        let n = n.strip_suffix(" more minutes")?;
        return Some(Said::new(
            "room.notice.ban_for",
            &[("net", net), ("n", n), ("by", by)],
        ));
    }
    None
}

/// The `!` lines the server says to one member.
fn server_notice(line: &str) -> Option<Said> {
    if line.starts_with('[') {
        return op_action(line);
    }
    let rest = line.strip_prefix("! ")?;
    if let Some(said) = access_notice(rest) {
        return Some(said);
    }
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
            s(wire::removed(b"a@10.0.0.2:1", b"t@10.0.0.3:2", b"spam")),
            s(wire::removed(b"a@10.0.0.2:1", b"t@10.0.0.3:2", b"")),
            s(wire::opped(b"t@10.0.0.3:2")),
            s(wire::muted(b"a@10.0.0.2:1", b"t@10.0.0.3:2", Some(10))),
            s(wire::muted(b"a@10.0.0.2:1", b"t@10.0.0.3:2", None)),
            s(wire::unmuted(b"a@10.0.0.2:1", b"t@10.0.0.3:2")),
            s(wire::banned("10.0.1.0/24", b"t@10.0.0.3:2", Some(60))),
            s(wire::banned("10.0.1.9/32", b"t@10.0.0.3:2", None)),
            s(wire::unbanned("10.0.1.9/32", b"t@10.0.0.3:2")),
            s(wire::topic(b"Lab 3: loops")),
            s(wire::not_an_address(b"bob")),
            s(wire::too_wide(b"10.0.0.0/8", 16)),
            s(wire::unknown_encoding(b"klingon")),
            wire::no_ban("10.0.0.9/32").trim_end().to_string(),
            wire::only_operators("/kick").trim_end().to_string(),
            wire::usage(crate::room::names::usage::KICK)
                .trim_end()
                .to_string(),
            wire::bans(2).trim_end().to_string(),
            wire::ban("10.0.1.0/24", Some(12), "t@10.0.0.3:2")
                .trim_end()
                .to_string(),
            wire::ban("10.0.1.9/32", None, "t@10.0.0.3:2")
                .trim_end()
                .to_string(),
            wire::encoding("UTF-8").trim_end().to_string(),
        ]
        .into_iter()
        .chain(
            [
                wire::PASSWORD_REQUIRED,
                wire::WRONG_PASSWORD,
                wire::PASSWORD_ACCEPTED,
                wire::TOO_MANY_WRONG,
                wire::NO_PASSWORD,
                wire::NO_OPERATORS,
                wire::YOU_ARE_OP,
                wire::WRONG_OP_PASSWORD,
                wire::BANNED,
                wire::YOU_ARE_MUTED,
                wire::NO_TOPIC,
                wire::NO_BANS,
                wire::NOT_YOURSELF,
            ]
            .map(|l| l.trim_end().to_string()),
        )
        .collect()
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
