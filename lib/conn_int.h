/* conn_int.h: what the files of the connection module share (conn.c: a
 * connection's reading, framing, writing and lifetime; conn_listen.c:
 * accepting; conn_connect.c: connecting). Not for other modules.
 */
#ifndef JUNO_CONN_INT_H
#define JUNO_CONN_INT_H

#include "conn.h"

/* A new connection of g for proto (zeroed, proto->size bytes), its tcp handle
 * initialised and the connection on g's list. NULL when out of memory. */
struct conn *conn__new(struct conn_group *g, const struct conn_proto *proto,
                       const struct conn_limits *lim, void *data);

/* Start reading (after accept or connect). */
void conn__start_reading(struct conn *c);

/* Handle the frames buffered in c->in. */
void conn__process(struct conn *c);

/* The connection failed (err, why): an outgoing one reports proto->failed; a
 * server connection logs one line. It is closed either way. */
void conn__fail(struct conn *c, int err, const char *why);

/* The connection is ready for application data: an outgoing one reports
 * proto->connected; queued output goes out this turn. */
void conn__established(struct conn *c);

/* The memory goes once the handle is closed and nothing refers to c. */
void conn__free_if_done(struct conn *c);

#endif
