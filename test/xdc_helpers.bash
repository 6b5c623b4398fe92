# test/xdc_helpers.bash: two sites replicating to each other (`load xdc_helpers`).
#
#   xdc_setup            $TMP, two sites A and B: three zones of one juno-store
#                        each (in memory), maps $TMP/map-A.json, map-B.json,
#                        ports $PA $PB (proxies), $MA $MB (their metrics),
#                        $RA $RB (spare ports for a relay toward A, B)
#   xdc_stores SITE      start SITE's three stores
#   xdc_proxy SITE [juno-proxy options]
#                        SITE's proxy on its port, --accept-replication, log
#                        $TMP/proxy-SITE.log, PID in $TMP/pid-proxy-SITE
#   xdc_teardown         stop everything by PID; fail on sanitizer reports
#   metric PORT NAME [LABELS]
#                        the sum of the series of NAME at http://PORT/metrics
#                        (those whose labels contain the string LABELS)
#   jget ADDR KEY FIELD  FIELD of `juno --json get KEY` on ADDR ("" if absent)
#   wait_for SECONDS COMMAND...  until COMMAND succeeds (every 100 ms)
#   relay NAME PORT TARGET, cut NAME
#                        a TCP relay (test/tcp_relay.py) between the sites, and
#                        cutting it

load lib

xdc_setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-xdc.XXXXXX")
    : >"$TMP/pids"
    local p
    read -r A0 A1 A2 B0 B1 B2 PA PB MA MB RA RB < <(free_ports 12)
    for s in A B; do
        p=${s}0
        local z0=127.0.0.1:${!p}
        p=${s}1
        local z1=127.0.0.1:${!p}
        p=${s}2
        local z2=127.0.0.1:${!p}
        juno-ring init --cluster "site$s" --shards 32 --zone "z0=${s}0@$z0" --zone "z1=${s}1@$z1" \
            --zone "z2=${s}2@$z2" >"$TMP/map-$s.json"
    done
}

xdc_stores() {
    local s=$1 i p
    for i in 0 1 2; do
        p=$s$i
        MAP=$TMP/map-$s.json start_store "$s$i" "127.0.0.1:${!p}" --memory
    done
}

xdc_proxy() {
    local s=$1 port mport
    shift
    port=P$s
    mport=M$s
    juno-proxy --listen "127.0.0.1:${!port}" --map "$TMP/map-$s.json" --accept-replication \
        --metrics "127.0.0.1:${!mport}" "$@" 2>>"$TMP/proxy-$s.log" &
    echo $! >"$TMP/pid-proxy-$s"
    echo $! >>"$TMP/pids"
    wait_started "juno-proxy $s" "$TMP/proxy-$s.log" $! juno -s "127.0.0.1:${!port}" ping
}

xdc_teardown() {
    stop_pids "$TMP/pids"
    local bad=0
    sanitizer_reports "$TMP"/*.log && bad=1
    rm -rf "$TMP"
    return "$bad"
}

metric() {
    curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" -v l="${3:-}" '
        ($1 == n || index($1, n "{") == 1) && index($1, l) { s += $2 } END { printf "%d\n", s }'
}

jget() {
    juno -s "$1" -n xdc --json get "$2" 2>/dev/null | python3 -c '
import json, sys
print(json.load(sys.stdin).get(sys.argv[1], ""))' "$3"
}

wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}

# relay NAME PORT TARGET: test/tcp_relay.py on PORT toward TARGET (PID in
# $TMP/pid-relay-NAME and $TMP/pids); cut NAME stops it (the link is cut).
relay() {
    python3 "$BATS_TEST_DIRNAME/tcp_relay.py" "$2" "$3" 2>>"$TMP/relay-$1.log" &
    echo $! >"$TMP/pid-relay-$1"
    echo $! >>"$TMP/pids"
    local i
    for i in $(seq 50); do
        python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
            "$2" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

cut() {
    kill "$(cat "$TMP/pid-relay-$1")"
    wait "$(cat "$TMP/pid-relay-$1")" 2>/dev/null || true
}
