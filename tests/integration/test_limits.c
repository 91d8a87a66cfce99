/*
 * Issue 13 point 4: RabbitMQ's limits, per vhost (max-connections,
 * max-queues) and per user (max-connections, max-channels), set over the
 * HTTP API (/api/vhost-limits, /api/user-limits), each reached and refused
 * with RabbitMQ 3.10's code and text while other clients go on being
 * served; what exists over a newly lowered limit stays.  Every test makes
 * a vhost (and a user) of its own, so limits touch no other test.
 *
 * Against TANDEM_TEST_BROKER (the private RabbitMQ of tests/rabbitmq/,
 * started with RMQ_MANAGEMENT=1) the program needs TANDEM_TEST_HTTP_PORT,
 * the node's management port; the tandem.conf and restart cases run
 * against tandemd only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "http_client.h"

static const char *const admin = "guest:guest";

/* Makes vhost vh with full permissions for guest and (user non-NULL) a
 * user of that name with password "pw" and full permissions on vh. */
static void setup(const char *vh, const char *user)
{
	struct th_http_resp r;
	char path[1024], seg[256], useg[256];

	th_urlseg(seg, sizeof(seg), vh);
	snprintf(path, sizeof(path), "/api/vhosts/%s", seg);
	ck_assert_int_eq(th_http("PUT", path, admin, "{}", &r) / 100, 2);
	th_http_free(&r);
	const char *perm = "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}";
	snprintf(path, sizeof(path), "/api/permissions/%s/guest", seg);
	ck_assert_int_eq(th_http("PUT", path, admin, perm, &r) / 100, 2);
	th_http_free(&r);
	if (!user)
		return;
	th_urlseg(useg, sizeof(useg), user);
	snprintf(path, sizeof(path), "/api/users/%s", useg);
	ck_assert_int_eq(th_http("PUT", path, admin, "{\"password\":\"pw\",\"tags\":\"\"}", &r) /
				 100,
			 2);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/permissions/%s/%s", seg, useg);
	ck_assert_int_eq(th_http("PUT", path, admin, perm, &r) / 100, 2);
	th_http_free(&r);
}

static void teardown(const char *vh, const char *user)
{
	struct th_http_resp r;
	char path[1024], seg[256];

	th_urlseg(seg, sizeof(seg), vh);
	snprintf(path, sizeof(path), "/api/vhosts/%s", seg);
	th_http("DELETE", path, admin, NULL, &r);
	th_http_free(&r);
	if (user) {
		th_urlseg(seg, sizeof(seg), user);
		snprintf(path, sizeof(path), "/api/users/%s", seg);
		th_http("DELETE", path, admin, NULL, &r);
		th_http_free(&r);
	}
}

/* PUT /api/{kind}/{owner}/{field} {"value": n} (or DELETE when n is
 * LLONG_MIN); returns the status. */
static int set_limit(const char *kind, const char *owner, const char *field, long long n)
{
	struct th_http_resp r;
	char path[1024], seg[256], body[64];

	th_urlseg(seg, sizeof(seg), owner);
	snprintf(path, sizeof(path), "/api/%s/%s/%s", kind, seg, field);
	snprintf(body, sizeof(body), "{\"value\":%lld}", n);
	int st = n == -999 ? th_http("DELETE", path, admin, NULL, &r)
			   : th_http("PUT", path, admin, body, &r);
	th_http_free(&r);
	return st;
}
#define UNSET (-999)

static amqp_connection_state_t connect_as(const char *vh, const char *user, amqp_rpc_reply_t *reply)
{
	struct th_login o = { .vhost = vh, .user = user, .password = user ? "pw" : NULL };
	return th_connect_opts(&o, reply);
}

static amqp_connection_state_t connect_ok(const char *vh, const char *user)
{
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = connect_as(vh, user, &r);
	th_ok(r, "login");
	return c;
}

/* A connection refused at connection.open with 530 and exactly text. */
static void expect_refused(const char *vh, const char *user, const char *text)
{
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = connect_as(vh, user, &r);
	th_expect_connection_close(c, r, TH_NOT_ALLOWED);
	ck_assert_msg(strcmp(th_last_close_text(), text) == 0, "got:  %s\nwant: %s",
		      th_last_close_text(), text);
	th_destroy(c);
}

/* Some other client is served meanwhile: a connection to "/" declares,
 * publishes and gets a message. */
static void others_served(void)
{
	char q[64];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "limits-other"), 0, 0, 1, NULL, 0);
	th_publish(c, 1, "", q, "still served");
	amqp_message_t m;
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 5000), 1);
	amqp_destroy_message(&m);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	th_close(c);
}

/* Vhost max-connections: the (n+1)th connection is refused at
 * connection.open, open ones keep working, one closing makes room, and
 * unsetting the limit lifts it. */
START_TEST(test_limits_vhost_max_connections)
{
	char vh[64], want[256];
	th_name(vh, sizeof(vh), "limits-vconn");
	setup(vh, NULL);
	ck_assert_int_eq(set_limit("vhost-limits", vh, "max-connections", 2), 204);
	amqp_connection_state_t a = connect_ok(vh, NULL), b = connect_ok(vh, NULL);
	snprintf(
		want, sizeof(want),
		"NOT_ALLOWED - access to vhost '%s' refused for user 'guest': connection limit (2) is reached",
		vh);
	expect_refused(vh, NULL, want);
	others_served();
	th_channel(a, 1);
	th_ok(th_sync(a, 1), "open connections keep working");
	th_close(b);
	/* the broker forgets b on its own time: poll (bounded) for the room */
	amqp_connection_state_t c = NULL;
	for (int i = 0; i < 100 && !c; i++) {
		amqp_rpc_reply_t r;
		c = connect_as(vh, NULL, &r);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			th_destroy(c);
			c = NULL;
			th_sleep_ms(50);
		}
	}
	ck_assert_msg(c != NULL, "no room after a connection closed");
	expect_refused(vh, NULL, want);
	ck_assert_int_eq(set_limit("vhost-limits", vh, "max-connections", 0), 204);
	snprintf(
		want, sizeof(want),
		"NOT_ALLOWED - access to vhost '%s' refused for user 'guest': connection limit (0) is reached",
		vh);
	expect_refused(vh, NULL, want);
	ck_assert_int_eq(set_limit("vhost-limits", vh, "max-connections", -1), 204);
	amqp_connection_state_t d = connect_ok(vh, NULL);
	th_close(d);
	ck_assert_int_eq(set_limit("vhost-limits", vh, "max-connections", UNSET), 204);
	d = connect_ok(vh, NULL);
	th_close(d);
	th_close(c);
	th_close(a);
	teardown(vh, NULL);
}
END_TEST

/* Vhost max-queues: a new queue over the limit is refused with 406 on its
 * channel; redeclaring an existing one is not; lowering the limit keeps the
 * queues there; deleting one makes room. */
START_TEST(test_limits_vhost_max_queues)
{
	char vh[64], want[256];
	th_name(vh, sizeof(vh), "limits-vq");
	setup(vh, NULL);
	ck_assert_int_eq(set_limit("vhost-limits", vh, "max-queues", 2), 204);
	amqp_connection_state_t c = connect_ok(vh, NULL);
	th_channel(c, 1);
	th_queue(c, 1, "q1", 0, 0, 0, NULL, 0);
	th_queue(c, 1, "q2", 0, 0, 0, NULL, 0);
	amqp_queue_declare(c, 1, amqp_cstring_bytes("q3"), 0, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	snprintf(
		want, sizeof(want),
		"PRECONDITION_FAILED - cannot declare queue 'q3': queue limit in vhost '%s' (2) is reached",
		vh);
	ck_assert_msg(strcmp(th_last_close_text(), want) == 0, "got:  %s\nwant: %s",
		      th_last_close_text(), want);
	/* a server-named queue counts too */
	th_channel(c, 1);
	amqp_queue_declare(c, 1, amqp_empty_bytes, 0, 0, 1, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	others_served();
	th_channel(c, 1);
	th_queue(c, 1, "q1", 0, 0, 0, NULL, 0); /* existing: no new queue */
	ck_assert_int_eq(set_limit("vhost-limits", vh, "max-queues", 1), 204);
	th_ok(th_queue_passive(c, 1, "q2", NULL, NULL), "queues over a lowered limit stay");
	amqp_queue_delete(c, 1, amqp_cstring_bytes("q1"), 0, 0);
	th_ok_last(c, "queue.delete");
	amqp_queue_declare(c, 1, amqp_cstring_bytes("q3"), 0, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_channel(c, 1);
	amqp_queue_delete(c, 1, amqp_cstring_bytes("q2"), 0, 0);
	th_ok_last(c, "queue.delete");
	th_queue(c, 1, "q3", 0, 0, 0, NULL, 0);
	th_close(c);
	teardown(vh, NULL);
}
END_TEST

/* User max-connections: counted over every vhost, refused at
 * connection.open; other users connect meanwhile. */
START_TEST(test_limits_user_max_connections)
{
	char vh[64], user[64], want[256];
	th_name(vh, sizeof(vh), "limits-uconn");
	th_name(user, sizeof(user), "limits-uconn-user");
	setup(vh, user);
	ck_assert_int_eq(set_limit("user-limits", user, "max-connections", 1), 204);
	amqp_connection_state_t a = connect_ok(vh, user);
	snprintf(
		want, sizeof(want),
		"NOT_ALLOWED - connection refused for user '%s': user connection limit (1) is reached",
		user);
	expect_refused(vh, user, want);
	amqp_connection_state_t g = connect_ok(vh, NULL); /* guest is not limited */
	others_served();
	th_channel(a, 1);
	th_ok(th_sync(a, 1), "the open connection keeps working");
	ck_assert_int_eq(set_limit("user-limits", user, "max-connections", UNSET), 204);
	amqp_connection_state_t b = connect_ok(vh, user);
	th_close(b);
	th_close(g);
	th_close(a);
	teardown(vh, user);
}
END_TEST

/* User max-channels: counted over all the user's connections; the channel
 * over the limit is refused with connection.close 530, class/method 0/0. */
START_TEST(test_limits_user_max_channels)
{
	char vh[64], user[64], want[256];
	th_name(vh, sizeof(vh), "limits-uch");
	th_name(user, sizeof(user), "limits-uch-user");
	setup(vh, user);
	ck_assert_int_eq(set_limit("user-limits", user, "max-channels", 2), 204);
	amqp_connection_state_t a = connect_ok(vh, user), b = connect_ok(vh, user);
	th_channel(a, 1);
	th_channel(b, 1);
	amqp_channel_open(b, 2);
	amqp_rpc_reply_t r = amqp_get_rpc_reply(b);
	th_expect_connection_close(b, r, TH_NOT_ALLOWED);
	snprintf(
		want, sizeof(want),
		"NOT_ALLOWED - number of channels opened for user '%s' has reached the maximum allowed "
		"user limit of (2)",
		user);
	ck_assert_msg(strcmp(th_last_close_text(), want) == 0, "got:  %s\nwant: %s",
		      th_last_close_text(), want);
	ck_assert_int_eq(r.reply.id, AMQP_CONNECTION_CLOSE_METHOD);
	amqp_connection_close_t *cl = r.reply.decoded;
	ck_assert_uint_eq(cl->class_id, 0);
	ck_assert_uint_eq(cl->method_id, 0);
	th_destroy(b);
	others_served();
	th_ok(th_sync(a, 1), "the user's other connection keeps working");
	/* b's channel goes with b, on the broker's own time: poll (bounded)
	 * with a new connection until its channel fits, then one more is over */
	amqp_connection_state_t c = NULL;
	for (int i = 0; i < 100 && !c; i++) {
		c = connect_ok(vh, user);
		if (!amqp_channel_open(c, 1)) {
			th_destroy(c);
			c = NULL;
			th_sleep_ms(50);
		}
	}
	ck_assert_msg(c != NULL, "no room after a connection closed");
	amqp_channel_open(c, 2);
	th_expect_connection_close(c, amqp_get_rpc_reply(c), TH_NOT_ALLOWED);
	ck_assert_msg(strcmp(th_last_close_text(), want) == 0, "got:  %s\nwant: %s",
		      th_last_close_text(), want);
	th_destroy(c);
	th_ok(th_sync(a, 1), "still working");
	th_close(a);
	teardown(vh, user);
}
END_TEST

/* The API's shapes and refusals, as RabbitMQ 3.10 answers them. */
START_TEST(test_limits_http_api)
{
	char vh[64], user[64], path[1024], seg[256], want[512];
	struct th_http_resp r;
	th_name(vh, sizeof(vh), "limits-api");
	th_name(user, sizeof(user), "limits-api-user");
	setup(vh, user);
	ck_assert_int_eq(set_limit("vhost-limits", vh, "max-queues", 7), 204);
	ck_assert_int_eq(set_limit("vhost-limits", vh, "max-connections", 3), 204);
	ck_assert_int_eq(set_limit("user-limits", user, "max-channels", 5), 204);
	th_urlseg(seg, sizeof(seg), vh);
	snprintf(path, sizeof(path), "/api/vhost-limits/%s", seg);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
	snprintf(want, sizeof(want),
		 "[{\"vhost\":\"%s\",\"value\":{\"max-queues\":7,\"max-connections\":3}}]", vh);
	ck_assert_msg(th_jeq(&r, "", want), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(th_http("GET", "/api/vhost-limits", admin, NULL, &r), 200);
	snprintf(want, sizeof(want),
		 "{\"vhost\":\"%s\",\"value\":{\"max-queues\":7,\"max-connections\":3}}", vh);
	ck_assert_msg(th_jcontains(&r, "", want) == 1, "%s", r.body);
	th_http_free(&r);
	th_urlseg(seg, sizeof(seg), user);
	snprintf(path, sizeof(path), "/api/user-limits/%s", seg);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
	snprintf(want, sizeof(want), "[{\"user\":\"%s\",\"value\":{\"max-channels\":5}}]", user);
	ck_assert_msg(th_jeq(&r, "", want), "%s", r.body);
	th_http_free(&r);
	/* an unknown limit, a body without value, a value that is no number */
	snprintf(path, sizeof(path), "/api/user-limits/%s/max-bogus", seg);
	ck_assert_int_eq(th_http("PUT", path, admin, "{\"value\":1}", &r), 400);
	ck_assert_msg(th_jerror(&r, "bad_request",
				"Unrecognised terms [{<<\"max-bogus\">>,1}] in user-limits"),
		      "%s", r.body);
	th_http_free(&r);
	th_urlseg(seg, sizeof(seg), vh);
	snprintf(path, sizeof(path), "/api/vhost-limits/%s/max-queues", seg);
	ck_assert_int_eq(th_http("PUT", path, admin, "{\"valu\":1}", &r), 400);
	ck_assert_msg(th_jerror(&r, "bad_request", "[{key_missing,value}]"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(th_http("PUT", path, admin, "{\"value\":\"x\"}", &r), 400);
	ck_assert_msg(th_jerror(&r, "bad_request", "Validation failed"), "%s", r.body);
	th_http_free(&r);
	/* an unknown vhost; a deleted limit is gone from the listing */
	ck_assert_int_eq(th_http("PUT", "/api/vhost-limits/limits-no-such-vhost/max-queues", admin,
				 "{\"value\":1}", &r),
			 404);
	th_http_free(&r);
	ck_assert_int_eq(set_limit("vhost-limits", vh, "max-queues", UNSET), 204);
	snprintf(path, sizeof(path), "/api/vhost-limits/%s", seg);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
	snprintf(want, sizeof(want), "[{\"vhost\":\"%s\",\"value\":{\"max-connections\":3}}]", vh);
	ck_assert_msg(th_jeq(&r, "", want), "%s", r.body);
	th_http_free(&r);
	teardown(vh, user);
}
END_TEST

/* Definitions: vhost limits as RabbitMQ 3.10 exports them (a "parameters"
 * entry of component "vhost-limits"), user limits as users[].limits; an
 * import sets both; deleting the vhost and the user drops their limits. */
START_TEST(test_limits_definitions)
{
	char vh[64], user[64], want[512], body[1024];
	struct th_http_resp r;
	th_name(vh, sizeof(vh), "limits-defs");
	th_name(user, sizeof(user), "limits-defs-user");
	setup(vh, user);
	ck_assert_int_eq(set_limit("vhost-limits", vh, "max-queues", 9), 204);
	ck_assert_int_eq(set_limit("user-limits", user, "max-channels", 4), 204);
	ck_assert_int_eq(th_http_definitions(admin, &r), 200);
	snprintf(want, sizeof(want),
		 "{\"value\":{\"max-queues\":9},\"vhost\":\"%s\",\"component\":\"vhost-limits\","
		 "\"name\":\"limits\"}",
		 vh);
	ck_assert_msg(th_jcontains(&r, "parameters", want) == 1, "%s", r.body);
	snprintf(want, sizeof(want), "{\"name\":\"%s\",\"limits\":{\"max-channels\":4}}", user);
	ck_assert_msg(th_jcontains(&r, "users", want) == 1, "%s", r.body);
	char path[128];
	snprintf(path, sizeof(path), "users/[name=%s]/password_hash", user);
	const char *hash = th_jstr(&r, path);
	ck_assert_ptr_nonnull(hash);
	snprintf(body, sizeof(body),
		 "{\"users\":[{\"name\":\"%s\",\"password_hash\":\"%s\",\"tags\":\"\","
		 "\"hashing_algorithm\":\"rabbit_password_hashing_sha256\","
		 "\"limits\":{\"max-connections\":2,\"max-channels\":6}}],"
		 "\"parameters\":[{\"value\":{\"max-connections\":5},\"vhost\":\"%s\","
		 "\"component\":\"vhost-limits\",\"name\":\"limits\"}]}",
		 user, hash, vh);
	th_http_free(&r);
	ck_assert_int_eq(th_http("POST", "/api/definitions", admin, body, &r) / 100, 2);
	th_http_free(&r);
	char seg[256], p2[1024];
	th_urlseg(seg, sizeof(seg), vh);
	snprintf(p2, sizeof(p2), "/api/vhost-limits/%s", seg);
	ck_assert_int_eq(th_http("GET", p2, admin, NULL, &r), 200);
	ck_assert_msg(th_jmatch(&r, "0/value", "{\"max-connections\":5}") &&
			      th_jint(&r, "0/value/max-connections", 0) == 5,
		      "%s", r.body);
	th_http_free(&r);
	th_urlseg(seg, sizeof(seg), user);
	snprintf(p2, sizeof(p2), "/api/user-limits/%s", seg);
	ck_assert_int_eq(th_http("GET", p2, admin, NULL, &r), 200);
	ck_assert_msg(th_jeq(&r, "0/value", "{\"max-channels\":6,\"max-connections\":2}"), "%s",
		      r.body);
	th_http_free(&r);
	teardown(vh, user);
	ck_assert_int_eq(th_http("GET", "/api/vhost-limits", admin, NULL, &r), 200);
	snprintf(want, sizeof(want), "{\"vhost\":\"%s\"}", vh);
	ck_assert_msg(th_jcontains(&r, "", want) == 0, "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(th_http("GET", "/api/user-limits", admin, NULL, &r), 200);
	snprintf(want, sizeof(want), "{\"user\":\"%s\"}", user);
	ck_assert_msg(th_jcontains(&r, "", want) == 0, "%s", r.body);
	th_http_free(&r);
}
END_TEST

/* tandem.conf keys (tandemd only): vhost_limits.VHOST.FIELD and
 * user_limits.USER.FIELD, listed by the API; limits set over the API
 * survive a restart. */
START_TEST(test_limits_config_and_restart)
{
	char port[16];
	int hp = su_free_port();
	snprintf(port, sizeof(port), "%d", hp);
	const char *args[] = { "--http-port",
			       port,
			       "--kafka-port",
			       "0",
			       "--vhost-limits./.max-queues",
			       "1",
			       "--user-limits.guest.max-channels",
			       "3",
			       NULL };
	th_start_with_args(args);
	th_http_port(hp);
	struct th_http_resp r;
	ck_assert_int_eq(th_http("GET", "/api/vhost-limits/%2F", admin, NULL, &r), 200);
	ck_assert_msg(th_jeq(&r, "", "[{\"vhost\":\"/\",\"value\":{\"max-queues\":1}}]"), "%s",
		      r.body);
	th_http_free(&r);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, "only", 1, 0, 0, NULL, 0);
	amqp_queue_declare(c, 1, amqp_cstring_bytes("second"), 0, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_close(c);
	ck_assert_int_eq(set_limit("vhost-limits", "/", "max-connections", 1), 204);
	ck_assert_int_eq(set_limit("user-limits", "guest", "max-channels", UNSET), 204);
	th_broker_restart();
	c = th_connect();
	expect_refused(
		"/", NULL,
		"NOT_ALLOWED - access to vhost '/' refused for user 'guest': connection limit (1) is reached");
	for (uint16_t ch = 1; ch <= 4; ch++) /* the removed channel limit stays removed */
		th_channel(c, ch);
	amqp_queue_declare(c, 1, amqp_cstring_bytes("second"), 0, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_close(c);
}
END_TEST

static int http_port;

int main(void)
{
	const char *ext = getenv("TANDEM_TEST_BROKER");
	if (ext) {
		const char *hp = getenv("TANDEM_TEST_HTTP_PORT");
		if (!hp) {
			printf("SKIP: limits are set over the HTTP API: set TANDEM_TEST_HTTP_PORT\n");
			return 77;
		}
		th_http_port(atoi(hp));
		th_start();
	} else {
		char port[16];
		http_port = su_free_port();
		th_http_port(http_port);
		snprintf(port, sizeof(port), "%d", http_port);
		const char *args[] = { "--http-port", port, "--kafka-port", "0", NULL };
		th_start_with_args(args);
	}
	Suite *s = suite_create("limits");
	TCase *tc = th_tcase("limits");
	tcase_add_test(tc, test_limits_vhost_max_connections);
	tcase_add_test(tc, test_limits_vhost_max_queues);
	tcase_add_test(tc, test_limits_user_max_connections);
	tcase_add_test(tc, test_limits_user_max_channels);
	tcase_add_test(tc, test_limits_http_api);
	tcase_add_test(tc, test_limits_definitions);
	if (!ext)
		tcase_add_test(tc, test_limits_config_and_restart);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
