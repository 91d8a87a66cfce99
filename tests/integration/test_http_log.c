/*
 * The log side of the management API against a real tandemd (HTTP and
 * Kafka listeners on free loopback ports): topic create/grow/delete over
 * HTTP, records by offset, consumer groups with live members (joined with
 * raw JoinGroup/SyncGroup requests carrying a consumer-protocol
 * assignment), the group fetch that commits, DELETE of a group, /metrics
 * and tandemctl's topic and group commands.  Records are produced with
 * librdkafka (gzip batches among them).
 *
 * Depends on: Check, librdkafka, POSIX sockets, the two harnesses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "http_client.h"
#include "kafka_harness.h"

static int http_port, kafka_port;
static char bootstrap[64];

static int guest(const char *method, const char *path, const char *body, struct th_http_resp *r)
{
	return th_http(method, path, "guest:guest", body, r);
}

static int has(const char *s, const char *needle)
{
	return strstr(s, needle) != NULL;
}

/* GET path as guest into b, expecting 200 (th_http_free(b) after). */
static void get_ok(const char *path, struct th_http_resp *b)
{
	int st = guest("GET", path, NULL, b);
	ck_assert_msg(st == 200, "GET %s: %d %s", path, st, b->body);
}

/* One request whose status must be status and whose JSON reply, when
 * json is given, matches it (th_jmatch: the members json names). */
static void expect(const char *method, const char *path, const char *body, int status, const char *json)
{
	struct th_http_resp r;
	int st = guest(method, path, body, &r);
	ck_assert_msg(st == status && (!json || th_jmatch(&r, "", json)), "%s %s: %d %s (want %d, %s)", method,
		      path, st, r.body, status, json ? json : "");
	th_http_free(&r);
}

static void create_topic(const char *name, int partitions)
{
	char path[256], body[64];
	snprintf(path, sizeof(path), "/api/topics/%s", name);
	snprintf(body, sizeof(body), "{\"partitions\":%d}", partitions);
	expect("PUT", path, body, 201, NULL);
}

/* Produces value (key may be NULL) to topic/partition; gzip batches when gz. */
static void produce(const char *topic, int32_t part, const char *key, const char *value, int gz)
{
	const char *kv[] = { "compression.codec", gz ? "gzip" : "none", NULL };
	rd_kafka_t *p = kh_producer(bootstrap, kv);
	ck_assert_int_eq(kh_produce_sync(p, topic, part, key, value, 0, NULL), 0);
	rd_kafka_destroy(p);
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_auth)
{
	struct th_http_resp r;
	ck_assert_int_eq(th_http("GET", "/api/groups", NULL, NULL, &r), 401);
	th_http_free(&r);
	ck_assert_int_eq(th_http("GET", "/api/topics", "watcher:watchpw", NULL, &r), 200);
	th_http_free(&r);
	ck_assert_int_eq(th_http("GET", "/api/groups", "watcher:watchpw", NULL, &r), 200);
	th_http_free(&r);
	const char *writes[][3] = { { "PUT", "/api/topics/auth-t", "{}" },
				    { "DELETE", "/api/topics/auth-t", NULL },
				    { "DELETE", "/api/groups/auth-g", NULL },
				    { "POST", "/api/groups/auth-g/fetch", "{\"topic\":\"auth-t\"}" } };
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(th_http(writes[i][0], writes[i][1], "watcher:watchpw", writes[i][2], &r), 401);
		ck_assert_msg(th_jeq(&r, "", "{\"error\":\"not_authorised\",\"reason\":\"Not administrator user\"}"),
			      "%s", r.body);
		th_http_free(&r);
		ck_assert_int_eq(th_http(writes[i][0], writes[i][1], NULL, writes[i][2], &r), 401);
		th_http_free(&r);
	}
	expect("GET", "/api/topics/auth-t", NULL, 404, NULL);
}
END_TEST

START_TEST(test_topic_admin)
{
	char t[128], path[256];
	kh_name(t, sizeof(t), "adm");
	snprintf(path, sizeof(path), "/api/topics/%s", t);
	expect("PUT", path, "{\"partitions\":2,\"config\":{\"retention.ms\":\"3600000\",\"cleanup.policy\":\"delete\"}}",
	       201, NULL);
	struct th_http_resp b;
	get_ok(path, &b);
	ck_assert_msg(th_jmatch(&b, "", "{\"partitions\":2,\"config\":{\"retention.ms\":\"3600000\"}}"), "%s", b.body);
	th_http_free(&b);
	expect("PUT", path, "{\"partitions\":2,\"config\":{\"retention.ms\":3600000}}", 204, NULL);
	expect("PUT", path, "{}", 204, NULL);
	expect("PUT", path, "{\"partitions\":3}", 204, NULL);
	get_ok(path, &b);
	ck_assert_msg(th_jint(&b, "partitions", -1) == 3 && th_jnode(&b, "partition_details/[partition=2]") >= 0,
		      "%s", b.body);
	th_http_free(&b);
	expect("PUT", path, "{\"partitions\":1}", 400,
	       "{\"error\":\"invalid_partitions\",\"reason\":\"Topic currently has 3 partitions, which is higher "
	       "than the requested 1.\"}");
	expect("PUT", path, "{\"config\":{\"retention.ms\":\"1000\"}}", 400, "{\"error\":\"inequivalent_config\"}");
	expect("PUT", path, "{\"partitions\":0}", 400, "{\"error\":\"invalid_partitions\"}");
	expect("PUT", path, "not json", 400, "{\"error\":\"bad_request\",\"reason\":\"not_json\"}");
	expect("PUT", "/api/topics/bad%20name", "{}", 400,
	       "{\"error\":\"invalid_topic\",\"reason\":\"Topic name \\\"bad name\\\" is illegal, it contains a "
	       "character other than ASCII alphanumerics, '.', '_' and '-'\"}");
	expect("PUT", "/api/topics/..", "{}", 400,
	       "{\"error\":\"invalid_topic\",\"reason\":\"Topic name cannot be \\\".\\\" or \\\"..\\\"\"}");
	expect("PUT", "/api/topics/__consumer_offsets", "{}", 400, "{\"error\":\"invalid_topic\"}");
	expect("PUT", "/api/topics/adm-badcfg", "{\"config\":{\"no.such.key\":\"1\"}}", 400, "{\"error\":\"invalid_config\"}");
	expect("PUT", "/api/topics/adm-badcfg", "{\"config\":{\"retention.ms\":\"soon\"}}", 400,
	       "{\"error\":\"invalid_config\"}");
	expect("PUT", "/api/topics/adm-badcfg", "{\"config\":[1]}", 400, "{\"error\":\"invalid_config\"}");
	expect("GET", "/api/topics/adm-badcfg", NULL, 404, NULL);
	expect("DELETE", path, NULL, 204, NULL);
	expect("GET", path, NULL, 404, NULL);
	expect("DELETE", path, NULL, 404, NULL);
	expect("DELETE", "/api/topics/__consumer_offsets", NULL, 404, NULL);
	expect("POST", path, "{}", 405, NULL);
	/* without partitions: the broker's num_partitions (1) */
	expect("PUT", path, NULL, 201, NULL);
	get_ok(path, &b);
	ck_assert_int_eq(th_jint(&b, "partitions", -1), 1);
	th_http_free(&b);
	expect("DELETE", path, NULL, 204, NULL);
}
END_TEST

START_TEST(test_messages)
{
	char t[128], path[512];
	kh_name(t, sizeof(t), "rec");
	create_topic(t, 2);
	produce(t, 0, "k0", "v0", 0);
	produce(t, 0, "k1", "v1", 1);
	produce(t, 0, NULL, "v2", 1);
	produce(t, 0, "k3", "\xff\xfe", 0);
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/0/messages", t);
	struct th_http_resp b;
	get_ok(path, &b);
	ck_assert_msg(th_jmatch(&b, "", "{\"partition\":0,\"log_start_offset\":0,\"log_end_offset\":4,"
				     "\"next_offset\":4}") && th_jcount(&b, "messages") == 4,
		      "%s", b.body);
	ck_assert_msg(th_jmatch(&b, "messages/[offset=1]", "{\"key\":\"k1\",\"key_encoding\":\"string\","
				"\"payload\":\"v1\",\"payload_encoding\":\"string\"}"),
		      "%s", b.body);
	ck_assert_msg(th_jmatch(&b, "messages/[offset=2]", "{\"key\":null,\"payload\":\"v2\"}") &&
			      th_jmatch(&b, "messages/[offset=3]", "{\"payload\":\"//4=\",\"payload_encoding\":\"base64\"}"),
		      "%s", b.body);
	ck_assert_msg(th_jcontains(&b, "messages", "{\"headers\":{},\"partition\":0}") == 4 &&
			      th_jint(&b, "messages/0/timestamp", -1) >= 0,
		      "%s", b.body);
	th_http_free(&b);
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/0/messages?offset=1&count=2", t);
	get_ok(path, &b);
	ck_assert_msg(th_jcount(&b, "messages") == 2 && th_jint(&b, "messages/0/offset", -1) == 1 &&
			      th_jint(&b, "messages/1/offset", -1) == 2 && th_jint(&b, "next_offset", -1) == 3,
		      "%s", b.body);
	th_http_free(&b);
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/0/messages?offset=4", t);
	get_ok(path, &b);
	ck_assert_msg(th_jmatch(&b, "", "{\"messages\":[],\"next_offset\":4}"), "%s", b.body);
	th_http_free(&b);
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/0/messages?offset=5", t);
	expect("GET", path, NULL, 400,
	       "{\"error\":\"offset_out_of_range\",\"reason\":\"offset 5 is out of range: the partition holds offsets "
	       "0 (log start) to 4 (log end)\"}");
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/0/messages?count=0", t);
	expect("GET", path, NULL, 400, NULL);
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/0/messages?offset=-1", t);
	expect("GET", path, NULL, 400, NULL);
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/0/messages?count=5000", t);
	get_ok(path, &b);
	ck_assert_int_eq(th_jcount(&b, "messages"), 4);
	th_http_free(&b);
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/2/messages", t);
	expect("GET", path, NULL, 404, NULL);
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/x/messages", t);
	expect("GET", path, NULL, 404, NULL);
	expect("GET", "/api/topics/no-such-topic/partitions/0/messages", NULL, 404, NULL);
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/1/messages", t);
	get_ok(path, &b);
	ck_assert_msg(th_jmatch(&b, "", "{\"messages\":[],\"log_end_offset\":0}"), "%s", b.body);
	th_http_free(&b);
}
END_TEST

START_TEST(test_group_fetch)
{
	char t[128], g[128], path[512], body[256];
	kh_name(t, sizeof(t), "gf");
	kh_name(g, sizeof(g), "grp");
	create_topic(t, 2);
	for (int i = 0; i < 3; i++)
		produce(t, 0, NULL, "p0", i == 1);
	for (int i = 0; i < 2; i++)
		produce(t, 1, NULL, "p1", 0);
	snprintf(path, sizeof(path), "/api/groups/%s", g);
	expect("GET", path, NULL, 404, NULL);
	snprintf(path, sizeof(path), "/api/groups/%s/fetch", g);
	snprintf(body, sizeof(body), "{\"topic\":\"%s\",\"count\":4}", t);
	struct th_http_resp r;
	ck_assert_int_eq(guest("POST", path, body, &r), 200);
	ck_assert_msg(th_jcount(&r, "messages") == 4 && th_jcontains(&r, "messages", "{\"partition\":0}") == 3,
		      "%s", r.body);
	ck_assert_msg(th_jeq(&r, "offsets", "[{\"partition\":0,\"committed_offset\":3,\"log_end_offset\":3,\"lag\":0},"
				  "{\"partition\":1,\"committed_offset\":1,\"log_end_offset\":2,\"lag\":1}]"),
		      "%s", r.body);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/groups/%s", g);
	struct th_http_resp b;
	get_ok(path, &b);
	ck_assert_msg(th_jmatch(&b, "", "{\"state\":\"Empty\",\"members\":[],\"lag\":1}") &&
			      th_jint(&b, "offsets/[partition=0]/lag", -1) == 0,
		      "%s", b.body);
	ck_assert_msg(th_jmatch(&b, "offsets/[partition=1]", "{\"committed_offset\":1,\"log_end_offset\":2,\"lag\":1}"),
		      "%s", b.body);
	th_http_free(&b);
	get_ok("/api/groups", &b);
	{
		char sel[200];
		snprintf(sel, sizeof(sel), "[group=%s]", g);
		ck_assert_msg(th_jnode(&b, sel) >= 0, "%s", b.body);
	}
	th_http_free(&b);
	get_ok("/metrics", &b);
	char line[512];
	snprintf(line, sizeof(line), "tandem_group_lag{group=\"%s\",topic=\"%s\",partition=\"1\"} 1\n", g, t);
	ck_assert_msg(has(b.body, line), "no %s", line);
	th_http_free(&b);
	/* the rest; then nothing more */
	snprintf(path, sizeof(path), "/api/groups/%s/fetch", g);
	snprintf(body, sizeof(body), "{\"topic\":\"%s\"}", t);
	ck_assert_int_eq(guest("POST", path, body, &r), 200);
	ck_assert_msg(th_jcount(&r, "messages") == 1 && th_jmatch(&r, "messages/0", "{\"partition\":1,\"offset\":1}"),
		      "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(guest("POST", path, body, &r), 200);
	ck_assert_msg(th_jeq(&r, "messages", "[]"), "%s", r.body);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/groups/%s", g);
	get_ok(path, &b);
	ck_assert_msg(th_jint(&b, "lag", -1) == 0, "%s", b.body);
	th_http_free(&b);
	/* errors */
	snprintf(path, sizeof(path), "/api/groups/%s/fetch", g);
	expect("POST", path, "{\"topic\":\"no-such-topic\"}", 404, NULL);
	expect("POST", path, "{\"count\":1}", 400, NULL);
	expect("POST", path, "[", 400, "{\"error\":\"bad_request\",\"reason\":\"not_json\"}");
	snprintf(body, sizeof(body), "{\"topic\":\"%s\",\"count\":-1}", t);
	expect("POST", path, body, 400, NULL);
	expect("GET", path, NULL, 405, NULL);
	/* DeleteGroups: the offsets go; replay from the start afterwards */
	snprintf(path, sizeof(path), "/api/groups/%s", g);
	expect("DELETE", path, NULL, 204, NULL);
	expect("GET", path, NULL, 404, NULL);
	expect("DELETE", path, NULL, 404, NULL);
	snprintf(path, sizeof(path), "/api/groups/%s/fetch", g);
	snprintf(body, sizeof(body), "{\"topic\":\"%s\",\"count\":1000}", t);
	ck_assert_int_eq(guest("POST", path, body, &r), 200);
	ck_assert_msg(th_jcount(&r, "messages") == 5, "%s", r.body);
	th_http_free(&r);
}
END_TEST

/* ---- a live Kafka group over raw requests -------------------------------------- */

struct wbuf {
	uint8_t d[4096];
	size_t n;
};

static void w16(struct wbuf *b, int v)
{
	b->d[b->n++] = (uint8_t)(v >> 8);
	b->d[b->n++] = (uint8_t)v;
}
static void w32(struct wbuf *b, int32_t v)
{
	for (int i = 3; i >= 0; i--)
		b->d[b->n++] = (uint8_t)((uint32_t)v >> (8 * i));
}
static void wstr(struct wbuf *b, const char *s)
{
	w16(b, (int)strlen(s));
	memcpy(b->d + b->n, s, strlen(s));
	b->n += strlen(s);
}
static void wbytes(struct wbuf *b, const struct wbuf *x)
{
	w32(b, (int32_t)x->n);
	memcpy(b->d + b->n, x->d, x->n);
	b->n += x->n;
}
static int32_t r32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}
static int16_t r16(const uint8_t *p)
{
	return (int16_t)(p[0] << 8 | p[1]);
}

struct member {
	int fd;
	int32_t generation;
	char id[256];
};

/* JoinGroup v2 as a "consumer" with protocol "range", then SyncGroup v1
 * as the leader giving itself partitions 0 and 1 of topic. */
static void join_and_sync(const char *group, const char *topic, struct member *m)
{
	struct kh_broker kb = { .port = kafka_port };
	uint8_t resp[4096];
	struct wbuf meta = { .n = 0 }, req = { .n = 0 }, asg = { .n = 0 };
	m->fd = kh_raw_connect(&kb);
	w16(&meta, 0); /* ConsumerProtocolSubscription v0 */
	w32(&meta, 1);
	wstr(&meta, topic);
	w32(&meta, -1);
	wstr(&req, group);
	w32(&req, 10000); /* session timeout */
	w32(&req, 10000); /* rebalance timeout */
	wstr(&req, "");
	wstr(&req, "consumer");
	w32(&req, 1);
	wstr(&req, "range");
	wbytes(&req, &meta);
	kh_raw_request(m->fd, 11, 2, 1, req.d, req.n);
	long n = kh_raw_response(m->fd, resp, sizeof(resp), 15000);
	ck_assert_int_gt(n, 4 + 4 + 2 + 4);
	const uint8_t *p = resp + 4 + 4; /* correlation, throttle */
	ck_assert_int_eq(r16(p), 0);
	m->generation = r32(p + 2);
	p += 6;
	p += 2 + r16(p); /* protocol */
	p += 2 + r16(p); /* leader */
	int idlen = r16(p);
	ck_assert(idlen > 0 && idlen < (int)sizeof(m->id));
	memcpy(m->id, p + 2, (size_t)idlen);
	m->id[idlen] = '\0';
	w16(&asg, 0); /* ConsumerProtocolAssignment v0 */
	w32(&asg, 1);
	wstr(&asg, topic);
	w32(&asg, 2);
	w32(&asg, 0);
	w32(&asg, 1);
	w32(&asg, -1);
	req.n = 0;
	wstr(&req, group);
	w32(&req, m->generation);
	wstr(&req, m->id);
	w32(&req, 1);
	wstr(&req, m->id);
	wbytes(&req, &asg);
	kh_raw_request(m->fd, 14, 1, 2, req.d, req.n);
	n = kh_raw_response(m->fd, resp, sizeof(resp), 15000);
	ck_assert_int_gt(n, 4 + 4 + 2);
	ck_assert_int_eq(r16(resp + 8), 0);
}

static int16_t heartbeat(const char *group, const struct member *m)
{
	struct wbuf req = { .n = 0 };
	uint8_t resp[256];
	wstr(&req, group);
	w32(&req, m->generation);
	wstr(&req, m->id);
	kh_raw_request(m->fd, 12, 1, 3, req.d, req.n);
	ck_assert_int_ge(kh_raw_response(m->fd, resp, sizeof(resp), 5000), 10);
	return r16(resp + 8);
}

static void leave(const char *group, const struct member *m)
{
	struct wbuf req = { .n = 0 };
	uint8_t resp[256];
	wstr(&req, group);
	wstr(&req, m->id);
	kh_raw_request(m->fd, 13, 1, 4, req.d, req.n);
	ck_assert_int_ge(kh_raw_response(m->fd, resp, sizeof(resp), 5000), 10);
	ck_assert_int_eq(r16(resp + 8), 0);
	close(m->fd);
}

START_TEST(test_live_group)
{
	char t[128], g[128], path[512], body[256], want[640];
	struct member m;
	kh_name(t, sizeof(t), "live");
	kh_name(g, sizeof(g), "lg");
	create_topic(t, 2);
	produce(t, 0, "a", "x", 0);
	join_and_sync(g, t, &m);
	ck_assert_int_eq(heartbeat(g, &m), 0);
	snprintf(path, sizeof(path), "/api/groups/%s", g);
	struct th_http_resp b;
	get_ok(path, &b);
	snprintf(want, sizeof(want), "{\"group\":\"%s\",\"state\":\"Stable\",\"protocol_type\":\"consumer\","
		 "\"protocol\":\"range\",\"leader\":\"%s\",\"generation\":%d,\"offsets\":[]}", g, m.id, (int)m.generation);
	ck_assert_msg(th_jmatch(&b, "", want), "%s", b.body);
	snprintf(want, sizeof(want), "[{\"member_id\":\"%s\",\"group_instance_id\":null,"
		 "\"client_id\":\"raw\",\"client_host\":\"/127.0.0.1\","
		 "\"assignment\":[{\"topic\":\"%s\",\"partitions\":[0,1]}]}]", m.id, t);
	ck_assert_msg(th_jmatch(&b, "members", want), "%s", b.body);
	th_http_free(&b);
	get_ok("/api/groups", &b);
	char sel[200];
	snprintf(sel, sizeof(sel), "[group=%s]/members", g);
	ck_assert_msg(th_jmatch(&b, sel, want), "%s", b.body);
	th_http_free(&b);
	get_ok("/metrics", &b);
	snprintf(want, sizeof(want), "tandem_group_members{group=\"%s\"} 1\n", g);
	ck_assert_msg(has(b.body, want), "no %s", want);
	snprintf(want, sizeof(want), "tandem_group_state{group=\"%s\",state=\"Stable\"} 1\n", g);
	ck_assert_msg(has(b.body, want), "no %s", want);
	th_http_free(&b);
	/* busy: no simple consumer, no deletion */
	snprintf(path, sizeof(path), "/api/groups/%s/fetch", g);
	snprintf(body, sizeof(body), "{\"topic\":\"%s\"}", t);
	expect("POST", path, body, 409, "{\"error\":\"group_busy\"}");
	snprintf(path, sizeof(path), "/api/groups/%s", g);
	expect("DELETE", path, NULL, 409, "{\"error\":\"group_busy\"}");
	leave(g, &m);
	get_ok(path, &b);
	ck_assert_msg(th_jmatch(&b, "", "{\"state\":\"Empty\",\"members\":[]}"), "%s", b.body);
	th_http_free(&b);
	get_ok("/metrics", &b);
	snprintf(want, sizeof(want), "tandem_group_members{group=\"%s\"} 0\n", g);
	ck_assert_msg(has(b.body, want), "no %s", want);
	th_http_free(&b);
	snprintf(path, sizeof(path), "/api/groups/%s/fetch", g);
	struct th_http_resp r;
	ck_assert_int_eq(guest("POST", path, body, &r), 200);
	ck_assert_msg(th_jcount(&r, "messages") == 1, "%s", r.body);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/groups/%s", g);
	expect("DELETE", path, NULL, 204, NULL);
	expect("GET", path, NULL, 404, NULL);
	get_ok("/metrics", &b);
	snprintf(want, sizeof(want), "tandem_group_members{group=\"%s\"}", g);
	ck_assert_msg(!has(b.body, want), "%s still listed", g);
	th_http_free(&b);
}
END_TEST

/* Deleting a stream queue's topic over HTTP is what a Kafka client's
 * DeleteTopics does: the queue stays and its next publish recreates it. */
START_TEST(test_stream_topic_delete)
{
	char q[128], path[256], body[512];
	snprintf(q, sizeof(q), "logstream%ld", (long)getpid());
	snprintf(path, sizeof(path), "/api/queues/%%2F/%s", q);
	expect("PUT", path, "{\"durable\":true,\"arguments\":{\"x-queue-type\":\"stream\"}}", 201, NULL);
	snprintf(body, sizeof(body), "{\"properties\":{},\"routing_key\":\"%s\",\"payload\":\"one\","
		 "\"payload_encoding\":\"string\"}", q);
	expect("POST", "/api/exchanges/%2F/amq.default/publish", body, 200, "{\"routed\":true}");
	char tp[256];
	snprintf(tp, sizeof(tp), "/api/topics/%s/partitions/0/messages", q);
	struct th_http_resp b;
	get_ok(tp, &b);
	ck_assert_msg(th_jmatch(&b, "messages", "[{\"payload\":\"one\"}]"), "%s", b.body);
	th_http_free(&b);
	snprintf(tp, sizeof(tp), "/api/topics/%s", q);
	expect("DELETE", tp, NULL, 204, NULL);
	expect("GET", tp, NULL, 404, NULL);
	expect("GET", path, NULL, 200, "{\"type\":\"stream\"}");
	expect("POST", "/api/exchanges/%2F/amq.default/publish", body, 200, "{\"routed\":true}");
	get_ok(tp, &b);
	ck_assert_msg(th_jint(&b, "partition_details/0/log_end_offset", -1) == 1, "%s", b.body);
	th_http_free(&b);
	expect("DELETE", path, NULL, 204, NULL);
}
END_TEST

START_TEST(test_tandemctl)
{
	char t[128], g[128], out[16384], path[256], body[256];
	kh_name(t, sizeof(t), "ctl");
	kh_name(g, sizeof(g), "ctlg");
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic create %s --partitions 2 --config retention.ms=60000", t), 0);
	ck_assert_msg(has(out, "created"), "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic create %s --partitions 1", t), 1);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic create %s --partitions 3", t), 0);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic create %s --partitions x", t), 2);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic create bad/name"), 1);
	produce(t, 0, "k", "v", 0);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic describe %s", t), 0);
	ck_assert_msg(has(out, "3 partitions") && has(out, "log_end_offset") && has(out, "\"retention.ms\":\"60000\""),
		      "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "--json topic describe %s", t), 0);
	ck_assert_msg(out[0] == '{' && has(out, "\"partition_details\""), "%s", out);
	snprintf(path, sizeof(path), "/api/groups/%s/fetch", g);
	snprintf(body, sizeof(body), "{\"topic\":\"%s\"}", t);
	expect("POST", path, body, 200, NULL);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "group describe %s", g), 0);
	ck_assert_msg(has(out, "state Empty") && has(out, "members: 0") && has(out, "committed_offset") &&
		      has(out, t), "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "--json group describe %s", g), 0);
	ck_assert_msg(out[0] == '{' && has(out, "\"state\":\"Empty\""), "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "list groups"), 0);
	ck_assert_msg(has(out, "state") && has(out, "members") && has(out, g), "%s", out);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "group describe no-such-group"), 1);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "group frobnicate x"), 2);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic"), 2);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "--user watcher --password watchpw topic delete %s", t), 1);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic delete %s", t), 0);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic delete %s", t), 1);
	ck_assert_int_eq(th_ctl(out, sizeof(out), "topic describe %s", t), 1);
}
END_TEST

int main(void)
{
	if (getenv("TANDEM_TEST_BROKER") && *getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: the log API test needs a tandemd of its own\n");
		return 77;
	}
	char hport[16], kport[16];
	http_port = su_free_port();
	th_http_port(http_port);
	do
		kafka_port = su_free_port();
	while (kafka_port == http_port);
	if (http_port <= 0 || kafka_port <= 0)
		return 99;
	snprintf(hport, sizeof(hport), "%d", http_port);
	snprintf(kport, sizeof(kport), "%d", kafka_port);
	snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", kafka_port);
	const char *args[] = { "--http-port", hport, "--kafka-port", kport,
			       "--group-initial-rebalance-delay-ms", "0",
			       "--users.watcher.password", "watchpw", "--users.watcher.tags", "monitoring", NULL };
	th_start_with_args(args);
	Suite *s = suite_create("http-log");
	TCase *tc = th_tcase("log");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_auth);
	tcase_add_test(tc, test_topic_admin);
	tcase_add_test(tc, test_messages);
	tcase_add_test(tc, test_group_fetch);
	tcase_add_test(tc, test_live_group);
	tcase_add_test(tc, test_stream_topic_delete);
	tcase_add_test(tc, test_tandemctl);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
