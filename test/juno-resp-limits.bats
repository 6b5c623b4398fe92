#!/usr/bin/env bats
# juno-resp-limits.bats: the RESP face's limits next to Redis's: values up to
# --resp-max-value (32 MiB by default) through SET/GET with redis-py and
# redis-cli, over three replicas and with one of them stopped; a longer value
# read and dropped, answered "string exceeds maximum allowed size", the
# connection going on; headers over the protocol's limits refused without
# allocating (test/resp_limits_client.py); MSET of 100,000 pairs; the empty
# key; --resp-max-query; --resp-max-buffered; INFO's sections and fields through redis-py's
# info(); CONFIG GET / SET of the limits at run time. Stores in memory on free loopback ports in a temp
# dir; teardown stops every process started (by PID).

load lib
load resp_helpers # resp_setup, resp_teardown, start_stores

LIM_PY="$BATS_TEST_DIRNAME/resp_limits_client.py"

setup() {
    resp_setup resp-limits
}

teardown() {
    resp_teardown
}

# start_all [juno-proxy options]: three stores, a proxy with RESP on $PR.
# --request-timeout 3000: these tests are about sizes, not latency, and run
# on shared machines where 10,001 writes at once or a 32 MiB Prepare can take
# longer than the default 500 ms per store request.
start_all() {
    start_stores || return 1
    juno-proxy --listen "127.0.0.1:$PX" --resp "127.0.0.1:$PR" --map "$MAP" --request-timeout 3000 "$@" \
        2>>"$TMP/proxy.log" &
    echo $! >"$TMP/pid-proxy"
    echo $! >>"$TMP/pids"
    wait_started juno-proxy "$TMP/proxy.log" $! redis-cli -p "$PR" ping
}

rc() { redis-cli -p "$PR" "$@"; }

@test "redis-py: 300 KB, 2 MB, 20 MB and 32 MiB values; 32 MiB + 1 refused, the connection goes on" {
    start_all
    run /usr/bin/python3 "$LIM_PY" "127.0.0.1:$PR" values 33554432
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"ok - GET of 33554432 bytes: same bytes"* ]]
    [[ "$output" == *"ok - PING on the same connection after the refusal"* ]]
}

@test "redis-cli: 300 KB, 2 MB, 20 MB through SET -x and GET, with one replica gone too" {
    start_all
    local n
    for n in 300000 2000000 20000000; do
        head -c "$n" /dev/urandom >"$TMP/v$n"
        [ "$(rc -x set "k$n" <"$TMP/v$n")" = OK ]
        rc --no-raw strlen "k$n" | grep -qx "(integer) $n"
        rc get "k$n" | head -c "$n" | cmp - "$TMP/v$n"
    done
    kill -TERM "$(cat "$TMP/pid-a")" # one replica of three gone: W = R = 2 still
    for n in 300000 20000000; do rc get "k$n" | head -c "$n" | cmp - "$TMP/v$n"; done
    [ "$(rc -x set k2 <"$TMP/v2000000")" = OK ]
    rc get k2 | head -c 2000000 | cmp - "$TMP/v2000000"
}

@test "--resp-max-value: a smaller limit, the refusal in redis-cli, the native face's --max-value apart" {
    start_all --resp-max-value 1000000
    head -c 1000000 /dev/urandom >"$TMP/ok"
    head -c 1000001 /dev/urandom >"$TMP/over"
    [ "$(rc -x set k <"$TMP/ok")" = OK ]
    run rc -x set k2 <"$TMP/over"
    [ "$output" = "ERR string exceeds maximum allowed size" ]
    [ "$(rc exists k2)" = 0 ]
    run rc -x append k <"$TMP/ok"
    [ "$output" = "ERR string exceeds maximum allowed size" ]
    run rc setrange k 999999 xy
    [ "$output" = "ERR string exceeds maximum allowed size" ]
    [ "$(rc setrange k 999999 x)" = 1000000 ]
    [ "$(rc ping)" = PONG ]
    # the JunoDB face keeps its own --max-value (204800)
    head -c 204801 /dev/zero >"$TMP/native"
    run juno -s "127.0.0.1:$PX" put nk - <"$TMP/native"
    [ "$status" -eq 65 ]
    [[ "$output" == *"BadParam"* ]]
}

@test "headers over the limits refused without allocating; 500 MB announced is dropped, not held" {
    start_all
    run /usr/bin/python3 "$LIM_PY" "127.0.0.1:$PR" header "$(cat "$TMP/pid-proxy")"
    echo "$output"
    [ "$status" -eq 0 ]
    kill -0 "$(cat "$TMP/pid-proxy")"
    grep -q "over --resp-max-value 33554432 dropped" "$TMP/proxy.log"
}

@test "MSET of 100,000 pairs (a window of 4096 in flight), MGET, EXISTS and DEL of them; the empty key" {
    start_all
    run /usr/bin/python3 "$LIM_PY" "127.0.0.1:$PR" args "$(cat "$TMP/pid-proxy")" 100000
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"ok - MSET of 100000 pairs"* ]]
    [[ "$output" == *"ok - the proxy's memory after"* ]]
    [ "$(rc set '' v)" = OK ]
    [ "$(rc get '')" = v ]
    [ "$(rc del '')" = 1 ]
    # the JunoDB face still refuses an empty key (JunoDB's rule)
    run python3 "$BATS_TEST_DIRNAME/proxy_client.py" "127.0.0.1:$PX" set default "" v
    [[ "$output" == *'"status": "BadParam"'* ]]
}

@test "--deadline bounds each key of a multi-key command from its start: an MSET of 150,000 pairs outlives two seconds and succeeds" {
    start_all --deadline 2000
    run timeout 120 /usr/bin/python3 -c '
import redis, sys, time
r = redis.Redis(port=int(sys.argv[1]))
n = 150000
pairs = {"dl%d" % i: "v%d" % i for i in range(n)}
t = time.monotonic()
ok = r.mset(pairs)
took = time.monotonic() - t
print("mset", ok, "%.2f s" % took)
got = r.mget(list(pairs))
print("mget", sum(1 for k, v in zip(pairs, got) if v == pairs[k].encode()))
if took <= 2.0:
    print("inconclusive: the MSET took less than one --deadline")
' "$PR"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"mset True"* ]]
    [[ "$output" == *"mget 150000"* ]]
    [[ "$output" != *"inconclusive"* ]]
    ! grep -q "over its deadline" "$TMP/proxy.log"
}

@test "a 3 MB value sent slowly (7 s) goes in: the 5 s limit runs from the command's last 64 KiB" {
    start_all
    run timeout 60 python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
n = 3000000
s.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$%d\r\n" % n)
sent = 0
while sent < n:
    k = min(n - sent, 43000)
    s.sendall(b"s" * k)
    sent += k
    time.sleep(0.1)
s.sendall(b"\r\n")
print(s.recv(100).decode().strip())' "$PR"
    echo "$output"
    [ "$output" = "+OK" ]
    [ "$(rc strlen slow)" = 3000000 ]
    # a command that stops arriving is still closed after 5 s
    run timeout 30 python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc")
t = time.time()
print(s.recv(100), round(time.time() - t))' "$PR"
    echo "$output"
    [[ "$output" == "b'' "[567] ]]
}

@test "--resp-max-buffered: values arriving at once past it are dropped with -OOM, the connections go on" {
    start_all --resp-max-buffered 4000000
    run /usr/bin/python3 "$LIM_PY" "127.0.0.1:$PR" budget
    echo "$output"
    [ "$status" -eq 0 ]
    grep -q "RESP command dropped: bulk data arriving over --resp-max-buffered 4000000" "$TMP/proxy.log"
}

@test "--resp-max-query: a command held over it closes the connection; bad values exit 64" {
    start_all --resp-max-value 100000 --resp-max-query 200000
    # 200,150 bytes of an MSET whose values are each within --resp-max-value
    run python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
a = b"$90000\r\n" + b"x" * 90000 + b"\r\n"
s.sendall(b"*4\r\n$4\r\nMSET\r\n" + a + a + b"$90000\r\n" + b"y" * 20100)
got = b""
try:
    while True:
        d = s.recv(4096)
        if not d: break
        got += d
except ConnectionResetError:
    pass
print(got.decode())' "$PR"
    [[ "$output" == "-ERR Protocol error: command over 200000 bytes"* ]]
    grep -q "command over 200000 bytes" "$TMP/proxy.log"
    [ "$(rc ping)" = PONG ]
    run juno-proxy --map "$MAP" --resp "127.0.0.1:$PR" --resp-max-value 33554433
    [ "$status" -eq 64 ]
    run juno-proxy --map "$MAP" --resp "127.0.0.1:$PR" --resp-max-value 1000000 --resp-max-query 1000000
    [ "$status" -eq 64 ]
    [[ "$output" == *"--resp-max-query 1000000 is too small"* ]]
}

@test "INFO: the sections and fields tools read, through redis-py's info(); one, several, all" {
    start_all --threads 2
    run /usr/bin/python3 "$LIM_PY" "127.0.0.1:$PR" info "$(cat "$TMP/pid-proxy")"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"ok - keyspace_hits: 3 more"* ]]
    # redis-cli: the section titles in Redis's order
    [ "$(rc info everything | grep '^#' | tr -d '\r' | tr '\n' ' ')" = \
        "# Server # Clients # Memory # Persistence # Stats # Replication # CPU # Commandstats # Errorstats # Keyspace " ]
    [ "$(rc info | grep '^#' | tr -d '\r' | tr '\n' ' ')" = \
        "# Server # Clients # Memory # Persistence # Stats # Replication # CPU # Errorstats # Keyspace " ]
}

@test "INFO commandstats and errorstats: calls, rejected and failed calls per command, errors by code" {
    start_all --threads 2
    for i in 1 2 3; do rc set "c$i" "$i" >/dev/null; done
    rc get c1 >/dev/null
    rc get >/dev/null        # arity: rejected
    rc incr nope-int >/dev/null
    rc set word abc >/dev/null
    rc incr word >/dev/null  # not an integer: failed
    rc nosuchcmd >/dev/null  # unknown: an ERR, no command
    rc -3 get c2 >/dev/null
    stats=$(rc info commandstats | tr -d '\r')
    echo "$stats"
    grep -Eq '^cmdstat_set:calls=4,usec=[0-9]+,usec_per_call=[0-9.]+,rejected_calls=0,failed_calls=0$' <<<"$stats"
    grep -Eq '^cmdstat_get:calls=2,usec=[0-9]+,usec_per_call=[0-9.]+,rejected_calls=1,failed_calls=0$' <<<"$stats"
    grep -Eq '^cmdstat_incr:calls=2,.*,rejected_calls=0,failed_calls=1$' <<<"$stats"
    grep -Eq '^cmdstat_hello:calls=1,' <<<"$stats"
    ! grep -q '^cmdstat_nosuchcmd' <<<"$stats"
    errs=$(rc info errorstats | tr -d '\r')
    echo "$errs"
    [ "$(grep '^errorstat_' <<<"$errs")" = "errorstat_ERR:count=3" ]
    [ "$(rc info stats | tr -d '\r' | grep '^total_error_replies:')" = "total_error_replies:3" ]
    # redis-py reads both sections as Redis's
    run /usr/bin/python3 -c "import redis; r = redis.Redis(port=$PR); print(r.info('commandstats')['cmdstat_set']['calls'], r.info('errorstats')['errorstat_ERR'])"  # redis-py keeps count=N as text, as for Redis
    echo "$output"
    [ "$output" = "4 count=3" ]
}

@test "INFO keyspace: db0 counts the namespace's keys and those that expire, reused for 5 s; stores gone: the last count and why" {
    start_all --deadline 1500
    [ -z "$(rc info keyspace | tr -d '\r' | grep '^db0')" ] # empty, as Redis's
    for i in $(seq 1 30); do echo "SET k$i v"; done | rc >/dev/null
    for i in $(seq 1 10); do echo "EXPIRE k$i 100"; done | rc >/dev/null
    juno -s "127.0.0.1:$PX" -n other put other-key v # another namespace: not counted
    [ "$(rc info keyspace | tr -d '\r' | grep -c '^db0')" = 0 ] # the count of 0 is reused
    sleep 5.2
    [ "$(rc info keyspace | tr -d '\r' | grep '^db0')" = "db0:keys=30,expires=10,avg_ttl=0" ]
    [ "$(rc dbsize)" = 30 ]
    # redis-py reads it as Redis's
    run /usr/bin/python3 -c "import redis; print(redis.Redis(port=$PR).info('keyspace'))"
    [ "$output" = "{'db0': {'keys': 30, 'expires': 10, 'avg_ttl': 0}}" ]
    rc del k1 k2 k3 >/dev/null
    rc info | tr -d '\r' | grep -q "^db0:keys=30," # INFO with every section: reused too
    sleep 5.2
    [ "$(rc info all | tr -d '\r' | grep '^db0')" = "db0:keys=27,expires=7,avg_ttl=0" ]
    # no quorum of stores (two frozen): the INFO that counts answers after
    # --deadline with the last count and the reason; while it waits, another
    # INFO shows the last count at once instead of counting too
    kill -STOP "$(cat "$TMP/pid-b")" "$(cat "$TMP/pid-c")"
    sleep 5.2
    rc info keyspace >"$TMP/first.out" &
    local first=$!
    sleep 0.5
    [ "$(rc info keyspace | tr -d '\r' | grep '^db0')" = "db0:keys=27,expires=7,avg_ttl=0" ]
    kill -0 "$first" # the counting INFO still waits for its stores
    wait "$first"
    cat "$TMP/first.out"
    grep -q "^db0:keys=27,expires=7,avg_ttl=0" "$TMP/first.out"
    grep -q "^juno_keyspace_error:[A-Za-z]" "$TMP/first.out"
    [ "$(rc ping)" = PONG ]
}

@test "CONFIG SET juno-resp-max-ttl: the RESP face's TTL limit changes at run time; bad values refused" {
    start_all
    [ "$(rc config get juno-resp-max-ttl | tail -1)" = 0 ]
    [ "$(rc config set juno-resp-max-ttl 3600)" = OK ]
    [ "$(rc config get 'juno-resp-*' | tr '\n' ' ')" = "juno-resp-max-ttl 3600 " ]
    run rc set k v EX 7200
    [ "$output" = "ERR invalid expire time in 'set' command: over juno-proxy's --resp-max-ttl of 3600 s" ]
    [ "$(rc set k v EX 3600)" = OK ]
    run rc config set juno-resp-max-ttl -1
    [[ "$output" == "ERR CONFIG SET failed (possibly related to argument 'juno-resp-max-ttl') - argument must be between 0 and"* ]]
    run rc config set juno-resp-max-ttl 1h
    [[ "$output" == *"argument must be between 0 and"* ]]
    [ "$(rc config get juno-resp-max-ttl | tail -1)" = 3600 ]
    [ "$(rc config set juno-resp-max-ttl 0)" = OK ]
    [ "$(rc set k v EX 7200)" = OK ]
    grep -q "juno-resp-max-ttl=3600" "$TMP/proxy.log"
}

@test "CONFIG SET / GET: the RESP limits change at run time on every connection; Redis's errors" {
    start_all --threads 2
    run /usr/bin/python3 "$LIM_PY" "127.0.0.1:$PR" config
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"ok - back to the defaults"* ]]
    [ "$(rc config set proto-max-bulk-len 1000)" = OK ]
    [ "$(rc config get proto-max-bulk-len | tail -1)" = 1000 ]
    [ "$(rc set k "$(printf 'v%.0s' $(seq 1001))")" = "ERR string exceeds maximum allowed size" ]
    grep -q "CONFIG SET by peer=127.0.0.1:[0-9]*: proto-max-bulk-len=1000" "$TMP/proxy.log"
}
