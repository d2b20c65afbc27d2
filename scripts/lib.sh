# Shared by the smoke, benchmark and Wine scripts: waiting (every wait
# follows an event and is bounded), a program in tmux, a chat window's port
# and what it showed, network namespaces, iptux headless in one of them.
# Source it; do not run it.
#
# The words mean one thing in every script:
#   fail TEXT        a check failed: say so and count it ($failures); go on
#   die TEXT         cannot go on: say so and exit 1
#   wait_until S CMD...          CMD until it succeeds, at most S seconds
#   until_screen SOCK PAT WHAT [S]  wait for a tmux pane to show PAT, else fail

# The checks read the programs' English words (a check of another language
# sets LANCHAT_LANG or LANG for its own command).
export LANCHAT_LANG=en

failures=0
smoke=${smoke:-$(basename "$0" .sh)}
fail() {
    echo "$smoke: FAILED: $*" >&2
    failures=$((failures + 1))
}
die() {
    echo "$smoke: FAILED: $*" >&2
    exit 1
}

# wait_until SECONDS CMD...: runs CMD every 20 ms until it succeeds (0), or
# until SECONDS have passed (1).
wait_until() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 50; i++)); do
        "$@" && return 0
        sleep 0.02
    done
    return 1
}

# screen SOCK: what the pane of tmux server SOCK shows (and 200 lines back).
screen() { tmux -L "$1" capture-pane -p -t main -S -200; }
# type_line SOCK TEXT: types TEXT literally in SOCK's pane, then Enter.
type_line() { tmux -L "$1" send-keys -t main -l "$2" && tmux -L "$1" send-keys -t main Enter; }
# on_screen SOCK TEXT: whether SOCK's pane shows TEXT.
on_screen() { screen "$1" | grep -qF -- "$2"; }
# until_screen SOCK TEXT WHAT [SECONDS]: waits (20 s by default) for SOCK's
# pane to show TEXT; else fails with WHAT and prints the pane.
until_screen() {
    wait_until "${4:-20}" on_screen "$1" "$2" && return 0
    fail "$3 (the window below)"
    screen "$1" | grep -v '^│ *│' >&2
    return 1
}
# has_line FILE PATTERN: whether FILE has a whole line (its newline
# written) matching the grep PATTERN. A program's line may be read while
# it is being written: "listening on 127.0.0.1:54" of ":54321".
has_line() {
    local n
    n=$(grep -a -n -m1 -- "$2" "$1" 2>/dev/null | cut -d: -f1)
    [[ -n "$n" ]] && ((n <= $(wc -l <"$1")))
}
# until_line FILE PATTERN [SECONDS]: waits for a whole line of FILE
# matching PATTERN (60 s by default); else dies, printing FILE.
until_line() {
    wait_until "${3:-60}" has_line "$1" "$2" && return 0
    echo "--- $1:" >&2
    cat "$1" >&2 2>/dev/null || true
    die "no line matching '$2' in $1 within ${3:-60}s"
}
# port_of FILE TEXT: the port at the end of FILE's first whole line that
# holds TEXT (e.g. "listening on 127.0.0.1:54321"); dies when there is none.
port_of() {
    local port
    until_line "$1" "$2.*:[0-9][0-9]*/\{0,1\}$"
    port=$(sed -n "s/.*$2 .*:\([0-9]*\)\/\{0,1\}$/\1/p" "$1" | head -1)
    [[ -n "$port" ]] || die "no port in '$(grep -m1 -- "$2" "$1")' ($1)"
    echo "$port"
}

# wait_port ERRFILE: prints the port from "listening on ADDR:PORT" (≤ 10 s).
wait_port() {
    local err=$1
    if wait_until 10 grep -q '^listening on ' "$err" 2>/dev/null; then
        sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$err"
        return 0
    fi
    echo "chat window did not start:" >&2
    cat "$err" >&2
    return 1
}

# check_messages NAME OUTFILE EXPECTED HOSTS: OUTFILE holds chat-window text
# records whose texts are "TAG 消息 N". TAG is the sending host: when it is an
# IP address the sender line must carry that IP; in any case one tag must
# always come from one ip:port. Prints the summary; returns 0 only if every
# one of EXPECTED messages arrived exactly once from the right sender.
check_messages() {
    local name=$1 out=$2 expected=$3 hosts=$4
    awk -v expected="$expected" -v name="$name" -v hosts="$hosts" '
        NR % 2 == 1 { from = $0; next }
        {
            text = $0
            split(text, w, " "); tag = w[1]
            ip = from; sub(/:[0-9]+$/, "", ip); gsub(/^\[|\]$/, "", ip)
            if (tag ~ /^[0-9.]+$/ || tag ~ /:/) { if (ip != tag) wrong++ }
            if (tag in sender) { if (sender[tag] != from) wrong++ } else sender[tag] = from
            seen[text]++
        }
        END {
            for (t in seen) { received++; if (seen[t] > 1) dup += seen[t] - 1 }
            lost = expected - received
            printf "%s: hosts %d, sent %d, received %d, lost %d, duplicated %d, wrong sender %d\n", \
                name, hosts, expected, received, lost, dup + 0, wrong + 0
            exit (lost == 0 && dup == 0 && wrong == 0) ? 0 : 1
        }' "$out"
}

# netns_setup NAME HOSTS: HOSTS network namespaces (hosts 1..HOSTS) joined by
# a Linux bridge living in a namespace of its own, each host with its own
# address in a private test subnet picked here. Nothing is added to the
# machine's own namespace. Sets: tag, sw, net3, net6, group, work (a scratch
# folder), and the arrays created, pids, groups (process groups, for what
# runs under setsid), mounts, tmuxes (what teardown stops or undoes), and
# defines ns I, addr4 I, addr6 I. The EXIT trap tears it all down, even on
# failure or Ctrl-C. NAME prefixes messages.
netns_setup() {
    smoke=$1
    local hosts=$2 i n existing
    tag="lc$$"
    sw="${tag}sw"
    net3="10.$((200 + RANDOM % 50)).$((RANDOM % 250))"
    net6="fd00:1c:$(printf %x $((RANDOM)))::"
    group="239.255.$((RANDOM % 250)).$((1 + RANDOM % 250))"
    created=()
    work=$(mktemp -d)
    pids=()
    groups=()
    mounts=()
    tmuxes=()
    failures=0
    trap netns_teardown EXIT
    trap 'exit 130' INT TERM
    # Refuse to touch names someone else made.
    existing=$(ip netns list | awk '{print $1}')
    for n in "$sw" $(for i in $(seq 1 "$hosts"); do ns "$i"; done); do
        if grep -qx "$n" <<<"$existing"; then
            echo "$smoke: namespace $n already exists and is not ours; refusing" >&2
            exit 1
        fi
    done
    ip netns add "$sw"
    created+=("$sw")
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 type bridge mcast_snooping 0
    ip -n "$sw" link set br0 up
    for i in $(seq 1 "$hosts"); do
        n=$(ns "$i")
        ip netns add "$n"
        created+=("$n")
        ip -n "$n" link set lo up
        # The veth pair is made inside the host's namespace, then its peer
        # moved to the switch: nothing ever appears in the machine's own
        # namespace.
        ip -n "$n" link add eth0 type veth peer name "p$i"
        ip -n "$n" link set "p$i" netns "$sw"
        ip -n "$sw" link set "p$i" master br0 up
        ip -n "$n" addr add "$(addr4 "$i")/24" brd + dev eth0
        ip -n "$n" addr add "$(addr6 "$i")/64" dev eth0 nodad
        ip -n "$n" link set eth0 up
        ip -n "$n" route add 224.0.0.0/4 dev eth0
    done
    echo "$smoke: $hosts hosts on $net3.0/24 and ${net6}/64 (namespaces ${tag}*)"
}
ns() { echo "${tag}h$1"; }
addr4() { echo "$net3.$1"; }
addr6() { echo "${net6}$1"; }
netns_teardown() {
    local p n
    for p in "${tmuxes[@]}"; do tmux -L "$p" kill-server 2>/dev/null || true; done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${groups[@]}"; do kill -- "-$p" 2>/dev/null || true; done
    for n in "${mounts[@]}"; do umount -l "$n" 2>/dev/null || true; done
    for n in "${created[@]}"; do ip netns delete "$n" 2>/dev/null || true; done
    rm -rf "$work"
}

# start_iptux HOST HOME SCREEN: the real iptux headless (Xvfb SCREEN, e.g.
# 1280x900x24) in host HOST's namespace, HOME its own (write
# $HOME/.iptux/config.json first), in a process group of its own that
# teardown stops. Sets display (its X display) and defines x CMD... (runs
# CMD on that display). iptux broadcasts: never start it outside a
# namespace made here.
start_iptux() {
    local host=$1 home=$2 size=$3
    display=$((100 + RANDOM % 400))
    while [[ -e /tmp/.X$display-lock ]]; do display=$((display + 1)); done
    setsid ip netns exec "$(ns "$host")" env -i HOME="$home" PATH="$PATH" \
        timeout 900 xvfb-run -n "$display" -f "$work/xauth" -s "-screen 0 $size -nolisten tcp" \
        dbus-run-session -- iptux >"$work/iptux.log" 2>&1 &
    groups+=($!)
}
x() { DISPLAY=":$display" XAUTHORITY="$work/xauth" "$@"; }

# iptux_window PREFIX: the id of iptux's window whose title starts so
# (≤ 30 s). (xdotool's own --name search misses GTK's non-Latin titles.)
iptux_window() {
    local id i
    for ((i = 0; i < 300; i++)); do
        for id in $(x xdotool search --name "" 2>/dev/null); do
            [[ $(x xdotool getwindowname "$id" 2>/dev/null) == "$1"* ]] && { echo "$id"; return 0; }
        done
        sleep 0.1
    done
    return 1
}

# iptux_chat_text WINDOW: what iptux's chat window WINDOW (its id) shows in
# its history pane, as text: selected and copied (Ctrl+A, Ctrl+C) and read
# from the clipboard (xclip). The window's layout is fixed by the config
# (peer_window_width 900, peer_window_height 600, peer_main_paned_divide
# 450), so the history pane is at the window's top left.
iptux_chat_text() {
    # (xclip -i stays behind to own the selection: nothing of ours open.)
    x xclip -selection clipboard -i /dev/null </dev/null >/dev/null 2>&1
    # Focused, then real key presses (XTEST): GTK may ignore keys sent to
    # a window that is not focused (XSendEvent).
    x xdotool windowfocus --sync "$1" 2>/dev/null || true
    x xdotool mousemove --window "$1" 200 150 click 1 2>/dev/null
    x xdotool key ctrl+a ctrl+c 2>/dev/null
    clipboard() { [[ -n $(x xclip -selection clipboard -o 2>/dev/null) ]]; }
    wait_until 10 clipboard || return 1
    x xclip -selection clipboard -o
}

# ask_iptux_shared HOST FROM_IP IPTUX_IP: from FROM_IP in HOST's namespace
# (a port of its own: lanchat holds 2425 there alone), asks iptux for its
# shared files (its private command 255, IPTUX_ASKSHARED); iptux offers
# them to the user it knows at that address (port 2425).
ask_iptux_shared() {
    ip netns exec "$(ns "$1")" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.sendto(b"1_lbt:%d:root:h2:255:\0" % int(time.time() * 10), (sys.argv[2], 2425))
s.close()' "$2" "$3"
}
