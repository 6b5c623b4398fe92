/* fix.c: the records whose copies differ, and what is done about them.
 *
 * The rule is read repair's: the newest copy wins (LastModificationTime,
 * then Version), a tombstone like any record, so a newer tombstone wins and
 * a deleted key stays deleted. The newest copy is read (Read) from a replica
 * that has it and written with Repair to every replica whose copy is
 * missing or older. A Repair is "write if newer", decided on the store's
 * writer thread against every other write: a record a client wrote after
 * the Read is never replaced by the older copy (the store answers Ok
 * without metadata and the newer copy stands). Each Repair carries its own
 * request id, so it never releases a proxy's record lock.
 *
 * A rejoining store (away longer than its --rejoin-after) is never a
 * source: it is made equal to the newest copy among the other replicas.
 * What they do not have at all it deletes (a key whose tombstone they have
 * purged meanwhile, or a write that failed); a copy it holds newer than
 * theirs is deleted before their newest is written. Only when every
 * replica rejoins is the ordinary rule used among them.
 */
#include "jrep.h"

#include "client.h"
#include "error.h"
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum action { A_NONE = 0, A_REPAIR, A_DELETE, A_DELETE_REPAIR };

struct rec {
    struct fix_copy *row; /* borrowed: [nrep] */
    int src;              /* the replica the newest copy is read from, or -1 */
    uint8_t act[JREP_MAX_ZONES];
    int conflict;
    /* the newest copy as read */
    int fetched; /* 1 live, 2 tombstone, 0 not (gone, failed) */
    struct call *read;
};

static int
newer(const struct htree_entry *a, const struct htree_entry *b)
{
    struct record_meta x = {.version = a->version, .last_modified = a->last_modified};
    struct record_meta y = {.version = b->version, .last_modified = b->last_modified};
    return record_cmp(&x, &y);
}

/* Choose the source and each replica's action. */
static void
decide(struct rec *rc, const struct fix_replica *rep, size_t nrep)
{
    int healthy = 0;
    for (size_t r = 0; r < nrep; r++) healthy |= rep[r].ok && !rep[r].rejoining;
    rc->src = -1;
    for (size_t r = 0; r < nrep; r++) { /* the newest copy among the sources */
        if (!rep[r].ok || !rc->row[r].present || (healthy && rep[r].rejoining)) continue;
        if (rc->src < 0 || newer(&rc->row[r].e, &rc->row[rc->src].e) > 0) rc->src = (int)r;
    }
    const struct htree_entry *best = rc->src >= 0 ? &rc->row[rc->src].e : NULL;
    for (size_t r = 0; r < nrep; r++) {
        const struct fix_copy *c = &rc->row[r];
        rc->act[r] = A_NONE;
        if (!rep[r].ok) continue;
        if (best == NULL) { /* only rejoining stores have it: they delete it */
            if (c->present) rc->act[r] = A_DELETE;
            continue;
        }
        if (!c->present) {
            rc->act[r] = A_REPAIR;
            continue;
        }
        int cmp = newer(&c->e, best);
        if (cmp < 0) {
            rc->act[r] = A_REPAIR;
        } else if (cmp > 0) { /* newer than every source: a rejoining store's */
            rc->act[r] = A_DELETE_REPAIR;
        } else if (c->e.digest != best->digest || c->e.flags != best->flags) {
            if (rep[r].rejoining && healthy)
                rc->act[r] = A_DELETE_REPAIR;
            else
                rc->conflict = 1; /* same version and stamp, other content: no newest */
        }
    }
}

/* "live,v3,lm=N" for a copy, or "absent". */
static void
copy_text(const struct fix_copy *c, char *buf, size_t cap)
{
    if (!c->present)
        snprintf(buf, cap, "absent");
    else
        snprintf(buf, cap, "%s,v%u,lm=%llu",
                 (c->e.flags & HTREE_E_TOMBSTONE) ? "tombstone" : "live", c->e.version,
                 (unsigned long long)c->e.last_modified);
}

/* The record on stdout (text with --dry-run or --verbose) or as a JSON event. */
static void
report(struct jrep *j, uint32_t shard, const struct rec *rc, const struct fix_replica *rep,
       size_t nrep, const char *outcome)
{
    const struct htree_entry *e = NULL;
    for (size_t r = 0; r < nrep && e == NULL; r++)
        if (rc->row[r].present) e = &rc->row[r].e;
    if (e == NULL) return;
    static char ns[1200], key[6 * 65536 + 8]; /* every byte escaped, at worst */
    progress_key(ns, sizeof(ns), e->ns, e->nslen, j->json);
    progress_key(key, sizeof(key), e->key, e->klen, j->json);
    char newest[2 * MAP_NAME_MAX + 8] = "none";
    if (rc->src >= 0)
        snprintf(newest, sizeof(newest), "%s/%s", rep[rc->src].zone, rep[rc->src].node);
    static const char *const acts[] = {"none", "repair", "delete", "delete+repair"};
    if (j->json) {
        char reps[JREP_MAX_ZONES * 400];
        size_t off = 0;
        for (size_t r = 0; r < nrep; r++) {
            const struct fix_copy *c = &rc->row[r];
            off += (size_t)snprintf(
                reps + off, sizeof(reps) - off,
                "%s{\"zone\":\"%s\",\"node\":\"%s\",\"store\":\"%s\",\"state\":\"%s\"",
                r ? "," : "", rep[r].zone, rep[r].node, rep[r].addr,
                !rep[r].ok                         ? "unknown"
                : !c->present                      ? "absent"
                : (c->e.flags & HTREE_E_TOMBSTONE) ? "tombstone"
                                                   : "live");
            if (c->present)
                off += (size_t)snprintf(reps + off, sizeof(reps) - off,
                                        ",\"version\":%u,\"last_modified\":%llu", c->e.version,
                                        (unsigned long long)c->e.last_modified);
            off += (size_t)snprintf(reps + off, sizeof(reps) - off, ",\"action\":\"%s\"}",
                                    acts[rc->act[r]]);
        }
        progress_event(j, "difference",
                       "\"shard\":%u,\"namespace\":%s,\"key\":%s,\"newest\":\"%s\",\"conflict\":%s,"
                       "\"outcome\":\"%s\",\"replicas\":[%s]",
                       shard, ns, key, newest, rc->conflict ? "true" : "false", outcome, reps);
        return;
    }
    if (!j->dry_run && !j->verbose) return;
    printf("%s shard=%u namespace=%s key=%s", j->dry_run ? "differs" : outcome, shard, ns, key);
    for (size_t r = 0; r < nrep; r++) {
        char t[96];
        copy_text(&rc->row[r], t, sizeof(t));
        printf(" %s/%s=%s", rep[r].zone, rep[r].node, rep[r].ok ? t : "unknown");
    }
    printf(" newest=%s%s\n", newest, rc->conflict ? " conflict" : "");
}

/* Fill a keyed request for record e of shard. */
static void
keyed(struct call *k, const char *addr, int opcode, uint32_t shard, const struct htree_entry *e)
{
    memset(k, 0, sizeof(*k));
    k->addr = addr;
    k->req.opcode = (uint8_t)opcode;
    k->req.shard_id = (uint16_t)shard;
    k->req.ns.ptr = e->ns;
    k->req.ns.len = e->nslen;
    k->req.key.ptr = e->key;
    k->req.key.len = e->klen;
    uint8_t rid[16];
    if (opcode != WIRE_OP_READ && client_new_request_id(rid) == 0)
        wire_meta_set_request_id(&k->req.meta, rid); /* our own: no proxy's lock released */
}

static const struct htree_entry *
any_entry(const struct rec *rc, size_t nrep)
{
    for (size_t r = 0; r < nrep; r++)
        if (rc->row[r].present) return &rc->row[r].e;
    return NULL;
}

/* A failed write: counted, and reported once per store and kind. */
static void
write_failed(struct jrep *j, uint32_t shard, const struct fix_replica *rep, const struct call *k)
{
    j->n.failed++;
    const char *why = calls_why(k);
    if (k->rc == 0 && k->status == WIRE_ST_SS_OUT_OF_RESOURCE) why = "disk full (SSOutofResource)";
    progress_event(j, "refused",
                   "\"shard\":%u,\"zone\":\"%s\",\"node\":\"%s\",\"store\":\"%s\",\"op\":\"%s\","
                   "\"error\":\"%s\"",
                   shard, rep->zone, rep->node, rep->addr, wire_opcode_name(k->req.opcode), why);
}

int
fix_records(struct jrep *j, uint32_t shard, struct fix_replica *rep, size_t nrep,
            struct fix_copy *copies, size_t nrecords)
{
    struct rec *recs = calloc(nrecords, sizeof(*recs));
    struct call *reads = calloc(nrecords, sizeof(*reads));
    struct call *writes = calloc(nrecords * nrep, sizeof(*writes));
    size_t *who = calloc(nrecords * nrep, sizeof(*who)); /* a write's record and replica */
    if (recs == NULL || reads == NULL || writes == NULL || who == NULL) {
        free(recs), free(reads), free(writes), free(who);
        return 1;
    }
    int incomplete = 0;
    size_t nreads = 0;
    for (size_t i = 0; i < nrecords; i++) {
        struct rec *rc = &recs[i];
        rc->row = &copies[i * nrep];
        decide(rc, rep, nrep);
        j->n.records++;
        if (rc->conflict) j->n.conflicts++;
        if (j->dry_run) {
            report(j, shard, rc, rep, nrep, "listed");
            continue;
        }
        int need = 0;
        for (size_t r = 0; r < nrep; r++)
            need |= rc->act[r] == A_REPAIR || rc->act[r] == A_DELETE_REPAIR;
        if (!need) continue;
        rc->read = &reads[nreads++];
        keyed(rc->read, rep[rc->src].addr, WIRE_OP_READ, shard, &rc->row[rc->src].e);
        if (rep[rc->src].rejoining) rc->read->req.flags = WIRE_FLAG_REPAIR_READ; /* all rejoin */
    }
    if (j->dry_run) goto out;
    calls_run(reads, nreads, j->timeout_ms);
    for (size_t i = 0; i < nrecords; i++) {
        struct rec *rc = &recs[i];
        struct call *k = rc->read;
        if (k == NULL) continue;
        if (k->rc == 0 && k->status == WIRE_ST_OK)
            rc->fetched = 1;
        else if (k->rc == 0 && k->status == WIRE_ST_MARKED_DELETE)
            rc->fetched = 2;
        else if (k->rc != 0 || k->status != WIRE_ST_NO_KEY)
            incomplete = 1; /* NoKey: it expired meanwhile; anything else failed */
        if (rc->fetched && !wire_meta_has(&k->meta, WIRE_F_LAST_MODIFIED)) rc->fetched = 0;
    }
    /* first the deletions on rejoining stores, then the copies */
    for (int round = 0; round < 2; round++) {
        size_t nw = 0;
        for (size_t i = 0; i < nrecords; i++) {
            struct rec *rc = &recs[i];
            const struct htree_entry *e = any_entry(rc, nrep);
            for (size_t r = 0; r < nrep && e != NULL; r++) {
                uint8_t a = rc->act[r];
                if (round == 0 && (a == A_DELETE || (a == A_DELETE_REPAIR && rc->fetched))) {
                    keyed(&writes[nw], rep[r].addr, WIRE_OP_DELETE, shard, e);
                } else if (round == 1 && rc->fetched && (a == A_REPAIR || a == A_DELETE_REPAIR)) {
                    struct call *k = &writes[nw];
                    keyed(k, rep[r].addr, WIRE_OP_REPAIR, shard, e);
                    const struct wire_meta *m = &rc->read->meta;
                    wire_meta_set_u32(&k->req.meta, WIRE_F_VERSION, m->version);
                    wire_meta_set_u32(&k->req.meta, WIRE_F_CREATION_TIME, m->creation_time);
                    wire_meta_set_expiration(&k->req.meta, wire_meta_expiration(m));
                    wire_meta_set_last_modified(&k->req.meta, m->last_modified);
                    if (wire_meta_has(m, WIRE_F_ORIGINATOR_ID))
                        wire_meta_set_originator_id(&k->req.meta, m->originator_id);
                    if (rc->fetched == 2) {
                        k->req.flags = WIRE_FLAG_MARK_DELETE;
                    } else {
                        k->req.value_type = rc->read->value_type;
                        k->req.value.ptr = rc->read->value;
                        k->req.value.len = rc->read->vlen;
                    }
                } else {
                    continue;
                }
                who[nw++] = i * nrep + r;
            }
        }
        if (round == 1 && j->pause_ms > 0 && nw > 0) { /* a test writes in this window */
            progress_event(j, "pause", "\"shard\":%u,\"ms\":%d", shard, j->pause_ms);
            struct timespec ts = {j->pause_ms / 1000, (long)(j->pause_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        calls_run(writes, nw, j->timeout_ms);
        for (size_t w = 0; w < nw; w++) {
            struct call *k = &writes[w];
            size_t i = who[w] / nrep, r = who[w] % nrep;
            if (k->rc != 0 || k->status != WIRE_ST_OK) {
                write_failed(j, shard, &rep[r], k);
                recs[i].act[r] = A_NONE;
                incomplete = 1;
                continue;
            }
            if (round == 0) {
                j->n.deleted++;
            } else if (wire_meta_has(&k->meta, WIRE_F_VERSION)) {
                j->n.repaired++; /* applied: the store answers with the record written */
            } else {
                j->n.newer_stood++; /* not newer than what the store holds: it stands */
            }
        }
        calls_clear(writes, nw);
    }
    for (size_t i = 0; i < nrecords; i++)
        report(j, shard, &recs[i], rep, nrep,
               recs[i].conflict                   ? "conflict"
               : recs[i].read && !recs[i].fetched ? "gone"
                                                  : "repaired");
out:
    for (size_t i = 0; i < nrecords; i++) incomplete |= recs[i].conflict;
    calls_clear(reads, nreads);
    free(recs), free(reads), free(writes), free(who);
    return incomplete;
}
