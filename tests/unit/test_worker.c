/*
 * Unit tests for src/net/worker.c, the background-job service: jobs of one
 * kind run in submission order on that kind's thread, never on the loop
 * thread; completions run on the loop thread, in order; a kind that is
 * stuck does not hold up another; stopping runs what was queued, and jobs
 * submitted afterwards run inline.  Run under ThreadSanitizer by the TSan
 * stage of scripts/test.sh.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "net/worker.h"

#define NJOBS 200

struct rec {
	pthread_t loop;           /* the loop thread */
	atomic_int ran[NJOBS];    /* work order: index + 1 */
	atomic_int ran_n;
	int done[NJOBS];          /* loop thread only */
	int done_n;
	int work_on_loop, done_off_loop;
	atomic_int gate;          /* kind 0's jobs spin until it is set */
};

struct job {
	struct rec *r;
	int i;
	int gated;
};

static void work(void *arg)
{
	struct job *j = arg;
	if (pthread_equal(pthread_self(), j->r->loop))
		j->r->work_on_loop = 1;
	while (j->gated && !atomic_load(&j->r->gate)) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	int k = atomic_fetch_add(&j->r->ran_n, 1);
	atomic_store(&j->r->ran[k], j->i + 1);
}

static void done(void *arg)
{
	struct job *j = arg;
	if (!pthread_equal(pthread_self(), j->r->loop))
		j->r->done_off_loop = 1;
	j->r->done[j->r->done_n++] = j->i;
}

/* Runs the loop until n completions arrived (bounded: 10 s). */
static void loop_until(struct event_base *base, struct rec *r, int n)
{
	for (int spins = 0; r->done_n < n && spins < 10000; spins++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

static struct event_base *new_base(void)
{
	evthread_use_pthreads();
	struct event_base *base = event_base_new();
	ck_assert_ptr_nonnull(base);
	return base;
}

START_TEST(fifo_per_kind_and_completions_on_loop)
{
	struct event_base *base = new_base();
	struct tdm_worker *w = tdm_worker_new(base, 2);
	struct rec *r = calloc(1, sizeof(*r));
	struct job *jobs = calloc(NJOBS, sizeof(*jobs));
	ck_assert_ptr_nonnull(w);
	r->loop = pthread_self();
	for (int i = 0; i < NJOBS; i++) {
		jobs[i] = (struct job){ r, i, 0 };
		ck_assert_int_eq(tdm_worker_submit(w, 1, work, done, &jobs[i]), 0);
	}
	ck_assert_uint_gt(tdm_worker_pending(w), 0);
	loop_until(base, r, NJOBS);
	ck_assert_int_eq(r->done_n, NJOBS);
	for (int i = 0; i < NJOBS; i++) {
		ck_assert_int_eq(atomic_load(&r->ran[i]), i + 1);
		ck_assert_int_eq(r->done[i], i);
	}
	ck_assert_int_eq(r->work_on_loop, 0);
	ck_assert_int_eq(r->done_off_loop, 0);
	ck_assert_uint_eq(tdm_worker_pending(w), 0);
	ck_assert_int_eq(tdm_worker_submit(w, 2, work, done, &jobs[0]), -1); /* no such kind */
	tdm_worker_free(w);
	event_base_free(base);
	free(jobs);
	free(r);
}
END_TEST

START_TEST(stuck_kind_does_not_hold_up_another)
{
	struct event_base *base = new_base();
	struct tdm_worker *w = tdm_worker_new(base, 2);
	struct rec *r = calloc(1, sizeof(*r));
	struct job slow = { r, 0, 1 }, fast = { r, 1, 0 };
	r->loop = pthread_self();
	ck_assert_int_eq(tdm_worker_submit(w, 0, work, done, &slow), 0);
	ck_assert_int_eq(tdm_worker_submit(w, 1, work, done, &fast), 0);
	loop_until(base, r, 1);
	ck_assert_int_eq(r->done_n, 1);
	ck_assert_int_eq(r->done[0], 1); /* kind 1 finished while kind 0 is stuck */
	atomic_store(&r->gate, 1);
	loop_until(base, r, 2);
	ck_assert_int_eq(r->done_n, 2);
	tdm_worker_free(w);
	event_base_free(base);
	free(r);
}
END_TEST

START_TEST(stop_runs_queued_jobs_then_inline)
{
	struct event_base *base = new_base();
	struct tdm_worker *w = tdm_worker_new(base, 3);
	struct rec *r = calloc(1, sizeof(*r));
	struct job jobs[20];
	r->loop = pthread_self();
	atomic_store(&r->gate, 1);
	for (int i = 0; i < 10; i++) {
		jobs[i] = (struct job){ r, i, 0 };
		ck_assert_int_eq(tdm_worker_submit(w, i % 3, work, done, &jobs[i]), 0);
	}
	tdm_worker_stop(w); /* no loop turn: stop itself runs the completions */
	ck_assert_int_eq(r->done_n, 10);
	ck_assert_uint_eq(tdm_worker_pending(w), 0);
	jobs[10] = (struct job){ r, 10, 0 };
	ck_assert_int_eq(tdm_worker_submit(w, 0, work, done, &jobs[10]), 0);
	ck_assert_int_eq(r->done_n, 11); /* ran inline, on this thread */
	ck_assert_int_eq(r->work_on_loop, 1);
	tdm_worker_stop(w); /* idempotent */
	tdm_worker_free(w);
	event_base_free(base);
	free(r);
}
END_TEST

/* A SIGTERM must never land on a helper (the loop thread blocks it while
 * it changes its handling at shutdown; test_shutdown's repeated SIGTERM). */
static atomic_int term_blocked = -1;

static void mask_work(void *arg)
{
	sigset_t cur;
	(void)arg;
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	atomic_store(&term_blocked, sigismember(&cur, SIGTERM) && sigismember(&cur, SIGINT));
}

static void mask_done(void *arg)
{
	*(int *)arg = 1;
}

START_TEST(helpers_take_no_signals)
{
	struct event_base *base = new_base();
	struct tdm_worker *w = tdm_worker_new(base, 1);
	int finished = 0;
	ck_assert_int_eq(tdm_worker_submit(w, 0, mask_work, mask_done, &finished), 0);
	for (int spins = 0; !finished && spins < 10000; spins++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	ck_assert_int_eq(finished, 1);
	ck_assert_int_eq(atomic_load(&term_blocked), 1);
	sigset_t cur;
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	ck_assert(!sigismember(&cur, SIGTERM)); /* the caller's own mask is as it was */
	tdm_worker_free(w);
	event_base_free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("jobs");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, fifo_per_kind_and_completions_on_loop);
	tcase_add_test(tc, stuck_kind_does_not_hold_up_another);
	tcase_add_test(tc, stop_runs_queued_jobs_then_inline);
	tcase_add_test(tc, helpers_take_no_signals);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
