//! The words the room reads instead of relaying them: `/nick`, `/who` and
//! `/msg` (the name rules and the directory are in [`super::names`]).
//! Part of the room's core: no I/O, the time passed in, each answer an
//! [`Entry`] for the member who asked or a notice for everyone.

use std::time::Instant;

use super::core::Room;
use super::entry::Entry;
use super::names::{self, Command, WHO_MAX};
use super::wire;

impl<C> Room<C> {
    /// A line of member `key` that is a command (its first word is one of
    /// the room's, see [`names::command`]).
    pub(super) fn command(&mut self, key: usize, line: &[u8], now: Instant) {
        let Some(cmd) = names::command(line) else {
            return;
        };
        match cmd {
            Command::Nick(new) => self.nick(key, new, now),
            Command::Who => self.who(key, now),
            Command::Msg { to, text } => self.msg(key, to, text, now),
            Command::MsgUsage => self.tell(key, Entry::notice(wire::MSG_USAGE)),
        }
    }

    /// `/nick NAME` (or `/nick` alone, back to `ip:port`): taken and
    /// announced to everyone, or refused to the member alone.
    fn nick(&mut self, key: usize, new: Option<&[u8]>, now: Instant) {
        let Some((_, name, old)) = self.who_is(key) else {
            return;
        };
        if old == new {
            return; // already so
        }
        let (name, old) = (name.to_string(), old.map(<[u8]>::to_vec));
        match new {
            Some(nick) => {
                if let Err(why) = self.directory.rename(key, old.as_deref(), nick) {
                    let refused = Entry::named(wire::nick_refused(nick, why));
                    return self.tell_counted(key, refused, now);
                }
            }
            None => {
                if let Some(o) = &old {
                    self.directory.release(key, o);
                }
            }
        }
        let before = self.rename(key, new);
        let notice = Entry::renamed(&before, new.unwrap_or(name.as_bytes()));
        self.say_renamed(&notice);
        self.notice(notice, 0, now);
    }

    /// The `/who` answer, to the member who asked alone: at most
    /// [`WHO_MAX`] members, in the order they joined.
    fn who(&mut self, key: usize, now: Instant) {
        let listed = self.roster(WHO_MAX);
        let more = self.len().saturating_sub(listed.len());
        let answer = Entry::who(self.len(), listed, more);
        self.tell_counted(key, answer, now);
    }

    /// `/msg NAME text`: to that member alone, or `! no member NAME` back.
    fn msg(&mut self, key: usize, to: &[u8], text: &[u8], now: Instant) {
        match self.directory.find(to) {
            Some(to) => {
                let Some((from, ..)) = self.who_is(key) else {
                    return;
                };
                let line = Entry::private(from, text);
                self.tell_counted(to, line, now);
            }
            None => self.tell_counted(key, Entry::named(wire::no_member(to)), now),
        }
    }
}
