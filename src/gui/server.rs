//! The desktop window's server, on loopback: the page (the same one the
//! room serves, with this window's token in it), a WebSocket per tab, and
//! uploads of files to offer (streamed into the spool folder). A thread per
//! connection: few tabs, one user.
//!
//! ```text
//! GET /?token=T ──▶ the page ──▶ GET /app.js, /app.css (token) ──▶ GET /ws (token, Origin)
//! tab ◀── state updates (≤ 30 a second, the newest: View::since) ── View
//! tab ──▶ {"kind":"submit"|"offer"|"quit"} ──▶ the loop (Input::Page) ──▶ its answer to that tab
//! PUT /upload?token=T&batch=B&path=P ──▶ spool/B/P (each name made safe)
//! ```

use rust_i18n::t;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use super::http::{self, Request};
use super::spool::{self, SpoolDir};
use super::view::View;
use super::Input;

/// How long a connection may take to send its request.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// The shortest time between two updates to a tab (about 30 a second).
pub const FRAME: Duration = Duration::from_millis(33);
/// How long a tab's thread waits for the page before it looks at the view.
const TICK: Duration = Duration::from_millis(30);
/// Bytes copied per read of an upload.
const CHUNK: usize = 256 * 1024;
/// Folders an upload's path may nest at most.
const MAX_DEPTH: usize = 32;
/// The longest message a page sends (a line typed, a command).
const MAX_MESSAGE: usize = 1 << 20;
/// Messages of the tabs waiting for the loop at most; past it a tab is
/// told lanchat is busy.
const MAX_INBOX: usize = 1024;

/// What a page says.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PageMsg {
    /// The input box's text, Enter pressed (a line, several, or a command).
    Submit {
        /// The page's number for it, given back with the answer.
        id: u64,
        /// What was typed.
        text: String,
    },
    /// Offer what was uploaded as batch `batch` (the files dropped or
    /// chosen at once).
    Offer {
        /// The batch's name.
        batch: String,
    },
    /// The Quit button.
    Quit,
}

/// What the server and the loop share.
pub struct Shared {
    /// What the tabs are sent.
    pub view: Mutex<View>,
    /// Set when lanchat leaves: every tab closes.
    pub quit: AtomicBool,
    /// Each tab's mailbox for the loop's answers.
    tabs: Mutex<HashMap<u64, SyncSender<String>>>,
    /// What the tabs said, not yet taken by the loop. Beside the loop's
    /// channel, not in it: under a flood the channel is full of what the
    /// network brings, and a line typed must not wait behind it.
    inbox: Mutex<std::collections::VecDeque<(u64, PageMsg)>>,
    next_tab: AtomicU64,
}

impl Shared {
    /// Hands `answer` to tab `tab` (if it is still there).
    pub fn answer(&self, tab: u64, answer: String) {
        if let Some(tx) = self.tabs.lock().ok().and_then(|t| t.get(&tab).cloned()) {
            let _ = tx.try_send(answer);
        }
    }

    /// What the tabs said since the last call, in order.
    pub fn take_inbox(&self) -> Vec<(u64, PageMsg)> {
        self.inbox
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default()
    }

    /// Tabs open now.
    pub fn tabs(&self) -> usize {
        self.tabs.lock().map(|t| t.len()).unwrap_or(0)
    }
}

/// The server, running.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The token every request carries.
    pub token: String,
    /// Shared with the tabs.
    pub shared: Arc<Shared>,
    /// Uploads wait here to be offered (removed on drop).
    pub spool: PathBuf,
    _spool: SpoolDir,
}

impl Server {
    /// The address to open: `http://ADDR:PORT/?token=TOKEN`.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.token)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.quit.store(true, Ordering::SeqCst);
    }
}

/// A token of 256 random bits, as hex.
///
/// # Errors
/// The OS has no randomness to give.
pub fn token() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts serving on `listener` (bound to loopback); the pages' messages
/// go to `events`.
///
/// # Errors
/// No token could be made, or the spool folder cannot be created or
/// locked.
pub fn start(listener: TcpListener, events: SyncSender<Input>) -> io::Result<Server> {
    let addr = listener.local_addr()?;
    let token = token()?;
    // Spools left by a lanchat killed outright go; ours is made.
    spool::sweep(&std::env::temp_dir());
    let spool_dir = SpoolDir::create(&std::env::temp_dir(), &token[..12])?;
    let spool = spool_dir.path().to_path_buf();
    let shared = Arc::new(Shared {
        view: Mutex::new(View::new()),
        quit: AtomicBool::new(false),
        tabs: Mutex::new(HashMap::new()),
        inbox: Mutex::new(std::collections::VecDeque::new()),
        next_tab: AtomicU64::new(1),
    });
    let ctx = Arc::new(Context {
        addr,
        token: token.clone(),
        shared: shared.clone(),
        spool: spool.clone(),
        events,
    });
    thread::spawn(move || {
        for conn in listener.incoming() {
            if ctx.shared.quit.load(Ordering::SeqCst) {
                return;
            }
            let Ok(stream) = conn else {
                continue;
            };
            let ctx = ctx.clone();
            thread::spawn(move || ctx.serve(stream));
        }
    });
    Ok(Server {
        addr,
        token,
        shared,
        spool,
        _spool: spool_dir,
    })
}

/// What every connection's thread needs.
struct Context {
    addr: SocketAddr,
    token: String,
    shared: Arc<Shared>,
    spool: PathBuf,
    events: SyncSender<Input>,
}

impl Context {
    fn serve(&self, mut stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(REQUEST_DEADLINE));
        let Ok(req) = http::read(&mut stream) else {
            return;
        };
        let listen = self.addr.to_string();
        if let Err(why) = http::admit(&req, self.addr.port(), &listen, &self.token) {
            return http::forbidden(&mut stream, why);
        }
        match (req.method.as_str(), req.path.as_str()) {
            ("GET" | "HEAD", "/" | "/index.html") => {
                let page = self.page(req.header("host").unwrap_or(&listen));
                let csp = format!(
                    "default-src 'self'; connect-src 'self' ws://{}; frame-ancestors 'none'",
                    req.header("host").unwrap_or(&listen)
                );
                respond_asset(
                    &mut stream,
                    "text/html; charset=utf-8",
                    page.as_bytes(),
                    &csp,
                );
            }
            ("GET" | "HEAD", "/app.js") => respond_asset(
                &mut stream,
                "text/javascript; charset=utf-8",
                crate::page::APP_JS.as_bytes(),
                "default-src 'self'",
            ),
            ("GET" | "HEAD", "/app.css") => respond_asset(
                &mut stream,
                "text/css; charset=utf-8",
                crate::page::APP_CSS.as_bytes(),
                "default-src 'self'",
            ),
            ("GET", "/ws") => self.tab(stream, &req),
            ("PUT", "/upload") => self.upload(stream, req),
            _ => http::respond(&mut stream, 404, "Not Found", "text/plain", b"not found\n"),
        }
    }

    /// The page, with this window's token in it (its own requests carry it
    /// on).
    fn page(&self, _host: &str) -> String {
        let t = &self.token;
        crate::page::index_html()
            .replace(
                "<meta charset=\"utf-8\">",
                &format!("<meta charset=\"utf-8\">\n<meta name=\"lanchat-token\" content=\"{t}\">"),
            )
            .replace("href=\"/app.css\"", &format!("href=\"/app.css?token={t}\""))
            .replace("src=\"/app.js\"", &format!("src=\"/app.js?token={t}\""))
    }

    /// A tab: the WebSocket until the page or lanchat goes.
    fn tab(&self, mut stream: TcpStream, req: &Request) {
        let Some(key) = req.header("sec-websocket-key") else {
            return http::respond(
                &mut stream,
                400,
                "Bad Request",
                "text/plain",
                b"a WebSocket is expected\n",
            );
        };
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let _ = stream.set_read_timeout(Some(TICK));
        let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
        let _ = stream.set_nodelay(true);
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let mut ws =
            WebSocket::from_partially_read(stream, req.rest.clone(), Role::Server, Some(config));
        let id = self.shared.next_tab.fetch_add(1, Ordering::Relaxed);
        let (tx, answers) = mpsc::sync_channel(256);
        if let Ok(mut tabs) = self.shared.tabs.lock() {
            tabs.insert(id, tx);
        }
        self.run_tab(&mut ws, id, &answers);
        if let Ok(mut tabs) = self.shared.tabs.lock() {
            tabs.remove(&id);
        }
    }

    fn run_tab(&self, ws: &mut WebSocket<TcpStream>, id: u64, answers: &Receiver<String>) {
        let mut seen = 0u64;
        let mut last = Instant::now() - FRAME;
        // An update not yet out: nothing new is made until it is (a page
        // that stops reading is sent the newest state later, not a backlog).
        let mut pending = false;
        loop {
            if self.shared.quit.load(Ordering::SeqCst) {
                let _ = ws.close(None);
                let _ = ws.flush();
                return;
            }
            match ws.read() {
                Ok(Message::Text(text)) => match serde_json::from_str::<PageMsg>(&text) {
                    Ok(msg) => {
                        let queued = self.shared.inbox.lock().is_ok_and(|mut q| {
                            q.len() < MAX_INBOX && {
                                q.push_back((id, msg));
                                true
                            }
                        });
                        if !queued {
                            let why = serde_json::json!({"kind": "error", "why": t!("gui.busy")});
                            self.shared.answer(id, why.to_string());
                            continue;
                        }
                        // Wakes the loop if it waits; a full channel means
                        // it is busy and takes the inbox at its next event.
                        let _ = self.events.try_send(Input::Wake);
                    }
                    Err(_) => {
                        let why =
                            serde_json::json!({"kind": "error", "why": t!("gui.unknown_message")});
                        self.shared.answer(id, why.to_string());
                    }
                },
                Ok(Message::Close(_)) => {
                    let _ = ws.flush();
                    return;
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return,
            }
            while let Ok(answer) = answers.try_recv() {
                if ws.write(Message::text(answer)).is_err() {
                    return;
                }
            }
            if !pending && last.elapsed() >= FRAME {
                let update = self.shared.view.lock().ok().and_then(|v| v.since(seen));
                if let Some((rev, json)) = update {
                    if ws.write(Message::text(json)).is_err() {
                        return;
                    }
                    seen = rev;
                    last = Instant::now();
                }
            }
            match ws.flush() {
                Ok(()) => pending = false,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    pending = true;
                }
                Err(_) => return,
            }
        }
    }

    /// `PUT /upload?batch=B&path=P` (and `&dir=1` for an empty folder): the
    /// body streamed to `spool/B/P`, each name of P made safe.
    fn upload(&self, mut stream: TcpStream, req: Request) {
        let fail = |stream: &mut TcpStream, code: u16, why: &str| {
            let body = serde_json::json!({"ok": false, "why": why}).to_string();
            http::respond(
                stream,
                code,
                "Not Stored",
                "application/json",
                body.as_bytes(),
            );
        };
        let batch = req.param("batch").unwrap_or("");
        if batch.is_empty()
            || batch.len() > 64
            || !batch
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return fail(&mut stream, 400, "batch: 1 to 64 letters, digits, - and _");
        }
        let Some(rel) = safe_path(req.param("path").unwrap_or("")) else {
            return fail(
                &mut stream,
                400,
                "path: names under the batch, at most 32 deep",
            );
        };
        let target = self.spool.join(batch).join(rel);
        if req.param("dir") == Some("1") {
            return match fs::create_dir_all(&target) {
                Ok(()) => http::respond(
                    &mut stream,
                    200,
                    "OK",
                    "application/json",
                    br#"{"ok":true}"#,
                ),
                Err(e) => fail(&mut stream, 500, &crate::net::describe(&e)),
            };
        }
        let Some(len) = req
            .header("content-length")
            .and_then(|l| l.parse::<u64>().ok())
        else {
            return fail(&mut stream, 411, "Content-Length is needed");
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        match store(&mut stream, &req.rest, len, &target) {
            Ok(()) => {
                let body = serde_json::json!({"ok": true, "bytes": len}).to_string();
                http::respond(&mut stream, 200, "OK", "application/json", body.as_bytes());
            }
            Err(e) => {
                let _ = fs::remove_file(&target);
                fail(&mut stream, 500, &crate::net::describe(&e));
            }
        }
    }
}

/// Writes `len` bytes of body (`first`, then the rest from `stream`) to
/// `target`, creating its folders.
fn store(stream: &mut TcpStream, first: &[u8], len: u64, target: &Path) -> io::Result<()> {
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut file = File::create(target)?;
    let head = &first[..first.len().min(usize::try_from(len).unwrap_or(usize::MAX))];
    file.write_all(head)?;
    let mut left = len - head.len() as u64;
    let mut buf = vec![0u8; CHUNK];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match stream.read(&mut buf[..want]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    file.flush()
}

/// A path from the page (`图片/2024/a.jpg`) as names under the batch:
/// each made safe as a peer's are ([`crate::ipmsg::files::safe_name`]),
/// none empty, at most [`MAX_DEPTH`] deep.
fn safe_path(path: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.len() > MAX_DEPTH {
        return None;
    }
    let mut out = PathBuf::new();
    for p in parts {
        out.push(crate::ipmsg::files::safe_name(p));
    }
    Some(out)
}

fn respond_asset(stream: &mut TcpStream, kind: &str, body: &[u8], csp: &str) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n\
         Content-Security-Policy: {csp}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uploads_path_stays_under_its_batch() {
        assert_eq!(
            safe_path("图片/a.jpg"),
            Some(PathBuf::from("图片").join("a.jpg"))
        );
        let climb = safe_path("../../etc/passwd").unwrap();
        assert!(climb
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_))));
        assert!(!climb.to_string_lossy().contains(".."), "{climb:?}");
        assert_eq!(safe_path(""), None);
        assert_eq!(safe_path("///"), None);
        assert_eq!(safe_path(&"d/".repeat(40)), None, "too deep");
    }

    #[test]
    fn a_page_message_is_one_of_three() {
        let m: PageMsg = serde_json::from_str(r#"{"kind":"submit","id":3,"text":"你好"}"#).unwrap();
        assert_eq!(
            m,
            PageMsg::Submit {
                id: 3,
                text: "你好".into()
            }
        );
        let m: PageMsg = serde_json::from_str(r#"{"kind":"quit"}"#).unwrap();
        assert_eq!(m, PageMsg::Quit);
        assert!(serde_json::from_str::<PageMsg>(r#"{"kind":"rm -rf"}"#).is_err());
    }

    #[test]
    fn tokens_are_256_random_bits_and_differ() {
        let (a, b) = (token().unwrap(), token().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
