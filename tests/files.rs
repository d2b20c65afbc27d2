//! Files and folders over IP Messenger, as people pass them: two real
//! lanchat windows (tmux) on 127.0.0.2 and 127.0.0.3, and a FeiQ-like peer
//! (scripts/ipmsg-peer.py) on 127.0.0.4 that serves and fetches as FeiQ
//! does, or lies as a hostile peer would. Every lanchat here is bound to a
//! loopback address and given its peer as TARGET: it broadcasts nowhere.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use lanchat::ipmsg::files::{safe_name, Entry, Stream};

use crate::lanchat::{scratch, Lanchat};
use crate::util::{have, WAIT};

/// The bytes the peer serves for item `id` from `offset` (its rule).
fn peer_bytes(id: u64, offset: u64, n: u64) -> Vec<u8> {
    (offset..offset + n)
        .map(|i| ((i * 7 + id) % 251) as u8)
        .collect()
}

/// Bytes that are not all alike (a shift or a repeat would show).
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every file under `dir`, by its path relative to it, with its bytes
/// (folders end in `/`).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Waits (bounded) for `what` to hold.
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON lines of a `--log` file.
fn log_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The FeiQ-like peer, bound to `bind:port`, talking to `to:port`.
pub(crate) struct Peer {
    child: Child,
    stdin: ChildStdin,
    log: PathBuf,
}

impl Peer {
    pub(crate) fn start(dir: &Path, bind: &str, port: u16, to: &str) -> Peer {
        let log = dir.join("peer.log");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ipmsg-peer.py");
        let mut child = Command::new("python3")
            .args([script, log.to_str().unwrap(), to, to])
            .args(["--bind", bind, "--port", &port.to_string()])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let p = Peer { child, stdin, log };
        p.wait_log("READY");
        p
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for a log line holding `needle`; returns that line.
    pub(crate) fn wait_log(&self, needle: &str) -> String {
        let mut found = String::new();
        until(&format!("the peer logs {needle:?}"), || {
            found = self
                .log()
                .lines()
                .find(|l| l.contains(needle))
                .unwrap_or_default()
                .to_string();
            !found.is_empty()
        });
        found
    }

    /// Runs a command and waits until the peer has done it.
    pub(crate) fn cmd(&mut self, line: &str) {
        let done = self.log().matches("DONE ").count();
        writeln!(self.stdin, "{line}").unwrap();
        until(&format!("the peer does {line:?}"), || {
            self.log().matches("DONE ").count() > done
        });
    }

    /// `fetch`/`fetchdir`: what the peer got.
    pub(crate) fn fetch(&mut self, line: &str, out: &Path) -> Vec<u8> {
        let before = self.log().matches("FETCHED").count();
        self.cmd(&format!("{line} {}", out.display()));
        until("FETCHED", || self.log().matches("FETCHED").count() > before);
        std::fs::read(out).unwrap()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// lanchat --ipmsg on `ip` with the peer's address as TARGET.
fn lanchat(ip: &str, port: u16, name: &str, dl: &Path, log: &Path, target: &str) -> Lanchat {
    let port = port.to_string();
    let (dl, log) = (dl.to_str().unwrap(), log.to_str().unwrap());
    let lc = Lanchat::start_sized(
        &[
            "--ipmsg",
            "-b",
            ip,
            "-p",
            &port,
            "--name",
            name,
            "--download-dir",
            dl,
            "--log",
            log,
            target,
        ],
        220,
        40,
    );
    lc.addr();
    lc
}

/// A lanchat on 127.0.0.2 and the FeiQ-like peer on 127.0.0.4, each in
/// the other's list; the lanchat downloads into `base/dl`.
fn with_peer(base: &Path) -> (Lanchat, Peer) {
    let dl = base.join("dl");
    let lc = lanchat(
        "127.0.0.2",
        0,
        "小王",
        &dl,
        &base.join("log.jsonl"),
        "127.0.0.4",
    );
    let mut peer = Peer::start(base, "127.0.0.4", lc.port(), "127.0.0.2");
    peer.cmd("entry");
    lc.wait(|s| s.contains("飞秋用户 127.0.0.4"));
    (lc, peer)
}

/// The packet numbers of the offers the peer got, in order, each once
/// (an offer sent again keeps its number).
pub(crate) fn offer_numbers(peer: &Peer) -> Vec<u64> {
    let mut out = Vec::new();
    for line in peer.log().lines().filter(|l| l.contains("cmd=0x200120 ")) {
        let no: u64 = line
            .split(" no=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if !out.contains(&no) {
            out.push(no);
        }
    }
    out
}

fn screen_has(lc: &Lanchat, needle: &str) -> String {
    lc.wait(|s| s.contains(needle))
}

/// How often `text` shows in the message pane (its rows start with the
/// pane's border), not counting the status line, which may say it too
/// (`[N] ✓ saved …`).
fn in_pane(screen: &str, text: &str) -> usize {
    screen
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| l.matches(text).count())
        .sum()
}

#[test]
fn lanchat_to_lanchat_a_file_and_a_nested_folder_both_ways_byte_for_byte() {
    if !have("tmux") {
        return;
    }
    let base = scratch();
    let src = base.join("src");
    std::fs::create_dir_all(src.join("图片/子/孙")).unwrap();
    std::fs::create_dir_all(src.join("图片/空")).unwrap();
    let big = noise(3_000_000, 1);
    std::fs::write(src.join("报告 2026.txt"), &big).unwrap();
    std::fs::write(src.join("图片/一.png"), noise(70_000, 2)).unwrap();
    std::fs::write(src.join("图片/子/二.bin"), noise(1, 3)).unwrap();
    std::fs::write(src.join("图片/子/孙/三.bin"), noise(300_000, 4)).unwrap();
    std::fs::write(src.join("图片/子/孙/empty"), b"").unwrap();
    std::fs::write(src.join("back.bin"), noise(12_345, 5)).unwrap();
    let (dla, dlb) = (base.join("dl-a"), base.join("dl-b"));
    let (loga, logb) = (base.join("a.jsonl"), base.join("b.jsonl"));
    let a = lanchat("127.0.0.2", 0, "甲", &dla, &loga, "127.0.0.3");
    let b = lanchat("127.0.0.3", a.port(), "乙", &dlb, &logb, "127.0.0.2");
    screen_has(&a, "乙 127.0.0.3");
    screen_has(&b, "甲 127.0.0.2");

    // 甲 offers a file (a space in its name) and a folder to 乙.
    a.type_line("/to 乙");
    a.type_line(&format!(
        "/send '{}' {}",
        src.join("报告 2026.txt").display(),
        src.join("图片").display()
    ));
    screen_has(&a, "me 📎 [1] 报告 2026.txt 3.0 MB, 图片/ 370 KB → 乙");
    screen_has(
        &b,
        "甲 (127.0.0.2) 📎 [1] 报告 2026.txt 3.0 MB, 图片/ 370 KB",
    );
    assert!(!dlb.exists(), "nothing is fetched without /get");
    b.type_line("/get 1");
    screen_has(&b, "✓ saved");
    screen_has(&a, "→ 乙  ✓");
    assert_eq!(std::fs::read(dlb.join("报告 2026.txt")).unwrap(), big);
    assert_eq!(tree(&dlb.join("图片")), tree(&src.join("图片")));

    // And back: 乙 offers to 甲; 甲's own offer was [1], this is [2].
    b.type_line("/to 甲");
    b.type_line(&format!("/send {}", src.join("back.bin").display()));
    screen_has(&a, "乙 (127.0.0.3) 📎 [2] back.bin 12 KB");
    a.type_line("/files");
    a.wait(|s| in_pane(s, "📎 [2] back.bin 12 KB") == 2);
    a.type_line("/get 2");
    screen_has(&a, "✓ saved");
    assert_eq!(
        std::fs::read(dla.join("back.bin")).unwrap(),
        std::fs::read(src.join("back.bin")).unwrap()
    );
    // The same offer again: a second copy, not over the first.
    b.type_line(&format!("/send {}", src.join("back.bin").display()));
    screen_has(&a, "📎 [3] back.bin");
    a.type_line("/get 3");
    until("back (1).bin", || dla.join("back (1).bin").exists());

    // The logs: offers and transfers, both sides.
    let la = log_records(&loga);
    let lb = log_records(&logb);
    let find = |l: &[serde_json::Value], event: &str| -> Vec<serde_json::Value> {
        l.iter().filter(|r| r["event"] == event).cloned().collect()
    };
    let offered = find(&la, "offered");
    assert_eq!(offered[0]["nick"], "乙");
    assert_eq!(offered[0]["items"][1]["folder"], true);
    let sent = find(&la, "sent");
    assert_eq!(sent.len(), 2, "{la:?}");
    assert!(sent
        .iter()
        .any(|r| r["name"] == "图片" && r["bytes"] == 370_001));
    let fetched = find(&lb, "fetched");
    assert_eq!(fetched.len(), 2, "{lb:?}");
    let file = fetched
        .iter()
        .find(|r| r["name"] == "报告 2026.txt")
        .unwrap();
    assert_eq!(file["bytes"], 3_000_000);
    assert_eq!(file["peer"], format!("127.0.0.2:{}", a.port()));
    assert!(file["path"].as_str().unwrap().ends_with("报告 2026.txt"));
    assert!(file["seconds"].as_f64().is_some());
    assert_eq!(find(&lb, "received").len(), 1);
    assert_eq!(find(&la, "received").len(), 2);
}

#[test]
fn drop_tells_the_sender_and_cancel_ends_an_offer_for_everyone() {
    if !have("tmux") {
        return;
    }
    let base = scratch();
    let file = base.join("x.txt");
    std::fs::write(&file, b"hello").unwrap();
    let (dla, dlb) = (base.join("dl-a"), base.join("dl-b"));
    let a = lanchat(
        "127.0.0.2",
        0,
        "甲",
        &dla,
        &base.join("a.jsonl"),
        "127.0.0.3",
    );
    let b = lanchat(
        "127.0.0.3",
        a.port(),
        "乙",
        &dlb,
        &base.join("b.jsonl"),
        "127.0.0.2",
    );
    screen_has(&a, "乙 127.0.0.3");
    a.type_line("/to 乙");
    a.type_line(&format!("/send {}", file.display()));
    screen_has(&b, "📎 [1] x.txt 5 B");
    b.type_line("/drop 1");
    screen_has(&b, "📎 [1] x.txt 5 B  dropped");
    screen_has(&a, "→ 乙  乙 declined");
    b.type_line("/get 1");
    screen_has(&b, "no offer [1] to fetch");

    a.type_line(&format!("/send {}", file.display()));
    screen_has(&b, "📎 [2] x.txt 5 B");
    a.type_line("/cancel 2");
    screen_has(&a, "📎 [2] x.txt 5 B → 乙  cancelled");
    b.type_line("/get 2");
    screen_has(&b, "✗ x.txt: the peer sent nothing");
    assert!(
        !dlb.join("x.txt").exists() && !dlb.join("x.txt.part").exists(),
        "nothing was written"
    );
    a.type_line("/cancel 9");
    screen_has(&a, "no offer [9] of yours to cancel");
    // Chat goes on beside it all.
    a.type_line("还在吗");
    screen_has(&b, "甲 (127.0.0.2) 还在吗");
}

#[test]
fn a_hostile_peer_s_names_and_folder_streams_write_nothing_outside_the_download_folder() {
    if !have("tmux") || !have("python3") {
        return;
    }
    let base = scratch();
    let (lc, mut peer) = with_peer(&base);
    let dl = base.join("dl");

    // Files with every bad name: each saved under one safe name.
    peer.cmd("offer 100 names");
    screen_has(
        &lc,
        "飞秋用户 (127.0.0.4) 📎 [1] names ../../escaped.txt 8 B, /etc/abs.txt 9 B",
    );
    lc.type_line("/get 1");
    screen_has(&lc, "📎 [1] names");
    screen_has(&lc, "✓ saved");
    let got = tree(&dl);
    let names = [
        "../../escaped.txt",
        "/etc/abs.txt",
        "C:\\Windows\\win.ini",
        "a\x1b[31mred",
        "CON",
        "nul.txt",
        "bidi?fdp.exe",
        "..",
        "what?*<>|",
        "a::b",
        &"x".repeat(300),
        &format!("{}.txt", "长".repeat(150)),
        "sp ace. ",
    ];
    // (GBK has no U+202E: the peer sent '?' for it.)
    let mut want = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        let id = i as u64 + 1;
        want.insert(safe_name(n), peer_bytes(id, 0, 8 + i as u64));
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert_eq!(got, want);
    assert!(got.keys().all(|k| k.len() <= 250 && !k.contains('/')));

    // A folder whose stream names its entries "..", "/abs", "C:\x".
    peer.cmd("offer 101 climb");
    screen_has(&lc, "📎 [2] climb ../climb/ 24 B");
    lc.type_line("/get 2");
    lc.wait(|s| in_pane(s, "✓ saved") == 2);
    // A right one, GBK names (一 in GBK is valid UTF-8: still read as GBK).
    peer.cmd("offer 104 folder");
    screen_has(&lc, "📎 [3] folder 正常/ 18 B");
    lc.type_line("/get 3");
    lc.wait(|s| in_pane(s, "✓ saved") == 3);
    assert_eq!(
        std::fs::read(dl.join("正常/一.txt")).unwrap(),
        peer_bytes(1, 0, 5)
    );
    assert_eq!(
        std::fs::read(dl.join("正常/子/孙/三.bin")).unwrap(),
        peer_bytes(1, 0, 7)
    );
    let climb: Vec<String> = tree(&dl)
        .into_keys()
        .filter(|k| k.starts_with(".._climb"))
        .collect();
    assert_eq!(
        climb,
        [
            ".._climb/",
            ".._climb/.._.._up/",
            ".._climb/.._.._up/.._.._.._escaped.txt",
            ".._climb/.._.._up/_etc_abs.txt",
            ".._climb/_/",
            ".._climb/_/__server_share",
            ".._climb/_/x",
            ".._climb/_abs/",
            ".._climb/_abs/C__evil.ini",
            ".._climb/_abs/_CON",
        ]
    );

    // A stream that starts outside its folder: given up, said so.
    peer.cmd("offer 102 escape");
    screen_has(&lc, "📎 [4] escape escape/ 4 B");
    lc.type_line("/get 4");
    screen_has(&lc, "✗ escape: the folder stream climbs out of its folder");
    // Nested 40 deep: given up at 32.
    peer.cmd("offer 103 deep");
    screen_has(&lc, "📎 [5] deep deep/ 1 B");
    lc.type_line("/get 5");
    screen_has(&lc, "✗ deep: folders nested deeper than 32");

    // Nothing anywhere but the download folder (and the log beside it).
    let mut outside: Vec<String> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    outside.sort();
    assert_eq!(outside, ["dl", "log.jsonl", "peer.log"]);
    assert!(tree(&dl).keys().all(|k| !k.contains("outside")));
    let screen = lc.term.screen();
    assert!(!screen.contains('\x1b'), "no raw escape on the screen");
    // The peer only ever got requests for what it offered.
    assert!(!peer.log().contains("malformed"));
}

#[test]
fn broken_transfers_end_with_their_reason_and_a_short_one_resumes_from_its_part() {
    if !have("tmux") || !have("python3") {
        return;
    }
    let base = scratch();
    let (lc, mut peer) = with_peer(&base);
    let dl = base.join("dl");

    peer.cmd("offer 200 long");
    screen_has(&lc, "📎 [1] long long.bin 1.0 KB");
    lc.type_line("/get 1");
    screen_has(
        &lc,
        "✗ long.bin: the peer sent more than the 1.0 KB it offered",
    );
    let part = std::fs::read(dl.join("long.bin.part")).unwrap();
    assert!(part.len() <= 1000, "bytes beyond the size are not written");
    assert!(!dl.join("long.bin").exists());

    peer.cmd("offer 201 short");
    screen_has(&lc, "📎 [2] short short.bin 1.0 KB");
    lc.type_line("/get 2");
    screen_has(&lc, "✗ short.bin: short: 500 B of 1.0 KB arrived");
    assert_eq!(
        std::fs::read(dl.join("short.bin.part")).unwrap(),
        peer_bytes(1, 0, 500)
    );

    // Resume: the first try brings 400,000 bytes; /get again asks from
    // there (offset 61a80) and the file is whole.
    peer.cmd("offer 202 resume");
    screen_has(&lc, "📎 [3] resume resume.bin 1.0 MB");
    lc.type_line("/get 3");
    screen_has(&lc, "✗ resume.bin: short: 400 KB of 1.0 MB arrived");
    assert_eq!(
        std::fs::metadata(dl.join("resume.bin.part")).unwrap().len(),
        400_000
    );
    peer.wait_log("packet=202 id=1 offset=0");
    lc.type_line("/get 3");
    peer.wait_log("packet=202 id=1 offset=400000");
    screen_has(&lc, "✓ saved");
    assert_eq!(
        std::fs::read(dl.join("resume.bin")).unwrap(),
        peer_bytes(1, 0, 1_000_000)
    );
    assert!(!dl.join("resume.bin.part").exists());
    // The same again: resume.bin is there, so "resume (1).bin", and its
    // .part is found and gone on from too.
    peer.cmd("offer 203 resume");
    screen_has(&lc, "📎 [4] resume resume.bin 1.0 MB");
    lc.type_line("/get 4");
    screen_has(
        &lc,
        "📎 [4] resume resume.bin 1.0 MB  ✗ resume.bin: short: 400 KB of 1.0 MB",
    );
    assert_eq!(
        std::fs::metadata(dl.join("resume (1).bin.part"))
            .unwrap()
            .len(),
        400_000
    );
    lc.type_line("/get 4");
    peer.wait_log("packet=203 id=1 offset=400000");
    lc.wait(|s| in_pane(s, "✓ saved") == 2);
    assert_eq!(
        std::fs::read(dl.join("resume (1).bin")).unwrap(),
        peer_bytes(1, 0, 1_000_000)
    );

    // The chat goes on beside the failures.
    lc.type_line("/to 飞秋用户");
    lc.type_line("文件坏了");
    peer.wait_log("text=文件坏了|");

    let records = log_records(&base.join("log.jsonl"));
    let failed: Vec<_> = records.iter().filter(|r| r["event"] == "failed").collect();
    assert_eq!(failed.len(), 4, "{records:?}");
    assert!(failed.iter().all(|r| r["error"].is_string()));
}

#[test]
fn a_peer_that_stops_sending_is_ended_after_30_s() {
    if !have("tmux") || !have("python3") {
        return;
    }
    let base = scratch();
    let (lc, mut peer) = with_peer(&base);
    peer.cmd("offer 300 stall");
    screen_has(&lc, "📎 [1] stall stall.bin 1.0 KB");
    lc.type_line("/get 1");
    screen_has(&lc, "⇅ 1 transfers");
    // While it hangs, the window answers.
    lc.type_line("/help");
    screen_has(&lc, "files:    /send PATH...");
    screen_has(&lc, "✗ stall.bin: stalled for 30 s");
    assert_eq!(
        std::fs::read(base.join("dl/stall.bin.part")).unwrap(),
        peer_bytes(1, 0, 500)
    );
    lc.wait(|s| !s.contains("⇅"));
}

#[test]
fn a_thousand_offers_at_once_are_each_an_entry_and_the_chat_goes_on() {
    if !have("tmux") || !have("python3") {
        return;
    }
    let base = scratch();
    let (lc, mut peer) = with_peer(&base);
    peer.cmd("offers 1000");
    screen_has(&lc, "📎 [1000] f999.txt 8 B");
    let log = base.join("log.jsonl");
    until("1000 offers logged", || {
        log_records(&log)
            .iter()
            .filter(|r| r["event"] == "received")
            .count()
            == 1000
    });
    lc.type_line("/to 飞秋用户");
    lc.type_line("收到一千个");
    peer.wait_log("text=收到一千个|");
    lc.type_line("/get 1000");
    screen_has(&lc, "📎 [1000] f999.txt 8 B  ✓ saved");
    assert_eq!(
        std::fs::read(base.join("dl/f999.txt")).unwrap(),
        peer_bytes(1, 0, 8)
    );
}

#[test]
fn own_offers_are_served_only_to_their_recipients_from_the_offset_asked() {
    if !have("tmux") || !have("python3") {
        return;
    }
    let base = scratch();
    let (lc, mut peer) = with_peer(&base);
    let file = base.join("数据.bin");
    let bytes = noise(200_000, 9);
    std::fs::write(&file, &bytes).unwrap();
    let dir = base.join("文件夹");
    std::fs::create_dir_all(dir.join("子")).unwrap();
    std::fs::write(dir.join("甲.txt"), b"abc").unwrap();
    std::fs::write(dir.join("子/乙.txt"), b"de::f").unwrap();

    lc.type_line("/to 飞秋用户");
    lc.type_line(&format!("/send {}", file.display()));
    screen_has(
        &lc,
        "me 📎 [1] 数据.bin 200 KB → 飞秋用户  飞秋用户 offered",
    );
    // The offer as FeiQ reads it: GBK, the list after the NUL.
    let line = peer.wait_log("cmd=0x200120 ");
    let no = offer_numbers(&peer)[0];
    assert!(line.contains("text=|0:数据.bin:30d40:"), "{line}");
    assert!(line.ends_with(":1:\x07|"), "{line}");

    let out = base.join("got");
    let fetch = |peer: &mut Peer, args: &str| peer.fetch(args, &out);
    assert_eq!(
        fetch(&mut peer, &format!("fetch 127.0.0.5 {no} 0 0")),
        b"",
        "another host"
    );
    assert_eq!(
        fetch(&mut peer, &format!("fetch 127.0.0.4 {no} 7 0")),
        b"",
        "no such item"
    );
    assert_eq!(
        fetch(&mut peer, &format!("fetch 127.0.0.4 {} 0 0", no + 1)),
        b"",
        "no such offer"
    );
    assert_eq!(
        fetch(&mut peer, &format!("fetchdir 127.0.0.4 {no} 0")),
        b"",
        "not a folder"
    );
    assert_eq!(
        fetch(&mut peer, &format!("fetch 127.0.0.4 {no} 0 1000")),
        &bytes[1000..]
    );
    assert_eq!(
        fetch(&mut peer, &format!("fetch 127.0.0.4 {no} 0 0")),
        bytes
    );
    screen_has(&lc, "→ 飞秋用户  ✓");

    // A folder: its stream, names in GBK, nested, each file after its header.
    lc.type_line(&format!("/send {}", dir.display()));
    screen_has(&lc, "me 📎 [2] 文件夹/ 8 B → 飞秋用户");
    peer.wait_log("text=|0:文件夹:8:");
    let no2 = offer_numbers(&peer)[1];
    let stream = fetch(&mut peer, &format!("fetchdir 127.0.0.4 {no2} 0"));
    let mut reader = Stream::new();
    let mut seen = Vec::new();
    reader
        .push(&stream, |e| {
            seen.push(match e {
                Entry::Dir(n) => format!("dir {}", encoding_rs::GBK.decode(n).0),
                Entry::File(n, size) => format!("file {} {size}", encoding_rs::GBK.decode(n).0),
                Entry::Data(d) => format!("data {}", String::from_utf8_lossy(d)),
                Entry::FileEnd => "end".into(),
                Entry::Up => "up".into(),
                Entry::Done => "done".into(),
            })
        })
        .unwrap();
    assert!(reader.done());
    assert_eq!(
        seen,
        [
            "dir 文件夹",
            "dir 子",
            "file 乙.txt 5",
            "data de::f",
            "end",
            "up",
            "file 甲.txt 3",
            "data abc",
            "end",
            "up",
            "done",
        ]
    );
    // RELEASEFILES: that recipient is done with it.
    lc.type_line(&format!("/send {}", file.display()));
    until("a third offer", || offer_numbers(&peer).len() == 3);
    let third = offer_numbers(&peer)[2];
    peer.cmd(&format!("release {third}"));
    screen_has(&lc, "📎 [3] 数据.bin 200 KB → 飞秋用户  飞秋用户 declined");
    assert_eq!(
        fetch(&mut peer, &format!("fetch 127.0.0.4 {third} 0 0")),
        b"",
        "released"
    );
    // /cancel: served no more.
    lc.type_line("/cancel 2");
    screen_has(&lc, "📎 [2] 文件夹/ 8 B → 飞秋用户  cancelled");
    assert_eq!(
        fetch(&mut peer, &format!("fetchdir 127.0.0.4 {no2} 0")),
        b""
    );
}
