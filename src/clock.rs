//! Times as lanchat shows them: `2026-11-22T01:02:03.456Z` in records
//! and logs, `HH:MM:SS` in the machine's local time next to a message.

use std::time::SystemTime;

/// Formats a time as `2026-11-22T01:02:03.456Z`.
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// Formats a time as `HH:MM:SS` in the machine's local time zone (what a
/// chat window shows next to each message).
pub fn local_hms(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0);
    let day = (secs + i64::from(crate::sys::local_offset(time))).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", day / 3600, day / 60 % 60, day % 60)
}
