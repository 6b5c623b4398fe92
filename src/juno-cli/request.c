/* request.c: proxy-mode requests as JunoDB's Go client sends them, and what
 * their replies mean for the shell: exit codes and retry decisions.
 *
 * Every request carries a random v4 RequestID and a SourceInfo (the
 * connection's local address and port, application "juno-cli"), in the
 * canonical meta order; a retry resends the same RequestID, so a retried
 * write is answered "already done" by the proxy instead of applied twice.
 * test/unit/test_client.c includes this file to check the encodings against
 * the reference vectors.
 */
#include "juno.h"

#include "cli.h"
#include "error.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sysexits.h>

int
request_source_of(int fd, struct request_source *src)
{
    memset(src, 0, sizeof(*src));
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return error_from_errno(errno);
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        memcpy(src->ip, &a->sin_addr, 4);
        src->port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        src->port = ntohs(a->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            memcpy(src->ip, a->sin6_addr.s6_addr + 12, 4);
        } else {
            memcpy(src->ip, a->sin6_addr.s6_addr, 16);
            src->ipv6 = 1;
        }
    }
    return 0;
}

void
request_build(struct wire_msg *m, int opcode, uint32_t opaque, const uint8_t rid[16],
              const struct request_source *src, const struct request_args *a)
{
    memset(m, 0, sizeof(*m));
    m->type_flag = WIRE_TF_REQUEST;
    m->opcode = (uint8_t)opcode;
    m->opaque = opaque;
    struct wire_meta *mt = &m->meta;
    wire_meta_set_request_id(mt, rid);
    int writes = opcode == WIRE_OP_CREATE || opcode == WIRE_OP_UPDATE || opcode == WIRE_OP_SET;
    if (a->ttl != 0 && (writes || opcode == WIRE_OP_GET)) wire_meta_set_u32(mt, WIRE_F_TTL, a->ttl);
    if (a->version != 0 && opcode == WIRE_OP_UPDATE)
        wire_meta_set_u32(mt, WIRE_F_VERSION, a->version);
    /* the name is a constant within WIRE_MAX_APP_NAME: this cannot fail */
    (void)wire_meta_set_source(mt, src->ipv6, src->ip, src->port, JUNO_APP_NAME,
                               sizeof(JUNO_APP_NAME) - 1);
    m->ns.ptr = (const uint8_t *)a->ns;
    m->ns.len = a->ns != NULL ? strlen(a->ns) : 0;
    m->key.ptr = a->key;
    m->key.len = a->klen;
    if (writes) {
        m->value_type = 0; /* clear */
        m->value.ptr = a->value;
        m->value.len = a->vlen;
    }
}

int
request_status_ok(int status)
{
    return status == WIRE_ST_OK || status == WIRE_ST_INCONSISTENT;
}

int
request_exit_code(int status)
{
    switch (status) {
    case WIRE_ST_OK:
    case WIRE_ST_INCONSISTENT: /* the JunoDB clients count it as success */ return 0;
    case WIRE_ST_NO_KEY:
    case WIRE_ST_DUP_KEY:
    case WIRE_ST_VERSION_CONFLICT:
    case WIRE_ST_DATA_EXPIRED: return EXIT_NO;
    case WIRE_ST_BADMSG:
    case WIRE_ST_BAD_PARAM:
    case WIRE_ST_INVALID_NAMESPACE:
    case WIRE_ST_BAD_REQUEST_ID:
    case WIRE_ST_VERSION_TOO_OLD: return EX_DATAERR;
    case WIRE_ST_NO_STORAGE_SERVER:
    case WIRE_ST_SERVICE_DENIED: return EX_UNAVAILABLE;
    case WIRE_ST_RECORD_LOCKED:
    case WIRE_ST_BUSY:
    case WIRE_ST_REQ_PROC_TIMEOUT:
    case WIRE_ST_TTL_EXTEND_ERR:
    case WIRE_ST_OUT_OF_MEM:
    case WIRE_ST_SS_OUT_OF_RESOURCE: return EX_TEMPFAIL;
    case WIRE_ST_SS_ERROR:
    case WIRE_ST_COMMIT_FAILURE: return EX_IOERR;
    case WIRE_ST_INTERNAL: return EX_SOFTWARE;
    default: return EX_PROTOCOL; /* NotSupported, or a status a client never gets */
    }
}

int
request_status_retryable(int status)
{
    return status == WIRE_ST_RECORD_LOCKED || status == WIRE_ST_NO_STORAGE_SERVER ||
           status == WIRE_ST_BUSY;
}

int
request_error_retryable(int rc)
{
    switch (rc) {
    case JUNO_ECONNREFUSED:
    case JUNO_ECONNRESET:
    case JUNO_ETIMEDOUT:
    case JUNO_EOF:
    case -EPIPE: return 1;
    default: return 0;
    }
}

int
request_exit_error(int rc)
{
    switch (rc) {
    case JUNO_EINVAL: return EX_USAGE;
    case JUNO_EBADDATA: return EX_DATAERR;
    case JUNO_EPROTO: return EX_PROTOCOL;
    case JUNO_EACCES: return EX_NOPERM; /* a login refused */
    case JUNO_ENOMEM: return EX_OSERR;
    case JUNO_ECONNREFUSED:
    case JUNO_ETIMEDOUT:
    case JUNO_ECONNRESET:
    case JUNO_EOF:
    case JUNO_ENOTFOUND:
    case -EPIPE:
    case -ENETUNREACH:
    case -EHOSTUNREACH:
    case -EADDRNOTAVAIL: return EX_UNAVAILABLE;
    default: return EX_IOERR;
    }
}

int
request_backoff_ms(unsigned attempt)
{
    int ms = 50;
    for (unsigned i = 1; i < attempt && ms < 1000; i++) ms *= 2;
    if (ms > 1000) ms = 1000;
    uint16_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) r = 0;
    return ms + (int)(r % (unsigned)(ms / 4 + 1));
}
