//! What a line typed in the input box does: a slash command of the window
//! (`/to`, `/alias`, `/clear`, `/help`, `/quit`), of the room (`/nick`,
//! `/who`, `/msg`, sent to the server), of files (`/send`, `/files`,
//! `/get`, `/drop`, `/cancel`), or lines to send, each checked and encoded
//! for the wire (strictly: a character the encoding cannot write, or a
//! line over the limit, refuses the whole text, which stays in the box).

use super::{Action, FileCommand, Level, Mode, Outgoing, Session, Who};
use crate::encoding::EncodeError;
use rust_i18n::t;

/// A typed line the session did not take: it stays in the input box, and
/// the status line says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The byte index to put the cursor on (the culprit), if any.
    pub at: Option<usize>,
}

/// The help shown by `/help`, a line each.
pub fn help() -> Vec<String> {
    t!("window.help").lines().map(str::to_string).collect()
}

/// The words a room-server reads (`/nick`, `/who`, `/msg`, `/encoding`
/// and the password and operators' words): in room mode they go to the
/// server as they are typed (a password is never shown as a sent line).
fn is_room_word(name: &str) -> bool {
    matches!(
        name,
        "nick"
            | "who"
            | "msg"
            | "encoding"
            | "pass"
            | "op"
            | "kick"
            | "mute"
            | "unmute"
            | "ban"
            | "unban"
            | "bans"
            | "topic"
    )
}

impl Session {
    /// The user pressed Enter on `text`: what to do, or why not (the text
    /// then stays in the box).
    ///
    /// # Errors
    /// [`Refused`] when the text is not taken: an unknown or malformed
    /// command, a character the encoding cannot write, a line too long.
    pub fn submit(&mut self, text: &str) -> Result<Vec<Action>, Refused> {
        let taken = self.take(text);
        // A refusal is over once a line or command is taken: the status
        // says how things stand now (a warning of the network stays).
        if taken.is_ok() && self.status().is_some_and(|(l, _)| *l == Level::Error) {
            self.clear_status();
        }
        taken
    }

    fn take(&mut self, text: &str) -> Result<Vec<Action>, Refused> {
        if let Some(rest) = text.strip_prefix('/') {
            if !rest.starts_with('/') {
                return self.command(text, rest);
            }
        }
        // `//text` sends `/text`.
        let body = text
            .strip_prefix("//")
            .map(|r| format!("/{r}"))
            .unwrap_or_else(|| text.to_string());
        let shift = text.len() - body.len();
        let lines = self.encode_lines(&body).map_err(|(at, why)| {
            self.set_status(Level::Error, why);
            Refused {
                at: Some(at + shift),
            }
        })?;
        let mut actions = vec![Action::Send(lines)];
        if body == "88" {
            self.leave(0);
            actions.push(Action::Quit(0));
        }
        Ok(actions)
    }

    /// Encodes each line of `text` (a paste may hold several). On failure:
    /// the byte index of the culprit and why.
    fn encode_lines(&self, text: &str) -> Result<Vec<Outgoing>, (usize, String)> {
        let wire = self.wire();
        let mut out = Vec::new();
        let mut offset = 0;
        for line in text.split('\n') {
            let bytes = match wire.encoding.encode(line) {
                Ok(b) => b,
                Err(EncodeError::Unmappable { ch, label }) => {
                    let at = offset + line.find(ch).unwrap_or(0);
                    return Err((
                        at,
                        t!(
                            "window.unmappable",
                            ch = ch,
                            code = format!("{:04X}", ch as u32),
                            label = label
                        )
                        .into_owned(),
                    ));
                }
            };
            if bytes.len() > wire.max_bytes {
                let at = offset + self.first_over_limit(line);
                return Err((
                    at,
                    t!("window.too_long", bytes = bytes.len(), max = wire.max_bytes).into_owned(),
                ));
            }
            out.push(Outgoing {
                text: line.to_string(),
                bytes,
            });
            offset += line.len() + 1;
        }
        Ok(out)
    }

    /// Byte index of the first character that takes `line` over the limit.
    fn first_over_limit(&self, line: &str) -> usize {
        let wire = self.wire();
        let mut total = 0;
        for (i, ch) in line.char_indices() {
            total += wire
                .encoding
                .encode(ch.encode_utf8(&mut [0; 4]))
                .map(|b| b.len())
                .unwrap_or(4);
            if total > wire.max_bytes {
                return i;
            }
        }
        line.len()
    }

    /// An error on the status line; the text stays.
    fn refuse(&mut self, why: impl Into<String>) -> Result<Vec<Action>, Refused> {
        self.set_status(Level::Error, why.into());
        Err(Refused { at: None })
    }

    /// `/NAME ARG`: `text` is the whole line, `rest` what follows the `/`.
    fn command(&mut self, text: &str, rest: &str) -> Result<Vec<Action>, Refused> {
        let (name, arg) = match rest.split_once(char::is_whitespace) {
            Some((n, a)) => (n, a.trim()),
            None => (rest, ""),
        };
        let mode = self.info().mode;
        if mode == Mode::Room && is_room_word(name) {
            return self.room_command(text);
        }
        if mode == Mode::Ipmsg {
            if let Some(done) = self.file_command(name, arg) {
                return done;
            }
        } else if matches!(name, "send" | "files" | "get" | "drop" | "cancel") {
            return self.refuse(t!("files.need_ipmsg"));
        }
        match name {
            "quit" | "q" => {
                self.leave(0);
                Ok(vec![Action::Quit(0)])
            }
            "help" => {
                for line in help() {
                    self.note(line);
                }
                Ok(Vec::new())
            }
            "clear" => {
                self.log.clear();
                Ok(Vec::new())
            }
            "to" if arg.is_empty() => {
                let target = self.info().target.clone();
                self.set_status(
                    Level::Info,
                    t!("window.sending_to", target = target).into_owned(),
                );
                Ok(Vec::new())
            }
            "to" if mode == Mode::Ipmsg && self.users().is_some() => {
                // IP Messenger: a nick or an address of a user online.
                let hit = self
                    .users()
                    .into_iter()
                    .flatten()
                    .find(|u| u.nick == arg || u.addr.ip().to_string() == arg)
                    .map(|u| u.addr);
                match (arg, hit) {
                    ("*" | "all" | "everyone", _) => self.select(None),
                    (_, Some(addr)) => self.select(Some(addr)),
                    (_, None) => return self.refuse(t!("window.nobody_called", name = arg)),
                }
                Ok(Vec::new())
            }
            "to" => Ok(vec![Action::SetTarget(arg.to_string())]),
            "alias" => {
                let mut parts = arg.splitn(2, char::is_whitespace);
                let ip = parts.next().unwrap_or("");
                let name = parts.next().unwrap_or("").trim();
                match crate::cli::bind_addr(ip) {
                    Ok(ip) if name.is_empty() => {
                        self.unalias(ip);
                        self.set_status(
                            Level::Info,
                            t!("window.alias_removed", ip = ip).into_owned(),
                        );
                    }
                    Ok(ip) => {
                        self.alias(ip, name);
                        self.set_status(
                            Level::Info,
                            t!("window.alias_set", ip = ip, name = name).into_owned(),
                        );
                    }
                    Err(_) => return self.refuse(t!("window.alias_usage")),
                }
                Ok(Vec::new())
            }
            _ => {
                let shown = crate::sanitize::one_line(name);
                self.refuse(t!("window.unknown_command", name = shown))
            }
        }
    }

    /// `/nick`, `/who`, `/msg` in room mode: the line goes to the server,
    /// which answers; a private line is shown as one.
    fn room_command(&mut self, text: &str) -> Result<Vec<Action>, Refused> {
        match self.encode_lines(text) {
            Ok(mut lines) if lines.len() == 1 => Ok(vec![Action::Command(lines.remove(0))]),
            Ok(_) => self.refuse(t!("window.one_command")),
            Err((at, why)) => {
                self.set_status(Level::Error, why);
                Err(Refused { at: Some(at) })
            }
        }
    }

    /// `/send`, `/files`, `/get`, `/drop`, `/cancel` (IP Messenger mode);
    /// `None` for any other word.
    fn file_command(&mut self, name: &str, arg: &str) -> Option<Result<Vec<Action>, Refused>> {
        let number = || -> Option<u64> {
            arg.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()
        };
        let cmd = match name {
            "send" => {
                let paths = split_paths(arg);
                if paths.is_empty() {
                    return Some(self.refuse(t!("files.send_usage")));
                }
                FileCommand::Send(paths)
            }
            "get" | "drop" | "cancel" => {
                let Some(n) = number() else {
                    return Some(self.refuse(t!("files.number_usage", name = name)));
                };
                match name {
                    "get" => FileCommand::Get(n),
                    "drop" => FileCommand::Drop(n),
                    _ => FileCommand::Cancel(n),
                }
            }
            "files" => {
                let waiting = self.waiting_offers();
                if waiting.is_empty() {
                    self.set_status(Level::Info, t!("files.none_waiting").into_owned());
                }
                for (_, base) in waiting {
                    self.note(base);
                }
                return Some(Ok(Vec::new()));
            }
            _ => return None,
        };
        Some(Ok(vec![Action::Files(cmd)]))
    }

    /// A room command went out at `time`: a private line is shown as the
    /// user's own, `→ NAME: text` (the server sends nothing back for it);
    /// `/nick` and `/who` are answered by the server.
    pub fn command_sent(&mut self, time: String, line: &Outgoing) {
        let Some(rest) = line.text.strip_prefix("/msg ") else {
            return;
        };
        if let Some((to, said)) = rest.trim_start().split_once(' ') {
            let shown = format!("→ {to}: {}", said.trim_start());
            self.log
                .push(time, Who::Me, crate::sanitize::one_line(&shown), None);
        }
    }
}

/// The paths of `/send`: separated by spaces; a path with spaces in
/// quotes (`"my file.txt"` or `'my file.txt'`, as terminals paste a
/// dropped file); a leading `~/` is the home folder. (No backslash
/// escapes: on Windows `\` is the path separator.)
pub fn split_paths(text: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|p| match (p.strip_prefix("~/"), dirs::home_dir()) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => std::path::PathBuf::from(p),
        })
        .collect()
}
