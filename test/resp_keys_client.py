#!/usr/bin/python3
"""resp_keys_client.py: redis-py checks of the RESP face's keyspace commands
(test/juno-resp-keys.bats). Usage: resp_keys_client.py PORT CHECK [ARGS...]

  fill N PREFIX          SET PREFIX0..PREFIX{N-1} (pipelined, not transactional)
  scan-all N PREFIX      SCAN with COUNT 1, 7, 100 and 5000 returns every one of
                         PREFIX0..N-1 at least once, nothing else, and cursors
                         that are integers ending with 0
  scan-options PREFIX    MATCH, TYPE and COUNT on the keys of fill
  edge                   TYPE TOUCH UNLINK RANDOMKEY DBSIZE edge cases
  rename-race            INCRs of a key from two threads while a third RENAMEs
                         it now and then: no increment is lost (the renamed
                         keys and the key sum to the INCRs made)
  store-keyscan ADDR     KeyScan (0xFC) sent to a store directly (PORT unused):
                         the records of shard 0 in namespace "default" listed
                         in position order; malformed requests answered 7
                         BadParam; the store still answers afterwards
  scan-during N PREFIX STOPFILE
                         full SCANs (COUNT 50) one after another until STOPFILE
                         exists, then one more; each must return all of
                         PREFIX0..N-1 (prints the number of full iterations)
Exit 0 when every check holds; a failed assertion exits 1 with its message.
"""
import sys
import time

import redis


def conn(port):
    return redis.Redis(host="127.0.0.1", port=int(port), socket_timeout=30)


def fill(r, n, prefix):
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set(f"{prefix}{i}", f"v{i}")
        if i % 500 == 499:
            p.execute()
    p.execute()


def full_scan(r, **kw):
    cur, seen, calls = 0, [], 0
    while True:
        cur, keys = r.scan(cur, **kw)
        assert isinstance(cur, int) and cur >= 0, cur
        seen.extend(k.decode() for k in keys)
        calls += 1
        if cur == 0:
            return seen, calls


def scan_all(r, n, prefix):
    want = {f"{prefix}{i}" for i in range(n)}
    for count in (1, 7, 100, 5000):
        seen, calls = full_scan(r, count=count)
        got = set(seen)
        assert want <= got, f"COUNT {count}: missing {sorted(want - got)[:5]}"
        assert got <= want, f"COUNT {count}: unexpected {sorted(got - want)[:5]}"
        if count == 5000:
            assert calls <= 70, f"COUNT 5000 took {calls} calls for {n} keys"
    assert r.dbsize() == n, r.dbsize()
    assert set(k.decode() for k in r.keys("*")) == want
    assert set(k.decode() for k in r.scan_iter(count=10)) == want


def scan_options(r, prefix):
    keys = {k.decode() for k in r.keys("*")}
    ones = {k for k in keys if k.startswith(prefix + "1")}
    seen, _ = full_scan(r, match=prefix + "1*", count=20)
    assert set(seen) == ones, (len(seen), len(ones))
    seen, _ = full_scan(r, match=prefix + "1*", count=20, _type="STRING")
    assert set(seen) == ones
    seen, _ = full_scan(r, count=20, _type="hash")
    assert seen == [], seen[:3]
    assert {k.decode() for k in r.keys(prefix + "?")} == {f"{prefix}{i}" for i in range(10)}
    assert {k.decode() for k in r.keys(prefix + "[1-2]")} == {prefix + "1", prefix + "2"}
    assert {k.decode() for k in r.keys(prefix + "[^0-8]")} == {prefix + "9"}
    assert r.keys("no-such-prefix*") == []
    for bad in (["SCAN", "x"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "COUNT", "1.5"],
                ["SCAN", "0", "MATCH"], ["SCAN", "0", "FOO", "1"]):
        try:
            r.execute_command(*bad)
        except redis.ResponseError:
            continue
        raise AssertionError(f"{bad} did not fail")


def edge(r):
    r.set("e:a", "1")
    r.set("e:b", "2")
    assert r.type("e:a") == b"string" and r.type("e:none") == b"none"
    assert r.touch("e:a", "e:b", "e:none", "e:a") == 3
    assert r.touch("e:none") == 0
    assert r.unlink("e:a", "e:none") == 1
    assert r.exists("e:a") == 0 and r.unlink("e:a") == 0
    got = {r.randomkey() for _ in range(30)}
    assert b"e:b" in got and None not in got and b"e:a" not in got, got
    r.set("e:t", "v", ex=1)
    assert r.type("e:t") == b"string"
    time.sleep(2.1)
    assert r.type("e:t") == b"none"
    assert b"e:t" not in r.keys("e:*")
    assert r.touch("e:t") == 0


def rename_race(port):
    import threading
    r = conn(port)
    r.delete("race:n")
    n_incr, errors, renamed, rn_errors = 300, [], [], []

    def incr():
        c = conn(port)
        for _ in range(n_incr):
            try:
                c.incr("race:n")
            except redis.ResponseError as e:  # TRYAGAIN under contention: not counted
                errors.append(str(e))

    def rename():
        c = conn(port)
        for i in range(40):
            try:
                if c.renamenx("race:n", f"race:to{i}"):
                    renamed.append(f"race:to{i}")
            except redis.ResponseError as e:
                if "no such key" not in str(e):
                    rn_errors.append(str(e))  # TRYAGAIN: nothing renamed
            time.sleep(0.005)

    ts = [threading.Thread(target=incr) for _ in range(2)] + [threading.Thread(target=rename)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    made = 2 * n_incr - sum(1 for e in errors if e.startswith("TRYAGAIN"))
    total = int(r.get("race:n") or 0) + sum(int(r.get(k)) for k in renamed)
    assert renamed, "no RENAMENX succeeded"
    assert total == made, f"sum {total} != {made} INCRs ({len(renamed)} renames, {errors[:3]})"
    assert all(e.startswith("TRYAGAIN") for e in rn_errors), rn_errors[:3]
    print(len(renamed), "renames,", len(rn_errors), "TRYAGAIN,", total, "increments")


def store_keyscan(addr):
    import os
    import struct
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import proxy_client as pc

    c = pc.Conn(addr)

    def call(shard, ns, value, opaque=[0]):
        opaque[0] += 1
        body = pc.encode_meta({}) + pc.encode_payload(ns, b"", value)
        frame = struct.pack(">HBBIIBBH", 0x5050, 1, 0x40, 16 + len(body), opaque[0], 0xFC, 0,
                            shard) + body
        c.send_raw(frame)
        return pc.decode(c.recv_frame())

    def req(limit, start):
        return struct.pack(">BBHIQ", 1, 0, limit, 0, start)

    m = call(0, b"default", req(4096, 0))
    assert m["status"] == 0, m["status"]
    raw = m["value"]
    fmt, flags, count, scanned, nxt = struct.unpack(">BBHIQ", raw[:16])
    assert fmt == 1 and flags & 1 and count >= 1, (fmt, flags, count)
    off, pos = 16, []
    for _ in range(count):
        lm, ver, ef, res, kl = struct.unpack(">QIBBH", raw[off:off + 16])
        pos.append(raw[off + 16:off + 16 + kl])
        assert ver >= 1 and lm > 0 and res == 0
        off += 16 + kl
    assert off == len(raw)
    # a limit of 1 gives one record (or ties) and where to go on
    m1 = call(0, b"default", req(1, 0))
    _, f1, c1 = struct.unpack(">BBH", m1["value"][:4])
    assert m1["status"] == 0 and c1 >= 1 and (count == 1 or (c1 < count and not f1 & 1)), (f1, c1)
    for shard, ns, value in ((0, b"default", req(1, 0)[:15]), (0, b"default", req(0, 0)),
                             (0, b"default", req(1, 1 << 48)), (0, b"default", b"\x02" + req(1, 0)[1:]),
                             (60000, b"default", req(1, 0)), (0, b"", req(1, 0)),
                             (0, b"x" * 65, req(1, 0))):
        m = call(shard, ns, value)
        assert m["status"] == 7, (shard, ns, value, m["status"])
    assert call(0, b"default", req(10, 0))["status"] == 0
    print(count, "records listed")


def scan_during(r, n, prefix, stopfile):
    import os
    want = {f"{prefix}{i}" for i in range(n)}
    rounds, last = 0, False
    while not last:
        last = os.path.exists(stopfile)
        seen, _ = full_scan(r, count=50)
        missing = want - set(seen)
        assert not missing, f"round {rounds}: missing {len(missing)}: {sorted(missing)[:5]}"
        rounds += 1
    print(rounds)


def main():
    port, check, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if check == "store-keyscan":
        store_keyscan(port)
        return
    r = conn(port)
    if check == "fill":
        fill(r, int(args[0]), args[1])
    elif check == "scan-all":
        scan_all(r, int(args[0]), args[1])
    elif check == "scan-options":
        scan_options(r, args[0])
    elif check == "edge":
        edge(r)
    elif check == "rename-race":
        rename_race(port)
    elif check == "store-keyscan":
        store_keyscan(port)
    elif check == "scan-during":
        scan_during(r, int(args[0]), args[1], args[2])
    else:
        sys.exit(f"unknown check {check}")


if __name__ == "__main__":
    main()
