#!/usr/bin/env bats
# xdc.bats: cross-datacenter replication (juno-proxy --replicate-to,
# --accept-replication) between two sites of three zones each, all real
# daemons on loopback (test/xdc_helpers.bash). Replicated writes are also
# sent by hand (test/xdc_check.py repl) to check the last-writer-wins rules.

load xdc_helpers

setup() { xdc_setup; }
teardown() { xdc_teardown; }

both_up() {
    xdc_stores A
    xdc_stores B
    xdc_proxy A --replicate-to "127.0.0.1:$PB" "$@"
    xdc_proxy B --replicate-to "127.0.0.1:$PA" "$@"
}

same_on_b() { [ "$(jget "127.0.0.1:$PB" "$1" "$2")" = "$3" ]; }

@test "a write on one site reaches the other with its metadata; Destroy and a TTL extension too" {
    both_up
    juno -s "127.0.0.1:$PA" -n xdc put k1 v1
    juno -s "127.0.0.1:$PA" -n xdc --ttl 100 put k2 v2
    wait_for 5 same_on_b k2 value v2
    local f
    for f in value version creation_time expiration_time last_modified originator_id; do
        [ "$(jget "127.0.0.1:$PA" k1 $f)" = "$(jget "127.0.0.1:$PB" k1 $f)" ]
        [ "$(jget "127.0.0.1:$PA" k2 $f)" = "$(jget "127.0.0.1:$PB" k2 $f)" ]
    done
    [ -n "$(jget "127.0.0.1:$PB" k1 last_modified)" ]
    # a Get with a longer TTL extends the expiration: replicated as a write
    local e0 e1
    e0=$(jget "127.0.0.1:$PB" k2 expiration_time)
    juno -s "127.0.0.1:$PA" -n xdc --ttl 5000 get k2 >/dev/null
    e1=$(jget "127.0.0.1:$PA" k2 expiration_time)
    [ "$e1" -gt "$e0" ]
    wait_for 5 same_on_b k2 expiration_time "$e1"
    # a Destroy on B deletes on A
    juno -s "127.0.0.1:$PB" -n xdc del k1
    wait_for 5 eval '! juno -s "127.0.0.1:$PA" -n xdc get k1 >/dev/null 2>&1'
    # updates go both ways
    juno -s "127.0.0.1:$PB" -n xdc put k3 fromB
    wait_for 5 eval '[ "$(juno -s 127.0.0.1:$PA -n xdc get k3)" = fromB ]'
}

@test "no ping-pong: a replicated write is applied, not forwarded again" {
    both_up
    local i
    for i in $(seq 20); do juno -s "127.0.0.1:$PA" -n xdc put "a$i" "v$i"; done
    for i in $(seq 5); do juno -s "127.0.0.1:$PB" -n xdc put "b$i" "v$i"; done
    wait_for 5 eval '[ "$(metric $MA juno_proxy_xdc_replicated_total)" = 20 ]'
    wait_for 5 eval '[ "$(metric $MB juno_proxy_xdc_replicated_total)" = 5 ]'
    sleep 0.5 # anything forwarded back would be counted by now
    [ "$(metric "$MA" juno_proxy_xdc_replicated_total)" = 20 ]
    [ "$(metric "$MB" juno_proxy_xdc_replicated_total)" = 5 ]
    [ "$(metric "$MA" juno_proxy_xdc_queue_depth)" = 0 ]
    [ "$(metric "$MA" juno_proxy_xdc_lag_seconds_count)" = 20 ]
    [ "$(metric "$MA" juno_proxy_xdc_dropped_total)" = 0 ]
}

@test "replicated writes are last-writer-wins: older never replaces newer, a newer tombstone wins" {
    xdc_stores B
    xdc_proxy B
    local B=127.0.0.1:$PB now
    now=$(date +%s%N)
    run python3 "$BATS_TEST_DIRNAME/xdc_check.py" repl "$B" set xdc k new --version 5 --lmt "$now"
    [[ "$output" == *'"status": "Ok"'* ]]
    [ "$(jget "$B" k value)" = new ]
    [ "$(jget "$B" k version)" = 5 ]
    [ "$(jget "$B" k last_modified)" = "$now" ]
    # older (an earlier stamp, even with a higher version): answered Ok, not applied
    run python3 "$BATS_TEST_DIRNAME/xdc_check.py" repl "$B" set xdc k old --version 9 --lmt $((now - 1000))
    [[ "$output" == *'"status": "Ok"'* ]]
    [ "$(jget "$B" k value)" = new ]
    [ "$(jget "$B" k version)" = 5 ]
    # the same stamp, a higher version: newer
    python3 "$BATS_TEST_DIRNAME/xdc_check.py" repl "$B" set xdc k same --version 6 --lmt "$now"
    [ "$(jget "$B" k value)" = same ]
    # an older tombstone does not delete; a newer one does
    python3 "$BATS_TEST_DIRNAME/xdc_check.py" repl "$B" destroy xdc k --version 7 --lmt $((now - 5))
    [ "$(jget "$B" k value)" = same ]
    python3 "$BATS_TEST_DIRNAME/xdc_check.py" repl "$B" destroy xdc k --version 7 --lmt $((now + 5))
    run juno -s "$B" -n xdc get k
    [ "$status" -ne 0 ]
    # and a write older than that tombstone does not bring the key back
    python3 "$BATS_TEST_DIRNAME/xdc_check.py" repl "$B" set xdc k zombie --version 9 --lmt $((now + 1))
    run juno -s "$B" -n xdc get k
    [ "$status" -ne 0 ]
    # a local write after it is stamped later (the proxy's clock moved past
    # the received stamp, even one from the future): it wins
    local future=$((now + 3600000000000))
    python3 "$BATS_TEST_DIRNAME/xdc_check.py" repl "$B" set xdc f fut --version 1 --lmt "$future"
    juno -s "$B" -n xdc put f local
    [ "$(jget "$B" f value)" = local ]
    [ "$(jget "$B" f last_modified)" -gt "$future" ]
    # malformed: no stamp
    run python3 "$BATS_TEST_DIRNAME/xdc_check.py" repl "$B" set xdc k x --version 1
    [[ "$output" == *'"status": "BadParam"'* ]]
    juno -s "$B" ping
}

@test "a proxy without --accept-replication refuses replicated writes; the source counts and logs them" {
    xdc_stores A
    xdc_stores B
    juno-proxy --listen "127.0.0.1:$PB" --map "$TMP/map-B.json" 2>>"$TMP/proxy-B.log" &
    echo $! >>"$TMP/pids"
    wait_started "juno-proxy B" "$TMP/proxy-B.log" $! juno -s "127.0.0.1:$PB" ping
    run python3 "$BATS_TEST_DIRNAME/xdc_check.py" repl "127.0.0.1:$PB" set xdc k v --version 1 --lmt 5
    [[ "$output" == *'"status": "ServiceDenied"'* ]]
    xdc_proxy A --replicate-to "127.0.0.1:$PB"
    juno -s "127.0.0.1:$PA" -n xdc put k1 v1
    juno -s "127.0.0.1:$PA" -n xdc put k2 v2
    wait_for 5 eval '[ "$(metric $MA juno_proxy_xdc_dropped_total reason=\"refused\")" = 2 ]'
    wait_for 5 grep -q "started dropping" "$TMP/proxy-A.log"
    grep -q "replicated write refused by the target.*ServiceDenied" "$TMP/proxy-A.log"
    grep -q "replicated write refused" "$TMP/proxy-B.log"
    run juno -s "127.0.0.1:$PB" -n xdc get k1
    [ "$status" -ne 0 ]
}

@test "a target away for a while loses nothing that fits in the queue" {
    both_up
    kill "$(cat "$TMP/pid-proxy-B")"
    local i
    for i in $(seq 100); do juno -s "127.0.0.1:$PA" -n xdc put "d$i" "v$i"; done
    [ "$(metric "$MA" juno_proxy_xdc_queue_depth)" = 100 ]
    [ "$(metric "$MA" juno_proxy_xdc_queue_bytes)" -gt 0 ]
    sleep 2 # reconnects back off meanwhile
    xdc_proxy B --replicate-to "127.0.0.1:$PA"
    wait_for 10 eval '[ "$(metric $MA juno_proxy_xdc_queue_depth)" = 0 ]'
    [ "$(metric "$MA" juno_proxy_xdc_replicated_total)" = 100 ]
    [ "$(metric "$MA" juno_proxy_xdc_dropped_total)" = 0 ]
    for i in 1 50 100; do [ "$(jget "127.0.0.1:$PB" "d$i" value)" = "v$i" ]; done
}

@test "a full queue drops writes, counted by reason and logged; the proxy goes on" {
    xdc_stores A
    xdc_proxy A --replicate-to "127.0.0.1:$PB" --replicate-queue 4096 --replicate-max-age 2
    local i
    for i in $(seq 60); do juno -s "127.0.0.1:$PA" -n xdc put "q$i" "v$i"; done
    [ "$(metric "$MA" juno_proxy_xdc_dropped_total reason=\"queue_full\")" -gt 0 ]
    [ "$(metric "$MA" juno_proxy_xdc_queue_bytes)" -le 4096 ]
    # the age limit empties the queue: every write is accounted for
    wait_for 6 eval '[ "$(metric $MA juno_proxy_xdc_queue_depth)" = 0 ]'
    local full old
    full=$(metric "$MA" juno_proxy_xdc_dropped_total reason=\"queue_full\")
    old=$(metric "$MA" juno_proxy_xdc_dropped_total reason=\"too_old\")
    [ "$old" -gt 0 ]
    [ $((full + old)) -eq 60 ]
    [ "$(metric "$MA" juno_proxy_xdc_queue_bytes)" = 0 ]
    wait_for 5 grep -q "replication to 127.0.0.1:$PB: started dropping" "$TMP/proxy-A.log"
    juno -s "127.0.0.1:$PA" -n xdc get q1
}

@test "bad --replicate-to is a usage error" {
    run juno-proxy --map "$TMP/map-A.json" --replicate-to "nohost"
    [ "$status" -eq 64 ]
    [[ "$output" == *"--replicate-to"* ]]
    run juno-proxy --map "$TMP/map-A.json" --replicate-to "127.0.0.1:1,127.0.0.1:1"
    [ "$status" -eq 64 ]
    run juno-proxy --map "$TMP/map-A.json" --replicate-to "127.0.0.1:1,"
    [ "$status" -eq 64 ]
}

@test "a target away longer than its queue: drops counted, and juno-repair --peer-map re-syncs the sites" {
    both_up --replicate-queue 4096
    local i A=127.0.0.1:$PA B=127.0.0.1:$PB chk=$BATS_TEST_DIRNAME/xdc_check.py
    for i in $(seq 0 9); do juno -s "$A" -n xdc put "k$i" "before$i"; done
    wait_for 5 eval '[ "$(metric $MA juno_proxy_xdc_replicated_total)" = 10 ]'
    kill "$(cat "$TMP/pid-proxy-B")"
    for i in $(seq 10 69); do juno -s "$A" -n xdc put "k$i" "during$i"; done
    for i in 0 1 2; do juno -s "$A" -n xdc del "k$i"; done
    juno -s "$A" -n xdc put k5 changed
    [ "$(metric "$MA" juno_proxy_xdc_dropped_total reason=\"queue_full\")" -gt 0 ]
    xdc_proxy B --replicate-to "127.0.0.1:$PA" --replicate-queue 4096
    wait_for 10 eval '[ "$(metric $MA juno_proxy_xdc_queue_depth)" = 0 ]'
    # B writes meanwhile, replicated as usual
    juno -s "$B" -n xdc put k70 fromB
    wait_for 5 eval '[ "$(juno -s $A -n xdc get k70)" = fromB ]'
    : >"$TMP/none.log"
    local sites=(--site "A=$A,$TMP/map-A.json" --site "B=$B,$TMP/map-B.json")
    run python3 "$chk" check "${sites[@]}" --keys 71 --log "$TMP/none.log"
    [ "$status" -eq 1 ]
    [[ "$output" == *'"diverged": '[1-9]* ]]
    run juno-repair --map-file "$TMP/map-A.json" --peer-map "$TMP/map-B.json" --dry-run
    [ "$status" -eq 1 ]
    [[ "$output" == *"siteB/z0"* ]]
    # the re-sync: one command
    juno-repair --map-file "$TMP/map-A.json" --peer-map "$TMP/map-B.json"
    run python3 "$chk" check "${sites[@]}" --keys 71 --log "$TMP/none.log"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(juno -s "$B" -n xdc get k5)" = changed ]
    [ "$(juno -s "$B" -n xdc get k40)" = during40 ]
    run juno -s "$B" -n xdc get k1
    [ "$status" -ne 0 ]
    run juno-repair --map-file "$TMP/map-A.json" --peer-map "$TMP/map-B.json" --dry-run
    [ "$status" -eq 0 ]
}

@test "juno-repair --peer-map refuses a map with another shard count" {
    juno-ring init --cluster other --shards 64 --zone "z0=o@127.0.0.1:1" >"$TMP/other.json"
    run juno-repair --map-file "$TMP/map-A.json" --peer-map "$TMP/other.json"
    [ "$status" -eq 65 ]
    [[ "$output" == *"64 shards, this cluster has 32"* ]]
    run juno-repair --map-file "$TMP/map-A.json" --peer-map "$TMP/missing.json"
    [ "$status" -eq 69 ]
}

@test "the replication link over TLS: the target's certificate checked, a client certificate presented" {
    C=$TMP/certs
    mkdir -p "$C"
    echo 'subjectAltName=IP:127.0.0.1,DNS:localhost' >"$C/san.ext"
    ca ca
    ca other
    cert siteB ca
    cert siteA ca
    xdc_stores A
    xdc_stores B
    local jt=(juno --tls-ca "$C/ca.pem" --tls-cert "$C/siteA.pem" --tls-key "$C/siteA.key")
    juno-proxy --listen "127.0.0.1:$PB" --map "$TMP/map-B.json" --accept-replication \
        --tls-cert "$C/siteB.pem" --tls-key "$C/siteB.key" --tls-ca "$C/ca.pem" 2>>"$TMP/proxy-B.log" &
    echo $! >>"$TMP/pids"
    wait_started "juno-proxy B" "$TMP/proxy-B.log" $! "${jt[@]}" -s "127.0.0.1:$PB" ping
    xdc_proxy A --replicate-to "127.0.0.1:$PB" --replicate-tls-ca "$C/ca.pem" \
        --replicate-tls-cert "$C/siteA.pem" --replicate-tls-key "$C/siteA.key"
    juno -s "127.0.0.1:$PA" -n xdc put k1 secret
    wait_for 5 eval '[ "$("${jt[@]}" -s 127.0.0.1:$PB -n xdc get k1 2>/dev/null)" = secret ]'
    [ "$(metric "$MA" juno_proxy_xdc_replicated_total)" = 1 ]
    # a source that trusts another CA does not send: the writes wait in its queue
    kill "$(cat "$TMP/pid-proxy-A")"
    : >"$TMP/proxy-A.log"
    xdc_proxy A --replicate-to "127.0.0.1:$PB" --replicate-tls-ca "$C/other.pem"
    juno -s "127.0.0.1:$PA" -n xdc put k2 v2
    wait_for 5 eval '[ "$(metric $MA juno_proxy_tls_handshake_failures_total role=\"upstream\")" -gt 0 ]'
    [ "$(metric "$MA" juno_proxy_xdc_queue_depth)" = 1 ]
    [ "$(metric "$MA" juno_proxy_xdc_replicated_total)" = 0 ]
    run "${jt[@]}" -s "127.0.0.1:$PB" -n xdc get k2
    [ "$status" -ne 0 ]
    run juno-proxy --map "$TMP/map-A.json" --replicate-tls-ca "$C/ca.pem"
    [ "$status" -eq 64 ]
}

@test "a draining proxy waits a while for its queues, then logs what it loses" {
    xdc_stores A
    xdc_proxy A --replicate-to "127.0.0.1:$PB"
    juno -s "127.0.0.1:$PA" -n xdc put k1 v1
    juno -s "127.0.0.1:$PA" -n xdc put k2 v2
    local pid
    pid=$(cat "$TMP/pid-proxy-A")
    kill -TERM "$pid"
    local t0=$SECONDS
    wait_for 15 eval '! kill -0 $pid 2>/dev/null'
    [ $((SECONDS - t0)) -ge 4 ] # it waited for the target (5 s)
    grep -q "replication to 127.0.0.1:$PB: 2 writes still queued at exit are lost" "$TMP/proxy-A.log"
    grep -q "drained, exiting" "$TMP/proxy-A.log"
}

@test "writes through the RESP face replicate too (SET, DEL, EXPIRE)" {
    local R R2
    read -r R R2 < <(free_ports 2)
    xdc_stores A
    xdc_stores B
    xdc_proxy B --replicate-to "127.0.0.1:$PA" --resp "127.0.0.1:$R2" --resp-namespace xdc
    xdc_proxy A --replicate-to "127.0.0.1:$PB" --resp "127.0.0.1:$R" --resp-namespace xdc
    redis-cli -p "$R" set r1 one
    redis-cli -p "$R" set r2 two
    redis-cli -p "$R" expire r2 1000
    # the expiration crosses to the millisecond
    redis-cli -p "$R" set r4 four pxat 4102444800123
    redis-cli -p "$R" del r1
    redis-cli -p "$R" set r3 three
    wait_for 5 same_on_b r3 value three
    [ "$(jget "127.0.0.1:$PB" r2 value)" = two ]
    [ "$(jget "127.0.0.1:$PB" r2 expiration_time)" = "$(jget "127.0.0.1:$PA" r2 expiration_time)" ]
    [ -n "$(jget "127.0.0.1:$PB" r2 expiration_time)" ]
    wait_for 5 same_on_b r4 value four
    [ "$(redis-cli -p "$R2" pexpiretime r4)" = 4102444800123 ]
    [ "$(redis-cli -p "$R2" pexpiretime r2)" = "$(redis-cli -p "$R" pexpiretime r2)" ]
    run juno -s "127.0.0.1:$PB" -n xdc get r1
    [ "$status" -ne 0 ]
}
