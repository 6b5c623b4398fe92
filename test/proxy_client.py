#!/usr/bin/env python3
"""proxy_client.py: a small JunoDB-protocol client for testing juno-proxy.

It encodes requests and decodes replies as docs/protocol.md describes (the
JunoDB client protocol), independently of lib/wire, so the tests check the
proxy against a second implementation of the format.

  proxy_client.py HOST:PORT create|set|update NS KEY VALUE [--ttl S] [--version V]
  proxy_client.py HOST:PORT get|destroy NS KEY [--ttl S]
  proxy_client.py HOST:PORT nop
  proxy_client.py HOST:PORT raw HEX|@FILE...   send bytes, print each reply, then
                                               "closed" (EOF) or "open" (--wait S passed)
  proxy_client.py HOST:PORT random --seed N [--ops 2000] [--keys 200]
  proxy_client.py HOST:PORT race [--rounds 50]
  proxy_client.py HOST:PORT stream --stop FILE [--keys 50]
  proxy_client.py HOST:PORT pipeline --count N destroy|set NS PREFIX

Single operations print one JSON object: status (name), code, and the meta
fields returned (version, creation_time, expiration_time, ttl, last_modified,
originator, request_id, handling_time) and value. Exit status: 0 when a reply
came (whatever its status), 2 on a connection failure or timeout, 1 when a
test mode (random, race, stream) found a discrepancy.
"""
import argparse
import base64
import json
import os
import random
import socket
import struct
import sys
import threading
import time
import uuid

STATUS = {0: "Ok", 1: "BadMsg", 2: "ServiceDenied", 3: "NoKey", 4: "DupKey", 5: "DataExpired",
          6: "OutOfMem", 7: "BadParam", 8: "RecordLocked", 9: "VersionTooOld",
          10: "NoUncommitted", 11: "BadRequestID", 12: "NoStorageServer",
          13: "DuplicateRequest", 14: "Busy", 15: "Inserting", 16: "InvalidNamespace",
          17: "AlreadyFulfilled", 18: "NotSameRecord", 19: "VersionConflict",
          20: "NotAppendable", 21: "SSError", 22: "SSOutofResource", 23: "TTLExtendErr",
          24: "ReqProcTimeout", 25: "CommitFailure", 26: "Inconsistent", 27: "MarkedDelete",
          28: "NotSupported", 255: "Internal"}
OPS = {"nop": 0, "create": 1, "get": 2, "update": 3, "set": 4, "destroy": 5}

# meta field tags
TTL, VERSION, CTIME, ETIME, RID, SOURCE, LMT, ORIGIN, CORR, RHT, UDF = range(1, 12)
SIZE_TYPE = {TTL: 1, VERSION: 1, CTIME: 1, ETIME: 1, RID: 3, LMT: 2, ORIGIN: 3, RHT: 1,
             SOURCE: 0, CORR: 0, UDF: 0}
CANONICAL = [RHT, RID, ORIGIN, LMT, TTL, VERSION, CTIME, ETIME, CORR, SOURCE, UDF]


def pad(b, n):
    return b + b"\0" * (-len(b) % n)


def encode_meta(fields):
    """fields: {tag: value}; ints for numeric tags, bytes for ids and var fields."""
    tags = [t for t in CANONICAL if t in fields and fields[t] not in (0, None, b"")]
    desc = bytes((SIZE_TYPE[t] << 5) | t for t in tags)
    body = b""
    for t in tags:
        v = fields[t]
        st = SIZE_TYPE[t]
        if st == 1:
            body += struct.pack(">I", v)
        elif st == 2:
            body += struct.pack(">Q", v)
        elif st == 3:
            body += v
        elif t == SOURCE:  # (ip4 bytes, port, app name)
            ip, port, app = v
            raw = bytes([0, len(app)]) + struct.pack(">H", port) + ip + app
            raw = pad(raw, 4)
            body += bytes([len(raw)]) + raw[1:]
        else:  # CorrelationID, UDFName
            raw = pad(bytes([0, len(v)]) + v, 4)
            body += bytes([len(raw)]) + raw[1:]
    head = bytes([2, len(tags)]) + desc + b"\0" * (-(6 + len(tags)) % 4)
    comp = pad(b"\0\0\0\0" + head + body, 8)
    return struct.pack(">I", len(comp)) + comp[4:]


def encode_payload(ns, key, value, vtype=0):
    vfield = b"" if value is None or len(value) == 0 else bytes([vtype]) + value
    comp = pad(struct.pack(">IBBHI", 0, 1, len(ns), len(key), len(vfield)) + ns + key + vfield, 8)
    return struct.pack(">I", len(comp)) + comp[4:]


def encode(opcode, opaque, ns=b"", key=b"", value=None, meta=None, type_flag=0x40, flags=0,
           vtype=0):
    body = encode_meta(meta or {}) + encode_payload(ns, key, value, vtype)
    size = 16 + len(body)
    return struct.pack(">HBBIIBBH", 0x5050, 1, type_flag, size, opaque, opcode, flags, 0) + body


def decode_meta(c):
    n = c[5]
    desc = c[6:6 + n]
    off = 6 + n + (-(6 + n) % 4)
    meta = {}
    for d in desc:
        tag, st = d & 0x1F, d >> 5
        if st in (1, 2, 3):
            size = 1 << (st + 1)
            raw = c[off:off + size]
            off += size
            meta[tag] = int.from_bytes(raw, "big") if st != 3 else bytes(raw)
        else:
            size = c[off]
            meta[tag] = bytes(c[off:off + size])
            off += size
    return meta


def decode(frame):
    magic, ver, tf, size, opaque, opcode, flags, b14, status = struct.unpack(
        ">HBBIIBBBB", frame[:16])
    m = {"type_flag": tf, "opaque": opaque, "opcode": opcode, "flags": flags, "status": status,
         "meta": {}, "ns": b"", "key": b"", "value": b"", "vtype": 0, "size": size}
    off = 16
    while len(frame) - off >= 6:
        csize, tag = struct.unpack(">IB", frame[off:off + 5])
        if csize <= 5 or off + csize > len(frame):
            raise ValueError("bad component")
        c = frame[off:off + csize]
        if tag == 2:
            m["meta"] = decode_meta(c)
        elif tag == 1:
            nsl, kl, vl = c[5], struct.unpack(">H", c[6:8])[0], struct.unpack(">I", c[8:12])[0]
            p = 12
            m["ns"] = bytes(c[p:p + nsl])
            m["key"] = bytes(c[p + nsl:p + nsl + kl])
            v = bytes(c[p + nsl + kl:p + nsl + kl + vl])
            if len(v) > 1:
                m["vtype"], m["value"] = v[0], v[1:]
        off += csize
    return m


class Conn:
    def __init__(self, addr, timeout=5.0):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.opaque = 0
        ip, port = self.sock.getsockname()[:2]
        self.source = (socket.inet_aton(ip), port, b"proxy_client")

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_frame(self):
        """One whole reply frame (bytes), or None at EOF."""
        while True:
            if len(self.buf) >= 8:
                size = struct.unpack(">I", self.buf[4:8])[0]
                if len(self.buf) >= size:
                    f, self.buf = self.buf[:size], self.buf[size:]
                    return f
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def request(self, op, ns, key, value=None, ttl=0, version=0, rid=None, send=True):
        self.opaque += 1
        rid = rid or uuid.uuid4().bytes
        meta = {RID: rid, SOURCE: self.source, TTL: ttl, VERSION: version}
        data = encode(OPS[op], self.opaque, ns, key, value, meta)
        if send:
            self.sock.sendall(data)
        return self.opaque, data

    def call(self, op, ns, key, value=None, **kw):
        opaque, _ = self.request(op, ns, key, value, **kw)
        while True:
            f = self.recv_frame()
            if f is None:
                raise ConnectionError("connection closed")
            m = decode(f)
            if m["opaque"] == opaque:
                return m


def summary(m):
    meta = m["meta"]
    out = {"status": STATUS.get(m["status"], str(m["status"])), "code": m["status"],
           "opcode": m["opcode"], "opaque": m["opaque"]}
    names = {VERSION: "version", CTIME: "creation_time", ETIME: "expiration_time", TTL: "ttl",
             LMT: "last_modified", RHT: "handling_time"}
    for tag, name in names.items():
        if tag in meta:
            out[name] = meta[tag]
    for tag, name in ((RID, "request_id"), (ORIGIN, "originator")):
        if tag in meta:
            out[name] = str(uuid.UUID(bytes=meta[tag]))
    out["meta_tags"] = [t for t in meta]
    if m["value"] or m["vtype"]:
        out["value_type"] = m["vtype"]
        try:
            out["value"] = m["value"].decode()
        except UnicodeDecodeError:
            out["value"] = base64.b64encode(m["value"]).decode()
            out["value_encoding"] = "base64"
    out["ns"] = m["ns"].decode(errors="replace")
    out["key"] = m["key"].decode(errors="replace")
    return out


# ---- test modes ----

def mode_random(addr, seed, nops, nkeys, ns=b"model"):
    """Random operations checked against an in-memory model (all stores up)."""
    rnd = random.Random(seed)
    c = Conn(addr)
    model = {}  # key -> [value, version, ctime]
    gone = {}  # key -> its tombstone's version: a key created again continues after it
    errors = []
    counts = {}
    prefix = "r%d-" % seed
    for i in range(nops):
        k = (prefix + str(rnd.randrange(nkeys))).encode()
        op = rnd.choices(["get", "set", "create", "update", "cupdate", "destroy"],
                         [30, 20, 15, 12, 13, 10])[0]
        counts[op] = counts.get(op, 0) + 1
        v = ("v%d-%d" % (i, rnd.randrange(1 << 30))).encode() * rnd.choice([1, 1, 1, 20])
        cur = model.get(k)
        want_version = 0
        if op == "cupdate":
            stale = cur is not None and rnd.random() < 0.4
            want_version = (cur[1] + rnd.choice([-1, 1])) if stale else (cur[1] if cur else 1)
            if want_version <= 0:
                want_version = cur[1] + 1
            r = c.call("update", ns, k, v, version=want_version)
        elif op in ("get", "destroy"):
            r = c.call(op, ns, k)
        else:
            r = c.call(op, ns, k, v)
        st, meta = r["status"], r["meta"]
        expect = None
        if op == "get":
            expect = 0 if cur else 3
            if cur and st == 0 and (r["value"] != cur[0] or meta.get(VERSION) != cur[1]
                                    or meta.get(CTIME) != cur[2]):
                errors.append("op %d get %s: got version %s value %r, want %d %r" % (
                    i, k, meta.get(VERSION), r["value"][:20], cur[1], cur[0][:20]))
        elif op == "set":
            expect = 0
            if st == 0:
                want = cur[1] + 1 if cur else gone.get(k, 0) + 1
                if meta.get(VERSION) != want or (cur and meta.get(CTIME) != cur[2]):
                    errors.append("op %d set %s: version %s ctime %s, want %d %s" % (
                        i, k, meta.get(VERSION), meta.get(CTIME), want, cur and cur[2]))
                model[k] = [v, meta.get(VERSION), meta.get(CTIME)]
        elif op == "create":
            expect = 4 if cur else 0
            if st == 0:
                if meta.get(VERSION) != gone.get(k, 0) + 1:
                    errors.append("op %d create %s: version %s, want %d" % (
                        i, k, meta.get(VERSION), gone.get(k, 0) + 1))
                model[k] = [v, meta.get(VERSION), meta.get(CTIME)]
        elif op in ("update", "cupdate"):
            if cur is None:
                expect = 3
            elif op == "cupdate" and want_version != cur[1]:
                expect = 19
                if st == 19 and (meta.get(VERSION) != cur[1] or r["value"] != cur[0]):
                    errors.append("op %d conflict %s: reported version %s value %r" % (
                        i, k, meta.get(VERSION), r["value"][:20]))
            else:
                expect = 0
                if st == 0:
                    if meta.get(VERSION) != cur[1] + 1 or meta.get(CTIME) != cur[2]:
                        errors.append("op %d update %s: version %s ctime %s, want %d %s" % (
                            i, k, meta.get(VERSION), meta.get(CTIME), cur[1] + 1, cur[2]))
                    model[k] = [v, meta.get(VERSION), cur[2]]
        elif op == "destroy":
            expect = 0
            if st == 0:
                gone[k] = (cur[1] if cur else gone.get(k, 0)) + 1
                model.pop(k, None)
        if st != expect:
            errors.append("op %d %s %s: status %s, want %s" % (
                i, op, k, STATUS.get(st, st), STATUS.get(expect, expect)))
        if len(errors) > 20:
            break
    # final sweep: every key as the model says
    for n in range(nkeys):
        k = (prefix + str(n)).encode()
        r = c.call("get", ns, k)
        cur = model.get(k)
        if (cur is None and r["status"] != 3) or (cur is not None and (
                r["status"] != 0 or r["value"] != cur[0] or r["meta"].get(VERSION) != cur[1])):
            errors.append("final get %s: status %s version %s" % (
                k, r["status"], r["meta"].get(VERSION)))
    print(json.dumps({"ops": nops, "counts": counts, "live_keys": len(model),
                      "errors": errors[:20]}))
    return 1 if errors else 0


def mode_race(addr, rounds, ns=b"race"):
    """Two clients create the same key at the same moment, `rounds` times."""
    bad = []
    tally = {}
    tag = uuid.uuid4().hex[:8]
    for i in range(rounds):
        key = ("race-%s-%d" % (tag, i)).encode()
        conns = [Conn(addr), Conn(addr)]
        frames = [c.request("create", ns, key, b"from-%d" % j, send=False)[1]
                  for j, c in enumerate(conns)]
        barrier = threading.Barrier(2)
        res = [None, None]

        def run(j):
            barrier.wait()
            conns[j].send_raw(frames[j])
            f = conns[j].recv_frame()
            res[j] = decode(f)["status"] if f else -1

        ts = [threading.Thread(target=run, args=(j,)) for j in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for c in conns:
            c.close()
        names = sorted(STATUS.get(s, str(s)) for s in res)
        tally[",".join(names)] = tally.get(",".join(names), 0) + 1
        oks = res.count(0)
        other = [s for s in res if s != 0]
        if oks != 1 or any(s not in (4, 8) for s in other):
            bad.append("round %d: %s" % (i, names))
    print(json.dumps({"rounds": rounds, "outcomes": tally, "bad": bad}))
    return 1 if bad else 0


def mode_stream(addr, stop, nkeys, ns=b"stream"):
    """Set then get keys in a loop until the file `stop` exists; every reply must be Ok."""
    c = Conn(addr)
    ops = errs = 0
    samples = []
    i = 0
    while not os.path.exists(stop):
        k = ("s-%d" % (i % nkeys)).encode()
        v = ("val-%d" % i).encode()
        r = c.call("set", ns, k, v)
        g = c.call("get", ns, k)
        ops += 2
        if r["status"] != 0 or g["status"] != 0 or g["value"] != v:
            errs += 1
            if len(samples) < 10:
                samples.append("set %s: %s, get: %s %r" % (k, STATUS.get(r["status"]),
                                                           STATUS.get(g["status"]), g["value"]))
        i += 1
    print(json.dumps({"ops": ops, "errors": errs, "samples": samples}))
    return 1 if errs or ops == 0 else 0


def mode_pipeline(addr, count, op, ns, prefix):
    """Send `count` requests at once, then read replies until all came or EOF."""
    c = Conn(addr, timeout=30)
    data = b""
    for i in range(count):
        key = ("%s%d" % (prefix, i)).encode()
        data += c.request(op, ns.encode(), key, b"pipelined" if op != "destroy" else None,
                          send=False)[1]
    c.send_raw(data)
    statuses = {}
    got = 0
    while got < count:
        f = c.recv_frame()
        if f is None:
            break
        s = STATUS.get(decode(f)["status"], "?")
        statuses[s] = statuses.get(s, 0) + 1
        got += 1
    print(json.dumps({"sent": count, "answered": got, "statuses": statuses}))
    return 0


def mode_raw(addr, hexes, wait):
    c = Conn(addr, timeout=wait)
    for h in hexes:
        if h.startswith("@"):  # hex in a file (too long for a command line)
            with open(h[1:]) as f:
                h = f.read()
        c.send_raw(bytes.fromhex(h.replace(" ", "").strip()))
    out = []
    try:
        while True:
            f = c.recv_frame()
            if f is None:
                out.append("closed")
                break
            try:
                out.append(summary(decode(f)) | {"hex": f.hex().upper()})
            except (ValueError, struct.error):
                out.append({"undecodable": f.hex().upper()})
    except socket.timeout:
        out.append("open")
    except ConnectionResetError:
        out.append("closed")
    for o in out:
        print(json.dumps(o))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("addr")
    ap.add_argument("op")
    ap.add_argument("args", nargs="*")
    ap.add_argument("--ttl", type=int, default=0)
    ap.add_argument("--version", type=int, default=0)
    ap.add_argument("--rid")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--stop")
    ap.add_argument("--wait", type=float, default=1.0)
    a = ap.parse_intermixed_args()
    try:
        if a.op == "random":
            return mode_random(a.addr, a.seed, a.ops, a.keys)
        if a.op == "race":
            return mode_race(a.addr, a.rounds)
        if a.op == "stream":
            return mode_stream(a.addr, a.stop, a.keys)
        if a.op == "pipeline":
            return mode_pipeline(a.addr, a.count, a.args[0], a.args[1], a.args[2])
        if a.op == "raw":
            return mode_raw(a.addr, a.args, a.wait)
        c = Conn(a.addr, timeout=a.timeout)
        if a.op == "nop":
            c.send_raw(encode(0, 1, meta={}))
            print(json.dumps(summary(decode(c.recv_frame()))))
            return 0
        ns, key = a.args[0].encode(), a.args[1].encode()
        value = a.args[2].encode() if len(a.args) > 2 else None
        rid = uuid.UUID(a.rid).bytes if a.rid else None
        m = c.call(a.op, ns, key, value, ttl=a.ttl, version=a.version, rid=rid)
        print(json.dumps(summary(m)))
        return 0
    except (OSError, ConnectionError) as e:
        print("proxy_client: error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
