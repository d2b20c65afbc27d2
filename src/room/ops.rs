//! The room's gate and its operators: `/pass` (a room with `--password`
//! holds a member back until it gives it), `/op`, and what an operator
//! can do: `/kick`, `/mute`, `/unmute`, `/ban`, `/unban`, `/bans`,
//! `/topic`. Part of the room's core: no I/O, the time passed in.
//!
//! ```text
//! join ──(--password)──▶ waiting: told `! password required`, nothing of the room,
//!                         what it sends dropped ──/pass right──▶ let in: announced,
//!                         history, topic           ──/pass wrong──▶ counted per address
//!                                                   (5 a minute: refused a minute)
//! /op right ──▶ operator: @ in /who, `[WHO] became an operator` to everyone
//! operator's action ──▶ a notice everyone sees + stderr + --history-file
//! ```

use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use super::access::{self, Ban, BanError};
use super::core::{for_stderr, Leave, Room, Writing};
use super::entry::Entry;
use super::tongue::Tongue;
use super::wire;

impl<C> Room<C> {
    /// Whether member `key` is an operator; if not, it is told so.
    fn operator(&mut self, key: usize, word: &str) -> bool {
        if self.members.get(key).is_some_and(|m| m.op) {
            return true;
        }
        self.tell(key, Entry::notice(wire::only_operators(word)));
        false
    }

    /// An operator's action: on stderr and in the chat log, as a notice.
    fn action(&mut self, line: &[u8]) {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        self.say(for_stderr(text));
        self.history.log(line, SystemTime::now());
    }

    /// Member `key`'s label written in `to` (as it is when either
    /// encoding is not known).
    fn label_in(&self, key: usize, to: Tongue) -> Vec<u8> {
        self.members
            .get(key)
            .map_or_else(Vec::new, |m| m.label_in(to).to_vec())
    }

    /// The members `who` names, as operator `key` typed it: a name or an
    /// `ip:port` (one member in the room), or an address (every
    /// connection from it, members waiting for the password too).
    fn targets(&self, key: usize, who: &[u8]) -> Vec<usize> {
        if let Some(k) = self.find_named(key, who) {
            return vec![k];
        }
        let Some(ip) = std::str::from_utf8(who)
            .ok()
            .and_then(|w| w.parse::<std::net::IpAddr>().ok())
        else {
            return Vec::new();
        };
        let ip = access::canonical(ip);
        self.members
            .iter()
            .filter(|(_, m)| !m.leaving && access::canonical(m.addr.ip()) == ip)
            .map(|(k, _)| k)
            .collect()
    }

    /// The members operator `key` aims at, or `None` after telling it why
    /// not (nobody, or itself).
    fn aimed(&mut self, key: usize, who: &[u8]) -> Option<Vec<usize>> {
        let targets = self.targets(key, who);
        if targets.is_empty() {
            let tongue = self.members[key].tongue;
            self.tell(key, Entry::named(wire::no_member(who)).in_tongue(tongue));
            return None;
        }
        if targets.contains(&key) {
            self.tell(key, Entry::notice(wire::NOT_YOURSELF));
            return None;
        }
        Some(targets)
    }

    /// Removes member `t` for operator `key`: everyone in the room is told
    /// (`[WHO] was removed by OP: reason`); it is told `goodbye` (or the
    /// same line) and closed.
    fn remove_for(
        &mut self,
        key: usize,
        t: usize,
        reason: &[u8],
        goodbye: Option<&str>,
        now: Instant,
    ) {
        let to = self.members[key].tongue;
        let op = self.label_in(key, to);
        let who = self.label_in(t, to);
        let line = wire::removed(&who, &op, reason);
        if !self.members[t].waiting {
            let notice = Entry::removed(&who, line.clone()).in_tongue(to);
            self.notice(notice, 0, now);
        }
        self.action(&line);
        // One in the room reads the line in the feed, written out before
        // it is closed; one waiting outside is told it last.
        let goodbye = match goodbye {
            Some(g) => g.as_bytes().to_vec(),
            None if self.members[t].waiting => line,
            None => Vec::new(),
        };
        self.fail(t, Leave::Removed(goodbye));
    }

    // ---- the password ----------------------------------------------------

    /// `/pass PASSWORD`.
    pub(super) fn pass(&mut self, key: usize, given: &[u8], now: Instant) {
        let Some(secret) = self.config.password.clone() else {
            return self.tell(key, Entry::notice(wire::NO_PASSWORD));
        };
        let Some(m) = self.members.get(key) else {
            return;
        };
        let (ip, waiting) = (m.addr.ip(), m.waiting);
        if given.is_empty() {
            // `/pass` alone: how, not a guess.
            return self.tell(key, Entry::notice(wire::PASSWORD_REQUIRED));
        }
        if self.guesses.locked(ip, now) {
            return self.refused_guessing(key, waiting);
        }
        if access::same_secret(given, &secret) {
            self.tell(key, Entry::notice(wire::PASSWORD_ACCEPTED));
            if waiting {
                self.let_in(key, now);
            }
        } else if self.guesses.wrong(ip, now) {
            self.say(format!(
                "[{ip}] too many wrong passwords: refused for a minute"
            ));
            self.refused_guessing(key, waiting);
        } else {
            self.tell(key, Entry::notice(wire::WRONG_PASSWORD));
        }
    }

    /// An address that guessed too often: a waiting member is told and
    /// closed; one in the room is told.
    fn refused_guessing(&mut self, key: usize, waiting: bool) {
        if waiting {
            self.fail(key, Leave::Removed(wire::TOO_MANY_WRONG.into()));
        } else {
            self.tell(key, Entry::notice(wire::TOO_MANY_WRONG));
        }
    }

    /// A waiting member gave the password: it joins the room as any member
    /// joins (announced, told the history and the topic).
    fn let_in(&mut self, key: usize, now: Instant) {
        let Some(m) = self.members.get_mut(key) else {
            return;
        };
        m.waiting = false;
        self.waiting -= 1;
        let (id, name) = (m.outbox.id(), m.name.clone());
        self.notice(Entry::entered(name.as_bytes()), id, now);
        let m = &mut self.members[key];
        m.outbox.skip_feed(&self.feed);
        if m.writing == Writing::Idle && !m.in_idle {
            m.in_idle = true;
            self.idle.push((key, id));
        }
        self.directory.joined(key, &name);
        self.roster.insert(id, key);
        let line = format!(
            "[{name}] entered room, with the password ({} in room)",
            self.present()
        );
        self.say(line);
        self.tell_history(key);
    }

    // ---- operators -----------------------------------------------------------

    /// `/op PASSWORD`.
    pub(super) fn op(&mut self, key: usize, given: &[u8], now: Instant) {
        let Some(secret) = self.config.op_password.clone() else {
            return self.tell(key, Entry::notice(wire::NO_OPERATORS));
        };
        let Some(m) = self.members.get(key) else {
            return;
        };
        let (ip, already) = (m.addr.ip(), m.op);
        if self.guesses.locked(ip, now) {
            return self.tell(key, Entry::notice(wire::TOO_MANY_WRONG));
        }
        if !access::same_secret(given, &secret) {
            let notice = if self.guesses.wrong(ip, now) {
                self.say(format!(
                    "[{ip}] too many wrong operator passwords: refused for a minute"
                ));
                wire::TOO_MANY_WRONG
            } else {
                wire::WRONG_OP_PASSWORD
            };
            return self.tell(key, Entry::notice(notice));
        }
        self.tell(key, Entry::notice(wire::YOU_ARE_OP));
        if already {
            return;
        }
        let m = &mut self.members[key];
        m.op = true;
        let (tongue, label) = (m.tongue, m.label.clone());
        let notice = Entry::opped(&label).in_tongue(tongue);
        self.action(notice.wire());
        // To everyone, itself too (its member list marks it).
        self.notice(notice, 0, now);
    }

    /// `/kick NAME|ADDR [reason]`.
    pub(super) fn kick(&mut self, key: usize, who: &[u8], reason: &[u8], now: Instant) {
        if !self.operator(key, "/kick") {
            return;
        }
        let Some(targets) = self.aimed(key, who) else {
            return;
        };
        for t in targets {
            self.remove_for(key, t, reason, None, now);
        }
    }

    /// `/mute NAME|ADDR [MINUTES]`.
    pub(super) fn mute(&mut self, key: usize, who: &[u8], minutes: Option<u32>, now: Instant) {
        if !self.operator(key, "/mute") {
            return;
        }
        let Some(targets) = self.aimed(key, who) else {
            return;
        };
        let until = minutes.map(|m| now + Duration::from_secs(u64::from(m) * 60));
        for t in targets {
            let m = &mut self.members[t];
            m.muted = Some(until);
            m.told_muted = false;
            // Kept for its address too: leaving and coming back does not
            // lift it.
            let ip = access::canonical(m.addr.ip());
            self.muted_hosts.insert(ip, until);
            self.announce(key, t, |who, op| wire::muted(who, op, minutes), now);
        }
    }

    /// `/unmute NAME|ADDR`.
    pub(super) fn unmute(&mut self, key: usize, who: &[u8], now: Instant) {
        if !self.operator(key, "/unmute") {
            return;
        }
        let Some(targets) = self.aimed(key, who) else {
            return;
        };
        for t in targets {
            let m = &mut self.members[t];
            m.muted = None;
            let ip = access::canonical(m.addr.ip());
            self.muted_hosts.remove(&ip);
            self.announce(key, t, wire::unmuted, now);
        }
    }

    /// An operator `key`'s action on member `t`, told to everyone in the
    /// room (in the operator's encoding) and written down.
    fn announce(
        &mut self,
        key: usize,
        t: usize,
        line: impl Fn(&[u8], &[u8]) -> Vec<u8>,
        now: Instant,
    ) {
        let to = self.members[key].tongue;
        let line = line(&self.label_in(t, to), &self.label_in(key, to));
        self.action(&line);
        if !self.members[t].waiting {
            self.notice(Entry::named(line).in_tongue(to), 0, now);
        }
    }

    /// Whether member `key` is muted now (told so once); a mute whose time
    /// is up is lifted.
    pub(super) fn silenced(&mut self, key: usize, now: Instant) -> bool {
        let Some(m) = self.members.get_mut(key) else {
            return true;
        };
        match m.muted {
            None => false,
            Some(Some(until)) if until <= now => {
                m.muted = None;
                false
            }
            Some(_) => {
                if !std::mem::replace(&mut m.told_muted, true) {
                    self.tell(key, Entry::notice(wire::YOU_ARE_MUTED));
                }
                true
            }
        }
    }

    /// `/ban ADDR|CIDR [MINUTES]`: members from it are removed, new
    /// connections from it refused.
    pub(super) fn ban(&mut self, key: usize, what: &[u8], minutes: Option<u32>, now: Instant) {
        if !self.operator(key, "/ban") {
            return;
        }
        let text = String::from_utf8_lossy(what);
        let net = match access::parse_net(&text) {
            Ok(net) => net,
            // A member's name or `ip:port`: its address.
            Err(BanError::NotAnAddress) => match self.member_net(key, what) {
                Some(net) => net,
                None => return self.tell(key, Entry::named(wire::not_an_address(what))),
            },
            Err(BanError::TooWide(widest)) => {
                return self.tell(key, Entry::named(wire::too_wide(what, widest)));
            }
        };
        let me = access::canonical(self.members[key].addr.ip());
        if net.contains(&me) {
            return self.tell(key, Entry::notice(wire::NOT_YOURSELF));
        }
        let by = self.members[key].shown();
        self.bans.add(Ban {
            net,
            until: minutes.map(|m| now + Duration::from_secs(u64::from(m) * 60)),
            by,
        });
        let to = self.members[key].tongue;
        let line = wire::banned(&net.to_string(), &self.label_in(key, to), minutes);
        self.action(&line);
        self.notice(Entry::named(line).in_tongue(to), 0, now);
        let inside: Vec<usize> = self
            .members
            .iter()
            .filter(|(_, m)| !m.leaving && net.contains(&access::canonical(m.addr.ip())))
            .map(|(k, _)| k)
            .collect();
        for t in inside {
            self.remove_for(key, t, b"banned", Some(wire::BANNED), now);
        }
    }

    /// The address (as a /32 or /128) of the member `who` names, as
    /// operator `key` typed it (`/ban 小明`).
    fn member_net(&self, key: usize, who: &[u8]) -> Option<ipnet::IpNet> {
        let t = self.find_named(key, who)?;
        let ip = access::canonical(self.members.get(t)?.addr.ip());
        Some(ipnet::IpNet::from(ip))
    }

    /// Whether a member joining from `ip` is muted: an operator muted a
    /// member from there, for a time not yet up.
    pub(super) fn muted_from(
        &mut self,
        ip: std::net::IpAddr,
        now: Instant,
    ) -> Option<Option<Instant>> {
        let ip = access::canonical(ip);
        match self.muted_hosts.get(&ip) {
            Some(Some(until)) if *until <= now => {
                self.muted_hosts.remove(&ip);
                None
            }
            Some(until) => Some(*until),
            None => None,
        }
    }

    /// `/unban ADDR|CIDR`: lifts the ban on exactly that.
    pub(super) fn unban(&mut self, key: usize, what: &[u8], now: Instant) {
        if !self.operator(key, "/unban") {
            return;
        }
        let text = String::from_utf8_lossy(what);
        let Ok(net) = access::parse_net(&text) else {
            return self.tell(key, Entry::named(wire::not_an_address(what)));
        };
        if !self.bans.remove(net, now) {
            return self.tell(key, Entry::notice(wire::no_ban(&net.to_string())));
        }
        let to = self.members[key].tongue;
        let line = wire::unbanned(&net.to_string(), &self.label_in(key, to));
        self.action(&line);
        self.notice(Entry::named(line).in_tongue(to), 0, now);
    }

    /// `/bans`: the bans in force, to the operator who asked.
    pub(super) fn list_bans(&mut self, key: usize, now: Instant) {
        if !self.operator(key, "/bans") {
            return;
        }
        let bans = self.bans.list(now);
        let answer = if bans.is_empty() {
            wire::NO_BANS.to_string()
        } else {
            let mut out = wire::bans(bans.len());
            for b in bans {
                let left = b
                    .until
                    .map(|u| u.saturating_duration_since(now).as_secs().div_ceil(60));
                out.push_str(&wire::ban(&b.net.to_string(), left, &b.by));
            }
            out
        };
        self.tell_counted(key, Entry::notice(answer), now);
    }

    /// `/topic TEXT` (operators): told to everyone now and to each member
    /// who joins; `/topic` alone: the topic, to the member who asked.
    pub(super) fn topic(&mut self, key: usize, text: Option<&[u8]>, now: Instant) {
        let Some(text) = text else {
            let topic = self
                .topic
                .clone()
                .unwrap_or_else(|| Rc::new(Entry::notice(wire::NO_TOPIC)));
            return self.tell_counted(key, Rc::unwrap_or_clone(topic), now);
        };
        if !self.operator(key, "/topic") {
            return;
        }
        let to = self.members[key].tongue;
        let entry = Entry::named(wire::topic(text)).in_tongue(to);
        let mut said = b"[".to_vec();
        said.extend(self.label_in(key, to));
        said.extend(b"] set the topic: ");
        said.extend(text);
        said.push(b'\n');
        self.action(&said);
        self.topic = Some(Rc::new(entry.clone()));
        self.notice(entry, 0, now);
    }

    // ---- the bans file -----------------------------------------------------

    /// The bans as `--bans FILE` keeps them, when they changed since the
    /// last call (`wall`: the wall clock now).
    pub fn take_bans_file(&mut self, now: Instant, wall: SystemTime) -> Option<String> {
        self.bans.take_changed(now, wall)
    }

    /// Takes the bans read back from `--bans FILE`; returns the numbers of
    /// the lines that did not read.
    pub fn load_bans(&mut self, text: &str, now: Instant, wall: SystemTime) -> Vec<usize> {
        let (bans, bad) = access::from_file(text, now, wall);
        self.bans.load(bans, now);
        bad
    }
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
