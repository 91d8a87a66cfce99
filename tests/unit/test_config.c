/*
 * Unit tests for src/core/config.c and src/core/log.c: defaults, tandem.conf
 * parsing and its errors, command-line overrides, describe/--help, the
 * shipped tandem.conf.example, and the log line format.
 *
 * Must not depend on: libevent, libtandem.a (the sources are compiled in).
 */
#ifdef HAVE_CONFIG_H
#include <config.h> /* autoconf's, for PACKAGE_VERSION */
#endif

#include <check.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"

#define MIB (UINT64_C(1) << 20)

static char tmp_path[256];

/* Writes text to a fresh temporary file; the path is in tmp_path. */
static const char *write_tmp(const char *text)
{
	const char *dir = getenv("TMPDIR");
	int fd;
	FILE *fp;

	snprintf(tmp_path, sizeof(tmp_path), "%s/tandem-test-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(tmp_path);
	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	return tmp_path;
}

/* Returns the malloc'd contents of path. */
static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	ck_assert_ptr_nonnull(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, fp), n);
	fclose(fp);
	return buf;
}

static char *describe(const struct tdm_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(fp);
	tdm_config_describe(c, fp);
	fclose(fp);
	return buf;
}

/* Loads text as a file into a defaults config; returns load's result, err filled. */
static int load_text(struct tdm_config *c, const char *text, char *err, size_t errlen)
{
	int rc;

	ck_assert_int_eq(tdm_config_init(c), 0);
	rc = tdm_config_load(c, write_tmp(text), err, errlen);
	unlink(tmp_path);
	return rc;
}

/* Expects text to fail with "<file>:<line>: <msg>". */
static void load_fails(const char *text, unsigned line, const char *msg)
{
	struct tdm_config c;
	char err[512], want[512];

	ck_assert_int_eq(load_text(&c, text, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:%u: %s", tmp_path, line, msg);
	ck_assert_str_eq(err, want);
	tdm_config_free(&c);
}

START_TEST(defaults)
{
	struct tdm_config c;

	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_str_eq(c.data_dir, "./tandem-data");
	ck_assert_str_eq(c.bind_address, "127.0.0.1");
	ck_assert_int_eq(c.amqp_port, 5672);
	ck_assert_int_eq(c.kafka_port, 9092);
	ck_assert_int_eq(c.auto_create_topics, 0);
	ck_assert_uint_eq(c.num_partitions, 1);
	ck_assert_uint_eq(c.kafka_max_request_size, 100 * 1024 * 1024);
	ck_assert_int_eq(c.http_port, 15672);
	ck_assert_int_eq(c.log_level, TDM_LOG_INFO);
	ck_assert_ptr_null(c.log_file);
	ck_assert_uint_eq(c.frame_max, 131072);
	ck_assert_uint_eq(c.channel_max, 2047);
	ck_assert_uint_eq(c.heartbeat, 60);
	ck_assert_uint_eq(c.max_message_size, 128 * MIB);
	ck_assert_uint_eq(c.max_connections, 10000);
	ck_assert_uint_eq(c.max_channels_total, 0);
	ck_assert_uint_eq(c.output_high_watermark, 4 * MIB);
	ck_assert_str_eq(c.default_user, "guest");
	ck_assert_str_eq(c.default_pass, "guest");
	ck_assert_str_eq(c.default_vhost, "/");
	ck_assert_str_eq(c.loopback_users, "guest");
	ck_assert_str_eq(c.vhosts, "");
	ck_assert_ptr_null(c.users);
	ck_assert_uint_eq(c.nusers, 0);
	tdm_config_free(&c);
}
END_TEST

START_TEST(file_parsing)
{
	struct tdm_config c;
	char err[512] = "";

	ck_assert_int_eq(load_text(&c,
				   "# a comment\n"
				   "\n"
				   "   \t\n"
				   "  # indented comment\n"
				   "amqp_port=5673\n"
				   "\tdata_dir   =   /var/lib/tandem  \n"
				   "log_level = DEBUG\r\n"
				   "default_pass = pa#ss = word\n"
				   "vhosts = dev, prod ,, test\n"
				   "log_file = /tmp/t.log\n"
				   "heartbeat = 0\n"
				   "amqp-port = 5674\n"
				   "last_line_without_newline_is_fine = 1",
				   err, sizeof(err)),
			 -1);
	/* Everything before the unknown key on line 13 was applied. */
	ck_assert_int_eq(c.amqp_port, 5674);
	ck_assert_str_eq(c.data_dir, "/var/lib/tandem");
	ck_assert_int_eq(c.log_level, TDM_LOG_DEBUG);
	ck_assert_str_eq(c.default_pass, "pa#ss = word");
	ck_assert_str_eq(c.vhosts, "dev,prod,test");
	ck_assert_str_eq(c.log_file, "/tmp/t.log");
	ck_assert_uint_eq(c.heartbeat, 0);
	ck_assert_ptr_nonnull(strstr(err, ":13: unknown key 'last_line_without_newline_is_fine'"));
	tdm_config_free(&c);

	ck_assert_int_eq(load_text(&c, "log_file =\n", err, sizeof(err)), 0);
	ck_assert_ptr_null(c.log_file);
	tdm_config_free(&c);

	ck_assert_int_eq(load_text(&c, "", err, sizeof(err)), 0);
	ck_assert_int_eq(c.amqp_port, 5672);
	tdm_config_free(&c);
}
END_TEST

START_TEST(file_errors)
{
	struct tdm_config c;
	char err[512];

	load_fails("amqp_port = 1\n\nfoo = bar\n", 3, "unknown key 'foo'");
	load_fails("# x\namqp_port 5672\n", 2, "expected 'key = value'");
	load_fails(" = 5\n", 1, "missing key before '='");
	load_fails("amqp_port = abc\n", 1, "amqp_port: 'abc' is not a non-negative integer");
	load_fails("amqp_port =\n", 1, "amqp_port: '' is not a non-negative integer");
	load_fails("amqp_port = -1\n", 1, "amqp_port: '-1' is not a non-negative integer");
	load_fails("amqp_port = 56 72\n", 1, "amqp_port: '56 72' is not a non-negative integer");
	load_fails("amqp_port = 0x10\n", 1, "amqp_port: '0x10' is not a non-negative integer");
	load_fails("amqp_port = 99999999999999999999999\n", 1,
		   "amqp_port: '99999999999999999999999' is too large");
	load_fails("frame_max = 12parsecs\n", 1,
		   "frame_max: '12parsecs' is not a size (a byte count, optionally with KiB, MiB, GiB)");
	load_fails("max_message_size = 20000000000GiB\n", 1,
		   "max_message_size: '20000000000GiB' is too large");
	load_fails("log_level = loud\n", 1,
		   "log_level: 'loud' is not one of error, warning, info, debug");
	load_fails("data_dir =\n", 1, "data_dir must not be empty");
	load_fails("users.bob.pasword = x\n", 1,
		   "unknown key 'users.bob.pasword' (user fields: password, password_hash, vhosts, tags)");
	load_fails("users.bob = x\n", 1, "unknown key 'users.bob' (expected users.NAME.FIELD)");
	load_fails("users.bob.password =\n", 1,
		   "users.bob.password: empty passwords are not allowed");
	/* A SHA-512 or MD5 hash from RabbitMQ is refused, not silently accepted. */
	load_fails("users.bob.password_hash = ytUIm8s3AnKsXQjptplKFytfVxI=\n", 1,
		   "users.bob.password_hash: not a rabbit_password_hashing_sha256 hash "
		   "(48 base64 characters)");
	load_fails("loopback_users.guest = maybe\n", 1,
		   "loopback_users.guest: 'maybe' is not true or false");

	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_int_eq(tdm_config_load(&c, "/nonexistent/tandem.conf", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/nonexistent/tandem.conf: cannot open: No such file or directory");
	tdm_config_free(&c);
}
END_TEST

START_TEST(ranges)
{
	static const struct {
		const char *key, *value;
		int ok;
	} v[] = {
		{ "amqp_port", "0", 1 },          { "amqp_port", "65535", 1 },
		{ "amqp_port", "65536", 0 },      { "kafka_port", "9092", 1 },
		{ "http_port", "70000", 0 },      { "frame_max", "4095", 0 },
		{ "frame_max", "4096", 1 },       { "frame_max", "2147483647", 1 },
		{ "frame_max", "2GiB", 0 },       { "channel_max", "0", 0 },
		{ "channel_max", "1", 1 },        { "channel_max", "65535", 1 },
		{ "channel_max", "65536", 0 },    { "heartbeat", "65535", 1 },
		{ "heartbeat", "65536", 0 },      { "max_message_size", "0", 0 },
		{ "max_message_size", "1", 1 },   { "max_message_size", "512MiB", 1 },
		{ "max_message_size", "536870913", 0 },
		{ "max_connections", "0", 0 },    { "max_connections", "1", 1 },
		{ "max_channels_total", "4294967295", 1 },
		{ "max_channels_total", "4294967296", 0 },
		{ "output_high_watermark", "4095", 0 },
		{ "output_high_watermark", "1GiB", 1 },
		{ "output_high_watermark", "1025MiB", 0 },
	};
	struct tdm_config c;
	char err[256];
	size_t i;

	ck_assert_int_eq(tdm_config_init(&c), 0);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int rc = tdm_config_set(&c, v[i].key, v[i].value, err, sizeof(err));

		ck_assert_msg(rc == (v[i].ok ? 0 : -1), "%s = %s gave %d", v[i].key, v[i].value, rc);
		if (!v[i].ok)
			ck_assert_msg(strstr(err, "is out of range") != NULL, "%s", err);
	}
	ck_assert_int_eq(tdm_config_set(&c, "channel_max", "65536", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "channel_max: 65536 is out of range (1 .. 65535)");
	/* A refused value leaves the previous one. */
	ck_assert_uint_eq(c.channel_max, 65535);
	tdm_config_free(&c);
}
END_TEST

START_TEST(sizes)
{
	static const struct {
		const char *value;
		uint64_t want;
	} v[] = {
		{ "4096", 4096 },          { "64KiB", 65536 },      { "64 KiB", 65536 },
		{ "64k", 65536 },          { "64Ki", 65536 },       { "64KB", 64000 },
		{ "1MiB", MIB },           { "1mb", 1000000 },      { "1M", MIB },
		{ "1GiB", 1024 * MIB },    { "1GB", 1000000000 },   { "5000B", 5000 },
	};
	struct tdm_config c;
	char err[256];
	size_t i;

	ck_assert_int_eq(tdm_config_init(&c), 0);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_msg(tdm_config_set(&c, "output_high_watermark", v[i].value, err,
					     sizeof(err)) == 0, "%s: %s", v[i].value, err);
		ck_assert_uint_eq(c.output_high_watermark, v[i].want);
	}
	ck_assert_int_eq(tdm_config_set(&c, "frame_max", "128KiB", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.frame_max, 131072);
	/* Counts take no suffix. */
	ck_assert_int_eq(tdm_config_set(&c, "channel_max", "1K", err, sizeof(err)), -1);
	tdm_config_free(&c);
}
END_TEST

START_TEST(aliases_and_lists)
{
	struct tdm_config c;
	char err[512] = "";

	ck_assert_int_eq(load_text(&c,
				   "listeners.tcp.default = 5679\n"
				   "management.tcp.port = 15672\n"
				   "log.console.level = warning\n"
				   "loopback_users.guest = false\n"
				   "loopback_users.admin = true\n"
				   "loopback_users.ops = yes\n"
				   "loopback_users.admin = false\n",
				   err, sizeof(err)),
			 0);
	ck_assert_int_eq(c.amqp_port, 5679);
	ck_assert_int_eq(c.http_port, 15672);
	ck_assert_int_eq(c.log_level, TDM_LOG_WARNING);
	ck_assert_str_eq(c.loopback_users, "ops");
	ck_assert_int_eq(tdm_config_set(&c, "loopback_users", "none", err, sizeof(err)), 0);
	ck_assert_str_eq(c.loopback_users, "");
	ck_assert_int_eq(tdm_config_set(&c, "loopback_users", " a , b,c ", err, sizeof(err)), 0);
	ck_assert_str_eq(c.loopback_users, "a,b,c");
	ck_assert_int_eq(tdm_config_set(&c, "loopback_users.b", "off", err, sizeof(err)), 0);
	ck_assert_str_eq(c.loopback_users, "a,c");
	tdm_config_free(&c);
}
END_TEST

/* KIP-392's keys: broker_rack (Kafka's broker.rack, at most 255 bytes,
 * empty: none) and kafka_replica_selector (off or rack). */
START_TEST(rack_keys)
{
	struct tdm_config c;
	char err[512] = "", long_rack[300];

	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_ptr_null(c.broker_rack);
	ck_assert_str_eq(c.kafka_replica_selector, "off");
	ck_assert_int_eq(tdm_config_set(&c, "broker.rack", "eu-1a", err, sizeof(err)), 0);
	ck_assert_str_eq(c.broker_rack, "eu-1a");
	ck_assert_int_eq(tdm_config_set(&c, "broker-rack", "", err, sizeof(err)), 0);
	ck_assert_ptr_null(c.broker_rack);
	memset(long_rack, 'r', 255);
	long_rack[255] = 0;
	ck_assert_int_eq(tdm_config_set(&c, "broker_rack", long_rack, err, sizeof(err)), 0);
	strcat(long_rack, "r");
	ck_assert_int_eq(tdm_config_set(&c, "broker_rack", long_rack, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "broker_rack is longer than 255 bytes");
	ck_assert_int_eq(tdm_config_set(&c, "kafka_replica_selector", "rack", err, sizeof(err)), 0);
	ck_assert_str_eq(c.kafka_replica_selector, "rack");
	ck_assert_int_eq(tdm_config_set(&c, "kafka_replica_selector", "nearest", err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "kafka_replica_selector: 'nearest' is not one of off,rack");
	ck_assert_int_eq(tdm_config_set(&c, "kafka_replica_selector", "", err, sizeof(err)), -1);
	tdm_config_free(&c);
}
END_TEST

/* rabbitmq.conf's TLS section loads unchanged (issue 13); listeners.tcp =
 * none turns the plain listener off. */
START_TEST(rabbitmq_tls_section)
{
	struct tdm_config c;
	char err[512] = "";
	char *d;

	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_int_eq(c.ssl_port, 0); /* AMQPS is off unless asked for */
	ck_assert_str_eq(c.ssl_verify, "verify_none");
	ck_assert_int_eq(c.ssl_fail_if_no_peer_cert, 0);
	ck_assert_ptr_null(c.ssl_certfile);
	ck_assert_str_eq(c.ssl_versions, "");
	tdm_config_free(&c);
	ck_assert_int_eq(load_text(&c,
				   "listeners.tcp = none\n"
				   "listeners.ssl.default = 5671\n"
				   "ssl_options.cacertfile = /path/to/ca_certificate.pem\n"
				   "ssl_options.certfile   = /path/to/server_certificate.pem\n"
				   "ssl_options.keyfile    = /path/to/server_key.pem\n"
				   "ssl_options.verify     = verify_peer\n"
				   "ssl_options.fail_if_no_peer_cert = true\n"
				   "ssl_options.versions.1 = tlsv1.3\n"
				   "ssl_options.versions.2 = tlsv1.2\n"
				   "ssl_options.versions.3 = tlsv1.2\n"
				   "ssl_options.depth = 2\n"
				   "ssl_options.password = s3cret\n",
				   err, sizeof(err)),
			 0);
	ck_assert_int_eq(c.amqp_port, 0);
	ck_assert_int_eq(c.ssl_port, 5671);
	ck_assert_str_eq(c.ssl_cacertfile, "/path/to/ca_certificate.pem");
	ck_assert_str_eq(c.ssl_certfile, "/path/to/server_certificate.pem");
	ck_assert_str_eq(c.ssl_keyfile, "/path/to/server_key.pem");
	ck_assert_str_eq(c.ssl_verify, "verify_peer");
	ck_assert_int_eq(c.ssl_fail_if_no_peer_cert, 1);
	ck_assert_str_eq(c.ssl_versions, "tlsv1.3,tlsv1.2");
	ck_assert_uint_eq(c.ssl_depth, 2);
	ck_assert_str_eq(c.ssl_password, "s3cret");
	/* described as lines that load back, the passphrase masked */
	d = describe(&c);
	ck_assert_ptr_nonnull(strstr(d, "\nssl_options.versions = tlsv1.3,tlsv1.2\n"));
	ck_assert_ptr_nonnull(strstr(d, "\nlisteners.ssl.default = 5671\n"));
	ck_assert_ptr_null(strstr(d, "s3cret"));
	free(d);
	/* listeners.ssl = none; a plain port again with RabbitMQ's key */
	ck_assert_int_eq(tdm_config_set(&c, "listeners.ssl", "none", err, sizeof(err)), 0);
	ck_assert_int_eq(c.ssl_port, 0);
	ck_assert_int_eq(tdm_config_set(&c, "listeners.tcp.default", "5672", err, sizeof(err)), 0);
	ck_assert_int_eq(c.amqp_port, 5672);
	/* what is not a setting */
	ck_assert_int_eq(tdm_config_set(&c, "listeners.tcp", "5672", err, sizeof(err)), -1);
	ck_assert_int_eq(tdm_config_set(&c, "ssl_options.versions.x.y", "tlsv1.2", err, sizeof(err)),
			 -1);
	ck_assert_int_eq(tdm_config_set(&c, "ssl_options.fail_if_no_peer_cert", "maybe", err,
					sizeof(err)), -1);
	ck_assert_int_eq(tdm_config_set(&c, "listeners.ssl.default", "70000", err, sizeof(err)), -1);
	tdm_config_free(&c);
}
END_TEST

/* rabbitmq.conf's listener forms (listeners.tcp.NAME / listeners.ssl.NAME =
 * PORT | IP:PORT | [IPv6]:PORT | IPv6:PORT), the list forms of
 * auth_mechanisms, ssl_options.ciphers and management.ssl.versions, and the
 * words auth_mechanisms and ssl_cert_login_from take (issue 13). */
START_TEST(rabbitmq_listeners_and_auth)
{
	struct tdm_config c;
	char err[512] = "";
	char *d;

	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_str_eq(c.amqp_listeners, "");
	ck_assert_str_eq(c.auth_mechanisms, "");
	ck_assert_str_eq(c.ssl_cert_login_from, "distinguished_name");
	ck_assert_int_eq(c.ssl_honor_cipher_order, 0);
	tdm_config_free(&c);
	ck_assert_int_eq(load_text(&c,
				   "listeners.tcp.default = 127.0.0.1:5673\n"
				   "listeners.tcp.local_v6 = ::1:5673\n"
				   "listeners.ssl.default = 5671\n"
				   "listeners.ssl.1 = [::1]:5671\n"
				   "listeners.ssl.2 = 127.0.0.1:5674\n"
				   "listeners.ssl.2 = 127.0.0.2:5675\n"
				   "auth_mechanisms.1 = EXTERNAL\n"
				   "auth_mechanisms.2 = PLAIN\n"
				   "ssl_cert_login_from = common_name\n"
				   "ssl_options.ciphers.1 = TLS_AES_256_GCM_SHA384\n"
				   "ssl_options.ciphers.2 = ECDHE-ECDSA-AES256-GCM-SHA384\n"
				   "ssl_options.honor_cipher_order = true\n"
				   "management.ssl.versions.1 = tlsv1.3\n"
				   "management.ssl.ciphers.1 = TLS_CHACHA20_POLY1305_SHA256\n",
				   err, sizeof(err)),
			 0);
	ck_assert_str_eq(c.amqp_listeners, "default=127.0.0.1:5673,local_v6=[::1]:5673");
	ck_assert_int_eq(c.amqp_port, 5673);
	{ /* what tandemd and the management API read back */
		const char *pos = c.amqp_listeners, *bad = "x=1.2.3.4";
		char name[16], host[64];
		int port = 0;

		ck_assert_int_eq(tdm_config_listener_next(&pos, name, sizeof(name), host,
							  sizeof(host), &port),
				 1);
		ck_assert_str_eq(name, "default");
		ck_assert_str_eq(host, "127.0.0.1");
		ck_assert_int_eq(port, 5673);
		ck_assert_int_eq(tdm_config_listener_next(&pos, name, sizeof(name), host,
							  sizeof(host), &port),
				 1);
		ck_assert_str_eq(name, "local_v6");
		ck_assert_str_eq(host, "::1");
		ck_assert_int_eq(tdm_config_listener_next(&pos, name, sizeof(name), host,
							  sizeof(host), &port),
				 0);
		ck_assert_int_eq(tdm_config_listener_next(&bad, name, sizeof(name), host,
							  sizeof(host), &port),
				 -1);
	}
	ck_assert_str_eq(
		c.ssl_listeners,
		"default=:5671,1=[::1]:5671,2=127.0.0.2:5675"); /* a name given twice: the last */
	ck_assert_int_eq(c.ssl_port, 5671);
	ck_assert_str_eq(c.auth_mechanisms, "EXTERNAL,PLAIN");
	ck_assert_str_eq(c.ssl_cert_login_from, "common_name");
	ck_assert_str_eq(c.ssl_ciphers, "TLS_AES_256_GCM_SHA384,ECDHE-ECDSA-AES256-GCM-SHA384");
	ck_assert_int_eq(c.ssl_honor_cipher_order, 1);
	ck_assert_str_eq(c.http_ssl_versions, "tlsv1.3");
	ck_assert_str_eq(c.http_ssl_ciphers, "TLS_CHACHA20_POLY1305_SHA256");
	/* described as lines that load back */
	d = describe(&c);
	ck_assert_ptr_nonnull(
		strstr(d, "\namqp_listeners = default=127.0.0.1:5673,local_v6=[::1]:5673\n"));
	ck_assert_ptr_nonnull(strstr(d, "\nauth_mechanisms = EXTERNAL,PLAIN\n"));
	free(d);
	/* a port 0 removes a listener; amqp_port (a flag) replaces the list */
	ck_assert_int_eq(tdm_config_set(&c, "listeners.ssl.1", "0", err, sizeof(err)), 0);
	ck_assert_str_eq(c.ssl_listeners, "default=:5671,2=127.0.0.2:5675");
	ck_assert_int_eq(tdm_config_set(&c, "amqp_port", "5680", err, sizeof(err)), 0);
	ck_assert_str_eq(c.amqp_listeners, "");
	ck_assert_int_eq(tdm_config_set(&c, "listeners.ssl", "none", err, sizeof(err)), 0);
	ck_assert_str_eq(c.ssl_listeners, "");
	ck_assert_int_eq(c.ssl_port, 0);
	ck_assert_int_eq(tdm_config_set(&c, "listeners.tcp.a", "127.0.0.1:5690", err, sizeof(err)),
			 0);
	ck_assert_int_eq(tdm_config_set(&c, "listeners.tcp", "none", err, sizeof(err)), 0);
	ck_assert_str_eq(c.amqp_listeners, "");
	ck_assert_int_eq(c.amqp_port, 0);
	/* what is not a listener, a mechanism or a name source */
	ck_assert_int_eq(tdm_config_set(&c, "listeners.tcp.x", "localhost:5672", err, sizeof(err)),
			 -1);
	ck_assert_ptr_nonnull(strstr(err, "is not PORT or IP:PORT"));
	ck_assert_int_eq(tdm_config_set(&c, "listeners.ssl.x", "127.0.0.1:99999", err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "listeners.ssl.x: '127.0.0.1:99999' is not PORT or IP:PORT (a port "
			      "0-65535, an IP address)");
	ck_assert_int_eq(tdm_config_set(&c, "listeners.ssl.x", "[::1:5671", err, sizeof(err)), -1);
	ck_assert_int_eq(tdm_config_set(&c, "listeners.ssl.x.y", "5671", err, sizeof(err)), -1);
	ck_assert_int_eq(tdm_config_set(&c, "auth_mechanisms.3", "KERBEROS", err, sizeof(err)), -1);
	ck_assert_str_eq(err,
			 "auth_mechanisms.3: 'KERBEROS' is not one of PLAIN,AMQPLAIN,EXTERNAL");
	ck_assert_int_eq(tdm_config_set(&c, "auth_mechanisms", "PLAIN,plain", err, sizeof(err)),
			 -1);
	ck_assert_int_eq(tdm_config_set(&c, "ssl_cert_login_from", "subject_alt_name", err,
					sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "ssl_cert_login_from: 'subject_alt_name' is not one of "
			      "distinguished_name,common_name");
	tdm_config_free(&c);
}
END_TEST

START_TEST(users)
{
	struct tdm_config c;
	char err[512] = "";

	ck_assert_int_eq(load_text(&c,
				   "users.bob.password = s3cret\n"
				   "users.alice.password_hash = "
				   "y4xPTRVfzXg68sz9ALqeQzARam3CwnGo53xS752cDV5+Utzh\n"
				   "users.bob.vhosts = /, dev\n"
				   "users.bob.tags = administrator\n"
				   "users.svc.api.password = dotted\n"
				   "users.bob.password = changed\n",
				   err, sizeof(err)),
			 0);
	ck_assert_uint_eq(c.nusers, 3);
	ck_assert_str_eq(c.users[0].name, "bob");
	ck_assert_str_eq(c.users[0].password, "changed");
	ck_assert_ptr_null(c.users[0].password_hash);
	ck_assert_str_eq(c.users[0].vhosts, "/,dev");
	ck_assert_str_eq(c.users[0].tags, "administrator");
	ck_assert_str_eq(c.users[1].name, "alice");
	ck_assert_ptr_null(c.users[1].password);
	ck_assert_str_eq(c.users[1].password_hash,
			 "y4xPTRVfzXg68sz9ALqeQzARam3CwnGo53xS752cDV5+Utzh");
	ck_assert_str_eq(c.users[1].vhosts, "/");
	ck_assert_str_eq(c.users[1].tags, "");
	ck_assert_str_eq(c.users[2].name, "svc.api");
	ck_assert_str_eq(c.users[2].password, "dotted");
	tdm_config_free(&c);
}
END_TEST

static int run_args(struct tdm_config *c, char *err, size_t errlen, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = "tandemd";
	va_start(ap, errlen);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	return tdm_config_args(c, argc, argv, err, errlen);
}

START_TEST(args_override_file)
{
	struct tdm_config c;
	char err[512] = "";
	char path[256];

	snprintf(path, sizeof(path), "%s",
		 write_tmp("amqp_port = 1111\nheartbeat = 5\ndata_dir = /from/file\n"));

	/* Flags after --config win... */
	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_int_eq(run_args(&c, err, sizeof(err), "--config", path, "--amqp-port", "2222",
				  NULL), 0);
	ck_assert_int_eq(c.amqp_port, 2222);
	ck_assert_uint_eq(c.heartbeat, 5);
	tdm_config_free(&c);

	/* ...and so do flags before it. */
	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_int_eq(run_args(&c, err, sizeof(err), "--amqp-port=3333", "--data_dir", "/flag",
				  "--config", path, "--log-level", "debug", NULL), 0);
	ck_assert_int_eq(c.amqp_port, 3333);
	ck_assert_str_eq(c.data_dir, "/flag");
	ck_assert_uint_eq(c.heartbeat, 5);
	ck_assert_int_eq(c.log_level, TDM_LOG_DEBUG);
	tdm_config_free(&c);

	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_int_eq(run_args(&c, err, sizeof(err), "--heartbeat=7", "-c", path,
				  "--kafka-port", "9092", "--http-port", "0",
				  "--max-message-size=1MiB", "--users.bob.password=a=b",
				  "--loopback-users.guest=false", "--listeners.tcp.default", "5",
				  "--bind-address=", NULL), -1);
	ck_assert_str_eq(err, "command line: bind_address must not be empty");
	ck_assert_uint_eq(c.heartbeat, 7);
	ck_assert_int_eq(c.kafka_port, 9092);
	ck_assert_uint_eq(c.max_message_size, MIB);
	ck_assert_uint_eq(c.nusers, 1);
	ck_assert_str_eq(c.users[0].password, "a=b");
	ck_assert_str_eq(c.loopback_users, "");
	ck_assert_int_eq(c.amqp_port, 5);
	tdm_config_free(&c);
	unlink(path);
}
END_TEST

START_TEST(args_errors)
{
	struct tdm_config c;
	char err[512] = "";

	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_int_eq(run_args(&c, err, sizeof(err), "--nope", "1", NULL), -1);
	ck_assert_str_eq(err, "command line: unknown key 'nope'");
	ck_assert_int_eq(run_args(&c, err, sizeof(err), "--amqp-port", NULL), -1);
	ck_assert_str_eq(err, "option '--amqp-port' needs a value");
	ck_assert_int_eq(run_args(&c, err, sizeof(err), "stray", NULL), -1);
	ck_assert_str_eq(err, "unexpected argument 'stray' (try --help)");
	ck_assert_int_eq(run_args(&c, err, sizeof(err), "--", NULL), -1);
	ck_assert_int_eq(run_args(&c, err, sizeof(err), "--amqp-port", "x", NULL), -1);
	ck_assert_str_eq(err, "command line: amqp_port: 'x' is not a non-negative integer");
	ck_assert_int_eq(run_args(&c, err, sizeof(err), "--config", "/nonexistent", NULL), -1);
	ck_assert_str_eq(err, "/nonexistent: cannot open: No such file or directory");
	/* A bad flag after a bad file: the file error is reported (files load first). */
	ck_assert_int_eq(run_args(&c, err, sizeof(err), "--amqp-port", "x", "--config",
				  "/nonexistent", NULL), -1);
	ck_assert_str_eq(err, "/nonexistent: cannot open: No such file or directory");
	ck_assert_int_eq(c.amqp_port, 5672);
	ck_assert_int_eq(run_args(&c, err, sizeof(err), NULL), 0);
	tdm_config_free(&c);
}
END_TEST

/* Runs args with stdout captured into *out (malloc'd). */
static int run_captured(struct tdm_config *c, const char *flag, char **out)
{
	char err[256];
	char path[256];
	int rc, saved;

	snprintf(path, sizeof(path), "%s", write_tmp(""));
	fflush(stdout);
	saved = dup(1);
	ck_assert_ptr_nonnull(freopen(path, "w", stdout));
	rc = run_args(c, err, sizeof(err), "--amqp-port", "1", flag, NULL);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	*out = slurp(path);
	unlink(path);
	return rc;
}

START_TEST(help_and_version)
{
	struct tdm_config c;
	char *out;

	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_int_eq(run_captured(&c, "--version", &out), 1);
	ck_assert_int_eq(strncmp(out, "tandemd ", 8), 0);
#ifdef PACKAGE_VERSION
	ck_assert_ptr_nonnull(strstr(out, PACKAGE_VERSION));
#endif
	free(out);
	ck_assert_int_eq(run_captured(&c, "--help", &out), 1);
	ck_assert_ptr_nonnull(strstr(out, "Usage: tandemd"));
	ck_assert_ptr_nonnull(strstr(out, "\namqp_port = 5672\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nmax_message_size = 128MiB\n"));
	ck_assert_ptr_nonnull(strstr(out, "\noutput_high_watermark = 4MiB\n"));
	ck_assert_ptr_nonnull(strstr(out, "listeners.tcp.default"));
	free(out);
	ck_assert_int_eq(run_captured(&c, "-h", &out), 1);
	free(out);
	/* Help and version act before any flag is applied. */
	ck_assert_int_eq(c.amqp_port, 5672);
	tdm_config_free(&c);
}
END_TEST

START_TEST(describe_roundtrip)
{
	struct tdm_config a, b;
	char err[512] = "";
	char *da, *db;

	ck_assert_int_eq(tdm_config_init(&a), 0);
	ck_assert_int_eq(tdm_config_set(&a, "amqp_port", "1234", err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&a, "frame_max", "5000", err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&a, "log_file", "/tmp/x.log", err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&a, "vhosts", "a,b", err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&a, "users.u.password_hash",
					"y4xPTRVfzXg68sz9ALqeQzARam3CwnGo53xS752cDV5+Utzh", err,
					sizeof(err)), 0);
	da = describe(&a);
	ck_assert_ptr_nonnull(strstr(da, "\nframe_max = 5000\n"));
	ck_assert_ptr_nonnull(strstr(da, "\ndefault_pass = guest\n"));
	ck_assert_int_eq(load_text(&b, da, err, sizeof(err)), 0);
	db = describe(&b);
	ck_assert_str_eq(da, db);
	free(da);
	free(db);
	tdm_config_free(&b);

	/* Secrets other than the public default are masked. */
	ck_assert_int_eq(tdm_config_set(&a, "default_pass", "hunter2", err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&a, "users.v.password", "hunter3", err, sizeof(err)), 0);
	da = describe(&a);
	ck_assert_ptr_null(strstr(da, "hunter"));
	ck_assert_ptr_nonnull(strstr(da, "\ndefault_pass = ********\n"));
	ck_assert_ptr_nonnull(strstr(da, "\nusers.v.password = ********\n"));
	free(da);
	tdm_config_free(&a);
}
END_TEST

START_TEST(example_file_is_the_defaults)
{
	struct tdm_config def, ex;
	char err[512] = "";
	char *dd, *de, *text, *p;
	char path[1024];
	int rc;

	snprintf(path, sizeof(path), "%s/tandem.conf.example", TDM_SRCDIR);
	ck_assert_int_eq(tdm_config_init(&def), 0);
	ck_assert_int_eq(tdm_config_init(&ex), 0);
	rc = tdm_config_load(&ex, path, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	dd = describe(&def);
	de = describe(&ex);
	ck_assert_str_eq(dd, de);
	/* Every key is documented in the example (as an active line). */
	text = slurp(path);
	for (p = dd; (p = strchr(p, '\n')) != NULL; p++) {
		char key[128];

		if (sscanf(p + 1, "%127[a-z_.] =", key) == 1) {
			char line[160];

			snprintf(line, sizeof(line), "\n%s =", key);
			ck_assert_msg(strstr(text, line) != NULL, "%s missing from example", key);
		}
	}
	free(text);
	free(dd);
	free(de);
	tdm_config_free(&def);
	tdm_config_free(&ex);
}
END_TEST

/* Log lines land in the file in the documented format. */
START_TEST(log_format)
{
	char path[256];
	char *text;
	regex_t re;
	char big[3000];

	snprintf(path, sizeof(path), "%s", write_tmp("old line\n"));
	tdm_log_setup(TDM_LOG_INFO, path);
	tdm_info("amqp", "hello %d", 42);
	tdm_debug("amqp", "not shown %d", 1);
	tdm_warn("net", "bad\nname\x1b[31m\n");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tdm_error("core", "%s!", big);
	ck_assert_int_eq(tdm_log_enabled(TDM_LOG_INFO), 1);
	ck_assert_int_eq(tdm_log_enabled(TDM_LOG_DEBUG), 0);
	tdm_log_setup(TDM_LOG_DEBUG, path); /* reopen: appends */
	tdm_debug("amqp", "shown");
	tdm_log_setup(TDM_LOG_INFO, NULL);

	text = slurp(path);
	ck_assert_int_eq(regcomp(&re,
				 "^old line\n"
				 "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
				 "info amqp: hello 42\n"
				 "[-0-9T:.]{23}Z warning net: bad\\\\x0aname\\\\x1b\\[31m\n"
				 "[-0-9T:.]{23}Z error core: x+!\n"
				 "[-0-9T:.]{23}Z debug amqp: shown\n$",
				 REG_EXTENDED),
			 0);
	ck_assert_msg(regexec(&re, text, 0, NULL, 0) == 0, "log was:\n%.400s", text);
	/* The long message arrived whole. */
	ck_assert_ptr_nonnull(strstr(text, big));
	regfree(&re);
	free(text);
	unlink(path);
}
END_TEST

/* vhost_limits.VHOST.FIELD and user_limits.USER.FIELD (RabbitMQ's limit
 * names; names may hold dots; '_' for '-'); unknown fields and values that
 * are no integer are errors; a later line replaces an earlier one. */
START_TEST(limit_keys)
{
	struct tdm_config c;
	char err[256] = "";

	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_int_eq(tdm_config_set(&c, "vhost_limits./.max-queues", "10", err, sizeof(err)),
			 0);
	ck_assert_int_eq(tdm_config_set(&c, "vhost_limits.a.b.max_connections", "-1", err,
					sizeof(err)),
			 0);
	ck_assert_int_eq(tdm_config_set(&c, "user_limits.bob.max-channels", "3", err, sizeof(err)),
			 0);
	ck_assert_int_eq(tdm_config_set(&c, "vhost_limits./.max-queues", "12", err, sizeof(err)),
			 0);
	ck_assert_uint_eq(c.nlimits, 3);
	ck_assert_str_eq(c.limits[0].name, "/");
	ck_assert_str_eq(c.limits[0].field, "max-queues");
	ck_assert_int_eq(c.limits[0].value, 12);
	ck_assert_str_eq(c.limits[1].name, "a.b");
	ck_assert_str_eq(c.limits[1].field, "max-connections");
	ck_assert_int_eq(c.limits[2].user, 1);
	ck_assert_int_eq(tdm_config_set(&c, "user_limits.bob.max-queues", "3", err, sizeof(err)),
			 -1);
	ck_assert_ptr_nonnull(strstr(err, "max-channels"));
	ck_assert_int_eq(tdm_config_set(&c, "vhost_limits./.max-queues", "ten", err, sizeof(err)),
			 -1);
	ck_assert_ptr_nonnull(strstr(err, "not an integer"));
	ck_assert_int_eq(tdm_config_set(&c, "vhost_limits.max-queues", "1", err, sizeof(err)), -1);
	char *d = describe(&c);
	ck_assert_ptr_nonnull(strstr(d, "\nvhost_limits./.max-queues = 12\n"));
	ck_assert_ptr_nonnull(strstr(d, "\nuser_limits.bob.max-channels = 3\n"));
	free(d);
	tdm_config_free(&c);
}
END_TEST

START_TEST(log_level_names)
{
	ck_assert_int_eq(tdm_log_level_parse("error"), TDM_LOG_ERROR);
	ck_assert_int_eq(tdm_log_level_parse("Warning"), TDM_LOG_WARNING);
	ck_assert_int_eq(tdm_log_level_parse("warn"), TDM_LOG_WARNING);
	ck_assert_int_eq(tdm_log_level_parse("INFO"), TDM_LOG_INFO);
	ck_assert_int_eq(tdm_log_level_parse("debug"), TDM_LOG_DEBUG);
	ck_assert_int_eq(tdm_log_level_parse("trace"), -1);
	ck_assert_int_eq(tdm_log_level_parse(""), -1);
	ck_assert_int_eq(tdm_log_level_parse(NULL), -1);
}
END_TEST

/* The cluster's secret (tdm_config_cluster_secret): the file's content
 * without trailing whitespace, at least 16 bytes, owner-only. */
START_TEST(cluster_secret)
{
	struct tdm_config c;
	char out[TDM_CLUSTER_SECRET_MAX + 1], err[512] = "";
	char big[TDM_CLUSTER_SECRET_MAX + 8];

	ck_assert_int_eq(tdm_config_init(&c), 0);
	ck_assert_uint_eq(c.cluster_port, 0);
	ck_assert_str_eq(c.cluster_secret_file, "");
	ck_assert_int_eq(tdm_config_cluster_secret(&c, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cluster_secret_file is not"));
	/* trailing spaces, tabs, CR and LF are not part of it; leading ones are */
	ck_assert_int_eq(tdm_config_set(&c, "cluster_secret_file",
					 write_tmp(" 0123456789abcdef \t\r\n\n"), err, sizeof(err)),
			 0);
	ck_assert_int_eq(tdm_config_cluster_secret(&c, out, sizeof(out), err, sizeof(err)), 17);
	ck_assert_str_eq(out, " 0123456789abcdef");
	/* owner read-only is fine; any bit for group or others is not */
	ck_assert_int_eq(chmod(tmp_path, 0400), 0);
	ck_assert_int_eq(tdm_config_cluster_secret(&c, out, sizeof(out), err, sizeof(err)), 17);
	ck_assert_int_eq(chmod(tmp_path, 0640), 0);
	ck_assert_int_eq(tdm_config_cluster_secret(&c, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "accessible by its owner only (mode 0640"));
	ck_assert_int_eq(chmod(tmp_path, 0602), 0);
	ck_assert_int_eq(tdm_config_cluster_secret(&c, out, sizeof(out), err, sizeof(err)), -1);
	unlink(tmp_path);
	/* 15 bytes: too short; 16: enough */
	ck_assert_int_eq(tdm_config_set(&c, "cluster_secret_file", write_tmp("0123456789abcde\n"),
					 err, sizeof(err)),
			 0);
	ck_assert_int_eq(tdm_config_cluster_secret(&c, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "the secret is 15 bytes long; it must be at least 16"));
	unlink(tmp_path);
	ck_assert_int_eq(tdm_config_set(&c, "cluster_secret_file", write_tmp("0123456789abcdef"),
					 err, sizeof(err)),
			 0);
	ck_assert_int_eq(tdm_config_cluster_secret(&c, out, sizeof(out), err, sizeof(err)), 16);
	/* a buffer too small for it */
	ck_assert_int_eq(tdm_config_cluster_secret(&c, out, 16, err, sizeof(err)), -1);
	unlink(tmp_path);
	/* longer than TDM_CLUSTER_SECRET_MAX */
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(tdm_config_set(&c, "cluster_secret_file", write_tmp(big), err, sizeof(err)),
			 0);
	ck_assert_int_eq(tdm_config_cluster_secret(&c, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
	unlink(tmp_path);
	/* missing, or not a file */
	ck_assert_int_eq(tdm_config_cluster_secret(&c, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
	ck_assert_int_eq(tdm_config_set(&c, "cluster_secret_file", "/", err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_cluster_secret(&c, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_int_eq(tdm_config_set(&c, "cluster_port", "65536", err, sizeof(err)), -1);
	ck_assert_int_eq(tdm_config_set(&c, "cluster_port", "25672", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.cluster_port, 25672);
	tdm_config_free(&c);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *t = tcase_create("file");

	tcase_add_test(t, defaults);
	tcase_add_test(t, file_parsing);
	tcase_add_test(t, file_errors);
	tcase_add_test(t, ranges);
	tcase_add_test(t, sizes);
	tcase_add_test(t, aliases_and_lists);
	tcase_add_test(t, users);
	tcase_add_test(t, describe_roundtrip);
	tcase_add_test(t, example_file_is_the_defaults);
	tcase_add_test(t, rack_keys);
	tcase_add_test(t, cluster_secret);
	suite_add_tcase(s, t);

	t = tcase_create("args");
	tcase_add_test(t, args_override_file);
	tcase_add_test(t, args_errors);
	tcase_add_test(t, help_and_version);
	suite_add_tcase(s, t);

	t = tcase_create("log");
	tcase_add_test(t, log_format);
	tcase_add_test(t, rabbitmq_tls_section);
	tcase_add_test(t, rabbitmq_listeners_and_auth);
	tcase_add_test(t, log_level_names);
	tcase_add_test(t, limit_keys);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
