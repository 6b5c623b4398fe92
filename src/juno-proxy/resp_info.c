/* resp_info.c: the RESP face's INFO, with the sections and fields that
 * dashboards, exporters and client libraries read from Redis 7 (server,
 * clients, memory, persistence, stats, replication, cpu, keyspace), each
 * section by name, several in one call, or all of them (all, everything,
 * default, no argument). Fields describe this proxy process; where Redis would
 * describe a state juno has elsewhere or not at all (an RDB file, replicas
 * of the whole dataset) they say what is true of the proxy: nothing loading,
 * no RDB or AOF, role master with no replicas (juno replicates each request
 * to its stores). juno's own fields start with juno_.
 *
 * The keyspace section's line counts the connection's database (dbN, N
 * its SELECT: its namespace) as DBSIZE does (a walk of every shard,
 * resp_keys.c), also counting the keys that expire; avg_ttl is 0 (Redis's
 * "no estimate"); other databases are not counted. Counts are kept and
 * reused a few seconds (resp_kscount.c). When the stores cannot be read,
 * the last count is shown if there is one, else no dbN line (as Redis
 * shows an empty database), and juno_keyspace_error says why.
 */
#include "resp_face.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

enum {
    S_SERVER,
    S_CLIENTS,
    S_MEMORY,
    S_PERSISTENCE,
    S_STATS,
    S_REPLICATION,
    S_CPU,
    S_COMMANDSTATS, /* not in "default", as in Redis */
    S_ERRORSTATS,
    S_KEYSPACE,
    S_N
};
static const char *const section_names[S_N] = {
    "server",      "clients", "memory",       "persistence", "stats",
    "replication", "cpu",     "commandstats", "errorstats",  "keyspace"};
static const char *const section_titles[S_N] = {
    "Server",      "Clients", "Memory",       "Persistence", "Stats",
    "Replication", "CPU",     "Commandstats", "Errorstats",  "Keyspace"};

/* instantaneous_ops_per_sec: commands per second between two INFO calls at
 * least a second apart (Redis samples every 100 ms; a dashboard polls). */
static struct {
    uint64_t t_ms, commands;
    double rate;
} ops;
static uv_mutex_t ops_lock;
static uv_once_t ops_once = UV_ONCE_INIT;

static void
ops_init(void)
{
    uv_mutex_init(&ops_lock);
}

static double
ops_rate(uint64_t commands)
{
    uv_once(&ops_once, ops_init);
    uint64_t now = uv_hrtime() / 1000000;
    uv_mutex_lock(&ops_lock);
    if (ops.t_ms == 0) {
        ops.t_ms = now, ops.commands = commands;
    } else if (now - ops.t_ms >= 1000) {
        ops.rate = (double)(commands - ops.commands) * 1000.0 / (double)(now - ops.t_ms);
        ops.t_ms = now, ops.commands = commands;
    }
    double r = ops.rate;
    uv_mutex_unlock(&ops_lock);
    return r;
}

/* A run id: 40 hex digits, random, fixed for the process (Redis's run_id). */
static char run_id[41];
static uv_once_t run_id_once = UV_ONCE_INIT;

static void
run_id_init(void)
{
    uint64_t x = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&x;
    for (int i = 0; i < 40; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        run_id[i] = "0123456789abcdef"[x & 15];
    }
}

/* The text being built; e is set when it could not grow. */
struct itext {
    struct buf t;
    int e;
    int proto; /* the connection's when INFO ran: the reply's (a verbatim string in RESP3) */
};

static int
vaddf(struct buf *t, const char *fmt, va_list ap)
{
    char line[1024]; /* the longest call's text and more */
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    if (n < 0) return 0;
    if ((size_t)n >= sizeof(line)) n = sizeof(line) - 1;
    return resp_raw(t, line, (size_t)n) != 0 ? -1 : 0;
}

int
rinfo_addf(struct buf *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vaddf(t, fmt, ap);
    va_end(ap);
    return r;
}

static void add(struct itext *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add(struct itext *it, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    it->e |= vaddf(&it->t, fmt, ap);
    va_end(ap);
}

/* Redis's bytesToHuman: 1.50K, 2.00M ... */
static void
human(uint64_t n, char out[32])
{
    static const char units[] = "BKMGTP";
    double d = (double)n;
    int u = 0;
    while (d >= 1024 && u < 5) d /= 1024, u++;
    if (u == 0)
        snprintf(out, 32, "%lluB", (unsigned long long)n);
    else
        snprintf(out, 32, "%.2f%c", d, units[u]);
}

static void
add_mem(struct itext *it, const char *name, uint64_t v)
{
    char h[32];
    human(v, h);
    add(it, "%s:%llu\r\n%s_human:%s\r\n", name, (unsigned long long)v, name, h);
}

/* A field of /proc/self/status in kB (VmRSS, VmHWM), as bytes; 0 if absent. */
static uint64_t
proc_status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f == NULL) return 0;
    char line[256];
    size_t fl = strlen(field);
    unsigned long long kb = 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            sscanf(line + fl + 1, "%llu", &kb);
            break;
        }
    fclose(f);
    return (uint64_t)kb * 1024;
}

static void
sum_stats(const struct proxy *p, struct rface_stats *sum, uint64_t *native_conns,
          uint64_t *native_reqs)
{
    for (unsigned i = 0; i < p->nworkers; i++) {
        const struct worker *w = &p->workers[i];
        sum->accepted += __atomic_load_n(&w->rstats.accepted, __ATOMIC_RELAXED);
        sum->open += __atomic_load_n(&w->rstats.open, __ATOMIC_RELAXED);
        sum->commands += __atomic_load_n(&w->rstats.commands, __ATOMIC_RELAXED);
        sum->errors += __atomic_load_n(&w->rstats.errors, __ATOMIC_RELAXED);
        sum->protocol_errors += __atomic_load_n(&w->rstats.protocol_errors, __ATOMIC_RELAXED);
        sum->hits += __atomic_load_n(&w->rstats.hits, __ATOMIC_RELAXED);
        sum->misses += __atomic_load_n(&w->rstats.misses, __ATOMIC_RELAXED);
        *native_conns += __atomic_load_n(&w->stats.connections, __ATOMIC_RELAXED);
        *native_reqs += __atomic_load_n(&w->stats.requests, __ATOMIC_RELAXED);
    }
}

static void
server(struct itext *it, struct rconn *rc)
{
    const struct proxy *p = rc->w->p;
    const struct proxy_config *c = &p->cfg;
    struct utsname u;
    if (uname(&u) != 0)
        snprintf(u.sysname, sizeof(u.sysname), "Linux"), u.release[0] = 0, u.machine[0] = 0;
    uv_once(&run_id_once, run_id_init);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t up = rface_uptime();
    add(it,
        "redis_version:%s\r\njuno_version:%s\r\nredis_git_sha1:00000000\r\n"
        "redis_git_dirty:0\r\nredis_mode:standalone\r\nos:%s %s %s\r\narch_bits:%d\r\n"
        "multiplexing_api:epoll\r\ngcc_version:%d.%d.0\r\nprocess_id:%ld\r\nrun_id:%s\r\n",
        RFACE_REDIS_VERSION, JUNO_VERSION, u.sysname, u.release, u.machine, (int)sizeof(void *) * 8,
        __GNUC__, __GNUC_MINOR__, (long)getpid(), run_id);
    add(it,
        "tcp_port:%u\r\nserver_time_usec:%llu\r\nuptime_in_seconds:%llu\r\n"
        "uptime_in_days:%llu\r\nhz:10\r\nconfigured_hz:10\r\nexecutable:\r\nconfig_file:\r\n",
        c->resp_port,
        (unsigned long long)now.tv_sec * 1000000ull + (unsigned long long)now.tv_nsec / 1000,
        (unsigned long long)up, (unsigned long long)up / 86400);
    add(it, "juno_threads:%u\r\njuno_namespace:%s\r\n", p->nworkers, c->resp_ns);
    const struct map *m = rc->w->route ? rc->w->route->pm->map : NULL;
    if (m != NULL)
        add(it, "juno_map_version:%llu\r\njuno_zones:%u\r\njuno_quorum:%u\r\njuno_shards:%u\r\n",
            (unsigned long long)m->version, (unsigned)m->nzones, (unsigned)m->nzones / 2 + 1,
            (unsigned)m->shards);
}

static void
memory(struct itext *it, const struct proxy *p)
{
    const struct proxy_config *c = &p->cfg;
    struct mallinfo2 mi = mallinfo2();
    uint64_t used = mi.uordblks + mi.hblkhd, rss = proc_status_bytes("VmRSS");
    uint64_t peak = proc_status_bytes("VmHWM");
    if (used == 0) used = rss; /* an allocator that does not say (sanitizer builds) */
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    add_mem(it, "used_memory", used);
    add_mem(it, "used_memory_rss", rss);
    add_mem(it, "used_memory_peak", peak > used ? peak : used);
    add_mem(it, "total_system_memory",
            pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 0);
    add_mem(it, "maxmemory", 0);
    add(it,
        "maxmemory_policy:noeviction\r\nmem_fragmentation_ratio:%.2f\r\n"
        "mem_allocator:libc\r\n",
        used ? (double)rss / (double)used : 0.0);
    add(it,
        "juno_resp_max_value:%llu\r\njuno_resp_max_query:%llu\r\n"
        "juno_resp_buffered:%llu\r\njuno_resp_max_buffered:%llu\r\n",
        (unsigned long long)rface_limit(&c->resp_max_value),
        (unsigned long long)rface_limit(&c->resp_max_query),
        (unsigned long long)__atomic_load_n(&p->resp_buffered, __ATOMIC_RELAXED),
        (unsigned long long)c->resp_max_buffered);
}

static void
persistence(struct itext *it)
{
    add(it,
        "loading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\n"
        "rdb_bgsave_in_progress:0\r\nrdb_last_save_time:%llu\r\nrdb_last_bgsave_status:ok\r\n"
        "rdb_last_bgsave_time_sec:-1\r\nrdb_current_bgsave_time_sec:-1\r\n",
        (unsigned long long)(time(NULL) - (time_t)rface_uptime()));
    add(it, "aof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n"
            "aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\n"
            "aof_last_bgrewrite_status:ok\r\naof_last_write_status:ok\r\n");
}

static void
stats(struct itext *it, const struct rface_stats *s, uint64_t native_conns, uint64_t native_reqs)
{
    add(it,
        "total_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
        "instantaneous_ops_per_sec:%.0f\r\nrejected_connections:0\r\nexpired_keys:0\r\n"
        "evicted_keys:0\r\nkeyspace_hits:%llu\r\nkeyspace_misses:%llu\r\n"
        "total_error_replies:%llu\r\n",
        (unsigned long long)s->accepted, (unsigned long long)s->commands, ops_rate(s->commands),
        (unsigned long long)s->hits, (unsigned long long)s->misses, (unsigned long long)s->errors);
    add(it,
        "juno_protocol_errors:%llu\r\njuno_native_connections_received:%llu\r\n"
        "juno_native_requests:%llu\r\n",
        (unsigned long long)s->protocol_errors, (unsigned long long)native_conns,
        (unsigned long long)native_reqs);
}

static void
replication(struct itext *it)
{
    uv_once(&run_id_once, run_id_init);
    add(it,
        "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n"
        "master_replid:%s\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n"
        "master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n"
        "repl_backlog_size:0\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
        run_id);
}

static void
cpu(struct itext *it)
{
    struct rusage self = {0}, kids = {0};
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
#define SEC(tv) ((double)(tv).tv_sec + (double)(tv).tv_usec / 1e6)
    add(it,
        "used_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\nused_cpu_sys_children:%.6f\r\n"
        "used_cpu_user_children:%.6f\r\n",
        SEC(self.ru_stime), SEC(self.ru_utime), SEC(kids.ru_stime), SEC(kids.ru_utime));
#undef SEC
}

/* The keyspace section's line of count c of database db (none for an
 * empty namespace), and why there is no fresh count (err: NULL, none). */
static void
keyspace_line(struct itext *it, uint32_t db, const struct kscount *c, const char *err)
{
    if (c->have && c->keys > 0)
        add(it, "db%u:keys=%llu,expires=%llu,avg_ttl=0\r\n", db, (unsigned long long)c->keys,
            (unsigned long long)c->ttls);
    if (err != NULL) add(it, "juno_keyspace_error:%s\r\n", err);
}

/* INFO's text it as the reply, into b (NULL: out of memory); it is freed. */
static void
info_reply(struct rconn *rc, struct buf *b, struct itext *it)
{
    if (b == NULL || it->e || resp_verbatim(b, "txt", it->t.data, it->t.len, it->proto) != 0)
        rc->nomem = 1;
    buf_free(&it->t);
}

/* The namespace counted (rkeys_count): the held text's keyspace line, then the reply. */
static void
info_counted(struct rconn *rc, struct buf *b, int status, uint64_t keys, uint64_t ttls, void *arg)
{
    struct itext *it = arg;
    struct kscount c;
    /* b NULL: the connection went, and its walk stopped short */
    kscount_done(rconn_ns(rc), b != NULL && status == 0, keys, ttls, &c);
    if (b != NULL) {
        keyspace_line(it, rc->db, &c, status == 0 ? NULL : wire_status_name(status));
        info_reply(rc, b, it);
    } else {
        buf_free(&it->t);
    }
    free(it);
}

void
rcmd_info(struct rconn *rc, const struct resp_cmd *cmd)
{
    int want[S_N] = {0}, any = 0;
    for (size_t i = 1; i < cmd->argc; i++) {
        any = 1;
        if (resp_arg_eq(cmd, i, "all") || resp_arg_eq(cmd, i, "everything") ||
            resp_arg_eq(cmd, i, "default")) {
            for (int k = 0; k < S_N; k++)
                want[k] |= k != S_COMMANDSTATS || !resp_arg_eq(cmd, i, "default");
            continue;
        }
        for (int k = 0; k < S_N; k++)
            if (resp_arg_eq(cmd, i, section_names[k])) want[k] = 1;
    }
    if (!any)
        for (int k = 0; k < S_N; k++) want[k] = k != S_COMMANDSTATS;
    struct proxy *p = rc->w->p;
    struct rface_stats sum = {0};
    uint64_t native_conns = 0, native_reqs = 0;
    sum_stats(p, &sum, &native_conns, &native_reqs);
    struct itext it = {{0}, 0, rc->proto};
    int n = 0;
    for (int k = 0; k < S_N; k++) {
        if (!want[k]) continue;
        add(&it, "%s# %s\r\n", n++ ? "\r\n" : "", section_titles[k]);
        switch (k) {
        case S_SERVER: server(&it, rc); break;
        case S_CLIENTS: {
            struct rlimit nofile = {0};
            getrlimit(RLIMIT_NOFILE, &nofile); /* Redis: the descriptors less 32 of its own */
            unsigned long long fds = nofile.rlim_cur == RLIM_INFINITY ? 0 : nofile.rlim_cur;
            add(&it,
                "connected_clients:%llu\r\ncluster_connections:0\r\nmaxclients:%llu\r\n"
                "blocked_clients:0\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
                (unsigned long long)sum.open, fds > 32 ? fds - 32 : fds);
            break;
        }
        case S_MEMORY: memory(&it, p); break;
        case S_PERSISTENCE: persistence(&it); break;
        case S_STATS: stats(&it, &sum, native_conns, native_reqs); break;
        case S_REPLICATION: replication(&it); break;
        case S_CPU: cpu(&it); break;
        case S_COMMANDSTATS: it.e |= rstat_commandstats(p, &it.t); break;
        case S_ERRORSTATS: it.e |= rstat_errorstats(p, &it.t); break;
        default: break; /* keyspace: last, below */
        }
    }
    struct kscount c;
    if (want[S_KEYSPACE] && !it.e && kscount_claim(rconn_ns(rc), &c) == KS_COUNT) {
        struct itext *held = malloc(sizeof(*held));
        if (held == NULL) {
            kscount_done(rconn_ns(rc), 0, 0, 0, &c);
            buf_free(&it.t);
            rc->nomem = 1;
            return;
        }
        *held = it;
        rkeys_count(rc, info_counted, held); /* the reply when the count is taken */
        return;
    }
    if (want[S_KEYSPACE] && !it.e) keyspace_line(&it, rc->db, &c, NULL);
    struct buf *b = it.e ? NULL : rconn_out(rc);
    info_reply(rc, b, &it);
}
