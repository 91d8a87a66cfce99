/* Integration tests: direct reply-to (amq.rabbitmq.reply-to), as RabbitMQ
 * 3.10 answers it (run-against-rabbitmq.sh proves every expectation):
 *  - the requester consumes the pseudo-queue in no-ack mode; its publish
 *    with reply_to "amq.rabbitmq.reply-to" reaches the server with an
 *    address "amq.rabbitmq.reply-to.<suffix>" instead;
 *  - a reply published to the default exchange with that address as
 *    routing key is delivered to the requester's consumer (exchange "",
 *    the address as routing key, not redelivered), from any connection;
 *    a mandatory reply is also returned (312 NO_ROUTE: RabbitMQ 3.10 does
 *    not count it as routed);
 *  - misuse is 406 on the offending channel: consuming with acks, a second
 *    reply consumer, publishing with that reply_to without a consumer;
 *  - an address among a message's CC keys (default exchange) gets it too;
 *  - queue.declare of the pseudo-queue or of a live address is declare-ok
 *    (0 messages, 1 consumer); of a gone address 404; a reply to a gone
 *    address is dropped with no error for the replier.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#define PSEUDO "amq.rabbitmq.reply-to"

/* Starts a reply consumer on channel ch; its tag into tag. */
static void reply_consumer(amqp_connection_state_t c, amqp_channel_t ch, char *tag, size_t taglen)
{
	th_consume(c, ch, PSEUDO, "", 1, 0, tag, taglen);
}

/* Publishes a request to queue q with reply_to the pseudo-queue. */
static void request(amqp_connection_state_t c, amqp_channel_t ch, const char *q, const char *body)
{
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG;
	p.reply_to = amqp_cstring_bytes(PSEUDO);
	p.correlation_id = amqp_cstring_bytes("corr-1");
	th_publish_props(c, ch, "", q, 0, &p, amqp_cstring_bytes(body));
}

/* The server side: takes the request from q and returns its reply_to. */
static void take_request(amqp_connection_state_t s, const char *q, char *addr, size_t len)
{
	amqp_message_t m;
	ck_assert_int_eq(th_get_wait(s, 1, q, 1, &m, NULL, NULL, NULL, 5000), 1);
	ck_assert_msg(m.properties._flags & AMQP_BASIC_REPLY_TO_FLAG, "the request lost its reply_to");
	snprintf(addr, len, "%.*s", (int)m.properties.reply_to.len, (const char *)m.properties.reply_to.bytes);
	ck_assert_msg(strncmp(addr, PSEUDO ".", strlen(PSEUDO) + 1) == 0 && strlen(addr) > strlen(PSEUDO) + 1,
		      "reply_to is '%s', not an address", addr);
	ck_assert_msg(th_bytes_eq(m.properties.correlation_id, "corr-1"), "correlation_id changed");
	amqp_destroy_message(&m);
}

/* A requester on channel 1 and a server on channel 2 of one connection:
 * a request sent and taken; the requester's address into addr. */
static amqp_connection_state_t one_connection_rpc(const char *prefix, char *addr, size_t len)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	char q[128], tag[256];
	th_queue(c, 2, th_name(q, sizeof(q), prefix), 0, 1, 0, NULL, 0);
	reply_consumer(c, 1, tag, sizeof(tag));
	request(c, 1, q, "question");
	take_request(c, q, addr, len);
	return c;
}

START_TEST(rpc_round_trip)
{
	amqp_connection_state_t c = th_connect(), s = th_connect();
	th_channel(c, 1);
	th_channel(s, 1);
	char q[128], tag[256], addr[256];
	th_queue(s, 1, th_name(q, sizeof(q), "rpc-requests"), 0, 0, 1, NULL, 0);
	reply_consumer(c, 1, tag, sizeof(tag));
	request(c, 1, q, "question");
	take_request(s, q, addr, sizeof(addr));
	th_publish(s, 1, "", addr, "answer");
	amqp_envelope_t env;
	ck_assert_int_eq(th_next_delivery(c, &env, 5000), 1);
	char body[64];
	ck_assert_str_eq(th_body(&env.message.body, body, sizeof(body)), "answer");
	ck_assert_msg(th_bytes_eq(env.consumer_tag, tag), "consumer tag");
	ck_assert_msg(th_bytes_eq(env.exchange, ""), "exchange");
	ck_assert_msg(th_bytes_eq(env.routing_key, addr), "routing key");
	ck_assert_int_eq(env.redelivered, 0);
	amqp_destroy_envelope(&env);
	/* the server can ask whether its client still waits */
	amqp_queue_declare_ok_t *ok = amqp_queue_declare(s, 1, amqp_cstring_bytes(addr), 1, 0, 0, 0, amqp_empty_table);
	th_ok_last(s, "passive queue.declare of a live address");
	ck_assert_uint_eq(ok->message_count, 0);
	ck_assert_uint_eq(ok->consumer_count, 1);
	amqp_queue_delete(s, 1, amqp_cstring_bytes(q), 0, 0);
	th_close(c);
	th_close(s);
}
END_TEST

/* A mandatory reply is delivered and returned: RabbitMQ 3.10 routes
 * replies outside its queue routing. */
START_TEST(mandatory_reply_is_delivered_and_returned)
{
	char addr[256];
	amqp_connection_state_t c = one_connection_rpc("rpc-mandatory", addr, sizeof(addr));
	/* the reply from channel 2, mandatory */
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	th_publish_props(c, 2, "", addr, 1, &p, amqp_cstring_bytes("answer"));
	int delivered = 0, returned = 0;
	uint64_t deadline = th_now_ms() + 5000;
	while ((!delivered || !returned) && th_now_ms() < deadline) {
		amqp_frame_t f;
		if (th_wait_frame(c, &f, 1000) != 1 || f.frame_type != AMQP_FRAME_METHOD)
			continue;
		amqp_message_t m;
		if (f.payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
			ck_assert_uint_eq(f.channel, 1);
			th_ok(amqp_read_message(c, f.channel, &m, 0), "reply content");
			amqp_destroy_message(&m);
			delivered++;
		} else if (f.payload.method.id == AMQP_BASIC_RETURN_METHOD) {
			amqp_basic_return_t *r = f.payload.method.decoded;
			ck_assert_uint_eq(f.channel, 2);
			ck_assert_uint_eq(r->reply_code, 312);
			th_ok(amqp_read_message(c, f.channel, &m, 0), "returned content");
			amqp_destroy_message(&m);
			returned++;
		}
	}
	ck_assert_msg(delivered == 1 && returned == 1, "delivered %d, returned %d", delivered, returned);
	th_close(c);
}
END_TEST

START_TEST(reply_consumer_cannot_acknowledge)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_basic_consume(c, 1, amqp_cstring_bytes(PSEUDO), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), 406);
	ck_assert_str_eq(th_last_close_text(), "PRECONDITION_FAILED - reply consumer cannot acknowledge");
	th_close(c);
}
END_TEST

START_TEST(second_reply_consumer_refused)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char tag[256];
	reply_consumer(c, 1, tag, sizeof(tag));
	amqp_basic_consume(c, 1, amqp_cstring_bytes(PSEUDO), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), 406);
	ck_assert_str_eq(th_last_close_text(), "PRECONDITION_FAILED - reply consumer already set");
	/* another channel may have its own */
	th_channel(c, 2);
	reply_consumer(c, 2, tag, sizeof(tag));
	th_close(c);
}
END_TEST

START_TEST(request_without_reply_consumer_refused)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	char tag[256];
	reply_consumer(c, 2, tag, sizeof(tag)); /* on another channel: does not count */
	request(c, 1, "nowhere", "question");
	amqp_queue_declare(c, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), 406);
	ck_assert_str_eq(th_last_close_text(), "PRECONDITION_FAILED - fast reply consumer does not exist");
	/* nothing else is affected */
	amqp_queue_declare(c, 2, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
	th_ok_last(c, "queue.declare on the other channel");
	th_close(c);
}
END_TEST

/* After basic.cancel (or the channel's close) the address is gone: a
 * passive declare is 404, a reply is dropped without an error. */
START_TEST(gone_address)
{
	amqp_connection_state_t c = th_connect(), s = th_connect();
	th_channel(c, 1);
	th_channel(s, 1);
	char q[128], tag[256], addr[256];
	th_queue(s, 1, th_name(q, sizeof(q), "rpc-gone"), 0, 0, 1, NULL, 0);
	reply_consumer(c, 1, tag, sizeof(tag));
	request(c, 1, q, "question");
	take_request(s, q, addr, sizeof(addr));
	amqp_basic_cancel(c, 1, amqp_cstring_bytes(tag));
	th_ok_last(c, "basic.cancel of the reply consumer");
	th_publish(s, 1, "", addr, "too late");
	amqp_queue_declare(s, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
	th_ok_last(s, "the replier's channel stays open");
	amqp_queue_declare(s, 1, amqp_cstring_bytes(addr), 1, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(s, 1, amqp_get_rpc_reply(s), 404);
	char want[400];
	snprintf(want, sizeof(want), "NOT_FOUND - no queue '%s' in vhost '/'", addr);
	ck_assert_str_eq(th_last_close_text(), want);
	/* the requester got nothing */
	amqp_envelope_t env;
	ck_assert_int_eq(th_next_delivery(c, &env, 300), 0);
	th_channel(s, 2);
	amqp_queue_delete(s, 2, amqp_cstring_bytes(q), 0, 0);
	th_close(c);
	th_close(s);
}
END_TEST

START_TEST(declare_of_the_pseudo_queue)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_queue_declare_ok_t *ok =
		amqp_queue_declare(c, 1, amqp_cstring_bytes(PSEUDO), 0, 0, 0, 0, amqp_empty_table);
	th_ok_last(c, "queue.declare amq.rabbitmq.reply-to");
	ck_assert_msg(th_bytes_eq(ok->queue, PSEUDO), "queue name");
	ck_assert_uint_eq(ok->message_count, 0);
	ck_assert_uint_eq(ok->consumer_count, 1);
	amqp_queue_declare(c, 1, amqp_cstring_bytes(PSEUDO ".nonsense"), 1, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), 404);
	th_channel(c, 2);
	amqp_queue_declare(c, 2, amqp_cstring_bytes(PSEUDO "x"), 0, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 2, amqp_get_rpc_reply(c), 404);
	ck_assert_str_eq(th_last_close_text(), "NOT_FOUND - no queue '" PSEUDO "x' in vhost '/'");
	th_close(c);
}
END_TEST

/* A reply address among a message's CC keys gets it too: through the
 * default exchange every key names a queue or an address (RabbitMQ).  The
 * delivery shows the message's own routing key. */
START_TEST(reply_by_cc_header)
{
	char addr[256];
	amqp_connection_state_t c = one_connection_rpc("rpc-cc", addr, sizeof(addr));
	amqp_field_value_t key = { .kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(addr) };
	amqp_table_entry_t cc = { .key = amqp_cstring_bytes("CC"), .value.kind = AMQP_FIELD_KIND_ARRAY };
	cc.value.value.array = (amqp_array_t){ 1, &key };
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_HEADERS_FLAG;
	p.headers = (amqp_table_t){ 1, &cc };
	th_publish_props(c, 2, "", "nowhere-at-all", 0, &p, amqp_cstring_bytes("by cc"));
	amqp_envelope_t env;
	ck_assert_int_eq(th_next_delivery(c, &env, 5000), 1);
	char body[64];
	ck_assert_str_eq(th_body(&env.message.body, body, sizeof(body)), "by cc");
	ck_assert_msg(th_bytes_eq(env.routing_key, "nowhere-at-all"), "routing key");
	ck_assert_uint_eq(env.channel, 1);
	amqp_destroy_envelope(&env);
	th_close(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("reply_to");
	TCase *tc = th_tcase("reply_to");
	tcase_add_test(tc, rpc_round_trip);
	tcase_add_test(tc, mandatory_reply_is_delivered_and_returned);
	tcase_add_test(tc, reply_consumer_cannot_acknowledge);
	tcase_add_test(tc, second_reply_consumer_refused);
	tcase_add_test(tc, request_without_reply_consumer_refused);
	tcase_add_test(tc, gone_address);
	tcase_add_test(tc, declare_of_the_pseudo_queue);
	tcase_add_test(tc, reply_by_cc_header);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
