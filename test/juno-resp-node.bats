#!/usr/bin/env bats
# juno-resp-node.bats: real Node.js Redis client libraries against
# juno-proxy's RESP face: ioredis and node-redis (test/node/package.json and
# package-lock.json, installed into test/node/node_modules by `make deps`)
# run test/node/strings.js: GET/SET with options, MGET/MSET, the INCR
# family, APPEND, GETRANGE, SETRANGE, GETDEL, GETEX, SETNX/SETEX/PSETEX,
# EXPIRE/TTL/PTTL, DEL/EXISTS, a value at --resp-max-value and one over it,
# the empty key; each library's replies asserted. Stores in memory on free
# loopback ports in a temp dir; teardown stops every process started (by PID).

load lib
load resp_helpers # resp_setup, resp_teardown, start_stores

NODE_DIR="$BATS_TEST_DIRNAME/node"

setup() {
    [ -d "$NODE_DIR/node_modules/ioredis" ] && [ -d "$NODE_DIR/node_modules/redis" ] ||
        skip "test/node/node_modules missing: run make deps"
    resp_setup resp-node
    start_stores
    juno-proxy --listen "127.0.0.1:$PX" --resp "127.0.0.1:$PR" --map "$MAP" \
        --resp-max-value 8000000 --request-timeout 3000 2>>"$TMP/proxy.log" &
    echo $! >>"$TMP/pids"
    wait_started juno-proxy "$TMP/proxy.log" $! redis-cli -p "$PR" ping
}

teardown() {
    resp_teardown
}

@test "ioredis: the string commands, their replies; 8 MB at the limit, 8 MB + 1 refused" {
    run timeout 120 node "$NODE_DIR/strings.js" ioredis "$PR" 8000000
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"ok - ioredis: GET of 8000000 bytes"* ]]
    [[ "$output" == *"ok - ioredis: PING after the refusal"* ]]
    [ "$(grep -c '^ok - ' <<<"$output")" -ge 60 ]
}

@test "node-redis: the string commands, their replies; 8 MB at the limit, 8 MB + 1 refused" {
    run timeout 120 node "$NODE_DIR/strings.js" redis "$PR" 8000000
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"ok - redis: GET of 8000000 bytes"* ]]
    [[ "$output" == *"ok - redis: nothing written"* ]]
    [ "$(grep -c '^ok - ' <<<"$output")" -ge 60 ]
}

@test "both libraries see each other's writes, and redis-cli theirs" {
    cd "$NODE_DIR" # node -e resolves modules from the working directory
    run node -e '
const Redis = require("ioredis");
const { createClient } = require("redis");
(async () => {
  const a = new Redis({ port: Number(process.argv[1]) });
  const b = createClient({ socket: { port: Number(process.argv[1]) } });
  await b.connect();
  await a.set("shared", "from-ioredis");
  const got = await b.get("shared");
  await b.set("shared2", "from-node-redis");
  console.log(got, await a.get("shared2"));
  await a.quit(); await b.quit();
})().catch((e) => { console.log("error", e.message); process.exit(1); });' "$PR"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "from-ioredis from-node-redis" ]
    [ "$(redis-cli -p "$PR" get shared2)" = from-node-redis ]
}
