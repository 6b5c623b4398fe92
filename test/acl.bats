#!/usr/bin/env bats
# acl.bats: juno-proxy --acl with real daemons: RESP clients (redis-cli,
# redis-py, raw pipelined bytes) authenticate with AUTH or HELLO AUTH and get
# Redis 6's NOAUTH, WRONGPASS and NOPERM; JunoDB-protocol clients are known
# by their TLS client certificate and get ServiceDenied (2), with nothing
# written; SIGHUP reloads the file (a bad one keeps the old, file:line
# logged); protected mode refuses a non-loopback address without TLS or an
# ACL. teardown stops every process by PID.

load lib

setup() {
    TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/juno-acl.XXXXXX")
    : >"$TMP/pids"
    read -r P1 PX PR PM < <(free_ports 4)
    S1=127.0.0.1:$P1 PROXY=127.0.0.1:$PX RESP=127.0.0.1:$PR METRICS=127.0.0.1:$PM
    MAP=$TMP/map.json
    juno-ring init --cluster t --shards 16 --zone "z0=s1@$S1" >"$MAP"
    ACL=$TMP/acl.conf
    H_APP=$(echo app-secret | juno-proxy --hash-password)
    H_READ=$(echo read-secret | juno-proxy --hash-password)
    cat >"$ACL" <<EOF
# users of the test
user app password=$H_APP ns=app:rw default-ns=app
user reader password=$H_READ ns=app:r default-ns=app
user billing cn=billing-svc ns=billing:rw ns=shared*:r
EOF
}

teardown() {
    stop_pids "$TMP/pids"
    local bad=0
    sanitizer_reports "$TMP"/*.log && bad=1
    rm -rf "$TMP"
    return "$bad"
}

# start_proxy [options]: juno-proxy with --acl and the RESP face
start_proxy() {
    juno-proxy --listen "$PROXY" --resp "$RESP" --map "$MAP" --acl "$ACL" --metrics "$METRICS" \
        "$@" 2>>"$TMP/proxy.log" &
    PPID_=$!
    echo "$PPID_" >>"$TMP/pids"
    wait_started juno-proxy "$TMP/proxy.log" "$PPID_" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PR"
}

rc() { redis-cli -p "$PR" "$@"; }

# certs CA: in $C, a CA "ca" and certificates proxy and billing-svc it signed,
# and stranger signed by CA (ca, or "other", a second CA made here)
certs() {
    C=$TMP/certs
    mkdir -p "$C"
    echo 'subjectAltName=IP:127.0.0.1,DNS:localhost' >"$C/san.ext"
    ca ca
    cert proxy ca
    cert billing-svc ca
    [ "$1" = ca ] || ca "$1"
    cert stranger "$1"
}

metric() { curl -s "http://$METRICS/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

@test "RESP: NOAUTH until AUTH; WRONGPASS counted; AUTH user pass and HELLO AUTH; the user's namespace" {
    start_store s1 "$S1" --memory
    start_proxy
    [[ "$(rc get k)" == "NOAUTH Authentication required." ]]
    [[ "$(rc set k v)" == "NOAUTH Authentication required." ]]
    [[ "$(rc auth app wrong)" == "WRONGPASS invalid username-password pair or user is disabled." ]]
    [[ "$(rc auth nobody app-secret)" == WRONGPASS* ]]
    [[ "$(rc auth app-secret)" == WRONGPASS* ]] # the user "default", which does not exist
    [ "$(metric juno_proxy_auth_failures_total)" = 3 ]
    [ "$(rc --user app --pass app-secret --no-auth-warning set k v)" = OK ]
    [ "$(rc --user app --pass app-secret --no-auth-warning get k)" = v ]
    # written in the user's namespace, app
    [ "$(juno --store "$S1" --map "$MAP" -n app get k)" = v ]
    run juno --store "$S1" --map "$MAP" -n default get k
    [ "$status" -eq 1 ]
    # HELLO 2 AUTH, then a command on the same connection
    run rc hello 2 auth app app-secret
    [[ "$output" == *juno* ]]
    [[ "$(rc hello 2)" == NOAUTH* ]]
    [ "$(grep -c 'RESP authentication failed' "$TMP/proxy.log")" -eq 3 ]
}

@test "RESP: before AUTH, Redis 7's limits: 10 arguments, 16 KiB bulk strings; after it, the usual" {
    start_store s1 "$S1" --memory
    start_proxy
    run python3 -c '
import socket, sys
def send(b):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b)
    got = b""
    while True:
        d = s.recv(4096)
        if not d: break
        got += d
    return got.decode().strip()
print(send(b"*11\r\n"))
print(send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16385\r\n"))' "$PR"
    echo "$output"
    [ "${lines[0]}" = "-ERR Protocol error: unauthenticated multibulk length" ]
    [ "${lines[1]}" = "-ERR Protocol error: unauthenticated bulk length" ]
    kill -0 "$PPID_"
    big=$(head -c 100000 /dev/zero | tr '\0' x)
    [ "$(rc --user app --pass app-secret --no-auth-warning set big "$big")" = OK ]
    [ "$(rc --user app --pass app-secret --no-auth-warning strlen big)" = 100000 ]
    [ "$(rc --user app --pass app-secret --no-auth-warning mset a 1 b 2 c 3 d 4 e 5 f 6)" = OK ]
}

@test "RESP: a pipelined AUTH and SET in one write run the SET as the new user" {
    start_store s1 "$S1" --memory
    start_proxy
    run /usr/bin/python3 - "$PR" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def cmd(*a):
    return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
s.sendall(cmd(b"GET", b"p") + cmd(b"AUTH", b"app", b"app-secret") + cmd(b"SET", b"p", b"1")
          + cmd(b"GET", b"p") + cmd(b"AUTH", b"app", b"bad") + cmd(b"GET", b"p"))
# a failed AUTH leaves the connection's user as it was (as in Redis)
want = b"-NOAUTH Authentication required.\r\n+OK\r\n+OK\r\n$1\r\n1\r\n-WRONGPASS"
got, end = b"", time.time() + 5
while not (got.startswith(want) and got.endswith(b"$1\r\n1\r\n")) and time.time() < end:
    got += s.recv(4096)
print(got)
sys.exit(0 if got.startswith(want) and got.endswith(b"$1\r\n1\r\n") else 1)
EOF
    echo "$output" >&2
    [ "$status" -eq 0 ]
}

@test "RESP: a read-only user reads and gets NOPERM on writes; redis-py sees the same errors" {
    start_store s1 "$S1" --memory
    start_proxy
    rc --user app --pass app-secret --no-auth-warning set shared v >/dev/null
    [ "$(rc --user reader --pass read-secret --no-auth-warning get shared)" = v ]
    run rc --user reader --pass read-secret --no-auth-warning set shared w
    [[ "$output" == "NOPERM this user has no permissions to access one of the keys used as arguments" ]]
    run rc --user reader --pass read-secret --no-auth-warning del shared
    [[ "$output" == NOPERM* ]]
    [ "$(rc --user app --pass app-secret --no-auth-warning get shared)" = v ]
    [ "$(metric 'juno_proxy_acl_denied_total{face="resp"}')" -ge 2 ]
    run /usr/bin/python3 - "$PR" <<'EOF'
import sys, redis
p = int(sys.argv[1])
try:
    redis.Redis(port=p).get("x")
    sys.exit("no NOAUTH")
except redis.exceptions.AuthenticationError:
    pass
try:  # redis-py raises WRONGPASS from its AUTH on connect as a plain ResponseError
    redis.Redis(port=p, username="app", password="bad").get("x")
    sys.exit("no WRONGPASS")
except redis.exceptions.ResponseError as e:
    assert str(e).startswith("WRONGPASS"), e
r = redis.Redis(port=p, username="reader", password="read-secret")
assert r.get("shared") == b"v"
try:
    r.set("shared", "w")
    sys.exit("no NOPERM")
except redis.exceptions.NoPermissionError:
    pass
print("ok")
EOF
    echo "$output" >&2
    [ "$output" = ok ]
}

@test "RESP: the counters and string commands are reads or writes as Redis says; NOPERM writes nothing" {
    start_store s1 "$S1" --memory
    start_proxy
    app() { rc --user app --pass app-secret --no-auth-warning "$@"; }
    reader() { rc --user reader --pass read-secret --no-auth-warning "$@"; }
    [ "$(app incr n)" = 1 ]
    [ "$(app append s abc)" = 3 ]
    [ "$(juno --store "$S1" --map "$MAP" -n app get n)" = 1 ] # the user's namespace
    [ "$(reader strlen s)" = 3 ]
    [ "$(reader getrange s 0 1)" = ab ]
    [ "$(reader substr s 1 2)" = bc ]
    [ "$(reader getbit s 1)" = 1 ]
    [ "$(reader bitcount s)" = 10 ]
    local cmd
    for cmd in "incr n" "decr n" "incrby n 2" "decrby n 2" "incrbyfloat n 1.5" "append s x" \
        "setrange s 0 x" "getset s x" "getdel s" "getex s" "getex s ex 10" "set s x get" \
        "setnx t x" "setex t 10 x" "psetex t 10 x" "msetnx t x" "setbit s 0 1"; do
        # shellcheck disable=SC2086
        run reader $cmd
        [[ "$output" == "NOPERM this user has no permissions to access one of the keys used as arguments" ]]
    done
    [ "$(app get n)" = 1 ]
    [ "$(app get s)" = abc ]
    [ "$(app exists t)" = 0 ]
}

@test "JunoDB protocol: the client certificate is the identity; ServiceDenied writes nothing" {
    certs ca
    start_store s1 "$S1" --memory
    start_proxy --tls-cert "$C/proxy.pem" --tls-key "$C/proxy.key" --tls-ca "$C/ca.pem"
    jb() { juno -s "$PROXY" --tls-ca "$C/ca.pem" --tls-cert "$C/$1.pem" --tls-key "$C/$1.key" "${@:2}"; }
    jb billing-svc -n billing put k v
    [ "$(jb billing-svc -n billing get k)" = v ]
    run jb billing-svc -n app put k v
    echo "$output" >&2
    [ "$status" -eq 69 ]
    [[ "$output" == *ServiceDenied* ]]
    run juno --store "$S1" --map "$MAP" -n app get k
    [ "$status" -eq 1 ] # nothing written
    run jb billing-svc -n shared-x get k # read-only there: a read is fine
    [ "$status" -eq 1 ]
    run jb billing-svc -n shared-x put k v
    [[ "$output" == *ServiceDenied* ]]
    run jb stranger -n billing get k # a certificate no user names
    [[ "$output" == *ServiceDenied* ]]
    [ "$(metric 'juno_proxy_acl_denied_total{face="native"}')" -eq 3 ]
    grep -q 'request refused by the acl (ServiceDenied) user=(none) op=Get namespace=billing certificate="CN=stranger"' "$TMP/proxy.log"
}

@test "JunoDB protocol: juno --user/--password (or JUNO_USER/JUNO_PASSWORD) log in; a wrong password is refused (77), counted" {
    start_store s1 "$S1" --memory
    start_proxy
    # no login and no certificate: no user, so nothing is allowed
    run juno -s "$PROXY" -n app put k v
    [[ "$output" == *ServiceDenied* ]]
    juno -s "$PROXY" --user app --password app-secret -n app put k v1
    [ "$(JUNO_USER=app JUNO_PASSWORD=app-secret juno -s "$PROXY" -n app get k)" = v1 ]
    # the user's rules hold: app may not touch billing; reader only reads app
    run juno -s "$PROXY" --user app --password app-secret -n billing put k v
    [[ "$output" == *ServiceDenied* ]]
    [ "$(JUNO_USER=reader JUNO_PASSWORD=read-secret juno -s "$PROXY" -n app get k)" = v1 ]
    run env JUNO_USER=reader JUNO_PASSWORD=read-secret juno -s "$PROXY" -n app put k v2
    [[ "$output" == *ServiceDenied* ]]
    # a wrong password or user: refused at connect, exit 77, nothing sent
    run juno -s "$PROXY" --user app --password wrong -n app put k v3
    [ "$status" -eq 77 ]
    [[ "$output" == *"login as app refused"* ]]
    run juno -s "$PROXY" --user nobody --password app-secret -n app get k
    [ "$status" -eq 77 ]
    [ "$(juno --store "$S1" --map "$MAP" -n app get k)" = v1 ] # nothing written
    [ "$(metric juno_proxy_auth_failures_total)" = 2 ]
    [ "$(grep -c 'login refused peer=' "$TMP/proxy.log")" -eq 2 ]
    # the batch command logs in on its connection too
    printf 'put b1 x\nget b1\n' | tr ' ' '\t' | juno -s "$PROXY" --user app --password app-secret -n app batch >"$TMP/b.out"
    grep -q x "$TMP/b.out"
    # a password without a user is the user "default" (none here); --user alone is a usage error
    run juno -s "$PROXY" --password app-secret get k
    [ "$status" -eq 77 ]
    run juno -s "$PROXY" --user app get k
    [ "$status" -eq 64 ]
    run juno --store "$S1" --user app --password x get k
    [ "$status" -eq 64 ]
}

@test "--tls-client-cert optional: a client without a certificate logs in or is refused; one with a certificate is its user; a foreign one is refused" {
    certs other
    start_store s1 "$S1" --memory
    run juno-proxy --listen "$PROXY" --map "$MAP" --tls-client-cert optional
    [ "$status" -eq 64 ]
    [[ "$output" == *"--tls-client-cert needs --tls-ca"* ]]
    start_proxy --tls-cert "$C/proxy.pem" --tls-key "$C/proxy.key" --tls-ca "$C/ca.pem" --tls-client-cert optional
    grep -q "tls=mutual-optional" "$TMP/proxy.log"
    # no certificate: the handshake passes; no user until a login
    run juno -s "$PROXY" --tls-ca "$C/ca.pem" -n app put k v
    [[ "$output" == *ServiceDenied* ]]
    juno -s "$PROXY" --tls-ca "$C/ca.pem" --user app --password app-secret -n app put k v
    [ "$(redis-cli -p "$PR" --tls --cacert "$C/ca.pem" --user app --pass app-secret --no-auth-warning get k)" = v ]
    # a certificate the CA signed: its user
    juno -s "$PROXY" --tls-ca "$C/ca.pem" --tls-cert "$C/billing-svc.pem" --tls-key "$C/billing-svc.key" -n billing put k b
    # a certificate of another CA is still refused at the handshake
    run juno -s "$PROXY" --tls-ca "$C/ca.pem" --tls-cert "$C/stranger.pem" --tls-key "$C/stranger.key" --retries 0 get k
    [ "$status" -eq 76 ]
}

@test "JunoDB protocol: without --acl a login is accepted (every client may do everything)" {
    start_store s1 "$S1" --memory
    juno-proxy --listen "$PROXY" --map "$MAP" 2>>"$TMP/proxy.log" &
    echo $! >>"$TMP/pids"
    wait_started juno-proxy "$TMP/proxy.log" $! juno -s "$PROXY" ping
    juno -s "$PROXY" --user anyone --password any put k v
    [ "$(juno -s "$PROXY" get k)" = v ]
}

@test "SIGHUP reloads the ACL: a removed user loses its open connection's access; a bad file keeps the old" {
    start_store s1 "$S1" --memory
    start_proxy
    # one connection, authenticated as reader, kept open by a Python client
    /usr/bin/python3 - "$PR" "$TMP" <<'EOF' &
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def cmd(*a):
    s.sendall(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a))
    time.sleep(0.3)
    return s.recv(4096)
out = [cmd(b"AUTH", b"reader", b"read-secret"), cmd(b"GET", b"x")]
open(sys.argv[2] + "/ready", "w").close()
end = time.time() + 30  # a failed test never sends "go"
while not os.path.exists(sys.argv[2] + "/go") and time.time() < end:
    time.sleep(0.05)
out.append(cmd(b"GET", b"x"))
open(sys.argv[2] + "/out", "w").write(repr(out))
EOF
    pypid=$!
    echo "$pypid" >>"$TMP/pids"
    for i in $(seq 100); do [ -e "$TMP/ready" ] && break; sleep 0.05; done
    # a broken file: refused with file:line, the old ACL kept
    cp "$ACL" "$TMP/acl.good"
    echo "user oops ns=app:x" >>"$ACL"
    kill -HUP "$PPID_"
    sleep 0.3
    grep -q "acl reload failed, the ACL in force is kept: $ACL:5: ns=app: the permission must be r or rw" "$TMP/proxy.log"
    [ "$(metric 'juno_proxy_acl_reloads_total{result="failed"}')" = 1 ]
    [ "$(rc --user reader --pass read-secret --no-auth-warning get x)" = "" ]
    # reader removed: the open connection is refused at its next command
    grep -v '^user reader' "$TMP/acl.good" >"$ACL"
    kill -HUP "$PPID_"
    sleep 0.3
    [ "$(metric 'juno_proxy_acl_reloads_total{result="ok"}')" = 1 ]
    [ "$(metric juno_proxy_acl_users)" = 2 ]
    touch "$TMP/go"
    wait "$pypid"
    cat "$TMP/out" >&2
    grep -q "b'+OK\\\\r\\\\n', b'\$-1\\\\r\\\\n', b'-NOAUTH Authentication required" "$TMP/out"
    [[ "$(rc auth reader read-secret)" == WRONGPASS* ]]
}

@test "a bad --acl stops the start with file:line (78); --hash-password; --check-config counts users" {
    echo 'user a nopass ns=*:rw' >"$TMP/ok.acl"
    printf 'user a nopass\nuser b password=plain\n' >"$TMP/bad.acl"
    run juno-proxy --listen "$PROXY" --map "$MAP" --acl "$TMP/bad.acl"
    [ "$status" -eq 78 ]
    [[ "$output" == *"invalid --acl: $TMP/bad.acl:2: password= takes a hash"* ]]
    run juno-proxy --listen "$PROXY" --map "$MAP" --acl "$TMP/missing.acl"
    [ "$status" -eq 78 ]
    run juno-proxy --map "$MAP" --acl "$TMP/ok.acl" --check-config
    [ "$status" -eq 0 ]
    [[ "$output" == *"acl 1 users"* ]]
    run bash -c 'echo s3cret | juno-proxy --hash-password'
    [ "$status" -eq 0 ]
    [[ "$output" == 'pbkdf2-sha256$20000$'* ]]
    run bash -c ': | juno-proxy --hash-password'
    [ "$status" -eq 65 ]
}

@test "protected mode: a non-loopback address needs TLS or an ACL, or --insecure" {
    juno-ring init --cluster t --shards 16 --zone "z0=s1@0.0.0.0:$P1" >"$TMP/any.json"
    run juno-store --listen "0.0.0.0:$P1" --map "$TMP/any.json" --memory
    [ "$status" -eq 78 ]
    [[ "$output" == *"refusing to serve the storage port on 0.0.0.0:$P1, a non-loopback address"* ]]
    run juno-proxy --listen "0.0.0.0:$PX" --map "$MAP"
    [ "$status" -eq 78 ]
    [[ "$output" == *"--insecure to serve it open anyway"* ]]
    run juno-proxy --listen "127.0.0.1:$PX" --resp "0.0.0.0:$PR" --map "$MAP"
    [ "$status" -eq 78 ]
    [[ "$output" == *"the RESP port"* ]]
    # an ACL protects the proxy; --insecure opens both
    run juno-proxy --listen "0.0.0.0:$PX" --map "$MAP" --acl "$ACL" --check-config
    [ "$status" -eq 0 ]
    run juno-proxy --listen "0.0.0.0:$PX" --map "$MAP" --insecure --check-config
    [ "$status" -eq 0 ]
    run juno-store --listen "0.0.0.0:$P1" --map "$TMP/any.json" --memory --insecure --check-config
    [ "$status" -eq 0 ]
}
