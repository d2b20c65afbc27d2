#!/usr/bin/env bash
# A row of the benchmark (scripts/bench.py runs it when it is root and
# iptux is installed): a big file from the real iptux to lanchat --ipmsg,
# next to the same bytes through nc on the same link. Two hosts in network
# namespaces (scripts/lib.sh; iptux broadcasts, so never outside them).
# iptux sends without a GUI when asked for its shared files
# (IPTUX_ASKSHARED). Prints one line per sender:
#   iptux SECONDS RECEIVER_CPU_SECONDS PEAK_RSS_KIB identical|different
#   nc    SECONDS RECEIVER_CPU_SECONDS PEAK_RSS_KIB identical|different
# Usage: sudo scripts/bench-iptux.sh MIB    Exit 77: not root / no iptux.
# Env: LANCHAT_BIN (default target/release).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
mib=${1:-1024}
if [[ $(id -u) -ne 0 ]] || ! command -v iptux >/dev/null || ! command -v xvfb-run >/dev/null; then
    echo "bench-iptux: SKIPPED: needs root, iptux and xvfb-run" >&2
    exit 77
fi
lc="$(cd "${LANCHAT_BIN:-target/release}" && pwd)/lanchat"
netns_setup bench-iptux 2 >&2
ip_i=$(addr4 1) ip_l=$(addr4 2)
mem=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
cleanup_mem() { rm -rf "$mem"; netns_teardown; }
trap cleanup_mem EXIT
head -c "${mib}MiB" /dev/urandom >"$mem/big.bin"
home="$work/home"
mkdir -p "$home/.iptux" "$mem/dl" "$mem/nc"
cat >"$home/.iptux/config.json" <<JSON
{"archive_path": "$work", "shared_file_list": ["$mem/big.bin"], "proof_shared": false}
JSON
start_iptux 1 "$home" 1024x768x24
sock="${tag}b"
tmuxes+=("$sock")
ip netns exec "$(ns 2)" tmux -L "$sock" new-session -d -s main -x 200 -y 40 \
    "exec $lc --ipmsg --name bench --download-dir $mem/dl --log $work/l.jsonl 2>$work/l.err"
wait_until 30 on_screen "$sock" "root $ip_i" || die "iptux never appeared"
for _ in 1 2 3 4 5; do
    ask_iptux_shared 2 "$ip_l" "$ip_i"
    wait_until 2 on_screen "$sock" "root ($ip_i) 📎 [1]" && break
done
on_screen "$sock" "root ($ip_i) 📎 [1]" || die "iptux offered nothing"
pid=$(tmux -L "$sock" display-message -p -t main '#{pane_pid}')
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
c0=$(cpu "$pid") t0=$(date +%s.%N)
type_line "$sock" "/get 1"
wait_until 600 grep -q '"event":"fetched"' "$work/l.jsonl" 2>/dev/null ||
    die "the transfer did not end: $(screen "$sock" | grep '\[1\]')"
t1=$(date +%s.%N) c1=$(cpu "$pid")
rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
same=different
cmp -s "$mem/big.bin" "$mem/dl/big.bin" && same=identical
echo "iptux $(awk "BEGIN { print $t1 - $t0 }") $(awk "BEGIN { print ($c1 - $c0) / $hz }") $rss $same"
rm -f "$mem/dl/big.bin"
# nc over the same link, host 1 to host 2.
port=$((20000 + RANDOM % 20000))
ip netns exec "$(ns 2)" /usr/bin/time -f "rusage %e %U %S %M" -o "$work/nc.time" \
    nc -l -d "$ip_l" "$port" >"$mem/nc/big.bin" &
ncr=$!
listening() { ip netns exec "$(ns 2)" ss -Hltn "sport = :$port" | grep -q .; }
wait_until 10 listening || die "nc did not listen"
t0=$(date +%s.%N)
ip netns exec "$(ns 1)" nc -N "$ip_l" "$port" <"$mem/big.bin"
wait "$ncr"
t1=$(date +%s.%N)
read -r _ _ u s m <"$work/nc.time"
same=different
cmp -s "$mem/big.bin" "$mem/nc/big.bin" && same=identical
echo "nc $(awk "BEGIN { print $t1 - $t0 }") $(awk "BEGIN { print $u + $s }") $m $same"
