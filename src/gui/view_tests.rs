//! What a tab is sent, on a made-up session.

use super::*;
use crate::chat::{Drops, Incoming, Mode, Offer};
use crate::encoding::Encoding;
use crate::session::{Info, Wire};

fn session(mode: Mode) -> Session {
    let info = Info {
        mode,
        title: "UDP聊天室".into(),
        listen: "0.0.0.0:3456".into(),
        target: "broadcast".into(),
        encoding: "gb2312".into(),
    };
    let wire = Wire {
        encoding: Encoding::gb2312(),
        max_bytes: 65_507,
    };
    Session::new(info, wire, 10_000)
}

fn msg(text: &str) -> Incoming {
    Incoming {
        time: "12:00:00".into(),
        who: Who::Peer("192.168.1.22:3456".parse().unwrap()),
        text: text.into(),
    }
}

fn parse(json: &str) -> serde_json::Value {
    serde_json::from_str(json).unwrap()
}

fn texts(u: &serde_json::Value) -> Vec<&str> {
    u["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect()
}

#[test]
fn a_new_tab_gets_everything_then_only_what_changed() {
    let mut s = session(Mode::Udp);
    let mut v = View::new();
    s.receive(vec![msg("one"), msg("two")], Drops::default());
    assert!(v.publish(&mut s));
    let (rev, json) = v.since(0).unwrap();
    let u = parse(&json);
    assert_eq!(u["reset"], true);
    assert_eq!(texts(&u), vec!["one", "two"]);
    assert_eq!(u["entries"][0]["from"], "192.168.1.22:3456");
    assert_eq!(u["entries"][0]["addr"], "192.168.1.22:3456");
    assert_eq!(u["entries"][0]["kind"], "peer");
    assert_eq!(u["meta"]["received"], 2);
    assert_eq!(u["meta"]["members"][0]["addr"], "192.168.1.22:3456");
    assert!(v.since(rev).is_none(), "up to date");
    assert!(!v.publish(&mut s), "nothing changed");
    // New lines: only they, and the counts that changed with them.
    s.receive(vec![msg("three")], Drops::default());
    v.publish(&mut s);
    let (rev2, json) = v.since(rev).unwrap();
    let u = parse(&json);
    assert_eq!(u["reset"], false);
    assert_eq!(texts(&u), vec!["three"]);
    assert_eq!(u["meta"]["received"], 3);
    // /clear: everything again (nothing).
    s.submit("/clear").unwrap();
    v.publish(&mut s);
    let u = parse(&v.since(rev2).unwrap().1);
    assert_eq!(u["reset"], true);
    assert!(texts(&u).is_empty());
}

#[test]
fn a_changed_entry_is_sent_again_and_an_offer_carries_its_number() {
    let mut s = session(Mode::Ipmsg);
    let mut v = View::new();
    let bob = Who::Nick {
        nick: "bob".into(),
        addr: "10.0.0.2:2425".parse().unwrap(),
    };
    s.offer(
        "12:00:00".into(),
        Offer {
            n: 4,
            who: bob,
            text: "a.txt 3 B".into(),
            incoming: true,
        },
    );
    v.publish(&mut s);
    let (rev, json) = v.since(0).unwrap();
    let u = parse(&json);
    assert_eq!(u["entries"][0]["offer"], 4);
    assert_eq!(u["entries"][0]["fetchable"], true);
    assert_eq!(u["entries"][0]["from"], "bob (10.0.0.2)");
    s.progress(4, "✓ saved /dl/a.txt", false);
    v.publish(&mut s);
    let u = parse(&v.since(rev).unwrap().1);
    assert_eq!(u["reset"], false);
    assert_eq!(texts(&u), vec!["📎 [4] a.txt 3 B  ✓ saved /dl/a.txt"]);
    assert!(
        u["entries"][0].get("fetchable").is_none(),
        "fetched: no more"
    );
}

#[test]
fn a_tab_behind_a_flood_gets_the_newest_not_a_backlog() {
    let mut s = session(Mode::Udp);
    let mut v = View::new();
    s.receive(vec![msg("first")], Drops::default());
    v.publish(&mut s);
    let (rev, _) = v.since(0).unwrap();
    for i in 0..5 {
        let batch = (0..MAX_PER_UPDATE)
            .map(|k| msg(&format!("m{i}-{k}")))
            .collect();
        s.receive(batch, Drops::default());
        v.publish(&mut s);
    }
    // Five publishes later the slow tab asks once: one update, the newest.
    let u = parse(&v.since(rev).unwrap().1);
    assert_eq!(u["reset"], true);
    let t = texts(&u);
    assert_eq!(t.len(), MAX_PER_UPDATE);
    assert_eq!(*t.last().unwrap(), format!("m4-{}", MAX_PER_UPDATE - 1));
    assert_eq!(u["first"], u["entries"][0]["seq"]);
}
