/* HTTPS for the management API and console (issue 13, steps 1 and 5),
 * with rabbitmq.conf's keys (management.ssl.port, .certfile, .keyfile,
 * .cacertfile, .verify, .fail_if_no_peer_cert), beside the plain listener;
 * and tandemctl over HTTPS, verifying the server's certificate.
 *
 *  - curl --cacert gets /api/overview as guest over HTTPS; without the CA
 *    it refuses the server; the plain listener goes on serving;
 *  - tandemctl --cacert works, by IP and by name; without it, or against a
 *    certificate for another name or an expired one, it refuses the server;
 *  - the web console works over HTTPS, and a wrong password shows "Login
 *    failed" (console-smoke.js in node, trusting the test CA);
 *  - verify_peer + fail_if_no_peer_cert: curl without a client certificate
 *    is refused, with one it gets in;
 *  - both listeners share http_max_connections and their closes count;
 *  - management.ssl.versions.N and management.ssl.ciphers.N limit what
 *    HTTPS negotiates;
 *  - a missing or mismatched key, or no certificate, stop tandemd at start
 *    with a line naming the setting, the file and the reason.
 *
 * Certificates are made at start with the openssl command (tlsutil.c).
 * Needs a tandemd of its own: skipped (77) against TANDEM_TEST_BROKER.
 * Depends on: Check, the curl and openssl commands, POSIX.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "sockutil.h"
#include "tlsutil.h"

#ifndef TANDEMD_PATH
#define TANDEMD_PATH "../../src/tandemd"
#endif
#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif
#ifndef TANDEMCTL_PATH
#define TANDEMCTL_PATH "../../src/tools/tandemctl"
#endif

static char dir[256];
static int http_port, https_port; /* of the broker this process uses */
static char ca[512], cert[512], key[512];

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

/* A tandemd with HTTP and HTTPS on fresh ports, the HTTPS one with
 * certificate certfile (a name in the cert dir), plus more args. */
static void start_https_broker(const char *certname, const char *const *more)
{
	static char p1[16], p2[16], crt[512], k[512];
	char name[64];
	const char *args[32];
	int n = 0;

	http_port = su_free_port();
	do
		https_port = su_free_port();
	while (https_port == http_port);
	snprintf(p1, sizeof(p1), "%d", http_port);
	snprintf(p2, sizeof(p2), "%d", https_port);
	snprintf(name, sizeof(name), "%s.pem", certname);
	tl_path(crt, sizeof(crt), name);
	snprintf(name, sizeof(name), "%s.key", certname);
	tl_path(k, sizeof(k), name);
	args[n++] = "--http-port";
	args[n++] = p1;
	args[n++] = "--management.ssl.port";
	args[n++] = p2;
	args[n++] = "--management.ssl.certfile";
	args[n++] = crt;
	args[n++] = "--management.ssl.keyfile";
	args[n++] = k;
	for (int i = 0; more && more[i] && n < 31; i++)
		args[n++] = more[i];
	args[n] = NULL;
	th_start_with_args(args);
	if (!wait_port(http_port) || !wait_port(https_port)) {
		fprintf(stderr, "test_https: the HTTP listeners did not open\n");
		exit(99);
	}
}

/* curl with opts on url; the output (body, then "|status") into out;
 * returns curl's exit status. */
static int curl(const char *opts, const char *url, char *out, size_t len)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "timeout 20 curl -sS -u guest:guest -w '|%%{http_code}' %s '%s' 2>&1", opts, url);
	return tl_sh(cmd, out, len);
}

START_TEST(test_https_curl_overview)
{
	char url[128], opts[600], out[16384];
	int rc;

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/overview", https_port);
	snprintf(opts, sizeof(opts), "--cacert '%s'", ca);
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc == 0, "curl over HTTPS: status %d: %s", rc, out);
	ck_assert_msg(strstr(out, "\"management_version\"") && strstr(out, "|200"), "%s", out);
	/* the listener shows as RabbitMQ shows it */
	ck_assert_msg(strstr(out, "\"protocol\":\"https\""), "no https listener in %s", out);
	/* by name too (the certificate says localhost) */
	snprintf(url, sizeof(url), "https://localhost:%d/api/overview", https_port);
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc == 0 && strstr(out, "|200"), "curl over HTTPS by name: %d: %s", rc, out);
	/* the console too */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", https_port);
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc == 0 && strstr(out, "|200"), "console over HTTPS: %d: %s", rc, out);
	/* without our CA, curl refuses the server (60: peer certificate) */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/overview", https_port);
	rc = curl("", url, out, sizeof(out));
	ck_assert_msg(rc == 60, "curl without --cacert: status %d: %s", rc, out);
	/* the plain listener serves on; plain HTTP on the TLS port gets no answer */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/overview", http_port);
	rc = curl("", url, out, sizeof(out));
	ck_assert_msg(rc == 0 && strstr(out, "|200"), "plain HTTP: %d: %s", rc, out);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/overview", https_port);
	rc = curl("", url, out, sizeof(out));
	ck_assert_msg(rc != 0 && !strstr(out, "management_version"),
		      "plain HTTP on the HTTPS port: %d: %s", rc, out);
}
END_TEST

/* tandemctl with opts; output (stdout and stderr) into out; its status. */
static int ctl(const char *opts, char *out, size_t len)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "timeout 30 %s %s overview 2>&1", TANDEMCTL_PATH, opts);
	return tl_sh(cmd, out, len);
}

START_TEST(test_tandemctl_https)
{
	char opts[700], out[16384];
	int rc;

	snprintf(opts, sizeof(opts), "--port %d --cacert '%s'", https_port, ca);
	rc = ctl(opts, out, sizeof(out));
	ck_assert_msg(rc == 0 && strstr(out, "\"management_version\""),
		      "tandemctl --cacert: %d: %s", rc, out);
	snprintf(opts, sizeof(opts), "--host localhost --port %d --cacert '%s'", https_port, ca);
	rc = ctl(opts, out, sizeof(out));
	ck_assert_msg(rc == 0, "tandemctl --host localhost --cacert: %d: %s", rc, out);
	/* without the CA: the system's CAs do not know ours */
	snprintf(opts, sizeof(opts), "--port %d --https", https_port);
	rc = ctl(opts, out, sizeof(out));
	ck_assert_msg(rc == 3 && strstr(out, "does not verify") &&
			      !strstr(out, "management_version"),
		      "tandemctl --https without the CA: %d: %s", rc, out);
	/* a CA that did not sign the server */
	snprintf(opts, sizeof(opts), "--port %d --cacert '%s'", https_port,
		 tl_path(out, sizeof(out), "otherca.pem"));
	rc = ctl(opts, out, sizeof(out));
	ck_assert_msg(rc == 3 && strstr(out, "does not verify"), "tandemctl, another CA: %d: %s",
		      rc, out);
	/* plain HTTP as before */
	snprintf(opts, sizeof(opts), "--port %d", http_port);
	rc = ctl(opts, out, sizeof(out));
	ck_assert_msg(rc == 0 && strstr(out, "\"management_version\""), "tandemctl plain: %d: %s",
		      rc, out);
}
END_TEST

/* A certificate our CA signed, but for another name: refused. */
START_TEST(test_tandemctl_https_wrong_host)
{
	char opts[700], out[16384], url[128];
	int rc;

	start_https_broker("wronghost", NULL);
	snprintf(opts, sizeof(opts), "--port %d --cacert '%s'", https_port, ca);
	rc = ctl(opts, out, sizeof(out));
	ck_assert_msg(rc == 3 && strstr(out, "does not verify") &&
			      !strstr(out, "management_version"),
		      "tandemctl against a certificate for another name: %d: %s", rc, out);
	snprintf(opts, sizeof(opts), "--host localhost --port %d --cacert '%s'", https_port, ca);
	rc = ctl(opts, out, sizeof(out));
	ck_assert_msg(rc == 3 && strstr(out, "does not verify"),
		      "tandemctl --host localhost, certificate for another name: %d: %s", rc, out);
	/* curl agrees (51: the name does not match) */
	snprintf(opts, sizeof(opts), "--cacert '%s'", ca);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/overview", https_port);
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc != 0, "curl accepted a certificate for another name: %s", out);
}
END_TEST

/* A certificate our CA signed for the right name, but expired: refused by
 * tandemctl with OpenSSL's reason, by IP and by name (curl agrees). */
START_TEST(test_tandemctl_https_expired)
{
	char cmd[2048], opts[700], out[16384], url[128];
	int rc;

	/* -days -1: notAfter a day before now, expired from the moment it is made */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && timeout 30 openssl req -newkey ec -pkeyopt "
		 "ec_paramgen_curve:prime256v1 -nodes -keyout expired.key -out expired.csr "
		 "-subj /CN=expired 2>&1 && "
		 "echo subjectAltName=IP:127.0.0.1,DNS:localhost > expired.ext && "
		 "timeout 30 openssl x509 -req -in expired.csr -CA ca.pem -CAkey ca.key "
		 "-CAcreateserial -out expired.pem -days -1 -extfile expired.ext 2>&1",
		 dir);
	rc = tl_sh(cmd, out, sizeof(out));
	ck_assert_msg(rc == 0, "openssl could not make the expired certificate: %s", out);
	start_https_broker("expired", NULL);
	snprintf(opts, sizeof(opts), "--port %d --cacert '%s'", https_port, ca);
	rc = ctl(opts, out, sizeof(out));
	ck_assert_msg(rc == 3 && strstr(out, "does not verify") && strstr(out, "expired") &&
			      !strstr(out, "management_version"),
		      "tandemctl against an expired certificate: %d: %s", rc, out);
	snprintf(opts, sizeof(opts), "--host localhost --port %d --cacert '%s'", https_port, ca);
	rc = ctl(opts, out, sizeof(out));
	ck_assert_msg(rc == 3 && strstr(out, "expired"),
		      "tandemctl --host localhost, expired certificate: %d: %s", rc, out);
	snprintf(opts, sizeof(opts), "--cacert '%s'", ca);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/overview", https_port);
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc != 0, "curl accepted an expired certificate: %s", out);
}
END_TEST

/* The web console over HTTPS: console-smoke.js (node, trusting our CA)
 * loads the page and its script from the HTTPS listener, renders every view
 * and drives the side-by-side view through the API there (the page's URLs
 * are relative), then checks that a wrong password says "Login failed" and
 * sends nothing more.  Without node the test fails. */
START_TEST(test_console_https)
{
	char cmd[2048], out[16384];
	int rc;

	ck_assert_msg(
		system("node -e 'if (typeof fetch != \"function\") process.exit(1)' "
		       ">/dev/null 2>&1") == 0,
		"node >= 18 is needed for the console check (scripts/setup.sh --test installs it)");
	snprintf(
		cmd, sizeof(cmd),
		"NODE_EXTRA_CA_CERTS='%s' timeout 60 node %s/console-smoke.js https://127.0.0.1:%d 2>&1",
		ca, TEST_SRCDIR, https_port);
	rc = tl_sh(cmd, out, sizeof(out));
	ck_assert_msg(rc == 0 && strstr(out, "side by side ok") && strstr(out, "login failure ok"),
		      "console over HTTPS: %d: %s", rc, out);
}
END_TEST

START_TEST(test_https_verify_peer)
{
	const char *more[] = { "--management.ssl.cacertfile",
			       ca,
			       "--management.ssl.verify",
			       "verify_peer",
			       "--management.ssl.fail_if_no_peer_cert",
			       "true",
			       NULL };
	char opts[1600], url[128], out[16384], ccrt[512], ckey[512], scrt[512], skey[512];
	int rc;

	start_https_broker("server", more);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/overview", https_port);
	snprintf(opts, sizeof(opts), "--cacert '%s'", ca);
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc != 0 && !strstr(out, "management_version"),
		      "a client without a certificate got in: %d: %s", rc, out);
	snprintf(opts, sizeof(opts), "--cacert '%s' --cert '%s' --key '%s'", ca,
		 tl_path(scrt, sizeof(scrt), "stranger.pem"),
		 tl_path(skey, sizeof(skey), "stranger.key"));
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc != 0 && !strstr(out, "management_version"),
		      "another CA's certificate got in: %d: %s", rc, out);
	snprintf(opts, sizeof(opts), "--cacert '%s' --cert '%s' --key '%s'", ca,
		 tl_path(ccrt, sizeof(ccrt), "client.pem"),
		 tl_path(ckey, sizeof(ckey), "client.key"));
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc == 0 && strstr(out, "|200"), "a good client certificate: %d: %s", rc, out);
}
END_TEST

/* management.ssl.versions.N (rabbitmq.conf's list form) and
 * management.ssl.ciphers.N limit what HTTPS negotiates. */
START_TEST(test_https_versions_list_and_ciphers)
{
	const char *more[] = { "--management.ssl.versions.1", "tlsv1.2",
			       "--management.ssl.ciphers.1", "ECDHE-ECDSA-AES128-GCM-SHA256",
			       NULL };
	char opts[600], url[128], out[16384];
	int rc;

	start_https_broker("server", more);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/overview", https_port);
	snprintf(opts, sizeof(opts), "--cacert '%s' --tlsv1.3", ca);
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc != 0 && !strstr(out, "management_version"),
		      "a TLS 1.3-only client got in with versions.1 = tlsv1.2: %d: %s", rc, out);
	snprintf(opts, sizeof(opts),
		 "--cacert '%s' --tls-max 1.2 --ciphers ECDHE-ECDSA-AES256-GCM-SHA384", ca);
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc != 0 && !strstr(out, "management_version"),
		      "a cipher not in management.ssl.ciphers was negotiated: %d: %s", rc, out);
	snprintf(opts, sizeof(opts), "--cacert '%s' --tls-max 1.2", ca);
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc == 0 && strstr(out, "|200"), "TLS 1.2 with the listed cipher: %d: %s", rc,
		      out);
}
END_TEST

/* http_max_connections covers both listeners: a plain connection held open
 * fills a budget of 1, so HTTPS is refused; once it closes, HTTPS works,
 * again and again (HTTPS connections are uncounted when they close). */
START_TEST(test_https_connection_budget)
{
	const char *more[] = { "--http-max-connections", "1", NULL };
	static const char req[] = "GET /api/overview HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Authorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\n\r\n";
	char opts[600], url[128], out[16384], got[16];
	struct timeval tv = { 5, 0 };
	int fd, rc, ok = 0;

	start_https_broker("server", more);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/overview", https_port);
	snprintf(opts, sizeof(opts), "--cacert '%s'", ca);
	/* a keep-alive plain connection that has had its answer: counted (the
	 * probes that saw the ports open may take a moment to be uncounted) */
	for (uint64_t end = th_now_ms() + 5000; !ok && th_now_ms() < end;) {
		fd = su_tcp_connect(http_port);
		ck_assert_int_ge(fd, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ck_assert_int_eq(write(fd, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
		ok = read(fd, got, 12) == 12 && memcmp(got, "HTTP/1.1 200", 12) == 0;
		if (!ok) {
			close(fd);
			th_sleep_ms(50);
		}
	}
	ck_assert_msg(ok, "no plain HTTP connection got an answer");
	ok = 0;
	rc = curl(opts, url, out, sizeof(out));
	ck_assert_msg(rc != 0 && !strstr(out, "management_version"),
		      "HTTPS got in over a budget of 1 already used: %d: %s", rc, out);
	close(fd);
	/* the close is counted on the broker's side: poll, bounded */
	for (uint64_t end = th_now_ms() + 5000; !ok && th_now_ms() < end;) {
		ok = curl(opts, url, out, sizeof(out)) == 0 && strstr(out, "|200");
		if (!ok)
			th_sleep_ms(50);
	}
	ck_assert_msg(ok, "HTTPS refused after the plain connection closed: %s", out);
	for (int i = 0; i < 3; i++) {
		ok = 0;
		for (uint64_t end = th_now_ms() + 5000; !ok && th_now_ms() < end;) {
			ok = curl(opts, url, out, sizeof(out)) == 0 && strstr(out, "|200");
			if (!ok)
				th_sleep_ms(50);
		}
		ck_assert_msg(ok, "HTTPS request %d after HTTPS ones refused: %s", i, out);
	}
}
END_TEST

static void expect_refused(const char *const *extra, const char *const *want)
{
	const char *args[24];
	int n = 0;

	args[n++] = "--management.ssl.port";
	args[n++] = "0";
	for (int i = 0; extra[i]; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	tl_expect_refused(TANDEMD_PATH, args, want);
}

START_TEST(test_https_bad_cert_refuses_start)
{
	char missing[512], other[512];
	const char *a1[] = { "--management.ssl.port",
			     "15671",
			     "--management.ssl.certfile",
			     cert,
			     "--management.ssl.keyfile",
			     missing,
			     NULL };
	const char *w1[] = { "management.ssl.keyfile", missing, "No such file or directory", NULL };
	const char *a2[] = { "--management.ssl.port",
			     "15671",
			     "--management.ssl.certfile",
			     cert,
			     "--management.ssl.keyfile",
			     other,
			     NULL };
	const char *w2[] = { "management.ssl.keyfile", other, "does not match", NULL };
	const char *a3[] = { "--management.ssl.port", "15671", "--management.ssl.keyfile", key,
			     NULL };
	const char *w3[] = { "needs management.ssl.certfile", NULL };

	tl_path(missing, sizeof(missing), "nonexistent.key");
	tl_path(other, sizeof(other), "client.key");
	expect_refused(a1, w1);
	expect_refused(a2, w2);
	expect_refused(a3, w3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("https");
	TCase *tc = th_tcase("https");

	if (getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: test_https starts tandemd with certificates of its own\n");
		return 77;
	}
	if (tl_make_certs(dir, sizeof(dir)) < 0) {
		fprintf(stderr,
			"test_https: openssl could not make the certificates (%s/gen.log)\n", dir);
		return 99;
	}
	tl_path(ca, sizeof(ca), "ca.pem");
	tl_path(cert, sizeof(cert), "server.pem");
	tl_path(key, sizeof(key), "server.key");
	start_https_broker("server", NULL);
	tcase_add_test(tc, test_https_curl_overview);
	tcase_add_test(tc, test_tandemctl_https);
	tcase_add_test(tc, test_tandemctl_https_wrong_host);
	tcase_add_test(tc, test_tandemctl_https_expired);
	tcase_add_test(tc, test_console_https);
	tcase_add_test(tc, test_https_verify_peer);
	tcase_add_test(tc, test_https_connection_budget);
	tcase_add_test(tc, test_https_versions_list_and_ciphers);
	tcase_add_test(tc, test_https_bad_cert_refuses_start);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
