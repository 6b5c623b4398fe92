/* etcd_uv.h: the etcd side of a libuv daemon (juno-store, juno-proxy): one
 * client, a watch and a registration on their own threads, and a uv_async
 * through which the watch's results reach the daemon's loop.
 *
 * The watch callback runs on the watch thread: it records what changed in the
 * owner's state under u->mu, then calls etcd_uv_wake (without mu held); the
 * loop's async callback takes the state under u->mu and acts on it.
 */
#ifndef JUNO_ETCD_UV_H
#define JUNO_ETCD_UV_H

#include "etcd.h"
#include "etcdopt.h"

#include <uv.h>

struct etcd_uv {
    struct etcd *etcd;        /* owned */
    struct etcd_watch *watch; /* owned */
    struct etcd_reg *reg;     /* owned */
    uv_async_t wake;          /* on the owner's loop once started */
    uv_mutex_t mu;            /* guards stopped and the owner's pending state */
    int started, stopped;
};

/* A client for endpoints (connect 1 s, requests 3 s) with the TLS and auth
 * settings of opts (may be NULL; its timeouts are not used). Returns 0, or
 * JUNO_EINVAL / JUNO_ENOMEM with err set. u is usable for etcd_uv_deinit
 * either way. */
int etcd_uv_init(struct etcd_uv *u, const char *endpoints, const struct etcd_opts *opts, char *err,
                 size_t errlen);

/* Read key: 0 with its value in *text (owned, NUL-terminated) and *len;
 * JUNO_ENOTFOUND ("no value at KEY" in why), JUNO_EACCES (etcd refused the
 * credentials: "etcd: authentication failed for user ..." in why) or another
 * code ("etcd unreachable: ..." in why). */
int etcd_uv_read(struct etcd_uv *u, const char *key, char **text, size_t *len, char *why,
                 size_t whylen);

/* On the loop's thread: init the async (cb, handle data = data), register
 * reg_key = reg_value under a lease of ttl_s seconds (retried in the
 * background if etcd does not answer now; logged), and watch watch_key (a
 * prefix when prefix is 1) with fn(arg, ...) on the watch thread. */
void etcd_uv_start(struct etcd_uv *u, uv_loop_t *loop, uv_async_cb cb, void *data,
                   const char *watch_key, int prefix, etcd_watch_fn *fn, void *arg,
                   const char *reg_key, const char *reg_value, int64_t ttl_s);

/* Any thread, u->mu not held: run the async callback soon (not once stopped). */
void etcd_uv_wake(struct etcd_uv *u);

/* On the loop's thread: stop the watch, revoke the registration (its key is
 * gone at once), close the async. Twice is fine. */
void etcd_uv_stop(struct etcd_uv *u);

/* SIGHUP: read o's --etcd-password-file again and authenticate with it from
 * the next call on (logged; a file that cannot be read keeps the old
 * password). Nothing without a file. */
void etcd_uv_reload_password(struct etcd_uv *u, struct etcdopt *o);

/* Free everything (after the loop has run the close); stops first if needed. */
void etcd_uv_deinit(struct etcd_uv *u);

#endif
