/*
 * tandem-perf, log mode: produce and consume through the Kafka protocol with
 * librdkafka.  Set-up creates the topic with --partitions through the admin
 * API (CreateTopics; the broker's auto-create is not relied on) and cleanup
 * deletes it (DeleteTopics) unless --no-cleanup.
 *
 * Each producer is its own rd_kafka_t: records carry the usual 32-byte stamp
 * at the start of the value (run id, producer id, seq, send time), are
 * copied into librdkafka's queue (RD_KAFKA_MSG_F_COPY) and spread over the
 * partitions round robin; librdkafka's delivery reports are the confirms
 * (acks=0 reports on send), so a record counts as expected once the broker
 * took it, and -c bounds the records in flight (queue.buffering.max.messages).
 *
 * Each consumer is its own rd_kafka_t: without --group it assign()s the
 * partitions p with p mod consumers == its id, from the beginning; with
 * --group NAME all consumers subscribe() as that group (auto.offset.reset
 * earliest) and the broker's coordinator splits the partitions.  Records are
 * taken in batches of up to 10000 (whatever librdkafka has queued), so the
 * client's per-message overhead does not hide the broker's.  With
 * --consume-later a consumer connects first but assigns only once every
 * producer is done, so it reads the whole log from the beginning (from the
 * page cache) and its rate is measured from that moment.
 *
 * --idempotence sets enable.idempotence; --transactional-id makes every
 * producer transactional (perf_log_txn.c: records count once their
 * transaction committed).  Both need --acks all, as Kafka's idempotence
 * does.  Consumers read with --isolation-level (librdkafka's default,
 * read_committed, unless told otherwise).
 *
 * --tls sets security.protocol=ssl (ssl.ca.location = --cacert, which also
 * turns on librdkafka's host name check; --cert / --key for client auth).
 *
 * Must not depend on: tandemd's code; only librdkafka and tools/perf.h.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "tools/perf.h"
#include "tools/perf_log_txn.h"

#define ADMIN_TIMEOUT_MS 15000
#define POLL_MS 100
#define CONSUME_BATCH 10000

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Bootstrap address: host:port as given, or a kafka:// / amqp:// URI's host:port. */
static void bootstrap(const struct perf_opts *o, char *buf, size_t len)
{
	const char *s = o->uri;
	const char *p = strstr(s, "://");
	if (p) {
		s = p + 3;
		const char *at = strchr(s, '@');
		if (at)
			s = at + 1;
	}
	size_t n = strcspn(s, "/");
	snprintf(buf, len, "%.*s", (int)n, s);
}

static int conf_set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errlen)
{
	char e[256];
	if (rd_kafka_conf_set(c, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK)
		return fail(err, errlen, "librdkafka %s=%s: %s", k, v, e);
	return 0;
}

static int conf_setf(rd_kafka_conf_t *c, const char *k, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int conf_setf(rd_kafka_conf_t *c, const char *k, char *err, size_t errlen, const char *fmt, ...)
{
	char v[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	return conf_set(c, k, v, err, errlen);
}

/* librdkafka logs connection trouble itself; keep it short and on stderr. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 4)
		fprintf(stderr, "tandem-perf: librdkafka %s: %s\n", fac, buf);
}

static rd_kafka_conf_t *base_conf(const struct perf_opts *o, char *err, size_t errlen)
{
	char bs[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	bootstrap(o, bs, sizeof(bs));
	if (conf_set(c, "bootstrap.servers", bs, err, errlen) < 0 ||
	    conf_set(c, "client.id", "tandem-perf", err, errlen) < 0 ||
	    conf_set(c, "log.connection.close", "false", err, errlen) < 0) {
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	if (o->tls &&
	    (conf_set(c, "security.protocol", "ssl", err, errlen) < 0 ||
	     (*o->cacert && conf_set(c, "ssl.ca.location", o->cacert, err, errlen) < 0) ||
	     (!*o->cacert &&
	      (conf_set(c, "enable.ssl.certificate.verification", "false", err, errlen) < 0 ||
	       conf_set(c, "ssl.endpoint.identification.algorithm", "none", err, errlen) < 0)) ||
	     (*o->cert && (conf_set(c, "ssl.certificate.location", o->cert, err, errlen) < 0 ||
			   conf_set(c, "ssl.key.location", o->key, err, errlen) < 0)))) {
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(c, log_cb);
	return c;
}

static int log_mode_validate(const struct perf_opts *o, char *err, size_t errlen)
{
	if (o->queues != 1)
		return fail(err, errlen, "--fanout is an AMQP option; log mode uses --partitions");
	if (o->partitions < 1)
		return fail(err, errlen, "--partitions must be at least 1");
	if (o->replication_factor == 0)
		return fail(err, errlen, "--replication-factor must be at least 1 (or -1)");
	if (strcmp(o->acks, "0") && strcmp(o->acks, "1") && strcmp(o->acks, "all") && strcmp(o->acks, "-1"))
		return fail(err, errlen, "--acks: 0, 1 or all");
	if (strcmp(o->compression, "none") && strcmp(o->compression, "gzip") && strcmp(o->compression, "snappy") &&
	    strcmp(o->compression, "lz4") && strcmp(o->compression, "zstd"))
		return fail(err, errlen, "--compression: none, gzip (or snappy, lz4, zstd)");
	if (!*o->topic || strlen(o->topic) > 249)
		return fail(err, errlen, "--topic: 1 to 249 characters");
	if ((o->idempotence || *o->transactional_id) && strcmp(o->acks, "all") && strcmp(o->acks, "-1"))
		return fail(err, errlen, "--idempotence and --transactional-id need --acks all (Kafka's idempotence"
					 " requires acks=all)");
	char id[256];
	if (*o->transactional_id && perf_txn_id(o, o->producers - 1, id, sizeof(id)) < 0)
		return fail(err, errlen, "--transactional-id: at most %zu characters", sizeof(id) - 8);
	if (strcmp(o->isolation_level, "read_committed") && strcmp(o->isolation_level, "read_uncommitted"))
		return fail(err, errlen, "--isolation-level: read_committed or read_uncommitted");
	return 0;
}

struct log_setup {
	rd_kafka_t *admin; /* owned */
};

/* Wait for one admin result on q; returns the event or NULL. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
	for (int waited = 0; waited < ADMIN_TIMEOUT_MS + 2000; waited += POLL_MS) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, POLL_MS);
		if (!ev)
			continue;
		if (rd_kafka_event_type(ev) == type)
			return ev;
		rd_kafka_event_destroy(ev);
	}
	return NULL;
}

/* Every partition of topic has a leader and all its replicas in sync (a
 * replicated topic's followers start fetching a moment after it is made:
 * the run measures the steady state, not that start).  0, or -1 after
 * ADMIN_TIMEOUT_MS. */
static int wait_in_sync(rd_kafka_t *rk, const char *topic, int partitions)
{
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	int rc = -1;
	for (int waited = 0; t && rc < 0 && waited < ADMIN_TIMEOUT_MS; waited += POLL_MS) {
		const struct rd_kafka_metadata *md = NULL;
		if (rd_kafka_metadata(rk, 0, t, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		    md->topic_cnt == 1 && md->topics[0].partition_cnt == partitions) {
			int ok = 1;
			for (int i = 0; i < partitions; i++) {
				const rd_kafka_metadata_partition_t *p = &md->topics[0].partitions[i];
				ok &= p->leader >= 0 && p->isr_cnt == p->replica_cnt;
			}
			rc = ok ? 0 : -1;
		}
		if (md)
			rd_kafka_metadata_destroy(md);
		if (rc < 0)
			usleep(POLL_MS * 1000);
	}
	if (t)
		rd_kafka_topic_destroy(t);
	return rc;
}

static int log_mode_setup(struct perf_run *run, char *err, size_t errlen)
{
	const struct perf_opts *o = run->opts;
	struct log_setup *st = calloc(1, sizeof(*st));
	char e[512];
	int rc = -1;
	if (!st)
		return fail(err, errlen, "out of memory");
	run->mode_state = st;
	rd_kafka_conf_t *c = base_conf(o, err, errlen);
	if (!c)
		return -1;
	st->admin = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
	if (!st->admin) {
		rd_kafka_conf_destroy(c);
		return fail(err, errlen, "rd_kafka_new: %s", e);
	}
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(o->topic, o->partitions, o->replication_factor, e,
							sizeof(e));
	if (!nt)
		return fail(err, errlen, "topic %s: %s", o->topic, e);
	rd_kafka_queue_t *q = rd_kafka_queue_new(st->admin);
	rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(st->admin, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(ao, ADMIN_TIMEOUT_MS, e, sizeof(e));
	rd_kafka_CreateTopics(st->admin, &nt, 1, ao, q);
	rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
	if (!ev) {
		fail(err, errlen, "CreateTopics %s: no answer from %s", o->topic, o->uri);
	} else if (rd_kafka_event_error(ev)) {
		fail(err, errlen, "CreateTopics %s: %s", o->topic, rd_kafka_event_error_string(ev));
	} else {
		size_t n = 0;
		const rd_kafka_topic_result_t **tr =
			rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
		rd_kafka_resp_err_t te = n ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
		if (te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			if (!o->declare_only)
				fprintf(stderr, "tandem-perf: topic %s already exists (its records count as foreign)\n",
					o->topic);
			rc = 0;
		} else if (te) {
			const char *es = rd_kafka_topic_result_error_string(tr[0]);
			fail(err, errlen, "CreateTopics %s: %s", o->topic, es ? es : rd_kafka_err2str(te));
		} else {
			rc = 0;
		}
	}
	if (rc == 0 && o->replication_factor != 1 && wait_in_sync(st->admin, o->topic, o->partitions))
		rc = fail(err, errlen, "topic %s: replicas not in sync within %d ms", o->topic,
			  ADMIN_TIMEOUT_MS);
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	return rc;
}

static int log_mode_cleanup(struct perf_run *run, bool keep, char *err, size_t errlen)
{
	const struct perf_opts *o = run->opts;
	struct log_setup *st = run->mode_state;
	int rc = 0;
	if (!st)
		return 0;
	if (st->admin && !keep) {
		rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(o->topic);
		rd_kafka_queue_t *q = rd_kafka_queue_new(st->admin);
		rd_kafka_DeleteTopics(st->admin, &dt, 1, NULL, q);
		rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
		if (!ev) {
			rc = fail(err, errlen, "DeleteTopics %s: no answer", o->topic);
		} else {
			size_t n = 0;
			const rd_kafka_topic_result_t **tr =
				rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
			if (rd_kafka_event_error(ev))
				rc = fail(err, errlen, "DeleteTopics %s: %s", o->topic, rd_kafka_event_error_string(ev));
			else if (n && rd_kafka_topic_result_error(tr[0]))
				rc = fail(err, errlen, "DeleteTopics %s: %s", o->topic,
					  rd_kafka_err2str(rd_kafka_topic_result_error(tr[0])));
			rd_kafka_event_destroy(ev);
		}
		rd_kafka_queue_destroy(q);
		rd_kafka_DeleteTopic_destroy(dt);
	}
	if (st->admin)
		rd_kafka_destroy(st->admin);
	free(st);
	run->mode_state = NULL;
	return rc;
}

/* ---- producer ---- */

struct log_producer {
	struct perf_worker *w; /* borrowed */
	bool txn;              /* transactional: records are confirmed by their commit, not here */
	rd_kafka_resp_err_t first_err;
	uint64_t failed;
};

/* Delivery report: the broker's answer for one record (opaque = seq). */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct log_producer *lp = opaque;
	uint64_t seq = (uint64_t)(uintptr_t)m->_private;
	if (m->err) {
		if (!lp->failed++)
			lp->first_err = m->err;
	}
	if (!lp->txn)
		perf_confirm(lp->w, seq, false, m->err == RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* The producer's configuration beyond base_conf(); NULL with w->err. */
static rd_kafka_conf_t *producer_conf(struct perf_worker *w)
{
	const struct perf_opts *o = w->run->opts;
	char *err = w->err;
	size_t el = sizeof(w->err);
	char id[256];
	bool txn = *o->transactional_id != '\0';
	rd_kafka_conf_t *c = base_conf(o, err, el);
	if (!c)
		return NULL;
	if (conf_set(c, "acks", strcmp(o->acks, "all") ? o->acks : "-1", err, el) < 0 ||
	    conf_set(c, "compression.codec", o->compression, err, el) < 0 ||
	    conf_setf(c, "linger.ms", err, el, "%g", o->linger_ms) < 0 ||
	    conf_setf(c, "batch.num.messages", err, el, "%d", o->batch_num) < 0 ||
	    conf_setf(c, "batch.size", err, el, "%" PRIu64, o->batch_size) < 0 ||
	    conf_setf(c, "queue.buffering.max.messages", err, el, "%d", o->confirm) < 0 ||
	    conf_set(c, "queue.buffering.max.kbytes", "2097151", err, el) < 0 ||
	    conf_set(c, "enable.idempotence", o->idempotence || txn ? "true" : "false", err, el) < 0 ||
	    conf_set(c, "message.max.bytes", "134217728", err, el) < 0 ||
	    (txn && (perf_txn_id(o, w->id, id, sizeof(id)) < 0 ||
		     conf_set(c, "transactional.id", id, err, el) < 0))) {
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	return c;
}

/* A record was refused by librdkafka.  A fatal error (an idempotent or
 * transactional producer fenced or out of sequence) ends the whole run. */
static void produce_failed(struct perf_worker *w, rd_kafka_t *rk, rd_kafka_resp_err_t err)
{
	char why[256];
	if (err != RD_KAFKA_RESP_ERR__FATAL) {
		fail(w->err, sizeof(w->err), "producer %d: produce: %s", w->id, rd_kafka_err2str(err));
		return;
	}
	rd_kafka_fatal_error(rk, why, sizeof(why));
	fail(w->err, sizeof(w->err), "producer %d: fatal error, the run ends: %s", w->id, why);
	atomic_store(&w->run->phase, PERF_ABORT);
}

static int log_mode_producer(struct perf_worker *w)
{
	const struct perf_opts *o = w->run->opts;
	struct log_producer lp = { .w = w, .txn = *o->transactional_id != '\0' };
	struct perf_txn txn = { .w = w };
	char e[512];
	uint8_t *buf = NULL;
	rd_kafka_t *rk = NULL;
	int rc = -1;
	rd_kafka_conf_t *c = producer_conf(w);
	if (!c)
		return -1;
	rd_kafka_conf_set_dr_msg_cb(c, dr_msg_cb);
	rd_kafka_conf_set_opaque(c, &lp);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
	if (!rk) {
		rd_kafka_conf_destroy(c);
		return fail(w->err, sizeof(w->err), "producer %d: rd_kafka_new: %s", w->id, e);
	}
	/* connected and the topic known before the clock starts */
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
	rd_kafka_resp_err_t me = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	if (me) {
		fail(w->err, sizeof(w->err), "producer %d: metadata for %s: %s", w->id, o->topic, rd_kafka_err2str(me));
		goto out;
	}
	rd_kafka_metadata_destroy(md);
	txn.rk = rk;
	if (lp.txn && perf_txn_init(&txn) < 0)
		goto out;
	if (!(buf = calloc(1, (size_t)o->size))) {
		fail(w->err, sizeof(w->err), "out of memory");
		goto out;
	}
	/* not zeros behind the stamp, or gzip would shrink every record to nothing */
	uint64_t x = 0x9e3779b97f4a7c15u ^ (uint64_t)w->id;
	for (uint64_t i = PERF_STAMP_SIZE; i < o->size; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)('a' + x % 26); /* letters: gzip gets text-like ratios, not 100:1 */
	}
	atomic_store(&w->ready, true);
	while (atomic_load(&w->run->phase) == PERF_CONNECT)
		perf_sleep_until(perf_now_ns() + 1000000);

	uint64_t seq = 0, due;
	int32_t part = (int32_t)(w->id % o->partitions);
	while (perf_producer_next(w, seq, &due)) {
		if (due && due > perf_now_ns()) {
			rd_kafka_poll(rk, 0);
			perf_sleep_until(due);
		}
		if (lp.txn && perf_txn_before(&txn, seq) < 0)
			goto out;
		perf_stamp(w, buf, seq);
		rd_kafka_resp_err_t err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_PARTITION(part),
			RD_KAFKA_V_VALUE(buf, (size_t)o->size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			/* -c records in flight: not sent, so not published; wait for reports */
			atomic_fetch_sub_explicit(&w->published, 1, memory_order_relaxed);
			rd_kafka_poll(rk, 1);
			continue;
		}
		if (err) {
			atomic_fetch_sub_explicit(&w->published, 1, memory_order_relaxed);
			produce_failed(w, rk, err);
			goto out;
		}
		seq++;
		if (lp.txn && perf_txn_after(&txn) < 0)
			goto out;
		if (o->partitions > 1 && ++part >= o->partitions)
			part = 0;
		if ((seq & 1023) == 0)
			rd_kafka_poll(rk, 0);
	}
	/* the last transaction commits with what it has */
	if (lp.txn && perf_txn_commit(&txn) < 0)
		goto out;
	/* every record answered (or the drain timeout) */
	uint64_t until = perf_now_ns() + (uint64_t)(o->drain_timeout * 1e9);
	while (rd_kafka_outq_len(rk) > 0 && perf_now_ns() < until && !perf_aborting(w->run))
		rd_kafka_flush(rk, POLL_MS);
	rd_kafka_poll(rk, 0);
	/* the publish clock stops at the broker's last answer, not at the last
	 * record handed to librdkafka's queue (up to -c records earlier) */
	if (rd_kafka_outq_len(rk) == 0)
		w->t_last_ns = perf_now_ns();
	if (lp.failed)
		fprintf(stderr, "tandem-perf: producer %d: %" PRIu64 " records failed, first: %s\n", w->id, lp.failed,
			rd_kafka_err2str(lp.first_err));
	if (lp.txn)
		fprintf(stderr, "tandem-perf: producer %d: %" PRIu64 " transactions committed, %" PRIu64 " aborted\n",
			w->id, txn.committed, txn.aborted);
	rc = 0;
out:
	if (rk) {
		rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(rk, 0);
		rd_kafka_destroy(rk);
	}
	free(buf);
	return rc;
}

/* ---- consumer ---- */

/* Without --group: assign this consumer's share of the partitions from the
 * beginning.  Returns the number assigned, -1 on error. */
static int assign_share(rd_kafka_t *rk, struct perf_worker *w)
{
	const struct perf_opts *o = w->run->opts;
	int n = 0;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(o->partitions);
	for (int p = w->id; p < o->partitions; p += w->run->n_consumers, n++)
		rd_kafka_topic_partition_list_add(l, o->topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_resp_err_t err = rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (err)
		return fail(w->err, sizeof(w->err), "consumer %d: assign: %s", w->id, rd_kafka_err2str(err));
	return n;
}

static int log_mode_consumer(struct perf_worker *w)
{
	const struct perf_opts *o = w->run->opts;
	char e[512];
	rd_kafka_t *rk = NULL;
	rd_kafka_queue_t *cq = NULL;
	rd_kafka_message_t **msgs = NULL;
	int rc = -1;
	bool group = *o->group != '\0';
	rd_kafka_conf_t *c = base_conf(o, w->err, sizeof(w->err));
	if (!c)
		return -1;
	char gid[128];
	if (group)
		snprintf(gid, sizeof(gid), "%s", o->group);
	else
		snprintf(gid, sizeof(gid), "tandem-perf-%08x-%d", (unsigned)w->run->run_id, w->id);
	if (conf_set(c, "group.id", gid, w->err, sizeof(w->err)) < 0 ||
	    conf_set(c, "enable.auto.commit", group ? "true" : "false", w->err, sizeof(w->err)) < 0 ||
	    conf_set(c, "auto.offset.reset", "earliest", w->err, sizeof(w->err)) < 0 ||
	    conf_set(c, "isolation.level", o->isolation_level, w->err, sizeof(w->err)) < 0 ||
	    conf_set(c, "fetch.max.bytes", "52428800", w->err, sizeof(w->err)) < 0 ||
	    conf_set(c, "max.partition.fetch.bytes", "10485760", w->err, sizeof(w->err)) < 0 ||
	    conf_set(c, "queued.max.messages.kbytes", "262144", w->err, sizeof(w->err)) < 0 ||
	    conf_set(c, "queued.min.messages", "1000000", w->err, sizeof(w->err)) < 0 ||
	    conf_setf(c, "fetch.wait.max.ms", w->err, sizeof(w->err), "%d", o->fetch_wait_ms) < 0 ||
	    conf_set(c, "receive.message.max.bytes", "104857600", w->err, sizeof(w->err)) < 0) {
		rd_kafka_conf_destroy(c);
		return -1;
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
	if (!rk) {
		rd_kafka_conf_destroy(c);
		return fail(w->err, sizeof(w->err), "consumer %d: rd_kafka_new: %s", w->id, e);
	}
	rd_kafka_poll_set_consumer(rk);
	cq = rd_kafka_queue_get_consumer(rk);
	msgs = calloc(CONSUME_BATCH, sizeof(*msgs));
	if (!cq || !msgs) {
		fail(w->err, sizeof(w->err), "out of memory");
		goto out;
	}
	/* connected and the topic known before we say ready */
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
	rd_kafka_resp_err_t me = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	if (me) {
		fail(w->err, sizeof(w->err), "consumer %d: metadata for %s: %s", w->id, o->topic, rd_kafka_err2str(me));
		goto out;
	}
	rd_kafka_metadata_destroy(md);

	if (o->consume_later) {
		atomic_store(&w->ready, true);
		int ph;
		while ((ph = atomic_load(&w->run->phase)) == PERF_CONNECT || ph == PERF_RUN)
			perf_sleep_until(perf_now_ns() + 1000000);
		if (!perf_consumer_running(w))
			goto done;
		w->t_recv_start_ns = perf_now_ns();
	}
	if (group) {
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, o->topic, RD_KAFKA_PARTITION_UA);
		rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, l);
		rd_kafka_topic_partition_list_destroy(l);
		if (err) {
			fail(w->err, sizeof(w->err), "consumer %d: subscribe: %s", w->id, rd_kafka_err2str(err));
			goto out;
		}
		/* ready once the group gave us partitions (or 10 s: more members than partitions) */
		uint64_t until = perf_now_ns() + 10000000000u;
		while (!o->consume_later && perf_now_ns() < until && !perf_aborting(w->run)) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, POLL_MS);
			if (m) {
				if (!m->err)
					perf_receive(w, m->payload, m->len, false);
				rd_kafka_message_destroy(m);
			}
			rd_kafka_topic_partition_list_t *a = NULL;
			bool have = rd_kafka_assignment(rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a && a->cnt > 0;
			if (a)
				rd_kafka_topic_partition_list_destroy(a);
			if (have)
				break;
		}
	} else if (assign_share(rk, w) < 0) {
		goto out;
	}
	atomic_store(&w->ready, true);

	uint64_t errors = 0;
	while (perf_consumer_running(w)) {
		/* rd_kafka_consume_batch_queue waits until the batch is full or the
		 * timeout: a blocking wait for the first record, then what is
		 * queued behind it without waiting, so latency is not the timeout */
		rd_kafka_message_t *first = rd_kafka_consume_queue(cq, POLL_MS);
		if (!first)
			continue;
		msgs[0] = first;
		ssize_t k = rd_kafka_consume_batch_queue(cq, 0, msgs + 1, CONSUME_BATCH - 1);
		k = k < 0 ? 1 : k + 1;
		for (ssize_t i = 0; i < k; i++) {
			rd_kafka_message_t *m = msgs[i];
			if (!m->err)
				perf_receive(w, m->payload, m->len, false);
			else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && !errors++)
				fprintf(stderr, "tandem-perf: consumer %d: %s\n", w->id, rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
		}
	}
done:
	rc = 0;
out:
	free(msgs);
	if (cq)
		rd_kafka_queue_destroy(cq);
	if (rk) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	return rc;
}

const struct perf_mode perf_mode_log = {
	.name = "log",
	.validate = log_mode_validate,
	.setup = log_mode_setup,
	.producer = log_mode_producer,
	.consumer = log_mode_consumer,
	.cleanup = log_mode_cleanup,
	.interrupt = NULL,
};
