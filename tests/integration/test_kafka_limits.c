/*
 * Issue 13 point 4, Kafka's half: the limits Kafka has, each reached and
 * refused as Kafka refuses it while other clients go on being served, set in
 * tandem.conf (Kafka's names) and at run time over /api/kafka-limits
 * (administrators only; kept across a restart; DELETE goes back to
 * tandem.conf's value, as Kafka's dynamic broker configs):
 *  - max.connections.per.ip (and max.connections.per.ip.overrides): one
 *    connection over is closed right after accept and counted, another
 *    address is served;
 *  - socket.request.max.bytes: a bigger request closes its connection only;
 *  - max_partitions_per_topic and max_partitions: CreateTopics answers
 *    INVALID_PARTITIONS and POLICY_VIOLATION; max.message.bytes: Produce
 *    answers MESSAGE_TOO_LARGE;
 *  - a SASL-authenticated Kafka connection is one of its user's, as an AMQP
 *    one: listed in /api/connections and counted toward the user's and the
 *    vhost's max-connections (refused with SASL_AUTHENTICATION_FAILED and
 *    RabbitMQ's text), for AMQP logins too; DELETE /api/connections/NAME
 *    closes it.
 *
 * Needs tandemds of its own: skipped (77) against TANDEM_TEST_BROKER.
 * Depends on: Check, librdkafka, rabbitmq-c, libevent (HTTP client), POSIX.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "http_client.h"
#include "kafka_harness.h"
#include "sockutil.h"
#include "tlsutil.h"

#ifndef TANDEMD_PATH
#define TANDEMD_PATH "../../src/tandemd"
#endif

static const char *const admin = "guest:guest";
static int kafka_port;
static char boot[64];

/* A tandemd of this process (main's, or a test's own) with the HTTP and
 * Kafka listeners on fresh ports, bob (password pw, vhost /), the
 * management user mo, and more args. */
static void start_broker(const char *const *more)
{
	static char hp[16], kp[16];
	const char *args[40] = { "--http-port",
				 hp,
				 "--kafka-port",
				 kp,
				 "--users.bob.password",
				 "pw",
				 "--users.bob.vhosts",
				 "/",
				 "--users.mo.password",
				 "pw",
				 "--users.mo.tags",
				 "management",
				 NULL };
	int n = 12, http_port = su_free_port();

	do
		kafka_port = su_free_port();
	while (kafka_port == http_port);
	th_http_port(http_port);
	snprintf(hp, sizeof(hp), "%d", http_port);
	snprintf(kp, sizeof(kp), "%d", kafka_port);
	snprintf(boot, sizeof(boot), "127.0.0.1:%d", kafka_port);
	for (int i = 0; more && more[i] && n < 39; i++)
		args[n++] = more[i];
	args[n] = NULL;
	th_start_with_args(args);
	/* the Kafka listener opens just after the AMQP one the harness waits
	 * for; probe it from an address no test limits (a probe counts toward
	 * its address until the broker sees it closed) */
	uint64_t end = th_now_ms() + 10000;
	for (;;) {
		struct sockaddr_in a = { .sin_family = AF_INET }, d = { .sin_family = AF_INET };
		int fd = socket(AF_INET, SOCK_STREAM, 0), up;

		inet_pton(AF_INET, "127.0.0.3", &a.sin_addr);
		inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
		d.sin_port = htons((uint16_t)kafka_port);
		up = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		     connect(fd, (struct sockaddr *)&d, sizeof(d)) == 0;
		if (fd >= 0)
			close(fd);
		if (up)
			return;
		if (th_now_ms() > end) {
			fprintf(stderr, "test_kafka_limits: the Kafka listener did not open\n");
			exit(99);
		}
		th_sleep_ms(20);
	}
}

/* One API call as guest; returns the status. */
static int api(const char *method, const char *path, const char *body)
{
	struct th_http_resp r;
	int st = th_http(method, path, admin, body, &r);

	th_http_free(&r);
	return st;
}

/* PUT /api/kafka-limits/name {"value": json}, which must succeed. */
static void set_limit(const char *name, const char *json)
{
	char path[256], body[512];

	snprintf(path, sizeof(path), "/api/kafka-limits/%s", name);
	snprintf(body, sizeof(body), "{\"value\":%s}", json);
	ck_assert_int_eq(api("PUT", path, body), 204);
}

/* GET /api/kafka-limits: the integer member name. */
static long long get_limit(const char *name)
{
	struct th_http_resp r;
	long long v;

	ck_assert_int_eq(th_http("GET", "/api/kafka-limits", admin, NULL, &r), 200);
	v = th_jint(&r, name, -1);
	th_http_free(&r);
	return v;
}

/* A TCP connection to the Kafka port from address src (127.0.0.x). */
static int connect_from(const char *src)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, d = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, src, &a.sin_addr);
	ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind %s: %s", src,
		      strerror(errno));
	inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
	d.sin_port = htons((uint16_t)kafka_port);
	ck_assert_msg(connect(fd, (struct sockaddr *)&d, sizeof(d)) == 0, "connect: %s",
		      strerror(errno));
	return fd;
}

/* 1 when fd gets an answer to ApiVersions v0 within 5 s. */
static int served(int fd)
{
	uint8_t buf[4096];

	kh_raw_request(fd, 18, 0, 1, NULL, 0);
	return kh_raw_response(fd, buf, sizeof(buf), 5000) > 6;
}

/* Polls (bounded: 5 s) until a new connection from src is served; closes
 * it.  A refused attempt is simply retried: the broker learns of a closed
 * connection a moment after the client closes it. */
static void wait_admitted(const char *src)
{
	uint64_t end = th_now_ms() + 5000;

	for (;;) {
		int fd = connect_from(src);
		int ok = served(fd);

		close(fd);
		if (ok)
			return;
		ck_assert_msg(th_now_ms() < end, "%s never admitted again", src);
		th_sleep_ms(50);
	}
}

START_TEST(test_kafka_limits_max_connections_per_ip)
{
	struct th_http_resp r;
	int a, b, c, other;

	/* administrators only */
	ck_assert_int_eq(th_http("PUT", "/api/kafka-limits/max.connections.per.ip", "mo:pw",
				 "{\"value\":1}", &r),
			 401);
	th_http_free(&r);
	ck_assert_int_eq(get_limit("max.connections.per.ip"), 2147483647);
	set_limit("max.connections.per.ip", "2");
	ck_assert_int_eq(get_limit("max.connections.per.ip"), 2);
	a = connect_from("127.0.0.1");
	b = connect_from("127.0.0.1");
	ck_assert(served(a) && served(b));
	/* the third from that address is closed right after accept */
	c = connect_from("127.0.0.1");
	ck_assert_msg(kh_raw_closed(c, 5000), "a third connection from 127.0.0.1 was kept");
	close(c);
	ck_assert_int_ge(get_limit("connections_refused_per_ip"), 1);
	ck_assert_int_eq(th_http("GET", "/metrics", admin, NULL, &r), 200);
	ck_assert_msg(strstr(r.body, "\ntandem_kafka_connections_refused_per_ip_total ") &&
			      !strstr(r.body,
				      "\ntandem_kafka_connections_refused_per_ip_total 0\n"),
		      "%s", r.body);
	th_http_free(&r);
	/* the two already in, and another address, are served */
	other = connect_from("127.0.0.2");
	ck_assert(served(a) && served(b) && served(other));
	/* an override for the address lifts its limit alone */
	set_limit("max.connections.per.ip.overrides", "\"127.0.0.1:3, 127.0.0.9:0\"");
	ck_assert_int_eq(th_http("GET", "/api/kafka-limits/max.connections.per.ip.overrides", admin,
				 NULL, &r),
			 200);
	ck_assert_str_eq(th_jstr(&r, "max.connections.per.ip.overrides"),
			 "127.0.0.1:3,127.0.0.9:0");
	th_http_free(&r);
	c = connect_from("127.0.0.1");
	ck_assert(served(c));
	int d = connect_from("127.0.0.1");
	ck_assert_msg(kh_raw_closed(d, 5000), "a fourth connection from 127.0.0.1 was kept");
	close(d);
	d = connect_from("127.0.0.9");
	ck_assert_msg(kh_raw_closed(d, 5000), "127.0.0.9 (override 0) was let in");
	close(d);
	/* a closed connection frees its place */
	close(c);
	wait_admitted("127.0.0.1");
	/* malformed values are refused and change nothing */
	ck_assert_int_eq(api("PUT", "/api/kafka-limits/max.connections.per.ip.overrides",
			     "{\"value\":\"127.0.0.1\"}"),
			 400);
	ck_assert_int_eq(api("PUT", "/api/kafka-limits/max.connections.per.ip", "{\"value\":-1}"),
			 400);
	ck_assert_int_eq(api("PUT", "/api/kafka-limits/no.such.limit", "{\"value\":1}"), 400);
	/* DELETE: back to tandem.conf's (no limit) */
	ck_assert_int_eq(api("DELETE", "/api/kafka-limits/max.connections.per.ip.overrides", NULL),
			 204);
	ck_assert_int_eq(api("DELETE", "/api/kafka-limits/max.connections.per.ip", NULL), 204);
	ck_assert_int_eq(get_limit("max.connections.per.ip"), 2147483647);
	c = connect_from("127.0.0.1");
	ck_assert(served(c));
	close(a);
	close(b);
	close(c);
	close(other);
}
END_TEST

/* tandem.conf's names: max.connections.per.ip with overrides; a value set
 * over the API survives a restart, and DELETE goes back to tandem.conf's. */
START_TEST(test_kafka_limits_config_and_restart)
{
	const char *more[] = { "--max.connections.per.ip", "1",
			       "--max.connections.per.ip.overrides", "127.0.0.2:2", NULL };
	int a, b, c;

	start_broker(more);
	a = connect_from("127.0.0.1");
	ck_assert(served(a));
	b = connect_from("127.0.0.1");
	ck_assert_msg(kh_raw_closed(b, 5000), "max.connections.per.ip = 1 let a second in");
	close(b);
	b = connect_from("127.0.0.2");
	c = connect_from("127.0.0.2");
	ck_assert(served(b) && served(c));
	close(a);
	close(b);
	close(c);
	set_limit("max_partitions", "7");
	set_limit("max.connections.per.ip", "3");
	th_broker_restart();
	ck_assert_int_eq(get_limit("max_partitions"), 7);
	ck_assert_int_eq(get_limit("max.connections.per.ip"), 3);
	ck_assert_int_eq(api("DELETE", "/api/kafka-limits/max.connections.per.ip", NULL), 204);
	th_broker_restart();
	ck_assert_int_eq(get_limit("max.connections.per.ip"), 1);
	ck_assert_int_eq(get_limit("max_partitions"), 7);
}
END_TEST

START_TEST(test_kafka_limits_bad_overrides_refuse_start)
{
	const char *args[] = { "--max.connections.per.ip.overrides", "127.0.0.1:many", NULL };
	const char *want[] = { "max.connections.per.ip.overrides", "'many' is not a count", NULL };

	tl_expect_refused(TANDEMD_PATH, args, want);
}
END_TEST

/* socket.request.max.bytes: a bigger request closes that connection (Kafka's
 * InvalidReceiveException); the others are served. */
START_TEST(test_kafka_limits_request_size)
{
	static uint8_t body[3100];
	uint8_t buf[8192];
	int big, small;

	/* Metadata v0 for one topic of a 3000-byte name: a valid request */
	memset(body, 'x', sizeof(body));
	body[0] = body[1] = body[2] = 0;
	body[3] = 1;
	body[4] = 3000 >> 8;
	body[5] = 3000 & 0xff;
	set_limit("socket.request.max.bytes", "2048");
	small = su_tcp_connect(kafka_port);
	big = su_tcp_connect(kafka_port);
	ck_assert(served(small) && served(big));
	kh_raw_request(big, 3, 0, 2, body, 3006);
	ck_assert_msg(kh_raw_closed(big, 5000), "a request over socket.request.max.bytes was read");
	close(big);
	ck_assert(served(small));
	/* back to tandem.conf's 100 MiB: the same request is answered */
	ck_assert_int_eq(api("DELETE", "/api/kafka-limits/socket.request.max.bytes", NULL), 204);
	ck_assert_int_eq(get_limit("socket.request.max.bytes"), 100 << 20);
	kh_raw_request(small, 3, 0, 3, body, 3006);
	ck_assert_int_gt(kh_raw_response(small, buf, sizeof(buf), 5000), 8);
	close(small);
}
END_TEST

/* max_partitions_per_topic: INVALID_PARTITIONS; max_partitions:
 * POLICY_VIOLATION; max.message.bytes: MESSAGE_TOO_LARGE; a producer of
 * another topic goes on. */
START_TEST(test_kafka_limits_partitions_and_message_size)
{
	const char *small_msgs[] = { "max.message.bytes", "1024", NULL };
	char t1[64], t2[64], t3[64], big[2048];
	rd_kafka_t *p;

	start_broker(NULL);
	p = kh_producer(boot, NULL);
	kh_name(t1, sizeof(t1), "lim");
	kh_name(t2, sizeof(t2), "lim");
	kh_name(t3, sizeof(t3), "lim");
	ck_assert_int_eq(kh_create_topic(p, t1, 2, 1, small_msgs), RD_KAFKA_RESP_ERR_NO_ERROR);
	set_limit("max_partitions_per_topic", "3");
	ck_assert_int_eq(kh_create_topic(p, t2, 4, 1, NULL), RD_KAFKA_RESP_ERR_INVALID_PARTITIONS);
	set_limit("max_partitions", "4");
	ck_assert_int_eq(kh_create_topic(p, t2, 3, 1, NULL), RD_KAFKA_RESP_ERR_POLICY_VIOLATION);
	ck_assert_int_eq(kh_produce_sync(p, t1, 0, NULL, "still served", 0, NULL),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(kh_produce_sync(p, t1, 1, NULL, big, 0, NULL),
			 RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
	ck_assert_int_eq(kh_create_topic(p, t2, 2, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	/* DELETE: tandem.conf's limits again */
	ck_assert_int_eq(api("DELETE", "/api/kafka-limits/max_partitions", NULL), 204);
	ck_assert_int_eq(api("DELETE", "/api/kafka-limits/max_partitions_per_topic", NULL), 204);
	ck_assert_int_eq(kh_create_topic(p, t3, 5, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
}
END_TEST

static int16_t be16(const uint8_t *p)
{
	return (int16_t)(p[0] << 8 | p[1]);
}

/* SaslHandshake v1 PLAIN then SaslAuthenticate v0 as user/pw on a new
 * connection (returned in *fd); the error code, its message into msg. */
static int sasl_plain(int *fd, const char *user, const char *pw, char *msg, size_t cap)
{
	uint8_t buf[4096], body[600];
	const uint8_t hs[] = { 0, 5, 'P', 'L', 'A', 'I', 'N' };
	size_t ul = strlen(user), pl = strlen(pw), n = 4;
	long len;

	*fd = su_tcp_connect(kafka_port);
	ck_assert_int_ge(*fd, 0);
	kh_raw_request(*fd, 17, 1, 1, hs, sizeof(hs));
	len = kh_raw_response(*fd, buf, sizeof(buf), 5000);
	ck_assert_int_gt(len, 6);
	ck_assert_int_eq(be16(buf + 4), 0);
	body[n++] = 0;
	memcpy(body + n, user, ul);
	n += ul;
	body[n++] = 0;
	memcpy(body + n, pw, pl);
	n += pl;
	body[0] = body[1] = 0;
	body[2] = (uint8_t)((n - 4) >> 8);
	body[3] = (uint8_t)(n - 4);
	kh_raw_request(*fd, 36, 0, 2, body, n);
	len = kh_raw_response(*fd, buf, sizeof(buf), 5000);
	ck_assert_int_gt(len, 8);
	int16_t ml = be16(buf + 6);
	snprintf(msg, cap, "%.*s", ml > 0 ? (int)ml : 0, (const char *)buf + 8);
	return be16(buf + 4);
}

START_TEST(test_kafka_limits_sasl_counts_toward_user_max_connections)
{
	struct th_login lo = { .user = "bob", .password = "pw" };
	struct th_http_resp r;
	amqp_rpc_reply_t rep;
	char msg[512], name[256], seg[512], path[640];
	int a, b;

	ck_assert_int_eq(api("PUT", "/api/user-limits/bob/max-connections", "{\"value\":1}"), 204);
	ck_assert_int_eq(sasl_plain(&a, "bob", "pw", msg, sizeof(msg)), 0);
	ck_assert(served(a));
	/* listed as bob's, in kafka_vhost */
	ck_assert_int_eq(th_http("GET", "/api/connections", admin, NULL, &r), 200);
	ck_assert_str_eq(th_jstr(&r, "[user=bob]/protocol"), "Kafka");
	ck_assert_str_eq(th_jstr(&r, "[user=bob]/vhost"), "/");
	snprintf(name, sizeof(name), "%s", th_jstr(&r, "[user=bob]/name"));
	th_http_free(&r);
	/* a second SASL login of bob: SASL_AUTHENTICATION_FAILED, RabbitMQ's text */
	ck_assert_int_eq(sasl_plain(&b, "bob", "pw", msg, sizeof(msg)), 58);
	ck_assert_str_eq(msg, "connection refused for user 'bob': user connection limit (1) is "
			      "reached");
	ck_assert_int_eq(kh_raw_closed(b, 5000), 1);
	close(b);
	/* an AMQP login of bob too */
	amqp_connection_state_t ac = th_connect_opts(&lo, &rep);
	ck_assert_int_ne(rep.reply_type, AMQP_RESPONSE_NORMAL);
	th_destroy(ac);
	/* the first one is still served; guest is not limited */
	ck_assert(served(a));
	ck_assert_int_eq(sasl_plain(&b, "guest", "guest", msg, sizeof(msg)), 0);
	close(b);
	/* the vhost's limit counts Kafka connections as well */
	ck_assert_int_eq(api("PUT", "/api/vhost-limits/%2F/max-connections", "{\"value\":0}"), 204);
	ck_assert_int_eq(sasl_plain(&b, "guest", "guest", msg, sizeof(msg)), 58);
	ck_assert_str_eq(msg, "access to vhost '/' refused for user 'guest': connection limit (0) "
			      "is reached");
	close(b);
	ck_assert_int_eq(api("DELETE", "/api/vhost-limits/%2F/max-connections", NULL), 204);
	/* a "vhost:user" SASL name counts in the vhost it picks */
	ck_assert_int_eq(api("PUT", "/api/vhosts/kl", "{}") / 100, 2);
	ck_assert_int_eq(api("PUT", "/api/permissions/kl/guest",
			     "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}") /
				 100,
			 2);
	ck_assert_int_eq(api("PUT", "/api/vhost-limits/kl/max-connections", "{\"value\":0}"), 204);
	ck_assert_int_eq(sasl_plain(&b, "kl:guest", "guest", msg, sizeof(msg)), 58);
	ck_assert_str_eq(msg, "access to vhost 'kl' refused for user 'guest': connection limit (0) "
			      "is reached");
	close(b);
	ck_assert_int_eq(api("DELETE", "/api/vhost-limits/kl/max-connections", NULL), 204);
	ck_assert_int_eq(sasl_plain(&b, "kl:guest", "guest", msg, sizeof(msg)), 0);
	ck_assert_int_eq(th_http("GET", "/api/connections", admin, NULL, &r), 200);
	ck_assert_str_eq(th_jstr(&r, "[vhost=kl]/user"), "guest");
	th_http_free(&r);
	close(b);
	/* an operator closes it (DELETE /api/connections/name); bob's place
	 * is free once it is gone */
	th_urlseg(seg, sizeof(seg), name);
	snprintf(path, sizeof(path), "/api/connections/%s", seg);
	ck_assert_int_eq(api("DELETE", path, NULL), 204);
	ck_assert_msg(kh_raw_closed(a, 5000), "DELETE /api/connections left the Kafka one open");
	close(a);
	uint64_t end = th_now_ms() + 5000;
	int rc;
	while ((rc = sasl_plain(&b, "bob", "pw", msg, sizeof(msg))) != 0 && th_now_ms() < end) {
		close(b);
		th_sleep_ms(50);
	}
	ck_assert_int_eq(rc, 0);
	close(b);
	ck_assert_int_eq(api("DELETE", "/api/user-limits/bob/max-connections", NULL), 204);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kafka_limits");
	TCase *tc = th_tcase("kafka_limits");
	char dir[256];

	if (getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: test_kafka_limits starts tandemds of its own\n");
		return 77;
	}
	if (tl_make_certs(dir, sizeof(dir)) < 0) { /* tl_expect_refused's scratch dir */
		fprintf(stderr, "test_kafka_limits: no scratch dir (%s/gen.log)\n", dir);
		return 99;
	}
	start_broker(NULL);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_kafka_limits_max_connections_per_ip);
	tcase_add_test(tc, test_kafka_limits_config_and_restart);
	tcase_add_test(tc, test_kafka_limits_bad_overrides_refuse_start);
	tcase_add_test(tc, test_kafka_limits_request_size);
	tcase_add_test(tc, test_kafka_limits_partitions_and_message_size);
	tcase_add_test(tc, test_kafka_limits_sasl_counts_toward_user_max_connections);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
