/* AMQPS (issue 13, step 1): TLS on the AMQP listener, configured with
 * rabbitmq.conf's own keys (listeners.ssl.default, ssl_options.*).
 *
 * At start the program makes a CA, a server certificate and a client
 * certificate signed by it, and a second CA with a client certificate of
 * its own (a stranger), with the openssl command line in a temp dir (EC
 * keys: fast; bounded by `timeout`; no network).  The program's tandemd
 * listens on a plain AMQP port and an AMQPS port with verify_none; tests
 * that need other ssl_options start a tandemd of their own.
 *
 *  - rabbitmq-c's SSL socket logs in, publishes and gets over AMQPS;
 *  - verify_peer + fail_if_no_peer_cert: no certificate and a certificate
 *    of another CA are refused at the handshake, a good one is let in;
 *  - ssl_options.versions limits the protocol versions offered;
 *  - plain AMQP on the TLS port is closed cleanly, TLS on the plain port
 *    gets AMQP's protocol-header answer, and the broker keeps serving;
 *  - a client that never starts the handshake meets handshake_timeout;
 *  - a key that does not match the certificate, or a missing key file,
 *    stop tandemd at start with a line naming the file and the reason.
 *
 * Needs a tandemd of its own: skipped (77) against TANDEM_TEST_BROKER.
 * Depends on: Check, rabbitmq-c (with OpenSSL), the openssl command, POSIX.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "sockutil.h"
#include "tlsutil.h"

#ifndef TANDEMD_PATH
#define TANDEMD_PATH "../../src/tandemd"
#endif

static char dir[256]; /* certificates */
static int tls_port; /* AMQPS port of the broker this process uses */
static char arg_port[16], arg_cert[512], arg_key[512], arg_ca[512];

static const char *path_of(char *buf, size_t len, const char *name)
{
	return tl_path(buf, len, name);
}

/* Extra tandemd args: the AMQPS port (fresh), server certificate and key,
 * then more (NULL-terminated), into out (at most 24 entries). */
static void tls_args(const char **out, const char *const *more)
{
	char buf[512];
	int n = 0;

	tls_port = su_free_port();
	if (tls_port <= 0) { /* no ck_assert: main() calls this too */
		fprintf(stderr, "test_tls: no free port\n");
		exit(99);
	}
	snprintf(arg_port, sizeof(arg_port), "%d", tls_port);
	snprintf(arg_cert, sizeof(arg_cert), "%s", path_of(buf, sizeof(buf), "server.pem"));
	snprintf(arg_key, sizeof(arg_key), "%s", path_of(buf, sizeof(buf), "server.key"));
	snprintf(arg_ca, sizeof(arg_ca), "%s", path_of(buf, sizeof(buf), "ca.pem"));
	out[n++] = "--listeners.ssl.default";
	out[n++] = arg_port;
	out[n++] = "--ssl_options.certfile";
	out[n++] = arg_cert;
	out[n++] = "--ssl_options.keyfile";
	out[n++] = arg_key;
	out[n++] = "--ssl_options.cacertfile";
	out[n++] = arg_ca;
	for (int i = 0; more && more[i] && n < 23; i++)
		out[n++] = more[i];
	out[n] = NULL;
}

/* A test's own tandemd with the TLS args plus more. */
/* Waits (5 s at most) until the TLS port accepts: the harness waits for
 * the plain AMQP port only, and tandemd opens its listeners one after the
 * other (under ASan, the TLS one was once not there yet for the test's
 * first connect).  0 when it never did. */
static int tls_port_accepting(void)
{
	uint64_t deadline = th_now_ms() + 5000;
	for (;;) {
		int fd = su_tcp_connect(tls_port);
		if (fd >= 0) {
			close(fd);
			return 1;
		}
		if (th_now_ms() >= deadline)
			return 0;
		th_sleep_ms(20);
	}
}

static void start_tls_broker(const char *const *more)
{
	const char *args[24];

	tls_args(args, more);
	th_start_with_args(args);
	ck_assert_msg(tls_port_accepting(), "the TLS port %d does not accept", tls_port);
}

/* Protocol versions a client offers (rabbitmq-c 0.11 ignores its own
 * limits, so tests of versions go through raw_tls below). */
enum { TLS_ANY = 0, TLS_12 = 1, TLS_13 = 2 };

/*
 * A bare OpenSSL client: handshake on the AMQPS port offering versions
 * and the client certificate cert (NULL = none), then send the AMQP
 * protocol header and read the start of connection.start.  Returns 1 when
 * that frame came, 0 when the handshake or the read failed (refused), with
 * OpenSSL's reason in why.  Bounded by a 5 s socket timeout.
 */
static int raw_tls(const char *cert, int versions, char *why, size_t len)
{
	static const char header[8] = { 'A', 'M', 'Q', 'P', 0, 0, 9, 1 };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct timeval tv = { 5, 0 };
	char path[512], name[64];
	unsigned char got[7];
	SSL *ssl = NULL;
	int fd = -1, ok = 0;

	ck_assert_ptr_nonnull(ctx);
	snprintf(why, len, "?");
	ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, path_of(path, sizeof(path), "ca.pem"),
						       NULL),
			 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (versions == TLS_12)
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	else if (versions == TLS_13)
		SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (cert) {
		snprintf(name, sizeof(name), "%s.pem", cert);
		ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx,
							      path_of(path, sizeof(path), name),
							      SSL_FILETYPE_PEM),
				 1);
		snprintf(name, sizeof(name), "%s.key", cert);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, path_of(path, sizeof(path), name),
							     SSL_FILETYPE_PEM),
				 1);
	}
	fd = su_tcp_connect(tls_port);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		snprintf(why, len, "handshake: %s", ERR_error_string(ERR_get_error(), NULL));
		goto out;
	}
	/* under TLS 1.3 the server judges the client's certificate after the
	 * client thinks the handshake is done: its verdict comes on the read */
	if (SSL_write(ssl, header, sizeof(header)) != (int)sizeof(header) ||
	    SSL_read(ssl, got, sizeof(got)) != (int)sizeof(got)) {
		snprintf(why, len, "after the handshake: %s",
			 ERR_error_string(ERR_get_error(), NULL));
		goto out;
	}
	ok = got[0] == 1; /* a method frame: connection.start */
	if (!ok)
		snprintf(why, len, "frame type %d", got[0]);
out:
	ERR_clear_error();
	if (ssl)
		SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	return ok;
}

/*
 * Opens an AMQPS connection to the broker as a client with the given
 * certificate ("client", "stranger", NULL = none) that verifies the
 * server against ca.pem, and logs in as guest.  Returns the connection
 * when both worked, NULL (and *why set) when the handshake or the login
 * failed.
 */
static amqp_connection_state_t tls_login(const char *cert, int versions, char *why, size_t len)
{
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *s = amqp_ssl_socket_new(c);
	char ca[512], crt[512], key[512], name[64];
	struct timeval tv = { 5, 0 };
	amqp_rpc_reply_t r;
	int rc;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(amqp_ssl_socket_set_cacert(s, path_of(ca, sizeof(ca), "ca.pem")), 0);
	if (cert) {
		snprintf(name, sizeof(name), "%s.pem", cert);
		path_of(crt, sizeof(crt), name);
		snprintf(name, sizeof(name), "%s.key", cert);
		path_of(key, sizeof(key), name);
		ck_assert_int_eq(amqp_ssl_socket_set_key(s, crt, key), 0);
	}
	amqp_ssl_socket_set_verify_peer(s, 1);
	amqp_ssl_socket_set_verify_hostname(s, 0); /* CN=server, dialled as 127.0.0.1 */
	(void)versions;
	rc = amqp_socket_open_noblock(s, "127.0.0.1", tls_port, &tv);
	if (rc != AMQP_STATUS_OK) {
		snprintf(why, len, "open: %s", amqp_error_string2(rc));
		amqp_destroy_connection(c);
		return NULL;
	}
	/* under TLS 1.3 a refused client certificate shows on the first read */
	r = amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		snprintf(why, len, "login: reply type %d, %s", (int)r.reply_type,
			 r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
				 ? amqp_error_string2(r.library_error)
				 : "server closed");
		amqp_destroy_connection(c);
		return NULL;
	}
	return c;
}

/* Declare, publish and get one message on c: the connection really works. */
static void round_trip(amqp_connection_state_t c)
{
	char q[64], body[64];
	amqp_message_t msg;

	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "tls"), 0, 0, 1, NULL, 0);
	th_publish(c, 1, "", q, "over TLS");
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &msg, NULL, NULL, NULL, 5000), 1);
	ck_assert_str_eq(th_body(&msg.body, body, sizeof(body)), "over TLS");
	amqp_destroy_message(&msg);
}

START_TEST(test_amqps_publish_get)
{
	char why[256] = "";
	amqp_connection_state_t c = tls_login(NULL, TLS_ANY, why, sizeof(why));

	ck_assert_msg(c != NULL, "AMQPS login failed: %s", why);
	round_trip(c);
	th_close(c);
	/* and with a client certificate the server did not ask for */
	c = tls_login("client", TLS_ANY, why, sizeof(why));
	ck_assert_msg(c != NULL, "AMQPS login with a certificate failed: %s", why);
	round_trip(c);
	th_close(c);
	/* a body of 4 MiB: many TLS records each way, output above the watermark */
	{
		size_t len = 4u << 20;
		char *big = malloc(len), q[64];
		amqp_basic_properties_t props = { 0 };
		amqp_message_t msg;

		ck_assert_ptr_nonnull(big);
		for (size_t i = 0; i < len; i++)
			big[i] = (char)('a' + i % 23);
		c = tls_login(NULL, TLS_ANY, why, sizeof(why));
		ck_assert_msg(c != NULL, "AMQPS login failed: %s", why);
		th_channel(c, 1);
		th_queue(c, 1, th_name(q, sizeof(q), "tls-big"), 0, 0, 1, NULL, 0);
		th_publish_props(c, 1, "", q, 0, &props, (amqp_bytes_t){ len, big });
		ck_assert_int_eq(th_get_wait(c, 1, q, 1, &msg, NULL, NULL, NULL, 10000), 1);
		ck_assert_uint_eq(msg.body.len, len);
		ck_assert(memcmp(msg.body.bytes, big, len) == 0);
		amqp_destroy_message(&msg);
		th_close(c);
		free(big);
	}
	/* RabbitMQ 3.10's default versions: TLS 1.2 and 1.3 */
	ck_assert_msg(raw_tls(NULL, TLS_12, why, sizeof(why)), "TLS 1.2 refused: %s", why);
	ck_assert_msg(raw_tls(NULL, TLS_13, why, sizeof(why)), "TLS 1.3 refused: %s", why);
}
END_TEST

/* The openssl command line as a client: it verifies the server against the
 * CA, and the protocol header it sends is answered with connection.start.
 * The header is followed by a frame without its end byte, which makes the
 * broker close the connection, so s_client ends without waiting for the
 * timeout. */
START_TEST(test_amqps_openssl_s_client)
{
	char cmd[1024], out[8192];

	snprintf(cmd, sizeof(cmd),
		 "printf 'AMQP\\000\\000\\011\\001\\001\\000\\000\\000\\000\\000\\000\\000' | timeout 10 openssl s_client -brief "
		 "-connect 127.0.0.1:%d -CAfile %s/ca.pem -verify_return_error -ign_eof "
		 "2>&1 | head -c 4000 | tr -c '[:print:]\\n' .",
		 tls_port, dir);
	tl_sh(cmd, out, sizeof(out));
	ck_assert_msg(strstr(out, "Verification: OK"), "s_client did not verify: %s", out);
	ck_assert_msg(strstr(out, "Protocol version: TLSv1.3"), "not TLS 1.3: %s", out);
	/* connection.start's server properties and mechanisms */
	ck_assert_msg(strstr(out, "capabilities") && strstr(out, "PLAIN"),
		      "no connection.start over s_client: %s", out);
}
END_TEST

START_TEST(test_amqps_verify_peer)
{
	const char *more[] = { "--ssl_options.verify", "verify_peer",
			       "--ssl_options.fail_if_no_peer_cert", "true", NULL };
	char why[256] = "";
	amqp_connection_state_t c;

	start_tls_broker(more);
	c = tls_login(NULL, TLS_ANY, why, sizeof(why));
	ck_assert_msg(c == NULL, "a client without a certificate was let in");
	c = tls_login("stranger", TLS_ANY, why, sizeof(why));
	ck_assert_msg(c == NULL, "a client with another CA's certificate was let in");
	/* under TLS 1.2 and 1.3, refused before any AMQP */
	for (int v = TLS_12; v <= TLS_13; v++) {
		ck_assert_msg(!raw_tls(NULL, v, why, sizeof(why)),
			      "TLS %s: a client without a certificate got connection.start",
			      v == TLS_12 ? "1.2" : "1.3");
		ck_assert_msg(!raw_tls("stranger", v, why, sizeof(why)),
			      "TLS %s: another CA's certificate got connection.start",
			      v == TLS_12 ? "1.2" : "1.3");
		ck_assert_msg(raw_tls("client", v, why, sizeof(why)),
			      "TLS %s: a good certificate was refused: %s",
			      v == TLS_12 ? "1.2" : "1.3", why);
	}
	/* TLS 1.2 shows where: in the handshake */
	raw_tls(NULL, TLS_12, why, sizeof(why));
	ck_assert_msg(strncmp(why, "handshake:", 10) == 0, "TLS 1.2: refused late: %s", why);
	c = tls_login("client", TLS_ANY, why, sizeof(why));
	ck_assert_msg(c != NULL, "a client with a good certificate was refused: %s", why);
	round_trip(c);
	th_close(c);
}
END_TEST

/* verify_peer without fail_if_no_peer_cert: a client without a certificate
 * is let in (RabbitMQ's behaviour), one with a bad certificate is not. */
START_TEST(test_amqps_verify_peer_optional_cert)
{
	const char *more[] = { "--ssl_options.verify", "verify_peer", NULL };
	char why[256] = "";
	amqp_connection_state_t c;

	start_tls_broker(more);
	ck_assert_msg(!raw_tls("stranger", TLS_ANY, why, sizeof(why)),
		      "a client with another CA's certificate was let in");
	c = tls_login(NULL, TLS_ANY, why, sizeof(why));
	ck_assert_msg(c != NULL, "a client without a certificate was refused: %s", why);
	th_close(c);
}
END_TEST

START_TEST(test_amqps_versions)
{
	/* rabbitmq.conf's list form */
	const char *more[] = { "--ssl_options.versions.1", "tlsv1.3", NULL };
	char why[256] = "";
	amqp_connection_state_t c;

	start_tls_broker(more);
	ck_assert_msg(!raw_tls(NULL, TLS_12, why, sizeof(why)),
		      "a TLS 1.2 client was let in with versions.1 = tlsv1.3 only");
	ck_assert_msg(raw_tls(NULL, TLS_13, why, sizeof(why)), "a TLS 1.3 client was refused: %s",
		      why);
	c = tls_login(NULL, TLS_ANY, why, sizeof(why));
	ck_assert_msg(c != NULL, "rabbitmq-c was refused: %s", why);
	th_close(c);
}
END_TEST

/* Waits (bounded) until the peer closes fd; 1 when it did. */
static int wait_closed(int fd, int timeout_ms)
{
	uint64_t end = th_now_ms() + (uint64_t)timeout_ms;
	char buf[512];

	while (th_now_ms() < end) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
	}
	return 0;
}

START_TEST(test_amqps_plain_amqp_on_tls_port)
{
	static const char header[8] = { 'A', 'M', 'Q', 'P', 0, 0, 9, 1 };
	char why[256] = "";
	amqp_connection_state_t c;
	int fd = su_tcp_connect(tls_port);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, header, sizeof(header)), (ssize_t)sizeof(header));
	ck_assert_msg(wait_closed(fd, 5000), "plain AMQP on the TLS port was not closed");
	close(fd);
	/* the broker lives on, on both ports */
	c = tls_login(NULL, TLS_ANY, why, sizeof(why));
	ck_assert_msg(c != NULL, "AMQPS login after plain AMQP on the TLS port failed: %s", why);
	round_trip(c);
	th_close(c);
	th_assert_broker_alive();
}
END_TEST

START_TEST(test_amqps_tls_on_plain_port)
{
	/* the start of a TLS ClientHello: not an AMQP protocol header */
	static const unsigned char hello[] = { 0x16, 0x03, 0x01, 0x00, 0xa5, 0x01,
					       0x00, 0x00, 0xa1, 0x03, 0x03, 0x00 };
	unsigned char got[8];
	int fd = th_raw_connect();

	ck_assert_int_eq(th_raw_send(fd, hello, sizeof(hello)), 0);
	/* AMQP 0-9-1 section 4.2.2: answer with the header we speak, then close */
	ck_assert_int_eq(th_raw_read(fd, got, sizeof(got), 5000), 8);
	ck_assert_int_eq(memcmp(got, "AMQP\0\0\x09\x01", 8), 0);
	ck_assert(th_raw_wait_closed(fd, 5000));
	close(fd);
	th_assert_broker_alive();
}
END_TEST

/* A client that opens a TCP connection to the TLS port and never starts the
 * handshake is closed after handshake_timeout, as a plain one is. */
START_TEST(test_amqps_silent_client_handshake_timeout)
{
	const char *more[] = { "--handshake-timeout", "500", NULL };
	uint64_t t0;
	int fd;

	start_tls_broker(more);
	fd = su_tcp_connect(tls_port);
	ck_assert_int_ge(fd, 0);
	t0 = th_now_ms();
	ck_assert_msg(wait_closed(fd, 5000), "a silent client on the TLS port was not closed");
	ck_assert_uint_ge(th_now_ms() - t0, 400);
	close(fd);
}
END_TEST

/*
 * Runs tandemd with the TLS args where keyfile is replaced by key; it must
 * exit non-zero within the bound, its stderr holding every string of want
 * (NULL-terminated).
 */
static void expect_refused_start(const char *key, const char *const *want)
{
	const char *args[24];

	tls_args(args, NULL);
	args[5] = key;
	tl_expect_refused(TANDEMD_PATH, args, want);
}

START_TEST(test_amqps_bad_key_refuses_start)
{
	char other[512], missing[512];
	const char *mismatch[] = { "ssl_options.keyfile", other, "does not match",
				   "key values mismatch", NULL };
	const char *absent[] = { "ssl_options.keyfile", missing, "No such file or directory",
				 NULL };
	const char *notkey[] = { "ssl_options.keyfile", arg_cert, "not a usable PEM private key",
				 NULL };

	path_of(other, sizeof(other), "client.key");
	expect_refused_start(other, mismatch);
	path_of(missing, sizeof(missing), "nonexistent.key");
	expect_refused_start(missing, absent);
	/* the certificate given as the key */
	expect_refused_start(arg_cert, notkey);
}
END_TEST

/* A TCP connection to host (an IPv4 or IPv6 literal) port, or -1. */
static int tcp_connect_to(const char *host, int port)
{
	struct sockaddr_in6 a6 = { 0 };
	struct sockaddr_in a4 = { 0 };
	int v6 = strchr(host, ':') != NULL;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	int rc;

	if (fd < 0)
		return -1;
	if (v6) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, host, &a6.sin6_addr);
		rc = connect(fd, (struct sockaddr *)&a6, sizeof(a6));
	} else {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, host, &a4.sin_addr);
		rc = connect(fd, (struct sockaddr *)&a4, sizeof(a4));
	}
	if (rc < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 when host:port answers TLS with connection.start (polled for up to
 * 10 s while a broker starts). */
static int amqps_at(const char *host, int port)
{
	uint64_t end = th_now_ms() + 10000;

	do {
		int fd = tcp_connect_to(host, port);

		if (fd >= 0) {
			SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
			SSL *ssl = SSL_new(ctx);
			struct timeval tv = { 5, 0 };
			unsigned char got[1];
			int ok;

			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			SSL_set_fd(ssl, fd);
			ok = SSL_connect(ssl) == 1 && SSL_write(ssl, "AMQP\0\0\x09\x01", 8) == 8 &&
			     SSL_read(ssl, got, 1) == 1 && got[0] == 1;
			SSL_free(ssl);
			SSL_CTX_free(ctx);
			close(fd);
			ERR_clear_error();
			return ok;
		}
		usleep(50000);
	} while (th_now_ms() < end);
	return 0;
}

/* 1 when something accepts TCP connections on host:port. */
static int listening(const char *host, int port)
{
	int fd = tcp_connect_to(host, port);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* 1 when this machine can bind ::1 (IPv6 loopback). */
static int have_ipv6(void)
{
	struct sockaddr_in6 a = { 0 };
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* rabbitmq.conf's listener forms: listeners.ssl.NAME = IP:PORT and
 * [IPv6]:PORT, several AMQPS listeners at once. */
START_TEST(test_amqps_listeners_ip_port_forms)
{
	static char a1[64], a2[64];
	const char *more[] = { "--listeners.ssl.v4", a1, "--listeners.ssl.v6", a2, NULL };
	int p2 = su_free_port(), v6 = have_ipv6();

	snprintf(a2, sizeof(a2), "[::1]:%d", p2);
	if (!v6)
		more[2] = NULL; /* no IPv6 loopback on this machine */
	/* listeners.ssl.default = the fresh port of tls_args, on bind_address */
	{
		int p1 = su_free_port();

		snprintf(a1, sizeof(a1), "127.0.0.1:%d", p1);
		start_tls_broker(more);
		ck_assert_msg(amqps_at("127.0.0.1", tls_port), "listeners.ssl.default not served");
		ck_assert_msg(amqps_at("127.0.0.1", p1), "listeners.ssl.v4 = %s not served", a1);
	}
	if (v6)
		ck_assert_msg(amqps_at("::1", p2), "listeners.ssl.v6 = %s not served", a2);
	th_assert_broker_alive();
}
END_TEST

/* A tandemd run by the test itself (so that its plain listeners may be
 * anything): returns its pid once it accepts on 127.0.0.1:wait_port. */
static pid_t spawn_tandemd(const char *const *args, int wait_port)
{
	static char data[600];
	const char *argv[40];
	uint64_t end;
	int n = 0;
	pid_t pid;

	snprintf(data, sizeof(data), "%s/data-spawn-%d", dir, (int)getpid());
	argv[n++] = TANDEMD_PATH;
	argv[n++] = "--data-dir";
	argv[n++] = data;
	argv[n++] = "--kafka-port";
	argv[n++] = "0";
	argv[n++] = "--http-port";
	argv[n++] = "0";
	for (int i = 0; args[i] && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test */
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	end = th_now_ms() + 10000;
	while (!listening("127.0.0.1", wait_port) && th_now_ms() < end)
		usleep(50000);
	ck_assert_msg(listening("127.0.0.1", wait_port), "tandemd did not open port %d", wait_port);
	return pid;
}

static void stop_spawned(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	for (int i = 0; i < 100 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(50000);
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
}

/* listeners.tcp.NAME lines replace the default plain listener (as
 * RabbitMQ's replace its 5672), and several may be given. */
START_TEST(test_amqp_listeners_tcp_replace_default)
{
	int p0 = su_free_port(), p1 = su_free_port(), p2 = su_free_port(), v6 = have_ipv6();
	char s0[16], a1[64], a2[64];
	const char *args[] = { "--amqp-port", s0, "--listeners.tcp.1", a1, "--listeners.tcp.2", a2,
			       NULL };
	pid_t pid;

	snprintf(s0, sizeof(s0), "%d", p0);
	snprintf(a1, sizeof(a1), "127.0.0.1:%d", p1);
	snprintf(a2, sizeof(a2), "::1:%d", p2); /* RabbitMQ's documentation's IPv6 form */
	if (!v6)
		args[4] = NULL;
	pid = spawn_tandemd(args, p1);
	if (v6)
		ck_assert_msg(listening("::1", p2), "listeners.tcp.2 = %s not served", a2);
	ck_assert_msg(!listening("127.0.0.1", p0),
		      "amqp_port %d still served beside listeners.tcp.N", p0);
	stop_spawned(pid);
}
END_TEST

/* The cipher a TLS client offering versions (TLS_12 / TLS_13) and ciphers
 * (OpenSSL's list form, NULL = defaults) gets from the broker, into out;
 * "" when the handshake failed. */
static void negotiated(int versions, const char *ciphers, char *out, size_t len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct timeval tv = { 5, 0 };
	SSL *ssl;
	int fd;

	ck_assert_ptr_nonnull(ctx);
	out[0] = '\0';
	if (versions == TLS_12)
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	else
		SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (ciphers && versions == TLS_12)
		ck_assert_int_eq(SSL_CTX_set_cipher_list(ctx, ciphers), 1);
	else if (ciphers)
		ck_assert_int_eq(SSL_CTX_set_ciphersuites(ctx, ciphers), 1);
	fd = su_tcp_connect(tls_port);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) == 1)
		snprintf(out, len, "%s", SSL_get_cipher_name(ssl));
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
}

/* ssl_options.ciphers.N (OpenSSL names, TLS 1.2 and 1.3) limit what is
 * negotiated; honor_cipher_order says whose order of preference wins. */
START_TEST(test_amqps_ciphers_and_honor_cipher_order)
{
	const char *more[] = { "--ssl_options.ciphers.1",
			       "ECDHE-ECDSA-AES128-GCM-SHA256",
			       "--ssl_options.ciphers.2",
			       "ECDHE-ECDSA-AES256-GCM-SHA384",
			       "--ssl_options.ciphers.3",
			       "TLS_CHACHA20_POLY1305_SHA256",
			       "--ssl_options.honor_cipher_order",
			       "true",
			       NULL };
	const char *client12 = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256";
	char got[64];

	start_tls_broker(more);
	/* the server's order */
	negotiated(TLS_12, client12, got, sizeof(got));
	ck_assert_str_eq(got, "ECDHE-ECDSA-AES128-GCM-SHA256");
	/* a TLS 1.2 cipher not listed is not negotiated */
	negotiated(TLS_12, "ECDHE-ECDSA-CHACHA20-POLY1305", got, sizeof(got));
	ck_assert_str_eq(got, "");
	/* TLS 1.3: only the suite listed */
	negotiated(TLS_13, NULL, got, sizeof(got));
	ck_assert_str_eq(got, "TLS_CHACHA20_POLY1305_SHA256");
	negotiated(TLS_13, "TLS_AES_256_GCM_SHA384", got, sizeof(got));
	ck_assert_str_eq(got, "");
}
END_TEST

START_TEST(test_amqps_client_cipher_order_by_default)
{
	const char *more[] = { "--ssl_options.ciphers.1", "ECDHE-ECDSA-AES128-GCM-SHA256",
			       "--ssl_options.ciphers.2", "ECDHE-ECDSA-AES256-GCM-SHA384", NULL };
	char got[64];

	start_tls_broker(more);
	/* honor_cipher_order = false (Erlang's default): the client's choice */
	negotiated(TLS_12, "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256", got,
		   sizeof(got));
	ck_assert_str_eq(got, "ECDHE-ECDSA-AES256-GCM-SHA384");
}
END_TEST

START_TEST(test_amqps_unknown_cipher_refuses_start)
{
	const char *args[24];
	const char *want[] = { "ssl_options.ciphers",
			       "'ECDHE-NOPE-SHA' is not a cipher OpenSSL knows", NULL };

	tls_args(args, NULL);
	{
		int n = 0;

		while (args[n])
			n++;
		args[n++] = "--ssl_options.ciphers.1";
		args[n++] = "ECDHE-NOPE-SHA";
		args[n] = NULL;
	}
	tl_expect_refused(TANDEMD_PATH, args, want);
}
END_TEST

/* Records the client has read (their headers), counted by OpenSSL's
 * message callback on the client's side. */
static unsigned long records_in;

static void count_records(int write_p, int version, int content_type, const void *buf, size_t len,
			  SSL *ssl, void *arg)
{
	(void)version, (void)buf, (void)len, (void)ssl, (void)arg;
	if (!write_p && content_type == SSL3_RT_HEADER)
		records_in++;
}

/*
 * Deliveries written in one loop turn share TLS records: tandemd used to
 * hand bufferevent_openssl its output as it was, one SSL_write (one
 * record) per evbuffer chain, and a 4 KiB body is a chain of its own
 * (added by reference) beside the one with its frames' headers, so each
 * delivery took two records or more.  Now what a turn wrote goes out in
 * records of up to 16 KiB: 64 queued 4 KiB messages consumed at once come
 * in far fewer records than messages.
 */
START_TEST(test_amqps_deliveries_share_records)
{
	enum { N = 64, SIZE = 4096 };
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *s = amqp_ssl_socket_new(c);
	struct timeval tv = { 5, 0 };
	static char body[SIZE];
	char ca[512], q[64];
	amqp_rpc_reply_t r;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(amqp_ssl_socket_set_cacert(s, path_of(ca, sizeof(ca), "ca.pem")), 0);
	amqp_ssl_socket_set_verify_peer(s, 1);
	amqp_ssl_socket_set_verify_hostname(s, 0);
	SSL_CTX_set_msg_callback(amqp_ssl_socket_get_context(s), count_records);
	ck_assert_int_eq(amqp_socket_open_noblock(s, "127.0.0.1", tls_port, &tv), AMQP_STATUS_OK);
	r = amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
	ck_assert_int_eq(r.reply_type, AMQP_RESPONSE_NORMAL);
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "records"), 0, 0, 1, NULL, 0);
	memset(body, 'r', sizeof(body));
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q),
						    0, 0, NULL, (amqp_bytes_t){ SIZE, body }),
				 AMQP_STATUS_OK);
	ck_assert_uint_eq(th_wait_count(c, 1, q, N, 5000), N);
	records_in = 0;
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 1, 0,
			   amqp_empty_table);
	ck_assert_int_eq(amqp_get_rpc_reply(c).reply_type, AMQP_RESPONSE_NORMAL);
	for (int i = 0; i < N; i++) {
		amqp_envelope_t env;

		r = amqp_consume_message(c, &env, &tv, 0);
		ck_assert_int_eq(r.reply_type, AMQP_RESPONSE_NORMAL);
		ck_assert_uint_eq(env.message.body.len, SIZE);
		amqp_destroy_envelope(&env);
	}
	/* before: two records a delivery or more (128+); now about 4 KiB x 64
	 * / 16 KiB = 17, plus the consume-ok's */
	ck_assert_msg(records_in < N, "%lu TLS records for %d deliveries of %d bytes", records_in,
		      N, SIZE);
	th_close(c);
}
END_TEST

int main(void)
{
	const char *args[24];
	Suite *s = suite_create("tls");
	TCase *tc = th_tcase("amqps");

	if (getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: test_tls starts tandemd with certificates of its own\n");
		return 77;
	}
	if (tl_make_certs(dir, sizeof(dir)) < 0) {
		fprintf(stderr,
			"test_tls: openssl could not make the certificates (see %s/gen.log)\n",
			dir);
		return 99;
	}
	tls_args(args, NULL);
	th_start_with_args(args);
	if (!tls_port_accepting()) {
		fprintf(stderr, "test_tls: the TLS port %d does not accept\n", tls_port);
		return 99;
	}
	tcase_add_test(tc, test_amqps_publish_get);
	tcase_add_test(tc, test_amqps_openssl_s_client);
	tcase_add_test(tc, test_amqps_deliveries_share_records);
	tcase_add_test(tc, test_amqps_verify_peer);
	tcase_add_test(tc, test_amqps_verify_peer_optional_cert);
	tcase_add_test(tc, test_amqps_versions);
	tcase_add_test(tc, test_amqps_plain_amqp_on_tls_port);
	tcase_add_test(tc, test_amqps_tls_on_plain_port);
	tcase_add_test(tc, test_amqps_silent_client_handshake_timeout);
	tcase_add_test(tc, test_amqps_bad_key_refuses_start);
	tcase_add_test(tc, test_amqps_listeners_ip_port_forms);
	tcase_add_test(tc, test_amqp_listeners_tcp_replace_default);
	tcase_add_test(tc, test_amqps_ciphers_and_honor_cipher_order);
	tcase_add_test(tc, test_amqps_client_cipher_order_by_default);
	tcase_add_test(tc, test_amqps_unknown_cipher_refuses_start);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
