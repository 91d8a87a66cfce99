/*
 * Quorum queues in a cluster (issue 15): three tandemd nodes and a private
 * ZooKeeper on loopback (cluster_harness.h), AMQP through rabbitmq-c.
 *
 * A quorum queue declared on node 1 (its leader) is published to on node 2
 * with confirms and consumed on node 3 with manual acks while node 1 is
 * killed with SIGKILL and started again: a new leader takes over within
 * the ZooKeeper session timeout, the consumer is never cancelled and goes
 * on by itself, every confirmed message is consumed, a message consumed
 * twice is flagged redelivered the second time, and nacked publishes
 * (while there is no leader) are published again.  Each publish carries
 * its id and its publish tag: a nacked publish may still have reached
 * the log (appended, then the leader died or the in-sync replicas fell
 * below the minimum before it was replicated), so the id can come twice,
 * as two publishes; one publish delivered twice must be flagged.  Once every message
 * of a quorum queue was acked, every replica deletes the settled segments
 * of its log (the leader below the oldest message held, the followers
 * below the leader's log start).
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
#include "logdir.h"

#define TEST_TIMEOUT 300

static struct ch_cluster cl;

static void setup(void)
{
	/* a dead follower leaves the ISR after 2 s: confirms go on meanwhile */
	static const char *const extra[] = { "--replica-lag-time-max-ms", "2000",
					     "--quorum-segment-bytes", "65536",
					     "--log-min-segment-bytes", "4096", NULL };
	ch_start(&cl, 3, extra);
}

static void teardown(void)
{
	ch_stop(&cl);
}

static void declare_quorum(amqp_connection_state_t c, const char *q)
{
	amqp_table_entry_t e = { .key = amqp_cstring_bytes("x-queue-type"),
				 .value = { .kind = AMQP_FIELD_KIND_UTF8,
					    .value = { .bytes = amqp_cstring_bytes("quorum") } } };
	amqp_table_t args = { 1, &e };
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, args);
	ca_reply_ok(amqp_get_rpc_reply(c), "queue.declare quorum");
}

/* The leader node's id as node i's API names it ("tandem@node-N"), or -1. */
static int leader_of(int i, const char *q)
{
	char path[160], doc[8192];
	snprintf(path, sizeof(path), "/api/queues/%%2F/%.100s", q);
	if (ch_http_get(&cl, i, path, doc, sizeof(doc)) != 200)
		return -1;
	const char *l = strstr(doc, "\"leader\":\"tandem@node-");
	return l ? atoi(l + strlen("\"leader\":\"tandem@node-")) : -1;
}

/* leader_of() once node i knows a leader: a node lists the queue as soon
 * as it has the topic, and learns the partition's state (its leader) a
 * little later, showing "leader":null until then.  -1 after ms. */
static int wait_leader_of(int i, const char *q, int ms)
{
	uint64_t deadline = kh_now_ms() + (uint64_t)ms;
	for (;;) {
		int l = leader_of(i, q);
		if (l > 0 || kh_now_ms() >= deadline)
			return l;
		kh_sleep_ms(50);
	}
}

enum { TARGET = 400, MAXPUB = 6000, BATCH = 20 };

struct run {
	amqp_connection_state_t pub, sub;
	struct ca_confirms cf;
	int tag_id[MAXPUB + 1];   /* the id each publish tag carried */
	int tags, settled_upto;   /* tags used; tags looked at so far */
	char confirmed[TARGET], seen[TARGET], nacked[TARGET];
	char tag_seen[MAXPUB + 1];  /* deliveries of each publish tag seen */
	int nconfirmed, nseen, dups, copies, retry[TARGET], nretry, next_id;
};

static void publish_id(struct run *r, const char *q, int id)
{
	char body[32];
	amqp_basic_properties_t props = { ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
					  .delivery_mode = 2 };
	ck_assert_int_lt(r->tags, MAXPUB);
	snprintf(body, sizeof(body), "qk-%05d-%05d", id, r->tags + 1);
	ck_assert_int_eq(amqp_basic_publish(r->pub, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0,
					    0, &props, amqp_cstring_bytes(body)),
			 0);
	r->tag_id[++r->tags] = id;
}

/* A batch of ids (nacked ones first, then new ones), then their confirms
 * (bounded): acked ids are confirmed, nacked ones retried.  Returns the
 * nacks seen. */
static int publish_round(struct run *r, const char *q)
{
	int sent = 0, nacks = 0;
	while (sent < BATCH && r->nretry > 0) {
		publish_id(r, q, r->retry[0]);
		memmove(r->retry, r->retry + 1, (size_t)--r->nretry * sizeof(int));
		sent++;
	}
	for (; sent < BATCH && r->next_id < TARGET; sent++)
		publish_id(r, q, r->next_id++);
	ca_read_confirms(r->pub, &r->cf, r->tags, 3000);
	for (int t = r->settled_upto + 1; t <= r->tags; t++) {
		if (!r->cf.acked[t] && !r->cf.nacked[t])
			break; /* looked at again next round */
		int id = r->tag_id[t];
		if (r->cf.acked[t] && !r->confirmed[id]) {
			r->confirmed[id] = 1;
			r->nconfirmed++;
		} else if (r->cf.nacked[t] && !r->confirmed[id] && r->nretry < TARGET) {
			r->retry[r->nretry++] = id;
			r->nacked[id] = 1;
			nacks++;
		}
		r->settled_upto = t;
	}
	return nacks;
}

/* Takes what node 3 delivers for up to ms, acking each; fails on a
 * basic.cancel, a second delivery of one publish not flagged redelivered,
 * or a second publish of an id that was never nacked. */
static void consume_round(struct run *r, int ms)
{
	uint64_t deadline = kh_now_ms() + (uint64_t)ms;
	for (;;) {
		uint64_t now = kh_now_ms();
		if (now >= deadline)
			return;
		struct timeval tv = { 0, (long)((deadline - now) % 1000) * 1000 };
		if (deadline - now >= 1000)
			tv.tv_sec = (long)((deadline - now) / 1000);
		amqp_envelope_t env;
		amqp_maybe_release_buffers(r->sub);
		amqp_rpc_reply_t rr = amqp_consume_message(r->sub, &env, &tv, 0);
		if (rr.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    rr.library_error == AMQP_STATUS_TIMEOUT)
			return;
		if (rr.reply_type != AMQP_RESPONSE_NORMAL) {
			amqp_frame_t f;
			struct timeval zero = { 1, 0 };
			int got = amqp_simple_wait_frame_noblock(r->sub, &f, &zero) == AMQP_STATUS_OK &&
				  f.frame_type == AMQP_FRAME_METHOD;
			ck_abort_msg("the consumer on node %d got %s 0x%08x instead of a delivery",
				     cl.nodes[2].id, got ? "method" : "error",
				     got ? f.payload.method.id : (unsigned)rr.library_error);
		}
		int id = -1, tag = -1;
		if (env.message.body.len == 14 && memcmp(env.message.body.bytes, "qk-", 3) == 0) {
			id = atoi((const char *)env.message.body.bytes + 3);
			tag = atoi((const char *)env.message.body.bytes + 9);
		}
		ck_assert_msg(id >= 0 && id < TARGET && tag > 0 && tag <= r->tags &&
				      r->tag_id[tag] == id,
			      "a delivery of %.*s", (int)env.message.body.len,
			      (const char *)env.message.body.bytes);
		if (r->tag_seen[tag]) {
			ck_assert_msg(env.redelivered,
				      "qk-%05d (publish %d) delivered again, not flagged redelivered", id,
				      tag);
			r->dups++;
		} else if (r->seen[id]) { /* another publish of it: one was nacked */
			ck_assert_msg(r->nacked[id], "qk-%05d came from two publishes, none nacked",
				      id);
			r->copies++;
		} else {
			r->seen[id] = 1;
			r->nseen++;
		}
		r->tag_seen[tag] = 1;
		ck_assert_int_eq(amqp_basic_ack(r->sub, 1, env.delivery_tag, 0), 0);
		amqp_destroy_envelope(&env);
	}
}

static int all_confirmed_seen(const struct run *r)
{
	if (r->nconfirmed < TARGET)
		return 0;
	for (int i = 0; i < TARGET; i++)
		if (r->confirmed[i] && !r->seen[i])
			return 0;
	return 1;
}

START_TEST(test_cluster_quorum_leader_killed_under_publisher_and_consumer)
{
	char q[64];
	kh_name(q, sizeof(q), "qq-kill");
	amqp_connection_state_t c1 = ca_to(&cl, 0);
	declare_quorum(c1, q);
	ca_done(c1);
	for (int i = 1; i < 3; i++)
		ck_assert_msg(ca_node_answers(&cl, i, "/api/queues", 200, q, 10000),
			      "node %d does not list %s", cl.nodes[i].id, q);
	int first = wait_leader_of(1, q, 10000);
	ck_assert_int_eq(first, cl.nodes[0].id); /* where it was declared */

	struct run *r = calloc(1, sizeof(*r));
	ck_assert_ptr_nonnull(r);
	r->pub = ca_to(&cl, 1);
	amqp_confirm_select(r->pub, 1);
	ca_reply_ok(amqp_get_rpc_reply(r->pub), "confirm.select");
	ca_confirms_init(&r->cf, MAXPUB);
	r->sub = ca_to_notified(&cl, 2);
	amqp_basic_qos(r->sub, 1, 0, 20, 0);
	ca_reply_ok(amqp_get_rpc_reply(r->sub), "basic.qos");
	amqp_basic_consume(r->sub, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0,
			   amqp_empty_table);
	ca_reply_ok(amqp_get_rpc_reply(r->sub), "basic.consume");

	int phase = 0, new_leader = -1;
	uint64_t killed_at = 0, deadline = kh_now_ms() + 200000;
	while (kh_now_ms() < deadline && !(phase == 2 && all_confirmed_seen(r))) {
		/* while there is no leader publishes are nacked: slower then */
		consume_round(r, publish_round(r, q) ? 500 : 100);
		if (phase == 0 && r->nconfirmed >= TARGET / 4) {
			ch_node_kill9(&cl, 0); /* the leader, mid-stream */
			killed_at = kh_now_ms();
			phase = 1;
		}
		if (phase == 1 && new_leader < 0) {
			int l = leader_of(1, q);
			if (l > 0 && l != first)
				new_leader = l;
		}
		if (phase == 1 && new_leader > 0 && kh_now_ms() - killed_at > 2000) {
			ch_node_start(&cl, 0);
			phase = 2;
		}
	}
	fprintf(stderr, "quorum kill: %d confirmed, %d consumed, %d redelivered again, %d second "
		"copies of nacked publishes, leader %d -> %d, %d publishes\n", r->nconfirmed,
		r->nseen, r->dups, r->copies, first, new_leader, r->tags);
	ck_assert_msg(phase == 2, "no new leader after node %d was killed (phase %d)",
		      cl.nodes[0].id, phase);
	ck_assert_msg(all_confirmed_seen(r), "%d confirmed, %d consumed: a confirmed message lost",
		      r->nconfirmed, r->nseen);
	/* and it drains: nothing left on any node's count */
	ck_assert_msg(ca_node_answers(&cl, 1, "/api/queues", 200, "\"messages_ready\":0", 20000),
		      "node %d still counts messages", cl.nodes[1].id);
	ca_confirms_free(&r->cf);
	ca_done(r->pub);
	ca_done(r->sub);
	free(r);
}
END_TEST

/* The base offset of the oldest segment of quorum queue q's log (vhost
 * "/") in node i's data dir; -1 when there is none. */
static long long oldest_segment(int i, const char *q)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/logs/___quorum._2f.%s-0", cl.nodes[i].dir, q);
	return ld_oldest_segment(dir, NULL);
}

/* Settled segments go on every replica: the leader deletes those below
 * the oldest message held, the followers follow its log start. */
START_TEST(test_cluster_quorum_settled_segments_trimmed_on_every_replica)
{
	enum { N = 300, BODY = 1000 };
	char q[64];
	static char body[BODY];
	kh_name(q, sizeof(q), "qq-trim");
	amqp_connection_state_t c1 = ca_to(&cl, 0);
	declare_quorum(c1, q);
	ca_done(c1);
	amqp_connection_state_t pub = ca_to(&cl, 1);
	amqp_confirm_select(pub, 1);
	ca_reply_ok(amqp_get_rpc_reply(pub), "confirm.select");
	struct ca_confirms cf;
	ca_confirms_init(&cf, N);
	memset(body, 'x', sizeof(body));
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(amqp_basic_publish(pub, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0,
						    0, NULL, (amqp_bytes_t){ sizeof(body), body }),
				 0);
	ca_read_confirms(pub, &cf, N, 20000);
	ck_assert_int_eq(cf.acks, N);
	ca_confirms_free(&cf);
	ca_done(pub);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(oldest_segment(i, q), 0);

	amqp_connection_state_t sub = ca_to(&cl, 2);
	for (int i = 0; i < N; i++) {
		amqp_rpc_reply_t r = amqp_basic_get(sub, 1, amqp_cstring_bytes(q), 0);
		ca_reply_ok(r, "basic.get");
		ck_assert_int_eq(r.reply.id, AMQP_BASIC_GET_OK_METHOD);
		uint64_t tag = ((amqp_basic_get_ok_t *)r.reply.decoded)->delivery_tag;
		amqp_message_t m;
		ca_reply_ok(amqp_read_message(sub, 1, &m, 0), "message");
		amqp_destroy_message(&m);
		ck_assert_int_eq(amqp_basic_ack(sub, 1, tag, 0), 0);
	}
	ca_done(sub);
	uint64_t deadline = kh_now_ms() + 20000;
	int trimmed = 0;
	while (trimmed < 3 && kh_now_ms() < deadline) {
		trimmed = 0;
		for (int i = 0; i < 3; i++)
			trimmed += oldest_segment(i, q) > 0;
		if (trimmed < 3)
			usleep(200 * 1000);
	}
	for (int i = 0; i < 3; i++)
		ck_assert_msg(oldest_segment(i, q) > 0, "node %d kept its settled segments of %s",
			      cl.nodes[i].id, q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cluster_quorum");
	TCase *tc = tcase_create("failover");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_cluster_quorum_leader_killed_under_publisher_and_consumer);
	tcase_add_test(tc, test_cluster_quorum_settled_segments_trimmed_on_every_replica);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
