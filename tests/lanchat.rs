//! lanchat as a person uses it: the real binary in a real terminal (tmux),
//! typed at with send-keys and read with capture-pane, next to the real
//! chat-window, input-box, room-server, nc and the classic Python programs.
//! Every lanchat here gets an explicit loopback target: with none it would
//! broadcast on this machine's real networks.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{bin, have, window, Proc, Tmux, PY_RECEIVER, PY_SENDER, WAIT};

/// A scratch directory of this test run.
pub(crate) fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "lanchat-ui-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// lanchat in a tmux pane, started from a shell that records the terminal
/// settings before and after, and prints lanchat's exit status.
pub(crate) struct Lanchat {
    pub term: Tmux,
    dir: PathBuf,
}

impl Lanchat {
    pub(crate) fn start(args: &[&str]) -> Lanchat {
        Self::start_sized(args, 100, 30)
    }

    pub(crate) fn start_sized(args: &[&str], cols: u16, rows: u16) -> Lanchat {
        Self::start_env(args, cols, rows, "")
    }

    /// `env`: `NAME=value …` put before the command.
    pub(crate) fn start_env(args: &[&str], cols: u16, rows: u16, env: &str) -> Lanchat {
        let dir = scratch();
        let d = dir.display();
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let cmd = format!(
            "stty -g > {d}/before; {env} {} {} 2> {d}/err; echo exit=\\$?; stty -g > {d}/after.part; mv {d}/after.part {d}/after; sleep 600",
            bin("lanchat"),
            quoted.join(" ")
        );
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("lanchat{}", N.fetch_add(1, Ordering::Relaxed));
        let term = Tmux::start(&name, &format!("sh -c \"{cmd}\""), cols, rows);
        Lanchat { term, dir }
    }

    /// What lanchat wrote on stderr (the `listening on` line, the summary).
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("err")).unwrap_or_default()
    }

    /// The address from `listening on ADDR` (or `connected to … as ADDR`).
    pub(crate) fn addr(&self) -> SocketAddr {
        let deadline = Instant::now() + WAIT;
        let addr: SocketAddr = loop {
            let err = self.stderr();
            let found = err.lines().find_map(|line| {
                line.strip_prefix("listening on ").or_else(|| {
                    line.split(" as ")
                        .nth(1)
                        .filter(|_| line.starts_with("connected to"))
                })
            });
            if let Some(a) = found {
                break a.trim().parse().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "lanchat did not start:\n{err}\n{}",
                self.term.screen()
            );
            thread::sleep(Duration::from_millis(20));
        };
        // Ready once the window is drawn (its status line shows the
        // address): keys typed before the terminal is in raw mode would be
        // the shell's.
        let shown = addr.to_string();
        self.wait(|s| {
            s.lines().any(|l| l.contains(&shown) && l.contains(" │ ")) || s.contains("exit=")
        });
        addr
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr().port()
    }

    pub(crate) fn wait(&self, want: impl Fn(&str) -> bool) -> String {
        self.term.wait_screen(want)
    }

    pub(crate) fn type_line(&self, text: &str) {
        self.term.type_text(text);
        self.term.key("Enter");
    }

    /// lanchat's own pid (the shell's child).
    pub(crate) fn pid(&self) -> u32 {
        let sh = self.term.pane_pid();
        let deadline = Instant::now() + WAIT;
        loop {
            let kids = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children"))
                .unwrap_or_default();
            // The shell's child that is lanchat (not the stty before it).
            let found = kids.split_whitespace().find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "lanchat")
            });
            if let Some(pid) = found {
                return pid.parse().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "no lanchat process under the shell"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for lanchat to end; returns its exit status, and whether the
    /// terminal settings afterwards are the ones before.
    pub(crate) fn exit(&self) -> (i32, bool) {
        let screen = self.wait(|s| s.contains("exit="));
        let code = screen
            .split("exit=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|c| c.parse().ok())
            .expect("an exit status");
        let deadline = Instant::now() + WAIT;
        // Written whole, then renamed: there once it is complete.
        while !self.dir.join("after").exists() {
            assert!(Instant::now() < deadline);
            thread::sleep(Duration::from_millis(20));
        }
        let before = std::fs::read_to_string(self.dir.join("before")).unwrap();
        let after = std::fs::read_to_string(self.dir.join("after")).unwrap();
        (code, before == after && !before.is_empty())
    }
}

impl Drop for Lanchat {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// lanchat sending to a UDP socket of the test's own on 127.0.0.1, and
/// that socket; lanchat is listening when this returns.
fn lanchat_to_receiver() -> (Lanchat, UdpSocket) {
    let rx = udp_from("127.0.0.1");
    let to = rx.local_addr().unwrap().to_string();
    let lc = Lanchat::start(&[&to, "-b", "127.0.0.1", "-p", "0"]);
    lc.addr();
    (lc, rx)
}

fn gb(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

/// One datagram (bounded by the socket's timeout; an EINTR is retried).
fn recv(s: &UdpSocket, buf: &mut [u8]) -> usize {
    match crate::util::recv_from(s, buf) {
        Ok((n, _)) => n,
        Err(e) => panic!("no datagram: {e}"),
    }
}

fn udp_from(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind((ip, 0)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

/// A port nobody listens on.
fn closed_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn without_a_terminal_it_says_what_to_use_and_exits_1() {
    let mut p = Proc::spawn("lanchat", &["127.0.0.1"]);
    p.close_stdin();
    p.expect_exit(1);
    assert_eq!(
        p.stderr().trim(),
        "lanchat: needs a terminal; in scripts use chat-window and input-box, or lanchat --gui"
    );
    let (code, _, err) = crate::util::run(Command::new(bin("lanchat")).args(["a", "b"]));
    assert_eq!(code, Some(2), "{err}");
    let (code, out, _) = crate::util::run(Command::new(bin("lanchat")).arg("--help"));
    assert_eq!(code, Some(0));
    assert!(out.contains("Examples") && out.contains("--room"), "{out}");
    // The window's commands, where a newcomer looks first.
    for cmd in [
        "/help",
        "/to TARGET",
        "/nick NAME",
        "/msg NAME text",
        "/send PATH",
        "/get N",
    ] {
        assert!(out.contains(cmd), "--help does not list {cmd}: {out}");
    }
    // --name is a room's or IP Messenger's; alone it is a usage error.
    let (code, _, err) =
        crate::util::run(Command::new(bin("lanchat")).args(["--name", "bob", "127.0.0.1"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--name needs --room"), "{err}");
}

#[test]
fn lines_from_input_box_and_the_classic_python_sender_appear_with_their_sender() {
    if !have("tmux") || !have("python3") {
        return;
    }
    let lc = Lanchat::start(&["127.0.0.1:9", "-b", "127.0.0.1", "-p", "0"]);
    let port = lc.port().to_string();
    let (code, err) = crate::util::run_bin_with_input(
        "input-box",
        &["127.0.0.1", "-p", &port, "-s", "127.0.0.2"],
        "来自 input-box 的问候\n".as_bytes(),
    );
    assert_eq!(code, Some(0), "{err}");
    let screen = lc.wait(|s| s.contains("来自 input-box 的问候"));
    let row = screen
        .lines()
        .find(|l| l.contains("来自 input-box"))
        .unwrap();
    assert!(row.contains(" 127.0.0.2:"), "the sender's ip:port: {row}");
    let mut py = Proc::spawn_cmd(
        "python sender",
        Command::new("python3").args(["-c", PY_SENDER, &port]),
    );
    py.write("经典程序 says hi\n88\n".as_bytes());
    py.expect_exit(0);
    let screen = lc.wait(|s| s.contains("经典程序 says hi"));
    let row = screen.lines().find(|l| l.contains("经典程序")).unwrap();
    assert!(row.contains(" 127.0.0.1:"), "{row}");
    // Its 88 is a message like any other here; the window stays.
    lc.wait(|s| {
        s.lines()
            .any(|l| l.trim_end_matches('│').trim_end().ends_with(" 88"))
    });
    assert!(lc.wait(|s| s.contains("2 senders")).contains("3 msgs"));
}

#[test]
fn typed_lines_reach_chat_window_and_the_classic_receiver_as_gb2312_from_the_listening_port() {
    if !have("tmux") || !have("python3") {
        return;
    }
    let (mut w, waddr) = window(&[]);
    let lc = Lanchat::start(&[&waddr.to_string(), "-b", "127.0.0.1", "-p", "0"]);
    let port = lc.port();
    lc.type_line("你好，聊天室");
    assert_eq!(
        w.line(),
        format!("127.0.0.1:{port}"),
        "sent from the listening port"
    );
    assert_eq!(w.line(), "你好，聊天室");
    lc.wait(|s| s.contains(" me 你好，聊天室"));

    let mut py = Proc::spawn_cmd(
        "python receiver",
        Command::new("python3").args(["-c", PY_RECEIVER]),
    );
    let py_port = py.line();
    lc.type_line(&format!("/to 127.0.0.1:{py_port}"));
    lc.wait(|s| s.contains(&format!("→ 127.0.0.1:{py_port}")));
    lc.type_line("经典接收程序");
    assert_eq!(py.line(), format!("127.0.0.1:{port}"));
    assert_eq!(py.line(), "经典接收程序", "decoded as gb2312 by Python");
    py.expect_exit(0);
}

#[test]
fn bytes_on_the_wire_are_gb2312_and_an_emoji_stays_in_the_box() {
    if !have("tmux") {
        return;
    }
    let (lc, rx) = lanchat_to_receiver();
    lc.type_line("你好");
    let mut buf = [0u8; 64];
    let n = recv(&rx, &mut buf);
    assert_eq!(&buf[..n], &[0xC4, 0xE3, 0xBA, 0xC3]);
    lc.type_line("ok 😀 no");
    let screen = lc.wait(|s| s.contains("cannot be written in gb2312"));
    assert!(
        screen.contains("'😀' (U+1F600) cannot be written in gb2312; try -e gb18030 or -e utf-8"),
        "{screen}"
    );
    assert!(
        screen.contains("ok 😀 no"),
        "the line stays in the box:\n{screen}"
    );
    // Nothing went out: the next datagram is the fixed line.
    lc.term.key("Delete");
    lc.term.key("Enter");
    let n = recv(&rx, &mut buf);
    assert_eq!(&buf[..n], b"ok  no");
    lc.wait(|s| !s.contains("cannot be written"));
}

#[test]
fn hostile_text_stays_inside_its_entry() {
    if !have("tmux") {
        return;
    }
    let lc = Lanchat::start(&["127.0.0.1:9", "-b", "127.0.0.1", "-p", "0"]);
    let to = lc.addr();
    let s = udp_from("127.0.0.3");
    s.send_to(&gb("before"), to).unwrap();
    let mut evil = b"\x1b[2J\x1b[H\x1b[31mred".to_vec();
    evil.extend_from_slice(b"\n10.0.0.1:3456\nfake line ");
    evil.extend_from_slice("\u{202e}evil\u{202c} 完".as_bytes());
    s.send_to(&evil, to).unwrap();
    s.send_to(&gb("after"), to).unwrap();
    let screen = lc.wait(|s| s.contains(" after"));
    assert!(
        screen.contains(" before"),
        "the screen was not cleared:\n{screen}"
    );
    assert!(
        screen.contains(r"\x1b[2J\x1b[H\x1b[31mred\n10.0.0.1:3456\nfake line"),
        "escapes shown literally:\n{screen}"
    );
    assert!(
        !screen
            .lines()
            .any(|l| l.trim_start_matches('│').starts_with("10.0.0.1:3456")),
        "no forged sender row:\n{screen}"
    );
    // Bidi overrides are shown as escapes (the UTF-8 bytes of U+202E are
    // decoded as GBK here, so they show as the replacement character or
    // escapes; either way nothing reorders the row).
    assert!(!screen.contains('\u{202e}'));
    // The frame is intact: every row of the message pane still starts
    // and ends with its border.
    let rows: Vec<&str> = screen.lines().collect();
    assert!(rows[0].starts_with("┌UDP聊天室"), "{screen}");
}

#[test]
fn eighty_eight_is_sent_then_quits_with_0_and_the_terminal_is_as_before() {
    if !have("tmux") {
        return;
    }
    let (lc, rx) = lanchat_to_receiver();
    lc.type_line("88");
    let mut buf = [0u8; 16];
    let n = recv(&rx, &mut buf);
    assert_eq!(&buf[..n], b"88");
    let (code, same) = lc.exit();
    assert_eq!(code, 0);
    assert!(same, "stty settings changed");
    assert!(
        lc.stderr()
            .contains("lanchat: 0 received from 0 senders, 1 sent"),
        "{}",
        lc.stderr()
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_and_quit_leave_with_0_sigterm_with_130_terminal_restored_each_time() {
    if !have("tmux") {
        return;
    }
    for how in ["C-c", "/quit", "C-d", "TERM", "HUP"] {
        let lc = Lanchat::start(&["127.0.0.1:9", "-b", "127.0.0.1", "-p", "0"]);
        lc.addr();
        lc.wait(|s| s.contains("UDP聊天室"));
        match how {
            "/quit" => lc.type_line("/quit"),
            "TERM" | "HUP" => {
                let sig = if how == "TERM" {
                    libc::SIGTERM
                } else {
                    libc::SIGHUP
                };
                // SAFETY: kill(2) on the lanchat this test started.
                unsafe {
                    libc::kill(lc.pid() as i32, sig);
                }
            }
            key => lc.term.key(key),
        }
        let (code, same) = lc.exit();
        let want = if matches!(how, "TERM" | "HUP") {
            130
        } else {
            0
        };
        assert_eq!(code, want, "{how}");
        assert!(same, "{how}: stty settings changed");
    }
}

#[test]
fn a_panic_puts_the_terminal_back_and_says_what_happened() {
    if !have("tmux") {
        return;
    }
    // Debug builds panic on F12 when LANCHAT_TEST_PANIC is set.
    let lc = Lanchat::start_env(
        &["127.0.0.1:9", "-b", "127.0.0.1", "-p", "0"],
        100,
        30,
        "LANCHAT_TEST_PANIC=1",
    );
    lc.addr();
    lc.term.key("F12");
    let (code, same) = lc.exit();
    assert_eq!(code, 101, "a panic's exit status");
    assert!(same, "stty settings changed after the panic");
    let err = lc.stderr();
    assert!(err.contains("LANCHAT_TEST_PANIC: F12 pressed"), "{err}");
    let screen = lc.term.screen();
    assert!(
        !screen.contains("UDP聊天室"),
        "the main screen is back:\n{screen}"
    );
}

#[test]
fn own_broadcast_line_shows_once_and_reaches_a_chat_window() {
    if !have("tmux") {
        return;
    }
    // lanchat broadcasts on loopback (127.255.255.255) to its own port, so
    // the broadcast brings lanchat a copy of its own line: not shown twice.
    let lc = Lanchat::start(&["127.255.255.255", "-p", "0"]);
    let port = lc.port();
    lc.type_line("广播一次");
    // A marker from someone else, after which the copy would have shown.
    let other = udp_from("127.0.0.5");
    other.set_broadcast(true).unwrap();
    other.send_to(b"marker", ("127.255.255.255", port)).unwrap();
    let screen = lc.wait(|s| s.contains(" marker"));
    assert_eq!(screen.matches("广播一次").count(), 1, "{screen}");
    assert!(screen.contains(" me 广播一次"));
    assert!(screen.contains("1 msgs, 1 senders"), "{screen}");
    // A broadcast to a chat window's port reaches it, from lanchat's port.
    let mut w = Proc::spawn("chat-window", &["-b", "0.0.0.0", "-p", "0", "--count", "1"]);
    let wport = w.listen_addr("listening on").port();
    lc.type_line(&format!("/to 127.255.255.255:{wport}"));
    lc.type_line("给窗口的广播");
    assert_eq!(w.line(), format!("127.0.0.1:{port}"));
    assert_eq!(w.line(), "给窗口的广播");
    w.expect_exit(0);
}

#[test]
fn nobody_listening_is_a_warning_once_and_lines_still_go() {
    if !have("tmux") {
        return;
    }
    let port = closed_port();
    let lc = Lanchat::start(&[&format!("127.0.0.1:{port}"), "-b", "127.0.0.1", "-p", "0"]);
    lc.addr();
    lc.type_line("one");
    lc.type_line("two");
    // The warning comes back with the first line, maybe before the second
    // is drawn: wait for both.
    let screen = lc.wait(|s| s.contains("nobody is listening at") && s.contains(" me two"));
    assert!(
        screen.contains(&format!(
            "nobody is listening at 127.0.0.1:{port} (port unreachable)"
        )),
        "{screen}"
    );
    assert!(screen.contains(" me one") && screen.contains(" me two"));
}

#[cfg(unix)]
#[test]
fn room_mode_next_to_nc_and_the_window_stays_when_the_room_goes() {
    if !have("tmux") || !have("nc") {
        return;
    }
    let mut srv = Proc::spawn("room-server", &["-b", "127.0.0.1", "-p", "0"]);
    let addr = srv.listen_addr("Chat server started on");
    let mut nc = Proc::spawn_cmd(
        "nc",
        Command::new("nc").args(["127.0.0.1", &addr.port().to_string()]),
    );
    let nc_name = crate::util::bracketed_name(&srv.wait_stderr("entered room"));
    let lc = Lanchat::start(&["--room", &addr.to_string()]);
    let me = lc.addr().to_string();
    let screen = lc.wait(|s| s.contains("聊天室 127.0.0.1:"));
    assert!(screen.contains(&format!("→ room {addr}")), "{screen}");
    assert_eq!(nc.line(), format!("[{me}] entered room"));
    // nc's GB2312 line shows as Chinese with nc's address.
    let mut line = gb("你好 from nc");
    line.push(b'\n');
    nc.write(&line);
    lc.wait(|s| s.contains(&format!("{nc_name} 你好 from nc")));
    // A typed line reaches nc as "<ip:port> line", in GB2312.
    lc.type_line("大家好");
    let mut want = format!("<{me}> ").into_bytes();
    want.extend(gb("大家好"));
    assert_eq!(nc.line_bytes(), want);
    lc.wait(|s| s.contains(" me 大家好"));
    // The room goes away: said in the window, which stays until /quit (1).
    srv.signal(libc::SIGTERM);
    srv.expect_exit(130);
    lc.wait(|s| s.contains("the room closed the connection"));
    lc.type_line("/quit");
    let (code, same) = lc.exit();
    assert_eq!(code, 1);
    assert!(same);
}

#[test]
fn room_connection_failure_is_one_line_and_exit_1() {
    if !have("tmux") {
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let lc = Lanchat::start(&["--room", &format!("127.0.0.1:{port}")]);
    let (code, same) = lc.exit();
    assert_eq!(code, 1);
    assert!(same);
    assert_eq!(
        lc.stderr().trim(),
        format!("lanchat: Unable to connect to 127.0.0.1:{port}: connection refused")
    );
}

#[test]
fn log_has_every_received_and_sent_line_as_json() {
    if !have("tmux") {
        return;
    }
    let dir = scratch();
    let log = dir.join("chat.jsonl");
    let rx = udp_from("127.0.0.1");
    let to = rx.local_addr().unwrap().to_string();
    let lc = Lanchat::start(&[
        &to,
        "-b",
        "127.0.0.1",
        "-p",
        "0",
        "--log",
        log.to_str().unwrap(),
    ]);
    let addr = lc.addr();
    let s = udp_from("127.0.0.4");
    s.send_to(&gb("收到\r\n"), addr).unwrap();
    lc.wait(|sc| sc.contains(" 收到"));
    lc.type_line("发出");
    let mut buf = [0u8; 16];
    recv(&rx, &mut buf);
    lc.term.key("C-c");
    assert_eq!(lc.exit().0, 0);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["text"], "收到");
    assert_eq!(lines[0]["from"], s.local_addr().unwrap().to_string());
    assert_eq!(lines[0]["bytes"], 6);
    assert_eq!(lines[0]["malformed"], false);
    assert_eq!(lines[1]["text"], "发出");
    assert_eq!(lines[1]["to"], to);
    assert_eq!(lines[1]["bytes"], 4);
    assert!(lines[1]["ts"].as_str().unwrap().ends_with('Z'));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_flood_of_100000_datagrams_while_typing_loses_no_keystroke_and_stays_small() {
    if !have("tmux") {
        return;
    }
    let (lc, rx) = lanchat_to_receiver();
    let addr = lc.addr();
    let pid = lc.pid();
    // 100,000 datagrams a second, from before the first key until every
    // key has shown (and at least 100,000 in all; 30 s at most).
    let typing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let still_typing = typing.clone();
    let flood = thread::spawn(move || {
        let s = UdpSocket::bind("127.0.0.6:0").unwrap();
        s.connect(addr).unwrap();
        let msgs: Vec<Vec<u8>> = (0..64).map(|i| gb(&format!("洪水 flood {i:02}"))).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let start = Instant::now();
        let mut sent = 0u64;
        while (still_typing.load(Ordering::Relaxed) || sent < 100_000)
            && start.elapsed() < Duration::from_secs(30)
        {
            let due = start + Duration::from_micros(sent * 10); // 100,000 a second
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            sent += lanchat::net::send_batch(&s, &refs).unwrap_or(0) as u64;
        }
        sent
    });
    lc.wait(|s| s.contains("洪水 flood"));
    // Type while it arrives, a key at a time.
    let typed = "typing during the flood 打字";
    for ch in typed.chars() {
        lc.term.type_text(&ch.to_string());
    }
    lc.wait(|s| {
        s.lines()
            .any(|l| l.contains(typed) && l.starts_with('│') && !l.contains(" me "))
    });
    typing.store(false, Ordering::Relaxed);
    let sent = flood.join().unwrap();
    assert!(sent >= 100_000, "{sent}");
    lc.term.key("Enter");
    let mut buf = [0u8; 256];
    let n = recv(&rx, &mut buf);
    assert_eq!(
        encoding_rs::GBK.decode(&buf[..n]).0,
        typed,
        "every keystroke, in order"
    );
    let screen = lc.wait(|s| s.contains("scrolled out"));
    assert!(screen.contains("洪水 flood"), "{screen}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(peak_kib < 64 * 1024, "lanchat peak RSS {peak_kib} KiB");
    lc.term.key("C-c");
    assert_eq!(lc.exit().0, 0);
    // The summary counts the redraws: capped, not one per datagram.
    let err = lc.stderr();
    let draws: u64 = err
        .split(" redraws")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    let received: u64 = err
        .split("lanchat: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    eprintln!("lanchat under the flood: {err}");
    assert!(
        draws * 10 < received,
        "{draws} redraws for {received} messages"
    );
}

#[test]
fn a_resize_redraws_at_the_new_size() {
    if !have("tmux") {
        return;
    }
    let lc = Lanchat::start_sized(&["127.0.0.1:9", "-b", "127.0.0.1", "-p", "0"], 100, 30);
    lc.addr();
    let cols = |l: &str| unicode_width::UnicodeWidthStr::width(l.trim_end());
    lc.wait(|s| s.lines().next().is_some_and(|l| cols(l) == 100));
    lc.term.resize(50, 12);
    let screen = lc.wait(|s| {
        s.lines().next().is_some_and(|l| {
            l.starts_with("┌UDP聊天室") && l.trim_end().ends_with('┐') && cols(l) == 50
        })
    });
    assert!(screen.lines().count() <= 12, "{screen}");
    lc.term.resize(10, 3);
    lc.wait(|s| s.lines().count() <= 3);
    lc.term.type_text("x");
    lc.term.resize(80, 24);
    lc.wait(|s| s.contains("┌UDP聊天室") && s.contains("│x"));
}

#[test]
fn paste_is_inserted_and_sent_line_by_line_on_enter() {
    if !have("tmux") {
        return;
    }
    let (lc, rx) = lanchat_to_receiver();
    // tmux pastes a buffer as a bracketed paste when the program asked.
    let buffer = lc.dir.join("paste");
    std::fs::write(&buffer, "第一行\n第二行").unwrap();
    lc.term.run_args(&["load-buffer", buffer.to_str().unwrap()]);
    lc.term.run_args(&["paste-buffer", "-p", "-t", "main"]);
    lc.wait(|s| s.contains("第一行↵第二行"));
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(rx.recv(&mut buf).is_err(), "nothing sent before Enter");
    rx.set_read_timeout(Some(WAIT)).unwrap();
    lc.term.key("Enter");
    for want in ["第一行", "第二行"] {
        let n = recv(&rx, &mut buf);
        assert_eq!(encoding_rs::GBK.decode(&buf[..n]).0, want);
    }
}

#[test]
fn page_up_holds_the_view_and_counts_new_messages() {
    if !have("tmux") {
        return;
    }
    let lc = Lanchat::start_sized(&["127.0.0.1:9", "-b", "127.0.0.1", "-p", "0"], 80, 12);
    let to = lc.addr();
    let s = udp_from("127.0.0.7");
    for i in 0..40 {
        s.send_to(format!("line {i:02}").as_bytes(), to).unwrap();
    }
    lc.wait(|sc| sc.contains("line 39"));
    lc.term.key("PPage");
    let held = lc.wait(|sc| !sc.contains("line 39"));
    s.send_to(b"while held", to).unwrap();
    let screen = lc.wait(|sc| sc.contains("↓ 1 new"));
    assert!(
        !screen.contains("while held"),
        "the view did not move:\n{screen}"
    );
    let rows = |sc: &str| {
        sc.lines()
            .filter(|l| l.contains("line "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&screen), rows(&held));
    lc.term.key("End");
    lc.wait(|sc| sc.contains("while held") && !sc.contains("new (End)"));
}

#[test]
fn room_mode_lists_the_members_by_name_sends_msg_and_follows_a_name_change() {
    if !have("tmux") {
        return;
    }
    let mut srv = Proc::spawn("room-server", &["-b", "127.0.0.1", "-p", "0"]);
    let addr = srv.listen_addr("Chat server started on");
    let mut bob = crate::room::Conn::open("127.0.0.2", addr);
    let mut carol = crate::room::Conn::open("127.0.0.3", addr);
    bob.line(); // carol entered
    bob.send(b"/nick bob\n");
    bob.line();
    carol.line();
    let lc = Lanchat::start_sized(&["--room", &addr.to_string()], 120, 30);
    let me = lc.addr().to_string();
    // The 在线用户 pane lists everyone, with names, from the /who at join
    // (which is not shown in the messages).
    let screen = lc.wait(|s| {
        s.contains("在线用户 3")
            && s.contains(&format!("bob {}", bob.name))
            && s.contains(&carol.name)
    });
    assert!(!screen.contains("members:"), "{screen}");
    assert_eq!(bob.line(), format!("[{me}] entered room\n"));
    // /nick goes to the server; everyone sees it, the window too.
    lc.type_line("/nick 小李");
    let mut want = format!("[{me}] is now ").into_bytes();
    want.extend(gb("小李"));
    want.push(b'\n');
    assert_eq!(bob.line_bytes(), want);
    lc.wait(|s| s.contains(&format!("小李 {me}")));
    // Tab completes a member's name after /msg; the line reaches bob alone.
    lc.term.type_text("/msg b");
    lc.term.key("Tab");
    lc.wait(|s| s.contains("/msg bob "));
    lc.term.type_text("悄悄话");
    lc.term.key("Enter");
    let mut want = gb("*小李");
    want.extend(format!("@{me}* ").as_bytes());
    want.extend(gb("悄悄话"));
    want.push(b'\n');
    assert_eq!(bob.line_bytes(), want);
    lc.wait(|s| s.contains("→ bob: 悄悄话"));
    // A private line to lanchat shows as one; carol got nothing private.
    let mut to_me = b"/msg ".to_vec();
    to_me.extend(gb("小李"));
    to_me.extend(b" hi there\n");
    bob.send(&to_me);
    lc.wait(|s| s.contains(&format!("bob@{} → me hi there", bob.name)));
    bob.send(b"marker\n");
    loop {
        let l = carol.line_bytes();
        assert!(!l.starts_with(b"*"), "{l:?}");
        if l.ends_with(b"> marker\n") {
            break;
        }
    }
    // A name change of another member shows in the pane.
    carol.send(b"/nick carol\n");
    lc.wait(|s| s.contains(&format!("carol {}", carol.name)));
    lc.type_line("/quit");
    let (code, same) = lc.exit();
    assert_eq!(code, 0);
    assert!(same);
    drop(srv);
}

#[test]
fn a_port_another_window_holds_is_refused_and_that_window_keeps_its_lines() {
    if !have("tmux") {
        return;
    }
    let mut w = Proc::spawn(
        "chat-window",
        &["-b", "127.0.0.1", "-p", "0", "--count", "1"],
    );
    let port = w.listen_addr("listening on").port().to_string();
    let lc = Lanchat::start(&["127.0.0.1:9", "-b", "127.0.0.1", "-p", &port]);
    let (code, restored) = lc.exit();
    assert_eq!(code, 1, "{}", lc.stderr());
    assert!(restored, "the terminal is as it was");
    assert_eq!(
        lc.stderr().trim(),
        format!("lanchat: cannot listen on 127.0.0.1:{port}: address already in use")
    );
    let (code, _, _) = crate::util::run(Command::new(bin("input-box")).args([
        "127.0.0.1",
        "-p",
        &port,
        "-m",
        "still mine",
    ]));
    assert_eq!(code, Some(0));
    assert_eq!(w.lines(2)[1], "still mine");
    w.expect_exit(0);
}

#[test]
fn room_mode_in_a_class_room_gives_the_password_shows_the_topic_and_marks_operators() {
    if !have("tmux") {
        return;
    }
    let mut srv = Proc::spawn(
        "room-server",
        &[
            "-b",
            "127.0.0.1",
            "-p",
            "0",
            "--password",
            "pw",
            "--op-password",
            "chalk",
        ],
    );
    let addr = srv.listen_addr("Chat server started on");
    let mut teacher = crate::room::Conn::open("127.0.0.2", addr);
    teacher.line(); // password required
    teacher.send(b"/pass pw\n/nick teacher\n/op chalk\n/topic Lab 3\n");
    loop {
        if teacher.line() == "! topic: Lab 3\n" {
            break;
        }
    }
    let lc = Lanchat::start_sized(&["--room", &addr.to_string(), "--name", "aaa"], 120, 30);
    lc.wait(|s| s.contains("! password required: /pass PASSWORD"));
    // The password is sent, never shown as a line of the user's.
    lc.type_line("/pass pw");
    let me = lc.addr().to_string();
    // In: --name and the member list follow; the topic after the history.
    let screen = lc.wait(|s| {
        s.contains("在线用户 2") && s.contains("@teacher 127.0.0.2") && s.contains("! topic: Lab 3")
    });
    assert!(!screen.contains("/pass pw"), "{screen}");
    assert_eq!(
        screen.matches("! password required").count(),
        1,
        "asked once, not once per line sent on joining: {screen}"
    );
    assert!(screen.contains(&format!("aaa {me}")), "{screen}");
    let mut seen = Vec::new();
    loop {
        let l = teacher.line();
        if l == format!("[{me}] is now aaa\n") {
            break;
        }
        seen.push(l);
    }
    assert_eq!(seen, vec![format!("[{me}] entered room\n")]);
    // An operator's action shows, and the member list follows it.
    lc.type_line("/op chalk");
    lc.wait(|s| s.contains("! you are an operator") && s.contains(&format!("@aaa {me}")));
    lc.type_line("/kick teacher enough");
    lc.wait(|s| s.contains("在线用户 1") && s.contains("was removed by aaa@"));
    lc.type_line("/quit");
    let (code, _) = lc.exit();
    assert_eq!(code, 0);
    drop(srv);
}

#[test]
fn room_mode_takes_its_name_on_joining_shows_history_as_history_and_completes_others() {
    if !have("tmux") {
        return;
    }
    let mut srv = Proc::spawn(
        "room-server",
        &["-b", "127.0.0.1", "-p", "0", "--history", "5"],
    );
    let addr = srv.listen_addr("Chat server started on");
    let mut zed = crate::room::Conn::open("127.0.0.2", addr);
    zed.send(b"/nick zed\nsaid before\nand again\n");
    zed.line(); // is now zed
    let lc = Lanchat::start_sized(&["--room", &addr.to_string(), "--name", "aaa"], 120, 30);
    let me = lc.addr().to_string();
    // --name is taken on joining: the room hears it at once.
    assert_eq!(zed.line(), format!("[{me}] entered room\n"));
    assert_eq!(zed.line(), format!("[{me}] is now aaa\n"));
    // The history: between dividers, without a time (said before).
    let screen = lc.wait(|s| s.contains("end of history") && s.contains("在线用户 2"));
    assert!(
        screen.contains("the room's last 2 lines, said before you came"),
        "{screen}"
    );
    let line = screen
        .lines()
        .find(|l| l.contains("said before") && l.contains("zed@"))
        .expect("the history line");
    // No time before the sender on a line said before.
    assert!(
        line.trim_start_matches('│')
            .trim_start()
            .starts_with("zed@"),
        "{line}"
    );
    // Tab after /msg offers the others, not the user's own name first.
    lc.term.type_text("/msg ");
    lc.term.key("Tab");
    lc.wait(|s| s.contains("/msg zed "));
    lc.term.key("C-u");
    lc.type_line("/quit");
    assert_eq!(lc.exit().0, 0);
    drop(srv);
}
