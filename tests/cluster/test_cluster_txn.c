/*
 * Transactions on the cluster with a real client (librdkafka's
 * transactional producer and read_committed consumers): three tandemd
 * nodes and a private ZooKeeper on loopback (cluster_harness.h).
 *
 * - a transaction over three partitions led by three nodes: the
 *   coordinator (the group coordinator's node) writes its own
 *   partition's marker and has the other leaders write theirs
 *   (WriteTxnMarkers over the cluster link); read_committed consumers see
 *   the commits and not the abort, read_uncommitted ones see everything;
 * - kill -9 of the coordinator during an open transaction with records in
 *   every partition and offsets for a group: the new coordinator (the new
 *   leader of __consumer_offsets-0) reads the state from its replica of
 *   the log and the producer commits the transaction there (markers to
 *   every partition, one of them now led by another node; the offsets to
 *   the group); then a new incarnation of the producer fences the old one
 *   and aborts what it left open;
 * - kill -9 of a partition's leader (not the coordinator) during a
 *   transaction: its commit marker is written by the partition's new
 *   leader, and read_committed consumers see the transaction.
 *
 * Every wait is bounded.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_harness.h"
#include "kafka_harness.h"
#include "kraw.h"

#define TEST_TIMEOUT 240
#define PARTS 3

static struct ch_cluster cl;

static void setup(void)
{
	static const char *const extra[] = { "--replica-lag-time-max-ms", "4000", NULL };
	ch_start(&cl, 3, extra);
}

static void teardown(void)
{
	ch_stop(&cl);
}

/* A topic of PARTS partitions on every node; *distinct: how many nodes
 * lead them. */
static void make_spread_topic(const char *name, int *distinct)
{
	rd_kafka_t *admin = kh_producer(cl.bootstrap, NULL);
	rd_kafka_resp_err_t err = kh_create_topic(admin, name, PARTS, 3, NULL);
	int32_t leaders[PARTS];

	rd_kafka_destroy(admin);
	ck_assert_msg(err == 0, "CreateTopics %s: %s", name, rd_kafka_err2str(err));
	*distinct = 0;
	for (int p = 0; p < PARTS; p++) {
		leaders[p] = ch_wait_leader(&cl, name, p, 3, 20000);
		ck_assert_msg(leaders[p] >= 0, "%s-%d: no leader with 3 in-sync replicas", name, p);
		int seen = 0;
		for (int q = 0; q < p; q++)
			seen |= leaders[q] == leaders[p];
		*distinct += !seen;
	}
}

/* A transactional producer whose init may wait for a new coordinator. */
static rd_kafka_t *producer(const char *txid)
{
	const char *kv[] = { "transactional.id", txid, "transaction.timeout.ms", "60000",
			     "linger.ms", "0", NULL };
	rd_kafka_t *p = kh_producer(cl.bootstrap, kv);
	kh_txn_ok(rd_kafka_init_transactions(p, 60000), "init_transactions");
	return p;
}

static void produce_all(rd_kafka_t *p, const char *topic, const char *value)
{
	for (int32_t part = 0; part < PARTS; part++)
		ck_assert_int_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
						   RD_KAFKA_V_PARTITION(part),
						   RD_KAFKA_V_VALUE((void *)value, strlen(value)),
						   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						   RD_KAFKA_V_END),
				 RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* One transaction writing value to every partition, committed or aborted. */
static void transaction(rd_kafka_t *p, const char *topic, const char *value, int commit)
{
	kh_txn_ok(rd_kafka_begin_transaction(p), "begin_transaction");
	produce_all(p, topic, value);
	/* sent first: an abort purges what it has not sent yet */
	ck_assert_int_eq(rd_kafka_flush(p, 10000), 0);
	if (commit)
		kh_txn_ok(rd_kafka_commit_transaction(p, 30000), "commit_transaction");
	else
		kh_txn_ok(rd_kafka_abort_transaction(p, 30000), "abort_transaction");
}

/* The node coordinating transactional id txid, as a live node's
 * FindCoordinator v1 (key type 1) answers it; -1 when none did within
 * timeout_ms. */
static int32_t txn_coordinator(const char *txid, int timeout_ms)
{
	static uint8_t resp[4096];
	uint64_t deadline = kh_now_ms() + (uint64_t)timeout_ms;

	while (kh_now_ms() < deadline) {
		for (int i = 0; i < cl.n; i++) {
			int fd = cl.nodes[i].pid > 0 ? kh_raw_connect_port(cl.nodes[i].kafka_port) : -1;
			struct wb w = { .n = 0 };
			if (fd < 0)
				continue;
			wstr(&w, txid);
			w8(&w, 1);
			kh_raw_request(fd, 10, 1, 3, w.d, w.n);
			long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
			close(fd);
			struct rb r = { resp, n > 0 ? (size_t)n : 0, 0 };
			if (n <= 0 || r32(&r) != 3)
				continue;
			r32(&r); /* throttle_time_ms */
			int16_t err = r16(&r);
			rskipstr(&r); /* error_message */
			int32_t node = r32(&r);
			if (err == 0 && node >= 0)
				return node;
		}
		kh_sleep_ms(200);
	}
	return -1;
}

/* Every partition reads want with isolation.level iso. */
static void every_partition_reads(const char *topic, const char *iso, const char *want)
{
	char got[256];

	for (int32_t part = 0; part < PARTS; part++) {
		kh_read_values(cl.bootstrap, topic, part, iso, got, sizeof got);
		ck_assert_msg(strcmp(got, want) == 0, "%s-%d %s: read \"%s\", want \"%s\"", topic,
			      (int)part, iso, got, want);
	}
}

START_TEST(test_cluster_txn_markers_reach_every_leader)
{
	char topic[64];
	int distinct;

	kh_name(topic, sizeof topic, "txnspread");
	make_spread_topic(topic, &distinct);
	ck_assert_msg(distinct >= 2, "the partitions of %s have %d leader(s)", topic, distinct);
	rd_kafka_t *p = producer("cluster-txn");
	transaction(p, topic, "c1", 1);
	transaction(p, topic, "a1", 0);
	transaction(p, topic, "c2", 1);
	rd_kafka_destroy(p);
	every_partition_reads(topic, "read_committed", "c1,c2");
	every_partition_reads(topic, "read_uncommitted", "c1,a1,c2");
}
END_TEST

/* Offset off of every partition of topic, for group, in p's open
 * transaction (TxnOffsetCommit through the group's coordinator). */
static void send_offsets(rd_kafka_t *p, const char *topic, const char *group, int64_t off)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
	for (int32_t part = 0; part < PARTS; part++)
		rd_kafka_topic_partition_list_add(l, topic, part)->offset = off;
	rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata_new(group);
	kh_txn_ok(rd_kafka_send_offsets_to_transaction(p, l, md, 30000),
		  "send_offsets_to_transaction");
	rd_kafka_consumer_group_metadata_destroy(md);
	rd_kafka_topic_partition_list_destroy(l);
}

/* Every partition of topic has offset want committed for group. */
static void every_partition_committed(const char *topic, const char *group, int64_t want)
{
	const char *kv[] = { "group.id", group, NULL };
	rd_kafka_t *c = kh_consumer(cl.bootstrap, kv);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
	for (int32_t part = 0; part < PARTS; part++)
		rd_kafka_topic_partition_list_add(l, topic, part);
	rd_kafka_resp_err_t e = rd_kafka_committed(c, l, 30000);
	ck_assert_msg(e == 0, "committed: %s", rd_kafka_err2str(e));
	for (int i = 0; i < l->cnt; i++)
		ck_assert_msg(l->elems[i].offset == want, "%s-%d: committed %lld, want %lld", topic,
			      (int)l->elems[i].partition, (long long)l->elems[i].offset,
			      (long long)want);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(c);
}

START_TEST(test_cluster_txn_goes_on_through_a_coordinator_kill9)
{
	char topic[64], group[64];
	int distinct;

	kh_name(topic, sizeof topic, "txnkill");
	kh_name(group, sizeof group, "txnkill-group");
	make_spread_topic(topic, &distinct);
	rd_kafka_t *p = producer("cluster-txn-kill");
	transaction(p, topic, "kept", 1);
	kh_txn_ok(rd_kafka_begin_transaction(p), "begin_transaction");
	produce_all(p, topic, "open");
	ck_assert_int_eq(rd_kafka_flush(p, 10000), 0);
	send_offsets(p, topic, group, 7);

	int32_t coord = txn_coordinator("cluster-txn-kill", 10000);
	int ci = ch_index(&cl, coord);
	ck_assert_msg(ci >= 0, "no transaction coordinator: %d", coord);
	ch_node_kill9(&cl, ci);
	fprintf(stderr, "killed the transaction coordinator, node %d\n", coord);

	/* the new coordinator read the open transaction (its partitions and
	 * offsets) from its replica of the log: the producer commits it */
	kh_txn_ok(rd_kafka_commit_transaction(p, 90000), "commit_transaction after the kill");
	transaction(p, topic, "after", 1);
	rd_kafka_destroy(p);
	every_partition_reads(topic, "read_committed", "kept,open,after");
	every_partition_committed(topic, group, 7);
	int32_t now = txn_coordinator("cluster-txn-kill", 10000);
	ck_assert_msg(now >= 0 && now != coord, "the coordinator is %d (was %d)", now, coord);

	/* a new incarnation fences the old epoch and aborts what it left open */
	p = producer("cluster-txn-kill");
	kh_txn_ok(rd_kafka_begin_transaction(p), "begin_transaction");
	produce_all(p, topic, "left");
	ck_assert_int_eq(rd_kafka_flush(p, 10000), 0);
	rd_kafka_t *q = producer("cluster-txn-kill");
	transaction(q, topic, "last", 1);
	rd_kafka_destroy(q);
	rd_kafka_destroy(p);
	every_partition_reads(topic, "read_committed", "kept,open,after,last");
	every_partition_reads(topic, "read_uncommitted", "kept,open,after,left,last");
	ch_node_start(&cl, ci);
}
END_TEST

START_TEST(test_cluster_txn_marker_reaches_a_partition_whose_leader_died)
{
	char topic[64];
	int distinct;

	kh_name(topic, sizeof topic, "txnlead");
	make_spread_topic(topic, &distinct);
	rd_kafka_t *p = producer("cluster-txn-lead");
	int32_t coord = txn_coordinator("cluster-txn-lead", 10000);
	int32_t victim = -1;
	for (int32_t part = 0; part < PARTS && victim < 0; part++) {
		int32_t leader = ch_wait_leader(&cl, topic, part, 3, 10000);
		if (leader >= 0 && leader != coord)
			victim = leader;
	}
	ck_assert_msg(victim >= 0, "every partition of %s is led by the coordinator %d", topic,
		      coord);
	kh_txn_ok(rd_kafka_begin_transaction(p), "begin_transaction");
	produce_all(p, topic, "in");
	ck_assert_int_eq(rd_kafka_flush(p, 10000), 0);
	int vi = ch_index(&cl, victim);
	ch_node_kill9(&cl, vi);
	fprintf(stderr, "killed node %d, a partition leader (coordinator %d)\n", victim, coord);
	/* the decision is the coordinator's; the marker of the dead leader's
	 * partition goes to its new leader, which has the acknowledged records */
	kh_txn_ok(rd_kafka_commit_transaction(p, 90000), "commit_transaction");
	rd_kafka_destroy(p);
	every_partition_reads(topic, "read_committed", "in");
	ch_node_start(&cl, vi);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cluster_txn");
	TCase *tc = tcase_create("txn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_cluster_txn_markers_reach_every_leader);
	tcase_add_test(tc, test_cluster_txn_goes_on_through_a_coordinator_kill9);
	tcase_add_test(tc, test_cluster_txn_marker_reaches_a_partition_whose_leader_died);
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
