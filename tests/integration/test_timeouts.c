/* Integration tests: consumer_timeout (issue 11, finding 7), as RabbitMQ
 * 3.10 has it: a channel that holds a delivery unacknowledged for longer
 * than consumer_timeout is closed with 406 PRECONDITION_FAILED and its
 * unacked messages go back to their queue; a channel that acks in time, or
 * a no-ack consumer, is left alone.
 *
 * Runs a tandemd of its own with a short --consumer-timeout (RabbitMQ only
 * checks about once a minute, so a short limit cannot be proven there):
 * against TANDEM_TEST_BROKER the program reports SKIP.  Every wait is
 * bounded. */
#include "harness.h"

#include <stdio.h>
#include <string.h>

static const char *const short_timeout[] = { "--consumer-timeout", "1500", NULL };

START_TEST(unacked_delivery_times_out_channel)
{
	char q[96];
	th_start_with_args(short_timeout);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	th_queue(c, 1, th_name(q, sizeof(q), "timeout"), 0, 0, 0, NULL, 0);
	th_publish(c, 1, "", q, "slow");
	th_consume(c, 2, q, "", 0, 0, NULL, 0);
	amqp_envelope_t e;
	ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
	amqp_destroy_envelope(&e);
	amqp_method_t m;
	int rc = th_wait_method(c, 2, AMQP_CHANNEL_CLOSE_METHOD, &m, 10000);
	ck_assert_msg(rc == 1, "channel 2 not closed after holding a delivery past consumer_timeout");
	amqp_channel_close_t *cl = m.decoded;
	ck_assert_uint_eq(cl->reply_code, TH_PRECONDITION_FAILED);
	char text[512];
	snprintf(text, sizeof(text), "%.*s", (int)cl->reply_text.len, (const char *)cl->reply_text.bytes);
	ck_assert_msg(strstr(text, "delivery acknowledgement on channel 2 timed out") != NULL &&
			      strstr(text, "Timeout value used: 1500 ms") != NULL,
		      "close text: %s", text);
	amqp_channel_close_ok_t ok = { 0 };
	ck_assert_int_eq(amqp_send_method(c, 2, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok), 0);
	/* the message went back to the queue; channel 1 was not touched */
	amqp_message_t msg;
	int redelivered = 0;
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &msg, NULL, &redelivered, NULL, 5000), 1);
	char body[32];
	ck_assert_str_eq(th_body(&msg.body, body, sizeof(body)), "slow");
	ck_assert_int_eq(redelivered, 1);
	amqp_destroy_message(&msg);
	th_close(c);
}
END_TEST

START_TEST(acked_in_time_and_no_ack_are_left_alone)
{
	char q[96];
	th_start_with_args(short_timeout);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "timeout-ok"), 0, 0, 0, NULL, 0);
	th_consume(c, 1, q, "", 0, 0, NULL, 0);
	uint64_t end = th_now_ms() + 4000;
	int n = 0;
	while (th_now_ms() < end) { /* a delivery every 300 ms, each acked at once */
		th_publish(c, 1, "", q, "quick");
		amqp_envelope_t e;
		ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
		ck_assert_int_eq(amqp_basic_ack(c, 1, e.delivery_tag, 0), 0);
		amqp_destroy_envelope(&e);
		n++;
		th_sleep_ms(300);
	}
	amqp_rpc_reply_t r = th_sync(c, 1);
	th_ok(r, "channel still open after acking in time");
	ck_assert_int_gt(n, 5);
	th_close(c);
}
END_TEST

int main(void)
{
	th_start_private();
	if (th_external()) {
		printf("SKIP: needs a tandemd of its own (--consumer-timeout)\n");
		return 77;
	}
	Suite *s = suite_create("timeouts");
	TCase *tc = th_tcase("consumer_timeout");
	tcase_add_test(tc, unacked_delivery_times_out_channel);
	tcase_add_test(tc, acked_in_time_and_no_ack_are_left_alone);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
