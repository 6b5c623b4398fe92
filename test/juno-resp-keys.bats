#!/usr/bin/env bats
# juno-resp-keys.bats: the RESP face's keyspace commands (SCAN, KEYS,
# DBSIZE, RANDOMKEY, TYPE, TOUCH, UNLINK) on three stores in memory with
# real clients: redis-py (test/resp_keys_client.py, /usr/bin/python3) for
# SCAN's promise over 1200 keys on 64 shards, and redis-cli side by side
# with a real redis-server 7 for glob patterns and error texts. The
# namespace of the RESP face is the only one walked: a key written with
# `juno put` in another namespace is never listed. Stores on free loopback
# ports in a temp dir; teardown stops every process started (by PID).

load lib
load resp_helpers # resp_setup, resp_teardown, start_stores

RK_PY="$BATS_TEST_DIRNAME/resp_keys_client.py"

setup() {
    resp_setup resp-keys
}

teardown() {
    resp_teardown
}

start_all() {
    start_stores || return 1
    start_resp_proxy 1 "$PR" "$PX" "$@"
}

rc() { redis-cli -p "$PR" "$@"; }
py() { /usr/bin/python3 "$RK_PY" "$PR" "$@"; }

@test "SCAN returns each of 1200 keys on 64 shards at least once; KEYS and DBSIZE agree" {
    start_all
    py fill 1200 k:
    py scan-all 1200 k:
    # another namespace, written natively, is not walked; the RESP one is
    juno -s "127.0.0.1:$PX" -n other put other-key v
    juno -s "127.0.0.1:$PX" put native-key v
    [ "$(rc dbsize)" = 1201 ]
    [ "$(rc keys 'native*')" = native-key ]
    [ -z "$(rc keys 'other*')" ]
    [ "$(rc --scan --pattern 'other*' | wc -l)" = 0 ]
    [ "$(rc --scan | sort -u | wc -l)" = 1201 ]
    rc del native-key
    py scan-all 1200 k:
}

@test "SCAN MATCH, COUNT and TYPE; KEYS patterns; bad arguments" {
    start_all
    py fill 300 m:
    py scan-options m:
    [ "$(rc scan 0 type hash)" = "0" ]
    [ "$(rc scan abc)" = "ERR invalid cursor" ]
    [ "$(rc scan 0 count 0)" = "ERR syntax error" ]
    [ "$(rc scan 0 count -5)" = "ERR syntax error" ]
    [ "$(rc scan 0 count abc)" = "ERR value is not an integer or out of range" ]
    [ "$(rc scan 0 count 99999999999999999999)" = "ERR value is not an integer or out of range" ]
    [ "$(rc scan 0 match)" = "ERR syntax error" ]
    [ "$(rc scan 18446744073709551616)" = "ERR invalid cursor" ]
    [ "$(rc keys)" = "ERR wrong number of arguments for 'keys' command" ]
    [ "$(rc dbsize x)" = "ERR wrong number of arguments for 'dbsize' command" ]
    # a cursor past the last shard is the end
    [ "$(rc scan 18446744073709551615 | head -1)" = 0 ]
    # the proxy is still up
    [ "$(rc dbsize)" = 300 ]
}

@test "redis-cli: KEYS globs and SCAN errors as redis-server 7 answers them" {
    start_all
    start_redis
    local k p
    for k in hello hallo hxllo hllo heeeello 'a*b' 'a?b' 'x[y' 'q]' 'back\slash' ab a aXb '-' '^' \
        'h[ello' Hello; do
        rc set "$k" v >/dev/null
        redis-cli -p "$PRS" set "$k" v >/dev/null
    done
    for p in 'h?llo' 'h*llo' 'h[ae]llo' 'h[^e]llo' 'h[a-b]llo' 'h[b-a]llo' 'a\*b' 'a\?b' '*' \
        'x\[y' 'q]' '[q]]' '*\\*' 'a*' '*b' '[' '[^' 'h[ello' 'h\[ello' '[a-]*' '[-]' '[\^]' \
        '*[A-Z]*' '?' 'a?b' 'no*'; do
        diff <(rc keys "$p" | sort) <(redis-cli -p "$PRS" keys "$p" | sort) || {
            echo "pattern $p differs" >&2
            return 1
        }
    done
    local a
    for a in "scan x" "scan 0 count 0" "scan 0 count x" "scan 0 match" "scan 0 foo 1" "type" \
        "touch" "unlink" "randomkey x" "dbsize 1" "type a b"; do
        # shellcheck disable=SC2086
        [ "$(rc $a)" = "$(redis-cli -p "$PRS" $a)" ] || {
            echo "$a: juno '$(rc $a)' redis '$(redis-cli -p "$PRS" $a)'" >&2
            return 1
        }
    done
}

@test "TYPE, TOUCH, UNLINK, RANDOMKEY; expired keys are never listed; an empty namespace" {
    start_all
    py edge
    start_resp_proxy 2 "$PR2" "$PX2" --resp-namespace empty-ns
    [ -z "$(redis-cli -p "$PR2" randomkey)" ]
    [ "$(redis-cli -p "$PR2" dbsize)" = 0 ]
    [ "$(redis-cli -p "$PR2" scan 0 | grep -c .)" = 1 ]
    [ "$(redis-cli -p "$PR2" scan 0 | head -1)" = 0 ]
    [ -z "$(redis-cli -p "$PR2" keys '*')" ]
    rc set gone v ex 1
    [ "$(rc keys gone)" = gone ]
    sleep 2.2
    [ -z "$(rc keys gone)" ]
    [ "$(rc --scan --pattern gone | wc -l)" = 0 ]
    [ "$(rc dbsize)" = 1 ] # e:b of the edge checks
}

@test "a store down: the walk reads a quorum; two down: TRYAGAIN, and the proxy lives" {
    start_all --deadline 500
    py fill 400 d:
    kill "$(cat "$TMP/pid-b")"
    py scan-all 400 d:
    kill "$(cat "$TMP/pid-c")"
    run rc dbsize
    [[ "$output" == TRYAGAIN* ]]
    run rc scan 0
    [[ "$output" == TRYAGAIN* ]]
    [ "$(rc ping)" = PONG ]
}

@test "FLUSHDB and FLUSHALL delete the namespace's keys only; a later write lives" {
    start_all
    py fill 700 f:
    juno -s "127.0.0.1:$PX" -n other put survivor kept
    [ "$(rc dbsize)" = 700 ]
    [ "$(rc flushdb)" = OK ]
    [ "$(rc dbsize)" = 0 ]
    [ -z "$(rc keys '*')" ]
    [ -z "$(rc get f:1)" ]
    [ "$(juno -s "127.0.0.1:$PX" -n other get survivor)" = kept ]
    rc set again v >/dev/null
    [ "$(rc get again)" = v ]
    [ "$(rc flushall async)" = OK ]
    [ "$(rc dbsize)" = 0 ]
    [ "$(rc flushdb sync)" = OK ]
    [ "$(rc flushdb now)" = "ERR syntax error" ]
    [ "$(rc flushall a b)" = "ERR syntax error" ]
    [ "$(juno -s "127.0.0.1:$PX" -n other get survivor)" = kept ]
}

@test "RENAME, RENAMENX, COPY, MOVE: replies and errors as redis-server 7; value and TTL carried" {
    start_all
    start_redis
    local line a
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        # shellcheck disable=SC2086
        a=$(rc $line)
        # shellcheck disable=SC2086
        [ "$a" = "$(redis-cli -p "$PRS" $line)" ] || {
            echo "$line: juno '$a' redis '$(redis-cli -p "$PRS" $line)'" >&2
            return 1
        }
    done <<'CMDS'
set a v1
rename a b
get a
get b
rename a b
renamenx a b
rename b b
renamenx b b
set c v3
renamenx b c
renamenx b d
get d
exists b
copy d e
copy d e
copy d e replace
get e
copy d d
copy d f db x
copy d f foo
copy nokey g
copy d f db 0
get f
rename
renamenx a
copy a
set n 10
incr n
rename n m
incr m
get m
copy d f db 1
copy d f db 1
copy d f db 1 replace
-n 1 get f
copy d f db 16
copy d f db -1
copy d d db 1
move d 1
move nokey 1
move d 0
move d x
move d 16
set mv v
expire mv 100
move mv 2
exists mv
-n 2 get mv
-n 2 ttl mv
-n 2 move mv 0
get mv
move
CMDS
    # the remaining TTL goes with the value; none stays none
    rc set t v ex 100 >/dev/null
    rc rename t t2 >/dev/null
    [ "$(rc ttl t2)" -ge 98 ] && [ "$(rc ttl t2)" -le 100 ]
    rc copy t2 t3 >/dev/null
    [ "$(rc ttl t3)" -ge 98 ]
    [ "$(rc pexpiretime t3)" = "$(rc pexpiretime t2)" ] # the same millisecond
    rc set p v >/dev/null
    rc copy p t3 replace >/dev/null
    [ "$(rc ttl t3)" = -1 ]
    # a key renamed is readable natively under its new name
    [ "$(juno -s "127.0.0.1:$PX" get t2)" = v ]
}

@test "RENAMENX racing INCRs from two connections loses no increment" {
    start_all
    run /usr/bin/python3 "$RK_PY" "$PR" rename-race
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "SCAN while juno-migrate moves shards to a new store: every key present throughout is returned" {
    # one zone: each shard has a single replica, so every step of the walk
    # must reach the store the map of the moment names
    juno-ring init --cluster t --shards 64 --zone "z0=a@$A" >"$MAP"
    start_store a "$A" --memory
    start_resp_proxy 1 "$PR" "$PX"
    local D=127.0.0.1:$PX2
    py fill 1500 mv:
    juno-ring plan "$MAP" --add "z0=d@$D" --json >"$TMP/plan.json"
    python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["map"]))' \
        "$TMP/plan.json" >"$TMP/new.json"
    start_store d "$D" --memory --map "$TMP/new.json"
    /usr/bin/python3 "$RK_PY" "$PR" scan-during 1500 mv: "$TMP/moved" >"$TMP/scan.out" 2>&1 &
    local spid=$!
    echo "$spid" >>"$TMP/pids"
    local reload=""
    for f in a d proxy1; do reload="$reload --reload $(cat "$TMP/pid-$f")"; done
    # shellcheck disable=SC2086
    juno-migrate "$TMP/plan.json" --map-file "$MAP" --map-file "$TMP/new.json" $reload \
        --rate 0.2 --parallel 2 >"$TMP/m.out" 2>&1 || {
        cat "$TMP/m.out" >&2
        return 1
    }
    touch "$TMP/moved"
    wait "$spid" || {
        cat "$TMP/scan.out" >&2
        return 1
    }
    echo "full scans during the move: $(cat "$TMP/scan.out")" >&3
    grep -E "moved|shards" "$TMP/m.out" | tail -2 >&3
    [ "$(cat "$TMP/scan.out")" -ge 2 ]
    # the map moved: version 2, and d serves its shards
    [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$MAP")" = 2 ]
    [ "$(rc dbsize)" = 1500 ]
    py scan-all 1500 mv:
}

@test "SELECT: 16 databases, database i the namespace default/i; FLUSHDB one, FLUSHALL all; --resp-databases" {
    start_all
    start_resp_proxy 2 "$PR2" "$PX2" --resp-databases 1
    [ "$(rc set k zero)" = OK ]
    [ "$(rc -n 1 set k one)" = OK ]
    [ "$(rc -n 15 set k fifteen)" = OK ]
    [ "$(rc get k)" = zero ]
    [ "$(rc -n 1 get k)" = one ]
    [ "$(juno -s "127.0.0.1:$PX" -n default/1 get k)" = one ] # the JunoDB face sees it there
    [ "$(rc select 16)" = "ERR DB index is out of range" ]
    [ "$(rc select -1)" = "ERR DB index is out of range" ]
    [ "$(rc config get databases | tail -1)" = 16 ]
    # redis-py's db= and a URL's /3
    run /usr/bin/python3 -c "
import redis
r = redis.Redis(port=$PR, db=3); r.set('k', 'three')
print(redis.Redis.from_url('redis://127.0.0.1:$PR/3').get('k').decode(), redis.Redis(port=$PR).get('k').decode())"
    [ "$output" = "three zero" ]
    [ "$(rc -n 3 dbsize)" = 1 ]
    [ "$(rc -n 1 flushdb)" = OK ]
    [ -z "$(rc -n 1 get k)" ]
    [ "$(rc get k)" = zero ]
    [ "$(rc -n 3 get k)" = three ]
    juno -s "127.0.0.1:$PX" -n other put survivor kept
    [ "$(rc -n 3 flushall)" = OK ]
    for db in 0 3 15; do [ -z "$(rc -n $db get k)" ]; done
    [ "$(juno -s "127.0.0.1:$PX" -n other get survivor)" = kept ]
    [ "$(redis-cli -p "$PR2" select 1)" = "ERR DB index is out of range" ]
    [ "$(redis-cli -p "$PR2" config get databases | tail -1)" = 1 ]
}

@test "--acl: the keyspace commands walk the user's namespace; read access lists, only write flushes" {
    local H
    H=$(echo secret | juno-proxy --hash-password)
    cat >"$TMP/acl.conf" <<ACL
user app password=$H ns=app:rw default-ns=app
user reader password=$H ns=app:r default-ns=app
user other password=$H ns=other:rw default-ns=other
user stranger password=$H ns=other:rw
user pre password=$H ns=pre*:rw default-ns=pre
ACL
    start_all --acl "$TMP/acl.conf"
    ru() { local u=$1; shift; redis-cli -p "$PR" --user "$u" --pass secret --no-auth-warning "$@"; }
    ru app set a1 v >/dev/null
    ru app set a2 v >/dev/null
    ru other set o1 v >/dev/null
    [ "$(ru app dbsize)" = 2 ]
    [ "$(ru app keys '*' | sort | tr '\n' ' ')" = "a1 a2 " ]
    [ "$(ru other keys '*')" = o1 ]
    [ "$(ru reader dbsize)" = 2 ]
    [ "$(ru reader --scan | sort | tr '\n' ' ')" = "a1 a2 " ]
    [[ "$(ru reader flushdb)" == NOPERM* ]]
    [[ "$(ru reader rename a1 a3)" == NOPERM* ]]
    [[ "$(ru stranger scan 0)" == NOPERM* ]]
    [[ "$(ru stranger dbsize)" == NOPERM* ]]
    [[ "$(redis-cli -p "$PR" keys '*')" == NOAUTH* ]]
    [ "$(ru app dbsize)" = 2 ]
    [ "$(ru other flushall)" = OK ]
    [ "$(ru app dbsize)" = 2 ]
    [ "$(ru other dbsize)" = 0 ]
    # SELECT: database 1 is app/1, which "app" may not use; "pre" may (pre*)
    [[ "$(ru app -n 1 get a1)" == NOPERM* ]]
    [[ "$(ru app move a1 1)" == NOPERM* ]]
    [[ "$(ru app copy a1 a9 db 2)" == NOPERM* ]]
    [ "$(ru app exists a1)" = 1 ]
    ru pre -n 1 set p1 v >/dev/null
    ru pre set p0 v >/dev/null
    [ "$(ru pre -n 1 get p1)" = v ]
    [ -z "$(ru pre get p1)" ]
    [ "$(ru app flushall)" = OK ] # only app itself: app/1... it may not write
    [ "$(ru pre flushall)" = OK ]
    [ -z "$(ru pre -n 1 get p1)" ]
    [ -z "$(ru pre get p0)" ]
}

@test "store: KeyScan lists a shard's records of a namespace; malformed requests get BadParam" {
    start_all
    py fill 200 s:
    run /usr/bin/python3 "$RK_PY" "$A" store-keyscan
    echo "$output"
    [ "$status" -eq 0 ]
    juno --store "$A" --timeout 500 nop
    [ "$(rc dbsize)" = 200 ]
}

@test "FLUSHDB with a store down: the keys do not come back when it returns, by reads or juno-repair" {
    start_store a "$A" --data "$TMP/da" && start_store b "$B" --data "$TMP/db" &&
        start_store c "$C" --data "$TMP/dc"
    start_resp_proxy 1 "$PR" "$PX"
    py fill 300 back:
    kill "$(cat "$TMP/pid-b")"
    wait "$(cat "$TMP/pid-b")" 2>/dev/null || true
    [ "$(rc flushdb)" = OK ] # tombstones on a and c: b did not confirm
    [ "$(rc dbsize)" = 0 ]
    start_store b "$B" --data "$TMP/db" # its 300 live copies, older than the tombstones
    sleep 0.3
    [ "$(rc dbsize)" = 0 ]
    [ -z "$(rc keys '*')" ]
    [ -z "$(rc get back:7)" ]
    [ "$(rc exists back:1 back:2 back:3)" = 0 ]
    # b still holds a live copy of a key nobody read since: read on b alone
    juno --store "$B" --map "$MAP" get back:9 >/dev/null
    juno-repair --map-file "$MAP" >"$TMP/repair.out" 2>&1 || {
        cat "$TMP/repair.out" >&2
        return 1
    }
    [ "$(rc dbsize)" = 0 ]
    # b's own copies are tombstones now: a read of b alone finds no record
    run juno --store "$B" --map "$MAP" get back:9
    [ "$status" -eq 1 ]
}
