/* wire.c: JunoDB message framing, decoding and encoding (see wire.h and
 * docs/protocol.md). The meta component lives in wire_meta.c.
 *
 * Decoding follows what JunoDB servers accept (reference §5): components are
 * read while 6 or more bytes remain, each by its own size word, so unknown
 * components, a later repeat of a component and up to 5 trailing bytes are all
 * tolerated. Anything that would read outside a component is BadMsg.
 */
#include "wire.h"

#include "error.h"
#include "pack.h"

#include <limits.h>
#include <string.h>

#define MSG_HEADER     12 /* magic, version, type flag, msgSize, opaque */
#define MIN_BODY_MSG   28 /* a body of 16 bytes or more after the 12-byte header */
#define COMP_HEADER    5  /* size u32, tag u8 */
#define COMP_MIN_READ  6  /* components are read while this many bytes remain */
#define COMP_PAYLOAD   1
#define COMP_META      2
#define PAYLOAD_HEADER 12 /* size, tag, nsLen u8, keyLen u16, valueLen u32 */

static size_t
align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

const char *
wire_opcode_name(int op)
{
    switch (op) {
#define XX(name, value, str)                                                                       \
    case (value): return str;
        WIRE_OPCODE_MAP(XX)
#undef XX
    default: return "unknown";
    }
}

const char *
wire_status_name(int status)
{
    switch (status) {
#define XX(name, value, str, msg)                                                                  \
    case (value): return str;
        WIRE_STATUS_MAP(XX)
#undef XX
    default: return "unknown";
    }
}

const char *
wire_status_str(int status)
{
    switch (status) {
#define XX(name, value, str, msg)                                                                  \
    case (value): return msg;
        WIRE_STATUS_MAP(XX)
#undef XX
    default: return "unknown status";
    }
}

static int
frame_error(const char **why, const char *reason)
{
    if (why != NULL) *why = reason;
    return WIRE_ERROR;
}

int
wire_frame(const uint8_t *buf, size_t len, size_t max_frame, uint32_t *frame_len, const char **why)
{
    if (max_frame == 0) max_frame = WIRE_DEFAULT_MAX_FRAME;
    /* Judge each magic byte as soon as it is there: a stream that is not
     * JunoDB is closed before anything else is buffered. */
    if (len >= 1 && buf[0] != (WIRE_MAGIC >> 8)) return frame_error(why, "bad magic");
    if (len >= 2 && buf[1] != (WIRE_MAGIC & 0xFF)) return frame_error(why, "bad magic");
    if (len < 8) return WIRE_AGAIN;
    uint32_t size = unpack_u32(buf + 4);
    if (size < MSG_HEADER) return frame_error(why, "msgSize below 12");
    if (size > max_frame) return frame_error(why, "msgSize over the frame limit");
    if (len < size) return WIRE_AGAIN;
    if (frame_len != NULL) *frame_len = size;
    return WIRE_OK;
}

/* The payload component c of size bytes (size >= 6). */
static int
decode_payload(const uint8_t *c, size_t size, struct wire_msg *m)
{
    if (size < PAYLOAD_HEADER) return WIRE_ST_BADMSG;
    size_t ns_len = c[5], key_len = unpack_u16(c + 6);
    uint32_t value_len = unpack_u32(c + 8);
    if ((uint64_t)PAYLOAD_HEADER + ns_len + key_len + value_len > size) return WIRE_ST_BADMSG;
    const uint8_t *p = c + PAYLOAD_HEADER;
    m->ns.ptr = p;
    m->ns.len = ns_len;
    m->key.ptr = p + ns_len;
    m->key.len = key_len;
    p += ns_len + key_len;
    /* valueLen 0 is an empty value; a lone type byte (1) is dropped. */
    if (value_len > 1) {
        m->value_type = p[0];
        m->value.ptr = p + 1;
        m->value.len = value_len - 1;
    } else {
        m->value_type = 0;
        m->value.ptr = NULL;
        m->value.len = 0;
    }
    return 0;
}

/* The components after the 16-byte header; len == msgSize >= MIN_BODY_MSG. */
static int
decode_components(const uint8_t *frame, size_t len, struct wire_msg *m)
{
    size_t off = WIRE_HEADER_SIZE;
    while (len - off >= COMP_MIN_READ) {
        const uint8_t *c = frame + off;
        uint32_t size = unpack_u32(c);
        if (size <= COMP_HEADER || size > len - off) return WIRE_ST_BADMSG;
        /* A repeated component replaces the earlier one entirely. */
        if (c[4] == COMP_META) {
            if (wire__meta_decode(c, size, &m->meta) != 0) return WIRE_ST_BADMSG;
            m->has_meta = 1;
        } else if (c[4] == COMP_PAYLOAD) {
            if (decode_payload(c, size, m) != 0) return WIRE_ST_BADMSG;
            m->has_payload = 1;
        }
        off += size; /* unknown component tags are skipped */
    }
    return 0; /* up to 5 trailing bytes are ignored */
}

int
wire_decode(const uint8_t *frame, size_t len, struct wire_msg *m)
{
    uint8_t h[WIRE_HEADER_SIZE] = {0};
    memset(m, 0, sizeof(*m));
    if (frame != NULL && len > 0) memcpy(h, frame, len < sizeof(h) ? len : sizeof(h));
    /* Header fields first, from whatever is there, so a server can reply. */
    m->proto_version = h[2];
    m->type_flag = h[3];
    m->opaque = unpack_u32(h + 8);
    m->opcode = h[12];
    m->flags = h[13];
    m->shard_id = unpack_u16(h + 14);
    m->status = h[15];
    if (len < WIRE_HEADER_SIZE || unpack_u16(h) != WIRE_MAGIC || unpack_u32(h + 4) != len)
        return WIRE_ST_BADMSG;
    if (len == WIRE_HEADER_SIZE) {
        m->header_only = 1;
        return WIRE_ST_OK;
    }
    if (len < MIN_BODY_MSG) return WIRE_ST_BADMSG;
    int rc = decode_components(frame, len, m);
    if (rc != 0) {
        /* Keep the header, drop whatever part of the body was decoded. */
        memset(&m->meta, 0, sizeof(m->meta));
        m->ns = m->key = m->value = (struct wire_bytes){NULL, 0};
        m->value_type = 0;
        m->has_meta = m->has_payload = 0;
    }
    return rc;
}

/* The payload component's size into *size; 0 or JUNO_EINVAL. */
static int
payload_size(const struct wire_msg *m, size_t *size)
{
    if (m->ns.len > WIRE_MAX_NAMESPACE || m->key.len > WIRE_MAX_KEY || m->value.len > INT32_MAX)
        return JUNO_EINVAL;
    if ((m->ns.len > 0 && m->ns.ptr == NULL) || (m->key.len > 0 && m->key.ptr == NULL) ||
        (m->value.len > 0 && m->value.ptr == NULL))
        return JUNO_EINVAL;
    size_t value_len = m->value.len > 0 ? m->value.len + 1 : 0;
    *size = align8(PAYLOAD_HEADER + m->ns.len + m->key.len + value_len);
    return *size > INT32_MAX ? JUNO_EINVAL : 0;
}

static void
write_payload(const struct wire_msg *m, uint8_t *p, size_t size)
{
    uint32_t value_len = m->value.len > 0 ? (uint32_t)m->value.len + 1 : 0;
    pack_u32(p, (uint32_t)size);
    p[4] = COMP_PAYLOAD;
    p[5] = (uint8_t)m->ns.len;
    pack_u16(p + 6, (uint16_t)m->key.len);
    pack_u32(p + 8, value_len);
    uint8_t *q = p + PAYLOAD_HEADER;
    if (m->ns.len > 0) memcpy(q, m->ns.ptr, m->ns.len);
    q += m->ns.len;
    if (m->key.len > 0) memcpy(q, m->key.ptr, m->key.len);
    q += m->key.len;
    if (value_len > 0) {
        *q++ = m->value_type;
        memcpy(q, m->value.ptr, m->value.len);
        q += m->value.len;
    }
    memset(q, 0, (size_t)(p + size - q)); /* minimal zero padding */
}

/* Sizes of the whole message and its parts; 0 or JUNO_EINVAL. */
static int
message_size(const struct wire_msg *m, size_t *total, size_t *meta, size_t *payload)
{
    *meta = *payload = 0;
    if (m->header_only) {
        *total = WIRE_HEADER_SIZE;
        return 0;
    }
    int rc = wire__meta_size(&m->meta, meta);
    if (rc == 0) rc = payload_size(m, payload);
    if (rc != 0) return rc;
    *total = WIRE_HEADER_SIZE + *meta + *payload;
    return *total > INT32_MAX ? JUNO_EINVAL : 0;
}

size_t
wire_encoded_size(const struct wire_msg *m)
{
    size_t total, meta, payload;
    return message_size(m, &total, &meta, &payload) == 0 ? total : 0;
}

int
wire_encode(const struct wire_msg *m, uint8_t *buf, size_t cap)
{
    size_t total, meta, payload;
    int rc = message_size(m, &total, &meta, &payload);
    if (rc != 0) return rc;
    if (cap < total) return JUNO_EMSGSIZE;
    pack_u16(buf, WIRE_MAGIC);
    buf[2] = m->proto_version != 0 ? m->proto_version : WIRE_PROTO_VERSION;
    buf[3] = m->type_flag;
    pack_u32(buf + 4, (uint32_t)total);
    pack_u32(buf + 8, m->opaque);
    buf[12] = m->opcode;
    buf[13] = m->flags;
    if (wire_rq(m->type_flag) == WIRE_RQ_RESPONSE) {
        buf[14] = 0;
        buf[15] = m->status;
    } else {
        pack_u16(buf + 14, m->shard_id);
    }
    if (!m->header_only) {
        wire__meta_write(&m->meta, buf + WIRE_HEADER_SIZE, meta);
        write_payload(m, buf + WIRE_HEADER_SIZE + meta, payload);
    }
    return (int)total;
}

size_t
wire_payload_size(const struct wire_msg *m)
{
    size_t size;
    return payload_size(m, &size) == 0 ? size : 0;
}

int
wire_encode_payload(const struct wire_msg *m, uint8_t *buf, size_t cap)
{
    size_t size;
    int rc = payload_size(m, &size);
    if (rc != 0) return rc;
    if (cap < size) return JUNO_EMSGSIZE;
    write_payload(m, buf, size);
    return (int)size;
}
