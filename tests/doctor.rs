//! `lanchat doctor` on loopback: an answer bound to 127.0.0.1 (it joins
//! the multicast group there only, so nothing is said on the machine's
//! networks) and the doctor probing it; PEER on this machine, so no
//! broadcast or multicast probe is sent. The causes that need real
//! network stacks (firewalls, a filtering bridge, a router, iptux) are in
//! `scripts/smoke-doctor.sh`, in network namespaces.

use std::net::UdpSocket;
use std::process::Command;

use crate::util::{bin, run, Proc};

fn doctor(args: &[&str]) -> (Option<i32>, String, String) {
    run(Command::new(bin("lanchat")).arg("doctor").args(args))
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn codes(doc: &serde_json::Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

fn probe<'a>(doc: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    doc["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
}

/// A UDP port nobody holds (bound and let go), with its TCP port free too.
fn free_port() -> u16 {
    loop {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn answer(port: u16, extra: &[&str]) -> Proc {
    let p = port.to_string();
    let mut args = vec!["doctor", "--answer", "-b", "127.0.0.1", "-p", &p];
    args.extend_from_slice(extra);
    let mut a = Proc::spawn("lanchat", &args);
    a.wait_stderr("listening on 127.0.0.1:");
    a
}

#[test]
fn probes_an_answer_both_ways_and_compares_settings() {
    let port = free_port();
    let mut a = answer(port, &["-e", "utf-8"]);
    let p = port.to_string();
    let (code, out, err) = doctor(&["127.0.0.1", "-p", &p, "--json"]);
    let doc = json(&out);
    assert_eq!(code, Some(1), "{out}\n{err}");
    for name in ["unicast-to-peer", "unicast-from-peer", "tcp"] {
        assert_eq!(probe(&doc, name).unwrap()["ok"], true, "{name}: {out}");
    }
    // PEER is this machine: nothing is broadcast.
    assert!(
        probe(&doc, "subnet-broadcast").is_none() && probe(&doc, "multicast").is_none(),
        "{out}"
    );
    let c = codes(&doc);
    assert!(c.contains(&"settings-differ".to_string()), "{c:?}");
    // The answer holds the port: named with its pid.
    let held = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "port-in-use")
        .unwrap_or_else(|| panic!("no port-in-use: {out}"));
    assert!(
        held["text"]
            .as_str()
            .unwrap()
            .contains(&format!("lanchat (pid {})", a.child.id())),
        "{held}"
    );
    assert!(a.line().starts_with("heard unicast from 127.0.0.1:"));
    // The same as a person reads it.
    let (_, text, _) = doctor(&["127.0.0.1", "-p", &p]);
    assert!(text.contains("✓ UDP to 127.0.0.1:"), "{text}");
    assert!(
        text.contains("127.0.0.1 reads and writes utf-8, you gb2312: Chinese will look garbled."),
        "{text}"
    );
    assert!(
        text.contains("→ Use the same encoding on both (-e utf-8)"),
        "{text}"
    );
    #[cfg(unix)]
    {
        a.signal(libc::SIGINT);
        a.expect_exit(130);
        assert!(a.stderr().contains("ended: "), "{}", a.stderr());
    }
}

#[test]
fn a_peer_without_an_answer_is_told_and_what_to_run() {
    let p = free_port().to_string();
    let (code, out, _) = doctor(&["127.0.0.1", "-p", &p, "--json"]);
    assert_eq!(code, Some(1));
    let doc = json(&out);
    assert!(codes(&doc).contains(&"no-answer".to_string()), "{out}");
    assert_eq!(probe(&doc, "tcp").unwrap()["ok"], false);
    let (_, text, _) = doctor(&["127.0.0.1", "-p", &p]);
    assert!(text.contains("runs no lanchat doctor --answer"), "{text}");
    assert!(
        text.contains("→ Run lanchat doctor --answer on 127.0.0.1"),
        "{text}"
    );
}

#[test]
fn a_chat_window_holding_the_port_is_named() {
    let (w, addr) = crate::util::window(&[]);
    let p = addr.port().to_string();
    let (code, out, _) = doctor(&["-p", &p, "--json"]);
    assert_eq!(code, Some(1), "{out}");
    let doc = json(&out);
    let port = &doc["ports"][0];
    assert_eq!(
        (port["port"].as_u64(), port["free"].as_bool()),
        (Some(addr.port().into()), Some(false))
    );
    assert_eq!(
        port["held_by"].as_str().unwrap(),
        format!("chat-window (pid {})", w.child.id())
    );
    assert!(doc["interfaces"].is_array() && doc["firewall"]["read"].is_boolean());
}

#[test]
fn usage_errors_exit_2_and_help_names_the_answer() {
    let (code, _, err) = doctor(&["--answer", "10.0.0.1"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = doctor(&["--no-such-option"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = doctor(&["-b", "127.0.0.1"]);
    assert_eq!(code, Some(2), "-b without --answer: {err}");
    let (code, out, _) = doctor(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("lanchat doctor --answer") && out.contains("--json"),
        "{out}"
    );
    let (_, out, _) = run(Command::new(bin("lanchat")).arg("--help"));
    assert!(
        out.contains("lanchat doctor"),
        "lanchat --help does not point to the doctor: {out}"
    );
}

#[test]
fn findings_in_chinese_for_a_chinese_user() {
    let p = free_port().to_string();
    let (code, out, _) = run(Command::new(bin("lanchat"))
        .args(["doctor", "127.0.0.1", "-p", &p])
        .env("LANCHAT_LANG", "zh-CN"));
    assert_eq!(code, Some(1));
    assert!(out.contains("本机："), "{out}");
    assert!(out.contains("对 127.0.0.1 的探测："), "{out}");
    assert!(out.contains("没有运行 lanchat doctor --answer"), "{out}");
    // The codes stay the same words in every language.
    let (_, json_out, _) = run(Command::new(bin("lanchat"))
        .args(["doctor", "127.0.0.1", "-p", &p, "--json"])
        .env("LANCHAT_LANG", "zh-CN"));
    assert!(codes(&json(&json_out)).contains(&"no-answer".to_string()));
}
