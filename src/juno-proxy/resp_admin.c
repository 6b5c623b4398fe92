/* resp_admin.c: the RESP face's connection and server commands, answered by
 * the proxy itself: PING ECHO QUIT SELECT AUTH HELLO CLIENT COMMAND (INFO is
 * in resp_info.c, CONFIG in resp_config.c). They say what Redis clients and
 * tools need to hear (redis-cli's COMMAND DOCS at start-up, HELLO) and,
 * where Redis would describe its own state, juno's. HELLO 3 switches the
 * connection to RESP3 (rc->proto), HELLO 2 back: from then on the replies
 * take RESP3's types where Redis 7.0 sends them (HELLO's, COMMAND DOCS's
 * maps, COMMAND's sets, the null _).
 *
 * COMMAND DOCS arguments come from each command's argument spec (struct
 * rcmd_def.args): words separated by spaces; a word is "name:type", "TOKEN"
 * (a pure token) or "TOKEN=name:type"; alternatives joined by '|' make a
 * oneof, parts joined by ',' a block; a leading '?' marks it optional, a
 * trailing '*' repeatable.
 */
#include "resp_face.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct buf *
out(struct rconn *rc)
{
    return rconn_out(rc);
}

static void
put_cstr(struct rconn *rc, struct buf *b, const char *s)
{
    PUT(rc, resp_bulk(b, s, strlen(s)));
}

void
rcmd_ping(struct rconn *rc, const struct resp_cmd *cmd)
{
    if (cmd->argc > 2) {
        rcmd_arity_error(rc, "ping");
        return;
    }
    struct buf *b = out(rc);
    if (b == NULL) return;
    if (cmd->argc == 2)
        PUT(rc, resp_bulk(b, cmd->argv[1].ptr, cmd->argv[1].len));
    else
        PUT(rc, resp_raw(b, "+PONG\r\n", 7));
}

void
rcmd_echo(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct buf *b = out(rc);
    if (b != NULL) PUT(rc, resp_bulk(b, cmd->argv[1].ptr, cmd->argv[1].len));
}

void
rcmd_quit(struct rconn *rc, const struct resp_cmd *cmd)
{
    (void)cmd;
    struct buf *b = out(rc);
    if (b != NULL) PUT(rc, resp_raw(b, "+OK\r\n", 5));
    rconn_quit(rc);
}

void
rcmd_select(struct rconn *rc, const struct resp_cmd *cmd)
{
    int64_t db;
    if (resp_arg_i64(cmd, 1, &db) != 0) {
        rcmd_error(rc, "value is not an integer or out of range");
        return;
    }
    if (db < 0 || db >= (int64_t)rc->w->p->cfg.resp_databases) {
        rcmd_error(rc, "DB index is out of range");
        return;
    }
    if (rconn_select(rc, (uint32_t)db) != 0) {
        rcmd_error(rc, "juno: the namespace of database %lld is over --max-namespace",
                   (long long)db);
        return;
    }
    struct buf *b = out(rc);
    if (b != NULL) PUT(rc, resp_raw(b, "+OK\r\n", 5));
}

/* A client name: printable ASCII without spaces, as Redis requires; into
 * name (64 bytes). 0 with the error replied. */
static int
check_name(struct rconn *rc, const struct resp_arg *a, char name[64])
{
    if (a->len >= 64) {
        rcmd_error(rc, "juno: client names are at most %d bytes", 63);
        return 0;
    }
    for (size_t i = 0; i < a->len; i++)
        if (a->ptr[i] < '!' || a->ptr[i] > '~') {
            rcmd_error(rc, "Client names cannot contain spaces, newlines or special characters.");
            return 0;
        }
    memcpy(name, a->ptr, a->len);
    name[a->len] = '\0';
    return 1;
}

static int
set_name(struct rconn *rc, const struct resp_arg *a)
{
    return check_name(rc, a, rc->name);
}

void
rcmd_hello(struct rconn *rc, const struct resp_cmd *cmd)
{
    size_t i = 1;
    uint8_t proto = 0; /* keep the connection's */
    if (cmd->argc >= 2) {
        int64_t ver;
        if (resp_arg_i64(cmd, 1, &ver) != 0) {
            rcmd_error(rc, "Protocol version is not an integer or out of range");
            return;
        }
        if (ver != RESP_PROTO2 && ver != RESP_PROTO3) {
            rcmd_error(rc, "-NOPROTO unsupported protocol version");
            return;
        }
        i = 2;
        proto = (uint8_t)ver;
    }
    const struct resp_arg *user = NULL, *pw = NULL;
    char name[64];
    int setname = 0;
    for (; i < cmd->argc; i++) {
        if (resp_arg_eq(cmd, i, "AUTH") && i + 2 < cmd->argc) {
            user = &cmd->argv[i + 1];
            pw = &cmd->argv[i + 2];
            i += 2;
        } else if (resp_arg_eq(cmd, i, "SETNAME") && i + 1 < cmd->argc) {
            if (!check_name(rc, &cmd->argv[++i], name)) return;
            setname = 1;
        } else {
            rcmd_error(rc, "Syntax error in HELLO option '%.*s'", (int)cmd->argv[i].len,
                       (const char *)cmd->argv[i].ptr);
            return;
        }
    }
    rc->hello_proto = proto; /* switched to by the reply, after a successful AUTH */
    if (pw != NULL && rauth_hello(rc, user, pw, setname ? name : NULL)) return; /* replies later */
    struct proxy *p = rc->w->p;
    if (auth_enabled(p) && ident_user(p, &rc->ident) == NULL) {
        rcmd_error(rc, "-NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                       "authenticate the client and select the RESP protocol version at the same "
                       "time");
        return;
    }
    if (setname) memcpy(rc->name, name, sizeof(name));
    struct buf *b = out(rc);
    if (b != NULL) rcmd_hello_reply(rc, b);
}

void
rcmd_hello_reply(struct rconn *rc, struct buf *b)
{
    if (rc->hello_proto) rc->proto = rc->hello_proto;
    rc->hello_proto = 0;
    PUT(rc, resp_map_header(b, 7, rc->proto));
    put_cstr(rc, b, "server");
    put_cstr(rc, b, "juno");
    put_cstr(rc, b, "version");
    put_cstr(rc, b, RFACE_REDIS_VERSION);
    put_cstr(rc, b, "proto");
    PUT(rc, resp_integer(b, rc->proto));
    put_cstr(rc, b, "id");
    PUT(rc, resp_integer(b, (int64_t)rc->id));
    put_cstr(rc, b, "mode");
    put_cstr(rc, b, "standalone");
    put_cstr(rc, b, "role");
    put_cstr(rc, b, "master");
    put_cstr(rc, b, "modules");
    PUT(rc, resp_array_header(b, 0));
}

void
rcmd_client(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct buf *b;
    if (resp_arg_eq(cmd, 1, "SETNAME")) {
        if (cmd->argc != 3) {
            rcmd_arity_error(rc, "client|setname");
        } else if (set_name(rc, &cmd->argv[2]) && (b = out(rc)) != NULL) {
            PUT(rc, resp_raw(b, "+OK\r\n", 5));
        }
    } else if (resp_arg_eq(cmd, 1, "GETNAME")) {
        if (cmd->argc != 2) {
            rcmd_arity_error(rc, "client|getname");
        } else if ((b = out(rc)) != NULL) {
            if (rc->name[0])
                put_cstr(rc, b, rc->name);
            else
                PUT(rc, resp_nil(b, rc->proto));
        }
    } else if (resp_arg_eq(cmd, 1, "ID")) {
        if (cmd->argc != 2)
            rcmd_arity_error(rc, "client|id");
        else if ((b = out(rc)) != NULL)
            PUT(rc, resp_integer(b, (int64_t)rc->id));
    } else if (resp_arg_eq(cmd, 1, "SETINFO")) {
        if (cmd->argc != 4)
            rcmd_arity_error(rc, "client|setinfo");
        else if ((b = out(rc)) != NULL)
            PUT(rc, resp_raw(b, "+OK\r\n", 5)); /* lib-name, lib-ver: accepted, not kept */
    } else {
        rcmd_error(rc, "unknown subcommand '%.*s'. Try CLIENT HELP.",
                   (int)(cmd->argv[1].len < 128 ? cmd->argv[1].len : 128),
                   (const char *)cmd->argv[1].ptr);
    }
}

/* ---- COMMAND ---- */

static size_t
count_words(const char *s, char sep)
{
    size_t n = 0;
    for (const char *p = s; *p;) {
        while (*p == sep) p++;
        if (!*p) break;
        n++;
        while (*p && *p != sep) p++;
    }
    return n;
}

/* Each space-separated word of s as a simple string, in a set (Redis 7.0's
 * COMMAND flags and ACL categories). */
static void
put_status_words(struct rconn *rc, struct buf *b, const char *s)
{
    PUT(rc, resp_set_header(b, count_words(s, ' '), rc->proto));
    for (const char *p = s; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != ' ') e++;
        char w[64];
        snprintf(w, sizeof(w), "%.*s", (int)(e - p), p);
        PUT(rc, resp_simple(b, w));
        p = e;
    }
}

static void
put_entry(struct rconn *rc, struct buf *b, const struct rcmd_def *d)
{
    PUT(rc, resp_array_header(b, 10));
    put_cstr(rc, b, d->name);
    PUT(rc, resp_integer(b, d->arity));
    put_status_words(rc, b, d->flags);
    PUT(rc, resp_integer(b, d->first));
    PUT(rc, resp_integer(b, d->last));
    PUT(rc, resp_integer(b, d->step));
    put_status_words(rc, b, d->acl);
    PUT(rc, resp_set_header(b, 0, rc->proto)); /* tips; sets, as Redis 7.0 sends them */
    PUT(rc, resp_set_header(b, 0, rc->proto)); /* key specs */
    PUT(rc, resp_set_header(b, 0, rc->proto)); /* subcommands */
}

/* One argument of a spec (p, n): a oneof, a block or a plain word. */
static void put_arg(struct rconn *rc, struct buf *b, const char *p, size_t n);

static void
put_args(struct rconn *rc, struct buf *b, const char *p, size_t n, char sep)
{
    size_t k = 1;
    for (size_t i = 0; i < n; i++) k += p[i] == sep;
    PUT(rc, resp_array_header(b, k));
    for (size_t i = 0, start = 0; i <= n; i++)
        if (i == n || p[i] == sep) {
            put_arg(rc, b, p + start, i - start);
            start = i + 1;
        }
}

static void
put_str(struct rconn *rc, struct buf *b, const char *p, size_t n)
{
    PUT(rc, resp_bulk(b, p, n));
}

static void
put_arg(struct rconn *rc, struct buf *b, const char *p, size_t n)
{
    int optional = n > 0 && p[0] == '?', multiple = n > 0 && p[n - 1] == '*';
    if (optional) p++, n--;
    if (multiple) n--;
    const char *bar = memchr(p, '|', n), *comma = memchr(p, ',', n), *eq = memchr(p, '=', n);
    int composite = bar || comma;
    const char *name = p, *type = composite ? (bar ? "oneof" : "block") : "pure-token";
    size_t nlen = n, tlen = strlen(type);
    const char *token = NULL;
    size_t toklen = 0;
    if (composite) {
        name = bar ? "option" : "data";
        nlen = strlen(name);
    } else {
        const char *w = p;
        size_t wn = n;
        if (eq) {
            token = p;
            toklen = (size_t)(eq - p);
            w = eq + 1;
            wn = n - toklen - 1;
        }
        const char *colon = memchr(w, ':', wn);
        if (colon) {
            name = w;
            nlen = (size_t)(colon - w);
            type = colon + 1;
            tlen = wn - nlen - 1;
        } else { /* a pure token: its name is itself in lower case */
            token = w;
            toklen = wn;
            name = w;
            nlen = wn;
        }
    }
    size_t fields = 2 + (token != NULL) + (optional || multiple) + composite;
    PUT(rc, resp_map_header(b, fields, rc->proto));
    put_cstr(rc, b, "name");
    char low[64];
    size_t ln = nlen < sizeof(low) ? nlen : sizeof(low) - 1;
    for (size_t i = 0; i < ln; i++)
        low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    put_str(rc, b, low, ln);
    put_cstr(rc, b, "type");
    put_str(rc, b, type, tlen);
    if (token != NULL) {
        put_cstr(rc, b, "token");
        put_str(rc, b, token, toklen);
    }
    if (optional || multiple) {
        put_cstr(rc, b, "flags");
        PUT(rc, resp_set_header(b, (size_t)optional + (size_t)multiple, rc->proto));
        if (optional) PUT(rc, resp_simple(b, "optional"));
        if (multiple) PUT(rc, resp_simple(b, "multiple"));
    }
    if (composite) {
        put_cstr(rc, b, "arguments");
        put_args(rc, b, p, n, bar ? '|' : ',');
    }
}

static void
put_docs(struct rconn *rc, struct buf *b, const struct rcmd_def *d)
{
    int has_args = d->args[0] != '\0';
    put_cstr(rc, b, d->name);
    PUT(rc, resp_map_header(b, has_args ? 5 : 4, rc->proto));
    put_cstr(rc, b, "summary");
    put_cstr(rc, b, d->summary);
    put_cstr(rc, b, "since");
    put_cstr(rc, b, d->since);
    put_cstr(rc, b, "group");
    put_cstr(rc, b, d->group);
    put_cstr(rc, b, "complexity");
    put_cstr(rc, b, d->complexity);
    if (has_args) {
        put_cstr(rc, b, "arguments");
        put_args(rc, b, d->args, strlen(d->args), ' ');
    }
}

void
rcmd_command(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct buf *b;
    if (cmd->argc == 1) {
        if ((b = out(rc)) == NULL) return;
        PUT(rc, resp_array_header(b, rcmd_count));
        for (size_t i = 0; i < rcmd_count; i++) put_entry(rc, b, &rcmd_table[i]);
    } else if (resp_arg_eq(cmd, 1, "COUNT") && cmd->argc == 2) {
        if ((b = out(rc)) != NULL) PUT(rc, resp_integer(b, (int64_t)rcmd_count));
    } else if (resp_arg_eq(cmd, 1, "LIST") && cmd->argc == 2) {
        if ((b = out(rc)) == NULL) return;
        PUT(rc, resp_array_header(b, rcmd_count));
        for (size_t i = 0; i < rcmd_count; i++) put_cstr(rc, b, rcmd_table[i].name);
    } else if (resp_arg_eq(cmd, 1, "INFO")) {
        if ((b = out(rc)) == NULL) return;
        if (cmd->argc == 2) {
            PUT(rc, resp_array_header(b, rcmd_count));
            for (size_t i = 0; i < rcmd_count; i++) put_entry(rc, b, &rcmd_table[i]);
            return;
        }
        PUT(rc, resp_array_header(b, cmd->argc - 2));
        for (size_t i = 2; i < cmd->argc; i++) {
            const struct rcmd_def *d = rcmd_find(cmd->argv[i].ptr, cmd->argv[i].len);
            if (d)
                put_entry(rc, b, d);
            else
                PUT(rc, resp_nil(b, rc->proto));
        }
    } else if (resp_arg_eq(cmd, 1, "DOCS")) {
        if ((b = out(rc)) == NULL) return;
        const struct rcmd_def *found[64];
        size_t n = 0;
        if (cmd->argc == 2)
            for (size_t i = 0; i < rcmd_count && n < 64; i++) found[n++] = &rcmd_table[i];
        for (size_t i = 2; i < cmd->argc && n < 64; i++) {
            const struct rcmd_def *d = rcmd_find(cmd->argv[i].ptr, cmd->argv[i].len);
            if (d) found[n++] = d;
        }
        PUT(rc, resp_map_header(b, n, rc->proto));
        for (size_t i = 0; i < n; i++) put_docs(rc, b, found[i]);
    } else if (resp_arg_eq(cmd, 1, "COUNT") || resp_arg_eq(cmd, 1, "LIST")) {
        rcmd_error(rc, "syntax error");
    } else {
        rcmd_error(rc, "unknown subcommand '%.*s'. Try COMMAND HELP.",
                   (int)(cmd->argv[1].len < 128 ? cmd->argv[1].len : 128),
                   (const char *)cmd->argv[1].ptr);
    }
}

/* FUNCTION: juno runs no scripts, so it has no functions to list or flush.
 * FLUSH answers OK and LIST an empty array, which is the truth (tools and
 * test harnesses flush before they start); LOAD and the rest say why not. */
void
rcmd_function(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct buf *b;
    if (resp_arg_eq(cmd, 1, "FLUSH") &&
        (cmd->argc == 2 ||
         (cmd->argc == 3 && (resp_arg_eq(cmd, 2, "ASYNC") || resp_arg_eq(cmd, 2, "SYNC"))))) {
        if ((b = out(rc)) != NULL) PUT(rc, resp_raw(b, "+OK\r\n", 5));
    } else if (resp_arg_eq(cmd, 1, "LIST")) {
        if ((b = out(rc)) != NULL) PUT(rc, resp_array_header(b, 0));
    } else if (resp_arg_eq(cmd, 1, "DELETE") && cmd->argc == 3) {
        rcmd_error(rc, "Library not found");
    } else if (resp_arg_eq(cmd, 1, "FLUSH")) {
        rcmd_error(rc, "FUNCTION FLUSH only supports SYNC|ASYNC option");
    } else {
        rcmd_error(rc, "juno: FUNCTION %.*s is not supported: juno-proxy runs no scripts",
                   (int)(cmd->argv[1].len < 64 ? cmd->argv[1].len : 64),
                   (const char *)cmd->argv[1].ptr);
    }
}
