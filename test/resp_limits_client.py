#!/usr/bin/python3
# resp_limits_client.py: the RESP face's limits seen by redis-py (Debian's
# python3-redis; run with /usr/bin/python3) and by raw sockets.
#
#   resp_limits_client.py HOST:PORT values MAXVALUE
#       SET/GET of 300 KB, 2 MB, 20 MB and MAXVALUE bytes (binary, compared
#       byte for byte); MAXVALUE + 1 bytes refused with Redis's "string
#       exceeds maximum allowed size" and the same connection answers PING
#       and a pipelined GET behind it; APPEND past MAXVALUE refused
#   resp_limits_client.py HOST:PORT args PID N
#       MSET of N pairs, MGET, EXISTS and DEL of them, the proxy's (PID)
#       resident memory bounded; the empty key "" through SET GET APPEND
#       STRLEN EXISTS DEL
#   resp_limits_client.py HOST:PORT header PID
#       "$999999999999" and a bulk over 512 MiB: "Protocol error: invalid
#       bulk length", the connection closed, the proxy (PID) alive; a bulk of
#       500 MB announced and 4 MB of it sent: the proxy's resident memory
#       grows by less than 64 MB, the error comes when the rest is dropped
#   resp_limits_client.py HOST:PORT budget
#       with --resp-max-buffered 4000000: two 3 MB values arriving at once go
#       in, a third is dropped and answered -OOM, then goes in once they are
#   resp_limits_client.py HOST:PORT info PID
#       INFO through redis-py's info(): the fields dashboards read, their
#       types, counters that move with what is done, sections by name, several
#       at once, all / everything / default
#   resp_limits_client.py HOST:PORT config
#       CONFIG GET / SET of the RESP limits (seen by another connection),
#       several pairs at once, Redis's errors for unknown, immutable and bad
#       values, a refused call changing nothing
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


def args(pid, n):
    r = client()
    before = rss_kb(pid)
    pairs = {TAG + "m%d" % i: "v%d" % i for i in range(n)}
    check("MSET of %d pairs" % n, r.mset(pairs), True)
    keys = list(pairs)
    got = r.mget(keys)
    check("MGET of %d keys: every value" % n, got == [pairs[k].encode() for k in keys], True)
    check("EXISTS of %d keys, 1000 of them twice" % n, r.exists(*(keys + keys[:1000])), n + 1000)
    check("DEL of %d keys and one missing" % n, r.delete(*(keys + [TAG + "none"])), n)
    check("MGET of them after: every one nil", r.mget(keys) == [None] * n, True)
    # at most RFACE_WINDOW (4096) keys of a command are in flight, ~1.4 KB
    # each: the proxy holds the command, its argument table and the reply
    grown = rss_kb(pid) - before
    with open("/proc/%d/maps" % pid) as f:
        asan = "libasan" in f.read()
    if asan:  # its quarantine holds what is freed (256 MB): no bound to see
        ok("the proxy's memory after %d keys: grew by %d kB (not judged under ASan)" % (n, grown))
    elif grown > 64 * 1024:  # all at once: 100,000 x 1.4 KB = 140 MB
        fail("the proxy's memory after %d keys" % n, "grew by %d kB" % grown)
    else:
        ok("the proxy's memory after MSET/MGET/EXISTS/DEL of %d keys: grew by %d kB" % (n, grown))
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


def reply_line(s):
    got = b""
    while not got.endswith(b"\r\n"):
        d = s.recv(4096)
        if not d:
            break
        got += d
    return got


def budget():
    """The proxy runs with --resp-max-buffered 4000000: two 3 MB values may
    arrive at once, a third is dropped with -OOM, and goes in once they are."""
    n = 3000000
    value = blob(n)

    def start(key):
        s = socket.create_connection((HOST, PORT))
        s.settimeout(30)
        s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n" % (len(key), key, n) + value[:100000])
        return s

    a, b = start(TAG.encode() + b"a"), start(TAG.encode() + b"b")
    time.sleep(0.3)  # both headers read: their data reserved
    c = start(TAG.encode() + b"c")
    c.sendall(value[100000:] + b"\r\n")
    check("a third 3 MB value arriving over --resp-max-buffered: -OOM", reply_line(c),
          b"-OOM command not allowed when used memory > 'maxmemory'.\r\n")
    c.sendall(b"*1\r\n$4\r\nPING\r\n")
    check("... the connection goes on", reply_line(c), b"+PONG\r\n")
    for s, name in ((a, "first"), (b, "second")):
        s.sendall(value[100000:] + b"\r\n")
        check("the %s 3 MB value: stored" % name, reply_line(s), b"+OK\r\n")
        s.close()
    c.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n" % (len(TAG) + 1, TAG.encode() + b"c", n)
              + value + b"\r\n")
    check("the third, once the others are in: stored", reply_line(c), b"+OK\r\n")
    c.close()
    r = client()
    check("INFO juno_resp_buffered: all given back", r.info("memory")["juno_resp_buffered"], 0)
    check("the three values read back", [r.get(TAG + x) == value for x in "abc"], [True] * 3)
    r.delete(*[TAG + x for x in "abc"])


def info(pid):
    r = client()
    i = r.info()
    check("INFO redis_version", i["redis_version"], "7.0.0")
    check("INFO redis_mode", i["redis_mode"], "standalone")
    check("INFO os", i["os"].startswith("Linux "), True)
    check("INFO arch_bits", i["arch_bits"], 64)
    check("INFO process_id", i["process_id"], pid)
    check("INFO tcp_port", i["tcp_port"], PORT)
    check("INFO run_id: 40 hex digits", len(i["run_id"]), 40)
    for f in ("uptime_in_seconds", "connected_clients", "used_memory", "used_memory_rss",
              "used_memory_peak", "total_system_memory", "total_connections_received",
              "total_commands_processed", "instantaneous_ops_per_sec", "keyspace_hits",
              "keyspace_misses"):
        if not isinstance(i.get(f), int) or i[f] < 0:
            fail("INFO " + f, "got %r" % (i.get(f),))
    ok("INFO: the integer fields tools read")
    check("INFO used_memory > 0", i["used_memory"] > 0 and i["used_memory_rss"] > 0, True)
    check("INFO used_memory_human", isinstance(i["used_memory_human"], str), True)
    check("INFO mem_fragmentation_ratio", isinstance(i["mem_fragmentation_ratio"], float), True)
    zero = ("maxmemory", "rejected_connections", "connected_slaves", "loading",
            "rdb_bgsave_in_progress", "aof_enabled", "blocked_clients")
    check("INFO " + " ".join(zero), [i[f] for f in zero], [0] * len(zero))
    check("INFO role", i["role"], "master")
    check("INFO used_cpu_sys/user", all(isinstance(i[f], float) for f in
                                        ("used_cpu_sys", "used_cpu_user")), True)
    check("INFO connected_clients counts this one", i["connected_clients"] >= 1, True)
    import resource
    fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]  # the proxy inherits the test's
    check("INFO maxclients: the descriptors less 32", i["maxclients"], fds - 32)
    # the counters move with what is done
    k = TAG + "hit"
    r.set(k, "v")
    before = r.info("stats")
    r.get(k), r.get(k), r.get(TAG + "miss")
    r.mget(k, TAG + "miss2")
    after = r.info("stats")
    check("keyspace_hits: 3 more (2 GET, 1 MGET key)",
          after["keyspace_hits"] - before["keyspace_hits"], 3)
    check("keyspace_misses: 2 more", after["keyspace_misses"] - before["keyspace_misses"], 2)
    check("total_commands_processed: 5 more (4 and INFO)",
          after["total_commands_processed"] - before["total_commands_processed"], 5)
    c2 = client()
    c2.ping()
    check("total_connections_received: one more",
          r.info("stats")["total_connections_received"] - after["total_connections_received"], 1)
    c2.close()
    # sections: one, several (Redis 7), all of them, none known
    s = r.info("server")
    check("INFO server: its fields only", ("redis_version" in s, "role" in s), (True, False))
    s = r.execute_command("INFO", "cpu", "replication")
    check("INFO cpu replication: both", ("used_cpu_sys" in s, "role" in s, "redis_version" in s),
          (True, True, False))
    full = set(i)
    for sec in ("all", "everything", "default"):
        check("INFO %s: every field" % sec, full <= set(r.info(sec)), True)
    check("INFO of an unknown section: empty", r.execute_command("INFO", "nosuch"), {})
    raw = r.execute_command("INFO", "memory", "persistence", "clients", "keyspace")
    check("INFO memory persistence clients keyspace", ("used_memory" in raw, "aof_enabled" in raw,
                                                       "connected_clients" in raw), (True, True, True))
    t0 = time.time()
    r.info("stats")
    while time.time() - t0 < 1.3:
        r.get(k)
    ops = r.info("stats")["instantaneous_ops_per_sec"]
    check("instantaneous_ops_per_sec under a GET loop: > 0", ops > 0, True)


def config():
    r = client()
    check("CONFIG GET proto-max-bulk-len", r.config_get("proto-max-bulk-len"),
          {"proto-max-bulk-len": "33554432"})
    check("CONFIG GET client-query-buffer-limit", r.config_get("client-query-buffer-limit"),
          {"client-query-buffer-limit": "134217728"})
    check("CONFIG SET proto-max-bulk-len 1mb", r.config_set("proto-max-bulk-len", "1mb"), True)
    check("... CONFIG GET", r.config_get("proto-max-bulk-len"), {"proto-max-bulk-len": "1048576"})
    check("... SET of 1 MiB", r.set(TAG + "c", b"x" * 1048576), True)
    check_error(r, TOOBIG, "SET", TAG + "c", b"x" * 1048577)
    other = client()  # another connection (maybe another worker) sees it too
    check_error(other, TOOBIG, "SET", TAG + "c", b"x" * 1048577)
    check("... the connection goes on", other.ping(), True)
    check("CONFIG SET two pairs at once", r.execute_command(
        "CONFIG", "SET", "proto-max-bulk-len", "100000", "client-query-buffer-limit", "200000"),
        b"OK")
    check("... both", r.config_get("*-len") | r.config_get("client-query*"),
          {"proto-max-bulk-len": "100000", "client-query-buffer-limit": "200000"})
    check_error(r, "CONFIG SET failed - client-query-buffer-limit 100000 must be at least",
                "CONFIG", "SET", "client-query-buffer-limit", "100000")
    check_error(r, "CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - "
                "argument must be between 1 and 33554432 inclusive",
                "CONFIG", "SET", "proto-max-bulk-len", "64mb")
    check_error(r, "CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - "
                "argument must be a memory value", "CONFIG", "SET", "proto-max-bulk-len", "12x")
    check_error(r, "Unknown option or number of arguments for CONFIG SET - 'nosuch'",
                "CONFIG", "SET", "nosuch", "1")
    check_error(r, "CONFIG SET failed (possibly related to argument 'port') - can't set "
                "immutable config", "CONFIG", "SET", "port", "1")
    check_error(r, "wrong number of arguments for 'config|set' command",
                "CONFIG", "SET", "proto-max-bulk-len")
    check("a refused pair changes nothing", r.config_get("proto-max-bulk-len"),
          {"proto-max-bulk-len": "100000"})
    check("CONFIG SET save \"\" (its value): OK", r.config_set("save", ""), True)
    check("CONFIG SET appendonly no: OK", r.config_set("appendonly", "no"), True)
    check_error(r, "CONFIG SET failed (possibly related to argument 'appendonly')",
                "CONFIG", "SET", "appendonly", "yes")
    r.execute_command("CONFIG", "SET", "client-query-buffer-limit", "128mb",
                      "proto-max-bulk-len", "32mb")
    check("back to the defaults", r.config_get("proto-max-bulk-len"),
          {"proto-max-bulk-len": "33554432"})
    r.delete(TAG + "c")


if __name__ == "__main__":
    what = sys.argv[2]
    if what == "values":
        values(int(sys.argv[3]))
    elif what == "args":
        args(int(sys.argv[3]), int(sys.argv[4]))
    elif what == "header":
        header(int(sys.argv[3]))
    elif what == "budget":
        budget()
    elif what == "info":
        info(int(sys.argv[3]))
    elif what == "config":
        config()
    else:
        fail("usage", "unknown mode %r" % what)
