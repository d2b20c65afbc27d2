//! IP Messenger mode: `lanchat` as one user of an IP Messenger / FeiQ /
//! iptux LAN, over the protocol in [`crate::ipmsg`].
//!
//! ```text
//! socket (UDP 2425) ──▶ thread: Engine::receive / Engine::tick ──▶ answers (ANSENTRY, RECVMSG)
//!                                   │                                  and resends, same socket
//!                                   └──▶ Sink: messages, users, 上线/下线, ✓ / ✗
//! window: Enter ──▶ Ipmsg::send(to) ──▶ Engine::send ──▶ SENDMSG|SENDCHECKOPT per user
//! ```

use rust_i18n::t;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::transfers::{self, Files, FilesConfig, InOffer, Offeree};
use super::{Journal, Mode, SendError, Sink, Transport};
use crate::chat::{Drops, Event, FileCommand, Incoming, Mark, Outgoing, Spool, User, Who};
use crate::clock::{local_hms, timestamp};
use crate::encoding::Encoding;
use crate::ipmsg::engine::{Engine, Happened, Me, Out};
use crate::net::{self, BatchReceiver};

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
    /// `--download-dir`: where `/get` saves.
    pub download_dir: PathBuf,
}

/// The window's entry an offer's delivery is tracked under: none (an
/// offer's ✓ is for its files fetched, not for the packet arriving).
const OFFER_SEQ: u64 = u64::MAX;

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
    stop: Arc<AtomicBool>,
    closed: bool,
    files: Arc<Files>,
    /// The next offer's number, own and others' alike.
    offers: Arc<AtomicU64>,
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
        journal: Option<Journal>,
        sink: Sink,
    ) -> Result<Ipmsg, String> {
        let local = socket.local_addr().map_err(|e| net::describe(&e))?;
        let port = local.port();
        let _ = socket.set_broadcast(true);
        let user = crate::sys::user_name();
        let nick = config.nick.clone().unwrap_or_else(|| user.clone());
        if let Err(e) = config.encoding.encode(&nick) {
            return Err(format!("--name: {e}"));
        }
        let mut announce: Vec<SocketAddr> = net::local_broadcasts_for(local.ip())
            .into_iter()
            .map(|b| SocketAddr::new(IpAddr::V4(b), port))
            .collect();
        for t in &config.targets {
            announce.push(net::resolve(t, port, Some(local))?);
        }
        let first_no = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1);
        let me = Me {
            user,
            host: crate::sys::host_name(),
            nick,
            group: config.group.clone(),
        };
        let mut engine = Engine::new(me, config.encoding, port, net::local_ips(), first_no);
        let hello = engine.entry(&announce);
        let socket = Arc::new(socket);
        let engine = Arc::new(Mutex::new(engine));
        let stop = Arc::new(AtomicBool::new(false));
        send_all(&socket, &hello);
        let requests = engine.clone();
        let requester: transfers::Requester = Arc::new(move |to, command, packet, id, offset| {
            requests
                .lock()
                .map(|mut e| e.request(to, command, packet, id, offset))
                .unwrap_or_default()
        });
        let files = Arc::new(Files::start(
            FilesConfig {
                download_dir: config.download_dir.clone(),
                legacy: config.encoding,
                listen: local,
            },
            requester,
            journal.clone(),
            sink.clone(),
        ));
        let offers = Arc::new(AtomicU64::new(1));
        let worker = Worker {
            socket: socket.clone(),
            engine: engine.clone(),
            journal,
            sink,
            stop: stop.clone(),
            files: files.clone(),
            offers: offers.clone(),
        };
        thread::spawn(move || worker.run());
        Ok(Ipmsg {
            socket,
            engine,
            announce,
            stop,
            closed: false,
            files,
            offers,
        })
    }

    /// Where offered files are served, or why they are not.
    pub fn serving(&self) -> Result<SocketAddr, String> {
        self.files
            .serving
            .ok_or_else(|| self.files.not_serving.clone().unwrap_or_default())
    }

    fn offer(
        &mut self,
        paths: &[PathBuf],
        to: Option<SocketAddr>,
        spool: Option<Spool>,
    ) -> Result<String, String> {
        if paths.is_empty() {
            return Err(t!("files.send_usage").into_owned());
        }
        if let Some(why) = &self.files.not_serving {
            return Err(t!("files.not_serving", why = why).into_owned());
        }
        let items: Vec<transfers::Offered> = paths
            .iter()
            .enumerate()
            .map(|(id, p)| transfers::describe_path(id as u64, p))
            .collect::<Result<_, _>>()?;
        let listed: Vec<_> = items.iter().map(|o| o.item.clone()).collect();
        // iptux and FeiQ read packets of at most 8 KB, the header included.
        if transfers::MAX_LIST < crate::ipmsg::files::build_list(&listed).len() {
            return Err(t!("files.too_many_names", n = listed.len()).into_owned());
        }
        let (outs, offerees) = {
            let mut engine = self
                .engine
                .lock()
                .map_err(|_| t!("internal_error").into_owned())?;
            let sent = engine.offer(to, &listed, OFFER_SEQ, Instant::now())?;
            let offerees: Vec<Offeree> = sent
                .iter()
                .map(|(out, packet)| {
                    let peer = engine.peers().get(&out.to);
                    Offeree {
                        addr: out.to,
                        nick: peer.map_or_else(|| out.to.ip().to_string(), |p| p.nick.clone()),
                        packet: *packet,
                        utf8: peer.is_some_and(|p| p.utf8),
                    }
                })
                .collect();
            (
                sent.into_iter().map(|(o, _)| o).collect::<Vec<_>>(),
                offerees,
            )
        };
        let n = self.offers.fetch_add(1, Ordering::Relaxed);
        let whom = offerees.len();
        self.files.offered(n, items, offerees, spool);
        send_all(&self.socket, &outs);
        Ok(format!("offer [{n}] sent to {whom}"))
    }
}

fn send_all(socket: &UdpSocket, outs: &[Out]) {
    for o in outs {
        let _ = socket.send_to(&o.data, o.to);
    }
}

impl Transport for Ipmsg {
    fn mode(&self) -> Mode {
        Mode::Ipmsg
    }

    fn send(
        &mut self,
        lines: &[Outgoing],
        entries: &[u64],
        to: Option<SocketAddr>,
        _time: SystemTime,
    ) -> Result<Vec<String>, SendError> {
        let now = Instant::now();
        let mut outs = Vec::new();
        {
            let mut engine = self
                .engine
                .lock()
                .map_err(|_| SendError(t!("internal_error").into_owned()))?;
            for (line, &seq) in lines.iter().zip(entries) {
                outs.extend(engine.send(to, &line.text, seq, now).map_err(SendError)?);
            }
        }
        send_all(&self.socket, &outs);
        Ok(Vec::new())
    }

    fn set_target(&mut self, _target: &str) -> Result<String, String> {
        Err(t!("ipmsg.choose_user").into_owned())
    }

    fn files(&mut self, cmd: FileCommand, to: Option<SocketAddr>) -> Result<String, String> {
        match cmd {
            FileCommand::Send(paths) => self.offer(&paths, to, None),
            FileCommand::SendSpool(spool) => {
                let paths = spool.items().map_err(|e| {
                    t!("files.handed_over", why = crate::net::describe(&e)).into_owned()
                })?;
                self.offer(&paths, to, Some(spool))
            }
            FileCommand::Get(n) => self
                .files
                .get(n)
                .map(|()| t!("files.fetching", n = n).into_owned()),
            FileCommand::Drop(n) => {
                let (from, packet) = self.files.drop_offer(n)?;
                if let Ok(mut engine) = self.engine.lock() {
                    let out = engine.release(from, packet);
                    send_all(&self.socket, &[out]);
                }
                Ok(t!("files.dropped_n", n = n).into_owned())
            }
            FileCommand::Cancel(n) => self
                .files
                .cancel(n)
                .map(|()| t!("files.cancelled_n", n = n).into_owned()),
        }
    }

    fn target_label(&self) -> String {
        t!("ipmsg.everyone").into_owned()
    }

    /// BR_EXIT to the broadcast addresses, the TARGETs and every user
    /// online.
    fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.stop.store(true, Ordering::Relaxed);
        self.files.close();
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
    journal: Option<Journal>,
    sink: Sink,
    stop: Arc<AtomicBool>,
    files: Arc<Files>,
    offers: Arc<AtomicU64>,
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
                    self.sink.send(Event::Warning(
                        t!("window.recv", why = net::describe(&e)).into_owned(),
                    ));
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
                    if self.journal.is_some() {
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
                Happened::Offer {
                    from,
                    nick,
                    packet,
                    text,
                    items,
                    iptux,
                    utf8,
                } => {
                    let n = self.offers.fetch_add(1, Ordering::Relaxed);
                    let who = match &nick {
                        Some(nick) => Who::Nick {
                            nick: nick.clone(),
                            addr: from,
                        },
                        None => Who::Peer(from),
                    };
                    let offer = InOffer {
                        from,
                        nick: nick.unwrap_or_else(|| from.ip().to_string()),
                        packet,
                        items,
                        iptux,
                        utf8,
                    };
                    self.files.received(n, offer, who, &text);
                }
                Happened::Released { from, packet } => self.files.released(from, packet),
                Happened::Online { nick, addr } => {
                    events.push(Event::Presence(format!("{nick} ({}) 上线", addr.ip())))
                }
                Happened::Offline { nick, addr } => {
                    events.push(Event::Presence(format!("{nick} ({}) 下线", addr.ip())))
                }
                // An offer's packet arrived, or did not: its files say more.
                Happened::Sent { seq, .. } | Happened::Settled { seq, .. } if seq == OFFER_SEQ => {}
                Happened::Sent {
                    to,
                    nick,
                    packet,
                    text,
                    bytes,
                    delivered,
                    ..
                } => {
                    if self.journal.is_some() {
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
        if let Some(j) = &self.journal {
            j.write(&log);
        }
        if let Some(users) = users {
            if !self.sink.send(Event::Users(users)) {
                return false;
            }
        }
        for e in events {
            if !self.sink.send(e) {
                return false;
            }
        }
        if !batch.is_empty() || drops != Drops::default() {
            return self.sink.send(Event::Received(batch, drops));
        }
        true
    }
}

fn push_record(log: &mut String, record: Record<'_>) {
    log.push_str(&crate::journal::line(&record));
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
