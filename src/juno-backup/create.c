/* create.c: juno-backup create DIR.
 *
 *   the live map (no migration under way) ──► every store of every zone makes
 *   a RocksDB checkpoint in DIR/stores/<zone>.<node> (Checkpoint, all at
 *   once) and reads it back for its files and per-shard figures ──► the map
 *   again: still the same version, still no migration ──► DIR/map.json,
 *   DIR/manifest.json (written last: a directory without one is no backup)
 *
 * Every zone is taken, not one: a write acknowledged by W of the N replicas
 * may have missed any one zone, so one zone's copy holds every
 * acknowledged write only right after a repair, and only if no write came
 * since. A checkpoint flushes the store's memtables first, so each one
 * holds every write its store applied before the Checkpoint arrived, and
 * every write acknowledged before the backup began is in W of them.
 */
#include "jbak.h"

#include "calls.h"
#include "cli.h"
#include "error.h"

#include <cjson/cJSON.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) == 0 ? 0 : 0; /* best effort */
}

/* Remove what this run made (a failed backup is no backup). */
static void
discard(struct jbak *b, const char *abs)
{
    nftw(abs, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    char q[8200];
    report_json_str(q, sizeof(q), (const uint8_t *)b->dir, strlen(b->dir));
    jbak_event(b, "discarded", "\"dir\":%s", q);
}

/* A directory name for a store: its zone and node, [A-Za-z0-9._-] only. */
static void
store_dir(const char *zone, const char *node, uint32_t z, uint32_t i, char *out, size_t cap)
{
    snprintf(out, cap, "%s.%s", zone, node);
    int changed = 0;
    for (char *p = out; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            *p = '_', changed = 1;
    }
    if (changed || !bmanifest_name_ok(out)) snprintf(out, cap, "zone%u.node%u", z, i);
}

static int
map_exit(int rc)
{
    return rc == JUNO_EBADMAP ? EX_DATAERR : rc == JUNO_ENOMEM ? EX_SOFTWARE : EX_UNAVAILABLE;
}

int
create_run(struct jbak *b)
{
    char err[1200];
    struct map *map;
    int rc = livemap_map(&b->lm, &map, err, sizeof(err));
    if (rc != 0) cli_die(map_exit(rc), "unable to read the map: %s", err);
    if ((rc = livemap_migrating(&b->lm, err, sizeof(err))) != 0)
        cli_die(rc < 0 ? EX_UNAVAILABLE : EX_TEMPFAIL, "unable to back up: %s",
                rc < 0 ? err : "a migration is under way (juno-migrate): back up once it is done");
    if (mkdir(b->dir, 0755) != 0)
        cli_die(EX_IOERR, "unable to create %s: %s%s", b->dir, strerror(errno),
                errno == EEXIST ? " (a backup goes to a new directory)" : "");
    char abs[PATH_MAX], path[PATH_MAX + 300];
    if (realpath(b->dir, abs) == NULL)
        cli_die(EX_IOERR, "unable to resolve %s: %s", b->dir, strerror(errno));
    snprintf(path, sizeof(path), "%s/stores", abs);
    if (mkdir(path, 0755) != 0) cli_die(EX_IOERR, "unable to create %s: %s", path, strerror(errno));

    size_t n = 0;
    for (uint32_t z = 0; z < map->nzones; z++) n += map->zones[z].nnodes;
    struct call *calls = calloc(n, sizeof(*calls));
    char(*dirs)[BM_NAME_MAX + 1] = calloc(n, BM_NAME_MAX + 1);
    char(*reqs)[PATH_MAX + 600] = calloc(n, PATH_MAX + 600);
    if (calls == NULL || dirs == NULL || reqs == NULL) cli_die(EX_SOFTWARE, "out of memory");
    size_t k = 0;
    for (uint32_t z = 0; z < map->nzones; z++) {
        for (uint32_t i = 0; i < map->zones[z].nnodes; i++, k++) {
            const struct map_node *nd = &map->zones[z].nodes[i];
            store_dir(map->zones[z].name, nd->name, z, i, dirs[k], sizeof(dirs[k]));
            cJSON *o = cJSON_CreateObject();
            snprintf(path, sizeof(path), "%s/stores/%s", abs, dirs[k]);
            cJSON_AddStringToObject(o, "dir", path);
            if (!cJSON_PrintPreallocated(o, reqs[k], PATH_MAX + 600, 0))
                cli_die(EX_SOFTWARE, "out of memory");
            cJSON_Delete(o);
            calls[k].addr = nd->addr;
            calls[k].req.opcode = WIRE_OP_CHECKPOINT;
            calls[k].req.value.ptr = (const uint8_t *)reqs[k];
            calls[k].req.value.len = strlen(reqs[k]);
        }
    }
    uint64_t started = report_wall_ms(), t0 = report_now_ms();
    char qdir[8200];
    report_json_str(qdir, sizeof(qdir), (const uint8_t *)abs, strlen(abs));
    jbak_event(b, "start", "\"dir\":%s,\"map_version\":%llu,\"stores\":%zu", qdir,
               (unsigned long long)map->version, n);
    calls_run(calls, n, b->timeout_ms); /* every store at once */
    int code = 0;
    cJSON *man = cJSON_CreateObject(), *stores = cJSON_CreateArray();
    cJSON_AddNumberToObject(man, "format", BM_FORMAT);
    cJSON_AddStringToObject(man, "cluster", map->cluster);
    cJSON_AddNumberToObject(man, "map_version", (double)map->version);
    cJSON_AddNumberToObject(man, "shards", map->shards);
    cJSON_AddNumberToObject(man, "started_ms", (double)started);
    uint64_t records = 0, bytes = 0;
    k = 0;
    for (uint32_t z = 0; z < map->nzones; z++) {
        for (uint32_t i = 0; i < map->zones[z].nnodes; i++, k++) {
            struct call *c = &calls[k];
            const struct map_node *nd = &map->zones[z].nodes[i];
            cJSON *r = c->rc == 0 ? cJSON_ParseWithLength((const char *)c->value, c->vlen) : NULL;
            if (c->rc != 0 || c->status != WIRE_ST_OK || r == NULL) {
                const cJSON *why = cJSON_GetObjectItemCaseSensitive(r, "error");
                cli_error("unable to checkpoint store %s (zone %s, node %s): %s", nd->addr,
                          map->zones[z].name, nd->name,
                          c->rc                 ? calls_why(c)
                          : cJSON_IsString(why) ? why->valuestring
                                                : wire_status_name(c->status));
                if (code == 0)
                    code = c->rc || c->status == WIRE_ST_NOT_SUPPORTED ? EX_UNAVAILABLE
                           : r == NULL && c->status == WIRE_ST_OK      ? EX_PROTOCOL
                                                                       : EX_TEMPFAIL;
                cJSON_Delete(r);
                continue;
            }
            cJSON *st = cJSON_CreateObject(), *owned = cJSON_CreateArray();
            cJSON_AddStringToObject(st, "zone", map->zones[z].name);
            cJSON_AddStringToObject(st, "node", nd->name);
            cJSON_AddStringToObject(st, "addr", nd->addr);
            cJSON_AddStringToObject(st, "dir", dirs[k]);
            for (uint32_t s = 0; s < map->shards; s++)
                if (map->zones[z].owners[s] == i)
                    cJSON_AddItemToArray(owned, cJSON_CreateNumber(s));
            cJSON_AddItemToObject(st, "owned", owned);
            static const char *const keep[] = {"records", "bytes", "files", "shards"};
            for (size_t x = 0; x < 4; x++) {
                cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(r, keep[x]);
                if (v != NULL) cJSON_AddItemToObject(st, keep[x], v);
            }
            const cJSON *nr = cJSON_GetObjectItemCaseSensitive(st, "records");
            const cJSON *nb = cJSON_GetObjectItemCaseSensitive(st, "bytes");
            records += cJSON_IsNumber(nr) ? (uint64_t)nr->valuedouble : 0;
            bytes += cJSON_IsNumber(nb) ? (uint64_t)nb->valuedouble : 0;
            jbak_event(b, "checkpoint",
                       "\"zone\":\"%s\",\"node\":\"%s\",\"store\":\"%s\",\"dir\":\"stores/%s\","
                       "\"records\":%.0f,\"ms\":%.0f",
                       map->zones[z].name, nd->name, nd->addr, dirs[k],
                       cJSON_IsNumber(nr) ? nr->valuedouble : 0,
                       cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, "ms"))
                           ? cJSON_GetObjectItemCaseSensitive(r, "ms")->valuedouble
                           : 0);
            cJSON_AddItemToArray(stores, st);
            cJSON_Delete(r);
        }
    }
    calls_clear(calls, n);
    free(calls), free(dirs), free(reqs);
    cJSON_AddNumberToObject(man, "finished_ms", (double)report_wall_ms());
    cJSON_AddItemToObject(man, "stores", stores);
    if (code == 0) { /* the map must not have moved under the checkpoints */
        struct map *after = NULL;
        int m = livemap_map(&b->lm, &after, err, sizeof(err));
        int mig = m == 0 ? livemap_migrating(&b->lm, err, sizeof(err)) : 0;
        if (m != 0 || mig < 0) {
            cli_error("unable to read the map again: %s", err);
            code = EX_UNAVAILABLE;
        } else if (after->version != map->version || mig > 0) {
            cli_error("unable to back up: the map changed (version %llu to %llu) or a migration "
                      "began during the backup: run it again",
                      (unsigned long long)map->version, (unsigned long long)after->version);
            code = EX_TEMPFAIL;
        }
        map_destroy(after);
    }
    char *text = code == 0 ? cJSON_Print(man) : NULL;
    cJSON_Delete(man);
    struct bmanifest check;
    if (code == 0 &&
        (text == NULL || bmanifest_parse(text, strlen(text), &check, err, sizeof(err)) != 0)) {
        cli_error("unable to write the manifest: %s", text ? err : "out of memory");
        code = text ? EX_PROTOCOL : EX_SOFTWARE; /* a store's answer we cannot describe */
    } else if (code == 0) {
        bmanifest_deinit(&check);
    }
    size_t mlen;
    char *mjson = code == 0 ? map_to_json(map, &mlen) : NULL;
    if (code == 0) {
        snprintf(path, sizeof(path), "%s/map.json", abs);
        rc = mjson ? cli_write_file(path, mjson, mlen) : JUNO_ENOMEM;
        if (rc == 0) {
            snprintf(path, sizeof(path), "%s/manifest.json", abs);
            rc = cli_write_file(path, text, strlen(text));
        }
        if (rc != 0) {
            cli_error("unable to write %s: %s", path, error_str(rc));
            code = EX_IOERR;
        }
    }
    free(mjson);
    free(text);
    if (code != 0) {
        discard(b, abs);
    } else {
        jbak_event(b, "created",
                   "\"dir\":%s,\"map_version\":%llu,\"stores\":%zu,\"records\":%llu,"
                   "\"bytes\":%llu,\"seconds\":%.3f",
                   qdir, (unsigned long long)map->version, n, (unsigned long long)records,
                   (unsigned long long)bytes, (report_now_ms() - t0) / 1000.0);
    }
    map_destroy(map);
    return code;
}
