//! Files and folders over IP Messenger: serving what this user offered
//! (TCP, on the UDP port's number) and fetching what others offer, on
//! threads of their own beside the chat.
//!
//! ```text
//! /send ──▶ Offered items (paths) ──▶ served to the offer's recipients only
//! TCP accept ──▶ request (GETFILEDATA | GETDIRFILES) ──▶ checked ──▶ file bytes from OFFSET | folder stream
//! /get N ──▶ connect ──▶ request ──▶ safe names ──▶ NAME.part ──▶ NAME, once every byte arrived
//!                  └──▶ progress ──▶ Sink ──▶ the window's entry, the status line's count
//! ```
//!
//! At most [`SLOTS`] transfers run at once each way (more wait their turn);
//! one that moves no byte for [`STALL`] is ended. Nothing a peer says is
//! trusted: names become safe names ([`files::safe_name`]), nothing is
//! written outside the download folder, sizes are checked, and a folder
//! stream that breaks a rule is given up ([`files::Stream`]).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::{Journal, Sink};
use crate::chat::{Event, Offer, Who};
use crate::encoding::Encoding;
use crate::ipmsg::files::{self, Entry, Item, Request, Stream};
use crate::message::timestamp;
use crate::net;

/// Transfers at once each way at most.
pub const SLOTS: usize = 16;
/// A transfer that moves no byte this long is ended.
pub const STALL: Duration = Duration::from_secs(30);
/// How long connecting to a peer may take.
const CONNECT: Duration = Duration::from_secs(10);
/// Progress is told the window at most this often per transfer.
const TELL_EVERY: Duration = Duration::from_millis(250);
/// Bytes read or written per call.
const CHUNK: usize = 256 * 1024;
/// The longest attachment list sent (iptux and FeiQ read packets of at
/// most 8,192 bytes; the header and the nick take the rest).
pub const MAX_LIST: usize = 7000;
/// Offers to this user kept at most; past it the oldest not being fetched
/// is forgotten.
pub const MAX_INCOMING: usize = 10_000;

/// Builds a TCP request packet: (peer, command, offer packet, item id,
/// offset) → bytes. The IP Messenger transport's engine does it (it owns
/// the packet numbers and the peer's encoding).
pub type Requester = Arc<dyn Fn(SocketAddr, u32, u64, u64, u64) -> Vec<u8> + Send + Sync>;

/// A count of free places, waited for (a transfer waits its turn).
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn new(n: usize) -> Self {
        Slots {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    fn take(self: &Arc<Self>) -> Slot {
        let mut free = self.free.lock().expect("slots");
        while *free == 0 {
            free = self.freed.wait(free).expect("slots");
        }
        *free -= 1;
        Slot(self.clone())
    }
}

/// One place taken; given back when dropped.
struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut free) = self.0.free.lock() {
            *free += 1;
        }
        self.0.freed.notify_one();
    }
}

/// An item this user offered, and where it is.
#[derive(Debug, Clone)]
pub struct Offered {
    /// As offered.
    pub item: Item,
    /// The file or folder.
    pub path: PathBuf,
}

/// Whom an own offer went to.
#[derive(Debug, Clone)]
pub struct Offeree {
    /// The user's address.
    pub addr: SocketAddr,
    /// Its nick.
    pub nick: String,
    /// The offer packet's number it got (what its requests name).
    pub packet: u64,
    /// It reads UTF-8.
    pub utf8: bool,
}

/// One recipient of an own offer.
#[derive(Debug)]
struct Recipient {
    nick: String,
    addr: SocketAddr,
    packet: u64,
    /// It reads UTF-8 (the names of a folder stream are written so).
    utf8: bool,
    /// Bytes fetched by it, of every item.
    fetched: u64,
    /// Items it fetched whole.
    whole: usize,
    declined: bool,
}

/// An own offer.
#[derive(Debug)]
struct OutOffer {
    items: Arc<Vec<Offered>>,
    total: u64,
    recipients: Vec<Recipient>,
    cancelled: Arc<AtomicBool>,
}

/// An offer to this user.
#[derive(Debug, Clone)]
pub struct InOffer {
    /// Who offers it.
    pub from: SocketAddr,
    /// Its nick (or address).
    pub nick: String,
    /// The offer's packet number.
    pub packet: u64,
    /// What it offers.
    pub items: Vec<Item>,
    /// The peer is iptux (it sends files from byte 0, whatever is asked).
    pub iptux: bool,
    /// The offer said UTF-8 (UTF8OPT): its folder streams' names are UTF-8.
    pub utf8: bool,
}

struct Shared {
    /// The address this user's sockets are bound to (outgoing connections
    /// leave from it, so a peer sees the address it knows).
    local: IpAddr,
    sink: Sink,
    journal: Option<Journal>,
    download_dir: PathBuf,
    legacy: Encoding,
    request: Requester,
    out: Mutex<HashMap<u64, OutOffer>>,
    incoming: Mutex<HashMap<u64, (InOffer, bool)>>,
    /// The `.part` files being written now.
    writing: Mutex<HashSet<PathBuf>>,
    slots_in: Arc<Slots>,
    slots_out: Arc<Slots>,
    active: AtomicUsize,
    stop: AtomicBool,
}

/// A `.part` being written: given up when dropped.
struct Claimed<'a>(&'a Shared, PathBuf);

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        if let Ok(mut w) = self.0.writing.lock() {
            w.remove(&self.1);
        }
    }
}

/// Files, both ways, for one IP Messenger user.
pub struct Files {
    shared: Arc<Shared>,
    /// Where offered files are served (`None`: the port could not be had).
    pub serving: Option<SocketAddr>,
    /// Why not, when not.
    pub not_serving: Option<String>,
}

/// How files behave.
#[derive(Clone)]
pub struct FilesConfig {
    /// `--download-dir`.
    pub download_dir: PathBuf,
    /// The encoding of peers that do not write UTF-8.
    pub legacy: Encoding,
    /// Where to serve: the UDP socket's address (TCP, same port).
    pub listen: SocketAddr,
}

/// A log record of an offer or a transfer.
#[derive(Serialize)]
struct Record<'a> {
    ts: String,
    offer: u64,
    event: &'a str,
    peer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nick: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    packet: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<Vec<LogItem<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct LogItem<'a> {
    name: &'a str,
    size: u64,
    folder: bool,
}

impl<'a> Record<'a> {
    fn new(offer: u64, event: &'a str, peer: SocketAddr) -> Self {
        Record {
            ts: timestamp(SystemTime::now()),
            offer,
            event,
            peer: peer.to_string(),
            nick: None,
            packet: None,
            name: None,
            size: None,
            items: None,
            path: None,
            bytes: None,
            seconds: None,
            error: None,
        }
    }
}

fn log_items(items: &[Item]) -> Vec<LogItem<'_>> {
    items
        .iter()
        .map(|i| LogItem {
            name: &i.name,
            size: i.size,
            folder: i.is_dir(),
        })
        .collect()
}

/// `报告.docx 2.3 MB, 图片/ 12 MB`.
pub fn summary(items: &[Item]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|i| {
            let slash = if i.is_dir() { "/" } else { "" };
            format!(
                "{}{slash} {}",
                crate::sanitize::line(&i.name),
                files::human_size(i.size)
            )
        })
        .collect();
    parts.join(", ")
}

/// Where things were saved: `/dl/报告.docx`, or `报告.docx, 图片 in /dl`
/// (the first three names, then how many more).
fn saved_text(saved: &[PathBuf]) -> String {
    let [one] = saved else {
        let dir = saved
            .first()
            .and_then(|p| p.parent())
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        let names: Vec<String> = saved
            .iter()
            .take(3)
            .map(|p| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let more = match saved.len() {
            0..=3 => String::new(),
            k => format!(" and {} more", k - 3),
        };
        return format!("{}{more} in {dir}", names.join(", "));
    };
    one.display().to_string()
}

/// `45% 10 MB of 22 MB, 3.1 MB/s`.
fn progress(done: u64, total: u64, since: Instant) -> String {
    let secs = since.elapsed().as_secs_f64().max(0.001);
    let pct = done
        .saturating_mul(100)
        .checked_div(total)
        .map_or(100, |p| p.min(100));
    format!(
        "{pct}% {} of {}, {}/s",
        files::human_size(done),
        files::human_size(total),
        files::human_size((done as f64 / secs) as u64)
    )
}

impl Files {
    /// Starts serving on `config.listen` (TCP). When the port cannot be
    /// had, files can still be fetched; offering them is refused with why.
    pub fn start(
        config: FilesConfig,
        request: Requester,
        journal: Option<Journal>,
        sink: Sink,
    ) -> Files {
        let shared = Arc::new(Shared {
            local: config.listen.ip(),
            sink,
            journal,
            download_dir: config.download_dir,
            legacy: config.legacy,
            request,
            out: Mutex::new(HashMap::new()),
            incoming: Mutex::new(HashMap::new()),
            writing: Mutex::new(HashSet::new()),
            slots_in: Arc::new(Slots::new(SLOTS)),
            slots_out: Arc::new(Slots::new(SLOTS)),
            active: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let listener = crate::net::bind_tcp(config.listen)
            .map_err(|e| e.to_string())
            .and_then(|l| {
                l.set_nonblocking(false).map_err(|e| net::describe(&e))?;
                Ok(l)
            });
        let (serving, not_serving) = match listener {
            Ok(l) => {
                let addr = l.local_addr().ok();
                let s = shared.clone();
                thread::spawn(move || serve(l, s));
                (addr, None)
            }
            Err(why) => (None, Some(why)),
        };
        Files {
            shared,
            serving,
            not_serving,
        }
    }

    /// Registers an own offer `n` of `items` to `recipients`; its entry is
    /// told the window.
    pub fn offered(&self, n: u64, items: Vec<Offered>, recipients: Vec<Offeree>) {
        let listed: Vec<Item> = items.iter().map(|o| o.item.clone()).collect();
        let names: Vec<&str> = recipients.iter().map(|r| r.nick.as_str()).collect();
        let text = format!("{} → {}", summary(&listed), names.join(", "));
        for o in &recipients {
            if let Some(j) = &self.shared.journal {
                let mut r = Record::new(n, "offered", o.addr);
                r.nick = Some(&o.nick);
                r.packet = Some(o.packet);
                r.items = Some(log_items(&listed));
                j.record(&r);
            }
        }
        let total = listed.iter().map(|i| i.size).sum();
        let offer = OutOffer {
            items: Arc::new(items),
            total,
            recipients: recipients
                .into_iter()
                .map(|o| Recipient {
                    nick: o.nick,
                    addr: o.addr,
                    packet: o.packet,
                    utf8: o.utf8,
                    fetched: 0,
                    whole: 0,
                    declined: false,
                })
                .collect(),
            cancelled: Arc::new(AtomicBool::new(false)),
        };
        self.shared.out.lock().expect("offers").insert(n, offer);
        self.shared.sink.send(Event::Offer(Offer {
            n,
            who: Who::Me,
            text,
            incoming: false,
        }));
        self.shared.tell_out(n);
    }

    /// An offer to this user: its entry is told the window. Nothing is
    /// fetched until [`Files::get`].
    pub fn received(&self, n: u64, offer: InOffer, who: Who, text: &str) {
        let mut shown = summary(&offer.items);
        if !text.is_empty() {
            shown = format!("{text} {shown}");
        }
        if let Some(j) = &self.shared.journal {
            let mut r = Record::new(n, "received", offer.from);
            r.nick = Some(&offer.nick);
            r.packet = Some(offer.packet);
            r.items = Some(log_items(&offer.items));
            j.record(&r);
        }
        let forgotten = {
            let mut incoming = self.shared.incoming.lock().expect("offers");
            incoming.insert(n, (offer, false));
            let oldest = (incoming.len() > MAX_INCOMING)
                .then(|| {
                    incoming
                        .iter()
                        .filter(|(_, (_, busy))| !busy)
                        .map(|(k, _)| *k)
                        .min()
                })
                .flatten();
            oldest.inspect(|k| {
                incoming.remove(k);
            })
        };
        if let Some(k) = forgotten {
            self.shared.sink.send(Event::Progress {
                n: k,
                text: format!("forgotten: more than {MAX_INCOMING} offers"),
                fetchable: false,
            });
        }
        self.shared.sink.send(Event::Offer(Offer {
            n,
            who,
            text: shown,
            incoming: true,
        }));
    }

    /// `/get N`: fetches every item of offer `n` on a thread of its own.
    ///
    /// # Errors
    /// Why not: no such offer, or it is being fetched.
    pub fn get(&self, n: u64) -> Result<(), String> {
        let offer = {
            let mut incoming = self.shared.incoming.lock().expect("offers");
            let (offer, busy) = incoming
                .get_mut(&n)
                .ok_or_else(|| format!("no offer [{n}] to fetch (/files lists them)"))?;
            if *busy {
                return Err(format!("offer [{n}] is being fetched"));
            }
            *busy = true;
            offer.clone()
        };
        fs::create_dir_all(&self.shared.download_dir).map_err(|e| {
            self.shared.unbusy(n);
            format!(
                "cannot use the download folder {}: {}",
                self.shared.download_dir.display(),
                net::describe(&e)
            )
        })?;
        let shared = self.shared.clone();
        shared.sink.send(Event::Progress {
            n,
            text: "waiting for a free transfer…".into(),
            fetchable: false,
        });
        thread::spawn(move || shared.fetch(n, offer));
        Ok(())
    }

    /// `/drop N`: forgets offer `n`; returns whom to tell (RELEASEFILES)
    /// and the offer's packet number.
    ///
    /// # Errors
    /// No such offer.
    pub fn drop_offer(&self, n: u64) -> Result<(SocketAddr, u64), String> {
        let (offer, _) = self
            .shared
            .incoming
            .lock()
            .expect("offers")
            .remove(&n)
            .ok_or_else(|| format!("no offer [{n}] to drop"))?;
        self.shared.sink.send(Event::Progress {
            n,
            text: "dropped".into(),
            fetchable: false,
        });
        Ok((offer.from, offer.packet))
    }

    /// `/cancel N`: ends own offer `n` (it is served no more; transfers
    /// under way stop).
    ///
    /// # Errors
    /// No such offer.
    pub fn cancel(&self, n: u64) -> Result<(), String> {
        let offer = self
            .shared
            .out
            .lock()
            .expect("offers")
            .remove(&n)
            .ok_or_else(|| format!("no offer [{n}] of yours to cancel"))?;
        offer.cancelled.store(true, Ordering::Relaxed);
        self.shared.sink.send(Event::Progress {
            n,
            text: "cancelled".into(),
            fetchable: false,
        });
        Ok(())
    }

    /// A peer declined (or ended) an offer: RELEASEFILES for `packet`.
    /// Own offers: that recipient is done with it; offers to this user:
    /// the peer no longer serves it.
    pub fn released(&self, from: SocketAddr, packet: u64) {
        let mut tell = None;
        if let Ok(mut out) = self.shared.out.lock() {
            for (n, o) in out.iter_mut() {
                for r in &mut o.recipients {
                    if r.packet == packet && r.addr.ip() == from.ip() {
                        r.declined = true;
                        tell = Some(*n);
                    }
                }
            }
        }
        if let Some(n) = tell {
            self.shared.tell_out(n);
        }
        let gone: Vec<u64> = self
            .shared
            .incoming
            .lock()
            .map(|i| {
                i.iter()
                    .filter(|(_, (o, busy))| {
                        o.packet == packet && o.from.ip() == from.ip() && !busy
                    })
                    .map(|(n, _)| *n)
                    .collect()
            })
            .unwrap_or_default();
        for n in gone {
            if let Ok(mut i) = self.shared.incoming.lock() {
                i.remove(&n);
            }
            self.shared.sink.send(Event::Progress {
                n,
                text: "withdrawn by its sender".into(),
                fetchable: false,
            });
        }
    }

    /// Stops serving (quitting): offers end, transfers under way stop.
    pub fn close(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Ok(out) = self.shared.out.lock() {
            for o in out.values() {
                o.cancelled.store(true, Ordering::Relaxed);
            }
        }
        // Wake the accepting thread.
        if let Some(addr) = self.serving {
            let addr = if addr.ip().is_unspecified() {
                SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), addr.port())
            } else {
                addr
            };
            let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
        }
    }
}

impl Shared {
    fn unbusy(&self, n: u64) {
        if let Ok(mut i) = self.incoming.lock() {
            if let Some((_, busy)) = i.get_mut(&n) {
                *busy = false;
            }
        }
    }

    fn started(&self) {
        let n = self.active.fetch_add(1, Ordering::Relaxed) + 1;
        self.sink.send(Event::Transfers(n));
    }

    fn ended(&self) {
        let n = self
            .active
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        self.sink.send(Event::Transfers(n));
    }

    /// The progress of own offer `n`, per recipient.
    fn tell_out(&self, n: u64) {
        let text = {
            let Ok(out) = self.out.lock() else {
                return;
            };
            let Some(o) = out.get(&n) else {
                return;
            };
            let done = o
                .recipients
                .iter()
                .all(|r| r.declined || r.whole == o.items.len());
            if done && o.recipients.iter().any(|r| !r.declined) {
                "✓".to_string()
            } else {
                let each: Vec<String> = o
                    .recipients
                    .iter()
                    .map(|r| {
                        let state = if r.declined {
                            "declined".to_string()
                        } else if r.whole == o.items.len() {
                            "✓".to_string()
                        } else if r.fetched == 0 {
                            "offered".to_string()
                        } else {
                            let pct = (r.fetched.saturating_mul(100) / o.total.max(1)).min(100);
                            format!("{pct}%")
                        };
                        format!("{} {state}", r.nick)
                    })
                    .collect();
                each.join(" · ")
            }
        };
        self.sink.send(Event::Progress {
            n,
            text,
            fetchable: false,
        });
    }

    /// Fetches offer `n`, item by item, telling the window how it goes.
    fn fetch(self: Arc<Self>, n: u64, offer: InOffer) {
        let start = Instant::now();
        let total: u64 = offer.items.iter().map(|i| i.size).sum();
        let mut done = 0u64;
        let mut saved = Vec::new();
        for item in &offer.items {
            let slot = self.slots_in.take();
            self.started();
            let result = if item.is_dir() {
                self.fetch_dir(n, &offer, item, done, total, start)
            } else {
                self.fetch_file(n, &offer, item, done, total, start)
            };
            self.ended();
            drop(slot);
            let seconds = start.elapsed().as_secs_f64();
            match result {
                Ok((path, bytes)) => {
                    done += item.size.max(bytes);
                    self.log_transfer(n, &offer, item, Some(&path), bytes, seconds, None);
                    saved.push(path);
                }
                Err(why) => {
                    self.log_transfer(n, &offer, item, None, 0, seconds, Some(&why));
                    self.unbusy(n);
                    self.sink.send(Event::Progress {
                        n,
                        text: format!("✗ {}: {why}", crate::sanitize::line(&item.name)),
                        fetchable: true,
                    });
                    return;
                }
            }
        }
        if let Ok(mut i) = self.incoming.lock() {
            i.remove(&n);
        }
        self.sink.send(Event::Progress {
            n,
            text: format!("✓ saved {}", crate::sanitize::line(&saved_text(&saved))),
            fetchable: false,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn log_transfer(
        &self,
        n: u64,
        offer: &InOffer,
        item: &Item,
        path: Option<&Path>,
        bytes: u64,
        seconds: f64,
        error: Option<&str>,
    ) {
        if let Some(j) = &self.journal {
            let mut r = Record::new(
                n,
                if error.is_some() { "failed" } else { "fetched" },
                offer.from,
            );
            r.nick = Some(&offer.nick);
            r.name = Some(&item.name);
            r.size = Some(item.size);
            r.path = path.map(|p| p.display().to_string());
            r.bytes = Some(bytes);
            r.seconds = Some((seconds * 1000.0).round() / 1000.0);
            r.error = error;
            j.record(&r);
        }
    }

    fn connect(
        &self,
        offer: &InOffer,
        command: u32,
        id: u64,
        offset: u64,
    ) -> Result<TcpStream, String> {
        let stream = net::connect_from(self.local, offer.from, CONNECT)
            .map_err(|e| format!("cannot connect to {}: {}", offer.from, net::describe(&e)))?;
        let _ = stream.set_read_timeout(Some(STALL));
        let _ = stream.set_write_timeout(Some(STALL));
        let _ = stream.set_nodelay(true);
        let request = (self.request)(offer.from, command, offer.packet, id, offset);
        (&stream)
            .write_all(&request)
            .map_err(|e| format!("cannot ask for it: {}", net::describe(&e)))?;
        Ok(stream)
    }

    /// One file: into `NAME.part`, renamed `NAME` once whole; resumed from
    /// the `.part` where the peer honours the offset.
    fn fetch_file(
        &self,
        n: u64,
        offer: &InOffer,
        item: &Item,
        done_before: u64,
        total: u64,
        start: Instant,
    ) -> Result<(PathBuf, u64), String> {
        let dir = &self.download_dir;
        let (name, part, mut offset) = self.claim(&files::safe_name(&item.name), item.size);
        let _claimed = Claimed(self, part.clone());
        if offer.iptux {
            offset = 0; // it sends from byte 0 whatever is asked
        }
        // Asked first: a peer that cannot be reached leaves no empty file.
        let mut stream = self.connect(offer, files::GETFILEDATA, item.id, offset)?;
        let mut out = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&part)
            .map_err(|e| format!("cannot write {}: {}", part.display(), disk(&e)))?;
        out.set_len(offset).map_err(|e| disk(&e))?;
        out.seek(SeekFrom::Start(offset)).map_err(|e| disk(&e))?;
        let mut buf = vec![0u8; CHUNK];
        let mut told = Instant::now();
        let mut got = 0u64;
        while offset < item.size {
            let k = match stream.read(&mut buf) {
                Ok(0) if got == 0 => {
                    if offset == 0 {
                        drop(out);
                        let _ = fs::remove_file(&part);
                    }
                    return Err(
                        "the peer sent nothing (it no longer offers it, or not to this address)"
                            .into(),
                    );
                }
                Ok(0) => {
                    return Err(format!(
                        "short: {} of {} arrived; {} kept",
                        files::human_size(offset),
                        files::human_size(item.size),
                        part.display()
                    ))
                }
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if net::is_transient(&e) => {
                    return Err(format!(
                        "stalled for {} s; {} kept",
                        STALL.as_secs(),
                        part.display()
                    ))
                }
                Err(e) => return Err(format!("{}; {} kept", net::describe(&e), part.display())),
            };
            if offset + k as u64 > item.size {
                return Err(format!(
                    "the peer sent more than the {} it offered; {} kept",
                    files::human_size(item.size),
                    part.display()
                ));
            }
            out.write_all(&buf[..k]).map_err(|e| disk(&e))?;
            offset += k as u64;
            got += k as u64;
            if told.elapsed() >= TELL_EVERY {
                told = Instant::now();
                self.tell_in(n, done_before + offset, total, start);
            }
        }
        out.flush().map_err(|e| disk(&e))?;
        drop(out);
        let target = dir.join(&name);
        fs::rename(&part, &target).map_err(|e| disk(&e))?;
        self.tell_in(n, done_before + item.size, total, start);
        Ok((target, got))
    }

    /// The name a file is fetched under, its `.part`, and where to go on
    /// from: the first of `NAME`, `NAME (1)`… that is free, or whose
    /// `.part` (no bigger than `size`, not being written now, and no
    /// finished file beside it) a transfer left, to go on from its end.
    /// The `.part` is claimed until [`Claimed`] drops.
    fn claim(&self, name: &str, size: u64) -> (String, PathBuf, u64) {
        let dir = &self.download_dir;
        let mut writing = self.writing.lock().expect("parts");
        for k in 0u32.. {
            let candidate = files::numbered(name, k);
            let part = dir.join(format!("{candidate}.part"));
            if dir.join(&candidate).exists() || writing.contains(&part) {
                continue;
            }
            let offset = match fs::symlink_metadata(&part) {
                Err(_) => 0,
                Ok(m) if m.is_file() && m.len() <= size => m.len(),
                Ok(_) => continue,
            };
            writing.insert(part.clone());
            return (candidate, part, offset);
        }
        unreachable!("some number is free")
    }

    fn tell_in(&self, n: u64, done: u64, total: u64, start: Instant) {
        self.sink.send(Event::Progress {
            n,
            text: format!("↓ {}", progress(done, total, start)),
            fetchable: false,
        });
    }

    /// One folder: its stream written under the download folder, every
    /// name made safe, every file as `.part` until whole.
    fn fetch_dir(
        &self,
        n: u64,
        offer: &InOffer,
        item: &Item,
        done_before: u64,
        total: u64,
        start: Instant,
    ) -> Result<(PathBuf, u64), String> {
        let mut stream = self.connect(offer, files::GETDIRFILES, item.id, 0)?;
        // UTF-8 when the offer said so; else each name as it looks (iptux
        // writes what it took the peer's encoding to be, and says nothing).
        let decode = |raw: &[u8]| -> String {
            if offer.utf8 || crate::encoding::looks_utf8(raw) {
                String::from_utf8_lossy(raw).into_owned()
            } else {
                self.legacy.decode(raw).0.into_owned()
            }
        };
        let mut reader = Stream::new();
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut top: Option<PathBuf> = None;
        let mut file: Option<(File, PathBuf, PathBuf)> = None;
        let mut failure: Option<String> = None;
        let mut bytes = 0u64;
        let mut told = Instant::now();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let k = match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if net::is_transient(&e) => {
                    return Err(format!("stalled for {} s", STALL.as_secs()))
                }
                Err(e) => return Err(net::describe(&e)),
            };
            let dl = &self.download_dir;
            let result = reader.push(&buf[..k], |e| {
                if failure.is_some() {
                    return;
                }
                let r: Result<(), String> = (|| {
                    match e {
                        Entry::Dir(raw) => {
                            let parent = dirs.last().cloned().unwrap_or_else(|| dl.clone());
                            let name = files::safe_name(&decode(raw));
                            let name = if dirs.is_empty() {
                                files::unique_name(&name, |n| parent.join(n).exists())
                            } else {
                                name
                            };
                            let path = parent.join(name);
                            fs::create_dir_all(&path).map_err(|e| disk(&e))?;
                            if top.is_none() {
                                top = Some(path.clone());
                            }
                            dirs.push(path);
                        }
                        Entry::File(raw, _) => {
                            let parent = dirs.last().cloned().ok_or("a file outside the folder")?;
                            let name = files::safe_name(&decode(raw));
                            let name = files::unique_name(&name, |n| {
                                parent.join(n).exists() || parent.join(format!("{n}.part")).exists()
                            });
                            let target = parent.join(&name);
                            let part = parent.join(format!("{name}.part"));
                            let f = File::create(&part).map_err(|e| disk(&e))?;
                            file = Some((f, part, target));
                        }
                        Entry::Data(d) => {
                            if let Some((f, _, _)) = &mut file {
                                f.write_all(d).map_err(|e| disk(&e))?;
                            }
                            bytes += d.len() as u64;
                        }
                        Entry::FileEnd => {
                            if let Some((f, part, target)) = file.take() {
                                drop(f);
                                fs::rename(&part, &target).map_err(|e| disk(&e))?;
                            }
                        }
                        Entry::Up => {
                            dirs.pop();
                        }
                        Entry::Done => {}
                    }
                    Ok(())
                })();
                if let Err(why) = r {
                    failure = Some(why);
                }
            });
            if let Some(why) = failure.take() {
                return Err(why);
            }
            if let Err(e) = result {
                return Err(e.to_string());
            }
            if reader.done() {
                break;
            }
            if told.elapsed() >= TELL_EVERY {
                told = Instant::now();
                self.tell_in(n, done_before + bytes, total, start);
            }
        }
        let top = top.ok_or_else(|| "the peer sent no folder".to_string())?;
        if !reader.done() {
            return Err(format!(
                "short: the folder stream ended early ({} arrived); what came is in {}",
                files::human_size(bytes),
                top.display()
            ));
        }
        self.tell_in(n, done_before + bytes.max(item.size), total, start);
        Ok((top, bytes))
    }

    /// Serves one connection: reads the request, checks it against the
    /// offers, sends the file or the folder stream.
    fn answer(self: Arc<Self>, mut stream: TcpStream, peer: SocketAddr) {
        let _slot = self.slots_out.take();
        let _ = stream.set_read_timeout(Some(STALL));
        let _ = stream.set_write_timeout(Some(STALL));
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !files::request_complete(&buf) {
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
        let Some(request) = files::parse_request(&buf) else {
            return; // not a request: closed without an answer
        };
        let Some((n, offered, cancelled, utf8)) = self.find(&request, peer) else {
            return; // not offered to this address: closed
        };
        self.started();
        let start = Instant::now();
        let result = if offered.item.is_dir() {
            self.send_dir(&mut stream, &offered.path, n, peer, &cancelled, utf8)
        } else {
            self.send_file(&mut stream, &offered, request.offset, n, peer, &cancelled)
        };
        self.ended();
        let ok = result.is_ok();
        if let Some(j) = &self.journal {
            let err = result.as_ref().err().cloned();
            let mut r = Record::new(n, if ok { "sent" } else { "failed" }, peer);
            r.name = Some(&offered.item.name);
            r.size = Some(offered.item.size);
            r.path = Some(offered.path.display().to_string());
            r.bytes = Some(*result.as_ref().unwrap_or(&0));
            r.seconds = Some((start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0);
            r.error = err.as_deref();
            j.record(&r);
        }
        if ok {
            if let Ok(mut out) = self.out.lock() {
                if let Some(o) = out.get_mut(&n) {
                    for r in o.recipients.iter_mut().filter(|r| r.addr.ip() == peer.ip()) {
                        r.whole = (r.whole + 1).min(o.items.len());
                    }
                }
            }
        }
        self.tell_out(n);
    }

    /// The item a request asks for, if it was offered to that address:
    /// the offer's number, the item, its cancel flag, whether the peer
    /// reads UTF-8 (for folder names).
    fn find(
        &self,
        request: &Request,
        peer: SocketAddr,
    ) -> Option<(u64, Offered, Arc<AtomicBool>, bool)> {
        let out = self.out.lock().ok()?;
        for (n, o) in out.iter() {
            let Some(r) = o
                .recipients
                .iter()
                .find(|r| r.packet == request.packet && r.addr.ip() == net::canonical(peer).ip())
            else {
                continue;
            };
            if r.declined {
                return None;
            }
            for id in request.ids() {
                if let Some(item) = o.items.iter().find(|i| i.item.id == id) {
                    let wants_dir = request.command == files::GETDIRFILES;
                    if item.item.is_dir() != wants_dir {
                        return None;
                    }
                    return Some((*n, item.clone(), o.cancelled.clone(), r.utf8));
                }
            }
            return None;
        }
        None
    }

    fn count_sent(&self, n: u64, peer: SocketAddr, k: u64, told: &mut Instant) {
        if let Ok(mut out) = self.out.lock() {
            if let Some(o) = out.get_mut(&n) {
                for r in o.recipients.iter_mut().filter(|r| r.addr.ip() == peer.ip()) {
                    r.fetched += k;
                }
            }
        }
        if told.elapsed() >= TELL_EVERY {
            *told = Instant::now();
            self.tell_out(n);
        }
    }

    fn send_file(
        &self,
        stream: &mut TcpStream,
        offered: &Offered,
        offset: u64,
        n: u64,
        peer: SocketAddr,
        cancelled: &AtomicBool,
    ) -> Result<u64, String> {
        let mut f = File::open(&offered.path).map_err(|e| net::describe(&e))?;
        let size = offered.item.size;
        let offset = offset.min(size);
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| net::describe(&e))?;
        let mut left = size - offset;
        let mut buf = vec![0u8; CHUNK];
        let mut told = Instant::now();
        let mut sent = 0u64;
        while left > 0 {
            if cancelled.load(Ordering::Relaxed) {
                return Err("cancelled".into());
            }
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let k = f.read(&mut buf[..want]).map_err(|e| net::describe(&e))?;
            if k == 0 {
                return Err("the file is shorter than when it was offered".into());
            }
            stream.write_all(&buf[..k]).map_err(|e| net::describe(&e))?;
            left -= k as u64;
            sent += k as u64;
            self.count_sent(n, peer, k as u64, &mut told);
        }
        Ok(sent)
    }

    /// The folder stream of `root`: its own header, its contents (folders
    /// first entered, then left), the header that leaves it.
    fn send_dir(
        &self,
        stream: &mut TcpStream,
        root: &Path,
        n: u64,
        peer: SocketAddr,
        cancelled: &AtomicBool,
        utf8: bool,
    ) -> Result<u64, String> {
        let encode = |name: &str| -> Vec<u8> {
            if utf8 {
                return name.as_bytes().to_vec();
            }
            self.legacy
                .encode(name)
                .unwrap_or_else(|_| name.as_bytes().to_vec())
        };
        let mut out = io::BufWriter::with_capacity(CHUNK, &mut *stream);
        let mut sent = 0u64;
        let mut told = Instant::now();
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "folder".into());
        out.write_all(&files::header(&encode(&name), 0, files::ATTR_DIR))
            .map_err(|e| net::describe(&e))?;
        // A stack of folders being read: depth-first, as the stream is.
        let mut stack = vec![read_dir_sorted(root)?];
        let mut buf = vec![0u8; CHUNK];
        while let Some(entries) = stack.last_mut() {
            if cancelled.load(Ordering::Relaxed) {
                return Err("cancelled".into());
            }
            let Some((path, is_dir, size)) = entries.pop() else {
                stack.pop();
                out.write_all(&files::header(b".", 0, files::ATTR_UP))
                    .map_err(|e| net::describe(&e))?;
                continue;
            };
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if is_dir {
                if stack.len() >= files::MAX_DEPTH {
                    continue; // deeper than a receiver takes: left out
                }
                out.write_all(&files::header(&encode(&name), 0, files::ATTR_DIR))
                    .map_err(|e| net::describe(&e))?;
                stack.push(read_dir_sorted(&path)?);
                continue;
            }
            let mut f = File::open(&path).map_err(|e| net::describe(&e))?;
            out.write_all(&files::header(&encode(&name), size, files::ATTR_FILE))
                .map_err(|e| net::describe(&e))?;
            let mut left = size;
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let k = f.read(&mut buf[..want]).map_err(|e| net::describe(&e))?;
                if k == 0 {
                    return Err(format!("{} is shorter than it was", path.display()));
                }
                out.write_all(&buf[..k]).map_err(|e| net::describe(&e))?;
                left -= k as u64;
                sent += k as u64;
                self.count_sent(n, peer, k as u64, &mut told);
            }
        }
        out.flush().map_err(|e| net::describe(&e))?;
        Ok(sent)
    }
}

/// A folder's files and folders (not links or devices), with their sizes,
/// in reverse name order (popped from the end: name order).
fn read_dir_sorted(dir: &Path) -> Result<Vec<(PathBuf, bool, u64)>, String> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| format!("{}: {}", dir.display(), net::describe(&e)))? {
        let Ok(e) = e else { continue };
        let Ok(meta) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        if meta.is_dir() {
            out.push((e.path(), true, 0));
        } else if meta.is_file() {
            out.push((e.path(), false, meta.len()));
        }
    }
    out.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(out)
}

/// The offer of a path: a file with its size, or a folder with the total
/// size of its contents.
///
/// # Errors
/// Why it cannot be offered.
pub fn describe_path(id: u64, path: &Path) -> Result<Offered, String> {
    let meta =
        fs::metadata(path).map_err(|e| format!("{}: {}", path.display(), net::describe(&e)))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{}: not a file or a folder", path.display()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let (size, attr) = if meta.is_dir() {
        (folder_size(path, 0)?, files::ATTR_DIR)
    } else if meta.is_file() {
        (meta.len(), files::ATTR_FILE)
    } else {
        return Err(format!("{}: not a file or a folder", path.display()));
    };
    Ok(Offered {
        item: Item {
            id,
            name,
            size,
            mtime,
            attr,
        },
        path: path.to_path_buf(),
    })
}

fn folder_size(dir: &Path, depth: usize) -> Result<u64, String> {
    if depth >= files::MAX_DEPTH {
        return Ok(0);
    }
    let mut total = 0;
    for (path, is_dir, size) in read_dir_sorted(dir)? {
        total += if is_dir {
            folder_size(&path, depth + 1)?
        } else {
            size
        };
    }
    Ok(total)
}

/// A write error in words: a full disk is said as such.
fn disk(e: &io::Error) -> String {
    if matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) {
        "the disk is full".into()
    } else {
        net::describe(e)
    }
}

/// Accepts connections until told to stop; each is answered on a thread
/// of its own (at most [`SLOTS`] at once, the others wait).
fn serve(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = conn else {
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let s = shared.clone();
        thread::spawn(move || s.answer(stream, net::canonical(peer)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_saved_is_said_shortly() {
        let dl = Path::new("dl");
        assert_eq!(
            saved_text(&[dl.join("报告.docx")]),
            dl.join("报告.docx").display().to_string()
        );
        let two = [dl.join("a.txt"), dl.join("图片")];
        assert_eq!(saved_text(&two), format!("a.txt, 图片 in {}", dl.display()));
        let many: Vec<PathBuf> = (0..13).map(|i| dl.join(format!("f{i}"))).collect();
        assert_eq!(
            saved_text(&many),
            format!("f0, f1, f2 and 10 more in {}", dl.display())
        );
    }

    #[test]
    fn progress_says_percent_bytes_and_rate() {
        let since = Instant::now() - Duration::from_secs(2);
        let p = progress(10_000_000, 22_000_000, since);
        assert!(p.starts_with("45% 10 MB of 22 MB, "), "{p}");
        assert!(p.ends_with(" MB/s"), "{p}");
        assert!(progress(5, 0, since).starts_with("100% "));
    }
}
