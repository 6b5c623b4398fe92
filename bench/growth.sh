#!/usr/bin/env bash
# bench/growth.sh: one juno-store on disk as its data grows, next to RocksDB's
# db_bench at the same sizes. Prints a markdown table for docs/benchmarks.md.
#
#   bench/growth.sh [N ...]     sizes in records (default: 1000000 10000000 50000000)
#
# For each size N, from an empty store and an empty db_bench database:
#   fill       N writes of 100-byte values, each key of [0, N) once in a random
#              order (db_bench filluniquerandom; juno-bench --store --unique)
#   settle     (SETTLE=1, the default) wait until the fill's compactions are
#              done: RocksDB's pending compaction bytes at 0 and no compaction
#              running (juno-store's /metrics; db_bench waitforcompaction), so
#              the writes below meet the LSM of N records, not the backlog of
#              a fill at full speed (3.3 GB of pending compactions at 50 M).
#              SETTLE=0 measures the writes right after the fill
#   write      OPS writes of random existing keys. juno-store's write (a
#              one-phase Prepare: lock, read the record, check, write) reads
#              before it writes, so its peer is db_bench updaterandom (a Get
#              and a Put), not a blind Put
#   read warm  OPS reads of random existing keys, right after
#   read cold  COLD_OPS reads after a restart (juno-store, or a new db_bench
#              process) with the kernel's page cache dropped (DROP_CACHES=0:
#              kept)
# and, for juno-store, its memory (RSS after the warm reads), its disk bytes
# per record (SST files after the writes; the WAL comes and goes) and its write amplification:
# bytes it wrote to the disk (/proc/PID/io) over the key and value bytes of
# the fill and the writes; db_bench's from its statistics (WAL, flush and
# compaction bytes).
#
# juno-bench runs -c 4 -P 64 against the store over loopback, as in
# bench/store.sh; db_bench runs 1 thread in-process with the store's block
# cache (64 MiB) and bloom filters (10 bits), no compression.
#
# Needs: make all, db_bench (Debian rocksdb-tools; installed if missing), and
# about 200 bytes of disk per record at the largest size.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1000000 10000000 50000000}")
read -ra SIZES <<<"${SIZES[*]}"
OPS=${OPS:-1000000}
COLD_OPS=${COLD_OPS:-200000}
DROP_CACHES=${DROP_CACHES:-1}
BUILD=${BUILD:-build}
STORE_OPTS=${STORE_OPTS:-} # more juno-store options (--block-cache 1024)
DB_BENCH=${DB_BENCH:-1} # 0: juno-store alone (a tuning run)
SETTLE=${SETTLE:-1}     # 0: the writes start right after the fill
export PATH="$PWD/$BUILD:$PATH"

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port, need_db_bench
need_db_bench
GROWTH_DIR=${GROWTH_DIR:-$TMP} # the disk the data goes to

drop_caches() {
    [ "$DROP_CACHES" = 1 ] || return 0
    sync
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || echo "# cannot drop the page cache: cold reads are warm" >&2
}

# db_bench, its output kept in $TMP/dbb.out
dbb() { # flags...
    db_bench --db="$GROWTH_DIR/dbbench" --key_size=16 --value_size=100 --compression_type=none \
        --cache_size=$((64 << 20)) --bloom_bits=10 --threads=1 --histogram=1 "$@" \
        >"$TMP/dbb.out" 2>&1
}
dbb_ops() { # benchmark name -> ops/s
    awk -v n="$1" '$1 == n && $2 == ":" { print int($5) }' "$TMP/dbb.out" | tail -1
}
dbb_p99() { # benchmark name -> p99 in ms (db_bench prints micros)
    awk -v n="$1" '$1 == n && $2 == ":" { on = 1 } on && /^Percentiles:/ { for (i = 1; i <= NF; i++) if ($i == "P99:") { printf "%.3f\n", $(i + 1) / 1000; exit } }' "$TMP/dbb.out"
}
dbb_written() { # bytes written to disk: WAL, flushes, compactions
    awk '/^rocksdb\.(wal\.bytes|flush\.write\.bytes|compact\.write\.bytes) COUNT/ { s += $4 } END { printf "%.0f\n", s }' "$TMP/dbb.out"
}

# start a store on $GROWTH_DIR/store; sets PORT, MPORT (its /metrics) and SPID
start_store() {
    local port=${PORT:-$(free_port)}
    MPORT=${MPORT:-$(free_port)}
    mkdir -p "$GROWTH_DIR/store"
    [ -f "$TMP/map.json" ] || juno-ring init --cluster growth --shards 1024 --zone "z0=s1@127.0.0.1:$port" >"$TMP/map.json"
    # shellcheck disable=SC2086
    juno-store --map "$TMP/map.json" --listen "127.0.0.1:$port" --data "$GROWTH_DIR/store" \
        --sync none --metrics "127.0.0.1:$MPORT" $STORE_OPTS >>"$TMP/store.log" 2>&1 &
    SPID=$!
    PIDS+=("$SPID")
    for _ in $(seq 600); do
        juno --store "127.0.0.1:$port" nop >/dev/null 2>&1 && break
        sleep 0.1
    done
    PORT=$port
}
stop_store() {
    kill "$SPID"; wait "$SPID" 2>/dev/null || true
    unset 'PIDS[-1]'
}
# until the store's compactions are done (or 30 minutes); sets SETTLED_S
settle() {
    local t0=$SECONDS m
    while [ $((SECONDS - t0)) -lt 1800 ]; do
        m=$(curl -sf "http://127.0.0.1:$MPORT/metrics") || true
        awk '$1 == "juno_store_rocksdb_estimate_pending_compaction_bytes" && $2 == 0 { p = 1 }
             $1 == "juno_store_rocksdb_num_running_compactions" && $2 == 0 { r = 1 }
             END { exit !(p && r) }' <<<"$m" && break
        sleep 1
    done
    SETTLED_S=$((SECONDS - t0))
}
written() { awk '$1 == "write_bytes:" { print $2 }' "/proc/$SPID/io"; }
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$SPID/status"; }

# juno-bench against the store: sets JB_OPS, JB_P99, JB_ERR
jb() { # test, requests, keyspace, extra flags...
    local t=$1 n=$2 r=$3 line; shift 3
    line=$(juno-bench --store -s "127.0.0.1:$PORT" --csv -c 4 -P 64 -d 100 --one-phase \
        -t "$t" -n "$n" -r "$r" "$@" | awk -F, 'NR == 2')
    JB_OPS=$(cut -d, -f4 <<<"$line")
    JB_ERR=$(cut -d, -f5 <<<"$line")
    JB_P99=$(cut -d, -f9 <<<"$line")
    [ "$JB_ERR" = 0 ] || echo "# juno-bench $t: $JB_ERR errors" >&2
}

per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b > 0 ? a / b : 0) }'; }
amp() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }

echo "# bench/growth.sh sizes ${SIZES[*]} OPS=$OPS COLD_OPS=$COLD_OPS SETTLE=$SETTLE on $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M') UTC, $(git rev-parse --short HEAD)" >&2
rows=()
for N in "${SIZES[@]}"; do
    # ---- db_bench ----
    d_fill=0 d_upd=0 d_read=0 d_cold=0 d_upd99= d_read99= d_cold99= d_wa=
    rm -rf "$GROWTH_DIR/dbbench"
    if [ "$DB_BENCH" = 1 ]; then
        t0=$(date +%s)
        settle_b=
        [ "$SETTLE" = 1 ] && settle_b=waitforcompaction,
        dbb --benchmarks=filluniquerandom,${settle_b}updaterandom,readrandom --num="$N" --reads="$OPS" --statistics=1
        d_fill=$(dbb_ops filluniquerandom) d_upd=$(dbb_ops updaterandom) d_read=$(dbb_ops readrandom)
        d_upd99=$(dbb_p99 updaterandom) d_read99=$(dbb_p99 readrandom)
        d_wa=$(amp "$(dbb_written)" $(((N + OPS) * 116)))
        drop_caches
        dbb --benchmarks=readrandom --use_existing_db=1 --num="$N" --reads="$COLD_OPS"
        d_cold=$(dbb_ops readrandom) d_cold99=$(dbb_p99 readrandom)
        rm -rf "$GROWTH_DIR/dbbench"
        echo "# N=$N db_bench: fill $d_fill update $d_upd read $d_read cold $d_cold wa $d_wa ($(($(date +%s) - t0)) s)" >&2
    fi

    # ---- juno-store ----
    rm -rf "$GROWTH_DIR/store" "$TMP/map.json"
    PORT= MPORT= SETTLED_S=0
    t0=$(date +%s)
    start_store
    w0=$(written)
    jb set "$N" "$N" --unique
    j_fill=$JB_OPS
    [ "$SETTLE" = 1 ] && settle
    jb set "$OPS" "$N"
    j_upd=$JB_OPS j_upd99=$JB_P99
    j_wa=$(amp $(($(written) - w0)) $(((N + OPS) * 114)))
    jb get "$OPS" "$N"
    j_read=$JB_OPS j_read99=$JB_P99
    j_rss=$(rss_kb)
    j_disk=$(find "$GROWTH_DIR/store" -name '*.sst' -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }')
    stop_store
    drop_caches
    start_store
    jb get "$COLD_OPS" "$N"
    j_cold=$JB_OPS j_cold99=$JB_P99
    stop_store
    rm -rf "$GROWTH_DIR/store"
    echo "# N=$N juno-store: fill $j_fill write $j_upd read $j_read cold $j_cold wa $j_wa rss ${j_rss}kB disk $j_disk settled in ${SETTLED_S} s ($(($(date +%s) - t0)) s)" >&2

    rows+=("| $N | fill | $d_fill (filluniquerandom) | $j_fill | $(ratio "$j_fill" "$d_fill") | | |")
    rows+=("| $N | write | $d_upd (updaterandom) | $j_upd | $(ratio "$j_upd" "$d_upd") | $d_upd99 | $j_upd99 |")
    rows+=("| $N | read, warm | $d_read (readrandom) | $j_read | $(ratio "$j_read" "$d_read") | $d_read99 | $j_read99 |")
    rows+=("| $N | read, cold | $d_cold (readrandom) | $j_cold | $(ratio "$j_cold" "$d_cold") | $d_cold99 | $j_cold99 |")
    rows+=("| $N | juno RSS, SST bytes/record; write amplification: db_bench, then juno | $d_wa | $((j_rss / 1024)) MiB, $(per "$j_disk" "$N") B; $j_wa | | | |")
done

echo "| records | workload | db_bench ops/s | juno-store ops/s | ratio | db_bench p99 ms | juno p99 ms |"
echo "|---:|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
