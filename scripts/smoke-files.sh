#!/usr/bin/env bash
# Files and folders over IP Messenger across real network stacks, as root:
# four hosts in network namespaces (scripts/lib.sh), lanchat --ipmsg in tmux
# on hosts 2 (甲), 3 (乙) and 4 (丙, whose download folder is a 2 MB tmpfs),
# the real iptux on host 1 (headless, under xvfb-run). Checks:
#   1. 甲 → 乙: a BIG_MIB MiB file and a folder of FILES files nested three
#      deep, byte for byte (cmp, diff -r);
#   2. 乙 → 甲: the same with other bytes;
#   3. resume: 甲's link slowed (tc), 甲 killed while 乙 fetches; 甲 again,
#      the same file offered again: 乙's .part grows from where it stopped
#      (甲's log: it sent only the rest) and the result is whole;
#   4. /drop (甲 shows 乙 declined) and /cancel (乙's /get gets nothing);
#   5. a full disk: 丙's /get says so, 丙 chats on;
#   6. iptux → lanchat: iptux's shared file and folder (it offers them when
#      asked with its IPTUX_ASKSHARED) fetched whole with /get;
#   7. lanchat → iptux: 甲's offer accepted in iptux's window (xdotool:
#      "Accept", then Return in its folder dialog), saved whole.
# Always tears down what it created (trap), even on failure or Ctrl-C.
#
# Usage: sudo scripts/smoke-files.sh
# Exit: 0 all well, 1 a check failed, 77 skipped (not root, no ip netns).
# Env: LANCHAT_BIN  directory of the binaries (default: builds release)
#      BIG_MIB      the big file's size in MiB (default 100)
#      FILES        files in the folder (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

SKIP=77
big_mib=${BIG_MIB:-100}
nfiles=${FILES:-1000}
if [[ $(id -u) -ne 0 ]]; then
    echo "smoke-files: SKIPPED: needs root (network namespaces)" >&2
    exit $SKIP
fi
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
    echo "smoke-files: SKIPPED: 'ip netns' is not available (install iproute2)" >&2
    exit $SKIP
fi
for tool in tmux python3 tc; do
    if ! command -v $tool >/dev/null; then
        [[ ${CI:-} == true ]] && { echo "smoke-files: $tool is required in CI" >&2; exit 1; }
        echo "smoke-files: SKIPPED: needs $tool" >&2
        exit $SKIP
    fi
done
if [[ -z "${LANCHAT_BIN:-}" ]]; then
    cargo build --release --quiet --bin lanchat
    LANCHAT_BIN=target/release
fi
lc="$(cd "$LANCHAT_BIN" && pwd)/lanchat"

netns_setup smoke-files 4
ip_a=$(addr4 2) ip_b=$(addr4 3) ip_c=$(addr4 4) ip_i=$(addr4 1)

# --- the data --------------------------------------------------------------
# tree DIR N SEED: N files of 0..4 KiB, 10 per folder, nested three deep.
tree() {
    python3 - "$1" "$2" "$3" <<'PY'
import os, random, sys
top, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
for k in range(n):
    d = os.path.join(top, "目录%d" % (k // 100), "子%d" % (k // 10 % 10))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "文件 %d.txt" % k), "wb") as f:
        f.write(rnd.randbytes(rnd.randrange(4097)))
os.makedirs(os.path.join(top, "空的"), exist_ok=True)
PY
}
mkdir -p "$work/a" "$work/b"
head -c "${big_mib}MiB" /dev/urandom >"$work/a/大文件.bin"
head -c "${big_mib}MiB" /dev/urandom >"$work/b/回传.bin"
tree "$work/a/资料" "$nfiles" 1
tree "$work/b/回传资料" "$nfiles" 2
echo "hello" >"$work/a/小.txt"
size=$((big_mib * 1024 * 1024))

# --- lanchat windows ---------------------------------------------------------
# start_lc NAME HOST NICK DL: lanchat --ipmsg in tmux on HOST, the tmux
# server ${tag}NAME (the windows are called by these NAMEs below, through
# $w_NAME); --log $work/NAME.jsonl.
start_lc() {
    local sock="${tag}$1"
    tmuxes+=("$sock")
    printf -v "w_$1" %s "$sock"
    ip netns exec "$(ns "$2")" tmux -L "$sock" new-session -d -s main -x 220 -y 50 \
        "$lc --ipmsg --name $3 --download-dir $4 --log $work/$1.jsonl 2>$work/$1.err; echo exit=\$?; sleep 600"
}
# lanchat's pid under the tmux pane's shell.
lc_pid() {
    local sh
    sh=$(tmux -L "$1" display-message -p -t main '#{pane_pid}')
    cat "/proc/$sh/task/$sh/children"
}
# same FILE_A FILE_B WHAT / same_tree DIR_A DIR_B WHAT
same() { cmp -s "$1" "$2" || fail "$3: $2 differs from $1"; }
same_tree() { diff -r "$1" "$2" >/dev/null || fail "$3: $2 differs from $1"; }
files_in() { find "$1" -type f | wc -l; }

start_lc a 2 甲 "$work/dl-a"
start_lc b 3 乙 "$work/dl-b"
until_screen "$w_a" "乙 $ip_b" "甲 does not list 乙" &&
    until_screen "$w_b" "甲 $ip_a" "乙 does not list 甲"

# --- 1. 甲 → 乙: the big file and the folder ---------------------------------
type_line "$w_a" "/to 乙"
type_line "$w_a" "/send $work/a/大文件.bin $work/a/资料"
until_screen "$w_b" "甲 ($ip_a) 📎 [1] 大文件.bin" "乙 did not get 甲's offer"
[[ -e "$work/dl-b" ]] && fail "something was fetched without /get"
t0=$(date +%s.%N)
type_line "$w_b" "/get 1"
until_screen "$w_b" "✓ saved 大文件.bin, 资料 in $work/dl-b" "乙 did not save 甲's offer" 300
t1=$(date +%s.%N)
until_screen "$w_a" "→ 乙  ✓" "甲's entry never showed ✓"
same "$work/a/大文件.bin" "$work/dl-b/大文件.bin" "甲 → 乙"
same_tree "$work/a/资料" "$work/dl-b/资料" "甲 → 乙 folder"
(($(files_in "$work/dl-b/资料") == nfiles)) || fail "甲 → 乙: not $nfiles files"
echo "smoke-files: 甲 → 乙: ${big_mib} MiB and $nfiles files in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s, identical"

# --- 2. 乙 → 甲 ----------------------------------------------------------------
type_line "$w_b" "/to 甲"
type_line "$w_b" "/send $work/b/回传.bin $work/b/回传资料"
until_screen "$w_a" "乙 ($ip_b) 📎 [2] 回传.bin" "甲 did not get 乙's offer"
type_line "$w_a" "/get 2"
until_screen "$w_a" "✓ saved 回传.bin, 回传资料 in $work/dl-a" "甲 did not save 乙's offer" 300
same "$work/b/回传.bin" "$work/dl-a/回传.bin" "乙 → 甲"
same_tree "$work/b/回传资料" "$work/dl-a/回传资料" "乙 → 甲 folder"
echo "smoke-files: 乙 → 甲: identical"

# --- 3. resume after the sender is killed --------------------------------------
# 乙 has 大文件.bin already: this copy is 大文件 (1).bin.
ip netns exec "$(ns 2)" tc qdisc add dev eth0 root tbf rate 200mbit burst 256kb latency 100ms
type_line "$w_a" "/send $work/a/大文件.bin"
until_screen "$w_b" "📎 [3] 大文件.bin" "乙 did not get the offer to resume"
type_line "$w_b" "/get 3"
part="$work/dl-b/大文件 (1).bin.part"
third() { (($(stat -c %s "$part" 2>/dev/null || echo 0) > size / 3)); }
wait_until 30 third || fail "resume: the .part never passed a third"
kill -9 "$(lc_pid "$w_a")"
ip netns exec "$(ns 2)" tc qdisc del dev eth0 root
until_screen "$w_b" "✗ 大文件.bin: short:" "乙 did not say the transfer broke off"
until_screen "$w_a" "exit=137" "甲 was not killed"
kept=$(stat -c %s "$part")
((kept > 0 && kept < size)) || fail "resume: the .part holds $kept of $size bytes"
start_lc a2 2 甲 "$work/dl-a"
until_screen "$w_a2" "乙 $ip_b" "甲 (again) does not list 乙"
type_line "$w_a2" "/to 乙"
type_line "$w_a2" "/send $work/a/大文件.bin"
until_screen "$w_b" "📎 [4] 大文件.bin" "乙 did not get the offer again"
type_line "$w_b" "/get 4"
until_screen "$w_b" "✓ saved $work/dl-b/大文件 (1).bin" "the resumed transfer did not finish" 300
same "$work/a/大文件.bin" "$work/dl-b/大文件 (1).bin" "resume"
rest=$(python3 -c '
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(l)
    if r.get("event") == "sent": print(r["bytes"])' "$work/a2.jsonl")
[[ "$rest" == $((size - kept)) ]] || fail "resume: 甲 sent $rest bytes, not the $((size - kept)) after the .part's $kept"
echo "smoke-files: resume: $kept bytes kept when 甲 was killed, 甲 again sent the other $rest, the file is whole"

# --- 4. /drop and /cancel ------------------------------------------------------
type_line "$w_a2" "/send $work/a/小.txt"
until_screen "$w_b" "📎 [5] 小.txt" "乙 did not get the small offer"
type_line "$w_b" "/drop 5"
until_screen "$w_a2" "→ 乙  乙 declined" "/drop: 甲 was not told"
type_line "$w_a2" "/send $work/a/小.txt"
until_screen "$w_b" "📎 [6] 小.txt" "乙 did not get the offer to cancel"
type_line "$w_a2" "/cancel 3"
until_screen "$w_a2" "cancelled" "/cancel was not shown"
type_line "$w_b" "/get 6"
until_screen "$w_b" "✗ 小.txt: the peer sent nothing" "a cancelled offer was served"
[[ -e "$work/dl-b/小.txt" || -e "$work/dl-b/小.txt.part" ]] && fail "/cancel: something was written"
echo "smoke-files: /drop told the sender, /cancel ended the offer"

# --- 5. a full disk ------------------------------------------------------------
mkdir -p "$work/tiny"
mount -t tmpfs -o size=2m tmpfs "$work/tiny"
mounts+=("$work/tiny")
start_lc c 4 丙 "$work/tiny"
until_screen "$w_a2" "丙 $ip_c" "甲 does not list 丙"
type_line "$w_a2" "/to 丙"
type_line "$w_a2" "/send $work/a/大文件.bin"
until_screen "$w_c" "📎 [1] 大文件.bin" "丙 did not get the offer"
type_line "$w_c" "/get 1"
until_screen "$w_c" "✗ 大文件.bin: the disk is full" "a full disk was not said"
type_line "$w_c" "/to 甲"
type_line "$w_c" "磁盘满了"
until_screen "$w_a2" "丙 ($ip_c) 磁盘满了" "丙 does not chat on after the full disk"
echo "smoke-files: a full disk is one clear error, the chat goes on"

# --- 6, 7. iptux ---------------------------------------------------------------
if command -v iptux >/dev/null && command -v xvfb-run >/dev/null && command -v xdotool >/dev/null &&
    command -v xclip >/dev/null; then
    home="$work/iptux-home"
    mkdir -p "$home/.iptux" "$work/iptux-recv" "$work/i"
    head -c 5000000 /dev/urandom >"$work/i/共享.bin"
    tree "$work/i/共享夹" 30 3
    cat >"$home/.iptux/config.json" <<JSON
{"archive_path": "$work/iptux-recv", "open_chat": true,
 "peer_window_width": 900, "peer_window_height": 600, "peer_main_paned_divide": 450,
 "shared_file_list": ["$work/i/共享.bin", "$work/i/共享夹"], "proof_shared": false}
JSON
    start_iptux 1 "$home" 1280x900x24
    until_screen "$w_a2" "root $ip_i" "甲 does not list iptux" 30
    # 6. iptux offers its shared files when asked (IPTUX_ASKSHARED, 255),
    # to the address asking: asked from 甲's address and port.
    for try in 1 2 3 4 5; do
        ask_iptux_shared 2 "$ip_a" "$ip_i"
        wait_until 1 on_screen "$w_a2" "root ($ip_i) 📎" && break
    done
    until_screen "$w_a2" "root ($ip_i) 📎 [5] 共享.bin 5.0 MB, 共享夹/" "iptux's offer did not reach 甲"
    type_line "$w_a2" "/get 5"
    until_screen "$w_a2" "✓ saved 共享.bin, 共享夹 in $work/dl-a" "甲 did not save iptux's files" 60
    same "$work/i/共享.bin" "$work/dl-a/共享.bin" "iptux → lanchat"
    same_tree "$work/i/共享夹" "$work/dl-a/共享夹" "iptux → lanchat folder"
    echo "smoke-files: iptux → lanchat: a file and a folder, identical"
    # 7. 甲 offers iptux a file; a line first opens iptux's chat window.
    head -c 3000000 /dev/urandom >"$work/a/给iptux.bin"
    type_line "$w_a2" "/to $ip_i"
    type_line "$w_a2" "你好 iptux, 发你个文件"
    until_screen "$w_a2" "me 你好 iptux, 发你个文件 ✓" "iptux did not confirm the line"
    type_line "$w_a2" "/send $work/a/给iptux.bin"
    until_screen "$w_a2" "→ root  root offered" "甲's offer to iptux is not shown"
    win=$(iptux_window "Talk with") || true
    if [[ -z "$win" ]]; then
        fail "iptux opened no chat window"
    else
        x xdotool mousemove --window "$win" 704 77 click 1
        dialog=$(iptux_window "Please select a folder") || true
        [[ -n "$dialog" ]] || fail "iptux's Accept opened no folder dialog"
        x xdotool key Return
        wait_until 30 cmp -s "$work/a/给iptux.bin" "$work/iptux-recv/给iptux.bin" || true
        same "$work/a/给iptux.bin" "$work/iptux-recv/给iptux.bin" "lanchat → iptux"
        until_screen "$w_a2" "→ root  ✓" "甲's entry never showed ✓ for iptux"
        echo "smoke-files: lanchat → iptux: accepted in iptux's window, identical"
        # What iptux shows of 甲's first line: its own words, not UTF-8 read
        # as GB18030 (甲 started before iptux, its entry answered in GBK).
        shown=$(iptux_chat_text "$win") || fail "iptux's chat window gave no text"
        grep -qF "你好 iptux, 发你个文件" <<<"$shown" ||
            fail "iptux shows 甲's first line as: $(grep -v '^(' <<<"$shown" | head -2)"
        echo "smoke-files: iptux shows 甲's first line right"
    fi
elif [[ ${CI:-} == true ]]; then
    fail "iptux, xvfb-run, xdotool and xclip are required in CI (.ci/run installs them)"
else
    echo "smoke-files: iptux: SKIPPED (needs iptux, xvfb-run, xdotool and xclip)"
fi

# Every window still answers and leaves with 0.
for s in a2 b c; do
    w="w_$s"
    type_line "${!w}" "/quit"
    until_screen "${!w}" "exit=0" "$s did not exit 0 on /quit"
done
if ((failures)); then
    echo "smoke-files: $failures check(s) FAILED" >&2
    exit 1
fi
echo "smoke-files: OK"
