#!/usr/bin/env bats
# juno-resp.bats: juno-proxy's Redis protocol face (--resp) with the real Redis
# clients from Debian: redis-cli (one-shot and interactive, in tmux),
# redis-benchmark and python3-redis (test/resp_client.py, run with
# /usr/bin/python3). Three zones of one juno-store each, in memory, and one
# juno-proxy serving both protocols, on free loopback ports in a temp dir;
# teardown stops every process started (by PID), even when a test failed.

load lib
load resp_helpers # resp_setup, resp_teardown, start_stores

RC_PY="$BATS_TEST_DIRNAME/resp_client.py"

setup() {
    resp_setup resp
    PLOG=$TMP/proxy.log
}

teardown() {
    tmux -L "juno-resp-$$" kill-server 2>/dev/null || true
    resp_teardown
}

# start_all [juno-proxy options]: the three stores, then the proxy serving the
# native protocol on $PROXY and RESP on $RESP (PID in $PPID_), ready once
# redis-cli gets PONG.
start_all() {
    start_stores || return 1
    juno-proxy --listen "$PROXY" --resp "$RESP" --map "$MAP" "$@" 2>>"$PLOG" &
    PPID_=$!
    echo "$PPID_" >>"$TMP/pids"
    wait_started juno-proxy "$PLOG" "$PPID_" pong || return 1
    sleep 0.1 # the first connections to the stores
}

rc() { redis-cli -h 127.0.0.1 -p "$PR" "$@"; }
pong() { [ "$(rc ping 2>/dev/null)" = PONG ]; }

@test "--resp and --resp-namespace: help, bad values exit 64, --check-config shows them" {
    run juno-proxy --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--resp HOST:PORT"* ]]
    [[ "$output" == *"--resp-namespace NS"* ]]
    run juno-proxy --map "$MAP" --resp nowhere
    [ "$status" -eq 64 ]
    [[ "$output" == *"juno-proxy: error: invalid --resp 'nowhere': expected HOST:PORT"* ]]
    run juno-proxy --map "$MAP" --resp "$RESP" --resp-namespace ""
    [ "$status" -eq 64 ]
    run juno-proxy --map "$MAP" --resp "$RESP" --resp-namespace "$(printf 'n%.0s' $(seq 65))"
    [ "$status" -eq 64 ]
    [[ "$output" == *"invalid --resp-namespace"* ]]
    run juno-proxy --map "$MAP" --listen "$PROXY" --resp "$RESP" --check-config
    [ "$status" -eq 0 ]
    [[ "$output" == *"; resp $RESP namespace default" ]]
    run juno-proxy --map "$MAP" --listen "$PROXY" --resp "$RESP" --resp-namespace app --check-config
    [[ "$output" == *"; resp $RESP namespace app" ]]
}

@test "redis-cli one-shot: every command and its output" {
    start_all
    [ "$(rc ping)" = PONG ]
    [ "$(rc ping hello)" = hello ]
    [ "$(rc echo 'a b')" = "a b" ]
    [ "$(rc set k1 v1)" = OK ]
    [ "$(rc get k1)" = v1 ]
    [ "$(rc GET k1)" = v1 ]
    [ "$(rc get nokey)" = "" ]
    [ "$(rc set k1 other nx)" = "" ]
    [ "$(rc set k2 v2 nx)" = OK ]
    [ "$(rc set k3 v3 xx)" = "" ]
    [ "$(rc set k2 w2 xx)" = OK ]
    [ "$(rc get k2)" = w2 ]
    [ "$(rc set t1 v ex 100)" = OK ]
    ttl=$(rc ttl t1)
    [ "$ttl" -ge 98 ] && [ "$ttl" -le 100 ]
    pttl=$(rc pttl t1)
    [ "$pttl" -ge 97000 ] && [ "$pttl" -le 100000 ]
    [ "$(rc set t1 w keepttl)" = OK ]
    [ "$(rc ttl t1)" -ge 95 ]
    [ "$(rc expire t1 30)" = 1 ]
    ttl=$(rc ttl t1)
    [ "$ttl" -ge 28 ] && [ "$ttl" -le 30 ]
    [ "$(rc get t1)" = w ]
    [ "$(rc persist t1)" = 1 ]
    [ "$(rc ttl t1)" = -1 ]
    [ "$(rc ttl nokey)" = -2 ]
    [ "$(rc expire nokey 10)" = 0 ]
    [ "$(rc set t2 v px 2500)" = OK ]
    [ "$(rc ttl t2)" -le 3 ]
    [ "$(rc mset m1 a m2 b m3 c)" = OK ]
    [ "$(rc mget m1 nokey m3 | tr '\n' ,)" = "a,,c," ]
    [ "$(rc exists m1 m2 nokey m1)" = 3 ]
    [ "$(rc del m1 m2 nokey)" = 2 ]
    [ "$(rc del m1)" = 0 ]
    [ "$(rc exists m1 m2 m3)" = 1 ]
    [ "$(rc select 0)" = OK ]
    [ "$(rc client setname me)" = OK ]
    [ "$(rc config get save | tr '\n' ,)" = "save,," ]
    [ "$(rc config get appendonly | tr '\n' ,)" = "appendonly,no," ]
    [ "$(rc command count)" -ge 15 ]
    rc command docs get | grep -q "Returns the string value of a key."
    rc hello 2 | grep -qx juno
    rc info | grep -q "^redis_version:7.0.0"
    rc info server | grep -q "^juno_namespace:default"
    rc info stats | grep -q "^total_commands_processed:"
    rc info keyspace | tr -d '\r' | grep -Eq '^db0:keys=[1-9][0-9]*,expires=[0-9]+,avg_ttl=0$'
    [ "$(rc quit)" = OK ]
}

@test "redis-cli one-shot: error texts as Redis words them, juno's statuses named" {
    start_all
    [ "$(rc foo bar baz)" = "ERR unknown command 'foo', with args beginning with: 'bar' 'baz' " ]
    [ "$(rc get)" = "ERR wrong number of arguments for 'get' command" ]
    [ "$(rc set a)" = "ERR wrong number of arguments for 'set' command" ]
    [ "$(rc mset a 1 b)" = "ERR wrong number of arguments for 'mset' command" ]
    [ "$(rc set a v nx xx)" = "ERR syntax error" ]
    [ "$(rc set a v ex zero)" = "ERR value is not an integer or out of range" ]
    [ "$(rc set a v ex -1)" = "ERR invalid expire time in 'set' command" ]
    [ "$(rc set a v ex 9223372036854776)" = "ERR invalid expire time in 'set' command" ]
    [ "$(rc expire a 10 nx xx)" = "ERR NX and XX, GT or LT options at the same time are not compatible" ]
    [ "$(rc select 16)" = "ERR DB index is out of range" ]
    [ "$(rc hello 4)" = "NOPROTO unsupported protocol version" ]
    [ "$(rc set a v exat 9999999999 keepttl)" = "ERR syntax error" ]
    [ "$(rc set a v ifeq x)" = "ERR syntax error" ]
    [ "$(rc config set save x)" = "ERR CONFIG SET failed (possibly related to argument 'save') - can't set immutable config" ]
    [ "$(rc client kill x)" = "ERR unknown subcommand 'kill'. Try CLIENT HELP." ]
    [ "$(rc get "$(printf 'k%.0s' $(seq 257))")" = "ERR juno: key length must be at most 256 bytes (--max-key)" ]
    [ "$(rc get k)" = "" ] # the connection's errors changed nothing
    # a juno status: two of three stores down, no quorum
    kill -STOP "$(cat "$TMP/pid-b")" "$(cat "$TMP/pid-c")"
    run rc set k v
    kill -CONT "$(cat "$TMP/pid-b")" "$(cat "$TMP/pid-c")"
    [[ "$output" == "TRYAGAIN juno: NoStorageServer: too few stores answered for a quorum" ||
        "$output" == "BUSY juno: Busy: no answer within the proxy's --deadline"* ]]
}

@test "the two faces share the data: RESP writes read back through the native port, and back" {
    start_all
    [ "$(rc set shared v1)" = OK ]
    run juno -s "$PROXY" get shared
    [ "$status" -eq 0 ]
    [ "$output" = v1 ]
    echo -n v2 | juno -s "$PROXY" put shared
    [ "$(rc get shared)" = v2 ]
    [ "$(rc del shared)" = 1 ]
    run juno -s "$PROXY" get shared
    [ "$status" -eq 1 ]
    # another namespace: invisible to the default one
    kill -TERM "$PPID_"
    wait "$PPID_" || true
    start_all_again() {
        juno-proxy --listen "$PROXY" --resp "$RESP" --map "$MAP" --resp-namespace app 2>>"$PLOG" &
        PPID_=$!
        echo "$PPID_" >>"$TMP/pids"
        for i in $(seq 200); do [ "$(rc ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done
        return 1
    }
    start_all_again
    sleep 0.1
    [ "$(rc set only-app x)" = OK ]
    [ "$(juno -s "$PROXY" -n app get only-app)" = x ]
    run juno -s "$PROXY" get only-app
    [ "$status" -eq 1 ]
    [ "$(rc config get juno-namespace | tail -1)" = app ]
}

@test "TTLs under --default-ttl: SET without EX gets it, PERSIST is refused and says why" {
    start_all --default-ttl 600
    [ "$(rc set k v)" = OK ]
    ttl=$(rc ttl k)
    [ "$ttl" -ge 598 ] && [ "$ttl" -le 600 ]
    [ "$(rc persist k)" = "ERR juno-proxy runs with --default-ttl 600: every record expires, PERSIST is not supported" ]
    [ "$(rc expire k 30)" = 1 ]
    [ "$(rc ttl k)" -le 30 ]
}

@test "one zone (a single replica per key): SET drops a TTL, KEEPTTL keeps it, EXPIRE and PERSIST" {
    juno-ring init --cluster t --shards 64 --zone "z0=a@$A" >"$MAP"
    start_store a "$A" --memory
    juno-proxy --listen "$PROXY" --resp "$RESP" --map "$MAP" 2>>"$PLOG" &
    PPID_=$!
    echo "$PPID_" >>"$TMP/pids"
    for i in $(seq 200); do [ "$(rc ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
    [ "$(rc set k v ex 100)" = OK ]
    [ "$(rc ttl k)" -ge 98 ]
    [ "$(rc set k w keepttl)" = OK ]
    [ "$(rc ttl k)" -ge 95 ]
    [ "$(rc set k x)" = OK ]
    [ "$(rc ttl k)" = -1 ]
    [ "$(rc get k)" = x ]
    [ "$(rc expire k 40)" = 1 ]
    ttl=$(rc ttl k)
    [ "$ttl" -ge 38 ] && [ "$ttl" -le 40 ]
    [ "$(rc persist k)" = 1 ]
    [ "$(rc ttl k)" = -1 ]
    [ "$(rc set k y nx)" = "" ]
    [ "$(rc set k2 y xx)" = "" ]
    [ "$(rc del k k2)" = 1 ]
    [ "$(rc get k)" = "" ]
}

@test "python3-redis: every supported command, its result and its errors" {
    start_all --resp-max-value 204800
    run /usr/bin/python3 "$RC_PY" "$RESP" commands
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"# all checks passed"* ]]
    [ "$(grep -c '^ok ' <<<"$output")" -ge 90 ]
}

@test "pipelining: 1,000 mixed commands in one write are answered strictly in order" {
    start_all
    run /usr/bin/python3 "$RC_PY" "$RESP" pipeline
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"ok - 1,000 pipelined replies in order"* ]]
}

# gather_check resp|native PORT STORE-PID RESUME-MS: with the store holding kb
# stopped (SIGSTOP), GETs of ka and kb in one write (RESP, or the JunoDB
# protocol); prints when the first bytes came (ms after the write) and the
# replies each read brought, resuming the store RESUME-MS after the write.
gather_check() {
    /usr/bin/python3 - "$BATS_TEST_DIRNAME" "$@" <<'PY'
import os, select, signal, socket, struct, sys, time
sys.path.insert(0, sys.argv[1])
from proxy_client import encode, OPS
native = sys.argv[2] == "native"
port, pid, resume = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) / 1000
if native:
    req = encode(OPS["get"], 1, b"ns", b"ka") + encode(OPS["get"], 2, b"ns", b"kb")
else:
    req = b"GET ka\r\nGET kb\r\n"
def replies(data): # whole replies in data
    if not native:
        return data.count(b"$1\r\n")
    n, off = 0, 0
    while off + 8 <= len(data):
        off += struct.unpack(">I", data[off + 4:off + 8])[0]
        n += 1
    return n
s = socket.create_connection(("127.0.0.1", port))
os.kill(pid, signal.SIGSTOP)
try:
    t0 = time.monotonic()
    s.sendall(req)
    resumed, got = False, 0
    while got < 2:
        left = resume - (time.monotonic() - t0)
        if not resumed and left <= 0:
            os.kill(pid, signal.SIGCONT)
            resumed = True
        r, _, _ = select.select([s], [], [], max(left, 0) if not resumed else 10)
        if r:
            if got == 0:
                print("first after %d ms" % ((time.monotonic() - t0) * 1000))
            n = replies(s.recv(65536))
            got += n
            print("read %d replies%s" % (n, "" if resumed else " (store stopped)"))
finally:
    os.kill(pid, signal.SIGCONT)
PY
}

@test "--gather: a pipelined batch's first replies wait for the rest, for at most that long" {
    # one zone: ka lives on store a alone, kb on store c alone
    juno-ring init --cluster t --shards 64 --zone "z0=a@$A,b@$B,c@$C" >"$MAP"
    [[ "$(juno-ring lookup "$MAP" ka)" == *" a $A"* ]]
    [[ "$(juno-ring lookup "$MAP" kb)" == *" c $C"* ]]
    local m1 m2
    read -r m1 m2 < <(free_ports 2)
    start_all --request-timeout 10000 --gather 1000 --metrics "127.0.0.1:$m1"
    start_resp_proxy 2 "$PR2" "$PX2" --request-timeout 10000 --gather 200 --metrics "127.0.0.1:$m2"
    [ "$(rc set ka a)" = OK ] && [ "$(rc set kb b)" = OK ]
    local mode ms
    # 1000 ms: nothing while store c is stopped (400 ms), then both in one read
    for mode in "resp $PR" "native $PX"; do
        # shellcheck disable=SC2086 # the face and its port
        run gather_check $mode "$(cat "$TMP/pid-c")" 400
        echo "$output" >&2
        [ "$status" -eq 0 ]
        [ "${lines[1]}" = "read 2 replies" ]
    done
    # 200 ms: ka's reply goes alone after 200 ms, kb's once the store is back
    for mode in "resp $PR2" "native $PX2"; do
        # shellcheck disable=SC2086 # the face and its port
        run gather_check $mode "$(cat "$TMP/pid-c")" 1500
        echo "$output" >&2
        [ "$status" -eq 0 ]
        ms=${lines[0]#first after }
        ms=${ms% ms}
        [ "$ms" -ge 190 ] && [ "$ms" -lt 1400 ]
        [ "${lines[1]}" = "read 1 replies (store stopped)" ]
        [ "${lines[2]}" = "read 1 replies" ]
    done
    # the times the 200 ms ran out, and none of 1000 ms
    curl -fsS "http://127.0.0.1:$m1/metrics" | grep -qx 'juno_proxy_gather_timeouts_total 0'
    curl -fsS "http://127.0.0.1:$m2/metrics" | grep -qx 'juno_proxy_gather_timeouts_total 2'
    run juno-proxy --map "$MAP" --resp "$RESP" --gather 1001
    [ "$status" -eq 64 ]
    [[ "$output" == *"--gather"* ]]
}

@test "garbage and oversized input: Protocol error, connection closed; the daemon serves on" {
    start_all
    run /usr/bin/python3 "$RC_PY" "$RESP" garbage
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"# all checks passed"* ]]
    kill -0 "$PPID_"
    [ "$(rc ping)" = PONG ]
    [ "$(rc set after-garbage ok)" = OK ]
    grep -q 'RESP protocol error, closing connection' "$PLOG"
}

@test "--idle-timeout closes an idle RESP connection; a busy one stays" {
    start_all --idle-timeout 1
    run python3 -c '
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
idle = socket.create_connection((host, int(port)), timeout=10)
busy = socket.create_connection((host, int(port)), timeout=10)
for _ in range(6):
    busy.sendall(b"PING\r\n")
    assert busy.recv(100) == b"+PONG\r\n"
    time.sleep(0.5)
print("idle:", idle.recv(100))
busy.sendall(b"PING\r\n")
print("busy:", busy.recv(100))' "$RESP"
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"idle: b''"* ]]
    [[ "$output" == *"busy: b'+PONG\r\n'"* ]]
}

@test "redis-benchmark SET/GET at -P 16 and -P 1: no errors, the keys read back through the native port" {
    start_all
    for p in 16 1; do
        run redis-benchmark -h 127.0.0.1 -p "$PR" -t set,get -n 2000 -r 50 -P "$p" -q
        echo "$output" >&2
        [ "$status" -eq 0 ]
        [[ "$output" != *rror* ]]
        [[ "$output" == *"SET: "*"requests per second"* ]]
        [[ "$output" == *"GET: "*"requests per second"* ]]
    done
    # redis-benchmark's keys are key:<12 digits>, its values 3 random letters
    for i in 0 7 49; do
        key=$(printf 'key:%012d' "$i")
        v=$(juno -s "$PROXY" get "$key")
        [ "${#v}" -eq 3 ]
        [ "$(rc get "$key")" = "$v" ]
    done
    # no -r: 50 clients write one key at once; RESP writes of a key queue, no error
    run redis-benchmark -h 127.0.0.1 -p "$PR" -t set -n 2000 -P 16 -q
    echo "$output" >&2
    [[ "$output" != *rror* ]]
    [[ "$output" == *"SET: "*"requests per second"* ]]
    v=$(juno -s "$PROXY" get 'key:__rand_int__')
    [ "${#v}" -eq 3 ]
    ! grep -q 'WARNING' <<<"$output"
}

@test "--threads 3: a RESP listener per worker; writes of one key from every worker, no error" {
    start_all --threads 3
    # without -r every client writes one key: across workers the writes meet
    # RecordLocked at the stores and are retried
    run redis-benchmark -h 127.0.0.1 -p "$PR" -t set,get -n 20000 -c 30 -q
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" != *rror* ]]
    [[ "$output" == *"GET: "*"requests per second"* ]]
    [ "$(ss -Hltn "sport = :$PR" | wc -l)" -eq 3 ]
}

@test "redis-cli interactive (tmux): prompt, commands, help from COMMAND DOCS, errors" {
    command -v tmux >/dev/null || skip "tmux not installed"
    start_all
    local T="tmux -L juno-resp-$$"
    $T new-session -d -s resp -x 200 -y 50 "redis-cli -h 127.0.0.1 -p $PR"
    screen() { $T capture-pane -p -t resp; }
    for i in $(seq 100); do screen | grep -q "127.0.0.1:$PR>" && break; sleep 0.05; done
    # type a line once the prompt is back, as a person would
    type_line() {
        local n i
        n=$(screen | grep -c "^127.0.0.1:$PR>")
        $T send-keys -t resp "$1" Enter
        for i in $(seq 200); do
            [ "$(screen | grep -c "^127.0.0.1:$PR>")" -gt "$n" ] && return 0
            sleep 0.05
        done
    }
    type_line 'set ik "hello world"'
    type_line 'get ik'
    type_line 'help get'
    type_line 'nosuch 1'
    type_line 'mget ik nokey'
    screen >&2
    screen | grep -q '^OK$'
    screen | grep -q '^"hello world"$'
    screen | grep -q 'summary: Returns the string value of a key.'
    screen | grep -q "(error) ERR unknown command 'nosuch', with args beginning with: '1'"
    screen | grep -q '^1) "hello world"$'
    $T send-keys -t resp 'quit' Enter
    for i in $(seq 100); do $T has-session -t resp 2>/dev/null || break; sleep 0.05; done
    ! $T has-session -t resp 2>/dev/null
}

@test "SIGTERM under RESP load: the proxy drains and exits 0" {
    start_all
    redis-benchmark -h 127.0.0.1 -p "$PR" -t set -n 200000 -r 1000 -P 16 -c 10 -q >"$TMP/bench.out" 2>&1 &
    echo $! >>"$TMP/pids"
    sleep 0.5
    kill -TERM "$PPID_"
    st=0
    wait "$PPID_" || st=$?
    echo "status $st" >&2
    [ "$st" -eq 0 ]
    grep -q 'drained, exiting' "$PLOG"
}
