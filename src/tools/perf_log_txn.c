/*
 * tandem-perf, log mode: transactional producers (see perf_log_txn.h).
 * Must not depend on: tandemd's code; only librdkafka and tools/perf.h.
 */
#include <inttypes.h>
#include <stdio.h>

#include "tools/perf_log_txn.h"

#define TXN_TIMEOUT_MS 30000

int perf_txn_id(const struct perf_opts *o, int producer, char *buf, size_t len)
{
	int n = o->producers > 1 ? snprintf(buf, len, "%s-%d", o->transactional_id, producer)
				 : snprintf(buf, len, "%s", o->transactional_id);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Every transactional call waits at most TXN_TIMEOUT_MS and never past the
 * run's hard deadline (but long enough to get an answer at all). */
static int txn_timeout_ms(const struct perf_run *run)
{
	uint64_t now = perf_now_ns();
	uint64_t left = run->t_hard_ns > now ? (run->t_hard_ns - now) / 1000000u : 0;
	if (left > TXN_TIMEOUT_MS)
		return TXN_TIMEOUT_MS;
	return left < 100 ? 100 : (int)left;
}

/* A fatal error (or one we cannot get past): say what, abort the run. */
static int txn_fatal(struct perf_txn *t, const char *call, rd_kafka_error_t *e)
{
	struct perf_worker *w = t->w;
	snprintf(w->err, sizeof(w->err), "producer %d: transaction %" PRIu64 ": %s failed%s, the run ends: %s", w->id,
		 t->committed + t->aborted + 1, call, rd_kafka_error_is_fatal(e) ? " (fatal)" : "",
		 rd_kafka_error_string(e));
	rd_kafka_error_destroy(e);
	atomic_store(&w->run->phase, PERF_ABORT);
	return -1;
}

/* The open transaction ended: its records are acked (committed) or nacked. */
static void txn_settle(struct perf_txn *t, bool committed)
{
	if (t->records)
		perf_confirm(t->w, t->first_seq + t->records - 1, true, committed);
	if (committed)
		t->committed++;
	else
		t->aborted++;
	t->open = false;
	t->records = 0;
}

int perf_txn_init(struct perf_txn *t)
{
	rd_kafka_error_t *e = rd_kafka_init_transactions(t->rk, txn_timeout_ms(t->w->run));
	return e ? txn_fatal(t, "init_transactions", e) : 0;
}

int perf_txn_before(struct perf_txn *t, uint64_t seq)
{
	if (t->open)
		return 0;
	rd_kafka_error_t *e = rd_kafka_begin_transaction(t->rk);
	if (e)
		return txn_fatal(t, "begin_transaction", e);
	t->open = true;
	t->first_seq = seq;
	t->records = 0;
	return 0;
}

int perf_txn_after(struct perf_txn *t)
{
	t->records++;
	return t->records >= t->w->run->opts->txn_records ? perf_txn_commit(t) : 0;
}

static int txn_abort(struct perf_txn *t, rd_kafka_error_t *why)
{
	if (!t->aborted)
		fprintf(stderr, "tandem-perf: producer %d: transaction %" PRIu64 " aborted: %s\n", t->w->id,
			t->committed + 1, rd_kafka_error_string(why));
	rd_kafka_error_destroy(why);
	rd_kafka_error_t *e = rd_kafka_abort_transaction(t->rk, txn_timeout_ms(t->w->run));
	if (e)
		return txn_fatal(t, "abort_transaction", e);
	txn_settle(t, false);
	return 0;
}

int perf_txn_commit(struct perf_txn *t)
{
	if (!t->open)
		return 0;
	for (;;) {
		rd_kafka_error_t *e = rd_kafka_commit_transaction(t->rk, txn_timeout_ms(t->w->run));
		if (!e) {
			txn_settle(t, true);
			return 0;
		}
		if (rd_kafka_error_txn_requires_abort(e))
			return txn_abort(t, e);
		if (!rd_kafka_error_is_retriable(e) || perf_now_ns() >= t->w->run->t_hard_ns)
			return txn_fatal(t, "commit_transaction", e);
		rd_kafka_error_destroy(e);
	}
}
