# resp_helpers.bash: the cluster of the RESP bats files (load it after lib):
# three zones of one juno-store each (a, b, c) on free loopback ports.
#
#   resp_setup NAME  TMP (a temp dir named after NAME) with its pids file;
#                    ports PA PB PC PX PR PX2 PR2 PRS; store addresses A B C;
#                    PROXY=127.0.0.1:$PX and RESP=127.0.0.1:$PR; a 64-shard
#                    map of the three stores in $MAP
#   resp_teardown    every process started stopped by PID, sanitizer
#                    reports looked for in $TMP/*.log, TMP removed
#   start_stores     a, b and c in memory, each waited for
#   start_resp_proxy N RESP-PORT NATIVE-PORT [options]   (below)
#   start_redis      a redis-server on $PRS (no persistence) to compare with

resp_setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-$1.XXXXXX")
    : >"$TMP/pids"
    read -r PA PB PC PX PR PX2 PR2 PRS < <(free_ports 8)
    A=127.0.0.1:$PA B=127.0.0.1:$PB C=127.0.0.1:$PC
    PROXY=127.0.0.1:$PX RESP=127.0.0.1:$PR
    MAP=$TMP/map.json
    juno-ring init --cluster t --shards 64 --zone "z0=a@$A" --zone "z1=b@$B" --zone "z2=c@$C" >"$MAP"
}

resp_teardown() {
    [ -n "${TMP:-}" ] || return 0
    stop_pids "$TMP/pids"
    local bad=0
    sanitizer_reports "$TMP"/*.log && bad=1
    rm -rf "$TMP"
    return "$bad"
}

start_stores() {
    start_store a "$A" --memory && start_store b "$B" --memory && start_store c "$C" --memory
}

# start_resp_proxy N RESP-PORT NATIVE-PORT [juno-proxy options]: proxy N in
# the background (PID in $TMP/pid-proxyN, log $TMP/proxyN.log), ready once it
# answers PING.
start_resp_proxy() {
    local n=$1 port=$2 native=$3
    shift 3
    juno-proxy --listen "127.0.0.1:$native" --resp "127.0.0.1:$port" --map "$MAP" "$@" \
        2>>"$TMP/proxy$n.log" &
    echo $! >"$TMP/pid-proxy$n"
    echo $! >>"$TMP/pids"
    wait_started "juno-proxy $n" "$TMP/proxy$n.log" $! redis-cli -p "$port" ping
}

start_redis() {
    command -v redis-server >/dev/null || skip "redis-server not installed (make deps)"
    redis-server --port "$PRS" --bind 127.0.0.1 --save '' --appendonly no >"$TMP/redis.log" 2>&1 &
    echo $! >>"$TMP/pids"
    wait_started redis-server "$TMP/redis.log" $! redis-cli -p "$PRS" ping
}
