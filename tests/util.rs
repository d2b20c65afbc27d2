//! Helpers for the integration tests: spawn the real binaries, read their
//! output with bounded waits, and kill them on drop; run the room server
//! in-process.
//!
//! Waits follow events, never the clock: a wait ends when what it waits
//! for has happened, and [`WAIT`] only bounds how long a broken run takes
//! to fail (it is generous, so a busy machine is not a failure). Waiting
//! for one stderr line never throws away the lines before it:
//! [`Proc::wait_stderr_all`] finds lines in whatever order they came.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails: only a broken
/// run waits this long, so it is generous (a loaded machine is slow, not
/// broken).
pub const WAIT: Duration = Duration::from_secs(60);

/// A blocking TCP stream whose reads and writes go on after `EINTR`. A
/// blocking call with a timeout (`SO_RCVTIMEO`) is not restarted by the
/// kernel when the process is interrupted (a signal, a stop and continue
/// of a busy machine's scheduler), and libraries such as tungstenite pass
/// `Interrupted` up as a failure; a test must not fail for that.
#[derive(Debug)]
pub struct Patient(pub std::net::TcpStream);

impl Read for Patient {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

impl Write for Patient {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        loop {
            match self.0.write(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// One datagram and its sender, within the socket's read timeout (an
/// `EINTR` is retried, see [`Patient`]).
pub fn recv_from(s: &UdpSocket, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    loop {
        match s.recv_from(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// The variables that choose the language of what the binaries say.
pub const LANGUAGE_VARS: [&str; 4] = ["LANCHAT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"];

/// Tests read the English words unless a test asks for a language itself
/// (whatever the locale of the machine running them).
pub fn english_unless_asked(cmd: &mut Command) {
    let asked = cmd
        .get_envs()
        .any(|(k, _)| LANGUAGE_VARS.iter().any(|v| k == *v));
    if !asked {
        cmd.env("LANCHAT_LANG", "en");
    }
}

/// The path of one of the project's binaries.
pub fn bin(name: &str) -> &'static str {
    match name {
        "chat-window" => env!("CARGO_BIN_EXE_chat-window"),
        "input-box" => env!("CARGO_BIN_EXE_input-box"),
        "room-server" => env!("CARGO_BIN_EXE_room-server"),
        "room-client" => env!("CARGO_BIN_EXE_room-client"),
        "lanchat" => env!("CARGO_BIN_EXE_lanchat"),
        other => panic!("no binary {other}"),
    }
}

/// A running child: its output read on threads into channels; killed and
/// reaped when dropped.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    stdout: Receiver<Vec<u8>>,
    stderr: Arc<Lines>,
    /// Lines of stderr before this were matched by [`Proc::wait_stderr`].
    stderr_cursor: usize,
    stderr_done: Option<Receiver<()>>,
}

/// Every stderr line so far, and a signal when one comes.
#[derive(Default)]
struct Lines {
    all: Mutex<Vec<String>>,
    more: Condvar,
}

impl Lines {
    /// Waits (bounded by [`WAIT`]) until `found` finds something in the
    /// lines; returns it, or None at the deadline.
    fn wait_for<T>(&self, mut found: impl FnMut(&[String]) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + WAIT;
        let mut all = self.all.lock().unwrap();
        loop {
            if let Some(t) = found(&all) {
                return Some(t);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            all = self.more.wait_timeout(all, left).unwrap().0;
        }
    }
}

fn lines_to_channel<R: Read + Send + 'static>(r: R) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut r = BufReader::new(r);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if line.ends_with(b"\n") {
                        line.pop();
                    }
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

impl Proc {
    /// Spawns a binary of this project with piped stdin, stdout and stderr.
    pub fn spawn(name: &str, args: &[&str]) -> Proc {
        Self::spawn_cmd(name, Command::new(bin(name)).args(args))
    }

    /// Spawns any prepared command.
    pub fn spawn_cmd(name: &str, cmd: &mut Command) -> Proc {
        Self::spawn_cmd_keep_stdout(name, cmd.stdout(Stdio::piped()))
    }

    /// Spawns a command whose stdout the caller has set (a piped stdout is
    /// still read into the channel).
    pub fn spawn_cmd_keep_stdout(name: &str, cmd: &mut Command) -> Proc {
        english_unless_asked(cmd);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = match child.stdout.take() {
            Some(out) => lines_to_channel(out),
            None => mpsc::channel().1,
        };
        let stderr_raw = lines_to_channel(child.stderr.take().unwrap());
        let lines = Arc::new(Lines::default());
        let lines2 = lines.clone();
        let (done_tx, stderr_done) = mpsc::channel();
        thread::spawn(move || {
            for line in stderr_raw {
                let line = String::from_utf8_lossy(&line).into_owned();
                lines2.all.lock().unwrap().push(line);
                lines2.more.notify_all();
            }
            let _ = done_tx.send(());
        });
        Proc {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr: lines,
            stderr_cursor: 0,
            stderr_done: Some(stderr_done),
        }
    }

    /// Waits for the next stderr line containing `needle` (after the one
    /// the previous call found); returns it. The lines passed over stay
    /// (see [`Proc::wait_stderr_all`]).
    pub fn wait_stderr(&mut self, needle: &str) -> String {
        let from = self.stderr_cursor;
        let found = self.stderr.wait_for(|all| {
            all.iter()
                .enumerate()
                .skip(from)
                .find(|(_, l)| l.contains(needle))
                .map(|(i, l)| (i, l.clone()))
        });
        match found {
            Some((i, line)) => {
                self.stderr_cursor = i + 1;
                line
            }
            None => panic!(
                "{}: no stderr line containing {needle:?} within {WAIT:?}; stderr so far:\n{}",
                self.name,
                self.stderr()
            ),
        }
    }

    /// Waits until each of `needles` is in some stderr line since the
    /// start, in any order (for events whose order is not promised, such
    /// as which stuck member the room drops first).
    pub fn wait_stderr_all<S: AsRef<str>>(&self, needles: &[S]) {
        let found = self.stderr.wait_for(|all| {
            needles
                .iter()
                .all(|n| all.iter().any(|l| l.contains(n.as_ref())))
                .then_some(())
        });
        if found.is_none() {
            let missing: Vec<&str> = {
                let all = self.stderr.all.lock().unwrap();
                needles
                    .iter()
                    .map(AsRef::as_ref)
                    .filter(|n| !all.iter().any(|l| l.contains(n)))
                    .collect()
            };
            panic!(
                "{}: no stderr lines containing {missing:?} within {WAIT:?}; stderr so far:\n{}",
                self.name,
                self.stderr()
            );
        }
    }

    /// Waits for `listening on ADDR:PORT` (or `started on`) and returns the address.
    pub fn listen_addr(&mut self, marker: &str) -> SocketAddr {
        let line = self.wait_stderr(marker);
        let addr = line.rsplit(' ').next().unwrap();
        addr.parse()
            .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"))
    }

    /// All stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.all.lock().unwrap().join("\n")
    }

    /// The next stdout line, as raw bytes.
    pub fn line_bytes(&mut self) -> Vec<u8> {
        match self.stdout.recv_timeout(WAIT) {
            Ok(l) => l,
            Err(e) => panic!(
                "{}: no stdout line within {WAIT:?} ({e:?}); stderr:\n{}",
                self.name,
                self.stderr()
            ),
        }
    }

    /// The next stdout line.
    pub fn line(&mut self) -> String {
        String::from_utf8(self.line_bytes()).expect("stdout is UTF-8")
    }

    /// The next `n` stdout lines.
    pub fn lines(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|_| self.line()).collect()
    }

    /// All remaining stdout lines until the process closes stdout.
    pub fn rest(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(l) => out.push(String::from_utf8_lossy(&l).into_owned()),
                Err(RecvTimeoutError::Disconnected) => return out,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: stdout not closed in time", self.name)
                }
            }
        }
    }

    /// Writes to stdin.
    pub fn write(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(data).unwrap();
        stdin.flush().unwrap();
    }

    /// Closes stdin.
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Sends a signal.
    #[cfg(unix)]
    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Waits for exit (bounded); returns the status.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Stderr is complete once its pipe closes.
                if let Some(done) = self.stderr_done.take() {
                    let _ = done.recv_timeout(WAIT);
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "{}: did not exit within {WAIT:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for exit and checks the code, printing stderr on mismatch.
    pub fn expect_exit(&mut self, code: i32) {
        let status = self.wait();
        assert_eq!(
            status.code(),
            Some(code),
            "{}: expected exit {code}, found {status}; stderr:\n{}",
            self.name,
            self.stderr()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a chat window on 127.0.0.1, port 0, with extra args; returns it and
/// its real address.
pub fn window(args: &[&str]) -> (Proc, SocketAddr) {
    let mut all = vec!["-b", "127.0.0.1", "-p", "0"];
    all.extend_from_slice(args);
    let mut p = Proc::spawn("chat-window", &all);
    let addr = p.listen_addr("listening on");
    (p, addr)
}

/// Runs a command to completion (bounded) and returns (code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let mut p = Proc::spawn_cmd("command", cmd);
    p.close_stdin();
    let status = p.wait();
    // All of stdout: its reader thread may still be handing lines over.
    let out = p.rest();
    (status.code(), out.join("\n"), p.stderr())
}

/// Runs a project binary with stdin from `input` to completion.
pub fn run_bin_with_input(name: &str, args: &[&str], input: &[u8]) -> (Option<i32>, String) {
    let mut p = Proc::spawn(name, args);
    p.write(input);
    p.close_stdin();
    let status = p.wait();
    (status.code(), p.stderr())
}

/// A UDP socket bound to `ip:0` with a read timeout.
pub fn udp(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind((ip, 0)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

/// Whether a program is on PATH. In CI (CI=true) a missing peer is a failure,
/// elsewhere the test says it skipped.
pub fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{program} is required in CI (.ci/run installs it)");
        }
        eprintln!("SKIPPED: {program} not installed");
    }
    found
}

/// The classic Python receiver: recvfrom(1024), print the sender, decode
/// GB2312. Prints its port first.
pub const PY_RECEIVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
s.settimeout(20)
data, addr = s.recvfrom(1024)
print("%s:%d" % addr)
print(data.decode("gb2312"), flush=True)
"#;

/// The classic Python sender: input(), encode GB2312, sendto; `88` quits.
pub const PY_SENDER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
port = int(sys.argv[1])
while True:
    line = input()
    s.sendto(line.encode("gb2312"), ("127.0.0.1", port))
    if line == "88":
        break
"#;

/// A program running in its own tmux server on a pseudo-terminal; the
/// server is killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `cmd` in a new detached session of `cols`×`rows`.
    pub fn start(name: &str, cmd: &str, cols: u16, rows: u16) -> Tmux {
        let t = Tmux {
            socket: format!("lanchat-{name}-{}", std::process::id()),
        };
        t.run(&[
            "new-session",
            "-e",
            "LANCHAT_LANG=en",
            "-d",
            "-s",
            "main",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
            cmd,
        ]);
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types text literally.
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "main", "-l", text]);
    }

    /// Presses a named key (`Enter`, `BSpace`, `Up`).
    pub fn key(&self, key: &str) {
        self.run(&["send-keys", "-t", "main", key]);
    }

    /// Runs any tmux command on this server.
    pub fn run_args(&self, args: &[&str]) -> String {
        self.run(args)
    }

    /// The screen as it is now.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "main"])
    }

    /// The pid of the program the pane runs.
    pub fn pane_pid(&self) -> u32 {
        self.run(&["display-message", "-p", "-t", "main", "#{pane_pid}"])
            .trim()
            .parse()
            .expect("tmux gives the pane's pid")
    }

    /// Resizes the window.
    pub fn resize(&self, cols: u16, rows: u16) {
        self.run(&[
            "resize-window",
            "-t",
            "main",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
    }

    /// Polls the screen (bounded by WAIT) until `want` holds; returns it.
    pub fn wait_screen(&self, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.run(&["capture-pane", "-p", "-t", "main"]);
            if want(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "screen never matched:\n{screen}");
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// The `ip:port` inside a `[ip:port] entered room` line.
pub fn bracketed_name(line: &str) -> String {
    line.trim_start_matches('[')
        .split(']')
        .next()
        .unwrap()
        .to_string()
}

/// A room server running in this test process on `127.0.0.1:0` (as
/// mini-redis's tests run theirs): stopped and joined when dropped.
pub struct Room {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: lanchat::stop::Stop,
    waker: Arc<mio::Waker>,
    thread: Option<thread::JoinHandle<lanchat::room::server::Stats>>,
}

impl Room {
    /// Stops the server; returns its counts.
    pub fn stop(mut self) -> lanchat::room::server::Stats {
        self.halt().expect("the server thread ran")
    }

    fn halt(&mut self) -> Option<lanchat::room::server::Stats> {
        self.stop.set();
        let _ = self.waker.wake();
        self.thread
            .take()
            .map(|t| t.join().expect("the server did not panic"))
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Starts the room server in-process with `config` (quiet: no stderr).
pub fn start_server(config: lanchat::room::server::Config) -> Room {
    use lanchat::net::bind_tcp as bind;
    use lanchat::room::server::{Config, Server};
    let config = Config {
        verbose: false,
        ..config
    };
    let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = lanchat::stop::Stop::new();
    let flag = stop.clone();
    // The server lives on its thread (it shares lines with Rc, one thread's).
    let (tx, rx) = mpsc::channel();
    let thread = thread::spawn(move || {
        let server = Server::new(listener, config).unwrap();
        tx.send(server.waker()).unwrap();
        server.run(&flag).unwrap()
    });
    let waker = rx.recv_timeout(WAIT).expect("the server started");
    Room {
        addr,
        stop,
        waker,
        thread: Some(thread),
    }
}
