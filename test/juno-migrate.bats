#!/usr/bin/env bats
# juno-migrate.bats: store-side shard streaming (MigrateStart/Status/Stop/
# Verify, ShardAccept through `juno --store`) and juno-migrate end to end with
# real stores and a real proxy, in file-map mode (--map-file + --reload).
# Every process started is stopped by PID in teardown, even on failure.

load lib

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-migrate.XXXXXX")
    : >"$TMP/pids"
    read -r -a PORTS < <(free_ports 12)
    MAP=$TMP/map.json
    LOAD_PY=$BATS_TEST_DIRNAME/migrate_load.py
}

teardown() {
    stop_pids "$TMP/pids"
    rm -rf "$TMP"
}

# start_store NAME ADDR MAPFILE [OPTION...]: a juno-store (in memory unless
# options are given); its PID in $TMP/NAME.pid.
start_store() {
    local name=$1 addr=$2 map=$3
    shift 3
    [ $# -gt 0 ] || set -- --memory
    juno-store --listen "$addr" --map "$map" "$@" 2>>"$TMP/$name.log" &
    echo $! >>"$TMP/pids"
    echo $! >"$TMP/$name.pid"
    wait_started "juno-store $name" "$TMP/$name.log" $! juno --store "$addr" --timeout 200 nop
}

start_proxy() {
    juno-proxy --listen "$PROXY" --map "$MAP" 2>>"$TMP/proxy.log" &
    echo $! >>"$TMP/pids"
    echo $! >"$TMP/proxy.pid"
    wait_started juno-proxy "$TMP/proxy.log" $! juno --server "$PROXY" --timeout 200 ping || return 1
    sleep 0.1 # the first connections to the stores
}

jfield() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# wait_state ADDR SHARD STATE: until the stream of SHARD on ADDR is in STATE.
wait_state() {
    local i
    for i in $(seq 400); do
        [ "$(juno --store "$1" migrate-status "$2" | jfield state)" = "$3" ] && return 0
        sleep 0.05
    done
    juno --store "$1" migrate-status "$2" >&2
    return 1
}

# fill ADDR MAPFILE N PREFIX: N records written to one store (those it owns).
fill() {
    local i
    for i in $(seq 1 "$3"); do printf 'set\t%s%d\tvalue-%d-with-some-padding-to-be-a-real-record\n' "$4" "$i" "$i"; done |
        juno --store "$1" --map "$2" --window 512 batch >/dev/null || true
}

# a shard of zone z0 that node $1 owns in $MAP
shard_of_node() {
    python3 -c '
import json,sys
m = json.load(open(sys.argv[1])); z = m["zones"][0]
i = [n["name"] for n in z["nodes"]].index(sys.argv[2])
print(next(s for s, o in enumerate(z["owners"]) if o == i))' "$MAP" "$1"
}

two_stores() {
    A=127.0.0.1:${PORTS[0]} B=127.0.0.1:${PORTS[1]}
    juno-ring init --cluster t --shards 16 --zone "z0=s1@$A,s2@$B" >"$MAP"
    start_store s1 "$A" "$MAP"
    start_store s2 "$B" "$MAP"
    S=$(shard_of_node s1)
}

@test "juno-migrate --help, --version, usage errors" {
    run juno-migrate --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: juno-migrate"* ]]
    [[ "$output" == *"--abort"* && "$output" == *"Exit status:"* ]]
    run juno-migrate --version
    [ "$status" -eq 0 ]
    run env -u JUNO_ETCD juno-migrate plan.json
    [ "$status" -eq 64 ]
    [[ "$output" == *"give exactly one of --etcd"* ]]
    run juno-migrate --bogus
    [ "$status" -eq 64 ]
    echo '{"moves": 3}' >"$TMP/bad.json"
    echo '{}' >"$MAP"
    run juno-migrate "$TMP/bad.json" --map-file "$MAP"
    [ "$status" -eq 65 ]
    [[ "$output" == *"not a plan"* ]]
    # with --json the error is an event too: a JSON object, the message escaped
    juno-migrate "$TMP/bad.json" --map-file "$MAP" --json 2>/dev/null >"$TMP/err.json" || true
    python3 -c 'import json,sys; e = json.load(open(sys.argv[1]))
assert e["event"] == "error" and "`juno-ring plan --json`" in e["message"] and e["elapsed_s"] < 60, e' "$TMP/err.json"
    run juno-migrate "$TMP/missing.json" --map-file "$MAP"
    [ "$status" -eq 66 ]
}

@test "completions offer every juno-migrate option" {
    local opts o
    opts=$(juno-migrate --help | grep -oE -- '--[a-z][a-z-]+' | sort -u)
    for o in $opts; do
        grep -q -- "$o" "$BATS_TEST_DIRNAME/../completions/juno-migrate.bash" || { echo "bash: $o" >&2; false; }
        grep -q -- "$o" "$BATS_TEST_DIRNAME/../completions/_juno-migrate" || { echo "zsh: $o" >&2; false; }
    done
}

# thread_nices PID: the nice value of each of PID's threads, main thread first
thread_nices() {
    local t
    for t in $(ls /proc/"$1"/task | sort -n); do sed 's/.*) //' /proc/"$1"/task/"$t"/stat | awk '{print $17}'; done
}

@test "store: a shard with many records is copied; counts and hash match; status reports it; copies run at the lowest CPU priority" {
    two_stores
    fill "$A" "$MAP" 20000 k
    src=$(juno --store "$A" shard-info "$S")
    [ "$(echo "$src" | jfield live)" -gt 500 ]
    [ "$(thread_nices "$(cat "$TMP/s1.pid")" | grep -c '^19$')" -eq 0 ]
    run juno --store "$A" migrate-start "$S" "{\"target\":\"$B\"}"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jfield target)" = "$B" ]
    wait_state "$A" "$S" caught_up
    # the copy ran on two threads at the lowest CPU priority; the loop kept its own
    nices=$(thread_nices "$(cat "$TMP/s1.pid")")
    [ "$(echo "$nices" | head -1)" = 0 ]
    [ "$(echo "$nices" | grep -c '^19$')" -eq 2 ]
    # the target, with no foreground of its own, took the copy at nice 19; a
    # foreground request puts its loop and writer back
    grep -q 'receiving a copy with no foreground requests: the loop and writer run at nice 19' "$TMP/s2.log"
    juno --store "$B" --map "$MAP" get k1 >/dev/null 2>&1 || true
    nices=$(thread_nices "$(cat "$TMP/s2.pid")")
    [ "$(echo "$nices" | head -1)" = 0 ]
    [ "$(echo "$nices" | grep -c '^19$')" -eq 0 ]
    st=$(juno --store "$A" migrate-status "$S")
    [ "$(echo "$st" | jfield records)" = "$(echo "$src" | jfield live)" ]
    [ "$(echo "$st" | jfield bytes)" = "$(echo "$src" | jfield bytes)" ]
    dst=$(juno --store "$B" shard-info "$S")
    [ "$(echo "$dst" | jfield hash)" = "$(echo "$src" | jfield hash)" ]
    [ "$(echo "$dst" | jfield records)" = "$(echo "$src" | jfield records)" ]
    [ "$(echo "$dst" | jfield owned)" = "False" ]
    run juno --store "$A" migrate-verify "$S"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jfield match)" = "True" ]
}

@test "store: a shard holding a 32 MiB record (a RESP value at the limit) streams; the copy is byte-exact" {
    two_stores
    local i key=
    for i in $(seq 0 999); do
        [ "$(juno-ring lookup --json "$MAP" "big$i" | jfield shard)" = "$S" ] && key=big$i && break
    done
    [ -n "$key" ]
    head -c 33554432 /dev/urandom >"$TMP/big"
    juno --store "$A" --map "$MAP" set "$key" - <"$TMP/big"
    fill "$A" "$MAP" 2000 k
    src=$(juno --store "$A" shard-info "$S")
    run juno --store "$A" migrate-start "$S" "{\"target\":\"$B\"}"
    [ "$status" -eq 0 ]
    wait_state "$A" "$S" caught_up
    dst=$(juno --store "$B" shard-info "$S")
    [ "$(echo "$dst" | jfield hash)" = "$(echo "$src" | jfield hash)" ]
    [ "$(echo "$dst" | jfield records)" = "$(echo "$src" | jfield records)" ]
    juno --store "$B" --map "$MAP" get "$key" | cmp - "$TMP/big"
}

@test "store: copied records cost the target no fsync of their own; it syncs before answering ShardInfo" {
    A=127.0.0.1:${PORTS[0]} B=127.0.0.1:${PORTS[1]} M=127.0.0.1:${PORTS[2]}
    juno-ring init --cluster t --shards 16 --zone "z0=s1@$A,s2@$B" >"$MAP"
    start_store s1 "$A" "$MAP"
    start_store s2 "$B" "$MAP" --data "$TMP/s2" --sync batch --metrics "$M"
    S=$(shard_of_node s1)
    fill "$A" "$MAP" 40000 k
    syncs() { curl -sf "http://$M/metrics" | awk '$1 == "juno_store_wal_syncs_total" { print $2 }'; }
    before=$(syncs)
    juno --store "$A" migrate-start "$S" "{\"target\":\"$B\"}" >/dev/null
    wait_state "$A" "$S" caught_up
    [ "$(juno --store "$A" migrate-status "$S" | jfield records)" -gt 2000 ]
    [ "$(syncs)" -eq "$before" ]
    dst=$(juno --store "$B" shard-info "$S")
    [ "$(syncs)" -gt "$before" ]
    [ "$(echo "$dst" | jfield hash)" = "$(juno --store "$A" shard-info "$S" | jfield hash)" ]
}

@test "store: while foreground requests arrive, a copy slows to --busy-copy-rate; at full speed once they stop" {
    A=127.0.0.1:${PORTS[0]} B=127.0.0.1:${PORTS[1]}
    juno-ring init --cluster t --shards 2 --zone "z0=s1@$A,s2@$B" >"$MAP"
    start_store s1 "$A" "$MAP" --memory --busy-copy-rate 1
    start_store s2 "$B" "$MAP"
    S=$(shard_of_node s1)
    v=$(head -c 2000 /dev/zero | tr '\0' v)
    for i in $(seq 1 2000); do printf 'set\tk%d\t%s\n' "$i" "$v"; done |
        juno --store "$A" --map "$MAP" --window 256 batch >/dev/null || true
    [ "$(juno --store "$A" shard-info "$S" | jfield bytes)" -gt 1500000 ]
    # foreground reads, one every few ms, for as long as the test needs
    (while :; do juno --store "$A" --map "$MAP" get k1 >/dev/null 2>&1 || :; done) &
    echo $! >>"$TMP/pids"
    FG=$!
    sleep 0.3
    juno --store "$A" migrate-start "$S" "{\"target\":\"$B\"}" >/dev/null
    sleep 0.5
    # at 1 MB/s, about half a megabyte in half a second (without the foreground
    # the whole shard goes in a fraction of that)
    st=$(juno --store "$A" migrate-status "$S")
    echo "$st"
    [ "$(echo "$st" | jfield state)" = copying ]
    [ "$(echo "$st" | jfield bytes)" -lt 1200000 ]
    kill "$FG"
    wait "$FG" 2>/dev/null || true
    wait_state "$A" "$S" caught_up
    run juno --store "$A" migrate-verify "$S"
    [ "$(echo "$output" | jfield match)" = "True" ]
}

@test "store: writes during the copy are forwarded; stop ends forwarding; the target serves the shard" {
    two_stores
    fill "$A" "$MAP" 20000 k
    k=$(for i in $(seq 1 20000); do echo "k$i"; done | while read -r key; do
        [ "$(juno-ring lookup "$MAP" "$key" | grep -o 'shard [0-9]*' | cut -d' ' -f2)" = "$S" ] && echo "$key" && break
    done)
    [ -n "$k" ]
    # a slow copy (50 kB/s), so that the writes below land while it runs
    juno --store "$A" migrate-start "$S" "{\"target\":\"$B\",\"rate\":50000}" >/dev/null
    [ "$(juno --store "$A" migrate-status "$S" | jfield state)" = copying ]
    juno --store "$A" --map "$MAP" set "$k" during-copy >/dev/null
    juno --store "$A" --map "$MAP" set "$k" during-copy-2 >/dev/null
    juno --store "$A" --map "$MAP" mark-delete "${k}-x" --record-version 1 --last-modified 1 >/dev/null 2>&1 || true
    wait_state "$A" "$S" caught_up
    [ "$(juno --store "$A" migrate-status "$S" | jfield forwarded)" -ge 2 ]
    run juno --store "$B" --map "$MAP" get "$k"
    [ "$output" = during-copy-2 ]
    # after caught up, writes are still forwarded; the target answers proxies for the shard
    juno --store "$A" --map "$MAP" set "$k" after-copy >/dev/null
    run juno --store "$A" migrate-verify "$S"
    [ "$(echo "$output" | jfield match)" = "True" ]
    run juno --store "$B" --map "$MAP" get "$k"
    [ "$output" = after-copy ]
    run juno --store "$B" --map "$MAP" set "$k" direct
    [ "$status" -eq 0 ]
    juno --store "$A" --map "$MAP" set "$k" after-copy-2 >/dev/null
    run juno --store "$A" migrate-stop "$S"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jfield state)" = stopped ]
    juno --store "$A" --map "$MAP" set "$k" after-stop >/dev/null
    run juno --store "$B" --map "$MAP" get "$k"
    [ "$output" = after-copy-2 ]
    # the target gives the shard up on DropShard (it does not own it)
    run juno --store "$B" drop-shard "$S"
    [ "$status" -eq 0 ]
    [ "$(juno --store "$B" shard-info "$S" | jfield records)" = 0 ]
    run juno --store "$B" --map "$MAP" get "$k"
    [ "$output" = NoStorageServer ] || [ "$status" -ne 0 ]
}

@test "store: bad migrate requests are refused and change nothing; a dead target ends in failed" {
    two_stores
    fill "$A" "$MAP" 2000 k
    before=$(juno --store "$A" shard-info "$S" | jfield hash)
    run juno --store "$A" migrate-start "$S" 'not json'
    [ "$status" -eq 65 ]
    [[ "$output" == *"expected a JSON object"* ]]
    run juno --store "$A" migrate-start "$S" '{"target":"nowhere"}'
    [ "$status" -eq 65 ]
    run juno --store "$A" migrate-start "$S" "{\"target\":\"$B\",\"rate\":-1}"
    [ "$status" -eq 65 ]
    run juno --store "$A" migrate-start "$S" "{\"target\":\"$A\"}"
    [[ "$output" == *"the target is this store"* ]]
    other=$(shard_of_node s2)
    run juno --store "$A" migrate-start "$other" "{\"target\":\"$B\"}"
    [[ "$output" == *"not owned"* ]]
    run juno --store "$A" migrate-start 999 "{\"target\":\"$B\"}"
    [ "$status" -eq 65 ]
    run juno --store "$A" migrate-status "$S"
    [ "$(echo "$output" | jfield state)" = none ]
    run juno --store "$A" migrate-verify "$S"
    [ "$status" -eq 1 ]
    # a target nobody listens on
    run juno --store "$A" migrate-start "$S" "{\"target\":\"127.0.0.1:${PORTS[5]}\"}"
    [ "$status" -eq 0 ]
    wait_state "$A" "$S" failed
    [[ "$(juno --store "$A" migrate-status "$S" | jfield error)" == *"connect"* ]]
    [ "$(juno --store "$A" shard-info "$S" | jfield hash)" = "$before" ]
    juno --store "$A" nop >/dev/null
    [ "$(juno --store "$B" shard-info "$S" | jfield records)" = 0 ]
}

# A cluster of 3 zones x 1 store and a proxy, all reading $MAP.
three_zones() {
    Z0=127.0.0.1:${PORTS[0]} Z1=127.0.0.1:${PORTS[1]} Z2=127.0.0.1:${PORTS[2]}
    N0=127.0.0.1:${PORTS[3]} N1=127.0.0.1:${PORTS[4]} N2=127.0.0.1:${PORTS[5]}
    PROXY=127.0.0.1:${PORTS[6]}
    juno-ring init --cluster t --shards 128 --zone "z0=a@$Z0" --zone "z1=a@$Z1" --zone "z2=a@$Z2" >"$MAP"
    start_store z0a "$Z0" "$MAP"
    start_store z1a "$Z1" "$MAP"
    start_store z2a "$Z2" "$MAP"
    start_proxy
}

reload_args() { # --reload for every process started (stores and proxy)
    local f
    for f in "$TMP"/*.pid; do printf -- '--reload %s ' "$(cat "$f")"; done
}

@test "juno-migrate: add a store to each zone, then remove one, under write load: nothing lost; a killed run resumes" {
    three_zones
    for i in $(seq 1 3000); do printf 'put\tpre%d\tpreloaded-%d\n' "$i" "$i"; done |
        juno --server "$PROXY" --namespace migrate batch >/dev/null
    python3 "$LOAD_PY" "$PROXY" run --stop "$TMP/stop" --model "$TMP/model.json" >"$TMP/load.out" 2>&1 &
    LOADPID=$!
    echo "$LOADPID" >>"$TMP/pids"

    # add b to every zone: the new stores start with the plan's map (in their own file)
    juno-ring plan "$MAP" --add "z0=b@$N0" --add "z1=b@$N1" --add "z2=b@$N2" --json >"$TMP/plan1.json"
    python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["map"]))' "$TMP/plan1.json" >"$TMP/new.json"
    start_store z0b "$N0" "$TMP/new.json"
    start_store z1b "$N1" "$TMP/new.json"
    start_store z2b "$N2" "$TMP/new.json"
    # first run: slow, killed mid-way
    juno-migrate "$TMP/plan1.json" --map-file "$MAP" --map-file "$TMP/new.json" $(reload_args) \
        --rate 0.05 --parallel 2 >"$TMP/m1.out" 2>&1 &
    MPID=$!
    echo "$MPID" >>"$TMP/pids"
    for i in $(seq 200); do
        [ -f "$MAP.migration" ] && grep -q 'shards' "$TMP/m1.out" && break
        sleep 0.05
    done
    kill -KILL "$MPID"
    wait "$MPID" || true
    [ -f "$MAP.migration" ]
    [ "$(jfield version <"$MAP")" = 1 ]
    # the rerun (no plan needed: it is in the state) finishes the job
    run juno-migrate --map-file "$MAP" --map-file "$TMP/new.json" $(reload_args) --json
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *'"event":"resume"'* ]]
    [[ "$output" == *'"event":"published","elapsed_s":'*'"version":2}'* ]]
    [[ "$output" == *'"event":"done"'* ]]
    [ ! -f "$MAP.migration" ]
    [ "$(jfield version <"$MAP")" = 2 ]
    # each new store holds its shards; the old owners dropped them
    sh=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["moves"][0]["shard"])' "$TMP/plan1.json")
    [ "$(juno --store "$N0" shard-info "$sh" | jfield owned)" = True ]

    # remove z0's original store: its shards go to z0's b
    juno-ring plan "$MAP" --remove "z0=a" --json >"$TMP/plan2.json"
    run juno-migrate "$TMP/plan2.json" --map-file "$MAP" --map-file "$TMP/new.json" $(reload_args)
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"done version=3"* ]]
    kill -TERM "$(cat "$TMP/z0a.pid")"
    sleep 0.5

    touch "$TMP/stop"
    wait "$LOADPID" || { cat "$TMP/load.out"; false; }
    cat "$TMP/load.out"
    [ "$(jfield errors <"$TMP/load.out")" = 0 ]
    [ "$(jfield ops <"$TMP/load.out")" -gt 100 ]
    run python3 "$LOAD_PY" "$PROXY" check --model "$TMP/model.json"
    echo "$output"
    [ "$status" -eq 0 ]
    for i in 1 777 3000; do
        [ "$(juno --server "$PROXY" --namespace migrate get "pre$i")" = "preloaded-$i" ]
    done
}

@test "juno-migrate --abort: forwarding stops, copies are dropped, the map and state are as before" {
    A=127.0.0.1:${PORTS[0]} B=127.0.0.1:${PORTS[1]}
    juno-ring init --cluster t --shards 32 --zone "z0=s1@$A,s2@$B" >"$MAP"
    start_store s1 "$A" "$MAP"
    start_store s2 "$B" "$MAP"
    fill "$B" "$MAP" 20000 k
    juno-ring plan "$MAP" --remove "z0=s2" --json >"$TMP/plan.json"
    juno-migrate "$TMP/plan.json" --map-file "$MAP" --rate 0.05 --parallel 1 >"$TMP/m.out" 2>&1 &
    MPID=$!
    echo "$MPID" >>"$TMP/pids"
    sh=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["moves"][0]["shard"])' "$TMP/plan.json")
    for i in $(seq 200); do
        [ "$(juno --store "$B" migrate-status "$sh" | jfield state)" != none ] && break
        sleep 0.05
    done
    kill -KILL "$MPID"
    wait "$MPID" || true
    [ -f "$MAP.migration" ]
    run juno-migrate --map-file "$MAP" --abort
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"aborted"* ]]
    [ ! -f "$MAP.migration" ]
    [ "$(jfield version <"$MAP")" = 1 ]
    [ "$(juno --store "$B" migrate-status "$sh" | jfield state)" = stopped ]
    [ "$(juno --store "$A" shard-info "$sh" | jfield records)" = 0 ]
    [ "$(juno --store "$B" shard-info "$sh" | jfield live)" -gt 0 ]
    run juno-migrate --map-file "$MAP" --abort
    [[ "$output" == *"nothing to abort"* ]]
    run juno-migrate --map-file "$MAP"
    [ "$status" -eq 64 ]
    # a plan made from another map version is refused
    juno-ring plan "$MAP" --remove "z0=s2" --json | sed 's/"from_version": 1/"from_version": 7/; s/"version": 2/"version": 8/' >"$TMP/stale.json"
    run juno-migrate "$TMP/stale.json" --map-file "$MAP"
    [ "$status" -eq 65 ]
}

# add_third_store [disk]: s1 ($A) and s2 ($B) in one zone (in memory, or on
# disk under $TMP/data-NAME), 6000 keys written through a proxy, and a plan
# adding s3 ($C), which runs in memory on the plan's map ($TMP/new.json).
add_third_store() {
    A=127.0.0.1:${PORTS[0]} B=127.0.0.1:${PORTS[1]} C=127.0.0.1:${PORTS[2]} PROXY=127.0.0.1:${PORTS[6]}
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$A,s2@$B" >"$MAP"
    if [ "${1:-}" = disk ]; then
        start_store s1 "$A" "$MAP" --data "$TMP/data-s1"
        start_store s2 "$B" "$MAP" --data "$TMP/data-s2"
    else
        start_store s1 "$A" "$MAP"
        start_store s2 "$B" "$MAP"
    fi
    start_proxy
    for i in $(seq 1 6000); do printf 'put\tk%d\tv%d\n' "$i" "$i"; done |
        juno --server "$PROXY" --namespace t batch >/dev/null
    juno-ring plan "$MAP" --add "z0=s3@$C" --json >"$TMP/plan.json"
    python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["map"]))' "$TMP/plan.json" >"$TMP/new.json"
    start_store s3 "$C" "$TMP/new.json"
}

@test "juno-migrate: a target store killed mid-copy and restarted empty: the moves run again and finish" {
    add_third_store
    juno-migrate "$TMP/plan.json" --map-file "$MAP" --map-file "$TMP/new.json" --rate 0.02 --parallel 1 \
        --wait 60 $(reload_args) >"$TMP/m.out" 2>&1 &
    MPID=$!
    echo "$MPID" >>"$TMP/pids"
    for i in $(seq 200); do
        [ "$(juno --store "$C" shard-info "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["moves"][0]["shard"])' "$TMP/plan.json")" | jfield records)" != 0 ] && break
        sleep 0.05
    done
    kill -KILL "$(cat "$TMP/s3.pid")"
    sleep 0.5
    start_store s3 "$C" "$TMP/new.json" # empty again (--memory)
    # juno-migrate notices the failed streams, waits for the target and copies again
    wait "$MPID"
    grep -q restart "$TMP/m.out"
    grep -q "done version=2" "$TMP/m.out"
    [ "$(jfield version <"$MAP")" = 2 ]
    # every key reads back with its value, in order
    run bash -c "for i in \$(seq 1 6000); do printf 'get\tk%d\n' \"\$i\"; done |
        juno --server $PROXY --namespace t batch | awk -F'\t' '\$1 == \"OK\" && \$2 == \"v\" NR { n++ } END { print n }'"
    [ "$output" = 6000 ]
}

@test "juno-migrate: a source store killed mid-copy and restarted from its data: the moves run again and finish" {
    add_third_store disk
    # the first move's source: the store that owns its shard in the old map
    read -r sh src < <(python3 -c '
import json,sys
p = json.load(open(sys.argv[1])); m = p["moves"][0]
print(m["shard"], m["from"])' "$TMP/plan.json")
    case "$src" in *s1*) name=s1 addr=$A ;; *) name=s2 addr=$B ;; esac
    juno-migrate "$TMP/plan.json" --map-file "$MAP" --map-file "$TMP/new.json" --rate 0.02 --parallel 1 \
        --wait 15 $(reload_args) >"$TMP/m.out" 2>&1 &
    MPID=$!
    echo "$MPID" >>"$TMP/pids"
    # (a grep, not jfield: a copy of this shard lasts about 0.3 s)
    for i in $(seq 400); do
        juno --store "$addr" migrate-status "$sh" | grep -q '"state":"copying"' && break
        sleep 0.02
    done
    kill -KILL "$(cat "$TMP/$name.pid")"
    [ "$i" -lt 400 ] # it was killed while streaming the shard
    sleep 0.5
    start_store "$name" "$addr" "$MAP" --data "$TMP/data-$name"
    # the copies resume and verify, and the map switches; but the --reload
    # PID of the source is the killed one, so the restarted source still
    # owns the shards it gave away: juno-migrate says so and stops (after
    # --wait: 15 s, time enough for the restart above even on a busy machine)
    rc=0
    wait "$MPID" || rc=$?
    cat "$TMP/m.out"
    [ "$rc" -ne 0 ]
    # it waited for the source (for whichever of its shards was streaming
    # when it died: with the copy slowed down, not always the first move)
    grep -q "unreachable zone=z0 shard=[0-9]* store=$addr" "$TMP/m.out"
    grep -q "verified moves=" "$TMP/m.out"
    grep -q "switched version=2" "$TMP/m.out"
    grep -q "still owns it (has it loaded the new map?); run juno-migrate again to finish" "$TMP/m.out"
    [ "$(jfield version <"$MAP")" = 2 ]
    [ -f "$MAP.migration" ]
    # the rerun, whose --reload now names the restarted source, has it load
    # the new map, drops the moved shards there and finishes
    run juno-migrate --map-file "$MAP" --map-file "$TMP/new.json" $(reload_args)
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"done version=2"* ]]
    [ ! -f "$MAP.migration" ]
    [ "$(juno --store "$addr" shard-info "$sh" | jfield records)" = 0 ]
    [ "$(juno --store "$C" shard-info "$sh" | jfield owned)" = True ]
    # every key reads back with its value, in order
    run bash -c "for i in \$(seq 1 6000); do printf 'get\tk%d\n' \"\$i\"; done |
        juno --server $PROXY --namespace t batch | awk -F'\t' '\$1 == \"OK\" && \$2 == \"v\" NR { n++ } END { print n }'"
    [ "$output" = 6000 ]
}
