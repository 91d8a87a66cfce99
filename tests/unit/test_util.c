/*
 * Unit tests for src/util: base64 against RFC 4648's vectors and in round
 * trips, hex, SipHash-2-4 against the reference vector, and the seeded
 * hash map (insert, replace, delete, iterate, grow; the seed decides the
 * layout, so two maps keyed differently order the same keys differently).
 *
 * Must not depend on: anything but src/util (only its folder is on the
 * include path).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "errf.h"
#include "hex.h"
#include "map.h"
#include "siphash.h"

/* RFC 4648 section 10. */
static const char *const rfc_plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
static const char *const rfc_b64[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

START_TEST(test_b64_rfc4648_vectors)
{
	for (size_t i = 0; i < sizeof(rfc_plain) / sizeof(rfc_plain[0]); i++) {
		char enc[32];
		unsigned char dec[32];
		size_t n = strlen(rfc_plain[i]);
		ck_assert_uint_eq(tu_b64_encode(rfc_plain[i], n, enc), strlen(rfc_b64[i]));
		ck_assert_str_eq(enc, rfc_b64[i]);
		ck_assert_uint_eq(strlen(enc), TU_B64_LEN(n));
		ck_assert_int_eq(tu_b64_decode(rfc_b64[i], strlen(rfc_b64[i]), dec), (long)n);
		ck_assert(memcmp(dec, rfc_plain[i], n) == 0);
	}
}
END_TEST

START_TEST(test_b64_round_trips_and_rejects)
{
	unsigned char in[300], dec[300];
	char enc[TU_B64_LEN(300) + 1];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t len = tu_b64_encode(in, n, enc);
		ck_assert_int_eq(tu_b64_decode(enc, len, dec), (long)n);
		ck_assert(memcmp(in, dec, n) == 0);
		/* in place, as the HTTP API decodes a payload */
		ck_assert_int_eq(tu_b64_decode(enc, len, enc), (long)n);
		ck_assert(memcmp(in, enc, n) == 0);
	}
	ck_assert_int_eq(tu_b64_decode("Zg=", 3, dec), -1);      /* not a multiple of 4 */
	ck_assert_int_eq(tu_b64_decode("Z===", 4, dec), -1);     /* padding too early */
	ck_assert_int_eq(tu_b64_decode("Zg==Zg==", 8, dec), -1); /* padding inside */
	ck_assert_int_eq(tu_b64_decode("!!!!", 4, dec), -1);
	ck_assert_int_eq(tu_b64_decode("Zm9-", 4, dec), -1);     /* URL-safe char in standard */
}
END_TEST

START_TEST(test_b64url_no_padding)
{
	char enc[32];
	const unsigned char b[] = { 0xfb, 0xff, 0xbf };
	ck_assert_uint_eq(tu_b64url_encode(b, 3, enc), 4);
	ck_assert_str_eq(enc, "-_-_");
	ck_assert_uint_eq(tu_b64_encode(b, 3, enc), 4);
	ck_assert_str_eq(enc, "+/+/");
	ck_assert_uint_eq(tu_b64url_encode("f", 1, enc), 2);
	ck_assert_str_eq(enc, "Zg");
	unsigned char r[16] = { 0 };
	ck_assert_uint_eq(tu_b64url_encode(r, 16, enc), 22); /* amq.gen- names */
	/* decoding: the inverse, for every length; other alphabets refused */
	unsigned char in[16], out[18];
	for (size_t n = 0; n <= sizeof(in); n++) {
		for (size_t i = 0; i < n; i++)
			in[i] = (unsigned char)(0xf7 * (i + 1) + n);
		size_t len = tu_b64url_encode(in, n, enc);
		ck_assert_int_eq(tu_b64url_decode(enc, len, out), (long)n);
		ck_assert(memcmp(in, out, n) == 0);
	}
	ck_assert_int_eq(tu_b64url_decode("-_-_", 4, out), 3);
	ck_assert(memcmp(out, b, 3) == 0);
	ck_assert_int_eq(tu_b64url_decode("+/+/", 4, out), -1); /* standard alphabet */
	ck_assert_int_eq(tu_b64url_decode("Zg==", 4, out), -1);  /* padded */
	ck_assert_int_eq(tu_b64url_decode("Zm9vY", 5, out), -1); /* 5 characters: no length */
}
END_TEST

START_TEST(test_hex)
{
	char out[16];
	const unsigned char b[] = { 0x00, 0x9f, 0xa5, 0xff };
	ck_assert_uint_eq(tu_hex_encode(b, 4, out), 8);
	ck_assert_str_eq(out, "009fa5ff");
	ck_assert_int_eq(tu_hex_digit(0x1a), 'a');
	ck_assert_int_eq(tu_hex_upper(0x1a), 'A');
	ck_assert_int_eq(tu_hex_value('F'), 15);
	ck_assert_int_eq(tu_hex_value('a'), 10);
	ck_assert_int_eq(tu_hex_value('9'), 9);
	ck_assert_int_eq(tu_hex_value('g'), -1);
}
END_TEST

START_TEST(test_errf)
{
	char e[8];
	tu_errf(e, sizeof(e), "%s=%d", "abcdef", 42);
	ck_assert_str_eq(e, "abcdef=");
	tu_errf(NULL, 0, "%d", 1); /* no buffer: nothing */
}
END_TEST

/* The reference vector of the SipHash paper: key 00..0f, message 00..0e. */
START_TEST(test_siphash_reference)
{
	unsigned char k[16], m[15];
	for (int i = 0; i < 16; i++)
		k[i] = (unsigned char)i;
	for (int i = 0; i < 15; i++)
		m[i] = (unsigned char)i;
	uint64_t key[2] = { 0, 0 };
	for (int i = 0; i < 8; i++) {
		key[0] |= (uint64_t)k[i] << (8 * i);
		key[1] |= (uint64_t)k[8 + i] << (8 * i);
	}
	ck_assert_uint_eq(tu_siphash(key, m, sizeof(m)), UINT64_C(0xa129ca6149be45e5));
	struct tu_sip s;
	tu_sip_init(&s, key);
	tu_sip_update(&s, m, 3);
	tu_sip_update(&s, m + 3, 12); /* incremental equals one-shot */
	ck_assert_uint_eq(tu_sip_final(&s), UINT64_C(0xa129ca6149be45e5));
}
END_TEST

START_TEST(test_map_insert_delete_iterate_grow)
{
	struct tu_map m;
	char key[32];
	static int vals[1000];
	void *old;
	tu_map_init(&m);
	ck_assert_ptr_null(tu_map_get(&m, "x", 1));
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(key, sizeof(key), "queue.%d", i);
		ck_assert_int_eq(tu_map_put(&m, key, (size_t)n, &vals[i], &old), 0);
		ck_assert_ptr_null(old);
	}
	ck_assert_uint_eq(m.count, 1000);
	ck_assert_uint_ge(m.cap, 1024); /* grew, staying under 70% */
	ck_assert_int_eq(tu_map_put(&m, "queue.7", 7, &vals[8], &old), 0); /* replace */
	ck_assert_ptr_eq(old, &vals[7]);
	ck_assert_ptr_eq(tu_map_get(&m, "queue.7", 7), &vals[8]);
	ck_assert_uint_eq(m.count, 1000);
	for (int i = 0; i < 1000; i += 2) {
		int n = snprintf(key, sizeof(key), "queue.%d", i);
		ck_assert_ptr_eq(tu_map_del(&m, key, (size_t)n), &vals[i]);
	}
	ck_assert_ptr_null(tu_map_del(&m, "queue.0", 7));
	ck_assert_uint_eq(m.count, 500);
	/* keys with NUL bytes are keys like any other */
	ck_assert_int_eq(tu_map_put(&m, "a\0b", 3, &vals[0], NULL), 0);
	ck_assert_ptr_null(tu_map_get(&m, "a", 1));
	ck_assert_ptr_eq(tu_map_get(&m, "a\0b", 3), &vals[0]);
	ck_assert_ptr_eq(tu_map_del(&m, "a\0b", 3), &vals[0]);
	/* iteration sees each live key once, and may delete as it goes */
	size_t pos = 0, seen = 0;
	struct tu_map_entry *e;
	while ((e = tu_map_next(&m, &pos)) != NULL) {
		int i = atoi(e->key + 6);
		ck_assert_int_eq(i % 2, 1);
		ck_assert_ptr_eq(e->value, i == 7 ? &vals[8] : &vals[i]); /* 7 was replaced */
		ck_assert_uint_eq(strlen(e->key), e->key_len);
		seen++;
		if (i % 3 == 0) {
			void *v = e->value;
			ck_assert_ptr_eq(tu_map_del(&m, e->key, e->key_len), v);
		}
	}
	ck_assert_uint_eq(seen, 500);
	ck_assert_uint_eq(m.count, 500 - 167);
	tu_map_free(&m);
	ck_assert_uint_eq(m.count, 0);
	ck_assert_ptr_null(tu_map_get(&m, "queue.1", 7));
}
END_TEST

/* Slot order of keys 0..n-1 in a map keyed with seed. */
static void key_order(const uint64_t seed[2], int *order, int n)
{
	struct tu_map m;
	char key[16];
	tu_map_init_seeded(&m, seed);
	for (int i = 0; i < n; i++) {
		int kl = snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(tu_map_put(&m, key, (size_t)kl, NULL, NULL), 0);
	}
	size_t pos = 0;
	struct tu_map_entry *e;
	int k = 0;
	while ((e = tu_map_next(&m, &pos)) != NULL)
		order[k++] = atoi(e->key + 1);
	ck_assert_int_eq(k, n);
	tu_map_free(&m);
}

START_TEST(test_map_seed_decides_layout)
{
	enum { N = 64 };
	int a[N], b[N], c[N];
	const uint64_t s1[2] = { 1, 2 }, s2[2] = { 3, 4 };
	key_order(s1, a, N);
	key_order(s1, b, N);
	key_order(s2, c, N);
	ck_assert(memcmp(a, b, sizeof(a)) == 0); /* same seed: same layout */
	ck_assert(memcmp(a, c, sizeof(a)) != 0); /* another seed: another one */
	/* the map hashes with its seed: the stored hash is SipHash under it */
	struct tu_map m;
	tu_map_init_seeded(&m, s2);
	ck_assert_int_eq(tu_map_put(&m, "orders", 6, NULL, NULL), 0);
	size_t pos = 0;
	struct tu_map_entry *e = tu_map_next(&m, &pos);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->hash, tu_siphash(s2, "orders", 6));
	tu_map_free(&m);
	/* an unseeded map takes the process key, which is not all zeros */
	uint64_t ps[2];
	tu_hash_seed(ps);
	ck_assert(ps[0] || ps[1]);
	tu_map_init(&m);
	ck_assert_int_eq(tu_map_put(&m, "orders", 6, NULL, NULL), 0);
	pos = 0;
	e = tu_map_next(&m, &pos);
	ck_assert_uint_eq(e->hash, tu_siphash(ps, "orders", 6));
	ck_assert_uint_eq(e->hash, tu_hash_bytes("orders", 6));
	tu_map_free(&m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *t = tcase_create("util");
	tcase_add_test(t, test_b64_rfc4648_vectors);
	tcase_add_test(t, test_b64_round_trips_and_rejects);
	tcase_add_test(t, test_b64url_no_padding);
	tcase_add_test(t, test_hex);
	tcase_add_test(t, test_errf);
	tcase_add_test(t, test_siphash_reference);
	tcase_add_test(t, test_map_insert_delete_iterate_grow);
	tcase_add_test(t, test_map_seed_decides_layout);
	suite_add_tcase(s, t);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
