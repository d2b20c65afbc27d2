#!/usr/bin/env bash
# Screenshots of the room's web page, for a person to look at: a room-server
# with --web on loopback, a few named members chatting (nc, in GB2312), and the
# page in headless Chromium (--screenshot) at a desktop and a phone size,
# in Chinese as a class sees it (the page follows the browser's language).
#
# Usage: scripts/web-screenshot.sh [DIR]    (default: target/screenshots)
# Writes DIR/web-desktop.png and DIR/web-phone.png. Needs chromium and nc;
# Chinese text needs a CJK font (Debian: fonts-wqy-zenhei or fonts-noto-cjk).
# Env: LANCHAT_BIN  directory of the binaries (default: builds release)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
out=${1:-target/screenshots}
mkdir -p "$out"
for tool in chromium nc iconv; do
    command -v "$tool" >/dev/null || { echo "web-screenshot: needs $tool" >&2; exit 1; }
done
fc-list :lang=zh | grep -q . || echo "web-screenshot: warning: no CJK font installed; Chinese shows as boxes" >&2
if [[ -z "${LANCHAT_BIN:-}" ]]; then
    cargo build --release --quiet --bin room-server
    LANCHAT_BIN=target/release
fi
work=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

"$LANCHAT_BIN/room-server" -b 127.0.0.1 -p 0 --web 127.0.0.1:0 2>"$work/server.err" &
pids+=($!)
until_line "$work/server.err" '^Web page on' 30
room=$(sed -n 's/^Chat server started on \(.*\)$/\1/p' "$work/server.err")
web=$(sed -n 's|^Web page on \(http://.*\)$|\1|p' "$work/server.err")
[[ -n $room && -n $web ]] || { echo "web-screenshot: room-server did not start" >&2; cat "$work/server.err" >&2; exit 1; }

# member N LINES...: a member that says these lines (GB2312) once the N-th
# page is connected, then stays.
member() {
    local pages=$1
    shift
    pages_in() { (($(grep -c "from the web page" "$work/server.err") >= pages)); }
    ( wait_until 30 pages_in || true
      printf '%s\n' "$@" | iconv -f utf-8 -t gbk
      sleep 30 ) | nc "${room%:*}" "${room##*:}" >/dev/null &
    pids+=($!)
}

shot() { # shot NAME WIDTH HEIGHT
    timeout 40 chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync --disable-quic \
        --user-data-dir="$work/profile-$1" --window-size="$2,$3" --virtual-time-budget=6000 \
        --lang=zh-CN --accept-lang=zh-CN \
        --screenshot="$out/web-$1.png" "$web" >"$work/chromium-$1.log" 2>&1 ||
        { echo "web-screenshot: chromium failed:" >&2; tail -5 "$work/chromium-$1.log" >&2; exit 1; }
}

member 1 "/nick 王老师" "大家好，欢迎来到实验室聊天室" "下午三点在 302 教室开会，别迟到"
member 1 "/nick 小红" "收到，我会把实验报告带来" "<b>这不是粗体</b>：网页只显示文字"
shot desktop 1000 640
member 2 "/nick 小明" "手机上也能用：打开 $web 就能加入" "消息太多时往上翻，新消息不会把你拉回底部"
shot phone 390 720
echo "web-screenshot: wrote $out/web-desktop.png and $out/web-phone.png ($web)"
