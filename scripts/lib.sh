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
