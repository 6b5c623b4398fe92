#!/usr/bin/env bats
# metrics.bats: --metrics HOST:PORT on juno-store and juno-proxy, with real
# daemons: three zones of one juno-store each and one juno-proxy (two worker
# threads), each serving /metrics, on free loopback ports in a temp dir. The
# tests scrape with curl, make requests with `juno`, and check that the right
# counters, gauges and histogram counts moved; they also feed the HTTP server
# bad input and check that the daemon still serves. teardown stops every
# process started (by PID), even when a test failed.

load lib

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-metrics.XXXXXX")
    : >"$TMP/pids"
    read -r PA PB PC PX MA MB MC MX < <(free_ports 8)
    A=127.0.0.1:$PA B=127.0.0.1:$PB C=127.0.0.1:$PC PROXY=127.0.0.1:$PX
    MA=127.0.0.1:$MA MB=127.0.0.1:$MB MC=127.0.0.1:$MC MX=127.0.0.1:$MX
    MAP=$TMP/map.json
    juno-ring init --cluster t --shards 16 --zone "z0=a@$A" --zone "z1=b@$B" \
        --zone "z2=c@$C" >"$MAP"
}

teardown() {
    stop_pids "$TMP/pids"
    local bad=0
    sanitizer_reports "$TMP"/*.log && bad=1
    rm -rf "$TMP"
    return "$bad"
}

start_stores() {
    start_store a "$A" --metrics "$MA" --memory "$@"
    start_store b "$B" --metrics "$MB" --memory "$@"
    start_store c "$C" --metrics "$MC" --memory "$@"
}

# start_proxy [juno-proxy options]: ready once a ping answers and the three
# stores are connected.
start_proxy() {
    juno-proxy --listen "$PROXY" --map "$MAP" --metrics "$MX" --threads 2 "$@" \
        2>>"$TMP/proxy.log" &
    PROXY_PID=$!
    echo "$PROXY_PID" >>"$TMP/pids"
    wait_started juno-proxy "$TMP/proxy.log" "$PROXY_PID" juno -s "$PROXY" --timeout 200 -r 0 ping || return 1
    sleep 0.2 # the first store connections of both workers
}

# scrape ADDR: the metrics text (curl fails the test on an HTTP error).
scrape() { curl -sSf --max-time 5 "http://$1/metrics"; }

# m ADDR SERIES: the value of one sample (its exact name and labels), 0 if absent.
m() {
    scrape "$1" | awk -v s="$2" '$1 == s { v = $2; f = 1 } END { print f ? v : 0 }'
}

# wait_m ADDR SERIES VALUE: poll until SERIES equals VALUE (at most 10 s).
wait_m() {
    local i
    for i in $(seq 100); do
        [ "$(m "$1" "$2")" = "$3" ] && return 0
        sleep 0.1
    done
    echo "$2 is $(m "$1" "$2"), expected $3" >&2
    return 1
}

# raw ADDR: send stdin's bytes on one connection and print what comes back
# until the server closes it.
raw() {
    python3 -c '
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=5)
s.sendall(sys.stdin.buffer.read())
out = b""
while True:
    try:
        b = s.recv(65536)
    except socket.timeout:
        out += b"<timeout>"
        break
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)' "$1"
}

# check_exposition FILE: every line of a Prometheus 0.0.4 text body is a
# HELP, a TYPE or a sample whose family has a TYPE; histograms are cumulative
# and their _count equals the +Inf bucket.
check_exposition() {
    python3 - "$1" <<'EOF'
import re, sys
types, last, bad = {}, {}, []
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+]+|\+Inf)$')
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        continue
    if line.startswith("# TYPE "):
        _, _, name, t = line.split(" ")
        types[name] = t
        continue
    mm = sample.match(line)
    if not mm:
        bad.append("bad line: " + line); continue
    name, labels, v = mm.group(1), mm.group(2) or "", float(mm.group(3))
    base = re.sub(r'_(bucket|sum|count)$', '', name)
    if name not in types and not (base in types and types[base] == "histogram"):
        bad.append("no TYPE: " + line)
    if name.endswith("_bucket"):
        key = base + re.sub(r',?le="[^"]*"', '', labels).replace("{,", "{").replace("{}", "")
        if v < last.get(key, 0):
            bad.append("not cumulative: " + line)
        last[key] = v
        if 'le="+Inf"' in labels:
            last[key + "+Inf"] = v
    if name.endswith("_count") and base in types and types[base] == "histogram":
        if last.get(base + labels + "+Inf") != v:
            bad.append("count is not the +Inf bucket: " + line)
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
}

@test "--metrics: a bad address is a usage error, a taken port exits 69; --help lists it" {
    run juno-store --map "$MAP" --listen "$A" --memory --metrics nowhere
    [ "$status" -eq 64 ]
    [[ "$output" == *"juno-store: error: invalid --metrics 'nowhere': expected HOST:PORT"* ]]
    run juno-proxy --map "$MAP" --metrics 127.0.0.1:0x
    [ "$status" -eq 64 ]
    [[ "$output" == *"juno-proxy: error: invalid --metrics"* ]]
    run juno-store --help
    [[ "$output" == *"--metrics HOST:PORT"* ]]
    run juno-proxy --help
    [[ "$output" == *"--metrics HOST:PORT"* ]]
    python3 -c 'import socket,time,sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").close(); time.sleep(30)' "$PX" "$TMP/busy" &
    echo $! >>"$TMP/pids"
    for i in $(seq 100); do
        [ -e "$TMP/busy" ] && break
        sleep 0.05
    done
    run juno-store --map "$MAP" --listen "$A" --memory --metrics "$PROXY"
    [ "$status" -eq 69 ]
    [[ "$output" == *"juno-store: error: cannot listen on 127.0.0.1:$PX"* ]]
    run juno-proxy --map "$MAP" --listen "$B" --metrics "$PROXY"
    [ "$status" -eq 69 ]
    [[ "$output" == *"juno-proxy: error: cannot listen on 127.0.0.1:$PX"* ]]
}

@test "juno-store: Prometheus text; requests, latency, write groups and WAL syncs move; RocksDB figures" {
    start_store a "$A" --metrics "$MA" --data "$TMP/data-a" --sync always
    run curl -sS -i "http://$MA/metrics"
    [ "$status" -eq 0 ]
    [[ "$output" == "HTTP/1.1 200 OK"* ]]
    [[ "$output" == *"Content-Type: text/plain; version=0.0.4; charset=utf-8"* ]]
    scrape "$MA" >"$TMP/m0"
    run check_exposition "$TMP/m0"
    echo "$output"
    [ "$status" -eq 0 ]
    grep -qx '# TYPE juno_store_requests_total counter' "$TMP/m0"
    grep -qx '# TYPE juno_store_request_duration_seconds histogram' "$TMP/m0"
    grep -qx 'juno_store_map_version 1' "$TMP/m0"
    grep -qx 'juno_store_shards_owned 16' "$TMP/m0"
    grep -qx 'juno_store_shards 16' "$TMP/m0"
    grep -qx 'juno_store_rocksdb_background_errors 0' "$TMP/m0"
    grep -q '^juno_store_build_info{version="[0-9.]*"} 1$' "$TMP/m0"
    for p in estimate_num_keys total_sst_files_size_bytes cur_size_all_mem_tables_bytes \
        block_cache_usage_bytes num_running_compactions; do
        grep -q "^juno_store_rocksdb_$p [0-9]*$" "$TMP/m0"
    done
    g0=$(m "$MA" juno_store_write_groups_total)
    w0=$(m "$MA" juno_store_writes_total)
    s0=$(m "$MA" juno_store_wal_syncs_total)
    acc0=$(m "$MA" juno_store_connections_accepted_total)

    for k in k1 k2 k3; do juno --store "$A" --map "$MAP" -n t set "$k" "v-$k" >/dev/null; done
    juno --store "$A" --map "$MAP" -n t read k1 >/dev/null
    run juno --store "$A" --map "$MAP" -n t read absent
    [ "$status" -eq 1 ]

    scrape "$MA" >"$TMP/m1"
    run check_exposition "$TMP/m1"
    [ "$status" -eq 0 ]
    grep -qx 'juno_store_requests_total{op="prepare_set",status="Ok"} 3' "$TMP/m1"
    grep -qx 'juno_store_requests_total{op="commit",status="Ok"} 3' "$TMP/m1"
    grep -qx 'juno_store_requests_total{op="read",status="Ok"} 1' "$TMP/m1"
    grep -qx 'juno_store_requests_total{op="read",status="NoKey"} 1' "$TMP/m1"
    grep -qx 'juno_store_request_duration_seconds_count{op="commit"} 3' "$TMP/m1"
    grep -qx 'juno_store_request_duration_seconds_count{op="read"} 2' "$TMP/m1"
    grep -qx 'juno_store_request_duration_seconds_bucket{op="read",le="+Inf"} 2' "$TMP/m1"
    # three commits: three writes, each in a group, each fsynced (--sync always)
    [ "$(m "$MA" juno_store_writes_total)" -eq $((w0 + 3)) ]
    [ "$(m "$MA" juno_store_write_groups_total)" -eq $((g0 + 3)) ]
    [ "$(m "$MA" juno_store_wal_syncs_total)" -eq $((s0 + 3)) ]
    [ "$(m "$MA" juno_store_write_group_size_count)" -eq $((g0 + 3)) ]
    [ "$(m "$MA" juno_store_connections_accepted_total)" -ge $((acc0 + 5)) ]
    [ "$(m "$MA" juno_store_rocksdb_estimate_num_keys)" -ge 3 ]
    [ "$(m "$MA" juno_store_rocksdb_cur_size_all_mem_tables_bytes)" -gt 0 ]
    # records cache: the three prepares and the read of "absent" missed, the
    # read of k1 found the record its commit left there
    [ "$(m "$MA" juno_store_record_cache_entries)" -eq 3 ]
    [ "$(m "$MA" juno_store_record_cache_hits_total)" -eq 1 ]
    [ "$(m "$MA" juno_store_record_cache_misses_total)" -eq 4 ]
    [ "$(m "$MA" juno_store_record_cache_bytes)" -gt 300 ]
    wait_m "$MA" juno_store_requests_in_flight 0
    wait_m "$MA" juno_store_connections_open 0
}

@test "juno-store --sync none: write groups counted, no WAL sync" {
    start_store a "$A" --metrics "$MA" --data "$TMP/data-a" --sync none
    for k in k1 k2; do juno --store "$A" --map "$MAP" -n t set "$k" v >/dev/null; done
    [ "$(m "$MA" juno_store_writes_total)" -eq 2 ]
    [ "$(m "$MA" juno_store_wal_syncs_total)" -eq 0 ]
}

@test "juno-proxy: requests by op and status, latency counts, connections, storage requests and the stores' counters move" {
    start_stores
    start_proxy
    scrape "$MX" >"$TMP/p0"
    run check_exposition "$TMP/p0"
    echo "$output"
    [ "$status" -eq 0 ]
    grep -qx '# TYPE juno_proxy_requests_total counter' "$TMP/p0"
    grep -qx '# TYPE juno_proxy_request_duration_seconds histogram' "$TMP/p0"
    grep -qx 'juno_proxy_map_version 1' "$TMP/p0"
    grep -qx 'juno_proxy_stores_down 0' "$TMP/p0"
    acc0=$(m "$MX" juno_proxy_connections_accepted_total)
    ans0=$(m "$MX" "juno_proxy_storage_requests_total{store=\"$A\",outcome=\"answered\"}")
    ps0=$(m "$MA" 'juno_store_requests_total{op="prepare_set",status="Ok"}')

    for i in 1 2 3 4 5; do juno -s "$PROXY" -n t put "key$i" "value$i"; done
    [ "$(juno -s "$PROXY" -n t get key1)" = value1 ]
    run juno -s "$PROXY" -n t get absent
    [ "$status" -eq 1 ]
    run juno -s "$PROXY" -n t create key1 again
    [ "$status" -eq 1 ]
    juno -s "$PROXY" -n t del key2

    scrape "$MX" >"$TMP/p1"
    run check_exposition "$TMP/p1"
    [ "$status" -eq 0 ]
    grep -qx 'juno_proxy_requests_total{op="set",status="Ok"} 5' "$TMP/p1"
    grep -qx 'juno_proxy_requests_total{op="get",status="Ok"} 1' "$TMP/p1"
    grep -qx 'juno_proxy_requests_total{op="get",status="NoKey"} 1' "$TMP/p1"
    grep -qx 'juno_proxy_requests_total{op="create",status="DupKey"} 1' "$TMP/p1"
    grep -qx 'juno_proxy_requests_total{op="destroy",status="Ok"} 1' "$TMP/p1"
    grep -qx 'juno_proxy_request_duration_seconds_count{op="set"} 5' "$TMP/p1"
    grep -qx 'juno_proxy_request_duration_seconds_count{op="get"} 2' "$TMP/p1"
    grep -qx 'juno_proxy_request_duration_seconds_bucket{op="set",le="+Inf"} 5' "$TMP/p1"
    # every juno run is a connection; the counts of both workers add up
    [ "$(m "$MX" juno_proxy_connections_accepted_total)" -ge $((acc0 + 9)) ]
    [ "$(m "$MX" "juno_proxy_storage_requests_total{store=\"$A\",outcome=\"answered\"}")" -gt "$ans0" ]
    [ "$(m "$MX" "juno_proxy_storage_requests_total{store=\"$A\",outcome=\"timeout\"}")" -eq 0 ]
    [ "$(m "$MA" 'juno_store_requests_total{op="prepare_set",status="Ok"}')" -gt "$ps0" ]
    [ "$(m "$MB" 'juno_store_requests_total{op="commit",status="Ok"}')" -gt 0 ]
    wait_m "$MX" juno_proxy_requests_in_flight 0
    wait_m "$MX" juno_proxy_connections_open 0
    grep -qx 'juno_proxy_stores_down 0' "$TMP/p1"
    grep -qx 'juno_proxy_bad_frames_total 0' "$TMP/p1"
    # a client speaking something else is a bad frame
    printf 'GET / HTTP/1.1\r\n\r\n' | raw "$PROXY" >/dev/null
    wait_m "$MX" juno_proxy_bad_frames_total 1
}

@test "a killed store: the proxy marks it down and counts failures; back up, the gauge returns to 0; map version follows SIGHUP" {
    start_stores
    start_proxy
    down="juno_proxy_store_down{store=\"$C\"}"
    [ "$(m "$MX" "$down")" = 0 ]
    kill -KILL "$(cat "$TMP/pid-c")"
    # writes still succeed with two zones of three (W = 2)
    for i in 1 2 3 4; do juno -s "$PROXY" -n t put "k$i" v; done
    wait_m "$MX" juno_proxy_stores_down 1
    [ "$(m "$MX" "$down")" -ge 1 ]
    [ "$(m "$MX" "juno_proxy_store_markdowns_total{store=\"$C\"}")" -ge 1 ]
    failed=$(m "$MX" "juno_proxy_storage_requests_total{store=\"$C\",outcome=\"failed\"}")
    unavail=$(m "$MX" "juno_proxy_storage_requests_total{store=\"$C\",outcome=\"unavailable\"}")
    [ $((failed + unavail)) -ge 4 ]
    [ "$(m "$MX" "juno_proxy_store_down{store=\"$A\"}")" = 0 ]
    grep -qx 'juno_proxy_requests_total{op="set",status="Ok"} 4' <(scrape "$MX")

    start_store c "$C" --metrics "$MC" --memory
    wait_m "$MX" "$down" 0
    wait_m "$MX" juno_proxy_stores_down 0

    python3 -c 'import json,sys
m = json.load(open(sys.argv[1])); m["version"] = 2
json.dump(m, open(sys.argv[1], "w"))' "$MAP"
    kill -HUP "$PROXY_PID" "$(cat "$TMP/pid-a")"
    wait_m "$MX" juno_proxy_map_version 2
    wait_m "$MA" juno_store_map_version 2
    [ "$(m "$MB" juno_store_map_version)" = 1 ]
}

@test "bad HTTP input gets 400, 404 or 405 and the daemons still serve" {
    start_stores
    start_proxy
    for M in "$MX" "$MA"; do
        run raw "$M" < <(printf '\x00\x01\xffgarbage\r\n\r\n')
        [[ "$output" == "HTTP/1.1 400 Bad Request"* ]]
        [[ "$output" == *"Connection: close"* ]]
        run raw "$M" < <(printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' "$(head -c 9000 /dev/zero | tr '\0' a)")
        [[ "$output" == "HTTP/1.1 400 Bad Request"* ]]
        [[ "$output" == *"request header too large"* ]]
        run raw "$M" < <(printf 'GET /metrics HTTP/1.1\r\n\r\n')
        [[ "$output" == "HTTP/1.1 400 Bad Request"* ]]
        [[ "$output" == *"Host"* ]]
        run raw "$M" < <(printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n bad fold\r\n\r\n')
        [[ "$output" == "HTTP/1.1 400 Bad Request"* ]]
        run raw "$M" < <(printf 'GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n')
        [[ "$output" == "HTTP/1.1 400 Bad Request"* ]]
        run raw "$M" < <(printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello')
        [[ "$output" == "HTTP/1.1 400 Bad Request"* ]]
        run curl -sS -i -X POST --data x "http://$M/metrics"
        [[ "$output" == "HTTP/1.1 405 Method Not Allowed"* ]]
        [[ "$output" == *"Allow: GET, HEAD"* ]]
        run curl -sS -i "http://$M/nope"
        [[ "$output" == "HTTP/1.1 404 Not Found"* ]]
        run curl -sS "http://$M/health"
        [ "$output" = ok ]
        run curl -sS -I "http://$M/metrics"
        [[ "$output" == "HTTP/1.1 200 OK"* ]]
        [[ "$output" == *"Content-Length: "[1-9]* ]]
        # two pipelined requests on one connection (keep-alive), then close
        run raw "$M" < <(printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        [ "$(grep -c 'HTTP/1.1 200 OK' <<<"$output")" -eq 2 ]
        [[ "$output" != *"<timeout>"* ]]
        # HTTP/1.0: answered, then closed
        run raw "$M" < <(printf 'GET /health HTTP/1.0\r\n\r\n')
        [[ "$output" == "HTTP/1.1 200 OK"* ]]
        [[ "$output" == *"Connection: close"* ]]
        scrape "$M" >/dev/null
    done
    # more connections than the limit: the extra ones are closed, then it serves again
    python3 -c '
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
conns = [socket.create_connection((host, int(port))) for _ in range(80)]
closed = 0
for c in conns[64:]:
    c.settimeout(5)
    try:
        closed += c.recv(1) == b""
    except OSError:
        closed += 1
print(closed)
sys.exit(0 if closed == 16 else 1)' "$MX"
    scrape "$MX" >/dev/null
    # the daemons still do their real work
    juno -s "$PROXY" -n t put after-garbage yes
    [ "$(juno -s "$PROXY" -n t get after-garbage)" = yes ]
    grep -qx 'juno_proxy_requests_total{op="set",status="Ok"} 1' <(scrape "$MX")
}

@test "SIGTERM with metrics connections open: both daemons drain and exit 0" {
    start_stores
    start_proxy
    python3 -c '
import socket, sys, time
cs = [socket.create_connection(tuple([a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])])) for a in sys.argv[1:]]
for c in cs: c.sendall(b"GET /metr")
time.sleep(30)' "$MX" "$MA" &
    echo $! >>"$TMP/pids"
    sleep 0.3
    kill -TERM "$PROXY_PID" "$(cat "$TMP/pid-a")"
    for pid in "$PROXY_PID" "$(cat "$TMP/pid-a")"; do
        for i in $(seq 100); do # a child that exited stays a zombie until wait
            st=$(ps -o stat= -p "$pid" 2>/dev/null) || break
            [[ $st == Z* ]] && break
            sleep 0.1
        done
        st=$(ps -o stat= -p "$pid" 2>/dev/null) || st=gone
        [[ $st == Z* || $st == gone ]] # exited within 10 s
        wait "$pid"                    # with status 0
    done
}
