#!/usr/bin/env bash
# Smoke test across real network stacks, as root: N network namespaces (hosts)
# joined by a Linux bridge that lives in a namespace of its own, each host
# with its own address in a private test subnet this script picks and owns.
# Nothing is added to the machine's own namespace. Checks:
#   1. unicast: chat-window in host 1, input-box in hosts 2..N at once; every
#      message exactly once with the right sender; Ctrl-C on the window
#      leaves a complete --log;
#   2. broadcast: input-box --broadcast to the subnet broadcast address;
#   3. multicast: chat-window --multicast GROUP --interface ADDR receives
#      input-box GROUP --ttl 1 from another host;
#   4. IPv6: chat window on ::, one IPv4 and one IPv6 sender;
#   5. scripts/smoke-lan.sh driven with LANCHAT_REMOTE="ip netns exec";
#   6. lanchat in tmux on every host, each line to the default target (the
#      local network's broadcast address): every window shows every other
#      host's line once, and its own once, as "me";
#   7. IP Messenger (when iptux, xvfb-run and tmux are installed): iptux on
#      host 1, lanchat --ipmsg on host 2, a FeiQ-like peer
#      (scripts/ipmsg-peer.py) on host 3: the user list, messages both ways
#      with their receipts (✓), a retransmission shown once, an unanswered
#      line marked ✗ not delivered, a line for iptux alone, a hostile nick
#      escaped, BR_EXIT on /quit, the --log;
#   8. a class's room across hosts: room-server --password-file
#      --op-password --bans on host 1; the teacher (nc, UTF-8) on host 2
#      takes the room; a student's room-client (GB2312) on host 3 reads and
#      is read right; host 4 guesses 5 wrong passwords and is locked out
#      while host 3 stays; the teacher bans host 3, which is removed and
#      refused, also after a restart of the room; the chat log says who
#      did what.
# Always tears down what it created (trap), even on failure or Ctrl-C.
#
# Usage: sudo scripts/smoke-netns.sh [HOSTS]     (HOSTS ≥ 3, default 4)
# Exit: 0 all well, 1 a check failed, 77 skipped (not root or no ip netns).
# Env: LANCHAT_BIN  directory of the binaries (default: builds release)
#      MESSAGES     per sending host (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

SKIP=77
hosts=${1:-4}
per_host=${MESSAGES:-300}
if ((hosts < 3)); then
    echo "smoke-netns: need at least 3 hosts" >&2
    exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "smoke-netns: SKIPPED: needs root (network namespaces)" >&2
    exit $SKIP
fi
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
    echo "smoke-netns: SKIPPED: 'ip netns' is not available (install iproute2)" >&2
    exit $SKIP
fi
if [[ -z "${LANCHAT_BIN:-}" ]]; then
    cargo build --release --quiet --bin chat-window --bin input-box --bin lanchat --bin room-server --bin room-client
    LANCHAT_BIN=target/release
fi
LANCHAT_BIN=$(cd "$LANCHAT_BIN" && pwd)
cw="$LANCHAT_BIN/chat-window"
ib="$LANCHAT_BIN/input-box"
lc="$LANCHAT_BIN/lanchat"
rs="$LANCHAT_BIN/room-server"
rc="$LANCHAT_BIN/room-client"

netns_setup smoke-netns "$hosts"


# start_window OUT ERR ARGS...: chat window in host 1; sets $win and $port.
start_window() {
    local out=$1 err=$2
    shift 2
    ip netns exec "$(ns 1)" "$cw" "$@" >"$out" 2>"$err" &
    win=$!
    pids+=("$win")
    port=$(wait_port "$err")
}

# --- 1. unicast from every other host at once, then Ctrl-C: complete log ---
senders=$((hosts - 1))
total=$((senders * per_host))
start_window "$work/u.out" "$work/u.err" -p 0 --log "$work/u.log"
spids=()
for i in $(seq 2 "$hosts"); do
    seq 1 "$per_host" | sed "s/^/$(addr4 "$i") 消息 /" |
        ip netns exec "$(ns "$i")" "$ib" "$(addr4 1)" -p "$port" 2>"$work/u-$i.err" &
    spids+=($!)
done
for p in "${spids[@]}"; do wait "$p" || fail "input-box exited non-zero"; done
# Wait (bounded) until everything is shown, then Ctrl-C the window.
all_shown() { (($(wc -l <"$work/u.out") >= 2 * total)); }
wait_until 60 all_shown || true
kill -INT "$win"
st=0
wait "$win" || st=$?
[[ $st -eq 130 ]] || fail "chat-window exit $st after Ctrl-C, expected 130"
check_messages "smoke-netns unicast" "$work/u.out" "$total" "$senders" || fail "unicast"
shown=$(($(wc -l <"$work/u.out") / 2))
logged=$(wc -l <"$work/u.log")
echo "smoke-netns unicast: shown $shown, logged $logged after Ctrl-C"
[[ $logged -eq $shown ]] || fail "log has $logged lines, window showed $shown"

# --- 2. broadcast ------------------------------------------------------------
start_window "$work/b.out" "$work/b.err" -p 0 --count 1 --timeout 10s
ip netns exec "$(ns 2)" "$ib" "$net3.255" --broadcast -p "$port" -m "$(addr4 2) 广播 1" 2>"$work/b-2.err" ||
    fail "broadcast send"
wait "$win" || fail "broadcast not received: $(cat "$work/b.err")"
check_messages "smoke-netns broadcast" "$work/b.out" 1 1 || fail "broadcast"

# --- 3. multicast ------------------------------------------------------------
start_window "$work/m.out" "$work/m.err" -p 0 --multicast "$group" --interface "$(addr4 1)" --count 2 --timeout 10s
for i in 2 3; do
    ip netns exec "$(ns "$i")" "$ib" "$group" --ttl 1 -s "$(addr4 "$i")" -p "$port" \
        -m "$(addr4 "$i") 组播 1" 2>"$work/m-$i.err" || fail "multicast send from host $i"
done
wait "$win" || fail "multicast not received: $(cat "$work/m.err")"
check_messages "smoke-netns multicast" "$work/m.out" 2 2 || fail "multicast"

# --- 4. IPv6: window on ::, an IPv4 and an IPv6 sender -----------------------
start_window "$work/6.out" "$work/6.err" -b :: -p 0 --count $((2 * per_host)) --timeout 20s
seq 1 "$per_host" | sed "s/^/$(addr4 2) 消息 /" |
    ip netns exec "$(ns 2)" "$ib" "$(addr4 1)" -p "$port" 2>"$work/6-2.err" &
p4=$!
seq 1 "$per_host" | sed "s/^/$(addr6 3) 消息 /" |
    ip netns exec "$(ns 3)" "$ib" "$(addr6 1)" -p "$port" 2>"$work/6-3.err" &
p6=$!
wait "$p4" || fail "IPv4 sender"
wait "$p6" || fail "IPv6 sender: $(cat "$work/6-3.err")"
wait "$win" || fail "IPv6 run: $(cat "$work/6.err")"
check_messages "smoke-netns ipv6" "$work/6.out" $((2 * per_host)) 2 || fail "ipv6"

# --- 5. smoke-lan.sh with the namespaces as LAN hosts ------------------------
lan_hosts=()
for i in $(seq 2 "$hosts"); do lan_hosts+=("$(addr4 "$i")"); done
# smoke-lan.sh runs "$LANCHAT_REMOTE HOST input-box ..."; map each host
# address to its namespace.
cat >"$work/remote" <<EOF
#!/usr/bin/env bash
host=\$1; shift
n=\$(grep -x "\$host .*" "$work/hostmap" | cut -d' ' -f2)
exec ip netns exec "\$n" "\$@"
EOF
chmod +x "$work/remote"
: >"$work/hostmap"
for i in $(seq 2 "$hosts"); do echo "$(addr4 "$i") $(ns "$i")" >>"$work/hostmap"; done
if ip netns exec "$(ns 1)" env LANCHAT_REMOTE="$work/remote" LANCHAT_REMOTE_BIN="$ib" \
    LANCHAT_WINDOW_ADDR="$(addr4 1)" LANCHAT_BIN="$LANCHAT_BIN" MESSAGES=100 \
    bash scripts/smoke-lan.sh "${lan_hosts[@]}"; then :; else fail "smoke-lan.sh"; fi

# --- 6. lanchat on every host, to the default target (broadcast) -------------
if command -v tmux >/dev/null; then
    for i in $(seq 1 "$hosts"); do
        t="${tag}t$i"
        tmuxes+=("$t")
        # The tmux server runs inside the host's namespace, and so does its
        # lanchat: with no TARGET it broadcasts on that namespace's eth0.
        ip netns exec "$(ns "$i")" tmux -L "$t" new-session -d -s main -x 120 -y 40 \
            "$lc -p 3456 2>$work/lc-$i.err; sleep 600"
    done
    every_screen() { # every_screen TEXT: whether every window shows TEXT
        local i
        for i in $(seq 1 "$hosts"); do on_screen "${tag}t$i" "$1" || return 1; done
    }
    wait_until 10 every_screen "broadcast ($net3.255)" ||
        fail "lanchat did not start on every host (or its target is not $net3.255)"
    for i in $(seq 1 "$hosts"); do
        type_line "${tag}t$i" "第${i}台 hello from $(addr4 "$i")"
    done
    wait_until 10 every_screen "第${hosts}台 hello" || true
    sleep 0.3 # a late duplicate would show now; the counts below must be exact
    lc_bad=0
    for i in $(seq 1 "$hosts"); do
        s=$(tmux -L "${tag}t$i" capture-pane -p -t main)
        for j in $(seq 1 "$hosts"); do
            n=$(grep -c "第${j}台 hello from $(addr4 "$j")" <<<"$s" || true)
            if ((i == j)); then
                own=$(grep -c " me 第${j}台 hello" <<<"$s" || true)
                ((n == 1 && own == 1)) || { fail "lanchat host $i shows its own line $n times ($own as me)"; lc_bad=1; }
            else
                from=$(grep -c "$(addr4 "$j"):3456 第${j}台 hello" <<<"$s" || true)
                ((n == 1 && from == 1)) || { fail "lanchat host $i shows host $j's line $n times ($from with its address)"; lc_bad=1; }
            fi
        done
    done
    ((lc_bad)) && screen "${tag}t1" >&2
    ((lc_bad)) || echo "smoke-netns lanchat: $hosts windows, each shows all $hosts lines exactly once (its own as me)"
elif [[ ${CI:-} == true ]]; then
    fail "lanchat: tmux is required in CI (.ci/run installs it)"
else
    echo "smoke-netns lanchat: SKIPPED (tmux not installed)"
fi

# --- 7. IP Messenger: iptux, lanchat --ipmsg and a FeiQ-like peer -------------
if command -v iptux >/dev/null && command -v xvfb-run >/dev/null && command -v tmux >/dev/null &&
    command -v xdotool >/dev/null && command -v xclip >/dev/null; then
    for t in "${tmuxes[@]}"; do tmux -L "$t" kill-server 2>/dev/null || true; done
    ipt="${tag}ip"
    tmuxes+=("$ipt")
    iptux_ip=$(addr4 1) lanchat_ip=$(addr4 2) peer_ip=$(addr4 3)
    mkdir -p "$work/iptux-home"
    # A fresh iptux whose chat window opens by itself, laid out as
    # iptux_chat_text expects.
    mkdir -p "$work/iptux-home/.iptux"
    cat >"$work/iptux-home/.iptux/config.json" <<JSON
{"open_chat": true, "peer_window_width": 900, "peer_window_height": 600, "peer_main_paned_divide": 450}
JSON
    start_iptux 1 "$work/iptux-home" 1280x900x24
    mkfifo "$work/peer.in"
    ip netns exec "$(ns 3)" python3 scripts/ipmsg-peer.py "$work/peer.log" "$net3.255" "$lanchat_ip" <"$work/peer.in" &
    pids+=($!)
    exec 7>"$work/peer.in" # keeps the peer's stdin open
    peer() { echo "$*" >&7; }
    wait_until 10 grep -q READY "$work/peer.log" 2>/dev/null || fail "ipmsg: the peer did not start"
    ip netns exec "$(ns 2)" tmux -L "$ipt" new-session -d -s main -x 120 -y 30 \
        "$lc --ipmsg --name 小王 --group 测试组 --log $work/ipmsg.jsonl 2>$work/ipmsg.err; echo exit=\$?; sleep 600"
    until_log() { # until_log PATTERN WHAT: bounded wait for the peer's log
        wait_until 10 grep -q -- "$1" "$work/peer.log" && return 0
        fail "ipmsg: $2"; return 1
    }
    # The peer's BR_ENTRY once lanchat listens (lanchat's own BR_ENTRY
    # at start reaches the peer and iptux, who answer).
    until_log "RECV from=$lanchat_ip cmd=0x1000001 mode=0x1 " "the peer never got lanchat's BR_ENTRY" &&
        until_screen "$ipt" "root $iptux_ip" "iptux is not in lanchat's list"
    peer entry
    until_screen "$ipt" "飞秋用户 $peer_ip" "the FeiQ-like peer is not in lanchat's list"
    until_screen "$ipt" "飞秋用户 ($peer_ip) 上线" "no 上线 line for the peer"
    # A GBK message with SENDCHECKOPT: shown with the nick, confirmed.
    peer msg 424242 来自飞秋的消息
    until_screen "$ipt" "飞秋用户 ($peer_ip) 来自飞秋的消息" "the peer's message is not shown with its nick"
    until_log "RECV from=$lanchat_ip cmd=0x21 mode=0x21 no=[0-9]* text=424242|" "no RECVMSG for the peer's message"
    # The same packet again (a retransmission): confirmed again, shown once.
    peer msg 424242 来自飞秋的消息
    twice() { (($(grep -c "text=424242|" "$work/peer.log") >= 2)); }
    wait_until 10 twice || true
    (($(grep -c "text=424242|" "$work/peer.log") == 2)) || fail "ipmsg: the retransmission was not confirmed"
    (($(screen "$ipt" | grep -c 来自飞秋的消息) == 1)) || fail "ipmsg: the retransmission was shown twice"
    # A line for the peer: SENDMSG|SENDCHECKOPT in GBK, then ✓.
    type_line "$ipt" "/to 飞秋用户"
    until_screen "$ipt" "→ 飞秋用户 ($peer_ip)" "/to NICK did not select the peer"
    type_line "$ipt" "给飞秋的回信"
    until_log "RECV from=$lanchat_ip cmd=0x120 mode=0x20 no=[0-9]* text=给飞秋的回信|" "the peer got no GBK SENDMSG|SENDCHECKOPT"
    until_screen "$ipt" "me 给飞秋的回信 ✓" "the line to the peer never turned ✓"
    # Unanswered: sent four times (the same packet), then ✗ not delivered.
    peer mute
    until_log "DONE mute" "the peer did not mute"
    type_line "$ipt" "没人回答"
    until_screen "$ipt" "me 没人回答 …" "the unanswered line does not show as pending"
    until_screen "$ipt" "没人回答 ✗ not delivered" "the unanswered line never turned ✗ not delivered"
    copies=$(grep "text=没人回答|" "$work/peer.log" | sed 's/.* no=\([0-9]*\).*/\1/' | sort | uniq -c)
    [[ $(wc -l <<<"$copies") -eq 1 && $(awk '{print $1}' <<<"$copies") -eq 4 ]] ||
        fail "ipmsg: the unanswered line was not sent 4 times with one packet number: $copies"
    peer unmute
    # A line for iptux goes to iptux alone; iptux's RECVMSG turns it ✓.
    type_line "$ipt" "/to $iptux_ip"
    until_screen "$ipt" "→ root ($iptux_ip)" "/to IP did not select iptux"
    type_line "$ipt" "你好 iptux"
    until_screen "$ipt" "me 你好 iptux ✓" "iptux's RECVMSG did not turn the line ✓"
    grep -q "text=你好 iptux" "$work/peer.log" && fail "ipmsg: the line for iptux reached the peer too"
    # What iptux shows: its own words from the first line on (iptux takes
    # a peer's encoding from its entry; lanchat's, named 小王, came after
    # iptux's BR_ENTRY).
    if win=$(iptux_window "Talk with"); then
        shown=$(iptux_chat_text "$win") || fail "ipmsg: iptux's chat window gave no text"
        grep -qF "你好 iptux" <<<"$shown" ||
            fail "ipmsg: iptux shows lanchat's first line as: $(grep -v '^(' <<<"$shown" | head -1)"
    else
        fail "ipmsg: iptux opened no chat window for lanchat's line"
    fi
    # A hostile nick stays escaped.
    peer 'nick \x1b[31m坏\u202e人' # the peer turns \x1b and \u202e into the characters
    until_screen "$ipt" '\x1b[31m坏\u{202e}人' "the hostile nick is not shown escaped"
    screen "$ipt" | grep -q $'\x1b' && fail "ipmsg: a raw escape reached the screen"
    # /quit: BR_EXIT to the LAN, exit 0.
    type_line "$ipt" "/quit"
    until_log "RECV from=$lanchat_ip cmd=0x2 mode=0x2 " "no BR_EXIT on /quit"
    until_screen "$ipt" "exit=0" "lanchat --ipmsg did not exit 0"
    # The log: the peer's message with nick and packet, own lines with delivered.
    python3 - "$work/ipmsg.jsonl" <<'PY' || fail "ipmsg: --log"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
got = [r for r in recs if r.get("text") == "来自飞秋的消息"]
assert len(got) == 1 and got[0]["nick"] == "飞秋用户" and got[0]["packet"] == 424242, got
ok = [r for r in recs if r.get("text") == "给飞秋的回信"]
assert len(ok) == 1 and ok[0]["delivered"] is True and ok[0]["packet"] > 0, ok
bad = [r for r in recs if r.get("text") == "没人回答"]
assert len(bad) == 1 and bad[0]["delivered"] is False, bad
PY
    exec 7>&-
    echo "smoke-netns ipmsg: iptux $iptux_ip and the FeiQ-like peer $peer_ip listed; messages both ways confirmed (✓), retransmission shown once, unanswered ✗ after 4 sends, iptux alone got its line, hostile nick escaped, BR_EXIT sent, iptux showed the first line right"
elif [[ ${CI:-} == true ]]; then
    fail "ipmsg: iptux, xvfb-run, tmux, xdotool and xclip are required in CI (.ci/run installs them)"
else
    echo "smoke-netns ipmsg: SKIPPED (needs iptux, xvfb-run, tmux, xdotool and xclip)"
fi

# --- 8. a class's room across hosts -----------------------------------------
if ((hosts < 4)); then
    echo "smoke-netns room: SKIPPED (needs 4 hosts: the room, a teacher, a student, a guesser)"
elif command -v nc >/dev/null; then
    room=$(addr4 1)
    printf 'lesson\n' >"$work/room.pw"
    start_room() {
        ip netns exec "$(ns 1)" "$rs" -p 5000 --password-file "$work/room.pw" --op-password chalk \
            --bans "$work/class.bans" --history 20 --history-file "$work/class.log" 2>"$work/rs-$1.err" &
        pids+=($!)
        rs_pid=$!
        until_line "$work/rs-$1.err" "Chat server started on"
    }
    start_room 1
    # The teacher: nc in a UTF-8 terminal on host 2.
    mkfifo "$work/t.in" "$work/s.in"
    ip netns exec "$(ns 2)" nc "$room" 5000 <"$work/t.in" >"$work/t.out" &
    pids+=($!)
    exec 5>"$work/t.in"
    until_line "$work/t.out" "^! password required: /pass PASSWORD"
    printf '/pass lesson\n/nick 老师\n/op chalk\n/topic 第一课：循环\n' >&5
    until_line "$work/t.out" "^! topic: 第一课：循环"
    # A student: room-client (GB2312, as on Windows) on host 3.
    ip netns exec "$(ns 3)" "$rc" "$room" -p 5000 <"$work/s.in" >"$work/s.out" 2>"$work/s.err" &
    pids+=($!)
    student=$!
    exec 6>"$work/s.in"
    until_line "$work/s.out" "^! password required: /pass PASSWORD"
    printf '/pass lesson\n/nick 小明\n/topic\n老师好\n' >&6
    until_line "$work/s.out" "^! topic: 第一课：循环"  # the teacher's UTF-8, in GB2312 for room-client
    until_line "$work/t.out" "^<小明@$(addr4 3):[0-9]*> 老师好$"  # the student's GB2312, in UTF-8
    printf '同学们好\n' >&5
    until_line "$work/s.out" "^<老师@$(addr4 2):[0-9]*> 同学们好$"
    # Host 4 guesses: five wrong passwords, then it is refused at once.
    printf '/pass a\n/pass b\n/pass c\n/pass d\n/pass e\n' |
        ip netns exec "$(ns 4)" timeout 20 nc "$room" 5000 >"$work/g1.out" || true
    grep -q '^! too many wrong passwords$' "$work/g1.out" ||
        fail "room: 5 wrong passwords from host 4 were not stopped: $(cat "$work/g1.out")"
    ip netns exec "$(ns 4)" timeout 20 nc "$room" 5000 </dev/null >"$work/g2.out" || true
    [[ $(cat "$work/g2.out") == "! too many wrong passwords" ]] ||
        fail "room: host 4 was not refused at once: $(cat "$work/g2.out")"
    printf 'still here\n' >&6
    until_line "$work/t.out" "^<小明@$(addr4 3):[0-9]*> still here$"
    # The teacher bans host 3: the student is removed and refused.
    printf '/ban %s 30\n' "$(addr4 3)" >&5
    until_line "$work/t.out" "^\[$(addr4 3)/32\] was banned by 老师@$(addr4 2):[0-9]* for 30 minutes$"
    until_line "$work/s.out" "^! banned"
    set +e; wait "$student"; code=$?; set -e
    ((code == 1)) && grep -q "Disconnected from server" "$work/s.err" ||
        fail "room: the banned room-client exited $code: $(cat "$work/s.err")"
    ip netns exec "$(ns 3)" timeout 20 nc "$room" 5000 </dev/null >"$work/b1.out" || true
    [[ $(cat "$work/b1.out") == "! banned" ]] || fail "room: host 3 was let in again: $(cat "$work/b1.out")"
    grep -q "was banned by 老师@$(addr4 2)" "$work/rs-1.err" || fail "room: the ban is not on stderr"
    grep -q "\[老师@$(addr4 2):[0-9]*\] set the topic: 第一课：循环" "$work/class.log" ||
        fail "room: the chat log lacks the topic: $(cat "$work/class.log")"
    # A restart keeps the ban; the guessing lock (a minute, in memory) is gone.
    exec 5>&-
    kill -TERM "$rs_pid"; wait "$rs_pid" || true
    start_room 2
    ip netns exec "$(ns 3)" timeout 20 nc "$room" 5000 </dev/null >"$work/b2.out" || true
    [[ $(cat "$work/b2.out") == "! banned" ]] || fail "room: the ban did not survive a restart: $(cat "$work/b2.out")"
    ip netns exec "$(ns 4)" timeout 5 nc -N "$room" 5000 </dev/null >"$work/g3.out" || true
    grep -q '^! password required' "$work/g3.out" || fail "room: host 4 after the restart: $(cat "$work/g3.out")"
    exec 6>&-
    kill -TERM "$rs_pid"; wait "$rs_pid" || true
    echo "smoke-netns room: a class's room across 4 hosts: password, operator, topic, GB2312 and UTF-8 read each other, guessing locked out, a ban kept over a restart"
else
    fail "room: nc is required (.ci/run installs it)"
fi

if ((failures)); then
    echo "smoke-netns: $failures check(s) FAILED" >&2
    exit 1
fi
echo "smoke-netns: OK"
