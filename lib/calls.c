/* calls.c: batches of pipelined requests to stores (calls.h). */
#include "calls.h"

#include "map.h"

#include "client.h"
#include "error.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define WINDOW    512 /* unanswered requests per connection */

struct sconn {
    char addr[MAP_ADDR_MAX + 1];
    int fd;
    struct client_buf in, out;
};

static struct sconn conns[MAX_CONNS];
static size_t nconns;
static uint32_t next_opaque = 1;
static uint64_t bytes_in, bytes_out;

static void
conn_drop(struct sconn *c)
{
    client_close(c->fd);
    client_buf_deinit(&c->in);
    client_buf_deinit(&c->out);
    *c = conns[--nconns];
}

void
calls_disconnect_all(void)
{
    while (nconns > 0) conn_drop(&conns[0]);
}

uint64_t
calls_bytes_in(void)
{
    return bytes_in;
}

uint64_t
calls_bytes_out(void)
{
    return bytes_out;
}

const char *
calls_why(const struct call *k)
{
    if (k->rc == JUNO_EPROTO && client_tls_error()[0] != '\0') return client_tls_error();
    return k->rc ? error_str(k->rc) : wire_status_name(k->status);
}

/* The connection to addr, made if needed; NULL with *rc on failure. */
static struct sconn *
conn_get(const char *addr, int timeout_ms, int *rc)
{
    for (size_t i = 0; i < nconns; i++)
        if (strcmp(conns[i].addr, addr) == 0) return &conns[i];
    if (nconns == MAX_CONNS) { /* not during a batch: its groups point into conns */
        *rc = JUNO_EMFILE;
        return NULL;
    }
    char err[256];
    int fd = client_connect(addr, timeout_ms, err, sizeof(err));
    if (fd < 0) {
        *rc = fd;
        return NULL;
    }
    struct sconn *c = &conns[nconns++];
    memset(c, 0, sizeof(*c));
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    c->fd = fd;
    client_buf_init(&c->in);
    client_buf_init(&c->out);
    return c;
}

static void
take_reply(struct call *k, const struct wire_msg *r)
{
    k->rc = 0;
    k->status = r->status;
    k->flags = r->flags;
    k->value_type = r->value_type;
    k->meta = r->meta;
    memset(&k->meta.source, 0, sizeof(k->meta.source));
    memset(&k->meta.correlation_id, 0, sizeof(k->meta.correlation_id));
    memset(&k->meta.udf_name, 0, sizeof(k->meta.udf_name));
    k->vlen = r->value.len;
    k->value = NULL;
    if (r->value.len > 0 && (k->value = malloc(r->value.len)) != NULL)
        memcpy(k->value, r->value.ptr, r->value.len);
    else if (r->value.len > 0)
        k->rc = JUNO_ENOMEM;
}

/* The calls of one store within a batch. */
struct group {
    struct sconn *c;
    size_t *idx; /* borrowed: indexes of the calls */
    size_t n, sent, got;
    int rc;
};

/* Queue and send what the window allows. */
static void
group_send(struct group *g, struct call *calls, uint32_t base, int timeout_ms)
{
    while (g->rc == 0 && g->sent < g->n && g->sent - g->got < WINDOW) {
        struct call *k = &calls[g->idx[g->sent]];
        k->req.opaque = base + (uint32_t)g->idx[g->sent];
        if ((g->rc = client_queue(&g->c->out, &k->req)) == 0) g->sent++;
    }
    if (g->rc != 0 || g->c->out.len == 0) return;
    bytes_out += g->c->out.len;
    g->rc = client_flush(&g->c->out, g->c->fd, timeout_ms);
}

/* Receive every reply sent for, sending more as the window frees. */
static void
group_recv(struct group *g, struct call *calls, uint32_t base, size_t total, int timeout_ms)
{
    uint64_t deadline = report_now_ms() + (uint64_t)timeout_ms;
    while (g->rc == 0 && g->got < g->n) {
        if (g->sent - g->got < WINDOW / 2 && g->sent < g->n) group_send(g, calls, base, timeout_ms);
        struct wire_msg r;
        uint64_t now = report_now_ms();
        if (g->rc != 0) break;
        if (now >= deadline) {
            g->rc = JUNO_ETIMEDOUT;
            break;
        }
        if ((g->rc = client_recv(&g->c->in, g->c->fd, (int)(deadline - now), &r)) != 0) break;
        uint32_t i = r.opaque - base;
        if (r.opaque < base || i >= total || strcmp(calls[i].addr, g->c->addr) != 0 ||
            calls[i].rc != JUNO_EAGAIN)
            continue; /* a late reply to an earlier batch */
        bytes_in += wire_encoded_size(&r);
        take_reply(&calls[i], &r);
        g->got++;
        deadline = report_now_ms() + (uint64_t)timeout_ms;
    }
}

void
calls_run(struct call *calls, size_t n, int timeout_ms)
{
    if (n == 0) return;
    uint32_t base = next_opaque;
    next_opaque += (uint32_t)n + 1;
    if (next_opaque < base || next_opaque > 0x7FFFFFFFu) { /* wrapped: start again at 1 */
        base = 1;
        next_opaque = (uint32_t)n + 2;
    }
    size_t *idx = malloc(n * sizeof(*idx));
    struct group *gs = calloc(n, sizeof(*gs));
    char *done = calloc(n, 1);
    if (idx == NULL || done == NULL || gs == NULL) {
        for (size_t i = 0; i < n; i++) calls[i].rc = JUNO_ENOMEM;
        free(idx), free(done), free(gs);
        return;
    }
    size_t ng = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        calls[i].rc = JUNO_EAGAIN; /* in flight */
        calls[i].req.type_flag = WIRE_TF_REQUEST;
    }
    for (size_t i = 0; i < n; i++) { /* group by store, each group's indexes in idx */
        if (done[i]) continue;
        struct group *g = &gs[ng++];
        g->idx = idx + m;
        for (size_t j = i; j < n; j++) {
            if (!done[j] && strcmp(calls[j].addr, calls[i].addr) == 0) {
                idx[m++] = j;
                done[j] = 1;
                g->n++;
            }
        }
        g->c = conn_get(calls[i].addr, timeout_ms, &g->rc);
    }
    /* every store gets its first window before any reply is waited for, so
     * the stores work side by side */
    for (size_t k = 0; k < ng; k++)
        if (gs[k].rc == 0) group_send(&gs[k], calls, base, timeout_ms);
    for (size_t k = 0; k < ng; k++)
        if (gs[k].rc == 0) group_recv(&gs[k], calls, base, n, timeout_ms);
    for (size_t k = 0; k < ng; k++) {
        struct group *g = &gs[k];
        if (g->rc == 0) continue;
        for (size_t i = 0; i < g->n; i++) /* the rest failed with the connection */
            if (calls[g->idx[i]].rc == JUNO_EAGAIN) calls[g->idx[i]].rc = g->rc;
        if (g->c != NULL) g->c->fd = -g->c->fd - 1; /* dropped below, by address */
    }
    for (size_t i = 0; i < nconns;)
        if (conns[i].fd < 0) {
            conns[i].fd = -conns[i].fd - 1;
            conn_drop(&conns[i]);
        } else {
            i++;
        }
    free(idx);
    free(done);
    free(gs);
}

void
calls_clear(struct call *calls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(calls[i].value);
        calls[i].value = NULL;
        calls[i].vlen = 0;
        calls[i].rc = 0;
        calls[i].status = 0;
    }
}
