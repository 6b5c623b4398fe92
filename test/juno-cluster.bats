#!/usr/bin/env bats
# bin/juno-cluster: a local cluster comes up, serves juno put/get, reports its
# processes, is safe to start twice, and stops every process it started.

load lib
load cluster_helpers # setup, teardown (every PID killed), gone, up

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
    for p in $pids; do gone "$p"; done
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

@test "2 proxies behind HAProxy: kill -9 one mid-load, a retrying client loses nothing" {
    up --memory --proxies 2
    [[ "$output" == *"HAProxy in front of 2 proxies at 127.0.0.1:"* ]]
    P=$(cat "$DIR/proxy")
    [ "$P" = "$(cat "$DIR/addr/haproxy")" ]
    victim=$(cat "$DIR/pid/proxy-1.pid")
    (sleep 0.3 && kill -KILL "$victim") &
    killer=$!
    fails=0
    for i in $(seq 1 300); do
        juno -s "$P" --retries 10 put "k$i" "v$i" >/dev/null || { fails=$((fails + 1)); echo "put k$i failed" >&2; }
    done
    wait "$killer"
    gone "$victim"
    [ "$fails" -eq 0 ]
    for i in $(seq 1 300); do
        [ "$(juno -s "$P" --retries 5 get "k$i")" = "v$i" ]
    done
    run juno-cluster status --dir "$DIR"
    [ "$status" -eq 1 ]
    [[ "$output" == *"proxy-1 "*" stopped "* ]]
}

@test "--resp-port: redis-cli through one proxy, and through HAProxy in front of two; both faces share the data" {
    up --memory --zones 1 --resp-port auto
    R=$(cat "$DIR/resp")
    [[ "$output" == *"redis-cli -p ${R##*:} get hello"* ]]
    [ "$(redis-cli -h 127.0.0.1 -p "${R##*:}" set rk rv)" = OK ]
    [ "$(juno -s "$(cat "$DIR/proxy")" get rk)" = rv ]
    run juno-cluster status --dir "$DIR"
    [[ "$output" == *"; RESP $R"* ]]
    juno-cluster down --dir "$DIR"
    up --memory --proxies 2 --resp-port auto
    R=$(cat "$DIR/resp")
    grep -q "frontend juno-resp" "$DIR/haproxy.cfg"
    for i in 1 2 3 4; do
        [ "$(redis-cli -h 127.0.0.1 -p "${R##*:}" set "k$i" "v$i")" = OK ]
    done
    for i in 1 2 3 4; do
        [ "$(juno -s "$(cat "$DIR/proxy")" get "k$i")" = "v$i" ]
        [ "$(redis-cli -h 127.0.0.1 -p "${R##*:}" get "k$i")" = "v$i" ]
    done
}

@test "kill -9 one store of 3 zones: clients keep working" {
    up --memory
    P=$(cat "$DIR/proxy")
    for i in $(seq 1 50); do juno -s "$P" put "a$i" "v$i" >/dev/null; done
    kill -KILL "$(cat "$DIR/pid/store-z1-s1.pid")"
    fails=0
    for i in $(seq 1 50); do
        [ "$(juno -s "$P" --retries 5 get "a$i")" = "v$i" ] || fails=$((fails + 1))
        juno -s "$P" --retries 5 put "b$i" "w$i" >/dev/null || fails=$((fails + 1))
    done
    [ "$fails" -eq 0 ]
    # its registration expires with its lease
    E=$(cat "$DIR/etcd")
    for i in $(seq 200); do
        [ -z "$(ETCDCTL_API=3 etcdctl --endpoints="$E" get /juno/juno/stores/z1/s1)" ] && break
        sleep 0.05
    done
    [ -z "$(ETCDCTL_API=3 etcdctl --endpoints="$E" get /juno/juno/stores/z1/s1)" ]
    grep -q "store marked down addr=$(cat "$DIR/addr/store-z1-s1")" "$DIR/log/proxy-1.log"
}

@test "add-store and remove-store move shards live through juno-migrate; every key stays readable" {
    up --memory --shards 64
    P=$(cat "$DIR/proxy")
    for i in $(seq 1 60); do juno -s "$P" put "m$i" "v$i" >/dev/null; done
    run juno-cluster add-store z1 --dir "$DIR" --yes
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"store z1/s2 added at 127.0.0.1:"* ]]
    run juno-ring fetch --etcd "$(cat "$DIR/etcd")"
    [[ "$output" == *'"version": 2,'* ]]
    [[ "$output" == *'"name": "s2"'* ]]
    for i in $(seq 1 60); do [ "$(juno -s "$P" get "m$i")" = "v$i" ]; done
    # the new store holds some of the keys now
    held=0
    for i in $(seq 1 60); do
        juno --store "$(cat "$DIR/addr/store-z1-s2")" --map "$DIR/map.json" read "m$i" --json | grep -q '"status":"Ok"' && held=$((held + 1))
    done
    [ "$held" -gt 0 ]
    old=$(cat "$DIR/pid/store-z1-s1.pid")
    run juno-cluster remove-store z1 s1 --dir "$DIR" --yes
    echo "$output" >&2
    [ "$status" -eq 0 ]
    gone "$old"
    for i in $(seq 1 60); do [ "$(juno -s "$P" get "m$i")" = "v$i" ]; done
    run juno-cluster status --dir "$DIR"
    [ "$status" -eq 0 ]
    [[ "$output" == *"map version 3 in etcd"* ]]
    run juno-cluster add-store z9 --dir "$DIR" --yes
    [ "$status" -eq 64 ]
}

@test "remove-store of a dead store (its data gone) rebuilds its shards from the other zones" {
    up --memory --shards 64
    P=$(cat "$DIR/proxy")
    for i in $(seq 1 60); do juno -s "$P" put "d$i" "v$i" >/dev/null; done
    run juno-cluster add-store z1 --dir "$DIR" --yes
    [ "$status" -eq 0 ]
    S2=$(cat "$DIR/addr/store-z1-s2")
    dead=$(cat "$DIR/pid/store-z1-s1.pid")
    kill -KILL "$dead" # in memory: everything it held is gone
    gone "$dead" || sleep 0.5
    gone "$dead"
    run juno-cluster remove-store z1 s1 --dir "$DIR" --yes
    echo "$output" >&2
    [ "$status" -eq 0 ]
    juno-ring fetch --etcd "$(cat "$DIR/etcd")" >"$TMP/live.json"
    [ "$(python3 -c 'import json,sys; m = json.load(open(sys.argv[1]))
print(",".join(n["name"] for z in m["zones"] if z["name"] == "z1" for n in z["nodes"]))' "$TMP/live.json")" = s2 ]
    # zone z1 is s2 alone now, and it holds every key: the dead store's share
    # came from z0 and z2
    for i in $(seq 1 60); do
        juno --store "$S2" --map "$DIR/map.json" read "d$i" --json | grep -q '"status":"Ok"' ||
            { echo "d$i missing on $S2" >&2; false; }
        [ "$(juno -s "$P" get "d$i")" = "v$i" ]
    done
}

@test "status shows a store that refuses writes for want of space as disk-full" {
    # store-z0-s1's data directory on a small tmpfs, filled but for 1 MiB
    # (under the default floor, 5% of it) while the cluster is down
    local d="$DIR/data/store-z0-s1"
    mkdir -p "$d"
    mount -t tmpfs -o size=64m juno-test "$d" 2>/dev/null || skip "mounting a tmpfs needs root"
    up --zones 3
    juno -s "$(cat "$DIR/proxy")" put before v
    juno-cluster down --dir "$DIR"
    dd if=/dev/zero of="$d/ballast" bs=1M count=$(($(df --output=avail -B1M "$d" | tail -1) - 1)) 2>/dev/null || true
    up --zones 3
    run juno-cluster status --dir "$DIR"
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$(grep '^store-z0-s1 ' <<<"$output")" == *" disk-full "* ]]
    [[ "$(grep '^store-z1-s1 ' <<<"$output")" == *" ok "* ]]
    # it serves reads; writes still succeed on the two other zones
    [ "$(juno --store "$(cat "$DIR/addr/store-z0-s1")" get before)" = v ]
    run juno -s "$(cat "$DIR/proxy")" put k v
    [ "$status" -eq 0 ]
}

@test "juno-migrate waits for a proxy whose registration vanished mid-move (it may still route with the old map)" {
    up --memory --shards 64 --proxies 2
    E=$(cat "$DIR/etcd")
    P2=$(cat "$DIR/addr/proxy-2")
    A=127.0.0.1:$(free_ports 1)
    juno-store --listen "$A" --etcd "$E" --zone z1 --node s2 --memory 2>>"$TMP/s2.log" &
    echo $! >"$DIR/pid/store-z1-s2.pid"
    wait_started "juno-store s2" "$TMP/s2.log" $! juno --store "$A" --timeout 200 nop
    juno-ring fetch --etcd "$E" >"$TMP/map.json"
    juno-ring plan "$TMP/map.json" --add "z1=s2@$A" --json >"$TMP/plan.json"
    # proxy-2 registers before it reports its map's version: wait for version 1
    for i in $(seq 200); do
        ETCDCTL_API=3 etcdctl --endpoints="$E" get --print-value-only "/juno/juno/proxies/$P2" |
            grep -q '"map_version":1' && break
        sleep 0.05
    done
    # stopped, proxy-2 keeps its old map and its lease (5 s) runs out: the
    # same as a proxy cut off from etcd. The migration begins while it is
    # still registered.
    kill -STOP "$(cat "$DIR/pid/proxy-2.pid")"
    juno-migrate "$TMP/plan.json" --etcd "$E" --yes >"$TMP/migrate.log" 2>&1 &
    mig=$!
    for i in $(seq 300); do
        [ -z "$(ETCDCTL_API=3 etcdctl --endpoints="$E" get "/juno/juno/proxies/$P2")" ] && break
        sleep 0.05
    done
    [ -z "$(ETCDCTL_API=3 etcdctl --endpoints="$E" get "/juno/juno/proxies/$P2")" ]
    sleep 2
    kill -0 "$mig" # still waiting: the moved shards are not dropped
    ! grep -q "event=done\| done " "$TMP/migrate.log"
    kill -CONT "$(cat "$DIR/pid/proxy-2.pid")"
    wait "$mig"
    cat "$TMP/migrate.log" >&2
    grep -q "waiting version=2 for=.*$P2 (map version 1)" "$TMP/migrate.log"
    [[ "$(ETCDCTL_API=3 etcdctl --endpoints="$E" get --print-value-only "/juno/juno/proxies/$P2")" == *'"map_version":2'* ]]
}

@test "juno-migrate --forget-proxy: a proxy stopped for good is not waited for" {
    up --memory --shards 64 --proxies 2
    E=$(cat "$DIR/etcd")
    P2=$(cat "$DIR/addr/proxy-2")
    A=127.0.0.1:$(free_ports 1)
    juno-store --listen "$A" --etcd "$E" --zone z1 --node s2 --memory 2>>"$TMP/s2.log" &
    echo $! >"$DIR/pid/store-z1-s2.pid"
    wait_started "juno-store s2" "$TMP/s2.log" $! juno --store "$A" --timeout 200 nop
    juno-ring fetch --etcd "$E" >"$TMP/map.json"
    juno-ring plan "$TMP/map.json" --add "z1=s2@$A" --json >"$TMP/plan.json"
    kill -KILL "$(cat "$DIR/pid/proxy-2.pid")"
    # its registration outlives it by its lease (5 s), then is gone: waited
    # for all the same
    run juno-migrate "$TMP/plan.json" --etcd "$E" --yes --wait 7
    echo "$output" >&2
    [ "$status" -eq 75 ]
    [[ "$output" == *"--forget-proxy $P2"* ]]
    run juno-migrate --etcd "$E" --yes --wait 7 --forget-proxy "$P2"
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$(juno-ring fetch --etcd "$E")" == *'"version": 2,'* ]]
}
