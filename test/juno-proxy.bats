#!/usr/bin/env bats
# juno-proxy.bats: the proxy end to end, with real daemons: three zones of two
# juno-store each and one juno-proxy, on free loopback ports in a temp dir.
# Clients are test/proxy_client.py (the JunoDB client protocol, written
# independently of lib/wire) and `juno --store` to look at one replica.
# teardown stops every process started (by PID), even when a test failed.

load lib

PC_PY="$BATS_TEST_DIRNAME/proxy_client.py"

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-proxy.XXXXXX")
    : >"$TMP/pids"
    read -r PA1 PA2 PB1 PB2 PC1 PC2 PX PC3 < <(free_ports 8)
    A1=127.0.0.1:$PA1 A2=127.0.0.1:$PA2 B1=127.0.0.1:$PB1 B2=127.0.0.1:$PB2
    C1=127.0.0.1:$PC1 C2=127.0.0.1:$PC2 C3=127.0.0.1:$PC3
    PROXY=127.0.0.1:$PX
    MAP=$TMP/map.json
    juno-ring init --cluster t --shards 64 --zone "z0=a1@$A1,a2@$A2" \
        --zone "z1=b1@$B1,b2@$B2" --zone "z2=c1@$C1,c2@$C2" >"$MAP"
    PLOG=$TMP/proxy.log
}

teardown() {
    stop_pids "$TMP/pids"
    local bad=0
    sanitizer_reports "$PLOG" && bad=1
    rm -rf "$TMP"
    return "$bad"
}

# start_stores [--data]: the six stores, in memory or each on its own data dir.
start_stores() {
    local n
    for n in a1:$A1 a2:$A2 b1:$B1 b2:$B2 c1:$C1 c2:$C2; do
        if [ "${1:-}" = --data ]; then
            start_store "${n%%:*}" "${n#*:}" --data "$TMP/data-${n%%:*}" --sync none
        else
            start_store "${n%%:*}" "${n#*:}" --memory
        fi
    done
}

# start_proxy [juno-proxy options]: the proxy on $PROXY (PID in $PPID_), ready
# once a Nop comes back and every store is connected.
start_proxy() {
    juno-proxy --listen "$PROXY" --map "$MAP" "$@" 2>>"$PLOG" &
    PPID_=$!
    echo "$PPID_" >>"$TMP/pids"
    wait_started juno-proxy "$PLOG" "$PPID_" pc nop || return 1
    sleep 0.1 # the first connections to the stores
}

pc() { python3 "$PC_PY" "$PROXY" "$@"; }

# jfield FIELD: a field of the JSON object on stdin ("" when absent).
jfield() {
    python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"
}

# store_read ADDR KEY: the record as one replica holds it (juno --store read --json).
store_read() {
    juno --store "$1" --map "$MAP" -n t read --json "$2" 2>/dev/null || true
}

# owner ZONE KEY: the address of KEY's owner in ZONE (in map $MAP or $3).
owner() {
    juno-ring lookup --json "${3:-$MAP}" "$2" | python3 -c '
import json, sys
d = json.load(sys.stdin)
z = [o for o in d["owners"] if o["zone"] == sys.argv[1]][0]
print(z["addr"])' "$1"
}

# key_on ADDR ZONE PREFIX: the first key PREFIX<n> whose owner in ZONE is ADDR.
key_on() {
    local i
    for i in $(seq 0 999); do
        [ "$(owner "$2" "$3$i" "${4:-$MAP}")" = "$1" ] && echo "$3$i" && return 0
    done
    return 1
}

@test "--help and --version; bad options exit 64; a missing or invalid map exits 78" {
    run juno-proxy --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: juno-proxy --map FILE"* ]]
    [[ "$output" == *"--request-timeout MS"* ]]
    [[ "$output" == *"78  configuration error"* ]]
    run juno-proxy -V
    [ "$status" -eq 0 ]
    [[ "$output" == "juno-proxy "* ]]
    run juno-proxy --map "$MAP" --bogus
    [ "$status" -eq 64 ]
    run juno-proxy --map "$MAP" --threads 0
    [ "$status" -eq 64 ]
    [[ "$output" == *"juno-proxy: error: invalid --threads '0'"* ]]
    run juno-proxy --map "$MAP" --listen nowhere
    [ "$status" -eq 64 ]
    run juno-proxy
    [ "$status" -eq 64 ]
    run juno-proxy --map "$MAP" --default-ttl 10 --max-ttl 5
    [ "$status" -eq 64 ]
    run juno-proxy --map "$TMP/absent.json"
    [ "$status" -eq 78 ]
    [[ "$output" == *"juno-proxy: error: cannot read map"* ]]
    echo '{"cluster": "t", "version": 1' >"$TMP/bad.json"
    run juno-proxy --map "$TMP/bad.json"
    [ "$status" -eq 78 ]
    [[ "$output" == *"invalid map"* ]]
}

@test "--check-config prints the map and quorum, starts nothing" {
    run juno-proxy --map "$MAP" --listen "$PROXY" --threads 2 --check-config
    [ "$status" -eq 0 ]
    [ "$output" = "ok: map t version 1, 3 zones (W = R = 2), 64 shards, 6 stores; listen $PROXY, 2 threads" ]
}

@test "help and completions list the same long options" {
    opts=$(juno-proxy --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
    bash_opts=$(grep -o -- '--[a-z][a-z-]*' "$BATS_TEST_DIRNAME/../completions/juno-proxy.bash" | sort -u)
    zsh_opts=$(grep -o -- '--[a-z][a-z-]*' "$BATS_TEST_DIRNAME/../completions/_juno-proxy" | sort -u)
    [ "$(echo "$opts" | wc -l)" -eq 53 ] # 29, the 9 TLS options, --acl, --hash-password, --insecure, 5 --etcd-*, 7 --replicate-*/--accept-replication
    [ "$opts" = "$bash_opts" ]
    [ "$opts" = "$zsh_opts" ]
}

@test "the reference's request vectors (current and published forms) are answered as the reference says" {
    start_stores
    start_proxy
    run python3 "$BATS_TEST_DIRNAME/proxy_vectors.py" "$PROXY"
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"0 failed"* ]]
    [ "$(grep -c '^ok ' <<<"$output")" -ge 50 ]
}

@test "set, get, update, destroy: versions 1,2,3, creation time kept, all metadata" {
    start_stores
    start_proxy
    run pc set t k1 one
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ "$(echo "$output" | jfield version)" = 1 ]
    ct=$(echo "$output" | jfield creation_time)
    lm1=$(echo "$output" | jfield last_modified)
    rid=$(echo "$output" | jfield request_id)
    [ "$(echo "$output" | jfield originator)" = "$rid" ]
    [ "$(echo "$output" | jfield handling_time)" -ge 1 ]
    [ "$(echo "$output" | jfield ns)" = t ]
    [ "$(echo "$output" | jfield key)" = k1 ]
    run pc get t k1
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ "$(echo "$output" | jfield value)" = one ]
    [ "$(echo "$output" | jfield version)" = 1 ]
    [ "$(echo "$output" | jfield originator)" = "$rid" ]
    [ "$(echo "$output" | jfield last_modified)" = "$lm1" ]
    sleep 1.1
    run pc update t k1 two
    [ "$(echo "$output" | jfield version)" = 2 ]
    [ "$(echo "$output" | jfield creation_time)" = "$ct" ]
    [ "$(echo "$output" | jfield originator)" = "$rid" ]
    [ "$(echo "$output" | jfield last_modified)" -gt "$lm1" ]
    run pc set t k1 three
    [ "$(echo "$output" | jfield version)" = 3 ]
    [ "$(echo "$output" | jfield creation_time)" = "$ct" ]
    run pc get t k1
    [ "$(echo "$output" | jfield value)" = three ]
    [ "$(echo "$output" | jfield version)" = 3 ]
    run pc update t k1 four --version 3
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ "$(echo "$output" | jfield version)" = 4 ]
    run pc destroy t k1
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ -n "$(echo "$output" | jfield request_id)" ]
    run pc get t k1
    [ "$(echo "$output" | jfield status)" = NoKey ]
    run pc destroy t k1
    [ "$(echo "$output" | jfield status)" = Ok ]
    run pc create t k1 again # after the tombstones of versions 5 and 6
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ "$(echo "$output" | jfield version)" = 7 ]
    [ "$(echo "$output" | jfield creation_time)" -ge "$ct" ]
}

@test "create on an existing key is DupKey; update of a missing key is NoKey; a stale version is VersionConflict with the current value" {
    start_stores
    start_proxy
    pc create t k v1 >/dev/null
    run pc create t k other
    [ "$(echo "$output" | jfield status)" = DupKey ]
    [ "$(echo "$output" | jfield code)" = 4 ]
    run pc get t k
    [ "$(echo "$output" | jfield value)" = v1 ]
    run pc update t missing x
    [ "$(echo "$output" | jfield status)" = NoKey ]
    run pc get t missing
    [ "$(echo "$output" | jfield status)" = NoKey ]
    pc update t k v2 >/dev/null
    run pc update t k v3 --version 1
    [ "$(echo "$output" | jfield status)" = VersionConflict ]
    [ "$(echo "$output" | jfield code)" = 19 ]
    [ "$(echo "$output" | jfield version)" = 2 ]
    [ "$(echo "$output" | jfield value)" = v2 ]
    [ -n "$(echo "$output" | jfield creation_time)" ]
    run pc get t k
    [ "$(echo "$output" | jfield value)" = v2 ]
    [ "$(echo "$output" | jfield version)" = 2 ]
}

@test "the same request id twice is done once (idempotent retry); a missing one is generated" {
    start_stores
    start_proxy
    rid=5d3a0f6e-8c1b-4f3e-9a7d-2b6c4e8f1a09
    run pc set t idem first --rid $rid
    [ "$(echo "$output" | jfield version)" = 1 ]
    run pc set t idem first --rid $rid
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ "$(echo "$output" | jfield version)" = 1 ]
    run pc create t idem2 x --rid 11111111-2222-4333-8444-555555555555
    run pc create t idem2 x --rid 11111111-2222-4333-8444-555555555555
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ "$(echo "$output" | jfield version)" = 1 ]
    # no RequestID from the client: the proxy makes a version 4 one
    norid=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import proxy_client as p; print(p.encode(4, 3, b"t", b"norid", b"v", {}).hex())' "$BATS_TEST_DIRNAME")
    run pc raw "$norid"
    [ "$(echo "${lines[0]}" | jfield status)" = Ok ]
    rid=$(echo "${lines[0]}" | jfield request_id)
    [[ "$rid" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
    [ "$(echo "${lines[0]}" | jfield originator)" = "$rid" ]
}

@test "a Get with a TTL extends the record's TTL on every replica, never shortens it" {
    start_stores
    start_proxy
    pc set t ext v --ttl 5 >/dev/null
    now=$(date +%s)
    run pc get t ext --ttl 100
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ "$(echo "$output" | jfield value)" = v ]
    [ "$(echo "$output" | jfield version)" = 1 ]
    [ "$(echo "$output" | jfield ttl)" -ge 99 ]
    for z in z0 z1 z2; do
        [ "$(store_read "$(owner $z ext)" ext | jfield expiration_time)" -ge $((now + 100)) ]
    done
    run pc get t ext --ttl 3 # not shortened: what is left of the 100 s
    [ "$(echo "$output" | jfield ttl)" -ge $((now + 100 - $(date +%s) - 1)) ]
    pc set t forever v >/dev/null
    run pc get t forever --ttl 50
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ -z "$(echo "$output" | jfield ttl)" ]
    run pc update t ext v2 --version 1
    [ "$(echo "$output" | jfield status)" = Ok ]
}

@test "TTL: remaining TTL and expiration reported, expired records are NoKey, --default-ttl for new records" {
    start_stores
    start_proxy --default-ttl 100
    now=$(date +%s)
    run pc set t short v --ttl 1
    now1=$(date +%s)
    [ "$(echo "$output" | jfield ttl)" = 1 ]
    # the request's millisecond + 1 s, shown rounded up to the second
    exp=$(echo "$output" | jfield expiration_time)
    [ "$exp" -ge $((now + 1)) ] && [ "$exp" -le $((now1 + 2)) ]
    run pc create t dflt v
    [ "$(echo "$output" | jfield ttl)" -ge 99 ]
    run pc update t dflt v2
    [ "$(echo "$output" | jfield ttl)" -ge 98 ]
    run pc update t dflt v3 --ttl 5000
    [ "$(echo "$output" | jfield ttl)" -ge 4999 ]
    run pc set t toolong v --ttl 259201
    [ "$(echo "$output" | jfield status)" = BadParam ]
    sleep 2.1
    run pc get t short
    [ "$(echo "$output" | jfield status)" = NoKey ]
    run pc get t dflt
    [ "$(echo "$output" | jfield status)" = Ok ]
    run pc update t short v
    [ "$(echo "$output" | jfield status)" = NoKey ]
    run pc create t short again
    [ "$(echo "$output" | jfield status)" = Ok ]
}

@test "the replica in every zone holds the write" {
    start_stores
    start_proxy
    for i in 1 2 3 4 5; do
        pc set t rep$i "value $i" >/dev/null
        pc set t rep$i "value $i b" >/dev/null
        for z in z0 z1 z2; do
            r=$(store_read "$(owner $z rep$i)" rep$i)
            [ "$(echo "$r" | jfield version)" = 2 ]
            [ "$(echo "$r" | jfield value)" = "value $i b" ]
        done
    done
    pc destroy t rep1 >/dev/null
    for z in z0 z1 z2; do # a Destroy leaves a tombstone on every replica
        [ "$(store_read "$(owner $z rep1)" rep1 | jfield status)" = MarkedDelete ]
    done
}

@test "a replica that missed a Destroy: a conditional update answers NoKey, not VersionConflict" {
    start_stores
    start_proxy
    pc set t gone v1 >/dev/null
    # z1 and z2 hold the Destroy's tombstone, z0 still the record (version 1):
    # what a Destroy leaves when z0's PrepareDelete met RecordLocked
    lm=$(($(date +%s%N) + 1000000000))
    for z in z1 z2; do
        juno --store "$(owner $z gone)" --map "$MAP" -n t mark-delete gone \
            --record-version 2 --last-modified "$lm" >/dev/null
    done
    [ "$(store_read "$(owner z0 gone)" gone | jfield version)" = 1 ]
    [ "$(pc update t gone v2 --version 5 | jfield status)" = NoKey ]
    [ "$(pc update t gone v2 --version 1 | jfield status)" = NoKey ]
    [ "$(pc get t gone | jfield status)" = NoKey ]
}

@test "two conditional Updates from one version over a stale replica: not both succeed" {
    # (found by juno-lab's checker: a stale replica's VersionConflict counted
    # toward W without holding the record, so two writers could each commit)
    local n
    for n in a1:$A1 a2:$A2 b1:$B1 b2:$B2 c1:$C1 c2:$C2; do # locks that outlast a slow machine
        start_store "${n%%:*}" "${n#*:}" --memory --lock-ms 10000
    done
    start_proxy
    pc set t ctr v1 >/dev/null
    # z0 and z1 at version 2, z2 stale at version 1
    lm=$(($(date +%s%N) + 1000000000))
    for z in z0 z1; do
        juno --store "$(owner $z ctr)" --map "$MAP" -n t repair ctr v2 \
            --record-version 2 --last-modified "$lm" >/dev/null
    done
    [ "$(store_read "$(owner z2 ctr)" ctr | jfield version)" = 1 ]
    # writer B, another proxy's Update from version 2, prepares z1 and z2:
    # z1 Ok, z2 VersionConflict (stale): a quorum with z2 counted
    B=aaaaaaaa-bbbb-4ccc-8ddd-000000000002
    bs() { juno --store "$(owner "$1" ctr)" --map "$MAP" -n t --rid $B "${@:2}"; }
    bs z1 prepare-update ctr vB --version 2 >/dev/null
    run bs z2 prepare-update ctr vB --version 2
    [ "$status" -eq 1 ]
    [[ "$output" == VersionConflict* ]]
    # the stale copy is locked for B until B's Repair or Abort
    run juno --store "$(owner z2 ctr)" --map "$MAP" -n t prepare-update ctr x --version 1
    [[ "$output" == RecordLocked* ]]
    # writer A through the proxy, from version 2, meanwhile: z0 Ok, z1 and
    # z2 locked by B, so no quorum (it was Ok, with z2 counted unlocked)
    [ "$(pc update t ctr vA --version 2 | jfield status)" = RecordLocked ]
    # B commits version 3 on z1 and repairs z2 (which releases its lock)
    bs z1 commit ctr --version 3 --last-modified $((lm + 1000)) >/dev/null
    bs z2 repair ctr vB --record-version 3 --last-modified $((lm + 1000)) >/dev/null
    [ "$(pc update t ctr vA --version 2 | jfield status)" = VersionConflict ]
    [ "$(pc get t ctr | jfield value)" = vB ]
    # and the lock kept by a VersionConflict is released by an Abort
    C=aaaaaaaa-bbbb-4ccc-8ddd-000000000003
    run juno --store "$(owner z2 ctr)" --map "$MAP" -n t --rid $C prepare-update ctr x --version 9
    [[ "$output" == VersionConflict* ]]
    run juno --store "$(owner z2 ctr)" --map "$MAP" -n t prepare-update ctr x --version 3
    [[ "$output" == RecordLocked* ]]
    juno --store "$(owner z2 ctr)" --map "$MAP" -n t --rid $C abort ctr >/dev/null
    run juno --store "$(owner z2 ctr)" --map "$MAP" -n t prepare-update ctr x --version 3
    [ "$status" -eq 0 ]
}

@test "kill -9 one zone's store: reads and writes go on (W = 2 of 3); restarted, read repair heals it" {
    start_stores --data
    start_proxy
    k=$(key_on "$A1" z0 heal)
    k2=$(key_on "$A1" z0 other)
    pc set t "$k" old >/dev/null
    [ "$(store_read "$A1" "$k" | jfield version)" = 1 ]
    kill -KILL "$(cat "$TMP/pid-a1")"
    for i in 1 2 3 4 5; do
        [ "$(pc set t "$k" "new $i" | jfield status)" = Ok ]
        [ "$(pc get t "$k" | jfield value)" = "new $i" ]
    done
    [ "$(pc create t "$k2" c | jfield status)" = Ok ]
    [ "$(pc update t "$k2" u | jfield status)" = Ok ]
    [ "$(pc get t "$k2" | jfield value)" = u ]
    [ "$(pc destroy t "$k2" | jfield status)" = Ok ]
    [ "$(pc get t "$k2" | jfield status)" = NoKey ]
    grep -q "store marked down addr=$A1" "$PLOG"
    start_store a1 "$A1" --data "$TMP/data-a1" --sync none
    [ "$(store_read "$A1" "$k" | jfield version)" = 1 ] # stale copy, kept on disk
    healed=
    for i in $(seq 60); do
        run pc get t "$k"
        [ "$(echo "$output" | jfield value)" = "new 5" ]
        [ "$(echo "$output" | jfield version)" = 6 ]
        if [ "$(store_read "$A1" "$k" | jfield version)" = 6 ]; then
            healed=1
            break
        fi
        sleep 0.1
    done
    [ -n "$healed" ]
    [ "$(store_read "$A1" "$k" | jfield value)" = "new 5" ]
    grep -q "store recovered addr=$A1" "$PLOG"
    # the destroyed key: the restarted store had missed the tombstone; a read
    # that includes it (a Get reads R = 2 of the 3, from a rotating first) repairs it
    healed=
    for i in $(seq 30); do
        [ "$(pc get t "$k2" | jfield status)" = NoKey ]
        if [ "$(store_read "$A1" "$k2" | jfield status)" != Ok ]; then
            healed=1
            break
        fi
        sleep 0.05
    done
    [ -n "$healed" ]
    [ "$(pc create t "$k2" fresh | jfield status)" = Ok ]
}

@test "two clients create the same key at once: exactly one wins, 50 times" {
    start_stores
    start_proxy
    run pc race --rounds 50
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "unconditional writes of the same keys through two proxies at once: no RecordLocked reaches a client" {
    start_stores
    start_proxy
    local p2 b1 b2
    read -r p2 < <(free_ports 1)
    juno-proxy --listen "127.0.0.1:$p2" --map "$MAP" 2>>"$TMP/proxy2.log" &
    echo $! >>"$TMP/pids"
    wait_started juno-proxy "$TMP/proxy2.log" $! juno -s "127.0.0.1:$p2" --timeout 200 --retries 0 ping
    # 20 keys, 2 x 8 connections x 8 in flight: the proxies' writes of one key
    # meet at the stores' locks all the time; each proxy runs a RecordLocked
    # again within its deadline instead of answering it
    juno-bench -s "$PROXY" -c 8 -P 8 -r 20 -n 8000 -t set,del --json >"$TMP/b1.json" 2>"$TMP/b1.err" &
    b1=$!
    juno-bench -s "127.0.0.1:$p2" -c 8 -P 8 -r 20 -n 8000 -t set,del --json >"$TMP/b2.json" 2>"$TMP/b2.err" &
    b2=$!
    echo "$b1 $b2" >>"$TMP/pids"
    wait "$b1"
    wait "$b2"
    cat "$TMP"/b?.json "$TMP"/b?.err >&2
    [ "$(grep -o '"errors":0,' "$TMP/b1.json" | wc -l)" -eq 2 ]
    [ "$(grep -o '"errors":0,' "$TMP/b2.json" | wc -l)" -eq 2 ]
}

@test "2,000 random operations over 200 keys match an in-memory model" {
    start_stores
    start_proxy
    run pc random --seed 42 --ops 2000 --keys 200
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "--threads 3: three listeners on one port (SO_REUSEPORT) serve the same data" {
    start_stores
    start_proxy --threads 3
    [ "$(grep -c 'map in use' "$PLOG")" -eq 3 ]
    run pc random --seed 9 --ops 500 --keys 50
    echo "$output"
    [ "$status" -eq 0 ]
    for i in $(seq 10); do pc set t th$i v$i >/dev/null; done
    for i in $(seq 10); do [ "$(pc get t th$i | jfield value)" = v$i ]; done
}

@test "pipelined requests on one connection are all answered, matched by opaque" {
    start_stores
    start_proxy
    run pc pipeline --count 500 set t pipe-
    [ "$(echo "$output" | jfield answered)" = 500 ]
    [ "$output" = '{"sent": 500, "answered": 500, "statuses": {"Ok": 500}}' ]
    [ "$(pc get t pipe-499 | jfield value)" = pipelined ]
}

@test "Nop is echoed; keepalive; a message of another type gets no reply; unknown and storage opcodes are NotSupported" {
    start_stores
    start_proxy
    run pc raw "50500140000000100000000C00000000"
    [ "$(echo "${lines[0]}" | jfield hex)" = 50500140000000100000000C00000000 ]
    run pc raw "50500140000000280000000700010000000000080200000000000010010000000000000000000000"
    [ "$(echo "${lines[0]}" | jfield hex)" = 50500100000000280000000700010000000000080200000000000010010000000000000000000000 ]
    run pc raw "50500141000000280000000700000000000000080200000000000010010000000000000000000000"
    [ "$output" = '"open"' ]
    unknown=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import proxy_client as p; print(p.encode(0x10, 5, b"t", b"k", b"v", {p.RID: b"A" * 16}).hex())' "$BATS_TEST_DIRNAME")
    run pc raw "$unknown"
    [ "$(echo "${lines[0]}" | jfield status)" = NotSupported ]
    [ "$(echo "${lines[0]}" | jfield opaque)" = 5 ]
    storage=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import proxy_client as p; print(p.encode(0x84, 6, b"t", b"sk", b"v", {p.RID: b"A" * 16}).hex())' "$BATS_TEST_DIRNAME")
    run pc raw "$storage"
    [ "$(echo "${lines[0]}" | jfield status)" = NotSupported ]
    [ "$(echo "${lines[0]}" | jfield opcode)" = 132 ]
    [ "$(echo "${lines[0]}" | jfield value)" = v ]
    udf=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import proxy_client as p; print(p.encode(6, 7, b"t", b"k", None, {p.RID: b"A" * 16}).hex())' "$BATS_TEST_DIRNAME")
    run pc raw "$udf"
    [ "$(echo "${lines[0]}" | jfield code)" = 28 ]
    [ "$(pc get t sk | jfield status)" = NoKey ]
}

@test "bad input: each gets its answer or a closed connection, nothing is written, the proxy stays up" {
    start_stores
    start_proxy
    pc stream --stop "$TMP/stop" --keys 20 >"$TMP/stream.out" &
    spid=$!
    enc() { python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import proxy_client as p; print(eval(sys.argv[2]).hex())' "$BATS_TEST_DIRNAME" "$1"; }
    run pc raw "DEADBEEF00000000000000000000000000000000"
    [ "$output" = '"closed"' ]
    run pc raw "5051014000000010000000010000000000"
    [ "$output" = '"closed"' ]
    run pc raw "5050014000200000" # msgSize 2 MiB: over --max-frame, refused from the header
    [ "$output" = '"closed"' ]
    run pc raw "5050014000000008"   # msgSize below 12
    [ "$output" = '"closed"' ]
    run pc raw "$(enc 'p.encode(4, 7, b"t", b"", b"v", {p.RID: b"A" * 16})')"
    [ "$(echo "${lines[0]}" | jfield status)" = BadParam ]
    run pc raw "$(enc 'p.encode(4, 8, b"t", b"k" * 257, b"v", {p.RID: b"A" * 16})')"
    [ "$(echo "${lines[0]}" | jfield status)" = BadParam ]
    run pc raw "$(enc 'p.encode(4, 9, b"", b"nsless", b"v", {p.RID: b"A" * 16})')"
    [ "$(echo "${lines[0]}" | jfield status)" = BadParam ]
    enc 'p.encode(4, 10, b"t", b"big", b"x" * 204801, {p.RID: b"A" * 16})' >"$TMP/big.hex"
    run pc raw "@$TMP/big.hex"
    [ "$(echo "${lines[0]}" | jfield status)" = BadParam ]
    # no payload component (an unknown one is skipped)
    run pc raw "50500140 00000020 0000000B 04000000 00000008 02000000 00000008 03000000"
    [ "$(echo "${lines[0]}" | jfield status)" = BadParam ]
    # a meta component whose size (3) is impossible: BadMsg with the opaque
    run pc raw "50500140000000280000000C04000000000000030200000000000010010000000000000000000000"
    [ "$(echo "${lines[0]}" | jfield status)" = BadMsg ]
    [ "$(echo "${lines[0]}" | jfield opaque)" = 12 ]
    # a payload whose key runs past the component: BadMsg
    run pc raw "50500140 00000030 0000000D 04000000 00000008 02000000 00000018 0101FFFF 00000000 74000000 00000000 00000000"
    [ "$(echo "${lines[0]}" | jfield status)" = BadMsg ]
    # a body too short to decode
    run pc raw "50500140000000140000000E0400000000000000"
    [ "$(echo "${lines[0]}" | jfield status)" = BadMsg ]
    # good requests and a bad frame in one write: the good ones are answered, then close
    run pc raw "$(enc 'p.encode(0, 21) + p.encode(4, 22, b"t", b"linger", b"v", {p.RID: b"B" * 16}) + b"\x17" * 64')"
    [ "$(echo "${lines[0]}" | jfield opaque)" = 21 ]
    [ "$(echo "${lines[1]}" | jfield opaque)" = 22 ]
    [ "$(echo "${lines[1]}" | jfield status)" = Ok ]
    [ "${lines[2]}" = '"closed"' ]
    [ "$(pc get t linger | jfield value)" = v ]
    # half a message, then nothing: kept open until the client gives up
    run pc raw "5050014000000028000000" --wait 0.5
    [ "$output" = '"open"' ]
    for k in big nsless; do [ "$(pc get t $k | jfield status)" = NoKey ]; done
    [ "$(pc get t "$(printf 'k%.0s' $(seq 256))" | jfield status)" = NoKey ]
    kill -0 "$PPID_"
    touch "$TMP/stop"
    wait "$spid"
    cat "$TMP/stream.out"
    [ "$(jfield errors <"$TMP/stream.out")" = 0 ]
    [ "$(grep -c 'bad frame, closing connection' "$PLOG")" -ge 4 ]
}

@test "idle connections are closed after --idle-timeout; a keepalive Nop keeps one open" {
    start_stores
    start_proxy --idle-timeout 1
    run pc raw "50500140000000100000000C00000000" --wait 3
    [ "${lines[1]}" = '"closed"' ]
    run pc raw "50500140000000280000000700010000000000080200000000000010010000000000000000000000" --wait 2.5
    [ "${lines[1]}" = '"open"' ]
}

@test "SIGHUP: a new map version is swapped in under steady traffic; new requests follow it" {
    start_stores
    start_proxy
    # 100 keys through the juno CLI's pipelined batch (one process, not 100)
    for i in $(seq 100); do printf 'put\tpre%d\tpre %d\n' "$i" "$i"; done |
        juno -s "$PROXY" -n t batch >/dev/null
    juno-ring plan "$MAP" --add "z2=c3@$C3" --out "$TMP/map2.json" >/dev/null
    [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$TMP/map2.json")" = 2 ]
    k=$(key_on "$C3" z2 moved "$TMP/map2.json")
    pc stream --stop "$TMP/stop" --keys 50 >"$TMP/stream.out" &
    spid=$!
    sleep 0.5
    cp "$TMP/map2.json" "$MAP"
    start_store c3 "$C3" --memory
    kill -HUP "$(cat "$TMP/pid-c1")" "$(cat "$TMP/pid-c2")"
    kill -HUP "$PPID_"
    for i in $(seq 50); do
        grep -q "map swapped cluster=t version=2" "$PLOG" && break
        sleep 0.1
    done
    grep -q "map swapped cluster=t version=2" "$PLOG"
    sleep 0.5
    touch "$TMP/stop"
    wait "$spid"
    cat "$TMP/stream.out"
    [ "$(jfield errors <"$TMP/stream.out")" = 0 ]
    [ "$(jfield ops <"$TMP/stream.out")" -gt 100 ]
    run pc set t "$k" after
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ "$(store_read "$C3" "$k" | jfield version)" = 1 ]
    [ "$(store_read "$C3" "$k" | jfield value)" = after ]
    for i in $(seq 100); do printf 'get\tpre%d\n' "$i"; done | juno -s "$PROXY" -n t batch >"$TMP/pre.out"
    [ "$(cat "$TMP/pre.out")" = "$(for i in $(seq 100); do printf 'OK\tpre %d\n' "$i"; done)" ]
    ! grep -q "error" "$PLOG"
}

@test "SIGHUP: a store that left the map is disconnected once idle; its shards go to the new owner" {
    start_stores
    start_proxy
    k=$(key_on "$C2" z2 gone)
    pc set t "$k" before >/dev/null
    juno-ring plan "$MAP" --remove z2=c2 --out "$TMP/map2.json" >/dev/null
    cp "$TMP/map2.json" "$MAP"
    kill -HUP "$(cat "$TMP/pid-c1")"
    kill -HUP "$PPID_"
    for i in $(seq 50); do
        grep -q "store connection closed: no longer in the map addr=$C2" "$PLOG" && break
        sleep 0.1
    done
    grep -q "store connection closed: no longer in the map addr=$C2" "$PLOG"
    [ "$(owner z2 "$k")" = "$C1" ]
    [ "$(pc get t "$k" | jfield value)" = before ] # two zones still have it
    run pc set t "$k" after
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ "$(store_read "$C1" "$k" | jfield value)" = after ]
}

@test "SIGHUP: an invalid map, an older version, another shard count or a silent change is refused; the old map stays" {
    cp "$MAP" "$TMP/map1.json"
    python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); m["version"] = 2; json.dump(m, open(sys.argv[1], "w"))' "$MAP"
    cp "$MAP" "$TMP/map2.json"
    start_stores
    start_proxy
    pc set t keep v >/dev/null
    echo '{"cluster": ' >"$MAP"
    kill -HUP "$PPID_"
    sleep 0.3
    grep -q "map reload refused, keeping version 2: invalid map" "$PLOG"
    cp "$TMP/map1.json" "$MAP"
    kill -HUP "$PPID_"
    sleep 0.3
    grep -q "version 1 shards 64: its version is older" "$PLOG"
    juno-ring init --cluster t --shards 32 --zone "z0=$A1" >"$MAP"
    python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); m["version"] = 3; json.dump(m, open(sys.argv[1], "w"))' "$MAP"
    kill -HUP "$PPID_"
    sleep 0.3
    grep -q "its shard count differs" "$PLOG"
    python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); m["cluster"] = "other"; json.dump(m, open(sys.argv[1], "w"))' "$TMP/map2.json"
    cp "$TMP/map2.json" "$MAP"
    kill -HUP "$PPID_"
    sleep 0.3
    grep -q "it changes the map without a new version" "$PLOG"
    python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); m["cluster"] = "t"; json.dump(m, open(sys.argv[1], "w"))' "$MAP"
    kill -HUP "$PPID_"
    sleep 0.3
    grep -q "map unchanged version=2" "$PLOG"
    ! grep -q "map swapped" "$PLOG"
    [ "$(pc get t keep | jfield value)" = v ]
    kill -0 "$PPID_"
}

@test "SIGTERM drains: requests in flight are answered, then exit 0" {
    start_stores
    start_proxy --request-timeout 1500
    kill -STOP "$(cat "$TMP/pid-c1")" # Destroys on c1's shards wait for its timeout
    pc pipeline --count 30 destroy t drain- >"$TMP/pipe.out" &
    cpid=$!
    # once the client is connected (a slow machine starts Python slowly)
    for i in $(seq 100); do
        [ -n "$(ss -Htn state established "( dport = :${PROXY##*:} )")" ] && break
        sleep 0.1
    done
    sleep 0.3
    kill -TERM "$PPID_"
    wait "$cpid"
    cat "$TMP/pipe.out"
    [ "$(cat "$TMP/pipe.out")" = '{"sent": 30, "answered": 30, "statuses": {"Ok": 30}}' ]
    # not `run wait`: run's subshell is not the proxy's parent, and its wait
    # fails when the proxy has not quite exited yet
    rc=0
    wait "$PPID_" || rc=$?
    [ "$rc" -eq 0 ] || { echo "juno-proxy exited $rc" >&2; tail -20 "$PLOG" >&2; false; }
    kill -CONT "$(cat "$TMP/pid-c1")"
    grep -q "drained, exiting" "$PLOG"
    run pc nop
    [ "$status" -eq 2 ]
}

@test "a store that stops answering is marked down after timeouts, skipped, and recovers" {
    start_stores
    start_proxy --request-timeout 2500
    k=$(key_on "$B1" z1 slow)
    kill -STOP "$(cat "$TMP/pid-b1")"
    for i in 1 2 3; do [ "$(pc set t "$k" v$i | jfield status)" = Ok ]; done
    for i in $(seq 80); do
        grep -q "store marked down addr=$B1 .*timed out" "$PLOG" && break
        sleep 0.1
    done
    grep -q "store marked down addr=$B1 .*timed out" "$PLOG"
    # while b1 is down (PROXY_DOWN_MS, 2 s), a Destroy, which waits for every
    # replica it asked, skips it: its --request-timeout of 2.5 s would show
    start=$(date +%s%N)
    [ "$(pc destroy t "$k" | jfield status)" = Ok ]
    [ $((($(date +%s%N) - start) / 1000000)) -lt 2000 ]
    [ "$(pc get t "$k" | jfield status)" = NoKey ]
    kill -CONT "$(cat "$TMP/pid-b1")"
    for i in $(seq 60); do
        pc get t "$k" >/dev/null
        grep -q "store recovered addr=$B1" "$PLOG" && break
        sleep 0.1
    done
    grep -q "store recovered addr=$B1" "$PLOG"
    [ "$(pc get t "$k" | jfield status)" = NoKey ]
}

@test "a request over --deadline is answered Busy (14) at once; the proxy keeps serving" {
    start_stores
    start_proxy --request-timeout 5000 --deadline 300
    [ "$(pc set t dl v1 | jfield status)" = Ok ]
    for n in b1 b2 c1 c2; do kill -STOP "$(cat "$TMP/pid-$n")"; done # only z0 answers: no quorum
    start=$(date +%s%N)
    run pc set t dl v2
    ms=$((($(date +%s%N) - start) / 1000000))
    for n in b1 b2 c1 c2; do kill -CONT "$(cat "$TMP/pid-$n")"; done
    echo "$output; ${ms} ms" >&2
    [ "$(echo "$output" | jfield status)" = Busy ]
    [ "$ms" -lt 1500 ] # the storage timeout is 5 s
    grep -q "request over its deadline, answering Busy op=Set" "$PLOG"
    # the stores are back: the proxy serves, and a retry of the write succeeds
    for i in $(seq 50); do
        [ "$(pc set t dl v3 | jfield status)" = Ok ] && break
        sleep 0.1
    done
    [ "$(pc get t dl | jfield value)" = v3 ]
}

@test "one zone: writes go out one-phase (no Commit reaches the store), with the same semantics" {
    juno-ring init --cluster t --shards 64 --zone "z0=a1@$A1" >"$MAP"
    mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    start_store a1 "$A1" --memory --metrics "127.0.0.1:$mport"
    start_proxy
    run pc set t k one --ttl 100
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ "$(echo "$output" | jfield version)" = 1 ]
    ct=$(echo "$output" | jfield creation_time)
    rid=$(echo "$output" | jfield request_id)
    [ "$(echo "$output" | jfield originator)" = "$rid" ]
    et=$(store_read "$A1" k | jfield expiration_time)
    [ "$et" -gt "$(date +%s)" ]
    sleep 1.1
    run pc update t k two
    [ "$(echo "$output" | jfield version)" = 2 ]
    [ "$(echo "$output" | jfield creation_time)" = "$ct" ]
    [ "$(echo "$output" | jfield originator)" = "$rid" ]
    [ "$(store_read "$A1" k | jfield expiration_time)" = "$et" ] # no TTL given: kept
    [ "$(pc update t k x --version 1 | jfield status)" = VersionConflict ]
    [ "$(pc update t k three --version 2 | jfield version)" = 3 ]
    [ "$(pc create t k dup | jfield status)" = DupKey ]
    [ "$(pc update t nothere x | jfield status)" = NoKey ]
    [ "$(pc get t k | jfield value)" = three ]
    [ "$(pc destroy t k | jfield status)" = Ok ]
    [ "$(pc get t k | jfield status)" = NoKey ]
    run pc create t k again # after the tombstone's version 4
    [ "$(echo "$output" | jfield status)" = Ok ]
    [ "$(echo "$output" | jfield version)" = 5 ]
    # a replayed request id is answered as done, and writes nothing
    r=33333333-3333-4333-8333-333333333333
    [ "$(pc set t k2 a --rid "$r" | jfield status)" = Ok ]
    [ "$(pc set t k2 b --rid "$r" | jfield status)" = Ok ]
    [ "$(pc get t k2 | jfield value)" = a ]
    [ "$(pc get t k2 | jfield version)" = 1 ]
    m=$(curl -sf "http://127.0.0.1:$mport/metrics")
    echo "$m" | grep -q 'juno_store_requests_total{op="prepare_set",status="Ok"}'
    ! echo "$m" | grep -q 'juno_store_requests_total{op="commit"'
}
