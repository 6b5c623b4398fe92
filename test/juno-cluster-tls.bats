#!/usr/bin/env bats
# bin/juno-cluster up --tls --acl: a cluster CA and certificates made with the
# openssl command, mutual TLS between proxies, stores and juno-migrate, TLS to
# clients through HAProxy (TCP passthrough), an admin user with a random
# password; juno with the admin certificate, redis-cli with the password,
# plaintext and strangers refused, add-store and remove-store under TLS, the
# options kept across down and up. teardown stops every process by PID.

load lib
load cluster_helpers # setup, teardown (every PID killed), gone, up

# ja: juno with the cluster's admin certificate
ja() { juno --tls-ca "$T/ca.pem" --tls-cert "$T/admin.pem" --tls-key "$T/admin.key" "$@"; }

# client_cert NAME: a client certificate CN=NAME from the cluster's CA, in $TMP
client_cert() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/$1.key" \
        -out "$TMP/$1.csr" -subj "/CN=$1" 2>/dev/null
    openssl x509 -req -in "$TMP/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAserial "$TMP/srl" \
        -CAcreateserial -days 1 -out "$TMP/$1.pem" 2>/dev/null
}

# rt ARGS...: redis-cli over TLS to the cluster's RESP port
rt() { redis-cli -h 127.0.0.1 -p "${R##*:}" --tls --cacert "$T/ca.pem" "$@"; }

@test "up --tls --acl: juno with the admin certificate and redis-cli with the admin password through HAProxy; plaintext and strangers refused" {
    up --memory --proxies 2 --resp-port auto --tls --acl
    P=$(cat "$DIR/proxy") R=$(cat "$DIR/resp")
    [[ "$output" == *"juno -s $P --tls-ca $T/ca.pem --tls-cert $T/admin.pem --tls-key $T/admin.key put hello world"* ]]
    [[ "$output" == *"REDISCLI_AUTH=\$(cat $DIR/admin.password) redis-cli -p ${R##*:} --tls --cacert $T/ca.pem --cert $T/admin.pem --key $T/admin.key --user admin get hello"* ]]
    # keys, the ACL and the password are the owner's alone
    for f in "$T"/*.key "$T/haproxy-check.bundle" "$DIR/acl" "$DIR/admin.password"; do
        [ "$(stat -c %a "$f")" = 600 ] || { echo "$f is $(stat -c %a "$f")" >&2; false; }
    done
    [ "$(stat -c %a "$T")" = 700 ]
    [ "$(wc -c <"$DIR/admin.password")" -ge 33 ] # 24 random bytes, base64, a newline
    grep -q '^user admin password=pbkdf2-sha256\$[^ ]* cn=admin ns=\*:rw$' "$DIR/acl"
    # every store's certificate names 127.0.0.1 and is the CA's
    for s in "$T"/store-*.pem; do
        openssl verify -CAfile "$T/ca.pem" "$s" >/dev/null
        openssl x509 -noout -ext subjectAltName -in "$s" | grep -q "IP Address:127.0.0.1"
    done
    grep -q "check-ssl verify required" "$DIR/haproxy.cfg"

    # the JunoDB protocol through HAProxy, known by the admin certificate
    ja -s "$P" put k v1
    [ "$(ja -s "$P" get k)" = v1 ]
    [ "$( (. "$DIR/env" && juno get k))" = v1 ]
    # RESP through HAProxy: a client certificate the CA signed that names no
    # user, then AUTH with the admin's password
    client_cert app
    [ "$(rt --cert "$TMP/app.pem" --key "$TMP/app.key" get k)" = "NOAUTH Authentication required." ]
    [ "$(REDISCLI_AUTH=$(cat "$DIR/admin.password") rt --cert "$TMP/app.pem" --key "$TMP/app.key" --user admin get k)" = v1 ]
    [ "$(rt --cert "$TMP/app.pem" --key "$TMP/app.key" --user admin --pass "$(cat "$DIR/admin.password")" \
        --no-auth-warning set r rv)" = OK ]
    run rt --cert "$TMP/app.pem" --key "$TMP/app.key" --user admin --pass wrong --no-auth-warning get k
    [[ "$output" == *"AUTH failed: WRONGPASS"*"NOAUTH"* ]]
    [ "$(ja -s "$P" get r)" = rv ]
    # the JunoDB protocol with a certificate that names no user: ServiceDenied
    run juno -s "$P" --tls-ca "$T/ca.pem" --tls-cert "$TMP/app.pem" --tls-key "$TMP/app.key" get k
    [[ "$output" == *ServiceDenied* ]]
    # ... and the same certificate with a login as the admin (juno --user)
    [ "$(JUNO_PASSWORD=$(cat "$DIR/admin.password") juno -s "$P" --tls-ca "$T/ca.pem" \
        --tls-cert "$TMP/app.pem" --tls-key "$TMP/app.key" --user admin get k)" = v1 ]

    # refused: plaintext, no client certificate, a certificate of another CA
    run juno -s "$P" --timeout 1000 --retries 0 get k
    [ "$status" -ne 0 ]
    run redis-cli -h 127.0.0.1 -p "${R##*:}" get k
    [ "$output" != v1 ]
    run juno -s "$P" --tls-ca "$T/ca.pem" --retries 0 get k
    [ "$status" -eq 76 ]
    mkdir "$TMP/other" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$TMP/other/ca.key" -out "$TMP/other/ca.pem" -days 1 -subj "/CN=other" 2>/dev/null
    T=$TMP/other client_cert stranger
    run juno -s "$P" --tls-ca "$T/ca.pem" --tls-cert "$TMP/stranger.pem" --tls-key "$TMP/stranger.key" --retries 0 get k
    [ "$status" -eq 76 ]
    # nor does a store speak to anyone without a certificate the CA signed
    S=$(cat "$DIR/addr/store-z0-s1")
    run juno --store "$S" --timeout 1000 nop
    [ "$status" -ne 0 ]
    run juno --store "$S" --tls-ca "$T/ca.pem" --tls-cert "$TMP/app.pem" --tls-key "$TMP/app.key" nop
    [ "$status" -eq 0 ] # the CA's: a cluster member
    grep -q "reason=not_tls" "$DIR/log/store-z0-s1.log"
    cat "$DIR"/log/proxy-*.log | grep -q "reason=not_tls"
    cat "$DIR"/log/proxy-*.log | grep -q "reason=untrusted"

    # status checks every process over TLS and says so
    run juno-cluster status --dir "$DIR"
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [ "$(grep -c ' running  ok ' <<<"$output")" -eq 7 ]
    [[ "$output" == *"; TLS, CA $T/ca.pem; ACL $DIR/acl"* ]]
}

@test "add-store and remove-store under TLS: the new store gets its certificate, juno-migrate the admin's; every key stays readable" {
    up --memory --shards 64 --tls --acl
    P=$(cat "$DIR/proxy")
    for i in $(seq 1 60); do ja -s "$P" put "m$i" "v$i" >/dev/null; done
    run juno-cluster add-store z1 --dir "$DIR" --yes
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" == *"store z1/s2 added at 127.0.0.1:"* ]]
    openssl verify -CAfile "$T/ca.pem" "$T/store-z1-s2.pem"
    [ "$(stat -c %a "$T/store-z1-s2.key")" = 600 ]
    [[ "$(juno-ring fetch --etcd "$(cat "$DIR/etcd")")" == *'"version": 2,'* ]]
    for i in $(seq 1 60); do [ "$(ja -s "$P" get "m$i")" = "v$i" ]; done
    # the new store holds some of the keys, and serves them only over TLS
    S2=$(cat "$DIR/addr/store-z1-s2")
    held=0
    for i in $(seq 1 60); do
        ja --store "$S2" --map "$DIR/map.json" read "m$i" --json | grep -q '"status":"Ok"' && held=$((held + 1))
    done
    [ "$held" -gt 0 ]
    run juno --store "$S2" --timeout 1000 nop
    [ "$status" -ne 0 ]
    old=$(cat "$DIR/pid/store-z1-s1.pid")
    run juno-cluster remove-store z1 s1 --dir "$DIR" --yes
    echo "$output" >&2
    [ "$status" -eq 0 ]
    gone "$old"
    [ ! -e "$T/store-z1-s1.key" ]
    for i in $(seq 1 60); do [ "$(ja -s "$P" get "m$i")" = "v$i" ]; done
    run juno-cluster status --dir "$DIR"
    [ "$status" -eq 0 ]
    [[ "$output" == *"map version 3 in etcd"* ]]
    ! grep -h "TLS handshake" "$DIR"/log/store-*.log "$DIR"/log/proxy-*.log | grep -v "reason=not_tls"
}

@test "--tls and --acl are kept across down and up with the same CA and password; down stops every process; --no-tls --no-acl turn them off" {
    up --zones 1 --tls --acl
    P=$(cat "$DIR/proxy")
    ja -s "$P" put k v1
    ca=$(md5sum <"$T/ca.pem") pw=$(cat "$DIR/admin.password")
    pids=$(cat "$DIR"/pid/*.pid)
    addrs=$(cat "$DIR"/addr/*)
    run juno-cluster down --dir "$DIR"
    [ "$status" -eq 0 ]
    for p in $pids; do gone "$p"; done
    for a in $addrs; do ! (exec 3<>"/dev/tcp/${a%:*}/${a##*:}") 2>/dev/null; done
    [ -z "$(ls "$DIR/pid")" ]
    up --zones 1 # no option: as before
    P=$(cat "$DIR/proxy")
    [[ "$output" == *"TLS on every connection"* ]]
    [ "$(md5sum <"$T/ca.pem")" = "$ca" ]
    [ "$(cat "$DIR/admin.password")" = "$pw" ]
    [ "$(ja -s "$P" get k)" = v1 ] # on disk: kept
    run juno -s "$P" --timeout 1000 --retries 0 get k
    [ "$status" -ne 0 ]
    run juno-cluster status --dir "$DIR"
    [[ "$output" == *"; TLS, CA $T/ca.pem; ACL $DIR/acl"* ]]
    # up on a running cluster with other options says how they are
    run juno-cluster up --dir "$DIR" --no-tls
    [[ "$output" == *"already running"*"TLS on and ACL on: down, then up"* ]]
    juno-cluster down --dir "$DIR"
    up --zones 1 --no-tls --no-acl
    P=$(cat "$DIR/proxy")
    [ "$(juno -s "$P" get k)" = v1 ]
    run juno-cluster status --dir "$DIR"
    [ "$status" -eq 0 ]
    [[ "$output" != *TLS* ]]
    run juno-cluster --help
    [[ "$output" == *"--tls "*"--acl "* ]]
}

@test "up --tls without --acl: clients need only the cluster CA; HAProxy's TLS health checks count no refusals" {
    up --memory --zones 1 --proxies 2 --resp-port auto --tls
    P=$(cat "$DIR/proxy") R=$(cat "$DIR/resp")
    [[ "$output" == *"redis-cli -p ${R##*:} --tls --cacert $T/ca.pem get hello"* ]]
    [ ! -e "$DIR/acl" ]
    juno -s "$P" --tls-ca "$T/ca.pem" put k v
    [ "$(rt get k)" = v ]
    [ "$(rt set k2 v2)" = OK ]
    [ "$(juno -s "$P" --tls-ca "$T/ca.pem" get k2)" = v2 ]
    run juno -s "$P" --timeout 1000 --retries 0 get k # plaintext
    [ "$status" -ne 0 ]
    sleep 1.2 # two rounds of health checks
    for p in 1 2; do
        m=$(cat "$DIR/metrics/proxy-$p")
        # each refusal is counted: only the plaintext get's (on one proxy)
        n=$(curl -s "http://$m/metrics" |
            awk '/^juno_proxy_tls_handshake_failures_total/ && $1 !~ /not_tls/ { s += $2 } END { print s + 0 }')
        [ "$n" -eq 0 ]
    done
}

@test "up --acl without --tls: juno logs in with the admin's password (the env file, or JUNO_USER/JUNO_PASSWORD); without it ServiceDenied" {
    up --memory --zones 1 --acl
    P=$(cat "$DIR/proxy")
    [[ "$output" == *"JUNO_USER=admin JUNO_PASSWORD=\$(cat $DIR/admin.password) juno -s $P put hello world"* ]]
    run juno -s "$P" put k v
    [[ "$output" == *ServiceDenied* ]]
    (. "$DIR/env" && juno put k v)
    [ "$(JUNO_USER=admin JUNO_PASSWORD=$(cat "$DIR/admin.password") juno -s "$P" get k)" = v ]
    run juno -s "$P" --user admin --password wrong get k
    [ "$status" -eq 77 ]
    ! grep -q "$(cat "$DIR/admin.password")" "$DIR/env" # the env file reads the password file
}
