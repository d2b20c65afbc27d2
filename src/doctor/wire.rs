//! The doctor's probes and answers on the wire: one line of ASCII per
//! datagram (a chat window that happens to get one shows a readable line),
//! and on TCP one question and one JSON answer.
//!
//! ```text
//! lanchat-doctor 1 probe SESSION KIND RPORT     doctor → PEER (UDP)
//! lanchat-doctor 1 heard SESSION KIND {json}    PEER → the probe's source
//! lanchat-doctor 1 hello SESSION {json}         PEER → doctor's RPORT, a new flow
//! lanchat-doctor 1 ask SESSION\n                doctor → PEER (TCP)
//! {"settings": {…}, "heard": ["unicast", …]}\n  PEER → doctor (TCP)
//! ```

use serde::{Deserialize, Serialize};

const MAGIC: &str = "lanchat-doctor 1 ";

/// How a probe was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// To PEER's address.
    Unicast,
    /// To the broadcast address of PEER's subnet.
    Subnet,
    /// To 255.255.255.255.
    All,
    /// To the multicast group.
    Multicast,
    /// To PEER on the other well-known port (3456 or 2425).
    Port,
}

impl Kind {
    /// The word on the wire.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Unicast => "unicast",
            Kind::Subnet => "subnet",
            Kind::All => "all",
            Kind::Multicast => "multicast",
            Kind::Port => "port",
        }
    }

    fn from_word(w: &str) -> Option<Kind> {
        [
            Kind::Unicast,
            Kind::Subnet,
            Kind::All,
            Kind::Multicast,
            Kind::Port,
        ]
        .into_iter()
        .find(|k| k.word() == w)
    }
}

/// What the answering side runs with, compared with the doctor's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// lanchat's version.
    pub version: String,
    /// The UDP port.
    pub port: u16,
    /// The encoding's label (`gb2312`, `utf-8`, `auto`).
    pub encoding: String,
    /// `udp` or `ipmsg`.
    pub mode: String,
}

/// The TCP answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The answering side's settings.
    pub settings: Settings,
    /// The kinds of probe of this session it heard.
    pub heard: Vec<Kind>,
}

/// One datagram of the doctor's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A probe; answers go to its source, the hello to `reply_port`.
    Probe {
        /// The doctor's run.
        session: String,
        /// How it was sent.
        kind: Kind,
        /// The doctor's port for the hello.
        reply_port: u16,
    },
    /// "I heard your probe of this kind."
    Heard {
        /// The doctor's run.
        session: String,
        /// The probe heard.
        kind: Kind,
        /// The answering side's settings.
        settings: Settings,
    },
    /// A datagram the answering side starts itself, to the doctor's port.
    Hello {
        /// The doctor's run.
        session: String,
        /// The answering side's settings.
        settings: Settings,
    },
}

impl Message {
    /// The datagram.
    pub fn to_bytes(&self) -> Vec<u8> {
        let json = |s: &Settings| serde_json::to_string(s).unwrap_or_default();
        match self {
            Message::Probe {
                session,
                kind,
                reply_port,
            } => format!("{MAGIC}probe {session} {} {reply_port}", kind.word()),
            Message::Heard {
                session,
                kind,
                settings,
            } => format!("{MAGIC}heard {session} {} {}", kind.word(), json(settings)),
            Message::Hello { session, settings } => {
                format!("{MAGIC}hello {session} {}", json(settings))
            }
        }
        .into_bytes()
    }

    /// A datagram read back; `None` for anything else (a chat line).
    pub fn parse(data: &[u8]) -> Option<Message> {
        let text = std::str::from_utf8(data).ok()?.strip_prefix(MAGIC)?;
        let (verb, rest) = text.split_once(' ')?;
        let (session, rest) = rest.split_once(' ')?;
        if !valid_session(session) {
            return None;
        }
        let session = session.to_string();
        match verb {
            "probe" => {
                let (kind, port) = rest.split_once(' ')?;
                Some(Message::Probe {
                    session,
                    kind: Kind::from_word(kind)?,
                    reply_port: port.trim().parse().ok()?,
                })
            }
            "heard" => {
                let (kind, json) = rest.split_once(' ')?;
                Some(Message::Heard {
                    session,
                    kind: Kind::from_word(kind)?,
                    settings: serde_json::from_str(json).ok()?,
                })
            }
            "hello" => Some(Message::Hello {
                session,
                settings: serde_json::from_str(rest).ok()?,
            }),
            _ => None,
        }
    }
}

/// The TCP question.
pub fn ask(session: &str) -> Vec<u8> {
    format!("{MAGIC}ask {session}\n").into_bytes()
}

/// The session of a TCP question.
pub fn parse_ask(line: &str) -> Option<&str> {
    let s = line.trim_end().strip_prefix(MAGIC)?.strip_prefix("ask ")?;
    valid_session(s).then_some(s)
}

fn valid_session(s: &str) -> bool {
    (8..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A new session: 16 random hex digits.
pub fn new_session() -> String {
    let mut b = [0u8; 8];
    // A clock-based fallback is enough to tell two runs apart.
    if getrandom::fill(&mut b).is_err() {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b = n.to_be_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            version: "0.1.0".into(),
            port: 3456,
            encoding: "gb2312".into(),
            mode: "udp".into(),
        }
    }

    #[test]
    fn messages_read_back_as_written() {
        let all = [
            Message::Probe {
                session: "0123456789abcdef".into(),
                kind: Kind::Multicast,
                reply_port: 3456,
            },
            Message::Heard {
                session: "0123456789abcdef".into(),
                kind: Kind::Subnet,
                settings: settings(),
            },
            Message::Hello {
                session: "0123456789abcdef".into(),
                settings: settings(),
            },
        ];
        for m in all {
            assert_eq!(Message::parse(&m.to_bytes()), Some(m));
        }
        assert_eq!(
            parse_ask(std::str::from_utf8(&ask("00ff00ff00ff00ff")).unwrap()),
            Some("00ff00ff00ff00ff")
        );
    }

    #[test]
    fn chat_lines_and_hostile_input_are_not_messages() {
        for bad in [
            &b"hello"[..],
            b"lanchat-doctor 1 probe zz unicast 1",
            b"lanchat-doctor 1 probe 0123456789abcdef sideways 1",
            b"lanchat-doctor 1 probe 0123456789abcdef unicast 99999",
            b"lanchat-doctor 1 heard 0123456789abcdef unicast {not json",
            b"lanchat-doctor 2 probe 0123456789abcdef unicast 1",
            b"\xff\xfe",
        ] {
            assert_eq!(Message::parse(bad), None, "{bad:?}");
        }
        assert_eq!(parse_ask("lanchat-doctor 1 ask ../../etc"), None);
        assert_eq!(new_session().len(), 16);
        assert_ne!(new_session(), new_session());
    }
}
