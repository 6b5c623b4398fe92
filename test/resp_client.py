#!/usr/bin/python3
# resp_client.py: the RESP face of juno-proxy seen by real Redis clients.
# Run with Debian's /usr/bin/python3 (python3-redis); pyenv's python3 lacks it.
#
#   resp_client.py HOST:PORT commands   every supported command through redis-py:
#                                       results, and error texts for bad calls
#   resp_client.py HOST:PORT pipeline   1,000 mixed commands in one write on a raw
#                                       socket: every reply, strictly in order
#   resp_client.py HOST:PORT garbage    protocol errors and oversized input on raw
#                                       sockets: the error, then the connection closes
#
# Prints one "ok - what" line per check; on the first failure prints
# "not ok - what: detail" and exits 1. Keys are prefixed with a random tag so
# runs do not see each other's data.
import os
import socket
import sys
import time

import redis
from resp_tap import check, check_error, error_of, fail, ok, unparsed

HOST, PORT = sys.argv[1].rsplit(":", 1)
PORT = int(PORT)
TAG = "rc%d:" % os.getpid()


def k(name):
    return TAG + name


def commands():
    r = redis.Redis(host=HOST, port=PORT, socket_timeout=10)
    check("PING", r.ping(), True)
    check("ECHO", r.echo("abc"), b"abc")
    # SET / GET, binary-safe
    blob = bytes(range(256)) + b"\r\n\x00end"
    check("SET", r.set(k("a"), blob), True)
    check("GET binary value", r.get(k("a")), blob)
    check("GET missing", r.get(k("missing")), None)
    check("SET empty value", r.set(k("empty"), b""), True)
    check("GET empty value", r.get(k("empty")), b"")
    check("lower-case command", r.execute_command("get", k("a")), blob)
    check("mixed-case command", r.execute_command("GeT", k("a")), blob)
    # NX / XX
    check("SET NX on existing", r.set(k("a"), "x", nx=True), None)
    check("SET NX new", r.set(k("nx"), "1", nx=True), True)
    check("SET XX missing", r.set(k("xx"), "1", xx=True), None)
    check("GET after XX missing", r.get(k("xx")), None)
    check("SET XX existing", r.set(k("nx"), "2", xx=True), True)
    check("GET after XX", r.get(k("nx")), b"2")
    # TTLs
    check("TTL without expiry", r.ttl(k("a")), -1)
    check("PTTL without expiry", r.pttl(k("a")), -1)
    check("TTL missing", r.ttl(k("missing")), -2)
    check("PTTL missing", r.pttl(k("missing")), -2)
    check("SET EX", r.set(k("ex"), "v", ex=100), True)
    t = r.ttl(k("ex"))
    if not 98 <= t <= 100:
        fail("TTL after SET EX 100", t)
    ok("TTL after SET EX 100 = %d" % t)
    pt = r.pttl(k("ex"))
    if not 97000 <= pt <= 100000:
        fail("PTTL after SET EX 100", pt)
    ok("PTTL after SET EX 100 = %d" % pt)
    check("SET PX 1500", r.set(k("px"), "v", px=1500), True)
    t = r.ttl(k("px"))
    if not 1 <= t <= 2:
        fail("TTL after SET PX 1500 (to the nearest second)", t)
    ok("TTL after SET PX 1500 = %d" % t)
    check("SET KEEPTTL", r.set(k("ex"), "w", keepttl=True), True)
    t = r.ttl(k("ex"))
    if not 95 <= t <= 100:
        fail("TTL kept by KEEPTTL", t)
    ok("TTL kept by KEEPTTL = %d" % t)
    check("GET after KEEPTTL", r.get(k("ex")), b"w")
    check("SET without KEEPTTL resets the TTL", r.set(k("ex"), "z"), True)
    check("TTL after plain SET", r.ttl(k("ex")), -1)
    # EXPIRE / PERSIST
    check("EXPIRE", r.expire(k("ex"), 50), True)
    t = r.ttl(k("ex"))
    if not 48 <= t <= 50:
        fail("TTL after EXPIRE 50", t)
    ok("TTL after EXPIRE 50 = %d" % t)
    check("GET keeps its value after EXPIRE", r.get(k("ex")), b"z")
    check("EXPIRE missing", r.expire(k("missing"), 10), False)
    check("EXPIRE NX with a TTL", r.execute_command("EXPIRE", k("ex"), 80, "NX"), 0)
    check("EXPIRE XX with a TTL", r.execute_command("EXPIRE", k("ex"), 80, "XX"), 1)
    check("EXPIRE GT smaller", r.execute_command("EXPIRE", k("ex"), 20, "GT"), 0)
    check("EXPIRE LT smaller", r.execute_command("EXPIRE", k("ex"), 20, "LT"), 1)
    t = r.ttl(k("ex"))
    if not 18 <= t <= 20:
        fail("TTL after EXPIRE 20 LT", t)
    ok("TTL after EXPIRE LT = %d" % t)
    check("EXPIRE XX without a TTL", r.execute_command("EXPIRE", k("a"), 80, "XX"), 0)
    check("PERSIST", r.persist(k("ex")), True)
    check("TTL after PERSIST", r.ttl(k("ex")), -1)
    check("PERSIST without a TTL", r.persist(k("ex")), False)
    check("PERSIST missing", r.persist(k("missing")), False)
    check("GET after PERSIST", r.get(k("ex")), b"z")
    r.set(k("short"), "v")
    check("EXPIRE 0 deletes", r.expire(k("short"), 0), True)
    check("GET after EXPIRE 0", r.get(k("short")), None)
    r.set(k("gone"), "v", ex=1)
    time.sleep(2.1)
    check("GET after the TTL ran out", r.get(k("gone")), None)
    check("EXISTS after the TTL ran out", r.exists(k("gone")), 0)
    # DEL / EXISTS / MGET / MSET
    check("MSET", r.mset({k("m1"): "1", k("m2"): "2", k("m3"): "3"}), True)
    check("MGET in order, nil for missing",
          r.mget(k("m3"), k("missing"), k("m1"), k("m2")), [b"3", None, b"1", b"2"])
    check("EXISTS counts", r.exists(k("m1"), k("m2"), k("missing"), k("m1")), 3)
    check("DEL counts keys that existed", r.delete(k("m1"), k("m2"), k("missing")), 2)
    check("DEL again", r.delete(k("m1")), 0)
    check("EXISTS after DEL", r.exists(k("m1"), k("m2"), k("m3")), 1)
    check("MGET after DEL", r.mget(k("m1"), k("m3")), [None, b"3"])
    # connection and server commands
    check("SELECT 0", r.execute_command("SELECT", 0), True)
    check_error(r, "DB index is out of range", "SELECT", 16)
    check("SELECT 1, then back to 0", (r.execute_command("SELECT", 1), r.execute_command("SELECT", 0)), (True, True))
    check_error(r, "value is not an integer", "SELECT", "x")
    hello = r.execute_command("HELLO", 2)
    h = dict(zip(hello[0::2], hello[1::2]))
    check("HELLO 2 proto", h[b"proto"], 2)
    check("HELLO 2 server", h[b"server"], b"juno")
    check_error(r, "NOPROTO unsupported protocol version", "HELLO", 4)
    check("CLIENT SETNAME", r.client_setname("tester"), True)
    check("CLIENT GETNAME", r.client_getname(), "tester")
    if not isinstance(r.client_id(), int):
        fail("CLIENT ID", r.client_id())
    ok("CLIENT ID")
    check_error(r, "Client names cannot contain spaces", "CLIENT", "SETNAME", "a b")
    check_error(r, "unknown subcommand 'bogus'. Try CLIENT HELP.", "CLIENT", "bogus")
    check("CONFIG GET save", r.config_get("save"), {"save": ""})
    check("CONFIG GET appendonly", r.config_get("appendonly"), {"appendonly": "no"})
    check("CONFIG GET juno-*",
          sorted(r.config_get("juno-*")),
          ["juno-default-ttl", "juno-max-key", "juno-max-ttl", "juno-max-value",
           "juno-namespace", "juno-resp-max-ttl"])
    check("CONFIG GET juno-namespace", r.config_get("juno-namespace"),
          {"juno-namespace": "default"})
    check("CONFIG GET nothing", r.config_get("no-such-*"), {})
    check_error(r, "CONFIG SET failed (possibly related to argument 'save')", "CONFIG", "SET",
                "save", "900 1")
    info = r.info()
    check("INFO redis_version", info["redis_version"], "7.0.0")
    check("INFO juno_namespace", info["juno_namespace"], "default")
    if info["connected_clients"] < 1 or info["total_commands_processed"] < 10:
        fail("INFO counters", info)
    ok("INFO counters")
    check("INFO clients section only", "connected_clients" in r.info("clients") and
          "redis_version" not in r.info("clients"), True)
    check("INFO unknown section", r.info("nosuch"), {})
    n = r.command_count()
    if n < 15:
        fail("COMMAND COUNT", n)
    ok("COMMAND COUNT = %d" % n)
    cmds = r.command()
    check("COMMAND lists every command", len(cmds), n)
    check("COMMAND: get", (cmds["get"]["arity"], cmds["get"]["flags"]), (2, ["readonly", "fast"]))
    info = unparsed(r, "COMMAND", "INFO", "get", "nosuch")
    check("COMMAND INFO get", info[0][0:3], [b"get", 2, [b"readonly", b"fast"]])
    check("COMMAND INFO unknown", info[1], None)
    docs = unparsed(r, "COMMAND", "DOCS", "set")
    d = dict(zip(docs[1][0::2], docs[1][1::2]))
    check("COMMAND DOCS set group", d[b"group"], b"string")
    check("COMMAND DOCS set arguments", len(d[b"arguments"]), 5)  # key value NX|XX GET expiration
    check("PING msg", unparsed(r, "PING", "hello"), b"hello")
    # errors, with Redis's wording
    check_error(r, "unknown command 'FOOBAR', with args beginning with: 'a' 'b' ",
                "FOOBAR", "a", "b")
    check_error(r, "wrong number of arguments for 'get' command", "GET")
    check_error(r, "wrong number of arguments for 'get' command", "GET", "a", "b")
    check_error(r, "wrong number of arguments for 'mset' command", "MSET", k("a"), "1", k("b"))
    check_error(r, "syntax error", "SET", k("a"), "v", "NX", "XX")
    check_error(r, "syntax error", "SET", k("a"), "v", "EX", "10", "PX", "100")
    check_error(r, "syntax error", "SET", k("a"), "v", "BOGUS")
    check_error(r, "value is not an integer or out of range", "SET", k("a"), "v", "EX", "ten")
    check_error(r, "invalid expire time in 'set' command", "SET", k("a"), "v", "EX", "0")
    check_error(r, "invalid expire time in 'set' command",
                "SET", k("a"), "v", "EX", "9223372036854776")
    check_error(r, "value is not an integer or out of range", "EXPIRE", k("a"), "x")
    check_error(r, "NX and XX, GT or LT options at the same time are not compatible",
                "EXPIRE", k("a"), "10", "NX", "XX")
    check("GET of the empty key (a key as any other)", r.get(""), None)
    check_error(r, "juno: key length must be at most 256", "SET", "k" * 300, "v")
    check_error(r, "string exceeds maximum allowed size", "SET", k("big"),
                "v" * 300000)
    check("big value refused, nothing written", r.get(k("big")), None)
    large = os.urandom(150000)
    check("SET 150 kB (spans reads)", r.set(k("large"), large), True)
    check("GET 150 kB", r.get(k("large")), large)
    check_error(r, "string exceeds maximum allowed size", "MSET", k("ms1"), "1",
                k("ms2"), "v" * 300000)
    check("MSET refused whole, nothing written", r.exists(k("ms1"), k("ms2")), 0)
    check_error(r, "AUTH <password> called without any password configured", "AUTH", "pw")
    check("the connection still works after errors", r.get(k("nx")), b"2")
    # QUIT: +OK then the connection closes
    s = socket.create_connection((HOST, PORT), timeout=10)
    s.sendall(b"PING\r\nQUIT\r\nPING\r\n")
    check("QUIT answers, then closes", recv_all(s), b"+PONG\r\n+OK\r\n")


def recv_all(s):
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d


def pipeline():
    """1,000 commands in one write: sets, gets of the key just set, errors,
    PINGs, multi-key commands; the replies must come back in order."""
    s = socket.create_connection((HOST, PORT), timeout=20)
    want = []
    req = []
    for i in range(250):
        key = (TAG + "p%d" % i).encode()
        val = b"v%d" % i
        req.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(val), val))
        want.append(b"+OK\r\n")
        req.append(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key))
        want.append(b"$%d\r\n%s\r\n" % (len(val), val))
        if i % 3 == 0:
            req.append(b"NOPE %d\r\n" % i)
            want.append(b"-ERR unknown command 'NOPE', with args beginning with: '%d' \r\n" % i)
        else:
            req.append(b"PING\r\n")
            want.append(b"+PONG\r\n")
        prev = (TAG + "p%d" % (i - 1 if i else 0)).encode()
        req.append(b"*3\r\n$6\r\nEXISTS\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(prev), prev))
        want.append(b":2\r\n")
    req.append(b"QUIT\r\n")
    want.append(b"+OK\r\n")
    s.sendall(b"".join(req))
    got = recv_all(s)
    w = b"".join(want)
    if got != w:
        n = next((i for i in range(min(len(got), len(w))) if got[i] != w[i]), min(len(got), len(w)))
        fail("1,000 pipelined replies in order", "first difference at byte %d: got %r want %r"
             % (n, got[n:n + 60], w[n:n + 60]))
    ok("1,000 pipelined replies in order (%d bytes)" % len(got))
    same_key()


def same_key():
    """Writes of one key pipelined back to back (they queue, and a run of
    Sets collapses into its last): the last write wins, a KEEPTTL keeps the
    TTL of the write before it, a GET between writes sees the one before it."""
    s = socket.create_connection((HOST, PORT), timeout=20)
    key = (TAG + "hot").encode()

    def cmd(*args):
        return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    req = [cmd(b"SET", key, b"%d" % i) for i in range(200)]
    req += [cmd(b"GET", key)]
    req += [cmd(b"SET", key, b"mid"), cmd(b"GET", key), cmd(b"SET", key, b"x", b"EX", b"100"),
            cmd(b"SET", key, b"y", b"KEEPTTL"), cmd(b"TTL", key), cmd(b"GET", key),
            cmd(b"SET", key, b"z", b"EX", b"50"), cmd(b"SET", key, b"w"), cmd(b"TTL", key),
            b"QUIT\r\n"]
    s.sendall(b"".join(req))
    got = recv_all(s)
    want = (b"+OK\r\n" * 200 + b"$3\r\n199\r\n" + b"+OK\r\n$3\r\nmid\r\n+OK\r\n+OK\r\n")
    if not got.startswith(want):
        fail("pipelined writes of one key", "got %r" % got[-200:])
    rest = got[len(want):].split(b"\r\n")
    # TTL after EX 100 then KEEPTTL, GET, +OK +OK, TTL after EX 50 then a plain SET
    if not (rest[0].startswith(b":") and 98 <= int(rest[0][1:]) <= 100):
        fail("KEEPTTL after EX 100, pipelined", rest)
    if rest[1:8] != [b"$1", b"y", b"+OK", b"+OK", b":-1", b"+OK", b""]:
        fail("pipelined writes of one key, the end", rest)
    ok("200 pipelined SETs of one key: the last wins; KEEPTTL and plain SET after EX hold")


def raw(payload, what, want_prefix):
    """Send payload; the reply must start with want_prefix, then EOF."""
    s = socket.create_connection((HOST, PORT), timeout=10)
    s.sendall(payload)
    got = recv_all(s)
    if not got.startswith(want_prefix):
        fail(what, "got %r, want a reply starting %r" % (got[:120], want_prefix))
    ok("%s -> %r, closed" % (what, got[:60]))


def garbage():
    raw(b"*abc\r\n", "bad multibulk count",
        b"-ERR Protocol error: invalid multibulk length\r\n")
    raw(b"*1\r\n+PING\r\n", "a simple string where a bulk belongs",
        b"-ERR Protocol error: expected '$', got '+'\r\n")
    raw(b"*1\r\n$4\r\nPINGxx", "bulk without its CRLF",
        b"-ERR Protocol error: expected '\\r\\n' after bulk data\r\n")
    raw(b'SET a "unterminated\r\n', "unbalanced quotes",
        b"-ERR Protocol error: unbalanced quotes in request\r\n")
    # a bulk over 512 MiB is refused from its header: the data never comes
    raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$999999999\r\n", "bulk over the limit, refused from its header",
        b"-ERR Protocol error: invalid bulk length\r\n")
    raw(b"*99999999\r\n", "too many arguments", b"-ERR Protocol error: invalid multibulk length\r\n")
    raw(b"PING\r\n*1\r\n$-5\r\n", "replies before the error come first",
        b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n")
    raw(b"x" * 70000, "an inline line over 64 KiB", b"-ERR Protocol error: too big inline request")
    # random bytes: whatever the answer, the daemon stays up
    rnd = bytes((i * 7919 + 13) % 256 for i in range(20000))
    for cut in (1, 100, 5000, 20000):
        s = socket.create_connection((HOST, PORT), timeout=10)
        try:
            s.sendall(rnd[:cut])
            s.shutdown(socket.SHUT_WR)
            recv_all(s)
        except (ConnectionResetError, BrokenPipeError):
            pass
    ok("random bytes sent on 4 connections")
    # inline commands, telnet style, with quotes
    s = socket.create_connection((HOST, PORT), timeout=10)
    key = TAG + "inline"
    s.sendall(b'set %s "a b\\tc"\r\nget %s\nping\r\nPING \'hi there\'\r\nquit\r\n'
              % (key.encode(), key.encode()))
    check("inline commands", recv_all(s),
          b"+OK\r\n$5\r\na b\tc\r\n+PONG\r\n$8\r\nhi there\r\n+OK\r\n")
    r = redis.Redis(host=HOST, port=PORT, socket_timeout=10)
    check("a well-behaved client still works", r.ping(), True)


{"commands": commands, "pipeline": pipeline, "garbage": garbage}[sys.argv[2]]()
print("# all checks passed")
