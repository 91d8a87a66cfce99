/* Integration tests: publisher confirms (confirm.select, basic.ack / nack
 * with multiple) and transactions (tx.select / commit / rollback), with the
 * mode-switch errors RabbitMQ 3.10 gives. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void confirm_select(amqp_connection_state_t c, amqp_channel_t ch)
{
	amqp_confirm_select(c, ch);
	th_ok_last(c, "confirm.select");
}

/* Wait until every tag 1..n is confirmed (acks only); bounded. Returns the
 * number of basic.ack frames seen. Fails on a nack or a close. */
static int wait_acks(amqp_connection_state_t c, amqp_channel_t ch, uint64_t n)
{
	uint64_t confirmed = 0;
	int frames = 0;
	uint64_t deadline = th_now_ms() + 10000;
	while (confirmed < n) {
		ck_assert_msg(th_now_ms() < deadline, "only %llu of %llu publishes confirmed",
			      (unsigned long long)confirmed, (unsigned long long)n);
		amqp_frame_t f;
		if (!th_wait_frame(c, &f, 1000))
			continue;
		if (f.frame_type != AMQP_FRAME_METHOD || f.channel != ch)
			continue;
		ck_assert_msg(f.payload.method.id == AMQP_BASIC_ACK_METHOD, "expected basic.ack, got method 0x%08x",
			      f.payload.method.id);
		amqp_basic_ack_t *a = f.payload.method.decoded;
		ck_assert_msg(a->delivery_tag > confirmed, "ack for tag %llu after %llu was confirmed",
			      (unsigned long long)a->delivery_tag, (unsigned long long)confirmed);
		ck_assert_msg(a->multiple || a->delivery_tag == confirmed + 1,
			      "single ack for tag %llu skips unconfirmed tags", (unsigned long long)a->delivery_tag);
		ck_assert_uint_le(a->delivery_tag, n);
		confirmed = a->delivery_tag;
		frames++;
	}
	return frames;
}

START_TEST(confirm_acks_every_publish)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "confirm"), 0, 1, 0, NULL, 0);
	confirm_select(c, 1);
	for (int i = 0; i < 200; i++)
		th_publish(c, 1, "", q, "c");
	int frames = wait_acks(c, 1, 200);
	ck_assert_int_ge(frames, 1);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 200, 5000), 200);
	/* the sequence continues */
	th_publish(c, 1, "", q, "201");
	amqp_method_t m;
	ck_assert_int_eq(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &m, 5000), 1);
	ck_assert_uint_eq(((amqp_basic_ack_t *)m.decoded)->delivery_tag, 201);
	th_close(c);
}
END_TEST

/* Unroutable messages are confirmed too; with mandatory the basic.return
 * comes before the basic.ack. */
START_TEST(confirm_unroutable)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "confirm-nowhere"), "direct");
	confirm_select(c, 1);
	th_publish(c, 1, x, "nobody", "dropped"); /* tag 1 */
	amqp_method_t m;
	ck_assert_int_eq(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &m, 5000), 1);
	ck_assert_uint_eq(((amqp_basic_ack_t *)m.decoded)->delivery_tag, 1);
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	th_publish_props(c, 1, x, "nobody", 1, &p, amqp_cstring_bytes("returned")); /* tag 2 */
	amqp_frame_t f;
	ck_assert_int_eq(th_wait_frame(c, &f, 5000), 1);
	ck_assert_uint_eq(f.frame_type, AMQP_FRAME_METHOD);
	ck_assert_msg(f.payload.method.id == AMQP_BASIC_RETURN_METHOD, "expected basic.return first, got 0x%08x",
		      f.payload.method.id);
	amqp_message_t msg;
	th_ok(amqp_read_message(c, 1, &msg, 0), "returned content");
	amqp_destroy_message(&msg);
	ck_assert_int_eq(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &m, 5000), 1);
	ck_assert_uint_eq(((amqp_basic_ack_t *)m.decoded)->delivery_tag, 2);
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

START_TEST(confirm_select_twice_and_nowait)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	confirm_select(c, 1);
	confirm_select(c, 1);
	th_channel(c, 2);
	amqp_confirm_select_t sel = {.nowait = 1};
	ck_assert_int_eq(amqp_send_method(c, 2, AMQP_CONFIRM_SELECT_METHOD, &sel), AMQP_STATUS_OK);
	char q[128];
	th_queue(c, 2, th_name(q, sizeof(q), "nowait-confirm"), 0, 1, 0, NULL, 0);
	th_publish(c, 2, "", q, "x");
	amqp_method_t m;
	ck_assert_int_eq(th_wait_method(c, 2, AMQP_BASIC_ACK_METHOD, &m, 5000), 1);
	ck_assert_uint_eq(((amqp_basic_ack_t *)m.decoded)->delivery_tag, 1);
	th_close(c);
}
END_TEST

/* Confirmed publish to a missing exchange: the channel is closed with 404,
 * no ack. */
START_TEST(confirm_missing_exchange)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	confirm_select(c, 1);
	char x[128];
	th_publish(c, 1, th_name(x, sizeof(x), "confirm-missing"), "k", "lost");
	amqp_method_t m;
	ck_assert_int_eq(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &m, 5000), 0);
	ck_assert_uint_eq(m.id, AMQP_CHANNEL_CLOSE_METHOD);
	ck_assert_uint_eq(((amqp_channel_close_t *)m.decoded)->reply_code, TH_NOT_FOUND);
	amqp_channel_close_ok_t ok = {0};
	ck_assert_int_eq(amqp_send_method(c, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok), 0);
	th_close(c);
}
END_TEST

/* basic.nack reaches the publisher when the queue refuses the message:
 * here a queue with x-max-length 1 and x-overflow reject-publish (the
 * RabbitMQ queue arguments through which a client observes nacks). */
START_TEST(confirm_nack_reject_publish)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	amqp_table_entry_t e[2];
	e[0].key = amqp_cstring_bytes("x-max-length");
	e[0].value.kind = AMQP_FIELD_KIND_I32;
	e[0].value.value.i32 = 1;
	e[1].key = amqp_cstring_bytes("x-overflow");
	e[1].value.kind = AMQP_FIELD_KIND_UTF8;
	e[1].value.value.bytes = amqp_cstring_bytes("reject-publish");
	amqp_table_t args = {.num_entries = 2, .entries = e};
	amqp_queue_declare(c, 1, amqp_cstring_bytes(th_name(q, sizeof(q), "rejpub")), 0, 0, 1, 0, args);
	th_ok_last(c, "declare");
	confirm_select(c, 1);
	th_publish(c, 1, "", q, "fits");
	amqp_method_t m;
	ck_assert_int_eq(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &m, 5000), 1);
	ck_assert_uint_eq(((amqp_basic_ack_t *)m.decoded)->delivery_tag, 1);
	th_publish(c, 1, "", q, "overflow");
	ck_assert_int_eq(th_wait_method(c, 1, AMQP_BASIC_NACK_METHOD, &m, 5000), 1);
	amqp_basic_nack_t *n = m.decoded;
	/* RabbitMQ sets multiple here; with tag 1 already acked it covers only
	 * tag 2 either way, so both forms are accepted */
	ck_assert_uint_eq(n->delivery_tag, 2);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 1, 5000), 1);
	th_close(c);
}
END_TEST

/* ---- mode switches ------------------------------------------------------------- */

START_TEST(tx_then_confirm_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_tx_select(c, 1);
	th_ok_last(c, "tx.select");
	amqp_confirm_select(c, 1);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "cannot switch from tx to confirm mode") != NULL, "text: %s",
		      th_last_close_text());
	th_close(c);
}
END_TEST

START_TEST(confirm_then_tx_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	confirm_select(c, 1);
	amqp_tx_select(c, 1);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "cannot switch from confirm to tx mode") != NULL, "text: %s",
		      th_last_close_text());
	th_close(c);
}
END_TEST

/* ---- transactions ---------------------------------------------------------------- */

START_TEST(tx_commit_and_rollback_publishes)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	char q[128];
	th_queue(c, 2, th_name(q, sizeof(q), "tx"), 0, 1, 0, NULL, 0);
	amqp_tx_select(c, 1);
	th_ok_last(c, "tx.select");
	amqp_tx_select(c, 1);
	th_ok_last(c, "tx.select again");
	th_publish(c, 1, "", q, "rolled-back");
	th_ok(th_sync(c, 1), "sync");
	ck_assert_int_eq(th_get(c, 2, q, 1, NULL, NULL, NULL, NULL), 0); /* not before commit */
	amqp_tx_rollback(c, 1);
	th_ok_last(c, "tx.rollback");
	th_publish(c, 1, "", q, "committed-1");
	th_publish(c, 1, "", q, "committed-2");
	ck_assert_int_eq(th_get(c, 2, q, 1, NULL, NULL, NULL, NULL), 0);
	amqp_tx_commit(c, 1);
	th_ok_last(c, "tx.commit");
	/* commit-ok means enqueued */
	amqp_message_t m;
	ck_assert_int_eq(th_get(c, 2, q, 1, &m, NULL, NULL, NULL), 1);
	ck_assert(th_bytes_eq(m.body, "committed-1"));
	amqp_destroy_message(&m);
	ck_assert_int_eq(th_get(c, 2, q, 1, &m, NULL, NULL, NULL), 1);
	ck_assert(th_bytes_eq(m.body, "committed-2"));
	amqp_destroy_message(&m);
	ck_assert_int_eq(th_get(c, 2, q, 1, NULL, NULL, NULL, NULL), 0);
	/* the channel stays transactional: the next publish waits for commit */
	th_publish(c, 1, "", q, "pending");
	th_ok(th_sync(c, 1), "sync");
	ck_assert_int_eq(th_get(c, 2, q, 1, NULL, NULL, NULL, NULL), 0);
	/* closing the channel discards uncommitted work */
	th_channel_close(c, 1);
	th_assert_drained(c, 2, q);
	th_close(c);
}
END_TEST

/* Acks inside a transaction take effect on commit; rollback forgets them
 * (the messages stay unacknowledged). */
START_TEST(tx_acks)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	char q[128];
	th_queue(c, 2, th_name(q, sizeof(q), "txack"), 0, 1, 0, NULL, 0);
	th_publish(c, 2, "", q, "t1");
	th_publish(c, 2, "", q, "t2");
	amqp_tx_select(c, 1);
	th_ok_last(c, "tx.select");
	uint64_t tag1, tag2;
	ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, &tag1, NULL, NULL, 5000), 1);
	ck_assert_int_eq(th_get_wait(c, 1, q, 0, NULL, &tag2, NULL, NULL, 5000), 1);
	ck_assert_int_eq(amqp_basic_ack(c, 1, tag1, 0), 0);
	amqp_tx_rollback(c, 1);
	th_ok_last(c, "rollback");
	/* tag1 is still unacked, so acking it again is legal */
	ck_assert_int_eq(amqp_basic_ack(c, 1, tag1, 0), 0);
	amqp_tx_commit(c, 1);
	th_ok_last(c, "commit");
	/* tag2 was never acked: closing the channel requeues only it */
	th_channel_close(c, 1);
	amqp_message_t m;
	int red;
	ck_assert_int_eq(th_get_wait(c, 2, q, 1, &m, NULL, &red, NULL, 5000), 1);
	ck_assert(th_bytes_eq(m.body, "t2"));
	ck_assert_int_eq(red, 1);
	amqp_destroy_message(&m);
	th_assert_drained(c, 2, q);
	th_close(c);
}
END_TEST

START_TEST(tx_commit_without_select_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_tx_commit(c, 1);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "not transactional") != NULL, "text: %s", th_last_close_text());
	th_channel(c, 1);
	amqp_tx_rollback(c, 1);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_close(c);
}
END_TEST

/* Within a transaction, a mandatory unroutable publish is returned when
 * the transaction commits, not before. */
START_TEST(tx_mandatory_return_on_commit)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "tx-nowhere"), "direct");
	amqp_tx_select(c, 1);
	th_ok_last(c, "tx.select");
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	th_publish_props(c, 1, x, "nobody", 1, &p, amqp_cstring_bytes("tx-returned"));
	th_ok(th_sync(c, 1), "sync");
	amqp_frame_t f;
	ck_assert_msg(th_wait_frame(c, &f, 300) == 0, "basic.return before commit");
	amqp_tx_commit_t commit = {0};
	ck_assert_int_eq(amqp_send_method(c, 1, AMQP_TX_COMMIT_METHOD, &commit), 0);
	int returned = 0, committed = 0;
	while (!committed) {
		ck_assert_int_eq(th_wait_frame(c, &f, 5000), 1);
		ck_assert_uint_eq(f.frame_type, AMQP_FRAME_METHOD);
		if (f.payload.method.id == AMQP_BASIC_RETURN_METHOD) {
			amqp_message_t msg;
			th_ok(amqp_read_message(c, 1, &msg, 0), "returned content");
			ck_assert(th_bytes_eq(msg.body, "tx-returned"));
			amqp_destroy_message(&msg);
			returned++;
		} else {
			ck_assert_uint_eq(f.payload.method.id, AMQP_TX_COMMIT_OK_METHOD);
			committed = 1;
		}
	}
	ck_assert_int_eq(returned, 1);
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("confirm-tx");
	TCase *tc = th_tcase("confirm");
	tcase_add_test(tc, confirm_acks_every_publish);
	tcase_add_test(tc, confirm_unroutable);
	tcase_add_test(tc, confirm_select_twice_and_nowait);
	tcase_add_test(tc, confirm_missing_exchange);
	tcase_add_test(tc, confirm_nack_reject_publish);
	tcase_add_test(tc, tx_then_confirm_406);
	tcase_add_test(tc, confirm_then_tx_406);
	suite_add_tcase(s, tc);

	tc = th_tcase("tx");
	tcase_add_test(tc, tx_commit_and_rollback_publishes);
	tcase_add_test(tc, tx_acks);
	tcase_add_test(tc, tx_commit_without_select_406);
	tcase_add_test(tc, tx_mandatory_return_on_commit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
