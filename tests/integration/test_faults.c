/* Integration tests: the journal's write discipline under injected storage
 * faults (issue 11, finding 1).  A failed or short journal write, or a failed
 * fsync, must never yield a publisher confirm; the offsets handed to records
 * that never reached the disk are never handed to other records (so an ack
 * of such a message deletes nothing else at restart, and a message paged out
 * of memory never comes back as another one); the broker keeps serving.
 *
 * Faults come from logstore's hook, armed through TANDEM_FAULTS
 * ("kind:topic:nth[:count]"), which tandemd reads at start; "write" and
 * "short" count journal appends: one per read of the client's socket, so a
 * publisher that waits for each confirm makes one append per message.
 *
 * tandemd only (RabbitMQ has no fault hook): against TANDEM_TEST_BROKER the
 * program reports SKIP.  Every wait is bounded. */
#include "confirms.h"
#include "harness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_MSGS 20

static void start_with_faults(const char *faults, const char *const *extra)
{
	setenv("TANDEM_FAULTS", faults, 1);
	th_start_with_args(extra);
	unsetenv("TANDEM_FAULTS"); /* the restart after kill -9 runs without them */
}

static amqp_basic_properties_t persistent(void)
{
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.delivery_mode = 2;
	return p;
}

/* Publishes "<prefix><i>" for i in [0, n) one at a time, each waiting for
 * its confirm (so each is one journal append); state[i] gets 1 (ack) or 2
 * (nack). */
static void publish_each(amqp_connection_state_t c, const char *queue, const char *prefix, int n,
			 uint8_t *state)
{
	struct confirms k;
	amqp_basic_properties_t p = persistent();
	char body[64];
	confirms_init(&k, c, 1, (uint64_t)n);
	for (int i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "%s%d", prefix, i);
		confirms_publish(&k, "", queue, &p, amqp_cstring_bytes(body));
		confirms_wait(&k, 10000);
	}
	for (int i = 0; i < n; i++)
		state[i] = k.state[i + 1];
	confirms_free(&k);
}

static void kill_and_reconnect(amqp_connection_state_t *c)
{
	th_broker_kill9();
	th_destroy(*c);
	th_broker_restart();
	*c = th_connect();
	th_channel(*c, 1);
}

/* Gets everything from queue (no-ack) and checks it is exactly the
 * messages "<prefix><i>" with want[i] set, in order. */
static void expect_exactly(amqp_connection_state_t c, const char *queue, const char *prefix, int n,
			   const uint8_t *want)
{
	char body[64], got[64];
	for (int i = 0; i < n; i++) {
		if (!want[i])
			continue;
		amqp_message_t m;
		snprintf(body, sizeof(body), "%s%d", prefix, i);
		ck_assert_msg(th_get_wait(c, 1, queue, 1, &m, NULL, NULL, NULL, 5000) == 1,
			      "%s: message %s is missing", queue, body);
		th_body(&m.body, got, sizeof(got));
		ck_assert_msg(strcmp(got, body) == 0, "%s: expected %s, got %s", queue, body, got);
		amqp_destroy_message(&m);
	}
	amqp_message_t m;
	int more = th_get(c, 1, queue, 1, &m, NULL, NULL, NULL);
	if (more) {
		th_body(&m.body, got, sizeof(got));
		amqp_destroy_message(&m);
	}
	ck_assert_msg(!more, "%s: unexpected message %s after the expected ones", queue, got);
}

static void expect_nacked(const uint8_t *state, int n, int lo, int hi)
{
	for (int i = 0; i < n; i++) {
		int failed = i >= lo && i < hi;
		ck_assert_msg(state[i] == (failed ? 2 : 1), "publish %d: %s, expected %s", i,
			      state[i] == 1 ? "acked" : state[i] == 2 ? "nacked" : "unsettled",
			      failed ? "a nack (its journal write failed)" : "an ack");
	}
}

/* Publishes N_MSGS to a durable queue under the armed fault, expects
 * exactly publishes [lo, hi) nacked, and after kill -9 exactly the acked
 * ones, in order. */
static void nacked_and_gone_after_kill(const char *faults, const char *prefix, int lo, int hi)
{
	char q[96];
	uint8_t state[N_MSGS], acked[N_MSGS];
	start_with_faults(faults, NULL);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), prefix), 1, 0, 0, NULL, 0);
	confirm_select(c, 1);
	publish_each(c, q, prefix, N_MSGS, state);
	expect_nacked(state, N_MSGS, lo, hi);
	kill_and_reconnect(&c);
	for (int i = 0; i < N_MSGS; i++)
		acked[i] = state[i] == 1;
	expect_exactly(c, q, prefix, N_MSGS, acked);
	th_close(c);
}

/* A failed journal write nacks exactly the messages it held; they are not
 * there after kill -9, everything confirmed is. */
START_TEST(failed_journal_write_is_nacked)
{
	nacked_and_gone_after_kill("write:__journal:6:3", "w", 5, 8);
}
END_TEST

/* A short write (half a batch, then ENOSPC) is cut back: the next records
 * are readable after kill -9, the torn one is nacked. */
START_TEST(short_journal_write_is_nacked)
{
	nacked_and_gone_after_kill("short:__journal:4:1", "s", 3, 4);
}
END_TEST

/* A failed fsync cannot be retried (the kernel may have dropped the pages):
 * what it covered and everything after it is nacked, the broker keeps
 * serving, and what was confirmed before it survives kill -9. */
START_TEST(failed_journal_fsync_is_nacked)
{
	char q[96];
	uint8_t state[N_MSGS], acked[N_MSGS];
	start_with_faults("fsync:__journal:5:1", NULL);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "fault-fsync"), 1, 0, 0, NULL, 0);
	confirm_select(c, 1);
	publish_each(c, q, "f", N_MSGS, state);
	expect_nacked(state, N_MSGS, 4, N_MSGS);
	th_assert_broker_alive();
	kill_and_reconnect(&c);
	for (int i = 0; i < N_MSGS; i++)
		acked[i] = state[i] == 1;
	/* nacked ones may or may not be there ("could not take responsibility"):
	 * get the confirmed ones in order, skipping any nacked one */
	char body[64], got[64];
	int next = 0;
	amqp_message_t m;
	while (th_get(c, 1, q, 1, &m, NULL, NULL, NULL)) {
		th_body(&m.body, got, sizeof(got));
		amqp_destroy_message(&m);
		int i = atoi(got + 1);
		ck_assert_msg(got[0] == 'f' && i >= next && i < N_MSGS, "unexpected message %s", got);
		for (; next < i; next++)
			ck_assert_msg(!acked[next], "confirmed message f%d is missing", next);
		next = i + 1;
	}
	for (; next < N_MSGS; next++) {
		snprintf(body, sizeof(body), "f%d", next);
		ck_assert_msg(!acked[next], "confirmed message %s is missing", body);
	}
	th_close(c);
}
END_TEST

/* The ack of a message whose journal write failed must not delete the
 * message that was written next (on a journal that reused offsets, the
 * ack record named the other message's offset). */
START_TEST(ack_of_unwritten_message_deletes_nothing_else)
{
	char q[96];
	uint8_t state[2];
	start_with_faults("write:__journal:1:1", NULL);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "fault-ack"), 1, 0, 0, NULL, 0);
	confirm_select(c, 1);
	publish_each(c, q, "a", 2, state);
	ck_assert_msg(state[0] == 2 && state[1] == 1, "expected nack then ack, got %d %d", state[0], state[1]);
	/* a0 (never written) is still in memory: take it with an ack */
	amqp_message_t m;
	uint64_t tag;
	char got[64];
	ck_assert_int_eq(th_get(c, 1, q, 0, &m, &tag, NULL, NULL), 1);
	ck_assert_str_eq(th_body(&m.body, got, sizeof(got)), "a0");
	amqp_destroy_message(&m);
	ck_assert_int_eq(amqp_basic_ack(c, 1, tag, 0), 0);
	th_sync(c, 1); /* the ack is read (and journaled) before the sync's reply */
	kill_and_reconnect(&c);
	uint8_t want[2] = { 0, 1 };
	expect_exactly(c, q, "a", 2, want);
	th_close(c);
}
END_TEST

/* Messages paged out of memory whose page records failed come back intact
 * and in order, never as whatever was written later at their offset. */
START_TEST(paged_messages_survive_failed_page_writes)
{
	enum { N = 400 };
	char q[96], other[96], body[64], got[64];
	static const char *const args[] = { "--queue-memory-window", "4096", NULL };
	/* page records of transient messages: appends 30..59 fail */
	start_with_faults("write:__journal:30:30", args);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "fault-paged"), 0, 0, 0, NULL, 0);
	th_queue(c, 1, th_name(other, sizeof(other), "fault-other"), 1, 0, 0, NULL, 0);
	amqp_basic_properties_t tp;
	memset(&tp, 0, sizeof(tp));
	char pad[200];
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < N; i++) {
		snprintf(body, sizeof(body), "p%d-%.40s", i, pad);
		th_publish_props(c, 1, "", q, 0, &tp, amqp_cstring_bytes(body));
		if (i % 5 == 4) /* one read, one append, every few messages */
			th_sync(c, 1);
	}
	/* then persistent messages to another queue: on a journal that reused
	 * failed offsets they took the paged messages' places */
	confirm_select(c, 1);
	uint8_t state[N_MSGS];
	publish_each(c, other, "o", N_MSGS, state);
	for (int i = 0; i < N; i++) {
		amqp_message_t m;
		snprintf(body, sizeof(body), "p%d-%.40s", i, pad);
		ck_assert_msg(th_get(c, 1, q, 1, &m, NULL, NULL, NULL) == 1, "paged message %d is missing", i);
		th_body(&m.body, got, sizeof(got));
		amqp_destroy_message(&m);
		ck_assert_msg(strcmp(got, body) == 0, "message %d: got \"%.20s...\"", i, got);
	}
	amqp_message_t m;
	ck_assert_msg(th_get(c, 1, q, 1, &m, NULL, NULL, NULL) == 0, "more messages than were published");
	th_close(c);
}
END_TEST

/* One frame into b: header, payload, frame end (so a whole burst goes out
 * in one write and tandemd reads it in one read). */
static void put_frame(struct th_buf *b, uint8_t type, uint16_t ch, const struct th_buf *payload)
{
	th_put8(b, type);
	th_put16(b, ch);
	th_put32(b, (uint32_t)payload->len);
	th_put_bytes(b, payload->data, payload->len);
	th_put8(b, 0xCE);
}

/* A message paged out and read back within one read of the socket, while
 * every journal write fails: the read-back finds it in memory (the failed
 * page record's message is kept), in order, none missing. */
START_TEST(paged_and_read_back_in_one_read_under_failed_writes)
{
	enum { N = 30, BODY = 200 };
	static const char *const args[] = { "--queue-memory-window", "4096", NULL };
	char q[96];
	start_with_faults("write:__journal:1:0", args);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "fault-oneread"), 0, 0, 0, NULL, 0);
	int fd = th_raw_handshake(0, 0, 0, 1, NULL, NULL, NULL);
	static struct th_buf burst, f;
	burst.len = 0;
	for (int i = 0; i < N; i++) {
		f.len = 0; /* basic.publish to the queue through the default exchange */
		th_put16(&f, 60), th_put16(&f, 40), th_put16(&f, 0);
		th_put_shortstr(&f, ""), th_put_shortstr(&f, q), th_put8(&f, 0);
		put_frame(&burst, 1, 1, &f);
		f.len = 0; /* content header: no properties (transient) */
		th_put16(&f, 60), th_put16(&f, 0), th_put64(&f, BODY), th_put16(&f, 0);
		put_frame(&burst, 2, 1, &f);
		f.len = 0;
		char body[BODY];
		memset(body, '.', sizeof(body));
		snprintf(body, sizeof(body), "m%d", i);
		th_put_bytes(&f, body, sizeof(body));
		put_frame(&burst, 3, 1, &f);
	}
	for (int i = 0; i < N; i++) {
		f.len = 0; /* basic.get, no-ack */
		th_put16(&f, 60), th_put16(&f, 70), th_put16(&f, 0);
		th_put_shortstr(&f, q), th_put8(&f, 1);
		put_frame(&burst, 1, 1, &f);
	}
	ck_assert_int_eq(th_raw_send(fd, burst.data, burst.len), 0);
	for (int i = 0; i < N; i++) {
		struct th_raw_frame m;
		ck_assert_int_eq(th_raw_read_frame(fd, &m, 10000), 1);
		uint16_t mth = th_raw_method(&m);
		th_raw_frame_free(&m);
		ck_assert_msg(mth == 71, "get %d: method 60.%u, not get-ok (the message is gone)", i, mth);
		ck_assert_int_eq(th_raw_read_frame(fd, &m, 10000), 1); /* header */
		th_raw_frame_free(&m);
		ck_assert_int_eq(th_raw_read_frame(fd, &m, 10000), 1); /* body */
		char want[16];
		snprintf(want, sizeof(want), "m%d", i);
		ck_assert_msg(m.size == BODY && strcmp((const char *)m.payload, want) == 0,
			      "get %d: got \"%.8s\"", i, (const char *)m.payload);
		th_raw_frame_free(&m);
	}
	close(fd);
	th_close(c);
}
END_TEST

/* A stream queue's record that could not be written is nacked, the others
 * acked, and the stream holds exactly the confirmed ones. */
START_TEST(stream_queue_failed_write_is_nacked)
{
	uint8_t state[N_MSGS];
	start_with_faults("write:fault-stream:4:2", NULL);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_table_entry_t e = { amqp_cstring_bytes("x-queue-type"),
				 { AMQP_FIELD_KIND_UTF8, { .bytes = amqp_cstring_bytes("stream") } } };
	amqp_table_t args = { 1, &e };
	amqp_queue_declare(c, 1, amqp_cstring_bytes("fault-stream"), 0, 1, 0, 0, args);
	th_ok_last(c, "declare stream");
	confirm_select(c, 1);
	publish_each(c, "fault-stream", "r", N_MSGS, state);
	expect_nacked(state, N_MSGS, 3, 5);
	uint32_t count = 0;
	th_ok(th_queue_passive(c, 1, "fault-stream", &count, NULL), "passive declare");
	ck_assert_uint_eq(count, N_MSGS - 2);
	th_close(c);
}
END_TEST

int main(void)
{
	th_start_private();
	if (th_external()) {
		printf("SKIP: storage fault injection needs a tandemd of the harness's own\n");
		return 77;
	}
	Suite *s = suite_create("faults");
	TCase *tc = th_tcase("journal");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, failed_journal_write_is_nacked);
	tcase_add_test(tc, short_journal_write_is_nacked);
	tcase_add_test(tc, failed_journal_fsync_is_nacked);
	tcase_add_test(tc, ack_of_unwritten_message_deletes_nothing_else);
	tcase_add_test(tc, paged_messages_survive_failed_page_writes);
	tcase_add_test(tc, stream_queue_failed_write_is_nacked);
	tcase_add_test(tc, paged_and_read_back_in_one_read_under_failed_writes);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
