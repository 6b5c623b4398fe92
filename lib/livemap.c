/* livemap.c: the live map and a tool's state, in etcd or beside a map file
 * (livemap.h). */
#include "livemap.h"

#include "cli.h"
#include "error.h"
#include "etcd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
etcd_fail(int rc, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, etcd_strerror()[0] ? etcd_strerror() : error_str(rc));
    return rc;
}

int
livemap_open(struct livemap *lm, const char *etcd_url, const char *map_file, const char *cluster,
             const char *name, const char *state_path, const struct etcd_opts *sec, char *err,
             size_t errlen)
{
    memset(lm, 0, sizeof(*lm));
    snprintf(lm->cluster, sizeof(lm->cluster), "%s", cluster ? cluster : "juno");
    if ((etcd_url == NULL) == (map_file == NULL)) {
        snprintf(err, errlen, "give exactly one of --etcd URL and --map-file FILE");
        return JUNO_EINVAL;
    }
    if (etcd_url != NULL) {
        struct etcd_opts o = {0};
        if (sec != NULL) o = *sec; /* TLS and auth */
        o.connect_timeout_ms = 2000;
        o.request_timeout_ms = 5000;
        if ((lm->etcd = etcd_create(etcd_url, &o, err, errlen)) == NULL) return JUNO_EINVAL;
        etcd_juno_key(lm->state_key, sizeof(lm->state_key), lm->cluster, name);
        return 0;
    }
    lm->map_file = map_file;
    if (state_path != NULL)
        snprintf(lm->state_path, sizeof(lm->state_path), "%s", state_path);
    else
        snprintf(lm->state_path, sizeof(lm->state_path), "%s.%s", map_file, name);
    snprintf(lm->migration, sizeof(lm->migration), "%s.migration", map_file);
    return 0;
}

void
livemap_close(struct livemap *lm)
{
    etcd_destroy(lm->etcd);
    lm->etcd = NULL;
}

void
livemap_where(const struct livemap *lm, char *buf, size_t cap)
{
    if (lm->etcd != NULL) {
        char key[1024];
        etcd_juno_key(key, sizeof(key), lm->cluster, "map");
        snprintf(buf, cap, "etcd %s", key);
    } else {
        snprintf(buf, cap, "%s", lm->map_file);
    }
}

/* The value of etcd key (owned) or JUNO_ENOTFOUND. */
static int
etcd_value(struct livemap *lm, const char *key, char **text, size_t *len, char *err, size_t errlen)
{
    struct etcd_kvs kvs;
    int rc = etcd_get(lm->etcd, key, 0, &kvs);
    if (rc < 0) return etcd_fail(rc, "unable to read etcd", err, errlen);
    if (kvs.n == 0) {
        etcd_kvs_deinit(&kvs);
        snprintf(err, errlen, "no value at %s in etcd", key);
        return JUNO_ENOTFOUND;
    }
    *text = kvs.kvs[0].value;
    *len = kvs.kvs[0].value_len;
    kvs.kvs[0].value = NULL;
    etcd_kvs_deinit(&kvs);
    return 0;
}

int
livemap_map(struct livemap *lm, struct map **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    char where[1100];
    livemap_where(lm, where, sizeof(where));
    int rc;
    if (lm->etcd != NULL) {
        char key[1024];
        etcd_juno_key(key, sizeof(key), lm->cluster, "map");
        if ((rc = etcd_value(lm, key, &text, &len, err, errlen)) != 0) return rc;
    } else if ((rc = cli_read_file(lm->map_file, MAP_MAX_JSON, &text, &len)) != 0) {
        snprintf(err, errlen, "unable to read %s: %s", lm->map_file, error_str(rc));
        return rc;
    }
    char why[400];
    rc = map_parse(text, len, out, why, sizeof(why));
    free(text);
    if (rc != 0) {
        snprintf(err, errlen, "invalid map %s: %s", where, why);
        return rc == JUNO_ENOMEM ? rc : JUNO_EBADMAP;
    }
    return 0;
}

int
livemap_state_get(struct livemap *lm, char **text, size_t *len, char *err, size_t errlen)
{
    if (lm->etcd != NULL) return etcd_value(lm, lm->state_key, text, len, err, errlen);
    int rc = cli_read_file(lm->state_path, 1u << 20, text, len);
    if (rc == JUNO_ENOENT) return JUNO_ENOTFOUND;
    if (rc != 0) snprintf(err, errlen, "unable to read %s: %s", lm->state_path, error_str(rc));
    return rc;
}

int
livemap_state_put(struct livemap *lm, const char *text, char *err, size_t errlen)
{
    int rc;
    if (lm->etcd != NULL) {
        rc = etcd_put(lm->etcd, lm->state_key, text, strlen(text), 0, NULL);
        return rc < 0 ? etcd_fail(rc, "unable to save the state in etcd", err, errlen) : 0;
    }
    rc = cli_write_file(lm->state_path, text, strlen(text));
    if (rc != 0) snprintf(err, errlen, "unable to write %s: %s", lm->state_path, error_str(rc));
    return rc;
}

int
livemap_state_delete(struct livemap *lm, char *err, size_t errlen)
{
    if (lm->etcd != NULL) {
        int rc = etcd_delete(lm->etcd, lm->state_key, 0, NULL);
        return rc < 0 ? etcd_fail(rc, "unable to clear the state in etcd", err, errlen) : 0;
    }
    if (unlink(lm->state_path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "unable to remove %s: %s", lm->state_path, strerror(errno));
        return error_from_errno(errno);
    }
    return 0;
}

int
livemap_migrating(struct livemap *lm, char *err, size_t errlen)
{
    if (lm->etcd == NULL) return access(lm->migration, F_OK) == 0;
    char key[1024];
    etcd_juno_key(key, sizeof(key), lm->cluster, "migration");
    struct etcd_kvs kvs;
    int rc = etcd_get(lm->etcd, key, 0, &kvs);
    if (rc < 0) return etcd_fail(rc, "unable to read etcd", err, errlen);
    int n = kvs.n > 0;
    etcd_kvs_deinit(&kvs);
    return n;
}
