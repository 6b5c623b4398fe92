#!/usr/bin/env bash
# bench/xdc.sh: what cross-site replication (juno-proxy --replicate-to) costs
# the source proxy, and the replication lag under a steady load.
#
#   bench/xdc.sh [BUILD]            (default build/)
#
# Two sites on 127.0.0.1, each three zones of one juno-store --memory. Site
# A has three proxies on the same stores, started once and kept for the
# whole run: "plain" (no replication), "xdc" (--replicate-to site B's proxy,
# which runs --accept-replication) and "sink" (--replicate-to a juno-store
# that refuses every replicated write at once: the source proxy does all of
# its replication work, the target almost none; on a 2-core machine site B's
# proxy and stores otherwise take CPU from site A). In each of ROUNDS rounds,
# juno-bench runs the same workload against each, in rotating order:
#   juno-bench -c 50 -P 16 -t set -n P16_N, and -P 1 -n P1_N
# (100-byte values, 100000 keys), and the script records the ops/s and the
# CPU time the source proxy alone spent per request
# (/proc/PID/task/*/schedstat). Then a steady open-loop load of RATE sets/s
# for LAG_S seconds goes through the xdc proxy, and the lag percentiles are
# read from its juno_proxy_xdc_lag_seconds histogram (linear interpolation
# within a bucket, as Prometheus's histogram_quantile does).
#
# Environment: ROUNDS (default 4), P1_N (default 50000), P16_N (default
# 300000), RATE (default 5000), LAG_S (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(cd "${1:-build}" && pwd)
ROUNDS=${ROUNDS:-4}
P1_N=${P1_N:-50000}
P16_N=${P16_N:-300000}
RATE=${RATE:-5000}
LAG_S=${LAG_S:-10}

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port, cpu_ns

start_site() { # name; sets ${name}_map
    local name=$1 i ports=() zones=()
    for i in 0 1 2; do
        ports+=("$(free_port)")
        zones+=(--zone "z$i=s1@127.0.0.1:${ports[$i]}")
    done
    "$BUILD/juno-ring" init --cluster "$name" --shards 1024 "${zones[@]}" >"$TMP/map-$name.json"
    for i in 0 1 2; do
        "$BUILD/juno-store" --listen "127.0.0.1:${ports[$i]}" --map "$TMP/map-$name.json" --memory \
            2>>"$TMP/store-$name.log" &
        PIDS+=($!)
    done
}

start_proxy() { # label port metrics-port options...; sets PID_<label>
    local label=$1 port=$2 mport=$3
    shift 3
    "$BUILD/juno-proxy" --listen "127.0.0.1:$port" --metrics "127.0.0.1:$mport" "$@" \
        2>>"$TMP/proxy-$label.log" &
    PIDS+=($!)
    printf -v "PID_$label" %s $!
    local i
    for i in $(seq 100); do
        "$BUILD/juno" -s "127.0.0.1:$port" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "xdc.sh: proxy $label did not start" >&2
    cat "$TMP/proxy-$label.log" >&2
    exit 69
}

start_site a
start_site b
PB=$(free_port) P0=$(free_port) P1=$(free_port) P2=$(free_port) SINK=$(free_port)
MB=$(free_port) M0=$(free_port) M1=$(free_port) M2=$(free_port)
start_proxy b "$PB" "$MB" --map "$TMP/map-b.json" --accept-replication
start_proxy plain "$P0" "$M0" --map "$TMP/map-a.json"
start_proxy xdc "$P1" "$M1" --map "$TMP/map-a.json" --replicate-to "127.0.0.1:$PB"
# the sink: a juno-store of its own, which answers every replicated write at
# once with an error (it serves storage opcodes only), so that the source
# proxy does all its replication work while the target does almost none
"$BUILD/juno-ring" init --cluster sink --shards 1024 --zone "z0=s1@127.0.0.1:$SINK" >"$TMP/map-sink.json"
"$BUILD/juno-store" --listen "127.0.0.1:$SINK" --map "$TMP/map-sink.json" --memory --log-level warn \
    2>>"$TMP/sink.log" &
PIDS+=($!)
start_proxy sink "$P2" "$M2" --map "$TMP/map-a.json" --replicate-to "127.0.0.1:$SINK"

RESULTS=$TMP/results # lines: label workload ops cpu_ns_per_request
: >"$RESULTS"
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" 'index($1, n) == 1 { s += $2 } END { printf "%d\n", s }'; }
drained() { # the xdc proxy's queue is empty (at most 60 s)
    local i
    for i in $(seq 600); do
        [ "$(metric "$M1" juno_proxy_xdc_queue_depth)" = 0 ] && return 0
        sleep 0.1
    done
}
one() { # label port pid pipeline n
    local c0 ops
    c0=$(cpu_ns "$3")
    ops=$("$BUILD/juno-bench" -s "127.0.0.1:$2" -c 50 -P "$4" -n "$5" -t set --csv 2>/dev/null |
        awk -F, 'NR == 2 { print $4 }')
    echo "$1 set-P$4 $ops $((($(cpu_ns "$3") - c0) / $5))" >>"$RESULTS"
    drained # what is still queued must not run during the next measurement
}
for r in $(seq 1 "$ROUNDS"); do
    case $((r % 3)) in # each configuration first, second and third in turn
    1) order=(plain xdc sink) ;;
    2) order=(xdc sink plain) ;;
    0) order=(sink plain xdc) ;;
    esac
    for p in 16 1; do
        n=$P1_N
        [ "$p" = 16 ] && n=$P16_N
        for l in "${order[@]}"; do
            case $l in
            plain) one plain "$P0" "$PID_plain" "$p" "$n" ;;
            xdc) one xdc "$P1" "$PID_xdc" "$p" "$n" ;;
            sink) one sink "$P2" "$PID_sink" "$p" "$n" ;;
            esac
        done
    done
    echo "round $r done" >&2
done
sink_refused=$(metric "$M2" juno_proxy_xdc_dropped_total)

# the steady load for the lag
curl -s "http://127.0.0.1:$M1/metrics" | grep '^juno_proxy_xdc_lag_seconds' >"$TMP/lag-before"
"$BUILD/juno-bench" -s "127.0.0.1:$P1" -c 50 -R "$RATE" -D "$LAG_S" -t set --csv \
    >"$TMP/steady.csv" 2>/dev/null
drained
curl -s "http://127.0.0.1:$M1/metrics" | grep '^juno_proxy_xdc_lag_seconds' >"$TMP/lag-after"
dropped=$(metric "$M1" juno_proxy_xdc_dropped_total)

echo "# bench/xdc.sh: $ROUNDS rounds, juno-bench -c 50 -t set, 100-byte values; source proxy CPU per request"
python3 - "$RESULTS" "$TMP/lag-before" "$TMP/lag-after" "$TMP/steady.csv" "$RATE" "$LAG_S" "$dropped" "$sink_refused" <<'EOF'
import re, statistics, sys
res, before, after, steady, rate, secs, dropped, sink_refused = sys.argv[1:9]
rows = {}
for line in open(res):
    label, wl, ops, cpu = line.split()
    rows.setdefault((wl, label), []).append((float(ops), int(cpu)))
print("| workload | configuration | ops/s (median) | vs without | source proxy CPU/request | vs without |")
print("|---|---|---|---|---|---|")
names = {"plain": "without replication", "xdc": "replicating to site B (same cores)",
         "sink": "replicating to a sink"}
for wl in ("set-P16", "set-P1"):
    base = rows[(wl, "plain")]
    oa = statistics.median(x[0] for x in base)
    ca = statistics.median(x[1] for x in base)
    for label in ("plain", "xdc", "sink"):
        r = rows[(wl, label)]
        o, c = statistics.median(x[0] for x in r), statistics.median(x[1] for x in r)
        print(f"| {wl} | {names[label]} | {o:,.0f} | {100 * (o - oa) / oa:+.1f}% | {c / 1000:.1f} µs | {100 * (c - ca) / ca:+.0f}% |")
        print(f"  {wl} {label} rounds: " + ", ".join(f"{x[0]:,.0f}" for x in r), file=sys.stderr)
print(f"(the sink answered {sink_refused} replicated writes with an error: counted refused)")

def buckets(path):
    b, count = {}, 0
    for line in open(path):
        m = re.match(r'juno_proxy_xdc_lag_seconds_bucket\{.*le="([^"]+)"\} (\d+)', line)
        if m:
            b[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = int(m.group(2))
    return b

b0, b1 = buckets(before), buckets(after)
d = sorted((le, b1[le] - b0.get(le, 0)) for le in b1)
total = d[-1][1] if d else 0
def q(p):
    want, prev_le, prev_c = p * total, 0.0, 0
    for le, c in d:
        if c >= want:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (want - prev_c) / max(c - prev_c, 1)
        prev_le, prev_c = le, c
    return prev_le
lines = open(steady).read().splitlines()
print()
print(f"steady load: {rate} sets/s for {secs} s through the replicating proxy: {total} writes replicated, {dropped} dropped")
print(f"replication lag p50 {q(0.5) * 1000:.2f} ms, p99 {q(0.99) * 1000:.2f} ms, p99.9 {q(0.999) * 1000:.2f} ms")
if len(lines) > 1:
    print("juno-bench: " + lines[0] + " / " + lines[1])
EOF
