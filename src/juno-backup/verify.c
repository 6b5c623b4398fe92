/* verify.c: juno-backup verify DIR, and reading a backup (also restore's).
 *
 *   DIR/manifest.json parsed and checked (lib/bmanifest) ──► DIR/map.json a
 *   valid map of the manifest's version and shard count ──► per store: every
 *   file listed there with its size ──► the checkpoint opened read-only and
 *   read through (lib/ckpt): every shard's records, tombstones, bytes and
 *   hash equal to the manifest's, and no shard it does not list
 */
#include "jbak.h"

#include "ckpt.h"
#include "cli.h"
#include "error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void
backup_store_path(const struct jbak *b, const struct bm_store *st, char *out, size_t cap)
{
    snprintf(out, cap, "%s/stores/%s", b->dir, st->dir);
}

int
backup_load(struct jbak *b, struct bmanifest *m)
{
    char path[4200], err[600];
    char *text;
    size_t len;
    snprintf(path, sizeof(path), "%s/manifest.json", b->dir);
    int rc = cli_read_file(path, BM_MAX_JSON, &text, &len);
    if (rc != 0) {
        cli_error("unable to read %s: %s%s", path, error_str(rc),
                  rc == JUNO_ENOENT ? " (not a finished backup)" : "");
        return rc == JUNO_EMSGSIZE ? EX_DATAERR : EX_IOERR;
    }
    rc = bmanifest_parse(text, len, m, err, sizeof(err));
    free(text);
    if (rc != 0) {
        cli_error("unable to use %s: %s", path, rc == JUNO_ENOMEM ? "out of memory" : err);
        return rc == JUNO_ENOMEM ? EX_SOFTWARE : EX_DATAERR;
    }
    snprintf(path, sizeof(path), "%s/map.json", b->dir);
    if ((rc = cli_read_file(path, MAP_MAX_JSON, &text, &len)) != 0) {
        cli_error("unable to read %s: %s", path, error_str(rc));
        bmanifest_deinit(m);
        return EX_IOERR;
    }
    struct map *map;
    rc = map_parse(text, len, &map, err, sizeof(err));
    free(text);
    if (rc == 0 && (map->version != m->map_version || map->shards != m->shards)) {
        snprintf(err, sizeof(err), "version %llu with %u shards, the manifest says %llu and %u",
                 (unsigned long long)map->version, map->shards, (unsigned long long)m->map_version,
                 m->shards);
        rc = JUNO_EBADDATA;
    }
    if (rc == 0) map_destroy(map);
    if (rc != 0) {
        cli_error("unable to use %s: %s", path, err);
        bmanifest_deinit(m);
        return EX_DATAERR;
    }
    return 0;
}

size_t
backup_check_files(struct jbak *b, const struct bm_store *st)
{
    char dir[4400], path[4700];
    backup_store_path(b, st, dir, sizeof(dir));
    size_t bad = 0;
    for (size_t i = 0; i < st->nfiles; i++) {
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", dir, st->files[i].name);
        if (stat(path, &sb) != 0) {
            cli_error("unable to verify %s: %s", path, strerror(errno));
            bad++;
        } else if ((uint64_t)sb.st_size != st->files[i].size) {
            cli_error("unable to verify %s: %llu bytes, the manifest says %llu", path,
                      (unsigned long long)sb.st_size, (unsigned long long)st->files[i].size);
            bad++;
        }
    }
    return bad;
}

/* Read one checkpoint through and compare its shards with the manifest.
 * Returns the number of problems (printed). */
static size_t
check_contents(struct jbak *b, const struct bm_store *st, uint64_t *records)
{
    char dir[4400], err[600];
    backup_store_path(b, st, dir, sizeof(dir));
    struct ckpt *c;
    if (ckpt_open(dir, &c, err, sizeof(err)) != 0) {
        cli_error("unable to open checkpoint %s: %s", dir, err);
        return 1;
    }
    struct ckpt_shard *got = malloc(CKPT_SHARDS * sizeof(*got));
    if (got == NULL) cli_die(EX_SOFTWARE, "out of memory");
    size_t bad = 0;
    if (ckpt_stats(c, got, err, sizeof(err)) != 0) {
        cli_error("unable to read checkpoint %s: %s", dir, err);
        bad++;
    }
    ckpt_close(c);
    size_t k = 0;
    for (uint32_t s = 0; bad == 0 && s < CKPT_SHARDS; s++) {
        const struct bm_shard *want =
            k < st->nshards && st->shards[k].shard == s ? &st->shards[k++] : NULL;
        const struct ckpt_shard *g = &got[s];
        *records += g->records;
        if (want == NULL && g->records == 0) continue;
        if (want == NULL || g->records != want->records || g->tombstones != want->tombstones ||
            g->bytes != want->bytes || g->hash != want->hash) {
            cli_error("unable to verify %s shard %u: %llu records, %llu tombstones, %llu bytes, "
                      "hash %016" PRIx64 "; the manifest says %llu, %llu, %llu, %016" PRIx64,
                      dir, s, (unsigned long long)g->records, (unsigned long long)g->tombstones,
                      (unsigned long long)g->bytes, g->hash,
                      (unsigned long long)(want ? want->records : 0),
                      (unsigned long long)(want ? want->tombstones : 0),
                      (unsigned long long)(want ? want->bytes : 0), want ? want->hash : 0);
            bad++;
        }
    }
    free(got);
    return bad;
}

int
verify_run(struct jbak *b)
{
    struct bmanifest m;
    int code = backup_load(b, &m);
    if (code != 0) return code;
    uint64_t t0 = report_now_ms(), records = 0;
    size_t bad_files = 0, bad_data = 0;
    for (size_t i = 0; i < m.nstores; i++) {
        const struct bm_store *st = &m.stores[i];
        size_t f = backup_check_files(b, st);
        size_t d = f ? 0 : check_contents(b, st, &records);
        bad_files += f;
        bad_data += d;
        jbak_event(b, f || d ? "mismatch" : "verified",
                   "\"zone\":\"%s\",\"node\":\"%s\",\"dir\":\"stores/%s\",\"files\":%zu,"
                   "\"shards\":%zu,\"problems\":%zu",
                   st->zone, st->node, st->dir, st->nfiles, st->nshards, f + d);
        jbak_progress(b, "verify", i + 1, m.nstores, records, 0, t0, i + 1 == m.nstores);
    }
    char q[8200];
    report_json_str(q, sizeof(q), (const uint8_t *)b->dir, strlen(b->dir));
    jbak_event(b, bad_files || bad_data ? "failed" : "ok",
               "\"dir\":%s,\"stores\":%zu,\"records\":%llu,\"problems\":%zu,\"seconds\":%.3f", q,
               m.nstores, (unsigned long long)records, bad_files + bad_data,
               (report_now_ms() - t0) / 1000.0);
    bmanifest_deinit(&m);
    return bad_data || bad_files ? EX_DATAERR : 0;
}
