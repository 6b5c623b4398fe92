#!/usr/bin/env node
// strings.js: juno-proxy's RESP face driven by a real Node.js client library,
// ioredis or node-redis (test/node/package.json), through each library's own
// command methods: GET/SET with options, MGET/MSET, the INCR family, APPEND,
// GETRANGE, SETRANGE, GETDEL, GETEX, SETNX/SETEX/PSETEX, EXPIRE/TTL/PTTL,
// DEL/EXISTS, values near the limit, the empty key, a refused value.
//
//   node strings.js ioredis|redis PORT MAXVALUE
//
// Prints one "ok - what" line per check; at the first failure prints
// "not ok - what: detail" and exits 1. Keys carry a random tag.
'use strict';

const [lib, port, maxArg] = process.argv.slice(2);
const MAX = Number(maxArg);
const TAG = `node-${lib}-${process.pid}:`;
const k = (s) => TAG + s;

function ok(what) {
  console.log(`ok - ${lib}: ${what}`);
}

function fail(what, detail) {
  console.log(`not ok - ${lib}: ${what}: ${detail}`);
  process.exit(1);
}

function check(what, got, want) {
  const g = Buffer.isBuffer(got) ? `<${got.length} bytes>` : JSON.stringify(got);
  const w = Buffer.isBuffer(want) ? `<${want.length} bytes>` : JSON.stringify(want);
  const same = Buffer.isBuffer(got) && Buffer.isBuffer(want) ? got.equals(want) : g === w;
  if (!same) fail(what, `got ${g}, want ${w}`);
  ok(what);
}

function between(what, got, lo, hi) {
  if (typeof got !== 'number' || got < lo || got > hi) fail(what, `got ${got}, want ${lo}..${hi}`);
  ok(`${what} = ${got}`);
}

async function refused(what, p, prefix) {
  try {
    const got = await p;
    fail(what, `no error, got ${JSON.stringify(got)}`);
  } catch (e) {
    const msg = String(e.message || e);
    if (!msg.startsWith(prefix)) fail(what, `error ${JSON.stringify(msg)} does not start with ${prefix}`);
    ok(`${what} -> ${msg}`);
  }
}

// The two libraries behind one set of calls, each through its own methods;
// replies normalized only where the libraries differ by design (node-redis
// answers SETNX and EXPIRE with booleans, ioredis with 1/0).
async function connect() {
  if (lib === 'ioredis') {
    const Redis = require('ioredis');
    const r = new Redis({ host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: 0,
                          enableOfflineQueue: true, commandTimeout: 60000 });
    return {
      quit: () => r.quit(),
      ping: () => r.ping(),
      set: (key, v, o = {}) => {
        const a = [key, v];
        if (o.EX !== undefined) a.push('EX', o.EX);
        if (o.PX !== undefined) a.push('PX', o.PX);
        if (o.KEEPTTL) a.push('KEEPTTL');
        if (o.NX) a.push('NX');
        if (o.XX) a.push('XX');
        if (o.GET) a.push('GET');
        return r.set(...a);
      },
      get: (key) => r.get(key),
      getBuffer: (key) => r.getBuffer(key),
      mGet: (keys) => r.mget(keys),
      mSet: (obj) => r.mset(obj),
      incr: (key) => r.incr(key),
      incrBy: (key, n) => r.incrby(key, n),
      decr: (key) => r.decr(key),
      decrBy: (key, n) => r.decrby(key, n),
      incrByFloat: (key, n) => r.incrbyfloat(key, n),
      append: (key, v) => r.append(key, v),
      getRange: (key, a, b) => r.getrange(key, a, b),
      setRange: (key, off, v) => r.setrange(key, off, v),
      strLen: (key) => r.strlen(key),
      getDel: (key) => r.getdel(key),
      getEx: (key, o) => (o.PERSIST ? r.getex(key, 'PERSIST') : r.getex(key, 'EX', o.EX)),
      setNX: async (key, v) => Number(await r.setnx(key, v)),
      setEx: (key, s, v) => r.setex(key, s, v),
      pSetEx: (key, ms, v) => r.psetex(key, ms, v),
      expire: async (key, s) => Number(await r.expire(key, s)),
      ttl: (key) => r.ttl(key),
      pTTL: (key) => r.pttl(key),
      del: (...keys) => r.del(...keys),
      exists: (...keys) => r.exists(...keys),
    };
  }
  const { createClient, commandOptions } = require('redis');
  const c = createClient({ socket: { host: '127.0.0.1', port: Number(port), reconnectStrategy: false } });
  c.on('error', () => {});
  await c.connect();
  return {
    quit: () => c.quit(),
    ping: () => c.ping(),
    set: (key, v, o = {}) => c.set(key, v, o),
    get: (key) => c.get(key),
    getBuffer: (key) => c.get(commandOptions({ returnBuffers: true }), key),
    mGet: (keys) => c.mGet(keys),
    mSet: (obj) => c.mSet(obj),
    incr: (key) => c.incr(key),
    incrBy: (key, n) => c.incrBy(key, n),
    decr: (key) => c.decr(key),
    decrBy: (key, n) => c.decrBy(key, n),
    incrByFloat: (key, n) => c.incrByFloat(key, n),
    append: (key, v) => c.append(key, v),
    getRange: (key, a, b) => c.getRange(key, a, b),
    setRange: (key, off, v) => c.setRange(key, off, v),
    strLen: (key) => c.strLen(key),
    getDel: (key) => c.getDel(key),
    getEx: (key, o) => c.getEx(key, o),
    setNX: async (key, v) => Number(await c.setNX(key, v)),
    setEx: (key, s, v) => c.setEx(key, s, v),
    pSetEx: (key, ms, v) => c.pSetEx(key, ms, v),
    expire: async (key, s) => Number(await c.expire(key, s)),
    ttl: (key) => c.ttl(key),
    pTTL: (key) => c.pTTL(key),
    del: (...keys) => c.del(keys),
    exists: (...keys) => c.exists(keys),
  };
}

async function main() {
  const r = await connect();
  check('PING', await r.ping(), 'PONG');

  // SET and its options
  check('SET', await r.set(k('a'), 'v1'), 'OK');
  check('GET', await r.get(k('a')), 'v1');
  check('GET of a missing key', await r.get(k('none')), null);
  check('SET NX on an existing key', await r.set(k('a'), 'x', { NX: true }), null);
  check('SET XX on a missing key', await r.set(k('none'), 'x', { XX: true }), null);
  check('SET XX', await r.set(k('a'), 'v2', { XX: true }), 'OK');
  check('SET GET: the old value', await r.set(k('a'), 'v3', { GET: true }), 'v2');
  check('SET EX', await r.set(k('ex'), 'v', { EX: 100 }), 'OK');
  between('TTL after SET EX 100', await r.ttl(k('ex')), 98, 100);
  check('SET PX', await r.set(k('px'), 'v', { PX: 50000 }), 'OK');
  between('PTTL after SET PX 50000', await r.pTTL(k('px')), 47000, 50000);
  check('SET KEEPTTL', await r.set(k('ex'), 'w', { KEEPTTL: true }), 'OK');
  between('TTL kept', await r.ttl(k('ex')), 98, 100);
  check('SET without options drops the TTL', await r.set(k('ex'), 'z'), 'OK');
  check('TTL -1', await r.ttl(k('ex')), -1);
  check('TTL of a missing key', await r.ttl(k('none')), -2);

  // MSET, MGET
  check('MSET', await r.mSet({ [k('m1')]: 'a', [k('m2')]: 'b', [k('m3')]: 'c' }), 'OK');
  check('MGET', await r.mGet([k('m1'), k('none'), k('m3'), k('m2')]), ['a', null, 'c', 'b']);

  // counters
  check('INCR of a missing key', await r.incr(k('n')), 1);
  check('INCRBY', await r.incrBy(k('n'), 41), 42);
  check('DECR', await r.decr(k('n')), 41);
  check('DECRBY', await r.decrBy(k('n'), 50), -9);
  check('GET of a counter', await r.get(k('n')), '-9');
  check('INCRBYFLOAT', String(await r.incrByFloat(k('f'), 10.5)), '10.5');
  check('INCRBYFLOAT again', String(await r.incrByFloat(k('f'), 0.1)), '10.6');
  await refused('INCR of a non-number', r.incr(k('a')), 'ERR value is not an integer or out of range');

  // APPEND, GETRANGE, SETRANGE, STRLEN
  check('APPEND to a missing key', await r.append(k('s'), 'hello'), 5);
  check('APPEND', await r.append(k('s'), ' world'), 11);
  check('STRLEN', await r.strLen(k('s')), 11);
  check('GETRANGE', await r.getRange(k('s'), 0, 4), 'hello');
  check('GETRANGE from the end', await r.getRange(k('s'), -5, -1), 'world');
  check('SETRANGE', await r.setRange(k('s'), 6, 'Redis'), 11);
  check('GET after SETRANGE', await r.get(k('s')), 'hello Redis');
  check('SETRANGE past the end pads with zeros', await r.setRange(k('p'), 3, 'abc'), 6);
  check('... the bytes', await r.getBuffer(k('p')), Buffer.from('\0\0\0abc', 'binary'));

  // GETDEL, GETEX
  check('GETDEL', await r.getDel(k('m1')), 'a');
  check('GETDEL took it', await r.get(k('m1')), null);
  check('GETDEL of a missing key', await r.getDel(k('m1')), null);
  check('GETEX EX', await r.getEx(k('m2'), { EX: 200 }), 'b');
  between('TTL after GETEX EX 200', await r.ttl(k('m2')), 198, 200);
  check('GETEX PERSIST', await r.getEx(k('m2'), { PERSIST: true }), 'b');
  check('TTL after GETEX PERSIST', await r.ttl(k('m2')), -1);

  // SETNX, SETEX, PSETEX
  check('SETNX on a missing key', await r.setNX(k('nx'), '1'), 1);
  check('SETNX on an existing key', await r.setNX(k('nx'), '2'), 0);
  check('GET after SETNX', await r.get(k('nx')), '1');
  check('SETEX', await r.setEx(k('se'), 300, 'v'), 'OK');
  between('TTL after SETEX 300', await r.ttl(k('se')), 298, 300);
  check('PSETEX', await r.pSetEx(k('pse'), 30000, 'v'), 'OK');
  between('PTTL after PSETEX 30000', await r.pTTL(k('pse')), 27000, 30000);
  await refused('SETEX 0', r.setEx(k('se'), 0, 'v'), "ERR invalid expire time in 'setex' command");

  // EXPIRE, TTL, DEL, EXISTS
  check('EXPIRE', await r.expire(k('nx'), 500), 1);
  between('TTL after EXPIRE 500', await r.ttl(k('nx')), 498, 500);
  check('EXPIRE of a missing key', await r.expire(k('none'), 5), 0);
  check('EXISTS counts', await r.exists(k('nx'), k('none'), k('nx')), 2);
  check('DEL', await r.del(k('nx'), k('none'), k('se')), 2);
  check('EXISTS after DEL', await r.exists(k('nx')), 0);

  // the empty key
  check('SET of the empty key', await r.set('', 'empty'), 'OK');
  check('GET of the empty key', await r.get(''), 'empty');
  check('DEL of the empty key', await r.del(''), 1);

  // values near the limit
  const big = Buffer.alloc(MAX);
  for (let i = 0; i < MAX; i += 4096) big[i] = (i >> 12) & 0xff;
  check(`SET of ${MAX} bytes (the limit)`, await r.set(k('big'), big), 'OK');
  check(`GET of ${MAX} bytes`, await r.getBuffer(k('big')), big);
  await refused(`SET of ${MAX + 1} bytes`, r.set(k('big2'), Buffer.alloc(MAX + 1)),
                'ERR string exceeds maximum allowed size');
  check('PING after the refusal', await r.ping(), 'PONG');
  check('nothing written', await r.exists(k('big2')), 0);

  await r.del(k('a'), k('ex'), k('px'), k('m2'), k('m3'), k('n'), k('f'), k('s'), k('p'),
              k('pse'), k('big'));
  await r.quit();
}

main().catch((e) => fail('unexpected', e && e.stack ? e.stack : e));
