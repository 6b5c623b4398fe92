# bench/lib.sh: what the bench scripts share (source it after cd to the tree).
#
#   TMP, PIDS      a temp dir and the PIDs to stop; on exit every PID is
#                  killed and waited for, and TMP removed
#   free_port      a free loopback TCP port
#   cpu_ns PID...  the CPU time every thread of these processes has used, in
#                  ns (/proc/PID/task/*/schedstat)
#   need_db_bench  install RocksDB's db_bench (Debian rocksdb-tools) if missing,
#                  and build juno-store and juno-bench into $BUILD if missing

TMP=$(mktemp -d)
PIDS=()
bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap bench_cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cpu_ns() {
    local pid t sum=0 v
    for pid in "$@"; do
        for t in /proc/"$pid"/task/*/schedstat; do
            { read -r v _ <"$t"; } 2>/dev/null || continue # a thread that just ended
            sum=$((sum + v))
        done
    done
    echo "$sum"
}

need_db_bench() {
    if ! command -v db_bench >/dev/null; then
        local sudo=
        [ "$(id -u)" -eq 0 ] || sudo=sudo
        $sudo apt-get install -y -qq rocksdb-tools >/dev/null
    fi
    [ -x "$BUILD/juno-store" ] && [ -x "$BUILD/juno-bench" ] || make -s -j2 all
}
