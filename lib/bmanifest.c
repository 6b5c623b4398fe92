/* bmanifest.c: a backup's manifest, read and written (bmanifest.h). */
#include "bmanifest.h"

#include "error.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_MAX 9007199254740991.0 /* 2^53 - 1: exact in a double */

int
bmanifest_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > BM_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

struct ctx {
    char *err;
    size_t errlen;
};

static int bad(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
bad(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return JUNO_EBADDATA;
}

/* A whole number in [0, max] (max <= 2^53 - 1). */
static int
get_u64(const cJSON *o, const char *name, double max, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > max ||
        floor(v->valuedouble) != v->valuedouble)
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static int
get_str(const cJSON *o, const char *name, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap) return -1;
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

static int
get_hash(const cJSON *o, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "hash");
    if (!cJSON_IsString(v) || strlen(v->valuestring) != 16) return -1;
    uint64_t h = 0;
    for (int i = 0; i < 16; i++) {
        char c = v->valuestring[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        h = h << 4 | (uint64_t)d;
    }
    *out = h;
    return 0;
}

static int
parse_store(struct ctx *c, const cJSON *o, const struct bmanifest *m, struct bm_store *st, size_t i)
{
    if (!cJSON_IsObject(o)) return bad(c, "store %zu is not an object", i + 1);
    if (get_str(o, "zone", st->zone, sizeof(st->zone)) || map_name_valid(st->zone) ||
        get_str(o, "node", st->node, sizeof(st->node)) || map_name_valid(st->node))
        return bad(c, "store %zu: \"zone\" and \"node\" must be valid names", i + 1);
    if (get_str(o, "addr", st->addr, sizeof(st->addr)) || map_addr_valid(st->addr))
        return bad(c, "store %zu: \"addr\" must be HOST:PORT", i + 1);
    if (get_str(o, "dir", st->dir, sizeof(st->dir)) || !bmanifest_name_ok(st->dir))
        return bad(c, "store %zu: \"dir\" must be a plain name ([A-Za-z0-9._-])", i + 1);
    if (get_u64(o, "records", EXACT_MAX, &st->records) ||
        get_u64(o, "bytes", EXACT_MAX, &st->bytes))
        return bad(c, "store %zu: \"records\" and \"bytes\" must be whole numbers", i + 1);
    const cJSON *owned = cJSON_GetObjectItemCaseSensitive(o, "owned");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(o, "files");
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(o, "shards");
    if (!cJSON_IsArray(owned) || !cJSON_IsArray(files) || !cJSON_IsArray(shards))
        return bad(c, "store %zu: \"owned\", \"files\" and \"shards\" must be arrays", i + 1);
    size_t no = (size_t)cJSON_GetArraySize(owned), nf = (size_t)cJSON_GetArraySize(files);
    size_t ns = (size_t)cJSON_GetArraySize(shards);
    if (no > m->shards || ns > m->shards || nf > BM_MAX_FILES)
        return bad(c, "store %zu: more shards or files than there can be", i + 1);
    st->owned = calloc(no ? no : 1, sizeof(*st->owned));
    st->files = calloc(nf ? nf : 1, sizeof(*st->files));
    st->shards = calloc(ns ? ns : 1, sizeof(*st->shards));
    if (st->owned == NULL || st->files == NULL || st->shards == NULL) return JUNO_ENOMEM;
    const cJSON *v;
    cJSON_ArrayForEach(v, owned)
    {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble >= m->shards ||
            floor(v->valuedouble) != v->valuedouble ||
            (st->nowned > 0 && (uint32_t)v->valuedouble <= st->owned[st->nowned - 1]))
            return bad(c, "store %zu: \"owned\" must list shards in increasing order", i + 1);
        st->owned[st->nowned++] = (uint32_t)v->valuedouble;
    }
    cJSON_ArrayForEach(v, files)
    {
        struct bm_file *f = &st->files[st->nfiles];
        if (!cJSON_IsObject(v) || get_str(v, "name", f->name, sizeof(f->name)) ||
            !bmanifest_name_ok(f->name) || get_u64(v, "size", EXACT_MAX, &f->size))
            return bad(c, "store %zu: file %zu needs a plain \"name\" and a \"size\"", i + 1,
                       st->nfiles + 1);
        st->nfiles++;
    }
    cJSON_ArrayForEach(v, shards)
    {
        struct bm_shard *s = &st->shards[st->nshards];
        uint64_t sh;
        if (!cJSON_IsObject(v) || get_u64(v, "shard", m->shards - 1, &sh) ||
            (st->nshards > 0 && sh <= st->shards[st->nshards - 1].shard) ||
            get_u64(v, "records", EXACT_MAX, &s->records) ||
            get_u64(v, "tombstones", EXACT_MAX, &s->tombstones) || s->tombstones > s->records ||
            get_u64(v, "bytes", EXACT_MAX, &s->bytes) || get_hash(v, &s->hash))
            return bad(c,
                       "store %zu: shard entry %zu needs \"shard\" (increasing), \"records\", "
                       "\"tombstones\", \"bytes\" and a 16-digit \"hash\"",
                       i + 1, st->nshards + 1);
        s->shard = (uint32_t)sh;
        st->nshards++;
    }
    return 0;
}

int
bmanifest_parse(const char *text, size_t len, struct bmanifest *m, char *err, size_t errlen)
{
    struct ctx c = {err, errlen};
    memset(m, 0, sizeof(*m));
    if (len > BM_MAX_JSON) return bad(&c, "larger than %u bytes", BM_MAX_JSON);
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (o == NULL || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return bad(&c, "not a JSON object");
    }
    uint64_t fmt = 0, shards = 0;
    int rc = 0;
    const cJSON *stores = cJSON_GetObjectItemCaseSensitive(o, "stores");
    if (get_u64(o, "format", 1e9, &fmt) || fmt != BM_FORMAT)
        rc = bad(&c, "\"format\" must be %d", BM_FORMAT);
    else if (get_str(o, "cluster", m->cluster, sizeof(m->cluster)) || map_name_valid(m->cluster))
        rc = bad(&c, "\"cluster\" must be a valid name");
    else if (get_u64(o, "map_version", EXACT_MAX, &m->map_version) || m->map_version == 0)
        rc = bad(&c, "\"map_version\" must be a version (1 or more)");
    else if (get_u64(o, "shards", MAP_MAX_SHARDS, &shards) || shards == 0)
        rc = bad(&c, "\"shards\" must be 1 to %d", MAP_MAX_SHARDS);
    else if (get_u64(o, "started_ms", EXACT_MAX, &m->started_ms) ||
             get_u64(o, "finished_ms", EXACT_MAX, &m->finished_ms))
        rc = bad(&c, "\"started_ms\" and \"finished_ms\" must be unix milliseconds");
    else if (!cJSON_IsArray(stores) || cJSON_GetArraySize(stores) < 1 ||
             cJSON_GetArraySize(stores) > BM_MAX_STORES)
        rc = bad(&c, "\"stores\" must be an array of 1 to %d stores", BM_MAX_STORES);
    m->format = (uint32_t)fmt;
    m->shards = (uint32_t)shards;
    if (rc == 0) {
        size_t n = (size_t)cJSON_GetArraySize(stores);
        if ((m->stores = calloc(n, sizeof(*m->stores))) == NULL) rc = JUNO_ENOMEM;
        const cJSON *v;
        cJSON_ArrayForEach(v, stores)
        {
            if (rc != 0) break;
            rc = parse_store(&c, v, m, &m->stores[m->nstores], m->nstores);
            m->nstores++;
        }
    }
    for (size_t i = 0; rc == 0 && i < m->nstores; i++)
        for (size_t k = 0; rc == 0 && k < i; k++)
            if (strcmp(m->stores[i].dir, m->stores[k].dir) == 0)
                rc = bad(&c, "stores %zu and %zu share the dir \"%s\"", k + 1, i + 1,
                         m->stores[i].dir);
    cJSON_Delete(o);
    if (rc != 0) bmanifest_deinit(m);
    return rc;
}

char *
bmanifest_to_json(const struct bmanifest *m)
{
    cJSON *o = cJSON_CreateObject(), *stores = cJSON_CreateArray();
    cJSON_AddNumberToObject(o, "format", m->format);
    cJSON_AddStringToObject(o, "cluster", m->cluster);
    cJSON_AddNumberToObject(o, "map_version", (double)m->map_version);
    cJSON_AddNumberToObject(o, "shards", m->shards);
    cJSON_AddNumberToObject(o, "started_ms", (double)m->started_ms);
    cJSON_AddNumberToObject(o, "finished_ms", (double)m->finished_ms);
    cJSON_AddItemToObject(o, "stores", stores);
    for (size_t i = 0; i < m->nstores; i++) {
        const struct bm_store *st = &m->stores[i];
        cJSON *s = cJSON_CreateObject(), *owned = cJSON_CreateArray();
        cJSON *files = cJSON_CreateArray(), *shards = cJSON_CreateArray();
        cJSON_AddStringToObject(s, "zone", st->zone);
        cJSON_AddStringToObject(s, "node", st->node);
        cJSON_AddStringToObject(s, "addr", st->addr);
        cJSON_AddStringToObject(s, "dir", st->dir);
        cJSON_AddNumberToObject(s, "records", (double)st->records);
        cJSON_AddNumberToObject(s, "bytes", (double)st->bytes);
        for (size_t k = 0; k < st->nowned; k++)
            cJSON_AddItemToArray(owned, cJSON_CreateNumber(st->owned[k]));
        for (size_t k = 0; k < st->nfiles; k++) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "name", st->files[k].name);
            cJSON_AddNumberToObject(f, "size", (double)st->files[k].size);
            cJSON_AddItemToArray(files, f);
        }
        for (size_t k = 0; k < st->nshards; k++) {
            const struct bm_shard *x = &st->shards[k];
            char hash[17];
            snprintf(hash, sizeof(hash), "%016" PRIx64, x->hash);
            cJSON *h = cJSON_CreateObject();
            cJSON_AddNumberToObject(h, "shard", x->shard);
            cJSON_AddNumberToObject(h, "records", (double)x->records);
            cJSON_AddNumberToObject(h, "tombstones", (double)x->tombstones);
            cJSON_AddNumberToObject(h, "bytes", (double)x->bytes);
            cJSON_AddStringToObject(h, "hash", hash);
            cJSON_AddItemToArray(shards, h);
        }
        cJSON_AddItemToObject(s, "owned", owned);
        cJSON_AddItemToObject(s, "files", files);
        cJSON_AddItemToObject(s, "shards", shards);
        cJSON_AddItemToArray(stores, s);
    }
    char *json = cJSON_Print(o);
    cJSON_Delete(o);
    return json;
}

void
bmanifest_deinit(struct bmanifest *m)
{
    for (size_t i = 0; m->stores != NULL && i < m->nstores; i++) {
        free(m->stores[i].owned);
        free(m->stores[i].files);
        free(m->stores[i].shards);
    }
    free(m->stores);
    memset(m, 0, sizeof(*m));
}
