#!/usr/bin/env bash
# bench/redis-suite.sh: Redis 7.0's own test suite, in external-server mode,
# against juno's RESP face and against redis-server, unit by unit: how many
# of Redis's tests juno passes.
#
#   bench/redis-suite.sh [REDIS_SOURCE_DIR]
#
# REDIS_SOURCE_DIR is an unpacked Redis 7.0 source tree (its tests/ and
# runtest); without it, Debian's source package (the redis-server this
# machine runs) is fetched into the temp dir with `apt-get source` (a
# deb-src list of its own: the system's apt sources are not changed). Needs
# tclsh (Debian's tcl). juno: 3 zones x 1 juno-store --memory and one
# juno-proxy from build/; redis-server: Debian's, no persistence.
#
# The units are those issue 20 was measured with: string, incr, expire,
# keyspace, protocol, info-command, quit; tests tagged needs:debug or
# needs:repl are left out for both (juno has no DEBUG and no replicas). An
# exception in a test (a reply the suite's client cannot take) ends its
# unit: the tests after it count as not passed. Prints one line per unit and
# server, "passed/total", then the totals; the log of each run stays in
# $KEEP (default: removed).
set -euo pipefail
cd "$(dirname "$0")/.."
UNITS=${UNITS:-"type/string type/incr expire keyspace protocol info-command quit"}
B=$PWD/build

# shellcheck source=bench/lib.sh
. bench/lib.sh # TMP, PIDS (stopped on exit), free_port

command -v tclsh >/dev/null || {
    echo "redis-suite: tclsh not found (apt-get install tcl)" >&2
    exit 69
}
SRC=${1:-}
if [ -z "$SRC" ]; then
    mkdir -p "$TMP/apt/lists/partial"
    cat >"$TMP/apt/src.sources" <<'SRCS'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCS
    apt=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$TMP/apt"
        -o "Dir::State::Lists=$TMP/apt/lists")
    apt-get "${apt[@]}" update >"$TMP/apt.log" 2>&1
    (cd "$TMP" && apt-get "${apt[@]}" source --download-only redis >>"$TMP/apt.log" 2>&1)
    tar xzf "$TMP"/redis_*.orig.tar.gz -C "$TMP"
    SRC=$(echo "$TMP"/redis-[0-9]*/)
fi
SRC=$(cd "$SRC" && pwd)

# run_unit NAME PORT UNIT: "passed total" of one unit against the server on PORT
run_unit() {
    local log=$TMP/$1-${3//\//_}.log
    (cd "$SRC" && timeout 900 ./runtest --host 127.0.0.1 --port "$2" --single "unit/$3" \
        --clients 1 --durable --tags "-needs:debug -needs:repl" >"$log" 2>&1) || true
    sed -i 's/\x1b\[[0-9;]*m//g' "$log"
    echo "$(grep -c '^\[ok\]:' "$log" || true) $(grep -c '^\[err\]:\|^\[exception\]:' "$log" || true)"
}

start_juno() {
    local ports=() i
    for i in 0 1 2; do ports+=("$(free_port)"); done
    JUNO=$(free_port)
    "$B/juno-ring" init --cluster rs --shards 64 --zone "z0=s1@127.0.0.1:${ports[0]}" \
        --zone "z1=s1@127.0.0.1:${ports[1]}" --zone "z2=s1@127.0.0.1:${ports[2]}" >"$TMP/map.json"
    for i in 0 1 2; do
        "$B/juno-store" --listen "127.0.0.1:${ports[$i]}" --map "$TMP/map.json" --memory \
            2>>"$TMP/store.log" &
        PIDS+=($!)
    done
    "$B/juno-proxy" --listen "127.0.0.1:$(free_port)" --resp "127.0.0.1:$JUNO" \
        --map "$TMP/map.json" 2>>"$TMP/proxy.log" &
    PIDS+=($!)
    for i in $(seq 100); do
        redis-cli -p "$JUNO" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "redis-suite: juno-proxy did not start" >&2
    exit 1
}

REDIS=$(free_port)
redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
start_juno
sleep 0.5
tj=0 tr=0 tt=0
for u in $UNITS; do
    read -r rok rbad < <(run_unit redis "$REDIS" "$u")
    read -r jok jbad < <(run_unit juno "$JUNO" "$u")
    total=$((rok + rbad)) # every test redis-server ran in this unit
    printf '%-14s redis-server %3d/%-3d  juno %3d/%-3d\n' "$u" "$rok" "$total" "$jok" "$total"
    tr=$((tr + rok)) tj=$((tj + jok)) tt=$((tt + total))
done
printf '%-14s redis-server %3d/%-3d  juno %3d/%-3d\n' total "$tr" "$tt" "$tj" "$tt"
if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP" && cp "$TMP"/*.log "$KEEP"/
fi
