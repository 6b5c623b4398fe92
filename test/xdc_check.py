#!/usr/bin/env python3
"""xdc_check.py: two sites replicating to each other (juno-proxy --replicate-to),
a workload on both at once and the checker of the two-site rule.

  xdc_check.py repl ADDR set|destroy NS KEY [VALUE] --version V --lmt NS
                [--ctime S] [--etime S] [--origin UUID]
        send one replicated write (flag 0x01, the metadata given) as another
        site's proxy would; print the reply as proxy_client.py does
  xdc_check.py load --site A=ADDR --site B=ADDR --seconds S [--keys K]
                [--threads T] [--seed N] --log FILE
        T clients per site for S seconds on keys k0..k(K-1) of namespace
        "xdc" (overlapping between the sites): Set, Create, Destroy and
        conditional Update (the version read just before). Every answered
        write is a JSON line in FILE: site, op, key, value, status, the
        record's version and last_modified (Set, Create, Update), and the
        client's wall clock before sending and after the answer (ns)
  xdc_check.py check --site A=ADDR,MAP --site B=ADDR,MAP --log FILE [--keys K]
        after quiescence: every key reads the same on both sites (value,
        version, creation, expiration, last_modified, originator; for a
        deleted key the newest tombstone's version and last_modified, read
        from the stores with `juno --store`), and every acknowledged write
        is present (the final record is it) or superseded (the final record,
        or tombstone, is newer: last_modified, then version). A Destroy's
        answer carries no stamp: it is superseded when the final record or
        tombstone was stamped after its answer, present when the final
        tombstone was stamped while it ran (between its sending and its
        answer, on the one machine's clock), "lost" when the final copy is
        older than its sending, else "concurrent" (not decidable, counted).
        Prints a JSON summary; exit 1 on any divergence or lost write.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxy_client as pc  # noqa: E402

NS = b"xdc"


def mode_repl(a):
    c = pc.Conn(a.addr)
    meta = {pc.RID: uuid.uuid4().bytes, pc.VERSION: a.version, pc.LMT: a.lmt,
            pc.CTIME: a.ctime, pc.ETIME: a.etime}
    if a.origin:
        meta[pc.ORIGIN] = uuid.UUID(a.origin).bytes
    op = pc.OPS[a.op]
    value = a.value.encode() if a.value is not None and a.op == "set" else None
    c.send_raw(pc.encode(op, 1, NS if a.ns is None else a.ns.encode(), a.key.encode(), value,
                         meta, flags=0x01))
    f = c.recv_frame()
    if f is None:
        print("closed")
        return 2
    print(json.dumps(pc.summary(pc.decode(f))))
    return 0


def worker(site, addr, seconds, nkeys, seed, out, lock, stop_at):
    rnd = random.Random(seed)
    c = None
    n = 0
    while time.time() < stop_at:
        try:
            if c is None:
                c = pc.Conn(addr, timeout=5.0)
            key = ("k%d" % rnd.randrange(nkeys)).encode()
            r = rnd.random()
            value = None
            kw = {}
            if r < 0.45:
                op = "set"
            elif r < 0.55:
                op = "create"
            elif r < 0.75:
                op = "destroy"
            else:
                op = "update"
                g = c.call("get", NS, key)
                if g["status"] != 0:
                    continue
                kw["version"] = g["meta"].get(pc.VERSION, 0)
            if op != "destroy":
                n += 1
                value = ("%s-%d-%d" % (site, seed, n)).encode()
            t0 = time.time_ns()
            m = c.call(op, NS, key, value, **kw)
            t1 = time.time_ns()
        except (OSError, ConnectionError):
            c = None
            time.sleep(0.05)
            continue
        rec = {"site": site, "op": op, "key": key.decode(), "status": m["status"],
               "t0": t0, "t1": t1}
        if value is not None:
            rec["value"] = value.decode()
        if m["status"] == 0 and op != "destroy":
            rec["version"] = m["meta"].get(pc.VERSION, 0)
            rec["lmt"] = m["meta"].get(pc.LMT, 0)
        with lock:
            out.write(json.dumps(rec) + "\n")


def parse_sites(items):
    sites = {}
    for s in items:
        name, rest = s.split("=", 1)
        sites[name] = rest.split(",")
    return sites


def mode_load(a):
    sites = parse_sites(a.site)
    lock = threading.Lock()
    stop_at = time.time() + a.seconds
    with open(a.log, "w") as out:
        ts = []
        for i, (name, v) in enumerate(sorted(sites.items())):
            for j in range(a.threads):
                t = threading.Thread(target=worker, args=(name, v[0], a.seconds, a.keys,
                                                          a.seed * 100 + i * 10 + j, out, lock,
                                                          stop_at))
                t.start()
                ts.append(t)
        for t in ts:
            t.join()
    return 0


def store_addrs(mapfile):
    with open(mapfile) as f:
        m = json.load(f)
    addrs = []
    for z in m["zones"]:
        for n in z["nodes"]:
            addrs.append(n["addr"] if isinstance(n, dict) else n)
    return addrs


def tombstone(mapfile, key):
    """The newest tombstone (version, lmt) among the site's stores, or None."""
    best = None
    for addr in store_addrs(mapfile):
        p = subprocess.run(["juno", "--store", addr, "--map", mapfile, "-n", NS.decode(), "read",
                            "--json", key], capture_output=True, text=True)
        try:
            d = json.loads(p.stdout)
        except ValueError:
            continue
        if d.get("status") == "MarkedDelete":
            t = (d.get("last_modified", 0), d.get("version", 0))
            if best is None or t > best:
                best = t
    return best


def final_state(addr, mapfile, key):
    c = pc.Conn(addr)
    m = c.call("get", NS, key.encode())
    c.close()
    if m["status"] == 0:
        meta = m["meta"]
        return {"live": True, "value": m["value"].decode(errors="replace"),
                "version": meta.get(pc.VERSION, 0), "lmt": meta.get(pc.LMT, 0),
                "ctime": meta.get(pc.CTIME, 0), "etime": meta.get(pc.ETIME, 0),
                "origin": meta.get(pc.ORIGIN, b"").hex()}
    if m["status"] != 3:
        return {"error": pc.STATUS.get(m["status"], str(m["status"]))}
    t = tombstone(mapfile, key)
    return {"live": False, "lmt": t[0] if t else 0, "version": t[1] if t else 0}


def mode_check(a):
    sites = parse_sites(a.site)
    names = sorted(sites)
    writes = []
    with open(a.log) as f:
        for line in f:
            writes.append(json.loads(line))
    keys = sorted({w["key"] for w in writes} | {"k%d" % i for i in range(a.keys)})
    final = {}
    diverged = []
    for k in keys:
        st = {n: final_state(sites[n][0], sites[n][1], k) for n in names}
        first = st[names[0]]
        if any(st[n] != first for n in names) or "error" in first:
            diverged.append({"key": k, **{n: st[n] for n in names}})
        final[k] = first
    res = {"keys": len(keys), "writes_acked": 0, "present": 0, "superseded": 0,
           "concurrent": 0, "lost": 0, "diverged": len(diverged), "by_site": {}}
    lost = []
    for w in writes:
        if w["status"] != 0:
            continue
        res["writes_acked"] += 1
        bs = res["by_site"].setdefault(w["site"], {"present": 0, "superseded": 0})
        f = final[w["key"]]
        if "error" in f:
            continue
        fstamp = (f["lmt"], f["version"])
        if w["op"] == "destroy":
            if not f["live"] and f["lmt"] == 0:
                verdict = "concurrent"  # deleted, but no tombstone left to compare
            elif not f["live"] and w["t0"] <= f["lmt"] <= w["t1"]:
                verdict = "present"  # the final tombstone was stamped while it ran
            elif f["lmt"] > w["t1"]:
                verdict = "superseded"
            elif f["lmt"] < w["t0"]:
                verdict = "lost"
            else:
                verdict = "concurrent"
        else:
            wstamp = (w["lmt"], w["version"])
            if f["live"] and fstamp == wstamp and f["value"] == w["value"]:
                verdict = "present"
            elif fstamp > wstamp:
                verdict = "superseded"
            else:
                verdict = "lost"
        res[verdict] += 1
        if verdict in bs:
            bs[verdict] += 1
        if verdict == "lost":
            lost.append({"write": w, "final": f})
    res["examples_diverged"] = diverged[:5]
    res["examples_lost"] = lost[:5]
    print(json.dumps(res))
    return 1 if diverged or lost else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("repl")
    r.add_argument("addr")
    r.add_argument("op", choices=["set", "destroy"])
    r.add_argument("ns")
    r.add_argument("key")
    r.add_argument("value", nargs="?")
    r.add_argument("--version", type=int, default=0)
    r.add_argument("--lmt", type=int, default=0)
    r.add_argument("--ctime", type=int, default=0)
    r.add_argument("--etime", type=int, default=0)
    r.add_argument("--origin")
    lo = sub.add_parser("load")
    lo.add_argument("--site", action="append", required=True)
    lo.add_argument("--seconds", type=float, required=True)
    lo.add_argument("--keys", type=int, default=50)
    lo.add_argument("--threads", type=int, default=2)
    lo.add_argument("--seed", type=int, default=1)
    lo.add_argument("--log", required=True)
    ch = sub.add_parser("check")
    ch.add_argument("--site", action="append", required=True)
    ch.add_argument("--log", required=True)
    ch.add_argument("--keys", type=int, default=50)
    a = ap.parse_args()
    return {"repl": mode_repl, "load": mode_load, "check": mode_check}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
