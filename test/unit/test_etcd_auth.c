/* test_etcd_auth.c: lib/etcd_auth.c against a fake etcd gateway on a free
 * loopback port (a thread answering one request per connection, as etcd
 * 3.4.23 answers them): a token is fetched once and reused, renewed once when
 * refused, a wrong password is a clear JUNO_EACCES that does not hammer the
 * server, an etcd without auth is used without a token, and threads that
 * share a client renew one token, not one each. */
#include "unit.h"

#include "error.h"
#include "etcd.h"
#include "etcd_int.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PASSWORD "pw-Secret-1"

static struct fake {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t mu;
    int stop;
    int auth_off;       /* answer authenticate: "authentication is not enabled" */
    int refuse_all;     /* refuse every token */
    int expire_every;   /* refuse the token on every Nth range (0: never) */
    int authenticates;  /* authenticate requests */
    int ranges;         /* range requests */
    int tokens;         /* the current token is "tok<tokens>" */
    int token_valid;    /* it is taken */
    int without_header; /* range requests without Authorization */
} F = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void
reply(int c, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
    if (write(c, head, (size_t)n) < 0 || write(c, body, strlen(body)) < 0) return;
}

/* One request on c: read it whole (headers, then Content-Length bytes). */
static void
serve(int c)
{
    char req[8192];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof(req) - 1) {
        ssize_t r = read(c, req + len, sizeof(req) - 1 - len);
        if (r <= 0) return;
        len += (size_t)r;
        req[len] = '\0';
        if ((end = strstr(req, "\r\n\r\n")) == NULL) continue;
        const char *cl = strcasestr(req, "Content-Length:");
        size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
        if (len >= (size_t)(end + 4 - req) + want) break;
    }
    if (end == NULL) return;
    const char *auth = strstr(req, "\r\nAuthorization: ");
    char tok[64] = "";
    if (auth != NULL) sscanf(auth + 17, "%63[^\r]", tok);
    pthread_mutex_lock(&F.mu);
    if (strncmp(req, "POST /v3/auth/authenticate ", 27) == 0) {
        F.authenticates++;
        if (F.auth_off) {
            reply(c, 412, "{\"error\":\"etcdserver: authentication is not enabled\",\"code\":9}");
        } else if (strstr(end, "\"password\":\"" PASSWORD "\"") == NULL ||
                   strstr(end, "\"name\":\"juno\"") == NULL) {
            reply(c, 400,
                  "{\"error\":\"etcdserver: authentication failed, invalid user ID or password\","
                  "\"code\":3}");
        } else {
            char body[128];
            snprintf(body, sizeof(body), "{\"header\":{\"revision\":\"1\"},\"token\":\"tok%d\"}",
                     ++F.tokens);
            F.token_valid = 1;
            reply(c, 200, body);
        }
    } else if (strncmp(req, "POST /v3/kv/range ", 18) == 0) {
        F.ranges++;
        char cur[32];
        snprintf(cur, sizeof(cur), "tok%d", F.tokens);
        if (auth == NULL) F.without_header++;
        if (F.expire_every && F.ranges % F.expire_every == 0) F.token_valid = 0;
        if (F.auth_off || (!F.refuse_all && F.token_valid && strcmp(tok, cur) == 0))
            reply(c, 200, "{\"header\":{\"revision\":\"7\"}}");
        else
            reply(c, 401, "{\"error\":\"etcdserver: invalid auth token\",\"code\":16}");
    } else {
        reply(c, 404, "{\"error\":\"not found\",\"code\":5}");
    }
    pthread_mutex_unlock(&F.mu);
}

static void *
fake_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&F.mu);
        int stop = F.stop;
        pthread_mutex_unlock(&F.mu);
        if (stop) return NULL;
        struct pollfd p = {.fd = F.fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int c = accept(F.fd, NULL, NULL);
        if (c < 0) continue;
        serve(c);
        close(c);
    }
}

/* Change one of the fake's settings under its lock. */
static void
fake_set(int *field, int v)
{
    pthread_mutex_lock(&F.mu);
    *field = v;
    pthread_mutex_unlock(&F.mu);
}

static int
fake_start(void)
{
    F.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (F.fd < 0 || bind(F.fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(F.fd, 64) != 0 ||
        getsockname(F.fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    F.port = ntohs(a.sin_port);
    return pthread_create(&F.thread, NULL, fake_thread, NULL) == 0 ? 0 : -1;
}

static void
fake_stop(void)
{
    fake_set(&F.stop, 1);
    pthread_join(F.thread, NULL);
    close(F.fd);
}

/* Reset the fake's state and counters; a client for user juno and password. */
static struct etcd *
client(const char *password)
{
    pthread_mutex_lock(&F.mu);
    F.auth_off = F.refuse_all = F.expire_every = 0;
    F.authenticates = F.ranges = F.token_valid = F.without_header = 0;
    pthread_mutex_unlock(&F.mu);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", F.port);
    struct etcd_opts o = {.connect_timeout_ms = 1000,
                          .request_timeout_ms = 2000,
                          .user = "juno",
                          .password = password};
    return etcd_create(url, &o, NULL, 0);
}

static int
get(struct etcd *e)
{
    struct etcd_kvs kvs;
    int rc = etcd_get(e, "/juno/c/map", 0, &kvs);
    if (rc == 0) etcd_kvs_deinit(&kvs);
    return rc;
}

UNIT_TEST(token_fetched_once_renewed_once)
{
    struct etcd *e = client(PASSWORD);
    CHECK_EQ_I(get(e), 0);
    CHECK_EQ_I(get(e), 0);
    CHECK_EQ_I(F.authenticates, 1);
    CHECK_EQ_I(F.ranges, 2);
    fake_set(&F.token_valid, 0); /* it expired */
    CHECK_EQ_I(get(e), 0);
    CHECK_EQ_I(F.authenticates, 2);
    CHECK_EQ_I(F.ranges, 4); /* refused, then again with the new token */
    CHECK_EQ_I(F.without_header, 0);
    etcd_destroy(e);
}

UNIT_TEST(wrong_password_is_clear_and_held)
{
    struct etcd *e = client("wrong-Pw");
    CHECK_EQ_I(get(e), JUNO_EACCES);
    CHECK(strstr(etcd_strerror(), "etcd: authentication failed for user juno") != NULL);
    CHECK(strstr(etcd_strerror(), "wrong-Pw") == NULL);
    CHECK_EQ_I(get(e), JUNO_EACCES); /* within the second: from memory */
    CHECK(strstr(etcd_strerror(), "authentication failed for user juno") != NULL);
    CHECK_EQ_I(F.authenticates, 1);
    CHECK_EQ_I(F.ranges, 0);
    etcd_destroy(e);
}

UNIT_TEST(fresh_token_refused_too_ends)
{
    struct etcd *e = client(PASSWORD);
    fake_set(&F.refuse_all, 1);
    CHECK_EQ_I(get(e), JUNO_EACCES);
    CHECK(strstr(etcd_strerror(), "refused a fresh token of user juno") != NULL);
    CHECK_EQ_I(F.authenticates, 2);
    CHECK_EQ_I(F.ranges, 2);
    etcd_destroy(e);
}

UNIT_TEST(auth_off_in_etcd_goes_on_without_a_token)
{
    struct etcd *e = client(PASSWORD);
    fake_set(&F.auth_off, 1);
    CHECK_EQ_I(get(e), 0);
    CHECK_EQ_I(get(e), 0);
    CHECK_EQ_I(F.authenticates, 1);
    CHECK_EQ_I(F.without_header, 2);
    etcd_destroy(e);
}

struct worker {
    struct etcd *e;
    int failed;
};

static void *
getter(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 25; i++)
        if (get(w->e) != 0) w->failed++;
    return NULL;
}

/* Four threads share one client while tokens expire: none of them fails,
 * and a refused token costs one authentication, not one per thread. */
UNIT_TEST(threads_share_one_token)
{
    struct etcd *e = client(PASSWORD);
    fake_set(&F.expire_every, 25); /* far apart: a retry never meets the next */
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){e, 0};
        pthread_create(&t[i], NULL, getter, &w[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) CHECK_EQ_I(w[i].failed, 0);
    int expired = F.ranges / 25;
    CHECK(F.authenticates >= 2);
    CHECK(F.authenticates <= expired + 1);
    etcd_destroy(e);
}

int
main(void)
{
    if (fake_start() != 0) {
        printf("not ok 1 - cannot start the fake gateway\n1..1\n");
        return 1;
    }
    RUN(token_fetched_once_renewed_once);
    RUN(wrong_password_is_clear_and_held);
    RUN(fresh_token_refused_too_ends);
    RUN(auth_off_in_etcd_goes_on_without_a_token);
    RUN(threads_share_one_token);
    fake_stop();
    return unit_done();
}
