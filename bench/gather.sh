#!/usr/bin/env bash
# bench/gather.sh: what juno-proxy's --gather (a pipelined batch's replies
# sent in one write) changes, in one run of one build.
#
#   bench/gather.sh     (ROUNDS=2 N=300000 SYSTEMS="plain-g0 plain-g1 tls-g0 tls-g1"
#                        TOOLS="rb jb" TESTS="get set")
#
# Starts, on free loopback ports from BUILD (default build): one zone of 3
# juno-store --memory and four juno-proxy over them, serving the JunoDB port
# and RESP: plain-g0 (--gather 0), plain-g1 (--gather 1), tls-g0 and tls-g1
# (the same with TLS to clients; a P-256 CA and server certificate made with
# openssl in a temp dir). Each round runs, against each system in SYSTEMS
# (the order reversed in even rounds), redis-benchmark (rb) and juno-bench
# (jb) with -c 50 -P 16 -d 100 -r 100000 and N requests of each test, and
# prints one line a run: ops/s and the CPU per request, in µs, of the proxy
# and the stores (schedstat) and of the client (/usr/bin/time). Then, once
# for each system, the client's reads per request over 100,000 GETs
# (strace -f -c: read, recvfrom). Medians are left to the reader.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
N=${N:-300000}
SYSTEMS=${SYSTEMS:-plain-g0 plain-g1 tls-g0 tls-g1}
TOOLS=${TOOLS:-rb jb}
TESTS=${TESTS:-get set}
BUILD=${BUILD:-build}
for p in redis-benchmark openssl strace; do
    command -v "$p" >/dev/null || {
        echo "gather.sh: $p is missing (Debian: redis-tools, openssl, strace)" >&2
        exit 69
    }
done
[ -x "$BUILD/juno-proxy" ] && [ -x "$BUILD/juno-bench" ] || make -s -j2 all

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port, cpu_ns

C=$TMP/certs
mkdir -p "$C"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/ca.key" \
    -out "$C/ca.pem" -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/server.key" \
    -out "$C/server.csr" -subj "/CN=server" 2>/dev/null
openssl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
    -days 2 -extfile <(echo "subjectAltName=IP:127.0.0.1") -out "$C/server.pem" 2>/dev/null

stores=() ports=()
for i in 1 2 3; do ports+=("$(free_port)"); done
"$BUILD/juno-ring" init --cluster g --shards 1024 \
    --zone "z0=s1@127.0.0.1:${ports[0]},s2@127.0.0.1:${ports[1]},s3@127.0.0.1:${ports[2]}" \
    >"$TMP/map.json"
for p in "${ports[@]}"; do
    "$BUILD/juno-store" --listen "127.0.0.1:$p" --map "$TMP/map.json" --memory 2>>"$TMP/store.log" &
    PIDS+=($!)
    stores+=($!)
done

declare -A PP RESP NATIVE RBTLS JBTLS # per system: proxy PID, ports, client TLS options
for s in plain-g0 plain-g1 tls-g0 tls-g1; do
    RESP[$s]=$(free_port) NATIVE[$s]=$(free_port)
    args=(--gather "${s#*-g}")
    RBTLS[$s]="" JBTLS[$s]=""
    if [[ $s == tls-* ]]; then
        args+=(--tls-cert "$C/server.pem" --tls-key "$C/server.key")
        RBTLS[$s]="--tls --cacert $C/ca.pem" JBTLS[$s]="--tls-ca $C/ca.pem"
    fi
    "$BUILD/juno-proxy" --listen "127.0.0.1:${NATIVE[$s]}" --resp "127.0.0.1:${RESP[$s]}" \
        --map "$TMP/map.json" --request-timeout 3000 "${args[@]}" 2>>"$TMP/proxy.log" &
    PIDS+=($!)
    PP[$s]=$!
done
for s in plain-g0 plain-g1 tls-g0 tls-g1; do # up, and connected to its stores
    for _ in $(seq 100); do
        # shellcheck disable=SC2086
        redis-benchmark -p "${RESP[$s]}" ${RBTLS[$s]} -c 4 -n 20000 -r 100000 -d 100 -t set -q \
            >/dev/null 2>&1 && break
        sleep 0.1
    done
done

cmd_for() { # system tool test requests -> CMD
    # shellcheck disable=SC2206
    if [ "$2" = rb ]; then
        CMD=(redis-benchmark -p "${RESP[$1]}" ${RBTLS[$1]} -c 50 -P 16 -n "$4" -r 100000 -d 100 -t "$3" --csv)
    else
        CMD=("$BUILD/juno-bench" -s "127.0.0.1:${NATIVE[$1]}" ${JBTLS[$1]} --csv -c 50 -P 16 -n "$4"
            -r 100000 -d 100 -t "$3")
    fi
}
per_req() { awk -v a="$1" -v b="$2" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / 1000 / n }'; }

for r in $(seq "$ROUNDS"); do
    order=$SYSTEMS
    [ $((r % 2)) = 0 ] && order=$(echo "$SYSTEMS" | tr ' ' '\n' | tac | tr '\n' ' ')
    for s in $order; do
        for tool in $TOOLS; do
            for t in $TESTS; do
                cmd_for "$s" "$tool" "$t" "$N"
                c0=$(cpu_ns "${PP[$s]}") s0=$(cpu_ns "${stores[@]}")
                out=$(/usr/bin/time -f "%U %S" -o "$TMP/time" "${CMD[@]}" 2>/dev/null || true)
                c1=$(cpu_ns "${PP[$s]}") s1=$(cpu_ns "${stores[@]}")
                if [ "$tool" = rb ]; then
                    ops=$(awk -F, 'NR == 2 { gsub(/"/, "", $2); print int($2) }' <<<"$out")
                else
                    ops=$(awk -F, 'NR == 2 { print int($4) }' <<<"$out")
                fi
                cl=$(awk -v n="$N" '{ printf "%.2f", ($1 + $2) * 1e6 / n }' "$TMP/time")
                echo "round $r $s $tool-$t ops/s $ops proxy $(per_req "$c0" "$c1") stores $(per_req "$s0" "$s1") client $cl"
            done
        done
    done
done
for s in $SYSTEMS; do
    for tool in $TOOLS; do
        cmd_for "$s" "$tool" get 100000
        strace -f -c -o "$TMP/strace" "${CMD[@]}" >/dev/null 2>&1 || true
        echo "reads $s $tool-get $(awk '$NF == "read" || $NF == "recvfrom" { s += $4 }
            END { printf "%.3f", s / 100000 }' "$TMP/strace") per request"
    done
done
