/*
 * Issue 11, finding 2: stream queues and topics are isolated by vhost.
 * One tandemd with AMQP, Kafka and HTTP listeners, a vhost "prod" with a
 * stream queue holding a record, a user "dev" who may open only "/" and a
 * management user "mgmt" without rights in "prod":
 *  - x-log-topic cannot name prod's stream topic (or an internal topic)
 *    from "/": 403 ACCESS_REFUSED, and nothing of prod is read;
 *  - over HTTP, mgmt gets 404 for prod's topic, records and group offsets
 *    and does not see them listed; the administrator still does;
 *  - the Kafka listener (kafka_vhost "/") cannot list, produce to, fetch,
 *    delete or create prod's topic or __journal / __consumer_offsets;
 *    with --kafka-vhost prod it reaches prod's topic and not "/"'s;
 *  - a Kafka producer cannot plant x-amqp-properties (a forged user_id)
 *    that an AMQP stream consumer would take as validated.
 *
 * Depends on: Check, rabbitmq-c, librdkafka, POSIX sockets, the harnesses.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "http_client.h"
#include "kafka_harness.h"

static int http_port, kafka_port;
static char bootstrap[64];

static amqp_table_entry_t e_str(const char *key, const char *v)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(v);
	return e;
}

static amqp_connection_state_t connect_as(const char *vhost, const char *user, const char *pw)
{
	struct th_login l = { .vhost = vhost, .user = user, .password = pw };
	amqp_rpc_reply_t rep;
	amqp_connection_state_t c = th_connect_opts(&l, &rep);
	th_ok(rep, "login");
	th_channel(c, 1);
	return c;
}

/* queue.declare of a durable stream queue with x-log-topic (NULL: none). */
static amqp_rpc_reply_t declare(amqp_connection_state_t c, const char *q, const char *topic)
{
	amqp_table_entry_t a[] = { e_str("x-queue-type", "stream"), e_str("x-log-topic", topic ? topic : "") };
	amqp_table_t t = { topic ? 2 : 1, a };
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, t);
	return amqp_get_rpc_reply(c);
}

static void publish_confirmed(amqp_connection_state_t c, const char *queue, const char *body,
			      const amqp_basic_properties_t *props)
{
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	amqp_confirm_select(c, 1);
	th_ok_last(c, "confirm.select");
	th_publish_props(c, 1, "", queue, 0, props ? props : &p, amqp_cstring_bytes(body));
	amqp_method_t m;
	ck_assert_msg(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &m, 10000) == 1, "no confirm for %s", body);
}

/* A stream queue in prod holding one record "prod-secret"; its topic name in
 * topic ("__prod." + the queue name: th_name's names need no escaping). */
static void prod_stream(char *q, size_t qlen, char *topic, size_t tlen)
{
	th_name(q, qlen, "orders");
	snprintf(topic, tlen, "__prod.%s", q);
	amqp_connection_state_t c = connect_as("prod", "guest", "guest");
	th_ok(declare(c, q, NULL), "declare prod stream");
	publish_confirmed(c, q, "prod-secret", NULL);
	th_close(c);
}

static void consume_from_first(amqp_connection_state_t c, const char *q)
{
	amqp_basic_qos(c, 1, 0, 10, 0);
	th_ok_last(c, "basic.qos");
	amqp_table_entry_t a = e_str("x-stream-offset", "first");
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, (amqp_table_t){ 1, &a });
	th_ok_last(c, "basic.consume");
}

/* ---- AMQP: x-log-topic ------------------------------------------------------------ */

START_TEST(test_x_log_topic_other_vhost)
{
	char q[128], topic[256], view[128], plain[128];
	prod_stream(q, sizeof(q), topic, sizeof(topic));

	/* dev may open "/" only: prod's stream stays out of reach */
	amqp_connection_state_t c = connect_as("/", "dev", "devpw");
	th_name(view, sizeof(view), "peek");
	th_expect_channel_close(c, 1, declare(c, view, topic), TH_ACCESS_REFUSED);
	ck_assert_msg(strstr(th_last_close_text(), "ACCESS_REFUSED") != NULL, "%s", th_last_close_text());
	/* nor an internal topic, nor the digest form of another vhost's */
	const char *internal[] = { "__consumer_offsets", "__journal", "__definitions",
				   "__h.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" };
	for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++) {
		th_channel(c, 1);
		th_expect_channel_close(c, 1, declare(c, view, internal[i]), TH_ACCESS_REFUSED);
	}
	/* the view was never made */
	th_channel(c, 1);
	th_expect_channel_close(c, 1, th_queue_passive(c, 1, view, NULL, NULL), TH_NOT_FOUND);
	th_close(c);

	/* in prod, prod's topic is fine as a view (the bridge keeps working);
	 * a topic of "/" is not */
	c = connect_as("prod", "guest", "guest");
	th_ok(declare(c, view, topic), "view of prod's own topic");
	consume_from_first(c, view);
	amqp_envelope_t env;
	ck_assert_int_eq(th_next_delivery(c, &env, 10000), 1);
	ck_assert(th_bytes_eq(env.message.body, "prod-secret"));
	amqp_destroy_envelope(&env);
	th_channel(c, 2);
	th_name(plain, sizeof(plain), "plain");
	amqp_table_entry_t a[] = { e_str("x-queue-type", "stream"), e_str("x-log-topic", plain) };
	amqp_queue_declare(c, 2, amqp_cstring_bytes(plain), 0, 1, 0, 0, (amqp_table_t){ 2, a });
	th_expect_channel_close(c, 2, amqp_get_rpc_reply(c), TH_ACCESS_REFUSED);
	th_close(c);
}
END_TEST

/* ---- HTTP ------------------------------------------------------------------------ */

static int http_as(const char *creds, const char *method, const char *path, const char *body, char **out)
{
	struct th_http_resp r;
	int st = th_http(method, path, creds, body, &r);
	if (out)
		*out = r.body;
	else
		free(r.body);
	return st;
}

START_TEST(test_http_topic_other_vhost)
{
	char q[128], topic[256], path[512], *body;
	prod_stream(q, sizeof(q), topic, sizeof(topic));
	const char *mgmt = "mgmt:mgmtpw", *admin = "guest:guest";

	/* records */
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/0/messages?offset=0", topic);
	struct th_http_resp r;
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
	ck_assert_msg(th_jmatch(&r, "messages/0", "{\"payload\":\"prod-secret\"}"), "%s", r.body);
	th_http_free(&r);
	int st = http_as(mgmt, "GET", path, NULL, &body);
	ck_assert_msg(st == 404 && !strstr(body, "prod-secret") && !strstr(body, "cHJvZC1zZWNyZXQ"), "%d %s", st,
		      body);
	free(body);
	/* the topic itself and the listing */
	snprintf(path, sizeof(path), "/api/topics/%s", topic);
	ck_assert_int_eq(http_as(admin, "GET", path, NULL, NULL), 200);
	ck_assert_int_eq(http_as(mgmt, "GET", path, NULL, NULL), 404);
	ck_assert_int_eq(http_as(mgmt, "GET", "/api/topics", NULL, &body), 200);
	ck_assert_msg(!strstr(body, topic), "%s", body);
	free(body);
	char sel[300];
	snprintf(sel, sizeof(sel), "[name=%s]", topic);
	ck_assert_int_eq(th_http("GET", "/api/topics", admin, NULL, &r), 200);
	ck_assert_msg(th_jnode(&r, sel) >= 0, "%s", r.body);
	th_http_free(&r);
	/* internal topics: for nobody */
	ck_assert_int_eq(http_as(admin, "GET", "/api/topics/__consumer_offsets/partitions/0/messages", NULL, NULL),
			 404);
	ck_assert_int_eq(http_as(admin, "GET", "/api/topics/__consumer_offsets", NULL, NULL), 404);
	/* nor made over HTTP: a "__" name of no vhost (the digest form of some
	 * vhost's queue, a name of the broker's own) */
	ck_assert_int_eq(http_as(admin, "PUT", "/api/topics/__journal", "{}", NULL), 400);
	ck_assert_int_eq(http_as(admin, "PUT",
				 "/api/topics/__h.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				 "{}", NULL),
			 400);
	ck_assert_int_eq(http_as(admin, "GET", "/api/topics/__journal", NULL, NULL), 404);

	/* group fetch: mgmt cannot read prod's records through a group (the
	 * endpoint is the administrator's: 401; a topic check stands behind it) */
	char group[128], req[512];
	th_name(group, sizeof(group), "g");
	snprintf(req, sizeof(req), "{\"topic\":\"%s\",\"count\":10}", topic);
	snprintf(path, sizeof(path), "/api/groups/%s/fetch", group);
	st = http_as(mgmt, "POST", path, req, &body);
	ck_assert_msg((st == 401 || st == 404) && !strstr(body, "prod-secret") &&
			      !strstr(body, "cHJvZC1zZWNyZXQ"),
		      "%d %s", st, body);
	free(body);
	/* the administrator can, and the group then has an offset on prod's topic
	 * that mgmt does not see */
	ck_assert_int_eq(http_as(admin, "POST", path, req, &body), 200);
	free(body);
	snprintf(path, sizeof(path), "/api/groups/%s", group);
	ck_assert_int_eq(th_http("GET", path, admin, NULL, &r), 200);
	snprintf(sel, sizeof(sel), "offsets/[topic=%s]", topic);
	ck_assert_msg(th_jnode(&r, sel) >= 0, "%s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(http_as(mgmt, "GET", path, NULL, NULL), 404);
	ck_assert_int_eq(http_as(mgmt, "GET", "/api/groups", NULL, &body), 200);
	ck_assert_msg(!strstr(body, topic) && !strstr(body, group), "%s", body);
	free(body);
}
END_TEST

/* ---- Kafka ------------------------------------------------------------------------ */

/* 1 when a full Metadata request lists topic. */
static int kafka_lists(const char *bs, const char *topic)
{
	rd_kafka_t *rk = kh_producer(bs, NULL);
	const struct rd_kafka_metadata *md = NULL;
	int found = 0;
	ck_assert_int_eq(rd_kafka_metadata(rk, 1, NULL, &md, 5000), 0);
	for (int i = 0; i < md->topic_cnt; i++)
		found |= strcmp(md->topics[i].topic, topic) == 0;
	rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
	return found;
}

/* Fetches partition 0 of topic from the beginning for up to timeout_ms:
 * returns the number of records read; *err gets the first error seen. */
static int kafka_fetch(const char *bs, const char *topic, const char *want, rd_kafka_resp_err_t *err,
		       int timeout_ms)
{
	const char *kv[] = { "group.id", "iso", "enable.partition.eof", "false", NULL };
	rd_kafka_t *rk = kh_consumer(bs, kv);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	ck_assert_int_eq(rd_kafka_assign(rk, l), 0);
	rd_kafka_topic_partition_list_destroy(l);
	uint64_t deadline = kh_now_ms() + (uint64_t)timeout_ms;
	int n = 0;
	*err = RD_KAFKA_RESP_ERR_NO_ERROR;
	while (kh_now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err && !*err)
			*err = m->err;
		else if (!m->err) {
			n++;
			ck_assert_msg(!want || (m->len == strlen(want) && !memcmp(m->payload, want, m->len)),
				      "read %.*s", (int)m->len, (const char *)m->payload);
		}
		rd_kafka_message_destroy(m);
		if (n > 0 || (*err && *err != RD_KAFKA_RESP_ERR__PARTITION_EOF))
			break;
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return n;
}

static rd_kafka_resp_err_t kafka_produce(const char *bs, const char *topic, const char *value)
{
	const char *kv[] = { "message.timeout.ms", "5000", NULL };
	rd_kafka_t *rk = kh_producer(bs, kv);
	rd_kafka_resp_err_t e = kh_produce_sync(rk, topic, 0, NULL, value, 0, NULL);
	rd_kafka_destroy(rk);
	return e;
}

static void put_be(uint8_t *b, size_t *n, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		b[(*n)++] = (uint8_t)(v >> (8 * i));
}

/* A raw Fetch v4 of partition 0 of topic from offset 0 (no Metadata first,
 * as librdkafka would send): the partition's ErrorCode. */
static int raw_fetch_error(const char *topic)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)kafka_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	uint8_t b[512], resp[65536];
	size_t n = 0, tl = strlen(topic);
	put_be(b, &n, 0xffffffffu, 4); /* replica_id -1 */
	put_be(b, &n, 100, 4);         /* max_wait_ms */
	put_be(b, &n, 1, 4);           /* min_bytes */
	put_be(b, &n, 1 << 20, 4);     /* max_bytes */
	b[n++] = 0;                    /* isolation_level */
	put_be(b, &n, 1, 4);
	put_be(b, &n, tl, 2);
	memcpy(b + n, topic, tl);
	n += tl;
	put_be(b, &n, 1, 4);
	put_be(b, &n, 0, 4);           /* partition */
	put_be(b, &n, 0, 8);           /* fetch_offset */
	put_be(b, &n, 1 << 20, 4);     /* partition max_bytes */
	kh_raw_request(fd, 1, 4, 77, b, n);
	long got = kh_raw_response(fd, resp, sizeof(resp), 10000);
	close(fd);
	/* correlation, throttle, [topic: name, [partition, ErrorCode ...]] */
	size_t at = 4 + 4 + 4 + 2 + tl + 4 + 4;
	ck_assert_int_ge(got, (long)(at + 2));
	return (int16_t)(resp[at] << 8 | resp[at + 1]);
}

static int http_topic_exists(const char *topic)
{
	char path[512];
	snprintf(path, sizeof(path), "/api/topics/%s", topic);
	return http_as("guest:guest", "GET", path, NULL, NULL) == 200;
}

START_TEST(test_kafka_other_vhost)
{
	char q[128], topic[256], fresh[256];
	rd_kafka_resp_err_t err;
	prod_stream(q, sizeof(q), topic, sizeof(topic));

	ck_assert(!kafka_lists(bootstrap, topic));
	ck_assert(!kafka_lists(bootstrap, "__consumer_offsets"));
	/* read */
	ck_assert_int_eq(kafka_fetch(bootstrap, topic, NULL, &err, 5000), 0);
	ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
		      "%s", rd_kafka_err2name(err));
	ck_assert_int_eq(raw_fetch_error(topic), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	ck_assert_int_eq(raw_fetch_error("__consumer_offsets"), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	/* write */
	ck_assert_int_eq(kafka_produce(bootstrap, topic, "planted"), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	ck_assert_int_eq(kafka_produce(bootstrap, "__journal", "planted"),
			 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	ck_assert_int_eq(kafka_produce(bootstrap, "__consumer_offsets", "planted"),
			 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	/* delete */
	rd_kafka_t *adm = kh_producer(bootstrap, NULL);
	ck_assert_int_eq(kh_delete_topic(adm, topic), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	ck_assert(http_topic_exists(topic));
	/* pre-create (with its own retention) a topic prod's next stream would use */
	th_name(fresh, sizeof(fresh), "__prod.later");
	const char *cfg[] = { "retention.ms", "1", NULL };
	ck_assert_int_eq(kh_create_topic(adm, fresh, 1, 1, cfg), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	ck_assert(!http_topic_exists(fresh));
	ck_assert_int_eq(kh_create_topic(adm, "__journal", 1, 1, NULL),
			 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	ck_assert(!http_topic_exists("__journal"));
	rd_kafka_destroy(adm);

	/* prod's record is still the only one, and intact */
	amqp_connection_state_t c = connect_as("prod", "guest", "guest");
	consume_from_first(c, q);
	amqp_envelope_t env;
	ck_assert_int_eq(th_next_delivery(c, &env, 10000), 1);
	ck_assert(th_bytes_eq(env.message.body, "prod-secret"));
	amqp_destroy_envelope(&env);
	ck_assert_int_eq(th_next_delivery(c, &env, 300), 0);
	th_close(c);
}
END_TEST

/* kafka_vhost names the one vhost the listener serves. */
START_TEST(test_kafka_vhost_key)
{
	char kport[16], hport[16], bs[64], q[128], topic[256], plain[128];
	int kp = su_free_port(), hp;
	do
		hp = su_free_port();
	while (hp == kp);
	snprintf(kport, sizeof(kport), "%d", kp);
	snprintf(hport, sizeof(hport), "%d", hp);
	snprintf(bs, sizeof(bs), "127.0.0.1:%d", kp);
	const char *args[] = { "--kafka-port", kport, "--http-port", hport, "--vhosts", "prod", "--kafka-vhost",
			       "prod", "--users.mgmt.password", "mgmtpw", "--users.mgmt.tags", "management",
			       "--group-initial-rebalance-delay-ms", "0", NULL };
	th_start_with_args(args);
	th_http_port(hp);
	prod_stream(q, sizeof(q), topic, sizeof(topic));
	amqp_connection_state_t c = connect_as("/", "guest", "guest");
	th_name(plain, sizeof(plain), "rootq");
	th_ok(declare(c, plain, NULL), "declare / stream");
	th_close(c);

	rd_kafka_resp_err_t err;
	ck_assert(kafka_lists(bs, topic));
	ck_assert(!kafka_lists(bs, plain));
	ck_assert_int_eq(kafka_fetch(bs, topic, "prod-secret", &err, 10000), 1);
	ck_assert_int_eq(kafka_produce(bs, plain, "x"), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	ck_assert_int_eq(kafka_produce(bs, "__consumer_offsets", "x"), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);

	/* a live group of this listener is prod's: mgmt (no rights in prod)
	 * does not see it or its members' assignment over HTTP */
	char group[128], path[256], *body = NULL;
	th_name(group, sizeof(group), "live");
	const char *kv[] = { "group.id", group, "auto.offset.reset", "earliest", NULL };
	rd_kafka_t *rk = kh_consumer(bs, kv);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
	ck_assert_int_eq(rd_kafka_subscribe(rk, l), 0);
	rd_kafka_topic_partition_list_destroy(l);
	snprintf(path, sizeof(path), "/api/groups/%s", group);
	int seen = 0;
	for (uint64_t end = th_now_ms() + 20000; !seen && th_now_ms() < end;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (m)
			rd_kafka_message_destroy(m);
		struct th_http_resp r;
		if (th_http("GET", path, "guest:guest", NULL, &r) == 200 && th_jcount(&r, "members") > 0)
			seen = 1;
		th_http_free(&r);
	}
	ck_assert_msg(seen, "the group never showed members");
	ck_assert_int_eq(http_as("mgmt:mgmtpw", "GET", path, NULL, NULL), 404);
	ck_assert_int_eq(http_as("mgmt:mgmtpw", "GET", "/api/groups", NULL, &body), 200);
	ck_assert_msg(!strstr(body, group) && !strstr(body, topic), "%s", body);
	free(body);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}
END_TEST

/* ---- forged user_id ------------------------------------------------------------------ */

static int dr_seen;
static rd_kafka_resp_err_t dr_err;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk, (void)opaque;
	dr_seen++;
	dr_err = m->err;
}

START_TEST(test_kafka_forged_user_id)
{
	char q[128];
	amqp_connection_state_t c = connect_as("/", "guest", "guest");
	th_name(q, sizeof(q), "audit");
	th_ok(declare(c, q, NULL), "declare stream");

	/* basic properties in wire form: flags (user-id, 0x0010) + shortstr */
	static const char forged[] = { 0x00, 0x10, 5, 'a', 'd', 'm', 'i', 'n' };
	const char *kv[] = { "message.timeout.ms", "5000", NULL };
	rd_kafka_conf_t *conf = kh_conf(bootstrap, kv);
	char es[256];
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es));
	ck_assert_msg(rk != NULL, "%s", es);
	dr_seen = 0;
	ck_assert_int_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(q), RD_KAFKA_V_PARTITION(0),
					   RD_KAFKA_V_VALUE("forged", 6),
					   RD_KAFKA_V_HEADER("x-amqp-properties", forged, sizeof(forged)),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
			 0);
	ck_assert_int_eq(rd_kafka_flush(rk, 10000), 0);
	rd_kafka_destroy(rk);
	ck_assert_int_eq(dr_seen, 1);
	ck_assert_msg(dr_err == RD_KAFKA_RESP_ERR_INVALID_RECORD, "forged record: %s", rd_kafka_err2name(dr_err));
	ck_assert_int_eq(kafka_produce(bootstrap, q, "plain"), RD_KAFKA_RESP_ERR_NO_ERROR);
	/* an AMQP publish with the validated user_id of its publisher */
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_USER_ID_FLAG;
	p.user_id = amqp_cstring_bytes("guest");
	publish_confirmed(c, q, "amqp", &p);

	/* the consumer sees "plain" (no user_id) then "amqp" (user_id guest):
	 * nothing claims to be admin */
	amqp_connection_state_t r = connect_as("/", "guest", "guest");
	consume_from_first(r, q);
	amqp_envelope_t env;
	ck_assert_int_eq(th_next_delivery(r, &env, 10000), 1);
	ck_assert_msg(th_bytes_eq(env.message.body, "plain"), "first delivery %.*s", (int)env.message.body.len,
		      (const char *)env.message.body.bytes);
	ck_assert(!(env.message.properties._flags & AMQP_BASIC_USER_ID_FLAG));
	amqp_destroy_envelope(&env);
	ck_assert_int_eq(th_next_delivery(r, &env, 10000), 1);
	ck_assert(th_bytes_eq(env.message.body, "amqp"));
	ck_assert(env.message.properties._flags & AMQP_BASIC_USER_ID_FLAG);
	ck_assert(th_bytes_eq(env.message.properties.user_id, "guest"));
	amqp_destroy_envelope(&env);
	th_close(r);
	th_close(c);
}
END_TEST

int main(void)
{
	if (getenv("TANDEM_TEST_BROKER") && *getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: vhost isolation needs a tandemd of its own (AMQP, Kafka and HTTP)\n");
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
	const char *args[] = { "--http-port", hport, "--kafka-port", kport, "--vhosts", "prod",
			       "--users.dev.password", "devpw", "--users.mgmt.password", "mgmtpw",
			       "--users.mgmt.tags", "management", NULL };
	th_start_with_args(args);
	Suite *s = suite_create("isolation");
	TCase *tc = th_tcase("vhosts");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_x_log_topic_other_vhost);
	tcase_add_test(tc, test_http_topic_other_vhost);
	tcase_add_test(tc, test_kafka_other_vhost);
	tcase_add_test(tc, test_kafka_vhost_key);
	tcase_add_test(tc, test_kafka_forged_user_id);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
