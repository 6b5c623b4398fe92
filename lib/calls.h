/* calls.h: batches of requests to stores, pipelined: every call of a batch
 * is sent at once on its store's connection (at most a window unanswered),
 * and the replies are matched by opaque, whatever their order. Every store
 * gets its first window before any reply is waited for, so the stores work
 * side by side. A connection that fails or times out fails its calls and is
 * dropped; the next batch connects again. One connection per store is kept
 * between batches. Single-threaded (juno-repair, juno-backup).
 *
 *   struct call c[2] = {{.addr = "127.0.0.1:9001"}, {.addr = "127.0.0.1:9002"}};
 *   c[0].req.opcode = c[1].req.opcode = WIRE_OP_SHARD_INFO;
 *   calls_run(c, 2, 5000);        c[i].rc, c[i].status, c[i].value
 *   calls_clear(c, 2);
 */
#ifndef JUNO_CALLS_H
#define JUNO_CALLS_H

#include "wire.h"

#include <stddef.h>
#include <stdint.h>

/* One request to a store and its reply. */
struct call {
    const char *addr;    /* borrowed: HOST:PORT */
    struct wire_msg req; /* byte fields borrowed until calls_run returns; opaque and
                          * type flag are set by calls_run */
    int rc;              /* 0, or the connection's failure (JUNO_E*) */
    int status;          /* the reply's status when rc == 0 */
    uint8_t flags, value_type;
    struct wire_meta meta; /* the reply's fixed fields (byte fields cleared) */
    uint8_t *value;        /* owned: the reply's value (calls_clear) */
    size_t vlen;
};

/* Send every call and wait for every reply, each for at most timeout_ms
 * after the previous one. Results are in the calls. */
void calls_run(struct call *calls, size_t n, int timeout_ms);
/* Why call k failed, in words: the connection's failure (a TLS refusal's
 * reason when there is one) or the reply's status name. Borrowed. */
const char *calls_why(const struct call *k);
/* Free the replies' values and reset the results. */
void calls_clear(struct call *calls, size_t n);
/* Close every connection. */
void calls_disconnect_all(void);
/* Bytes of replies received and of requests sent, since the start. */
uint64_t calls_bytes_in(void);
uint64_t calls_bytes_out(void);

#endif
