#!/usr/bin/env bash
# The Windows build, run under Wine against the Linux binaries and peers,
# on 127.0.0.1 only (tried as a Windows user would use it):
#   the UDP pair both ways (GB2312 bytes checked on the wire, JSON "bytes":4),
#   piped GBK text read in the ANSI code page (code page 936), the room
#   with nc members and room-client.exe from a pipe (GB2312 both ways),
#   lanchat.exe in tmux, Ctrl-C → 130, usage errors → 2, and the errors a
#   user meets (port in use, nobody listening, connection refused);
#   lanchat.exe --ipmsg fetching hostile names and a folder from a FeiQ-like
#   peer (on 127.0.0.4) and serving it a file; lanchat.exe --gui served to
#   the Linux Chromium.
# Then the library's unit tests for the Windows target, under Wine.
#
# Needs: wine, x86_64-w64-mingw32-gcc, the x86_64-pc-windows-gnu target,
# nc, tmux, python3 (.ci/run installs them). Env: EXE_DIR (the .exe files,
# default target/x86_64-pc-windows-gnu/debug, built here when missing),
# LANCHAT_BIN (the Linux binaries, default target/debug), UNIT=0 skips
# the unit tests, KEEP=1 keeps the temporary folder (to look at). A private WINEPREFIX in a temporary folder, removed at
# the end; only processes this script started are stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
TARGET=x86_64-pc-windows-gnu
EXE=${EXE_DIR:-target/$TARGET/debug}
LIN=${LANCHAT_BIN:-target/debug}
for tool in wine x86_64-w64-mingw32-gcc nc tmux python3; do
    command -v "$tool" >/dev/null || { echo "wine-check: $tool is required" >&2; exit 1; }
done
start=$(date +%s)
if [ ! -x "$EXE/chat-window.exe" ]; then
    cargo build --quiet --target "$TARGET" --bins
fi
[ -x "$LIN/chat-window" ] || cargo build --quiet --bins

tmp=$(mktemp -d)
pids=()
tmux_sock=lanchat-wine-$$     # lanchat.exe in UDP mode
tmux_files=lanchat-winef-$$   # lanchat.exe --ipmsg
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    tmux -L "$tmux_sock" kill-server 2>/dev/null || true
    tmux -L "$tmux_files" kill-server 2>/dev/null || true
    wine_stop 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "wine-check: $*: ok"; }
# A free UDP or TCP port nobody listens on (bound and released by python).
closed_port() {
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET,getattr(socket,sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}
# A Windows program in the foreground, bounded (generously: Wine starts
# slowly on a busy machine). In the background, wine runs directly: it
# execs, so $! is the program's PID, for Ctrl-C.
w() { timeout --foreground 300 wine "$@"; }

# The prefix: booted once, with the one DLL Wine 8.0 lacks.
source scripts/wine/prefix.sh
boot=$(( $(date +%s) - start ))

# --- --version, usage errors ---------------------------------------------
# On failure, the exit status and the whole output are said, so a failure
# on a busy machine says whether it was the program or Wine.
# Seen once in a fresh-clone .ci/run (2026-12-08): `room-server.exe
# --no-such-option` exited 66 with no output at all, which the program never
# does (it always prints its usage error); 15 runs right after all gave 2.
# A run that says nothing and exits with another status is Wine not having
# run the program: it is said and run once more; any other mismatch fails.
# twice VAR ARGS...: runs `w ARGS...`; sets VAR to its output, $code to its status.
twice() {
    local var=$1 out
    shift
    set +e; out=$(w "$@" 2>&1); code=$?; set -e
    if [[ -z "$out" && $code -ne 0 ]]; then
        echo "wine-check: note: '$*' exited $code with no output (Wine did not run it); once more" >&2
        set +e; out=$(w "$@" 2>&1); code=$?; set -e
    fi
    printf -v "$var" '%s' "$out"
}
for b in chat-window input-box room-server room-client lanchat; do
    twice v "$EXE/$b.exe" --version
    [[ $code -eq 0 && $v == "$b "* ]] || die "$b.exe --version: exit $code, output: $v"
    twice out "$EXE/$b.exe" --no-such-option
    [ $code -eq 2 ] || die "$b.exe with a bad option exited $code, not 2; output: $out"
done
ok "--version and usage errors (exit 2) of the five .exe files"

# --- lanchat.exe doctor: runs, lists Wine's interfaces, says what it could
# not read (no crash, no guess); against an answer on loopback it probes
# and names the .exe holding the port from the IP helper tables ---
set +e; out=$(w "$EXE/lanchat.exe" doctor --json 2>&1); code=$?; set -e
python3 - "$out" "$code" <<'PY' || die "lanchat.exe doctor --json: exit $code: $out"
import json, sys
d = json.loads(sys.argv[1]); code = int(sys.argv[2])
codes = [f["code"] for f in d["findings"]]
assert code in (0, 1), code
assert d["interfaces"] or "no-interface" in codes, d
assert "firewall-unreadable" in codes or d["firewall"]["read"], d
PY
dport=$(closed_port SOCK_DGRAM)
wine "$EXE/lanchat.exe" doctor --answer -b 127.0.0.1 -p "$dport" >"$tmp/da.out" 2>"$tmp/da.err" &
dpid=$!
pids+=("$dpid")
until_line "$tmp/da.err" "^listening on " 120
set +e; out=$(w "$EXE/lanchat.exe" doctor 127.0.0.1 -p "$dport" 2>&1); code=$?; set -e
[[ $code -eq 1 && $out == *"✓ UDP to 127.0.0.1:$dport"* && $out == *"✓ TCP to 127.0.0.1:$dport"* && $out == *"UDP port $dport is held by lanchat.exe (pid "* ]] ||
    die "lanchat.exe doctor 127.0.0.1 against lanchat.exe doctor --answer: exit $code: $out"
kill -INT "$dpid" 2>/dev/null || true
ok "lanchat.exe doctor: Wine's interfaces listed, the unread firewall said; probes an answer and names the port's holder"

# --- Chinese Windows: the language from Wine's locale (LANG), no override ---
zh() { env -u LANCHAT_LANG LANG=zh_CN.UTF-8 LC_ALL=zh_CN.UTF-8 timeout --foreground 300 wine "$@"; }
for b in chat-window input-box room-server room-client lanchat; do
    set +e; out=$(zh "$EXE/$b.exe" --help 2>&1); code=$?; set -e
    [[ $code -eq 0 && $out == *"用法："* && $out == *"选项："* ]] ||
        die "$b.exe --help under LANG=zh_CN.UTF-8: exit $code, not Chinese: $out"
    set +e; out=$(zh "$EXE/$b.exe" --no-such-option 2>&1); code=$?; set -e
    [[ $code -eq 2 && $out == *"错误：无法识别的参数 '--no-such-option'"* ]] ||
        die "$b.exe usage error under LANG=zh_CN.UTF-8: exit $code: $out"
done
set +e; out=$(env LANCHAT_LANG=en LANG=zh_CN.UTF-8 LC_ALL=zh_CN.UTF-8 timeout --foreground 300 wine "$EXE/input-box.exe" --help 2>&1); set -e
[[ $out == *"Usage:"* ]] || die "LANCHAT_LANG=en under a Chinese Wine: $out"
port=$(closed_port SOCK_DGRAM)
set +e; out=$(zh "$EXE/chat-window.exe" -b 127.0.0.1 -p "$port" --count 1 --timeout 1s 2>&1); code=$?; set -e
[[ $code -eq 1 && $out == *"listening on 127.0.0.1:$port"* && $out == *"超时"* ]] ||
    die "chat-window.exe under LANG=zh_CN.UTF-8: exit $code: $out"
ok "Chinese under a Chinese locale (--help, usage errors, status lines; 'listening on' as it is), LANCHAT_LANG=en overrides"

# --- input-box (Linux) → chat-window.exe ------------------------------------
w "$EXE/chat-window.exe" -b 127.0.0.1 -p 0 --format json --count 1 --timeout 60s \
    >"$tmp/cw.json" 2>"$tmp/cw.err" &
pids+=($!); cw=$!
until_line "$tmp/cw.err" "listening on"
port=$(port_of "$tmp/cw.err" "listening on")
"$LIN/input-box" 127.0.0.1 -p "$port" -m 你好 2>/dev/null
wait "$cw" || die "chat-window.exe exited $? ($(cat "$tmp/cw.err"))"
grep -q '"text":"你好","bytes":4,"malformed":false' "$tmp/cw.json" || die "chat-window.exe JSON: $(cat "$tmp/cw.json")"
grep -q '"from":"127.0.0.1:' "$tmp/cw.json" || die "chat-window.exe sender: $(cat "$tmp/cw.json")"
wine "$EXE/chat-window.exe" -b 127.0.0.1 -p 0 --count 1 --timeout 60s >"$tmp/cw.txt" 2>"$tmp/cw2.err" &
pids+=($!); cw=$!
until_line "$tmp/cw2.err" "listening on"
port=$(port_of "$tmp/cw2.err" "listening on")
"$LIN/input-box" 127.0.0.1 -p "$port" -s 127.0.0.2 -m 你好 2>/dev/null
wait "$cw" || die "chat-window.exe (text) exited $?"
[ "$(sed -n 2p "$tmp/cw.txt")" = "你好" ] && grep -q '^127\.0\.0\.2:[0-9]*$' "$tmp/cw.txt" \
    || die "chat-window.exe text records: $(cat "$tmp/cw.txt")"
ok "Linux input-box → chat-window.exe: sender 127.0.0.2:PORT and 你好 shown, JSON bytes 4"

# --- input-box.exe → the wire (GB2312 bytes), from a pipe --------------------
# A receiver that prints each datagram's bytes in hex, as the classic
# programs would receive them.
hexrx() {
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print("listening on 127.0.0.1:%d" % s.getsockname()[1], file=sys.stderr, flush=True)
s.settimeout(60)
for _ in range(int(sys.argv[1])):
    d, a = s.recvfrom(65536); print(d.hex(), flush=True)
' "$1"
}
hexrx 2 >"$tmp/hex" 2>"$tmp/hex.err" &
pids+=($!); rx=$!
until_line "$tmp/hex.err" "listening on"
port=$(port_of "$tmp/hex.err" "listening on")
printf '你好\n88\n' | w "$EXE/input-box.exe" 127.0.0.1 -p "$port" 2>"$tmp/ib.err" \
    || die "input-box.exe exited $?: $(cat "$tmp/ib.err")"
wait "$rx"
[ "$(cat "$tmp/hex")" = "$(printf 'c4e3bac3\n3838')" ] || die "input-box.exe sent $(cat "$tmp/hex")"
ok "input-box.exe from a UTF-8 pipe → GB2312 on the wire (c4e3bac3), 88 quits"

# Piped GBK text (type 名单.txt | input-box), read in the ANSI code page:
# LC_ALL=zh_CN.UTF-8 gives the Wine process code page 936, as on Chinese Windows.
hexrx 1 >"$tmp/hex" 2>"$tmp/hex.err" &
pids+=($!); rx=$!
until_line "$tmp/hex.err" "listening on"
port=$(port_of "$tmp/hex.err" "listening on")
printf '\xc4\xe3\xba\xc3\r\n' | env LC_ALL=zh_CN.UTF-8 timeout 300 wine "$EXE/input-box.exe" 127.0.0.1 -p "$port" 2>"$tmp/ib.err" \
    || die "input-box.exe (GBK pipe) exited $?: $(cat "$tmp/ib.err")"
wait "$rx"
[ "$(cat "$tmp/hex")" = "c4e3bac3" ] || die "input-box.exe (GBK pipe) sent $(cat "$tmp/hex"); $(cat "$tmp/ib.err")"
ok "input-box.exe from a GBK pipe (ANSI code page 936, --stdin-encoding auto) → 你好 sent"

# Nobody listening: warned once, the lines still go, exit 0.
p=$(closed_port SOCK_DGRAM)
w "$EXE/input-box.exe" 127.0.0.1 -p "$p" -m one -m two -m three 2>"$tmp/ib.err" \
    || die "input-box.exe to a closed port exited $?"
grep -q "no chat window is listening at 127.0.0.1:$p" "$tmp/ib.err" \
    || die "input-box.exe to a closed port said: $(cat "$tmp/ib.err")"
ok "input-box.exe to a closed port: 'no chat window is listening' warning"

# --- port in use --------------------------------------------------------------
wine "$EXE/chat-window.exe" -b 127.0.0.1 -p 0 >/dev/null 2>"$tmp/cw.err" &
pids+=($!); cw=$!
until_line "$tmp/cw.err" "listening on"
port=$(port_of "$tmp/cw.err" "listening on")
set +e; w "$EXE/chat-window.exe" -b 127.0.0.1 -p "$port" >/dev/null 2>"$tmp/cw3.err"; code=$?; set -e
[ $code -eq 1 ] && grep -q "cannot listen on 127.0.0.1:$port: address already in use" "$tmp/cw3.err" \
    || die "second chat-window.exe on port $port: exit $code, $(cat "$tmp/cw3.err")"
ok "a second chat-window.exe on the same port: 'address already in use', exit 1"

# --- Ctrl-C → 130 -------------------------------------------------------------
kill -INT "$cw"
set +e; wait "$cw"; code=$?; set -e
[ $code -eq 130 ] && grep -q "messages shown" "$tmp/cw.err" || die "chat-window.exe after Ctrl-C: exit $code, $(cat "$tmp/cw.err")"
ok "Ctrl-C: chat-window.exe prints its summary and exits 130"

# --- room-server.exe with nc members, room-client.exe from a pipe --------------
wine "$EXE/room-server.exe" -b 127.0.0.1 -p 0 >/dev/null 2>"$tmp/rs.err" &
pids+=($!); rs=$!
until_line "$tmp/rs.err" "Chat server started on"
grep -q "open-file limit" "$tmp/rs.err" && die "room-server.exe speaks of an open-file limit: $(cat "$tmp/rs.err")"
rport=$(port_of "$tmp/rs.err" "Chat server started on")
mkfifo "$tmp/a.in" "$tmp/c.in"
nc -s 127.0.0.2 127.0.0.1 "$rport" <"$tmp/a.in" >"$tmp/a.out" &
pids+=($!)
exec 3>"$tmp/a.in"
until_line "$tmp/rs.err" "(1 in room)"
wine "$EXE/room-client.exe" 127.0.0.1 -p "$rport" <"$tmp/c.in" >"$tmp/c.out" 2>"$tmp/c.err" &
pids+=($!); rc=$!
exec 4>"$tmp/c.in"
until_line "$tmp/c.err" "Connected to remote host. Start sending messages!"
until_line "$tmp/a.out" "entered room"
printf '\xc4\xe3\xba\xc3 from nc\n' >&3          # GB2312 from nc ...
until_line "$tmp/c.out" "<127.0.0.2:[0-9]*> 你好 from nc"   # ... shown as Chinese
printf '你好 from room-client\n' >&4              # UTF-8 typed into room-client ...
until_line "$tmp/a.out" "from room-client"
grep -a -q "$(printf '> \xc4\xe3\xba\xc3 from room-client')" "$tmp/a.out" \
    || die "nc did not get GB2312 from room-client.exe: $(od -c "$tmp/a.out" | head)"
exec 4>&-                                           # end of input: exit 0
set +e; wait "$rc"; code=$?; set -e
[ $code -eq 0 ] || die "room-client.exe at end of input exited $code: $(cat "$tmp/c.err")"
until_line "$tmp/a.out" "left room"
exec 3>&-
ok "room-server.exe: nc and room-client.exe from a pipe, GB2312 both ways, entered/left notices"
p=$(closed_port SOCK_STREAM)
set +e; w "$EXE/room-client.exe" 127.0.0.1 -p "$p" </dev/null >/dev/null 2>"$tmp/c.err"; code=$?; set -e
[ $code -eq 1 ] && grep -q "Unable to connect to 127.0.0.1:$p: connection refused" "$tmp/c.err" \
    || die "room-client.exe to a closed port: exit $code, $(cat "$tmp/c.err")"
kill -INT "$rs"; set +e; wait "$rs"; code=$?; set -e
[ $code -eq 130 ] || die "room-server.exe after Ctrl-C exited $code"
ok "room-client.exe to a closed port: 'connection refused', exit 1; room-server.exe Ctrl-C → 130"

# --- room-server.exe: a class's room (password file, operator, a kept ban) ----
printf 'lesson\n' >"$tmp/room.pw"
wine "$EXE/room-server.exe" -b 127.0.0.1 -p 0 --password-file "Z:$tmp/room.pw" \
    --op-password chalk --bans "Z:$tmp/class.bans" >/dev/null 2>"$tmp/cls.err" &
pids+=($!); cls=$!
until_line "$tmp/cls.err" "Chat server started on"
cport=$(port_of "$tmp/cls.err" "Chat server started on")
python3 - "$cport" <<'PY' || die "room-server.exe's class room: $(cat "$tmp/cls.err")"
import socket, sys
port = int(sys.argv[1])
def member(src):
    s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(src, 0))
    return s, s.makefile("rb")
def until(f, want):
    while True:
        line = f.readline()
        if not line:
            sys.exit("closed before %r" % want)
        if line.decode("utf-8", "replace").rstrip("\n").startswith(want):
            return
t, tf = member("127.0.0.2")
until(tf, "! password required: /pass PASSWORD")
t.sendall(b"/pass nope\n/pass lesson\n/op chalk\n/ban 127.0.0.3\n/bans\n")
for want in ("! wrong password", "! password accepted", "! you are an operator",
             "[127.0.0.3/32] was banned by", "! ban 127.0.0.3/32 until lifted"):
    until(tf, want)
b, bf = member("127.0.0.3")
until(bf, "! banned")
if bf.readline():
    sys.exit("a banned address was not closed")
PY
grep -q '^127.0.0.3/32 - ' "$tmp/class.bans" || die "room-server.exe did not keep the ban: $(cat "$tmp/class.bans" 2>&1)"
grep -q 'was banned by' "$tmp/cls.err" || die "room-server.exe did not log the ban: $(cat "$tmp/cls.err")"
kill -INT "$cls"; set +e; wait "$cls"; code=$?; set -e
[ $code -eq 130 ] || die "room-server.exe (class room) after Ctrl-C exited $code"
ok "room-server.exe: --password-file, /pass, /op, /ban kept in --bans FILE, a banned address refused"

# --- lanchat.exe in tmux → a Linux chat-window ----------------------------------
"$LIN/chat-window" -b 127.0.0.1 -p 0 --count 1 --timeout 90s >"$tmp/lc.out" 2>"$tmp/lc-cw.err" &
pids+=($!); cw=$!
until_line "$tmp/lc-cw.err" "listening on"
port=$(port_of "$tmp/lc-cw.err" "listening on")
tmux -L "$tmux_sock" new-session -d -s main -x 180 -y 30 \
    "LC_ALL=C.UTF-8 timeout --foreground 300 wine $EXE/lanchat.exe 127.0.0.1:$port -b 127.0.0.1 -p 0 2>$tmp/lc.err; echo \$? >$tmp/lc.code.part; mv $tmp/lc.code.part $tmp/lc.code; sleep 600"
until_line "$tmp/lc.err" "listening on"
lport=$(port_of "$tmp/lc.err" "listening on")
# Keys count once the window is drawn (before, they are the console's):
# Wine's console garbles the boxes, but the status line reads right.
wait_until 120 on_screen "$tmux_sock" "127.0.0.1:$lport → 127.0.0.1:$port │" ||
    die "lanchat.exe's window never showed its status line: $(screen "$tmux_sock")"
type_line "$tmux_sock" "hello 你好"
set +e; wait "$cw"; code=$?; set -e
[ $code -eq 0 ] || die "the Linux chat-window got nothing from lanchat.exe ($(cat "$tmp/lc.err"))"
[ "$(cat "$tmp/lc.out")" = "$(printf '127.0.0.1:%s\nhello 你好' "$lport")" ] \
    || die "chat-window got from lanchat.exe: $(cat "$tmp/lc.out")"
type_line "$tmux_sock" "/quit"
wait_until 120 test -f "$tmp/lc.code" || true
[ "$(cat "$tmp/lc.code" 2>/dev/null)" = 0 ] || die "lanchat.exe after /quit: exit $(cat "$tmp/lc.code" 2>/dev/null); $(cat "$tmp/lc.err")"
ok "lanchat.exe in tmux: a typed line reaches a Linux chat-window from its listening port; /quit exits 0"

# --- lanchat.exe --ipmsg: files from and to a FeiQ-like peer ---------------------
# lanchat.exe on 127.0.0.2 (bound to loopback: it broadcasts nowhere), the
# peer (scripts/ipmsg-peer.py) on 127.0.0.4, same port. The Windows side
# writes every hostile name through the Windows file API (Wine's).
fport=$(closed_port SOCK_DGRAM) pport=$(closed_port SOCK_DGRAM)
mkdir -p "$tmp/wdl"
head -c 300000 /dev/urandom >"$tmp/wsend.bin"
tmux -L "$tmux_files" new-session -d -s main -x 160 -y 40 \
    "LC_ALL=C.UTF-8 timeout --foreground 300 wine $EXE/lanchat.exe --ipmsg -b 127.0.0.2 -p $fport --download-dir Z:$tmp/wdl --log Z:$tmp/wf.jsonl 127.0.0.4:$pport 2>$tmp/wf.err; echo \$? >$tmp/wf.code.part; mv $tmp/wf.code.part $tmp/wf.code; sleep 600"
until_line "$tmp/wf.err" "listening on"
wait_until 120 on_screen "$tmux_files" "IPMsg 127.0.0.2:$fport" ||
    die "lanchat.exe --ipmsg never showed its status line: $(screen "$tmux_files")"
# The peer on a port of its own: Wine binds a UDP socket that may
# broadcast to 0.0.0.0 whatever address it was given, so the port is taken
# on every address. (IP Messenger peers take TARGETs with a port.)
mkfifo "$tmp/peer.in"
python3 scripts/ipmsg-peer.py "$tmp/peer.log" 127.0.0.2 127.0.0.2 --bind 127.0.0.4 --port "$pport" --to-port "$fport" <"$tmp/peer.in" &
pids+=($!)
exec 8>"$tmp/peer.in"
until_line "$tmp/peer.log" READY
echo entry >&8
# (Its packets come from 127.0.0.1, for the same reason: Wine's 0.0.0.0.)
until_line "$tmp/peer.log" "RECV from=127.0.0.1 cmd=0x1000003 "
echo "offer 100 names" >&8
echo "offer 101 folder" >&8
logged() { (($(grep -c "\"event\":\"$1\"" "$tmp/wf.jsonl" 2>/dev/null) == $2)); }
wait_until 120 logged received 2 || true
(($(grep -c '"event":"received"' "$tmp/wf.jsonl" 2>/dev/null) == 2)) || die "lanchat.exe did not log the peer's two offers"
type_line "$tmux_files" "/get 1"
type_line "$tmux_files" "/get 2"
wait_until 120 logged fetched 14 || true
(($(grep -c '"event":"fetched"' "$tmp/wf.jsonl" 2>/dev/null) == 14)) \
    || die "lanchat.exe fetched $(grep -c '"event":"fetched"' "$tmp/wf.jsonl") of 14 items: $(grep failed "$tmp/wf.jsonl" | head -3)"
python3 - "$tmp/wdl" <<'PY' || die "lanchat.exe's saved files"
import os, sys
dl = sys.argv[1]
data = lambda i, n: bytes((k * 7 + i) % 251 for k in range(n))
names = set(os.listdir(dl)) - {"正常"}
# The same safe names as on Linux (see src/ipmsg/files.rs), one per file.
for want in (".._.._escaped.txt", "_etc_abs.txt", "C__Windows_win.ini", "a_[31mred", "_CON",
             "_nul.txt", "bidi_fdp.exe", "_", "what_____", "a__b", "sp ace"):
    assert want in names, (want, sorted(names))
assert len(names) == 13, sorted(names)
for n in names:
    body = open(os.path.join(dl, n), "rb").read()
    assert len(n.encode()) <= 250 and body == data(len(body) - 7, len(body)), n
f = os.path.join(dl, "正常")
assert open(os.path.join(f, "一.txt"), "rb").read() == data(1, 5)
assert open(os.path.join(f, "子", "二.bin"), "rb").read() == data(1, 6)
assert open(os.path.join(f, "子", "孙", "三.bin"), "rb").read() == data(1, 7)
PY
[[ -e "$tmp/escaped.txt" || -e /tmp/escaped.txt ]] && die "lanchat.exe wrote outside its download folder"
type_line "$tmux_files" "/to 127.0.0.4"
type_line "$tmux_files" "/send Z:$tmp/wsend.bin"
until_line "$tmp/peer.log" "cmd=0x200120 .*wsend.bin:493e0:"
no=$(grep "cmd=0x200120 .*wsend.bin" "$tmp/peer.log" | head -1 | sed 's/.* no=\([0-9]*\) .*/\1/')
echo "fetch 127.0.0.4 $no 0 0 $tmp/wgot" >&8
until_line "$tmp/peer.log" "FETCHED bytes=300000"
cmp -s "$tmp/wsend.bin" "$tmp/wgot" || die "the file lanchat.exe served differs"
echo "fetch 127.0.0.5 $no 0 0 $tmp/wnot" >&8
until_line "$tmp/peer.log" "FETCHED bytes=0"
type_line "$tmux_files" "/quit"
wait_until 120 test -f "$tmp/wf.code" || true
[ "$(cat "$tmp/wf.code" 2>/dev/null)" = 0 ] || die "lanchat.exe --ipmsg after /quit: exit $(cat "$tmp/wf.code" 2>/dev/null)"
exec 8>&-
ok "lanchat.exe --ipmsg: hostile names saved as the same safe names as on Linux, a nested folder, a file served to its recipient only"

# --- lanchat.exe --gui: its window in the Linux Chromium ----------------------------
# (a cargo test run against the .exe: tests/gui.rs, the_windows_binary_…)
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    out=$(LANCHAT_WINE_EXE="$EXE/lanchat.exe" cargo test --quiet --test tests -- \
        --exact gui::the_windows_binary_serves_its_window_under_wine 2>&1) ||
        die "lanchat.exe --gui under Wine: $out"
    grep -q "1 passed" <<<"$out" || die "lanchat.exe --gui under Wine did not run: $out"
    ok "lanchat.exe --gui --no-open: its window in Chromium, a line each way (GB2312 on the wire), Quit exits 0"
elif [[ ${CI:-} == true ]]; then
    die "chromium and chromedriver are required in CI"
fi

# --- a double-click: lanchat.exe with no arguments in a console of its own ---------
# (as Explorer starts it: `wine start` gives it a new console, which is then
# its alone) starts the window, served on 127.0.0.1. Wine's browser is made
# to open nothing. Skipped when UDP port 3456, lanchat's default, is taken.
if command -v xvfb-run >/dev/null && ! ss -Hlun 'sport = :3456' | grep -q .; then
    wine reg add 'HKCU\Software\Wine\WineBrowser' /v Browsers /d none /f >/dev/null 2>&1 || true
    loopback_listeners() { ss -Hltn | awk '{print $4}' | { grep '^127\.0\.0\.1:' || true; } | sort; }
    before=$(loopback_listeners)
    timeout 120 xvfb-run -a wine start /wait "$EXE/lanchat.exe" >/dev/null 2>&1 &
    pids+=($!)
    new_listener() {
        comm -13 <(echo "$before") <(loopback_listeners) | head -1 | grep .
    }
    listening() { new_listener >/dev/null; }
    wait_until 120 listening || die "a double-clicked lanchat.exe served no window"
    gport=$(new_listener | sed 's/.*://')
    body=$(curl -s "http://127.0.0.1:$gport/")
    grep -q "open the address lanchat printed" <<<"$body" || die "127.0.0.1:$gport is not lanchat's window: $body"
    wine_stop
    ok "lanchat.exe double-clicked (no arguments, a console of its own): the window is served on 127.0.0.1:$gport (token required)"
else
    echo "wine-check: double-click: SKIPPED (no xvfb-run, or port 3456 in use)"
fi

checks=$(( $(date +%s) - start - boot ))

# --- the library's unit tests, for Windows, under Wine --------------------------
if [ "${UNIT:-1}" != 0 ]; then
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine cargo test --quiet --target "$TARGET" --lib 2>&1 \
        | tail -3
    ok "unit tests for $TARGET under Wine"
fi
echo "wine-check: OK (prefix ${boot}s, checks ${checks}s, all $(( $(date +%s) - start ))s)"
