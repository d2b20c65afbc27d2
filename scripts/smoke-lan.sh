#!/usr/bin/env bash
# Smoke test on a real LAN: a chat window here, an input box on each HOST
# (started over ssh), all sending at once. Checks every message arrived
# exactly once with a consistent sender (and, for HOSTs given as IP
# addresses, that very address). Exit 0 only if all is well.
#
# Usage: scripts/smoke-lan.sh HOST...
# Env:
#   LANCHAT_REMOTE      how to run a command on HOST (default: ssh); the
#                       command is run as: $LANCHAT_REMOTE HOST input-box ...
#   LANCHAT_REMOTE_BIN  input-box on the hosts (default: input-box on PATH)
#   LANCHAT_WINDOW_ADDR this machine's address as the hosts see it
#                       (default: the source address of the route to HOST)
#   LANCHAT_BIN         directory of the local binaries (default: builds release)
#   MESSAGES            per host (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if (($# == 0)); then
    echo "usage: scripts/smoke-lan.sh HOST..." >&2
    exit 2
fi
remote=${LANCHAT_REMOTE:-ssh}
remote_bin=${LANCHAT_REMOTE_BIN:-input-box}
per_host=${MESSAGES:-200}
if [[ -z "${LANCHAT_BIN:-}" ]]; then
    cargo build --release --quiet --bin chat-window --bin input-box
    LANCHAT_BIN=target/release
fi

work=$(mktemp -d)
window_pid=""
cleanup() {
    [[ -n "$window_pid" ]] && kill "$window_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

total=$(($# * per_host))
"$LANCHAT_BIN/chat-window" -p 0 --count "$total" --timeout 60s \
    >"$work/out.txt" 2>"$work/err.txt" &
window_pid=$!
port=$(wait_port "$work/err.txt")

pids=()
i=0
for host in "$@"; do
    i=$((i + 1))
    addr=${LANCHAT_WINDOW_ADDR:-}
    if [[ -z "$addr" ]]; then
        addr=$(ip route get "$host" 2>/dev/null | sed -n 's/.* src \([^ ]*\).*/\1/p' | head -1)
    fi
    if [[ -z "$addr" ]]; then
        echo "smoke-lan: cannot tell this machine's address towards $host; set LANCHAT_WINDOW_ADDR" >&2
        exit 1
    fi
    # The tag is the host as given, so IP hosts are checked against the sender.
    seq 1 "$per_host" | sed "s/^/$host 消息 /" |
        $remote "$host" "$remote_bin" "$addr" -p "$port" 2>"$work/ib-$i.err" &
    pids+=($!)
done
senders_ok=1
for pid in "${pids[@]}"; do
    wait "$pid" || senders_ok=0
done
status=0
wait "$window_pid" || status=$?
window_pid=""

ok=1
check_messages smoke-lan "$work/out.txt" "$total" "$#" || ok=0
if [[ $status -ne 0 || $senders_ok -ne 1 || $ok -ne 1 ]]; then
    echo "smoke-lan: FAILED (chat-window exit $status)" >&2
    cat "$work/err.txt" "$work"/ib-*.err >&2
    exit 1
fi
echo "smoke-lan: OK"
