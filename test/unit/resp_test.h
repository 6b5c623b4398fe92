/* resp_test.h: what the RESP codec's unit tests (test_resp.c,
 * test_resp_limits.c) share: argument comparison, parsing with an expected
 * verdict, an expected protocol error, a command's encoding. */
#ifndef JUNO_TEST_RESP_H
#define JUNO_TEST_RESP_H

#include "unit.h"

#include "error.h"
#include "resp.h"

#include <stdlib.h>

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static inline int
arg_is(const struct resp_cmd *c, size_t i, const void *p, size_t n)
{
    return i < c->argc && c->argv[i].len == n && (n == 0 || memcmp(c->argv[i].ptr, p, n) == 0);
}

#define ARG_IS(c, i, lit) arg_is((c), (i), (lit), sizeof(lit) - 1)

/* Parse (buf, len) expecting rc; returns consumed. */
static inline size_t
parse_rc(const uint8_t *buf, size_t len, const struct resp_limits *lim, struct resp_cmd *c, int rc,
         const char **why)
{
    size_t used = 99;
    const char *w = NULL;
    int got = resp_parse(buf, len, lim, c, &used, &w);
    CHECK_EQ_I(got, rc);
    if (got != RESP_OK) CHECK_EQ_U(used, 0);
    if (got == RESP_ERROR) CHECK(w != NULL);
    if (why != NULL) *why = w;
    return used;
}

static inline void
check_error(const char *in, size_t len, const struct resp_limits *lim, const char *why)
{
    struct resp_cmd c;
    const char *w = NULL;
    resp_cmd_init(&c);
    parse_rc((const uint8_t *)in, len, lim, &c, RESP_ERROR, &w);
    if (w != NULL) CHECK_STR(w, why);
    resp_cmd_deinit(&c);
}

#define ERR(lit, lim, why) check_error((lit), sizeof(lit) - 1, (lim), (why))

/* Encode argv as a multibulk command into b. */
static inline void
encode_cmd(struct buf *b, const struct resp_arg *argv, size_t argc)
{
    CHECK_EQ_I(resp_array_header(b, argc), 0);
    for (size_t i = 0; i < argc; i++) CHECK_EQ_I(resp_bulk(b, argv[i].ptr, argv[i].len), 0);
}

#endif
