/*
 * tests/unit/test_logstore.c: Check suite for logstore/: CRC-32C against
 * published vectors (the check value, RFC 3720 B.4) and against a bitwise
 * reference on random data split at random points.
 *
 * Must not depend on src/ or libevent: it sees only logstore/.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

/* A passing ck_assert costs a write (Check records the last checkpoint), so
 * loops that check millions of things test first and report only failures. */
#define HOT_ASSERT(expr, ...) \
	do { \
		if (!(expr)) \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* One bit at a time, straight from the definition. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int b = 0; b < 8; b++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

START_TEST(test_crc32c_vectors)
{
	uint8_t buf[32];

	ck_assert_uint_eq(ls_crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(ls_crc32c(0, NULL, 0), 0);
	ck_assert_uint_eq(ls_crc32c(0, "a", 1), 0xC1D04330u);
	/* RFC 3720 appendix B.4 */
	memset(buf, 0, sizeof buf);
	ck_assert_uint_eq(ls_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof buf);
	ck_assert_uint_eq(ls_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	ck_assert_uint_eq(ls_crc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	ck_assert_uint_eq(ls_crc32c(0, buf, 32), 0x113FDB5Cu);
}
END_TEST

START_TEST(test_crc32c_incremental)
{
	enum { LEN = 4099 };
	static uint8_t data[LEN + 8];
	uint64_t x = 0x2545F4914F6CDD1DULL;

	for (size_t i = 0; i < sizeof data; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (uint8_t)x;
	}
	/* Every length and misalignment up to a few words, then long runs. */
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n < 80; n++)
			HOT_ASSERT(ls_crc32c(0, data + off, n) ==
					   crc32c_bitwise(data + off, n),
				   "off %zu len %zu", off, n);
	ck_assert_uint_eq(ls_crc32c(0, data, LEN), crc32c_bitwise(data, LEN));
	/* Pieces of any size chain to the one-shot value. */
	for (int trial = 0; trial < 200; trial++) {
		uint32_t c = 0;
		size_t pos = 0;

		while (pos < LEN) {
			size_t step;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			step = (size_t)(x % 97);
			if (step > LEN - pos)
				step = LEN - pos;
			c = ls_crc32c(c, data + pos, step);
			pos += step;
		}
		ck_assert_uint_eq(c, crc32c_bitwise(data, LEN));
	}
}
END_TEST

static Suite *ls_suite(void)
{
	Suite *s = suite_create("logstore");
	TCase *tc = tcase_create("crc32c");

	tcase_add_test(tc, test_crc32c_vectors);
	tcase_add_test(tc, test_crc32c_incremental);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ls_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
