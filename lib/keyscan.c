/* keyscan.c: the KeyScan request and reply codec, scan positions and Redis's
 * glob (keyscan.h). The decoders read bytes from the network: every length
 * is checked against what is there before it is used. */
#include "keyscan.h"

#include "error.h"
#include "hash.h"
#include "pack.h"

#include <string.h>

uint64_t
keyscan_pos(const uint8_t *key, size_t klen)
{
    return hash_key(key, klen) >> 16;
}

int
keyscan_req_encode(const struct keyscan_req *q, uint8_t out[KEYSCAN_REQ_SIZE])
{
    if (q->limit == 0 || q->limit > KEYSCAN_MAX_LIMIT || q->from >= KEYSCAN_POS_END ||
        (q->flags & ~KEYSCAN_Q_TTL) != 0)
        return JUNO_EINVAL;
    memset(out, 0, KEYSCAN_REQ_SIZE);
    pack_u8(out, KEYSCAN_FORMAT);
    pack_u8(out + 1, q->flags);
    pack_u16(out + 2, q->limit);
    pack_u64(out + 8, q->from);
    return 0;
}

int
keyscan_req_decode(const uint8_t *p, size_t len, struct keyscan_req *q)
{
    if (len != KEYSCAN_REQ_SIZE || p[0] != KEYSCAN_FORMAT || (p[1] & ~KEYSCAN_Q_TTL) != 0 ||
        unpack_u32(p + 4) != 0)
        return JUNO_EBADDATA;
    q->flags = p[1];
    q->limit = unpack_u16(p + 2);
    q->from = unpack_u64(p + 8);
    if (q->limit == 0 || q->limit > KEYSCAN_MAX_LIMIT || q->from >= KEYSCAN_POS_END)
        return JUNO_EBADDATA;
    return 0;
}

void
keyscan_header_put(uint8_t *out, const struct keyscan_reply *r)
{
    pack_u8(out, KEYSCAN_FORMAT);
    pack_u8(out + 1, r->flags);
    pack_u16(out + 2, r->count);
    pack_u32(out + 4, r->scanned);
    pack_u64(out + 8, r->next);
}

size_t
keyscan_entry_put(uint8_t *out, const struct keyscan_entry *e)
{
    pack_u64(out, e->last_modified);
    pack_u32(out + 8, e->version);
    pack_u8(out + 12, e->flags);
    pack_u8(out + 13, 0);
    pack_u16(out + 14, (uint16_t)e->klen);
    memcpy(out + KEYSCAN_ENTRY_FIXED, e->key, e->klen);
    return keyscan_entry_size(e->klen);
}

/* The entry at off of body (len bytes): its size, or 0 when malformed. */
static size_t
entry_at(const uint8_t *body, size_t len, size_t off, struct keyscan_entry *e)
{
    if (len - off < KEYSCAN_ENTRY_FIXED) return 0;
    const uint8_t *p = body + off;
    e->last_modified = unpack_u64(p);
    e->version = unpack_u32(p + 8);
    e->flags = p[12];
    e->klen = unpack_u16(p + 14);
    if (p[13] != 0 ||
        (e->flags & ~(KEYSCAN_E_TOMBSTONE | KEYSCAN_E_EXPIRED | KEYSCAN_E_TTL)) != 0 ||
        e->klen == 0 || e->klen > KEYSCAN_MAX_KEY || len - off - KEYSCAN_ENTRY_FIXED < e->klen)
        return 0;
    e->key = p + KEYSCAN_ENTRY_FIXED;
    return keyscan_entry_size(e->klen);
}

int
keyscan_reply_decode(const uint8_t *p, size_t len, struct keyscan_reply *r)
{
    if (len < KEYSCAN_HEADER_SIZE || p[0] != KEYSCAN_FORMAT || (p[1] & ~KEYSCAN_R_DONE) != 0)
        return JUNO_EBADDATA;
    r->flags = p[1];
    r->count = unpack_u16(p + 2);
    r->scanned = unpack_u32(p + 4);
    r->next = unpack_u64(p + 8);
    if (r->next > KEYSCAN_POS_END) return JUNO_EBADDATA;
    r->entries = p + KEYSCAN_HEADER_SIZE;
    r->entries_len = len - KEYSCAN_HEADER_SIZE;
    size_t off = 0;
    struct keyscan_entry e;
    for (uint32_t i = 0; i < r->count; i++) {
        size_t n = entry_at(r->entries, r->entries_len, off, &e);
        if (n == 0) return JUNO_EBADDATA;
        off += n;
    }
    return off == r->entries_len ? 0 : JUNO_EBADDATA;
}

int
keyscan_entry_next(const struct keyscan_reply *r, size_t *off, struct keyscan_entry *e)
{
    if (*off >= r->entries_len) return 0;
    size_t n = entry_at(r->entries, r->entries_len, *off, e);
    if (n == 0) return 0;
    *off += n;
    return 1;
}

/* Redis's stringmatchlen (util.c), case-sensitive, without reading past
 * either buffer (Redis relies on a terminating NUL there). Ranges compare
 * bytes as Redis does on x86-64: as signed chars. */
static int
glob__match(const uint8_t *p, size_t pl, const uint8_t *s, size_t sl, int *skip, int nesting)
{
    if (nesting > 1000) return 0; /* Redis's guard against abusive patterns */
    while (pl > 0 && sl > 0) {
        switch (p[0]) {
        case '*':
            while (pl > 1 && p[1] == '*') {
                p++;
                pl--;
            }
            if (pl == 1) return 1;
            while (sl > 0) {
                if (glob__match(p + 1, pl - 1, s, sl, skip, nesting + 1)) return 1;
                if (*skip) return 0;
                s++;
                sl--;
            }
            *skip = 1;
            return 0;
        case '?':
            s++;
            sl--;
            break;
        case '[': {
            p++;
            pl--;
            int not = pl > 0 && p[0] == '^';
            if (not ) {
                p++;
                pl--;
            }
            int match = 0;
            for (;;) {
                if (pl == 0) { /* no closing bracket: the last byte is the class's end */
                    p--;
                    pl++;
                    break;
                }
                if (p[0] == '\\' && pl >= 2) {
                    p++;
                    pl--;
                    if (p[0] == s[0]) match = 1;
                } else if (p[0] == ']') {
                    break;
                } else if (pl >= 3 && p[1] == '-') {
                    int a = (signed char)p[0], b = (signed char)p[2], c = (signed char)s[0];
                    if (a > b) {
                        int t = a;
                        a = b;
                        b = t;
                    }
                    p += 2;
                    pl -= 2;
                    if (c >= a && c <= b) match = 1;
                } else if (p[0] == s[0]) {
                    match = 1;
                }
                p++;
                pl--;
            }
            if (not ) match = !match;
            if (!match) return 0;
            s++;
            sl--;
            break;
        }
        case '\\':
            if (pl >= 2) {
                p++;
                pl--;
            }
            /* fall through */
        default:
            if (p[0] != s[0]) return 0;
            s++;
            sl--;
            break;
        }
        p++;
        pl--;
        if (sl == 0) {
            while (pl > 0 && p[0] == '*') {
                p++;
                pl--;
            }
            break;
        }
    }
    return pl == 0 && sl == 0;
}

int
keyscan_glob(const uint8_t *p, size_t plen, const uint8_t *s, size_t slen)
{
    int skip = 0;
    return glob__match(p, plen, s, slen, &skip, 0);
}
