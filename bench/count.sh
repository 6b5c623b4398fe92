#!/usr/bin/env bash
# bench/count.sh: what one build's daemon spends on a fixed workload, in
# measures that other work on the machine does not move: user-space
# instructions (valgrind --tool=callgrind) or system calls (strace -c).
#
#   bench/count.sh BUILD proxy|store callgrind|strace
#
# Starts one zone of 3 juno-store --memory and one juno-proxy --resp from
# BUILD, the proxy (or the first store) under the tool, then runs
# juno-bench -c 50 -P 16 -n 40000 -t set,get and redis-benchmark -c 50 -P 16
# -n 40000 -t set,get against it (160,000 requests), stops it, and prints
# the tool's totals. Run it for two builds and compare (docs/benchmarks.md).
# The proxy gets --request-timeout 60000 --deadline 120000: under valgrind a
# daemon runs some 50 times slower, and a timed-out request is not the same
# work as an answered one.
#
# Environment: BENCH (the juno-bench binary; default BUILD's); extra options,
# split on spaces: STORE_OPTS, PROXY_OPTS, BENCH_OPTS (juno-bench),
# REDIS_OPTS (redis-benchmark). With TLS stores, set JUNO_TLS_CA,
# JUNO_TLS_CERT and JUNO_TLS_KEY for the `juno --store` that waits for them.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 3 ] || {
    echo "usage: bench/count.sh BUILD proxy|store callgrind|strace" >&2
    exit 64
}
B=$(cd "$1" && pwd) WHO=$2 TOOL=$3
BENCH=${BENCH:-$B/juno-bench}
case $TOOL in
callgrind) wrap=(valgrind --tool=callgrind --callgrind-out-file=) ;;
strace) wrap=(strace -f -c -o) ;;
*) echo "count.sh: the tool is callgrind or strace" >&2 && exit 64 ;;
esac
command -v "${wrap[0]}" >/dev/null || {
    echo "count.sh: ${wrap[0]} is missing" >&2
    exit 69
}

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port

OUT=${COUNT_OUT:-$TMP/out} # COUNT_OUT: keep the tool's output there
tool() { # the tool's command line before the program
    if [ "$TOOL" = callgrind ]; then echo "${wrap[0]} ${wrap[1]} ${wrap[2]}$OUT"; else echo "${wrap[*]} $OUT"; fi
}
ports=() traced=""
for i in 1 2 3; do ports+=("$(free_port)"); done
proxy=$(free_port) resp=$(free_port)
"$B/juno-ring" init --cluster c --shards 1024 \
    --zone "z0=s1@127.0.0.1:${ports[0]},s2@127.0.0.1:${ports[1]},s3@127.0.0.1:${ports[2]}" \
    >"$TMP/map.json"
for i in 0 1 2; do
    pre=""
    [ "$WHO" = store ] && [ "$i" = 0 ] && pre=$(tool)
    # shellcheck disable=SC2086
    $pre "$B/juno-store" --listen "127.0.0.1:${ports[$i]}" --map "$TMP/map.json" --memory \
        ${STORE_OPTS:-} 2>>"$TMP/store.log" &
    PIDS+=($!)
    [ -n "$pre" ] && traced=$!
done
for i in 0 1 2; do # a store under valgrind takes seconds to start
    for _ in $(seq 600); do
        "$B/juno" --store "127.0.0.1:${ports[$i]}" --timeout 500 nop >/dev/null 2>&1 && break
        sleep 0.1
    done
done
pre=""
[ "$WHO" = proxy ] && pre=$(tool)
# shellcheck disable=SC2086
$pre "$B/juno-proxy" --listen "127.0.0.1:$proxy" --resp "127.0.0.1:$resp" --map "$TMP/map.json" \
    --request-timeout 60000 --deadline 120000 ${PROXY_OPTS:-} 2>>"$TMP/proxy.log" &
PIDS+=($!)
[ "$WHO" = proxy ] && traced=$!
for _ in $(seq 600); do
    # shellcheck disable=SC2086
    "$BENCH" -s "127.0.0.1:$proxy" -c 1 -n 1 -t get ${BENCH_OPTS:-} >/dev/null 2>&1 && break
    sleep 0.1
done
# shellcheck disable=SC2086
"$BENCH" -s "127.0.0.1:$proxy" -c 50 -P 16 -n 40000 -r 20000 -t set,get ${BENCH_OPTS:-} >/dev/null ||
    true # RecordLocked answers (two writes to a key at once) are part of the work
# shellcheck disable=SC2086
redis-benchmark -p "$resp" -c 50 -P 16 -n 40000 -d 100 -r 20000 -t set,get -q ${REDIS_OPTS:-} \
    >/dev/null || true
# the traced daemon is the tool's child: SIGTERM to the daemon, then the
# tool writes its totals
target=$(pgrep -P "$traced" | head -1 || true)
[ -n "$target" ] || target=$traced
kill -TERM "$target"
wait "$traced" 2>/dev/null || true
if [ "$TOOL" = callgrind ]; then
    callgrind_annotate "$OUT" 2>/dev/null | grep "PROGRAM TOTALS"
else
    head -8 "$OUT"
fi
