/* resp_kscount.c: the keyspace counts INFO shows (resp_info.c), kept per
 * namespace for every connection of the process.
 *
 * A count reads the whole namespace (rkeys_count, as DBSIZE), and clients
 * ask INFO often: dashboards poll it, and ioredis sends INFO on every
 * connect. So a count younger than KSCOUNT_FRESH_MS is shown as it is; an
 * older one is taken again by the INFO that finds it old, and while that
 * count runs, other INFOs show the older one at once. At most one count of
 * a namespace runs at a time, except before its first count ends (every
 * INFO then counts, as none has anything to show).
 */
#include "resp_face.h"

#include <stdio.h>
#include <string.h>

#define KSCOUNT_FRESH_MS 5000
#define KSCOUNT_SLOTS    8 /* namespaces remembered, the least recently counted replaced */

static struct {
    char ns[256];
    int used, busy, have;
    uint64_t t_ms, keys, ttls; /* the last count, taken at t_ms */
} slots[KSCOUNT_SLOTS];
static uv_mutex_t lock;
static uv_once_t once = UV_ONCE_INIT;

static void
init(void)
{
    uv_mutex_init(&lock);
}

/* ns's slot, made if needed (an unused one, else the least recently counted
 * one not being counted); -1 for a namespace too long to keep, or when
 * every slot is being counted. Under lock. */
static int
slot_of(const char *ns)
{
    if (strlen(ns) >= sizeof(slots[0].ns)) return -1;
    int at = -1;
    for (int i = 0; i < KSCOUNT_SLOTS; i++)
        if (slots[i].used && strcmp(slots[i].ns, ns) == 0) return i;
    for (int i = 0; i < KSCOUNT_SLOTS && at < 0; i++)
        if (!slots[i].used) at = i;
    if (at < 0)
        for (int i = 0; i < KSCOUNT_SLOTS; i++)
            if (!slots[i].busy && (at < 0 || slots[i].t_ms < slots[at].t_ms)) at = i;
    if (at < 0) return -1;
    memset(&slots[at], 0, sizeof(slots[at]));
    snprintf(slots[at].ns, sizeof(slots[at].ns), "%s", ns);
    slots[at].used = 1;
    return at;
}

int
kscount_claim(const char *ns, struct kscount *c)
{
    uv_once(&once, init);
    uint64_t t = uv_hrtime() / 1000000;
    memset(c, 0, sizeof(*c));
    uv_mutex_lock(&lock);
    int i = slot_of(ns), r = KS_COUNT;
    if (i >= 0 && slots[i].have) {
        c->have = 1, c->keys = slots[i].keys, c->ttls = slots[i].ttls;
        if (t - slots[i].t_ms <= KSCOUNT_FRESH_MS || slots[i].busy) r = KS_USE;
    }
    if (i >= 0 && r == KS_COUNT) slots[i].busy = 1;
    uv_mutex_unlock(&lock);
    return r;
}

void
kscount_done(const char *ns, int ok, uint64_t keys, uint64_t ttls, struct kscount *c)
{
    uv_once(&once, init);
    memset(c, 0, sizeof(*c));
    uv_mutex_lock(&lock);
    int i = slot_of(ns);
    if (i >= 0) {
        slots[i].busy = 0;
        if (ok) {
            slots[i].have = 1;
            slots[i].t_ms = uv_hrtime() / 1000000;
            slots[i].keys = keys;
            slots[i].ttls = ttls;
        }
        if (slots[i].have) c->have = 1, c->keys = slots[i].keys, c->ttls = slots[i].ttls;
    }
    uv_mutex_unlock(&lock);
    if (i < 0 && ok) c->have = 1, c->keys = keys, c->ttls = ttls;
}
