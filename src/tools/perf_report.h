/*
 * tandem-perf: what a run prints - the progress line every interval (stderr)
 * and, at the end, a human table and one machine-readable line
 * "result key=value ..." (stdout, last line).  perf_result_compute() is
 * where the counts are proven: per queue and producer it merges the
 * consumers' sequence bitmaps against what was published and confirmed.
 *
 * Must not depend on: any client library.
 */
#ifndef TANDEM_TOOLS_PERF_REPORT_H
#define TANDEM_TOOLS_PERF_REPORT_H

#include <stdio.h>

#include "tools/perf.h"

struct perf_result {
	uint64_t published, confirmed, nacked, unconfirmed;
	uint64_t received, foreign, redelivered;
	uint64_t expected, lost, dup, reordered, unexpected;
	int lost_producer;                  /* where the first loss was found, -1 none */
	uint64_t lost_published;            /* what that producer published */
	uint64_t first_lost, last_lost;     /* its lost seqs span */
	bool checked;        /* every queue had a consumer, so loss was checked */
	double publish_s;    /* start to last publish */
	double receive_s;    /* start to last receipt */
	double send_rate, recv_rate; /* msg/s */
	double blocked_s;    /* producers' time under connection.blocked, summed */
	struct perf_hist hist;
	int worker_errors;
	bool aborted;
	const char *status;  /* "ok", "lost", "dup", "unconfirmed", "error", "aborted" */
};

/* Fill r from the joined workers of run.  Returns 0 or -1 (out of memory). */
int perf_result_compute(struct perf_result *r, const struct perf_run *run);
/* Exit status for r: 0 only when nothing was lost, duplicated or left unconfirmed. */
int perf_result_exit_code(const struct perf_result *r);
void perf_report_final(FILE *out, const struct perf_result *r, const struct perf_run *run);

/* Progress line state: the totals at the previous line. */
struct perf_progress {
	uint64_t t_ns, published, received;
};
void perf_report_progress(FILE *out, struct perf_progress *p, const struct perf_run *run);

#endif
