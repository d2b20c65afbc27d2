//! What the README promises a user about a behaviour decided on purpose
//! is checked against the behaviour itself, so the two cannot drift.

use std::net::UdpSocket;
use std::process::Command;

use crate::util::{bin, have, recv_from, run, WAIT};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn gbk_beyond_gb2312_is_sent_as_gbk_and_the_readme_says_what_a_strict_receiver_does() {
    let text = "中文测试：標點「」";
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(WAIT)).unwrap();
    let port = rx.local_addr().unwrap().port().to_string();
    let (code, _, err) =
        run(Command::new(bin("input-box")).args(["127.0.0.1", "-p", &port, "-m", text]));
    assert_eq!(code, Some(0), "{err}");
    let mut buf = [0u8; 256];
    let (n, _) = recv_from(&rx, &mut buf).unwrap();
    let gbk = encoding_rs::GBK.encode(text).0;
    assert_eq!(&buf[..n], &gbk[..], "the label gb2312 means GBK");
    if have("python3") {
        // The classic receiver decodes strictly as GB2312: it cannot.
        let script = "import sys; d = bytes.fromhex(sys.argv[1])\n\
                      try:\n    d.decode('gb2312'); print('gb2312 ok')\n\
                      except UnicodeDecodeError as e: print('gb2312:', e.reason)\n\
                      print('gbk:', d.decode('gbk'))";
        let hex: String = buf[..n].iter().map(|b| format!("{b:02x}")).collect();
        let (code, out, err) = run(Command::new("python3").args(["-c", script, &hex]));
        assert_eq!(code, Some(0), "{err}");
        assert!(out.contains("gb2312: illegal multibyte sequence"), "{out}");
        assert!(out.contains(&format!("gbk: {text}")), "{out}");
    }
    let doc = readme();
    for said in [
        "input-box -m '中文测试：標點「」'",
        "illegal multibyte sequence",
        "`-e gbk` is the same as `gb2312`",
        "`-e gb18030` also writes every other character",
    ] {
        assert!(
            doc.contains(said),
            "the README's Encodings section lacks: {said}"
        );
    }
}

#[test]
fn the_readme_tells_a_wine_user_what_to_do_about_exit_53() {
    let doc = readme();
    assert!(doc.contains("exits at once with status 53"));
    assert!(doc.contains("scripts/wine/processprng.c -ladvapi32"));
    // The file it names is the one the scripts build.
    let c = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/wine/processprng.c");
    assert!(std::fs::read_to_string(c).unwrap().contains("ProcessPrng"));
}
