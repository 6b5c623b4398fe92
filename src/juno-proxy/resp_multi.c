/* resp_multi.c: MULTI, EXEC and DISCARD on the RESP face (WATCH and
 * UNWATCH: resp_watch.c), where juno can keep Redis's promise, and a clear
 * error where it cannot.
 *
 * Redis runs a transaction's commands with nothing in between, and with
 * WATCH, only if no watched key changed since WATCH. juno's keys live on
 * replicas that other proxies write to at the same time, so it can promise
 * that only where the whole transaction is one command on one key, checked
 * and written by one conditional write (every command is atomic on its own:
 * docs/protocol.md §12). So:
 *
 *   MULTI             queue the commands that follow (+QUEUED); an unknown
 *                     command, a wrong argument count or a command the ACL
 *                     refuses is answered at once and makes EXEC fail with
 *                     EXECABORT, as in Redis
 *   EXEC              no command: an empty array; one: runs it, its reply
 *                     as the array's one element; more: refused ("-ERR juno:
 *                     ...") and the transaction discarded, never run part
 *                     by part. EXEC, DISCARD forget the watched keys.
 *   DISCARD           the queue dropped
 *   WATCH k...        each key's version (or absent) read and remembered
 *                     on the connection, 64 keys at most; WATCH inside
 *                     MULTI: Redis's error. UNWATCH forgets them.
 *
 * EXEC with watched keys (resp_watch.c):
 *
 *   no command        each watched key read again: *0 if none changed,
 *                     else the null array *-1
 *   one command on    it runs on the watched version: its Get must read
 *   the one watched   that version and its write is conditional on it (SET:
 *   key               a Create if the key was absent, else an Update on the
 *                     version; INCR, APPEND, EXPIRE...: their read-modify-
 *                     write; DEL, UNLINK: a Destroy on the version; GET,
 *                     TTL, EXISTS...: the read alone); a key changed since
 *                     WATCH answers *-1 and nothing is written
 *   otherwise         refused, "-ERR juno: ... not run", nothing runs:
 *                     several watched keys, a watched key other than the
 *                     command's, a command of several keys or not in that
 *                     list (MSET, RENAME, COPY, SETNX, SETEX...), several
 *                     commands
 *
 * Only the first queued command is kept (a copy of its arguments); the
 * others are checked and counted, since EXEC refuses them anyway.
 */
#include "resp_face.h"

#include <stdlib.h>
#include <string.h>

struct rtx {
    uint32_t queued;       /* commands queued */
    uint8_t aborted;       /* one was refused: EXEC answers EXECABORT */
    struct resp_cmd first; /* the first one: argv into data */
    uint8_t *data;         /* owned: its arguments' bytes */
};

/* Drop rc's transaction. */
static void
tx_free(struct rconn *rc)
{
    if (rc->tx == NULL) return;
    free(rc->tx->first.heap_argv);
    free(rc->tx->data);
    free(rc->tx);
    rc->tx = NULL;
}

void
rmulti_free(struct rconn *rc)
{
    tx_free(rc);
    rwatch_free(rc);
}

/* Copy cmd into tx->first. Returns 0 or JUNO_ENOMEM. */
static int
keep(struct rtx *tx, const struct resp_cmd *cmd)
{
    size_t bytes = 0;
    for (size_t i = 0; i < cmd->argc; i++) bytes += cmd->argv[i].len;
    tx->data = malloc(bytes ? bytes : 1);
    struct resp_arg *argv = cmd->argc <= RESP_INLINE_ARGS
                                ? tx->first.inline_argv
                                : (tx->first.heap_argv = calloc(cmd->argc, sizeof(*argv)));
    if (tx->data == NULL || argv == NULL) return -1;
    uint8_t *p = tx->data;
    for (size_t i = 0; i < cmd->argc; i++) {
        memcpy(p, cmd->argv[i].ptr, cmd->argv[i].len);
        argv[i].ptr = p;
        argv[i].len = cmd->argv[i].len;
        p += cmd->argv[i].len;
    }
    tx->first.argv = argv;
    tx->first.argc = cmd->argc;
    return 0;
}

int
rmulti_queue(struct rconn *rc, const struct rcmd_def *d, const struct resp_cmd *cmd)
{
    struct rtx *tx = rc->tx;
    if (tx == NULL) return 0;
    if (d != NULL && (d->run == rmulti_exec || d->run == rmulti_discard || d->run == rmulti_multi ||
                      d->run == rwatch_watch || d->run == rcmd_quit))
        return 0;                      /* these run now */
    if (rcmd_check(rc, d, cmd) != 0) { /* refused, the error replied */
        tx->aborted = 1;
        return 1;
    }
    if (tx->queued++ == 0 && keep(tx, cmd) != 0) {
        rc->nomem = 1;
        return 1;
    }
    rcmd_reply(rc, "+QUEUED\r\n");
    return 1;
}

void
rmulti_multi(struct rconn *rc, const struct resp_cmd *cmd)
{
    (void)cmd;
    if (rc->tx != NULL) {
        rcmd_error(rc, "MULTI calls can not be nested");
        return;
    }
    rc->tx = calloc(1, sizeof(*rc->tx));
    if (rc->tx == NULL) {
        rc->nomem = 1;
        return;
    }
    rcmd_reply(rc, "+OK\r\n");
}

void
rmulti_discard(struct rconn *rc, const struct resp_cmd *cmd)
{
    (void)cmd;
    if (rc->tx == NULL) {
        rcmd_error(rc, "DISCARD without MULTI");
        return;
    }
    rmulti_free(rc); /* the watched keys too */
    rcmd_reply(rc, "+OK\r\n");
}

void
rmulti_exec(struct rconn *rc, const struct resp_cmd *cmd)
{
    (void)cmd;
    struct rtx *tx = rc->tx;
    if (tx == NULL) {
        rcmd_error(rc, "EXEC without MULTI");
        return;
    }
    rc->tx = NULL; /* the command runs outside the transaction */
    if (tx->aborted || tx->queued > 1) rwatch_free(rc); /* not run: unwatched, as in Redis */
    if (tx->aborted) {
        rcmd_error(rc, "-EXECABORT Transaction discarded because of previous errors.");
    } else if (tx->queued > 1) {
        rcmd_error(rc,
                   "juno: a transaction of %u commands cannot be atomic across juno's replicas: "
                   "not run (only a transaction of one command is; each command is atomic on "
                   "its own)",
                   tx->queued);
    } else if (rwatch_any(rc)) {
        rwatch_exec(rc, tx->queued ? &tx->first : NULL); /* forgets the keys */
    } else if (tx->queued == 0) {
        rcmd_reply(rc, "*0\r\n");
    } else {
        rcmd_reply(rc, "*1\r\n"); /* the command's reply follows, in order */
        rcmd_run(rc, &tx->first);
    }
    rc->tx = tx;
    tx_free(rc);
}
