/* SASL on the Kafka listener (kafka_sasl_required = true): librdkafka
 * produces and consumes as a user of the broker (the users AMQP logs in
 * with) over PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512; a wrong password, an
 * unknown user and a user known only by a RabbitMQ password hash (no SCRAM
 * credentials) fail with an authentication error; a client without SASL
 * is closed; SaslHandshake refuses an unknown mechanism with the list. */
#include "kafka_harness.h"
#include "sockutil.h"
#include "parallel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* base64(salt 01020304 || SHA-256(salt || "hashpw")): a user known only by
 * its RabbitMQ hash. */
#define HASH_ONLY "AQIDBJb8eJT7iB2DTryz9B6wf3joJ7slTFkc8nFaMo7QNP5I"

static const char *const broker_args[] = { "--kafka-sasl-required",
					   "true",
					   "--users.alice.password",
					   "s3cret",
					   "--users.alice.vhosts",
					   "/",
					   "--users.hashy.password_hash",
					   HASH_ONLY,
					   NULL };

static void produce_consume(const char *mech)
{
	char topic[64];
	const char *const kv[] = { "security.protocol",
				   "sasl_plaintext",
				   "sasl.mechanisms",
				   mech,
				   "sasl.username",
				   "alice",
				   "sasl.password",
				   "s3cret",
				   NULL };
	const char *const ckv[] = { "security.protocol", "sasl_plaintext",
				    "sasl.mechanisms",   mech,
				    "sasl.username",     "alice",
				    "sasl.password",     "s3cret",
				    "group.id",          "g",
				    KH_READ_TO_END,      NULL };
	struct kh_msg m[4];

	kh_name(topic, sizeof(topic), "sasl");
	rd_kafka_t *p = kh_producer(kh_bootstrap(), kv);
	ck_assert_int_eq(kh_create_topic(p, topic, 1, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, mech, 0, NULL), 0);
	rd_kafka_destroy(p);
	rd_kafka_t *c = kh_consumer(kh_bootstrap(), ckv);
	int n = kh_consume(c, topic, 0, RD_KAFKA_OFFSET_BEGINNING, m, 4, 10000);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(m[0].value, mech);
	kh_msgs_free(m, n);
	rd_kafka_destroy(c);
}

START_TEST(test_kafka_sasl_plain)
{
	produce_consume("PLAIN");
}
END_TEST

START_TEST(test_kafka_sasl_scram_sha_256)
{
	produce_consume("SCRAM-SHA-256");
}
END_TEST

START_TEST(test_kafka_sasl_scram_sha_512)
{
	produce_consume("SCRAM-SHA-512");
}
END_TEST

static rd_kafka_resp_err_t seen_err;
static char seen_reason[512];

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
		seen_err = (rd_kafka_resp_err_t)err;
		snprintf(seen_reason, sizeof(seen_reason), "%s", reason);
	}
}

/* A producer as user/password over mech: the authentication error
 * librdkafka reports, waited for within 15 s (0 if none). */
static rd_kafka_resp_err_t auth_error(const char *mech, const char *user, const char *pw)
{
	const char *const kv[] = { "security.protocol",
				   "sasl_plaintext",
				   "sasl.mechanisms",
				   mech,
				   "sasl.username",
				   user,
				   "sasl.password",
				   pw,
				   NULL };
	char err[256];
	rd_kafka_conf_t *conf = kh_conf(kh_bootstrap(), kv);

	seen_err = 0;
	seen_reason[0] = '\0';
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	ck_assert_msg(rk != NULL, "%s", err);
	uint64_t end = kh_now_ms() + 15000;
	while (!seen_err && kh_now_ms() < end)
		rd_kafka_poll(rk, 100);
	rd_kafka_destroy(rk);
	return seen_err;
}

START_TEST(test_kafka_sasl_wrong_password)
{
	ck_assert_int_eq(auth_error("PLAIN", "alice", "wrong"), RD_KAFKA_RESP_ERR__AUTHENTICATION);
	ck_assert_msg(strstr(seen_reason, "Invalid username or password"), "%s", seen_reason);
	ck_assert_int_eq(auth_error("SCRAM-SHA-256", "alice", "wrong"),
			 RD_KAFKA_RESP_ERR__AUTHENTICATION);
	ck_assert_int_eq(auth_error("SCRAM-SHA-512", "nobody", "s3cret"),
			 RD_KAFKA_RESP_ERR__AUTHENTICATION);
}
END_TEST

/* Only a RabbitMQ hash is known: PLAIN works, SCRAM cannot. */
START_TEST(test_kafka_sasl_scram_needs_password)
{
	ck_assert_int_eq(auth_error("SCRAM-SHA-256", "hashy", "hashpw"),
			 RD_KAFKA_RESP_ERR__AUTHENTICATION);
	const char *const kv[] = { "security.protocol",
				   "sasl_plaintext",
				   "sasl.mechanisms",
				   "PLAIN",
				   "sasl.username",
				   "hashy",
				   "sasl.password",
				   "hashpw",
				   NULL };
	char topic[64];
	kh_name(topic, sizeof(topic), "hashy");
	rd_kafka_t *p = kh_producer(kh_bootstrap(), kv);
	ck_assert_int_eq(kh_create_topic(p, topic, 1, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
}
END_TEST

static int16_t be16(const uint8_t *p)
{
	return (int16_t)(p[0] << 8 | p[1]);
}

/* ApiVersions is served before authentication and lists SaslHandshake
 * (17) and SaslAuthenticate (36); Metadata before SASL closes. */
START_TEST(test_kafka_sasl_required_closes)
{
	uint8_t buf[4096];
	int fd = kh_raw_connect(kh_main());
	kh_raw_request(fd, 18, 0, 1, NULL, 0);
	long n = kh_raw_response(fd, buf, sizeof(buf), 5000);
	ck_assert_int_gt(n, 10);
	ck_assert_int_eq(be16(buf + 4), 0);
	int has17 = 0, has36 = 0;
	for (long off = 10; off + 6 <= n; off += 6) {
		has17 |= be16(buf + off) == 17;
		has36 |= be16(buf + off) == 36;
	}
	ck_assert(has17 && has36);
	const uint8_t all_topics[4] = { 0, 0, 0, 0 }; /* Metadata v0: [] */
	kh_raw_request(fd, 3, 0, 2, all_topics, sizeof(all_topics));
	ck_assert_int_eq(kh_raw_closed(fd, 5000), 1);
	close(fd);

	/* and librdkafka without SASL gets no metadata */
	rd_kafka_t *p = kh_producer(kh_bootstrap(), NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(p, 1, NULL, &md, 3000);
	ck_assert_int_ne(e, RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
}
END_TEST

/* An unknown mechanism: UNSUPPORTED_SASL_MECHANISM (33) with the enabled
 * list, then the connection closes. */
START_TEST(test_kafka_sasl_unsupported_mechanism)
{
	uint8_t buf[4096], body[16] = { 0, 6, 'G', 'S', 'S', 'A', 'P', 'I' };
	int fd = kh_raw_connect(kh_main());
	kh_raw_request(fd, 17, 1, 7, body, 8);
	long n = kh_raw_response(fd, buf, sizeof(buf), 5000);
	ck_assert_int_gt(n, 10);
	ck_assert_int_eq(be16(buf + 4), 33);
	ck_assert_int_eq(buf[9], 3); /* three mechanisms */
	ck_assert(memmem(buf, (size_t)n, "PLAIN", 5) &&
		  memmem(buf, (size_t)n, "SCRAM-SHA-512", 13));
	ck_assert_int_eq(kh_raw_closed(fd, 5000), 1);
	close(fd);
}
END_TEST

/* SaslHandshake v0 (kafka-python's way): the PLAIN token follows as a bare
 * size-prefixed frame and is answered the same way (empty); then requests
 * are served.  A wrong password there closes the connection. */
START_TEST(test_kafka_sasl_handshake_v0_bare_tokens)
{
	uint8_t buf[4096], body[16] = { 0, 5, 'P', 'L', 'A', 'I', 'N' };
	static const char tok[] = "\0alice\0s3cret", bad[] = "\0alice\0s3creT";
	const uint8_t all_topics[4] = { 0, 0, 0, 0 };

	for (int wrong = 0; wrong < 2; wrong++) {
		int fd = kh_raw_connect(kh_main());
		kh_raw_request(fd, 17, 0, 1, body, 7);
		long n = kh_raw_response(fd, buf, sizeof(buf), 5000);
		ck_assert_int_gt(n, 6);
		ck_assert_int_eq(be16(buf + 4), 0);
		uint8_t frame[4 + sizeof(tok) - 1] = { 0, 0, 0, sizeof(tok) - 1 };
		memcpy(frame + 4, wrong ? bad : tok, sizeof(tok) - 1);
		ck_assert_int_eq(write(fd, frame, sizeof(frame)), (ssize_t)sizeof(frame));
		if (wrong) {
			ck_assert_int_eq(kh_raw_closed(fd, 5000), 1);
		} else {
			ck_assert_int_eq(kh_raw_response(fd, buf, sizeof(buf), 5000), 0);
			kh_raw_request(fd, 3, 0, 2, all_topics, sizeof(all_topics));
			n = kh_raw_response(fd, buf, sizeof(buf), 5000);
			ck_assert_int_gt(n, 8);
		}
		close(fd);
	}
}
END_TEST

/* PUT body to path of the management API on 127.0.0.1:port as
 * guest:guest; the HTTP status.  The listener may open a little after the
 * Kafka one: connecting is retried for up to 10 s. */
static int http_put(int port, const char *path, const char *body)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[1024], resp[256];
	int fd = -1, status = 0;
	for (uint64_t end = kh_now_ms() + 10000; fd < 0 && kh_now_ms() < end;) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
			close(fd);
			fd = -1;
			kh_sleep_ms(50);
		}
	}
	ck_assert_msg(fd >= 0, "no HTTP listener on %d", port);
	int n = snprintf(req, sizeof(req),
			 "PUT %s HTTP/1.1\r\nHost: localhost\r\n"
			 "Authorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 path, strlen(body), body);
	ck_assert_int_eq(write(fd, req, (size_t)n), n);
	ssize_t got = read(fd, resp, sizeof(resp) - 1);
	if (got > 0) {
		resp[got] = '\0';
		sscanf(resp, "HTTP/1.%*d %d", &status);
	}
	close(fd);
	return status;
}

/* Issue 13: the SCRAM credentials of a user whose password was set over
 * the management API are persisted (salt, iterations, StoredKey,
 * ServerKey), so SCRAM still logs in after a restart. */
START_TEST(test_kafka_sasl_scram_survives_restart)
{
	struct kh_broker b;
	char port[16], topic[64];
	int hp = su_free_port();
	snprintf(port, sizeof(port), "%d", hp);
	const char *const args[] = { "--kafka-sasl-required", "true", "--http-port", port, NULL };
	const char *const kv[] = { "security.protocol", "sasl_plaintext", "sasl.mechanisms",
				   "SCRAM-SHA-512",     "sasl.username",  "carol",
				   "sasl.password",     "pw-carol",       NULL };
	ck_assert_int_eq(kh_broker_start(&b, args), 0);
	ck_assert_int_eq(http_put(hp, "/api/users/carol",
				  "{\"password\":\"pw-carol\",\"tags\":\"\"}"),
			 201);
	ck_assert_int_eq(http_put(hp, "/api/permissions/%2F/carol",
				  "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}"),
			 201);
	for (int round = 0; round < 2; round++) {
		kh_name(topic, sizeof(topic), round ? "scram-after" : "scram-before");
		rd_kafka_t *p = kh_producer(b.bootstrap, kv);
		ck_assert_int_eq(kh_create_topic(p, topic, 1, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "x", 0, NULL), 0);
		rd_kafka_destroy(p);
		if (!round)
			ck_assert_int_eq(kh_broker_restart(&b), 0);
	}
	kh_broker_destroy(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kafka_sasl");
	TCase *tc;
	int failed;

	/* topics of their own on the program's broker, or a tandemd of their
	 * own: side by side (parallel.h) */
	tcase_add_test(tp_tcase(s, "plain", KH_TEST_TIMEOUT), test_kafka_sasl_plain);
	tcase_add_test(tp_tcase(s, "scram-sha-256", KH_TEST_TIMEOUT),
		       test_kafka_sasl_scram_sha_256);
	tcase_add_test(tp_tcase(s, "scram-sha-512", KH_TEST_TIMEOUT),
		       test_kafka_sasl_scram_sha_512);
	tc = tp_tcase(s, "refused", KH_TEST_TIMEOUT);
	tcase_add_test(tc, test_kafka_sasl_wrong_password);
	tcase_add_test(tc, test_kafka_sasl_scram_needs_password);
	tcase_add_test(tc, test_kafka_sasl_required_closes);
	tcase_add_test(tc, test_kafka_sasl_unsupported_mechanism);
	tcase_add_test(tc, test_kafka_sasl_handshake_v0_bare_tokens);
	tcase_add_test(tp_tcase(s, "restart", KH_TEST_TIMEOUT),
		       test_kafka_sasl_scram_survives_restart);
	/* kh_run_suite's steps, with the TCases side by side */
	signal(SIGPIPE, SIG_IGN);
	if (kh_broker_start(kh_main(), broker_args) < 0)
		return 99;
	failed = tp_run_suite(s, 0);
	if (kh_broker_stop(kh_main()) != 0)
		failed++;
	kh_broker_destroy(kh_main());
	return failed ? 1 : 0;
}
