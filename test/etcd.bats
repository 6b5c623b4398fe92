#!/usr/bin/env bats
# etcd.bats: the etcd-backed cluster with a real etcd (started here on free
# loopback ports): juno-ring publish (compare-and-swap) and fetch, store
# registrations under leases, the proxy following the live map (swaps under
# load, garbage refused, a cache file when etcd is down, resuming after an etcd
# restart) and honouring registrations and zone mark-downs.
# teardown stops every process started (by PID), even when a test failed.

bats_require_minimum_version 1.5.0
load etcd_helpers

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-etcd.XXXXXX")
    : >"$TMP/pids"
}

teardown() {
    local pid i
    for pid in $(tac "$TMP/pids" 2>/dev/null); do
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || continue
        for i in $(seq 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}

# mkmap FILE CLUSTER NODE...: a one-zone map of cluster CLUSTER.
mkmap() {
    local f=$1 c=$2
    shift 2
    local IFS=,
    juno-ring init --cluster "$c" --shards 16 --zone "z0=$*" --out "$f"
}

@test "publish: the first map needs none in etcd; fetch prints it byte for byte" {
    start_etcd
    mkmap "$TMP/m1.json" demo s1@127.0.0.1:9001 s2@127.0.0.1:9002
    run juno-ring publish "$TMP/m1.json" --etcd "$ETCD"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"published map version 1 of cluster demo at /juno/demo/map"* ]]
    [ "$(etcd_get /juno/demo/map)" = "$(cat "$TMP/m1.json")" ]
    run --separate-stderr juno-ring fetch --etcd "$ETCD" --cluster demo
    [ "$status" -eq 0 ]
    [ "$output" = "$(cat "$TMP/m1.json")" ]
    # the same map again is a no-op; JUNO_ETCD is the default URL
    JUNO_ETCD=$ETCD run juno-ring publish "$TMP/m1.json"
    [ "$status" -eq 0 ]
    [[ $output == *"already published"* ]]
    # --out writes a file
    juno-ring fetch --etcd "$ETCD" -c demo --out "$TMP/got.json"
    cmp "$TMP/got.json" "$TMP/m1.json"
}

@test "publish refuses a stale map and a map not planned from the live one (exit 1)" {
    start_etcd
    mkmap "$TMP/m1.json" demo s1@127.0.0.1:9001 s2@127.0.0.1:9002
    juno-ring publish "$TMP/m1.json" --etcd "$ETCD"
    juno-ring plan "$TMP/m1.json" --add z0=s3@127.0.0.1:9003 --out "$TMP/m2.json" >/dev/null
    juno-ring plan "$TMP/m1.json" --add z0=s4@127.0.0.1:9004 --out "$TMP/m2b.json" >/dev/null
    juno-ring plan "$TMP/m2.json" --add z0=s5@127.0.0.1:9005 --out "$TMP/m3.json" >/dev/null
    # version 3 was planned from 2, but etcd holds 1
    run --separate-stderr juno-ring publish "$TMP/m3.json" --etcd "$ETCD"
    [ "$status" -eq 1 ]
    [[ $stderr == *"juno-ring: error: unable to publish map version 3: etcd holds version 1"* ]]
    juno-ring publish "$TMP/m2.json" --etcd "$ETCD"
    # a second version 2 (another plan from 1) is now stale
    run --separate-stderr juno-ring publish "$TMP/m2b.json" --etcd "$ETCD"
    [ "$status" -eq 1 ]
    [[ $stderr == *"etcd holds version 2"* ]]
    [ "$(etcd_get /juno/demo/map)" = "$(cat "$TMP/m2.json")" ]
    # the first version 1 over an existing map, and version 2 into an empty cluster
    run --separate-stderr juno-ring publish "$TMP/m1.json" --etcd "$ETCD"
    [ "$status" -eq 1 ]
    sed 's/"cluster": "demo"/"cluster": "other"/' "$TMP/m2.json" >"$TMP/o2.json"
    run --separate-stderr juno-ring publish "$TMP/o2.json" --etcd "$ETCD"
    [ "$status" -eq 1 ]
    [[ $stderr == *"etcd holds no map of cluster other yet"* ]]
    [ -z "$(etcd_get /juno/other/map)" ]
}

@test "publish and fetch: errors and exit codes" {
    start_etcd
    # no map: fetch says no (1)
    run --separate-stderr juno-ring fetch --etcd "$ETCD" --cluster nope
    [ "$status" -eq 1 ]
    [[ $stderr == *"no map of cluster nope in etcd"* ]]
    # garbage in etcd: fetch refuses it (65)
    etcdctl_ put /juno/bad/map '{"cluster": "bad", "version": 1' >/dev/null
    run --separate-stderr juno-ring fetch --etcd "$ETCD" --cluster bad
    [ "$status" -eq 65 ]
    [[ $stderr == *"unable to read map /juno/bad/map from etcd"* ]]
    # etcd unreachable: 69
    mkmap "$TMP/m1.json" demo s1@127.0.0.1:9001
    read -r dead < <(free_ports 1)
    run --separate-stderr juno-ring publish "$TMP/m1.json" --etcd "http://127.0.0.1:$dead"
    [ "$status" -eq 69 ]
    [[ $stderr == *"unable to read the map from etcd: http://127.0.0.1:$dead"* ]]
    # a second endpoint that works is used
    juno-ring publish "$TMP/m1.json" --etcd "http://127.0.0.1:$dead,$ETCD"
    # usage: no URL, a bad URL, an option that does not apply
    run env -u JUNO_ETCD juno-ring fetch
    [ "$status" -eq 64 ]
    run juno-ring fetch --etcd 127.0.0.1:2379
    [ "$status" -eq 64 ]
    run juno-ring publish "$TMP/m1.json" --etcd "$ETCD" --json
    [ "$status" -eq 64 ]
    # an invalid map is not published (65)
    echo '{"version": 1}' >"$TMP/bad.json"
    run juno-ring publish "$TMP/bad.json" --etcd "$ETCD"
    [ "$status" -eq 65 ]
}
