/* Kafka SSL (issue 13, step 1): a second Kafka listener speaking TLS,
 * configured as Kafka's server.properties spells it: listeners =
 * PLAINTEXT://127.0.0.1:P,SSL://127.0.0.1:S with a PEM keystore
 * (ssl.keystore.type = PEM, ssl.keystore.location, ssl.truststore.location,
 * ssl.client.auth).
 *
 *  - kcat over SSL produces and consumes on the SSL listener;
 *  - librdkafka over SSL too, and Metadata names the SSL port as the
 *    broker's (a client on the SSL port must reconnect there, not to the
 *    plaintext one); a client on the plaintext port is told that port;
 *  - plaintext Kafka on the SSL port is closed, the broker keeps serving;
 *  - ssl.client.auth = required refuses a client without a certificate;
 *  - a missing or unusable keystore, an unsupported keystore type, a
 *    SASL listener without mechanisms stop tandemd at start with a line
 *    saying why;
 *  - SASL_SSL (TLS, then SASL) and SASL_PLAINTEXT listeners: librdkafka
 *    and kcat with security.protocol=sasl_ssl (SCRAM and PLAIN); TLS
 *    without SASL or a wrong password gets nothing; a SASL_PLAINTEXT
 *    listener closes Metadata before authentication while a PLAINTEXT one
 *    of the same broker serves it.
 *
 * Certificates are made at start with the openssl command (tlsutil.c).
 * Needs a tandemd of its own: skipped (77) against TANDEM_TEST_BROKER.
 * Depends on: Check, librdkafka, the kcat and openssl commands, POSIX.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "harness.h"
#include "kafka_harness.h"
#include "parallel.h"
#include "sockutil.h"
#include "tlsutil.h"

#ifndef TANDEMD_PATH
#define TANDEMD_PATH "../../src/tandemd"
#endif

static char dir[256];
static int plain_port, ssl_port; /* of the broker this process uses */
static char ssl_boot[64], plain_boot[64];
static char ca[512], bundle[512];

/* Connectable within a bound (the Kafka listeners open after the AMQP one
 * the harness waits for). */
static int wait_port(int port)
{
	uint64_t end = th_now_ms() + 10000;

	while (th_now_ms() < end) {
		int fd = su_tcp_connect(port);

		if (fd >= 0) {
			close(fd);
			return 1;
		}
		th_sleep_ms(20);
	}
	return 0;
}

/* A tandemd with a plain and a TLS Kafka listener on fresh ports, named
 * plain_name and tls_name (PLAINTEXT or SASL_PLAINTEXT, SSL or SASL_SSL),
 * plus more args (NULL-terminated). */
static void start_broker_as(const char *plain_name, const char *tls_name, const char *const *more)
{
	static char listeners[160];
	const char *args[32];
	int n = 0;

	plain_port = su_free_port();
	do
		ssl_port = su_free_port();
	while (ssl_port == plain_port);
	snprintf(listeners, sizeof(listeners), "%s://127.0.0.1:%d,%s://127.0.0.1:%d", plain_name,
		 plain_port, tls_name, ssl_port);
	snprintf(ssl_boot, sizeof(ssl_boot), "127.0.0.1:%d", ssl_port);
	snprintf(plain_boot, sizeof(plain_boot), "127.0.0.1:%d", plain_port);
	args[n++] = "--listeners";
	args[n++] = listeners;
	args[n++] = "--ssl.keystore.type";
	args[n++] = "PEM";
	args[n++] = "--ssl.keystore.location";
	args[n++] = bundle;
	args[n++] = "--auto-create-topics";
	args[n++] = "true";
	for (int i = 0; more && more[i] && n < 31; i++)
		args[n++] = more[i];
	args[n] = NULL;
	th_start_with_args(args);
	if (!wait_port(plain_port) || !wait_port(ssl_port)) {
		fprintf(stderr, "test_kafka_ssl: the Kafka listeners did not open\n");
		exit(99);
	}
}

/* A tandemd with a PLAINTEXT and an SSL Kafka listener. */
static void start_ssl_broker(const char *const *more)
{
	start_broker_as("PLAINTEXT", "SSL", more);
}

/* librdkafka over SSL, verifying the broker against ca.pem, plus more. */
static const char *const *ssl_kv(const char **kv, const char *const *more)
{
	int n = 0;

	kv[n++] = "security.protocol";
	kv[n++] = "ssl";
	kv[n++] = "ssl.ca.location";
	kv[n++] = ca;
	for (int i = 0; more && more[i]; i++)
		kv[n++] = more[i];
	kv[n] = NULL;
	return kv;
}

/* The port Metadata names for broker 0, or -1 (error within timeout_ms). */
static int metadata_port(rd_kafka_t *rk, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	int port = -1;

	if (rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	if (md->broker_cnt >= 1)
		port = md->brokers[0].port;
	rd_kafka_metadata_destroy(md);
	return port;
}

/* What librdkafka reported (its error callback) for a client the broker
 * must refuse: the first connection failure (a TLS, transport or
 * authentication error) and its text. */
struct refusal {
	int err; /* 0 until one came */
	char text[512];
};

static void note_refusal(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct refusal *r = opaque;

	(void)rk;
	fprintf(stderr, "refused client: %s: %s\n", rd_kafka_err2name(err), reason);
	if (r->err || (err != RD_KAFKA_RESP_ERR__SSL && err != RD_KAFKA_RESP_ERR__TRANSPORT &&
		       err != RD_KAFKA_RESP_ERR__AUTHENTICATION))
		return;
	r->err = err;
	snprintf(r->text, sizeof(r->text), "%s", reason);
}

/* A producer on boot with kv gets no metadata (what: the message if it
 * does): waits (bounded, 10 s) for librdkafka to report its connection
 * refused, every Metadata request meanwhile failing, and one more after
 * it; the report into *r.  Waiting for the refusal, not for a Metadata
 * timeout, keeps this to the time the broker takes to refuse. */
static void expect_no_metadata(const char *boot, const char *const *kv, const char *what,
			       struct refusal *r)
{
	char err[512];
	rd_kafka_conf_t *conf = kh_conf(boot, kv);
	rd_kafka_t *p;

	memset(r, 0, sizeof(*r));
	rd_kafka_conf_set_opaque(conf, r);
	rd_kafka_conf_set_error_cb(conf, note_refusal);
	p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	ck_assert_msg(p != NULL, "%s", err);
	for (uint64_t end = th_now_ms() + 10000; !r->err && th_now_ms() < end;) {
		ck_assert_msg(metadata_port(p, 500) < 0, "%s", what);
		rd_kafka_poll(p, 100); /* serves the error callback */
	}
	ck_assert_msg(r->err, "%s: no connection failure reported within 10 s", what);
	ck_assert_msg(metadata_port(p, 1000) < 0, "%s", what);
	rd_kafka_destroy(p);
}

START_TEST(test_kafka_ssl_kcat)
{
	char topic[64], cmd[2048], out[4096];
	int rc;

	kh_name(topic, sizeof(topic), "kcat-ssl");
	snprintf(cmd, sizeof(cmd),
		 "printf 'one\\ntwo\\n' | timeout 30 kcat -b %s -X security.protocol=ssl "
		 "-X ssl.ca.location=%s -P -t %s 2>&1",
		 ssl_boot, ca, topic);
	rc = tl_sh(cmd, out, sizeof(out));
	ck_assert_msg(rc == 0, "kcat -P over SSL: status %d: %s", rc, out);
	snprintf(cmd, sizeof(cmd),
		 "timeout 30 kcat -b %s -X security.protocol=ssl -X ssl.ca.location=%s -C -t %s "
		 "-o beginning -e -q -f '%%s|%%o\\n' 2>&1",
		 ssl_boot, ca, topic);
	rc = tl_sh(cmd, out, sizeof(out));
	ck_assert_msg(rc == 0, "kcat -C over SSL: status %d: %s", rc, out);
	ck_assert_msg(strcmp(out, "one|0\ntwo|1\n") == 0, "kcat -C over SSL read: %s", out);
}
END_TEST

START_TEST(test_kafka_ssl_librdkafka)
{
	const char *kv[16];
	const char *const cons_more[] = { "group.id", "ssl-readers", KH_READ_TO_END, NULL };
	char topic[64], value[64];
	struct kh_msg m[8];
	int64_t off = -1;
	rd_kafka_t *p, *c, *plain;
	int n;

	p = kh_producer(ssl_boot, ssl_kv(kv, NULL));
	/* a client on the SSL port is told the SSL port */
	ck_assert_int_eq(metadata_port(p, 10000), ssl_port);
	kh_name(topic, sizeof(topic), "rdk-ssl");
	ck_assert_int_eq(kh_create_topic(p, topic, 1, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	for (int i = 0; i < 3; i++) {
		snprintf(value, sizeof(value), "over TLS %d", i);
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, value, 0, &off),
				 RD_KAFKA_RESP_ERR_NO_ERROR);
		ck_assert_int_eq(off, i);
	}
	rd_kafka_destroy(p);
	c = kh_consumer(ssl_boot, ssl_kv(kv, cons_more));
	n = kh_consume(c, topic, 0, 0, m, 8, 10000);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(m[2].value, "over TLS 2");
	kh_msgs_free(m, n);
	rd_kafka_destroy(c);
	/* and a plaintext client on the plaintext port is told that one */
	plain = kh_producer(plain_boot, NULL);
	ck_assert_int_eq(metadata_port(plain, 10000), plain_port);
	c = kh_consumer(plain_boot, cons_more);
	n = kh_consume(c, topic, 0, 0, m, 8, 10000);
	ck_assert_int_eq(n, 3);
	kh_msgs_free(m, n);
	rd_kafka_destroy(c);
	rd_kafka_destroy(plain);
}
END_TEST

START_TEST(test_kafka_ssl_plaintext_on_ssl_port)
{
	/* ApiVersions v0 in clear: the TLS layer sees no ClientHello */
	int fd = su_tcp_connect(ssl_port);
	const char *kv[16];
	rd_kafka_t *p;

	ck_assert_int_ge(fd, 0);
	kh_raw_request(fd, 18, 0, 1, NULL, 0);
	ck_assert_msg(kh_raw_closed(fd, 5000), "plaintext Kafka on the SSL port was not closed");
	close(fd);
	/* the broker lives on, over SSL */
	p = kh_producer(ssl_boot, ssl_kv(kv, NULL));
	ck_assert_int_eq(metadata_port(p, 10000), ssl_port);
	rd_kafka_destroy(p);
}
END_TEST

START_TEST(test_kafka_ssl_client_auth_required)
{
	const char *more[] = { "--ssl.truststore.location", ca, "--ssl.client.auth", "required",
			       NULL };
	const char *with_cert[] = { "ssl.certificate.location", NULL, "ssl.key.location", NULL,
				    NULL };
	char crt[512], key[512];
	const char *kv[16];
	struct refusal ref;
	rd_kafka_t *p;

	start_ssl_broker(more);
	expect_no_metadata(ssl_boot, ssl_kv(kv, NULL),
			   "a client without a certificate got metadata", &ref);
	/* refused by TLS (the broker's 'certificate required' alert) */
	ck_assert_msg(strstr(ref.text, "SSL") != NULL, "refused, but not by TLS: %s", ref.text);
	with_cert[1] = tl_path(crt, sizeof(crt), "client.pem");
	with_cert[3] = tl_path(key, sizeof(key), "client.key");
	p = kh_producer(ssl_boot, ssl_kv(kv, with_cert));
	ck_assert_int_eq(metadata_port(p, 10000), ssl_port);
	rd_kafka_destroy(p);
}
END_TEST

/* tandemd with the SSL listener and these keystore args must not start;
 * stderr holds every string of want. */
static void expect_refused(const char *const *extra, const char *const *want)
{
	const char *args[24];
	int n = 0;

	args[n++] = "--listeners";
	args[n++] = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0";
	for (int i = 0; extra[i]; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	tl_expect_refused(TANDEMD_PATH, args, want);
}

START_TEST(test_kafka_ssl_bad_keystore_refuses_start)
{
	char missing[512], certonly[512];
	const char *a1[] = { "--ssl.keystore.location", missing, NULL };
	const char *w1[] = { "ssl.keystore.location", missing, "No such file or directory", NULL };
	const char *a2[] = { "--ssl.keystore.location", certonly, NULL };
	const char *w2[] = { "ssl.keystore.location", certonly, "not a usable PEM private key",
			     NULL };
	const char *a3[] = { NULL };
	const char *w3[] = { "needs ssl.keystore.location", NULL };
	const char *a4[] = { "--ssl.keystore.type", "JKS", "--ssl.keystore.location", bundle,
			     NULL };
	const char *w4[] = { "ssl.keystore.type", "JKS is not supported", NULL };
	const char *a5[] = { "--ssl.keystore.location", bundle, "--ssl.client.auth", "required",
			     NULL };
	const char *w5[] = { "ssl.client.auth = required needs ssl.truststore.location", NULL };

	tl_path(missing, sizeof(missing), "nonexistent.pem");
	tl_path(certonly, sizeof(certonly), "server.pem");
	expect_refused(a1, w1);
	expect_refused(a2, w2);
	expect_refused(a3, w3);
	expect_refused(a4, w4);
	expect_refused(a5, w5);
}
END_TEST

START_TEST(test_kafka_listeners_refused)
{
	static const char *const cases[][2] = {
		{ "FOO://127.0.0.1:0", "'FOO' is not a listener name" },
		{ "PLAINTEXT://127.0.0.1", "has no port" },
		{ "PLAINTEXT://:1,PLAINTEXT://:2", "PLAINTEXT is listed twice" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[] = { "--listeners", cases[i][0], "--ssl.keystore.location",
				       bundle, NULL };
		char err[4096];
		int touched = 0,
		    st = tl_run_refused(TANDEMD_PATH, args, err, sizeof(err), &touched);

		ck_assert_msg(st > 0, "listeners = %s: status %d: %s", cases[i][0], st, err);
		ck_assert_msg(strstr(err, cases[i][1]) != NULL,
			      "listeners = %s: stderr lacks '%s': %s", cases[i][0], cases[i][1],
			      err);
	}
	/* a SASL listener needs a mechanism; SASL_SSL a keystore */
	const char *a1[] = { "--listeners", "SASL_PLAINTEXT://127.0.0.1:0",
			     "--kafka-sasl-mechanisms", "none", NULL };
	const char *w1[] = { "SASL_PLAINTEXT needs kafka_sasl_mechanisms", NULL };
	const char *a2[] = { "--listeners", "SASL_SSL://127.0.0.1:0", NULL };
	const char *w2[] = { "SASL_SSL listener in listeners needs ssl.keystore.location", NULL };
	tl_expect_refused(TANDEMD_PATH, a1, w1);
	tl_expect_refused(TANDEMD_PATH, a2, w2);
}
END_TEST

/* librdkafka as alice over SASL on the TLS port (sasl_ssl) or the plain one
 * (sasl_plaintext), plus more settings. */
static const char *const *sasl_kv(const char **kv, const char *protocol, const char *mech,
				  const char *password, const char *const *more)
{
	int n = 0;

	kv[n++] = "security.protocol";
	kv[n++] = protocol;
	if (strcmp(protocol, "sasl_ssl") == 0) {
		kv[n++] = "ssl.ca.location";
		kv[n++] = ca;
	}
	kv[n++] = "sasl.mechanisms";
	kv[n++] = mech;
	kv[n++] = "sasl.username";
	kv[n++] = "alice";
	kv[n++] = "sasl.password";
	kv[n++] = password;
	for (int i = 0; more && more[i]; i++)
		kv[n++] = more[i];
	kv[n] = NULL;
	return kv;
}

static const char *const alice[] = { "--users.alice.password", "s3cret", "--users.alice.vhosts",
				     "/", NULL };

/* listeners = SASL_PLAINTEXT://..,SASL_SSL://..: librdkafka produces and
 * consumes over SASL_SSL with SCRAM-SHA-256 and PLAIN, Metadata names the
 * SASL_SSL port; TLS without SASL, or a wrong password, gets nothing; the
 * SASL_PLAINTEXT listener closes a request before authentication. */
START_TEST(test_kafka_sasl_ssl_librdkafka)
{
	const uint8_t all_topics[4] = { 0, 0, 0, 0 }; /* Metadata v0: [] */
	const char *kv[24];
	const char *const cons_more[] = { "group.id", "sasl-ssl-readers", KH_READ_TO_END, NULL };
	char topic[64];
	struct kh_msg m[8];
	struct refusal ref;
	rd_kafka_t *p, *c;
	int n;

	start_broker_as("SASL_PLAINTEXT", "SASL_SSL", alice);
	kh_name(topic, sizeof(topic), "rdk-sasl-ssl");
	p = kh_producer(ssl_boot, sasl_kv(kv, "sasl_ssl", "SCRAM-SHA-256", "s3cret", NULL));
	ck_assert_int_eq(metadata_port(p, 10000), ssl_port);
	ck_assert_int_eq(kh_create_topic(p, topic, 1, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "scram over TLS", 0, NULL),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
	p = kh_producer(ssl_boot, sasl_kv(kv, "sasl_ssl", "PLAIN", "s3cret", NULL));
	ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "plain over TLS", 0, NULL),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
	c = kh_consumer(ssl_boot, sasl_kv(kv, "sasl_ssl", "SCRAM-SHA-512", "s3cret", cons_more));
	n = kh_consume(c, topic, 0, 0, m, 8, 10000);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(m[0].value, "scram over TLS");
	ck_assert_str_eq(m[1].value, "plain over TLS");
	kh_msgs_free(m, n);
	rd_kafka_destroy(c);
	/* TLS alone is not enough on a SASL_SSL listener */
	expect_no_metadata(ssl_boot, ssl_kv(kv, NULL),
			   "a client without SASL got metadata over SASL_SSL", &ref);
	expect_no_metadata(ssl_boot, sasl_kv(kv, "sasl_ssl", "SCRAM-SHA-256", "wrong", NULL),
			   "a wrong password got metadata over SASL_SSL", &ref);
	ck_assert_msg(ref.err == RD_KAFKA_RESP_ERR__AUTHENTICATION,
		      "a wrong password refused, but not by SASL: %s: %s",
		      rd_kafka_err2name(ref.err), ref.text);
	/* the SASL_PLAINTEXT listener beside it: SASL, or nothing but the
	 * SASL requests and ApiVersions */
	p = kh_producer(plain_boot, sasl_kv(kv, "sasl_plaintext", "PLAIN", "s3cret", NULL));
	ck_assert_int_eq(metadata_port(p, 10000), plain_port);
	rd_kafka_destroy(p);
	int fd = su_tcp_connect(plain_port);
	ck_assert_int_ge(fd, 0);
	kh_raw_request(fd, 3, 0, 1, all_topics, sizeof(all_topics));
	ck_assert_msg(kh_raw_closed(fd, 5000), "SASL_PLAINTEXT served Metadata before SASL");
	close(fd);
}
END_TEST

/* A PLAINTEXT listener beside a SASL_SSL one serves without SASL; kcat
 * over SASL_SSL. */
START_TEST(test_kafka_sasl_listeners_require_sasl)
{
	const uint8_t all_topics[4] = { 0, 0, 0, 0 }; /* Metadata v0: [] */
	char topic[64], cmd[2048], out[4096];
	uint8_t buf[4096];
	int fd, rc;

	start_broker_as("PLAINTEXT", "SASL_SSL", alice);
	fd = su_tcp_connect(plain_port);
	ck_assert_int_ge(fd, 0);
	kh_raw_request(fd, 3, 0, 1, all_topics, sizeof(all_topics));
	ck_assert_int_gt(kh_raw_response(fd, buf, sizeof(buf), 5000), 8);
	close(fd);
	kh_name(topic, sizeof(topic), "kcat-sasl-ssl");
	snprintf(cmd, sizeof(cmd),
		 "printf 'one\\ntwo\\n' | timeout 30 kcat -b %s -X security.protocol=sasl_ssl "
		 "-X ssl.ca.location=%s -X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=alice "
		 "-X sasl.password=s3cret -P -t %s 2>&1",
		 ssl_boot, ca, topic);
	rc = tl_sh(cmd, out, sizeof(out));
	ck_assert_msg(rc == 0, "kcat -P over SASL_SSL: status %d: %s", rc, out);
	snprintf(cmd, sizeof(cmd),
		 "timeout 30 kcat -b %s -X security.protocol=sasl_ssl -X ssl.ca.location=%s "
		 "-X sasl.mechanisms=PLAIN -X sasl.username=alice -X sasl.password=s3cret "
		 "-C -t %s -o beginning -e -q -f '%%s|%%o\\n' 2>&1",
		 ssl_boot, ca, topic);
	rc = tl_sh(cmd, out, sizeof(out));
	ck_assert_msg(rc == 0, "kcat -C over SASL_SSL: status %d: %s", rc, out);
	ck_assert_msg(strcmp(out, "one|0\ntwo|1\n") == 0, "kcat -C over SASL_SSL read: %s", out);
}
END_TEST

/* max.connections.per.ip counts an address's connections over every Kafka
 * listener, as Kafka's ConnectionQuotas: with one allowed, a client on the
 * PLAINTEXT port keeps the SSL port closed to its address. */
START_TEST(test_kafka_per_ip_counts_every_listener)
{
	const char *more[] = { "--max.connections.per.ip", "1", NULL };
	uint8_t buf[4096];
	const char *kv[16];
	rd_kafka_t *p;
	int fd, tls;

	start_ssl_broker(more);
	/* start_ssl_broker's own probes count until the broker sees them go */
	uint64_t end = th_now_ms() + 5000;
	for (;;) {
		fd = su_tcp_connect(plain_port);
		ck_assert_int_ge(fd, 0);
		kh_raw_request(fd, 18, 0, 1, NULL, 0);
		if (kh_raw_response(fd, buf, sizeof(buf), 5000) > 6)
			break;
		close(fd);
		ck_assert_msg(th_now_ms() < end, "the plaintext port never served");
		th_sleep_ms(50);
	}
	tls = su_tcp_connect(ssl_port);
	ck_assert_int_ge(tls, 0);
	ck_assert_msg(kh_raw_closed(tls, 5000), "a second connection (SSL port) was kept");
	close(tls);
	/* once the first is gone, a TLS client gets in */
	close(fd);
	p = kh_producer(ssl_boot, ssl_kv(kv, NULL));
	ck_assert_int_eq(metadata_port(p, 10000), ssl_port);
	rd_kafka_destroy(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kafka_ssl");
	TCase *tc;

	if (getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: test_kafka_ssl starts tandemd with certificates of its own\n");
		return 77;
	}
	if (tl_make_certs(dir, sizeof(dir)) < 0) {
		fprintf(stderr,
			"test_kafka_ssl: openssl could not make the certificates (%s/gen.log)\n",
			dir);
		return 99;
	}
	tl_path(ca, sizeof(ca), "ca.pem");
	tl_path(bundle, sizeof(bundle), "server-bundle.pem");
	start_ssl_broker(NULL);
	/* topics of their own on the program's broker, or a tandemd of their
	 * own: side by side */
	tc = tp_tcase(s, "clients", 90);
	tcase_add_test(tc, test_kafka_ssl_kcat);
	tcase_add_test(tc, test_kafka_ssl_plaintext_on_ssl_port);
	tcase_add_test(tp_tcase(s, "librdkafka", 90), test_kafka_ssl_librdkafka);
	tcase_add_test(tp_tcase(s, "client-auth", 90), test_kafka_ssl_client_auth_required);
	tc = tp_tcase(s, "refused", 90);
	tcase_add_test(tc, test_kafka_ssl_bad_keystore_refuses_start);
	tcase_add_test(tc, test_kafka_listeners_refused);
	tcase_add_test(tp_tcase(s, "sasl-ssl", 90), test_kafka_sasl_ssl_librdkafka);
	tcase_add_test(tp_tcase(s, "sasl-listeners", 90), test_kafka_sasl_listeners_require_sasl);
	tcase_add_test(tp_tcase(s, "per-ip", 90), test_kafka_per_ip_counts_every_listener);
	return th_run_suite(s);
}
