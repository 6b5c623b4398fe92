#!/usr/bin/python3
# resp_str_client.py: the RESP face's counters and string commands seen by
# redis-py (Debian's python3-redis; run with /usr/bin/python3).
#
#   resp_str_client.py HOST:PORT strings     every command through redis-py:
#                                            results, TTLs, edge cases and
#                                            Redis's error texts (many taken
#                                            from Redis's unit/type/incr.tcl
#                                            and unit/type/string.tcl)
#   resp_str_client.py HOST:PORT[,HOST:PORT...] incr CONNS N KEY
#                                            CONNS connections spread over the
#                                            ports, each N INCRs of KEY; checks
#                                            the final value is CONNS * N
#   resp_str_client.py HOST:PORT[,...] getdel CONNS N KEY
#                                            the same INCRs while two more
#                                            connections GETDEL the key: the
#                                            values taken plus what is left
#                                            must be CONNS * N (nothing lost,
#                                            nothing counted twice)
#
# Prints one "ok - what" line per check; on the first failure prints
# "not ok - what: detail" and exits 1. Keys are prefixed with a random tag.
import os
import sys
import threading
import time

import redis
from resp_tap import check, check_error, error_of, fail, ok, unparsed

ADDRS = [(h, int(p)) for h, p in (a.rsplit(":", 1) for a in sys.argv[1].split(","))]
HOST, PORT = ADDRS[0]
TAG = "rs%d:" % os.getpid()


def between(what, got, lo, hi):
    if got is None or not lo <= got <= hi:
        fail(what, "got %r, want %d..%d" % (got, lo, hi))
    ok("%s = %d" % (what, got))


def k(name):
    return TAG + name


def counters(r):
    check("INCR absent", r.incr(k("n")), 1)
    check("INCR", r.incr(k("n")), 2)
    check("INCRBY 10", r.incrby(k("n"), 10), 12)
    check("DECR", r.decr(k("n")), 11)
    check("DECRBY 5", r.decrby(k("n"), 5), 6)
    check("INCRBY negative", r.incrby(k("n"), -7), -1)
    check("GET after the counters", r.get(k("n")), b"-1")
    check("DECR absent", r.decr(k("d")), -1)
    r.set(k("big"), 17179869184)
    check("INCR over 32 bits", r.incr(k("big")), 17179869185)
    check("INCRBY over 32 bits", r.incrby(k("big"), 17179869184), 34359738369)
    r.set(k("max"), 9223372036854775807)
    check_error(r, "increment or decrement would overflow", "INCR", k("max"))
    check("the value after the overflow", r.get(k("max")), b"9223372036854775807")
    r.set(k("min"), -9223372036854775808)
    check_error(r, "increment or decrement would overflow", "DECR", k("min"))
    check_error(r, "increment or decrement would overflow", "INCRBY", k("min"), -1)
    check("INCRBY to the limit", r.incrby(k("min"), 9223372036854775807), -1)
    check_error(r, "decrement would overflow", "DECRBY", k("n"), "-9223372036854775808")
    for bad in [" 11", "11 ", " 11 ", "foo", "1.5", "01", "-0", "+1", "12345678901234567890",
                "123456789012345678901", ""]:
        r.set(k("bad"), bad)
        check_error(r, "value is not an integer or out of range", "INCR", k("bad"))
    check("a refused INCR leaves the value", r.get(k("bad")), b"")
    for bad in ["abc", "1.5", "99999999999999999999", " 1", ""]:
        check_error(r, "value is not an integer or out of range", "INCRBY", k("n"), bad)
        check_error(r, "value is not an integer or out of range", "DECRBY", k("n"), bad)
    check("refused INCRBYs leave the value", r.get(k("n")), b"-1")
    # the TTL is the record's: INCR keeps it, a new counter has none
    r.set(k("ttl"), 5, ex=100)
    check("INCR on a key with a TTL", r.incr(k("ttl")), 6)
    between("TTL kept by INCR", r.ttl(k("ttl")), 97, 100)
    check("INCRBYFLOAT keeps it too", r.incrbyfloat(k("ttl"), 0.5), 6.5)
    between("TTL kept by INCRBYFLOAT", r.ttl(k("ttl")), 97, 100)
    check("a new counter has no TTL", r.ttl(k("n")), -1)


def floats(r):
    raw = redis.Redis(host=HOST, port=PORT, socket_timeout=10)  # replies as they come
    raw.response_callbacks["INCRBYFLOAT"] = lambda v, **kw: v
    check("INCRBYFLOAT absent", raw.incrbyfloat(k("f"), 1), b"1")
    check("INCRBYFLOAT 0.25", raw.incrbyfloat(k("f"), 0.25), b"1.25")
    check("GET the float", r.get(k("f")), b"1.25")
    r.set(k("f"), "1.5")
    check("1.5 + 1.5", raw.incrbyfloat(k("f"), 1.5), b"3")
    r.set(k("f"), 17179869184)
    check("over 32 bits", raw.incrbyfloat(k("f"), 1.5), b"17179869185.5")
    check("over 32 bits by over 32 bits", raw.incrbyfloat(k("f"), 17179869184),
          b"34359738369.5")
    r.set(k("f"), 1)
    check("1 - 1.1", raw.incrbyfloat(k("f"), -1.1), b"-0.1")
    r.set(k("f"), "5.0e3")
    check("5.0e3 + 2.0e2", raw.execute_command("INCRBYFLOAT", k("f"), "2.0e2"), b"5200")
    r.set(k("f"), 0)
    raw.execute_command("INCRBYFLOAT", k("f"), repr(1 / 41))
    check("no negative zero", raw.execute_command("INCRBYFLOAT", k("f"), repr(-1 / 41)), b"0")
    r.set(k("f"), 10)
    check("INCRBYFLOAT 0x1p3 (hex)", raw.execute_command("INCRBYFLOAT", k("f"), "0x1p3"), b"18")
    for bad in ["foo", " 1", "1 ", "", "nan"]:
        r.set(k("fbad"), bad)
        check_error(r, "value is not a valid float", "INCRBYFLOAT", k("fbad"), 1)
    r.set(k("fbad"), "1")
    r.setrange(k("fbad"), 2, "2")  # "1\0" "2"
    check_error(r, "value is not a valid float", "INCRBYFLOAT", k("fbad"), 1)
    for bad in ["abc", "1e5000", "", "1.5x", "nan"]:
        check_error(r, "value is not a valid float", "INCRBYFLOAT", k("f"), bad)
    check_error(r, "increment would produce NaN or Infinity", "INCRBYFLOAT", k("f"), "+inf")
    r.set(k("f"), "inf")
    check_error(r, "increment would produce NaN or Infinity", "INCRBYFLOAT", k("f"), 1)
    r.set(k("f"), "1e4932")  # near the largest long double
    check_error(r, "increment would produce NaN or Infinity", "INCRBYFLOAT", k("f"), "1e4932")
    check("INCR refuses a float", error_of(r, "INCR", k("f"))[:9], "value is ")


def strings(r):
    # APPEND, STRLEN
    check("APPEND absent", r.append(k("s"), "hello"), 5)
    check("APPEND", r.append(k("s"), " world"), 11)
    check("GET after APPEND", r.get(k("s")), b"hello world")
    check("STRLEN", r.strlen(k("s")), 11)
    check("STRLEN absent", r.strlen(k("none")), 0)
    check("APPEND binary", r.append(k("bin"), b"\x00\r\n\xff"), 4)
    check("APPEND binary again", r.append(k("bin"), b"\x00"), 5)
    check("GET binary", r.get(k("bin")), b"\x00\r\n\xff\x00")
    check("APPEND '' to absent", r.append(k("e"), ""), 0)
    check("... creates the key", r.exists(k("e")), 1)
    r.set(k("c"), 123)
    check("STRLEN of a counter", r.strlen(k("c")), 3)
    r.set(k("ttl"), "x", ex=100)
    check("APPEND on a key with a TTL", r.append(k("ttl"), "y"), 2)
    between("TTL kept by APPEND", r.ttl(k("ttl")), 97, 100)
    # GETRANGE, SUBSTR
    r.set(k("g"), "Hello World")
    for a, b, want in [(0, 3, b"Hell"), (0, -1, b"Hello World"), (-4, -1, b"orld"), (5, 3, b""),
                       (5, 5000, b" World"), (-5000, 10000, b"Hello World"), (-1, -5, b""),
                       (0, -100, b"H"), (-100, -100, b"H"), (11, 20, b""), (10, 10, b"d"),
                       (-9223372036854775808, 9223372036854775807, b"Hello World")]:
        check("GETRANGE %d %d" % (a, b), r.getrange(k("g"), a, b), want)
    check("SUBSTR", r.execute_command("SUBSTR", k("g"), 6, -1), b"World")
    check("GETRANGE absent", r.getrange(k("none"), 0, 10), b"")
    r.set(k("empty"), "")
    check("GETRANGE of ''", r.getrange(k("empty"), 0, -1), b"")
    check_error(r, "value is not an integer or out of range", "GETRANGE", k("g"), "a", 1)
    check_error(r, "value is not an integer or out of range", "GETRANGE", k("g"), 0, "1.5")
    # SETRANGE
    check("SETRANGE absent", r.setrange(k("r1"), 0, "foo"), 3)
    check("SETRANGE absent at 1", r.setrange(k("r2"), 1, "foo"), 4)
    check("... zero-padded", r.get(k("r2")), b"\x00foo")
    check("SETRANGE absent, empty value", r.setrange(k("r3"), 5, ""), 0)
    check("... writes nothing", r.exists(k("r3")), 0)
    r.set(k("r"), "foo")
    check("SETRANGE 0", r.setrange(k("r"), 0, "b"), 3)
    check("... the value", r.get(k("r")), b"boo")
    check("SETRANGE empty value: the length", r.setrange(k("r"), 1, ""), 3)
    check("SETRANGE past the end", r.setrange(k("r"), 4, "bar"), 7)
    check("... zeros between", r.get(k("r")), b"boo\x00bar")
    check("SETRANGE inside", r.setrange(k("r"), 1, "xx"), 7)
    check("... the value", r.get(k("r")), b"bxx\x00bar")
    check("SETRANGE huge offset, empty value", r.setrange(k("r"), 9223372036854775807, ""), 7)
    check_error(r, "offset is out of range", "SETRANGE", k("r"), -1, "x")
    check_error(r, "value is not an integer or out of range", "SETRANGE", k("r"), "a", "x")
    check_error(r, "string exceeds maximum allowed size", "SETRANGE", k("r"), 536870911, "x")
    check_error(r, "string exceeds maximum allowed size", "SETRANGE", k("r"),
                9223372036854775807, "x")
    check_error(r, "string exceeds maximum allowed size", "SETRANGE", k("r3"), 204800, "x")
    check("the largest SETRANGE", r.setrange(k("r4"), 204799, "x"), 204800)
    check_error(r, "string exceeds maximum allowed size", "APPEND", k("r4"), "y")
    check_error(r, "string exceeds maximum allowed size", "APPEND", k("r5"), "y" * 204801)
    check("refused ones write nothing", (r.strlen(k("r4")), r.exists(k("r3"), k("r5"))),
          (204800, 0))
    r.set(k("ttl"), "abc", ex=100)
    check("SETRANGE on a key with a TTL", r.setrange(k("ttl"), 1, "X"), 3)
    between("TTL kept by SETRANGE", r.ttl(k("ttl")), 97, 100)


def getset_family(r):
    # GETSET: the old value, the TTL reset as SET resets it
    check("GETSET absent", r.getset(k("gs"), "v1"), None)
    check("GETSET", r.getset(k("gs"), "v2"), b"v1")
    check("GET after GETSET", r.get(k("gs")), b"v2")
    r.set(k("gs"), "v", ex=100)
    check("GETSET on a key with a TTL", r.getset(k("gs"), "w"), b"v")
    check("... the TTL is gone", r.ttl(k("gs")), -1)
    blob = bytes(range(256))
    check("GETSET binary", r.getset(k("gs"), blob), b"w")
    check("GETSET gives it back", r.getset(k("gs"), "x"), blob)
    # SET ... GET
    check("SET GET absent", r.set(k("sg"), "a", get=True), None)
    check("SET GET", r.set(k("sg"), "b", get=True), b"a")
    check("SET NX GET on a key: no write", r.set(k("sg"), "c", nx=True, get=True), b"b")
    check("... unchanged", r.get(k("sg")), b"b")
    check("SET NX GET absent", r.set(k("sg2"), "c", nx=True, get=True), None)
    check("... written", r.get(k("sg2")), b"c")
    check("SET XX GET absent: no write", r.set(k("sg3"), "c", xx=True, get=True), None)
    check("... nothing", r.exists(k("sg3")), 0)
    check("SET XX GET", r.set(k("sg"), "d", xx=True, get=True), b"b")
    check("SET GET EX", r.set(k("sg"), "e", get=True, ex=100), b"d")
    between("... its TTL", r.ttl(k("sg")), 98, 100)
    check("SET GET KEEPTTL", r.set(k("sg"), "f", get=True, keepttl=True), b"e")
    between("... TTL kept", r.ttl(k("sg")), 97, 100)
    check("SET GET resets the TTL", r.set(k("sg"), "g", get=True), b"f")
    check("... no TTL", r.ttl(k("sg")), -1)
    check("SET EX twice: the last wins",
          r.execute_command("SET", k("sg"), "h", "EX", 10, "EX", 200), True)
    between("... its TTL", r.ttl(k("sg")), 198, 200)
    check("SET GET GET", unparsed(r, "SET", k("sg"), "i", "GET", "GET"), b"h")
    check_error(r, "syntax error", "SET", k("sg"), "v", "EX", 10, "KEEPTTL")
    check_error(r, "syntax error", "SET", k("sg"), "v", "PX", 10, "EX", 10)
    check_error(r, "syntax error", "SET", k("sg"), "v", "GET", "EX")
    check_error(r, "syntax error", "SET", k("sg"), "v", "PERSIST")
    check_error(r, "syntax error", "SET", k("sg"), "v", "EXAT", 99999999999, "KEEPTTL")
    check_error(r, "invalid expire time in 'set' command", "SET", k("sg"), "v", "GET", "EX", 0)
    check_error(r, "invalid expire time in 'set' command", "SET", k("sg"), "v", "EX",
                9223372036854775807)
    check_error(r, "invalid expire time in 'set' command", "SET", k("sg"), "v", "PX",
                9223372036854775807)
    check("refused SETs write nothing", r.get(k("sg")), b"i")
    # GETDEL
    check("GETDEL absent", r.getdel(k("gd")), None)
    r.set(k("gd"), "v")
    check("GETDEL", r.getdel(k("gd")), b"v")
    check("... deleted", r.exists(k("gd")), 0)
    check("GETDEL again", r.getdel(k("gd")), None)
    # GETEX
    check("GETEX absent", r.getex(k("ge")), None)
    check("GETEX absent, EX", r.getex(k("ge"), ex=10), None)
    check("... still absent", r.exists(k("ge")), 0)
    r.set(k("ge"), "v")
    check("GETEX", r.getex(k("ge")), b"v")
    check("... no TTL", r.ttl(k("ge")), -1)
    check("GETEX EX", r.getex(k("ge"), ex=100), b"v")
    between("... TTL", r.ttl(k("ge")), 98, 100)
    check("GETEX PX", r.getex(k("ge"), px=50000), b"v")
    between("... TTL", r.ttl(k("ge")), 48, 50)
    check("GETEX EXAT", r.getex(k("ge"), exat=int(time.time()) + 200), b"v")
    between("... TTL", r.ttl(k("ge")), 198, 200)
    check("GETEX PXAT", r.getex(k("ge"), pxat=int(time.time() * 1000) + 300000), b"v")
    between("... TTL", r.ttl(k("ge")), 298, 300)
    check("GETEX PERSIST", r.getex(k("ge"), persist=True), b"v")
    check("... no TTL", r.ttl(k("ge")), -1)
    check("GETEX PERSIST without a TTL", r.getex(k("ge"), persist=True), b"v")
    check("GETEX EX twice", r.execute_command("GETEX", k("ge"), "EX", 5, "EX", 60), b"v")
    between("... TTL", r.ttl(k("ge")), 58, 60)
    check("GETEX EXAT in the past", r.getex(k("ge"), exat=int(time.time()) - 10), b"v")
    check("... deletes the key", r.exists(k("ge")), 0)
    r.set(k("ge"), "w")
    check("GETEX PXAT in the past", r.getex(k("ge"), pxat=1000), b"w")
    check("... deletes the key", r.exists(k("ge")), 0)
    r.set(k("ge"), "z")
    for args, want in [(("EX", 0), "invalid expire time in 'getex' command"),
                       (("EX", -1), "invalid expire time in 'getex' command"),
                       (("PXAT", 0), "invalid expire time in 'getex' command"),
                       (("EX", 9223372036854775807), "invalid expire time in 'getex' command"),
                       (("EX", "ten"), "value is not an integer or out of range"),
                       (("EX", 9223372036854776), "invalid expire time in 'getex' command"),
                       (("EX", 10, "PX", 100), "syntax error"),
                       (("PERSIST", "EX", 10), "syntax error"),
                       (("EX",), "syntax error"),
                       (("KEEPTTL",), "syntax error"),
                       (("NX",), "syntax error"),
                       (("BOGUS",), "syntax error")]:
        check_error(r, want, "GETEX", k("ge"), *args)
    check("refused GETEXs change nothing", (r.get(k("ge")), r.ttl(k("ge"))), (b"z", -1))


def set_family(r):
    check("SETNX absent", r.setnx(k("nx"), "a"), True)
    check("SETNX present", r.setnx(k("nx"), "b"), False)
    check("... unchanged", r.get(k("nx")), b"a")
    check("SETEX", r.setex(k("ex"), 100, "v"), True)
    between("... TTL", r.ttl(k("ex")), 98, 100)
    check("SETEX replaces", r.setex(k("ex"), 50, "w"), True)
    between("... TTL", r.ttl(k("ex")), 48, 50)
    check("PSETEX", r.psetex(k("px"), 1500, "v"), True)
    between("... PTTL (whole seconds, rounded up)", r.pttl(k("px")), 500, 2000)
    check("PSETEX value", r.get(k("px")), b"v")
    for cmd in ["SETEX", "PSETEX"]:
        check_error(r, "invalid expire time in '%s' command" % cmd.lower(), cmd, k("ex"), 0, "v")
        check_error(r, "invalid expire time in '%s' command" % cmd.lower(), cmd, k("ex"), -10,
                    "v")
        check_error(r, "value is not an integer or out of range", cmd, k("ex"), "x", "v")
    check_error(r, "invalid expire time in 'setex' command", "SETEX", k("ex"),
                9223372036854775807, "v")
    check("MSETNX one key", r.msetnx({k("m1"): "a"}), True)
    check("MSETNX one key again", r.msetnx({k("m1"): "b"}), False)
    check_error(r, "juno-proxy: MSETNX of more than one key is not supported", "MSETNX",
                k("m2"), "a", k("m3"), "b")
    check("... nothing written", r.exists(k("m2"), k("m3")), 0)
    check_error(r, "wrong number of arguments for 'msetnx' command", "MSETNX", k("m2"), "a", "b")
    for cmd, args in [("INCR", []), ("INCR", ["a", "b"]), ("DECR", []), ("INCRBY", ["a"]),
                      ("DECRBY", ["a", "1", "2"]), ("INCRBYFLOAT", ["a"]), ("APPEND", ["a"]),
                      ("STRLEN", []), ("GETRANGE", ["a", "1"]), ("SUBSTR", ["a"]),
                      ("SETRANGE", ["a", "1"]), ("GETSET", ["a"]), ("GETDEL", []),
                      ("GETDEL", ["a", "b"]), ("GETEX", []), ("SETNX", ["a"]),
                      ("SETEX", ["a", "1"]), ("PSETEX", ["a"]), ("MSETNX", ["a"])]:
        check_error(r, "wrong number of arguments for '%s' command" % cmd.lower(), cmd, *args)
    check_error(r, "juno: key length must be at most", "INCR", "k" * 300)
    check_error(r, "juno: key length must be at most", "GETDEL", "k" * 300)
    check_error(r, "string exceeds maximum allowed size", "GETSET", k("x"),
                "v" * 300000)


def bits(r):
    r.set(k("b"), "foobar")
    check("BITCOUNT", r.bitcount(k("b")), 26)
    check("BITCOUNT 1 1", r.bitcount(k("b"), 1, 1), 6)
    check("BITCOUNT 5 30 BIT", r.execute_command("BITCOUNT", k("b"), 5, 30, "BIT"), 17)
    check("BITCOUNT -2 -1 BYTE", r.execute_command("BITCOUNT", k("b"), -2, -1, "BYTE"), 7)
    check("BITCOUNT absent", r.bitcount(k("nob")), 0)
    check("BITCOUNT absent, bad range: 0 as Redis 7.0",
          r.execute_command("BITCOUNT", k("nob"), "a", "b"), 0)
    check_error(r, "value is not an integer or out of range", "BITCOUNT", k("b"), "a", "b")
    check_error(r, "syntax error", "BITCOUNT", k("b"), 0, 1, "NIBBLE")
    check_error(r, "syntax error", "BITCOUNT", k("b"), 0)
    check("GETBIT 1 of f (0x66)", r.getbit(k("b"), 1), 1)
    check("GETBIT 0", r.getbit(k("b"), 0), 0)
    check("GETBIT past the end", r.getbit(k("b"), 100000), 0)
    check("GETBIT absent", r.getbit(k("nob"), 3), 0)
    check("SETBIT: the bit it was", r.setbit(k("b"), 7, 1), 0)
    check("SETBIT again: no change", r.setbit(k("b"), 7, 1), 1)
    check("... the value", r.get(k("b")), b"goobar")
    check("SETBIT clears", r.setbit(k("b"), 1, 0), 1)
    check("... the value", r.get(k("b")), b"'oobar")
    check("SETBIT absent", r.setbit(k("nb"), 10, 1), 0)
    check("... zero bytes before it", r.get(k("nb")), b"\x00\x20")
    check("SETBIT 0 absent creates the key", r.setbit(k("nb2"), 20, 0), 0)
    check("... three zero bytes", r.get(k("nb2")), b"\x00\x00\x00")
    check("the last bit --max-value allows", r.setbit(k("nb3"), 204800 * 8 - 1, 1), 0)
    check("... its length", r.strlen(k("nb3")), 204800)
    for args in [(-1, 1), ("x", 1), (204800 * 8, 1), (2 ** 32, 1)]:
        check_error(r, "bit offset is not an integer or out of range", "SETBIT", k("b"), *args)
    check_error(r, "bit offset is not an integer or out of range", "GETBIT", k("b"), -1)
    for bad in [2, -1, "x", ""]:
        check_error(r, "bit is not an integer or out of range", "SETBIT", k("b"), 0, bad)
    r.set(k("tb"), "a", ex=100)
    check("SETBIT on a key with a TTL", r.setbit(k("tb"), 0, 1), 0)
    between("TTL kept by SETBIT", r.ttl(k("tb")), 97, 100)


def pipelines(r):
    p = r.pipeline(transaction=False)
    for _ in range(20):
        p.incr(k("p"))
    p.get(k("p"))
    p.append(k("pa"), "x")
    p.append(k("pa"), "y")
    p.getset(k("pa"), "z")
    p.get(k("pa"))
    p.getdel(k("pa"))
    p.get(k("pa"))
    p.set(k("p2"), "1")
    p.incrby(k("p2"), 5)
    p.get(k("p2"))
    got = p.execute()
    want = list(range(1, 21)) + [b"20", 1, 2, b"xy", b"z", b"z", None, True, 6, b"6"]
    check("pipelined counters and string commands, in order", got, want)


def commands():
    r = redis.Redis(host=HOST, port=PORT, socket_timeout=10)
    counters(r)
    floats(r)
    strings(r)
    getset_family(r)
    set_family(r)
    bits(r)
    pipelines(r)
    info = unparsed(r, "COMMAND", "INFO", "incr", "strlen", "getex")
    check("COMMAND INFO incr", info[0][0:3], [b"incr", 2, [b"write", b"denyoom", b"fast"]])
    check("COMMAND INFO strlen", info[1][0:3], [b"strlen", 2, [b"readonly", b"fast"]])
    check("COMMAND INFO getex", info[2][0:3], [b"getex", -2, [b"write", b"fast"]])
    check("the connection still works", r.ping(), True)


def run_threads(conns, target):
    ts = [threading.Thread(target=target, args=(i,)) for i in range(conns)]
    for t in ts:
        t.start()
    return ts


def incr(conns, n, key, reap=False):
    # taken: one total per reaper, summed once they are joined (two threads
    # adding to one total could lose an addition between its read and write)
    errors, taken, stop = [], [0, 0], []

    def work(i):
        h, p = ADDRS[i % len(ADDRS)]
        r = redis.Redis(host=h, port=p, socket_timeout=30)
        for _ in range(n):
            try:
                r.incr(key)
            except redis.exceptions.RedisError as e:
                errors.append(str(e))

    def reaper(i):
        h, p = ADDRS[i % len(ADDRS)]
        r = redis.Redis(host=h, port=p, socket_timeout=30)
        while not stop:
            try:
                v = r.getdel(key)
                if v is not None:
                    taken[i] += int(v)
            except redis.exceptions.RedisError as e:
                errors.append(str(e))
            time.sleep(0.002)

    t0 = time.time()
    workers = run_threads(conns, work)
    reapers = run_threads(2, reaper) if reap else []
    for t in workers:
        t.join()
    stop.append(1)
    for t in reapers:
        t.join()
    secs = time.time() - t0
    if errors:
        fail("INCRs without an error", "%d errors, the first: %s" % (len(errors), errors[0]))
    final = int(redis.Redis(host=HOST, port=PORT, socket_timeout=10).get(key) or 0)
    print("# key " + key)
    what = "%d connections x %d INCRs over %d proxies in %.1f s" % (conns, n, len(ADDRS), secs)
    if reap:
        check(what + ": GETDEL took %d, %d left" % (sum(taken), final), sum(taken) + final,
              conns * n)
    else:
        check(what + ": the final value", final, conns * n)


def main():
    mode = sys.argv[2]
    if mode == "strings":
        commands()
    elif mode in ("incr", "getdel"):
        incr(int(sys.argv[3]), int(sys.argv[4]), TAG + sys.argv[5], reap=mode == "getdel")
    else:
        sys.exit("unknown mode " + mode)
    print("# all checks passed")


main()
