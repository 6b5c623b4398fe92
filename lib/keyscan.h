/* keyscan.h: the KeyScan storage operation's binary request and reply
 * (juno-store answers it, juno-proxy's RESP face sends it for SCAN, KEYS,
 * DBSIZE, RANDOMKEY and FLUSHDB), the position of a key in a scan, and
 * Redis's glob matching.
 *
 * A scan walks one shard's records of one namespace in the order of their
 * position, pos = XXH64(key) >> 16 (48 bits): an order that depends on the
 * key alone, so a cursor (shard, pos) means the same thing on every replica
 * and after any map change. The request (16 bytes, the value of a KeyScan
 * whose header carries the shard and whose payload the namespace):
 *
 *   off size
 *     0    1  format        KEYSCAN_FORMAT (1)
 *     1    1  flags         0, or KEYSCAN_Q_TTL: mark records that expire
 *     2    2  limit         entries wanted, 1..KEYSCAN_MAX_LIMIT
 *     4    4  reserved      0
 *     8    8  from          the first position wanted, < 2^48
 *
 * The reply: a 16-byte header, then count entries back to back:
 *
 *     0    1  format        1
 *     1    1  flags         KEYSCAN_R_DONE: every record at or after `from` is in
 *     2    2  count         entries that follow
 *     4    4  scanned       records the store read
 *     8    8  next          not DONE: every record with from <= pos < next is in
 *   entry:
 *     0    8  last modified (ns)
 *     8    4  version
 *    12    1  flags         KEYSCAN_E_TOMBSTONE, KEYSCAN_E_EXPIRED, and
 *                           KEYSCAN_E_TTL (the record has an expiration;
 *                           only when the request asked, KEYSCAN_Q_TTL)
 *    13    1  reserved      0
 *    14    2  key length    1..KEYSCAN_MAX_KEY
 *    16    .  key
 *
 * Tombstones and expired records are listed (flagged) so that the proxy can
 * merge the replicas' answers by the read-repair rule: the newest copy of a
 * key decides whether it is live.
 */
#ifndef JUNO_KEYSCAN_H
#define JUNO_KEYSCAN_H

#include <stddef.h>
#include <stdint.h>

#define KEYSCAN_FORMAT      1
#define KEYSCAN_REQ_SIZE    16
#define KEYSCAN_HEADER_SIZE 16
#define KEYSCAN_ENTRY_FIXED 16
#define KEYSCAN_MAX_LIMIT   4096
#define KEYSCAN_MAX_KEY     4096
#define KEYSCAN_POS_END     (1ull << 48) /* past every position */

#define KEYSCAN_R_DONE      0x01
#define KEYSCAN_E_TOMBSTONE 0x01
#define KEYSCAN_E_EXPIRED   0x02
#define KEYSCAN_E_TTL       0x04 /* only in a reply to a KEYSCAN_Q_TTL request */
#define KEYSCAN_Q_TTL       0x01 /* request flag: mark entries with an expiration */

struct keyscan_req {
    uint8_t flags; /* 0 or KEYSCAN_Q_TTL */
    uint16_t limit;
    uint64_t from;
};

struct keyscan_reply {
    uint8_t flags;
    uint16_t count;
    uint32_t scanned;
    uint64_t next;
    const uint8_t *entries; /* borrowed: the body after the header */
    size_t entries_len;
};

struct keyscan_entry {
    uint64_t last_modified;
    uint32_t version;
    uint8_t flags;
    const uint8_t *key; /* borrowed */
    size_t klen;
};

/* A key's position in a scan: XXH64(key) >> 16. */
uint64_t keyscan_pos(const uint8_t *key, size_t klen);

/* Encode q into out (KEYSCAN_REQ_SIZE bytes). Returns 0, or JUNO_EINVAL for a
 * limit of 0 or over KEYSCAN_MAX_LIMIT, a from at or past KEYSCAN_POS_END or
 * an unknown flag. */
int keyscan_req_encode(const struct keyscan_req *q, uint8_t out[KEYSCAN_REQ_SIZE]);
/* Decode a request of len bytes. Returns 0 or JUNO_EBADDATA (another length,
 * format, an unknown flag, a nonzero reserved byte, a bad limit or from). */
int keyscan_req_decode(const uint8_t *p, size_t len, struct keyscan_req *q);

/* The reply header into out (KEYSCAN_HEADER_SIZE bytes). */
void keyscan_header_put(uint8_t *out, const struct keyscan_reply *r);
/* Bytes an entry with a key of klen takes. */
static inline size_t
keyscan_entry_size(size_t klen)
{
    return KEYSCAN_ENTRY_FIXED + klen;
}
/* Write e into out (keyscan_entry_size bytes); returns that size. */
size_t keyscan_entry_put(uint8_t *out, const struct keyscan_entry *e);

/* Decode a reply of len bytes: the header, and a check that exactly count
 * well-formed entries fill the body. r->entries borrows from p. Returns 0 or
 * JUNO_EBADDATA. */
int keyscan_reply_decode(const uint8_t *p, size_t len, struct keyscan_reply *r);
/* The entry at *off of a decoded reply's body, advancing *off. Returns 1
 * with e filled, 0 at the end. Only for a reply keyscan_reply_decode took. */
int keyscan_entry_next(const struct keyscan_reply *r, size_t *off, struct keyscan_entry *e);

/* Redis's glob (stringmatchlen): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`;
 * binary-safe, case-sensitive. Returns 1 when s matches pattern p. */
int keyscan_glob(const uint8_t *p, size_t plen, const uint8_t *s, size_t slen);

#endif
