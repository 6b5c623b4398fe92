/* fuzz_jstate.c: libFuzzer target for the flat state documents
 * (lib/jstate.c): juno-store's rejoin state file and juno-repair's saved
 * pass, read back after a restart.
 *
 * The input is one document, read twice: with juno-store's fields (those of
 * src/juno-store/rejoin.c) and with fields of every bound juno-repair's
 * saved pass uses (2^53 - 1, MAP_MAX_SHARDS, a flag). Each time it is
 * refused with JUNO_EBADDATA, or every field read is present with a value
 * within its bound or absent and untouched, and writing the fields out and
 * reading them back gives the same values. Anything else aborts.
 * Seeds: test/fuzz/seeds/fuzz_jstate/ (files both programs wrote, and
 * refused ones).
 */
#include "error.h"
#include "jstate.h"
#include "map.h"

#include <stdlib.h>
#include <string.h>

#define UNSET 0xa5a5a5a5a5a5a5a5ull /* never a valid value: absent fields keep it */
#define NMAX  8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const uint8_t *data, size_t size, const char *const *names, const uint64_t *max, size_t n)
{
    uint64_t v[NMAX], w[NMAX];
    struct jstate_field f[NMAX], g[NMAX];
    for (size_t i = 0; i < n; i++) {
        v[i] = w[i] = UNSET;
        f[i] = (struct jstate_field){names[i], max[i], &v[i], 0};
        g[i] = (struct jstate_field){names[i], max[i], &w[i], 0};
    }
    int rc = jstate_parse((const char *)data, size, f, n);
    if (rc != 0) {
        if (rc != JUNO_EBADDATA && rc != JUNO_ENOMEM) abort();
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (f[i].present ? v[i] > max[i] : v[i] != UNSET) abort();
        if (!f[i].present) v[i] = 0; /* what the programs start from */
    }
    char out[1024];
    int len = jstate_format(out, sizeof(out), f, n);
    if (len < 0 || jstate_parse(out, (size_t)len, g, n) != 0) abort();
    for (size_t i = 0; i < n; i++)
        if (w[i] != v[i] || !g[i].present) abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const store[] = {"last_served", "rejoining", "rejoining_since"};
    static const uint64_t store_max[] = {JSTATE_MAX_INT, 1, JSTATE_MAX_INT};
    static const char *const repair[] = {"pass",       "map_version", "shards",
                                         "next_shard", "done",        "started_ms"};
    static const uint64_t repair_max[] = {
        JSTATE_MAX_INT, JSTATE_MAX_INT, MAP_MAX_SHARDS, MAP_MAX_SHARDS, 1, JSTATE_MAX_INT};
    check(data, size, store, store_max, 3);
    check(data, size, repair, repair_max, 6);
    return 0;
}
