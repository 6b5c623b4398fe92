#!/usr/bin/env bats
# etcd-tls.bats: juno against a secured etcd (the real one, started here on
# free loopback ports): https with client certificates (etcd
# --client-cert-auth), etcd's user/password auth with tokens that expire, and
# both at once, for juno-ring, juno-store, juno-proxy, juno-migrate and
# juno-repair; the
# refusals (no client certificate, one of another CA, a wrong password, no
# user) say what is wrong. teardown stops every process started (by PID).

bats_require_minimum_version 1.5.0
load lib
load etcd_helpers

PW=s3cret-Pw-7

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-etcd-tls.XXXXXX")
    : >"$TMP/pids"
    C=$TMP/certs
    mkdir -p "$C"
    echo 'subjectAltName=IP:127.0.0.1,DNS:localhost' >"$C/san.ext"
    ca ca
    ca other
    cert server ca
    cert client ca
    cert rogue other
    # etcd's gateway refuses a client certificate with a Common Name once
    # auth is on (it cannot pass the CN on as the user): one without
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/nocn.key" \
        -out "$C/nocn.csr" -subj "/O=juno" 2>/dev/null
    openssl x509 -req -in "$C/nocn.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
        -days 30 -extfile "$C/san.ext" -out "$C/nocn.pem" 2>/dev/null
    printf '%s\n' "$PW" >"$TMP/pw"
    chmod 600 "$TMP/pw"
    unset JUNO_ETCD JUNO_ETCD_CA JUNO_ETCD_CERT JUNO_ETCD_KEY JUNO_ETCD_USER JUNO_ETCD_PASSWORD
    SEC=() AUTH=()
}

teardown() {
    stop_pids <(tac "$TMP/pids")
    local bad=0
    sanitizer_reports "$TMP"/*.log && bad=1
    rm -rf "$TMP"
    return "$bad"
}

# tls_etcd [CERT [etcd options]]: etcd over https asking for client
# certificates of the CA; juno (SEC) and etcdctl present CERT (default client).
tls_etcd() {
    local crt=${1:-client}
    shift || true
    ETCD_SCHEME=https
    ETCD_CURL=(--cacert "$C/ca.pem" --cert "$C/$crt.pem" --key "$C/$crt.key")
    export ETCDCTL_CACERT=$C/ca.pem ETCDCTL_CERT=$C/$crt.pem ETCDCTL_KEY=$C/$crt.key
    SEC=(--etcd-ca "$C/ca.pem" --etcd-cert "$C/$crt.pem" --etcd-key "$C/$crt.key")
    start_etcd --cert-file "$C/server.pem" --key-file "$C/server.key" --client-cert-auth \
        --trusted-ca-file "$C/ca.pem" "$@"
}

# enable_auth: user juno (password $PW) may read and write /juno/; root for
# etcdctl; auth on.
enable_auth() {
    etcdctl_ user add root --new-user-password=rootpw >/dev/null
    etcdctl_ user grant-role root root >/dev/null 2>&1 || true
    etcdctl_ role add juno >/dev/null
    etcdctl_ role grant-permission juno --prefix=true readwrite /juno/ >/dev/null
    etcdctl_ user add juno --new-user-password="$PW" >/dev/null
    etcdctl_ user grant-role juno juno >/dev/null
    etcdctl_ auth enable >/dev/null 2>&1
    export ETCDCTL_USER=root:rootpw
    AUTH=(--etcd-user juno --etcd-password-file "$TMP/pw")
}

# cluster1 [NODES]: a one-zone map of cluster c1 over 1 (or NODES) store
# addresses $S1 $S2 ..., published as version 1; the proxy's address $PROXY.
cluster1() {
    local ports
    read -r -a ports < <(free_ports 4)
    S1=127.0.0.1:${ports[0]} S2=127.0.0.1:${ports[1]} PROXY=127.0.0.1:${ports[2]}
    juno-ring init --cluster c1 --shards 16 --zone "z0=s1@$S1" --out "$TMP/m1.json"
    juno-ring publish "$TMP/m1.json" --etcd "$ETCD" "${SEC[@]}" "${AUTH[@]}" >/dev/null
}

# store NODE ADDR [options]: juno-store --etcd in memory, waits until it answers.
store() {
    local n=$1 addr=$2
    shift 2
    juno-store --etcd "$ETCD" "${SEC[@]}" --cluster c1 --zone z0 --node "$n" --listen "$addr" \
        --memory "$@" 2>>"$TMP/store-$n.log" &
    echo $! >"$TMP/pid-$n"
    echo $! >>"$TMP/pids"
    wait_started "store $n" "$TMP/store-$n.log" $! juno --store "$addr" --timeout 200 nop
}

# proxy [options]: juno-proxy --etcd at $PROXY, waits until it answers.
proxy() {
    juno-proxy --etcd "$ETCD" "${SEC[@]}" --cluster c1 --listen "$PROXY" "$@" \
        2>>"$TMP/proxy.log" &
    echo $! >"$TMP/pid-proxy"
    echo $! >>"$TMP/pids"
    wait_started proxy "$TMP/proxy.log" $! juno -s "$PROXY" --timeout 200 --retries 0 ping
}

# bump TO: publish the map of m1.json again as version TO.
bump() {
    sed "s/\"version\": [0-9]*,/\"version\": $1,/" "$TMP/m1.json" >"$TMP/v$1.json"
    juno-ring publish "$TMP/v$1.json" --etcd "$ETCD" "${SEC[@]}" "${AUTH[@]}" >/dev/null
}

# proxy_at V: the proxy registered map version V (every worker swapped).
proxy_at() { etcd_get "/juno/c1/proxies/$PROXY" | grep -q "\"map_version\":$1[,}]"; }

@test "https with client certificates: juno-ring publishes and fetches; JUNO_ETCD_* work; no certificate, a foreign one, an unknown CA or http:// are refused, saying why (69)" {
    tls_etcd
    juno-ring init --cluster c1 --shards 16 --zone z0=s1@127.0.0.1:9001 --out "$TMP/m1.json"
    run juno-ring publish "$TMP/m1.json" --etcd "$ETCD" "${SEC[@]}"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"published map version 1 of cluster c1"* ]]
    run --separate-stderr juno-ring fetch --etcd "$ETCD" "${SEC[@]}" --cluster c1
    [ "$status" -eq 0 ]
    [ "$output" = "$(cat "$TMP/m1.json")" ]
    JUNO_ETCD=$ETCD JUNO_ETCD_CA=$C/ca.pem JUNO_ETCD_CERT=$C/client.pem JUNO_ETCD_KEY=$C/client.key \
        juno-ring fetch --cluster c1 --out "$TMP/env.json"
    cmp "$TMP/env.json" "$TMP/m1.json"
    # no client certificate
    run --separate-stderr juno-ring fetch --etcd "$ETCD" --etcd-ca "$C/ca.pem" --cluster c1
    echo "$stderr"
    [ "$status" -eq 69 ]
    [[ $stderr == *"etcd may require a client certificate: --etcd-cert and --etcd-key"* ]]
    # one from another CA
    run --separate-stderr juno-ring fetch --etcd "$ETCD" --etcd-ca "$C/ca.pem" \
        --etcd-cert "$C/rogue.pem" --etcd-key "$C/rogue.key" --cluster c1
    echo "$stderr"
    [ "$status" -eq 69 ]
    [[ $stderr == *"etcd refused the TLS handshake: is the client certificate signed by etcd's --trusted-ca-file?"* ]]
    # etcd's certificate checked against the wrong CA
    run --separate-stderr juno-ring fetch --etcd "$ETCD" --etcd-ca "$C/other.pem" \
        --etcd-cert "$C/client.pem" --etcd-key "$C/client.key" --cluster c1
    echo "$stderr"
    [ "$status" -eq 69 ]
    [[ $stderr == *"etcd's certificate is not signed by the CA given"* ]]
    # plaintext to the TLS port
    run --separate-stderr juno-ring fetch --etcd "http://127.0.0.1:$ETCD_CPORT" --cluster c1
    [ "$status" -eq 69 ]
    [[ $stderr == *"does etcd serve https?"* ]]
}

@test "the etcd options: files checked at start (78), options that go together (64), never a password on the command line" {
    tls_etcd
    cluster1
    run --separate-stderr juno-store --etcd "$ETCD" --etcd-ca "$C/missing.pem" --memory --check-config
    [ "$status" -eq 78 ]
    [[ $stderr == *"unable to use the etcd TLS files: cannot load TLS CA $C/missing.pem"* ]]
    run --separate-stderr juno-proxy --etcd "$ETCD" --etcd-cert "$C/client.pem" --etcd-key "$C/rogue.key" --check-config
    [ "$status" -eq 78 ]
    [[ $stderr == *"unable to use the etcd TLS files: cannot load TLS key $C/rogue.key"* ]]
    run --separate-stderr juno-proxy --etcd "$ETCD" --etcd-cert "$C/client.pem"
    [ "$status" -eq 64 ]
    [[ $stderr == *"--etcd-cert and --etcd-key go together"* ]]
    run --separate-stderr juno-proxy --map "$TMP/m1.json" --etcd-ca "$C/ca.pem"
    [ "$status" -eq 64 ]
    [[ $stderr == *"--etcd-ca needs --etcd"* ]]
    run --separate-stderr juno-migrate --map-file "$TMP/m1.json" --etcd-user juno
    [ "$status" -eq 64 ]
    run --separate-stderr juno-store --etcd "$ETCD" --memory --etcd-user juno
    [ "$status" -eq 64 ]
    [[ $stderr == *"--etcd-user juno needs a password: JUNO_ETCD_PASSWORD or --etcd-password-file"* ]]
    run --separate-stderr juno-ring fetch --etcd "$ETCD" --etcd-user juno --etcd-password "$PW"
    [ "$status" -eq 64 ]
    [[ $stderr == *"there is no --etcd-password"* ]]
    [[ $stderr != *"$PW"* ]]
    : >"$TMP/empty"
    run --separate-stderr juno-ring fetch --etcd "$ETCD" --etcd-user juno --etcd-password-file "$TMP/empty"
    [ "$status" -eq 78 ]
    [[ $stderr == *"its first line is empty"* ]]
    run juno-ring show --etcd-ca "$C/ca.pem" "$TMP/m1.json"
    [ "$status" -eq 64 ]
    # --check-config says what it will do
    run --separate-stderr juno-proxy --etcd "$ETCD" "${SEC[@]}" --cluster c1 --check-config
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [[ $output == *"; etcd https with CA $C/ca.pem, client certificate $C/client.pem"* ]]
}

@test "over https with client certificates a store registers and a proxy follows the map; without a certificate a proxy has no map (69)" {
    tls_etcd
    cluster1
    store s1 "$S1"
    [[ $(etcd_get /juno/c1/stores/z0/s1) == *"\"addr\":\"$S1\""* ]]
    proxy
    juno -s "$PROXY" put k1 v1
    [ "$(juno -s "$PROXY" get k1)" = v1 ]
    wait_for "proxy registered on version 1" proxy_at 1
    bump 2
    wait_for "proxy on version 2" proxy_at 2
    wait_for "store on version 2" bash -c "ETCDCTL_API=3 etcdctl --endpoints=$ETCD get --print-value-only /juno/c1/stores/z0/s1 | grep -q '\"map_version\":2'"
    [ "$(juno -s "$PROXY" get k1)" = v1 ]
    read -r other < <(free_ports 1)
    run --separate-stderr juno-proxy --etcd "$ETCD" --etcd-ca "$C/ca.pem" --cluster c1 --listen "127.0.0.1:$other"
    echo "$stderr"
    [ "$status" -eq 69 ]
    [[ $stderr == *"no map to start from: etcd unreachable: "*"etcd may require a client certificate"* ]]
}

@test "etcd auth: the right password works (a map change reaches the proxy by the watch); a wrong one or none is refused clearly, and the password is never shown" {
    start_etcd
    enable_auth
    cluster1
    JUNO_ETCD_PASSWORD=$PW store s1 "$S1" --etcd-user juno
    proxy "${AUTH[@]}" --map-cache "$TMP/cache.json"
    juno -s "$PROXY" put k1 v1
    wait_for "proxy registered on version 1" proxy_at 1
    bump 2
    wait_for "proxy on version 2" proxy_at 2
    # a wrong password
    echo wrong-Pw-1 >"$TMP/bad"
    run --separate-stderr juno-ring fetch --etcd "$ETCD" --cluster c1 --etcd-user juno --etcd-password-file "$TMP/bad"
    echo "$stderr"
    [ "$status" -eq 69 ]
    [[ $stderr == *"etcd: authentication failed for user juno"* ]]
    [[ $stderr != *wrong-Pw-1* ]]
    read -r other < <(free_ports 1)
    run --separate-stderr env JUNO_ETCD_PASSWORD=wrong-Pw-1 juno-proxy --etcd "$ETCD" --cluster c1 \
        --etcd-user juno --listen "127.0.0.1:$other"
    echo "$stderr"
    [ "$status" -eq 69 ]
    [[ $stderr == *"no map to start from: etcd: authentication failed for user juno"* ]]
    [[ $stderr != *wrong-Pw-1* ]]
    # ... with a map cache it starts from that, as when etcd is down
    juno-proxy --etcd "$ETCD" --cluster c1 --etcd-user juno --etcd-password-file "$TMP/bad" \
        --map-cache "$TMP/cache.json" --listen "127.0.0.1:$other" 2>>"$TMP/proxy-bad.log" &
    echo $! >>"$TMP/pids"
    wait_started proxy-bad "$TMP/proxy-bad.log" $! juno -s "127.0.0.1:$other" --timeout 200 --retries 0 ping
    [ "$(juno -s "127.0.0.1:$other" get k1)" = v1 ]
    grep -q "starting from map $TMP/cache.json version 2: etcd: authentication failed for user juno" "$TMP/proxy-bad.log"
    # no user at all
    run --separate-stderr juno-ring fetch --etcd "$ETCD" --cluster c1
    echo "$stderr"
    [ "$status" -eq 69 ]
    [[ $stderr == *"etcd requires authentication (auth is enabled there): give a user (--etcd-user)"* ]]
    # the passwords are in no log
    ! grep -r -e "$PW" -e wrong-Pw-1 "$TMP"/*.log
}

@test "etcd auth: expired tokens are renewed without an error, by the registrations, the watch, and after an etcd restart" {
    start_etcd --auth-token-ttl 1
    enable_auth
    cluster1
    store s1 "$S1" "${AUTH[@]}"
    proxy "${AUTH[@]}"
    wait_for "proxy registered on version 1" proxy_at 1
    # lease keepalives need no token: idle past their TTL, the tokens expire,
    # and the next write with one (a registration's new map_version) is refused
    sleep 3
    bump 2
    wait_for "proxy on version 2" proxy_at 2
    wait_for "store on version 2" bash -c "ETCDCTL_API=3 etcdctl --endpoints=$ETCD get --print-value-only /juno/c1/stores/z0/s1 | grep -q '\"map_version\":2'"
    refused=$(grep -c '"invalid auth token"' "$TMP/etcd.log")
    [ "$refused" -ge 2 ]
    # a restarted etcd knows no token: the watch comes back with a new one
    stop_etcd
    start_etcd --auth-token-ttl 1
    bump 3
    wait_for "proxy on version 3" proxy_at 3
    wait_for "store on version 3" bash -c "ETCDCTL_API=3 etcdctl --endpoints=$ETCD get --print-value-only /juno/c1/stores/z0/s1 | grep -q '\"map_version\":3'"
    juno -s "$PROXY" put k2 v2
    [ "$(juno -s "$PROXY" get k2)" = v2 ]
    # etcd refused tokens again, and juno said nothing about it
    [ "$(grep -c '"invalid auth token"' "$TMP/etcd.log")" -gt "$refused" ]
    ! grep -i -e token -e authentication "$TMP/proxy.log" "$TMP/store-s1.log"
    kill -0 "$(cat "$TMP/pid-proxy")" "$(cat "$TMP/pid-s1")"
}

@test "https, client certificates and auth at once: a certificate with a Common Name is refused by etcd's gateway, saying so; juno-migrate adds a store" {
    tls_etcd nocn
    enable_auth
    cluster1
    run --separate-stderr juno-ring fetch --etcd "$ETCD" --etcd-ca "$C/ca.pem" --etcd-cert "$C/client.pem" \
        --etcd-key "$C/client.key" "${AUTH[@]}" --cluster c1
    echo "$stderr"
    [ "$status" -eq 69 ]
    [[ $stderr == *"refuses a client certificate with a Common Name once auth is enabled"* ]]
    store s1 "$S1" "${AUTH[@]}"
    proxy "${AUTH[@]}"
    for i in $(seq 40); do juno -s "$PROXY" put "k$i" "v$i"; done
    # a second store joins; juno-migrate moves half the shards to it
    JUNO_ETCD_PASSWORD=$PW store s2 "$S2" --etcd-user juno
    juno-ring plan "$TMP/m1.json" --add "z0=s2@$S2" --json >"$TMP/plan.json"
    run juno-migrate "$TMP/plan.json" --etcd "$ETCD" "${SEC[@]}" "${AUTH[@]}" --cluster c1 --yes --drain-ms 100
    echo "$output"
    [ "$status" -eq 0 ]
    wait_for "proxy on version 2" proxy_at 2
    for i in $(seq 40); do [ "$(juno -s "$PROXY" get "k$i")" = "v$i" ]; done
    juno-ring fetch --etcd "$ETCD" "${SEC[@]}" "${AUTH[@]}" --cluster c1 | grep -q "\"s2\""
    # juno-repair reads the map and keeps its pass's state in the same etcd
    run juno-repair --etcd "$ETCD" "${SEC[@]}" "${AUTH[@]}" --cluster c1 --dry-run
    echo "$output"
    [ "$status" -eq 0 ]
    # ... and with a wrong password it cannot read the state
    echo wrong >"$TMP/bad"
    run --separate-stderr juno-migrate --abort --etcd "$ETCD" "${SEC[@]}" --etcd-user juno --etcd-password-file "$TMP/bad" --cluster c1 --yes
    [ "$status" -eq 69 ]
    [[ $stderr == *"etcd: authentication failed for user juno"* ]]
    run --separate-stderr juno-repair --etcd "$ETCD" "${SEC[@]}" --etcd-user juno --etcd-password-file "$TMP/bad" --cluster c1
    echo "$stderr"
    [ "$status" -eq 69 ]
    [[ $stderr == *"etcd: authentication failed for user juno"* ]]
}

@test "etcd auth: a new password (etcdctl user passwd) reaches the proxy and the store by SIGHUP; a file that cannot be read keeps the old" {
    start_etcd
    enable_auth
    cluster1
    cp "$TMP/pw" "$TMP/dpw" # the daemons' file
    store s1 "$S1" --etcd-user juno --etcd-password-file "$TMP/dpw"
    proxy --etcd-user juno --etcd-password-file "$TMP/dpw"
    wait_for "proxy registered on version 1" proxy_at 1
    # a broken file on SIGHUP: refused, logged, the old password kept
    : >"$TMP/dpw"
    kill -HUP "$(cat "$TMP/pid-proxy")"
    wait_for "refusal logged" grep -q "etcd password reload refused, keeping the one in use: unable to use --etcd-password-file $TMP/dpw: its first line is empty" "$TMP/proxy.log"
    bump 2
    wait_for "proxy on version 2 (old password)" proxy_at 2
    # etcd's password changes (old tokens stop working): the daemons get the new file and SIGHUP
    echo "$PW-2" | etcdctl_ user passwd juno --interactive=false >/dev/null
    printf '%s\n' "$PW-2" >"$TMP/dpw"
    printf '%s\n' "$PW-2" >"$TMP/pw" # juno-ring's (bump)
    kill -HUP "$(cat "$TMP/pid-proxy")" "$(cat "$TMP/pid-s1")"
    wait_for "proxy reload logged" grep -q "etcd password reloaded from $TMP/dpw user=juno" "$TMP/proxy.log"
    wait_for "store reload logged" grep -q "etcd password reloaded from $TMP/dpw user=juno" "$TMP/store-s1.log"
    bump 3
    wait_for "proxy on version 3" proxy_at 3
    wait_for "store on version 3" grep -q "map loaded cluster=c1 version=3" "$TMP/store-s1.log"
    ! grep -r -e "$PW" "$TMP"/*.log
}
