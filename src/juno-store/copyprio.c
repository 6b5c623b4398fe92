/* copyprio.c: a store that only receives copies gives way to every other
 * process's requests.
 *
 * A store that is the target of a move (a new store joining, say) and has
 * no foreground request of its own spends its CPU on the copy: decoding
 * Clones on the loop, applying them on the writer thread. On a host it
 * shares with the source, the proxy or other stores, that CPU is taken from
 * their foreground. So while Clones arrive and no foreground request has
 * come for COPYPRIO_QUIET_MS, the loop and writer threads run at nice
 * BGQ_NICE; the first foreground request (or COPYPRIO_IDLE_MS without a
 * Clone) puts them back at the store's own priority.
 *
 * Going back needs the right to lower a nice value (CAP_SYS_NICE, or
 * RLIMIT_NICE: systemd's LimitNICE=); copyprio_init finds out on a thread of
 * its own, and without it the store never lowers them (no store may end up
 * stuck at nice 19 serving requests).
 */
#include "copyprio.h"

#include "bgq.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define COPYPRIO_QUIET_MS 200  /* no foreground request for this long: lower */
#define COPYPRIO_IDLE_MS  1000 /* no Clone for this long: back */

static int
tid_nice(int tid)
{
    errno = 0;
    int n = getpriority(PRIO_PROCESS, (id_t)tid);
    return errno ? 0 : n;
}

/* The probe: can a thread of ours go to BGQ_NICE and back? */
static void *
copyprio__probe(void *arg)
{
    int *ok = arg;
    int tid = (int)syscall(SYS_gettid), base = tid_nice(tid);
    *ok = setpriority(PRIO_PROCESS, (id_t)tid, BGQ_NICE) == 0 &&
          setpriority(PRIO_PROCESS, (id_t)tid, base) == 0;
    return NULL;
}

void
copyprio_init(struct store *s)
{
    pthread_t t;
    int ok = 0;
    s->prio.loop_tid = (int)syscall(SYS_gettid);
    s->prio.base = tid_nice(s->prio.loop_tid);
    if (pthread_create(&t, NULL, copyprio__probe, &ok) == 0) pthread_join(t, NULL);
    s->prio.ok = ok && s->prio.base < BGQ_NICE;
    if (!s->prio.ok)
        log_info("copies into this store run at its own priority: it may not raise a thread's "
                 "priority again (CAP_SYS_NICE or RLIMIT_NICE, systemd's LimitNICE=, gives it)");
}

static void
copyprio__set(struct store *s, int nice)
{
    int writer = engine_writer_tid(s->engine);
    int rc = setpriority(PRIO_PROCESS, (id_t)s->prio.loop_tid, nice);
    if (rc == 0 && writer > 0) rc = setpriority(PRIO_PROCESS, (id_t)writer, nice);
    if (rc != 0 && nice == s->prio.base) {
        /* cannot go back: never lower again */
        s->prio.ok = 0;
        log_warn("cannot restore the loop's priority after a copy: %s", strerror(errno));
    }
}

void
copyprio_clone(struct store *s, uint64_t now_ms)
{
    s->prio.clone_last_ms = now_ms;
    if (!s->prio.ok || s->prio.low || now_ms < s->fg_last_ms + COPYPRIO_QUIET_MS) return;
    s->prio.low = 1;
    copyprio__set(s, BGQ_NICE);
    log_info("receiving a copy with no foreground requests: the loop and writer run at nice %d",
             BGQ_NICE);
}

void
copyprio__restore(struct store *s, const char *why)
{
    s->prio.low = 0;
    copyprio__set(s, s->prio.base);
    log_info("the loop and writer run at nice %d again: %s", s->prio.base, why);
}

void
copyprio_sweep(struct store *s, uint64_t now_ms)
{
    if (s->prio.low && now_ms > s->prio.clone_last_ms + COPYPRIO_IDLE_MS)
        copyprio__restore(s, "no copy for a second");
}
