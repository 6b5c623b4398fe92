# test/lib.bash: what every bats suite shares (`load lib`).
#
#   free_ports N       N free loopback TCP ports, on one line
#   stop_pids FILE     stop every process whose PID is listed in FILE, in that
#                      order: SIGCONT (a test may have stopped it), SIGTERM,
#                      up to 5 s to exit, then SIGKILL
#   start_store NAME ADDR [juno-store options]
#                      a juno-store on ADDR with map $MAP, in the background
#                      (PID in $TMP/pid-NAME and $TMP/pids, log in
#                      $TMP/store-NAME.log), ready once it answers a Nop

free_ports() {
    python3 -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])' "$1"
}

stop_pids() {
    local pid i
    for pid in $(cat "$1" 2>/dev/null); do
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || continue
        for i in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
}

start_store() {
    local name=$1 addr=$2 i
    shift 2
    juno-store --listen "$addr" --map "$MAP" "$@" 2>>"$TMP/store-$name.log" &
    echo $! >"$TMP/pid-$name"
    echo $! >>"$TMP/pids"
    for i in $(seq 200); do
        juno --store "$addr" --timeout 200 nop >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$TMP/pid-$name")" 2>/dev/null || break
        sleep 0.05
    done
    echo "juno-store $name did not start:" >&2
    cat "$TMP/store-$name.log" >&2
    return 1
}
