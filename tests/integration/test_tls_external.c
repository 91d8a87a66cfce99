/* Login by client certificate (issue 13): RabbitMQ's SASL EXTERNAL
 * mechanism (rabbitmq_auth_mechanism_ssl) on the AMQPS listener, and the
 * TLS items of /api/connections.
 *
 * At start the program makes, with the openssl command line in a temp dir,
 * the certificates of tlsutil.h and one more client certificate with a
 * subject of several parts, "dnclient": /C=US/ST=Some-State/O=Example,
 * Inc./CN=dnclient, whose name RabbitMQ writes
 * "CN=dnclient,O=Example\, Inc.,ST=Some-State,C=US".  Every test starts a
 * tandemd of its own with an AMQPS listener (verify_peer) and
 * auth_mechanisms.1 = EXTERNAL, auth_mechanisms.2 = PLAIN, and logs its
 * lines to a file the tests read:
 *
 *  - connection.start offers EXTERNAL and PLAIN over TLS, PLAIN alone on
 *    the plain port (EXTERNAL needs a TLS connection), in RabbitMQ's order
 *    (AMQPLAIN PLAIN by default);
 *  - ssl_cert_login_from = common_name: rabbitmq-c's
 *    AMQP_SASL_METHOD_EXTERNAL with the "client" certificate logs in as
 *    user "client" and works; a certificate naming no user, and no
 *    certificate at all, are refused with 403 and RabbitMQ's log texts;
 *    EXTERNAL on the plain port is "invalid authentication mechanism";
 *  - distinguished_name (the default): the user named by the whole subject
 *    (made over the management API) logs in, and /api/connections lists
 *    it with auth_mechanism, ssl, ssl_protocol, ssl_cipher, peer_cert_*
 *    as RabbitMQ's management plugin does; a plain connection has ssl
 *    false and nulls;
 *  - a subject with RFC 4514's special characters, a multi-valued RDN and
 *    UTF-8 is written exactly as RabbitMQ writes it, in /api/connections
 *    and /api/connections/{name};
 *  - /api/overview lists the AMQPS listeners ("amqp/ssl"), several of
 *    them, and the port-listener health check knows them;
 *  - auth_mechanisms or ssl_cert_login_from naming what does not exist
 *    stop tandemd at start.
 *
 * Needs a tandemd of its own: skipped (77) against TANDEM_TEST_BROKER.
 * Depends on: Check, rabbitmq-c (with OpenSSL), OpenSSL, the openssl
 * command, the HTTP test client, POSIX.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "http_client.h"
#include "sockutil.h"
#include "tlsutil.h"

#ifndef TANDEMD_PATH
#define TANDEMD_PATH "../../src/tandemd"
#endif

#define DN_SUBJECT "CN=dnclient,O=Example\\, Inc.,ST=Some-State,C=US"

static char dir[256];
static int tls_port, http_port;
static char logpath[512];

/*
 * A tandemd of the test's own: AMQPS on a fresh port (verify_peer),
 * EXTERNAL then PLAIN offered, the management API on a fresh port, its log
 * in logpath; plus more (NULL-terminated).
 */
static void start_broker(const char *const *more)
{
	static char p_tls[16], p_http[16], cert[512], key[512], ca[512];
	const char *args[40];
	int n = 0;

	tls_port = su_free_port();
	do
		http_port = su_free_port();
	while (http_port == tls_port);
	snprintf(p_tls, sizeof(p_tls), "%d", tls_port);
	snprintf(p_http, sizeof(p_http), "%d", http_port);
	tl_path(cert, sizeof(cert), "server.pem");
	tl_path(key, sizeof(key), "server.key");
	tl_path(ca, sizeof(ca), "ca.pem");
	snprintf(logpath, sizeof(logpath), "%s/tandemd-%d.log", dir, (int)getpid());
	args[n++] = "--listeners.ssl.default";
	args[n++] = p_tls;
	args[n++] = "--ssl_options.certfile";
	args[n++] = cert;
	args[n++] = "--ssl_options.keyfile";
	args[n++] = key;
	args[n++] = "--ssl_options.cacertfile";
	args[n++] = ca;
	args[n++] = "--ssl_options.verify";
	args[n++] = "verify_peer";
	args[n++] = "--auth_mechanisms.1";
	args[n++] = "EXTERNAL";
	args[n++] = "--auth_mechanisms.2";
	args[n++] = "PLAIN";
	args[n++] = "--http-port";
	args[n++] = p_http;
	args[n++] = "--log-file";
	args[n++] = logpath;
	for (int i = 0; more && more[i] && n < 39; i++)
		args[n++] = more[i];
	args[n] = NULL;
	th_start_with_args(args);
	th_http_port(http_port);
}

/* 1 when the broker's log holds text (polled for up to 5 s). */
static int log_has(const char *text)
{
	uint64_t end = th_now_ms() + 5000;

	do {
		FILE *fp = fopen(logpath, "r");
		char line[2048];

		while (fp && fgets(line, sizeof(line), fp))
			if (strstr(line, text)) {
				fclose(fp);
				return 1;
			}
		if (fp)
			fclose(fp);
		usleep(50000);
	} while (th_now_ms() < end);
	return 0;
}

/*
 * An AMQPS connection with the client certificate cert (NULL = none) that
 * logs in with EXTERNAL (or PLAIN as guest when plain is set).  Returns the
 * connection when the login worked, NULL otherwise with the reply in *r;
 * the connection is then destroyed, or handed over in *failed (the reply
 * lives in its memory) when failed is not NULL.
 */
static amqp_connection_state_t tls_login_keep(const char *cert, int plain, amqp_rpc_reply_t *r,
					      amqp_connection_state_t *failed)
{
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *s = amqp_ssl_socket_new(c);
	char ca[512], crt[512], key[512], name[64];
	struct timeval tv = { 5, 0 };
	int rc;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(amqp_ssl_socket_set_cacert(s, tl_path(ca, sizeof(ca), "ca.pem")), 0);
	if (cert) {
		snprintf(name, sizeof(name), "%s.pem", cert);
		tl_path(crt, sizeof(crt), name);
		snprintf(name, sizeof(name), "%s.key", cert);
		tl_path(key, sizeof(key), name);
		ck_assert_int_eq(amqp_ssl_socket_set_key(s, crt, key), 0);
	}
	amqp_ssl_socket_set_verify_peer(s, 1);
	amqp_ssl_socket_set_verify_hostname(s, 0);
	rc = amqp_socket_open_noblock(s, "127.0.0.1", tls_port, &tv);
	ck_assert_msg(rc == AMQP_STATUS_OK, "AMQPS open: %s", amqp_error_string2(rc));
	if (plain)
		*r = amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
	else
		*r = amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_EXTERNAL, "ignored");
	if (r->reply_type == AMQP_RESPONSE_NORMAL)
		return c;
	if (failed)
		*failed = c;
	else
		amqp_destroy_connection(c);
	return NULL;
}

static amqp_connection_state_t tls_login(const char *cert, int plain, amqp_rpc_reply_t *r)
{
	return tls_login_keep(cert, plain, r, NULL);
}

/* The login of cert must be refused with connection.close 403 and
 * RabbitMQ's text (the client asks for authentication_failure_close). */
static void expect_refused(const char *cert)
{
	amqp_rpc_reply_t r;
	amqp_connection_state_t failed = NULL;
	amqp_connection_state_t c = tls_login_keep(cert, 0, &r, &failed);

	ck_assert_msg(c == NULL, "EXTERNAL with %s was let in", cert ? cert : "no certificate");
	ck_assert_msg(r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
			      r.reply.id == AMQP_CONNECTION_CLOSE_METHOD,
		      "EXTERNAL with %s: reply type %d, not connection.close",
		      cert ? cert : "no certificate", (int)r.reply_type);
	amqp_connection_close_t *cc = r.reply.decoded;
	ck_assert_uint_eq(cc->reply_code, 403);
	ck_assert(th_bytes_eq(cc->reply_text,
			      "ACCESS_REFUSED - Login was refused using authentication mechanism "
			      "EXTERNAL. For details see the broker logfile."));
	amqp_destroy_connection(failed);
}

/* Declare, publish and get one message on c. */
static void round_trip(amqp_connection_state_t c)
{
	char q[64], body[64];
	amqp_message_t msg;

	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "external"), 0, 0, 1, NULL, 0);
	th_publish(c, 1, "", q, "by certificate");
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &msg, NULL, NULL, NULL, 5000), 1);
	ck_assert_str_eq(th_body(&msg.body, body, sizeof(body)), "by certificate");
	amqp_destroy_message(&msg);
}

/* The mechanisms field of connection.start read from payload (a method
 * frame's), into out. */
static void start_mechanisms(const uint8_t *p, uint32_t size, char *out, size_t cap)
{
	uint32_t off = 6, len;

	ck_assert_uint_ge(size, 10);
	ck_assert(p[0] == 0 && p[1] == 10 && p[2] == 0 && p[3] == 10); /* connection.start */
	len = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 | (uint32_t)p[off + 2] << 8 |
	      p[off + 3];
	off += 4 + len; /* server_properties */
	ck_assert_uint_le(off + 4, size);
	len = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 | (uint32_t)p[off + 2] << 8 |
	      p[off + 3];
	ck_assert_uint_le(off + 4 + len, size);
	ck_assert_uint_lt(len, cap);
	memcpy(out, p + off + 4, len);
	out[len] = '\0';
}

/* connection.start's mechanisms over TLS (as a client with the "client"
 * certificate), into out. */
static void tls_mechanisms(char *out, size_t cap)
{
	static const char header[8] = { 'A', 'M', 'Q', 'P', 0, 0, 9, 1 };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct timeval tv = { 5, 0 };
	uint8_t buf[4096];
	char path[512];
	int fd, n = 0, got;
	SSL *ssl;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx,
						      tl_path(path, sizeof(path), "client.pem"),
						      SSL_FILETYPE_PEM),
			 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, tl_path(path, sizeof(path), "client.key"),
						     SSL_FILETYPE_PEM),
			 1);
	fd = su_tcp_connect(tls_port);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	ck_assert_int_eq(SSL_connect(ssl), 1);
	ck_assert_int_eq(SSL_write(ssl, header, sizeof(header)), (int)sizeof(header));
	/* the whole frame: 7 bytes of header, the payload, the end octet */
	while (n < 7 || n < 7 +
					(int)((uint32_t)buf[3] << 24 | (uint32_t)buf[4] << 16 |
					      (uint32_t)buf[5] << 8 | buf[6]) +
					1) {
		got = SSL_read(ssl, buf + n, (int)sizeof(buf) - n);
		ck_assert_msg(got > 0, "connection.start over TLS did not come");
		n += got;
	}
	start_mechanisms(buf + 7, (uint32_t)n - 8, out, cap);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
}

START_TEST(test_amqps_external_mechanisms_offered)
{
	const char *more[] = { "--ssl_cert_login_from", "common_name", NULL };
	static const uint8_t header[8] = { 'A', 'M', 'Q', 'P', 0, 0, 9, 1 };
	struct th_raw_frame f;
	char mechs[64];
	int fd;

	/* the program's broker, with the defaults: RabbitMQ 3.10's answer */
	fd = th_raw_connect();
	ck_assert_int_eq(th_raw_send(fd, header, sizeof(header)), 0);
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	start_mechanisms(f.payload, f.size, mechs, sizeof(mechs));
	ck_assert_str_eq(mechs, "AMQPLAIN PLAIN");
	free(f.payload);
	close(fd);
	start_broker(more);
	tls_mechanisms(mechs, sizeof(mechs));
	ck_assert_str_eq(mechs, "EXTERNAL PLAIN");
	/* EXTERNAL only where there is a certificate to speak of */
	fd = th_raw_connect();
	ck_assert_int_eq(th_raw_send(fd, header, sizeof(header)), 0);
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	start_mechanisms(f.payload, f.size, mechs, sizeof(mechs));
	ck_assert_str_eq(mechs, "PLAIN");
	free(f.payload);
	close(fd);
}
END_TEST

START_TEST(test_amqps_external_login_common_name)
{
	const char *more[] = { "--ssl_cert_login_from", "common_name", "--users.client.password",
			       "secret", NULL };
	amqp_rpc_reply_t r;
	amqp_connection_state_t c;

	start_broker(more);
	c = tls_login("client", 0, &r);
	ck_assert_msg(c != NULL, "EXTERNAL login with the client certificate failed: reply %d",
		      (int)r.reply_type);
	round_trip(c);
	th_close(c);
	ck_assert(log_has("user 'client' opened vhost '/'"));
	/* a certificate whose name is no user: the server's own, CN=server */
	expect_refused("server");
	ck_assert(log_has("EXTERNAL login refused: user 'server' - invalid credentials"));
	/* verify_peer without fail_if_no_peer_cert lets the handshake through;
	 * EXTERNAL then has nothing to go by */
	expect_refused(NULL);
	ck_assert(log_has(
		"EXTERNAL login refused: connection peer presented no TLS (x.509) certificate"));
	/* PLAIN still works over TLS, for whoever has a password */
	c = tls_login(NULL, 1, &r);
	ck_assert_msg(c != NULL, "PLAIN over TLS failed");
	th_close(c);
	/* on the plain port EXTERNAL is not offered (rabbitmq-c will not even
	 * send it); a client that does gets RabbitMQ's 503 and the socket is
	 * closed during the handshake */
	{
		static const uint8_t header[8] = { 'A', 'M', 'Q', 'P', 0, 0, 9, 1 };
		static const uint8_t start_ok[] = {
			0, 10,  0,   11,  0,   0,   0,   0, /* client_properties */
			8, 'E', 'X', 'T', 'E', 'R', 'N', 'A', 'L', 0, 0, 0, 0, /* response */
			5, 'e', 'n', '_', 'U', 'S'
		};
		amqp_connection_state_t p = th_socket();
		struct th_raw_frame f;
		int fd;

		r = amqp_login(p, "/", 0, 131072, 0, AMQP_SASL_METHOD_EXTERNAL, "client");
		ck_assert_int_eq(r.reply_type, AMQP_RESPONSE_LIBRARY_EXCEPTION);
		ck_assert_int_eq(r.library_error, AMQP_STATUS_BROKER_UNSUPPORTED_SASL_METHOD);
		amqp_destroy_connection(p);
		fd = th_raw_connect();
		ck_assert_int_eq(th_raw_send(fd, header, sizeof(header)), 0);
		ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1); /* connection.start */
		free(f.payload);
		ck_assert_int_eq(th_raw_send_frame(fd, 1, 0, start_ok, sizeof(start_ok)), 0);
		ck_assert(th_raw_wait_closed(fd, 5000));
		close(fd);
		ck_assert(log_has("COMMAND_INVALID - invalid authentication mechanism 'EXTERNAL'"));
	}
	th_assert_broker_alive();
}
END_TEST

/* PUT body to path as guest; the status must be 201 or 204. */
static void api_put(const char *path, const char *body)
{
	struct th_http_resp r;
	int st = th_http("PUT", path, "guest:guest", body, &r);

	ck_assert_msg(st == 201 || st == 204, "PUT %s: %d %s", path, st, r.body ? r.body : "");
	th_http_free(&r);
}

START_TEST(test_amqps_external_login_distinguished_name)
{
	char seg[256], path[512], name[600];
	amqp_rpc_reply_t r;
	amqp_connection_state_t c, p;
	struct th_http_resp resp;
	const char *v;

	start_broker(NULL); /* ssl_cert_login_from = distinguished_name, RabbitMQ's default */
	/* nobody named by the subject yet */
	expect_refused("dnclient");
	ck_assert(log_has("EXTERNAL login refused: user '" DN_SUBJECT "' - invalid credentials"));
	th_urlseg(seg, sizeof(seg), DN_SUBJECT);
	snprintf(path, sizeof(path), "/api/users/%s", seg);
	api_put(path, "{\"password\":\"unused\",\"tags\":\"\"}");
	snprintf(path, sizeof(path), "/api/permissions/%%2F/%s", seg);
	api_put(path, "{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}");
	c = tls_login("dnclient", 0, &r);
	ck_assert_msg(c != NULL, "EXTERNAL login as %s failed: reply %d", DN_SUBJECT,
		      (int)r.reply_type);
	round_trip(c);
	p = th_connect();
	/* /api/connections: both, the TLS one with its items */
	ck_assert_int_eq(th_http("GET", "/api/connections", "guest:guest", NULL, &resp), 200);
	ck_assert_int_eq(th_jcount(&resp, ""), 2);
	snprintf(path, sizeof(path), "[user=%s]", DN_SUBJECT);
	ck_assert_msg(th_jnode(&resp, path) >= 0, "no connection of %s: %s", DN_SUBJECT, resp.body);
	ck_assert_msg(
		th_jmatch(
			&resp, path,
			"{\"auth_mechanism\":\"EXTERNAL\",\"ssl\":true,"
			"\"ssl_protocol\":\"tlsv1.3\",\"ssl_cipher\":\"aes_256_gcm\","
			"\"ssl_key_exchange\":\"any\",\"ssl_hash\":\"aead\","
			"\"peer_cert_subject\":\"CN=dnclient,O=Example\\\\, Inc.,ST=Some-State,C=US\","
			"\"peer_cert_issuer\":\"CN=ca\"}"),
		"TLS connection: %s", resp.body);
	snprintf(name, sizeof(name), "%s/peer_cert_validity", path);
	v = th_jstr(&resp, name);
	/* "2026-12-06T05:41:33Z - 2026-12-08T05:41:33Z" */
	ck_assert_msg(v && strlen(v) == 43 && v[4] == '-' && v[10] == 'T' && v[19] == 'Z' &&
			      strncmp(v + 20, " - ", 3) == 0 && v[42] == 'Z',
		      "peer_cert_validity: %s", v ? v : "(none)");
	ck_assert_msg(th_jmatch(&resp, "[user=guest]",
				"{\"auth_mechanism\":\"PLAIN\",\"ssl\":false,\"ssl_protocol\":null,"
				"\"ssl_cipher\":null,\"peer_cert_subject\":null,"
				"\"peer_cert_issuer\":null,\"peer_cert_validity\":null}"),
		      "plain connection: %s", resp.body);
	th_http_free(&resp);
	th_close(p);
	th_close(c);
}
END_TEST

/* The subject of a certificate with every kind of part and character
 * RFC 4514 escapes: tandem writes it as RabbitMQ 3.10.8 does (this string
 * is what a private RabbitMQ node's /api/connections showed for the same
 * certificate): the parts last first, a multi-valued RDN in its DER order,
 * escapes for #, +, ;, <, >, ", \, a trailing space, ~ and non-ASCII bytes
 * as \XX, RabbitMQ's names (EMAILADDRESS, UID, DC). */
#define ODD_SUBJECT \
	"DC=example,EMAILADDRESS=a@b.example,CN=Zo\\C3\\AB \\7E tilde\\ ,OU=ops+UID=42," \
	"O=\\#Hash\\+Plus\\;Semi \\<x\\> \\\"q\\\" back\\\\slash,C=US"

START_TEST(test_api_connection_peer_cert_subject_as_rabbitmq)
{
	char path[1024], seg[700];
	amqp_rpc_reply_t r;
	amqp_connection_state_t c;
	struct th_http_resp resp;
	const char *name, *v;

	start_broker(NULL);
	c = tls_login("odd", 1, &r); /* PLAIN as guest, with the certificate */
	ck_assert_msg(c != NULL, "PLAIN over TLS with the odd certificate failed");
	ck_assert_int_eq(th_http("GET", "/api/connections", "guest:guest", NULL, &resp), 200);
	ck_assert_int_eq(th_jcount(&resp, ""), 1);
	v = th_jstr(&resp, "0/peer_cert_subject");
	ck_assert_msg(v && strcmp(v, ODD_SUBJECT) == 0, "peer_cert_subject %s, not %s",
		      v ? v : "null", ODD_SUBJECT);
	name = th_jstr(&resp, "0/name");
	ck_assert_ptr_nonnull(name);
	th_urlseg(seg, sizeof(seg), name);
	snprintf(path, sizeof(path), "/api/connections/%s", seg);
	th_http_free(&resp);
	/* and the one connection by its name */
	ck_assert_int_eq(th_http("GET", path, "guest:guest", NULL, &resp), 200);
	ck_assert_msg(
		th_jmatch(&resp, "",
			  "{\"auth_mechanism\":\"PLAIN\",\"ssl\":true,\"ssl_protocol\":\"tlsv1.3\","
			  "\"peer_cert_issuer\":\"CN=ca\"}"),
		"%s: %s", path, resp.body);
	v = th_jstr(&resp, "peer_cert_subject");
	ck_assert_msg(v && strcmp(v, ODD_SUBJECT) == 0, "%s: peer_cert_subject %s", path,
		      v ? v : "null");
	th_http_free(&resp);
	th_close(c);
}
END_TEST

/* /api/overview lists the AMQPS listeners (RabbitMQ's "amqp/ssl") beside
 * the plain one, and the port-listener health check knows them. */
START_TEST(test_api_overview_lists_amqps_listeners)
{
	static char a2[64];
	const char *more[] = { "--listeners.ssl.second", a2, NULL };
	struct th_http_resp resp;
	char want[160], path[96];
	int p2 = su_free_port();

	snprintf(a2, sizeof(a2), "127.0.0.1:%d", p2);
	start_broker(more);
	ck_assert_int_eq(th_http("GET", "/api/overview", "guest:guest", NULL, &resp), 200);
	snprintf(want, sizeof(want),
		 "{\"protocol\":\"amqp/ssl\",\"ip_address\":\"127.0.0.1\",\"port\":%d}", tls_port);
	ck_assert_msg(th_jcontains(&resp, "listeners", want) == 1, "%s in %s", want, resp.body);
	snprintf(want, sizeof(want),
		 "{\"protocol\":\"amqp/ssl\",\"ip_address\":\"127.0.0.1\",\"port\":%d}", p2);
	ck_assert_msg(th_jcontains(&resp, "listeners", want) == 1, "%s in %s", want, resp.body);
	snprintf(want, sizeof(want), "{\"protocol\":\"amqp\",\"port\":%d}", th_port());
	ck_assert_msg(th_jcontains(&resp, "listeners", want) == 1, "%s in %s", want, resp.body);
	th_http_free(&resp);
	snprintf(path, sizeof(path), "/api/health/checks/port-listener/%d", p2);
	ck_assert_int_eq(th_http("GET", path, "guest:guest", NULL, &resp), 200);
	th_http_free(&resp);
}
END_TEST

START_TEST(test_amqps_external_bad_settings_refuse_start)
{
	const char *bad_mech[] = { "--auth_mechanisms.1", "KERBEROS", NULL };
	const char *bad_mech_want[] = { "auth_mechanisms.1", "'KERBEROS' is not one of", NULL };
	const char *bad_from[] = { "--ssl_cert_login_from", "email", NULL };
	const char *bad_from_want[] = { "ssl_cert_login_from", "'email' is not one of", NULL };

	tl_expect_refused(TANDEMD_PATH, bad_mech, bad_mech_want);
	tl_expect_refused(TANDEMD_PATH, bad_from, bad_from_want);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls_external");
	TCase *tc = th_tcase("external");

	if (getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: test_tls_external starts tandemd with certificates of its own\n");
		return 77;
	}
	if (tl_make_certs(dir, sizeof(dir)) < 0) {
		fprintf(stderr,
			"test_tls_external: openssl could not make the certificates (%s/gen.log)\n",
			dir);
		return 99;
	}
	{
		char cmd[2048];

		snprintf(
			cmd, sizeof(cmd),
			"cd '%s' && timeout 30 openssl req -newkey ec -pkeyopt "
			"ec_paramgen_curve:prime256v1 -nodes -keyout dnclient.key -out dnclient.csr "
			"-subj '/C=US/ST=Some-State/O=Example, Inc./CN=dnclient' >>gen.log 2>&1 && "
			"timeout 30 openssl x509 -req -in dnclient.csr -CA ca.pem -CAkey ca.key "
			"-CAcreateserial -out dnclient.pem -days 2 >>gen.log 2>&1",
			dir);
		if (system(cmd) != 0) { /* no Check assertion outside a test */
			fprintf(stderr, "test_tls_external: openssl failed (%s/gen.log)\n", dir);
			return 99;
		}
		/* RFC 4514's special characters, a multi-valued RDN, UTF-8 */
		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && timeout 30 openssl req -newkey ec -pkeyopt "
			 "ec_paramgen_curve:prime256v1 -nodes -keyout odd.key -out odd.csr -utf8 "
			 "-multivalue-rdn -subj '/C=US/O=#Hash\\+Plus;Semi <x> \"q\" "
			 "back\\\\slash/OU=ops+UID=42/CN=Zo\xc3\xab ~ tilde "
			 "/emailAddress=a@b.example/DC=example' >>gen.log 2>&1 && "
			 "timeout 30 openssl x509 -req -in odd.csr -CA ca.pem -CAkey ca.key "
			 "-CAcreateserial -out odd.pem -days 2 >>gen.log 2>&1",
			 dir);
		if (system(cmd) != 0) {
			fprintf(stderr, "test_tls_external: openssl failed (%s/gen.log)\n", dir);
			return 99;
		}
	}
	th_start_private();
	tcase_add_test(tc, test_amqps_external_mechanisms_offered);
	tcase_add_test(tc, test_amqps_external_login_common_name);
	tcase_add_test(tc, test_amqps_external_login_distinguished_name);
	tcase_add_test(tc, test_api_connection_peer_cert_subject_as_rabbitmq);
	tcase_add_test(tc, test_api_overview_lists_amqps_listeners);
	tcase_add_test(tc, test_amqps_external_bad_settings_refuse_start);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
