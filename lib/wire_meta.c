/* wire_meta.c: the meta component of JunoDB messages (see wire.h and
 * docs/protocol.md): decoding in any field order, canonical encoding, the
 * field setters, and UUID text.
 *
 * A meta component is: size u32, tag 02, n u8, n descriptor bytes (field tag in
 * bits 0-4, sizeType in bits 5-7), zero padding to a multiple of 4, the fields
 * back to back, zero padding to a multiple of 8. sizeType 1, 2, 3 are 4, 8 and
 * 16 bytes; 0 is variable: the field's first byte is its whole length.
 */
#include "wire.h"

#include "error.h"
#include "pack.h"

#include <string.h>

#define META_HEADER 6 /* size u32, tag u8, n u8 */
#define ST_VAR      0
#define ST_4        1
#define ST_8        2
#define ST_16       3
#define NUM_TAGS    17 /* tags 1..11 are JunoDB's, 16 juno's */

/* The sizeType each defined tag must carry; the descriptor is st << 5 | tag. */
static const uint8_t tag_size_type[NUM_TAGS] = {
    [WIRE_F_TTL] = ST_4,
    [WIRE_F_VERSION] = ST_4,
    [WIRE_F_CREATION_TIME] = ST_4,
    [WIRE_F_EXPIRATION_TIME] = ST_4,
    [WIRE_F_REQUEST_ID] = ST_16,
    [WIRE_F_SOURCE_INFO] = ST_VAR,
    [WIRE_F_LAST_MODIFIED] = ST_8,
    [WIRE_F_ORIGINATOR_ID] = ST_16,
    [WIRE_F_CORRELATION_ID] = ST_VAR,
    [WIRE_F_HANDLING_TIME] = ST_4,
    [WIRE_F_UDF_NAME] = ST_VAR,
    [WIRE_F_EXPIRATION_MS] = ST_8,
};

/* Tags 1..11 and WIRE_F_EXPIRATION_MS; others (12..15 included) are skipped. */
static int
tag_defined(int tag)
{
    return (tag > 0 && tag <= WIRE_F_UDF_NAME) || tag == WIRE_F_EXPIRATION_MS;
}

/* The order JunoDB servers and the Go client write fields in. */
static const uint8_t canonical_order[] = {
    WIRE_F_HANDLING_TIME,
    WIRE_F_REQUEST_ID,
    WIRE_F_ORIGINATOR_ID,
    WIRE_F_LAST_MODIFIED,
    WIRE_F_TTL,
    WIRE_F_VERSION,
    WIRE_F_CREATION_TIME,
    WIRE_F_EXPIRATION_TIME,
    WIRE_F_CORRELATION_ID,
    WIRE_F_SOURCE_INFO,
    WIRE_F_UDF_NAME,
    WIRE_F_EXPIRATION_MS, /* juno's, after JunoDB's */
};
#define NUM_CANONICAL (sizeof(canonical_order) / sizeof(canonical_order[0]))

static size_t
align4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

static size_t
align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* The u32 slot of a u32 field tag, or NULL. */
static uint32_t *
u32_slot(struct wire_meta *meta, int tag)
{
    switch (tag) {
    case WIRE_F_TTL: return &meta->ttl;
    case WIRE_F_VERSION: return &meta->version;
    case WIRE_F_CREATION_TIME: return &meta->creation_time;
    case WIRE_F_EXPIRATION_TIME: return &meta->expiration_time;
    case WIRE_F_HANDLING_TIME: return &meta->handling_time;
    default: return NULL;
    }
}

/* The value of a u32 field tag (the tag must be one). */
static uint32_t
u32_get(const struct wire_meta *meta, int tag)
{
    return *u32_slot((struct wire_meta *)meta, tag); /* read only */
}

static void
set_present(struct wire_meta *meta, int tag, int on)
{
    if (on)
        meta->present |= 1u << tag;
    else
        meta->present &= ~(1u << tag);
}

/* CorrelationID / UDFName: len u8, bytes, padding. f is the whole field. */
static int
decode_byte_seq(const uint8_t *f, size_t flen, struct wire_bytes *out)
{
    if (flen < 2) return WIRE_ST_BADMSG;
    size_t n = f[1];
    if (n > WIRE_MAX_BYTE_SEQ || 2 + n > flen) return WIRE_ST_BADMSG;
    out->ptr = f + 2;
    out->len = n;
    return 0;
}

/* SourceInfo: b1 = app length | 0x80 for IPv6, port u16, ip, app, padding. */
static int
decode_source(const uint8_t *f, size_t flen, struct wire_source *src)
{
    if (flen < 4) return WIRE_ST_BADMSG;
    size_t app_len = f[1] & 0x7F, ip_len = (f[1] & 0x80) ? 16 : 4;
    if (4 + ip_len + app_len > flen) return WIRE_ST_BADMSG;
    memset(src, 0, sizeof(*src));
    src->ipv6 = ip_len == 16;
    src->port = unpack_u16(f + 2);
    memcpy(src->ip, f + 4, ip_len);
    src->app_len = (uint8_t)app_len;
    src->app = f + 4 + ip_len;
    return 0;
}

/* One defined field (its sizeType already checked) of flen bytes at f. */
static int
decode_field(int tag, const uint8_t *f, size_t flen, struct wire_meta *meta)
{
    uint32_t *u = u32_slot(meta, tag);
    if (u != NULL) {
        *u = unpack_u32(f);
        set_present(meta, tag, *u != 0);
        return 0;
    }
    switch (tag) {
    case WIRE_F_LAST_MODIFIED:
        meta->last_modified = unpack_u64(f);
        set_present(meta, tag, meta->last_modified != 0);
        return 0;
    case WIRE_F_EXPIRATION_MS:
        meta->expiration_ms = unpack_u64(f);
        set_present(meta, tag, meta->expiration_ms != 0);
        return 0;
    case WIRE_F_REQUEST_ID: memcpy(meta->request_id, f, 16); break;
    case WIRE_F_ORIGINATOR_ID: memcpy(meta->originator_id, f, 16); break;
    case WIRE_F_SOURCE_INFO:
        if (decode_source(f, flen, &meta->source) != 0) return WIRE_ST_BADMSG;
        break;
    case WIRE_F_CORRELATION_ID:
        if (decode_byte_seq(f, flen, &meta->correlation_id) != 0) return WIRE_ST_BADMSG;
        break;
    case WIRE_F_UDF_NAME:
        if (decode_byte_seq(f, flen, &meta->udf_name) != 0) return WIRE_ST_BADMSG;
        break;
    default: return 0;
    }
    set_present(meta, tag, 1);
    return 0;
}

int
wire__meta_decode(const uint8_t *c, size_t size, struct wire_meta *meta)
{
    memset(meta, 0, sizeof(*meta));
    if (size < META_HEADER) return WIRE_ST_BADMSG;
    size_t n = c[5];
    if (META_HEADER + n > size) return WIRE_ST_BADMSG;
    size_t off = align4(META_HEADER + n);
    for (size_t i = 0; i < n; i++) {
        uint8_t d = c[META_HEADER + i];
        int tag = d & 0x1F, st = d >> 5;
        size_t flen;
        if (off > size) return WIRE_ST_BADMSG;
        if (st == ST_VAR) {
            if (off == size || c[off] == 0) return WIRE_ST_BADMSG;
            flen = c[off];
        } else if (st <= ST_16) {
            flen = (size_t)2 << st;
        } else {
            return WIRE_ST_BADMSG; /* sizeType 4..7 is undefined */
        }
        if (flen > size - off) return WIRE_ST_BADMSG;
        if (tag_defined(tag)) {
            if (st != tag_size_type[tag]) return WIRE_ST_BADMSG;
            if (decode_field(tag, c + off, flen, meta) != 0) return WIRE_ST_BADMSG;
        }
        off += flen; /* an unknown tag is skipped by its size */
    }
    return 0;
}

#define BIT(tag) (1u << (tag))
#define TAGS_U32                                                                                   \
    (BIT(WIRE_F_TTL) | BIT(WIRE_F_VERSION) | BIT(WIRE_F_CREATION_TIME) |                           \
     BIT(WIRE_F_EXPIRATION_TIME) | BIT(WIRE_F_HANDLING_TIME))
#define TAGS_U64 (BIT(WIRE_F_LAST_MODIFIED) | BIT(WIRE_F_EXPIRATION_MS))
#define TAGS_ID  (BIT(WIRE_F_REQUEST_ID) | BIT(WIRE_F_ORIGINATOR_ID))
#define TAGS_VAR (BIT(WIRE_F_SOURCE_INFO) | BIT(WIRE_F_CORRELATION_ID) | BIT(WIRE_F_UDF_NAME))

/* The fields an encoding carries: present ones, but a number that is 0. Every
 * message the daemons exchange is sized and written through here, so this
 * is bit arithmetic, not a walk of every tag (callgrind: a third of the
 * instructions of the walk it replaced). */
static uint32_t
sent_fields(const struct wire_meta *meta)
{
    uint32_t s = meta->present & (TAGS_U32 | TAGS_U64 | TAGS_ID | TAGS_VAR);
    if (meta->ttl == 0) s &= ~BIT(WIRE_F_TTL);
    if (meta->version == 0) s &= ~BIT(WIRE_F_VERSION);
    if (meta->creation_time == 0) s &= ~BIT(WIRE_F_CREATION_TIME);
    if (meta->expiration_time == 0) s &= ~BIT(WIRE_F_EXPIRATION_TIME);
    if (meta->handling_time == 0) s &= ~BIT(WIRE_F_HANDLING_TIME);
    if (meta->last_modified == 0) s &= ~BIT(WIRE_F_LAST_MODIFIED);
    if (meta->expiration_ms == 0) s &= ~BIT(WIRE_F_EXPIRATION_MS);
    return s;
}

/* The encoded length of a variable field (SourceInfo, CorrelationID,
 * UDFName), or JUNO_EINVAL. */
static int
var_len(const struct wire_meta *meta, int tag)
{
    if (tag == WIRE_F_SOURCE_INFO) {
        if (meta->source.app_len > WIRE_MAX_APP_NAME) return JUNO_EINVAL;
        if (meta->source.app_len > 0 && meta->source.app == NULL) return JUNO_EINVAL;
        return (int)align4(4 + (meta->source.ipv6 ? 16 : 4) + (size_t)meta->source.app_len);
    }
    const struct wire_bytes *b = tag == WIRE_F_UDF_NAME ? &meta->udf_name : &meta->correlation_id;
    if (b->len > WIRE_MAX_BYTE_SEQ || (b->len > 0 && b->ptr == NULL)) return JUNO_EINVAL;
    return (int)align4(2 + b->len);
}

/* The encoded length of a field that sent_fields says is sent. */
static int
field_len(const struct wire_meta *meta, int tag)
{
    uint32_t b = BIT(tag);
    return b & TAGS_U32 ? 4 : b & TAGS_U64 ? 8 : b & TAGS_ID ? 16 : var_len(meta, tag);
}

/* The whole size of the meta component for the fields s. */
static int
meta_size(const struct wire_meta *meta, uint32_t s, size_t *size)
{
    size_t data = 4 * (size_t)__builtin_popcount(s & TAGS_U32) +
                  8 * (size_t)__builtin_popcount(s & TAGS_U64) +
                  16 * (size_t)__builtin_popcount(s & TAGS_ID);
    for (uint32_t v = s & TAGS_VAR; v != 0; v &= v - 1) {
        int len = var_len(meta, __builtin_ctz(v));
        if (len < 0) return len;
        data += (size_t)len;
    }
    *size = align8(align4(META_HEADER + (size_t)__builtin_popcount(s)) + data);
    return 0;
}

int
wire__meta_size(const struct wire_meta *meta, size_t *size)
{
    return meta_size(meta, sent_fields(meta), size);
}

static void
write_byte_seq(const struct wire_bytes *b, uint8_t *f, size_t flen)
{
    f[0] = (uint8_t)flen;
    f[1] = (uint8_t)b->len;
    if (b->len > 0) memcpy(f + 2, b->ptr, b->len);
}

static void
write_field(const struct wire_meta *meta, int tag, uint8_t *f, size_t flen)
{
    const struct wire_source *src = &meta->source;
    size_t ip_len = src->ipv6 ? 16 : 4;
    switch (tag) {
    case WIRE_F_LAST_MODIFIED: pack_u64(f, meta->last_modified); break;
    case WIRE_F_EXPIRATION_MS: pack_u64(f, meta->expiration_ms); break;
    case WIRE_F_REQUEST_ID: memcpy(f, meta->request_id, 16); break;
    case WIRE_F_ORIGINATOR_ID: memcpy(f, meta->originator_id, 16); break;
    case WIRE_F_SOURCE_INFO:
        f[0] = (uint8_t)flen;
        f[1] = (uint8_t)(src->app_len | (src->ipv6 ? 0x80 : 0));
        pack_u16(f + 2, src->port);
        memcpy(f + 4, src->ip, ip_len);
        if (src->app_len > 0) memcpy(f + 4 + ip_len, src->app, src->app_len);
        break;
    case WIRE_F_CORRELATION_ID: write_byte_seq(&meta->correlation_id, f, flen); break;
    case WIRE_F_UDF_NAME: write_byte_seq(&meta->udf_name, f, flen); break;
    default: pack_u32(f, u32_get(meta, tag)); break;
    }
}

void
wire__meta_write(const struct wire_meta *meta, uint8_t *p, size_t size)
{
    uint32_t s = sent_fields(meta);
    size_t n = (size_t)__builtin_popcount(s);
    memset(p, 0, size); /* every padding byte is 00 */
    pack_u32(p, (uint32_t)size);
    p[4] = 2;
    p[5] = (uint8_t)n;
    size_t off = align4(META_HEADER + n), k = 0;
    for (size_t i = 0; i < NUM_CANONICAL; i++) {
        int tag = canonical_order[i];
        if (!(s & BIT(tag))) continue;
        size_t len = (size_t)field_len(meta, tag);
        p[META_HEADER + k++] = (uint8_t)(tag_size_type[tag] << 5 | tag);
        write_field(meta, tag, p + off, len);
        off += len;
    }
}

void
wire_meta_set_u32(struct wire_meta *meta, int tag, uint32_t v)
{
    uint32_t *u = u32_slot(meta, tag);
    if (u == NULL) return;
    *u = v;
    set_present(meta, tag, 1);
}

void
wire_meta_set_expiration(struct wire_meta *meta, uint64_t ms)
{
    meta->expiration_ms = ms;
    set_present(meta, WIRE_F_EXPIRATION_MS, ms != 0);
    meta->expiration_time = wire_ms_to_s(ms);
    set_present(meta, WIRE_F_EXPIRATION_TIME, ms != 0);
}

uint64_t
wire_meta_expiration(const struct wire_meta *meta)
{
    if (wire_meta_has(meta, WIRE_F_EXPIRATION_MS)) return meta->expiration_ms;
    if (wire_meta_has(meta, WIRE_F_EXPIRATION_TIME)) return (uint64_t)meta->expiration_time * 1000;
    return 0;
}

void
wire_meta_set_last_modified(struct wire_meta *meta, uint64_t ns)
{
    meta->last_modified = ns;
    set_present(meta, WIRE_F_LAST_MODIFIED, 1);
}

void
wire_meta_set_request_id(struct wire_meta *meta, const uint8_t id[16])
{
    memcpy(meta->request_id, id, 16);
    set_present(meta, WIRE_F_REQUEST_ID, 1);
}

void
wire_meta_set_originator_id(struct wire_meta *meta, const uint8_t id[16])
{
    memcpy(meta->originator_id, id, 16);
    set_present(meta, WIRE_F_ORIGINATOR_ID, 1);
}

int
wire_meta_set_source(struct wire_meta *meta, int ipv6, const uint8_t *ip, uint16_t port,
                     const void *app, size_t app_len)
{
    if (app_len > WIRE_MAX_APP_NAME || (app_len > 0 && app == NULL)) return JUNO_EINVAL;
    memset(&meta->source, 0, sizeof(meta->source));
    meta->source.ipv6 = ipv6 ? 1 : 0;
    if (ip != NULL) memcpy(meta->source.ip, ip, ipv6 ? 16 : 4);
    meta->source.port = port;
    meta->source.app = app;
    meta->source.app_len = (uint8_t)app_len;
    set_present(meta, WIRE_F_SOURCE_INFO, 1);
    return 0;
}

static int
set_byte_seq(struct wire_meta *meta, int tag, struct wire_bytes *b, const void *p, size_t len)
{
    if (len > WIRE_MAX_BYTE_SEQ || (len > 0 && p == NULL)) return JUNO_EINVAL;
    b->ptr = p;
    b->len = len;
    set_present(meta, tag, 1);
    return 0;
}

int
wire_meta_set_correlation_id(struct wire_meta *meta, const void *p, size_t len)
{
    return set_byte_seq(meta, WIRE_F_CORRELATION_ID, &meta->correlation_id, p, len);
}

int
wire_meta_set_udf_name(struct wire_meta *meta, const void *p, size_t len)
{
    return set_byte_seq(meta, WIRE_F_UDF_NAME, &meta->udf_name, p, len);
}

int
wire_meta_has(const struct wire_meta *meta, int tag)
{
    if (tag < 0 || tag > 31) return 0;
    return (meta->present >> tag) & 1;
}

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int
wire_uuid_parse(const char *text, uint8_t out[16])
{
    size_t len = strlen(text);
    int dashed = len == 36;
    uint8_t id[16];
    if (len != 36 && len != 32) return JUNO_EINVAL;
    for (size_t i = 0, j = 0; j < 16; j++) {
        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (text[i++] != '-') return JUNO_EINVAL;
        }
        int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0) return JUNO_EINVAL;
        id[j] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    memcpy(out, id, 16);
    return 0;
}

void
wire_uuid_format(const uint8_t id[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int j = 0; j < 16; j++) {
        if (j == 4 || j == 6 || j == 8 || j == 10) *p++ = '-';
        *p++ = hex[id[j] >> 4];
        *p++ = hex[id[j] & 15];
    }
    *p = '\0';
}
