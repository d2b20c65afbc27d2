//! A room a class can use, as a teacher and the students would run it: the
//! real room-server with `--password-file`, `--op-password`, `--bans`,
//! `--history-file`; raw TCP members (as nc) from 127.0.0.2, .3, … as
//! several hosts; room-client as the Windows (GB2312) member; a page
//! member over its WebSocket.

use std::process::Command;

use crate::room::{server, Conn};
use crate::util::{run, Proc};

fn gb(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

/// Reads lines until one equals `want`; returns those skipped.
fn until(c: &mut Conn, want: &[u8]) -> Vec<String> {
    let mut skipped = Vec::new();
    loop {
        let line = c.line_bytes();
        if line == want {
            return skipped;
        }
        skipped.push(String::from_utf8_lossy(&line).into_owned());
    }
}

/// A member that gives the password and is in.
fn enter(from: &str, addr: std::net::SocketAddr) -> Conn {
    let mut c = Conn::open(from, addr);
    assert_eq!(c.line(), "! password required: /pass PASSWORD\n");
    c.send(b"/pass open sesame\n");
    assert_eq!(c.line(), "! password accepted\n");
    c
}

#[test]
fn a_teacher_runs_a_room_with_a_password_and_operators() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("password");
    std::fs::write(&pw, "open sesame\n").unwrap();
    let log = dir.path().join("chat.log");
    let (mut srv, addr) = server(&[
        "--password-file",
        pw.to_str().unwrap(),
        "--op-password",
        "chalk",
        "--history",
        "20",
        "--history-file",
        log.to_str().unwrap(),
    ]);
    assert!(!srv.stderr().contains("open sesame"));
    let mut teacher = enter("127.0.0.2", addr);
    teacher.send("/nick 老师\n".as_bytes());
    assert_eq!(
        teacher.line_bytes(),
        format!("[{}] is now 老师\n", teacher.name).as_bytes()
    );
    let t = format!("老师@{}", teacher.name);

    // A student without the password hears nothing and is heard by nobody.
    let mut student = Conn::open("127.0.0.3", addr);
    assert_eq!(student.line(), "! password required: /pass PASSWORD\n");
    student.send(b"hello? anyone?\n/nick sneaky\n/pass wrong\n");
    assert_eq!(student.line(), "! password required: /pass PASSWORD\n");
    assert_eq!(student.line(), "! password required: /pass PASSWORD\n");
    assert_eq!(student.line(), "! wrong password\n");

    // A burst of wrong passwords from one address while another joins.
    let mut guesser = Conn::open("127.0.0.5", addr);
    guesser.line();
    guesser.send(b"/pass a\n/pass b\n/pass c\n/pass d\n/pass e\n");
    student.send(b"/pass open sesame\n");
    assert_eq!(student.line(), "! password accepted\n");
    let s = student.name.clone();
    until(&mut teacher, format!("[{s}] entered room\n").as_bytes());
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(guesser.line());
    }
    assert_eq!(got[..4], vec!["! wrong password\n"; 4]);
    assert_eq!(got[4], "! too many wrong passwords\n");
    assert!(guesser.closed(), "closed after the fifth");
    let mut again = Conn::open("127.0.0.5", addr);
    assert_eq!(again.line(), "! too many wrong passwords\n");
    assert!(again.closed(), "refused at once for a minute");
    srv.wait_stderr("[127.0.0.5] too many wrong passwords: refused for a minute");
    // Another address still joins.
    let mut other = enter("127.0.0.6", addr);

    // Operators: a student cannot; the teacher can, and everyone sees it.
    student.send(b"/kick 127.0.0.6\n");
    until(&mut student, b"! only operators can /kick\n");
    teacher.send(b"/op nope\n/op chalk\n");
    until(&mut teacher, b"! you are an operator\n");
    until(
        &mut student,
        format!("[{t}] became an operator\n").as_bytes(),
    );
    student.send(b"/who\n");
    let who = until(&mut student, format!("!   {s}\n").as_bytes());
    assert!(who.contains(&format!("!   @{t}\n")), "{who:?}");

    // Topic, to everyone now and to whoever joins later.
    teacher.send("/topic 第三课：循环\n".as_bytes());
    for m in [&mut student, &mut other] {
        until(m, "! topic: 第三课：循环\n".as_bytes());
    }

    // Mute: the student's lines reach nobody and are not kept.
    teacher.send(format!("/mute {s} 10\n").as_bytes());
    let muted = format!("[{s}] was muted by {t} for 10 minutes\n");
    until(&mut student, muted.as_bytes());
    student.send(b"I am muted spam\nmore spam\n");
    assert_eq!(student.line(), "! you are muted\n");
    other.send(b"marker one\n");
    let seen = until(
        &mut teacher,
        format!("<{}> marker one\n", other.name).as_bytes(),
    );
    assert!(seen.iter().all(|l| !l.contains("spam")), "{seen:?}");
    teacher.send(format!("/unmute {s}\n").as_bytes());
    until(
        &mut student,
        format!("[{s}] was unmuted by {t}\n").as_bytes(),
    );

    // Kick: everyone sees who and why; the student is told and closed.
    teacher.send(format!("/kick {s} talking in class\n").as_bytes());
    let kicked = format!("[{s}] was removed by {t}: talking in class\n");
    assert_eq!(until(&mut student, kicked.as_bytes()), Vec::<String>::new());
    assert!(student.closed());
    until(&mut other, kicked.as_bytes());
    other.send(b"marker two\n");
    let seen = until(
        &mut teacher,
        format!("<{}> marker two\n", other.name).as_bytes(),
    );
    assert!(seen.iter().all(|l| !l.contains("left room")), "{seen:?}");

    // A joiner gets the history without the muted lines, then the topic.
    let mut late = enter("127.0.0.7", addr);
    let history = until(&mut late, "! topic: 第三课：循环\n".as_bytes());
    assert!(
        history.iter().any(|l| l.contains("marker one")),
        "{history:?}"
    );
    assert!(history.iter().all(|l| !l.contains("spam")), "{history:?}");
    assert!(
        history.iter().all(|l| !l.contains("anyone?")),
        "{history:?}"
    );

    // Stderr and the chat log say who did what.
    srv.wait_stderr_all(&[
        format!("[{t}] became an operator"),
        format!("[{t}] set the topic: 第三课：循环"),
        muted.trim_end().to_string(),
        kicked.trim_end().to_string(),
    ]);
    let logged = std::fs::read_to_string(&log).unwrap();
    for want in [
        &kicked,
        &muted,
        &format!("[{t}] set the topic: 第三课：循环\n"),
    ] {
        assert!(logged.contains(want.as_str()), "{logged}");
    }
    assert!(!logged.contains("spam"), "{logged}");
    assert!(!logged.contains("anyone?"), "{logged}");
    assert!(!logged.contains("chalk") && !logged.contains("open sesame"));
}

#[test]
fn bans_survive_a_restart_with_bans_file() {
    let dir = tempfile::tempdir().unwrap();
    let bans = dir.path().join("bans.txt");
    let args = ["--op-password", "chalk", "--bans", bans.to_str().unwrap()];
    let (mut srv, addr) = server(&args);
    let mut teacher = Conn::open("127.0.0.2", addr);
    let mut pest = Conn::open("127.0.0.3", addr);
    let p = pest.name.clone();
    teacher.line();
    teacher.send(b"/op chalk\n");
    let t = teacher.name.clone();
    until(
        &mut teacher,
        format!("[{t}] became an operator\n").as_bytes(),
    );
    teacher.send(b"/ban 127.0.0.0/16\n/ban 127.0.0.3\n");
    assert_eq!(teacher.line(), "! not on yourself\n");
    assert_eq!(
        teacher.line(),
        format!("[127.0.0.3/32] was banned by {t}\n")
    );
    assert_eq!(
        teacher.line(),
        format!("[{p}] was removed by {t}: banned\n")
    );
    until(&mut pest, b"! banned\n");
    assert!(pest.closed());
    let mut back = Conn::open("127.0.0.3", addr);
    assert_eq!(back.line(), "! banned\n");
    assert!(back.closed());
    // Written when it changed; a restart reads it back.
    teacher.send(b"/bans\n");
    assert_eq!(teacher.line(), "! 1 bans:\n");
    assert_eq!(
        teacher.line(),
        format!("! ban 127.0.0.3/32 until lifted, by {t}\n")
    );
    let saved = std::fs::read_to_string(&bans).unwrap();
    assert!(saved.contains("127.0.0.3/32 - "), "{saved}");
    // Even killed (no chance to save on the way out), the room keeps them.
    srv.child.kill().unwrap();
    srv.wait();
    let (_srv2, addr) = server(&args);
    let mut back = Conn::open("127.0.0.3", addr);
    assert_eq!(back.line(), "! banned\n");
    assert!(back.closed());
    let mut teacher = Conn::open("127.0.0.2", addr);
    teacher.send(b"/op chalk\n/unban 127.0.0.3\n");
    let t = teacher.name.clone();
    until(
        &mut teacher,
        format!("[{t}] became an operator\n").as_bytes(),
    );
    assert_eq!(
        teacher.line(),
        format!("[127.0.0.3/32] was unbanned by {}\n", teacher.name)
    );
    let mut welcome = Conn::open("127.0.0.3", addr);
    until(
        &mut teacher,
        format!("[{}] entered room\n", welcome.name).as_bytes(),
    );
    welcome.send(b"thanks\n");
    assert_eq!(teacher.line(), format!("<{}> thanks\n", welcome.name));
    let saved = std::fs::read_to_string(&bans).unwrap();
    assert!(!saved.contains("127.0.0.3"), "{saved}");
}

#[test]
fn a_gb2312_member_a_utf8_member_and_a_page_read_each_other() {
    let (_srv, addr, web) = crate::web::server(&[]);
    // The Linux member: UTF-8 bytes, as nc in a UTF-8 terminal.
    let mut nc = Conn::open("127.0.0.3", addr);
    // The Windows member: room-client (GB2312 both ways).
    let mut win = Proc::spawn(
        "room-client",
        &["127.0.0.1", "-p", &addr.port().to_string()],
    );
    win.wait_stderr("Connected to remote host");
    let w = crate::util::bracketed_name(&nc.line());
    // The page (Unicode; --web-encoding gb2312 by default).
    let mut page = crate::web::ws_from("127.0.0.4", web, Some(&format!("http://{web}"))).unwrap();
    let you = crate::web::next(&mut page);
    let pg = you["addr"].as_str().unwrap().to_string();
    until(&mut nc, format!("[{pg}] entered room\n").as_bytes());
    // Each speaks first, so the room learns its encoding.
    nc.send("/nick 小李\n".as_bytes());
    let n = nc.name.clone();
    until(&mut nc, format!("[{n}] is now 小李\n").as_bytes());
    win.write("/nick 老王\n".as_bytes());
    until(&mut nc, format!("[{w}] is now 老王\n").as_bytes());
    // room-client heard nc's name before the room knew its own encoding
    // (as it was sent: UTF-8, shown garbled); from here on it reads GB2312.
    while !win.line().starts_with(&format!("[{n}] is now ")) {}
    assert_eq!(win.line(), format!("[{w}] is now 老王"));
    // Lines both ways.
    nc.send("你好，老王\n".as_bytes());
    assert_eq!(win.line(), format!("<小李@{}> 你好，老王", nc.name));
    win.write("你好，小李\n".as_bytes());
    assert_eq!(nc.line(), format!("<老王@{w}> 你好，小李\n"));
    // The page reads both, and both read the page.
    let mut page_said = Vec::new();
    while page_said.len() < 2 {
        let m = crate::web::next(&mut page);
        if m["kind"] == "line" {
            page_said.push((
                m["from"].as_str().unwrap().to_string(),
                m["text"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert_eq!(
        page_said,
        vec![
            (format!("小李@{}", nc.name), "你好，老王".to_string()),
            (format!("老王@{w}"), "你好，小李".to_string()),
        ]
    );
    page.send(tungstenite::Message::text("大家好")).unwrap();
    assert_eq!(nc.line(), format!("<{pg}> 大家好\n"));
    assert_eq!(win.line(), format!("<{pg}> 大家好"));
    // /msg across encodings, names compared as text.
    nc.send("/msg 老王 悄悄话\n".as_bytes());
    assert_eq!(win.line(), format!("*小李@{}* 悄悄话", nc.name));
    win.write("/msg 小李 收到\n".as_bytes());
    assert_eq!(nc.line(), format!("*老王@{w}* 收到\n"));
    // One name, whatever the encoding it is typed in.
    nc.send("/nick 老王\n".as_bytes());
    assert_eq!(nc.line(), "! nick 老王 refused: in use\n");
    // A line that does not decode in its sender's encoding passes as it
    // was sent, prefix and all (room-client shows what GB2312 makes of it).
    nc.send(b"broken \xff\xfe\n");
    let line = win.line();
    assert!(
        line.ends_with(&format!("@{}> broken \u{FFFD}\u{FFFD}", nc.name)),
        "{line}"
    );
    assert!(
        !line.contains("小李"),
        "the UTF-8 name as it was sent: {line}"
    );
    // The auto rule takes room-client for GB18030, which writes every
    // character: an emoji arrives whole.
    nc.send("笑😀\n".as_bytes());
    assert_eq!(win.line(), format!("<小李@{}> 笑😀", nc.name));
    // The real nc in a UTF-8 terminal: it reads room-client's GB2312 as
    // UTF-8, and room-client reads it as GB2312.
    if crate::util::have("nc") {
        let mut real = Proc::spawn_cmd(
            "nc",
            Command::new("nc").args(["-s", "127.0.0.5", "127.0.0.1", &addr.port().to_string()]),
        );
        let r = crate::util::bracketed_name(&nc.line());
        real.write("/nick 小张\n".as_bytes());
        until(&mut nc, format!("[{r}] is now 小张\n").as_bytes());
        win.write("小张你好\n".as_bytes());
        loop {
            if real.line() == format!("<老王@{w}> 小张你好") {
                break;
            }
        }
        real.write("老王好\n".as_bytes());
        loop {
            if win.line() == format!("<小张@{r}> 老王好") {
                break;
            }
        }
    }
}

#[test]
fn relay_bytes_keeps_the_room_as_it_was() {
    let (_srv, addr) = server(&["--relay-bytes"]);
    let mut a = Conn::open("127.0.0.2", addr);
    let mut b = Conn::open("127.0.0.3", addr);
    a.line();
    a.send(&[gb("你好"), b"\n".to_vec()].concat());
    b.send("你好\n".as_bytes());
    a.send(&[gb("再见"), b"\n".to_vec()].concat());
    assert_eq!(a.line(), format!("<{}> 你好\n", b.name));
    assert_eq!(
        b.line_bytes(),
        [
            format!("<{}> ", a.name).into_bytes(),
            gb("你好"),
            b"\n".to_vec()
        ]
        .concat()
    );
    assert_eq!(
        b.line_bytes(),
        [
            format!("<{}> ", a.name).into_bytes(),
            gb("再见"),
            b"\n".to_vec()
        ]
        .concat()
    );
}

#[test]
fn bad_access_options_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let bin = crate::util::bin("room-server");
    let (code, _, err) =
        run(Command::new(bin).args(["-p", "0", "--password-file", empty.to_str().unwrap()]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--password is empty"), "{err}");
    let (code, _, err) =
        run(Command::new(bin).args(["-p", "0", "--password", "a", "--password-file", "x"]));
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = run(Command::new(bin).args([
        "-p",
        "0",
        "--op-password-file",
        dir.path().join("missing").to_str().unwrap(),
    ]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot read the password file"), "{err}");
}

#[test]
fn room_client_takes_its_name_once_the_password_is_given() {
    let (_srv, addr) = server(&["--password", "open sesame"]);
    let mut peer = enter("127.0.0.2", addr);
    let mut cl = Proc::spawn(
        "room-client",
        &[
            "127.0.0.1",
            "-p",
            &addr.port().to_string(),
            "--name",
            "小明",
        ],
    );
    cl.wait_stderr("Connected to remote host");
    // The /nick sent on joining was dropped while it waited.
    assert_eq!(cl.line(), "! password required: /pass PASSWORD");
    assert_eq!(cl.line(), "! password required: /pass PASSWORD");
    cl.write(b"/pass open sesame\n");
    assert_eq!(cl.line(), "! password accepted");
    let name = crate::util::bracketed_name(&peer.line());
    // Taken now: the room heard it as GB2312 from room-client.
    assert_eq!(
        peer.line_bytes(),
        [
            format!("[{name}] is now ").into_bytes(),
            gb("小明"),
            b"\n".to_vec()
        ]
        .concat()
    );
    cl.write(b"hi\n");
    assert_eq!(
        peer.line_bytes(),
        [
            b"<".to_vec(),
            gb("小明"),
            format!("@{name}> hi\n").into_bytes()
        ]
        .concat()
    );
}

// ---- the page, in a real browser ------------------------------------------------

async fn js(page: &fantoccini::Client, script: &str) -> serde_json::Value {
    page.execute(script, vec![]).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_asks_for_the_password_pins_the_topic_and_an_operator_kicks_from_the_list() {
    use crate::util::have;
    use crate::web::{wait_for, Driver};
    use fantoccini::Locator;
    if !have("chromium") || !have("chromedriver") {
        return;
    }
    let (mut srv, room, web) = crate::web::server(&[
        "--password",
        "open sesame",
        "--op-password",
        "chalk",
        "--history",
        "5",
    ]);
    let mut student = enter("127.0.0.3", room);
    // A UTF-8 member (its name tells the room so); the page is GB2312.
    student.send("/nick 学生\n".as_bytes());
    let s = student.name.clone();
    until(&mut student, format!("[{s}] is now 学生\n").as_bytes());
    let driver = Driver::start();
    let page = driver.browser("classroom").await;
    page.goto(&format!("http://{web}/")).await.unwrap();
    wait_for(
        &page,
        "the password prompt",
        "return !document.getElementById('gate').hidden",
    )
    .await;
    // A wrong password: said, and the prompt stays.
    let pw = page.find(Locator::Id("password")).await.unwrap();
    pw.send_keys("nope\u{E007}").await.unwrap();
    wait_for(
        &page,
        "wrong password said",
        "return document.getElementById('error').textContent === '! wrong password' && !document.getElementById('gate').hidden",
    )
    .await;
    let pw = page.find(Locator::Id("password")).await.unwrap();
    pw.clear().await.unwrap();
    pw.send_keys("open sesame\u{E007}").await.unwrap();
    wait_for(
        &page,
        "in the room",
        "return document.getElementById('gate').hidden && document.querySelectorAll('#members > li').length === 2",
    )
    .await;
    let me = js(&page, "return document.getElementById('me').textContent").await;
    let me = me.as_str().unwrap().to_string();
    until(&mut student, format!("[{me}] entered room\n").as_bytes());
    // The operator's words from the input box.
    let input = page.find(Locator::Id("input")).await.unwrap();
    input.send_keys("/op chalk\u{E007}").await.unwrap();
    until(
        &mut student,
        format!("[{me}] became an operator\n").as_bytes(),
    );
    wait_for(
        &page,
        "an operator, marked in the list",
        "return document.body.classList.contains('op') && document.querySelector('#members li.you').classList.contains('op')",
    )
    .await;
    let input = page.find(Locator::Id("input")).await.unwrap();
    input
        .send_keys("/topic 第三课：循环\u{E007}")
        .await
        .unwrap();
    until(&mut student, "! topic: 第三课：循环\n".as_bytes());
    wait_for(
        &page,
        "the topic pinned",
        "return !document.getElementById('topic').hidden && document.getElementById('topic').textContent === '第三课：循环'",
    )
    .await;
    // Neither the password nor the operator's words show as sent lines.
    let shown = js(
        &page,
        "return document.getElementById('messages').textContent",
    )
    .await;
    let shown = shown.as_str().unwrap();
    assert!(
        !shown.contains("/op chalk") && !shown.contains("/pass"),
        "{shown}"
    );
    let png = page.screenshot().await.unwrap();
    std::fs::write(std::env::temp_dir().join("lanchat-classroom.png"), png).unwrap();
    // Kick from the member list.
    let kick = page
        .find(Locator::Css(&format!(
            "#members li[data-who='学生@{}'] button[data-act='kick']",
            student.name
        )))
        .await
        .unwrap();
    kick.click().await.unwrap();
    let kicked = format!("[学生@{}] was removed by {me}\n", student.name);
    until(&mut student, kicked.as_bytes());
    assert!(student.closed());
    wait_for(
        &page,
        "the student gone from the list",
        "return document.querySelectorAll('#members > li').length === 1",
    )
    .await;
    srv.wait_stderr(&format!("[学生@{}] removed", student.name));
    // A reload in the same tab: the password is remembered for the
    // session, the topic pinned again after the history.
    page.refresh().await.unwrap();
    wait_for(
        &page,
        "back in without asking",
        "return document.getElementById('state').textContent === 'connected' && document.getElementById('gate').hidden && document.getElementById('topic').textContent === '第三课：循环'",
    )
    .await;
    page.close().await.unwrap();
}
