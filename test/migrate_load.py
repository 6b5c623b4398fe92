#!/usr/bin/env python3
"""migrate_load.py: a steady write load through juno-proxy that remembers every
acknowledged write, for test/juno-migrate.bats.

  migrate_load.py HOST:PORT run --stop FILE --model FILE [--threads 4] [--keys 2000]
      set (and now and then destroy) random keys until FILE exists; every
      acknowledged write goes into the model (key -> latest value, or null
      once destroyed); prints {"ops":N,"errors":E,"samples":[...]} and writes
      the model as JSON. Exit 1 if any request failed.
  migrate_load.py HOST:PORT check --model FILE
      read every key of the model back: the latest acknowledged value, and
      NoKey for a destroyed key (nothing lost, nothing resurrected). Prints
      {"keys":N,"bad":B,"samples":[...]}; exit 1 if B > 0.
"""
import argparse
import json
import os
import random
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxy_client import STATUS, Conn  # noqa: E402

NS = b"migrate"


def run(addr, stop, model_path, threads, keys):
    model, lock = {}, threading.Lock()
    stats = {"ops": 0, "errors": 0, "samples": []}

    def worker(t):
        c = Conn(addr, timeout=10.0)
        rnd = random.Random(t)
        i = 0
        while not os.path.exists(stop):
            k = "t%d-k%d" % (t, rnd.randrange(keys))  # each thread owns its keys: no races
            i += 1
            if rnd.random() < 0.1:
                r = c.call("destroy", NS, k.encode())
                ok = r["status"] in (0, 3)
                val = None
            else:
                val = "v%d-%d" % (t, i)
                r = c.call("set", NS, k.encode(), val.encode())
                ok = r["status"] == 0
            with lock:
                stats["ops"] += 1
                if ok:
                    model[k] = val
                else:
                    stats["errors"] += 1
                    model[k] = "?"  # unknown outcome: not checked
                    if len(stats["samples"]) < 10:
                        stats["samples"].append("%s: %s" % (k, STATUS.get(r["status"])))

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(model_path, "w") as f:
        json.dump(model, f)
    print(json.dumps(stats))
    return 1 if stats["errors"] or stats["ops"] == 0 else 0


def check(addr, model_path):
    with open(model_path) as f:
        model = json.load(f)
    c = Conn(addr, timeout=10.0)
    bad, samples = 0, []
    for k, want in model.items():
        if want == "?":
            continue
        r = c.call("get", NS, k.encode())
        if want is None:
            good = r["status"] == 3
        else:
            good = r["status"] == 0 and r.get("value") == want.encode()
        if not good:
            bad += 1
            if len(samples) < 10:
                samples.append("%s: want %r, got %s %r" % (k, want, STATUS.get(r["status"]),
                                                          r.get("value")))
    print(json.dumps({"keys": len(model), "bad": bad, "samples": samples}))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("mode", choices=["run", "check"])
    ap.add_argument("--stop")
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--keys", type=int, default=2000)
    a = ap.parse_args()
    if a.mode == "run":
        return run(a.addr, a.stop, a.model, a.threads, a.keys)
    return check(a.addr, a.model)


if __name__ == "__main__":
    sys.exit(main())
