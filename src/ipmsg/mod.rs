//! `lanchat --ipmsg`: a member of an IP Messenger LAN (IPMsg for Windows,
//! FeiQ 飞秋, iptux), in the same window as the other modes.
//!
//! ```text
//! socket (UDP 2425) ──▶ thread: Engine::receive / Engine::tick ──▶ answers (ANSENTRY, RECVMSG)
//!                                   │                                  and resends, same socket
//!                                   └──▶ events: messages, users, 上线/下线, ✓ / ✗
//! window: Enter ──▶ Ipmsg::send ──▶ Engine::send ──▶ SENDMSG|SENDCHECKOPT per user
//! ```
//!
//! * [`packet`]: the packet format, parsed and built;
//! * [`engine`]: the protocol's state (users, unconfirmed messages,
//!   duplicates), pure and unit-tested.
//!
//! Handled: BR_ENTRY, ANSENTRY, BR_ABSENCE, BR_EXIT, SENDMSG (with
//! SENDCHECKOPT answered by RECVMSG), RECVMSG, GETINFO, GETABSENCEINFO.
//! Not handled: file transfer, encryption, sealed messages' READMSG,
//! absence messages of our own.

pub mod engine;
pub mod packet;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::encoding::Encoding;
use crate::message::{local_hms, timestamp};
use crate::net::{self, BatchReceiver};
use crate::ui::app::{Drops, Incoming, Mark, Outgoing, User, Who};
use crate::ui::transport::{resolve, Event, Log, SendError, Transport};
use engine::{Engine, Happened, Me, Out};

pub use packet::PORT;

/// Longest text sent in one packet, in bytes (iptux reads 8 KiB packets).
pub const MAX_TEXT: usize = 7_900;

/// Who this user is, and where else to announce it.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--name` (default: the login name).
    pub nick: Option<String>,
    /// `--group`.
    pub group: String,
    /// The legacy encoding (`-e`, GBK by default).
    pub encoding: Encoding,
    /// TARGETs: hosts on other subnets to announce to.
    pub targets: Vec<String>,
}

/// The login name (USER of the packets).
pub fn login_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            // SAFETY: getuid never fails; getpwuid returns static data or null.
            unsafe {
                let pw = libc::getpwuid(libc::getuid());
                if pw.is_null() || (*pw).pw_name.is_null() {
                    "lanchat".into()
                } else {
                    std::ffi::CStr::from_ptr((*pw).pw_name)
                        .to_string_lossy()
                        .into_owned()
                }
            }
        })
}

/// The host name (HOST of the packets).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A log record of an IP Messenger message.
#[derive(Serialize)]
struct Record<'a> {
    ts: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    text: &'a str,
    bytes: usize,
    nick: &'a str,
    packet: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered: Option<bool>,
}

/// The IP Messenger mode.
pub struct Ipmsg {
    socket: Arc<UdpSocket>,
    engine: Arc<Mutex<Engine>>,
    announce: Vec<SocketAddr>,
    selected: Option<SocketAddr>,
    stop: Arc<AtomicBool>,
    closed: bool,
}

impl Ipmsg {
    /// Starts on a bound socket: says BR_ENTRY to the local networks'
    /// broadcast addresses and to each TARGET, and answers from now on.
    ///
    /// # Errors
    /// A message for a TARGET that cannot be resolved, or a nick the
    /// encoding cannot write.
    pub fn start(
        socket: UdpSocket,
        config: Config,
        log: Option<Log>,
        events: SyncSender<Event>,
    ) -> Result<Ipmsg, String> {
        let local = socket.local_addr().map_err(|e| net::describe(&e))?;
        let port = local.port();
        let _ = socket.set_broadcast(true);
        let user = login_name();
        let nick = config.nick.clone().unwrap_or_else(|| user.clone());
        if let Err(e) = config.encoding.encode(&nick) {
            return Err(format!("--name: {e}"));
        }
        let mut announce: Vec<SocketAddr> = net::local_broadcasts()
            .into_iter()
            .map(|b| SocketAddr::new(IpAddr::V4(b), port))
            .collect();
        for t in &config.targets {
            announce.push(resolve(t, port, Some(local))?);
        }
        let first_no = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1);
        let me = Me {
            user,
            host: host_name(),
            nick,
            group: config.group.clone(),
        };
        let mut engine = Engine::new(me, config.encoding, port, net::local_ips(), first_no);
        let hello = engine.entry(&announce);
        let socket = Arc::new(socket);
        let engine = Arc::new(Mutex::new(engine));
        let stop = Arc::new(AtomicBool::new(false));
        send_all(&socket, &hello);
        let worker = Worker {
            socket: socket.clone(),
            engine: engine.clone(),
            log,
            events,
            stop: stop.clone(),
        };
        thread::spawn(move || worker.run());
        Ok(Ipmsg {
            socket,
            engine,
            announce,
            selected: None,
            stop,
            closed: false,
        })
    }
}

fn send_all(socket: &UdpSocket, outs: &[Out]) {
    for o in outs {
        let _ = socket.send_to(&o.data, o.to);
    }
}

impl Transport for Ipmsg {
    fn send(
        &mut self,
        lines: &[Outgoing],
        entries: &[u64],
        _time: SystemTime,
    ) -> Result<(), SendError> {
        let now = Instant::now();
        let mut outs = Vec::new();
        {
            let mut engine = self
                .engine
                .lock()
                .map_err(|_| SendError("internal error".into()))?;
            for (line, &seq) in lines.iter().zip(entries) {
                outs.extend(
                    engine
                        .send(self.selected, &line.text, seq, now)
                        .map_err(SendError)?,
                );
            }
        }
        send_all(&self.socket, &outs);
        Ok(())
    }

    fn set_target(&mut self, _target: &str) -> Result<String, String> {
        Err("choose a user with /to NICK, /to IP or Tab".into())
    }

    fn select(&mut self, user: Option<SocketAddr>) {
        self.selected = user;
    }

    fn target_label(&self) -> String {
        "everyone online".into()
    }

    /// BR_EXIT to the broadcast addresses, the TARGETs and every user
    /// online.
    fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(mut engine) = self.engine.lock() {
            let bye = engine.exit(&self.announce);
            send_all(&self.socket, &bye);
        }
    }
}

impl Drop for Ipmsg {
    /// Every way out says goodbye, a panic that unwinds included.
    fn drop(&mut self) {
        self.close();
    }
}

/// The thread that receives, answers and resends.
struct Worker {
    socket: Arc<UdpSocket>,
    engine: Arc<Mutex<Engine>>,
    log: Option<Log>,
    events: SyncSender<Event>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(self) {
        let mut rx = BatchReceiver::new();
        while !self.stop.load(Ordering::Relaxed) {
            // Wake for the next resend, or to look at the stop flag.
            let wait = self
                .engine
                .lock()
                .ok()
                .and_then(|e| e.next_due())
                .map(|due| due.saturating_duration_since(Instant::now()))
                .unwrap_or(crate::stop::POLL_INTERVAL)
                .clamp(Duration::from_millis(1), crate::stop::POLL_INTERVAL);
            let _ = net::set_poll_timeout(&self.socket, wait);
            let n = match rx.recv(&self.socket, true) {
                Ok(n) => n,
                Err(e) if net::is_transient(&e) || net::is_icmp_report(&e) => 0,
                Err(e) => {
                    let _ = self.events.send(Event::Warning(format!(
                        "receiving failed: {}",
                        net::describe(&e)
                    )));
                    thread::sleep(crate::stop::POLL_INTERVAL);
                    0
                }
            };
            let now = Instant::now();
            let mut outs = Vec::new();
            let mut happened = Vec::new();
            let users = {
                let Ok(mut engine) = self.engine.lock() else {
                    return;
                };
                for i in 0..n {
                    let (from, data) = rx.get(i);
                    let (o, h) = engine.receive(from, data, now);
                    outs.extend(o);
                    happened.extend(h);
                }
                let (o, h) = engine.tick(now);
                outs.extend(o);
                happened.extend(h);
                happened
                    .iter()
                    .any(|h| matches!(h, Happened::Users))
                    .then(|| users(&engine))
            };
            send_all(&self.socket, &outs);
            if !self.report(happened, users) {
                return;
            }
        }
    }

    /// Tells the window (and the log) what happened; false when the
    /// window is gone.
    fn report(&self, happened: Vec<Happened>, users: Option<Vec<User>>) -> bool {
        let wall = SystemTime::now();
        let hms = local_hms(wall);
        let mut batch = Vec::new();
        let mut drops = Drops::default();
        let mut log = String::new();
        let mut events = Vec::new();
        for h in happened {
            match h {
                Happened::Message {
                    from,
                    nick,
                    text,
                    raw,
                    packet,
                    bytes,
                } => {
                    if self.log.is_some() {
                        push_record(
                            &mut log,
                            Record {
                                ts: timestamp(wall),
                                from: Some(from.to_string()),
                                to: None,
                                text: &raw,
                                bytes,
                                nick: nick.as_deref().unwrap_or(""),
                                packet,
                                delivered: None,
                            },
                        );
                    }
                    let who = match nick {
                        Some(nick) => Who::Nick { nick, addr: from },
                        None => Who::Peer(from),
                    };
                    batch.push(Incoming {
                        time: hms.clone(),
                        who,
                        text,
                    });
                }
                Happened::Online { nick, addr } => {
                    events.push(Event::Presence(format!("{nick} ({}) 上线", addr.ip())))
                }
                Happened::Offline { nick, addr } => {
                    events.push(Event::Presence(format!("{nick} ({}) 下线", addr.ip())))
                }
                Happened::Sent {
                    to,
                    nick,
                    packet,
                    text,
                    bytes,
                    delivered,
                    ..
                } => {
                    if self.log.is_some() {
                        push_record(
                            &mut log,
                            Record {
                                ts: timestamp(wall),
                                from: None,
                                to: Some(to.to_string()),
                                text: &text,
                                bytes,
                                nick: &nick,
                                packet,
                                delivered: Some(delivered),
                            },
                        );
                    }
                }
                Happened::Settled { seq, delivered } => events.push(Event::Delivery {
                    seq,
                    mark: if delivered {
                        Mark::Delivered
                    } else {
                        Mark::NotDelivered
                    },
                }),
                Happened::Malformed => drops.malformed += 1,
                Happened::Users => {}
            }
        }
        if let Some(l) = &self.log {
            l.write(&log);
        }
        if let Some(users) = users {
            if self.events.send(Event::Users(users)).is_err() {
                return false;
            }
        }
        for e in events {
            if self.events.send(e).is_err() {
                return false;
            }
        }
        if !batch.is_empty() || drops != Drops::default() {
            return self.events.send(Event::Received(batch, drops)).is_ok();
        }
        true
    }
}

fn push_record(log: &mut String, record: Record<'_>) {
    log.push_str(&serde_json::to_string(&record).expect("a record always serializes"));
    log.push('\n');
}

/// The users pane's list: by nick, then address.
fn users(engine: &Engine) -> Vec<User> {
    let mut list: Vec<User> = engine
        .peers()
        .iter()
        .map(|(addr, p)| User {
            nick: p.nick.clone(),
            group: p.group.clone(),
            addr: *addr,
            absent: p.absent,
        })
        .collect();
    list.sort_by(|a, b| a.nick.cmp(&b.nick).then(a.addr.cmp(&b.addr)));
    list
}
