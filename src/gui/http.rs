//! The desktop window's HTTP edge: a request read and parsed (httparse),
//! the rules that keep anyone but the user out, and the responses.
//!
//! Only the user gets in (as Jupyter and Syncthing guard their local
//! pages): every request carries the token lanchat printed (the page's
//! own requests carry it on), its `Host` names this loopback address and
//! port (a page of another site whose name was made to point here, DNS
//! rebinding, is refused), and a WebSocket or an upload comes from the
//! page's own origin. The server listens on loopback only.

use rust_i18n::t;
use std::io::{self, Read, Write};
use std::net::TcpStream;

/// Request heads larger than this are refused.
pub const MAX_HEAD: usize = 16 * 1024;

/// A request's head, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `PUT`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query's `name=value` pairs, percent-decoded.
    pub query: Vec<(String, String)>,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Bytes after the head (the start of a body).
    pub rest: Vec<u8>,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a request head from `buf`: `Ok(None)` while it is incomplete.
///
/// # Errors
/// A malformed or too large head.
pub fn parse(buf: &[u8]) -> Result<Option<Request>, &'static str> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Err("request too large"),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err("bad request"),
    };
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(n), percent_decode(v))
        })
        .collect();
    Ok(Some(Request {
        method: req.method.unwrap_or("").to_string(),
        path: percent_decode(path),
        query,
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect(),
        rest: buf[used..].to_vec(),
    }))
}

/// Reads a request head from `stream` (bounded by [`MAX_HEAD`]; the
/// stream's read timeout bounds the time).
///
/// # Errors
/// The connection failed or timed out, or the head is malformed.
pub fn read(stream: &mut TcpStream) -> io::Result<Request> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        buf.extend_from_slice(&chunk[..n]);
        match parse(&buf) {
            Ok(Some(req)) => return Ok(req),
            Ok(None) => {}
            Err(why) => return Err(io::Error::new(io::ErrorKind::InvalidData, why)),
        }
    }
}

/// Why a request is refused (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No token, or a wrong one.
    Token,
    /// `Host` is not this address and port (DNS rebinding).
    Host,
    /// A WebSocket or an upload from another page's origin.
    Origin,
}

/// The hosts this server answers to: `127.0.0.1:PORT`, `localhost:PORT`,
/// `[::1]:PORT` (and the address it listens on, when given another
/// loopback address).
fn own_hosts(port: u16, listen: &str) -> [String; 4] {
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        listen.to_string(),
    ]
}

/// Compares two tokens in a time that does not depend on where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Whether `req` may be answered: it names this server in `Host`,
/// carries `token`, and (a WebSocket, or anything but GET and HEAD)
/// comes from the page's own origin. `listen` is the server's `ADDR:PORT`.
///
/// # Errors
/// Why not.
pub fn admit(req: &Request, port: u16, listen: &str, token: &str) -> Result<(), Refusal> {
    let host = req.header("host").unwrap_or("");
    let hosts = own_hosts(port, listen);
    if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Err(Refusal::Host);
    }
    if !req.param("token").is_some_and(|t| same_token(t, token)) {
        return Err(Refusal::Token);
    }
    let websocket = req
        .header("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let changes = !matches!(req.method.as_str(), "GET" | "HEAD");
    if websocket || changes {
        // The page's own origin is the host it was loaded from.
        let own = format!("http://{host}");
        if !req
            .header("origin")
            .is_some_and(|o| o.eq_ignore_ascii_case(&own))
        {
            return Err(Refusal::Origin);
        }
    }
    Ok(())
}

/// A small response, then the connection is done.
pub fn respond(stream: &mut TcpStream, code: u16, reason: &str, kind: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

/// The 403 a refused request gets: one line saying what to do.
pub fn forbidden(stream: &mut TcpStream, why: Refusal) {
    let body = match why {
        Refusal::Token => t!("gui.forbidden_token"),
        Refusal::Host => t!("gui.forbidden_host"),
        Refusal::Origin => t!("gui.forbidden_origin"),
    } + "\n";
    respond(
        stream,
        403,
        "Forbidden",
        "text/plain; charset=utf-8",
        body.as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(lines: &[&str]) -> Request {
        let text = format!("{}\r\n\r\n", lines.join("\r\n"));
        parse(text.as_bytes()).unwrap().unwrap()
    }

    const T: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn the_token_host_and_origin_rules() {
        let ok = req(&[&format!("GET /?token={T} HTTP/1.1"), "Host: 127.0.0.1:8000"]);
        assert_eq!(admit(&ok, 8000, "127.0.0.1:8000", T), Ok(()));
        let local = req(&[
            &format!("GET /app.js?token={T} HTTP/1.1"),
            "Host: localhost:8000",
        ]);
        assert_eq!(admit(&local, 8000, "127.0.0.1:8000", T), Ok(()));
        for bad in [
            "GET / HTTP/1.1".to_string(),
            format!("GET /?token=x{} HTTP/1.1", &T[1..]),
            format!("GET /?token={T}0 HTTP/1.1"),
        ] {
            let r = req(&[&bad, "Host: 127.0.0.1:8000"]);
            assert_eq!(
                admit(&r, 8000, "127.0.0.1:8000", T),
                Err(Refusal::Token),
                "{bad}"
            );
        }
        // DNS rebinding: another name pointed here, or another port.
        for host in [
            "evil.example:8000",
            "127.0.0.1:8001",
            "192.168.1.5:8000",
            "",
        ] {
            let r = req(&[
                &format!("GET /?token={T} HTTP/1.1"),
                &format!("Host: {host}"),
            ]);
            assert_eq!(
                admit(&r, 8000, "127.0.0.1:8000", T),
                Err(Refusal::Host),
                "{host}"
            );
        }
        // A WebSocket, or an upload, from the page's own origin only.
        let ws = |origin: &str| {
            req(&[
                &format!("GET /ws?token={T} HTTP/1.1"),
                "Host: 127.0.0.1:8000",
                "Upgrade: websocket",
                &format!("Origin: {origin}"),
            ])
        };
        assert_eq!(
            admit(&ws("http://127.0.0.1:8000"), 8000, "127.0.0.1:8000", T),
            Ok(())
        );
        assert_eq!(
            admit(&ws("http://evil.example"), 8000, "127.0.0.1:8000", T),
            Err(Refusal::Origin)
        );
        assert_eq!(
            admit(&ws("http://localhost:8000"), 8000, "127.0.0.1:8000", T),
            Err(Refusal::Origin),
            "not the host it was loaded from"
        );
        let put = req(&[
            &format!("PUT /upload?token={T}&batch=b1&path=%E6%8A%A5%E5%91%8A.txt HTTP/1.1"),
            "Host: 127.0.0.1:8000",
        ]);
        assert_eq!(admit(&put, 8000, "127.0.0.1:8000", T), Err(Refusal::Origin));
        assert_eq!(put.param("path"), Some("报告.txt"), "percent-decoded");
    }

    #[test]
    fn heads_partial_and_too_large() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
        huge.extend(vec![b'a'; MAX_HEAD]);
        assert_eq!(parse(&huge), Err("request too large"));
        assert_eq!(parse(b"\x00garbage\r\n\r\n"), Err("bad request"));
        let r = parse(b"PUT /upload HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap()
            .unwrap();
        assert_eq!(r.rest, b"abc");
    }
}
