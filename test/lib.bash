# test/lib.bash: what every bats suite shares (`load lib`).
#
#   free_ports N       N free loopback TCP ports, on one line
#   stop_pids FILE     stop every process whose PID is listed in FILE, in that
#                      order: SIGCONT (a test may have stopped it), SIGTERM,
#                      up to 5 s to exit, then SIGKILL

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
