//! Room mode: a `room-server` connection. Lines from the room are read
//! like room-client reads them ([`crate::room::client::Reader`]), parsed by
//! the room's [`wire`] module, decoded and sanitized; lines to it are
//! written by a thread of its own, so the window never waits on the socket.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread;
use std::time::SystemTime;

use super::{Journal, Mode, SendError, Sink, Transport};
use crate::chat::{Drops, Event, Incoming, Outgoing, Who};
use crate::encoding::Encoding;
use crate::message::{self, local_hms};
use crate::net;
use crate::room::client::Reader;
use crate::room::framer::Frame;
use crate::room::wire::{self, Line};
use crate::sanitize;

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
    ) -> io::Result<Room> {
        let reader = stream.try_clone()?;
        let mut out = stream.try_clone()?;
        let (writer, lines) = mpsc::sync_channel::<Vec<u8>>(ROOM_QUEUE);
        let sink_w = sink.clone();
        thread::spawn(move || {
            for line in lines {
                if let Err(e) = out.write_all(&line) {
                    sink_w.send(Event::Disconnected(format!(
                        "cannot write to the room: {}",
                        net::describe(&e)
                    )));
                    return;
                }
            }
        });
        let room_journal = journal.clone();
        thread::spawn(move || read_room(reader, decode, room_journal, sink));
        Ok(Room {
            writer,
            stream,
            label,
            journal,
        })
    }
}

fn read_room(stream: TcpStream, decode: Encoding, journal: Option<Journal>, sink: Sink) {
    let peer = stream
        .peer_addr()
        .map(|a| net::canonical(a).to_string())
        .unwrap_or_default();
    let mut reader = Reader::new(stream);
    let mut json = String::new();
    loop {
        let mut batch = Vec::new();
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
                        text: "(a line too long to show was cut)".into(),
                    });
                    return;
                }
            };
            let (text, malformed) = decode.decode(line);
            let (who, body) = match wire::parse(text.as_ref()) {
                Line::Said { from, text } => (Who::Member(sanitize::line(from)), text),
                Line::Notice(text) => (Who::Notice, text),
            };
            if journal.is_some() {
                let record = message::Record {
                    ts: message::timestamp(now).into(),
                    from: match &who {
                        Who::Member(name) => name.as_str().into(),
                        _ => peer.as_str().into(),
                    },
                    text: text.as_ref().into(),
                    bytes: line.len(),
                    malformed,
                };
                record.push_json(&mut json);
            }
            batch.push(Incoming {
                time: hms.clone(),
                who,
                text: sanitize::line(body),
            });
        });
        if let Some(j) = &journal {
            j.write(&json);
            json.clear();
        }
        if !batch.is_empty() && !sink.send(Event::Received(batch, Drops::default())) {
            return;
        }
        match read {
            Ok(true) => {}
            Ok(false) => {
                sink.send(Event::Disconnected("the room closed the connection".into()));
                return;
            }
            Err(e) => {
                sink.send(Event::Disconnected(format!(
                    "connection lost: {}",
                    net::describe(&e)
                )));
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
            Err(TrySendError::Full(_)) => {
                Err(SendError("the room is not taking lines right now".into()))
            }
            Err(TrySendError::Disconnected(_)) => Err(SendError("not connected".into())),
        }
    }

    fn set_target(&mut self, _target: &str) -> Result<String, String> {
        Err("in room mode every line goes to the room; /to is for UDP mode".into())
    }

    fn target_label(&self) -> String {
        format!("room {}", self.label)
    }

    fn close(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}
