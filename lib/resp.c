/* resp.c: RESP request parsing (see resp.h; replies: resp_reply.c).
 *
 * The parser is stateless: each call walks the command from its start. A
 * multibulk command is walked twice, once to see that all of it is there and
 * valid, then to fill argv, so argv is allocated only for a complete command
 * (its size bounded by the bytes received) and never per argument. Header
 * lines are judged as their bytes arrive: a count or length that cannot be
 * valid is an error without waiting for the rest.
 */
#include "resp.h"

#include "error.h"
#include "rnum.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIGITS RNUM_LL_CHARS /* string2ll's limit: LONG_STR_SIZE - 1 */

static const char E_MBULK_LEN[] = "Protocol error: invalid multibulk length";
static const char E_BULK_LEN[] = "Protocol error: invalid bulk length";
static const char E_MBULK_UNAUTH[] = "Protocol error: unauthenticated multibulk length";
static const char E_BULK_UNAUTH[] = "Protocol error: unauthenticated bulk length";
static const char E_BULK_CRLF[] = "Protocol error: expected '\\r\\n' after bulk data";
static const char E_INLINE_BIG[] = "Protocol error: too big inline request";
static const char E_QUOTES[] = "Protocol error: unbalanced quotes in request";
static const char E_INLINE_ARGS[] = "Protocol error: too many arguments in inline request";
static const char E_NOMEM[] = "out of memory";

static int
fail(const char **why, const char *reason)
{
    if (why != NULL) *why = reason;
    return RESP_ERROR;
}

/* The header line "<type byte><digits>\r\n" at pos (buf[pos] is there).
 * 1: *v holds its value, *next is past the \n; 0: more bytes needed;
 * -1: it cannot be a number (no \r within MAX_DIGITS + 1, a \r without \n,
 * not string2ll). */
static int
header_line(const uint8_t *buf, size_t len, size_t pos, int64_t *v, size_t *next)
{
    size_t start = pos + 1, end = start + MAX_DIGITS + 1;
    for (size_t i = start; i < len && i < end; i++) {
        if (buf[i] != '\r') continue;
        if (i + 1 >= len) return 0;
        if (buf[i + 1] != '\n') return -1;
        if (rnum_parse_ll(buf + start, i - start, v) != 0) return -1;
        *next = i + 2;
        return 1;
    }
    return len >= end ? -1 : 0;
}

static const char *
expected_dollar(struct resp_cmd *cmd, uint8_t c)
{
    if (c >= 0x20 && c < 0x7f)
        snprintf(cmd->why, sizeof(cmd->why), "Protocol error: expected '$', got '%c'", c);
    else
        snprintf(cmd->why, sizeof(cmd->why), "Protocol error: expected '$', got '\\x%02x'", c);
    return cmd->why;
}

/* Make room for n argv entries (n <= max_args, checked by the caller). */
static int
argv_reserve(struct resp_cmd *cmd, size_t n)
{
    if (n <= RESP_INLINE_ARGS) {
        cmd->argv = cmd->inline_argv;
        return 0;
    }
    if (n > cmd->heap_cap) {
        if (n > SIZE_MAX / sizeof(struct resp_arg)) return JUNO_ENOMEM;
        struct resp_arg *a = realloc(cmd->heap_argv, n * sizeof(*a));
        if (a == NULL) return JUNO_ENOMEM;
        cmd->heap_argv = a;
        cmd->heap_cap = n;
    }
    cmd->argv = cmd->heap_argv;
    return 0;
}

/* Walk the multibulk command at buf (buf[0] == '*'). out NULL: only judge it;
 * otherwise fill out[0..n) (the walk is known to succeed). */
static int
mbulk_walk(const uint8_t *buf, size_t len, const struct resp_limits *l, struct resp_cmd *cmd,
           struct resp_arg *out, size_t *argc, size_t *consumed, const char **why)
{
    int64_t n, blen;
    size_t pos;
    uint64_t data = 0; /* bulk data announced so far */
    cmd->announced = 0;
    int rc = header_line(buf, len, 0, &n, &pos);
    if (rc == 0) return RESP_AGAIN;
    if (rc < 0) return fail(why, E_MBULK_LEN);
    if (n > 0 && (uint64_t)n > l->max_args)
        return fail(why, l->unauth ? E_MBULK_UNAUTH : E_MBULK_LEN);
    if (n <= 0) n = 0; /* *0, *-1: consumed, no command */
    for (int64_t i = 0; i < n; i++) {
        if (pos >= len) return RESP_AGAIN;
        if (buf[pos] != '$') return fail(why, expected_dollar(cmd, buf[pos]));
        rc = header_line(buf, len, pos, &blen, &pos);
        if (rc == 0) return RESP_AGAIN;
        if (rc < 0 || blen < 0) return fail(why, E_BULK_LEN);
        if ((uint64_t)blen > l->max_bulk) return fail(why, l->unauth ? E_BULK_UNAUTH : E_BULK_LEN);
        int too_long = l->max_keep != 0 && (uint64_t)blen > l->max_keep;
        if (too_long || (l->max_data != 0 && data + (uint64_t)blen > l->max_data)) {
            cmd->skip_data = (uint8_t)!too_long; /* (the judging walk only: the same limits) */
            cmd->skip_bytes = (uint64_t)blen + 2;
            cmd->skip_args = (uint64_t)(n - i - 1);
            *consumed = pos;
            return RESP_SKIP;
        }
        if (out != NULL) out[i] = (struct resp_arg){buf + pos, (size_t)blen};
        data += (uint64_t)blen;
        cmd->announced = data;
        if (len - pos < (size_t)blen) return RESP_AGAIN;
        pos += (size_t)blen;
        if ((pos < len && buf[pos] != '\r') || (pos + 1 < len && buf[pos + 1] != '\n'))
            return fail(why, E_BULK_CRLF);
        if (len - pos < 2) return RESP_AGAIN;
        pos += 2;
    }
    *argc = (size_t)n;
    *consumed = pos;
    return RESP_OK;
}

static int
is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int
hex_val(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Split line s[0..n) (no NUL in it) like sdssplitargs. argv NULL: only count
 * the words. scratch NULL: words are copied verbatim (no quotes in s), so
 * they point into s; otherwise unescaped words are written to scratch (at
 * most n bytes). 0 with *argc, or -1 for unbalanced quotes. */
static int
split_line(const uint8_t *s, size_t n, struct resp_arg *argv, uint8_t *scratch, size_t *argc)
{
#define AT(j) ((j) < n ? s[j] : 0)
    size_t i = 0, k = 0, w = 0;
    for (;;) {
        while (i < n && is_space(s[i])) i++;
        if (i >= n) break;
        size_t start = i, wstart = w, tlen = 0;
        int inq = 0, insq = 0, done = 0;
        while (!done) {
            int c = AT(i), emit = -1;
            if (inq) {
                if (c == '\\' && AT(i + 1) == 'x' && hex_val(AT(i + 2)) >= 0 &&
                    hex_val(AT(i + 3)) >= 0) {
                    emit = hex_val(AT(i + 2)) * 16 + hex_val(AT(i + 3));
                    i += 3;
                } else if (c == '\\' && AT(i + 1)) {
                    i++;
                    switch (AT(i)) {
                    case 'n': emit = '\n'; break;
                    case 'r': emit = '\r'; break;
                    case 't': emit = '\t'; break;
                    case 'b': emit = '\b'; break;
                    case 'a': emit = '\a'; break;
                    default: emit = AT(i); break;
                    }
                } else if (c == '"') {
                    /* a closing quote must be followed by a space or the end */
                    if (AT(i + 1) && !is_space(AT(i + 1))) return -1;
                    done = 1;
                } else if (c == 0) {
                    return -1;
                } else {
                    emit = c;
                }
            } else if (insq) {
                if (c == '\\' && AT(i + 1) == '\'') {
                    i++;
                    emit = '\'';
                } else if (c == '\'') {
                    if (AT(i + 1) && !is_space(AT(i + 1))) return -1;
                    done = 1;
                } else if (c == 0) {
                    return -1;
                } else {
                    emit = c;
                }
            } else {
                switch (c) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case 0: done = 1; break;
                case '"': inq = 1; break;
                case '\'': insq = 1; break;
                default: emit = c; break;
                }
            }
            if (emit >= 0) {
                if (scratch != NULL) scratch[w++] = (uint8_t)emit;
                tlen++;
            }
            if (i < n) i++;
        }
        if (argv != NULL)
            argv[k] = scratch != NULL ? (struct resp_arg){scratch + wstart, w - wstart}
                                      : (struct resp_arg){s + start, tlen};
        k++;
    }
    *argc = k;
    return 0;
#undef AT
}

static int
inline_parse(const uint8_t *buf, size_t len, const struct resp_limits *l, struct resp_cmd *cmd,
             size_t *consumed, const char **why)
{
    size_t scan = len < l->max_inline + 1 ? len : l->max_inline + 1;
    const uint8_t *nl = memchr(buf, '\n', scan);
    if (nl == NULL) return len > l->max_inline ? fail(why, E_INLINE_BIG) : RESP_AGAIN;
    size_t n = (size_t)(nl - buf), argc;
    if (n > 0 && buf[n - 1] == '\r') n--;
    const uint8_t *z = memchr(buf, 0, n); /* the line is a C string to Redis */
    if (z != NULL) n = (size_t)(z - buf);
    if (split_line(buf, n, NULL, NULL, &argc) != 0) return fail(why, E_QUOTES);
    if (argc > l->max_args) return fail(why, E_INLINE_ARGS);
    if (argv_reserve(cmd, argc) != 0) return fail(why, E_NOMEM);
    uint8_t *scratch = NULL;
    if (memchr(buf, '"', n) != NULL || memchr(buf, '\'', n) != NULL) {
        if (n > cmd->scratch_cap) {
            uint8_t *p = realloc(cmd->scratch, n);
            if (p == NULL) return fail(why, E_NOMEM);
            cmd->scratch = p;
            cmd->scratch_cap = n;
        }
        scratch = cmd->scratch;
    }
    split_line(buf, n, cmd->argv, scratch, &cmd->argc);
    *consumed = (size_t)(nl - buf) + 1;
    return RESP_OK;
}

void
resp_cmd_init(struct resp_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    cmd->argv = cmd->inline_argv;
}

void
resp_cmd_deinit(struct resp_cmd *cmd)
{
    free(cmd->heap_argv);
    free(cmd->scratch);
    resp_cmd_init(cmd);
}

static struct resp_limits
limits(const struct resp_limits *lim)
{
    struct resp_limits l = {
        RESP_DEFAULT_MAX_ARGS, RESP_DEFAULT_MAX_BULK, RESP_DEFAULT_MAX_INLINE, 0, 0, 0};
    if (lim != NULL) {
        if (lim->max_args != 0) l.max_args = lim->max_args;
        if (lim->max_bulk != 0) l.max_bulk = lim->max_bulk;
        if (lim->max_inline != 0) l.max_inline = lim->max_inline;
        l.max_keep = lim->max_keep;
        l.max_data = lim->max_data;
        l.unauth = lim->unauth;
    }
    return l;
}

int
resp_parse(const uint8_t *buf, size_t len, const struct resp_limits *lim, struct resp_cmd *cmd,
           size_t *consumed, const char **why)
{
    struct resp_limits l = limits(lim);
    cmd->argc = 0;
    cmd->argv = cmd->inline_argv;
    *consumed = 0;
    if (len == 0) return RESP_AGAIN;
    if (buf[0] != '*') return inline_parse(buf, len, &l, cmd, consumed, why);
    size_t argc, used;
    int rc = mbulk_walk(buf, len, &l, cmd, NULL, &argc, &used, why);
    if (rc == RESP_SKIP) *consumed = used;
    if (rc != RESP_OK) return rc;
    if (argv_reserve(cmd, argc) != 0) return fail(why, E_NOMEM);
    mbulk_walk(buf, len, &l, cmd, cmd->argv, &cmd->argc, consumed, why);
    return RESP_OK;
}

int
resp_skip(const uint8_t *buf, size_t len, const struct resp_limits *lim, struct resp_cmd *cmd,
          size_t *consumed, const char **why)
{
    struct resp_limits l = limits(lim);
    size_t pos = 0;
    *consumed = 0;
    for (;;) {
        size_t n = len - pos < cmd->skip_bytes ? len - pos : (size_t)cmd->skip_bytes;
        pos += n;
        cmd->skip_bytes -= n;
        *consumed = pos;
        if (cmd->skip_bytes > 0) return RESP_AGAIN;
        if (cmd->skip_args == 0) return RESP_OK;
        if (pos >= len) return RESP_AGAIN;
        if (buf[pos] != '$') return fail(why, expected_dollar(cmd, buf[pos]));
        int64_t blen;
        int rc = header_line(buf, len, pos, &blen, &pos);
        if (rc == 0) return RESP_AGAIN; /* the partial header stays for the next call */
        if (rc < 0 || blen < 0 || (uint64_t)blen > l.max_bulk) return fail(why, E_BULK_LEN);
        cmd->skip_args--;
        cmd->skip_bytes = (uint64_t)blen + 2;
    }
}

int
resp_arg_eq(const struct resp_cmd *cmd, size_t i, const char *word)
{
    if (i >= cmd->argc) return 0;
    size_t n = strlen(word);
    const uint8_t *p = cmd->argv[i].ptr;
    if (cmd->argv[i].len != n) return 0;
    for (size_t j = 0; j < n; j++) {
        int a = p[j], b = (unsigned char)word[j];
        if (a >= 'A' && a <= 'Z') a += 'a' - 'A';
        if (b >= 'A' && b <= 'Z') b += 'a' - 'A';
        if (a != b) return 0;
    }
    return 1;
}

int
resp_arg_i64(const struct resp_cmd *cmd, size_t i, int64_t *out)
{
    if (i >= cmd->argc) return JUNO_EINVAL;
    return rnum_parse_ll(cmd->argv[i].ptr, cmd->argv[i].len, out);
}
