/*
 * Stream queues in a cluster (issue 14: "stream queues are replicated
 * topics like any other"): three tandemd nodes and a private ZooKeeper on
 * loopback (cluster_harness.h), AMQP through rabbitmq-c.
 *
 * - a stream queue declared on node 1 (and a view's new topic) is a cluster topic: replication
 *   factor 3 (default_replication_factor), led by node 1, in Metadata and
 *   /api/cluster on every node with its three replicas in the ISR;
 * - publisher confirms on node 1 come once the ISR has the record, and
 *   every node's replica holds the same bytes;
 * - the same queue declared on node 2 reads, from "first", everything
 *   published on node 1;
 * - with a follower paused, a consumer on the other follower sees nothing
 *   past the high watermark, and the publisher no confirm, until the ISR
 *   has the records;
 * - kill -9 of the leader: every confirmed record is read on a surviving
 *   node; a publish on a node that does not lead the partition goes to the
 *   new leader over the cluster link, one on the new leader is appended
 *   there: both confirmed and read in order;
 * - publishes on the leader and on both followers (forwarded, with their
 *   properties) are all confirmed and read back on every node; a node
 *   whose cluster secret is refused gets its forwarded publish nacked;
 * - deleting the queue deletes the cluster topic on every node;
 * - without ZooKeeper the declaration is answered 541 after 30 s, never
 *   with a local-only log; with ZooKeeper back it succeeds;
 * - below min_insync_replicas a publish is nacked;
 * - exchanges are the cluster's (core/defs.h): declared on one node, on
 *   every node; redeclared otherwise on another, RabbitMQ's 406; two racing
 *   declarations of one name, one wins everywhere; declared through the
 *   API of one, on the others; durable and transient ones back on a
 *   restarted node; deleted on one, gone everywhere; vhosts, users (a new
 *   password too) and permissions made on one node work on the others, as
 *   do Kafka ACL bindings created and deleted on one node;
 *   kill -9 of the definitions log's leader while two nodes declare: every
 *   declaration answered declare-ok is on every node afterwards.
 *
 * Every wait is bounded; the nodes are stopped by PID (ch_stop).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include "cluster_amqp.h"
#include "cluster_harness.h"
#include "kafka_harness.h"
#include "kraw.h"

#define TEST_TIMEOUT 300
#define TDM_DEFS_TOPIC_NAME "__tandem_definitions" /* core/defs.h */

static struct ch_cluster cl;

static void setup(void)
{
	static const char *const extra[] = { "--replica-lag-time-max-ms", "4000",
					     "--default-replication-factor", "3", NULL };
	ch_start(&cl, 3, extra);
}

static void teardown(void)
{
	ch_stop(&cl);
}

/* ---- AMQP over rabbitmq-c, to a node of our choice ---------------------- */

static void reply_ok(amqp_rpc_reply_t r, const char *what)
{
	ca_reply_ok(r, what);
}

static amqp_connection_state_t amqp_as(int i, const char *vhost, const char *user,
				       const char *password)
{
	return ca_connect(&cl, i, vhost, user, password);
}

static amqp_connection_state_t amqp_to(int i)
{
	return ca_to(&cl, i);
}

static void amqp_done(amqp_connection_state_t c)
{
	ca_done(c);
}

static int declare_exchange(amqp_connection_state_t c, const char *x, const char *type,
			    int durable, char *text, size_t cap)
{
	return ca_declare_exchange(c, x, type, durable, text, cap);
}

static int node_answers(int i, const char *path, int want, const char *needle, int ms)
{
	return ca_node_answers(&cl, i, path, want, needle, ms);
}


/* A connection to node i as user/password on vhost, channel 1 open; NULL
 * when the login is refused. */

/* A connection to node i as guest, channel 1 open. */


/* The arguments of a stream queue (x-queue-type stream), in e. */
static amqp_table_t stream_args(amqp_table_entry_t *e)
{
	e->key = amqp_cstring_bytes("x-queue-type");
	e->value.kind = AMQP_FIELD_KIND_UTF8;
	e->value.value.bytes = amqp_cstring_bytes("stream");
	return (amqp_table_t){ 1, e };
}

/* queue.declare of a durable stream queue; fails the test unless declare-ok. */
static void declare_stream(amqp_connection_state_t c, const char *q)
{
	amqp_table_entry_t e;
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, stream_args(&e));
	reply_ok(amqp_get_rpc_reply(c), "queue.declare");
}

static void publish(amqp_connection_state_t c, const char *q, const char *body)
{
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.delivery_mode = 2;
	ck_assert_int_eq(amqp_basic_publish(c, 1, amqp_cstring_bytes(""), amqp_cstring_bytes(q), 0,
					    0, &p, amqp_cstring_bytes(body)),
			 AMQP_STATUS_OK);
}

/* Publisher confirms seen on a channel: acked[tag] / nacked[tag]. */

/* A confirming publisher on node i, with q declared there. */
static amqp_connection_state_t publisher_on(int i, const char *q)
{
	amqp_connection_state_t c = amqp_to(i);
	declare_stream(c, q);
	amqp_confirm_select(c, 1);
	reply_ok(amqp_get_rpc_reply(c), "confirm.select");
	return c;
}

/* A stream consumer on node i of q from "first" (q declared there first). */
static amqp_connection_state_t consumer_on(int i, const char *q)
{
	amqp_connection_state_t c = amqp_to(i);
	declare_stream(c, q);
	amqp_basic_qos(c, 1, 0, 200, 0);
	reply_ok(amqp_get_rpc_reply(c), "basic.qos");
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes("x-stream-offset");
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes("first");
	amqp_table_t args = { 1, &e };
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, args);
	reply_ok(amqp_get_rpc_reply(c), "basic.consume");
	return c;
}

/* Receives deliveries for up to ms (acking each), checking that delivery
 * k has body "m-%04d" of k; stops once `want` were received in all.
 * Returns the count so far. */
static int receive(amqp_connection_state_t c, int have, int want, int ms)
{
	uint64_t deadline = kh_now_ms() + (uint64_t)ms;
	while (have < want) {
		uint64_t now = kh_now_ms();
		if (now >= deadline)
			break;
		struct timeval tv = { (long)((deadline - now) / 1000), (long)((deadline - now) % 1000) * 1000 };
		amqp_envelope_t env;
		amqp_maybe_release_buffers(c);
		amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_TIMEOUT)
			break;
		reply_ok(r, "consuming");
		char want_body[32];
		snprintf(want_body, sizeof(want_body), "m-%04d", have);
		ck_assert_msg(env.message.body.len == strlen(want_body) &&
				      memcmp(env.message.body.bytes, want_body, strlen(want_body)) == 0,
			      "delivery %d: '%.*s', expected '%s'", have, (int)env.message.body.len,
			      (const char *)env.message.body.bytes, want_body);
		amqp_basic_ack(c, 1, env.delivery_tag, 0);
		amqp_destroy_envelope(&env);
		have++;
	}
	return have;
}

/* ---- what the nodes hold ------------------------------------------------ */

/* 1 when node i's /api/cluster shows partition 0 of topic on three
 * replicas, all in the ISR, with high watermark hw (present), or does not
 * list the topic at all (!present), within 20 s. */
static int api_shows(int i, const char *topic, int hw, int present)
{
	static char body[65536];
	char want[256];
	uint64_t deadline = kh_now_ms() + 20000;
	snprintf(want, sizeof(want), "{\"topic\":\"%s\",\"partition\":0,", topic);
	do {
		if (ch_http_get(&cl, i, "/api/cluster", body, sizeof(body)) != 200)
			continue;
		const char *p = strstr(body, want);
		if (!present && !p)
			return 1;
		const char *end = p ? strchr(p, '}') : NULL;
		if (!present || !end)
			continue;
		char obj[1024], hws[64];
		snprintf(obj, sizeof(obj), "%.*s", (int)(end - p), p);
		snprintf(hws, sizeof(hws), "\"high_watermark\":%d,", hw);
		const char *rs = strstr(obj, "\"replicas\":"), *isr = strstr(obj, "\"isr\":");
		if (ch_json_array_len(rs ? rs + 11 : NULL) == 3 && ch_json_array_len(isr ? isr + 6 : NULL) == 3 &&
		    strstr(obj, hws))
			return 1;
	} while (kh_now_ms() < deadline && (kh_sleep_ms(100), 1));
	return 0;
}

/* ---- the test -------------------------------------------------------------- */

/* The names in the JSON array of strings at a ('[') into out (at most 3,
 * no escapes in them): their count, -1 when it is not such an array. */
static int names_of(const char *a, char out[3][128])
{
	int n = 0;
	if (!a || *a++ != '[')
		return -1;
	while (*a == '"') {
		size_t len = strcspn(a + 1, "\"");
		if (n == 3 || a[1 + len] != '"')
			return -1;
		snprintf(out[n++], 128, "%.*s", (int)len, a + 1);
		a += len + 2;
		if (*a == ',')
			a++;
	}
	return *a == ']' ? n : -1;
}

/* 1 when node i's /api/queues/%2F/q, within 20 s, shows q as RabbitMQ 3.10
 * shows a stream: "leader" `leader` and "members" and "online" both the
 * three distinct names of `all` (in any order); its own "node" into
 * name; else 0 and the last answer in why. */
static int queue_members(int i, const char *q, const char *leader, char all[3][128],
			 char *name, size_t cap, char *why, size_t whycap)
{
	static char body[65536];
	char path[256], got[2][3][128];
	uint64_t deadline = kh_now_ms() + 20000;
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	do {
		snprintf(why, whycap, "no answer");
		if (ch_http_get(&cl, i, path, body, sizeof(body)) != 200)
			continue;
		size_t bl = strlen(body) < whycap ? strlen(body) : whycap - 1;
		memcpy(why, body, bl);
		why[bl] = '\0';
		const char *n = strstr(body, "\"node\":\""), *l = strstr(body, "\"leader\":\"");
		const char *m = strstr(body, "\"members\":"), *o = strstr(body, "\"online\":");
		if (!n || !l)
			continue;
		snprintf(name, cap, "%.*s", (int)strcspn(n + 8, "\""), n + 8);
		if (strncmp(l + 10, leader, strlen(leader)) || l[10 + strlen(leader)] != '"' ||
		    names_of(m ? m + 10 : NULL, got[0]) != 3 || names_of(o ? o + 9 : NULL, got[1]) != 3)
			continue;
		int ok = 1;
		for (int k = 0; k < 2; k++)
			for (int j = 0; j < 3; j++) {
				int seen = 0;
				for (int x = 0; x < 3; x++)
					seen += strcmp(got[k][x], all[j]) == 0;
				ok &= seen == 1;
			}
		if (ok)
			return 1;
	} while (kh_now_ms() < deadline && (kh_sleep_ms(100), 1));
	return 0;
}

START_TEST(test_cluster_stream_queue_is_a_replicated_topic)
{
	enum { N = 200, K = 10 };
	char q[64], body[32];
	kh_name(q, sizeof(q), "sq");

	/* declared on node 1: declare-ok once the cluster topic is led there */
	amqp_connection_state_t pub = publisher_on(0, q);
	ck_assert_msg(ch_wait_leader(&cl, q, 0, 3, 20000) == cl.nodes[0].id,
		      "the stream queue's topic is not a cluster topic with 3 in-sync replicas "
		      "led by node %d (its declaring node)", cl.nodes[0].id);
	int nisr = 0;
	for (int i = 0; i < 3; i++)
		ck_assert_msg(ch_leader(&cl, i, q, 0, &nisr) == cl.nodes[0].id && nisr == 3,
			      "node %d's Metadata: leader or ISR of %s wrong (ISR %d)", cl.nodes[i].id,
			      q, nisr);

	/* the queue (declared on every node: queues are each node's own) in
	 * every node's /api/queues: node 1 its leader, the three its members,
	 * all online (in sync); a node named as its own queues name it */
	char names[3][128], self[128], why[2048];
	for (int i = 0; i < 3; i++)
		snprintf(names[i], sizeof(names[i]), "tandem@node-%d", cl.nodes[i].id);
	for (int i = 1; i < 3; i++) {
		amqp_connection_state_t dc = amqp_to(i);
		declare_stream(dc, q);
		amqp_done(dc);
	}
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(queue_members(i, q, names[0], names, self, sizeof(self), why, sizeof(why)),
			      "node %d: /api/queues/%%2F/%s does not name %s its leader and the 3 nodes "
			      "its members and online: %s", cl.nodes[i].id, q, names[0], why);
		ck_assert_str_eq(self, names[i]);
	}
	/* /metrics: node 1 leads it, the others do not */
	char *scrape = malloc(1 << 20), series[160];
	ck_assert_ptr_nonnull(scrape);
	snprintf(series, sizeof(series), "\ntandem_queue_leader{vhost=\"/\",queue=\"%s\"} ", q);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ch_http_get(&cl, i, "/metrics", scrape, 1 << 20), 200);
		const char *line = strstr(scrape, series);
		ck_assert_msg(line && line[strlen(series)] == (i ? '0' : '1'),
			      "node %d: %s is not %d", cl.nodes[i].id, series + 1, i ? 0 : 1);
	}
	free(scrape);

	/* a view (x-log-topic) of a topic nobody made: the controller makes it */
	char view[64];
	kh_name(view, sizeof(view), "sqview");
	amqp_connection_state_t vc = amqp_to(0);
	amqp_table_entry_t ve[2];
	ve[0].key = amqp_cstring_bytes("x-queue-type");
	ve[0].value.kind = AMQP_FIELD_KIND_UTF8;
	ve[0].value.value.bytes = amqp_cstring_bytes("stream");
	ve[1].key = amqp_cstring_bytes("x-log-topic");
	ve[1].value.kind = AMQP_FIELD_KIND_UTF8;
	ve[1].value.value.bytes = amqp_cstring_bytes(view);
	amqp_table_t vargs = { 2, ve };
	amqp_queue_declare(vc, 1, amqp_cstring_bytes("view-queue"), 0, 1, 0, 0, vargs);
	reply_ok(amqp_get_rpc_reply(vc), "queue.declare of a view");
	amqp_done(vc);
	ck_assert_msg(ch_wait_leader(&cl, view, 0, 3, 20000) >= 1,
		      "a view's new topic %s is not a cluster topic with 3 in-sync replicas", view);

	/* publish N with confirms: every one acked, none nacked */
	struct ca_confirms cf;
	ca_confirms_init(&cf, N + K + 1);
	for (int i = 0; i < N; i++) {
		snprintf(body, sizeof(body), "m-%04d", i);
		publish(pub, q, body);
	}
	ca_read_confirms(pub, &cf, N, 30000);
	ck_assert_msg(cf.acks == N && cf.nacks == 0, "%d of %d confirmed, %d nacked", cf.acks, N,
		      cf.nacks);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(api_shows(i, q, N, 1), "node %d: /api/cluster does not show %s on 3 "
			      "in-sync replicas with high watermark %d", cl.nodes[i].id, q, N);

	/* the same bytes on every node's replica */
	ch_assert_replicas_identical(&cl, q);
	char path[3][700];
	for (int i = 0; i < 3; i++)
		ch_segment_path(&cl, i, q, path[i], sizeof(path[i]));

	/* the same queue declared on node 2 reads what node 1 wrote */
	amqp_connection_state_t con = consumer_on(1, q);
	int got = receive(con, 0, N, 20000);
	ck_assert_msg(got == N, "the consumer on node %d read %d of %d", cl.nodes[1].id, got, N);

	/* node 3 paused: node 2 fetches the next records but the high
	 * watermark stays until the ISR has them (node 3 leaves it after
	 * replica_lag_time_max_ms or its session): node 2's consumer sees
	 * none of them, and the publisher gets no confirm, meanwhile */
	long before = ch_file_size(path[1]);
	ch_node_pause(&cl, 2, 1);
	for (int i = N; i < N + K; i++) {
		snprintf(body, sizeof(body), "m-%04d", i);
		publish(pub, q, body);
	}
	uint64_t deadline = kh_now_ms() + 2000;
	while (kh_now_ms() < deadline && ch_file_size(path[1]) <= before)
		kh_sleep_ms(20);
	ck_assert_msg(ch_file_size(path[1]) > before, "node %d did not fetch the new records",
		      cl.nodes[1].id);
	got = receive(con, got, N + K, 1200);
	ca_read_confirms(pub, &cf, N + 1, 1);
	ck_assert_msg(cf.acks == N, "a confirm came before the ISR had the record (%d acked)",
		      cf.acks);
	ck_assert_msg(got == N, "the consumer on follower %d read past the high watermark: %d "
		      "records, %d confirmed", cl.nodes[1].id, got, cf.acks);
	ch_node_pause(&cl, 2, 0);
	ca_read_confirms(pub, &cf, N + K, 30000);
	ck_assert_msg(cf.acks == N + K && cf.nacks == 0, "%d of %d confirmed, %d nacked", cf.acks,
		      N + K, cf.nacks);
	got = receive(con, got, N + K, 20000);
	ck_assert_msg(got == N + K, "the consumer on node %d read %d of %d", cl.nodes[1].id, got,
		      N + K);
	ck_assert_msg(got <= cf.acks, "consumed %d, only %d confirmed", got, cf.acks);
	amqp_done(con);
	amqp_destroy_connection(pub); /* node 1 dies below: no close handshake */
	ck_assert_msg(ch_wait_leader(&cl, q, 0, 3, 30000) >= 1, "node 3 did not rejoin the ISR");

	/* kill -9 of the leader: every confirmed record is on the new leader */
	ch_node_kill9(&cl, 0);
	int32_t leader = ch_wait_leader(&cl, q, 0, 2, 30000);
	ck_assert_msg(leader >= 1 && leader != cl.nodes[0].id, "no new leader (%d)", leader);
	int li = ch_index(&cl, leader), other = li == 1 ? 2 : 1;
	con = consumer_on(other, q);
	got = receive(con, 0, N + K, 20000);
	ck_assert_msg(got == N + K, "after the failover node %d read %d of %d confirmed records",
		      cl.nodes[other].id, got, N + K);
	amqp_done(con);

	/* a publish on a node that does not lead the partition goes to the
	 * new leader over the cluster link; one on the leader is appended
	 * there: both confirmed, and read in order after the others */
	pub = publisher_on(other, q);
	struct ca_confirms cf2;
	ca_confirms_init(&cf2, 2);
	snprintf(body, sizeof(body), "m-%04d", N + K);
	publish(pub, q, body);
	ca_read_confirms(pub, &cf2, 1, 30000);
	ck_assert_msg(cf2.acks == 1 && cf2.nacks == 0,
		      "a publish on non-leader node %d: %d acked, %d nacked", cl.nodes[other].id,
		      cf2.acks, cf2.nacks);
	amqp_done(pub);
	ca_confirms_free(&cf2);
	pub = publisher_on(li, q);
	ca_confirms_init(&cf2, 2);
	snprintf(body, sizeof(body), "m-%04d", N + K + 1);
	publish(pub, q, body);
	ca_read_confirms(pub, &cf2, 1, 30000);
	ck_assert_msg(cf2.acks == 1, "a publish on the new leader %d was not confirmed (%d nacked)",
		      leader, cf2.nacks);
	ca_confirms_free(&cf2);
	con = consumer_on(other, q);
	got = receive(con, 0, N + K + 2, 20000);
	ck_assert_msg(got == N + K + 2, "node %d read %d of %d", cl.nodes[other].id, got, N + K + 2);
	amqp_done(con);

	/* deleting the queue deletes the cluster topic on every live node */
	amqp_queue_delete(pub, 1, amqp_cstring_bytes(q), 0, 0);
	reply_ok(amqp_get_rpc_reply(pub), "queue.delete");
	amqp_done(pub);
	for (int i = 1; i < 3; i++)
		ck_assert_msg(api_shows(i, q, 0, 0), "node %d still lists %s after queue.delete",
			      cl.nodes[i].id, q);
	ca_confirms_free(&cf);
}
END_TEST

/* A publish with properties: content-type text/plain, header
 * origin=node-N (N: the node it is published on). */
static void publish_from(amqp_connection_state_t c, const char *q, const char *body, int node)
{
	char origin[32];
	snprintf(origin, sizeof(origin), "node-%d", node);
	amqp_table_entry_t h;
	h.key = amqp_cstring_bytes("origin");
	h.value.kind = AMQP_FIELD_KIND_UTF8;
	h.value.value.bytes = amqp_cstring_bytes(origin);
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG |
		   AMQP_BASIC_HEADERS_FLAG;
	p.delivery_mode = 2;
	p.content_type = amqp_cstring_bytes("text/plain");
	p.headers = (amqp_table_t){ 1, &h };
	ck_assert_int_eq(amqp_basic_publish(c, 1, amqp_cstring_bytes(""), amqp_cstring_bytes(q), 0,
					    0, &p, amqp_cstring_bytes(body)),
			 AMQP_STATUS_OK);
}

/* The next delivery on c (within 20 s) has body `body`, content-type
 * text/plain and header origin=node-N. */
static void expect_from(amqp_connection_state_t c, const char *body, int node)
{
	struct timeval tv = { 20, 0 };
	amqp_envelope_t env;
	char origin[32];
	snprintf(origin, sizeof(origin), "node-%d", node);
	amqp_maybe_release_buffers(c);
	reply_ok(amqp_consume_message(c, &env, &tv, 0), "consuming");
	const amqp_basic_properties_t *p = &env.message.properties;
	ck_assert_msg(env.message.body.len == strlen(body) &&
			      memcmp(env.message.body.bytes, body, strlen(body)) == 0,
		      "delivery '%.*s', expected '%s'", (int)env.message.body.len,
		      (const char *)env.message.body.bytes, body);
	ck_assert_msg((p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG) && p->content_type.len == 10 &&
			      memcmp(p->content_type.bytes, "text/plain", 10) == 0,
		      "%s: the content-type did not come through", body);
	int found = 0;
	for (int i = 0; (p->_flags & AMQP_BASIC_HEADERS_FLAG) && i < p->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &p->headers.entries[i];
		found |= e->key.len == 6 && memcmp(e->key.bytes, "origin", 6) == 0 &&
			 e->value.kind == AMQP_FIELD_KIND_UTF8 &&
			 e->value.value.bytes.len == strlen(origin) &&
			 memcmp(e->value.value.bytes.bytes, origin, strlen(origin)) == 0;
	}
	ck_assert_msg(found, "%s: header origin=%s did not come through", body, origin);
	amqp_basic_ack(c, 1, env.delivery_tag, 0);
	amqp_destroy_envelope(&env);
}

/* Issue 15's first piece: a stream queue is writable from any node.  A
 * publish on a follower goes to the leader over the cluster link
 * (cluster_port, authenticated with the cluster secret), with its
 * properties; publishes on the leader and on both followers are all
 * confirmed and read back, properties included, on every node.  A node
 * whose secret the others refuse gets its forwarded publishes nacked,
 * never confirmed, and says why in its log. */
START_TEST(test_cluster_stream_publish_on_a_follower_goes_to_the_leader)
{
	enum { N = 100 };
	char q[64], body[32];
	kh_name(q, sizeof(q), "sqfwd");
	amqp_connection_state_t pub[3];
	pub[0] = publisher_on(0, q); /* node 1 declares it: node 1 leads */
	ck_assert_msg(ch_wait_leader(&cl, q, 0, 3, 20000) == cl.nodes[0].id,
		      "the stream queue's topic is not led by node %d with 3 in-sync replicas",
		      cl.nodes[0].id);
	pub[1] = publisher_on(1, q);
	pub[2] = publisher_on(2, q);
	struct ca_confirms cf[3];
	for (int i = 0; i < 3; i++) {
		ca_confirms_init(&cf[i], N);
		/* one publisher at a time: the order in the log is then known */
		for (int k = 0; k < N; k++) {
			snprintf(body, sizeof(body), "n%d-%04d", cl.nodes[i].id, k);
			publish_from(pub[i], q, body, cl.nodes[i].id);
		}
		ca_read_confirms(pub[i], &cf[i], N, 30000);
		ck_assert_msg(cf[i].acks == N && cf[i].nacks == 0,
			      "publishing on node %d: %d of %d confirmed, %d nacked", cl.nodes[i].id,
			      cf[i].acks, N, cf[i].nacks);
		ca_confirms_free(&cf[i]);
	}
	for (int i = 0; i < 3; i++) {
		amqp_done(pub[i]);
		amqp_connection_state_t con = amqp_to(i);
		amqp_basic_qos(con, 1, 0, 50, 0);
		amqp_table_entry_t e;
		e.key = amqp_cstring_bytes("x-stream-offset");
		e.value.kind = AMQP_FIELD_KIND_UTF8;
		e.value.value.bytes = amqp_cstring_bytes("first");
		amqp_basic_consume(con, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0,
				   (amqp_table_t){ 1, &e });
		reply_ok(amqp_get_rpc_reply(con), "basic.consume");
		for (int from = 0; from < 3; from++)
			for (int k = 0; k < N; k++) {
				snprintf(body, sizeof(body), "n%d-%04d", cl.nodes[from].id, k);
				expect_from(con, body, cl.nodes[from].id);
			}
		amqp_done(con);
	}
	ch_assert_replicas_identical(&cl, q);

	/* node 3 restarted with another secret: node 1 refuses its link, so
	 * what it forwards is nacked, and its log says why */
	snprintf(cl.nodes[2].secret_file, sizeof(cl.nodes[2].secret_file), "%s/other.secret",
		 cl.root);
	ch_write_secret(cl.nodes[2].secret_file, "not-the-cluster-secret-0123456789");
	ch_node_stop(&cl, 2);
	ch_node_start(&cl, 2);
	amqp_connection_state_t p3 = publisher_on(2, q);
	struct ca_confirms c3;
	ca_confirms_init(&c3, 1);
	publish_from(p3, q, "refused", cl.nodes[2].id);
	ca_read_confirms(p3, &c3, 1, 20000);
	ck_assert_msg(c3.nacks == 1 && c3.acks == 0,
		      "node %d with a wrong secret: %d acked, %d nacked (expected a nack)",
		      cl.nodes[2].id, c3.acks, c3.nacks);
	ca_confirms_free(&c3);
	amqp_done(p3);
	ck_assert_msg(ch_log_says(&cl, 2, "refused the cluster secret"),
		      "node %d's log does not say that its cluster secret was refused",
		      cl.nodes[2].id);
}
END_TEST

/* ZooKeeper paused: the controller cannot make the topic (nor, on a fresh
 * cluster, the definitions log the declaration goes through), so the
 * declaration is answered after 30 s with a 541 (RabbitMQ's for a stream
 * it cannot start, or the definitions log's) and never a declare-ok over
 * a local-only log; with ZooKeeper
 * back, the same declaration succeeds and the topic is the cluster's. */
START_TEST(test_cluster_stream_declare_without_the_controller_answers_541)
{
	char q[64];
	kh_name(q, sizeof(q), "sqzk");
	amqp_connection_state_t c = amqp_to(0);
	ck_assert_int_eq(kill(cl.zk_pid, SIGSTOP), 0);
	uint64_t t0 = kh_now_ms();
	amqp_table_entry_t e;
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, stream_args(&e));
	amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
	uint64_t took = kh_now_ms() - t0;
	kill(cl.zk_pid, SIGCONT);
	ck_assert_msg(r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
			      r.reply.id == AMQP_CONNECTION_CLOSE_METHOD,
		      "queue.declare without a controller: reply type %d method 0x%08x after %llu ms",
		      r.reply_type, r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ? r.reply.id : 0,
		      (unsigned long long)took);
	const amqp_connection_close_t *cc = r.reply.decoded;
	char text[300];
	snprintf(text, sizeof(text), "%.*s", (int)cc->reply_text.len,
		 (const char *)cc->reply_text.bytes);
	/* the declaration is the cluster's (definitions log) before its topic
	 * is: whichever of the two cannot be done answers */
	ck_assert_msg(cc->reply_code == 541 &&
			      (strstr(text, "Cannot declare a queue") ||
			       strstr(text, "the cluster did not apply the change")),
		      "closed %u %s", cc->reply_code, text);
	ck_assert_msg(took >= 25000, "answered after %llu ms", (unsigned long long)took);
	amqp_connection_close_ok_t ok;
	amqp_send_method(c, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
	amqp_destroy_connection(c);

	c = amqp_to(0); /* ZooKeeper back: the sessions expired meanwhile come back too */
	declare_stream(c, q);
	ck_assert_msg(ch_wait_leader(&cl, q, 0, 3, 30000) == cl.nodes[0].id,
		      "after ZooKeeper came back the topic is not the cluster's, led by node %d",
		      cl.nodes[0].id);
	amqp_done(c);
}
END_TEST

/* min_insync_replicas 2: with both followers of the stream's partition
 * dead, a publish already appended is nacked once the ISR falls below 2
 * (NOT_ENOUGH_REPLICAS_AFTER_APPEND), and one made after that is nacked
 * at once (NOT_ENOUGH_REPLICAS): never confirmed. */

/* ---- definitions cluster-wide (core/defs.h): exchanges --------------------------- */

/* exchange.declare on channel 1 of c: 0 declare-ok, else the reply code
 * (the channel is reopened) and its text in text. */

/* Waits (bounded) until node i's API answers `want` to GET path, with
 * `needle` in the body when not NULL; 1 when it did. */

/* Waits (bounded) until node i's API shows exchange x with `type`
 * (NULL: until it shows no exchange x); 1 when it did. */
static int node_shows_exchange(int i, const char *x, const char *type, int ms)
{
	char path[160], want[64];
	snprintf(path, sizeof(path), "/api/exchanges/%%2F/%.100s", x);
	snprintf(want, sizeof(want), "\"type\":\"%.40s\"", type ? type : "");
	return type ? node_answers(i, path, 200, want, ms) : node_answers(i, path, 404, NULL, ms);
}

START_TEST(test_cluster_exchanges_are_the_clusters)
{
	char x[64], y[64], t[64], z[64], text[300], want[300];
	kh_name(x, sizeof(x), "xdef");
	kh_name(y, sizeof(y), "xrace");
	kh_name(t, sizeof(t), "xtrans");
	kh_name(z, sizeof(z), "xhttp");
	amqp_connection_state_t c[3];
	for (int i = 0; i < 3; i++)
		c[i] = amqp_to(i);

	/* declared on node 1: every node has it, with its type */
	ck_assert_int_eq(declare_exchange(c[0], x, "fanout", 1, text, sizeof(text)), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(node_shows_exchange(i, x, "fanout", 10000),
			      "node %d does not show exchange %s declared on node %d",
			      cl.nodes[i].id, x, cl.nodes[0].id);
	/* redeclared on node 2 with another type: RabbitMQ's 406 */
	snprintf(want, sizeof(want),
		 "PRECONDITION_FAILED - inequivalent arg 'type' for exchange '%s' in vhost '/': "
		 "received 'direct' but current is 'fanout'", x);
	ck_assert_int_eq(declare_exchange(c[1], x, "direct", 1, text, sizeof(text)), 406);
	ck_assert_str_eq(text, want);
	/* the same declaration on node 3: declare-ok, nothing changes */
	ck_assert_int_eq(declare_exchange(c[2], x, "fanout", 1, text, sizeof(text)), 0);

	/* two nodes declare one new name with different types at once: the
	 * log's order decides, one is refused, every node agrees */
	amqp_exchange_declare_t d = { .exchange = amqp_cstring_bytes(y), .durable = 1,
				      .arguments = amqp_empty_table };
	d.type = amqp_cstring_bytes("topic");
	amqp_send_method(c[1], 1, AMQP_EXCHANGE_DECLARE_METHOD, &d);
	d.type = amqp_cstring_bytes("headers");
	amqp_send_method(c[2], 1, AMQP_EXCHANGE_DECLARE_METHOD, &d);
	int won = 0, refused = 0;
	const char *winner = NULL;
	for (int i = 1; i <= 2; i++) {
		amqp_frame_t f;
		struct timeval tv = { 30, 0 };
		ck_assert_int_eq(amqp_simple_wait_frame_noblock(c[i], &f, &tv), AMQP_STATUS_OK);
		ck_assert_int_eq(f.frame_type, AMQP_FRAME_METHOD);
		if (f.payload.method.id == AMQP_EXCHANGE_DECLARE_OK_METHOD) {
			won++;
			winner = i == 1 ? "topic" : "headers";
		} else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD &&
			   ((amqp_channel_close_t *)f.payload.method.decoded)->reply_code == 406) {
			refused++;
			amqp_channel_close_ok_t ok = { 0 };
			amqp_send_method(c[i], 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
			amqp_channel_open(c[i], 1);
			reply_ok(amqp_get_rpc_reply(c[i]), "channel.open again");
		}
	}
	ck_assert_msg(won == 1 && refused == 1,
		      "racing declarations: %d declare-ok and %d refused (want 1 and 1)", won,
		      refused);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(node_shows_exchange(i, y, winner, 10000),
			      "node %d does not show %s as the declaration that won (%s)",
			      cl.nodes[i].id, y, winner);

	/* the management API on node 3 declares; node 1 has it */
	char path[160], out[512];
	snprintf(path, sizeof(path), "/api/exchanges/%%2F/%s", z);
	ck_assert_int_eq(ch_http(&cl, 2, "PUT", path, "{\"type\":\"topic\",\"durable\":true}", out,
				 sizeof(out)),
			 201);
	ck_assert_msg(node_shows_exchange(0, z, "topic", 10000),
		      "node %d does not show %s put on node %d's API", cl.nodes[0].id, z,
		      cl.nodes[2].id);

	/* a definitions import on node 3: its exchanges are the cluster's, and
	 * its binding between them (each node's own, so far) is made after them */
	char ia[64], ib[64], doc[512], big[8192];
	kh_name(ia, sizeof(ia), "ximpa");
	kh_name(ib, sizeof(ib), "ximpb");
	snprintf(doc, sizeof(doc),
		 "{\"exchanges\":[{\"name\":\"%s\",\"vhost\":\"/\",\"type\":\"fanout\","
		 "\"durable\":true},{\"name\":\"%s\",\"vhost\":\"/\",\"type\":\"direct\","
		 "\"durable\":true}],\"bindings\":[{\"source\":\"%s\",\"vhost\":\"/\","
		 "\"destination\":\"%s\",\"destination_type\":\"exchange\","
		 "\"routing_key\":\"k\",\"arguments\":{}}]}",
		 ia, ib, ia, ib);
	ck_assert_int_eq(ch_http(&cl, 2, "POST", "/api/definitions", doc, out, sizeof(out)), 204);
	ck_assert_msg(node_shows_exchange(0, ia, "fanout", 10000) &&
			      node_shows_exchange(0, ib, "direct", 10000),
		      "node %d does not show the exchanges imported on node %d", cl.nodes[0].id,
		      cl.nodes[2].id);
	snprintf(path, sizeof(path), "/api/exchanges/%%2F/%s/bindings/source", ia);
	for (int i = 0; i < 3; i++) {
		int seen = 0;
		for (int waited = 0; !seen && waited < 10000; waited += 50) {
			ck_assert_int_eq(ch_http_get(&cl, i, path, big, sizeof(big)), 200);
			if (!(seen = strstr(big, ib) != NULL))
				usleep(50 * 1000);
		}
		ck_assert_msg(seen, "node %d: the imported binding %s -> %s is missing: %s",
			      cl.nodes[i].id, ia, ib, big);
	}

	/* exchange.unbind on node 1 of that binding: gone on every node; bound
	 * again on node 2: a publish on node 3 to ia goes through ib to a queue
	 * of node 3's own */
	amqp_exchange_unbind(c[0], 1, amqp_cstring_bytes(ib), amqp_cstring_bytes(ia),
			     amqp_cstring_bytes("k"), amqp_empty_table);
	reply_ok(amqp_get_rpc_reply(c[0]), "exchange.unbind");
	for (int i = 0; i < 3; i++) {
		int gone = 0;
		for (int waited = 0; !gone && waited < 10000; waited += 50) {
			ck_assert_int_eq(ch_http_get(&cl, i, path, big, sizeof(big)), 200);
			if (!(gone = strstr(big, ib) == NULL))
				usleep(50 * 1000);
		}
		ck_assert_msg(gone, "node %d still has the binding %s -> %s", cl.nodes[i].id, ia, ib);
	}
	amqp_exchange_bind(c[1], 1, amqp_cstring_bytes(ib), amqp_cstring_bytes(ia),
			   amqp_cstring_bytes("k"), amqp_empty_table);
	reply_ok(amqp_get_rpc_reply(c[1]), "exchange.bind");
	amqp_queue_declare_ok_t *qd = amqp_queue_declare(c[2], 1, amqp_empty_bytes, 0, 0, 1, 1,
							 amqp_empty_table);
	reply_ok(amqp_get_rpc_reply(c[2]), "queue.declare");
	amqp_bytes_t qn = amqp_bytes_malloc_dup(qd->queue);
	amqp_queue_bind(c[2], 1, qn, amqp_cstring_bytes(ib), amqp_cstring_bytes("k"),
			amqp_empty_table);
	reply_ok(amqp_get_rpc_reply(c[2]), "queue.bind");
	int routed = 0;
	for (int waited = 0; !routed && waited < 10000; waited += 100) {
		amqp_basic_publish(c[2], 1, amqp_cstring_bytes(ia), amqp_cstring_bytes("k"), 0, 0,
				   NULL, amqp_cstring_bytes("through"));
		amqp_rpc_reply_t gr = amqp_basic_get(c[2], 1, qn, 1);
		reply_ok(gr, "basic.get");
		if (!(routed = gr.reply.id == AMQP_BASIC_GET_OK_METHOD))
			usleep(100 * 1000);
		else
			amqp_maybe_release_buffers(c[2]);
	}
	amqp_bytes_free(qn);
	ck_assert_msg(routed, "a publish on node %d to %s did not reach %s through the binding "
		      "made on node %d", cl.nodes[2].id, ia, ib, cl.nodes[1].id);
	char *metrics = malloc(1 << 20);
	ck_assert_ptr_nonnull(metrics);
	ck_assert_int_eq(ch_http_get(&cl, 0, "/metrics", metrics, 1 << 20), 200);
	ck_assert_msg(strstr(metrics, "\ntandem_cluster_definitions_waiting 0\n") != NULL,
		      "node %d's /metrics lacks tandem_cluster_definitions_waiting 0",
		      cl.nodes[0].id);
	free(metrics);

	/* a transient one too; then node 2 restarts: both come back */
	ck_assert_int_eq(declare_exchange(c[0], t, "direct", 0, text, sizeof(text)), 0);
	for (int i = 0; i < 3; i++)
		amqp_done(c[i]);
	ch_node_stop(&cl, 1);
	ch_node_start(&cl, 1);
	ck_assert_msg(node_shows_exchange(1, x, "fanout", 20000),
		      "durable %s is not back on node %d after its restart", x, cl.nodes[1].id);
	ck_assert_msg(node_shows_exchange(1, t, "direct", 20000),
		      "transient %s is not back on node %d after its restart (the cluster still "
		      "has it)", t, cl.nodes[1].id);

	/* deleted on node 2 (after its restart): gone everywhere */
	amqp_connection_state_t c2 = amqp_to(1);
	amqp_exchange_delete(c2, 1, amqp_cstring_bytes(x), 0);
	reply_ok(amqp_get_rpc_reply(c2), "exchange.delete");
	amqp_done(c2);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(node_shows_exchange(i, x, NULL, 10000),
			      "node %d still shows %s deleted on node %d", cl.nodes[i].id, x,
			      cl.nodes[1].id);
}
END_TEST

/* One ACL request of Kafka's, v1, on node i's Kafka listener (as guest,
 * an administrator): CreateAcls (api 30) of a TOPIC LITERAL WRITE binding
 * of User:user on name, or DeleteAcls (31) of the TOPIC LITERAL filter
 * of name.  The binding's error, or the number of bindings deleted. */
static int acl_request(int i, int api, const char *name, const char *user)
{
	char principal[96];
	uint8_t buf[4096];
	struct wb b = { .n = 0 };
	struct rb r;
	int fd = kh_raw_connect_port(cl.nodes[i].kafka_port), n;

	snprintf(principal, sizeof(principal), "User:%s", user);
	w32(&b, 1);
	w8(&b, 2); /* TOPIC */
	wstr(&b, name);
	w8(&b, 3); /* LITERAL */
	wstr(&b, api == 30 ? principal : NULL);
	wstr(&b, api == 30 ? "*" : NULL);
	w8(&b, api == 30 ? 4 : 1); /* WRITE; ANY */
	w8(&b, api == 30 ? 3 : 1); /* ALLOW; ANY */
	kh_raw_request(fd, (int16_t)api, 1, 9, b.d, b.n);
	long len = kh_raw_response(fd, buf, sizeof(buf), 40000);
	ck_assert_msg(len > 0, "node %d: no answer to api %d", cl.nodes[i].id, api);
	r = (struct rb){ buf, (size_t)len, 0 };
	ck_assert_int_eq(r32(&r), 9);
	ck_assert_int_eq(r32(&r), 0); /* throttle */
	ck_assert_int_eq(r32(&r), 1);
	n = r16(&r);
	rskipstr(&r);
	if (api == 31)
		n = n ? -n : r32(&r);
	close(fd);
	return n;
}

/* Kafka's CreateAcls and DeleteAcls on one node change the user's
 * permissions on every node: they go through the definitions log as PUT
 * /api/permissions does, and are answered once applied there. */
START_TEST(test_cluster_kafka_acls_are_the_clusters)
{
	char user[64], topic[64], path[256], out[1024], needle[160];
	kh_name(user, sizeof(user), "uacl");
	kh_name(topic, sizeof(topic), "tacl");

	snprintf(path, sizeof(path), "/api/users/%s", user);
	ck_assert_int_eq(ch_http(&cl, 0, "PUT", path, "{\"password\":\"pw\",\"tags\":\"\"}", out,
				 sizeof(out)),
			 201);
	ck_assert_msg(node_answers(1, path, 200, NULL, 10000), "node %d does not show user %s",
		      cl.nodes[1].id, user);
	ck_assert_int_eq(acl_request(1, 30, topic, user), 0);
	snprintf(path, sizeof(path), "/api/permissions/%%2F/%s", user);
	snprintf(needle, sizeof(needle), "\"write\":\"^%s$\"", topic);
	ck_assert_msg(node_answers(1, path, 200, needle, 0), "node %d answered before it applied",
		      cl.nodes[1].id);
	for (int i = 0; i < 3; i += 2)
		ck_assert_msg(node_answers(i, path, 200, needle, 10000),
			      "node %d does not show the binding made on node %d", cl.nodes[i].id,
			      cl.nodes[1].id);
	ck_assert_int_eq(acl_request(2, 31, topic, user), 1);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(node_answers(i, path, 200, "\"write\":\"\"", 10000),
			      "node %d still shows the binding deleted on node %d", cl.nodes[i].id,
			      cl.nodes[2].id);
}
END_TEST

START_TEST(test_cluster_vhosts_users_permissions_are_the_clusters)
{
	char vh[64], user[64], path[256], out[1024], x[64], text[300];
	kh_name(vh, sizeof(vh), "vdef");
	kh_name(user, sizeof(user), "udef");
	kh_name(x, sizeof(x), "xinv");

	/* a vhost made on node 1, a user on node 2, permissions on node 3 */
	snprintf(path, sizeof(path), "/api/vhosts/%s", vh);
	ck_assert_int_eq(ch_http(&cl, 0, "PUT", path, "{}", out, sizeof(out)), 201);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(node_answers(i, path, 200, NULL, 10000), "node %d does not show vhost %s",
			      cl.nodes[i].id, vh);
	snprintf(path, sizeof(path), "/api/users/%s", user);
	ck_assert_int_eq(ch_http(&cl, 1, "PUT", path, "{\"password\":\"pw-1\",\"tags\":\"\"}", out,
				 sizeof(out)),
			 201);
	ck_assert_msg(node_answers(2, path, 200, NULL, 10000), "node %d does not show user %s",
		      cl.nodes[2].id, user);
	snprintf(path, sizeof(path), "/api/permissions/%s/%s", vh, user);
	ck_assert_int_eq(ch_http(&cl, 2, "PUT", path,
				 "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}", out,
				 sizeof(out)),
			 201);
	ck_assert_msg(node_answers(0, path, 200, NULL, 10000), "node %d does not show %s's permissions",
		      cl.nodes[0].id, user);

	/* the user logs in on node 1 and declares in the new vhost; node 3 has it */
	amqp_connection_state_t c = NULL;
	for (int waited = 0; !c && waited < 10000; waited += 100)
		if (!(c = amqp_as(0, vh, user, "pw-1")))
			usleep(100 * 1000);
	ck_assert_msg(c != NULL, "user %s cannot log in to %s on node %d", user, vh,
		      cl.nodes[0].id);
	ck_assert_int_eq(declare_exchange(c, x, "topic", 1, text, sizeof(text)), 0);
	amqp_done(c);
	snprintf(path, sizeof(path), "/api/exchanges/%s/%s", vh, x);
	ck_assert_msg(node_answers(2, path, 200, NULL, 10000), "node %d does not show %s in %s",
		      cl.nodes[2].id, x, vh);

	/* a new password on node 3: the old one is refused on node 2 */
	snprintf(path, sizeof(path), "/api/users/%s", user);
	ck_assert_int_eq(ch_http(&cl, 2, "PUT", path, "{\"password\":\"pw-2\",\"tags\":\"\"}", out,
				 sizeof(out)),
			 204);
	c = NULL;
	for (int waited = 0; waited < 10000; waited += 100) {
		amqp_connection_state_t old = amqp_as(1, vh, user, "pw-1");
		if (!old && (c = amqp_as(1, vh, user, "pw-2")))
			break;
		if (old)
			amqp_done(old);
		usleep(100 * 1000);
	}
	ck_assert_msg(c != NULL, "node %d: the password changed on node %d is not the one that "
		      "works", cl.nodes[1].id, cl.nodes[2].id);
	amqp_done(c);

	/* the user deleted on node 1: gone on node 3; the vhost deleted on node 2:
	 * gone on node 1 */
	ck_assert_int_eq(ch_http(&cl, 0, "DELETE", path, NULL, out, sizeof(out)), 204);
	ck_assert_msg(node_answers(2, path, 404, NULL, 10000), "node %d still shows deleted user %s",
		      cl.nodes[2].id, user);
	snprintf(path, sizeof(path), "/api/vhosts/%s", vh);
	ck_assert_int_eq(ch_http(&cl, 1, "DELETE", path, NULL, out, sizeof(out)), 204);
	ck_assert_msg(node_answers(0, path, 404, NULL, 10000), "node %d still shows deleted vhost %s",
		      cl.nodes[0].id, vh);
}
END_TEST

/* exchange.declare on node i (reconnecting after a connection error); 1
 * declare-ok, 0 refused or lost. */
static int declare_on(amqp_connection_state_t *c, int i, const char *x)
{
	if (!*c)
		*c = amqp_to(i);
	amqp_exchange_declare(*c, 1, amqp_cstring_bytes(x), amqp_cstring_bytes("fanout"), 0, 1, 0,
			      0, amqp_empty_table);
	amqp_rpc_reply_t r = amqp_get_rpc_reply(*c);
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 1;
	amqp_destroy_connection(*c); /* a 541 closes the connection: start again */
	*c = NULL;
	return 0;
}

/* The leader of the definitions log as node 1's /api/cluster shows it once
 * its ISR has the 3 nodes (Kafka clients cannot see that topic); -1 on
 * timeout. */
static int32_t defs_leader(int ms)
{
	char *out = malloc(1 << 20);
	ck_assert_ptr_nonnull(out);
	int32_t leader = -1;
	for (int waited = 0; leader < 0 && waited <= ms; waited += 100) {
		const char *t = ch_http_get(&cl, 0, "/api/cluster", out, 1 << 20) == 200
					? strstr(out, "\"topic\":\"" TDM_DEFS_TOPIC_NAME "\"")
					: NULL;
		const char *l = t ? strstr(t, "\"leader\":") : NULL;
		const char *isr = t ? strstr(t, "\"isr\":[") : NULL;
		const char *end = isr ? strchr(isr, ']') : NULL;
		int commas = 0;
		for (const char *p = isr; p && p < end; p++)
			commas += *p == ',';
		if (l && end && commas == 2)
			leader = atoi(l + strlen("\"leader\":"));
		if (leader < 0)
			usleep(100 * 1000);
	}
	free(out);
	return leader;
}

START_TEST(test_cluster_definitions_survive_the_log_leaders_death)
{
	enum { N = 60, KILL_AT = 20 };
	char first[64], names[N][64];
	kh_name(first, sizeof(first), "xkfirst");
	amqp_connection_state_t c0 = amqp_to(0);
	ck_assert_int_eq(declare_on(&c0, 0, first), 1); /* makes the log */
	amqp_done(c0);
	int32_t leader = defs_leader(20000);
	ck_assert_msg(leader >= 1, "the definitions log has no leader with 3 in-sync replicas");
	int li = ch_index(&cl, leader), other[2], no = 0;
	for (int i = 0; i < 3; i++)
		if (i != li)
			other[no++] = i;
	amqp_connection_state_t c[2] = { NULL, NULL };
	int ok[N];
	for (int k = 0; k < N; k++) {
		if (k == KILL_AT)
			ch_node_kill9(&cl, li);
		kh_name(names[k], sizeof(names[k]), "xkill");
		ok[k] = declare_on(&c[k % 2], other[k % 2], names[k]);
	}
	for (int j = 0; j < 2; j++)
		if (c[j])
			amqp_done(c[j]);
	int acked = 0;
	for (int k = 0; k < N; k++)
		acked += ok[k];
	ck_assert_msg(acked >= N - KILL_AT, "only %d of %d declarations answered declare-ok after "
		      "the log's leader died", acked, N);
	/* every declare-ok'd exchange is on both survivors, and on the killed
	 * node once it is back */
	ch_node_start(&cl, li);
	for (int k = 0; k < N; k++) {
		if (!ok[k])
			continue;
		for (int i = 0; i < 3; i++)
			ck_assert_msg(node_shows_exchange(i, names[k], "fanout", 20000),
				      "exchange %s (declare-ok on node %d) is missing on node %d after "
				      "the log's leader (node %d) died",
				      names[k], cl.nodes[other[k % 2]].id, cl.nodes[i].id, leader);
	}
}
END_TEST

static void setup_min_isr(void)
{
	static const char *const extra[] = { "--replica-lag-time-max-ms", "4000",
					     "--default-replication-factor", "3",
					     "--min-insync-replicas", "2", NULL };
	ch_start(&cl, 3, extra);
}

START_TEST(test_cluster_stream_publish_below_min_insync_is_nacked)
{
	char q[64];
	kh_name(q, sizeof(q), "sqmin");
	amqp_connection_state_t pub = publisher_on(0, q);
	ck_assert_msg(ch_wait_leader(&cl, q, 0, 3, 20000) == cl.nodes[0].id,
		      "the stream queue's topic is not led by node %d with 3 in sync",
		      cl.nodes[0].id);
	struct ca_confirms cf;
	ca_confirms_init(&cf, 3);
	publish(pub, q, "m-0000");
	ca_read_confirms(pub, &cf, 1, 30000);
	ck_assert_msg(cf.acks == 1, "the first publish was not confirmed (%d nacked)", cf.nacks);

	ch_node_kill9(&cl, 1);
	ch_node_kill9(&cl, 2);
	publish(pub, q, "m-0001"); /* appended: the ISR has not shrunk yet */
	ca_read_confirms(pub, &cf, 2, 30000);
	ck_assert_msg(cf.nacked[2] && !cf.acked[2],
		      "a publish whose ISR fell below min.insync.replicas: %s",
		      cf.acked[2] ? "confirmed" : "no answer");
	int nisr = 0;
	uint64_t deadline = kh_now_ms() + 20000;
	while (kh_now_ms() < deadline &&
	       !(ch_leader(&cl, 0, q, 0, &nisr) == cl.nodes[0].id && nisr == 1))
		kh_sleep_ms(100);
	ck_assert_msg(nisr == 1, "node %d's ISR did not shrink to itself (%d)", cl.nodes[0].id,
		      nisr);
	publish(pub, q, "m-0002");
	ca_read_confirms(pub, &cf, 3, 10000);
	ck_assert_msg(cf.nacked[3] && !cf.acked[3], "a publish below min.insync.replicas: %s",
		      cf.acked[3] ? "confirmed" : "no answer");
	amqp_done(pub);
	ca_confirms_free(&cf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cluster_stream");
	TCase *tc = tcase_create("stream");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, test_cluster_stream_queue_is_a_replicated_topic);
	tcase_add_test(tc, test_cluster_stream_declare_without_the_controller_answers_541);
	suite_add_tcase(s, tc);
	TCase *fwd = tcase_create("forward");
	tcase_add_checked_fixture(fwd, setup, teardown);
	tcase_set_timeout(fwd, TEST_TIMEOUT);
	tcase_add_test(fwd, test_cluster_stream_publish_on_a_follower_goes_to_the_leader);
	suite_add_tcase(s, fwd);
	TCase *defs = tcase_create("defs");
	tcase_add_checked_fixture(defs, setup, teardown);
	tcase_set_timeout(defs, TEST_TIMEOUT);
	tcase_add_test(defs, test_cluster_exchanges_are_the_clusters);
	tcase_add_test(defs, test_cluster_vhosts_users_permissions_are_the_clusters);
	tcase_add_test(defs, test_cluster_kafka_acls_are_the_clusters);
	tcase_add_test(defs, test_cluster_definitions_survive_the_log_leaders_death);
	suite_add_tcase(s, defs);
	TCase *min = tcase_create("min_insync");
	tcase_add_checked_fixture(min, setup_min_isr, teardown);
	tcase_set_timeout(min, TEST_TIMEOUT);
	tcase_add_test(min, test_cluster_stream_publish_below_min_insync_is_nacked);
	suite_add_tcase(s, min);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
