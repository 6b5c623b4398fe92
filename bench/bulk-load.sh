#!/usr/bin/env bash
# bench/bulk-load.sh: load N records through juno-proxy with `juno batch` and
# print one line for docs/benchmarks.md: elapsed time, rate, results.
#
#   bench/bulk-load.sh [HOST:PORT] [N]
#
# HOST:PORT is the proxy (default: $JUNO_PROXY, else 127.0.0.1:8080); N the
# number of records (default 1000000). The input, N lines
# "put<TAB>key:I<TAB><100-byte value>", is generated into a temporary file
# first, so only `juno batch` (one connection, --window $WINDOW requests in
# flight, default 256) is timed. Every result line is checked: the script
# exits 1 if any put did not say OK.
set -euo pipefail
cd "$(dirname "$0")/.."
PROXY=${1:-${JUNO_PROXY:-127.0.0.1:8080}}
N=${2:-1000000}
WINDOW=${WINDOW:-256}
BUILD=${BUILD:-build}
export PATH="$PWD/$BUILD:$PATH"
[ -x "$BUILD/juno" ] || make -s -j2 all >&2

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

juno -s "$PROXY" --retries 0 --timeout 1000 ping >/dev/null

# key:I and a 100-byte value: I zero-padded to 100 digits
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "put\tkey:%d\t%0100d\n", i, i }' >"$TMP/in"

start=$(date +%s%N)
rc=0
juno -s "$PROXY" --window "$WINDOW" batch <"$TMP/in" >"$TMP/out" 2>"$TMP/err" || rc=$?
end=$(date +%s%N)

ok=$(grep -c '^OK$' "$TMP/out" || true)
lines=$(wc -l <"$TMP/out")
failed=$((N - ok))
awk -v n="$N" -v ns=$((end - start)) -v ok="$ok" -v failed="$failed" -v w="$WINDOW" \
    -v proxy="$PROXY" -v ver="$(juno --version)" -v cores="$(nproc)" -v day="$(date -u +%Y-%m-%d)" \
    'BEGIN { s = ns / 1e9
             printf "bulk-load: %d puts of 100-byte values, juno batch --window %d -> %s: %.2f s, %d puts/s, %d OK, %d failed (%s, %d cores, %s)\n",
                    n, w, proxy, s, n / s, ok, failed, ver, cores, day }'
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$lines" -ne "$N" ]; then
    echo "bulk-load: juno batch exited $rc with $lines result lines; results other than OK:" >&2
    grep -v '^OK$' "$TMP/out" | sort | uniq -c | sort -rn | head >&2 || true
    head -n 5 "$TMP/err" >&2
    exit 1
fi
