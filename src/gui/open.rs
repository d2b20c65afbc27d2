//! Opening the browser on the window: where Edge, Chrome or Chromium is
//! installed, in its app mode (`--app=URL`: a window of its own, without
//! tabs or an address bar, that looks and behaves like a desktop program;
//! Edge is on every Windows 10 and 11), else the default browser (through
//! the `webbrowser` crate). Not where there is no display.

use rust_i18n::t;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether there is a display to open a browser on: always on Windows
/// and macOS; on other systems an X or Wayland display must be named.
pub fn has_display() -> bool {
    if cfg!(any(windows, target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()))
}

/// The browsers with an app mode, where this system keeps them: the first
/// one found is used.
fn app_browsers() -> Vec<PathBuf> {
    let mut found = Vec::new();
    if cfg!(windows) {
        for (var, rel) in [
            (
                "ProgramFiles(x86)",
                r"Microsoft\Edge\Application\msedge.exe",
            ),
            ("ProgramFiles", r"Microsoft\Edge\Application\msedge.exe"),
            ("ProgramFiles", r"Google\Chrome\Application\chrome.exe"),
            ("ProgramFiles(x86)", r"Google\Chrome\Application\chrome.exe"),
            ("LOCALAPPDATA", r"Google\Chrome\Application\chrome.exe"),
        ] {
            if let Some(base) = std::env::var_os(var) {
                found.push(Path::new(&base).join(rel));
            }
        }
    } else {
        let names = [
            "microsoft-edge",
            "google-chrome",
            "google-chrome-stable",
            "chromium",
            "chromium-browser",
        ];
        let path = std::env::var_os("PATH").unwrap_or_default();
        for dir in std::env::split_paths(&path) {
            for name in names {
                found.push(dir.join(name));
            }
        }
    }
    found.into_iter().filter(|p| p.is_file()).collect()
}

/// Opens `url`; returns how it was opened (for stderr), or why not.
///
/// # Errors
/// No browser could be started.
pub fn open(url: &str) -> Result<String, String> {
    for browser in app_browsers() {
        let started = Command::new(&browser)
            .arg(format!("--app={url}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if started.is_ok() {
            return Ok(t!("gui.opened_app", browser = browser.display()).into_owned());
        }
    }
    webbrowser::open(url)
        .map(|()| t!("gui.opened_default").into_owned())
        .map_err(|e| t!("gui.cannot_open", why = e).into_owned())
}
