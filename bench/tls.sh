#!/usr/bin/env bash
# bench/tls.sh: what TLS costs juno, next to what it costs Redis, in one run.
#
#   bench/tls.sh                 (ROUNDS=4 P1_N=200000 P16_N=500000 CONN_N=5000)
#
# Starts, on free loopback ports, from build/ (make first) and Debian's
# redis-server, all at once (idle while not measured):
#   redis       redis-server, plaintext
#   redis-tls   redis-server with TLS only (--port 0 --tls-port P)
#   juno        one zone of 3 juno-store --memory and a juno-proxy with the
#               RESP face, plaintext
#   juno-tls    the same with TLS to clients (--tls-cert/--tls-key on both
#               faces), plaintext to the stores: the like of Redis's one hop
#   juno-mtls   TLS everywhere, as `juno-cluster up --tls` runs: clients, and
#               mutual TLS between the proxy and the stores
# Certificates: one CA, P-256 ECDSA keys for everyone (TLS 1.3,
# TLS_AES_256_GCM_SHA384 negotiated by both); no client certificates asked of
# the load generators. Workloads, each against every system it fits:
#   redis-benchmark -c 50 -d 100 -r 100000 -t set|get, -P 1 (P1_N requests)
#       and -P 16 (P16_N), --tls --cacert for the TLS systems
#   juno-bench (JunoDB protocol, juno only) the same shapes
#   new connections: redis-benchmark -k 0 -c 50 -t get (CONN_N requests), a
#       new TCP connection, TLS handshake and one GET for every request
# Rounds alternate the order of the systems (ABBA: forward in odd rounds,
# backward in even ones) so that a drift of the machine's load cancels.
# Prints the medians over ROUNDS, each workload's TLS/plaintext ratio per
# system, the CPU time the servers spent per request (every thread of
# redis-server, or of the proxy and the stores: /proc/PID/task/*/schedstat),
# and the load average before and after.
#
# Environment: ROUNDS, P1_N, P16_N, CONN_N (above), BUILD (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-4}
P1_N=${P1_N:-200000}
P16_N=${P16_N:-500000}
CONN_N=${CONN_N:-5000}
BUILD=${BUILD:-build}
for p in redis-server redis-benchmark redis-cli openssl; do
    command -v "$p" >/dev/null || {
        echo "tls.sh: $p is missing (Debian: redis-server, redis-tools, openssl)" >&2
        exit 69
    }
done
redis-benchmark --help 2>&1 | grep -q -- --tls || {
    echo "tls.sh: this redis-benchmark has no --tls" >&2
    exit 69
}
[ -x "$BUILD/juno-proxy" ] && [ -x "$BUILD/juno-bench" ] || make -s -j2 all

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port, cpu_ns

RESULTS=$TMP/results # lines: system workload ops cpu_ns_per_request
: >"$RESULTS"
C=$TMP/certs
mkdir -p "$C"

# certs: a CA; server (SAN 127.0.0.1) and client certificates it signed
certs() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/ca.key" \
        -out "$C/ca.pem" -days 2 -subj "/CN=bench CA" 2>/dev/null
    local n
    for n in server client; do
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$n.key" \
            -out "$C/$n.csr" -subj "/CN=$n" 2>/dev/null
        openssl x509 -req -in "$C/$n.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
            -days 2 -extfile <(echo "subjectAltName=IP:127.0.0.1") -out "$C/$n.pem" 2>/dev/null
    done
}

declare -A PORT SPIDS TLSARGS # per system: client port (RESP), server PIDs, client TLS options
declare -A NATIVE             # juno systems: the JunoDB port

wait_ping() { # system: until its RESP port answers PING
    local i
    for i in $(seq 200); do
        # shellcheck disable=SC2086
        [ "$(redis-cli -h 127.0.0.1 -p "${PORT[$1]}" ${TLSARGS[$1]} ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.05
    done
    echo "tls.sh: $1 does not answer PING on 127.0.0.1:${PORT[$1]}; logs in $TMP" >&2
    exit 69
}

start_redis() { # system tls(0|1)
    local s=$1 p args
    p=$(free_port)
    args=(--port "$p" --save '' --appendonly no --bind 127.0.0.1 --logfile "$TMP/$s.log")
    if [ "$2" = 1 ]; then
        args=(--port 0 --tls-port "$p" --tls-cert-file "$C/server.pem" --tls-key-file "$C/server.key"
            --tls-ca-cert-file "$C/ca.pem" --tls-auth-clients no --save '' --appendonly no
            --bind 127.0.0.1 --logfile "$TMP/$s.log")
        TLSARGS[$s]="--tls --cacert $C/ca.pem"
    else
        TLSARGS[$s]=
    fi
    redis-server "${args[@]}" &
    PIDS+=($!)
    SPIDS[$s]=$!
    PORT[$s]=$p
    wait_ping "$s"
}

start_juno() { # system mode(plain|tls|mtls)
    local s=$1 mode=$2 ports=() i pids=() st=() up=() cl=()
    for i in 1 2 3; do ports+=("$(free_port)"); done
    "$BUILD/juno-ring" init --cluster "$s" --shards 1024 \
        --zone "z0=s1@127.0.0.1:${ports[0]},s2@127.0.0.1:${ports[1]},s3@127.0.0.1:${ports[2]}" \
        >"$TMP/$s.map.json"
    if [ "$mode" = mtls ]; then
        st=(--tls-cert "$C/server.pem" --tls-key "$C/server.key" --tls-ca "$C/ca.pem")
        up=(--upstream-tls-cert "$C/client.pem" --upstream-tls-key "$C/client.key"
            --upstream-tls-ca "$C/ca.pem")
    fi
    [ "$mode" = plain ] || cl=(--tls-cert "$C/server.pem" --tls-key "$C/server.key")
    for i in 0 1 2; do
        "$BUILD/juno-store" --listen "127.0.0.1:${ports[$i]}" --map "$TMP/$s.map.json" --memory \
            "${st[@]}" 2>>"$TMP/$s.store.log" &
        pids+=($!)
    done
    NATIVE[$s]=$(free_port) PORT[$s]=$(free_port)
    "$BUILD/juno-proxy" --listen "127.0.0.1:${NATIVE[$s]}" --resp "127.0.0.1:${PORT[$s]}" \
        --map "$TMP/$s.map.json" --request-timeout 3000 "${cl[@]}" "${up[@]}" 2>>"$TMP/$s.proxy.log" &
    pids+=($!)
    PIDS+=("${pids[@]}")
    SPIDS[$s]="${pids[*]}"
    TLSARGS[$s]=
    [ "$mode" = plain ] || TLSARGS[$s]="--tls --cacert $C/ca.pem"
    wait_ping "$s"
    # the proxy connects to its stores on first use: warm it up
    # shellcheck disable=SC2086
    redis-benchmark -h 127.0.0.1 -p "${PORT[$s]}" ${TLSARGS[$s]} -c 4 -n 2000 -t set -q >/dev/null
}

record() { # system workload requests c0 ops ("" when the run failed: counted, not recorded)
    local c1
    # shellcheck disable=SC2086
    c1=$(cpu_ns ${SPIDS[$1]})
    if [[ ! $5 =~ ^[0-9.]+$ ]]; then
        echo "tls.sh: $1: $2 failed (see above); left out of this round" >&2
        echo "$1 $2" >>"$TMP/failed"
        return 0
    fi
    echo "$1 $2 ${5%.*} $(((c1 - $4) / $3))" >>"$RESULTS"
}

rb() { # system workload requests redis-benchmark options...: one measurement
    local s=$1 w=$2 n=$3 c0 line
    shift 3
    # shellcheck disable=SC2086
    c0=$(cpu_ns ${SPIDS[$s]})
    # shellcheck disable=SC2086
    line=$(redis-benchmark -h 127.0.0.1 -p "${PORT[$s]}" ${TLSARGS[$s]} -n "$n" --csv "$@" |
        grep -E '^"(SET|GET)"' | tr -d '"') || true
    record "$s" "$w" "$n" "$c0" "$(echo "$line" | cut -d, -f2)"
}

jb() { # system workload requests juno-bench options...
    local s=$1 w=$2 n=$3 c0 ops tls=()
    shift 3
    [ -z "${TLSARGS[$s]}" ] || tls=(--tls-ca "$C/ca.pem")
    # shellcheck disable=SC2086
    c0=$(cpu_ns ${SPIDS[$s]})
    ops=$("$BUILD/juno-bench" -s "127.0.0.1:${NATIVE[$s]}" "${tls[@]}" -n "$n" --csv "$@" \
        2>>"$TMP/juno-bench.err" | awk -F, 'NR == 2 && $5 <= $2 / 100 { print $4 }') || true # RecordLocked: a few
    record "$s" "$w" "$n" "$c0" "$ops"
}

measure() { # system: every workload that fits it, once
    local s=$1 p t n
    for p in 1 16; do
        n=$P1_N
        [ "$p" = 1 ] || n=$P16_N
        for t in set get; do
            rb "$s" "redis-benchmark $t -P $p" "$n" -c 50 -P "$p" -d 100 -r 100000 -t "$t"
        done
        [ -z "${NATIVE[$s]:-}" ] && continue
        for t in set get; do
            jb "$s" "juno-bench $t -P $p" "$n" -c 50 -P "$p" -d 100 -r 100000 -t "$t"
        done
    done
    rb "$s" "new connections (redis-benchmark -k 0 get)" "$CONN_N" -k 0 -c 50 -d 100 -r 100000 -t get
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
certs
start_redis redis 0
start_redis redis-tls 1
start_juno juno plain
start_juno juno-tls tls
start_juno juno-mtls mtls
SYSTEMS=(redis redis-tls juno juno-tls juno-mtls)
for r in $(seq "$ROUNDS"); do
    order=("${SYSTEMS[@]}")
    if [ $((r % 2)) = 0 ]; then # backward
        order=()
        for ((i = ${#SYSTEMS[@]} - 1; i >= 0; i--)); do order+=("${SYSTEMS[$i]}"); done
    fi
    echo "tls.sh: round $r of $ROUNDS: ${order[*]} (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    for s in "${order[@]}"; do measure "$s"; done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
[ ! -s "$TMP/failed" ] || { echo "tls.sh: failed runs, left out:" >&2; sort "$TMP/failed" | uniq -c >&2; }
cp "$RESULTS" "${TLS_RESULTS:-/dev/null}" 2>/dev/null || true

python3 - "$RESULTS" "$ROUNDS" "$LOAD0" "$LOAD1" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    s, rest = line.split(" ", 1)
    w, ops, cpu = rest.rsplit(" ", 2)
    r = rows.setdefault(w, {}).setdefault(s, ([], []))
    r[0].append(float(ops))
    r[1].append(float(cpu))
print(f"median of {sys.argv[2]} rounds (ABBA); load average {sys.argv[3]} before, {sys.argv[4]} after\n")
med = lambda w, s, i: statistics.median(rows[w][s][i]) if s in rows.get(w, {}) else None
print("| workload | redis | redis TLS | ratio | juno | juno TLS | ratio | juno TLS+mTLS | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
def cell(x):
    return "-" if x is None else f"{x:.0f}"
def ratio(a, b):
    return "-" if a is None or b is None or not a else f"{b / a:.2f}x"
for w in rows:
    r, rt, j, jt, jm = (med(w, s, 0) for s in ("redis", "redis-tls", "juno", "juno-tls", "juno-mtls"))
    print(f"| {w} | {cell(r)} | {cell(rt)} | {ratio(r, rt)} | {cell(j)} | {cell(jt)} | {ratio(j, jt)} "
          f"| {cell(jm)} | {ratio(j, jm)} |")
print("\nCPU time of the servers per request, µs (redis-server; juno-proxy and its 3 stores)\n")
print("| workload | redis | redis TLS | juno | juno TLS | juno TLS+mTLS |")
print("|---|---:|---:|---:|---:|---:|")
def us(x):
    return "-" if x is None else f"{x / 1000:.2f}"
for w in rows:
    print(f"| {w} | " + " | ".join(us(med(w, s, 1)) for s in
                                   ("redis", "redis-tls", "juno", "juno-tls", "juno-mtls")) + " |")
print("\nevery round, ops/s\n")
for w in rows:
    for s in ("redis", "redis-tls", "juno", "juno-tls", "juno-mtls"):
        if s in rows[w]:
            print(f"{w:45s} {s:10s} " + " ".join(f"{x:.0f}" for x in rows[w][s][0]))
EOF
