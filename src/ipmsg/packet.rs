//! IP Messenger packets: `1:PACKETNO:USER:HOST:COMMAND:EXTRA`, parsed and
//! built.
//!
//! The version field is `1`, or `1_…` (iptux writes `1_iptux 0.8.3`, FeiQ
//! packs its own fields after `1_lbt…#`). PACKETNO and COMMAND are decimal;
//! the low byte of COMMAND is the command, the rest are option bits. A
//! packet is in one encoding throughout: UTF-8 when it carries
//! `IPMSG_UTF8OPT`, else the LAN's legacy encoding (GBK in China) — except
//! that text which is valid UTF-8 and not plain ASCII is read as UTF-8
//! (iptux sends UTF-8 without the flag; GBK text is almost never valid
//! UTF-8).

use std::borrow::Cow;

use thiserror::Error;

use crate::encoding::{EncodeError, Encoding};

/// The UDP port of IP Messenger.
pub const PORT: u16 = 2425;

/// Commands (the low byte).
pub mod cmd {
    /// "I am here" (broadcast at start).
    pub const BR_ENTRY: u32 = 0x01;
    /// "I am leaving".
    pub const BR_EXIT: u32 = 0x02;
    /// The answer to BR_ENTRY.
    pub const ANSENTRY: u32 = 0x03;
    /// "I am away" (or back).
    pub const BR_ABSENCE: u32 = 0x04;
    /// A message.
    pub const SENDMSG: u32 = 0x20;
    /// The receipt of a message (EXTRA: its packet number).
    pub const RECVMSG: u32 = 0x21;
    /// "Which version are you?"
    pub const GETINFO: u32 = 0x40;
    /// The answer to GETINFO.
    pub const SENDINFO: u32 = 0x41;
    /// "What is your absence message?"
    pub const GETABSENCEINFO: u32 = 0x50;
    /// The answer to GETABSENCEINFO.
    pub const SENDABSENCEINFO: u32 = 0x51;
}

/// Option bits.
pub mod opt {
    /// Entry commands: away.
    pub const ABSENCEOPT: u32 = 0x100;
    /// SENDMSG: please confirm with RECVMSG (same bit as ABSENCEOPT).
    pub const SENDCHECKOPT: u32 = 0x100;
    /// SENDMSG: sent to everyone (no receipt expected).
    pub const BROADCASTOPT: u32 = 0x400;
    /// SENDMSG: files attached.
    pub const FILEATTACHOPT: u32 = 0x20_0000;
    /// SENDMSG: encrypted.
    pub const ENCRYPTOPT: u32 = 0x40_0000;
    /// This packet is UTF-8.
    pub const UTF8OPT: u32 = 0x80_0000;
    /// Entry commands: can read UTF-8 packets.
    pub const CAPUTF8OPT: u32 = 0x100_0000;
}

/// The command part of a COMMAND field.
pub fn mode(command: u32) -> u32 {
    command & 0xff
}

/// Why a packet was not understood.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Malformed {
    /// Fewer than six fields.
    #[error("fewer than six fields")]
    Fields,
    /// The version is not 1.
    #[error("not version 1")]
    Version,
    /// PACKETNO is not a number.
    #[error("packet number is not a number")]
    PacketNo,
    /// COMMAND is not a number.
    #[error("command is not a number")]
    Command,
}

/// A parsed packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The version field as sent (`1`, `1_iptux 0.8.3`, `1_lbt6_0#…`).
    pub version: Cow<'a, str>,
    /// Packet number.
    pub no: u64,
    /// Login name.
    pub user: Cow<'a, str>,
    /// Host name.
    pub host: Cow<'a, str>,
    /// Command and options.
    pub command: u32,
    /// The rest, raw (NUL-separated parts).
    pub extra: &'a [u8],
    /// Whether the packet is read as UTF-8.
    pub utf8: bool,
}

impl Packet<'_> {
    /// The command (low byte).
    pub fn mode(&self) -> u32 {
        mode(self.command)
    }

    /// Whether option bit(s) `o` are set.
    pub fn has(&self, o: u32) -> bool {
        self.command & o == o
    }

    /// The `i`-th NUL-separated part of EXTRA, decoded like the packet.
    pub fn part(&self, i: usize, legacy: Encoding) -> Cow<'_, str> {
        let raw = self.extra.split(|&b| b == 0).nth(i).unwrap_or_default();
        decode(raw, self.utf8, legacy)
    }

    /// Whether it came from iptux (which sets ABSENCEOPT on every entry
    /// packet, away or not).
    pub fn is_from_iptux(&self) -> bool {
        self.version.contains("iptux")
    }
}

fn decode(raw: &[u8], utf8: bool, legacy: Encoding) -> Cow<'_, str> {
    if utf8 {
        String::from_utf8_lossy(raw)
    } else {
        legacy.decode(raw).0
    }
}

/// Parses a packet. `peer_utf8` says the sender announced UTF-8 before.
///
/// # Errors
/// [`Malformed`] for a packet that is not IP Messenger's.
pub fn parse(data: &[u8], legacy: Encoding, peer_utf8: bool) -> Result<Packet<'_>, Malformed> {
    let mut fields = data.splitn(6, |&b| b == b':');
    let mut next = || fields.next().ok_or(Malformed::Fields);
    let (version, no, user, host, command) = (next()?, next()?, next()?, next()?, next()?);
    let extra = next()?;
    if !(version == b"1" || version.starts_with(b"1_")) {
        return Err(Malformed::Version);
    }
    let number = |f: &[u8], e: Malformed| -> Result<u64, Malformed> {
        std::str::from_utf8(f)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(e)
    };
    let no = number(no, Malformed::PacketNo)?;
    let command =
        u32::try_from(number(command, Malformed::Command)?).map_err(|_| Malformed::Command)?;
    // UTF8OPT says so; otherwise UTF-8 only if the bytes look it (iptux
    // announces UTF-8, yet writes GBK to a peer whose own packets were GBK;
    // and a GBK pair can be valid UTF-8: see `looks_utf8`).
    let utf8 = command & opt::UTF8OPT != 0
        || if data.is_ascii() {
            peer_utf8
        } else {
            crate::encoding::looks_utf8(data)
        };
    Ok(Packet {
        version: decode(version, utf8, legacy),
        no,
        user: decode(user, utf8, legacy),
        host: decode(host, utf8, legacy),
        command,
        extra,
        utf8,
    })
}

/// Writes a packet, all of it in one encoding: UTF-8 (and the UTF8OPT
/// bit) when `utf8`, else `legacy`. `parts` are joined with NUL; each part
/// ends with one when `terminate`.
///
/// # Errors
/// [`EncodeError`] for a character `legacy` cannot write.
pub fn build(
    no: u64,
    user: &str,
    host: &str,
    command: u32,
    parts: &[&str],
    utf8: bool,
    legacy: Encoding,
) -> Result<Vec<u8>, EncodeError> {
    let command = if utf8 {
        command | opt::UTF8OPT
    } else {
        command
    };
    let enc = if utf8 {
        Encoding::for_encoding("utf-8").expect("utf-8 is a label")
    } else {
        legacy
    };
    let mut out = format!("1:{no}:").into_bytes();
    enc.encode_into(user, &mut out)?;
    out.push(b':');
    enc.encode_into(host, &mut out)?;
    out.extend_from_slice(format!(":{command}:").as_bytes());
    for p in parts {
        enc.encode_into(p, &mut out)?;
        out.push(0);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk() -> Encoding {
        Encoding::gb2312()
    }

    #[test]
    fn a_gbk_entry_from_feiq_parses() {
        let mut data = b"1_lbt6_0#128#5404A6E4BB8C#0#0#0#4001#9:1796151229:wang:PC-01:1:".to_vec();
        data.extend(gbk().encode("老王").unwrap());
        data.extend(b"\0");
        data.extend(gbk().encode("研发部").unwrap());
        data.extend(b"\0");
        let p = parse(&data, gbk(), false).unwrap();
        assert_eq!((p.no, p.mode(), p.utf8), (1796151229, cmd::BR_ENTRY, false));
        assert_eq!((p.user.as_ref(), p.host.as_ref()), ("wang", "PC-01"));
        assert_eq!(p.part(0, gbk()), "老王");
        assert_eq!(p.part(1, gbk()), "研发部");
        assert_eq!(p.part(5, gbk()), "", "a missing part is empty");
    }

    #[test]
    fn iptux_utf8_without_the_flag_and_utf8opt_are_read_as_utf8() {
        let data = "1_iptux 0.8.3:1:root:vm:257:小明\0\0icon-tux.png\0utf-8\0".as_bytes();
        let p = parse(data, gbk(), false).unwrap();
        assert!(p.utf8 && p.is_from_iptux());
        assert_eq!(p.part(0, gbk()), "小明");
        assert!(p.has(opt::ABSENCEOPT), "iptux sets it on every entry");
        let flagged = format!("1:7:u:h:{}:hi\0", cmd::SENDMSG | opt::UTF8OPT);
        assert!(parse(flagged.as_bytes(), gbk(), false).unwrap().utf8);
        // Plain ASCII stays in the legacy encoding (it is both).
        assert!(!parse(b"1:7:u:h:32:hi\0", gbk(), false).unwrap().utf8);
    }

    /// iptux says it writes UTF-8, yet writes GBK to a peer whose own
    /// packets were GBK (captured from iptux 0.8.3 offering files).
    #[test]
    fn a_utf8_peer_s_gbk_bytes_are_read_as_gbk() {
        let data =
            b"1_iptux 0.8.3:6:root:vm:2149580832:\x001:\xb9\xb2\xcf\xed.bin:2dc6c0:0:1:\x07\x00";
        let p = parse(data, gbk(), true).unwrap();
        assert!(!p.utf8);
        assert_eq!(p.part(1, gbk()), "1:共享.bin:2dc6c0:0:1:\x07");
        // Its UTF-8 is still UTF-8, with or without the flag.
        let p = parse("1_iptux 0.8.3:7:root:vm:32:共享\0".as_bytes(), gbk(), true).unwrap();
        assert_eq!(p.part(0, gbk()), "共享");
        // 一 in GBK is D2 BB, valid UTF-8 (һ): still GBK.
        let mut d = b"1_lbt6_0#128#000C29D4E5F6#0#0#0#4001#9:8:u:h:32:".to_vec();
        d.extend(gbk().encode("一").unwrap());
        d.push(0);
        for peer_utf8 in [false, true] {
            assert_eq!(parse(&d, gbk(), peer_utf8).unwrap().part(0, gbk()), "一");
        }
    }

    #[test]
    fn colons_in_the_extra_are_text() {
        let p = parse(b"1:9:u:h:32:time: 12:00\0", gbk(), false).unwrap();
        assert_eq!(p.part(0, gbk()), "time: 12:00");
    }

    #[test]
    fn malformed_packets_say_why() {
        assert_eq!(parse(b"1:2:3", gbk(), false), Err(Malformed::Fields));
        assert_eq!(parse(b"", gbk(), false), Err(Malformed::Fields));
        assert_eq!(parse(b"2:1:u:h:1:", gbk(), false), Err(Malformed::Version));
        assert_eq!(parse(b"1:x:u:h:1:", gbk(), false), Err(Malformed::PacketNo));
        assert_eq!(
            parse(b"1:1:u:h:send:", gbk(), false),
            Err(Malformed::Command)
        );
        assert_eq!(
            parse(b"1:1:u:h:99999999999:", gbk(), false),
            Err(Malformed::Command)
        );
        // A huge extra is fine (the datagram bounds it).
        let mut big = b"1:1:u:h:32:".to_vec();
        big.extend(vec![b'a'; 60_000]);
        assert_eq!(parse(&big, gbk(), false).unwrap().extra.len(), 60_000);
    }

    #[test]
    fn build_writes_one_encoding_throughout() {
        let b = build(
            42,
            "wang",
            "pc",
            cmd::BR_ENTRY,
            &["老王", "组"],
            false,
            gbk(),
        )
        .unwrap();
        let mut want = b"1:42:wang:pc:1:".to_vec();
        want.extend(gbk().encode("老王").unwrap());
        want.push(0);
        want.extend(gbk().encode("组").unwrap());
        want.push(0);
        assert_eq!(b, want);
        let u = build(
            43,
            "wang",
            "pc",
            cmd::SENDMSG | opt::SENDCHECKOPT,
            &["你好 😀"],
            true,
            gbk(),
        )
        .unwrap();
        let p = parse(&u, gbk(), false).unwrap();
        assert!(p.has(opt::UTF8OPT | opt::SENDCHECKOPT));
        assert_eq!(p.part(0, gbk()), "你好 😀");
        assert!(build(1, "u", "h", cmd::SENDMSG, &["😀"], false, gbk()).is_err());
    }
}
