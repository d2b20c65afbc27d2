//! Admission of datagrams: the `--allow` list and the per-sender rate limit.
//!
//! Both decide before anything is decoded, so a flood from one address costs
//! a hash look-up per datagram and nothing else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// The `--allow` networks; empty means everyone.
#[derive(Clone, Debug, Default)]
pub struct AllowList {
    nets: Vec<IpNet>,
}

impl AllowList {
    /// An allow list of these networks (empty: allow all).
    pub fn new(nets: Vec<IpNet>) -> Self {
        AllowList { nets }
    }

    /// Whether `ip` may be shown. IPv4-mapped IPv6 addresses match IPv4 nets.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.nets.is_empty() {
            return true;
        }
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }
}

/// A token bucket: `rate` tokens per second, holding at most `rate`.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn full(rate: u32, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(rate),
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, rate: u32, now: Instant) -> bool {
        if self.ready(rate, now) {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Refills for the time passed; whether a token is there (none taken).
    pub fn ready(&mut self, rate: u32, now: Instant) -> bool {
        let rate = f64::from(rate);
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.last = now;
        self.tokens >= 1.0
    }

    /// How long after the last refill until a token is there.
    pub fn wait(&self, rate: u32) -> Duration {
        let missing = (1.0 - self.tokens).max(0.0);
        Duration::from_secs_f64(missing / f64::from(rate.max(1)))
    }
}

/// Senders whose state is kept at most; past this, idle full buckets are
/// forgotten so spoofed source addresses cannot grow memory without bound.
const MAX_TRACKED: usize = 100_000;

/// Per-sender-address token buckets (`--max-rate`), with drop counts.
#[derive(Debug)]
pub struct RateLimiter {
    rate: u32,
    buckets: HashMap<IpAddr, Bucket>,
    dropped: HashMap<IpAddr, u64>,
}

impl RateLimiter {
    /// At most `rate` messages per second from one address (`rate` ≥ 1).
    pub fn new(rate: u32) -> Self {
        RateLimiter {
            rate: rate.max(1),
            buckets: HashMap::new(),
            dropped: HashMap::new(),
        }
    }

    /// Whether a message from `ip` may pass now; counts it if not.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> bool {
        let ip = ip.to_canonical();
        if self.buckets.len() >= MAX_TRACKED && !self.buckets.contains_key(&ip) {
            let rate = self.rate;
            // Forget senders whose bucket has refilled (idle ones); if all
            // are busy (a spoofed flood), start over rather than grow.
            self.buckets.retain(|_, b| {
                let mut probe = *b;
                probe.take(rate, now);
                probe.tokens + 1.0 < f64::from(rate)
            });
            if self.buckets.len() >= MAX_TRACKED {
                self.buckets.clear();
            }
        }
        let rate = self.rate;
        let ok = self
            .buckets
            .entry(ip)
            .or_insert_with(|| Bucket::full(rate, now))
            .take(rate, now);
        if !ok && (self.dropped.len() < MAX_TRACKED || self.dropped.contains_key(&ip)) {
            *self.dropped.entry(ip).or_default() += 1;
        }
        ok
    }

    /// Drop counts per sender, largest first.
    pub fn dropped_by_sender(&self) -> Vec<(IpAddr, u64)> {
        let mut v: Vec<_> = self.dropped.iter().map(|(a, n)| (*a, *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// Why a datagram was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its sender is outside `--allow`.
    Allow,
    /// Its sender is over `--max-rate`.
    Rate,
}

/// What every UDP receiver does first: the allow list, then the rate
/// limit (so a flood from outside the list costs no bucket).
#[derive(Debug, Default)]
pub struct Admission {
    allow: AllowList,
    limiter: Option<RateLimiter>,
}

impl Admission {
    /// `--allow` and `--max-rate` (`None`: no limit).
    pub fn new(allow: AllowList, max_rate: Option<u32>) -> Self {
        Admission {
            allow,
            limiter: max_rate.map(RateLimiter::new),
        }
    }

    /// Whether a datagram from `ip` is shown; why not, if not.
    ///
    /// # Errors
    /// [`Refused`] saying which rule dropped it.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<(), Refused> {
        if !self.allow.allows(ip) {
            return Err(Refused::Allow);
        }
        match &mut self.limiter {
            Some(l) => match l.admit(ip, now) {
                true => Ok(()),
                false => Err(Refused::Rate),
            },
            None => Ok(()),
        }
    }

    /// Drops by `--max-rate` per sender, largest first.
    pub fn dropped_by_sender(&self) -> Vec<(IpAddr, u64)> {
        self.limiter
            .as_ref()
            .map(RateLimiter::dropped_by_sender)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_allow_list_allows_all() {
        assert!(AllowList::default().allows("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn allow_list_matches_v4_v6_and_mapped() {
        let list = AllowList::new(vec![
            "127.0.0.2/32".parse().unwrap(),
            "fd00::/8".parse().unwrap(),
        ]);
        assert!(list.allows("127.0.0.2".parse().unwrap()));
        assert!(list.allows("::ffff:127.0.0.2".parse().unwrap()));
        assert!(!list.allows("127.0.0.3".parse().unwrap()));
        assert!(list.allows("fd12::1".parse().unwrap()));
        assert!(!list.allows("::1".parse().unwrap()));
    }

    #[test]
    fn bucket_says_how_long_until_the_next_token() {
        let t0 = Instant::now();
        let mut b = Bucket::full(100, t0);
        for _ in 0..100 {
            assert!(b.take(100, t0));
        }
        assert!(!b.ready(100, t0));
        let wait = b.wait(100).as_secs_f64();
        assert!((wait - 0.010).abs() < 1e-6, "{wait}");
        assert!(!b.ready(100, t0 + Duration::from_millis(9)));
        assert!(b.ready(100, t0 + Duration::from_millis(11)));
        assert_eq!(b.wait(100), Duration::ZERO);
    }

    #[test]
    fn rate_limit_per_sender_refills() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(rl.admit(a, t0));
        assert!(rl.admit(a, t0));
        assert!(!rl.admit(a, t0));
        assert!(rl.admit(b, t0), "another sender has its own bucket");
        assert!(rl.admit(a, t0 + Duration::from_millis(500)));
        assert!(!rl.admit(a, t0 + Duration::from_millis(500)));
        assert_eq!(rl.dropped_by_sender(), vec![(a, 2)]);
    }

    #[test]
    fn admission_checks_the_list_before_the_rate() {
        let now = Instant::now();
        let mut a = Admission::new(AllowList::new(vec!["10.0.0.0/8".parse().unwrap()]), Some(1));
        let inside: IpAddr = "10.1.1.1".parse().unwrap();
        let outside: IpAddr = "192.168.1.1".parse().unwrap();
        assert_eq!(a.admit(outside, now), Err(Refused::Allow));
        assert_eq!(a.admit(inside, now), Ok(()));
        assert_eq!(a.admit(inside, now), Err(Refused::Rate));
        assert_eq!(a.dropped_by_sender(), vec![(inside, 1)]);
        let mut open = Admission::default();
        assert_eq!(open.admit(outside, now), Ok(()));
    }
}
