#!/usr/bin/env bash
# bench/compare.sh: juno next to twemproxy + Redis, the same redis-benchmark
# workloads against each, on loopback, in one run. Prints markdown tables for
# docs/benchmarks.md.
#
#   bench/compare.sh            every system, every workload, ROUNDS rounds
#
# Systems (all on 127.0.0.1, all sharing this machine's cores):
#   (a) twemproxy (nutcracker, ketama) over 3 redis-server, persistence off
#   (b) juno, 1 zone x 3 stores --memory, one juno-proxy (RESP face)
#   (c) juno, 3 zones x 1 store --memory: replicated, W = R = 2
#   (d) juno, 1 zone x 3 stores on disk, --sync batch
#
# Workloads: redis-benchmark -c 50 -d 100 -r 100000 -t set,get with -P 1
# (P1_N requests, default 200000) and -P 16 (P16_N, default 1000000). Each
# round runs every workload against (a), (b), (c), (d) in turn, so that the
# systems alternate; with ROUNDS > 1 the median round is reported.
# Then hyperfine times one-shot `juno get` against (b) next to one-shot
# `redis-cli get` against (a).
#
# Environment: ROUNDS (default 1), P1_N, P16_N, PROXY_THREADS (default 1),
# SYSTEMS (default "a b c d"), BUILD (default build).
# Installs what it needs (redis-server, redis-tools, nutcracker, hyperfine)
# and stops every process it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-1}
P1_N=${P1_N:-200000}
P16_N=${P16_N:-1000000}
PROXY_THREADS=${PROXY_THREADS:-1}
SYSTEMS=${SYSTEMS:-a b c d}
BUILD=${BUILD:-build}
export PATH="$PWD/$BUILD:$PATH"

need=()
for p in redis-server:redis-server redis-benchmark:redis-tools nutcracker:nutcracker \
    hyperfine:hyperfine; do
    command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "compare.sh: installing ${need[*]}" >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${need[@]}" >/dev/null
fi
[ -x "$BUILD/juno-proxy" ] && [ -x "$BUILD/juno-store" ] || make -s -j2 all

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port

wait_resp() { # port: until it answers PING
    for _ in $(seq 200); do
        [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.05
    done
    echo "compare.sh: nothing answers PING on 127.0.0.1:$1" >&2
    exit 69
}

declare -A RESP NATIVE # system -> port

start_twemproxy() {
    local servers="" port
    for i in 1 2 3; do
        port=$(free_port)
        redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
            --dir "$TMP" --logfile "$TMP/redis-$i.log" &
        PIDS+=($!)
        wait_resp "$port"
        servers+="   - 127.0.0.1:$port:1 redis$i"$'\n'
    done
    port=$(free_port)
    cat >"$TMP/nutcracker.yml" <<EOF
bench:
  listen: 127.0.0.1:$port
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  servers:
$servers
EOF
    nutcracker -c "$TMP/nutcracker.yml" -s "$(free_port)" -a 127.0.0.1 \
        -o "$TMP/nutcracker.log" &
    PIDS+=($!)
    wait_resp "$port"
    RESP[a]=$port
}

start_juno() { # system zones stores-per-zone store-flags...
    local sys=$1 zones=$2 per=$3
    shift 3
    local dir="$TMP/juno-$sys" args=() z s port nodes
    mkdir -p "$dir"
    local -a ports=()
    for z in $(seq "$zones"); do
        nodes=""
        for s in $(seq "$per"); do
            port=$(free_port)
            ports+=("$port")
            nodes+="${nodes:+,}s$z$s@127.0.0.1:$port"
        done
        args+=(--zone "z$z=$nodes")
    done
    juno-ring init --cluster bench --shards 1024 "${args[@]}" >"$dir/map.json"
    local i=0
    for z in $(seq "$zones"); do
        for s in $(seq "$per"); do
            port=${ports[$i]}
            i=$((i + 1))
            mkdir -p "$dir/data-$port"
            juno-store --map "$dir/map.json" --listen "127.0.0.1:$port" \
                --data "$dir/data-$port" "$@" 2>"$dir/store-$port.log" &
            PIDS+=($!)
        done
    done
    NATIVE[$sys]=$(free_port)
    RESP[$sys]=$(free_port)
    juno-proxy --map "$dir/map.json" --listen "127.0.0.1:${NATIVE[$sys]}" \
        --resp "127.0.0.1:${RESP[$sys]}" --threads "$PROXY_THREADS" 2>"$dir/proxy.log" &
    PIDS+=($!)
    wait_resp "${RESP[$sys]}"
    # every store connected: a write lands on each store's shards
    for _ in $(seq 100); do
        redis-cli -h 127.0.0.1 -p "${RESP[$sys]}" set compare:warmup 1 2>/dev/null |
            grep -q OK && break
        sleep 0.05
    done
}

declare -A NAME=(
    [a]="(a) twemproxy + 3 redis-server"
    [b]="(b) juno 1 zone x 3 stores, memory"
    [c]="(c) juno 3 zones x 1 store, memory, W=2"
    [d]="(d) juno 1 zone x 3 stores, disk, --sync batch"
)

for sys in $SYSTEMS; do
    case $sys in
    a) start_twemproxy ;;
    b) start_juno b 1 3 --memory ;;
    c) start_juno c 3 1 --memory ;;
    d) start_juno d 1 3 --sync batch ;;
    *) echo "compare.sh: unknown system $sys" >&2; exit 64 ;;
    esac
done

# results: "$round $sys $pipeline $test rps p50 p99" lines
RES="$TMP/results"
: >"$RES"
run_bench() { # round sys pipeline n
    local round=$1 sys=$2 pl=$3 n=$4
    redis-benchmark -h 127.0.0.1 -p "${RESP[$sys]}" -c 50 -d 100 -r 100000 -n "$n" \
        -P "$pl" -t set,get --csv 2>"$TMP/rb.err" |
        tr -d '"' | awk -F, -v r="$round" -v s="$sys" -v p="$pl" \
        '$1 == "SET" || $1 == "GET" { print r, s, p, $1, $2, $5, $7 }' >>"$RES"
}

echo "# bench/compare.sh on $(nproc) cores, $(date -u +%Y-%m-%d), ROUNDS=$ROUNDS" >&2
for round in $(seq "$ROUNDS"); do
    for pl in 1 16; do
        n=$P1_N
        [ "$pl" -eq 16 ] && n=$P16_N
        for sys in $SYSTEMS; do
            echo "# round $round: -P $pl -n $n against ${NAME[$sys]}" >&2
            run_bench "$round" "$sys" "$pl" "$n"
        done
    done
done

# the median round of each (system, pipeline, test), by ops/s
median() { # sys pl test -> "rps p50 p99"
    awk -v s="$1" -v p="$2" -v t="$3" '$2 == s && $3 == p && $4 == t { print $5, $6, $7 }' "$RES" |
        sort -n | awk '{ l[NR] = $0 } END { if (NR) print l[int((NR + 1) / 2)] }'
}

echo
echo "| workload | system | ops/s | p50 ms | p99 ms | ops/s vs (a) |"
echo "|---|---|---:|---:|---:|---:|"
for pl in 1 16; do
    for t in SET GET; do
        base=""
        if [[ " $SYSTEMS " == *" a "* ]]; then
            read -r base _ _ <<<"$(median a "$pl" "$t")"
        fi
        for sys in $SYSTEMS; do
            read -r rps p50 p99 <<<"$(median "$sys" "$pl" "$t")"
            ratio=$(awk -v x="${rps:-0}" -v b="${base:-0}" \
                'BEGIN { if (b > 0) printf "%.2fx", x / b; else printf "-" }')
            echo "| $t -P $pl | ${NAME[$sys]} | ${rps:-0} | ${p50:--} | ${p99:--} | $ratio |"
        done
    done
done

# one-shot clients: a fresh process per request, as a shell script makes them
if [[ " $SYSTEMS " == *" a "* && " $SYSTEMS " == *" b "* ]]; then
    redis-cli -h 127.0.0.1 -p "${RESP[a]}" set compare:oneshot hello >/dev/null
    juno -s "127.0.0.1:${NATIVE[b]}" put compare:oneshot hello
    hyperfine -N --warmup 20 --runs "${ONESHOT_RUNS:-300}" --export-json "$TMP/hf.json" \
        "juno -s 127.0.0.1:${NATIVE[b]} get compare:oneshot" \
        "redis-cli -h 127.0.0.1 -p ${RESP[a]} get compare:oneshot" >&2
    echo
    echo "| one-shot client, one GET | mean ms | stddev ms |"
    echo "|---|---:|---:|"
    python3 - "$TMP/hf.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
names = ["juno get (native protocol) via (b)", "redis-cli get via (a)"]
for name, x in zip(names, r):
    print(f"| {name} | {x['mean'] * 1e3:.3f} | {x['stddev'] * 1e3:.3f} |")
print(f"\njuno get takes {r[0]['mean'] / r[1]['mean']:.2f}x the wall time of redis-cli get")
EOF
fi
