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

Suite *tl_repl_suite(void)
{
	Suite *s = suite_create("logstore-repl");
	TCase *tc = tcase_create("repl");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_read_bounded_never_past_bound);
	suite_add_tcase(s, tc);
	return s;
}
