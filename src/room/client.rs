//! The `room-client`: the keyboard and the socket at once.
//!
//! ```text
//! stdin thread (blocks, or rustyline lines) ──▶ encode ──▶ socket
//! socket thread ──frame──▶ decode ──▶ sanitize ──▶ stdout, or above the prompt
//! ```
//!
//! Neither side uses select() on stdin, so the design works on Windows too.
//! On a terminal the socket thread prints through the line editor's external
//! printer, which puts the message above the input line and redraws what the
//! user was typing, intact.

use rust_i18n::t;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::encoding::Encoding;
use crate::net;
use crate::room::framer::{Frame, Framer};
use crate::sanitize;
use crate::stdin::{self, Finish, Flow, Got, Input, Printer, Source, StdinText};
use crate::stop::Stop;

/// Shown on stderr once connected (the classic client's words, translated).
pub fn connected() -> String {
    t!("room.client_connected").into_owned()
}
/// The prompt on a terminal.
pub fn prompt() -> String {
    t!("room.prompt").into_owned()
}
/// How long to wait for a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest line accepted from the server before it is cut.
const MAX_INCOMING_LINE: usize = 1024 * 1024;

/// Failures of the client.
#[derive(Debug, Error)]
pub enum ClientError {
    /// No connection could be made.
    #[error("{}", t!("room.unable_to_connect", target = .target, why = .reason))]
    Connect {
        /// `HOST:PORT` as typed.
        target: String,
        /// Why.
        reason: String,
    },
    /// Reading stdin failed.
    #[error("{}", t!("input.read", why = net::describe(.0)))]
    Read(io::Error),
    /// `--name` cannot be written in the encoding, or sent.
    #[error("--name {name}: {reason}")]
    Name {
        /// The name as given.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Takes `name` in the room on joining (`--name`): sends `/nick NAME`,
/// encoded with `send`; the room answers as it answers any `/nick`.
/// Returns the line, to be sent again once a room with a password lets
/// this member in ([`Config::rejoin`]).
///
/// # Errors
/// [`ClientError::Name`] when the name cannot be written in `send`, or
/// the line cannot be sent.
pub fn take_name(
    mut stream: &TcpStream,
    name: &str,
    send: Encoding,
) -> Result<Vec<u8>, ClientError> {
    let fail = |reason: String| ClientError::Name {
        name: name.to_string(),
        reason,
    };
    let mut line = send
        .encode(&format!("/nick {name}"))
        .map_err(|e| fail(e.to_string()))?;
    line.push(b'\n');
    stream
        .write_all(&line)
        .map_err(|e| fail(net::describe(&e)))?;
    Ok(line)
}

/// The port of a room when none is given.
pub const DEFAULT_PORT: u16 = 5000;

/// HOST and `-p` as room-client takes them: a port in HOST (`HOST:PORT`,
/// `[ADDR]:PORT`, as `lanchat --room` takes it) or `-p`; else
/// [`DEFAULT_PORT`].
///
/// # Errors
/// Both give a port, and not the same one.
pub fn target(host: &str, port: Option<u16>) -> Result<(&str, u16), String> {
    match (net::split_host_port(host, 0), port) {
        (Ok((_, given)), Some(p)) if given != 0 && given != p => Err(format!(
            "{}",
            t!("room.port_twice", host = host, given = given, port = p)
        )),
        (Ok((h, given)), p) if given != 0 => Ok((h, p.unwrap_or(given))),
        (Ok((h, _)), p) => Ok((h, p.unwrap_or(DEFAULT_PORT))),
        // Not HOST:PORT (a port that is no number): the lookup will say.
        (Err(_), p) => Ok((host, p.unwrap_or(DEFAULT_PORT))),
    }
}

/// Connects to `host:port` within `timeout`, trying each address.
///
/// # Errors
/// [`ClientError::Connect`] naming the target and the reason.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ClientError> {
    let target = net::host_port(host, port);
    let fail = |reason: String| ClientError::Connect {
        target: target.clone(),
        reason,
    };
    let addrs = net::lookup(host, port).map_err(fail)?;
    let mut last = fail(t!("net.no_address").into_owned());
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = fail(net::describe(&e)),
        }
    }
    Err(last)
}

/// How the client encodes and decodes.
#[derive(Debug, Clone)]
pub struct Config {
    /// Encoding of lines sent.
    pub send: Encoding,
    /// Encoding of lines received (may be `auto`).
    pub receive: Encoding,
    /// How piped stdin is read (`--stdin-encoding`).
    pub stdin: StdinText,
    /// Sent again when a room with a password takes the user's `/pass`
    /// (the `--name` line, dropped while the member waited outside).
    pub rejoin: Option<Vec<u8>>,
}

/// Why the client ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// End of input; everything typed was sent.
    Eof,
    /// The server closed the connection.
    Disconnected,
    /// Ctrl-C or SIGTERM.
    Stopped,
}

/// What the client did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Why it ended.
    pub ended: Ended,
    /// Lines sent.
    pub sent: u64,
    /// Lines refused (not encodable, not UTF-8).
    pub refused: u64,
}

/// Reads a room's lines from a stream, one read at a time, framed and
/// capped (the reading half of room-client and of `lanchat --room`).
pub struct Reader<R> {
    stream: R,
    framer: Framer,
    buf: Vec<u8>,
}

impl<R: Read> Reader<R> {
    /// A reader of lines up to 1 MiB (longer ones are reported cut).
    pub fn new(stream: R) -> Self {
        Reader {
            stream,
            framer: Framer::new(MAX_INCOMING_LINE),
            buf: vec![0; 64 * 1024],
        }
    }

    /// Reads once and hands each line it completed to `f`; `Ok(false)`
    /// when the room closed the connection.
    ///
    /// # Errors
    /// The OS error when reading failed.
    pub fn read(&mut self, f: impl FnMut(Frame<'_>)) -> io::Result<bool> {
        let n = loop {
            match self.stream.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            return Ok(false);
        }
        self.framer.push(&self.buf[..n], f);
        Ok(true)
    }
}

/// Where received lines go.
enum Sink {
    Stdout(io::Stdout),
    Printer(Printer),
}

/// Reads the server's lines, prints them, and reports the end as
/// [`Got::Closed`].
fn spawn_socket_reader(
    stream: TcpStream,
    encoding: Encoding,
    mut sink: Sink,
    events: SyncSender<Got>,
    rejoin: Option<Vec<u8>>,
) {
    thread::spawn(move || {
        let mut writer = stream.try_clone().ok();
        let mut reader = Reader::new(stream);
        let mut out = String::new();
        loop {
            let more = reader.read(|frame| {
                match frame {
                    Frame::Line(line) => {
                        if line == crate::room::wire::PASSWORD_ACCEPTED.trim_end().as_bytes() {
                            // One short line: written whole beside the
                            // main thread's lines.
                            if let (Some(w), Some(again)) = (&mut writer, &rejoin) {
                                let _ = w.write_all(again);
                            }
                        }
                        let (text, _) = encoding.decode(line);
                        sanitize::push_line(&mut out, &text);
                    }
                    Frame::TooLong => out.push_str(&t!("room.line_cut")),
                }
                out.push('\n');
            });
            if !matches!(more, Ok(true)) {
                break;
            }
            if out.is_empty() {
                continue;
            }
            let ok = match &mut sink {
                Sink::Stdout(s) => {
                    let mut lock = s.lock();
                    lock.write_all(out.as_bytes())
                        .and_then(|()| lock.flush())
                        .is_ok()
                }
                Sink::Printer(p) => {
                    // The printer adds the line break itself.
                    out.pop();
                    p.print(std::mem::take(&mut out)).is_ok()
                }
            };
            out.clear();
            if !ok {
                break;
            }
        }
        let _ = events.send(Got::Closed);
    });
}

/// Runs the client on a connected stream until end of input, the server
/// closing, or the stop flag. Per-line problems go to `err`.
///
/// # Errors
/// [`ClientError::Read`] when stdin cannot be read.
pub fn run<E: Write>(
    stream: TcpStream,
    config: Config,
    source: Source,
    stop: &Stop,
    err: &mut E,
) -> Result<Report, ClientError> {
    let (printer_tx, printer_rx) = mpsc::sync_channel(1);
    let terminal = matches!(source, Source::Terminal { .. });
    let source = match source {
        Source::Terminal { prompt, .. } => Source::Terminal {
            prompt,
            printer: Some(printer_tx),
        },
        other => other,
    };
    let (events_tx, events) = stdin::spawn(source);
    let sink = if terminal {
        match printer_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(p) => Sink::Printer(p),
            Err(_) => Sink::Stdout(io::stdout()),
        }
    } else {
        Sink::Stdout(io::stdout())
    };
    let reader = stream.try_clone().map_err(ClientError::Read)?;
    spawn_socket_reader(
        reader,
        config.receive,
        sink,
        events_tx,
        config.rejoin.clone(),
    );

    let mut writer = &stream;
    let mut report = Report {
        ended: Ended::Eof,
        sent: 0,
        refused: 0,
    };
    let mut wire = Vec::new();
    let finish = stdin::drive(&events, stop, &mut |line_no: u64, line: Input<'_>| {
        let text = match config.stdin.text(line) {
            Ok(text) => text,
            Err(why) => {
                let _ = writeln!(
                    err,
                    "room-client: {}",
                    t!("input.not_sent", line = line_no, why = why)
                );
                report.refused += 1;
                return Flow::Continue;
            }
        };
        wire.clear();
        if let Err(e) = config.send.encode_into(&text, &mut wire) {
            let _ = writeln!(
                err,
                "room-client: {}",
                t!("input.not_sent", line = line_no, why = e)
            );
            report.refused += 1;
            return Flow::Continue;
        }
        wire.push(b'\n');
        if writer.write_all(&wire).is_err() {
            return Flow::Stop;
        }
        report.sent += 1;
        Flow::Continue
    })
    .map_err(ClientError::Read)?;
    let ended = match finish {
        Finish::Eof => {
            // Half-close like `nc -N`: the server sees the end, relays what
            // we sent, and closes; then we go (bounded wait).
            let _ = stream.shutdown(Shutdown::Write);
            let deadline = Instant::now() + Duration::from_secs(2);
            while let Ok(event) =
                events.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                if matches!(event, Got::Closed) {
                    break;
                }
            }
            Ended::Eof
        }
        Finish::Stopped => Ended::Stopped,
        Finish::Handler | Finish::Closed => Ended::Disconnected,
    };
    report.ended = ended;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_are_taken_either_way_but_once() {
        assert_eq!(target("10.0.0.5", None), Ok(("10.0.0.5", 5000)));
        assert_eq!(target("10.0.0.5", Some(6000)), Ok(("10.0.0.5", 6000)));
        assert_eq!(target("10.0.0.5:6000", None), Ok(("10.0.0.5", 6000)));
        assert_eq!(target("10.0.0.5:6000", Some(6000)), Ok(("10.0.0.5", 6000)));
        let both = target("10.0.0.5:6000", Some(7000)).unwrap_err();
        assert!(both.contains("give the port once"), "{both}");
        assert_eq!(target("[::1]:6000", None), Ok(("::1", 6000)));
        assert_eq!(target("::1", None), Ok(("::1", 5000)));
        assert_eq!(target("pc-3", Some(7)), Ok(("pc-3", 7)));
        assert_eq!(target("pc-3:x", None), Ok(("pc-3:x", 5000)));
    }
}
