/*
 * The cluster link's client (src/cluster/link.c) against a real tandemd
 * with a cluster port: the link runs in this process on its own event
 * base, as node 2, and sends Produce requests to the broker (node 1).
 *
 * - a batch carrying the broker's own header ("x-amqp-properties", what a
 *   forwarded AMQP publish carries) is taken over the link and read back
 *   with its header; fifty requests sent at once are answered in order;
 * - a wrong secret fails the request with the reason, and so does a node
 *   without a cluster port;
 * - a stopped peer fails what was sent; once it is back the next request
 *   connects again and is answered;
 * - Kafka's Produce error codes map to the replica manager's.
 */
#include "kafka_harness.h"
#include "sockutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cluster/link.h"
#include "core/replica.h"
#include "core/topic_types.h"
#include "logstore/logstore.h"

#define SECRET "the-cluster-secret-of-this-test"

static struct event_base *base;
static struct kh_broker broker;
static int link_port;
static char secret_path[512], port_arg[16];

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
}

static void teardown(void)
{
	event_base_free(base);
	kh_broker_destroy(&broker);
	unlink(secret_path);
}

/* Answers the link gave: rc and msg of each, in the order they came. */
struct answers {
	int n, want;
	int rc[64];
	char msg[64][200];
};

static void done(void *arg, int rc, const char *msg)
{
	struct answers *a = arg;
	if (a->n < 64) {
		a->rc[a->n] = rc;
		snprintf(a->msg[a->n], sizeof(a->msg[0]), "%s", msg ? msg : "");
	}
	a->n++;
	if (a->n >= a->want)
		event_base_loopbreak(base);
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

/* One batch of a record with value and the header x-amqp-properties=props. */
static void *batch_of(const char *value, size_t *len)
{
	struct ls_header h = { "x-amqp-properties", 17, "props", 5 };
	struct ls_record r = { .value = value, .value_len = strlen(value), .headers = &h,
			       .header_count = 1, .timestamp = -1 };
	void *b = NULL;
	ck_assert_int_eq(ls_batch_build(&r, 1, LS_CODEC_NONE, 1700000000000, &b, len), LS_OK);
	return b;
}

static void produce(struct tdm_link *l, int32_t node, const char *topic, const char *value,
		    struct answers *a)
{
	size_t len;
	void *b = batch_of(value, &len);
	ck_assert_int_eq(tdm_link_produce(l, node, topic, 0, b, len, done, a), 0);
	free(b);
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
	for (int i = 0; i < 50; i++)
		ck_assert_msg(a.rc[i] == TDM_REPL_OK, "request %d: %d %s", i, a.rc[i], a.msg[i]);
	struct tdm_link_stats st;
	tdm_link_get_stats(l, &st);
	ck_assert(st.sent == 50 && st.ok == 50 && st.failed == 0 && st.connected == 1);
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
	produce(l, 1, topic, "after", &a);
	run_for(&a, 3, 15000);
	ck_assert_msg(a.n == 3 && a.rc[2] == TDM_REPL_OK, "after the restart: %d %s", a.rc[2],
		      a.msg[2]);
	tdm_link_free(l);
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
	suite_add_tcase(s, tc);
	TCase *u = tcase_create("unit");
	tcase_add_test(u, test_link_produce_errors_map_to_the_replica_managers);
	suite_add_tcase(s, u);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
