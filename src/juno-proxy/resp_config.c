/* resp_config.c: the RESP face's CONFIG GET and CONFIG SET, over one table
 * of parameters: Redis's names where Redis has the setting (what tools such
 * as redis-benchmark read: save, appendonly; the limits proto-max-bulk-len and
 * client-query-buffer-limit), juno-* for juno's own.
 *
 * CONFIG SET changes what can change while the proxy runs: the RESP limits
 * (--resp-max-value as proto-max-bulk-len, --resp-max-query as
 * client-query-buffer-limit, --resp-max-ttl as juno-resp-max-ttl; every
 * worker reads them atomically, the next command on every connection sees
 * them). save and appendonly take their only
 * value ("" and no), as a no-op, so scripts that turn persistence off work.
 * The rest are command line options: immutable, with Redis's error. Several
 * pairs in one call (Redis 7) are checked together and applied all or none.
 * Memory values take Redis's units (1k = 1000, 1kb = 1024, m, mb, g, gb).
 */
#include "resp_face.h"

#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { P_FIXED, P_VALUE, P_QUERY, P_TTL }; /* how a parameter's value is found and set */

struct param {
    const char *name;
    int kind;
};

static const struct param params[] = {
    {"save", P_FIXED},
    {"appendonly", P_FIXED},
    {"databases", P_FIXED},
    {"maxmemory", P_FIXED},
    {"timeout", P_FIXED},
    {"port", P_FIXED},
    {"bind", P_FIXED},
    {"proto-max-bulk-len", P_VALUE},
    {"client-query-buffer-limit", P_QUERY},
    {"juno-namespace", P_FIXED},
    {"juno-default-ttl", P_FIXED},
    {"juno-max-ttl", P_FIXED},
    {"juno-resp-max-ttl", P_TTL},
    {"juno-max-key", P_FIXED},
    {"juno-max-value", P_FIXED},
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

/* Glob match, ASCII case-insensitive: * ? and literal characters. */
static int
glob_match(const char *p, size_t plen, const char *s)
{
    size_t pi = 0, si = 0, slen = strlen(s), star = (size_t)-1, mark = 0;
    while (si < slen) {
        if (pi < plen && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < plen &&
                   (p[pi] == '?' || (p[pi] | 0x20) == (s[si] | 0x20) || p[pi] == s[si])) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return 0;
        }
    }
    while (pi < plen && p[pi] == '*') pi++;
    return pi == plen;
}

/* Parameter i's value as text, into v. */
static const char *
param_value(const struct rconn *rc, size_t i, char v[32])
{
    const struct proxy_config *c = &rc->w->p->cfg;
    const char *name = params[i].name;
    unsigned long long n = 0;
    if (params[i].kind == P_VALUE)
        n = rface_limit(&c->resp_max_value);
    else if (params[i].kind == P_QUERY)
        n = rface_limit(&c->resp_max_query);
    else if (params[i].kind == P_TTL)
        n = rface_limit(&c->resp_max_ttl);
    else if (strcmp(name, "save") == 0)
        return "";
    else if (strcmp(name, "appendonly") == 0)
        return "no";
    else if (strcmp(name, "databases") == 0)
        n = c->resp_databases;
    else if (strcmp(name, "timeout") == 0)
        n = c->idle_timeout_s;
    else if (strcmp(name, "port") == 0)
        n = c->resp_port;
    else if (strcmp(name, "bind") == 0)
        return c->resp_host;
    else if (strcmp(name, "juno-namespace") == 0)
        return c->resp_ns;
    else if (strcmp(name, "juno-default-ttl") == 0)
        n = c->default_ttl;
    else if (strcmp(name, "juno-max-ttl") == 0)
        n = c->max_ttl;
    else if (strcmp(name, "juno-max-key") == 0)
        n = c->max_key;
    else if (strcmp(name, "juno-max-value") == 0)
        n = c->max_value;
    snprintf(v, 32, "%llu", n);
    return v;
}

static void
config_get(struct rconn *rc, const struct resp_cmd *cmd)
{
    if (cmd->argc < 3) {
        rcmd_arity_error(rc, "config|get");
        return;
    }
    size_t hits = 0;
    int match[NPARAMS] = {0};
    for (size_t i = 2; i < cmd->argc; i++)
        for (size_t j = 0; j < NPARAMS; j++)
            if (!match[j] &&
                glob_match((const char *)cmd->argv[i].ptr, cmd->argv[i].len, params[j].name))
                match[j] = 1, hits++;
    struct buf *b = rconn_out(rc);
    if (b == NULL) return;
    PUT(rc, resp_map_header(b, hits, rc->proto));
    char v[32];
    for (size_t j = 0; j < NPARAMS; j++) {
        if (!match[j]) continue;
        PUT(rc, resp_bulk(b, params[j].name, strlen(params[j].name)));
        const char *s = param_value(rc, j, v);
        PUT(rc, resp_bulk(b, s, strlen(s)));
    }
}

/* Redis's memtoull: digits, then nothing, b, k, kb, m, mb, g or gb (any
 * case). 0 with *out, or -1. */
static int
mem_value(const struct resp_arg *a, uint64_t *out)
{
    size_t i = 0;
    uint64_t n = 0;
    if (a->len == 0 || a->len > 24) return -1;
    for (; i < a->len && a->ptr[i] >= '0' && a->ptr[i] <= '9'; i++) {
        if (n > (UINT64_MAX - 9) / 10) return -1;
        n = n * 10 + (uint64_t)(a->ptr[i] - '0');
    }
    if (i == 0) return -1;
    char unit[4] = {0};
    if (a->len - i > 2) return -1;
    for (size_t j = 0; i + j < a->len; j++) unit[j] = (char)(a->ptr[i + j] | 0x20);
    static const struct {
        const char *u;
        uint64_t m;
    } units[] = {{"", 1},           {"b", 1},        {"k", 1000},
                 {"kb", 1024},      {"m", 1000000},  {"mb", 1024 * 1024},
                 {"g", 1000000000}, {"gb", 1u << 30}};
    for (size_t j = 0; j < sizeof(units) / sizeof(units[0]); j++)
        if (strcmp(unit, units[j].u) == 0) {
            if (n > UINT64_MAX / units[j].m) return -1;
            *out = n * units[j].m;
            return 0;
        }
    return -1;
}

static size_t
param_find(const struct resp_arg *a)
{
    for (size_t j = 0; j < NPARAMS; j++)
        if (strlen(params[j].name) == a->len &&
            strncasecmp((const char *)a->ptr, params[j].name, a->len) == 0)
            return j;
    return NPARAMS;
}

#define ARG(a) (int)((a)->len < 64 ? (a)->len : 64), (const char *)(a)->ptr

static void
config_set(struct rconn *rc, const struct resp_cmd *cmd)
{
    if (cmd->argc < 4 || cmd->argc % 2 != 0) {
        rcmd_arity_error(rc, "config|set");
        return;
    }
    struct proxy_config *c = &rc->w->p->cfg;
    uint64_t value = rface_limit(&c->resp_max_value), query = rface_limit(&c->resp_max_query);
    uint64_t ttl = rface_limit(&c->resp_max_ttl);
    for (size_t i = 2; i < cmd->argc; i += 2) {
        const struct resp_arg *name = &cmd->argv[i], *v = &cmd->argv[i + 1];
        size_t j = param_find(name);
        if (j == NPARAMS) {
            rcmd_error(rc, "Unknown option or number of arguments for CONFIG SET - '%.*s'",
                       ARG(name));
            return;
        }
        char cur[32];
        const char *now = param_value(rc, j, cur);
        if (params[j].kind == P_FIXED) {
            if (strlen(now) == v->len && strncasecmp(now, (const char *)v->ptr, v->len) == 0)
                continue; /* its only value: a no-op */
            rcmd_error(rc,
                       "CONFIG SET failed (possibly related to argument '%s') - can't set "
                       "immutable config",
                       params[j].name);
            return;
        }
        uint64_t n;
        if (params[j].kind == P_TTL) { /* seconds, 0: no limit (as --resp-max-ttl) */
            int64_t t;
            if (resp_arg_i64(cmd, i + 1, &t) != 0 || t < 0 || t > INT64_MAX / 1000) {
                rcmd_error(rc,
                           "CONFIG SET failed (possibly related to argument '%s') - argument "
                           "must be between 0 and %lld inclusive",
                           params[j].name, (long long)(INT64_MAX / 1000));
                return;
            }
            ttl = (uint64_t)t;
            continue;
        }
        uint64_t lo = params[j].kind == P_VALUE ? 1 : 1024;
        uint64_t hi = params[j].kind == P_VALUE ? RFACE_MAX_VALUE : RFACE_MAX_QUERY;
        if (mem_value(v, &n) != 0) {
            rcmd_error(rc,
                       "CONFIG SET failed (possibly related to argument '%s') - argument "
                       "must be a memory value",
                       params[j].name);
            return;
        }
        if (n < lo || n > hi) {
            rcmd_error(rc,
                       "CONFIG SET failed (possibly related to argument '%s') - argument "
                       "must be between %llu and %llu inclusive",
                       params[j].name, (unsigned long long)lo, (unsigned long long)hi);
            return;
        }
        *(params[j].kind == P_VALUE ? &value : &query) = n;
    }
    if (query < value + RFACE_QUERY_SLACK) {
        rcmd_error(rc,
                   "CONFIG SET failed - client-query-buffer-limit %llu must be at least "
                   "proto-max-bulk-len %llu + %u",
                   (unsigned long long)query, (unsigned long long)value, RFACE_QUERY_SLACK);
        return;
    }
    __atomic_store_n(&c->resp_max_value, value, __ATOMIC_RELAXED);
    __atomic_store_n(&c->resp_max_query, query, __ATOMIC_RELAXED);
    __atomic_store_n(&c->resp_max_ttl, ttl, __ATOMIC_RELAXED);
    log_info("CONFIG SET by peer=%s: proto-max-bulk-len=%llu client-query-buffer-limit=%llu "
             "juno-resp-max-ttl=%llu",
             rc->c.peer, (unsigned long long)value, (unsigned long long)query,
             (unsigned long long)ttl);
    struct buf *b = rconn_out(rc);
    if (b != NULL) PUT(rc, resp_simple(b, "OK"));
}

void
rcmd_config(struct rconn *rc, const struct resp_cmd *cmd)
{
    if (resp_arg_eq(cmd, 1, "GET")) {
        config_get(rc, cmd);
    } else if (resp_arg_eq(cmd, 1, "SET")) {
        config_set(rc, cmd);
    } else if (resp_arg_eq(cmd, 1, "RESETSTAT") || resp_arg_eq(cmd, 1, "REWRITE")) {
        rcmd_error(rc,
                   "CONFIG %.*s is not supported: juno-proxy's settings are command line "
                   "options",
                   ARG(&cmd->argv[1]));
    } else {
        rcmd_error(rc, "unknown subcommand '%.*s'. Try CONFIG HELP.",
                   (int)(cmd->argv[1].len < 128 ? cmd->argv[1].len : 128),
                   (const char *)cmd->argv[1].ptr);
    }
}
