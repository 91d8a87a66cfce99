/*
 * The cluster link's client (src/cluster/link.c) against a real tandemd
 * with a cluster port: the link runs in this process on its own event
 * base, as node 2, and sends Produce requests to the broker (node 1).
 *
 * - a record carrying the broker's own header ("x-amqp-properties", what
 *   a forwarded AMQP publish carries) is taken over the link and read back
 *   with its header; fifty records given in one loop turn go as one
 *   Produce (one RecordBatch v2) and are answered one by one, in order;
 * - more than a batch holds (500 records, 1 MiB) makes several Produces,
 *   in order; the leader's error answer to a batch fails each record with
 *   it; a peer down fails each record of the batch with the reason;
 * - through the replica manager (tdm_replica_forward, as a stream queue
 *   publish goes): a record forgotten (tdm_replica_op_forget) is not
 *   answered, the others of its Produce are;
 * - a wrong secret fails the request with the reason, and so does a node
 *   without a cluster port;
 * - a stopped peer fails what was sent; once it is back the next request
 *   connects again and is answered;
 * - transaction markers (WriteTxnMarkers v0): appended, answered in the
 *   order given; an older producer epoch is fenced, an unknown partition
 *   and a code without a counterpart fail with the leader's reason, a
 *   stopped peer with the link's; the records produced after them follow
 *   them in the log;
 * - Kafka's Produce error codes map to the replica manager's; a
 *   WriteTxnMarkers answer parses, or fails when short, trailing or
 *   without the partition asked.
 */
#include "kafka_harness.h"
#include "sockutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <ftw.h>

#include "cluster/link.h"
#include "core/config.h"
#include "core/replica.h"
#include "core/topic_types.h"
#include "core/topics.h"

#define SECRET "the-cluster-secret-of-this-test"

static struct event_base *base;
static struct kh_broker broker;
static int link_port;
static char secret_path[512], port_arg[16];
static int nwaiters; /* records given in this test */

/* Node 1 is the broker's cluster port; node 3 is registered without one. */
static int resolve(void *ctx, int32_t node, char *host, size_t hostlen, int *port)
{
	(void)ctx;
	if (node != 1)
		return -1;
	snprintf(host, hostlen, "127.0.0.1");
	*port = link_port;
	return 0;
}

static void setup(void)
{
	snprintf(secret_path, sizeof(secret_path), "%s/tandem-link-secret-%d",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	int fd = open(secret_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, SECRET, strlen(SECRET)), (ssize_t)strlen(SECRET));
	close(fd);
	link_port = su_free_port();
	snprintf(port_arg, sizeof(port_arg), "%d", link_port);
	const char *args[] = { "--cluster-port", port_arg, "--cluster-secret-file", secret_path,
			       NULL };
	ck_assert_int_eq(kh_broker_start(&broker, args), 0);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	nwaiters = 0;
}

static void teardown(void)
{
	event_base_free(base);
	kh_broker_destroy(&broker);
	unlink(secret_path);
}

/* Answers the link gave: rc (and msg for the first 64) of each, in the
 * order they came, and which record each answered. */
#define MAX_ANSWERS 2048
struct answers {
	int n, want;
	int rc[MAX_ANSWERS];
	int who[MAX_ANSWERS];
	char msg[64][200];
};

/* What a done is given: the answers and the record's number. */
struct waiter {
	struct answers *a;
	int i;
};
static struct waiter waiters[MAX_ANSWERS];

static void done(void *arg, int rc, const char *msg)
{
	struct waiter *w = arg;
	struct answers *a = w->a;
	if (a->n < MAX_ANSWERS) {
		a->rc[a->n] = rc;
		a->who[a->n] = w->i;
	}
	if (a->n < 64)
		snprintf(a->msg[a->n], sizeof(a->msg[0]), "%s", msg ? msg : "");
	a->n++;
	if (a->n >= a->want)
		event_base_loopbreak(base);
}

/* The done argument of the next record (numbered over a test). */
static struct waiter *waiter_of(struct answers *a)
{
	ck_assert_int_lt(nwaiters, MAX_ANSWERS);
	waiters[nwaiters] = (struct waiter){ a, nwaiters };
	return &waiters[nwaiters++];
}

static void give_up(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	event_base_loopbreak(base);
}

/* Runs the loop until a has `want` answers, at most ms. */
static void run_for(struct answers *a, int want, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event *t = evtimer_new(base, give_up, NULL);
	a->want = want;
	evtimer_add(t, &tv);
	if (a->n < want)
		event_base_dispatch(base);
	event_free(t);
}

/* A record of value[0..len) with the header x-amqp-properties=props to
 * partition `partition` of topic on node. */
static void produce_n(struct tdm_link *l, int32_t node, const char *topic, int32_t partition,
		      const char *value, size_t len, struct answers *a)
{
	char props[8] = "props"; /* gone after the call: the link copies */
	struct tdm_header h = { "x-amqp-properties", 17, props, 5 };
	struct tdm_record r = {
		.value = value, .value_len = len, .headers = &h, .header_count = 1, .timestamp = -1
	};
	ck_assert_int_eq(tdm_link_produce(l, node, topic, partition, &r, done, waiter_of(a)), 0);
	memset(props, 0, sizeof(props));
}

static void produce(struct tdm_link *l, int32_t node, const char *topic, const char *value,
		    struct answers *a)
{
	produce_n(l, node, topic, 0, value, strlen(value), a);
}

static void make_topic(const char *topic)
{
	rd_kafka_t *p = kh_producer(broker.bootstrap, NULL);
	ck_assert_int_eq(kh_create_topic(p, topic, 1, 1, NULL), 0);
	rd_kafka_destroy(p);
}

START_TEST(test_link_forwards_a_batch_with_the_brokers_headers)
{
	char topic[64];
	kh_name(topic, sizeof(topic), "link");
	make_topic(topic);
	struct tdm_link *l = tdm_link_new(base, 2, SECRET, strlen(SECRET), resolve, NULL);
	ck_assert_ptr_nonnull(l);
	struct answers a = { 0 };
	for (int i = 0; i < 50; i++) {
		char v[32];
		snprintf(v, sizeof(v), "v-%02d", i);
		produce(l, 1, topic, v, &a);
	}
	ck_assert_int_eq(a.n, 0); /* never answered during the call */
	run_for(&a, 50, 20000);
	ck_assert_int_eq(a.n, 50);
	for (int i = 0; i < 50; i++) {
		ck_assert_msg(a.rc[i] == TDM_REPL_OK, "record %d: %d %s", i, a.rc[i], a.msg[i]);
		ck_assert_int_eq(a.who[i], i);
	}
	struct tdm_link_stats st;
	tdm_link_get_stats(l, &st);
	/* the fifty records of one loop turn went as one Produce */
	ck_assert_msg(st.sent == 1 && st.records == 50, "%llu requests, %llu records",
		      (unsigned long long)st.sent, (unsigned long long)st.records);
	ck_assert(st.ok == 50 && st.failed == 0 && st.connected == 1);
	tdm_link_free(l);

	const char *kv[] = { "group.id", "link-reader", KH_READ_TO_END, NULL };
	rd_kafka_t *c = kh_consumer(broker.bootstrap, kv);
	struct kh_msg m[64];
	int n = kh_consume(c, topic, 0, 0, m, 64, 10000);
	rd_kafka_destroy(c);
	ck_assert_int_eq(n, 50);
	for (int i = 0; i < 50; i++) {
		char v[32];
		snprintf(v, sizeof(v), "v-%02d", i);
		ck_assert_str_eq(m[i].value, v);
		ck_assert_int_eq(m[i].offset, i);
		ck_assert_ptr_nonnull(m[i].hdr);
		ck_assert_str_eq(m[i].hdr, "x-amqp-properties=props");
	}
	kh_msgs_free(m, n);
}
END_TEST

START_TEST(test_link_refused_secret_and_unknown_node_fail_with_the_reason)
{
	char topic[64];
	kh_name(topic, sizeof(topic), "linkbad");
	make_topic(topic);
	const char *wrong = "not-the-secret-of-this-cluster";
	struct tdm_link *l = tdm_link_new(base, 2, wrong, strlen(wrong), resolve, NULL);
	struct answers a = { 0 };
	produce(l, 1, topic, "x", &a);
	produce(l, 3, topic, "y", &a);
	run_for(&a, 2, 15000);
	ck_assert_int_eq(a.n, 2);
	/* node 3 has no address: failed first, at the next loop turn */
	ck_assert_int_eq(a.rc[0], TDM_REPL_NO_CLUSTER);
	ck_assert_msg(strstr(a.msg[0], "node 3") && strstr(a.msg[0], "cluster port"), "%s",
		      a.msg[0]);
	ck_assert_int_eq(a.rc[1], TDM_REPL_NO_CLUSTER);
	ck_assert_msg(strstr(a.msg[1], "node 1") && strstr(a.msg[1], "refused the cluster secret"),
		      "%s", a.msg[1]);
	struct tdm_link_stats st;
	tdm_link_get_stats(l, &st);
	ck_assert(st.ok == 0 && st.failed == 2 && st.losses == 2 && st.connected == 0);
	tdm_link_free(l);
}
END_TEST

START_TEST(test_link_peer_stopped_then_back)
{
	char topic[64];
	kh_name(topic, sizeof(topic), "linkback");
	make_topic(topic);
	struct tdm_link *l = tdm_link_new(base, 2, SECRET, strlen(SECRET), resolve, NULL);
	struct answers a = { 0 };
	produce(l, 1, topic, "before", &a);
	run_for(&a, 1, 15000);
	ck_assert_int_eq(a.rc[0], TDM_REPL_OK);
	ck_assert_int_eq(kh_broker_stop(&broker), 0);
	produce(l, 1, topic, "while-down", &a);
	run_for(&a, 2, 15000);
	ck_assert_int_eq(a.n, 2);
	ck_assert_int_eq(a.rc[1], TDM_REPL_NO_CLUSTER);
	ck_assert_msg(strstr(a.msg[1], "cluster link to node 1 lost"), "%s", a.msg[1]);
	ck_assert_int_eq(kh_broker_restart(&broker), 0);
	/* the next request connects again; under valgrind the peer's cluster
	 * listener may open after the port the restart waited for, and a
	 * request whose connection fails is failed, never resent (link.h):
	 * ask again, a bounded number of times, until one is answered */
	int k = 0;
	for (int tries = 0; tries < 20; tries++) {
		k = a.n;
		produce(l, 1, topic, "after", &a);
		run_for(&a, k + 1, 15000);
		ck_assert_int_eq(a.n, k + 1);
		if (a.rc[k] == TDM_REPL_OK)
			break;
		ck_assert_msg(a.rc[k] == TDM_REPL_NO_CLUSTER, "after the restart: %d %s", a.rc[k],
			      a.msg[k]);
		usleep(250 * 1000);
	}
	ck_assert_msg(a.rc[k] == TDM_REPL_OK, "after the restart: %d %s", a.rc[k], a.msg[k]);
	tdm_link_free(l);
}
END_TEST

static struct tdm_link_stats stats_of(struct tdm_link *l)
{
	struct tdm_link_stats st;
	tdm_link_get_stats(l, &st);
	return st;
}

START_TEST(test_link_more_than_a_batch_makes_several_produces_in_order)
{
	char topic[64];
	kh_name(topic, sizeof(topic), "linkcap");
	make_topic(topic);
	struct tdm_link *l = tdm_link_new(base, 2, SECRET, strlen(SECRET), resolve, NULL);
	struct answers *a = calloc(1, sizeof(*a));
	/* 1200 small records: 500 + 500 + 200 (the third once a slot frees) */
	for (int i = 0; i < 1200; i++) {
		char v[32];
		snprintf(v, sizeof(v), "r-%04d", i);
		produce(l, 1, topic, v, a);
	}
	run_for(a, 1200, 30000);
	ck_assert_int_eq(a->n, 1200);
	for (int i = 0; i < 1200; i++) {
		ck_assert_msg(a->rc[i] == TDM_REPL_OK, "record %d: %d", i, a->rc[i]);
		ck_assert_int_eq(a->who[i], i);
	}
	struct tdm_link_stats st = stats_of(l);
	ck_assert_msg(st.sent == 3 && st.records == 1200, "%llu requests, %llu records",
		      (unsigned long long)st.sent, (unsigned long long)st.records);
	/* 8 records of 200 KiB: 5 fit in 1 MiB, then 3 */
	size_t big = 200 << 10;
	char *v = malloc(big);
	for (int i = 0; i < 8; i++) {
		memset(v, 'a' + i, big);
		produce_n(l, 1, topic, 0, v, big, a);
	}
	free(v);
	run_for(a, 1208, 30000);
	ck_assert_int_eq(a->n, 1208);
	for (int i = 1200; i < 1208; i++)
		ck_assert_msg(a->rc[i] == TDM_REPL_OK && a->who[i] == i, "record %d: %d", i,
			      a->rc[i]);
	st = stats_of(l);
	ck_assert_msg(st.sent == 5 && st.records == 1208, "%llu requests, %llu records",
		      (unsigned long long)st.sent, (unsigned long long)st.records);
	tdm_link_free(l);

	const char *kv[] = { "group.id", "link-cap-reader", KH_READ_TO_END, NULL };
	rd_kafka_t *c = kh_consumer(broker.bootstrap, kv);
	struct kh_msg *m = calloc(1300, sizeof(*m));
	int n = kh_consume(c, topic, 0, 0, m, 1300, 20000);
	rd_kafka_destroy(c);
	ck_assert_int_eq(n, 1208);
	for (int i = 0; i < 1200; i++) {
		char want[32];
		snprintf(want, sizeof(want), "r-%04d", i);
		ck_assert_str_eq(m[i].value, want);
	}
	for (int i = 1200; i < 1208; i++)
		ck_assert(strlen(m[i].value) == big && m[i].value[0] == 'a' + (i - 1200));
	kh_msgs_free(m, n);
	free(m);
	free(a);
}
END_TEST

START_TEST(test_link_an_error_answer_or_a_lost_peer_fails_every_record_of_the_batch)
{
	char topic[64];
	kh_name(topic, sizeof(topic), "linkfail");
	make_topic(topic);
	struct tdm_link *l = tdm_link_new(base, 2, SECRET, strlen(SECRET), resolve, NULL);
	struct answers a = { 0 };
	/* partition 7 of a one-partition topic: the leader answers the batch
	 * UNKNOWN_TOPIC_OR_PARTITION, and each record gets it */
	for (int i = 0; i < 10; i++)
		produce_n(l, 1, topic, 7, "x", 1, &a);
	run_for(&a, 10, 15000);
	ck_assert_int_eq(a.n, 10);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(a.rc[i], TDM_REPL_UNKNOWN);
		ck_assert_int_eq(a.who[i], i);
		ck_assert_msg(strstr(a.msg[i], "node 1 answered"), "%s", a.msg[i]);
	}
	struct tdm_link_stats st = stats_of(l);
	ck_assert(st.sent == 1 && st.records == 10 && st.failed == 10 && st.ok == 0);
	/* the peer down: the batch never goes, each record fails with why */
	ck_assert_int_eq(kh_broker_stop(&broker), 0);
	for (int i = 0; i < 20; i++)
		produce(l, 1, topic, "while-down", &a);
	run_for(&a, 30, 15000);
	ck_assert_int_eq(a.n, 30);
	for (int i = 10; i < 30; i++) {
		ck_assert_int_eq(a.rc[i], TDM_REPL_NO_CLUSTER);
		ck_assert_int_eq(a.who[i], i);
		ck_assert_msg(strstr(a.msg[i], "cluster link to node 1 lost"), "%s", a.msg[i]);
	}
	st = stats_of(l);
	/* 2 requests when the batch went before the closed connection was seen */
	ck_assert(st.sent >= 1 && st.sent <= 2 && st.failed == 30);
	tdm_link_free(l);
}
END_TEST

/* The replica manager's forward hook, as src/cluster/node.c sets it. */
static int hook_forward(void *ctx, int32_t leader, const char *topic, int32_t partition,
			const struct tdm_record *rec, tdm_replica_done_fn fn, void *arg)
{
	return tdm_link_produce(ctx, leader, topic, partition, rec, fn, arg) < 0 ? TDM_ERR_NOMEM
										 : 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

START_TEST(test_link_forgotten_record_is_not_answered_the_rest_of_its_batch_is)
{
	char topic[64], dir[256], err[256];
	kh_name(topic, sizeof(topic), "linkforget");
	make_topic(topic);
	/* node 2's own copy of the partition, led by node 1 (the broker) */
	snprintf(dir, sizeof(dir), "%s/tandem-link-node2-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct tdm_config cfg;
	ck_assert_int_eq(tdm_config_init(&cfg), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "data_dir", dir, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "log_level", "warning", err, sizeof(err)), 0);
	struct tdm_topics *topics = tdm_topics_open(&cfg, NULL, err, sizeof(err));
	ck_assert_msg(topics != NULL, "%s", err);
	ck_assert_int_eq(tdm_topics_create(topics, topic, 1, NULL, 0, err, sizeof(err)), 0);
	struct tdm_link *l = tdm_link_new(base, 2, SECRET, strlen(SECRET), resolve, NULL);
	struct tdm_replica_hooks hooks = { .forward = hook_forward };
	struct tdm_replica *r = tdm_replica_new(topics, 2, &hooks, l, 10000, 1);
	ck_assert_ptr_nonnull(r);
	int32_t reps[] = { 1, 2 };
	struct tdm_partition_state st = { .leader = 1,
					  .leader_epoch = 1,
					  .replicas = reps,
					  .nreplicas = 2,
					  .isr = reps,
					  .nisr = 2 };
	ck_assert_int_eq(tdm_replica_set_state(r, topic, 0, &st), 0);

	struct answers a = { 0 };
	struct tdm_replica_op *op[3] = { NULL };
	struct tdm_header h = { "x-amqp-properties", 17, "props", 5 };
	for (int i = 0; i < 3; i++) {
		struct tdm_record rec = { .value = "v",
					  .value_len = 1,
					  .headers = &h,
					  .header_count = 1,
					  .timestamp = -1 };
		ck_assert_int_eq(tdm_replica_forward(r, topic, 0, &rec, done, waiter_of(&a),
						     &op[i]),
				 0);
		ck_assert_ptr_nonnull(op[i]);
	}
	tdm_replica_op_forget(op[1]); /* its publisher's channel closed */
	ck_assert_ptr_null(op[1]);
	run_for(&a, 2, 15000);
	/* record 2's done ran: the Produce was answered, record 1's would have run first */
	ck_assert_int_eq(a.n, 2);
	ck_assert(a.who[0] == 0 && a.who[1] == 2);
	ck_assert(a.rc[0] == TDM_REPL_OK && a.rc[1] == TDM_REPL_OK);
	ck_assert(op[0] == NULL && op[2] == NULL);
	struct tdm_replica_stats rs;
	struct tdm_link_stats ls = stats_of(l);
	ck_assert(ls.sent == 1 && ls.records == 3 && ls.ok == 3);
	tdm_replica_get_stats(r, &rs); /* no link_stats hook here: zeros */
	ck_assert_int_eq(rs.link_records, 0);

	tdm_replica_free(r);
	tdm_link_free(l);
	tdm_topics_close(topics);
	tdm_config_free(&cfg);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* A transaction marker to node 1 (the broker) for producer pid at epoch. */
static void marker(struct tdm_link *l, const char *topic, int32_t partition, int64_t pid,
		   int16_t epoch, int commit, struct answers *a)
{
	struct tdm_txn_marker m = { pid, epoch, commit, 0 };
	ck_assert_int_eq(tdm_link_write_marker(l, 1, topic, partition, &m, done, waiter_of(a)), 0);
}

START_TEST(test_link_writes_transaction_markers)
{
	char topic[64];
	kh_name(topic, sizeof(topic), "linkmark");
	make_topic(topic);
	struct tdm_link *l = tdm_link_new(base, 2, SECRET, strlen(SECRET), resolve, NULL);
	struct answers a = { 0 };
	/* appended and fsynced; a newer epoch too; an older one is fenced;
	 * an unknown partition; a negative producer id (INVALID_REQUEST: no
	 * counterpart) */
	marker(l, topic, 0, 4242, 3, 1, &a);
	marker(l, topic, 0, 4242, 4, 0, &a);
	marker(l, topic, 0, 4242, 1, 1, &a);
	marker(l, topic, 5, 4242, 4, 1, &a);
	marker(l, topic, 0, -1, 0, 1, &a);
	ck_assert_int_eq(a.n, 0); /* never answered during the call */
	run_for(&a, 5, 20000);
	ck_assert_int_eq(a.n, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(a.who[i], i); /* in the order given */
	ck_assert_msg(a.rc[0] == TDM_REPL_OK, "%d %s", a.rc[0], a.msg[0]);
	ck_assert_msg(a.rc[1] == TDM_REPL_OK, "%d %s", a.rc[1], a.msg[1]);
	ck_assert_int_eq(a.rc[2], TDM_ERR_PRODUCER_FENCED);
	ck_assert_msg(strstr(a.msg[2], "node 1 refused the transaction marker"), "%s", a.msg[2]);
	ck_assert_int_eq(a.rc[3], TDM_REPL_UNKNOWN);
	ck_assert_int_eq(a.rc[4], TDM_REPL_NO_CLUSTER);
	ck_assert_msg(strstr(a.msg[4], "Kafka error 42"), "%s", a.msg[4]);
	struct tdm_link_stats st = stats_of(l);
	ck_assert(st.markers == 5 && st.sent == 0 && st.losses == 0 && st.connected == 1);

	/* the two markers are in the log: a record produced now follows them */
	produce(l, 1, topic, "after", &a);
	run_for(&a, 6, 15000);
	ck_assert_int_eq(a.rc[5], TDM_REPL_OK);
	const char *kv[] = { "group.id", "link-marks", KH_READ_TO_END, NULL };
	rd_kafka_t *c = kh_consumer(broker.bootstrap, kv);
	struct kh_msg m[4];
	int n = kh_consume(c, topic, 0, 0, m, 4, 10000);
	rd_kafka_destroy(c);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(m[0].value, "after");
	ck_assert_int_eq(m[0].offset, 2);
	kh_msgs_free(m, n);

	/* the peer down: the marker fails with the reason */
	ck_assert_int_eq(kh_broker_stop(&broker), 0);
	marker(l, topic, 0, 4242, 5, 1, &a);
	run_for(&a, 7, 15000);
	ck_assert_int_eq(a.n, 7);
	ck_assert_int_eq(a.rc[6], TDM_REPL_NO_CLUSTER);
	ck_assert_msg(strstr(a.msg[6], "cluster link to node 1 lost"), "%s", a.msg[6]);
	tdm_link_free(l);
}
END_TEST

/* Answers of WriteTxnMarkers v0 (after the correlation id), built by hand. */
struct mb {
	uint8_t d[256];
	size_t n;
};
static void mb_put(struct mb *b, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		b->d[b->n++] = (uint8_t)(v >> (8 * i));
}
static void mb_str(struct mb *b, const char *s)
{
	mb_put(b, strlen(s), 2);
	memcpy(b->d + b->n, s, strlen(s));
	b->n += strlen(s);
}

START_TEST(test_link_marker_answers_parse_or_fail)
{
	struct mb b = { .n = 0 };
	int16_t err = 0;
	/* two markers; ours is the second's second partition */
	mb_put(&b, 2, 4);
	mb_put(&b, 9, 8);
	mb_put(&b, 1, 4);
	mb_str(&b, "t");
	mb_put(&b, 1, 4);
	mb_put(&b, 0, 4), mb_put(&b, 0, 2);
	mb_put(&b, 7, 8);
	mb_put(&b, 1, 4);
	mb_str(&b, "t");
	mb_put(&b, 2, 4);
	mb_put(&b, 0, 4), mb_put(&b, 6, 2);
	mb_put(&b, 3, 4), mb_put(&b, 47, 2);
	ck_assert_int_eq(tdm_link_marker_answer(b.d, b.n, 7, "t", 3, &err), 0);
	ck_assert_int_eq(err, 47);
	ck_assert_int_eq(tdm_link_marker_answer(b.d, b.n, 7, "t", 0, &err), 0);
	ck_assert_int_eq(err, 6);
	ck_assert_int_eq(tdm_link_marker_answer(b.d, b.n, 9, "t", 0, &err), 0);
	ck_assert_int_eq(err, 0);
	/* not named: another producer, topic or partition */
	ck_assert_int_eq(tdm_link_marker_answer(b.d, b.n, 8, "t", 0, &err), -1);
	ck_assert_int_eq(tdm_link_marker_answer(b.d, b.n, 7, "u", 0, &err), -1);
	ck_assert_int_eq(tdm_link_marker_answer(b.d, b.n, 7, "t", 1, &err), -1);
	/* short anywhere, or trailing bytes */
	for (size_t cut = 0; cut < b.n; cut++)
		ck_assert_int_eq(tdm_link_marker_answer(b.d, cut, 9, "t", 0, &err), -1);
	mb_put(&b, 0, 1);
	ck_assert_int_eq(tdm_link_marker_answer(b.d, b.n, 7, "t", 3, &err), -1);
	/* a count past the end */
	struct mb huge = { .n = 0 };
	mb_put(&huge, 0x7fffffff, 4);
	ck_assert_int_eq(tdm_link_marker_answer(huge.d, huge.n, 7, "t", 3, &err), -1);
}
END_TEST

START_TEST(test_link_produce_errors_map_to_the_replica_managers)
{
	ck_assert_int_eq(tdm_link_produce_error(0), TDM_REPL_OK);
	ck_assert_int_eq(tdm_link_produce_error(3), TDM_REPL_UNKNOWN);
	ck_assert_int_eq(tdm_link_produce_error(5), TDM_REPL_NO_LEADER);
	ck_assert_int_eq(tdm_link_produce_error(6), TDM_REPL_NOT_LEADER);
	ck_assert_int_eq(tdm_link_produce_error(7), TDM_REPL_TIMED_OUT);
	ck_assert_int_eq(tdm_link_produce_error(19), TDM_REPL_NOT_ENOUGH);
	ck_assert_int_eq(tdm_link_produce_error(20), TDM_REPL_NOT_ENOUGH_AFTER);
	ck_assert_int_eq(tdm_link_produce_error(87), TDM_ERR_INVALID_RECORD);
	ck_assert_int_eq(tdm_link_produce_error(47), TDM_ERR_PRODUCER_FENCED);
	ck_assert_int_eq(tdm_link_produce_error(90), TDM_ERR_PRODUCER_FENCED);
	ck_assert_int_eq(tdm_link_produce_error(56), TDM_ERR_IO);
	ck_assert_int_eq(tdm_link_produce_error(999), TDM_REPL_NO_CLUSTER);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("link");
	TCase *tc = tcase_create("link");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_link_forwards_a_batch_with_the_brokers_headers);
	tcase_add_test(tc, test_link_refused_secret_and_unknown_node_fail_with_the_reason);
	tcase_add_test(tc, test_link_peer_stopped_then_back);
	tcase_add_test(tc, test_link_more_than_a_batch_makes_several_produces_in_order);
	tcase_add_test(tc,
		       test_link_an_error_answer_or_a_lost_peer_fails_every_record_of_the_batch);
	tcase_add_test(tc, test_link_forgotten_record_is_not_answered_the_rest_of_its_batch_is);
	tcase_add_test(tc, test_link_writes_transaction_markers);
	suite_add_tcase(s, tc);
	TCase *u = tcase_create("unit");
	tcase_add_test(u, test_link_produce_errors_map_to_the_replica_managers);
	tcase_add_test(u, test_link_marker_answers_parse_or_fail);
	suite_add_tcase(s, u);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
