#!/usr/bin/env bats
# juno-resp-expire.bats: expirations to the millisecond (issue 20): the RESP
# face's EXPIRE family, TTL and SET's time options against Redis 7's replies
# and errors (redis-cli, python3-redis with test/resp_expire.py), keys read
# 20 ms either side of their expiry, --resp-max-ttl, what JunoDB clients see
# (test/proxy_client.py, the juno CLI: whole seconds, rounded up), and stores
# holding records of format 1 (written by test/old_records.c, compiled here).
# Three zones of one juno-store each (one zone where said) and one
# juno-proxy, on free loopback ports in a temp dir; teardown stops every
# process started (by PID), even when a test failed.

load lib
load resp_helpers # resp_setup, resp_teardown, start_stores

PY="$BATS_TEST_DIRNAME/resp_expire.py"
NATIVE="$BATS_TEST_DIRNAME/proxy_client.py"

setup() {
    resp_setup resp-expire
    PLOG=$TMP/proxy.log
}

teardown() {
    resp_teardown
}

# start_proxy [juno-proxy options]: the proxy on $PROXY and $RESP, ready at PONG.
start_proxy() {
    juno-proxy --listen "$PROXY" --resp "$RESP" --map "$MAP" "$@" 2>>"$PLOG" &
    echo $! >>"$TMP/pids"
    wait_started juno-proxy "$PLOG" $! pong || return 1
    sleep 0.1 # the first connections to the stores
}

# start_all [juno-proxy options]: three stores in memory, then the proxy.
start_all() {
    start_stores &&
        start_proxy "$@"
}

rc() { redis-cli -h 127.0.0.1 -p "$PR" "$@"; }
pong() { [ "$(rc ping 2>/dev/null)" = PONG ]; }
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }
# native OP KEY...: test/proxy_client.py's JSON for one request; FIELD of it with jfield
native() { python3 "$NATIVE" "$PROXY" "$1" default "${@:2}"; }
jfield() { python3 -c 'import json, sys; v = json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"; }

@test "--resp-max-ttl: help, bad values exit 64; a limit refuses longer TTLs with Redis's error and changes nothing" {
    run juno-proxy --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--resp-max-ttl S"* ]]
    [[ "$output" == *"0 = no limit, as Redis (default 0)"* ]]
    for bad in -1 abc 9223372036854776; do
        run juno-proxy --map "$MAP" --resp "$RESP" --resp-max-ttl "$bad"
        [ "$status" -eq 64 ]
        [[ "$output" == *"resp-max-ttl"* ]]
    done
    start_all --resp-max-ttl 60
    run /usr/bin/python3 "$PY" "$RESP" maxttl 60
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"# all checks passed"* ]]
    [ "$(grep -c '^ok ' <<<"$output")" -ge 14 ]
    # JunoDB clients keep --max-ttl, the RESP limit is not theirs
    [ "$(native set j v --ttl 259200 | jfield status)" = Ok ]
    [ "$(native set j v --ttl 259201 | jfield status)" = BadParam ]
}

@test "redis-cli: the figures of issue 20 (PX 1500's PTTL, EXPIRE 10's TTL, a week's EX)" {
    start_all
    for i in $(seq 10); do
        [ "$(rc set k v px 1500)" = OK ]
        p=$(rc pttl k)
        [ "$p" -le 1500 ] && [ "$p" -gt 1000 ]
        t0=$(now_ms)
        [ "$(rc expire k 10)" = 1 ]
        t=$(rc ttl k)
        t1=$(now_ms)
        # within 500 ms of the EXPIRE, Redis's rounding gives 10
        [ $((t1 - t0)) -ge 400 ] || [ "$t" = 10 ]
    done
    [ "$(rc set w v ex 604800)" = OK ]
    [ "$(rc ttl w)" = 604800 ]
    [ "$(rc expire w 100 xx gt)" = 0 ]
    [ "$(rc expire w 100 xx lt)" = 1 ]
    [ "$(rc ttl w)" = 100 ]
    [ "$(rc expire w -9223372036854776)" = "ERR invalid expire time in 'expire' command" ]
    [ "$(rc get w)" = v ]
    [ "$(rc expire w -9223372036854775)" = 1 ]
    [ "$(rc exists w)" = 0 ]
    run rc time
    [ "${#lines[@]}" -eq 2 ]
    d=$((${lines[0]} - $(date +%s)))
    [ "$d" -le 1 ] && [ "$d" -ge -1 ]
    [[ "${lines[1]}" =~ ^[0-9]{1,6}$ ]]
}

@test "redis-cli: the same replies as redis-server 7 for the same expiration commands" {
    start_all
    start_redis
    local n=0 line want got
    while read -r line; do
        [ -n "$line" ] || continue
        read -ra words <<<"$line"
        want=$(redis-cli -p "$PRS" "${words[@]}" 2>&1)
        got=$(rc "${words[@]}" 2>&1)
        if [ "$got" != "$want" ]; then
            echo "$line: juno '$got', redis '$want'" >&2
            return 1
        fi
        n=$((n + 1))
    done <<'EOF'
set a v
expire a 100
ttl a
expire a 100 nx
expire a 100 xx
expire a 50 gt
expire a 200 gt
ttl a
expire a 300 lt
expire a 150 lt
ttl a
expire a 400 xx gt
expire a 100 xx gt
expire a 100 xx lt
ttl a
expire a 10 nx xx
expire a 10 nx gt
pexpire a 10 lt nx
expire a 10 gt lt
expire a 10 xx gt lt
expire a 10 soon
expire a ten soon
expire a ten
expire a 1.5
pexpire a 1.5
expire a -9223372036854776
expire a 9223372036854776
pexpire a 9223372036854775807
expireat a 9223372036854776
expireat a -9223372036854776
get a
expireat a 4102444800
expiretime a
pexpiretime a
pexpireat a 4102444800123
pexpiretime a
expiretime a
pexpireat a 4102444800500
expiretime a
persist a
ttl a
pttl a
expiretime a
persist a
expire a 10 gt
expire a 10 xx
expire a 10 xx gt
expire a 10 lt
persist a
expire nokey 10
pexpire nokey 10 nx
expireat nokey 10
pexpireat nokey 10
expire nokey -10
ttl nokey
pttl nokey
expiretime nokey
pexpiretime nokey
persist nokey
pexpireat a 9223372036854775807
pexpiretime a
expire a -9223372036854775
exists a
set b v
expire b 0
exists b
set b v
expireat b 1
get b
set b v ex 100
expire b -1 gt
expire b -1 lt
exists b
set w v ex 604800
ttl w
setex w 31536000 v
ttl w
set w v exat 4102444800
expiretime w
set w v pxat 4102444800999
pexpiretime w
expiretime w
set w v keepttl
pexpiretime w
set w v exat 0
set w v pxat -1
set w v ex 9223372036854776
set w v exat 9223372036854776
set w v px 9223372036854775807
set w v ex 10 exat 4102444800
pexpiretime w
set w v exat 1
get w
exists w
set w2 old
set w2 v exat 1 get
exists w2
set w3 v nx pxat 5
exists w3
getex w3 exat 4102444800
expire a
expiretime
pexpiretime a b
time x
EOF
    [ "$n" -ge 100 ]
}

@test "python3-redis: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (NX XX GT LT), PERSIST, TTL PTTL EXPIRETIME PEXPIRETIME, SET EXAT PXAT, TIME" {
    start_all
    run /usr/bin/python3 "$PY" "$RESP" commands
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"# all checks passed"* ]]
    [ "$(grep -c '^ok ' <<<"$output")" -ge 120 ]
}

@test "one zone (one-phase writes): the same replies" {
    juno-ring init --cluster t --shards 64 --zone "z0=a@$A" >"$MAP"
    start_store a "$A" --memory && start_proxy
    run /usr/bin/python3 "$PY" "$RESP" commands
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"# all checks passed"* ]]
}

@test "TTL precision: keys set with PX 100...2000 are there 20 ms before their expiry and gone 20 ms after" {
    start_all
    run /usr/bin/python3 "$PY" "$RESP" precision
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"# all checks passed (6 PX values judged)"* ]]
}

@test "JunoDB clients see whole seconds, rounded up, and never juno's ExpirationMs field" {
    start_all
    # a RESP key with PX 1500: TTL 2 (1.5 s rounded up), ExpirationTime its millisecond rounded up
    [ "$(rc set r v px 1500)" = OK ]
    pe=$(rc pexpiretime r)
    t0=$(now_ms)
    native get r >"$TMP/r.json"
    t1=$(now_ms)
    ttl=$(jfield ttl <"$TMP/r.json")
    [ "$ttl" -ge $(((pe - t1 + 999) / 1000)) ] && [ "$ttl" -le $(((pe - t0 + 999) / 1000)) ]
    [ "$(jfield expiration_time <"$TMP/r.json")" = $(((pe + 999) / 1000)) ]
    python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))["meta_tags"]; sys.exit(16 in t)' "$TMP/r.json"
    # PXAT on a whole second: shown as it is
    at=$(($(date +%s) + 100))
    [ "$(rc set r v pxat $((at * 1000)))" = OK ]
    [ "$(native get r | jfield expiration_time)" = "$at" ]
    [ "$(rc set r v pxat $((at * 1000 + 1)))" = OK ]
    [ "$(native get r | jfield expiration_time)" = $((at + 1)) ]
    # a JunoDB TTL of 10 s: the record lives 10 s to the millisecond, and says 10
    t0=$(now_ms)
    native set j v --ttl 10 >"$TMP/j.json"
    t1=$(now_ms)
    [ "$(jfield ttl <"$TMP/j.json")" = 10 ] || [ $((t1 - t0)) -ge 1000 ]
    pe=$(rc pexpiretime j)
    [ "$pe" -ge $((t0 + 10000)) ] && [ "$pe" -le $((t1 + 10000)) ]
    [ "$(jfield expiration_time <"$TMP/j.json")" = $(((pe + 999) / 1000)) ]
    python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))["meta_tags"]; sys.exit(16 in t)' "$TMP/j.json"
    # the juno CLI: the same whole seconds, the time left rounded up
    t0=$(now_ms)
    run juno -s "$PROXY" get j --json
    t1=$(now_ms)
    [ "$status" -eq 0 ]
    ttl=$(jfield ttl <<<"$output")
    [ "$ttl" -ge $(((pe - t1 + 999) / 1000)) ] && [ "$ttl" -le $(((pe - t0 + 999) / 1000)) ]
    [ "$(jfield expiration_time <<<"$output")" = $(((pe + 999) / 1000)) ]
    # a Get with a TTL extends to the millisecond too: now + 20 s
    t0=$(now_ms)
    ttl=$(native get j --ttl 20 | jfield ttl)
    t1=$(now_ms)
    [ "$ttl" = 20 ] || [ $((t1 - t0)) -ge 1000 ]
    pe=$(rc pexpiretime j)
    [ "$pe" -ge $((t0 + 20000)) ] && [ "$pe" -le $((t1 + 20000)) ]
}

@test "stores holding format 1 records (juno before millisecond TTLs) serve them; writes make them format 2; replicas of both formats compare equal" {
    libjuno=${JUNO_BUILD:-$BATS_TEST_DIRNAME/../build}/libjuno.a
    san=
    nm "$libjuno" 2>/dev/null | grep -q __asan_report && san="-fsanitize=address,undefined"
    # shellcheck disable=SC2086
    cc $san -I"$BATS_TEST_DIRNAME/../lib" "$BATS_TEST_DIRNAME/old_records.c" "$libjuno" \
        $(pkg-config --libs rocksdb) -lxxhash -o "$TMP/old_records"
    exp=$(($(date +%s) + 3600))
    for z in a b; do # z2's store starts empty
        "$TMP/old_records" "$TMP/data-$z" 64 default o1=one "o2=two@$exp" "o3=gone@$(($(date +%s) - 10))"
    done
    start_store a "$A" --data "$TMP/data-a" && start_store b "$B" --data "$TMP/data-b" &&
        start_store c "$C" --data "$TMP/data-c" && start_proxy
    # read through a store directly, the proxy's two faces
    [ "$(juno --store "$A" --map "$MAP" get o1)" = one ]
    [ "$(rc get o1)" = one ]
    [ "$(rc ttl o1)" = -1 ]
    [ "$(rc get o2)" = two ]
    [ "$(rc pexpiretime o2)" = $((exp * 1000)) ]
    [ "$(juno -s "$PROXY" get o2 --json | jfield expiration_time)" = "$exp" ]
    [ "$(rc get o3)" = "" ]
    [ "$(rc exists o3)" = 0 ]
    # juno-repair copies the records z2 lacks (written in format 2); then the
    # replicas of either format hash the same: nothing differs
    run juno-repair --map-file "$MAP"
    [ "$status" -eq 0 ]
    run juno-repair --map-file "$MAP" --dry-run --full
    [ "$status" -eq 0 ]
    [[ "$output" != *differs* ]]
    [ "$(juno --store "$C" --map "$MAP" get o2)" = two ]
    # an EXPIRE rewrites o1 everywhere, to the millisecond
    [ "$(rc pexpire o1 100500)" = 1 ]
    p=$(rc pttl o1)
    [ "$p" -le 100500 ] && [ "$p" -gt 99000 ]
    [ "$(juno --store "$B" --map "$MAP" get o1)" = one ]
    # a restart reads both formats from disk again
    kill "$(cat "$TMP/pid-a")"
    while kill -0 "$(cat "$TMP/pid-a")" 2>/dev/null; do sleep 0.05; done
    start_store a "$A" --data "$TMP/data-a"
    [ "$(juno --store "$A" --map "$MAP" get o2)" = two ]
    [ "$(juno --store "$A" --map "$MAP" get o1)" = one ]
    run juno --store "$A" --map "$MAP" get o3
    [ "$status" -eq 1 ]
}
