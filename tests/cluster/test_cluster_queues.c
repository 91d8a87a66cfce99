/*
 * Classic queues in a cluster (issue 15: "one broker across the nodes"):
 * three tandemd nodes and a private ZooKeeper on loopback
 * (cluster_harness.h), AMQP through rabbitmq-c.
 *
 * - a queue declared on node 1 is on every node (its home node 1), a
 *   redeclaration with other flags on node 2 gets RabbitMQ's 406, a
 *   binding made on node 2 routes on every node, a deletion on node 3
 *   removes it everywhere; exclusive queues stay their node's own;
 * - published on node 2 to a queue of node 1, consumed on node 3 with
 *   manual acks: confirmed, all delivered, in order; basic.get and nack
 *   with requeue (redelivered) and purge from a node that is not the
 *   home, with the home's counts in declare-ok; the management API of a
 *   node that is not the home shows the home's counts, gets and purges;
 * - with its home node stopped, a durable queue answers RabbitMQ 3.10's
 *   404 "home node ... is down or inaccessible" on the other nodes; back
 *   once the home is;
 * - kill -9 of the home under a consumer of node 3: basic.cancel; after the
 *   restart every confirmed message not acknowledged is consumed, in
 *   order, those that were delivered flagged redelivered.
 *
 * Every wait is bounded; the nodes are stopped by PID (ch_stop).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "cluster_amqp.h"
#include "cluster_harness.h"
#include "kafka_harness.h"

#define TEST_TIMEOUT 300

static struct ch_cluster cl;

static void setup(void)
{
	static const char *const extra[] = { "--default-replication-factor", "3", NULL };
	ch_start(&cl, 3, extra);
}

static void teardown(void)
{
	ch_stop(&cl);
}

/* queue.declare on channel 1: 0 (and the counts), or the reply code with
 * its text (ca_channel_error). */
static int declare_queue(amqp_connection_state_t c, const char *q, int passive, int durable,
			 int exclusive, uint32_t *messages, uint32_t *consumers, char *text,
			 size_t cap)
{
	amqp_queue_declare_ok_t *ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(q), passive,
							 durable, exclusive, 0, amqp_empty_table);
	int code = ca_channel_error(c, amqp_get_rpc_reply(c), "queue.declare", text, cap);
	if (!code && messages)
		*messages = ok->message_count;
	if (!code && consumers)
		*consumers = ok->consumer_count;
	return code;
}

/* Waits (bounded) until node i's API shows queue q with `needle` in it,
 * or (needle NULL) until it shows no queue q. */
static int node_shows_queue(int i, const char *q, const char *needle, int ms)
{
	char path[160];
	snprintf(path, sizeof(path), "/api/queues/%%2F/%.100s", q);
	return needle ? ca_node_answers(&cl, i, path, 200, needle, ms)
		      : ca_node_answers(&cl, i, path, 404, NULL, ms);
}

START_TEST(test_cluster_queue_records_are_the_clusters)
{
	char q[64], ex[64], text[300], want[300], home[64];
	kh_name(q, sizeof(q), "qdef");
	kh_name(ex, sizeof(ex), "qexcl");
	amqp_connection_state_t c[3];
	for (int i = 0; i < 3; i++)
		c[i] = ca_to(&cl, i);

	/* declared on node 1: every node shows it, with node 1 its home */
	ck_assert_int_eq(declare_queue(c[0], q, 0, 1, 0, NULL, NULL, text, sizeof(text)), 0);
	snprintf(home, sizeof(home), "\"node\":\"tandem@node-%d\"", cl.nodes[0].id);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(node_shows_queue(i, q, home, 10000),
			      "node %d does not show queue %s declared on node %d",
			      cl.nodes[i].id, q, cl.nodes[0].id);
	/* redeclared transient on node 2: RabbitMQ's 406 */
	snprintf(want, sizeof(want),
		 "PRECONDITION_FAILED - inequivalent arg 'durable' for queue '%s' in vhost '/': "
		 "received 'false' but current is 'true'", q);
	ck_assert_int_eq(declare_queue(c[1], q, 0, 0, 0, NULL, NULL, text, sizeof(text)), 406);
	ck_assert_str_eq(text, want);
	/* the same declaration on node 3, and a passive one on node 2: ok */
	ck_assert_int_eq(declare_queue(c[2], q, 0, 1, 0, NULL, NULL, text, sizeof(text)), 0);
	ck_assert_int_eq(declare_queue(c[1], q, 1, 0, 0, NULL, NULL, text, sizeof(text)), 0);

	/* bound on node 2: the binding is on every node */
	amqp_queue_bind(c[1], 1, amqp_cstring_bytes(q), amqp_cstring_bytes("amq.direct"),
			amqp_cstring_bytes("k1"), amqp_empty_table);
	ca_reply_ok(amqp_get_rpc_reply(c[1]), "queue.bind");
	char path[200];
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s/bindings", q);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(ca_node_answers(&cl, i, path, 200, "\"routing_key\":\"k1\"", 10000),
			      "node %d lacks the binding of %s made on node %d", cl.nodes[i].id, q,
			      cl.nodes[1].id);

	/* an exclusive queue stays its node's own */
	ck_assert_int_eq(declare_queue(c[2], ex, 0, 0, 1, NULL, NULL, text, sizeof(text)), 0);
	ck_assert_msg(node_shows_queue(2, ex, "\"exclusive\":true", 1000), "exclusive %s", ex);
	ck_assert_msg(node_shows_queue(0, ex, NULL, 1000),
		      "node %d shows node %d's exclusive queue %s", cl.nodes[0].id,
		      cl.nodes[2].id, ex);

	/* deleted on node 3: gone everywhere */
	amqp_queue_delete(c[2], 1, amqp_cstring_bytes(q), 0, 0);
	ca_reply_ok(amqp_get_rpc_reply(c[2]), "queue.delete");
	for (int i = 0; i < 3; i++)
		ck_assert_msg(node_shows_queue(i, q, NULL, 10000),
			      "node %d still shows %s deleted on node %d", cl.nodes[i].id, q,
			      cl.nodes[2].id);
	snprintf(want, sizeof(want), "NOT_FOUND - no queue '%s' in vhost '/'", q);
	ck_assert_int_eq(declare_queue(c[0], q, 1, 0, 0, NULL, NULL, text, sizeof(text)), 404);
	ck_assert_str_eq(text, want);
	for (int i = 0; i < 3; i++)
		ca_done(c[i]);
}
END_TEST

START_TEST(test_cluster_queue_home_down_answers_404)
{
	char q[64], text[300], want[300];
	kh_name(q, sizeof(q), "qhome");
	amqp_connection_state_t c0 = ca_to(&cl, 0);
	ck_assert_int_eq(declare_queue(c0, q, 0, 1, 0, NULL, NULL, text, sizeof(text)), 0);
	ca_done(c0);
	ck_assert_msg(node_shows_queue(1, q, "\"state\":\"running\"", 10000),
		      "node %d does not show %s", cl.nodes[1].id, q);
	ch_node_stop(&cl, 0);
	ck_assert_msg(node_shows_queue(1, q, "\"state\":\"down\"", 30000),
		      "node %d does not show %s down with its home", cl.nodes[1].id, q);
	amqp_connection_state_t c1 = ca_to(&cl, 1);
	snprintf(want, sizeof(want),
		 "NOT_FOUND - home node 'tandem@node-%d' of durable queue '%s' in vhost '/' is "
		 "down or inaccessible", cl.nodes[0].id, q);
	ck_assert_int_eq(declare_queue(c1, q, 1, 0, 0, NULL, NULL, text, sizeof(text)), 404);
	ck_assert_str_eq(text, want);
	ck_assert_int_eq(declare_queue(c1, q, 0, 1, 0, NULL, NULL, text, sizeof(text)), 404);
	ck_assert_str_eq(text, want);
	amqp_basic_get(c1, 1, amqp_cstring_bytes(q), 0);
	ck_assert_int_eq(ca_channel_error(c1, amqp_get_rpc_reply(c1), "basic.get", text,
					  sizeof(text)),
			 404);
	ck_assert_str_eq(text, want);
	ca_done(c1);
	ch_node_start(&cl, 0);
	ck_assert_msg(node_shows_queue(1, q, "\"state\":\"running\"", 30000),
		      "node %d does not show %s running again", cl.nodes[1].id, q);
}
END_TEST

/* The next message on c (channel 1) within ms: a basic.deliver's body in
 * body (NUL-terminated), its tag and redelivered flag; 0, or -1 when none
 * came. */
static int next_delivery(amqp_connection_state_t c, char *body, size_t cap, uint64_t *tag,
			 int *redelivered, int ms)
{
	amqp_envelope_t env;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	amqp_maybe_release_buffers(c);
	amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		amqp_frame_t f;
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_UNEXPECTED_STATE &&
		    amqp_simple_wait_frame_noblock(c, &f, &tv) == AMQP_STATUS_OK &&
		    f.frame_type == AMQP_FRAME_METHOD)
			fprintf(stderr, "next_delivery: method 0x%08x instead\n", f.payload.method.id);
		else
			fprintf(stderr, "next_delivery: %s\n", amqp_error_string2(r.library_error));
		return -1;
	}
	snprintf(body, cap, "%.*s", (int)env.message.body.len, (const char *)env.message.body.bytes);
	*tag = env.delivery_tag;
	*redelivered = env.redelivered;
	amqp_destroy_envelope(&env);
	return 0;
}

START_TEST(test_cluster_queue_used_from_any_node)
{
	enum { N = 300 };
	char q[64], text[300], body[64], want[64];
	kh_name(q, sizeof(q), "qany");
	amqp_connection_state_t home = ca_to(&cl, 0), pub = ca_to(&cl, 1), sub = ca_to(&cl, 2);
	ck_assert_int_eq(declare_queue(home, q, 0, 1, 0, NULL, NULL, text, sizeof(text)), 0);
	/* the other nodes apply it one fetch round trip later (README) */
	for (int i = 1; i < 3; i++)
		ck_assert_msg(node_shows_queue(i, q, "\"state\":\"running\"", 10000),
			      "node %d does not show %s", cl.nodes[i].id, q);
	amqp_queue_bind(pub, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("amq.direct"),
			amqp_cstring_bytes("any"), amqp_empty_table);
	ca_reply_ok(amqp_get_rpc_reply(pub), "queue.bind");

	/* published on node 2 through amq.direct, confirmed by the home */
	amqp_confirm_select(pub, 1);
	ca_reply_ok(amqp_get_rpc_reply(pub), "confirm.select");
	amqp_basic_properties_t props = { ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG |
						    AMQP_BASIC_MESSAGE_ID_FLAG,
					  .delivery_mode = 2 };
	for (int i = 0; i < N; i++) {
		snprintf(body, sizeof(body), "m-%04d", i);
		props.message_id = amqp_cstring_bytes(body);
		ck_assert_int_eq(amqp_basic_publish(pub, 1, amqp_cstring_bytes("amq.direct"),
						    amqp_cstring_bytes("any"), 0, 0, &props,
						    amqp_cstring_bytes(body)),
				 AMQP_STATUS_OK);
	}
	struct ca_confirms cf;
	ca_confirms_init(&cf, N);
	ca_read_confirms(pub, &cf, N, 30000);
	ck_assert_msg(cf.acks == N && cf.nacks == 0, "%d of %d confirmed, %d nacked", cf.acks, N,
		      cf.nacks);
	ca_confirms_free(&cf);

	/* the home's count, asked on node 3 */
	uint32_t messages = 0, consumers = 9;
	ck_assert_int_eq(declare_queue(sub, q, 1, 0, 0, &messages, &consumers, text, sizeof(text)),
			 0);
	ck_assert_int_eq(messages, N);
	ck_assert_int_eq(consumers, 0);

	/* basic.get on node 3: the first, nacked with requeue: redelivered */
	amqp_rpc_reply_t gr = amqp_basic_get(sub, 1, amqp_cstring_bytes(q), 0);
	ca_reply_ok(gr, "basic.get");
	ck_assert_int_eq(gr.reply.id, AMQP_BASIC_GET_OK_METHOD);
	amqp_basic_get_ok_t *g = gr.reply.decoded;
	ck_assert_int_eq(g->message_count, N - 1);
	uint64_t got_tag = g->delivery_tag;
	amqp_message_t msg;
	ca_reply_ok(amqp_read_message(sub, 1, &msg, 0), "basic.get's content");
	ck_assert_int_eq((int)msg.body.len, 6);
	ck_assert_int_eq(memcmp(msg.body.bytes, "m-0000", 6), 0);
	ck_assert_int_eq(msg.properties.delivery_mode, 2);
	amqp_destroy_message(&msg);
	ck_assert_int_eq(amqp_basic_nack(sub, 1, got_tag, 0, 1), 0);
	amqp_maybe_release_buffers(sub);

	/* consumed on node 3, prefetch 10, manual acks: all, in order */
	amqp_basic_qos(sub, 1, 0, 10, 0);
	ca_reply_ok(amqp_get_rpc_reply(sub), "basic.qos");
	amqp_basic_consume(sub, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0,
			   amqp_empty_table);
	ca_reply_ok(amqp_get_rpc_reply(sub), "basic.consume");
	for (int i = 0; i < N; i++) {
		uint64_t tag;
		int redelivered;
		ck_assert_msg(next_delivery(sub, body, sizeof(body), &tag, &redelivered, 10000) == 0,
			      "delivery %d of %d did not come", i, N);
		snprintf(want, sizeof(want), "m-%04d", i);
		ck_assert_str_eq(body, want);
		ck_assert_int_eq(redelivered, i == 0);
		ck_assert_int_eq(amqp_basic_ack(sub, 1, tag, 0), 0);
	}
	ca_done(sub);
	/* everything acked: the home has nothing left */
	ck_assert_int_eq(declare_queue(home, q, 1, 0, 0, &messages, NULL, text, sizeof(text)), 0);
	for (int waited = 0; messages && waited < 10000; waited += 100) {
		usleep(100 * 1000);
		ck_assert_int_eq(declare_queue(home, q, 1, 0, 0, &messages, NULL, text, sizeof(text)),
				 0);
	}
	ck_assert_int_eq(messages, 0);

	/* purge from node 2 answers the home's count */
	for (int i = 0; i < 7; i++)
		amqp_basic_publish(home, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL,
				   amqp_cstring_bytes("p"));
	/* the home has enqueued them, node 3's consumer is gone there (its
	 * basic.cancel crossed the deliveries made meanwhile), and what was
	 * pushed to it is back */
	char hpath[200];
	snprintf(hpath, sizeof(hpath), "/api/queues/%%2F/%s", q);
	ck_assert_msg(ca_node_answers(&cl, 0, hpath, 200,
				      "\"messages_ready\":7,\"messages_unacknowledged\":0,", 15000) &&
			      ca_node_answers(&cl, 0, hpath, 200, "\"consumers\":0,", 15000),
		      "the home does not show %s with 7 ready, none unacked, no consumer", q);
	amqp_queue_purge_ok_t *po = amqp_queue_purge(pub, 1, amqp_cstring_bytes(q));
	ca_reply_ok(amqp_get_rpc_reply(pub), "queue.purge");
	ck_assert_int_eq(po->message_count, 7);

	/* the management API of the other nodes: the home's counts (asked every
	 * 5 s), a get and a purge answered by the home */
	for (int i = 0; i < 3; i++)
		amqp_basic_publish(home, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL,
				   amqp_cstring_bytes(i ? "h" : "first"));
	char path[200], out[4096];
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_msg(ca_node_answers(&cl, 2, path, 200, "\"messages_ready\":3,", 15000),
		      "node 3's API does not show the home's 3 messages of %s", q);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s/get", q);
	ck_assert_int_eq(ch_http(&cl, 1, "POST", path,
				 "{\"count\":2,\"ackmode\":\"ack_requeue_true\",\"encoding\":\"auto\"}",
				 out, sizeof(out)),
			 200);
	ck_assert_msg(strstr(out, "\"payload\":\"first\"") && strstr(out, "\"message_count\":1"),
		      "get through node 2's API: %s", out);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s/contents", q);
	ck_assert_int_eq(ch_http(&cl, 2, "DELETE", path, NULL, out, sizeof(out)), 204);
	ck_assert_int_eq(declare_queue(home, q, 1, 0, 0, &messages, NULL, text, sizeof(text)), 0);
	ck_assert_int_eq(messages, 0);

	/* queue.delete on node 2: the home's count decides if-empty and is
	 * delete-ok's message_count */
	for (int i = 0; i < 2; i++)
		amqp_basic_publish(home, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL,
				   amqp_cstring_bytes("d"));
	ck_assert_int_eq(declare_queue(home, q, 1, 0, 0, &messages, NULL, text, sizeof(text)), 0);
	ck_assert_int_eq(messages, 2);
	amqp_queue_delete(pub, 1, amqp_cstring_bytes(q), 0, 1);
	ck_assert_int_eq(ca_channel_error(pub, amqp_get_rpc_reply(pub), "queue.delete", text,
					  sizeof(text)),
			 406);
	char notempty[300];
	snprintf(notempty, sizeof(notempty),
		 "PRECONDITION_FAILED - queue '%s' in vhost '/' not empty", q);
	ck_assert_str_eq(text, notempty);
	amqp_queue_delete_ok_t *dok = amqp_queue_delete(pub, 1, amqp_cstring_bytes(q), 0, 0);
	ca_reply_ok(amqp_get_rpc_reply(pub), "queue.delete");
	ck_assert_int_eq(dok->message_count, 2);
	ca_done(pub);
	ca_done(home);
}
END_TEST

/* kill -9 of the home while a consumer on node 3 holds unacked messages:
 * the consumer gets basic.cancel, nothing confirmed is lost, and once the
 * home is back the rest (the unacked ones flagged redelivered) comes. */
START_TEST(test_cluster_queue_home_killed_under_a_consumer)
{
	enum { N = 50 };
	char q[64], text[300], body[64];
	kh_name(q, sizeof(q), "qkill");
	amqp_connection_state_t home = ca_to(&cl, 0);
	ck_assert_int_eq(declare_queue(home, q, 0, 1, 0, NULL, NULL, text, sizeof(text)), 0);
	amqp_confirm_select(home, 1);
	ca_reply_ok(amqp_get_rpc_reply(home), "confirm.select");
	amqp_basic_properties_t props = { ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
					  .delivery_mode = 2 };
	for (int i = 0; i < N; i++) {
		snprintf(body, sizeof(body), "k-%04d", i);
		amqp_basic_publish(home, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, &props,
				   amqp_cstring_bytes(body));
	}
	struct ca_confirms cf;
	ca_confirms_init(&cf, N);
	ca_read_confirms(home, &cf, N, 30000);
	ck_assert_int_eq(cf.acks, N);
	ca_confirms_free(&cf);
	ca_done(home);
	ck_assert_msg(node_shows_queue(2, q, "\"state\":\"running\"", 10000), "node 3: %s", q);

	/* node 3 consumes 10 (prefetch 10), acks 4 of them */
	amqp_connection_state_t sub = ca_to_notified(&cl, 2);
	amqp_basic_qos(sub, 1, 0, 10, 0);
	ca_reply_ok(amqp_get_rpc_reply(sub), "basic.qos");
	amqp_basic_consume(sub, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0,
			   amqp_empty_table);
	ca_reply_ok(amqp_get_rpc_reply(sub), "basic.consume");
	for (int i = 0; i < 10; i++) {
		uint64_t tag;
		int redelivered;
		ck_assert_msg(next_delivery(sub, body, sizeof(body), &tag, &redelivered, 10000) == 0,
			      "delivery %d did not come", i);
		if (i < 4)
			ck_assert_int_eq(amqp_basic_ack(sub, 1, tag, 0), 0);
	}
	/* the acks reached the home before it dies: a round trip through it */
	uint32_t messages = 0;
	ck_assert_int_eq(declare_queue(sub, q, 1, 0, 0, &messages, NULL, text, sizeof(text)), 0);
	ch_node_kill9(&cl, 0);

	/* the consumer is cancelled (RabbitMQ: the queue's node went down) */
	amqp_frame_t f;
	struct timeval tv = { 30, 0 };
	int cancelled = 0;
	while (!cancelled && amqp_simple_wait_frame_noblock(sub, &f, &tv) == AMQP_STATUS_OK)
		cancelled = f.frame_type == AMQP_FRAME_METHOD &&
			    f.payload.method.id == AMQP_BASIC_CANCEL_METHOD;
	ck_assert_msg(cancelled, "node %d's consumer of %s was not cancelled when its home died",
		      cl.nodes[2].id, q);
	ca_done(sub);

	/* back: the 46 not acknowledged are all there, the 6 held unacked first
	 * and flagged redelivered */
	ch_node_start(&cl, 0);
	ck_assert_msg(node_shows_queue(2, q, "\"state\":\"running\"", 60000),
		      "node 3 does not see %s's home back", q);
	sub = ca_to(&cl, 2);
	for (int waited = 0; waited < 20000; waited += 200) {
		amqp_queue_declare_ok_t *ok = amqp_queue_declare(sub, 1, amqp_cstring_bytes(q), 1, 0,
								 0, 0, amqp_empty_table);
		if (ca_channel_error(sub, amqp_get_rpc_reply(sub), "queue.declare", text,
				     sizeof(text)) == 0 &&
		    ok->message_count == N - 4)
			break;
		usleep(200 * 1000);
	}
	amqp_basic_consume(sub, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 1, 0,
			   amqp_empty_table);
	ca_reply_ok(amqp_get_rpc_reply(sub), "basic.consume again");
	for (int i = 4; i < N; i++) {
		uint64_t tag;
		int redelivered;
		char want[64];
		ck_assert_msg(next_delivery(sub, body, sizeof(body), &tag, &redelivered, 10000) == 0,
			      "after the restart, delivery of k-%04d did not come", i);
		snprintf(want, sizeof(want), "k-%04d", i);
		ck_assert_str_eq(body, want);
		/* held unacked (k-0004..9, and up to 4 more pushed for the acks'
		 * credit) are flagged; what was never delivered is not */
		ck_assert_msg(i < 10 ? redelivered : i < 14 || !redelivered, "k-%04d redelivered=%d",
			      i, redelivered);
	}
	ca_done(sub);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cluster_queues");
	TCase *tc = tcase_create("records");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_cluster_queue_records_are_the_clusters);
	tcase_add_test(tc, test_cluster_queue_home_down_answers_404);
	tcase_add_test(tc, test_cluster_queue_used_from_any_node);
	tcase_add_test(tc, test_cluster_queue_home_killed_under_a_consumer);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
