#!/usr/bin/env bash
# bench/migrate.sh: how fast juno-migrate moves data, and what a migration
# costs foreground requests. Prints a markdown table for docs/benchmarks.md.
#
#   bench/migrate.sh [N]      N records of $VALUE bytes (default 100) loaded first
#                             (default 1000000); RATE, SECS, LIMIT, PARALLEL below;
#                             STORE_OPTS are added to both stores' options
#                             (e.g. "--busy-copy-rate 16")
#
# One zone on disk (--sync batch): s1 holds every shard; a proxy in front.
#   idle          juno-bench through the proxy, open loop (RATE req/s, set+get),
#                 no migration: p50/p99
#   unthrottled   add s2 (half the shards move s1 -> s2), no foreground load:
#                 MB/s of record data (keys + stored values) over the copy
#                 phase (juno-migrate start -> every move verified)
#   under load    the same add/remove cycles, back to back, while juno-bench
#                 runs at RATE: MB/s, and the foreground p50/p99 during them
#                 (the source slows its copy to --busy-copy-rate meanwhile)
# s2 starts empty before each add. Needs: make all.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RATE=${RATE:-2000}
VALUE=${VALUE:-100} # value bytes
SECS=${SECS:-10}
LIMIT=${LIMIT:-10} # MB/s for the rate-limited runs
BUILD=${BUILD:-build}
export PATH="$PWD/$BUILD:$PATH"
[ -x "$BUILD/juno-migrate" ] && [ -x "$BUILD/juno-bench" ] || make -s -j2 all

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port
wait_up() { for _ in $(seq 200); do juno --store "$1" --timeout 200 nop >/dev/null 2>&1 && return; sleep 0.05; done; exit 69; }

S1=127.0.0.1:$(free_port) S2=127.0.0.1:$(free_port) PROXY=127.0.0.1:$(free_port)
MAP=$TMP/map.json MAP2=$TMP/map2.json
juno-ring init --cluster bench --shards 1024 --zone "z0=s1@$S1" >"$MAP"
juno-store --listen "$S1" --map "$MAP" --data "$TMP/s1" ${STORE_OPTS:-} >/dev/null 2>"$TMP/s1.log" &
S1PID=$!
PIDS+=($S1PID)
wait_up "$S1"
juno-proxy --listen "$PROXY" --map "$MAP" >/dev/null 2>"$TMP/proxy.log" &
PPID_=$!
PIDS+=($PPID_)
sleep 0.5

echo "loading $N records of $VALUE bytes ..." >&2
juno-bench --store -s "$S1" --shards 1024 -t set -n "$N" -r "$N" -c 4 -P 64 -d "$VALUE" >/dev/null

S2PID=
start_s2() { # a fresh, empty s2 reading MAP2
    rm -rf "$TMP/s2"
    juno-store --listen "$S2" --map "$MAP2" --data "$TMP/s2" ${STORE_OPTS:-} >/dev/null 2>>"$TMP/s2.log" &
    S2PID=$!
    PIDS+=($S2PID)
    wait_up "$S2"
}
stop_s2() { kill "$S2PID"; wait "$S2PID" 2>/dev/null || true; }

# migrate PLANARGS...: plan from MAP and run it (in this shell, so that s2's PID
# stays known); its JSON events are appended to $TMP/events.json. Nothing
# else runs meanwhile (no interpreter starts): the foreground sees the
# migration, not this script.
migrate() {
    juno-ring plan "$MAP" "$@" --json --out "$MAP2" >"$TMP/plan.json"
    if [ "$1" = --add ]; then start_s2; fi
    local reload="--reload $S1PID --reload $PPID_"
    [ -n "$S2PID" ] && kill -0 "$S2PID" 2>/dev/null && reload="$reload --reload $S2PID"
    # shellcheck disable=SC2086
    juno-migrate "$TMP/plan.json" --map-file "$MAP" --map-file "$MAP2" $reload --json --drain-ms 100 \
        --yes --parallel "${PARALLEL:-16}" ${MIGRATE_OPTS:-} >>"$TMP/events.json"
    if [ "$1" = --remove ]; then stop_s2; fi
}

# moved: of the migrations in $TMP/events.json, "MB/s count MB" (record bytes
# over the copy phases; MB per migration)
moved() {
    python3 - "$TMP/events.json" <<'EOF'
import json, sys
runs = []  # [bytes per zone, copy seconds] per migration
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] == "start":
        runs.append([{}, 0])
    elif e["event"] == "progress":
        runs[-1][0][e["zone"]] = e["bytes"]  # the last one per zone has the totals
    elif e["event"] == "verified":
        runs[-1][1] = e["elapsed_s"]  # start -> every move verified
b = sum(sum(r[0].values()) for r in runs)
t = sum(r[1] for r in runs)
print("%.0f %d %.1f" % (b / 1048576 / t, len(runs), b / 1048576 / len(runs)))
EOF
}

bench_fg() { # seconds -> "p50 p99 errors" (ms) in $TMP/fg.out
    juno-bench -s "$PROXY" -t set,get -c 8 -R "$RATE" -D "$1" -r 100000 -d 100 --json >"$TMP/fg.json"
    python3 - "$TMP/fg.json" >"$TMP/fg.out" <<'EOF'
import json, sys
tests = json.load(open(sys.argv[1]))["tests"]
p50 = max(t["latency_ms"]["p50"] for t in tests)
p99 = max(t["latency_ms"]["p99"] for t in tests)
print("%.2f %.2f %d" % (p50, p99, sum(t["errors"] for t in tests)))
EOF
}

now() { date +%s.%N; }

echo "idle foreground ..." >&2
bench_fg "$SECS"
read -r IDLE50 IDLE99 IDLEERR <"$TMP/fg.out"

echo "unthrottled, no load ..." >&2
: >"$TMP/events.json"
migrate --add "z0=s2@$S2"
read -r MBS_UNTHROTTLED _ MB < <(moved)
migrate --remove "z0=s2"

# loaded_runs: add/remove cycles back to back while juno-bench runs for SECS
# (MIGRATE_OPTS applies); sets RUNS, MBS, P50, P99, ERRS
loaded_runs() {
    bench_fg "$SECS" &
    local bench=$!
    : >"$TMP/events.json"
    while kill -0 "$bench" 2>/dev/null; do
        migrate --add "z0=s2@$S2"
        migrate --remove "z0=s2"
    done
    wait "$bench"
    read -r P50 P99 ERRS <"$TMP/fg.out"
    read -r MBS RUNS _ < <(moved)
}

echo "under load ..." >&2
loaded_runs
LOADMBS=$MBS RUNS_=$RUNS LOAD50=$P50 LOAD99=$P99 LOADERR=$ERRS
echo "under load, --rate $LIMIT MB/s ..." >&2
MIGRATE_OPTS="--rate $LIMIT" loaded_runs
RLMBS=$MBS RLRUNS=$RUNS RL50=$P50 RL99=$P99 RLERR=$ERRS
UNMBS=$MBS_UNTHROTTLED

cat <<EOF
| | MB/s moved | foreground p50 (ms) | foreground p99 (ms) |
|---|---|---|---|
| idle: no migration; $RATE req/s set, then get, through the proxy ($IDLEERR errors) | - | $IDLE50 | $IDLE99 |
| unthrottled, no foreground load: add a store, $MB MB copied and verified | $UNMBS | - | - |
| $RUNS_ migrations (add, remove, ...) back to back under $RATE req/s ($LOADERR errors) | $LOADMBS | $LOAD50 | $LOAD99 |
| $RLRUNS migrations with --rate $LIMIT back to back under $RATE req/s ($RLERR errors) | $RLMBS | $RL50 | $RL99 |
EOF
