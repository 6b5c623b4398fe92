/* fuzz_keyscan.c: libFuzzer target for KeyScan's wire formats
 * (lib/keyscan.c): the reply juno-proxy decodes, the request juno-store
 * decodes, and Redis's glob the RESP face runs on client patterns.
 *
 * The input is a reply value. When it decodes, every entry is read back
 * inside the input (exactly count of them, filling the body) and
 * re-encoding header and entries gives the input's bytes again. The first
 * 16 bytes are also decoded as a request: when that succeeds, it encodes
 * back to the same bytes; a request of any other length is refused. Then
 * the input split at its first byte's value is a (pattern, string) pair for
 * keyscan_glob, which must end without reading outside either part.
 * Anything else aborts.
 * Seeds: test/fuzz/seeds/fuzz_keyscan/.
 */
#include "keyscan.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_request(const uint8_t *data, size_t size)
{
    struct keyscan_req q;
    if (size != KEYSCAN_REQ_SIZE && keyscan_req_decode(data, size, &q) == 0) abort();
    if (size < KEYSCAN_REQ_SIZE || keyscan_req_decode(data, KEYSCAN_REQ_SIZE, &q) != 0) return;
    uint8_t out[KEYSCAN_REQ_SIZE];
    if (keyscan_req_encode(&q, out) != 0 || memcmp(out, data, KEYSCAN_REQ_SIZE) != 0) abort();
}

static void
check_glob(const uint8_t *data, size_t size)
{
    if (size == 0) return;
    size_t cut = data[0] < size ? data[0] : size - 1;
    /* copies of exactly their size: a read past either is caught by ASan */
    uint8_t *p = malloc(cut ? cut : 1), *s = malloc(size - cut ? size - cut : 1);
    if (p == NULL || s == NULL) abort();
    memcpy(p, data, cut);
    memcpy(s, data + cut, size - cut);
    int m = keyscan_glob(p, cut, s, size - cut);
    if (m != 0 && m != 1) abort();
    if (cut == size - cut && memchr(p, '*', cut) == NULL && memchr(p, '?', cut) == NULL &&
        memchr(p, '[', cut) == NULL && memchr(p, '\\', cut) == NULL &&
        m != (memcmp(p, s, cut) == 0))
        abort(); /* a pattern without special bytes matches itself only */
    free(p);
    free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_request(data, size);
    check_glob(data, size);
    uint8_t *in = malloc(size ? size : 1);
    if (in == NULL) return 0;
    memcpy(in, data, size);
    struct keyscan_reply r;
    if (keyscan_reply_decode(in, size, &r) != 0) {
        free(in);
        return 0;
    }
    uint8_t *out = malloc(size ? size : 1);
    if (out == NULL) abort();
    keyscan_header_put(out, &r);
    size_t off = 0, len = KEYSCAN_HEADER_SIZE;
    uint32_t n = 0;
    struct keyscan_entry e;
    while (keyscan_entry_next(&r, &off, &e)) {
        if (len + keyscan_entry_size(e.klen) > size) abort();
        len += keyscan_entry_put(out + len, &e);
        n++;
    }
    if (n != r.count || len != size || memcmp(out, in, size) != 0) abort();
    free(out);
    free(in);
    return 0;
}
