/* conn_tls.c: TLS on a connection's read and write paths (see conn.h,
 * tls.h).
 *
 *   read:  socket ─► g->scratch ─► tls_feed ─► handshake / tls_read ─► c->in ─► frames
 *   write: c->out (the turn's replies) ─► tls_write ─► c->tout ─► uv_try_write / uv_write
 *
 * A handshake's own records go to c->tout as they are made and the
 * connection is flushed at the end of the turn, like any output. Ciphertext
 * is decrypted as soon as it is read, whatever the backpressure: what a
 * paused connection has read waits in c->in, as in plaintext.
 */
#include "conn_int.h"

#include "error.h"
#include "log.h"
#include "tls.h"
#include "uvout.h"

#include <stdio.h>
#include <stdlib.h>

#define CONN_TLS_LOG_MAX 20 /* refusal lines per second per group; more are counted */
#define CONN_TLS_KEEP    (4 * BUF_MIN_CAP) /* the most an idle plaintext output buffer keeps */

int
conn__tls_start(struct conn *c, struct tls_ctx *ctx)
{
    c->tls = tls_create(ctx, c->l ? NULL : c->host);
    if (c->tls == NULL) return JUNO_ENOMEM;
    c->hs_ms = tls_ctx_handshake_ms(ctx);
    return 0;
}

void
conn__tls_begin(struct conn *c)
{
    c->handshaking = 1;
    c->hs_start = uv_now(c->g->loop);
    if (c->l) c->l->handshakes++;
}

/* Queue the ciphertext the session has made (handshake, alerts). */
static int
conn__tls_out(struct conn *c)
{
    if (tls_output(c->tls, &c->tout) != 0) return JUNO_ENOMEM;
    if (c->tout.len > 0) conn_dirty(c);
    return 0;
}

/* At most CONN_TLS_LOG_MAX refusal lines a second per group; the count of
 * the others is logged with the next line after the second. */
static int
conn__tls_may_log(struct conn_group *g)
{
    uint64_t now = uv_now(g->loop);
    if (now - g->log_window_ms >= 1000) {
        if (g->log_suppressed > 0)
            log_warn("TLS: %llu more handshake refusals were not logged",
                     (unsigned long long)g->log_suppressed);
        g->log_window_ms = now;
        g->log_count = g->log_suppressed = 0;
    }
    if (g->log_count < CONN_TLS_LOG_MAX) {
        g->log_count++;
        return 1;
    }
    g->log_suppressed++;
    return 0;
}

void
conn__tls_refuse(struct conn *c, int reason, const char *detail)
{
    if (c->closing) return;
    const char *subject = c->tls ? tls_peer_subject(c->tls) : "";
    const char *verb = c->l ? "refused" : "failed";
    /* a connection closed before sending a byte is a port check, not an attack */
    int quiet = reason == TLS_R_CLOSED && (c->tls == NULL || !tls_received(c->tls));
    if (quiet)
        log_debug("TLS handshake %s peer=%s reason=%s detail=\"%s\"", verb, c->peer,
                  tls_reason_name(reason), detail);
    else if (conn__tls_may_log(c->g))
        log_warn("TLS handshake %s peer=%s reason=%s detail=\"%s\"%s%s%s", verb, c->peer,
                 tls_reason_name(reason), detail, subject[0] ? " subject=\"" : "", subject,
                 subject[0] ? "\"" : "");
    if (c->proto->tls_refused) c->proto->tls_refused(c, reason);
    if (c->closing) return;
    /* the alert OpenSSL made says why to the peer: out before the close */
    if (c->tls && tls_output(c->tls, &c->tout) == 0 && c->tout.len > 0 && c->writes == 0)
        uvout_try((uv_stream_t *)&c->tcp, c->tout.data, c->tout.len);
    if (c->proto->failed) {
        char why[400];
        snprintf(why, sizeof(why), "TLS handshake failed: %s: %s", tls_reason_name(reason), detail);
        conn__fail(c, JUNO_EPROTO, why);
    } else {
        conn_close(c);
    }
}

void
conn__tls_step(struct conn *c)
{
    if (c->handshaking) {
        int rc = tls_handshake(c->tls);
        if (conn__tls_out(c) != 0) {
            conn__fail(c, JUNO_ENOMEM, "out of memory");
            return;
        }
        if (rc < 0) {
            conn__tls_refuse(c, tls_reason(c->tls), tls_detail(c->tls));
            return;
        }
        if (rc == TLS_AGAIN) return;
        c->handshaking = 0;
        if (c->l) c->l->handshakes--;
        log_debug("TLS established peer=%s version=%s cipher=%s subject=\"%s\"", c->peer,
                  tls_version(c->tls), tls_cipher(c->tls), tls_peer_subject(c->tls));
        conn__established(c);
        if (c->closing) return;
    }
    size_t before = c->in.len;
    int rc = tls_read(c->tls, &c->in);
    if (conn__tls_out(c) != 0) rc = JUNO_ENOMEM;
    if (c->in.len > before) conn__process(c);
    if (c->closing || rc == 0) return;
    if (rc == JUNO_EOF) {
        conn__eof(c);
    } else if (rc == JUNO_ENOMEM) {
        conn__fail(c, JUNO_ENOMEM, "out of memory");
    } else if (c->l == NULL && tls_reason(c->tls) == TLS_R_ALERT) {
        /* TLS 1.3: the server checks the client's certificate after the
         * client's handshake is over; a refusal comes as an alert here */
        conn__tls_refuse(c, TLS_R_ALERT, tls_detail(c->tls));
    } else {
        if (c->proto->failed == NULL)
            log_warn("TLS error, closing %s peer=%s detail=\"%s\"", c->proto->what, c->peer,
                     tls_detail(c->tls));
        conn__fail(c, JUNO_EPROTO, tls_detail(c->tls));
    }
}

void
conn__tls_input(struct conn *c, const uint8_t *data, size_t n)
{
    if (tls_feed(c->tls, data, n) != 0) {
        conn__fail(c, JUNO_ENOMEM, "out of memory");
        return;
    }
    conn__tls_step(c);
}

int
conn__tls_encrypt(struct conn *c)
{
    if (!c->established || c->out.len == 0) return 0;
    int rc = tls_write(c->tls, c->out.data, c->out.len, &c->tout);
    if (rc != 0) {
        conn__fail(c, rc, rc == JUNO_ENOMEM ? "out of memory" : tls_detail(c->tls));
        return rc;
    }
    c->out.len = 0;
    if (c->out.cap > CONN_TLS_KEEP) buf_free(&c->out); /* a burst's large buffer goes back */
    return 0;
}

void
conn__tls_close_notify(struct conn *c)
{
    tls_shutdown(c->tls);
    if (tls_output(c->tls, &c->tout) == 0 && c->tout.len > 0 && c->writes == 0)
        uvout_try((uv_stream_t *)&c->tcp, c->tout.data, c->tout.len);
}

const char *
conn_peer_subject(const struct conn *c)
{
    return c->tls && c->established ? tls_peer_subject(c->tls) : "";
}
