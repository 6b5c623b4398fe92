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
#   wait_started WHAT LOG PID COMMAND...
#                      until COMMAND succeeds (every 50 ms, 10 s at most); fails
#                      at once when PID has exited, showing LOG
#   sanitizer_reports LOG...
#                      true when a sanitizer build (make SAN=1) reported into
#                      one of the logs; the reports go to stderr. A teardown
#                      fails the test that caused them.
#   ca NAME, cert NAME ISSUER [DAYS]
#                      TLS test certificates in $C (below)
#   documented PROG SECTION CODES [WORD...]
#                      every long option of `PROG --help`, and each WORD (a
#                      command), is in completions/PROG.bash, completions/_PROG
#                      and docs/man/PROG.SECTION, which lists each exit code
#                      of CODES ("0 64 ..."); the completions parse, and groff
#                      has nothing to say about the page

free_ports() {
    python3 -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])' "$1"
}

sanitizer_reports() {
    local re='ERROR: [A-Za-z]+Sanitizer|runtime error:'
    grep -q -E "$re" "$@" 2>/dev/null || return 1
    grep -h -A30 -E "$re" "$@" >&2 2>/dev/null
    return 0
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
    local name=$1 addr=$2
    shift 2
    juno-store --listen "$addr" --map "$MAP" "$@" 2>>"$TMP/store-$name.log" &
    echo $! >"$TMP/pid-$name"
    echo $! >>"$TMP/pids"
    wait_started "juno-store $name" "$TMP/store-$name.log" $! juno --store "$addr" --timeout 200 nop
}

wait_started() {
    local what=$1 log=$2 pid=$3 i
    shift 3
    for i in $(seq 200); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "$what did not start:" >&2
    cat "$log" >&2
    return 1
}

# TLS test certificates in directory $C (with $C/san.ext naming the hosts):
#   ca NAME                a self-signed P-256 CA, $C/NAME.pem and .key
#   cert NAME ISSUER [DAYS] a P-256 key and a certificate with subject
#                          CN=NAME signed by CA ISSUER (DAYS negative: expired)
ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$1.key" \
        -out "$C/$1.pem" -days 30 -subj "/CN=$1" 2>/dev/null
}

cert() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$1.key" \
        -out "$C/$1.csr" -subj "/CN=$1" 2>/dev/null
    openssl x509 -req -in "$C/$1.csr" -CA "$C/$2.pem" -CAkey "$C/$2.key" -CAcreateserial \
        -days "${3:-30}" -extfile "$C/san.ext" -out "$C/$1.pem" 2>/dev/null
}

documented() {
    local prog=$1 codes=$3 o c root
    root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
    local bash_c=$root/completions/$prog.bash zsh_c=$root/completions/_$prog
    local man=$root/docs/man/$prog.$2
    shift 3
    for o in $("$prog" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u) "$@"; do
        grep -qF -- "$o" "$bash_c" || { echo "bash lacks $o"; return 1; }
        grep -qF -- "$o" "$zsh_c" || { echo "zsh lacks $o"; return 1; }
        grep -qF -- "${o//-/\\-}" "$man" || { echo "man lacks $o"; return 1; }
    done
    for c in $codes; do grep -q "^\\.B $c\$" "$man" || { echo "man lacks exit $c"; return 1; }; done
    bash -n "$bash_c" || return 1
    ! command -v zsh >/dev/null || zsh -n "$zsh_c" || return 1
    if command -v groff >/dev/null; then
        [ -z "$(groff -wall -man -Tutf8 -z "$man" 2>&1)" ] || { echo "groff warns on $man"; return 1; }
    fi
}
