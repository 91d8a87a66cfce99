/* Integration tests: exchange.declare / delete / bind / unbind and the
 * predeclared exchanges, with RabbitMQ 3.10's reply codes and scopes. */
#include "harness.h"

#include <stdio.h>
#include <string.h>

static void declare(amqp_connection_state_t c, amqp_channel_t ch, const char *name, const char *type, int passive,
		    int durable, int auto_delete, int internal)
{
	amqp_exchange_declare(c, ch, amqp_cstring_bytes(name), amqp_cstring_bytes(type), (amqp_boolean_t)passive,
			      (amqp_boolean_t)durable, (amqp_boolean_t)auto_delete, (amqp_boolean_t)internal,
			      amqp_empty_table);
}

static void delete_ex(amqp_connection_state_t c, amqp_channel_t ch, const char *name, int if_unused)
{
	amqp_exchange_delete(c, ch, amqp_cstring_bytes(name), (amqp_boolean_t)if_unused);
}

START_TEST(declare_each_type_and_redeclare)
{
	static const char *const types[] = {"direct", "fanout", "topic", "headers"};
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	for (size_t i = 0; i < 4; i++) {
		char x[128];
		th_name(x, sizeof(x), types[i]);
		declare(c, 1, x, types[i], 0, 0, 0, 0);
		th_ok_last(c, "declare");
		declare(c, 1, x, types[i], 0, 0, 0, 0); /* same again: fine */
		th_ok_last(c, "redeclare");
		declare(c, 1, x, "", 1, 0, 0, 0); /* passive: type ignored */
		th_ok_last(c, "passive");
		declare(c, 1, x, "fanout", 1, 1, 1, 0); /* passive: flags ignored */
		th_ok_last(c, "passive with other flags");
		delete_ex(c, 1, x, 0);
		th_ok_last(c, "delete");
	}
	th_close(c);
}
END_TEST

START_TEST(declare_durable_and_auto_delete)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	th_name(x, sizeof(x), "durable-ex");
	declare(c, 1, x, "topic", 0, 1, 0, 0);
	th_ok_last(c, "declare durable");
	declare(c, 1, x, "topic", 0, 1, 0, 0);
	th_ok_last(c, "redeclare durable");
	delete_ex(c, 1, x, 0);
	th_ok_last(c, "delete");
	th_close(c);
}
END_TEST

START_TEST(passive_missing_404)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	declare(c, 1, th_name(x, sizeof(x), "missing"), "direct", 1, 0, 0, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	ck_assert_msg(strstr(th_last_close_text(), "NOT_FOUND - no exchange") == th_last_close_text(), "text: %s",
		      th_last_close_text());
	/* the connection survives a channel error */
	th_channel(c, 2);
	th_ok(th_sync(c, 2), "other channel");
	th_channel(c, 1); /* and the channel number can be reused */
	th_close(c);
}
END_TEST

START_TEST(redeclare_different_type_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "retype"), "direct");
	declare(c, 1, x, "fanout", 0, 0, 0, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "inequivalent arg 'type'") != NULL, "text: %s",
		      th_last_close_text());
	th_channel(c, 1);
	delete_ex(c, 1, x, 0);
	th_ok_last(c, "delete");
	th_close(c);
}
END_TEST

START_TEST(redeclare_different_durable_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "redur"), "direct");
	declare(c, 1, x, "direct", 0, 1, 0, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "inequivalent arg 'durable'") != NULL, "text: %s",
		      th_last_close_text());
	th_channel(c, 1);
	delete_ex(c, 1, x, 0);
	th_ok_last(c, "delete");
	th_close(c);
}
END_TEST

START_TEST(redeclare_different_auto_delete_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "read"), "direct");
	declare(c, 1, x, "direct", 0, 0, 1, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_channel(c, 1);
	delete_ex(c, 1, x, 0);
	th_ok_last(c, "delete");
	th_close(c);
}
END_TEST

/* An exchange type the server does not know: 503 COMMAND_INVALID, and since
 * 503 is a hard error in RabbitMQ it closes the connection. */
START_TEST(unknown_type_503)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	declare(c, 1, th_name(x, sizeof(x), "badtype"), "no-such-type", 0, 0, 0, 0);
	th_expect_connection_close(c, amqp_get_rpc_reply(c), TH_COMMAND_INVALID);
	th_destroy(c);
}
END_TEST

/* Names starting with "amq." are reserved: 403 ACCESS_REFUSED. */
START_TEST(amq_prefix_403)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128], n[160];
	snprintf(n, sizeof(n), "amq.%s", th_name(x, sizeof(x), "mine"));
	declare(c, 1, n, "direct", 0, 0, 0, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	/* passive on a missing amq.* name is a plain 404 */
	th_channel(c, 1);
	declare(c, 1, n, "direct", 1, 0, 0, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	th_close(c);
}
END_TEST

/* The predeclared exchanges exist with their types; redeclaring one with
 * the same type and flags is allowed (the reserved-name check applies only
 * to creating), with another type it is 406. */
START_TEST(predeclared_exchanges)
{
	static const char *const names[][2] = {{"amq.direct", "direct"},   {"amq.fanout", "fanout"},
					       {"amq.topic", "topic"},     {"amq.headers", "headers"},
					       {"amq.match", "headers"}};
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	for (size_t i = 0; i < 5; i++) {
		declare(c, 1, names[i][0], names[i][1], 1, 0, 0, 0);
		th_ok_last(c, names[i][0]);
		declare(c, 1, names[i][0], names[i][1], 0, 1, 0, 0); /* they are durable */
		th_ok_last(c, names[i][0]);
	}
	declare(c, 1, "amq.direct", "fanout", 0, 1, 0, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_close(c);
}
END_TEST

/* The default exchange cannot be declared, not even passively: 403
 * ACCESS_REFUSED "operation not permitted on the default exchange". */
START_TEST(default_exchange_declare)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	declare(c, 1, "", "direct", 1, 0, 0, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	th_channel(c, 1);
	declare(c, 1, "", "direct", 0, 1, 0, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	th_close(c);
}
END_TEST

START_TEST(delete_default_and_amq_403)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	delete_ex(c, 1, "", 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	th_channel(c, 1);
	delete_ex(c, 1, "amq.direct", 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	th_channel(c, 1);
	declare(c, 1, "amq.direct", "direct", 1, 0, 0, 0);
	th_ok_last(c, "amq.direct still there");
	th_close(c);
}
END_TEST

/* Deleting an exchange that does not exist succeeds (RabbitMQ 3.x made
 * delete idempotent). */
START_TEST(delete_missing_ok)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	delete_ex(c, 1, th_name(x, sizeof(x), "never"), 0);
	th_ok_last(c, "delete missing");
	th_close(c);
}
END_TEST

START_TEST(delete_if_unused)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128], q[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "inuse"), "direct");
	th_queue(c, 1, th_name(q, sizeof(q), "inuse-q"), 0, 1, 0, NULL, 0);
	th_bind(c, 1, q, x, "k", amqp_empty_table);
	delete_ex(c, 1, x, 1);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_channel(c, 1);
	declare(c, 1, x, "direct", 1, 0, 0, 0);
	th_ok_last(c, "still there");
	amqp_queue_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(x), amqp_cstring_bytes("k"),
			  amqp_empty_table);
	th_ok_last(c, "unbind");
	delete_ex(c, 1, x, 1);
	th_ok_last(c, "delete if-unused when unused");
	declare(c, 1, x, "direct", 1, 0, 0, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	th_close(c);
}
END_TEST

/* An exchange that is only the destination of an e2e binding is not "in
 * use" for if-unused (RabbitMQ checks bindings where it is the source). */
START_TEST(delete_if_unused_destination_only)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char src[128], dst[128];
	th_exchange(c, 1, th_name(src, sizeof(src), "e2e-src"), "fanout");
	th_exchange(c, 1, th_name(dst, sizeof(dst), "e2e-dst"), "fanout");
	amqp_exchange_bind(c, 1, amqp_cstring_bytes(dst), amqp_cstring_bytes(src), amqp_empty_bytes,
			   amqp_empty_table);
	th_ok_last(c, "exchange.bind");
	delete_ex(c, 1, dst, 1);
	th_ok_last(c, "delete destination if-unused");
	delete_ex(c, 1, src, 1);
	th_ok_last(c, "source lost its only binding");
	th_close(c);
}
END_TEST

/* Deleting an exchange removes its bindings: a queue bound to it no longer
 * gets messages from a new exchange of the same name. */
START_TEST(delete_removes_bindings)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128], q[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "delbind"), "fanout");
	th_queue(c, 1, th_name(q, sizeof(q), "delbind-q"), 0, 1, 0, NULL, 0);
	th_bind(c, 1, q, x, "", amqp_empty_table);
	delete_ex(c, 1, x, 0);
	th_ok_last(c, "delete");
	th_exchange(c, 1, x, "fanout");
	th_publish(c, 1, x, "", "lost");
	th_assert_drained(c, 1, q);
	delete_ex(c, 1, x, 0);
	th_close(c);
}
END_TEST

/* Publishing to an internal exchange: 403 ACCESS_REFUSED (channel). It
 * still routes what arrives through an e2e binding. */
START_TEST(internal_exchange)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char in[128], front[128], q[128];
	th_name(in, sizeof(in), "internal");
	declare(c, 1, in, "fanout", 0, 0, 0, 1);
	th_ok_last(c, "declare internal");
	th_exchange(c, 1, th_name(front, sizeof(front), "front"), "fanout");
	amqp_exchange_bind(c, 1, amqp_cstring_bytes(in), amqp_cstring_bytes(front), amqp_empty_bytes,
			   amqp_empty_table);
	th_ok_last(c, "bind internal to front");
	th_queue(c, 1, th_name(q, sizeof(q), "internal-q"), 0, 1, 0, NULL, 0);
	th_bind(c, 1, q, in, "", amqp_empty_table);
	th_publish(c, 1, front, "", "via front");
	amqp_message_t m;
	char body[64];
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 2000), 1);
	ck_assert_str_eq(th_body(&m.body, body, sizeof(body)), "via front");
	amqp_destroy_message(&m);
	th_publish(c, 1, in, "", "direct to internal");
	th_expect_channel_close(c, 1, th_sync(c, 1), TH_ACCESS_REFUSED);
	th_channel(c, 1);
	delete_ex(c, 1, in, 0);
	delete_ex(c, 1, front, 0);
	th_close(c);
}
END_TEST

/* An auto-delete exchange disappears when its last binding goes, and not
 * before it ever had one. */
START_TEST(auto_delete_exchange)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128], q1[128], q2[128];
	th_name(x, sizeof(x), "autodel");
	declare(c, 1, x, "direct", 0, 0, 1, 0);
	th_ok_last(c, "declare auto-delete");
	declare(c, 1, x, "direct", 1, 0, 0, 0);
	th_ok_last(c, "exists without bindings");
	th_queue(c, 1, th_name(q1, sizeof(q1), "ad1"), 0, 1, 0, NULL, 0);
	th_queue(c, 1, th_name(q2, sizeof(q2), "ad2"), 0, 1, 0, NULL, 0);
	th_bind(c, 1, q1, x, "a", amqp_empty_table);
	th_bind(c, 1, q2, x, "b", amqp_empty_table);
	amqp_queue_unbind(c, 1, amqp_cstring_bytes(q1), amqp_cstring_bytes(x), amqp_cstring_bytes("a"),
			  amqp_empty_table);
	th_ok_last(c, "unbind 1");
	declare(c, 1, x, "direct", 1, 0, 0, 0);
	th_ok_last(c, "still one binding");
	/* deleting the queue removes the last binding */
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q2), 0, 0);
	th_ok_last(c, "queue.delete");
	declare(c, 1, x, "direct", 1, 0, 0, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	th_close(c);
}
END_TEST

/* Exchange-to-exchange bindings route, chain, and unbind. */
START_TEST(exchange_to_exchange)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char a[128], b[128], q[128];
	th_exchange(c, 1, th_name(a, sizeof(a), "e2e-a"), "topic");
	th_exchange(c, 1, th_name(b, sizeof(b), "e2e-b"), "direct");
	th_queue(c, 1, th_name(q, sizeof(q), "e2e-q"), 0, 1, 0, NULL, 0);
	amqp_exchange_bind(c, 1, amqp_cstring_bytes(b), amqp_cstring_bytes(a), amqp_cstring_bytes("stock.#"),
			   amqp_empty_table);
	th_ok_last(c, "exchange.bind");
	/* binding twice is fine */
	amqp_exchange_bind(c, 1, amqp_cstring_bytes(b), amqp_cstring_bytes(a), amqp_cstring_bytes("stock.#"),
			   amqp_empty_table);
	th_ok_last(c, "exchange.bind again");
	th_bind(c, 1, q, b, "stock.usd.nyse", amqp_empty_table);
	th_publish(c, 1, a, "stock.usd.nyse", "m1"); /* a -> b -> q */
	th_publish(c, 1, a, "stock.eur", "m2");      /* a -> b, no match in b */
	th_publish(c, 1, a, "bond.usd.nyse", "m3");  /* not a -> b */
	th_publish(c, 1, b, "stock.usd.nyse", "m4"); /* b -> q */
	amqp_message_t m;
	char body[64];
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 2000), 1);
	ck_assert_str_eq(th_body(&m.body, body, sizeof(body)), "m1");
	/* the message keeps the exchange it was published to */
	amqp_destroy_message(&m);
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 2000), 1);
	ck_assert_str_eq(th_body(&m.body, body, sizeof(body)), "m4");
	amqp_destroy_message(&m);
	th_assert_drained(c, 1, q);

	amqp_exchange_unbind(c, 1, amqp_cstring_bytes(b), amqp_cstring_bytes(a), amqp_cstring_bytes("stock.#"),
			     amqp_empty_table);
	th_ok_last(c, "exchange.unbind");
	th_publish(c, 1, a, "stock.usd.nyse", "m5");
	th_assert_drained(c, 1, q);
	/* unbinding what is not bound is fine */
	amqp_exchange_unbind(c, 1, amqp_cstring_bytes(b), amqp_cstring_bytes(a), amqp_cstring_bytes("stock.#"),
			     amqp_empty_table);
	th_ok_last(c, "exchange.unbind again");
	delete_ex(c, 1, a, 0);
	delete_ex(c, 1, b, 0);
	th_close(c);
}
END_TEST

static amqp_rpc_reply_t xunbind(amqp_connection_state_t c, const char *dst, const char *src)
{
	amqp_exchange_unbind(c, 1, amqp_cstring_bytes(dst), amqp_cstring_bytes(src), amqp_cstring_bytes("k"),
			     amqp_empty_table);
	return amqp_get_rpc_reply(c);
}

/* RabbitMQ 3.10: exchange.unbind is idempotent, a missing source or
 * destination answers unbind-ok; the default exchange is still 403.
 * exchange.bind names the missing source first. */
START_TEST(exchange_unbind_missing)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char a[128], m1[128], m2[128];
	th_exchange(c, 1, th_name(a, sizeof(a), "xunb"), "direct");
	th_name(m1, sizeof(m1), "xunb-missing1");
	th_name(m2, sizeof(m2), "xunb-missing2");
	th_ok(xunbind(c, a, m1), "missing source");
	th_ok(xunbind(c, m1, a), "missing destination");
	th_ok(xunbind(c, m1, m2), "both missing");
	/* binding: the source is looked at first */
	char want[300];
	amqp_exchange_bind(c, 1, amqp_cstring_bytes(m1), amqp_cstring_bytes(m2), amqp_cstring_bytes("k"),
			   amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	snprintf(want, sizeof(want), "NOT_FOUND - no exchange '%s' in vhost '/'", m2);
	ck_assert_str_eq(th_last_close_text(), want);
	th_channel(c, 1);
	amqp_exchange_bind(c, 1, amqp_cstring_bytes(m1), amqp_cstring_bytes(a), amqp_cstring_bytes("k"),
			   amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	snprintf(want, sizeof(want), "NOT_FOUND - no exchange '%s' in vhost '/'", m1);
	ck_assert_str_eq(th_last_close_text(), want);
	th_channel(c, 1);
	th_expect_channel_close(c, 1, xunbind(c, "", m1), TH_ACCESS_REFUSED);
	ck_assert_str_eq(th_last_close_text(), "ACCESS_REFUSED - operation not permitted on the default exchange");
	th_channel(c, 1);
	th_expect_channel_close(c, 1, xunbind(c, m1, ""), TH_ACCESS_REFUSED);
	ck_assert_str_eq(th_last_close_text(), "ACCESS_REFUSED - operation not permitted on the default exchange");
	th_channel(c, 1);
	delete_ex(c, 1, a, 0);
	th_close(c);
}
END_TEST

/* A message reaching one queue through two paths is enqueued once; cycles
 * of e2e bindings do not loop. */
START_TEST(exchange_cycle_and_duplicates)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char a[128], b[128], q[128];
	th_exchange(c, 1, th_name(a, sizeof(a), "cyc-a"), "fanout");
	th_exchange(c, 1, th_name(b, sizeof(b), "cyc-b"), "fanout");
	th_queue(c, 1, th_name(q, sizeof(q), "cyc-q"), 0, 1, 0, NULL, 0);
	amqp_exchange_bind(c, 1, amqp_cstring_bytes(b), amqp_cstring_bytes(a), amqp_empty_bytes, amqp_empty_table);
	th_ok_last(c, "a->b");
	amqp_exchange_bind(c, 1, amqp_cstring_bytes(a), amqp_cstring_bytes(b), amqp_empty_bytes, amqp_empty_table);
	th_ok_last(c, "b->a");
	th_bind(c, 1, q, a, "", amqp_empty_table);
	th_bind(c, 1, q, b, "", amqp_empty_table);
	th_bind(c, 1, q, a, "other-key", amqp_empty_table);
	th_publish(c, 1, a, "k", "once");
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, NULL, NULL, NULL, NULL, 2000), 1);
	th_assert_drained(c, 1, q);
	delete_ex(c, 1, a, 0);
	delete_ex(c, 1, b, 0);
	th_close(c);
}
END_TEST

START_TEST(exchange_bind_missing_404)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char a[128], missing[128];
	th_exchange(c, 1, th_name(a, sizeof(a), "eb"), "fanout");
	th_name(missing, sizeof(missing), "eb-missing");
	amqp_exchange_bind(c, 1, amqp_cstring_bytes(a), amqp_cstring_bytes(missing), amqp_empty_bytes,
			   amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	th_channel(c, 1);
	amqp_exchange_bind(c, 1, amqp_cstring_bytes(missing), amqp_cstring_bytes(a), amqp_empty_bytes,
			   amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	th_channel(c, 1);
	delete_ex(c, 1, a, 0);
	th_close(c);
}
END_TEST

/* exchange.declare with nowait: no declare-ok comes back, the exchange is
 * usable by the next method. */
START_TEST(declare_nowait)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	amqp_exchange_declare_t d;
	memset(&d, 0, sizeof(d));
	d.exchange = amqp_cstring_bytes(th_name(x, sizeof(x), "nowait"));
	d.type = amqp_cstring_bytes("fanout");
	d.nowait = 1;
	d.arguments = amqp_empty_table;
	ck_assert_int_eq(amqp_send_method(c, 1, AMQP_EXCHANGE_DECLARE_METHOD, &d), AMQP_STATUS_OK);
	declare(c, 1, x, "fanout", 1, 0, 0, 0);
	th_ok_last(c, "passive after nowait");
	amqp_exchange_delete_t del;
	memset(&del, 0, sizeof(del));
	del.exchange = d.exchange;
	del.nowait = 1;
	ck_assert_int_eq(amqp_send_method(c, 1, AMQP_EXCHANGE_DELETE_METHOD, &del), AMQP_STATUS_OK);
	declare(c, 1, x, "fanout", 1, 0, 0, 0);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_NOT_FOUND);
	th_close(c);
}
END_TEST

/* Exchanges are shared by all connections of the vhost. */
START_TEST(visible_to_other_connections)
{
	amqp_connection_state_t c1 = th_connect(), c2 = th_connect();
	th_channel(c1, 1);
	th_channel(c2, 1);
	char x[128];
	th_exchange(c1, 1, th_name(x, sizeof(x), "shared"), "topic");
	declare(c2, 1, x, "topic", 1, 0, 0, 0);
	th_ok_last(c2, "passive from other connection");
	th_close(c1);
	declare(c2, 1, x, "topic", 1, 0, 0, 0);
	th_ok_last(c2, "outlives its declarer");
	delete_ex(c2, 1, x, 0);
	th_close(c2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("exchange");
	TCase *tc = th_tcase("declare");
	tcase_add_test(tc, declare_each_type_and_redeclare);
	tcase_add_test(tc, declare_durable_and_auto_delete);
	tcase_add_test(tc, passive_missing_404);
	tcase_add_test(tc, redeclare_different_type_406);
	tcase_add_test(tc, redeclare_different_durable_406);
	tcase_add_test(tc, redeclare_different_auto_delete_406);
	tcase_add_test(tc, unknown_type_503);
	tcase_add_test(tc, amq_prefix_403);
	tcase_add_test(tc, predeclared_exchanges);
	tcase_add_test(tc, default_exchange_declare);
	tcase_add_test(tc, declare_nowait);
	tcase_add_test(tc, visible_to_other_connections);
	suite_add_tcase(s, tc);

	tc = th_tcase("delete");
	tcase_add_test(tc, delete_default_and_amq_403);
	tcase_add_test(tc, delete_missing_ok);
	tcase_add_test(tc, delete_if_unused);
	tcase_add_test(tc, delete_if_unused_destination_only);
	tcase_add_test(tc, delete_removes_bindings);
	tcase_add_test(tc, auto_delete_exchange);
	suite_add_tcase(s, tc);

	tc = th_tcase("bind");
	tcase_add_test(tc, internal_exchange);
	tcase_add_test(tc, exchange_to_exchange);
	tcase_add_test(tc, exchange_unbind_missing);
	tcase_add_test(tc, exchange_cycle_and_duplicates);
	tcase_add_test(tc, exchange_bind_missing_404);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
