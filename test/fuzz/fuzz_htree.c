/* fuzz_htree.c: libFuzzer target for the hash tree's wire formats
 * (lib/htree.c): the ShardTree reply juno-repair decodes, and the request
 * juno-store decodes.
 *
 * The input is a reply value. When it decodes, its header holds a range a
 * request may ask for, every bucket or entry is read back inside the input
 * (the entries exactly fill the body, as many as the header counts), and
 * re-encoding what was read gives the input's bytes again. The input's
 * first 16 bytes are also decoded as a request: when that succeeds, its
 * fields pass the request check and encode back to the same bytes; a
 * request of any other length is refused.
 * Anything else aborts.
 * Seeds: test/fuzz/seeds/fuzz_htree/ (replies of both kinds, requests).
 */
#include "error.h"
#include "htree.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_request(const uint8_t *data, size_t size)
{
    struct htree_req q;
    if (size != HTREE_REQ_SIZE && htree_req_decode(data, size, &q) == 0) abort(); /* one size */
    if (size < HTREE_REQ_SIZE || htree_req_decode(data, HTREE_REQ_SIZE, &q) != 0) return;
    uint8_t out[HTREE_REQ_SIZE];
    if (htree_req_check(&q) != 0 || htree_req_encode(&q, out) != 0 ||
        memcmp(out, data, HTREE_REQ_SIZE) != 0)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_request(data, size);
    /* a copy of exactly size bytes: a read past it is caught by ASan */
    uint8_t *in = malloc(size ? size : 1);
    if (in == NULL) return 0;
    memcpy(in, data, size);
    struct htree_reply r;
    if (htree_reply_decode(in, size, &r) != 0) {
        free(in);
        return 0;
    }
    /* the header holds what a request may ask for */
    struct htree_req q = {.kind = r.kind,
                          .prefix_bits = r.prefix_bits,
                          .split_bits = r.split_bits,
                          .limit = r.kind == HTREE_LIST ? 1 : 0,
                          .prefix = r.prefix};
    if (htree_req_check(&q) != 0 || (r.flags & ~(uint32_t)HTREE_R_TRUNCATED) != 0 ||
        (r.kind == HTREE_LIST && r.count > HTREE_MAX_LIST) || r.body != in + HTREE_HEADER_SIZE ||
        r.body_len != size - HTREE_HEADER_SIZE)
        abort();
    uint8_t *out = malloc(size);
    if (out == NULL) abort();
    htree_header_put(out, &r);
    size_t off = HTREE_HEADER_SIZE;
    if (r.kind == HTREE_BUCKETS) {
        for (uint32_t i = 0; i < r.count; i++) {
            struct htree_bucket b;
            htree_bucket_get(&r, i, &b);
            htree_bucket_put(out + off, &b);
            off += HTREE_BUCKET_SIZE;
        }
    } else {
        size_t pos = 0;
        uint32_t n = 0;
        struct htree_entry e;
        while (htree_entry_next(&r, &pos, &e)) {
            if (e.ns < in || e.key + e.klen > in + size || e.nslen == 0) abort();
            if (off + htree_entry_size(e.nslen, e.klen) > size) abort();
            off += htree_entry_put(out + off, &e);
            n++;
        }
        if (n != r.count || pos != r.body_len) abort();
    }
    if (off != size || memcmp(out, in, size) != 0) abort();
    free(out);
    free(in);
    return 0;
}
