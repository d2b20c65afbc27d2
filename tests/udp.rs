//! chat-window and input-box, as users run them: real binaries on loopback,
//! port 0, every wait bounded.

use std::collections::HashMap;
use std::net::UdpSocket;
use std::process::Command;

use crate::util::{have, run, run_bin_with_input, udp, window, Proc, PY_RECEIVER, PY_SENDER};

const NIHAO_GB2312: [u8; 4] = [0xC4, 0xE3, 0xBA, 0xC3];

fn send(from: &UdpSocket, to: std::net::SocketAddr, data: &[u8]) {
    from.send_to(data, to).unwrap();
}

// ---- chat-window ----------------------------------------------------------

#[test]
fn banner_and_real_port_on_stderr() {
    let mut p = Proc::spawn("chat-window", &["-b", "127.0.0.1", "-p", "0"]);
    p.wait_stderr("-------UDP聊天室-------");
    let addr = p.listen_addr("listening on");
    assert_ne!(addr.port(), 0);
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
}

#[test]
fn default_port_3456_and_input_box_default_destination() {
    let mut w = Proc::spawn("chat-window", &["--count", "1", "--timeout", "15s"]);
    let addr = w.listen_addr("listening on");
    assert_eq!(addr.to_string(), "0.0.0.0:3456");
    let (code, err) = run_bin_with_input("input-box", &[], "你好\n".as_bytes());
    assert_eq!(code, Some(0), "{err}");
    assert!(w.line().starts_with("127.0.0.1:"));
    assert_eq!(w.line(), "你好");
    w.expect_exit(0);
}

#[test]
fn text_record_is_sender_then_decoded_text_without_line_ending() {
    let (mut w, addr) = window(&[]);
    let s = udp("127.0.0.1");
    let mut payload = NIHAO_GB2312.to_vec();
    payload.extend_from_slice(b"\r\n");
    send(&s, addr, &payload);
    send(&s, addr, b"two\n\n");
    assert_eq!(w.line(), s.local_addr().unwrap().to_string());
    assert_eq!(w.line(), "你好");
    w.line();
    assert_eq!(w.line(), "two\\n", "only one line ending is removed");
}

#[test]
fn hostile_text_cannot_forge_lines_or_reach_the_terminal() {
    let (mut w, addr) = window(&["-e", "utf-8"]);
    let s = udp("127.0.0.1");
    let forged = "hi\n6.6.6.6:1\nfake\r\x1b[2J\x1b]0;title\x07\u{9b}31m\u{202e}evil\u{2066}";
    send(&s, addr, forged.as_bytes());
    send(&s, addr, b"end");
    let me = s.local_addr().unwrap().to_string();
    let lines = w.lines(4);
    assert_eq!(lines[0], me);
    assert_eq!(
        lines[1],
        "hi\\n6.6.6.6:1\\nfake\\r\\x1b[2J\\x1b]0;title\\x07\\u{9b}31m\\u{202e}evil\\u{2066}"
    );
    assert_eq!(
        lines[2], me,
        "the next record starts right after: no forged line"
    );
    assert_eq!(lines[3], "end");
}

#[test]
fn invalid_bytes_become_replacement_and_are_counted() {
    let (mut w, addr) = window(&["--count", "1"]);
    let s = udp("127.0.0.1");
    send(&s, addr, &[b'a', 0xFF, b'b']);
    w.line();
    assert_eq!(w.line(), "a\u{FFFD}b");
    w.expect_exit(0);
    assert!(w.stderr().contains("1 malformed"), "{}", w.stderr());
}

#[test]
fn largest_and_empty_datagrams_are_shown_whole() {
    let (mut w, addr) = window(&[]);
    let s = udp("127.0.0.1");
    let big = "字".repeat(65_507 / 2);
    let mut payload = Vec::new();
    for _ in 0..65_507 / 2 {
        payload.extend_from_slice(&[0xD7, 0xD6]);
    }
    payload.push(b'!');
    assert_eq!(payload.len(), 65_507);
    send(&s, addr, &payload);
    send(&s, addr, b"");
    w.line();
    assert_eq!(w.line(), format!("{big}!"));
    w.line();
    assert_eq!(w.line(), "", "an empty datagram is an empty text line");
}

#[test]
fn json_format_and_timestamps() {
    let (mut w, addr) = window(&["--format", "json"]);
    let s = udp("127.0.0.1");
    let mut payload = NIHAO_GB2312.to_vec();
    payload.extend_from_slice(b"\x1b\xff\n");
    send(&s, addr, &payload);
    let v: serde_json::Value = serde_json::from_str(&w.line()).unwrap();
    assert_eq!(v["from"], s.local_addr().unwrap().to_string());
    assert_eq!(v["text"], "你好\x1b\u{FFFD}");
    assert_eq!(v["bytes"], 7);
    assert_eq!(v["malformed"], true);
    let ts = v["ts"].as_str().unwrap();
    assert!(is_rfc3339_millis(ts), "{ts}");

    let (mut w, addr) = window(&["--timestamps"]);
    send(&s, addr, b"x");
    let head = w.line();
    let (ts, from) = head.split_once(' ').unwrap();
    assert!(is_rfc3339_millis(ts), "{head}");
    assert_eq!(from, s.local_addr().unwrap().to_string());
    assert_eq!(w.line(), "x");
}

fn is_rfc3339_millis(ts: &str) -> bool {
    // 2026-11-22T01:02:03.456Z
    let b = ts.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[23] == b'Z'
        && ts.starts_with("20")
}

#[test]
fn encodings_utf8_auto_and_unknown_label() {
    let s = udp("127.0.0.1");
    let (mut w, addr) = window(&["-e", "utf-8"]);
    send(&s, addr, "你好".as_bytes());
    w.line();
    assert_eq!(w.line(), "你好");

    let (mut w, addr) = window(&["-e", "auto"]);
    send(&s, addr, "中文 utf8".as_bytes());
    send(&s, addr, &NIHAO_GB2312);
    w.line();
    assert_eq!(w.line(), "中文 utf8");
    w.line();
    assert_eq!(w.line(), "你好");

    let (code, _, err) = run(Command::new(crate::util::bin("chat-window")).args(["-e", "klingon"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("gb18030") && err.contains("utf-8"), "{err}");
}

#[cfg(unix)]
#[test]
fn allow_list_drops_and_counts_other_senders() {
    let (mut w, addr) = window(&["--allow", "127.0.0.2/32", "--allow", "fd00::/8"]);
    let good = udp("127.0.0.2");
    let bad = udp("127.0.0.3");
    send(&bad, addr, b"blocked");
    send(&good, addr, b"ok");
    assert_eq!(w.line(), good.local_addr().unwrap().to_string());
    assert_eq!(w.line(), "ok");
    w.signal(libc::SIGINT);
    w.expect_exit(130);
    assert!(
        w.stderr().contains("1 dropped by --allow"),
        "{}",
        w.stderr()
    );
}

#[cfg(unix)]
#[test]
fn max_rate_drops_excess_per_sender() {
    let (mut w, addr) = window(&["--max-rate", "5"]);
    let flood = udp("127.0.0.2");
    let calm = udp("127.0.0.3");
    for i in 0..50 {
        send(&flood, addr, format!("f{i}").as_bytes());
    }
    send(&calm, addr, b"calm");
    let mut shown = Vec::new();
    loop {
        let from = w.line();
        let text = w.line();
        if text == "calm" {
            assert_eq!(from, calm.local_addr().unwrap().to_string());
            break;
        }
        shown.push(text);
    }
    assert!(
        shown.len() < 50,
        "the flood was limited: {} shown",
        shown.len()
    );
    w.signal(libc::SIGTERM);
    w.expect_exit(130);
    assert!(w.stderr().contains("127.0.0.2"), "{}", w.stderr());
}

#[test]
fn dual_stack_shows_ipv4_senders_plainly() {
    let mut w = Proc::spawn("chat-window", &["-b", "::", "-p", "0"]);
    let port = w.listen_addr("listening on").port();
    let v4 = udp("127.0.0.1");
    v4.send_to(b"four", ("127.0.0.1", port)).unwrap();
    assert_eq!(w.line(), v4.local_addr().unwrap().to_string());
    assert_eq!(w.line(), "four");
    let v6 = udp("::1");
    v6.send_to(b"six", ("::1", port)).unwrap();
    let from = w.line();
    assert!(from.starts_with("[::1]:"), "{from}");
    assert_eq!(w.line(), "six");
}

#[test]
fn count_exits_zero_and_timeout_without_count_exits_zero() {
    let (mut w, addr) = window(&["--count", "2", "--timeout", "15s"]);
    let s = udp("127.0.0.1");
    for m in ["a", "b", "c"] {
        send(&s, addr, m.as_bytes());
    }
    w.expect_exit(0);
    let out = w.rest();
    assert_eq!(out.len(), 4, "exactly two messages shown: {out:?}");

    let (mut w, _) = window(&["--timeout", "200ms"]);
    w.expect_exit(0);
}

#[test]
fn count_not_reached_in_timeout_exits_one_with_a_clear_line() {
    // Long enough for the one message to be shown on a loaded machine.
    let (mut w, addr) = window(&["--count", "3", "--timeout", "3s"]);
    send(&udp("127.0.0.1"), addr, b"only one");
    w.expect_exit(1);
    let err = w.stderr();
    assert!(
        err.contains("timed out after 3s: 1 of 3 messages arrived"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[cfg(unix)]
#[test]
fn log_has_every_shown_message_as_json_after_sigint_and_sigterm() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let dir = tempdir();
        let log = format!("{dir}/chat.log");
        let (mut w, addr) = window(&["--log", &log]);
        let s = udp("127.0.0.2");
        for i in 0..500 {
            send(&s, addr, format!("m{i}").as_bytes());
        }
        send(&s, addr, b"last");
        loop {
            w.line();
            if w.line() == "last" {
                break;
            }
        }
        w.signal(sig);
        w.expect_exit(130);
        let err = w.stderr();
        let shown: u64 = err
            .lines()
            .find_map(|l| l.strip_prefix("chat-window: "))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no summary: {err}"));
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() as u64, shown, "log has every shown message");
        let last: serde_json::Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
        assert_eq!(last["text"], "last");
        assert_eq!(last["from"], s.local_addr().unwrap().to_string());
    }
}

#[cfg(unix)]
fn tempdir() -> String {
    let dir = std::env::temp_dir().join(format!(
        "lanchat-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.to_string_lossy().into_owned()
}

#[test]
fn recv_buffer_size_obtained_is_reported() {
    let mut p = Proc::spawn(
        "chat-window",
        &["-b", "127.0.0.1", "-p", "0", "--recv-buffer", "262144"],
    );
    let line = p.wait_stderr("receive buffer:");
    let n: usize = line
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(n >= 262_144, "{line}");
}

#[cfg(unix)]
#[test]
fn sigint_flushes_and_prints_summary() {
    let (mut w, addr) = window(&[]);
    let a = udp("127.0.0.2");
    let b = udp("127.0.0.3");
    send(&a, addr, b"1");
    send(&b, addr, b"2");
    w.lines(4);
    w.signal(libc::SIGINT);
    w.expect_exit(130);
    let err = w.stderr();
    assert!(err.contains("2 messages shown from 2 senders"), "{err}");
}

#[test]
fn closed_stdout_ends_quietly_with_status_zero() {
    // As `chat-window | head -2`: the reader goes away after two lines.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut cmd = Command::new(crate::util::bin("chat-window"));
    cmd.args(["-b", "127.0.0.1", "-p", "0"]).stdout(writer);
    let mut w = Proc::spawn_cmd_keep_stdout("chat-window", &mut cmd);
    let addr = w.listen_addr("listening on");
    let s = udp("127.0.0.1");
    send(&s, addr, b"first");
    let mut r = std::io::BufReader::new(reader);
    let mut line = String::new();
    for _ in 0..2 {
        std::io::BufRead::read_line(&mut r, &mut line).unwrap();
    }
    assert!(line.ends_with("first\n"), "{line}");
    drop(r);
    send(&s, addr, b"to nobody");
    w.expect_exit(0);
    assert!(!w.stderr().contains("panicked"), "{}", w.stderr());
}

#[test]
fn help_and_version() {
    for bin in [
        "chat-window",
        "input-box",
        "room-server",
        "room-client",
        "lanchat",
    ] {
        let (code, out, _) = run(Command::new(crate::util::bin(bin)).arg("--help"));
        assert_eq!(code, Some(0));
        assert!(
            out.contains("Example"),
            "{bin} --help has an example: {out}"
        );
        let (code, out, _) = run(Command::new(crate::util::bin(bin)).arg("--version"));
        assert_eq!(code, Some(0));
        assert_eq!(
            out.trim(),
            format!("{bin} {}", env!("CARGO_PKG_VERSION")),
            "each binary names itself"
        );
        let (code, _, err) = run(Command::new(crate::util::bin(bin)).arg("--no-such-flag"));
        assert_eq!(code, Some(2), "{err}");
    }
}

// ---- input-box --------------------------------------------------------------

fn recv_text(rx: &UdpSocket) -> (String, Vec<u8>) {
    let mut buf = [0u8; 65536];
    let (n, from) = crate::util::recv_from(rx, &mut buf).unwrap();
    (from.to_string(), buf[..n].to_vec())
}

fn port_of(s: &UdpSocket) -> String {
    s.local_addr().unwrap().port().to_string()
}

#[test]
fn each_line_is_one_gb2312_datagram_and_88_quits() {
    let rx = udp("127.0.0.1");
    let input = "你好\r\n\nsecond line\n88\nnot sent\n";
    let (code, err) = run_bin_with_input("input-box", &["-p", &port_of(&rx)], input.as_bytes());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(recv_text(&rx).1, NIHAO_GB2312);
    assert_eq!(recv_text(&rx).1, b"");
    assert_eq!(recv_text(&rx).1, b"second line");
    assert_eq!(recv_text(&rx).1, b"88");
    rx.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 16];
    assert!(rx.recv(&mut buf).is_err(), "nothing after 88");
}

#[test]
fn quit_word_changed_or_disabled_and_eof_exits_zero() {
    let rx = udp("127.0.0.1");
    let p = port_of(&rx);
    let (code, _) = run_bin_with_input(
        "input-box",
        &["-p", &p, "--quit-word", "bye"],
        b"88\nbye\nx\n",
    );
    assert_eq!(code, Some(0));
    assert_eq!(recv_text(&rx).1, b"88");
    assert_eq!(recv_text(&rx).1, b"bye");
    let (code, _) = run_bin_with_input("input-box", &["-p", &p, "--quit-word", ""], b"88\nlast");
    assert_eq!(code, Some(0));
    assert_eq!(recv_text(&rx).1, b"88");
    assert_eq!(
        recv_text(&rx).1,
        b"last",
        "a last line without newline is sent at EOF"
    );
}

#[test]
fn messages_flag_sends_in_order_and_source_address_is_used() {
    let rx = udp("127.0.0.1");
    let (code, _, err) = run(Command::new(crate::util::bin("input-box")).args([
        "127.0.0.1",
        "-p",
        &port_of(&rx),
        "-s",
        "127.0.0.5",
        "-m",
        "一",
        "-m",
        "二",
    ]));
    assert_eq!(code, Some(0), "{err}");
    let (from, a) = recv_text(&rx);
    assert!(from.starts_with("127.0.0.5:"), "{from}");
    assert_eq!(encoding_rs::GBK.decode(&a).0, "一");
    assert_eq!(encoding_rs::GBK.decode(&recv_text(&rx).1).0, "二");

    let (code, _, _) = run(Command::new(crate::util::bin("input-box")).args([
        "127.0.0.1",
        "-p",
        &port_of(&rx),
        "-s",
        "127.0.0.6:0",
        "-m",
        "x",
    ]));
    assert_eq!(code, Some(0));
    assert!(recv_text(&rx).0.starts_with("127.0.0.6:"));
}

#[test]
fn unencodable_character_is_named_line_skipped_rest_sent_exit_one() {
    let rx = udp("127.0.0.1");
    let (code, err) = run_bin_with_input(
        "input-box",
        &["-p", &port_of(&rx)],
        "before\nsmile 😀\nafter\n".as_bytes(),
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("U+1F600"), "{err}");
    assert!(err.contains("--encoding gb18030"), "{err}");
    assert_eq!(recv_text(&rx).1, b"before");
    assert_eq!(recv_text(&rx).1, b"after");

    // With gb18030 the same line goes through.
    let (code, _) = run_bin_with_input(
        "input-box",
        &["-p", &port_of(&rx), "-e", "gb18030"],
        "😀\n".as_bytes(),
    );
    assert_eq!(code, Some(0));
    assert_eq!(encoding_rs::GB18030.decode(&recv_text(&rx).1).0, "😀");
}

#[test]
fn invalid_utf8_line_is_refused_with_its_number() {
    let rx = udp("127.0.0.1");
    let (code, err) =
        run_bin_with_input("input-box", &["-p", &port_of(&rx)], b"ok\n\xff\xfe\nok2\n");
    assert_eq!(code, Some(1));
    assert!(err.contains("line 2: not valid UTF-8; not sent"), "{err}");
    assert_eq!(recv_text(&rx).1, b"ok");
    assert_eq!(recv_text(&rx).1, b"ok2");
}

#[test]
fn oversize_line_is_refused_with_its_size() {
    let rx = udp("127.0.0.1");
    let mut input = "汉".repeat(40_000).into_bytes(); // 80,000 bytes in GBK
    input.extend_from_slice(b"\nsmall\n");
    let (code, err) = run_bin_with_input("input-box", &["-p", &port_of(&rx)], &input);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("line 1: 80000 bytes after encoding, over the 65507-byte datagram limit"),
        "{err}"
    );
    assert_eq!(recv_text(&rx).1, b"small");
}

#[test]
fn nobody_listening_warns_once_and_keeps_going() {
    // A port with nobody on it: bind, note the port, close.
    let port = port_of(&udp("127.0.0.1"));
    let mut args = vec!["-p", port.as_str()];
    for _ in 0..5 {
        args.extend_from_slice(&["-m", "hello"]);
    }
    let (code, _, err) = run(Command::new(crate::util::bin("input-box")).args(&args));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        err.matches("no chat window is listening at 127.0.0.1:")
            .count(),
        1,
        "{err}"
    );
}

#[test]
fn line_refused_by_port_unreachable_is_sent_again() {
    // The first line goes to a closed port; the ICMP error then surfaces on
    // the second send. Once a window listens, every later line must arrive.
    let rx = udp("127.0.0.1");
    let port = port_of(&rx);
    drop(rx);
    let mut p = Proc::spawn("input-box", &["-p", &port]);
    p.write(b"into the void\nagain\n");
    p.wait_stderr("no chat window is listening");
    let rx = UdpSocket::bind(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
    rx.set_read_timeout(Some(crate::util::WAIT)).unwrap();
    p.write(b"one\ntwo\n");
    p.close_stdin();
    p.expect_exit(0);
    // "into the void" may or may not have been refused again; the lines
    // after the window came back must all be there.
    let mut got = Vec::new();
    while got.last().map(|v: &Vec<u8>| v.as_slice()) != Some(b"two") {
        got.push(recv_text(&rx).1);
    }
    assert!(got.contains(&b"one".to_vec()), "{got:?}");
}

#[test]
fn unresolvable_host_and_unusable_source_are_one_clear_error() {
    let (code, _, err) =
        run(Command::new(crate::util::bin("input-box")).args(["no-such-host.invalid", "-m", "x"]));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with("input-box: cannot resolve 'no-such-host.invalid'"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let (code, _, err) = run(Command::new(crate::util::bin("input-box")).args([
        "127.0.0.1",
        "-s",
        "192.0.2.99",
        "-m",
        "x",
    ]));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cannot use source address 192.0.2.99"),
        "{err}"
    );

    let (code, _, err) = run(Command::new(crate::util::bin("input-box")).args([
        "::1",
        "-s",
        "127.0.0.2",
        "-m",
        "x",
    ]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot use source address"), "{err}");
}

#[test]
fn port_in_use_is_one_line_in_lanchats_words() {
    // A socket without SO_REUSEADDR owns its port on every OS.
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let (code, _, err) = run(Command::new(crate::util::bin("chat-window")).args([
        "-b",
        "127.0.0.1",
        "-p",
        &port,
        "--timeout",
        "5",
    ]));
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err.trim(),
        format!("chat-window: cannot listen on 127.0.0.1:{port}: address already in use")
    );
}

#[test]
fn the_port_is_the_windows_alone_a_second_program_is_refused() {
    // SO_REUSEADDR would let a second window take the port's datagrams
    // silently on Linux; the port is the first window's alone.
    let mut first = Proc::spawn(
        "chat-window",
        &["-b", "127.0.0.1", "-p", "0", "--count", "1"],
    );
    let port = first.listen_addr("listening on").port().to_string();
    let (code, _, err) = run(Command::new(crate::util::bin("chat-window")).args([
        "-b",
        "127.0.0.1",
        "-p",
        &port,
        "--timeout",
        "5s",
    ]));
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err.trim(),
        format!("chat-window: cannot listen on 127.0.0.1:{port}: address already in use")
    );
    // Nor does a window on 0.0.0.0 take it: the first still gets the line.
    let (code, _, err) =
        run(Command::new(crate::util::bin("chat-window")).args(["-p", &port, "--timeout", "5s"]));
    assert_eq!(code, Some(1), "0.0.0.0 beside 127.0.0.1: {err}");
    let (code, _, _) = run(Command::new(crate::util::bin("input-box")).args([
        "127.0.0.1",
        "-p",
        &port,
        "-m",
        "one",
    ]));
    assert_eq!(code, Some(0));
    assert_eq!(first.lines(2)[1], "one");
    first.expect_exit(0);
}

#[test]
fn broadcast_needs_the_flag_and_then_works_on_loopback() {
    // A window on 0.0.0.0 receives what is broadcast on lo (127.255.255.255).
    let mut w = Proc::spawn("chat-window", &["-p", "0", "--count", "1"]);
    let port = w.listen_addr("listening on").port().to_string();
    let (code, _, err) = run(Command::new(crate::util::bin("input-box")).args([
        "127.255.255.255",
        "-p",
        &port,
        "-m",
        "x",
    ]));
    assert_eq!(code, Some(1));
    assert!(err.contains("needs --broadcast"), "{err}");
    let (code, _, err) = run(Command::new(crate::util::bin("input-box")).args([
        "127.255.255.255",
        "--broadcast",
        "-p",
        &port,
        "-m",
        "to all",
    ]));
    assert_eq!(code, Some(0), "{err}");
    w.line();
    assert_eq!(w.line(), "to all");
    w.expect_exit(0);
}

#[test]
fn host_name_destination() {
    let rx = udp("127.0.0.1");
    let (code, _, err) = run(Command::new(crate::util::bin("input-box")).args([
        "localhost",
        "-p",
        &port_of(&rx),
        "-s",
        "127.0.0.1",
        "-m",
        "by name",
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(recv_text(&rx).1, b"by name");
}

#[test]
fn ipv6_destination() {
    let rx = udp("::1");
    let (code, _, err) = run(Command::new(crate::util::bin("input-box")).args([
        "::1",
        "-p",
        &port_of(&rx),
        "-m",
        "v6",
    ]));
    assert_eq!(code, Some(0), "{err}");
    let (from, data) = recv_text(&rx);
    assert!(from.starts_with("[::1]:"));
    assert_eq!(data, b"v6");
}

// ---- several hosts at once ------------------------------------------------

#[test]
fn concurrent_input_boxes_from_several_hosts_each_message_once_right_sender() {
    const PER_HOST: usize = 300;
    let hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
    let total = PER_HOST * hosts.len();
    let (mut w, addr) = window(&["--count", &total.to_string(), "--timeout", "30s"]);
    let port = addr.port().to_string();
    let senders: Vec<_> = hosts
        .iter()
        .map(|h| {
            let input: String = (0..PER_HOST).map(|i| format!("{h} 消息 {i}\n")).collect();
            let mut p = Proc::spawn("input-box", &["-p", &port, "-s", h]);
            p.write(input.as_bytes());
            p.close_stdin();
            p
        })
        .collect();
    for mut s in senders {
        s.expect_exit(0);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..total {
        let from = w.line();
        let text = w.line();
        let host = text.split(' ').next().unwrap().to_string();
        assert!(from.starts_with(&format!("{host}:")), "{from} sent {text}");
        *seen.entry(text).or_default() += 1;
    }
    w.expect_exit(0);
    assert_eq!(seen.len(), total, "every message arrived");
    assert!(seen.values().all(|&n| n == 1), "none twice");
}

// ---- interop ----------------------------------------------------------------

#[test]
fn classic_python_receiver_reads_input_box() {
    if !have("python3") {
        return;
    }
    let mut py = Proc::spawn_cmd(
        "python receiver",
        Command::new("python3").args(["-c", PY_RECEIVER]),
    );
    let port = py.line();
    let (code, err) = run_bin_with_input("input-box", &["-p", &port], "你好，世界\n".as_bytes());
    assert_eq!(code, Some(0), "{err}");
    assert!(py.line().starts_with("127.0.0.1:"));
    assert_eq!(py.line(), "你好，世界");
    py.expect_exit(0);
}

#[test]
fn classic_python_sender_reaches_chat_window() {
    if !have("python3") {
        return;
    }
    let (mut w, addr) = window(&[]);
    let mut py = Proc::spawn_cmd(
        "python sender",
        Command::new("python3").args(["-c", PY_SENDER, &addr.port().to_string()]),
    );
    py.write("大家好\n88\n".as_bytes());
    py.expect_exit(0);
    assert!(w.line().starts_with("127.0.0.1:"));
    assert_eq!(w.line(), "大家好");
    w.line();
    assert_eq!(w.line(), "88");
}

#[test]
fn socat_and_nc_as_senders() {
    let (mut w, addr) = window(&[]);
    let port = addr.port().to_string();
    let gb = |s: &str| encoding_rs::GBK.encode(s).0.into_owned();
    if have("socat") {
        let mut p = Proc::spawn_cmd(
            "socat",
            Command::new("socat").args(["-u", "-", &format!("UDP4-SENDTO:127.0.0.1:{port}")]),
        );
        p.write(&gb("来自 socat\n"));
        p.close_stdin();
        p.expect_exit(0);
        assert!(w.line().starts_with("127.0.0.1:"));
        assert_eq!(w.line(), "来自 socat");
    }
    if have("nc") {
        let mut p = Proc::spawn_cmd(
            "nc",
            Command::new("nc").args(["-u", "-w1", "127.0.0.1", &port]),
        );
        p.write(&gb("来自 nc\n"));
        p.close_stdin();
        assert!(w.line().starts_with("127.0.0.1:"));
        assert_eq!(w.line(), "来自 nc");
    }
}

// ---- multicast, in a private network namespace ------------------------------

/// Runs `script` in a new network namespace that has only loopback, so
/// multicast cannot leave the machine. None when namespaces are unavailable.
fn in_private_netns(script: &str) -> Option<(Option<i32>, String, String)> {
    let ok = Command::new("unshare")
        .args(["-rn", "true"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("unshare -rn is required in CI for the multicast test");
        }
        eprintln!("SKIPPED: cannot create a network namespace");
        return None;
    }
    Some(run(
        Command::new("unshare").args(["-rn", "sh", "-ec", script])
    ))
}

#[test]
fn multicast_group_reaches_the_window() {
    let script = format!(
        r#"
ip link set lo up
ip link set lo multicast on
ip route add 224.0.0.0/4 dev lo
err=$(mktemp)
err2=$(mktemp)
"{cw}" -p 0 --multicast 239.1.2.3 --interface 127.0.0.1 --count 1 --timeout 60s 2>"$err" &
pid=$!
i=0; until grep -q 'listening on .*:[0-9]*$' "$err" 2>/dev/null; do i=$((i+1)); [ $i -lt 6000 ] || exit 9; sleep 0.01; done
port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$err")
# A second receiver of the group shares the port (--multicast only).
"{cw}" -p "$port" --multicast 239.1.2.3 --interface 127.0.0.1 --count 1 --timeout 60s 2>"$err2" >/dev/null &
pid2=$!
i=0; until grep -q 'listening on .*:[0-9]*$' "$err2" 2>/dev/null; do i=$((i+1)); [ $i -lt 6000 ] || exit 8; sleep 0.01; done
"{ib}" 239.1.2.3 -p "$port" --ttl 1 -s 127.0.0.1 -m 组播
wait $pid
wait $pid2 || exit 7
rm -f "$err" "$err2"
"#,
        cw = crate::util::bin("chat-window"),
        ib = crate::util::bin("input-box")
    );
    let Some((code, out, err)) = in_private_netns(&script) else {
        return;
    };
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("127.0.0.1:"), "{out}");
    assert_eq!(lines[1], "组播");
}

// ---- input-box on a terminal ------------------------------------------------

#[test]
fn input_box_on_a_terminal_shows_banner_and_edits_lines() {
    if !have("tmux") {
        return;
    }
    let rx = udp("127.0.0.1");
    let cmd = format!(
        "{} 127.0.0.1 -p {}",
        crate::util::bin("input-box"),
        port_of(&rx)
    );
    let term = crate::util::Tmux::start("input-box", &cmd, 100, 10);
    term.wait_screen(|s| s.contains("----输入框----"));
    // Type "abx", erase the x, finish with "c": line editing.
    term.type_text("abx");
    term.key("BSpace");
    term.type_text("c");
    term.key("Enter");
    assert_eq!(recv_text(&rx).1, b"abc");
    // History: Up brings back the last line.
    term.key("Up");
    term.key("Enter");
    assert_eq!(recv_text(&rx).1, b"abc");
    term.type_text("88");
    term.key("Enter");
    assert_eq!(recv_text(&rx).1, b"88");
}

#[test]
fn smoke_loopback_script_passes() {
    let dir = std::path::Path::new(crate::util::bin("chat-window"))
        .parent()
        .unwrap();
    let (code, out, err) = run(Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/smoke-loopback.sh"
        ))
        .args(["3", "200"])
        .env("LANCHAT_BIN", dir));
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("lost 0, duplicated 0, wrong sender 0"),
        "{out}"
    );
}

// ---- hostile input and floods -------------------------------------------------

#[cfg(unix)]
#[test]
fn flood_from_one_sender_does_not_hide_a_normal_sender_with_max_rate() {
    // One sender floods 5,000 datagrams at once; another sends 100 at a
    // modest pace. With --max-rate, the window spends almost nothing on the
    // flood and every normal message is shown. (The flood fits the socket's
    // buffer, so on a busy machine the kernel cannot drop the normal ones
    // before the window reads them: that would be the machine's doing, not
    // the window's. A 200,000-datagram flood of a loaded machine lost some.)
    let (mut w, addr) = window(&["--max-rate", "50", "--recv-buffer", "33554432"]);
    let flood = std::thread::spawn(move || {
        let s = udp("127.0.0.2");
        let payload = [b'f'; 64];
        for _ in 0..5_000 {
            let _ = s.send_to(&payload, addr);
        }
    });
    let calm = udp("127.0.0.3");
    let calm_name = calm.local_addr().unwrap().to_string();
    let pacer = std::thread::spawn(move || {
        for i in 0..100 {
            calm.send_to(format!("calm {i}").as_bytes(), addr).unwrap();
            // A modest pace: 40 messages a second, under the limit of 50.
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    });
    flood.join().unwrap();
    pacer.join().unwrap();
    let mut calm_seen = Vec::new();
    let mut flood_shown = 0;
    while calm_seen.len() < 100 {
        let from = w.line();
        let text = w.line();
        if from == calm_name {
            calm_seen.push(text);
        } else {
            flood_shown += 1;
        }
    }
    let want: Vec<String> = (0..100).map(|i| format!("calm {i}")).collect();
    assert_eq!(calm_seen, want, "every normal message, in order");
    assert!(
        flood_shown < 1000,
        "the flood was limited: {flood_shown} shown"
    );
    w.signal(libc::SIGINT);
    w.expect_exit(130);
    let err = w.stderr();
    assert!(err.contains("dropped by --max-rate (127.0.0.2 "), "{err}");
}

#[cfg(unix)]
#[test]
fn log_is_complete_after_a_signal_in_the_middle_of_a_burst() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let dir = tempdir();
        let log = format!("{dir}/burst.log");
        let (mut w, addr) = window(&["--log", &log]);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let sender = std::thread::spawn(move || {
            let s = udp("127.0.0.2");
            let mut i = 0u64;
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) && i < 2_000_000 {
                let _ = s.send_to(format!("burst {i}").as_bytes(), addr);
                i += 1;
            }
        });
        // Mid-burst: some output has been shown, the sender is still going.
        w.lines(2000);
        w.signal(sig);
        w.expect_exit(130);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        sender.join().unwrap();
        let shown = 1000 + w.rest().len() / 2;
        let logged = std::fs::read_to_string(&log).unwrap().lines().count();
        assert_eq!(logged, shown, "every shown message is in the log ({sig})");
    }
}
