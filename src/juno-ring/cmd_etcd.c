/* cmd_etcd.c: `juno-ring publish` and `juno-ring fetch`: the live map in etcd,
 * at /juno/<cluster>/map (lib/etcd.h).
 *
 * publish is a compare-and-swap: map version V goes in only if etcd holds the
 * version it was planned from (V-1), and only while that value is still the
 * one read (txn: MOD == the mod_revision read with it); the first map (version
 * 1) only if none is there (CREATE == 0). Publishing the very map that is
 * already there is a no-op that succeeds, so a script may retry.
 */
#include "jring.h"

#include "cli.h"
#include "error.h"
#include "etcd.h"

#include <stdlib.h>
#include <string.h>

static struct etcd *
connect_etcd(struct jring_opts *opts, const char *verb)
{
    const char *url = opts->etcd;
    if (url == NULL) url = getenv("JUNO_ETCD");
    if (url == NULL || *url == '\0')
        cli_usage("unable to %s map: --etcd URL is required (or JUNO_ETCD)", verb);
    char err[512];
    struct etcd_opts o = {.connect_timeout_ms = 2000, .request_timeout_ms = 5000};
    etcdopt_finish(&opts->etcd_sec, 1, 1, &o);
    struct etcd *e = etcd_create(url, &o, err, sizeof(err));
    etcdopt_deinit(&opts->etcd_sec); /* e has its own copy */
    if (e == NULL) cli_usage("unable to use --etcd %s: %s", url, err);
    return e;
}

static void
etcd_failed(int rc, const char *what)
{
    cli_die(rc == JUNO_ENOMEM ? EX_SOFTWARE : EX_UNAVAILABLE, "unable to %s: %s", what,
            etcd_strerror()[0] ? etcd_strerror() : error_str(rc));
}

struct first_err {
    char msg[512];
};

static void
keep_first(void *arg, const char *msg)
{
    struct first_err *f = arg;
    if (f->msg[0] == '\0') snprintf(f->msg, sizeof(f->msg), "%s", msg);
}

/* Read /juno/<cluster>/map: 0 with *kv filled (owned) and *m parsed (owned),
 * or JUNO_ENOTFOUND when there is none. A value that is not a valid map
 * exits 65. */
static int
read_live(struct etcd *e, const char *key, struct etcd_kv *kv, struct map **m)
{
    struct etcd_kvs kvs;
    int rc = etcd_get(e, key, 0, &kvs);
    if (rc < 0) etcd_failed(rc, "read the map from etcd");
    if (kvs.n == 0) {
        etcd_kvs_deinit(&kvs);
        return JUNO_ENOTFOUND;
    }
    *kv = kvs.kvs[0];
    memset(&kvs.kvs[0], 0, sizeof(kvs.kvs[0]));
    etcd_kvs_deinit(&kvs);
    struct first_err f = {""};
    rc = map_parse_report(kv->value, kv->value_len, m, keep_first, &f);
    if (rc == JUNO_ENOMEM) cli_die(EX_SOFTWARE, "unable to read map %s: out of memory", key);
    if (rc != 0) cli_die(EX_DATAERR, "unable to read map %s from etcd: %s", key, f.msg);
    return 0;
}

int
jring__cmd_publish(struct jring_opts *o)
{
    if (o->nargs > 1) cli_usage("unable to run publish: unexpected argument \"%s\"", o->args[1]);
    const char *path = o->nargs == 1 ? o->args[0] : NULL;
    struct map *m = jring__read_map(path, "publish");
    struct etcd *e = connect_etcd(o, "publish");
    char key[256];
    etcd_juno_key(key, sizeof(key), m->cluster, "map");
    size_t len;
    char *json = map_to_json(m, &len);
    if (json == NULL) cli_die(EX_SOFTWARE, "unable to publish map: out of memory");

    struct etcd_kv cur = {0};
    struct map *live = NULL;
    int64_t mod_rev = 0;
    if (read_live(e, key, &cur, &live) == 0) {
        if (cur.value_len == len && memcmp(cur.value, json, len) == 0) {
            printf("map version %" PRIu64 " of cluster %s is already published at %s\n", m->version,
                   m->cluster, key);
            goto done;
        }
        if (live->version + 1 != m->version) {
            cli_error("unable to publish map version %" PRIu64 ": etcd holds version %" PRIu64
                      " of cluster %s, and this map was not planned from it (that needs version "
                      "%" PRIu64 "); fetch the live map and plan again",
                      m->version, live->version, m->cluster, live->version + 1);
            exit(EXIT_NO);
        }
        mod_rev = cur.mod_revision;
    } else if (m->version != 1) {
        cli_error("unable to publish map version %" PRIu64 ": etcd holds no map of cluster %s "
                  "yet, so only version 1 can be published",
                  m->version, m->cluster);
        exit(EXIT_NO);
    }
    int ok = 0;
    int64_t rev = 0;
    int rc = etcd_cas(e, key, mod_rev, json, len, &ok, &rev);
    if (rc < 0) etcd_failed(rc, "publish the map");
    if (!ok) {
        cli_error("unable to publish map version %" PRIu64 ": the map of cluster %s changed in "
                  "etcd while publishing; fetch it and plan again",
                  m->version, m->cluster);
        exit(EXIT_NO);
    }
    printf("published map version %" PRIu64 " of cluster %s at %s (revision %" PRId64 ")\n",
           m->version, m->cluster, key, rev);
done:
    etcd_kv_deinit(&cur);
    map_destroy(live);
    map_destroy(m);
    free(json);
    etcd_destroy(e);
    return 0;
}

int
jring__cmd_fetch(struct jring_opts *o)
{
    if (o->nargs > 0) cli_usage("unable to run fetch: unexpected argument \"%s\"", o->args[0]);
    const char *cluster = o->cluster ? o->cluster : ETCD_JUNO_DEFAULT_CLUSTER;
    if (map_name_valid(cluster) != 0)
        cli_usage("unable to use --cluster %s: not a valid name", cluster);
    struct etcd *e = connect_etcd(o, "fetch");
    char key[256];
    etcd_juno_key(key, sizeof(key), cluster, "map");
    struct etcd_kv cur = {0};
    struct map *live = NULL;
    if (read_live(e, key, &cur, &live) != 0) {
        cli_error("unable to fetch map: no map of cluster %s in etcd at %s", cluster,
                  etcd_endpoints(e));
        etcd_destroy(e);
        return EXIT_NO;
    }
    jring__write_map(live, o->out != NULL ? o->out : "-");
    etcd_kv_deinit(&cur);
    map_destroy(live);
    etcd_destroy(e);
    return 0;
}
