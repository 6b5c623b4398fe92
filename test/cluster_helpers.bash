# cluster_helpers.bash: what the bin/juno-cluster suites share (load it with
# `load cluster_helpers`, after `load lib`): setup and teardown of a cluster
# in $DIR, under a fresh $TMP.
#
#   setup             TMP (a temp dir), DIR=$TMP/cluster, T=$DIR/tls (where
#                     up --tls keeps the certificates)
#   teardown          kill -KILL every PID in $DIR/pid (whatever a test left
#                     running, even when it failed), fail on sanitizer
#                     reports in $DIR/log, remove $TMP
#   gone PID          the process has exited (a zombie not yet reaped counts
#                     as gone)
#   up [OPTIONS]      juno-cluster up --dir $DIR on free ports; its output in
#                     $output and on stderr; fails unless it exits 0

setup() {
    TMP=$(mktemp -d)
    DIR="$TMP/cluster"
    T="$DIR/tls"
}

teardown() {
    for f in "$DIR"/pid/*.pid; do
        [ -e "$f" ] || continue
        kill -KILL "$(cat "$f")" 2>/dev/null || true
    done
    local bad=0
    sanitizer_reports "$DIR"/log/*.log && bad=1
    ! mountpoint -q "$DIR/data/store-z0-s1" 2>/dev/null || umount -l "$DIR/data/store-z0-s1"
    rm -rf "$TMP"
    return "$bad"
}

gone() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
    [[ $st == Z* ]]
}

up() {
    run juno-cluster up --dir "$DIR" --proxy-port auto --base-port auto "$@"
    echo "$output" >&2
    if [ "$status" -ne 0 ]; then # the log a failed start names, before teardown removes it
        local log
        log=$(grep -o "see $DIR/log/[a-z0-9.-]*\.log" <<<"$output" | head -1)
        [ -z "$log" ] || tail -20 "${log#see }" >&2
    fi
    [ "$status" -eq 0 ]
}
