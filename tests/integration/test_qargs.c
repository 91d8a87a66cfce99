/*
 * Queue arguments get one verdict whichever door a declaration comes
 * through (issue 12): for each argument below, a declare over AMQP is
 * closed with 406 and a text, and a PUT /api/queues/... with the same
 * arguments as JSON is refused with 400 and the same text as its reason
 * (RabbitMQ's management plugin declares through a channel and reports
 * that channel's close).  Before core validated arguments, the HTTP API
 * had rules and words of its own (an unknown x-queue-type, a negative
 * x-max-length or a string TTL got "invalid arg 'x-...'" and nothing
 * more; a string x-single-active-consumer or a ten-year-plus TTL passed).
 *
 * Depends on: Check, rabbitmq-c, the harness, the HTTP client, and the
 * management API's JSON reader (src/util/json.c, compiled in).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "util/json.h"
#include "http_client.h"

static int http_port;

/* One argument: its AMQP field and the same as JSON. */
struct qarg_case {
	const char *key;
	char kind;          /* 'l' long, 'S' string, 't' bool */
	long long i;
	const char *s;
	const char *json;   /* the "arguments" object */
	const char *expect; /* a part of the text both must give */
	int stream;         /* with x-queue-type "stream", durable */
};

static const struct qarg_case cases[] = {
	{ "x-max-length", 'l', -1, NULL, "{\"x-max-length\":-1}", "{value_negative,-1}", 0 },
	{ "x-queue-type", 'S', 0, "quorum", "{\"x-queue-type\":\"quorum\"}",
	  "\"unsupported queue type 'quorum'\"", 0 },
	{ "x-message-ttl", 'S', 0, "abc", "{\"x-message-ttl\":\"abc\"}",
	  "\"expected integer, got longstr\"", 0 },
	{ "x-message-ttl", 'l', 315360000001LL, NULL, "{\"x-message-ttl\":315360000001}",
	  "{value_too_large,315360000001}", 0 },
	{ "x-single-active-consumer", 'S', 0, "yes", "{\"x-single-active-consumer\":\"yes\"}",
	  "{unacceptable_type,longstr}", 0 },
	{ "x-dead-letter-exchange", 'l', 5, NULL, "{\"x-dead-letter-exchange\":5}",
	  "invalid type 'long' for arg 'x-dead-letter-exchange'", 0 },
	{ "x-queue-mode", 'S', 0, "slow", "{\"x-queue-mode\":\"slow\"}",
	  "\"unsupported queue mode 'slow'\"", 0 },
	{ "x-overflow", 'S', 0, "drop-tail", "{\"x-overflow\":\"drop-tail\"}", "invalid_overflow", 0 },
	/* stream queues: retention values, arguments they refuse, bridge arguments */
	{ "x-max-age", 'S', 0, "7 days", "{\"x-queue-type\":\"stream\",\"x-max-age\":\"7 days\"}",
	  "invalid_max_age", 1 },
	{ "x-max-length", 'l', 5, NULL, "{\"x-queue-type\":\"stream\",\"x-max-length\":5}",
	  "of queue type rabbit_stream_queue", 1 },
	{ "x-max-length-bytes", 'l', -5, NULL,
	  "{\"x-queue-type\":\"stream\",\"x-max-length-bytes\":-5}", "{value_negative,-5}", 1 },
	{ "x-log-partitions", 'l', 0, NULL, "{\"x-queue-type\":\"stream\",\"x-log-partitions\":0}",
	  "expected an integer from 1 to 1000000", 1 },
};

/* The close text of an AMQP declare of queue q with the case's argument,
 * without the "PRECONDITION_FAILED - " the reply code adds. */
static void amqp_verdict(const struct qarg_case *k, const char *q, char *out, size_t cap)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_table_entry_t e[2] = { { .key = amqp_cstring_bytes(k->key) },
				    { .key = amqp_cstring_bytes("x-queue-type") } };
	if (k->kind == 'l') {
		e[0].value.kind = AMQP_FIELD_KIND_I64;
		e[0].value.value.i64 = k->i;
	} else {
		e[0].value.kind = AMQP_FIELD_KIND_UTF8;
		e[0].value.value.bytes = amqp_cstring_bytes(k->s);
	}
	e[1].value.kind = AMQP_FIELD_KIND_UTF8;
	e[1].value.value.bytes = amqp_cstring_bytes("stream");
	amqp_table_t args = { .num_entries = k->stream ? 2 : 1, .entries = e };
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, (amqp_boolean_t)k->stream, 0, 0, args);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	const char *t = th_last_close_text(), *p = "PRECONDITION_FAILED - ";
	ck_assert_msg(strncmp(t, p, strlen(p)) == 0, "%s: %s", k->key, t);
	snprintf(out, cap, "%s", t + strlen(p));
	th_close(c);
}

/* The reason of a PUT /api/queues/%2F/q with the case's argument (400). */
static void http_verdict(const struct qarg_case *k, const char *q, char *out, size_t cap)
{
	char path[300], body[300], err[128];
	struct th_http_resp r;
	struct js_doc d;
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	snprintf(body, sizeof(body), "{\"durable\":%s,\"arguments\":%s}",
		 k->stream ? "true" : "false", k->json);
	ck_assert_int_eq(th_http("PUT", path, "guest:guest", body, &r), 400);
	ck_assert_msg(js_parse(&d, r.body, r.len, err, sizeof(err)) == 0, "%s: %s", err, r.body);
	int reason = js_get(&d, 0, "reason");
	size_t n;
	char *s = reason >= 0 ? js_strdup(&d, reason, &n) : NULL;
	ck_assert_msg(s != NULL, "no reason: %s", r.body);
	snprintf(out, cap, "%s", s);
	free(s);
	js_doc_free(&d);
	th_http_free(&r);
}

START_TEST(test_http_queue_args_same_verdict_as_amqp)
{
	const struct qarg_case *k = &cases[_i];
	char q[128], a[512], h[512];
	th_name(q, sizeof(q), "qargs");
	amqp_verdict(k, q, a, sizeof(a));
	http_verdict(k, q, h, sizeof(h));
	ck_assert_msg(strstr(a, k->expect) != NULL, "AMQP %s: %s", k->key, a);
	ck_assert_msg(strcmp(a, h) == 0, "%s: AMQP says \"%s\", HTTP says \"%s\"", k->key, a, h);
	/* and neither door created the queue */
	struct th_http_resp r;
	char path[300];
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(th_http("GET", path, "guest:guest", NULL, &r), 404);
	th_http_free(&r);
}
END_TEST

/* A stream queue must be durable: the same words through both doors. */
START_TEST(test_http_stream_queue_properties_same_verdict)
{
	char q[128], path[300], err[128];
	struct th_http_resp r;
	struct js_doc d;
	th_name(q, sizeof(q), "qargs-nd");
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_table_entry_t e = { .key = amqp_cstring_bytes("x-queue-type"),
				 .value = { .kind = AMQP_FIELD_KIND_UTF8,
					    .value = { .bytes = amqp_cstring_bytes("stream") } } };
	amqp_table_t args = { .num_entries = 1, .entries = &e };
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 0, 0, 0, args);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	const char *t = th_last_close_text() + strlen("PRECONDITION_FAILED - ");
	ck_assert_msg(strstr(t, "invalid property 'non-durable'") != NULL, "%s", t);
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(th_http("PUT", path, "guest:guest",
				 "{\"durable\":false,\"arguments\":{\"x-queue-type\":\"stream\"}}", &r),
			 400);
	ck_assert_msg(js_parse(&d, r.body, r.len, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(js_streq(&d, js_get(&d, 0, "reason"), t), "AMQP: %s, HTTP: %s", t, r.body);
	js_doc_free(&d);
	th_http_free(&r);
	th_close(c);
}
END_TEST

/* Valid arguments still pass both doors, and mean the same. */
START_TEST(test_http_queue_args_valid_accepted)
{
	char q[128], path[300];
	struct th_http_resp r;
	th_name(q, sizeof(q), "qargs-ok");
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(th_http("PUT", path, "guest:guest",
				 "{\"durable\":false,\"arguments\":{\"x-max-length\":2,"
				 "\"x-overflow\":\"reject-publish\",\"x-queue-type\":\"classic\","
				 "\"x-single-active-consumer\":true,\"x-message-ttl\":60000}}",
				 &r),
			 201);
	th_http_free(&r);
	ck_assert_int_eq(th_http("DELETE", path, "guest:guest", NULL, &r), 204);
	th_http_free(&r);
}
END_TEST

/* The management API's JSON <-> field table mapping (now on the shared
 * codec's builder and reader) keeps every JSON type and 16 levels of
 * nesting, as it did with its own encoder. */
START_TEST(test_http_arguments_round_trip)
{
	char q[128], path[300], body[1024], err[128];
	const char *args = "{\"x-n\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
			   "{\"a\":{\"a\":{\"a\":[1]}}}}}}}}}}},"
			   "\"x-list\":[1,\"s\",true,null,1.5,-7,{\"k\":\"v\"}],\"x-str\":\"caf\u00e9\"}";
	struct th_http_resp r;
	struct js_doc d;
	th_name(q, sizeof(q), "qargs-rt");
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	snprintf(body, sizeof(body), "{\"durable\":false,\"arguments\":%s}", args);
	ck_assert_msg(th_http("PUT", path, "guest:guest", body, &r) == 201, "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(th_http("GET", path, "guest:guest", NULL, &r), 200);
	ck_assert_msg(js_parse(&d, r.body, r.len, err, sizeof(err)) == 0, "%s", err);
	int a = js_get(&d, 0, "arguments");
	int n = js_get(&d, a, "x-n");
	for (int i = 0; i < 11; i++)
		n = js_get(&d, n, "a");
	ck_assert_msg(n >= 0 && js_type_of(&d, n) == JS_ARR, "%s", r.body);
	int l = js_get(&d, a, "x-list"), e = js_child(&d, l);
	int64_t iv;
	double x;
	ck_assert(js_int64(&d, e, &iv) == 0 && iv == 1);
	e = js_next(&d, l, e);
	ck_assert(js_streq(&d, e, "s"));
	e = js_next(&d, l, e);
	ck_assert_int_eq(js_type_of(&d, e), JS_TRUE);
	e = js_next(&d, l, e);
	ck_assert_int_eq(js_type_of(&d, e), JS_NULL);
	e = js_next(&d, l, e);
	ck_assert(js_num(&d, e, &x) == 0 && x == 1.5);
	e = js_next(&d, l, e);
	ck_assert(js_int64(&d, e, &iv) == 0 && iv == -7);
	e = js_next(&d, l, e);
	ck_assert(js_streq(&d, js_get(&d, e, "k"), "v"));
	ck_assert(js_streq(&d, js_get(&d, a, "x-str"), "caf\xc3\xa9"));
	js_doc_free(&d);
	th_http_free(&r);
	ck_assert_int_eq(th_http("DELETE", path, "guest:guest", NULL, &r), 204);
	th_http_free(&r);
}
END_TEST

int main(void)
{
	if (getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: the test compares tandemd's HTTP API with its AMQP side\n");
		return 77;
	}
	char port[16];
	http_port = su_free_port();
	th_http_port(http_port);
	snprintf(port, sizeof(port), "%d", http_port);
	const char *args[] = { "--http-port", port, NULL };
	th_start_with_args(args);
	Suite *s = suite_create("qargs");
	TCase *tc = th_tcase("qargs");
	tcase_add_loop_test(tc, test_http_queue_args_same_verdict_as_amqp, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_http_stream_queue_properties_same_verdict);
	tcase_add_test(tc, test_http_queue_args_valid_accepted);
	tcase_add_test(tc, test_http_arguments_round_trip);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
