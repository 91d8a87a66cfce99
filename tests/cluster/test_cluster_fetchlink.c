/*
 * The replica fetchers replicate over the authenticated cluster link
 * (cluster_port, SASL PLAIN as tandem-cluster with cluster_secret_file's
 * secret), not over the public Kafka listener as its anonymous user:
 *
 * - the Kafka listener's anonymous user (guest, kafka_default_user) is no
 *   administrator, and replication still works: a topic with replication
 *   factor 3 takes acks=all records, and every node holds them byte for
 *   byte (a follower's Fetch on the public listener would be refused with
 *   CLUSTER_AUTHORIZATION_FAILED);
 * - a node whose secret differs from the others' is refused by the
 *   leader's cluster port: it logs a warning naming the leader and the
 *   refusal (once, though it keeps retrying), leaves the ISR, and the
 *   leader keeps serving acks=all with the two others; nothing crashes
 *   (ch_stop checks every node exits 0);
 * - without cluster ports (cluster_port 0 on every node) the fetchers use
 *   the Kafka listener as before, anonymously, and each follower warns
 *   once that it replicates unauthenticated.
 *
 * Three tandemd nodes and a private ZooKeeper (cluster_harness.h), one
 * cluster per test.  Built by make check, run by scripts/test.sh's cluster
 * stage (or CK_RUN_CASE=... b/tests/cluster/test_cluster_fetchlink).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_harness.h"
#include "kafka_harness.h"

#define TEST_TIMEOUT 180

static struct ch_cluster cl;

static void setup(void)
{
	static const char *const extra[] = { "--replica-lag-time-max-ms", "3000", NULL };
	ch_start(&cl, 3, extra);
}

static void teardown(void)
{
	ch_stop(&cl);
}

/* CreateTopics of name, one partition on replicas (leader first); fails
 * the test unless it is created. */
static void create_assigned(const char *name, const int32_t *replicas, int n)
{
	rd_kafka_t *rk = kh_producer(cl.bootstrap, NULL);
	rd_kafka_resp_err_t e = kh_create_topic_assigned(rk, name, replicas, n);
	rd_kafka_destroy(rk);
	ck_assert_msg(e == RD_KAFKA_RESP_ERR_NO_ERROR, "CreateTopics %s: %s", name,
		      rd_kafka_err2str(e));
}

/* An acks=all producer that gives up on a record after 20 s. */
static rd_kafka_t *acks_all_producer(void)
{
	const char *kv[] = { "acks", "all", "message.timeout.ms", "20000", "linger.ms", "5",
			     NULL };
	return kh_producer(cl.bootstrap, kv);
}

/* topic/0's ISR size as node 0 tells it, polled until it is want (bounded
 * by timeout_ms); the last size seen. */
static int wait_isr(const char *topic, int want, int timeout_ms)
{
	uint64_t deadline = kh_now_ms() + (uint64_t)timeout_ms;
	int nisr = -1;
	for (;;) {
		if (ch_leader(&cl, 0, topic, 0, &nisr) < 0)
			nisr = -1;
		if (nisr == want || kh_now_ms() >= deadline)
			return nisr;
		kh_sleep_ms(200);
	}
}

/* Lines of node i's log (since its last start) holding what. */
static int log_count(int i, const char *what)
{
	FILE *f = fopen(cl.nodes[i].log, "r");
	char line[2048];
	int n = 0;
	ck_assert_ptr_nonnull(f);
	fseek(f, cl.nodes[i].log_from, SEEK_SET);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

START_TEST(test_fetch_replicates_over_the_cluster_link_when_anonymous_is_no_administrator)
{
	/* guest, the Kafka listener's anonymous user, keeps its permissions
	 * but is no administrator any more, on every node */
	static const char body[] = "{\"password\":\"guest\",\"tags\":\"\"}";
	char out[1024];
	for (int i = 0; i < cl.n; i++) {
		int st = ch_http(&cl, i, "PUT", "/api/users/guest", body, out, sizeof(out));
		/* 401: the change already reached this node (cluster-wide users) */
		ck_assert_msg(st == 201 || st == 204 || st == 401, "node %d: PUT guest: %d %s",
			      cl.nodes[i].id, st, out);
	}
	char topic[64];
	kh_name(topic, sizeof(topic), "fetchlink");
	static const int32_t replicas[3] = { 1, 2, 3 };
	create_assigned(topic, replicas, 3);
	ck_assert_int_eq(ch_wait_leader(&cl, topic, 0, 3, 20000), 1);

	enum { N = 50 };
	rd_kafka_t *p = acks_all_producer();
	for (int i = 0; i < N; i++) {
		char value[32];
		int64_t off = -1;
		snprintf(value, sizeof(value), "rec-%04d", i);
		rd_kafka_resp_err_t e = kh_produce_sync(p, topic, 0, NULL, value, 0, &off);
		ck_assert_msg(e == RD_KAFKA_RESP_ERR_NO_ERROR,
			      "acks=all record %d: %s (do the followers fetch?)", i,
			      rd_kafka_err2str(e));
		ck_assert_int_eq(off, i);
	}
	rd_kafka_destroy(p);
	ck_assert_int_eq(wait_isr(topic, 3, 10000), 3);
	ch_assert_replicas_identical(&cl, topic);
	/* the followers said nothing of replicating unauthenticated */
	for (int i = 0; i < cl.n; i++)
		ck_assert_msg(!ch_log_says(&cl, i, "unauthenticated"),
			      "node %d replicates unauthenticated", cl.nodes[i].id);
}
END_TEST

START_TEST(test_fetch_with_a_wrong_secret_stays_out_of_the_isr_and_warns_once)
{
	/* node 3 restarted with a secret of its own */
	char *other = cl.nodes[2].secret_file;
	ck_assert_int_lt(snprintf(other, sizeof(cl.nodes[2].secret_file), "%s/other.secret",
				  cl.root),
			 (int)sizeof(cl.nodes[2].secret_file));
	ch_write_secret(other, "not-the-cluster-secret-0123456789");
	ch_node_stop(&cl, 2);
	ch_node_start(&cl, 2);

	char topic[64];
	kh_name(topic, sizeof(topic), "wrongsecret");
	static const int32_t replicas[3] = { 1, 2, 3 };
	create_assigned(topic, replicas, 3);
	ck_assert_int_eq(ch_wait_leader(&cl, topic, 0, 2, 20000), 1);
	/* node 3 never fetches: the leader drops it from the ISR */
	int nisr = wait_isr(topic, 2, 20000);
	ck_assert_msg(nisr == 2, "node 3 with a wrong secret: ISR of %d", nisr);

	const char *warning = "replica fetcher: node 1's cluster port refused to authenticate us";
	uint64_t deadline = kh_now_ms() + 10000;
	while (!ch_log_says(&cl, 2, warning) && kh_now_ms() < deadline)
		kh_sleep_ms(100);
	ck_assert_msg(ch_log_says(&cl, 2, warning), "node 3 did not log: %s", warning);
	ck_assert_msg(ch_log_says(&cl, 2, "is cluster_secret_file the same on every node?"),
		      "node 3's warning does not say why");

	/* the two others still take acks=all records */
	rd_kafka_t *p = acks_all_producer();
	int64_t off = -1;
	ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "after", 0, &off),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
	ck_assert_int_eq(wait_isr(topic, 2, 1000), 2);

	/* it kept retrying (several refusals), but warned once */
	int warned = log_count(2, warning),
	    refused = log_count(2, "connection to node 1 refused our authentication");
	ck_assert_msg(refused >= 2 && warned == 1, "%d refusals, %d warnings", refused, warned);
}
END_TEST

static void setup_no_cluster_port(void)
{
	/* after the harness's own --cluster-port: no node has one */
	static const char *const extra[] = { "--replica-lag-time-max-ms", "3000", "--cluster-port",
					     "0", NULL };
	ch_start(&cl, 3, extra);
}

START_TEST(test_fetch_without_cluster_ports_uses_the_kafka_listener_and_warns_once)
{
	char topic[64];
	kh_name(topic, sizeof(topic), "plainfetch");
	static const int32_t replicas[3] = { 1, 2, 3 };
	create_assigned(topic, replicas, 3);
	ck_assert_int_eq(ch_wait_leader(&cl, topic, 0, 3, 20000), 1);
	rd_kafka_t *p = acks_all_producer();
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "plain", 0, NULL),
				 RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
	ck_assert_int_eq(wait_isr(topic, 3, 10000), 3);
	ch_assert_replicas_identical(&cl, topic);
	/* each follower of node 1 warned, once */
	const char *warning = "replicating from node 1 over its Kafka listener, unauthenticated "
			      "(this node has no cluster_port)";
	for (int i = 1; i < 3; i++)
		ck_assert_msg(log_count(i, warning) == 1, "node %d: %d warnings \"%s\"",
			      cl.nodes[i].id, log_count(i, warning), warning);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cluster_fetchlink");
	TCase *tc = tcase_create("admin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_fetch_replicates_over_the_cluster_link_when_anonymous_is_no_administrator);
	suite_add_tcase(s, tc);
	TCase *ws = tcase_create("secret");
	tcase_add_checked_fixture(ws, setup, teardown);
	tcase_set_timeout(ws, TEST_TIMEOUT);
	tcase_add_test(ws, test_fetch_with_a_wrong_secret_stays_out_of_the_isr_and_warns_once);
	suite_add_tcase(s, ws);
	TCase *np = tcase_create("plain");
	tcase_add_checked_fixture(np, setup_no_cluster_port, teardown);
	tcase_set_timeout(np, TEST_TIMEOUT);
	tcase_add_test(np, test_fetch_without_cluster_ports_uses_the_kafka_listener_and_warns_once);
	suite_add_tcase(s, np);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
