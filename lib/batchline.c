/* batchline.c: the text format of `juno batch` (see batchline.h). */
#include "batchline.h"
#include "cli.h"

#include <string.h>

static int
hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long
batchline_unescape(const char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c != '\\') {
            out[o++] = c;
            continue;
        }
        if (++i >= len) return -1;
        switch (in[i]) {
        case 't': out[o++] = '\t'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case '0': out[o++] = '\0'; break;
        case '\\': out[o++] = '\\'; break;
        case 'x': {
            int hi = i + 1 < len ? hex_digit((unsigned char)in[i + 1]) : -1;
            int lo = i + 2 < len ? hex_digit((unsigned char)in[i + 2]) : -1;
            if (hi < 0 || lo < 0) return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
            break;
        }
        default: return -1;
        }
    }
    return (long)o;
}

size_t
batchline_escape(const uint8_t *p, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        char e = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\\' ? '\\' : 0;
        if (e) {
            out[o++] = '\\';
            out[o++] = e;
        } else if (c < 0x20 || c == 0x7F) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

/* The command named by the len bytes at name, or NULL. */
static const struct batchline_cmd *
find_cmd(const struct batchline_syntax *syn, const char *name, size_t len)
{
    for (size_t i = 0; i < syn->ncmds; i++)
        if (strlen(syn->cmds[i].name) == len && memcmp(name, syn->cmds[i].name, len) == 0)
            return &syn->cmds[i];
    return NULL;
}

int
batchline_parse(const struct batchline_syntax *syn, char *line, size_t len, struct batchline *out,
                const char **why)
{
    /* Fields by length, not by NUL: a NUL byte is data like any other, and
     * stopping at one would drop the rest of the line without a word. One
     * field more than a line may have holds the rest of a line with too many. */
    char *f[BATCHLINE_MAX_FIELDS + 1];
    size_t fl[BATCHLINE_MAX_FIELDS + 1];
    int n = 0;
    char *s = line, *end = line + len, *tab;
    while (n < BATCHLINE_MAX_FIELDS && (tab = memchr(s, '\t', (size_t)(end - s))) != NULL) {
        *tab = '\0';
        f[n] = s, fl[n++] = (size_t)(tab - s);
        s = tab + 1;
    }
    f[n] = s, fl[n++] = (size_t)(end - s);
    memset(out, 0, sizeof(*out));
    const struct batchline_cmd *cmd = find_cmd(syn, f[0], fl[0]);
    if (cmd == NULL) return *why = syn->unknown, -1;
    out->kind = cmd->kind;
    if (cmd->fields == 4 && n == 4) {
        uint64_t v;
        if (strlen(f[3]) != fl[3] || cli_parse_u64(f[3], 1, UINT32_MAX, &v) != 0)
            return *why = "bad VERSION (1 to 4294967295)", -1;
        out->version = (uint32_t)v;
    }
    if (n < 2) return *why = "missing KEY", -1;
    if (n > cmd->fields) return *why = "too many fields", -1;
    long k = batchline_unescape(f[1], fl[1], f[1]);
    if (k < 0) return *why = "bad escape in KEY", -1;
    out->key = f[1];
    out->klen = (size_t)k;
    out->val = "";
    if (n >= 3) {
        long v = batchline_unescape(f[2], fl[2], f[2]);
        if (v < 0) return *why = "bad escape in VALUE", -1;
        out->val = f[2];
        out->vlen = (size_t)v;
    }
    return 0;
}
