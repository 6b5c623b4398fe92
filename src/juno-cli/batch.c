/* batch.c: `juno --store HOST:PORT batch`: many keys, pipelined on one
 * connection.
 *
 * Input, one request per line, fields separated by one tab, keys and values
 * with the batch escapes of escape.h:
 *   set KEY [VALUE]    PrepareSet, then Commit (as `juno set`)
 *   get KEY            Read
 *   del KEY            PrepareDelete, then Delete (Abort when there was no record)
 * Output, one line per input line, in input order:
 *   OK | OK<TAB>VALUE (get) | NOT_FOUND | ERR<TAB>STATUS
 * STATUS is the store's status name, BadInput for a line that cannot be
 * parsed, or Unavailable for a line that got no answer because the
 * connection failed. A get of a tombstone and a del of a missing key are
 * NOT_FOUND.
 *
 * Up to --window lines are in flight at once; a line whose key is already in
 * flight waits for it, so the lines of one key apply in input order.
 * Exit status: 0 if every line was OK or NOT_FOUND, 1 if some failed, 69 if
 * the connection failed (every unanswered line then says Unavailable).
 */
#include "juno.h"

#include "cli.h"
#include "client.h"
#include "error.h"
#include "escape.h"
#include "hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum kind { K_SET, K_GET, K_DEL };

struct slot {
    int used;    /* holds a line not yet printed */
    int waiting; /* a request is out */
    enum kind kind;
    int sent_op; /* the opcode of the request out */
    uint32_t opaque;
    char *line; /* owned: the input line; key and value point into it */
    const char *key, *val;
    size_t klen, vlen;
    uint64_t khash;
    uint8_t rid[16];
    char *result; /* owned: the output line without its newline */
};

struct batch {
    const struct juno_opts *o;
    int fd;
    struct client_buf in, out;
    struct slot *slots; /* owned: window entries, a ring from head */
    unsigned window, head, count, waiting;
    uint32_t gen;
    int failed;
    unsigned long lineno;
};

static char *
xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL) cli_die(EX_OSERR, "out of memory");
    return d;
}

static void
finish(struct batch *b, struct slot *sl, const char *result, int ok)
{
    if (sl->result == NULL && result != NULL) sl->result = xstrdup(result);
    if (!ok) b->failed = 1;
    if (sl->waiting) b->waiting--;
    sl->waiting = 0;
}

static void
send_op(struct batch *b, struct slot *sl, int opcode, const struct wire_meta *cur)
{
    const struct juno_opts *o = b->o;
    struct wire_msg m;
    memset(&m, 0, sizeof(m));
    m.type_flag = WIRE_TF_REQUEST;
    m.opcode = (uint8_t)opcode;
    m.ns.ptr = (const uint8_t *)o->ns;
    m.ns.len = strlen(o->ns);
    m.key.ptr = (const uint8_t *)sl->key;
    m.key.len = sl->klen;
    m.shard_id = juno_shard_of(o, sl->key, sl->klen);
    if (opcode != WIRE_OP_READ) wire_meta_set_request_id(&m.meta, sl->rid);
    if (opcode == WIRE_OP_PREPARE_SET) {
        m.value.ptr = (const uint8_t *)sl->val;
        m.value.len = sl->vlen;
        m.value_type = o->value_type;
    }
    if (opcode == WIRE_OP_COMMIT) store_commit_meta(o, cur, sl->rid, &m.meta);
    sl->opaque = (++b->gen << 16) | (uint32_t)(sl - b->slots);
    m.opaque = sl->opaque;
    if (client_queue(&b->out, &m) != 0) {
        finish(b, sl, "ERR\tBadInput", 0);
        return;
    }
    if (!sl->waiting) b->waiting++;
    sl->waiting = 1;
    sl->sent_op = opcode;
}

/* Parse line (NUL-terminated, newline removed) into sl. Returns 0 or -1 with
 * *why set. */
static int
parse_line(struct slot *sl, char *line, const char **why)
{
    char *f[4];
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < 4; p++)
        if (*p == '\t') *p = '\0', f[n++] = p + 1;
    if (strcmp(f[0], "set") == 0)
        sl->kind = K_SET;
    else if (strcmp(f[0], "get") == 0)
        sl->kind = K_GET;
    else if (strcmp(f[0], "del") == 0)
        sl->kind = K_DEL;
    else
        return *why = "unknown command (set, get or del)", -1;
    int most = sl->kind == K_SET ? 3 : 2;
    if (n < 2) return *why = "missing KEY", -1;
    if (n > most) return *why = "too many fields", -1;
    long k = esc_batch_unescape(f[1], strlen(f[1]), f[1]);
    if (k < 0) return *why = "bad escape in KEY", -1;
    sl->key = f[1];
    sl->klen = (size_t)k;
    sl->val = "";
    sl->vlen = 0;
    if (n == 3) {
        long v = esc_batch_unescape(f[2], strlen(f[2]), f[2]);
        if (v < 0) return *why = "bad escape in VALUE", -1;
        sl->val = f[2];
        sl->vlen = (size_t)v;
    }
    sl->khash = hash_key(sl->key, sl->klen);
    return 0;
}

static int
key_in_flight(const struct batch *b, const struct slot *n)
{
    for (unsigned i = 0; i < b->count; i++) {
        const struct slot *s = &b->slots[(b->head + i) % b->window];
        if (s->waiting && s->khash == n->khash && s->klen == n->klen &&
            memcmp(s->key, n->key, n->klen) == 0)
            return 1;
    }
    return 0;
}

static void
start(struct batch *b, struct slot *sl)
{
    int rc = client_new_request_id(sl->rid);
    if (rc != 0) cli_die(EX_OSERR, "unable to make a request id: %s", error_str(rc));
    send_op(b, sl,
            sl->kind == K_SET   ? WIRE_OP_PREPARE_SET
            : sl->kind == K_GET ? WIRE_OP_READ
                                : WIRE_OP_PREPARE_DELETE,
            NULL);
}

static void
on_reply(struct batch *b, const struct wire_msg *r)
{
    unsigned idx = r->opaque & 0xFFFF;
    struct slot *sl = idx < b->window ? &b->slots[idx] : NULL;
    if (sl == NULL || !sl->waiting || sl->opaque != r->opaque) {
        cli_error("ignoring a reply that matches no request (opaque %u)", r->opaque);
        return;
    }
    int st = r->status;
    char err[64];
    snprintf(err, sizeof(err), "ERR\t%s", wire_status_name(st));
    switch (sl->sent_op) {
    case WIRE_OP_READ:
        if (st == WIRE_ST_OK) {
            char *line = malloc(3 + 4 * r->value.len + 1);
            if (line == NULL) cli_die(EX_OSERR, "out of memory");
            memcpy(line, "OK\t", 3);
            size_t n = esc_batch_escape(r->value.ptr, r->value.len, line + 3);
            line[3 + n] = '\0';
            sl->result = line;
            finish(b, sl, NULL, 1);
        } else if (st == WIRE_ST_NO_KEY || st == WIRE_ST_MARKED_DELETE) {
            finish(b, sl, "NOT_FOUND", 1);
        } else {
            finish(b, sl, err, 0);
        }
        break;
    case WIRE_OP_PREPARE_SET:
        if (st == WIRE_ST_OK)
            send_op(b, sl, WIRE_OP_COMMIT, &r->meta);
        else
            finish(b, sl, st == WIRE_ST_ALREADY_FULFILLED ? "OK" : err,
                   st == WIRE_ST_ALREADY_FULFILLED);
        break;
    case WIRE_OP_PREPARE_DELETE:
        if (st == WIRE_ST_OK)
            send_op(b, sl, wire_meta_has(&r->meta, WIRE_F_VERSION) ? WIRE_OP_DELETE : WIRE_OP_ABORT,
                    NULL);
        else
            finish(b, sl, err, 0);
        break;
    case WIRE_OP_ABORT:
        finish(b, sl, st == WIRE_ST_OK ? "NOT_FOUND" : err, st == WIRE_ST_OK);
        break;
    default: /* Commit, Delete */
        if (st == WIRE_ST_OK || st == WIRE_ST_ALREADY_FULFILLED)
            finish(b, sl, "OK", 1);
        else
            finish(b, sl, err, 0);
        break;
    }
}

/* Print and free the finished lines at the head of the ring. */
static void
print_done(struct batch *b)
{
    while (b->count > 0) {
        struct slot *sl = &b->slots[b->head];
        if (sl->waiting || sl->result == NULL) break;
        fputs(sl->result, stdout);
        putchar('\n');
        free(sl->result);
        free(sl->line);
        memset(sl, 0, sizeof(*sl));
        b->head = (b->head + 1) % b->window;
        b->count--;
    }
}

/* Read the next input line into sl (parsed, or finished as BadInput).
 * Returns 0, or -1 at the end of the input. */
static int
next_line(struct batch *b, struct slot *sl)
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
    memset(sl, 0, sizeof(*sl));
    sl->line = line;
    const char *why;
    if (parse_line(sl, line, &why) != 0) {
        cli_error("batch line %lu: %s", b->lineno, why);
        sl->result = xstrdup("ERR\tBadInput");
        b->failed = 1;
    }
    return 0;
}

/* The connection failed: every line not answered, and every line still to
 * come, says Unavailable. */
static int
lost(struct batch *b, int rc, struct slot *pending)
{
    cli_error("unable to finish the batch: %s: %s", b->o->store,
              rc == JUNO_EOF ? "the store closed the connection" : error_str(rc));
    for (unsigned i = 0; i < b->count; i++) {
        struct slot *sl = &b->slots[(b->head + i) % b->window];
        if (sl->result == NULL) finish(b, sl, "ERR\tUnavailable", 0);
        sl->waiting = 0;
    }
    b->waiting = 0;
    print_done(b);
    if (pending != NULL) {
        puts(pending->result ? pending->result : "ERR\tUnavailable");
        free(pending->result);
        free(pending->line);
    }
    struct slot tmp;
    while (next_line(b, &tmp) == 0) {
        puts(tmp.result ? tmp.result : "ERR\tUnavailable");
        free(tmp.result);
        free(tmp.line);
    }
    return EX_UNAVAILABLE;
}

int
batch_main(struct juno_opts *o)
{
    struct batch b;
    memset(&b, 0, sizeof(b));
    b.o = o;
    b.window = o->window;
    b.slots = calloc(b.window, sizeof(*b.slots));
    if (b.slots == NULL) cli_die(EX_OSERR, "out of memory");
    client_buf_init(&b.in);
    client_buf_init(&b.out);
    char err[512];
    b.fd = client_connect(o->store, o->timeout_ms, err, sizeof(err));
    if (b.fd < 0) cli_die(output_exit_error(b.fd), "%s", err);
    struct slot next;
    int have_next = 0, eof = 0, code = -1;
    while (code < 0) {
        while (b.count < b.window) {
            if (!have_next) {
                if (eof || next_line(&b, &next) != 0) {
                    eof = 1;
                    break;
                }
                have_next = 1;
            }
            if (next.result == NULL && key_in_flight(&b, &next)) break;
            struct slot *sl = &b.slots[(b.head + b.count) % b.window];
            *sl = next;
            have_next = 0;
            b.count++;
            if (sl->result == NULL) start(&b, sl);
        }
        print_done(&b);
        if (b.waiting == 0) {
            if (eof && b.count == 0) code = b.failed ? EXIT_NO : 0;
            continue;
        }
        int rc = client_flush(&b.out, b.fd, o->timeout_ms);
        struct wire_msg r;
        if (rc == 0) rc = client_recv(&b.in, b.fd, o->timeout_ms, &r);
        if (rc != 0) {
            code = lost(&b, rc, have_next ? &next : NULL);
            break;
        }
        on_reply(&b, &r);
    }
    if (fflush(stdout) != 0 && code == 0) code = EX_IOERR;
    for (unsigned i = 0; i < b.window; i++) {
        free(b.slots[i].line);
        free(b.slots[i].result);
    }
    free(b.slots);
    client_buf_deinit(&b.in);
    client_buf_deinit(&b.out);
    close(b.fd);
    return code;
}
