/* Integration tests: the server side of the cluster link (issue 15).  A
 * tandemd with cluster_port and cluster_secret_file opens a Kafka-protocol
 * listener for the other nodes of its cluster:
 *  - nothing but ApiVersions and SASL before authentication (a Produce
 *    closes the connection, as on Kafka's SASL listeners);
 *  - PLAIN only (SCRAM: UNSUPPORTED_SASL_MECHANISM, 33), and only the user
 *    tandem-cluster with the cluster's secret (a wrong secret, or a user of
 *    the broker such as guest: SASL_AUTHENTICATION_FAILED, 58);
 *  - once authenticated the link acts as the broker: it writes a stream
 *    queue's topic of any vhost by its core name, with the broker's own
 *    "x-amqp-" record headers (a forwarded AMQP publish), and reads the
 *    record back; the same batch on the public Kafka listener is still
 *    refused with INVALID_RECORD (87), and that listener cannot reach the
 *    other vhost's topic at all;
 *  - tandemd refuses to start without a good secret file: none given, a
 *    file group or others may read, a secret shorter than 16 bytes.
 *
 * tandemd only (rabbitmq-c, raw Kafka requests): against
 * TANDEM_TEST_BROKER it reports SKIP (77). */
#include "harness.h"
#include "kafka_harness.h"
#include "sockutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "c00kie-of-the-cluster-0123456789"
#define LINK_USER "tandem-cluster"

static char tmpdir[1024], secret_file[1200];
static int kafka_port, link_port;

/* ---- raw request helpers ------------------------------------------------------ */

static int16_t get_i16(const uint8_t *p)
{
	return (int16_t)(p[0] << 8 | p[1]);
}

/* Produce v3 of batch to topic/0 with acks; the partition's error code
 * (its base offset in *base), or -1 when no answer came (closed). */
static int produce(int fd, const char *topic, int16_t acks, const uint8_t *batch, size_t bl, int64_t *base)
{
	static int32_t corr = 100;
	uint8_t b[1024], resp[4096];
	size_t n = 0;
	n = kh_put_be(b, n, 0xffff, 2); /* transactional id: null */
	n = kh_put_be(b, n, (uint16_t)acks, 2);
	n = kh_put_be(b, n, 5000, 4);
	n = kh_put_be(b, n, 1, 4);
	n = kh_put_str(b, n, topic);
	n = kh_put_be(b, n, 1, 4);
	n = kh_put_be(b, n, 0, 4);
	n = kh_put_be(b, n, bl, 4);
	memcpy(b + n, batch, bl);
	n += bl;
	int32_t c = corr++;
	kh_raw_request(fd, 0, 3, c, b, n);
	long got = kh_raw_response(fd, resp, sizeof(resp), 10000);
	if (got <= 0)
		return -1;
	/* correlation, [topics: 1, name, [partitions: 1, index, error, base ...]] */
	size_t tl = (size_t)(resp[8] << 8 | resp[9]), at = 10 + tl + 4 + 4;
	ck_assert_uint_le(at + 10, (size_t)got);
	if (base) {
		uint64_t off = 0;
		for (int i = 0; i < 8; i++)
			off = off << 8 | resp[at + 2 + i];
		*base = (int64_t)off;
	}
	return get_i16(resp + at);
}

/* Fetch v4 of topic/0 from offset: the response in out (its size). */
static long fetch(int fd, const char *topic, int64_t offset, uint8_t *out, size_t cap)
{
	uint8_t b[512];
	size_t n = 0;
	n = kh_put_be(b, n, 0xffffffff, 4); /* replica id -1: a consumer */
	n = kh_put_be(b, n, 100, 4);	 /* max wait ms */
	n = kh_put_be(b, n, 1, 4);		 /* min bytes */
	n = kh_put_be(b, n, 1 << 20, 4);	 /* max bytes */
	b[n++] = 0;			 /* isolation: read uncommitted */
	n = kh_put_be(b, n, 1, 4);
	n = kh_put_str(b, n, topic);
	n = kh_put_be(b, n, 1, 4);
	n = kh_put_be(b, n, 0, 4);
	n = kh_put_be(b, n, (uint64_t)offset, 8);
	n = kh_put_be(b, n, 1 << 20, 4);
	kh_raw_request(fd, 1, 4, 200, b, n);
	return kh_raw_response(fd, out, cap, 10000);
}

/* SaslHandshake v1 for mech: its error code; the mechanisms listed are
 * written comma-separated to mechs (when not NULL).  -1: no answer. */
static int handshake(int fd, const char *mech, char *mechs, size_t cap)
{
	uint8_t b[128], resp[512];
	size_t n = kh_put_str(b, 0, mech);
	kh_raw_request(fd, 17, 1, 300, b, n);
	long got = kh_raw_response(fd, resp, sizeof(resp), 5000);
	if (got < 10)
		return -1;
	if (mechs) {
		int32_t cnt = (int32_t)(resp[6] << 24 | resp[7] << 16 | resp[8] << 8 | resp[9]);
		size_t at = 10, w = 0;
		mechs[0] = '\0';
		for (int32_t i = 0; i < cnt && at + 2 <= (size_t)got; i++) {
			size_t l = (size_t)(resp[at] << 8 | resp[at + 1]);
			at += 2;
			if (at + l > (size_t)got || w + l + 2 > cap)
				break;
			w += (size_t)snprintf(mechs + w, cap - w, "%s%.*s", i ? "," : "", (int)l,
					      (const char *)resp + at);
			at += l;
		}
	}
	return get_i16(resp + 4);
}

/* SaslAuthenticate v1 with PLAIN's "\0user\0password": the error code
 * (and its error_message in msg).  -1: no answer. */
static int plain(int fd, const char *user, const char *pw, char *msg, size_t cap)
{
	uint8_t b[512], tok[256], resp[512];
	size_t tl = 0, n = 0;
	tok[tl++] = 0;
	memcpy(tok + tl, user, strlen(user));
	tl += strlen(user);
	tok[tl++] = 0;
	memcpy(tok + tl, pw, strlen(pw));
	tl += strlen(pw);
	n = kh_put_be(b, n, tl, 4);
	memcpy(b + n, tok, tl);
	n += tl;
	kh_raw_request(fd, 36, 1, 301, b, n);
	long got = kh_raw_response(fd, resp, sizeof(resp), 5000);
	if (got < 8)
		return -1;
	if (msg) {
		int16_t l = get_i16(resp + 6);
		snprintf(msg, cap, "%.*s", l > 0 && 8 + (long)l <= got ? (int)l : 0, (const char *)resp + 8);
	}
	return get_i16(resp + 4);
}

/* A connection to the cluster link, authenticated with the secret. */
static int link_connect(void)
{
	int fd = kh_raw_connect_port(link_port);
	ck_assert_int_eq(handshake(fd, "PLAIN", NULL, 0), 0);
	ck_assert_int_eq(plain(fd, LINK_USER, SECRET, NULL, 0), 0);
	return fd;
}

/* Declares stream queue q in vhost vh over AMQP. */
static void declare_stream(const char *vh, const char *q)
{
	struct th_login lo = { .vhost = vh };
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = th_connect_opts(&lo, &r);
	th_ok(r, "login");
	th_channel(c, 1);
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes("x-queue-type");
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes("stream");
	amqp_table_t t = { 1, &e };
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, t);
	th_ok_last(c, "declare stream");
	th_close(c);
}

/* ---- the listener ---------------------------------------------------------------- */

/* As on Kafka's SASL listeners: a request before authentication closes
 * the connection unanswered. */
START_TEST(produce_before_sasl_is_refused)
{
	uint8_t batch[512];
	size_t bl = kh_batch_header(batch, "early", "h", "v", 0);
	int fd = kh_raw_connect_port(link_port);
	ck_assert_int_eq(produce(fd, "early-topic", -1, batch, bl, NULL), -1);
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
}
END_TEST

/* Only tandem-cluster with the secret: a wrong secret, the secret with
 * another name, a user of the broker with its own password all answer
 * SASL_AUTHENTICATION_FAILED, then the connection closes. */
START_TEST(plain_wrong_credentials_fail)
{
	static const char *const creds[][2] = {
		{ LINK_USER, "c00kie-of-the-cluster-0123456788" }, /* one byte off */
		{ LINK_USER, SECRET "x" },			   /* longer */
		{ LINK_USER, "c00kie" },			   /* a prefix */
		{ "guest", SECRET },
		{ "guest", "guest" }, /* the broker's own user: not on the link */
		{ "tandem-cluster2", SECRET },
	};
	for (size_t i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
		char msg[256];
		int fd = kh_raw_connect_port(link_port);
		ck_assert_int_eq(handshake(fd, "PLAIN", NULL, 0), 0);
		ck_assert_msg(plain(fd, creds[i][0], creds[i][1], msg, sizeof(msg)) == 58, "%s/%s",
			      creds[i][0], creds[i][1]);
		ck_assert_str_eq(msg, "Authentication failed: Invalid username or password");
		ck_assert(kh_raw_closed(fd, 5000));
		close(fd);
	}
}
END_TEST

/* PLAIN only: asking SCRAM (which the public listeners may enable) is
 * UNSUPPORTED_SASL_MECHANISM with ["PLAIN"], as Kafka for a mechanism its
 * listener does not enable. */
START_TEST(scram_is_unsupported)
{
	char mechs[128];
	int fd = kh_raw_connect_port(link_port);
	ck_assert_int_eq(handshake(fd, "SCRAM-SHA-256", mechs, sizeof(mechs)), 33);
	ck_assert_str_eq(mechs, "PLAIN");
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
	fd = kh_raw_connect_port(link_port);
	ck_assert_int_eq(handshake(fd, "PLAIN", mechs, sizeof(mechs)), 0);
	ck_assert_str_eq(mechs, "PLAIN");
	close(fd);
}
END_TEST

/* The authenticated link writes a stream queue's topic of another vhost
 * than kafka_vhost, by its core name, with the broker's x-amqp-properties
 * header (acks=all), and reads the record back with it.  The public
 * listener still refuses the same batch (INVALID_RECORD) and cannot reach
 * that vhost's topic. */
START_TEST(link_writes_reserved_headers)
{
	/* stream queue "orders.eu" of vhost "shop": its topic is
	 * "__" + esc("shop") + "." + esc("orders.eu") */
	const char *topic = "__shop.orders_2eeu";
	uint8_t batch[512], resp[1 << 16];
	char value[64];
	int64_t base = -1;
	snprintf(value, sizeof(value), "forwarded-%ld", (long)getpid());
	size_t bl = kh_batch_header(batch, value, "x-amqp-properties", "props-bytes-of-the-publish", 0);

	declare_stream("shop", "orders.eu");
	int fd = link_connect();
	ck_assert_int_eq(produce(fd, topic, -1, batch, bl, &base), 0);
	ck_assert_int_ge(base, 0);
	long got = fetch(fd, topic, base, resp, sizeof(resp));
	ck_assert_int_gt(got, 0);
	ck_assert_ptr_nonnull(memmem(resp, (size_t)got, value, strlen(value)));
	ck_assert_ptr_nonnull(memmem(resp, (size_t)got, "x-amqp-properties", 17));
	ck_assert_ptr_nonnull(memmem(resp, (size_t)got, "props-bytes-of-the-publish", 26));
	close(fd);

	/* the public listener (anonymous as guest, who may write everything):
	 * refused as ever, on a stream queue's topic of its own vhost */
	declare_stream("/", "link-public");
	fd = kh_raw_connect_port(kafka_port);
	ck_assert_int_eq(produce(fd, "link-public", -1, batch, bl, NULL), 87);
	ck_assert_int_eq(produce(fd, topic, -1, batch, bl, NULL), 29);
	/* the link writes there too */
	close(fd);
	fd = link_connect();
	ck_assert_int_eq(produce(fd, "link-public", -1, batch, bl, NULL), 0);
	close(fd);
}
END_TEST

/* ---- refusals at start -------------------------------------------------------------- */

/* Writes a file of content with mode. */
static void write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* Runs tandemd with cluster_port and then extra (NULL-terminated) until it
 * exits (bounded: killed after 10 s); its exit status, what it wrote to
 * stderr in log (cap bytes). */
static int run_tandemd(const char *const *extra, char *log, size_t cap)
{
	char dir[1300], errpath[1400], port[16];
	snprintf(dir, sizeof(dir), "%s/data-%ld", tmpdir, (long)getpid());
	snprintf(errpath, sizeof(errpath), "%s/stderr-%ld", tmpdir, (long)getpid());
	snprintf(port, sizeof(port), "%d", su_free_port());
	const char *args[32] = { getenv("TANDEMD") ? getenv("TANDEMD") : TANDEMD_PATH,
				 "--data-dir", dir, "--amqp-port", "0", "--http-port", "0",
				 "--kafka-port", "0", "--cluster-port", port };
	int n = 11;
	for (int i = 0; extra && extra[i] && n < 31; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	int status = 0;
	uint64_t deadline = th_now_ms() + 10000;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (th_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("tandemd did not exit within 10 s (it started?)");
		}
		th_sleep_ms(20);
	}
	FILE *f = fopen(errpath, "r");
	size_t got = f ? fread(log, 1, cap - 1, f) : 0;
	log[got] = '\0';
	if (f)
		fclose(f);
	su_rm_tree(dir);
	unlink(errpath);
	return status;
}

START_TEST(start_refused_without_secret_file)
{
	char log[4096];
	int st = run_tandemd(NULL, log, sizeof(log));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s", log);
	ck_assert_msg(strstr(log, "cluster_port is set but cluster_secret_file is not"), "%s", log);
}
END_TEST

START_TEST(start_refused_secret_readable_by_others)
{
	char log[4096], path[1300];
	snprintf(path, sizeof(path), "%s/open-secret", tmpdir);
	write_file(path, SECRET "\n", 0644);
	const char *extra[] = { "--cluster-secret-file", path, NULL };
	int st = run_tandemd(extra, log, sizeof(log));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s", log);
	ck_assert_msg(strstr(log, "must be accessible by its owner only (mode 0644"), "%s", log);
}
END_TEST

START_TEST(start_refused_short_secret)
{
	char log[4096], path[1300];
	snprintf(path, sizeof(path), "%s/short-secret", tmpdir);
	write_file(path, "8bytes!!\n\n", 0600); /* trailing newlines are not the secret */
	const char *extra[] = { "--cluster-secret-file", path, NULL };
	int st = run_tandemd(extra, log, sizeof(log));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s", log);
	ck_assert_msg(strstr(log, "the secret is 8 bytes long; it must be at least 16"), "%s", log);
}
END_TEST

/* The link is no listener a user configures: `listeners` does not know
 * CLUSTER (a guard: main refuses it too). */
START_TEST(listeners_key_refuses_cluster)
{
	char log[4096], lis[64];
	snprintf(lis, sizeof(lis), "CLUSTER://127.0.0.1:%d", su_free_port());
	const char *extra[] = { "--cluster-secret-file", secret_file, "--listeners", lis, NULL };
	int st = run_tandemd(extra, log, sizeof(log));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s", log);
	ck_assert_msg(strstr(log, "'CLUSTER' is not a listener name tandem knows"), "%s", log);
}
END_TEST

int main(void)
{
	if (getenv("TANDEM_TEST_BROKER") && *getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: the cluster link of a tandemd (TANDEM_TEST_BROKER is set)\n");
		return 77;
	}
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/tandem-link.XXXXXX", tmp);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(secret_file, sizeof(secret_file), "%s/secret", tmpdir);
	int fd = open(secret_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, SECRET "\n", strlen(SECRET) + 1) != (ssize_t)strlen(SECRET) + 1 ||
	    fchmod(fd, 0600) < 0) {
		perror(secret_file);
		return 99;
	}
	close(fd);
	kafka_port = su_free_port();
	link_port = su_free_port();
	if (kafka_port <= 0 || link_port <= 0) {
		fprintf(stderr, "no free port\n");
		return 99;
	}
	char kp[16], lp[16];
	snprintf(kp, sizeof(kp), "%d", kafka_port);
	snprintf(lp, sizeof(lp), "%d", link_port);
	const char *args[] = { "--kafka-port", kp, "--cluster-port", lp, "--cluster-secret-file",
			       secret_file, "--vhosts", "shop", NULL };
	th_start_with_args(args);
	Suite *s = suite_create("cluster-link");
	TCase *tc = th_tcase("link");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, produce_before_sasl_is_refused);
	tcase_add_test(tc, plain_wrong_credentials_fail);
	tcase_add_test(tc, scram_is_unsupported);
	tcase_add_test(tc, link_writes_reserved_headers);
	tcase_add_test(tc, start_refused_without_secret_file);
	tcase_add_test(tc, start_refused_secret_readable_by_others);
	tcase_add_test(tc, start_refused_short_secret);
	tcase_add_test(tc, listeners_key_refuses_cluster);
	suite_add_tcase(s, tc);
	int rc = th_run_suite(s);
	su_rm_tree(tmpdir);
	return rc;
}
