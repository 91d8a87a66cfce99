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
	{ "x-queue-type", 'S', 0, "bogus", "{\"x-queue-type\":\"bogus\"}",
	  "\"unsupported queue type 'bogus'\"", 0 },
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

/* ---- quorum queues: RabbitMQ 3.10's refusals ------------------------------ */

/* One argument after x-queue-type "quorum" ('l' long, 'S' string, 't' bool). */
struct qq_arg {
	const char *key;
	char kind;
	long long i;
	const char *s;
};

/* A quorum declaration and RabbitMQ's answer, recorded from RabbitMQ 3.10
 * (compat/python/test_cluster_amqp.py, class Quorum, and a private node). */
struct qq_case {
	const char *what;
	int durable, exclusive, auto_delete;
	struct qq_arg args[3]; /* key NULL ends */
	const char *json;      /* the same after "x-queue-type":"quorum" for a PUT; NULL: AMQP only */
	const char *expect;    /* the text after "PRECONDITION_FAILED - "; %s: the queue */
};

#define QQ_TYPE(k) "invalid arg '" k "' for queue '%s' in vhost '/' of queue type rabbit_quorum_queue"
#define QQ_ARG(k, why) "invalid arg '" k "' for queue '%s' in vhost '/': " why

static const struct qq_case qq_cases[] = {
	{ "exclusive", 1, 1, 0, { { NULL } }, NULL,
	  "invalid property 'exclusive-owner' for queue '%s' in vhost '/'" },
	{ "exclusive before durable", 0, 1, 0, { { NULL } }, NULL,
	  "invalid property 'exclusive-owner' for queue '%s' in vhost '/'" },
	{ "non-durable", 0, 0, 0, { { NULL } }, "",
	  "invalid property 'non-durable' for queue '%s' in vhost '/'" },
	{ "auto-delete", 1, 0, 1, { { NULL } }, "",
	  "invalid property 'auto-delete' for queue '%s' in vhost '/'" },
	{ "auto-delete before exclusive", 1, 1, 1, { { NULL } }, NULL,
	  "invalid property 'auto-delete' for queue '%s' in vhost '/'" },
	{ "x-max-priority", 1, 0, 0, { { "x-max-priority", 'l', 5, NULL } },
	  ",\"x-max-priority\":5", QQ_TYPE("x-max-priority") },
	{ "x-max-priority -1: refused, not read", 1, 0, 0, { { "x-max-priority", 'l', -1, NULL } },
	  ",\"x-max-priority\":-1", QQ_TYPE("x-max-priority") },
	{ "x-queue-mode", 1, 0, 0, { { "x-queue-mode", 'S', 0, "lazy" } },
	  ",\"x-queue-mode\":\"lazy\"", QQ_TYPE("x-queue-mode") },
	{ "x-queue-master-locator", 1, 0, 0, { { "x-queue-master-locator", 'S', 0, "min-masters" } },
	  ",\"x-queue-master-locator\":\"min-masters\"", QQ_TYPE("x-queue-master-locator") },
	{ "x-queue-version", 1, 0, 0, { { "x-queue-version", 'l', 2, NULL } },
	  ",\"x-queue-version\":2", QQ_TYPE("x-queue-version") },
	{ "x-max-age", 1, 0, 0, { { "x-max-age", 'S', 0, "1D" } }, ",\"x-max-age\":\"1D\"",
	  QQ_TYPE("x-max-age") },
	{ "x-stream-max-segment-size-bytes", 1, 0, 0,
	  { { "x-stream-max-segment-size-bytes", 'l', 5, NULL } },
	  ",\"x-stream-max-segment-size-bytes\":5", QQ_TYPE("x-stream-max-segment-size-bytes") },
	{ "x-initial-cluster-size", 1, 0, 0, { { "x-initial-cluster-size", 'l', 1, NULL } },
	  ",\"x-initial-cluster-size\":1", QQ_TYPE("x-initial-cluster-size") },
	{ "the table's first refused argument", 1, 0, 0,
	  { { "x-queue-mode", 'S', 0, "lazy" }, { "x-max-priority", 'l', 5, NULL } },
	  ",\"x-queue-mode\":\"lazy\",\"x-max-priority\":5", QQ_TYPE("x-queue-mode") },
	{ "the table's first refused argument, other order", 1, 0, 0,
	  { { "x-max-priority", 'l', 5, NULL }, { "x-queue-mode", 'S', 0, "lazy" } },
	  ",\"x-max-priority\":5,\"x-queue-mode\":\"lazy\"", QQ_TYPE("x-max-priority") },
	{ "arguments before properties", 0, 0, 0, { { "x-max-priority", 'l', 5, NULL } },
	  ",\"x-max-priority\":5", QQ_TYPE("x-max-priority") },
	{ "x-quorum-initial-group-size 0", 1, 0, 0,
	  { { "x-quorum-initial-group-size", 'l', 0, NULL } }, ",\"x-quorum-initial-group-size\":0",
	  QQ_ARG("x-quorum-initial-group-size", "{value_zero,0}") },
	{ "x-quorum-initial-group-size -1", 1, 0, 0,
	  { { "x-quorum-initial-group-size", 'l', -1, NULL } }, ",\"x-quorum-initial-group-size\":-1",
	  QQ_ARG("x-quorum-initial-group-size", "{value_negative,-1}") },
	{ "x-quorum-initial-group-size abc", 1, 0, 0,
	  { { "x-quorum-initial-group-size", 'S', 0, "abc" } },
	  ",\"x-quorum-initial-group-size\":\"abc\"",
	  QQ_ARG("x-quorum-initial-group-size", "\"expected integer, got longstr\"") },
	{ "values before refused arguments", 1, 0, 0,
	  { { "x-max-priority", 'l', 5, NULL }, { "x-quorum-initial-group-size", 'l', 0, NULL } },
	  ",\"x-max-priority\":5,\"x-quorum-initial-group-size\":0",
	  QQ_ARG("x-quorum-initial-group-size", "{value_zero,0}") },
	{ "values in RabbitMQ's order", 1, 0, 0,
	  { { "x-max-length", 'l', -1, NULL }, { "x-message-ttl", 'l', -1, NULL } },
	  ",\"x-max-length\":-1,\"x-message-ttl\":-1",
	  QQ_ARG("x-message-ttl", "{value_negative,-1}") },
	{ "x-dead-letter-exchange's type first", 0, 0, 0,
	  { { "x-max-priority", 'l', 5, NULL }, { "x-dead-letter-exchange", 'l', 5, NULL } },
	  ",\"x-max-priority\":5,\"x-dead-letter-exchange\":5",
	  "invalid type 'long' for arg 'x-dead-letter-exchange' in queue '%s' in vhost '/'" },
	{ "x-dead-letter-routing-key without x-dead-letter-exchange", 1, 0, 0,
	  { { "x-dead-letter-routing-key", 'S', 0, "k" } }, ",\"x-dead-letter-routing-key\":\"k\"",
	  QQ_ARG("x-dead-letter-routing-key", "routing_key_but_no_dlx_defined") },
	{ "x-dead-letter-routing-key's type", 1, 0, 0,
	  { { "x-dead-letter-exchange", 'S', 0, "x" }, { "x-dead-letter-routing-key", 'l', 5, NULL } },
	  ",\"x-dead-letter-exchange\":\"x\",\"x-dead-letter-routing-key\":5",
	  QQ_ARG("x-dead-letter-routing-key", "{unacceptable_type,long}") },
	{ "x-dead-letter-strategy", 1, 0, 0, { { "x-dead-letter-strategy", 'S', 0, "foo" } },
	  ",\"x-dead-letter-strategy\":\"foo\"", QQ_ARG("x-dead-letter-strategy", "invalid_dlx_strategy") },
	{ "x-queue-leader-locator", 1, 0, 0, { { "x-queue-leader-locator", 'S', 0, "foo" } },
	  ",\"x-queue-leader-locator\":\"foo\"",
	  QQ_ARG("x-queue-leader-locator", "invalid_queue_locator_arg") },
	{ "x-overflow", 1, 0, 0, { { "x-overflow", 'S', 0, "foo" } }, ",\"x-overflow\":\"foo\"",
	  QQ_ARG("x-overflow", "invalid_overflow") },
	{ "x-single-active-consumer", 1, 0, 0, { { "x-single-active-consumer", 'S', 0, "yes" } },
	  ",\"x-single-active-consumer\":\"yes\"",
	  QQ_ARG("x-single-active-consumer", "{unacceptable_type,longstr}") },
	{ "x-expires 0", 1, 0, 0, { { "x-expires", 'l', 0, NULL } }, ",\"x-expires\":0",
	  QQ_ARG("x-expires", "{value_zero,0}") },
	{ "x-max-in-memory-length -1", 1, 0, 0, { { "x-max-in-memory-length", 'l', -1, NULL } },
	  ",\"x-max-in-memory-length\":-1", QQ_ARG("x-max-in-memory-length", "{value_negative,-1}") },
};

/* The close text of a quorum declaration k of queue q over AMQP (code 406). */
static void qq_amqp(const struct qq_case *k, const char *q, char *out, size_t cap)
{
	amqp_connection_state_t c = th_connect();
	amqp_table_entry_t e[4] = { { .key = amqp_cstring_bytes("x-queue-type"),
				      .value = { .kind = AMQP_FIELD_KIND_UTF8,
						 .value = { .bytes = amqp_cstring_bytes("quorum") } } } };
	int n = 1;
	for (const struct qq_arg *a = k->args; a < k->args + 3 && a->key; a++, n++) {
		e[n].key = amqp_cstring_bytes(a->key);
		if (a->kind == 'S') {
			e[n].value.kind = AMQP_FIELD_KIND_UTF8;
			e[n].value.value.bytes = amqp_cstring_bytes(a->s);
		} else if (a->kind == 't') {
			e[n].value.kind = AMQP_FIELD_KIND_BOOLEAN;
			e[n].value.value.boolean = (amqp_boolean_t)a->i;
		} else {
			e[n].value.kind = AMQP_FIELD_KIND_I64;
			e[n].value.value.i64 = a->i;
		}
	}
	amqp_table_t args = { .num_entries = n, .entries = e };
	th_channel(c, 1);
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, (amqp_boolean_t)k->durable,
			   (amqp_boolean_t)k->exclusive, (amqp_boolean_t)k->auto_delete, args);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	const char *t = th_last_close_text(), *p = "PRECONDITION_FAILED - ";
	ck_assert_msg(strncmp(t, p, strlen(p)) == 0, "%s: %s", k->what, t);
	snprintf(out, cap, "%s", t + strlen(p));
	th_close(c);
}

/* The reason of a PUT /api/queues/%2F/q of quorum declaration k (400). */
static void qq_http(const struct qq_case *k, const char *q, char *out, size_t cap)
{
	char path[300], body[600], err[128];
	struct th_http_resp r;
	struct js_doc d;
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	snprintf(body, sizeof(body),
		 "{\"durable\":%s,\"auto_delete\":%s,\"arguments\":{\"x-queue-type\":\"quorum\"%s}}",
		 k->durable ? "true" : "false", k->auto_delete ? "true" : "false", k->json);
	ck_assert_msg(th_http("PUT", path, "guest:guest", body, &r) == 400, "%s: %s", k->what,
		      r.body);
	ck_assert_msg(js_parse(&d, r.body, r.len, err, sizeof(err)) == 0, "%s: %s", err, r.body);
	size_t n;
	int reason = js_get(&d, 0, "reason");
	char *s = reason >= 0 ? js_strdup(&d, reason, &n) : NULL;
	ck_assert_msg(s != NULL, "no reason: %s", r.body);
	snprintf(out, cap, "%s", s);
	free(s);
	js_doc_free(&d);
	th_http_free(&r);
}

/* Each refusal: RabbitMQ's words over AMQP and, without exclusive, as the
 * reason of a 400 to the management API's PUT; no queue made. */
START_TEST(test_quorum_refusals_as_rabbitmq)
{
	const struct qq_case *k = &qq_cases[_i];
	char q[128], want[512], a[512], h[512], path[300];
	struct th_http_resp r;
	th_name(q, sizeof(q), "qq");
	snprintf(want, sizeof(want), k->expect, q);
	qq_amqp(k, q, a, sizeof(a));
	ck_assert_msg(strcmp(a, want) == 0, "%s: AMQP says \"%s\", RabbitMQ \"%s\"", k->what, a, want);
	if (k->json) {
		qq_http(k, q, h, sizeof(h));
		ck_assert_msg(strcmp(h, want) == 0, "%s: HTTP says \"%s\"", k->what, h);
	}
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	ck_assert_int_eq(th_http("GET", path, "guest:guest", NULL, &r), 404);
	th_http_free(&r);
}
END_TEST

/* rabbit_channel refuses a server-named quorum queue before anything
 * else, and a reserved name (403) before the arguments. */
START_TEST(test_quorum_server_named_and_reserved_name)
{
	amqp_connection_state_t c = th_connect();
	amqp_table_entry_t e[2] = {
		{ .key = amqp_cstring_bytes("x-queue-type"),
		  .value = { .kind = AMQP_FIELD_KIND_UTF8,
			     .value = { .bytes = amqp_cstring_bytes("quorum") } } },
		{ .key = amqp_cstring_bytes("x-max-priority"),
		  .value = { .kind = AMQP_FIELD_KIND_I64, .value = { .i64 = 5 } } },
	};
	amqp_table_t args = { .num_entries = 1, .entries = e };
	th_channel(c, 1);
	amqp_queue_declare(c, 1, amqp_cstring_bytes(""), 0, 0, 1, 1, args);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	ck_assert_str_eq(th_last_close_text(), "PRECONDITION_FAILED - Cannot declare a server-named "
					       "queue for type rabbit_quorum_queue");
	args.num_entries = 2;
	th_channel(c, 1);
	amqp_queue_declare(c, 1, amqp_cstring_bytes("amq.qq"), 0, 1, 0, 0, args);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	ck_assert_str_eq(th_last_close_text(),
			 "ACCESS_REFUSED - queue name 'amq.qq' contains reserved prefix 'amq.*'");
	th_close(c);
}
END_TEST

/* A declaration of queue q on a new channel of c with n arguments: NULL
 * when declare-ok, else the close text (that channel is closed). */
static const char *redeclare(amqp_connection_state_t c, const char *q, int durable,
			     amqp_table_entry_t *e, int n)
{
	static amqp_channel_t ch;
	amqp_table_t args = { .num_entries = n, .entries = e };
	th_channel(c, ++ch);
	if (amqp_queue_declare(c, ch, amqp_cstring_bytes(q), 0, (amqp_boolean_t)durable, 0, 0,
			       args))
		return NULL;
	th_expect_channel_close(c, ch, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	return th_last_close_text();
}

static amqp_table_entry_t str_entry(const char *k, const char *v, uint8_t kind)
{
	amqp_table_entry_t e = { .key = amqp_cstring_bytes(k) };
	e.value.kind = kind;
	e.value.value.bytes = amqp_cstring_bytes(v);
	return e;
}

/* Redeclaring a classic queue: RabbitMQ 3.10 takes a missing x-queue-type
 * and 'classic' (a longstr) for each other, compares a classic queue's
 * arguments in its own order (x-single-active-consumer before
 * x-queue-type) and leaves the arguments of other types alone. */
START_TEST(test_classic_queue_type_equivalence)
{
	char q1[128], q2[128], want[512];
	amqp_connection_state_t c = th_connect();
	amqp_table_entry_t classic = str_entry("x-queue-type", "classic", AMQP_FIELD_KIND_UTF8);
	amqp_table_entry_t bytes = str_entry("x-queue-type", "classic", AMQP_FIELD_KIND_BYTES);
	amqp_table_entry_t quorum[2] = { str_entry("x-queue-type", "quorum", AMQP_FIELD_KIND_UTF8),
					 { .key = amqp_cstring_bytes("x-single-active-consumer"),
					   .value = { .kind = AMQP_FIELD_KIND_BOOLEAN,
						      .value = { .boolean = 1 } } } };
	amqp_table_entry_t others[2] = { str_entry("x-max-age", "1D", AMQP_FIELD_KIND_UTF8),
					 { .key = amqp_cstring_bytes("x-delivery-limit"),
					   .value = { .kind = AMQP_FIELD_KIND_I64,
						      .value = { .i64 = 3 } } } };
	const char *t;
	th_name(q1, sizeof(q1), "qt-none");
	th_name(q2, sizeof(q2), "qt-classic");
	ck_assert_ptr_null(redeclare(c, q1, 1, NULL, 0));
	ck_assert_ptr_null(redeclare(c, q1, 1, &classic, 1));
	ck_assert_ptr_null(redeclare(c, q1, 1, NULL, 0));
	ck_assert_ptr_null(redeclare(c, q1, 1, others, 2));
	ck_assert_ptr_null(redeclare(c, q2, 1, &classic, 1));
	ck_assert_ptr_null(redeclare(c, q2, 1, NULL, 0));
	ck_assert_ptr_null(redeclare(c, q2, 1, &bytes, 1)); /* the same bytes */
	/* a missing x-queue-type is 'classic' only against a longstr 'classic' */
	t = redeclare(c, q1, 1, &bytes, 1);
	snprintf(want, sizeof(want), "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for "
		 "queue '%s' in vhost '/': received the value 'classic' of type 'binary' but "
		 "current is none", q1);
	ck_assert_str_eq(t, want);
	t = redeclare(c, q1, 1, quorum, 1);
	snprintf(want, sizeof(want), "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for "
		 "queue '%s' in vhost '/': received the value 'quorum' of type 'longstr' but "
		 "current is none", q1);
	ck_assert_str_eq(t, want);
	t = redeclare(c, q2, 1, quorum, 1);
	snprintf(want, sizeof(want), "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for "
		 "queue '%s' in vhost '/': received 'quorum' but current is 'classic'", q2);
	ck_assert_str_eq(t, want);
	t = redeclare(c, q2, 1, quorum, 2);
	snprintf(want, sizeof(want), "PRECONDITION_FAILED - inequivalent arg "
		 "'x-single-active-consumer' for queue '%s' in vhost '/': received the value "
		 "'true' of type 'bool' but current is none", q2);
	ck_assert_str_eq(t, want);
	/* the properties before the arguments, and no quorum refusal for an existing queue */
	t = redeclare(c, q2, 0, quorum, 1);
	snprintf(want, sizeof(want), "PRECONDITION_FAILED - inequivalent arg 'durable' for queue "
		 "'%s' in vhost '/': received 'false' but current is 'true'", q2);
	ck_assert_str_eq(t, want);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q1), 0, 0); /* channel 1 stayed open */
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q2), 0, 0);
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
	tcase_add_loop_test(tc, test_quorum_refusals_as_rabbitmq, 0,
			    (int)(sizeof(qq_cases) / sizeof(qq_cases[0])));
	tcase_add_test(tc, test_quorum_server_named_and_reserved_name);
	tcase_add_test(tc, test_classic_queue_type_equivalence);
	tcase_add_test(tc, test_http_queue_args_valid_accepted);
	tcase_add_test(tc, test_http_arguments_round_trip);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
