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
#include <sys/wait.h>

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

/* Signals that keep coming while the broker shuts down (a supervisor that
 * repeats SIGTERM, a harness stopping a broker the test already stopped)
 * must not kill it half-way: it still exits with status 0. */
START_TEST(repeated_sigterm_still_exits_cleanly)
{
	th_start_with_args(NULL);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "shutdown-again"), 1, 0, 0, NULL, 0);
	th_close(c);
	pid_t pid = (pid_t)th_broker_pid();
	int status = 0, gone = 0;
	uint64_t deadline = th_now_ms() + 20000;
	while (!gone && th_now_ms() < deadline) {
		kill(pid, SIGTERM);
		gone = waitpid(pid, &status, WNOHANG) == pid;
		if (!gone)
			th_sleep_ms(1);
	}
	ck_assert_msg(gone, "tandemd did not exit within 20 s of SIGTERM");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "tandemd ended with wait status 0x%x under repeated SIGTERM", status);
}
END_TEST

int main(void)
{
	th_start_private();
	if (th_external()) {
		printf("SKIP: needs a broker the harness started (TANDEM_TEST_BROKER is set)\n");
		return 77;
	}
	Suite *s = suite_create("shutdown");
	TCase *tc = th_tcase("sigterm");
	tcase_add_test(tc, sigterm_closes_connections_with_320);
	tcase_add_test(tc, repeated_sigterm_still_exits_cleanly);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
