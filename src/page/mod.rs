//! The page: one front end, inside the binary (no CDN, no internet), served
//! two ways: by `room-server --web` (the room's page) and by
//! `lanchat --gui` (the desktop window). The same HTML, script and style;
//! the script finds which it was served as (the desktop window's page
//! carries its token) and talks to its server accordingly.

use std::sync::OnceLock;

/// The page as written (see [`index_html()`] for the page as served).
pub const INDEX_HTML: &str = include_str!("index.html");

/// The catalog keys the page uses: its own words, the room's notices, the
/// status line's facts.
const PAGE_KEYS: [&str; 7] = [
    "window.mode_room",
    "page.",
    "room.notice.",
    "window.facts",
    "window.transfers",
    "window.newcomer",
    "files.need_ipmsg",
];

/// The page as served: [`INDEX_HTML`] with the catalog's words for the page
/// in every language (`<script id="words" type="application/json">`); the
/// script picks the browser's language.
pub fn index_html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        let mut all = serde_json::Map::new();
        for locale in crate::i18n::LOCALES {
            let mut words = serde_json::Map::new();
            for prefix in PAGE_KEYS {
                for (key, text) in crate::i18n::messages(locale, prefix) {
                    words.insert(key, serde_json::Value::String(text));
                }
            }
            all.insert(locale.to_string(), serde_json::Value::Object(words));
        }
        // `</` would end the script element early.
        let json = serde_json::Value::Object(all).to_string().replace("</", "<\\/");
        INDEX_HTML.replace(
            "<script src=\"/app.js\"></script>",
            &format!(
                "<script id=\"words\" type=\"application/json\">{json}</script>\n<script src=\"/app.js\"></script>"
            ),
        )
    })
}
/// Its script.
pub const APP_JS: &str = include_str!("app.js");
/// Its style.
pub const APP_CSS: &str = include_str!("app.css");
