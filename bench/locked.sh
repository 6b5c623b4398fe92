#!/usr/bin/env bash
# bench/locked.sh: unconditional writes under contention through a 3-zone
# proxy (W = 2), for two builds in alternating rounds: how many RecordLocked
# reach the client, and at what throughput.
#
#   bench/locked.sh BUILD_A BUILD_B      e.g. bench/locked.sh /tmp/juno-old build
#
# Each round starts, for A and B in turns (A first in odd rounds), 3 zones x
# 1 juno-store --memory and one juno-proxy from that build, and runs
#   juno-bench -c 50 -P 16 -t set -r 100000 -n N   (little contention)
#   juno-bench -c 50 -P 16 -t set -r 1000   -n N   (much)
# with juno-bench from BUILD_B (the same load generator for both). Prints
# one line per build, workload and round: ops/s and errors (requests not Ok).
# Environment: ROUNDS (default 2), N (default 200000).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || {
    echo "usage: bench/locked.sh BUILD_A BUILD_B" >&2
    exit 64
}
A=$(cd "$1" && pwd) B=$(cd "$2" && pwd)
ROUNDS=${ROUNDS:-2} N=${N:-200000}
BENCH=$B/juno-bench

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port

run_build() { # label dir round
    local label=$1 dir=$2 round=$3 ports=() pids=() i proxy r out
    for i in 0 1 2; do ports+=("$(free_port)"); done
    proxy=$(free_port)
    "$dir/juno-ring" init --cluster lk --shards 1024 --zone "z0=s1@127.0.0.1:${ports[0]}" \
        --zone "z1=s1@127.0.0.1:${ports[1]}" --zone "z2=s1@127.0.0.1:${ports[2]}" >"$TMP/map.json"
    for i in 0 1 2; do
        "$dir/juno-store" --listen "127.0.0.1:${ports[$i]}" --map "$TMP/map.json" --memory \
            2>>"$TMP/store.log" &
        pids+=($!)
    done
    "$dir/juno-proxy" --listen "127.0.0.1:$proxy" --map "$TMP/map.json" 2>>"$TMP/proxy.log" &
    pids+=($!)
    PIDS+=("${pids[@]}")
    for i in $(seq 100); do
        "$BENCH" -s "127.0.0.1:$proxy" -c 1 -n 1 -t get >/dev/null 2>&1 && break
        sleep 0.05
    done
    for r in 100000 1000; do
        out=$("$BENCH" -s "127.0.0.1:$proxy" -c 50 -P 16 -n "$N" -r "$r" -t set --json 2>"$TMP/bench.err")
        sort "$TMP/bench.err" | uniq -c | sort -rn | head -3 >&2
        printf '%s round=%s -r %s: %s ops/s, %s errors\n' "$label" "$round" "$r" \
            "$(sed -n 's/.*"ops_per_sec":\([0-9]*\).*/\1/p' <<<"$out")" \
            "$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$out")"
    done
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}

for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then
        run_build A "$A" "$round"
        run_build B "$B" "$round"
    else
        run_build B "$B" "$round"
        run_build A "$A" "$round"
    fi
done
