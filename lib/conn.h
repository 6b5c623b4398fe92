/* conn.h: one libuv TCP connection, the way every juno program has it:
 * juno-store's clients and shard streams, juno-proxy's clients (JunoDB and
 * RESP) and store upstreams, juno-bench's connections.
 *
 * A protocol supplies a struct conn_proto: how to find a frame in the bytes
 * read, what to do with one, and a few hooks. This module does the rest:
 *
 *   reading       into c->in, grown to the size of the frame being read
 *                 (the protocol's hint), so a large frame is read in one piece
 *   framing       proto->frame() on what is buffered, proto->handle() on each
 *                 whole frame; a frame begun must be whole within frame_ms
 *   replies       appended to c->out during a loop turn (conn_reserve) and
 *                 written once per turn by conn_group_flush, which the owner
 *                 calls from its uv_check: a pipelined burst costs one write;
 *                 uv_try_write first, one uv_write for the rest (lib/uvout);
 *                 a protocol may keep a turn's output back until the rest of
 *                 a pipelined batch's replies join it (proto->gather)
 *   backpressure  reading stops above max_backlog requests waiting for their
 *                 replies or CONN_OUT_HIGH bytes unwritten, and starts again
 *                 below half of both
 *   linger        after a bad frame (or the protocol's QUIT): read no more,
 *                 close once every reply due is written
 *   idle          closed after idle_ms without a byte read, nothing pending
 *   lifetime      a request holds its connection (conn_ref/conn_unref); the
 *                 memory is freed only after the handle's close callback, once
 *                 no request and no write refers to it
 *   TLS           (lib/tls.h) the connections of a listener or conn_connect
 *                 given a TLS context speak TLS: ciphertext read is fed to the
 *                 session and the plaintext handled as above; the turn's
 *                 output is encrypted as a whole and written the same way. A
 *                 handshake must finish within the context's deadline; a
 *                 listener runs at most the context's cap of handshakes at
 *                 once (more are refused at once); a refusal is logged in one
 *                 line naming the peer and the reason (at most 20 a second per
 *                 group, then counted), and reported to proto->tls_refused
 *
 * A connection is either accepted by a conn_listener or made by conn_connect.
 * Connections belong to a group: those one loop flushes and sweeps together.
 * Everything runs on the group's loop thread.
 *
 *   struct conn_group g;      conn_group_init(&g, loop, owner);
 *   struct conn_listener l;   conn_listen_fd(&l, &g, &proto, &limits, fd, tls, owner);
 *   uv_check:                 conn_group_flush(&g);
 *   a timer (100 ms - 1 s):   conn_group_sweep(&g);
 *   drain:                    conn_listener_drain(&l); ... conn_group_close_all(&g);
 */
#ifndef JUNO_CONN_H
#define JUNO_CONN_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CONN_READ_CHUNK (64 * 1024)
#define CONN_OUT_HIGH   (32u << 20) /* unwritten bytes above which reading stops */
#define CONN_GATHER_MAX (16u << 10) /* output kept back for a batch: at most a TLS record */

/* proto->frame verdicts. */
#define CONN_FRAME_OK    0
#define CONN_FRAME_AGAIN 1
#define CONN_FRAME_ERROR (-1)

struct conn;
struct conn_group;
struct tls_ctx;
struct tls;

/* What a protocol supplies. Every hook but frame and handle may be NULL. */
struct conn_proto {
    /* Bytes to allocate per connection: the protocol's struct, with struct
     * conn as its first member (0: sizeof(struct conn)); zeroed. */
    size_t size;
    /* The connection in log lines: "connection", "RESP connection". */
    const char *what;
    /* Judge the start of data[0..len) (len > 0): CONN_FRAME_OK with *flen,
     * a whole frame; CONN_FRAME_AGAIN, more bytes needed (*need: the frame's
     * whole size when known, else 0); CONN_FRAME_ERROR, not this protocol
     * (*why: a static or per-connection message). */
    int (*frame)(struct conn *c, const uint8_t *data, size_t len, size_t *flen, size_t *need,
                 const char **why);
    /* One whole frame, borrowed for the call. It may reply, take references,
     * conn_hold, conn_linger or conn_close. */
    void (*handle)(struct conn *c, const uint8_t *frame, size_t len);
    /* frame() said ERROR: log, count, reply if the protocol has a way. The
     * connection lingers afterwards unless the hook closed it. */
    void (*bad_frame)(struct conn *c, const char *why);
    /* Accepted (before its first read): 0, or a negative code to close it at
     * once (close is not called then). */
    int (*open)(struct conn *c);
    /* The connection starts closing (accepted ones after a successful open,
     * every connected one). No hook but free runs after it. */
    void (*close)(struct conn *c);
    /* Release the protocol's state: the memory goes right after. */
    void (*free)(struct conn *c);
    /* The peer finished sending (EOF, or TLS close_notify). NULL: a server
     * connection closes, an outgoing one fails. */
    void (*eof)(struct conn *c);
    /* Requests waiting for their replies, for backpressure and lingering.
     * NULL: the references (conn_ref) held. */
    uint64_t (*backlog)(const struct conn *c);
    /* Outgoing: the connection is up (TCP, and the TLS handshake when TLS). */
    void (*connected)(struct conn *c);
    /* Outgoing: the connection could not be made or is lost: err is a
     * negative JUNO_E* code (JUNO_EOF: the peer closed), why says it in words.
     * c is closing already. NULL: it closes with a log line, as a server's. */
    void (*failed)(struct conn *c, int err, const char *why);
    /* A TLS handshake was refused or failed (reason: enum tls_reason), for
     * counters: the module has logged it; the connection closes (an outgoing
     * one reports proto->failed as well). */
    void (*tls_refused)(struct conn *c, int reason);
    /* Output is due, but more replies to the requests that arrived with
     * it are still coming: 1 keeps this turn's output back, so that a
     * pipelined batch leaves in one write (one TLS record) as the client
     * sent it. Asked only in a group with a gather timer
     * (conn_group_gather); the output goes anyway once it reaches
     * CONN_GATHER_MAX bytes or has waited the group's gather time. */
    int (*gather)(const struct conn *c);
};

/* Per-connection limits (a listener's apply to every connection it accepts). */
struct conn_limits {
    uint64_t max_frame;   /* for the protocol's frame() (conn_max_frame); 0: its default */
    uint64_t max_backlog; /* reading stops above this backlog; 0: no limit */
    uint64_t idle_ms;     /* closed idle this long; 0: never (conn_set_idle changes it) */
    uint64_t frame_ms;    /* a frame begun is whole within this, or closed; 0: no limit */
};

/* The connections one loop flushes and sweeps together. */
struct conn_group {
    uv_loop_t *loop;    /* borrowed */
    void *data;         /* the owner's */
    struct conn *conns; /* open connections (closing ones are off the list) */
    struct conn *dirty; /* connections with output or work for this turn's flush */
    uint64_t refs;      /* references held on the group's connections */
    size_t nconns;      /* connections not yet freed */
    /* Called after a connection is freed and after a write finished: the
     * owner's chance to see whether a drain is complete. */
    void (*progress)(struct conn_group *g);
    uint8_t *scratch;         /* owned: TLS ciphertext read buffer (CONN_READ_CHUNK) */
    uv_timer_t *gather_timer; /* borrowed (conn_group_gather); NULL: output never kept back */
    struct conn *kept;        /* connections whose output is kept back (proto->gather) */
    uint64_t gather_ms;       /* ... for at most this long (libuv's timer: up to 1 ms more) */
    /* The gather timer sent n connections' output kept back (NULL: none). */
    void (*gather_late)(struct conn_group *g, unsigned n);
    uint64_t log_window_ms, log_count, log_suppressed; /* TLS refusal log rate limit */
};

struct conn_listener {
    uv_tcp_t tcp; /* embedded */
    struct conn_group *g;
    const struct conn_proto *proto; /* borrowed: static */
    struct conn_limits lim;
    struct tls_ctx *tls; /* borrowed (the owner keeps it); NULL: plaintext */
    void *data;          /* each accepted connection's c->data */
    unsigned handshakes; /* TLS handshakes in progress */
    int open;            /* tcp initialised, not yet closed */
    int draining;        /* no new connections; no frame handled any more */
};

struct conn {
    uv_tcp_t tcp; /* embedded; the memory is freed after its close callback */
    struct conn_group *g;
    const struct conn_proto *proto; /* borrowed: static */
    struct conn_listener *l;        /* NULL: an outgoing connection */
    void *data;                     /* the owner's: the listener's data, or conn_connect's */
    struct conn *prev, *next;       /* g->conns */
    struct conn *dirty_next;        /* g->dirty */
    struct buf in;                  /* plaintext read, not yet handled */
    struct buf out;                 /* plaintext replies not yet handed to uv_write */
    size_t need;                    /* the frame being read needs this much in `in` */
    uint64_t refs;                  /* requests holding the connection (conn_ref) */
    size_t writes;                  /* uv_write requests in flight */
    uint64_t t0;                    /* uv_hrtime() when the bytes being handled were read */
    uint64_t batch;                 /* counts the passes over read bytes: a pipelined batch */
    uint64_t last_active;           /* uv_now of the last bytes read */
    uint64_t partial_since;         /* uv_now when a partial frame began, 0: none */
    struct conn_limits lim;
    uint8_t dirty, closing, closed, reading, lingering, held, reprocess, opened;
    uint8_t connecting, resolving, established, handshaking;
    uint8_t gathering, gather_due;      /* output kept back (proto->gather); its time is up */
    struct conn *kept_prev, *kept_next; /* g->kept, while gathering */
    struct tls *tls;                    /* owned; NULL: plaintext */
    struct buf tout;                    /* TLS: ciphertext not yet handed to uv_write */
    uint64_t hs_start;                  /* TLS: uv_now when the handshake began */
    uint64_t hs_ms;                     /* TLS: the handshake's deadline, from the context */
    uv_connect_t creq;                  /* outgoing */
    uv_getaddrinfo_t *gai;              /* owned: outgoing, while resolving */
    char host[256];                     /* outgoing: the name connected to (TLS checks it) */
    char peer[80];                      /* "1.2.3.4:5678", for log lines */
};

/* ---- groups ---- */

/* Initialise g on loop (data: the owner's). Nothing to release until a
 * connection exists; conn_group_deinit once every connection is freed. */
void conn_group_init(struct conn_group *g, uv_loop_t *loop, void *data);
void conn_group_deinit(struct conn_group *g);

/* Handle what this turn left: buffered frames of connections released by
 * conn_release, then every connection's output, written once (uv_check). */
void conn_group_flush(struct conn_group *g);

/* Let proto->gather keep output back for up to ms (0: never), with t
 * (initialised by the owner on g's loop; the owner closes it after g's last
 * flush) as the timer that sends it. t->data becomes g. */
void conn_group_gather(struct conn_group *g, uv_timer_t *t, uint64_t ms);

/* 1 while any connection of g has output not yet written (drain). */
int conn_group_output_pending(const struct conn_group *g);

/* Close connections past a deadline: a TLS handshake, a partial frame,
 * idleness. Call from a timer. */
void conn_group_sweep(struct conn_group *g);

/* Close every connection of g (end of a drain). */
void conn_group_close_all(struct conn_group *g);

/* ---- listening ---- */

/* Serve proto on a bound, listening socket fd (taken over: closed on
 * failure too) or on addr (bound here), with limits lim and TLS from tls (a
 * server context, kept by the caller while l lives; NULL: plaintext); every
 * accepted connection gets data as c->data. Returns 0, or a negative code
 * (the listener then holds nothing). */
int conn_listen_fd(struct conn_listener *l, struct conn_group *g, const struct conn_proto *proto,
                   const struct conn_limits *lim, int fd, struct tls_ctx *tls, void *data);
int conn_listen_addr(struct conn_listener *l, struct conn_group *g, const struct conn_proto *proto,
                     const struct conn_limits *lim, const struct sockaddr *addr,
                     struct tls_ctx *tls, void *data);

/* Stop accepting (the listening socket closes), stop reading every
 * connection of l; no buffered frame of theirs is handled any more. Their
 * replies still go out. Twice is fine, and so is a zeroed listener that
 * never listened. */
void conn_listener_drain(struct conn_listener *l);

/* ---- connecting ---- */

/* Connect to host:port (an IP literal, or a name resolved by uv_getaddrinfo)
 * for proto, with limits lim (NULL: none) and TLS from tls (a client
 * context: the server's certificate is checked against its CA and against
 * host; NULL: plaintext); c->data = data. Returns 0 with *out connecting:
 * proto->connected or proto->failed follows, never from inside this call.
 * Output queued meanwhile (conn_reserve) is written once the connection is
 * up. Returns JUNO_ENOMEM or a negative libuv-derived code when the attempt
 * cannot start (nothing to close then). */
int conn_connect(struct conn_group *g, const struct conn_proto *proto,
                 const struct conn_limits *lim, const char *host, uint16_t port,
                 struct tls_ctx *tls, void *data, struct conn **out);

/* ---- a connection ---- */

/* Room for n more bytes of output at the returned pointer (write them, then
 * add n to c->out.len); c is flushed at the end of the turn. NULL when c is
 * closing, or out of memory (logged; c is then closed). */
uint8_t *conn_reserve(struct conn *c, size_t n);

/* The output buffer (append with buf_reserve or an encoder), then conn_dirty. */
static inline struct buf *
conn_out(struct conn *c)
{
    return &c->out;
}

/* Flush c at the end of this turn (conn_reserve does it). */
void conn_dirty(struct conn *c);

/* A request holds c until conn_unref; c is freed only once none does. */
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* The protocol's backlog went down (proto->backlog): read again or finish
 * lingering, as due. */
void conn_update(struct conn *c);

/* Read no more; close once every reply due is written (a bad frame, QUIT). */
void conn_linger(struct conn *c);

/* Handle no further frame (reading stops) until conn_release: a command
 * whose later steps must not be overtaken. */
void conn_hold(struct conn *c);
/* Handle what is buffered at this turn's flush and read again. */
void conn_release(struct conn *c);

/* Close now: output not yet written is dropped. Twice is fine. */
void conn_close(struct conn *c);

/* Change c's idle timeout (ms; 0: never). */
static inline void
conn_set_idle(struct conn *c, uint64_t ms)
{
    c->lim.idle_ms = ms;
}

/* Bytes of output not yet written: buffered and in uv_write requests. */
size_t conn_pending_output(const struct conn *c);

/* The subject of the peer's TLS certificate ("CN=proxy-1,O=juno"), "" when
 * none (plaintext, or no certificate). Valid while c lives. */
const char *conn_peer_subject(const struct conn *c);

/* The limit a frame() hook applies: lim.max_frame. */
static inline uint64_t
conn_max_frame(const struct conn *c)
{
    return c->lim.max_frame;
}

/* ---- JunoDB framing (conn_wire.c) ---- */

/* proto->frame for the JunoDB wire protocol: wire_frame with the
 * connection's max_frame; the size of a partial frame as the need hint. */
int conn_wire_frame(struct conn *c, const uint8_t *data, size_t len, size_t *flen, size_t *need,
                    const char **why);

#endif
