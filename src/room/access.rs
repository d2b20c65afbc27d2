//! Who may be in the room: the room password's guessing limit, the bans
//! (an address or a network, for a while or until lifted) and the bans
//! file that keeps them over a restart. Part of the room's core: no
//! socket, no clock (the time is passed in; the file is read and written
//! by the server, this module only says what is in it).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;

/// Wrong passwords (room or operator) from one address within
/// [`GUESS_WINDOW`] before it is refused for [`GUESS_LOCK`].
pub const GUESS_MAX: usize = 5;
/// The window the wrong passwords are counted in.
pub const GUESS_WINDOW: Duration = Duration::from_secs(60);
/// How long an address that guessed too often is refused.
pub const GUESS_LOCK: Duration = Duration::from_secs(60);
/// Addresses whose wrong passwords are remembered at most (a flood of
/// forged-looking sources cannot grow the table without bound; the oldest
/// are forgotten first).
const GUESS_TABLE: usize = 16_384;
/// The widest network a ban may name: an IPv4 /16 (65,536 addresses), an
/// IPv6 /48 (one site).
pub const WIDEST_V4: u8 = 16;
/// See [`WIDEST_V4`].
pub const WIDEST_V6: u8 = 48;

/// An address as the room counts it: IPv4-mapped IPv6 as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Compares two passwords without stopping at the first difference (a
/// remote guesser learns nothing from the time an answer takes).
pub fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    let mut diff = given.len() ^ secret.len();
    for (i, s) in secret.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ s);
    }
    diff == 0
}

/// Wrong passwords per address, and the addresses refused for guessing.
#[derive(Debug, Default)]
pub struct Guesses {
    wrong: HashMap<IpAddr, VecDeque<Instant>>,
    locked: HashMap<IpAddr, Instant>,
    /// Addresses in the order they were first counted (to forget the oldest).
    order: VecDeque<IpAddr>,
}

impl Guesses {
    /// Whether `ip` is refused now (it guessed too often).
    pub fn locked(&mut self, ip: IpAddr, now: Instant) -> bool {
        let ip = canonical(ip);
        match self.locked.get(&ip) {
            Some(until) if *until > now => true,
            Some(_) => {
                self.locked.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// A wrong password from `ip`: returns whether that was one too many
    /// (the address is refused from now on, for [`GUESS_LOCK`]).
    pub fn wrong(&mut self, ip: IpAddr, now: Instant) -> bool {
        let ip = canonical(ip);
        if !self.wrong.contains_key(&ip) {
            if self.wrong.len() >= GUESS_TABLE {
                self.forget_oldest(now);
            }
            self.order.push_back(ip);
        }
        let tries = self.wrong.entry(ip).or_default();
        while tries
            .front()
            .is_some_and(|t| now.duration_since(*t) >= GUESS_WINDOW)
        {
            tries.pop_front();
        }
        tries.push_back(now);
        if tries.len() >= GUESS_MAX {
            tries.clear();
            self.locked.insert(ip, now + GUESS_LOCK);
            return true;
        }
        false
    }

    /// Forgets the address counted longest ago that is not locked out
    /// (all of them locked: the oldest), to make room for a new one.
    fn forget_oldest(&mut self, now: Instant) {
        let free = self
            .order
            .iter()
            .position(|ip| self.locked.get(ip).is_none_or(|u| *u <= now))
            .unwrap_or(0);
        if let Some(ip) = self.order.remove(free) {
            self.wrong.remove(&ip);
            self.locked.remove(&ip);
        }
    }
}

/// One ban: a network, until when (`None`: until lifted), who set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// The address (a /32 or /128) or network.
    pub net: IpNet,
    /// When it ends.
    pub until: Option<Instant>,
    /// The operator who set it, as the room shows it (for `/bans`).
    pub by: String,
}

/// Why a ban cannot be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanError {
    /// Not an address or a network.
    NotAnAddress,
    /// Wider than [`WIDEST_V4`] / [`WIDEST_V6`]: the widest allowed.
    TooWide(u8),
}

/// Reads `ADDR` or `ADDR/PREFIX` as the network a ban names (the host bits
/// of a network are dropped: `10.0.0.7/24` bans `10.0.0.0/24`).
///
/// # Errors
/// [`BanError`]: not an address, or a network wider than a /16 (IPv6: /48).
pub fn parse_net(text: &str) -> Result<IpNet, BanError> {
    let net = match text.parse::<IpNet>() {
        Ok(net) => net.trunc(),
        Err(_) => IpNet::from(canonical(
            text.parse::<IpAddr>().map_err(|_| BanError::NotAnAddress)?,
        )),
    };
    let net = match net {
        IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
            Some(v4) if v6.prefix_len() >= 96 => {
                IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).map_or(net, |n| n.trunc())
            }
            _ => net,
        },
        v4 => v4,
    };
    let widest = match net {
        IpNet::V4(_) => WIDEST_V4,
        IpNet::V6(_) => WIDEST_V6,
    };
    if net.prefix_len() < widest {
        return Err(BanError::TooWide(widest));
    }
    Ok(net)
}

/// The room's bans.
#[derive(Debug, Default)]
pub struct Bans {
    list: Vec<Ban>,
    /// Changed since the file was last written.
    changed: bool,
}

impl Bans {
    /// Drops the bans that have ended.
    fn expire(&mut self, now: Instant) {
        let before = self.list.len();
        self.list.retain(|b| b.until.is_none_or(|u| u > now));
        if self.list.len() != before {
            self.changed = true;
        }
    }

    /// The ban that covers `ip` now, if any.
    pub fn covering(&mut self, ip: IpAddr, now: Instant) -> Option<&Ban> {
        if self.list.is_empty() {
            return None;
        }
        self.expire(now);
        let ip = canonical(ip);
        self.list.iter().find(|b| b.net.contains(&ip))
    }

    /// Sets a ban (replacing one on the same network).
    pub fn add(&mut self, ban: Ban) {
        self.list.retain(|b| b.net != ban.net);
        self.list.push(ban);
        self.changed = true;
    }

    /// Lifts the ban on exactly `net`; whether there was one.
    pub fn remove(&mut self, net: IpNet, now: Instant) -> bool {
        self.expire(now);
        let before = self.list.len();
        self.list.retain(|b| b.net != net);
        self.changed |= self.list.len() != before;
        self.list.len() != before
    }

    /// The bans in force, oldest first.
    pub fn list(&mut self, now: Instant) -> &[Ban] {
        self.expire(now);
        &self.list
    }

    /// The bans as the file keeps them, when they changed since the last
    /// call (ends in wall-clock time: `wall` is the wall clock at `now`).
    pub fn take_changed(&mut self, now: Instant, wall: SystemTime) -> Option<String> {
        // Asked after every turn of the server: nothing to do unless an
        // operator changed them (bans that ended leave the file at the
        // next change; they are dropped when it is read back anyway).
        if !std::mem::take(&mut self.changed) {
            return None;
        }
        self.expire(now);
        self.changed = false;
        Some(to_file(&self.list, now, wall))
    }

    /// Takes the bans read back from the file (ended ones are dropped).
    pub fn load(&mut self, bans: Vec<Ban>, now: Instant) {
        for ban in bans {
            self.list.retain(|b| b.net != ban.net);
            self.list.push(ban);
        }
        self.expire(now);
        self.changed = false;
    }
}

/// The bans file: a comment, then one ban a line, `NET UNTIL BY`, UNTIL an
/// RFC 3339 time or `-` (until lifted).
fn to_file(bans: &[Ban], now: Instant, wall: SystemTime) -> String {
    let mut out = String::from("# room-server bans: NETWORK UNTIL(RFC 3339 or -) BY\n");
    for b in bans {
        let until = match b.until {
            None => "-".to_string(),
            Some(u) => humantime::format_rfc3339_seconds(wall + u.saturating_duration_since(now))
                .to_string(),
        };
        out.push_str(&format!("{} {} {}\n", b.net, until, b.by));
    }
    out
}

/// Reads the bans file (see [`to_file`]); lines that do not read are
/// returned as errors (their line numbers) and skipped.
pub fn from_file(text: &str, now: Instant, wall: SystemTime) -> (Vec<Ban>, Vec<usize>) {
    let mut bans = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let net = parts.next().and_then(|n| parse_net(n).ok());
        let until = match parts.next() {
            Some("-") => Some(None),
            Some(t) => humantime::parse_rfc3339(t)
                .ok()
                .map(|end| Some(now + end.duration_since(wall).unwrap_or(Duration::ZERO))),
            None => None,
        };
        match (net, until) {
            (Some(net), Some(until)) => bans.push(Ban {
                net,
                until,
                by: parts.next().unwrap_or("").to_string(),
            }),
            _ => bad.push(i + 1),
        }
    }
    (bans, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn five_wrong_passwords_in_a_minute_lock_an_address_for_a_minute() {
        let mut g = Guesses::default();
        let t = Instant::now();
        let a = ip("10.0.0.2");
        for i in 0..4 {
            assert!(!g.wrong(a, t + Duration::from_secs(i)), "try {i}");
        }
        assert!(!g.locked(a, t + Duration::from_secs(4)));
        assert!(g.wrong(a, t + Duration::from_secs(5)), "the fifth");
        assert!(g.locked(a, t + Duration::from_secs(6)));
        assert!(!g.locked(ip("10.0.0.3"), t), "another address is not");
        assert!(g.locked(a, t + Duration::from_secs(64)));
        assert!(!g.locked(a, t + Duration::from_secs(66)), "a minute later");
        // Slow guessing is not locked: tries older than a minute fall out.
        let b = ip("10.0.0.4");
        for i in 0..20 {
            assert!(!g.wrong(b, t + Duration::from_secs(16 * i)), "try {i}");
        }
        // IPv4-mapped IPv6 is the same address.
        let c = ip("10.0.0.5");
        for _ in 0..4 {
            g.wrong(c, t);
        }
        assert!(g.wrong(ip("::ffff:10.0.0.5"), t));
        assert!(g.locked(c, t));
    }

    #[test]
    fn the_guess_table_is_bounded() {
        let mut g = Guesses::default();
        let t = Instant::now();
        for i in 0..(GUESS_TABLE as u32 + 100) {
            g.wrong(IpAddr::V4(i.into()), t);
        }
        assert!(g.wrong.len() <= GUESS_TABLE);
        assert_eq!(
            g.order.len(),
            g.wrong.len(),
            "one place in the order per address"
        );
        // Locked addresses are kept while others can go.
        let mut g = Guesses::default();
        let locked = IpAddr::V4(std::net::Ipv4Addr::new(10, 9, 9, 9));
        for _ in 0..GUESS_MAX {
            g.wrong(locked, t);
        }
        for i in 0..(GUESS_TABLE as u32 + 100) {
            g.wrong(IpAddr::V4(i.into()), t);
        }
        assert!(g.locked(locked, t), "still locked out");
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"abcd", b"abc"));
        assert!(!same_secret(b"", b"abc"));
        assert!(same_secret("老师".as_bytes(), "老师".as_bytes()));
    }

    #[test]
    fn a_ban_names_an_address_or_a_network_no_wider_than_a_16() {
        assert_eq!(parse_net("10.0.0.7"), Ok("10.0.0.7/32".parse().unwrap()));
        assert_eq!(parse_net("10.0.0.7/24"), Ok("10.0.0.0/24".parse().unwrap()));
        assert_eq!(parse_net("10.1.0.0/16"), Ok("10.1.0.0/16".parse().unwrap()));
        assert_eq!(parse_net("10.0.0.0/15"), Err(BanError::TooWide(16)));
        assert_eq!(parse_net("0.0.0.0/0"), Err(BanError::TooWide(16)));
        assert_eq!(
            parse_net("::ffff:10.0.0.7"),
            Ok("10.0.0.7/32".parse().unwrap())
        );
        assert_eq!(parse_net("fd00::1/64"), Ok("fd00::/64".parse().unwrap()));
        assert_eq!(parse_net("fd00::/32"), Err(BanError::TooWide(48)));
        assert_eq!(parse_net("bob"), Err(BanError::NotAnAddress));
        assert_eq!(parse_net("10.0.0.7:5000"), Err(BanError::NotAnAddress));
    }

    #[test]
    fn bans_cover_their_network_until_they_end_and_survive_the_file() {
        let t = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut bans = Bans::default();
        bans.add(Ban {
            net: parse_net("10.0.1.0/24").unwrap(),
            until: Some(t + Duration::from_secs(600)),
            by: "teacher@10.0.0.2:5".into(),
        });
        bans.add(Ban {
            net: parse_net("10.0.0.9").unwrap(),
            until: None,
            by: "10.0.0.2:5".into(),
        });
        assert!(bans.covering(ip("10.0.1.77"), t).is_some());
        assert!(bans.covering(ip("::ffff:10.0.0.9"), t).is_some());
        assert!(bans.covering(ip("10.0.0.8"), t).is_none());
        let file = bans.take_changed(t, wall).expect("changed");
        assert!(bans.take_changed(t, wall).is_none(), "written once");
        assert!(
            file.contains("10.0.1.0/24 2027-01-15T08:10:00Z teacher@10.0.0.2:5\n"),
            "{file}"
        );
        assert!(file.contains("10.0.0.9/32 - 10.0.0.2:5\n"), "{file}");
        // Read back by a server started 100 s later.
        let later = t + Duration::from_secs(5);
        let wall_later = wall + Duration::from_secs(100);
        let (back, bad) = from_file(&format!("{file}nonsense here\n"), later, wall_later);
        assert_eq!(bad, vec![4]);
        let mut again = Bans::default();
        again.load(back, later);
        assert!(again
            .covering(ip("10.0.1.1"), later + Duration::from_secs(499))
            .is_some());
        assert!(again
            .covering(ip("10.0.1.1"), later + Duration::from_secs(501))
            .is_none());
        assert!(again
            .covering(ip("10.0.0.9"), later + Duration::from_secs(99_999))
            .is_some());
        assert!(again.remove(parse_net("10.0.0.9").unwrap(), later));
        assert!(!again.remove(parse_net("10.0.0.9").unwrap(), later));
        assert!(again.list(later + Duration::from_secs(99_999)).is_empty());
    }
}
