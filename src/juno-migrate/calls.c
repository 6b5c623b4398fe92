/* calls.c: requests to the stores, one at a time or a batch at once.
 *
 * One connection per store, opened at first use and kept for the run. A
 * batch (store_calls) writes each store's requests in one go and then reads
 * every reply, matched by opaque: a round over many moves costs about one
 * round trip, not one per move, and the stores work on its requests side by
 * side (a Verify waits for its shard's writes; the others need not wait for
 * it). A batch is sent in slices of CALLS_SLICE requests, so that neither
 * side's socket buffers fill with replies nobody reads yet.
 */
#include "jmig.h"

#include "client.h"
#include "error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CALL_TIMEOUT_MS 5000 /* for a whole slice of a batch */
#define CALLS_SLICE     256
#define MAX_CONNS       256

struct sconn {
    char addr[MAP_ADDR_MAX + 1];
    int fd;       /* -1: not in use */
    int inflight; /* requests of the slice being run */
    struct client_buf in, out;
};

static struct sconn conns[MAX_CONNS];
static size_t nconns; /* conns[0..nconns) have been used; fd < 0 marks a free one */
static uint32_t next_opaque = 1;

static void
drop_conn(struct sconn *c)
{
    if (c->fd < 0) return;
    client_close(c->fd);
    client_buf_deinit(&c->in);
    client_buf_deinit(&c->out);
    c->fd = -1;
    c->addr[0] = '\0';
}

void
store_disconnect_all(void)
{
    for (size_t i = 0; i < nconns; i++) drop_conn(&conns[i]);
    nconns = 0;
}

/* The connection to addr, opened if needed: its index, or a negative code. */
static int
conn_get(const char *addr)
{
    int free_slot = -1;
    for (size_t i = 0; i < nconns; i++) {
        if (conns[i].fd >= 0 && strcmp(conns[i].addr, addr) == 0) return (int)i;
        if (conns[i].fd < 0 && free_slot < 0) free_slot = (int)i;
    }
    if (free_slot < 0 && nconns < MAX_CONNS) free_slot = (int)nconns++;
    for (size_t i = 0; free_slot < 0 && i < nconns; i++) {
        if (conns[i].inflight) continue; /* every slot in use: give up one */
        drop_conn(&conns[i]);
        free_slot = (int)i;
    }
    if (free_slot < 0) return JUNO_ENOMEM;
    char err[256];
    int fd = client_connect(addr, 2000, err, sizeof(err));
    if (fd < 0) return fd;
    struct sconn *c = &conns[free_slot];
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    c->fd = fd;
    c->inflight = 0;
    client_buf_init(&c->in);
    client_buf_init(&c->out);
    return free_slot;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Every call of r[0..n) on connection ci failed with rc: the connection goes. */
static void
fail_conn(struct store_req *r, size_t n, int ci, int rc)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].conn == ci && r[i].rc == 1) r[i].rc = rc;
    drop_conn(&conns[ci]);
}

static void
calls_slice(struct store_req *r, size_t n)
{
    /* queue each request on its store's connection */
    for (size_t i = 0; i < n; i++) {
        r[i].status = 0;
        r[i].out[0] = '\0';
        int ci = conn_get(r[i].addr);
        if (ci < 0) {
            r[i].rc = ci;
            r[i].conn = -1;
            continue;
        }
        struct wire_msg req;
        memset(&req, 0, sizeof(req));
        req.type_flag = WIRE_TF_REQUEST;
        req.opcode = (uint8_t)r[i].opcode;
        req.shard_id = (uint16_t)r[i].shard;
        req.opaque = r[i].opaque = next_opaque++;
        if (r[i].json != NULL) {
            req.value.ptr = (const uint8_t *)r[i].json;
            req.value.len = strlen(r[i].json);
        }
        r[i].conn = ci;
        conns[ci].inflight++;
        r[i].rc = client_queue(&conns[ci].out, &req);
        if (r[i].rc == 0) r[i].rc = 1; /* 1: sent (soon), no reply yet */
    }
    /* write them, a connection at a time */
    for (size_t ci = 0; ci < nconns; ci++) {
        if (conns[ci].fd < 0 || conns[ci].out.len == 0) continue;
        int rc = client_flush(&conns[ci].out, conns[ci].fd, CALL_TIMEOUT_MS);
        if (rc != 0) fail_conn(r, n, (int)ci, rc);
    }
    /* read every reply */
    uint64_t deadline = now_ms() + CALL_TIMEOUT_MS;
    for (size_t ci = 0; ci < nconns; ci++) {
        size_t waiting = 0, hint = 0;
        for (size_t i = 0; i < n; i++) waiting += r[i].conn == (int)ci && r[i].rc == 1;
        while (waiting > 0) {
            uint64_t now = now_ms();
            struct wire_msg m;
            int rc = client_recv(&conns[ci].in, conns[ci].fd,
                                 now < deadline ? (int)(deadline - now) : 0, &m);
            if (rc != 0) {
                fail_conn(r, n, (int)ci, rc);
                break;
            }
            /* replies mostly come in order: look from after the last one */
            for (size_t k = 0; k < n; k++) {
                size_t i = (hint + k) % n;
                if (r[i].conn != (int)ci || r[i].rc != 1 || r[i].opaque != m.opaque) continue;
                r[i].rc = 0;
                r[i].status = m.status;
                size_t len = m.value.len < sizeof(r[i].out) ? m.value.len : sizeof(r[i].out) - 1;
                if (len > 0) memcpy(r[i].out, m.value.ptr, len);
                r[i].out[len] = '\0';
                waiting--;
                hint = i + 1;
                break;
            } /* no match: a late reply to an earlier call that timed out */
        }
        conns[ci].inflight = 0;
    }
}

void
store_calls(struct store_req *r, size_t n)
{
    for (size_t off = 0; off < n; off += CALLS_SLICE)
        calls_slice(r + off, n - off < CALLS_SLICE ? n - off : CALLS_SLICE);
}

int
store_call(const char *addr, int opcode, uint32_t shard, const char *json, int *status, char *out,
           size_t outcap)
{
    static struct store_req r;
    r.addr = addr;
    r.opcode = opcode;
    r.shard = shard;
    r.json = json;
    store_calls(&r, 1);
    if (r.rc != 0) return r.rc;
    *status = r.status;
    if (out != NULL && outcap > 0) snprintf(out, outcap, "%s", r.out);
    return 0;
}
