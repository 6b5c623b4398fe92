#!/usr/bin/env bats
# etcd.bats: the etcd-backed cluster with a real etcd (started here on free
# loopback ports): juno-ring publish (compare-and-swap) and fetch, store
# registrations under leases, the proxy following the live map (swaps under
# load, garbage refused, a cache file when etcd is down, resuming after an etcd
# restart) and honouring registrations and zone mark-downs.
# teardown stops every process started (by PID), even when a test failed.

bats_require_minimum_version 1.5.0
load lib
load etcd_helpers

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-etcd.XXXXXX")
    : >"$TMP/pids"
}

teardown() {
    stop_pids <(tac "$TMP/pids")
    local bad=0
    sanitizer_reports "$TMP"/*.log && bad=1
    rm -rf "$TMP"
    return "$bad"
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

# ---- daemons following etcd ----

# cluster3 [K]: a map of 3 zones x K stores (default 1) published to etcd as
# version 1; addresses in $S_<zone>_<n> (S_z0_1 ...), map in $TMP/m1.json.
cluster3() {
    local k=${1:-1} z n zone ports i=0
    read -r -a ports < <(free_ports $((3 * k + 2)))
    PROXY=127.0.0.1:${ports[$((3 * k))]}
    PROXY2=127.0.0.1:${ports[$((3 * k + 1))]}
    local args=()
    for z in 0 1 2; do
        zone=
        for n in $(seq 1 "$k"); do
            eval "S_z${z}_$n=127.0.0.1:${ports[$i]}"
            zone+="${zone:+,}s$n@127.0.0.1:${ports[$i]}"
            i=$((i + 1))
        done
        args+=(--zone "z$z=$zone")
    done
    juno-ring init --cluster c1 --shards 64 "${args[@]}" --out "$TMP/m1.json"
    juno-ring publish "$TMP/m1.json" --etcd "$ETCD" >/dev/null
}

# start_store ZONE NODE [options]: juno-store --etcd for that node, in memory;
# PID in $TMP/pid-ZONE-NODE; waits until it answers.
start_store() {
    local z=$1 n=$2 addr i
    shift 2
    eval "addr=\$S_${z}_${n#s}"
    juno-store --etcd "$ETCD" --cluster c1 --zone "$z" --node "$n" --listen "$addr" --memory "$@" \
        2>>"$TMP/store-$z-$n.log" &
    echo $! >"$TMP/pid-$z-$n"
    echo $! >>"$TMP/pids"
    wait_for "store $z/$n" juno --store "$addr" --timeout 200 nop
}

# start_proxy [ADDR [options]]: juno-proxy --etcd with a map cache; PID in
# $TMP/pid-proxy; waits until it answers.
start_proxy() {
    local addr=${1:-$PROXY}
    shift || true
    juno-proxy --etcd "$ETCD" --cluster c1 --map-cache "$TMP/cache.json" --listen "$addr" "$@" \
        2>>"$TMP/proxy.log" &
    echo $! >"$TMP/pid-proxy"
    echo $! >>"$TMP/pids"
    wait_for "proxy $addr" juno -s "$addr" --timeout 200 --retries 0 ping
}

# bump FROM TO: publish the map of FROM (a file) again as version TO.
bump() {
    sed "s/\"version\": [0-9]*,/\"version\": $2,/" "$1" >"$TMP/v$2.json"
    juno-ring publish "$TMP/v$2.json" --etcd "$ETCD" >/dev/null
}

# proxy_version: the map_version the proxy registered (every worker swapped).
proxy_version() {
    etcd_get "/juno/c1/proxies/$PROXY" | sed -n 's/.*"map_version":\([0-9]*\).*/\1/p'
}
proxy_at() { [ "$(proxy_version)" = "$1" ]; }
log_has() { grep -q -- "$2" "$1"; }

@test "a store registers under a lease; SIGTERM removes it at once, kill -9 after the TTL; the proxy marks it down; a deleted key comes back" {
    start_etcd
    cluster3
    start_store z0 s1
    start_store z1 s1
    start_store z2 s1
    v=$(etcd_get /juno/c1/stores/z0/s1)
    [[ $v == "{\"addr\":\"$S_z0_1\",\"zone\":\"z0\",\"node\":\"s1\",\"pid\":$(cat "$TMP/pid-z0-s1"),\"map_version\":1}" ]]
    etcdctl_ get /juno/c1/stores/z0/s1 -w json | grep -q '"lease":[1-9]'
    start_proxy
    juno -s "$PROXY" put k1 v1
    # SIGTERM: the registration goes with the store, and the proxy skips it
    kill -TERM "$(cat "$TMP/pid-z1-s1")"
    wait_for "z1/s1 gone" bash -c "[ -z \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD get /juno/c1/stores/z1/s1)\" ]"
    wait_for "proxy marks z1/s1 down" log_has "$TMP/proxy.log" "store marked down addr=$S_z1_1 thread=0 reason=\"etcd: unregistered"
    # a registration deleted under its live lease is written again (within 5 renewals)
    etcdctl_ del /juno/c1/stores/z0/s1 >/dev/null
    wait_for "z0/s1 registered again" bash -c "[ -n \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD get /juno/c1/stores/z0/s1)\" ]"
    # a store that registers again is used again
    start_store z1 s1
    wait_for "proxy marks z1/s1 up" log_has "$TMP/proxy.log" "store back up addr=$S_z1_1"
    juno -s "$PROXY" put k2 v2
    run juno --store "$S_z1_1" --map "$TMP/m1.json" read k2 --json
    [[ $output == *'"status":"Ok"'* ]]
    # kill -9: the lease keeps the key until its TTL, then it expires
    kill -KILL "$(cat "$TMP/pid-z2-s1")"
    [ -n "$(etcd_get /juno/c1/stores/z2/s1)" ]
    wait_for "z2/s1 expired" bash -c "[ -z \"\$(ETCDCTL_API=3 etcdctl --endpoints=$ETCD get /juno/c1/stores/z2/s1)\" ]"
    wait_for "proxy marks z2/s1 down" log_has "$TMP/proxy.log" "store marked down addr=$S_z2_1 thread=0 reason=\"etcd: unregistered"
}

@test "registrations that would take a quorum away are not believed: the stores stay in use, and are skipped again once one comes back" {
    start_etcd
    cluster3
    # stores from the map file, registered by hand: their registrations come
    # and go as this test says, while the stores serve on
    reg() { etcdctl_ put "/juno/c1/stores/$1/s1" "{\"addr\":\"$2\"}" >/dev/null; }
    for z in z0 z1 z2; do
        eval "addr=\$S_${z}_1"
        juno-store --map "$TMP/m1.json" --listen "$addr" --memory 2>>"$TMP/store-$z-s1.log" &
        echo $! >>"$TMP/pids"
        wait_for "store $z" juno --store "$addr" --timeout 200 nop
        reg "$z" "$addr"
    done
    start_proxy
    juno -s "$PROXY" put k1 v1
    # one zone's registration gone (as when its lease expires): skipped
    etcdctl_ del /juno/c1/stores/z1/s1 >/dev/null
    wait_for "z1 skipped" log_has "$TMP/proxy.log" "store marked down addr=$S_z1_1 thread=0 reason=\"etcd: unregistered"
    juno -s "$PROXY" put k2 v2
    # a second one too: that would leave no quorum, so neither is believed
    etcdctl_ del /juno/c1/stores/z2/s1 >/dev/null
    wait_for "registrations not believed" log_has "$TMP/proxy.log" "not believing them"
    wait_for "z1 in use again" log_has "$TMP/proxy.log" "store back up addr=$S_z1_1"
    ! grep -q "store marked down addr=$S_z2_1" "$TMP/proxy.log"
    for i in $(seq 20); do juno -s "$PROXY" put "k$i" "v$i"; done
    [ "$(juno -s "$PROXY" get k20)" = v20 ]
    run juno --store "$S_z1_1" --map "$TMP/m1.json" read k20 --json
    [[ $output == *'"status":"Ok"'* ]]
    # z2 registers again: z1's missing registration is believed again
    reg z2 "$S_z2_1"
    wait_for "believed again" log_has "$TMP/proxy.log" "registrations believed again"
    wait_for "z1 skipped again" bash -c "[ \"\$(grep -c 'store marked down addr=$S_z1_1 thread=0 reason=\"etcd' '$TMP/proxy.log')\" -ge 2 ]"
    juno -s "$PROXY" put k21 v21
    [ "$(juno -s "$PROXY" get k21)" = v21 ]
}

@test "a zone marked down under /down/ is skipped, and used again when the key goes" {
    start_etcd
    cluster3
    for z in z0 z1 z2; do start_store $z s1; done
    start_proxy
    etcdctl_ put /juno/c1/down/z0 '{"reason":"maintenance"}' >/dev/null
    wait_for "z0 down" log_has "$TMP/proxy.log" "store marked down addr=$S_z0_1"
    juno -s "$PROXY" put kd vd
    run juno --store "$S_z0_1" --map "$TMP/m1.json" read kd --json
    [[ $output != *'"status":"Ok"'* ]]
    run juno --store "$S_z1_1" --map "$TMP/m1.json" read kd --json
    [[ $output == *'"status":"Ok"'* ]]
    etcdctl_ del /juno/c1/down/z0 >/dev/null
    wait_for "z0 up" log_has "$TMP/proxy.log" "store back up addr=$S_z0_1"
    juno -s "$PROXY" put ke ve
    run juno --store "$S_z0_1" --map "$TMP/m1.json" read ke --json
    [[ $output == *'"status":"Ok"'* ]]
}

@test "steady load through the proxy while the map changes 20 times (stores come and go): zero errors" {
    start_etcd
    cluster3 2
    for z in z0 z1 z2; do
        start_store $z s1
        start_store $z s2
    done
    start_proxy
    # two maps that differ: s2 of z0 leaves and comes back (connections to it
    # are made before each swap that needs it)
    juno-ring plan "$TMP/m1.json" --remove z0=s2 --out "$TMP/mA.json" >/dev/null
    juno-bench -s "$PROXY" -c 2 -t set -D 10 -r 1000000000 --json >"$TMP/bench.json" 2>"$TMP/bench.err" &
    bench=$!
    echo $bench >>"$TMP/pids"
    sleep 0.5
    for v in $(seq 2 21); do
        if [ $((v % 2)) -eq 0 ]; then bump "$TMP/mA.json" "$v"; else bump "$TMP/m1.json" "$v"; fi
        wait_for "proxy on version $v" proxy_at "$v"
    done
    wait_for "store on version 21" bash -c "ETCDCTL_API=3 etcdctl --endpoints=$ETCD get --print-value-only /juno/c1/stores/z0/s2 | grep -q '\"map_version\":21'"
    kill -0 "$bench" # the load ran through every change
    wait "$bench"
    cat "$TMP/bench.json" >&2
    sort "$TMP/bench.err" | uniq -c >&2
    grep -v ' info ' "$TMP/proxy.log" | tail -20 >&2
    [ "$(grep -c 'map swapped' "$TMP/proxy.log")" -ge 20 ]
    grep -q '"errors":0,' "$TMP/bench.json"
    [ "$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' "$TMP/bench.json")" -gt 1000 ]
}

@test "garbage or an older map in etcd is refused with a log line; the old map stays" {
    start_etcd
    cluster3
    for z in z0 z1 z2; do start_store $z s1; done
    start_proxy
    bump "$TMP/m1.json" 2
    bump "$TMP/m1.json" 3
    wait_for "proxy on version 3" proxy_at 3
    etcdctl_ put /juno/c1/map '{"cluster": "c1", "version": 4, "shards": 64' >/dev/null
    wait_for "proxy refuses garbage" log_has "$TMP/proxy.log" "map from etcd refused, keeping version 3: invalid map /juno/c1/map"
    wait_for "store refuses garbage" log_has "$TMP/store-z0-s1.log" "map from etcd refused, keeping version 3: invalid map /juno/c1/map"
    # an older version (2) written over it by hand
    sed 's/"version": 1,/"version": 2,/' "$TMP/m1.json" | etcdctl_ put /juno/c1/map >/dev/null
    wait_for "proxy refuses an older map" log_has "$TMP/proxy.log" "keeping version 3: map /juno/c1/map version 2 shards 64: its version is older"
    wait_for "store refuses an older map" log_has "$TMP/store-z0-s1.log" "version 2, older than the current 3"
    juno -s "$PROXY" put g1 v1
    [ "$(juno -s "$PROXY" get g1)" = v1 ]
    [ "$(proxy_version)" = 3 ]
    grep -q '"version": 3,' "$TMP/cache.json" # the cache kept the last good map
    kill -0 "$(cat "$TMP/pid-proxy")" "$(cat "$TMP/pid-z0-s1")"
}

@test "etcd down: a restarted proxy serves from its map cache; etcd back: a new map is picked up" {
    start_etcd
    cluster3
    for z in z0 z1 z2; do start_store $z s1; done
    start_proxy
    bump "$TMP/m1.json" 2
    wait_for "proxy on version 2" proxy_at 2
    juno -s "$PROXY" put c1 before
    stop_etcd TERM
    kill -TERM "$(cat "$TMP/pid-proxy")"
    wait_for "proxy gone" bash -c "! kill -0 $(cat "$TMP/pid-proxy") 2>/dev/null"
    start_proxy
    grep -q "starting from map $TMP/cache.json version 2: etcd unreachable" "$TMP/proxy.log"
    [ "$(juno -s "$PROXY" get c1)" = before ]
    juno -s "$PROXY" put c2 during
    [ "$(juno -s "$PROXY" get c2)" = during ]
    # etcd comes back (same data, same ports): the watch finds it, a new map arrives
    start_etcd
    bump "$TMP/m1.json" 3
    wait_for "proxy on version 3" proxy_at 3
    wait_for "cache on version 3" grep -q '"version": 3,' "$TMP/cache.json"
    [ "$(juno -s "$PROXY" get c2)" = during ]
    # without etcd, a cache or a map, the proxy cannot start (69)
    stop_etcd KILL
    run juno-proxy --etcd "$ETCD" --cluster c1 --listen "$PROXY2" --map-cache "$TMP/none.json"
    [ "$status" -eq 69 ]
    [[ $output == *"juno-proxy: error: no map to start from: etcd unreachable"* ]]
    run juno-store --etcd "$ETCD" --cluster c1 --zone z0 --node s9 --memory
    [ "$status" -eq 69 ]
}

@test "etcd restarted under a running proxy and stores: their watches resume" {
    start_etcd
    cluster3
    for z in z0 z1 z2; do start_store $z s1; done
    start_proxy
    stop_etcd KILL
    start_etcd
    bump "$TMP/m1.json" 2
    wait_for "proxy on version 2" proxy_at 2
    wait_for "store on version 2" log_has "$TMP/store-z1-s1.log" "map loaded cluster=c1 version=2"
    stop_etcd TERM
    start_etcd
    bump "$TMP/m1.json" 3
    wait_for "proxy on version 3" proxy_at 3
    wait_for "store on version 3" log_has "$TMP/store-z1-s1.log" "map loaded cluster=c1 version=3"
    # the registrations came back too (leases re-granted if they expired)
    for z in z0 z1 z2; do [ -n "$(etcd_get /juno/c1/stores/$z/s1)" ]; done
    juno -s "$PROXY" put r1 v1
}

@test "a store not yet in the live map joins with no shard, and owns shards once a map names it" {
    start_etcd
    cluster3
    for z in z0 z1 z2; do start_store $z s1; done
    read -r p9 < <(free_ports 1)
    S_z0_9=127.0.0.1:$p9
    start_store z0 s9
    grep -q "map loaded cluster=c1 version=1 zone=z0 node=s9 shards_owned=0/64" "$TMP/store-z0-s9.log"
    [[ $(etcd_get /juno/c1/stores/z0/s9) == *"\"addr\":\"$S_z0_9\",\"zone\":\"z0\",\"node\":\"s9\""* ]]
    juno-ring plan "$TMP/m1.json" --add "z0=s9@$S_z0_9" --out "$TMP/m2.json" >/dev/null
    juno-ring publish "$TMP/m2.json" --etcd "$ETCD" >/dev/null
    wait_for "s9 owns shards" grep -q "map loaded cluster=c1 version=2 zone=z0 node=s9 shards_owned=32/64" "$TMP/store-z0-s9.log"
    # without --etcd, a node the map does not name is a configuration error
    run juno-store --map "$TMP/m1.json" --zone z0 --node s8 --listen "$PROXY2" --memory
    [ "$status" -eq 78 ]
}

# etcd3: a 3-member etcd on free loopback ports; PIDs in $TMP/pid-m0..2, the
# client URLs in ETCD3[0..2]; ETCD gets all three (the first is used first).
etcd3() {
    local i cl="" ports
    read -r -a ports < <(free_ports 6)
    for i in 0 1 2; do cl+="${cl:+,}m$i=http://127.0.0.1:${ports[$((3 + i))]}"; done
    ETCD3=()
    for i in 0 1 2; do
        setsid etcd --name "m$i" --data-dir "$TMP/etcd-m$i" \
            --listen-client-urls "http://127.0.0.1:${ports[$i]}" \
            --advertise-client-urls "http://127.0.0.1:${ports[$i]}" \
            --listen-peer-urls "http://127.0.0.1:${ports[$((3 + i))]}" \
            --initial-advertise-peer-urls "http://127.0.0.1:${ports[$((3 + i))]}" \
            --initial-cluster "$cl" --initial-cluster-state new --unsafe-no-fsync \
            --logger=zap --log-outputs=stderr >>"$TMP/etcd-m$i.log" 2>&1 </dev/null &
        echo $! >"$TMP/pid-m$i"
        echo $! >>"$TMP/pids"
        ETCD3+=("http://127.0.0.1:${ports[$i]}")
    done
    for i in 0 1 2; do
        wait_for "member m$i" bash -c "curl -s -m 2 ${ETCD3[$i]}/health | grep -q '\"health\":\"true\"'"
    done
    ETCD="${ETCD3[0]},${ETCD3[1]},${ETCD3[2]}"
}

@test "a 3-member etcd: the member the daemons use dies; they go on with another" {
    etcd3
    cluster3
    for z in z0 z1 z2; do start_store $z s1; done
    start_proxy
    kill -KILL "$(cat "$TMP/pid-m0")"
    ETCD=${ETCD3[1]}
    bump "$TMP/m1.json" 2
    wait_for "proxy on version 2" proxy_at 2
    wait_for "store on version 2" log_has "$TMP/store-z2-s1.log" "map loaded cluster=c1 version=2"
    juno -s "$PROXY" put e1 v1
    [ "$(juno -s "$PROXY" get e1)" = v1 ]
}

@test "a 3-member etcd: the member the daemons watch freezes (SIGSTOP); they go on with another" {
    etcd3
    cluster3
    for z in z0 z1 z2; do start_store $z s1; done
    start_proxy
    wait_for "proxy on version 1" proxy_at 1
    kill -STOP "$(cat "$TMP/pid-m0")" # the kernel keeps its connections open: the watch is silent
    ETCD=${ETCD3[1]}
    bump "$TMP/m1.json" 2
    # a silent watch is checked after 5 s; the check times out after 3 s
    wait_for "proxy on version 2" proxy_at 2 || wait_for "proxy on version 2" proxy_at 2
    wait_for "store on version 2" log_has "$TMP/store-z2-s1.log" "map loaded cluster=c1 version=2"
    grep -q "did not answer a check" "$TMP/proxy.log"
    kill -CONT "$(cat "$TMP/pid-m0")"
    juno -s "$PROXY" put f1 v1
    [ "$(juno -s "$PROXY" get f1)" = v1 ]
}
