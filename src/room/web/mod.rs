//! The room as a web page (`room-server --web ADDR:PORT`): the HTTP edge.
//!
//! ```text
//! browser ──GET / , /app.js, /app.css──▶ the page (compiled into the binary)
//! browser ──GET /ws (Upgrade, Origin checked)──▶ 101 ──▶ a room member (server.rs)
//!         ◀── JSON per entry: {"kind":"line","from":"ip:port","text":"…"} ──
//!         ── text messages ──▶ encoded (--web-encoding) ──▶ room lines, each taken by
//!                              the room whole, under the same rate, queue and memory rules
//! ```
//!
//! This module holds what is particular to the web: parsing requests
//! (httparse), the responses, the Origin rule, making the page's JSON from
//! the room's typed entries ([`page`], once per entry for every page:
//! [`PageCache`]) and the page's text into room lines ([`room_lines`]);
//! [`http`] holds a connection until its request is answered or upgraded. The WebSocket protocol itself is tungstenite's, on the
//! room's own mio sockets, so browsers are members of the one room loop
//! and no second copy of the room's rules exists.

pub mod http;

use rust_i18n::t;
use std::collections::VecDeque;
use std::net::SocketAddr;

use serde::Serialize;
use tungstenite::Utf8Bytes;

use crate::encoding::{EncodeError, Encoding};
use crate::room::entry::{Entry, Label, View};
use crate::sanitize;

pub use crate::page::{APP_CSS, APP_JS};

/// Request headers larger than this are refused (431).
pub const MAX_REQUEST: usize = 16 * 1024;

/// How the web side decodes and encodes.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// `--web-encoding` for lines going to browsers (`auto` allowed).
    pub decode: Encoding,
    /// For text coming from browsers (`auto` writes GB2312).
    pub encode: Encoding,
    /// `--web-origin`: origins accepted besides the server's own address.
    pub origins: Vec<String>,
}

/// What to do with a complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Send this response, then close.
    Close(Vec<u8>),
    /// Send this 101 response; the connection becomes a WebSocket member.
    Upgrade(Vec<u8>),
}

/// The result of looking at the bytes of a request so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Not complete yet.
    Partial,
    /// Complete: the reply, and how many bytes the request took.
    Done(Reply, usize),
}

/// Parses the request in `buf` (the connection arrived at `local`) and
/// decides the reply.
pub fn handle(buf: &[u8], local: SocketAddr, origins: &[String]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_REQUEST => {
            return Parsed::Done(
                Reply::Close(plain(
                    431,
                    "Request Header Fields Too Large",
                    "request too large\n",
                )),
                buf.len(),
            )
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Done(
                Reply::Close(plain(
                    431,
                    "Request Header Fields Too Large",
                    "too many headers\n",
                )),
                buf.len(),
            )
        }
        Err(_) => {
            return Parsed::Done(
                Reply::Close(plain(400, "Bad Request", "bad request\n")),
                buf.len(),
            )
        }
    };
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let method = req.method.unwrap_or("");
    let path = req.path.unwrap_or("/").split('?').next().unwrap_or("/");
    if method != "GET" && method != "HEAD" {
        return Parsed::Done(
            Reply::Close(plain(405, "Method Not Allowed", "only GET\n")),
            used,
        );
    }
    let reply = match path {
        "/" | "/index.html" => Reply::Close(asset(
            "text/html; charset=utf-8",
            crate::page::index_html(),
            header("Host"),
            method == "HEAD",
        )),
        "/app.js" => Reply::Close(asset(
            "text/javascript; charset=utf-8",
            APP_JS,
            None,
            method == "HEAD",
        )),
        "/app.css" => Reply::Close(asset(
            "text/css; charset=utf-8",
            APP_CSS,
            None,
            method == "HEAD",
        )),
        "/ws" => upgrade(&header, local, origins),
        _ => Reply::Close(plain(
            404,
            "Not Found",
            &format!("{}\n", t!("web.not_found")),
        )),
    };
    Parsed::Done(reply, used)
}

fn upgrade<'a>(
    header: &dyn Fn(&str) -> Option<&'a str>,
    local: SocketAddr,
    origins: &[String],
) -> Reply {
    let upgrading = header("Upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
        && header("Connection").is_some_and(|c| {
            c.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        });
    let Some(key) = header("Sec-WebSocket-Key").filter(|_| upgrading) else {
        return Reply::Close(plain(
            400,
            "Bad Request",
            "a WebSocket upgrade is expected at /ws\n",
        ));
    };
    if header("Sec-WebSocket-Version") != Some("13") {
        return Reply::Close(plain(
            426,
            "Upgrade Required",
            "WebSocket version 13 only\n",
        ));
    }
    if let Some(origin) = header("Origin") {
        if !origin_allowed(origin, local, origins) {
            return Reply::Close(plain(
                403,
                "Forbidden",
                "this page's origin may not join the room\n",
            ));
        }
    }
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    Reply::Upgrade(
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .into_bytes(),
    )
}

/// Whether a WebSocket request with this `Origin` may join: the server's
/// own address as the browser reached it (the connection's local address;
/// `localhost` too for a loopback address), or one given with
/// `--web-origin`. Comparing with the address, not the Host header, also
/// stops DNS rebinding (a page of another site whose name was made to point
/// here). A request without Origin is not from a browser, and passes.
pub fn origin_allowed(origin: &str, local: SocketAddr, extra: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    if extra
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let local = crate::net::canonical(local);
    let port = local.port();
    let mut own = vec![format!("http://{local}")];
    if port == 80 {
        own.push(match local.ip() {
            std::net::IpAddr::V6(ip) => format!("http://[{ip}]"),
            ip => format!("http://{ip}"),
        });
    }
    if local.ip().is_loopback() {
        own.push(format!("http://localhost:{port}"));
    }
    own.iter().any(|o| o.eq_ignore_ascii_case(origin))
}

fn asset(kind: &str, body: &str, host: Option<&str>, head: bool) -> Vec<u8> {
    // The page may talk to its own address only.
    let connect = match host {
        Some(h) if !h.contains(['\r', '\n', ';', ' ', '\'']) => format!("'self' ws://{h}"),
        _ => "'self'".to_string(),
    };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n\
         Content-Security-Policy: default-src 'self'; connect-src {connect}; frame-ancestors 'none'\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// A small text response.
pub fn plain(code: u16, reason: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A message to the page.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum ToPage<'a> {
    You {
        addr: &'a str,
        max_line: usize,
    },
    Line {
        from: &'a str,
        text: &'a str,
    },
    Private {
        from: &'a str,
        text: &'a str,
    },
    Notice {
        text: &'a str,
        /// The sentence it is, for the page to say in the reader's
        /// language: `{"key":"room.notice.no_member","args":{"name":…}}`
        /// (not on joins, leaves and renames: the page words those from
        /// `entered`, `left`, `renamed` and `now`).
        #[serde(skip_serializing_if = "Option::is_none")]
        say: Option<serde_json::Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        entered: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        left: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        renamed: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        now: Option<&'a str>,
        /// A member who became an operator.
        #[serde(skip_serializing_if = "Option::is_none")]
        op: Option<&'a str>,
    },
    Who {
        total: usize,
        members: Vec<String>,
        more: usize,
    },
    Sent,
    Refused {
        why: &'a str,
    },
}

impl<'a> ToPage<'a> {
    fn notice(text: &'a str) -> Self {
        ToPage::Notice {
            text,
            say: say(text),
            entered: None,
            left: None,
            renamed: None,
            now: None,
            op: None,
        }
    }
}

/// The sentence of a notice, as the page fills it from its catalog.
fn say(text: &str) -> Option<serde_json::Value> {
    let said = crate::room::words::classify(text)?;
    let args: serde_json::Map<String, serde_json::Value> = said
        .args
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
        .collect();
    Some(serde_json::json!({ "key": said.key, "args": args }))
}

fn json(m: &ToPage<'_>) -> String {
    serde_json::to_string(m).expect("a page message always serializes")
}

/// `{"kind":"you","addr":…,"max_line":…}`: the reader's own address, and
/// the longest message the room takes (longer ones close the connection,
/// so the page refuses them itself).
pub fn you(addr: &str, max_line: usize) -> String {
    json(&ToPage::You { addr, max_line })
}

/// `{"kind":"notice","text":…}` for a notice of the server's own (ASCII).
pub fn notice(text: &str) -> String {
    json(&ToPage::notice(&sanitize::one_line(
        text.trim_end_matches('\n'),
    )))
}

/// The answer to a page's `/who`: `{"kind":"who","total":N,"members":[WHO…],"more":K}`,
/// each WHO decoded with `decode` and sanitized.
pub fn who(total: usize, members: &[Label], more: usize, decode: Encoding) -> String {
    let members = members
        .iter()
        .map(|m| sanitize::one_line(&decode.decode(m).0))
        .collect();
    json(&ToPage::Who {
        total,
        members,
        more,
    })
}

/// The answer to a message the page sent: relayed. (Answers come in the
/// order of the messages, so the page knows which one it is.)
pub fn sent() -> String {
    json(&ToPage::Sent)
}

/// The answer to a message the page sent: refused, and why.
pub fn refused(why: &str) -> String {
    json(&ToPage::Refused { why })
}

/// An entry of the room as the page's JSON: made from its parts, decoded
/// with `decode` and sanitized like chat-window's output. Join, leave and
/// name notices also say who, so the page keeps its member list without
/// reading text.
pub fn page(entry: &Entry, decode: Encoding) -> String {
    // An entry whose encoding the room knows is decoded in it.
    let decode = match entry.enc() {
        Some(encoding) => Encoding::Label {
            label: encoding.name(),
            encoding,
        },
        None => decode,
    };
    let text = |b: &[u8]| sanitize::one_line(&decode.decode(b).0);
    // A notice, and the member it names (entered, left, renamed → now).
    let notice = |line: &[u8], named: [Option<&[u8]>; 4]| {
        let all = text(line);
        let [entered, left, renamed, now] = named.map(|n| n.map(text));
        json(&ToPage::Notice {
            text: &all,
            // The page says a join, leave or rename from the member it
            // names (no key needed: each of these goes to every page).
            say: None,
            entered: entered.as_deref(),
            left: left.as_deref(),
            renamed: renamed.as_deref(),
            now: now.as_deref(),
            op: None,
        })
    };
    // A notice with a sentence of the catalog (an operator's action).
    let said = |line: &[u8], left: Option<&[u8]>, op: Option<&[u8]>| {
        let all = text(line);
        let (left, op) = (left.map(text), op.map(text));
        json(&ToPage::Notice {
            text: &all,
            say: say(&all),
            entered: None,
            left: left.as_deref(),
            renamed: None,
            now: None,
            op: op.as_deref(),
        })
    };
    match entry.view() {
        View::Said { from, text: said } => json(&ToPage::Line {
            from: &text(from),
            text: &text(said),
        }),
        View::Private { from, text: said } => json(&ToPage::Private {
            from: &text(from),
            text: &text(said),
        }),
        View::Entered { who, line } => notice(line, [Some(who), None, None, None]),
        View::Left { who, line } => notice(line, [None, Some(who), None, None]),
        View::Renamed { who, now, line } => notice(line, [None, None, Some(who), Some(now)]),
        // The room's own words are ASCII: a page reads them as they are,
        // whatever --web-encoding says.
        View::Notice(line) => json(&ToPage::notice(&sanitize::one_line(
            &String::from_utf8_lossy(line),
        ))),
        View::Named(line) => said(line, None, None),
        View::Removed { who, line } => said(line, Some(who), None),
        View::Opped { who, line } => said(line, None, Some(who)),
        View::Who {
            total,
            members,
            more,
        } => who(total, members, more, decode),
        View::Page(json) => json.to_string(),
    }
}

/// Feed entries whose page form is kept at most.
const PAGE_CACHE: usize = 512;

/// The page form (JSON) of recent feed entries, so a line is decoded once
/// for all the browsers, not once each: every member gets a reference to
/// the same bytes.
#[derive(Debug)]
pub struct PageCache {
    decode: Encoding,
    entries: VecDeque<(u64, Utf8Bytes)>,
}

impl PageCache {
    /// A cache decoding with `--web-encoding`.
    pub fn new(decode: Encoding) -> Self {
        PageCache {
            decode,
            entries: VecDeque::new(),
        }
    }

    /// The page form of feed entry `seq` (`item`), from the cache or made
    /// and kept.
    pub fn get(&mut self, seq: u64, item: &Entry) -> Utf8Bytes {
        if let Some((_, json)) = self.entries.iter().rev().find(|(s, _)| *s == seq) {
            return json.clone();
        }
        let json = Utf8Bytes::from(page(item, self.decode));
        if self.entries.len() == PAGE_CACHE {
            self.entries.pop_front();
        }
        self.entries.push_back((seq, json.clone()));
        json
    }

    /// The page form of an entry for one page alone (not cached).
    pub fn one(&self, item: &Entry) -> Utf8Bytes {
        Utf8Bytes::from(page(item, self.decode))
    }
}

/// The page's text as room lines: encoded with `encode`, split at line
/// breaks, each line at most `max_line` bytes. Returns the lines, each
/// taken whole by the room.
///
/// # Errors
/// Why it cannot be sent: a character the encoding cannot write (named
/// with its code point), or a line too long.
pub fn room_lines(text: &str, encode: Encoding, max_line: usize) -> Result<Vec<Vec<u8>>, String> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut lines = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut out = Vec::with_capacity(line.len());
        encode.encode_into(line, &mut out).map_err(|e| match e {
            EncodeError::Unmappable { ch, label } => t!(
                "room.web_unmappable",
                ch = ch,
                code = format!("{:04X}", ch as u32),
                label = label
            )
            .into_owned(),
        })?;
        let len = out.len();
        if len > max_line {
            return Err(t!("room.web_too_long", bytes = len, max = max_line).into_owned());
        }
        lines.push(out);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> SocketAddr {
        "192.168.1.10:8080".parse().unwrap()
    }

    fn request(lines: &[&str]) -> Vec<u8> {
        let mut r = lines.join("\r\n");
        r.push_str("\r\n\r\n");
        r.into_bytes()
    }

    fn upgrade_request(origin: Option<&str>) -> Vec<u8> {
        let mut l = vec![
            "GET /ws HTTP/1.1",
            "Host: 192.168.1.10:8080",
            "Upgrade: websocket",
            "Connection: keep-alive, Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
        ];
        let o;
        if let Some(origin) = origin {
            o = format!("Origin: {origin}");
            l.push(&o);
        }
        request(&l)
    }

    fn status(reply: &Reply) -> String {
        let bytes = match reply {
            Reply::Close(b) | Reply::Upgrade(b) => b,
        };
        String::from_utf8_lossy(bytes)
            .lines()
            .next()
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_page_and_its_assets_are_served_from_the_binary() {
        let req = request(&["GET / HTTP/1.1", "Host: 192.168.1.10:8080"]);
        let Parsed::Done(reply, n) = handle(&req, local(), &[]) else {
            panic!()
        };
        assert_eq!(n, req.len(), "the whole request, no more");
        assert_eq!(status(&reply), "HTTP/1.1 200 OK");
        let Reply::Close(bytes) = reply else { panic!() };
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.contains("connect-src 'self' ws://192.168.1.10:8080;"),
            "{text}"
        );
        assert!(text.ends_with(crate::page::index_html()));
        assert!(
            !crate::page::index_html().contains("http"),
            "nothing from outside"
        );
        assert!(!APP_JS.contains("innerHTML"), "text is inserted as text");
        for (path, ok) in [("/app.js", true), ("/app.css", true), ("/nope", false)] {
            let Parsed::Done(r, _) =
                handle(&request(&[&format!("GET {path} HTTP/1.1")]), local(), &[])
            else {
                panic!()
            };
            assert_eq!(status(&r).contains("200"), ok, "{path}");
        }
        let Parsed::Done(r, _) = handle(&request(&["POST / HTTP/1.1"]), local(), &[]) else {
            panic!()
        };
        assert_eq!(status(&r), "HTTP/1.1 405 Method Not Allowed");
    }

    #[test]
    fn partial_huge_and_broken_requests() {
        assert_eq!(
            handle(b"GET / HTTP/1.1\r\nHost: x\r\n", local(), &[]),
            Parsed::Partial
        );
        let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
        huge.extend(vec![b'a'; MAX_REQUEST]);
        let Parsed::Done(r, _) = handle(&huge, local(), &[]) else {
            panic!()
        };
        assert!(status(&r).contains("431"));
        let Parsed::Done(r, _) = handle(b"\x00\x01garbage\r\n\r\n", local(), &[]) else {
            panic!()
        };
        assert!(status(&r).contains("400"));
    }

    #[test]
    fn the_upgrade_checks_origin_and_answers_with_the_accept_key() {
        let Parsed::Done(r, _) = handle(
            &upgrade_request(Some("http://192.168.1.10:8080")),
            local(),
            &[],
        ) else {
            panic!()
        };
        let Reply::Upgrade(bytes) = r else {
            panic!("{r:?}")
        };
        // RFC 6455's example key and accept value.
        assert!(String::from_utf8(bytes)
            .unwrap()
            .contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        let Parsed::Done(r, _) =
            handle(&upgrade_request(Some("http://evil.example")), local(), &[])
        else {
            panic!()
        };
        assert_eq!(status(&r), "HTTP/1.1 403 Forbidden");
        let extra = vec!["http://chat.lan:8080".to_string()];
        let Parsed::Done(r, _) = handle(
            &upgrade_request(Some("http://chat.lan:8080")),
            local(),
            &extra,
        ) else {
            panic!()
        };
        assert!(matches!(r, Reply::Upgrade(_)));
        let Parsed::Done(r, _) = handle(&upgrade_request(None), local(), &[]) else {
            panic!()
        };
        assert!(
            matches!(r, Reply::Upgrade(_)),
            "not a browser: no Origin to check"
        );
        let Parsed::Done(r, _) = handle(&request(&["GET /ws HTTP/1.1"]), local(), &[]) else {
            panic!()
        };
        assert!(status(&r).contains("400"));
    }

    #[test]
    fn origin_rule() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(origin_allowed("http://127.0.0.1:8080", lo, &[]));
        assert!(origin_allowed("http://localhost:8080/", lo, &[]));
        assert!(!origin_allowed("http://localhost:8081", lo, &[]));
        assert!(
            !origin_allowed("http://localhost:8080", local(), &[]),
            "localhost only for loopback"
        );
        // DNS rebinding: the origin names another host, whatever it resolves to.
        assert!(!origin_allowed("http://evil.example:8080", local(), &[]));
        let v6: SocketAddr = "[fd00::1]:8080".parse().unwrap();
        assert!(origin_allowed("http://[fd00::1]:8080", v6, &[]));
        let mapped: SocketAddr = "[::ffff:192.168.1.10]:8080".parse().unwrap();
        assert!(origin_allowed("http://192.168.1.10:8080", mapped, &[]));
    }

    #[test]
    fn room_entries_become_sanitized_json_and_page_text_becomes_room_lines() {
        let gbk = Encoding::gb2312();
        let mut text = gbk.encode("你好").unwrap();
        text.extend(b" <img src=x onerror=alert(1)> \x1b[31m");
        assert_eq!(
            page(&Entry::said(b"10.0.0.2:4000", &text), gbk),
            r#"{"kind":"line","from":"10.0.0.2:4000","text":"你好 <img src=x onerror=alert(1)> \\x1b[31m"}"#
        );
        assert_eq!(
            page(&Entry::entered(b"10.0.0.2:4000"), gbk),
            r#"{"kind":"notice","text":"[10.0.0.2:4000] entered room","entered":"10.0.0.2:4000"}"#
        );
        assert_eq!(
            page(
                &Entry::renamed(b"10.0.0.2:4000", &gbk.encode("老王").unwrap()),
                gbk
            ),
            r#"{"kind":"notice","text":"[10.0.0.2:4000] is now 老王","renamed":"10.0.0.2:4000","now":"老王"}"#
        );
        assert_eq!(
            page(&Entry::left(b"bob@10.0.0.2:4000", true), gbk),
            r#"{"kind":"notice","text":"[bob@10.0.0.2:4000] left room (too slow)","left":"bob@10.0.0.2:4000"}"#
        );
        assert_eq!(
            page(&Entry::private(b"bob@10.0.0.2:4000", b"psst"), gbk),
            r#"{"kind":"private","from":"bob@10.0.0.2:4000","text":"psst"}"#
        );
        assert_eq!(
            page(&Entry::notice(crate::room::wire::slow_down(5)), gbk),
            r#"{"kind":"notice","text":"! slow down (max 5 lines/s)","say":{"args":{"max":"5"},"key":"room.notice.slow_down"}}"#
        );
        let members: Vec<Label> = vec![b"bob@10.0.0.2:4000"[..].into(), b"10.0.0.3:1"[..].into()];
        assert_eq!(
            page(&Entry::who(3, members, 1), gbk),
            r#"{"kind":"who","total":3,"members":["bob@10.0.0.2:4000","10.0.0.3:1"],"more":1}"#
        );
        assert_eq!(
            room_lines("第一行\r\ntwo\n", gbk, 100).unwrap(),
            vec![gbk.encode("第一行").unwrap(), b"two".to_vec()]
        );
        assert_eq!(
            room_lines("ok 😀", gbk, 100).unwrap_err(),
            "'😀' (U+1F600) cannot be written in gb2312"
        );
        assert!(room_lines(&"x".repeat(101), gbk, 100)
            .unwrap_err()
            .contains("101 bytes"));
        assert_eq!(
            you("1.2.3.4:5", 100),
            r#"{"kind":"you","addr":"1.2.3.4:5","max_line":100}"#
        );
        assert_eq!(
            notice("! slow down (max 5 lines/s)\n"),
            r#"{"kind":"notice","text":"! slow down (max 5 lines/s)","say":{"args":{"max":"5"},"key":"room.notice.slow_down"}}"#
        );
    }
}
