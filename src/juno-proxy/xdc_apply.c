/* xdc_apply.c: a write replicated from another site, applied last-writer-wins
 * (the target side of xdc.h).
 *
 *   Set|Destroy flagged 0x01 ──► Repair of the originator's record (Destroy:
 *                                a tombstone, flags 0x02) to the key's replica
 *                                in every zone
 *        W answer 0 ──► Ok: each store kept it, or kept the newer copy it had
 *        too few can ──► NoStorageServer (SSOutofResource for a full disk):
 *                        the source retries
 *
 * The stores decide (Repair is put-if-newer by last-modified, then version,
 * on their single writer thread), so a replicated write racing a local one
 * ends with the newer of the two everywhere. The proxy's clock is moved past
 * the received stamp: a local write made after it is stamped later.
 */
#include "preq.h"
#include "xdc.h"

#include "log.h"

#include <string.h>

const char *
xdc_apply_check(const struct wire_msg *m)
{
    const struct wire_meta *wm = &m->meta;
    if (m->opcode != WIRE_OP_SET && m->opcode != WIRE_OP_DESTROY)
        return "a replicated write is a Set or a Destroy";
    if (!wire_meta_has(wm, WIRE_F_VERSION) || wm->version == 0) return "no Version";
    if (!wire_meta_has(wm, WIRE_F_LAST_MODIFIED) || wm->last_modified == 0)
        return "no LastModificationTime";
    if (!wire_meta_has(wm, WIRE_F_REQUEST_ID)) return "no RequestID";
    return NULL;
}

void
xdc_apply_init(struct preq *rq, const struct wire_msg *m)
{
    const struct wire_meta *wm = &m->meta;
    struct rmeta *o = &rq->out;
    memset(o, 0, sizeof(*o));
    o->has = 1;
    o->tomb = m->opcode == WIRE_OP_DESTROY;
    o->version = wm->version;
    o->lmt = wm->last_modified;
    if (!o->tomb) {
        o->ctime = wire_meta_has(wm, WIRE_F_CREATION_TIME) ? wm->creation_time : 0;
        o->ems = wire_meta_expiration(wm);
    }
    if (wire_meta_has(wm, WIRE_F_ORIGINATOR_ID)) {
        memcpy(o->origin, wm->originator_id, 16);
        o->has_origin = 1;
    }
    rq->apply = 1;
}

void
xdc_apply_start(struct preq *rq)
{
    hlc_observe(&rq->w->p->clock, rq->out.lmt);
    rq->decision = D_COMMIT;
    uint8_t flags = rq->out.tomb ? WIRE_FLAG_MARK_DELETE : 0;
    for (int i = 0; i < rq->n; i++) {
        struct replica *r = &rq->rep[i];
        int sent = rq_send(rq, i, WIRE_OP_REPAIR, flags, &rq->out, rq->vtype,
                           rq->out.tomb ? NULL : rq_value(rq), rq->out.tomb ? 0 : rq->vlen);
        r->ws = sent ? WS_SENT : WS_FAIL;
    }
}

void
xdc_apply_answer(struct preq *rq, struct replica *r, int st)
{
    if (st == WIRE_ST_SS_OUT_OF_RESOURCE) rq->full = 1;
    r->ws = st == WIRE_ST_OK ? WS_OK : WS_FAIL;
    if (st != WIRE_ST_OK)
        log_debug("replicated write not applied store=%s shard=%u status=%d", upstream_addr(r->up),
                  rq->shard, st);
}

void
xdc_apply_progress(struct preq *rq)
{
    if (rq->replied) return;
    int confirmed = 0;
    for (int i = 0; i < rq->n; i++) confirmed += rq->rep[i].ws == WS_OK;
    if (confirmed >= rq->quorum)
        rq_reply(rq, WIRE_ST_OK, NULL, NULL); /* the source needs no record back */
    else if (rq->pending == 0)
        rq_reply(rq, rq->full ? WIRE_ST_SS_OUT_OF_RESOURCE : WIRE_ST_NO_STORAGE_SERVER, NULL, NULL);
}
