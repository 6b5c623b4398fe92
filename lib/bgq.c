/* bgq.c: background jobs on threads at the lowest CPU priority (bgq.h). */
#include "bgq.h"

#include "error.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static void
bgq__drain_done(struct bgq *q)
{
    pthread_mutex_lock(&q->mu);
    struct bgq_job *j = q->done_head;
    q->done_head = q->done_tail = NULL;
    pthread_mutex_unlock(&q->mu);
    while (j) {
        struct bgq_job *next = j->next;
        j->next = NULL;
        j->done(j);
        j = next;
    }
}

static void
bgq__on_async(uv_async_t *a)
{
    bgq__drain_done(a->data);
}

static void *
bgq__main(void *arg)
{
    struct bgq *q = arg;
    /* this thread only: on Linux a nice value belongs to the thread */
    int lowered = setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), BGQ_NICE) == 0;
    pthread_mutex_lock(&q->mu);
    q->nice_failed += !lowered;
    for (;;) {
        while (q->queue_head == NULL && !q->stopping) pthread_cond_wait(&q->cv, &q->mu);
        struct bgq_job *j = q->queue_head;
        if (j == NULL) break; /* stopping, and nothing left to run */
        q->queue_head = j->next;
        if (q->queue_head == NULL) q->queue_tail = NULL;
        j->next = NULL;
        pthread_mutex_unlock(&q->mu);
        j->work(j);
        pthread_mutex_lock(&q->mu);
        if (q->done_tail)
            q->done_tail->next = j;
        else
            q->done_head = j;
        q->done_tail = j;
        uv_async_send(&q->async);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int
bgq_init(struct bgq *q, uv_loop_t *loop, int threads)
{
    *q = (struct bgq){.loop = loop};
    if (threads < 1) threads = 1;
    if (threads > BGQ_THREADS) threads = BGQ_THREADS;
    if (pthread_mutex_init(&q->mu, NULL) != 0) return JUNO_ENOMEM;
    if (pthread_cond_init(&q->cv, NULL) != 0) {
        pthread_mutex_destroy(&q->mu);
        return JUNO_ENOMEM;
    }
    if (uv_async_init(loop, &q->async, bgq__on_async) != 0) {
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        return JUNO_ENOMEM;
    }
    q->async.data = q;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&q->threads[i], NULL, bgq__main, q) != 0) break;
        q->nthreads++;
    }
    if (q->nthreads == 0) {
        q->stopping = 1;
        bgq_close(q);
        return JUNO_ENOMEM;
    }
    return 0;
}

void
bgq_submit(struct bgq *q, struct bgq_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->queue_tail)
        q->queue_tail->next = j;
    else
        q->queue_head = j;
    q->queue_tail = j;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void
bgq_close(struct bgq *q)
{
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->nthreads; i++) pthread_join(q->threads[i], NULL);
    q->nthreads = 0;
    bgq__drain_done(q);
    uv_close((uv_handle_t *)&q->async, NULL);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}
