/* Integration tests: queue.declare / bind / unbind / purge / delete:
 * server-named queues, passive, exclusive, auto-delete, counts, if-unused /
 * if-empty, and the error codes RabbitMQ 3.10 gives for each misuse. */
#include "harness.h"

#include <stdio.h>
#include <string.h>

static amqp_queue_declare_ok_t *declare(amqp_connection_state_t c, amqp_channel_t ch, const char *name, int passive,
					int durable, int exclusive, int auto_delete, amqp_table_t args)
{
	return amqp_queue_declare(c, ch, amqp_cstring_bytes(name), (amqp_boolean_t)passive, (amqp_boolean_t)durable,
				  (amqp_boolean_t)exclusive, (amqp_boolean_t)auto_delete, args);
}

static amqp_queue_delete_ok_t *qdelete(amqp_connection_state_t c, amqp_channel_t ch, const char *name,
				       int if_unused, int if_empty)
{
	return amqp_queue_delete(c, ch, amqp_cstring_bytes(name), (amqp_boolean_t)if_unused,
				 (amqp_boolean_t)if_empty);
}

START_TEST(server_named)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char a[256], b[256];
	th_queue(c, 1, "", 0, 1, 0, a, sizeof(a));
	th_queue(c, 1, "", 0, 1, 0, b, sizeof(b));
	ck_assert_msg(strncmp(a, "amq.gen-", 8) == 0, "server-named queue '%s'", a);
	ck_assert_msg(strncmp(b, "amq.gen-", 8) == 0, "server-named queue '%s'", b);
	ck_assert_uint_gt(strlen(a), 8);
	ck_assert_str_ne(a, b);
	/* usable by name, through the default exchange */
	th_publish(c, 1, "", a, "to server-named");
	amqp_message_t m;
	char body[64];
	ck_assert_int_eq(th_get(c, 1, a, 1, &m, NULL, NULL, NULL), 1);
	ck_assert_str_eq(th_body(&m.body, body, sizeof(body)), "to server-named");
	amqp_destroy_message(&m);
	th_close(c);
}
END_TEST

/* A client may not name a queue amq.*: 403 ACCESS_REFUSED. */
START_TEST(amq_prefix_403)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128], n[160];
	snprintf(n, sizeof(n), "amq.gen-%s", th_name(q, sizeof(q), "mine"));
	declare(c, 1, n, 0, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	th_channel(c, 1);
	declare(c, 1, n, 1, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	th_close(c);
}
END_TEST

START_TEST(passive_missing_404)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	declare(c, 1, th_name(q, sizeof(q), "missing"), 1, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	ck_assert_msg(strstr(th_last_close_text(), "NOT_FOUND - no queue") == th_last_close_text(), "text: %s",
		      th_last_close_text());
	th_close(c);
}
END_TEST

/* declare-ok counts ready messages (not unacked ones) and consumers. */
START_TEST(declare_ok_counts)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "counts"), 0, 0, 0, NULL, 0);
	for (int i = 0; i < 5; i++)
		th_publish(c, 1, "", q, "m");
	/* RabbitMQ's counts trail publishes even on the same channel */
	ck_assert_uint_eq(th_wait_count(c, 1, q, 5, 5000), 5);
	amqp_queue_declare_ok_t *ok = declare(c, 1, q, 0, 0, 0, 0, amqp_empty_table);
	th_ok_last(c, "redeclare");
	ck_assert_uint_eq(ok->message_count, 5);
	ck_assert_uint_eq(ok->consumer_count, 0);
	/* take one without ack: 4 ready, 1 unacked */
	ck_assert_int_eq(th_get(c, 2, q, 0, NULL, NULL, NULL, NULL), 1);
	uint32_t cons = 9;
	ck_assert_uint_eq(th_wait_count(c, 1, q, 4, 5000), 4);
	th_ok(th_queue_passive(c, 1, q, NULL, &cons), "passive");
	ck_assert_uint_eq(cons, 0);
	th_consume(c, 1, q, NULL, 0, 0, NULL, 0);
	th_ok(th_queue_passive(c, 2, q, NULL, &cons), "passive");
	ck_assert_uint_eq(cons, 1);
	qdelete(c, 2, q, 0, 0);
	th_close(c);
}
END_TEST

START_TEST(redeclare_inequivalent_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "ineq"), 0, 0, 0, NULL, 0);
	declare(c, 1, q, 0, 1, 0, 0, amqp_empty_table); /* durable differs */
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "inequivalent arg 'durable'") != NULL, "text: %s",
		      th_last_close_text());
	th_channel(c, 1);
	declare(c, 1, q, 0, 0, 0, 1, amqp_empty_table); /* auto_delete differs */
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "inequivalent arg 'auto_delete'") != NULL, "text: %s",
		      th_last_close_text());
	/* arguments differ */
	th_channel(c, 1);
	amqp_table_entry_t e = {.key = amqp_cstring_bytes("x-max-length"),
				.value = {.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = 10}}};
	amqp_table_t args = {.num_entries = 1, .entries = &e};
	declare(c, 1, q, 0, 0, 0, 0, args);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "inequivalent arg 'x-max-length'") != NULL, "text: %s",
		      th_last_close_text());
	th_channel(c, 1);
	qdelete(c, 1, q, 0, 0);
	th_ok_last(c, "delete");
	th_close(c);
}
END_TEST

/* Arguments are compared on redeclare: the same arguments are equivalent. */
START_TEST(redeclare_same_arguments)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	amqp_table_entry_t e = {.key = amqp_cstring_bytes("x-max-length"),
				.value = {.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = 10}}};
	amqp_table_t args = {.num_entries = 1, .entries = &e};
	declare(c, 1, th_name(q, sizeof(q), "args"), 0, 0, 1, 0, args);
	th_ok_last(c, "declare with args");
	declare(c, 1, q, 0, 0, 1, 0, args);
	th_ok_last(c, "redeclare with same args");
	declare(c, 1, q, 1, 0, 0, 0, amqp_empty_table);
	th_ok_last(c, "passive ignores args");
	th_close(c);
}
END_TEST

/* Exclusive queues: other connections get 405 RESOURCE_LOCKED for declare,
 * passive declare, consume, get, purge and delete; the owner's other
 * channels use it freely; it goes away with its connection. */
START_TEST(exclusive_queue)
{
	amqp_connection_state_t owner = th_connect(), other = th_connect();
	th_channel(owner, 1);
	th_channel(owner, 2);
	char q[128];
	th_queue(owner, 1, th_name(q, sizeof(q), "excl"), 0, 1, 0, NULL, 0);
	th_publish(owner, 2, "", q, "mine");
	th_ok(th_queue_passive(owner, 2, q, NULL, NULL), "owner, other channel");

	th_channel(other, 1);
	th_expect_channel_close(other, 1, th_queue_passive(other, 1, q, NULL, NULL), TH_RESOURCE_LOCKED);
	ck_assert_msg(strstr(th_last_close_text(), "RESOURCE_LOCKED") == th_last_close_text(), "text: %s",
		      th_last_close_text());
	th_channel(other, 1);
	declare(other, 1, q, 0, 0, 1, 0, amqp_empty_table);
	th_expect_channel_close(other, 1, amqp_get_rpc_reply(other), TH_RESOURCE_LOCKED);
	th_channel(other, 1);
	declare(other, 1, q, 0, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(other, 1, amqp_get_rpc_reply(other), TH_RESOURCE_LOCKED);
	th_channel(other, 1);
	amqp_basic_consume(other, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(other, 1, amqp_get_rpc_reply(other), TH_RESOURCE_LOCKED);
	th_channel(other, 1);
	th_expect_channel_close(other, 1, amqp_basic_get(other, 1, amqp_cstring_bytes(q), 1), TH_RESOURCE_LOCKED);
	th_channel(other, 1);
	amqp_queue_purge(other, 1, amqp_cstring_bytes(q));
	th_expect_channel_close(other, 1, amqp_get_rpc_reply(other), TH_RESOURCE_LOCKED);
	th_channel(other, 1);
	qdelete(other, 1, q, 0, 0);
	th_expect_channel_close(other, 1, amqp_get_rpc_reply(other), TH_RESOURCE_LOCKED);
	/* publishing to it from another connection is allowed */
	th_channel(other, 1);
	th_publish(other, 1, "", q, "theirs");
	th_ok(th_sync(other, 1), "publish from other connection");
	ck_assert_uint_eq(th_wait_count(owner, 1, q, 2, 5000), 2);

	th_close(owner);
	/* deleted with its owner, messages and all */
	th_expect_channel_close(other, 1, th_queue_passive(other, 1, q, NULL, NULL), TH_NOT_FOUND);
	th_close(other);
}
END_TEST

/* Exclusive queues also go when the owner's socket just drops. */
START_TEST(exclusive_queue_deleted_on_disconnect)
{
	amqp_connection_state_t owner = th_connect(), other = th_connect();
	th_channel(owner, 1);
	char q[128];
	th_queue(owner, 1, th_name(q, sizeof(q), "excl-drop"), 0, 1, 0, NULL, 0);
	th_destroy(owner); /* no connection.close */
	th_channel(other, 1);
	int gone = 0;
	for (int i = 0; i < 200 && !gone; i++) {
		amqp_rpc_reply_t r = th_queue_passive(other, 1, q, NULL, NULL);
		if (r.reply_type == AMQP_RESPONSE_NORMAL) {
			th_sleep_ms(10);
			continue;
		}
		th_expect_channel_close(other, 1, r, TH_NOT_FOUND);
		gone = 1;
	}
	ck_assert_msg(gone, "exclusive queue survived its connection");
	th_close(other);
}
END_TEST

/* An auto-delete queue is deleted when its last consumer goes, not before
 * it ever had one. */
START_TEST(auto_delete_queue)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128], t1[256], t2[256];
	th_queue(c, 1, th_name(q, sizeof(q), "autodel"), 0, 0, 1, NULL, 0);
	th_ok(th_queue_passive(c, 1, q, NULL, NULL), "no consumer yet: still there");
	th_consume(c, 1, q, NULL, 0, 0, t1, sizeof(t1));
	th_consume(c, 1, q, NULL, 0, 0, t2, sizeof(t2));
	amqp_basic_cancel(c, 1, amqp_cstring_bytes(t1));
	th_ok_last(c, "cancel 1");
	th_ok(th_queue_passive(c, 1, q, NULL, NULL), "one consumer left");
	amqp_basic_cancel(c, 1, amqp_cstring_bytes(t2));
	th_ok_last(c, "cancel 2");
	th_expect_channel_close(c, 1, th_queue_passive(c, 1, q, NULL, NULL), TH_NOT_FOUND);
	th_close(c);
}
END_TEST

/* ... including when the consumer's channel closes. */
START_TEST(auto_delete_queue_on_channel_close)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "autodel-ch"), 0, 0, 1, NULL, 0);
	th_consume(c, 2, q, NULL, 0, 0, NULL, 0);
	th_channel_close(c, 2);
	int gone = 0;
	for (int i = 0; i < 200 && !gone; i++) {
		amqp_rpc_reply_t r = th_queue_passive(c, 1, q, NULL, NULL);
		if (r.reply_type == AMQP_RESPONSE_NORMAL) {
			th_sleep_ms(10);
			continue;
		}
		th_expect_channel_close(c, 1, r, TH_NOT_FOUND);
		gone = 1;
	}
	ck_assert(gone);
	th_close(c);
}
END_TEST

START_TEST(purge_counts)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "purge"), 0, 1, 0, NULL, 0);
	for (int i = 0; i < 7; i++)
		th_publish(c, 1, "", q, "p");
	ck_assert_uint_eq(th_wait_count(c, 1, q, 7, 5000), 7);
	/* two delivered unacked: not purged */
	uint64_t tag1, tag2;
	ck_assert_int_eq(th_get(c, 1, q, 0, NULL, &tag1, NULL, NULL), 1);
	ck_assert_int_eq(th_get(c, 1, q, 0, NULL, &tag2, NULL, NULL), 1);
	amqp_queue_purge_ok_t *ok = amqp_queue_purge(c, 1, amqp_cstring_bytes(q));
	th_ok_last(c, "purge");
	ck_assert_uint_eq(ok->message_count, 5);
	ok = amqp_queue_purge(c, 1, amqp_cstring_bytes(q));
	th_ok_last(c, "purge empty");
	ck_assert_uint_eq(ok->message_count, 0);
	/* unacked ones come back on reject and are then purgeable */
	amqp_basic_reject(c, 1, tag1, 1);
	amqp_basic_reject(c, 1, tag2, 1);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 2, 5000), 2);
	ok = amqp_queue_purge(c, 1, amqp_cstring_bytes(q));
	th_ok_last(c, "purge requeued");
	ck_assert_uint_eq(ok->message_count, 2);
	th_close(c);
}
END_TEST

START_TEST(purge_missing_404)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	amqp_queue_purge(c, 1, amqp_cstring_bytes(th_name(q, sizeof(q), "nopurge")));
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	th_close(c);
}
END_TEST

START_TEST(delete_counts_and_missing)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "del"), 0, 0, 0, NULL, 0);
	for (int i = 0; i < 3; i++)
		th_publish(c, 1, "", q, "d");
	ck_assert_uint_eq(th_wait_count(c, 1, q, 3, 5000), 3);
	amqp_queue_delete_ok_t *ok = qdelete(c, 1, q, 0, 0);
	th_ok_last(c, "delete");
	ck_assert_uint_eq(ok->message_count, 3);
	th_expect_channel_close(c, 1, th_queue_passive(c, 1, q, NULL, NULL), TH_NOT_FOUND);
	/* deleting a queue that does not exist is fine (RabbitMQ 3.x) */
	th_channel(c, 1);
	ok = qdelete(c, 1, q, 0, 0);
	th_ok_last(c, "delete missing");
	ck_assert_uint_eq(ok->message_count, 0);
	th_close(c);
}
END_TEST

START_TEST(delete_if_unused_if_empty)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128], tag[256];
	th_queue(c, 1, th_name(q, sizeof(q), "delif"), 0, 0, 0, NULL, 0);
	th_consume(c, 1, q, NULL, 0, 0, tag, sizeof(tag));
	qdelete(c, 1, q, 1, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "in use") != NULL, "text: %s", th_last_close_text());
	/* the channel close cancelled the consumer: now unused */
	th_channel(c, 1);
	th_publish(c, 1, "", q, "x");
	ck_assert_uint_eq(th_wait_count(c, 1, q, 1, 5000), 1);
	qdelete(c, 1, q, 0, 1);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "not empty") != NULL, "text: %s", th_last_close_text());
	th_channel(c, 1);
	amqp_queue_delete_ok_t *ok = qdelete(c, 1, q, 1, 0);
	th_ok_last(c, "delete if-unused");
	ck_assert_uint_eq(ok->message_count, 1);
	th_close(c);
}
END_TEST

START_TEST(bind_errors)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128], x[128], missing[128];
	th_queue(c, 1, th_name(q, sizeof(q), "bind"), 0, 1, 0, NULL, 0);
	th_exchange(c, 1, th_name(x, sizeof(x), "bind-x"), "direct");
	th_name(missing, sizeof(missing), "bind-missing");
	/* missing exchange */
	amqp_queue_bind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(missing), amqp_cstring_bytes("k"),
			amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	/* missing queue */
	th_channel(c, 1);
	amqp_queue_bind(c, 1, amqp_cstring_bytes(missing), amqp_cstring_bytes(x), amqp_cstring_bytes("k"),
			amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	/* the exchange is looked at before the queue (rabbit_binding) */
	th_channel(c, 1);
	amqp_queue_bind(c, 1, amqp_cstring_bytes(missing), amqp_cstring_bytes(missing), amqp_cstring_bytes("k"),
			amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	ck_assert_msg(strncmp(th_last_close_text(), "NOT_FOUND - no exchange '", 25) == 0, "%s",
		      th_last_close_text());
	th_channel(c, 1);
	amqp_queue_bind(c, 1, amqp_cstring_bytes(missing), amqp_cstring_bytes(""), amqp_cstring_bytes("k"),
			amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	/* the default exchange: binding and unbinding are 403 */
	th_channel(c, 1);
	amqp_queue_bind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(""), amqp_cstring_bytes("k"),
			amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	th_channel(c, 1);
	amqp_queue_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(""), amqp_cstring_bytes(q),
			  amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	/* binding twice is fine; unbinding something not bound is fine */
	th_channel(c, 1);
	th_bind(c, 1, q, x, "k", amqp_empty_table);
	th_bind(c, 1, q, x, "k", amqp_empty_table);
	amqp_queue_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(x), amqp_cstring_bytes("k"),
			  amqp_empty_table);
	th_ok_last(c, "unbind");
	amqp_queue_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(x), amqp_cstring_bytes("k"),
			  amqp_empty_table);
	th_ok_last(c, "unbind again");
	amqp_queue_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(x), amqp_cstring_bytes("never"),
			  amqp_empty_table);
	th_ok_last(c, "unbind never bound");
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

static amqp_rpc_reply_t unbind(amqp_connection_state_t c, const char *q, const char *x, const char *k)
{
	amqp_queue_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(x), amqp_cstring_bytes(k),
			  amqp_empty_table);
	return amqp_get_rpc_reply(c);
}

/* RabbitMQ 3.10: queue.unbind is idempotent.  A missing queue, exchange or
 * binding answers unbind-ok; the default exchange is still 403, and
 * another connection's exclusive queue is locked (405) only when the
 * binding exists. */
START_TEST(unbind_missing)
{
	amqp_connection_state_t c = th_connect(), owner = th_connect();
	th_channel(c, 1);
	th_channel(owner, 1);
	char q[128], x[128], mq[128], mx[128], ex[128];
	th_queue(c, 1, th_name(q, sizeof(q), "unb"), 0, 1, 0, NULL, 0);
	th_exchange(c, 1, th_name(x, sizeof(x), "unb-x"), "direct");
	th_name(mq, sizeof(mq), "unb-missing-q");
	th_name(mx, sizeof(mx), "unb-missing-x");
	th_ok(unbind(c, mq, x, "k"), "unbind a missing queue");
	th_ok(unbind(c, q, mx, "k"), "unbind from a missing exchange");
	th_ok(unbind(c, mq, mx, "k"), "unbind both missing");
	th_ok(unbind(c, q, x, "k"), "unbind a missing binding");
	th_expect_channel_close(c, 1, unbind(c, mq, "", "k"), TH_ACCESS_REFUSED);
	ck_assert_str_eq(th_last_close_text(), "ACCESS_REFUSED - operation not permitted on the default exchange");
	/* no queue declared on this channel yet: "" is still 404 */
	th_channel(c, 1);
	th_expect_channel_close(c, 1, unbind(c, "", x, "k"), TH_NOT_FOUND);
	ck_assert_str_eq(th_last_close_text(), "NOT_FOUND - no previously declared queue");
	/* another connection's exclusive queue */
	th_channel(c, 1);
	th_queue(owner, 1, th_name(ex, sizeof(ex), "unb-excl"), 0, 1, 0, NULL, 0);
	th_ok(unbind(c, ex, mx, "k"), "unbind another's exclusive queue from a missing exchange");
	th_ok(unbind(c, ex, x, "k"), "unbind another's exclusive queue, no such binding");
	th_bind(owner, 1, ex, x, "k", amqp_empty_table);
	th_expect_channel_close(c, 1, unbind(c, ex, x, "k"), TH_RESOURCE_LOCKED);
	/* the binding is still there */
	th_publish(owner, 1, x, "k", "still");
	ck_assert_uint_eq(th_wait_count(owner, 1, ex, 1, 5000), 1);
	th_ok(unbind(owner, ex, x, "k"), "the owner unbinds");
	amqp_exchange_delete(owner, 1, amqp_cstring_bytes(x), 0);
	th_close(owner);
	th_close(c);
}
END_TEST

/* Deleting a queue removes its bindings. */
START_TEST(delete_removes_bindings)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128], x[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "qdel-x"), "fanout");
	th_queue(c, 1, th_name(q, sizeof(q), "qdel"), 0, 0, 0, NULL, 0);
	th_bind(c, 1, q, x, "", amqp_empty_table);
	qdelete(c, 1, q, 0, 0);
	th_ok_last(c, "delete");
	th_queue(c, 1, q, 0, 0, 0, NULL, 0);
	th_publish(c, 1, x, "", "lost");
	th_assert_drained(c, 1, q);
	qdelete(c, 1, q, 0, 0);
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

/* queue.declare with nowait: no declare-ok; the queue is there for the
 * next method. */
START_TEST(declare_nowait)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	amqp_queue_declare_t d;
	memset(&d, 0, sizeof(d));
	d.queue = amqp_cstring_bytes(th_name(q, sizeof(q), "nowait"));
	d.exclusive = 1;
	d.nowait = 1;
	d.arguments = amqp_empty_table;
	ck_assert_int_eq(amqp_send_method(c, 1, AMQP_QUEUE_DECLARE_METHOD, &d), AMQP_STATUS_OK);
	th_publish(c, 1, "", q, "after nowait");
	ck_assert_int_eq(th_get(c, 1, q, 1, NULL, NULL, NULL, NULL), 1);
	th_close(c);
}
END_TEST

/* The default exchange routes to every queue by name, implicitly bound. */
START_TEST(default_exchange_routes_by_name)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "dflt"), 0, 1, 0, NULL, 0);
	th_publish(c, 1, "", q, "by name");
	th_publish(c, 1, "", "no-such-queue-for-default", "dropped");
	amqp_message_t m;
	char body[64];
	ck_assert_int_eq(th_get(c, 1, q, 1, &m, NULL, NULL, NULL), 1);
	ck_assert_str_eq(th_body(&m.body, body, sizeof(body)), "by name");
	ck_assert(m.properties._flags & AMQP_BASIC_DELIVERY_MODE_FLAG);
	ck_assert_uint_eq(m.properties.delivery_mode, 1);
	amqp_destroy_message(&m);
	ck_assert_int_eq(th_get(c, 1, q, 1, NULL, NULL, NULL, NULL), 0);
	th_close(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = th_tcase("declare");
	tcase_add_test(tc, server_named);
	tcase_add_test(tc, amq_prefix_403);
	tcase_add_test(tc, passive_missing_404);
	tcase_add_test(tc, declare_ok_counts);
	tcase_add_test(tc, redeclare_inequivalent_406);
	tcase_add_test(tc, redeclare_same_arguments);
	tcase_add_test(tc, declare_nowait);
	tcase_add_test(tc, default_exchange_routes_by_name);
	suite_add_tcase(s, tc);

	tc = th_tcase("lifetime");
	tcase_add_test(tc, exclusive_queue);
	tcase_add_test(tc, exclusive_queue_deleted_on_disconnect);
	tcase_add_test(tc, auto_delete_queue);
	tcase_add_test(tc, auto_delete_queue_on_channel_close);
	suite_add_tcase(s, tc);

	tc = th_tcase("purge-delete-bind");
	tcase_add_test(tc, purge_counts);
	tcase_add_test(tc, purge_missing_404);
	tcase_add_test(tc, delete_counts_and_missing);
	tcase_add_test(tc, delete_if_unused_if_empty);
	tcase_add_test(tc, bind_errors);
	tcase_add_test(tc, unbind_missing);
	tcase_add_test(tc, delete_removes_bindings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
