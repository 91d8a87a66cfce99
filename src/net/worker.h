/*
 * A helper thread for work that blocks (fsync): the loop thread submits a
 * job, the helper runs it, and its completion runs back on the loop thread
 * (event_active from the helper; main calls evthread_use_pthreads()).  One
 * job at a time: callers batch (group commit) while one runs.
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
/* Runs work(arg) on the helper, then done(arg) on the loop.  0, or -1 when
 * a job is still running (the caller retries from its done callback). */
int tdm_worker_submit(struct tdm_worker *w, tdm_work_fn work, tdm_done_fn done, void *arg);
int tdm_worker_busy(const struct tdm_worker *w);
/* Waits for a running job (its done callback runs here), stops the thread. */
void tdm_worker_free(struct tdm_worker *w);

#endif
