#!/usr/bin/env bash
# The README's pictures of lanchat --gui: docs/gui-desktop.png and
# docs/gui-phone.png, taken in headless Chromium (chromium, chromedriver,
# python3 and a CJK font needed) from a real lanchat --ipmsg next to the
# FeiQ-like peer, on 127.0.0.2 and 127.0.0.4 only.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --quiet --test tests -- --ignored --exact gui::screenshots
echo "gui-screenshot: wrote docs/gui-desktop.png and docs/gui-phone.png"
