#!/usr/bin/env bats
# juno-resp-multi.bats: MULTI, EXEC, DISCARD, WATCH and UNWATCH on the RESP
# face (src/juno-proxy/resp_multi.c, resp_watch.c): a transaction of one
# command runs and answers as Redis does; one of more commands is refused
# whole, nothing of it written; the errors Redis gives for misuse, side by
# side with a real redis-server 7; redis-py's transactional pipeline. WATCH:
# an EXEC of one command on the one watched key runs on the watched version
# or answers *-1 (test/resp_watch_client.py: each rule on raw sockets, the
# same bytes as redis-server 7 for single-key scripts, redis-py's optimistic
# increments from many connections on two proxies). Three stores in memory on
# free loopback ports; teardown stops every process by PID.

load lib
load resp_helpers # resp_setup, resp_teardown, start_stores, start_resp_proxy

RW_PY="$BATS_TEST_DIRNAME/resp_watch_client.py"

setup() {
    resp_setup resp-multi
}

teardown() {
    resp_teardown
}

start_all() {
    start_stores || return 1
    start_resp_proxy 1 "$PR" "$PX" "$@"
}

# tx PORT: the replies redis-cli prints for the commands on stdin (one a line)
tx() { redis-cli -p "$1"; }

@test "a transaction of one command runs; of none is empty; of two is refused whole and writes nothing" {
    start_all
    run tx "$PR" <<<$'MULTI\nSET k v\nEXEC\nGET k'
    [ "$output" = $'OK\nQUEUED\nOK\nv' ]
    run tx "$PR" <<<$'MULTI\nINCR n\nEXEC\nMULTI\nEXEC\nPING'
    [ "$output" = $'OK\nQUEUED\n1\nOK\n\nPONG' ] # EXEC of nothing: an empty array
    run tx "$PR" <<<$'MULTI\nSET a 1\nINCR n\nEXEC\nGET a\nGET n'
    local refused="ERR juno: a transaction of 2 commands cannot be atomic across juno's replicas: not run (only a transaction of one command is; each command is atomic on its own)"
    # a is not written (nil: an empty line, after the one redis-cli prints
    # after an error), nor n incremented again
    [ "$output" = "OK"$'\n'"QUEUED"$'\n'"QUEUED"$'\n'"$refused"$'\n\n\n'"1" ]
    # DISCARD drops the queue
    run tx "$PR" <<<$'MULTI\nSET d 1\nDISCARD\nGET d\nPING'
    [ "$output" = $'OK\nQUEUED\nOK\n\nPONG' ]
    # the connection is usable after each
    [ "$(redis-cli -p "$PR" ping)" = PONG ]
}

@test "misuse gets Redis's errors, as redis-server 7 answers them" {
    start_all
    start_redis
    local script=$'EXEC\nDISCARD\nMULTI\nMULTI\nEXEC\nMULTI\nNOPE x\nGET k\nEXEC\nMULTI\nSET k\nEXEC\nMULTI\nWATCH k\nDISCARD\nUNWATCH\nMULTI\nPING\nEXEC'
    want=$(tx "$PRS" <<<"$script")
    got=$(tx "$PR" <<<"$script")
    diff <(echo "$want") <(echo "$got")
}

@test "redis-py: a one-command transactional pipeline works, a longer one raises and writes nothing; WATCH then EXEC of the key runs" {
    start_all
    run /usr/bin/python3 - "$PR" <<'PY'
import redis, sys
r = redis.Redis(port=int(sys.argv[1]))
p = r.pipeline(transaction=True)
p.set("pk", "pv")
print(p.execute())
p = r.pipeline(transaction=True)
p.set("pa", "1").incr("pb")
try:
    p.execute()
    print("ran")
except redis.ResponseError as e:
    print("refused", "atomic" in str(e))
print(r.get("pk"), r.get("pa"), r.get("pb"))
try:
    with r.pipeline() as p:
        p.watch("pk")
        p.multi()
        p.set("pk", "pw")
        print(p.execute())
except redis.ResponseError as e:
    print("watch refused")
print(r.get("pk"))
PY
    echo "$output"
    [ "$output" = $'[True]\nrefused True\nb\'pv\' None None\n[True]\nb\'pw\'' ]
}

@test "in a MULTI, a command the ACL refuses is answered NOPERM at once and EXEC aborts" {
    H=$(echo app-secret | juno-proxy --hash-password)
    printf 'user app password=%s ns=app:r default-ns=app\n' "$H" >"$TMP/acl"
    start_all --acl "$TMP/acl"
    run redis-cli -p "$PR" --user app --pass app-secret --no-auth-warning <<<$'MULTI\nSET k v\nEXEC\nMULTI\nGET k\nEXEC'
    [ "${lines[0]}" = OK ]
    [[ "${lines[1]}" == NOPERM* ]]
    [ "${lines[2]}" = "EXECABORT Transaction discarded because of previous errors." ]
    [ "${lines[3]}" = OK ]
    [ "${lines[4]}" = QUEUED ]
}

@test "WATCH: EXEC runs on the watched version, answers *-1 after another connection or proxy changed, deleted or created the key; the refusals run nothing" {
    start_all
    start_resp_proxy 2 "$PR2" "$PX2"
    run /usr/bin/python3 "$RW_PY" "127.0.0.1:$PR,127.0.0.1:$PR2" rules
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"# all checks passed"* ]]
    [ "$(grep -c '^ok ' <<<"$output")" -ge 100 ]
    # redis-cli: the classic pattern, the null array printed as nothing
    redis-cli -p "$PR" set w 1 >/dev/null
    run redis-cli -p "$PR" <<<$'WATCH w\nGET w\nMULTI\nSET w 2\nEXEC\nGET w'
    [ "$output" = $'OK\n1\nOK\nQUEUED\nOK\n2' ]
    # both proxies survive, nothing went to their error logs
    [ "$(redis-cli -p "$PR" ping)$(redis-cli -p "$PR2" ping)" = PONGPONG ]
    ! grep -q ' error ' "$TMP"/proxy*.log
}

@test "WATCH: a key deleted or expired, then written back up to the watched count, aborts EXEC: its versions never repeat" {
    start_all
    # w: version 2; deleted; written twice again. Were a key created again
    # to start over at version 1, EXEC would find version 2 and run.
    redis-cli -p "$PR" set w a >/dev/null
    redis-cli -p "$PR" set w b >/dev/null
    run tx "$PR" <<<$'WATCH w\nDEL w\nSET w c\nSET w d\nMULTI\nSET w e\nEXEC\nGET w'
    [ "$output" = $'OK\n1\nOK\nOK\nOK\nQUEUED\n\nd' ]
    # x: version 1, expires while watched, is written once again
    redis-cli -p "$PR" set x a px 300 >/dev/null
    run tx "$PR" < <(echo WATCH x; sleep 0.6; printf 'SET x b\nMULTI\nSET x c\nEXEC\nGET x\n')
    [ "$output" = $'OK\nOK\nOK\nQUEUED\n\nb' ]
}

@test "WATCH: redis-cli scripts of one key answer the same bytes as redis-server 7" {
    start_all
    start_redis
    run /usr/bin/python3 "$RW_PY" "127.0.0.1:$PR" "127.0.0.1:$PRS" same
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"commands answered as redis-server does"* ]]
    [[ "$output" == *"# all checks passed"* ]]
}

@test "WATCH: redis-py optimistic increments from 16 connections on two proxies, racing plain INCRs: the count is exactly the EXECs that ran plus the INCRs" {
    start_all
    start_resp_proxy 2 "$PR2" "$PX2"
    run /usr/bin/python3 "$RW_PY" "127.0.0.1:$PR,127.0.0.1:$PR2" cas 16 100 counter
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"EXECs ran"*"got *-1"* ]]
    [[ "$output" == *"# all checks passed"* ]]
    # the native face reads the same count
    key=$(sed -n 's/^# key //p' <<<"$output")
    [ "$(juno -s "127.0.0.1:$PX" get "$key")" = "$(redis-cli -p "$PR2" get "$key")" ]
}

@test "WATCH under --acl needs read permission of the namespace" {
    H=$(echo s | juno-proxy --hash-password)
    printf 'user reader password=%s ns=app:r default-ns=app\nuser other password=%s ns=else:rw\n' "$H" "$H" >"$TMP/acl"
    start_all --acl "$TMP/acl"
    run redis-cli -p "$PR" --user reader --pass s --no-auth-warning <<<$'WATCH k\nMULTI\nEXISTS k\nEXEC'
    [ "$output" = $'OK\nOK\nQUEUED\n0' ]
    run redis-cli -p "$PR" --user other --pass s --no-auth-warning watch k
    [[ "$output" == NOPERM* ]]
    run redis-cli -p "$PR" watch k
    [[ "$output" == NOAUTH* ]]
}

@test "WATCH under RESP3: an EXEC the watched key's change aborted is RESP3's null, as redis-server 7 sends it" {
    start_all
    start_redis
    for port in "$PR" "$PRS"; do
        run /usr/bin/python3 - "$port" <<'PY'
import socket, sys

def conn():
    return socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)

def cmd(s, *args):
    s.sendall(b"*%d\r\n" % len(args) +
              b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args)))
    got = b""
    while not got.endswith(b"\r\n"):
        got += s.recv(65536)
    return got

a, b = conn(), conn()
a.sendall(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n")
got = b""
while not got.endswith(b"+PONG\r\n"):  # HELLO's map, then PING's reply
    got += a.recv(65536)
cmd(a, "WATCH", "w3")
cmd(b, "SET", "w3", "other")
cmd(a, "MULTI")
cmd(a, "SET", "w3", "mine")
print(repr(cmd(a, "EXEC")), repr(cmd(a, "GET", "w3")))
PY
        echo "$port: $output"
        [ "$output" = "b'_\\r\\n' b'\$5\\r\\nother\\r\\n'" ]
    done
}
