//! Room mode: a `room-server` connection. Lines from the room are read
//! like room-client reads them ([`crate::room::client::Reader`]), parsed by
//! the room's [`wire`] module, decoded and sanitized; lines to it are
//! written by a thread of its own, so the window never waits on the socket.

use rust_i18n::t;
use std::borrow::Cow;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread;
use std::time::SystemTime;

use super::{Journal, Mode, SendError, Sink, Transport};
use crate::chat::{Drops, Event, Incoming, Member, Outgoing, User, Who};
use crate::clock::local_hms;
use crate::encoding::Encoding;
use crate::message;
use crate::net;
use crate::room::client::Reader;
use crate::room::framer::Frame;
use crate::room::wire::{self, Line};
use crate::room::words;
use crate::room::WHO_MAX;
use crate::sanitize;

/// What a line from the room does to the members pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shown {
    /// Whether the line is shown in the messages (the answer to the /who
    /// lanchat sent itself is not).
    show: bool,
    /// Whether the member list changed.
    changed: bool,
}

/// A WHO of the room (`NAME@ip:port` or `ip:port`), read once: its name
/// and its address. (An operator's `@` in a `/who` answer is taken off
/// first: see [`Members::take`].)
fn member(who: &str) -> Member {
    let (name, addr) = wire::split(who);
    Member {
        label: sanitize::one_line(who),
        name: name.map(sanitize::one_line),
        addr: addr.parse().ok().map(net::canonical),
    }
}

/// Who is in the room, as this member knows it: the answer to a `/who` and
/// the join, leave and name notices since.
#[derive(Debug, Default)]
struct Members {
    /// Each member, in the order they joined, and whether it is an
    /// operator.
    list: Vec<(Member, bool)>,
    /// While a `/who` answer is read: member lines still to come, and
    /// whether a `... and K more` line ends it.
    answer: Option<(usize, bool)>,
    /// Whether the next answer was asked for by lanchat (not shown).
    quiet: bool,
}

impl Members {
    /// Waiting for the answer to the `/who` sent on connecting.
    fn asked() -> Self {
        Members {
            quiet: true,
            ..Members::default()
        }
    }

    fn take(&mut self, line: &Line<'_, str>) -> Shown {
        let show = !(self.quiet && self.in_answer(line));
        let changed = match *line {
            Line::Members(n) => {
                self.list.clear();
                self.answer = Some((n.min(WHO_MAX), n > WHO_MAX));
                self.step(0);
                true
            }
            Line::Member(who) if self.answer.is_some() => {
                // An operator is listed as `@WHO` (a name never has an `@`).
                let (who, op) = match who.strip_prefix('@') {
                    Some(w) => (w, true),
                    None => (who, false),
                };
                self.list.push((member(who), op));
                self.step(1);
                true
            }
            Line::More(_) if self.in_answer(line) => {
                self.finish();
                false
            }
            Line::Entered(who) => {
                self.list.push((member(who), false));
                true
            }
            Line::Left(who) | Line::Removed(who) => {
                let who = sanitize::one_line(who);
                self.list.retain(|(m, _)| m.label != who);
                true
            }
            Line::Opped(who) => {
                let who = sanitize::one_line(who);
                for (_, op) in self.list.iter_mut().filter(|(m, _)| m.label == who) {
                    *op = true;
                }
                true
            }
            Line::Renamed { who, now } => {
                let (_, addr) = wire::split(who);
                let new = if now == addr {
                    member(addr)
                } else {
                    member(&format!("{now}@{addr}"))
                };
                let who = sanitize::one_line(who);
                for (m, _) in self.list.iter_mut().filter(|(m, _)| m.label == who) {
                    m.clone_from(&new);
                }
                true
            }
            _ => false,
        };
        Shown { show, changed }
    }

    /// Whether `line` is part of a `/who` answer.
    fn in_answer(&self, line: &Line<'_, str>) -> bool {
        matches!(
            (line, self.answer),
            (Line::Members(_), _) | (Line::Member(_), Some(_)) | (Line::More(_), Some((0, true)))
        )
    }

    /// `n` more member lines of the answer read.
    fn step(&mut self, n: usize) {
        if let Some((left, more)) = &mut self.answer {
            *left = left.saturating_sub(n);
            if *left == 0 && !*more {
                self.finish();
            }
        }
    }

    fn finish(&mut self) {
        self.answer = None;
        self.quiet = false;
    }

    /// The pane's list (an operator's group is [`crate::chat::OPERATOR`]).
    fn users(&self) -> Vec<User> {
        self.list
            .iter()
            .map(|(m, op)| User {
                nick: m.name.clone().unwrap_or_default(),
                group: if *op {
                    crate::chat::OPERATOR.to_string()
                } else {
                    String::new()
                },
                addr: m
                    .addr
                    .unwrap_or_else(|| SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0)),
                absent: false,
            })
            .collect()
    }
}

/// Lines queued for the room's writer at most; past it, sending is refused
/// (the room is not reading us) rather than blocking the window.
const ROOM_QUEUE: usize = 4096;

/// The room mode: a `room-server` connection.
pub struct Room {
    writer: SyncSender<Vec<u8>>,
    stream: TcpStream,
    label: String,
    journal: Option<Journal>,
}

impl Room {
    /// Starts reading and writing on a connected stream; `label` is the
    /// room's address as shown.
    ///
    /// # Errors
    /// When the stream cannot be shared between the threads.
    pub fn start(
        stream: TcpStream,
        label: String,
        decode: Encoding,
        journal: Option<Journal>,
        sink: Sink,
        nick: Option<Vec<u8>>,
    ) -> io::Result<Room> {
        let reader = stream.try_clone()?;
        let mut out = stream.try_clone()?;
        let (writer, lines) = mpsc::sync_channel::<Vec<u8>>(ROOM_QUEUE);
        let sink_w = sink.clone();
        thread::spawn(move || {
            for line in lines {
                if let Err(e) = out.write_all(&line) {
                    sink_w.send(Event::Disconnected(
                        t!("room.cannot_write", why = net::describe(&e)).into_owned(),
                    ));
                    return;
                }
            }
        });
        // The name given with --name, taken on joining (the room answers
        // like any /nick); then who is here already, for the members pane
        // (the answer is not shown in the messages). A room with a
        // password drops both until the user's /pass is taken: then they
        // are sent again.
        let mut hello = Vec::new();
        if let Some(mut nick) = nick {
            nick.push(b'\n');
            hello.push(nick);
        }
        hello.push(b"/who\n".to_vec());
        for line in &hello {
            let _ = writer.try_send(line.clone());
        }
        let room_journal = journal.clone();
        let again = Again {
            writer: writer.clone(),
            hello,
        };
        thread::spawn(move || read_room(reader, decode, room_journal, sink, again));
        Ok(Room {
            writer,
            stream,
            label,
            journal,
        })
    }
}

/// What is sent again once a room with a password lets this member in.
struct Again {
    writer: SyncSender<Vec<u8>>,
    hello: Vec<Vec<u8>>,
}

fn read_room(
    stream: TcpStream,
    decode: Encoding,
    journal: Option<Journal>,
    sink: Sink,
    again: Again,
) {
    let peer = stream
        .peer_addr()
        .map(|a| net::canonical(a).to_string())
        .unwrap_or_default();
    let mut reader = Reader::new(stream);
    let mut json = String::new();
    // The pane starts from the answer to the /who sent on connecting.
    let mut members = Members::asked();
    // Lines of the history the room tells a member who joins: said before,
    // so shown without a time (not as if said now), between dividers.
    let mut in_history = false;
    // A room with a password answers each line sent before `/pass` with
    // `! password required`: the answers to the lines lanchat sent itself
    // on joining (the name, the /who) are not shown again after the first.
    let (mut asked_password, mut echoes) = (false, again.hello.len());
    loop {
        let mut batch = Vec::new();
        let mut changed = false;
        // The time of arrival: taken once the read returned, once per read.
        let mut arrival: Option<(SystemTime, String)> = None;
        let read = reader.read(|frame| {
            let (now, hms) = arrival
                .get_or_insert_with(|| {
                    let now = SystemTime::now();
                    (now, local_hms(now))
                })
                .clone();
            let line = match frame {
                Frame::Line(line) => line,
                Frame::TooLong => {
                    batch.push(Incoming {
                        time: hms.clone(),
                        who: Who::Notice,
                        text: t!("window.line_cut").into_owned(),
                    });
                    return;
                }
            };
            let (text, malformed) = decode.decode(line);
            if text == wire::PASSWORD_REQUIRED.trim_end()
                && std::mem::replace(&mut asked_password, true)
                && echoes > 0
            {
                echoes -= 1;
                return;
            }
            if text == wire::PASSWORD_ACCEPTED.trim_end() {
                echoes = 0;
                members.quiet = true;
                for line in &again.hello {
                    let _ = again.writer.try_send(line.clone());
                }
            }
            let parsed = wire::parse(text.as_ref());
            let shown = members.take(&parsed);
            changed |= shown.changed;
            let divider = match parsed {
                Line::HistoryStart(k) => {
                    in_history = true;
                    Some(t!("room.history_divider", n = k).into_owned())
                }
                Line::HistoryEnd if in_history => {
                    in_history = false;
                    Some(t!("room.history_end_divider").into_owned())
                }
                _ => None,
            };
            if let Some(text) = divider {
                batch.push(Incoming {
                    time: String::new(),
                    who: Who::Notice,
                    text,
                });
                return;
            }
            // The room's notices in the reader's language (the log keeps
            // the room's own words).
            let (who, body) = match parsed {
                Line::Said { from, text } => (Who::Member(member(from)), Cow::Borrowed(text)),
                Line::Private { from, text } => (Who::Private(member(from)), Cow::Borrowed(text)),
                _ => (Who::Notice, words::shown(text.as_ref())),
            };
            let time = if in_history {
                String::new()
            } else {
                hms.clone()
            };
            if journal.is_some() {
                let record = message::Record {
                    ts: crate::clock::timestamp(now).into(),
                    from: match &who {
                        Who::Member(m) => m.label.as_str().into(),
                        _ => peer.as_str().into(),
                    },
                    text: text.as_ref().into(),
                    bytes: line.len(),
                    malformed,
                };
                record.push_json(&mut json);
            }
            if shown.show {
                batch.push(Incoming {
                    time,
                    who,
                    text: sanitize::one_line(&body),
                });
            }
        });
        if let Some(j) = &journal {
            j.write(&json);
            json.clear();
        }
        if changed && !sink.send(Event::Users(members.users())) {
            return;
        }
        if !batch.is_empty() && !sink.send(Event::Received(batch, Drops::default())) {
            return;
        }
        match read {
            Ok(true) => {}
            Ok(false) => {
                sink.send(Event::Disconnected(t!("room.closed").into_owned()));
                return;
            }
            Err(e) => {
                sink.send(Event::Disconnected(
                    t!("room.connection_lost", why = net::describe(&e)).into_owned(),
                ));
                return;
            }
        }
    }
}

impl Transport for Room {
    fn mode(&self) -> Mode {
        Mode::Room
    }

    fn send(
        &mut self,
        lines: &[Outgoing],
        _entries: &[u64],
        _to: Option<SocketAddr>,
        time: SystemTime,
    ) -> Result<Vec<String>, SendError> {
        let mut bytes = Vec::new();
        for l in lines {
            bytes.extend_from_slice(&l.bytes);
            bytes.push(b'\n');
        }
        match self.writer.try_send(bytes) {
            Ok(()) => {
                if let Some(j) = &self.journal {
                    for l in lines {
                        j.sent(&self.label, &l.text, l.bytes.len() + 1, time);
                    }
                }
                Ok(Vec::new())
            }
            Err(TrySendError::Full(_)) => Err(SendError(t!("room.busy").into_owned())),
            Err(TrySendError::Disconnected(_)) => {
                Err(SendError(t!("net.not_connected").into_owned()))
            }
        }
    }

    fn set_target(&mut self, _target: &str) -> Result<String, String> {
        Err(t!("room.no_to").into_owned())
    }

    fn target_label(&self) -> String {
        t!("room.target", room = self.label).into_owned()
    }

    fn close(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(m: &mut Members, lines: &[&str]) -> Vec<bool> {
        lines
            .iter()
            .map(|l| m.take(&wire::parse(*l)).show)
            .collect()
    }

    fn names(m: &Members) -> Vec<&str> {
        m.list.iter().map(|(m, _)| m.label.as_str()).collect()
    }

    #[test]
    fn the_pane_follows_the_who_answer_and_the_notices() {
        let mut m = Members::asked();
        let shown = feed(
            &mut m,
            &[
                "! 2 members:",
                "!   bob@10.0.0.2:5",
                "!   10.0.0.3:6",
                "[10.0.0.4:7] entered room",
                "[10.0.0.3:6] is now 老王",
                "[bob@10.0.0.2:5] left room",
                "[10.0.0.4:7] is now carol",
                "[carol@10.0.0.4:7] is now 10.0.0.4:7",
            ],
        );
        assert_eq!(
            shown,
            vec![false, false, false, true, true, true, true, true]
        );
        assert_eq!(names(&m), vec!["老王@10.0.0.3:6", "10.0.0.4:7"]);
        let users = m.users();
        assert_eq!(users[0].nick, "老王");
        assert_eq!(users[1].nick, "");
        assert_eq!(users[1].addr.to_string(), "10.0.0.4:7");
        // A /who the user typed is shown, and refreshes the list.
        let shown = feed(&mut m, &["! 1 members:", "!   x@10.0.0.9:1"]);
        assert_eq!(shown, vec![true, true]);
        assert_eq!(names(&m), vec!["x@10.0.0.9:1"]);
    }

    #[test]
    fn operators_are_marked_and_removed_members_leave_the_pane() {
        let mut m = Members::asked();
        feed(
            &mut m,
            &[
                "! 3 members:",
                "!   @teacher@10.0.0.2:5",
                "!   bob@10.0.0.3:6",
                "!   10.0.0.4:7",
                "[10.0.0.4:7] became an operator",
                "[bob@10.0.0.3:6] was removed by teacher@10.0.0.2:5: too loud",
            ],
        );
        assert_eq!(names(&m), vec!["teacher@10.0.0.2:5", "10.0.0.4:7"]);
        let users = m.users();
        assert_eq!(users[0].nick, "teacher");
        assert_eq!(users[0].group, crate::chat::OPERATOR);
        assert_eq!(users[1].group, crate::chat::OPERATOR);
        // A name change keeps the mark.
        feed(&mut m, &["[teacher@10.0.0.2:5] is now 老师"]);
        assert_eq!(m.users()[0].nick, "老师");
        assert_eq!(m.users()[0].group, crate::chat::OPERATOR);
    }

    #[test]
    fn a_long_answer_ends_with_how_many_more() {
        let mut m = Members::asked();
        let mut lines = vec!["! 250 members:".to_string()];
        lines.extend((0..WHO_MAX).map(|i| format!("!   10.0.{}.{}:1", i / 250, i % 250)));
        lines.push("!   ... and 50 more".into());
        lines.push("! slow down (max 5 lines/s)".into());
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let shown = feed(&mut m, &refs);
        assert!(
            shown[..shown.len() - 1].iter().all(|s| !s),
            "the answer is not shown"
        );
        assert!(shown[shown.len() - 1], "what follows is");
        assert_eq!(m.list.len(), WHO_MAX);
    }
}
