#!/usr/bin/env bats
# bin/juno-cluster: a local cluster comes up, serves juno put/get, reports its
# processes, is safe to start twice, and stops every process it started.

setup() {
    TMP=$(mktemp -d)
    DIR="$TMP/cluster"
}

teardown() {
    # stop by PID whatever the test left running, even when it failed
    for f in "$DIR"/pid/*.pid; do
        [ -e "$f" ] || continue
        kill -KILL "$(cat "$f")" 2>/dev/null || true
    done
    rm -rf "$TMP"
}

up() {
    run juno-cluster up --dir "$DIR" --proxy-port auto --base-port auto "$@"
    echo "$output" >&2
    [ "$status" -eq 0 ]
}

@test "up brings up 3 zones and a proxy; juno put and get work through it" {
    up --memory
    [[ "$output" == *"juno cluster up in $DIR: 3 zone(s), 3 store(s), proxy at 127.0.0.1:"* ]]
    # the map went through etcd: the live map is version 1, every store registered
    run juno-ring fetch --etcd "$(cat "$DIR/etcd")"
    [ "$status" -eq 0 ]
    [[ "$output" == *'"version": 1,'* ]]
    run env ETCDCTL_API=3 etcdctl --endpoints="$(cat "$DIR/etcd")" get --prefix --keys-only /juno/juno/stores/
    [ "$(grep -c /juno/juno/stores/ <<<"$output")" -eq 3 ]
    P=$(cat "$DIR/proxy")
    run juno -s "$P" put hello world
    [ "$status" -eq 0 ]
    run juno -s "$P" get hello
    [ "$output" = world ]
    # each zone's store holds a copy
    for z in 0 1 2; do
        run juno --store "$(cat "$DIR/addr/store-z$z-s1")" read hello --json
        [[ "$output" == *'"status":"Ok"'* ]]
    done
}

@test "status lists every process running; up twice is safe" {
    up --memory --zones 2 --stores-per-zone 2
    run juno-cluster status --dir "$DIR"
    [ "$status" -eq 0 ]
    # etcd, 4 stores, 1 proxy: each running and healthy, the daemons on map 1
    [ "$(grep -c ' running  ok ' <<<"$output")" -eq 6 ]
    [ "$(grep -cE '^(store|proxy)-.* running  ok +1 ' <<<"$output")" -eq 5 ]
    [[ "$output" == *"map version 1 in etcd http://127.0.0.1:"*"6 of 6 processes running"* ]]
    pids=$(cat "$DIR"/pid/*.pid)
    run juno-cluster up --dir "$DIR"
    [ "$status" -eq 0 ]
    [[ "$output" == *"already running"* ]]
    [ "$(cat "$DIR"/pid/*.pid)" = "$pids" ]
}

@test "down stops every process it started, by PID" {
    up --memory
    pids=$(cat "$DIR"/pid/*.pid)
    run juno-cluster down --dir "$DIR"
    [ "$status" -eq 0 ]
    for p in $pids; do ! kill -0 "$p" 2>/dev/null; done
    run juno-cluster status --dir "$DIR"
    [ "$status" -eq 1 ]
    [[ "$output" == *"no cluster running"* ]]
}

@test "a disk cluster keeps its data across down and up" {
    up --zones 1
    P=$(cat "$DIR/proxy")
    juno -s "$P" put k v1
    juno-cluster down --dir "$DIR"
    up --zones 1
    P=$(cat "$DIR/proxy")
    run juno -s "$P" get k
    [ "$output" = v1 ]
}

@test "usage errors exit 64; --help exits 0" {
    run juno-cluster
    [ "$status" -eq 64 ]
    run juno-cluster frob
    [ "$status" -eq 64 ]
    run juno-cluster up --zones 7 --dir "$DIR"
    [ "$status" -eq 64 ]
    run juno-cluster --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: juno-cluster up"* ]]
}
