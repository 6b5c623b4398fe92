/* record.h: how juno-store lays records out in RocksDB.
 *
 * Storage key:   shard (u16 BE) | nsLen (u8) | namespace | key
 *   so one shard is one contiguous key range [shard, shard+1).
 * Storage value: a 60-byte header, then the value data (format 2):
 *
 *   off size field
 *     0    1 format            RECORD_FORMAT (2), or 1 (below); anything else is refused
 *     1    1 flags             bit 0: tombstone; other bits 0
 *     2    1 value type        the JunoDB payload type byte (0 clear, 1..3 see protocol.md)
 *     3    1 reserved          0
 *     4    4 version           u32, 1 on create, +1 per write
 *     8    4 creation time     unix seconds
 *    12    8 expiration time   u64 unix milliseconds; 0 = never
 *    20    8 last modified     ns (hybrid logical clock from the proxy)
 *    28   16 originator id     request id of the write that created the record
 *    44   16 last request id   request id of the latest write (idempotent retries)
 *    60    . value data
 *
 * Format 1 (juno before millisecond TTLs), still read, never written: a
 * 56-byte header, the same fields with the expiration time a u32 of unix
 * seconds at offset 12, last modified at 16, originator id at 24, last
 * request id at 40, value data at 56. It decodes to expiration_ms = s * 1000.
 *
 * All integers big-endian, packed field by field (lib/pack.h).
 */
#ifndef JUNO_RECORD_H
#define JUNO_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_FORMAT         2
#define RECORD_HEADER_SIZE    60 /* format 2's, what record_value_encode writes */
#define RECORD_FORMAT_V1      1
#define RECORD_V1_HEADER_SIZE 56
#define RECORD_MAX_NS         64 /* keeps 0xFF out of the nsLen byte: see record_shard_range */
#define RECORD_F_TOMBSTONE    0x01

struct record_meta {
    uint32_t version;
    uint32_t creation_time; /* unix s */
    uint64_t expiration_ms; /* unix ms, 0 = never */
    uint64_t last_modified; /* ns */
    uint8_t origin_id[16];
    uint8_t last_req_id[16];
    uint8_t tombstone;
    uint8_t value_type;
};

/* Bytes a storage key for this namespace and key takes. */
static inline size_t
record_key_size(size_t ns_len, size_t key_len)
{
    return 3 + ns_len + key_len;
}

/* Write the storage key into out (record_key_size bytes). Returns the length,
 * or JUNO_EINVAL if ns is empty or longer than RECORD_MAX_NS. The key may be
 * empty: the RESP face allows "" as Redis does (the JunoDB face refuses it,
 * in juno-proxy's own check). */
int record_key_encode(uint16_t shard, const void *ns, size_t ns_len, const void *key,
                      size_t key_len, uint8_t *out);

/* Split a storage key. ns and key point into k (borrowed). Returns 0 or JUNO_EBADDATA. */
int record_key_decode(const uint8_t *k, size_t len, uint16_t *shard, const uint8_t **ns,
                      size_t *ns_len, const uint8_t **key, size_t *key_len);

/* The key range [start, end) holding every record of shard: start is 2 bytes,
 * end 2 or 3 bytes (shard 65535 ends at FF FF FF). Returns end's length. */
size_t record_shard_range(uint16_t shard, uint8_t start[2], uint8_t end[3]);

/* Encode header + data into out (RECORD_HEADER_SIZE + data_len bytes), in
 * format RECORD_FORMAT. */
void record_value_encode(const struct record_meta *m, const void *data, size_t data_len,
                         uint8_t *out);

/* Decode a stored value, format 2 or 1. *data points into v (borrowed).
 * Returns 0 or JUNO_EBADDATA (too short, unknown format, a flag bit other
 * than the tombstone or a nonzero reserved byte; nothing written). What
 * decodes from format 2 re-encodes to the same bytes; a format 1 record
 * re-encodes to format 2 with the same metadata and data. */
int record_value_decode(const uint8_t *v, size_t len, struct record_meta *m, const uint8_t **data,
                        size_t *data_len);

/* Whether m has expired at unix time now_ms (milliseconds): Redis's rule, a
 * key set with PX 100 at t is there at t + 99 and gone at t + 100. */
static inline int
record_expired(const struct record_meta *m, uint64_t now_ms)
{
    return m->expiration_ms != 0 && m->expiration_ms <= now_ms;
}

/* The wall clock in unix milliseconds, as expirations are read against. */
uint64_t record_now_ms(void);

struct wire_msg;

/* A Clone request (opcode, type flag, shard of the key, metadata, namespace,
 * key, value type and value; MarkDelete for a tombstone) carrying the
 * stored record (k, v), as juno-store's shard streams and juno-backup
 * restore send them: msg is zeroed first, its byte fields borrow from k and
 * v. Returns 0 or JUNO_EBADDATA (not a record). */
int record_clone_msg(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                     struct wire_msg *msg);

/* >0 if a is newer than b (last modified, then version), 0 if equal, <0 if older. */
int record_cmp(const struct record_meta *a, const struct record_meta *b);

#endif
