/*
 * Issue 13 point 3: RabbitMQ's permission model.  Per user and vhost three
 * regular expressions (configure, write, read), per user, vhost and topic
 * exchange topic permissions (write, read on routing keys), set over the
 * HTTP API, checked by every AMQP method where RabbitMQ 3.10's
 * rabbit_channel checks them and by the HTTP operations on the same
 * objects, refused with RabbitMQ's codes and texts; a refusal closes only
 * its channel.  Every test makes a vhost and a user of its own.
 *
 * Against TANDEM_TEST_BROKER (the private RabbitMQ of tests/rabbitmq/,
 * started with RMQ_MANAGEMENT=1) the program needs TANDEM_TEST_HTTP_PORT,
 * the node's management port; the restart and stream-queue cases run
 * against tandemd only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "http_client.h"

static const char *const admin = "guest:guest";

static int put(const char *fmt_path, const char *body, ...) __attribute__((format(printf, 1, 3)));

/* PUT body to the path made of fmt_path and the (url-encoded by the
 * caller) arguments, as admin; the status. */
static int put(const char *fmt_path, const char *body, ...)
{
	char path[2048];
	va_list ap;
	va_start(ap, body);
	vsnprintf(path, sizeof(path), fmt_path, ap);
	va_end(ap);
	struct th_http_resp r;
	int st = th_http("PUT", path, admin, body, &r);
	th_http_free(&r);
	return st;
}

/* Sets user's permissions on vh (both raw names); the status. */
static int set_perms(const char *vh, const char *user, const char *c, const char *w, const char *r)
{
	char v[256], u[256], body[1024];
	th_urlseg(v, sizeof(v), vh);
	th_urlseg(u, sizeof(u), user);
	snprintf(body, sizeof(body), "{\"configure\":\"%s\",\"write\":\"%s\",\"read\":\"%s\"}", c,
		 w, r);
	return put("/api/permissions/%s/%s", body, v, u);
}

static int set_topic(const char *vh, const char *user, const char *x, const char *w, const char *r)
{
	char v[256], u[256], body[1024];
	th_urlseg(v, sizeof(v), vh);
	th_urlseg(u, sizeof(u), user);
	snprintf(body, sizeof(body), "{\"exchange\":\"%s\",\"write\":\"%s\",\"read\":\"%s\"}", x, w,
		 r);
	return put("/api/topic-permissions/%s/%s", body, v, u);
}

/* A vhost of the test's own (guest gets ".*" on it, as RabbitMQ's guest
 * has permissions on "/" only) and a user "pw" with the given patterns. */
static void setup(const char *vh, const char *user, const char *c, const char *w, const char *r)
{
	char v[256], u[256];
	th_urlseg(v, sizeof(v), vh);
	th_urlseg(u, sizeof(u), user);
	if (strcmp(vh, "/") != 0)
		ck_assert_int_eq(put("/api/vhosts/%s", "{}", v) / 100, 2);
	ck_assert_int_eq(set_perms(vh, "guest", ".*", ".*", ".*") / 100, 2);
	ck_assert_int_eq(put("/api/users/%s", "{\"password\":\"pw\",\"tags\":\"management\"}", u),
			 201);
	ck_assert_int_eq(set_perms(vh, user, c, w, r), 201);
}

static void teardown(const char *vh, const char *user)
{
	struct th_http_resp r;
	char path[1024], seg[256];
	if (strcmp(vh, "/") != 0) {
		th_urlseg(seg, sizeof(seg), vh);
		snprintf(path, sizeof(path), "/api/vhosts/%s", seg);
		th_http("DELETE", path, admin, NULL, &r);
		th_http_free(&r);
	}
	th_urlseg(seg, sizeof(seg), user);
	snprintf(path, sizeof(path), "/api/users/%s", seg);
	th_http("DELETE", path, admin, NULL, &r);
	th_http_free(&r);
}

/* A connection to vh as user (NULL: guest) with channel 1 open. */
static amqp_connection_state_t conn(const char *vh, const char *user)
{
	struct th_login o = { .vhost = vh, .user = user, .password = user ? "pw" : NULL };
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = th_connect_opts(&o, &r);
	th_ok(r, "login");
	th_channel(c, 1);
	return c;
}

/* r is channel ch closed with 403 and "ACCESS_REFUSED - " + the text;
 * channel ch is open again afterwards. */
static void refused(amqp_connection_state_t c, amqp_channel_t ch, amqp_rpc_reply_t r,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void refused(amqp_connection_state_t c, amqp_channel_t ch, amqp_rpc_reply_t r,
		    const char *fmt, ...)
{
	char want[1024] = "ACCESS_REFUSED - ";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(want + strlen(want), sizeof(want) - strlen(want), fmt, ap);
	va_end(ap);
	th_expect_channel_close(c, ch, r, 403);
	ck_assert_msg(strcmp(th_last_close_text(), want) == 0, "got:  %s\nwant: %s",
		      th_last_close_text(), want);
	th_channel(c, ch);
}

/* "access to KIND 'NAME' in vhost 'VH' refused for user 'U'" */
#define DENIED "access to %s '%s' in vhost '%s' refused for user '%s'"

static amqp_table_entry_t str_arg(const char *k, const char *v)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(k);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(v);
	return e;
}

static amqp_rpc_reply_t declare_q(amqp_connection_state_t c, const char *q, int passive,
				  const char *dlx)
{
	amqp_table_entry_t a[1] = { str_arg("x-dead-letter-exchange", dlx ? dlx : "") };
	amqp_table_t t = { dlx ? 1 : 0, a };
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), passive, 0, 0, 0, t);
	return amqp_get_rpc_reply(c);
}

static amqp_rpc_reply_t declare_x(amqp_connection_state_t c, const char *x, const char *type,
				  int passive, const char *ae)
{
	amqp_table_entry_t a[1] = { str_arg("alternate-exchange", ae ? ae : "") };
	amqp_table_t t = { ae ? 1 : 0, a };
	amqp_exchange_declare(c, 1, amqp_cstring_bytes(x), amqp_cstring_bytes(type), passive, 0, 0,
			      0, t);
	return amqp_get_rpc_reply(c);
}

/* basic.publish, then a synchronous method to hear of a refusal. */
static amqp_rpc_reply_t publish(amqp_connection_state_t c, const char *x, const char *rk)
{
	th_publish(c, 1, x, rk, "m");
	return th_sync(c, 1);
}

static amqp_rpc_reply_t get(amqp_connection_state_t c, const char *q)
{
	amqp_basic_get(c, 1, amqp_cstring_bytes(q), 1);
	return amqp_get_rpc_reply(c);
}

static amqp_rpc_reply_t bind_q(amqp_connection_state_t c, const char *q, const char *x,
			       const char *key, int bind)
{
	if (bind)
		amqp_queue_bind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(x),
				amqp_cstring_bytes(key), amqp_empty_table);
	else
		amqp_queue_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(x),
				  amqp_cstring_bytes(key), amqp_empty_table);
	return amqp_get_rpc_reply(c);
}

/* queue.declare and queue.delete need configure on the queue (the
 * declaration of a server-named queue: on its generated name); a passive
 * declare needs nothing. */
START_TEST(test_permissions_queue_configure)
{
	char vh[64], u[64];
	th_name(vh, sizeof(vh), "perm-q");
	th_name(u, sizeof(u), "perm-q-user");
	setup(vh, u, "^p-", ".*", ".*");
	amqp_connection_state_t a = conn(vh, NULL), c = conn(vh, u);
	th_queue(a, 1, "other", 0, 0, 0, NULL, 0);
	th_ok(declare_q(c, "p-q", 0, NULL), "declare p-q");
	refused(c, 1, declare_q(c, "other", 0, NULL), DENIED, "queue", "other", vh, u);
	refused(c, 1, declare_q(c, "new", 0, NULL), DENIED, "queue", "new", vh, u);
	th_ok(declare_q(c, "other", 1, NULL), "passive declare needs no permission");
	amqp_queue_delete(c, 1, amqp_cstring_bytes("other"), 0, 0);
	refused(c, 1, amqp_get_rpc_reply(c), DENIED, "queue", "other", vh, u);
	amqp_queue_delete(c, 1, amqp_cstring_bytes("p-q"), 0, 0);
	th_ok_last(c, "delete p-q");
	/* a server-named queue is checked under its amq.gen- name */
	th_expect_channel_close(c, 1, declare_q(c, "", 0, NULL), 403);
	ck_assert_msg(strncmp(th_last_close_text(), "ACCESS_REFUSED - access to queue 'amq.gen-",
			      41) == 0,
		      "%s", th_last_close_text());
	th_channel(c, 1);
	ck_assert_int_eq(set_perms(vh, u, "^amq\\\\.gen-", ".*", ".*"), 204);
	th_close(c);
	c = conn(vh, u);
	th_ok(declare_q(c, "", 0, NULL), "server-named");
	th_close(c);
	th_close(a);
	teardown(vh, u);
}
END_TEST

/* A new queue's x-dead-letter-exchange: read on the queue, write on the
 * dead-letter exchange. */
START_TEST(test_permissions_dead_letter_exchange)
{
	char vh[64], u[64];
	th_name(vh, sizeof(vh), "perm-dlx");
	th_name(u, sizeof(u), "perm-dlx-user");
	setup(vh, u, ".*", "^dlx-ok$", "^q-");
	amqp_connection_state_t c = conn(vh, u);
	th_ok(declare_q(c, "q-1", 0, "dlx-ok"), "declare with a writable DLX");
	refused(c, 1, declare_q(c, "q-2", 0, "dlx-no"), DENIED, "exchange", "dlx-no", vh, u);
	refused(c, 1, declare_q(c, "z-3", 0, "dlx-ok"), DENIED, "queue", "z-3", vh, u);
	th_ok(declare_q(c, "z-4", 0, NULL), "no DLX: configure is enough");
	th_close(c);
	teardown(vh, u);
}
END_TEST

/* exchange.declare and exchange.delete need configure; a new exchange's
 * alternate-exchange read on it and write on the AE; passive declares
 * nothing. */
START_TEST(test_permissions_exchange_configure)
{
	char vh[64], u[64];
	th_name(vh, sizeof(vh), "perm-x");
	th_name(u, sizeof(u), "perm-x-user");
	setup(vh, u, "^e-", "^ae$", "^e-[12]$");
	amqp_connection_state_t a = conn(vh, NULL), c = conn(vh, u);
	th_exchange(a, 1, "x-1", "direct");
	th_ok(declare_x(c, "e-1", "direct", 0, NULL), "declare e-1");
	refused(c, 1, declare_x(c, "x-1", "direct", 0, NULL), DENIED, "exchange", "x-1", vh, u);
	th_ok(declare_x(c, "x-1", "direct", 1, NULL), "passive declare needs no permission");
	th_ok(declare_x(c, "e-2", "fanout", 0, "ae"), "AE writable, e-2 readable");
	refused(c, 1, declare_x(c, "e-3", "fanout", 0, "ae"), DENIED, "exchange", "e-3", vh, u);
	refused(c, 1, declare_x(c, "x-2", "fanout", 0, NULL), DENIED, "exchange", "x-2", vh, u);
	th_ok(declare_x(c, "e-4", "fanout", 0, NULL), "no AE: configure is enough");
	ck_assert_int_eq(set_perms(vh, u, "^e-", "^nope$", ".*"), 204);
	th_close(c);
	c = conn(vh, u);
	refused(c, 1, declare_x(c, "e-5", "fanout", 0, "ae"), DENIED, "exchange", "ae", vh, u);
	amqp_exchange_delete(c, 1, amqp_cstring_bytes("x-1"), 0);
	refused(c, 1, amqp_get_rpc_reply(c), DENIED, "exchange", "x-1", vh, u);
	amqp_exchange_delete(c, 1, amqp_cstring_bytes("e-1"), 0);
	th_ok_last(c, "delete e-1");
	th_close(c);
	th_close(a);
	teardown(vh, u);
}
END_TEST

/* basic.publish needs write on the exchange (the default exchange is
 * amq.default); basic.get, basic.consume and queue.purge read on the
 * queue. */
START_TEST(test_permissions_publish_and_read)
{
	char vh[64], u[64];
	th_name(vh, sizeof(vh), "perm-pub");
	th_name(u, sizeof(u), "perm-pub-user");
	setup(vh, u, "", "^amq\\\\.direct$", "^q-r$");
	amqp_connection_state_t a = conn(vh, NULL), c = conn(vh, u);
	th_queue(a, 1, "q-r", 0, 0, 0, NULL, 0);
	th_queue(a, 1, "q-x", 0, 0, 0, NULL, 0);
	th_bind(a, 1, "q-r", "amq.direct", "k", amqp_empty_table);
	th_ok(publish(c, "amq.direct", "k"), "publish to amq.direct");
	refused(c, 1, publish(c, "amq.fanout", "k"), DENIED, "exchange", "amq.fanout", vh, u);
	refused(c, 1, publish(c, "", "q-r"), DENIED, "exchange", "amq.default", vh, u);
	amqp_message_t m;
	ck_assert_int_eq(th_get_wait(c, 1, "q-r", 1, &m, NULL, NULL, NULL, 5000), 1);
	amqp_destroy_message(&m);
	refused(c, 1, get(c, "q-x"), DENIED, "queue", "q-x", vh, u);
	amqp_basic_consume(c, 1, amqp_cstring_bytes("q-x"), amqp_empty_bytes, 0, 1, 0,
			   amqp_empty_table);
	refused(c, 1, amqp_get_rpc_reply(c), DENIED, "queue", "q-x", vh, u);
	amqp_basic_consume(c, 1, amqp_cstring_bytes("q-r"), amqp_empty_bytes, 0, 1, 0,
			   amqp_empty_table);
	th_ok_last(c, "consume q-r");
	amqp_queue_purge(c, 1, amqp_cstring_bytes("q-x"));
	refused(c, 1, amqp_get_rpc_reply(c), DENIED, "queue", "q-x", vh, u);
	amqp_queue_purge(c, 1, amqp_cstring_bytes("q-r"));
	th_ok_last(c, "purge q-r");
	/* write on amq.default lets the default exchange be used */
	ck_assert_int_eq(set_perms(vh, u, "", "^amq\\\\.default$", "^q-r$"), 204);
	th_close(c);
	c = conn(vh, u);
	th_ok(publish(c, "", "q-r"), "publish to the default exchange");
	ck_assert_int_eq(th_get_wait(c, 1, "q-r", 1, &m, NULL, NULL, NULL, 5000), 1);
	amqp_destroy_message(&m);
	th_close(c);
	th_close(a);
	teardown(vh, u);
}
END_TEST

/* queue.bind / unbind: write on the queue, read on the exchange;
 * exchange.bind / unbind: write on the destination, read on the source. */
START_TEST(test_permissions_bindings)
{
	char vh[64], u[64];
	th_name(vh, sizeof(vh), "perm-bind");
	th_name(u, sizeof(u), "perm-bind-user");
	setup(vh, u, "", "^(q-b|e-d)$", "^e-s$");
	amqp_connection_state_t a = conn(vh, NULL), c = conn(vh, u);
	th_queue(a, 1, "q-b", 0, 0, 0, NULL, 0);
	th_queue(a, 1, "q-o", 0, 0, 0, NULL, 0);
	th_exchange(a, 1, "e-s", "direct");
	th_exchange(a, 1, "e-x", "direct");
	th_exchange(a, 1, "e-d", "fanout");
	th_ok(bind_q(c, "q-b", "e-s", "k", 1), "bind q-b e-s");
	refused(c, 1, bind_q(c, "q-o", "e-s", "k", 1), DENIED, "queue", "q-o", vh, u);
	refused(c, 1, bind_q(c, "q-b", "e-x", "k", 1), DENIED, "exchange", "e-x", vh, u);
	refused(c, 1, bind_q(c, "q-b", "e-x", "k", 0), DENIED, "exchange", "e-x", vh, u);
	th_ok(bind_q(c, "q-b", "e-s", "k", 0), "unbind q-b e-s");
	/* unbinding what is missing is done, but only after the same checks */
	refused(c, 1, bind_q(c, "q-missing", "e-missing", "k", 0), DENIED, "queue", "q-missing", vh, u);
	refused(c, 1, bind_q(c, "q-b", "e-missing", "k", 0), DENIED, "exchange", "e-missing", vh, u);
	th_ok(bind_q(c, "q-b", "e-s", "k", 0), "unbind q-b e-s again");
	amqp_exchange_bind(c, 1, amqp_cstring_bytes("e-d"), amqp_cstring_bytes("e-s"),
			   amqp_cstring_bytes("k"), amqp_empty_table);
	th_ok_last(c, "exchange.bind e-d <- e-s");
	amqp_exchange_bind(c, 1, amqp_cstring_bytes("e-x"), amqp_cstring_bytes("e-s"),
			   amqp_cstring_bytes("k"), amqp_empty_table);
	refused(c, 1, amqp_get_rpc_reply(c), DENIED, "exchange", "e-x", vh, u);
	amqp_exchange_unbind(c, 1, amqp_cstring_bytes("e-d"), amqp_cstring_bytes("e-x"),
			     amqp_cstring_bytes("k"), amqp_empty_table);
	refused(c, 1, amqp_get_rpc_reply(c), DENIED, "exchange", "e-x", vh, u);
	amqp_exchange_unbind(c, 1, amqp_cstring_bytes("e-d"), amqp_cstring_bytes("e-s"),
			     amqp_cstring_bytes("k"), amqp_empty_table);
	th_ok_last(c, "exchange.unbind");
	amqp_exchange_unbind(c, 1, amqp_cstring_bytes("e-missing"), amqp_cstring_bytes("e-s"),
			     amqp_cstring_bytes("k"), amqp_empty_table);
	refused(c, 1, amqp_get_rpc_reply(c), DENIED, "exchange", "e-missing", vh, u);
	amqp_exchange_unbind(c, 1, amqp_cstring_bytes("e-d"), amqp_cstring_bytes("e-missing"),
			     amqp_cstring_bytes("k"), amqp_empty_table);
	refused(c, 1, amqp_get_rpc_reply(c), DENIED, "exchange", "e-missing", vh, u);
	th_close(c);
	th_close(a);
	teardown(vh, u);
}
END_TEST

/* Topic permissions: publishing to a topic exchange needs topic write on
 * the routing key, binding topic read on the key, {username} and {vhost}
 * expanded; no topic permission for an exchange (or another type) = no
 * check. */
START_TEST(test_permissions_topic)
{
	char vh[64], u[64], rk[128];
	th_name(vh, sizeof(vh), "perm-topic");
	th_name(u, sizeof(u), "perm-topic-user");
	setup(vh, u, ".*", ".*", ".*");
	ck_assert_int_eq(set_topic(vh, u, "amq.topic", "^{username}\\\\.", "^{username}\\\\."),
			 201);
	ck_assert_int_eq(set_topic(vh, u, "amq.direct", "", ""), 204);
	amqp_connection_state_t c = conn(vh, u);
	th_queue(c, 1, "tq", 0, 0, 0, NULL, 0);
	snprintf(rk, sizeof(rk), "%s.x", u);
	th_ok(publish(c, "amq.topic", rk), "publish own key");
	refused(c, 1, publish(c, "amq.topic", "other.x"),
		"access to topic 'other.x' in exchange 'amq.topic' in vhost '%s' refused for user '%s'",
		vh, u);
	snprintf(rk, sizeof(rk), "%s.#", u);
	th_ok(bind_q(c, "tq", "amq.topic", rk, 1), "bind own key");
	refused(c, 1, bind_q(c, "tq", "amq.topic", "#", 1),
		"access to topic '#' in exchange 'amq.topic' in vhost '%s' refused for user '%s'",
		vh, u);
	/* not a topic exchange, or no entry: no topic check */
	th_ok(publish(c, "amq.direct", "other.x"), "direct exchange");
	th_ok(publish(c, "amq.match", "other.x"), "headers exchange");
	th_exchange(c, 1, "t2", "topic");
	th_ok(publish(c, "t2", "other.x"), "a topic exchange without topic permission");
	/* {vhost} */
	ck_assert_int_eq(set_topic(vh, u, "t2", "^{vhost}$", ".*"), 204);
	th_close(c);
	c = conn(vh, u);
	th_ok(publish(c, "t2", vh), "the vhost's name");
	refused(c, 1, publish(c, "t2", "x"),
		"access to topic 'x' in exchange 't2' in vhost '%s' refused for user '%s'", vh, u);
	th_close(c);
	teardown(vh, u);
}
END_TEST

/* Patterns are searched unanchored; anchors, alternation and "" (nothing
 * at all) work as in RabbitMQ. */
START_TEST(test_permissions_regex_edges)
{
	char vh[64], u[64];
	th_name(vh, sizeof(vh), "perm-re");
	th_name(u, sizeof(u), "perm-re-user");
	setup(vh, u, "a", "^(x|y)$", "");
	amqp_connection_state_t a = conn(vh, NULL), c = conn(vh, u);
	th_queue(a, 1, "r", 0, 0, 0, NULL, 0);
	th_ok(declare_q(c, "bab", 0, NULL), "unanchored: 'a' inside");
	refused(c, 1, declare_q(c, "bcd", 0, NULL), DENIED, "queue", "bcd", vh, u);
	th_exchange(a, 1, "x", "fanout");
	th_exchange(a, 1, "xy", "fanout");
	th_ok(publish(c, "x", ""), "alternation x");
	refused(c, 1, publish(c, "xy", ""), DENIED, "exchange", "xy", vh, u);
	refused(c, 1, get(c, "r"), DENIED, "queue", "r", vh, u);
	ck_assert_int_eq(set_perms(vh, u, "^a$", "", ".*"), 204);
	th_close(c);
	c = conn(vh, u);
	refused(c, 1, declare_q(c, "bab", 0, NULL), DENIED, "queue", "bab", vh, u);
	th_ok(declare_q(c, "a", 0, NULL), "anchored a");
	refused(c, 1, publish(c, "x", ""), DENIED, "exchange", "x", vh, u);
	th_close(c);
	th_close(a);
	teardown(vh, u);
}
END_TEST

/* A refusal closes its channel only: the connection and its other
 * channels go on. */
START_TEST(test_permissions_refusal_closes_channel_only)
{
	char vh[64], u[64];
	th_name(vh, sizeof(vh), "perm-ch");
	th_name(u, sizeof(u), "perm-ch-user");
	setup(vh, u, "^mine$", ".*", "^mine$");
	amqp_connection_state_t c = conn(vh, u);
	th_channel(c, 2);
	th_ok(declare_q(c, "mine", 0, NULL), "declare");
	amqp_queue_declare(c, 2, amqp_cstring_bytes("theirs"), 0, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 2, amqp_get_rpc_reply(c), 403);
	th_publish(c, 1, "", "mine", "still here");
	amqp_message_t m;
	ck_assert_int_eq(th_get_wait(c, 1, "mine", 1, &m, NULL, NULL, NULL, 5000), 1);
	ck_assert(th_bytes_eq(m.body, "still here"));
	amqp_destroy_message(&m);
	th_channel(c, 2);
	th_ok(th_sync(c, 2), "channel 2 again");
	th_close(c);
	teardown(vh, u);
}
END_TEST

/* The HTTP API: permissions with any pattern, invalid ones refused with
 * RabbitMQ's invalid_regexp, topic permissions' resources. */
START_TEST(test_permissions_http_api)
{
	char vh[64], u[64], v[256], us[256], path[1024], want[1024];
	struct th_http_resp r;
	th_name(vh, sizeof(vh), "perm-api");
	th_name(u, sizeof(u), "perm-api-user");
	th_urlseg(v, sizeof(v), vh);
	th_urlseg(us, sizeof(us), u);
	setup(vh, u, "^q", "", "x|y");
	snprintf(path, sizeof(path), "/api/permissions/%s/%s", v, us);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
	snprintf(want, sizeof(want),
		 "{\"user\":\"%s\",\"vhost\":\"%s\",\"configure\":\"^q\",\"write\":\"\","
		 "\"read\":\"x|y\"}",
		 u, vh);
	ck_assert_msg(th_jeq(&r, "", want), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(set_perms(vh, u, "^q", "(", ".*"), 400);
	ck_assert_int_eq(th_http("PUT", path, admin,
				 "{\"configure\":\"(\",\"write\":\".*\",\"read\":\".*\"}", &r),
			 400);
	ck_assert_msg(th_jstr(&r, "error") && strcmp(th_jstr(&r, "error"), "bad_request") == 0 &&
			      th_jstr(&r, "reason/0") &&
			      strcmp(th_jstr(&r, "reason/0"), "invalid_regexp") == 0 &&
			      th_jint(&r, "reason/1/0", 0) == '(',
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(th_http("PUT", path, admin, "{\"configure\":\"\",\"write\":\"\"}", &r),
			 400);
	ck_assert_msg(th_jerror(&r, "bad_request", "[{key_missing,read}]"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(set_perms("no-such-vhost-perm", u, "", "", ""), 400);
	/* listed by user and by vhost */
	snprintf(path, sizeof(path), "/api/users/%s/permissions", us);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
	snprintf(want, sizeof(want), "[{\"user\":\"%s\",\"vhost\":\"%s\",\"configure\":\"^q\"}]", u,
		 vh);
	ck_assert_msg(th_jmatch(&r, "", want) && th_jcount(&r, "") == 1, "%s", r.body);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/vhosts/%s/permissions", v);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
	snprintf(want, sizeof(want), "{\"user\":\"%s\",\"read\":\"x|y\"}", u);
	ck_assert_msg(th_jcontains(&r, "", want) == 1, "%s", r.body);
	th_http_free(&r);

	/* topic permissions: 201 for the user's first in the vhost, then 204 */
	ck_assert_int_eq(set_topic(vh, u, "amq.topic", "^{username}", "("), 400);
	snprintf(path, sizeof(path), "/api/topic-permissions/%s/%s", v, us);
	ck_assert_int_eq(th_http("PUT", path, admin,
				 "{\"exchange\":\"amq.topic\",\"write\":\"(\",\"read\":\".*\"}",
				 &r),
			 400);
	ck_assert_msg(th_jstr(&r, "reason/1") && strcmp(th_jstr(&r, "reason/1"), "(") == 0 &&
			      strcmp(th_jstr(&r, "reason/0"), "invalid_regexp") == 0,
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(set_topic(vh, u, "amq.topic", "^{username}", ".*"), 201);
	ck_assert_int_eq(set_topic(vh, u, "amq.topic", "^{username}\\\\.", ".*"), 204);
	ck_assert_int_eq(set_topic(vh, u, "t2", "a", "b"), 204);
	ck_assert_int_eq(th_http("PUT", path, admin, "{\"write\":\"a\",\"read\":\"b\"}", &r), 400);
	ck_assert_msg(th_jerror(&r, "bad_request", "[{key_missing,exchange}]"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
	snprintf(want, sizeof(want),
		 "{\"user\":\"%s\",\"vhost\":\"%s\",\"exchange\":\"amq.topic\","
		 "\"write\":\"^{username}\\\\.\",\"read\":\".*\"}",
		 u, vh);
	ck_assert_msg(th_jcount(&r, "") == 2 && th_jcontains(&r, "", want) == 1, "%s", r.body);
	th_http_free(&r);
	const char *lists[3] = { "/api/topic-permissions", "/api/users/%s/topic-permissions",
				 "/api/vhosts/%s/topic-permissions" };
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), lists[i], i == 1 ? us : v);
		ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
		snprintf(want, sizeof(want), "{\"user\":\"%s\",\"exchange\":\"t2\",\"read\":\"b\"}",
			 u);
		ck_assert_msg(th_jcontains(&r, "", want) == 1, "%s: %s", path, r.body);
		th_http_free(&r);
	}
	/* definitions carry them */
	ck_assert_int_eq(th_http_definitions(admin, &r), 200);
	ck_assert_msg(th_jcontains(&r, "topic_permissions", want) == 1, "%s", r.body);
	snprintf(want, sizeof(want), "{\"user\":\"%s\",\"vhost\":\"%s\",\"read\":\"x|y\"}", u, vh);
	ck_assert_msg(th_jcontains(&r, "permissions", want) == 1, "%s", r.body);
	th_http_free(&r);
	/* DELETE takes them all, then 404 */
	snprintf(path, sizeof(path), "/api/topic-permissions/%s/%s", v, us);
	ck_assert_int_eq(th_http("DELETE", path, admin, NULL, &r), 204);
	th_http_free(&r);
	ck_assert_int_eq(th_http("DELETE", path, admin, NULL, &r), 404);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/permissions/%s/%s", v, us);
	ck_assert_int_eq(th_http("DELETE", path, admin, NULL, &r), 204);
	th_http_free(&r);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 404);
	th_http_free(&r);
	/* no permission entry: the vhost cannot be opened */
	struct th_login o = { .vhost = vh, .user = u, .password = "pw" };
	amqp_rpc_reply_t rep;
	amqp_connection_state_t c = th_connect_opts(&o, &rep);
	th_expect_connection_close(c, rep, 530);
	th_destroy(c);
	/* definitions import sets both */
	char body[2048];
	snprintf(body, sizeof(body),
		 "{\"permissions\":[{\"user\":\"%s\",\"vhost\":\"%s\",\"configure\":\"^i\","
		 "\"write\":\"\",\"read\":\"\"}],\"topic_permissions\":[{\"user\":\"%s\","
		 "\"vhost\":\"%s\",\"exchange\":\"amq.topic\",\"write\":\"^w\",\"read\":\"^r\"}]}",
		 u, vh, u, vh);
	ck_assert_int_eq(th_http("POST", "/api/definitions", admin, body, &r) / 100, 2);
	th_http_free(&r);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
	ck_assert_msg(th_jstr(&r, "configure") && strcmp(th_jstr(&r, "configure"), "^i") == 0, "%s",
		      r.body);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/topic-permissions/%s/%s", v, us);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
	ck_assert_msg(th_jstr(&r, "0/write") && strcmp(th_jstr(&r, "0/write"), "^w") == 0, "%s",
		      r.body);
	th_http_free(&r);
	teardown(vh, u);
}
END_TEST

/* The HTTP operations on queues, exchanges, bindings and messages check
 * the HTTP user's permissions, answered as RabbitMQ's API does. */
START_TEST(test_permissions_http_operations)
{
	char vh[64], u[64], v[256], path[1024], creds[128];
	struct th_http_resp r;
	th_name(vh, sizeof(vh), "perm-ops");
	th_name(u, sizeof(u), "perm-ops-user");
	th_urlseg(v, sizeof(v), vh);
	setup(vh, u, "^mu-", "^mu-", "^mu-");
	snprintf(creds, sizeof(creds), "%s:pw", u);
	amqp_connection_state_t a = conn(vh, NULL);
	th_queue(a, 1, "gq", 0, 0, 0, NULL, 0);
	th_exchange(a, 1, "mu-x", "direct");
	th_exchange(a, 1, "gx", "direct");
	struct {
		const char *method, *fmt, *body;
		int status;
		const char *error, *reason;
	} ops[] = {
		{ "PUT", "/api/queues/%s/other", "{\"durable\":false}", 401, "not_authorised",
		  "Access refused." },
		{ "PUT", "/api/queues/%s/mu-q", "{\"durable\":false}", 201, NULL, NULL },
		{ "DELETE", "/api/queues/%s/gq", NULL, 401, "not_authorised", "Access refused." },
		{ "DELETE", "/api/queues/%s/gq/contents", NULL, 401, "not_authorised",
		  "Access refused." },
		{ "POST", "/api/queues/%s/gq/get",
		  "{\"count\":1,\"ackmode\":\"ack_requeue_true\",\"encoding\":\"auto\"}", 401,
		  "not_authorised", "ACCESS_REFUSED - access to queue 'gq' in vhost '" },
		{ "POST", "/api/queues/%s/mu-q/get",
		  "{\"count\":1,\"ackmode\":\"ack_requeue_true\",\"encoding\":\"auto\"}", 200, NULL,
		  NULL },
		{ "POST", "/api/exchanges/%s/gx/publish",
		  "{\"properties\":{},\"routing_key\":\"x\",\"payload\":\"p\","
		  "\"payload_encoding\":\"string\"}",
		  400, "bad_request", "403 ACCESS_REFUSED - access to exchange 'gx' in vhost '" },
		{ "POST", "/api/exchanges/%s/amq.default/publish",
		  "{\"properties\":{},\"routing_key\":\"x\",\"payload\":\"p\","
		  "\"payload_encoding\":\"string\"}",
		  400, "bad_request",
		  "403 ACCESS_REFUSED - access to exchange 'amq.default' in vhost '" },
		{ "POST", "/api/exchanges/%s/mu-x/publish",
		  "{\"properties\":{},\"routing_key\":\"x\",\"payload\":\"p\","
		  "\"payload_encoding\":\"string\"}",
		  200, NULL, NULL },
		{ "PUT", "/api/exchanges/%s/x1", "{\"type\":\"direct\"}", 401, "not_authorised",
		  "Access refused." },
		{ "DELETE", "/api/exchanges/%s/gx", NULL, 401, "not_authorised",
		  "Access refused." },
		{ "POST", "/api/bindings/%s/e/gx/q/mu-q", "{\"routing_key\":\"k\"}", 401,
		  "not_authorised", "Access refused." },
		{ "POST", "/api/bindings/%s/e/mu-x/q/gq", "{\"routing_key\":\"k\"}", 401,
		  "not_authorised", "Access refused." },
		{ "POST", "/api/bindings/%s/e/mu-x/q/mu-q", "{\"routing_key\":\"k\"}", 201, NULL,
		  NULL },
		{ "DELETE", "/api/queues/%s/mu-q", NULL, 204, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		snprintf(path, sizeof(path), ops[i].fmt, v);
		int st = th_http(ops[i].method, path, creds, ops[i].body, &r);
		ck_assert_msg(st == ops[i].status, "%s %s: %d %s", ops[i].method, path, st, r.body);
		if (ops[i].error)
			ck_assert_msg(th_jerror(&r, ops[i].error, ops[i].reason), "%s %s: %s",
				      ops[i].method, path, r.body);
		th_http_free(&r);
	}
	/* an existing binding the user may not remove */
	th_bind(a, 1, "gq", "gx", "k", amqp_empty_table);
	snprintf(path, sizeof(path), "/api/bindings/%s/e/gx/q/gq/k", v);
	ck_assert_int_eq(th_http("DELETE", path, creds, NULL, &r), 401);
	ck_assert_msg(th_jerror(&r, "not_authorised", "Access refused."), "%s", r.body);
	th_http_free(&r);
	th_close(a);
	teardown(vh, u);
}
END_TEST

/* tandemd only: permissions and topic permissions set over the API survive
 * a restart. */
START_TEST(test_permissions_restart)
{
	char port[16], rk[128];
	int hp = su_free_port();
	snprintf(port, sizeof(port), "%d", hp);
	const char *args[] = { "--http-port", port, "--kafka-port", "0", NULL };
	th_start_with_args(args);
	th_http_port(hp);
	const char *u = "perm-restart-user";
	setup("/", u, "^r-", "^amq\\\\.topic$", "");
	ck_assert_int_eq(set_topic("/", u, "amq.topic", "^{username}$", ""), 201);
	th_broker_restart();
	amqp_connection_state_t c = conn("/", u);
	th_ok(declare_q(c, "r-q", 0, NULL), "configure survived");
	refused(c, 1, declare_q(c, "q", 0, NULL), DENIED, "queue", "q", "/", u);
	th_ok(publish(c, "amq.topic", u), "topic write survived");
	snprintf(rk, sizeof(rk), "%s.x", u);
	refused(c, 1, publish(c, "amq.topic", rk),
		"access to topic '%s' in exchange 'amq.topic' in vhost '/' refused for user '%s'",
		rk, u);
	th_close(c);
}
END_TEST

/* tandemd only: a stream queue's x-log-topic needs read and write on the
 * topic, for the declaring user. */
START_TEST(test_permissions_stream_topic)
{
	char u[64], q[64], t[64];
	th_name(u, sizeof(u), "perm-stream-user");
	th_name(q, sizeof(q), "sq");
	th_name(t, sizeof(t), "pt");
	setup("/", u, ".*", ".*", "^sq");
	amqp_connection_state_t c = conn("/", u);
	amqp_table_entry_t a[2] = { str_arg("x-queue-type", "stream"), str_arg("x-log-topic", t) };
	amqp_table_t args = { 2, a };
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, args);
	refused(c, 1, amqp_get_rpc_reply(c), DENIED, "topic", t, "/", u);
	ck_assert_int_eq(set_perms("/", u, ".*", ".*", "^(sq|pt)"), 204);
	th_close(c);
	c = conn("/", u);
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, args);
	th_ok_last(c, "x-log-topic readable and writable");
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "delete");
	th_close(c);
	teardown("/", u);
}
END_TEST

int main(void)
{
	const char *ext = getenv("TANDEM_TEST_BROKER");
	if (ext) {
		const char *hp = getenv("TANDEM_TEST_HTTP_PORT");
		if (!hp) {
			printf("SKIP: permissions are set over the HTTP API: set TANDEM_TEST_HTTP_PORT\n");
			return 77;
		}
		th_http_port(atoi(hp));
		th_start();
	} else {
		char port[16];
		int http_port = su_free_port();
		th_http_port(http_port);
		snprintf(port, sizeof(port), "%d", http_port);
		const char *args[] = { "--http-port", port, "--kafka-port", "0", NULL };
		th_start_with_args(args);
	}
	Suite *s = suite_create("permissions");
	TCase *tc = th_tcase("permissions");
	tcase_add_test(tc, test_permissions_queue_configure);
	tcase_add_test(tc, test_permissions_dead_letter_exchange);
	tcase_add_test(tc, test_permissions_exchange_configure);
	tcase_add_test(tc, test_permissions_publish_and_read);
	tcase_add_test(tc, test_permissions_bindings);
	tcase_add_test(tc, test_permissions_topic);
	tcase_add_test(tc, test_permissions_regex_edges);
	tcase_add_test(tc, test_permissions_refusal_closes_channel_only);
	tcase_add_test(tc, test_permissions_http_api);
	tcase_add_test(tc, test_permissions_http_operations);
	if (!ext) {
		tcase_add_test(tc, test_permissions_restart);
		tcase_add_test(tc, test_permissions_stream_topic);
	}
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
