#!/usr/bin/env python3
"""A FeiQ-like IP Messenger peer, for lanchat's tests (smoke-netns.sh and
the files tests of `cargo test`). It is friendly or hostile on command.

It speaks as FeiQ and IPMsg for Windows do: UDP 2425, GBK text, FeiQ's
version field, an ANSENTRY to every BR_ENTRY and a RECVMSG to every
SENDMSG with SENDCHECKOPT (unless muted). Every packet it receives is
logged to LOG, one line each:

    RECV from=10.0.0.2 cmd=0x120 mode=0x20 no=1796151229 text=给飞秋|

(text: EXTRA decoded as UTF-8 when the packet has UTF8OPT, else GBK, with
NUL shown as '|'). It serves the files it offers on TCP (the same port),
each TCP request logged as

    TCP from=10.0.0.2 cmd=0x60 packet=123 id=1 offset=0

Commands, one per line on stdin:

    entry                 broadcast BR_ENTRY (nick 飞秋用户, group 测试组)
    msg NO TEXT           SENDMSG|SENDCHECKOPT with packet number NO to TO
    nick TEXT             ANSENTRY to TO with this nick (Python escapes: \\x1b, \\u202e)
    mute / unmute         stop / start answering SENDMSG with RECVMSG
    offer NO KIND         offer files with packet number NO, served as KIND says:
                            folder   a folder 正常/ of three files, nested (served right)
                            names    files with every hostile name (served right)
                            climb    a folder whose stream names entries "..", "/abs", "C:\\x"
                            escape   a folder stream that starts outside its folder
                            deep     a folder stream nested 40 deep
                            long     a 1000-byte file served as 2000 bytes
                            short    a 1000-byte file of which 500 come, then the end
                            stall    a 1000-byte file of which 500 come, then nothing (60 s)
                            resume   a 1,000,000-byte file: the first request gets
                                     400,000 bytes, later ones are served from their offset
    offers COUNT          COUNT offers at once (packet numbers 900000…), a small file each
    release NO            RELEASEFILES for packet NO to TO
    fetch SRC PACKET ID OFFSET OUT   GETFILEDATA to TO over TCP from address SRC;
                          what comes is written to OUT, then FETCHED bytes=N is logged
    fetchdir SRC PACKET ID OUT       the same with GETDIRFILES
    quit

The bytes of item ID at offset i are (i * 7 + ID) % 251 (tests check them).

Usage: ipmsg-peer.py LOG BROADCAST_ADDR TO_ADDR [--bind IP] [--port N] [--to-port N]
(inside a test namespace, or on a loopback address)
"""
import argparse
import re
import socket
import sys
import threading
import time

BR_ENTRY, BR_EXIT, ANSENTRY, SENDMSG, RECVMSG = 0x01, 0x02, 0x03, 0x20, 0x21
GETFILEDATA, RELEASEFILES, GETDIRFILES = 0x60, 0x61, 0x62
SENDCHECKOPT, FILEATTACHOPT, UTF8OPT = 0x100, 0x200000, 0x800000
VERSION = b"1_lbt6_0#128#000C29D4E5F6#0#0#0#4001#9"

ap = argparse.ArgumentParser()
ap.add_argument("log")
ap.add_argument("bcast")
ap.add_argument("to")
ap.add_argument("--bind", default="0.0.0.0")
ap.add_argument("--port", type=int, default=2425)
ap.add_argument("--to-port", type=int, help="the port of TO and BROADCAST_ADDR (default: --port)")
args = ap.parse_args()

log = open(args.log, "a", buffering=1, encoding="utf-8")
log_lock = threading.Lock()
port = args.port
to_port = args.to_port or port
bcast, to = args.bcast, (args.to, to_port)
nick, group = "飞秋用户", "测试组"
answer = True
counter = [int(time.time()) * 10]
offers = {}  # packet number → (kind, items)
served = {}  # (packet, id) → requests so far


def say(line):
    with log_lock:
        log.write(line + "\n")


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind((args.bind, port))

tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((args.bind, port))
tcp.listen(64)


def packet(command, extra, no=None):
    if no is None:
        counter[0] += 1
        no = counter[0]
    return b"%s:%d:feiq:PC-FEIQ:%d:" % (VERSION, no, command) + extra


def entry_extra(name):
    return name.encode("gbk", "replace") + b"\0" + group.encode("gbk") + b"\0"


def gbk(name):
    return name.encode("gbk", "replace")


def data(item_id, offset, n):
    return bytes((i * 7 + item_id) % 251 for i in range(offset, offset + n))


def header(name, size, attr):
    body = b":" + gbk(name).replace(b":", b"::") + b":%x:%x:" % (size, attr)
    return b"%04x" % (4 + len(body)) + body


def up():
    return header(".", 0, 3)


HOSTILE_NAMES = [
    "../../escaped.txt", "/etc/abs.txt", "C:\\Windows\\win.ini", "a\x1b[31mred",
    "CON", "nul.txt", "bidi\u202efdp.exe", "..", "what?*<>|", "a::b", "x" * 300,
    "长" * 150 + ".txt", "sp ace. ",
]

# The files of each kind: (id, name, size, attr).
KINDS = {
    "folder": [(1, "正常", 5 + 6 + 7, 2)],
    "names": [(i + 1, n, 8 + i, 1) for i, n in enumerate(HOSTILE_NAMES)],
    "climb": [(1, "../climb", 5 * 4 + 3 + 1, 2)],
    "escape": [(1, "escape", 4, 2)],
    "deep": [(1, "deep", 1, 2)],
    "long": [(1, "long.bin", 1000, 1)],
    "short": [(1, "short.bin", 1000, 1)],
    "stall": [(1, "stall.bin", 1000, 1)],
    "resume": [(1, "resume.bin", 1_000_000, 1)],
}


def folder_stream(kind):
    """The stream of KIND's folder: headers and bytes."""
    out = []

    def file(name, size, item_id=1):
        out.append(header(name, size, 1) + data(item_id, 0, size))

    if kind == "folder":
        out.append(header("正常", 0, 2))
        file("一.txt", 5)
        out.append(header("子", 0, 2))
        file("二.bin", 6)
        out.append(header("孙", 0, 2))
        file("三.bin", 7)
        out += [up(), up(), up()]
    elif kind == "climb":
        out.append(header("../climb", 0, 2))
        out.append(header("../../up", 0, 2))
        file("../../../escaped.txt", 5)
        file("/etc/abs.txt", 5)
        out.append(up())
        out.append(header("/abs", 0, 2))
        file("C:\\evil.ini", 5)
        file("CON", 3)
        out.append(up())
        out.append(header("..", 0, 2))
        file("\\\\server\\share", 5)
        file("x", 1)
        out += [up(), up()]
    elif kind == "escape":
        out += [up(), header("outside.txt", 4, 1) + b"evil"]
    elif kind == "deep":
        for i in range(40):
            out.append(header("d%d" % i, 0, 2))
        file("bottom.txt", 1)
        out += [up()] * 40
    return b"".join(out)


def offer_packet(no, kind):
    items = KINDS[kind] if kind in KINDS else [(1, kind, 8, 1)]
    offers[no] = (kind, items)
    listing = b"".join(
        b"%d:%s:%x:%x:%x:\x07" % (i, gbk(n).replace(b":", b"::"), size, 0x66000000, attr)
        for i, n, size, attr in items
    )
    kind_text = gbk(kind) if kind in KINDS else b""  # "offers": no text, as iptux
    return packet(SENDMSG | SENDCHECKOPT | FILEATTACHOPT, kind_text + b"\0" + listing + b"\0", no=no)


def read_request(conn):
    """A request as iptux reads it: until 8 colons (or a NUL)."""
    buf = b""
    while buf.count(b":") < 8 and b"\0" not in buf and len(buf) < 4096:
        chunk = conn.recv(1024)
        if not chunk:
            break
        buf += chunk
    return buf


def serve(conn, addr):
    conn.settimeout(90)
    try:
        buf = read_request(conn)
        f = buf.split(b"\0")[0].split(b":")
        if len(f) < 6:
            say("TCP from=%s malformed" % addr[0])
            return
        command = int(f[4]) & 0xFF
        packet_no, item_id = int(f[5], 16), int(f[6], 16)
        offset = int(f[7], 16) if command == GETFILEDATA and len(f) > 7 and f[7] else 0
        say("TCP from=%s cmd=%#x packet=%d id=%d offset=%d" % (addr[0], command, packet_no, item_id, offset))
        if packet_no not in offers:
            return
        kind, items = offers[packet_no]
        key = (packet_no, item_id)
        served[key] = served.get(key, 0) + 1
        if command == GETDIRFILES:
            conn.sendall(folder_stream(kind))
            return
        size = next((size for i, _, size, _ in items if i == item_id), None)
        if size is None:
            return
        if kind == "long":
            conn.sendall(data(item_id, 0, 2 * size))
        elif kind == "short":
            conn.sendall(data(item_id, 0, size // 2))
        elif kind == "stall":
            conn.sendall(data(item_id, 0, size // 2))
            time.sleep(60)
        elif kind == "resume" and served[key] == 1:
            conn.sendall(data(item_id, 0, 400_000))
        else:
            conn.sendall(data(item_id, offset, size - offset))
    except (OSError, ValueError, IndexError) as e:
        say("TCP from=%s error %s" % (addr[0], e))
    finally:
        conn.close()


def accept():
    while True:
        conn, addr = tcp.accept()
        threading.Thread(target=serve, args=(conn, addr), daemon=True).start()


def fetch(src, command, extra, out):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(30)
    got = b""
    try:
        c.bind((src, 0))
        c.connect(to)
        c.sendall(packet(command, extra.encode() + b"\0"))
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            got += chunk
    except OSError as e:
        say("FETCH error %s" % e)
    finally:
        c.close()
    with open(out, "wb") as f:
        f.write(got)
    say("FETCHED bytes=%d" % len(got))


def receive():
    while True:
        data_, addr = s.recvfrom(65536)
        fields = data_.split(b":", 5)
        if len(fields) < 6:
            say("RECV from=%s malformed" % addr[0])
            continue
        try:
            no, command = int(fields[1]), int(fields[4])
        except ValueError:
            say("RECV from=%s malformed" % addr[0])
            continue
        if fields[2] == b"feiq" and fields[3] == b"PC-FEIQ":
            continue  # our own broadcast
        enc = "utf-8" if command & UTF8OPT else "gbk"
        text = fields[5].decode(enc, "replace").replace("\0", "|")
        mode = command & 0xFF
        say("RECV from=%s cmd=%#x mode=%#x no=%d text=%s" % (addr[0], command, mode, no, text))
        if mode == BR_ENTRY:
            s.sendto(packet(ANSENTRY, entry_extra(nick)), addr)
        elif mode == SENDMSG and command & SENDCHECKOPT and answer:
            s.sendto(packet(RECVMSG, b"%d\0" % no), addr)


threading.Thread(target=receive, daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
say("READY")
for line in sys.stdin:
    words = line.rstrip("\n").split(" ")
    if words[0] == "entry":
        s.sendto(packet(BR_ENTRY, entry_extra(nick)), (bcast, to_port))
    elif words[0] == "msg":
        text = line.rstrip("\n").split(" ", 2)[2]
        s.sendto(packet(SENDMSG | SENDCHECKOPT, text.encode("gbk") + b"\0", no=int(words[1])), to)
    elif words[0] == "nick":
        name = re.sub(r"\\x([0-9a-f]{2})|\\u([0-9a-f]{4})",
                      lambda m: chr(int(m.group(1) or m.group(2), 16)), line.rstrip("\n").split(" ", 1)[1])
        s.sendto(packet(ANSENTRY, name.encode("utf-8") + b"\0" + group.encode("utf-8") + b"\0"), to)
    elif words[0] == "mute":
        answer = False
    elif words[0] == "unmute":
        answer = True
    elif words[0] == "offer":
        s.sendto(offer_packet(int(words[1]), words[2]), to)
    elif words[0] == "offers":
        for k in range(int(words[1])):
            s.sendto(offer_packet(900000 + k, "f%d.txt" % k), to)
            if k % 10 == 9:
                time.sleep(0.001)  # a burst, but not one a socket buffer drops
    elif words[0] == "release":
        s.sendto(packet(RELEASEFILES, b"%d\0" % int(words[1])), to)
    elif words[0] == "fetch":
        src, pk, item, off, out = words[1:6]
        fetch(src, GETFILEDATA, "%x:%x:%x" % (int(pk), int(item), int(off)), out)
    elif words[0] == "fetchdir":
        src, pk, item, out = words[1:5]
        fetch(src, GETDIRFILES, "%x:%x:0" % (int(pk), int(item)), out)
    elif words[0] == "quit":
        break
    say("DONE %s" % words[0])
