/* fuzz_resp.c: libFuzzer target for the RESP2 request parser.
 *
 * The input is a byte stream of requests: resp_parse (default limits) is
 * called on it command after command until AGAIN or ERROR. An OK must consume
 * at least one byte and no more than remain; an ERROR must give a reason.
 * Every command is re-encoded as multibulk and must parse back, whole, to the
 * same words; the argument helpers must not crash on any word (abort
 * otherwise). A second pass parses the stream with max_keep 8 and max_data 20
 * (juno-proxy's --resp-max-value and --resp-max-buffered): a RESP_SKIP must consume header bytes,
 * and resp_skip must then drop the rest of that command within the bytes given. Seeds:
 * test/fuzz/seeds/fuzz_resp/ (a few commands).
 */
#include "resp.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct resp_cmd cmd, cmd2;
static struct buf out;

static void
roundtrip(const struct resp_cmd *c)
{
    size_t used = 0;
    out.len = 0;
    if (resp_array_header(&out, c->argc) != 0) abort();
    for (size_t i = 0; i < c->argc; i++) {
        if (resp_bulk(&out, c->argv[i].ptr, c->argv[i].len) != 0) abort();
        int64_t v;
        (void)resp_arg_i64(c, i, &v);
        (void)resp_arg_eq(c, i, "set");
    }
    if (resp_parse(out.data, out.len, NULL, &cmd2, &used, NULL) != RESP_OK) abort();
    if (used != out.len || cmd2.argc != c->argc) abort();
    for (size_t i = 0; i < c->argc; i++) {
        if (cmd2.argv[i].len != c->argv[i].len) abort();
        if (c->argv[i].len > 0 && memcmp(cmd2.argv[i].ptr, c->argv[i].ptr, c->argv[i].len) != 0)
            abort();
    }
}

/* The stream parsed with a small max_keep: commands with a longer bulk
 * string are dropped through resp_skip. */
static void
skip_pass(const uint8_t *data, size_t size)
{
    const struct resp_limits lim = {.max_bulk = 1024, .max_keep = 8, .max_data = 20};
    size_t off = 0;
    while (off < size) {
        size_t used = 0;
        const char *why = NULL;
        int rc = resp_parse(data + off, size - off, &lim, &cmd, &used, &why);
        if (rc == RESP_AGAIN || rc == RESP_ERROR) break;
        if (used == 0 || used > size - off) abort();
        off += used;
        if (rc == RESP_OK) continue;
        if (rc != RESP_SKIP || cmd.skip_bytes < 2) abort();
        rc = resp_skip(data + off, size - off, &lim, &cmd, &used, &why);
        if (used > size - off || (rc == RESP_ERROR && why == NULL)) abort();
        if (rc != RESP_OK) break;
        off += used;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    skip_pass(data, size);
    size_t off = 0;
    for (;;) {
        size_t used = 0;
        const char *why = NULL;
        int rc = resp_parse(data + off, size - off, NULL, &cmd, &used, &why);
        if (rc == RESP_AGAIN) {
            if (used != 0) abort();
            break;
        }
        if (rc == RESP_ERROR) {
            if (why == NULL || used != 0) abort();
            break;
        }
        if (rc != RESP_OK || used == 0 || used > size - off) abort();
        roundtrip(&cmd);
        off += used;
    }
    return 0;
}
