/* etcd_uv.c: the etcd side of a libuv daemon (see etcd_uv.h). */
#include "etcd_uv.h"

#include "error.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

int
etcd_uv_init(struct etcd_uv *u, const char *endpoints, const struct etcd_opts *opts, char *err,
             size_t errlen)
{
    memset(u, 0, sizeof(*u));
    uv_mutex_init(&u->mu);
    char why[300];
    struct etcd_opts o = {0};
    if (opts != NULL) o = *opts;
    o.connect_timeout_ms = 1000;
    o.request_timeout_ms = 3000;
    if ((u->etcd = etcd_create(endpoints, &o, why, sizeof(why))) == NULL) {
        snprintf(err, errlen, "invalid --etcd '%s': %s", endpoints, why);
        return JUNO_EINVAL;
    }
    return 0;
}

int
etcd_uv_read(struct etcd_uv *u, const char *key, char **text, size_t *len, char *why, size_t whylen)
{
    struct etcd_kvs kvs;
    int rc = etcd_get(u->etcd, key, 0, &kvs);
    if (rc < 0) {
        snprintf(why, whylen, "%s%s",
                 rc == JUNO_EACCES ? "" : "etcd unreachable: ", etcd_strerror());
        return rc;
    }
    if (kvs.n == 0) {
        snprintf(why, whylen, "no value at %s", key);
        etcd_kvs_deinit(&kvs);
        return JUNO_ENOTFOUND;
    }
    *text = kvs.kvs[0].value; /* taken over */
    *len = kvs.kvs[0].value_len;
    kvs.kvs[0].value = NULL;
    etcd_kvs_deinit(&kvs);
    return 0;
}

void
etcd_uv_start(struct etcd_uv *u, uv_loop_t *loop, uv_async_cb cb, void *data, const char *watch_key,
              int prefix, etcd_watch_fn *fn, void *arg, const char *reg_key, const char *reg_value,
              int64_t ttl_s)
{
    uv_async_init(loop, &u->wake, cb);
    u->wake.data = data;
    uv_mutex_lock(&u->mu);
    u->started = 1;
    uv_mutex_unlock(&u->mu);
    int rc = 0;
    u->reg = etcd_reg_start(u->etcd, reg_key, reg_value, ttl_s, &rc);
    if (u->reg == NULL)
        log_error("cannot register in etcd: out of memory key=%s", reg_key);
    else if (rc != 0)
        log_warn("cannot register in etcd yet (retrying) key=%s error=\"%s\"", reg_key,
                 etcd_strerror());
    u->watch = etcd_watch_start(u->etcd, watch_key, prefix, fn, arg);
    if (u->watch == NULL) log_error("cannot start the etcd watch: out of memory key=%s", watch_key);
    log_info("following etcd endpoints=%s watch=%s%s registered=%s ttl_s=%lld",
             etcd_endpoints(u->etcd), watch_key, prefix ? "*" : "", reg_key, (long long)ttl_s);
}

void
etcd_uv_wake(struct etcd_uv *u)
{
    uv_mutex_lock(&u->mu);
    if (u->started && !u->stopped) uv_async_send(&u->wake);
    uv_mutex_unlock(&u->mu);
}

void
etcd_uv_stop(struct etcd_uv *u)
{
    if (u->stopped) return;
    etcd_watch_stop(u->watch); /* no callback after this */
    u->watch = NULL;
    etcd_reg_stop(u->reg, 1);
    u->reg = NULL;
    uv_mutex_lock(&u->mu);
    u->stopped = 1;
    uv_mutex_unlock(&u->mu);
    if (u->started) uv_close((uv_handle_t *)&u->wake, NULL);
}

void
etcd_uv_deinit(struct etcd_uv *u)
{
    etcd_uv_stop(u);
    uv_mutex_destroy(&u->mu);
    etcd_destroy(u->etcd);
    u->etcd = NULL;
}

void
etcd_uv_reload_password(struct etcd_uv *u, struct etcdopt *o)
{
    char err[600];
    int rc = etcdopt_reload_password(o, u->etcd, err, sizeof(err));
    if (rc == 0)
        log_info("etcd password reloaded from %s user=%s", o->password_file, o->user);
    else if (rc < 0)
        log_error("etcd password reload refused, keeping the one in use: %s", err);
}
