#!/usr/bin/env bats
# tls.bats: TLS on every connection, with real daemons and a real CA made by
# the openssl command: stores with mutual TLS (the cluster CA), a proxy with
# TLS on both faces and mutual TLS to its stores, juno, juno-migrate, juno-repair,
# redis-cli --tls, redis-py with ssl=True, openssl s_client, and bad peers
# (test/tls_probe.py): plaintext, random bytes as a ClientHello, a handshake
# that never ends, a flood of them, a certificate from another CA, an
# expired one. Each is refused with one log line and a counter, and the
# daemon keeps serving everyone else. teardown stops every process by PID.

load lib

PROBE="$BATS_TEST_DIRNAME/tls_probe.py"

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-tls.XXXXXX")
    : >"$TMP/pids"
    read -r P1 P2 P3 PX PR PM PN < <(free_ports 7)
    S1=127.0.0.1:$P1 S2=127.0.0.1:$P2 S3=127.0.0.1:$P3
    PROXY=127.0.0.1:$PX RESP=127.0.0.1:$PR METRICS=127.0.0.1:$PM
    MAP=$TMP/map.json
    C=$TMP/certs
    make_certs
}

teardown() {
    stop_pids "$TMP/pids"
    local bad=0
    sanitizer_reports "$TMP"/*.log && bad=1
    rm -rf "$TMP"
    return "$bad"
}

make_certs() {
    mkdir -p "$C"
    echo 'subjectAltName=IP:127.0.0.1,DNS:localhost' >"$C/san.ext"
    ca ca
    ca other
    cert store ca
    cert proxy ca
    cert client ca
    cert stranger other
    cert expired ca -1 # not after a day before it is valid: expired
}

# jt: juno with the client's certificate from the cluster CA.
jt() { juno --tls-ca "$C/ca.pem" --tls-cert "$C/client.pem" --tls-key "$C/client.key" "$@"; }

# start_tls_store NAME ADDR [options]: a juno-store --memory with mutual TLS.
start_tls_store() {
    local name=$1 addr=$2
    shift 2
    juno-store --listen "$addr" --map "$MAP" --memory --tls-cert "$C/store.pem" \
        --tls-key "$C/store.key" --tls-ca "$C/ca.pem" "$@" 2>>"$TMP/$name.log" &
    echo $! >>"$TMP/pids"
    echo $! >"$TMP/$name.pid"
    wait_started "juno-store $name" "$TMP/$name.log" $! jt --store "$addr" --timeout 500 nop
}

# start_tls_proxy [options]: juno-proxy with TLS to clients (both faces) and
# to the stores.
start_tls_proxy() {
    juno-proxy --listen "$PROXY" --resp "$RESP" --map "$MAP" --tls-cert "$C/proxy.pem" \
        --tls-key "$C/proxy.key" --upstream-tls-cert "$C/proxy.pem" \
        --upstream-tls-key "$C/proxy.key" --upstream-tls-ca "$C/ca.pem" "$@" \
        2>>"$TMP/proxy.log" &
    echo $! >>"$TMP/pids"
    echo $! >"$TMP/proxy.pid"
    wait_started juno-proxy "$TMP/proxy.log" $! jt --server "$PROXY" --timeout 500 ping
    sleep 0.2 # the first connections to the stores
}

one_store() {
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$S1" >"$MAP"
    start_tls_store s1 "$S1" --metrics "$METRICS" "$@"
}

# metric NAME LABELS: the value of one series at $METRICS.
metric() {
    curl -s "http://$METRICS/metrics" | awk -v k="$1{$2}" '$1 == k { print $2 }'
}

# wait_log FILE PATTERN: until the file has a line matching PATTERN (2 s).
wait_log() {
    local i
    for i in $(seq 40); do
        grep -q -- "$2" "$1" && return 0
        sleep 0.05
    done
    echo "no line matching '$2' in $1:" >&2
    cat "$1" >&2
    return 1
}

@test "a TLS store serves only peers the CA signed: plaintext is refused, logged and counted; TLS clients go on" {
    one_store
    jt --store "$S1" --shards 64 set k v >/dev/null
    [ "$(jt --store "$S1" --shards 64 get k)" = v ]
    run juno --store "$S1" --timeout 1000 nop # plaintext
    [ "$status" -ne 0 ]
    wait_log "$TMP/s1.log" "TLS handshake refused peer=127.0.0.1:[0-9]* reason=not_tls detail=\"the first bytes are not a TLS handshake: 50 50 .*(a JunoDB message)\""
    run python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n"); print(s.recv(10))' "$P1"
    [ "$output" = "b''" ] # closed, nothing said in plaintext
    [ "$(metric juno_store_tls_handshake_failures_total 'role="server",reason="not_tls"')" = 2 ]
    [ "$(metric juno_store_tls_handshake_failures_total 'role="server",reason="expired"')" = 0 ]
    [ "$(jt --store "$S1" --shards 64 get k)" = v ] # serving on
    # what openssl s_client sees: TLS 1.3, the store's certificate, a client certificate asked
    run bash -c "openssl s_client -connect $S1 -CAfile $C/ca.pem -cert $C/client.pem -key $C/client.key </dev/null 2>&1"
    [[ "$output" == *"subject=CN = store"* ]]
    [[ "$output" == *"Verify return code: 0 (ok)"* ]]
    [[ "$output" == *"TLSv1.3"* ]]
}

@test "random bytes as a ClientHello, and TLS 1.1, are refused with their reason; the store goes on serving" {
    one_store
    run python3 "$PROBE" junk 127.0.0.1 "$P1"
    [ "$output" = closed ]
    wait_log "$TMP/s1.log" "reason=protocol detail="
    run bash -c "openssl s_client -connect $S1 -tls1_1 -cipher DEFAULT@SECLEVEL=0 </dev/null 2>&1"
    [ "$status" -ne 0 ]
    wait_log "$TMP/s1.log" "reason=version detail=\"unsupported protocol (TLS 1.2 and 1.3 only)\""
    [ "$(metric juno_store_tls_handshake_failures_total 'role="server",reason="protocol"')" = 1 ]
    [ "$(metric juno_store_tls_handshake_failures_total 'role="server",reason="version"')" = 1 ]
    jt --store "$S1" nop >/dev/null
}

@test "a client certificate from another CA, an expired one, and none at all are refused, each with its reason and the peer's name" {
    one_store
    run juno --store "$S1" --tls-ca "$C/ca.pem" --tls-cert "$C/stranger.pem" --tls-key "$C/stranger.key" nop
    [ "$status" -eq 76 ]
    [[ "$output" == *"the peer refused"* ]]
    wait_log "$TMP/s1.log" "reason=untrusted detail=\"certificate verify failed: unable to get local issuer certificate (depth 0)\" subject=\"CN=stranger\""
    run juno --store "$S1" --tls-ca "$C/ca.pem" --tls-cert "$C/expired.pem" --tls-key "$C/expired.key" nop
    [ "$status" -eq 76 ]
    wait_log "$TMP/s1.log" "reason=expired detail=\"certificate verify failed: certificate has expired (depth 0)\" subject=\"CN=expired\""
    run juno --store "$S1" --tls-ca "$C/ca.pem" nop
    [ "$status" -eq 76 ]
    [[ "$output" == *"certificate required"* ]]
    wait_log "$TMP/s1.log" "reason=no_certificate"
    # a store whose certificate another CA signed is not trusted by its clients
    run juno --store "$S1" --tls-ca "$C/other.pem" --tls-cert "$C/client.pem" --tls-key "$C/client.key" nop
    [ "$status" -eq 76 ]
    [[ "$output" == *"TLS handshake failed: untrusted: certificate verify failed"* ]]
    wait_log "$TMP/s1.log" "reason=alert detail=\"the peer refused: tlsv1 alert unknown ca\""
    for r in untrusted expired no_certificate alert; do
        [ "$(metric juno_store_tls_handshake_failures_total "role=\"server\",reason=\"$r\"")" = 1 ]
    done
    jt --store "$S1" nop >/dev/null
}

@test "a handshake that never finishes is cut at --tls-handshake-timeout" {
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$S1" >"$MAP"
    start_tls_store s1 "$S1"
    start_tls_proxy --tls-handshake-timeout 500 --metrics "$METRICS"
    run python3 "$PROBE" stall 127.0.0.1 "$PX"
    python3 -c 'import sys; t = float(sys.argv[1]); sys.exit(0 if 0.45 < t < 2.5 else 1)' "$output"
    wait_log "$TMP/proxy.log" "TLS handshake refused peer=127.0.0.1:[0-9]* reason=timeout detail=\"not finished within 500 ms\""
    [ "$(metric juno_proxy_tls_handshake_failures_total 'role="native",reason="timeout"')" = 1 ]
    # the store's deadline (default 10 s) holds too; its sweep runs each second
    jt --server "$PROXY" put k v >/dev/null
    [ "$(jt --server "$PROXY" get k)" = v ]
}

@test "a flood of handshakes: past --tls-max-handshakes connections are refused at once; a client already connected is served throughout" {
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$S1" >"$MAP"
    start_tls_store s1 "$S1"
    start_tls_proxy --tls-max-handshakes 3 --tls-handshake-timeout 2000 --metrics "$METRICS"
    run python3 "$PROBE" flood 127.0.0.1 "$PR" "$C/ca.pem" 10 4
    echo "$output"
    [ "$output" = "first=yes refused=7 served=yes cut=10 new=yes" ]
    [ "$(grep -c 'reason=busy detail="3 handshakes in progress' "$TMP/proxy.log")" -eq 7 ]
    [ "$(grep -c 'reason=timeout' "$TMP/proxy.log")" -eq 3 ]
    [ "$(metric juno_proxy_tls_handshake_failures_total 'role="resp",reason="busy"')" = 7 ]
    [ "$(metric juno_proxy_tls_handshake_failures_total 'role="resp",reason="timeout"')" = 3 ]
}

@test "SIGHUP reloads the proxy's certificate: new connections get it, an open one stays; broken files are refused and the old ones kept" {
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$S1" >"$MAP"
    start_tls_store s1 "$S1"
    cp "$C/proxy.pem" "$C/live.pem"
    cp "$C/proxy.key" "$C/live.key"
    juno-proxy --listen "$PROXY" --resp "$RESP" --map "$MAP" --tls-cert "$C/live.pem" \
        --tls-key "$C/live.key" --upstream-tls-cert "$C/proxy.pem" \
        --upstream-tls-key "$C/proxy.key" --upstream-tls-ca "$C/ca.pem" 2>>"$TMP/proxy.log" &
    echo $! >>"$TMP/pids"
    PPID_=$!
    wait_started juno-proxy "$TMP/proxy.log" $PPID_ jt --server "$PROXY" --timeout 500 ping
    # an open RESP connection (redis-py over TLS), kept across the reload
    mkfifo "$TMP/go" "$TMP/done"
    /usr/bin/python3 -c '
import redis, sys
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), ssl=True, ssl_ca_certs=sys.argv[2],
                single_connection_client=True)
r.set("before", "1")
print("first", r.get("before").decode(), flush=True)
open(sys.argv[3]).read()   # wait for the reload
print("after", r.get("before").decode(), r.client_id() == r.client_id(), flush=True)
open(sys.argv[4], "w").close()' "$PR" "$C/ca.pem" "$TMP/go" "$TMP/done" >"$TMP/py.out" 2>&1 &
    PY=$!
    for i in $(seq 100); do grep -q first "$TMP/py.out" && break; sleep 0.05; done
    grep -q "first 1" "$TMP/py.out"
    cert proxy2 ca
    cp "$C/proxy2.pem" "$C/live.pem"
    cp "$C/proxy2.key" "$C/live.key"
    kill -HUP $PPID_
    wait_log "$TMP/proxy.log" "TLS certificates reloaded for clients cert=$C/live.pem"
    run bash -c "openssl s_client -connect $PROXY -CAfile $C/ca.pem </dev/null 2>&1"
    [[ "$output" == *"subject=CN = proxy2"* ]]
    echo go >"$TMP/go"
    cat "$TMP/done" >/dev/null
    wait $PY
    grep -q "after 1 True" "$TMP/py.out" # the same connection, served after the reload
    # a broken file is refused: the certificate in use stays
    echo broken >"$C/live.pem"
    kill -HUP $PPID_
    wait_log "$TMP/proxy.log" "TLS reload refused for clients, keeping the certificates in use: cannot load TLS certificate $C/live.pem"
    run bash -c "openssl s_client -connect $PROXY -CAfile $C/ca.pem </dev/null 2>&1"
    [[ "$output" == *"subject=CN = proxy2"* ]]
    [ "$(jt --server "$PROXY" get --newline before)" = 1 ]
}

@test "proxy to store mutual TLS end to end: juno, redis-cli --tls and redis-py ssl=True through a TLS proxy to TLS stores" {
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$S1" --zone "z1=s2@$S2" \
        --zone "z2=s3@$S3" >"$MAP"
    start_tls_store s1 "$S1"
    start_tls_store s2 "$S2"
    start_tls_store s3 "$S3"
    start_tls_proxy --metrics "$METRICS"
    grep -q "listening .* tls=on upstream_tls=mutual" "$TMP/proxy.log"
    juno --server "$PROXY" --tls-ca "$C/ca.pem" put hello world >/dev/null
    [ "$(JUNO_TLS_CA=$C/ca.pem juno --server "$PROXY" get --newline hello)" = world ]
    # every replica has it (read over mutual TLS with each store)
    for s in "$S1" "$S2" "$S3"; do
        [ "$(jt --store "$s" --map "$MAP" -n default get hello)" = world ]
    done
    # many requests on one connection, pipelined
    for i in $(seq 1 500); do printf 'put\tk%d\tv%d\n' "$i" "$i"; done |
        JUNO_TLS=1 JUNO_TLS_CA=$C/ca.pem juno --server "$PROXY" batch | sort | uniq -c | grep -q '500 OK'
    # juno-bench takes the same variables
    JUNO_TLS_CA=$C/ca.pem juno-bench -s "$PROXY" -c 2 -n 200 -t set,get --json >"$TMP/bench.json"
    /usr/bin/python3 -c 'import json, sys
tests = json.load(open(sys.argv[1]))["tests"]
assert len(tests) == 2 and all(t["errors"] == 0 and t["requests"] == 200 for t in tests), tests' \
        "$TMP/bench.json"
    run redis-cli --tls --cacert "$C/ca.pem" -h 127.0.0.1 -p "$PR" set rk rv
    [ "$output" = OK ]
    [ "$(redis-cli --tls --cacert "$C/ca.pem" -h 127.0.0.1 -p "$PR" get k7)" = v7 ]
    run /usr/bin/python3 -c '
import redis, sys
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), ssl=True, ssl_ca_certs=sys.argv[2])
print(r.get("rk").decode(), r.mget("k1", "k500", "nope"))' "$PR" "$C/ca.pem"
    [ "$output" = "rv [b'v1', b'v500', None]" ]
    # plaintext on the TLS ports is refused; the proxy goes on
    run redis-cli -h 127.0.0.1 -p "$PR" ping
    [ "$output" != PONG ]
    run juno --server "$PROXY" --timeout 1000 --retries 0 get hello
    [ "$status" -ne 0 ]
    wait_log "$TMP/proxy.log" "reason=not_tls .*(a RESP command)"
    wait_log "$TMP/proxy.log" "reason=not_tls .*(a JunoDB message)"
    [ "$(metric juno_proxy_tls_handshake_failures_total 'role="resp",reason="not_tls"')" = 1 ]
    [ "$(metric juno_proxy_tls_handshake_failures_total 'role="native",reason="not_tls"')" -ge 1 ]
    [ "$(metric juno_proxy_tls_handshake_failures_total 'role="upstream",reason="untrusted"')" = 0 ]
    [ "$(JUNO_TLS_CA=$C/ca.pem juno --server "$PROXY" get --newline hello)" = world ]
}

@test "a proxy with --tls-ca requires a client certificate the CA signed, on both faces" {
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$S1" >"$MAP"
    start_tls_store s1 "$S1"
    start_tls_proxy --tls-ca "$C/ca.pem"
    jt --server "$PROXY" put k v >/dev/null
    run juno --server "$PROXY" --tls-ca "$C/ca.pem" --retries 0 get k
    [ "$status" -ne 0 ]
    [[ "$output" == *"certificate required"* ]]
    run juno --server "$PROXY" --tls-ca "$C/ca.pem" --tls-cert "$C/stranger.pem" \
        --tls-key "$C/stranger.key" --retries 0 get k
    [ "$status" -ne 0 ]
    wait_log "$TMP/proxy.log" "reason=untrusted .*subject=\"CN=stranger\""
    [ "$(redis-cli --tls --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key" -h 127.0.0.1 -p "$PR" get k)" = v ]
    run redis-cli --tls --cacert "$C/ca.pem" -h 127.0.0.1 -p "$PR" get k
    [ "$output" != v ]
}

@test "stores refuse a proxy without upstream TLS (not_tls): it answers NoStorageServer; a proxy with the wrong CA fails them (untrusted), counted" {
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$S1" >"$MAP"
    start_tls_store s1 "$S1"
    juno-proxy --listen "$PROXY" --map "$MAP" --request-timeout 200 2>>"$TMP/proxy.log" &
    echo $! >>"$TMP/pids"
    wait_started juno-proxy "$TMP/proxy.log" $! juno --server "$PROXY" --timeout 500 ping
    run juno --server "$PROXY" --retries 0 put k v
    [ "$status" -eq 69 ]
    [[ "$output" == *NoStorageServer* ]]
    wait_log "$TMP/s1.log" "reason=not_tls"
    stop_pids "$TMP/pids" # the plaintext proxy; the store restarts below
    : >"$TMP/pids"
    start_tls_store s1 "$S1"
    juno-proxy --listen "$PROXY" --map "$MAP" --request-timeout 200 --metrics "$METRICS" \
        --upstream-tls-cert "$C/proxy.pem" --upstream-tls-key "$C/proxy.key" \
        --upstream-tls-ca "$C/other.pem" 2>>"$TMP/proxy2.log" &
    echo $! >>"$TMP/pids"
    wait_started juno-proxy "$TMP/proxy2.log" $! juno --server "$PROXY" --timeout 500 ping
    run juno --server "$PROXY" --retries 0 put k v
    [ "$status" -eq 69 ]
    wait_log "$TMP/proxy2.log" "TLS handshake failed peer=$S1 reason=untrusted"
    wait_log "$TMP/proxy2.log" "store marked down addr=$S1 .*TLS handshake failed: untrusted"
    [ "$(metric juno_proxy_tls_handshake_failures_total 'role="upstream",reason="untrusted"')" -ge 1 ]
}

@test "juno-migrate moves shards between TLS stores: the shard streams are mutual TLS, nothing is lost" {
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$S1,s2@$S2" >"$MAP"
    start_tls_store s1 "$S1"
    start_tls_store s2 "$S2"
    start_tls_proxy
    for i in $(seq 1 2000); do printf 'put\tk%d\tv%d\n' "$i" "$i"; done |
        jt --server "$PROXY" --namespace t batch >/dev/null
    juno-ring plan "$MAP" --add "z0=s3@$S3" --json >"$TMP/plan.json"
    python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["map"]))' \
        "$TMP/plan.json" >"$TMP/new.json"
    juno-store --listen "$S3" --map "$TMP/new.json" --memory --tls-cert "$C/store.pem" \
        --tls-key "$C/store.key" --tls-ca "$C/ca.pem" 2>>"$TMP/s3.log" &
    echo $! >>"$TMP/pids"
    echo $! >"$TMP/s3.pid"
    wait_started "juno-store s3" "$TMP/s3.log" $! jt --store "$S3" --timeout 500 nop
    # a migrator without TLS is refused by the stores
    run timeout 20 juno-migrate "$TMP/plan.json" --map-file "$MAP" --wait 1 --yes
    [ "$status" -ne 0 ]
    wait_log "$TMP/s1.log" "reason=not_tls"
    reload=""
    for f in "$TMP"/*.pid; do reload+="--reload $(cat "$f") "; done
    # shellcheck disable=SC2086
    run juno-migrate "$TMP/plan.json" --map-file "$MAP" --map-file "$TMP/new.json" $reload \
        --yes --tls-ca "$C/ca.pem" --tls-cert "$C/client.pem" --tls-key "$C/client.key"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"done version=2"* ]]
    grep -q "shard stream caught up" "$TMP/s1.log" "$TMP/s2.log"
    ! grep -q "TLS handshake" "$TMP/s3.log" # the streams' handshakes all succeeded
    run bash -c "for i in \$(seq 1 2000); do printf 'get\tk%d\n' \"\$i\"; done |
        juno --tls-ca $C/ca.pem --tls-cert $C/client.pem --tls-key $C/client.key \
            --server $PROXY --namespace t batch | awk -F'\t' '\$1 == \"OK\" && \$2 == \"v\" NR { n++ } END { print n }'"
    [ "$output" = 2000 ]
}

@test "juno-repair against stores with mutual TLS: refused without the cluster CA's certificate, with it finds and copies records on one replica" {
    juno-ring init --cluster t --shards 16 --zone "z0=s1@$S1" --zone "z1=s1@$S2" \
        --zone "z2=s1@$S3" >"$MAP"
    start_tls_store s1 "$S1"
    start_tls_store s2 "$S2"
    start_tls_store s3 "$S3"
    for i in 1 2 3; do jt --store "$S1" --map "$MAP" set "lone$i" "x$i" >/dev/null; done
    # plaintext, and a certificate from another CA: every shard left for later
    run timeout 20 juno-repair --map-file "$MAP" --timeout 2000
    [ "$status" -eq 75 ]
    wait_log "$TMP/s1.log" "reason=not_tls"
    run timeout 20 juno-repair --map-file "$MAP" --timeout 2000 --json --tls-ca "$C/ca.pem" \
        --tls-cert "$C/stranger.pem" --tls-key "$C/stranger.key"
    [ "$status" -eq 75 ]
    [[ "$output" == *'"event":"unreachable"'*'"error":"alert: the peer refused: tlsv1 alert unknown ca"'* ]]
    wait_log "$TMP/s2.log" "reason=untrusted"
    # the cluster CA's certificate, from the environment: the three records differ
    run env JUNO_TLS_CA="$C/ca.pem" JUNO_TLS_CERT="$C/client.pem" JUNO_TLS_KEY="$C/client.key" \
        juno-repair --map-file "$MAP" --dry-run
    [ "$status" -eq 1 ]
    [ "$(grep -c '^differs shard=.* z1/s1=absent z2/s1=absent newest=z0/s1$' <<<"$output")" -eq 3 ]
    # and from the options: repaired, each on the two other replicas
    run juno-repair --map-file "$MAP" --tls-ca "$C/ca.pem" --tls-cert "$C/client.pem" \
        --tls-key "$C/client.key"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *" shards=16 differing=2 records=3 repaired=6 "*" incomplete=0 "* ]]
    for i in 1 2 3; do
        [ "$(jt --store "$S2" --map "$MAP" get "lone$i")" = "x$i" ]
        [ "$(jt --store "$S3" --map "$MAP" get "lone$i")" = "x$i" ]
    done
}

@test "TLS options: they go together, files that do not load exit 78 naming the file, --check-config loads them" {
    juno-ring init --cluster t --shards 64 --zone "z0=s1@$S1" >"$MAP"
    run juno-store --listen "$S1" --map "$MAP" --memory --tls-cert "$C/store.pem"
    [ "$status" -eq 64 ]
    [[ "$output" == *"--tls-cert, --tls-key and --tls-ca go together"* ]]
    run juno-store --listen "$S1" --map "$MAP" --memory --tls-cert "$C/nope.pem" \
        --tls-key "$C/store.key" --tls-ca "$C/ca.pem"
    [ "$status" -eq 78 ]
    [[ "$output" == *"cannot load TLS certificate $C/nope.pem"* ]]
    run juno-store --listen "$S1" --map "$MAP" --memory --tls-cert "$C/store.pem" \
        --tls-key "$C/client.key" --tls-ca "$C/ca.pem"
    [ "$status" -eq 78 ]
    [[ "$output" == *"cannot load TLS key $C/client.key"* ]]
    run juno-store --listen "$S1" --map "$MAP" --memory --tls-cert "$C/store.pem" \
        --tls-key "$C/store.key" --tls-ca "$C/ca.pem" --check-config
    [ "$status" -eq 0 ]
    [[ "$output" == *"TLS with client certificates from the CA"* ]]
    run juno-proxy --map "$MAP" --tls-ca "$C/ca.pem"
    [ "$status" -eq 64 ]
    run juno-proxy --map "$MAP" --upstream-tls-cert "$C/proxy.pem" --upstream-tls-key "$C/proxy.key"
    [ "$status" -eq 64 ]
    run juno-proxy --map "$MAP" --tls-cert "$C/proxy.pem" --tls-key "$C/proxy.key" \
        --upstream-tls-cert "$C/proxy.pem" --upstream-tls-key "$C/proxy.key" \
        --upstream-tls-ca "$C/ca.pem" --check-config
    [ "$status" -eq 0 ]
    [[ "$output" == *"; TLS to clients; mutual TLS to stores"* ]]
    run juno --tls-cert "$C/client.pem" nop --store "$S1"
    [ "$status" -eq 64 ]
    run juno --tls-ca "$C/nope.pem" --store "$S1" nop
    [ "$status" -eq 78 ]
    run juno-bench --tls-ca "$C/nope.pem" -n 1
    [ "$status" -eq 78 ]
    run env JUNO_TLS_CA="$C/nope.pem" juno-bench -n 1
    [ "$status" -eq 78 ]
    run juno-repair --map-file "$MAP" --tls-cert "$C/client.pem"
    [ "$status" -eq 64 ]
    run env JUNO_TLS_CA="$C/nope.pem" juno-repair --map-file "$MAP"
    [ "$status" -eq 78 ]
    run juno-backup create "$TMP/bk" --map-file "$MAP" --tls-ca "$C/nope.pem"
    [ "$status" -eq 78 ]
    run juno-backup verify "$TMP/bk" --tls-ca "$C/ca.pem"
    [ "$status" -eq 64 ]
}

@test "juno maps OpenSSL only when told to speak TLS: it links none; a copy without juno-tls.so works in plaintext and asked for TLS exits 78 naming what it tried" {
    run readelf -d "$JUNO_BUILD/juno"
    [ "$status" -eq 0 ]
    [[ "$output" == *"NEEDED"* ]]
    [[ "$output" != *"libssl"* && "$output" != *"libcrypto"* ]]
    one_store
    jt --store "$S1" --shards 64 set k v1 >/dev/null
    [ "$(jt --store "$S1" --shards 64 get k)" = v1 ]
    # juno alone in a directory: plaintext needs nothing more
    mkdir -p "$TMP/alone"
    cp "$JUNO_BUILD/juno" "$TMP/alone/juno"
    juno-ring init --cluster t --shards 64 --zone "z0=s2@$S2" >"$TMP/plain.json"
    juno-store --listen "$S2" --map "$TMP/plain.json" --memory 2>>"$TMP/plain.log" &
    echo $! >>"$TMP/pids"
    wait_started "juno-store plain" "$TMP/plain.log" $! juno --store "$S2" --timeout 500 nop
    "$TMP/alone/juno" --store "$S2" --shards 64 set k plain >/dev/null
    [ "$("$TMP/alone/juno" --store "$S2" --shards 64 get k)" = plain ]
    run "$TMP/alone/juno" --tls-ca "$C/ca.pem" --tls-cert "$C/client.pem" \
        --tls-key "$C/client.key" --store "$S1" --shards 64 get k
    [ "$status" -eq 78 ]
    [[ "$output" == *"cannot load TLS support: $TMP/alone/juno-tls.so: cannot open"* ]]
    [[ "$output" == *"$TMP/alone/../lib/juno/juno-tls.so"* ]]
    # installed the way make install lays it out, it speaks TLS again
    mkdir -p "$TMP/inst/bin" "$TMP/inst/lib/juno"
    mv "$TMP/alone/juno" "$TMP/inst/bin/juno"
    cp "$JUNO_BUILD/juno-tls.so" "$TMP/inst/lib/juno/"
    [ "$("$TMP/inst/bin/juno" --tls-ca "$C/ca.pem" --tls-cert "$C/client.pem" \
        --tls-key "$C/client.key" --store "$S1" --shards 64 get k)" = v1 ]
}
