//! Names, `/who`, `/msg` and history in the room, as SPEC.md words them:
//! raw TCP members (as nc) from 127.0.0.2, .3, … and nc itself with GB2312
//! names; then the hostile cases (a member renaming 10,000 times, flooding
//! `/who`, `/msg` to a member that never reads).

use std::net::SocketAddr;
use std::process::Command;

use crate::room::{server, Conn};
use crate::util::{have, start_server, Proc};
use lanchat::room::server::Config;

fn gb(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

/// Reads lines until one equals `want` (skipping join notices and the
/// like); returns the lines skipped.
fn until(c: &mut Conn, want: &str) -> Vec<String> {
    let mut skipped = Vec::new();
    loop {
        let line = String::from_utf8_lossy(&c.line_bytes()).into_owned();
        if line == want {
            return skipped;
        }
        skipped.push(line);
    }
}

/// A marker through the room from `from` (named `label` there): once `to`
/// has it, everything sent to `to` before it has arrived (the room keeps
/// the order), so "nothing else came" is said without waiting.
fn marker(from: &mut Conn, label: &str, to: &mut Conn, text: &str) -> Vec<String> {
    from.send(format!("{text}\n").as_bytes());
    until(to, &format!("<{label}> {text}\n"))
}

fn three(addr: SocketAddr) -> (Conn, Conn, Conn) {
    let mut a = Conn::open("127.0.0.2", addr);
    let mut b = Conn::open("127.0.0.3", addr);
    let c = Conn::open("127.0.0.4", addr);
    a.line(); // b entered
    a.line(); // c entered
    b.line(); // c entered
    (a, b, c)
}

#[test]
fn nick_who_and_msg_as_spec_words_them() {
    let room = start_server(Config::default());
    let (mut a, mut b, mut c) = three(room.addr);
    let (an, bn, cn) = (a.name.clone(), b.name.clone(), c.name.clone());

    // /nick NAME: everyone sees it, the taker too; lines carry the name.
    a.send(b"/nick alice\n");
    for m in [&mut a, &mut b, &mut c] {
        assert_eq!(m.line(), format!("[{an}] is now alice\n"));
    }
    a.send(b"hi\n");
    assert_eq!(b.line(), format!("<alice@{an}> hi\n"));
    assert_eq!(c.line(), format!("<alice@{an}> hi\n"));

    // Refusals go to the one who asked alone.
    for (nick, why) in [
        ("ALICE", "in use"),
        ("a b", "has a space"),
        ("x@y", "has one of < > [ ] @"),
        ("[x]", "has one of < > [ ] @"),
        (&"n".repeat(33), "too long (max 32 bytes)"),
    ] {
        b.send(format!("/nick {nick}\n").as_bytes());
        assert_eq!(b.line(), format!("! nick {nick} refused: {why}\n"));
    }
    b.send(b"/nick a\x07b\n");
    assert_eq!(
        b.line_bytes(),
        b"! nick a\x07b refused: has a control character\n"
    );
    b.send(b"/nick bob\n");
    assert_eq!(b.line(), format!("[{bn}] is now bob\n"));
    // a saw none of the refusals: the next thing it sees is bob's name.
    assert_eq!(a.line(), format!("[{bn}] is now bob\n"));
    assert_eq!(c.line(), format!("[{bn}] is now bob\n"));

    // /who: to the asker alone, in the order they joined.
    c.send(b"/who\n");
    assert_eq!(c.line(), "! 3 members:\n");
    assert_eq!(c.line(), format!("!   alice@{an}\n"));
    assert_eq!(c.line(), format!("!   bob@{bn}\n"));
    assert_eq!(c.line(), format!("!   {cn}\n"));

    // /msg NAME text: one member alone, names without ASCII case.
    a.send(b"/msg BOB psst\n");
    assert_eq!(b.line(), format!("*alice@{an}* psst\n"));
    c.send(b"/msg bob from c\n");
    assert_eq!(b.line(), format!("*{cn}* from c\n"));
    let bob = format!("bob@{bn}");
    assert!(
        marker(&mut b, &bob, &mut c, "m1").is_empty(),
        "c got nothing private"
    );
    assert!(
        until(&mut a, &format!("<{bob}> m1\n")).is_empty(),
        "a got nothing else"
    );
    // A member without a name is reached by its address.
    a.send(format!("/msg {cn} to you\n").as_bytes());
    assert_eq!(c.line(), format!("*alice@{an}* to you\n"));
    a.send(b"/msg carol anyone\n");
    assert_eq!(a.line(), "! no member carol\n");
    a.send(b"/msg bob\n");
    assert_eq!(a.line(), "! usage: /msg NAME text\n");

    // Every other line, / or not, is relayed as it is.
    a.send(b"/me waves\n/nickname x\n");
    assert_eq!(c.line(), format!("<alice@{an}> /me waves\n"));
    assert_eq!(c.line(), format!("<alice@{an}> /nickname x\n"));

    // /nick alone: back to ip:port; the name is free again.
    a.send(b"/nick\n");
    assert_eq!(c.line(), format!("[alice@{an}] is now {an}\n"));
    c.send(b"/nick Alice\n");
    assert_eq!(c.line(), format!("[{cn}] is now Alice\n"));

    // Leaving says the name.
    drop(b);
    assert_eq!(a.line(), format!("[alice@{an}] is now {an}\n"));
    assert_eq!(a.line(), format!("[{cn}] is now Alice\n"));
    assert_eq!(a.line(), format!("[bob@{bn}] left room\n"));
}

#[test]
fn nc_takes_a_gb2312_name_and_others_see_its_bytes() {
    if !have("nc") {
        return;
    }
    let (mut srv, addr) = server(&[]);
    let mut watcher = Conn::open("127.0.0.2", addr);
    srv.wait_stderr("(1 in room)");
    let mut nc = Proc::spawn_cmd(
        "nc",
        Command::new("nc").args(["127.0.0.1", &addr.port().to_string()]),
    );
    let entered = watcher.line();
    let nc_name = entered
        .trim_start_matches('[')
        .split(']')
        .next()
        .unwrap()
        .to_string();
    let mut cmd = b"/nick ".to_vec();
    cmd.extend(gb("老王"));
    cmd.extend(b"\n\xc4\xe3\xba\xc3\n");
    nc.write(&cmd);
    let mut want = format!("[{nc_name}] is now ").into_bytes();
    want.extend(gb("老王"));
    want.push(b'\n');
    assert_eq!(watcher.line_bytes(), want);
    let mut want = b"<".to_vec();
    want.extend(gb("老王"));
    want.extend(format!("@{nc_name}> ").as_bytes());
    want.extend(gb("你好"));
    want.push(b'\n');
    assert_eq!(watcher.line_bytes(), want);
    // Reached by its GB2312 name; nc prints the private line.
    let mut msg = b"/msg ".to_vec();
    msg.extend(gb("老王"));
    msg.extend(b" hello\n");
    watcher.send(&msg);
    let mut renamed = format!("[{nc_name}] is now ").into_bytes();
    renamed.extend(gb("老王"));
    assert_eq!(nc.line_bytes(), renamed, "nc sees its own name taken");
    assert_eq!(
        nc.line_bytes(),
        format!("*{}* hello", watcher.name).into_bytes()
    );
    srv.wait_stderr("is now");
}

#[test]
fn who_lists_200_of_250_members_and_says_how_many_more() {
    let room = start_server(Config::default());
    let mut asker = Conn::open("127.0.0.2", room.addr);
    let members: Vec<Conn> = (0..249)
        .map(|i| Conn::open(&format!("127.0.5.{}", 1 + i / 50), room.addr))
        .collect();
    for _ in 0..249 {
        assert!(asker.line().ends_with("entered room\n"));
    }
    asker.send(b"/who\n");
    assert_eq!(asker.line(), "! 250 members:\n");
    assert_eq!(asker.line(), format!("!   {}\n", asker.name));
    for m in &members[..199] {
        assert_eq!(asker.line(), format!("!   {}\n", m.name));
    }
    assert_eq!(asker.line(), "!   ... and 50 more\n");
}

#[test]
fn history_is_off_by_default_and_with_history_3_a_joiner_gets_the_last_3_and_no_private_line() {
    for (history, want) in [(None, 0), (Some(3), 3)] {
        let room = start_server(Config {
            history: history.unwrap_or(0),
            ..Config::default()
        });
        let mut a = Conn::open("127.0.0.2", room.addr);
        let mut b = Conn::open("127.0.0.3", room.addr);
        a.line();
        for i in 1..=5 {
            a.send(format!("line {i}\n").as_bytes());
        }
        a.send(format!("/msg {} private\n", b.name).as_bytes());
        for i in 1..=5 {
            assert_eq!(b.line(), format!("<{}> line {i}\n", a.name));
        }
        assert_eq!(b.line(), format!("*{}* private\n", a.name));
        let mut late = Conn::open("127.0.0.4", room.addr);
        a.send(b"live\n");
        let mut got = Vec::new();
        loop {
            let l = late.line();
            if l.ends_with("> live\n") {
                break;
            }
            got.push(l);
        }
        if want == 0 {
            assert!(got.is_empty(), "history is off: {got:?}");
        } else {
            let an = &a.name;
            assert_eq!(
                got,
                vec![
                    "! last 3 lines:\n".to_string(),
                    format!("<{an}> line 3\n"),
                    format!("<{an}> line 4\n"),
                    format!("<{an}> line 5\n"),
                    "! end of history\n".to_string(),
                ]
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn a_restarted_room_remembers_its_history_file_complete_after_sigterm() {
    let dir = std::env::temp_dir().join(format!("lanchat-histfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("chat.log");
    let _ = std::fs::remove_file(&file);
    let path = file.to_str().unwrap();
    let (mut srv, addr) = server(&["--history", "3", "--history-file", path]);
    let mut a = Conn::open("127.0.0.2", addr);
    let mut b = Conn::open("127.0.0.3", addr);
    a.line();
    a.send(b"/nick ann\n");
    a.line();
    until(&mut b, &format!("[{}] is now ann\n", a.name));
    let mut lines = b"\xc4\xe3\xba\xc3\n".to_vec();
    for i in 2..=5 {
        lines.extend(format!("line {i}\n").as_bytes());
    }
    a.send(&lines);
    until(&mut b, &format!("<ann@{}> line 5\n", a.name));
    srv.signal(libc::SIGTERM);
    srv.expect_exit(130);
    // The chat log: every relayed line, whole, with its time (the GBK bytes as they were).
    let log = std::fs::read(&file).unwrap();
    let lines: Vec<&[u8]> = log
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 5, "{}", String::from_utf8_lossy(&log));
    let prefix = format!(" <ann@{}> ", a.name);
    assert!(lines[0].ends_with(&[prefix.as_bytes(), b"\xc4\xe3\xba\xc3"].concat()));
    for l in &lines {
        let ts = std::str::from_utf8(&l[..20]).unwrap();
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    }
    // Restarted on the same file: a joiner gets the last three.
    let (_again, addr) = server(&["--history", "3", "--history-file", path]);
    let mut late = Conn::open("127.0.0.4", addr);
    assert_eq!(late.line(), "! last 3 lines:\n");
    for i in 3..=5 {
        assert_eq!(late.line(), format!("<ann@{}> line {i}\n", a.name));
    }
    assert_eq!(late.line(), "! end of history\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Reads everything `c` is sent, on a thread, until the connection ends
/// (a member that keeps up, whatever the test does meanwhile).
fn drain(c: &Conn) -> std::thread::JoinHandle<()> {
    let mut r = c.writer.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        while std::io::Read::read(&mut r, &mut buf).is_ok_and(|n| n > 0) {}
    })
}

#[test]
fn renaming_10000_times_flooding_who_and_msg_to_a_member_that_never_reads_stall_nobody() {
    let room = start_server(Config {
        max_rate: Some(1_000_000),
        max_queue: 1024 * 1024,
        ..Config::default()
    });
    let addr = room.addr;
    let mut reader = Conn::open("127.0.0.2", addr);
    let mut talker = Conn::open("127.0.0.3", addr);
    let sleeper = Conn::open("127.0.0.4", addr); // never reads
    let mut renamer = Conn::open("127.0.0.5", addr);
    let who_flooder = Conn::open("127.0.0.6", addr); // asks, never reads
    let messenger = Conn::open("127.0.0.7", addr);
    for _ in 0..5 {
        reader.line();
    }
    // Everyone else keeps up: only the two that never read fall behind.
    // (A member that stopped reading the 10,000 rename notices would be
    // near --max-queue itself, and be dropped too, by the test's fault.)
    let readers: Vec<_> = [&talker, &renamer, &messenger].map(drain).into();
    // The renamer and the who-flooder go at it; the messenger floods the
    // sleeper with /msg: 15 MB, far more than the kernel's buffers take,
    // so what the sleeper does not read is held by the room.
    let renames: String = (0..10_000).map(|i| format!("/nick r{i}\n")).collect();
    renamer.send(renames.as_bytes());
    let mut who = who_flooder.writer.try_clone().unwrap();
    let flood_who = std::thread::spawn(move || {
        let block = "/who\n".repeat(1000);
        for _ in 0..50 {
            if std::io::Write::write_all(&mut who, block.as_bytes()).is_err() {
                break; // dropped as too slow
            }
        }
    });
    let mut msg = messenger.writer.try_clone().unwrap();
    let to = sleeper.name.clone();
    let flood_msg = std::thread::spawn(move || {
        let line = format!("/msg {to} {}\n", "z".repeat(1000));
        let block = line.repeat(100);
        for _ in 0..150 {
            if std::io::Write::write_all(&mut msg, block.as_bytes()).is_err() {
                break;
            }
        }
    });
    // Meanwhile the room goes on: the reader gets the talker's line.
    talker.send(b"still talking\n");
    let seen = until(&mut reader, &format!("<{}> still talking\n", talker.name));
    assert!(
        seen.iter()
            .all(|l| l.contains(" is now r") || l.contains("left room")),
        "{seen:?}"
    );
    flood_who.join().unwrap();
    flood_msg.join().unwrap();
    // Both who never read are dropped as too slow; the renamer ends as r9999.
    let mut left = Vec::new();
    while left.len() < 2 {
        let l = reader.line();
        if l.ends_with("left room (too slow)\n") {
            left.push(l);
        }
    }
    left.sort();
    let mut want = vec![
        format!("[{}] left room (too slow)\n", sleeper.name),
        format!("[{}] left room (too slow)\n", who_flooder.name),
    ];
    want.sort();
    assert_eq!(left, want);
    renamer.send(b"done\n");
    until(&mut reader, &format!("<r9999@{}> done\n", renamer.name));
    drop(sleeper);
    let stats = room.stop();
    assert_eq!(stats.too_slow, 2, "{stats:?}");
    drop((talker, renamer, messenger));
    for r in readers {
        r.join().unwrap();
    }
}
