/*
 * tandem-perf, log mode: transactional producers (--transactional-id).
 * A producer runs transactions of --txn-records records back to back -
 * begin, produce, commit - after one init_transactions.  librdkafka's
 * delivery reports come when the broker took a record, before its
 * transaction is decided, so a transaction's records are confirmed
 * (perf_confirm) only once commit_transaction returned: the run counts
 * committed records only.  A transaction librdkafka says must be aborted is
 * aborted and its records nacked; a fatal error aborts the whole run.
 *
 * Must not depend on: tandemd's code; only librdkafka and tools/perf.h.
 */
#ifndef TANDEM_TOOLS_PERF_LOG_TXN_H
#define TANDEM_TOOLS_PERF_LOG_TXN_H

#include <librdkafka/rdkafka.h>

#include "tools/perf.h"

struct perf_txn {
	rd_kafka_t *rk;         /* borrowed from the producer */
	struct perf_worker *w;  /* borrowed */
	bool open;              /* begun and not yet committed or aborted */
	uint64_t first_seq;     /* the open transaction's first record */
	uint64_t records;       /* records produced in it */
	uint64_t committed, aborted; /* transactions ended so far */
};

/* The transactional.id of producer i: ID with one producer, ID-<i> with
 * several.  Returns 0, or -1 when buf is too small. */
int perf_txn_id(const struct perf_opts *o, int producer, char *buf, size_t len);

/* init_transactions (InitProducerId), bounded.  0, or -1 with w->err set. */
int perf_txn_init(struct perf_txn *t);

/* Before producing seq: begin a transaction unless one is open.  0 or -1. */
int perf_txn_before(struct perf_txn *t, uint64_t seq);

/* After a record was queued: count it and commit once the transaction holds
 * --txn-records.  0 or -1 (fatal: the run is aborting). */
int perf_txn_after(struct perf_txn *t);

/* Commit the open transaction, if any (the run's last one, or a full one):
 * retriable errors are retried until the run's hard deadline, an abortable
 * one aborts it and nacks its records.  0 or -1 (fatal). */
int perf_txn_commit(struct perf_txn *t);

#endif
