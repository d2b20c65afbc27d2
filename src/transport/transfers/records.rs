//! What files say: the `--log` records of offers and transfers, and the
//! words the window shows (an offer's summary, progress, where things
//! were saved).

use rust_i18n::t;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use serde::Serialize;

use crate::clock::timestamp;
use crate::ipmsg::files::{self, Item};

/// A log record of an offer or a transfer.
#[derive(Serialize)]
pub(super) struct Record<'a> {
    pub(super) ts: String,
    pub(super) offer: u64,
    pub(super) event: &'a str,
    pub(super) peer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) nick: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) packet: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) items: Option<Vec<LogItem<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<&'a str>,
}

#[derive(Serialize)]
pub(super) struct LogItem<'a> {
    pub(super) name: &'a str,
    pub(super) size: u64,
    folder: bool,
}

impl<'a> Record<'a> {
    pub(super) fn new(offer: u64, event: &'a str, peer: SocketAddr) -> Self {
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

pub(super) fn log_items(items: &[Item]) -> Vec<LogItem<'_>> {
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
                crate::sanitize::one_line(&i.name),
                files::human_size(i.size)
            )
        })
        .collect();
    parts.join(", ")
}

/// Where things were saved: `/dl/报告.docx`, or `报告.docx, 图片 in /dl`
/// (the first three names, then how many more).
pub(super) fn saved_text(saved: &[PathBuf]) -> String {
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
            k => t!("files.and_more", n = k - 3).into_owned(),
        };
        return t!(
            "files.saved_in",
            names = names.join(", "),
            more = more,
            dir = dir
        )
        .into_owned();
    };
    one.display().to_string()
}

/// `45% 10 MB of 22 MB, 3.1 MB/s`.
pub(super) fn progress(done: u64, total: u64, since: Instant) -> String {
    let secs = since.elapsed().as_secs_f64().max(0.001);
    let pct = done
        .saturating_mul(100)
        .checked_div(total)
        .map_or(100, |p| p.min(100));
    t!(
        "files.progress",
        pct = pct,
        done = files::human_size(done),
        total = files::human_size(total),
        rate = files::human_size((done as f64 / secs) as u64)
    )
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

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
