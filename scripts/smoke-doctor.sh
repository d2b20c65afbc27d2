#!/usr/bin/env bash
# `lanchat doctor` against real network stacks, as root: three hosts on a
# bridge that lives in a namespace of its own (scripts/lib.sh), a router
# namespace and a far host on another subnet behind it. One scenario per
# cause, each checking the JSON codes, the exit status and that the human
# text names the cause; and that the namespaces' firewall, addresses and
# routes are the same after every run of the doctor as before it.
#   all well · the peer answering with another encoding · an nftables rule
#   in the peer dropping UDP 3456 · the peer dropping everything from us
#   (ARP still answers) · this host dropping what comes in · a bridge that
#   drops IPv4 broadcast and multicast but passes unicast and ARP · the
#   peer behind a router · an address nobody has · a host without an
#   answer · a program holding 3456 (named with its pid) · a tun interface
#   and a 169.254 address · a room, up and down · --ipmsg against the real
#   iptux (headless).
# Everything it creates is torn down (trap), even on failure or Ctrl-C.
#
# Usage: sudo scripts/smoke-doctor.sh
# Exit: 0 all well, 1 a check failed, 77 skipped (not root, no ip netns or nft).
# Env: LANCHAT_BIN  directory of the binaries (default: builds release)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

SKIP=77
if [[ $(id -u) -ne 0 ]]; then
    echo "smoke-doctor: SKIPPED: needs root (network namespaces)" >&2
    exit $SKIP
fi
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1 || ! command -v nft >/dev/null; then
    echo "smoke-doctor: SKIPPED: needs 'ip netns' and nft (iproute2, nftables)" >&2
    exit $SKIP
fi
if [[ -z "${LANCHAT_BIN:-}" ]]; then
    cargo build --release --quiet --bin lanchat --bin room-server
    LANCHAT_BIN=target/release
fi
LANCHAT_BIN=$(cd "$LANCHAT_BIN" && pwd)
lc="$LANCHAT_BIN/lanchat"
rs="$LANCHAT_BIN/room-server"

netns_setup smoke-doctor 3
h1=$(ns 1) h2=$(ns 2) h3=$(ns 3)

# A router on the bridge (.254) and a far host on another subnet behind it.
r="${tag}r" far="${tag}far"
netB="10.$((200 + RANDOM % 50)).$((RANDOM % 250))"
while [[ "$netB" == "$net3" ]]; do netB="10.$((200 + RANDOM % 50)).$((RANDOM % 250))"; done
for n in "$r" "$far"; do
    ip netns add "$n"
    created+=("$n")
    ip -n "$n" link set lo up
done
ip -n "$r" link add eth0 type veth peer name pr
ip -n "$r" link set pr netns "$sw"
ip -n "$sw" link set pr master br0 up
ip -n "$r" addr add "$net3.254/24" dev eth0
ip -n "$r" link set eth0 up
ip -n "$r" link add eth1 type veth peer name eth0 netns "$far"
ip -n "$r" addr add "$netB.1/24" dev eth1
ip -n "$r" link set eth1 up
ip -n "$far" addr add "$netB.2/24" dev eth0
ip -n "$far" link set eth0 up
ip -n "$far" route add default via "$netB.1"
ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
ip -n "$h1" route add "$netB.0/24" via "$net3.254"
echo "smoke-doctor: a router at $net3.254 and a far host at $netB.2"

# What the doctor must never change: every namespace's addresses, routes
# and firewall.
snapshot() {
    local n
    for n in "${created[@]}"; do
        echo "== $n"
        ip -n "$n" addr show | grep -v 'valid_lft' | sed 's/ tentative//; s/ optimistic//'
        ip -n "$n" route show
        ip netns exec "$n" nft list ruleset
    done
}

# run_doctor NAME NS ARGS...: the doctor in NS with --json, then as a
# person reads it. Sets rc (its exit status) and codes (the problems' codes).
run_doctor() {
    local name=$1 n=$2 before after
    shift 2
    before=$(snapshot)
    set +e
    ip netns exec "$n" "$lc" doctor "$@" --json >"$work/$name.json" 2>"$work/$name.err"
    rc=$?
    ip netns exec "$n" "$lc" doctor "$@" >"$work/$name.txt" 2>&1
    set -e
    after=$(snapshot)
    [[ "$before" == "$after" ]] ||
        fail "$name: the doctor changed the namespaces' addresses, routes or firewall: $(diff <(echo "$before") <(echo "$after"))"
    codes=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(f["code"] for f in d["findings"] if f["severity"] == "problem"))' "$work/$name.json") ||
        { fail "$name: --json is not JSON: $(head -c 300 "$work/$name.json")"; codes=""; }
    echo "smoke-doctor: $name: exit $rc, problems: ${codes:-none}"
    [[ -z "${SHOW:-}" ]] || cat "$work/$name.txt"
}
# expect NAME CODE TEXT: CODE among the problems, exit 1, TEXT in the human text.
expect() {
    grep -qw -- "$2" <<<"$codes" || fail "$1: no $2 (got: ${codes:-none}); $(cat "$work/$1.txt")"
    [[ $rc == 1 ]] || fail "$1: exit $rc, not 1"
    grep -qF -- "$3" "$work/$1.txt" || fail "$1: the text does not say '$3': $(cat "$work/$1.txt")"
}
# json_has NAME PYTHON-EXPR: the expression, on the document d, is true.
json_has() {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$work/$1.json" ||
        fail "$1: JSON lacks: $2"
}

# start_answer NS ARGS...: lanchat doctor --answer in NS; sets answer.
start_answer() {
    local n=$1
    shift
    ip netns exec "$n" "$lc" doctor --answer "$@" >"$work/answer.out" 2>"$work/answer.err" &
    answer=$!
    pids+=("$answer")
    wait_port "$work/answer.err" >/dev/null || die "the answer did not start"
}
stop_answer() {
    kill -INT "$answer" 2>/dev/null || true
    wait "$answer" 2>/dev/null || true
}
# nft_in NS RULES: a table of ours in NS (the doctor must read, not change it).
# (RULES: "FAMILY NAME HOOK RULE; RULE…": a table with one base chain, c.)
nft_in() {
    local fam name hook rules
    read -r fam name hook rules <<<"$2"
    printf 'table %s %s {\n chain c {\n  type filter hook %s priority 0; policy accept;\n%s\n }\n}\n' \
        "$fam" "$name" "$hook" "$(tr ';' '\n' <<<"$rules")" | ip netns exec "$1" nft -f -
}
nft_out() { ip netns exec "$1" nft delete table "$2"; }

# --- all well: every probe, nothing wrong, exit 0 ---
start_answer "$h2"
run_doctor well "$h1" "$(addr4 2)"
[[ $rc == 0 && -z "$codes" ]] || fail "well: exit $rc, problems ${codes:-none}: $(cat "$work/well.txt")"
json_has well 'all(p["ok"] for p in d["probes"]) and {p["name"] for p in d["probes"]} >= {"unicast-to-peer","unicast-from-peer","subnet-broadcast","limited-broadcast","multicast","tcp"}'
json_has well 'any(i["default_target"] and not i["virtual"] for i in d["interfaces"])'
grep -qF "Nothing wrong found." "$work/well.txt" || fail "well: the text does not say all is well"
grep -q "heard unicast from $(addr4 1)" "$work/answer.out" || fail "the answer did not print what it heard: $(cat "$work/answer.out")"
stop_answer

# --- the peer answers with another encoding ---
start_answer "$h2" -e utf-8
run_doctor encoding "$h1" "$(addr4 2)"
expect encoding settings-differ "reads and writes utf-8, you gb2312"
stop_answer
start_answer "$h2"

# --- the peer's firewall drops UDP 3456 (its TCP answers) ---
nft_in "$h2" 'inet lcdoc input udp dport 3456 drop'
run_doctor peer-udp "$h1" "$(addr4 2)"
expect peer-udp peer-firewall "its firewall drops them"
nft_out "$h2" "inet lcdoc"

# --- the peer drops everything from us; ARP still answers ---
nft_in "$h2" "ip lcdoc input ip saddr $(addr4 1) drop"
run_doctor peer-all "$h1" "$(addr4 2)"
expect peer-all peer-firewall "it answers ARP"
nft_out "$h2" "ip lcdoc"

# --- this host's firewall drops what comes in to 3456 ---
nft_in "$h1" 'inet lcdoc input udp dport 3456 drop'
run_doctor replies "$h1" "$(addr4 2)"
expect replies replies-blocked "this machine's firewall drops datagrams to port 3456"
expect replies firewall-blocks "sudo nft insert rule inet lcdoc c udp dport 3456 accept"
nft_out "$h1" "inet lcdoc"

# --- the bridge drops IPv4 broadcast and multicast, passes unicast and ARP ---
nft_in "$sw" 'bridge lcdoc forward ether type ip ether daddr ff:ff:ff:ff:ff:ff drop; ip daddr 224.0.0.0/4 drop'
run_doctor filtered "$h1" "$(addr4 2)"
expect filtered broadcast-filtered "the network (an access point's client isolation, a switch) filters them"
json_has filtered '[p["ok"] for p in d["probes"] if p["name"] in ("unicast-to-peer","unicast-from-peer","tcp")] == [True]*3'
nft_out "$sw" "bridge lcdoc"
stop_answer

# --- the peer behind a router ---
start_answer "$far"
run_doctor router "$h1" "$netB.2"
expect router not-on-subnet "broadcasts do not cross routers"
json_has router '[p["ok"] for p in d["probes"] if p["name"] in ("unicast-to-peer","unicast-from-peer","tcp")] == [True]*3'
stop_answer

# --- an address nobody has ---
run_doctor nobody "$h1" "$net3.99"
expect nobody unreachable "does not answer at all"

# --- a host that runs no answer ---
run_doctor no-answer "$h1" "$(addr4 2)"
expect no-answer no-answer "runs no lanchat doctor --answer"

# --- a program holding 3456, named with its pid ---
ip netns exec "$h1" socat -u UDP-RECV:3456 /dev/null &
holder=$!
pids+=("$holder")
wait_until 10 bash -c "ip netns exec $h1 ss -Huln 'sport = :3456' | grep -q ." || die "socat did not bind 3456"
run_doctor held "$h1"
expect held port-in-use "UDP port 3456 is held by socat (pid $holder)"
kill "$holder"
wait "$holder" 2>/dev/null || true

# --- a tun interface (with its reader, so it is up) and a 169.254 address ---
ip netns exec "$h3" python3 -c '
import fcntl, os, struct, sys, time
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", b"tun0", 0x0001 | 0x1000))
print("up", flush=True)
time.sleep(120)' >"$work/tun.out" &
pids+=($!)
wait_until 10 grep -q up "$work/tun.out" || die "no tun0"
ip -n "$h3" addr add 10.99.0.2/24 dev tun0
ip -n "$h3" link set tun0 up
ip -n "$h3" addr add 169.254.7.7/16 dev eth0
run_doctor tun "$h3"
expect tun link-local "169.254.7.7: a 169.254 address means no DHCP server answered"
grep -qw virtual-adapter <(python3 -c 'import json,sys; print(" ".join(f["code"] for f in json.load(open(sys.argv[1]))["findings"]))' "$work/tun.json") ||
    fail "tun: no virtual-adapter finding"
grep -qF "tun0 (10.99.0.2) is a virtual adapter" "$work/tun.txt" || fail "tun: the text does not name tun0"
json_has tun '[i["virtual"] for i in d["interfaces"] if i["name"] == "tun0"] == [True] and all(not i["virtual"] for i in d["interfaces"] if i["name"] == "eth0")'
ip -n "$h3" addr del 169.254.7.7/16 dev eth0

# --- a room, up and down ---
ip netns exec "$h2" "$rs" -p 5000 >/dev/null 2>"$work/room.err" &
room=$!
pids+=("$room")
until_line "$work/room.err" "Chat server started on"
run_doctor room "$h1" --room "$(addr4 2):5000"
[[ $rc == 0 ]] || fail "room: exit $rc: $(cat "$work/room.txt")"
json_has room '[p["ok"] for p in d["probes"] if p["name"] == "room"] == [True]'
kill "$room"
wait "$room" 2>/dev/null || true
run_doctor room-down "$h1" --room "$(addr4 2):5000"
expect room-down no-answer "Nothing listens on $(addr4 2):5000"

# --- --ipmsg against the real iptux, no answer needed ---
if command -v iptux >/dev/null && command -v xvfb-run >/dev/null; then
    home="$work/iptux-home"
    mkdir -p "$home/.iptux"
    echo '{"open_chat": false}' >"$home/.iptux/config.json"
    start_iptux 3 "$home" 1024x768x24
    wait_until 60 bash -c "ip netns exec $h3 ss -Huln 'sport = :2425' | grep -q ." || die "iptux did not start"
    run_doctor ipmsg "$h1" --ipmsg "$(addr4 3)"
    [[ $rc == 0 && -z "$codes" ]] || fail "ipmsg: exit $rc, problems ${codes:-none}: $(cat "$work/ipmsg.txt")"
    json_has ipmsg '[p["ok"] for p in d["probes"] if p["name"].startswith("ipmsg-")] == [True, True]'
    grep -qF "answered: " "$work/ipmsg.txt" || fail "ipmsg: iptux's answer is not named: $(cat "$work/ipmsg.txt")"
elif [[ "${CI:-}" == true ]]; then
    fail "iptux or xvfb-run is missing"
else
    echo "smoke-doctor: iptux not installed: --ipmsg against iptux skipped"
fi

if ((failures)); then
    echo "smoke-doctor: $failures check(s) FAILED" >&2
    exit 1
fi
echo "smoke-doctor: OK"
