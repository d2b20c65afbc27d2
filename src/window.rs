//! The `chat-window` loop: datagrams in, records out.
//!
//! ```text
//! socket ──batch──▶ admit (allow, rate) ──▶ decode + render ──▶ buffer ──▶ log, stdout
//! ```
//!
//! [`run`] takes a bound socket, a [`Config`], the output and a [`Stop`]. It
//! receives in batches ([`BatchReceiver`]), renders every admitted datagram
//! into one reused buffer and writes that buffer whenever the socket has
//! nothing more waiting, so a burst costs one write per batch and a single
//! interactive message appears at once. The log is written before stdout, so
//! nothing shown is ever missing from it.

use rust_i18n::t;
use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use thiserror::Error;

use crate::filter::{Admission, AllowList, Refused};
use crate::message::{Renderer, Scratch};
use crate::net::{self, BatchReceiver, BATCH};
use crate::stop::{Stop, POLL_INTERVAL};

/// The banner shown on stderr at start.
pub const BANNER: &str = "-------UDP聊天室-------";

/// Bytes of rendered output held before a write even mid-burst.
const FLUSH_AT: usize = 256 * 1024;

/// What the loop does besides showing datagrams.
#[derive(Debug, Default)]
pub struct Config {
    /// How datagrams are decoded and shown.
    pub renderer: Renderer,
    /// `--allow`: senders outside these networks are dropped.
    pub allow: AllowList,
    /// `--max-rate`: messages per second per sender address.
    pub max_rate: Option<u32>,
    /// `--count`: stop after this many shown messages.
    pub count: Option<u64>,
    /// `--timeout`: stop after this long.
    pub timeout: Option<Duration>,
    /// `--log`: also append every shown message as a JSON line here.
    pub log: Option<File>,
}

/// Counts for the summary line.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Messages shown.
    pub shown: u64,
    /// Distinct sender `ip:port`s among them.
    pub senders: usize,
    /// Shown messages that had invalid bytes.
    pub malformed: u64,
    /// Dropped by `--allow`.
    pub dropped_allow: u64,
    /// Dropped by `--max-rate`, in all.
    pub dropped_rate: u64,
    /// Dropped by `--max-rate`, per sender address, largest first.
    pub dropped_rate_by_sender: Vec<(std::net::IpAddr, u64)>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            t!(
                "window.summary",
                shown = self.shown,
                senders = self.senders,
                malformed = self.malformed,
                allow = self.dropped_allow,
                rate = self.dropped_rate
            )
        )?;
        if !self.dropped_rate_by_sender.is_empty() {
            let top: Vec<String> = self
                .dropped_rate_by_sender
                .iter()
                .take(5)
                .map(|(ip, n)| format!("{ip} {n}"))
                .collect();
            let mut list = top.join(", ");
            if self.dropped_rate_by_sender.len() > 5 {
                list.push_str(", …");
            }
            write!(f, "{}", t!("window.summary_top", list = list))?;
        }
        Ok(())
    }
}

/// Why the loop ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// `--count` messages were shown.
    Count,
    /// `--timeout` expired (without `--count`).
    Timeout,
    /// `--timeout` expired before `--count` messages arrived.
    CountNotReached {
        /// The timeout.
        after: Duration,
    },
    /// The stop flag was set (Ctrl-C, SIGTERM).
    Stopped,
    /// Stdout was closed by its reader (e.g. `| head`).
    OutputClosed,
}

/// The outcome of [`run`].
#[derive(Debug)]
pub struct Report {
    /// Why it ended.
    pub ended: Ended,
    /// What it counted.
    pub summary: Summary,
}

/// Failures of the loop.
#[derive(Debug, Error)]
pub enum WindowError {
    /// Receiving failed for a reason other than a timeout.
    #[error("{}", t!("window.recv", why = net::describe(.0)))]
    Recv(io::Error),
    /// Writing stdout failed (not a closed pipe).
    #[error("{}", t!("window.output", why = net::describe(.0)))]
    Output(io::Error),
    /// Writing the log failed.
    #[error("{}", t!("window.log", why = net::describe(.0)))]
    Log(io::Error),
    /// Setting the socket's poll timeout failed.
    #[error(transparent)]
    Setup(#[from] net::NetError),
}

/// Prints the banner and where the window listens (stderr).
pub fn announce(addr: SocketAddr, recv_buffer: usize) {
    crate::status::say(BANNER);
    // Scripts wait for this line: the same words in every language.
    crate::status::say(&format!("listening on {addr}"));
    crate::status::say(&t!("window.recv_buffer", bytes = recv_buffer));
}

struct Output<'a, W: Write> {
    out: &'a mut W,
    text: String,
    log_file: Option<File>,
    log: String,
}

impl<W: Write> Output<'_, W> {
    /// Writes what is held: the log first, then stdout. `Ok(false)` means
    /// stdout was closed by its reader.
    fn flush(&mut self) -> Result<bool, WindowError> {
        if let Some(file) = &mut self.log_file {
            if !self.log.is_empty() {
                file.write_all(self.log.as_bytes())
                    .map_err(WindowError::Log)?;
                self.log.clear();
            }
        }
        if self.text.is_empty() {
            return Ok(true);
        }
        let result = self
            .out
            .write_all(self.text.as_bytes())
            .and_then(|()| self.out.flush());
        self.text.clear();
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(WindowError::Output(e)),
        }
    }
}

/// Runs the chat window on a bound socket until `--count`, `--timeout`, the
/// stop flag or a closed stdout ends it.
///
/// # Errors
/// [`WindowError`] when receiving or writing fails for real.
pub fn run<W: Write>(
    socket: &UdpSocket,
    config: Config,
    out: &mut W,
    stop: &Stop,
) -> Result<Report, WindowError> {
    let renderer = config.renderer;
    let start = Instant::now();
    let deadline = config.timeout.map(|t| start + t);
    let mut admission = Admission::new(config.allow, config.max_rate);
    let mut rx = BatchReceiver::new();
    let has_log = config.log.is_some();
    let mut output = Output {
        out,
        text: String::with_capacity(FLUSH_AT + 2 * net::SLOT),
        log_file: config.log,
        log: String::new(),
    };
    let mut summary = Summary::default();
    let mut senders: HashSet<SocketAddr> = HashSet::new();
    let mut last_sender: Option<SocketAddr> = None;
    let mut scratch = Scratch::default();
    net::set_poll_timeout(socket, POLL_INTERVAL)?;
    let mut wait = true;

    let ended = 'outer: loop {
        if stop.is_set() {
            break Ended::Stopped;
        }
        if let Some(deadline) = deadline {
            let now = Instant::now();
            if now >= deadline {
                break match config.count {
                    Some(_) => Ended::CountNotReached {
                        after: config.timeout.unwrap_or_default(),
                    },
                    None => Ended::Timeout,
                };
            }
            if wait {
                net::set_poll_timeout(socket, (deadline - now).min(POLL_INTERVAL))?;
            }
        }
        let n = match rx.recv(socket, wait) {
            Ok(n) => n,
            Err(e) if net::is_transient(&e) => {
                if !output.flush()? {
                    break Ended::OutputClosed;
                }
                wait = true;
                continue;
            }
            Err(e) => return Err(WindowError::Recv(e)),
        };
        let now_wall = SystemTime::now();
        let now = Instant::now();
        for i in 0..n {
            let (from, payload) = rx.get(i);
            match admission.admit(from.ip(), now) {
                Ok(()) => {}
                Err(Refused::Allow) => {
                    summary.dropped_allow += 1;
                    continue;
                }
                Err(Refused::Rate) => {
                    summary.dropped_rate += 1;
                    continue;
                }
            }
            let log = if has_log { Some(&mut output.log) } else { None };
            let rendered =
                renderer.render(&mut output.text, log, &mut scratch, from, payload, now_wall);
            summary.shown += 1;
            if rendered.malformed {
                summary.malformed += 1;
            }
            // One hash per new sender, not per datagram of a burst.
            if last_sender != Some(from) {
                senders.insert(from);
                last_sender = Some(from);
            }
            if config.count.is_some_and(|c| summary.shown >= c) {
                break 'outer Ended::Count;
            }
        }
        // Fewer than a full batch: the socket had nothing more waiting.
        wait = n < BATCH;
        if (wait || output.text.len() >= FLUSH_AT) && !output.flush()? {
            break Ended::OutputClosed;
        }
    };
    let closed = !output.flush()?;
    summary.senders = senders.len();
    summary.dropped_rate_by_sender = admission.dropped_by_sender();
    let ended = if closed { Ended::OutputClosed } else { ended };
    Ok(Report { ended, summary })
}
