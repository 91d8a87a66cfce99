/*
 * The HTTP management API and /metrics against a real tandemd (started by
 * the harness with --http-port on a free port), driven with the tests'
 * HTTP client (evhttp's) and cross-checked over AMQP with rabbitmq-c: what
 * is declared over HTTP is seen over AMQP and the other way round.
 * Statuses, field names and error shapes are RabbitMQ 3.10's management
 * API; JSON replies are checked parsed (http_client.h's th_j* readers).
 *
 * Depends on: Check, rabbitmq-c, libevent, POSIX sockets, the harness.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "http_client.h"
#include "parallel.h"

static int http_port, kafka_port;

/* Request as guest; returns the status, body in *r. */
static int req_guest(const char *method, const char *path, const char *body, struct th_http_resp *r)
{
	th_http(method, path, "guest:guest", body, r);
	return r->status;
}

static int has(const char *s, const char *needle)
{
	return strstr(s, needle) != NULL;
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(test_auth_required)
{
	struct th_http_resp r;
	th_http("GET", "/api/overview", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_msg(has(r.head, "WWW-Authenticate: Basic"), "head: %s", r.head);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"not_authorized\",\"reason\":\"Login failed\"}"), "%s", r.body);
	th_http_free(&r);
	th_http("GET", "/api/overview", "guest:wrong", NULL, &r);
	ck_assert_int_eq(r.status, 401);
	th_http_free(&r);
	th_http("GET", "/api/overview", "nobody:guest", NULL, &r);
	ck_assert_int_eq(r.status, 401);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/whoami", NULL, &r), 200);
	ck_assert_msg(th_jeq(&r, "", "{\"name\":\"guest\",\"tags\":[\"administrator\"]}"), "%s", r.body);
	th_http_free(&r);
	/* a user without a management tag may use AMQP but not the API */
	th_http("GET", "/api/overview", "plain:plainpw", NULL, &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"not_authorised\",\"reason\":\"Not management user\"}"), "%s",
		      r.body);
	th_http_free(&r);
	th_http("GET", "/api/whoami", "watcher:watchpw", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(th_jmatch(&r, "tags", "[\"monitoring\"]"), "%s", r.body);
	th_http_free(&r);
	/* users, permissions and definitions are for administrators only */
	static const char *admin_only[] = { "/api/users", "/api/permissions", "/api/definitions",
					    "/api/users/guest" };
	for (size_t i = 0; i < sizeof(admin_only) / sizeof(admin_only[0]); i++) {
		th_http("GET", admin_only[i], "watcher:watchpw", NULL, &r);
		ck_assert_msg(r.status == 401 && th_jeq(&r, "", "{\"error\":\"not_authorised\",\"reason\":\"Not administrator user\"}"),
			      "%s: %d %s", admin_only[i], r.status, r.body);
		th_http_free(&r);
	}
	th_http("GET", "/api/queues", "watcher:watchpw", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	th_http_free(&r);
}
END_TEST

START_TEST(test_users_permissions)
{
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("GET", "/api/users", NULL, &r), 200);
	/* as RabbitMQ shows them to administrators: the hash, never a password */
	ck_assert_msg(th_jstr(&r, "[name=guest]/password_hash") != NULL, "%s", r.body);
	ck_assert_msg(th_jmatch(&r, "[name=guest]/tags", "[\"administrator\"]"), "%s", r.body);
	ck_assert_msg(th_jcontains(&r, "", "{\"tags\":[\"monitoring\"]}"), "%s", r.body);
	ck_assert_msg(th_jnode(&r, "[name=guest]/password") < 0, "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/users/plain", NULL, &r), 200);
	ck_assert_msg(th_jeq(&r, "tags", "[]"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/users/nobody", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/permissions", NULL, &r), 200);
	ck_assert_msg(th_jcontains(&r, "", "{\"user\":\"guest\",\"vhost\":\"/\",\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}"),
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/permissions/%2F/guest", NULL, &r), 200);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/users/guest/permissions", NULL, &r), 200);
	ck_assert_msg(th_jcontains(&r, "", "{\"user\":\"guest\",\"vhost\":\"/\"}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/vhosts/%2F/permissions", NULL, &r), 200);
	ck_assert_msg(th_jcontains(&r, "", "{\"user\":\"guest\",\"vhost\":\"/\"}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/users/newone", "{\"password\":\"x\",\"tags\":\"\"}", &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("DELETE", "/api/users/newone", NULL, &r), 204);
	th_http_free(&r);
	/* administrators only */
	th_http("PUT", "/api/users/newtwo", "watcher:watchpw", "{\"password\":\"x\",\"tags\":\"\"}", &r);
	ck_assert_int_eq(r.status, 401);
	th_http_free(&r);
	th_http("PUT", "/api/vhosts/newvh", "watcher:watchpw", NULL, &r);
	ck_assert_int_eq(r.status, 401);
	th_http_free(&r);
}
END_TEST

START_TEST(test_overview)
{
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("GET", "/api/overview", NULL, &r), 200);
	static const char *fields[] = { "management_version", "rabbitmq_version", "product_name", "node",
					"message_stats", "queue_totals/messages_ready",
					"queue_totals/messages_unacknowledged", "object_totals/connections",
					"object_totals/channels", "object_totals/queues",
					"object_totals/exchanges", "object_totals/consumers", "listeners" };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		ck_assert_msg(th_jnode(&r, fields[i]) >= 0, "no %s in %s", fields[i], r.body);
	ck_assert_msg(th_jcontains(&r, "listeners", "{\"protocol\":\"amqp\"}"), "%s", r.body);
	ck_assert_msg(has(r.head, "Content-Type: application/json"), "%s", r.head);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/vhosts", NULL, &r), 200);
	ck_assert_msg(th_jcontains(&r, "", "{\"name\":\"/\"}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/vhosts/%2F", NULL, &r), 200);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/nodes", NULL, &r), 200);
	th_http_free(&r);
}
END_TEST

START_TEST(test_unknown_paths)
{
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("GET", "/api/nope", NULL, &r), 404);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"Object Not Found\",\"reason\":\"Not Found\"}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/queues/nosuchvhost", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/queues/%2F/no-such-queue-here", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/exchanges/%2F/no-such-exchange", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/nothing-here", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/queues/%zz", NULL, &r), 404);
	th_http_free(&r);
}
END_TEST

/* A known path asked with a method it does not answer: 405 with an Allow
 * header naming what it answers, as RabbitMQ's cowboy_rest (which lists
 * OPTIONS too: tandem does not serve OPTIONS); the body is tandem's usual
 * error object.  Unknown paths stay 404. */
START_TEST(test_method_not_allowed_405_allow)
{
	static const struct {
		const char *method, *path, *allow;
	} cases[] = {
		{ "PUT", "/api/overview", "HEAD, GET" },
		{ "DELETE", "/api/queues", "HEAD, GET" },
		{ "POST", "/api/queues/%2F/http-405-none", "HEAD, GET, PUT, DELETE" },
		{ "POST", "/api/health/checks/alarms", "HEAD, GET" },
		{ "GET", "/api/queues/%2F/http-405-none/get", "POST" },
		{ "PUT", "/api/bindings/%2F/e/amq.direct/q/x", "HEAD, GET, POST" },
		{ "POST", "/api/users/guest", "HEAD, GET, PUT, DELETE" },
		{ "DELETE", "/api/whoami", "HEAD, GET" },
		{ "PUT", "/api/topics", "HEAD, GET" },
		{ "POST", "/api/topics/some-topic", "HEAD, GET, PUT, DELETE" },
		{ "GET", "/api/groups/some-group/fetch", "POST" },
	};
	struct th_http_resp r;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[128];
		snprintf(want, sizeof(want), "\r\nAllow: %s\r\n", cases[i].allow);
		th_http(cases[i].method, cases[i].path, "guest:guest", NULL, &r);
		strcat(r.head, "\r\n");
		ck_assert_msg(r.status == 405 && has(r.head, want), "%s %s: %d, want 405 with %s: %s",
			      cases[i].method, cases[i].path, r.status, cases[i].allow, r.head);
		ck_assert_msg(th_jeq(&r, "", "{\"error\":\"method_not_allowed\",\"reason\":\"Method Not Allowed\"}"),
			      "%s", r.body);
		th_http_free(&r);
	}
	/* nothing was declared by the POST */
	ck_assert_int_eq(req_guest("GET", "/api/queues/%2F/http-405-none", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/nope", NULL, &r), 404);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"Object Not Found\",\"reason\":\"Not Found\"}"), "%s", r.body);
	th_http_free(&r);
}
END_TEST

/* Each path segment is decoded on its own: a vhost named "a/b" is one
 * segment, %2F inside it, and its queue "c/d" another. */
START_TEST(test_vhost_with_slash_one_segment)
{
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("PUT", "/api/vhosts/http%2Fslash", NULL, &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/vhosts/http%2Fslash", NULL, &r), 200);
	ck_assert_str_eq(th_jstr(&r, "name"), "http/slash");
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/queues/http%2Fslash/c%2Fd", "{\"durable\":false}", &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/queues/http%2Fslash/c%2Fd", NULL, &r), 200);
	ck_assert_msg(th_jmatch(&r, "", "{\"name\":\"c/d\",\"vhost\":\"http/slash\"}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/queues/http%2Fslash", NULL, &r), 200);
	ck_assert_msg(th_jcount(&r, "") == 1 && th_jmatch(&r, "0", "{\"name\":\"c/d\"}"), "%s", r.body);
	th_http_free(&r);
	/* undecoded, the same path names other segments */
	ck_assert_int_eq(req_guest("GET", "/api/queues/http/slash/c/d", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("DELETE", "/api/vhosts/http%2Fslash", NULL, &r), 204);
	th_http_free(&r);
}
END_TEST

START_TEST(test_malformed_json)
{
	char q[128], path[256];
	th_name(q, sizeof(q), "http-bad");
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	static const char *bad[] = { "{", "{\"durable\":}", "[1,2", "{\"a\":1,}", "nul", "{\"a\":\"\\x\"}",
				     "{} {}", "\"just a string\"", "[]" };
	struct th_http_resp r;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(req_guest("PUT", path, bad[i], &r) == 400, "%s -> %d", bad[i], r.status);
		ck_assert_msg(th_jeq(&r, "", "{\"error\":\"bad_request\",\"reason\":\"not_json\"}"), "%s", r.body);
		th_http_free(&r);
	}
	/* nothing was declared */
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/exchanges/%2F/http-bad-x", "{\"type\":7}", &r), 400);
	th_http_free(&r);
	/* as RabbitMQ, an exchange declared without a type is a direct one */
	ck_assert_int_eq(req_guest("PUT", "/api/exchanges/%2F/http-untyped-x", "{\"durable\":false}", &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/exchanges/%2F/http-untyped-x", NULL, &r), 200);
	ck_assert_str_eq(th_jstr(&r, "type"), "direct");
	th_http_free(&r);
	th_assert_broker_alive();
}
END_TEST

START_TEST(test_declare_http_seen_over_amqp)
{
	char q[128], x[128], path[256];
	th_name(q, sizeof(q), "http-q");
	th_name(x, sizeof(x), "http-x");
	struct th_http_resp r;
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(req_guest("PUT", path, "{\"durable\":false,\"auto_delete\":false,"
				   "\"arguments\":{\"x-max-length\":5}}", &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", path, "{\"durable\":false,\"arguments\":{\"x-max-length\":5}}", &r),
			 204);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_int_eq(th_jbool(&r, "durable"), 0);
	ck_assert_msg(th_jeq(&r, "arguments", "{\"x-max-length\":5}"), "%s", r.body);
	th_http_free(&r);
	/* a different durability is inequivalent: 400 */
	ck_assert_int_eq(req_guest("PUT", path, "{\"durable\":true}", &r), 400);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/exchanges/%%2F/%s", x);
	ck_assert_int_eq(req_guest("PUT", path, "{\"type\":\"fanout\",\"durable\":false}", &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_str_eq(th_jstr(&r, "type"), "fanout");
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", path, "{\"type\":\"nosuchtype\"}", &r), 400);
	th_http_free(&r);

	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	uint32_t msgs, cons;
	th_ok(th_queue_passive(c, 1, q, &msgs, &cons), "passive declare of the HTTP queue");
	amqp_exchange_declare(c, 1, amqp_cstring_bytes(x), amqp_cstring_bytes("fanout"), 1, 0, 0, 0,
			      amqp_empty_table);
	th_ok_last(c, "passive declare of the HTTP exchange");
	th_bind(c, 1, q, x, "", amqp_empty_table);
	for (int i = 0; i < 7; i++)
		th_publish(c, 1, x, "", "m");
	ck_assert_int_eq(th_wait_count(c, 1, q, 5, 3000), 5); /* x-max-length from HTTP applies */
	th_close(c);
}
END_TEST

START_TEST(test_declare_amqp_seen_over_http)
{
	char q[128], x[128], path[256];
	th_name(q, sizeof(q), "amqp-q");
	th_name(x, sizeof(x), "amqp-x");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, q, 0, 0, 1, NULL, 0);
	th_exchange(c, 1, x, "topic");
	th_bind(c, 1, q, x, "a.*", amqp_empty_table);
	th_publish(c, 1, x, "a.b", "one");
	th_publish(c, 1, x, "a.c", "two");
	th_wait_count(c, 1, q, 2, 3000);
	struct th_http_resp r;
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_msg(th_jmatch(&r, "", "{\"messages_ready\":2,\"messages\":2,\"messages_unacknowledged\":0,"
			       "\"consumers\":0,\"message_stats\":{\"publish\":2},\"auto_delete\":true,"
			       "\"exclusive\":false}"),
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/queues/%2F", NULL, &r), 200);
	{
		char sel[200];
		snprintf(sel, sizeof(sel), "[name=%s]", q);
		ck_assert_msg(th_jnode(&r, sel) >= 0, "%s missing: %s", q, r.body);
	}
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/exchanges/%%2F/%s", x);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_str_eq(th_jstr(&r, "type"), "topic");
	ck_assert_int_eq(th_jint(&r, "message_stats/publish_in", -1), 2);
	th_http_free(&r);
	/* one unacked delivery shows as messages_unacknowledged */
	amqp_message_t m;
	ck_assert_int_eq(th_get(c, 1, q, 0, &m, NULL, NULL, NULL), 1);
	amqp_destroy_message(&m);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_int_eq(th_jint(&r, "messages_unacknowledged", -1), 1);
	ck_assert_int_eq(th_jint(&r, "messages_ready", -1), 1);
	th_http_free(&r);
	th_close(c);
}
END_TEST

START_TEST(test_publish_and_get)
{
	char q[128], path[256], body[512];
	th_name(q, sizeof(q), "http-pub");
	struct th_http_resp r;
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(req_guest("PUT", path, "{\"durable\":false}", &r), 201);
	th_http_free(&r);
	snprintf(body, sizeof(body),
		 "{\"properties\":{\"content_type\":\"text/plain\",\"headers\":{\"h\":\"v\"}},"
		 "\"routing_key\":\"%s\",\"payload\":\"hello http\",\"payload_encoding\":\"string\"}", q);
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/amq.default/publish", body, &r), 200);
	ck_assert_msg(th_jeq(&r, "", "{\"routed\":true}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/amq.default/publish",
				   "{\"properties\":{},\"routing_key\":\"no-such-queue-x\",\"payload\":\"x\","
				   "\"payload_encoding\":\"string\"}", &r), 200);
	ck_assert_msg(th_jeq(&r, "", "{\"routed\":false}"), "%s", r.body);
	th_http_free(&r);

	/* HTTP -> AMQP, with properties */
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_message_t m;
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 3000), 1);
	ck_assert(th_bytes_eq(m.body, "hello http"));
	ck_assert(m.properties._flags & AMQP_BASIC_CONTENT_TYPE_FLAG);
	ck_assert(th_bytes_eq(m.properties.content_type, "text/plain"));
	ck_assert(m.properties._flags & AMQP_BASIC_HEADERS_FLAG);
	ck_assert_int_eq(m.properties.headers.num_entries, 1);
	amqp_destroy_message(&m);

	/* AMQP -> HTTP get: requeue keeps it, ack_requeue_false takes it */
	th_publish(c, 1, "", q, "from amqp");
	th_wait_count(c, 1, q, 1, 3000);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s/get", q);
	ck_assert_int_eq(req_guest("POST", path, "{\"count\":5,\"ackmode\":\"ack_requeue_true\","
				   "\"encoding\":\"auto\",\"truncate\":50000}", &r), 200);
	ck_assert_msg(th_jcount(&r, "") == 1 &&
			      th_jmatch(&r, "0", "{\"payload\":\"from amqp\",\"payload_encoding\":\"string\","
						 "\"redelivered\":false,\"payload_bytes\":9,\"properties\":{}}"),
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(th_wait_count(c, 1, q, 1, 3000), 1);
	ck_assert_int_eq(req_guest("POST", path, "{\"count\":1,\"ackmode\":\"ack_requeue_false\","
				   "\"encoding\":\"base64\"}", &r), 200);
	/* base64("from amqp") */
	ck_assert_msg(th_jmatch(&r, "0", "{\"payload\":\"ZnJvbSBhbXFw\",\"payload_encoding\":\"base64\","
					 "\"redelivered\":true}"),
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(th_wait_count(c, 1, q, 0, 3000), 0);
	ck_assert_int_eq(req_guest("POST", path, "{\"count\":1,\"ackmode\":\"ack_requeue_false\","
				   "\"encoding\":\"auto\"}", &r), 200);
	ck_assert_msg(th_jeq(&r, "", "[]"), "%s", r.body);
	th_http_free(&r);
	/* base64 payloads in */
	snprintf(body, sizeof(body),
		 "{\"properties\":{\"delivery_mode\":2},\"routing_key\":\"%s\",\"payload\":\"AAEC\","
		 "\"payload_encoding\":\"base64\"}", q);
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/amq.default/publish", body, &r), 200);
	th_http_free(&r);
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 3000), 1);
	ck_assert_int_eq(m.body.len, 3);
	ck_assert_int_eq(((uint8_t *)m.body.bytes)[2], 2);
	ck_assert_int_eq(m.properties.delivery_mode, 2);
	amqp_destroy_message(&m);
	/* missing fields */
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/amq.default/publish", "{}", &r), 400);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/no-such-x/publish",
				   "{\"routing_key\":\"\",\"payload\":\"\"}", &r), 404);
	th_http_free(&r);
	th_close(c);
}
END_TEST

/* Publishing over HTTP routes as basic.publish does: alternate exchanges
 * take the unroutable, user_id must be the caller, internal exchanges refuse. */
START_TEST(test_publish_routing)
{
	char ae[128], x[128], q[128], path[512], body[512];
	th_name(ae, sizeof(ae), "http-ae");
	th_name(x, sizeof(x), "http-with-ae");
	th_name(q, sizeof(q), "http-ae-q");
	struct th_http_resp r;
	snprintf(path, sizeof(path), "/api/exchanges/%%2F/%s", ae);
	ck_assert_int_eq(req_guest("PUT", path, "{\"type\":\"fanout\",\"durable\":false}", &r), 201);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/exchanges/%%2F/%s", x);
	snprintf(body, sizeof(body), "{\"type\":\"direct\",\"durable\":false,\"arguments\":{\"alternate-exchange\":\"%s\"}}", ae);
	ck_assert_int_eq(req_guest("PUT", path, body, &r), 201);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(req_guest("PUT", path, "{\"durable\":false}", &r), 201);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/bindings/%%2F/e/%s/q/%s", ae, q);
	ck_assert_int_eq(req_guest("POST", path, "{\"routing_key\":\"\"}", &r), 201);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/exchanges/%%2F/%s/publish", x);
	ck_assert_int_eq(req_guest("POST", path, "{\"properties\":{},\"routing_key\":\"nowhere\",\"payload\":\"to ae\","
				   "\"payload_encoding\":\"string\"}", &r), 200);
	ck_assert_msg(th_jeq(&r, "", "{\"routed\":true}"), "%s", r.body);
	th_http_free(&r);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	ck_assert_int_eq(th_wait_count(c, 1, q, 1, 3000), 1);
	/* the same over AMQP lands the same way */
	th_publish(c, 1, x, "nowhere", "amqp to ae");
	ck_assert_int_eq(th_wait_count(c, 1, q, 2, 3000), 2);
	th_close(c);
	ck_assert_int_eq(req_guest("POST", path, "{\"properties\":{\"user_id\":\"someone-else\"},\"routing_key\":\"k\","
				   "\"payload\":\"x\",\"payload_encoding\":\"string\"}", &r), 400);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"bad_request\",\"reason\":\"user_id property set to "
				     "'someone-else' but authenticated user was 'guest'\"}"),
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", path, "{\"properties\":{\"user_id\":\"guest\"},\"routing_key\":\"k\","
				   "\"payload\":\"x\",\"payload_encoding\":\"string\"}", &r), 200);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/exchanges/%2F/http-internal-x", "{\"type\":\"fanout\",\"durable\":false,\"internal\":true}", &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/http-internal-x/publish",
				   "{\"properties\":{},\"routing_key\":\"\",\"payload\":\"\",\"payload_encoding\":\"string\"}", &r), 400);
	th_http_free(&r);
}
END_TEST

/* Publishing over HTTP honours CC and BCC as basic.publish does: more
 * routing keys, BCC not stored, a non-array refused (400 with the 406). */
START_TEST(test_publish_cc_bcc)
{
	char q[3][128], body[1024];
	struct th_http_resp r;
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	for (int i = 0; i < 3; i++)
		th_queue(c, 1, th_name(q[i], sizeof(q[i]), "http-ssd"), 0, 0, 1, NULL, 0);
	snprintf(body, sizeof(body),
		 "{\"properties\":{\"headers\":{\"CC\":[\"%s\"],\"BCC\":[\"%s\"]}},\"routing_key\":\"%s\","
		 "\"payload\":\"ssd\",\"payload_encoding\":\"string\"}", q[1], q[2], q[0]);
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/amq.default/publish", body, &r), 200);
	ck_assert_msg(th_jeq(&r, "", "{\"routed\":true}"), "%s", r.body);
	th_http_free(&r);
	for (int i = 0; i < 3; i++) {
		amqp_message_t m;
		ck_assert_int_eq(th_get_wait(c, 1, q[i], 1, &m, NULL, NULL, NULL, 5000), 1);
		ck_assert(th_bytes_eq(m.body, "ssd"));
		amqp_table_t h = m.properties.headers;
		ck_assert_int_eq(h.num_entries, 1);
		ck_assert(th_bytes_eq(h.entries[0].key, "CC"));
		amqp_destroy_message(&m);
	}
	snprintf(body, sizeof(body),
		 "{\"properties\":{\"headers\":{\"CC\":\"%s\"}},\"routing_key\":\"%s\","
		 "\"payload\":\"bad\",\"payload_encoding\":\"string\"}", q[1], q[0]);
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/amq.default/publish", body, &r), 400);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"bad_request\",\"reason\":\"406 PRECONDITION_FAILED - invalid "
				     "message: {unacceptable_type_in_header,\\\"CC\\\",longstr}\"}"),
		      "%s", r.body);
	th_http_free(&r);
	for (int i = 0; i < 3; i++) {
		th_assert_drained(c, 1, q[i]);
		amqp_queue_delete(c, 1, amqp_cstring_bytes(q[i]), 0, 0);
		th_ok_last(c, "queue.delete");
	}
	th_close(c);
}
END_TEST

START_TEST(test_purge_and_delete)
{
	char q[128], x[128], path[256];
	th_name(q, sizeof(q), "http-purge");
	th_name(x, sizeof(x), "http-delx");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, q, 0, 0, 0, NULL, 0);
	for (int i = 0; i < 3; i++)
		th_publish(c, 1, "", q, "p");
	ck_assert_int_eq(th_wait_count(c, 1, q, 3, 3000), 3);
	struct th_http_resp r;
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s/contents", q);
	ck_assert_int_eq(req_guest("DELETE", path, NULL, &r), 204);
	th_http_free(&r);
	ck_assert_int_eq(th_wait_count(c, 1, q, 0, 3000), 0);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(req_guest("DELETE", path, NULL, &r), 204);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("DELETE", path, NULL, &r), 404);
	th_http_free(&r);
	amqp_rpc_reply_t rep = th_queue_passive(c, 1, q, NULL, NULL);
	th_expect_channel_close(c, 1, rep, TH_NOT_FOUND);
	th_channel(c, 2);
	th_exchange(c, 2, x, "direct");
	snprintf(path, sizeof(path), "/api/exchanges/%%2F/%s", x);
	ck_assert_int_eq(req_guest("DELETE", path, NULL, &r), 204);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 404);
	th_http_free(&r);
	/* the default exchange and amq.* cannot go */
	ck_assert_int_ne(req_guest("DELETE", "/api/exchanges/%2F/amq.direct", NULL, &r), 204);
	th_http_free(&r);
	th_close(c);
}
END_TEST

START_TEST(test_bindings)
{
	char q[128], x[128], path[512];
	th_name(q, sizeof(q), "http-bq");
	th_name(x, sizeof(x), "http-bx");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, q, 0, 0, 1, NULL, 0);
	th_exchange(c, 1, x, "direct");
	th_bind(c, 1, q, x, "k1", amqp_empty_table);
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("GET", "/api/bindings/%2F", NULL, &r), 200);
	char want[512];
	snprintf(want, sizeof(want),
		 "{\"source\":\"%s\",\"vhost\":\"/\",\"destination\":\"%s\",\"destination_type\":\"queue\","
		 "\"routing_key\":\"k1\",\"arguments\":{}}", x, q);
	ck_assert_msg(th_jcontains(&r, "", want), "no %s in %s", want, r.body);
	/* the default exchange's implicit binding is listed as in RabbitMQ */
	snprintf(want, sizeof(want), "{\"source\":\"\",\"vhost\":\"/\",\"destination\":\"%s\","
		 "\"destination_type\":\"queue\",\"routing_key\":\"%s\"}", q, q);
	ck_assert_msg(th_jcontains(&r, "", want), "no %s", want);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/bindings", NULL, &r), 200);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s/bindings", q);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_msg(th_jcontains(&r, "", "{\"routing_key\":\"k1\"}"), "%s", r.body);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/exchanges/%%2F/%s/bindings/source", x);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_msg(th_jcontains(&r, "", "{\"routing_key\":\"k1\"}"), "%s", r.body);
	th_http_free(&r);
	/* create over HTTP, route over AMQP, delete over HTTP */
	snprintf(path, sizeof(path), "/api/bindings/%%2F/e/%s/q/%s", x, q);
	ck_assert_int_eq(req_guest("POST", path, "{\"routing_key\":\"k2\",\"arguments\":{}}", &r), 201);
	char loc[300];
	snprintf(loc, sizeof(loc), "Location: %s/k2", q);
	ck_assert_msg(has(r.head, loc), "%s", r.head);
	th_http_free(&r);
	th_publish(c, 1, x, "k2", "via k2");
	amqp_message_t m;
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 3000), 1);
	ck_assert(th_bytes_eq(m.body, "via k2"));
	amqp_destroy_message(&m);
	snprintf(path, sizeof(path), "/api/bindings/%%2F/e/%s/q/%s/k2", x, q);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("DELETE", path, NULL, &r), 204);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 404);
	th_http_free(&r);
	th_publish(c, 1, x, "k2", "gone");
	th_assert_drained(c, 1, q);
	th_close(c);
}
END_TEST

START_TEST(test_connections_channels)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel(c, 2);
	amqp_basic_qos(c, 2, 0, 11, 0);
	th_ok_last(c, "basic.qos");
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("GET", "/api/connections", NULL, &r), 200);
	ck_assert_msg(th_jcontains(&r, "", "{\"protocol\":\"AMQP 0-9-1\",\"user\":\"guest\",\"channels\":2}"),
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/channels", NULL, &r), 200);
	ck_assert_msg(th_jcontains(&r, "", "{\"prefetch_count\":11,\"number\":2}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/overview", NULL, &r), 200);
	ck_assert_int_ge(th_jint(&r, "object_totals/connections", -1), 1);
	th_http_free(&r);
	th_close(c);
	/* gone once closed */
	uint64_t deadline = th_now_ms() + 3000;
	int gone = 0;
	while (!gone && th_now_ms() < deadline) {
		ck_assert_int_eq(req_guest("GET", "/api/channels", NULL, &r), 200);
		gone = !th_jcontains(&r, "", "{\"prefetch_count\":11}");
		th_http_free(&r);
		if (!gone)
			th_sleep_ms(20);
	}
	ck_assert_msg(gone, "channel still listed after close");
}
END_TEST

/* /api/consumers: one object per basic.consume, with RabbitMQ's fields;
 * single active consumer shows which one is served. */
START_TEST(test_consumers)
{
	char q[128];
	th_name(q, sizeof(q), "consumers-q");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_table_entry_t sac = { amqp_cstring_bytes("x-single-active-consumer"),
				   { .kind = AMQP_FIELD_KIND_BOOLEAN, .value.boolean = 1 } };
	amqp_table_t qargs = { 1, &sac };
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 0, 0, 1, qargs);
	th_ok_last(c, "queue.declare");
	amqp_basic_qos(c, 1, 0, 9, 0);
	th_ok_last(c, "basic.qos");
	th_consume(c, 1, q, "first", 0, 0, NULL, 0);
	amqp_table_entry_t prio = { amqp_cstring_bytes("x-priority"),
				    { .kind = AMQP_FIELD_KIND_I32, .value.i32 = 4 } };
	amqp_table_t cargs = { 1, &prio };
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("second"), 0, 1, 0, cargs);
	th_ok_last(c, "basic.consume");
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("GET", "/api/consumers", NULL, &r), 200);
	ck_assert_msg(th_jmatch(&r, "[consumer_tag=first]", "{\"ack_required\":true,\"prefetch_count\":9,"
			       "\"active\":true,\"activity_status\":\"single_active\"}"),
		      "%s", r.body);
	ck_assert_msg(th_jmatch(&r, "[consumer_tag=second]", "{\"ack_required\":false,\"active\":false,"
			       "\"arguments\":{\"x-priority\":4},\"activity_status\":\"waiting\"}"),
		      "%s", r.body);
	char qname[300];
	snprintf(qname, sizeof(qname), "{\"name\":\"%s\",\"vhost\":\"/\"}", q);
	ck_assert_msg(th_jeq(&r, "[consumer_tag=first]/queue", qname), "%s", r.body);
	const char *cn = th_jstr(&r, "[consumer_tag=first]/channel_details/connection_name");
	ck_assert_msg(cn && strncmp(cn, "127.0.0.1:", 10) == 0, "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/consumers/%2F", NULL, &r), 200);
	ck_assert_msg(th_jnode(&r, "[consumer_tag=first]") >= 0, "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/consumers/no-such-vhost", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/consumers", "{}", &r), 405);
	th_http_free(&r);
	/* cancelled: gone from the list */
	amqp_basic_cancel(c, 1, amqp_cstring_bytes("first"));
	th_ok_last(c, "basic.cancel");
	ck_assert_int_eq(req_guest("GET", "/api/consumers", NULL, &r), 200);
	ck_assert_msg(th_jnode(&r, "[consumer_tag=first]") < 0, "%s", r.body);
	ck_assert_msg(th_jnode(&r, "[consumer_tag=second]") >= 0, "%s", r.body);
	th_http_free(&r);
	/* the connection counts what it was sent */
	ck_assert_int_eq(req_guest("GET", "/api/connections", NULL, &r), 200);
	ck_assert_int_gt(th_jint(&r, "[protocol=AMQP 0-9-1]/send_oct", -1), 0);
	th_http_free(&r);
	th_close(c);
}
END_TEST

/* DELETE /api/connections/{name} closes it with 320, as RabbitMQ does. */
START_TEST(test_close_connection)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	ck_assert_int_eq(getsockname(amqp_get_sockfd(c), (struct sockaddr *)&sa, &sl), 0);
	char name[128], enc[400], path[512];
	snprintf(name, sizeof(name), "127.0.0.1:%d -> 127.0.0.1:%d", ntohs(sa.sin_port), th_port());
	th_urlseg(enc, sizeof(enc), name);
	snprintf(path, sizeof(path), "/api/connections/%s", enc);
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_int_eq(th_jint(&r, "channels", -1), 1);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("DELETE", path, NULL, &r), 204);
	th_http_free(&r);
	amqp_rpc_reply_t rep = th_sync(c, 1);
	th_expect_connection_close(c, rep, TH_CONNECTION_FORCED);
	ck_assert_msg(has(th_last_close_text(), "Closed via management plugin"), "%s", th_last_close_text());
	th_destroy(c);
	ck_assert_int_eq(req_guest("DELETE", "/api/connections/no%20such", NULL, &r), 404);
	th_http_free(&r);
}
END_TEST

START_TEST(test_health)
{
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("GET", "/api/health/checks/alarms", NULL, &r), 200);
	ck_assert_msg(th_jeq(&r, "", "{\"status\":\"ok\"}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/aliveness-test/%2F", NULL, &r), 200);
	ck_assert_msg(th_jeq(&r, "", "{\"status\":\"ok\"}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/aliveness-test/nosuchvhost", NULL, &r), 404);
	th_http_free(&r);
	char path[64];
	snprintf(path, sizeof(path), "/api/health/checks/port-listener/%d", th_port());
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	char want[64];
	snprintf(want, sizeof(want), "{\"status\":\"ok\",\"port\":%d}", th_port());
	ck_assert_msg(th_jeq(&r, "", want), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/health/checks/port-listener/1", NULL, &r), 503);
	ck_assert_msg(th_jmatch(&r, "", "{\"status\":\"failed\",\"reason\":\"No active listener\",\"missing\":1}") &&
			      th_jcount(&r, "ports") >= 1,
		      "%s", r.body);
	th_http_free(&r);
}
END_TEST

/* message_stats carry RabbitMQ's *_details rates, sampled every 5 s: a
 * burst of publishes shows as a positive publish rate within two samples. */
START_TEST(test_rates)
{
	char q[128];
	th_name(q, sizeof(q), "rates-q");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, q, 0, 0, 1, NULL, 0);
	struct th_http_resp r;
	char path[256];
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_msg(th_jnum(&r, "message_stats/publish_details/rate", -1) >= 0, "%s", r.body);
	th_http_free(&r);
	uint64_t deadline = th_now_ms() + 12000;
	int seen = 0;
	while (!seen && th_now_ms() < deadline) {
		for (int i = 0; i < 20; i++)
			th_publish(c, 1, "", q, "r");
		th_sync(c, 1);
		ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
		seen = th_jnum(&r, "message_stats/publish_details/rate", -1) > 0;
		th_http_free(&r);
		if (!seen)
			th_sleep_ms(500);
	}
	ck_assert_msg(seen, "publish rate stayed 0");
	ck_assert_int_eq(req_guest("GET", "/api/overview", NULL, &r), 200);
	ck_assert_msg(th_jstr(&r, "rates_mode") && !strcmp(th_jstr(&r, "rates_mode"), "basic") &&
			      th_jnum(&r, "message_stats/ack_details/rate", -1) >= 0,
		      "%s", r.body);
	th_http_free(&r);
	th_close(c);
}
END_TEST

/* Value of the sample `series` (exact name with labels) in a scrape, or -1. */
static long long metric(const char *scrape, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = scrape; (p = strstr(p, series)) != NULL; p += n)
		if ((p == scrape || p[-1] == '\n') && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

/* 1 when line is a sample of Prometheus' text format 0.0.4:
 * name{label="value",...} number, with escapes \\ \" \n in values.  The
 * metric name (without labels) goes to name. */
static int sample_line(const char *line, char *name, size_t cap)
{
	const char *p = line;
	size_t n = 0;
	if (!(isalpha((unsigned char)*p) || *p == '_' || *p == ':'))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == ':') {
		if (n + 1 < cap)
			name[n++] = *p;
		p++;
	}
	name[n] = '\0';
	if (*p == '{') {
		p++;
		while (*p != '}') {
			if (!(isalpha((unsigned char)*p) || *p == '_'))
				return 0;
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			if (p[0] != '=' || p[1] != '"')
				return 0;
			for (p += 2; *p != '"'; p++) {
				if (!*p || *p == '\n')
					return 0;
				if (*p == '\\' && !(p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
					return 0;
				if (*p == '\\')
					p++;
			}
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return 0;
		}
		p++;
	}
	if (*p++ != ' ')
		return 0;
	char *end;
	strtod(p, &end);
	return end != p && *end == '\0';
}

/* The whole scrape parses: every line a HELP, a TYPE or a sample of a
 * family whose TYPE came first; histogram buckets never decrease. */
START_TEST(test_metrics_format)
{
	struct th_http_resp r;
	th_http("GET", "/metrics", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	char typed[64][96];
	int ntyped = 0, samples = 0;
	double last_bucket = -1;
	char last_series[512] = "";
	for (char *save = NULL, *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			ck_assert_int_lt(ntyped, 64);
			ck_assert_int_eq(sscanf(line + 7, "%95s", typed[ntyped]), 1);
			ntyped++;
			continue;
		}
		char name[128];
		ck_assert_msg(sample_line(line, name, sizeof(name)), "not a sample: %s", line);
		size_t nl = strlen(name);
		int known = 0;
		for (int i = 0; i < ntyped && !known; i++) {
			size_t tl = strlen(typed[i]);
			known = strcmp(name, typed[i]) == 0 ||
				(nl > tl && strncmp(name, typed[i], tl) == 0 &&
				 (!strcmp(name + tl, "_bucket") || !strcmp(name + tl, "_sum") || !strcmp(name + tl, "_count")));
		}
		ck_assert_msg(known, "no # TYPE before %s", line);
		const char *le = strstr(line, ",le=\"");
		if (le && strstr(name, "_bucket")) {
			char series[512];
			snprintf(series, sizeof(series), "%.*s", (int)(le - line), line);
			double v = strtod(strrchr(line, ' ') + 1, NULL);
			if (strcmp(series, last_series) == 0)
				ck_assert_msg(v >= last_bucket, "bucket decreases: %s", line);
			snprintf(last_series, sizeof(last_series), "%s", series);
			last_bucket = v;
		}
		samples++;
	}
	ck_assert_int_gt(samples, 10);
	th_http_free(&r);
}
END_TEST

START_TEST(test_metrics)
{
	char q[128], series[300];
	th_name(q, sizeof(q), "metrics-q");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, q, 0, 0, 1, NULL, 0);
	struct th_http_resp r;
	th_http("GET", "/metrics", NULL, NULL, &r); /* no auth, as Prometheus scrapes */
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(has(r.head, "text/plain; version=0.0.4"), "%s", r.head);
	static const char *names[] = { "# TYPE tandem_connections gauge", "tandem_channels ",
				       "tandem_queues ", "tandem_messages_published_total ",
				       "tandem_process_resident_memory_bytes ",
				       "tandem_memory_high_watermark_bytes ",
				       "tandem_alarm{resource=\"memory\"} 0", "tandem_journal_bytes ",
				       "# TYPE tandem_queue_messages_acked_total counter" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(has(r.body, names[i]), "no %s", names[i]);
	ck_assert_int_ge(metric(r.body, "tandem_connections"), 1);
	long long pub0 = metric(r.body, "tandem_messages_published_total");
	snprintf(series, sizeof(series), "tandem_queue_messages_ready{vhost=\"/\",queue=\"%s\"}", q);
	ck_assert_int_eq(metric(r.body, series), 0);
	th_http_free(&r);
	th_publish(c, 1, "", q, "a");
	th_publish(c, 1, "", q, "b");
	th_wait_count(c, 1, q, 2, 3000);
	amqp_message_t m;
	uint64_t tag;
	ck_assert_int_eq(th_get(c, 1, q, 0, &m, &tag, NULL, NULL), 1);
	amqp_destroy_message(&m);
	th_http("GET", "/metrics", NULL, NULL, &r);
	ck_assert_int_eq(metric(r.body, series), 1);
	snprintf(series, sizeof(series), "tandem_queue_messages_unacked{vhost=\"/\",queue=\"%s\"}", q);
	ck_assert_int_eq(metric(r.body, series), 1);
	snprintf(series, sizeof(series), "tandem_queue_messages_published_total{vhost=\"/\",queue=\"%s\"}", q);
	ck_assert_int_eq(metric(r.body, series), 2);
	ck_assert_int_ge(metric(r.body, "tandem_messages_published_total"), pub0 + 2);
	th_http_free(&r);
	amqp_basic_ack(c, 1, tag, 0);
	th_sync(c, 1);
	th_http("GET", "/metrics", NULL, NULL, &r);
	snprintf(series, sizeof(series), "tandem_queue_messages_acked_total{vhost=\"/\",queue=\"%s\"}", q);
	ck_assert_int_eq(metric(r.body, series), 1);
	th_http_free(&r);
	th_close(c);
}
END_TEST

/* The journal's fsyncs show in the histogram; overall deliver/ack totals
 * keep what deleted queues counted (they never go back). */
START_TEST(test_fsync_histogram_and_totals)
{
	char q[128];
	th_name(q, sizeof(q), "fsync-q");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, q, 1, 0, 0, NULL, 0);
	amqp_confirm_select(c, 1);
	th_ok_last(c, "confirm.select");
	amqp_basic_properties_t props = { ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG, .delivery_mode = 2 };
	th_publish_props(c, 1, "", q, 0, &props, amqp_cstring_bytes("kept"));
	amqp_method_t ack;
	ck_assert_msg(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &ack, 5000), "no confirm");
	struct th_http_resp r;
	th_http("GET", "/metrics", NULL, NULL, &r);
	ck_assert_msg(has(r.body, "# TYPE tandem_fsync_duration_seconds histogram"), "%s", r.body);
	long long n = metric(r.body, "tandem_fsync_duration_seconds_count{store=\"queues\"}");
	ck_assert_int_ge(n, 1); /* a confirm for a persistent message waits for an fsync */
	ck_assert_int_eq(metric(r.body, "tandem_fsync_duration_seconds_bucket{store=\"queues\",le=\"+Inf\"}"), n);
	ck_assert_int_ge(metric(r.body, "tandem_fsync_duration_seconds_count{store=\"logs\"}"), 0);
	th_http_free(&r);
	amqp_message_t m;
	uint64_t tag;
	ck_assert_int_eq(th_get(c, 1, q, 0, &m, &tag, NULL, NULL), 1);
	amqp_destroy_message(&m);
	amqp_basic_ack(c, 1, tag, 0);
	th_sync(c, 1);
	ck_assert_int_eq(req_guest("GET", "/api/overview", NULL, &r), 200);
	long long delivered = th_jint(&r, "message_stats/deliver_get", -1);
	long long acked = th_jint(&r, "message_stats/ack", -1);
	ck_assert_int_ge(delivered, 1);
	ck_assert_int_ge(acked, 1);
	th_http_free(&r);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	ck_assert_int_eq(req_guest("GET", "/api/overview", NULL, &r), 200);
	ck_assert_int_ge(th_jint(&r, "message_stats/deliver_get", -1), delivered);
	ck_assert_int_ge(th_jint(&r, "message_stats/ack", -1), acked);
	th_http_free(&r);
	th_close(c);
}
END_TEST

/* Error answers as RabbitMQ 3.10.8's management plugin gives them (seen
 * with tests/rabbitmq/start-private.sh and RMQ_MANAGEMENT=1). */
START_TEST(test_rabbitmq_error_answers)
{
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/amq.default/publish", "{\"payload\":\"x\"}", &r), 400);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"bad_request\",\"reason\":\"[{key_missing,routing_key},\\n "
				     "{key_missing,properties},\\n {key_missing,payload_encoding}]\"}"),
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/amq.default/publish",
				   "{\"properties\":{},\"routing_key\":\"k\",\"payload\":\"!!\",\"payload_encoding\":\"base64\"}",
				   &r), 400);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"bad_request\",\"reason\":[\"not_base64\",\"!!\"]}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/amq.default/publish",
				   "{\"properties\":{},\"routing_key\":\"k\",\"payload\":\"x\",\"payload_encoding\":\"rot13\"}",
				   &r), 400);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"bad_request\",\"reason\":[\"unsupported_encoding\",\"rot13\"]}"),
		      "%s", r.body);
	th_http_free(&r);
	int st = req_guest("PUT", "/api/queues/%2F/http-errors-q", "{\"durable\":false}", &r);
	ck_assert_msg(st == 201 || st == 204, "%d", st);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/queues/%2F/http-errors-q/get", "{}", &r), 400);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"bad_request\",\"reason\":"
				     "\"[{key_missing,ackmode},{key_missing,count},{key_missing,encoding}]\"}"),
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/exchanges/%2F/amq.mine", "{\"type\":\"direct\"}", &r), 401);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"not_authorised\",\"reason\":\"Access refused.\"}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/bindings/%2F/e/no-such-x/q/no-such-q", "{}", &r), 404);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"not_found\",\"reason\":\"no exchange 'no-such-x' in vhost '/'\"}"),
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/bindings/%2F/e/amq.direct/q/no-such-q", "{}", &r), 404);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"not_found\",\"reason\":\"no queue 'no-such-q' in vhost '/'\"}"),
		      "%s", r.body);
	th_http_free(&r);
}
END_TEST

START_TEST(test_topics_shape)
{
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("GET", "/api/topics", NULL, &r), 200);
	ck_assert_msg(th_jcount(&r, "") >= 0 && r.body[0] == '[', "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/groups", NULL, &r), 200);
	ck_assert_msg(th_jcount(&r, "") >= 0 && r.body[0] == '[', "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/topics/none", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/groups/none", NULL, &r), 404);
	th_http_free(&r);
}
END_TEST

/* Log side with data: kcat produces 3 records and a group reads 2 of them.
 * A missing kcat fails the test: a skipped check is not a passing one. */
START_TEST(test_topics_with_data)
{
	ck_assert_msg(system("kcat -V >/dev/null 2>&1") == 0,
		      "kcat not found (Debian package kcat): this test needs it");
	char t[128], g[128], cmd[1024], path[256], series[400];
	th_name(t, sizeof(t), "http-topic");
	th_name(g, sizeof(g), "http-group");
	snprintf(cmd, sizeof(cmd), "printf 'a\\nb\\nc\\n' | kcat -b 127.0.0.1:%d -t %s -P -X topic.metadata.refresh.interval.ms=100 2>/dev/null",
		 kafka_port, t);
	ck_assert_int_eq(system(cmd), 0);
	/* a group consumes two records and commits its offset */
	snprintf(cmd, sizeof(cmd), "kcat -b 127.0.0.1:%d -G %s %s -c 2 -q -o beginning "
		 "-X enable.auto.commit=true -X auto.commit.interval.ms=100 >/dev/null 2>&1", kafka_port, g, t);
	ck_assert_int_eq(system(cmd), 0);
	struct th_http_resp r;
	snprintf(path, sizeof(path), "/api/topics/%s", t);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_msg(th_jmatch(&r, "", "{\"partitions\":1,\"partition_details\":[{\"partition\":0,"
			       "\"log_start_offset\":0,\"log_end_offset\":3}]}"),
		      "%s", r.body);
	ck_assert_msg(th_jstr(&r, "config/retention.ms") != NULL, "%s", r.body);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/groups/%s", g);
	uint64_t deadline = th_now_ms() + 10000;
	long long lag = -1;
	while (th_now_ms() < deadline) {
		int st = req_guest("GET", path, NULL, &r);
		if (st == 200)
			lag = th_jint(&r, "lag", -1);
		th_http_free(&r);
		if (lag >= 0)
			break;
		th_sleep_ms(100);
	}
	ck_assert_msg(lag == 1 || lag == 0, "lag %lld", lag); /* committed 2 of 3 (or all 3 on close) */
	th_http("GET", "/metrics", NULL, NULL, &r);
	snprintf(series, sizeof(series), "tandem_topic_partition_log_end_offset{topic=\"%s\",partition=\"0\"}", t);
	ck_assert_int_eq(metric(r.body, series), 3);
	snprintf(series, sizeof(series), "tandem_group_lag{group=\"%s\",topic=\"%s\",partition=\"0\"}", g, t);
	ck_assert_int_eq(metric(r.body, series), lag);
	th_http_free(&r);
}
END_TEST

/* Export the topology as RabbitMQ's definitions file and import it back
 * into a clean state. */
START_TEST(test_definitions)
{
	char q[128], x[128], path[256], body[1024];
	th_name(q, sizeof(q), "defs-q");
	th_name(x, sizeof(x), "defs-x");
	struct th_http_resp r;
	snprintf(body, sizeof(body),
		 "{\"exchanges\":[{\"name\":\"%s\",\"vhost\":\"/\",\"type\":\"topic\",\"durable\":false,"
		 "\"auto_delete\":false,\"internal\":false,\"arguments\":{}}],"
		 "\"queues\":[{\"name\":\"%s\",\"vhost\":\"/\",\"durable\":false,\"auto_delete\":false,"
		 "\"arguments\":{\"x-message-ttl\":60000}}],"
		 "\"bindings\":[{\"source\":\"%s\",\"vhost\":\"/\",\"destination\":\"%s\","
		 "\"destination_type\":\"queue\",\"routing_key\":\"a.#\",\"arguments\":{}}],"
		 "\"users\":[],\"permissions\":[]}", x, q, x, q);
	ck_assert_int_eq(req_guest("POST", "/api/definitions", body, &r), 204);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/definitions", NULL, &r), 200);
	char want[512];
	snprintf(want, sizeof(want), "{\"name\":\"%s\",\"vhost\":\"/\",\"durable\":false,\"auto_delete\":false,"
		 "\"arguments\":{\"x-message-ttl\":60000}}", q);
	ck_assert_msg(th_jcontains(&r, "queues", want), "no %s in %s", want, r.body);
	snprintf(want, sizeof(want), "{\"source\":\"%s\",\"vhost\":\"/\",\"destination\":\"%s\","
		 "\"destination_type\":\"queue\",\"routing_key\":\"a.#\"}", x, q);
	ck_assert_msg(th_jcontains(&r, "bindings", want), "no %s in %s", want, r.body);
	ck_assert_msg(th_jstr(&r, "rabbit_version") != NULL &&
			      !th_jcontains(&r, "exchanges", "{\"name\":\"amq.direct\"}"),
		      "%s", r.body);
	th_http_free(&r);
	/* the imported topology routes */
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_publish(c, 1, x, "a.b", "routed by imported binding");
	ck_assert_int_eq(th_wait_count(c, 1, q, 1, 3000), 1);
	th_close(c);
	/* importing again is idempotent; a bad file is 400 and a vhost we do not have too */
	ck_assert_int_eq(req_guest("POST", "/api/definitions", body, &r), 204);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/definitions", "{\"queues\":{}}", &r), 400);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/definitions",
				   "{\"queues\":[{\"name\":\"q\",\"vhost\":\"nope\"}]}", &r), 400);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/definitions/%%2F");
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	snprintf(want, sizeof(want), "{\"name\":\"%s\"}", q);
	ck_assert_msg(th_jcontains(&r, "queues", want), "%s", r.body);
	th_http_free(&r);
}
END_TEST

/* A stream queue declared over HTTP is a log: publish lands as a record,
 * the queue shows type stream, the topic is listed; get and purge are refused. */
START_TEST(test_stream_queue)
{
	char q[128], path[256], body[512];
	snprintf(q, sizeof(q), "httpstream%ld", (long)getpid());
	struct th_http_resp r;
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(req_guest("PUT", path, "{\"durable\":false,\"arguments\":{\"x-queue-type\":\"stream\"}}", &r), 400);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", path, "{\"durable\":true,\"arguments\":{\"x-queue-type\":\"stream\"}}", &r), 201);
	th_http_free(&r);
	snprintf(body, sizeof(body), "{\"properties\":{},\"routing_key\":\"%s\",\"payload\":\"rec\","
		 "\"payload_encoding\":\"string\"}", q);
	ck_assert_int_eq(req_guest("POST", "/api/exchanges/%2F/amq.default/publish", body, &r), 200);
	ck_assert_msg(th_jeq(&r, "", "{\"routed\":true}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_str_eq(th_jstr(&r, "type"), "stream");
	ck_assert_int_eq(th_jint(&r, "messages", -1), 1);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/topics/%s", q);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_int_eq(th_jint(&r, "partition_details/0/log_end_offset", -1), 1);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s/get", q);
	ck_assert_int_eq(req_guest("POST", path, "{\"count\":1,\"ackmode\":\"ack_requeue_true\",\"encoding\":\"auto\"}", &r), 400);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(req_guest("DELETE", path, NULL, &r), 204);
	th_http_free(&r);
}
END_TEST

/* A stream queue on a single node shows its leader and replicas as
 * RabbitMQ 3.10's single node does (leader, members and online: this
 * node, named as /api/overview names it), per partition too when it has
 * several; a classic queue shows none of them.  tandemctl lists the
 * leader and members, /metrics has this node leading the queue. */
START_TEST(test_stream_queue_leader_members)
{
	char q[128], q3[128], cq[128], path[256], want[1400], node[300], out[16384], series[400];
	th_name(q, sizeof(q), "lead-s");
	th_name(q3, sizeof(q3), "lead-s3");
	th_name(cq, sizeof(cq), "lead-c");
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("GET", "/api/overview", NULL, &r), 200);
	snprintf(node, sizeof(node), "%s", th_jstr(&r, "node"));
	th_http_free(&r);
	ck_assert_msg(node[0], "no node in /api/overview");
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(req_guest("PUT", path, "{\"durable\":true,\"arguments\":{\"x-queue-type\":\"stream\"}}", &r), 201);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q3);
	ck_assert_int_eq(req_guest("PUT", path, "{\"durable\":true,\"arguments\":{\"x-queue-type\":\"stream\",\"x-log-partitions\":3}}", &r), 201);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", cq);
	ck_assert_int_eq(req_guest("PUT", path, "{\"durable\":false}", &r), 201);
	th_http_free(&r);

	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	snprintf(want, sizeof(want), "{\"node\":\"%s\",\"leader\":\"%s\",\"members\":[\"%s\"],\"online\":[\"%s\"]}",
		 node, node, node, node);
	ck_assert_msg(th_jmatch(&r, "", want), "%s", r.body);
	ck_assert_msg(!has(r.body, "\"partitions\""), "one partition, no detail: %s", r.body);
	th_http_free(&r);
	/* three partitions: each one's detail */
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q3);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_str_eq(th_jstr(&r, "leader"), node);
	for (int i = 0; i < 3; i++) {
		char p[32];
		snprintf(p, sizeof(p), "partitions/%d", i);
		snprintf(want, sizeof(want), "{\"partition\":%d,\"leader\":\"%s\",\"members\":[\"%s\"],\"online\":[\"%s\"]}",
			 i, node, node, node);
		ck_assert_msg(th_jeq(&r, p, want), "%s: %s", p, r.body);
	}
	ck_assert_int_eq(th_jint(&r, "partitions/3/partition", -1), -1);
	th_http_free(&r);
	/* the list too; a classic queue has none of the fields */
	ck_assert_int_eq(req_guest("GET", "/api/queues/%2F", NULL, &r), 200);
	snprintf(want, sizeof(want), "{\"name\":\"%s\",\"leader\":\"%s\",\"members\":[\"%s\"]}", q, node, node);
	ck_assert_msg(th_jcontains(&r, "", want), "%s", r.body);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", cq);
	ck_assert_int_eq(req_guest("GET", path, NULL, &r), 200);
	ck_assert_msg(!has(r.body, "\"leader\"") && !has(r.body, "\"members\"") && !has(r.body, "\"online\""),
		      "%s", r.body);
	th_http_free(&r);

	/* tandemctl: a leader and a members column */
	ck_assert_int_eq(th_ctl(out, sizeof(out), "list queues"), 0);
	ck_assert_msg(has(out, "leader") && has(out, "members"), "%s", out);
	{
		const char *line = strstr(out, q);
		ck_assert_msg(line, "%s", out);
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		char row[1024];
		snprintf(row, sizeof(row), "%.*s", (int)(len < sizeof(row) - 1 ? len : sizeof(row) - 1), line);
		ck_assert_msg(strstr(row, node) && strstr(row, "stream"), "row of %s: %s", q, row);
	}

	/* /metrics: this node leads both stream queues, the classic one is no series */
	th_http("GET", "/metrics", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(has(r.body, "# TYPE tandem_queues_leader gauge") &&
		      has(r.body, "# TYPE tandem_queue_leader gauge"), "%s", r.body);
	ck_assert_int_ge(metric(r.body, "tandem_queues_leader"), 2);
	snprintf(series, sizeof(series), "tandem_queue_leader{vhost=\"/\",queue=\"%s\"}", q);
	ck_assert_int_eq(metric(r.body, series), 1);
	snprintf(series, sizeof(series), "tandem_queue_leader{vhost=\"/\",queue=\"%s\"}", q3);
	ck_assert_int_eq(metric(r.body, series), 1);
	snprintf(series, sizeof(series), "tandem_queue_leader{vhost=\"/\",queue=\"%s\"}", cq);
	ck_assert_msg(!has(r.body, series), "%s", r.body);
	th_http_free(&r);

	const char *qs[] = { q, q3, cq };
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/api/queues/%%2F/%s", qs[i]);
		ck_assert_int_eq(req_guest("DELETE", path, NULL, &r), 204);
		th_http_free(&r);
	}
}
END_TEST

START_TEST(test_tandemctl)
{
	char q[128], out[16384];
	th_name(q, sizeof(q), "ctl-q");
	ck_assert_int_eq(th_ctl(out, sizeof(out), "declare queue name=%s durable=false", q), 0);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "publish routing_key=%s payload=from-ctl", q), 0);
	ck_assert_msg(has(out, "message published") && !has(out, "NOT"), "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "list queues"), 0);
	ck_assert_msg(has(out, q) && has(out, "messages_ready"), "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "--json list queues"), 0);
	ck_assert_msg(out[0] == '[' && has(out, "\"messages_ready\":"), "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "get queue=%s", q), 0);
	ck_assert_msg(has(out, "from-ctl"), "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "purge queue name=%s", q), 0);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	ck_assert_int_eq(th_wait_count(c, 1, q, 0, 3000), 0);
	th_close(c);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "list exchanges"), 0);
	ck_assert_msg(has(out, "amq.topic"), "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "list bindings"), 0);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "list connections"), 0);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "list topics"), 0);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "list users"), 0);
	ck_assert_msg(has(out, "guest") && has(out, "[\"administrator\"]"), "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "list permissions"), 0);
	/* definitions: export to a file, delete, import it back */
	char file[256];
	snprintf(file, sizeof(file), "%s/defs-%ld.json", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
	ck_assert_int_eq(th_ctl(out, sizeof(out), "export %s", file), 0);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "delete queue name=%s", q), 0);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "import %s", file), 0);
	unlink(file);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "list queues"), 0);
	ck_assert_msg(has(out, q), "%s not re-imported: %s", q, out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "delete queue name=%s", q), 0);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "describe topic no-such-topic"), 1);
	/* errors: the API refuses (1), usage (2), unreachable (3) */
	ck_assert_int_eq(th_ctl(out, sizeof(out), "delete queue name=%s", q), 1);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "--password wrong list queues"), 1);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "frobnicate"), 2);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "declare exchange name=x-no-type"), 2);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s --port 1 list queues 2>/dev/null >/dev/null", TANDEMCTL_PATH);
	int st = system(cmd);
	ck_assert_int_eq(WEXITSTATUS(st), 3);
}
END_TEST

/* GET /api/cluster on a single node (no zookeeper_connect): this node
 * alone, its own controller, no replicated partition, "clustered": false;
 * /metrics has no cluster series; tandemctl cluster status says so. */
START_TEST(test_cluster_api_single_node)
{
	struct th_http_resp r;
	char want[512], out[4096];
	/* a topic of this node: not a replicated partition */
	ck_assert_int_eq(req_guest("PUT", "/api/topics/cluster-t", "{\"partitions\":2}", &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/cluster", NULL, &r), 200);
	snprintf(want, sizeof(want),
		 "{\"clustered\":false,\"node_id\":1,\"controller\":1,\"nodes\":[{\"id\":1,"
		 "\"host\":\"127.0.0.1\",\"kafka_port\":%d,\"amqp_port\":%d,\"http_port\":%d,"
		 "\"cluster_port\":0}],"
		 "\"partitions\":[],\"under_replicated\":0,\"offline\":0}",
		 kafka_port, th_port(), http_port);
	ck_assert_msg(th_jeq(&r, "", want), "%s", r.body);
	th_http_free(&r);
	/* a management user of any tag may read it (as /api/overview), others not */
	th_http("GET", "/api/cluster", "watcher:watchpw", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	th_http_free(&r);
	th_http("GET", "/api/cluster", "plain:plainpw", NULL, &r);
	ck_assert_int_eq(r.status, 401);
	th_http_free(&r);
	th_http("DELETE", "/api/cluster", "guest:guest", NULL, &r);
	ck_assert_int_eq(r.status, 405);
	th_http_free(&r);
	/* a single node's /metrics is as before: no cluster series */
	th_http("GET", "/metrics", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(!has(r.body, "tandem_cluster_") && !has(r.body, "tandem_partitions_") &&
			      !has(r.body, "tandem_isr_") && !has(r.body, "tandem_replica_"),
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "cluster status"), 0);
	snprintf(want, sizeof(want),
		 "single node (not clustered)\nnode 1\t127.0.0.1:%d\tamqp %d\thttp %d\tcontroller\n"
		 "all partitions fully replicated\n",
		 kafka_port, th_port(), http_port);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "--json cluster status"), 0);
	ck_assert_msg(has(out, "\"clustered\":false"), "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "cluster frobnicate"), 2);
	ck_assert_int_eq(req_guest("DELETE", "/api/topics/cluster-t", NULL, &r), 204);
	th_http_free(&r);
}
END_TEST

/* PUT /api/topics' replication_factor: a single node holds one replica
 * only (Kafka's INVALID_REPLICATION_FACTOR for more). */
START_TEST(test_topic_replication_factor_single_node)
{
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("PUT", "/api/topics/rf-three", "{\"replication_factor\":3}", &r), 400);
	ck_assert_msg(th_jerror(&r, "invalid_replication_factor", "Replication factor must be 1"), "%s",
		      r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/topics/rf-three", "{\"replication_factor\":\"1\"}", &r), 400);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/topics/rf-three", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/topics/rf-one", "{\"replication_factor\":1}", &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("DELETE", "/api/topics/rf-one", NULL, &r), 204);
	th_http_free(&r);
	/* tandemctl passes it on */
	char out[4096];
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic create rf-ctl --replication-factor 2"), 1);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic create rf-ctl --replication-factor x"), 2);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic create rf-ctl --partitions 2 --replication-factor 1"), 0);
	ck_assert_int_eq(req_guest("GET", "/api/topics/rf-ctl", NULL, &r), 200);
	ck_assert_int_eq(th_jint(&r, "partitions", -1), 2);
	th_http_free(&r);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic delete rf-ctl"), 0);
}
END_TEST

/* The console page is served, and its script renders every view from the
 * live API (node >= 18 with a stub DOM; without node the test fails). */
START_TEST(test_console)
{
	struct th_http_resp r;
	th_http("GET", "/", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(has(r.head, "text/html") && has(r.body, "console.js"), "%s", r.head);
	ck_assert_msg(has(r.head, "Content-Security-Policy") && has(r.head, "ETag"), "%s", r.head);
	th_http_free(&r);
	/* a missing node fails: a skipped check is not a passing one */
	ck_assert_msg(system("node -e 'if (typeof fetch != \"function\") process.exit(1)' >/dev/null 2>&1") == 0,
		      "node >= 18 is needed for the console check (scripts/setup.sh --test installs it)");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "node %s/console-smoke.js http://127.0.0.1:%d >&2", TEST_SRCDIR, http_port);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Vhosts, users and permissions changed over the API: AMQP logins follow
 * at once, and the changes (deletions of tandem.conf's users included)
 * survive a restart.  On a broker of this test's own. */
START_TEST(test_vhosts_users_persist)
{
	char port[16];
	http_port = su_free_port();
	th_http_port(http_port);
	snprintf(port, sizeof(port), "%d", http_port);
	const char *args[] = { "--http-port", port, "--kafka-port", "0", "--users.cfg.password", "cfgpw",
			       NULL };
	th_start_with_args(args);
	struct th_http_resp r;
	ck_assert_int_eq(req_guest("PUT", "/api/vhosts/adm-v", NULL, &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/vhosts/adm-v", "{}", &r), 204);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/users/adm-u", "{\"password\":\"pw1\"}", &r), 400);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"bad_request\",\"reason\":\"tags_not_present\"}"), "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/users/adm-u", "{\"password\":\"pw1\",\"tags\":[\"management\"]}", &r), 201);
	th_http_free(&r);
	struct th_login lo = { .vhost = "adm-v", .user = "adm-u", .password = "pw1" };
	amqp_rpc_reply_t rep;
	amqp_connection_state_t c = th_connect_opts(&lo, &rep);
	ck_assert_int_ne(rep.reply_type, AMQP_RESPONSE_NORMAL); /* no permission yet */
	th_destroy(c);
	ck_assert_int_eq(req_guest("PUT", "/api/permissions/adm-v/adm-u", "{}", &r), 400);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"bad_request\",\"reason\":"
				     "\"[{key_missing,configure},{key_missing,write},{key_missing,read}]\"}"),
		      "%s", r.body);
	th_http_free(&r);
	static const char all[] = "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}";
	ck_assert_int_eq(req_guest("PUT", "/api/permissions/adm-v/no-such-user", all, &r), 400);
	ck_assert_msg(th_jeq(&r, "", "{\"error\":\"bad_request\",\"reason\":\"vhost_or_user_not_found\"}"), "%s",
		      r.body);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/permissions/adm-v/adm-u", all, &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/permissions/adm-v/adm-u", all, &r), 204);
	th_http_free(&r);
	c = th_connect_opts(&lo, &rep);
	ck_assert_int_eq(rep.reply_type, AMQP_RESPONSE_NORMAL);
	th_channel(c, 1);
	th_queue(c, 1, "adm-kept", 1, 0, 0, NULL, 0);
	th_close(c);
	ck_assert_int_eq(req_guest("DELETE", "/api/users/cfg", NULL, &r), 204);
	th_http_free(&r);

	th_broker_restart();
	ck_assert_int_eq(req_guest("GET", "/api/queues/adm-v/adm-kept", NULL, &r), 200);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/users/cfg", NULL, &r), 404); /* stays deleted */
	th_http_free(&r);
	th_http("GET", "/api/whoami", "adm-u:pw1", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	th_http_free(&r);
	/* deleting the vhost closes its connections with 320 */
	c = th_connect_opts(&lo, &rep);
	ck_assert_int_eq(rep.reply_type, AMQP_RESPONSE_NORMAL);
	ck_assert_int_eq(req_guest("DELETE", "/api/vhosts/%2F", NULL, &r), 400);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("DELETE", "/api/vhosts/adm-v", NULL, &r), 204);
	th_http_free(&r);
	amqp_frame_t f;
	ck_assert_msg(th_wait_frame(c, &f, 5000), "no connection.close after the vhost went");
	ck_assert_int_eq(f.payload.method.id, AMQP_CONNECTION_CLOSE_METHOD);
	ck_assert_int_eq(((amqp_connection_close_t *)f.payload.method.decoded)->reply_code, 320);
	th_destroy(c);
	ck_assert_int_eq(req_guest("GET", "/api/vhosts/adm-v", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("DELETE", "/api/vhosts/adm-v", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("DELETE", "/api/users/adm-u", NULL, &r), 204);
	th_http_free(&r);
	th_http("GET", "/api/whoami", "adm-u:pw1", NULL, &r);
	ck_assert_int_eq(r.status, 401);
	th_http_free(&r);

	th_broker_restart();
	ck_assert_int_eq(req_guest("GET", "/api/vhosts/adm-v", NULL, &r), 404);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/users/adm-u", NULL, &r), 404);
	th_http_free(&r);
	/* made again, the vhost starts empty and with no grants */
	ck_assert_int_eq(req_guest("PUT", "/api/vhosts/adm-v", NULL, &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/queues/adm-v/adm-kept", NULL, &r), 404);
	th_http_free(&r);

	/* definitions carry vhosts, users (their hashes) and permissions */
	ck_assert_int_eq(req_guest("PUT", "/api/users/adm-x", "{\"password\":\"pwx\",\"tags\":\"monitoring\"}", &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("PUT", "/api/permissions/adm-v/adm-x", all, &r), 201);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/definitions", NULL, &r), 200);
	char *defs = strdup(r.body);
	ck_assert_msg(has(defs, "{\"name\":\"adm-v\"}") && has(defs, "\"name\":\"adm-x\",\"password_hash\":\"") &&
			      has(defs, "{\"user\":\"adm-x\",\"vhost\":\"adm-v\""), "%s", defs);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("DELETE", "/api/vhosts/adm-v", NULL, &r), 204);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("DELETE", "/api/users/adm-x", NULL, &r), 204);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("POST", "/api/definitions", defs, &r), 204);
	th_http_free(&r);
	free(defs);
	th_http("GET", "/api/whoami", "adm-x:pwx", NULL, &r); /* the same password */
	ck_assert_int_eq(r.status, 200);
	th_http_free(&r);
	ck_assert_int_eq(req_guest("GET", "/api/permissions/adm-v/adm-x", NULL, &r), 200);
	th_http_free(&r);
}
END_TEST

int main(void)
{
	if (getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: the HTTP API test needs a tandemd of its own\n");
		return 77;
	}
	char port[16], kport[16];
	http_port = su_free_port();
	th_http_port(http_port);
	do
		kafka_port = su_free_port();
	while (kafka_port == http_port);
	snprintf(port, sizeof(port), "%d", http_port);
	snprintf(kport, sizeof(kport), "%d", kafka_port);
	/* a Kafka group's first member is answered at once, not after Kafka's
	 * 3 s group.initial.rebalance.delay.ms (test_topics_with_data) */
	const char *args[] = { "--http-port", port, "--kafka-port", kport, "--auto-create-topics", "true",
			       "--users.plain.password", "plainpw", "--users.watcher.password", "watchpw",
			       "--users.watcher.tags", "monitoring", "--group-initial-rebalance-delay-ms", "0",
			       NULL };
	th_start_with_args(args);
	Suite *s = suite_create("http");
	/* the two that wait (the 5 s rate sample; Kafka clients) side by side
	 * with the rest: names of their own, no totals another test asserts on */
	tcase_add_test(tp_tcase(s, "rates", TH_TEST_TIMEOUT), test_rates);
	tcase_add_test(tp_tcase(s, "topics-data", TH_TEST_TIMEOUT), test_topics_with_data);
	TCase *tc = th_tcase("api");
	tcase_add_test(tc, test_auth_required);
	tcase_add_test(tc, test_overview);
	tcase_add_test(tc, test_users_permissions);
	tcase_add_test(tc, test_unknown_paths);
	tcase_add_test(tc, test_method_not_allowed_405_allow);
	tcase_add_test(tc, test_vhost_with_slash_one_segment);
	tcase_add_test(tc, test_malformed_json);
	tcase_add_test(tc, test_declare_http_seen_over_amqp);
	tcase_add_test(tc, test_declare_amqp_seen_over_http);
	tcase_add_test(tc, test_publish_and_get);
	tcase_add_test(tc, test_publish_routing);
	tcase_add_test(tc, test_publish_cc_bcc);
	tcase_add_test(tc, test_purge_and_delete);
	tcase_add_test(tc, test_bindings);
	tcase_add_test(tc, test_connections_channels);
	tcase_add_test(tc, test_consumers);
	tcase_add_test(tc, test_close_connection);
	tcase_add_test(tc, test_health);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_metrics_format);
	tcase_add_test(tc, test_rabbitmq_error_answers);
	tcase_add_test(tc, test_fsync_histogram_and_totals);
	tcase_add_test(tc, test_topics_shape);
	tcase_add_test(tc, test_tandemctl);
	tcase_add_test(tc, test_cluster_api_single_node);
	tcase_add_test(tc, test_topic_replication_factor_single_node);
	tcase_add_test(tc, test_definitions);
	tcase_add_test(tc, test_stream_queue);
	tcase_add_test(tc, test_stream_queue_leader_members);
	tcase_add_test(tc, test_console);
	tcase_add_test(tc, test_vhosts_users_persist);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
