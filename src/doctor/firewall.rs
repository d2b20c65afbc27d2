//! This machine's firewall, read without changing it: on Linux ufw or
//! firewalld when one is active, else the nftables ruleset (which holds
//! iptables-nft's rules too), else `iptables-save`; on Windows the active
//! profile and the inbound rules through PowerShell's NetSecurity
//! cmdlets. The parsers are pure and unit-tested on the tools' output
//! on every OS (so on Windows the Linux ones are only tested).
#![cfg_attr(windows, allow(dead_code))]

use std::process::Command;

/// What was learnt of the firewall.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct View {
    /// The tool that was read (`nftables`, `ufw`, `Windows Firewall`…).
    pub tool: String,
    /// Where UDP to the port is dropped, each with its fix.
    pub blocks: Vec<Block>,
    /// Why nothing could be read, when nothing could.
    pub unreadable: Option<String>,
}

/// One place that drops UDP to the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The rule or policy, as the tool shows it.
    pub rule: String,
    /// The command that lets the port in.
    pub fix: String,
}

/// Reads this machine's firewall for UDP `port`.
pub fn read(port: u16) -> View {
    #[cfg(windows)]
    {
        windows(port)
    }
    #[cfg(not(windows))]
    {
        linux(port)
    }
}

/// Why a tool told nothing.
#[cfg_attr(windows, allow(dead_code))]
#[derive(Debug)]
enum Failed {
    /// It is not installed.
    Missing,
    /// It ran and failed (permission…): its words.
    Said(String),
}

/// Runs a tool; its stdout, or why not (its stderr's first line).
fn run(program: &str, args: &[&str]) -> Result<String, Failed> {
    let out = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Failed::Missing,
            _ => Failed::Said(format!("{program}: {}", crate::net::describe(&e))),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        Err(Failed::Said(format!(
            "{program} {}: {first}",
            args.join(" ")
        )))
    }
}

#[cfg(not(windows))]
fn linux(port: u16) -> View {
    let mut why = Vec::new();
    match run("ufw", &["status", "verbose"]) {
        Ok(text) if text.contains("Status: active") => {
            return View {
                tool: "ufw".into(),
                blocks: ufw(&text, port),
                unreadable: None,
            }
        }
        Ok(_) | Err(Failed::Missing) => {}
        Err(Failed::Said(e)) => why.push(e),
    }
    if run("firewall-cmd", &["--state"]).is_ok_and(|s| s.trim() == "running") {
        return match run("firewall-cmd", &["--list-ports"]) {
            Ok(ports) => View {
                tool: "firewalld".into(),
                blocks: firewalld(&ports, port),
                unreadable: None,
            },
            Err(e) => View {
                tool: "firewalld".into(),
                blocks: Vec::new(),
                unreadable: Some(match e {
                    Failed::Missing => "firewall-cmd".into(),
                    Failed::Said(s) => s,
                }),
            },
        };
    }
    match run("nft", &["list", "ruleset"]) {
        Ok(text) => {
            return View {
                tool: "nftables".into(),
                blocks: nft(&text, port),
                unreadable: None,
            }
        }
        Err(Failed::Said(e)) => why.push(e),
        Err(Failed::Missing) => {}
    }
    match run("iptables-save", &[]) {
        Ok(text) => View {
            tool: "iptables".into(),
            blocks: iptables(&text, port),
            unreadable: None,
        },
        Err(e) => {
            if let Failed::Said(e) = e {
                why.push(e);
            }
            if why.is_empty() {
                why.push(rust_i18n::t!("doctor.no_firewall_tool").into_owned());
            }
            View {
                tool: String::new(),
                blocks: Vec::new(),
                unreadable: Some(why.join("; ")),
            }
        }
    }
}

/// `ufw status verbose`: blocks unless the port is allowed in, when the
/// default for incoming is deny or reject.
pub(crate) fn ufw(text: &str, port: u16) -> Vec<Block> {
    let denies = text
        .lines()
        .find(|l| l.starts_with("Default:"))
        .is_some_and(|l| l.contains("deny (incoming)") || l.contains("reject (incoming)"));
    let allowed = text.lines().any(|l| {
        let mut cols = l.split_whitespace();
        let what = cols.next().unwrap_or("");
        let action = cols.next().unwrap_or("");
        let port_ok = what == port.to_string()
            || what == format!("{port}/udp")
            || port_in_ufw_range(what, port);
        port_ok && action == "ALLOW" && !l.contains("(v6)")
    });
    if denies && !allowed {
        vec![Block {
            rule: "ufw: Default: deny (incoming)".into(),
            fix: format!("sudo ufw allow {port}/udp"),
        }]
    } else {
        Vec::new()
    }
}

fn port_in_ufw_range(what: &str, port: u16) -> bool {
    let Some(range) = what.strip_suffix("/udp") else {
        return false;
    };
    range.split(',').any(|part| match part.split_once(':') {
        Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
            (Ok(a), Ok(b)) => (a..=b).contains(&port),
            _ => false,
        },
        None => part.parse() == Ok(port),
    })
}

/// `firewall-cmd --list-ports` of the default zone: blocks unless the
/// port is listed (the zone rejects what it does not list).
pub(crate) fn firewalld(ports: &str, port: u16) -> Vec<Block> {
    let listed = ports.split_whitespace().any(|p| {
        p.strip_suffix("/udp")
            .is_some_and(|r| match r.split_once('-') {
                Some((a, b)) => {
                    a.parse().is_ok_and(|a: u16| a <= port)
                        && b.parse().is_ok_and(|b: u16| port <= b)
                }
                None => r.parse() == Ok(port),
            })
    });
    if listed {
        return Vec::new();
    }
    vec![Block {
        rule: "firewalld: the default zone does not list this port".into(),
        fix: format!(
            "sudo firewall-cmd --add-port={port}/udp && sudo firewall-cmd --runtime-to-permanent"
        ),
    }]
}

/// What a rule's matchers say of a new UDP datagram to the port from a
/// LAN host: it applies, it does not, or it depends on what we cannot
/// know (an address, an interface): then it is passed over.
fn applies(words: &[&str], port: u16) -> bool {
    let text = words.join(" ");
    let has = |w: &str| words.contains(&w);
    if has("tcp") || has("icmp") || has("icmpv6") || has("sctp") || text.contains("-p tcp") {
        return false;
    }
    // Loopback, addresses, interfaces and marks: not what a LAN peer's
    // datagram is known to match.
    for partial in [
        "iif",
        "iifname",
        "saddr",
        "daddr",
        "ether",
        "mark",
        "-s",
        "-d",
        "-i",
        "--src-range",
        "oif",
        "oifname",
        "meta pkttype",
        "fib",
    ] {
        if words.contains(&partial) || (partial.contains(' ') && text.contains(partial)) {
            return false;
        }
    }
    // Connection state: only rules that take new flows.
    if let Some(at) = words
        .iter()
        .position(|w| *w == "state" || *w == "--ctstate" || *w == "--state")
    {
        let states = words[at + 1..].join(" ").to_lowercase();
        if !states
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|s| s == "new")
        {
            return false;
        }
    }
    if let Some(at) = words
        .iter()
        .position(|w| *w == "l4proto" || *w == "protocol")
    {
        if !words.get(at + 1).is_some_and(|p| p.contains("udp")) {
            return false;
        }
    }
    if let Some(at) = words
        .iter()
        .position(|w| *w == "dport" || *w == "--dport" || *w == "--dports")
    {
        return ports_include(&words[at + 1..], port);
    }
    if let Some(at) = words.iter().position(|w| *w == "-p") {
        if words.get(at + 1) != Some(&"udp") && words.get(at + 1) != Some(&"all") {
            return false;
        }
    }
    true
}

/// Whether a port matcher (`3456`, `3000-4000`, `{ 53, 3456 }`,
/// `53,3456`, `3000:4000`) takes `port`; tokens after the matcher.
fn ports_include(after: &[&str], port: u16) -> bool {
    let mut spec = String::new();
    if after.first() == Some(&"{") {
        for w in &after[1..] {
            if *w == "}" {
                break;
            }
            spec.push_str(w);
        }
    } else if let Some(w) = after.first() {
        spec.push_str(w.trim_start_matches('{').trim_end_matches('}'));
    }
    spec.split(',')
        .filter(|s| !s.is_empty())
        .any(|part| match part.split_once(['-', ':']) {
            Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
                (Ok(a), Ok(b)) => (a..=b).contains(&port),
                _ => false,
            },
            None => part.parse() == Ok(port),
        })
}

/// The first verdict word of a rule and where it is: what comes before
/// it are the matchers (`reject with icmp …` matches nothing).
fn verdict(words: &[&str]) -> Option<(usize, &'static str)> {
    words.iter().enumerate().find_map(|(i, w)| match *w {
        "accept" | "ACCEPT" => Some((i, "accept")),
        "drop" | "DROP" => Some((i, "drop")),
        "reject" | "REJECT" => Some((i, "reject")),
        _ => None,
    })
}

/// `nft list ruleset`: every base chain on the input hook must let a new
/// UDP datagram to the port through; the first rule that applies to it
/// decides, else the chain's policy.
pub(crate) fn nft(text: &str, port: u16) -> Vec<Block> {
    let mut out = Vec::new();
    let (mut family, mut table) = (String::new(), String::new());
    let mut chain: Option<(String, bool, Option<String>)> = None; // name, input hook, decided
    let mut policy_drop = false;
    for raw in text.lines() {
        let line = raw.trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["table", fam, name, ..] => {
                family = fam.to_string();
                table = name.to_string();
            }
            ["chain", name, ..] => {
                chain = Some((name.to_string(), false, None));
                policy_drop = false;
            }
            ["type", "filter", "hook", "input", ..] => {
                if let Some(c) = chain.as_mut() {
                    c.1 = true;
                }
                policy_drop = line.contains("policy drop");
            }
            ["}"] => {
                if let Some((name, true, decided)) = chain.take() {
                    let fix = format!(
                        "sudo nft insert rule {family} {table} {name} udp dport {port} accept"
                    );
                    match decided.as_deref() {
                        Some(rule) if rule != "accept" => out.push(Block {
                            rule: format!("nftables: {family} {table} {name}: {rule}"),
                            fix,
                        }),
                        None if policy_drop => out.push(Block {
                            rule: format!("nftables: {family} {table} {name}: policy drop"),
                            fix,
                        }),
                        _ => {}
                    }
                }
            }
            _ => {
                let Some(c) = chain.as_mut() else { continue };
                if !c.1 || c.2.is_some() || words.is_empty() {
                    continue;
                }
                let Some((at, v)) = verdict(&words) else {
                    continue;
                };
                if words.contains(&"jump") || words.contains(&"goto") {
                    continue;
                }
                if applies(&words[..at], port) {
                    c.2 = Some(if v == "accept" {
                        "accept".into()
                    } else {
                        line.to_string()
                    });
                }
            }
        }
    }
    out
}

/// `iptables-save`: the filter table's INPUT chain, as for nftables.
pub(crate) fn iptables(text: &str, port: u16) -> Vec<Block> {
    let mut in_filter = false;
    let mut policy_drop = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('*') {
            in_filter = line == "*filter";
            continue;
        }
        if !in_filter {
            continue;
        }
        if let Some(rest) = line.strip_prefix(":INPUT ") {
            policy_drop = rest.starts_with("DROP");
            continue;
        }
        let Some(rule) = line.strip_prefix("-A INPUT ") else {
            continue;
        };
        let words: Vec<&str> = rule.split_whitespace().collect();
        let Some(j) = words.iter().position(|w| *w == "-j") else {
            continue;
        };
        let Some((_, v)) = words.get(j + 1).and_then(|t| verdict(&[t])) else {
            continue;
        };
        if applies(&words[..j], port) {
            return if v == "accept" {
                Vec::new()
            } else {
                vec![Block {
                    rule: format!("iptables: -A INPUT {rule}"),
                    fix: format!("sudo iptables -I INPUT -p udp --dport {port} -j ACCEPT"),
                }]
            };
        }
    }
    if policy_drop {
        vec![Block {
            rule: "iptables: INPUT policy DROP".into(),
            fix: format!("sudo iptables -I INPUT -p udp --dport {port} -j ACCEPT"),
        }]
    } else {
        Vec::new()
    }
}

/// The PowerShell that reads the Windows firewall: lines of tab-separated
/// fields, English words whatever the system's language.
#[cfg_attr(not(windows), allow(dead_code))]
fn windows_script(port: u16) -> String {
    format!(
        "$ErrorActionPreference='Stop';\
         Get-NetConnectionProfile | ForEach-Object {{ \"NET`t$($_.InterfaceAlias)`t$($_.NetworkCategory)\" }};\
         Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {{ \"FW`t$($_.Name)`t$($_.Enabled)`t$($_.DefaultInboundAction)\" }};\
         Get-NetFirewallPortFilter -PolicyStore ActiveStore | Where-Object {{ $_.Protocol -eq 'UDP' -and ($_.LocalPort -contains '{port}' -or $_.LocalPort -contains 'Any') }} | Get-NetFirewallRule | Where-Object {{ $_.Enabled -eq 'True' -and $_.Direction -eq 'Inbound' -and $_.Action -eq 'Allow' }} | ForEach-Object {{ \"RULE`t$($_.DisplayName)`t$($_.Profile)\" }};\
         Get-NetFirewallApplicationFilter -PolicyStore ActiveStore | Where-Object {{ $_.Program -like '*\\lanchat.exe' -or $_.Program -like '*\\chat-window.exe' }} | Get-NetFirewallRule | Where-Object {{ $_.Enabled -eq 'True' -and $_.Direction -eq 'Inbound' -and $_.Action -eq 'Allow' }} | ForEach-Object {{ \"RULE`t$($_.DisplayName)`t$($_.Profile)\" }}"
    )
}

#[cfg(windows)]
fn windows(port: u16) -> View {
    let script = windows_script(port);
    match run(
        "powershell",
        &["-NoProfile", "-NonInteractive", "-Command", &script],
    ) {
        Ok(text) => windows_view(&text, port),
        Err(e) => View {
            tool: "Windows Firewall".into(),
            blocks: Vec::new(),
            unreadable: Some(match e {
                Failed::Missing => rust_i18n::t!("doctor.no_powershell").into_owned(),
                Failed::Said(s) => s,
            }),
        },
    }
}

/// The script's output: blocks when a network's profile is on, blocks
/// what it does not allow, and no allow rule covers that profile.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn windows_view(text: &str, port: u16) -> View {
    let mut nets = Vec::new();
    let mut profiles = Vec::new();
    let mut rules = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.trim_end().split('\t').collect();
        match f.as_slice() {
            ["NET", alias, category] => nets.push((alias.to_string(), category.to_string())),
            ["FW", name, enabled, inbound] => {
                profiles.push((name.to_string(), *enabled == "True", inbound.to_string()))
            }
            ["RULE", _, profile] => rules.push(profile.to_string()),
            _ => {}
        }
    }
    if nets.is_empty() && profiles.is_empty() {
        return View {
            tool: "Windows Firewall".into(),
            blocks: Vec::new(),
            unreadable: Some("PowerShell told nothing of the firewall".into()),
        };
    }
    let mut blocks = Vec::new();
    for (alias, category) in &nets {
        // NetworkCategory says DomainAuthenticated; the profile is Domain.
        let profile = if category.starts_with("Domain") {
            "Domain"
        } else {
            category.as_str()
        };
        let Some((_, enabled, inbound)) = profiles.iter().find(|p| p.0 == profile) else {
            continue;
        };
        let blocks_in = inbound != "Allow";
        let allowed = rules
            .iter()
            .any(|p| p == "Any" || p.split(", ").any(|x| x == profile));
        if *enabled && blocks_in && !allowed {
            blocks.push(Block {
                rule: format!("Windows Firewall: {alias} is a {profile} network"),
                fix: format!(
                    "netsh advfirewall firewall add rule name=\"lanchat UDP {port}\" dir=in action=allow protocol=UDP localport={port} profile={}",
                    profile.to_lowercase()
                ),
            });
        }
    }
    View {
        tool: "Windows Firewall".into(),
        blocks,
        unreadable: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DROPPING: &str = "table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
		iifname \"lo\" drop
		ct state established,related accept
		udp dport { 53, 3456 } counter packets 3 bytes 120 drop
	}
	chain output {
		type filter hook output priority filter; policy accept;
		udp dport 3456 drop
	}
}";

    #[test]
    fn nft_rule_that_drops_the_port() {
        let b = nft(DROPPING, 3456);
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(b[0].rule.contains("udp dport { 53, 3456 }"), "{b:?}");
        assert_eq!(
            b[0].fix,
            "sudo nft insert rule inet filter input udp dport 3456 accept"
        );
        assert!(nft(DROPPING, 2425).is_empty());
    }

    #[test]
    fn nft_policy_drop_unless_accepted_first() {
        let policy = "table ip t {\n chain c {\n  type filter hook input priority 0; policy drop;\n  ct state established accept\n }\n}\n";
        assert_eq!(nft(policy, 3456).len(), 1);
        assert!(nft(policy, 3456)[0].rule.contains("policy drop"));
        let open = "table ip t {\n chain c {\n  type filter hook input priority 0; policy drop;\n  udp dport 3000-4000 accept\n }\n}\n";
        assert!(nft(open, 3456).is_empty());
        let reject = "table ip t {\n chain c {\n  type filter hook input priority 0; policy accept;\n  meta l4proto udp reject with icmp port-unreachable\n }\n}\n";
        assert_eq!(nft(reject, 3456).len(), 1);
        let other = "table ip t {\n chain c {\n  type filter hook input priority 0; policy accept;\n  tcp dport 3456 drop\n  ip saddr 10.0.0.9 drop\n }\n}\n";
        assert!(nft(other, 3456).is_empty());
        // A forward chain (a router's, a bridge's) is not this machine's input.
        let fwd = "table bridge f {\n chain fw {\n  type filter hook forward priority 0; policy accept;\n  udp dport 3456 drop\n }\n}\n";
        assert!(nft(fwd, 3456).is_empty());
        assert!(nft("", 3456).is_empty());
    }

    #[test]
    fn iptables_save_rules_and_policy() {
        let text = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n";
        assert_eq!(iptables(text, 3456).len(), 1);
        let open = text.replace(
            "COMMIT",
            "-A INPUT -p udp -m udp --dport 3456 -j ACCEPT\nCOMMIT",
        );
        assert!(iptables(&open, 3456).is_empty());
        let rule = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -m multiport --dports 53,3456 -j REJECT\nCOMMIT\n";
        assert_eq!(
            iptables(rule, 3456)[0].fix,
            "sudo iptables -I INPUT -p udp --dport 3456 -j ACCEPT"
        );
        assert!(iptables(rule, 2425).is_empty());
    }

    #[test]
    fn ufw_and_firewalld() {
        let deny = "Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)\n\nTo                         Action      From\n--                         ------      ----\n22/tcp                     ALLOW IN    Anywhere\n";
        assert_eq!(ufw(deny, 3456)[0].fix, "sudo ufw allow 3456/udp");
        let open = format!("{deny}3456/udp                   ALLOW IN    Anywhere\n");
        assert!(ufw(&open, 3456).is_empty());
        let range = format!("{deny}3000:4000/udp              ALLOW IN    Anywhere\n");
        assert!(ufw(&range, 3456).is_empty());
        assert_eq!(firewalld("22/tcp 5353/udp", 3456).len(), 1);
        assert!(firewalld("3000-4000/udp", 3456).is_empty());
    }

    #[test]
    fn windows_public_network_without_a_rule() {
        let text = "NET\tWi-Fi\tPublic\nFW\tDomain\tTrue\tNotConfigured\nFW\tPrivate\tTrue\tNotConfigured\nFW\tPublic\tTrue\tBlock\n";
        let v = windows_view(text, 3456);
        assert_eq!(v.blocks.len(), 1);
        assert!(v.blocks[0]
            .fix
            .starts_with("netsh advfirewall firewall add rule name=\"lanchat UDP 3456\""));
        assert!(v.blocks[0].fix.ends_with("profile=public"));
        let allowed = format!("{text}RULE\tlanchat\tPrivate, Public\n");
        assert!(windows_view(&allowed, 3456).blocks.is_empty());
        let off = "NET\tEthernet\tPrivate\nFW\tPrivate\tFalse\tBlock\n";
        assert!(windows_view(off, 3456).blocks.is_empty());
        assert!(windows_view("", 3456).unreadable.is_some());
        assert!(windows_script(3456).contains("'3456'"));
    }
}
