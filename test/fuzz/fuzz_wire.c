/* fuzz_wire.c: libFuzzer target for the JunoDB wire codec.
 *
 * The input is a byte stream: wire_frame (1 MiB limit) judges its start; a
 * framed message must lie within the input, and wire_decode must not crash on
 * it. A message that decodes is re-encoded and decoded again, and the two must
 * carry the same fields and encode to the same bytes (abort otherwise).
 * Seeds: test/fuzz/seeds/fuzz_wire/ (the reference vectors).
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
bytes_eq(struct wire_bytes a, struct wire_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* The decoder reports a numeric 0 as absent, so present bits compare as is. */
static int
same(const struct wire_msg *a, const struct wire_msg *b)
{
    const struct wire_meta *x = &a->meta, *y = &b->meta;
    if (a->type_flag != b->type_flag || a->opaque != b->opaque || a->opcode != b->opcode ||
        a->flags != b->flags || a->header_only != b->header_only)
        return 0;
    if ((a->proto_version ? a->proto_version : 1) != b->proto_version) return 0;
    if (wire_rq(a->type_flag) == WIRE_RQ_RESPONSE ? a->status != b->status
                                                  : a->shard_id != b->shard_id)
        return 0;
    if (a->header_only) return 1;
    if (x->present != y->present || x->ttl != y->ttl || x->version != y->version ||
        x->creation_time != y->creation_time || x->expiration_time != y->expiration_time ||
        x->handling_time != y->handling_time || x->last_modified != y->last_modified ||
        x->expiration_ms != y->expiration_ms)
        return 0;
    if ((x->present & 1u << WIRE_F_REQUEST_ID) && memcmp(x->request_id, y->request_id, 16))
        return 0;
    if ((x->present & 1u << WIRE_F_ORIGINATOR_ID) && memcmp(x->originator_id, y->originator_id, 16))
        return 0;
    if (x->present & 1u << WIRE_F_SOURCE_INFO) {
        struct wire_bytes p = {x->source.app, x->source.app_len};
        struct wire_bytes q = {y->source.app, y->source.app_len};
        if (x->source.ipv6 != y->source.ipv6 || x->source.port != y->source.port ||
            memcmp(x->source.ip, y->source.ip, x->source.ipv6 ? 16 : 4) || !bytes_eq(p, q))
            return 0;
    }
    if (!bytes_eq(x->correlation_id, y->correlation_id) || !bytes_eq(x->udf_name, y->udf_name))
        return 0;
    return bytes_eq(a->ns, b->ns) && bytes_eq(a->key, b->key) && bytes_eq(a->value, b->value) &&
           (a->value.len == 0 || a->value_type == b->value_type);
}

static void
roundtrip(const struct wire_msg *m)
{
    size_t need = wire_encoded_size(m);
    if (need == 0) abort(); /* whatever decodes must be encodable */
    uint8_t *out = malloc(need), *out2 = malloc(need);
    struct wire_msg d, d2;
    if (out == NULL || out2 == NULL) abort();
    if (wire_encode(m, out, need - 1) >= 0) abort();
    if (wire_encode(m, out, need) != (int)need) abort();
    if (wire_decode(out, need, &d) != WIRE_ST_OK) abort();
    if (!same(m, &d)) abort();
    if (wire_encode(&d, out2, need) != (int)need || memcmp(out, out2, need) != 0) abort();
    if (wire_decode(out2, need, &d2) != WIRE_ST_OK || !same(&d, &d2)) abort();
    free(out);
    free(out2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t frame_len = 0;
    const char *why = NULL;
    struct wire_msg m;
    int rc = wire_frame(data, size, WIRE_DEFAULT_MAX_FRAME, &frame_len, &why);
    if (rc == WIRE_ERROR && why == NULL) abort();
    if (rc == WIRE_OK) {
        if (frame_len > size || frame_len < 12 || frame_len > WIRE_DEFAULT_MAX_FRAME) abort();
        if (wire_decode(data, frame_len, &m) == WIRE_ST_OK) roundtrip(&m);
    }
    /* the decoder on its own, with whatever length it is given */
    if (wire_decode(data, size, &m) == WIRE_ST_OK) roundtrip(&m);
    return 0;
}
