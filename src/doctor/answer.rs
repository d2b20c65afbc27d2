//! `lanchat doctor --answer`: listens on the port (UDP and TCP, and the
//! multicast group), answers every probe, tells the doctor over TCP what it
//! heard, and prints what it heard and from whom. Ends on Ctrl-C or after
//! ten minutes.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_i18n::t;

use super::probe::GROUP;
use super::wire::{self, Kind, Message, Report, Settings};
use crate::{net, status};

/// How long an answer runs unless stopped.
pub const LIFETIME: Duration = Duration::from_secs(600);
const SESSIONS: usize = 1024;
const HELLOS_PER_SESSION: u8 = 3;
/// Datagrams answered per second at most: a doctor sends a handful; a
/// flood of probes (or of forged sources) gets no more than this back.
const REPLIES_PER_SECOND: u32 = 64;
/// TCP questions answered at once at most.
const TCP_AT_ONCE: usize = 16;

#[derive(Default)]
struct Heard {
    kinds: BTreeSet<Kind>,
    hellos: u8,
}

/// What was heard, by session (the oldest forgotten past [`SESSIONS`]).
#[derive(Default)]
struct Book {
    sessions: HashMap<String, Heard>,
    order: VecDeque<String>,
    probes: u64,
    hosts: BTreeSet<IpAddr>,
    /// The second being counted and the replies sent in it.
    second: Option<std::time::Instant>,
    replies: u32,
}

impl Book {
    /// Whether one more reply fits in this second's allowance.
    fn may_reply(&mut self, now: std::time::Instant) -> bool {
        match self.second {
            Some(start) if now.duration_since(start) < Duration::from_secs(1) => {}
            _ => {
                self.second = Some(now);
                self.replies = 0;
            }
        }
        self.replies += 1;
        self.replies <= REPLIES_PER_SECOND
    }

    fn entry(&mut self, session: &str) -> &mut Heard {
        if !self.sessions.contains_key(session) {
            if self.order.len() >= SESSIONS {
                if let Some(old) = self.order.pop_front() {
                    self.sessions.remove(&old);
                }
            }
            self.order.push_back(session.to_string());
        }
        self.sessions.entry(session.to_string()).or_default()
    }
}

/// The bound sockets of an answer.
pub struct Answer {
    udp: UdpSocket,
    tcp: TcpListener,
    settings: Settings,
    book: Arc<Mutex<Book>>,
}

impl Answer {
    /// Binds UDP and TCP `settings.port` on `ip` (every address when
    /// unspecified) and joins the multicast group on every interface (only
    /// on `ip`'s when one is given: bound to loopback, nothing is said on
    /// the network, not even a membership report).
    ///
    /// # Errors
    /// The port cannot be bound (another program holds it…).
    pub fn bind(settings: Settings, ip: IpAddr) -> Result<Answer, net::NetError> {
        let addr = SocketAddr::new(ip, settings.port);
        let udp = net::bind_udp(addr, 1 << 20, false)?.socket;
        // TCP on the same port (the one UDP got, for `-p 0`).
        let addr = udp.local_addr().map_err(net::NetError::Setup)?;
        let tcp = net::bind_tcp(addr)?;
        let settings = Settings {
            port: addr.port(),
            ..settings
        };
        tcp.set_nonblocking(false).map_err(net::NetError::Setup)?;
        udp.set_read_timeout(Some(Duration::from_millis(500)))
            .map_err(net::NetError::Setup)?;
        let on: Vec<IpAddr> = if ip.is_unspecified() {
            net::local_ips()
        } else {
            vec![ip]
        };
        for ip in on {
            if let IpAddr::V4(v4) = ip {
                let _ = udp.join_multicast_v4(&GROUP, &v4);
            }
        }
        Ok(Answer {
            udp,
            tcp,
            settings,
            book: Arc::default(),
        })
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.udp.local_addr().ok()
    }

    /// Answers until `stopped` returns true (polled twice a second).
    pub fn run(self, stopped: impl Fn() -> bool) -> (u64, usize) {
        let book = Arc::clone(&self.book);
        let settings = self.settings.clone();
        let tcp = self.tcp.try_clone();
        std::thread::spawn(move || {
            let Ok(tcp) = tcp else { return };
            let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            for stream in tcp.incoming().flatten() {
                use std::sync::atomic::Ordering::SeqCst;
                if busy.fetch_add(1, SeqCst) >= TCP_AT_ONCE {
                    busy.fetch_sub(1, SeqCst);
                    continue; // dropped: closed at once
                }
                let (book, settings, busy) =
                    (Arc::clone(&book), settings.clone(), Arc::clone(&busy));
                std::thread::spawn(move || {
                    tell(stream, &book, settings);
                    busy.fetch_sub(1, SeqCst);
                });
            }
        });
        let mut buf = vec![0u8; 2048];
        while !stopped() {
            let Ok((n, from)) = self.udp.recv_from(&mut buf) else {
                continue;
            };
            let from = crate::sys::canonical(from);
            if let Some(Message::Probe {
                session,
                kind,
                reply_port,
            }) = Message::parse(&buf[..n])
            {
                self.heard(&session, kind, reply_port, from);
            }
        }
        let book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        (book.probes, book.hosts.len())
    }

    fn heard(&self, session: &str, kind: Kind, reply_port: u16, from: SocketAddr) {
        let (first, hello) = {
            let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
            if !book.may_reply(std::time::Instant::now()) {
                return;
            }
            book.probes += 1;
            book.hosts.insert(from.ip());
            let h = book.entry(session);
            let first = h.kinds.insert(kind);
            let hello = kind == Kind::Unicast && h.hellos < HELLOS_PER_SESSION;
            if hello {
                h.hellos += 1;
            }
            (first, hello)
        };
        let reply = Message::Heard {
            session: session.to_string(),
            kind,
            settings: self.settings.clone(),
        };
        let _ = self.udp.send_to(&reply.to_bytes(), from);
        if hello && reply_port != 0 {
            // From another socket: a new flow to the doctor's port, which
            // its firewall must let in as it must let in a chat line.
            let hello = Message::Hello {
                session: session.to_string(),
                settings: self.settings.clone(),
            };
            if let Ok(s) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) {
                let _ = s.send_to(&hello.to_bytes(), SocketAddr::new(from.ip(), reply_port));
            }
        }
        if first {
            println!(
                "{}",
                t!("doctor.answer.heard", kind = kind_words(kind), from = from)
            );
            let _ = std::io::stdout().flush();
        }
    }
}

/// How a probe came, in the user's words.
pub fn kind_words(kind: Kind) -> String {
    match kind {
        Kind::Unicast => t!("doctor.kind.unicast"),
        Kind::Subnet => t!("doctor.kind.subnet"),
        Kind::All => t!("doctor.kind.all"),
        Kind::Multicast => t!("doctor.kind.multicast"),
        Kind::Port => t!("doctor.kind.port"),
    }
    .into_owned()
}

/// Answers one TCP question with what this session's probes did.
fn tell(stream: TcpStream, book: &Mutex<Book>, settings: Settings) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(3)));
    let mut line = String::new();
    let mut reader = BufReader::new(std::io::Read::take(&stream, 512));
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let Some(session) = wire::parse_ask(&line) else {
        return;
    };
    let heard = {
        let book = book.lock().unwrap_or_else(|e| e.into_inner());
        book.sessions
            .get(session)
            .map(|h| h.kinds.iter().copied().collect())
            .unwrap_or_default()
    };
    let report = Report { settings, heard };
    if let Ok(mut json) = serde_json::to_string(&report) {
        json.push('\n');
        let _ = (&stream).write_all(json.as_bytes());
    }
}

/// Prints how to reach this answer: its addresses.
pub fn say_started(port: u16) {
    let addrs: Vec<String> = net::local_ips()
        .into_iter()
        .filter(|ip| ip.is_ipv4() && !ip.is_loopback())
        .map(|ip| ip.to_string())
        .collect();
    let addrs = if addrs.is_empty() {
        "127.0.0.1".to_string()
    } else {
        addrs.join(", ")
    };
    status::say(&format!(
        "lanchat doctor: {}",
        t!("doctor.answer.started", port = port, addrs = addrs)
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn replies_are_bounded_per_second_and_sessions_in_number() {
        let mut book = Book::default();
        let t0 = Instant::now();
        let sent = (0..1000).filter(|_| book.may_reply(t0)).count();
        assert_eq!(sent, REPLIES_PER_SECOND as usize);
        assert!(book.may_reply(t0 + Duration::from_millis(1001)));
        for i in 0..(SESSIONS + 10) {
            book.entry(&format!("{i:016x}")).kinds.insert(Kind::Unicast);
        }
        assert_eq!(book.sessions.len(), SESSIONS);
        assert!(!book.sessions.contains_key(&format!("{:016x}", 0)));
    }

    #[test]
    fn an_answer_on_loopback_replies_and_tells_over_tcp() {
        let settings = Settings {
            version: "t".into(),
            port: 0,
            encoding: "gb2312".into(),
            mode: "udp".into(),
        };
        let answer = Answer::bind(settings, IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        let addr = answer.local_addr().unwrap();
        let tcp_port = answer.tcp.local_addr().unwrap().port();
        assert_eq!(tcp_port, addr.port());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let runner = std::thread::spawn(move || {
            answer.run(move || flag.load(std::sync::atomic::Ordering::SeqCst))
        });
        let me = UdpSocket::bind("127.0.0.1:0").unwrap();
        me.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let probe = Message::Probe {
            session: "00112233445566ff".into(),
            kind: Kind::Unicast,
            reply_port: me.local_addr().unwrap().port(),
        };
        me.send_to(&probe.to_bytes(), addr).unwrap();
        let mut buf = [0u8; 2048];
        let mut got = Vec::new();
        while got.len() < 2 {
            let (n, _) = me.recv_from(&mut buf).unwrap();
            got.push(Message::parse(&buf[..n]).unwrap());
        }
        assert!(got.iter().any(|m| matches!(
            m,
            Message::Heard {
                kind: Kind::Unicast,
                ..
            }
        )));
        assert!(got.iter().any(|m| matches!(m, Message::Hello { .. })));
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&wire::ask("00112233445566ff")).unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        let report: Report = serde_json::from_str(&line).unwrap();
        assert_eq!(report.heard, vec![Kind::Unicast]);
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(runner.join().unwrap(), (1, 1));
    }
}
