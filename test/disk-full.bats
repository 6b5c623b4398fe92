#!/usr/bin/env bats
# disk-full.bats: a store whose data directory sits on a small filesystem that
# fills up. Each test mounts its own 160 MiB tmpfs (root only) and unmounts
# it in teardown; every process it started is stopped by PID, even on failure.
# The sizes: RocksDB preallocates its WAL in chunks of about 17 MiB, and a
# memtable flush writes up to 16 MiB while writes go on, so the floor is
# 64 MiB (what juno-store advises); a "ballast" file stands for the other
# files on the disk, which an operator deletes.
#
# What must hold: the store stays up, answers reads, Nop and /metrics, refuses
# writes with SSOutofResource (the proxy and the Redis face say "disk full"),
# starts on a full disk and serves reads, takes writes again by itself once
# space is freed, and loses no acknowledged write.

load lib

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-disk.XXXXXX")
    : >"$TMP/pids"
    DISK=$TMP/disk
    mkdir -p "$DISK"
    mount -t tmpfs -o size=160m juno-test "$DISK" 2>/dev/null ||
        skip "mounting a tmpfs needs root"
    read -r P1 P2 P3 PM PX PR < <(free_ports 6)
    A=127.0.0.1:$P1 B=127.0.0.1:$P2 C=127.0.0.1:$P3
    METRICS=127.0.0.1:$PM PROXY=127.0.0.1:$PX RESP=127.0.0.1:$PR
    MAP=$TMP/map.json
    LOG=$TMP/store-a.log
}

teardown() {
    stop_pids "$TMP/pids"
    local bad=0
    sanitizer_reports "$TMP"/*.log && bad=1
    mountpoint -q "$DISK" && umount "$DISK" 2>/dev/null || umount -l "$DISK" 2>/dev/null || true
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
    return "$bad"
}

# The store on the small disk ($A, name a), with a 64 MiB floor.
start_full_store() {
    start_store a "$A" --data "$DISK/db" --min-free-space 64M --metrics "$METRICS" "$@"
}

ballast() { # NAME MIB: a file of up to MIB MiB on the small disk (no MIB: all the space left)
    dd if=/dev/zero of="$DISK/$1" bs=1M ${2:+count=$2} 2>/dev/null || true
}

# Keep the disk below the floor whatever RocksDB frees meanwhile (a flush
# ends by deleting a WAL of about 17 MiB, or two): leave 1 MiB.
top_up() {
    local avail
    avail=$(df --output=avail -B1M "$DISK" | tail -1)
    [ "$avail" -le 1 ] || ballast "$1" $((avail - 1))
    wait_for 5 metric_is juno_store_disk_full 1 # the store's next look (DISK_TICK_MS)
}

metric() { # NAME: its value on the store's /metrics
    curl -s "http://$METRICS/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}

metric_is() { [ "$(metric "$1")" = "$2" ]; } # NAME VALUE

# lines N PREFIX VERB: N batch lines "VERB<TAB>PREFIX<i><TAB>60000 bytes"
lines() {
    /usr/bin/python3 -c '
import sys
n, prefix, verb = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(n):
    print("%s\t%s%d\t%s" % (verb, prefix, i, ("v%d-" % i).ljust(60000, "x")))' "$@"
}

# acked FILE-IN FILE-OUT: the keys whose line was answered OK, one per line
acked() {
    paste "$1" "$2" | awk -F'\t' '$4 == "OK" { print $2 }'
}

# check_values FILE CLIENT...: every key in FILE reads back with its value
# (one pipelined `CLIENT batch` of gets)
check_values() {
    local f=$1
    shift
    sed 's/^/get\t/' "$f" | "$@" batch 2>/dev/null | paste "$f" - | awk -F'\t' '
        { want = $1; sub(/^[^0-9]*/, "", want); want = "v" want "-" }
        $2 != "OK" || index($3, want) != 1 { print "acknowledged key " $1 " lost or wrong: " $2 " " substr($3, 1, 20) > "/dev/stderr"; bad++ }
        END { print NR " keys checked" > "/dev/stderr"; exit bad > 0 }'
}

# start_proxy [options]: juno-proxy on $PROXY, ready once a write goes
# through to the stores (its connections to them are up). Writes of 60 KB
# pipelined 32 deep may take more than the default 500 ms on a busy machine,
# and a store that times out is marked down: --request-timeout 3000.
start_proxy() {
    juno-proxy --listen "$PROXY" --map "$MAP" --request-timeout 3000 "$@" 2>>"$TMP/proxy.log" &
    echo $! >>"$TMP/pids"
    wait_started juno-proxy "$TMP/proxy.log" $! juno -s "$PROXY" -n t put probe ready
}

wait_for() { # SECONDS COMMAND...: until COMMAND succeeds
    local t=$1 i
    shift
    for i in $(seq $((t * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

@test "a store on a full disk stays up, serves reads, refuses writes, restarts read-only and takes writes again once space is freed" {
    juno-ring init --cluster t --shards 64 --zone "z0=a@$A" >"$MAP"
    ballast other 16
    start_full_store
    js() { juno --store "$A" --map "$MAP" "$@"; }

    # fill it through `juno --store` until it refuses
    lines 2500 k set >"$TMP/in"
    js batch -w 32 <"$TMP/in" >"$TMP/out" 2>/dev/null || true
    acked "$TMP/in" "$TMP/out" >"$TMP/acked"
    grep -q $'^ERR\tSSOutofResource$' "$TMP/out"
    ! grep -v -E $'^(OK|ERR\tSSOutofResource)$' "$TMP/out"
    [ "$(wc -l <"$TMP/acked")" -gt 10 ]
    top_up more
    kill -0 "$(cat "$TMP/pid-a")"
    js nop
    run js set more v
    [ "$status" -eq 75 ]
    [[ "$output" == *SSOutofResource* ]]
    [ "$(metric juno_store_disk_full)" = 1 ]
    local refused
    refused=$(metric 'juno_store_requests_total{op="prepare_set",status="SSOutofResource"}')
    [ "$refused" -gt 100 ]
    [ "$(metric juno_store_writes_refused_total)" -ge "$refused" ]
    # logged when it began, not for each write refused
    local said
    said=$(grep -c 'disk full: free space below --min-free-space' "$LOG")
    [ "$said" -ge 1 ] && [ "$said" -le 3 ]
    check_values "$TMP/acked" js

    # stopped, and the rest filled: not a byte left; a restart opens the
    # database read-only
    stop_pids "$TMP/pid-a"
    ballast rest
    [ "$(df --output=avail -B1 "$DISK" | tail -1)" -lt 65536 ]
    start_full_store
    grep -q 'disk full at start' "$LOG"
    # nor is there room for the rejoin state file: said once, not fatal
    [ "$(grep -c "cannot write the store's state file" "$LOG")" -eq 1 ]
    check_values "$TMP/acked" js
    run js set more v
    [ "$status" -eq 75 ]
    [ "$(metric juno_store_database_state)" = 2 ]

    # free the space: writes come back by themselves
    rm -f "$DISK/rest" "$DISK/more" "$DISK/other"
    wait_for 10 js set more v
    [ "$(metric juno_store_database_state)" = 0 ]
    [ "$(metric juno_store_database_reopens_total)" -ge 1 ]
    grep -q 'database reopened read-write' "$LOG"
    check_values "$TMP/acked" js
    [ "$(js get more)" = v ]
    local t
    t=$(date +%s)
    stop_pids "$TMP/pid-a" # the drain writes the state file, now that there is room
    [ "$(stat -c %Y "$DISK/db/juno-store.state")" -ge "$t" ]
}

@test "a store whose RocksDB meets the full disk itself (no floor) survives, and is reopened once there is room" {
    juno-ring init --cluster t --shards 64 --zone "z0=a@$A" >"$MAP"
    start_store a "$A" --data "$DISK/db" --min-free-space 0 --metrics "$METRICS"
    js() { juno --store "$A" --map "$MAP" "$@"; }
    lines 2500 k set >"$TMP/in"
    js batch -w 32 <"$TMP/in" >"$TMP/out" 2>/dev/null || true
    acked "$TMP/in" "$TMP/out" >"$TMP/acked"
    grep -q $'^ERR\tSSOutofResource$' "$TMP/out"
    grep -q -E 'rocksdb write failed: .*No space left on device|rocksdb reports a background error' "$LOG"
    js nop
    grep -q 'refusing writes: the database failed a write (no space left on device)' "$LOG"
    check_values "$TMP/acked" js
    # a kill -9 and a restart on the full disk (whatever RocksDB freed filled
    # again): it serves every acked write, and takes none: it opens read-only,
    # or, when RocksDB's cleanup at open made just enough room to open, the
    # first write that meets the full disk is refused
    kill -KILL "$(cat "$TMP/pid-a")"
    wait "$(cat "$TMP/pid-a")" 2>/dev/null || true # its lock on the database is gone
    ballast rest
    local n
    n=$(wc -l <"$LOG")
    start_store a "$A" --data "$DISK/db" --min-free-space 0 --metrics "$METRICS"
    check_values "$TMP/acked" js
    if ! tail -n +"$((n + 1))" "$LOG" | grep -q 'database opened read-only'; then
        ballast rest2
        ballast rest3 # dd's last partial MiB
        dd if=/dev/zero of="$DISK/rest4" bs=4k 2>/dev/null || true
        lines 200 r set >"$TMP/in2"
        js batch -w 32 <"$TMP/in2" >"$TMP/out2" 2>/dev/null || true
        grep -q $'^ERR\tSSOutofResource$' "$TMP/out2"
        tail -n +"$((n + 1))" "$LOG" | grep -q 'refusing writes'
        acked "$TMP/in2" "$TMP/out2" >>"$TMP/acked"
    fi
    check_values "$TMP/acked" js
    # the filesystem grows: writes again
    mount -o remount,size=320m "$DISK"
    wait_for 10 js set more v
    check_values "$TMP/acked" js
}

@test "through a one-zone proxy: the client and the Redis face are told the disk is full; writes resume after" {
    juno-ring init --cluster t --shards 64 --zone "z0=a@$A" >"$MAP"
    start_full_store
    start_proxy --resp "$RESP"
    jp() { juno -s "$PROXY" -n t "$@"; }

    lines 2500 p put >"$TMP/in"
    jp batch -w 32 <"$TMP/in" >"$TMP/out" 2>/dev/null || true
    acked "$TMP/in" "$TMP/out" >"$TMP/acked"
    grep -q $'^ERR\tSSOutofResource$' "$TMP/out"
    [ "$(wc -l <"$TMP/acked")" -gt 10 ]
    top_up more
    run jp put more v
    [ "$status" -eq 75 ]
    [[ "$output" == *"disk full"* ]]
    run redis-cli -h 127.0.0.1 -p "${RESP##*:}" set rkey v
    [[ "$output" == *"disk full"* ]]
    [ "$(redis-cli -h 127.0.0.1 -p "${RESP##*:}" ping)" = PONG ]
    check_values "$TMP/acked" jp

    # free space by growing the filesystem: the proxy's writes go through again
    mount -o remount,size=320m "$DISK"
    wait_for 10 jp put more v
    [ "$(redis-cli -h 127.0.0.1 -p "${RESP##*:}" set rkey v)" = OK ]
    check_values "$TMP/acked" jp
}

@test "3 zones, one zone's disk full: writes succeed on the quorum, and the full zone catches up by read repair" {
    juno-ring init --cluster t --shards 64 --zone "z0=a@$A" --zone "z1=b@$B" --zone "z2=c@$C" >"$MAP"
    start_full_store
    start_store b "$B" --memory
    start_store c "$C" --memory
    start_proxy
    jp() { juno -s "$PROXY" -n t "$@"; }
    ja() { juno --store "$A" --map "$MAP" -n t "$@"; }

    # zone z0 below its floor before the test's writes
    ballast other $(($(df --output=avail -B1M "$DISK" | tail -1) - 2))
    wait_for 5 metric_is juno_store_disk_full 1
    lines 100 q put >"$TMP/in"
    jp batch -w 32 <"$TMP/in" >"$TMP/out"
    [ "$(grep -c '^OK$' "$TMP/out")" -eq 100 ]
    [ "$(metric 'juno_store_requests_total{op="prepare_set",status="SSOutofResource"}')" -ge 100 ]
    run ja get q7
    [ "$status" -eq 1 ] # the full zone missed them

    # space back: reading every key (R = 2 of 3, rotating) repairs zone z0
    rm -f "$DISK/other"
    wait_for 5 metric_is juno_store_disk_full 0
    # three rounds, each starting one replica further (a Get reads from a
    # rotating first replica): every key is read from zone z0 at least once
    for round in 1 2 3; do
        cut -f1-2 "$TMP/in" | sed 's/^put/get/' | jp batch >/dev/null
        jp get q0 >/dev/null
    done
    cut -f2 "$TMP/in" >"$TMP/keys"
    wait_for 5 check_values "$TMP/keys" ja
    check_values "$TMP/keys" ja
}
