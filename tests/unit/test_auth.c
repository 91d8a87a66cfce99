/*
 * Unit tests for src/core/auth.c: FIPS 180-4 vectors through tdm_sha256 (libcrypto),
 * RabbitMQ password_hash compatibility (vectors produced by RabbitMQ itself),
 * credential checks, loopback_users and vhost permissions.
 *
 * Must not depend on: libevent, libtandem.a (the sources are compiled in).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/auth.h"
#include "core/config.h"

static void hex(const unsigned char *d, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_sha(const void *data, size_t len, const char *want)
{
	unsigned char d[32];
	char h[65];

	tdm_sha256(data, len, d);
	hex(d, sizeof(d), h);
	ck_assert_str_eq(h, want);
}

START_TEST(sha256_fips_vectors)
{
	/* FIPS 180-4 examples (NIST "SHA256.pdf", "SHA2_Additional.pdf"). */
	check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	check_sha("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
		  "klmnopqrlmnopqrsmnopqrstnopqrstu", 112,
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}
END_TEST

START_TEST(sha256_million_a)
{
	static const char want[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	size_t n = 1000000;
	char *buf = malloc(n);

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'a', n);
	check_sha(buf, n, want);
	free(buf);
}
END_TEST

START_TEST(sha256_padding_boundaries)
{
	/* Lengths around the 55/56/64-byte padding edges (checked with Python hashlib). */
	static const struct {
		size_t n;
		const char *want;
	} v[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		{ 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
		{ 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb" },
		{ 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
	};
	char buf[128];
	size_t i;

	memset(buf, 'a', sizeof(buf));
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		check_sha(buf, v[i].n, v[i].want);
}
END_TEST

START_TEST(hash_rabbitmq_vectors)
{
	/* From the RabbitMQ documentation ("Computing a password hash"): salt 908DC60A, "test12". */
	static const unsigned char salt_doc[4] = { 0x90, 0x8d, 0xc6, 0x0a };
	/* rabbit_password:salted_hash(rabbit_password_hashing_sha256, <<16#deadbeef:32>>,
	 * <<"tandem-secret">>) in RabbitMQ 3.10.8, prefixed with the salt. */
	static const unsigned char salt_dead[4] = { 0xde, 0xad, 0xbe, 0xef };
	char out[TDM_PASSWORD_HASH_SIZE];

	tdm_password_hash(salt_doc, "test12", 6, out);
	ck_assert_str_eq(out, "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR");
	tdm_password_hash(salt_dead, "tandem-secret", 13, out);
	ck_assert_str_eq(out, "3q2+7/d8YhuQyJSPwLgX9nSKJANNKuPJE9bAddt95vJNJeJ+");
	/* Layout: 48 characters, no padding, the salt alone in the first 5 full sextets. */
	ck_assert_uint_eq(strlen(out), 48);
	ck_assert_int_eq(strncmp(out, "3q2+7", 5), 0);
	/* Only the pwlen bytes count. */
	tdm_password_hash(salt_dead, "tandem-secretXYZ", 13, out);
	ck_assert_str_eq(out, "3q2+7/d8YhuQyJSPwLgX9nSKJANNKuPJE9bAddt95vJNJeJ+");
}
END_TEST

/* A config with the defaults plus "key = value" pairs; fails the test on error. */
static void conf(struct tdm_config *c, const char *const *kv)
{
	char err[256];

	ck_assert_int_eq(tdm_config_init(c), 0);
	for (; kv && kv[0]; kv += 2)
		ck_assert_msg(tdm_config_set(c, kv[0], kv[1], err, sizeof(err)) == 0, "%s", err);
}

static struct tdm_auth *auth_from(const char *const *kv)
{
	struct tdm_config c;
	struct tdm_auth *a;
	char err[256] = "";

	conf(&c, kv);
	a = tdm_auth_new(&c, err, sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	tdm_config_free(&c);
	return a;
}

static enum tdm_auth_result check(const struct tdm_auth *a, const char *u, const char *p,
				  int loopback)
{
	return tdm_auth_check(a, u, strlen(u), p, strlen(p), loopback);
}

START_TEST(exported_hashes_log_in)
{
	static const char *const kv[] = {
		/* Exported from RabbitMQ for password "1" (published on Stack Overflow #41306350). */
		"users.one.password_hash", "y4xPTRVfzXg68sz9ALqeQzARam3CwnGo53xS752cDV5+Utzh",
		/* rabbit_password:hash(rabbit_password_hashing_sha256, <<"guest">>), RabbitMQ 3.10.8. */
		"users.gst.password_hash", "qosag+3Q1NMdQ0j4r3Yq45ESVGm152PxKgyEvwVDhF4Vq0jM",
		NULL,
	};
	struct tdm_auth *a = auth_from(kv);

	ck_assert_int_eq(check(a, "one", "1", 0), TDM_AUTH_OK);
	ck_assert_int_eq(check(a, "one", "2", 0), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "gst", "guest", 0), TDM_AUTH_OK);
	ck_assert_int_eq(check(a, "gst", "Guest", 0), TDM_AUTH_BAD_CREDENTIALS);
	/* Default permissions of a configured user: vhost "/" only. */
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "one", "/", 1), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "one", "dev", 3), 0);
	tdm_auth_free(a);
}
END_TEST

START_TEST(passwords_good_and_bad)
{
	static const char *const kv[] = { "users.bob.password", "s3cret#with spaces", NULL };
	struct tdm_auth *a = auth_from(kv);

	ck_assert_int_eq(check(a, "guest", "guest", 1), TDM_AUTH_OK);
	ck_assert_int_eq(check(a, "guest", "guess", 1), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "guest", "gues", 1), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "guest", "guest!", 1), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "guest", "", 1), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "nobody", "guest", 1), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "", "", 1), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "bob", "s3cret#with spaces", 0), TDM_AUTH_OK);
	ck_assert_int_eq(check(a, "bob", "s3cret", 0), TDM_AUTH_BAD_CREDENTIALS);
	/* Lengths, not NULs, delimit user and password (AMQP PLAIN gives lengths). */
	ck_assert_int_eq(tdm_auth_check(a, "guestX", 5, "guestY", 5, 1), TDM_AUTH_OK);
	ck_assert_int_eq(tdm_auth_check(a, "guest", 5, "guest\0", 6, 1), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(tdm_auth_check(a, "gues", 4, "guest", 5, 1), TDM_AUTH_BAD_CREDENTIALS);
	tdm_auth_free(a);
}
END_TEST

START_TEST(add_user_replaces)
{
	struct tdm_auth *a = auth_from(NULL);

	ck_assert_int_eq(tdm_auth_add_user(a, "carol", "one", NULL, NULL), 0);
	ck_assert_int_eq(check(a, "carol", "one", 0), TDM_AUTH_OK);
	ck_assert_int_eq(tdm_auth_add_user(a, "carol", "two", "dev", "monitoring"), 0);
	ck_assert_int_eq(check(a, "carol", "one", 0), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "carol", "two", 0), TDM_AUTH_OK);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "carol", "/", 1), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "carol", "dev", 3), 1);
	ck_assert_int_eq(tdm_auth_add_user(a, "dave", "", NULL, NULL), -1);
	ck_assert_int_eq(tdm_auth_add_user(a, "", "x", NULL, NULL), -1);
	/* Replacing the default user keeps it loopback-only. */
	ck_assert_int_eq(tdm_auth_add_user(a, "guest", "new", NULL, NULL), 0);
	ck_assert_int_eq(check(a, "guest", "new", 0), TDM_AUTH_LOOPBACK_ONLY);
	ck_assert_int_eq(check(a, "guest", "guest", 1), TDM_AUTH_BAD_CREDENTIALS);
	tdm_auth_free(a);
}
END_TEST

START_TEST(loopback_restriction)
{
	static const char *const kv[] = { "users.bob.password", "pw", NULL };
	static const char *const none[] = { "loopback_users", "none", "users.bob.password", "pw",
					    "loopback_users.bob", "true", NULL };
	struct tdm_auth *a = auth_from(kv);

	ck_assert_int_eq(check(a, "guest", "guest", 1), TDM_AUTH_OK);
	ck_assert_int_eq(check(a, "guest", "guest", 0), TDM_AUTH_LOOPBACK_ONLY);
	/* A wrong password from afar says only "bad credentials". */
	ck_assert_int_eq(check(a, "guest", "nope", 0), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "bob", "pw", 0), TDM_AUTH_OK);
	tdm_auth_free(a);

	a = auth_from(none);
	ck_assert_int_eq(check(a, "guest", "guest", 0), TDM_AUTH_OK);
	ck_assert_int_eq(check(a, "bob", "pw", 0), TDM_AUTH_LOOPBACK_ONLY);
	ck_assert_int_eq(check(a, "bob", "pw", 1), TDM_AUTH_OK);
	tdm_auth_free(a);
}
END_TEST

START_TEST(vhost_permissions)
{
	static const char *const kv[] = {
		"users.bob.password", "pw", "users.bob.vhosts", "/, dev ,a,b",
		"users.eve.password", "pw", "users.eve.vhosts", "", NULL,
	};
	struct tdm_auth *a = auth_from(kv);

	/* The default user may open every vhost. */
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "guest", "/", 1), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "guest", "anything", 8), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "/", 1), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "dev", 3), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "b", 1), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "de", 2), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "devx", 4), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "prod", 4), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "", 0), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "/,dev", 5), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "*", 1), 0);
	/* vhost is length-delimited. */
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "devil", 3), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "eve", "/", 1), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "nobody", "/", 1), 0);
	tdm_auth_free(a);
}
END_TEST

/* Finding 6 of issue 11: a grant names one vhost whatever it holds.  A
 * vhost "x,prod" is not "x" and "prod"; a vhost "*" is not every vhost, and
 * its grant can be taken back.  The stored form (definitions log) keeps
 * that, and records of older data dirs (raw names) still restore. */
START_TEST(test_auth_grant_names_whole)
{
	static const char *const kv[] = { "users.mia.password", "pw", "users.mia.vhosts", "", NULL };
	struct tdm_auth *a = auth_from(kv), *b;
	char hash[TDM_PASSWORD_HASH_SIZE];
	const char *tags, *vhosts;
	int changed;

	ck_assert_int_eq(tdm_auth_grant(a, "mia", "x,prod", 1, &changed), 0);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "x,prod", 6), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "prod", 4), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "x", 1), 0);
	ck_assert_int_eq(tdm_auth_grant(a, "mia", "*", 1, &changed), 0);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "*", 1), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "other", 5), 0);
	ck_assert_int_eq(tdm_auth_grant(a, "mia", "100%", 1, &changed), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "100%", 4), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "100%25", 6), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "x%2Cprod", 8), 0);

	/* what the definitions log stores restores the same grants */
	ck_assert_int_eq(tdm_auth_user_record(a, "mia", hash, &tags, &vhosts), 0);
	b = auth_from(NULL);
	ck_assert_int_eq(tdm_auth_restore_user(b, "mia", hash, tags, vhosts, 0), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(b, "mia", "x,prod", 6), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(b, "mia", "prod", 4), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(b, "mia", "*", 1), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(b, "mia", "other", 5), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(b, "mia", "100%", 4), 1);
	tdm_auth_free(b);

	/* "*" is revoked like any vhost, and only it */
	ck_assert_int_eq(tdm_auth_grant(a, "mia", "*", 0, &changed), 0);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "*", 1), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "x,prod", 6), 1);
	ck_assert_int_eq(tdm_auth_grant(a, "mia", "x,prod", 0, &changed), 0);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "x,prod", 6), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "mia", "100%", 4), 1);
	tdm_auth_free(a);

	/* a record of an older data dir: raw names, "*" = every vhost */
	b = auth_from(NULL);
	ck_assert_int_eq(tdm_auth_restore_user(b, "old", "", "", "/,dev", 1), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(b, "old", "dev", 3), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(b, "old", "prod", 4), 0);
	ck_assert_int_eq(tdm_auth_restore_user(b, "old2", "", "", "a%b,*", 1), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(b, "old2", "anything", 8), 1);
	ck_assert_int_eq(tdm_auth_user_record(b, "old", hash, &tags, &vhosts), 0);
	ck_assert_str_eq(vhosts, "/,dev");
	ck_assert_int_eq(tdm_auth_user_record(b, "old2", hash, &tags, &vhosts), 0);
	ck_assert_str_eq(vhosts, "a%25b,*");
	tdm_auth_free(b);
}
END_TEST

START_TEST(config_users)
{
	static const char *const no_default[] = { "default_user", "", "users.x.password", "pw",
						  NULL };
	static const char *const override[] = { "users.guest.password", "other",
						"users.guest.vhosts", "dev", NULL };
	static const char *const locked[] = { "users.l.password_hash", "", NULL };
	struct tdm_auth *a;

	a = auth_from(no_default);
	ck_assert_int_eq(check(a, "guest", "guest", 1), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "x", "pw", 1), TDM_AUTH_OK);
	tdm_auth_free(a);

	a = auth_from(override);
	ck_assert_int_eq(check(a, "guest", "guest", 1), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "guest", "other", 1), TDM_AUTH_OK);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "guest", "/", 1), 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "guest", "dev", 3), 1);
	tdm_auth_free(a);

	/* An empty password_hash locks the account, as in RabbitMQ. */
	a = auth_from(locked);
	ck_assert_int_eq(check(a, "l", "", 1), TDM_AUTH_BAD_CREDENTIALS);
	ck_assert_int_eq(check(a, "l", "x", 1), TDM_AUTH_BAD_CREDENTIALS);
	tdm_auth_free(a);
}
END_TEST

START_TEST(config_user_errors)
{
	static const char *const no_pw[] = { "users.x.vhosts", "/", NULL };
	static const char *const both[] = {
		"users.x.password", "pw",
		"users.x.password_hash", "y4xPTRVfzXg68sz9ALqeQzARam3CwnGo53xS752cDV5+Utzh", NULL,
	};
	static const char *const empty_default[] = { "default_pass", "", NULL };
	struct tdm_config c;
	char err[256] = "";

	conf(&c, no_pw);
	ck_assert_ptr_null(tdm_auth_new(&c, err, sizeof(err)));
	ck_assert_str_eq(err, "users.x: needs password or password_hash");
	tdm_config_free(&c);

	conf(&c, both);
	ck_assert_ptr_null(tdm_auth_new(&c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not both"));
	tdm_config_free(&c);

	conf(&c, empty_default);
	ck_assert_ptr_null(tdm_auth_new(&c, err, sizeof(err)));
	ck_assert_str_eq(err, "default_pass must not be empty");
	tdm_config_free(&c);
}
END_TEST

/* The cluster link (issue 15): with cluster_port, tdm_auth_new reads the
 * secret; tdm_auth_link_check takes tandem-cluster with exactly that
 * secret; tdm_auth_link_user (the pointer) may do everything, the same
 * text from elsewhere nothing; the name is reserved everywhere. */
START_TEST(test_auth_cluster_link)
{
	static const char secret[] = "0123456789abcdef-link";
	char path[] = "/tmp/tandem-auth-secret-XXXXXX", err[256] = "";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, secret, strlen(secret)), (ssize_t)strlen(secret));
	close(fd);
	const char *const kv[] = { "cluster_port", "9999", "cluster_secret_file", path, NULL };
	struct tdm_auth *a = auth_from(kv);
	unlink(path);
	char copy[] = TDM_CLUSTER_LINK_USER;
	int created = 0;

	ck_assert(tdm_auth_link_check(a, "tandem-cluster", 14, secret, strlen(secret)));
	ck_assert(!tdm_auth_link_check(a, "tandem-cluster", 14, secret, strlen(secret) - 1));
	ck_assert(!tdm_auth_link_check(a, "tandem-cluster", 14, "0123456789abcdef-linx", 21));
	ck_assert(!tdm_auth_link_check(a, "guest", 5, secret, strlen(secret)));
	ck_assert(!tdm_auth_link_check(NULL, "tandem-cluster", 14, secret, strlen(secret)));
	ck_assert_int_eq(check(a, "tandem-cluster", secret, 1), TDM_AUTH_BAD_CREDENTIALS);
	/* the pointer is trusted, a copy of its text is a user that does not exist */
	ck_assert(tdm_auth_vhost_allowed(a, tdm_auth_link_user, "any", 3));
	ck_assert(tdm_auth_permitted(a, tdm_auth_link_user, "any", TDM_PERM_CONFIGURE, "q", 1));
	ck_assert(tdm_auth_topic_permitted(a, tdm_auth_link_user, "any", "amq.topic",
					   TDM_PERM_WRITE, "k", 1));
	ck_assert(!tdm_auth_vhost_allowed(a, copy, "any", 3));
	ck_assert(!tdm_auth_permitted(a, copy, "/", TDM_PERM_READ, "q", 1));
	/* no user of that name */
	ck_assert_int_eq(tdm_auth_put_user(a, copy, "pw", NULL, "", &created), -3);
	ck_assert_int_eq(tdm_auth_restore_user(a, copy, "", "", "/", 0), -3);
	ck_assert_int_eq(tdm_auth_add_user(a, copy, "pw", "/", ""), -1);
	ck_assert_ptr_null(tdm_auth_user_tags(a, copy));
	tdm_auth_free(a);

	/* without cluster_port: no secret, nothing logs in as the link */
	a = auth_from(NULL);
	ck_assert(!tdm_auth_link_check(a, "tandem-cluster", 14, secret, strlen(secret)));
	tdm_auth_free(a);

	/* a configured user of that name stops the start */
	struct tdm_config c;
	const char *const bad[] = { "users.tandem-cluster.password", "pw", NULL };
	conf(&c, bad);
	ck_assert_ptr_null(tdm_auth_new(&c, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "reserved for the cluster link"));
	tdm_config_free(&c);
}
END_TEST

/* Issue 13: RabbitMQ's permission model.  Patterns are searched unanchored
 * (re:run), "" matches only the empty name, the default exchange is checked
 * as amq.default, an own entry beats the every-vhost one. */
static int perm(const struct tdm_auth *a, const char *u, const char *vh, enum tdm_perm p,
		const char *name)
{
	return tdm_auth_permitted(a, u, vh, p, name, strlen(name));
}

START_TEST(test_auth_regex_permissions)
{
	static const char *const kv[] = { "users.bob.password", "pw", "users.bob.vhosts", "/",
					  NULL };
	struct tdm_auth *a = auth_from(kv);
	char err[256];

	/* users.NAME.vhosts = full ".*" permissions */
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_CONFIGURE, "anything"), 1);
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_READ, ""), 1);
	ck_assert_int_eq(perm(a, "bob", "dev", TDM_PERM_READ, "q"), 0);
	ck_assert_int_eq(perm(a, "nobody", "/", TDM_PERM_READ, "q"), 0);

	ck_assert_int_eq(tdm_auth_set_permissions(a, "bob", "/", "q", "^(a|b)$", "", err,
						  sizeof(err)),
			 0);
	/* unanchored: "q" anywhere */
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_CONFIGURE, "q"), 1);
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_CONFIGURE, "xqy"), 1);
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_CONFIGURE, "xy"), 0);
	/* anchors and alternation */
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_WRITE, "a"), 1);
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_WRITE, "b"), 1);
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_WRITE, "ab"), 0);
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_WRITE, "c"), 0);
	/* "" = "^$": nothing, not even the default exchange (amq.default) */
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_READ, "q"), 0);
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_READ, ""), 0);
	/* length-delimited names */
	ck_assert_int_eq(tdm_auth_permitted(a, "bob", "/", TDM_PERM_WRITE, "bc", 1), 1);
	/* a NUL inside the name passes nothing ("a\0evil" is not "a"), and a
	 * name longer than the stack buffer is matched whole */
	ck_assert_int_eq(tdm_auth_permitted(a, "bob", "/", TDM_PERM_WRITE, "a\0evil", 6), 0);
	{
		char big[600];

		memset(big, 'x', sizeof(big));
		big[300] = 'q';
		ck_assert_int_eq(tdm_auth_permitted(a, "bob", "/", TDM_PERM_CONFIGURE, big,
						    sizeof(big)),
				 1);
		big[300] = 'x';
		ck_assert_int_eq(tdm_auth_permitted(a, "bob", "/", TDM_PERM_CONFIGURE, big,
						    sizeof(big)),
				 0);
	}

	/* the default exchange is amq.default */
	ck_assert_int_eq(tdm_auth_set_permissions(a, "bob", "/", "^amq\\.default$", "^amq\\.", "x",
						  err, sizeof(err)),
			 0);
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_CONFIGURE, ""), 1);
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_WRITE, ""), 1);
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_READ, ""), 0);
	ck_assert_int_eq(perm(a, "bob", "/", TDM_PERM_WRITE, "amqXfoo"), 0);

	/* an own entry beats the every-vhost one (guest: vhosts = *) */
	ck_assert_int_eq(perm(a, "guest", "dev", TDM_PERM_READ, "q"), 1);
	ck_assert_int_eq(tdm_auth_set_permissions(a, "guest", "dev", "", "", "^r", err,
						  sizeof(err)),
			 0);
	ck_assert_int_eq(perm(a, "guest", "dev", TDM_PERM_READ, "q"), 0);
	ck_assert_int_eq(perm(a, "guest", "dev", TDM_PERM_READ, "rq"), 1);
	ck_assert_int_eq(perm(a, "guest", "other", TDM_PERM_READ, "q"), 1);
	ck_assert_int_eq(tdm_auth_clear_permissions(a, "guest", "dev"), 1);
	ck_assert_int_eq(perm(a, "guest", "dev", TDM_PERM_READ, "q"), 1);
	ck_assert_int_eq(tdm_auth_clear_permissions(a, "guest", "dev"), 0);

	/* a new vhost entry opens the vhost; clearing closes it */
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "dev", 3), 0);
	ck_assert_int_eq(tdm_auth_set_permissions(a, "bob", "dev", "", "", "", err, sizeof(err)),
			 0);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "dev", 3), 1);
	ck_assert_int_eq(perm(a, "bob", "dev", TDM_PERM_CONFIGURE, "q"), 0);
	struct tdm_perm_info pi;
	ck_assert_int_eq(tdm_auth_get_permissions(a, "bob", "/", 1, &pi), 1);
	ck_assert_str_eq(pi.configure, "^amq\\.default$");
	ck_assert_str_eq(pi.read, "x");
	ck_assert_int_eq(tdm_auth_clear_permissions(a, "bob", "dev"), 1);
	ck_assert_int_eq(tdm_auth_vhost_allowed(a, "bob", "dev", 3), 0);
	ck_assert_int_eq(tdm_auth_get_permissions(a, "bob", "dev", 3, &pi), 0);
	ck_assert_int_eq(tdm_auth_set_permissions(a, "nobody", "/", "", "", "", err, sizeof(err)),
			 TDM_AUTH_E_NOUSER);
	tdm_auth_free(a);
}
END_TEST

/* Patterns regcomp refuses, and escapes POSIX reads otherwise than PCRE,
 * are refused with the pattern named; nothing changes. */
START_TEST(test_auth_invalid_regex)
{
	static const char *const bad[] = { "(", "[a", "*a", "(?=x)", "\\d+", "x\\", NULL };
	struct tdm_auth *a = auth_from(NULL);
	char err[256];

	for (int i = 0; bad[i]; i++) {
		err[0] = '\0';
		ck_assert_int_eq(tdm_auth_set_permissions(a, "guest", "/", ".*", bad[i], ".*", err,
							  sizeof(err)),
				 TDM_AUTH_E_REGEX);
		ck_assert_msg(strstr(err, bad[i]) && strstr(err, "is invalid"), "%s: %s", bad[i],
			      err);
		ck_assert_int_eq(tdm_auth_set_topic_permissions(a, "guest", "/", "amq.topic",
								bad[i], ".*", err, sizeof(err)),
				 TDM_AUTH_E_REGEX);
	}
	/* still the every-vhost ".*" entry, and no topic permission */
	struct tdm_perm_info pi;
	ck_assert_int_eq(tdm_auth_get_permissions(a, "guest", "/", 1, &pi), 1);
	ck_assert_ptr_null(pi.vhost);
	ck_assert_str_eq(pi.write, ".*");
	ck_assert_int_eq(tdm_auth_topic_permitted(a, "guest", "/", "amq.topic", TDM_PERM_WRITE, "x",
						  1),
			 1);
	/* what POSIX and PCRE read alike is accepted */
	ck_assert_int_eq(tdm_auth_set_permissions(a, "guest", "/", "^\\w+\\.x$", "a\\.b|[0-9]+",
						  "(ab)\\1", err, sizeof(err)),
			 0);
	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_CONFIGURE, "a_1.x"), 1);
	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_CONFIGURE, "a-1.x"), 0);
	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_WRITE, "aXb"), 0);
	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_WRITE, "q7"), 1);
	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_READ, "abab"), 1);
	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_READ, "abba"), 0);
	/* a '{' that starts no interval is a plain character, as in PCRE */
	ck_assert_int_eq(tdm_auth_set_permissions(a, "guest", "/", "^{x}$", "a{1", "^a{2}[{]$", err,
						  sizeof(err)),
			 0);
	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_CONFIGURE, "{x}"), 1);
	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_WRITE, "xa{1"), 1);
	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_WRITE, "a"), 0);
	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_READ, "aa{"), 1);
	tdm_auth_free(a);
}
END_TEST

static void count_topic(const struct tdm_topic_perm_info *t, void *ctx)
{
	(void)t;
	(*(int *)ctx)++;
}

/* Topic permissions: none for an exchange = allowed; {username} and
 * {vhost} expanded; write and read apart. */
START_TEST(test_auth_topic_permissions)
{
	static const char *const kv[] = { "users.bob.password", "pw", "users.bob.vhosts", "/,dev",
					  NULL };
	struct tdm_auth *a = auth_from(kv);
	char err[256];
	int n = 0;

	ck_assert_int_eq(tdm_auth_topic_permitted(a, "bob", "/", "amq.topic", TDM_PERM_WRITE, "any",
						  3),
			 1);
	ck_assert_int_eq(tdm_auth_set_topic_permissions(a, "bob", "/", "amq.topic",
							"^{username}\\.", "^{vhost}-{username}$",
							err, sizeof(err)),
			 0);
	ck_assert_int_eq(tdm_auth_topic_permitted(a, "bob", "/", "amq.topic", TDM_PERM_WRITE,
						  "bob.x", 5),
			 1);
	ck_assert_int_eq(tdm_auth_topic_permitted(a, "bob", "/", "amq.topic", TDM_PERM_WRITE,
						  "eve.x", 5),
			 0);
	ck_assert_int_eq(tdm_auth_topic_permitted(a, "bob", "/", "amq.topic", TDM_PERM_READ,
						  "bob.x", 5),
			 0);
	ck_assert_int_eq(tdm_auth_topic_permitted(a, "bob", "/", "amq.topic", TDM_PERM_READ,
						  "/-bob", 5),
			 1);
	/* other exchanges and vhosts: no entry, allowed */
	ck_assert_int_eq(tdm_auth_topic_permitted(a, "bob", "/", "t2", TDM_PERM_WRITE, "eve", 3),
			 1);
	ck_assert_int_eq(tdm_auth_topic_permitted(a, "bob", "dev", "amq.topic", TDM_PERM_WRITE,
						  "eve", 3),
			 1);
	ck_assert_int_eq(tdm_auth_topic_permitted(a, "nobody", "/", "t2", TDM_PERM_WRITE, "e", 1),
			 0);
	/* "" = nothing */
	ck_assert_int_eq(tdm_auth_set_topic_permissions(a, "bob", "dev", "t2", "", "x", err,
							sizeof(err)),
			 0);
	ck_assert_int_eq(tdm_auth_topic_permitted(a, "bob", "dev", "t2", TDM_PERM_WRITE, "a", 1),
			 0);
	tdm_auth_foreach_topic_permission(a, "bob", count_topic, &n);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(tdm_auth_clear_topic_permissions(a, "bob", "/", NULL), 1);
	ck_assert_int_eq(tdm_auth_topic_permitted(a, "bob", "/", "amq.topic", TDM_PERM_WRITE,
						  "eve.x", 5),
			 1);
	tdm_auth_free(a);
}
END_TEST

/* rabbitmq.conf's default_permissions.* apply to the default user. */
START_TEST(test_auth_default_permissions)
{
	static const char *const kv[] = { "default_permissions.configure",
					  "^guest-",
					  "default_permissions.write",
					  "",
					  "default_permissions.read",
					  ".*",
					  NULL };
	static const char *const bad[] = { "default_permissions.read", "(", NULL };
	struct tdm_auth *a = auth_from(kv);
	struct tdm_config c;
	char err[256] = "";

	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_CONFIGURE, "guest-q"), 1);
	ck_assert_int_eq(perm(a, "guest", "/", TDM_PERM_CONFIGURE, "q"), 0);
	ck_assert_int_eq(perm(a, "guest", "any", TDM_PERM_WRITE, "q"), 0);
	ck_assert_int_eq(perm(a, "guest", "any", TDM_PERM_READ, "q"), 1);
	tdm_auth_free(a);
	conf(&c, bad);
	ck_assert_ptr_null(tdm_auth_new(&c, err, sizeof(err)));
	ck_assert_msg(strstr(err, "default_permissions") != NULL, "%s", err);
	tdm_config_free(&c);
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *t = tcase_create("sha256");

	tcase_add_test(t, sha256_fips_vectors);
	tcase_add_test(t, sha256_million_a);
	tcase_add_test(t, sha256_padding_boundaries);
	tcase_add_test(t, hash_rabbitmq_vectors);
	suite_add_tcase(s, t);

	t = tcase_create("users");
	tcase_add_test(t, exported_hashes_log_in);
	tcase_add_test(t, passwords_good_and_bad);
	tcase_add_test(t, add_user_replaces);
	tcase_add_test(t, loopback_restriction);
	tcase_add_test(t, vhost_permissions);
	tcase_add_test(t, test_auth_grant_names_whole);
	tcase_add_test(t, config_users);
	tcase_add_test(t, config_user_errors);
	suite_add_tcase(s, t);

	t = tcase_create("permissions");
	tcase_add_test(t, test_auth_regex_permissions);
	tcase_add_test(t, test_auth_invalid_regex);
	tcase_add_test(t, test_auth_topic_permissions);
	tcase_add_test(t, test_auth_default_permissions);
	tcase_add_test(t, test_auth_cluster_link);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
