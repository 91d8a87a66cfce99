/*
 * The log side of the cluster with a real client (librdkafka): three
 * tandemd nodes and a private ZooKeeper on loopback (cluster_harness.h).
 *
 * - replication: a topic with replication factor 3 has every record on
 *   every node, byte for byte, and Metadata shows its leader and ISR;
 * - kill -9 of the leader while a producer writes with acks=all to a
 *   topic with min.insync.replicas=2: every acknowledged record is
 *   afterwards at the offset it was acknowledged at, in order; the killed
 *   node, restarted, catches up and is back in the ISR;
 * - kill -9 of the controller: another node takes over and topics can
 *   still be created;
 * - the leader paused (SIGSTOP) past its ZooKeeper session timeout under
 *   acks=all: its session expires, it is fenced, and every acknowledged
 *   record is on the new leader at its offset.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster_harness.h"
#include "kafka_harness.h"

#define TEST_TIMEOUT 240

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

static void make_topic(const char *name, int partitions, int rf, const char *const *configs)
{
	rd_kafka_t *admin = kh_producer(cl.bootstrap, NULL);
	rd_kafka_resp_err_t err = kh_create_topic(admin, name, partitions, rf, configs);
	rd_kafka_destroy(admin);
	ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "CreateTopics %s: %s", name,
		      rd_kafka_err2str(err));
	for (int p = 0; p < partitions; p++)
		ck_assert_msg(ch_wait_leader(&cl, name, p, rf, 20000) >= 0,
			      "%s-%d: no leader with %d in-sync replicas", name, p, rf);
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static char *slurp(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)*len + 1);
	if (b && fread(b, 1, (size_t)*len, f) != (size_t)*len) {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

/* ---- delivery bookkeeping of an acks=all producer ---------------------- */

struct sent {
	int64_t offset; /* acknowledged offset, -1 when not acknowledged */
	int err;
	int reported;
};

static struct sent *sent;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk, (void)opaque;
	struct sent *s = &sent[(intptr_t)m->_private];
	s->reported = 1;
	s->err = m->err;
	s->offset = m->err ? -1 : m->offset;
}

static rd_kafka_t *acks_all_producer(void)
{
	char err[256];
	const char *kv[] = { "acks", "all", "linger.ms", "5", "max.in.flight.requests.per.connection",
			     "1", "message.timeout.ms", "90000", "retries", "1000000",
			     "retry.backoff.ms", "200", "topic.metadata.refresh.interval.ms", "1000",
			     NULL };
	rd_kafka_conf_t *conf = kh_conf(cl.bootstrap, kv);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	ck_assert_msg(rk != NULL, "%s", err);
	return rk;
}

static void produce_one(rd_kafka_t *rk, const char *topic, int i)
{
	char value[32];
	snprintf(value, sizeof(value), "rec-%06d", i);
	rd_kafka_resp_err_t e;
	do {
		e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
				      RD_KAFKA_V_VALUE(value, strlen(value)),
				      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				      RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 10);
	} while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
	ck_assert_msg(e == 0, "produce: %s", rd_kafka_err2str(e));
}

/* Reads partition 0 of topic from offset 0 to its end (through any node);
 * returns the count, values in out[offset]. */
static int read_all(const char *topic, char **out, int max)
{
	const char *kv[] = { "group.id", "check", KH_READ_TO_END, NULL };
	rd_kafka_t *c = kh_consumer(cl.bootstrap, kv);
	struct kh_msg *m = calloc((size_t)max, sizeof(*m));
	int n = kh_consume(c, topic, 0, 0, m, max, 30000);
	for (int i = 0; i < n; i++) {
		ck_assert_msg(m[i].offset == i, "offset %lld at position %d", (long long)m[i].offset,
			      i);
		out[i] = strdup(m[i].value);
	}
	kh_msgs_free(m, n);
	free(m);
	rd_kafka_destroy(c);
	return n;
}

START_TEST(test_cluster_replicates_every_record_to_every_node)
{
	char topic[64];
	kh_name(topic, sizeof(topic), "rep");
	make_topic(topic, 1, 3, NULL);
	int32_t leader = ch_wait_leader(&cl, topic, 0, 3, 10000);
	ck_assert_int_ge(leader, 1);

	enum { N = 500 };
	sent = calloc(N, sizeof(*sent));
	rd_kafka_t *p = acks_all_producer();
	for (int i = 0; i < N; i++)
		produce_one(p, topic, i);
	ck_assert_int_eq(rd_kafka_flush(p, 60000), 0);
	rd_kafka_destroy(p);
	for (int i = 0; i < N; i++)
		ck_assert_msg(sent[i].reported && sent[i].err == 0, "record %d: %s", i,
			      rd_kafka_err2str(sent[i].err));

	char *vals[N + 10] = { 0 };
	ck_assert_int_eq(read_all(topic, vals, N + 10), N);
	for (int i = 0; i < N; i++) {
		char want[32];
		snprintf(want, sizeof(want), "rec-%06d", i);
		ck_assert_str_eq(vals[i], want);
		free(vals[i]);
	}
	/* byte for byte on every node (followers may still be writing the
	 * last fetch: wait for the sizes to agree) */
	char path[3][700];
	for (int i = 0; i < 3; i++)
		snprintf(path[i], sizeof(path[i]), "%s/logs/%s-0/00000000000000000000.log",
			 cl.nodes[i].dir, topic);
	uint64_t deadline = kh_now_ms() + 10000;
	while (kh_now_ms() < deadline && !(file_size(path[0]) > 0 &&
					    file_size(path[0]) == file_size(path[1]) &&
					    file_size(path[1]) == file_size(path[2])))
		kh_sleep_ms(100);
	long len[3];
	char *data[3];
	for (int i = 0; i < 3; i++) {
		data[i] = slurp(path[i], &len[i]);
		ck_assert_msg(data[i] != NULL, "%s missing", path[i]);
	}
	ck_assert_int_eq(len[0], len[1]);
	ck_assert_int_eq(len[1], len[2]);
	ck_assert_msg(memcmp(data[0], data[1], (size_t)len[0]) == 0 &&
			      memcmp(data[1], data[2], (size_t)len[0]) == 0,
		      "the replicas' segments differ");
	for (int i = 0; i < 3; i++)
		free(data[i]);
	free(sent);
}
END_TEST

/* How the leader is taken away in a round. */
enum fault { KILL9, PAUSE };

/* One round: produce n records with acks=all; after `kill_after` are
 * acknowledged, kill -9 the leader (restarted at the end), or pause it
 * with SIGSTOP past its ZooKeeper session timeout (then SIGCONT: it is
 * fenced and must acknowledge nothing the new leader lacks); check every
 * acknowledged record. */
static void leader_fault_round(const char *topic, int n, int kill_after, enum fault fault)
{
	sent = calloc((size_t)n, sizeof(*sent));
	rd_kafka_t *p = acks_all_producer();
	int32_t leader = ch_wait_leader(&cl, topic, 0, 2, 20000);
	ck_assert_int_ge(leader, 1);
	int li = ch_index(&cl, leader), killed = 0;
	uint64_t paused_at = 0;
	for (int i = 0; i < n; i++) {
		produce_one(p, topic, i);
		rd_kafka_poll(p, 0);
		if (!killed && i >= kill_after) {
			/* once `kill_after` records are acknowledged */
			uint64_t deadline = kh_now_ms() + 30000;
			int acked = 0;
			while (kh_now_ms() < deadline) {
				acked = 0;
				for (int j = 0; j < i; j++)
					acked += sent[j].reported && sent[j].err == 0;
				if (acked >= kill_after)
					break;
				rd_kafka_poll(p, 20);
			}
			if (fault == KILL9) {
				ch_node_kill9(&cl, li);
			} else {
				ch_node_pause(&cl, li, 1);
				paused_at = kh_now_ms();
			}
			fprintf(stderr, "%s leader %d after %d acknowledged\n",
				fault == KILL9 ? "killed" : "paused", leader, acked);
			killed = 1;
		}
		if (paused_at && kh_now_ms() - paused_at > CH_SESSION_MS + 3000) {
			ch_node_pause(&cl, li, 0);
			paused_at = 0;
		}
	}
	while (paused_at) { /* keep the pause past the session timeout */
		rd_kafka_poll(p, 50);
		if (kh_now_ms() - paused_at > CH_SESSION_MS + 3000) {
			ch_node_pause(&cl, li, 0);
			paused_at = 0;
		}
	}
	ck_assert_msg(rd_kafka_flush(p, 120000) == 0, "records still unsent after 120 s");
	rd_kafka_destroy(p);
	if (fault == KILL9)
		ch_node_start(&cl, li);

	char **vals = calloc((size_t)n * 2 + 10, sizeof(char *));
	int got = read_all(topic, vals, n * 2 + 10);
	int64_t last = -1;
	int acked = 0;
	for (int i = 0; i < n; i++) {
		if (!sent[i].reported || sent[i].err)
			continue;
		acked++;
		char want[32];
		snprintf(want, sizeof(want), "rec-%06d", i);
		ck_assert_msg(sent[i].offset < got, "record %d acknowledged at %lld, log ends at %d",
			      i, (long long)sent[i].offset, got);
		ck_assert_msg(strcmp(vals[sent[i].offset], want) == 0,
			      "offset %lld holds %s, acknowledged for %s", (long long)sent[i].offset,
			      vals[sent[i].offset], want);
		ck_assert_msg(sent[i].offset > last, "record %d acknowledged out of order", i);
		last = sent[i].offset;
	}
	ck_assert_msg(acked == n, "%d of %d records acknowledged", acked, n);
	for (int i = 0; i < got; i++)
		free(vals[i]);
	free(vals);
	free(sent);
	/* the restarted node catches up and is in the ISR again */
	ck_assert_msg(ch_wait_leader(&cl, topic, 0, 3, 30000) >= 0,
		      "the restarted node did not rejoin the ISR");
}

START_TEST(test_cluster_leader_kill9_under_acks_all_loses_nothing)
{
	char topic[64];
	static const char *const cfg[] = { "min.insync.replicas", "2", NULL };
	kh_name(topic, sizeof(topic), "kill");
	make_topic(topic, 1, 3, cfg);
	srand((unsigned)kh_now_ms());
	for (int round = 0; round < 2; round++)
		leader_fault_round(topic, 2000, 300 + (rand() % 800), KILL9);
}
END_TEST

START_TEST(test_cluster_paused_leader_is_fenced_and_acknowledges_nothing_lost)
{
	char topic[64];
	static const char *const cfg[] = { "min.insync.replicas", "2", NULL };
	kh_name(topic, sizeof(topic), "pause");
	make_topic(topic, 1, 3, cfg);
	leader_fault_round(topic, 1500, 200 + (rand() % 500), PAUSE);
}
END_TEST

START_TEST(test_cluster_controller_kill9_moves_the_controller)
{
	int32_t ctl = -1;
	uint64_t deadline = kh_now_ms() + 20000;
	while ((ctl = ch_controller(&cl)) < 0 && kh_now_ms() < deadline)
		kh_sleep_ms(200);
	ck_assert_int_ge(ctl, 1);
	int ci = ch_index(&cl, ctl);
	ch_node_kill9(&cl, ci);
	int32_t now = -1;
	deadline = kh_now_ms() + 30000;
	while (kh_now_ms() < deadline) {
		now = ch_controller(&cl);
		if (now >= 1 && now != ctl)
			break;
		kh_sleep_ms(200);
	}
	ck_assert_msg(now >= 1 && now != ctl, "no new controller after %d died (still %d)", ctl,
		      now);
	char topic[64];
	kh_name(topic, sizeof(topic), "afterctl");
	make_topic(topic, 2, 2, NULL);
	ch_node_start(&cl, ci);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc = tcase_create("cluster");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_cluster_replicates_every_record_to_every_node);
	tcase_add_test(tc, test_cluster_leader_kill9_under_acks_all_loses_nothing);
	tcase_add_test(tc, test_cluster_controller_kill9_moves_the_controller);
	tcase_add_test(tc, test_cluster_paused_leader_is_fenced_and_acknowledges_nothing_lost);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
