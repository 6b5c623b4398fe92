/* test_cli_retry.c: the proxy mode of juno against a fake proxy in a thread:
 * retries (Busy, a dropped connection) with the same request id, statuses
 * that are not retried, and the batch engine's order, retries and reconnects
 * (the CLI's request.c, output.c, proxy.c, batch.c and proxy_batch.c are
 * compiled in here, as in test_client.c). */
#include "../../src/juno-cli/batch.c"
#include "../../src/juno-cli/escape.h"
#include "../../src/juno-cli/output.c"
#include "../../src/juno-cli/proxy.c"
#include "../../src/juno-cli/proxy_batch.c"
#include "../../src/juno-cli/request.c"
#include "client.h"
#include "error.h"
#include "unit.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* A listening socket on a free loopback port; its HOST:PORT into addr. */
static int
fake_listen(char *addr, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    CHECK_EQ_I(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_EQ_I(listen(fd, 8), 0);
    CHECK_EQ_I(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(addr, cap, "127.0.0.1:%u", ntohs(a.sin_port));
    return fd;
}

/* The options of a juno run against addr in namespace ns. */
static void
opts_for(struct juno_opts *o, const char *addr, unsigned retries)
{
    memset(o, 0, sizeof(*o));
    o->server = addr;
    o->ns = "ns";
    o->timeout_ms = 2000;
    o->retries = retries;
}

/* ---- proxy mode: retries against a fake proxy ---------------------------- */

struct fake {
    int lfd;
    int busy;   /* answer this many requests with Busy first */
    int drop;   /* close the connection on this many requests first */
    int final;  /* the status of the last answer */
    int expect; /* requests to serve before stopping */
    int n;      /* requests seen */
    int conns;  /* connections accepted */
    uint8_t rid[8][16];
    uint32_t version[8];
    uint16_t src_port[8];
    int app_ok;
    const char *value; /* a Get's answer */
    size_t vlen;
};

static void *
fake_serve(void *arg)
{
    struct fake *f = arg;
    struct client_buf in;
    client_buf_init(&in);
    int fd = -1;
    while (f->n < f->expect) {
        if (fd < 0) {
            fd = accept(f->lfd, NULL, NULL);
            if (fd < 0) break;
            f->conns++;
            in.len = in.used = 0;
        }
        struct wire_msg req, rep;
        if (client_recv(&in, fd, 5000, &req) != 0) {
            close(fd), fd = -1;
            continue;
        }
        int i = f->n++ % 8;
        memcpy(f->rid[i], req.meta.request_id, 16);
        f->version[i] = req.meta.version;
        f->src_port[i] = req.meta.source.port;
        f->app_ok = req.meta.source.app_len == 8 && memcmp(req.meta.source.app, "juno-cli", 8) == 0;
        if (f->drop > 0) {
            f->drop--;
            close(fd), fd = -1;
            continue;
        }
        memset(&rep, 0, sizeof(rep));
        rep.type_flag = WIRE_TF_RESPONSE;
        rep.opcode = req.opcode;
        rep.opaque = req.opaque;
        rep.ns = req.ns;
        rep.key = req.key;
        rep.status = (uint8_t)(f->busy > 0 ? WIRE_ST_BUSY : f->final);
        if (f->busy > 0) f->busy--;
        wire_meta_set_request_id(&rep.meta, req.meta.request_id);
        wire_meta_set_u32(&rep.meta, WIRE_F_VERSION, 7);
        if (req.opcode == WIRE_OP_GET) {
            rep.value.ptr = (const uint8_t *)f->value;
            rep.value.len = f->vlen;
        }
        CHECK_EQ_I(client_send(fd, &rep), 0);
    }
    if (fd >= 0) { /* wait for the client to close */
        struct wire_msg extra;
        (void)client_recv(&in, fd, 5000, &extra);
        close(fd);
    }
    client_buf_deinit(&in);
    return NULL;
}

/* Run `juno ARGV...` (proxy mode, --retries retries) against a fake proxy
 * set up as f says. Returns the exit code; stdout goes to out (cap bytes,
 * *outlen) when out is not NULL. */
static int
run_fake(struct fake *f, unsigned retries, int argc, char **argv, char *out, size_t cap,
         size_t *outlen)
{
    char addr[64];
    f->lfd = fake_listen(addr, sizeof(addr));
    struct juno_opts o;
    opts_for(&o, addr, retries);
    o.window = 16;
    if (argc > 3 && strcmp(argv[3], "--if-version") == 0) {
        o.has_if_version = 1;
        o.if_version = (uint32_t)atoi(argv[4]);
        argc = 3;
    }
    pthread_t t;
    CHECK_EQ_I(pthread_create(&t, NULL, fake_serve, f), 0);
    int saved = -1;
    FILE *tmp = NULL;
    if (out != NULL) { /* capture stdout */
        fflush(stdout);
        tmp = tmpfile();
        saved = dup(STDOUT_FILENO);
        dup2(fileno(tmp), STDOUT_FILENO);
    }
    int code = proxy_main(&o, argc, argv);
    if (out != NULL) {
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
        rewind(tmp);
        *outlen = fread(out, 1, cap, tmp);
        fclose(tmp);
    }
    pthread_join(t, NULL);
    close(f->lfd);
    return code;
}

UNIT_TEST(retry_busy_with_the_same_request_id)
{
    char *argv[] = {"put", "k", "v", NULL};
    struct fake f = {.busy = 2, .final = WIRE_ST_OK, .expect = 3};
    CHECK_EQ_I(run_fake(&f, 2, 3, argv, NULL, 0, NULL), 0);
    CHECK_EQ_I(f.n, 3);
    CHECK_EQ_I(f.conns, 1);
    CHECK(memcmp(f.rid[0], f.rid[1], 16) == 0 && memcmp(f.rid[1], f.rid[2], 16) == 0);
    CHECK((f.rid[0][6] & 0xF0) == 0x40);
    CHECK(f.app_ok);
    CHECK(f.src_port[0] != 0);
    /* out of retries: exit 75 after 1 + retries tries */
    struct fake g = {.busy = 5, .final = WIRE_ST_OK, .expect = 2};
    CHECK_EQ_I(run_fake(&g, 1, 3, argv, NULL, 0, NULL), 75);
    CHECK_EQ_I(g.n, 2);
    /* --retries 0: one try */
    struct fake h = {.busy = 1, .final = WIRE_ST_OK, .expect = 1};
    CHECK_EQ_I(run_fake(&h, 0, 3, argv, NULL, 0, NULL), 75);
}

UNIT_TEST(retry_a_dropped_connection_on_a_new_one)
{
    char *argv[] = {"create", "k", "v", NULL};
    struct fake f = {.drop = 1, .final = WIRE_ST_OK, .expect = 2};
    CHECK_EQ_I(run_fake(&f, 2, 3, argv, NULL, 0, NULL), 0);
    CHECK_EQ_I(f.conns, 2);
    CHECK(memcmp(f.rid[0], f.rid[1], 16) == 0);
    CHECK(f.src_port[0] != f.src_port[1]); /* SourceInfo follows the connection */
    struct fake g = {.drop = 3, .final = WIRE_ST_OK, .expect = 3};
    CHECK_EQ_I(run_fake(&g, 2, 3, argv, NULL, 0, NULL), 69);
}

UNIT_TEST(statuses_are_not_retried_unless_retryable)
{
    char *upd[] = {"update", "k", "v", "--if-version", "3", NULL};
    struct fake f = {.final = WIRE_ST_VERSION_CONFLICT, .expect = 1};
    CHECK_EQ_I(run_fake(&f, 2, 5, upd, NULL, 0, NULL), 1);
    CHECK_EQ_I(f.n, 1);
    CHECK_EQ_U(f.version[0], 3);
    char *create[] = {"create", "k", "v", NULL};
    struct fake g = {.final = WIRE_ST_DUP_KEY, .expect = 1};
    CHECK_EQ_I(run_fake(&g, 2, 3, create, NULL, 0, NULL), 1);
    struct fake h = {.final = WIRE_ST_BAD_PARAM, .expect = 1};
    CHECK_EQ_I(run_fake(&h, 2, 3, create, NULL, 0, NULL), 65);
    struct fake i = {.busy = 1, .final = WIRE_ST_NO_STORAGE_SERVER, .expect = 3};
    CHECK_EQ_I(run_fake(&i, 2, 3, create, NULL, 0, NULL), 69);
    CHECK_EQ_I(i.n, 3);
}

UNIT_TEST(get_writes_the_raw_value)
{
    char *argv[] = {"get", "k", NULL};
    char out[64];
    size_t n = 0;
    struct fake f = {.final = WIRE_ST_OK, .expect = 1, .value = "a\0b\n\xff", .vlen = 5};
    CHECK_EQ_I(run_fake(&f, 2, 2, argv, out, sizeof(out), &n), 0);
    CHECK_MEM(out, n, "a\0b\n\xff", 5);
    struct fake g = {.final = WIRE_ST_NO_KEY, .expect = 1};
    CHECK_EQ_I(run_fake(&g, 2, 2, argv, out, sizeof(out), &n), 1);
    CHECK_EQ_U(n, 0);
}

/* ---- the batch engine against a fake proxy ------------------------------- */

/* A fake proxy for batches: keys "kN" (N < 1000) with values; every request
 * id is answered Busy the first time it is seen (when busy_first), and the
 * connection is closed once after drop_after requests. */
struct bfake {
    int lfd;
    int busy_first;
    int drop_after; /* 0: never */
    int total;      /* stop at the end of a connection once this many were served */
    int n, conns, dropped;
    uint8_t (*seen)[16]; /* request ids seen */
    int nseen;
    char *val[1000]; /* owned */
    uint32_t ver[1000];
};

static int
bfake_seen(struct bfake *f, const uint8_t rid[16])
{
    for (int i = 0; i < f->nseen; i++)
        if (memcmp(f->seen[i], rid, 16) == 0) return 1;
    memcpy(f->seen[f->nseen++], rid, 16);
    return 0;
}

static void *
bfake_serve(void *arg)
{
    struct bfake *f = arg;
    struct client_buf in, out;
    client_buf_init(&in);
    client_buf_init(&out);
    int fd = -1;
    for (;;) {
        if (fd < 0) {
            if (f->n >= f->total) break;
            fd = accept(f->lfd, NULL, NULL);
            if (fd < 0) break;
            f->conns++;
            in.len = in.used = out.len = 0;
        }
        struct wire_msg req, rep;
        if (client_recv(&in, fd, 5000, &req) != 0) {
            close(fd), fd = -1;
            continue;
        }
        f->n++;
        if (f->drop_after > 0 && !f->dropped && f->n == f->drop_after) {
            f->dropped = 1;
            close(fd), fd = -1;
            continue;
        }
        char kbuf[16] = "";
        if (req.key.len > 1 && req.key.len < sizeof(kbuf))
            memcpy(kbuf, req.key.ptr + 1, req.key.len - 1);
        int k = atoi(kbuf) % 1000;
        memset(&rep, 0, sizeof(rep));
        rep.type_flag = WIRE_TF_RESPONSE;
        rep.opcode = req.opcode;
        rep.opaque = req.opaque;
        wire_meta_set_request_id(&rep.meta, req.meta.request_id);
        if (f->busy_first && !bfake_seen(f, req.meta.request_id)) {
            rep.status = WIRE_ST_BUSY;
        } else if (req.opcode == WIRE_OP_SET) {
            free(f->val[k]);
            f->val[k] = strndup((const char *)req.value.ptr, req.value.len);
            f->ver[k]++;
        } else if (req.opcode == WIRE_OP_GET) {
            if (f->val[k] == NULL) {
                rep.status = WIRE_ST_NO_KEY;
            } else {
                rep.value.ptr = (const uint8_t *)f->val[k];
                rep.value.len = strlen(f->val[k]);
            }
        }
        CHECK_EQ_I(client_queue(&out, &rep), 0);
        if (in.len == in.used) CHECK_EQ_I(client_flush(&out, fd, 5000), 0);
    }
    client_buf_deinit(&in);
    client_buf_deinit(&out);
    return NULL;
}

/* Run `juno batch` on input against f; the output into out (cap bytes,
 * NUL-terminated). Returns the exit code. */
static int
run_batch(struct bfake *f, unsigned retries, unsigned window, const char *input, char *out,
          size_t cap)
{
    char addr[64];
    f->lfd = fake_listen(addr, sizeof(addr));
    struct juno_opts o;
    opts_for(&o, addr, retries);
    o.window = window;
    pthread_t t;
    CHECK_EQ_I(pthread_create(&t, NULL, bfake_serve, f), 0);
    FILE *fin = tmpfile(), *fout = tmpfile();
    fputs(input, fin);
    fflush(fin);
    rewind(fin);
    fflush(stdout);
    int saved_in = dup(STDIN_FILENO), saved_out = dup(STDOUT_FILENO);
    dup2(fileno(fin), STDIN_FILENO);
    dup2(fileno(fout), STDOUT_FILENO);
    clearerr(stdin);
    int code = proxy_batch_main(&o);
    fflush(stdout);
    dup2(saved_in, STDIN_FILENO);
    dup2(saved_out, STDOUT_FILENO);
    close(saved_in);
    close(saved_out);
    clearerr(stdin);
    rewind(fout);
    size_t n = fread(out, 1, cap - 1, fout);
    out[n] = '\0';
    fclose(fin);
    fclose(fout);
    pthread_join(t, NULL);
    close(f->lfd);
    for (int i = 0; i < 1000; i++) free(f->val[i]);
    return code;
}

/* 300 puts on 100 keys, then a get of each: the last put of a key wins. */
static void
batch_case(char **input, char **want)
{
    size_t cap = 64 * 1024;
    char *in = malloc(cap), *w = malloc(cap);
    size_t i_len = 0, w_len = 0;
    for (int i = 0; i < 300; i++) {
        i_len += (size_t)snprintf(in + i_len, cap - i_len, "put\tk%d\tv%d\n", i % 100, i);
        w_len += (size_t)snprintf(w + w_len, cap - w_len, "OK\n");
    }
    for (int k = 0; k < 100; k++) {
        i_len += (size_t)snprintf(in + i_len, cap - i_len, "get\tk%d\n", k);
        w_len += (size_t)snprintf(w + w_len, cap - w_len, "OK\tv%d\n", 200 + k);
    }
    i_len += (size_t)snprintf(in + i_len, cap - i_len, "get\tk999\n");
    snprintf(w + w_len, cap - w_len, "NOT_FOUND\n");
    *input = in;
    *want = w;
}

UNIT_TEST(batch_in_order_with_busy_retries)
{
    char *in, *want, out[64 * 1024];
    batch_case(&in, &want);
    uint8_t seen[1000][16];
    struct bfake f = {.busy_first = 1, .total = 2 * 401, .seen = seen};
    CHECK_EQ_I(run_batch(&f, 2, 16, in, out, sizeof(out)), 0);
    CHECK_STR(out, want);
    CHECK_EQ_I(f.nseen, 401); /* one request id per line, each sent twice */
    CHECK_EQ_I(f.conns, 1);
    /* no retries: every line says Busy, exit 1 */
    struct bfake g = {.busy_first = 1, .total = 401, .seen = seen};
    CHECK_EQ_I(run_batch(&g, 0, 256, in, out, sizeof(out)), 1);
    CHECK(strncmp(out, "ERR\tBusy\nERR\tBusy\n", 18) == 0);
    free(in);
    free(want);
}

UNIT_TEST(batch_reconnects_and_resends)
{
    char *in, *want, out[64 * 1024];
    batch_case(&in, &want);
    uint8_t seen[1000][16];
    /* the connection drops at the 150th request: what was in flight is resent */
    struct bfake f = {.drop_after = 150, .total = 401, .seen = seen};
    int code = run_batch(&f, 2, 32, in, out, sizeof(out));
    CHECK_EQ_I(code, 0);
    CHECK_STR(out, want);
    CHECK_EQ_I(f.conns, 2);
    CHECK(f.n > 401); /* some requests went twice */
    free(in);
    free(want);
}

int
main(void)
{
    RUN(retry_busy_with_the_same_request_id);
    RUN(retry_a_dropped_connection_on_a_new_one);
    RUN(statuses_are_not_retried_unless_retryable);
    RUN(get_writes_the_raw_value);
    RUN(batch_in_order_with_busy_retries);
    RUN(batch_reconnects_and_resends);
    return unit_done();
}
