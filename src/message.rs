//! A received datagram and its renderings.
//!
//! [`Renderer`] turns one datagram (sender, bytes, time) into the text record
//! (two lines: sender, sanitized text) or the JSON record of SPEC.md,
//! appending to a caller-owned buffer so a burst costs no allocation per
//! message in text mode.

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
    pub ts: String,
    /// Sender `ip:port` (`[ip]:port` for IPv6).
    pub from: String,
    /// Decoded text, line ending removed; exact, not terminal-escaped.
    #[serde(borrow)]
    pub text: std::borrow::Cow<'a, str>,
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

/// Formats a time as `2026-11-22T01:02:03.456Z`.
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

impl Renderer {
    /// Appends the record of one datagram to `out` in the chosen format, and,
    /// when `log` is given, its JSON record to `log`.
    pub fn render(
        &self,
        out: &mut String,
        log: Option<&mut String>,
        from: SocketAddr,
        payload: &[u8],
        time: SystemTime,
    ) -> Rendered {
        let (decoded, malformed) = self.encoding.decode(payload);
        let text = sanitize::strip_line_ending(&decoded);
        let need_json = self.format == Format::Json || log.is_some();
        let json = need_json.then(|| {
            let record = Record {
                ts: timestamp(time),
                from: from.to_string(),
                text: std::borrow::Cow::Borrowed(text),
                bytes: payload.len(),
                malformed,
            };
            serde_json::to_string(&record).expect("a record always serializes")
        });
        match self.format {
            Format::Text => {
                if self.timestamps {
                    out.push_str(&timestamp(time));
                    out.push(' ');
                }
                let _ = write!(out, "{from}");
                out.push('\n');
                sanitize::push_line(out, text);
                out.push('\n');
            }
            Format::Json => {
                out.push_str(json.as_deref().unwrap_or_default());
                out.push('\n');
            }
        }
        if let (Some(log), Some(json)) = (log, json) {
            log.push_str(&json);
            log.push('\n');
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
        r.render(&mut out, None, addr("1.2.3.4:5"), b"hi", t);
        assert_eq!(out, "2026-11-18T11:06:40.456Z 1.2.3.4:5\nhi\n");
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
