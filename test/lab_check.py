#!/usr/bin/env python3
"""lab_check.py: check a history recorded by test/lab_workload.py against what
docs/consistency.md promises, and compute a trial's figures.

  lab_check.py HISTORY [--events FILE] [--fault NAME] [--died H1,H2]
               [--may-die HOST] [--note TEXT] [--known KIND] [--json OUT]
               [--proxy-log FILE] [--max-steps N]
  lab_check.py --table RESULT.json...     the figures of several trials, as a
                                          markdown table

Every operation has an outcome: ok (the cluster answered: Ok, or a definite
"no": NoKey, DupKey, VersionConflict), failed (NoStorageServer, RecordLocked,
a refused connection: nothing was written) or unknown (a timeout, a closed
connection, Busy, CommitFailure: it may or may not have been written, and may
still be, with no time limit). A write's effect follows: yes (Ok), no (a
definite failure or "no", with no earlier attempt left in doubt), maybe.

Promised (docs/consistency.md; a failure exits 1):
  P1 read your writes: a read returns the value of a write that may have
     taken effect before it ended and that no acknowledged write replaced
     before the read began (a write W' replaces W when W' started after W
     ended). The final reads after heal apply the same rule: an acknowledged
     write lost, or a deleted key back, fails here.
  P2 no effect: a write answered NoStorageServer, RecordLocked or a definite
     "no" (DupKey, NoKey, VersionConflict) is never read.
  P3 compare-and-set: on each counter the writes (set, and conditional
     updates whose effect is yes or maybe) are linearizable for a register
     with versions: no two acknowledged increments from the same version, no
     increment lost or counted twice (the final value n satisfies
     acked <= n <= acked + maybe).
  P4 no daemon died (--died), except a host named by --may-die.
  and no "violation" event from bin/juno-lab (a migration that dropped shards
  a proxy still routed to).
Recovery after heal, two figures: clients (from heal to the end of the last
operation begun after heal that did not get a definite answer) and proxies
(--proxy-log, each proxy's log: from heal until every store it marked down
is in use again).

--known KIND (lost, resurrected, stale, phantom, no-effect, counter, died,
lab) reports the broken promises of that kind without failing: for a bug
that is known and being fixed, so that a test still fails on every other.

Reported, not failed (not promised, docs/consistency.md "What is not
guaranteed"): whether each counter's whole history, reads and
VersionConflict answers included, is linearizable.

Linearizability is decided by the Wing-Gong-Lowe search with memoization of
(linearized set, state), as in Knossos and Porcupine; the state is the set of
(version, value) the register may hold, so an operation of unknown outcome
either takes effect (any time after its start) or not. A search over
--max-steps steps (default 2,000,000) is reported inconclusive.
"""
import argparse
import json
import math
import sys

INF = math.inf
WRITES = ("set", "create", "update", "delete", "cas")
ANSWERED = {"Ok", "NoKey", "DupKey", "VersionConflict"}
NO_EFFECT = {"NoKey", "DupKey", "VersionConflict", "NoStorageServer", "RecordLocked", "BadParam",
             "refused"}
FAILED = {"NoStorageServer", "RecordLocked", "BadParam", "refused"}


def outcome(op):
    st = op.get("status")
    if st in ANSWERED:
        return "ok"
    if st in FAILED and not op.get("uncertain"):
        return "failed"
    return "unknown"


def effect(op):
    """yes / no / maybe for a write."""
    st = op.get("status")
    if st == "Ok":
        return "yes"
    if st in NO_EFFECT and not op.get("uncertain"):
        return "no"
    return "maybe"


def is_counter(key):
    return key.startswith("c")


# ---- P1 and P2: reads against the writes -------------------------------------

def check_reads(ops):
    """Yields (kind, message) for each read that breaks P1 or P2.
    kinds: lost (final read: an acknowledged write not there), resurrected
    (a deleted key read back), stale (a read older than an acknowledged
    write), phantom (a value never written), no-effect (P2)."""
    bykey = {}
    for op in ops:
        bykey.setdefault(op["key"], []).append(op)
    for key, kops in sorted(bykey.items()):
        writes = [w for w in kops if w["op"] in WRITES]
        acked = [w for w in writes if effect(w) == "yes"]
        for w in writes:
            w["_eff"] = effect(w)
            w["_end"] = w["end"] if w["_eff"] == "yes" else INF
        for r in kops:
            if r["op"] != "get" or r.get("status") not in ("Ok", "NoKey"):
                continue
            if r["status"] == "Ok":
                sources = [w for w in writes if w["op"] != "delete" and w["value"] == r["value"]]
            else:
                sources = [w for w in writes if w["op"] == "delete"]
                sources.append({"op": "init", "start": -INF, "end": -INF, "_end": -INF,
                                "_eff": "yes"})

            def replaced(s):
                return any(a is not s and a["start"] > s["_end"] and a["end"] < r["start"]
                           for a in acked)

            cands = [s for s in sources if s["start"] <= r["end"] and not replaced(s)]
            if any(s["_eff"] != "no" for s in cands):
                continue
            what = "%s read %s%s at %.3f-%.3f" % (
                "final" if r.get("final") else "a", key,
                " = %r" % r["value"] if r["status"] == "Ok" else " as missing (NoKey)",
                r["start"], r["end"])
            if cands:
                yield "no-effect", "%s: the value of write %s, answered %s" % (
                    what, cands[0]["id"], cands[0]["status"])
                continue
            if r["status"] == "Ok" and not [s for s in sources if s["start"] <= r["end"]]:
                yield "phantom", "%s: no write of that value began before" % what
                continue
            before = [a for a in acked if a["end"] < r["start"]]
            last = max(before, key=lambda a: a["end"]) if before else None
            if last is not None and last["op"] == "delete" and r["status"] == "Ok":
                kind = "resurrected"
            elif r.get("final"):
                kind = "lost"
            else:
                kind = "stale"
            yield kind, "%s; the last acknowledged write before it: %s %s %s" % (
                what, last and last["id"], last and last["op"], last and last.get("value"))


# ---- linearizability: Wing-Gong-Lowe with memoization ------------------------

def wgl(ops, step, init, max_steps):
    """True if ops (dicts with start, end: INF for an unknown outcome) can be
    linearized from state init under step(state, op) -> new state or None;
    False if not; None if the search went past max_steps."""
    n = len(ops)
    if n == 0:
        return True
    ev = []
    for i, op in enumerate(ops):
        ev.append((op["start"], 0, i))
        ev.append((op["end"], 1, i))
    ev.sort(key=lambda e: (e[0], e[1]))  # a call before a return at the same time
    # a doubly linked list of entries; entry 0 is the head
    m = len(ev) + 1
    nxt = list(range(1, m + 1))
    nxt[m - 1] = -1
    prv = list(range(-1, m - 1))
    opi = [-1] * m
    call = [False] * m
    match = [0] * m
    ret_of = {}
    for k, (_, kind, i) in enumerate(ev, start=1):
        opi[k] = i
        call[k] = kind == 0
        if kind == 1:
            ret_of[i] = k
    for k in range(1, m):
        if call[k]:
            match[k] = ret_of[opi[k]]

    def lift(k):
        for e in (k, match[k]):
            nxt[prv[e]] = nxt[e]
            if nxt[e] != -1:
                prv[nxt[e]] = prv[e]

    def unlift(k):
        for e in (match[k], k):
            nxt[prv[e]] = e
            if nxt[e] != -1:
                prv[nxt[e]] = e

    state, lin = init, 0
    cache = set()
    stack = []
    entry = nxt[0]
    steps = 0
    while nxt[0] != -1:
        steps += 1
        if steps > max_steps:
            return None
        if call[entry]:
            new = step(state, ops[opi[entry]])
            if new is not None:
                nl = lin | (1 << opi[entry])
                if (nl, new) not in cache:
                    cache.add((nl, new))
                    stack.append((entry, state))
                    state, lin = new, nl
                    lift(entry)
                    entry = nxt[0]
                    continue
            entry = nxt[entry]
        else:
            if not stack:
                return False
            entry, state = stack.pop()
            lin &= ~(1 << opi[entry])
            unlift(entry)
            entry = nxt[entry]
    return True


def register_step(full):
    """The step of a register holding (version, value), or None (absent),
    over a set of possible states. full: reads and VersionConflict answers
    constrain the state too."""

    def one(s, op):
        kind, eff = op["op"], op["_eff"]
        if kind == "get":
            if op["status"] == "NoKey":
                return [s] if s is None else []
            return [s] if s is not None and s == (op.get("got_version"), op["value"]) else []
        if eff == "no":  # only VersionConflict reaches here (full model)
            return [s] if s is None or s[0] != op["version"] else []
        if kind == "set":
            new = ((s[0] + 1) if s is not None else 1, op["value"])
        elif kind == "cas":
            new = (op["version"] + 1, op["value"]) if s is not None and s[0] == op["version"] \
                else None
        else:
            return [s]
        out = [new] if new is not None else []
        if eff == "maybe":
            out.append(s)
        return out

    def step(states, op):
        out = set()
        for s in states:
            out.update(one(s, op))
        return frozenset(out) if out else None

    return step


def counter_ops(kops, full):
    """The operations of one counter the search takes, with end = INF for an
    unknown outcome."""
    out = []
    for op in kops:
        if op["op"] == "get":
            if not full or op.get("status") not in ("Ok", "NoKey"):
                continue
            e = dict(op, _eff="yes")
        elif op["op"] in ("set", "cas"):
            eff = effect(op)
            if eff == "no" and not (full and op.get("status") == "VersionConflict"
                                    and op["op"] == "cas"):
                continue
            e = dict(op, _eff=eff)
            if eff == "maybe":
                e["end"] = INF
        else:
            continue
        out.append(e)
    return out


def check_counters(ops, max_steps):
    """(violations, reports, figures) for the counter keys."""
    bykey = {}
    for op in ops:
        if is_counter(op["key"]):
            bykey.setdefault(op["key"], []).append(op)
    viol, rep = [], []
    fig = {"counters": len(bykey), "increments_acked": 0, "increments_maybe": 0,
           "linearizable": "yes"}
    for key, kops in sorted(bykey.items()):
        cas = [o for o in kops if o["op"] == "cas"]
        acked = [o for o in cas if effect(o) == "yes"]
        maybe = [o for o in cas if effect(o) == "maybe"]
        fig["increments_acked"] += len(acked)
        fig["increments_maybe"] += len(maybe)
        seen, dup = {}, False
        for o in acked:
            if o["value"] in seen:
                viol.append(("counter", "%s: increments %s and %s both acknowledged writing %s" % (
                    key, seen[o["value"]], o["id"], o["value"])))
                dup = True
            seen[o["value"]] = o["id"]
        finals = [o for o in kops if o.get("final") and o.get("status") == "Ok"]
        if finals and finals[-1]["value"].isdigit():
            n = int(finals[-1]["value"])
            if n < len(acked):
                viol.append(("counter", "%s: final value %d, but %d increments were acknowledged"
                             " (%d lost)" % (key, n, len(acked), len(acked) - n)))
            elif n > len(acked) + len(maybe):
                viol.append(("counter", "%s: final value %d, more than %d acknowledged + %d of"
                             " unknown outcome (counted twice)" % (key, n, len(acked),
                                                                  len(maybe))))
        init = frozenset([None])
        # two acknowledged increments from one version: not linearizable, and
        # no search needed (one that fails runs to its step budget)
        w = False if dup else wgl(counter_ops(kops, False), register_step(False), init, max_steps)
        if w is False:
            viol.append(("counter", "%s: the writes (set and conditional updates) are not"
                         " linearizable" % key))
        elif w is None:
            rep.append("%s: writes-only linearizability inconclusive after %d steps" % (
                key, max_steps))
        f = False if w is False else wgl(counter_ops(kops, True), register_step(True), init,
                                         max_steps)
        if f is False:
            rep.append("%s: the whole history (reads included) is not linearizable" % key)
            fig["linearizable"] = "no"
        elif f is None:
            rep.append("%s: linearizability inconclusive after %d steps" % (key, max_steps))
            if fig["linearizable"] == "yes":
                fig["linearizable"] = "inconclusive"
    return viol, rep, fig


# ---- figures ---------------------------------------------------------------

def figures(ops, events):
    t_fault = next((e["t"] for e in events if e["event"] == "fault"), None)
    t_heal = next((e["t"] for e in events if e["event"] == "heal"), None)
    work = [o for o in ops if not o.get("final")]
    fig = {"attempted": len(work)}
    for k in ("ok", "failed", "unknown"):
        fig[k] = sum(1 for o in work if outcome(o) == k)
    fig["writes_acked"] = sum(1 for o in work if o["op"] in WRITES and effect(o) == "yes")
    if t_fault is not None:
        end = t_heal if t_heal is not None else INF
        during = [o for o in work if t_fault <= o["start"] < end]
        ok = sum(1 for o in during if outcome(o) == "ok")
        fig["during_fault"] = {"attempted": len(during), "ok": ok,
                               "seconds": round((t_heal or t_fault) - t_fault, 1)}
        fig["availability"] = round(ok / len(during), 4) if during else None
    if t_heal is not None:
        bad = [o["end"] for o in work if o["start"] >= t_heal and outcome(o) != "ok"]
        fig["recovery_s"] = round(max(bad) - t_heal, 2) if bad else 0.0
    lat = sorted(o["end"] - o["start"] for o in work)
    oklat = sorted(o["end"] - o["start"] for o in work if outcome(o) == "ok")
    fig["worst_latency_ms"] = round(lat[-1] * 1000, 1) if lat else None
    fig["p99_ok_latency_ms"] = round(oklat[int(0.99 * (len(oklat) - 1))] * 1000, 1) \
        if oklat else None
    return fig


def proxy_recovery(paths, events):
    """Seconds from heal until every store a proxy marked down (its log:
    "store marked down addr=A", then "store recovered" or "store back up")
    is in use again, over all proxies; None if one is still down at the end
    of its log; 0.0 if none was down at heal."""
    import datetime
    t_heal = next((e["t"] for e in events if e["event"] == "heal"), None)
    if t_heal is None or not paths:
        return 0.0
    worst = 0.0
    for path in paths:
        down = {}  # addr -> down since
        back = {}  # addr -> when it came back after heal
        try:
            lines = open(path, errors="replace").read().splitlines()
        except OSError:
            continue
        for line in lines:
            if "store marked down" not in line and "store recovered" not in line and \
                    "store back up" not in line:
                continue
            try:
                t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
            except ValueError:
                continue
            addr = line.split("addr=", 1)[1].split()[0] if "addr=" in line else "?"
            if "store marked down" in line:
                down.setdefault(addr, t)
            else:
                down.pop(addr, None)
                if t >= t_heal:
                    back[addr] = t
        if down and any(t <= t_heal for t in down.values()):
            return None
        if back:
            worst = max(worst, max(back.values()) - t_heal)
    return round(worst, 2)


def check(ops, events, died, may_die, max_steps):
    viol, rep = [], []
    counts = {}
    for kind, msg in check_reads(ops):
        counts[kind] = counts.get(kind, 0) + 1
        viol.append((kind, msg))
    cv, cr, cfig = check_counters(ops, max_steps)
    viol += cv
    rep += cr
    for e in events:
        if e["event"] == "violation":
            viol.append(("lab", e.get("what", "?")))
    for h in died:
        if h in may_die:
            rep.append("%s died (expected: see the note)" % h)
        else:
            viol.append(("died", "%s died" % h))
    fig = figures(ops, events)
    fig.update(cfig)
    fig["lost_acked_writes"] = counts.get("lost", 0) + counts.get("resurrected", 0)
    fig["stale_reads"] = counts.get("stale", 0)
    fig["phantom_reads"] = counts.get("phantom", 0)
    fig["no_effect_visible"] = counts.get("no-effect", 0)
    fig["died"] = list(died)
    return viol, rep, fig


def load(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


# ---- the table ---------------------------------------------------------------

COLUMNS = ["fault", "ops", "acked writes", "failed", "unknown", "available during fault",
           "acked writes lost", "stale reads", "counters", "recovery after heal",
           "worst latency", "daemons died", "verdict"]


def recovery(f):
    if f.get("recovery_s") is None:
        return "-"
    p = f.get("proxies_recovered_s", 0.0)
    return "clients %.1f s, proxies %s" % (f["recovery_s"], "not within the quiet period"
                                           if p is None else "%.1f s" % p)


def row(r):
    f = r["figures"]
    av = f.get("availability")
    lin = "%d incr., %s" % (f["increments_acked"], {"yes": "linearizable", "no": "not linearizable",
                                                    "inconclusive": "inconclusive"}
                            [f["linearizable"]])
    d = f.get("during_fault", {})
    verdict = "pass" if not r["violations"] else "FAIL (%d)" % len(r["violations"])
    if r.get("known"):
        verdict += " (%d known-bug violations)" % len(r["known"])
    if r.get("note"):
        verdict += "; " + r["note"]
    return [r["fault"], str(f["attempted"]), str(f["writes_acked"]), str(f["failed"]),
            str(f["unknown"]),
            "-" if av is None else "%.1f%% of %d (%.0f s)" % (100 * av, d.get("attempted", 0),
                                                             d.get("seconds", 0)),
            str(f["lost_acked_writes"]), str(f["stale_reads"]), lin,
            recovery(f),
            "%.0f ms" % f["worst_latency_ms"] if f.get("worst_latency_ms") is not None else "-",
            ", ".join(f["died"]) or "none", verdict]


def table(paths):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for p in paths:
        try:
            with open(p) as f:
                r = json.load(f)
            lines.append("| " + " | ".join(row(r)) + " |")
        except (OSError, ValueError, KeyError) as e:
            lines.append("| %s | (no result: %s) |" % (p, e))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("history", nargs="*")
    ap.add_argument("--events")
    ap.add_argument("--fault", default="none")
    ap.add_argument("--died", default="")
    ap.add_argument("--may-die", action="append", default=[])
    ap.add_argument("--note", default="")
    ap.add_argument("--known", action="append", default=[])
    ap.add_argument("--proxy-log", action="append", default=[])
    ap.add_argument("--json")
    ap.add_argument("--max-steps", type=int, default=2000000)
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    if args.table:
        print(table(args.history))
        return 0
    if len(args.history) != 1:
        ap.error("one HISTORY file")
    try:
        ops = load(args.history[0])
        events = load(args.events) if args.events else []
    except (OSError, ValueError) as e:
        print("lab_check.py: error: unable to read the history: %s" % e, file=sys.stderr)
        return 65
    died = [d for d in args.died.split(",") if d]
    viol, rep, fig = check(ops, events, died, set(args.may_die), args.max_steps)
    # a known bug, being fixed: reported, not failed (--known KIND)
    known = [v for v in viol if v[0] in args.known]
    viol = [v for v in viol if v[0] not in args.known]
    fig["known_bugs"] = len(known)
    fig["proxies_recovered_s"] = proxy_recovery(args.proxy_log, events)
    res = {"fault": args.fault, "figures": fig, "violations": ["%s: %s" % v for v in viol],
           "known": ["%s: %s" % v for v in known], "reports": rep, "note": args.note}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    print(json.dumps({"fault": args.fault, "verdict": "fail" if viol else "pass",
                      "figures": fig}))
    for v in res["violations"][:20]:
        print("BROKEN PROMISE " + v)
    if len(viol) > 20:
        print("... and %d more broken promises" % (len(viol) - 20))
    for k in res["known"][:20]:
        print("KNOWN BUG (broken promise, --known) " + k)
    for r in rep[:20]:
        print("report (not promised): " + r)
    return 1 if viol else 0


if __name__ == "__main__":
    sys.exit(main())
