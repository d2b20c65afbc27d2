//! The words the room reads instead of relaying them: `/nick`, `/who`,
//! `/msg` and `/encoding` here (the name rules and the directory are in
//! [`super::names`]); the password and the operators' words in
//! [`super::ops`]. Part of the room's core: no I/O, the time passed in,
//! each answer an [`Entry`] for the member who asked or a notice for
//! everyone.

use std::time::Instant;

use super::core::{for_stderr, Room};
use super::entry::{Entry, Label};
use super::names::{self, Command, WHO_MAX};
use super::tongue::{self, Tongue};
use super::wire;

impl<C> Room<C> {
    /// A command of member `key` (a line whose first word is one of the
    /// room's, see [`names::command`]).
    pub(super) fn command(&mut self, key: usize, cmd: Command<'_>, now: Instant) {
        match cmd {
            Command::Nick(new) => self.nick(key, new, now),
            Command::Who => self.who(key, now),
            Command::Msg { to, text } => self.msg(key, to, text, now),
            Command::MsgUsage => self.tell(key, Entry::notice(wire::MSG_USAGE)),
            Command::Usage(how) => self.tell(key, Entry::notice(wire::usage(how))),
            Command::Encoding(label) => self.encoding(key, label),
            Command::Pass(pw) => self.pass(key, pw, now),
            Command::Op(pw) => self.op(key, pw, now),
            Command::Kick { who, reason } => self.kick(key, who, reason, now),
            Command::Mute { who, minutes } => self.mute(key, who, minutes, now),
            Command::Unmute(who) => self.unmute(key, who, now),
            Command::Ban { what, minutes } => self.ban(key, what, minutes, now),
            Command::Unban(what) => self.unban(key, what, now),
            Command::Bans => self.list_bans(key, now),
            Command::Topic(text) => self.topic(key, text, now),
        }
    }

    /// `/nick NAME` (or `/nick` alone, back to `ip:port`): taken and
    /// announced to everyone, or refused to the member alone.
    fn nick(&mut self, key: usize, new: Option<&[u8]>, now: Instant) {
        if self.silenced(key, now) {
            return;
        }
        let Some(m) = self.members.get(key).filter(|m| m.nick.as_deref() != new) else {
            return; // already so
        };
        let (tongue, name) = (m.tongue, m.name.clone());
        let old_key = m.nick_key.clone();
        let new_key = match new {
            Some(nick) => {
                let taken = names::check(nick).and_then(|()| {
                    let k = tongue::name_key(nick, tongue);
                    self.directory
                        .rename(key, old_key.as_deref(), &k)
                        .map(|()| k)
                });
                match taken {
                    Ok(k) => Some(k),
                    Err(why) => {
                        let refused = Entry::named(wire::nick_refused(nick, why)).in_tongue(tongue);
                        return self.tell_counted(key, refused, now);
                    }
                }
            }
            None => {
                if let Some(o) = &old_key {
                    self.directory.release(key, o);
                }
                None
            }
        };
        let before = self.rename(key, new, new_key);
        let notice = Entry::renamed(&before, new.unwrap_or(name.as_bytes())).in_tongue(tongue);
        self.say_renamed(&notice);
        self.notice(notice, 0, now);
    }

    /// The `/who` answer, to the member who asked alone: at most
    /// [`WHO_MAX`] members, in the order they joined, operators marked `@`,
    /// each name written in the asker's encoding.
    fn who(&mut self, key: usize, now: Instant) {
        let Some(to) = self.members.get(key).map(|m| m.tongue) else {
            return;
        };
        let listed = self.roster(WHO_MAX, to);
        let more = self.present().saturating_sub(listed.len());
        let answer = Entry::who(self.present(), listed, more);
        self.tell_counted(key, answer, now);
    }

    /// `/msg NAME text`: to that member alone, or `! no member NAME` back.
    /// NAME is read in the sender's encoding, so a name typed in GBK finds
    /// the member who took it in UTF-8.
    fn msg(&mut self, key: usize, to: &[u8], text: &[u8], now: Instant) {
        if self.silenced(key, now) {
            return;
        }
        let Some(m) = self.members.get(key) else {
            return;
        };
        let tongue = m.tongue;
        match self.find_named(key, to) {
            Some(to) => {
                let line = Entry::private(&self.members[key].label, text).in_tongue(tongue);
                self.tell_counted(to, line, now);
            }
            None => {
                let answer = Entry::named(wire::no_member(to)).in_tongue(tongue);
                self.tell_counted(key, answer, now);
            }
        }
    }

    /// The member `who` names, as member `key` typed it: a name (read in
    /// `key`'s encoding, compared as text) or an `ip:port`.
    pub(super) fn find_named(&self, key: usize, who: &[u8]) -> Option<usize> {
        let tongue = self.members.get(key).map_or(Tongue::Unknown, |m| m.tongue);
        self.directory
            .find(&tongue::name_key(who, tongue))
            .or_else(|| self.directory.find(who))
    }

    /// `/encoding LABEL`: this member's encoding from now on (`bytes`: its
    /// lines pass unchanged); `/encoding` alone says which it is.
    fn encoding(&mut self, key: usize, label: Option<&[u8]>) {
        let named = match label {
            None => None,
            Some(l) => match std::str::from_utf8(l).ok().and_then(Tongue::named) {
                Some(t) => Some(t),
                None => return self.tell(key, Entry::named(wire::unknown_encoding(l))),
            },
        };
        if let Some(t) = named {
            self.set_tongue(key, t);
        }
        if let Some(m) = self.members.get(key) {
            let name = if self.config.relay_bytes {
                Tongue::Bytes.name()
            } else {
                m.tongue.name()
            };
            self.tell(key, Entry::notice(wire::encoding(name)));
        }
    }

    /// Member `key`'s encoding is now `tongue` (learnt or set): its name,
    /// kept in its old encoding, is written in the new one, and the feed's
    /// forms in it are what it is sent.
    pub(super) fn set_tongue(&mut self, key: usize, t: Tongue) {
        let t = if self.config.relay_bytes {
            Tongue::Bytes
        } else {
            t
        };
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        let old = std::mem::replace(&mut m.tongue, t);
        if let (Some(nick), Some(from), Some(to)) = (m.nick.clone(), old.known(), t.known()) {
            if let Some(text) = from.decode_without_bom_handling_and_without_replacement(&nick) {
                let again = tongue::encode(&text, to);
                if names::check(&again).is_ok() {
                    m.label = wire::label(Some(&again), &m.name).into();
                    m.nick = Some(again.into());
                }
            }
        }
        let slot = match t.known() {
            Some(to) if !m.page => self.feed.slot(to),
            _ => None,
        };
        m.outbox.set_slot(slot);
    }

    // ---- names ------------------------------------------------------------

    /// Gives member `key` a new nick (already taken in the directory as
    /// `nick_key`): returns its label before.
    pub(super) fn rename(
        &mut self,
        key: usize,
        nick: Option<&[u8]>,
        nick_key: Option<Vec<u8>>,
    ) -> Label {
        let m = &mut self.members[key];
        let label: Label = wire::label(nick, &m.name).into();
        m.nick = nick.map(Into::into);
        m.nick_key = nick_key;
        std::mem::replace(&mut m.label, label)
    }

    /// The labels of the first `max` members, in the order they joined,
    /// an operator's with `@` before it, written for a member in `to`.
    pub(super) fn roster(&self, max: usize, to: Tongue) -> Vec<Label> {
        self.roster
            .values()
            .take(max)
            .filter_map(|k| self.members.get(*k))
            .map(|m| {
                let label = m.label_in(to);
                if m.op {
                    [&b"@"[..], &label].concat().into()
                } else {
                    label
                }
            })
            .collect()
    }

    pub(super) fn say_renamed(&mut self, notice: &Entry) {
        let wire = notice.wire();
        let line = for_stderr(wire.strip_suffix(b"\n").unwrap_or(wire));
        self.say(line);
    }
}
