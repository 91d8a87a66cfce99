/*
 * The helper thread; see worker.h.  Jobs wait in a FIFO under a mutex; the
 * thread runs them in order and moves each to the finished list, then
 * signals the loop with event_active on an event of the loop's base (which
 * libevent makes thread-safe once evthread_use_pthreads() has been called);
 * the loop runs the done callbacks in the order the jobs were submitted.
 *
 * Must not depend on: protocol front ends, the broker core.
 */
#include "net/worker.h"

#include <pthread.h>
#include <stdlib.h>

struct job {
	tdm_work_fn work;
	tdm_done_fn done;
	void *arg;
	struct job *next;
};

struct tdm_worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct event *done_ev;          /* owned */
	struct job *todo, *todo_tail;   /* mu: waiting to run */
	struct job *ran, *ran_tail;     /* mu: run, done callback due */
	unsigned outstanding;           /* loop thread: submitted, done not yet called */
	int stop;                       /* mu */
	int stopped;                    /* loop thread: the thread is gone */
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
	struct tdm_worker *w = p;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && !w->todo)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->todo)
			break; /* stop requested and nothing left: queued jobs run first */
		struct job *j = w->todo;
		w->todo = j->next;
		if (!w->todo)
			w->todo_tail = NULL;
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
		w->outstanding--;
		j->done(j->arg); /* may submit more */
		free(j);
	}
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
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return NULL;
	}
	return w;
}

int tdm_worker_busy(const struct tdm_worker *w)
{
	return w->outstanding > 0;
}

int tdm_worker_submit(struct tdm_worker *w, tdm_work_fn work, tdm_done_fn done, void *arg)
{
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
	push(&w->todo, &w->todo_tail, j);
	w->outstanding++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void tdm_worker_free(struct tdm_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL); /* it runs what was queued before it leaves */
	w->stopped = 1;
	finished(-1, 0, w); /* their completions; what they submit runs inline */
	event_free(w->done_ev);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
