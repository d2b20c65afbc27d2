//! The language of what people read: each binary under a Chinese locale,
//! under `C.UTF-8`, and with `LANCHAT_LANG` overriding either; what
//! programs read unchanged; the room's notices and the page in the
//! reader's language.

use std::net::UdpSocket;
use std::process::Command;

use crate::util::{bin, have, run, Proc, LANGUAGE_VARS};

const BINS: [&str; 5] = [
    "chat-window",
    "input-box",
    "room-server",
    "room-client",
    "lanchat",
];

/// `bin` with only the given language variables set.
fn cmd(name: &str, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(bin(name));
    for v in LANGUAGE_VARS {
        c.env_remove(v);
    }
    // Asked for, even when empty: the tests' default English stays out.
    c.env("LC_MESSAGES", "");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn help(name: &str, env: &[(&str, &str)]) -> String {
    let (code, out, err) = run(cmd(name, env).arg("--help"));
    assert_eq!(code, Some(0), "{name} --help: {err}");
    out
}

fn chinese(text: &str) -> bool {
    text.contains("用法：") && text.contains("选项：") && !text.contains("Usage:")
}

fn english(text: &str) -> bool {
    text.contains("Usage:") && text.contains("Options:") && !text.contains("用法")
}

#[test]
fn every_binary_chooses_its_language_from_the_locale_and_lanchat_lang() {
    for name in BINS {
        let zh = help(name, &[("LANG", "zh_CN.UTF-8")]);
        assert!(chinese(&zh), "{name} under LANG=zh_CN.UTF-8:\n{zh}");
        // Its own words, not only clap's headings.
        assert!(zh.contains("退出码："), "{name}:\n{zh}");
        assert!(zh.contains("显示帮助"), "{name}:\n{zh}");
        assert!(
            english(&help(name, &[("LANG", "C.UTF-8")])),
            "{name} under C.UTF-8"
        );
        assert!(english(&help(name, &[])), "{name} with no locale at all");
        // LANCHAT_LANG overrides the locale, both ways.
        let over = help(name, &[("LANG", "C.UTF-8"), ("LANCHAT_LANG", "zh-CN")]);
        assert!(chinese(&over), "{name}: LANCHAT_LANG=zh-CN");
        let over = help(name, &[("LANG", "zh_CN.UTF-8"), ("LANCHAT_LANG", "en")]);
        assert!(english(&over), "{name}: LANCHAT_LANG=en");
    }
    // POSIX order: LC_ALL, then LC_MESSAGES, then LANG.
    let t = |env: &[(&str, &str)]| help("input-box", env);
    assert!(english(&t(&[
        ("LC_ALL", "C.UTF-8"),
        ("LANG", "zh_CN.UTF-8")
    ])));
    assert!(chinese(&t(&[
        ("LC_MESSAGES", "zh_CN.UTF-8"),
        ("LANG", "C.UTF-8")
    ])));
    assert!(english(&t(&[
        ("LC_ALL", "en_US.UTF-8"),
        ("LC_MESSAGES", "zh_CN.UTF-8")
    ])));
}

#[test]
fn usage_errors_are_said_in_chinese_and_still_exit_2() {
    let zh = [("LANG", "zh_CN.UTF-8")];
    let (code, _, err) = run(cmd("chat-window", &zh).args(["--port", "x"]));
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("错误：'--port <PORT>' 的值 'x' 无效：'x' 不是整数"),
        "{err}"
    );
    assert!(err.contains("用法：chat-window [OPTIONS]"), "{err}");
    assert!(err.contains("更多信息请运行 '--help'。"), "{err}");
    let (code, _, err) = run(cmd("input-box", &zh).arg("--bogus"));
    assert_eq!(code, Some(2));
    assert!(err.starts_with("错误：无法识别的参数 '--bogus'"), "{err}");
    let (code, _, err) = run(cmd("lanchat", &zh).args(["a", "b"]));
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("错误：一次只能有一个 TARGET（只有 --ipmsg 时可以有多个）"),
        "{err}"
    );
    let (code, _, err) = run(cmd("room-server", &zh).args(["--max-rate", "0"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("至少要是 1"), "{err}");
    // The same in English, as clap says it.
    let (code, _, err) = run(cmd("chat-window", &[]).args(["--port", "x"]));
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("error: invalid value 'x' for '--port <PORT>'"),
        "{err}"
    );
    assert!(err.contains("Usage: chat-window [OPTIONS]"), "{err}");
}

#[test]
fn runtime_errors_and_status_lines_in_chinese_keep_the_lines_scripts_read() {
    let zh = [("LANG", "zh_CN.UTF-8")];
    // A port another program holds.
    let held = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let (code, _, err) = run(cmd("chat-window", &zh).args(["-b", "127.0.0.1", "-p", &port]));
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!(
            "chat-window: 无法监听 127.0.0.1:{port}：地址已被占用"
        )),
        "{err}"
    );
    // `listening on` stays as it is; the rest is Chinese.
    let (code, _, err) = run(cmd("chat-window", &zh).args([
        "-b",
        "127.0.0.1",
        "-p",
        "0",
        "--count",
        "1",
        "--timeout",
        "200ms",
    ]));
    assert_eq!(code, Some(1));
    assert!(err.contains("\nlistening on 127.0.0.1:"), "{err}");
    assert!(err.contains("接收缓冲区："), "{err}");
    assert!(err.contains("共显示 0 条消息"), "{err}");
    assert!(err.contains("后超时：1 条消息只到了 0 条"), "{err}");
    // input-box refuses a line in Chinese, and its summary.
    let (code, _, err) = run(cmd("input-box", &zh).args(["127.0.0.1", "-p", &port, "-m", "好😀"]));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("input-box: 第 1 行：'😀'（U+1F600）无法用 gb2312 表示"),
        "{err}"
    );
    assert!(err.contains("；未发送"), "{err}");
    assert!(err.contains("1 行未发送"), "{err}");
    // room-server: the line scripts wait for, unchanged.
    let mut c = cmd("room-server", &zh);
    c.args(["-b", "127.0.0.1", "-p", "0", "--web", "127.0.0.1:0"]);
    let mut srv = Proc::spawn_cmd("room-server", &mut c);
    srv.wait_stderr("Chat server started on 127.0.0.1:");
    srv.wait_stderr("Web page on http://127.0.0.1:");
}

#[test]
fn lanchat_shows_the_rooms_notices_and_its_own_words_in_chinese() {
    if !have("tmux") {
        return;
    }
    let mut srv = Proc::spawn("room-server", &["-b", "127.0.0.1", "-p", "0"]);
    let room = srv.listen_addr("Chat server started on");
    let l = crate::lanchat::Lanchat::start_env(
        &["--room", &room.to_string()],
        110,
        24,
        "LANCHAT_LANG=zh-CN",
    );
    l.term
        .wait_screen(|s| s.contains("输入一行，按回车：它会发往"));
    l.term.wait_screen(|s| s.contains("/help 列出按键和命令"));
    let mut other = crate::room::Conn::open("127.0.0.2", room);
    let who = other.name.clone();
    let screen = l
        .term
        .wait_screen(|s| s.contains(&format!("[{who}] 进入了聊天室")));
    assert!(!screen.contains("entered room"), "{screen}");
    other.send(b"/nick laowang\n");
    l.term
        .wait_screen(|s| s.contains(&format!("[{who}] 改名为 laowang")));
    l.term.type_text("/nosuch");
    l.term.key("Enter");
    l.term
        .wait_screen(|s| s.contains("没有 /nosuch 这个命令；/help 列出所有命令"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_follows_the_browsers_language_and_says_the_rooms_notices_in_it() {
    if !have("chromium") || !have("chromedriver") {
        return;
    }
    // The server itself speaks English: the page's words are the browser's.
    let mut srv = Proc::spawn(
        "room-server",
        &["-b", "127.0.0.1", "-p", "0", "--web", "127.0.0.1:0"],
    );
    let room = srv.listen_addr("Chat server started on");
    let web = srv
        .wait_stderr("Web page on http://")
        .trim_start_matches("Web page on http://")
        .trim_end_matches('/')
        .to_string();
    let driver = crate::web::Driver::start();
    for (lang, html_lang, connected, send, entered, renamed) in [
        (
            "zh-CN",
            "zh-CN",
            "已连接",
            "发送",
            "进入了聊天室",
            "改名为 小王",
        ),
        (
            "en-US",
            "en",
            "connected",
            "Send",
            "entered room",
            "is now 小王",
        ),
    ] {
        let page = driver.browser_lang(&format!("lang-{lang}"), lang).await;
        page.goto(&format!("http://{web}/")).await.unwrap();
        crate::web::wait_for(
            &page,
            connected,
            &format!("return document.getElementById('state').textContent === '{connected}'"),
        )
        .await;
        let got = page
            .execute(
                "return [document.documentElement.lang, document.querySelector('#send button').textContent]",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(got, serde_json::json!([html_lang, send]), "{lang}");
        // A member comes and takes a name: the notices in the page's words.
        let mut nc = crate::room::Conn::open("127.0.0.2", room);
        let who = nc.name.clone();
        crate::web::wait_for(
            &page,
            entered,
            &format!(
                "return [...document.querySelectorAll('#messages .notice')].some(r => r.textContent.includes('[{who}] {entered}'))"
            ),
        )
        .await;
        // In the room's encoding (GB2312), as a Windows nc would.
        nc.send(&encoding_rs::GBK.encode("/nick 小王\n").0);
        crate::web::wait_for(
            &page,
            renamed,
            &format!(
                "return [...document.querySelectorAll('#messages .notice')].some(r => r.textContent.includes('[{who}] {renamed}'))"
            ),
        )
        .await;
        // nc reads the room's own words, whatever the page's language.
        let lines: Vec<String> = (0..3)
            .map(|_| String::from_utf8_lossy(&nc.line_bytes()).into_owned())
            .take_while(|l| !l.contains("is now"))
            .collect();
        assert!(lines.len() < 3, "no `is now` for nc: {lines:?}");
        page.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_window_speaks_chinese_to_a_chinese_user() {
    if !have("chromium") || !have("chromedriver") {
        return;
    }
    use crate::gui::{js, type_enter, Gui};
    let gui = Gui::start_env(
        &["-b", "127.0.0.1", "-p", "0", "127.0.0.1:9"],
        &[("LANCHAT_LANG", "zh-CN")],
    );
    let driver = crate::web::Driver::start();
    let page = driver.browser_lang("gui-zh", "zh-CN").await;
    page.goto(&gui.url).await.unwrap();
    crate::web::wait_for(
        &page,
        "已连接",
        "return document.getElementById('state').textContent === '已连接'",
    )
    .await;
    // lanchat's words (its hints) and the page's (buttons, the facts).
    crate::web::wait_for(
        &page,
        "the hints",
        "return document.getElementById('messages').textContent.includes('输入一行，按回车：它会发往 127.0.0.1:9。')",
    )
    .await;
    let got = js(
        &page,
        "return [document.getElementById('quit').textContent, document.querySelector('#send button').textContent,
                 document.getElementById('members-title').textContent,
                 document.querySelector('#status .facts').textContent]",
    )
    .await;
    assert_eq!(got[0], "退出", "{got}");
    assert_eq!(got[1], "发送", "{got}");
    assert_eq!(got[2], "发送者", "{got}");
    assert!(
        got[3].as_str().unwrap().contains("0 条消息，0 个发送方"),
        "{got}"
    );
    // A refused command: the reason in Chinese, the text back in the box.
    type_enter(&page, "/bogus").await;
    crate::web::wait_for(
        &page,
        "the refusal",
        "return document.getElementById('error').textContent === '没有 /bogus 这个命令；/help 列出所有命令'
            && document.getElementById('input').value === '/bogus'",
    )
    .await;
    page.close().await.unwrap();
}
