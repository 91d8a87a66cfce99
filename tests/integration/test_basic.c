/* Integration tests: the basic class. publish (mandatory, immediate), qos,
 * consume / cancel (exclusive, no-ack, server tags, server-sent cancel),
 * get, ack / nack / reject, recover, requeue on close, and the misuse
 * errors, as RabbitMQ 3.10 answers them. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char body_buf[256];

static const char *env_body(const amqp_envelope_t *e)
{
	return th_body(&e->message.body, body_buf, sizeof(body_buf));
}

static void publish_n(amqp_connection_state_t c, amqp_channel_t ch, const char *q, int n, const char *prefix)
{
	for (int i = 1; i <= n; i++) {
		char b[64];
		snprintf(b, sizeof(b), "%s%d", prefix, i);
		th_publish(c, ch, "", q, b);
	}
}

/* ---- publish --------------------------------------------------------------- */

/* mandatory + unroutable: basic.return 312 NO_ROUTE with the message; the
 * channel stays open. */
START_TEST(mandatory_unroutable_returned)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "unroutable"), "direct");
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG;
	p.content_type = amqp_cstring_bytes("text/plain");
	p.correlation_id = amqp_cstring_bytes("corr-1");
	th_publish_props(c, 1, x, "nobody-home", 1, &p, amqp_cstring_bytes("come back"));
	amqp_method_t m;
	ck_assert_int_eq(th_wait_method(c, 1, AMQP_BASIC_RETURN_METHOD, &m, 5000), 1);
	amqp_basic_return_t *r = m.decoded;
	ck_assert_uint_eq(r->reply_code, TH_NO_ROUTE);
	ck_assert(th_bytes_eq(r->reply_text, "NO_ROUTE"));
	ck_assert(th_bytes_eq(r->exchange, x));
	ck_assert(th_bytes_eq(r->routing_key, "nobody-home"));
	amqp_message_t msg;
	th_ok(amqp_read_message(c, 1, &msg, 0), "read returned message");
	ck_assert(th_bytes_eq(msg.body, "come back"));
	ck_assert(th_bytes_eq(msg.properties.content_type, "text/plain"));
	ck_assert(th_bytes_eq(msg.properties.correlation_id, "corr-1"));
	amqp_destroy_message(&msg);
	th_ok(th_sync(c, 1), "channel still open");

	/* the default exchange with no such queue returns too */
	th_publish_props(c, 1, "", "no-such-queue-anywhere", 1, &p, amqp_cstring_bytes("again"));
	ck_assert_int_eq(th_wait_method(c, 1, AMQP_BASIC_RETURN_METHOD, &m, 5000), 1);
	r = m.decoded;
	ck_assert_uint_eq(r->reply_code, TH_NO_ROUTE);
	ck_assert(th_bytes_eq(r->exchange, ""));
	th_ok(amqp_read_message(c, 1, &msg, 0), "read returned message");
	amqp_destroy_message(&msg);
	/* non-mandatory unroutable: silently dropped */
	th_publish_props(c, 1, x, "nobody-home", 0, &p, amqp_cstring_bytes("dropped"));
	th_ok(th_sync(c, 1), "sync");
	amqp_frame_t f;
	ck_assert_int_eq(th_wait_frame(c, &f, 300), 0);
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

/* immediate=true: RabbitMQ 3.x does not implement it and closes the
 * connection with 540 NOT_IMPLEMENTED. */
START_TEST(immediate_not_implemented)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "immediate"), 0, 1, 0, NULL, 0);
	int rc = amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 1, NULL,
				    amqp_cstring_bytes("now"));
	ck_assert_int_eq(rc, AMQP_STATUS_OK);
	th_expect_connection_close(c, th_sync(c, 1), TH_NOT_IMPLEMENTED);
	ck_assert_msg(strstr(th_last_close_text(), "immediate=true") != NULL, "text: %s", th_last_close_text());
	th_destroy(c);
}
END_TEST

START_TEST(publish_missing_exchange_404)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	th_publish(c, 1, th_name(x, sizeof(x), "no-exchange"), "k", "lost");
	th_expect_channel_close(c, 1, th_sync(c, 1), TH_NOT_FOUND);
	ck_assert_msg(strstr(th_last_close_text(), "NOT_FOUND - no exchange") == th_last_close_text(), "text: %s",
		      th_last_close_text());
	th_channel(c, 1);
	th_ok(th_sync(c, 1), "reopened");
	th_close(c);
}
END_TEST

/* A message with an empty body (content header says 0, no body frame). */
START_TEST(empty_body)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "empty"), 0, 1, 0, NULL, 0);
	th_publish(c, 1, "", q, "");
	amqp_message_t m;
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 5000), 1);
	ck_assert_uint_eq(m.body.len, 0);
	amqp_destroy_message(&m);
	th_close(c);
}
END_TEST

/* ---- get ------------------------------------------------------------------- */

START_TEST(get_ok_and_empty)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "get"), 0, 1, 0, NULL, 0);
	ck_assert_int_eq(th_get(c, 1, q, 0, NULL, NULL, NULL, NULL), 0); /* get-empty */
	publish_n(c, 1, q, 3, "g");
	ck_assert_uint_eq(th_wait_count(c, 1, q, 3, 5000), 3);
	amqp_rpc_reply_t r = amqp_basic_get(c, 1, amqp_cstring_bytes(q), 0);
	th_ok(r, "get");
	ck_assert_uint_eq(r.reply.id, AMQP_BASIC_GET_OK_METHOD);
	amqp_basic_get_ok_t *ok = r.reply.decoded;
	ck_assert_uint_eq(ok->delivery_tag, 1); /* tags start at 1 per channel */
	ck_assert_int_eq(ok->redelivered, 0);
	ck_assert(th_bytes_eq(ok->exchange, ""));
	ck_assert(th_bytes_eq(ok->routing_key, q));
	ck_assert_uint_eq(ok->message_count, 2); /* messages left after this one */
	amqp_message_t m;
	th_ok(amqp_read_message(c, 1, &m, 0), "read");
	ck_assert(th_bytes_eq(m.body, "g1"));
	amqp_destroy_message(&m);
	uint64_t tag;
	uint32_t left;
	ck_assert_int_eq(th_get(c, 1, q, 0, &m, &tag, NULL, &left), 1);
	ck_assert_uint_eq(tag, 2);
	ck_assert_uint_eq(left, 1);
	ck_assert(th_bytes_eq(m.body, "g2"));
	amqp_destroy_message(&m);
	ck_assert_int_eq(th_get(c, 1, q, 0, &m, &tag, NULL, &left), 1);
	ck_assert_uint_eq(tag, 3);
	ck_assert_uint_eq(left, 0);
	amqp_destroy_message(&m);
	ck_assert_int_eq(th_get(c, 1, q, 0, NULL, NULL, NULL, NULL), 0);
	/* delivery tags are per channel */
	th_channel(c, 2);
	th_publish(c, 2, "", q, "other channel");
	ck_assert_int_eq(th_get_wait(c, 2, q, 0, NULL, &tag, NULL, NULL, 5000), 1);
	ck_assert_uint_eq(tag, 1);
	th_close(c);
}
END_TEST

START_TEST(get_missing_queue_404)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_expect_channel_close(c, 1, amqp_basic_get(c, 1, amqp_cstring_bytes(th_name(q, sizeof(q), "nq")), 0),
				TH_NOT_FOUND);
	th_close(c);
}
END_TEST

/* ---- ack / nack / reject ----------------------------------------------------- */

/* ack multiple covers every tag up to and including the one given. */
START_TEST(ack_multiple)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "ackm"), 0, 1, 0, NULL, 0);
	publish_n(c, 1, q, 5, "a");
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, NULL, NULL, NULL, 5000), 1);
	ck_assert_int_eq(amqp_basic_ack(c, 1, 3, 1), 0);
	th_ok(th_sync(c, 1), "sync");
	/* 4 and 5 are still unacked: closing the channel requeues exactly them */
	th_channel_close(c, 1);
	th_channel(c, 1);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 2, 5000), 2);
	amqp_message_t m;
	int redelivered;
	ck_assert_int_eq(th_get(c, 1, q, 1, &m, NULL, &redelivered, NULL), 1);
	ck_assert(th_bytes_eq(m.body, "a4"));
	ck_assert_int_eq(redelivered, 1);
	amqp_destroy_message(&m);
	ck_assert_int_eq(th_get(c, 1, q, 1, &m, NULL, NULL, NULL), 1);
	ck_assert(th_bytes_eq(m.body, "a5"));
	amqp_destroy_message(&m);
	th_close(c);
}
END_TEST

/* ack with delivery tag 0 and multiple=true acknowledges everything
 * outstanding on the channel. */
START_TEST(ack_zero_multiple_acks_all)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "ack0"), 0, 1, 0, NULL, 0);
	publish_n(c, 1, q, 3, "z");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, NULL, NULL, NULL, 5000), 1);
	ck_assert_int_eq(amqp_basic_ack(c, 1, 0, 1), 0);
	th_ok(th_sync(c, 1), "sync");
	th_channel_close(c, 1);
	th_channel(c, 1);
	th_assert_drained(c, 1, q);
	th_close(c);
}
END_TEST

/* nack (requeue) of several messages: they return to their original
 * positions, ahead of newer ones, with redelivered=true. */
START_TEST(nack_multiple_requeue_order)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "nackm"), 0, 1, 0, NULL, 0);
	publish_n(c, 1, q, 5, "n");
	uint64_t tags[3];
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, &tags[i], NULL, NULL, 5000), 1);
	ck_assert_int_eq(amqp_basic_nack(c, 1, tags[2], 1, 1), 0);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 5, 5000), 5);
	for (int i = 1; i <= 5; i++) {
		amqp_message_t m;
		int red;
		char want[16];
		snprintf(want, sizeof(want), "n%d", i);
		ck_assert_int_eq(th_get(c, 1, q, 1, &m, NULL, &red, NULL), 1);
		ck_assert_msg(th_bytes_eq(m.body, want), "position %d: got '%.*s'", i, (int)m.body.len,
			      (char *)m.body.bytes);
		ck_assert_int_eq(red, i <= 3);
		amqp_destroy_message(&m);
	}
	th_close(c);
}
END_TEST

/* reject one message in the middle with requeue: it goes back to its
 * original position. */
START_TEST(reject_requeue_original_position)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "rej"), 0, 1, 0, NULL, 0);
	publish_n(c, 1, q, 4, "r");
	uint64_t t1, t2;
	ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, &t1, NULL, NULL, 5000), 1);
	ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, &t2, NULL, NULL, 5000), 1);
	ck_assert_int_eq(amqp_basic_reject(c, 1, t2, 1), 0); /* r2 back */
	ck_assert_int_eq(amqp_basic_ack(c, 1, t1, 0), 0);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 3, 5000), 3);
	const char *want[] = {"r2", "r3", "r4"};
	for (int i = 0; i < 3; i++) {
		amqp_message_t m;
		int red;
		ck_assert_int_eq(th_get(c, 1, q, 1, &m, NULL, &red, NULL), 1);
		ck_assert(th_bytes_eq(m.body, want[i]));
		ck_assert_int_eq(red, i == 0);
		amqp_destroy_message(&m);
	}
	th_close(c);
}
END_TEST

START_TEST(nack_reject_discard)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "discard"), 0, 1, 0, NULL, 0);
	publish_n(c, 1, q, 3, "d");
	uint64_t t[3];
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, &t[i], NULL, NULL, 5000), 1);
	ck_assert_int_eq(amqp_basic_reject(c, 1, t[0], 0), 0);
	ck_assert_int_eq(amqp_basic_nack(c, 1, t[2], 1, 0), 0); /* t[1], t[2] */
	th_ok(th_sync(c, 1), "sync");
	th_channel_close(c, 1); /* nothing left to requeue */
	th_channel(c, 1);
	th_assert_drained(c, 1, q);
	th_close(c);
}
END_TEST

/* Unknown delivery tag: 406 PRECONDITION_FAILED on the channel, for ack,
 * nack and reject; the same for a second ack of one tag. */
START_TEST(unknown_delivery_tag_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	ck_assert_int_eq(amqp_basic_ack(c, 1, 99, 0), 0);
	th_expect_channel_close(c, 1, th_sync(c, 1), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "unknown delivery tag 99") != NULL, "text: %s",
		      th_last_close_text());
	th_channel(c, 1);
	ck_assert_int_eq(amqp_basic_nack(c, 1, 5, 0, 1), 0);
	th_expect_channel_close(c, 1, th_sync(c, 1), TH_PRECONDITION_FAILED);
	th_channel(c, 1);
	ck_assert_int_eq(amqp_basic_reject(c, 1, 7, 1), 0);
	th_expect_channel_close(c, 1, th_sync(c, 1), TH_PRECONDITION_FAILED);
	/* ack of tag 0 without multiple is unknown too */
	th_channel(c, 1);
	ck_assert_int_eq(amqp_basic_ack(c, 1, 0, 0), 0);
	th_expect_channel_close(c, 1, th_sync(c, 1), TH_PRECONDITION_FAILED);
	th_close(c);
}
END_TEST

START_TEST(double_ack_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "dack"), 0, 1, 0, NULL, 0);
	th_publish(c, 1, "", q, "once");
	uint64_t tag;
	ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, &tag, NULL, NULL, 5000), 1);
	ck_assert_int_eq(amqp_basic_ack(c, 1, tag, 0), 0);
	th_ok(th_sync(c, 1), "first ack");
	ck_assert_int_eq(amqp_basic_ack(c, 1, tag, 0), 0);
	th_expect_channel_close(c, 1, th_sync(c, 1), TH_PRECONDITION_FAILED);
	th_close(c);
}
END_TEST

/* Tags are per channel: acking channel 1's tag on channel 2 is unknown. */
START_TEST(ack_on_other_channel_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "otherch"), 0, 1, 0, NULL, 0);
	th_publish(c, 1, "", q, "m");
	uint64_t tag;
	ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, &tag, NULL, NULL, 5000), 1);
	ck_assert_int_eq(amqp_basic_ack(c, 2, tag, 0), 0);
	th_expect_channel_close(c, 2, th_sync(c, 2), TH_PRECONDITION_FAILED);
	ck_assert_int_eq(amqp_basic_ack(c, 1, tag, 0), 0);
	th_ok(th_sync(c, 1), "ack on the right channel");
	th_close(c);
}
END_TEST

/* ---- requeue on close ----------------------------------------------------------- */

START_TEST(unacked_requeued_on_channel_close)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "chclose"), 0, 1, 0, NULL, 0);
	publish_n(c, 1, q, 3, "c");
	th_consume(c, 2, q, NULL, 0, 0, NULL, 0);
	for (int i = 0; i < 3; i++) {
		amqp_envelope_t e;
		ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
		ck_assert_int_eq(e.redelivered, 0);
		amqp_destroy_envelope(&e);
	}
	th_channel_close(c, 2);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 3, 5000), 3);
	for (int i = 1; i <= 3; i++) {
		amqp_message_t m;
		int red;
		char want[16];
		snprintf(want, sizeof(want), "c%d", i);
		ck_assert_int_eq(th_get(c, 1, q, 1, &m, NULL, &red, NULL), 1);
		ck_assert(th_bytes_eq(m.body, want));
		ck_assert_int_eq(red, 1);
		amqp_destroy_message(&m);
	}
	th_close(c);
}
END_TEST

START_TEST(unacked_requeued_on_connection_close)
{
	amqp_connection_state_t keeper = th_connect(), c = th_connect();
	th_channel(keeper, 1);
	th_channel(c, 1);
	char q[128];
	th_queue(keeper, 1, th_name(q, sizeof(q), "connclose"), 0, 0, 0, NULL, 0);
	publish_n(keeper, 1, q, 2, "k");
	ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, NULL, NULL, NULL, 5000), 1);
	ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, NULL, NULL, NULL, 5000), 1);
	th_destroy(c); /* socket dropped without close */
	ck_assert_uint_eq(th_wait_count(keeper, 1, q, 2, 5000), 2);
	amqp_message_t m;
	int red;
	ck_assert_int_eq(th_get(keeper, 1, q, 1, &m, NULL, &red, NULL), 1);
	ck_assert(th_bytes_eq(m.body, "k1"));
	ck_assert_int_eq(red, 1);
	amqp_destroy_message(&m);
	amqp_queue_delete(keeper, 1, amqp_cstring_bytes(q), 0, 0);
	th_close(keeper);
}
END_TEST

/* basic.recover requeue=true: unacked messages come back redelivered. */
START_TEST(recover_requeue)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "recover"), 0, 1, 0, NULL, 0);
	publish_n(c, 1, q, 2, "v");
	char tag[256];
	th_consume(c, 1, q, NULL, 0, 0, tag, sizeof(tag));
	amqp_envelope_t e;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
		ck_assert_int_eq(e.redelivered, 0);
		amqp_destroy_envelope(&e);
	}
	amqp_basic_recover_t rec = {.requeue = 1};
	amqp_simple_rpc_decoded(c, 1, AMQP_BASIC_RECOVER_METHOD, AMQP_BASIC_RECOVER_OK_METHOD, &rec);
	th_ok_last(c, "basic.recover");
	for (int i = 1; i <= 2; i++) {
		char want[16];
		snprintf(want, sizeof(want), "v%d", i);
		ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
		ck_assert_int_eq(e.redelivered, 1);
		ck_assert_str_eq(env_body(&e), want);
		ck_assert_uint_eq(e.delivery_tag, (uint64_t)(2 + i)); /* new tags */
		ck_assert_int_eq(amqp_basic_ack(c, 1, e.delivery_tag, 0), 0);
		amqp_destroy_envelope(&e);
	}
	th_ok(th_sync(c, 1), "sync");
	th_close(c);
}
END_TEST

/* basic.recover requeue=false: RabbitMQ 3.x answers 540 NOT_IMPLEMENTED
 * (connection-level). */
START_TEST(recover_no_requeue_not_implemented)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_basic_recover_t rec = {.requeue = 0};
	amqp_simple_rpc_decoded(c, 1, AMQP_BASIC_RECOVER_METHOD, AMQP_BASIC_RECOVER_OK_METHOD, &rec);
	th_expect_connection_close(c, amqp_get_rpc_reply(c), TH_NOT_IMPLEMENTED);
	th_destroy(c);
}
END_TEST

/* ---- consume -------------------------------------------------------------------- */

START_TEST(consume_server_tag_and_order)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128], tag[256];
	th_queue(c, 1, th_name(q, sizeof(q), "cons"), 0, 1, 0, NULL, 0);
	th_consume(c, 1, q, NULL, 0, 0, tag, sizeof(tag));
	ck_assert_msg(strncmp(tag, "amq.ctag-", 9) == 0 && strlen(tag) > 9, "server tag '%s'", tag);
	publish_n(c, 1, q, 10, "o");
	for (int i = 1; i <= 10; i++) {
		amqp_envelope_t e;
		char want[16];
		snprintf(want, sizeof(want), "o%d", i);
		ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
		ck_assert_str_eq(env_body(&e), want);
		ck_assert(th_bytes_eq(e.consumer_tag, tag));
		ck_assert_uint_eq(e.channel, 1);
		ck_assert_uint_eq(e.delivery_tag, (uint64_t)i);
		ck_assert_int_eq(e.redelivered, 0);
		ck_assert(th_bytes_eq(e.exchange, ""));
		ck_assert(th_bytes_eq(e.routing_key, q));
		ck_assert_int_eq(amqp_basic_ack(c, 1, e.delivery_tag, 0), 0);
		amqp_destroy_envelope(&e);
	}
	/* a client-chosen tag is echoed */
	char q2[128];
	th_queue(c, 1, th_name(q2, sizeof(q2), "cons2"), 0, 1, 0, NULL, 0);
	th_consume(c, 1, q2, "my-tag", 1, 0, tag, sizeof(tag));
	ck_assert_str_eq(tag, "my-tag");
	th_close(c);
}
END_TEST

/* Reusing a consumer tag on the same channel: RabbitMQ closes the
 * connection with 530 NOT_ALLOWED. */
START_TEST(consume_duplicate_tag_530)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "duptag"), 0, 1, 0, NULL, 0);
	th_consume(c, 1, q, "same", 0, 0, NULL, 0);
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("same"), 0, 0, 0, amqp_empty_table);
	th_expect_connection_close(c, amqp_get_rpc_reply(c), TH_NOT_ALLOWED);
	th_destroy(c);
}
END_TEST

/* The same tag on another channel is fine. */
START_TEST(consume_same_tag_other_channel)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "tagch"), 0, 1, 0, NULL, 0);
	th_consume(c, 1, q, "same", 0, 0, NULL, 0);
	th_consume(c, 2, q, "same", 0, 0, NULL, 0);
	th_close(c);
}
END_TEST

START_TEST(consume_missing_queue_404)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	amqp_basic_consume(c, 1, amqp_cstring_bytes(th_name(q, sizeof(q), "nq")), amqp_empty_bytes, 0, 0, 0,
			   amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	th_close(c);
}
END_TEST

/* no-ack consumers get messages with no acknowledgement owed; acking one
 * is an unknown delivery tag. */
START_TEST(consume_no_ack)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "noack"), 0, 1, 0, NULL, 0);
	publish_n(c, 1, q, 3, "x");
	th_consume(c, 1, q, NULL, 1, 0, NULL, 0);
	uint64_t last = 0;
	for (int i = 0; i < 3; i++) {
		amqp_envelope_t e;
		ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
		last = e.delivery_tag;
		amqp_destroy_envelope(&e);
	}
	th_channel(c, 2);
	uint32_t n = 9;
	th_ok(th_queue_passive(c, 2, q, &n, NULL), "passive");
	ck_assert_uint_eq(n, 0);
	/* closing the channel requeues nothing */
	th_channel_close(c, 1);
	th_assert_drained(c, 2, q);
	th_channel(c, 1);
	(void)last;
	th_close(c);
}
END_TEST

START_TEST(consume_no_ack_then_ack_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "noack406"), 0, 1, 0, NULL, 0);
	th_publish(c, 1, "", q, "x");
	th_consume(c, 1, q, NULL, 1, 0, NULL, 0);
	amqp_envelope_t e;
	ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
	uint64_t tag = e.delivery_tag;
	amqp_destroy_envelope(&e);
	ck_assert_int_eq(amqp_basic_ack(c, 1, tag, 0), 0);
	th_expect_channel_close(c, 1, th_sync(c, 1), TH_PRECONDITION_FAILED);
	th_close(c);
}
END_TEST

/* exclusive consume: a second consumer (exclusive or not) gets 403
 * ACCESS_REFUSED; an exclusive consume on a queue that has consumers too. */
START_TEST(consume_exclusive_403)
{
	amqp_connection_state_t c = th_connect(), c2 = th_connect();
	th_channel(c, 1);
	th_channel(c2, 1);
	char q[128], q2[128];
	th_queue(c, 1, th_name(q, sizeof(q), "exclcons"), 0, 0, 0, NULL, 0);
	th_consume(c, 1, q, NULL, 0, 1, NULL, 0);
	amqp_basic_consume(c2, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c2, 1, amqp_get_rpc_reply(c2), TH_ACCESS_REFUSED);
	ck_assert_msg(strstr(th_last_close_text(), "in exclusive use") != NULL, "text: %s", th_last_close_text());
	th_channel(c2, 1);
	amqp_basic_consume(c2, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 1, amqp_empty_table);
	th_expect_channel_close(c2, 1, amqp_get_rpc_reply(c2), TH_ACCESS_REFUSED);
	/* same connection, other channel: refused as well */
	th_channel(c, 2);
	amqp_basic_consume(c, 2, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 2, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	/* exclusive on a queue that already has a consumer */
	th_channel(c2, 1);
	th_queue(c2, 1, th_name(q2, sizeof(q2), "exclcons2"), 0, 0, 0, NULL, 0);
	th_consume(c2, 1, q2, NULL, 0, 0, NULL, 0);
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q2), amqp_empty_bytes, 0, 0, 1, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	/* basic.get is still allowed next to an exclusive consumer */
	th_channel(c, 1);
	ck_assert_int_eq(th_get(c, 1, q, 1, NULL, NULL, NULL, NULL), 0);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q2), 0, 0);
	th_close(c);
	th_close(c2);
}
END_TEST

/* Two consumers on one queue share its messages round-robin. */
START_TEST(consume_round_robin)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128], t1[256], t2[256];
	th_queue(c, 1, th_name(q, sizeof(q), "rr"), 0, 1, 0, NULL, 0);
	th_consume(c, 1, q, NULL, 1, 0, t1, sizeof(t1));
	th_consume(c, 1, q, NULL, 1, 0, t2, sizeof(t2));
	publish_n(c, 1, q, 10, "rr");
	int n1 = 0, n2 = 0;
	for (int i = 0; i < 10; i++) {
		amqp_envelope_t e;
		ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
		if (th_bytes_eq(e.consumer_tag, t1))
			n1++;
		else if (th_bytes_eq(e.consumer_tag, t2))
			n2++;
		amqp_destroy_envelope(&e);
	}
	ck_assert_int_eq(n1, 5);
	ck_assert_int_eq(n2, 5);
	th_close(c);
}
END_TEST

/* basic.cancel: cancel-ok echoes the tag, deliveries stop, unacked
 * messages stay unacked (acking them still works). Cancelling an unknown
 * tag is answered with cancel-ok too. */
START_TEST(cancel)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128], tag[256];
	th_queue(c, 1, th_name(q, sizeof(q), "cancel"), 0, 1, 0, NULL, 0);
	th_publish(c, 1, "", q, "before");
	th_consume(c, 1, q, NULL, 0, 0, tag, sizeof(tag));
	amqp_envelope_t e;
	ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
	uint64_t dtag = e.delivery_tag;
	amqp_destroy_envelope(&e);
	amqp_basic_cancel_ok_t *ok = amqp_basic_cancel(c, 1, amqp_cstring_bytes(tag));
	th_ok_last(c, "basic.cancel");
	ck_assert(th_bytes_eq(ok->consumer_tag, tag));
	th_publish(c, 1, "", q, "after");
	ck_assert_int_eq(th_next_delivery(c, &e, 300), 0);
	ck_assert_int_eq(amqp_basic_ack(c, 1, dtag, 0), 0);
	th_ok(th_sync(c, 1), "ack after cancel");
	ok = amqp_basic_cancel(c, 1, amqp_cstring_bytes("never-was-a-consumer"));
	th_ok_last(c, "cancel unknown tag");
	ck_assert(th_bytes_eq(ok->consumer_tag, "never-was-a-consumer"));
	amqp_message_t m;
	ck_assert_int_eq(th_get(c, 1, q, 1, &m, NULL, NULL, NULL), 1);
	ck_assert(th_bytes_eq(m.body, "after"));
	amqp_destroy_message(&m);
	th_close(c);
}
END_TEST

/* Deleting a queue with consumers: a client that advertised
 * consumer_cancel_notify gets basic.cancel with the consumer tag. */
START_TEST(server_cancel_on_queue_delete)
{
	amqp_connection_state_t c = th_connect(), admin = th_connect();
	th_channel(c, 1);
	th_channel(admin, 1);
	char q[128], tag[256];
	th_queue(c, 1, th_name(q, sizeof(q), "srvcancel"), 0, 0, 0, NULL, 0);
	th_consume(c, 1, q, NULL, 0, 0, tag, sizeof(tag));
	amqp_queue_delete(admin, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(admin, "queue.delete");
	amqp_method_t m;
	ck_assert_int_eq(th_wait_method(c, 1, AMQP_BASIC_CANCEL_METHOD, &m, 5000), 1);
	amqp_basic_cancel_t *cn = m.decoded;
	ck_assert(th_bytes_eq(cn->consumer_tag, tag));
	th_ok(th_sync(c, 1), "channel still open");
	th_close(c);
	th_close(admin);
}
END_TEST

/* Without the capability the consumer just disappears silently. */
START_TEST(no_server_cancel_without_capability)
{
	struct th_login o = {.no_cancel_notify = 1};
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = th_connect_opts(&o, &r);
	th_ok(r, "login");
	amqp_connection_state_t admin = th_connect();
	th_channel(c, 1);
	th_channel(admin, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "nocancel"), 0, 0, 0, NULL, 0);
	th_consume(c, 1, q, NULL, 0, 0, NULL, 0);
	amqp_queue_delete(admin, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(admin, "queue.delete");
	th_ok(th_sync(c, 1), "channel still open");
	amqp_frame_t f;
	ck_assert_int_eq(th_wait_frame(c, &f, 500), 0);
	th_close(c);
	th_close(admin);
}
END_TEST

/* ---- qos -------------------------------------------------------------------------- */

/* prefetch 2: only two unacked deliveries at a time. */
START_TEST(qos_prefetch_count)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "qos"), 0, 1, 0, NULL, 0);
	amqp_basic_qos(c, 1, 0, 2, 0);
	th_ok_last(c, "basic.qos");
	publish_n(c, 1, q, 5, "q");
	th_consume(c, 1, q, NULL, 0, 0, NULL, 0);
	amqp_envelope_t e;
	uint64_t tags[5];
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
		tags[i] = e.delivery_tag;
		amqp_destroy_envelope(&e);
	}
	ck_assert_msg(th_next_delivery(c, &e, 400) == 0, "a third delivery arrived with prefetch 2");
	ck_assert_int_eq(amqp_basic_ack(c, 1, tags[0], 0), 0);
	ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
	ck_assert_str_eq(env_body(&e), "q3");
	tags[2] = e.delivery_tag;
	amqp_destroy_envelope(&e);
	ck_assert_int_eq(th_next_delivery(c, &e, 400), 0);
	/* ack multiple frees two slots */
	ck_assert_int_eq(amqp_basic_ack(c, 1, tags[2], 1), 0);
	for (int i = 4; i <= 5; i++) {
		char want[8];
		snprintf(want, sizeof(want), "q%d", i);
		ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
		ck_assert_str_eq(env_body(&e), want);
		amqp_destroy_envelope(&e);
	}
	th_close(c);
}
END_TEST

/* basic.qos with global=false sets the limit for consumers created after
 * it: raising it does not change a running consumer (still 1 in flight),
 * a new consumer gets the new limit. */
START_TEST(qos_applies_to_new_consumers)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128], q2[128], t2[256];
	th_queue(c, 1, th_name(q, sizeof(q), "qosraise"), 0, 1, 0, NULL, 0);
	th_queue(c, 1, th_name(q2, sizeof(q2), "qosraise2"), 0, 1, 0, NULL, 0);
	amqp_basic_qos(c, 1, 0, 1, 0);
	th_ok_last(c, "qos 1");
	publish_n(c, 1, q, 3, "u");
	publish_n(c, 1, q2, 3, "w");
	th_consume(c, 1, q, NULL, 0, 0, NULL, 0);
	amqp_envelope_t e;
	ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
	amqp_destroy_envelope(&e);
	ck_assert_int_eq(th_next_delivery(c, &e, 400), 0);
	amqp_basic_qos(c, 1, 0, 3, 0);
	th_ok_last(c, "qos 3");
	ck_assert_msg(th_next_delivery(c, &e, 400) == 0, "raising prefetch changed a running consumer");
	th_consume(c, 1, q2, NULL, 0, 0, t2, sizeof(t2));
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
		ck_assert(th_bytes_eq(e.consumer_tag, t2));
		amqp_destroy_envelope(&e);
	}
	ck_assert_int_eq(th_next_delivery(c, &e, 300), 0);
	th_close(c);
}
END_TEST

/* global=false (RabbitMQ: per consumer): each consumer created after qos
 * gets its own limit. global=true: the limit is shared by the channel. */
START_TEST(qos_global_semantics)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	char a[128], b[128], a2[128], b2[128];
	th_queue(c, 1, th_name(a, sizeof(a), "pcA"), 0, 1, 0, NULL, 0);
	th_queue(c, 1, th_name(b, sizeof(b), "pcB"), 0, 1, 0, NULL, 0);
	th_queue(c, 1, th_name(a2, sizeof(a2), "gA"), 0, 1, 0, NULL, 0);
	th_queue(c, 1, th_name(b2, sizeof(b2), "gB"), 0, 1, 0, NULL, 0);
	publish_n(c, 1, a, 3, "a");
	publish_n(c, 1, b, 3, "b");
	publish_n(c, 1, a2, 3, "a");
	publish_n(c, 1, b2, 3, "b");

	/* channel 1: per-consumer prefetch 1, two consumers: 2 in flight */
	amqp_basic_qos(c, 1, 0, 1, 0);
	th_ok_last(c, "qos per consumer");
	th_consume(c, 1, a, NULL, 0, 0, NULL, 0);
	th_consume(c, 1, b, NULL, 0, 0, NULL, 0);
	/* channel 2: global prefetch 1, two consumers: 1 in flight */
	amqp_basic_qos(c, 2, 0, 1, 1);
	th_ok_last(c, "qos global");
	th_consume(c, 2, a2, NULL, 0, 0, NULL, 0);
	th_consume(c, 2, b2, NULL, 0, 0, NULL, 0);
	int n1 = 0, n2 = 0;
	amqp_envelope_t e;
	while (th_next_delivery(c, &e, 600) == 1) {
		if (e.channel == 1)
			n1++;
		else
			n2++;
		amqp_destroy_envelope(&e);
	}
	ck_assert_int_eq(n1, 2);
	ck_assert_int_eq(n2, 1);
	th_close(c);
}
END_TEST

/* prefetch_size other than 0: RabbitMQ closes the connection with 540
 * NOT_IMPLEMENTED. */
START_TEST(qos_prefetch_size_not_implemented)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_basic_qos(c, 1, 4096, 0, 0);
	th_expect_connection_close(c, amqp_get_rpc_reply(c), TH_NOT_IMPLEMENTED);
	th_destroy(c);
}
END_TEST

/* A get counts against nothing: with prefetch 1 and a consumer holding its
 * one message, basic.get on the same channel still returns a message. */
START_TEST(qos_does_not_limit_get)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128], q2[128];
	th_queue(c, 1, th_name(q, sizeof(q), "qg1"), 0, 1, 0, NULL, 0);
	th_queue(c, 1, th_name(q2, sizeof(q2), "qg2"), 0, 1, 0, NULL, 0);
	amqp_basic_qos(c, 1, 0, 1, 1);
	th_ok_last(c, "qos");
	publish_n(c, 1, q, 2, "g");
	publish_n(c, 1, q2, 2, "h");
	th_consume(c, 1, q, NULL, 0, 0, NULL, 0);
	amqp_envelope_t e;
	ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
	amqp_destroy_envelope(&e);
	ck_assert_int_eq(th_get_wait(c, 1, q2, 0, NULL, NULL, NULL, NULL, 5000), 1);
	ck_assert_int_eq(th_get_wait(c, 1, q2, 0, NULL, NULL, NULL, NULL, 5000), 1);
	th_close(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("basic");
	TCase *tc = th_tcase("publish-get");
	tcase_add_test(tc, mandatory_unroutable_returned);
	tcase_add_test(tc, immediate_not_implemented);
	tcase_add_test(tc, publish_missing_exchange_404);
	tcase_add_test(tc, empty_body);
	tcase_add_test(tc, get_ok_and_empty);
	tcase_add_test(tc, get_missing_queue_404);
	suite_add_tcase(s, tc);

	tc = th_tcase("ack");
	tcase_add_test(tc, ack_multiple);
	tcase_add_test(tc, ack_zero_multiple_acks_all);
	tcase_add_test(tc, nack_multiple_requeue_order);
	tcase_add_test(tc, reject_requeue_original_position);
	tcase_add_test(tc, nack_reject_discard);
	tcase_add_test(tc, unknown_delivery_tag_406);
	tcase_add_test(tc, double_ack_406);
	tcase_add_test(tc, ack_on_other_channel_406);
	tcase_add_test(tc, unacked_requeued_on_channel_close);
	tcase_add_test(tc, unacked_requeued_on_connection_close);
	tcase_add_test(tc, recover_requeue);
	tcase_add_test(tc, recover_no_requeue_not_implemented);
	suite_add_tcase(s, tc);

	tc = th_tcase("consume");
	tcase_add_test(tc, consume_server_tag_and_order);
	tcase_add_test(tc, consume_duplicate_tag_530);
	tcase_add_test(tc, consume_same_tag_other_channel);
	tcase_add_test(tc, consume_missing_queue_404);
	tcase_add_test(tc, consume_no_ack);
	tcase_add_test(tc, consume_no_ack_then_ack_406);
	tcase_add_test(tc, consume_exclusive_403);
	tcase_add_test(tc, consume_round_robin);
	tcase_add_test(tc, cancel);
	tcase_add_test(tc, server_cancel_on_queue_delete);
	tcase_add_test(tc, no_server_cancel_without_capability);
	suite_add_tcase(s, tc);

	tc = th_tcase("qos");
	tcase_add_test(tc, qos_prefetch_count);
	tcase_add_test(tc, qos_applies_to_new_consumers);
	tcase_add_test(tc, qos_global_semantics);
	tcase_add_test(tc, qos_prefetch_size_not_implemented);
	tcase_add_test(tc, qos_does_not_limit_get);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
