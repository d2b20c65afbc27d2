//! Value parsers and option groups shared by the binaries' clap
//! definitions.
//!
//! Each turns what the user typed into a checked value before anything runs,
//! so a bad value is a usage error (exit 2) that says what was wrong.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use rust_i18n::t;

use crate::encoding::Encoding;

/// Who a UDP listener shows and which group it joins: the options
/// `chat-window` and `lanchat` share (flattened into both).
#[derive(clap::Args, Debug, Clone)]
pub struct Listen {
    #[arg(help = t!("help.listen.allow").to_string(), long, value_name = "CIDR", value_parser = network)]
    pub allow: Vec<IpNet>,
    #[arg(help = t!("help.listen.max_rate").to_string(), long, value_name = "N", value_parser = positive)]
    pub max_rate: Option<u64>,
    #[arg(help = t!("help.listen.multicast").to_string(), long, value_name = "GROUP")]
    pub multicast: Option<IpAddr>,
    #[arg(help = t!("help.listen.interface").to_string(), long, value_name = "ADDR", requires = "multicast")]
    pub interface: Option<String>,
}

impl Listen {
    /// `--max-rate` as the filter takes it.
    pub fn max_rate(&self) -> Option<u32> {
        self.max_rate.map(|n| n.min(u64::from(u32::MAX)) as u32)
    }
}

/// What `--generate` writes (hidden; `scripts/dist.sh` uses it): the man
/// page or a shell's completion script, from the binary's own clap
/// definition, on stdout.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generate {
    /// A man page (roff).
    Man,
    /// bash completion.
    CompleteBash,
    /// zsh completion.
    CompleteZsh,
    /// fish completion.
    CompleteFish,
    /// PowerShell completion.
    CompletePowershell,
}

/// Writes what `kind` asks for, for the command `cmd`, to `out`.
///
/// # Errors
/// When writing fails.
pub fn generate(
    kind: Generate,
    mut cmd: clap::Command,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use clap_complete::Shell;
    let name = cmd.get_name().to_string();
    let shell = match kind {
        Generate::Man => return clap_mangen::Man::new(cmd).render(out),
        Generate::CompleteBash => Shell::Bash,
        Generate::CompleteZsh => Shell::Zsh,
        Generate::CompleteFish => Shell::Fish,
        Generate::CompletePowershell => Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut cmd, name, out);
    Ok(())
}

/// `-e` where text is decoded: any WHATWG label or `auto`.
///
/// # Errors
/// A message listing valid labels.
pub fn decoding(label: &str) -> Result<Encoding, String> {
    Encoding::for_decoding(label).map_err(|e| e.to_string())
}

/// `-e` where text is encoded: any WHATWG label one can write in.
///
/// # Errors
/// A message listing valid labels.
pub fn encoding(label: &str) -> Result<Encoding, String> {
    Encoding::for_encoding(label).map_err(|e| e.to_string())
}

/// `--stdin-encoding`: `utf-8`, `auto`, or a WHATWG label.
///
/// # Errors
/// A message listing valid labels.
pub fn stdin_encoding(label: &str) -> Result<crate::stdin::StdinText, String> {
    crate::stdin::StdinText::for_label(label)
}

/// `--timeout`: `5s`, `500ms`, `2m`, or plain seconds (`5`).
///
/// # Errors
/// A message with examples.
pub fn duration(text: &str) -> Result<Duration, String> {
    if let Ok(secs) = text.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(text).map_err(|_| t!("cli.duration", text = text).into_owned())
}

/// `--allow`: a network (`10.0.0.0/8`, `fd00::/8`) or one address.
///
/// # Errors
/// A message with examples.
pub fn network(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| t!("cli.network", text = text).into_owned())
}

/// `-b`: an IP address to bind (brackets allowed for IPv6).
///
/// # Errors
/// A message with examples.
pub fn bind_addr(text: &str) -> Result<IpAddr, String> {
    crate::net::parse_ip(text)
}

/// A size in bytes: `4194304`, `4MiB`, `256MiB`, `1GiB`, or SI `64KB`
/// (IEC units are powers of 1024, SI units powers of 1000); at least 1.
///
/// # Errors
/// A message with examples.
pub fn bytes(text: &str) -> Result<u64, String> {
    match parse_size::parse_size(text) {
        Ok(0) => Err(t!("cli.at_least_one_byte").into_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(t!("cli.bytes", text = text).into_owned()),
    }
}

/// A count or rate that must be at least 1.
///
/// # Errors
/// A message when the value is 0 or not a number.
pub fn positive(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err(t!("cli.at_least_one").into_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(t!("cli.positive", text = text).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("2").unwrap(), Duration::from_secs(2));
        assert!(duration("soon").unwrap_err().contains("500ms"));
    }

    #[test]
    fn networks() {
        assert_eq!(network("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(network("127.0.0.2").unwrap().to_string(), "127.0.0.2/32");
        assert_eq!(network("::1").unwrap().to_string(), "::1/128");
        assert!(network("lan").is_err());
    }

    #[test]
    fn bind_addresses() {
        assert_eq!(bind_addr("[::]").unwrap().to_string(), "::");
        assert!(bind_addr("localhost").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes("4194304").unwrap(), 4 << 20);
        assert_eq!(bytes("32MiB").unwrap(), 32 << 20);
        assert_eq!(bytes("256 MiB").unwrap(), 256 << 20);
        assert_eq!(bytes("64KB").unwrap(), 64_000);
        assert!(bytes("0").is_err());
        assert!(bytes("lots").unwrap_err().contains("256MiB"));
    }

    #[test]
    fn positives() {
        assert!(positive("0").is_err());
        assert_eq!(positive("3").unwrap(), 3);
    }

    #[test]
    fn man_pages_and_completions_come_from_the_clap_definition() {
        let cmd = || {
            clap::Command::new("demo")
                .about("a demo")
                .arg(clap::Arg::new("port").long("port").short('p'))
        };
        let text = |kind| {
            let mut out = Vec::new();
            generate(kind, cmd(), &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert!(text(Generate::Man).contains(".TH demo"));
        for kind in [
            Generate::CompleteBash,
            Generate::CompleteZsh,
            Generate::CompleteFish,
            Generate::CompletePowershell,
        ] {
            let script = text(kind);
            assert!(script.contains("port"), "{kind:?}: {script}");
            assert!(script.contains("demo"), "{kind:?}: {script}");
        }
    }
}
