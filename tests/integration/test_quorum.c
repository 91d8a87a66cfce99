/*
 * Quorum queues (x-queue-type: quorum) on a single node, held to what
 * RabbitMQ 3.10 does (the facts of compat/python/test_cluster_amqp.py,
 * class Quorum, were checked against a real RabbitMQ): declaration and
 * redeclaration, publisher confirms, x-delivery-count on basic.get (a
 * long, 0 the first time) and on a consumer's redelivery (none the first
 * time), x-delivery-limit dead-lettering with reason delivery_limit (and
 * dropping without a dead-letter exchange), a single active consumer,
 * x-max-length with each x-overflow, what comes back after kill -9 (the
 * queue is rebuilt from its log), the log trimmed below the oldest message
 * held (tandemd only: it looks at the data dir), queue.delete removing the log, and the
 * management API's view of the queue (type, leader, members, online).
 *
 * Where RabbitMQ 3.10 and tandemd differ, the tests assert what both do
 * and say so: a message returned by a nack (or by its consumer going)
 * comes back in RabbitMQ behind the messages ready then, in tandemd at its
 * old place (the oldest first); the tests check that it comes back once,
 * redelivered, with its x-delivery-count, and the order of the others.
 *
 * The tests run against a tandemd the harness starts with an HTTP
 * listener; the restart test starts one of its own and kills it.  Against
 * TANDEM_TEST_BROKER (tests/rabbitmq/run-against-rabbitmq.sh) the AMQP
 * tests run as they are, the restart test when the environment can stop
 * and start the broker (a clean stop there, not kill -9), the management
 * test when TANDEM_TEST_HTTP_PORT names its API (without the look at
 * tandemd's data dir).  Proven against RabbitMQ 3.10.8 that way, all of
 * it (the private node of tests/rabbitmq/start-private.sh with
 * RMQ_MANAGEMENT=1; TANDEM_TEST_BROKER_STOP / _START running
 * /usr/lib/rabbitmq/bin/rabbitmqctl -n NODE stop_app / start_app with the
 * node's HOME and ERL_EPMD_PORT).
 *
 * Depends on: Check, rabbitmq-c, the harness, the confirms helper, the
 * HTTP client (src/util/json.c, compiled in).  Nothing else from src/.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confirms.h"
#include "harness.h"
#include "http_client.h"
#include "logdir.h"

/* Bounded waits of this program (ms). */
#define WAIT_MS 10000

static int http_port;

/* ---- helpers --------------------------------------------------------------------------- */

static amqp_table_entry_t e_str(const char *k, const char *v)
{
	amqp_table_entry_t e = { .key = amqp_cstring_bytes(k) };
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(v);
	return e;
}

static amqp_table_entry_t e_long(const char *k, int64_t v)
{
	amqp_table_entry_t e = { .key = amqp_cstring_bytes(k) };
	e.value.kind = AMQP_FIELD_KIND_I64;
	e.value.value.i64 = v;
	return e;
}

static amqp_table_entry_t e_bool(const char *k, int v)
{
	amqp_table_entry_t e = { .key = amqp_cstring_bytes(k) };
	e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
	e.value.value.boolean = (amqp_boolean_t)v;
	return e;
}

/* queue.declare of a durable queue q with n arguments on (c, ch); the
 * reply (declare-ok, or the channel's close). */
static amqp_rpc_reply_t declare(amqp_connection_state_t c, amqp_channel_t ch, const char *q, int passive,
				amqp_table_entry_t *e, int n)
{
	amqp_table_t args = { .num_entries = n, .entries = e };
	amqp_queue_declare(c, ch, amqp_cstring_bytes(q), (amqp_boolean_t)passive, 1, 0, 0, args);
	return amqp_get_rpc_reply(c);
}

/* Declares quorum queue q (durable) with the n arguments e plus
 * x-queue-type quorum; fails the test unless declare-ok. */
static void declare_qq(amqp_connection_state_t c, amqp_channel_t ch, const char *q, const amqp_table_entry_t *e,
		       int n)
{
	amqp_table_entry_t all[8];
	ck_assert_int_lt(n, 8);
	all[0] = e_str("x-queue-type", "quorum");
	for (int i = 0; i < n; i++)
		all[i + 1] = e[i];
	th_ok(declare(c, ch, q, 0, all, n + 1), "quorum queue.declare");
}

/* The header key of p, or NULL. */
static const amqp_field_value_t *header(const amqp_basic_properties_t *p, const char *key)
{
	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return NULL;
	for (int i = 0; i < p->headers.num_entries; i++)
		if (th_bytes_eq(p->headers.entries[i].key, key))
			return &p->headers.entries[i].value;
	return NULL;
}

/* The entry key of table t, or NULL. */
static const amqp_field_value_t *field(const amqp_table_t *t, const char *key)
{
	for (int i = 0; i < t->num_entries; i++)
		if (th_bytes_eq(t->entries[i].key, key))
			return &t->entries[i].value;
	return NULL;
}

/* x-delivery-count of p: fails the test unless it is there as a long
 * (AMQP field kind 'l', as RabbitMQ sends it); returns its value. */
static int64_t delivery_count(const amqp_basic_properties_t *p, const char *what)
{
	const amqp_field_value_t *v = header(p, "x-delivery-count");
	ck_assert_msg(v != NULL, "%s: no x-delivery-count", what);
	ck_assert_msg(v->kind == AMQP_FIELD_KIND_I64, "%s: x-delivery-count of kind '%c', not 'l'", what,
		      (char)v->kind);
	return v->value.i64;
}

static int field_is_str(const amqp_field_value_t *v, const char *s)
{
	return v != NULL && (v->kind == AMQP_FIELD_KIND_UTF8 || v->kind == AMQP_FIELD_KIND_BYTES) &&
	       th_bytes_eq(v->value.bytes, s);
}

/* A persistent message with header "h" = 7 (to see headers kept). */
static amqp_basic_properties_t persistent_props(amqp_table_entry_t *h)
{
	amqp_basic_properties_t p = { 0 };
	*h = e_long("h", 7);
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
	p.delivery_mode = 2;
	p.headers.num_entries = 1;
	p.headers.entries = h;
	return p;
}

/* Publishes bodies "<prefix><from>" .. "<prefix><to - 1>" persistent with
 * confirms on a connection of its own; fails unless every one is acked. */
static void publish_confirmed(const char *q, const char *prefix, int from, int to)
{
	amqp_connection_state_t c = th_connect();
	struct confirms k;
	amqp_table_entry_t h;
	amqp_basic_properties_t p = persistent_props(&h);
	th_channel(c, 1);
	confirm_select(c, 1);
	confirms_init(&k, c, 1, (uint64_t)(to - from));
	for (int i = from; i < to; i++) {
		char b[64];
		snprintf(b, sizeof(b), "%s%d", prefix, i);
		confirms_publish(&k, "", q, &p, amqp_cstring_bytes(b));
	}
	confirms_all(&k, WAIT_MS);
	ck_assert_uint_eq(k.nacks, 0);
	confirms_free(&k);
	th_close(c);
}

/* basic.get of the next message (bounded wait), which must have body
 * `want`, redelivered flag `redelivered` and x-delivery-count `count`;
 * returns its delivery tag. */
static uint64_t get_expect(amqp_connection_state_t c, amqp_channel_t ch, const char *q, const char *want,
			   int redelivered, int64_t count)
{
	amqp_message_t m;
	uint64_t tag;
	int redel;
	char b[128], what[256];
	ck_assert_msg(th_get_wait(c, ch, q, 0, &m, &tag, &redel, NULL, WAIT_MS) == 1, "%s: get-empty, want %s", q,
		      want);
	th_body(&m.body, b, sizeof(b));
	snprintf(what, sizeof(what), "get of %s (want %s)", b, want);
	ck_assert_msg(strcmp(b, want) == 0, "%s", what);
	ck_assert_msg(redel == redelivered, "%s: redelivered %d", what, redel);
	ck_assert_msg(delivery_count(&m.properties, what) == count, "%s: x-delivery-count %lld, want %lld", what,
		      (long long)delivery_count(&m.properties, what), (long long)count);
	const amqp_field_value_t *h = header(&m.properties, "h");
	ck_assert_msg(h != NULL && h->kind == AMQP_FIELD_KIND_I64 && h->value.i64 == 7, "%s: header h lost", what);
	amqp_destroy_message(&m);
	return tag;
}

/* Gets every message of q (no ack) and fails unless their bodies are the
 * n of want in order and then the queue is empty. */
static void drain_expect(amqp_connection_state_t c, amqp_channel_t ch, const char *q, const char *const *want,
			 int n)
{
	for (int i = 0; i < n; i++) {
		amqp_message_t m;
		char b[128];
		ck_assert_msg(th_get_wait(c, ch, q, 1, &m, NULL, NULL, NULL, WAIT_MS) == 1, "%s: empty, want %s", q,
			      want[i]);
		th_body(&m.body, b, sizeof(b));
		ck_assert_msg(strcmp(b, want[i]) == 0, "%s: message %d is %s, want %s", q, i, b, want[i]);
		amqp_destroy_message(&m);
	}
	ck_assert_uint_eq(th_wait_count(c, ch, q, 0, WAIT_MS), 0);
	ck_assert_int_eq(th_get(c, ch, q, 1, NULL, NULL, NULL, NULL), 0);
}

static void delete_queue(amqp_connection_state_t c, amqp_channel_t ch, const char *q)
{
	amqp_queue_delete(c, ch, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
}

/* ---- 1. declaration ------------------------------------------------------------------------ */

START_TEST(declare_redeclare_and_classic_406)
{
	char q[128], want[512];
	amqp_connection_state_t c = th_connect();
	amqp_table_entry_t a[] = { e_str("x-queue-type", "quorum"), e_long("x-max-length", 5),
				   e_long("x-delivery-limit", 3), e_bool("x-single-active-consumer", 1) };
	amqp_table_entry_t classic[4] = { e_str("x-queue-type", "classic"), a[1], a[2], a[3] };
	th_name(q, sizeof(q), "qq-decl");
	th_channel(c, 1);
	th_ok(declare(c, 1, q, 0, a, 4), "declare");
	/* passive, and the same declaration again */
	uint32_t n = 99, k = 99;
	th_ok(th_queue_passive(c, 1, q, &n, &k), "passive declare");
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(k, 0);
	th_ok(declare(c, 1, q, 0, a, 4), "redeclare");
	/* as classic (the other arguments the same): RabbitMQ's words */
	amqp_rpc_reply_t r = declare(c, 1, q, 0, classic, 4);
	th_expect_channel_close(c, 1, r, TH_PRECONDITION_FAILED);
	snprintf(want, sizeof(want),
		 "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '%s' in vhost '/': "
		 "received 'classic' but current is 'quorum'",
		 q);
	ck_assert_str_eq(th_last_close_text(), want);
	/* without x-queue-type */
	th_channel(c, 1);
	r = declare(c, 1, q, 0, a + 1, 3);
	th_expect_channel_close(c, 1, r, TH_PRECONDITION_FAILED);
	snprintf(want, sizeof(want),
		 "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '%s' in vhost '/': "
		 "received none but current is the value 'quorum' of type 'longstr'",
		 q);
	ck_assert_str_eq(th_last_close_text(), want);
	/* with no arguments at all: RabbitMQ compares a quorum queue's
	 * arguments in its own order, x-max-length before x-queue-type */
	th_channel(c, 1);
	r = declare(c, 1, q, 0, NULL, 0);
	th_expect_channel_close(c, 1, r, TH_PRECONDITION_FAILED);
	snprintf(want, sizeof(want),
		 "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '%s' in vhost '/': "
		 "received none but current is the value '5' of type 'long'",
		 q);
	ck_assert_str_eq(th_last_close_text(), want);
	/* still there, unchanged */
	th_channel(c, 1);
	th_ok(declare(c, 1, q, 0, a, 4), "redeclare after the refusals");
	delete_queue(c, 1, q);
	th_close(c);
}
END_TEST

/* ---- 2. confirms, x-delivery-count, order ------------------------------------------------ */

START_TEST(confirms_and_delivery_count)
{
	char q[128];
	th_name(q, sizeof(q), "qq-count");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	declare_qq(c, 1, q, NULL, 0);

	/* basic.get: x-delivery-count 0, 1, 2, 3 as nacks with requeue return it */
	publish_confirmed(q, "m", 0, 1);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 1, WAIT_MS), 1);
	for (int i = 0; i < 3; i++) {
		uint64_t tag = get_expect(c, 1, q, "m0", i > 0, i);
		amqp_basic_nack(c, 1, tag, 0, 1);
	}
	amqp_basic_ack(c, 1, get_expect(c, 1, q, "m0", 1, 3), 0);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 0, WAIT_MS), 0);

	/* a consumer (prefetch 1): the first deliveries in publish order, with
	 * no x-delivery-count; the redelivery of c0 after its nack with 1.
	 * Where c0 comes back is not asserted: RabbitMQ 3.10 puts a returned
	 * message behind the ready ones (c0 comes last), tandemd at its old
	 * place (c0 again at once). */
	publish_confirmed(q, "c", 0, 5);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 5, WAIT_MS), 5);
	amqp_basic_qos(c, 1, 0, 1, 0);
	th_ok_last(c, "basic.qos");
	th_consume(c, 1, q, "qq-c", 0, 0, NULL, 0);
	int next_first = 0, again = 0;
	for (int i = 0; i < 6; i++) {
		amqp_envelope_t env;
		char b[64], what[128], want[16];
		ck_assert_msg(th_next_delivery(c, &env, WAIT_MS) == 1, "delivery %d missing", i);
		th_body(&env.message.body, b, sizeof(b));
		snprintf(what, sizeof(what), "delivery %d (%s)", i, b);
		if (env.redelivered) {
			ck_assert_msg(strcmp(b, "c0") == 0 && !again, "%s: redelivered", what);
			ck_assert_int_eq(delivery_count(&env.message.properties, what), 1);
			again = 1;
		} else {
			snprintf(want, sizeof(want), "c%d", next_first++);
			ck_assert_msg(strcmp(b, want) == 0, "%s: want %s", what, want);
			ck_assert_msg(header(&env.message.properties, "x-delivery-count") == NULL,
				      "%s: a first delivery with x-delivery-count", what);
		}
		const amqp_field_value_t *h = header(&env.message.properties, "h");
		ck_assert_msg(h != NULL && h->value.i64 == 7, "%s: header h lost", what);
		if (i == 0)
			amqp_basic_nack(c, 1, env.delivery_tag, 0, 1);
		else
			amqp_basic_ack(c, 1, env.delivery_tag, 0);
		amqp_destroy_envelope(&env);
	}
	ck_assert(again && next_first == 5);
	amqp_basic_cancel(c, 1, amqp_cstring_bytes("qq-c"));
	th_ok_last(c, "basic.cancel");
	ck_assert_uint_eq(th_wait_count(c, 1, q, 0, WAIT_MS), 0);
	delete_queue(c, 1, q);
	th_close(c);
}
END_TEST

/* ---- 3. x-delivery-limit ------------------------------------------------------------------- */

START_TEST(delivery_limit_dead_letters)
{
	char q[128], dlx[128], dlq[128];
	th_name(q, sizeof(q), "qq-limit");
	th_name(dlx, sizeof(dlx), "qq-dlx");
	th_name(dlq, sizeof(dlq), "qq-dlq");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_exchange_declare(c, 1, amqp_cstring_bytes(dlx), amqp_cstring_bytes("fanout"), 0, 1, 0, 0,
			      amqp_empty_table);
	th_ok_last(c, "exchange.declare");
	th_queue(c, 1, dlq, 1, 0, 0, NULL, 0);
	th_bind(c, 1, dlq, dlx, "", amqp_empty_table);
	amqp_table_entry_t a[] = { e_long("x-delivery-limit", 2), e_str("x-dead-letter-exchange", dlx) };
	declare_qq(c, 1, q, a, 2);
	publish_confirmed(q, "poison", 0, 1);

	for (int i = 0; i < 3; i++) {
		uint64_t tag = get_expect(c, 1, q, "poison0", i > 0, i);
		amqp_basic_nack(c, 1, tag, 0, 1);
	}
	/* the third nack went past the limit: dead-lettered, not requeued */
	ck_assert_uint_eq(th_wait_count(c, 1, dlq, 1, WAIT_MS), 1);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 0, WAIT_MS), 0);
	ck_assert_int_eq(th_get(c, 1, q, 1, NULL, NULL, NULL, NULL), 0);

	amqp_rpc_reply_t r = amqp_basic_get(c, 1, amqp_cstring_bytes(dlq), 1);
	th_ok(r, "basic.get dlq");
	ck_assert_uint_eq(r.reply.id, AMQP_BASIC_GET_OK_METHOD);
	amqp_basic_get_ok_t *ok = r.reply.decoded;
	ck_assert(th_bytes_eq(ok->exchange, dlx));
	ck_assert(th_bytes_eq(ok->routing_key, q));
	amqp_message_t m;
	th_ok(amqp_read_message(c, 1, &m, 0), "read message");
	ck_assert(th_bytes_eq(m.body, "poison0"));
	const amqp_field_value_t *death = header(&m.properties, "x-death");
	ck_assert_msg(death != NULL && death->kind == AMQP_FIELD_KIND_ARRAY, "no x-death array");
	ck_assert_int_eq(death->value.array.num_entries, 1);
	const amqp_field_value_t *d0 = &death->value.array.entries[0];
	ck_assert_int_eq(d0->kind, AMQP_FIELD_KIND_TABLE);
	const amqp_table_t *d = &d0->value.table;
	ck_assert_msg(field_is_str(field(d, "reason"), "delivery_limit"), "x-death reason");
	ck_assert_msg(field_is_str(field(d, "queue"), q), "x-death queue");
	ck_assert_msg(field_is_str(field(d, "exchange"), ""), "x-death exchange");
	const amqp_field_value_t *cnt = field(d, "count");
	ck_assert_msg(cnt != NULL && cnt->kind == AMQP_FIELD_KIND_I64 && cnt->value.i64 == 1, "x-death count");
	const amqp_field_value_t *rk = field(d, "routing-keys");
	ck_assert_msg(rk != NULL && rk->kind == AMQP_FIELD_KIND_ARRAY && rk->value.array.num_entries == 1 &&
			      field_is_str(&rk->value.array.entries[0], q),
		      "x-death routing-keys");
	ck_assert_msg(field_is_str(header(&m.properties, "x-first-death-reason"), "delivery_limit"),
		      "x-first-death-reason");
	ck_assert_msg(field_is_str(header(&m.properties, "x-first-death-queue"), q), "x-first-death-queue");
	amqp_destroy_message(&m);

	delete_queue(c, 1, q);
	delete_queue(c, 1, dlq);
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(dlx), 0);
	th_ok_last(c, "exchange.delete");
	th_close(c);
}
END_TEST

/* Without x-dead-letter-exchange, a message past x-delivery-limit is
 * dropped. */
START_TEST(delivery_limit_without_dlx_drops)
{
	char q[128];
	th_name(q, sizeof(q), "qq-limit-drop");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_table_entry_t a[] = { e_long("x-delivery-limit", 0) };
	declare_qq(c, 1, q, a, 1);
	publish_confirmed(q, "once", 0, 2);
	uint64_t tag = get_expect(c, 1, q, "once0", 0, 0);
	amqp_basic_nack(c, 1, tag, 0, 1); /* the first return is past a limit of 0 */
	tag = get_expect(c, 1, q, "once1", 0, 0);
	amqp_basic_ack(c, 1, tag, 0);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 0, WAIT_MS), 0);
	ck_assert_int_eq(th_get(c, 1, q, 1, NULL, NULL, NULL, NULL), 0);
	delete_queue(c, 1, q);
	th_close(c);
}
END_TEST

/* x-single-active-consumer: the first consumer gets everything; when it
 * goes, the next one takes over, from what the first left unacked. */
START_TEST(single_active_consumer)
{
	char q[128];
	th_name(q, sizeof(q), "qq-sac");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	amqp_table_entry_t a[] = { e_bool("x-single-active-consumer", 1) };
	declare_qq(c, 1, q, a, 1);
	publish_confirmed(q, "s", 0, 4);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 4, WAIT_MS), 4);
	amqp_basic_qos(c, 1, 0, 2, 0);
	th_ok_last(c, "basic.qos");
	th_consume(c, 1, q, "first", 0, 0, NULL, 0);
	th_consume(c, 2, q, "second", 0, 0, NULL, 0);
	/* the first consumer gets s0 and s1 (prefetch 2), the second nothing */
	amqp_envelope_t env;
	for (int i = 0; i < 2; i++) {
		char want[16];
		snprintf(want, sizeof(want), "s%d", i);
		ck_assert_msg(th_next_delivery(c, &env, WAIT_MS) == 1, "no %s", want);
		ck_assert_msg(th_bytes_eq(env.consumer_tag, "first") && th_bytes_eq(env.message.body, want),
			      "%s not to the first consumer", want);
		amqp_destroy_envelope(&env);
	}
	ck_assert_int_eq(th_next_delivery(c, &env, 300), 0);
	/* s0 and s1 stay unacked on channel 1: when that channel closes (the
	 * consumer goes with it), the second consumer takes over: s0 and s1
	 * again, redelivered, and s2, s3 in order (where s0 and s1 come is not
	 * asserted: RabbitMQ 3.10 and tandemd differ, see the top of the file) */
	th_channel_close(c, 1);
	int next = 2, again[2] = { 0, 0 };
	for (int i = 0; i < 4; i++) {
		char b[64], want[16];
		ck_assert_msg(th_next_delivery(c, &env, WAIT_MS) == 1, "delivery %d missing", i);
		th_body(&env.message.body, b, sizeof(b));
		ck_assert_msg(th_bytes_eq(env.consumer_tag, "second"), "%s not to the second consumer", b);
		if (strcmp(b, "s0") == 0 || strcmp(b, "s1") == 0) {
			int k = b[1] - '0';
			ck_assert_msg(!again[k] && env.redelivered, "%s again, or not redelivered", b);
			again[k] = 1;
		} else {
			snprintf(want, sizeof(want), "s%d", next++);
			ck_assert_msg(strcmp(b, want) == 0 && !env.redelivered, "%s (redelivered %d), want %s", b,
				      env.redelivered, want);
		}
		amqp_basic_ack(c, 2, env.delivery_tag, 0);
		amqp_destroy_envelope(&env);
	}
	ck_assert(again[0] && again[1] && next == 4);
	amqp_basic_cancel(c, 2, amqp_cstring_bytes("second"));
	th_ok_last(c, "basic.cancel");
	ck_assert_uint_eq(th_wait_count(c, 2, q, 0, WAIT_MS), 0);
	delete_queue(c, 2, q);
	th_close(c);
}
END_TEST

/* ---- 4. x-max-length and x-overflow ------------------------------------------------------- */

/* Publishes n persistent messages "<prefix>0".. with confirms; returns the
 * number nacked, and in nacked[i] (i < n) whether publish i was. */
static uint64_t publish_count_nacks(const char *q, const char *prefix, int n, int *nacked)
{
	amqp_connection_state_t c = th_connect();
	struct confirms k;
	amqp_table_entry_t h;
	amqp_basic_properties_t p = persistent_props(&h);
	th_channel(c, 1);
	confirm_select(c, 1);
	confirms_init(&k, c, 1, (uint64_t)n);
	for (int i = 0; i < n; i++) {
		char b[64];
		snprintf(b, sizeof(b), "%s%d", prefix, i);
		confirms_publish(&k, "", q, &p, amqp_cstring_bytes(b));
		/* one at a time: the verdict of each depends on the ones before */
		confirms_wait(&k, WAIT_MS);
	}
	uint64_t nacks = k.nacks;
	for (int i = 0; i < n; i++)
		nacked[i] = k.state[i + 1] == 2;
	confirms_free(&k);
	th_close(c);
	return nacks;
}

/* Publishes body (persistent) to q on k's channel and waits for its
 * confirm: 1 when nacked, 0 when acked. */
static int publish_one(struct confirms *k, const char *q, const char *body)
{
	amqp_table_entry_t h;
	amqp_basic_properties_t p = persistent_props(&h);
	confirms_publish(k, "", q, &p, amqp_cstring_bytes(body));
	confirms_wait(k, WAIT_MS);
	return k->state[k->published] == 2;
}

/* basic.get (auto-ack) on channel 1 of the message want. */
static void get_one(amqp_connection_state_t c, const char *q, const char *want)
{
	amqp_message_t m;
	ck_assert_msg(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, WAIT_MS) == 1, "%s: empty, want %s", q, want);
	ck_assert_msg(th_bytes_eq(m.body, want), "%s: not %s", q, want);
	amqp_destroy_message(&m);
}

START_TEST(max_length_overflow)
{
	char q1[128], q2[128], q3[128];
	int nacked[4];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);

	/* drop-head (the default): the oldest goes */
	th_name(q1, sizeof(q1), "qq-drophead");
	amqp_table_entry_t a1[] = { e_long("x-max-length", 2) };
	declare_qq(c, 1, q1, a1, 1);
	ck_assert_uint_eq(publish_count_nacks(q1, "d", 3, nacked), 0);
	const char *w1[] = { "d1", "d2" };
	drain_expect(c, 1, q1, w1, 2);

	/* reject-publish, as RabbitMQ 3.10's quorum queues do it: a publish is
	 * taken while the queue is not over its limit (it holds one more than
	 * x-max-length), the next is nacked, and publishes stay refused until
	 * the ready messages are down to 80% of the limit (here 1) */
	th_name(q2, sizeof(q2), "qq-reject");
	amqp_table_entry_t a2[] = { e_long("x-max-length", 2), e_str("x-overflow", "reject-publish") };
	declare_qq(c, 1, q2, a2, 2);
	/* one publisher throughout: RabbitMQ tells the publishers it knows
	 * that the queue refuses (a new one may get one publish in) */
	amqp_connection_state_t pc = th_connect();
	struct confirms k;
	th_channel(pc, 1);
	confirm_select(pc, 1);
	confirms_init(&k, pc, 1, 8);
	const char *bodies[] = { "r0", "r1", "r2", "r3" };
	for (int i = 0; i < 4; i++)
		ck_assert_msg(publish_one(&k, q2, bodies[i]) == (i == 3), "%s: acked %d", bodies[i], i == 3);
	ck_assert_uint_eq(th_wait_count(c, 1, q2, 3, WAIT_MS), 3);
	get_one(c, q2, "r0");
	ck_assert_uint_eq(th_wait_count(c, 1, q2, 2, WAIT_MS), 2);
	ck_assert_msg(publish_one(&k, q2, "y") == 1, "2 ready (over 80%% of 2): y acked");
	get_one(c, q2, "r1");
	ck_assert_uint_eq(th_wait_count(c, 1, q2, 1, WAIT_MS), 1);
	ck_assert_msg(publish_one(&k, q2, "z") == 0, "1 ready: z nacked");
	confirms_free(&k);
	th_close(pc);
	const char *w2[] = { "r2", "z" };
	drain_expect(c, 1, q2, w2, 2);

	/* reject-publish-dlx: RabbitMQ 3.10 takes it on a quorum queue and
	 * drops the head instead (no nack) */
	th_name(q3, sizeof(q3), "qq-rpdlx");
	amqp_table_entry_t a3[] = { e_long("x-max-length", 1), e_str("x-overflow", "reject-publish-dlx") };
	declare_qq(c, 1, q3, a3, 2);
	ck_assert_uint_eq(publish_count_nacks(q3, "x", 2, nacked), 0);
	const char *w3[] = { "x1" };
	drain_expect(c, 1, q3, w3, 1);

	delete_queue(c, 1, q1);
	delete_queue(c, 1, q2);
	delete_queue(c, 1, q3);
	th_close(c);
}
END_TEST

/* ---- 5. kill -9 ------------------------------------------------------------------------------ */

/* Starts a tandemd of this test's own, with an HTTP listener on a new port. */
static void start_own_broker(void)
{
	char port[16];
	if (th_external())
		return;
	http_port = su_free_port();
	ck_assert_int_gt(http_port, 0);
	th_http_port(http_port);
	snprintf(port, sizeof(port), "%d", http_port);
	const char *args[] = { "--http-port", port, NULL };
	th_start_with_args(args);
}

/* Passive declare of q on channel 1 of c (open) after a restart, waiting
 * (bounded) while the queue is not there yet; channel 1 is open after. */
static void redeclare_after_restart(amqp_connection_state_t c, const char *q)
{
	uint64_t deadline = th_now_ms() + WAIT_MS;
	amqp_table_entry_t a = e_str("x-queue-type", "quorum");
	for (;;) {
		amqp_rpc_reply_t r = declare(c, 1, q, 1, &a, 1);
		if (r.reply_type == AMQP_RESPONSE_NORMAL)
			return;
		th_expect_channel_close(c, 1, r, TH_NOT_FOUND);
		ck_assert_msg(th_now_ms() < deadline, "%s not back after the restart: %s", q, th_last_close_text());
		th_sleep_ms(200);
		th_channel(c, 1);
	}
}

/* kill -9 of the broker (c, connected to it, is destroyed), started
 * again; returns a new connection with channel 1 open and q back. */
static amqp_connection_state_t kill9_and_back(amqp_connection_state_t c, const char *q)
{
	th_broker_kill9();
	th_destroy(c);
	th_broker_restart();
	c = th_connect();
	th_channel(c, 1);
	redeclare_after_restart(c, q);
	return c;
}

START_TEST(kill9_keeps_unacked_and_purge)
{
	char q[128], p[128];
	start_own_broker();
	th_name(q, sizeof(q), "qq-kill");
	th_name(p, sizeof(p), "qq-purged");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	declare_qq(c, 1, q, NULL, 0);
	declare_qq(c, 1, p, NULL, 0);
	publish_confirmed(q, "k", 0, 6);
	publish_confirmed(p, "p", 0, 3);

	/* ack k0 and k1, nack k2 with requeue (x-delivery-count 1) */
	uint64_t t0 = get_expect(c, 1, q, "k0", 0, 0);
	uint64_t t1 = get_expect(c, 1, q, "k1", 0, 0);
	amqp_basic_ack(c, 1, t0, 0);
	amqp_basic_ack(c, 1, t1, 0);
	uint64_t t2 = get_expect(c, 1, q, "k2", 0, 0);
	amqp_basic_nack(c, 1, t2, 0, 1);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 4, WAIT_MS), 4);

	amqp_queue_purge_ok_t *po = amqp_queue_purge(c, 1, amqp_cstring_bytes(p));
	th_ok_last(c, "queue.purge");
	ck_assert_uint_eq(po->message_count, 3);
	/* the settles are in the log once a synchronous method after them is answered */
	th_ok(th_sync(c, 1), "sync");

	/* and two more after them, confirmed just before the kill */
	publish_confirmed(q, "k", 6, 8);
	c = kill9_and_back(c, q);
	redeclare_after_restart(c, p);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 6, WAIT_MS), 6);
	/* exactly the unsettled ones: k3..k7 in order, never delivered, and
	 * k2 once, redelivered with its count kept (where it comes is not
	 * asserted: RabbitMQ 3.10 puts a returned message behind the ones
	 * ready when it came back, after k5; tandemd first) */
	int next = 3, k2 = 0;
	for (int i = 0; i < 6; i++) {
		amqp_message_t m;
		uint64_t tag;
		int redel;
		char b[64], what[128], want[16];
		ck_assert_msg(th_get_wait(c, 1, q, 0, &m, &tag, &redel, NULL, WAIT_MS) == 1, "message %d missing", i);
		th_body(&m.body, b, sizeof(b));
		snprintf(what, sizeof(what), "message %d (%s)", i, b);
		if (strcmp(b, "k2") == 0) {
			ck_assert_msg(!k2 && redel, "%s: again, or not redelivered", what);
			ck_assert_int_eq(delivery_count(&m.properties, what), 1);
			k2 = 1;
		} else {
			snprintf(want, sizeof(want), "k%d", next++);
			ck_assert_msg(strcmp(b, want) == 0 && !redel, "%s: want %s, not redelivered", what, want);
			ck_assert_int_eq(delivery_count(&m.properties, what), 0);
		}
		amqp_destroy_message(&m);
		amqp_basic_ack(c, 1, tag, 0);
	}
	ck_assert(k2 && next == 8);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 0, WAIT_MS), 0);
	ck_assert_int_eq(th_get(c, 1, q, 1, NULL, NULL, NULL, NULL), 0);
	/* the purged queue stayed empty */
	ck_assert_uint_eq(th_wait_count(c, 1, p, 0, WAIT_MS), 0);
	ck_assert_int_eq(th_get(c, 1, p, 1, NULL, NULL, NULL, NULL), 0);

	/* the acks after the restart hold through another kill too */
	th_ok(th_sync(c, 1), "sync");
	c = kill9_and_back(c, q);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 0, WAIT_MS), 0);
	ck_assert_int_eq(th_get(c, 1, q, 1, NULL, NULL, NULL, NULL), 0);
	th_close(c);
}
END_TEST

/* ---- 5b. the log keeps only what the queue holds ------------------------------------------ */

#define TRIM_BODY 1000 /* bytes: 64 KiB segments of about 60 messages */

/* Publishes "<prefix><i>" padded with 'x' to TRIM_BODY bytes, i in
 * [from, to), persistent, confirmed. */
static void publish_padded(const char *q, const char *prefix, int from, int to)
{
	amqp_connection_state_t c = th_connect();
	struct confirms k;
	amqp_table_entry_t h;
	amqp_basic_properties_t p = persistent_props(&h);
	static char b[TRIM_BODY];
	th_channel(c, 1);
	confirm_select(c, 1);
	confirms_init(&k, c, 1, (uint64_t)(to - from));
	for (int i = from; i < to; i++) {
		memset(b, 'x', sizeof(b));
		int n = snprintf(b, sizeof(b), "%s%d.", prefix, i);
		b[n] = '.';
		confirms_publish(&k, "", q, &p, (amqp_bytes_t){ sizeof(b), b });
	}
	confirms_all(&k, WAIT_MS);
	ck_assert_uint_eq(k.nacks, 0);
	confirms_free(&k);
	th_close(c);
}

/* The base offset of the oldest segment of q's log (in vhost "/") in the
 * broker's data dir, and in *n how many segments it has. */
static long long oldest_segment(const char *q, int *n)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/logs/___quorum._2f.%s-0", th_data_dir(), q);
	long long low = ld_oldest_segment(dir, n);
	ck_assert_msg(low >= 0, "no log segments in %s", dir);
	return low;
}

/* basic.get of the next message, whose body must start with "<prefix><i>.";
 * returns its delivery tag. */
static uint64_t get_padded(amqp_connection_state_t c, const char *q, const char *prefix, int i,
			   int redelivered)
{
	amqp_message_t m;
	uint64_t tag;
	int redel;
	char want[64], b[TRIM_BODY + 1];
	snprintf(want, sizeof(want), "%s%d.", prefix, i);
	ck_assert_msg(th_get_wait(c, 1, q, 0, &m, &tag, &redel, NULL, WAIT_MS) == 1, "%s: empty, want %s",
		      q, want);
	th_body(&m.body, b, sizeof(b));
	ck_assert_msg(strncmp(b, want, strlen(want)) == 0, "got %.20s, want %s", b, want);
	ck_assert_msg(redel == redelivered, "%s: redelivered %d", want, redel);
	amqp_destroy_message(&m);
	return tag;
}

/* The leader deletes its log's whole segments below the oldest message
 * the queue still holds (ready or unacked), never one it needs: an unacked
 * message holds its segment, after its ack the settled segments go, and
 * after kill -9 the queue is rebuilt from what is left. */
START_TEST(settled_segments_are_trimmed)
{
	char q[128], port[16];
	int nsegs, before;
	http_port = su_free_port();
	th_http_port(http_port);
	snprintf(port, sizeof(port), "%d", http_port);
	const char *args[] = { "--http-port", port, "--quorum-segment-bytes", "65536",
			       "--log-min-segment-bytes", "4096", NULL };
	th_start_with_args(args);
	th_name(q, sizeof(q), "qq-trim");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	declare_qq(c, 1, q, NULL, 0);
	publish_padded(q, "t", 0, 300);
	uint64_t tags[200];
	for (int i = 0; i < 200; i++)
		tags[i] = get_padded(c, q, "t", i, 0);
	for (int i = 0; i < 200; i++)
		if (i != 5) /* t5 stays unacked */
			amqp_basic_ack(c, 1, tags[i], 0);
	th_ok(th_sync(c, 1), "sync");
	ck_assert_int_eq(oldest_segment(q, &before), 0);
	ck_assert_int_gt(before, 3);
	th_sleep_ms(2500); /* the leader looks every second: t5 holds segment 0 */
	ck_assert_int_eq(oldest_segment(q, &nsegs), 0);
	ck_assert_int_eq(nsegs, before);

	amqp_basic_ack(c, 1, tags[5], 0);
	th_ok(th_sync(c, 1), "sync");
	uint64_t deadline = th_now_ms() + WAIT_MS;
	while (oldest_segment(q, &nsegs) == 0 && th_now_ms() < deadline)
		th_sleep_ms(100);
	ck_assert_msg(oldest_segment(q, &nsegs) > 0, "no segment deleted after every message in it was acked");
	ck_assert_int_lt(nsegs, before);

	c = kill9_and_back(c, q);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 100, WAIT_MS), 100);
	for (int i = 200; i < 300; i++)
		amqp_basic_ack(c, 1, get_padded(c, q, "t", i, 0), 0);
	th_assert_drained(c, 1, q);
	th_close(c);
}
END_TEST

/* ---- 6, 7. management API, queue.delete ------------------------------------------------- */

/* 1 when a directory whose name starts with "___quorum." and contains q
 * is under the broker's data dir (any depth up to 3), else 0. */
static int log_dir_exists(const char *dir, const char *q, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;
	if (!d)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		char sub[4096];
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' || strcmp(de->d_name, "..") == 0))
			continue;
		if (strncmp(de->d_name, "___quorum.", 10) == 0 && strstr(de->d_name, q) != NULL)
			found = 1;
		else if (depth > 0) {
			snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
			DIR *s = opendir(sub);
			if (s) {
				closedir(s);
				found = log_dir_exists(sub, q, depth - 1);
			}
		}
	}
	closedir(d);
	return found;
}

START_TEST(http_view_and_delete)
{
	char q[128], path[300];
	struct th_http_resp r;
	th_name(q, sizeof(q), "qq-http");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_table_entry_t a[] = { e_long("x-delivery-limit", 3) };
	declare_qq(c, 1, q, a, 1);
	publish_confirmed(q, "h", 0, 2);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 2, WAIT_MS), 2);

	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(th_http("GET", path, "guest:guest", NULL, &r), 200);
	ck_assert_msg(th_jmatch(&r, "", "{\"type\":\"quorum\",\"durable\":true,\"auto_delete\":false,"
				     "\"arguments\":{\"x-queue-type\":\"quorum\",\"x-delivery-limit\":3}}"),
		      "%s", r.body);
	const char *leader = th_jstr(&r, "leader");
	ck_assert_msg(leader != NULL && leader[0] != '\0', "no leader: %s", r.body);
	ck_assert_msg(th_jcount(&r, "members") == 1 && th_jcount(&r, "online") == 1, "%s", r.body);
	ck_assert_str_eq(th_jstr(&r, "members/0"), leader);
	ck_assert_str_eq(th_jstr(&r, "online/0"), leader);
	/* RabbitMQ 3.10 shows no "node" for a quorum queue; tandemd shows the leader */
	const char *node = th_jstr(&r, "node");
	ck_assert_msg(node == NULL || strcmp(node, leader) == 0, "node %s, leader %s", node, leader);
	th_http_free(&r);

	/* the list has it too; its log is on disk */
	ck_assert_int_eq(th_http("GET", "/api/queues", "guest:guest", NULL, &r), 200);
	char sel[200];
	snprintf(sel, sizeof(sel), "{\"name\":\"%s\",\"type\":\"quorum\"}", q);
	ck_assert_msg(th_jcontains(&r, "", sel) == 1, "%s not listed", q);
	th_http_free(&r);
	ck_assert_msg(th_external() || log_dir_exists(th_data_dir(), q, 3),
		      "no ___quorum.* directory for %s under %s", q, th_data_dir());

	/* queue.delete: gone from the API, its log gone */
	amqp_queue_delete_ok_t *dok = amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	ck_assert_uint_eq(dok->message_count, 2);
	ck_assert_int_eq(th_http("GET", path, "guest:guest", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(th_http("GET", "/api/queues", "guest:guest", NULL, &r), 200);
	ck_assert_msg(th_jcontains(&r, "", sel) == 0, "%s still listed", q);
	th_http_free(&r);
	uint64_t deadline = th_now_ms() + WAIT_MS;
	while (!th_external() && log_dir_exists(th_data_dir(), q, 3) && th_now_ms() < deadline)
		th_sleep_ms(100);
	ck_assert_msg(th_external() || !log_dir_exists(th_data_dir(), q, 3), "the log of %s is still under %s", q,
		      th_data_dir());
	/* and a queue of the same name is new and empty */
	declare_qq(c, 1, q, NULL, 0);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 0, WAIT_MS), 0);
	ck_assert_int_eq(th_get(c, 1, q, 1, NULL, NULL, NULL, NULL), 0);
	delete_queue(c, 1, q);
	th_close(c);
}
END_TEST

int main(void)
{
	const char *hp = getenv("TANDEM_TEST_HTTP_PORT");
	int http = 1;
	if (getenv("TANDEM_TEST_BROKER")) {
		http = hp != NULL;
		if (http)
			th_http_port(atoi(hp));
	} else {
		char port[16];
		http_port = su_free_port();
		th_http_port(http_port);
		snprintf(port, sizeof(port), "%d", http_port);
		const char *args[] = { "--http-port", port, NULL };
		th_start_with_args(args);
	}
	th_start_private();
	Suite *s = suite_create("quorum");
	TCase *tc = th_tcase("amqp");
	tcase_add_test(tc, declare_redeclare_and_classic_406);
	tcase_add_test(tc, confirms_and_delivery_count);
	tcase_add_test(tc, delivery_limit_dead_letters);
	tcase_add_test(tc, delivery_limit_without_dlx_drops);
	tcase_add_test(tc, single_active_consumer);
	tcase_add_test(tc, max_length_overflow);
	suite_add_tcase(s, tc);
	if (th_can_restart()) {
		tc = th_tcase("durability");
		tcase_add_test(tc, kill9_keeps_unacked_and_purge);
		if (!th_external()) /* looks at tandemd's data dir */
			tcase_add_test(tc, settled_segments_are_trimmed);
		suite_add_tcase(s, tc);
	} else {
		printf("note: the restart test needs TANDEM_TEST_BROKER_STOP and _START\n");
	}
	if (http) {
		tc = th_tcase("management");
		tcase_add_test(tc, http_view_and_delete);
		suite_add_tcase(s, tc);
	} else {
		printf("note: the management API test needs TANDEM_TEST_HTTP_PORT\n");
	}
	return th_run_suite(s);
}
