/* escape.h: byte encodings for juno's text output, header-only so that the unit
 * tests (test/unit/test_client.c) can include it. The batch escapes are in
 * lib/batchline.h.
 *
 *   JSON        a string body: " \ and control characters escaped (RFC 8259).
 *   base64      RFC 4648 with padding, for values that are not UTF-8.
 *   UTF-8       strict validation (no overlongs, surrogates, or > U+10FFFF).
 */
#ifndef JUNO_CLI_ESCAPE_H
#define JUNO_CLI_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

/* 1 if p (len bytes) is well-formed UTF-8, else 0. */
static inline int
esc_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i <= n) return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += n + 1;
    }
    return 1;
}

/* The body of a JSON string for p (len bytes, assumed UTF-8) into out (at
 * least 6 * len bytes, no quotes, no NUL added). Returns the length written. */
static inline size_t
esc_json(const uint8_t *p, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        char e = c == '"'    ? '"'
                 : c == '\\' ? '\\'
                 : c == '\n' ? 'n'
                 : c == '\t' ? 't'
                 : c == '\r' ? 'r'
                 : c == '\b' ? 'b'
                 : c == '\f' ? 'f'
                             : 0;
        if (e) {
            out[o++] = '\\';
            out[o++] = e;
        } else if (c < 0x20 || c == 0x7F) {
            out[o++] = '\\';
            out[o++] = 'u';
            out[o++] = '0';
            out[o++] = '0';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

/* The size esc_base64 writes for len bytes. */
static inline size_t
esc_base64_size(size_t len)
{
    return (len + 2) / 3 * 4;
}

/* Base64 of p (len bytes) into out (esc_base64_size(len) bytes, no NUL added). */
static inline size_t
esc_base64(const uint8_t *p, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}

#endif
