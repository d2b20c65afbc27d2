//! `room-server --web`: the room as a web page, tried as people use it: two
//! pages in a real headless Chromium (driven over WebDriver by the system
//! chromedriver) next to `nc` in the same room; and, without a browser,
//! raw WebSocket clients for the hostile cases (forged Origin, oversize and
//! binary frames, a member that never reads, hundreds of connections).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{bracketed_name, have, Patient, Proc, WAIT};
use fantoccini::{Client, ClientBuilder, Locator};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

/// A room-server with `--web 127.0.0.1:0`: (process, room address, web address).
pub fn server(args: &[&str]) -> (Proc, SocketAddr, SocketAddr) {
    let mut all = vec!["-b", "127.0.0.1", "-p", "0", "--web", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut p = Proc::spawn("room-server", &all);
    let room = p.listen_addr("Chat server started on");
    let line = p.wait_stderr("Web page on http://");
    let web = line
        .trim_start_matches("Web page on http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    (p, room, web)
}

fn gb(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A TCP connection to `to` from the local address `from` (another host).
fn tcp_from(from: &str, to: SocketAddr) -> TcpStream {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket
        .bind(&SockAddr::from(SocketAddr::new(from.parse().unwrap(), 0)))
        .unwrap();
    socket.connect_timeout(&SockAddr::from(to), WAIT).unwrap();
    socket.into()
}

/// A raw WebSocket client, as a script or a hostile page would be.
fn ws(web: SocketAddr, origin: Option<&str>) -> Result<WebSocket<Patient>, tungstenite::Error> {
    ws_from("127.0.0.1", web, origin)
}

/// A raw WebSocket client on another host (a source address of its own).
pub fn ws_from(
    from: &str,
    web: SocketAddr,
    origin: Option<&str>,
) -> Result<WebSocket<Patient>, tungstenite::Error> {
    let mut req = format!("ws://{web}/ws").into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", o.parse().unwrap());
    }
    let stream = tcp_from(from, web);
    stream.set_read_timeout(Some(WAIT)).unwrap();
    tungstenite::client(req, Patient(stream))
        .map(|(ws, _)| ws)
        .map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => panic!("blocking handshake interrupted"),
        })
}

/// The next page message (JSON) of a raw client.
pub fn next(ws: &mut WebSocket<Patient>) -> serde_json::Value {
    loop {
        match ws.read().expect("a message") {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

/// The close frame the server ends with (code, reason).
pub fn close_reason(ws: &mut WebSocket<Patient>) -> (CloseCode, String) {
    loop {
        match ws.read() {
            Ok(Message::Close(Some(f))) => return (f.code, f.reason.to_string()),
            Ok(Message::Close(None)) => return (CloseCode::Status, String::new()),
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    }
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

// ---- without a browser --------------------------------------------------------

#[test]
fn nothing_is_served_without_web() {
    let mut p = Proc::spawn("room-server", &["-b", "127.0.0.1", "-p", "0"]);
    p.listen_addr("Chat server started on");
    p.wait_stderr("open-file limit");
    assert!(!p.stderr().contains("Web page"), "{}", p.stderr());
}

#[test]
fn the_page_is_served_with_its_assets_and_a_strict_policy() {
    let (_srv, _, web) = server(&[]);
    let get = |path: &str| {
        let mut s = TcpStream::connect(web).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {web}\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let page = get("/");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(
        page.contains(&format!("connect-src 'self' ws://{web};")),
        "{page}"
    );
    assert!(page.contains("<script src=\"/app.js\"></script>"));
    assert!(get("/app.js").contains("new WebSocket"));
    assert!(get("/app.css").contains("text/css"));
    assert!(get("/secret").starts_with("HTTP/1.1 404"));
}

#[test]
fn a_forged_origin_gets_403_and_the_own_origin_joins() {
    let (_srv, _, web) = server(&["--web-origin", "http://chat.lan:8080"]);
    match ws(web, Some("http://evil.example")) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    let mut own = ws(web, Some(&format!("http://{web}"))).unwrap();
    assert_eq!(next(&mut own)["kind"], "you");
    let mut listed = ws(web, Some("http://chat.lan:8080")).unwrap();
    assert_eq!(next(&mut listed)["kind"], "you");
}

#[test]
fn an_oversize_frame_closes_with_its_reason_and_a_binary_frame_is_refused() {
    let (_srv, _, web) = server(&["--max-line", "1000"]);
    let mut big = ws(web, None).unwrap();
    next(&mut big); // you
    big.send(Message::text("x".repeat(5000))).unwrap();
    let (code, reason) = close_reason(&mut big);
    assert_eq!(code, CloseCode::Size);
    assert_eq!(reason, "message over 1000 bytes (the room's --max-line)");
    let mut bin = ws(web, None).unwrap();
    next(&mut bin);
    bin.send(Message::binary(vec![1, 2, 3])).unwrap();
    let (code, reason) = close_reason(&mut bin);
    assert_eq!(code, CloseCode::Unsupported);
    assert_eq!(reason, "binary frames are not accepted");
}

#[test]
fn browser_members_obey_the_rate_the_line_limit_and_the_encoding() {
    // One page message of 300 lines against --max-rate 100: every line
    // reaches the TCP member, in order (about 2 s); the page is told once
    // to slow down. A line that is over --max-line once encoded (UTF-16
    // doubles ASCII) is refused on the page and reaches nobody.
    let (mut srv, room, web) = server(&[
        "--max-rate",
        "100",
        "--max-line",
        "4000",
        "--web-encoding",
        "utf-16le",
    ]);
    let tcp = TcpStream::connect(room).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = std::io::BufReader::new(tcp.try_clone().unwrap());
    srv.wait_stderr("(1 in room)");
    let mut page = ws(web, None).unwrap();
    let me = next(&mut page)["addr"].as_str().unwrap().to_string();
    let mut line = String::new();
    use std::io::BufRead;
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, format!("[{me}] entered room\n"));
    let many: String = (0..300).map(|i| format!("第{i}行\n")).collect();
    page.send(Message::text(many)).unwrap();
    assert_eq!(next(&mut page), serde_json::json!({"kind": "sent"}));
    for i in 0..300 {
        let mut got = Vec::new();
        reader.read_until(b'\n', &mut got).unwrap();
        let mut want = format!("<{me}> ").into_bytes();
        want.extend(utf16(&format!("第{i}行")));
        want.push(b'\n');
        assert_eq!(got, want, "line {i}");
    }
    let slow = next(&mut page);
    assert_eq!(
        slow,
        serde_json::json!({"kind": "notice", "text": "! slow down (max 100 lines/s)",
            "say": {"key": "room.notice.slow_down", "args": {"max": "100"}}})
    );
    page.send(Message::text("x".repeat(2001))).unwrap();
    let refused = next(&mut page);
    assert_eq!(refused["kind"], "refused");
    assert!(
        refused["why"].as_str().unwrap().contains("4002 bytes"),
        "{refused}"
    );
    page.send(Message::text("after")).unwrap();
    assert_eq!(next(&mut page), serde_json::json!({"kind": "sent"}));
    let mut got = Vec::new();
    reader.read_until(b'\n', &mut got).unwrap();
    let mut want = format!("<{me}> ").into_bytes();
    want.extend(utf16("after"));
    want.push(b'\n');
    assert_eq!(got, want, "nothing refused reached the room");
}

#[test]
fn a_websocket_member_that_never_reads_is_dropped_and_the_others_get_everything() {
    const LINES: usize = 20_000;
    let (mut srv, room, web) = server(&["--max-rate", "1000000", "--max-queue", "1MiB"]);
    let mut stuck = ws(web, None).unwrap();
    let stuck_name = next(&mut stuck)["addr"].as_str().unwrap().to_string();
    let mut reader_page = ws(web, None).unwrap();
    let reader_name = next(&mut reader_page)["addr"].as_str().unwrap().to_string();
    let sender = TcpStream::connect(room).unwrap();
    srv.wait_stderr("(3 in room)");
    let sender_name = sender.local_addr().unwrap().to_string();
    let reader = thread::spawn(move || {
        let mut n = 0;
        let mut saw_drop = false;
        while n < LINES {
            let m = next(&mut reader_page);
            if m["kind"] == "line" {
                assert_eq!(m["from"], sender_name);
                assert_eq!(m["text"], format!("{n:06} {}", "好".repeat(300)));
                n += 1;
            } else if m["text"]
                .as_str()
                .is_some_and(|t| t.ends_with("left room (too slow)"))
            {
                saw_drop = true;
            }
        }
        (n, saw_drop, reader_page)
    });
    let mut w = sender;
    let mut block = Vec::new();
    for i in 0..LINES {
        block.extend(gb(&format!("{i:06} {}\n", "好".repeat(300))));
        if block.len() > 256 * 1024 {
            w.write_all(&block).unwrap();
            block.clear();
        }
    }
    w.write_all(&block).unwrap();
    let (n, saw_drop, _still_open) = reader.join().unwrap();
    assert_eq!(n, LINES);
    srv.wait_stderr(&format!("[{stuck_name}] left room (too slow)"));
    assert!(saw_drop || srv.stderr().contains("too slow"));
    assert!(
        !srv.stderr().contains(&format!("[{reader_name}] left")),
        "{}",
        srv.stderr()
    );
    drop(stuck);
}

#[test]
fn five_hundred_browser_connections_come_and_go_and_leak_no_files() {
    // 100 members at once from one address: no per-host limit here.
    let (mut srv, _, web) = server(&["--max-per-host", "0"]);
    let pid = srv.child.id();
    srv.wait_stderr("open-file limit");
    let baseline = open_files(pid);
    for _ in 0..5 {
        let mut pages: Vec<WebSocket<Patient>> = (0..100)
            .map(|_| ws(web, Some(&format!("http://{web}"))).unwrap())
            .collect();
        for p in &mut pages {
            assert_eq!(next(p)["kind"], "you");
        }
        // Some close properly, some just vanish, some send half a request.
        for (i, mut p) in pages.into_iter().enumerate() {
            if i % 2 == 0 {
                let _ = p.close(None);
                let _ = p.flush();
            }
        }
        let mut half = TcpStream::connect(web).unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nHost: x").unwrap();
        drop(half);
        // Every page of the round has left.
        srv.wait_stderr("(0 in room)");
    }
    let deadline = Instant::now() + WAIT;
    while open_files(pid) > baseline && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(open_files(pid), baseline, "descriptors leaked");
}

/// One page load (`GET /`, whole) from `from`: the status line, and how
/// long it took.
#[cfg(unix)]
fn load_page(from: &str, web: SocketAddr) -> (String, Duration) {
    let start = Instant::now();
    let mut s = tcp_from(from, web);
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: page\r\n\r\n")
        .unwrap();
    let mut body = Vec::new();
    let _ = s.read_to_end(&mut body);
    let text = String::from_utf8_lossy(&body).into_owned();
    assert!(
        text.contains("</html>") || !text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    let status = text.lines().next().unwrap_or("(reset)").to_string();
    (status, start.elapsed())
}

#[cfg(unix)]
#[test]
fn one_host_holding_3000_unfinished_requests_keeps_nobody_else_from_the_page() {
    // Each request from 127.0.0.8 is begun and never finished. At most 16
    // are held per address (a new one closes that address's oldest), so
    // the page still loads for another host and the room still works.
    crate::room::raise_nofile();
    let (mut srv, room, web) = server(&[]);
    let pid = srv.child.id();
    srv.wait_stderr("open-file limit");
    let baseline = open_files(pid);
    let mut held = Vec::with_capacity(3000);
    for _ in 0..3000 {
        let mut s = tcp_from("127.0.0.8", web);
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        held.push(s);
    }
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let (status, took) = load_page("127.0.0.9", web);
        assert_eq!(status, "HTTP/1.1 200 OK", "a page load from another host");
        slowest = slowest.max(took);
    }
    eprintln!("20 page loads beside 3,000 unfinished requests: slowest {slowest:?}");
    // A page member from another host joins and the room relays its line.
    let mut nc = crate::room::Conn::open("127.0.0.10", room);
    let mut page = ws_from("127.0.0.9", web, Some(&format!("http://{web}"))).unwrap();
    assert_eq!(next(&mut page)["kind"], "you");
    assert!(nc.line().ends_with("entered room\n"));
    page.send(Message::text("still here")).unwrap();
    assert!(nc.line().ends_with("> still here\n"));
    drop((page, nc, held));
    let deadline = Instant::now() + WAIT;
    while open_files(pid) > baseline && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        open_files(pid),
        baseline,
        "descriptors back where they were"
    );
}

#[test]
fn page_members_count_with_tcp_members_against_max_per_host() {
    let (mut srv, room, web) = server(&["--max-per-host", "2"]);
    let origin = format!("http://{web}");
    let _tcp = crate::room::Conn::open("127.0.0.7", room);
    let mut first = ws_from("127.0.0.7", web, Some(&origin)).unwrap();
    assert_eq!(next(&mut first)["kind"], "you");
    srv.wait_stderr("(2 in room)");
    let mut third = ws_from("127.0.0.7", web, Some(&origin)).unwrap();
    let refused = next(&mut third);
    assert_eq!(refused["kind"], "notice");
    assert_eq!(
        refused["text"],
        "! too many connections from 127.0.0.7 (max 2)"
    );
    match third.read() {
        Ok(Message::Close(Some(frame))) => assert!(frame.reason.contains("too many"), "{frame:?}"),
        other => panic!("expected a close frame, got {other:?}"),
    }
    // Another host still joins.
    let mut other = ws_from("127.0.0.6", web, Some(&origin)).unwrap();
    assert_eq!(next(&mut other)["kind"], "you");
    srv.wait_stderr("(3 in room)");
}

// ---- in a real browser ----------------------------------------------------------

/// chromedriver on a free port, killed on drop.
pub(crate) struct Driver {
    proc: Proc,
    port: u16,
    profile: std::path::PathBuf,
}

impl Driver {
    pub(crate) fn start() -> Driver {
        let mut proc =
            Proc::spawn_cmd("chromedriver", Command::new("chromedriver").arg("--port=0"));
        let deadline = Instant::now() + WAIT;
        let port = loop {
            let line = proc.line();
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                break rest.trim_end_matches('.').parse().unwrap();
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
        };
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let profile =
            std::env::temp_dir().join(format!("lanchat-chromium-{}-{n}", std::process::id()));
        Driver {
            proc,
            port,
            profile,
        }
    }

    /// A browser whose language is English (the pages follow it).
    pub(crate) async fn browser(&self, name: &str) -> Client {
        self.browser_lang(name, "en-US").await
    }

    /// A browser in the language `lang` (`zh-CN`, `en-US`).
    pub(crate) async fn browser_lang(&self, name: &str, lang: &str) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--disable-quic", "--window-size=420,800",
                         format!("--lang={lang}"),
                         format!("--user-data-dir={}", self.profile.join(name).display())],
                "prefs": { "intl.accept_languages": lang },
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.proc.child.kill();
        // chromedriver killed leaves its browsers: stop those of this
        // driver (their command line names its profile folder), by pid.
        #[cfg(target_os = "linux")]
        if let Ok(procs) = std::fs::read_dir("/proc") {
            let mark = self.profile.to_string_lossy().into_owned();
            for p in procs.flatten() {
                let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmd).contains(&mark) {
                    // SAFETY: kill(2) on a browser this test's driver started.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Polls the page (bounded) until `script` returns true.
pub(crate) async fn wait_for(page: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = page.execute(script, vec![]).await.unwrap();
        if v == serde_json::Value::Bool(true) {
            return;
        }
        let rows = page
            .execute("return [...document.querySelectorAll('#messages .msg')].map(r => r.textContent).join('\\n')", vec![])
            .await
            .unwrap();
        assert!(
            Instant::now() < deadline,
            "{what}: never true; the page shows:\n{}",
            rows.as_str().unwrap_or("")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The texts of the page's message rows.
async fn rows(page: &Client) -> Vec<String> {
    let v = page
        .execute(
            "return [...document.querySelectorAll('#messages .msg .text')].map(r => r.textContent)",
            vec![],
        )
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

async fn type_and_send(page: &Client, text: &str) {
    let box_ = page.find(Locator::Id("input")).await.unwrap();
    box_.send_keys(text).await.unwrap();
    box_.send_keys("\u{E007}").await.unwrap(); // Enter
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_and_nc_in_one_room_in_a_real_chromium() {
    if !have("chromium") || !have("chromedriver") || !have("nc") {
        return;
    }
    let (mut srv, room, web) = server(&[]);
    let mut nc = Proc::spawn_cmd(
        "nc",
        Command::new("nc").args(["127.0.0.1", &room.port().to_string()]),
    );
    let nc_name = bracketed_name(&srv.wait_stderr("entered room"));
    let driver = Driver::start();
    let a = driver.browser("a").await;
    let b = driver.browser("b").await;
    let url = format!("http://{web}/");

    a.goto(&url).await.unwrap();
    wait_for(
        &a,
        "page A connected",
        "return document.getElementById('state').textContent === 'connected'",
    )
    .await;
    let a_name = a
        .execute("return document.getElementById('me').textContent", vec![])
        .await
        .unwrap();
    let a_name = a_name.as_str().unwrap().to_string();
    assert!(a_name.starts_with("127.0.0.1:"), "{a_name}");
    assert_eq!(
        nc.line(),
        format!("[{a_name}] entered room"),
        "nc sees A join"
    );
    b.goto(&url).await.unwrap();
    wait_for(
        &b,
        "page B connected",
        "return document.getElementById('state').textContent === 'connected'",
    )
    .await;
    let b_name = b
        .execute("return document.getElementById('me').textContent", vec![])
        .await
        .unwrap();
    let b_name = b_name.as_str().unwrap().to_string();
    assert_eq!(nc.line(), format!("[{b_name}] entered room"));
    wait_for(
        &a,
        "A sees B join",
        &format!("return document.body.textContent.includes('[{b_name}] entered room')"),
    )
    .await;

    // A line typed in page A reaches nc as "<ip:port> line" in GB2312, and page B.
    type_and_send(&a, "你好，来自浏览器").await;
    let mut want = format!("<{a_name}> ").into_bytes();
    want.extend(gb("你好，来自浏览器"));
    assert_eq!(nc.line_bytes(), want);
    wait_for(
        &b,
        "B shows A's line",
        "return document.body.textContent.includes('你好，来自浏览器')",
    )
    .await;
    wait_for(&a, "A shows its own line as me, box cleared", "return document.querySelector('#messages .msg.me .text')?.textContent === '你好，来自浏览器' && document.getElementById('input').value === ''").await;

    // A GB2312 line from nc shows as Chinese in both pages.
    let mut line = gb("nc 说：大家好");
    line.push(b'\n');
    nc.write(&line);
    for page in [&a, &b] {
        wait_for(
            page,
            "nc's Chinese line",
            "return document.body.textContent.includes('nc 说：大家好')",
        )
        .await;
    }

    // Markup and escape sequences from nc show literally; no element is made.
    nc.write(b"<img src=x onerror=alert(1)> \x1b[31mred\n");
    for page in [&a, &b] {
        wait_for(
            page,
            "the literal markup",
            "return document.body.textContent.includes('<img src=x onerror=alert(1)>')",
        )
        .await;
        let imgs = page
            .execute("return document.querySelectorAll('img').length", vec![])
            .await
            .unwrap();
        assert_eq!(imgs, serde_json::json!(0));
        let last = rows(page).await.pop().unwrap();
        assert_eq!(last, "<img src=x onerror=alert(1)> \\x1b[31mred");
    }
    let from = a
        .execute(
            "return [...document.querySelectorAll('#messages .msg.line .from')].pop().textContent",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(from, serde_json::json!(nc_name));

    // An emoji in page A (default encoding): refused on the page, reaches
    // nobody, stays in the box. (ChromeDriver cannot type characters
    // outside the BMP, so the box is filled by script and Enter typed.)
    a.execute(
        "document.getElementById('input').value = 'ok 😀 no'",
        vec![],
    )
    .await
    .unwrap();
    a.find(Locator::Id("input"))
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    wait_for(&a, "the refusal shown", "return document.getElementById('error').textContent === \"'😀' (U+1F600) cannot be written in gb2312\"").await;
    let kept = a
        .execute("return document.getElementById('input').value", vec![])
        .await
        .unwrap();
    assert_eq!(kept, serde_json::json!("ok 😀 no"));
    // The next line nc gets is a later one: the emoji line went nowhere.
    a.execute("document.getElementById('input').value = ''", vec![])
        .await
        .unwrap();
    type_and_send(&a, "marker").await;
    assert_eq!(
        String::from_utf8_lossy(&nc.line_bytes()),
        format!("<{a_name}> marker")
    );
    assert!(!rows(&b).await.iter().any(|r| r.contains('😀')));

    // Leaving is announced.
    b.close().await.unwrap();
    assert_eq!(nc.line(), format!("[{b_name}] left room"));

    // The server goes away: the page says so, and when it comes back (on
    // the same ports) the page reconnects by itself, as a new member.
    #[cfg(unix)]
    {
        srv.signal(libc::SIGTERM);
        srv.expect_exit(130);
    }
    #[cfg(not(unix))]
    {
        let _ = srv.child.kill();
        srv.wait();
    }
    wait_for(
        &a,
        "page A sees the server gone",
        "return document.getElementById('state').className === 'closed'",
    )
    .await;
    let mut again = Proc::spawn(
        "room-server",
        &[
            "-b",
            "127.0.0.1",
            "-p",
            &room.port().to_string(),
            "--web",
            &web.to_string(),
        ],
    );
    again.wait_stderr("Web page on http://");
    again.wait_stderr("entered room from the web page");
    wait_for(
        &a,
        "page A reconnected",
        "return document.getElementById('state').textContent === 'connected'",
    )
    .await;
    a.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_the_member_list_and_private_lines_on_the_page_in_a_real_chromium() {
    if !have("chromium") || !have("chromedriver") {
        return;
    }
    let (mut srv, room, web) = server(&["--history", "5"]);
    let mut t1 = crate::room::Conn::open("127.0.0.2", room);
    let mut t2 = crate::room::Conn::open("127.0.0.3", room);
    t1.line(); // t2 entered
    t1.send(b"before the page came\n");
    srv.wait_stderr("(2 in room)");
    let driver = Driver::start();
    let page = driver.browser("names").await;
    page.goto(&format!("http://{web}/")).await.unwrap();
    wait_for(
        &page,
        "connected",
        "return document.getElementById('state').textContent === 'connected'",
    )
    .await;
    let me = page
        .execute("return document.getElementById('me').textContent", vec![])
        .await
        .unwrap();
    let me = me.as_str().unwrap().to_string();
    assert_eq!(t1.line(), format!("[{me}] entered room\n"));
    // History shows above the live lines, marked as history.
    wait_for(
        &page,
        "the history",
        "return [...document.querySelectorAll('#messages .msg.history .text')].some(r => r.textContent === 'before the page came')",
    )
    .await;
    // The member list, from /who at join: both TCP members and the page.
    wait_for(
        &page,
        "the members at join",
        &format!(
            "return [...document.querySelectorAll('#members > *')].map(li => li.dataset.who).sort().join(' ') === {:?}",
            {
                let mut all = [t1.name.clone(), t2.name.clone(), me.clone()];
                all.sort();
                all.join(" ")
            }
        ),
    )
    .await;

    // A name typed into #nick: the room hears /nick, TCP members see it.
    let nick = page.find(Locator::Id("nick")).await.unwrap();
    nick.send_keys("小明\u{E007}").await.unwrap(); // Enter: change
    let mut want = format!("[{me}] is now ").into_bytes();
    want.extend(gb("小明"));
    want.push(b'\n');
    assert_eq!(t1.line_bytes(), want);
    type_and_send(&page, "大家好").await;
    let mut want = gb("<小明");
    want.extend(format!("@{me}> ").as_bytes());
    want.extend(gb("大家好"));
    want.push(b'\n');
    assert_eq!(t1.line_bytes(), want, "the line carries the page's name");
    let renamed = [b"[", me.as_bytes(), b"] is now ", &gb("小明"), b"\n"].concat();
    while t2.line_bytes() != renamed {} // t1's line and the page's join come first
    t2.line_bytes(); // the page's line
                     // The browser remembers the name.
    let kept = page
        .execute("return localStorage.getItem('lanchat-nick')", vec![])
        .await
        .unwrap();
    assert_eq!(kept, serde_json::json!("小明"));

    // A TCP member's name shows inside #members.
    let mut rename = b"/nick ".to_vec();
    rename.extend(gb("老王"));
    rename.push(b'\n');
    t1.send(&rename);
    wait_for(
        &page,
        "the TCP member's name in the list",
        &format!(
            "return [...document.querySelectorAll('#members > *')].some(li => li.dataset.who === '老王@{}' && li.textContent.includes('老王'))",
            t1.name
        ),
    )
    .await;

    // A click on a member starts a private line; it reaches that member alone.
    page.execute(
        &format!(
            "[...document.querySelectorAll('#members > *')].find(li => li.dataset.who === '老王@{}').click()",
            t1.name
        ),
        vec![],
    )
    .await
    .unwrap();
    let started = page
        .execute("return document.getElementById('input').value", vec![])
        .await
        .unwrap();
    assert_eq!(started, serde_json::json!("/msg 老王 "));
    type_and_send(&page, "悄悄话").await;
    let got = loop {
        let l = t1.line_bytes();
        if l.starts_with(b"*") {
            break l;
        }
    };
    let mut want = gb("*小明");
    want.extend(format!("@{me}* ").as_bytes());
    want.extend(gb("悄悄话"));
    want.push(b'\n');
    assert_eq!(got, want);
    // t2 got nothing private: the next thing it sees is t1's rename, then a marker.
    t1.send(b"marker\n");
    loop {
        let l = t2.line_bytes();
        assert!(!l.starts_with(b"*"), "t2 got a private line: {l:?}");
        if l.ends_with(b"> marker\n") {
            break;
        }
    }
    // Private lines look private on the page, both ways.
    let mut to_page = b"/msg ".to_vec();
    to_page.extend(gb("小明"));
    to_page.extend(b" only you\n");
    t1.send(&to_page);
    wait_for(
        &page,
        "a private line shown as private",
        "return [...document.querySelectorAll('#messages .msg.private .text')].map(r => r.textContent).join('|') === '悄悄话|only you'",
    )
    .await;
    // A refusal shows on the page.
    page.execute("document.getElementById('nick').value = ''", vec![])
        .await
        .unwrap();
    nick.send_keys("老王\u{E007}").await.unwrap();
    wait_for(
        &page,
        "the refusal",
        "return document.getElementById('error').textContent === '! nick 老王 refused: in use'",
    )
    .await;
    page.close().await.unwrap();
}

/// Whether every placeholder of the page shows whole in its box: the
/// placeholder put in as the value does not overflow the box (a one-row
/// textarea grows no taller, an input no wider), as the browser lays it out.
const PLACEHOLDERS_FIT: &str = "return ['input', 'nick'].map((id) => {
    const el = document.getElementById(id), keep = el.value;
    el.value = el.placeholder;
    const fits = el.scrollHeight <= el.clientHeight + 1 && el.scrollWidth <= el.clientWidth + 1;
    el.value = keep;
    return [id, el.placeholder, fits];
  });";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_placeholders_show_whole_at_a_phones_width_and_a_desktops() {
    if !have("chromium") || !have("chromedriver") {
        return;
    }
    let (_srv, _, web) = server(&[]);
    let driver = Driver::start();
    // In each language the page speaks, its longest placeholder on a desktop.
    for (lang, whole) in [
        ("zh-CN", "输入消息 · Enter 发送 · /msg 名字 悄悄话"),
        ("en-US", "Type a message · Enter sends · /msg NAME whispers"),
    ] {
        let page = driver.browser_lang(&format!("sizes-{lang}"), lang).await;
        for (w, h) in [(360, 740), (1000, 700)] {
            page.set_window_size(w, h).await.unwrap();
            page.goto(&format!("http://{web}/")).await.unwrap();
            wait_for(
                &page,
                "connected",
                "return document.getElementById('state').className === 'open'",
            )
            .await;
            let fits = page.execute(PLACEHOLDERS_FIT, vec![]).await.unwrap();

            for f in fits.as_array().unwrap() {
                assert_eq!(f[2], serde_json::Value::Bool(true), "{lang} {w}x{h}: {f}");
            }
            if w > 600 {
                assert_eq!(fits[0][1], whole, "{lang}: whole on a desktop");
            }
        }
        page.close().await.unwrap();
    }
}
