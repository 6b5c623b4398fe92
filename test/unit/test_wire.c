/* test_wire.c: the JunoDB wire codec against the reference vectors
 * (/work/shared/reference/junodb-wire-vectors.md, W01..W28): byte-exact
 * encoding, decoding of the current and published forms, framing at every cut
 * and one byte at a time, malformed input, field orders, limits, and a
 * deterministic mutation loop. */
#include "unit.h"

#include "error.h"
#include "pack.h"
#include "wire.h"

#include <stdlib.h>

#define MAXMSG 4096

/* ---- building the vectors' content ---------------------------------------- */

static const uint8_t LOCALHOST[4] = {127, 0, 0, 1};

static void
msg_init(struct wire_msg *m, uint8_t type_flag, uint32_t opaque, uint8_t op)
{
    memset(m, 0, sizeof(*m));
    m->proto_version = 1;
    m->type_flag = type_flag;
    m->opaque = opaque;
    m->opcode = op;
}

static void
set_bytes(struct wire_bytes *b, const char *s)
{
    b->ptr = (const uint8_t *)s;
    b->len = s ? strlen(s) : 0;
}

/* namespace, key and a type-00 value (NULL: no value). */
static void
set_payload(struct wire_msg *m, const char *ns, const char *key, const char *value)
{
    set_bytes(&m->ns, ns);
    set_bytes(&m->key, key);
    set_bytes(&m->value, value);
    m->value_type = 0;
}

static void
set_rid(struct wire_meta *meta, const char *uuid)
{
    uint8_t id[16];
    CHECK_EQ_I(wire_uuid_parse(uuid, id), 0);
    wire_meta_set_request_id(meta, id);
}

static void
set_src(struct wire_meta *meta, uint16_t port, const char *app)
{
    CHECK_EQ_I(wire_meta_set_source(meta, 0, LOCALHOST, port, app, strlen(app)), 0);
}

/* Create / Update / Set request: RequestID, optional TTL, SourceInfo, value. */
static void
build_request(struct wire_msg *m, uint8_t op, const char *rid, uint32_t ttl, uint16_t port,
              const char *app, const char *value)
{
    msg_init(m, 0x40, 0, op);
    set_rid(&m->meta, rid);
    if (ttl) wire_meta_set_u32(&m->meta, WIRE_F_TTL, ttl);
    set_src(&m->meta, port, app);
    set_payload(m, "DummyNS", "key", value);
}

/* Write response: RequestID, TTL, Version, CreationTime[, ExpirationTime]. */
static void
build_response(struct wire_msg *m, uint8_t op, const char *rid, uint32_t ttl, uint32_t ver,
               uint32_t ct, uint32_t et, const char *value)
{
    msg_init(m, 0x00, 0, op);
    set_rid(&m->meta, rid);
    wire_meta_set_u32(&m->meta, WIRE_F_TTL, ttl);
    wire_meta_set_u32(&m->meta, WIRE_F_VERSION, ver);
    wire_meta_set_u32(&m->meta, WIRE_F_CREATION_TIME, ct);
    if (et) wire_meta_set_u32(&m->meta, WIRE_F_EXPIRATION_TIME, et);
    set_payload(m, "DummyNS", "key", value);
}

#define RID01 "51d0f4af-505f-11e7-9176-000c29cadc31"
#define RID03 "88f8fbde-505f-11e7-a836-000c29cadc31"
#define RID05 "cb475df7-505f-11e7-9926-000c29cadc31"
#define RID07 "d91ff0df-505f-11e7-8de8-000c29cadc31"
#define RID11 "ecca2148-ff4b-11e7-99ea-000c29cadc31"
#define RID13 "c9ac000b-ff4c-11e7-a119-000c29cadc31"
#define RID15 "9d3bed6b-4c9b-11e7-9a0e-000c29cadc31"
#define RID17 "ca5c763a-4c9b-11e7-97ed-000c29cadc31"
#define VALUE "value to store"
#define APP   "DummyAppName"

static void
build_w01(struct wire_msg *m)
{
    build_request(m, WIRE_OP_CREATE, RID01, 1800, 43276, APP, VALUE);
}

static void
build_w02(struct wire_msg *m)
{
    build_response(m, WIRE_OP_CREATE, RID01, 1800, 1, 1497375598, 0, NULL);
}

static void
build_w03(struct wire_msg *m)
{
    build_request(m, WIRE_OP_GET, RID03, 0, 43290, APP, NULL);
}

static void
build_w04(struct wire_msg *m)
{
    build_response(m, WIRE_OP_GET, RID03, 1708, 1, 1497375598, 0, VALUE);
}

static void
build_w05(struct wire_msg *m)
{
    build_request(m, WIRE_OP_UPDATE, RID05, 0, 43298, APP, VALUE);
}

static void
build_w06(struct wire_msg *m)
{
    build_response(m, WIRE_OP_UPDATE, RID05, 1596, 2, 1497375598, 0, NULL);
}

static void
build_w07(struct wire_msg *m)
{
    build_request(m, WIRE_OP_SET, RID07, 0, 43304, APP, VALUE);
}

static void
build_w08(struct wire_msg *m)
{
    build_response(m, WIRE_OP_SET, RID07, 1573, 3, 1497375598, 0, NULL);
}

static void
build_w11(struct wire_msg *m)
{
    build_request(m, WIRE_OP_CREATE, RID11, 1800, 56588, APP, VALUE);
}

static void
build_w12(struct wire_msg *m)
{
    build_response(m, WIRE_OP_CREATE, RID11, 1800, 1, 1516608721, 1516610521, NULL);
}

static void
build_w13(struct wire_msg *m)
{
    build_request(m, WIRE_OP_GET, RID13, 0, 56618, "junocli", NULL);
}

static void
build_w15(struct wire_msg *m)
{
    build_request(m, WIRE_OP_UPDATE, RID15, 0, 49040, APP, VALUE);
}

static void
build_w16(struct wire_msg *m)
{
    build_response(m, WIRE_OP_UPDATE, RID15, 1619, 2, 1496961508, 0, NULL);
}

static void
build_w17(struct wire_msg *m)
{
    build_request(m, WIRE_OP_SET, RID17, 0, 49042, APP, VALUE);
}

static void
build_w18(struct wire_msg *m)
{
    build_response(m, WIRE_OP_SET, RID17, 1543, 3, 1496961508, 0, NULL);
}

static void
build_w21(struct wire_msg *m)
{
    msg_init(m, 0x40, 12, WIRE_OP_NOP);
    m->header_only = 1;
}

static void
build_w23(struct wire_msg *m)
{
    msg_init(m, 0x40, 7, WIRE_OP_NOP);
    m->flags = 0x01;
}

static void
build_w28(struct wire_msg *m)
{
    uint8_t id[16];
    build_response(m, WIRE_OP_CREATE, RID11, 1800, 1, 1516608721, 1516610521, NULL);
    m->opaque = 1;
    wire_meta_set_u32(&m->meta, WIRE_F_HANDLING_TIME, 2);
    CHECK_EQ_I(wire_uuid_parse(RID11, id), 0);
    wire_meta_set_originator_id(&m->meta, id);
    wire_meta_set_last_modified(&m->meta, 1516608721123456789ULL);
}

struct vector {
    const char *name;
    void (*build)(struct wire_msg *m);
    const char *current;
    const char *published; /* NULL: same as current */
};

/* clang-format off */
static const struct vector vectors[] = {
    {"W01", build_w01,
     "50500140 00000070 00000000 01000000 00000038 02036521 06000000 51D0F4AF 505F11E7 9176000C 29CADC31 00000708 140CA90C 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000",
     "50500140 00000070 00000000 01000000 00000038 02032165 06000000 00000708 51D0F4AF 505F11E7 9176000C 29CADC31 140CA90C 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000E 44756D6D 794E536B 65797661 6C756520 746F2073 746F7265 00000000"},
    {"W02", build_w02,
     "50500100 00000050 00000000 01000000 00000028 02046521 22230000 51D0F4AF 505F11E7 9176000C 29CADC31 00000708 00000001 5940236E 00000018 01070003 00000000 44756D6D 794E536B 65790000",
     "50500100 00000050 00000000 01000000 00000028 02042122 23650000 00000708 00000001 5940236E 51D0F4AF 505F11E7 9176000C 29CADC31 00000018 01070003 00000000 44756D6D 794E536B 65790000"},
    {"W03", build_w03,
     "50500140 00000058 00000000 02000000 00000030 02026506 88F8FBDE 505F11E7 A836000C 29CADC31 140CA91A 7F000001 44756D6D 79417070 4E616D65 00000000 00000018 01070003 00000000 44756D6D 794E536B 65790000",
     NULL},
    {"W04", build_w04,
     "50500100 00000060 00000000 02000000 00000028 02046521 22230000 88F8FBDE 505F11E7 A836000C 29CADC31 000006AC 00000001 5940236E 00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000",
     "50500100 00000060 00000000 02000000 00000028 02042122 23650000 000006AC 00000001 5940236E 88F8FBDE 505F11E7 A836000C 29CADC31 00000028 01070003 0000000E 44756D6D 794E536B 65797661 6C756520 746F2073 746F7265 00000000"},
    {"W05", build_w05,
     "50500140 00000068 00000000 03000000 00000030 02026506 CB475DF7 505F11E7 9926000C 29CADC31 140CA922 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000",
     "50500140 00000068 00000000 03000000 00000030 02026506 CB475DF7 505F11E7 9926000C 29CADC31 140CA922 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000E 44756D6D 794E536B 65797661 6C756520 746F2073 746F7265 00000000"},
    {"W06", build_w06,
     "50500100 00000050 00000000 03000000 00000028 02046521 22230000 CB475DF7 505F11E7 9926000C 29CADC31 0000063C 00000002 5940236E 00000018 01070003 00000000 44756D6D 794E536B 65790000",
     "50500100 00000050 00000000 03000000 00000028 02042122 23650000 0000063C 00000002 5940236E CB475DF7 505F11E7 9926000C 29CADC31 00000018 01070003 00000000 44756D6D 794E536B 65790000"},
    {"W07", build_w07,
     "50500140 00000068 00000000 04000000 00000030 02026506 D91FF0DF 505F11E7 8DE8000C 29CADC31 140CA928 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000",
     "50500140 00000068 00000000 04000000 00000030 02026506 D91FF0DF 505F11E7 8DE8000C 29CADC31 140CA928 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000E 44756D6D 794E536B 65797661 6C756520 746F2073 746F7265 00000000"},
    {"W08", build_w08,
     "50500100 00000050 00000000 04000000 00000028 02046521 22230000 D91FF0DF 505F11E7 8DE8000C 29CADC31 00000625 00000003 5940236E 00000018 01070003 00000000 44756D6D 794E536B 65790000",
     "50500100 00000050 00000000 04000000 00000028 02042122 23650000 00000625 00000003 5940236E D91FF0DF 505F11E7 8DE8000C 29CADC31 00000018 01070003 00000000 44756D6D 794E536B 65790000"},
    {"W11", build_w11,
     "50500140 00000070 00000000 01000000 00000038 02036521 06000000 ECCA2148 FF4B11E7 99EA000C 29CADC31 00000708 140CDD0C 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000",
     "50500140 00000070 00000000 01000000 00000038 02036521 06000000 ECCA2148 FF4B11E7 99EA000C 29CADC31 00000708 140CDD0C 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000E 44756D6D 794E536B 65797661 6C756520 746F2073 746F7265 00000000"},
    {"W12", build_w12,
     "50500100 00000058 00000000 01000000 00000030 02056521 22232400 ECCA2148 FF4B11E7 99EA000C 29CADC31 00000708 00000001 5A659CD1 5A65A3D9 00000000 00000018 01070003 00000000 44756D6D 794E536B 65790000",
     NULL},
    {"W13", build_w13,
     "50500140 00000050 00000000 02000000 00000028 02026506 C9AC000B FF4C11E7 A119000C 29CADC31 1007DD2A 7F000001 6A756E6F 636C6900 00000018 01070003 00000000 44756D6D 794E536B 65790000",
     NULL},
    {"W15", build_w15,
     "50500140 00000068 00000000 03000000 00000030 02026506 9D3BED6B 4C9B11E7 9A0E000C 29CADC31 140CBF90 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000",
     "50500140 00000068 00000000 03000000 00000030 02026506 9D3BED6B 4C9B11E7 9A0E000C 29CADC31 140CBF90 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000E 44756D6D 794E536B 65797661 6C756520 746F2073 746F7265 00000000"},
    {"W16", build_w16,
     "50500100 00000050 00000000 03000000 00000028 02046521 22230000 9D3BED6B 4C9B11E7 9A0E000C 29CADC31 00000653 00000002 5939D1E4 00000018 01070003 00000000 44756D6D 794E536B 65790000",
     "50500100 00000050 00000000 03000000 00000028 02042122 23650000 00000653 00000002 5939D1E4 9D3BED6B 4C9B11E7 9A0E000C 29CADC31 00000018 01070003 00000000 44756D6D 794E536B 65790000"},
    {"W17", build_w17,
     "50500140 00000068 00000000 04000000 00000030 02026506 CA5C763A 4C9B11E7 97ED000C 29CADC31 140CBF92 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000",
     "50500140 00000068 00000000 04000000 00000030 02026506 CA5C763A 4C9B11E7 97ED000C 29CADC31 140CBF92 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000E 44756D6D 794E536B 65797661 6C756520 746F2073 746F7265 00000000"},
    {"W18", build_w18,
     "50500100 00000050 00000000 04000000 00000028 02046521 22230000 CA5C763A 4C9B11E7 97ED000C 29CADC31 00000607 00000003 5939D1E4 00000018 01070003 00000000 44756D6D 794E536B 65790000",
     "50500100 00000050 00000000 04000000 00000028 02042122 23650000 00000607 00000003 5939D1E4 CA5C763A 4C9B11E7 97ED000C 29CADC31 00000018 01070003 00000000 44756D6D 794E536B 65790000"},
    {"W21", build_w21, "50500140 00000010 0000000C 00000000", NULL},
    {"W23", build_w23,
     "50500140 00000028 00000007 00010000 00000008 02000000 00000010 01000000 00000000 00000000",
     NULL},
    {"W28", build_w28,
     "50500100 00000078 00000001 01000000 00000050 02082A65 68472122 23240000 00000002 ECCA2148 FF4B11E7 99EA000C 29CADC31 ECCA2148 FF4B11E7 99EA000C 29CADC31 150C1398 B5D2B715 00000708 00000001 5A659CD1 5A65A3D9 00000000 00000018 01070003 00000000 44756D6D 794E536B 65790000",
     NULL},
};
/* clang-format on */
#define NUM_VECTORS (sizeof(vectors) / sizeof(vectors[0]))

#define W22_HEX                                                                                    \
    "00000038 0110000A 0000000D 74657374 6E616D65 73706163 65313233 74657374 6B657931 "            \
    "32330074 65737476 616C7565 34353600 00000000"

static size_t
hex(const char *h, uint8_t *out, size_t cap)
{
    int n = unit_hex(h, out, (int)cap);
    if (n < 0) {
        printf("# bad hex in test: %.40s\n", h);
        exit(2);
    }
    return (size_t)n;
}

/* ---- comparing messages ----------------------------------------------------- */

#define DEFINED_FIELDS 0xFFEu /* tags 1..11 */

static int
numeric_tag(int tag)
{
    return tag == WIRE_F_TTL || tag == WIRE_F_VERSION || tag == WIRE_F_CREATION_TIME ||
           tag == WIRE_F_EXPIRATION_TIME || tag == WIRE_F_HANDLING_TIME ||
           tag == WIRE_F_LAST_MODIFIED;
}

static uint64_t
numeric_value(const struct wire_meta *meta, int tag)
{
    switch (tag) {
    case WIRE_F_TTL: return meta->ttl;
    case WIRE_F_VERSION: return meta->version;
    case WIRE_F_CREATION_TIME: return meta->creation_time;
    case WIRE_F_EXPIRATION_TIME: return meta->expiration_time;
    case WIRE_F_HANDLING_TIME: return meta->handling_time;
    default: return meta->last_modified;
    }
}

/* The fields that go on the wire: a numeric 0 is absent. */
static uint32_t
effective_present(const struct wire_meta *meta)
{
    uint32_t p = meta->present & DEFINED_FIELDS;
    for (int tag = 1; tag <= 11; tag++)
        if (numeric_tag(tag) && numeric_value(meta, tag) == 0) p &= ~(1u << tag);
    return p;
}

static int
bytes_eq(struct wire_bytes a, struct wire_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static const char *
meta_diff(const struct wire_meta *a, const struct wire_meta *b)
{
    uint32_t p = effective_present(a);
    if (p != effective_present(b)) return "meta present bits";
    for (int tag = 1; tag <= 11; tag++) {
        if (!(p & (1u << tag))) continue;
        if (numeric_tag(tag) && numeric_value(a, tag) != numeric_value(b, tag))
            return "meta numeric field";
    }
    if ((p & 1u << WIRE_F_REQUEST_ID) && memcmp(a->request_id, b->request_id, 16))
        return "RequestID";
    if ((p & 1u << WIRE_F_ORIGINATOR_ID) && memcmp(a->originator_id, b->originator_id, 16))
        return "OriginatorRequestID";
    if (p & 1u << WIRE_F_SOURCE_INFO) {
        const struct wire_source *x = &a->source, *y = &b->source;
        if (!!x->ipv6 != !!y->ipv6 || x->port != y->port) return "SourceInfo ip/port";
        if (memcmp(x->ip, y->ip, x->ipv6 ? 16 : 4)) return "SourceInfo ip";
        struct wire_bytes xa = {x->app, x->app_len}, ya = {y->app, y->app_len};
        if (!bytes_eq(xa, ya)) return "SourceInfo app";
    }
    if ((p & 1u << WIRE_F_CORRELATION_ID) && !bytes_eq(a->correlation_id, b->correlation_id))
        return "CorrelationID";
    if ((p & 1u << WIRE_F_UDF_NAME) && !bytes_eq(a->udf_name, b->udf_name)) return "UDFName";
    return NULL;
}

/* NULL if a and b carry the same message, else the first difference. */
static const char *
msg_diff(const struct wire_msg *a, const struct wire_msg *b)
{
    if ((a->proto_version ? a->proto_version : 1) != (b->proto_version ? b->proto_version : 1))
        return "proto_version";
    if (a->type_flag != b->type_flag) return "type_flag";
    if (a->opaque != b->opaque) return "opaque";
    if (a->opcode != b->opcode || a->flags != b->flags) return "opcode/flags";
    if (wire_rq(a->type_flag) == WIRE_RQ_RESPONSE) {
        if (a->status != b->status) return "status";
    } else if (a->shard_id != b->shard_id) {
        return "shard_id";
    }
    if (!!a->header_only != !!b->header_only) return "header_only";
    if (a->header_only) return NULL;
    const char *d = meta_diff(&a->meta, &b->meta);
    if (d) return d;
    if (!bytes_eq(a->ns, b->ns)) return "namespace";
    if (!bytes_eq(a->key, b->key)) return "key";
    if (!bytes_eq(a->value, b->value)) return "value";
    if (a->value.len > 0 && a->value_type != b->value_type) return "value type";
    return NULL;
}

#define CHECK_SAME(a, b)                                                                           \
    do {                                                                                           \
        const char *d_ = msg_diff((a), (b));                                                       \
        if (d_) {                                                                                  \
            printf("# %s:%d: messages differ in %s\n", __FILE__, __LINE__, d_);                    \
            unit_cur_failed = 1;                                                                   \
        }                                                                                          \
    } while (0)

/* ---- the vectors ------------------------------------------------------------ */

static void
check_vector(const struct vector *v)
{
    uint8_t cur[MAXMSG], pub[MAXMSG], out[MAXMSG];
    struct wire_msg m, d;
    size_t cur_len = hex(v->current, cur, sizeof(cur));

    /* encode the described content: byte for byte the current form */
    v->build(&m);
    CHECK_EQ_U(wire_encoded_size(&m), cur_len);
    int n = wire_encode(&m, out, sizeof(out));
    CHECK_EQ_I(n, (int)cur_len);
    if (n > 0) CHECK_MEM(out, (size_t)n, cur, cur_len);

    /* decode the current form: every described field */
    CHECK_EQ_I(wire_decode(cur, cur_len, &d), WIRE_ST_OK);
    CHECK_SAME(&d, &m);
    CHECK_EQ_I(d.header_only, m.header_only);
    CHECK_EQ_I(d.has_meta, !m.header_only);
    CHECK_EQ_I(d.has_payload, !m.header_only);
    CHECK_EQ_U(d.shard_id, unpack_u16(cur + 14));
    CHECK_EQ_U(d.status, cur[15]);

    if (v->published == NULL) return;
    size_t pub_len = hex(v->published, pub, sizeof(pub));
    CHECK_EQ_U(pub_len, cur_len);
    CHECK_EQ_I(wire_decode(pub, pub_len, &d), WIRE_ST_OK);
    struct wire_msg want = m;
    if (m.value.len > 0) {
        /* the bare value read with the type-byte rule */
        want.value_type = 0x76;
        set_bytes(&want.value, "alue to store");
    } else {
        /* only the field order differs: re-encoding gives the current form */
        n = wire_encode(&d, out, sizeof(out));
        CHECK_EQ_I(n, (int)cur_len);
        if (n > 0) CHECK_MEM(out, (size_t)n, cur, cur_len);
    }
    CHECK_SAME(&d, &want);
}

#define VECTOR_TEST(id, idx)                                                                       \
    UNIT_TEST(vector_##id)                                                                         \
    {                                                                                              \
        CHECK_STR(vectors[idx].name, #id);                                                         \
        check_vector(&vectors[idx]);                                                               \
    }
VECTOR_TEST(W01, 0)
VECTOR_TEST(W02, 1)
VECTOR_TEST(W03, 2)
VECTOR_TEST(W04, 3)
VECTOR_TEST(W05, 4)
VECTOR_TEST(W06, 5)
VECTOR_TEST(W07, 6)
VECTOR_TEST(W08, 7)
VECTOR_TEST(W11, 8)
VECTOR_TEST(W12, 9)
VECTOR_TEST(W13, 10)
VECTOR_TEST(W15, 11)
VECTOR_TEST(W16, 12)
VECTOR_TEST(W17, 13)
VECTOR_TEST(W18, 14)
VECTOR_TEST(W21, 15)
VECTOR_TEST(W23, 16)
VECTOR_TEST(W28, 17)

/* The decoder checked against literals, not only against the builders. */
UNIT_TEST(vector_W01_fields_literal)
{
    uint8_t b[MAXMSG];
    struct wire_msg d;
    char uuid[37];
    size_t n = hex(vectors[0].published, b, sizeof(b));
    CHECK_EQ_I(wire_decode(b, n, &d), 0);
    CHECK_EQ_U(d.proto_version, 1);
    CHECK_EQ_U(d.type_flag, 0x40);
    CHECK_EQ_I(wire_type(d.type_flag), 0);
    CHECK_EQ_I(wire_rq(d.type_flag), WIRE_RQ_REQUEST);
    CHECK_EQ_U(d.opcode, WIRE_OP_CREATE);
    CHECK_EQ_U(d.meta.present,
               1u << WIRE_F_TTL | 1u << WIRE_F_REQUEST_ID | 1u << WIRE_F_SOURCE_INFO);
    CHECK_EQ_U(d.meta.ttl, 1800);
    wire_uuid_format(d.meta.request_id, uuid);
    CHECK_STR(uuid, RID01);
    CHECK_EQ_U(d.meta.source.ipv6, 0);
    CHECK_EQ_U(d.meta.source.port, 43276);
    CHECK_MEM(d.meta.source.ip, 4, LOCALHOST, 4);
    CHECK_MEM(d.meta.source.app, d.meta.source.app_len, APP, 12);
    CHECK_MEM(d.ns.ptr, d.ns.len, "DummyNS", 7);
    CHECK_MEM(d.key.ptr, d.key.len, "key", 3);
    CHECK_EQ_U(d.value_type, 0x76);
    CHECK_MEM(d.value.ptr, d.value.len, "alue to store", 13);
    n = hex(vectors[0].current, b, sizeof(b));
    CHECK_EQ_I(wire_decode(b, n, &d), 0);
    CHECK_EQ_U(d.value_type, 0);
    CHECK_MEM(d.value.ptr, d.value.len, VALUE, 14);
}

UNIT_TEST(vector_W28_fields_literal)
{
    uint8_t b[MAXMSG];
    struct wire_msg d;
    char uuid[37];
    size_t n = hex(vectors[17].current, b, sizeof(b));
    CHECK_EQ_I(wire_decode(b, n, &d), 0);
    CHECK_EQ_U(d.opaque, 1);
    CHECK_EQ_U(d.status, 0);
    CHECK_EQ_U(d.meta.handling_time, 2);
    CHECK_EQ_U(d.meta.last_modified, 1516608721123456789ULL);
    CHECK_EQ_U(d.meta.ttl, 1800);
    CHECK_EQ_U(d.meta.version, 1);
    CHECK_EQ_U(d.meta.creation_time, 1516608721);
    CHECK_EQ_U(d.meta.expiration_time, 1516610521);
    wire_uuid_format(d.meta.originator_id, uuid);
    CHECK_STR(uuid, RID11);
    CHECK(wire_meta_has(&d.meta, WIRE_F_ORIGINATOR_ID));
    CHECK(!wire_meta_has(&d.meta, WIRE_F_SOURCE_INFO));
    CHECK_EQ_U(d.value.len, 0);
}

/* W21: header-only; decodes as such and re-encodes to the same 16 bytes. */
UNIT_TEST(vector_W21_header_only_roundtrip)
{
    uint8_t b[16], out[64];
    struct wire_msg d;
    hex(vectors[15].current, b, sizeof(b));
    CHECK_EQ_I(wire_decode(b, 16, &d), 0);
    CHECK_EQ_I(d.header_only, 1);
    CHECK_EQ_U(d.opaque, 12);
    CHECK_EQ_U(d.opcode, WIRE_OP_NOP);
    CHECK_EQ_I(d.has_meta, 0);
    CHECK_EQ_I(d.has_payload, 0);
    CHECK_EQ_I(wire_encode(&d, out, sizeof(out)), 16);
    CHECK_MEM(out, 16, b, 16);
    CHECK_EQ_I(wire_encode(&d, out, 15), JUNO_EMSGSIZE);
}

/* W22: the payload component alone; also decoded inside a message. */
UNIT_TEST(vector_W22_payload_component)
{
    uint8_t want[128], out[128], msg[256];
    struct wire_msg m, d;
    size_t n = hex(W22_HEX, want, sizeof(want));
    msg_init(&m, 0x40, 0, WIRE_OP_SET);
    set_payload(&m, "testnamespace123", "testkey123", "testvalue456");
    CHECK_EQ_U(wire_payload_size(&m), 56);
    CHECK_EQ_I(wire_encode_payload(&m, out, sizeof(out)), 56);
    CHECK_MEM(out, 56, want, n);
    CHECK_EQ_I(wire_encode_payload(&m, out, 55), JUNO_EMSGSIZE);
    /* header + empty meta + W22 */
    size_t len = hex("50500140 00000050 00000000 04000000 00000008 02000000", msg, sizeof(msg));
    memcpy(msg + len, want, n);
    CHECK_EQ_I(wire_decode(msg, len + n, &d), 0);
    CHECK_SAME(&d, &m);
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), (int)(len + n));
    CHECK_MEM(out, len + n, msg, len + n);
}

/* ---- framing -------------------------------------------------------------- */

/* Every vector form as bytes: current and published. */
struct blob {
    uint8_t b[512];
    size_t len;
};
static struct blob blobs[2 * NUM_VECTORS];
static size_t num_blobs;

static void
load_blobs(void)
{
    if (num_blobs) return;
    for (size_t i = 0; i < NUM_VECTORS; i++) {
        blobs[num_blobs].len = hex(vectors[i].current, blobs[num_blobs].b, 512);
        num_blobs++;
        if (vectors[i].published) {
            blobs[num_blobs].len = hex(vectors[i].published, blobs[num_blobs].b, 512);
            num_blobs++;
        }
    }
}

/* wire_frame on an exactly sized heap copy, so a sanitizer build sees overreads. */
static int
frame_copy(const uint8_t *b, size_t len, size_t max, uint32_t *flen, const char **why)
{
    uint8_t *c = malloc(len ? len : 1);
    if (len) memcpy(c, b, len);
    int rc = wire_frame(c, len, max, flen, why);
    free(c);
    return rc;
}

UNIT_TEST(frame_every_prefix_is_again)
{
    load_blobs();
    for (size_t i = 0; i < num_blobs; i++) {
        uint32_t flen = 0;
        const char *why = NULL;
        for (size_t k = 0; k < blobs[i].len; k++)
            CHECK_EQ_I(frame_copy(blobs[i].b, k, WIRE_DEFAULT_MAX_FRAME, &flen, &why), WIRE_AGAIN);
        CHECK_EQ_I(frame_copy(blobs[i].b, blobs[i].len, WIRE_DEFAULT_MAX_FRAME, &flen, &why),
                   WIRE_OK);
        CHECK_EQ_U(flen, blobs[i].len);
    }
}

UNIT_TEST(frame_one_byte_at_a_time)
{
    load_blobs();
    for (size_t i = 0; i < num_blobs; i++) {
        uint8_t acc[512];
        int oks = 0, errors = 0;
        uint32_t flen = 0;
        for (size_t k = 0; k < blobs[i].len; k++) {
            acc[k] = blobs[i].b[k];
            int rc = wire_frame(acc, k + 1, 0, &flen, NULL);
            if (rc == WIRE_OK) {
                oks++;
                CHECK_EQ_U(k + 1, blobs[i].len);
            }
            if (rc == WIRE_ERROR) errors++;
        }
        CHECK_EQ_I(oks, 1);
        CHECK_EQ_I(errors, 0);
        CHECK_EQ_U(flen, blobs[i].len);
    }
}

UNIT_TEST(frame_back_to_back)
{
    load_blobs();
    for (size_t i = 0; i < num_blobs; i++) {
        size_t j = (i + 1) % num_blobs;
        uint8_t buf[1024];
        uint32_t flen;
        memcpy(buf, blobs[i].b, blobs[i].len);
        memcpy(buf + blobs[i].len, blobs[j].b, blobs[j].len);
        size_t total = blobs[i].len + blobs[j].len;
        CHECK_EQ_I(wire_frame(buf, total, 0, &flen, NULL), WIRE_OK);
        CHECK_EQ_U(flen, blobs[i].len);
        CHECK_EQ_I(wire_frame(buf + flen, total - flen, 0, &flen, NULL), WIRE_OK);
        CHECK_EQ_U(flen, blobs[j].len);
        /* the second message cut short is AGAIN */
        CHECK_EQ_I(wire_frame(buf + blobs[i].len, blobs[j].len - 1, 0, &flen, NULL), WIRE_AGAIN);
    }
}

static uint64_t rng_state;

static uint32_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* All vectors in one stream, arriving in random chunks, consumed as framed. */
UNIT_TEST(frame_stream_random_chunks)
{
    load_blobs();
    static uint8_t stream[16384], acc[16384];
    size_t slen = 0, alen = 0, next = 0, got = 0;
    for (size_t i = 0; i < num_blobs; i++) {
        memcpy(stream + slen, blobs[i].b, blobs[i].len);
        slen += blobs[i].len;
    }
    rng_state = 0x9E3779B97F4A7C15ULL;
    while (next < slen) {
        size_t chunk = 1 + rng() % 37;
        if (chunk > slen - next) chunk = slen - next;
        memcpy(acc + alen, stream + next, chunk);
        alen += chunk;
        next += chunk;
        uint32_t flen;
        int rc;
        while ((rc = wire_frame(acc, alen, 0, &flen, NULL)) == WIRE_OK) {
            struct wire_msg d;
            CHECK(got < num_blobs);
            if (got >= num_blobs) return;
            CHECK_MEM(acc, flen, blobs[got].b, blobs[got].len);
            CHECK_EQ_I(wire_decode(acc, flen, &d), 0);
            got++;
            memmove(acc, acc + flen, alen - flen);
            alen -= flen;
        }
        CHECK_EQ_I(rc, WIRE_AGAIN);
        if (rc != WIRE_AGAIN) return;
    }
    CHECK_EQ_U(got, num_blobs);
    CHECK_EQ_U(alen, 0);
}

UNIT_TEST(frame_bad_magic_at_once)
{
    const char *why = NULL;
    uint32_t flen;
    uint8_t b[16] = {0x50, 0x50, 1, 0x40, 0, 0, 0, 16};
    CHECK_EQ_I(wire_frame(b, 0, 0, &flen, &why), WIRE_AGAIN);
    CHECK_EQ_I(wire_frame(b, 1, 0, &flen, &why), WIRE_AGAIN);
    b[0] = 0x51;
    CHECK_EQ_I(frame_copy(b, 1, 0, &flen, &why), WIRE_ERROR);
    CHECK_STR(why, "bad magic");
    b[0] = 'G'; /* "GET / HTTP/1.1" */
    CHECK_EQ_I(frame_copy(b, 1, 0, &flen, NULL), WIRE_ERROR);
    b[0] = 0x50;
    b[1] = 0x05;
    why = NULL;
    CHECK_EQ_I(frame_copy(b, 2, 0, &flen, &why), WIRE_ERROR);
    CHECK(why != NULL);
    CHECK_EQ_I(frame_copy(b, 16, 0, &flen, &why), WIRE_ERROR);
}

UNIT_TEST(frame_msgsize_limits_from_8_bytes)
{
    const char *why = NULL;
    uint32_t flen = 0;
    uint8_t b[16] = {0x50, 0x50, 1, 0x40};
    pack_u32(b + 4, 11);
    CHECK_EQ_I(frame_copy(b, 7, 0, &flen, &why), WIRE_AGAIN);
    CHECK_EQ_I(frame_copy(b, 8, 0, &flen, &why), WIRE_ERROR);
    CHECK_STR(why, "msgSize below 12");
    pack_u32(b + 4, 0);
    CHECK_EQ_I(frame_copy(b, 8, 0, &flen, &why), WIRE_ERROR);
    /* 12 frames (and then fails to decode) */
    pack_u32(b + 4, 12);
    CHECK_EQ_I(frame_copy(b, 8, 0, &flen, &why), WIRE_AGAIN);
    CHECK_EQ_I(frame_copy(b, 12, 0, &flen, &why), WIRE_OK);
    CHECK_EQ_U(flen, 12);
    /* over the limit: decided with only 8 bytes present */
    pack_u32(b + 4, WIRE_DEFAULT_MAX_FRAME + 1);
    CHECK_EQ_I(frame_copy(b, 8, WIRE_DEFAULT_MAX_FRAME, &flen, &why), WIRE_ERROR);
    CHECK_STR(why, "msgSize over the frame limit");
    CHECK_EQ_I(frame_copy(b, 8, 0, &flen, &why), WIRE_ERROR); /* 0: the default */
    pack_u32(b + 4, 0xFFFFFFFF);
    CHECK_EQ_I(frame_copy(b, 8, WIRE_DEFAULT_MAX_FRAME, &flen, &why), WIRE_ERROR);
    pack_u32(b + 4, WIRE_DEFAULT_MAX_FRAME);
    CHECK_EQ_I(frame_copy(b, 8, WIRE_DEFAULT_MAX_FRAME, &flen, &why), WIRE_AGAIN);
    pack_u32(b + 4, 200);
    CHECK_EQ_I(frame_copy(b, 8, 199, &flen, &why), WIRE_ERROR);
    CHECK_EQ_I(frame_copy(b, 8, 200, &flen, &why), WIRE_AGAIN);
}

/* ---- decoding malformed and unusual input ----------------------------------- */

#define OPAQUE        0xA1B2C3D4u
#define EMPTY_META    "00000008 02000000"
#define DUMMY_PAYLOAD "00000018 01070003 00000000 44756D6D 794E536B 65790000"

/* A request (Get) with the given body hex; msgSize = the real length. */
static size_t
make_msg(uint8_t *out, const char *body_hex)
{
    size_t n = hex(body_hex, out + 16, MAXMSG - 16);
    hex("50500140 00000000 00000000 02000000", out, 16);
    pack_u32(out + 4, (uint32_t)(16 + n));
    pack_u32(out + 8, OPAQUE);
    return 16 + n;
}

/* Decode must say BADMSG and still report the header. */
static void
check_badmsg(const char *body_hex, int line)
{
    uint8_t b[MAXMSG];
    struct wire_msg d;
    size_t n = make_msg(b, body_hex);
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    int rc = wire_decode(c, n, &d);
    free(c);
    if (rc != WIRE_ST_BADMSG || d.opaque != OPAQUE || d.opcode != WIRE_OP_GET ||
        d.type_flag != 0x40 || d.has_meta || d.has_payload) {
        printf("# line %d: rc %d opaque %08" PRIx32 " for %s\n", line, rc, d.opaque, body_hex);
        unit_cur_failed = 1;
    }
}
#define BADMSG(body) check_badmsg((body), __LINE__)

/* Decode must succeed; returns the message in *d (pointing into a static buffer). */
static int
decode_ok(const char *body_hex, struct wire_msg *d)
{
    static uint8_t b[MAXMSG];
    size_t n = make_msg(b, body_hex);
    int rc = wire_decode(b, n, d);
    if (rc != 0) printf("# decode failed (%d) for %s\n", rc, body_hex);
    return rc;
}

UNIT_TEST(decode_component_size_0_to_5)
{
    char body[256];
    for (int s = 0; s <= 5; s++) {
        snprintf(body, sizeof(body), "%08X 02000000 " DUMMY_PAYLOAD, s);
        BADMSG(body);
        snprintf(body, sizeof(body), EMPTY_META " %08X 01000000 00000000 00000000", s);
        BADMSG(body);
        /* an unknown tag too, though what follows the 5 bytes would parse */
        snprintf(body, sizeof(body), "%08X 07 " EMPTY_META " " DUMMY_PAYLOAD, s);
        BADMSG(body);
    }
}

UNIT_TEST(decode_component_past_end)
{
    BADMSG(EMPTY_META " 00000020 01070003 00000000 44756D6D 794E536B 65790000");
    BADMSG("00000030 02000000 " DUMMY_PAYLOAD); /* meta claims 48, 32 bytes are left */
    BADMSG("FFFFFFF8 02000000 " DUMMY_PAYLOAD);
    BADMSG(EMPTY_META " 00000019 01070003 00000000 44756D6D 794E536B 65790000");
}

UNIT_TEST(decode_body_too_short)
{
    uint8_t b[64];
    struct wire_msg d;
    /* msgSize 12..27 except 16: not a header-only message, not a full body */
    for (uint32_t size = 12; size < 28; size++) {
        memset(b, 0, sizeof(b));
        hex("50500140 00000000 A1B2C3D4 02000000 00000008 02000000 0000", b, sizeof(b));
        pack_u32(b + 4, size);
        int rc = wire_decode(b, size, &d);
        if (size == 16) {
            CHECK_EQ_I(rc, 0);
            CHECK_EQ_I(d.header_only, 1);
        } else {
            CHECK_EQ_I(rc, WIRE_ST_BADMSG);
            CHECK_EQ_I(d.header_only, 0);
        }
        if (size >= 12) CHECK_EQ_U(d.opaque, OPAQUE);
    }
    /* shorter than a header, msgSize disagreeing with the frame, bad magic */
    CHECK_EQ_I(wire_decode(b, 11, &d), WIRE_ST_BADMSG);
    CHECK_EQ_I(wire_decode(NULL, 0, &d), WIRE_ST_BADMSG);
    size_t n = make_msg(b, EMPTY_META " " DUMMY_PAYLOAD);
    CHECK_EQ_I(wire_decode(b, n, &d), 0);
    CHECK_EQ_I(wire_decode(b, n - 1, &d), WIRE_ST_BADMSG);
    CHECK_EQ_U(d.opaque, OPAQUE);
    b[1] = 0x51;
    CHECK_EQ_I(wire_decode(b, n, &d), WIRE_ST_BADMSG);
    CHECK_EQ_U(d.opaque, OPAQUE);
}

UNIT_TEST(decode_meta_malformed)
{
    /* a RequestID running past its component */
    BADMSG("00000010 02016500 00000000 00000000 " DUMMY_PAYLOAD);
    /* two fields in a 12-byte component: the TimeToLive fits, the Version does not */
    BADMSG("0000000C 02022122 00000708 " DUMMY_PAYLOAD);
    /* descriptors running past the component */
    BADMSG("00000008 02C80000 " DUMMY_PAYLOAD);
    BADMSG(DUMMY_PAYLOAD " 00000008 02C80000"); /* at the very end of the frame */
    BADMSG("00000008 02032165 06000000 00000000 " DUMMY_PAYLOAD);
    /* variable field with length byte 0 */
    BADMSG("00000010 02010600 00000000 00000000 " DUMMY_PAYLOAD);
    BADMSG("00000010 02010C00 00000000 00000000 " DUMMY_PAYLOAD); /* unknown tag too */
    /* variable field length running past the component */
    BADMSG("00000010 02010600 0C000000 00000000 " DUMMY_PAYLOAD);
    /* variable field length byte missing: the data offset is at the end */
    BADMSG("00000008 02010600 " DUMMY_PAYLOAD);
    /* sizeType 4..7 */
    BADMSG("00000010 0201A100 00000708 00000000 " DUMMY_PAYLOAD);
    BADMSG("00000010 02018100 00000708 00000000 " DUMMY_PAYLOAD);
    BADMSG("00000010 0201E100 00000708 00000000 " DUMMY_PAYLOAD);
    /* SourceInfo claiming a 12-byte name in an 8-byte field */
    BADMSG("00000010 02010600 080CA90C 7F000001 " DUMMY_PAYLOAD);
    /* SourceInfo claiming IPv6 in an 8-byte field */
    BADMSG("00000010 02010600 0880A90C 7F000001 " DUMMY_PAYLOAD);
    /* SourceInfo shorter than its fixed part */
    BADMSG("00000010 02010600 03000000 00000000 " DUMMY_PAYLOAD);
    /* CorrelationID claiming more bytes than the field has */
    BADMSG("00000010 02010900 04056162 00000000 " DUMMY_PAYLOAD);
    BADMSG("00000010 02010900 01000000 00000000 " DUMMY_PAYLOAD);
    /* UDFName the same */
    BADMSG("00000010 02010B00 08076162 63646500 " DUMMY_PAYLOAD);
    /* a known tag with the wrong sizeType: TTL as 8 bytes, RequestID as 4 */
    BADMSG("00000010 02014100 00000000 00000708 " DUMMY_PAYLOAD);
    BADMSG("00000010 02012500 00000001 00000000 " DUMMY_PAYLOAD);
}

UNIT_TEST(decode_byte_seq_limit)
{
    /* CorrelationID of 251 bytes in a 253-byte field: over the 250 limit */
    char body[2048];
    int n = snprintf(body, sizeof(body), "00000108 02010900 FDFB");
    for (int i = 0; i < 251; i++) n += snprintf(body + n, sizeof(body) - (size_t)n, "61");
    n += snprintf(body + n, sizeof(body) - (size_t)n, "000000 " DUMMY_PAYLOAD);
    BADMSG(body);
    /* 250 in a 252-byte field decodes */
    struct wire_msg d;
    n = snprintf(body, sizeof(body), "00000108 02010900 FCFA");
    for (int i = 0; i < 250; i++) n += snprintf(body + n, sizeof(body) - (size_t)n, "61");
    n += snprintf(body + n, sizeof(body) - (size_t)n, " 00000000 " DUMMY_PAYLOAD);
    CHECK_EQ_I(decode_ok(body, &d), 0);
    CHECK_EQ_U(d.meta.correlation_id.len, 250);
}

UNIT_TEST(decode_payload_malformed)
{
    /* nsLen past the payload */
    BADMSG(EMPTY_META " 00000010 01200003 00000000 44756D6D");
    /* keyLen past the payload */
    BADMSG(EMPTY_META " 00000018 0107FF00 00000000 44756D6D 794E536B 65790000");
    /* valueLen past the payload, and one that would overflow 32 bits */
    BADMSG(EMPTY_META " 00000018 01070003 00000006 44756D6D 794E536B 65790000");
    BADMSG(EMPTY_META " 00000018 01070003 FFFFFFFF 44756D6D 794E536B 65790000");
    BADMSG(EMPTY_META " 00000018 01FFFFFF FFFFFFFF 44756D6D 794E536B 65790000");
    /* a payload component too small for its own header */
    BADMSG(EMPTY_META " 00000008 01000000 00000000");
    BADMSG(EMPTY_META " 0000000B 01000000 00000000 00000000");
}

UNIT_TEST(decode_value_type_rule)
{
    struct wire_msg d;
    /* valueLen 0: empty */
    CHECK_EQ_I(decode_ok(EMPTY_META " 00000010 01000000 00000000 00000000", &d), 0);
    CHECK_EQ_U(d.value.len, 0);
    CHECK_EQ_U(d.ns.len, 0);
    CHECK_EQ_U(d.key.len, 0);
    /* valueLen 1: a lone type byte is dropped */
    CHECK_EQ_I(decode_ok(EMPTY_META " 00000010 01000000 00000001 03000000", &d), 0);
    CHECK_EQ_U(d.value.len, 0);
    CHECK_EQ_U(d.value_type, 0);
    /* valueLen 2: type + 1 byte */
    CHECK_EQ_I(decode_ok(EMPTY_META " 00000010 01000000 00000002 03410000", &d), 0);
    CHECK_EQ_U(d.value_type, 3);
    CHECK_MEM(d.value.ptr, d.value.len, "A", 1);
    /* the payload fills its component exactly, no padding */
    CHECK_EQ_I(decode_ok(EMPTY_META " 0000000E 01000000 00000002 0241", &d), 0);
    CHECK_EQ_U(d.value_type, 2);
}

UNIT_TEST(decode_missing_components)
{
    struct wire_msg d;
    /* no payload: empty namespace and key (BadParam is the server's call, not ours) */
    CHECK_EQ_I(decode_ok("00000010 02012100 00000708 00000000", &d), 0);
    CHECK_EQ_I(d.has_meta, 1);
    CHECK_EQ_I(d.has_payload, 0);
    CHECK_EQ_U(d.meta.ttl, 1800);
    CHECK_EQ_U(d.ns.len, 0);
    /* no meta: all fields absent */
    CHECK_EQ_I(decode_ok(DUMMY_PAYLOAD, &d), 0);
    CHECK_EQ_I(d.has_meta, 0);
    CHECK_EQ_I(d.has_payload, 1);
    CHECK_EQ_U(d.meta.present, 0);
    /* neither: 12 bytes of unknown component */
    CHECK_EQ_I(decode_ok("0000000C 07000000 00000000", &d), 0);
    CHECK_EQ_I(d.has_meta + d.has_payload, 0);
}

UNIT_TEST(decode_unknown_component_skipped)
{
    struct wire_msg d, want;
    build_w13(&want);
    const char *meta = "00000028 02026506 C9AC000B FF4C11E7 A119000C 29CADC31 1007DD2A 7F000001 "
                       "6A756E6F 636C6900";
    char body[512];
    snprintf(body, sizeof(body), "00000010 07AABBCC DDEEFF00 11223344 %s 00000008 03000000 %s",
             meta, DUMMY_PAYLOAD);
    want.opaque = OPAQUE;
    CHECK_EQ_I(decode_ok(body, &d), 0);
    CHECK_SAME(&d, &want);
    /* tag 0 and odd sizes (6, 7) are skipped too */
    snprintf(body, sizeof(body), "%s 00000006 0000 00000007 FF0000 %s", meta, DUMMY_PAYLOAD);
    CHECK_EQ_I(decode_ok(body, &d), 0);
    CHECK_SAME(&d, &want);
}

UNIT_TEST(decode_unknown_meta_field_skipped)
{
    struct wire_msg d;
    /* tag 15 fixed 4, tag 12 var (8 bytes), tag 0 fixed 16, tag 31 fixed 8, then TTL */
    CHECK_EQ_I(
        decode_ok("00000038 02052F0C 605F2100 DEADBEEF 08FFFFFF FFFFFFFF 00000000 "
                  "00000000 00000000 00000000 11111111 22222222 00000708 00000000 " DUMMY_PAYLOAD,
                  &d),
        0);
    CHECK_EQ_U(d.meta.present, 1u << WIRE_F_TTL);
    CHECK_EQ_U(d.meta.ttl, 1800);
    CHECK_MEM(d.key.ptr, d.key.len, "key", 3);
    /* padding is not inspected */
    CHECK_EQ_I(decode_ok("00000010 020121FF 00000708 FFFFFFFF " DUMMY_PAYLOAD, &d), 0);
    CHECK_EQ_U(d.meta.ttl, 1800);
}

UNIT_TEST(decode_repeated_component_later_wins)
{
    struct wire_msg d;
    CHECK_EQ_I(decode_ok("00000010 02012100 00000708 00000000 " DUMMY_PAYLOAD
                         " 00000010 02012200 00000005 00000000 "
                         "00000010 01010001 00000002 41420058",
                         &d),
               0);
    CHECK_EQ_U(d.meta.present, 1u << WIRE_F_VERSION);
    CHECK_EQ_U(d.meta.version, 5);
    CHECK_EQ_U(d.meta.ttl, 0);
    CHECK_MEM(d.ns.ptr, d.ns.len, "A", 1);
    CHECK_MEM(d.key.ptr, d.key.len, "B", 1);
    CHECK_EQ_U(d.value_type, 0);
    CHECK_MEM(d.value.ptr, d.value.len, "X", 1);
    /* a field repeated inside one meta component: the later wins too */
    CHECK_EQ_I(decode_ok("00000010 02022121 00000708 00000009 " DUMMY_PAYLOAD, &d), 0);
    CHECK_EQ_U(d.meta.ttl, 9);
    /* a later zero makes a numeric field absent */
    CHECK_EQ_I(decode_ok("00000010 02022121 00000708 00000000 " DUMMY_PAYLOAD, &d), 0);
    CHECK(!wire_meta_has(&d.meta, WIRE_F_TTL));
}

UNIT_TEST(decode_trailing_bytes_ignored)
{
    struct wire_msg d, want;
    char body[512];
    build_w23(&want);
    want.opaque = OPAQUE;
    want.opcode = WIRE_OP_GET;
    want.flags = 0;
    for (int k = 1; k <= 5; k++) {
        int n = snprintf(body, sizeof(body), EMPTY_META " 00000010 01000000 00000000 00000000 ");
        for (int i = 0; i < k; i++) n += snprintf(body + n, sizeof(body) - (size_t)n, "FF");
        CHECK_EQ_I(decode_ok(body, &d), 0);
        CHECK_SAME(&d, &want);
    }
    /* 6 trailing bytes are a component header: size 0 is BadMsg */
    BADMSG(EMPTY_META " 00000010 01000000 00000000 00000000 00000000 0000");
}

UNIT_TEST(decode_numeric_zero_is_absent)
{
    struct wire_msg d;
    CHECK_EQ_I(decode_ok("00000020 02032122 47000000 00000000 00000000 00000000 00000000 "
                         "00000000 " DUMMY_PAYLOAD,
                         &d),
               0);
    CHECK_EQ_U(d.meta.present, 0);
    /* a zero UUID is still present */
    CHECK_EQ_I(
        decode_ok("00000018 02016500 00000000 00000000 00000000 00000000 " DUMMY_PAYLOAD, &d), 0);
    CHECK(wire_meta_has(&d.meta, WIRE_F_REQUEST_ID));
}

/* Build a message whose meta holds fields[order[i]] in that order. */
static size_t
permuted_msg(uint8_t *out, const uint8_t *desc, const char *const *data, const int *order, int n,
             const char *payload_hex)
{
    uint8_t *p = out + 16;
    size_t off = (size_t)(6 + n + 3) & ~(size_t)3;
    memset(out, 0, MAXMSG);
    p[4] = 2;
    p[5] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        p[6 + i] = desc[order[i]];
        off += hex(data[order[i]], p + off, 256);
    }
    off = (off + 7) & ~(size_t)7;
    pack_u32(p, (uint32_t)off);
    size_t plen = hex(payload_hex, p + off, 512);
    size_t total = 16 + off + plen;
    hex("50500100 00000000 00000001 01000000", out, 16);
    pack_u32(out + 4, (uint32_t)total);
    return total;
}

static int
next_permutation(int *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1]) i--;
    if (i < 0) return 0;
    int j = n - 1;
    while (a[j] <= a[i]) j--;
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) t = a[l], a[l] = a[r], a[r] = t;
    return 1;
}

/* W28's eight fields in all 40320 orders: the same message, the canonical bytes. */
UNIT_TEST(decode_field_order_permutations_w28)
{
    static const uint8_t desc[8] = {0x2A, 0x65, 0x68, 0x47, 0x21, 0x22, 0x23, 0x24};
    static const char *const data[8] = {"00000002",
                                        "ECCA2148 FF4B11E7 99EA000C 29CADC31",
                                        "ECCA2148 FF4B11E7 99EA000C 29CADC31",
                                        "150C1398 B5D2B715",
                                        "00000708",
                                        "00000001",
                                        "5A659CD1",
                                        "5A65A3D9"};
    uint8_t want[MAXMSG], b[MAXMSG], out[MAXMSG];
    size_t want_len = hex(vectors[17].current, want, sizeof(want));
    struct wire_msg w, d;
    build_w28(&w);
    int order[8] = {0, 1, 2, 3, 4, 5, 6, 7}, count = 0, bad = 0;
    do {
        size_t n = permuted_msg(b, desc, data, order, 8, DUMMY_PAYLOAD);
        if (wire_decode(b, n, &d) != 0 || msg_diff(&d, &w) != NULL ||
            wire_encode(&d, out, sizeof(out)) != (int)want_len || memcmp(out, want, want_len) != 0)
            bad++;
        count++;
    } while (next_permutation(order, 8));
    CHECK_EQ_I(count, 40320);
    CHECK_EQ_I(bad, 0);
}

/* Variable-length fields in every order (the Java client's order among them). */
UNIT_TEST(decode_field_order_permutations_var)
{
    static const uint8_t desc[6] = {0x22, 0x23, 0x21, 0x09, 0x65, 0x06};
    static const char *const data[6] = {
        "00000003",
        "5A659CD1",
        "0003F480",
        "28246162 63646566 61622D31 3233342D 34353637 2D383930 312D3132 33343536 37383930 "
        "61620000", /* a 36-byte UUID string: field size 40 */
        "ECCA2148 FF4B11E7 99EA000C 29CADC31",
        "1000DD2A 7F000001 00000000 00000000"};
    uint8_t b[MAXMSG], first[MAXMSG], out[MAXMSG];
    int first_len = 0, order[6] = {0, 1, 2, 3, 4, 5}, bad = 0;
    struct wire_msg d;
    do {
        size_t n = permuted_msg(b, desc, data, order, 6, DUMMY_PAYLOAD);
        if (wire_decode(b, n, &d) != 0) {
            bad++;
            continue;
        }
        int len = wire_encode(&d, out, sizeof(out));
        if (first_len == 0) {
            first_len = len;
            memcpy(first, out, (size_t)len);
            CHECK_EQ_U(d.meta.correlation_id.len, 36);
            CHECK_EQ_U(d.meta.ttl, 259200);
            CHECK_EQ_U(d.meta.source.port, 56618);
            CHECK_EQ_U(d.meta.source.app_len, 0);
            CHECK_EQ_U(d.meta.source.ip[0], 0x7F);
        } else if (len != first_len || memcmp(out, first, (size_t)len) != 0) {
            bad++;
        }
    } while (next_permutation(order, 6));
    CHECK_EQ_I(bad, 0);
    /* canonical: RequestID, TTL, Version, CreationTime, CorrelationID, SourceInfo */
    CHECK_MEM(first + 16 + 5, 7, "\x06\x65\x21\x22\x23\x09\x06", 7);
}

/* ---- encoding --------------------------------------------------------------- */

/* The components of an encoded message: sizes multiples of 8, minimal, zero padded. */
static void
check_layout(const uint8_t *b, size_t len, const struct wire_msg *m)
{
    CHECK_EQ_U(unpack_u32(b + 4), len);
    size_t meta = unpack_u32(b + 16);
    CHECK_EQ_U(b[20], 2);
    CHECK_EQ_U(meta % 8, 0);
    size_t psize = unpack_u32(b + 16 + meta);
    CHECK_EQ_U(b[16 + meta + 4], 1);
    CHECK_EQ_U(16 + meta + psize, len);
    CHECK_EQ_U(psize % 8, 0);
    size_t content = 12 + m->ns.len + m->key.len + (m->value.len ? m->value.len + 1 : 0);
    CHECK(psize >= content && psize - content < 8);
    for (size_t i = 16 + meta + content; i < len; i++) CHECK_EQ_U(b[i], 0);
}

UNIT_TEST(roundtrip_every_field_ipv6_binary)
{
    static uint8_t ns[255], key[300], val[1000], app[127], corr[250], udf[250], out[4096];
    uint8_t ip6[16], id1[16], id2[16];
    for (int i = 0; i < 1000; i++) val[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 300; i++) key[i] = (uint8_t)(255 - i);
    for (int i = 0; i < 255; i++) ns[i] = (uint8_t)i;
    for (int i = 0; i < 250; i++) corr[i] = (uint8_t)(i ^ 0x5A), udf[i] = (uint8_t)(i + 3);
    for (int i = 0; i < 127; i++) app[i] = (uint8_t)(i * 3);
    for (int i = 0; i < 16; i++)
        ip6[i] = (uint8_t)(0xF0 + i), id1[i] = (uint8_t)i, id2[i] = (uint8_t)(0xFF - i);
    struct wire_msg m, d;
    msg_init(&m, 0x40, 0xFFFFFFFF, WIRE_OP_UDFSET);
    m.flags = 0x05;
    m.shard_id = 0xBEEF;
    wire_meta_set_u32(&m.meta, WIRE_F_HANDLING_TIME, 1);
    wire_meta_set_u32(&m.meta, WIRE_F_TTL, 259200);
    wire_meta_set_u32(&m.meta, WIRE_F_VERSION, 0xFFFFFFFF);
    wire_meta_set_u32(&m.meta, WIRE_F_CREATION_TIME, 1700000000);
    wire_meta_set_u32(&m.meta, WIRE_F_EXPIRATION_TIME, 1700259200);
    wire_meta_set_last_modified(&m.meta, UINT64_MAX);
    wire_meta_set_request_id(&m.meta, id1);
    wire_meta_set_originator_id(&m.meta, id2);
    CHECK_EQ_I(wire_meta_set_source(&m.meta, 1, ip6, 65535, app, sizeof(app)), 0);
    CHECK_EQ_I(wire_meta_set_correlation_id(&m.meta, corr, sizeof(corr)), 0);
    CHECK_EQ_I(wire_meta_set_udf_name(&m.meta, udf, sizeof(udf)), 0);
    m.ns = (struct wire_bytes){ns, sizeof(ns)};
    m.key = (struct wire_bytes){key, sizeof(key)};
    m.value = (struct wire_bytes){val, sizeof(val)};
    m.value_type = 3;
    int n = wire_encode(&m, out, sizeof(out));
    CHECK(n > 0);
    if (n <= 0) return;
    CHECK_EQ_U(wire_encoded_size(&m), (size_t)n);
    check_layout(out, (size_t)n, &m);
    /* 11 fields; the handling time first, the var fields last, canonical order */
    CHECK_MEM(out + 21, 12, "\x0B\x2A\x65\x68\x47\x21\x22\x23\x24\x09\x06\x0B", 12);
    CHECK_EQ_I(wire_decode(out, (size_t)n, &d), 0);
    CHECK_SAME(&d, &m);
    CHECK_EQ_U(d.meta.source.ipv6, 1);
    CHECK_EQ_U(d.meta.present, 0xFFE);
    CHECK_EQ_U(d.shard_id, 0xBEEF);
    /* one-way requests carry the shard id as well */
    m.type_flag = 0xC0;
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), n);
    CHECK_EQ_I(wire_decode(out, (size_t)n, &d), 0);
    CHECK_EQ_I(wire_rq(d.type_flag), WIRE_RQ_ONEWAY);
    CHECK_SAME(&d, &m);
}

UNIT_TEST(roundtrip_max_lengths)
{
    size_t vlen = 300000, cap = 400000;
    uint8_t *key = malloc(65535), *val = malloc(vlen), *out = malloc(cap);
    uint8_t ns[255];
    memset(ns, 'n', sizeof(ns));
    for (size_t i = 0; i < 65535; i++) key[i] = (uint8_t)(i * 31);
    for (size_t i = 0; i < vlen; i++) val[i] = (uint8_t)(i >> 3);
    struct wire_msg m, d;
    msg_init(&m, 0x40, 99, WIRE_OP_SET);
    m.ns = (struct wire_bytes){ns, 255};
    m.key = (struct wire_bytes){key, 65535};
    m.value = (struct wire_bytes){val, vlen};
    int n = wire_encode(&m, out, cap);
    CHECK_EQ_U((size_t)n, 16 + 8 + ((12 + 255 + 65535 + vlen + 1 + 7) & ~(size_t)7));
    if (n > 0) {
        check_layout(out, (size_t)n, &m);
        CHECK_EQ_I(wire_decode(out, (size_t)n, &d), 0);
        CHECK_SAME(&d, &m);
        uint32_t flen;
        CHECK_EQ_I(wire_frame(out, (size_t)n, 0, &flen, NULL), WIRE_OK);
        CHECK_EQ_I(wire_frame(out, (size_t)n, (size_t)n - 1, &flen, NULL), WIRE_ERROR);
    }
    free(key);
    free(val);
    free(out);
}

UNIT_TEST(roundtrip_empty_value_and_empty_message)
{
    uint8_t out[256], want[64];
    struct wire_msg m, d;
    msg_init(&m, 0x40, 5, WIRE_OP_GET);
    set_payload(&m, "ns", "k", NULL);
    m.value_type = 3; /* no value: no type byte, whatever value_type says */
    int n = wire_encode(&m, out, sizeof(out));
    CHECK_EQ_I(n, 16 + 8 + 16);
    CHECK_EQ_U(unpack_u32(out + 24 + 8), 0); /* valueLen */
    CHECK_EQ_I(wire_decode(out, (size_t)n, &d), 0);
    CHECK_EQ_U(d.value.len, 0);
    CHECK_EQ_U(d.value_type, 0);
    /* a zeroed struct is the smallest message: 40 bytes, version 01 */
    memset(&m, 0, sizeof(m));
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), 40);
    size_t wn = hex("50500100 00000028 00000000 00000000 " EMPTY_META
                    " 00000010 01000000 00000000 00000000",
                    want, sizeof(want));
    CHECK_MEM(out, 40, want, wn);
    /* numeric fields set to 0 and SourceInfo with nothing in it */
    wire_meta_set_u32(&m.meta, WIRE_F_TTL, 0);
    wire_meta_set_last_modified(&m.meta, 0);
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), 40);
    CHECK_EQ_I(wire_meta_set_source(&m.meta, 0, NULL, 0, NULL, 0), 0);
    CHECK_EQ_I(wire_meta_set_correlation_id(&m.meta, NULL, 0), 0);
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), 56);
    CHECK_EQ_I(wire_decode(out, 56, &d), 0);
    CHECK(wire_meta_has(&d.meta, WIRE_F_SOURCE_INFO));
    CHECK(wire_meta_has(&d.meta, WIRE_F_CORRELATION_ID));
    CHECK(!wire_meta_has(&d.meta, WIRE_F_TTL));
    CHECK_SAME(&d, &m);
}

UNIT_TEST(encode_bytes_14_15)
{
    uint8_t out[64];
    struct wire_msg m, d;
    msg_init(&m, 0x00, 1, WIRE_OP_GET);
    m.shard_id = 0x1234;
    m.status = WIRE_ST_NO_KEY;
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), 40);
    CHECK(out[14] == 0x00 && out[15] == 0x03);
    CHECK_EQ_I(wire_decode(out, 40, &d), 0);
    CHECK_EQ_U(d.status, 3);
    CHECK_EQ_U(d.shard_id, 3);
    m.type_flag = 0x40;
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), 40);
    CHECK(out[14] == 0x12 && out[15] == 0x34);
    CHECK_EQ_I(wire_decode(out, 40, &d), 0);
    CHECK_EQ_U(d.shard_id, 0x1234);
    CHECK_EQ_U(d.status, 0x34);
    /* the version byte is written as given; 0 means 1 */
    m.proto_version = 7;
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), 40);
    CHECK_EQ_U(out[2], 7);
}

UNIT_TEST(encode_limits)
{
    static uint8_t big[70000], out[80000];
    struct wire_msg m;
    msg_init(&m, 0x40, 1, WIRE_OP_SET);
    m.ns = (struct wire_bytes){big, 256};
    CHECK_EQ_U(wire_encoded_size(&m), 0);
    CHECK_EQ_U(wire_payload_size(&m), 0);
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), JUNO_EINVAL);
    CHECK_EQ_I(wire_encode_payload(&m, out, sizeof(out)), JUNO_EINVAL);
    m.ns.len = 255;
    CHECK(wire_encode(&m, out, sizeof(out)) > 0);
    m.key = (struct wire_bytes){big, 65536};
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), JUNO_EINVAL);
    m.key.len = 65535;
    CHECK(wire_encode(&m, out, sizeof(out)) > 0);
    m.key = (struct wire_bytes){NULL, 1};
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), JUNO_EINVAL);
    m.key = (struct wire_bytes){big, 3};
    m.value = (struct wire_bytes){NULL, 3};
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), JUNO_EINVAL);
    m.value = (struct wire_bytes){big, (size_t)INT32_MAX + 1};
    CHECK_EQ_U(wire_encoded_size(&m), 0);
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), JUNO_EINVAL);
    m.value = (struct wire_bytes){big, 10};

    CHECK_EQ_I(wire_meta_set_source(&m.meta, 0, LOCALHOST, 1, big, 128), JUNO_EINVAL);
    CHECK(!wire_meta_has(&m.meta, WIRE_F_SOURCE_INFO));
    CHECK_EQ_I(wire_meta_set_source(&m.meta, 0, LOCALHOST, 1, big, 127), 0);
    CHECK(wire_encode(&m, out, sizeof(out)) > 0);
    m.meta.source.app_len = 128;
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), JUNO_EINVAL);
    m.meta.source.app_len = 1;
    m.meta.source.app = NULL;
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), JUNO_EINVAL);
    m.meta.source.app_len = 0;

    CHECK_EQ_I(wire_meta_set_correlation_id(&m.meta, big, 251), JUNO_EINVAL);
    CHECK_EQ_I(wire_meta_set_udf_name(&m.meta, big, 251), JUNO_EINVAL);
    CHECK_EQ_I(wire_meta_set_udf_name(&m.meta, NULL, 1), JUNO_EINVAL);
    CHECK_EQ_I(wire_meta_set_correlation_id(&m.meta, big, 250), 0);
    CHECK_EQ_I(wire_meta_set_udf_name(&m.meta, big, 250), 0);
    CHECK(wire_encode(&m, out, sizeof(out)) > 0);
    m.meta.correlation_id.len = 251;
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), JUNO_EINVAL);
    m.meta.correlation_id.len = 250;
    m.meta.udf_name.len = 251;
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), JUNO_EINVAL);
    /* a header-only message has no body to check */
    m.header_only = 1;
    CHECK_EQ_I(wire_encode(&m, out, sizeof(out)), 16);
}

UNIT_TEST(encode_cap_too_small_writes_nothing)
{
    uint8_t out[256];
    struct wire_msg m;
    build_w01(&m);
    int need = (int)wire_encoded_size(&m);
    CHECK_EQ_I(need, 112);
    for (int cap = 0; cap < need; cap++) {
        memset(out, 0xEE, sizeof(out));
        CHECK_EQ_I(wire_encode(&m, out, (size_t)cap), JUNO_EMSGSIZE);
        CHECK(out[0] == 0xEE && out[cap] == 0xEE);
    }
    CHECK_EQ_I(wire_encode(&m, out, (size_t)need), need);
    CHECK_EQ_I(wire_encode_payload(&m, out, 39), JUNO_EMSGSIZE);
    CHECK_EQ_I(wire_encode_payload(&m, out, 40), 40);
}

UNIT_TEST(meta_setters)
{
    struct wire_meta meta;
    uint8_t id[16] = {1};
    memset(&meta, 0, sizeof(meta));
    wire_meta_set_u32(&meta, WIRE_F_REQUEST_ID, 5); /* not a u32 field: ignored */
    wire_meta_set_u32(&meta, 0, 5);
    wire_meta_set_u32(&meta, 40, 5);
    CHECK_EQ_U(meta.present, 0);
    wire_meta_set_u32(&meta, WIRE_F_VERSION, 4);
    CHECK_EQ_U(meta.version, 4);
    CHECK(wire_meta_has(&meta, WIRE_F_VERSION));
    CHECK(!wire_meta_has(&meta, WIRE_F_TTL));
    CHECK(!wire_meta_has(&meta, -1));
    CHECK(!wire_meta_has(&meta, 32));
    wire_meta_set_originator_id(&meta, id);
    CHECK_EQ_U(meta.present, 1u << WIRE_F_VERSION | 1u << WIRE_F_ORIGINATOR_ID);
}

UNIT_TEST(names_and_messages)
{
    CHECK_STR(wire_opcode_name(WIRE_OP_NOP), "Nop");
    CHECK_STR(wire_opcode_name(WIRE_OP_CREATE), "Create");
    CHECK_STR(wire_opcode_name(WIRE_OP_UDFSET), "UDFSet");
    CHECK_STR(wire_opcode_name(WIRE_OP_PREPARE_CREATE), "PrepareCreate");
    CHECK_STR(wire_opcode_name(0x86), "Delete");
    CHECK_STR(wire_opcode_name(WIRE_OP_MARK_DELETE), "MarkDelete");
    CHECK_STR(wire_opcode_name(WIRE_OP_VER_HANDSHAKE), "VerHandshake");
    CHECK_STR(wire_opcode_name(0x08), "unknown");
    CHECK_STR(wire_opcode_name(0xFF), "unknown");
    CHECK_STR(wire_opcode_name(-1), "unknown");
    CHECK_STR(wire_status_name(WIRE_ST_OK), "Ok");
    CHECK_STR(wire_status_name(WIRE_ST_NO_KEY), "NoKey");
    CHECK_STR(wire_status_name(19), "VersionConflict");
    CHECK_STR(wire_status_name(WIRE_ST_INTERNAL), "Internal");
    CHECK_STR(wire_status_name(29), "unknown");
    CHECK_STR(wire_status_str(WIRE_ST_NO_KEY), "key not found");
    CHECK_STR(wire_status_str(WIRE_ST_DUP_KEY), "duplicate key");
    CHECK_STR(wire_status_str(WIRE_ST_VERSION_CONFLICT), "version conflict");
    CHECK_STR(wire_status_str(254), "unknown status");
    CHECK_EQ_I(WIRE_ST_NOT_SUPPORTED, 28);
    CHECK_EQ_I(WIRE_ST_SS_OUT_OF_RESOURCE, 22);
    CHECK_EQ_I(WIRE_OP_CLONE, 0xE1);
    /* every status in 0..28 has a name */
    for (int s = 0; s <= 28; s++) CHECK(strcmp(wire_status_name(s), "unknown") != 0);
}

UNIT_TEST(uuid_parse_and_format)
{
    uint8_t id[16], want[16];
    char text[37];
    hex("51D0F4AF 505F11E7 9176000C 29CADC31", want, 16);
    CHECK_EQ_I(wire_uuid_parse(RID01, id), 0);
    CHECK_MEM(id, 16, want, 16);
    CHECK_EQ_I(wire_uuid_parse("51D0F4AF-505F-11E7-9176-000C29CADC31", id), 0);
    CHECK_MEM(id, 16, want, 16);
    CHECK_EQ_I(wire_uuid_parse("51d0f4af505f11e79176000c29cadc31", id), 0);
    CHECK_MEM(id, 16, want, 16);
    wire_uuid_format(id, text);
    CHECK_STR(text, RID01);
    memset(id, 0xAB, 16);
    CHECK_EQ_I(wire_uuid_parse("", id), JUNO_EINVAL);
    CHECK_EQ_I(wire_uuid_parse("51d0f4af-505f-11e7-9176-000c29cadc3", id), JUNO_EINVAL);
    CHECK_EQ_I(wire_uuid_parse("51d0f4af-505f-11e7-9176-000c29cadc311", id), JUNO_EINVAL);
    CHECK_EQ_I(wire_uuid_parse("51d0f4af5-05f-11e7-9176-000c29cadc31", id), JUNO_EINVAL);
    CHECK_EQ_I(wire_uuid_parse("51d0f4af-505f-11e7-9176-000c29cadcg1", id), JUNO_EINVAL);
    CHECK_EQ_I(wire_uuid_parse("51d0f4af505f11e79176000c29cadc3-", id), JUNO_EINVAL);
    CHECK_EQ_I(wire_uuid_parse("51d0f4af-505f-11e7-9176+000c29cadc31", id), JUNO_EINVAL);
    for (int i = 0; i < 16; i++) CHECK_EQ_U(id[i], 0xAB); /* untouched on error */
    uint8_t zero[16] = {0};
    wire_uuid_format(zero, text);
    CHECK_STR(text, "00000000-0000-0000-0000-000000000000");
}

/* ---- deterministic mutation loop ------------------------------------------- */

/* Encode d, decode again: the same fields, and re-encoding is byte-stable. */
static const char *
reencode_check(const struct wire_msg *d)
{
    static uint8_t out[8192], out2[8192];
    struct wire_msg e;
    size_t size = wire_encoded_size(d);
    if (size == 0 || size > sizeof(out)) return "decoded message not encodable";
    int n = wire_encode(d, out, sizeof(out));
    if (n != (int)size) return "wire_encode size";
    if (wire_decode(out, (size_t)n, &e) != 0) return "re-decode failed";
    const char *diff = msg_diff(d, &e);
    if (diff) return diff;
    if (wire_encode(&e, out2, sizeof(out2)) != n || memcmp(out, out2, (size_t)n) != 0)
        return "re-encoding not stable";
    return NULL;
}

static void
mutate(uint8_t *b, size_t *len, size_t cap)
{
    static const uint32_t words[] = {0, 1, 4, 5, 6, 7, 8, 12, 16, 0x7FFFFFFF, 0xFFFFFFFF};
    static const uint8_t bytes[] = {0, 1, 2, 5, 6, 7, 8, 0x20, 0x7F, 0x80, 0xA1, 0xFF};
    size_t n = *len, pos = n ? rng() % n : 0;
    switch (rng() % 9) {
    case 0:
        if (n) b[pos] = (uint8_t)rng();
        break;
    case 1:
        if (n) b[pos] ^= (uint8_t)(1u << (rng() % 8));
        break;
    case 2:
        if (n) b[pos] = bytes[rng() % sizeof(bytes)];
        break;
    case 3: /* an interesting size word, or exactly the rest of the buffer */
        if (n >= 4) {
            pos = rng() % (n - 3);
            uint32_t w =
                rng() % 3 ? words[rng() % (sizeof(words) / sizeof(words[0]))] : (uint32_t)(n - pos);
            pack_u32(b + pos, w);
        }
        break;
    case 4:
        if (n < cap) {
            memmove(b + pos + 1, b + pos, n - pos);
            b[pos] = (uint8_t)rng();
            (*len)++;
        }
        break;
    case 5:
        if (n) {
            memmove(b + pos, b + pos + 1, n - pos - 1);
            (*len)--;
        }
        break;
    case 6: *len = n ? rng() % n : 0; break;
    case 7: { /* duplicate a slice in place */
        size_t from = n ? rng() % n : 0, sl = 1 + rng() % 24;
        if (from + sl > n) sl = n - from;
        if (n + sl <= cap && sl > 0) {
            memmove(b + pos + sl, b + pos, n - pos);
            memmove(b + pos, b + (from >= pos ? from + sl : from), sl);
            *len = n + sl;
        }
        break;
    }
    default:
        if (n >= 4) pack_u32(b + (pos & ~(size_t)3) % (n - 3), rng());
        break;
    }
}

UNIT_TEST(mutation_loop_100k)
{
    load_blobs();
    rng_state = 0xD1B54A32D192ED03ULL;
    static uint8_t buf[2048];
    long framed = 0, decoded = 0, failures = 0;
    for (int it = 0; it < 100000 && failures < 5; it++) {
        const struct blob *src = &blobs[rng() % num_blobs];
        size_t len = src->len;
        memcpy(buf, src->b, len);
        int nmut = 1 + (int)(rng() % 4);
        for (int k = 0; k < nmut; k++) mutate(buf, &len, sizeof(buf));
        if (rng() % 4 != 0 && len >= 8) pack_u32(buf + 4, (uint32_t)len); /* keep framing */
        uint8_t *c = malloc(len ? len : 1);
        memcpy(c, buf, len);
        uint32_t flen = 0;
        const char *why = NULL, *fail = NULL;
        struct wire_msg d;
        int fr = wire_frame(c, len, WIRE_DEFAULT_MAX_FRAME, &flen, &why);
        if (fr == WIRE_OK) {
            framed++;
            if (flen > len || flen < 12)
                fail = "frame length beyond the input";
            else if (wire_decode(c, flen, &d) == 0) {
                decoded++;
                fail = reencode_check(&d);
            }
        } else if (fr == WIRE_ERROR && why == NULL) {
            fail = "ERROR without a reason";
        } else if (fr != WIRE_AGAIN && fr != WIRE_ERROR) {
            fail = "unknown frame verdict";
        }
        /* decode straight from the buffer too, whatever the framing said */
        if (!fail && wire_decode(c, len, &d) == 0) fail = reencode_check(&d);
        if (fail) {
            failures++;
            printf("# iteration %d: %s; input:", it, fail);
            for (size_t i = 0; i < len; i++) printf("%s%02X", i % 4 ? "" : " ", c[i]);
            printf("\n");
            unit_cur_failed = 1;
        }
        free(c);
    }
    printf("# mutation loop: %ld framed, %ld decoded ok\n", framed, decoded);
    CHECK(framed > 20000);
    CHECK(decoded > 5000);
}

int
main(void)
{
    RUN(vector_W01);
    RUN(vector_W02);
    RUN(vector_W03);
    RUN(vector_W04);
    RUN(vector_W05);
    RUN(vector_W06);
    RUN(vector_W07);
    RUN(vector_W08);
    RUN(vector_W11);
    RUN(vector_W12);
    RUN(vector_W13);
    RUN(vector_W15);
    RUN(vector_W16);
    RUN(vector_W17);
    RUN(vector_W18);
    RUN(vector_W21);
    RUN(vector_W23);
    RUN(vector_W28);
    RUN(vector_W01_fields_literal);
    RUN(vector_W28_fields_literal);
    RUN(vector_W21_header_only_roundtrip);
    RUN(vector_W22_payload_component);
    RUN(frame_every_prefix_is_again);
    RUN(frame_one_byte_at_a_time);
    RUN(frame_back_to_back);
    RUN(frame_stream_random_chunks);
    RUN(frame_bad_magic_at_once);
    RUN(frame_msgsize_limits_from_8_bytes);
    RUN(decode_component_size_0_to_5);
    RUN(decode_component_past_end);
    RUN(decode_body_too_short);
    RUN(decode_meta_malformed);
    RUN(decode_byte_seq_limit);
    RUN(decode_payload_malformed);
    RUN(decode_value_type_rule);
    RUN(decode_missing_components);
    RUN(decode_unknown_component_skipped);
    RUN(decode_unknown_meta_field_skipped);
    RUN(decode_repeated_component_later_wins);
    RUN(decode_trailing_bytes_ignored);
    RUN(decode_numeric_zero_is_absent);
    RUN(decode_field_order_permutations_w28);
    RUN(decode_field_order_permutations_var);
    RUN(roundtrip_every_field_ipv6_binary);
    RUN(roundtrip_max_lengths);
    RUN(roundtrip_empty_value_and_empty_message);
    RUN(encode_bytes_14_15);
    RUN(encode_limits);
    RUN(encode_cap_too_small_writes_nothing);
    RUN(meta_setters);
    RUN(names_and_messages);
    RUN(uuid_parse_and_format);
    RUN(mutation_loop_100k);
    return unit_done();
}
