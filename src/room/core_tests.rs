//! The room's rules, on made-up members and made-up times: no socket.

use std::time::Duration;

use super::*;
use crate::room::flow::STALL;
use crate::room::testkit::{addr, drain, join, room};

/// Everything member `key` would be written now, as text, taken.
fn read(room: &mut Room<()>, key: usize) -> String {
    String::from_utf8(drain(room, key)).unwrap()
}

#[test]
fn a_line_reaches_everyone_else_once_and_joins_and_leaves_are_told() {
    let (mut r, t) = room(Config::default());
    let a = join(&mut r, 2, t);
    let b = join(&mut r, 3, t);
    let c = join(&mut r, 4, t);
    assert_eq!(
        read(&mut r, a),
        "[10.0.0.3:1000] entered room\n[10.0.0.4:1000] entered room\n"
    );
    assert_eq!(read(&mut r, b), "[10.0.0.4:1000] entered room\n");
    assert_eq!(read(&mut r, c), "");
    assert_eq!(r.take_bytes(a, b"hi\npart", t), Took::All);
    assert_eq!(r.take_bytes(a, b"ial\n", t), Took::All);
    let want = "<10.0.0.2:1000> hi\n<10.0.0.2:1000> partial\n";
    assert_eq!(read(&mut r, b), want);
    assert_eq!(read(&mut r, c), want);
    assert_eq!(read(&mut r, a), "", "not echoed");
    assert!(
        r.take_writes().contains(&b),
        "the room asked for b to be written"
    );
    assert_eq!(r.stats().lines, 2);
    // A last line without a newline counts when the connection closes.
    r.take_bytes(c, b"bye", t);
    r.closed(c, t);
    assert_eq!(r.take_removals(), vec![(c, Leave::Closed)]);
    r.remove(c, Leave::Closed, t);
    assert_eq!(
        read(&mut r, a),
        "<10.0.0.4:1000> bye\n[10.0.0.4:1000] left room\n"
    );
    assert_eq!(r.len(), 2);
    let said = r.take_said();
    assert!(
        said[0].starts_with("[10.0.0.2:1000] entered room (1 in room)"),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|l| l == "[10.0.0.4:1000] left room (2 in room)"),
        "{said:?}"
    );
}

#[test]
fn past_the_rate_a_member_is_throttled_told_once_and_loses_nothing() {
    let (mut r, t) = room(Config {
        max_rate: Some(2),
        ..Config::default()
    });
    let a = join(&mut r, 2, t);
    let b = join(&mut r, 3, t);
    read(&mut r, a);
    assert_eq!(r.take_bytes(a, b"1\n2\n3\n4\n", t), Took::Throttled);
    assert!(!r.readable(a), "not read until its allowance refills");
    assert_eq!(read(&mut r, b), "<10.0.0.2:1000> 1\n<10.0.0.2:1000> 2\n");
    assert_eq!(read(&mut r, a), "! slow down (max 2 lines/s)\n");
    assert!(r.tick(t + Duration::from_millis(100)).is_empty(), "not yet");
    let later = t + Duration::from_secs(1);
    assert_eq!(r.tick(later), vec![a]);
    assert_eq!(r.take_held(a, later), Took::All);
    assert_eq!(read(&mut r, b), "<10.0.0.2:1000> 3\n<10.0.0.2:1000> 4\n");
    // Throttled again later: not told again.
    assert_eq!(r.take_bytes(a, b"5\n6\n7\n", later), Took::Throttled);
    assert_eq!(read(&mut r, a), "");
    assert_eq!(r.stats().throttled, 2);
}

#[test]
fn a_pages_lines_are_taken_whole_and_held_when_throttled() {
    let (mut r, t) = room(Config {
        max_rate: Some(1),
        ..Config::default()
    });
    let a = join(&mut r, 2, t);
    let b = join(&mut r, 3, t);
    let lines = vec![b"one".to_vec(), b"two".to_vec()];
    assert_eq!(r.take_lines(a, lines, t), Took::Throttled);
    assert_eq!(read(&mut r, b), "<10.0.0.2:1000> one\n");
    let later = t + Duration::from_secs(1);
    assert_eq!(r.tick(later), vec![a]);
    assert_eq!(r.take_held(a, later), Took::All);
    assert_eq!(read(&mut r, b), "<10.0.0.2:1000> two\n");
}

#[test]
fn a_member_that_does_not_read_holds_the_room_then_is_dropped() {
    let (mut r, t) = room(Config {
        max_queue: 4000,
        max_rate: None,
        ..Config::default()
    });
    let a = join(&mut r, 2, t);
    let b = join(&mut r, 3, t); // never reads
    read(&mut r, a);
    let line = [b'x'; 100];
    let mut took = Took::All;
    let mut sent = 0;
    while took == Took::All && sent < 100 {
        let mut l = line.to_vec();
        l.push(b'\n');
        took = r.take_bytes(a, &l, t);
        r.scan(t);
        sent += 1;
    }
    assert_eq!(took, Took::Paused, "behind: the room stops reading");
    assert!(r.paused());
    assert!(r.take_removals().is_empty(), "not yet: behind, not stuck");
    // A second later b is stuck: the room goes on without it, and drops
    // it once it holds more than --max-queue.
    let later = t + STALL;
    r.tick(later);
    assert!(!r.paused());
    assert_eq!(r.take_held(a, later), Took::All);
    for _ in 0..40 {
        r.take_bytes(a, &[&line[..], b"\n"].concat(), later);
    }
    r.scan(later);
    assert_eq!(r.take_removals(), vec![(b, Leave::TooSlow)]);
    r.remove(b, Leave::TooSlow, later);
    assert!(read(&mut r, a).ends_with("[10.0.0.3:1000] left room (too slow)\n"));
    assert_eq!(r.stats().too_slow, 1);
}

#[test]
fn admission_full_room_and_too_many_from_one_address() {
    let (mut r, t) = room(Config {
        max_clients: 3,
        max_per_host: 2,
        ..Config::default()
    });
    join(&mut r, 2, t);
    join(&mut r, 2, t);
    let ip = addr(2, 0).ip();
    let refused = r.admit(ip, t).unwrap_err();
    assert_eq!(
        refused.notice(),
        "! too many connections from 10.0.0.2 (max 2)\n"
    );
    assert_eq!(r.admit(ip, t + Duration::from_secs(1)), Err(refused));
    join(&mut r, 3, t);
    assert_eq!(r.admit(addr(4, 0).ip(), t), Err(Refusal::Full));
    assert_eq!(Refusal::Full.notice(), "! room full\n");
    let said: Vec<String> = r
        .take_said()
        .into_iter()
        .filter(|l| l.contains("turned away"))
        .collect();
    assert_eq!(said.len(), 2, "one address said once a minute: {said:?}");
    assert_eq!(
        (r.stats().too_many_from_host, r.stats().turned_away),
        (2, 1)
    );
}

#[test]
fn nick_who_and_msg() {
    let (mut r, t) = room(Config::default());
    let a = join(&mut r, 2, t);
    let b = join(&mut r, 3, t);
    read(&mut r, a);
    r.take_bytes(a, "/nick 老王\n".as_bytes(), t);
    let renamed = "[10.0.0.2:1000] is now 老王\n";
    assert_eq!(read(&mut r, b), renamed);
    assert_eq!(read(&mut r, a), renamed, "the member itself is told too");
    r.take_bytes(b, "/nick 老王\n".as_bytes(), t);
    assert_eq!(read(&mut r, b), "! nick 老王 refused: in use\n");
    assert_eq!(read(&mut r, a), "", "a refusal is for one member alone");
    r.take_bytes(b, b"/who\n", t);
    assert_eq!(
        read(&mut r, b),
        "! 2 members:\n!   老王@10.0.0.2:1000\n!   10.0.0.3:1000\n"
    );
    r.take_bytes(b, "/msg 老王 psst\n/msg nobody x\n".as_bytes(), t);
    assert_eq!(read(&mut r, a), "*10.0.0.3:1000* psst\n");
    assert_eq!(read(&mut r, b), "! no member nobody\n");
    r.take_bytes(a, b"hello\n/msg\n", t);
    assert_eq!(read(&mut r, b), "<老王@10.0.0.2:1000> hello\n");
    assert_eq!(read(&mut r, a), "! usage: /msg NAME text\n");
    assert_eq!(r.stats().lines, 1, "commands are not relayed");
}

#[test]
fn a_member_who_joins_is_told_the_history_between_its_markers() {
    let (mut r, t) = room(Config {
        history: 2,
        ..Config::default()
    });
    let a = join(&mut r, 2, t);
    r.take_bytes(a, b"one\ntwo\nthree\n/msg x private\n", t);
    let late = join(&mut r, 3, t);
    assert_eq!(
        read(&mut r, late),
        "! last 2 lines:\n<10.0.0.2:1000> two\n<10.0.0.2:1000> three\n! end of history\n"
    );
}

#[test]
fn an_over_long_line_is_dropped_and_its_sender_told() {
    let (mut r, t) = room(Config {
        max_line: 10,
        ..Config::default()
    });
    let a = join(&mut r, 2, t);
    let b = join(&mut r, 3, t);
    read(&mut r, a);
    r.take_bytes(a, b"0123456789abc\nok\n", t);
    assert_eq!(read(&mut r, b), "<10.0.0.2:1000> ok\n");
    assert_eq!(read(&mut r, a), "! line too long (max 10 bytes), dropped\n");
    assert_eq!(r.stats().too_long, 1);
}

#[test]
fn a_page_is_told_hello_first_and_its_entries_have_their_parts() {
    let (mut r, t) = room(Config::default());
    let a = join(&mut r, 2, t);
    let page = r.join(
        (),
        addr(3, 1),
        Some(Entry::page("{\"kind\":\"you\"}".into())),
        t,
    );
    r.take_bytes(a, b"hi\n", t);
    let (_, outbox, feed) = r.write_parts(page).unwrap();
    let mut items = Vec::new();
    while let Some((seq, item)) = outbox.next_item(feed) {
        items.push((seq.is_some(), item.view().clone_text()));
        let n = item.wire().len();
        outbox.advance(feed, n);
    }
    assert_eq!(
        items,
        vec![
            (false, "page {\"kind\":\"you\"}".to_string()),
            (true, "said 10.0.0.2:1000 hi".to_string())
        ]
    );
    assert!(r.take_said()[1].contains("from the web page"));
}

impl super::super::entry::View<'_> {
    fn clone_text(&self) -> String {
        use super::super::entry::View;
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match self {
            View::Said { from, text } => format!("said {} {}", s(from), s(text)),
            View::Page(json) => format!("page {json}"),
            other => format!("{other:?}"),
        }
    }
}

#[test]
fn stderr_shows_a_windows_members_name_decoded_never_raw_bytes() {
    let (mut r, t) = room(Config::default());
    let a = join(&mut r, 2, t);
    r.take_said();
    // 老王 typed on a Chinese Windows: GBK bytes.
    let mut nick = b"/nick ".to_vec();
    nick.extend(encoding_rs::GBK.encode("老王").0.iter());
    nick.push(b'\n');
    r.take_bytes(a, &nick, t);
    let said = r.take_said();
    assert_eq!(said, vec!["[10.0.0.2:1000] is now 老王".to_string()]);
    r.remove(a, Leave::Closed, t);
    let said = r.take_said();
    assert!(
        said[0].starts_with("[老王@10.0.0.2:1000] left room"),
        "{said:?}"
    );
    // UTF-8 stays UTF-8; control bytes are made safe.
    let b = join(&mut r, 3, t);
    r.take_said();
    r.take_bytes(b, "/nick 小明\n".as_bytes(), t);
    assert_eq!(
        r.take_said(),
        vec!["[10.0.0.3:1000] is now 小明".to_string()]
    );
}
