/* resp_lcs.c: LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], the
 * longest common subsequence of two strings, as Redis 7 answers it.
 *
 * Both keys are read (a Get each, a missing key is ""), then the proxy fills
 * the dynamic-programming table of LCS lengths, (len1 + 1) x (len2 + 1)
 * 32-bit cells: over --resp-max-value bytes (Redis: proto-max-bulk-len) it
 * answers Redis's "Insufficient memory" error instead. It walks the table
 * back from the end for the string and, with IDX, the ranges of matching
 * bytes in each string, from the last to the first, each kept when at least
 * MINMATCHLEN long. Not atomic across the two keys: each is read at its own
 * moment (a read-only command, like MGET).
 */
#include "resp_face.h"

#include <stdlib.h>
#include <string.h>

struct rlcs {
    uint8_t want_len, want_idx, with_len;
    int64_t min_len;
    uint8_t *v[2]; /* owned: the values read */
    size_t n[2];
};

void
rlcs_free(void *ext)
{
    struct rlcs *x = ext;
    if (x != NULL) free(x->v[0]), free(x->v[1]);
    free(x);
}

void
rstr_lcs(struct rconn *rc, const struct resp_cmd *cmd)
{
    struct rlcs o = {0};
    for (size_t i = 3; i < cmd->argc; i++) {
        if (resp_arg_eq(cmd, i, "idx")) {
            o.want_idx = 1;
        } else if (resp_arg_eq(cmd, i, "len")) {
            o.want_len = 1;
        } else if (resp_arg_eq(cmd, i, "withmatchlen")) {
            o.with_len = 1;
        } else if (resp_arg_eq(cmd, i, "minmatchlen") && i + 1 < cmd->argc) {
            if (resp_arg_i64(cmd, ++i, &o.min_len) != 0) {
                rcmd_error(rc, RERR_NOT_INT);
                return;
            }
            if (o.min_len < 0) o.min_len = 0;
        } else {
            rcmd_error(rc, RERR_SYNTAX);
            return;
        }
    }
    if (o.want_len && o.want_idx) {
        rcmd_error(rc, "If you want both the length and indexes, please just use IDX.");
        return;
    }
    if (!rcmd_key_ok(rc, &cmd->argv[1]) || !rcmd_key_ok(rc, &cmd->argv[2])) return;
    struct rlcs *x = malloc(sizeof(*x));
    struct rslot *s = x != NULL ? rcmd_slot(rc, K_LCS, 2) : NULL;
    if (s == NULL) {
        free(x);
        rc->nomem = 1;
        return;
    }
    *x = o;
    s->ext = x;
    for (uint32_t i = 0; i < 2; i++) /* the second answer may finish s */
        rcmd_start(rc, s, i, WIRE_OP_GET, cmd->argv[1 + i].ptr, cmd->argv[1 + i].len, NULL, 0, 0, 0,
                   0, 0);
}

/* s answers error msg. */
static void
fail(struct rconn *rc, struct rslot *s, const char *msg)
{
    rstat_error(rc, s, msg);
    PUT(rc, resp_error(rconn_slot_buf(rc, s), msg));
    rconn_slot_done(rc, s);
}

#define CELL(i, j) dp[(size_t)(i) * (bl + 1) + (j)]

/* One IDX match: [[a0, a1], [b0, b1]] (and its length) into out. */
static int
put_match(struct buf *out, const struct rlcs *x, size_t a0, size_t a1, size_t b0, size_t b1)
{
    int r = resp_array_header(out, 2u + x->with_len);
    r |=
        resp_array_header(out, 2) | resp_integer(out, (int64_t)a0) | resp_integer(out, (int64_t)a1);
    r |=
        resp_array_header(out, 2) | resp_integer(out, (int64_t)b0) | resp_integer(out, (int64_t)b1);
    if (x->with_len) r |= resp_integer(out, (int64_t)(a1 - a0 + 1));
    return r;
}

/* The LCS of x's two values as the reply into b. */
static void
lcs_reply(struct rconn *rc, struct rslot *s, struct rlcs *x, struct buf *b)
{
    const uint8_t *a = x->v[0] ? x->v[0] : (const uint8_t *)"";
    const uint8_t *bb = x->v[1] ? x->v[1] : (const uint8_t *)"";
    size_t al = x->n[0], bl = x->n[1];
    uint64_t cells = (uint64_t)(al + 1) * (bl + 1);
    if (al >= UINT32_MAX - 1 || bl >= UINT32_MAX - 1 ||
        cells > rface_limit(&rc->w->p->cfg.resp_max_value) / sizeof(uint32_t)) {
        fail(rc, s, "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    uint32_t *dp = malloc((size_t)cells * sizeof(*dp));
    if (dp == NULL) {
        fail(rc, s, "Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
    for (size_t i = 0; i <= al; i++)
        for (size_t j = 0; j <= bl; j++)
            CELL(i, j) = i == 0 || j == 0                  ? 0
                         : a[i - 1] == bb[j - 1]           ? CELL(i - 1, j - 1) + 1
                         : CELL(i - 1, j) > CELL(i, j - 1) ? CELL(i - 1, j)
                                                           : CELL(i, j - 1);
    uint32_t total = CELL(al, bl), k = total;
    uint8_t *str = malloc(total ? total : 1);
    struct buf m = {0};                             /* IDX's matches */
    size_t nm = 0, as = al, ae = 0, bs = 0, be = 0; /* as == al: no range open */
    int e = str == NULL;
    for (size_t i = al, j = bl; !e && !x->want_len && i > 0 && j > 0;) {
        int close = 0;
        if (a[i - 1] == bb[j - 1]) {
            str[--k] = a[i - 1];
            if (as == al) {
                as = ae = i - 1, bs = be = j - 1;
            } else if (as == i && bs == j) {
                as--, bs--; /* the range goes on backwards */
            } else {
                close = 1;
            }
            close |= as == 0 || bs == 0;
            i--, j--;
        } else {
            if (CELL(i - 1, j) > CELL(i, j - 1))
                i--;
            else
                j--;
            close = as != al;
        }
        if (close) {
            if (x->want_idx && (x->min_len == 0 || (int64_t)(ae - as + 1) >= x->min_len)) {
                e |= put_match(&m, x, as, ae, bs, be);
                nm++;
            }
            as = al;
        }
    }
    if (e) {
        rc->nomem = 1;
    } else if (x->want_idx) {
        e |= resp_map_header(b, 2, s->proto) | resp_bulk(b, "matches", 7);
        e |= resp_array_header(b, nm) | resp_raw(b, m.data, m.len);
        e |= resp_bulk(b, "len", 3) | resp_integer(b, total);
    } else if (x->want_len) {
        e |= resp_integer(b, total);
    } else {
        e |= resp_bulk(b, str, total);
    }
    if (e) rc->nomem = 1;
    buf_free(&m);
    free(str);
    free(dp);
    rconn_slot_done(rc, s);
}

void
rlcs_answer(struct rconn *rc, struct rslot *s, uint32_t sub, const struct preq_result *res)
{
    struct rlcs *x = s->ext;
    int st = res->status;
    s->ndone++;
    if (st == WIRE_ST_OK && res->vlen > 0) {
        if ((x->v[sub] = malloc(res->vlen)) == NULL) {
            rc->nomem = 1;
            st = WIRE_ST_OUT_OF_MEM;
        } else {
            memcpy(x->v[sub], res->val, res->vlen);
            x->n[sub] = res->vlen;
        }
    }
    if (st != WIRE_ST_OK && st != WIRE_ST_NO_KEY && (s->err == 0 || sub < s->err_sub)) {
        s->err = st;
        s->err_sub = sub;
    }
    if (s->ndone < s->nsub) return;
    if (s->err)
        rcmd_finish_error(rc, s, s->err);
    else
        lcs_reply(rc, s, x, rconn_slot_buf(rc, s));
}
