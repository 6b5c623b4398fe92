/* resp_table.c: the RESP face's command table and dispatch. The table is
 * what COMMAND, COMMAND INFO and COMMAND DOCS describe (resp_admin.c) and
 * what the --acl gate reads (resp_auth.c: a command with a key is a read,
 * or a write when its flags say "write"); rcmd_run finds a command by name,
 * checks its arity as Redis does, passes the gate and runs it.
 */
#include "resp_face.h"

#include <stdio.h>
#include <string.h>

/* clang-format off */
const struct rcmd_def rcmd_table[] = {
    {"get", 2, rcmd_get, "readonly fast", 1, 1, 1, "@read @string @fast", "string",
     "Returns the string value of a key.", "1.0.0", "O(1)", "key:key"},
    {"set", -3, rstr_set, "write denyoom", 1, 1, 1, "@write @string @slow", "string",
     "Sets the string value of a key. The key is created if it doesn't exist.", "1.0.0", "O(1)",
     "key:key value:string ?NX|XX ?GET ?EX=seconds:integer|PX=milliseconds:integer|"
     "EXAT=unix-time-seconds:unix-time|PXAT=unix-time-milliseconds:unix-time|KEEPTTL"},
    {"setnx", 3, rstr_setnx, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string",
     "Set the string value of a key only when the key doesn't exist.", "1.0.0", "O(1)",
     "key:key value:string"},
    {"setex", 4, rstr_setex, "write denyoom", 1, 1, 1, "@write @string @slow", "string",
     "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
     "2.0.0", "O(1)", "key:key seconds:integer value:string"},
    {"psetex", 4, rstr_psetex, "write denyoom", 1, 1, 1, "@write @string @slow", "string",
     "Sets both string value and expiration time in milliseconds of a key.", "2.6.0", "O(1)",
     "key:key milliseconds:integer value:string"},
    {"getset", 3, rstr_getset, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string",
     "Returns the previous string value of a key after setting it to a new value.", "1.0.0",
     "O(1)", "key:key value:string"},
    {"getdel", 2, rstr_getdel, "write fast", 1, 1, 1, "@write @string @fast", "string",
     "Returns the string value of a key after deleting the key.", "6.2.0", "O(1)", "key:key"},
    {"getex", -2, rstr_getex, "write fast", 1, 1, 1, "@write @string @fast", "string",
     "Returns the string value of a key after setting its expiration time.", "6.2.0", "O(1)",
     "key:key ?EX=seconds:integer|PX=milliseconds:integer|EXAT=unix-time-seconds:unix-time|"
     "PXAT=unix-time-milliseconds:unix-time|PERSIST"},
    {"incr", 2, rstr_incr, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string",
     "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.", "1.0.0", "O(1)", "key:key"},
    {"decr", 2, rstr_decr, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string",
     "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.", "1.0.0", "O(1)", "key:key"},
    {"incrby", 3, rstr_incrby, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string",
     "Increments the integer value of a key by a number. Uses 0 as initial value if the key "
     "doesn't exist.", "1.0.0", "O(1)", "key:key increment:integer"},
    {"decrby", 3, rstr_decrby, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string",
     "Decrements a number from the integer value of a key. Uses 0 as initial value if the key "
     "doesn't exist.", "1.0.0", "O(1)", "key:key decrement:integer"},
    {"incrbyfloat", 3, rstr_incrbyfloat, "write denyoom fast", 1, 1, 1, "@write @string @fast",
     "string", "Increment the floating point value of a key by a number. Uses 0 as initial value "
     "if the key doesn't exist.", "2.6.0", "O(1)", "key:key increment:double"},
    {"append", 3, rstr_append, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string",
     "Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0",
     "O(1)", "key:key value:string"},
    {"setrange", 4, rstr_setrange, "write denyoom", 1, 1, 1, "@write @string @slow", "string",
     "Overwrites a part of a string value with another by an offset. Creates the key if it "
     "doesn't exist.", "2.2.0", "O(1)", "key:key offset:integer value:string"},
    {"strlen", 2, rstr_strlen, "readonly fast", 1, 1, 1, "@read @string @fast", "string",
     "Returns the length of a string value.", "2.2.0", "O(1)", "key:key"},
    {"getrange", 4, rstr_getrange, "readonly", 1, 1, 1, "@read @string @slow", "string",
     "Returns a substring of the string stored at a key.", "2.4.0",
     "O(N) where N is the length of the returned string", "key:key start:integer end:integer"},
    {"getbit", 3, rstr_getbit, "readonly fast", 1, 1, 1, "@read @bitmap @fast", "bitmap",
     "Returns a bit value by offset.", "2.2.0", "O(1)", "key:key offset:integer"},
    {"setbit", 4, rstr_setbit, "write denyoom", 1, 1, 1, "@write @bitmap @slow", "bitmap",
     "Sets or clears the bit at offset of the string value. Creates the key if it doesn't "
     "exist.", "2.2.0", "O(1)", "key:key offset:integer value:integer"},
    {"bitcount", -2, rstr_bitcount, "readonly", 1, 1, 1, "@read @bitmap @slow", "bitmap",
     "Counts the number of set bits (population counting) in a string.", "2.6.0", "O(N)",
     "key:key ?start:integer,end:integer"},
    {"substr", 4, rstr_getrange, "readonly", 1, 1, 1, "@read @string @slow", "string",
     "Returns a substring from a string value.", "1.0.0",
     "O(N) where N is the length of the returned string", "key:key start:integer end:integer"},
    {"del", -2, rcmd_del, "write", 1, -1, 1, "@keyspace @write @slow", "generic",
     "Deletes one or more keys.", "1.0.0", "O(N) where N is the number of keys", "key:key*"},
    {"exists", -2, rcmd_exists, "readonly fast", 1, -1, 1, "@keyspace @read @fast", "generic",
     "Determines whether one or more keys exist.", "3.0.3", "O(N) where N is the number of keys",
     "key:key*"},
    {"ttl", 2, rcmd_ttl, "readonly fast", 1, 1, 1, "@keyspace @read @fast", "generic",
     "Returns the expiration time in seconds of a key.", "1.0.0", "O(1)", "key:key"},
    {"pttl", 2, rcmd_pttl, "readonly fast", 1, 1, 1, "@keyspace @read @fast", "generic",
     "Returns the expiration time in milliseconds of a key.", "2.6.0", "O(1)", "key:key"},
    {"expire", -3, rexp_expire, "write fast", 1, 1, 1, "@keyspace @write @fast", "generic",
     "Sets the expiration time of a key in seconds.", "1.0.0", "O(1)",
     "key:key seconds:integer ?NX|XX|GT|LT"},
    {"persist", 2, rexp_persist, "write fast", 1, 1, 1, "@keyspace @write @fast", "generic",
     "Removes the expiration time of a key.", "2.2.0", "O(1)", "key:key"},
    {"pexpire", -3, rexp_pexpire, "write fast", 1, 1, 1, "@keyspace @write @fast", "generic",
     "Sets the expiration time of a key in milliseconds.", "2.6.0", "O(1)",
     "key:key milliseconds:integer ?NX|XX|GT|LT"},
    {"expireat", -3, rexp_expireat, "write fast", 1, 1, 1, "@keyspace @write @fast", "generic",
     "Sets the expiration time of a key to a Unix timestamp.", "1.2.0", "O(1)",
     "key:key unix-time-seconds:unix-time ?NX|XX|GT|LT"},
    {"pexpireat", -3, rexp_pexpireat, "write fast", 1, 1, 1, "@keyspace @write @fast", "generic",
     "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0", "O(1)",
     "key:key unix-time-milliseconds:unix-time ?NX|XX|GT|LT"},
    {"expiretime", 2, rexp_expiretime, "readonly fast", 1, 1, 1, "@keyspace @read @fast",
     "generic", "Returns the expiration time of a key as a Unix timestamp.", "7.0.0", "O(1)",
     "key:key"},
    {"pexpiretime", 2, rexp_pexpiretime, "readonly fast", 1, 1, 1, "@keyspace @read @fast",
     "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0",
     "O(1)", "key:key"},
    {"time", 1, rexp_time, "random loading stale fast", 0, 0, 0, "@fast", "server",
     "Returns the server time.", "2.6.0", "O(1)", ""},
    {"mget", -2, rcmd_mget, "readonly fast", 1, -1, 1, "@read @string @fast", "string",
     "Returns the string values of one or more keys.", "1.0.0",
     "O(N) where N is the number of keys", "key:key*"},
    {"mset", -3, rcmd_mset, "write denyoom", 1, -1, 2, "@write @string @slow", "string",
     "Sets the string values of one or more keys (each key on its own, not atomically).",
     "1.0.1", "O(N) where N is the number of keys", "key:key,value:string*"},
    {"msetnx", -3, rstr_msetnx, "write denyoom", 1, -1, 2, "@write @string @slow", "string",
     "Sets the string value of a key only when it doesn't exist (juno: one key only).", "1.0.1",
     "O(1)", "key:key,value:string*"},
    {"type", 2, rcmd_type, "readonly fast", 1, 1, 1, "@keyspace @read @fast", "generic",
     "Determines the type of value stored at a key (juno: string or none).", "1.0.0", "O(1)",
     "key:key"},
    {"touch", -2, rcmd_exists, "readonly fast", 1, -1, 1, "@keyspace @read @fast", "generic",
     "Returns the number of existing keys out of those specified.", "3.2.1",
     "O(N) where N is the number of keys that will be touched.", "key:key*"},
    {"unlink", -2, rcmd_del, "write fast", 1, -1, 1, "@keyspace @write @fast", "generic",
     "Deletes one or more keys (as DEL: each a replicated Destroy).", "4.0.0",
     "O(N) where N is the number of keys", "key:key*"},
    {"rename", 3, rname_rename, "write", 1, 2, 1, "@keyspace @write @slow", "generic",
     "Renames a key and overwrites the destination (juno: the destination written, then the "
     "source deleted if unchanged).", "1.0.0", "O(1)", "key:key newkey:key"},
    {"renamenx", 3, rname_renamenx, "write fast", 1, 2, 1, "@keyspace @write @fast", "generic",
     "Renames a key only when the target key name doesn't exist.", "1.0.0", "O(1)",
     "key:key newkey:key"},
    {"copy", -3, rname_copy, "write denyoom", 1, 2, 1, "@keyspace @write @slow", "generic",
     "Copies the value of a key to a new key (juno: DB n is the namespace NS/n).", "6.2.0",
     "O(1)", "source:key destination:key ?DB=destination-db:integer ?REPLACE"},
    {"lcs", -3, rstr_lcs, "readonly", 1, 2, 1, "@read @string @slow", "string",
     "Finds the longest common substring.", "7.0.0",
     "O(N*M) where N and M are the lengths of s1 and s2, respectively",
     "key1:key key2:key ?LEN ?IDX ?MINMATCHLEN=min-match-len:integer ?WITHMATCHLEN"},
    {"move", 3, rname_move, "write fast", 1, 1, 1, "@keyspace @write @fast", "generic",
     "Moves a key to another database (juno: the namespace NS/db).", "1.0.0", "O(1)",
     "key:key db:integer"},
    {"scan", -2, rkeys_scan, "readonly", 0, 0, 0, "@keyspace @read @slow", "generic",
     "Iterates over the key names in the database.", "2.8.0",
     "O(1) for every call. O(N) for a complete iteration.",
     "cursor:integer ?MATCH=pattern:pattern ?COUNT=count:integer ?TYPE=type:string"},
    {"keys", 2, rkeys_keys, "readonly", 0, 0, 0, "@keyspace @read @slow @dangerous", "generic",
     "Returns all key names that match a pattern.", "1.0.0",
     "O(N) with N being the number of keys in the database", "pattern:pattern"},
    {"dbsize", 1, rkeys_dbsize, "readonly fast", 0, 0, 0, "@keyspace @read @fast", "server",
     "Returns the number of keys in the database (juno: counted on every shard).", "1.0.0",
     "O(N) in juno: every shard is read", ""},
    {"randomkey", 1, rkeys_randomkey, "readonly", 0, 0, 0, "@keyspace @read @slow", "generic",
     "Returns a random key name from the database.", "1.0.0", "O(1)", ""},
    {"flushdb", -1, rkeys_flushdb, "write", 0, 0, 0, "@keyspace @write @slow @dangerous",
     "server", "Removes all keys from the current database (juno: the connection's namespace, "
     "each key a replicated delete).", "1.0.0", "O(N) where N is the number of keys",
     "?ASYNC|SYNC"},
    {"flushall", -1, rkeys_flushall, "write", 0, 0, 0, "@keyspace @write @slow @dangerous",
     "server", "Removes all keys from all databases (juno: those the user may write).", "1.0.0", "O(N) where N is the number of keys", "?ASYNC|SYNC"},
    {"ping", -1, rcmd_ping, "fast", 0, 0, 0, "@fast @connection", "connection",
     "Returns the server's liveliness response.", "1.0.0", "O(1)", "?message:string"},
    {"echo", 2, rcmd_echo, "fast", 0, 0, 0, "@fast @connection", "connection",
     "Returns the given string.", "1.0.0", "O(1)", "message:string"},
    {"info", -1, rcmd_info, "loading stale", 0, 0, 0, "@slow @dangerous", "server",
     "Returns information and statistics about the server.", "1.0.0", "O(1)", "?section:string*"},
    {"quit", -1, rcmd_quit, "allow_busy noscript loading stale fast", 0, 0, 0,
     "@fast @connection", "connection", "Closes the connection.", "1.0.0", "O(1)", ""},
    {"command", -1, rcmd_command, "loading stale", 0, 0, 0, "@slow @connection", "server",
     "Returns detailed information about all commands (COUNT, DOCS, INFO, LIST).", "2.8.13",
     "O(N) where N is the total number of commands", ""},
    {"function", -2, rcmd_function, "noscript", 0, 0, 0, "@slow @scripting", "scripting",
     "A container for function commands (juno: no scripts, so FLUSH and LIST only).", "7.0.0",
     "Depends on subcommand.", ""},
    {"config", -2, rcmd_config, "", 0, 0, 0, "@slow", "server",
     "Returns (GET) or, for the RESP limits, changes (SET) configuration parameters.", "2.0.0",
     "O(N) when N is the number of configuration parameters provided",
     "GET=parameter:pattern*"},
    {"hello", -1, rcmd_hello, "noscript loading stale fast", 0, 0, 0, "@fast @connection",
     "connection", "Handshakes with the server (protocol 2 only).", "6.0.0", "O(1)",
     "?protover:integer ?SETNAME=clientname:string"},
    {"select", 2, rcmd_select, "loading stale fast", 0, 0, 0, "@keyspace @fast", "connection",
     "Changes the selected database (juno: database i > 0 is the namespace NS/i).", "1.0.0", "O(1)", "index:integer"},
    {"client", -2, rcmd_client, "", 0, 0, 0, "@slow", "connection",
     "Client connection commands (SETNAME, GETNAME, ID, SETINFO).", "2.4.0", "O(1)", ""},
    {"auth", -2, rcmd_auth, "noscript loading stale fast", 0, 0, 0, "@fast @connection",
     "connection", "Authenticates the connection (a user of juno-proxy's --acl).", "1.0.0",
     "O(1)", "?username:string password:string"},
    {"multi", 1, rmulti_multi, "noscript loading stale fast allow_busy", 0, 0, 0,
     "@fast @transaction", "transactions", "Starts a transaction (juno: EXEC runs a "
     "transaction of one command; more are refused, never run in part).", "1.2.0", "O(1)", ""},
    {"exec", 1, rmulti_exec, "noscript loading stale skip_slowlog", 0, 0, 0,
     "@slow @transaction", "transactions", "Executes all commands in a transaction (juno: at "
     "most one).", "1.2.0", "Depends on commands in the transaction", ""},
    {"discard", 1, rmulti_discard, "noscript loading stale fast allow_busy", 0, 0, 0,
     "@fast @transaction", "transactions", "Discards a transaction.", "2.0.0",
     "O(N), when N is the number of queued commands", ""},
    {"watch", -2, rwatch_watch, "noscript loading stale fast allow_busy", 1, -1, 1,
     "@fast @transaction", "transactions", "Monitors changes to keys to determine the "
     "execution of a transaction (juno: by version; EXEC checks one watched key, its command's).",
     "2.2.0", "O(1) for every key", "key:key*"},
    {"unwatch", 1, rwatch_unwatch, "noscript loading stale fast allow_busy", 0, 0, 0,
     "@fast @transaction", "transactions", "Forgets about watched keys of a transaction.",
     "2.2.0", "O(1)", ""},
};
/* clang-format on */
const size_t rcmd_count = sizeof(rcmd_table) / sizeof(rcmd_table[0]);
_Static_assert(sizeof(rcmd_table) / sizeof(rcmd_table[0]) <= RCMD_MAX,
               "RCMD_MAX (proxy.h) must cover the command table: INFO commandstats");

const struct rcmd_def *
rcmd_find(const uint8_t *name, size_t len)
{
    char low[16];
    if (len == 0 || len >= sizeof(low)) return NULL;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    for (size_t i = 0; i < rcmd_count; i++)
        if (strlen(rcmd_table[i].name) == len && memcmp(rcmd_table[i].name, low, len) == 0)
            return &rcmd_table[i];
    return NULL;
}

/* Redis's: unknown command 'x', with args beginning with: 'a' 'b' */
static void
unknown_command(struct rconn *rc, const struct resp_cmd *cmd)
{
    char args[300];
    size_t n = 0;
    args[0] = '\0';
    for (size_t i = 1; i < cmd->argc && n < 128; i++) {
        int k = snprintf(args + n, sizeof(args) - n, "'%.*s' ",
                         (int)(cmd->argv[i].len < 128 - n ? cmd->argv[i].len : 128 - n),
                         (const char *)cmd->argv[i].ptr);
        if (k < 0 || (size_t)k >= sizeof(args) - n) break;
        n += (size_t)k;
    }
    int nl = (int)(cmd->argv[0].len < 128 ? cmd->argv[0].len : 128);
    rcmd_error(rc, "unknown command '%.*s', with args beginning with: %s", nl,
               (const char *)cmd->argv[0].ptr, args);
}

int
rcmd_check(struct rconn *rc, const struct rcmd_def *d, const struct resp_cmd *cmd)
{
    if (d == NULL) {
        unknown_command(rc, cmd);
        return -1;
    }
    if ((d->arity > 0 && cmd->argc != (size_t)d->arity) ||
        (d->arity < 0 && cmd->argc < (size_t)-d->arity)) {
        rcmd_arity_error(rc, d->name);
        return -1;
    }
    return rauth_gate(rc, d) != 0 ? -1 : 0;
}

void
rcmd_run(struct rconn *rc, const struct resp_cmd *cmd)
{
    const struct rcmd_def *d = rcmd_find(cmd->argv[0].ptr, cmd->argv[0].len);
    if (rc->tx != NULL && rmulti_queue(rc, d, cmd)) return; /* MULTI: queued */
    uint8_t row = d != NULL ? (uint8_t)(d - rcmd_table + 1) : 0, outer = rc->cur_cmd;
    if (rcmd_check(rc, d, cmd) != 0) {
        rstat_run(rc, row, 1);
        return;
    }
    rstat_run(rc, row, 0);
    rc->cur_cmd = row; /* EXEC runs its command inside its own run */
    d->run(rc, cmd);
    rc->cur_cmd = outer;
}
