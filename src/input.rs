//! The `input-box` loop: lines in, one datagram per line out.
//!
//! ```text
//! stdin (blocks or edited lines) ──▶ split lines ──▶ check UTF-8, quit word
//!   ──▶ encode strictly ──▶ size check ──▶ send (again after "port unreachable")
//! ```
//!
//! Stdin is read on its own thread and handed over in large blocks (or, on a
//! terminal, edited lines), so the loop can notice Ctrl-C / SIGTERM while a
//! read is blocked. A bad line is reported on stderr with its number and not
//! sent; the rest go on, and the report says how many were refused.

use rust_i18n::t;
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};

use thiserror::Error;

use crate::encoding::Encoding;
use crate::net::{self, MAX_PAYLOAD_V4, MAX_PAYLOAD_V6};
use crate::stdin::{self, Finish, Flow, Input, LineSink, Source, StdinText};
use crate::stop::Stop;

/// The banner shown on stderr when stdin is a terminal.
pub const BANNER: &str = "----输入框----";

/// Set-up failures of `input-box`.
#[derive(Debug, Error)]
pub enum InputError {
    /// The host name did not resolve.
    #[error("{}", t!("net.resolve", host = .host, why = .reason))]
    Resolve {
        /// The name typed.
        host: String,
        /// Why.
        reason: String,
    },
    /// The source address is not usable here.
    #[error("{}", t!("input.source", addr = .addr, why = .reason))]
    Source {
        /// The address typed.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The destination cannot be sent to at all.
    #[error("{}", t!("input.destination", dest = .dest, why = .reason))]
    Destination {
        /// `HOST:PORT` as typed.
        dest: String,
        /// Why.
        reason: String,
    },
    /// Reading stdin failed.
    #[error("{}", t!("input.read", why = net::describe(.0)))]
    Read(io::Error),
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// The host as typed (a name, an IPv4 or IPv6 address).
    pub host: String,
    /// The port.
    pub port: u16,
    /// `-s ADDR[:PORT]`, as typed.
    pub source: Option<String>,
    /// `--broadcast`: set SO_BROADCAST.
    pub broadcast: bool,
    /// `--ttl`: multicast TTL or unicast hop limit.
    pub ttl: Option<u32>,
}

impl Target {
    /// `HOST:PORT` for messages (`[v6]:PORT` for IPv6 literals).
    pub fn label(&self) -> String {
        net::host_port(&self.host, self.port)
    }
}

/// Opens the sending socket: resolves the host, binds the source, sets
/// broadcast and TTL, and connects (so "port unreachable" is reported).
///
/// # Errors
/// [`InputError`] for an unresolvable host, an unusable source address, or
/// a destination that cannot be sent to (e.g. broadcast without
/// `--broadcast`).
pub fn open(target: &Target) -> Result<UdpSocket, InputError> {
    let source = match &target.source {
        None => None,
        Some(s) => Some(net::parse_source(s).ok_or_else(|| InputError::Source {
            addr: s.clone(),
            reason: t!("input.source_not_ip").into_owned(),
        })?),
    };
    let candidates =
        net::lookup(&target.host, target.port).map_err(|reason| InputError::Resolve {
            host: target.host.clone(),
            reason,
        })?;
    let dest = match source {
        Some(src) => candidates
            .iter()
            .find(|a| a.is_ipv4() == src.is_ipv4())
            .copied()
            .ok_or_else(|| InputError::Source {
                addr: src.to_string(),
                reason: t!(
                    "input.source_family",
                    family = if src.is_ipv4() { "IPv4" } else { "IPv6" },
                    host = target.host
                )
                .into_owned(),
            })?,
        None => candidates[0],
    };
    let dest_err = |e: io::Error| {
        let mut reason = net::describe(&e);
        if e.kind() == io::ErrorKind::PermissionDenied && !target.broadcast {
            reason.push_str(&t!("input.needs_broadcast"));
        }
        InputError::Destination {
            dest: target.label(),
            reason,
        }
    };
    let options = net::SendOptions {
        broadcast: target.broadcast,
        ttl: target.ttl,
        source,
    };
    net::udp_sender(dest, &options).map_err(|e| match e {
        net::SendSetup::Destination(e) => dest_err(e),
        net::SendSetup::Source(e) => InputError::Source {
            addr: target.source.clone().unwrap_or_default(),
            reason: net::describe(&e),
        },
    })
}

/// What the loop does with lines.
#[derive(Debug, Clone)]
pub struct Config {
    /// Encoding of the datagrams.
    pub encoding: Encoding,
    /// The line that is sent and then ends the program (`None`: disabled).
    pub quit_word: Option<String>,
    /// `HOST:PORT` as typed, for the warning when nobody listens.
    pub dest_label: String,
    /// How piped lines are read (`--stdin-encoding`).
    pub stdin: StdinText,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The quit word was sent.
    Quit,
    /// End of input.
    Eof,
    /// Ctrl-C or SIGTERM.
    Stopped,
}

/// What the loop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Why it ended.
    pub ended: Ended,
    /// Datagrams sent.
    pub sent: u64,
    /// Payload bytes sent.
    pub bytes: u64,
    /// Lines refused (bad input or a failed send).
    pub refused: u64,
}

/// Encodes lines into a batch and sends the batch on a connected socket
/// (one datagram per line, up to [`net::SEND_BATCH`] per system call),
/// retrying the datagram that the kernel refused because of an earlier
/// "port unreachable".
struct Sender<'a, E: Write> {
    socket: &'a UdpSocket,
    max_payload: usize,
    warned: bool,
    config: &'a Config,
    err: &'a mut E,
    report: Report,
    /// Encoded datagrams of the batch, back to back.
    data: Vec<u8>,
    /// Each datagram of the batch: where it ends in `data`, its line number.
    ends: Vec<(usize, u64)>,
    /// Consecutive "port unreachable" refusals of the same datagram.
    refusals: u32,
}

impl<E: Write> Sender<'_, E> {
    fn refuse(&mut self, line_no: u64, why: &str) {
        let _ = writeln!(
            self.err,
            "input-box: {}",
            t!("input.not_sent", line = line_no, why = why)
        );
        self.report.refused += 1;
    }

    fn warn_unreachable(&mut self) {
        if !self.warned {
            self.warned = true;
            let _ = writeln!(
                self.err,
                "input-box: {}",
                t!("input.unreachable", dest = self.config.dest_label)
            );
        }
    }

    /// Sends every batched datagram (or refuses the ones that cannot go).
    fn send_batch(&mut self) {
        // Taken out of `self` while slices of it are in flight; put back
        // (emptied, capacity kept) at the end.
        let mut data = std::mem::take(&mut self.data);
        let mut ends = std::mem::take(&mut self.ends);
        let mut first = 0; // index into `ends` of the next datagram to send
        let mut refs: Vec<&[u8]> = Vec::with_capacity(ends.len());
        while first < ends.len() {
            refs.clear();
            let mut begin = if first == 0 { 0 } else { ends[first - 1].0 };
            for &(end, _) in &ends[first..] {
                refs.push(&data[begin..end]);
                begin = end;
            }
            match net::send_batch(self.socket, &refs) {
                Ok(n) => {
                    self.report.sent += n as u64;
                    self.report.bytes += refs[..n].iter().map(|d| d.len() as u64).sum::<u64>();
                    first += n;
                    self.refusals = 0;
                }
                // A "port unreachable" for an earlier datagram surfaces on
                // this send, which then did not go out: warn once and send
                // it again.
                Err(e) if net::is_icmp_report(&e) && self.refusals < 4 => {
                    self.refusals += 1;
                    self.warn_unreachable();
                }
                Err(e) => {
                    let line_no = ends[first].1;
                    let why = t!("input.cannot_send", why = net::describe(&e)).into_owned();
                    self.refuse(line_no, &why);
                    first += 1;
                    self.refusals = 0;
                }
            }
        }
        drop(refs);
        // sendmmsg drops the error of any datagram after the first (it
        // returns the partial count, and we send the rest again), so read
        // what is pending now: the ICMP of this batch is here on loopback,
        // and reading it also spares the next send from failing.
        if crate::sys::take_icmp_report(self.socket).is_some() {
            self.warn_unreachable();
        }
        data.clear();
        ends.clear();
        self.data = data;
        self.ends = ends;
    }
}

impl<E: Write> LineSink for Sender<'_, E> {
    fn line(&mut self, line_no: u64, line: Input<'_>) -> Flow {
        let text = match self.config.stdin.text(line) {
            Ok(text) => text,
            Err(why) => {
                self.refuse(line_no, &why);
                return Flow::Continue;
            }
        };
        let quit = self.config.quit_word.as_deref() == Some(&*text);
        let start = self.data.len();
        match self.config.encoding.encode_into(&text, &mut self.data) {
            Err(e) => self.refuse(line_no, &e.to_string()),
            Ok(()) if self.data.len() - start > self.max_payload => {
                let why = t!(
                    "input.too_long",
                    bytes = self.data.len() - start,
                    max = self.max_payload
                )
                .into_owned();
                self.data.truncate(start);
                self.refuse(line_no, &why);
            }
            Ok(()) => {
                self.ends.push((self.data.len(), line_no));
                if self.ends.len() >= net::SEND_BATCH {
                    self.send_batch();
                }
            }
        }
        if quit {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    fn flush(&mut self) -> Flow {
        self.send_batch();
        Flow::Continue
    }
}

/// Runs the input box on a connected socket until the quit word, the end of
/// input or the stop flag. Per-line problems go to `err` and are counted in
/// [`Report::refused`].
///
/// # Errors
/// [`InputError::Read`] when stdin cannot be read.
pub fn run<E: Write>(
    socket: &UdpSocket,
    config: &Config,
    source: Source,
    stop: &Stop,
    err: &mut E,
) -> Result<Report, InputError> {
    let max_payload = match socket.peer_addr() {
        Ok(SocketAddr::V6(_)) => MAX_PAYLOAD_V6,
        _ => MAX_PAYLOAD_V4,
    };
    let mut sender = Sender {
        socket,
        max_payload,
        warned: false,
        config,
        err,
        report: Report {
            ended: Ended::Eof,
            sent: 0,
            bytes: 0,
            refused: 0,
        },
        data: Vec::with_capacity(64 * 1024),
        ends: Vec::with_capacity(net::SEND_BATCH),
        refusals: 0,
    };
    let (_, events) = stdin::spawn(source);
    let finish = stdin::drive(&events, stop, &mut sender).map_err(InputError::Read)?;
    sender.report.ended = match finish {
        Finish::Handler => Ended::Quit,
        Finish::Stopped => Ended::Stopped,
        Finish::Eof | Finish::Closed => Ended::Eof,
    };
    Ok(sender.report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pair() -> (UdpSocket, UdpSocket) {
        let rx = net::bind_udp("127.0.0.1:0".parse().unwrap(), 4 << 20, false)
            .unwrap()
            .socket;
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let target = Target {
            host: "127.0.0.1".into(),
            port: rx.local_addr().unwrap().port(),
            source: None,
            broadcast: false,
            ttl: None,
        };
        (open(&target).unwrap(), rx)
    }

    fn config() -> Config {
        Config {
            encoding: Encoding::gb2312(),
            quit_word: Some("88".into()),
            dest_label: "test".into(),
            stdin: StdinText::Utf8,
        }
    }

    fn recv_all(rx: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
        let mut buf = [0u8; 65536];
        (0..n)
            .map(|_| {
                let len = rx.recv(&mut buf).unwrap();
                buf[..len].to_vec()
            })
            .collect()
    }

    #[test]
    fn stream_split_across_blocks_quit_word_and_errors() {
        let (tx, rx) = pair();
        let mut input = Vec::new();
        input.extend_from_slice("你好\r\n\nbad ".as_bytes());
        input.extend_from_slice("😀\n".as_bytes());
        input.extend_from_slice(b"\xff\xfe\n");
        input.extend_from_slice(b"88\nnever\n");
        let mut err = Vec::new();
        let report = run(
            &tx,
            &config(),
            Source::Stream(Box::new(io::Cursor::new(input))),
            &Stop::new(),
            &mut err,
        )
        .unwrap();
        assert_eq!(report.ended, Ended::Quit);
        assert_eq!(report.sent, 3);
        assert_eq!(report.refused, 2);
        let got = recv_all(&rx, 3);
        assert_eq!(
            got,
            vec![vec![0xC4, 0xE3, 0xBA, 0xC3], vec![], b"88".to_vec()]
        );
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("line 3: '😀' (U+1F600)"), "{err}");
        assert!(err.contains("line 4: not valid UTF-8; not sent"), "{err}");
    }

    #[test]
    fn batched_lines_arrive_one_datagram_each_in_order() {
        let (tx, rx) = pair();
        let input: String = (0..1000).map(|i| format!("第{i}行\n")).collect();
        let report = run(
            &tx,
            &config(),
            Source::Stream(Box::new(io::Cursor::new(input.into_bytes()))),
            &Stop::new(),
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!((report.sent, report.refused), (1000, 0));
        for (i, got) in recv_all(&rx, 1000).into_iter().enumerate() {
            assert_eq!(encoding_rs::GBK.decode(&got).0, format!("第{i}行"));
        }
    }

    #[test]
    fn last_line_without_newline_is_sent() {
        let (tx, rx) = pair();
        let report = run(
            &tx,
            &config(),
            Source::Stream(Box::new(io::Cursor::new(b"a\nb".to_vec()))),
            &Stop::new(),
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(report.ended, Ended::Eof);
        assert_eq!(recv_all(&rx, 2), vec![b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn oversize_line_is_refused_with_its_size() {
        let (tx, rx) = pair();
        let big = "x".repeat(MAX_PAYLOAD_V4 + 1);
        let ok = "y".repeat(MAX_PAYLOAD_V4);
        let mut err = Vec::new();
        let report = run(
            &tx,
            &config(),
            Source::Messages(vec![big, ok]),
            &Stop::new(),
            &mut err,
        )
        .unwrap();
        assert_eq!((report.sent, report.refused), (1, 1));
        assert_eq!(recv_all(&rx, 1)[0].len(), MAX_PAYLOAD_V4);
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("65508 bytes"), "{err}");
    }
}
