/* Integration tests: Kafka transactions (issue 16 item 2) on a single
 * node, with librdkafka's transactional producer and read_committed
 * consumers, and over raw sockets for the error codes.
 *  - committed transactions are read by read_committed consumers, aborted
 *    ones are not (librdkafka drops them with the aborted-transactions list
 *    of Fetch); read_uncommitted consumers read both;
 *  - an open transaction holds read_committed consumers and ListOffsets
 *    (isolation_level 1) at its first offset: the last stable offset;
 *  - send_offsets_to_transaction commits a group's offsets with the
 *    transaction, and an abort drops them; meanwhile OffsetFetch with
 *    require_stable is UNSTABLE_OFFSET_COMMIT;
 *  - a second InitProducerId of the same transactional id fences the
 *    first producer; a transaction past its timeout is aborted by the
 *    coordinator; the error codes of the four APIs;
 *  - WriteTxnMarkers (inter-broker) from a client's connection:
 *    CLUSTER_AUTHORIZATION_FAILED per partition, nothing written, the
 *    connection still served;
 *  - an idle transactional id expires;
 *  - a commit whose marker write fails is completed by the restart;
 *  - a state write that fails is KAFKA_STORAGE_ERROR, and leaves nothing;
 *  - kill -9 during an open transaction: after the restart it is still
 *    open, and the producer's next incarnation aborts it,
 *    the committed one before it is still there, and read_committed
 *    consumers are not held.
 * Every wait is bounded. */
#include "kafka_harness.h"
#include "kraw.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static uint8_t resp[1 << 16];

static void make_topic(const char *bootstrap, const char *topic, int parts)
{
	rd_kafka_t *p = kh_producer(bootstrap, NULL);
	ck_assert_int_eq(kh_create_topic(p, topic, parts, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
}

#define ok kh_txn_ok
#define txn_producer kh_txn_producer
#define read_values kh_read_values

static void produce(rd_kafka_t *p, const char *topic, int32_t part, const char *value)
{
	ck_assert_int_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
					   RD_KAFKA_V_VALUE((void *)value, strlen(value)),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* ListOffsets v2 latest of topic/part with isolation_level iso. */
static int64_t latest(const struct kh_broker *b, const char *topic, int32_t part, int8_t iso)
{
	int fd = kh_raw_connect(b);
	struct wb w = { .n = 0 };

	w32(&w, -1);
	w8(&w, iso);
	w32(&w, 1);
	wstr(&w, topic);
	w32(&w, 1);
	w32(&w, part);
	w64(&w, -1);
	kh_raw_request(fd, 2, 2, 7, w.d, w.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	close(fd);
	struct rb r = { resp, (size_t)n, 0 };
	ck_assert_int_eq(r32(&r), 7);
	r32(&r); /* throttle */
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), part);
	ck_assert_int_eq(r16(&r), 0);
	r64(&r); /* timestamp */
	int64_t off = r64(&r);
	rend(&r);
	return off;
}

/* latest() once it equals want, polled for up to 10 s; its last value. */
static int64_t latest_becomes(const struct kh_broker *b, const char *topic, int8_t iso,
			      int64_t want)
{
	uint64_t deadline = kh_now_ms() + 10000;
	int64_t got;

	while ((got = latest(b, topic, 0, iso)) != want && kh_now_ms() < deadline)
		kh_sleep_ms(100);
	return got;
}

START_TEST(commit_and_abort_seen_by_isolation_level)
{
	char topic[64], got[1024];

	kh_name(topic, sizeof topic, "txn");
	make_topic(kh_bootstrap(), topic, 2);
	rd_kafka_t *p = txn_producer(kh_bootstrap(), "txn-basic", "60000");

	ok(rd_kafka_begin_transaction(p), "begin");
	produce(p, topic, 0, "c1");
	produce(p, topic, 1, "c2");
	produce(p, topic, 0, "c3");
	ok(rd_kafka_commit_transaction(p, 10000), "commit");
	ok(rd_kafka_begin_transaction(p), "begin");
	produce(p, topic, 0, "a1");
	produce(p, topic, 1, "a2");
	ck_assert_int_eq(rd_kafka_flush(p, 5000), 0);
	ok(rd_kafka_abort_transaction(p, 10000), "abort");
	ok(rd_kafka_begin_transaction(p), "begin");
	produce(p, topic, 0, "c4");
	ok(rd_kafka_commit_transaction(p, 10000), "commit");
	rd_kafka_destroy(p);

	read_values(kh_bootstrap(), topic, 0, "read_committed", got, sizeof got);
	ck_assert_str_eq(got, "c1,c3,c4");
	read_values(kh_bootstrap(), topic, 1, "read_committed", got, sizeof got);
	ck_assert_str_eq(got, "c2");
	read_values(kh_bootstrap(), topic, 0, "read_uncommitted", got, sizeof got);
	ck_assert_str_eq(got, "c1,c3,a1,c4");
	/* data and markers: c1 c3 C a1 A c4 C on partition 0 */
	ck_assert_int_eq(latest(kh_main(), topic, 0, 0), 7);
	ck_assert_int_eq(latest(kh_main(), topic, 0, 1), 7);
}
END_TEST

START_TEST(open_transaction_holds_the_last_stable_offset)
{
	char topic[64], got[1024];

	kh_name(topic, sizeof topic, "txnlso");
	make_topic(kh_bootstrap(), topic, 1);
	rd_kafka_t *plain = kh_producer(kh_bootstrap(), NULL);
	ck_assert_int_eq(kh_produce_sync(plain, topic, 0, NULL, "before", -1, NULL), 0);
	rd_kafka_t *p = txn_producer(kh_bootstrap(), "txn-lso", "60000");

	ok(rd_kafka_begin_transaction(p), "begin");
	produce(p, topic, 0, "t1");
	ck_assert_int_eq(rd_kafka_flush(p, 5000), 0);
	ck_assert_int_eq(kh_produce_sync(plain, topic, 0, NULL, "after", -1, NULL), 0);
	ck_assert_int_eq(latest(kh_main(), topic, 0, 0), 3);
	ck_assert_int_eq(latest(kh_main(), topic, 0, 1), 1); /* t1's offset */
	read_values(kh_bootstrap(), topic, 0, "read_committed", got, sizeof got);
	ck_assert_str_eq(got, "before");
	read_values(kh_bootstrap(), topic, 0, "read_uncommitted", got, sizeof got);
	ck_assert_str_eq(got, "before,t1,after");
	ok(rd_kafka_commit_transaction(p, 10000), "commit");
	ck_assert_int_eq(latest(kh_main(), topic, 0, 1), 4);
	read_values(kh_bootstrap(), topic, 0, "read_committed", got, sizeof got);
	ck_assert_str_eq(got, "before,t1,after");
	rd_kafka_destroy(p);
	rd_kafka_destroy(plain);
}
END_TEST

/* The committed offset of group/topic/0, -1 when none. */
static int64_t committed(const char *group, const char *topic)
{
	const char *kv[] = { "group.id", group, NULL };
	rd_kafka_t *c = kh_consumer(kh_bootstrap(), kv);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

	rd_kafka_topic_partition_list_add(l, topic, 0);
	ck_assert_int_eq(rd_kafka_committed(c, l, 5000), 0);
	int64_t off = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(c);
	return off;
}

static void send_offsets(rd_kafka_t *p, const char *group, const char *topic, int64_t off)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata_new(group);

	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = off;
	ok(rd_kafka_send_offsets_to_transaction(p, l, md, 10000), "send_offsets");
	rd_kafka_consumer_group_metadata_destroy(md);
	rd_kafka_topic_partition_list_destroy(l);
}

/* OffsetFetch v7 of group/topic/0 with require_stable: its error code. */
static int16_t fetch_offset_stable(const char *group, const char *topic, int8_t stable,
				   int64_t *off)
{
	int fd = kh_raw_connect(kh_main());
	struct wb w;
	char s[128];

	flex_begin(&w);
	wcstr(&w, group);
	wcarr(&w, 1);
	wcstr(&w, topic);
	wcarr(&w, 1);
	w32(&w, 0);
	wtags(&w);
	w8(&w, (uint8_t)stable);
	wtags(&w);
	kh_raw_request(fd, 9, 7, 7, w.d, w.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	close(fd);
	struct rb r = { resp, (size_t)n, 0 };
	ck_assert_int_eq(r32(&r), 7);
	rtags(&r);
	r32(&r); /* throttle */
	ck_assert_int_eq(rcarr(&r), 1);
	rcstr(&r, s, sizeof s);
	ck_assert_int_eq(rcarr(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	*off = r64(&r);
	r32(&r); /* leader epoch */
	rcstr(&r, s, sizeof s);
	int16_t err = r16(&r);
	rtags(&r);
	rtags(&r);
	ck_assert_int_eq(r16(&r), 0);
	rtags(&r);
	rend(&r);
	return err;
}

START_TEST(offsets_commit_with_the_transaction)
{
	char in[64], out[64], group[64];

	kh_name(in, sizeof in, "txnin");
	kh_name(out, sizeof out, "txnout");
	kh_name(group, sizeof group, "txngroup");
	make_topic(kh_bootstrap(), in, 1);
	make_topic(kh_bootstrap(), out, 1);
	rd_kafka_t *p = txn_producer(kh_bootstrap(), "txn-offsets", "60000");

	ok(rd_kafka_begin_transaction(p), "begin");
	produce(p, out, 0, "x");
	send_offsets(p, group, in, 5);
	int64_t off;
	ck_assert_int_eq(fetch_offset_stable(group, in, 0, &off), 0);
	ck_assert_int_eq(off, -1); /* not yet */
	ok(rd_kafka_abort_transaction(p, 10000), "abort");
	ck_assert_int_eq(committed(group, in), RD_KAFKA_OFFSET_INVALID);
	ok(rd_kafka_begin_transaction(p), "begin");
	produce(p, out, 0, "y");
	send_offsets(p, group, in, 7);
	/* pending: require_stable gets UNSTABLE_OFFSET_COMMIT (librdkafka's
	 * read_committed consumers retry it), else the old answer */
	ck_assert_int_eq(fetch_offset_stable(group, in, 1, &off), 88);
	ck_assert_int_eq(fetch_offset_stable(group, in, 0, &off), 0);
	ck_assert_int_eq(off, -1);
	ok(rd_kafka_commit_transaction(p, 10000), "commit");
	ck_assert_int_eq(fetch_offset_stable(group, in, 1, &off), 0);
	ck_assert_int_eq(off, 7);
	ck_assert_int_eq(committed(group, in), 7);
	rd_kafka_destroy(p);
}
END_TEST

START_TEST(second_producer_fences_the_first)
{
	char topic[64], got[256];

	kh_name(topic, sizeof topic, "txnfence");
	make_topic(kh_bootstrap(), topic, 1);
	rd_kafka_t *p1 = txn_producer(kh_bootstrap(), "txn-fence", "60000");
	ok(rd_kafka_begin_transaction(p1), "begin");
	produce(p1, topic, 0, "old");
	ck_assert_int_eq(rd_kafka_flush(p1, 5000), 0);
	/* the new incarnation aborts the open transaction and bumps the epoch */
	rd_kafka_t *p2 = txn_producer(kh_bootstrap(), "txn-fence", "60000");
	rd_kafka_error_t *e = rd_kafka_commit_transaction(p1, 10000);
	ck_assert(e != NULL);
	ck_assert_msg(rd_kafka_error_is_fatal(e), "not fatal: %s", rd_kafka_error_string(e));
	rd_kafka_error_destroy(e);
	ok(rd_kafka_begin_transaction(p2), "begin");
	produce(p2, topic, 0, "new");
	ok(rd_kafka_commit_transaction(p2, 10000), "commit");
	read_values(kh_bootstrap(), topic, 0, "read_committed", got, sizeof got);
	ck_assert_str_eq(got, "new");
	rd_kafka_destroy(p1);
	rd_kafka_destroy(p2);
}
END_TEST

START_TEST(timed_out_transaction_is_aborted)
{
	char topic[64], got[256];

	kh_name(topic, sizeof topic, "txntimeout");
	make_topic(kh_bootstrap(), topic, 1);
	rd_kafka_t *p = txn_producer(kh_bootstrap(), "txn-timeout", "1500");
	ok(rd_kafka_begin_transaction(p), "begin");
	produce(p, topic, 0, "late");
	ck_assert_int_eq(rd_kafka_flush(p, 5000), 0);
	ck_assert_int_eq(latest(kh_main(), topic, 0, 1), 0);
	ck_assert_int_eq(latest_becomes(kh_main(), topic, 1, 2), 2); /* late + the abort marker */
	rd_kafka_error_t *e = rd_kafka_commit_transaction(p, 10000);
	ck_assert(e != NULL);
	rd_kafka_error_destroy(e);
	read_values(kh_bootstrap(), topic, 0, "read_committed", got, sizeof got);
	ck_assert_str_eq(got, "");
	rd_kafka_destroy(p);
}
END_TEST

/* ---- raw requests --------------------------------------------------------- */

static struct rb call(int fd, int16_t api, int16_t ver, const struct wb *w)
{
	kh_raw_request(fd, api, ver, 7, w->d, w->n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_msg(n > 0, "no answer to api %d v%d", api, ver);
	struct rb r = { resp, (size_t)n, 0 };
	ck_assert_int_eq(r32(&r), 7);
	if (ver >= 3)
		ck_assert_uint_eq(ruv(&r), 0);
	return r;
}

static void producer_fields(struct wb *w, int flex, const char *txid, int64_t pid, int16_t epoch)
{
	if (flex)
		wcstr(w, txid);
	else
		wstr(w, txid);
	w64(w, pid);
	w16(w, epoch);
}

/* AddPartitionsToTxn of topic partitions parts[0..n) at ver: each
 * partition's error into errs. */
static void add_partitions(int fd, int ver, const char *txid, int64_t pid, int16_t epoch,
			   const char *topic, const int32_t *parts, int n, int16_t *errs)
{
	int flex = ver >= 3;
	struct wb w = { .n = 0 };
	char s[128];

	if (flex)
		w8(&w, 0);
	producer_fields(&w, flex, txid, pid, epoch);
	if (flex) {
		wcarr(&w, 1);
		wcstr(&w, topic);
		wcarr(&w, n);
	} else {
		w32(&w, 1);
		wstr(&w, topic);
		w32(&w, n);
	}
	for (int i = 0; i < n; i++)
		w32(&w, parts[i]);
	if (flex)
		wtags(&w), wtags(&w);
	struct rb r = call(fd, 24, (int16_t)ver, &w);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(flex ? rcarr(&r) : r32(&r), 1);
	if (flex)
		rcstr(&r, s, sizeof s);
	else
		rstr(&r, s, sizeof s);
	ck_assert_str_eq(s, topic);
	ck_assert_int_eq(flex ? rcarr(&r) : r32(&r), n);
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(r32(&r), parts[i]);
		errs[i] = r16(&r);
		if (flex)
			rtags(&r);
	}
	if (flex)
		rtags(&r), rtags(&r);
	rend(&r);
}

/* EndTxn at ver: its error. */
static int16_t end_txn(int fd, int ver, const char *txid, int64_t pid, int16_t epoch, int commit)
{
	int flex = ver >= 3;
	struct wb w = { .n = 0 };

	if (flex)
		w8(&w, 0);
	producer_fields(&w, flex, txid, pid, epoch);
	w8(&w, (uint8_t)commit);
	if (flex)
		wtags(&w);
	struct rb r = call(fd, 26, (int16_t)ver, &w);
	ck_assert_int_eq(r32(&r), 0);
	int16_t err = r16(&r);
	if (flex)
		rtags(&r);
	rend(&r);
	return err;
}

/* AddOffsetsToTxn at ver: its error. */
static int16_t add_offsets(int fd, int ver, const char *txid, int64_t pid, int16_t epoch,
			   const char *group)
{
	int flex = ver >= 3;
	struct wb w = { .n = 0 };

	if (flex)
		w8(&w, 0);
	producer_fields(&w, flex, txid, pid, epoch);
	if (flex)
		wcstr(&w, group), wtags(&w);
	else
		wstr(&w, group);
	struct rb r = call(fd, 25, (int16_t)ver, &w);
	ck_assert_int_eq(r32(&r), 0);
	int16_t err = r16(&r);
	if (flex)
		rtags(&r);
	rend(&r);
	return err;
}

/* InitProducerId v1 of txid with a transaction timeout: its error. */
static int16_t init_with_timeout(int fd, const char *txid, int32_t timeout_ms)
{
	struct wb w = { .n = 0 };

	wstr(&w, txid);
	w32(&w, timeout_ms);
	struct rb r = call(fd, 22, 1, &w);
	ck_assert_int_eq(r32(&r), 0);
	int16_t err = r16(&r);
	r64(&r);
	r16(&r);
	rend(&r);
	return err;
}

START_TEST(error_codes)
{
	char topic[64];
	int fd = kh_raw_connect(kh_main());
	int64_t pid, other;
	int16_t epoch, e2, errs[3];
	const int32_t p0[] = { 0 }, bad[] = { 0, 9 };

	kh_name(topic, sizeof topic, "txnraw");
	make_topic(kh_bootstrap(), topic, 1);
	/* above transaction_max_timeout_ms (900000), or <= 0 */
	ck_assert_int_eq(init_with_timeout(fd, "txn-raw", 900001), 50);
	ck_assert_int_eq(init_with_timeout(fd, "txn-raw", 0), 50);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, "txn-raw", &pid, &epoch), 0);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, "txn-raw-2", &other, &e2), 0);
	/* nothing open yet: EndTxn INVALID_TXN_STATE */
	ck_assert_int_eq(end_txn(fd, 1, "txn-raw", pid, epoch, 1), 48);
	/* an unknown id, another producer id: INVALID_PRODUCER_ID_MAPPING */
	add_partitions(fd, 1, "txn-none", pid, epoch, topic, p0, 1, errs);
	ck_assert_int_eq(errs[0], 49);
	add_partitions(fd, 3, "txn-raw", other, epoch, topic, p0, 1, errs);
	ck_assert_int_eq(errs[0], 49);
	/* an unknown partition: UNKNOWN_TOPIC_OR_PARTITION, the rest
	 * OPERATION_NOT_ATTEMPTED, nothing added */
	add_partitions(fd, 3, "txn-raw", pid, epoch, topic, bad, 2, errs);
	ck_assert_int_eq(errs[0], 55);
	ck_assert_int_eq(errs[1], 3);
	ck_assert_int_eq(end_txn(fd, 3, "txn-raw", pid, epoch, 0), 48);
	add_partitions(fd, 0, "txn-raw", pid, epoch, topic, p0, 1, errs);
	ck_assert_int_eq(errs[0], 0);
	ck_assert_int_eq(add_offsets(fd, 0, "txn-raw", pid, epoch, "txn-raw-group"), 0);
	ck_assert_int_eq(add_offsets(fd, 3, "txn-raw", pid, epoch, ""), 24);
	/* a newer InitProducerId: the old epoch is fenced (47 before v2, 90
	 * from v2), its open transaction aborted */
	int16_t old = epoch, err;
	uint64_t deadline = kh_now_ms() + 5000;
	/* CONCURRENT_TRANSACTIONS (51) until the abort is complete */
	while ((err = kh_raw_init_producer_id(fd, "txn-raw", &other, &epoch)) == 51 &&
	       kh_now_ms() < deadline)
		kh_sleep_ms(50);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(other, pid);
	ck_assert_int_eq(epoch, old + 2); /* the abort's bump, then the new one */
	ck_assert_int_eq(end_txn(fd, 1, "txn-raw", pid, old, 1), 47);
	ck_assert_int_eq(end_txn(fd, 2, "txn-raw", pid, old, 1), 90);
	add_partitions(fd, 2, "txn-raw", pid, old, topic, p0, 1, errs);
	ck_assert_int_eq(errs[0], 90);
	/* the new epoch works, and a retried EndTxn is answered as before */
	add_partitions(fd, 3, "txn-raw", pid, epoch, topic, p0, 1, errs);
	ck_assert_int_eq(errs[0], 0);
	ck_assert_int_eq(end_txn(fd, 3, "txn-raw", pid, epoch, 1), 0);
	ck_assert_int_eq(end_txn(fd, 3, "txn-raw", pid, epoch, 1), 0);
	ck_assert_int_eq(end_txn(fd, 3, "txn-raw", pid, epoch, 0), 48);
	close(fd);
}
END_TEST

/* WriteTxnMarkers (27) at ver of markers for pid and pid + 1 (commit, then
 * abort) on topic's partitions parts[0..n) (the second one on partition 0
 * of a topic that does not exist): each partition's error into errs, in
 * the request's order (n + 1 of them). */
static void write_markers(int fd, int ver, int64_t pid, const char *topic, const int32_t *parts,
			  int n, int16_t *errs)
{
	int flex = ver >= 1;
	struct wb w = { .n = 0 };
	char s[128];

	if (flex)
		flex_begin(&w), wcarr(&w, 2);
	else
		w32(&w, 2);
	for (int m = 0; m < 2; m++) {
		const char *name = m == 0 ? topic : "txn-markers-none";
		int np = m == 0 ? n : 1;
		w64(&w, pid + m);
		w16(&w, 0);
		w8(&w, m == 0); /* transaction_result: commit, then abort */
		if (flex) {
			wcarr(&w, 1);
			wcstr(&w, name);
			wcarr(&w, np);
		} else {
			w32(&w, 1);
			wstr(&w, name);
			w32(&w, np);
		}
		for (int i = 0; i < np; i++)
			w32(&w, m == 0 ? parts[i] : 0);
		if (flex)
			wtags(&w);
		w32(&w, 5); /* coordinator_epoch */
		if (flex)
			wtags(&w);
	}
	if (flex)
		wtags(&w);
	kh_raw_request(fd, 27, (int16_t)ver, 7, w.d, w.n);
	long got = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_msg(got > 0, "no answer to WriteTxnMarkers v%d", ver);
	struct rb r = { resp, (size_t)got, 0 };
	ck_assert_int_eq(r32(&r), 7);
	if (flex)
		rtags(&r); /* response header v1 */
	ck_assert_int_eq(flex ? rcarr(&r) : r32(&r), 2);
	for (int m = 0, k = 0; m < 2; m++) {
		int np = m == 0 ? n : 1;
		ck_assert_int_eq(r64(&r), pid + m);
		ck_assert_int_eq(flex ? rcarr(&r) : r32(&r), 1);
		if (flex)
			rcstr(&r, s, sizeof s);
		else
			rstr(&r, s, sizeof s);
		ck_assert_str_eq(s, m == 0 ? topic : "txn-markers-none");
		ck_assert_int_eq(flex ? rcarr(&r) : r32(&r), np);
		for (int i = 0; i < np; i++) {
			ck_assert_int_eq(r32(&r), m == 0 ? parts[i] : 0);
			errs[k++] = r16(&r);
			if (flex)
				rtags(&r);
		}
		if (flex)
			rtags(&r), rtags(&r);
	}
	if (flex)
		rtags(&r);
	rend(&r);
}

/* WriteTxnMarkers is the inter-broker API: a client's connection (even the
 * administrator's) gets CLUSTER_AUTHORIZATION_FAILED for every partition,
 * nothing is appended, and the connection goes on serving. */
START_TEST(write_txn_markers_refused_to_clients)
{
	char topic[64];
	int fd = kh_raw_connect(kh_main());
	const int32_t parts[] = { 0, 1 };
	int16_t errs[3];

	kh_name(topic, sizeof topic, "txnmarkers");
	make_topic(kh_bootstrap(), topic, 2);
	for (int ver = 0; ver <= 1; ver++) {
		memset(errs, 0, sizeof errs);
		write_markers(fd, ver, 1000, topic, parts, 2, errs);
		for (int k = 0; k < 3; k++)
			ck_assert_msg(errs[k] == 31, "v%d partition %d: %d", ver, k, errs[k]);
	}
	/* the same connection still answers, and nothing was written */
	int64_t pid;
	int16_t epoch;
	ck_assert_int_eq(kh_raw_init_producer_id(fd, NULL, &pid, &epoch), 0);
	ck_assert_int_eq(latest(kh_main(), topic, 0, 0), 0);
	ck_assert_int_eq(latest(kh_main(), topic, 1, 0), 0);
	close(fd);
}
END_TEST

/* An idle transactional id is forgotten after transactional_id_expiration_ms
 * (and stays forgotten after a restart); a transaction timeout above
 * transaction_max_timeout_ms is INVALID_TRANSACTION_TIMEOUT. */
START_TEST(idle_transactional_id_expires)
{
	struct kh_broker b;
	const char *args[] = { "--transactional-id-expiration-ms", "1500",
			       "--transaction-max-timeout-ms", "60000", NULL };
	char topic[64];
	int64_t pid, busy_pid;
	int16_t epoch, busy_epoch, errs[1];
	const int32_t p0[] = { 0 };

	ck_assert_int_eq(kh_broker_start(&b, args), 0);
	kh_name(topic, sizeof topic, "txnexp");
	make_topic(b.bootstrap, topic, 1);
	int fd = kh_raw_connect(&b);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, "txn-idle", &pid, &epoch), 0);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, "txn-busy", &busy_pid, &busy_epoch), 0);
	for (int i = 0; i < 8; i++) { /* 4 s: txn-busy keeps asking */
		add_partitions(fd, 3, "txn-busy", busy_pid, busy_epoch, topic, p0, 0, errs);
		kh_sleep_ms(500);
	}
	add_partitions(fd, 3, "txn-idle", pid, epoch, topic, p0, 1, errs);
	ck_assert_int_eq(errs[0], 49); /* forgotten */
	close(fd);
	ck_assert_int_eq(kh_broker_restart(&b), 0);
	fd = kh_raw_connect(&b);
	add_partitions(fd, 3, "txn-idle", pid, epoch, topic, p0, 1, errs);
	ck_assert_int_eq(errs[0], 49);
	/* a new one starts at epoch 0 again */
	ck_assert_int_eq(kh_raw_init_producer_id(fd, "txn-idle", &pid, &epoch), 0);
	ck_assert_int_eq(epoch, 0);
	close(fd);
	kh_broker_stop(&b);
	kh_broker_destroy(&b);
}
END_TEST

/* ---- kill -9 ---------------------------------------------------------------- */

START_TEST(kill9_during_a_transaction)
{
	struct kh_broker b;
	char topic[64], got[256];
	int status;

	ck_assert_int_eq(kh_broker_start(&b, NULL), 0);
	kh_name(topic, sizeof topic, "txnkill");
	make_topic(b.bootstrap, topic, 1);
	rd_kafka_t *p = txn_producer(b.bootstrap, "txn-kill", "60000");
	ok(rd_kafka_begin_transaction(p), "begin");
	produce(p, topic, 0, "kept");
	ok(rd_kafka_commit_transaction(p, 10000), "commit");
	ok(rd_kafka_begin_transaction(p), "begin");
	produce(p, topic, 0, "open");
	ck_assert_int_eq(rd_kafka_flush(p, 5000), 0);
	ck_assert_int_eq(latest(&b, topic, 0, 1), 2);
	ck_assert_int_eq(kill(b.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(b.pid, &status, 0), b.pid);
	b.pid = 0;
	rd_kafka_destroy(p);
	ck_assert_int_eq(kh_broker_restart(&b), 0);
	/* the open transaction survived (Kafka's coordinator keeps it): it
	 * still holds read_committed consumers at its first offset */
	ck_assert_int_eq(latest(&b, topic, 0, 1), 2);
	/* a new incarnation of its producer aborts it (epoch bumped; the
	 * markers follow the decision's fsync): nothing holds consumers */
	p = txn_producer(b.bootstrap, "txn-kill", "60000");
	ck_assert_int_eq(latest_becomes(&b, topic, 1, 4), 4);
	read_values(b.bootstrap, topic, 0, "read_committed", got, sizeof got);
	ck_assert_str_eq(got, "kept");
	read_values(b.bootstrap, topic, 0, "read_uncommitted", got, sizeof got);
	ck_assert_str_eq(got, "kept,open");
	/* the transactional id goes on with its bumped epoch */
	ok(rd_kafka_begin_transaction(p), "begin");
	produce(p, topic, 0, "again");
	ok(rd_kafka_commit_transaction(p, 10000), "commit");
	rd_kafka_destroy(p);
	read_values(b.bootstrap, topic, 0, "read_committed", got, sizeof got);
	ck_assert_str_eq(got, "kept,again");
	kh_broker_stop(&b);
	kh_broker_destroy(&b);
}
END_TEST

/* The coordinator's state cannot be written (every write to the group
 * offsets log fails, as on a failed disk): InitProducerId of a
 * transactional id answers KAFKA_STORAGE_ERROR, again on a retry, on a
 * connection that stays open; idempotent producers, whose ids come from
 * elsewhere, go on; after a restart without the fault nothing of the
 * failed attempts is there: the id starts at epoch 0. */
START_TEST(failed_state_write_is_an_error)
{
	struct kh_broker b;
	int64_t pid = 0;
	int16_t epoch = 0;

	setenv("TANDEM_FAULTS", "write:__consumer_offsets:1:1000000", 1);
	ck_assert_int_eq(kh_broker_start(&b, NULL), 0);
	unsetenv("TANDEM_FAULTS");
	int fd = kh_raw_connect(&b);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, "txn-nowrite", &pid, &epoch), 56);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, "txn-nowrite", &pid, &epoch), 56);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, NULL, &pid, &epoch), 0);
	ck_assert_int_eq(epoch, 0);
	close(fd);
	ck_assert_int_eq(kh_broker_restart(&b), 0);
	fd = kh_raw_connect(&b);
	ck_assert_int_eq(kh_raw_init_producer_id(fd, "txn-nowrite", &pid, &epoch), 0);
	ck_assert_int_eq(epoch, 0);
	close(fd);
	kh_broker_stop(&b);
	kh_broker_destroy(&b);
}
END_TEST

/* A commit whose marker cannot be written (every write to the partition
 * after its first fails with ENOSPC; the coordinator retries each second)
 * is still a commit: EndTxn answers once the decision is fsynced,
 * read_committed consumers wait at the transaction's first offset, and the
 * restart (without the fault) writes the marker from the decision. */
START_TEST(decided_commit_survives_a_failed_marker)
{
	struct kh_broker b;
	char got[256];

	setenv("TANDEM_FAULTS", "write:txnfault:2:1000000", 1);
	ck_assert_int_eq(kh_broker_start(&b, NULL), 0);
	unsetenv("TANDEM_FAULTS");
	make_topic(b.bootstrap, "txnfault", 1);
	rd_kafka_t *p = txn_producer(b.bootstrap, "txn-fault", "60000");
	ok(rd_kafka_begin_transaction(p), "begin");
	produce(p, "txnfault", 0, "decided");
	ok(rd_kafka_commit_transaction(p, 10000), "commit");
	rd_kafka_destroy(p);
	ck_assert_int_eq(latest(&b, "txnfault", 0, 1), 0);
	read_values(b.bootstrap, "txnfault", 0, "read_committed", got, sizeof got);
	ck_assert_str_eq(got, "");
	ck_assert_int_eq(kh_broker_restart(&b), 0);
	ck_assert_int_eq(latest_becomes(&b, "txnfault", 1, 2), 2);
	read_values(b.bootstrap, "txnfault", 0, "read_committed", got, sizeof got);
	ck_assert_str_eq(got, "decided");
	kh_broker_stop(&b);
	kh_broker_destroy(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kafka_txn");
	TCase *tc = tcase_create("txn");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, commit_and_abort_seen_by_isolation_level);
	tcase_add_test(tc, open_transaction_holds_the_last_stable_offset);
	tcase_add_test(tc, offsets_commit_with_the_transaction);
	tcase_add_test(tc, second_producer_fences_the_first);
	tcase_add_test(tc, timed_out_transaction_is_aborted);
	tcase_add_test(tc, error_codes);
	tcase_add_test(tc, write_txn_markers_refused_to_clients);
	tcase_add_test(tc, idle_transactional_id_expires);
	tcase_add_test(tc, kill9_during_a_transaction);
	tcase_add_test(tc, decided_commit_survives_a_failed_marker);
	tcase_add_test(tc, failed_state_write_is_an_error);
	suite_add_tcase(s, tc);
	return kh_run_suite(s, NULL);
}
