/* test_etcd.c: lib/etcd against a real etcd (Debian's etcd-server) that this
 * test starts on free loopback ports in a temporary directory and stops by
 * PID: kv, txn compare-and-swap, leases, endpoint failover, registrations, and
 * watches across an etcd kill -9 and restart and across a compaction. Without
 * /usr/bin/etcd the tests are skipped. The decoders and options without a
 * server: test_etcd_decode.c. */
#include "unit.h"

#include "error.h"
#include "etcd.h"
#include "etcd_int.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- a throwaway etcd ---- */

static char etcd_dir[64];
static int client_port, peer_port;
static pid_t etcd_pid;
static char etcd_url[64];
static struct etcd *E;

static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int
etcd_start(void)
{
    char cu[64], pu[64], data[96], cluster[96], log[96];
    snprintf(cu, sizeof(cu), "http://127.0.0.1:%d", client_port);
    snprintf(pu, sizeof(pu), "http://127.0.0.1:%d", peer_port);
    snprintf(data, sizeof(data), "%s/data", etcd_dir);
    snprintf(log, sizeof(log), "%s/etcd.log", etcd_dir);
    snprintf(cluster, sizeof(cluster), "n1=%s", pu);
    etcd_pid = fork();
    if (etcd_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        execl("/usr/bin/etcd", "etcd", "--name", "n1", "--data-dir", data, "--listen-client-urls",
              cu, "--advertise-client-urls", cu, "--listen-peer-urls", pu,
              "--initial-advertise-peer-urls", pu, "--initial-cluster", cluster,
              "--heartbeat-interval=10", "--election-timeout=100", "--logger=zap",
              "--log-outputs=stderr", "--unsafe-no-fsync", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 400; i++) { /* up to 20 s: a readiness wait, not an assertion */
        struct etcd_kvs kvs;
        if (etcd_get(E, "/health-probe", 0, &kvs) == 0) {
            etcd_kvs_deinit(&kvs);
            return 0;
        }
        sleep_ms(50);
    }
    return -1;
}

static void
etcd_kill(int sig)
{
    if (etcd_pid <= 0) return;
    kill(etcd_pid, sig);
    waitpid(etcd_pid, NULL, 0);
    etcd_pid = 0;
}

static int
etcd_setup(void)
{
    if (access("/usr/bin/etcd", X_OK) != 0) return -1;
    strcpy(etcd_dir, "/tmp/test_etcd.XXXXXX");
    if (mkdtemp(etcd_dir) == NULL) return -1;
    client_port = free_port();
    peer_port = free_port();
    snprintf(etcd_url, sizeof(etcd_url), "http://127.0.0.1:%d", client_port);
    struct etcd_opts o = {.connect_timeout_ms = 500, .request_timeout_ms = 3000};
    E = etcd_create(etcd_url, &o, NULL, 0);
    return etcd_start();
}

static void
etcd_teardown(void)
{
    etcd_kill(SIGKILL);
    etcd_destroy(E);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", etcd_dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", etcd_dir);
}

UNIT_TEST(kv_put_get_delete)
{
    int64_t rev = 0, deleted = 0;
    CHECK_EQ_I(etcd_put(E, "/t/kv/a", "one", 3, 0, &rev), 0);
    CHECK(rev > 1);
    CHECK_EQ_I(etcd_put(E, "/t/kv/b", "t\0o", 3, 0, NULL), 0); /* binary-safe */
    CHECK_EQ_I(etcd_put(E, "/t/kv/c", "", 0, 0, NULL), 0);     /* empty value */
    CHECK_EQ_I(etcd_put(E, "/t/kvx", "outside", 7, 0, NULL), 0);
    struct etcd_kvs kvs;
    CHECK_EQ_I(etcd_get(E, "/t/kv/a", 0, &kvs), 0);
    CHECK_EQ_U(kvs.n, 1);
    if (kvs.n == 1) {
        CHECK_STR(kvs.kvs[0].key, "/t/kv/a");
        CHECK_MEM(kvs.kvs[0].value, kvs.kvs[0].value_len, "one", 3);
        CHECK_EQ_I(kvs.kvs[0].mod_revision, rev);
        CHECK_EQ_I(kvs.kvs[0].create_revision, rev);
        CHECK_EQ_I(kvs.kvs[0].version, 1);
    }
    CHECK(kvs.revision >= rev + 3);
    etcd_kvs_deinit(&kvs);
    CHECK_EQ_I(etcd_get(E, "/t/kv/", 1, &kvs), 0);
    CHECK_EQ_U(kvs.n, 3);
    if (kvs.n == 3) {
        CHECK_STR(kvs.kvs[1].key, "/t/kv/b");
        CHECK_MEM(kvs.kvs[1].value, kvs.kvs[1].value_len, "t\0o", 3);
        CHECK_EQ_U(kvs.kvs[2].value_len, 0);
    }
    etcd_kvs_deinit(&kvs);
    CHECK_EQ_I(etcd_get(E, "/t/missing", 0, &kvs), 0);
    CHECK_EQ_U(kvs.n, 0);
    CHECK(kvs.revision > 0);
    etcd_kvs_deinit(&kvs);
    CHECK_EQ_I(etcd_delete(E, "/t/kv/", 1, &deleted), 0);
    CHECK_EQ_I(deleted, 3);
    CHECK_EQ_I(etcd_delete(E, "/t/kv/a", 0, &deleted), 0);
    CHECK_EQ_I(deleted, 0);
    CHECK_EQ_I(etcd_get(E, "/t/kvx", 0, &kvs), 0); /* the prefix stopped at /t/kv/ */
    CHECK_EQ_U(kvs.n, 1);
    etcd_kvs_deinit(&kvs);
    char big[ETCD_KEY_MAX + 2];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ_I(etcd_put(E, big, "v", 1, 0, NULL), JUNO_EMSGSIZE);
}

UNIT_TEST(txn_compare_and_swap)
{
    int ok = -1;
    int64_t rev = 0;
    CHECK_EQ_I(etcd_cas(E, "/t/cas", 0, "v1", 2, &ok, &rev), 0); /* create */
    CHECK_EQ_I(ok, 1);
    int64_t rev1 = rev;
    CHECK_EQ_I(etcd_cas(E, "/t/cas", 0, "v1b", 3, &ok, NULL), 0); /* exists: refused */
    CHECK_EQ_I(ok, 0);
    CHECK_EQ_I(etcd_cas(E, "/t/cas", rev1, "v2", 2, &ok, &rev), 0);
    CHECK_EQ_I(ok, 1);
    CHECK_EQ_I(etcd_cas(E, "/t/cas", rev1, "v3", 2, &ok, NULL), 0); /* stale */
    CHECK_EQ_I(ok, 0);
    struct etcd_kvs kvs;
    CHECK_EQ_I(etcd_get(E, "/t/cas", 0, &kvs), 0);
    if (kvs.n == 1) {
        CHECK_MEM(kvs.kvs[0].value, kvs.kvs[0].value_len, "v2", 2);
        CHECK_EQ_I(kvs.kvs[0].mod_revision, rev);
    }
    etcd_kvs_deinit(&kvs);
    /* two ops, one revision, guarded by two compares */
    struct etcd_cmp c[2] = {{"/t/cas", ETCD_CMP_MOD, rev}, {"/t/cas2", ETCD_CMP_CREATE, 0}};
    struct etcd_op o[2] = {{ETCD_OP_PUT, "/t/cas2", "x", 1, 0},
                           {ETCD_OP_DELETE, "/t/cas", 0, 0, 0}};
    CHECK_EQ_I(etcd_txn(E, c, 2, o, 2, &ok, &rev), 0);
    CHECK_EQ_I(ok, 1);
    CHECK_EQ_I(etcd_get(E, "/t/cas", 0, &kvs), 0);
    CHECK_EQ_U(kvs.n, 0);
    etcd_kvs_deinit(&kvs);
    CHECK_EQ_I(etcd_get(E, "/t/cas2", 0, &kvs), 0);
    CHECK_EQ_U(kvs.n, 1);
    if (kvs.n == 1) CHECK_EQ_I(kvs.kvs[0].mod_revision, rev);
    etcd_kvs_deinit(&kvs);
    CHECK_EQ_I(etcd_txn(E, c, 2, o, 2, &ok, NULL), 0); /* now both compares fail */
    CHECK_EQ_I(ok, 0);
}

UNIT_TEST(leases)
{
    int64_t id = 0, ttl = 0;
    CHECK_EQ_I(etcd_lease_grant(E, 30, &id), 0);
    CHECK(id != 0);
    CHECK_EQ_I(etcd_put(E, "/t/lease/a", "x", 1, id, NULL), 0);
    CHECK_EQ_I(etcd_lease_keepalive(E, id, &ttl), 0);
    CHECK(ttl > 0 && ttl <= 30);
    struct etcd_kvs kvs;
    CHECK_EQ_I(etcd_get(E, "/t/lease/a", 0, &kvs), 0);
    if (kvs.n == 1) CHECK_EQ_I(kvs.kvs[0].lease, id);
    etcd_kvs_deinit(&kvs);
    CHECK_EQ_I(etcd_lease_revoke(E, id), 0);
    CHECK_EQ_I(etcd_get(E, "/t/lease/a", 0, &kvs), 0);
    CHECK_EQ_U(kvs.n, 0); /* revoking deleted the key */
    etcd_kvs_deinit(&kvs);
    CHECK_EQ_I(etcd_lease_keepalive(E, id, &ttl), JUNO_ENOTFOUND);
    CHECK_EQ_I(etcd_lease_revoke(E, id), JUNO_ENOTFOUND);
    CHECK_EQ_I(etcd_put(E, "/t/lease/b", "x", 1, id, NULL), JUNO_ENOTFOUND);
    CHECK(strstr(etcd_strerror(), "lease not found") != NULL);
    CHECK_EQ_I(etcd_lease_grant(E, 0, &id), JUNO_EINVAL);
}

UNIT_TEST(endpoint_failover_and_unreachable)
{
    char spec[160];
    int dead = free_port();
    snprintf(spec, sizeof(spec), "http://127.0.0.1:%d,%s", dead, etcd_url);
    struct etcd *e2 = etcd_create(spec, NULL, NULL, 0);
    CHECK_EQ_I(etcd_put(e2, "/t/fo", "1", 1, 0, NULL), 0);
    struct etcd_kvs kvs;
    CHECK_EQ_I(etcd_get(e2, "/t/fo", 0, &kvs), 0);
    CHECK_EQ_U(kvs.n, 1);
    etcd_kvs_deinit(&kvs);
    etcd_destroy(e2);
    snprintf(spec, sizeof(spec), "http://127.0.0.1:%d", dead);
    e2 = etcd_create(spec, NULL, NULL, 0);
    CHECK_EQ_I(etcd_get(e2, "/t/fo", 0, &kvs), JUNO_EUNAVAIL);
    CHECK(strstr(etcd_strerror(), spec) != NULL);
    etcd_destroy(e2);
}

UNIT_TEST(registration)
{
    int rc = -1;
    struct etcd_reg *r = etcd_reg_start(E, "/t/reg/s1", "{\"v\":1}", 2, &rc);
    CHECK(r != NULL);
    CHECK_EQ_I(rc, 0);
    struct etcd_kvs kvs;
    CHECK_EQ_I(etcd_get(E, "/t/reg/s1", 0, &kvs), 0);
    int64_t lease = kvs.n == 1 ? kvs.kvs[0].lease : 0;
    CHECK(lease != 0);
    etcd_kvs_deinit(&kvs);
    CHECK_EQ_I(etcd_reg_update(r, "{\"v\":2}"), 0);
    int updated = 0;
    for (int i = 0; i < 200 && !updated; i++) { /* written by the thread, soon */
        if (etcd_get(E, "/t/reg/s1", 0, &kvs) == 0) {
            updated = kvs.n == 1 && kvs.kvs[0].value_len == 7 &&
                      memcmp(kvs.kvs[0].value, "{\"v\":2}", 7) == 0 && kvs.kvs[0].lease == lease;
            etcd_kvs_deinit(&kvs);
        }
        if (!updated) sleep_ms(20);
    }
    CHECK(updated);
    /* a stream of updates for twice the TTL: a put does not renew a lease, so
     * the keepalives must go on meanwhile; the key never disappears */
    int kept = 1;
    for (int i = 0; i < 40; i++) {
        char v[32];
        snprintf(v, sizeof(v), "{\"v\":%d}", 100 + i);
        etcd_reg_update(r, v);
        sleep_ms(100);
        if (etcd_get(E, "/t/reg/s1", 0, &kvs) == 0) {
            kept &= kvs.n == 1 && kvs.kvs[0].lease == lease;
            etcd_kvs_deinit(&kvs);
        }
    }
    CHECK(kept);
    CHECK_EQ_I(etcd_reg_update(r, "{\"v\":2}"), 0);
    /* outlives its TTL: kept alive */
    sleep_ms(3000);
    CHECK_EQ_I(etcd_get(E, "/t/reg/s1", 0, &kvs), 0);
    CHECK_EQ_U(kvs.n, 1);
    etcd_kvs_deinit(&kvs);
    /* the lease is lost behind its back: it registers again under a new one */
    CHECK_EQ_I(etcd_get(E, "/t/reg/s1", 0, &kvs), 0);
    if (kvs.n == 1) CHECK_MEM(kvs.kvs[0].value, kvs.kvs[0].value_len, "{\"v\":2}", 7);
    etcd_kvs_deinit(&kvs);
    CHECK_EQ_I(etcd_lease_revoke(E, lease), 0);
    int back = 0;
    for (int i = 0; i < 200 && !back; i++) {
        sleep_ms(50);
        if (etcd_get(E, "/t/reg/s1", 0, &kvs) == 0) {
            back = kvs.n == 1 && kvs.kvs[0].lease != lease && kvs.kvs[0].value_len == 7 &&
                   memcmp(kvs.kvs[0].value, "{\"v\":2}", 7) == 0;
            etcd_kvs_deinit(&kvs);
        }
    }
    CHECK(back);
    etcd_reg_stop(r, 1);
    CHECK_EQ_I(etcd_get(E, "/t/reg/s1", 0, &kvs), 0);
    CHECK_EQ_U(kvs.n, 0); /* revoked on stop */
    etcd_kvs_deinit(&kvs);
}

/* ---- watches ---- */

struct wlog {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char lines[64][128];
    int n;
    int block_on; /* the callback waits while this event index is reached and block is set */
    int block;
};

static void
wlog_fn(void *arg, const struct etcd_event *ev)
{
    struct wlog *l = arg;
    pthread_mutex_lock(&l->mu);
    char *line = l->n < 64 ? l->lines[l->n] : NULL;
    if (line) {
        switch (ev->type) {
        case ETCD_EV_SNAPSHOT:
            snprintf(line, 128, "SNAPSHOT %zu", ev->all->n);
            for (size_t i = 0; i < ev->all->n; i++)
                snprintf(line + strlen(line), 128 - strlen(line), " %s=%s", ev->all->kvs[i].key,
                         ev->all->kvs[i].value);
            break;
        case ETCD_EV_PUT: snprintf(line, 128, "PUT %s=%s", ev->kv->key, ev->kv->value); break;
        case ETCD_EV_DELETE: snprintf(line, 128, "DELETE %s", ev->kv->key); break;
        case ETCD_EV_LOST: snprintf(line, 128, "LOST"); break;
        }
        l->n++;
    }
    pthread_cond_broadcast(&l->cv);
    while (l->block && l->n == l->block_on) pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

/* Wait (up to 20 s, so a bug cannot hang the suite) for a line starting with
 * want at index >= from; returns its index or -1. */
static int
wlog_wait(struct wlog *l, int from, const char *want)
{
    pthread_mutex_lock(&l->mu);
    int found = -1;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    while (found < 0) {
        for (int i = from; i < l->n && found < 0; i++)
            if (strncmp(l->lines[i], want, strlen(want)) == 0) found = i;
        if (found >= 0 || pthread_cond_timedwait(&l->cv, &l->mu, &dl) != 0) break;
    }
    if (found < 0)
        for (int i = from; i < l->n; i++) printf("#   event %d: %s\n", i, l->lines[i]);
    pthread_mutex_unlock(&l->mu);
    return found;
}

static int
etcdctl(const char *args)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s %s >/dev/null 2>&1", etcd_url,
             args);
    return system(cmd);
}

UNIT_TEST(watch_snapshot_events_restart_compaction)
{
    static struct wlog l = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    etcd_put(E, "/t/w/a", "1", 1, 0, NULL);
    struct etcd_watch *w = etcd_watch_start(E, "/t/w/", 1, wlog_fn, &l);
    CHECK(w != NULL);
    CHECK_EQ_I(wlog_wait(&l, 0, "SNAPSHOT 1 /t/w/a=1"), 0);
    etcd_put(E, "/t/w/b", "2", 1, 0, NULL);
    etcd_put(E, "/t/other", "x", 1, 0, NULL); /* outside: not seen */
    etcd_delete(E, "/t/w/a", 0, NULL);
    int i = wlog_wait(&l, 1, "PUT /t/w/b=2");
    CHECK_EQ_I(i, 1);
    CHECK_EQ_I(wlog_wait(&l, 2, "DELETE /t/w/a"), 2);

    /* kill -9 and restart: the watch reconnects and resumes after the last
     * event, so the put made right after the restart arrives once */
    etcd_kill(SIGKILL);
    CHECK_EQ_I(etcd_start(), 0);
    etcd_put(E, "/t/w/c", "3", 1, 0, NULL);
    i = wlog_wait(&l, 3, "PUT /t/w/c=3");
    CHECK(i >= 3);
    pthread_mutex_lock(&l.mu);
    int puts_c = 0;
    for (int k = 0; k < l.n; k++) puts_c += strcmp(l.lines[k], "PUT /t/w/c=3") == 0;
    for (int k = 3; k < l.n; k++) CHECK(strncmp(l.lines[k], "SNAPSHOT", 8) != 0);
    int n0 = l.n;
    /* next: hold the watch in its callback on the next event */
    l.block_on = n0 + 1;
    l.block = 1;
    pthread_mutex_unlock(&l.mu);
    CHECK_EQ_I(puts_c, 1);

    /* compaction past the revision the watch will resume from: it must read
     * the state again and deliver a fresh snapshot */
    etcd_put(E, "/t/w/d", "4", 1, 0, NULL); /* the event the callback blocks on */
    CHECK(wlog_wait(&l, n0, "PUT /t/w/d=4") >= 0);
    etcd_put(E, "/t/other", "y", 1, 0, NULL);
    int64_t rev = 0;
    etcd_put(E, "/t/other", "z", 1, 0, &rev);
    char args[64];
    snprintf(args, sizeof(args), "compaction %lld", (long long)rev);
    CHECK_EQ_I(etcdctl(args), 0);
    etcd_kill(SIGKILL);
    CHECK_EQ_I(etcd_start(), 0);
    pthread_mutex_lock(&l.mu);
    l.block = 0;
    pthread_cond_broadcast(&l.cv);
    pthread_mutex_unlock(&l.mu);
    CHECK(wlog_wait(&l, n0 + 1, "SNAPSHOT 3 /t/w/b=2 /t/w/c=3 /t/w/d=4") > n0);
    etcd_put(E, "/t/w/e", "5", 1, 0, NULL);
    CHECK(wlog_wait(&l, n0 + 1, "PUT /t/w/e=5") > n0);

    /* one revision changing several keys (a txn, a prefix delete): etcd sends
     * their events in one message, and each one is delivered */
    struct etcd_op two[] = {{ETCD_OP_PUT, "/t/w/f", "6", 1, 0}, {ETCD_OP_PUT, "/t/w/g", "7", 1, 0}};
    int ok = 0;
    CHECK_EQ_I(etcd_txn(E, NULL, 0, two, 2, &ok, NULL), 0);
    CHECK(wlog_wait(&l, n0 + 1, "PUT /t/w/f=6") > n0);
    CHECK(wlog_wait(&l, n0 + 1, "PUT /t/w/g=7") > n0);
    CHECK_EQ_I(etcd_delete(E, "/t/w/", 1, NULL), 0);
    static const char *const gone[] = {"b", "c", "d", "e", "f", "g"};
    for (size_t k = 0; k < sizeof(gone) / sizeof(gone[0]); k++) {
        char want[32];
        snprintf(want, sizeof(want), "DELETE /t/w/%s", gone[k]);
        CHECK(wlog_wait(&l, n0 + 1, want) > n0);
    }
    etcd_watch_stop(w);
}

UNIT_TEST(watch_reports_lost_and_recovers)
{
    static struct wlog l = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    etcd_kill(SIGTERM);
    struct etcd_watch *w = etcd_watch_start(E, "/t/l", 0, wlog_fn, &l);
    CHECK_EQ_I(wlog_wait(&l, 0, "LOST"), 0);
    CHECK_EQ_I(etcd_start(), 0);
    CHECK_EQ_I(wlog_wait(&l, 1, "SNAPSHOT 0"), 1);
    etcd_put(E, "/t/l", "v", 1, 0, NULL);
    CHECK_EQ_I(wlog_wait(&l, 2, "PUT /t/l=v"), 2);
    etcd_watch_stop(w);
}

int
main(void)
{
    if (etcd_setup() != 0) {
        printf("ok %d - etcd integration # SKIP no etcd could be started\n", ++unit_n);
        etcd_teardown();
        return unit_done();
    }
    RUN(kv_put_get_delete);
    RUN(txn_compare_and_swap);
    RUN(leases);
    RUN(endpoint_failover_and_unreachable);
    RUN(registration);
    RUN(watch_snapshot_events_restart_compaction);
    RUN(watch_reports_lost_and_recovers);
    etcd_teardown();
    return unit_done();
}
