#!/usr/bin/env bats
# juno-resp-multi.bats: MULTI, EXEC, DISCARD, WATCH and UNWATCH on the RESP
# face (src/juno-proxy/resp_multi.c): a transaction of one command runs and
# answers as Redis does; one of more commands is refused whole, nothing of it
# written; the errors Redis gives for misuse, side by side with a real
# redis-server 7; redis-py's transactional pipeline. Three stores in memory on
# free loopback ports; teardown stops every process by PID.

load lib
load resp_helpers # resp_setup, resp_teardown, start_stores, start_resp_proxy

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
    command -v redis-server >/dev/null || skip "redis-server not installed"
    start_all
    redis-server --port "$PRS" --bind 127.0.0.1 --save '' --appendonly no >"$TMP/redis.log" 2>&1 &
    echo $! >>"$TMP/pids"
    wait_started redis-server "$TMP/redis.log" $! redis-cli -p "$PRS" ping
    local script=$'EXEC\nDISCARD\nMULTI\nMULTI\nEXEC\nMULTI\nNOPE x\nGET k\nEXEC\nMULTI\nSET k\nEXEC\nMULTI\nWATCH k\nDISCARD\nUNWATCH\nMULTI\nPING\nEXEC'
    want=$(tx "$PRS" <<<"$script")
    got=$(tx "$PR" <<<"$script")
    diff <(echo "$want") <(echo "$got")
}

@test "WATCH is refused with a clear error; redis-py: a one-command transactional pipeline works, a longer one raises and writes nothing" {
    start_all
    run redis-cli -p "$PR" watch k
    [ "$output" = "ERR juno: WATCH is not supported: juno has no check-and-set across replicas for a transaction" ]
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
    print("watched")
except redis.ResponseError as e:
    print("watch refused")
PY
    echo "$output"
    [ "$output" = $'[True]\nrefused True\nb\'pv\' None None\nwatch refused' ]
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
