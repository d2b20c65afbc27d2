#!/usr/bin/env python3
"""A FeiQ-like IP Messenger peer, for lanchat's tests (smoke-netns.sh).

It speaks as FeiQ and IPMsg for Windows do: UDP 2425, GBK text, FeiQ's
version field, an ANSENTRY to every BR_ENTRY and a RECVMSG to every
SENDMSG with SENDCHECKOPT (unless muted). Every packet it receives is
logged to LOG, one line each:

    RECV from=10.0.0.2 cmd=0x120 mode=0x20 no=1796151229 text=给飞秋|

(text: EXTRA decoded as UTF-8 when the packet has UTF8OPT, else GBK, with
NUL shown as '|'). Commands, one per line on stdin:

    entry                 broadcast BR_ENTRY (nick 飞秋用户, group 测试组)
    msg NO TEXT           SENDMSG|SENDCHECKOPT with packet number NO to TO
    nick TEXT             ANSENTRY to TO with this nick (Python escapes: \\x1b, \\u202e)
    mute / unmute         stop / start answering SENDMSG with RECVMSG
    quit

Usage: ipmsg-peer.py LOG BROADCAST_ADDR TO_ADDR   (run it inside a test namespace)
"""
import re
import socket
import sys
import threading
import time

BR_ENTRY, BR_EXIT, ANSENTRY, SENDMSG, RECVMSG = 0x01, 0x02, 0x03, 0x20, 0x21
SENDCHECKOPT, UTF8OPT = 0x100, 0x800000
VERSION = b"1_lbt6_0#128#000C29D4E5F6#0#0#0#4001#9"

log = open(sys.argv[1], "a", buffering=1, encoding="utf-8")
bcast, to = sys.argv[2], (sys.argv[3], 2425)
nick, group = "飞秋用户", "测试组"
answer = True
counter = [int(time.time()) * 10]

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("0.0.0.0", 2425))


def packet(command, extra, no=None):
    if no is None:
        counter[0] += 1
        no = counter[0]
    return b"%s:%d:feiq:PC-FEIQ:%d:" % (VERSION, no, command) + extra


def entry_extra(name):
    return name.encode("gbk", "replace") + b"\0" + group.encode("gbk") + b"\0"


def receive():
    while True:
        data, addr = s.recvfrom(65536)
        fields = data.split(b":", 5)
        if len(fields) < 6:
            log.write("RECV from=%s malformed\n" % addr[0])
            continue
        try:
            no, command = int(fields[1]), int(fields[4])
        except ValueError:
            log.write("RECV from=%s malformed\n" % addr[0])
            continue
        if fields[2] == b"feiq" and fields[3] == b"PC-FEIQ":
            continue  # our own broadcast
        enc = "utf-8" if command & UTF8OPT else "gbk"
        text = fields[5].decode(enc, "replace").replace("\0", "|")
        mode = command & 0xFF
        log.write("RECV from=%s cmd=%#x mode=%#x no=%d text=%s\n" % (addr[0], command, mode, no, text))
        if mode == BR_ENTRY:
            s.sendto(packet(ANSENTRY, entry_extra(nick)), addr)
        elif mode == SENDMSG and command & SENDCHECKOPT and answer:
            s.sendto(packet(RECVMSG, b"%d\0" % no), addr)


threading.Thread(target=receive, daemon=True).start()
log.write("READY\n")
for line in sys.stdin:
    words = line.rstrip("\n").split(" ", 2)
    if words[0] == "entry":
        s.sendto(packet(BR_ENTRY, entry_extra(nick)), (bcast, 2425))
    elif words[0] == "msg":
        s.sendto(packet(SENDMSG | SENDCHECKOPT, words[2].encode("gbk") + b"\0", no=int(words[1])), to)
    elif words[0] == "nick":
        name = re.sub(r"\\x([0-9a-f]{2})|\\u([0-9a-f]{4})",
                      lambda m: chr(int(m.group(1) or m.group(2), 16)), words[1])
        s.sendto(packet(ANSENTRY, name.encode("utf-8") + b"\0" + group.encode("utf-8") + b"\0"), to)
    elif words[0] == "mute":
        answer = False
    elif words[0] == "unmute":
        answer = True
    elif words[0] == "quit":
        break
    log.write("DONE %s\n" % words[0])
