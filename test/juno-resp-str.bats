#!/usr/bin/env bats
# juno-resp-str.bats: the RESP face's counters and string commands (INCR
# DECR INCRBY DECRBY INCRBYFLOAT APPEND SETRANGE GETRANGE SUBSTR STRLEN
# GETSET GETDEL GETEX SETNX SETEX PSETEX MSETNX GETBIT SETBIT BITCOUNT,
# SET ... GET) with real clients: redis-cli for replies and errors, side by
# side with a real redis-server 7 when Debian's is installed; redis-py
# (test/resp_str_client.py, /usr/bin/python3) for every command and its edge
# cases; and the read-modify-write promise: concurrent INCRs over two
# juno-proxy processes on the same three stores lose nothing, and GETDEL
# takes each increment once. Stores in memory on free loopback ports in a
# temp dir; teardown stops every process started (by PID).

load lib
load resp_helpers # resp_setup, resp_teardown, start_stores

RS_PY="$BATS_TEST_DIRNAME/resp_str_client.py"

setup() {
    resp_setup resp-str
}

teardown() {
    resp_teardown
}

# start_all [juno-proxy options]: the three stores, then proxy 1 on $PR.
start_all() {
    start_stores || return 1
    start_resp_proxy 1 "$PR" "$PX" --resp-max-value 204800 "$@"
}

rc() { redis-cli -p "$PR" "$@"; }

@test "redis-cli: every counter and string command, its reply" {
    start_all
    [ "$(rc incr n)" = 1 ]
    [ "$(rc incrby n 41)" = 42 ]
    [ "$(rc decr n)" = 41 ]
    [ "$(rc decrby n 50)" = -9 ]
    [ "$(rc get n)" = -9 ]
    [ "$(rc incrbyfloat f 10.5)" = 10.5 ]
    [ "$(rc incrbyfloat f 0.1)" = 10.6 ]
    [ "$(rc incrbyfloat f -5.0e3)" = -4989.39999999999999991 ] # long double, as Redis
    [ "$(rc append s hello)" = 5 ]
    [ "$(rc append s ' world')" = 11 ]
    [ "$(rc strlen s)" = 11 ]
    [ "$(rc strlen nokey)" = 0 ]
    [ "$(rc getrange s 0 4)" = hello ]
    [ "$(rc getrange s -5 -1)" = world ]
    [ "$(rc substr s 6 100)" = world ]
    [ "$(rc getrange nokey 0 -1)" = "" ]
    [ "$(rc setrange s 6 Redis)" = 11 ]
    [ "$(rc get s)" = "hello Redis" ]
    [ "$(rc setrange pad 3 abc)" = 6 ]
    [ "$(rc get pad | od -An -c | tr -s ' ')" = " \0 \0 \0 a b c \n" ]
    [ "$(rc getset s new)" = "hello Redis" ]
    [ "$(rc getset nokey2 v)" = "" ]
    [ "$(rc set s newer get)" = new ]
    [ "$(rc set s x nx get)" = newer ]
    [ "$(rc get s)" = newer ]
    [ "$(rc getdel s)" = newer ]
    [ "$(rc exists s)" = 0 ]
    [ "$(rc getdel s)" = "" ]
    [ "$(rc setnx s a)" = 1 ]
    [ "$(rc setnx s b)" = 0 ]
    [ "$(rc setex e 100 v)" = OK ]
    ttl=$(rc ttl e)
    [ "$ttl" -ge 98 ] && [ "$ttl" -le 100 ]
    [ "$(rc psetex p 1500 v)" = OK ]
    pttl=$(rc pttl p)
    [ "$pttl" -ge 500 ] && [ "$pttl" -le 2000 ] # whole seconds, PX rounded up
    [ "$(rc getex e persist)" = v ]
    [ "$(rc ttl e)" = -1 ]
    [ "$(rc getex e ex 50)" = v ]
    ttl=$(rc ttl e)
    [ "$ttl" -ge 48 ] && [ "$ttl" -le 50 ]
    [ "$(rc getex e exat $(($(date +%s) + 30)))" = v ]
    ttl=$(rc ttl e)
    [ "$ttl" -ge 28 ] && [ "$ttl" -le 30 ]
    [ "$(rc getex e pxat 1000)" = v ] # in the past: the key goes
    [ "$(rc exists e)" = 0 ]
    [ "$(rc msetnx m a)" = 1 ]
    [ "$(rc msetnx m b)" = 0 ]
    # the values are juno records: the native face reads them
    [ "$(juno -s "127.0.0.1:$PX" get n)" = -9 ]
    [ "$(juno -s "127.0.0.1:$PX" get f)" = -4989.39999999999999991 ]
    echo -n 99 | juno -s "127.0.0.1:$PX" put n
    [ "$(rc incr n)" = 100 ]
    rc command docs incr | grep -q "Increments the integer value of a key by one"
    [ "$(rc command info getdel | head -3 | tr '\n' ,)" = "getdel,2,write," ]
}

@test "redis-cli: Redis's errors for arity, non-integers, overflow, floats, offsets, sizes, options" {
    start_all
    rc set big 9223372036854775807 >/dev/null
    rc set str abc >/dev/null
    [ "$(rc incr)" = "ERR wrong number of arguments for 'incr' command" ]
    [ "$(rc incrby k)" = "ERR wrong number of arguments for 'incrby' command" ]
    [ "$(rc getrange k 0)" = "ERR wrong number of arguments for 'getrange' command" ]
    [ "$(rc incr str)" = "ERR value is not an integer or out of range" ]
    [ "$(rc incrby k 1.5)" = "ERR value is not an integer or out of range" ]
    [ "$(rc incrby k 99999999999999999999)" = "ERR value is not an integer or out of range" ]
    [ "$(rc incr big)" = "ERR increment or decrement would overflow" ]
    [ "$(rc decrby k -9223372036854775808)" = "ERR decrement would overflow" ]
    [ "$(rc incrbyfloat str 1)" = "ERR value is not a valid float" ]
    [ "$(rc incrbyfloat k x)" = "ERR value is not a valid float" ]
    [ "$(rc incrbyfloat k inf)" = "ERR increment would produce NaN or Infinity" ]
    [ "$(rc setrange str -1 x)" = "ERR offset is out of range" ]
    [[ "$(rc setrange str 536870911 x)" == "ERR string exceeds maximum allowed size"* ]]
    [[ "$(rc setrange str 9223372036854775807 x)" == "ERR string exceeds maximum allowed size"* ]]
    [ "$(rc getex str ex 0)" = "ERR invalid expire time in 'getex' command" ]
    [ "$(rc getex str ex 10 persist)" = "ERR syntax error" ]
    [ "$(rc setex k 0 v)" = "ERR invalid expire time in 'setex' command" ]
    [ "$(rc psetex k -5 v)" = "ERR invalid expire time in 'psetex' command" ]
    [ "$(rc set k v ex 10 keepttl)" = "ERR syntax error" ]
    [[ "$(rc msetnx a 1 b 2)" == "ERR juno-proxy: MSETNX of more than one key is not supported"* ]]
    [ "$(rc exists a b k)" = 0 ] # none of the refused commands wrote
    [ "$(rc get str)" = abc ]
    [ "$(rc get big)" = 9223372036854775807 ]
    # a juno status: two of three stores stopped, no quorum for the read
    kill -STOP "$(cat "$TMP/pid-b")" "$(cat "$TMP/pid-c")"
    run rc incr k
    kill -CONT "$(cat "$TMP/pid-b")" "$(cat "$TMP/pid-c")"
    [[ "$output" == "TRYAGAIN juno: NoStorageServer"* || "$output" == "BUSY juno: Busy"* ]]
    [ "$(rc incr k)" = 1 ]
}

@test "redis-cli: the same replies as redis-server 7 for the same commands" {
    start_all
    start_redis
    local n=0 line want got
    while read -r line; do
        [ -n "$line" ] || continue
        read -ra words <<<"$line"
        want=$(redis-cli -p "$PRS" "${words[@]}" 2>&1 | od -An -c) # NUL bytes too
        got=$(redis-cli -p "$PR" "${words[@]}" 2>&1 | od -An -c)
        if [ "$got" != "$want" ]; then
            echo "$line: juno '$got', redis '$want'" >&2
            return 1
        fi
        n=$((n + 1))
    done <<'EOF'
set l1 ohmytext
set l2 mynewtext
lcs l1 l2
lcs l1 l2 len
lcs l1 l2 idx
lcs l1 l2 idx withmatchlen
lcs l1 l2 idx minmatchlen 4 withmatchlen
lcs l1 l2 idx minmatchlen -3
lcs l1 l2 idx len
lcs l1 l2 minmatchlen x
lcs l1 l2 bogus
lcs l1 nokey
lcs nokey nokey idx
lcs l1 l1 idx withmatchlen
set l3 GTTATCTGCCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAAATCTG
set l4 ATTAAAGGTTTATACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAA
lcs l3 l4
lcs l3 l4 idx withmatchlen
lcs l3 l4 idx minmatchlen 5
lcs l4 l3 len
incr c
incr c
incrby c 10
incrby c -100
decr c
decrby c 7
get c
incrby c abc
incrby c 1.0
decrby c -9223372036854775808
set c 9223372036854775806
incr c
incr c
decrby c 9223372036854775807
decrby c 9223372036854775807
get c
set c -9223372036854775808
decr c
set sp " 1"
incr sp
set sp 01
incr sp
set sp -0
incr sp
incrbyfloat fl 3.0e3
incrbyfloat fl 0.0001
incrbyfloat fl -3000.0001
incrbyfloat fl 1.23456789012345678
incrbyfloat fl 1e20
incrbyfloat fl -1e20
incrbyfloat fl 0x10
incrbyfloat fl 1e5000
incrbyfloat fl inf
incrbyfloat sp 1
append ap abc
append ap def
append ap ""
strlen ap
getrange ap 0 0
getrange ap 2 -2
getrange ap -2 -3
getrange ap -100 2
getrange ap 3 1000
getrange ap 0 -100
getrange nokey 0 5
substr ap 1 2
setrange ap 1 XY
get ap
setrange ap 10 Z
strlen ap
setrange ap 0 ""
setrange nokey2 0 ""
exists nokey2
setrange ap -3 x
setrange ap x y
getset ap new
getset ap2 x
set ap newer get
set ap3 v nx get
set ap3 w nx get
set ap3 w xx get
set ap4 w xx get
exists ap4
set ap v ex 10 px 10
set ap v get get
get ap
getdel ap
getdel ap
getex ap3
getex ap3 persist
ttl ap3
getex ap3 ex 0
getex ap3 ex -5
getex ap3 ex x
getex ap3 px 10 ex 10
getex ap3 keepttl
getex ap3 nx
getex ap3 exat 1
exists ap3
getex ap3 ex 10
setnx nx 1
setnx nx 2
get nx
setex se 0 v
setex se x v
psetex se 0 v
setex se 100 v
get se
msetnx ms 1
msetnx ms 1
msetnx ms
incr
getdel
getex
strlen
substr a 1
set bits foobar
bitcount bits
bitcount bits 0 0
bitcount bits 1 1 byte
bitcount bits 5 30 bit
bitcount bits 0 -1 BIT
bitcount bits -1 -2
bitcount bits -5 -1 bit
bitcount bits 1
bitcount bits a b
bitcount bits 0 1 nibble
bitcount bits 1 2 3 4
bitcount nobits a b
bitcount nobits 1
getbit bits 1
getbit bits 1000
getbit nobits 7
getbit bits -1
getbit bits x
setbit bits 7 1
setbit bits 7 1
setbit bits 1 0
get bits
setbit bits 1 2
setbit bits 1 x
setbit bits2 10 1
get bits2
setbit bits3 20 0
get bits3
strlen bits3
bitcount
getbit bits
setbit bits 1
EOF
    [ "$n" -ge 90 ]
    # LCS's table (82 x 82 cells of 4 bytes) over juno's --resp-max-value
    [ "$(redis-cli -p "$PR" config set proto-max-bulk-len 20000)" = OK ]
    [ "$(redis-cli -p "$PR" lcs l3 l4 len)" = \
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len" ]
    [ "$(redis-cli -p "$PR" lcs l1 l2 len)" = 6 ]
}

@test "python3-redis: every counter and string command, its edge cases and errors" {
    start_all
    run /usr/bin/python3 "$RS_PY" "127.0.0.1:$PR" strings
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"# all checks passed"* ]]
    [ "$(grep -c '^ok ' <<<"$output")" -ge 240 ]
}

@test "concurrent INCR on two proxies: 8 connections x 500 INCRs of one key give exactly 4000" {
    start_all
    start_resp_proxy 2 "$PR2" "$PX2"
    run /usr/bin/python3 "$RS_PY" "127.0.0.1:$PR,127.0.0.1:$PR2" incr 8 500 counter
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"8 connections x 500 INCRs over 2 proxies in"*"the final value"* ]]
    # either proxy, and the native face, read the same count
    key=$(sed -n 's/^# key //p' <<<"$output")
    [ "$(redis-cli -p "$PR2" get "$key")" = 4000 ]
    [ "$(juno -s "127.0.0.1:$PX" get "$key")" = 4000 ]
    # redis-benchmark's INCR: 50 clients on one key, no error, exactly n
    run redis-benchmark -p "$PR2" -t incr -n 2000 -c 50 -P 1 -q
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" != *rror* ]]
    [[ "$output" == *"INCR: "*"requests per second"* ]]
    [ "$(rc get counter:__rand_int__)" = 2000 ]
    # a hot key on more workers: 2 x 2 threads, 64 connections
    kill -TERM "$(cat "$TMP/pid-proxy2")"
    start_resp_proxy 3 "$PR2" "$PX2" --threads 2
    run /usr/bin/python3 "$RS_PY" "127.0.0.1:$PR,127.0.0.1:$PR2" incr 64 40 hot
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"the final value"* ]]
}

@test "GETDEL under concurrent INCRs on two proxies: each increment is taken once or left" {
    start_all
    start_resp_proxy 2 "$PR2" "$PX2"
    run /usr/bin/python3 "$RS_PY" "127.0.0.1:$PR,127.0.0.1:$PR2" getdel 8 300 taken
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"GETDEL took"* ]]
}

@test "TTLs: INCR, APPEND, SETRANGE keep the record's; GETSET and SET GET reset it; --default-ttl" {
    start_all --default-ttl 600
    # a new counter gets --default-ttl, as any new juno record does
    [ "$(rc incr n)" = 1 ]
    ttl=$(rc ttl n)
    [ "$ttl" -ge 598 ] && [ "$ttl" -le 600 ]
    [ "$(rc expire n 100)" = 1 ]
    [ "$(rc incr n)" = 2 ]
    [ "$(rc append n 0)" = 2 ]
    [ "$(rc setrange n 0 3)" = 2 ]
    [ "$(rc incrbyfloat n 0.5)" = 30.5 ]
    ttl=$(rc ttl n)
    [ "$ttl" -ge 97 ] && [ "$ttl" -le 100 ]
    [ "$(rc getset n x)" = 30.5 ]
    ttl=$(rc ttl n)
    [ "$ttl" -ge 598 ] && [ "$ttl" -le 600 ] # reset as SET resets: --default-ttl
    [ "$(rc getex n ex 30)" = x ]
    [ "$(rc set n y get keepttl)" = x ]
    ttl=$(rc ttl n)
    [ "$ttl" -ge 28 ] && [ "$ttl" -le 30 ]
    [[ "$(rc getex n persist)" == "ERR juno-proxy runs with --default-ttl 600: every record expires, GETEX PERSIST is not supported" ]]
    [ "$(rc getex n)" = y ]
}

@test "one zone (a single replica, one-phase writes): read-modify-write on two workers" {
    juno-ring init --cluster t --shards 64 --zone "z0=a@$A" >"$MAP"
    start_store a "$A" --memory
    start_resp_proxy 1 "$PR" "$PX" --threads 2
    [ "$(rc incr n)" = 1 ]
    [ "$(rc append s ab)" = 2 ]
    [ "$(rc setrange s 1 c)" = 2 ]
    [ "$(rc getdel s)" = ac ]
    [ "$(rc getex n ex 100)" = 1 ]
    [ "$(rc getex n exat 1)" = 1 ]
    [ "$(rc exists n s)" = 0 ]
    run /usr/bin/python3 "$RS_PY" "127.0.0.1:$PR" incr 8 200 one
    echo "$output" >&2
    [ "$status" -eq 0 ]
    run /usr/bin/python3 "$RS_PY" "127.0.0.1:$PR" getdel 6 200 one
    echo "$output" >&2
    [ "$status" -eq 0 ]
}

@test "INCRs of one key from five connections queue on the worker, run in order, and close" {
    start_all
    # with two stores stopped, the first INCR's read waits; the next four
    # INCRs of the key wait behind it on the worker. The first four clients
    # close their connections at once (what they sent still runs, as after
    # a half-close); the stores come back; the fifth is answered last
    kill -STOP "$(cat "$TMP/pid-b")" "$(cat "$TMP/pid-c")"
    run /usr/bin/python3 - "$PR" "$(cat "$TMP/pid-b")" "$(cat "$TMP/pid-c")" <<'PY'
import os, signal, socket, sys, time
port = int(sys.argv[1])
conns = []
for i in range(5):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    s.sendall(b"*2\r\n$4\r\nINCR\r\n$3\r\nhot\r\n")
    conns.append(s)
    time.sleep(0.05)
for s in conns[:4]:
    s.close()
for pid in sys.argv[2:]:
    os.kill(int(pid), signal.SIGCONT)
print("fifth:", conns[4].recv(100))
PY
    kill -CONT "$(cat "$TMP/pid-b")" "$(cat "$TMP/pid-c")"
    echo "$output" >&2
    [[ "$output" =~ "fifth: b':"([1-5]) ]]
    n=${BASH_REMATCH[1]}
    [ "$(rc get hot)" = "$n" ] # the fifth ran last
    [ "$(rc incr hot)" = $((n + 1)) ]
    kill -0 "$(cat "$TMP/pid-proxy1")"
}

@test "SIGTERM while INCRs of a hot key run and queue: the proxy drains and exits 0" {
    start_all
    /usr/bin/python3 "$RS_PY" "127.0.0.1:$PR" incr 32 1000 drain >"$TMP/incr.out" 2>&1 &
    echo $! >>"$TMP/pids"
    sleep 1
    kill -TERM "$(cat "$TMP/pid-proxy1")"
    st=0
    wait "$(cat "$TMP/pid-proxy1")" || st=$?
    echo "status $st" >&2
    [ "$st" -eq 0 ]
    grep -q 'drained, exiting' "$TMP/proxy1.log"
}
