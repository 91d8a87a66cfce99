/*
 * A helper thread for work that blocks (fsync): the loop thread submits
 * jobs, the helper runs them one after the other in submission order, and
 * each one's completion runs back on the loop thread, in the same order
 * (event_active from the helper; main calls evthread_use_pthreads()).
 * Callers batch their own work (group commit) while a job runs.
 *
 * Must not depend on: protocol front ends, the broker core.
 */
#ifndef TANDEM_NET_WORKER_H
#define TANDEM_NET_WORKER_H

#include <event2/event.h>

typedef void (*tdm_work_fn)(void *arg); /* on the helper thread */
typedef void (*tdm_done_fn)(void *arg); /* back on the loop thread */

struct tdm_worker;

/* Starts the helper thread; NULL on failure. */
struct tdm_worker *tdm_worker_new(struct event_base *base);
/* Queues work(arg) for the helper; done(arg) runs on the loop afterwards.
 * 0, or -1 on ENOMEM (nothing queued). */
int tdm_worker_submit(struct tdm_worker *w, tdm_work_fn work, tdm_done_fn done, void *arg);
/* 1 while a submitted job's done callback has not run. */
int tdm_worker_busy(const struct tdm_worker *w);
/* Runs what is queued, stops the thread, then runs the pending done
 * callbacks here; jobs they submit run inline. */
void tdm_worker_free(struct tdm_worker *w);

#endif
