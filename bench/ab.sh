#!/usr/bin/env bash
# bench/ab.sh: two builds of juno side by side, in alternating rounds, under
# the same load generators: did a change cost throughput?
#
#   bench/ab.sh BUILD_A BUILD_B      e.g. bench/ab.sh /tmp/juno-main build
#
# Each round starts, for A and B (in turns: A first in odd rounds, B first in
# even ones), one zone of 3 juno-store --memory
# and one juno-proxy with the RESP face (from that build), and runs
#   juno-bench -c 50 -P 1 and -P 16, -t set,get        (the native protocol)
#   redis-benchmark -c 50 -P 1 and -P 16, -t set,get   (the RESP face)
# with 100-byte values over 100000 keys, then stops them. The load
# generators are the same for both builds: redis-benchmark, and juno-bench
# from $BENCH (default: BUILD_A's). Prints, per workload, the median ops/s of
# A and of B over ROUNDS rounds and B's change, and the CPU time the daemons
# (proxy and stores, every thread: /proc/PID/task/*/schedstat) spent per
# request: on a machine shared with other work, throughput swings with the
# neighbours' load, while the CPU a request costs moves much less.
#
# Environment: ROUNDS (default 5), P1_N (default 100000), P16_N (default
# 500000), PROXY_THREADS (default 1), BENCH (a juno-bench binary); extra
# options, split on spaces: STORE_OPTS, PROXY_OPTS (both builds),
# BENCH_OPTS (juno-bench), REDIS_OPTS (redis-benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || {
    echo "usage: bench/ab.sh BUILD_A BUILD_B" >&2
    exit 64
}
A=$(cd "$1" && pwd) B=$(cd "$2" && pwd)
ROUNDS=${ROUNDS:-5}
P1_N=${P1_N:-100000}
P16_N=${P16_N:-500000}
PROXY_THREADS=${PROXY_THREADS:-1}
BENCH=${BENCH:-$A/juno-bench}
command -v redis-benchmark >/dev/null || {
    echo "ab.sh: redis-benchmark is missing (Debian: redis-tools)" >&2
    exit 69
}

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port, cpu_ns

RESULTS=$TMP/results # lines: build workload ops cpu_ns_per_request
: >"$RESULTS"

run_build() { # label dir
    local label=$1 dir=$2 port ports=() pids=() i resp proxy
    for i in 1 2 3; do ports+=("$(free_port)"); done
    proxy=$(free_port) resp=$(free_port)
    "$dir/juno-ring" init --cluster ab --shards 1024 \
        --zone "z0=s1@127.0.0.1:${ports[0]},s2@127.0.0.1:${ports[1]},s3@127.0.0.1:${ports[2]}" \
        >"$TMP/map.json"
    for i in 0 1 2; do
        # shellcheck disable=SC2086
        "$dir/juno-store" --listen "127.0.0.1:${ports[$i]}" --map "$TMP/map.json" --memory \
            ${STORE_OPTS:-} 2>>"$TMP/store.log" &
        pids+=($!)
    done
    # shellcheck disable=SC2086
    "$dir/juno-proxy" --listen "127.0.0.1:$proxy" --resp "127.0.0.1:$resp" \
        --map "$TMP/map.json" --threads "$PROXY_THREADS" ${PROXY_OPTS:-} 2>>"$TMP/proxy.log" &
    pids+=($!)
    PIDS+=("${pids[@]}")
    for i in $(seq 100); do
        # shellcheck disable=SC2086
        "$BENCH" -s "127.0.0.1:$proxy" -c 1 -n 1 -t get ${BENCH_OPTS:-} >/dev/null 2>&1 && break
        sleep 0.05
    done
    local p n t c0 ops line
    for p in 1 16; do
        n=$P1_N
        [ "$p" = 16 ] && n=$P16_N
        for t in set get; do
            c0=$(cpu_ns "${pids[@]}")
            # shellcheck disable=SC2086
            ops=$("$BENCH" -s "127.0.0.1:$proxy" -c 50 -P "$p" -n "$n" -t "$t" --csv \
                ${BENCH_OPTS:-} 2>/dev/null | awk -F, 'NR == 2 { print $4 }')
            echo "$label juno-bench-$t-P$p $ops $((($(cpu_ns "${pids[@]}") - c0) / n))" >>"$RESULTS"
        done
        for t in set get; do
            c0=$(cpu_ns "${pids[@]}")
            # shellcheck disable=SC2086
            line=$(redis-benchmark -p "$resp" -c 50 -P "$p" -n "$n" -d 100 -r 100000 -t "$t" \
                --csv ${REDIS_OPTS:-} | grep -i "^\"$t\"" | tr -d '"')
            ops=$(echo "$line" | cut -d, -f2)
            echo "$label redis-benchmark-$t-P$p ${ops%.*} $((($(cpu_ns "${pids[@]}") - c0) / n))" \
                >>"$RESULTS"
        done
    done
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}

for r in $(seq "$ROUNDS"); do # A B, B A, A B...: neither always runs first
    echo "ab.sh: round $r of $ROUNDS" >&2
    if [ $((r % 2)) = 1 ]; then
        run_build A "$A"
        run_build B "$B"
    else
        run_build B "$B"
        run_build A "$A"
    fi
done

python3 - "$RESULTS" "$A" "$B" "$ROUNDS" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    b, w, ops, cpu = line.split()
    r = rows.setdefault(w, {}).setdefault(b, ([], []))
    r[0].append(float(ops))
    r[1].append(float(cpu))
print(f"A = {sys.argv[2]}, B = {sys.argv[3]}, median of {sys.argv[4]} alternating rounds\n")
print("| workload | A ops/s | B ops/s | B vs A | A µs CPU/req | B µs CPU/req | B vs A "
      "| A rounds (ops/s) | B rounds (ops/s) |")
print("|---|---:|---:|---:|---:|---:|---:|---|---|")
for w in sorted(rows):
    a, b = rows[w].get("A", ([0], [0])), rows[w].get("B", ([0], [0]))
    oa, ob = statistics.median(a[0]), statistics.median(b[0])
    ca, cb = statistics.median(a[1]) / 1000, statistics.median(b[1]) / 1000
    ch = (ob / oa - 1) * 100 if oa else 0
    cc = (cb / ca - 1) * 100 if ca else 0
    fa = " ".join(f"{x/1000:.0f}k" for x in a[0])
    fb = " ".join(f"{x/1000:.0f}k" for x in b[0])
    print(f"| {w} | {oa:.0f} | {ob:.0f} | {ch:+.1f}% | {ca:.2f} | {cb:.2f} | {cc:+.1f}% "
          f"| {fa} | {fb} |")
EOF
