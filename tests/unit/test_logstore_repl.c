/*
 * tests/unit/test_logstore_repl.c: logstore suite, what replication needs
 * from the log: reads bounded by the high watermark, leader epochs (the
 * checkpoint file, endOffsetFor, the epoch stamped into appended batches),
 * replica appends, truncation, the high-watermark checkpoint.
 *
 * Must not depend on src/ or libevent: it sees only logstore/.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_logstore.h"

static uint64_t rnd_state = 0x2545F4914F6CDD1DULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* The batches of a read: every one whole, each last offset below limit;
 * returns the last offset + 1 of the range (first_offset when empty). */
static uint64_t check_range(const struct ls_read_result *r, uint64_t limit, unsigned char *buf)
{
	struct ls_batch_info info;
	uint64_t next = r->first_offset;
	size_t pos = 0;

	HOT_ASSERT(ls_read_copy(r, buf) == LS_OK, "copy");
	while (pos < r->len) {
		HOT_ASSERT(ls_batch_parse(buf + pos, r->len - pos, &info) == LS_OK, "batch at %zu",
			   pos);
		next = info.base_offset + (uint64_t)info.last_offset_delta + 1;
		HOT_ASSERT(next <= limit, "batch %" PRIu64 "..%" PRIu64 " reaches the bound %" PRIu64,
			   info.base_offset, next - 1, limit);
		pos += info.size;
	}
	HOT_ASSERT(pos == r->len, "partial batch");
	return next;
}

/* Batch boundaries of p: bounds[i] = base offset of batch i; returns n. */
static size_t batch_bases(struct ls_partition *p, uint64_t *bounds, size_t max)
{
	unsigned char *buf = malloc(1 << 20);
	uint64_t off = ls_log_start(p);
	size_t n = 0;

	while (off < ls_log_end(p)) {
		struct ls_read_result r;
		struct ls_batch_info info;
		size_t pos = 0;

		ck_assert_int_eq(ls_read(p, off, 1 << 20, &r), LS_OK);
		ck_assert_int_eq(ls_read_copy(&r, buf), LS_OK);
		while (pos < r.len) {
			ck_assert_int_eq(ls_batch_parse(buf + pos, r.len - pos, &info), LS_OK);
			if (n < max)
				bounds[n++] = info.base_offset;
			pos += info.size;
		}
		off = r.next_offset;
		ls_read_release(&r);
	}
	free(buf);
	return n;
}

START_TEST(test_read_bounded_never_past_bound)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "2000" },
					    { "index.interval.bytes", "150" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 2);
	unsigned char *buf = malloc(1 << 20);
	uint64_t bases[512], end;
	size_t nb;

	for (int i = 0; i < 120; i++)
		tl_append(p, 1 + (size_t)(rnd() % 6), 0);
	end = ls_log_end(p);
	nb = batch_bases(p, bases, 512);
	ck_assert_uint_eq(nb, 120);
	ck_assert_uint_gt(ls_partition_segments(p), 5);
	for (uint64_t limit = 0; limit <= end + 1; limit++) {
		for (uint64_t off = 0; off <= end; off++) {
			struct ls_read_result r;
			size_t max = (size_t)(rnd() % 4000);
			uint64_t next;
			int rc = ls_read_bounded(p, off, max, limit, &r);

			HOT_ASSERT(rc == LS_OK, "read %" PRIu64 " bound %" PRIu64, off, limit);
			HOT_ASSERT(r.high_watermark == (limit < end ? limit : end), "hw");
			next = check_range(&r, limit, buf);
			if (off >= limit || off == end) {
				HOT_ASSERT(r.len == 0 && r.next_offset == off,
					   "read %" PRIu64 " at/past bound %" PRIu64, off, limit);
			} else {
				/* the batch holding off: served iff it ends below limit */
				size_t b = 0;
				uint64_t last;

				while (b + 1 < nb && bases[b + 1] <= off)
					b++;
				last = (b + 1 < nb ? bases[b + 1] : end) - 1;
				if (last < limit) {
					HOT_ASSERT(r.len > 0 && r.first_offset == bases[b],
						   "read %" PRIu64 " bound %" PRIu64 " empty", off, limit);
					HOT_ASSERT(r.next_offset == next, "next_offset");
				} else {
					HOT_ASSERT(r.len == 0 && r.next_offset == off,
						   "read %" PRIu64 " bound %" PRIu64 " not empty", off,
						   limit);
				}
			}
			ls_read_release(&r);
		}
	}
	/* the log's own bounds still apply */
	{
		struct ls_read_result r;

		ck_assert_int_eq(ls_read_bounded(p, end + 1, 100, end, &r),
				 LS_ERR_OFFSET_OUT_OF_RANGE);
	}
	free(buf);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_hw_checkpoint_survives_reopen)
{
	char *dir = tl_mkdtemp(), path[512];
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "h", 2, NULL, 0), *q = tl_part(s, "h", 1);
	FILE *f;

	tl_append(p, 10, 0);
	tl_append(q, 4, 0);
	ck_assert_uint_eq(ls_partition_high_watermark(p), 0);
	/* never set: no file, as before replication existed */
	ck_assert_int_eq(ls_checkpoint(s), LS_OK);
	ck_assert_int_eq(tl_file_size(tl_path(path, sizeof path, dir,
					      "replication-offset-checkpoint")), -1);
	ls_partition_set_high_watermark(p, 7);
	ck_assert_uint_eq(ls_partition_high_watermark(p), 7);
	ls_partition_set_high_watermark(q, 100); /* above the log end: the log end */
	ck_assert_uint_eq(ls_partition_high_watermark(q), 4);
	ck_assert_int_eq(ls_close(s), LS_OK);
	ck_assert_int_gt(tl_file_size(path), 0);

	s = tl_open(dir);
	p = tl_part(s, "h", 0);
	q = tl_part(s, "h", 1);
	ck_assert_uint_eq(ls_partition_high_watermark(p), 7);
	ck_assert_uint_eq(ls_partition_high_watermark(q), 4);
	/* the periodic checkpoint writes it too (not only ls_close) */
	ls_partition_set_high_watermark(p, 9);
	ck_assert_int_eq(ls_checkpoint(s), LS_OK);
	{
		char *copy = tl_mkdtemp(), cmd[1200];
		struct ls_store *s2;

		/* a copy of the directory as a crash would leave it */
		snprintf(cmd, sizeof cmd, "cp -a %s/. %s/ && rm -f %s/.lock", dir, copy, copy);
		ck_assert_int_eq(system(cmd), 0);
		s2 = tl_open(copy);
		ck_assert_uint_eq(ls_partition_high_watermark(tl_part(s2, "h", 0)), 9);
		ck_assert_int_eq(ls_close(s2), LS_OK);
		tl_rmdir(copy);
	}
	ck_assert_int_eq(ls_close(s), LS_OK);

	/* a checkpointed value above the log end (a log cut at recovery)
	 * opens as the log end */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "1\nh-0 500\nh-1 3\n");
	fclose(f);
	s = tl_open(dir);
	ck_assert_uint_eq(ls_partition_high_watermark(tl_part(s, "h", 0)), 10);
	ck_assert_uint_eq(ls_partition_high_watermark(tl_part(s, "h", 1)), 3);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

Suite *tl_repl_suite(void)
{
	Suite *s = suite_create("logstore-repl");
	TCase *tc = tcase_create("repl");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_read_bounded_never_past_bound);
	tcase_add_test(tc, test_hw_checkpoint_survives_reopen);
	suite_add_tcase(s, tc);
	return s;
}
