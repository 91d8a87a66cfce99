/* SCRAM (core/scram.c): RFC 7677's SCRAM-SHA-256 example exchange byte for
 * byte, a SCRAM-SHA-512 exchange against a client computed here with
 * libcrypto, wrong proofs, malformed messages, and the credentials core
 * keeps per user (core/auth.c). */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/config.h"
#include "core/scram.h"
#include "util/b64.h"

#define CNONCE "rOprNGfwEbeRWgbNEkqO"
#define SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define FIRST "n,,n=user,r=" CNONCE
#define SFIRST "r=" CNONCE SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define FINAL "c=biws,r=" CNONCE SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void rfc7677_cred(struct tdm_scram_cred *c)
{
	unsigned char salt[32];
	long n = tu_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt);

	ck_assert_int_eq(n, 16);
	ck_assert_int_eq(tdm_scram_derive(TDM_SCRAM_SHA256, "pencil", 6, salt, 16, 4096, c), 0);
}

START_TEST(test_scram_rfc7677_exchange)
{
	struct tdm_scram_cred c;
	char user[64], out[512];
	struct tdm_scram_server *s = tdm_scram_server_new(TDM_SCRAM_SHA256);

	rfc7677_cred(&c);
	ck_assert_int_eq(tdm_scram_server_start(s, FIRST, strlen(FIRST), user, sizeof(user)), 0);
	ck_assert_str_eq(user, "user");
	long n = tdm_scram_server_challenge(s, &c, SNONCE, out, sizeof(out));
	ck_assert_int_eq(n, (long)strlen(SFIRST));
	ck_assert(memcmp(out, SFIRST, (size_t)n) == 0);
	n = tdm_scram_server_finish(s, FINAL, strlen(FINAL), out, sizeof(out));
	ck_assert_int_eq(n, (long)strlen(SFINAL));
	ck_assert(memcmp(out, SFINAL, (size_t)n) == 0);
	tdm_scram_server_free(s);
}
END_TEST

START_TEST(test_scram_wrong_proof)
{
	struct tdm_scram_cred c;
	char user[64], out[512], bad[] = FINAL;
	struct tdm_scram_server *s = tdm_scram_server_new(TDM_SCRAM_SHA256);

	rfc7677_cred(&c);
	bad[strlen(bad) - 3] = 'A'; /* another proof */
	ck_assert_int_eq(tdm_scram_server_start(s, FIRST, strlen(FIRST), user, sizeof(user)), 0);
	ck_assert_int_gt(tdm_scram_server_challenge(s, &c, SNONCE, out, sizeof(out)), 0);
	ck_assert_int_eq(tdm_scram_server_finish(s, bad, strlen(bad), out, sizeof(out)), -2);
	tdm_scram_server_free(s);

	/* the same proof with a password "pencil2" credential */
	unsigned char salt[16] = { 0 };
	tu_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt);
	ck_assert_int_eq(tdm_scram_derive(TDM_SCRAM_SHA256, "pencil2", 7, salt, 16, 4096, &c), 0);
	s = tdm_scram_server_new(TDM_SCRAM_SHA256);
	ck_assert_int_eq(tdm_scram_server_start(s, FIRST, strlen(FIRST), user, sizeof(user)), 0);
	ck_assert_int_gt(tdm_scram_server_challenge(s, &c, SNONCE, out, sizeof(out)), 0);
	ck_assert_int_eq(tdm_scram_server_finish(s, FINAL, strlen(FINAL), out, sizeof(out)), -2);
	tdm_scram_server_free(s);
}
END_TEST

START_TEST(test_scram_malformed)
{
	static const char *const firsts[] = { "",
					      "n,,",
					      "p=tls-unique,,n=u,r=x",
					      "n,,n=,r=abc",
					      "n,,r=abc,n=u",
					      "n,,n=u,r=a,b",
					      "n,,n=a=2,r=x",
					      "n,,n=u,r=x,tokenauth=true",
					      "n,x,n=u,r=x",
					      "n" };
	char user[64];

	for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++) {
		struct tdm_scram_server *s = tdm_scram_server_new(TDM_SCRAM_SHA512);
		ck_assert_msg(tdm_scram_server_start(s, firsts[i], strlen(firsts[i]), user,
						     sizeof(user)) < 0,
			      "%s", firsts[i]);
		tdm_scram_server_free(s);
	}
	/* escapes */
	ck_assert_int_eq(tdm_scram_unescape_name("a=2Cb=3Dc", 9, user, sizeof(user)), 5);
	ck_assert_str_eq(user, "a,b=c");
	ck_assert_int_lt(tdm_scram_unescape_name("a=2", 3, user, sizeof(user)), 0);
	ck_assert_int_lt(tdm_scram_unescape_name("a=41", 4, user, sizeof(user)), 0);

	/* final: nonce must match, proof last, channel binding "biws" */
	static const char *const finals[] = {
		"c=biws,r=" CNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=eSws,r=" CNONCE SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=biws,r=" CNONCE SNONCE,
		"c=biws,r=" CNONCE SNONCE ",p=!!!!",
		"",
		"p=",
	};
	for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
		struct tdm_scram_cred c;
		char out[512];
		struct tdm_scram_server *s = tdm_scram_server_new(TDM_SCRAM_SHA256);

		rfc7677_cred(&c);
		ck_assert_int_eq(tdm_scram_server_start(s, FIRST, strlen(FIRST), user,
							sizeof(user)),
				 0);
		ck_assert_int_gt(tdm_scram_server_challenge(s, &c, SNONCE, out, sizeof(out)), 0);
		ck_assert_msg(tdm_scram_server_finish(s, finals[i], strlen(finals[i]), out,
						      sizeof(out)) == -1,
			      "%s", finals[i]);
		tdm_scram_server_free(s);
	}
}
END_TEST

/* A client of our own (RFC 5802 section 3) for SCRAM-SHA-512. */
static void client_final(const char *pw, const char *bare, const char *sfirst, char *out,
			 size_t cap)
{
	const char *r = strstr(sfirst, "r="), *sp = strstr(sfirst, ",s="),
		   *ip = strstr(sfirst, ",i=");
	unsigned char salt[64], salted[64], ck[64], sk[64], sig[64], proof[64];
	char b64salt[128], without[512], am[2048], p64[128];
	unsigned int l;
	long sl;

	memcpy(b64salt, sp + 3, (size_t)(ip - sp - 3));
	sl = tu_b64_decode(b64salt, (size_t)(ip - sp - 3), salt);
	ck_assert_int_gt(sl, 0);
	PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)sl, atoi(ip + 3), EVP_sha512(), 64,
			  salted);
	HMAC(EVP_sha512(), salted, 64, (const unsigned char *)"Client Key", 10, ck, &l);
	EVP_Digest(ck, 64, sk, NULL, EVP_sha512(), NULL);
	snprintf(without, sizeof(without), "c=biws,r=%.*s", (int)(sp - r - 2), r + 2);
	snprintf(am, sizeof(am), "%s,%s,%s", bare, sfirst, without);
	HMAC(EVP_sha512(), sk, 64, (const unsigned char *)am, strlen(am), sig, &l);
	for (int i = 0; i < 64; i++)
		proof[i] = ck[i] ^ sig[i];
	tu_b64_encode(proof, 64, p64);
	snprintf(out, cap, "%s,p=%s", without, p64);
}

START_TEST(test_scram_sha512_exchange)
{
	struct tdm_scram_cred c;
	char user[64], sfirst[512], fin[1024], out[512];
	const char *first = "n,,n=bob=2Cjr,r=abcdefghijklmnop";

	ck_assert_int_eq(tdm_scram_new_cred(TDM_SCRAM_SHA512, "hunter2", 7, &c), 0);
	ck_assert_uint_eq(c.iterations, 4096);
	ck_assert_uint_eq(c.salt_len, TDM_SCRAM_SALT_LEN);
	struct tdm_scram_server *s = tdm_scram_server_new(TDM_SCRAM_SHA512);
	ck_assert_int_eq(tdm_scram_server_start(s, first, strlen(first), user, sizeof(user)), 0);
	ck_assert_str_eq(user, "bob,jr");
	long n = tdm_scram_server_challenge(s, &c, NULL, sfirst, sizeof(sfirst) - 1);
	ck_assert_int_gt(n, 0);
	sfirst[n] = '\0';
	ck_assert(strncmp(sfirst, "r=abcdefghijklmnop", 18) == 0 && sfirst[18] != ',');
	client_final("hunter2", first + 3, sfirst, fin, sizeof(fin));
	n = tdm_scram_server_finish(s, fin, strlen(fin), out, sizeof(out));
	ck_assert_int_eq(n, 2 + 88);
	tdm_scram_server_free(s);
}
END_TEST

/* Credentials follow the password: derived on add and put with a password,
 * kept on an update without one, absent for a hash-only user. */
START_TEST(test_scram_user_credentials)
{
	struct tdm_config cfg;
	char err[256];
	struct tdm_scram_cred c, c2;
	int created;

	ck_assert_int_eq(tdm_config_init(&cfg), 0);
	struct tdm_auth *a = tdm_auth_new(&cfg, err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(tdm_auth_add_user(a, "u1", "pw", NULL, NULL), 0);
	ck_assert_int_eq(tdm_auth_scram_cred(a, "u1", TDM_SCRAM_SHA256, &c), 0);
	ck_assert_uint_ge(c.iterations, 4096);
	ck_assert_int_eq(tdm_auth_put_user(a, "u1", NULL, NULL, "management", &created), 0);
	ck_assert_int_eq(tdm_auth_scram_cred(a, "u1", TDM_SCRAM_SHA256, &c2), 0);
	ck_assert(memcmp(&c, &c2, sizeof(c)) == 0);
	ck_assert_int_eq(tdm_auth_put_user(a, "u1", NULL,
					   "AQIDBJb8eJT7iB2DTryz9B6wf3joJ7slTFkc8nFaMo7QNP5I", NULL,
					   &created),
			 0);
	ck_assert_int_eq(tdm_auth_scram_cred(a, "u1", TDM_SCRAM_SHA512, &c2), -2);
	ck_assert_int_eq(tdm_auth_put_user(a, "u2", "pw2", NULL, NULL, &created), 0);
	ck_assert_int_eq(tdm_auth_scram_cred(a, "u2", TDM_SCRAM_SHA512, &c2), 0);
	ck_assert_int_eq(tdm_auth_scram_cred(a, "nobody", TDM_SCRAM_SHA512, &c2), -1);
	/* restoring the journal's record of the same password keeps them */
	char hash[49];
	const char *tags, *vhosts;
	ck_assert_int_eq(tdm_auth_user_record(a, "u2", hash, &tags, &vhosts), 0);
	ck_assert_int_eq(tdm_auth_restore_user(a, "u2", hash, "", "/", 0), 0);
	ck_assert_int_eq(tdm_auth_scram_cred(a, "u2", TDM_SCRAM_SHA512, &c2), 0);
	ck_assert_int_eq(tdm_auth_restore_user(a, "u2",
					       "AQIDBJb8eJT7iB2DTryz9B6wf3joJ7slTFkc8nFaMo7QNP5I",
					       "", "/", 0),
			 0);
	ck_assert_int_eq(tdm_auth_scram_cred(a, "u2", TDM_SCRAM_SHA512, &c2), -2);
	tdm_auth_free(a);
	tdm_config_free(&cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scram");
	TCase *tc = tcase_create("scram");
	int failed;

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_scram_rfc7677_exchange);
	tcase_add_test(tc, test_scram_wrong_proof);
	tcase_add_test(tc, test_scram_malformed);
	tcase_add_test(tc, test_scram_sha512_exchange);
	tcase_add_test(tc, test_scram_user_credentials);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
