#!/usr/bin/env bats
# xdc-heal.bats: two sites replicating to each other through TCP relays
# (test/tcp_relay.py), clients writing to both at once on overlapping keys
# (Set, Create, Destroy, conditional Update: test/xdc_check.py load), the
# link cut for 10 s and healed; after quiescence test/xdc_check.py check
# compares every key on both sites and accounts for every acknowledged write.

load xdc_helpers

setup() { xdc_setup; }
teardown() { xdc_teardown; }

# max_depth PORT SECONDS: the largest queue depth seen over SECONDS.
max_depth() {
    local end=$((SECONDS + $2)) max=0 d
    while [ "$SECONDS" -lt "$end" ]; do
        d=$(metric "$1" juno_proxy_xdc_queue_depth)
        [ "$d" -gt "$max" ] && max=$d
        sleep 0.5
    done
    echo "$max"
}

@test "link cut for 10 s under writes on both sites, then healed: same data, no acknowledged write lost" {
    xdc_stores A
    xdc_stores B
    relay toA "$RA" "127.0.0.1:$PA"
    relay toB "$RB" "127.0.0.1:$PB"
    xdc_proxy A --replicate-to "127.0.0.1:$RB"
    xdc_proxy B --replicate-to "127.0.0.1:$RA"
    local chk=$BATS_TEST_DIRNAME/xdc_check.py
    python3 "$chk" load --site "A=127.0.0.1:$PA" --site "B=127.0.0.1:$PB" --seconds 18 \
        --keys 40 --threads 2 --seed 7 --log "$TMP/writes.log" 2>"$TMP/load.log" &
    local load=$!
    echo "$load" >>"$TMP/pids"
    sleep 3
    cut toA
    cut toB
    local da db
    da=$(max_depth "$MA" 10)
    db=$(metric "$MB" juno_proxy_xdc_queue_depth)
    relay toA "$RA" "127.0.0.1:$PA"
    relay toB "$RB" "127.0.0.1:$PB"
    wait "$load"
    # writes queued during the cut, then all delivered after the heal
    [ "$da" -gt 0 ]
    [ "$db" -gt 0 ]
    wait_for 30 eval '[ "$(metric $MA juno_proxy_xdc_queue_depth)" = 0 ]'
    wait_for 30 eval '[ "$(metric $MB juno_proxy_xdc_queue_depth)" = 0 ]'
    [ "$(metric "$MA" juno_proxy_xdc_dropped_total)" = 0 ]
    [ "$(metric "$MB" juno_proxy_xdc_dropped_total)" = 0 ]
    run python3 "$chk" check --site "A=127.0.0.1:$PA,$TMP/map-A.json" \
        --site "B=127.0.0.1:$PB,$TMP/map-B.json" --keys 40 --log "$TMP/writes.log"
    echo "$output"
    [ "$status" -eq 0 ]
    # the checker saw real work: writes acknowledged on both sites, some superseded
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["writes_acked"] > 100, r
assert r["by_site"]["A"]["present"] + r["by_site"]["A"]["superseded"] > 0, r
assert r["by_site"]["B"]["present"] + r["by_site"]["B"]["superseded"] > 0, r
assert r["superseded"] > 0 and r["lost"] == 0 and r["diverged"] == 0, r' "$output"
    grep -q "store marked down addr=127.0.0.1:$RB" "$TMP/proxy-A.log"
}
