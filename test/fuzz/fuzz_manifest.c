/* fuzz_manifest.c: libFuzzer target for a backup's manifest reader
 * (lib/bmanifest.c), what juno-backup verify and restore read from disk.
 *
 * The input is a manifest. It is refused with a message, or it parses, and
 * then every name it holds is valid (a store's dir and file names can never
 * step out of the backup directory, and no two stores share a dir), its
 * shards (owned and held) are in range and increasing, and writing it out
 * and reading that back gives the same manifest again, field by field. Anything else aborts.
 * Seeds: test/fuzz/seeds/fuzz_manifest/ (manifests juno-backup wrote, and
 * broken ones).
 */
#include "bmanifest.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every field of a and b is the same. */
static void
same(const struct bmanifest *a, const struct bmanifest *b)
{
    if (a->format != b->format || a->nstores != b->nstores || a->shards != b->shards ||
        a->map_version != b->map_version || a->started_ms != b->started_ms ||
        a->finished_ms != b->finished_ms || strcmp(a->cluster, b->cluster) != 0)
        abort();
    for (size_t i = 0; i < a->nstores; i++) {
        const struct bm_store *x = &a->stores[i], *y = &b->stores[i];
        if (strcmp(x->zone, y->zone) || strcmp(x->node, y->node) || strcmp(x->addr, y->addr) ||
            strcmp(x->dir, y->dir) || x->records != y->records || x->bytes != y->bytes ||
            x->nowned != y->nowned || x->nfiles != y->nfiles || x->nshards != y->nshards)
            abort();
        for (size_t k = 0; k < x->nowned; k++)
            if (x->owned[k] != y->owned[k]) abort();
        for (size_t k = 0; k < x->nshards; k++) {
            const struct bm_shard *s = &x->shards[k], *t = &y->shards[k];
            if (s->shard != t->shard || s->records != t->records ||
                s->tombstones != t->tombstones || s->bytes != t->bytes || s->hash != t->hash)
                abort();
        }
        for (size_t k = 0; k < x->nfiles; k++)
            if (strcmp(x->files[k].name, y->files[k].name) || x->files[k].size != y->files[k].size)
                abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bmanifest m, again;
    char err[600];
    int rc = bmanifest_parse((const char *)data, size, &m, err, sizeof(err));
    if (rc != 0) {
        if (rc != JUNO_EBADDATA || err[0] == '\0') abort();
        return 0;
    }
    if (m.format != BM_FORMAT || map_name_valid(m.cluster) != 0 || m.map_version == 0 ||
        m.shards == 0 || m.shards > MAP_MAX_SHARDS || m.nstores == 0 || m.nstores > BM_MAX_STORES)
        abort();
    for (size_t i = 0; i < m.nstores; i++) {
        const struct bm_store *st = &m.stores[i];
        if (map_name_valid(st->zone) != 0 || map_name_valid(st->node) != 0 ||
            map_addr_valid(st->addr) != 0)
            abort();
        if (!bmanifest_name_ok(st->dir) || strchr(st->dir, '/')) abort();
        for (size_t k = 0; k < st->nfiles; k++)
            if (!bmanifest_name_ok(st->files[k].name)) abort();
        for (size_t k = 0; k < st->nshards; k++)
            if (st->shards[k].shard >= m.shards ||
                (k && st->shards[k].shard <= st->shards[k - 1].shard) ||
                st->shards[k].tombstones > st->shards[k].records)
                abort();
        for (size_t k = 0; k < st->nowned; k++)
            if (st->owned[k] >= m.shards || (k && st->owned[k] <= st->owned[k - 1])) abort();
        for (size_t k = 0; k < i; k++) /* restore makes one directory per store */
            if (strcmp(m.stores[k].dir, st->dir) == 0) abort();
    }
    char *json = bmanifest_to_json(&m);
    if (json == NULL) abort();
    if (bmanifest_parse(json, strlen(json), &again, err, sizeof(err)) != 0) abort();
    same(&m, &again);
    bmanifest_deinit(&again);
    bmanifest_deinit(&m);
    free(json);
    return 0;
}
