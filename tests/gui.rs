//! `lanchat --gui`, as a user meets it: the real lanchat serving its window
//! on loopback, the page in a real headless Chromium over WebDriver, and
//! the real chat-window, input-box, a raw room member and the FeiQ-like
//! peer on the other side; raw requests for what only a stranger would
//! send (no token, another Host, another Origin).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;

use fantoccini::{Client, Locator};

use crate::files::{offer_numbers, Peer};
use crate::lanchat::scratch;
use crate::util::{bin, have, recv_from, Proc, WAIT};
use crate::web::{wait_for, Driver};

/// lanchat --gui --no-open with `args`: the process, its window's address
/// (with the token) and the address it listens on.
pub(crate) struct Gui {
    pub proc: Proc,
    pub url: String,
    pub listen: SocketAddr,
}

impl Gui {
    pub(crate) fn start(args: &[&str]) -> Gui {
        Self::start_env(args, &[])
    }

    /// With these environment variables too.
    pub(crate) fn start_env(args: &[&str], env: &[(&str, &str)]) -> Gui {
        let mut all = vec!["--gui", "--no-open"];
        all.extend_from_slice(args);
        let mut cmd = std::process::Command::new(bin("lanchat"));
        cmd.args(&all).envs(env.iter().copied());
        let mut proc = Proc::spawn_cmd("lanchat", &mut cmd);
        // In the order lanchat says them.
        let listen = if args.contains(&"--room") {
            "0.0.0.0:0".parse().unwrap()
        } else {
            proc.listen_addr("listening on")
        };
        let line = proc.wait_stderr("GUI on ");
        let url = line.split("GUI on ").nth(1).unwrap().trim().to_string();
        Gui { proc, url, listen }
    }

    fn port(&self) -> u16 {
        self.url
            .trim_start_matches("http://127.0.0.1:")
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn token(&self) -> &str {
        self.url.split("token=").nth(1).unwrap()
    }
}

impl Drop for Gui {
    /// Asked to leave (SIGTERM) as a user would, so that it removes its
    /// spool; killed if it has not left in a while.
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Ok(None) = self.proc.child.try_wait() {
            self.proc.signal(libc::SIGTERM);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while matches!(self.proc.child.try_wait(), Ok(None))
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

/// One raw request; the status line and the whole answer.
fn raw(port: u16, request: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    (out.lines().next().unwrap_or("").to_string(), out)
}

#[test]
fn only_the_user_gets_in_the_token_host_and_origin_are_checked() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = rx.local_addr().unwrap().to_string();
    let gui = Gui::start(&[&target, "-b", "127.0.0.1", "-p", "0"]);
    let (port, t) = (gui.port(), gui.token().to_string());
    assert!(
        gui.url.starts_with("http://127.0.0.1:"),
        "loopback: {}",
        gui.url
    );
    assert_eq!(t.len(), 64, "256 random bits");
    let get = |path: &str, host: &str| {
        raw(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        )
    };
    let own = format!("127.0.0.1:{port}");
    let (status, page) = get(&format!("/?token={t}"), &own);
    assert_eq!(status, "HTTP/1.1 200 OK", "{page}");
    assert!(page.contains(&format!("<meta name=\"lanchat-token\" content=\"{t}\">")));
    assert!(page.contains("Content-Security-Policy: default-src 'self'"));
    assert!(
        get(&format!("/app.js?token={t}"), &format!("localhost:{port}"))
            .0
            .contains("200")
    );
    for (path, host, why) in [
        (
            "/".to_string(),
            own.clone(),
            "open the address lanchat printed",
        ),
        (
            "/?token=0000".to_string(),
            own.clone(),
            "open the address lanchat printed",
        ),
        (
            format!("/app.js?token={}0", &t[1..]),
            own.clone(),
            "open the address lanchat printed",
        ),
        (
            format!("/?token={t}"),
            format!("evil.example:{port}"),
            "answers to 127.0.0.1",
        ),
        (
            format!("/?token={t}"),
            format!("192.168.1.9:{port}"),
            "answers to 127.0.0.1",
        ),
    ] {
        let (status, body) = get(&path, &host);
        assert_eq!(status, "HTTP/1.1 403 Forbidden", "{path} {host}");
        assert!(body.contains(why), "{body}");
    }
    // A WebSocket from another page's origin, and an upload without one.
    let ws = |origin: &str| {
        raw(
            port,
            &format!(
                "GET /ws?token={t} HTTP/1.1\r\nHost: {own}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
            ),
        )
        .0
    };
    assert_eq!(ws("http://evil.example"), "HTTP/1.1 403 Forbidden");
    assert_eq!(
        ws(&format!("http://localhost:{port}")),
        "HTTP/1.1 403 Forbidden"
    );
    let mut own_ws = TcpStream::connect(("127.0.0.1", port)).unwrap();
    own_ws.set_read_timeout(Some(WAIT)).unwrap();
    own_ws
        .write_all(
            format!(
                "GET /ws?token={t} HTTP/1.1\r\nHost: {own}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{own}\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let mut head = [0u8; 64];
    let n = own_ws.read(&mut head).unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 101"));
    let (status, _) = raw(
        port,
        &format!("PUT /upload?token={t}&batch=b1&path=x HTTP/1.1\r\nHost: {own}\r\nContent-Length: 1\r\n\r\nx"),
    );
    assert_eq!(
        status, "HTTP/1.1 403 Forbidden",
        "an upload needs the page's origin"
    );
    // Nothing of it on another address of this machine.
    assert!(TcpStream::connect(("127.0.0.2", port)).is_err() || gui.url.contains("127.0.0.1"));
    #[cfg(unix)]
    {
        let mut gui = gui;
        gui.proc.signal(libc::SIGTERM);
        gui.proc.expect_exit(130);
    }
}

/// The spool folder of the lanchat with this pid.
fn spool_of(pid: u32) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("lanchat-gui-{pid}-"))
        })
        .map(|e| e.path())
        .collect()
}

#[test]
fn a_spool_left_by_a_lanchat_killed_outright_goes_when_the_next_starts() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = rx.local_addr().unwrap().to_string();
    let mut gui = Gui::start(&[&target, "-b", "127.0.0.1", "-p", "0"]);
    let port = gui.port();
    let own = format!("127.0.0.1:{port}");
    let (status, _) = raw(
        port,
        &format!(
            "PUT /upload?token={}&batch=b1&path=a.txt HTTP/1.1\r\nHost: {own}\r\nOrigin: http://{own}\r\nContent-Length: 5\r\n\r\nhello",
            gui.token()
        ),
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    let spool = spool_of(gui.proc.child.id());
    assert_eq!(spool.len(), 1, "{spool:?}");
    let left = spool[0].clone();
    assert_eq!(std::fs::read(left.join("b1/a.txt")).unwrap(), b"hello");
    gui.proc.child.kill().unwrap(); // killed outright: it cannot clean up
    gui.proc.child.wait().unwrap();
    assert!(left.join("b1/a.txt").exists());
    let next = Gui::start(&[&target, "-b", "127.0.0.1", "-p", "0"]);
    assert!(!left.exists(), "the dead lanchat's spool is swept");
    assert_eq!(
        spool_of(next.proc.child.id()).len(),
        1,
        "the new one has its own"
    );
}

#[test]
fn gui_addr_must_be_loopback() {
    let (code, _, err) = crate::util::run(Command::new(bin("lanchat")).args([
        "--gui",
        "--no-open",
        "--gui-addr",
        "0.0.0.0:8080",
    ]));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--gui-addr must be a loopback address"),
        "{err}"
    );
}

async fn open(driver: &Driver, name: &str, url: &str) -> Client {
    let page = driver.browser(name).await;
    page.goto(url).await.unwrap();
    wait_for(
        &page,
        "connected",
        "return document.getElementById('state').textContent === 'connected'",
    )
    .await;
    page
}

pub(crate) async fn js(page: &Client, script: &str) -> serde_json::Value {
    page.execute(script, vec![]).await.unwrap()
}

pub(crate) async fn type_enter(page: &Client, text: &str) {
    let input = page.find(Locator::Id("input")).await.unwrap();
    input.send_keys(text).await.unwrap();
    input.send_keys("\u{E007}").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_window_chats_in_gb2312_shows_senders_and_keeps_a_refused_line() {
    if !have("chromium") || !have("chromedriver") {
        return;
    }
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(WAIT)).unwrap();
    let target = rx.local_addr().unwrap().to_string();
    let mut gui = Gui::start(&[&target, "-b", "127.0.0.1", "-p", "0"]);
    let port = gui.listen.port().to_string();
    let driver = Driver::start();
    let a = open(&driver, "gui-a", &gui.url).await;
    // The empty window says how to begin.
    wait_for(
        &a,
        "hints",
        "return document.querySelector('#messages .hint')?.textContent.includes('it goes to')",
    )
    .await;
    assert!(
        js(&a, "return document.getElementById('status').textContent")
            .await
            .as_str()
            .unwrap()
            .contains("/help")
    );

    // Lines from input-box show with their sender; HTML stays text.
    let (code, _, _) = crate::util::run(Command::new(bin("input-box")).args([
        "127.0.0.1",
        "-p",
        &port,
        "-s",
        "127.0.0.2",
        "-m",
        "大家好",
        "-m",
        "<img src=x onerror=alert(1)>",
    ]));
    assert_eq!(code, Some(0));
    wait_for(&a, "the lines", "return document.querySelectorAll('#messages .msg[data-from^=\"127.0.0.2:\"]').length === 2").await;
    let texts = js(
        &a,
        "return [...document.querySelectorAll('#messages .msg .text')].map(t => t.textContent)",
    )
    .await;
    assert_eq!(
        texts,
        serde_json::json!(["大家好", "<img src=x onerror=alert(1)>"])
    );
    assert_eq!(
        js(
            &a,
            "return document.querySelectorAll('#messages img').length"
        )
        .await,
        0
    );
    assert_eq!(
        js(
            &a,
            "return document.querySelectorAll('#members li[data-addr^=\"127.0.0.2:\"]').length"
        )
        .await,
        1
    );

    // Chinese typed in the page leaves as GB2312 from lanchat's port.
    type_enter(&a, "你好，来自桌面窗口").await;
    let mut buf = [0u8; 256];
    let (n, from) = recv_from(&rx, &mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        &encoding_rs::GBK.encode("你好，来自桌面窗口").0[..]
    );
    assert_eq!(from, gui.listen);
    wait_for(&a, "own line, box cleared", "return document.querySelector('#messages .msg.me .text')?.textContent === '你好，来自桌面窗口' && document.getElementById('input').value === ''").await;

    // A character gb2312 cannot write: the line stays, the reason beside it.
    type_enter(&a, "ok 😀 no").await;
    wait_for(&a, "refused", "return document.getElementById('error').textContent.includes(\"'😀' (U+1F600) cannot be written in gb2312\")").await;
    assert_eq!(
        js(&a, "return document.getElementById('input').value").await,
        "ok 😀 no"
    );
    js(&a, "document.getElementById('input').value = ''").await;

    // A second tab sees the same window, and sends too; a reload gets the
    // kept messages back.
    let b = open(&driver, "gui-b", &gui.url).await;
    wait_for(&b, "the kept lines", "return [...document.querySelectorAll('#messages .msg .text')].some(t => t.textContent === '你好，来自桌面窗口')").await;
    type_enter(&b, "第二个标签").await;
    let (n, _) = recv_from(&rx, &mut buf).unwrap();
    assert_eq!(&buf[..n], &encoding_rs::GBK.encode("第二个标签").0[..]);
    wait_for(&a, "tab A sees tab B's line", "return [...document.querySelectorAll('#messages .msg.me .text')].some(t => t.textContent === '第二个标签')").await;
    a.refresh().await.unwrap();
    wait_for(
        &a,
        "after a reload",
        "return document.querySelectorAll('#messages .msg').length === 4",
    )
    .await;

    // Quit: lanchat leaves with 0; the page says so.
    a.find(Locator::Id("quit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    gui.proc.expect_exit(0);
    wait_for(
        &b,
        "the other tab knows",
        "return document.getElementById('state').className === 'closed'",
    )
    .await;
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_window_in_a_room_next_to_a_raw_member() {
    if !have("chromium") || !have("chromedriver") {
        return;
    }
    let mut srv = Proc::spawn(
        "room-server",
        &["-b", "127.0.0.1", "-p", "0", "--op-password", "chalk"],
    );
    let addr = srv.listen_addr("Chat server started on");
    let mut bob = crate::room::Conn::open("127.0.0.2", addr);
    bob.send(b"/nick bob\n/op chalk\n");
    bob.line();
    bob.line(); // you are an operator
    bob.line(); // became an operator
    let gui = Gui::start(&["--room", &addr.to_string(), "--name", "desk"]);
    let driver = Driver::start();
    let page = open(&driver, "gui-room", &gui.url).await;
    let me = crate::util::bracketed_name(&bob.line()); // entered
    assert_eq!(bob.line(), format!("[{me}] is now desk\n"));
    bob.send(&encoding_rs::GBK.encode("<b>你好</b>\n").0);
    wait_for(&page, "bob's line", "return [...document.querySelectorAll('#messages .msg .text')].some(t => t.textContent === '<b>你好</b>')").await;
    type_enter(&page, "来自桌面").await;
    let mut want = format!("<desk@{me}> ").into_bytes();
    want.extend(encoding_rs::GBK.encode("来自桌面").0.iter());
    want.push(b'\n');
    assert_eq!(bob.line_bytes(), want);
    // A click on a member starts a private line to it.
    wait_for(
        &page,
        "bob listed",
        "return [...document.querySelectorAll('#members li b')].some(b => b.textContent === 'bob')",
    )
    .await;
    // An operator is marked (`@` before its name), its name still its name.
    wait_for(
        &page,
        "bob marked as an operator",
        "return [...document.querySelectorAll('#members li.op b')].map(b => b.textContent + getComputedStyle(b, '::before').content).join() === 'bob\"@\"'",
    )
    .await;
    js(&page, "[...document.querySelectorAll('#members li')].find(l => l.querySelector('b').textContent === 'bob').click()").await;
    assert_eq!(
        js(&page, "return document.getElementById('input').value").await,
        "/msg bob "
    );
    drop(srv);
    page.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_both_ways_between_the_desktop_window_and_a_feiq_like_peer() {
    if !have("chromium") || !have("chromedriver") || !have("python3") {
        return;
    }
    let base = scratch();
    let dl = base.join("dl");
    let mut gui = Gui::start(&[
        "--ipmsg",
        "-b",
        "127.0.0.2",
        "-p",
        "0",
        "--name",
        "桌面",
        "--download-dir",
        dl.to_str().unwrap(),
        "127.0.0.4",
    ]);
    let driver = Driver::start();
    let page = open(&driver, "gui-files", &gui.url).await;
    // A file chosen while nobody is online: told so, and nothing is kept.
    let lonely = base.join("没人.txt");
    std::fs::write(&lonely, "x").unwrap();
    wait_for(
        &page,
        "the file button",
        "return !document.getElementById('attach').hidden",
    )
    .await;
    page.find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(lonely.to_str().unwrap())
        .await
        .unwrap();
    wait_for(
        &page,
        "told nobody is online",
        "return document.getElementById('status').textContent.includes('nobody is online')",
    )
    .await;
    let spool = spool_of(gui.proc.child.id());
    assert_eq!(spool.len(), 1, "{spool:?}");
    assert_eq!(
        std::fs::read_dir(&spool[0])
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name() != ".lock")
            .count(),
        0,
        "what was handed over is gone"
    );
    let mut peer = Peer::start(&base, "127.0.0.4", gui.listen.port(), "127.0.0.2");
    peer.cmd("entry");
    wait_for(&page, "the peer listed", "return [...document.querySelectorAll('#members li b')].some(b => b.textContent === '飞秋用户')").await;
    // The peer offers a folder: an offer with Get and Drop; Get saves it.
    peer.cmd("offer 104 folder");
    wait_for(
        &page,
        "the offer",
        "return !!document.querySelector('.offer[data-offer=\"1\"] [data-action=get]')",
    )
    .await;
    js(
        &page,
        "document.querySelector('.offer[data-offer=\"1\"] [data-action=get]').click()",
    )
    .await;
    wait_for(&page, "saved", "return [...document.querySelectorAll('#messages .text')].some(t => t.textContent.includes('✓ saved'))").await;
    assert!(dl.join("正常/一.txt").exists());
    // A file chosen with the file button is offered to the peer, who
    // fetches it whole.
    let src = base.join("给飞秋.bin");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(&src, &bytes).unwrap();
    page.find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(src.to_str().unwrap())
        .await
        .unwrap();
    peer.wait_log("给飞秋.bin");
    let no = *offer_numbers(&peer).last().unwrap();
    let got = peer.fetch(&format!("fetch 127.0.0.4 {no} 0 0"), &base.join("got.bin"));
    assert_eq!(got, bytes, "byte-identical");
    wait_for(&page, "delivered", "return [...document.querySelectorAll('#messages .msg.me .text')].some(t => t.textContent.includes('✓'))").await;
    // Quit: BR_EXIT, exit 0, and the spool is gone.
    let spool = spool_of(gui.proc.child.id());
    assert_eq!(spool.len(), 1, "{spool:?}");
    page.find(Locator::Id("quit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    gui.proc.expect_exit(0);
    peer.wait_log("cmd=0x2 ");
    assert!(
        !spool[0].exists(),
        "the spool is removed when lanchat leaves"
    );
    page.close().await.unwrap();
}

#[cfg(unix)]
#[test]
fn the_browser_is_opened_in_app_mode_where_chromium_is_installed() {
    // A stand-in "chromium" first on PATH that writes down how it was
    // started (no real browser is opened).
    let dir = scratch();
    let log = dir.join("args");
    let fake = dir.join("chromium");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$@\" > {}\n", log.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut proc = Proc::spawn_cmd(
        "lanchat",
        Command::new(bin("lanchat"))
            .args(["--gui", "127.0.0.1:9", "-b", "127.0.0.1", "-p", "0"])
            .env("PATH", path)
            .env("DISPLAY", ":99"),
    );
    let line = proc.wait_stderr("GUI on ");
    let url = line.split("GUI on ").nth(1).unwrap().trim().to_string();
    proc.wait_stderr("(app mode)");
    let deadline = Instant::now() + WAIT;
    while !log.exists() {
        assert!(Instant::now() < deadline, "the browser was not started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let args = std::fs::read_to_string(&log).unwrap();
    assert_eq!(args.trim(), format!("--app={url}"));
    proc.signal(libc::SIGTERM);
    proc.expect_exit(130);
}

/// The Windows build under Wine (`scripts/wine-check.sh` sets
/// `LANCHAT_WINE_EXE` to lanchat.exe and runs this): its window served to
/// the Linux Chromium, talking to a Linux UDP socket and input-box.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_windows_binary_serves_its_window_under_wine() {
    let Ok(exe) = std::env::var("LANCHAT_WINE_EXE") else {
        return; // only from wine-check.sh
    };
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(WAIT)).unwrap();
    let target = rx.local_addr().unwrap().to_string();
    let mut proc = Proc::spawn_cmd(
        "lanchat.exe",
        Command::new("wine").args([
            exe.as_str(),
            "--gui",
            "--no-open",
            &target,
            "-b",
            "127.0.0.1",
            "-p",
            "0",
        ]),
    );
    let listen = proc.listen_addr("listening on");
    let line = proc.wait_stderr("GUI on ");
    let url = line.split("GUI on ").nth(1).unwrap().trim().to_string();
    let driver = Driver::start();
    let page = open(&driver, "gui-wine", &url).await;
    let (code, _, _) = crate::util::run(Command::new(bin("input-box")).args([
        "127.0.0.1",
        "-p",
        &listen.port().to_string(),
        "-s",
        "127.0.0.2",
        "-m",
        "来自 Linux",
    ]));
    assert_eq!(code, Some(0));
    wait_for(&page, "the Linux line", "return [...document.querySelectorAll('#messages .msg[data-from^=\"127.0.0.2:\"] .text')].some(t => t.textContent === '来自 Linux')").await;
    type_enter(&page, "你好，来自 Windows").await;
    let mut buf = [0u8; 256];
    let (n, _) = recv_from(&rx, &mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        &encoding_rs::GBK.encode("你好，来自 Windows").0[..]
    );
    page.find(Locator::Id("quit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    proc.expect_exit(0);
    page.close().await.unwrap();
}

/// The README's pictures of the desktop window (`scripts/gui-screenshot.sh`
/// runs this): an IP Messenger LAN with Chinese lines, an offer saved and
/// one in progress, at a desktop's size and a phone's.
#[ignore = "writes docs/gui-*.png; run by scripts/gui-screenshot.sh"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots() {
    let base = scratch();
    let dl = base.join("下载");
    // As a Chinese user sees it: lanchat and the browser in Chinese.
    let gui = Gui::start_env(
        &[
            "--ipmsg",
            "-b",
            "127.0.0.2",
            "-p",
            "0",
            "--name",
            "小王",
            "--group",
            "实验室",
            "--download-dir",
            dl.to_str().unwrap(),
            "127.0.0.4",
        ],
        &[("LANCHAT_LANG", "zh-CN")],
    );
    let mut peer = Peer::start(&base, "127.0.0.4", gui.listen.port(), "127.0.0.2");
    peer.cmd("entry");
    let driver = Driver::start();
    let page = driver.browser_lang("shots", "zh-CN").await;
    page.goto(&gui.url).await.unwrap();
    wait_for(
        &page,
        "connected",
        "return document.getElementById('state').className === 'open'",
    )
    .await;
    wait_for(
        &page,
        "the peer",
        "return document.querySelectorAll('#members li').length >= 1",
    )
    .await;
    peer.cmd("msg 7001 下午三点在 302 开会，资料在附件里");
    wait_for(
        &page,
        "its line",
        "return document.querySelectorAll('#messages .msg').length >= 2",
    )
    .await;
    type_enter(&page, "收到，谢谢！马上下载").await;
    peer.cmd("offer 7002 folder");
    wait_for(
        &page,
        "offer 1",
        "return !!document.querySelector('.offer[data-offer=\"1\"] [data-action=get]')",
    )
    .await;
    js(
        &page,
        "document.querySelector('.offer[data-offer=\"1\"] [data-action=get]').click()",
    )
    .await;
    wait_for(&page, "saved", "return [...document.querySelectorAll('#messages .text')].some(t => t.textContent.includes('✓ 已保存'))").await;
    peer.cmd("offer 7003 stall");
    wait_for(
        &page,
        "offer 2",
        "return !!document.querySelector('.offer[data-offer=\"2\"] [data-action=get]')",
    )
    .await;
    js(
        &page,
        "document.querySelector('.offer[data-offer=\"2\"] [data-action=get]').click()",
    )
    .await;
    wait_for(&page, "in progress", "return [...document.querySelectorAll('#messages .text')].some(t => t.textContent.includes('↓'))").await;
    type_enter(&page, "<b>这不是粗体</b>：窗口只显示文字").await;
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    for (name, w, h) in [("gui-desktop", 1000, 620), ("gui-phone", 390, 760)] {
        page.set_window_size(w, h).await.unwrap();
        wait_for(
            &page,
            "laid out",
            "return document.readyState === 'complete'",
        )
        .await;
        let png = page.screenshot().await.unwrap();
        std::fs::write(docs.join(format!("{name}.png")), png).unwrap();
    }
    page.close().await.unwrap();
}

#[cfg(target_os = "linux")]
/// Sends `rate` datagrams a second of 64 bytes to `to` from 127.0.0.3
/// until `stop`, at most `seconds` (bounded in count and time).
fn flood(
    to: SocketAddr,
    rate: u64,
    seconds: u64,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let s = UdpSocket::bind("127.0.0.3:0").unwrap();
        let data = encoding_rs::GBK
            .encode("洪水洪水洪水洪水洪水洪水洪水洪水洪水洪水洪水洪水洪水洪水洪水洪水")
            .0
            .into_owned();
        let start = std::time::Instant::now();
        let mut sent = 0u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed)
            && start.elapsed() < std::time::Duration::from_secs(seconds)
        {
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            while sent < due {
                let _ = s.send_to(&data, to);
                sent += 1;
            }
            std::thread::sleep(std::time::Duration::from_micros(500));
        }
        sent
    })
}

#[cfg(target_os = "linux")]
fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// /proc/PID/stat: user + system CPU seconds.
#[cfg(target_os = "linux")]
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

#[cfg(target_os = "linux")]
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(target_os = "linux")]
/// Waits for the datagram `want` on `rx`: when it came.
fn arrival(rx: &UdpSocket, want: &str) -> (std::time::Instant, std::time::SystemTime) {
    let mut buf = [0u8; 256];
    loop {
        let (n, _) = recv_from(rx, &mut buf).expect("the typed line");
        if &buf[..n] == want.as_bytes() {
            return (std::time::Instant::now(), std::time::SystemTime::now());
        }
    }
}

#[cfg(target_os = "linux")]
/// Types `n` lines into the page, each with Enter: for each, the time from
/// the keys sent to its datagram (ms, sorted), and from the page's
/// WebSocket send to the datagram.
async fn gui_keys(page: &Client, rx: &UdpSocket, prefix: &str, n: usize) -> (Vec<f64>, Vec<f64>) {
    let input = page.find(Locator::Id("input")).await.unwrap();
    let (mut total, mut inner) = (Vec::new(), Vec::new());
    for k in 0..n {
        let text = format!("{prefix}{k}");
        let start = std::time::Instant::now();
        input.send_keys(&format!("{text}\u{E007}")).await.unwrap();
        let (at, wall) = arrival(rx, &text);
        total.push(at.duration_since(start).as_secs_f64() * 1000.0);
        let sent = js(page, "return window.benchSent")
            .await
            .as_f64()
            .expect("the page sent");
        let came = wall
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            * 1000.0;
        inner.push(came - sent);
    }
    total.sort_by(f64::total_cmp);
    inner.sort_by(f64::total_cmp);
    (total, inner)
}

/// The benchmark of the desktop window next to the terminal window
/// (`scripts/bench.sh` runs it, release build): the time from a line typed
/// (Enter) to its datagram leaving lanchat's socket, on a quiet machine
/// and under a flood of 100,000 datagrams a second; under the flood the
/// page's updates a second, lanchat's CPU and peak RSS; then a 1 GiB file
/// handed over by the page and offered to a peer, next to `cp`. Prints
/// `key=value` lines.
#[cfg(target_os = "linux")]
#[ignore = "a benchmark; scripts/bench.sh runs it in release"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_front_ends() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Instant;
    const RATE: u64 = 100_000;
    const KEYS: usize = 20;
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(WAIT)).unwrap();
    let target = rx.local_addr().unwrap().to_string();
    // The desktop window: first on a quiet machine, then under the flood.
    let gui = Gui::start(&[&target, "-b", "127.0.0.1", "-p", "0"]);
    let driver = Driver::start();
    let page = open(&driver, "bench", &gui.url).await;
    // When the page hands a line to its WebSocket (measured here, not by
    // the page): the part of a key's time that is lanchat's and the page's,
    // WebDriver's typing aside.
    js(&page, "const send = WebSocket.prototype.send; WebSocket.prototype.send = function (d) { window.benchSent = Date.now(); return send.call(this, d); }").await;
    let (quiet, quiet_page) = gui_keys(&page, &rx, "quiet", KEYS).await;
    let stop = Arc::new(AtomicBool::new(false));
    let cpu0 = cpu_seconds(gui.proc.child.id());
    let flood_start = Instant::now();
    let load = flood(gui.listen, RATE, 60, stop.clone());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let updates = |v: serde_json::Value| {
        v.as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let u0 = updates(js(&page, "return document.body.dataset.updates").await);
    let t0 = Instant::now();
    let (lat, lat_page) = gui_keys(&page, &rx, "gui", KEYS).await;
    let secs = t0.elapsed().as_secs_f64();
    let u1 = updates(js(&page, "return document.body.dataset.updates").await);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = load.join().unwrap();
    let flood_secs = flood_start.elapsed().as_secs_f64();
    let cpu = cpu_seconds(gui.proc.child.id()) - cpu0;
    let rss = peak_rss_kib(gui.proc.child.id());
    println!(
        "gui quiet key_p50_ms={:.1} key_p99_ms={:.1} page_p50_ms={:.1} page_p99_ms={:.1}",
        percentile(&quiet, 0.5),
        percentile(&quiet, 0.99),
        percentile(&quiet_page, 0.5),
        percentile(&quiet_page, 0.99),
    );
    println!(
        "gui flood key_p50_ms={:.1} key_p99_ms={:.1} page_p50_ms={:.1} page_p99_ms={:.1} updates_per_s={:.1} cpu_s={cpu:.2} seconds={flood_secs:.1} cpu_pct={:.0} rss_kib={rss} flood_sent={sent}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat_page, 0.5),
        percentile(&lat_page, 0.99),
        (u1 - u0) / secs,
        100.0 * cpu / flood_secs,
    );
    page.close().await.unwrap();
    drop(gui);

    // The terminal window, the same way.
    if have("tmux") {
        let lc = crate::lanchat::Lanchat::start(&[&target, "-b", "127.0.0.1", "-p", "0"]);
        let listen = lc.addr();
        let pid = lc.pid();
        let keys = |prefix: &str| -> Vec<f64> {
            let mut lat: Vec<f64> = (0..KEYS)
                .map(|k| {
                    let text = format!("{prefix}{k}");
                    let start = Instant::now();
                    lc.type_line(&text);
                    arrival(&rx, &text).0.duration_since(start).as_secs_f64() * 1000.0
                })
                .collect();
            lat.sort_by(f64::total_cmp);
            lat
        };
        let quiet = keys("quiet-tui");
        let stop = Arc::new(AtomicBool::new(false));
        let cpu0 = cpu_seconds(pid);
        let t0 = Instant::now();
        let load = flood(listen, RATE, 60, stop.clone());
        std::thread::sleep(std::time::Duration::from_millis(500));
        let lat = keys("tui");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = load.join().unwrap();
        let secs = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu0;
        let rss = peak_rss_kib(pid);
        println!(
            "tui quiet key_p50_ms={:.1} key_p99_ms={:.1}",
            percentile(&quiet, 0.5),
            percentile(&quiet, 0.99),
        );
        println!(
            "tui flood key_p50_ms={:.1} key_p99_ms={:.1} cpu_s={cpu:.2} seconds={secs:.1} cpu_pct={:.0} rss_kib={rss} flood_sent={sent}",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            100.0 * cpu / secs,
        );
    }

    // A 1 GiB file handed over by the page, next to cp.
    let mib: u64 = std::env::var("GUI_UPLOAD_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let base = scratch();
    let big = base.join("big.bin");
    {
        let mut f = std::fs::File::create(&big).unwrap();
        let block: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
        for _ in 0..mib {
            f.write_all(&block).unwrap();
        }
    }
    let gui = Gui::start(&["--ipmsg", "-b", "127.0.0.2", "-p", "0", "127.0.0.4"]);
    let mut peer = Peer::start(&base, "127.0.0.4", gui.listen.port(), "127.0.0.2");
    peer.cmd("entry");
    let page = open(&driver, "upload", &gui.url).await;
    wait_for(
        &page,
        "the peer listed",
        "return document.querySelectorAll('#members li').length >= 1",
    )
    .await;
    let start = Instant::now();
    page.find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(big.to_str().unwrap())
        .await
        .unwrap();
    // Handed over (streamed into the spool) and offered: the peer has the offer.
    peer.wait_log("big.bin");
    let upload = start.elapsed().as_secs_f64();
    let size = mib << 20;
    let copy = base.join("copy.bin");
    let start = Instant::now();
    let st = Command::new("cp").arg(&big).arg(&copy).status().unwrap();
    assert!(st.success());
    let cp = start.elapsed().as_secs_f64();
    println!(
        "upload mib={mib} page_s={upload:.2} page_mb_s={:.0} cp_s={cp:.2} cp_mb_s={:.0}",
        size as f64 / 1e6 / upload,
        size as f64 / 1e6 / cp
    );
    page.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&base);
}
