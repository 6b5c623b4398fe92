/* fuzz_etcd_watch.c: libFuzzer target for the decoder of etcd's watch stream
 * (lib/etcd_watch.c: the lines of JSON the gateway sends on /v3/watch, which
 * drive every proxy's live map and the node registrations).
 *
 * The input is the stream's bytes. They are fed to etcd__watch_data as curl
 * would, three times: whole, in pieces of a size the input picks, and in
 * pieces of 1 to 7 bytes; then the final line without a newline is handled as stream()
 * does at the end. Checks:
 *   - the three feedings deliver the same events and end in the same state
 *     (a message may arrive cut anywhere);
 *   - an event is a PUT or a DELETE whose kv has NUL-terminated key and
 *     value (value_len bytes), and revision == kv.mod_revision; revisions
 *     are above the starting one and never go down (events of one message may
 *     share one: a txn), and the resume point (last) never goes back;
 *   - the callback returns all the bytes, or 0 exactly when the stream is
 *     broken; nothing is delivered after that.
 * Anything else aborts.
 * Seeds: test/fuzz/seeds/fuzz_etcd_watch/ (streams of etcd 3.4's gateway as in
 * /work/shared/reference/etcd.md: created, events, a batched replay, progress,
 * compaction, the error line of a stopping member);
 * test/fuzz/fuzz_etcd_watch.dict.
 */
#include "error.h"
#include "etcd_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define START_REV 10

struct log {
    uint64_t hash; /* of every event delivered, in order */
    size_t n;
    int64_t prev;
    int ended; /* the stream was broken: nothing more may come */
};

static void
mix(struct log *g, const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++) g->hash = (g->hash ^ b[i]) * 0x100000001b3ULL;
}

static void
on_event(void *arg, const struct etcd_event *ev)
{
    struct log *g = arg;
    if (g->ended) abort();
    if (ev->type != ETCD_EV_PUT && ev->type != ETCD_EV_DELETE) abort();
    const struct etcd_kv *kv = ev->kv;
    if (kv == NULL || kv->key == NULL || kv->value == NULL || kv->value[kv->value_len] != '\0')
        abort();
    /* several events of one message may share a revision (one txn) */
    if (ev->revision != kv->mod_revision || ev->revision < g->prev) abort();
    if (ev->revision <= START_REV) abort();
    g->prev = ev->revision;
    g->n++;
    mix(g, &ev->type, sizeof(ev->type));
    mix(g, kv->key, strlen(kv->key) + 1);
    mix(g, kv->value, kv->value_len);
    mix(g, &kv->value_len, sizeof(kv->value_len));
    mix(g, &kv->create_revision, sizeof(kv->create_revision));
    mix(g, &kv->mod_revision, sizeof(kv->mod_revision));
    mix(g, &kv->version, sizeof(kv->version));
    mix(g, &kv->lease, sizeof(kv->lease));
}

struct result {
    struct log log;
    int64_t last;
    int created, broken, resnapshot;
};

/* Feed data in pieces of the sizes cut gives (0: the rest at once). */
static void
feed(const uint8_t *data, size_t size, size_t (*cut)(size_t, size_t), size_t arg, struct result *r)
{
    memset(r, 0, sizeof(*r));
    r->log.prev = START_REV;
    struct etcd__wstate s = {.fn = on_event, .arg = &r->log, .last = START_REV};
    size_t off = 0;
    while (off < size && !s.broken) {
        size_t n = cut(size - off, arg);
        if (n == 0 || n > size - off) n = size - off;
        int64_t before = s.last;
        /* curl's buffer is not NUL-terminated: give the piece its own copy */
        char *piece = malloc(n);
        if (piece == NULL) abort();
        memcpy(piece, data + off, n);
        size_t took = etcd__watch_data(piece, 1, n, &s);
        free(piece);
        if (s.broken ? took != 0 : took != n) abort();
        if (s.last < before) abort();
        if (s.broken) r->log.ended = 1;
        off += n;
    }
    if (!s.broken && s.line.len > 0) etcd__watch_message(&s, s.line.p, s.line.len);
    free(s.line.p);
    r->last = s.last;
    r->created = s.created;
    r->broken = s.broken;
    r->resnapshot = s.resnapshot;
}

static size_t
whole(size_t left, size_t arg)
{
    (void)arg;
    return left;
}

static size_t
pieces(size_t left, size_t arg)
{
    return arg < left ? arg : left;
}

static size_t
small(size_t left, size_t arg)
{
    (void)left;
    return 1 + arg % 7;
}

static int
same(const struct result *a, const struct result *b)
{
    return a->log.hash == b->log.hash && a->log.n == b->log.n && a->last == b->last &&
           a->created == b->created && a->broken == b->broken && a->resnapshot == b->resnapshot;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result a, b, c;
    feed(data, size, whole, 0, &a);
    size_t at = size > 0 ? (data[0] * 31u + size) % size + 1 : 1;
    feed(data, size, pieces, at, &b);
    feed(data, size, small, size, &c);
    if (!same(&a, &b) || !same(&a, &c)) abort();
    if (a.last < START_REV) abort();
    return 0;
}
