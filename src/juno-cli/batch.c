/* batch.c: the batch engine both modes share: `juno batch` and
 * `juno --store HOST:PORT batch`.
 *
 * Input: one request per line on stdin, fields separated by one tab, keys
 * and values with the batch escapes (\t \n \r \0 \\ \xHH), parsed by
 * lib/batchline.c; the mode (proxy_batch.c, store_batch.c) gives the commands.
 * Output: one line per input line on stdout, in input order.
 *
 *   stdin ─► next_line ─► ring of lines (input order) ─► print_done ─► stdout
 *                          │   ▲
 *            mode->start   ▼   │ mode->reply (next stage, finish or retry)
 *                     one connection, requests pipelined, matched by opaque
 *
 * Up to --window lines are in flight (or waiting for a retry) at once; a
 * line whose key is still busy waits for it, so the lines of one key apply in
 * input order (busy keys are counted in a small hash set). The ring holds
 * 64 times more lines than the window, finished ones waiting for the lines
 * before them to be printed, so a line waiting for a retry holds up the
 * output, not the requests behind it. A line's opaque is (generation << 16 |
 * slot), so a late reply to an earlier request of the same slot is
 * recognised and dropped.
 *
 * Failures: a mode with retries (proxy) reconnects when the connection fails
 * (refused, reset, closed, or no reply for --timeout) and resends every line
 * that was in flight with its request id; a line out of tries says
 * ERR<TAB>Unavailable. When no connection can be made, or the mode has no
 * retries (store), every line not answered says ERR<TAB>Unavailable and the
 * exit status is 69.
 */
#include "clock.h"
#include "juno.h"

#include "batchline.h"
#include "cli.h"
#include "client.h"
#include "error.h"
#include "hash.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct batch {
    const struct juno_opts *o;
    const struct batch_mode *mode;
    int fd;
    struct request_source src;
    struct client_buf in, out;
    struct batch_line *lines; /* owned: cap entries, a ring from head */
    unsigned window, cap, head, count;
    unsigned inflight, ready; /* lines in each state */
    int64_t next_due;         /* ms: no READY line is due before */
    struct busy *busy;        /* owned: busy_mask + 1 entries */
    size_t busy_mask;
    uint32_t gen;
    int failed;
    unsigned long lineno;
    int64_t last_progress; /* ms: the last reply, or when requests went out after none */
};

/* A key with unfinished lines: its hash and how many (0: an empty entry). */
struct busy {
    uint64_t h;
    uint32_t n;
};

static void
sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static char *
xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL) cli_die(EX_OSERR, "out of memory");
    return d;
}

const struct juno_opts *
batch_opts(const struct batch *b)
{
    return b->o;
}

const struct request_source *
batch_source(const struct batch *b)
{
    return &b->src;
}

/* The busy set: an open-addressing table of key hashes (linear probing,
 * backward-shift deletion). Two keys with one 64-bit hash merely wait for
 * each other. */
static size_t
busy_find(const struct batch *b, uint64_t h)
{
    size_t i = h & b->busy_mask;
    while (b->busy[i].n != 0 && b->busy[i].h != h) i = (i + 1) & b->busy_mask;
    return i;
}

static void
busy_add(struct batch *b, uint64_t h)
{
    size_t i = busy_find(b, h);
    b->busy[i].h = h;
    b->busy[i].n++;
}

static void
busy_del(struct batch *b, uint64_t h)
{
    size_t m = b->busy_mask, i = busy_find(b, h), j = i;
    if (b->busy[i].n == 0 || --b->busy[i].n > 0) return;
    for (;;) {
        j = (j + 1) & m;
        if (b->busy[j].n == 0) break;
        size_t k = b->busy[j].h & m; /* where it would like to be */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) continue;
        b->busy[i] = b->busy[j];
        i = j;
    }
    b->busy[i].n = 0;
}

static void
set_state(struct batch *b, struct batch_line *l, enum batch_state st)
{
    if (l->state == BL_DONE && st != BL_DONE) busy_add(b, l->khash);
    if (l->state != BL_DONE && st == BL_DONE) busy_del(b, l->khash);
    if (l->state == BL_INFLIGHT) b->inflight--;
    if (l->state == BL_READY) b->ready--;
    l->state = st;
    if (st == BL_INFLIGHT) b->inflight++;
    if (st == BL_READY) b->ready++;
}

void
batch_finish(struct batch *b, struct batch_line *l, const char *result, int ok)
{
    if (result != NULL) {
        free(l->result);
        l->result = xstrdup(result);
    } else if (l->result == NULL) {
        l->result = xstrdup("ERR\tInternal");
    }
    if (!ok) b->failed = 1;
    set_state(b, l, BL_DONE);
}

void
batch_set_value_result(struct batch_line *l, const char *prefix, const uint8_t *p, size_t len)
{
    size_t plen = strlen(prefix);
    char *s = malloc(plen + 1 + 4 * len + 1);
    if (s == NULL) cli_die(EX_OSERR, "out of memory");
    memcpy(s, prefix, plen);
    s[plen] = '\t';
    size_t n = batchline_escape(p, len, s + plen + 1);
    s[plen + 1 + n] = '\0';
    free(l->result);
    l->result = s;
}

void
batch_send(struct batch *b, struct batch_line *l, struct wire_msg *m)
{
    l->opaque = (++b->gen << 16) | (uint32_t)(l - b->lines);
    m->opaque = l->opaque;
    if (client_queue(&b->out, m) != 0) { /* a field over the wire's limits */
        batch_finish(b, l, "ERR\tBadInput", 0);
        return;
    }
    if (b->inflight == 0) b->last_progress = clock_mono_ms();
    set_state(b, l, BL_INFLIGHT);
}

void
batch_retry(struct batch *b, struct batch_line *l, const char *result_if_exhausted)
{
    if (l->tries >= b->mode->retries) {
        batch_finish(b, l, result_if_exhausted, 0);
        return;
    }
    l->tries++;
    l->retry_at = clock_mono_ms() + request_backoff_ms(l->tries);
    if (b->ready == 0 || l->retry_at < b->next_due) b->next_due = l->retry_at;
    set_state(b, l, BL_READY);
}

/* Parse line (len bytes, newline removed) with the mode's commands into l.
 * Returns 0 or -1 with *why set. */
static int
parse_line(const struct batch_mode *mode, struct batch_line *l, char *line, size_t len,
           const char **why)
{
    struct batchline bl;
    if (batchline_parse(mode->syntax, line, len, &bl, why) != 0) return -1;
    l->kind = bl.kind;
    l->version = bl.version;
    l->key = bl.key;
    l->klen = bl.klen;
    l->val = bl.val;
    l->vlen = bl.vlen;
    l->khash = hash_key(l->key, l->klen);
    return 0;
}

/* Read the next input line into l: READY, or DONE with ERR<TAB>BadInput.
 * Returns 0, or -1 at the end of the input. */
static int
next_line(struct batch *b, struct batch_line *l)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        if (ferror(stdin)) cli_die(EX_IOERR, "unable to read the batch from stdin");
        return -1;
    }
    if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
    b->lineno++;
    memset(l, 0, sizeof(*l));
    l->line = line;
    const char *why;
    if (parse_line(b->mode, l, line, (size_t)n, &why) != 0) {
        cli_error("batch line %lu: %s", b->lineno, why);
        l->result = xstrdup("ERR\tBadInput");
        b->failed = 1;
        l->state = BL_DONE;
    } else {
        l->state = BL_READY;
    }
    return 0;
}

/* Print and free the finished lines at the head of the ring. */
static void
print_done(struct batch *b)
{
    while (b->count > 0) {
        struct batch_line *l = &b->lines[b->head];
        if (l->state != BL_DONE) break;
        fputs(l->result, stdout);
        putchar('\n');
        free(l->result);
        free(l->line);
        memset(l, 0, sizeof(*l));
        b->head = (b->head + 1) % b->cap;
        b->count--;
    }
}

static void
on_reply(struct batch *b, const struct wire_msg *r)
{
    unsigned idx = r->opaque & 0xFFFF;
    struct batch_line *l = idx < b->cap ? &b->lines[idx] : NULL;
    if (l == NULL || l->state != BL_INFLIGHT || l->opaque != r->opaque) {
        fprintf(stderr, "%s: warning: ignoring a reply that matches no request (opaque %u)\n",
                cli_prog(), r->opaque);
        return;
    }
    set_state(b, l, BL_DONE); /* the mode sends, finishes or retries */
    b->mode->reply(b, l, r);
}

/* Start every READY line whose time has come. Returns the earliest time a
 * READY line waits for, or -1 when none waits. */
static int64_t
start_due(struct batch *b)
{
    if (b->ready == 0) return -1;
    int64_t now = clock_mono_ms(), next = -1;
    if (now < b->next_due) return b->next_due;
    for (unsigned i = 0; i < b->count && b->ready > 0; i++) {
        struct batch_line *l = &b->lines[(b->head + i) % b->cap];
        if (l->state != BL_READY) continue;
        if (l->retry_at <= now)
            b->mode->start(b, l);
        else if (next < 0 || l->retry_at < next)
            next = l->retry_at;
    }
    b->next_due = next;
    return next;
}

static void
reset_connection(struct batch *b)
{
    client_close(b->fd);
    b->fd = -1;
    b->in.len = b->in.used = 0;
    b->out.len = 0;
}

/* Connect, trying up to mode->retries more times after a failure that may
 * pass. Returns 0 or the last failure code (err says what failed). */
static int
connect_retry(struct batch *b, char *err, size_t errlen)
{
    for (unsigned attempt = 0;; attempt++) {
        if (attempt > 0) sleep_ms(request_backoff_ms(attempt));
        int fd = client_connect(b->mode->addr, b->o->timeout_ms, err, errlen);
        if (fd >= 0) {
            b->fd = fd;
            request_source_of(fd, &b->src);
            return 0;
        }
        if (!request_error_retryable(fd) || attempt >= b->mode->retries) return fd;
    }
}

/* The connection is gone for good: every line not answered, and every line
 * still to come, says Unavailable. */
static int
lost(struct batch *b, int rc, const char *why, struct batch_line *pending)
{
    if (why != NULL)
        cli_error("unable to finish the batch: %s", why);
    else if (rc == JUNO_EOF)
        cli_error("unable to finish the batch: the %s at %s closed the connection", b->mode->peer,
                  b->mode->addr);
    else
        cli_error("unable to finish the batch: %s: %s", b->mode->addr,
                  rc == JUNO_EPROTO && client_tls_error()[0] ? client_tls_error() : error_str(rc));
    for (unsigned i = 0; i < b->count; i++) {
        struct batch_line *l = &b->lines[(b->head + i) % b->cap];
        if (l->state != BL_DONE) batch_finish(b, l, "ERR\tUnavailable", 0);
    }
    print_done(b);
    if (pending != NULL) {
        puts(pending->state == BL_DONE ? pending->result : "ERR\tUnavailable");
        free(pending->result);
        free(pending->line);
    }
    struct batch_line tmp;
    while (next_line(b, &tmp) == 0) {
        puts(tmp.state == BL_DONE ? tmp.result : "ERR\tUnavailable");
        free(tmp.result);
        free(tmp.line);
    }
    return EX_UNAVAILABLE;
}

/* The connection failed with rc. Returns 0 when a new one is up (the lines
 * that were in flight wait to be resent), or the exit code. */
static int
connection_failed(struct batch *b, int rc, struct batch_line *pending)
{
    reset_connection(b);
    if (b->mode->retries == 0) return lost(b, rc, NULL, pending);
    fprintf(stderr,
            "%s: warning: the connection to the %s at %s failed (%s); reconnecting and "
            "resending %u requests\n",
            cli_prog(), b->mode->peer, b->mode->addr, rc == JUNO_EOF ? "closed" : error_str(rc),
            b->inflight);
    for (unsigned i = 0; i < b->count; i++) {
        struct batch_line *l = &b->lines[(b->head + i) % b->cap];
        if (l->state != BL_INFLIGHT) continue;
        if (l->tries >= b->mode->retries) {
            batch_finish(b, l, "ERR\tUnavailable", 0);
        } else {
            l->tries++;
            l->retry_at = 0;
            b->next_due = 0;
            set_state(b, l, BL_READY);
        }
    }
    char err[512];
    int c = connect_retry(b, err, sizeof(err));
    if (c != 0) return lost(b, c, err, pending);
    return 0;
}

/* One round of I/O: write what is queued, read every reply that is there,
 * waiting at most until wake (ms, -1: no limit). Returns 0, or a failure
 * code of the connection. */
static int
io_round(struct batch *b, int64_t wake)
{
    int64_t now = clock_mono_ms();
    int64_t deadline = b->inflight > 0 ? b->last_progress + b->o->timeout_ms : -1;
    if (deadline >= 0 && now >= deadline) return JUNO_ETIMEDOUT;
    int64_t until = deadline;
    if (wake >= 0 && (until < 0 || wake < until)) until = wake;
    /* TLS: a flush may leave ciphertext queued in the session (client_pending) */
    if (b->out.len > 0 || client_pending(b->fd) > 0) {
        int rc = client_flush(&b->out, b->fd, 0);
        if (rc != 0 && rc != JUNO_ETIMEDOUT) return rc;
    }
    int want_out = b->out.len > 0 || client_pending(b->fd) > 0;
    struct pollfd p = {.fd = b->fd, .events = POLLIN | (want_out ? POLLOUT : 0)};
    int wait = until < 0 ? -1 : until > now ? (int)(until - now) : 0;
    if (poll(&p, 1, wait) < 0 && errno != EINTR) return error_from_errno(errno);
    if (p.revents & POLLOUT) {
        int rc = client_flush(&b->out, b->fd, 0);
        if (rc != 0 && rc != JUNO_ETIMEDOUT) return rc;
    }
    if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
        for (;;) {
            struct wire_msg r;
            int rc = client_recv(&b->in, b->fd, 0, &r);
            if (rc == JUNO_ETIMEDOUT) break;
            if (rc != 0) return rc;
            b->last_progress = clock_mono_ms();
            on_reply(b, &r);
        }
    }
    return 0;
}

int
batch_run(const struct juno_opts *o, const struct batch_mode *mode)
{
    struct batch b;
    memset(&b, 0, sizeof(b));
    b.o = o;
    b.mode = mode;
    b.fd = -1;
    b.window = o->window;
    b.cap = b.window > 65536 / 64 ? 65536 : b.window * 64; /* the opaque has 16 bits of slot */
    b.lines = calloc(b.cap, sizeof(*b.lines));
    size_t busy_size = 4;
    while (busy_size < 2 * (size_t)b.window + 2) busy_size *= 2;
    b.busy = calloc(busy_size, sizeof(*b.busy));
    b.busy_mask = busy_size - 1;
    if (b.lines == NULL || b.busy == NULL) cli_die(EX_OSERR, "out of memory");
    client_buf_init(&b.in);
    client_buf_init(&b.out);
    char err[512];
    int rc = connect_retry(&b, err, sizeof(err));
    if (rc != 0) cli_die(request_exit_error(rc), "%s", err);
    struct batch_line next;
    int have_next = 0, eof = 0, code = -1;
    while (code < 0) {
        while (b.count < b.cap && b.inflight + b.ready < b.window) {
            if (!have_next) {
                if (eof || next_line(&b, &next) != 0) {
                    eof = 1;
                    break;
                }
                have_next = 1;
            }
            enum batch_state st = next.state;
            if (st != BL_DONE && b.busy[busy_find(&b, next.khash)].n > 0) break;
            struct batch_line *l = &b.lines[(b.head + b.count) % b.cap];
            *l = next;
            l->state = BL_DONE;
            have_next = 0;
            b.count++;
            if (st == BL_READY) {
                set_state(&b, l, BL_READY);
                mode->start(&b, l);
            }
        }
        int64_t wake = start_due(&b);
        print_done(&b);
        if (b.inflight == 0 && b.ready == 0) {
            if (eof && b.count == 0 && !have_next) code = b.failed ? EXIT_NO : 0;
            continue;
        }
        rc = io_round(&b, wake);
        if (rc != 0) {
            int c = connection_failed(&b, rc, have_next ? &next : NULL);
            if (c != 0) code = c;
        }
    }
    if (fflush(stdout) != 0 && code == 0) code = EX_IOERR;
    for (unsigned i = 0; i < b.cap; i++) {
        free(b.lines[i].line);
        free(b.lines[i].result);
    }
    free(b.lines);
    free(b.busy);
    client_buf_deinit(&b.in);
    client_buf_deinit(&b.out);
    reset_connection(&b);
    return code;
}
