#!/usr/bin/env bats
# juno-store.bats: the storage daemon, driven through `juno --store` and raw
# sockets. Every test starts its own juno-store on a free loopback port in a
# temp dir; teardown stops every process it started (by PID), even when the
# test failed.
#
# The map has two nodes, s1 (the store under test, $A) and s2 (never started),
# over 64 shards, so some keys belong to a shard the store does not own.

load lib

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-store.XXXXXX")
    : >"$TMP/pids"
    read -r P1 P2 < <(free_ports 2)
    A=127.0.0.1:$P1
    MAP=$TMP/map.json
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$A,s2@127.0.0.1:$P2" >"$MAP"
    LOG=$TMP/store.log
}

teardown() {
    stop_pids "$TMP/pids"
    rm -rf "$TMP"
}

# start_store [juno-store options]: run the store for $A in the background
# (PID in $SPID and $TMP/pids, log in $LOG) and wait until it answers a Nop.
start_store() {
    juno-store --listen "$A" --map "$MAP" "$@" 2>>"$LOG" &
    SPID=$!
    echo "$SPID" >>"$TMP/pids"
    wait_started juno-store "$LOG" "$SPID" juno --store "$A" --timeout 200 nop
}

# Stop the store with SIGKILL and reap it.
kill9_store() {
    kill -KILL "$SPID"
    wait "$SPID" 2>/dev/null || true
}

j() { juno --store "$A" --map "$MAP" "$@"; }

# batch without its stderr (for `run`, which mixes the two)
bq() { juno --store "$A" --map "$MAP" batch 2>/dev/null; }

# key_for NODE PREFIX: the first key PREFIX<n> whose shard NODE owns.
key_for() {
    local i
    for i in $(seq 0 999); do
        juno-ring lookup "$MAP" "$2$i" | grep -q "z0: $1 " && echo "$2$i" && return 0
    done
    echo "key_for: no key $2<n> for node $1" >&2
    return 1
}

# key_len NODE LEN: a key of exactly LEN digits whose shard NODE owns.
key_len() {
    local i
    for i in $(seq 0 999); do
        juno-ring lookup "$MAP" "$(printf "%0${2}d" "$i")" | grep -q "z0: $1 " &&
            printf "%0${2}d\n" "$i" && return 0
    done
    echo "key_len: no key of $2 bytes for node $1" >&2
    return 1
}

shard_of() {
    juno-ring lookup --json "$MAP" "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["shard"])'
}

# jfield FIELD: a field of the JSON object on stdin ("" when absent).
jfield() {
    python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"
}

now_ns() { date +%s%N; }

# A map where s1 owns every shard (for the tests that write many keys).
one_node_map() {
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$A" >"$MAP"
}

@test "set then get returns the bytes, also binary ones through stdin" {
    start_store --memory
    k=$(key_for s1 k)
    run j set "$k" hello
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = Ok ]
    [ "${lines[1]}" = "version 1" ]
    run j get "$k"
    [ "$status" -eq 0 ]
    [ "$output" = hello ]
    printf 'a\0b\nc\n\377' >"$TMP/bin"
    j set "$k" - <"$TMP/bin" >/dev/null
    j get "$k" >"$TMP/out"
    cmp "$TMP/bin" "$TMP/out"
    run j read --json "$k"
    [ "$(echo "$output" | jfield value_encoding)" = base64 ]
    [ "$(echo "$output" | jfield value)" = "$(base64 -w0 <"$TMP/bin")" ]
}

@test "read --json: version 1 then 2, creation time kept, last-modified grows" {
    start_store --memory
    k=$(key_for s1 k)
    j set "$k" one >/dev/null
    r1=$(j read --json "$k")
    [ "$(echo "$r1" | jfield status)" = Ok ]
    [ "$(echo "$r1" | jfield code)" = 0 ]
    [ "$(echo "$r1" | jfield version)" = 1 ]
    [ "$(echo "$r1" | jfield value)" = one ]
    sleep 1.1
    j set "$k" two >/dev/null
    r2=$(j read --json "$k")
    [ "$(echo "$r2" | jfield version)" = 2 ]
    [ "$(echo "$r2" | jfield value)" = two ]
    [ "$(echo "$r2" | jfield creation_time)" = "$(echo "$r1" | jfield creation_time)" ]
    [ "$(echo "$r2" | jfield last_modified)" -gt "$(echo "$r1" | jfield last_modified)" ]
    [ "$(echo "$r2" | jfield originator_id)" = "$(echo "$r1" | jfield originator_id)" ]
}

@test "prepare-create on an existing key is DupKey; prepare-update on a missing key is NoKey" {
    start_store --memory
    k=$(key_for s1 k)
    j set "$k" v >/dev/null
    run j prepare-create "$k" x
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = DupKey ]
    run j prepare-update "$(key_for s1 missing)" x
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = NoKey ]
}

@test "conditional prepare-update with a stale version is VersionConflict with the current value" {
    start_store --memory
    k=$(key_for s1 k)
    j set "$k" v1 >/dev/null
    j set "$k" v2 >/dev/null
    r1=11111111-1111-4111-8111-111111111111
    run j prepare-update "$k" new --version 1 --rid "$r1"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = VersionConflict ]
    [[ " ${lines[*]} " == *" version 2 "* ]]
    [ "${lines[-1]}" = v2 ]
    # the conflict keeps the record locked for r1 (two-phase: the proxy's
    # Abort or Repair releases it)
    run j prepare-update "$k" new --version 2
    [ "$status" -eq 75 ]
    [ "${lines[0]}" = RecordLocked ]
    j abort "$k" --rid "$r1" >/dev/null
    run j prepare-update "$k" new --version 2
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = Ok ]
}

@test "a record locked by one request id is RecordLocked for another until abort" {
    start_store --memory
    k=$(key_for s1 k)
    r1=11111111-1111-4111-8111-111111111111
    r2=22222222-2222-4222-8222-222222222222
    run j prepare-set "$k" a --rid "$r1"
    [ "$status" -eq 0 ]
    run j prepare-set "$k" b --rid "$r2"
    [ "$status" -eq 75 ]
    [ "${lines[0]}" = RecordLocked ]
    run j abort "$k" --rid "$r1"
    [ "$status" -eq 0 ]
    run j prepare-set "$k" b --rid "$r2"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = Ok ]
}

@test "after --lock-ms the lock has expired and another request id can prepare" {
    start_store --memory --lock-ms 100
    k=$(key_for s1 k)
    run j prepare-set "$k" a --rid 11111111-1111-4111-8111-111111111111
    [ "$status" -eq 0 ]
    run j prepare-set "$k" b --rid 22222222-2222-4222-8222-222222222222
    [ "$status" -eq 75 ]
    sleep 0.3
    run j prepare-set "$k" b --rid 22222222-2222-4222-8222-222222222222
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = Ok ]
}

@test "commit without prepare is NoUncommitted; a replayed commit is AlreadyFulfilled" {
    start_store --memory
    k=$(key_for s1 k)
    r=33333333-3333-4333-8333-333333333333
    run j commit "$k" --rid "$r" --version 1
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = NoUncommitted ]
    j prepare-set "$k" val --rid "$r" >/dev/null
    run j commit "$k" --rid "$r" --version 1 --last-modified "$(now_ns)"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = Ok ]
    [ "$(j get "$k")" = val ]
    run j commit "$k" --rid "$r" --version 1 --last-modified "$(now_ns)"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = AlreadyFulfilled ]
}

@test "a prepare with the request id of the record's last write is AlreadyFulfilled" {
    start_store --memory
    k=$(key_for s1 k)
    r=44444444-4444-4444-8444-444444444444
    j set "$k" first --rid "$r" >/dev/null
    run j prepare-set "$k" second --rid "$r"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = AlreadyFulfilled ]
    run j set "$k" again --rid "$r"
    [ "${lines[0]}" = AlreadyFulfilled ]
    [ "$(j get "$k")" = first ]
    # no lock was left behind
    run j prepare-set "$k" third --rid 55555555-5555-4555-8555-555555555555
    [ "${lines[0]}" = Ok ]
}

@test "TTL: a record is readable until its expiration time, then NoKey" {
    start_store --memory
    k=$(key_for s1 k)
    run j set "$k" short --expire $(($(date +%s) + 2))
    [ "$status" -eq 0 ]
    run j read --json "$k"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jfield value)" = short ]
    [ "$(echo "$output" | jfield ttl)" -ge 1 ]
    sleep 3
    run j read "$k"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = NoKey ]
}

@test "mark-delete writes a tombstone: read gives MarkedDelete" {
    start_store --memory
    k=$(key_for s1 k)
    j set "$k" v >/dev/null
    run j mark-delete "$k" --version 2 --last-modified "$(now_ns)"
    [ "$status" -eq 0 ]
    run j read "$k"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = MarkedDelete ]
    run j get "$k"
    [ "$status" -eq 1 ]
    [ -z "$output" ] || [[ "$output" == *"MarkedDelete"* ]]
}

@test "delete after prepare-delete removes the record" {
    start_store --memory
    k=$(key_for s1 k)
    r=66666666-6666-4666-8666-666666666666
    j set "$k" v >/dev/null
    run j prepare-delete "$k" --rid "$r"
    [ "$status" -eq 0 ]
    run j delete "$k" --rid "$r"
    [ "$status" -eq 0 ]
    run j read "$k"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = NoKey ]
}

@test "repair with an older last-modified does not overwrite, a newer one does" {
    start_store --memory
    k=$(key_for s1 k)
    j set "$k" current >/dev/null
    lm=$(j read --json "$k" | jfield last_modified)
    run j repair "$k" older --version 9 --last-modified $((lm - 1))
    [ "$status" -eq 0 ]
    [ "$(j get "$k")" = current ]
    [ "$(j read --json "$k" | jfield version)" = 1 ]
    run j repair "$k" newer --version 9 --last-modified $((lm + 1))
    [ "$status" -eq 0 ]
    [ "$(j get "$k")" = newer ]
    [ "$(j read --json "$k" | jfield version)" = 9 ]
    # a tombstone by repair
    run j repair "$k" --tombstone --version 10 --last-modified $((lm + 2)) </dev/null
    [ "$status" -eq 0 ]
    run j read "$k"
    [ "${lines[0]}" = MarkedDelete ]
}

# What the store does with a shard it does not own, as observed:
#  - Clone is accepted and written; a Clone that is not newer than the stored
#    copy is answered Ok without metadata (not applied), one that is written
#    Ok with the record's metadata;
#  - every other request for that shard (Read included) is NoStorageServer;
#  - DropShard deletes the cloned data, so an older clone is written again.
@test "clone into a shard the store does not own; drop-shard removes it" {
    start_store --memory
    k=$(key_for s2 c)
    sh=$(shard_of "$k")
    run j clone "$k" newer --version 5 --last-modified 2000
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = Ok ]
    [[ " ${lines[*]} " == *" version 5 "* ]]
    run j read "$k"
    [ "$status" -eq 75 ]
    [ "${lines[0]}" = NoStorageServer ]
    run j clone "$k" older --version 1 --last-modified 1000
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = Ok ]
    [[ " ${lines[*]} " != *" version "* ]] # not newer: not applied
    run j drop-shard "$sh"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = Ok ]
    run j clone "$k" older --version 1 --last-modified 1000
    [ "$status" -eq 0 ]
    [[ " ${lines[*]} " == *" version 1 "* ]] # the newer copy is gone: applied
}

@test "records cache: every write is seen by the next read, drop-shard forgets a shard's records" {
    start_store --memory --metrics "127.0.0.1:$P2" # s2 never runs: its port serves metrics
    k=$(key_for s1 k)
    j set "$k" v1 >/dev/null
    [ "$(j get "$k")" = v1 ]
    for v in v2 v3; do # a cached record, then a write: the read sees the write
        j set "$k" "$v" >/dev/null
        [ "$(j get "$k")" = "$v" ]
    done
    j delete "$k" >/dev/null
    run j read "$k"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = NoKey ]
    j set "$k" v4 >/dev/null
    j repair "$k" older --version 1 --last-modified 1000 >/dev/null # not newer: skipped
    [ "$(j get "$k")" = v4 ]
    j repair "$k" newer --version 9 --last-modified "$(now_ns)" >/dev/null
    [ "$(j get "$k")" = newer ]
    # a shard moving in: read (cached), dropped, accepted again: the record is gone
    c=$(key_for s2 c)
    sh=$(shard_of "$c")
    j shard-accept "$sh" >/dev/null
    j clone "$c" moved --version 5 --last-modified 2000 >/dev/null
    [ "$(j get "$c")" = moved ]
    j drop-shard "$sh" >/dev/null
    j shard-accept "$sh" >/dev/null
    run j read "$c"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = NoKey ]
    # the reads above came from the cache
    metrics=$(curl -sSf "http://127.0.0.1:$P2/metrics")
    hits=$(awk '$1 == "juno_store_record_cache_hits_total" { print $2 }' <<<"$metrics")
    [ "$hits" -ge 5 ]
}

@test "--record-cache 0: no records cache, reads still answered; a bad size is a usage error" {
    start_store --memory --record-cache 0 --metrics "127.0.0.1:$P2"
    k=$(key_for s1 k)
    j set "$k" v1 >/dev/null
    [ "$(j get "$k")" = v1 ]
    j set "$k" v2 >/dev/null
    [ "$(j get "$k")" = v2 ]
    metrics=$(curl -sSf "http://127.0.0.1:$P2/metrics")
    grep -qx 'juno_store_record_cache_hits_total 0' <<<"$metrics"
    grep -qx 'juno_store_record_cache_entries 0' <<<"$metrics"
    run juno-store --listen "$A" --map "$MAP" --memory --record-cache lots
    [ "$status" -eq 64 ]
    [[ "$output" == *"record-cache"* ]]
}

@test "drop-shard of a shard the store owns is BadParam" {
    start_store --memory
    k=$(key_for s1 k)
    j set "$k" keep >/dev/null
    run j drop-shard "$(shard_of "$k")"
    [ "$status" -eq 65 ]
    [ "${lines[0]}" = BadParam ]
    [ "$(j get "$k")" = keep ]
}

@test "a wrong shard id is BadParam; a key of the other node's shard is NoStorageServer" {
    start_store --memory
    k=$(key_for s1 k)
    sh=$(shard_of "$k")
    run j set "$k" v --shard $(((sh + 1) % 64))
    [ "$status" -eq 65 ]
    [ "${lines[0]}" = BadParam ]
    run j read "$k"
    [ "$status" -eq 1 ]
    run j set "$(key_for s2 k)" v
    [ "$status" -eq 75 ]
    [ "${lines[0]}" = NoStorageServer ]
}

@test "limits: namespace 65, key 257, value 204801 bytes are BadParam and nothing is written" {
    start_store --memory --max-value 204800 # the default is 32 MiB (the RESP face's)
    ns64=$(printf 'n%.0s' $(seq 64))
    k=$(key_for s1 k)
    run j -n "${ns64}x" set "$k" v
    [ "$status" -eq 65 ]
    [ "${lines[0]}" = BadParam ]
    run j -n "$ns64" set "$k" v
    [ "$status" -eq 0 ]
    run j set "$(printf '%0257d' 7)" v # over the limit: refused before the shard check
    [ "$status" -eq 65 ]
    [ "${lines[0]}" = BadParam ]
    k256=$(key_len s1 256)
    run j set "$k256" v256
    [ "$status" -eq 0 ]
    [ "$(j get "$k256")" = v256 ]
    head -c 204801 /dev/zero | tr '\0' x >"$TMP/big"
    run j set "$k" - <"$TMP/big"
    [ "$status" -eq 65 ]
    [ "${lines[0]}" = BadParam ]
    run j read "$k"
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = NoKey ]
    head -c 204800 "$TMP/big" >"$TMP/max"
    run j set "$k" - <"$TMP/max"
    [ "$status" -eq 0 ]
    j get "$k" | cmp - "$TMP/max"
}

# poke KIND: send a bad input of KIND to the store on a raw socket and print
# what came back: "closed" (the store closed the connection), "status N" (a
# reply with status N), or "sent" (we closed first).
poke() {
    python3 - "$P1" "$1" <<'EOF'
import os, socket, struct, sys
port, kind = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=5)

def header(size, opcode, magic=0x5050, flags=0, shard=0, opaque=7):
    return struct.pack(">HBBIIBBH", magic, 1, 0x40, size, opaque, opcode, flags, shard)

# a payload component: namespace "d", key "k", no value (16 bytes, padded)
payload = struct.pack(">IBBHI", 16, 1, 1, 1, 0) + b"dk" + b"\0\0"

def wait_close():
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return "closed"
    except socket.timeout:
        return "open"

def reply_status():
    buf = b""
    while len(buf) < 16:
        b = s.recv(65536)
        if not b:
            return "closed"
        buf += b
    return "status %d" % buf[15]

if kind == "random":
    s.sendall(b"\x17" + os.urandom(4095))
    print(wait_close())
elif kind == "magic":
    s.sendall(header(32, 0x82, magic=0x5051) + payload)
    print(wait_close())
elif kind == "huge":
    s.sendall(header(100 * 1024 * 1024, 0x82))
    print(wait_close())
elif kind == "truncated":
    s.sendall((header(32, 0x82) + payload)[:20])
    s.close()
    print("sent")
elif kind == "unknown-op":
    s.sendall(header(32, 0x09) + payload)
    print(reply_status())
elif kind == "garbage":
    s.sendall(header(32, 0x82) + struct.pack(">IB", 0xFFFFFFF0, 1) + b"\xAA" * 11)
    print(reply_status())
elif kind == "good-then-bad":
    # two Nops and random bytes in one write: both Nops are answered, then close
    s.sendall(header(16, 0x00, opaque=7) + header(16, 0x00, opaque=8) + b"\x17" + os.urandom(255))
    buf = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        buf += b
    ops = [struct.unpack(">I", buf[i + 8:i + 12])[0] for i in range(0, len(buf) - 15, 16)]
    print("replies %s then closed" % ",".join(map(str, ops)))
EOF
}

# check_bad_input KIND EXPECTED: after the bad input the daemon is alive,
# another connection works, a key written before is unchanged, and the
# daemon logged exactly one line about it.
check_bad_input() {
    start_store --memory
    k=$(key_for s1 before)
    j set "$k" precious >/dev/null
    before=$(wc -l <"$LOG")
    run poke "$1"
    [ "$output" = "$2" ]
    sleep 0.2
    kill -0 "$SPID"
    k2=$(key_for s1 after)
    run j set "$k2" fine
    [ "$status" -eq 0 ]
    [ "$(j get "$k2")" = fine ]
    [ "$(j get "$k")" = precious ]
    after=$(wc -l <"$LOG")
    echo "log lines: before $before, after $after" >&2
    tail -n +$((before + 1)) "$LOG" >&2
    [ $((after - before)) -eq 1 ]
}

@test "bad input: random bytes close the connection, the daemon goes on" {
    check_bad_input random closed
    grep -q 'bad frame.*bad magic' "$LOG"
}

@test "bad input: a wrong magic closes the connection" {
    check_bad_input magic closed
    grep -q 'bad frame.*bad magic' "$LOG"
}

@test "bad input: a header announcing a 100 MB frame is refused before buffering" {
    check_bad_input huge closed
    grep -q 'bad frame.*frame limit' "$LOG"
}

@test "bad input: a truncated frame, then close" {
    check_bad_input truncated sent
}

@test "bad input: an unknown opcode is NotSupported (28)" {
    check_bad_input unknown-op "status 28"
}

@test "bad input: garbage components are BadMsg (1)" {
    check_bad_input garbage "status 1"
    grep -q 'malformed message' "$LOG"
}

@test "bad input: good requests then a bad frame in one read: the good ones are answered, then close" {
    check_bad_input good-then-bad "replies 7,8 then closed"
    grep -q 'bad frame.*bad magic' "$LOG"
}

# gen_batch N PREFIX: N "set" lines then N "get" lines; values carry escapes.
gen_batch() {
    python3 - "$1" "$2" <<'EOF'
import sys
n, p = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    print(f"set\t{p}{i}\tvalue {i}\\twith\\ttabs\\n\\x00\\\\{i * 7919}")
for i in range(n):
    print(f"get\t{p}{i}")
EOF
}

# expect_batch N PREFIX: what gen_batch's run prints.
expect_batch() {
    python3 - "$1" "$2" <<'EOF'
import sys
n, p = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    print("OK")
for i in range(n):
    print(f"OK\tvalue {i}\\twith\\ttabs\\n\\x00\\\\{i * 7919}")
EOF
}

@test "batch: 2000 sets then 2000 gets in one run, every line OK with its value" {
    one_node_map
    start_store --memory
    gen_batch 2000 key >"$TMP/in"
    expect_batch 2000 key >"$TMP/want"
    run j batch <"$TMP/in"
    [ "$status" -eq 0 ]
    printf '%s\n' "$output" >"$TMP/got"
    diff "$TMP/want" "$TMP/got"
    # the same key twice in one window applies in order; del; misses
    printf 'set\tk\t1\nset\tk\t2\nget\tk\ndel\tk\nget\tk\ndel\tk\nbogus\tk\n' >"$TMP/in2"
    run bq <"$TMP/in2"
    [ "$status" -eq 1 ]
    [ "${lines[*]}" = "OK OK OK	2 OK NOT_FOUND NOT_FOUND ERR	BadInput" ]
}

@test "reads the caches miss go to the thread pool in batches: after a restart every record reads back" {
    one_node_map
    # no records cache, a 1 MiB block cache, 256 KiB memtables: the records are in SST files
    opts=(--data "$TMP/d" --sync none --record-cache 0 --block-cache 1
        --rocksdb-options "write_buffer_size=262144" --metrics "127.0.0.1:$P2")
    start_store "${opts[@]}"
    gen_batch 3000 key >"$TMP/all"
    expect_batch 3000 key >"$TMP/want"
    head -n 3000 "$TMP/all" | bq >/dev/null
    kill "$SPID"
    wait "$SPID" || true
    start_store "${opts[@]}"
    { tail -n 3000 "$TMP/all"; printf 'get\tnone%d\n' $(seq 300); } >"$TMP/in"
    { tail -n 3000 "$TMP/want"; yes NOT_FOUND | head -n 300; } >"$TMP/want2"
    run j batch <"$TMP/in"
    [ "$status" -eq 0 ] # NOT_FOUND is a result, not a failure
    printf '%s\n' "$output" >"$TMP/got"
    diff "$TMP/want2" "$TMP/got"
    metrics=$(curl -sSf "http://127.0.0.1:$P2/metrics")
    reads=$(awk '$1 == "juno_store_pool_reads_total" { print $2 }' <<<"$metrics")
    batches=$(awk '$1 == "juno_store_pool_read_batches_total" { print $2 }' <<<"$metrics")
    echo "pool reads $reads in $batches batches"
    [ "$reads" -ge 100 ]
    [ "$batches" -lt "$reads" ]
    grep -q 'write_buffer_size=262144' "$TMP"/d/OPTIONS-*
}

@test "--rocksdb-options: an unknown option or a bad value exits 78 and names it; --block-cache 0 is a usage error" {
    run juno-store --listen "$A" --map "$MAP" --data "$TMP/d" --rocksdb-options "no_such_option=1"
    [ "$status" -eq 78 ]
    [[ "$output" == *"invalid --rocksdb-options 'no_such_option=1'"*"no_such_option"* ]]
    run juno-store --listen "$A" --map "$MAP" --memory --rocksdb-options "max_background_jobs=many"
    [ "$status" -eq 78 ]
    [[ "$output" == *"max_background_jobs"* ]]
    run juno-store --listen "$A" --map "$MAP" --memory --block-cache 0
    [ "$status" -eq 64 ]
    [[ "$output" == *"block-cache"* ]]
}

@test "batch: a store that is not there is exit 69" {
    run juno --store "127.0.0.1:$P2" --shards 64 batch <<<"get	k"
    [ "$status" -eq 69 ]
    run juno --store "127.0.0.1:$P2" --shards 64 get k
    [ "$status" -eq 69 ]
    [[ "$output" == *"juno: error: unable to connect"*"refused"* ]]
}

# durable MODE: acknowledged writes survive kill -9 with --sync MODE.
durable() {
    one_node_map
    start_store --data "$TMP/db" --sync "$1"
    gen_batch 2000 "d$1-" >"$TMP/in"
    expect_batch 2000 "d$1-" >"$TMP/want"
    head -n 2000 "$TMP/in" | j batch >"$TMP/set-out"
    kill9_store
    [ "$(grep -c '^OK$' "$TMP/set-out")" -eq 2000 ]
    start_store --data "$TMP/db" --sync "$1"
    tail -n 2000 "$TMP/in" | j batch >"$TMP/get-out"
    diff <(tail -n 2000 "$TMP/want") "$TMP/get-out"
}

@test "durability: --sync always keeps every acknowledged write across kill -9" {
    durable always
}

@test "durability: --sync batch keeps every acknowledged write across kill -9" {
    durable batch
}

# write_then_read KEY SHARD N: N rounds of a one-phase PrepareSet of KEY and a
# Read of KEY sent together in one write; prints, for each round, the write's
# status, the Read's status and the value it read ("Ok Ok v1", ...).
write_then_read() {
    python3 - "$A" "$1" "$2" "$3" "$BATS_TEST_DIRNAME" <<'EOF'
import struct, sys, uuid
sys.path.insert(0, sys.argv[5])
from proxy_client import Conn, RID, STATUS, decode, encode
addr, key, shard, rounds = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
c = Conn(addr)
def frame(opcode, opaque, value=None, flags=0):
    f = bytearray(encode(opcode, opaque, b"d", key, value, {RID: uuid.uuid4().bytes}, flags=flags))
    f[14:16] = struct.pack(">H", shard)
    return bytes(f)
for i in range(1, rounds + 1):
    v = b"v%d" % i
    c.send_raw(frame(0x84, 2 * i, v, flags=0x10) + frame(0x82, 2 * i + 1))
    got = {}
    while len(got) < 2:
        m = decode(c.recv_frame())
        got[m["opaque"]] = m
    w, r = got[2 * i], got[2 * i + 1]
    print(STATUS[w["status"]], STATUS[r["status"]], r["value"].decode())
EOF
}

@test "a Read sent right behind a write of the same key waits for it: it sees the write, durable (--sync batch)" {
    one_node_map
    start_store --data "$TMP/db" --sync batch
    k=$(key_for s1 wr)
    run write_then_read "$k" "$(shard_of "$k")" 20
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 20 ]
    for i in $(seq 1 20); do
        [ "${lines[$((i - 1))]}" = "Ok Ok v$i" ]
    done
}

@test "--memory: nothing is written under --data, and a restart loses the data" {
    one_node_map
    mkdir "$TMP/mem"
    start_store --memory --data "$TMP/mem"
    gen_batch 200 m >"$TMP/in"
    run j batch <"$TMP/in"
    [ "$status" -eq 0 ]
    [ "$(find "$TMP/mem" -mindepth 1 | wc -l)" -eq 0 ]
    kill9_store
    start_store --memory --data "$TMP/mem"
    run j read m1
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = NoKey ]
}

@test "SIGTERM with requests in flight: the store exits 0 and answered every request it read" {
    one_node_map
    start_store --data "$TMP/db"
    python3 -c '
for i in range(300000): print(f"set\tt{i}\tv{i}")' >"$TMP/in"
    j batch <"$TMP/in" >"$TMP/out" 2>"$TMP/err" &
    bpid=$!
    sleep 0.5
    kill -TERM "$SPID"
    rc=0
    wait "$SPID" || rc=$?
    brc=0
    wait "$bpid" || brc=$?
    echo "store exit $rc, batch exit $brc" >&2
    sort "$TMP/out" | uniq -c >&2
    # one answer per line; only lines never answered say Unavailable
    [ "$(wc -l <"$TMP/out")" -eq 300000 ]
    [ "$(grep -cv -e '^OK$' -e '^ERR	Unavailable$' "$TMP/out")" -eq 0 ]
    ok=$(grep -c '^OK$' "$TMP/out")
    [ "$ok" -gt 0 ]
    # every acknowledged set is there after a restart
    start_store --data "$TMP/db"
    paste "$TMP/in" "$TMP/out" | awk -F'\t' '$4 == "OK" { print "get\t" $2 }' >"$TMP/get"
    run j batch <"$TMP/get"
    [ "$status" -eq 0 ]
    [ "$(printf '%s\n' "$output" | grep -c '^OK	v')" -eq "$ok" ]
    [ "$rc" -eq 0 ] # the drain's exit status
}

@test "SIGHUP with a new map: a shard that was not owned is now served" {
    start_store --memory
    k=$(key_for s2 h)
    run j set "$k" v
    [ "$status" -eq 75 ]
    juno-ring plan "$MAP" --remove z0=s2 --out "$TMP/map2.json" >/dev/null
    grep -q '"version": 2' "$TMP/map2.json"
    mv "$TMP/map2.json" "$MAP"
    kill -HUP "$SPID"
    for i in $(seq 50); do
        j read "$k" >/dev/null 2>&1 && break
        [ $? -ne 75 ] && break
        sleep 0.1
    done
    run j set "$k" now-mine
    [ "$status" -eq 0 ]
    [ "$(j get "$k")" = now-mine ]
    grep -q 'map loaded.*version=2.*shards_owned=64/64' "$LOG"
}

@test "--help and --version of juno-store and juno exit 0 and print usage" {
    run juno-store --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: juno-store"* ]]
    [[ "$output" == *"Exit status"* ]]
    run juno-store --version
    [ "$status" -eq 0 ]
    [[ "$output" == "juno-store "* ]]
    run juno --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: juno"* ]]
    for c in read prepare-create prepare-update prepare-set prepare-delete commit abort \
        delete mark-delete repair clone drop-shard nop set get batch; do
        [[ "$output" == *"  $c "* ]]
    done
    [[ "$output" == *"75"*"RecordLocked"* ]]
    run juno -h
    [ "$status" -eq 0 ]
    run juno -V
    [ "$status" -eq 0 ]
    [[ "$output" == "juno "* ]]
    run juno --version
    [ "$status" -eq 0 ]
    [[ "$output" == "juno "* ]]
}

@test "bad options and usage errors exit 64" {
    run juno-store --no-such-option
    [ "$status" -eq 64 ]
    run juno-store --map "$MAP" --memory --sync sometimes
    [ "$status" -eq 64 ]
    run juno --no-such-option
    [ "$status" -eq 64 ]
    run juno --store "$A"
    [ "$status" -eq 64 ]
    [[ "$output" == *"juno: error: no command given"* ]]
    run juno --store "$A" frobnicate k
    [ "$status" -eq 64 ]
    run juno --store "$A" read
    [ "$status" -eq 64 ]
    run juno --store "$A" read k --rid not-a-uuid
    [ "$status" -eq 64 ]
    run juno --store "$A" --shards 0 read k
    [ "$status" -eq 64 ]
}

@test "a missing map, or a map without this node, exits 78 with a clear message" {
    run juno-store --listen "$A" --map "$TMP/none.json" --memory
    [ "$status" -eq 78 ]
    [[ "$output" == *"juno-store: error: "*"none.json"* ]]
    run juno-store --listen "127.0.0.1:1" --map "$MAP" --memory
    [ "$status" -eq 78 ]
    [[ "$output" == *"juno-store: error: "*"127.0.0.1:1"* ]]
    run juno-store --listen "$A" --map "$MAP" --node s9 --memory
    [ "$status" -eq 78 ]
    [[ "$output" == *"s9"* ]]
}

@test "compaction filter: expired records and old tombstones are purged; shard-info counts them" {
    one_node_map
    start_store --memory --tombstone-grace 0
    j set exp1 v >/dev/null
    j set tomb1 v >/dev/null
    j set live1 keep >/dev/null
    j repair exp1 soon --record-version 5 --last-modified "$(now_ns)" --expire $(($(date +%s) + 1)) >/dev/null
    j mark-delete tomb1 --record-version 9 --last-modified "$(now_ns)" >/dev/null
    shards=$(for k in exp1 tomb1 live1; do shard_of "$k"; done | sort -u)
    total() { # FIELD summed over the three keys' shards
        for s in $shards; do j shard-info "$s"; done |
            python3 -c 'import json,sys; print(sum(json.loads(l)[sys.argv[1]] for l in sys.stdin))' "$1"
    }
    [ "$(total records)" -eq 3 ]
    [ "$(total tombstones)" -eq 1 ]
    sleep 2.2
    [ "$(total expired)" -eq 1 ]
    run j read exp1
    [ "${lines[0]}" = NoKey ]
    run j compact
    [ "$status" -eq 0 ]
    [ "$(total records)" -eq 1 ]
    [ "$(total live)" -eq 1 ]
    [ "$(total tombstones)" -eq 0 ]
    [ "$(total expired)" -eq 0 ]
    run j get live1
    [ "$output" = keep ]
    grep -q "manual compaction done" "$LOG"
}

@test "compaction filter: a shard a new map takes away is purged; a shard moved in by Clone is kept" {
    juno-ring plan "$MAP" --add z0=s3@127.0.0.1:1 --out "$TMP/map2.json" >/dev/null
    gone=
    for i in $(seq 0 999); do # a key s1 owns now and gives to s3
        juno-ring lookup "$MAP" "g$i" | grep -q "z0: s1 " &&
            juno-ring lookup "$TMP/map2.json" "g$i" | grep -q "z0: s3 " && gone=g$i && break
    done
    [ -n "$gone" ]
    other=$(key_for s2 o)
    start_store --memory
    j set "$gone" v >/dev/null
    j clone "$other" moved-in --record-version 1 --last-modified "$(now_ns)" >/dev/null
    sh=$(shard_of "$gone")
    osh=$(shard_of "$other")
    [ "$(j shard-info "$sh" | jfield records)" -eq 1 ]
    cp "$TMP/map2.json" "$MAP"
    kill -HUP "$SPID"
    for i in $(seq 50); do grep -q "version=2" "$LOG" && break; sleep 0.05; done
    [ "$(j shard-info "$sh" | jfield owned)" = False ]
    run j compact
    [ "$status" -eq 0 ]
    [ "$(j shard-info "$sh" | jfield records)" -eq 0 ]
    [ "$(j shard-info "$osh" | jfield records)" -eq 1 ]
}

@test "a newer Repair that lands between Prepare and Commit is not overwritten by the Commit" {
    start_store --memory
    k=$(key_for s1 race)
    rid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    run j prepare-set "$k" from-commit --rid "$rid"
    [ "${lines[0]}" = Ok ]
    future=$(($(now_ns) + 3600000000000))
    run j repair "$k" from-repair --record-version 7 --last-modified "$future"
    [ "${lines[0]}" = Ok ]
    run j commit "$k" --rid "$rid" --record-version 1 --last-modified "$(now_ns)"
    [ "${lines[0]}" = Ok ]
    run j get "$k"
    [ "$output" = from-repair ]
    # and an ordinary commit still lands
    rid2=$(python3 -c 'import uuid; print(uuid.uuid4())')
    j prepare-set "$k" later --rid "$rid2" >/dev/null
    j commit "$k" --rid "$rid2" --record-version 8 --last-modified $((future + 1)) >/dev/null
    run j get "$k"
    [ "$output" = later ]
}

@test "one-phase: prepare-set --one-phase writes at once: version 1, 2, creation time and originator kept" {
    start_store --memory
    k=$(key_for s1 k)
    run j --one-phase prepare-set "$k" one
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = Ok ]
    r1=$(j read --json "$k")
    [ "$(echo "$r1" | jfield version)" = 1 ]
    [ "$(echo "$r1" | jfield value)" = one ]
    sleep 1.1
    j --one-phase prepare-set "$k" two >/dev/null
    r2=$(j read --json "$k")
    [ "$(echo "$r2" | jfield version)" = 2 ]
    [ "$(echo "$r2" | jfield value)" = two ]
    [ "$(echo "$r2" | jfield creation_time)" = "$(echo "$r1" | jfield creation_time)" ]
    [ "$(echo "$r2" | jfield originator_id)" = "$(echo "$r1" | jfield originator_id)" ]
    [ "$(echo "$r2" | jfield last_modified)" -gt "$(echo "$r1" | jfield last_modified)" ]
    # no lock is left behind: a two-phase write by another request id prepares at once
    run j prepare-set "$k" three
    [ "$status" -eq 0 ]
}

@test "one-phase: conditions are checked and a refused write changes nothing" {
    start_store --memory
    k=$(key_for s1 k)
    j set "$k" v1 >/dev/null
    run j --one-phase prepare-create "$k" x
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = DupKey ]
    run j --one-phase prepare-update "$(key_for s1 missing)" x
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = NoKey ]
    run j --one-phase prepare-update "$k" x --version 7
    [ "$status" -eq 1 ]
    [ "${lines[0]}" = VersionConflict ]
    [ "$(j get "$k")" = v1 ]
    [ "$(j read --json "$k" | jfield version)" = 1 ]
    run j --one-phase prepare-update "$k" v2 --version 1
    [ "$status" -eq 0 ]
    [ "$(j get "$k")" = v2 ]
    [ "$(j read --json "$k" | jfield version)" = 2 ]
}

@test "one-phase: a replayed request id is AlreadyFulfilled; another writer's lock is RecordLocked" {
    start_store --memory
    k=$(key_for s1 k)
    r1=11111111-1111-4111-8111-111111111111
    r2=22222222-2222-4222-8222-222222222222
    j --one-phase prepare-set "$k" a --rid "$r1" >/dev/null
    run j --one-phase prepare-set "$k" a --rid "$r1"
    [ "${lines[0]}" = AlreadyFulfilled ]
    [ "$(j read --json "$k" | jfield version)" = 1 ]
    run j prepare-set "$k" b --rid "$r2"
    [ "$status" -eq 0 ]
    run j --one-phase prepare-set "$k" c
    [ "$status" -eq 75 ]
    [ "${lines[0]}" = RecordLocked ]
    [ "$(j get "$k")" = a ]
}

@test "one-phase: TTL given, then kept; over a tombstone or an expired record the version continues" {
    start_store --memory
    k=$(key_for s1 k)
    j --one-phase prepare-set "$k" a --ttl 100 >/dev/null
    e1=$(j read --json "$k" | jfield expiration_time)
    [ "$e1" -gt "$(date +%s)" ]
    j --one-phase prepare-set "$k" b >/dev/null
    [ "$(j read --json "$k" | jfield expiration_time)" = "$e1" ]
    lm=$(j read --json "$k" | jfield last_modified)
    j mark-delete "$k" --record-version 3 --last-modified $((lm + 1000)) >/dev/null
    run j read "$k"
    [ "${lines[0]}" = MarkedDelete ]
    j --one-phase prepare-set "$k" c --last-modified 5 >/dev/null
    r=$(j read --json "$k")
    [ "$(echo "$r" | jfield value)" = c ]
    [ "$(echo "$r" | jfield version)" = 4 ] # after the tombstone's 3: never a version again
    [ "$(echo "$r" | jfield last_modified)" -gt $((lm + 1000)) ]
    j --one-phase prepare-set "$k" d --ttl 1 >/dev/null
    [ "$(j read --json "$k" | jfield version)" = 5 ]
    sleep 1.1
    run j read "$k"
    [ "${lines[0]}" = NoKey ]
    j --one-phase prepare-create "$k" e >/dev/null
    [ "$(j read --json "$k" | jfield version)" = 6 ]
}

@test "juno-bench --unique: every key of the key space once, in the same order each run" {
    one_node_map
    start_store --memory
    jbu() { juno-bench --store -s "$A" --shards 64 --unique -r 1000 -c 2 -P 8 --csv "$@" | awk -F, 'NR == 2 { print $5, $6 }'; }
    [ "$(jbu -n 500 -t set)" = "0 0" ]       # errors, misses
    [ "$(jbu -n 500 -t get)" = "0 0" ]       # the same 500 keys
    [ "$(jbu -n 1000 -t get)" = "0 500" ]    # then the 500 never written
    [ "$(jbu -n 2000 -t get)" = "0 1000" ]   # past -r the order starts again
}
