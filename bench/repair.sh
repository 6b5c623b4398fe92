#!/usr/bin/env bash
# bench/repair.sh: what anti-entropy costs, and how fast backups go. Prints
# markdown tables for docs/benchmarks.md.
#
#   bench/repair.sh [N]   N records (default 1000000) of 100-byte values,
#                         loaded through a proxy into 3 zones of one store
#                         each (on disk, --sync batch, 1024 shards)
#
#   equal         juno-repair over the equal cluster: time, bytes read by
#                 juno-repair, records the stores read
#   100 differ    DIFF (default 100) records written to z0 only (juno
#                 --store set): juno-repair --dry-run, then juno-repair,
#                 against --full (every record's digest listed, no tree:
#                 what a comparison that scans the shards transfers)
#   throughput    z2 stopped while MISSING (default 100000) new records are
#                 written, then restarted: juno-repair copies them to it
#   backup        juno-backup create, verify; restore into 3 zones x 2
#                 stores (on disk, 512 shards)
# Needs: make all.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DIFF=${DIFF:-100}
MISSING=${MISSING:-100000}
BUILD=${BUILD:-build}
export PATH="$PWD/$BUILD:$PATH"
[ -x "$BUILD/juno-repair" ] && [ -x "$BUILD/juno-backup" ] || make -s -j2 all

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port
wait_up() { for _ in $(seq 400); do juno --store "$1" --timeout 200 nop >/dev/null 2>&1 && return; sleep 0.05; done; exit 69; }
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }

S=() SPID=()
for z in 0 1 2; do S[$z]=127.0.0.1:$(free_port); done
PROXY=127.0.0.1:$(free_port)
MAP=$TMP/map.json
juno-ring init --cluster bench --shards 1024 --zone "z0=s1@${S[0]}" --zone "z1=s1@${S[1]}" \
    --zone "z2=s1@${S[2]}" >"$MAP"
store_up() {
    juno-store --listen "${S[$1]}" --map "$MAP" --data "$TMP/d$1" --rejoin-after 86400 \
        2>>"$TMP/s$1.log" &
    SPID[$1]=$!
    PIDS+=($!)
    wait_up "${S[$1]}"
}
for z in 0 1 2; do store_up $z; done
juno-proxy --listen "$PROXY" --map "$MAP" 2>"$TMP/proxy.log" &
PIDS+=($!)
for _ in $(seq 200); do juno -s "$PROXY" --timeout 200 --retries 0 ping >/dev/null 2>&1 && break; sleep 0.05; done

bench/bulk-load.sh "$PROXY" "$N" >&2
for z in 0 1 2; do juno --store "${S[$z]}" compact >/dev/null; done # steady state: SST files

# run a repair with --json; print "seconds bytes_in bytes_out scanned records repaired"
run() {
    local t0 t1
    t0=$(now)
    juno-repair --map-file "$MAP" --restart --json "$@" >"$TMP/ev" 2>/dev/null || true
    t1=$(now)
    python3 - "$(secs "$t0" "$t1")" "$TMP/ev" <<'EOF'
import json, sys
d = [json.loads(l) for l in open(sys.argv[2]) if '"event":"done"' in l][-1]
print(sys.argv[1], d["bytes_in"], d["bytes_out"], d["scanned"], d["records"], d["repaired"])
EOF
}
row() { # label, "seconds bytes_in bytes_out scanned records repaired"
    read -r s bi bo sc rec rep <<<"$2"
    awk -v l="$1" -v s="$s" -v bi="$bi" -v bo="$bo" -v sc="$sc" -v rec="$rec" -v rep="$rep" \
        'BEGIN { printf "| %s | %.2f | %.2f | %.2f | %d | %d | %d |\n", l, s, bi / 1048576, bo / 1048576, sc, rec, rep }'
}

bytes=0
for z in 0 1 2; do
    b=$(for s in $(seq 0 1023); do juno --store "${S[$z]}" shard-info "$s"; done |
        python3 -c 'import json,sys; print(sum(json.loads(l)["bytes"] for l in sys.stdin))')
    bytes=$((bytes + b))
done

echo "| run | seconds | MB read by juno-repair | MB sent | records the stores read | records differing | copies written |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row "equal cluster, $N records" "$(run)"
row "equal cluster, --full (every digest listed)" "$(run --full)"
for i in $(seq 1 "$DIFF"); do printf 'set\tkey:%d\tchanged-%d\n' $((i * 9973 % N)) "$i"; done |
    juno --store "${S[0]}" --map "$MAP" batch >/dev/null
row "$DIFF differ, --dry-run" "$(run --dry-run)"
row "$DIFF differ, --dry-run --full" "$(run --dry-run --full)"
row "$DIFF differ, repaired" "$(run)"
echo
echo "A full scan of every replica's shards would read $(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }') MB of records (keys and stored values, ShardInfo's bytes summed over the 3 replicas)."
echo

# throughput: z2 misses MISSING records
kill "${SPID[2]}"
wait "${SPID[2]}" 2>/dev/null || true
awk -v n="$MISSING" 'BEGIN { for (i = 0; i < n; i++) printf "put\tmissing:%d\t%0100d\n", i, i }' |
    juno -s "$PROXY" --window 256 batch >/dev/null
store_up 2
r=$(run)
read -r s _ _ _ rec rep <<<"$r"
echo "| run | seconds | MB read by juno-repair | MB sent | records the stores read | records differing | copies written |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row "z2 missed $MISSING records" "$r"
awk -v s="$s" -v rep="$rep" 'BEGIN { printf "\nrepair throughput: %d copies written in %.2f s: %.0f records/s\n\n", rep, s, rep / s }'

# backup and restore
t0=$(now)
juno-backup create "$TMP/bk" --map-file "$MAP" >"$TMP/create.out"
t1=$(now)
juno-backup verify "$TMP/bk" >/dev/null 2>&1
t2=$(now)
for z in 0 1 2; do kill "${SPID[$z]}"; done
MAP2=$TMP/map2.json
zs=()
for z in 0 1 2; do zs+=(--zone "n$z=s1@127.0.0.1:$(free_port),s2@127.0.0.1:$(free_port)"); done
juno-ring init --cluster restored --shards 512 "${zs[@]}" >"$MAP2"
for a in $(python3 -c 'import json,sys; print(" ".join(n["addr"] for z in json.load(open(sys.argv[1]))["zones"] for n in z["nodes"]))' "$MAP2"); do
    juno-store --listen "$a" --map "$MAP2" --data "$TMP/r-${a##*:}" 2>>"$TMP/r.log" &
    PIDS+=($!)
    wait_up "$a"
done
t3=$(now)
juno-backup restore "$TMP/bk" --map-file "$MAP2" --json >"$TMP/restore.out" 2>/dev/null
t4=$(now)
recs=$(sed -n 's/.*"event":"restored","records":\([0-9]*\).*/\1/p' "$TMP/restore.out")
echo "| step | seconds | records |"
echo "|---|---:|---:|"
echo "| juno-backup create (3 stores, checkpoints and manifest) | $(secs "$t0" "$t1") | $(sed -n 's/.* records=\([0-9]*\).*/\1/p' "$TMP/create.out" | tail -1) |"
echo "| juno-backup verify | $(secs "$t1" "$t2") | |"
echo "| juno-backup restore into 3 zones x 2 stores, 512 shards (merge, send, verify) | $(secs "$t3" "$t4") | $recs |"
du -sh --apparent-size "$TMP/bk" | awk '{print "\nbackup directory: " $1 " (apparent; hard links to the stores SST files)"}'
echo "juno $(juno --version | cut -d' ' -f2), $(nproc) cores, $(date -u +%Y-%m-%d)"
