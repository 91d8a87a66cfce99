/*
 * Authorization and request hardening of the HTTP API (issue 11, findings
 * 6, 7 and the /metrics login of 4), against a real tandemd the harness
 * starts: vhost grants name one vhost whatever it holds ("x,prod", "*");
 * connections are seen and closed as RabbitMQ's is_authorized_user allows;
 * another connection's exclusive queue gives nothing over HTTP; bodies must
 * be JSON (415), Host must be one the listener answers and Origin must be
 * Host (403: DNS rebinding, cross-site requests); the JSON reader refuses
 * invalid UTF-8, lone surrogates and NUL in names (400 not_json);
 * metrics_auth puts /metrics behind a monitoring login.
 *
 * Depends on: Check, rabbitmq-c, POSIX sockets, the harness.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "http_client.h"

static int http_port;

static const char all_perms[] = "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}";

static int has(const char *s, const char *needle)
{
	return strstr(s, needle) != NULL;
}

/* One request whose status must be want; the reply is dropped. */
static void expect(const char *method, const char *path, const char *creds, const char *body, int want)
{
	struct th_http_resp r;
	th_http(method, path, creds, body, &r);
	ck_assert_msg(r.status == want, "%s %s as %s: %d, not %d: %s", method, path, creds ? creds : "-",
		      r.status, want, r.body);
	th_http_free(&r);
}

/* 1 when user:password may open vhost over AMQP. */
static int can_open(const char *user, const char *password, const char *vhost)
{
	struct th_login lo = { .vhost = vhost, .user = user, .password = password };
	amqp_rpc_reply_t rep;
	amqp_connection_state_t c = th_connect_opts(&lo, &rep);
	int ok = rep.reply_type == AMQP_RESPONSE_NORMAL;
	if (ok)
		th_close(c);
	else
		th_destroy(c);
	return ok;
}

/* /api/connections/NAME of an AMQP connection of this process. */
static void conn_path(amqp_connection_state_t c, char *path, size_t cap)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(getsockname(amqp_get_sockfd(c), (struct sockaddr *)&sa, &sl), 0);
	char name[128], enc[400];
	snprintf(name, sizeof(name), "127.0.0.1:%d -> 127.0.0.1:%d", ntohs(sa.sin_port), th_port());
	th_urlseg(enc, sizeof(enc), name);
	snprintf(path, cap, "/api/connections/%s", enc);
}

static amqp_connection_state_t connect_as(const char *user, const char *password)
{
	struct th_login lo = { .user = user, .password = password };
	amqp_rpc_reply_t rep;
	amqp_connection_state_t c = th_connect_opts(&lo, &rep);
	ck_assert_msg(rep.reply_type == AMQP_RESPONSE_NORMAL, "login of %s failed", user);
	th_channel(c, 1);
	return c;
}

/* ---- finding 6: grants ---------------------------------------------------- */

/* A grant on vhost "x,prod" gives that vhost, not "x" and "prod". */
START_TEST(test_authz_grant_comma_vhost)
{
	expect("PUT", "/api/vhosts/x%2Cprod", "guest:guest", NULL, 201);
	expect("PUT", "/api/vhosts/prod", "guest:guest", NULL, 201);
	expect("PUT", "/api/vhosts/x", "guest:guest", NULL, 201);
	expect("PUT", "/api/users/gina", "guest:guest", "{\"password\":\"ginapw\",\"tags\":\"management\"}", 201);
	expect("PUT", "/api/permissions/x%2Cprod/gina", "guest:guest", all_perms, 201);
	ck_assert_msg(can_open("gina", "ginapw", "x,prod"), "gina may open x,prod");
	ck_assert_msg(!can_open("gina", "ginapw", "prod"), "a grant on x,prod opened prod");
	ck_assert_msg(!can_open("gina", "ginapw", "x"), "a grant on x,prod opened x");
	expect("GET", "/api/permissions/prod/gina", "guest:guest", NULL, 404);
	expect("GET", "/api/permissions/x%2Cprod/gina", "guest:guest", NULL, 200);
	expect("GET", "/api/queues/prod", "gina:ginapw", NULL, 404);
	struct th_http_resp r;
	th_http("GET", "/api/vhosts", "gina:ginapw", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(th_jnode(&r, "[name=x,prod]") >= 0 && th_jnode(&r, "[name=prod]") < 0 &&
			      th_jnode(&r, "[name=x]") < 0,
		      "%s", r.body);
	th_http_free(&r);
	/* granting prod itself, then revoking it, leaves x,prod alone */
	expect("PUT", "/api/permissions/prod/gina", "guest:guest", all_perms, 201);
	expect("DELETE", "/api/permissions/prod/gina", "guest:guest", NULL, 204);
	ck_assert(!can_open("gina", "ginapw", "prod"));
	ck_assert(can_open("gina", "ginapw", "x,prod"));
}
END_TEST

/* A grant on vhost "*" gives that vhost only, and can be revoked. */
START_TEST(test_authz_grant_star_vhost)
{
	expect("PUT", "/api/vhosts/%2A", "guest:guest", NULL, 201);
	expect("PUT", "/api/vhosts/star-other", "guest:guest", NULL, 201);
	expect("PUT", "/api/users/hank", "guest:guest", "{\"password\":\"hankpw\",\"tags\":\"management\"}", 201);
	expect("PUT", "/api/permissions/%2A/hank", "guest:guest", all_perms, 201);
	ck_assert_msg(can_open("hank", "hankpw", "*"), "hank may open *");
	ck_assert_msg(!can_open("hank", "hankpw", "star-other"), "a grant on * opened every vhost");
	ck_assert_msg(!can_open("hank", "hankpw", "/"), "a grant on * opened /");
	expect("GET", "/api/permissions/star-other/hank", "guest:guest", NULL, 404);
	expect("GET", "/api/permissions/%2A/hank", "guest:guest", NULL, 200);
	expect("DELETE", "/api/permissions/%2A/hank", "guest:guest", NULL, 204);
	ck_assert_msg(!can_open("hank", "hankpw", "*"), "the grant on * was not revoked");
	expect("GET", "/api/permissions/%2A/hank", "guest:guest", NULL, 404);
}
END_TEST

/* Both kinds of grant keep their meaning in the definitions log. */
START_TEST(test_authz_grants_survive_restart)
{
	char port[16];
	http_port = su_free_port();
	th_http_port(http_port);
	snprintf(port, sizeof(port), "%d", http_port);
	const char *args[] = { "--http-port", port, "--kafka-port", "0", NULL };
	th_start_with_args(args);
	expect("PUT", "/api/vhosts/a%2Cb", "guest:guest", NULL, 201);
	expect("PUT", "/api/vhosts/b", "guest:guest", NULL, 201);
	expect("PUT", "/api/vhosts/%2A", "guest:guest", NULL, 201);
	expect("PUT", "/api/users/ivy", "guest:guest", "{\"password\":\"ivypw\",\"tags\":\"\"}", 201);
	expect("PUT", "/api/permissions/a%2Cb/ivy", "guest:guest", all_perms, 201);
	expect("PUT", "/api/permissions/%2A/ivy", "guest:guest", all_perms, 201);
	th_broker_restart();
	ck_assert(can_open("ivy", "ivypw", "a,b"));
	ck_assert(can_open("ivy", "ivypw", "*"));
	ck_assert_msg(!can_open("ivy", "ivypw", "b"), "after a restart, a grant on a,b opened b");
	ck_assert_msg(!can_open("ivy", "ivypw", "/"), "after a restart, a grant on * opened /");
	expect("DELETE", "/api/permissions/%2A/ivy", "guest:guest", NULL, 204);
	th_broker_restart();
	ck_assert(!can_open("ivy", "ivypw", "*"));
	ck_assert(can_open("ivy", "ivypw", "a,b"));
}
END_TEST

/* ---- finding 6: connections ------------------------------------------------ */

/* A management user closes its own connections only (RabbitMQ's
 * is_authorized_user: 401 "User not authorised to access object"), and
 * sees only its own; monitors see all; administrators close all. */
START_TEST(test_authz_close_other_users_connection)
{
	amqp_connection_state_t mine = connect_as("mgr", "mgrpw");
	amqp_connection_state_t theirs = connect_as("mgr2", "mgr2pw");
	char mp[512], tp[512];
	conn_path(mine, mp, sizeof(mp));
	conn_path(theirs, tp, sizeof(tp));
	struct th_http_resp r;
	th_http("DELETE", tp, "mgr:mgrpw", NULL, &r);
	ck_assert_msg(r.status == 401 && th_jeq(&r, "", "{\"error\":\"not_authorised\",\"reason\":\"User not "
						      "authorised to access object\"}"),
		      "%d %s", r.status, r.body);
	th_http_free(&r);
	expect("DELETE", tp, "watcher:watchpw", NULL, 401); /* monitors look, do not close */
	th_ok(th_sync(theirs, 1), "the other user's connection is still open");
	expect("GET", tp, "mgr:mgrpw", NULL, 401);
	expect("GET", tp, "watcher:watchpw", NULL, 200);
	expect("GET", mp, "mgr:mgrpw", NULL, 200);
	th_http("GET", "/api/connections", "mgr:mgrpw", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(th_jnode(&r, "[user=mgr]") >= 0 && th_jnode(&r, "[user=mgr2]") < 0, "%s", r.body);
	th_http_free(&r);
	th_http("GET", "/api/channels", "mgr:mgrpw", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(th_jnode(&r, "[user=mgr]") >= 0 && th_jnode(&r, "[user=mgr2]") < 0, "%s", r.body);
	th_http_free(&r);
	th_http("GET", "/api/connections", "watcher:watchpw", NULL, &r);
	ck_assert_msg(th_jnode(&r, "[user=mgr]") >= 0 && th_jnode(&r, "[user=mgr2]") >= 0, "%s", r.body);
	th_http_free(&r);

	expect("DELETE", mp, "mgr:mgrpw", NULL, 204);
	th_expect_connection_close(mine, th_sync(mine, 1), TH_CONNECTION_FORCED);
	th_destroy(mine);
	expect("DELETE", tp, "guest:guest", NULL, 204);
	th_expect_connection_close(theirs, th_sync(theirs, 1), TH_CONNECTION_FORCED);
	th_destroy(theirs);
}
END_TEST

/* ---- finding 6: exclusive queues ------------------------------------------- */

/* Over HTTP nothing owns an exclusive queue: get answers RabbitMQ's 400
 * "405 RESOURCE_LOCKED - ...", purge its 400, and the messages stay. */
START_TEST(test_authz_get_other_connections_exclusive_queue)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[64], path[160];
	th_name(q, sizeof(q), "excl");
	th_queue(c, 1, q, 0, 1, 0, NULL, 0);
	th_publish(c, 1, "", q, "secret");
	th_wait_count(c, 1, q, 1, 5000);
	static const char get[] = "{\"count\":5,\"ackmode\":\"ack_requeue_false\",\"encoding\":\"auto\"}";
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s/get", q);
	struct th_http_resp r;
	static const char *const who[] = { "mgr:mgrpw", "guest:guest" };
	for (int i = 0; i < 2; i++) {
		th_http("POST", path, who[i], get, &r);
		char want[400];
		snprintf(want, sizeof(want), "405 RESOURCE_LOCKED - cannot obtain exclusive access to locked "
			 "queue '%s' in vhost '/'.", q);
		ck_assert_msg(r.status == 400 && th_jerror(&r, "bad_request", want) && !has(r.body, "secret"),
			      "%s: %d %s", who[i], r.status, r.body);
		th_http_free(&r);
	}
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s/contents", q);
	th_http("DELETE", path, "mgr:mgrpw", NULL, &r);
	ck_assert_msg(r.status == 400 && th_jerror(&r, "bad_request", "cannot obtain exclusive access to locked queue"),
		      "%d %s", r.status, r.body);
	th_http_free(&r);
	amqp_message_t m;
	ck_assert_msg(th_get(c, 1, q, 1, &m, NULL, NULL, NULL), "the message was taken over HTTP");
	ck_assert(th_bytes_eq(m.body, "secret"));
	amqp_destroy_message(&m);
	th_close(c);
}
END_TEST

/* ---- finding 7: request hardening ------------------------------------------ */

/* Bodies that cross-site forms can send (text/plain, urlencoded, multipart,
 * or none named) are refused with 415 and change nothing. */
START_TEST(test_http_text_plain_body_refused)
{
	static const char *const types[] = {
		"Content-Type: text/plain\r\n",
		"Content-Type: application/x-www-form-urlencoded\r\n",
		"Content-Type: multipart/form-data; boundary=x\r\n",
		"Content-Type: application/jsonx\r\n",
		"",
	};
	char q[64], path[160], head[256];
	th_name(q, sizeof(q), "ctype");
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	struct th_http_resp r;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(head, sizeof(head), "Host: localhost\r\n%s", types[i]);
		th_http_with("PUT", path, "guest:guest", head, "{\"durable\":false}", &r);
		ck_assert_msg(r.status == 415 && th_jerror(&r, "unsupported_media_type", ""), "%s: %d %s",
			      types[i], r.status, r.body);
		th_http_free(&r);
	}
	expect("GET", path, "guest:guest", NULL, 404);
	/* JSON, with parameters, goes through; a body-less DELETE needs no type */
	th_http_with("PUT", path, "guest:guest", "Host: localhost\r\nContent-Type: Application/JSON; charset=utf-8\r\n",
		     "{\"durable\":false}", &r);
	ck_assert_int_eq(r.status, 201);
	th_http_free(&r);
	th_http_with("DELETE", path, "guest:guest", "Host: localhost\r\n", NULL, &r);
	ck_assert_int_eq(r.status, 204);
	th_http_free(&r);
}
END_TEST

/* DNS rebinding: a Host the listener does not answer to gets 403, on the
 * API, /metrics and the console alike. */
START_TEST(test_http_foreign_host_refused)
{
	static const char *const paths[] = { "/api/overview", "/metrics", "/" };
	struct th_http_resp r;
	for (size_t i = 0; i < 3; i++) {
		th_http_with("GET", paths[i], "guest:guest", "Host: evil.example:15672\r\n", NULL, &r);
		ck_assert_msg(r.status == 403 && th_jerror(&r, "forbidden", "Host 'evil.example:15672' is not allowed"),
			      "%s: %d %s", paths[i],
			      r.status, r.body);
		th_http_free(&r);
	}
	th_http_with("GET", "/api/overview", "guest:guest", "Host: localhost.evil.example\r\n", NULL, &r);
	ck_assert_int_eq(r.status, 403);
	th_http_free(&r);
	char ok[4][96];
	snprintf(ok[0], sizeof(ok[0]), "Host: localhost:%d\r\n", http_port);
	snprintf(ok[1], sizeof(ok[1]), "Host: 127.0.0.1:%d\r\n", http_port);
	snprintf(ok[2], sizeof(ok[2]), "Host: [::1]:%d\r\n", http_port);
	snprintf(ok[3], sizeof(ok[3]), "Host: 192.0.2.7\r\n");
	for (size_t i = 0; i < 4; i++) {
		th_http_with("GET", "/api/overview", "guest:guest", ok[i], NULL, &r);
		ck_assert_msg(r.status == 200, "%s: %d %s", ok[i], r.status, r.body);
		th_http_free(&r);
	}
}
END_TEST

/* http_allowed_hosts names the host names a deployment is reached by. */
START_TEST(test_http_allowed_hosts)
{
	char port[16];
	http_port = su_free_port();
	th_http_port(http_port);
	snprintf(port, sizeof(port), "%d", http_port);
	const char *args[] = { "--http-port", port, "--kafka-port", "0", "--http-allowed-hosts",
			       "broker.example, mq.example", NULL };
	th_start_with_args(args);
	struct th_http_resp r;
	th_http_with("GET", "/api/overview", "guest:guest", "Host: BROKER.example:15672\r\n", NULL, &r);
	ck_assert_msg(r.status == 200, "%d %s", r.status, r.body);
	th_http_free(&r);
	th_http_with("GET", "/metrics", NULL, "Host: mq.example\r\n", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	th_http_free(&r);
	th_http_with("GET", "/api/overview", "guest:guest", "Host: evil.example\r\n", NULL, &r);
	ck_assert_int_eq(r.status, 403);
	th_http_free(&r);
}
END_TEST

/* CSRF: a request that changes something and names an Origin other than
 * Host is refused (403) and changes nothing; reads are not. */
START_TEST(test_http_origin_mismatch_refused)
{
	char q[64], path[160], head[256];
	th_name(q, sizeof(q), "origin");
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	static const char *const bad[] = { "http://evil.example", "null", "http://localhost:1",
					   "file://", "http://localhost.evil.example" };
	struct th_http_resp r;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(head, sizeof(head), "Host: localhost:%d\r\nContent-Type: application/json\r\nOrigin: %s\r\n",
			 http_port, bad[i]);
		th_http_with("PUT", path, "guest:guest", head, "{\"durable\":false}", &r);
		ck_assert_msg(r.status == 403 && th_jerror(&r, "forbidden", "cross-origin request refused"), "%s: %d %s",
			      bad[i], r.status,
			      r.body);
		th_http_free(&r);
	}
	expect("GET", path, "guest:guest", NULL, 404);
	snprintf(head, sizeof(head), "Host: localhost:%d\r\nOrigin: http://evil.example\r\n", http_port);
	th_http_with("GET", "/api/overview", "guest:guest", head, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	th_http_free(&r);
	/* the console's own pages: same origin */
	snprintf(head, sizeof(head), "Host: localhost:%d\r\nContent-Type: application/json\r\n"
		 "Origin: http://LOCALHOST:%d\r\n", http_port, http_port);
	th_http_with("PUT", path, "guest:guest", head, "{\"durable\":false}", &r);
	ck_assert_msg(r.status == 201, "%d %s", r.status, r.body);
	th_http_free(&r);
	snprintf(head, sizeof(head), "Host: localhost:%d\r\nOrigin: http://localhost:%d\r\n", http_port, http_port);
	th_http_with("DELETE", path, "guest:guest", head, NULL, &r);
	ck_assert_int_eq(r.status, 204);
	th_http_free(&r);
}
END_TEST

/* Member names that are not UTF-8, hold a lone surrogate or NUL: 400
 * not_json, as RabbitMQ answers a body it cannot decode; nothing made. */
START_TEST(test_http_json_bad_names_refused)
{
	static const char *const bodies[] = {
		"{\"durable\":false,\"a\xff\":1}",
		"{\"durable\":false,\"\\ud800\":1}",
		"{\"durable\":false,\"\\udc00x\":1}",
		"{\"durable\":false,\"a\\u0000\":1}",
		"{\"durable\":false,\"arguments\":{\"x-\\u0000\":1}}",
		"{\"durable\":false,\"arguments\":{\"x-a\":\"\xc0\xaf\"}}",
	};
	char q[64], path[160];
	th_name(q, sizeof(q), "badjson");
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	struct th_http_resp r;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		th_http("PUT", path, "guest:guest", bodies[i], &r);
		ck_assert_msg(r.status == 400 && th_jeq(&r, "", "{\"error\":\"bad_request\",\"reason\":\"not_json\"}"),
			      "body %zu: %d %s", i, r.status, r.body);
		th_http_free(&r);
	}
	expect("GET", path, "guest:guest", NULL, 404);
}
END_TEST

/* ---- finding 4: /metrics login --------------------------------------------- */

/* Open by default, as RabbitMQ's Prometheus endpoint. */
START_TEST(test_metrics_open_by_default)
{
	expect("GET", "/metrics", NULL, NULL, 200);
}
END_TEST

/* metrics_auth = true: a monitoring or administrator login, else 401. */
START_TEST(test_metrics_auth)
{
	char port[16];
	http_port = su_free_port();
	th_http_port(http_port);
	snprintf(port, sizeof(port), "%d", http_port);
	const char *args[] = { "--http-port", port, "--kafka-port", "0", "--metrics-auth", "true",
			       "--users.mgr.password", "mgrpw", "--users.mgr.tags", "management",
			       "--users.watcher.password", "watchpw", "--users.watcher.tags", "monitoring", NULL };
	th_start_with_args(args);
	struct th_http_resp r;
	th_http("GET", "/metrics", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_msg(has(r.head, "WWW-Authenticate: Basic realm=\"RabbitMQ Prometheus\""), "%s", r.head);
	ck_assert_msg(!has(r.body, "tandem_"), "%s", r.body);
	th_http_free(&r);
	expect("GET", "/metrics", "guest:wrong", NULL, 401);
	th_http("GET", "/metrics", "mgr:mgrpw", NULL, &r);
	ck_assert_msg(r.status == 401 && th_jeq(&r, "", "{\"error\":\"not_authorised\",\"reason\":\"Not monitor user\"}"),
		      "%d %s", r.status, r.body);
	th_http_free(&r);
	th_http("GET", "/metrics", "guest:guest", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(has(r.body, "# TYPE"), "%s", r.body);
	th_http_free(&r);
	expect("GET", "/metrics", "watcher:watchpw", NULL, 200);
}
END_TEST

int main(void)
{
	if (getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: the HTTP authorization test needs a tandemd of its own\n");
		return 77;
	}
	char port[16];
	http_port = su_free_port();
	th_http_port(http_port);
	snprintf(port, sizeof(port), "%d", http_port);
	const char *args[] = { "--http-port", port, "--kafka-port", "0",
			       "--users.mgr.password", "mgrpw", "--users.mgr.tags", "management",
			       "--users.mgr2.password", "mgr2pw", "--users.mgr2.tags", "management",
			       "--users.watcher.password", "watchpw", "--users.watcher.tags", "monitoring", NULL };
	th_start_with_args(args);
	Suite *s = suite_create("http_authz");
	TCase *tc = th_tcase("authz");
	tcase_add_test(tc, test_authz_grant_comma_vhost);
	tcase_add_test(tc, test_authz_grant_star_vhost);
	tcase_add_test(tc, test_authz_grants_survive_restart);
	tcase_add_test(tc, test_authz_close_other_users_connection);
	tcase_add_test(tc, test_authz_get_other_connections_exclusive_queue);
	tcase_add_test(tc, test_http_text_plain_body_refused);
	tcase_add_test(tc, test_http_foreign_host_refused);
	tcase_add_test(tc, test_http_allowed_hosts);
	tcase_add_test(tc, test_http_origin_mismatch_refused);
	tcase_add_test(tc, test_http_json_bad_names_refused);
	tcase_add_test(tc, test_metrics_open_by_default);
	tcase_add_test(tc, test_metrics_auth);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
