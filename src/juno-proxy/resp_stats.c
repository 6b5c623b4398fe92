/* resp_stats.c: the RESP face's per-command and per-error counters, which
 * INFO shows as Redis 7's commandstats and errorstats sections.
 *
 *   cmdstat_NAME:calls=,usec=,usec_per_call=,rejected_calls=,failed_calls=
 *     calls     the command ran (dispatched past its checks)
 *     usec      from the arrival of its bytes to its reply being ready, summed
 *               (juno's commands wait on the stores; Redis's usec is the CPU
 *               time of the command in the server)
 *     rejected  refused before running: arity, --acl (NOAUTH, NOPERM)
 *     failed    ran and answered an error
 *   errorstat_CODE:count=   error replies by their first word (ERR, NOPERM...)
 *
 * Each worker counts its own (one writer); INFO sums them with relaxed
 * atomic loads, as it does the other counters.
 */
#include "resp_face.h"

#include <stdio.h>
#include <string.h>

static const char *const codes[RSTAT_ERR_CODES] = {
    "ERR",       "NOPERM", "NOAUTH",  "WRONGPASS", "TRYAGAIN", "BUSY",
    "EXECABORT", "OOM",    "NOPROTO", "WRONGTYPE", "NOSCRIPT", "LOADING"};

#define CSTAT_ADD(w, i, field, n) RSTAT_ADD(w, cmd[i].field, n)

void
rstat_run(struct rconn *rc, uint8_t cmd, int rejected)
{
    if (cmd == 0 || cmd > RCMD_MAX) return;
    if (rejected)
        CSTAT_ADD(rc->w, cmd - 1, rejected, 1);
    else
        CSTAT_ADD(rc->w, cmd - 1, calls, 1);
}

void
rstat_error(struct rconn *rc, const struct rslot *s, const char *msg)
{
    struct worker *w = rc->w;
    RSTAT_ADD(w, errors, 1);
    size_t k = 0; /* ERR, unless msg names its code ("-CODE ...") */
    if (msg[0] == '-')
        for (size_t i = 1; i < RSTAT_ERR_CODES; i++) {
            size_t n = strlen(codes[i]);
            if (strncmp(msg + 1, codes[i], n) == 0 && (msg[1 + n] == ' ' || msg[1 + n] == '\0'))
                k = i;
        }
    RSTAT_ADD(w, errcodes[k], 1);
    uint8_t cmd = s != NULL ? s->cmd : rc->cur_cmd;
    if (cmd != 0 && cmd <= RCMD_MAX) CSTAT_ADD(w, cmd - 1, failed, 1);
}

void
rstat_slot_done(struct rconn *rc, const struct rslot *s)
{
    if (s->cmd == 0 || s->cmd > RCMD_MAX) return;
    uint64_t now = uv_hrtime();
    CSTAT_ADD(rc->w, s->cmd - 1, usec, now > s->t0 ? (now - s->t0) / 1000 : 0);
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

int
rstat_commandstats(struct proxy *p, struct buf *t)
{
    int e = 0;
    for (size_t i = 0; i < rcmd_count && i < RCMD_MAX; i++) {
        struct rcmd_stat c = {0};
        for (unsigned j = 0; j < p->nworkers; j++) {
            const struct rcmd_stat *x = &p->workers[j].rstats.cmd[i];
            c.calls += LOAD(x->calls), c.usec += LOAD(x->usec);
            c.rejected += LOAD(x->rejected), c.failed += LOAD(x->failed);
        }
        if (c.calls == 0 && c.rejected == 0) continue; /* as Redis: commands used */
        e |= rinfo_addf(t,
                        "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                        "failed_calls=%llu\r\n",
                        rcmd_table[i].name, (unsigned long long)c.calls, (unsigned long long)c.usec,
                        c.calls ? (double)c.usec / (double)c.calls : 0.0,
                        (unsigned long long)c.rejected, (unsigned long long)c.failed);
    }
    return e;
}

int
rstat_errorstats(struct proxy *p, struct buf *t)
{
    int e = 0;
    for (size_t k = 0; k < RSTAT_ERR_CODES; k++) {
        uint64_t n = 0;
        for (unsigned j = 0; j < p->nworkers; j++) n += LOAD(p->workers[j].rstats.errcodes[k]);
        if (n) e |= rinfo_addf(t, "errorstat_%s:count=%llu\r\n", codes[k], (unsigned long long)n);
    }
    return e;
}
