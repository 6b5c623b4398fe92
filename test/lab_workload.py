#!/usr/bin/env python3
"""lab_workload.py: a mixed JunoDB-protocol workload that records every
operation, for bin/juno-lab trials; test/lab_check.py checks the record.

  lab_workload.py HOST:PORT --history FILE --stop FILE [--threads 4] [--rate 200]
                  [--keys 64] [--counters 4] [--seed N] [--namespace NS]
                  [--timeout 2.5] [--retries 2] [--max-seconds 600]

Keys live in namespace NS, by default a new one for each run ("lab-" and 12
random hex digits), so that a run starts from no keys at all.

Setup: the counters c0..cN-1 are set to "0". Then each thread, until FILE
--stop exists (or --max-seconds pass), at --rate operations per second in all:
  35%  a counter increment: get the counter (its version V and value n), then
       a conditional update to n+1 if the version is still V
  65%  on a regular key k0..kK-1: get, set, create, update or destroy, each
       write with a value no other write has ("<thread>-<seq>")
Then the final reads: every key and counter is read once (retried until the
cluster answers, 60 s at most), marked "final".

Every operation is one JSON line in the history: id, proc (thread), op (set,
create, update, delete, get, cas), key, value (written, or read: null for
NoKey), version (cas: the version expected), got_version, start and end (unix
seconds; end is when the last attempt ended), status (the last attempt's
status name, or timeout / closed / refused), attempts, uncertain (an attempt
before the last one ended without a definite answer), final.

A request that gets no definite answer (timeout, connection closed, Busy,
RecordLocked, NoStorageServer, CommitFailure) is sent again with the same
request id, up to --retries times (a replay of a write that was applied is
answered Ok, JunoDB's idempotent retry). Prints a summary as JSON; exit 0, or
2 when the setup could not write the counters.
"""
import argparse
import json
import os
import random
import socket
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxy_client import LMT, STATUS, VERSION, Conn  # noqa: E402,F401

RETRY = {"timeout", "closed", "refused", "Busy", "RecordLocked", "NoStorageServer",
         "CommitFailure", "ReqProcTimeout"}
DEFINITE = {"Ok", "NoKey", "DupKey", "VersionConflict", "NoStorageServer", "RecordLocked",
            "BadParam", "refused"}


class Client:
    """One connection (re-made after a failure) and the history it writes."""

    def __init__(self, args, hist, proc):
        self.addr, self.timeout, self.retries = args.addr, args.timeout, args.retries
        self.ns = args.namespace.encode()
        self.hist, self.proc = hist, proc
        self.conn = None
        self.seq = 0

    def attempt(self, op, key, value, version, rid):
        if self.conn is None:
            try:
                self.conn = Conn(self.addr, timeout=self.timeout)
            except OSError:
                return "refused", None
        wire = {"cas": "update", "delete": "destroy"}.get(op, op)
        try:
            r = self.conn.call(wire, self.ns, key.encode(),
                               value.encode() if value is not None else None,
                               version=version or 0, rid=rid)
        except socket.timeout:
            self.conn.close()
            self.conn = None
            return "timeout", None
        except (OSError, ConnectionError, ValueError):
            self.conn.close()
            self.conn = None
            return "closed", None
        return STATUS.get(r["status"], str(r["status"])), r

    def do(self, op, key, value=None, version=None, final=False, patience=0.0):
        """One operation, retried with the same request id; recorded."""
        self.seq += 1
        rid = uuid.uuid4().bytes
        start = time.time()
        attempts, uncertain, st, r = 0, False, None, None
        while True:
            attempts += 1
            st, r = self.attempt(op, key, value, version, rid)
            if st not in RETRY:
                break
            more = attempts <= self.retries or time.time() - start < patience
            if not more:
                break
            if st not in DEFINITE:
                uncertain = True
            time.sleep(min(0.05 * (2 ** min(attempts, 5)), 1.0))
        end = time.time()
        rec = {"id": "%d-%d" % (self.proc, self.seq), "proc": self.proc, "op": op, "key": key,
               "value": value, "start": start, "end": end, "status": st,
               "attempts": attempts, "uncertain": uncertain, "final": final}
        if version is not None:
            rec["version"] = version
        if r is not None:
            rec["got_version"] = r["meta"].get(VERSION)
            if op == "get":
                rec["value"] = r["value"].decode(errors="replace") if st == "Ok" else None
        self.hist.write(rec)
        return st, rec


class History:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()
        self.counts = {}

    def write(self, rec):
        line = json.dumps(rec, separators=(",", ":"))
        with self.lock:
            self.f.write(line + "\n")
            self.counts[rec["status"]] = self.counts.get(rec["status"], 0) + 1


def worker(args, hist, proc, stop_at):
    rnd = random.Random(args.seed * 1000 + proc)
    c = Client(args, hist, proc)
    interval = args.threads / float(args.rate)
    nxt = time.time()
    n = 0
    while not os.path.exists(args.stop) and time.time() < stop_at:
        now = time.time()
        if nxt > now:
            time.sleep(nxt - now)
        nxt = max(nxt + interval, time.time() - 1.0)
        n += 1
        if rnd.random() < 0.35:
            key = "c%d" % rnd.randrange(args.counters)
            st, rec = c.do("get", key)
            if st == "Ok" and rec.get("got_version") and (rec["value"] or "").isdigit():
                c.do("cas", key, str(int(rec["value"]) + 1), version=rec["got_version"])
            continue
        key = "k%d" % rnd.randrange(args.keys)
        value = "%d-%d" % (proc, n)
        op = rnd.choices(["get", "set", "create", "update", "delete"], [35, 30, 15, 10, 10])[0]
        c.do(op, key, None if op in ("get", "delete") else value)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("addr")
    ap.add_argument("--history", required=True)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--keys", type=int, default=64)
    ap.add_argument("--counters", type=int, default=4)
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--namespace", default="lab-%s" % uuid.uuid4().hex[:12])
    ap.add_argument("--timeout", type=float, default=2.5)
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args()
    hist = History(args.history)
    began = time.time()
    setup = Client(args, hist, 0)
    for i in range(args.counters):
        st, _ = setup.do("set", "c%d" % i, "0", patience=30.0)
        if st != "Ok":
            print(json.dumps({"error": "cannot set counter c%d: %s" % (i, st)}))
            return 2
    stop_at = began + args.max_seconds
    ts = [threading.Thread(target=worker, args=(args, hist, p, stop_at))
          for p in range(1, args.threads + 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    # the final reads: every key once, retried until the cluster answers
    fin = Client(args, hist, args.threads + 1)
    keys = ["k%d" % i for i in range(args.keys)] + ["c%d" % i for i in range(args.counters)]
    for k in keys:
        fin.do("get", k, final=True, patience=60.0)
    print(json.dumps({"seed": args.seed, "namespace": args.namespace, "seconds": round(time.time() - began, 1),
                      "statuses": hist.counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
