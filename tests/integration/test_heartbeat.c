/* Integration tests: time-driven behaviour of connections. Heartbeats
 * (sent by the server, missed ones detected, live clients kept) and the
 * handshake timeout for sockets that never complete the handshake. Kept in
 * their own program because they wait for real seconds and can run in
 * parallel with the rest; their TCases run side by side too. */
#include "harness.h"
#include "parallel.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- heartbeats ------------------------------------------------------------------- */

/* A client that negotiates heartbeat=1 and then sends nothing is dropped
 * after missing heartbeats: RabbitMQ checks its input once per interval
 * and drops it at the second check without any, three intervals after the
 * handshake (never before two). It receives the server's heartbeats
 * meanwhile. */
START_TEST(heartbeat_silent_client_dropped)
{
	int fd = th_raw_handshake(0, 0, 1, 0, NULL, NULL, NULL);
	uint64_t t0 = th_now_ms();
	int heartbeats = 0, closed = 0;
	while (th_now_ms() - t0 < 15000) {
		struct th_raw_frame f;
		int rc = th_raw_read_frame(fd, &f, 15000);
		if (rc == 0) {
			closed = 1;
			break;
		}
		ck_assert_int_eq(rc, 1);
		if (f.type == 8) {
			ck_assert_uint_eq(f.channel, 0);
			ck_assert_uint_eq(f.size, 0);
			ck_assert_uint_eq(f.end, 0xCE);
			heartbeats++;
		}
		th_raw_frame_free(&f);
	}
	uint64_t elapsed = th_now_ms() - t0;
	ck_assert_msg(closed, "silent client still connected after %llu ms", (unsigned long long)elapsed);
	/* three intervals after tune-ok, which came a moment before t0 */
	ck_assert_msg(elapsed >= 2600, "dropped too early (%llu ms)", (unsigned long long)elapsed);
	fprintf(stderr, "silent client dropped after %llu ms\n", (unsigned long long)elapsed);
	ck_assert_msg(heartbeats >= 1, "server sent no heartbeat before dropping the client");
	close(fd);
	th_assert_broker_alive();
}
END_TEST

/* A client that sends a heartbeat every 500 ms stays connected. */
START_TEST(heartbeat_live_client_kept)
{
	int fd = th_raw_handshake(0, 0, 1, 0, NULL, NULL, NULL);
	uint64_t t0 = th_now_ms();
	int heartbeats = 0;
	while (th_now_ms() - t0 < 5000) {
		th_raw_send_frame(fd, 8, 0, NULL, 0);
		uint64_t slot = th_now_ms() + 500;
		while (th_now_ms() < slot) {
			struct th_raw_frame f;
			int rc = th_raw_read_frame(fd, &f, (int)(slot - th_now_ms()) + 1);
			ck_assert_msg(rc != 0, "server closed a client that sends heartbeats");
			if (rc < 0)
				break;
			if (f.type == 8)
				heartbeats++;
			th_raw_frame_free(&f);
		}
	}
	ck_assert_int_ge(heartbeats, 2);
	/* still fully usable */
	struct th_buf b = {.len = 0};
	th_put16(&b, 20);
	th_put16(&b, 10);
	th_put_shortstr(&b, "");
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
	for (;;) {
		struct th_raw_frame f;
		ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
		if (f.type == 8) {
			th_raw_frame_free(&f);
			continue;
		}
		ck_assert_uint_eq(th_raw_class(&f), 20);
		ck_assert_uint_eq(th_raw_method(&f), 11);
		th_raw_frame_free(&f);
		break;
	}
	close(fd);
}
END_TEST

/* The same through rabbitmq-c: it answers heartbeats while it waits. */
START_TEST(heartbeat_rabbitmq_c_kept)
{
	struct th_login o = {.heartbeat = 1};
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = th_connect_opts(&o, &r);
	th_ok(r, "login");
	ck_assert_int_eq(amqp_get_heartbeat(c), 1);
	th_channel(c, 1);
	uint64_t t0 = th_now_ms();
	while (th_now_ms() - t0 < 4000) {
		amqp_frame_t f;
		ck_assert_int_eq(th_wait_frame(c, &f, 250), 0);
	}
	th_ok(th_sync(c, 1), "sync after idle");
	th_close(c);
}
END_TEST

/* A socket that never sends a protocol header is closed (RabbitMQ: after
 * its 10 s handshake timeout; the tandemd of this program: 1.5 s). */
START_TEST(handshake_timeout_no_header)
{
	int fd = th_raw_connect();
	uint64_t t0 = th_now_ms();
	ck_assert_msg(th_raw_wait_closed(fd, 25000), "idle socket still open after 25 s");
	ck_assert_uint_ge(th_now_ms() - t0, 1000);
	close(fd);
}
END_TEST

/* Header sent, connection.start received, then silence: closed too. */
START_TEST(handshake_timeout_after_start)
{
	int fd = th_raw_connect();
	th_raw_send(fd, "AMQP\x00\x00\x09\x01", 8);
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(th_raw_method(&f), 10);
	th_raw_frame_free(&f);
	uint64_t t0 = th_now_ms();
	ck_assert_msg(th_raw_wait_closed(fd, 25000), "half-open handshake still open after 25 s");
	ck_assert_uint_ge(th_now_ms() - t0, 1000);
	close(fd);
	th_assert_broker_alive();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("heartbeat");
	/* each waits out seconds on connections of its own: side by side */
	tcase_add_test(tp_tcase(s, "heartbeat-silent", TH_TEST_TIMEOUT),
		       heartbeat_silent_client_dropped);
	tcase_add_test(tp_tcase(s, "heartbeat-live", TH_TEST_TIMEOUT), heartbeat_live_client_kept);
	tcase_add_test(tp_tcase(s, "heartbeat-rabbitmq-c", TH_TEST_TIMEOUT),
		       heartbeat_rabbitmq_c_kept);
	TCase *tc = tp_tcase(s, "handshake-timeout", TH_TEST_TIMEOUT);
	tcase_add_test(tc, handshake_timeout_no_header);
	tcase_add_test(tc, handshake_timeout_after_start);
	return s;
}

int main(void)
{
	/* RabbitMQ's 10 s handshake timeout, 1.5 s here (the tests wait for it and check it took 1 s or more;
	 * against an external broker the args do not apply) */
	th_start_with_args((const char *const[]){"--handshake-timeout", "1500", NULL});
	return th_run_suite(suite());
}
