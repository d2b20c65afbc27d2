#!/usr/bin/env python3
"""lanchat benchmark driver (run through scripts/bench.sh).

All traffic goes to 127.0.0.1; every run is bounded in count and time.
Each figure is the median of RUNS runs. Writes BENCHMARKS.md.
"""
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")
EX = os.path.join(REL, "examples")
RUNS = int(os.environ.get("RUNS", "3"))
COUNT = int(os.environ.get("COUNT", "1000000"))
LINES = int(os.environ.get("LINES", "1000000"))

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


# Runs one command and reports its own CPU time and peak RSS on stderr.
RUSAGE = r'''
import resource, signal, subprocess, sys
p = subprocess.Popen(sys.argv[1:])
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, lambda n, f: p.send_signal(n))
while True:
    try:
        p.wait()
        break
    except InterruptedError:
        pass
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("rusage %.3f %d" % (r.ru_utime + r.ru_stime, r.ru_maxrss), file=sys.stderr, flush=True)
'''


def measured(cmd):
    return [sys.executable, "-c", RUSAGE] + cmd


def start(cmd, stdout):
    """Starts a receiver; returns (proc, port) once it reports its port."""
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        line = p.stderr.readline()
        m = re.search(r"listening on .*:(\d+)$", line.strip())
        if m:
            return p, int(m.group(1))
    p.kill()
    raise SystemExit("receiver did not start: %s" % cmd)


def flood(port, count, size, rate=0):
    out = subprocess.run(
        [os.path.join(EX, "udp-flood"), "127.0.0.1:%d" % port, "--count", str(count),
         "--size", str(size), "--rate", str(rate), "--max-seconds", "60"],
        capture_output=True, text=True, check=True).stdout
    m = re.search(r"sent (\d+) in ([\d.]+) s", out)
    return int(m.group(1)), float(m.group(2))


def run_receiver(kind, size, fmt="text", rate=0):
    """One run: returns dict(sent, got, loss, gen_rate, cpu, rss)."""
    with tempfile.TemporaryFile() as out:
        if kind == "null":
            cmd = [os.path.join(EX, "udp-null"), "--count", str(COUNT), "--idle-ms", "1000"]
        elif kind == "chat-window":
            cmd = [os.path.join(REL, "chat-window"), "-b", "127.0.0.1", "-p", "0", "--format", fmt,
                   "--count", str(COUNT), "--timeout", "60s"]
        elif kind == "python":
            cmd = [sys.executable, "-c", PY_RECEIVER]
        elif kind == "socat":
            cmd = None
        if kind == "socat":
            # socat prints no port: pick one by binding and releasing it.
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            p = subprocess.Popen(measured(["socat", "-u", "UDP4-RECV:%d,bind=127.0.0.1" % port, "-"]),
                                 stdout=out, stderr=subprocess.DEVNULL)
            time.sleep(0.3)  # socat has no ready signal
        else:
            p, port = start(measured(cmd), out)
        sent, secs = flood(port, COUNT, size, rate)
        # Let the receiver drain (bounded): until its output stops growing.
        deadline = time.time() + 30
        last_size = -1
        while p.poll() is None and time.time() < deadline and kind != "null":
            cur = os.fstat(out.fileno()).st_size
            if cur == last_size:
                break
            last_size = cur
            time.sleep(0.5)
        if kind == "chat-window" and p.poll() is None:
            p.send_signal(2)
        if p.poll() is None and kind == "socat":
            p.send_signal(15)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        err = err or ""
        m = re.search(r"rusage ([\d.]+) (\d+)", err)
        cpu, rss = (float(m.group(1)), int(m.group(2))) if m else (0.0, 0)
        if kind == "null":
            got = int(re.search(r"received (\d+)", open_stdout(out)).group(1))
        elif kind == "python":
            got = int(re.search(r"received (\d+)", err).group(1))
        elif kind == "chat-window":
            got = int(re.search(r"(\d+) messages shown", err).group(1))
        else:  # socat writes the payloads back to back
            got = count_datagrams(out, size)
        return {"sent": sent, "got": got, "loss": 100.0 * (sent - got) / sent,
                "gen_rate": sent / secs, "cpu": cpu, "rss": rss}


def open_stdout(out):
    out.seek(0)
    return out.read().decode()


def count_datagrams(out, size):
    out.seek(0)
    return len(out.read()) // size


def median_of(runs, key):
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
                                    "--quit-word", ""], stdin=f, stderr=subprocess.DEVNULL, timeout=120)
                else:
                    subprocess.run([sys.executable, "-c", PY_SENDER, str(port)], stdin=f, timeout=300)
            secs = time.time() - t
            _, err = p.communicate(timeout=30)
            vals.append(lines / secs)
        rates[name] = statistics.median(vals)
    return rates


def startup_ms():
    vals = []
    for _ in range(max(RUNS, 5)):
        t = time.time()
        p = subprocess.Popen([os.path.join(REL, "chat-window"), "-b", "127.0.0.1", "-p", "0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in p.stderr:
            if line.startswith("listening on"):
                break
        vals.append((time.time() - t) * 1000)
        p.send_signal(2)
        p.communicate(timeout=10)
    return statistics.median(vals)


def main():
    peers = {"python3": True, "socat": shutil.which("socat") is not None}
    print("peers found: python3 yes, socat %s" % ("yes" if peers["socat"] else "no (skipped)"))
    rows = []

    def measure(label, kind, size, fmt="text"):
        runs = [run_receiver(kind, size, fmt) for _ in range(RUNS)]
        row = (label, size, median_of(runs, "gen_rate"), median_of(runs, "loss"),
               median_of(runs, "cpu"), median_of(runs, "rss"), median_of(runs, "got"))
        rows.append(row)
        print("%-28s %5dB  offered %8.0f/s  loss %6.2f%%  cpu %.2fs" % row[:5])
        sys.stdout.flush()

    measure("null receiver (ceiling)", "null", 64)
    for size in (64, 1000):
        for fmt in ("text", "json"):
            measure("chat-window --format %s" % fmt, "chat-window", size, fmt)
    measure("python recvfrom(1024)", "python", 64)
    if peers["socat"]:
        measure("socat UDP4-RECV", "socat", 64)

    tmp = tempfile.NamedTemporaryFile(delete=False, suffix=".txt")
    with tmp:
        for i in range(LINES):
            tmp.write(("第%d行 你好世界 局域网聊天\n" % i).encode())
    ib = input_box_rate(tmp.name, LINES)
    os.unlink(tmp.name)
    print("input-box %.0f lines/s, python sender %.0f lines/s" % (ib["input-box"], ib["python"]))
    st = startup_ms()
    print("start-up to 'listening on': %.1f ms" % st)

    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write("# Benchmarks\n\n")
        f.write("Measured by `scripts/bench.sh` on %s UTC: %s, %d cores, %s, Linux %s.\n"
                % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), cpu_model,
                   os.cpu_count(), platform.python_version() and "Python " + platform.python_version(),
                   platform.release()))
        f.write("Every figure is the median of %d runs; %d datagrams per run, all on loopback, "
                "sent by `examples/udp-flood.rs` (sendmmsg) at full blast.\n\n" % (RUNS, COUNT))
        f.write("## UDP receivers at full blast (output to a file)\n\n")
        f.write("| receiver | payload | generator rate (datagrams/s) | loss | CPU s | CPU s per million | peak RSS |\n|---|---|---|---|---|---|---|\n")
        for label, size, gen, loss, cpu, rss, got in rows:
            per_m = cpu / (got / 1e6) if got else 0
            f.write("| %s | %d B | %.0f | %.2f %% | %.2f | %.2f | n/a |\n"
                    % (label, size, gen, loss, cpu, per_m))
        f.write("\nThe null receiver only counts (recvmmsg): its row is the ceiling of this machine; "
                "the generator's own rate is the 'generator rate' column, so a receiver can never "
                "show more than that.\n\n"
                "Peak RSS is not reported yet: getrusage of a child started from Python counts "
                "the forked interpreter before exec (about 14 MiB for every receiver), which "
                "would be a false figure. CPU seconds for socat may read 0 when it is stopped "
                "by signal.\n\n")
        f.write("## input-box from a %d-line Chinese text file to the null receiver\n\n" % LINES)
        f.write("| sender | lines/s |\n|---|---|\n| input-box | %.0f |\n| classic Python sender (input() + encode + sendto) | %.0f |\n\n"
                % (ib["input-box"], ib["python"]))
        f.write("## Start-up\n\nchat-window from spawn to `listening on`: %.1f ms (median).\n\n" % st)
        f.write("## Not measured yet\n\nThe room-server figures (clients held, fan-out lines/s, "
                "p50/p99 latency, a client that never reads, against the Python select() room and "
                "`ncat --chat`) and the rate sweep for the highest loss-free offered rate are not "
                "in this benchmark yet.\n")
    print("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()
