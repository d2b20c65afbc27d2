#!/usr/bin/env bash
# Smoke test on one machine, no privileges: a chat window on a free port and
# several input boxes sending at once from 127.0.0.2, .3, .4, … (loopback
# aliases act as hosts). Checks every message arrived exactly once with the
# right sender. Exit 0 only if all is well.
#
# Usage: scripts/smoke-loopback.sh [HOSTS] [MESSAGES_PER_HOST]
#   HOSTS defaults to 4, MESSAGES_PER_HOST to 500.
# Env: LANCHAT_BIN  directory holding the binaries (default: builds release)
set -euo pipefail

hosts=${1:-4}
per_host=${2:-500}
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [[ -z "${LANCHAT_BIN:-}" ]]; then
    cargo build --release --quiet --bin chat-window --bin input-box
    LANCHAT_BIN=target/release
fi
cw="$LANCHAT_BIN/chat-window"
ib="$LANCHAT_BIN/input-box"

work=$(mktemp -d)
window_pid=""
cleanup() {
    [[ -n "$window_pid" ]] && kill "$window_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

total=$((hosts * per_host))
"$cw" -b 127.0.0.1 -p 0 --count "$total" --timeout 60s --log "$work/log.json" \
    >"$work/out.txt" 2>"$work/err.txt" &
window_pid=$!

port=$(wait_port "$work/err.txt")

pids=()
for h in $(seq 2 $((hosts + 1))); do
    ip="127.0.0.$h"
    seq 1 "$per_host" | sed "s/^/$ip 消息 /" | "$ib" 127.0.0.1 -p "$port" -s "$ip" 2>"$work/ib-$h.err" &
    pids+=($!)
done
senders_ok=1
for pid in "${pids[@]}"; do
    wait "$pid" || senders_ok=0
done

status=0
wait "$window_pid" || status=$?
window_pid=""

logged=$(wc -l <"$work/log.json")
ok=1
check_messages smoke-loopback "$work/out.txt" "$total" "$hosts" || ok=0
echo "smoke-loopback: logged $logged of $total"
if [[ $status -ne 0 || $senders_ok -ne 1 || $ok -ne 1 || $logged -ne $total ]]; then
    echo "smoke-loopback: FAILED (chat-window exit $status)" >&2
    cat "$work/err.txt" "$work"/ib-*.err >&2
    exit 1
fi
echo "smoke-loopback: OK"
