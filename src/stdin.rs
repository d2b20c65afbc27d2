//! Lines from stdin (or `-m` messages), read on their own thread.
//!
//! A blocked read never notices Ctrl-C (ctrlc installs its handler with
//! SA_RESTART), so stdin is read on a thread of its own and handed over as
//! [`Got`]s: large blocks from a pipe or file (split into lines by a
//! [`Splitter`] on the consuming side, no allocation per line), or edited
//! lines from a terminal (rustyline, with history). The consumer waits with a
//! timeout and polls its stop flag.

use rust_i18n::t;
use std::borrow::Cow;
use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread;

use crate::encoding::Encoding;
use crate::stop::{Stop, POLL_INTERVAL};

/// Bytes read from a pipe or file per read.
const READ_BLOCK: usize = 256 * 1024;

/// Where lines come from.
pub enum Source {
    /// `-m TEXT`: these messages, in order.
    Messages(Vec<String>),
    /// A pipe or file, read in blocks.
    Stream(Box<dyn Read + Send>),
    /// A terminal: a line editor with history and this prompt.
    Terminal {
        /// Shown before the input line.
        prompt: String,
        /// Where to hand the editor's external printer (to print above the
        /// input line), if the caller wants one.
        printer: Option<SyncSender<Printer>>,
    },
}

/// Prints a message above the line being edited.
pub type Printer = Box<dyn rustyline::ExternalPrinter + Send>;

/// What the reading thread hands over.
pub enum Got {
    /// Raw bytes from a pipe or file (lines may span blocks).
    Block(Vec<u8>),
    /// One whole line, without its line ending.
    Line(String),
    /// End of input.
    Eof,
    /// Ctrl-C typed in the line editor.
    Interrupted,
    /// Reading failed.
    Error(io::Error),
    /// The other side (e.g. the server) closed; sent by other threads.
    Closed,
}

/// Starts the reading thread; events arrive on the returned channel, which
/// other threads may also feed through the returned sender.
pub fn spawn(source: Source) -> (SyncSender<Got>, Receiver<Got>) {
    let (tx, rx) = mpsc::sync_channel(16);
    let sender = tx.clone();
    thread::spawn(move || read(source, &tx));
    (sender, rx)
}

fn read(source: Source, tx: &SyncSender<Got>) {
    match source {
        Source::Messages(msgs) => {
            for m in msgs {
                if tx.send(Got::Line(m)).is_err() {
                    return;
                }
            }
            let _ = tx.send(Got::Eof);
        }
        Source::Stream(mut r) => loop {
            let mut buf = vec![0u8; READ_BLOCK];
            match r.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.send(Got::Eof);
                    return;
                }
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Got::Block(buf)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Got::Error(e));
                    return;
                }
            }
        },
        Source::Terminal { prompt, printer } => {
            use rustyline::error::ReadlineError;
            let mut editor = match rustyline::DefaultEditor::new() {
                Ok(e) => e,
                Err(e) => {
                    let _ = tx.send(Got::Error(io::Error::other(e.to_string())));
                    return;
                }
            };
            if let Some(printer_tx) = printer {
                match editor.create_external_printer() {
                    Ok(p) => {
                        let _ = printer_tx.send(Box::new(p));
                    }
                    Err(e) => {
                        let _ = tx.send(Got::Error(io::Error::other(e.to_string())));
                        return;
                    }
                }
            }
            loop {
                let event = match editor.readline(&prompt) {
                    Ok(line) => {
                        if !line.is_empty() {
                            let _ = editor.add_history_entry(line.as_str());
                        }
                        Got::Line(line)
                    }
                    Err(ReadlineError::Eof) => Got::Eof,
                    Err(ReadlineError::Interrupted) => Got::Interrupted,
                    Err(e) => Got::Error(io::Error::other(e.to_string())),
                };
                let last = !matches!(event, Got::Line(_));
                if tx.send(event).is_err() || last {
                    return;
                }
            }
        }
    }
}

/// One line as [`drive`] hands it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// Typed at a terminal (read as Unicode) or given with `-m`: text,
    /// without a line ending.
    Text(&'a str),
    /// From a pipe or a file: bytes, with their `\n` when they had one.
    Bytes(&'a [u8]),
}

/// How the bytes of piped stdin become text (`--stdin-encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinText {
    /// Strict UTF-8: a line that is not valid UTF-8 is refused.
    Utf8,
    /// A legacy encoding: a line with bytes invalid in it is refused.
    Legacy(Encoding),
    /// Each line as UTF-8 when it is valid UTF-8, else in this encoding
    /// (the system's ANSI code page on Windows, GB18030 elsewhere).
    Auto(Encoding),
}

impl StdinText {
    /// The default: on Windows `auto` with the ANSI code page (files and
    /// pipes there are often GBK, as on Chinese Windows); elsewhere UTF-8.
    pub fn platform_default() -> StdinText {
        if cfg!(windows) {
            Self::auto()
        } else {
            StdinText::Utf8
        }
    }

    fn auto() -> StdinText {
        let fallback = crate::sys::ansi_encoding()
            .and_then(|e| Encoding::for_decoding(e.name()).ok())
            .filter(|e| !matches!(e.label(), "UTF-8" | "utf-8"))
            .unwrap_or_else(|| Encoding::for_decoding("gb18030").expect("gb18030 is a label"));
        StdinText::Auto(fallback)
    }

    /// Parses `--stdin-encoding`: `utf-8`, `auto`, or any WHATWG label
    /// that can be read line by line (not UTF-16).
    ///
    /// # Errors
    /// A message for an unknown label or UTF-16.
    pub fn for_label(label: &str) -> Result<StdinText, String> {
        let enc = Encoding::for_decoding(label).map_err(|e| e.to_string())?;
        match enc {
            Encoding::Auto => Ok(Self::auto()),
            Encoding::Label { encoding, .. } if encoding == encoding_rs::UTF_8 => {
                Ok(StdinText::Utf8)
            }
            Encoding::Label { encoding, .. }
                if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE =>
            {
                Err(t!("stdin.utf16", label = label).into_owned())
            }
            enc => Ok(StdinText::Legacy(enc)),
        }
    }

    /// The text of one line, without its line ending.
    ///
    /// # Errors
    /// Why the line cannot be read (`not valid UTF-8`), for the caller to
    /// refuse it.
    pub fn text<'a>(&self, line: Input<'a>) -> Result<Cow<'a, str>, String> {
        let raw = match line {
            Input::Text(t) => return Ok(Cow::Borrowed(t)),
            Input::Bytes(b) => strip_ending(b),
        };
        let strict = |enc: &Encoding| match enc.decode(raw) {
            (text, false) => Ok(text),
            (_, true) => Err(t!("stdin.not_valid", label = enc.label()).into_owned()),
        };
        match self {
            StdinText::Utf8 => std::str::from_utf8(raw)
                .map(Cow::Borrowed)
                .map_err(|_| t!("stdin.not_valid", label = "UTF-8").into_owned()),
            StdinText::Legacy(enc) => strict(enc),
            StdinText::Auto(enc) => match std::str::from_utf8(raw) {
                Ok(text) => Ok(Cow::Borrowed(text)),
                Err(_) => {
                    strict(enc).map_err(|_| t!("stdin.neither", label = enc.label()).into_owned())
                }
            },
        }
    }
}

/// What a line handler tells [`drive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on with the next line.
    Continue,
    /// Stop reading (e.g. the quit word was sent, the socket failed).
    Stop,
}

/// Why [`drive`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// End of input; every line was handled.
    Eof,
    /// The handler returned [`Flow::Stop`].
    Handler,
    /// Ctrl-C in the line editor, or the stop flag.
    Stopped,
    /// Another thread reported [`Got::Closed`].
    Closed,
}

/// What [`drive`] hands lines to.
pub trait LineSink {
    /// One line and its number.
    fn line(&mut self, line_no: u64, line: Input<'_>) -> Flow;

    /// Called when the lines read so far are all handed over (after each
    /// block or edited line, and at the end): the moment to send what was
    /// batched.
    fn flush(&mut self) -> Flow {
        Flow::Continue
    }
}

impl<F: FnMut(u64, Input<'_>) -> Flow> LineSink for F {
    fn line(&mut self, line_no: u64, line: Input<'_>) -> Flow {
        self(line_no, line)
    }
}

/// Hands every line from `events` to `sink` with its number (from 1),
/// until end of input, the handler stopping, the stop flag (polled every
/// [`POLL_INTERVAL`]) or [`Got::Closed`]. Lines from a pipe are bytes
/// with their `\n` ([`StdinText::text`] reads them); a last line without
/// one is handled at end of input.
///
/// # Errors
/// The error reading stdin failed with.
pub fn drive(events: &Receiver<Got>, stop: &Stop, sink: &mut impl LineSink) -> io::Result<Finish> {
    let finish = drive_lines(events, stop, sink)?;
    if sink.flush() == Flow::Stop && finish == Finish::Eof {
        return Ok(Finish::Handler);
    }
    Ok(finish)
}

fn drive_lines(
    events: &Receiver<Got>,
    stop: &Stop,
    sink: &mut impl LineSink,
) -> io::Result<Finish> {
    let mut splitter = Splitter::default();
    let mut line_no = 0u64;
    loop {
        if stop.is_set() {
            return Ok(Finish::Stopped);
        }
        let event = match events.recv_timeout(POLL_INTERVAL) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Ok(Finish::Eof),
        };
        match event {
            Got::Line(text) => {
                line_no += 1;
                if sink.line(line_no, Input::Text(&text)) == Flow::Stop
                    || sink.flush() == Flow::Stop
                {
                    return Ok(Finish::Handler);
                }
            }
            Got::Block(block) => {
                let mut flow = Flow::Continue;
                splitter.split(&block, |line| {
                    line_no += 1;
                    flow = sink.line(line_no, Input::Bytes(line));
                    flow == Flow::Continue && !stop.is_set()
                });
                if flow == Flow::Stop || sink.flush() == Flow::Stop {
                    return Ok(Finish::Handler);
                }
            }
            Got::Eof => {
                if let Some(line) = splitter.finish() {
                    line_no += 1;
                    if sink.line(line_no, Input::Bytes(&line)) == Flow::Stop {
                        return Ok(Finish::Handler);
                    }
                }
                return Ok(Finish::Eof);
            }
            Got::Interrupted => return Ok(Finish::Stopped),
            Got::Closed => return Ok(Finish::Closed),
            Got::Error(e) => return Err(e),
        }
    }
}

/// Splits blocks into lines, carrying a partial line to the next block.
#[derive(Debug, Default)]
pub struct Splitter {
    carry: Vec<u8>,
}

impl Splitter {
    /// Calls `f` with each complete line in `block` (ending in `\n`,
    /// included), after any partial line carried from earlier blocks. Stops
    /// early when `f` returns false; the rest of the block is then dropped.
    pub fn split(&mut self, block: &[u8], mut f: impl FnMut(&[u8]) -> bool) {
        let mut rest = block;
        if !self.carry.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                Some(pos) => {
                    self.carry.extend_from_slice(&rest[..=pos]);
                    rest = &rest[pos + 1..];
                    let line = std::mem::take(&mut self.carry);
                    if !f(&line) {
                        return;
                    }
                }
                None => {
                    self.carry.extend_from_slice(rest);
                    return;
                }
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            if !f(&rest[..=pos]) {
                return;
            }
            rest = &rest[pos + 1..];
        }
        self.carry.extend_from_slice(rest);
    }

    /// The partial line left at end of input, if any.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.carry.is_empty()).then(|| std::mem::take(&mut self.carry))
    }
}

/// Removes one trailing `\n` or `\r\n` from raw bytes.
pub fn strip_ending(raw: &[u8]) -> &[u8] {
    raw.strip_suffix(b"\r\n")
        .or_else(|| raw.strip_suffix(b"\n"))
        .unwrap_or(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(blocks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        for b in blocks {
            s.split(b, |l| {
                out.push(l.to_vec());
                true
            });
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn lines_across_blocks() {
        assert_eq!(
            split_all(&[b"ab", b"c\nd", b"", b"e\nf"]),
            vec![b"abc\n".to_vec(), b"de\n".to_vec(), b"f".to_vec()]
        );
    }

    #[test]
    fn stop_early() {
        let mut s = Splitter::default();
        let mut n = 0;
        s.split(b"a\nb\nc\n", |_| {
            n += 1;
            n < 2
        });
        assert_eq!(n, 2);
    }

    #[test]
    fn drive_numbers_lines_across_blocks_and_stops_on_request() {
        let (tx, rx) = mpsc::sync_channel(8);
        tx.send(Got::Block(b"a\nb".to_vec())).unwrap();
        tx.send(Got::Block(b"c\nd\nstop\nnever\n".to_vec()))
            .unwrap();
        let mut seen = Vec::new();
        let end = drive(&rx, &Stop::new(), &mut |n: u64, l: Input<'_>| {
            let Input::Bytes(l) = l else { panic!("{l:?}") };
            seen.push((n, l.to_vec()));
            if l == b"stop\n" {
                Flow::Stop
            } else {
                Flow::Continue
            }
        })
        .unwrap();
        assert_eq!(end, Finish::Handler);
        let want: Vec<(u64, Vec<u8>)> = vec![
            (1, b"a\n".to_vec()),
            (2, b"bc\n".to_vec()),
            (3, b"d\n".to_vec()),
            (4, b"stop\n".to_vec()),
        ];
        assert_eq!(seen, want);
    }

    #[test]
    fn drive_handles_last_partial_line_at_eof() {
        let (tx, rx) = mpsc::sync_channel(8);
        tx.send(Got::Block(b"x\ny".to_vec())).unwrap();
        tx.send(Got::Eof).unwrap();
        let mut n = 0;
        let end = drive(&rx, &Stop::new(), &mut |_: u64, _: Input<'_>| {
            n += 1;
            Flow::Continue
        })
        .unwrap();
        assert_eq!((end, n), (Finish::Eof, 2));
    }

    #[test]
    fn strip() {
        assert_eq!(strip_ending(b"a\r\n"), b"a");
        assert_eq!(strip_ending(b"a\n"), b"a");
        assert_eq!(strip_ending(b"a"), b"a");
    }

    #[test]
    fn piped_lines_are_read_as_the_stdin_encoding_says() {
        let gbk_hello: &[u8] = b"\xc4\xe3\xba\xc3\r\n";
        let utf8 = StdinText::Utf8;
        assert_eq!(
            utf8.text(Input::Bytes("你好\n".as_bytes())).unwrap(),
            "你好"
        );
        assert_eq!(
            utf8.text(Input::Bytes(gbk_hello)).unwrap_err(),
            "not valid UTF-8"
        );
        let gbk = StdinText::for_label("gbk").unwrap();
        assert_eq!(gbk.text(Input::Bytes(gbk_hello)).unwrap(), "你好");
        assert_eq!(
            gbk.text(Input::Bytes(b"\xff\n")).unwrap_err(),
            "not valid gbk"
        );
        // auto: UTF-8 when valid, else the fallback (GBK here).
        let auto = StdinText::Auto(Encoding::gb2312());
        assert_eq!(auto.text(Input::Bytes("你好".as_bytes())).unwrap(), "你好");
        assert_eq!(auto.text(Input::Bytes(gbk_hello)).unwrap(), "你好");
        assert_eq!(
            auto.text(Input::Bytes(b"\xff")).unwrap_err(),
            "neither UTF-8 nor valid gb2312"
        );
        // Typed lines are text already, whatever the setting.
        assert_eq!(gbk.text(Input::Text("é")).unwrap(), "é");
        assert_eq!(StdinText::for_label("utf8").unwrap(), StdinText::Utf8);
        assert!(matches!(
            StdinText::for_label("auto").unwrap(),
            StdinText::Auto(_)
        ));
        assert!(StdinText::for_label("utf-16le")
            .unwrap_err()
            .contains("line by line"));
        assert!(StdinText::for_label("klingon").is_err());
        assert_eq!(
            StdinText::platform_default() == StdinText::Utf8,
            !cfg!(windows)
        );
    }
}
