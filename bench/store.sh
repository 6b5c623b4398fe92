#!/usr/bin/env bash
# bench/store.sh: one juno-store over loopback next to RocksDB's own db_bench,
# same key/value sizes, in the same run. Prints a markdown table for
# docs/benchmarks.md.
#
#   bench/store.sh [N]        N records per phase (default 1000000)
#
# Rows:
#   db_bench fillrandom / readrandom       in-process RocksDB, 1 thread, WAL on, no sync
#   juno-store disk --sync none            juno-bench --store: set = PrepareSet + Commit
#   juno-store --memory                    (two-phase, as for a replicated key) or one
#                                          PrepareSet flagged one-phase (a single-replica
#                                          key), get = Read; 4 connections x 64 pipelined
#   db_bench --sync=1 fillrandom           one fsync per write, 1 thread
#   juno-store --sync batch, 50 writers    50 connections, 1 write each (group commit);
#                                          these rows: median of SYNC_ROUNDS (3) rounds
#
# Needs: make all, db_bench (Debian rocksdb-tools; installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
SYNC_N=${SYNC_N:-20000}
SYNC_ROUNDS=${SYNC_ROUNDS:-3}
BUILD=${BUILD:-build}
export PATH="$PWD/$BUILD:$PATH"

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port, need_db_bench
need_db_bench

# db_bench: ops/sec from its "name : x micros/op y ops/sec" line
dbb() { # name, extra flags...
    local name=$1; shift
    db_bench --db="$TMP/dbbench" --key_size=16 --value_size=100 --compression_type=none \
        --threads=1 "$@" 2>/dev/null | awk -v n="$name" '$1 == n && $2 == ":" { print int($5) }' | tail -1
}

# start a store; sets PORT (no command substitution: the daemon must not hold its pipe)
start_store() { # extra flags...
    local port dir
    port=$(free_port)
    dir="$TMP/store-$port"
    mkdir -p "$dir"
    juno-ring init --cluster bench --shards 1024 --zone "z0=s1@127.0.0.1:$port" > "$dir/map.json"
    juno-store --map "$dir/map.json" --listen "127.0.0.1:$port" "$@" >"$dir/log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        juno --store "127.0.0.1:$port" nop >/dev/null 2>&1 && break
        sleep 0.05
    done
    PORT=$port
}

stop_last_store() {
    local p=${PIDS[-1]}
    kill "$p"; wait "$p" 2>/dev/null || true
    unset 'PIDS[-1]'
}

jb() { # port, test, extra flags... -> ops/s
    local port=$1 test=$2; shift 2
    juno-bench --store -s "127.0.0.1:$port" --csv -d 100 -r "$N" -n "$N" -t "$test" "$@" |
        awk -F, 'NR == 2 { print $4 }'
}

echo "# bench/store.sh N=$N SYNC_N=$SYNC_N on $(nproc) cores, $(date -u +%Y-%m-%d)" >&2
db_fill=$(dbb fillrandom --benchmarks=fillrandom --num="$N")
db_read=$(dbb readrandom --benchmarks=fillrandom,readrandom --num="$N" --reads="$N")
rm -rf "$TMP/dbbench"

# each write row starts from an empty store, as db_bench's fillrandom does
start_store --data "$TMP/disk" --sync none
disk_set=$(jb "$PORT" set -c 4 -P 64)
disk_get=$(jb "$PORT" get -c 4 -P 64)
stop_last_store
start_store --data "$TMP/disk1" --sync none
disk_set1=$(jb "$PORT" set -c 4 -P 64 --one-phase)
stop_last_store

start_store --memory
mem_set=$(jb "$PORT" set -c 4 -P 64)
mem_get=$(jb "$PORT" get -c 4 -P 64)
stop_last_store
start_store --memory
mem_set1=$(jb "$PORT" set -c 4 -P 64 --one-phase)
stop_last_store

# durable writes vary most from run to run (fsync latency on a shared machine):
# SYNC_ROUNDS rounds of all three, alternating, and the median of each
batch_run() { # extra juno-bench flags... -> ops/s
    start_store --data "$TMP/batch$RANDOM" --sync batch
    juno-bench --store -s "127.0.0.1:$PORT" --csv -d 100 -r 1000000 -n "$SYNC_N" -t set -c 50 -P 1 \
        "$@" | awk -F, 'NR == 2 { print $4 }'
    stop_last_store
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
dbs=() b2=() b1=()
for _ in $(seq "$SYNC_ROUNDS"); do
    dbs+=("$(dbb fillrandom --benchmarks=fillrandom --num="$SYNC_N" --sync=1)")
    rm -rf "$TMP/dbbench"
    b2+=("$(batch_run)")
    b1+=("$(batch_run --one-phase)")
done
echo "# durable rounds: db_bench ${dbs[*]}; two-phase ${b2[*]}; one-phase ${b1[*]}" >&2
db_sync=$(median "${dbs[@]}")
batch_set=$(median "${b2[@]}")
batch_set1=$(median "${b1[@]}")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }
cat <<EOF
| workload | db_bench (in-process) ops/s | juno-store over loopback ops/s | ratio |
|---|---:|---:|---:|
| random write, 100 B, disk, no sync, two-phase | $db_fill | $disk_set | $(ratio "$disk_set" "$db_fill") |
| random write, 100 B, disk, no sync, one-phase | $db_fill | $disk_set1 | $(ratio "$disk_set1" "$db_fill") |
| random read, 100 B, disk | $db_read | $disk_get | $(ratio "$disk_get" "$db_read") |
| random write, 100 B, --memory, two-phase | $db_fill | $mem_set | $(ratio "$mem_set" "$db_fill") |
| random write, 100 B, --memory, one-phase | $db_fill | $mem_set1 | $(ratio "$mem_set1" "$db_fill") |
| random read, 100 B, --memory | $db_read | $mem_get | $(ratio "$mem_get" "$db_read") |
| durable write, two-phase: db_bench --sync=1 vs --sync batch, 50 writers | $db_sync | $batch_set | $(ratio "$batch_set" "$db_sync") |
| durable write, one-phase: db_bench --sync=1 vs --sync batch, 50 writers | $db_sync | $batch_set1 | $(ratio "$batch_set1" "$db_sync") |
EOF
