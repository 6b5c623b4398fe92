/* wire.h: the JunoDB client wire protocol: incremental framing, zero-copy
 * decoding and canonical encoding of operational messages.
 *
 *   0      2    3     4        8        12     13    14          16
 *   | 5050 | 01 | tf | msgSize | opaque | op | flags | shard/status | components...
 *
 * A message is a 12-byte header (magic, version, type flag, msgSize counting the
 * whole message, opaque), a 4-byte operation header, then components: a meta
 * component (tag 02: TTL, version, request id, ...) and a payload component
 * (tag 01: namespace, key, value). docs/protocol.md describes every byte.
 *
 * Reading a stream: call wire_frame() on the bytes buffered so far; it says
 * whether a whole message is there (OK, with its length), whether more bytes
 * are needed (AGAIN), or whether the stream is not JunoDB (ERROR: close it).
 * It rejects an oversized msgSize from the first 8 bytes, before the caller
 * buffers the body. Then wire_decode() the delimited frame: it fills a
 * struct wire_msg whose byte fields point into the frame (borrowed).
 *
 * Writing: fill a struct wire_msg and call wire_encode(); it always emits the
 * canonical form (meta then payload, canonical field order, minimal padding)
 * that JunoDB servers and the Go client emit.
 */
#ifndef JUNO_WIRE_H
#define JUNO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_HEADER_SIZE       16 /* message header (12) + operation header (4) */
#define WIRE_MAGIC             0x5050
#define WIRE_PROTO_VERSION     1
#define WIRE_DEFAULT_MAX_FRAME (1024 * 1024)

/* RQ bits of the type flag (bits 6-7). */
#define WIRE_RQ_RESPONSE 0
#define WIRE_RQ_REQUEST  1
#define WIRE_RQ_ONEWAY   3

/* Type flags as the clients and servers send them (message type 0, operational). */
#define WIRE_TF_REQUEST  0x40
#define WIRE_TF_RESPONSE 0x00

/* Message type: 0 operational, 1 admin, 2 cluster control. */
static inline int
wire_type(uint8_t type_flag)
{
    return type_flag & 0x3F;
}

/* RQ: WIRE_RQ_RESPONSE, WIRE_RQ_REQUEST or WIRE_RQ_ONEWAY (2 is undefined). */
static inline int
wire_rq(uint8_t type_flag)
{
    return type_flag >> 6;
}

/* Header flags (byte 13). */
#define WIRE_FLAG_REPLICATION 0x01 /* on a Nop: keepalive */
#define WIRE_FLAG_MARK_DELETE 0x02
/* juno: on PrepareCreate/Update/Set to a store, commit at once (a key with a
 * single replica); the store computes the new record's metadata */
#define WIRE_FLAG_ONE_PHASE   0x10
/* juno: with ONE_PHASE, the record's expiration is the request's ExpirationTime
 * (absent: never), whether the record exists or not */
#define WIRE_FLAG_SET_EXPIRY  0x20
/* juno: on a Clone, a record a migration copies: the target applies it behind
 * other writes and makes it durable before its next ShardInfo answer rather
 * than with an fsync of its own */
#define WIRE_FLAG_BULK        0x40
/* juno: on a Read, juno-repair's: a rejoining store (one that may hold stale
 * data) answers it, where it refuses the proxies' */
#define WIRE_FLAG_REPAIR_READ 0x80

/* XX(NAME, value, "Name") */
#define WIRE_OPCODE_MAP(XX)                                                                        \
    XX(NOP, 0x00, "Nop")                                                                           \
    XX(CREATE, 0x01, "Create")                                                                     \
    XX(GET, 0x02, "Get")                                                                           \
    XX(UPDATE, 0x03, "Update")                                                                     \
    XX(SET, 0x04, "Set")                                                                           \
    XX(DESTROY, 0x05, "Destroy")                                                                   \
    XX(UDFGET, 0x06, "UDFGet")                                                                     \
    XX(UDFSET, 0x07, "UDFSet")                                                                     \
    XX(LOGIN, 0x70, "Login") /* juno: a user and password for --acl */                             \
    XX(PREPARE_CREATE, 0x81, "PrepareCreate")                                                      \
    XX(READ, 0x82, "Read")                                                                         \
    XX(PREPARE_UPDATE, 0x83, "PrepareUpdate")                                                      \
    XX(PREPARE_SET, 0x84, "PrepareSet")                                                            \
    XX(PREPARE_DELETE, 0x85, "PrepareDelete")                                                      \
    XX(DELETE, 0x86, "Delete")                                                                     \
    XX(COMMIT, 0xC1, "Commit")                                                                     \
    XX(ABORT, 0xC2, "Abort")                                                                       \
    XX(REPAIR, 0xC3, "Repair")                                                                     \
    XX(MARK_DELETE, 0xC4, "MarkDelete")                                                            \
    XX(CLONE, 0xE1, "Clone")                                                                       \
    XX(VER_HANDSHAKE, 0xE2, "VerHandshake")                                                        \
    XX(DROP_SHARD, 0xF1, "DropShard")         /* juno: delete a shard's key range */               \
    XX(SHARD_INFO, 0xF2, "ShardInfo")         /* juno: a shard's record count and hash */          \
    XX(COMPACT, 0xF3, "Compact")              /* juno: run a full compaction now */                \
    XX(MIGRATE_START, 0xF4, "MigrateStart")   /* juno: stream a shard to another store */          \
    XX(MIGRATE_STATUS, 0xF5, "MigrateStatus") /* juno: how a shard's stream is going */            \
    XX(MIGRATE_STOP, 0xF6, "MigrateStop")     /* juno: end a shard's stream and forwarding */      \
    XX(MIGRATE_VERIFY, 0xF7, "MigrateVerify") /* juno: compare a shard, source and target */       \
    XX(SHARD_ACCEPT, 0xF8, "ShardAccept")     /* juno: serve a shard being moved in */             \
    XX(SHARD_TREE, 0xF9, "ShardTree")         /* juno: a hash range's buckets or records */        \
    XX(CHECKPOINT, 0xFA, "Checkpoint")        /* juno: a RocksDB checkpoint (juno-backup) */       \
    XX(REJOINED, 0xFB, "Rejoined")            /* juno: a rejoining store serves again */           \
    XX(KEY_SCAN, 0xFC, "KeyScan")             /* juno: a shard's keys of a namespace */

enum wire_opcode {
#define XX(name, value, str) WIRE_OP_##name = (value),
    WIRE_OPCODE_MAP(XX)
#undef XX
};

/* XX(NAME, value, "Name", "message") */
#define WIRE_STATUS_MAP(XX)                                                                        \
    XX(OK, 0, "Ok", "ok")                                                                          \
    XX(BADMSG, 1, "BadMsg", "malformed message")                                                   \
    XX(SERVICE_DENIED, 2, "ServiceDenied", "service denied")                                       \
    XX(NO_KEY, 3, "NoKey", "key not found")                                                        \
    XX(DUP_KEY, 4, "DupKey", "duplicate key")                                                      \
    XX(DATA_EXPIRED, 5, "DataExpired", "data expired")                                             \
    XX(OUT_OF_MEM, 6, "OutOfMem", "out of memory")                                                 \
    XX(BAD_PARAM, 7, "BadParam", "bad parameter")                                                  \
    XX(RECORD_LOCKED, 8, "RecordLocked", "record locked")                                          \
    XX(VERSION_TOO_OLD, 9, "VersionTooOld", "version too old")                                     \
    XX(NO_UNCOMMITTED, 10, "NoUncommitted", "no uncommitted record")                               \
    XX(BAD_REQUEST_ID, 11, "BadRequestID", "bad request id")                                       \
    XX(NO_STORAGE_SERVER, 12, "NoStorageServer", "no storage server")                              \
    XX(DUPLICATE_REQUEST, 13, "DuplicateRequest", "duplicate request")                             \
    XX(BUSY, 14, "Busy", "busy")                                                                   \
    XX(INSERTING, 15, "Inserting", "insert in progress")                                           \
    XX(INVALID_NAMESPACE, 16, "InvalidNamespace", "invalid namespace")                             \
    XX(ALREADY_FULFILLED, 17, "AlreadyFulfilled", "already fulfilled")                             \
    XX(NOT_SAME_RECORD, 18, "NotSameRecord", "not the same record")                                \
    XX(VERSION_CONFLICT, 19, "VersionConflict", "version conflict")                                \
    XX(NOT_APPENDABLE, 20, "NotAppendable", "not appendable")                                      \
    XX(SS_ERROR, 21, "SSError", "storage server error")                                            \
    XX(SS_OUT_OF_RESOURCE, 22, "SSOutofResource", "storage server out of resources (disk full)")   \
    XX(TTL_EXTEND_ERR, 23, "TTLExtendErr", "TTL extension failed")                                 \
    XX(REQ_PROC_TIMEOUT, 24, "ReqProcTimeout", "request processing timed out")                     \
    XX(COMMIT_FAILURE, 25, "CommitFailure", "commit failed")                                       \
    XX(INCONSISTENT, 26, "Inconsistent", "inconsistent state")                                     \
    XX(MARKED_DELETE, 27, "MarkedDelete", "record marked for deletion")                            \
    XX(NOT_SUPPORTED, 28, "NotSupported", "operation not supported")                               \
    XX(INTERNAL, 255, "Internal", "internal error")

enum wire_status {
#define XX(name, value, str, msg) WIRE_ST_##name = (value),
    WIRE_STATUS_MAP(XX)
#undef XX
};

/* Meta field tags (descriptor bits 0-4). A field's presence bit is 1u << tag. */
enum wire_field {
    WIRE_F_TTL = 1,             /* u32 seconds */
    WIRE_F_VERSION = 2,         /* u32 */
    WIRE_F_CREATION_TIME = 3,   /* u32 unix seconds */
    WIRE_F_EXPIRATION_TIME = 4, /* u32 unix seconds */
    WIRE_F_REQUEST_ID = 5,      /* 16 bytes */
    WIRE_F_SOURCE_INFO = 6,     /* variable */
    WIRE_F_LAST_MODIFIED = 7,   /* u64 unix nanoseconds */
    WIRE_F_ORIGINATOR_ID = 8,   /* 16 bytes */
    WIRE_F_CORRELATION_ID = 9,  /* variable, at most 250 bytes */
    WIRE_F_HANDLING_TIME = 10,  /* u32 milliseconds */
    WIRE_F_UDF_NAME = 11,       /* variable, at most 250 bytes */
    /* juno: u64 unix milliseconds, the exact expiration ExpirationTime rounds
     * up; proxy <-> store only, never sent to a JunoDB client */
    WIRE_F_EXPIRATION_MS = 16,
};

#define WIRE_MAX_NAMESPACE 255
#define WIRE_MAX_KEY       65535
#define WIRE_MAX_APP_NAME  127
#define WIRE_MAX_BYTE_SEQ  250 /* CorrelationID, UDFName */

struct wire_bytes {
    const uint8_t *ptr; /* borrowed */
    size_t len;
};

struct wire_source {
    uint8_t ipv6; /* 0: ip[0..3] is an IPv4 address; 1: ip[0..15] is IPv6 */
    uint16_t port;
    uint8_t ip[16];
    uint8_t app_len;    /* at most WIRE_MAX_APP_NAME */
    const uint8_t *app; /* borrowed */
};

struct wire_meta {
    uint32_t present; /* 1u << tag for each field present */
    uint32_t ttl, version, creation_time, expiration_time, handling_time;
    uint64_t last_modified, expiration_ms;
    uint8_t request_id[16], originator_id[16];
    struct wire_source source;
    struct wire_bytes correlation_id, udf_name;
};

struct wire_msg {
    uint8_t proto_version; /* encode: 0 means WIRE_PROTO_VERSION */
    uint8_t type_flag;
    uint32_t opaque;
    uint8_t opcode, flags;
    uint16_t shard_id; /* requests: bytes 14-15 */
    uint8_t status;    /* responses: byte 15 */
    int header_only;   /* 16-byte message, no components */
    struct wire_meta meta;
    struct wire_bytes ns, key;
    uint8_t value_type;
    struct wire_bytes value;   /* value.len == 0: empty value, no type byte on the wire */
    int has_meta, has_payload; /* components seen when decoding */
};

/* Framing verdicts. */
#define WIRE_OK    0
#define WIRE_AGAIN 1
#define WIRE_ERROR (-1)

/* Judge the start of a byte stream (buf, len). Returns
 *   WIRE_OK:    a whole message of *frame_len bytes starts at buf;
 *   WIRE_AGAIN: more bytes are needed (every strict prefix of a valid message
 *               gives AGAIN);
 *   WIRE_ERROR: not a JunoDB stream; *why (if why is not NULL) is a static
 *               reason. Bad magic is reported as soon as the first wrong byte
 *               is present; a msgSize below 12 or above max_frame as soon as
 *               the first 8 bytes are.
 * max_frame 0 means WIRE_DEFAULT_MAX_FRAME. Never reads past len. */
int wire_frame(const uint8_t *buf, size_t len, size_t max_frame, uint32_t *frame_len,
               const char **why);

/* Decode the whole message frame (len bytes, exactly its msgSize, as delimited
 * by wire_frame) into *m, which is overwritten. Byte fields of *m point into
 * frame (borrowed: valid as long as frame is). Returns WIRE_ST_OK, or
 * WIRE_ST_BADMSG for a malformed message; even then the header fields
 * (type_flag, opaque, opcode, flags, shard_id, status) are filled from
 * whatever of the first 16 bytes is present, so a server can reply.
 * A numeric meta field carrying 0 is reported absent (0 means "not set"). */
int wire_decode(const uint8_t *frame, size_t len, struct wire_msg *m);

/* The size of m in canonical encoding, or 0 if m breaks a field limit
 * (namespace > 255, key > 65535, app name > 127, CorrelationID or UDFName
 * > 250 bytes, a NULL pointer with a non-zero length, total over INT32_MAX). */
size_t wire_encoded_size(const struct wire_msg *m);

/* Encode m canonically into buf (cap bytes). m->header_only: only the 16-byte
 * header. Otherwise a meta component then a payload component. Bytes 14-15 are
 * 00 and m->status for a response (RQ 0), m->shard_id otherwise. Returns the
 * number of bytes written (> 0), JUNO_EINVAL for a field limit (see
 * wire_encoded_size) or JUNO_EMSGSIZE if cap is too small; nothing is kept. */
int wire_encode(const struct wire_msg *m, uint8_t *buf, size_t cap);

/* The size of m's payload component alone, or 0 on a field limit. */
size_t wire_payload_size(const struct wire_msg *m);

/* Encode m's payload component alone (namespace, key, value) into buf.
 * Returns the bytes written, JUNO_EINVAL or JUNO_EMSGSIZE as wire_encode. */
int wire_encode_payload(const struct wire_msg *m, uint8_t *buf, size_t cap);

/* "Create", "PrepareCreate", ...; "unknown" for any other value. Static. */
const char *wire_opcode_name(int op);

/* "NoKey", ...; "unknown" for any other value. Static. */
const char *wire_status_name(int status);

/* "key not found", ...; "unknown status" for any other value. Static. */
const char *wire_status_str(int status);

/* Set a u32 field (WIRE_F_TTL, VERSION, CREATION_TIME, EXPIRATION_TIME,
 * HANDLING_TIME) and its presence bit; other tags are ignored. A 0 value is
 * still not encoded. */
void wire_meta_set_u32(struct wire_meta *meta, int tag, uint32_t v);

/* Set the expiration (unix ms, 0 = never): juno's ExpirationMs and the
 * ExpirationTime JunoDB reads, in whole seconds rounded up (so a record never
 * expires after the time it shows; capped at UINT32_MAX). */
void wire_meta_set_expiration(struct wire_meta *meta, uint64_t ms);

/* The expiration in unix ms a message carries: ExpirationMs if present, else
 * ExpirationTime * 1000, else 0 (never). */
uint64_t wire_meta_expiration(const struct wire_meta *meta);

/* Whole seconds, rounded up, for what a JunoDB client is shown. */
static inline uint32_t
wire_ms_to_s(uint64_t ms)
{
    uint64_t s = ms / 1000 + (ms % 1000 != 0);
    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* Set LastModificationTime (unix nanoseconds) and its presence bit. */
void wire_meta_set_last_modified(struct wire_meta *meta, uint64_t ns);

/* Copy a 16-byte id into RequestID / OriginatorRequestID and mark it present. */
void wire_meta_set_request_id(struct wire_meta *meta, const uint8_t id[16]);
void wire_meta_set_originator_id(struct wire_meta *meta, const uint8_t id[16]);

/* Set SourceInfo: ip is 4 bytes (ipv6 0) or 16 (ipv6 1), copied (NULL: all
 * zero); app is borrowed. Returns 0 or JUNO_EINVAL (app_len > WIRE_MAX_APP_NAME). */
int wire_meta_set_source(struct wire_meta *meta, int ipv6, const uint8_t *ip, uint16_t port,
                         const void *app, size_t app_len);

/* Set CorrelationID / UDFName (borrowed). Returns 0 or JUNO_EINVAL
 * (len > WIRE_MAX_BYTE_SEQ). */
int wire_meta_set_correlation_id(struct wire_meta *meta, const void *p, size_t len);
int wire_meta_set_udf_name(struct wire_meta *meta, const void *p, size_t len);

/* 1 if the field with this tag is present, else 0. */
int wire_meta_has(const struct wire_meta *meta, int tag);

/* Parse a UUID, "51d0f4af-505f-11e7-9176-000c29cadc31" or the same 32 hex
 * digits without dashes, either case. Returns 0 or JUNO_EINVAL. */
int wire_uuid_parse(const char *text, uint8_t out[16]);

/* Format id as 36 lowercase characters with dashes plus a NUL. */
void wire_uuid_format(const uint8_t id[16], char out[37]);

/* Internal to lib/wire.c and lib/wire_meta.c; not for other modules.
 * wire__meta_decode: the meta component c (size bytes, size >= 6) into *meta
 * (overwritten; byte fields borrow from c); 0 or WIRE_ST_BADMSG.
 * wire__meta_size: the canonical meta component's size into *size; 0 or JUNO_EINVAL.
 * wire__meta_write: write it at p (size bytes: what wire__meta_size said). */
int wire__meta_decode(const uint8_t *c, size_t size, struct wire_meta *meta);
int wire__meta_size(const struct wire_meta *meta, size_t *size);
void wire__meta_write(const struct wire_meta *meta, uint8_t *p, size_t size);

#endif
