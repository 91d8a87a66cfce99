/*
 * Background jobs as core sees them: work that blocks (an fsync, creating
 * a topic's folders) runs off the loop thread, and its completion comes
 * back on the loop thread, where all broker state lives.  The service
 * behind the hook (threads, waking the loop) is main's: src/net/worker.c,
 * Redis's bio.c pattern, one FIFO and thread per kind of job, so a slow
 * kind never holds up another (2000 new partitions do not delay the
 * journal's fsync).  Within a kind, jobs run and complete in the order
 * they were submitted.
 *
 * Core keeps only this hook, so it needs neither libevent nor pthreads.
 * A job's work must touch nothing the loop thread touches meanwhile (the
 * callers hand over objects nobody else sees until done runs).
 *
 * Must not depend on: libevent, pthreads, protocol front ends.
 */
#ifndef TANDEM_CORE_BG_H
#define TANDEM_CORE_BG_H

enum tdm_bg_kind {
	TDM_BG_JOURNAL, /* the AMQP queue journal's fsyncs */
	TDM_BG_LOG,     /* topic partitions' fsyncs (flush.ms, acks=all) */
	TDM_BG_FILES,   /* creating topics' and partitions' folders and files */
	TDM_BG_KINDS
};

typedef void (*tdm_bg_fn)(void *arg);

struct tdm_bg {
	/* Queues work(arg) for kind's thread; done(arg) runs on the loop
	 * thread afterwards.  0, or -1 when the job was not taken. */
	int (*submit)(void *ctx, enum tdm_bg_kind kind, tdm_bg_fn work, tdm_bg_fn done,
		      void *arg);
	void *ctx;
};

/* Runs work then done: through bg when it takes the job (bg and its submit
 * may be NULL), else here and now, on the calling thread. */
static inline void tdm_bg_run(const struct tdm_bg *bg, enum tdm_bg_kind kind, tdm_bg_fn work,
			      tdm_bg_fn done, void *arg)
{
	if (!bg || !bg->submit || bg->submit(bg->ctx, kind, work, done, arg) < 0) {
		work(arg);
		done(arg);
	}
}

#endif
