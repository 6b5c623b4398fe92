#!/usr/bin/env bats
# juno-cli.bats: `juno` in proxy mode against real daemons: a cluster of 3
# zones x 2 juno-stores (--memory) and one juno-proxy on free loopback ports,
# started once for the file from a 64-shard map. Every command with its
# metadata checked through --json, TTLs, binary values through stdin/stdout,
# exit codes and messages, the environment, batch (5,000 mixed lines against
# a model), retries, and --help kept in step with the completions and the man
# page. teardown_file stops every daemon by PID, even when a test failed.
#
# While juno-proxy is not built ($JUNO_BUILD/juno-proxy missing), every test
# is skipped with a message saying so.

bats_require_minimum_version 1.5.0

load lib

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
BUILD_DIR=${JUNO_BUILD:-$ROOT/build}
export PATH="$BUILD_DIR:$PATH"

stop_all() {
    stop_pids "$BATS_FILE_TMPDIR/pids"
    : >"$BATS_FILE_TMPDIR/pids"
}


start_cluster() {
    local ports p i z n
    read -r -a ports < <(free_ports 7)
    STORES=()
    local zones=()
    i=0
    for z in 0 1 2; do
        local nodes=""
        for n in 1 2; do
            nodes+="${nodes:+,}s$n@127.0.0.1:${ports[i]}"
            STORES+=("127.0.0.1:${ports[i]}")
            i=$((i + 1))
        done
        zones+=(--zone "z$z=$nodes")
    done
    export MAP=$BATS_FILE_TMPDIR/map.json
    juno-ring init --cluster t --shards 64 "${zones[@]}" >"$MAP" || return 1
    export STORES_LIST="${STORES[*]}"
    for p in "${STORES[@]}"; do
        juno-store --listen "$p" --map "$MAP" --memory 2>>"$BATS_FILE_TMPDIR/store-$p.log" &
        echo $! >>"$BATS_FILE_TMPDIR/pids"
        wait_started "juno-store $p" "$BATS_FILE_TMPDIR/store-$p.log" $! \
            juno --store "$p" --timeout 200 nop || return 1
    done
    export PROXY=127.0.0.1:${ports[6]}
    export PROXY_LOG=$BATS_FILE_TMPDIR/proxy.log
    juno-proxy --listen "$PROXY" --map "$MAP" 2>>"$PROXY_LOG" &
    PROXY_PID=$!
    echo "$PROXY_PID" >>"$BATS_FILE_TMPDIR/pids"
    export PROXY_PID
    wait_started juno-proxy "$PROXY_LOG" "$PROXY_PID" juno -s "$PROXY" --timeout 200 --retries 0 ping
}

setup_file() {
    : >"$BATS_FILE_TMPDIR/pids"
    if [ ! -x "$BUILD_DIR/juno-proxy" ]; then
        export JUNO_CLI_SKIP="juno-proxy is not built yet ($BUILD_DIR/juno-proxy missing)"
        return 0
    fi
    # a port picked as free may be taken by another program before the
    # daemon binds it: then start over on new ports
    local try
    for try in 1 2 3; do
        start_cluster && return 0
        stop_all
        cat "$BATS_FILE_TMPDIR"/*.log 2>/dev/null | grep -q 'address already in use' || return 1
        rm -f "$BATS_FILE_TMPDIR"/*.log
    done
    return 1
}

teardown_file() {
    stop_all
}

setup() {
    [ -z "${JUNO_CLI_SKIP:-}" ] || skip "$JUNO_CLI_SKIP"
    cd "$BATS_TEST_TMPDIR" || return 1
    unset JUNO_PROXY JUNO_NAMESPACE
    K="t$BATS_TEST_NUMBER-" # a key prefix of this test's own
}

teardown() {
    # the proxy must outlive every test; say so when it did not
    if [ -n "${PROXY_PID:-}" ] && ! kill -0 "$PROXY_PID" 2>/dev/null; then
        echo "juno-proxy died; its log:" >&2
        tail -n 50 "$PROXY_LOG" >&2
    fi
}

j() { juno -s "$PROXY" "$@"; }

# jfield FIELD: a field of the JSON object on stdin ("" when absent).
jfield() {
    python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"
}

is_uuid4() {
    [[ $1 =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
}

@test "put then get: the value bytes, no newline added; --newline adds one" {
    run j put "${K}k" hello
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    j get "${K}k" >out
    printf 'hello' | cmp - out
    j get --newline "${K}k" >out
    printf 'hello\n' | cmp - out
    # options may also come before the command
    [ "$(j --newline get "${K}k")" = hello ]
}

@test "--json: versions increment, creation time and originator kept, last-modified grows" {
    r1=$(j create --json "${K}k" one)
    [ "$(jfield status <<<"$r1")" = Ok ]
    [ "$(jfield code <<<"$r1")" = 0 ]
    [ "$(jfield version <<<"$r1")" = 1 ]
    rid1=$(jfield request_id <<<"$r1")
    is_uuid4 "$rid1"
    ct=$(jfield creation_time <<<"$r1")
    now=$(date +%s)
    [ "$ct" -ge $((now - 5)) ] && [ "$ct" -le $((now + 1)) ]
    lm1=$(jfield last_modified <<<"$r1")
    [ "$lm1" -gt 0 ]
    sleep 1.1
    r2=$(j put --json "${K}k" two)
    [ "$(jfield version <<<"$r2")" = 2 ]
    [ "$(jfield creation_time <<<"$r2")" = "$ct" ]
    rid2=$(jfield request_id <<<"$r2")
    is_uuid4 "$rid2"
    [ "$rid2" != "$rid1" ]
    r3=$(j update --json "${K}k" three)
    [ "$(jfield version <<<"$r3")" = 3 ]
    [ "$(jfield creation_time <<<"$r3")" = "$ct" ]
    r4=$(j get --json "${K}k")
    [ "$(jfield status <<<"$r4")" = Ok ]
    [ "$(jfield version <<<"$r4")" = 3 ]
    [ "$(jfield value <<<"$r4")" = three ]
    [ "$(jfield value_encoding <<<"$r4")" = "" ]
    [ "$(jfield creation_time <<<"$r4")" = "$ct" ]
    [ "$(jfield last_modified <<<"$r4")" -gt "$lm1" ]
    [ "$(jfield last_modified <<<"$r4")" = "$(jfield last_modified <<<"$r3")" ]
    # the originator is the request id of the Create that made the record
    [ "$(jfield originator_id <<<"$r4")" = "$rid1" ]
    [ "$(jfield originator_id <<<"$r3")" = "$rid1" ]
}

@test "create on an existing key: exit 1 with a message, value unchanged" {
    j create "${K}k" first
    run --separate-stderr j create "${K}k" second
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [ "$stderr" = "juno: error: unable to create \"${K}k\": duplicate key" ]
    [ "$(j get "${K}k")" = first ]
    run --separate-stderr j create --json "${K}k" third
    [ "$status" -eq 1 ]
    [ "$(jfield status <<<"$output")" = DupKey ]
}

@test "get and update of a missing key: exit 1 with a message" {
    run --separate-stderr j get "${K}missing"
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [ "$stderr" = "juno: error: unable to get \"${K}missing\": key not found" ]
    run --separate-stderr j update "${K}missing" v
    [ "$status" -eq 1 ]
    [ "$stderr" = "juno: error: unable to update \"${K}missing\": key not found" ]
    run j get "${K}missing"
    [ "$status" -eq 1 ]
    run --separate-stderr j get --json "${K}missing"
    [ "$status" -eq 1 ]
    [ "$(jfield status <<<"$output")" = NoKey ]
    [ "$(jfield code <<<"$output")" = 3 ]
}

@test "update --if-version: the current version wins, a stale one is a conflict (exit 1)" {
    j create "${K}k" v1
    j put "${K}k" v2
    run j update "${K}k" v3 --if-version 2 --json
    [ "$status" -eq 0 ]
    [ "$(jfield version <<<"$output")" = 3 ]
    run --separate-stderr j update "${K}k" v4 --if-version 2
    [ "$status" -eq 1 ]
    [ "$stderr" = "juno: error: unable to update \"${K}k\": version conflict (current version 3)" ]
    [ "$(j get "${K}k")" = v3 ]
    run --separate-stderr j update --json "${K}k" v4 --if-version 1
    [ "$status" -eq 1 ]
    [ "$(jfield status <<<"$output")" = VersionConflict ]
    [ "$(jfield version <<<"$output")" = 3 ]
    [ "$(j get --json "${K}k" | jfield version)" = 3 ]
}

@test "del removes a key; del of a missing key is exit 0; create works again after" {
    j put "${K}k" v
    run j del "${K}k"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run j get "${K}k"
    [ "$status" -eq 1 ]
    run j del "${K}k"
    [ "$status" -eq 0 ]
    run j del "${K}never"
    [ "$status" -eq 0 ]
    run j create "${K}k" again
    [ "$status" -eq 0 ]
    [ "$(j get "${K}k")" = again ]
}

@test "TTL: --ttl 1 is gone after 2 s; the metadata shows it; create/update take --ttl" {
    now=$(date +%s)
    r=$(j put --json --ttl 1 "${K}short" v)
    [ "$(jfield status <<<"$r")" = Ok ]
    exp=$(jfield expiration_time <<<"$r")
    [ "$exp" -ge "$now" ] && [ "$exp" -le $((now + 3)) ]
    [ "$(jfield ttl <<<"$r")" -le 1 ]
    j create --ttl 100 "${K}c" v
    r=$(j get --json "${K}c")
    ttl=$(jfield ttl <<<"$r")
    [ "$ttl" -ge 98 ] && [ "$ttl" -le 100 ]
    [ "$(jfield expiration_time <<<"$r")" -ge $((now + 98)) ]
    j update --ttl 200 "${K}c" w
    ttl=$(j get --json "${K}c" | jfield ttl)
    [ "$ttl" -ge 198 ] && [ "$ttl" -le 200 ]
    sleep 2
    run j get "${K}short"
    [ "$status" -eq 1 ]
    run j update "${K}short" again
    [ "$status" -eq 1 ]
    run j create "${K}short" new
    [ "$status" -eq 0 ]
}

@test "get --ttl extends a record's TTL" {
    j put --ttl 2 "${K}k" v
    run j get --ttl 60 "${K}k"
    [ "$status" -eq 0 ]
    [ "$output" = v ]
    sleep 3
    run j get --json "${K}k"
    [ "$status" -eq 0 ]
    ttl=$(jfield ttl <<<"$output")
    [ "$ttl" -ge 50 ] && [ "$ttl" -le 60 ]
}

@test "binary values round-trip through stdin and stdout: NUL, newline, 0xFF" {
    printf 'a\0b\nc\r\n\377\376\0' >bin
    j put "${K}k" - <bin
    j get "${K}k" >out
    cmp bin out
    # no VALUE reads stdin too, for create and update
    j create "${K}c" <bin
    j get "${K}c" | cmp bin -
    printf '\0\0\0' >bin2
    j update "${K}c" <bin2
    j get "${K}c" | cmp bin2 -
    # --json: base64 for a value that is not UTF-8
    r=$(j get --json "${K}k")
    [ "$(jfield value_encoding <<<"$r")" = base64 ]
    [ "$(jfield value <<<"$r")" = "$(base64 -w0 <bin)" ]
    # UTF-8 with control characters stays a JSON string
    printf 'caf\303\251\n\ttab' >utf
    j put "${K}u" - <utf
    r=$(j get --json "${K}u")
    [ "$(jfield value_encoding <<<"$r")" = "" ]
    python3 -c 'import json,sys; v=json.loads(sys.argv[1])["value"]; sys.exit(v != "café\n\ttab")' "$r"
    # an empty value
    j put "${K}e" ''
    j get "${K}e" >out
    [ ! -s out ]
    [ "$(j get --json "${K}e" | jfield value)" = "" ]
    # a large value (100 KiB of random bytes)
    head -c 102400 /dev/urandom >big
    j put "${K}big" <big
    j get "${K}big" | cmp big -
}

@test "exit codes: empty key 65, oversized value 65, unreachable server 69, usage 64" {
    run --separate-stderr j get ''
    [ "$status" -eq 65 ]
    [[ "$stderr" == 'juno: error: unable to get "": '* ]]
    run j put '' v
    [ "$status" -eq 65 ]
    head -c 204801 /dev/zero >big
    run j put "${K}big" <big
    [ "$status" -eq 65 ]
    run j get "${K}big"
    [ "$status" -eq 1 ]
    read -r dead < <(free_ports 1)
    run --separate-stderr juno -s "127.0.0.1:$dead" get k
    [ "$status" -eq 69 ]
    [[ "$stderr" == "juno: error: unable to connect to 127.0.0.1:$dead: connection refused"* ]]
    run juno -s "127.0.0.1:$dead" --retries 0 put k v
    [ "$status" -eq 69 ]
    run juno -s "127.0.0.1:$dead" ping
    [ "$status" -eq 69 ]
    run juno -s not-an-address get k
    [ "$status" -eq 64 ]
    for args in "get" "put" "frobnicate k" "get k extra" "put k v extra" "del k --ttl 5" \
        "put k v --if-version 3" "get k --if-version 3" "put k v --newline" "get k --rid x" \
        "get k --record-version 1" "--shards 64 get k" "--retries x get k" "--ttl -1 get k" \
        "update k v --if-version 0" "ping extra" "batch extra"; do
        run juno -s "$PROXY" $args
        echo "juno $args: $status" >&2
        [ "$status" -eq 64 ]
    done
    run juno
    [ "$status" -eq 64 ]
    run juno --store "$PROXY" --server "$PROXY" nop
    [ "$status" -eq 64 ]
}

@test "JUNO_PROXY and JUNO_NAMESPACE are honoured; -s and -n win" {
    read -r dead < <(free_ports 1)
    JUNO_PROXY=$PROXY juno put "${K}k" via-env
    [ "$(JUNO_PROXY=$PROXY juno get "${K}k")" = via-env ]
    [ "$(JUNO_PROXY=127.0.0.1:$dead juno -s "$PROXY" get "${K}k")" = via-env ]
    run env JUNO_PROXY="127.0.0.1:$dead" juno get "${K}k"
    [ "$status" -eq 69 ]
    [[ "$output" == *"127.0.0.1:$dead"* ]]
    # namespaces hold separate keys
    JUNO_NAMESPACE=other j put "${K}k" in-other
    [ "$(j get "${K}k")" = via-env ]
    [ "$(j -n other get "${K}k")" = in-other ]
    [ "$(JUNO_NAMESPACE=other j get "${K}k")" = in-other ]
    [ "$(JUNO_NAMESPACE=other j -n default get "${K}k")" = via-env ]
}

@test "ping: a Nop round trip" {
    run j ping
    [ "$status" -eq 0 ]
    [[ "$output" == "pong from $PROXY: time="*" ms" ]]
    run j ping --json
    [ "$status" -eq 0 ]
    [ "$(jfield status <<<"$output")" = Ok ]
}

@test "the stores hold what the proxy wrote, in every zone (store mode still works)" {
    j put "${K}k" replicated
    lookup=$(juno-ring lookup "$MAP" "${K}k")
    found=0
    for st in $STORES_LIST; do
        grep -q " $st\$" <<<"$lookup" || continue
        if [ "$(juno --store "$st" --map "$MAP" get "${K}k")" = replicated ]; then
            found=$((found + 1))
        fi
    done
    echo "$lookup; copies found: $found" >&2
    [ "$found" -ge 2 ]
}

@test "retries: a key locked on every replica is 75 without retries, written once the lock expires" {
    rid=99999999-9999-4999-8999-999999999999
    # the proxy retries RecordLocked within its --deadline: one whose deadline
    # (150 ms) ends before the stores' lock answers it RecordLocked
    local p2
    read -r p2 < <(free_ports 1)
    juno-proxy --listen "127.0.0.1:$p2" --map "$MAP" --deadline 150 2>>"$BATS_FILE_TMPDIR/proxy2.log" &
    echo $! >>"$BATS_FILE_TMPDIR/pids"
    wait_started juno-proxy "$BATS_FILE_TMPDIR/proxy2.log" $! juno -s "127.0.0.1:$p2" --timeout 200 --retries 0 ping
    lookup=$(juno-ring lookup "$MAP" "${K}k")
    for st in $STORES_LIST; do
        grep -q " $st\$" <<<"$lookup" || continue
        juno --store "$st" --map "$MAP" prepare-set "${K}k" locked --rid "$rid" >/dev/null
    done
    run --separate-stderr juno -s "127.0.0.1:$p2" --retries 0 put "${K}k" v
    echo "put without retries: $status: $stderr" >&2
    [ "$status" -eq 75 ]
    [[ "$stderr" == *"RecordLocked"* ]]
    # the store locks last 600 ms; retries back off 50, 100, 200, 400, 800 ms
    run j --retries 8 put "${K}k" v
    [ "$status" -eq 0 ]
    [ "$(j get "${K}k")" = v ]
}

# gen_batch N: N mixed lines over 300 keys, and the expected output, from a
# model of the store: prefix.in, prefix.want; the model's exit status in
# prefix.rc. Keys k0-k99 are never deleted (their versions are tracked for
# conditional updates); k100-k299 are put, created, deleted and read.
gen_batch() {
    python3 - "$1" "$2" "$3" <<'EOF'
import random, sys
n, prefix, kp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rnd = random.Random(42)
def enc(b):  # escape for the input: any byte may use \xHH
    s = ""
    for c in b:
        if c == 9: s += "\\t"
        elif c == 10: s += "\\n"
        elif c == 13: s += "\\r"
        elif c == 92: s += "\\\\"
        elif c == 0: s += "\\0"
        elif c < 32 or c >= 127: s += "\\x%02x" % c
        else: s += chr(c)
    return s
def outesc(b):  # what juno prints: control bytes escaped, the rest as is
    r = bytearray()
    for c in b:
        e = {9: b"\\t", 10: b"\\n", 13: b"\\r", 92: b"\\\\"}.get(c)
        if e: r += e
        elif c < 32 or c == 127: r += b"\\x%02x" % c
        else: r.append(c)
    return bytes(r)
db = {}  # key -> [value, version]
ins, outs, ok = [], [], True
for i in range(n):
    if i < 100:
        k = "k%d" % i; op = "create"
    else:
        k = "k%d" % rnd.randrange(300 if rnd.random() < 0.5 else 100)
        op = rnd.choice(["get", "get", "put", "put", "create", "update", "update", "del"])
        if op == "del" and int(k[1:]) < 100: op = "get"
    key = (kp + k).encode()
    v = b"v%d" % i
    if i % 7 == 0: v += b"\t\n\r\\\0\xff\x01 \xc3\xa9"
    if i % 11 == 0: v = b""
    r = db.get(key)
    if op == "get":
        ins.append(f"get\t{enc(key)}")
        outs.append(b"OK\t" + outesc(r[0]) if r else b"NOT_FOUND")
    elif op == "put":
        ins.append(f"put\t{enc(key)}\t{enc(v)}")
        db[key] = [v, r[1] + 1 if r else 1]; outs.append(b"OK")
    elif op == "create":
        ins.append(f"create\t{enc(key)}\t{enc(v)}")
        if r: outs.append(b"EXISTS")
        else: db[key] = [v, 1]; outs.append(b"OK")
    elif op == "del":
        ins.append(f"del\t{enc(key)}")
        db.pop(key, None); outs.append(b"OK")
    else:
        cond = int(k[1:]) < 100 and rnd.random() < 0.6
        ver = None
        if cond:
            ver = r[1] if (r and rnd.random() < 0.7) else (r[1] + 5 if r else 3)
        ins.append(f"update\t{enc(key)}\t{enc(v)}" + (f"\t{ver}" if ver else ""))
        if not r: outs.append(b"NOT_FOUND")
        elif ver is not None and ver != r[1]: outs.append(b"CONFLICT"); ok = False
        else: db[key] = [v, r[1] + 1]; outs.append(b"OK")
open(prefix + ".in", "w").write("\n".join(ins) + "\n")
open(prefix + ".want", "wb").write(b"\n".join(outs) + b"\n")
open(prefix + ".rc", "w").write("0\n" if ok else "1\n")
EOF
}

@test "batch: 5,000 mixed lines give the model's results in input order" {
    gen_batch 5000 b "${K}"
    [ "$(wc -l <b.in)" -eq 5000 ]
    run --separate-stderr j batch <b.in
    printf '%s\n' "$output" >b.got
    echo "exit $status; stderr: $stderr" >&2
    diff b.want b.got >&2
    [ "$status" -eq "$(cat b.rc)" ]
    [ "$status" -eq 1 ] # the model has conflicts
    grep -q '^CONFLICT$' b.got
    grep -q '^EXISTS$' b.got
    grep -q '^NOT_FOUND$' b.got
    # the same lines again with a window of 3: the same results from a fresh keyspace
    gen_batch 5000 w "${K}w-"
    run --separate-stderr j --window 3 batch <w.in
    printf '%s\n' "$output" | diff w.want - >&2
}

@test "a deleted key stays deleted: put, del, get of 6,000 keys, then every key read again" {
    # regression: Destroy used to delete outright when every replica prepared;
    # a get racing the last Delete read the old copy and read repair restored it
    python3 -c '
import sys
for i in range(6000): print(f"put\t{sys.argv[1]}rz-{i}\tv{i}\ndel\t{sys.argv[1]}rz-{i}\nget\t{sys.argv[1]}rz-{i}")' "$K" >rz.in
    j batch <rz.in >rz.out
    [ "$(paste rz.in rz.out | awk -F'\t' '$1 == "get" && $3 != "NOT_FOUND"' | wc -l)" -eq 0 ]
    sleep 1 # let read repair and late replies settle
    python3 -c '
import sys
for i in range(6000): print(f"get\t{sys.argv[1]}rz-{i}")' "$K" | j batch >rz.again
    [ "$(grep -c -v '^NOT_FOUND$' rz.again)" -eq 0 ]
}

@test "batch: binary values, BadInput lines, exit 0 with only OK, NOT_FOUND and EXISTS" {
    printf 'put\t%sa\ta\\tb\\n\\x00\\xff\\\\\nget\t%sa\ncreate\t%sa\tx\nget\t%snone\nupdate\t%snone\tv\ndel\t%sa\nget\t%sa\n' \
        "$K" "$K" "$K" "$K" "$K" "$K" "$K" >in
    run --separate-stderr j batch <in
    [ "$status" -eq 0 ]
    printf '%s\n' "$output" >got
    printf 'OK\nOK\ta\\tb\\n\\x00\xff\\\\\nEXISTS\nNOT_FOUND\nNOT_FOUND\nOK\nNOT_FOUND\n' | diff - got
    printf 'get\nfrob\tk\nget\tk\textra\nput\tk\tv\textra\nupdate\tk\tv\tnotanumber\nget\tbad\\q\nset\t%ss\tv\nget\t%ss\n' \
        "$K" "$K" >in2
    run --separate-stderr j batch <in2
    [ "$status" -eq 1 ]
    [ "${lines[*]}" = "ERR	BadInput ERR	BadInput ERR	BadInput ERR	BadInput ERR	BadInput ERR	BadInput OK OK	v" ]
    [ "$(grep -c 'batch line' <<<"$stderr")" -eq 6 ]
    # an empty input is an empty output
    run j batch </dev/null
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "batch: --ttl applies to writes; an unreachable proxy is 69" {
    # TTL 2, not 1: expiration is in whole seconds, so a TTL of 1 may end a
    # few ms after the write (too soon for the read below on a slow machine)
    printf 'put\t%sa\tv\ncreate\t%sb\tv\n' "$K" "$K" | j batch --ttl 2 >out
    [ "$(cat out)" = "$(printf 'OK\nOK')" ]
    [ "$(j get "${K}a")" = v ]
    sleep 3
    run j get "${K}a"
    [ "$status" -eq 1 ]
    run j get "${K}b"
    [ "$status" -eq 1 ]
    read -r dead < <(free_ports 1)
    run --separate-stderr juno -s "127.0.0.1:$dead" batch <<<"get	k"
    [ "$status" -eq 69 ]
    [[ "$stderr" == *"connection refused"* ]]
}

@test "batch: a proxy killed and restarted mid-run: lines in flight are resent, every line OK" {
    local try
    for try in 1 2 3; do # again on another port if the one picked was taken
        read -r port < <(free_ports 1)
        p2=127.0.0.1:$port
        juno-proxy --listen "$p2" --map "$MAP" 2>proxy2.log &
        pid=$!
        echo "$pid" >>"$BATS_FILE_TMPDIR/pids"
        wait_started "second juno-proxy" proxy2.log "$pid" juno -s "$p2" --retries 0 ping && break
        grep -q 'address already in use' proxy2.log
    done
    python3 -c '
import sys
for i in range(150000): print(f"put\t{sys.argv[1]}{i}\tvalue-{i}")' "$K" >in
    juno -s "$p2" --retries 10 batch <in >out 2>err &
    bpid=$!
    sleep 0.7
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    juno-proxy --listen "$p2" --map "$MAP" 2>>proxy2.log &
    pid=$!
    echo "$pid" >>"$BATS_FILE_TMPDIR/pids"
    rc=0
    wait "$bpid" || rc=$?
    kill -TERM "$pid"
    echo "batch exit $rc; stderr:" >&2
    head -n 5 err >&2
    sort out | uniq -c | sort -rn | head -n 5 >&2
    [ "$rc" -eq 0 ]
    [ "$(wc -l <out)" -eq 150000 ]
    [ "$(grep -c '^OK$' out)" -eq 150000 ]
    # the proxy was killed in the middle of the run, and the batch noticed
    grep -q 'reconnecting' err
    # every value is there, written once: version 1 (a conditional update
    # on version 1 succeeds for every key)
    sed 's/^put\t\([^\t]*\)\t.*/get\t\1/' in | j batch >got
    sed 's/^put\t[^\t]*\t/OK\t/' in | diff - got >/dev/null
    sed 's/$/\t1/; s/^put/update/' in | j batch >upd
    [ "$(grep -c '^OK$' upd)" -eq 150000 ]
}

@test "--help lists commands, options, environment and exit codes; --version" {
    run --separate-stderr juno --help
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [[ $output == "Usage: juno "* ]]
    for c in get put create update del ping batch; do [[ $output == *"  $c "* ]]; done
    for o in server namespace ttl if-version json newline timeout retries window store help version; do
        [[ $output == *"--$o"* ]]
    done
    [[ $output == *"JUNO_PROXY"* && $output == *"JUNO_NAMESPACE"* ]]
    [[ $output == *"127.0.0.1:8080"* ]]
    for code in 0 1 64 65 69 75 76; do [[ $output == *"  $code "* ]]; done
    [[ $output == *"Batch format"* && $output == *"\\xHH"* ]]
    run juno --version
    [ "$status" -eq 0 ]
    [[ $output =~ ^juno\ [0-9]+\.[0-9]+\.[0-9]+ ]]
    run juno -V
    [ "$status" -eq 0 ]
}

@test "completions and man page name every command and long option of --help" {
    local help opts o c
    help=$(juno --help)
    opts=$(grep -oE -- '--[a-z][a-z-]+' <<<"$help" | sort -u)
    [ "$(wc -l <<<"$opts")" -ge 20 ]
    for o in $opts; do
        grep -qF -- "$o" "$ROOT/completions/juno.bash" || { echo "bash lacks $o"; false; }
        grep -qF -- "$o" "$ROOT/completions/_juno" || { echo "zsh lacks $o"; false; }
        grep -qF -- "${o//-/\\-}" "$ROOT/docs/man/juno.1" || { echo "man lacks $o"; false; }
    done
    for c in $(sed -n '/^Commands:/,/^A VALUE/p; /^Store mode/,/^Output:/p' <<<"$help" |
        awk '/^  [a-z]/ {print $1}'); do
        grep -qw -- "$c" "$ROOT/completions/juno.bash" || { echo "bash lacks $c"; false; }
        grep -q -- "'$c:" "$ROOT/completions/_juno" || { echo "zsh lacks $c"; false; }
        grep -qwF -- "${c//-/\\-}" "$ROOT/docs/man/juno.1" || { echo "man lacks $c"; false; }
    done
    bash -n "$ROOT/completions/juno.bash"
    ! command -v zsh >/dev/null || zsh -n "$ROOT/completions/_juno"
    # the bash completion offers commands and per-mode options
    source "$ROOT/completions/juno.bash"
    COMP_WORDS=(juno up) COMP_CWORD=1
    _juno
    [ "${COMPREPLY[*]}" = update ]
    COMP_WORDS=(juno update k --if) COMP_CWORD=3
    _juno
    [ "${COMPREPLY[*]}" = --if-version ]
    COMP_WORDS=(juno --store 127.0.0.1:1 prepare-s) COMP_CWORD=3
    _juno
    [ "${COMPREPLY[*]}" = prepare-set ]
}

@test "the man page renders without warnings" {
    command -v man >/dev/null || skip "no man"
    run man -l "$ROOT/docs/man/juno.1"
    [ "$status" -eq 0 ]
    [[ $output == *"EXIT STATUS"* && $output == *"BATCH FORMAT"* ]]
    if command -v groff >/dev/null; then
        run groff -wall -man -Tutf8 -z "$ROOT/docs/man/juno.1"
        [ "$status" -eq 0 ]
        [ -z "$output" ]
    fi
}
