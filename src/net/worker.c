/*
 * The background-job service; see worker.h.  One mutex guards every
 * kind's FIFO and the list of jobs that ran; each kind has its own
 * condition variable and thread.  A thread that finishes a job moves it
 * to the ran list and wakes the loop with event_active on an event of the
 * loop's base (thread-safe once evthread_use_pthreads() has been called);
 * the loop runs the done callbacks in the order the jobs finished, which
 * within one kind is submission order.
 *
 * Must not depend on: protocol front ends, the broker core.
 */
#include "net/worker.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

struct job {
	tdm_work_fn work;
	tdm_done_fn done;
	void *arg;
	struct job *next;
};

struct queue {
	struct job *head, *tail; /* mu: waiting to run */
	pthread_cond_t cv;
	pthread_t thread;
	int started;
};

struct tdm_worker {
	pthread_mutex_t mu;
	struct event *done_ev;     /* owned */
	struct job *ran, *ran_tail; /* mu: run, done callback due */
	struct queue *q;           /* owned: one per kind */
	int nkinds;
	int stop;                  /* mu */
	int stopped;               /* loop thread: the threads are gone */
	unsigned pending;          /* loop thread: submitted, done not yet run */
};

struct start {
	struct tdm_worker *w;
	struct queue *q;
};

static void push(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *run(void *p)
{
	struct start st = *(struct start *)p;
	struct tdm_worker *w = st.w;
	struct queue *q = st.q;
	free(p);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && !q->head)
			pthread_cond_wait(&q->cv, &w->mu);
		if (!q->head)
			break; /* stop requested and nothing left: queued jobs run first */
		struct job *j = q->head;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&w->mu);
		j->work(j->arg);
		pthread_mutex_lock(&w->mu);
		push(&w->ran, &w->ran_tail, j);
		event_active(w->done_ev, 0, 0);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Runs the done callbacks of the jobs that ran, in order. */
static void finished(evutil_socket_t fd, short what, void *p)
{
	(void)fd, (void)what;
	struct tdm_worker *w = p;
	pthread_mutex_lock(&w->mu);
	struct job *list = w->ran;
	w->ran = w->ran_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while (list) {
		struct job *j = list;
		list = j->next;
		w->pending--;
		j->done(j->arg); /* may submit more */
		free(j);
	}
}

/* The helper threads take no signals (they inherit the mask they are
 * created with): a SIGTERM must reach the loop thread, which blocks it
 * while it changes how stop signals are handled at shutdown; delivered to a
 * helper in that window, the default action would kill the process. */
static int start_thread(struct tdm_worker *w, struct queue *q)
{
	struct start *st = malloc(sizeof(*st));
	sigset_t all, old;
	int rc;
	if (!st)
		return -1;
	*st = (struct start){ w, q };
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&q->thread, NULL, run, st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		free(st);
		return -1;
	}
	q->started = 1;
	return 0;
}

struct tdm_worker *tdm_worker_new(struct event_base *base, int nkinds)
{
	struct tdm_worker *w = nkinds > 0 ? calloc(1, sizeof(*w)) : NULL;
	if (!w)
		return NULL;
	pthread_mutex_init(&w->mu, NULL);
	w->q = calloc((size_t)nkinds, sizeof(*w->q));
	w->done_ev = event_new(base, -1, 0, finished, w);
	if (!w->q || !w->done_ev)
		goto fail;
	w->nkinds = nkinds;
	for (int k = 0; k < nkinds; k++)
		pthread_cond_init(&w->q[k].cv, NULL);
	for (int k = 0; k < nkinds; k++)
		if (start_thread(w, &w->q[k]) < 0)
			goto fail;
	return w;
fail:
	tdm_worker_free(w);
	return NULL;
}

unsigned tdm_worker_pending(const struct tdm_worker *w)
{
	return w->pending;
}

int tdm_worker_submit(struct tdm_worker *w, int kind, tdm_work_fn work, tdm_done_fn done,
		      void *arg)
{
	if (kind < 0 || kind >= w->nkinds)
		return -1;
	if (w->stopped) { /* shutting down: here and now */
		work(arg);
		done(arg);
		return 0;
	}
	struct job *j = malloc(sizeof(*j));
	if (!j)
		return -1;
	*j = (struct job){ work, done, arg, NULL };
	pthread_mutex_lock(&w->mu);
	push(&w->q[kind].head, &w->q[kind].tail, j);
	w->pending++;
	pthread_cond_signal(&w->q[kind].cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void tdm_worker_stop(struct tdm_worker *w)
{
	if (!w || w->stopped)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	for (int k = 0; k < w->nkinds; k++)
		pthread_cond_signal(&w->q[k].cv);
	pthread_mutex_unlock(&w->mu);
	for (int k = 0; k < w->nkinds; k++)
		if (w->q[k].started) /* it runs what was queued before it leaves */
			pthread_join(w->q[k].thread, NULL);
	w->stopped = 1;
	if (w->done_ev)
		finished(-1, 0, w); /* their completions; what they submit runs inline */
}

void tdm_worker_free(struct tdm_worker *w)
{
	if (!w)
		return;
	tdm_worker_stop(w);
	if (w->done_ev)
		event_free(w->done_ev);
	if (w->q)
		for (int k = 0; k < w->nkinds; k++)
			pthread_cond_destroy(&w->q[k].cv);
	free(w->q);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
