/*
 * The helper thread; see worker.h.  A mutex and condition variable hand a
 * job over; completion is signalled with event_active on an event of the
 * loop's base, which libevent makes thread-safe once evthread_use_pthreads()
 * has been called.
 *
 * Must not depend on: protocol front ends, the broker core.
 */
#include "net/worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct tdm_worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct event *done_ev;  /* owned */
	tdm_work_fn work;       /* set while a job is queued or running */
	tdm_done_fn done;
	void *arg;
	int busy, ran, stop;
};

static void *run(void *p)
{
	struct tdm_worker *w = p;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && (!w->busy || w->ran))
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		tdm_work_fn work = w->work;
		void *arg = w->arg;
		pthread_mutex_unlock(&w->mu);
		work(arg);
		pthread_mutex_lock(&w->mu);
		w->ran = 1;
		event_active(w->done_ev, 0, 0);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void finished(evutil_socket_t fd, short what, void *p)
{
	(void)fd, (void)what;
	struct tdm_worker *w = p;
	pthread_mutex_lock(&w->mu);
	if (!w->busy || !w->ran) {
		pthread_mutex_unlock(&w->mu);
		return;
	}
	tdm_done_fn done = w->done;
	void *arg = w->arg;
	w->busy = w->ran = 0;
	pthread_mutex_unlock(&w->mu);
	done(arg); /* may submit the next job */
}

struct tdm_worker *tdm_worker_new(struct event_base *base)
{
	struct tdm_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->done_ev = event_new(base, -1, 0, finished, w);
	if (!w->done_ev || pthread_create(&w->thread, NULL, run, w) != 0) {
		if (w->done_ev)
			event_free(w->done_ev);
		free(w);
		return NULL;
	}
	return w;
}

int tdm_worker_busy(const struct tdm_worker *w)
{
	return w->busy;
}

int tdm_worker_submit(struct tdm_worker *w, tdm_work_fn work, tdm_done_fn done, void *arg)
{
	pthread_mutex_lock(&w->mu);
	if (w->busy) {
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	w->work = work;
	w->done = done;
	w->arg = arg;
	w->busy = 1;
	w->ran = 0;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void tdm_worker_free(struct tdm_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	while (w->busy && !w->ran) { /* let a running fsync finish */
		pthread_mutex_unlock(&w->mu);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&w->mu);
	}
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	finished(-1, 0, w); /* its completion, if it had not run yet */
	event_free(w->done_ev);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
