/* Integration test: SIGTERM shuts the broker down cleanly. Every open
 * connection gets connection.close 320 CONNECTION_FORCED, and the process
 * exits with status 0 (the harness checks that when it stops it).
 *
 * RabbitMQ does the same when it is stopped (rabbitmqctl stop):
 * "CONNECTION_FORCED - broker forced connection closure with reason
 * 'shutdown'", checked by hand against 3.10.8. This program needs a broker
 * it may stop, so against TANDEM_TEST_BROKER it reports SKIP (77). */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

START_TEST(sigterm_closes_connections_with_320)
{
	amqp_connection_state_t c[3];
	char q[128];
	for (int i = 0; i < 3; i++) {
		c[i] = th_connect();
		th_channel(c[i], 1);
	}
	/* one connection busy consuming, with an unacked message */
	th_queue(c[0], 1, th_name(q, sizeof(q), "shutdown"), 0, 1, 0, NULL, 0);
	th_publish(c[0], 1, "", q, "in flight");
	th_consume(c[0], 1, q, NULL, 0, 0, NULL, 0);
	amqp_envelope_t e;
	ck_assert_int_eq(th_next_delivery(c[0], &e, 5000), 1);
	amqp_destroy_envelope(&e);

	ck_assert_int_eq(kill((pid_t)th_broker_pid(), SIGTERM), 0);
	for (int i = 0; i < 3; i++) {
		amqp_method_t m;
		int rc = th_wait_method(c[i], 0, AMQP_CONNECTION_CLOSE_METHOD, &m, 10000);
		ck_assert_msg(rc == 1, "connection %d: no connection.close after SIGTERM (rc %d)", i, rc);
		amqp_connection_close_t *cl = m.decoded;
		ck_assert_uint_eq(cl->reply_code, TH_CONNECTION_FORCED);
		ck_assert_msg(cl->reply_text.len >= 17 && memcmp(cl->reply_text.bytes, "CONNECTION_FORCED", 17) == 0,
			      "reply text '%.*s'", (int)cl->reply_text.len, (const char *)cl->reply_text.bytes);
		amqp_connection_close_ok_t ok = {0};
		(void)amqp_send_method(c[i], 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
		th_destroy(c[i]);
	}
}
END_TEST

int main(void)
{
	th_start();
	if (th_external()) {
		printf("SKIP: needs a broker the harness started (TANDEM_TEST_BROKER is set)\n");
		return 77;
	}
	Suite *s = suite_create("shutdown");
	TCase *tc = th_tcase("sigterm");
	tcase_add_test(tc, sigterm_closes_connections_with_320);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
