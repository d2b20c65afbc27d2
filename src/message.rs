//! A received datagram and its renderings, and the JSON records of
//! `--log`.
//!
//! [`Renderer`] turns one datagram (sender, bytes, time) into the text record
//! (two lines: sender, sanitized text) or the JSON record (README, "chat-window"),
//! appending to a caller-owned buffer so a burst costs no allocation per
//! message in text mode.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::SystemTime;

use serde::Serialize;

use crate::encoding::Encoding;
use crate::sanitize;

/// Output format of `chat-window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Two lines per datagram: `ip:port`, then the sanitized text.
    Text,
    /// One JSON object per datagram per line.
    Json,
}

/// The JSON record of one datagram (also the `--log` line).
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Record<'a> {
    /// Arrival time, RFC 3339 UTC with milliseconds.
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
    /// Sender `ip:port` (`[ip]:port` for IPv6).
    #[serde(borrow)]
    pub from: Cow<'a, str>,
    /// Decoded text, line ending removed; exact, not terminal-escaped.
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    /// Payload length in bytes.
    pub bytes: usize,
    /// Whether any byte was invalid in the encoding.
    pub malformed: bool,
}

/// What rendering one datagram found out about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// Whether any byte was invalid in the encoding.
    pub malformed: bool,
}

/// Renders datagrams in one format and encoding.
#[derive(Clone, Copy, Debug)]
pub struct Renderer {
    /// Encoding the payloads are decoded with.
    pub encoding: Encoding,
    /// Output format.
    pub format: Format,
    /// Whether text records carry a timestamp before the sender.
    pub timestamps: bool,
}

impl Default for Renderer {
    /// GB2312 text records without timestamps, as chat-window starts.
    fn default() -> Self {
        Renderer {
            encoding: Encoding::gb2312(),
            format: Format::Text,
            timestamps: false,
        }
    }
}

/// Buffers reused from one datagram to the next, so rendering a burst costs
/// no allocation per message.
#[derive(Debug, Default)]
pub struct Scratch {
    text: String,
    /// The last sender formatted, and its text: a flood comes from one.
    from: Option<(SocketAddr, String)>,
    json: String,
    /// The last time formatted, and its text: a batch shares one time.
    ts: Option<(SystemTime, String)>,
}

impl Scratch {
    /// `from` as text (`ip:port`, `[v6]:port`), formatted once per sender.
    fn sender(&mut self, from: SocketAddr) -> &str {
        if self.from.as_ref().is_none_or(|(f, _)| *f != from) {
            self.from = Some((from, from.to_string()));
        }
        &self.from.as_ref().expect("just set").1
    }

    fn timestamp(&mut self, time: SystemTime) -> &str {
        if self.ts.as_ref().is_none_or(|(t, _)| *t != time) {
            self.ts = Some((time, crate::clock::timestamp(time)));
        }
        &self.ts.as_ref().expect("just set").1
    }
}

impl Record<'_> {
    /// Appends this record's JSON line (as serde_json writes it, field for
    /// field and escape for escape) and its newline.
    pub fn push_json(&self, out: &mut String) {
        out.push_str("{\"ts\":");
        push_json_str(out, &self.ts);
        out.push_str(",\"from\":");
        push_json_str(out, &self.from);
        out.push_str(",\"text\":");
        push_json_str(out, &self.text);
        out.push_str(",\"bytes\":");
        let _ = write!(out, "{}", self.bytes);
        out.push_str(if self.malformed {
            ",\"malformed\":true}\n"
        } else {
            ",\"malformed\":false}\n"
        });
    }
}

/// Whether JSON needs `b` escaped.
#[inline(always)]
fn json_special(b: u8) -> bool {
    (b < 0x20) | (b == b'"') | (b == b'\\')
}

/// Appends `s` as a JSON string, escaped exactly as serde_json does: `"`,
/// `\` and the control characters below U+0020 (`\n`, `\r`, `\t`, `\b`,
/// `\f`, else `\u00xx`); everything else as it is. Runs without escapes
/// are copied whole.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(i) = sanitize::find_byte(bytes, start, json_special) {
        // Escaped bytes are ASCII, so `i` is a character boundary.
        out.push_str(&s[start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The log record of a line sent by `lanchat`.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SentRecord<'a> {
    /// Sending time, RFC 3339 UTC with milliseconds.
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
    /// Destination `ip:port` (or the room's address).
    #[serde(borrow)]
    pub to: Cow<'a, str>,
    /// The text as typed.
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    /// Bytes on the wire.
    pub bytes: usize,
}

impl Renderer {
    /// Decodes one datagram once for a chat window: appends its text,
    /// terminal-safe and without its line ending, to `text`, and its JSON
    /// record to `json` when given.
    pub fn render_entry(
        &self,
        text: &mut String,
        json: Option<&mut String>,
        scratch: &mut Scratch,
        from: &str,
        payload: &[u8],
        time: SystemTime,
    ) -> Rendered {
        let malformed = self.encoding.decode_into(payload, &mut scratch.text);
        if let Some(json) = json {
            scratch.timestamp(time);
            let ts = &scratch.ts.as_ref().expect("formatted above").1;
            Record {
                ts: Cow::Borrowed(ts),
                from: Cow::Borrowed(from),
                text: Cow::Borrowed(sanitize::strip_line_ending(&scratch.text)),
                bytes: payload.len(),
                malformed,
            }
            .push_json(json);
        }
        sanitize::push_line(text, sanitize::strip_line_ending(&scratch.text));
        Rendered { malformed }
    }

    /// Appends the record of one datagram to `out` in the chosen format, and,
    /// when `log` is given, its JSON record to `log`. Pass the same `scratch`
    /// every time to reuse its buffers.
    pub fn render(
        &self,
        out: &mut String,
        log: Option<&mut String>,
        scratch: &mut Scratch,
        from: SocketAddr,
        payload: &[u8],
        time: SystemTime,
    ) -> Rendered {
        let malformed = self.encoding.decode_into(payload, &mut scratch.text);
        let need_json = self.format == Format::Json || log.is_some();
        if need_json {
            scratch.sender(from);
            scratch.timestamp(time);
            let ts = &scratch.ts.as_ref().expect("formatted above").1;
            let from_text = &scratch.from.as_ref().expect("formatted above").1;
            // Written straight into the reused buffer, the text escaped in
            // one pass: no allocation, no second pass.
            scratch.json.clear();
            Record {
                ts: Cow::Borrowed(ts),
                from: Cow::Borrowed(from_text),
                text: Cow::Borrowed(sanitize::strip_line_ending(&scratch.text)),
                bytes: payload.len(),
                malformed,
            }
            .push_json(&mut scratch.json);
        }
        match self.format {
            Format::Text => {
                if self.timestamps {
                    out.push_str(scratch.timestamp(time));
                    out.push(' ');
                }
                out.push_str(scratch.sender(from));
                out.push('\n');
                sanitize::push_line(out, sanitize::strip_line_ending(&scratch.text));
                out.push('\n');
            }
            Format::Json => out.push_str(&scratch.json),
        }
        if let Some(log) = log {
            log.push_str(&scratch.json);
        }
        Rendered { malformed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn text_renderer() -> Renderer {
        Renderer {
            encoding: Encoding::gb2312(),
            format: Format::Text,
            timestamps: false,
        }
    }

    #[test]
    fn text_record_is_two_lines() {
        let mut out = String::new();
        let r = text_renderer().render(
            &mut out,
            None,
            &mut Scratch::default(),
            addr("172.16.43.31:50873"),
            &[0xC4, 0xE3, 0xBA, 0xC3, b'\r', b'\n'],
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(out, "172.16.43.31:50873\n你好\n");
        assert!(!r.malformed);
    }

    #[test]
    fn ipv6_sender_in_brackets() {
        let mut out = String::new();
        text_renderer().render(
            &mut out,
            None,
            &mut Scratch::default(),
            addr("[::1]:9"),
            b"x",
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(out, "[::1]:9\nx\n");
    }

    #[test]
    fn empty_datagram_is_empty_line() {
        let mut out = String::new();
        text_renderer().render(
            &mut out,
            None,
            &mut Scratch::default(),
            addr("1.2.3.4:5"),
            b"",
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(out, "1.2.3.4:5\n\n");
    }

    #[test]
    fn timestamps_prefix_sender_line() {
        let mut out = String::new();
        let r = Renderer {
            timestamps: true,
            ..text_renderer()
        };
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_000_000_456);
        r.render(
            &mut out,
            None,
            &mut Scratch::default(),
            addr("1.2.3.4:5"),
            b"hi",
            t,
        );
        assert_eq!(out, "2026-11-18T11:06:40.456Z 1.2.3.4:5\nhi\n");
    }

    #[test]
    fn records_are_written_exactly_as_serde_json_writes_them() {
        let mut texts: Vec<String> = (0u32..0x300)
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}b"))
            .collect();
        texts.extend(["", "\"\\\u{7f}\u{2028}你好😀", "\u{1b}[31m\r\n\t"].map(String::from));
        for (i, text) in texts.iter().enumerate() {
            let record = Record {
                ts: Cow::Borrowed("2026-11-22T01:02:03.456Z"),
                from: Cow::Borrowed("[::1]:9"),
                text: Cow::Borrowed(text),
                bytes: i * 1000,
                malformed: i % 2 == 0,
            };
            let mut want = serde_json::to_string(&record).unwrap();
            want.push('\n');
            let mut got = String::new();
            record.push_json(&mut got);
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn json_record_is_exact_and_reports_malformed() {
        let mut out = String::new();
        let mut log = String::new();
        let r = Renderer {
            format: Format::Json,
            ..text_renderer()
        };
        let payload = [b'a', b'\x1b', 0xFF, b'\n'];
        let got = r.render(
            &mut out,
            Some(&mut log),
            &mut Scratch::default(),
            addr("1.2.3.4:5"),
            &payload,
            SystemTime::UNIX_EPOCH,
        );
        assert!(got.malformed);
        assert_eq!(out, log);
        let rec: Record = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(rec.text, "a\x1b\u{FFFD}");
        assert_eq!(rec.bytes, 4);
        assert_eq!(rec.from, "1.2.3.4:5");
        assert_eq!(rec.ts, "1970-01-01T00:00:00.000Z");
        assert!(rec.malformed);
        assert_eq!(out.lines().count(), 1);
    }
}
