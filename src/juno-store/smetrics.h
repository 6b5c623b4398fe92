/* smetrics.h: juno-store's metrics (lib/metrics.h) and their HTTP endpoint
 * (--metrics HOST:PORT, lib/httpd.h on the store's loop).
 *
 * Two writer slots: the loop thread (SM_LOOP) and the engine's writer thread
 * (SM_WRITER). Gauges of loop-thread state (map version, shards owned, in
 * flight, locks, pending writes) and RocksDB's figures are read by a
 * collector when /metrics is rendered, on the loop thread. docs/operations.md
 * lists every metric.
 */
#ifndef JUNO_STORE_SMETRICS_H
#define JUNO_STORE_SMETRICS_H

#include <stddef.h>
#include <stdint.h>

struct store;

enum { SM_LOOP = 0, SM_WRITER = 1 };

/* Create the registry (main, before the loop runs). Returns 0 or JUNO_ENOMEM. */
int smetrics_init(struct store *s);
/* Serve /metrics on host:port on s->loop. Returns 0 or a negative code with
 * the reason in err. */
int smetrics_listen(struct store *s, const char *host, uint16_t port, char *err, size_t errlen);
/* Close the HTTP listener and its connections (loop thread; at the drain's end). */
void smetrics_stop(void);
/* Free everything (after the loop has ended). */
void smetrics_deinit(void);

/* Loop thread: a reply sent (every reply: requests by opcode and status). */
void smetrics_reply(int opcode, int status);
/* Loop thread: an operation answered; t0 is uv_hrtime() when it arrived. */
void smetrics_latency(int opcode, uint64_t t0);
/* Loop thread: records read by a shard scan (ShardInfo, ShardTree, Checkpoint). */
void smetrics_scanned(int opcode, uint64_t records);
/* Loop thread: a connection accepted (+1) or closed (-1); a bad frame. */
void smetrics_conn(int delta);
void smetrics_bad_frame(void);
/* Loop thread: a TLS handshake refused (stream 0: a connection to this
 * store) or failed (stream 1: a shard stream to another store); reason is an
 * enum tls_reason. Counted only when the store has TLS. */
void smetrics_tls_refused(int stream, int reason);

/* Writer thread: a group of n writes applied in ns nanoseconds. Writer, syncer
 * or a worker: one WAL fsync that took ns. */
void smetrics_write_group(size_t n, uint64_t ns);
void smetrics_wal_sync(uint64_t ns);

#endif
