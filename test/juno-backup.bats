#!/usr/bin/env bats
# juno-backup.bats: backups of a running cluster (3 zones of one juno-store on
# disk, a juno-proxy, a 16-shard map file), checked, and restored into a
# cluster of another shape (2 zones of 2 stores, 8 shards) on free loopback
# ports in a temp directory. Every process started is stopped by PID in
# teardown, even on failure.

bats_require_minimum_version 1.5.0

load lib

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-backup.XXXXXX")
    : >"$TMP/pids"
    read -r P0 P1 P2 PP Q1 Q2 Q3 Q4 QP < <(free_ports 9)
    PROXY=127.0.0.1:$PP PROXY2=127.0.0.1:$QP
    MAP=$TMP/map.json MAP2=$TMP/map2.json
    juno-ring init --cluster t --shards 16 --zone "z0=s1@127.0.0.1:$P0" \
        --zone "z1=s1@127.0.0.1:$P1" --zone "z2=s1@127.0.0.1:$P2" >"$MAP"
    juno-ring init --cluster t2 --shards 8 --zone "a=s1@127.0.0.1:$Q1,s2@127.0.0.1:$Q2" \
        --zone "b=s1@127.0.0.1:$Q3,s2@127.0.0.1:$Q4" >"$MAP2"
    BK=$TMP/backup
}

teardown() {
    stop_pids "$TMP/pids"
    local bad=0
    sanitizer_reports "$TMP"/*.log && bad=1
    rm -rf "$TMP"
    return "$bad"
}

daemon() { # NAME COMMAND...: in the background, PID kept; waits for nothing
    local name=$1
    shift
    "$@" 2>>"$TMP/$name.log" &
    echo $! >>"$TMP/pids"
    echo $! >"$TMP/$name.pid"
}

# the cluster of $MAP, stores on disk ([juno-store options] for all of them)
old_cluster() {
    local p
    for p in $P0 $P1 $P2; do
        daemon "store-$p" juno-store --listen "127.0.0.1:$p" --map "$MAP" --data "$TMP/data-$p" "$@"
        wait_started "store $p" "$TMP/store-$p.log" "$(cat "$TMP/store-$p.pid")" \
            juno --store "127.0.0.1:$p" --timeout 200 nop
    done
    daemon proxy juno-proxy --listen "$PROXY" --map "$MAP"
    wait_started proxy "$TMP/proxy.log" "$(cat "$TMP/proxy.pid")" juno -s "$PROXY" --timeout 200 --retries 0 ping
}

# the cluster of $MAP2: 2 zones x 2 stores in memory, 8 shards
new_cluster() {
    local p
    for p in $Q1 $Q2 $Q3 $Q4; do
        daemon "new-$p" juno-store --listen "127.0.0.1:$p" --map "$MAP2" --memory
        wait_started "store $p" "$TMP/new-$p.log" "$(cat "$TMP/new-$p.pid")" \
            juno --store "127.0.0.1:$p" --timeout 200 nop
    done
    daemon proxy2 juno-proxy --listen "$PROXY2" --map "$MAP2"
    wait_started proxy2 "$TMP/proxy2.log" "$(cat "$TMP/proxy2.pid")" juno -s "$PROXY2" --timeout 200 --retries 0 ping
}

stop_old_cluster() {
    local f
    for f in "$TMP"/store-*.pid "$TMP/proxy.pid"; do
        kill -TERM "$(cat "$f")"
        while kill -0 "$(cat "$f")" 2>/dev/null; do sleep 0.05; done
    done
    rm -rf "$TMP"/data-*
}

meta() { # ADDR KEY: version, creation and expiration time, value
    juno -s "$1" get --json "$2" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["version"], d["creation_time"], d.get("expiration_time", 0), d["last_modified"], d["value"])'
}

@test "juno-backup --help, --version, usage errors" {
    run juno-backup --help
    [ "$status" -eq 0 ]
    [[ "$output" == "Usage: juno-backup create DIR"* ]]
    [[ "$output" == *"Exit status:"* ]]
    run juno-backup --version
    [[ "$output" == "juno-backup "* ]]
    run juno-backup
    [ "$status" -eq 64 ]
    run juno-backup create
    [ "$status" -eq 64 ]
    run juno-backup copy "$BK"
    [ "$status" -eq 64 ]
    run juno-backup verify "$BK" --map-file "$MAP"
    [ "$status" -eq 64 ]
    run env -u JUNO_ETCD juno-backup create "$BK"
    [ "$status" -eq 64 ]
    run juno-backup verify "$TMP/none"
    [ "$status" -eq 74 ]
    [[ "$output" == *"manifest.json"*"not a finished backup"* ]]
}

@test "completions and the man page name every juno-backup command and option" {
    documented juno-backup 1 "0 64 65 69 70 74 75 76 78" create verify restore
}

@test "a backup under load, the cluster destroyed, restored into another shape: every acknowledged key reads back with its metadata" {
    old_cluster
    # keys that stay as they are, with TTLs, versions and a deleted one
    juno -s "$PROXY" put keep1 one >/dev/null
    juno -s "$PROXY" put --ttl 3600 keep2 two >/dev/null
    for v in a b c; do juno -s "$PROXY" put keep3 "$v" >/dev/null; done
    juno -s "$PROXY" put gone x >/dev/null
    juno -s "$PROXY" del gone
    for k in keep1 keep2 keep3; do meta "$PROXY" "$k" >"$TMP/meta-$k"; done
    python3 "$BATS_TEST_DIRNAME/backup_load.py" "$PROXY" run --stop "$TMP/stop" --log "$TMP/load.json" \
        >"$TMP/load.out" 2>&1 &
    L=$!
    echo "$L" >>"$TMP/pids"
    sleep 1
    t0=$(date +%s%N)
    run juno-backup create "$BK" --map-file "$MAP"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"created dir=$BK map_version=1 stores=3 records="* ]]
    sleep 0.5
    touch "$TMP/stop"
    wait "$L"
    cat "$TMP/load.out"
    [ "$(stat -c %h "$(ls "$BK"/stores/z0.s1/*.sst | head -1)")" -ge 2 ] # hard links
    run juno-backup verify "$BK"
    [ "$status" -eq 0 ]
    [[ "$output" == *"ok dir=$BK stores=3 "*"problems=0"* ]]
    stop_old_cluster
    new_cluster
    run juno-backup restore "$BK" --map-file "$MAP2" --json
    echo "$output"
    [ "$status" -eq 0 ]
    grep -q '"event":"verified","shards":8,"zones":2,"mismatched":0' <<<"$output"
    python3 "$BATS_TEST_DIRNAME/backup_load.py" "$PROXY2" check --log "$TMP/load.json" --t0 "$t0"
    for k in keep1 keep2 keep3; do
        [ "$(meta "$PROXY2" "$k")" = "$(cat "$TMP/meta-$k")" ]
    done
    [ "$(cut -d' ' -f1 "$TMP/meta-keep3")" = 3 ]
    [ "$(cut -d' ' -f3 "$TMP/meta-keep2")" -gt 0 ]
    run juno -s "$PROXY2" get gone
    [ "$status" -eq 1 ]
    # each key is in both zones of the new cluster
    for q in $Q1 $Q2 $Q3 $Q4; do
        juno --store "127.0.0.1:$q" --map "$MAP2" read keep1 >/dev/null 2>&1 && echo "$q"
    done >"$TMP/holders"
    [ "$(wc -l <"$TMP/holders")" -eq 2 ]
    # again: the cluster is not empty now; with --force nothing changes
    run juno-backup restore "$BK" --map-file "$MAP2"
    [ "$status" -eq 65 ]
    [[ "$output" == *"holds"*"records"*"--force"* ]]
    run juno-backup restore "$BK" --map-file "$MAP2" --force
    [ "$status" -eq 0 ]
    [ "$(meta "$PROXY2" keep3)" = "$(cat "$TMP/meta-keep3")" ]
}

@test "verify finds a changed manifest, a truncated file, a missing checkpoint" {
    old_cluster
    for i in $(seq 1 500); do printf 'put\tk%d\tvalue-%d\n' "$i" "$i"; done | juno -s "$PROXY" batch >/dev/null
    juno-backup create "$BK" --map-file "$MAP" >/dev/null
    cp "$BK/manifest.json" "$TMP/manifest.good"
    # one shard's hash changed
    python3 - "$BK/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
s = m["stores"][1]["shards"][3]
s["hash"] = "%016x" % (int(s["hash"], 16) ^ 1)
json.dump(m, open(sys.argv[1], "w"))
EOF
    run --separate-stderr juno-backup verify "$BK"
    [ "$status" -eq 65 ]
    [[ "$stderr" == *"unable to verify $BK/stores/z1.s1 shard "*"the manifest says"* ]]
    [[ "$output" == *"mismatch zone=z1 node=s1 dir=stores/z1.s1 files="*"problems=1"* ]]
    [[ "$output" == *"verified zone=z0 node=s1"* ]]
    cp "$TMP/manifest.good" "$BK/manifest.json"
    sst=$(ls "$BK"/stores/z2.s1/*.sst | head -1)
    cp "$sst" "$TMP/sst.good"
    rm "$sst" # a hard link: the store's own file is not touched
    head -c 100 "$TMP/sst.good" >"$sst"
    run --separate-stderr juno-backup verify "$BK"
    [ "$status" -eq 65 ]
    [[ "$stderr" == *"unable to verify $sst: 100 bytes, the manifest says"* ]]
    cp "$TMP/sst.good" "$sst"
    run juno-backup verify "$BK"
    [ "$status" -eq 0 ]
    echo '{"format": 1}' >"$BK/manifest.json"
    run --separate-stderr juno-backup verify "$BK"
    [ "$status" -eq 65 ]
    [[ "$stderr" == *"unable to use $BK/manifest.json: \"cluster\" must be a valid name"* ]]
    # a restore refuses a backup that does not verify, before it writes anything
    cp "$TMP/manifest.good" "$BK/manifest.json"
    rm -rf "$BK/stores/z0.s1"
    new_cluster
    run juno-backup restore "$BK" --map-file "$MAP2"
    [ "$status" -eq 65 ]
    [ "$(juno --store "127.0.0.1:$Q1" shard-info 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')" = 0 ]
}

@test "create refuses: an existing directory, a store in memory, a migration under way; nothing is left behind" {
    old_cluster
    mkdir "$BK"
    run juno-backup create "$BK" --map-file "$MAP"
    [ "$status" -eq 74 ]
    [[ "$output" == *"unable to create $BK: "*"a backup goes to a new directory"* ]]
    rmdir "$BK"
    echo '{}' >"$MAP.migration"
    run juno-backup create "$BK" --map-file "$MAP"
    [ "$status" -eq 75 ]
    [[ "$output" == *"a migration is under way"* ]]
    [ ! -e "$BK" ]
    rm "$MAP.migration"
    # a store in memory: nothing to checkpoint
    new_cluster
    run juno-backup create "$BK" --map-file "$MAP2"
    [ "$status" -eq 69 ]
    [[ "$output" == *"unable to checkpoint store 127.0.0.1:$Q1 (zone a, node s1): a --memory store keeps nothing on disk to checkpoint"* ]]
    [ ! -e "$BK" ]
}
