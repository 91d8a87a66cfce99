/*
 * Racks and fetching from the closest replica (Kafka's KIP-392) on three
 * nodes in racks r1, r2, r3 (broker_rack) whose leaders pick replicas by
 * rack (kafka_replica_selector = rack):
 *
 * - Metadata v1 lists each broker with its rack, DescribeConfigs of a
 *   broker shows its broker.rack (what librdkafka's test 0101 looks at);
 * - the leader answers a consumer's Fetch v11 naming the rack of a
 *   follower with that follower as preferred_read_replica and no records,
 *   one naming the leader's rack, an unknown rack or none with records;
 * - the follower serves that consumer's Fetch v11 (not v10: before
 *   KIP-392 consumers read from leaders only), never past the high
 *   watermark it learnt from the leader: with the third replica stopped
 *   (SIGSTOP, still in the ISR) records written with acks=1 reach the
 *   follower's log but not its answers; an offset past its log end is
 *   OFFSET_OUT_OF_RANGE; once the third replica runs again the follower
 *   serves them;
 * - read_committed on the follower stops at an open transaction (the last
 *   stable offset of its own log) and lists the aborted ones;
 * - a librdkafka consumer with client.rack = r2 reads a topic led by node 1
 *   and receives its records from node 2 (its statistics' rxbytes per
 *   broker, as test 0101 checks).
 *
 * Three tandemd nodes and a private ZooKeeper (cluster_harness.h), one
 * cluster per test.  Built by make check, run by scripts/test.sh's cluster
 * stage (or CK_RUN_CASE=... b/tests/cluster/test_cluster_rack).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_harness.h"
#include "kafka_harness.h"
#include "kraw.h"

#define TEST_TIMEOUT 180

static struct ch_cluster cl;
static uint8_t resp[1 << 20];

static void setup(void)
{
	/* a 10 s session (ZooKeeper's most with its 500 ms tick): a replica
	 * stopped for a few seconds stays registered and in the ISR */
	static const char *const extra[] = { "--broker-rack", "r{node_id}",
					     "--kafka-replica-selector", "rack",
					     "--zookeeper-session-timeout-ms", "10000", NULL };
	ch_start(&cl, 3, extra);
}

static void teardown(void)
{
	ch_stop(&cl);
}

/* CreateTopics of name, one partition on replicas 1, 2, 3 (node 1 leads);
 * waits until node 1 leads it with the three in its ISR. */
static void create_rf3(const char *name)
{
	static const int32_t replicas[3] = { 1, 2, 3 };
	rd_kafka_t *rk = kh_producer(cl.bootstrap, NULL);
	rd_kafka_resp_err_t e = kh_create_topic_assigned(rk, name, replicas, 3);
	rd_kafka_destroy(rk);
	ck_assert_msg(e == RD_KAFKA_RESP_ERR_NO_ERROR, "CreateTopics %s: %s", name,
		      rd_kafka_err2str(e));
	ck_assert_int_eq(ch_wait_leader(&cl, name, 0, 3, 20000), 1);
}

/* ---- raw Fetch -------------------------------------------------------- */

/* One partition's answer to a raw Fetch. */
struct fetched {
	int16_t err;
	int64_t hw, lso;
	int32_t preferred;  /* -1 also before v11 */
	int32_t bytes;      /* of records */
	int64_t first, last; /* offsets of the records, -1 when none */
	int32_t naborted;   /* aborted transactions listed (read_committed) */
	int64_t aborted_first; /* the first one's first offset, -1 none */
};

/* The offsets the batches of records[0..n) cover into f. */
static void batch_offsets(const uint8_t *p, int32_t n, struct fetched *f)
{
	f->first = f->last = -1;
	for (int32_t at = 0; at + 61 <= n;) {
		struct rb b = { p + at, (size_t)(n - at), 0 };
		int64_t base = r64(&b);
		int32_t len = r32(&b);
		b.off = 23;
		int32_t last_delta = r32(&b);
		if (at + 12 + len > n)
			break; /* a trailing partial batch */
		if (f->first < 0)
			f->first = base;
		f->last = base + last_delta;
		at += 12 + len;
	}
}

/* Fetch (version ver, 9-11) of topic/0 at offset on node i as a consumer
 * (replica_id -1), rack for v11, isolation_level iso, answered at once
 * (max_wait_ms 0). */
static struct fetched fetch_iso(int i, int16_t ver, const char *topic, int64_t offset,
				const char *rack, int8_t iso)
{
	int fd = kh_raw_connect_port(cl.nodes[i].kafka_port);
	struct wb b = { .n = 0 };
	ck_assert_int_ge(fd, 0);
	w32(&b, -1);        /* replica_id */
	w32(&b, 0);         /* max_wait_ms */
	w32(&b, 1);         /* min_bytes */
	w32(&b, 1 << 20);   /* max_bytes */
	w8(&b, iso);        /* isolation_level */
	w32(&b, 0);         /* session_id */
	w32(&b, -1);        /* session_epoch: no session */
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);         /* partition */
	w32(&b, -1);        /* current_leader_epoch: not checked */
	w64(&b, offset);
	w64(&b, -1);        /* log_start_offset */
	w32(&b, 1 << 20);   /* partition_max_bytes */
	w32(&b, 0);         /* forgotten topics */
	if (ver >= 11)
		wstr(&b, rack);
	kh_raw_request(fd, 1, ver, 11, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	close(fd);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	struct fetched f;
	(void)r32(&r); /* throttle */
	ck_assert_int_eq(r16(&r), 0);
	(void)r32(&r); /* session */
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	f.err = r16(&r);
	f.hw = r64(&r);
	f.lso = r64(&r);
	(void)r64(&r); /* log start */
	int32_t na = r32(&r);
	f.naborted = na < 0 ? 0 : na;
	f.aborted_first = -1;
	for (int32_t k = 0; k < na; k++) {
		(void)r64(&r); /* producer id */
		int64_t first = r64(&r);
		if (k == 0)
			f.aborted_first = first;
	}
	f.preferred = ver >= 11 ? r32(&r) : -1;
	f.bytes = r32(&r);
	f.bytes = f.bytes < 0 ? 0 : f.bytes;
	batch_offsets(rtake(&r, (size_t)f.bytes), f.bytes, &f);
	rend(&r);
	return f;
}

static struct fetched raw_fetch(int i, int16_t ver, const char *topic, int64_t offset,
				const char *rack)
{
	return fetch_iso(i, ver, topic, offset, rack, 0);
}

/* Metadata v1 of node i: the rack of broker id into out ("(null)" for
 * none); fails the test when the broker is not listed. */
static void metadata_rack(int i, int32_t id, char *out, size_t cap)
{
	int fd = kh_raw_connect_port(cl.nodes[i].kafka_port);
	struct wb b = { .n = 0 };
	ck_assert_int_ge(fd, 0);
	w32(&b, 0); /* no topics */
	kh_raw_request(fd, 3, 1, 12, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	close(fd);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	int32_t nb = r32(&r);
	char host[256];
	for (int32_t k = 0; k < nb; k++) {
		int32_t node = r32(&r);
		rstrcpy(&r, host, sizeof(host));
		(void)r32(&r);
		int len = rstr(&r, out, cap);
		if (node == id) {
			if (len < 0)
				snprintf(out, cap, "(null)");
			return;
		}
	}
	ck_abort_msg("node %d: broker %d not in Metadata", cl.nodes[i].id, id);
}

/* Polls raw_fetch on node i until its high watermark is hw (bounded). */
static struct fetched wait_hw(int i, const char *topic, int64_t offset, int64_t hw)
{
	uint64_t deadline = kh_now_ms() + 10000;
	struct fetched f = raw_fetch(i, 11, topic, offset, "");
	while (f.hw != hw && kh_now_ms() < deadline) {
		kh_sleep_ms(50);
		f = raw_fetch(i, 11, topic, offset, "");
	}
	return f;
}

START_TEST(test_racks_preferred_replica_and_follower_reads)
{
	char topic[64], rack[300];
	kh_name(topic, sizeof(topic), "rack");
	for (int i = 0; i < cl.n; i++)
		for (int32_t id = 1; id <= 3; id++) {
			char want[8];
			metadata_rack(i, id, rack, sizeof(rack));
			snprintf(want, sizeof(want), "r%d", id);
			ck_assert_str_eq(rack, want);
		}
	create_rf3(topic);

	enum { N = 20, M = 5 };
	const char *kv[] = { "acks", "all", "linger.ms", "0", NULL };
	rd_kafka_t *p = kh_producer(cl.bootstrap, kv);
	for (int i = 0; i < N; i++) {
		char value[32];
		int64_t off = -1;
		snprintf(value, sizeof(value), "rec-%04d", i);
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, value, 0, &off), 0);
		ck_assert_int_eq(off, i);
	}
	rd_kafka_destroy(p);

	/* the leader (node 1) sends a consumer in r2 to node 2, at once and
	 * without records, once node 2 has fetched what it asks for */
	struct fetched f = wait_hw(0, topic, 0, N);
	uint64_t deadline = kh_now_ms() + 10000;
	do
		f = raw_fetch(0, 11, topic, 0, "r2");
	while (f.preferred != 2 && kh_now_ms() < deadline && (kh_sleep_ms(50), 1));
	ck_assert_int_eq(f.err, 0);
	ck_assert_int_eq(f.preferred, 2);
	ck_assert_int_eq(f.bytes, 0);
	ck_assert_int_eq(f.hw, N);
	f = raw_fetch(0, 11, topic, 0, "r3");
	ck_assert_int_eq(f.preferred, 3);
	/* its own rack, a rack nobody is in, none: the leader serves */
	static const char *const here[] = { "r1", "r9", "" };
	for (size_t k = 0; k < 3; k++) {
		f = raw_fetch(0, 11, topic, 0, here[k]);
		ck_assert_msg(f.err == 0 && f.preferred == -1 && f.first == 0 && f.last == N - 1,
			      "rack '%s': err %d preferred %d records %lld..%lld", here[k], f.err,
			      f.preferred, (long long)f.first, (long long)f.last);
	}

	/* node 2 serves the consumer (v11), and not before KIP-392 (v10) */
	f = wait_hw(1, topic, 0, N);
	ck_assert_int_eq(f.err, 0);
	ck_assert_int_eq(f.preferred, -1);
	ck_assert_int_eq(f.first, 0);
	ck_assert_int_eq(f.last, N - 1);
	ck_assert_int_eq(raw_fetch(1, 10, topic, 0, NULL).err, 6); /* NOT_LEADER_OR_FOLLOWER */
	f = raw_fetch(1, 11, topic, 0, "r2"); /* a follower sends nobody elsewhere */
	ck_assert_int_eq(f.preferred, -1);
	ck_assert_int_eq(f.last, N - 1);

	/* node 3 stopped, still in the ISR: acks=1 records reach node 2's log,
	 * the high watermark stays at N, and node 2 serves nothing past it */
	ch_node_pause(&cl, 2, 1);
	int fd = kh_raw_connect_port(cl.nodes[0].kafka_port);
	for (int i = 0; i < M; i++) {
		int64_t base = -1;
		ck_assert_int_eq(kh_raw_produce(fd, topic, 0, 1, 5000, "acks-1", 0, &base, 5000), 0);
		ck_assert_int_eq(base, N + i);
	}
	close(fd);
	char seg0[1024], seg1[1024];
	ch_segment_path(&cl, 0, topic, seg0, sizeof(seg0));
	ch_segment_path(&cl, 1, topic, seg1, sizeof(seg1));
	deadline = kh_now_ms() + 5000;
	while (ch_file_size(seg1) != ch_file_size(seg0) && kh_now_ms() < deadline)
		kh_sleep_ms(20);
	ck_assert_int_eq(ch_file_size(seg1), ch_file_size(seg0)); /* node 2 has them */
	f = raw_fetch(0, 11, topic, N, "r1");
	ck_assert_int_eq(f.hw, N); /* the leader's high watermark waits for node 3 */
	f = raw_fetch(1, 11, topic, 0, "r2");
	ck_assert_int_eq(f.err, 0);
	ck_assert_int_eq(f.hw, N);
	ck_assert_int_eq(f.last, N - 1);
	f = raw_fetch(1, 11, topic, N, "r2"); /* at its high watermark: nothing yet */
	ck_assert_int_eq(f.err, 0);
	ck_assert_int_eq(f.bytes, 0);
	f = raw_fetch(1, 11, topic, N + M, "r2"); /* at its log end: nothing */
	ck_assert_int_eq(f.err, 0);
	ck_assert_int_eq(f.bytes, 0);
	f = raw_fetch(1, 11, topic, N + M + 1, "r2"); /* past it */
	ck_assert_int_eq(f.err, 1); /* OFFSET_OUT_OF_RANGE */

	/* node 3 back: the high watermark moves, node 2 serves the rest */
	ch_node_pause(&cl, 2, 0);
	f = wait_hw(1, topic, N, N + M);
	ck_assert_int_eq(f.hw, N + M);
	ck_assert_int_eq(f.err, 0);
	ck_assert_int_eq(f.first, N);
	ck_assert_int_eq(f.last, N + M - 1);
}
END_TEST

/* read_committed on a follower: below the last stable offset of its own
 * log (which has the transactions' records and markers as the leader's),
 * with the aborted transactions it read over. */
START_TEST(test_follower_read_committed_stops_at_open_transactions)
{
	char topic[64], txid[64];
	kh_name(topic, sizeof(topic), "racktxn");
	kh_name(txid, sizeof(txid), "racktx");
	create_rf3(topic);
	const char *kv[] = { "acks", "all", "linger.ms", "0", NULL };
	rd_kafka_t *p = kh_producer(cl.bootstrap, kv);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "plain", 0, NULL), 0);
	rd_kafka_destroy(p);
	const char *tkv[] = { "transactional.id", txid, "transaction.timeout.ms", "60000",
			      "linger.ms", "0", NULL };
	rd_kafka_t *tp = kh_producer(cl.bootstrap, tkv);
	kh_txn_ok(rd_kafka_init_transactions(tp, 60000), "init_transactions");

	/* an open transaction at offsets 2-3: node 2 serves read_committed
	 * up to 2, read_uncommitted up to 4 */
	kh_txn_ok(rd_kafka_begin_transaction(tp), "begin");
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(rd_kafka_producev(tp, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
						   RD_KAFKA_V_VALUE("open", 4), RD_KAFKA_V_END),
				 0);
	ck_assert_int_eq(rd_kafka_flush(tp, 20000), 0);
	struct fetched f = wait_hw(1, topic, 0, 4);
	ck_assert_int_eq(f.hw, 4);
	ck_assert_int_eq(f.last, 3);
	f = fetch_iso(1, 11, topic, 0, "r2", 1);
	ck_assert_int_eq(f.err, 0);
	ck_assert_int_eq(f.lso, 2);
	ck_assert_int_eq(f.first, 0);
	ck_assert_int_eq(f.last, 1);
	ck_assert_int_eq(f.naborted, 0);

	/* aborted (its marker at 4): read_committed reads it all, with the
	 * aborted transaction listed for the client to drop */
	kh_txn_ok(rd_kafka_abort_transaction(tp, 30000), "abort");
	f = wait_hw(1, topic, 0, 5);
	ck_assert_int_eq(f.hw, 5);
	f = fetch_iso(1, 11, topic, 0, "r2", 1);
	ck_assert_int_eq(f.err, 0);
	ck_assert_int_eq(f.lso, 5);
	ck_assert_int_eq(f.last, 4);
	ck_assert_int_eq(f.naborted, 1);
	ck_assert_int_eq(f.aborted_first, 2);

	/* committed (record 5, marker 6): read up to its marker */
	kh_txn_ok(rd_kafka_begin_transaction(tp), "begin");
	ck_assert_int_eq(rd_kafka_producev(tp, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
					   RD_KAFKA_V_VALUE("done", 4), RD_KAFKA_V_END),
			 0);
	kh_txn_ok(rd_kafka_commit_transaction(tp, 30000), "commit");
	rd_kafka_destroy(tp);
	f = wait_hw(1, topic, 5, 7);
	ck_assert_int_eq(f.hw, 7);
	f = fetch_iso(1, 11, topic, 5, "r2", 1);
	ck_assert_int_eq(f.err, 0);
	ck_assert_int_eq(f.lso, 7);
	ck_assert_int_eq(f.first, 5);
	ck_assert_int_eq(f.last, 6);
	ck_assert_int_eq(f.naborted, 0);
}
END_TEST

/* ---- a librdkafka consumer with client.rack ------------------------------ */

static int64_t rxbytes[4]; /* per node id, from the consumer's statistics */
static int stats_seen;

/* librdkafka's statistics: each broker's "nodeid" is followed (before any
 * nested object) by its "rxbytes". */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	(void)rk, (void)len, (void)opaque;
	for (int id = 1; id <= 3; id++) {
		char key[32];
		snprintf(key, sizeof(key), "\"nodeid\":%d,", id);
		const char *at = strstr(json, key);
		const char *rx = at ? strstr(at, "\"rxbytes\":") : NULL;
		if (rx)
			rxbytes[id] = strtoll(rx + 10, NULL, 10);
	}
	stats_seen++;
	return 0;
}

/* broker.rack of node id as DescribeConfigs (sent to that broker) says. */
static void describe_rack(rd_kafka_t *rk, int32_t id, char *out, size_t cap)
{
	char name[16];
	snprintf(name, sizeof(name), "%d", id);
	rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, name);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
	ck_assert_ptr_nonnull(ev);
	ck_assert_msg(!rd_kafka_event_error(ev), "%s", rd_kafka_event_error_string(ev));
	size_t n = 0, ne = 0;
	const rd_kafka_ConfigResource_t **rs =
		rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(rd_kafka_ConfigResource_error(rs[0]), 0);
	const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rs[0], &ne);
	snprintf(out, cap, "(missing)");
	for (size_t i = 0; i < ne; i++)
		if (!strcmp(rd_kafka_ConfigEntry_name(es[i]), "broker.rack"))
			snprintf(out, cap, "%s",
				 rd_kafka_ConfigEntry_value(es[i]) ? rd_kafka_ConfigEntry_value(es[i])
								   : "(null)");
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_ConfigResource_destroy(res);
}

START_TEST(test_librdkafka_consumer_reads_from_the_follower_in_its_rack)
{
	char topic[64], rack[64];
	kh_name(topic, sizeof(topic), "rackrd");
	create_rf3(topic);
	enum { N = 1000, SIZE = 100 };
	const char *kv[] = { "acks", "all", NULL };
	rd_kafka_t *p = kh_producer(cl.bootstrap, kv);
	for (int32_t id = 1; id <= 3; id++) {
		char want[8];
		snprintf(want, sizeof(want), "r%d", id);
		describe_rack(p, id, rack, sizeof(rack));
		ck_assert_str_eq(rack, want);
	}
	char value[SIZE];
	memset(value, 'v', sizeof(value));
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
						   RD_KAFKA_V_VALUE(value, sizeof(value)),
						   RD_KAFKA_V_END),
				 0);
	ck_assert_int_eq(rd_kafka_flush(p, 30000), 0);
	rd_kafka_destroy(p);

	const char *ckv[] = { "client.rack", "r2", "group.id", topic, "enable.auto.commit", "false",
			      "statistics.interval.ms", "500", NULL };
	rd_kafka_conf_t *conf = kh_conf(cl.bootstrap, ckv);
	char err[256];
	rd_kafka_conf_set_stats_cb(conf, stats_cb);
	rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	rd_kafka_poll_set_consumer(c);
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	ck_assert_int_eq(rd_kafka_assign(c, tp), 0);
	rd_kafka_topic_partition_list_destroy(tp);
	int got = 0;
	uint64_t deadline = kh_now_ms() + 60000;
	while (got < N && kh_now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 500);
		if (!m)
			continue;
		if (!m->err) {
			ck_assert_int_eq(m->offset, got);
			ck_assert_uint_eq(m->len, SIZE);
			got++;
		}
		rd_kafka_message_destroy(m);
	}
	ck_assert_int_eq(got, N);
	/* statistics taken after the records came */
	int seen = stats_seen;
	deadline = kh_now_ms() + 10000;
	while (stats_seen < seen + 2 && kh_now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
		if (m)
			rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	fprintf(stderr, "rxbytes: node 1 (leader) %lld, node 2 (r2) %lld, node 3 %lld\n",
		(long long)rxbytes[1], (long long)rxbytes[2], (long long)rxbytes[3]);
	ck_assert_int_gt(rxbytes[2], (int64_t)N * SIZE);
	ck_assert_int_lt(rxbytes[1], rxbytes[2]);
	ck_assert_int_lt(rxbytes[3], rxbytes[2]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cluster_rack");
	TCase *tc = tcase_create("rack");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_racks_preferred_replica_and_follower_reads);
	tcase_add_test(tc, test_follower_read_committed_stops_at_open_transactions);
	tcase_add_test(tc, test_librdkafka_consumer_reads_from_the_follower_in_its_rack);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
