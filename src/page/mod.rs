//! The page: one front end, inside the binary (no CDN, no internet), served
//! two ways: by `room-server --web` (the room's page) and by
//! `lanchat --gui` (the desktop window). The same HTML, script and style;
//! the script finds which it was served as (the desktop window's page
//! carries its token) and talks to its server accordingly.

/// The page.
pub const INDEX_HTML: &str = include_str!("index.html");
/// Its script.
pub const APP_JS: &str = include_str!("app.js");
/// Its style.
pub const APP_CSS: &str = include_str!("app.css");
