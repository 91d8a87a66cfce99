/*
 * tests/unit/test_logstore_repl.c: logstore suite, what replication needs
 * from the log: reads bounded by the high watermark, leader epochs (the
 * checkpoint file, endOffsetFor, the epoch stamped into appended batches),
 * replica appends, truncation, the high-watermark checkpoint.
 *
 * Must not depend on src/ or libevent: it sees only logstore/.
 */
#include <dirent.h>
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

/* Reads the whole file dir/rel into buf (NUL-terminated); its length. */
static size_t slurp(const char *dir, const char *rel, char *buf, size_t cap)
{
	char path[512];
	FILE *f = fopen(tl_path(path, sizeof path, dir, rel), "r");
	size_t n;

	ck_assert_msg(f != NULL, "open %s", path);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

static void check_epochs(struct ls_partition *p, const int32_t *want_e, const uint64_t *want_s,
			 size_t n)
{
	int32_t e[16];
	uint64_t st[16];

	ck_assert_uint_eq(ls_partition_epochs(p, e, st, 16), n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(e[i], want_e[i]);
		ck_assert_uint_eq(st[i], want_s[i]);
	}
}

START_TEST(test_epochs_persisted)
{
	char *dir = tl_mkdtemp(), text[256], path[512];
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "e", 1, NULL, 0);
	static const int32_t ep[] = { 0, 3 };
	static const uint64_t st[] = { 0, 5 };
	FILE *f;

	ck_assert_int_eq(ls_partition_latest_epoch(p), -1);
	/* no epoch yet: no file */
	ck_assert_int_eq(tl_file_size(tl_path(path, sizeof path, dir, "e-0/leader-epoch-checkpoint")),
			 -1);
	ck_assert_int_eq(ls_partition_assign_epoch(p, 0, 0), LS_OK);
	tl_append(p, 5, 0);
	ck_assert_int_eq(ls_partition_assign_epoch(p, 3, 5), LS_OK);
	ck_assert_int_eq(ls_partition_assign_epoch(p, 3, 7), LS_OK); /* same: no-op */
	ck_assert_int_eq(ls_partition_assign_epoch(p, 2, 9), LS_ERR_INVALID);
	ck_assert_int_eq(ls_partition_assign_epoch(p, 4, 4), LS_ERR_INVALID); /* start goes back */
	ck_assert_int_eq(ls_partition_assign_epoch(p, -1, 9), LS_ERR_INVALID);
	ck_assert_int_eq(ls_partition_latest_epoch(p), 3);
	check_epochs(p, ep, st, 2);
	/* Kafka's text format, on disk before the call returned */
	slurp(dir, "e-0/leader-epoch-checkpoint", text, sizeof text);
	ck_assert_str_eq(text, "0\n2\n0 0\n3 5\n");
	tl_append(p, 3, 0);
	ck_assert_int_eq(ls_close(s), LS_OK);

	/* a torn replacement (the temp file of an interrupted write) is
	 * ignored and removed; the real file is whole */
	f = fopen(tl_path(path, sizeof path, dir, "e-0/leader-epoch-checkpoint.tmp"), "w");
	ck_assert_ptr_nonnull(f);
	fputs("0\n3\n0 0\n3 5\n9", f);
	fclose(f);
	s = tl_open(dir);
	p = tl_part(s, "e", 0);
	ck_assert_int_eq(ls_partition_latest_epoch(p), 3);
	check_epochs(p, ep, st, 2);
	ck_assert_int_eq(tl_file_size(path), -1);

	/* an epoch starting at the log end (a leader that wrote nothing) goes
	 * at the next open, as Kafka's load truncates the cache to the log */
	ck_assert_int_eq(ls_partition_assign_epoch(p, 5, ls_log_end(p)), LS_OK);
	ck_assert_int_eq(ls_partition_latest_epoch(p), 5);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "e", 0);
	check_epochs(p, ep, st, 2);
	slurp(dir, "e-0/leader-epoch-checkpoint", text, sizeof text);
	ck_assert_str_eq(text, "0\n2\n0 0\n3 5\n");

	/* a malformed file: reported, the partition opens with no epochs */
	ck_assert_int_eq(ls_close(s), LS_OK);
	f = fopen(tl_path(path, sizeof path, dir, "e-0/leader-epoch-checkpoint"), "w");
	ck_assert_ptr_nonnull(f);
	fputs("0\n2\n0 0\n", f); /* says 2, holds 1 */
	fclose(f);
	s = tl_open(dir);
	p = tl_part(s, "e", 0);
	ck_assert_int_eq(ls_partition_latest_epoch(p), -1);
	ck_assert_uint_eq(ls_log_end(p), 8);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_epoch_end_offset_kafka_cases)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "e", 1, NULL, 0);
	static const struct {
		int32_t ask, epoch;
		int64_t end;
	} cases[] = {
		{ 6, 6, 40 },  /* the latest: the log end */
		{ 5, 3, 25 },  /* between: largest <= 5, next one's start */
		{ 4, 3, 25 },
		{ 3, 3, 25 },
		{ 2, 1, 10 },
		{ 1, 1, 10 },
		{ 0, 0, 0 },   /* below the first: the first's start */
		{ 7, -1, -1 }, /* above the latest */
		{ -1, -1, -1 },
	};
	int32_t e;
	int64_t end;

	ls_partition_epoch_end(p, 0, &e, &end); /* no epochs */
	ck_assert_int_eq(e, -1);
	ck_assert_int_eq(end, -1);
	ck_assert_int_eq(ls_partition_assign_epoch(p, 1, 0), LS_OK);
	tl_append(p, 10, 0);
	ck_assert_int_eq(ls_partition_assign_epoch(p, 3, 10), LS_OK);
	tl_append(p, 15, 0);
	ck_assert_int_eq(ls_partition_assign_epoch(p, 6, 25), LS_OK);
	tl_append(p, 15, 0);
	ck_assert_uint_eq(ls_log_end(p), 40);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ls_partition_epoch_end(p, cases[i].ask, &e, &end);
		ck_assert_msg(e == cases[i].epoch && end == cases[i].end,
			      "epoch %d: got (%d, %lld), want (%d, %lld)", cases[i].ask, e,
			      (long long)end, cases[i].epoch, (long long)cases[i].end);
	}
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* The first batch of p from offset `off`, copied into buf; its size. */
static size_t batch_at(struct ls_partition *p, uint64_t off, unsigned char *buf, size_t cap)
{
	struct ls_read_result r;
	struct ls_batch_info info;

	ck_assert_int_eq(ls_read(p, off, 1, &r), LS_OK);
	ck_assert_uint_le(r.len, cap);
	ck_assert_int_eq(ls_read_copy(&r, buf), LS_OK);
	ls_read_release(&r);
	ck_assert_int_eq(ls_batch_parse(buf, r.len, &info), LS_OK);
	ck_assert_uint_eq(info.size, r.len);
	return r.len;
}

static int32_t epoch_field(const unsigned char *b)
{
	return (int32_t)((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
}

START_TEST(test_append_stamps_leader_epoch)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv lat[] = { { "message.timestamp.type", "LogAppendTime" } };
	struct ls_partition *src = tl_topic(s, "src", 1, NULL, 0);
	struct ls_partition *p = tl_topic(s, "dst", 1, NULL, 0);
	struct ls_partition *q = tl_topic(s, "lat", 1, lat, 1);
	unsigned char prod[4096], got[4096];
	struct ls_batch_info info;
	size_t plen, glen;

	/* a producer's batch: one built here, its epoch field set to 42 as a
	 * client could (outside the CRC, so it stays valid) */
	tl_append(src, 3, 0);
	plen = batch_at(src, 0, prod, sizeof prod);
	ck_assert_int_eq(epoch_field(prod), -1);
	prod[12] = 0, prod[13] = 0, prod[14] = 0, prod[15] = 42;
	ck_assert_int_eq(ls_batch_validate(NULL, prod, plen, 0, &info), LS_OK);

	/* no epoch: the bytes as before */
	ck_assert_int_eq(ls_append_batch(p, prod, plen, NULL), LS_OK);
	glen = batch_at(p, 0, got, sizeof got);
	ck_assert_int_eq(epoch_field(got), 42);
	tl_append(p, 2, 0);
	batch_at(p, 3, got, sizeof got);
	ck_assert_int_eq(epoch_field(got), -1);

	/* with an epoch: stamped by both append paths, CRC still valid */
	ck_assert_int_eq(ls_partition_assign_epoch(p, 7, ls_log_end(p)), LS_OK);
	ck_assert_int_eq(ls_append_batch(p, prod, plen, NULL), LS_OK);
	glen = batch_at(p, 5, got, sizeof got);
	ck_assert_int_eq(epoch_field(got), 7);
	ck_assert_int_eq(ls_batch_validate(NULL, got, glen, 0, &info), LS_OK);
	ck_assert_int_eq(info.partition_leader_epoch, 7);
	ck_assert_int_eq(memcmp(got + 16, prod + 16, plen - 16), 0); /* the rest as sent */
	tl_append(p, 4, 0);
	glen = batch_at(p, 8, got, sizeof got);
	ck_assert_int_eq(epoch_field(got), 7);
	ck_assert_int_eq(ls_batch_validate(NULL, got, glen, 0, &info), LS_OK);
	ck_assert_uint_eq(tl_read_all(p, 8, 1, NULL, 0), 4);

	/* LogAppendTime rewrites the batch: the epoch too */
	ck_assert_int_eq(ls_partition_assign_epoch(q, 2, 0), LS_OK);
	ck_assert_int_eq(ls_append_batch(q, prod, plen, NULL), LS_OK);
	glen = batch_at(q, 0, got, sizeof got);
	ck_assert_int_eq(epoch_field(got), 2);
	ck_assert_int_eq(ls_batch_validate(NULL, got, glen, 0, &info), LS_OK);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* What a leader's Fetch would send from `off`: ls_read's range, copied;
 * *len its size.  Returns a malloc'ed buffer with `extra` spare bytes. */
static unsigned char *fetch(struct ls_partition *p, uint64_t off, size_t max, size_t extra,
			    size_t *len)
{
	struct ls_read_result r;
	unsigned char *buf;

	ck_assert_int_eq(ls_read(p, off, max, &r), LS_OK);
	buf = malloc(r.len + extra + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(ls_read_copy(&r, buf), LS_OK);
	*len = r.len;
	ls_read_release(&r);
	return buf;
}

/* Both logs hold the same batches, byte for byte, from `from`. */
static void same_log(struct ls_partition *a, struct ls_partition *b, uint64_t from)
{
	uint64_t off = from;

	ck_assert_uint_eq(ls_log_end(a), ls_log_end(b));
	while (off < ls_log_end(a)) {
		size_t la, lb;
		unsigned char *x = fetch(a, off, 1, 0, &la), *y = fetch(b, off, 1, 0, &lb);
		struct ls_batch_info info;

		ck_assert_uint_eq(la, lb);
		ck_assert_msg(memcmp(x, y, la) == 0, "batch at %" PRIu64 " differs", off);
		ck_assert_int_eq(ls_batch_parse(x, la, &info), LS_OK);
		off = info.base_offset + (uint64_t)info.last_offset_delta + 1;
		free(x);
		free(y);
	}
}

START_TEST(test_replica_append_keeps_offsets_and_epochs)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv lcfg[] = { { "segment.bytes", "1500" } };
	static const struct ls_kv fcfg[] = { { "segment.bytes", "700" },
					     { "index.interval.bytes", "100" } };
	struct ls_partition *l = tl_topic(s, "lead", 1, lcfg, 1);
	struct ls_partition *f = tl_topic(s, "fol", 1, fcfg, 1);
	static const int32_t ep[] = { 1, 4, 9 };
	uint64_t st[3];
	int32_t e[4];
	uint64_t est[4];
	int rounds = 0;

	ck_assert_int_eq(ls_partition_assign_epoch(l, 1, 0), LS_OK);
	st[0] = 0;
	for (int i = 0; i < 40; i++)
		tl_append(l, 1 + (size_t)(rnd() % 5), 0);
	st[1] = ls_log_end(l);
	ck_assert_int_eq(ls_partition_assign_epoch(l, 4, st[1]), LS_OK);
	for (int i = 0; i < 40; i++)
		tl_append(l, 1 + (size_t)(rnd() % 5), 0);
	st[2] = ls_log_end(l);
	ck_assert_int_eq(ls_partition_assign_epoch(l, 9, st[2]), LS_OK);
	for (int i = 0; i < 20; i++)
		tl_append(l, 1 + (size_t)(rnd() % 5), 0);

	/* the follower fetches with small, random sizes; each response may
	 * end in part of the next batch, which is left for the next fetch */
	while (ls_log_end(f) < ls_log_end(l)) {
		uint64_t at = ls_log_end(f);
		size_t len, whole, consumed = 99, tail;
		unsigned char *buf = fetch(l, at, (size_t)(rnd() % 900), 200, &whole);
		struct ls_append_result res;
		size_t more;

		len = whole;
		{
			/* a piece of what follows, as a Fetch cut short sends */
			unsigned char *next;

			if (ls_log_end(l) > at + 1 && (rnd() & 1)) {
				struct ls_read_result r;

				ck_assert_int_eq(ls_read(l, at, (size_t)whole + 1, &r), LS_OK);
				tail = r.len > whole ? r.len - whole : 0;
				/* 1 .. tail - 1 bytes: never the whole next batch */
				more = tail - 1 < 200 ? tail - 1 : 200;
				if (tail == 0)
					more = 0;
				else if (more > 0)
					more = 1 + (size_t)(rnd() % more);
				next = malloc(r.len);
				ck_assert_int_eq(ls_read_copy(&r, next), LS_OK);
				memcpy(buf + whole, next + whole, more);
				free(next);
				ls_read_release(&r);
				len += more;
			}
		}
		ck_assert_int_eq(ls_append_replica(f, buf, len, &consumed, &res), LS_OK);
		ck_assert_uint_eq(consumed, whole);
		ck_assert_uint_eq(res.base_offset, at);
		ck_assert_uint_eq(res.last_offset, ls_log_end(f) - 1);
		free(buf);
		rounds++;
	}
	ck_assert_int_gt(rounds, 20);
	ck_assert_uint_gt(ls_partition_segments(f), 5);
	same_log(l, f, 0);
	/* the epochs came from the batches' partitionLeaderEpoch */
	ck_assert_uint_eq(ls_partition_epochs(f, e, est, 4), 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(e[i], ep[i]);
		ck_assert_uint_eq(est[i], st[i]);
	}
	ck_assert_uint_eq(tl_read_all(f, 0, 1, NULL, 0), ls_log_end(l));
	/* and all of it after a reopen */
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	l = tl_part(s, "lead", 0);
	f = tl_part(s, "fol", 0);
	same_log(l, f, 0);
	ck_assert_int_eq(ls_partition_latest_epoch(f), 9);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_replica_append_refuses_and_stops)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *l = tl_topic(s, "lead", 1, NULL, 0);
	struct ls_partition *f = tl_topic(s, "fol", 1, NULL, 0);
	struct ls_read_result r;
	unsigned char *buf, *two;
	size_t len, consumed, b0, b1;
	struct ls_batch_info info;
	uint64_t bytes;

	tl_append(l, 3, 0); /* 0..2 */
	tl_append(l, 2, 0); /* 3..4 */
	tl_append(l, 4, 0); /* 5..8 */
	buf = fetch(l, 0, 1 << 20, 0, &len);
	ck_assert_int_eq(ls_batch_parse(buf, len, &info), LS_OK);
	b0 = info.size;
	ck_assert_int_eq(ls_batch_parse(buf + b0, len - b0, &info), LS_OK);
	b1 = info.size;

	/* nothing whole: nothing written */
	ck_assert_int_eq(ls_append_replica(f, buf, b0 - 1, &consumed, NULL), LS_OK);
	ck_assert_uint_eq(consumed, 0);
	ck_assert_int_eq(ls_append_replica(f, buf, 10, &consumed, NULL), LS_OK);
	ck_assert_uint_eq(consumed, 0);
	ck_assert_int_eq(ls_append_replica(f, buf, 0, &consumed, NULL), LS_OK);
	ck_assert_uint_eq(consumed, 0);
	ck_assert_uint_eq(ls_log_end(f), 0);
	/* a gap at the start (batch 3..4 on an empty log): refused */
	ck_assert_int_eq(ls_append_replica(f, buf + b0, len - b0, &consumed, NULL),
			 LS_ERR_OFFSET_OUT_OF_RANGE);
	ck_assert_uint_eq(consumed, 0);
	ck_assert_uint_eq(ls_log_end(f), 0);
	ck_assert_uint_eq(ls_partition_bytes(f), 0);
	/* a bad CRC in the second batch: nothing written, not even the first */
	two = malloc(len);
	memcpy(two, buf, len);
	two[b0 + b1 - 1] ^= 0x40;
	ck_assert_int_eq(ls_append_replica(f, two, len, &consumed, NULL), LS_ERR_CORRUPT);
	ck_assert_uint_eq(consumed, 0);
	ck_assert_uint_eq(ls_log_end(f), 0);
	/* bad magic */
	memcpy(two, buf, len);
	two[16] = 1;
	ck_assert_int_eq(ls_append_replica(f, two, len, &consumed, NULL), LS_ERR_INVALID_RECORD);
	ck_assert_uint_eq(ls_log_end(f), 0);
	/* the first batch, then an overlap (the same batch again): refused */
	ck_assert_int_eq(ls_append_replica(f, buf, b0, &consumed, NULL), LS_OK);
	ck_assert_uint_eq(consumed, b0);
	ck_assert_uint_eq(ls_log_end(f), 3);
	bytes = ls_partition_bytes(f);
	ck_assert_int_eq(ls_append_replica(f, buf, len, &consumed, NULL), LS_ERR_OFFSET_OUT_OF_RANGE);
	ck_assert_uint_eq(ls_log_end(f), 3);
	ck_assert_uint_eq(ls_partition_bytes(f), bytes);
	/* a failed write leaves the log as it was, and a retry goes through */
	ck_assert_int_eq(ls_fault_set(LS_FAULT_SHORT_WRITE, "fol", 1, 1), LS_OK);
	ck_assert_int_eq(ls_append_replica(f, buf + b0, len - b0, &consumed, NULL), LS_ERR_IO);
	ls_fault_clear();
	ck_assert_uint_eq(consumed, 0);
	ck_assert_uint_eq(ls_log_end(f), 3);
	ck_assert_int_eq(ls_partition_failed(f), 0);
	ck_assert_int_eq(ls_append_replica(f, buf + b0, len - b0, &consumed, NULL), LS_OK);
	ck_assert_uint_eq(consumed, len - b0);
	same_log(l, f, 0);

	/* gaps between batches (compaction's) are kept: the batch 5..8
	 * rebased to 12..15 follows 9..11 */
	tl_append(l, 3, 0); /* 9..11 */
	free(buf);
	buf = fetch(l, 9, 1 << 20, 0, &len);
	ck_assert_int_eq(ls_batch_parse(buf, len, &info), LS_OK);
	ck_assert_uint_eq(info.size, len);
	memcpy(two, buf, len); /* reuse: 9..11 then a copy of it rebased */
	ck_assert_int_eq(ls_read(l, 5, 1, &r), LS_OK);
	{
		unsigned char *g = malloc(len + r.len);

		memcpy(g, buf, len);
		ck_assert_int_eq(ls_read_copy(&r, g + len), LS_OK);
		for (int i = 0; i < 8; i++)
			g[len + (size_t)i] = (unsigned char)((uint64_t)12 >> (56 - 8 * i));
		ck_assert_int_eq(ls_append_replica(f, g, len + r.len, &consumed, NULL), LS_OK);
		ck_assert_uint_eq(consumed, len + r.len);
		free(g);
	}
	ls_read_release(&r);
	ck_assert_uint_eq(ls_log_end(f), 16);
	ck_assert_int_eq(ls_read(f, 12, 1, &r), LS_OK);
	ck_assert_uint_eq(r.first_offset, 12);
	ls_read_release(&r);
	free(buf);
	free(two);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* Number of .log files in dir/sub. */
static int count_logs(const char *dir, const char *sub)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(tl_path(path, sizeof path, dir, sub));
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		n += len > 4 && strcmp(de->d_name + len - 4, ".log") == 0;
	}
	closedir(d);
	return n;
}

/* Base offsets of p's batches: n of them into bases. */
static size_t bases_of(struct ls_partition *p, uint64_t *bases, size_t max)
{
	return batch_bases(p, bases, max);
}

/* The batch of `bases` holding off (its index). */
static size_t batch_holding(const uint64_t *bases, size_t n, uint64_t off)
{
	size_t b = 0;

	while (b + 1 < n && bases[b + 1] <= off)
		b++;
	return b;
}

/* Truncates p to off and checks what is left against the batches the log
 * had (bases, n, end): the log end is the base of the batch holding off,
 * every record below it reads back, appends continue from there. */
static void truncate_and_check(struct ls_partition *p, uint64_t off, const uint64_t *bases,
			       size_t n)
{
	uint64_t want = bases[batch_holding(bases, n, off)];

	ck_assert_int_eq(ls_partition_truncate(p, off), LS_OK);
	ck_assert_uint_eq(ls_log_end(p), want);
	ck_assert_uint_le(ls_flushed_offset(p), want);
	ck_assert_uint_le(ls_partition_high_watermark(p), want);
	ck_assert_uint_eq(tl_read_all(p, ls_log_start(p), 1, NULL, 0), want - ls_log_start(p));
	ck_assert_int_eq(ls_partition_failed(p), 0);
}

START_TEST(test_truncate_mid_segment_and_across)
{
	char *dir = tl_mkdtemp(), text[256];
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "1200" },
					    { "index.interval.bytes", "120" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 2);
	uint64_t bases[512], e3, e5, off, end;
	size_t n, segs;
	int32_t e;
	int64_t eo;

	ck_assert_int_eq(ls_partition_assign_epoch(p, 1, 0), LS_OK);
	for (int i = 0; i < 60; i++)
		tl_append(p, 1 + (size_t)(rnd() % 4), 0);
	e3 = ls_log_end(p);
	ck_assert_int_eq(ls_partition_assign_epoch(p, 3, e3), LS_OK);
	for (int i = 0; i < 60; i++)
		tl_append(p, 1 + (size_t)(rnd() % 4), 0);
	e5 = ls_log_end(p);
	ck_assert_int_eq(ls_partition_assign_epoch(p, 5, e5), LS_OK);
	for (int i = 0; i < 60; i++)
		tl_append(p, 1 + (size_t)(rnd() % 4), 0);
	ls_partition_set_high_watermark(p, ls_log_end(p));
	ck_assert_int_eq(ls_sync(p), LS_OK);
	end = ls_log_end(p);
	n = bases_of(p, bases, 512);
	segs = ls_partition_segments(p);
	ck_assert_uint_gt(segs, 8);
	ck_assert_int_eq(count_logs(dir, "t-0"), (int)segs);

	/* in the middle of the active segment: a batch boundary inside it */
	off = bases[n - 3] + 1 < end ? bases[n - 3] + 1 : bases[n - 3];
	truncate_and_check(p, off, bases, n);
	ck_assert_uint_eq(ls_partition_segments(p), segs);
	ck_assert_int_eq(ls_partition_latest_epoch(p), 5);
	/* at the log end or past it: nothing */
	end = ls_log_end(p);
	ck_assert_int_eq(ls_partition_truncate(p, end), LS_OK);
	ck_assert_int_eq(ls_partition_truncate(p, end + 100), LS_OK);
	ck_assert_uint_eq(ls_log_end(p), end);

	/* across segments: to the middle of the epoch-3 range; epoch 5 goes,
	 * later segments' files go */
	off = e3 + (e5 - e3) / 2;
	truncate_and_check(p, off, bases, n);
	ck_assert_uint_lt(ls_partition_segments(p), segs);
	ck_assert_int_eq(count_logs(dir, "t-0"), (int)ls_partition_segments(p));
	ck_assert_int_eq(ls_partition_latest_epoch(p), 3);
	ls_partition_epoch_end(p, 1, &e, &eo);
	ck_assert_int_eq(e, 1);
	ck_assert_int_eq(eo, (int64_t)e3);
	snprintf(text, sizeof text, "0\n2\n1 0\n3 %" PRIu64 "\n", e3);
	{
		char got[256];

		slurp(dir, "t-0/leader-epoch-checkpoint", got, sizeof got);
		ck_assert_str_eq(got, text);
	}
	/* exactly at an epoch's start: that epoch goes too */
	truncate_and_check(p, e3, bases, n);
	ck_assert_uint_eq(ls_log_end(p), e3);
	ck_assert_int_eq(ls_partition_latest_epoch(p), 1);

	/* appends go on from the new end, in the truncated segment and on */
	end = ls_log_end(p);
	ck_assert_int_eq(ls_partition_assign_epoch(p, 7, end), LS_OK);
	for (int i = 0; i < 30; i++)
		tl_append(p, 1 + (size_t)(rnd() % 4), 0);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), ls_log_end(p));
	end = ls_log_end(p);

	/* reopened clean, and as after a crash (a copy of the open store) */
	{
		char *copy = tl_mkdtemp(), cmd[1200];
		struct ls_store *s2;
		struct ls_partition *q;

		ck_assert_int_eq(ls_sync(p), LS_OK);
		snprintf(cmd, sizeof cmd, "cp -a %s/. %s/ && rm -f %s/.lock", dir, copy, copy);
		ck_assert_int_eq(system(cmd), 0);
		s2 = tl_open(copy);
		q = tl_part(s2, "t", 0);
		ck_assert_uint_eq(ls_log_end(q), end);
		ck_assert_uint_eq(tl_read_all(q, 0, 1, NULL, 0), end);
		ck_assert_int_eq(ls_partition_latest_epoch(q), 7);
		ck_assert_int_eq(ls_close(s2), LS_OK);
		tl_rmdir(copy);
	}
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_end(p), end);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), end);
	/* and truncated again after the reopen, then once more reopened */
	n = bases_of(p, bases, 512);
	truncate_and_check(p, bases[n / 2] + 1, bases, n);
	end = ls_log_end(p);
	tl_append(p, 3, 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_end(p), end + 3);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), end + 3);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* Kafka's DeleteRecords: the log start moves to any offset up to the log
 * end, whole segments below it go, reads below it are out of range, a
 * lookup by time never lands below it, and a reopen keeps it. */
START_TEST(test_set_log_start)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "600" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 1);
	struct ls_read_result r;
	uint64_t off;

	for (int i = 0; i < 40; i++)
		tl_append(p, 3, 0);
	size_t segs = ls_partition_segments(p);
	ck_assert_uint_gt(segs, 3);
	ck_assert_int_eq(ls_partition_set_log_start(p, 50), LS_OK);
	ck_assert_uint_eq(ls_log_start(p), 50);
	ck_assert_uint_lt(ls_partition_segments(p), segs);
	ck_assert_int_eq(ls_read(p, 49, 100, &r), LS_ERR_OFFSET_OUT_OF_RANGE);
	ck_assert_int_eq(ls_read(p, 50, 100, &r), LS_OK);
	ck_assert_uint_gt(r.len, 0);
	ls_read_release(&r);
	ck_assert_int_eq(ls_offset_for_time(p, 0, &off, NULL), LS_OK);
	ck_assert_uint_eq(off, 50);
	/* never back, never past the end */
	ck_assert_int_eq(ls_partition_set_log_start(p, 40), LS_OK);
	ck_assert_uint_eq(ls_log_start(p), 50);
	ck_assert_int_eq(ls_partition_set_log_start(p, 121), LS_ERR_OFFSET_OUT_OF_RANGE);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_start(p), 50);
	ck_assert_int_eq(ls_read(p, 49, 100, &r), LS_ERR_OFFSET_OUT_OF_RANGE);
	/* the whole log: start = end, appends go on from there */
	ck_assert_int_eq(ls_partition_set_log_start(p, 120), LS_OK);
	ck_assert_uint_eq(ls_log_start(p), 120);
	ck_assert_int_eq(ls_read(p, 120, 100, &r), LS_OK);
	ck_assert_uint_eq(r.len, 0);
	tl_append(p, 2, 0);
	ck_assert_uint_eq(ls_log_end(p), 122);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A log start that cannot be written down (the checkpoint's name taken by
 * a directory, as a full or broken disk would refuse it) is an error: the
 * caller does not answer success; once the disk takes it, it is kept. */
START_TEST(test_set_log_start_unwritable)
{
	char *dir = tl_mkdtemp(), path[600];
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);

	for (int i = 0; i < 5; i++)
		tl_append(p, 2, 0);
	snprintf(path, sizeof(path), "%s/log-start-offset-checkpoint", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/log-start-offset-checkpoint/x", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(ls_partition_set_log_start(p, 4), LS_ERR_IO);
	ck_assert_int_eq(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/log-start-offset-checkpoint", dir);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(ls_partition_set_log_start(p, 6), LS_OK);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	ck_assert_uint_eq(ls_log_start(tl_part(s, "t", 0)), 6);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_truncate_below_log_start)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "600" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 1);
	uint64_t start;
	struct ls_read_result r;

	ck_assert_int_eq(ls_partition_assign_epoch(p, 2, 0), LS_OK);
	for (int i = 0; i < 40; i++)
		tl_append(p, 3, 0);
	ck_assert_uint_gt(ls_delete_records(p, 60), 0);
	start = ls_log_start(p);
	ck_assert_uint_gt(start, 10);
	ls_partition_set_high_watermark(p, 100);
	ck_assert_int_eq(ls_partition_truncate(p, 7), LS_OK);
	ck_assert_uint_eq(ls_log_start(p), 7);
	ck_assert_uint_eq(ls_log_end(p), 7);
	ck_assert_uint_eq(ls_partition_high_watermark(p), 7);
	ck_assert_uint_eq(ls_partition_segments(p), 1);
	ck_assert_int_eq(count_logs(dir, "t-0"), 1);
	ck_assert_int_eq(ls_partition_latest_epoch(p), -1);
	ck_assert_int_eq(ls_read(p, 7, 100, &r), LS_OK);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_int_eq(ls_read(p, 6, 100, &r), LS_ERR_OFFSET_OUT_OF_RANGE);
	tl_append(p, 4, 0); /* values are "v<offset>": 7..10 */
	ck_assert_uint_eq(tl_read_all(p, 7, 1, NULL, 0), 4);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_start(p), 7);
	ck_assert_uint_eq(ls_log_end(p), 11);
	ck_assert_uint_eq(tl_read_all(p, 7, 1, NULL, 0), 4);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A follower whose log ends below its leader's log start restarts empty
 * at that start, past its own end (Kafka's truncateFullyAndStartAt), and
 * the log is there again after a reopen; an offset inside the log is
 * refused. */
START_TEST(test_start_at_past_log_end)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	struct ls_read_result r;

	ck_assert_int_eq(ls_partition_assign_epoch(p, 1, 0), LS_OK);
	for (int i = 0; i < 4; i++)
		tl_append(p, 5, 0); /* 0..19 */
	ck_assert_int_eq(ls_partition_start_at(p, 10), LS_ERR_INVALID);
	ck_assert_int_eq(ls_partition_start_at(p, 20), LS_ERR_INVALID);
	ck_assert_uint_eq(ls_log_end(p), 20);
	ck_assert_int_eq(ls_partition_start_at(p, 1000), LS_OK);
	ck_assert_uint_eq(ls_log_start(p), 1000);
	ck_assert_uint_eq(ls_log_end(p), 1000);
	ck_assert_uint_eq(ls_partition_high_watermark(p), 1000);
	ck_assert_uint_eq(ls_partition_segments(p), 1);
	ck_assert_int_eq(count_logs(dir, "t-0"), 1);
	ck_assert_int_eq(ls_partition_latest_epoch(p), -1);
	ck_assert_int_eq(ls_read(p, 999, 100, &r), LS_ERR_OFFSET_OUT_OF_RANGE);
	tl_append(p, 3, 0); /* 1000..1002 */
	ck_assert_uint_eq(tl_read_all(p, 1000, 1, NULL, 0), 3);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_start(p), 1000);
	ck_assert_uint_eq(ls_log_end(p), 1003);
	ck_assert_uint_eq(tl_read_all(p, 1000, 1, NULL, 0), 3);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A topic's id is kept in its metadata: none at first, set, there after
 * a reopen and after partitions are added; a line break is refused. */
START_TEST(test_topic_id_persisted)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	struct ls_topic *t = ls_partition_topic(p);

	ck_assert_str_eq(ls_topic_id(t), "");
	ck_assert_int_eq(ls_topic_set_id(t, "bad\nid"), LS_ERR_INVALID);
	ck_assert_int_eq(ls_topic_set_id(t, "AAAAAAAAAAAAAAAAAAAAAA"), LS_OK);
	ck_assert_int_eq(ls_topic_add_partitions(s, t, 2), LS_OK);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "t", 1);
	ck_assert_str_eq(ls_topic_id(ls_partition_topic(p)), "AAAAAAAAAAAAAAAAAAAAAA");
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_truncate_keeps_held_reads)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "800" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 1);
	struct ls_read_result act, old;
	unsigned char *before_a, *before_o, *after;
	uint64_t bases[256], act_base;
	size_t n;

	for (int i = 0; i < 50; i++)
		tl_append(p, 2, 0);
	n = bases_of(p, bases, 256);
	/* a read held on the active segment, another on an earlier one */
	ck_assert_int_eq(ls_read(p, bases[n - 4], 1 << 20, &act), LS_OK);
	act_base = act.first_offset;
	ck_assert_int_eq(ls_read(p, bases[n / 2], 1 << 20, &old), LS_OK);
	ck_assert_uint_gt(act.len, 0);
	ck_assert_uint_gt(old.len, 0);
	before_a = malloc(act.len);
	before_o = malloc(old.len);
	after = malloc(act.len > old.len ? act.len : old.len);
	ck_assert_int_eq(ls_read_copy(&act, before_a), LS_OK);
	ck_assert_int_eq(ls_read_copy(&old, before_o), LS_OK);

	/* cut inside the active segment (held: copied, not cut in place),
	 * then below the other read (its segment deleted or cut) */
	ck_assert_int_eq(ls_partition_truncate(p, bases[n - 2]), LS_OK);
	tl_append(p, 5, 0); /* new bytes where the old ones were */
	ck_assert_int_eq(ls_read_copy(&act, after), LS_OK);
	ck_assert_int_eq(memcmp(before_a, after, act.len), 0);
	ck_assert_int_eq(ls_partition_truncate(p, bases[n / 2 - 3]), LS_OK);
	tl_append(p, 7, 0);
	ck_assert_int_eq(ls_read_copy(&old, after), LS_OK);
	ck_assert_int_eq(memcmp(before_o, after, old.len), 0);
	ck_assert_int_eq(ls_read_copy(&act, after), LS_OK);
	ck_assert_int_eq(memcmp(before_a, after, act.len), 0);
	ls_read_release(&act);
	ls_read_release(&old);
	(void)act_base;
	ck_assert_uint_eq(ls_log_end(p), bases[n / 2 - 3] + 7);
	ck_assert_uint_eq(tl_read_all(p, 0, 0, NULL, 0), ls_log_end(p));
	free(before_a);
	free(before_o);
	free(after);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_end(p), bases[n / 2 - 3] + 7);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), ls_log_end(p));
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_truncate_failed_fsync_fails_partition)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "600" } };
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0), *q = tl_topic(s, "u", 1, cfg, 1);
	struct ls_record rec = { NULL, 0, "x", 1, NULL, 0, -1, 0 };

	for (int i = 0; i < 10; i++) {
		tl_append(p, 3, 0);
		tl_append(q, 3, 0);
	}
	ck_assert_int_eq(ls_fault_set(LS_FAULT_FSYNC, "t", 1, 1), LS_OK);
	ck_assert_int_eq(ls_partition_truncate(p, 10), LS_ERR_IO);
	ls_fault_clear();
	ck_assert_int_eq(ls_partition_failed(p), 1);
	ck_assert_int_eq(ls_append(p, &rec, 1, LS_CODEC_NONE, NULL), LS_ERR_IO);
	ck_assert_int_eq(ls_partition_truncate(p, 5), LS_ERR_IO);
	/* the same below the log start (truncateFullyAndStartAt) */
	ck_assert_uint_gt(ls_delete_records(q, 25), 0);
	ck_assert_uint_gt(ls_log_start(q), 5);
	ck_assert_int_eq(ls_fault_set(LS_FAULT_FSYNC, "u", 1, 1), LS_OK);
	ck_assert_int_eq(ls_partition_truncate(q, 5), LS_ERR_IO);
	ls_fault_clear();
	ck_assert_int_eq(ls_partition_failed(q), 1);
	ls_close(s);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_truncate_during_sync_round)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	struct ls_sync_job *job;

	for (int i = 0; i < 10; i++)
		tl_append(p, 5, 0); /* 0..49 */
	ck_assert_int_eq(ls_sync_begin(p, &job), LS_OK);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(ls_partition_truncate(p, 20), LS_OK);
	ck_assert_uint_eq(ls_log_end(p), 20);
	ck_assert_uint_eq(ls_flushed_offset(p), 0);
	for (int i = 0; i < 8; i++)
		tl_append(p, 5, 0); /* 20..59: not covered by the round */
	ck_assert_int_eq(ls_sync_run(job), LS_OK);
	ck_assert_int_eq(ls_sync_end(job), LS_OK);
	ck_assert_uint_le(ls_flushed_offset(p), 20);
	ck_assert_int_eq(ls_sync(p), LS_OK);
	ck_assert_uint_eq(ls_flushed_offset(p), 60);
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
	tcase_add_test(tc, test_epochs_persisted);
	tcase_add_test(tc, test_epoch_end_offset_kafka_cases);
	tcase_add_test(tc, test_append_stamps_leader_epoch);
	tcase_add_test(tc, test_replica_append_keeps_offsets_and_epochs);
	tcase_add_test(tc, test_replica_append_refuses_and_stops);
	tcase_add_test(tc, test_truncate_mid_segment_and_across);
	tcase_add_test(tc, test_truncate_below_log_start);
	tcase_add_test(tc, test_set_log_start);
	tcase_add_test(tc, test_set_log_start_unwritable);
	tcase_add_test(tc, test_start_at_past_log_end);
	tcase_add_test(tc, test_topic_id_persisted);
	tcase_add_test(tc, test_truncate_keeps_held_reads);
	tcase_add_test(tc, test_truncate_failed_fsync_fails_partition);
	tcase_add_test(tc, test_truncate_during_sync_round);
	suite_add_tcase(s, tc);
	return s;
}
