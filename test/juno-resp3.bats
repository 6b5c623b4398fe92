#!/usr/bin/env bats
# juno-resp3.bats: RESP3 on the RESP face (HELLO 3, issue 20): after HELLO 3
# every command group answers with the bytes redis-server 7.0 sends for the
# same commands (test/resp3_client.py sends them to both over raw sockets and
# compares the replies byte for byte, HELLO's and INFO's by their types and
# keys); HELLO 2 switches back; a reply keeps the protocol its command ran
# under when a pipelined HELLO switches; HELLO 4 is NOPROTO; HELLO 3 AUTH
# under --acl switches only with the right password. Three stores in memory
# (one for --acl) and juno-proxy on free loopback ports; teardown stops every
# process by PID.

load lib
load resp_helpers # resp_setup, resp_teardown, start_stores, start_resp_proxy

PY="$BATS_TEST_DIRNAME/resp3_client.py"

setup() {
    resp_setup resp3
}

teardown() {
    resp_teardown
}

start_all() {
    start_stores || return 1
    start_resp_proxy 1 "$PR" "$PX" "$@"
}

# raw PORT: each reply's bytes (a Python bytes literal a line) to the
# commands on stdin, over one connection
raw() { /usr/bin/python3 "$PY" raw "127.0.0.1:$1"; }

@test "HELLO 3: every command group answers redis-server 7.0's RESP3 bytes" {
    start_all
    start_redis
    # "~ ": the same types, lengths and map keys (server, version, id differ);
    # "= ": verbatim strings txt with the same first line (INFO's contents
    # differ); "! ": errors both
    run /usr/bin/python3 "$PY" compare "$RESP" "127.0.0.1:$PRS" <<'EOF'
~ hello 3
~ hello
# strings: the null is _
get nokey
set a v
get a
set a v2 get
set b v get
set b w nx
set b w nx get
set nokey w xx get
getset a v3
getset nokey2 x
getdel a
getdel a
getex nokey
set c 1
getex c ex 100
getex c persist
strlen c
strlen nokey
getrange c 0 1
getrange nokey 0 1
substr c 0 0
append c 0
setrange c 3 zz
getbit c 1
setbit c 1 1
bitcount c
bitcount nokey
setnx d 1
setnx d 1
setex e 100 v
psetex f 100000 v
mset g 1 h 2
msetnx g 1
msetnx i 1
# counters: integers; INCRBYFLOAT stays a bulk string in 7.0
set n 10
incr n
incrby n 5
decr n
decrby n 2
incrbyfloat n 1.5
incrbyfloat n 0.25
incrbyfloat n -3
incrbyfloat nf 3.0e3
set s abc
incr s
# MGET's missing keys
mget a c nokey g nokey2 h
mget nokey
# expirations
ttl e
pttl nokey
ttl c
expire c 100
persist c
persist c
pexpire c 100000
expireat c 9999999999
expiretime c
pexpireat c 9999999999000
pexpiretime c
expiretime nokey
expire nokey 10
# keyspace
type c
type nokey
exists c d nokey
touch c nokey
del g h nokey
unlink d
rename c cc
renamenx cc e
copy cc c2
copy cc c2
flushdb
dbsize
randomkey
keys *
scan 0
set k1 v
dbsize
keys *
scan 0
randomkey
# connection and server
ping
ping x
echo x
select 0
client getname
client setname n1
client getname
config get maxmemory
config get appendonly
config get nosuchparam
config get databases
select 1
get k1
dbsize
select 0
get k1
~ config get port
~ client id
~ time
command info multi nosuch
^ command docs get
^ command docs getex nosuch
^ command docs set
= info
= info server
= info keyspace
= info server clients
# transactions of one command, and of none
multi
get nokey
exec
multi
mget nokey k1
exec
multi
exec
multi
discard
unwatch
# errors stay errors
set x
! nosuchcommand
get k1 k2
~ hello 3 setname me2
client getname
hello 4
hello 1
hello abc
hello 3 foo
hello 2 setname
EOF
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^ok\ ([0-9]+)\ commands$ ]]
    [ "${BASH_REMATCH[1]}" -eq 130 ] # every line above, none skipped
}

@test "HELLO 3's map, HELLO 2 back, HELLO alone keeps the protocol; the null's form follows it" {
    start_all
    run raw "$PR" <<'EOF'
get nokey
hello 3
get nokey
hello
mget nokey
client getname
hello 2 setname back
get nokey
mget nokey
client getname
hello
EOF
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "b'\$-1\\r\\n'" ]
    [[ "${lines[1]}" =~ ^b\'%7\\r\\n\$6\\r\\nserver\\r\\n\$4\\r\\njuno\\r\\n\$7\\r\\nversion\\r\\n\$5\\r\\n7.0.0\\r\\n\$5\\r\\nproto\\r\\n:3\\r\\n\$2\\r\\nid\\r\\n:[0-9]+\\r\\n\$4\\r\\nmode\\r\\n\$10\\r\\nstandalone\\r\\n\$4\\r\\nrole\\r\\n\$6\\r\\nmaster\\r\\n\$7\\r\\nmodules\\r\\n\*0\\r\\n\'$ ]]
    [ "${lines[2]}" = "b'_\\r\\n'" ]
    [[ "${lines[3]}" == "b'%7\\r\\n"*"proto\\r\\n:3\\r\\n"* ]] # HELLO alone: still 3
    [ "${lines[4]}" = "b'*1\\r\\n_\\r\\n'" ]
    [ "${lines[5]}" = "b'_\\r\\n'" ]
    [[ "${lines[6]}" == "b'*14\\r\\n"*"proto\\r\\n:2\\r\\n"* ]]
    [ "${lines[7]}" = "b'\$-1\\r\\n'" ]
    [ "${lines[8]}" = "b'*1\\r\\n\$-1\\r\\n'" ]
    [ "${lines[9]}" = "b'\$4\\r\\nback\\r\\n'" ]
    [[ "${lines[10]}" == "b'*14\\r\\n"*"proto\\r\\n:2\\r\\n"* ]]
    # redis-cli -3 speaks RESP3 and reads the map and the null
    run redis-cli -3 -p "$PR" hello 3
    [ "$status" -eq 0 ]
    [[ "$output" == *"proto"*"3"* ]]
    run redis-cli -3 -p "$PR" get nokey
    [ "$output" = "(nil)" ] || [ "$output" = "" ]
}

@test "a pipelined HELLO 3 does not change the replies of the commands before it" {
    start_all
    [ "$(redis-cli -p "$PR" set k v)" = OK ]
    # one write: commands answered later (by the stores: GET, MGET, SET NX,
    # INFO keyspace counting the namespace) then HELLO 3 (answered at once)
    # then the same again; the first ones keep RESP2's forms
    run /usr/bin/python3 - "$BATS_TEST_DIRNAME" "$PR" <<'EOF'
import socket, sys
sys.path.insert(0, sys.argv[1])
from resp3_client import Reader, encode
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10)
batch = [["GET", "nokey"], ["MGET", "k", "nokey"], ["SET", "k", "w", "NX"], ["INFO", "keyspace"]]
s.sendall(b"".join(encode(c) for c in batch + [["HELLO", "3"]] + batch + [["PING"]]))
r = Reader(s)
got = [r.reply()[0] for _ in range(2 * len(batch) + 2)]
print(got)
ks = b"# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"
want = [b"$-1\r\n", b"*2\r\n$1\r\nv\r\n$-1\r\n", b"$-1\r\n", b"$%d\r\n%s\r\n" % (len(ks), ks),
        None,
        b"_\r\n", b"*2\r\n$1\r\nv\r\n_\r\n", b"_\r\n", b"=%d\r\ntxt:%s\r\n" % (len(ks) + 4, ks),
        b"+PONG\r\n"]
bad = [i for i, w in enumerate(want) if w is not None and got[i] != w]
sys.exit(1 if bad or not got[4].startswith(b"%7\r\n") else 0)
EOF
    echo "$output" >&2
    [ "$status" -eq 0 ]
}

@test "HELLO 3 AUTH under --acl: the right password switches to RESP3, a wrong one changes nothing" {
    ACL=$TMP/acl.conf
    echo "user app password=$(echo app-secret | juno-proxy --hash-password) ns=app:rw default-ns=app" >"$ACL"
    start_all --acl "$ACL"
    run raw "$PR" <<'EOF'
hello 3
get k
hello 3 auth app wrong
get k
hello 3 auth app app-secret setname a3
get nokey
client getname
hello 2 auth app wrong
get nokey
EOF
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "b'-NOAUTH HELLO must be called with the client already authenticated"* ]]
    [ "${lines[1]}" = "b'-NOAUTH Authentication required.\\r\\n'" ]
    [ "${lines[2]}" = "b'-WRONGPASS invalid username-password pair or user is disabled.\\r\\n'" ]
    [ "${lines[3]}" = "b'-NOAUTH Authentication required.\\r\\n'" ]
    [[ "${lines[4]}" == "b'%7\\r\\n"*"proto\\r\\n:3\\r\\n"* ]]
    [ "${lines[5]}" = "b'_\\r\\n'" ]
    [ "${lines[6]}" = "b'\$2\\r\\na3\\r\\n'" ]
    [[ "${lines[7]}" == "b'-WRONGPASS"* ]]
    [ "${lines[8]}" = "b'_\\r\\n'" ] # still RESP3 (and still app)
}

@test "HELLO: bad versions are NOPROTO or an error and change nothing; the connection goes on" {
    start_all
    run raw "$PR" <<'EOF'
hello 4
hello 0
hello -3
hello 3x
get nokey
hello 3 auth
get nokey
EOF
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "b'-NOPROTO unsupported protocol version\\r\\n'" ]
    [ "${lines[1]}" = "b'-NOPROTO unsupported protocol version\\r\\n'" ]
    [ "${lines[2]}" = "b'-NOPROTO unsupported protocol version\\r\\n'" ]
    [ "${lines[3]}" = "b'-ERR Protocol version is not an integer or out of range\\r\\n'" ]
    [ "${lines[4]}" = "b'\$-1\\r\\n'" ]
    [ "${lines[5]}" = "b\"-ERR Syntax error in HELLO option 'auth'\\r\\n\"" ]
    [ "${lines[6]}" = "b'\$-1\\r\\n'" ]
    [ "$(redis-cli -p "$PR" ping)" = PONG ]
}
