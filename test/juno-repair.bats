#!/usr/bin/env bats
# juno-repair.bats: anti-entropy against real daemons: 3 zones of one
# juno-store each (on disk, so a store can be stopped and started again with
# its data) and a juno-proxy, on free loopback ports in a temp directory,
# from a 16-shard map file. Divergence is made on purpose: a store stopped
# while writes and deletes go on, records written to one replica directly.
# Every process started is stopped by PID in teardown, even on failure.

bats_require_minimum_version 1.5.0

load lib

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-repair.XXXXXX")
    : >"$TMP/pids"
    read -r P0 P1 P2 PP M0 M2 < <(free_ports 6)
    S0=127.0.0.1:$P0 S1=127.0.0.1:$P1 S2=127.0.0.1:$P2 PROXY=127.0.0.1:$PP
    MAP=$TMP/map.json
    juno-ring init --cluster t --shards 16 --zone "z0=s1@$S0" --zone "z1=s1@$S1" \
        --zone "z2=s1@$S2" >"$MAP"
}

teardown() {
    stop_pids "$TMP/pids"
    local bad=0
    sanitizer_reports "$TMP"/*.log && bad=1
    rm -rf "$TMP"
    return "$bad"
}

# up N [juno-store options]: store zN (data in $TMP/dN), the rejoin rule off
# unless options say otherwise
up() {
    local n=$1 addr
    shift
    eval "addr=\$S$n"
    [ $# -gt 0 ] || set -- --rejoin-after 86400
    juno-store --listen "$addr" --map "$MAP" --data "$TMP/d$n" "$@" 2>>"$TMP/store-$n.log" &
    echo $! >"$TMP/pid-$n"
    echo $! >>"$TMP/pids"
    wait_started "juno-store z$n" "$TMP/store-$n.log" $! juno --store "$addr" --timeout 200 nop
}

down() {
    kill -TERM "$(cat "$TMP/pid-$1")"
    while kill -0 "$(cat "$TMP/pid-$1")" 2>/dev/null; do sleep 0.05; done
}

cluster() {
    up 0 "$@"
    up 1 "$@"
    up 2 "$@"
    juno-proxy --listen "$PROXY" --map "$MAP" 2>>"$TMP/proxy.log" &
    echo $! >>"$TMP/pids"
    wait_started juno-proxy "$TMP/proxy.log" $! juno -s "$PROXY" --timeout 200 --retries 0 ping
}

# batch through the proxy: lines "put|del<TAB>KEY[<TAB>VALUE]"; every line Ok
through_proxy() {
    run juno -s "$PROXY" batch
    [ "$status" -eq 0 ]
    ! grep -qv '^OK' <<<"$output"
}

# the live records, tombstones and hash of every shard on every store: equal
shards_equal() {
    local s a b c
    for s in $(seq 0 15); do
        a=$(juno --store "$S0" shard-info "$s" | python3 -c "$INFO")
        b=$(juno --store "$S1" shard-info "$s" | python3 -c "$INFO")
        c=$(juno --store "$S2" shard-info "$s" | python3 -c "$INFO")
        [ "$a" = "$b" ] && [ "$a" = "$c" ] || { echo "shard $s: $a / $b / $c" >&2; return 1; }
    done
}
INFO='import json,sys; d=json.load(sys.stdin); print(d["live"], d["tombstones"], d["hash"])'

repair() { juno-repair --map-file "$MAP" "$@"; }

@test "juno-repair --help, --version, usage errors" {
    run juno-repair --help
    [ "$status" -eq 0 ]
    [[ "$output" == "Usage: juno-repair"* ]]
    [[ "$output" == *"--dry-run"* && "$output" == *"Exit status:"* && "$output" == *"75 "* ]]
    run juno-repair --version
    [ "$status" -eq 0 ]
    [[ "$output" == "juno-repair "* ]]
    run env -u JUNO_ETCD juno-repair
    [ "$status" -eq 64 ]
    [[ "$output" == *"give exactly one of --etcd"* ]]
    run --separate-stderr juno-repair --map-file "$MAP" --every 5x
    [ "$status" -eq 64 ]
    [[ "$stderr" == "juno-repair: error: unable to use --every 5x: a duration such as 30s, 10m, 1h or 1d"* ]]
    run juno-repair --map-file "$MAP" --shard 3-1
    [ "$status" -eq 64 ]
    run juno-repair --map-file "$MAP" --dry-run --every 1m
    [ "$status" -eq 64 ]
    run juno-repair --map-file "$TMP/none.json"
    [ "$status" -eq 74 ]
    echo '{"version": 1}' >"$TMP/bad.json"
    run juno-repair --map-file "$TMP/bad.json"
    [ "$status" -eq 65 ]
    # no store answers: every shard is left for the next pass
    run juno-repair --map-file "$MAP" --timeout 200
    [ "$status" -eq 75 ]
}

@test "completions and the man page name every juno-repair option" {
    documented juno-repair 1 "0 1 64 65 69 70 74 75 76 78"
}

@test "a store stopped while writes and deletes go on, records written to one replica: --dry-run lists exactly them, juno-repair fixes them" {
    cluster
    for i in $(seq 1 300); do printf 'put\tk%d\tv%d\n' "$i" "$i"; done | through_proxy
    run repair --dry-run
    [ "$status" -eq 0 ]
    [ -z "$output" ] || [[ "$output" != *differs* ]]
    down 2
    { for i in $(seq 1 40); do printf 'put\tk%d\tnew%d\n' "$i" "$i"; done
      for i in $(seq 41 60); do printf 'del\tk%d\n' "$i"; done; } | through_proxy
    up 2
    for i in 1 2 3 4 5; do juno --store "$S0" --map "$MAP" set "direct$i" "only-on-z0" >/dev/null; done
    run --separate-stderr repair --dry-run
    [ "$status" -eq 1 ]
    # exactly the 65 records: the 40 updated and 20 deleted while z2 was away, the 5 direct ones
    got=$(grep -o 'key=[^ ]*' <<<"$output" | cut -d= -f2 | sort)
    want=$( (for i in $(seq 1 60); do echo "k$i"; done; for i in 1 2 3 4 5; do echo "direct$i"; done) | sort)
    [ "$got" = "$want" ]
    [ "$(grep -c '^differs shard=' <<<"$output")" -eq 65 ]
    # --full walks every record, and finds the same ones
    run --separate-stderr repair --dry-run --full
    [ "$status" -eq 1 ]
    [ "$(grep -o 'key=[^ ]*' <<<"$output" | cut -d= -f2 | sort)" = "$want" ]
    grep -q 'key=k7 z0/s1=live,v2,lm=[0-9]* z1/s1=live,v2,lm=[0-9]* z2/s1=live,v1,lm=[0-9]* newest=z0/s1$' <<<"$output"
    grep -q 'key=k50 z0/s1=tombstone,v2,.* z2/s1=live,v1,.* newest=z0/s1$' <<<"$output"
    grep -q 'key=direct3 z0/s1=live,v1,lm=[0-9]* z1/s1=absent z2/s1=absent newest=z0/s1$' <<<"$output"
    ! shards_equal 2>/dev/null
    # the same as JSON events
    repair --dry-run --json >"$TMP/dry.json" || true
    python3 - "$TMP/dry.json" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
d = [e for e in ev if e["event"] == "difference"]
assert len(d) == 65, len(d)
k = next(e for e in d if e["key"] == "k50")
assert [r["state"] for r in k["replicas"]] == ["tombstone", "tombstone", "live"], k
assert ev[-1]["event"] == "done" and ev[-1]["records"] == 65, ev[-1]
EOF
    run --separate-stderr repair
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"done pass=1 shards=16 differing="*" records=65 repaired=70 "* ]]
    shards_equal
    run repair --dry-run
    [ "$status" -eq 0 ]
    # deleted keys stay deleted, everywhere; updates and direct records everywhere
    for i in 41 50 60; do
        run juno --store "$S2" --map "$MAP" read "k$i"
        [ "${lines[0]}" = MarkedDelete ]
        run juno -s "$PROXY" get "k$i"
        [ "$status" -eq 1 ]
    done
    [ "$(juno --store "$S2" --map "$MAP" get k7)" = new7 ]
    [ "$(juno --store "$S1" --map "$MAP" get direct3)" = only-on-z0 ]
}

@test "a 32 MiB record (a RESP value at the limit) and an empty key on one replica only: juno-repair copies them" {
    cluster
    head -c 33554432 /dev/urandom >"$TMP/big"
    juno --store "$S0" --map "$MAP" set big - <"$TMP/big"
    printf 'set\t\tempty-key-value\n' | juno --store "$S0" --map "$MAP" batch
    run --separate-stderr repair
    [ "$status" -eq 0 ]
    [[ "$stderr" == *" records=2 repaired=4 "* ]]
    juno --store "$S1" --map "$MAP" get big | cmp - "$TMP/big"
    juno --store "$S2" --map "$MAP" get big | cmp - "$TMP/big"
    shards_equal
}

@test "a record a client writes during the repair is never overwritten by the older copy" {
    cluster
    juno --store "$S0" --map "$MAP" set racy old >/dev/null # the only copy: z0
    # juno-repair reads the newest copy ("old"), then waits before its Repairs
    JUNO_REPAIR_PAUSE_MS=2000 juno-repair --map-file "$MAP" --json >"$TMP/events" 2>"$TMP/repair.err" &
    RP=$!
    echo "$RP" >>"$TMP/pids"
    for i in $(seq 100); do grep -q '"event":"pause"' "$TMP/events" && break; sleep 0.05; done
    grep -q '"event":"pause"' "$TMP/events"
    juno -s "$PROXY" put racy new >/dev/null # acknowledged while the repair holds "old"
    wait "$RP"
    cat "$TMP/events" >&2
    python3 - "$TMP/events" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
done = ev[-1]
assert done["event"] == "done" and done["newer_stood"] >= 1, done
EOF
    for s in "$S0" "$S1" "$S2"; do [ "$(juno --store "$s" --map "$MAP" get racy)" = new ]; done
    [ "$(juno -s "$PROXY" get racy)" = new ]
    shards_equal
}

@test "writes through the proxy all along a repair: every acknowledged value stands" {
    cluster
    down 2
    for i in $(seq 1 400); do printf 'put\tw%d\tbefore%d\n' "$i" "$i"; done | through_proxy
    up 2
    # a writer updates the same keys while a slow repair (--rate) copies the old values
    (for r in 1 2 3; do
        for i in $(seq 1 400); do printf 'put\tw%d\tround%d\n' "$i" "$r"; done | juno -s "$PROXY" batch >"$TMP/round$r" || true
    done) &
    W=$!
    echo "$W" >>"$TMP/pids"
    run repair --rate 0.05
    wait "$W"
    for r in 1 2 3; do ! grep -qv '^OK' "$TMP/round$r"; done
    repair # what the writer changed during the first pass
    shards_equal
    for s in "$S0" "$S1" "$S2"; do
        for i in 1 123 400; do [ "$(juno --store "$s" --map "$MAP" get "w$i")" = round3 ]; done
    done
}

@test "a replica refusing writes (disk full) is reported; the others are repaired; the next pass finishes" {
    cluster
    down 2
    for i in $(seq 1 50); do printf 'put\tf%d\tv%d\n' "$i" "$i"; done | through_proxy
    juno --store "$S0" --map "$MAP" set only-z0 x >/dev/null
    up 2 --rejoin-after 86400 --min-free-space 4000T # below its floor: writes refused
    run --separate-stderr repair
    [ "$status" -eq 75 ]
    [[ "$stderr" == *"refused shard="*"store=$S2 op=Repair error=disk full (SSOutofResource)"* ]]
    [ "$(juno --store "$S1" --map "$MAP" get only-z0)" = x ] # z1 repaired all the same
    run juno --store "$S2" --map "$MAP" get only-z0
    [ "$status" -eq 1 ]
    down 2
    up 2
    run repair
    [ "$status" -eq 0 ]
    shards_equal
}

@test "killed in the middle, juno-repair resumes where it stopped" {
    cluster
    down 2
    for i in $(seq 1 300); do printf 'put\tr%d\tv%d\n' "$i" "$i"; done | through_proxy
    up 2
    # slowly (the stores' reads of each shard count against --rate), then SIGKILL
    juno-repair --map-file "$MAP" --rate 0.02 --json >"$TMP/first" 2>/dev/null &
    RP=$!
    echo "$RP" >>"$TMP/pids"
    for i in $(seq 100); do
        [ -s "$MAP.repair" ] && python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["next_shard"] < 3)' "$MAP.repair" && break
        sleep 0.1
    done
    kill -KILL "$RP"
    wait "$RP" 2>/dev/null || true
    next=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["done"] == 0; print(d["next_shard"])' "$MAP.repair")
    [ "$next" -ge 3 ] && [ "$next" -lt 16 ]
    repair --json >"$TMP/second"
    python3 - "$next" "$TMP/second" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[2])]
start = ev[0]
assert start["event"] == "resume" and start["next_shard"] >= int(sys.argv[1]), start
assert ev[-1]["event"] == "done" and ev[-1]["pass"] == start["pass"], ev[-1]
EOF
    shards_equal
    [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["done"])' "$MAP.repair")" = 1 ]
    # the next run is a new pass; --restart begins one too
    run repair --json
    [[ "${lines[0]}" == '{"event":"start","pass":2,'* ]]
}

@test "a store away longer than --rejoin-after refuses proxies until juno-repair compared it; keys deleted and purged elsewhere stay deleted" {
    up 0 --rejoin-after 3600
    up 1 --rejoin-after 3600
    up 2 --rejoin-after 1 --metrics "127.0.0.1:$M2"
    juno-proxy --listen "$PROXY" --map "$MAP" 2>>"$TMP/proxy.log" &
    echo $! >>"$TMP/pids"
    wait_started juno-proxy "$TMP/proxy.log" $! juno -s "$PROXY" --timeout 200 --retries 0 ping
    for i in $(seq 1 100); do printf 'put\tg%d\tv%d\n' "$i" "$i"; done | through_proxy
    down 2
    for i in $(seq 1 20); do printf 'del\tg%d\n' "$i"; done | through_proxy
    juno -s "$PROXY" put g99 newer >/dev/null
    # z0 and z1 purge the tombstones (a grace of 1 s, then a compaction)
    down 0
    down 1
    up 0 --rejoin-after 3600 --tombstone-grace 1
    up 1 --rejoin-after 3600 --tombstone-grace 1
    sleep 2
    juno --store "$S0" compact >/dev/null
    juno --store "$S1" compact >/dev/null
    [ "$(juno --store "$S0" shard-info 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["tombstones"])')" = 0 ]
    up 2 --rejoin-after 1 --metrics "127.0.0.1:$M2"
    grep -q 'away longer than --rejoin-after: rejoining' "$TMP/store-2.log"
    [ "$(curl -sf "http://127.0.0.1:$M2/metrics" | awk '$1 == "juno_store_rejoining" {print $2}')" = 1 ]
    run juno --store "$S2" --map "$MAP" get g5
    [ "$status" -eq 75 ] # NoStorageServer: not to proxies
    [[ "$output" == *NoStorageServer* ]]
    run juno -s "$PROXY" get g5 # the other zones answer
    [ "$status" -eq 1 ]
    [ "$(juno -s "$PROXY" get g50)" = v50 ]
    [ "$(juno --store "$S2" shard-info 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["rejoining"])')" = True ]
    run --separate-stderr repair --dry-run
    [ "$status" -eq 1 ]
    [ "$(grep -c 'z0/s1=absent z1/s1=absent z2/s1=live,v1,.* newest=none$' <<<"$output")" -eq 20 ]
    run --separate-stderr repair
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"rejoined store=$S2"* ]]
    [[ "$stderr" == *" deleted=20 "* ]]
    grep -q 'rejoined: every shard compared' "$TMP/store-2.log"
    [ "$(curl -sf "http://127.0.0.1:$M2/metrics" | awk '$1 == "juno_store_rejoining" {print $2}')" = 0 ]
    for i in 1 5 20; do
        run juno --store "$S2" --map "$MAP" get "g$i"
        [ "$status" -eq 1 ]
        run juno -s "$PROXY" get "g$i"
        [ "$status" -eq 1 ]
    done
    [ "$(juno --store "$S2" --map "$MAP" get g99)" = newer ]
    shards_equal
    # the stores counted the new operations
    m=$(curl -sf "http://127.0.0.1:$M2/metrics")
    grep -q '^juno_store_requests_total{op="shard_tree",status="Ok"} [1-9]' <<<"$m"
    grep -q '^juno_store_requests_total{op="rejoined",status="Ok"} 1$' <<<"$m"
    grep -q '^juno_store_scanned_records_total{op="shard_tree"} [1-9]' <<<"$m"
    grep -q '^juno_store_scanned_records_total{op="shard_info"} [1-9]' <<<"$m"
}

@test "--every keeps running a pass at a time; SIGTERM ends it with 0; a schedule that does not fit the grace is said" {
    cluster --rejoin-after 3600 --tombstone-grace 3
    juno --store "$S0" --map "$MAP" set e1 x >/dev/null
    juno-repair --map-file "$MAP" --every 2s --json >"$TMP/every" 2>&1 &
    RP=$!
    echo "$RP" >>"$TMP/pids"
    for i in $(seq 100); do [ "$(grep -c '"event":"done"' "$TMP/every")" -ge 2 ] && break; sleep 0.1; done
    [ "$(grep -c '"event":"done"' "$TMP/every")" -ge 2 ]
    kill -TERM "$RP"
    rc=0
    wait "$RP" || rc=$?
    [ "$rc" -eq 0 ]
    grep -q '"event":"sleep"' "$TMP/every"
    grep -q '"event":"schedule","every_s":2,"pass_s":0,"tombstone_grace_s":3' "$TMP/every"
    [ "$(juno --store "$S2" --map "$MAP" get e1)" = x ]
}

@test "juno-cluster up --repair-every runs the scrubber beside the proxies, against etcd; down stops it" {
    command -v etcd >/dev/null || skip "no etcd"
    DIR=$TMP/cluster
    run juno-cluster up --dir "$DIR" --memory --shards 16 --proxy-port auto --base-port auto \
        --repair-every 1s
    echo "$output" >&2
    for f in "$DIR"/pid/*.pid; do cat "$f" >>"$TMP/pids"; done
    [ "$status" -eq 0 ]
    [[ "$output" == *"juno-repair runs a pass every 1s"* ]]
    run juno-cluster status --dir "$DIR"
    [ "$status" -eq 0 ]
    grep -qE '^repair +[0-9]+ +- +running +ok' <<<"$output"
    # a record on one replica only: the scrubber copies it to the others
    juno --store "$(cat "$DIR/addr/store-z0-s1")" --map "$DIR/map.json" set lone x >/dev/null
    for i in $(seq 100); do
        juno --store "$(cat "$DIR/addr/store-z2-s1")" --map "$DIR/map.json" get lone >/dev/null 2>&1 && break
        sleep 0.1
    done
    [ "$(juno --store "$(cat "$DIR/addr/store-z2-s1")" --map "$DIR/map.json" get lone)" = x ]
    # its pass is kept in etcd
    run env ETCDCTL_API=3 etcdctl --endpoints="$(cat "$DIR/etcd")" get --print-value-only /juno/juno/repair
    [[ "$output" == *'"last_complete_finished_ms":'* ]]
    pid=$(cat "$DIR/pid/repair.pid")
    juno-cluster down --dir "$DIR"
    ! kill -0 "$pid" 2>/dev/null
    grep -q 'info juno-repair: done pass=' "$DIR/log/repair.log"
}
