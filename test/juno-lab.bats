#!/usr/bin/env bats
# bin/juno-lab: a multi-host cluster in network namespaces. A short scenario
# (up, one zone cut off from the proxies under a recorded load, heal, the
# checker, down), cleanup after a kill -9 of the lab script, usage errors.
# Needs root, nft and nsenter; skipped otherwise.

load lib

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
    command -v nft >/dev/null || skip "needs nft (make deps)"
    command -v nsenter >/dev/null || skip "needs nsenter"
    TMP=$(mktemp -d)
    DIR="$TMP/lab"
}

teardown() {
    [ -n "${DIR:-}" ] || return 0
    # whatever the test did, the lab goes: processes, namespaces, the tmpfs
    juno-lab down --dir "$DIR" >/dev/null 2>&1 || true
    local bad=0
    sanitizer_reports "$DIR"/log/*.log && bad=1
    rm -rf "$TMP"
    return "$bad"
}

# nothing of lab ID is left: no namespace, no process in one, no mount
nothing_left() {
    local id=$1
    ! ip netns list | grep -q "^junolab$id-"
    ! grep -q " $DIR/" /proc/mounts
    ! pgrep -f -- "$DIR/" >/dev/null
}

@test "up; a zone cut off from both proxies under load; heal; nothing lost; down removes everything" {
    run juno-lab up --dir "$DIR"
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"14 hosts on 10.77."*"2 proxies behind HAProxy at 10.77."*":8080"* ]]
    id=$(sed -n 's/^id=//p' "$DIR/lab.env")
    run juno-lab status --dir "$DIR"
    [ "$status" -eq 0 ]
    [[ "$output" == *"map version 1 in etcd; 12 of 12 processes running"* ]]
    # every daemon listens on its host's address, none on loopback
    run juno-lab on z1s1 --dir "$DIR" ss -ltnH
    [[ "$output" == *"10.77.$id.31:9001"* ]]
    [[ "$output" != *"127.0.0.1"* ]]
    run juno-lab on proxy2 --dir "$DIR" ss -ltnH
    [[ "$output" == *"10.77.$id.52:8080"* ]]
    [[ "$output" == *"10.77.$id.52:6379"* ]]
    # the machine's own namespace never sees the lab's addresses
    ! ip -o addr | grep -q "10.77.$id."
    # the client host reaches the cluster through HAProxy, both protocols
    juno-lab run --dir "$DIR" juno put hello world
    [ "$(juno-lab run --dir "$DIR" juno get hello)" = world ]
    [ "$(juno-lab run --dir "$DIR" sh -c 'redis-cli -h "${JUNO_RESP%:*}" -p "${JUNO_RESP#*:}" get hello')" = world ]
    run juno-lab trial zone-cut --dir "$DIR" --warmup 2 --hold 6 --quiet 4
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *'"verdict": "pass"'* ]]
    grep -q '"lost_acked_writes": 0' "$DIR/trials/zone-cut/result.json"
    grep -q '"event":"fault","name":"zone-cut","target":"z1"' "$DIR/trials/zone-cut/events.jsonl"
    grep -q '"event":"heal"' "$DIR/trials/zone-cut/events.jsonl"
    # the cut was real: the proxies timed the zone's stores out
    grep -q "store marked down addr=10.77.$id.3" "$DIR"/log/proxy*.log
    run juno-lab down --dir "$DIR"
    [ "$status" -eq 0 ]
    nothing_left "$id"
    run juno-lab status --dir "$DIR"
    [ "$status" -eq 1 ]
}

@test "down removes what a lab killed with -9 in the middle of up left behind" {
    juno-lab up --dir "$DIR" >/dev/null 2>&1 &
    pid=$!
    for i in $(seq 100); do [ -s "$DIR/pid/etcd1.pid" ] && break; sleep 0.05; done
    sleep 0.3
    kill -KILL "$pid"
    wait "$pid" || true
    id=$(sed -n 's/^id=//p' "$DIR/lab.env")
    [ -n "$id" ]
    ip netns list | grep -q "^junolab$id-"
    run juno-lab down --dir "$DIR"
    [ "$status" -eq 0 ]
    nothing_left "$id"
}

@test "faults: nftables rules in the hosts' namespaces, a SIGSTOP, and heal undoes them" {
    juno-lab up --dir "$DIR" >/dev/null
    juno-lab fault store-proxy-cut --dir "$DIR"
    [[ "$(juno-lab on z0s1 --dir "$DIR" nft list chain inet junolab out)" == *"ip daddr 10."*".51 drop"* ]]
    juno-lab fault loss z1s2 --percent 7 --dir "$DIR"
    [[ "$(juno-lab on z1s2 --dir "$DIR" nft list chain inet junolab in)" == *"numgen random mod 100 < 7"* ]]
    juno-lab fault sigstop --dir "$DIR"
    [ "$(ps -o stat= -p "$(cat "$DIR/pid/z2s1.pid")" | cut -c1)" = T ]
    run juno-lab status --dir "$DIR"
    [[ "$output" == *"faults: store-proxy-cut z0s1 loss z1s2 sigstop z2s1"* ]]
    # with one store stopped and another half cut off, clients still work
    juno-lab run --dir "$DIR" juno --retries 5 put k v
    [ "$(juno-lab run --dir "$DIR" juno --retries 5 get k)" = v ]
    juno-lab heal --dir "$DIR"
    [ -z "$(juno-lab on z0s1 --dir "$DIR" nft list chain inet junolab out | grep drop)" ]
    [ "$(ps -o stat= -p "$(cat "$DIR/pid/z2s1.pid")" | cut -c1)" != T ]
    run juno-lab status --dir "$DIR"
    [ "$status" -eq 0 ]
    [[ "$output" == *"faults: none"* ]]
}

@test "usage errors exit 64; --help exits 0" {
    run juno-lab
    [ "$status" -eq 64 ]
    run juno-lab frob --dir "$DIR"
    [ "$status" -eq 64 ]
    run juno-lab fault nosuchfault --dir "$DIR"
    [ "$status" -eq 64 ]
    run juno-lab up --shards x --dir "$DIR"
    [ "$status" -eq 64 ]
    run juno-lab --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: juno-lab up"* ]]
    [[ "$output" == *"proxy-etcd-migrate"* ]]
    run juno-lab status --dir "$DIR"
    [ "$status" -eq 1 ]
    [[ "$output" == *"no lab in $DIR"* ]]
}
