/* record.c: storage keys and values of juno-store (layout in record.h). */
#include "record.h"
#include "clock.h"
#include "error.h"
#include "pack.h"
#include "wire.h"

#include <string.h>

int
record_key_encode(uint16_t shard, const void *ns, size_t ns_len, const void *key, size_t key_len,
                  uint8_t *out)
{
    if (ns_len == 0 || ns_len > RECORD_MAX_NS) return JUNO_EINVAL;
    pack_u16(out, shard);
    out[2] = (uint8_t)ns_len;
    memcpy(out + 3, ns, ns_len);
    memcpy(out + 3 + ns_len, key, key_len);
    return (int)record_key_size(ns_len, key_len);
}

int
record_key_decode(const uint8_t *k, size_t len, uint16_t *shard, const uint8_t **ns, size_t *ns_len,
                  const uint8_t **key, size_t *key_len)
{
    if (len < 3) return JUNO_EBADDATA;
    size_t nl = k[2];
    if (nl == 0 || nl > RECORD_MAX_NS || len < 3 + nl) return JUNO_EBADDATA;
    *shard = unpack_u16(k);
    *ns = k + 3;
    *ns_len = nl;
    *key = k + 3 + nl;
    *key_len = len - 3 - nl;
    return 0;
}

size_t
record_shard_range(uint16_t shard, uint8_t start[2], uint8_t end[3])
{
    pack_u16(start, shard);
    if (shard == 0xFFFF) {
        end[0] = end[1] = end[2] = 0xFF;
        return 3;
    }
    pack_u16(end, (uint16_t)(shard + 1));
    return 2;
}

void
record_value_encode(const struct record_meta *m, const void *data, size_t data_len, uint8_t *out)
{
    out[0] = RECORD_FORMAT;
    out[1] = m->tombstone ? RECORD_F_TOMBSTONE : 0;
    out[2] = m->value_type;
    out[3] = 0;
    pack_u32(out + 4, m->version);
    pack_u32(out + 8, m->creation_time);
    pack_u64(out + 12, m->expiration_ms);
    pack_u64(out + 20, m->last_modified);
    memcpy(out + 28, m->origin_id, 16);
    memcpy(out + 44, m->last_req_id, 16);
    if (data_len > 0) memcpy(out + RECORD_HEADER_SIZE, data, data_len);
}

int
record_value_decode(const uint8_t *v, size_t len, struct record_meta *m, const uint8_t **data,
                    size_t *data_len)
{
    if (len < 1 || (v[0] != RECORD_FORMAT && v[0] != RECORD_FORMAT_V1)) return JUNO_EBADDATA;
    int v1 = v[0] == RECORD_FORMAT_V1;
    size_t hs = v1 ? RECORD_V1_HEADER_SIZE : RECORD_HEADER_SIZE;
    if (len < hs) return JUNO_EBADDATA;
    /* Bits the format does not define mean corruption (or a newer format
     * under a wrong number): refusing them keeps decode-then-encode lossless. */
    if ((v[1] & ~RECORD_F_TOMBSTONE) != 0 || v[3] != 0) return JUNO_EBADDATA;
    m->tombstone = (v[1] & RECORD_F_TOMBSTONE) != 0;
    m->value_type = v[2];
    m->version = unpack_u32(v + 4);
    m->creation_time = unpack_u32(v + 8);
    m->expiration_ms = v1 ? (uint64_t)unpack_u32(v + 12) * 1000 : unpack_u64(v + 12);
    size_t off = v1 ? 16 : 20; /* last modified, then the two ids */
    m->last_modified = unpack_u64(v + off);
    memcpy(m->origin_id, v + off + 8, 16);
    memcpy(m->last_req_id, v + off + 24, 16);
    *data = v + hs;
    *data_len = len - hs;
    return 0;
}

int
record_cmp(const struct record_meta *a, const struct record_meta *b)
{
    if (a->last_modified != b->last_modified) return a->last_modified > b->last_modified ? 1 : -1;
    if (a->version != b->version) return a->version > b->version ? 1 : -1;
    return 0;
}

int
record_clone_msg(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, struct wire_msg *msg)
{
    uint16_t shard;
    const uint8_t *ns, *key, *data;
    size_t nslen, keylen, dlen;
    struct record_meta rm;
    if (record_key_decode(k, kl, &shard, &ns, &nslen, &key, &keylen) != 0 ||
        record_value_decode(v, vl, &rm, &data, &dlen) != 0)
        return JUNO_EBADDATA;
    memset(msg, 0, sizeof(*msg));
    msg->type_flag = WIRE_TF_REQUEST;
    msg->opcode = WIRE_OP_CLONE;
    msg->shard_id = shard;
    msg->flags = rm.tombstone ? WIRE_FLAG_MARK_DELETE : 0;
    wire_meta_set_request_id(&msg->meta, rm.last_req_id);
    wire_meta_set_originator_id(&msg->meta, rm.origin_id);
    wire_meta_set_u32(&msg->meta, WIRE_F_VERSION, rm.version);
    wire_meta_set_u32(&msg->meta, WIRE_F_CREATION_TIME, rm.creation_time);
    wire_meta_set_expiration(&msg->meta, rm.expiration_ms);
    wire_meta_set_last_modified(&msg->meta, rm.last_modified);
    msg->ns.ptr = ns;
    msg->ns.len = nslen;
    msg->key.ptr = key;
    msg->key.len = keylen;
    msg->value_type = rm.value_type;
    msg->value.ptr = data;
    msg->value.len = dlen;
    return 0;
}

uint64_t
record_now_ms(void)
{
    return clock_wall_ns() / 1000000u;
}
