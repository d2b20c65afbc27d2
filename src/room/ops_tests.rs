//! The gate, the operators and the members' encodings, on made-up members
//! and made-up times: no socket.

use std::io::IoSlice;
use std::time::{Duration, Instant};

use super::super::core::{Config, Leave, Refusal, Room};
use super::super::testkit::{addr, drain, join, room};

const GBK_HELLO: &[u8] = &[0xC4, 0xE3, 0xBA, 0xC3]; // 你好
const GBK_LAOWANG: &[u8] = &[0xC0, 0xCF, 0xCD, 0xF5]; // 老王

fn classroom() -> (Room<()>, Instant) {
    room(Config {
        password: Some(b"lesson".to_vec().into()),
        op_password: Some(b"teacher".to_vec().into()),
        history: 10,
        ..Config::default()
    })
}

/// Joins and gives the password.
fn enter(room: &mut Room<()>, host: u8, now: Instant) -> usize {
    let k = join(room, host, now);
    say(room, k, "/pass lesson", now);
    k
}

fn say(room: &mut Room<()>, key: usize, line: &str, now: Instant) {
    say_bytes(room, key, line.as_bytes(), now);
}

fn say_bytes(room: &mut Room<()>, key: usize, line: &[u8], now: Instant) {
    let mut data = line.to_vec();
    data.push(b'\n');
    room.take_bytes(key, &data, now);
}

fn bytes(room: &mut Room<()>, key: usize) -> Vec<u8> {
    drain(room, key)
}

fn read(room: &mut Room<()>, key: usize) -> String {
    String::from_utf8(bytes(room, key)).unwrap()
}

#[test]
fn a_member_without_the_password_is_not_in_the_room() {
    let (mut r, t) = classroom();
    let a = enter(&mut r, 2, t);
    assert_eq!(
        read(&mut r, a),
        "! password required: /pass PASSWORD\n! password accepted\n"
    );
    say(&mut r, a, "before", t);
    let b = join(&mut r, 3, t);
    assert_eq!(read(&mut r, a), "", "nobody hears it join");
    assert_eq!(read(&mut r, b), "! password required: /pass PASSWORD\n");
    say(&mut r, a, "while b waits", t);
    say(&mut r, b, "let me in", t);
    say(&mut r, b, "/who", t);
    say(&mut r, b, "/nick sneaky", t);
    assert_eq!(read(&mut r, a), "", "what b sends is dropped");
    assert_eq!(
        read(&mut r, b),
        "! password required: /pass PASSWORD\n".repeat(3),
        "b gets nothing of the room"
    );
    assert_eq!(r.present(), 1);
    assert_eq!(r.len(), 2);
    say(&mut r, b, "/pass", t);
    assert_eq!(
        read(&mut r, b),
        "! password required: /pass PASSWORD\n",
        "how, not a guess"
    );
    say(&mut r, b, "/pass nope", t);
    assert_eq!(read(&mut r, b), "! wrong password\n");
    say(&mut r, b, "/pass lesson", t);
    assert_eq!(read(&mut r, a), "[10.0.0.3:1000] entered room\n");
    assert_eq!(
        read(&mut r, b),
        "! password accepted\n! last 2 lines:\n<10.0.0.2:1000> before\n<10.0.0.2:1000> while b waits\n! end of history\n",
        "the history, and none of 'let me in'"
    );
    say(&mut r, a, "hi b", t);
    assert_eq!(read(&mut r, b), "<10.0.0.2:1000> hi b\n");
    // A waiting member holds no place in the feed: it is trimmed.
    let _c = join(&mut r, 4, t);
    for i in 0..100 {
        say(&mut r, a, &format!("line {i}"), t);
    }
    read(&mut r, b);
    r.scan(t + Duration::from_millis(10));
    assert!(r.feed.is_empty(), "the waiting member pins nothing");
    // One that leaves without the password is not announced.
    r.remove(_c, Leave::Closed, t);
    assert_eq!(read(&mut r, a), "");
    assert_eq!(r.len(), 2);
}

#[test]
fn five_wrong_passwords_in_a_minute_close_the_address_for_a_minute() {
    let (mut r, t) = classroom();
    let a = enter(&mut r, 2, t);
    let g = join(&mut r, 9, t);
    for i in 0..4 {
        say(&mut r, g, &format!("/pass guess{i}"), t);
    }
    assert_eq!(read(&mut r, g).matches("! wrong password").count(), 4);
    // Another address joins normally meanwhile.
    let b = enter(&mut r, 3, t);
    read(&mut r, a);
    read(&mut r, b);
    say(&mut r, g, "/pass guess5", t);
    assert_eq!(
        r.take_removals(),
        vec![(g, Leave::Removed(b"! too many wrong passwords\n".to_vec()))]
    );
    r.remove(g, Leave::Closed, t);
    assert_eq!(r.admit(addr(9, 1).ip(), t), Err(Refusal::Guessing));
    assert_eq!(
        Refusal::Guessing.notice(),
        "! too many wrong passwords\n",
        "told to each try"
    );
    assert!(r.admit(addr(4, 1).ip(), t).is_ok());
    assert!(r
        .admit(addr(9, 1).ip(), t + Duration::from_secs(61))
        .is_ok());
    say(&mut r, a, "hello", t);
    assert_eq!(read(&mut r, b), "<10.0.0.2:1000> hello\n");
    // /op counts toward the same limit, and is refused while locked.
    let (mut r, t) = classroom();
    let a = enter(&mut r, 2, t);
    read(&mut r, a);
    for _ in 0..4 {
        say(&mut r, a, "/op x", t);
    }
    assert_eq!(read(&mut r, a), "! wrong operator password\n".repeat(4));
    say(&mut r, a, "/op x", t);
    say(&mut r, a, "/op teacher", t);
    assert_eq!(read(&mut r, a), "! too many wrong passwords\n".repeat(2));
    say(&mut r, a, "/op teacher", t + Duration::from_secs(61));
    assert_eq!(
        read(&mut r, a),
        "! you are an operator\n[10.0.0.2:1000] became an operator\n"
    );
}

#[test]
fn rooms_without_a_password_or_operators_say_so() {
    let (mut r, t) = room(Config::default());
    let a = join(&mut r, 2, t);
    say(&mut r, a, "/pass x", t);
    say(&mut r, a, "/op x", t);
    say(&mut r, a, "/kick bob", t);
    say(&mut r, a, "/topic", t);
    assert_eq!(
        read(&mut r, a),
        "! this room has no password\n! this room has no operators\n! only operators can /kick\n! no topic\n"
    );
}

#[test]
fn an_operator_kicks_mutes_and_sets_the_topic_and_everyone_sees_it() {
    let (mut r, t) = classroom();
    let op = enter(&mut r, 2, t);
    let bob = enter(&mut r, 3, t);
    let carol = enter(&mut r, 4, t);
    say(&mut r, bob, "/nick bob", t);
    say(&mut r, op, "/nick teacher", t);
    say(&mut r, bob, "/kick teacher", t);
    assert!(read(&mut r, bob).ends_with("! only operators can /kick\n"));
    say(&mut r, op, "/op teacher", t);
    for k in [op, bob, carol] {
        read(&mut r, k);
    }
    say(&mut r, op, "/op teacher", t);
    assert_eq!(read(&mut r, op), "! you are an operator\n");
    say(&mut r, carol, "/who", t);
    assert_eq!(
        read(&mut r, carol),
        "! 3 members:\n!   @teacher@10.0.0.2:1000\n!   bob@10.0.0.3:1000\n!   10.0.0.4:1000\n"
    );
    // Mute: bob's lines reach nobody and are not kept; he is told once.
    say(&mut r, op, "/mute bob 5", t);
    let muted = "[bob@10.0.0.3:1000] was muted by teacher@10.0.0.2:1000 for 5 minutes\n";
    assert_eq!(read(&mut r, carol), muted);
    assert_eq!(read(&mut r, bob), muted);
    say(&mut r, bob, "spam", t);
    say(&mut r, bob, "spam", t);
    say(&mut r, bob, "/msg carol psst", t);
    assert_eq!(read(&mut r, carol), "");
    assert_eq!(read(&mut r, bob), "! you are muted\n");
    assert!(r.history.lines().all(|l| !l.wire().ends_with(b"spam\n")));
    // The time is up: he speaks again.
    say(&mut r, bob, "back", t + Duration::from_secs(301));
    assert_eq!(read(&mut r, carol), "<bob@10.0.0.3:1000> back\n");
    say(&mut r, op, "/mute 10.0.0.3", t);
    say(&mut r, op, "/unmute bob", t);
    read(&mut r, carol);
    say(&mut r, bob, "free", t);
    assert_eq!(read(&mut r, carol), "<bob@10.0.0.3:1000> free\n");
    // Topic: to everyone now, to a joiner after the history.
    say(&mut r, op, "/topic Lab 3: loops", t);
    assert_eq!(read(&mut r, carol), "! topic: Lab 3: loops\n");
    say(&mut r, bob, "/topic", t);
    assert!(read(&mut r, bob).ends_with("! topic: Lab 3: loops\n"));
    say(&mut r, bob, "/topic mine", t);
    assert!(read(&mut r, bob).ends_with("! only operators can /topic\n"));
    let dave = enter(&mut r, 5, t);
    assert!(read(&mut r, dave).ends_with("! end of history\n! topic: Lab 3: loops\n"));
    read(&mut r, carol);
    read(&mut r, op);
    // Kick: everyone sees who and why; he goes, told the same.
    say(&mut r, op, "/kick BOB too loud", t);
    let kicked = b"[bob@10.0.0.3:1000] was removed by teacher@10.0.0.2:1000: too loud\n";
    assert_eq!(read(&mut r, carol).as_bytes(), kicked);
    assert_eq!(r.take_removals(), vec![(bob, Leave::Removed(Vec::new()))]);
    // He reads it in the feed, written out before he is closed.
    let (_, outbox, feed) = r.last_parts(bob).unwrap();
    let mut iov = [IoSlice::new(&[]); 4];
    let n = outbox.slices(feed, &mut iov);
    let last: Vec<u8> = iov[..n].iter().flat_map(|s| s.iter().copied()).collect();
    assert!(last.ends_with(kicked), "{}", String::from_utf8_lossy(&last));
    r.remove(bob, Leave::Removed(Vec::new()), t);
    assert_eq!(read(&mut r, carol), "", "no second 'left room'");
    // Nobody, or itself.
    read(&mut r, op);
    say(&mut r, op, "/kick nobody", t);
    say(&mut r, op, "/kick teacher", t);
    say(&mut r, op, "/kick 10.0.0.2", t);
    assert_eq!(
        read(&mut r, op),
        "! no member nobody\n! not on yourself\n! not on yourself\n"
    );
}

#[test]
fn bans_remove_members_refuse_connections_and_are_listed() {
    let (mut r, t) = classroom();
    let op = enter(&mut r, 2, t);
    say(&mut r, op, "/op teacher", t);
    let bad = enter(&mut r, 7, t);
    let waiting = join(&mut r, 7, t);
    let carol = enter(&mut r, 4, t);
    read(&mut r, op);
    read(&mut r, carol);
    say(&mut r, carol, "/ban 10.0.0.7", t);
    assert_eq!(read(&mut r, carol), "! only operators can /ban\n");
    say(&mut r, op, "/ban 10.0.0.0/8", t);
    say(&mut r, op, "/ban 10.0.0.0/24", t);
    say(&mut r, op, "/ban x.y", t);
    assert_eq!(
        read(&mut r, op),
        "! 10.0.0.0/8 is wider than /16, refused\n! not on yourself\n! x.y is not an address or a network\n"
    );
    say(&mut r, op, "/ban 10.0.0.7 30", t);
    let seen = read(&mut r, carol);
    assert_eq!(
        seen,
        "[10.0.0.7/32] was banned by 10.0.0.2:1000 for 30 minutes\n[10.0.0.7:1000] was removed by 10.0.0.2:1000: banned\n"
    );
    let mut gone = r.take_removals();
    gone.sort_by_key(|(k, _)| *k);
    assert_eq!(
        gone,
        vec![
            (bad, Leave::Removed(b"! banned\n".to_vec())),
            (waiting, Leave::Removed(b"! banned\n".to_vec()))
        ]
    );
    assert_eq!(r.admit(addr(7, 1).ip(), t), Err(Refusal::Banned));
    assert_eq!(
        r.admit("::ffff:10.0.0.7".parse().unwrap(), t),
        Err(Refusal::Banned)
    );
    read(&mut r, op);
    say(&mut r, op, "/bans", t);
    assert_eq!(
        read(&mut r, op),
        "! 1 bans:\n! ban 10.0.0.7/32 for 30 more minutes, by 10.0.0.2:1000\n"
    );
    say(&mut r, op, "/unban 10.0.0.7", t);
    say(&mut r, op, "/unban 10.0.0.7", t);
    assert_eq!(
        read(&mut r, op),
        "[10.0.0.7/32] was unbanned by 10.0.0.2:1000\n! no ban on 10.0.0.7/32\n"
    );
    assert!(r.admit(addr(7, 1).ip(), t).is_ok());
    say(&mut r, op, "/bans", t);
    assert_eq!(read(&mut r, op), "! no bans\n");
    // A timed ban ends by itself.
    say(&mut r, op, "/ban 10.0.0.8 5", t);
    assert_eq!(
        r.admit(addr(8, 1).ip(), t + Duration::from_secs(299)),
        Err(Refusal::Banned)
    );
    assert!(r
        .admit(addr(8, 1).ip(), t + Duration::from_secs(301))
        .is_ok());
}

#[test]
fn each_member_reads_the_others_in_its_own_encoding() {
    let (mut r, t) = room(Config::default());
    let gbk = join(&mut r, 2, t);
    let utf8 = join(&mut r, 3, t);
    let later = join(&mut r, 4, t);
    read(&mut r, gbk);
    read(&mut r, utf8);
    read(&mut r, later);
    // Until a member's encoding is known, it gets bytes as they were sent.
    say_bytes(&mut r, gbk, GBK_HELLO, t);
    assert_eq!(
        bytes(&mut r, utf8),
        [b"<10.0.0.2:1000> ", GBK_HELLO, b"\n"].concat()
    );
    bytes(&mut r, later);
    say(&mut r, utf8, "你好", t);
    assert_eq!(
        bytes(&mut r, gbk),
        [b"<10.0.0.3:1000> ", GBK_HELLO, b"\n"].concat()
    );
    assert_eq!(read(&mut r, later), "<10.0.0.3:1000> 你好\n");
    // Both known now: each reads the other in its own.
    say_bytes(&mut r, gbk, &[b"/nick ", GBK_LAOWANG].concat(), t);
    assert_eq!(read(&mut r, utf8), "[10.0.0.2:1000] is now 老王\n");
    bytes(&mut r, gbk);
    say(&mut r, utf8, "/nick 老王", t);
    assert_eq!(
        read(&mut r, utf8),
        "! nick 老王 refused: in use\n",
        "one name in GBK and UTF-8"
    );
    say(&mut r, utf8, "/msg 老王 悄悄话", t);
    let mut want = b"*10.0.0.3:1000* ".to_vec();
    want.extend(encoding_rs::GBK.encode("悄悄话").0.iter());
    want.push(b'\n');
    assert_eq!(bytes(&mut r, gbk), want);
    say_bytes(
        &mut r,
        gbk,
        &[b"/msg 10.0.0.3:1000 ", GBK_HELLO].concat(),
        t,
    );
    assert_eq!(read(&mut r, utf8), "*老王@10.0.0.2:1000* 你好\n");
    // Invalid bytes in a known encoding pass unchanged.
    say_bytes(&mut r, utf8, b"bad \xff\xfe bytes \xe4\xbd", t);
    assert_eq!(
        bytes(&mut r, gbk),
        b"<10.0.0.3:1000> bad \xff\xfe bytes \xe4\xbd\n"
    );
    // A character GBK cannot write arrives as \u{…}.
    say(&mut r, gbk, "/encoding gbk", t);
    assert_eq!(bytes(&mut r, gbk), b"! encoding: GBK\n");
    say(&mut r, utf8, "笑😀", t);
    let mut want = b"<10.0.0.3:1000> ".to_vec();
    want.extend(encoding_rs::GBK.encode("笑").0.iter());
    want.extend(b"\\u{1F600}\n");
    assert_eq!(bytes(&mut r, gbk), want);
    // /who names everyone in the asker's encoding.
    say(&mut r, utf8, "/who", t);
    assert_eq!(
        read(&mut r, utf8),
        "! 3 members:\n!   老王@10.0.0.2:1000\n!   10.0.0.3:1000\n!   10.0.0.4:1000\n"
    );
    // `/encoding bytes`: lines pass as they were sent.
    say(&mut r, utf8, "/encoding bytes", t);
    assert_eq!(read(&mut r, utf8), "! encoding: bytes\n");
    say_bytes(&mut r, gbk, GBK_HELLO, t);
    assert_eq!(
        bytes(&mut r, utf8),
        [b"<", GBK_LAOWANG, b"@10.0.0.2:1000> ", GBK_HELLO, b"\n"].concat()
    );
    say(&mut r, utf8, "/encoding klingon", t);
    assert_eq!(read(&mut r, utf8), "! unknown encoding klingon\n");
}

#[test]
fn relay_bytes_is_the_room_as_it_was() {
    let (mut r, t) = room(Config {
        relay_bytes: true,
        ..Config::default()
    });
    let gbk = join(&mut r, 2, t);
    let utf8 = join(&mut r, 3, t);
    read(&mut r, gbk);
    say_bytes(&mut r, gbk, GBK_HELLO, t);
    say(&mut r, utf8, "你好", t);
    say_bytes(&mut r, gbk, GBK_HELLO, t);
    assert_eq!(
        bytes(&mut r, utf8),
        [
            b"<10.0.0.2:1000> ",
            GBK_HELLO,
            b"\n<10.0.0.2:1000> ",
            GBK_HELLO,
            b"\n"
        ]
        .concat()
    );
    assert_eq!(read(&mut r, gbk), "<10.0.0.3:1000> 你好\n");
    say(&mut r, utf8, "/encoding utf-8", t);
    assert_eq!(read(&mut r, utf8), "! encoding: bytes\n");
}

#[test]
fn a_mute_sticks_to_the_address_and_a_ban_may_name_a_member() {
    let (mut r, t) = classroom();
    let op = enter(&mut r, 2, t);
    say(&mut r, op, "/op teacher", t);
    let bob = enter(&mut r, 3, t);
    let carol = enter(&mut r, 4, t);
    say(&mut r, bob, "/nick bob", t);
    say(&mut r, op, "/mute bob 10", t);
    // Leaving and coming back does not lift it.
    r.remove(bob, Leave::Closed, t);
    let again = enter(&mut r, 3, t + Duration::from_secs(60));
    read(&mut r, carol);
    read(&mut r, again);
    say(&mut r, again, "I'm back", t + Duration::from_secs(60));
    assert_eq!(read(&mut r, again), "! you are muted\n");
    assert_eq!(read(&mut r, carol), "");
    // Its time up, a new connection from there speaks.
    r.remove(again, Leave::Closed, t);
    let later = enter(&mut r, 3, t + Duration::from_secs(601));
    say(&mut r, later, "hello", t + Duration::from_secs(601));
    assert!(read(&mut r, carol).ends_with("<10.0.0.3:1000> hello\n"));
    // /unmute lifts it for the address too.
    say(&mut r, op, "/mute 10.0.0.3", t);
    say(&mut r, op, "/unmute 10.0.0.3", t);
    r.remove(later, Leave::Closed, t);
    let free = enter(&mut r, 3, t);
    read(&mut r, carol);
    say(&mut r, free, "free", t);
    assert_eq!(read(&mut r, carol), "<10.0.0.3:1000> free\n");
    // `/ban NAME` bans that member's address.
    say(&mut r, free, "/nick dave", t);
    read(&mut r, op);
    say(&mut r, op, "/ban dave", t);
    assert!(read(&mut r, op).starts_with("[10.0.0.3/32] was banned by "));
    assert_eq!(r.admit(addr(3, 1).ip(), t), Err(Refusal::Banned));
}
