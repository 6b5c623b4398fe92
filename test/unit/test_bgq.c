/* test_bgq.c: background jobs at the lowest CPU priority (lib/bgq). */
#include "unit.h"

#include "bgq.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#define NJOBS 200

struct job {
    struct bgq_job j;
    int index;
    int nice;          /* the thread's nice value, seen by work */
    int on_bgq_thread; /* work ran off the loop thread */
    int done_on_loop;  /* done ran on the loop thread */
    int done_after_work;
};

static pthread_t loop_thread;
static atomic_int worked;
static int done_count;

static void
work(struct bgq_job *bj)
{
    struct job *j = bj->data;
    errno = 0;
    j->nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    j->on_bgq_thread = !pthread_equal(pthread_self(), loop_thread);
    atomic_fetch_add(&worked, 1);
}

static void
done(struct bgq_job *bj)
{
    struct job *j = bj->data;
    j->done_on_loop = pthread_equal(pthread_self(), loop_thread);
    j->done_after_work = j->on_bgq_thread;
    done_count++;
}

UNIT_TEST(jobs_run_at_lowest_priority_and_complete_on_the_loop)
{
    static struct job jobs[NJOBS];
    uv_loop_t loop;
    struct bgq q;
    loop_thread = pthread_self();
    CHECK(uv_loop_init(&loop) == 0);
    CHECK(bgq_init(&q, &loop, 2) == 0);
    CHECK_EQ_I(q.nthreads, 2);
    for (int i = 0; i < NJOBS; i++) {
        jobs[i].index = i;
        jobs[i].j.data = &jobs[i];
        jobs[i].j.work = work;
        jobs[i].j.done = done;
        bgq_submit(&q, &jobs[i].j);
    }
    /* the async handle keeps the loop alive: run turns until every job is done */
    for (int spins = 0; done_count < NJOBS && spins < 100000; spins++) uv_run(&loop, UV_RUN_ONCE);
    CHECK_EQ_I(done_count, NJOBS);
    CHECK_EQ_I(atomic_load(&worked), NJOBS);
    int bad_nice = 0, off_loop = 0, on_loop = 0;
    for (int i = 0; i < NJOBS; i++) {
        bad_nice += jobs[i].nice != BGQ_NICE;
        off_loop += jobs[i].on_bgq_thread;
        on_loop += jobs[i].done_on_loop && jobs[i].done_after_work;
    }
    CHECK_EQ_I(bad_nice, 0);
    CHECK_EQ_I(off_loop, NJOBS);
    CHECK_EQ_I(on_loop, NJOBS);
    CHECK_EQ_I(q.nice_failed, 0);
    /* the loop thread itself keeps its priority */
    errno = 0;
    CHECK_EQ_I(getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid)), 0);
    bgq_close(&q);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

UNIT_TEST(close_runs_what_is_queued)
{
    static struct job jobs[50];
    uv_loop_t loop;
    struct bgq q;
    loop_thread = pthread_self();
    done_count = 0;
    atomic_store(&worked, 0);
    CHECK(uv_loop_init(&loop) == 0);
    CHECK(bgq_init(&q, &loop, 1) == 0);
    for (int i = 0; i < 50; i++) {
        jobs[i].j.data = &jobs[i];
        jobs[i].j.work = work;
        jobs[i].j.done = done;
        bgq_submit(&q, &jobs[i].j);
    }
    bgq_close(&q); /* without a loop turn: close itself completes them */
    CHECK_EQ_I(atomic_load(&worked), 50);
    CHECK_EQ_I(done_count, 50);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

int
main(void)
{
    RUN(jobs_run_at_lowest_priority_and_complete_on_the_loop);
    RUN(close_runs_what_is_queued);
    return unit_done();
}
