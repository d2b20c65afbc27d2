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
//! The parts: `slots` (how many run at once), `fetch` (offers to this
//! user, into the download folder), `serve` (own offers, to their
//! recipients), `records` (the `--log` records and the words the window
//! shows).
//!
//! At most [`SLOTS`] transfers run at once each way (more wait their turn);
//! one that moves no byte for [`STALL`] is ended. Nothing a peer says is
//! trusted: names become safe names ([`crate::ipmsg::files::safe_name`]), nothing is
//! written outside the download folder, sizes are checked, and a folder
//! stream that breaks a rule is given up ([`crate::ipmsg::files::Stream`]).

mod fetch;
mod records;
mod serve;
mod slots;

use rust_i18n::t;
use std::collections::{HashMap, HashSet};
use std::fs::{self};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::{Journal, Sink};
use crate::chat::{Event, Offer, Spool, Who};
use crate::encoding::Encoding;
use crate::ipmsg::files::Item;

use crate::net;
pub use records::summary;
use records::{log_items, Record};
pub use serve::describe_path;
use slots::Slots;

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
    /// Lanchat's own folder the items are in (the desktop window's
    /// uploads): let go once every recipient is done, so it is removed.
    spool: Option<Spool>,
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
                thread::spawn(move || serve::serve(l, s));
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
    pub fn offered(
        &self,
        n: u64,
        items: Vec<Offered>,
        recipients: Vec<Offeree>,
        spool: Option<Spool>,
    ) {
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
            spool,
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
                text: t!("files.forgotten", max = MAX_INCOMING).into_owned(),
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
                .ok_or_else(|| t!("files.no_offer_fetch", n = n).into_owned())?;
            if *busy {
                return Err(t!("files.being_fetched", n = n).into_owned());
            }
            *busy = true;
            offer.clone()
        };
        fs::create_dir_all(&self.shared.download_dir).map_err(|e| {
            self.shared.unbusy(n);
            t!(
                "files.download_dir",
                path = self.shared.download_dir.display(),
                why = net::describe(&e)
            )
            .into_owned()
        })?;
        let shared = self.shared.clone();
        shared.sink.send(Event::Progress {
            n,
            text: t!("files.waiting_slot").into_owned(),
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
            .ok_or_else(|| t!("files.no_offer_drop", n = n).into_owned())?;
        self.shared.sink.send(Event::Progress {
            n,
            text: t!("files.dropped").into_owned(),
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
            .ok_or_else(|| t!("files.no_offer_cancel", n = n).into_owned())?;
        offer.cancelled.store(true, Ordering::Relaxed);
        self.shared.sink.send(Event::Progress {
            n,
            text: t!("files.cancelled").into_owned(),
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
                text: t!("files.withdrawn").into_owned(),
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
            let Ok(mut out) = self.out.lock() else {
                return;
            };
            let Some(o) = out.get_mut(&n) else {
                return;
            };
            let done = o
                .recipients
                .iter()
                .all(|r| r.declined || r.whole == o.items.len());
            if done {
                // Every recipient is done: the offer has ended.
                o.spool = None;
            }
            if done && o.recipients.iter().any(|r| !r.declined) {
                "✓".to_string()
            } else {
                let each: Vec<String> = o
                    .recipients
                    .iter()
                    .map(|r| {
                        let state = if r.declined {
                            t!("files.declined").into_owned()
                        } else if r.whole == o.items.len() {
                            "✓".to_string()
                        } else if r.fetched == 0 {
                            t!("files.offered").into_owned()
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
}
