/* bgq.h: background jobs on threads at the lowest CPU priority.
 *
 * Work that may take all the CPU it can get, but must never take it from a
 * request (a migration's copy), runs here rather than in libuv's thread pool:
 * the threads set their nice value to BGQ_NICE when they start, so the
 * kernel runs them only when the threads serving requests leave it a core.
 * Jobs run in the order they were submitted, on up to `threads` threads at
 * once; each job's done callback then runs on the loop.
 *
 *   struct bgq q; bgq_init(&q, loop, 2);
 *   job->work = fn_on_a_bgq_thread; job->done = fn_on_the_loop;
 *   bgq_submit(&q, job);
 *   ...
 *   bgq_close(&q);   every submitted job has run (and its done callback)
 */
#ifndef JUNO_BGQ_H
#define JUNO_BGQ_H

#include <pthread.h>
#include <uv.h>

#define BGQ_NICE    19
#define BGQ_THREADS 8 /* at most */

struct bgq_job {
    void (*work)(struct bgq_job *j); /* on a bgq thread */
    void (*done)(struct bgq_job *j); /* on the loop, after work */
    void *data;                      /* the caller's */
    struct bgq_job *next;            /* internal */
};

struct bgq {
    uv_loop_t *loop;
    uv_async_t async; /* done jobs are ready */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t threads[BGQ_THREADS];
    int nthreads, stopping, nice_failed;
    struct bgq_job *queue_head, *queue_tail, *done_head, *done_tail;
};

/* Start `threads` (1..BGQ_THREADS) threads for loop. Returns 0 or JUNO_ENOMEM.
 * A thread that cannot lower its priority still runs (nice_failed counts it). */
int bgq_init(struct bgq *q, uv_loop_t *loop, int threads);
/* Queue j: j->work runs on a bgq thread, then j->done on the loop. */
void bgq_submit(struct bgq *q, struct bgq_job *j);
/* Run what is queued, join the threads, call the last done callbacks and
 * close the async handle (the loop must run once more to free it). */
void bgq_close(struct bgq *q);

#endif
