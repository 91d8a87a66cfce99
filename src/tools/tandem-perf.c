/*
 * tandem-perf: the benchmark client's main - one run from start to verdict.
 *
 *   set-up (mode declares queues/topics) -> consumers connect and subscribe
 *   -> producers connect -> common start instant -> publish for -z seconds or
 *   -C messages -> producers wait for their confirms -> wait until every
 *   confirmed (or sent) message was delivered to every consumed queue, or
 *   the drain timeout -> consumers stop -> counts verified -> summary.
 *
 * Every wait is bounded: a hard deadline (--max-time, or the duration plus
 * the drain timeout) aborts the run, shuts the workers' sockets if they do
 * not stop by themselves and exits non-zero.
 *
 * Must not depend on: any client library (the modes own those).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "tools/perf.h"
#include "tools/perf_report.h"

#define READY_TIMEOUT_S 15
#define JOIN_GRACE_S 10
#define STALL_S 10.0 /* drain gives up after this long with no delivery at all */
#define TICK_NS 50000000u

static const struct perf_mode *const perf_modes[] = { &perf_mode_amqp, &perf_mode_log };

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void *worker_main(void *arg)
{
	struct perf_worker *w = arg;
	const struct perf_mode *m = w->run->mode;
	char name[16];
	snprintf(name, sizeof(name), "%s-%d", w->producer ? "producer" : "consumer", w->id);
	pthread_setname_np(pthread_self(), name); /* top -H and perf show who burns the CPU */
	w->rc = w->producer ? m->producer(w) : m->consumer(w);
	atomic_store(&w->done, true);
	return NULL;
}

static int start_workers(struct perf_worker *ws, int n)
{
	for (int i = 0; i < n; i++) {
		if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
			snprintf(ws[i].err, sizeof(ws[i].err), "pthread_create failed");
			ws[i].rc = -1;
			atomic_store(&ws[i].done, true);
			return -1;
		}
		ws[i].started = true;
	}
	return 0;
}

/* Wait until every worker is ready; -1 if one failed or the wait ran out. */
static int wait_ready(struct perf_worker *ws, int n, const char *what)
{
	uint64_t until = perf_now_ns() + (uint64_t)READY_TIMEOUT_S * 1000000000u;
	for (;;) {
		int ready = 0;
		for (int i = 0; i < n; i++) {
			if (atomic_load(&ws[i].done)) {
				fprintf(stderr, "tandem-perf: %s %d failed: %s\n", what, i, ws[i].err);
				return -1;
			}
			ready += atomic_load(&ws[i].ready);
		}
		if (ready == n)
			return 0;
		if (perf_now_ns() > until || interrupted) {
			fprintf(stderr, "tandem-perf: %d of %d %ss not ready after %d s\n", n - ready, n, what,
				READY_TIMEOUT_S);
			return -1;
		}
		perf_sleep_until(perf_now_ns() + 5000000);
	}
}

static bool all_done(struct perf_worker *ws, int n)
{
	for (int i = 0; i < n; i++)
		if (ws[i].started && !atomic_load(&ws[i].done))
			return false;
	return true;
}

/* Join every started worker; one still stuck after the grace is
 * interrupted (its socket shut down), then given the grace again.
 * Returns -1 if a thread would not end (the caller must not free it). */
static int join_workers(struct perf_run *run, struct perf_worker *ws, int n)
{
	for (int round = 0; round < 2; round++) {
		uint64_t until = perf_now_ns() + (uint64_t)JOIN_GRACE_S * 1000000000u;
		while (!all_done(ws, n) && perf_now_ns() < until)
			perf_sleep_until(perf_now_ns() + 5000000);
		if (all_done(ws, n))
			break;
		atomic_store(&run->phase, PERF_ABORT);
		for (int i = 0; i < n; i++)
			if (ws[i].started && !atomic_load(&ws[i].done) && run->mode->interrupt)
				run->mode->interrupt(&ws[i]);
	}
	if (!all_done(ws, n))
		return -1;
	for (int i = 0; i < n; i++) {
		if (ws[i].started)
			pthread_join(ws[i].thread, NULL);
		ws[i].started = false;
	}
	return 0;
}

static uint64_t sum_received(const struct perf_run *run)
{
	uint64_t n = 0;
	for (int i = 0; i < run->n_consumers; i++)
		n += atomic_load(&run->consumers[i].received);
	return n;
}

/* Deliveries the consumed queues owe: each gets every confirmed message
 * (every sent one without confirms) of every producer. */
static uint64_t expected_deliveries(const struct perf_run *run)
{
	const struct perf_opts *o = run->opts;
	int consumed = run->n_consumers < o->queues ? run->n_consumers : o->queues;
	uint64_t per_queue = 0;
	for (int i = 0; i < run->n_producers; i++) {
		const struct perf_worker *w = &run->producers[i];
		per_queue += o->confirm ? w->pub.n_acked : atomic_load(&w->published);
	}
	return per_queue * (uint64_t)consumed;
}

static bool past_hard_deadline(struct perf_run *run)
{
	if (perf_now_ns() < run->t_hard_ns && !interrupted)
		return false;
	if (atomic_load(&run->phase) != PERF_ABORT) {
		fprintf(stderr, "tandem-perf: %s: aborting the run\n", interrupted ? "interrupted" : "hard time limit");
		atomic_store(&run->phase, PERF_ABORT);
	}
	return true;
}

static void tick(struct perf_run *run, struct perf_progress *pg, uint64_t *next_line)
{
	const struct perf_opts *o = run->opts;
	perf_sleep_until(perf_now_ns() + TICK_NS);
	if (o->interval > 0 && perf_now_ns() >= *next_line) {
		perf_report_progress(stderr, pg, run);
		*next_line += (uint64_t)(o->interval * 1e9);
	}
}

static int alloc_workers(struct perf_run *run)
{
	const struct perf_opts *o = run->opts;
	run->n_producers = o->producers;
	run->n_consumers = o->consumers;
	run->producers = calloc((size_t)o->producers + 1, sizeof(struct perf_worker));
	run->consumers = calloc((size_t)o->consumers + 1, sizeof(struct perf_worker));
	if (!run->producers || !run->consumers)
		return -1;
	for (int i = 0; i < o->producers; i++) {
		struct perf_worker *w = &run->producers[i];
		w->run = run;
		w->id = i;
		w->producer = true;
		atomic_init(&w->fd, -1);
	}
	for (int i = 0; i < o->consumers; i++) {
		struct perf_worker *w = &run->consumers[i];
		w->run = run;
		w->id = i;
		w->queue = i % o->queues;
		atomic_init(&w->fd, -1);
		perf_hist_init(&w->hist);
		w->sub = calloc((size_t)o->producers + 1, sizeof(*w->sub));
		if (!w->sub)
			return -1;
	}
	return 0;
}

static void free_workers(struct perf_run *run)
{
	for (int i = 0; run->producers && i < run->n_producers; i++)
		perf_pub_free(&run->producers[i].pub);
	for (int i = 0; run->consumers && i < run->n_consumers; i++) {
		for (int p = 0; run->consumers[i].sub && p < run->n_producers; p++)
			perf_sub_free(&run->consumers[i].sub[p]);
		free(run->consumers[i].sub);
	}
	free(run->producers);
	free(run->consumers);
}

int main(int argc, char **argv)
{
	struct perf_opts o;
	struct perf_run run;
	struct perf_result *res = NULL;
	char err[512];
	int rc = 3;
	bool threads_stuck = false, declared = false;

	memset(&run, 0, sizeof(run));
	int pr = perf_opts_parse(&o, argc, argv, err, sizeof(err));
	if (pr != 0) {
		if (pr < 0)
			fprintf(stderr, "tandem-perf: %s\n", err);
		perf_opts_free(&o);
		return pr < 0 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(perf_modes) / sizeof(perf_modes[0]) && !run.mode; i++)
		if (!strcmp(perf_modes[i]->name, o.mode))
			run.mode = perf_modes[i];
	if (!run.mode) {
		fprintf(stderr, "tandem-perf: unknown mode '%s' (amqp, log)\n", o.mode);
		perf_opts_free(&o);
		return 2;
	}
	if (run.mode->validate && run.mode->validate(&o, err, sizeof(err)) < 0) {
		fprintf(stderr, "tandem-perf: %s\n", err);
		perf_opts_free(&o);
		return 2;
	}
	run.opts = &o;
	if (getrandom(&run.run_id, sizeof(run.run_id), 0) != sizeof(run.run_id))
		run.run_id = (uint32_t)perf_now_ns() ^ (uint32_t)getpid();
	atomic_init(&run.phase, PERF_CONNECT);
	run.t_hard_ns = perf_now_ns() + (uint64_t)(o.max_time * 1e9);
	run.t_publish_end_ns = UINT64_MAX;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (run.mode->setup(&run, err, sizeof(err)) < 0) {
		fprintf(stderr, "tandem-perf: set-up: %s\n", err);
		goto out;
	}
	declared = true;
	if (o.declare_only) {
		printf("result mode=%s declared_queues=%d status=ok\n", o.mode, o.queues);
		rc = 0;
		goto out;
	}
	if (alloc_workers(&run) < 0) {
		fprintf(stderr, "tandem-perf: out of memory\n");
		goto out;
	}

	/* Consumers first, so the first message finds its consumer waiting. */
	if (start_workers(run.consumers, run.n_consumers) < 0 || wait_ready(run.consumers, run.n_consumers, "consumer") < 0 ||
	    start_workers(run.producers, run.n_producers) < 0 || wait_ready(run.producers, run.n_producers, "producer") < 0) {
		atomic_store(&run.phase, PERF_ABORT);
		goto join;
	}

	uint64_t start = perf_now_ns();
	if (o.duration > 0) {
		run.t_publish_end_ns = start + (uint64_t)(o.duration * 1e9);
		uint64_t bound = run.t_publish_end_ns + (uint64_t)((2 * o.drain_timeout + 30) * 1e9);
		if (bound < run.t_hard_ns)
			run.t_hard_ns = bound;
	}
	atomic_store(&run.t_start_ns, start);
	atomic_store(&run.phase, PERF_RUN);

	struct perf_progress pg = { .t_ns = start };
	uint64_t next_line = start + (uint64_t)(o.interval * 1e9);
	while (!all_done(run.producers, run.n_producers) && !past_hard_deadline(&run))
		tick(&run, &pg, &next_line);

	/* Drain: every message the broker took must reach every consumed queue. */
	if (atomic_load(&run.phase) == PERF_RUN)
		atomic_store(&run.phase, PERF_DRAIN);
	if (run.n_consumers > 0 && atomic_load(&run.phase) == PERF_DRAIN) {
		uint64_t want = expected_deliveries(&run);
		uint64_t until = perf_now_ns() + (uint64_t)(o.drain_timeout * 1e9);
		uint64_t got = sum_received(&run), last_progress = perf_now_ns();
		while (got < want && perf_now_ns() < until && !past_hard_deadline(&run) &&
		       !all_done(run.consumers, run.n_consumers)) {
			tick(&run, &pg, &next_line);
			uint64_t now_got = sum_received(&run);
			if (now_got != got)
				last_progress = perf_now_ns();
			else if (perf_now_ns() - last_progress > (uint64_t)(STALL_S * 1e9))
				break;
			got = now_got;
		}
		if (got < want)
			fprintf(stderr, "tandem-perf: drain ended with %llu of %llu deliveries\n", (unsigned long long)got,
				(unsigned long long)want);
	}
	if (atomic_load(&run.phase) != PERF_ABORT)
		atomic_store(&run.phase, PERF_STOP);

join:
	if (join_workers(&run, run.producers, run.n_producers) < 0 ||
	    join_workers(&run, run.consumers, run.n_consumers) < 0) {
		fprintf(stderr, "tandem-perf: a worker did not stop; exiting without cleanup\n");
		threads_stuck = true;
	}
	for (int i = 0; i < run.n_producers; i++)
		if (run.producers[i].rc)
			fprintf(stderr, "tandem-perf: %s\n", run.producers[i].err);
	for (int i = 0; i < run.n_consumers; i++)
		if (run.consumers[i].rc)
			fprintf(stderr, "tandem-perf: %s\n", run.consumers[i].err);
	if (atomic_load(&run.t_start_ns) && !threads_stuck) {
		res = malloc(sizeof(*res));
		if (!res || perf_result_compute(res, &run) < 0) {
			fprintf(stderr, "tandem-perf: out of memory computing the result\n");
			rc = 3;
		} else {
			perf_report_final(stdout, res, &run);
			rc = perf_result_exit_code(res);
		}
	} else {
		printf("result mode=%s status=%s\n", o.mode, threads_stuck ? "aborted" : "error");
		rc = 3;
	}
	fflush(stdout);
	if (threads_stuck)
		_exit(rc); /* workers still use run: do not free under them */
out:
	if (run.mode && run.mode->cleanup && run.mode->cleanup(&run, !declared || o.no_cleanup || o.declare_only, err, sizeof(err)) < 0)
		fprintf(stderr, "tandem-perf: cleanup: %s\n", err);
	free(res);
	free_workers(&run);
	perf_opts_free(&o);
	return rc;
}
