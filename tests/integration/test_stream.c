/* Integration tests: stream queues over AMQP 0-9-1 (issue 7), as RabbitMQ
 * 3.10 has them (x-queue-type: stream): declaration rules and errors,
 * x-stream-offset (first, last, next, an offset, a timestamp, an
 * interval), the x-stream-offset header of every delivery, acks that only
 * return credit, consumers that each read everything, the refusals of
 * basic.get, queue.purge, nack/reject and auto-ack, the same publish in a
 * classic queue and in a stream side by side, and a stream surviving a
 * restart.
 *
 * Every expectation here is RabbitMQ's: run against the private node of
 * tests/rabbitmq/ with TANDEM_TEST_BROKER=127.0.0.1:$RMQ_PORT (the restart
 * test also needs TANDEM_TEST_BROKER_STOP / _START, see harness.h, and is
 * left out without them).  Proven against RabbitMQ 3.10.8: all pass.
 *
 * Publishing goes through a connection of its own with publisher confirms,
 * one message at a time, so that each message is its own chunk on RabbitMQ
 * (its "last" means the start of the last chunk) and its own batch on
 * tandemd; consumers use other connections. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ------------------------------------------------------------------ */

static amqp_table_entry_t e_str(const char *key, const char *v)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(v);
	return e;
}

static amqp_table_entry_t e_i64(const char *key, int64_t v)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_I64;
	e.value.value.i64 = v;
	return e;
}

static amqp_table_entry_t e_ts(const char *key, uint64_t v)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_TIMESTAMP;
	e.value.value.u64 = v;
	return e;
}

static amqp_table_t table(amqp_table_entry_t *e, int n)
{
	amqp_table_t t = { n, e };
	return t;
}

/* queue.declare durable with the arguments; returns the reply. */
static amqp_rpc_reply_t declare(amqp_connection_state_t c, amqp_channel_t ch, const char *q, int durable,
				int exclusive, int auto_delete, amqp_table_t args)
{
	amqp_queue_declare(c, ch, amqp_cstring_bytes(q), 0, durable, exclusive, auto_delete, args);
	return amqp_get_rpc_reply(c);
}

static void declare_stream(amqp_connection_state_t c, amqp_channel_t ch, const char *q)
{
	amqp_table_entry_t a[] = { e_str("x-queue-type", "stream") };
	th_ok(declare(c, ch, q, 1, 0, 0, table(a, 1)), "declare stream");
}

/* A channel closed with `code` whose text contains `text`. */
static void expect_close(amqp_connection_state_t c, amqp_channel_t ch, amqp_rpc_reply_t r, int code,
			 const char *text)
{
	th_expect_channel_close(c, ch, r, code);
	ck_assert_msg(strstr(th_last_close_text(), text) != NULL, "close text '%s' lacks '%s'",
		      th_last_close_text(), text);
}

/* The connection closed with `code` whose text contains `text`. */
static void expect_conn_close(amqp_connection_state_t c, amqp_rpc_reply_t r, int code, const char *text)
{
	th_expect_connection_close(c, r, code);
	ck_assert_msg(strstr(th_last_close_text(), text) != NULL, "close text '%s' lacks '%s'",
		      th_last_close_text(), text);
}

/* A publisher: its own connection, channel 1 in confirm mode. */
static amqp_connection_state_t publisher(void)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_confirm_select(c, 1);
	th_ok_last(c, "confirm.select");
	return c;
}

/* Publishes body (persistent, with an `n` header) and waits for its confirm. */
static void publish_confirmed(amqp_connection_state_t c, const char *exchange, const char *key,
			      const char *body)
{
	amqp_basic_properties_t p;
	amqp_table_entry_t h[] = { e_str("n", body) };
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
	p.delivery_mode = 2;
	p.headers = table(h, 1);
	th_publish_props(c, 1, exchange, key, 0, &p, amqp_cstring_bytes(body));
	amqp_method_t m;
	ck_assert_msg(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &m, 10000) == 1, "no confirm for %s", body);
}

static void publish_n(const char *queue, const char *prefix, int from, int to)
{
	amqp_connection_state_t c = publisher();
	char body[64];
	for (int i = from; i < to; i++) {
		snprintf(body, sizeof(body), "%s%d", prefix, i);
		publish_confirmed(c, "", queue, body);
	}
	th_close(c);
}

/* basic.qos(prefetch) then basic.consume with the arguments (no auto-ack). */
static void consume(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, uint16_t prefetch,
		    amqp_table_t args, char *tag, size_t taglen)
{
	amqp_basic_qos(c, ch, 0, prefetch, 0);
	th_ok_last(c, "basic.qos");
	amqp_basic_consume_ok_t *ok =
		amqp_basic_consume(c, ch, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, args);
	th_ok_last(c, "basic.consume");
	if (tag)
		snprintf(tag, taglen, "%.*s", (int)ok->consumer_tag.len, (const char *)ok->consumer_tag.bytes);
}

static void consume_from(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, uint16_t prefetch,
			 amqp_table_entry_t offset)
{
	consume(c, ch, queue, prefetch, table(&offset, 1), NULL, 0);
}

/* The x-stream-offset header of a delivery (a long), or -1. */
static int64_t stream_offset(const amqp_envelope_t *env)
{
	const amqp_basic_properties_t *p = &env->message.properties;
	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return -1;
	for (int i = 0; i < p->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &p->headers.entries[i];
		if (th_bytes_eq(e->key, "x-stream-offset")) {
			ck_assert_msg(e->value.kind == AMQP_FIELD_KIND_I64, "x-stream-offset of kind '%c'",
				      e->value.kind);
			return e->value.value.i64;
		}
	}
	return -1;
}

/* Waits for the next delivery; checks its body and x-stream-offset header
 * (offset < 0: not checked); acks it when ack; returns its offset. */
static int64_t expect_delivery(amqp_connection_state_t c, const char *body, int64_t offset, int ack)
{
	amqp_envelope_t env;
	char got[256];
	ck_assert_msg(th_next_delivery(c, &env, 10000) == 1, "expected '%s', got nothing", body);
	th_body(&env.message.body, got, sizeof(got));
	int64_t off = stream_offset(&env);
	ck_assert_msg(strcmp(got, body) == 0, "expected '%s', got '%s' (offset %lld)", body, got, (long long)off);
	ck_assert_msg(off >= 0, "delivery of '%s' has no x-stream-offset header", body);
	if (offset >= 0)
		ck_assert_msg(off == offset, "'%s': x-stream-offset %lld, expected %lld", body, (long long)off,
			      (long long)offset);
	ck_assert_msg(!env.redelivered, "stream deliveries are never redelivered");
	if (ack) {
		amqp_basic_ack(c, env.channel, env.delivery_tag, 0);
	}
	amqp_destroy_envelope(&env);
	return off;
}

static void expect_nothing(amqp_connection_state_t c, int ms)
{
	amqp_envelope_t env;
	char got[256];
	if (th_next_delivery(c, &env, ms) == 1) {
		th_body(&env.message.body, got, sizeof(got));
		amqp_destroy_envelope(&env);
		ck_abort_msg("expected no delivery, got '%s'", got);
	}
}

/* ---- declaration --------------------------------------------------------------- */

START_TEST(declare_rules)
{
	char q[128];
	amqp_connection_state_t c = th_connect();
	amqp_table_entry_t s[] = { e_str("x-queue-type", "stream") };
	th_name(q, sizeof(q), "st-decl");

	th_channel(c, 1);
	expect_close(c, 1, declare(c, 1, q, 0, 0, 0, table(s, 1)), TH_PRECONDITION_FAILED,
		     "invalid property 'non-durable'");
	th_channel(c, 1);
	expect_close(c, 1, declare(c, 1, q, 1, 1, 0, table(s, 1)), TH_PRECONDITION_FAILED,
		     "invalid property 'exclusive-owner'");
	th_channel(c, 1);
	expect_close(c, 1, declare(c, 1, q, 1, 0, 1, table(s, 1)), TH_PRECONDITION_FAILED,
		     "invalid property 'auto-delete'");
	th_channel(c, 1);
	expect_close(c, 1, declare(c, 1, "", 1, 0, 0, table(s, 1)), TH_PRECONDITION_FAILED,
		     "Cannot declare a server-named queue for type rabbit_stream_queue");

	amqp_table_entry_t bad_age[] = { e_str("x-queue-type", "stream"), e_str("x-max-age", "7X") };
	th_channel(c, 1);
	expect_close(c, 1, declare(c, 1, q, 1, 0, 0, table(bad_age, 2)), TH_PRECONDITION_FAILED,
		     "invalid arg 'x-max-age'");
	ck_assert_msg(strstr(th_last_close_text(), "invalid_max_age"), "%s", th_last_close_text());
	amqp_table_entry_t zero_age[] = { e_str("x-queue-type", "stream"), e_str("x-max-age", "0s") };
	th_channel(c, 1);
	expect_close(c, 1, declare(c, 1, q, 1, 0, 0, table(zero_age, 2)), TH_PRECONDITION_FAILED,
		     "invalid_max_age");
	amqp_table_entry_t maxlen[] = { e_str("x-queue-type", "stream"), e_i64("x-max-length", 10) };
	th_channel(c, 1);
	expect_close(c, 1, declare(c, 1, q, 1, 0, 0, table(maxlen, 2)), TH_PRECONDITION_FAILED,
		     "invalid arg 'x-max-length' for queue");
	ck_assert_msg(strstr(th_last_close_text(), "of queue type rabbit_stream_queue"), "%s",
		      th_last_close_text());
	amqp_table_entry_t ttl[] = { e_str("x-queue-type", "stream"), e_i64("x-message-ttl", 1000) };
	th_channel(c, 1);
	expect_close(c, 1, declare(c, 1, q, 1, 0, 0, table(ttl, 2)), TH_PRECONDITION_FAILED,
		     "invalid arg 'x-message-ttl'");
	amqp_table_entry_t neg[] = { e_str("x-queue-type", "stream"), e_i64("x-max-length-bytes", -1) };
	th_channel(c, 1);
	expect_close(c, 1, declare(c, 1, q, 1, 0, 0, table(neg, 2)), TH_PRECONDITION_FAILED,
		     "{value_negative,-1}");

	/* every unit RabbitMQ accepts */
	const char *ages[] = { "7D", "12h", "30m", "10s", "1Y", "1M" };
	for (size_t i = 0; i < sizeof(ages) / sizeof(ages[0]); i++) {
		char qa[128];
		amqp_table_entry_t a[] = { e_str("x-queue-type", "stream"), e_str("x-max-age", ages[i]) };
		th_name(qa, sizeof(qa), "st-age");
		th_channel(c, 1);
		th_ok(declare(c, 1, qa, 1, 0, 0, table(a, 2)), ages[i]);
		amqp_queue_delete(c, 1, amqp_cstring_bytes(qa), 0, 0);
		th_ok_last(c, "queue.delete");
		th_channel_close(c, 1);
	}

	/* a good one, then redeclares: equal, different, without arguments */
	amqp_table_entry_t good[] = { e_str("x-queue-type", "stream"), e_str("x-max-age", "7D"),
				      e_i64("x-max-length-bytes", 100000000),
				      e_i64("x-stream-max-segment-size-bytes", 1000000) };
	th_channel(c, 1);
	th_ok(declare(c, 1, q, 1, 0, 0, table(good, 4)), "declare");
	th_ok(declare(c, 1, q, 1, 0, 0, table(good, 4)), "redeclare, same arguments");
	amqp_table_entry_t other[] = { e_str("x-queue-type", "stream"), e_str("x-max-age", "1D"),
				       e_i64("x-max-length-bytes", 100000000),
				       e_i64("x-stream-max-segment-size-bytes", 1000000) };
	expect_close(c, 1, declare(c, 1, q, 1, 0, 0, table(other, 4)), TH_PRECONDITION_FAILED,
		     "inequivalent arg 'x-max-age'");
	th_channel(c, 1);
	expect_close(c, 1, declare(c, 1, q, 0, 0, 0, table(good, 4)), TH_PRECONDITION_FAILED,
		     "inequivalent arg 'durable'");
	th_channel(c, 1);
	uint32_t n = 99, consumers = 99;
	th_ok(th_queue_passive(c, 1, q, &n, &consumers), "passive declare");
	ck_assert_uint_eq(consumers, 0);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");

	/* a plain stream redeclared without arguments: x-queue-type differs */
	declare_stream(c, 1, q);
	expect_close(c, 1, declare(c, 1, q, 1, 0, 0, amqp_empty_table), TH_PRECONDITION_FAILED,
		     "inequivalent arg 'x-queue-type'");
	th_channel(c, 1);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");

	/* and a classic queue is not a stream */
	declare(c, 1, q, 1, 0, 0, amqp_empty_table);
	th_ok_last(c, "declare classic");
	expect_close(c, 1, declare(c, 1, q, 1, 0, 0, table(s, 1)), TH_PRECONDITION_FAILED,
		     "inequivalent arg 'x-queue-type'");
	th_channel(c, 1);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	th_close(c);
}
END_TEST

/* ---- offsets ----------------------------------------------------------------------- */

START_TEST(offset_first_and_header)
{
	char q[128];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "st-first");
	declare_stream(c, 1, q);
	publish_n(q, "m", 0, 5);
	consume_from(c, 1, q, 10, e_str("x-stream-offset", "first"));
	for (int i = 0; i < 5; i++) {
		char b[16];
		snprintf(b, sizeof(b), "m%d", i);
		expect_delivery(c, b, i, 1);
	}
	expect_nothing(c, 300);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_close(c);
}
END_TEST

START_TEST(offset_last_next_numeric)
{
	char q[128];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "st-offs");
	declare_stream(c, 1, q);
	publish_n(q, "m", 0, 5);

	/* last: the start of the last chunk, here the last message */
	consume_from(c, 1, q, 10, e_str("x-stream-offset", "last"));
	expect_delivery(c, "m4", 4, 1);
	expect_nothing(c, 300);
	th_channel_close(c, 1);

	/* numeric: from that offset on */
	th_channel(c, 1);
	consume_from(c, 1, q, 10, e_i64("x-stream-offset", 2));
	expect_delivery(c, "m2", 2, 1);
	expect_delivery(c, "m3", 3, 1);
	expect_delivery(c, "m4", 4, 1);
	expect_nothing(c, 300);
	th_channel_close(c, 1);

	/* next, and no argument (RabbitMQ's default): only what comes after */
	th_channel(c, 1);
	consume_from(c, 1, q, 10, e_str("x-stream-offset", "next"));
	th_channel(c, 2);
	consume(c, 2, q, 10, amqp_empty_table, NULL, 0);
	expect_nothing(c, 300);
	publish_n(q, "m", 5, 6);
	expect_delivery(c, "m5", 5, 1);
	expect_delivery(c, "m5", 5, 1);
	expect_nothing(c, 200);

	/* a digit string is no offset */
	th_channel(c, 3);
	amqp_basic_qos(c, 3, 0, 10, 0);
	th_ok_last(c, "basic.qos");
	amqp_table_entry_t bad = e_str("x-stream-offset", "5");
	amqp_basic_consume(c, 3, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, table(&bad, 1));
	expect_close(c, 3, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED, "invalid arg 'x-stream-offset'");
	amqp_queue_delete(c, 2, amqp_cstring_bytes(q), 0, 0);
	th_close(c);
}
END_TEST

START_TEST(offset_timestamp_and_interval)
{
	char q[128];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "st-time");
	declare_stream(c, 1, q);
	publish_n(q, "t", 0, 3);
	uint64_t now = (uint64_t)time(NULL);

	/* a timestamp an hour ago: everything */
	consume_from(c, 1, q, 10, e_ts("x-stream-offset", now - 3600));
	expect_delivery(c, "t0", 0, 1);
	expect_delivery(c, "t1", 1, 1);
	expect_delivery(c, "t2", 2, 1);
	th_channel_close(c, 1);

	/* an interval: "1h" back from now, everything again */
	th_channel(c, 1);
	consume_from(c, 1, q, 10, e_str("x-stream-offset", "1h"));
	expect_delivery(c, "t0", 0, 1);
	expect_delivery(c, "t1", 1, 1);
	expect_delivery(c, "t2", 2, 1);
	th_channel_close(c, 1);

	/* a timestamp in the future: only what is published later */
	th_channel(c, 1);
	consume_from(c, 1, q, 10, e_ts("x-stream-offset", now + 3600));
	expect_nothing(c, 300);
	publish_n(q, "t", 3, 4);
	expect_delivery(c, "t3", 3, 1);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_close(c);
}
END_TEST

/* ---- acks, credit, independent consumers ----------------------------------------------- */

START_TEST(acks_return_credit_and_delete_nothing)
{
	char q[128];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "st-ack");
	declare_stream(c, 1, q);
	publish_n(q, "a", 0, 5);

	/* prefetch 2: two deliveries, then nothing until an ack */
	consume_from(c, 1, q, 2, e_str("x-stream-offset", "first"));
	expect_delivery(c, "a0", 0, 0);
	expect_delivery(c, "a1", 1, 0);
	expect_nothing(c, 400);
	amqp_basic_ack(c, 1, 1, 0); /* the first delivery tag */
	expect_delivery(c, "a2", 2, 0);
	expect_nothing(c, 300);
	amqp_basic_ack(c, 1, 3, 1); /* tags 2 and 3 */
	expect_delivery(c, "a3", 3, 1);
	expect_delivery(c, "a4", 4, 1);
	th_channel_close(c, 1);

	/* everything was acked, and all of it is still there */
	th_channel(c, 1);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 5, 15000), 5);
	consume_from(c, 1, q, 10, e_str("x-stream-offset", "first"));
	for (int i = 0; i < 5; i++) {
		char b[16];
		snprintf(b, sizeof(b), "a%d", i);
		expect_delivery(c, b, i, 1);
	}
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_close(c);
}
END_TEST

START_TEST(consumers_each_read_everything)
{
	char q[128];
	amqp_connection_state_t c1 = th_connect(), c2 = th_connect();
	th_channel(c1, 1);
	th_channel(c2, 1);
	th_name(q, sizeof(q), "st-fanout");
	declare_stream(c1, 1, q);
	publish_n(q, "f", 0, 4);
	consume_from(c1, 1, q, 10, e_str("x-stream-offset", "first"));
	consume_from(c2, 1, q, 10, e_str("x-stream-offset", "first"));
	for (int i = 0; i < 4; i++) {
		char b[16];
		snprintf(b, sizeof(b), "f%d", i);
		expect_delivery(c1, b, i, 1);
		expect_delivery(c2, b, i, 1);
	}
	/* and both see what comes next */
	publish_n(q, "f", 4, 5);
	expect_delivery(c1, "f4", 4, 1);
	expect_delivery(c2, "f4", 4, 1);
	amqp_queue_delete(c1, 1, amqp_cstring_bytes(q), 0, 0);
	th_close(c1);
	th_close(c2);
}
END_TEST

/* ---- refusals ------------------------------------------------------------------------- */

START_TEST(refusals)
{
	char q[128];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "st-refuse");
	declare_stream(c, 1, q);
	publish_n(q, "r", 0, 2);

	/* consuming needs a prefetch (basic.qos), also with a global one only */
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	expect_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED,
		     "consumer prefetch count is not set for");
	th_channel(c, 1);
	amqp_basic_qos(c, 1, 0, 10, 1);
	th_ok_last(c, "basic.qos global");
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	expect_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED,
		     "consumer prefetch count is not set for");

	/* basic.get, queue.purge, auto-ack: 540, closing the connection */
	th_channel(c, 1);
	amqp_basic_get(c, 1, amqp_cstring_bytes(q), 0);
	expect_conn_close(c, amqp_get_rpc_reply(c), TH_NOT_IMPLEMENTED,
			  "basic.get not supported by stream queues");
	th_destroy(c);

	c = th_connect();
	th_channel(c, 1);
	amqp_queue_purge(c, 1, amqp_cstring_bytes(q));
	expect_conn_close(c, amqp_get_rpc_reply(c), TH_NOT_IMPLEMENTED,
			  "queue.purge not supported by stream queues");
	th_destroy(c);

	c = th_connect();
	th_channel(c, 1);
	amqp_basic_qos(c, 1, 0, 10, 0);
	th_ok_last(c, "basic.qos");
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
	expect_conn_close(c, amqp_get_rpc_reply(c), TH_NOT_IMPLEMENTED,
			  "automatic acknowledgement not supported by stream queues");
	th_destroy(c);

	/* nack and reject of a stream delivery: 540 as well */
	c = th_connect();
	th_channel(c, 1);
	consume_from(c, 1, q, 10, e_str("x-stream-offset", "first"));
	expect_delivery(c, "r0", 0, 0);
	amqp_basic_nack(c, 1, 1, 0, 1);
	amqp_rpc_reply_t r = th_sync(c, 1);
	expect_conn_close(c, r, TH_NOT_IMPLEMENTED, "basic.nack and basic.reject not supported");
	th_destroy(c);

	c = th_connect();
	th_channel(c, 1);
	consume_from(c, 1, q, 10, e_str("x-stream-offset", "first"));
	expect_delivery(c, "r0", 0, 0);
	amqp_basic_reject(c, 1, 1, 0);
	r = th_sync(c, 1);
	expect_conn_close(c, r, TH_NOT_IMPLEMENTED, "basic.nack and basic.reject not supported");
	th_destroy(c);

	/* the stream is unharmed */
	c = th_connect();
	th_channel(c, 1);
	consume_from(c, 1, q, 10, e_str("x-stream-offset", "first"));
	expect_delivery(c, "r0", 0, 1);
	expect_delivery(c, "r1", 1, 1);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_close(c);
}
END_TEST

/* ---- one publish, two semantics -------------------------------------------------------- */

START_TEST(classic_and_stream_side_by_side)
{
	char q[128], s[128], x[128];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "side-classic");
	th_name(s, sizeof(s), "side-stream");
	th_name(x, sizeof(x), "side-x");
	th_exchange(c, 1, x, "topic");
	th_queue(c, 1, q, 1, 0, 0, NULL, 0);
	declare_stream(c, 1, s);
	th_bind(c, 1, q, x, "order.*", amqp_empty_table);
	th_bind(c, 1, s, x, "order.*", amqp_empty_table);

	amqp_connection_state_t p = publisher();
	publish_confirmed(p, x, "order.created", "o1");
	publish_confirmed(p, x, "order.paid", "o2");
	publish_confirmed(p, x, "invoice.sent", "i1"); /* routed nowhere */
	th_close(p);

	/* the classic queue: each message once, gone when acked */
	for (int i = 1; i <= 2; i++) {
		amqp_message_t m;
		char want[8], got[64];
		snprintf(want, sizeof(want), "o%d", i);
		ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 5000), 1);
		th_body(&m.body, got, sizeof(got));
		amqp_destroy_message(&m);
		ck_assert_str_eq(got, want);
	}
	th_assert_drained(c, 1, q);

	/* the stream: both, with the exchange and routing key they were
	 * published with, for every reader, as often as asked */
	th_channel(c, 2);
	for (int round = 0; round < 2; round++) {
		amqp_channel_t ch = (amqp_channel_t)(10 + round);
		th_channel(c, ch);
		consume_from(c, ch, s, 10, e_str("x-stream-offset", "first"));
		amqp_envelope_t env;
		for (int i = 1; i <= 2; i++) {
			char want[8], got[64];
			snprintf(want, sizeof(want), "o%d", i);
			ck_assert_int_eq(th_next_delivery(c, &env, 10000), 1);
			th_body(&env.message.body, got, sizeof(got));
			ck_assert_str_eq(got, want);
			ck_assert_msg(th_bytes_eq(env.exchange, x), "exchange %.*s", (int)env.exchange.len,
				      (const char *)env.exchange.bytes);
			ck_assert(th_bytes_eq(env.routing_key, i == 1 ? "order.created" : "order.paid"));
			ck_assert_int_eq(stream_offset(&env), i - 1);
			amqp_basic_ack(c, ch, env.delivery_tag, 0);
			amqp_destroy_envelope(&env);
		}
		th_channel_close(c, ch);
	}
	amqp_queue_delete(c, 2, amqp_cstring_bytes(s), 0, 0);
	amqp_queue_delete(c, 2, amqp_cstring_bytes(q), 0, 0);
	amqp_exchange_delete(c, 2, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

START_TEST(properties_come_back)
{
	char q[128];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "st-props");
	declare_stream(c, 1, q);

	amqp_connection_state_t p = publisher();
	amqp_table_entry_t inner[] = { e_i64("depth", 2) };
	amqp_table_entry_t h[] = { e_str("trace", "abc"), e_i64("retries", 3), e_ts("when", 1700000000) };
	amqp_table_entry_t h2[4];
	memcpy(h2, h, sizeof(h));
	h2[3].key = amqp_cstring_bytes("nested");
	h2[3].value.kind = AMQP_FIELD_KIND_TABLE;
	h2[3].value.value.table = table(inner, 1);
	amqp_basic_properties_t pr;
	memset(&pr, 0, sizeof(pr));
	pr._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
		    AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
		    AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_PRIORITY_FLAG;
	pr.content_type = amqp_cstring_bytes("application/json");
	pr.headers = table(h2, 4);
	pr.delivery_mode = 2;
	pr.priority = 3;
	pr.correlation_id = amqp_cstring_bytes("corr-1");
	pr.message_id = amqp_cstring_bytes("msg-1");
	pr.timestamp = 1600000000;
	pr.app_id = amqp_cstring_bytes("tests");
	th_publish_props(p, 1, "", q, 1, &pr, amqp_cstring_bytes("{\"a\":1}"));
	amqp_method_t m;
	ck_assert_int_eq(th_wait_method(p, 1, AMQP_BASIC_ACK_METHOD, &m, 10000), 1);
	th_close(p);

	consume_from(c, 1, q, 10, e_str("x-stream-offset", "first"));
	amqp_envelope_t env;
	ck_assert_int_eq(th_next_delivery(c, &env, 10000), 1);
	const amqp_basic_properties_t *g = &env.message.properties;
	ck_assert(g->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG);
	ck_assert(th_bytes_eq(g->content_type, "application/json"));
	ck_assert(g->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG);
	ck_assert_int_eq(g->delivery_mode, 2);
	ck_assert_int_eq(g->priority, 3);
	ck_assert(th_bytes_eq(g->correlation_id, "corr-1"));
	ck_assert(th_bytes_eq(g->message_id, "msg-1"));
	ck_assert(th_bytes_eq(g->app_id, "tests"));
	ck_assert_uint_eq(g->timestamp, 1600000000);
	ck_assert(th_bytes_eq(env.routing_key, q));
	ck_assert_uint_eq(env.exchange.len, 0);
	int seen = 0;
	for (int i = 0; i < g->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &g->headers.entries[i];
		if (th_bytes_eq(e->key, "trace")) {
			ck_assert(th_bytes_eq(e->value.value.bytes, "abc"));
			seen |= 1;
		} else if (th_bytes_eq(e->key, "retries")) {
			ck_assert_int_eq(e->value.kind, AMQP_FIELD_KIND_I64);
			ck_assert_int_eq(e->value.value.i64, 3);
			seen |= 2;
		} else if (th_bytes_eq(e->key, "when")) {
			ck_assert_int_eq(e->value.kind, AMQP_FIELD_KIND_TIMESTAMP);
			ck_assert_uint_eq(e->value.value.u64, 1700000000);
			seen |= 4;
		} else if (th_bytes_eq(e->key, "nested")) {
			ck_assert_int_eq(e->value.kind, AMQP_FIELD_KIND_TABLE);
			ck_assert_int_eq(e->value.value.table.num_entries, 1);
			seen |= 8;
		} else if (th_bytes_eq(e->key, "x-stream-offset")) {
			ck_assert_int_eq(e->value.value.i64, 0);
			seen |= 16;
		}
	}
	/* RabbitMQ 3.10 drops nested tables and arrays from the headers of
	 * stream messages (they go through its AMQP 1.0 form); tandemd keeps
	 * the properties byte for byte */
	ck_assert_int_eq(seen | (th_external() ? 8 : 0), 31);
	char got[64];
	th_body(&env.message.body, got, sizeof(got));
	ck_assert_str_eq(got, "{\"a\":1}");
	amqp_basic_ack(c, 1, env.delivery_tag, 0);
	amqp_destroy_envelope(&env);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_close(c);
}
END_TEST

/* ---- restart ----------------------------------------------------------------------------- */

START_TEST(stream_survives_restart)
{
	char q[128];
	th_start_with_args(NULL);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "st-restart");
	amqp_table_entry_t a[] = { e_str("x-queue-type", "stream"), e_str("x-max-age", "7D") };
	th_ok(declare(c, 1, q, 1, 0, 0, table(a, 2)), "declare");
	th_close(c);
	publish_n(q, "d", 0, 3);

	ck_assert_msg(th_broker_stop() == 0, "broker did not exit cleanly");
	th_broker_restart();

	/* the queue is back as the same stream (same arguments), messages and
	 * all; RabbitMQ answers 404 "home node ... is down" until the stream's
	 * replica process runs again, so this waits (bounded) */
	c = th_connect();
	uint64_t deadline = th_now_ms() + 30000;
	for (;;) {
		th_channel(c, 1);
		amqp_rpc_reply_t r = declare(c, 1, q, 1, 0, 0, table(a, 2));
		if (r.reply_type == AMQP_RESPONSE_NORMAL)
			break;
		th_expect_channel_close(c, 1, r, TH_NOT_FOUND);
		ck_assert_msg(th_now_ms() < deadline, "stream not back after restart: %s", th_last_close_text());
		th_sleep_ms(500);
	}
	publish_n(q, "d", 3, 4);
	consume_from(c, 1, q, 10, e_str("x-stream-offset", "first"));
	for (int i = 0; i < 4; i++) {
		char b[16];
		snprintf(b, sizeof(b), "d%d", i);
		expect_delivery(c, b, i, 1);
	}
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	th_close(c);
}
END_TEST

int main(void)
{
	th_start_private();
	Suite *s = suite_create("stream");
	TCase *tc = th_tcase("declare");
	tcase_add_test(tc, declare_rules);
	suite_add_tcase(s, tc);

	tc = th_tcase("offsets");
	tcase_add_test(tc, offset_first_and_header);
	tcase_add_test(tc, offset_last_next_numeric);
	tcase_add_test(tc, offset_timestamp_and_interval);
	suite_add_tcase(s, tc);

	tc = th_tcase("consumers");
	tcase_add_test(tc, acks_return_credit_and_delete_nothing);
	tcase_add_test(tc, consumers_each_read_everything);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);

	tc = th_tcase("messages");
	tcase_add_test(tc, classic_and_stream_side_by_side);
	tcase_add_test(tc, properties_come_back);
	suite_add_tcase(s, tc);

	if (th_can_restart()) { /* a tandemd of its own, or an external broker with stop/start commands */
		tc = th_tcase("restart");
		tcase_set_timeout(tc, 120);
		tcase_add_test(tc, stream_survives_restart);
		suite_add_tcase(s, tc);
	}
	return th_run_suite(s);
}
