/* fuzz_batch.c: libFuzzer target for the `juno batch` line format
 * (lib/batchline.c: what juno-cli reads from stdin, line by line).
 *
 * The input is a batch on stdin: it is cut into lines as getline does (the
 * newline removed, every other byte kept, NULs included) and each line is
 * parsed with the proxy mode's command table (2, 3 and 4 fields, an alias).
 * Checks:
 *   - the verdict, kind, KEY, VALUE and VERSION agree with a plain reference
 *     reading of the same bytes (split at tabs over the whole line, unescape
 *     each field), so no byte of a line is ignored or misread;
 *   - KEY and VALUE lie inside the line; a refusal gives one of the
 *     documented reasons;
 *   - a parsed line rebuilt with batchline_escape parses back to the same
 *     request, and escaping any bytes gives text without tab, newline, CR or
 *     NUL that unescapes to those bytes.
 * Anything else aborts.
 * Seeds: test/fuzz/seeds/fuzz_batch/ (batches like test/juno-cli.bats and
 * test/juno-store.bats send, escapes, bad lines); test/fuzz/fuzz_batch.dict.
 */
#include "batchline.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The table of src/juno-cli/proxy_batch.c (store_batch.c's is a part of it). */
enum { GET, PUT, CREATE, UPDATE, DEL };
static const struct batchline_cmd cmds[] = {
    {"get", GET, 2},       {"put", PUT, 3},       {"set", PUT, 3},
    {"create", CREATE, 3}, {"update", UPDATE, 4}, {"del", DEL, 2},
};
static const struct batchline_syntax syn = {cmds, sizeof(cmds) / sizeof(cmds[0]), "unknown"};

static const char *const reasons[] = {
    "unknown",           "bad VERSION (1 to 4294967295)", "missing KEY", "too many fields",
    "bad escape in KEY", "bad escape in VALUE",
};

/* The reference: fields of the whole line split at tabs (at most one more
 * than a line may have, as the parser), each unescaped on its own. */
struct ref {
    int ok;
    int kind;
    char key[4096], val[4096];
    long klen, vlen;
    uint64_t version;
};

static void
reference(const char *line, size_t len, struct ref *r)
{
    const char *f[BATCHLINE_MAX_FIELDS + 1];
    size_t fl[BATCHLINE_MAX_FIELDS + 1];
    int n = 0;
    const char *s = line, *end = line + len;
    while (n < BATCHLINE_MAX_FIELDS) {
        const char *tab = memchr(s, '\t', (size_t)(end - s));
        if (tab == NULL) break;
        f[n] = s, fl[n++] = (size_t)(tab - s);
        s = tab + 1;
    }
    f[n] = s, fl[n++] = (size_t)(end - s);
    r->ok = r->kind = 0, r->klen = r->vlen = 0, r->version = 0;
    const struct batchline_cmd *cmd = NULL;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strlen(cmds[i].name) == fl[0] && memcmp(cmds[i].name, f[0], fl[0]) == 0) cmd = &cmds[i];
    if (cmd == NULL || n < 2 || n > cmd->fields) return;
    r->kind = cmd->kind;
    if (n == 4) {
        if (fl[3] == 0) return;
        for (size_t i = 0; i < fl[3]; i++) {
            if (f[3][i] < '0' || f[3][i] > '9') return;
            if (r->version <= UINT32_MAX) r->version = r->version * 10 + (uint64_t)(f[3][i] - '0');
        }
        if (r->version < 1 || r->version > UINT32_MAX) return;
    }
    if ((r->klen = batchline_unescape(f[1], fl[1], r->key)) < 0) return;
    if (n >= 3 && (r->vlen = batchline_unescape(f[2], fl[2], r->val)) < 0) return;
    r->ok = 1;
}

static void
check_reason(const char *why)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (why != NULL && strcmp(why, reasons[i]) == 0) return;
    abort();
}

/* name TAB escape(key) [TAB escape(val) [TAB version]], parsed again. */
static void
rebuild(const struct batchline *l, const char *name, int had_value)
{
    size_t cap = strlen(name) + 4 * (l->klen + l->vlen) + 16;
    char *b = malloc(cap), *p = b;
    if (b == NULL) abort();
    memcpy(p, name, strlen(name)), p += strlen(name);
    *p++ = '\t';
    p += batchline_escape((const uint8_t *)l->key, l->klen, p);
    if (had_value || l->version) {
        *p++ = '\t';
        p += batchline_escape((const uint8_t *)l->val, l->vlen, p);
    }
    if (l->version) {
        char v[16];
        int n = snprintf(v, sizeof(v), "\t%u", (unsigned)l->version);
        memcpy(p, v, (size_t)n), p += n;
    }
    *p = '\0';
    struct batchline back;
    const char *why = NULL;
    if (batchline_parse(&syn, b, (size_t)(p - b), &back, &why) != 0) abort();
    if (back.kind != l->kind || back.version != l->version) abort();
    if (back.klen != l->klen || memcmp(back.key, l->key, l->klen) != 0) abort();
    if (back.vlen != l->vlen || memcmp(back.val, l->val, l->vlen) != 0) abort();
    free(b);
}

static void
check_escape(const char *p, size_t len)
{
    static char e[4 * 4096], back[4 * 4096]; /* one_line keeps len under 4096 */
    size_t n = batchline_escape((const uint8_t *)p, len, e);
    if (n > 4 * len) abort();
    for (size_t i = 0; i < n; i++)
        if (e[i] == '\t' || e[i] == '\n' || e[i] == '\r' || e[i] == '\0') abort();
    long m = batchline_unescape(e, n, back);
    if (m != (long)len || (len > 0 && memcmp(back, p, len) != 0)) abort();
}

static void
one_line(const char *text, size_t len)
{
    if (len >= 4096) return; /* the reference's buffers; libFuzzer stays under */
    char *line = malloc(len + 1);
    if (line == NULL) abort();
    memcpy(line, text, len);
    line[len] = '\0';
    struct ref r;
    reference(text, len, &r);
    const char *tab = memchr(text, '\t', len);
    size_t cmdlen = tab ? (size_t)(tab - text) : len;
    int had_value = tab != NULL && memchr(tab + 1, '\t', len - cmdlen - 1) != NULL;
    struct batchline l;
    const char *why = NULL;
    int rc = batchline_parse(&syn, line, len, &l, &why);
    if (rc != 0) {
        if (rc != -1) abort();
        check_reason(why);
        if (r.ok) abort(); /* refused a line the reference reads */
    } else {
        if (!r.ok || l.kind != r.kind || l.version != r.version) abort();
        if (l.key < line || l.key + l.klen > line + len) abort();
        if (l.vlen > 0 && (l.val < line || l.val + l.vlen > line + len)) abort();
        if ((long)l.klen != r.klen || memcmp(l.key, r.key, l.klen) != 0) abort();
        if ((long)l.vlen != r.vlen || memcmp(l.val, r.val, l.vlen) != 0) abort();
        char name[8] = "";
        if (cmdlen < sizeof(name)) memcpy(name, text, cmdlen), name[cmdlen] = '\0';
        rebuild(&l, name, had_value);
    }
    check_escape(text, len);
    free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        one_line(p, len);
        p += len + (nl != NULL);
    }
    return 0;
}
