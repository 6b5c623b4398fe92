#!/usr/bin/python3
# resp_limits_client.py: the RESP face's limits seen by redis-py (Debian's
# python3-redis; run with /usr/bin/python3) and by raw sockets.
#
#   resp_limits_client.py HOST:PORT values MAXVALUE
#       SET/GET of 300 KB, 2 MB, 20 MB and MAXVALUE bytes (binary, compared
#       byte for byte); MAXVALUE + 1 bytes refused with Redis's "string
#       exceeds maximum allowed size" and the same connection answers PING
#       and a pipelined GET behind it; APPEND past MAXVALUE refused
#   resp_limits_client.py HOST:PORT args
#       MSET of 10,001 pairs, MGET and DEL of them; the empty key "" through
#       SET GET APPEND STRLEN EXISTS DEL
#   resp_limits_client.py HOST:PORT header PID
#       "$999999999999" and a bulk over 512 MiB: "Protocol error: invalid
#       bulk length", the connection closed, the proxy (PID) alive; a bulk of
#       500 MB announced and 4 MB of it sent: the proxy's resident memory
#       grows by less than 64 MB, the error comes when the rest is dropped
#
# Prints one "ok - what" line per check; on the first failure prints
# "not ok - what: detail" and exits 1. Keys are prefixed with a random tag.
import hashlib
import os
import socket
import sys
import time

import redis
from resp_tap import check, check_error, fail, ok

HOST, PORT = sys.argv[1].rsplit(":", 1)
PORT = int(PORT)
TAG = "lim%d:" % os.getpid()
TOOBIG = "string exceeds maximum allowed size"


def client():
    return redis.Redis(host=HOST, port=PORT, socket_timeout=60)


def blob(n):
    """n bytes of every byte value, different per size."""
    seed = hashlib.sha256(str(n).encode()).digest()
    return (seed * (n // len(seed) + 1))[:n]


def values(maxvalue):
    r = client()
    for n in (300 * 1000, 2 * 1000 * 1000, 20 * 1000 * 1000, maxvalue):
        v = blob(n)
        k = TAG + "v%d" % n
        check("SET of %d bytes" % n, r.set(k, v), True)
        got = r.get(k)
        check("GET of %d bytes: same bytes" % n, got is not None and len(got) == n and got == v, True)
        check("STRLEN of %d bytes" % n, r.strlen(k), n)
    k = TAG + "over"
    check_error(r, TOOBIG, "SET", k, blob(maxvalue + 1))
    check("PING on the same connection after the refusal", r.ping(), True)
    check("nothing was written", r.exists(k), 0)
    # the refused command pipelined between two others: replies in order
    p = r.pipeline(transaction=False)
    p.set(TAG + "a", "1")
    p.set(k, blob(maxvalue + 1))
    p.get(TAG + "a")
    got = p.execute(raise_on_error=False)
    check("pipeline around a refused value: first reply", got[0], True)
    check("pipeline: refused", isinstance(got[1], redis.exceptions.ResponseError) and str(got[1]) == TOOBIG, True)
    check("pipeline: third reply", got[2], b"1")
    r.set(TAG + "ap", blob(maxvalue))
    check_error(r, TOOBIG, "APPEND", TAG + "ap", "x")
    check("the value APPEND refused is unchanged", r.strlen(TAG + "ap"), maxvalue)
    r.delete(*[TAG + "v%d" % n for n in (300 * 1000, 2 * 1000 * 1000, 20 * 1000 * 1000, maxvalue)])
    r.delete(TAG + "ap", TAG + "a")


def args():
    r = client()
    n = 10001
    pairs = {TAG + "m%d" % i: "v%d" % i for i in range(n)}
    check("MSET of %d pairs" % n, r.mset(pairs), True)
    keys = list(pairs)
    got = r.mget(keys)
    check("MGET of %d keys: every value" % n, got == [pairs[k].encode() for k in keys], True)
    check("DEL of %d keys" % n, r.delete(*keys), n)
    check("SET of the empty key", r.set("", "empty"), True)
    check("GET of the empty key", r.get(""), b"empty")
    check("APPEND to the empty key", r.append("", "!"), 6)
    check("STRLEN of the empty key", r.strlen(""), 6)
    check("EXISTS of the empty key", r.exists(""), 1)
    check("DEL of the empty key", r.delete(""), 1)
    check("GET of the empty key after DEL", r.get(""), None)


def raw(payload, wait=5.0):
    """Send payload on a new connection; the bytes read until it closes."""
    s = socket.create_connection((HOST, PORT))
    s.settimeout(wait)
    s.sendall(payload)
    got = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except socket.timeout:
        got += b"<open>"
    s.close()
    return got


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    fail("VmRSS of %d" % pid, "not found")


def header(pid):
    bad = b"-ERR Protocol error: invalid bulk length\r\n"
    check("$999999999999: refused, closed", raw(b"*2\r\n$3\r\nGET\r\n$999999999999\r\n"), bad)
    check("a bulk of 512 MiB + 1: refused, closed", raw(b"*1\r\n$536870913\r\n"), bad)
    check("a multibulk of 2^20 + 1: refused, closed", raw(b"*1048577\r\n"),
          b"-ERR Protocol error: invalid multibulk length\r\n")
    os.kill(pid, 0)
    check("the proxy answers after them", client().ping(), True)
    before = rss_kb(pid)
    s = socket.create_connection((HOST, PORT))
    s.settimeout(30)
    s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\n")
    chunk = b"x" * (1 << 20)
    for _ in range(4):
        s.sendall(chunk)
    time.sleep(0.3)
    grown = rss_kb(pid) - before
    if grown > 64 * 1024:
        fail("500 MB announced, 4 MB sent", "the proxy grew by %d kB" % grown)
    ok("500 MB announced, 4 MB sent: the proxy grew by %d kB" % grown)
    left = 500000000 + 2 - 4 * len(chunk)
    while left > 0:
        n = min(left, len(chunk))
        s.sendall(chunk[:n])
        left -= n
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    got = b""
    while got.count(b"\r\n") < 2:
        d = s.recv(4096)
        if not d:
            break
        got += d
    s.close()
    check("500 MB dropped: the error, then PONG", got, b"-ERR " + TOOBIG.encode() + b"\r\n+PONG\r\n")
    grown = rss_kb(pid) - before
    if grown > 64 * 1024:
        fail("after 500 MB dropped", "the proxy grew by %d kB" % grown)
    ok("after 500 MB dropped: the proxy grew by %d kB" % grown)


if __name__ == "__main__":
    what = sys.argv[2]
    if what == "values":
        values(int(sys.argv[3]))
    elif what == "args":
        args()
    elif what == "header":
        header(int(sys.argv[3]))
    else:
        fail("usage", "unknown mode %r" % what)
