/*
 * tests/unit/test_logstore_recovery.c: logstore suite, crash recovery: a
 * log cut at every byte of its last batch, a flipped bit in the active and
 * in an older segment, lost and damaged index files.
 *
 * Must not depend on src/ or libevent: it sees only logstore/.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_logstore.h"

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const unsigned char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void crash(const char *dir)
{
	char path[512];

	unlink(tl_path(path, sizeof path, dir, ".clean_shutdown"));
}

static uint64_t batch_pos(struct ls_partition *p, uint64_t offset)
{
	struct ls_read_result r;
	uint64_t pos;

	ck_assert_int_eq(ls_read(p, offset, 1, &r), LS_OK);
	pos = r.file_pos;
	ls_read_release(&r);
	return pos;
}

START_TEST(test_truncate_every_byte)
{
	char *dir = tl_mkdtemp(), log[512];
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	unsigned char *full;
	uint64_t last;
	size_t len;

	for (int i = 0; i < 20; i++)
		tl_append(p, 3, i % 2 ? 5 : 0);
	last = batch_pos(p, 57);
	ck_assert_int_eq(ls_close(s), LS_OK);
	full = slurp(tl_path(log, sizeof log, dir, "t-0/00000000000000000000.log"), &len);
	ck_assert_uint_gt(len, last + 61);
	for (size_t cut = (size_t)last; cut <= len; cut++) {
		uint64_t want = cut == len ? 60 : 57;

		spit(log, full, cut);
		crash(dir);
		s = tl_open(dir);
		p = tl_part(s, "t", 0);
		HOT_ASSERT(ls_log_end(p) == want, "cut %zu: end %" PRIu64, cut, ls_log_end(p));
		HOT_ASSERT(tl_file_size(log) == (long long)(cut == len ? len : last),
			   "cut %zu: file not truncated", cut);
		HOT_ASSERT(tl_read_all(p, 0, 1, NULL, 0) == want, "cut %zu: records", cut);
		tl_append(p, 1, 0);
		HOT_ASSERT(ls_log_end(p) == want + 1, "cut %zu: offsets continue", cut);
		HOT_ASSERT(ls_close(s) == LS_OK, "close");
	}
	free(full);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_flipped_bit_active)
{
	char *dir = tl_mkdtemp(), log[512];
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	unsigned char *full;
	uint64_t pos10;
	size_t len;

	for (int i = 0; i < 20; i++)
		tl_append(p, 3, 0);
	pos10 = batch_pos(p, 30);
	ck_assert_int_eq(ls_close(s), LS_OK);
	full = slurp(tl_path(log, sizeof log, dir, "t-0/00000000000000000000.log"), &len);
	/* a bit in a record value, in the batch length, in the magic byte */
	for (int where = 0; where < 3; where++) {
		size_t at = (size_t)pos10 + (where == 0 ? 70 : where == 1 ? 11 : 16);

		full[at] ^= 0x04;
		spit(log, full, len);
		full[at] ^= 0x04;
		crash(dir);
		s = tl_open(dir);
		p = tl_part(s, "t", 0);
		ck_assert_uint_eq(ls_log_end(p), 30);
		ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), 30);
		ck_assert_int_eq(ls_close(s), LS_OK);
		spit(log, full, len);
		crash(dir);
		s = tl_open(dir);
		ck_assert_uint_eq(ls_log_end(tl_part(s, "t", 0)), 60);
		ck_assert_int_eq(ls_close(s), LS_OK);
	}
	free(full);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_flipped_bit_old_segment)
{
	char *dir = tl_mkdtemp(), log[512], path[512];
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "600" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 1);
	unsigned char *full;
	size_t len, nseg;
	uint64_t pos;

	for (int i = 0; i < 40; i++)
		tl_append(p, 3, 0);
	nseg = ls_partition_segments(p);
	ck_assert_uint_gt(nseg, 4);
	pos = batch_pos(p, 6);
	ck_assert_int_eq(ls_close(s), LS_OK);
	/* a clean close checkpointed everything: a damaged old segment is
	 * trusted (as Kafka does), but the decoder still refuses it */
	full = slurp(tl_path(log, sizeof log, dir, "t-0/00000000000000000000.log"), &len);
	full[pos + 65] ^= 1;
	spit(log, full, len);
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_end(p), 120);
	{
		struct ls_read_result r;
		struct ls_decoder *d = ls_decoder_new(0);
		struct ls_record rec;
		unsigned char *buf;

		ck_assert_int_eq(ls_read(p, 6, 1, &r), LS_OK);
		buf = malloc(r.len);
		ck_assert_int_eq(ls_read_copy(&r, buf), LS_OK);
		ls_decoder_set(d, buf, r.len, 0);
		ck_assert_int_eq(ls_decoder_next(d, &rec, NULL), LS_ERR_CORRUPT);
		ls_read_release(&r);
		ls_decoder_free(d);
		free(buf);
	}
	ck_assert_int_eq(ls_close(s), LS_OK);
	/* unclean and no checkpoint: everything is validated, the damaged
	 * batch and all after it go */
	crash(dir);
	unlink(tl_path(path, sizeof path, dir, "recovery-point-offset-checkpoint"));
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_end(p), 6);
	ck_assert_uint_eq(ls_partition_segments(p), 1);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), 6);
	tl_append(p, 2, 0);
	ck_assert_uint_eq(ls_log_end(p), 8);
	ck_assert_int_eq(ls_close(s), LS_OK);
	free(full);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_index_rebuild)
{
	char *dir = tl_mkdtemp(), path[512];
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "2000" },
					    { "index.interval.bytes", "100" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 2);
	uint64_t n = 0;
	long long idx_size;

	for (int i = 0; i < 60; i++) {
		tl_append(p, 1 + (size_t)(i % 5), 0);
		n += 1 + (uint64_t)(i % 5);
	}
	ck_assert_uint_gt(ls_partition_segments(p), 2);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_path(path, sizeof path, dir, "t-0/00000000000000000000.index");
	idx_size = tl_file_size(path);
	ck_assert_int_gt(idx_size, 0);
	/* missing */
	unlink(path);
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), n);
	for (uint64_t off = 0; off < n; off++)
		HOT_ASSERT(tl_read_all(p, off, 1, NULL, 0) == n - off, "from %" PRIu64, off);
	ck_assert_int_eq(ls_close(s), LS_OK);
	ck_assert_int_eq(tl_file_size(path), idx_size); /* rewritten */
	/* garbage: entries pointing at the wrong place */
	{
		unsigned char junk[16] = { 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 10 };
		int fd = open(path, O_WRONLY | O_TRUNC);

		ck_assert_int_eq(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
		close(fd);
	}
	tl_path(path, sizeof path, dir, "t-0/00000000000000000000.timeindex");
	truncate(path, 5);
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	for (uint64_t off = 0; off < n; off++)
		HOT_ASSERT(tl_read_all(p, off, 1, NULL, 0) == n - off, "from %" PRIu64, off);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

Suite *tl_recovery_suite(void)
{
	Suite *s = suite_create("logstore-recovery");
	TCase *tc = tcase_create("recovery");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_truncate_every_byte);
	tcase_add_test(tc, test_flipped_bit_active);
	tcase_add_test(tc, test_flipped_bit_old_segment);
	tcase_add_test(tc, test_index_rebuild);
	suite_add_tcase(s, tc);
	return s;
}
