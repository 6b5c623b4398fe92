#!/usr/bin/python3
# resp_watch_client.py: WATCH, MULTI and EXEC on juno-proxy's RESP face
# (src/juno-proxy/resp_watch.c), checked on the bytes of the replies.
# Run with Debian's /usr/bin/python3 (python3-redis).
#
#   resp_watch_client.py HOST:PORT,HOST:PORT rules
#           each rule of resp_multi.c's header, on raw sockets: EXEC runs on
#           an untouched key, answers *-1 after another connection, on the
#           same or the other proxy, changed, deleted or created the key;
#           the refusals, which run nothing; UNWATCH, DISCARD, the limits
#   resp_watch_client.py HOST:PORT HOST:PORT same
#           the same single-key scripts on juno (first) and a redis-server
#           (second), on one connection each: the same bytes back
#   resp_watch_client.py HOST:PORT[,HOST:PORT...] cas CONNS N KEY
#           CONNS redis-py connections spread over the proxies, each making
#           N attempts of an optimistic increment (WATCH, GET, MULTI, SET
#           v+1, EXEC; redis-py's WatchError when EXEC answers *-1), while
#           two more make N plain INCRs each: the final value must be
#           exactly the successful EXECs plus the INCRs
#
# Prints one "ok - what" line per check; on the first failure prints
# "not ok - what: detail" and exits 1. Keys are prefixed with a random tag.
import os
import socket
import sys
import threading
import time

import redis
from resp_tap import check, fail, ok

ADDRS = [(h, int(p)) for h, p in (a.rsplit(":", 1) for a in sys.argv[1].split(","))]
TAG = "rw%d:" % os.getpid()


def k(name):
    return TAG + name


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Raw:
    """A RESP connection that returns each reply's bytes, unparsed."""

    def __init__(self, addr):
        self.s = socket.create_connection(addr, timeout=10)
        self.f = self.s.makefile("rb")

    def reply(self):
        line = self.f.readline()
        if not line.endswith(b"\r\n"):
            fail("a reply", "connection closed after %r" % line)
        if line[:1] == b"$" and int(line[1:-2]) >= 0:
            return line + self.f.read(int(line[1:-2]) + 2)
        if line[:1] == b"*" and int(line[1:-2]) > 0:
            return line + b"".join(self.reply() for _ in range(int(line[1:-2])))
        return line

    def send(self, *cmds):
        """Send the commands (each a list of words) in one write; their replies."""
        self.s.sendall(b"".join(encode(c) for c in cmds))
        return [self.reply() for _ in cmds]

    def cmd(self, *args):
        return self.send(list(args))[0]

    def close(self):
        self.f.close()
        self.s.close()


def script(c, text):
    """The replies to text's commands (one a line, words split on spaces), sent
    at once; "sleep S" lines wait instead."""
    out = []
    for line in text.strip().split("\n"):
        w = line.split()
        if w[0] == "sleep":
            time.sleep(float(w[1]))
        else:
            out.append(c.cmd(*w))
    return out


def tx(c, *cmds):
    """MULTI, the commands, EXEC in one write: EXEC's reply (the others checked)."""
    r = c.send(["MULTI"], *cmds, ["EXEC"])
    if r[0] != b"+OK\r\n" or any(q != b"+QUEUED\r\n" for q in r[1:-1]):
        fail("MULTI %r" % (cmds,), "replies %r" % (r,))
    return r[-1]


WATCH_ERR = b"-ERR juno: EXEC with 2 watched keys cannot be atomic across juno's replicas: not run"


def rules():
    a, b = ADDRS[0], ADDRS[-1]
    c, o, p = Raw(a), Raw(a), Raw(b)  # c watches; o (same proxy) and p (other) write
    K, N = k("k"), k("n")
    c.cmd("SET", K, "1")
    # untouched: EXEC runs the command, its reply as the one element
    check("WATCH", c.cmd("WATCH", K), b"+OK\r\n")
    check("GET after WATCH", c.cmd("GET", K), b"$1\r\n1\r\n")
    check("EXEC SET untouched", tx(c, ["SET", K, "2"]), b"*1\r\n+OK\r\n")
    check("the SET is written", o.cmd("GET", K), b"$1\r\n2\r\n")
    for what, cmd, want in [
        ("INCR", ["INCR", K], b"*1\r\n:3\r\n"),
        ("INCRBY", ["INCRBY", K, "10"], b"*1\r\n:13\r\n"),
        ("APPEND", ["APPEND", K, "x"], b"*1\r\n:3\r\n"),
        ("GET", ["GET", K], b"*1\r\n$3\r\n13x\r\n"),
        ("STRLEN", ["STRLEN", K], b"*1\r\n:3\r\n"),
        ("EXISTS", ["EXISTS", K], b"*1\r\n:1\r\n"),
        ("TYPE", ["TYPE", K], b"*1\r\n+string\r\n"),
        ("TTL", ["TTL", K], b"*1\r\n:-1\r\n"),
        ("EXPIRE", ["EXPIRE", K, "100"], b"*1\r\n:1\r\n"),
        ("PERSIST", ["PERSIST", K], b"*1\r\n:1\r\n"),
        ("SET XX GET", ["SET", K, "5", "XX", "GET"], b"*1\r\n$3\r\n13x\r\n"),
        ("SET NX on a key", ["SET", K, "6", "NX"], b"*1\r\n$-1\r\n"),
        ("GETSET", ["GETSET", K, "7"], b"*1\r\n$1\r\n5\r\n"),
        ("SET EX", ["SET", K, "8", "EX", "100"], b"*1\r\n+OK\r\n"),
        ("SET KEEPTTL", ["SET", K, "9", "KEEPTTL"], b"*1\r\n+OK\r\n"),
        ("DEL", ["DEL", K], b"*1\r\n:1\r\n"),
        ("GET absent", ["GET", K], b"*1\r\n$-1\r\n"),
        ("DEL absent", ["DEL", K], b"*1\r\n:0\r\n"),
        ("SET XX absent", ["SET", K, "x", "XX"], b"*1\r\n$-1\r\n"),
        ("INCR absent", ["INCR", K], b"*1\r\n:1\r\n"),
        ("UNLINK", ["UNLINK", K], b"*1\r\n:1\r\n"),
        ("SET NX absent", ["SET", K, "10", "NX"], b"*1\r\n+OK\r\n"),
        ("a syntax error: *1 and the error", ["SET", K, "1", "NX", "XX"],
         b"*1\r\n-ERR syntax error\r\n"),
    ]:
        check("WATCH %s" % what, c.cmd("WATCH", K), b"+OK\r\n")
        check("EXEC %s untouched" % what, tx(c, cmd), want)
    check("the key after them", o.cmd("GET", K), b"$2\r\n10\r\n")
    check("no TTL after SET NX", o.cmd("TTL", K), b":-1\r\n")

    # changed, deleted or created by another connection: *-1, nothing written
    def changed(what, setup, between, cmd, after, want_after):
        for s in setup:
            o.cmd(*s)
        check("WATCH (%s)" % what, c.cmd("WATCH", K), b"+OK\r\n")
        for w in between:
            w[0].cmd(*w[1:])
        check("EXEC %s: *-1" % what, tx(c, cmd), b"*-1\r\n")
        check("%s: nothing written" % what, o.cmd(*after), want_after)

    changed("SET after a SET on the same proxy", [["SET", K, "1"]], [(o, "SET", K, "x")],
            ["SET", K, "y"], ["GET", K], b"$1\r\nx\r\n")
    changed("INCR after a SET on the other proxy", [["SET", K, "1"]], [(p, "SET", K, "5")],
            ["INCR", K], ["GET", K], b"$1\r\n5\r\n")
    changed("INCR after an INCR of the same value", [["SET", K, "1"]], [(p, "INCR", K),
            (p, "DECR", K)], ["INCR", K], ["GET", K], b"$1\r\n1\r\n")
    changed("INCR after a DEL on the other proxy", [["SET", K, "1"]], [(p, "DEL", K)],
            ["INCR", K], ["EXISTS", K], b":0\r\n")
    changed("SET after a create on the other proxy", [["DEL", K]], [(p, "SET", K, "c")],
            ["SET", K, "y"], ["GET", K], b"$1\r\nc\r\n")
    changed("SET NX after a create", [["DEL", K]], [(p, "SET", K, "c")],
            ["SET", K, "y", "NX"], ["GET", K], b"$1\r\nc\r\n")
    changed("DEL after a SET", [["SET", K, "1"]], [(p, "SET", K, "2")], ["DEL", K],
            ["GET", K], b"$1\r\n2\r\n")
    changed("EXPIRE after a SET", [["SET", K, "1"]], [(p, "SET", K, "2")],
            ["EXPIRE", K, "100"], ["TTL", K], b":-1\r\n")
    changed("GET after a SET", [["SET", K, "1"]], [(p, "APPEND", K, "2")], ["GET", K],
            ["GET", K], b"$2\r\n12\r\n")
    changed("GETDEL after a SET", [["SET", K, "1"]], [(p, "SET", K, "3")], ["GETDEL", K],
            ["GET", K], b"$1\r\n3\r\n")
    changed("SET after the connection's own SET", [["SET", K, "1"]], [(c, "SET", K, "4")],
            ["SET", K, "y"], ["GET", K], b"$1\r\n4\r\n")
    changed("GET after EXPIRE", [["SET", K, "1"]], [(p, "PEXPIRE", K, "100000")],
            ["GET", K], ["GET", K], b"$1\r\n1\r\n")
    # unlike Redis (docs/consistency.md): absent at WATCH, created and deleted
    # again before EXEC, the key reads absent as watched and EXEC runs
    o.cmd("DEL", K)
    c.cmd("WATCH", K)
    p.send(["SET", K, "c"], ["DEL", K])
    check("EXEC after a create and a delete runs (Redis: *-1)", tx(c, ["SET", K, "y"]),
          b"*1\r\n+OK\r\n")
    # a key that expires between WATCH and EXEC has changed (as in Redis 7)
    o.cmd("SET", K, "e", "PX", "300")
    c.cmd("WATCH", K)
    time.sleep(0.5)
    check("EXEC after the watched key expired: *-1", tx(c, ["SET", K, "y"]), b"*-1\r\n")
    check("... nothing written", o.cmd("GET", K), b"$-1\r\n")

    # an empty transaction re-reads the watched keys
    o.cmd("SET", K, "1")
    check("WATCH two keys", c.cmd("WATCH", K, N), b"+OK\r\n")
    check("empty EXEC, untouched: *0", tx(c), b"*0\r\n")
    c.cmd("WATCH", K, N)
    p.cmd("SET", N, "1")
    check("empty EXEC, one created: *-1", tx(c), b"*-1\r\n")
    c.cmd("WATCH", N, K)
    p.cmd("DEL", N)
    check("empty EXEC, one deleted: *-1", tx(c), b"*-1\r\n")

    # EXEC, UNWATCH and DISCARD forget the watched keys
    c.cmd("WATCH", K)
    o.cmd("SET", K, "2")
    check("UNWATCH", c.cmd("UNWATCH"), b"+OK\r\n")
    check("EXEC after UNWATCH runs", tx(c, ["SET", K, "u"]), b"*1\r\n+OK\r\n")
    c.cmd("WATCH", K)
    check("DISCARD", c.send(["MULTI"], ["DISCARD"]), [b"+OK\r\n", b"+OK\r\n"])
    o.cmd("SET", K, "3")
    check("EXEC after DISCARD runs", tx(c, ["SET", K, "d"]), b"*1\r\n+OK\r\n")
    c.cmd("WATCH", K)
    o.cmd("SET", K, "4")
    check("EXEC that failed", tx(c, ["SET", K, "f"]), b"*-1\r\n")
    check("... forgot the key: EXEC runs", tx(c, ["SET", K, "g"]), b"*1\r\n+OK\r\n")
    check("UNWATCH without WATCH", c.cmd("UNWATCH"), b"+OK\r\n")
    check("WATCH a key twice: one key", c.cmd("WATCH", K, K), b"+OK\r\n")
    check("... WATCH it again", c.cmd("WATCH", K), b"+OK\r\n")
    check("... EXEC runs on it", tx(c, ["INCRBY", K, "0"]),
          b"*1\r\n-ERR value is not an integer or out of range\r\n")

    # refusals: an error naming why, nothing run, the keys forgotten
    o.cmd("SET", K, "1")
    for what, watched, cmd, prefix in [
        ("two watched keys", [K, N], ["SET", K, "x"], WATCH_ERR),
        ("another key than the watched one", [N], ["SET", K, "x"],
         b"-ERR juno: the watched key is not the key of 'set': not run"),
        ("MSET", [K], ["MSET", K, "x", N, "y"],
         b"-ERR juno: 'mset' cannot be checked against WATCH atomically: not run"),
        ("DEL of two keys", [K], ["DEL", K, N],
         b"-ERR juno: 'del' cannot be checked against WATCH atomically: not run"),
        ("RENAME", [K], ["RENAME", K, N],
         b"-ERR juno: 'rename' cannot be checked against WATCH atomically: not run"),
        ("COPY", [K], ["COPY", K, N],
         b"-ERR juno: 'copy' cannot be checked against WATCH atomically: not run"),
        ("SETNX", [K], ["SETNX", K, "x"],
         b"-ERR juno: 'setnx' cannot be checked against WATCH atomically: not run"),
    ]:
        c.cmd("WATCH", *watched)
        got = tx(c, cmd)
        if not got.startswith(prefix):
            fail("EXEC refused (%s)" % what, "got %r, want %r..." % (got, prefix))
        ok("EXEC refused (%s): %s" % (what, got[5:70].decode()))
        check("... nothing written (%s)" % what, o.send(["GET", K], ["EXISTS", N]),
              [b"$1\r\n1\r\n", b":0\r\n"])
        p.cmd("SET", K, "1")  # a change: were the keys still watched, EXEC would fail
        check("... the keys forgotten (%s)" % what, tx(c, ["GET", K]), b"*1\r\n$1\r\n1\r\n")
    c.cmd("WATCH", K)
    got = c.send(["MULTI"], ["SET", K, "x"], ["INCR", N], ["EXEC"])[-1]
    if not got.startswith(b"-ERR juno: a transaction of 2 commands cannot be atomic"):
        fail("EXEC of two commands refused", "got %r" % got)
    ok("EXEC of two commands refused")
    check("... nothing written", o.send(["GET", K], ["EXISTS", N]), [b"$1\r\n1\r\n", b":0\r\n"])

    # misuse, limits
    check("WATCH without a key", c.cmd("WATCH"),
          b"-ERR wrong number of arguments for 'watch' command\r\n")
    check("WATCH inside MULTI", c.send(["MULTI"], ["WATCH", K], ["DISCARD"]),
          [b"+OK\r\n", b"-ERR WATCH inside MULTI is not allowed\r\n", b"+OK\r\n"])
    many = [k("m%d" % i) for i in range(65)]
    check("WATCH of 65 keys", c.cmd("WATCH", *many),
          b"-ERR juno: at most 64 keys can be watched by a connection\r\n")
    check("... none of them watched: EXEC runs", tx(c, ["SET", K, "2"]), b"*1\r\n+OK\r\n")
    check("WATCH of 64 keys", c.cmd("WATCH", *many[:64]), b"+OK\r\n")
    check("... their empty EXEC", tx(c), b"*0\r\n")
    # pipelined in one write: EXEC waits for WATCH's read
    got = c.send(["WATCH", K], ["MULTI"], ["INCR", K], ["EXEC"], ["GET", K])
    check("WATCH MULTI INCR EXEC GET in one write", got,
          [b"+OK\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"*1\r\n:3\r\n", b"$1\r\n3\r\n"])
    # ... with reads in flight ahead of EXEC and after it: replies in order
    o.cmd("SET", N, "n")
    got = c.send(["WATCH", K], ["GET", N], ["MULTI"], ["INCR", K], ["EXEC"], ["GET", N],
                 ["EXISTS", N], ["PING"])
    check("WATCH GET MULTI INCR EXEC GET EXISTS PING in one write", got,
          [b"+OK\r\n", b"$1\r\nn\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"*1\r\n:4\r\n",
           b"$1\r\nn\r\n", b":1\r\n", b"+PONG\r\n"])
    o.cmd("DEL", N)
    check("the connection is usable", c.cmd("PING"), b"+PONG\r\n")
    # connections closed with WATCH's reads or EXEC's command in flight
    for cmds in ([["WATCH"] + many[:64]], [["WATCH", K], ["MULTI"], ["INCR", K], ["EXEC"]],
                 [["WATCH", K, N], ["MULTI"], ["EXEC"]]):
        for _ in range(20):
            x = Raw(a)
            x.s.sendall(b"".join(encode(w) for w in cmds))
            x.close()
    check("the proxy serves after closed connections", o.cmd("PING"), b"+PONG\r\n")
    for x in (c, o, p):
        x.close()


# Single-key scripts, one connection: juno and redis-server must answer the same bytes.
SAME = """
SET k 1
WATCH k
GET k
MULTI
SET k 2
EXEC
WATCH k
SET k 5
MULTI
INCR k
EXEC
GET k
WATCH k
MULTI
INCR k
EXEC
WATCH nk
MULTI
SET nk 1 NX
EXEC
WATCH nk
DEL nk
MULTI
EXEC
WATCH k nk
MULTI
EXEC
WATCH k
MULTI
EXPIRE k 100
EXEC
TTL k
WATCH k
MULTI
PERSIST k
EXEC
WATCH k
MULTI
DEL k
EXEC
WATCH k
MULTI
GET k
EXEC
WATCH k
SET k x
MULTI
GET k
EXEC
WATCH k
MULTI
APPEND k yz
EXEC
WATCH k
MULTI
SET k 1 NX XX
EXEC
WATCH k
UNWATCH
SET k 3
MULTI
GETSET k 4
EXEC
WATCH k
MULTI
DISCARD
SET k 6
MULTI
GETDEL k
EXEC
WATCH
MULTI
WATCH k
EXEC
SET e v PX 200
WATCH e
sleep 0.4
MULTI
SET e w
EXEC
GET e
PING
"""


def same():
    h, port = sys.argv[2].rsplit(":", 1)
    juno, real = Raw(ADDRS[0]), Raw((h, int(port)))
    text = SAME.replace(" k", " " + k("k")).replace(" nk", " " + k("nk")).replace(" e", " " + k("e"))
    want, got = script(real, text), script(juno, text)
    lines = [l for l in text.strip().split("\n") if not l.startswith("sleep")]
    for line, w, g in zip(lines, want, got):
        check("%s: as redis-server" % line.replace(TAG, ""), g, w)
    ok("%d commands answered as redis-server does" % len(want))


def cas(conns, n, key):
    key = k(key)
    redis.Redis(host=ADDRS[0][0], port=ADDRS[0][1]).set(key, 0)
    done, conflicts, errors = [0] * conns, [0] * conns, []

    def worker(i):
        h, port = ADDRS[i % len(ADDRS)]
        r = redis.Redis(host=h, port=port, socket_timeout=30)
        try:
            for _ in range(n):
                with r.pipeline() as pipe:
                    try:
                        pipe.watch(key)
                        v = int(pipe.get(key))
                        pipe.multi()
                        pipe.set(key, v + 1)
                        pipe.execute()
                        done[i] += 1
                    except redis.WatchError:
                        conflicts[i] += 1
        except Exception as e:  # noqa: BLE001 - any failure fails the test
            errors.append(repr(e))

    def incr(i):  # plain INCRs racing the transactions, on the other proxy
        h, port = ADDRS[(i + 1) % len(ADDRS)]
        r = redis.Redis(host=h, port=port, socket_timeout=30)
        try:
            for _ in range(n):
                r.incr(key)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
    threads += [threading.Thread(target=incr, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        fail("optimistic increments", errors[0])
    total = int(redis.Redis(host=ADDRS[-1][0], port=ADDRS[-1][1]).get(key))
    ok("%d connections x %d attempts over %d proxies in %.1f s, with 2 x %d INCRs: "
       "%d EXECs ran, %d got *-1" % (conns, n, len(ADDRS), time.time() - t0, n, sum(done),
                                    sum(conflicts)))
    check("the final value is the EXECs that ran plus the INCRs", total, sum(done) + 2 * n)
    if sum(done) == 0:
        fail("optimistic increments", "none succeeded")
    # redis-py's transaction helper retries on WatchError until it runs
    r = redis.Redis(host=ADDRS[0][0], port=ADDRS[0][1])

    def incr_tx(pipe):
        v = int(pipe.get(key))
        pipe.multi()
        pipe.set(key, v + 1)

    for _ in range(20):
        r.transaction(incr_tx, key)
    check("r.transaction(fn, key) 20 times", int(r.get(key)), total + 20)
    print("# key %s" % key)


if __name__ == "__main__":
    if sys.argv[-1] == "rules":
        rules()
    elif len(sys.argv) > 2 and sys.argv[2] == "cas":
        cas(int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif len(sys.argv) == 4 and sys.argv[3] == "same":
        same()
    else:
        sys.exit("usage: resp_watch_client.py ADDRS rules | ADDR REDIS-ADDR same | ADDRS cas CONNS N KEY")
    print("# all checks passed")
