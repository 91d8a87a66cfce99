/*
 * Issue 13 point 3 (issue 11 finding 2): the topic and group endpoints of
 * the HTTP API and AMQP's x-log-topic check the same permissions as the
 * Kafka listener (src/kafka/authz.c), on the topic's name in its vhost:
 *  - GET records takes read; PUT (create, grow) and DELETE of a topic
 *    configure; POST /api/groups/G/fetch read on G (in kafka_vhost) and on
 *    the topic; DELETE /api/groups/G read on G.  A refusal is RabbitMQ's
 *    management answer to the same refusal on a queue: 401
 *    "ACCESS_REFUSED - access to topic ..." for a read, 401 "Access
 *    refused." for a configure (or a group's delete).
 *  - a stream-queue view (x-log-topic) both reads and appends to its
 *    topic: it takes read and write on it, else 403 ACCESS_REFUSED.
 * Users `ad` (administrator) and `mg` (management) have
 *   configure ^cfg-   write ^(cfg|w)-   read ^(cfg|r)-|^grp-ok
 * on "/", set through PUT /api/permissions.
 *
 * Depends on: Check, rabbitmq-c, POSIX sockets, the harnesses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "http_client.h"
#include "sockutil.h"

static int kafka_port;
static const char *const admin = "guest:guest", *const ad = "ad:adpw", *const mg = "mg:mgpw";

static amqp_table_entry_t e_str(const char *key, const char *v)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(v);
	return e;
}

static amqp_connection_state_t connect_as(const char *user, const char *pw)
{
	struct th_login l = { .vhost = "/", .user = user, .password = pw };
	amqp_rpc_reply_t rep;
	amqp_connection_state_t c = th_connect_opts(&l, &rep);
	th_ok(rep, "login");
	th_channel(c, 1);
	return c;
}

/* queue.declare of a durable stream queue, a view of topic (NULL: its own). */
static amqp_rpc_reply_t declare(amqp_connection_state_t c, const char *q, const char *topic)
{
	amqp_table_entry_t a[] = { e_str("x-queue-type", "stream"),
				   e_str("x-log-topic", topic ? topic : "") };
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0,
			   (amqp_table_t){ topic ? 2 : 1, a });
	return amqp_get_rpc_reply(c);
}

/* A stream queue `name` in "/" (topic `name`) with one record, by guest. */
static void stream_with_record(const char *name, const char *body)
{
	amqp_connection_state_t c = connect_as("guest", "guest");
	amqp_basic_properties_t p;
	amqp_method_t m;

	memset(&p, 0, sizeof(p));
	th_ok(declare(c, name, NULL), "declare stream");
	amqp_confirm_select(c, 1);
	th_ok_last(c, "confirm.select");
	th_publish_props(c, 1, "", name, 0, &p, amqp_cstring_bytes(body));
	ck_assert_msg(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &m, 10000) == 1, "no confirm");
	th_close(c);
}

static int http(const char *creds, const char *method, const char *path, const char *body,
		struct th_http_resp *r)
{
	return th_http(method, path, creds, body, r);
}

/* 401 with RabbitMQ's words for a refused read ("ACCESS_REFUSED - access
 * to topic/group `what` ... for user"), or (what NULL) for a refused
 * configure ("Access refused."), as its API answers for a queue. */
static void expect_refused(const char *creds, const char *method, const char *path,
			   const char *body, const char *kind, const char *what, const char *user)
{
	struct th_http_resp r;
	char want[512];
	int st = http(creds, method, path, body, &r);

	if (what)
		snprintf(want, sizeof(want),
			 "ACCESS_REFUSED - access to %s '%s' in vhost '/' refused for user '%s'",
			 kind, what, user);
	else
		snprintf(want, sizeof(want), "Access refused.");
	ck_assert_msg(st == 401 && th_jerror(&r, "not_authorised", want), "%s %s: %d %s", method,
		      path, st, r.body);
	th_http_free(&r);
}

static void expect_status(const char *creds, const char *method, const char *path, const char *body,
			  int want)
{
	struct th_http_resp r;
	int st = http(creds, method, path, body, &r);
	ck_assert_msg(st == want, "%s %s: %d (want %d) %s", method, path, st, want, r.body);
	th_http_free(&r);
}

/* Narrow patterns for ad and mg on "/" (idempotent: each test sets them). */
static void set_permissions(void)
{
	const char *perms = "{\"configure\":\"^cfg-\",\"write\":\"^(cfg|w)-\","
			    "\"read\":\"^(cfg|r)-|^grp-ok\"}";
	const char *users[] = { "ad", "mg" };
	for (int i = 0; i < 2; i++) {
		char path[128];
		struct th_http_resp r;
		snprintf(path, sizeof(path), "/api/permissions/%%2F/%s", users[i]);
		int st = th_http("PUT", path, admin, perms, &r);
		ck_assert_msg(st == 201 || st == 204, "PUT %s: %d %s", path, st, r.body);
		th_http_free(&r);
	}
}

START_TEST(test_topic_permissions_http)
{
	char rd[96], w[96], cfg[96], path[512], req[256], gok[96], gno[96];
	struct th_http_resp r;

	set_permissions();
	snprintf(rd, sizeof(rd), "r-h%d", (int)getpid());
	snprintf(w, sizeof(w), "w-h%d", (int)getpid());
	snprintf(cfg, sizeof(cfg), "cfg-h%d", (int)getpid());
	snprintf(gok, sizeof(gok), "grp-ok-h%d", (int)getpid());
	snprintf(gno, sizeof(gno), "grp-no-h%d", (int)getpid());
	stream_with_record(rd, "readable");
	stream_with_record(w, "secret");

	/* records: read */
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/0/messages?offset=0", rd);
	ck_assert_int_eq(http(mg, "GET", path, NULL, &r), 200);
	ck_assert_msg(th_jmatch(&r, "messages/0", "{\"payload\":\"readable\"}"), "%s", r.body);
	th_http_free(&r);
	snprintf(path, sizeof(path), "/api/topics/%s/partitions/0/messages?offset=0", w);
	expect_refused(mg, "GET", path, NULL, "topic", w, "mg");
	expect_refused(ad, "GET", path, NULL, "topic", w, "ad"); /* the tag is no permission */
	expect_status(admin, "GET", path, NULL, 200);
	/* listing and describing: access to the vhost, as RabbitMQ lists queues */
	snprintf(path, sizeof(path), "/api/topics/%s", w);
	expect_status(mg, "GET", path, NULL, 200);

	/* create, grow, delete: configure */
	snprintf(path, sizeof(path), "/api/topics/%s", cfg);
	expect_status(ad, "PUT", path, "{\"partitions\":1}", 201);
	expect_status(ad, "PUT", path, "{\"partitions\":2}", 204);
	snprintf(path, sizeof(path), "/api/topics/%s", w);
	expect_refused(ad, "PUT", path, "{\"partitions\":2}", "topic", NULL, "ad");
	expect_refused(ad, "DELETE", path, NULL, "topic", NULL, "ad");
	expect_refused(ad, "PUT", "/api/topics/w-never-made", "{}", "topic", NULL, "ad");
	snprintf(path, sizeof(path), "/api/topics/%s", cfg);
	expect_status(ad, "DELETE", path, NULL, 204);

	/* group fetch: read on the group and on the topic */
	snprintf(req, sizeof(req), "{\"topic\":\"%s\",\"count\":10}", rd);
	snprintf(path, sizeof(path), "/api/groups/%s/fetch", gno);
	expect_refused(ad, "POST", path, req, "group", gno, "ad");
	expect_status(admin, "POST", path, req, 200); /* guest: .* */
	snprintf(path, sizeof(path), "/api/groups/%s/fetch", gok);
	ck_assert_int_eq(http(ad, "POST", path, req, &r), 200);
	ck_assert_msg(th_jmatch(&r, "messages/0", "{\"payload\":\"readable\"}"), "%s", r.body);
	th_http_free(&r);
	snprintf(req, sizeof(req), "{\"topic\":\"%s\",\"count\":10}", w);
	expect_refused(ad, "POST", path, req, "topic", w, "ad");
	/* a group of Kafka clients acting in vhost shop ("__shop." + their id)
	 * is checked in shop, where ad has no permissions */
	snprintf(req, sizeof(req), "{\"topic\":\"%s\",\"count\":10}", rd);
	snprintf(path, sizeof(path), "/api/groups/__shop.%s/fetch", gok);
	ck_assert_int_eq(http(ad, "POST", path, req, &r), 401);
	char want[256];
	snprintf(want, sizeof(want),
		 "ACCESS_REFUSED - access to group '%s' in vhost 'shop' refused for user 'ad'",
		 gok);
	ck_assert_msg(th_jerror(&r, "not_authorised", want), "%s", r.body);
	th_http_free(&r);

	/* DELETE of a group: read on it */
	snprintf(path, sizeof(path), "/api/groups/%s", gno);
	expect_refused(ad, "DELETE", path, NULL, "group", NULL, "ad");
	expect_status(admin, "DELETE", path, NULL, 204);
	snprintf(path, sizeof(path), "/api/groups/%s", gok);
	expect_status(ad, "DELETE", path, NULL, 204);
}
END_TEST

START_TEST(test_topic_permissions_x_log_topic)
{
	char rd[96], cfg[96], view[96];

	set_permissions();
	snprintf(rd, sizeof(rd), "r-x%d", (int)getpid());
	snprintf(cfg, sizeof(cfg), "cfg-x%d", (int)getpid());
	snprintf(view, sizeof(view), "cfg-view%d", (int)getpid());
	stream_with_record(rd, "r");
	stream_with_record(cfg, "c");
	amqp_connection_state_t c = connect_as("mg", "mgpw");
	/* read but no write on r-...: a view would append to it */
	th_expect_channel_close(c, 1, declare(c, view, rd), TH_ACCESS_REFUSED);
	ck_assert_msg(strstr(th_last_close_text(), "ACCESS_REFUSED"), "%s", th_last_close_text());
	th_channel(c, 1);
	th_ok(declare(c, view, cfg), "a view of a topic mg may read and write");
	th_close(c);
}
END_TEST

/* ---- a raw Kafka client: enough to be a member of a consumer group ---- */

struct kbuf {
	unsigned char d[512];
	size_t n;
};

static void k16(struct kbuf *b, int v)
{
	b->d[b->n++] = (unsigned char)(v >> 8);
	b->d[b->n++] = (unsigned char)v;
}

static void k32(struct kbuf *b, int32_t v)
{
	k16(b, (int)(v >> 16));
	k16(b, (int)(v & 0xffff));
}

static void kstr(struct kbuf *b, const char *s, size_t n)
{
	k16(b, (int)n);
	memcpy(b->d + b->n, s, n);
	b->n += n;
}

/* Sends request api/version with body, reads the answer's error code (the
 * first field after the correlation id). */
static int kcall(int fd, int api, int ver, const struct kbuf *body)
{
	struct kbuf h = { .n = 0 };
	unsigned char in[4096];
	size_t got = 0, want = 4;

	k32(&h, (int32_t)(2 + 2 + 4 + 3 + body->n)); /* api, version, correlation, client id "t" */
	k16(&h, api);
	k16(&h, ver);
	k32(&h, 7);
	kstr(&h, "t", 1);
	ck_assert_int_eq(write(fd, h.d, h.n), (ssize_t)h.n);
	ck_assert_int_eq(write(fd, body->d, body->n), (ssize_t)body->n);
	while (got < want) {
		ssize_t r = read(fd, in + got, want - got);
		ck_assert_msg(r > 0, "Kafka api %d: connection closed", api);
		got += (size_t)r;
		if (got == 4) {
			want = 4 + ((size_t)in[0] << 24 | (size_t)in[1] << 16 | (size_t)in[2] << 8 | in[3]);
			ck_assert_uint_le(want, sizeof(in));
		}
	}
	return (int16_t)(in[8] << 8 | in[9]);
}

/* A Kafka client that logs in as "shop:guest" (acting in vhost shop) and
 * joins consumer group `group` there: core knows it as "__shop." + group. */
static int shop_group_member(const char *group)
{
	struct timeval tv = { 10, 0 };
	struct kbuf b = { .n = 0 };
	int fd = su_tcp_connect(kafka_port);

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	kstr(&b, "PLAIN", 5);
	ck_assert_int_eq(kcall(fd, 17, 1, &b), 0); /* SaslHandshake */
	b.n = 0;
	k32(&b, 17);
	memcpy(b.d + b.n, "\0shop:guest\0guest", 17);
	b.n += 17;
	ck_assert_int_eq(kcall(fd, 36, 0, &b), 0); /* SaslAuthenticate */
	b.n = 0;
	kstr(&b, group, strlen(group));
	k32(&b, 30000);        /* session timeout */
	kstr(&b, "", 0);       /* member id: new */
	kstr(&b, "consumer", 8);
	k32(&b, 1);
	kstr(&b, "range", 5);
	k32(&b, 0);            /* metadata: empty */
	ck_assert_int_eq(kcall(fd, 11, 0, &b), 0); /* JoinGroup */
	return fd;
}

/* The members of a group of Kafka clients acting in vhost shop are shown
 * only to those who may open shop, not to every user of kafka_vhost. */
START_TEST(test_topic_permissions_group_members_by_vhost)
{
	char g[64], core[96], path[160];
	struct th_http_resp r;
	int fd;

	expect_status(admin, "PUT", "/api/vhosts/shop", NULL, 201);
	snprintf(g, sizeof(g), "grp-shop-%d", (int)getpid());
	snprintf(core, sizeof(core), "__shop.%s", g);
	fd = shop_group_member(g);
	/* guest may open shop: the group and its member */
	snprintf(path, sizeof(path), "/api/groups/%s", core);
	ck_assert_int_eq(http(admin, "GET", path, NULL, &r), 200);
	ck_assert_msg(strstr(r.body, "\"client_id\":\"t\""), "no member: %s", r.body);
	th_http_free(&r);
	ck_assert_int_eq(http(admin, "GET", "/api/groups", NULL, &r), 200);
	ck_assert_msg(strstr(r.body, core), "not listed for guest: %s", r.body);
	th_http_free(&r);
	/* mg may open "/" (kafka_vhost) but not shop */
	expect_status(mg, "GET", path, NULL, 404);
	ck_assert_int_eq(http(mg, "GET", "/api/groups", NULL, &r), 200);
	ck_assert_msg(!strstr(r.body, g), "shop's group shown to mg: %s", r.body);
	th_http_free(&r);
	close(fd);
}
END_TEST

int main(void)
{
	if (getenv("TANDEM_TEST_BROKER") && *getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: topic permissions need a tandemd of their own (AMQP and HTTP)\n");
		return 77;
	}
	char hport[16], kport[16];
	int http_port = su_free_port();
	kafka_port = su_free_port();
	if (http_port <= 0 || kafka_port <= 0)
		return 99;
	th_http_port(http_port);
	snprintf(hport, sizeof(hport), "%d", http_port);
	snprintf(kport, sizeof(kport), "%d", kafka_port);
	const char *args[] = { "--http-port",
			       hport,
			       "--kafka-port",
			       kport,
			       "--group_initial_rebalance_delay_ms",
			       "0",
			       "--users.ad.password",
			       "adpw",
			       "--users.ad.tags",
			       "administrator",
			       "--users.mg.password",
			       "mgpw",
			       "--users.mg.tags",
			       "management",
			       NULL };
	th_start_with_args(args);
	Suite *s = suite_create("topic_permissions");
	TCase *tc = th_tcase("topic_permissions");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_topic_permissions_http);
	tcase_add_test(tc, test_topic_permissions_x_log_topic);
	tcase_add_test(tc, test_topic_permissions_group_members_by_vhost);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
