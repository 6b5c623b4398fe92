/* output.c: how `juno` prints a reply and which exit code it gives.
 *
 * Store mode, human form (stable, one item per line):
 *   Ok                          the status name, always first
 *   version 2                   then "name value" for each meta field present
 *   ...                         (creation_time, expiration_time, ttl,
 *                               last_modified, originator, request_id)
 *   <value>                     the value bytes, for a Read or a reply carrying one
 * JSON form: one object per line, {"status":"Ok","code":0,"version":2,...,
 * "value":"..."}; a value that is not UTF-8 is base64 with
 * "value_encoding":"base64".
 *
 * Proxy mode prints only JSON here (--json): the same object with the
 * originator as "originator_id", and "ttl" computed from the expiration time
 * when the reply has no TimeToLive (as the JunoDB clients do).
 */
#include "juno.h"

#include "cli.h"
#include "error.h"
#include "batchline.h"
#include "escape.h"
#include "hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint16_t
juno_shard_of(const struct juno_opts *o, const void *key, size_t len)
{
    if (o->has_shard) return (uint16_t)o->shard;
    return (uint16_t)hash_shard(key, len, o->shards);
}

int
output_exit_code(int status)
{
    switch (status) {
    case WIRE_ST_OK:
    case WIRE_ST_ALREADY_FULFILLED: return 0;
    case WIRE_ST_NO_KEY:
    case WIRE_ST_DUP_KEY:
    case WIRE_ST_VERSION_CONFLICT:
    case WIRE_ST_NO_UNCOMMITTED:
    case WIRE_ST_MARKED_DELETE:
    case WIRE_ST_DATA_EXPIRED: return EXIT_NO;
    case WIRE_ST_RECORD_LOCKED:
    case WIRE_ST_BUSY:
    case WIRE_ST_NO_STORAGE_SERVER:
    case WIRE_ST_INSERTING:
    case WIRE_ST_SS_OUT_OF_RESOURCE:
    case WIRE_ST_OUT_OF_MEM:
    case WIRE_ST_REQ_PROC_TIMEOUT: return EX_TEMPFAIL;
    case WIRE_ST_BADMSG:
    case WIRE_ST_BAD_PARAM:
    case WIRE_ST_INVALID_NAMESPACE:
    case WIRE_ST_BAD_REQUEST_ID: return EX_DATAERR;
    case WIRE_ST_SS_ERROR:
    case WIRE_ST_COMMIT_FAILURE: return EX_IOERR;
    default: return EX_PROTOCOL; /* NotSupported, or a status this client does not know */
    }
}

static void
put_id(const char *name, const uint8_t id[16], int json)
{
    char u[37];
    wire_uuid_format(id, u);
    if (json)
        printf(",\"%s\":\"%s\"", name, u);
    else
        printf("%s %s\n", name, u);
}

static void
put_num(const char *name, uint64_t v, int json)
{
    if (json)
        printf(",\"%s\":%llu", name, (unsigned long long)v);
    else
        printf("%s %llu\n", name, (unsigned long long)v);
}

static void
put_json_value(const struct wire_msg *r)
{
    const uint8_t *p = r->value.ptr;
    size_t len = r->value.len;
    int utf8 = esc_utf8_valid(p, len);
    char *buf = malloc(utf8 ? 6 * len + 1 : esc_base64_size(len) + 1);
    if (buf == NULL) cli_die(EX_OSERR, "unable to print the value: out of memory");
    size_t n = utf8 ? esc_json(p, len, buf) : esc_base64(p, len, buf);
    printf(",\"value\":\"");
    fwrite(buf, 1, n, stdout);
    printf("\"%s", utf8 ? "" : ",\"value_encoding\":\"base64\"");
    if (r->value_type != 0) printf(",\"value_type\":%u", r->value_type);
    free(buf);
}

void
output_reply(const struct juno_opts *o, const struct wire_msg *r, int with_value)
{
    const struct wire_meta *m = &r->meta;
    int json = o->json;
    if (json)
        printf("{\"status\":\"%s\",\"code\":%u", wire_status_name(r->status), r->status);
    else
        printf("%s\n", wire_status_name(r->status));
    if (wire_meta_has(m, WIRE_F_VERSION)) put_num("version", m->version, json);
    if (wire_meta_has(m, WIRE_F_CREATION_TIME)) put_num("creation_time", m->creation_time, json);
    if (wire_meta_has(m, WIRE_F_EXPIRATION_TIME))
        put_num("expiration_time", m->expiration_time, json);
    if (wire_meta_has(m, WIRE_F_TTL)) put_num("ttl", m->ttl, json);
    if (wire_meta_has(m, WIRE_F_LAST_MODIFIED)) put_num("last_modified", m->last_modified, json);
    if (wire_meta_has(m, WIRE_F_ORIGINATOR_ID)) put_id("originator_id", m->originator_id, json);
    if (wire_meta_has(m, WIRE_F_REQUEST_ID)) put_id("request_id", m->request_id, json);
    with_value = with_value || r->value.len > 0;
    if (json) {
        if (with_value) put_json_value(r);
        printf("}\n");
    } else if (with_value) {
        if (r->value.len > 0) fwrite(r->value.ptr, 1, r->value.len, stdout);
        putchar('\n');
    }
}

void
output_record_json(const struct wire_msg *r, int with_value)
{
    const struct wire_meta *m = &r->meta;
    printf("{\"status\":\"%s\",\"code\":%u", wire_status_name(r->status), r->status);
    if (wire_meta_has(m, WIRE_F_VERSION)) put_num("version", m->version, 1);
    if (wire_meta_has(m, WIRE_F_CREATION_TIME)) put_num("creation_time", m->creation_time, 1);
    if (wire_meta_has(m, WIRE_F_EXPIRATION_TIME)) put_num("expiration_time", m->expiration_time, 1);
    if (wire_meta_has(m, WIRE_F_TTL)) {
        put_num("ttl", m->ttl, 1);
    } else if (wire_meta_has(m, WIRE_F_EXPIRATION_TIME)) {
        time_t now = time(NULL);
        put_num("ttl", (time_t)m->expiration_time > now ? (uint64_t)(m->expiration_time - now) : 0,
                1);
    }
    if (wire_meta_has(m, WIRE_F_LAST_MODIFIED)) put_num("last_modified", m->last_modified, 1);
    if (wire_meta_has(m, WIRE_F_REQUEST_ID)) put_id("request_id", m->request_id, 1);
    if (wire_meta_has(m, WIRE_F_ORIGINATOR_ID)) put_id("originator_id", m->originator_id, 1);
    if (with_value || r->value.len > 0) put_json_value(r);
    printf("}\n");
}

const char *
output_quote(const void *key, size_t len)
{
    static char buf[2 + 4 * 64 + 4 + 1];
    size_t show = len > 64 ? 64 : len, o = 0;
    buf[o++] = '"';
    const uint8_t *p = key;
    for (size_t i = 0; i < show; i++) {
        if (p[i] == '"') {
            buf[o++] = '\\';
            buf[o++] = '"';
        } else {
            o += batchline_escape(p + i, 1, buf + o);
        }
    }
    buf[o++] = '"';
    if (show < len) memcpy(buf + o, "...", 3), o += 3;
    buf[o] = '\0';
    return buf;
}
