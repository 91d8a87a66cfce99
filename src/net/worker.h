/*
 * The background-job service (Redis's bio.c): one FIFO and one helper
 * thread per kind of job, so a slow kind (creating 2000 partitions) never
 * holds up another (the journal's fsync).  The loop thread submits jobs;
 * a kind's thread runs them one after the other in submission order, and
 * each job's completion runs back on the loop thread, in the same order
 * within its kind (event_active from the helper; main calls
 * evthread_use_pthreads()).  Callers batch their own work (group commit)
 * while a job runs.  Core reaches it only through core/bg.h's hook.
 *
 * Must not depend on: protocol front ends, the broker core.
 */
#ifndef TANDEM_NET_WORKER_H
#define TANDEM_NET_WORKER_H

#include <event2/event.h>

typedef void (*tdm_work_fn)(void *arg); /* on the helper thread */
typedef void (*tdm_done_fn)(void *arg); /* back on the loop thread */

struct tdm_worker;

/* Starts nkinds helper threads (kinds 0..nkinds-1); NULL on failure. */
struct tdm_worker *tdm_worker_new(struct event_base *base, int nkinds);
/* Queues work(arg) for kind's thread; done(arg) runs on the loop
 * afterwards.  0, or -1 (ENOMEM, bad kind: nothing queued).  Once the
 * service is stopped, work and done run here and now. */
int tdm_worker_submit(struct tdm_worker *w, int kind, tdm_work_fn work, tdm_done_fn done,
		      void *arg);
/* Jobs submitted whose done callback has not run yet (all kinds). */
unsigned tdm_worker_pending(const struct tdm_worker *w);
/* Runs every queued job, stops the threads, then runs the pending done
 * callbacks here; whatever they submit runs inline.  Idempotent. */
void tdm_worker_stop(struct tdm_worker *w);
/* Stops (as above) and frees.  NULL is fine. */
void tdm_worker_free(struct tdm_worker *w);

#endif
