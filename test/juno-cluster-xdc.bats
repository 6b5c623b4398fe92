#!/usr/bin/env bats
# bin/juno-cluster --replicate-to: two local clusters (two DIRs, each with its
# own etcd, stores and proxy) replicating to each other.

load lib
load cluster_helpers

setup() {
    TMP=$(mktemp -d)
    DIR=$TMP/siteA
    DIR2=$TMP/siteB
    read -r PA PB < <(free_ports 2)
}

teardown() {
    local d f bad=0
    for d in "$DIR" "$DIR2"; do
        for f in "$d"/pid/*.pid; do
            [ -e "$f" ] || continue
            kill -KILL "$(cat "$f")" 2>/dev/null || true
        done
        sanitizer_reports "$d"/log/*.log && bad=1
    done
    rm -rf "$TMP"
    return "$bad"
}

@test "two clusters up with each other's proxy as --replicate-to replicate both ways" {
    run juno-cluster up --dir "$DIR" --cluster siteA --memory --zones 2 --shards 64 \
        --proxy-port "$PA" --base-port auto --replicate-to "127.0.0.1:$PB"
    [ "$status" -eq 0 ]
    [[ "$output" == *"writes replicate to and from the site(s) at 127.0.0.1:$PB"* ]]
    # A writes before B exists: queued, delivered once B is up
    juno -s "127.0.0.1:$PA" put early 1
    run juno-cluster up --dir "$DIR2" --cluster siteB --memory --zones 2 --shards 64 \
        --proxy-port "$PB" --base-port auto --replicate-to "127.0.0.1:$PA"
    [ "$status" -eq 0 ]
    local i
    for i in $(seq 50); do
        [ "$(juno -s "127.0.0.1:$PB" get early 2>/dev/null)" = 1 ] && break
        sleep 0.1
    done
    [ "$(juno -s "127.0.0.1:$PB" get early)" = 1 ]
    juno -s "127.0.0.1:$PB" put fromB 2
    for i in $(seq 50); do
        [ "$(juno -s "127.0.0.1:$PA" get fromB 2>/dev/null)" = 2 ] && break
        sleep 0.1
    done
    [ "$(juno -s "127.0.0.1:$PA" get fromB)" = 2 ]
    # kept across down and up (the other options are given again)
    juno-cluster down --dir "$DIR2"
    [ "$(cat "$DIR2/replicate-to")" = "127.0.0.1:$PA" ]
    run juno-cluster up --dir "$DIR2" --cluster siteB --memory --zones 2 --shards 64 \
        --proxy-port "$PB" --base-port auto
    [ "$status" -eq 0 ]
    [[ "$output" == *"replicate to and from the site(s) at 127.0.0.1:$PA"* ]]
    # B's stores were in memory: its data is gone, A still has it
    run juno -s "127.0.0.1:$PB" get early
    [ "$status" -ne 0 ]
    # the re-sync of the two sites is one command
    juno-ring fetch --etcd "$(cat "$DIR2/etcd")" --cluster siteB >"$TMP/b.json"
    run juno-repair --etcd "$(cat "$DIR/etcd")" --cluster siteA --peer-map "$TMP/b.json"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(juno -s "127.0.0.1:$PB" get early)" = 1 ]
    [ "$(juno -s "127.0.0.1:$PB" get fromB)" = 2 ]
    juno-cluster down --dir "$DIR"
    juno-cluster down --dir "$DIR2"
}

@test "--replicate-to: a bad address is a usage error; not with --tls" {
    run juno-cluster up --dir "$DIR" --replicate-to nohost
    [ "$status" -eq 64 ]
    run juno-cluster up --dir "$DIR" --memory --tls --replicate-to "127.0.0.1:$PB"
    [ "$status" -eq 64 ]
    [[ "$output" == *"not available with --tls"* ]]
    [ ! -e "$DIR/pid/etcd.pid" ]
}
