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
 * - kill -9 of the coordinator during an open transaction: the new
 *   coordinator (the new leader of __consumer_offsets-0) reads the state
 *   from the replicated log and aborts the open transaction (markers to
 *   every partition, one of them now led by another node): nothing holds
 *   read_committed consumers, the transactional id goes on with its epoch
 *   bumped, and what was committed before is still committed.
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
	if (commit)
		kh_txn_ok(rd_kafka_commit_transaction(p, 30000), "commit_transaction");
	else
		kh_txn_ok(rd_kafka_abort_transaction(p, 30000), "abort_transaction");
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

START_TEST(test_cluster_txn_coordinator_kill9_aborts_the_open_transaction)
{
	char topic[64];
	int distinct;

	kh_name(topic, sizeof topic, "txnkill");
	make_spread_topic(topic, &distinct);
	rd_kafka_t *p = producer("cluster-txn-kill");
	transaction(p, topic, "kept", 1);
	kh_txn_ok(rd_kafka_begin_transaction(p), "begin_transaction");
	produce_all(p, topic, "open");
	ck_assert_int_eq(rd_kafka_flush(p, 10000), 0);

	int32_t coord = ch_wait_leader(&cl, "__consumer_offsets", 0, 1, 10000);
	int ci = ch_index(&cl, coord);
	ck_assert_msg(ci >= 0, "no coordinator (leader of __consumer_offsets-0): %d", coord);
	ch_node_kill9(&cl, ci);
	fprintf(stderr, "killed the transaction coordinator, node %d\n", coord);
	rd_kafka_destroy(p);

	/* the id goes on; what it commits now is readable past the aborted
	 * records: the abort's markers reached every partition */
	p = producer("cluster-txn-kill");
	transaction(p, topic, "after", 1);
	rd_kafka_destroy(p);
	every_partition_reads(topic, "read_committed", "kept,after");
	every_partition_reads(topic, "read_uncommitted", "kept,open,after");
	ck_assert_msg(ch_wait_leader(&cl, "__consumer_offsets", 0, 1, 10000) != coord,
		      "node %d still coordinates", coord);
	ch_node_start(&cl, ci);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cluster_txn");
	TCase *tc = tcase_create("txn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_cluster_txn_markers_reach_every_leader);
	tcase_add_test(tc, test_cluster_txn_coordinator_kill9_aborts_the_open_transaction);
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
