# etcd_helpers.bash: a throwaway etcd for the bats suites (load it with
# `load etcd_helpers`, after `load lib`). Needs $TMP and $TMP/pids (teardown
# kills by PID).
#
#   start_etcd [ETCD OPTIONS]
#                     a one-member etcd on free loopback ports: $ETCD (URL),
#                     PID in $TMP/pid-etcd; data in $TMP/etcd. Options are
#                     added to etcd's (--auth-token-ttl 1). With
#                     ETCD_SCHEME=https the client URL is https, and the
#                     readiness probe uses curl options ETCD_CURL (an array:
#                     --cacert, --cert, --key)
#   stop_etcd [SIG]   stop it (default TERM) and wait for it to exit
#   etcdctl_ ARGS     etcdctl against $ETCD
#   etcd_get KEY      the value of KEY ("" when absent)

start_etcd() {
    local i try picked=0
    if [ -z "${ETCD_CPORT:-}" ]; then
        picked=1
        read -r ETCD_CPORT ETCD_PPORT < <(free_ports 2)
        ETCD=${ETCD_SCHEME:-http}://127.0.0.1:$ETCD_CPORT
    fi
    # A port found free can be taken by another test before etcd binds it:
    # then try again, on new ports when they were ours to pick.
    for try in 1 2 3 4 5 6 7 8; do
        setsid etcd --name n1 --data-dir "$TMP/etcd" \
            --listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
            --listen-peer-urls "http://127.0.0.1:$ETCD_PPORT" \
            --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PPORT" \
            --initial-cluster "n1=http://127.0.0.1:$ETCD_PPORT" \
            --heartbeat-interval=10 --election-timeout=100 --unsafe-no-fsync \
            --logger=zap --log-outputs=stderr "$@" >>"$TMP/etcd.log" 2>&1 </dev/null &
        echo $! >"$TMP/pid-etcd"
        echo $! >>"$TMP/pids"
        for i in $(seq 400); do
            curl -s -m 2 ${ETCD_CURL[@]+"${ETCD_CURL[@]}"} "$ETCD/health" 2>/dev/null |
                grep -q '"health":"true"' && return 0
            kill -0 "$(cat "$TMP/pid-etcd")" 2>/dev/null || break
            sleep 0.05
        done
        kill -0 "$(cat "$TMP/pid-etcd")" 2>/dev/null && break # up but not healthy
        tail -3 "$TMP/etcd.log" | grep -q 'address already in use' || break
        echo "etcd: a port was taken, trying again" >>"$TMP/etcd.log"
        if [ $picked = 1 ]; then
            read -r ETCD_CPORT ETCD_PPORT < <(free_ports 2)
            ETCD=${ETCD_SCHEME:-http}://127.0.0.1:$ETCD_CPORT
        else
            sleep 0.5
        fi
    done
    echo "etcd did not start:" >&2
    tail -20 "$TMP/etcd.log" >&2
    return 1
}

stop_etcd() {
    local pid i
    pid=$(cat "$TMP/pid-etcd")
    kill "-${1:-TERM}" "$pid" 2>/dev/null || true
    for i in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
}

etcdctl_() { ETCDCTL_API=3 etcdctl --endpoints="$ETCD" "$@"; }

etcd_get() { etcdctl_ get --print-value-only "$1"; }

# wait_for DESCRIPTION COMMAND...: retry COMMAND (up to 20 s) until it succeeds.
wait_for() {
    local what=$1 i
    shift
    for i in $(seq 400); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "timed out waiting for: $what" >&2
    return 1
}
