#!/usr/bin/env python3
"""backup_load.py: a write load through juno-proxy that logs when each write
was acknowledged, for test/juno-backup.bats.

  backup_load.py HOST:PORT run --stop FILE --log FILE [--threads 3] [--keys 300]
      set (some with a TTL) and now and then destroy random keys until FILE
      exists; each thread owns its keys, so each key's writes are in order.
      Writes the log: [[key, value or null, start_ns, ack_ns or null], ...].
      Exit 1 if no write was acknowledged.
  backup_load.py HOST:PORT check --log FILE --t0 NS
      a backup taken at t0 (wall clock, ns) was restored behind HOST:PORT:
      every key with a write acknowledged before t0 must read back as the
      last such write, or as a write that came after it (the backup may
      hold writes made while it ran); a destroy as NoKey. Prints
      {"keys":N,"checked":C,"bad":B,"samples":[...]}; exit 1 if B > 0.
"""
import argparse
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxy_client import STATUS, Conn  # noqa: E402

NS = b"default"


def run(addr, stop, log_path, threads, keys):
    log, lock = [], threading.Lock()

    def worker(t):
        c = Conn(addr, timeout=10.0)
        rnd = random.Random(t)
        i = 0
        while not os.path.exists(stop):
            k = "b%d-%d" % (t, rnd.randrange(keys))
            i += 1
            t0 = time.time_ns()
            if rnd.random() < 0.1:
                r = c.call("destroy", NS, k.encode())
                val, ok = None, r["status"] in (0, 3)
            else:
                val = "v%d-%d" % (t, i)
                r = c.call("set", NS, k.encode(), val.encode(), ttl=3600 if i % 5 == 0 else 0)
                ok = r["status"] == 0
            with lock:
                log.append([k, val, t0, time.time_ns() if ok else None])

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(log_path, "w") as f:
        json.dump(log, f)
    acked = sum(1 for e in log if e[3] is not None)
    print(json.dumps({"ops": len(log), "acked": acked}))
    return 0 if acked else 1


def check(addr, log_path, t0):
    with open(log_path) as f:
        log = json.load(f)
    by_key = {}
    for e in log:  # the log is in ack order per thread, and a thread owns its keys
        by_key.setdefault(e[0], []).append(e)
    c = Conn(addr, timeout=10.0)
    checked = bad = 0
    samples = []
    for k, ops in by_key.items():
        last = max((i for i, e in enumerate(ops) if e[3] is not None and e[3] < t0), default=None)
        if last is None:
            continue  # nothing acknowledged before the backup began
        allowed = {ops[i][1] for i in range(last, len(ops))}
        r = c.call("get", NS, k.encode())
        got = r.get("value").decode() if r["status"] == 0 else None
        checked += 1
        if r["status"] not in (0, 3) or got not in allowed:
            bad += 1
            if len(samples) < 10:
                samples.append("%s: %s %r, allowed %r" % (k, STATUS.get(r["status"]), got,
                                                          sorted(map(str, allowed))))
    print(json.dumps({"keys": len(by_key), "checked": checked, "bad": bad, "samples": samples}))
    return 1 if bad or checked == 0 else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("mode", choices=["run", "check"])
    ap.add_argument("--stop")
    ap.add_argument("--log", required=True)
    ap.add_argument("--threads", type=int, default=3)
    ap.add_argument("--keys", type=int, default=300)
    ap.add_argument("--t0", type=int)
    a = ap.parse_args()
    if a.mode == "run":
        return run(a.addr, a.stop, a.log, a.threads, a.keys)
    return check(a.addr, a.log, a.t0)


if __name__ == "__main__":
    sys.exit(main())
