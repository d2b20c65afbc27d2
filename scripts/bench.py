#!/usr/bin/env python3
"""lanchat benchmark driver (run it through scripts/bench.sh).

Side by side with what users would otherwise run: the classic Python
teaching programs (written here the way they work), socat, ncat. All traffic
goes to 127.0.0.1; every run is bounded in count and time; every figure is
the median of RUNS runs. Prints a table and writes BENCHMARKS.md.
"""
import datetime
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# BIN_DIR: the release binaries to measure (default target/release), e.g.
# an older build's, to compare two builds in one session.
REL = os.environ.get("BIN_DIR", os.path.join(ROOT, "target", "release"))
EX = os.path.join(REL, "examples")
RUNS = int(os.environ.get("RUNS", "3"))
COUNT = int(os.environ.get("COUNT", "1000000"))
LINES = int(os.environ.get("LINES", "1000000"))
ROOM_COUNT = int(os.environ.get("ROOM_COUNT", "5000"))  # lines per sender, full blast
BULK_LINES = int(os.environ.get("BULK_LINES", "20000"))  # lines of 1,000 bytes, bulk sender
# ONLY=room,storm,bulk (a comma list of: udp, sweep, input, room, storm, bulk, class,
# names, web, lanchat, render, startup, files, gui) runs those parts and prints them; BENCHMARKS.md is written only
# by a full run, so every figure in it comes from one run. ROOMS=room-server
# limits the room parts to those servers.
ONLY = set(filter(None, os.environ.get("ONLY", "").split(",")))


def part(name):
    return not ONLY or name in ONLY
GNU_TIME = shutil.which("time") if os.path.exists("/usr/bin/time") else None

# The classic receiver: recvfrom(1024), decode gb2312, print.
PY_RECEIVER = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print("listening on 127.0.0.1:%d" % s.getsockname()[1], file=sys.stderr, flush=True)
s.settimeout(1.0)
n = 0
try:
    while True:
        data, addr = s.recvfrom(1024)
        print("%s:%d" % addr)
        print(data.decode("gb2312"))
        n += 1
except socket.timeout:
    pass
print("received %d" % n, file=sys.stderr)
'''

# The classic sender: input(), encode gb2312, sendto.
PY_SENDER = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
port = int(sys.argv[1])
try:
    while True:
        line = input()
        s.sendto(line.encode("gb2312"), ("127.0.0.1", port))
        if line == "88":
            break
except EOFError:
    pass
'''

# The classic select() room: recv(1024), prefix per read, blocking sendall
# to every other client. (It does notice a closed client, unlike the most
# naive versions, which would spin and make the benchmark meaningless.)
PY_ROOM = r'''
import select, socket, sys
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(128)
print("listening on 127.0.0.1:%d" % srv.getsockname()[1], file=sys.stderr, flush=True)
conns = [srv]
names = {}
def broadcast(sender, data):
    for c in conns:
        if c is not srv and c is not sender:
            try:
                c.sendall(data)
            except OSError:
                pass
while True:
    r, _, _ = select.select(conns, [], [])
    for s in r:
        if s is srv:
            c, a = srv.accept()
            conns.append(c)
            names[c] = "%s:%d" % a
            broadcast(c, ("[%s] entered room\n" % names[c]).encode())
        else:
            try:
                data = s.recv(1024)
            except OSError:
                data = b""
            if data:
                broadcast(s, ("<%s> " % names[s]).encode() + data)
            else:
                conns.remove(s)
                broadcast(s, ("[%s] left room\n" % names.pop(s)).encode())
                s.close()
'''

# Runs one command and reports its CPU time on stderr (no RSS: getrusage of
# a child forked from Python counts the interpreter before exec).
PY_RUSAGE = r'''
import resource, signal, subprocess, sys
p = subprocess.Popen(sys.argv[1:])
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, lambda n, f: p.send_signal(n))
while p.poll() is None:
    try:
        p.wait()
    except InterruptedError:
        pass
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("rusage %.3f %.3f 0" % (r.ru_utime, r.ru_stime), file=sys.stderr, flush=True)
'''


def measured(cmd):
    """cmd wrapped to report 'rusage USER SYS MAXRSS_KB' on stderr at exit."""
    if GNU_TIME:
        return [GNU_TIME, "-f", "rusage %U %S %M"] + cmd
    return [sys.executable, "-c", PY_RUSAGE] + cmd


def child_of(pid):
    """The one child of a wrapper process (to signal the measured program)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except OSError:
        return None


def signal_measured(p, sig):
    pid = child_of(p.pid)
    if pid:
        os.kill(pid, sig)


def drain(p):
    """Reads the rest of p's stderr on a thread (a full pipe would block the
    program); the text is in p.err_text once finish(p) returns."""
    p.err_lines = []

    def run():
        for line in p.stderr:
            p.err_lines.append(line)

    p.err_thread = threading.Thread(target=run, daemon=True)
    p.err_thread.start()


def finish(p, timeout=30):
    """Waits for p (killing it after timeout); returns its stderr text."""
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    if hasattr(p, "err_thread"):
        p.err_thread.join(timeout=10)
        return "".join(p.err_lines)
    return p.communicate()[1] or ""


def start(cmd, stdout):
    """Starts a program that says 'listening on ADDR:PORT' on stderr."""
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        line = p.stderr.readline()
        m = re.search(r"(?:listening on|started on) .*:(\d+)$", line.strip())
        if m:
            drain(p)
            return p, int(m.group(1))
    p.kill()
    raise SystemExit("did not start: %s" % cmd)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_tcp(port, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_udp_bound(port, seconds=10):
    """Until something holds UDP 127.0.0.1:port (socat has no ready line)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        finally:
            s.close()
        time.sleep(0.02)
    return False


def flood(port, count, size, rate=0):
    out = subprocess.run(
        [os.path.join(EX, "udp-flood"), "127.0.0.1:%d" % port, "--count", str(count),
         "--size", str(size), "--rate", str(rate), "--max-seconds", "60"],
        capture_output=True, text=True, check=True).stdout
    m = re.search(r"sent (\d+) in ([\d.]+) s", out)
    return int(m.group(1)), float(m.group(2))


def rusage(err):
    m = re.search(r"rusage ([\d.]+) ([\d.]+) (\d+)", err or "")
    if not m:
        return 0.0, 0
    return float(m.group(1)) + float(m.group(2)), int(m.group(3))


def run_receiver(kind, size, fmt="text", rate=0, count=COUNT, sink="file"):
    """One run; returns sent, got, loss %, generator rate, CPU s, RSS KiB.
    sink="null": chat-window's stdout goes to /dev/null (what its output
    costs is then left out)."""
    with tempfile.TemporaryFile() as out:
        if kind == "socat":
            port = free_port()
            p = subprocess.Popen(measured(["socat", "-u", "UDP4-RECV:%d,bind=127.0.0.1" % port, "-"]),
                                 stdout=out, stderr=subprocess.PIPE, text=True)
            drain(p)
            wait_udp_bound(port)
        else:
            cmd = {
                "null": [os.path.join(EX, "udp-null"), "--count", str(count), "--idle-ms", "1000"],
                "chat-window": [os.path.join(REL, "chat-window"), "-b", "127.0.0.1", "-p", "0",
                                "--format", fmt, "--count", str(count), "--timeout", "60s"],
                "python": [sys.executable, "-c", PY_RECEIVER],
            }[kind]
            p, port = start(measured(cmd), subprocess.DEVNULL if sink == "null" else out)
        sent, secs = flood(port, count, size, rate)
        if sink == "null":
            # No output to watch: what arrived is there within a second.
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                signal_measured(p, 2)
        # Let the receiver drain (bounded): until its output stops growing.
        deadline = time.time() + 30
        last = -1
        while p.poll() is None and time.time() < deadline and kind != "null" and sink != "null":
            cur = os.fstat(out.fileno()).st_size
            if cur == last:
                break
            last = cur
            time.sleep(0.5)
        if p.poll() is None and kind == "chat-window":
            signal_measured(p, 2)  # fewer than --count arrived
        if p.poll() is None and kind == "socat":
            signal_measured(p, 15)
        err = finish(p)
        cpu, rss = rusage(err)
        out.seek(0)
        data = out.read()
        if kind == "null":
            got = int(re.search(rb"received (\d+)", data).group(1))
        elif kind == "python":
            got = int(re.search(r"received (\d+)", err).group(1))
        elif kind == "chat-window":
            got = int(re.search(r"(\d+) messages shown", err).group(1))
        else:  # socat writes the payloads back to back
            got = len(data) // size
        return {"sent": sent, "got": got, "loss": 100.0 * (sent - got) / max(sent, 1),
                "gen_rate": sent / secs, "cpu": cpu, "rss": rss}


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def input_box_rate(path, lines):
    rates = {}
    for name in ("input-box", "python"):
        vals = []
        for _ in range(RUNS):
            p, port = start([os.path.join(EX, "udp-null"), "--idle-ms", "1000"], subprocess.DEVNULL)
            t = time.time()
            with open(path, "rb") as f:
                if name == "input-box":
                    subprocess.run([os.path.join(REL, "input-box"), "127.0.0.1", "-p", str(port),
                                    "--quit-word", ""], stdin=f, stderr=subprocess.DEVNULL, timeout=300)
                else:
                    subprocess.run([sys.executable, "-c", PY_SENDER, str(port)], stdin=f, timeout=300)
            vals.append(lines / (time.time() - t))
            finish(p)
        rates[name] = statistics.median(vals)
    return rates


def startup_ms(extra=()):
    """Median ms from spawn to `listening on` (15 starts at least)."""
    vals = []
    for _ in range(max(RUNS, 15)):
        t = time.time()
        p = subprocess.Popen([os.path.join(REL, "chat-window"), "-b", "127.0.0.1", "-p", "0"] + list(extra),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in p.stderr:
            if line.startswith("listening on"):
                break
        vals.append((time.time() - t) * 1000)
        p.send_signal(2)
        p.communicate(timeout=10)
    return statistics.median(vals)


def render_cost():
    """examples/render-cost: ns per message rendered (text and JSON, 64 and
    1,000 bytes of GB2312), the decode alone against encoding_rs's, and
    the GBK table's build time; medians of 5 runs at least (this is the
    noisiest figure on a shared VM), with the lowest and highest."""
    runs = []
    for _ in range(max(RUNS, 5)):
        out = subprocess.run([os.path.join(EX, "render-cost")], capture_output=True, text=True,
                             timeout=120).stdout
        r = {}
        for fmt, size, ns in re.findall(r"^(Text|Json)\s+(\d+) B:\s+(\d+) ns", out, re.M):
            r["%s %s" % (fmt.lower(), size)] = float(ns)
        m = re.search(r"decode 1000 B:\s+(\d+) ns/message \(encoding_rs alone: (\d+) ns\)", out)
        if m:
            r["decode"], r["decode_lib"] = float(m.group(1)), float(m.group(2))
        m = re.search(r"building the GBK table: ([\d.]+) ms", out)
        if m:
            r["table_ms"] = float(m.group(1))
        runs.append(r)
    return {k: (statistics.median(r[k] for r in runs if k in r),
                min(r[k] for r in runs if k in r), max(r[k] for r in runs if k in r))
            for k in runs[0]}


# ---- the room ----------------------------------------------------------------

def per_host_off():
    """The load tool opens hundreds of members from one address: room-server
    runs with --max-per-host 0 (a build without the option has no limit)."""
    out = subprocess.run([os.path.join(REL, "room-server"), "--help"],
                         capture_output=True, text=True).stdout
    return ["--max-per-host", "0"] if "--max-per-host" in out else []


def start_room(kind, args=("--max-rate", "1000000")):
    """Starts a room server; returns (process, port). `args` are
    room-server's (the peers have no limits, so by default neither has it)."""
    if kind == "room-server":
        return start([os.path.join(REL, "room-server"), "-b", "127.0.0.1", "-p", "0"]
                     + per_host_off() + list(args), subprocess.DEVNULL)
    if kind == "python":
        return start([sys.executable, "-c", PY_ROOM], subprocess.DEVNULL)
    port = free_port()
    p = subprocess.Popen(["ncat", "-l", "127.0.0.1", str(port), "--chat", "-m", "20000"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    drain(p)
    if not wait_tcp(port):
        p.kill()
        raise SystemExit("ncat did not start")
    return p, port


def stop_room(p):
    if p.poll() is None:
        p.send_signal(15)
    return finish(p, timeout=10)


def room_load(port, args, timeout=120, web=None):
    extra = ["--web", "127.0.0.1:%d" % web] if web else []
    try:
        out = subprocess.run([os.path.join(EX, "room-load"), "127.0.0.1:%d" % port] + extra + args,
                             capture_output=True, text=True, timeout=timeout).stdout
    except subprocess.TimeoutExpired:
        return {}
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", out)}


def room_hold(kind, n):
    p, port = start_room(kind)
    r = room_load(port, ["hold", "--clients", str(n), "--seconds", "60"])
    alive = p.poll() is None
    err = stop_room(p)
    held = int(r.get("held", 0))
    if not alive:
        why = err.strip().splitlines()[-1] if err.strip() else "exited"
        return "crashed (%s)" % why[:60]
    return "%d" % held if held == n else "%d of %d" % (held, n)


def peak_rss_kib(pid):
    """VmHWM of a running process (0 when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def room_storm(kind, n):
    """N clients join while none reads, then read: peak RSS of the server
    and whether every client got every join notice meant for it."""
    p, port = start_room(kind, args=())
    r = room_load(port, ["storm", "--clients", str(n), "--quiet", "5", "--seconds", "180"],
                  timeout=240)
    alive = p.poll() is None
    rss = peak_rss_kib(p.pid) if alive else 0
    err = stop_room(p)
    complete = int(r.get("complete", 0))
    if not alive:
        why = err.strip().splitlines()[-1] if err.strip() else "exited"
        return {"ok": False, "text": "crashed (%s)" % why[:60]}
    if not r:
        return {"ok": False, "text": "no result (load tool timed out); peak RSS %.1f MiB" % (rss / 1024)}
    text = "%.1f MiB" % (rss / 1024)
    if complete < n:
        text += " (%d of %d clients got all their notices)" % (complete, n)
    return {"ok": complete == n, "text": text}


def start_room_web():
    """room-server with --web on loopback; returns (process, room port, web port)."""
    p = subprocess.Popen([os.path.join(REL, "room-server"), "-b", "127.0.0.1", "-p", "0",
                          "--max-rate", "1000000", "--web", "127.0.0.1:0"] + per_host_off(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    room = web = None
    deadline = time.time() + 10
    while (room is None or web is None) and time.time() < deadline:
        line = p.stderr.readline().strip()
        m = re.search(r"started on .*:(\d+)$", line)
        room = int(m.group(1)) if m else room
        m = re.search(r"^Web page on http://.*:(\d+)/$", line)
        web = int(m.group(1)) if m else web
    drain(p)
    return p, room, web


def web_hold(n):
    p, room, web = start_room_web()
    r = room_load(room, ["hold-web", "--clients", str(n), "--seconds", "60"], web=web)
    alive = p.poll() is None
    rss = peak_rss_kib(p.pid) if alive else 0
    stop_room(p)
    held = int(r.get("held", 0))
    return "%d (peak RSS %.1f MiB)" % (held, rss / 1024) if held == n else "%d of %d" % (held, n)


def median_of_runs(kind, start_server, load):
    """RUNS times: a fresh server from `start_server()` (returns the
    process and what `load` needs), `load(...)` against it; the median of
    every figure of the runs that gave a result, or None."""
    runs = []
    for _ in range(RUNS):
        p, *where = start_server()
        r = load(*where)
        alive = p.poll() is None
        err = stop_room(p)
        if r:
            runs.append(r)
        elif not alive:
            print("room %s: the server died: %s" % (kind, (err.strip().splitlines() or ["?"])[-1][:80]))
    if not runs:
        return None
    return {k: statistics.median(r.get(k, 0) for r in runs) for k in runs[0]}


def web_fanout(args):
    return median_of_runs("room-server --web", start_room_web, lambda room, web: room_load(
        room, ["fanout", "--clients", "100", "--ws", "50", "--senders", "10"] + args, web=web))


def page_loads(hostile, loads=200):
    """`loads` page loads (GET /, whole, one after another) from 127.0.0.9,
    each timed from connect to the end of the page; with `hostile`, while
    127.0.0.8 holds 3,000 unfinished requests (`GET / HTTP/1.1\\r\\nHost:
    x\\r\\n`, never completed). Returns p50 and p99 in ms and how many failed."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    p, room, web = start_room_web()
    held = []
    try:
        if hostile:
            for _ in range(3000):
                s = socket.socket()
                s.bind(("127.0.0.8", 0))
                s.connect(("127.0.0.1", web))
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                held.append(s)
        times, failed = [], 0
        for _ in range(loads):
            t0 = time.perf_counter()
            s = socket.socket()
            s.settimeout(10)
            s.bind(("127.0.0.9", 0))
            try:
                s.connect(("127.0.0.1", web))
                s.sendall(b"GET / HTTP/1.1\r\nHost: page\r\n\r\n")
                body = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                if body.startswith(b"HTTP/1.1 200") and b"</html>" in body:
                    times.append((time.perf_counter() - t0) * 1000)
                else:
                    failed += 1
            except OSError:
                failed += 1
            finally:
                s.close()
    finally:
        for s in held:
            s.close()
        stop_room(p)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    times.sort()
    if not times:
        return {"p50": 0.0, "p99": 0.0, "failed": failed, "loads": loads}
    return {"p50": times[len(times) // 2], "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
            "failed": failed, "loads": loads}


def room_bulk(kind, args):
    """One client pipes BULK_LINES lines of 1,000 bytes; two readers."""
    return median_of_runs(kind, lambda: start_room(kind, args=args), lambda port: room_load(
        port, ["bulk", "--lines", str(BULK_LINES), "--size", "1000", "--readers", "2",
               "--seconds", "240"], timeout=300))


def room_fanout(kind, args):
    return median_of_runs(kind, lambda: start_room(kind), lambda port: room_load(
        port, ["fanout", "--clients", "100", "--senders", "10"] + args))


def ab_fanout(modes, names, run):
    """The fan-out rows twice, A and B alternating in one run: `run(args,
    b)` for each mode with b False then True; printed as they come (named
    by `names`). Returns {(mode label, b): figures or None}."""
    out = {}
    for label, args in modes:
        for b in (False, True):
            r = run(args, b)
            out[(label, b)] = r
            if r:
                print("room-server %-6s %-50s delivered %6.2f%%  %9.0f lines/s  p50 %.2f ms  p99 %.2f ms"
                      % (names[b], label, r["delivery_pct"], r["lines_per_s"], r["p50_ms"], r["p99_ms"]))
            else:
                print("room-server %-6s %-50s no result" % (names[b], label))
    return out


def ab_table(md, modes, results, column, names):
    """The table of `ab_fanout`'s results, `column` naming what differs."""
    md.append("| load | %s | delivered | lines/s delivered | p50 latency | p99 latency |" % column)
    md.append("|---|---|---|---|---|---|")
    for label, _ in modes:
        for b in (False, True):
            r = results.get((label, b))
            if r:
                md.append("| %s | %s | %.2f %% | %.0f | %.2f ms | %.2f ms |"
                          % (label, names[b], r["delivery_pct"], r["lines_per_s"], r["p50_ms"], r["p99_ms"]))
            else:
                md.append("| %s | %s | no result | | | |" % (label, names[b]))


def room_fanout_class(args, cls):
    """The fan-out of room-server; with `cls`, a room with --password and
    --op-password whose members all give the password and whose first
    member is an operator."""
    extra = ("--password", "lesson", "--op-password", "chalk") if cls else ()
    load = ["--password", "lesson", "--op", "chalk"] if cls else []
    return median_of_runs("room-server", lambda: start_room(
        "room-server", args=("--max-rate", "1000000") + extra), lambda port: room_load(
        port, ["fanout", "--clients", "100", "--senders", "10"] + args + load))


# ---- lanchat under a flood ---------------------------------------------------

def tmux(sock, *args):
    return subprocess.run(["tmux", "-L", sock] + list(args), capture_output=True, text=True).stdout


def lanchat_flood(rate, seconds=5, keys=20):
    """lanchat in tmux (100x30), a flood of `rate` datagrams/s (0: none) for
    `seconds`; `keys` keystrokes, each timed from send-keys until
    capture-pane shows it in the input box. Returns latencies (ms), redraws
    per second, peak RSS (KiB), messages received, scrolled out."""
    sock = "lanchat-bench-%d" % os.getpid()
    err = tempfile.NamedTemporaryFile(delete=False, suffix=".err")
    err.close()
    tmux(sock, "new-session", "-d", "-s", "main", "-x", "100", "-y", "30",
         "exec %s 127.0.0.1:9 -b 127.0.0.1 -p 0 2>%s" % (os.path.join(REL, "lanchat"), err.name))
    try:
        port = None
        deadline = time.time() + 10
        while port is None and time.time() < deadline:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", open(err.name).read())
            port = int(m.group(1)) if m else None
            time.sleep(0.01)
        pid = int(tmux(sock, "display-message", "-p", "-t", "main", "#{pane_pid}").strip())
        flood = None
        if rate:
            flood = subprocess.Popen([os.path.join(EX, "udp-flood"), "127.0.0.1:%d" % port,
                                      "--count", str(rate * seconds), "--size", "64",
                                      "--rate", str(rate), "--max-seconds", str(seconds + 5)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # the flood is on before the first key
        lat = []
        for k in range(keys):
            ch = "abcdefghijklmnopqrstuvwxyz"[k % 26]
            typed = ch
            t0 = time.time()
            tmux(sock, "send-keys", "-t", "main", "-l", typed)
            while time.time() - t0 < 5:
                screen = tmux(sock, "capture-pane", "-p", "-t", "main").splitlines()
                box = [l for l in screen if l.startswith("│")]
                if len(box) and box[-1].rstrip(" │").endswith(ch):
                    break
            lat.append((time.time() - t0) * 1000)
            tmux(sock, "send-keys", "-t", "main", "BSpace")
            time.sleep(0.1)
        rss = peak_rss_kib(pid)
        if flood:
            flood.wait(timeout=seconds + 10)
        tmux(sock, "send-keys", "-t", "main", "C-c")
        deadline = time.time() + 10
        summary = ""
        while time.time() < deadline:
            summary = open(err.name).read()
            if "redraws in" in summary:
                break
            time.sleep(0.05)
        m = re.search(r"(\d+) received.*?(\d+) redraws in ([\d.]+) s", summary)
        received, draws, secs = (int(m.group(1)), int(m.group(2)), float(m.group(3))) if m else (0, 0, 1)
        return {"lat": sorted(lat), "draws_per_s": draws / secs, "rss": rss, "received": received}
    finally:
        tmux(sock, "kill-server")
        os.unlink(err.name)


# ---- the desktop window (lanchat --gui) next to the terminal window ---------

GUI_MIB = int(os.environ.get("GUI_MIB", "1024"))  # the file handed over by the page


def gui_bench():
    """tests/gui.rs bench_front_ends in release (Chromium over WebDriver,
    tmux): one run's key=value lines, as {"gui quiet": {...}, ...}."""
    env = dict(os.environ, GUI_UPLOAD_MIB=str(GUI_MIB))
    if os.path.isdir("/dev/shm"):
        env["TMPDIR"] = "/dev/shm"  # the file, the spool and cp's copy: not the disk
    out = subprocess.run(["cargo", "test", "--release", "--quiet", "--test", "tests", "--",
                          "--ignored", "--exact", "gui::bench_front_ends", "--nocapture"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    rows = {}
    for line in out.stdout.splitlines():
        m = re.match(r"^(gui quiet|gui flood|tui quiet|tui flood|upload) (.*)$", line)
        if m:
            rows[m.group(1)] = {k: float(v) for k, v in (kv.split("=") for kv in m.group(2).split())}
    if len(rows) != 5:
        print("gui: no result\n%s\n%s" % (out.stdout[-2000:], out.stderr[-2000:]), file=sys.stderr)
        return None
    return rows


# ---- files over IP Messenger: lanchat → lanchat, next to nc and tar | nc ----

FILE_MIB = int(os.environ.get("FILE_MIB", "1024"))  # the big file
SMALL_FILES = int(os.environ.get("SMALL_FILES", "10000"))


def scratch_dir():
    """A scratch folder in memory when there is one (the disk is not what is
    measured: both sides of each comparison write the same bytes)."""
    return tempfile.mkdtemp(prefix="lanchat-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)


def small_tree(top, n, seed=7):
    """N files of 0..4 KiB, 100 per folder, two levels: what a project
    folder looks like."""
    import random
    rnd = random.Random(seed)
    total = 0
    for k in range(n):
        d = os.path.join(top, "d%d" % (k // 1000), "s%d" % (k // 100 % 10))
        os.makedirs(d, exist_ok=True)
        size = rnd.randrange(4097)
        with open(os.path.join(d, "f%d.txt" % k), "wb") as f:
            f.write(rnd.randbytes(size))
        total += size
    return total


def cpu_seconds(pid):
    """utime + stime of a running process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lanchat_window(sock, ip, port, name, dl, target):
    """lanchat --ipmsg in tmux bound to a loopback address (no broadcast),
    TARGET the other one; returns (pid, port)."""
    err = os.path.join(dl + ".err")
    tmux(sock, "new-session", "-d", "-s", "main", "-x", "200", "-y", "40",
         "exec %s --ipmsg -b %s -p %d --name %s --download-dir %s --log %s.jsonl %s 2>%s"
         % (os.path.join(REL, "lanchat"), ip, port, name, dl, dl, target, err))
    deadline = time.time() + 10
    while time.time() < deadline:
        m = re.search(r"listening on [\d.]+:(\d+)", open(err).read() if os.path.exists(err) else "")
        if m:
            pid = int(tmux(sock, "display-message", "-p", "-t", "main", "#{pane_pid}").strip())
            return pid, int(m.group(1))
        time.sleep(0.01)
    raise SystemExit("lanchat did not start: %s" % open(err).read())


def tmux_line(sock, text):
    tmux(sock, "send-keys", "-t", "main", "-l", text)
    tmux(sock, "send-keys", "-t", "main", "Enter")


def wait_screen(sock, needle, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if needle in tmux(sock, "capture-pane", "-p", "-t", "main"):
            return True
        time.sleep(0.01)
    return False


def lanchat_transfer(path, total):
    """lanchat on 127.0.0.2 offers PATH (a file or a folder) to lanchat on
    127.0.0.3, which fetches it: seconds from /get to '✓ saved', the
    receiver's CPU seconds and peak RSS, and whether the copy is identical."""
    work = scratch_dir()
    a, b = "lcbench-a-%d" % os.getpid(), "lcbench-b-%d" % os.getpid()
    try:
        dla, dlb = os.path.join(work, "a"), os.path.join(work, "b")
        _, port = lanchat_window(a, "127.0.0.2", 0, "甲", dla, "127.0.0.3")
        pid_b, _ = lanchat_window(b, "127.0.0.3", port, "乙", dlb, "127.0.0.2")
        if not wait_screen(a, "乙 127.0.0.3", 10):
            return None
        tmux_line(a, "/to 乙")
        tmux_line(a, "/send %s" % path)
        if not wait_screen(b, "📎 [1]", 10):
            return None
        cpu0, t0 = cpu_seconds(pid_b), time.time()
        tmux_line(b, "/get 1")
        # Done when its log says so (written once the last byte is in and
        # renamed): read every 2 ms, cheaper and sooner than the screen.
        log, ok = dlb + ".jsonl", False
        while time.time() - t0 < 600 and not ok:
            ok = os.path.exists(log) and '"event":"fetched"' in open(log, encoding="utf-8").read()
            if not ok:
                time.sleep(0.002)
        t1 = time.time()
        cpu, rss = cpu_seconds(pid_b) - cpu0, peak_rss_kib(pid_b)
        got = os.path.join(dlb, os.path.basename(path))
        same = ok and subprocess.run(["diff", "-r", "-q", path, got] if os.path.isdir(path)
                                     else ["cmp", "-s", path, got]).returncode == 0
        return {"seconds": t1 - t0, "mb_s": total / (t1 - t0) / 1e6, "cpu": cpu, "rss": rss, "same": same}
    finally:
        tmux(a, "kill-server")
        tmux(b, "kill-server")
        shutil.rmtree(work, ignore_errors=True)


def nc_transfer(path, total, tar=False):
    """The same bytes through nc (tar | nc for a folder), 127.0.0.2 →
    127.0.0.3: seconds from the sender's start to the receiver's exit, the
    receiver's CPU seconds and peak RSS (nc, and tar for a folder)."""
    work = scratch_dir()
    try:
        port = free_port()
        if tar:
            recv = "nc -l -d 127.0.0.3 %d | tar -C %s -xf -" % (port, work)
            send = "tar -C %s -cf - %s | nc -N -s 127.0.0.2 127.0.0.3 %d" % (
                os.path.dirname(path), os.path.basename(path), port)
        else:
            recv = "nc -l -d 127.0.0.3 %d > %s/%s" % (port, work, os.path.basename(path))
            send = "nc -N -s 127.0.0.2 127.0.0.3 %d < %s" % (port, path)
        r = subprocess.Popen(measured(["sh", "-c", recv]), stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while time.time() < deadline and not tcp_listening(port):
            time.sleep(0.005)
        t0 = time.time()
        subprocess.run(["sh", "-c", send], timeout=600)
        err = finish(r, timeout=600)
        t1 = time.time()
        cpu, rss = rusage(err)
        got = os.path.join(work, os.path.basename(path))
        same = subprocess.run(["diff", "-r", "-q", path, got] if tar else ["cmp", "-s", path, got]).returncode == 0
        return {"seconds": t1 - t0, "mb_s": total / (t1 - t0) / 1e6, "cpu": cpu, "rss": rss, "same": same}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def tcp_listening(port):
    """Whether something listens on TCP PORT (read from /proc: connecting
    would use up nc -l's one connection)."""
    with open("/proc/net/tcp") as f:
        return any(l.split()[1].endswith(":%04X" % port) and l.split()[3] == "0A"
                   for l in list(f)[1:])


def files_bench():
    """Rows of (what, how, result) for the files part, each the median of
    RUNS runs (by seconds)."""
    src = scratch_dir()
    rows = []
    try:
        big = os.path.join(src, "big.bin")
        with open(big, "wb") as f:
            for _ in range(FILE_MIB):
                f.write(os.urandom(1 << 20))
        small = os.path.join(src, "64m.bin")
        with open(small, "wb") as f:
            for _ in range(64):
                f.write(os.urandom(1 << 20))
        tree = os.path.join(src, "tree")
        tree_bytes = small_tree(tree, SMALL_FILES)

        def median_run(fn):
            runs = [r for r in (fn() for _ in range(RUNS)) if r]
            if not runs:
                return None
            runs.sort(key=lambda r: r["seconds"])
            r = dict(runs[len(runs) // 2])
            r["same"] = all(x["same"] for x in runs)
            return r

        what_big = "a %d MiB file" % FILE_MIB
        what_tree = "a folder of %d files (%.1f MB)" % (SMALL_FILES, tree_bytes / 1e6)
        for what, how, fn in (
                (what_big, "lanchat → lanchat", lambda: lanchat_transfer(big, FILE_MIB << 20)),
                (what_big, "nc", lambda: nc_transfer(big, FILE_MIB << 20)),
                ("a 64 MiB file", "lanchat → lanchat", lambda: lanchat_transfer(small, 64 << 20)),
                (what_tree, "lanchat → lanchat", lambda: lanchat_transfer(tree, tree_bytes)),
                (what_tree, "tar | nc", lambda: nc_transfer(tree, tree_bytes, tar=True))):
            r = median_run(fn)
            rows.append((what, how, r))
            if r:
                print("files: %-34s %-18s %6.2f s  %7.1f MB/s  receiver cpu %.2f s  peak RSS %.1f MiB  %s"
                      % (what, how, r["seconds"], r["mb_s"], r["cpu"], r["rss"] / 1024,
                         "identical" if r["same"] else "DIFFERENT"))
            else:
                print("files: %-34s %-18s no result" % (what, how))
            sys.stdout.flush()
    finally:
        shutil.rmtree(src, ignore_errors=True)
    return rows


def main():
    have_socat = shutil.which("socat") is not None
    have_ncat = shutil.which("ncat") is not None
    print("peers found: python3 yes, socat %s, ncat %s; peak RSS from %s"
          % ("yes" if have_socat else "no (skipped)", "yes" if have_ncat else "no (skipped)",
             GNU_TIME or "nowhere (GNU time not installed: RSS n/a)"))
    if ONLY:
        print("only: %s (BENCHMARKS.md is not written)" % ", ".join(sorted(ONLY)))

    # 1 + 2: receivers at full blast.
    rows = []

    def measure(label, kind, size, fmt="text", sink="file"):
        runs = [run_receiver(kind, size, fmt, sink=sink) for _ in range(RUNS)]
        row = (label, size, med(runs, "gen_rate"), med(runs, "loss"), med(runs, "cpu"),
               med(runs, "rss"), med(runs, "got"))
        rows.append(row)
        print("%-28s %5dB  generator %8.0f/s  loss %6.2f%%  cpu %.2fs  rss %s KiB"
              % (row[0], row[1], row[2], row[3], row[4], row[5] or "n/a"))
        sys.stdout.flush()

    if part("udp"):
        measure("null receiver (ceiling)", "null", 64)
        measure("null receiver (ceiling)", "null", 1000)
        for size in (64, 1000):
            for fmt in ("text", "json"):
                measure("chat-window --format %s" % fmt, "chat-window", size, fmt)
        for size in (64, 1000):
            measure("chat-window --format text > /dev/null", "chat-window", size, "text", sink="null")
        measure("python recvfrom(1024)", "python", 64)
        if have_socat:
            measure("socat UDP4-RECV", "socat", 64)

    # Highest offered rate at < 0.1 % loss, for each receiver and size.
    sweep_rates = [25000, 50000, 100000, 150000, 200000, 0]
    series = [("chat-window --format text", "chat-window", "text"),
              ("chat-window --format json", "chat-window", "json"),
              ("python recvfrom(1024)", "python", "text")]
    if have_socat:
        series.append(("socat UDP4-RECV", "socat", "text"))
    sweep = {}
    if part("sweep"):
        for label, kind, fmt in series:
            for size in (64, 1000):
                best = "below %d/s" % sweep_rates[0]
                for rate in sweep_rates:
                    runs = [run_receiver(kind, size, fmt, rate=rate, count=min(COUNT, 300000))
                            for _ in range(RUNS)]
                    if med(runs, "loss") >= 0.1:
                        break
                    best = ("full blast (%.0f/s)" % med(runs, "gen_rate")) if rate == 0 else "%d/s" % rate
                sweep[(label, size)] = best
                print("highest offered rate at < 0.1 %% loss, %s, %d B: %s" % (label, size, best))

    # 3: input-box.
    ib = {}
    if part("input"):
        tmp = tempfile.NamedTemporaryFile(delete=False, suffix=".txt")
        with tmp:
            for i in range(LINES):
                tmp.write(("第%d行 你好世界 局域网聊天\n" % i).encode())
        ib = input_box_rate(tmp.name, LINES)
        os.unlink(tmp.name)
        print("input-box %.0f lines/s, python sender %.0f lines/s" % (ib["input-box"], ib["python"]))

    # 4: the room.
    rooms = ["room-server", "python"] + (["ncat"] if have_ncat else [])
    # ROOMS=room-server: only these servers (to compare two builds).
    if os.environ.get("ROOMS"):
        rooms = [k for k in rooms if k in os.environ["ROOMS"].split(",")]
    sizes = (1000, 5000, 10000)
    hold = {}
    if part("room"):
        for kind in rooms:
            for n in sizes:
                hold[(kind, n)] = room_hold(kind, n)
                print("room %-11s hold %5d: %s" % (kind, n, hold[(kind, n)]))
                if not hold[(kind, n)][0].isdigit():
                    for m in sizes:
                        if m > n:
                            hold[(kind, m)] = "not tried (failed at %d)" % n
                    break
    storm = {}
    if part("storm"):
        for kind in rooms:
            for n in sizes:
                r = room_storm(kind, n)
                storm[(kind, n)] = r["text"]
                print("room %-11s join storm %5d: %s" % (kind, n, r["text"]))
                if not r["ok"]:
                    for m in sizes:
                        if m > n:
                            storm[(kind, m)] = "not tried (failed at %d)" % n
                    break
    bulk_kinds = [("room-server (default --max-rate 1000)", "room-server", ()),
                  ("room-server --max-rate 1000000", "room-server", ("--max-rate", "1000000")),
                  ("python", "python", ()),
                  ] + ([("ncat", "ncat", ())] if have_ncat else [])
    bulk = {}
    if part("bulk"):
        for label, kind, args in bulk_kinds:
            r = room_bulk(kind, args)
            bulk[label] = r
            if r:
                print("room %-40s bulk: %6.0f lines/s per reader, lost %d of %d, reordered %d, %.1f s"
                      % (label, r["lines_per_s"], r["lost"], 2 * BULK_LINES, r["reordered"], r["seconds"]))
            else:
                print("room %-40s bulk: no result" % label)
    fan = {}
    modes = [("full blast, %d lines per sender" % ROOM_COUNT, ["--count", str(ROOM_COUNT)]),
             ("steady 1,000 lines/s for 5 s", ["--rate", "1000", "--seconds", "5"]),
             ("20,000 lines/s for 10 s + 1 client that never reads",
              ["--rate", "20000", "--seconds", "10", "--stuck"])]
    if part("room"):
        for kind in rooms:
            for label, args in modes:
                r = room_fanout(kind, args)
                fan[(kind, label)] = r
                if r:
                    print("room %-11s %-50s delivered %6.2f%%  %9.0f lines/s  prefixed %6.2f%%  p50 %.2f ms  p99 %.2f ms"
                          % (kind, label, r["delivery_pct"], r["lines_per_s"], r["prefixed_pct"],
                             r["p50_ms"], r["p99_ms"]))
                else:
                    print("room %-11s %-50s no result (load tool timed out)" % (kind, label))
    # The same rows with every member named (/nick cN): no slower than
    # without names, in the same run; and a join to a room with history.
    fan_named = {}
    hist = None
    if part("names"):
        fan_named = ab_fanout(modes, ("plain", "named"), lambda args, named: room_fanout(
            "room-server", args + (["--named"] if named else [])))
        hist = median_of_runs("room-server", lambda: start_room(
            "room-server", args=("--max-rate", "1000000", "--history", "1000")),
            lambda port: room_load(port, ["history", "--lines", "1000", "--size", "1000",
                                          "--joins", "20"]))
        if hist:
            print("join to a room with --history 1000 of 1,000-byte lines: end of history after p50 %.2f ms (max %.2f ms), %d lines"
                  % (hist["p50_ms"], hist["max_ms"], hist["history_lines"]))

    # A class's room (--password, an operator present) next to the plain
    # room, alternating in the same run: no slower.
    fan_class = {}
    if part("class"):
        fan_class = ab_fanout(modes, ("plain", "class"), room_fanout_class)

    web_held = {}
    web_fan = {}
    loads = {}
    if part("web"):
        for hostile in (False, True):
            loads[hostile] = page_loads(hostile)
            r = loads[hostile]
            print("page loads from another host%s: p50 %.2f ms, p99 %.2f ms, %d of %d failed"
                  % (" while one host holds 3,000 unfinished requests" if hostile else "",
                     r["p50"], r["p99"], r["failed"], r["loads"]))
        for n in (1000,):
            web_held[n] = web_hold(n)
            print("room-server --web: %d WebSocket members held: %s" % (n, web_held[n]))
        for label, args in modes:
            r = web_fanout(args)
            web_fan[label] = r
            if r:
                print("room mixed 50 TCP + 50 WebSocket %-50s delivered %6.2f%%  %9.0f lines/s  p50 %.2f ms  p99 %.2f ms"
                      % (label, r["delivery_pct"], r["lines_per_s"], r["p50_ms"], r["p99_ms"]))

    lc = {}
    if part("lanchat") and shutil.which("tmux"):
        for rate in (0, 100000):
            runs = [lanchat_flood(rate) for _ in range(RUNS)]
            lat = sorted(x for r in runs for x in r["lat"])
            lc[rate] = {
                "p50": lat[len(lat) // 2], "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
                "max": lat[-1], "draws": statistics.median(r["draws_per_s"] for r in runs),
                "rss": statistics.median(r["rss"] for r in runs),
                "received": statistics.median(r["received"] for r in runs)}
            print("lanchat, flood %6d/s: key shown p50 %.1f ms, p99 %.1f ms, max %.1f ms; %.1f redraws/s; peak RSS %.1f MiB; %d received"
                  % (rate, lc[rate]["p50"], lc[rate]["p99"], lc[rate]["max"], lc[rate]["draws"],
                     lc[rate]["rss"] / 1024, lc[rate]["received"]))

    gui = None
    if part("gui") and shutil.which("chromium") and shutil.which("chromedriver") and shutil.which("tmux"):
        runs = [r for r in (gui_bench() for _ in range(RUNS)) if r]
        if runs:
            gui = {row: {k: statistics.median(r[row][k] for r in runs) for k in runs[0][row]}
                   for row in runs[0]}
            gui["runs"] = len(runs)
            for row in ("gui quiet", "gui flood", "tui quiet", "tui flood"):
                r = gui[row]
                print("%-9s line typed to datagram p50 %6.1f ms  p99 %6.1f ms%s" % (
                    row, r["key_p50_ms"], r["key_p99_ms"],
                    ("  (page to datagram p50 %.1f ms, p99 %.1f ms)" % (r["page_p50_ms"], r["page_p99_ms"]))
                    if "page_p50_ms" in r else ""))
            u = gui["upload"]
            print("gui upload %d MiB: page %.2f s (%.0f MB/s), cp %.2f s (%.0f MB/s)"
                  % (u["mib"], u["page_s"], u["page_mb_s"], u["cp_s"], u["cp_mb_s"]))

    rc = None
    if part("render"):
        rc = render_cost()
        print("render-cost: %s" % ", ".join("%s %.2f (%.2f-%.2f)" % ((k,) + v) for k, v in sorted(rc.items())))

    file_rows, iptux_rows = [], []
    if part("files") and shutil.which("tmux") and shutil.which("nc"):
        file_rows = files_bench()
        if os.geteuid() == 0 and shutil.which("iptux"):
            for _ in range(RUNS):
                out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "bench-iptux.sh"), str(FILE_MIB)],
                                     capture_output=True, text=True, timeout=900,
                                     env=dict(os.environ, LANCHAT_BIN=REL)).stdout
                run = {}
                for line in out.splitlines():
                    w = line.split()
                    if len(w) == 5:
                        run[w[0]] = {"seconds": float(w[1]), "cpu": float(w[2]), "rss": int(w[3]),
                                     "same": w[4] == "identical", "mb_s": (FILE_MIB << 20) / float(w[1]) / 1e6}
                if len(run) == 2:
                    iptux_rows.append(run)
            if iptux_rows:
                iptux_rows.sort(key=lambda r: r["iptux"]["seconds"])
                mid = iptux_rows[len(iptux_rows) // 2]
                for who in ("iptux", "nc"):
                    r = mid[who]
                    print("files (namespaces): %d MiB %-18s %6.2f s  %7.1f MB/s  receiver cpu %.2f s  peak RSS %.1f MiB  %s"
                          % (FILE_MIB, "iptux → lanchat" if who == "iptux" else "nc", r["seconds"], r["mb_s"],
                             r["cpu"], r["rss"] / 1024, "identical" if r["same"] else "DIFFERENT"))

    st = st_utf8 = None
    if part("startup"):
        st = startup_ms()
        st_utf8 = startup_ms(["-e", "utf-8"])
        print("start-up to 'listening on': %.1f ms (gb2312, GBK table built), %.1f ms (-e utf-8, no table)"
              % (st, st_utf8))
    if ONLY:
        return

    # ---- BENCHMARKS.md ----
    md = []
    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    md.append("# Benchmarks\n")
    md.append("Measured by `scripts/bench.sh` on %s UTC: %s, %d cores, Linux %s, Python %s. "
              "Every figure is the median of %d runs. All traffic on loopback. Reproduce: "
              "`scripts/bench.sh` (env `RUNS`, `COUNT`, `LINES`, `ROOM_COUNT`, `BULK_LINES`).\n"
              % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), cpu_model,
                 os.cpu_count(), platform.release(), platform.python_version(), RUNS))
    md.append("## 1-2. UDP receivers at full blast, output to a file\n")
    md.append("%d datagrams per run from `examples/udp-flood.rs` (sendmmsg, GB2312 text). "
              "The generator shares the 2 cores with the receiver; its own rate is the second "
              "column, so no receiver can show more. The null receiver (recvmmsg, counts only) "
              "is this machine's ceiling. Default socket buffers for the peers; chat-window asks "
              "for 8 MiB (the kernel grants `2 × net.core.rmem_max`). Output goes to a file, "
              "except in the `> /dev/null` rows, which show what the receiving and rendering "
              "cost without the kernel's cost of writing the output.\n" % COUNT)
    md.append("| receiver | payload | generator rate (datagrams/s) | loss | CPU s per million offered | datagrams shown per CPU-second | peak RSS |")
    md.append("|---|---|---|---|---|---|---|")
    for label, size, gen, loss, cpu, rss, got in rows:
        per_cpu = got / cpu if cpu else 0
        md.append("| %s | %d B | %.0f | %.2f %% | %.2f | %.0f | %s |"
                  % (label, size, gen, loss, cpu, per_cpu, ("%.1f MiB" % (rss / 1024)) if rss else "n/a"))
    md.append("\nHighest offered rate with < 0.1 %% loss (tried %s datagrams/s, then full "
              "blast; 300,000 datagrams per run):\n" % ", ".join("%d" % r for r in sweep_rates if r))
    md.append("| receiver | 64 B | 1000 B |\n|---|---|---|")
    for label, _, _ in series:
        md.append("| %s | %s | %s |" % (label, sweep[(label, 64)], sweep[(label, 1000)]))
    md.append("\n## 3. input-box: a %d-line Chinese text file to the null receiver\n" % LINES)
    md.append("| sender | lines/s |\n|---|---|")
    md.append("| input-box (sendmmsg batches) | %.0f |" % ib["input-box"])
    md.append("| classic Python sender (input() + encode + sendto) | %.0f |" % ib["python"])
    md.append("\n## 4. The room\n")
    md.append("Clients held (`examples/room-load.rs hold`: N clients connect, then one line must "
              "reach all N-1 others):\n")
    md.append("| server | 1,000 | 5,000 | 10,000 |\n|---|---|---|---|")
    for kind in rooms:
        md.append("| %s | %s |" % (kind, " | ".join(hold.get((kind, n), "n/a") for n in sizes)))
    md.append("\nJoin storm (`room-load storm`): N clients join while none of them reads, stay "
              "silent 5 s, then read; client i is owed the join notices of every later client "
              "(N(N-1)/2 in all: 50 million at 10,000). Peak RSS of the server (VmHWM), and "
              "whether every client got every notice meant for it. room-server with its "
              "defaults:\n")
    md.append("| server | 1,000 | 5,000 | 10,000 |\n|---|---|---|---|")
    for kind in rooms:
        md.append("| %s | %s |" % (kind, " | ".join(storm.get((kind, n), "n/a") for n in sizes)))
    md.append("\nA bulk sender (`room-load bulk`): one client pipes %d lines of 1,000 bytes as "
              "fast as TCP takes them (a file into `nc`); two readers check that every line "
              "arrives whole and in order. 'Lost' counts lines that did not reach a reader "
              "intact (of %d deliveries).\n" % (BULK_LINES, 2 * BULK_LINES))
    md.append("| server | lines/s delivered per reader | lost | out of order | seconds |\n|---|---|---|---|---|")
    for label, _, _ in bulk_kinds:
        r = bulk.get(label)
        if r:
            md.append("| %s | %.0f | %d | %d | %.1f |" % (label, r["lines_per_s"], r["lost"],
                                                         r["reordered"], r["seconds"]))
        else:
            md.append("| %s | no result | | | |" % label)
    md.append("\nRelay with 100 clients, 10 of them sending (`room-load fanout`; every client "
              "reads with one epoll thread; room-server with `--max-rate 1000000`, since the "
              "peers have no rate limit). 'Prefixed' is the share of delivered lines that carry "
              "their sender; 'delivered' is the share of the lines sent that reached each of the "
              "99 others (a drain of at most 60 s for full blast, 15 s otherwise).\n")
    md.append("| server | load | delivered | lines/s delivered | prefixed | p50 latency | p99 latency |")
    md.append("|---|---|---|---|---|---|---|")
    for kind in rooms:
        for label, _ in modes:
            r = fan.get((kind, label))
            if r:
                md.append("| %s | %s | %.2f %% | %.0f | %.2f %% | %.2f ms | %.2f ms |"
                          % (kind, label, r["delivery_pct"], r["lines_per_s"], r["prefixed_pct"],
                             r["p50_ms"], r["p99_ms"]))
            else:
                md.append("| %s | %s | no result | | | | |" % (kind, label))
    md.append("\n### Names and history\n")
    md.append("The fan-out rows again (room-server, 100 clients, 10 sending), without names and "
              "with every member named first (`room-load fanout --named`: each sends `/nick cN`, "
              "so every line carries `<cN@ip:port>`), alternating in the same run:\n")
    ab_table(md, modes, fan_named, "members", ("ip:port", "named"))
    if hist:
        md.append("\nA member joining a room started with `--history 1000` after 1,000 lines of "
                  "1,000 bytes (`room-load history`; 20 joins one after another, median of %d runs): "
                  "from connecting to `! end of history`, p50 %.2f ms, max %.2f ms; %d lines "
                  "received each time.\n" % (RUNS, hist["p50_ms"], hist["max_ms"], hist["history_lines"]))
    md.append("\n### A class's room: a password and an operator\n")
    md.append("The fan-out rows again (room-server, 100 clients, 10 sending): a plain room, and one "
              "started with `--password` and `--op-password` whose members all give the password "
              "(`room-load fanout --password PW --op PW`; the first member is an operator for the "
              "whole run), alternating in the same run:\n")
    ab_table(md, modes, fan_class, "room", ("plain", "--password, an operator"))
    md.append("\n### The web page (room-server --web)\n")
    md.append("WebSocket members as browsers are (`room-load hold-web`, `fanout --ws 50`; every "
              "WebSocket member read by one epoll thread, JSON decoded per message). Held: N "
              "members joined through the page's origin, then one line from a TCP client must "
              "reach all of them.\n")
    md.append("| WebSocket members held | result |\n|---|---|")
    for n, text in sorted(web_held.items()):
        md.append("| %d | %s |" % (n, text))
    md.append("\nFan-out of the mixed room, 50 TCP + 50 WebSocket members, 10 of the TCP members "
              "sending, next to the all-TCP room of the same size (from the table above):\n")
    md.append("| room | load | delivered | lines/s delivered | p50 latency | p99 latency |")
    md.append("|---|---|---|---|---|---|")
    for label, _ in modes:
        for name, r in (("100 TCP", fan.get(("room-server", label))), ("50 TCP + 50 WebSocket", web_fan.get(label))):
            if r:
                md.append("| %s | %s | %.2f %% | %.0f | %.2f ms | %.2f ms |"
                          % (name, label, r["delivery_pct"], r["lines_per_s"], r["p50_ms"], r["p99_ms"]))
            else:
                md.append("| %s | %s | no result | | | |" % (name, label))
    md.append("\nThe page under hostile load: 200 page loads (`GET /`, the whole page, one "
              "after another) from 127.0.0.9, each timed from connect to the end of the page, "
              "alone and while 127.0.0.8 holds 3,000 unfinished requests "
              "(`GET / HTTP/1.1\\r\\nHost: x\\r\\n`, never completed), same run:\n")
    md.append("| page loads from another host | p50 | p99 | failed |\n|---|---|---|---|")
    for hostile, r in sorted(loads.items()):
        md.append("| %s | %.2f ms | %.2f ms | %d of %d |"
                  % ("while one host holds 3,000 unfinished requests" if hostile else "alone",
                     r["p50"], r["p99"], r["failed"], r["loads"]))
    md.append("\n## 5. lanchat under a flood\n")
    md.append("lanchat (release) in tmux at 100×30, messages from `udp-flood` (64-byte GB2312 "
              "datagrams) for 5 s; %d keystrokes per run, each timed from `tmux send-keys` until "
              "`tmux capture-pane` shows it in the input box (so the figure includes two tmux "
              "round trips). Redraws per second from lanchat's own summary.\n" % 20)
    md.append("| flood | key shown p50 | p99 | max | redraws/s | peak RSS | messages received |")
    md.append("|---|---|---|---|---|---|---|")
    for rate in sorted(lc):
        r = lc[rate]
        md.append("| %s | %.1f ms | %.1f ms | %.1f ms | %.1f | %.1f MiB | %d |"
                  % ("none" if rate == 0 else "%d datagrams/s" % rate, r["p50"], r["p99"], r["max"],
                     r["draws"], r["rss"] / 1024, r["received"]))
    md.append("\n## 6. In-process cost of a message (`examples/render-cost.rs`)\n")
    md.append("Decoding, sanitizing and rendering one GB2312 datagram into chat-window's output "
              "buffer, no sockets (200,000 messages of each kind; sender 172.16.43.31:50873, "
              "no timestamps). The text is 你好世界局域网聊天 repeated, so a 1,000-byte message is "
              "500 two-byte characters.\n")
    def us(k):
        med, lo, hi = rc[k]
        return "%.2f µs (%.2f–%.2f)" % (med / 1000, lo / 1000, hi / 1000)
    md.append("Median of %d runs, lowest–highest in brackets.\n" % max(RUNS, 5))
    md.append("| | 64 B | 1000 B |")
    md.append("|---|---|---|")
    md.append("| text | %s | %s |" % (us("text 64"), us("text 1000")))
    md.append("| JSON | %s | %s |" % (us("json 64"), us("json 1000")))
    md.append("\nThe decode of a 1,000-byte message alone: %s with the GBK fast path "
              "(`src/gbk.rs`), %s with encoding_rs's decoder. Building the fast path's table "
              "at start-up: %.2f ms.\n" % (us("decode"), us("decode_lib"), rc["table_ms"][0]))
    md.append("\n## 7. Start-up\n\nchat-window from spawn to `listening on` (median of 15 starts, "
              "timed from Python): %.1f ms with GB2312 (the GBK table built before it listens), "
              "%.1f ms with `-e utf-8` (no table).\n" % (st, st_utf8))
    md.append("\n## 8. Files over IP Messenger (lanchat --ipmsg)\n")
    md.append("lanchat on 127.0.0.2 offers (`/send`), lanchat on 127.0.0.3 fetches (`/get`), both "
              "release builds in tmux; timed from typing `/get` until the receiver's `--log` says "
              "`fetched` (the last byte written and renamed; polled every 2 ms), so a keystroke's "
              "trip through tmux is included. Next to the same bytes through OpenBSD `nc` "
              "(`nc -N` into `nc -l -d`), and a folder through `tar -cf - | nc` into "
              "`nc -l -d | tar -xf -`, timed from the sender's start to the receiver's exit. Files "
              "in /dev/shm on both sides (the disk is not what is measured). Receiver: CPU seconds "
              "of the receiving process (nc's, or nc's and tar's), and its peak RSS (VmHWM). Every "
              "copy compared with `cmp` / `diff -r`. Median of %d runs.\n" % RUNS)
    md.append("| what | how | seconds | MB/s | vs nc | receiver CPU s | receiver peak RSS | copy |")
    md.append("|---|---|---|---|---|---|---|---|")
    base = {}
    for what, how, r in file_rows:
        if r and how in ("nc", "tar | nc"):
            base[what] = r["mb_s"]
    for what, how, r in file_rows:
        if not r:
            md.append("| %s | %s | no result | | | | | |" % (what, how))
            continue
        ratio = ("%.2f×" % (r["mb_s"] / base[what])) if what in base else ""
        md.append("| %s | %s | %.2f | %.0f | %s | %.2f | %.1f MiB | %s |"
                  % (what, how, r["seconds"], r["mb_s"], ratio, r["cpu"], r["rss"] / 1024,
                     "identical" if r["same"] else "DIFFERENT"))
    if iptux_rows:
        mid = iptux_rows[len(iptux_rows) // 2]
        md.append("\nFrom the real iptux 0.8.3 (it sends when asked for its shared files) to lanchat, "
                  "in network namespaces (`scripts/bench-iptux.sh`: two hosts on a veth bridge, "
                  "files in /dev/shm), next to `nc` between the same two hosts; median of %d runs "
                  "by iptux's time:\n" % len(iptux_rows))
        md.append("| what | how | seconds | MB/s | vs nc | receiver CPU s | receiver peak RSS | copy |")
        md.append("|---|---|---|---|---|---|---|---|")
        for who, how in (("iptux", "iptux → lanchat"), ("nc", "nc")):
            r = mid[who]
            md.append("| a %d MiB file | %s | %.2f | %.0f | %.2f× | %.2f | %.1f MiB | %s |"
                      % (FILE_MIB, how, r["seconds"], r["mb_s"], r["mb_s"] / mid["nc"]["mb_s"], r["cpu"],
                         r["rss"] / 1024, "identical" if r["same"] else "DIFFERENT"))
    if gui:
        md.append("\n## 9. The desktop window (lanchat --gui) next to the terminal window\n")
        md.append("`tests/gui.rs` `bench_front_ends` in release (`ONLY=gui`): lanchat sends to a "
                  "UDP socket of the test; 20 lines typed per case, each timed from the keys sent "
                  "until the line's datagram arrives. The desktop window is the page in headless "
                  "Chromium, typed into over WebDriver (`send_keys` of the line and Enter), so its "
                  "figure holds WebDriver's typing; *page to datagram* is timed from the page "
                  "handing the line to its WebSocket (`WebSocket.prototype.send` wrapped by the "
                  "test) to the datagram, which is lanchat's and the page's part. The terminal "
                  "window is lanchat in tmux (`send-keys` of the line and Enter). The flood: "
                  "100,000 64-byte GB2312 datagrams a second from 127.0.0.3 while the lines are "
                  "typed; lanchat's CPU (user + system, `/proc/PID/stat`) over the flood's "
                  "time, its peak RSS (VmHWM), and the page's updates a second (counted by the "
                  "page). Median of %d runs.\n" % gui["runs"])
        md.append("| window | flood | line typed → datagram p50 | p99 | page → datagram p50 | p99 "
                  "| updates/s | lanchat CPU | peak RSS |")
        md.append("|---|---|---|---|---|---|---|---|---|")
        for row, window, flood in (("gui quiet", "desktop (Chromium)", "none"),
                                   ("gui flood", "desktop (Chromium)", "100,000/s"),
                                   ("tui quiet", "terminal (tmux)", "none"),
                                   ("tui flood", "terminal (tmux)", "100,000/s")):
            r = gui[row]
            page = ("%.1f ms | %.1f ms" % (r["page_p50_ms"], r["page_p99_ms"])) if "page_p50_ms" in r else "| "
            md.append("| %s | %s | %.1f ms | %.1f ms | %s | %s | %s | %s |" % (
                window, flood, r["key_p50_ms"], r["key_p99_ms"], page,
                ("%.1f" % r["updates_per_s"]) if "updates_per_s" in r else "",
                ("%.0f %% of a core" % r["cpu_pct"]) if "cpu_pct" in r else "",
                ("%.1f MiB" % (r["rss_kib"] / 1024)) if "rss_kib" in r else ""))
        u = gui["upload"]
        md.append("\nA %d MiB file chosen with the page's file button (WebDriver `send_keys` of its "
                  "path), streamed by Chromium into lanchat's spool and offered to the FeiQ-like "
                  "peer (`scripts/ipmsg-peer.py`): timed until the peer has the offer. Next to `cp` "
                  "of the same file; all in /dev/shm.\n" % u["mib"])
        md.append("| how | seconds | MB/s |")
        md.append("|---|---|---|")
        md.append("| the page → lanchat's spool → offered | %.2f | %.0f |" % (u["page_s"], u["page_mb_s"]))
        md.append("| cp | %.2f | %.0f |" % (u["cp_s"], u["cp_mb_s"]))
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(md))
        f.write(open(os.path.join(ROOT, "scripts", "bench-notes.md")).read()
                if os.path.exists(os.path.join(ROOT, "scripts", "bench-notes.md")) else "")
    print("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()
