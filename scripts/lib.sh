# Shared by the smoke scripts: start a chat window, read its port, check
# what it showed. Source it; do not run it.

# wait_port ERRFILE: prints the port from "listening on ADDR:PORT" (≤ 10 s).
wait_port() {
    local err=$1 i
    for i in $(seq 1 1000); do
        if grep -q '^listening on ' "$err" 2>/dev/null; then
            sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$err"
            return 0
        fi
        sleep 0.01
    done
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
# defines ns I, addr4 I, addr6 I, fail TEXT (counted in $failures). The EXIT
# trap tears it all down, even on failure or Ctrl-C. NAME prefixes messages.
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
fail() {
    echo "$smoke: FAILED: $*" >&2
    failures=$((failures + 1))
}
netns_teardown() {
    local p n
    for p in "${tmuxes[@]}"; do tmux -L "$p" kill-server 2>/dev/null || true; done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${groups[@]}"; do kill -- "-$p" 2>/dev/null || true; done
    for n in "${mounts[@]}"; do umount -l "$n" 2>/dev/null || true; done
    for n in "${created[@]}"; do ip netns delete "$n" 2>/dev/null || true; done
    rm -rf "$work"
}
