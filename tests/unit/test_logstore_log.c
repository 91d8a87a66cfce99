/*
 * tests/unit/test_logstore_log.c: logstore suite, logs: append/read
 * round trips across segment rolls, every offset's lookup under several
 * index intervals, offsets beyond 2^32, lookups by timestamp, reopening
 * after clean and unclean close, topics, partition growth, flushing.
 *
 * Must not depend on src/ or libevent: it sees only logstore/.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_logstore.h"

static uint64_t rnd_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Every offset: the read starts with the batch holding it and the
 * decoder's first record at or after it is exactly it. */
static void check_every_offset(struct ls_partition *p)
{
	struct ls_decoder *d = ls_decoder_new(0);
	unsigned char *buf = malloc(1 << 20);

	for (uint64_t off = ls_log_start(p); off < ls_log_end(p); off++) {
		struct ls_read_result r;
		struct ls_batch_info info;
		struct ls_record rec;
		size_t pos = 0;
		int rc = ls_read(p, off, (size_t)(rnd() % 3000), &r);

		HOT_ASSERT(rc == LS_OK && r.len > 0 && r.len <= (1 << 20), "read %" PRIu64, off);
		HOT_ASSERT(r.first_offset <= off, "first %" PRIu64 " > %" PRIu64,
			   r.first_offset, off);
		HOT_ASSERT(ls_read_copy(&r, buf) == LS_OK, "copy");
		/* whole batches, exactly */
		while (pos < r.len) {
			HOT_ASSERT(ls_batch_parse(buf + pos, r.len - pos, &info) == LS_OK,
				   "batch at %zu of read %" PRIu64, pos, off);
			pos += info.size;
		}
		HOT_ASSERT(pos == r.len, "partial batch");
		HOT_ASSERT(info.base_offset + (uint64_t)info.last_offset_delta + 1 ==
				   r.next_offset,
			   "next_offset %" PRIu64, r.next_offset);
		ls_decoder_set(d, buf, r.len, off);
		HOT_ASSERT(ls_decoder_next(d, &rec, NULL) == 1 && rec.offset == off,
			   "first record of read %" PRIu64, off);
		ls_read_release(&r);
	}
	free(buf);
	ls_decoder_free(d);
}

static uint64_t append_random(struct ls_partition *p, int batches, size_t max_batch)
{
	uint64_t n = 0;

	for (int i = 0; i < batches; i++) {
		size_t k = 1 + (size_t)(rnd() % max_batch);

		tl_append(p, k, 0);
		n += k;
	}
	return n;
}

START_TEST(test_roundtrip_rolls)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "1024" },
					    { "index.interval.bytes", "100" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 2);
	struct ls_read_result r;
	uint64_t n = append_random(p, 300, 20);

	ck_assert_uint_eq(ls_log_end(p), n);
	ck_assert_uint_gt(ls_partition_segments(p), 10);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), n);
	check_every_offset(p);
	ck_assert_int_eq(ls_read(p, n, 100, &r), LS_OK);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_uint_eq(r.next_offset, n);
	ck_assert_uint_eq(r.high_watermark, n);
	ck_assert_int_eq(ls_read(p, n + 1, 100, &r), LS_ERR_OFFSET_OUT_OF_RANGE);
	ck_assert_int_eq(ls_close(s), LS_OK);
	/* and again after a reopen (indexes from disk) */
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_end(p), n);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), n);
	check_every_offset(p);
	tl_append(p, 5, 0);
	ck_assert_uint_eq(tl_read_all(p, n, 1, NULL, 0), 5);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_index_intervals)
{
	static const char *const intervals[] = { "0", "1", "64", "333", "4096" };
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);

	for (size_t i = 0; i < sizeof intervals / sizeof intervals[0]; i++) {
		struct ls_kv cfg[] = { { "segment.bytes", "4000" },
				       { "index.interval.bytes", intervals[i] } };
		char name[32];
		struct ls_partition *p;
		uint64_t n;

		snprintf(name, sizeof name, "t%zu", i);
		p = tl_topic(s, name, 1, cfg, 2);
		n = append_random(p, 200, 8);
		check_every_offset(p);
		ck_assert_int_eq(ls_close(s), LS_OK);
		s = tl_open(dir);
		p = tl_part(s, name, 0);
		ck_assert_uint_eq(ls_log_end(p), n);
		check_every_offset(p);
	}
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_max_bytes)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "index.interval.bytes", "200" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 1);
	struct ls_read_result r;
	size_t batch;

	for (int i = 0; i < 100; i++)
		tl_append(p, 10, 0);
	ck_assert_int_eq(ls_read(p, 0, 1, &r), LS_OK);
	batch = r.len; /* at least one batch even over max_bytes */
	ck_assert_uint_gt(batch, 1);
	ck_assert_uint_eq(r.next_offset, 10);
	ls_read_release(&r);
	for (size_t mb = 2 * batch; mb < 40 * batch; mb += 7) {
		ck_assert_int_eq(ls_read(p, 15, mb, &r), LS_OK);
		ck_assert_uint_eq(r.first_offset, 10);
		ck_assert_uint_le(r.len, mb);
		ck_assert_uint_gt(r.len + batch + 20, mb); /* no room for one more */
		ls_read_release(&r);
	}
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_offsets_beyond_2_32)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "2000" },
					    { "index.interval.bytes", "50" } };
	const uint64_t base = (1ULL << 32) - 100;
	char from[512], to[512], name[64];
	struct ls_partition *p = tl_topic(s, "big", 1, cfg, 2);
	struct ls_read_result r;
	uint64_t n;

	(void)p;
	ck_assert_int_eq(ls_close(s), LS_OK);
	/* Start the log where an earlier life of it ended: an empty segment
	 * named by its base offset is all the state there is. */
	snprintf(name, sizeof name, "big-0/%020" PRIu64 ".log", base);
	ck_assert_int_eq(rename(tl_path(from, sizeof from, dir,
					"big-0/00000000000000000000.log"),
				tl_path(to, sizeof to, dir, name)), 0);
	unlink(tl_path(from, sizeof from, dir, "big-0/00000000000000000000.index"));
	unlink(tl_path(from, sizeof from, dir, "big-0/00000000000000000000.timeindex"));
	s = tl_open(dir);
	p = tl_part(s, "big", 0);
	ck_assert_uint_eq(ls_log_start(p), base);
	ck_assert_uint_eq(ls_log_end(p), base);
	n = append_random(p, 100, 9);
	ck_assert_uint_eq(ls_log_end(p), base + n);
	ck_assert_uint_gt(ls_log_end(p), 1ULL << 32);
	ck_assert_uint_gt(ls_partition_segments(p), 3);
	ck_assert_uint_eq(tl_read_all(p, base, 1, NULL, 0), n);
	check_every_offset(p);
	ck_assert_int_eq(ls_read(p, base - 1, 100, &r), LS_ERR_OFFSET_OUT_OF_RANGE);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "big", 0);
	ck_assert_uint_eq(ls_log_end(p), base + n);
	check_every_offset(p);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_offset_for_time)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "1500" },
					    { "index.interval.bytes", "120" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 2);
	int64_t ts[2000];
	size_t n = 0;

	/* rising timestamps with jitter, some going back */
	while (n < 1500) {
		struct ls_record recs[7];
		size_t k = 1 + (size_t)(rnd() % 7);

		for (size_t i = 0; i < k; i++) {
			memset(&recs[i], 0, sizeof recs[i]);
			recs[i].value = "x";
			recs[i].value_len = 1;
			recs[i].timestamp = (int64_t)(n + i) * 10 + (int64_t)(rnd() % 50) - 25 + 100;
			ts[n + i] = recs[i].timestamp;
		}
		ck_assert_int_eq(ls_append(p, recs, k, LS_CODEC_NONE, NULL), LS_OK);
		n += k;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (int64_t t = 0; t < (int64_t)n * 10 + 200; t += 3) {
			uint64_t want = UINT64_MAX, got;
			int64_t found;
			int rc;

			for (size_t i = 0; i < n; i++)
				if (ts[i] >= t) {
					want = i;
					break;
				}
			rc = ls_offset_for_time(p, t, &got, &found);
			if (want == UINT64_MAX) {
				HOT_ASSERT(rc == LS_ERR_NOT_FOUND, "t %" PRId64, t);
				continue;
			}
			HOT_ASSERT(rc == LS_OK && got == want && found == ts[want],
				   "t %" PRId64 ": got %" PRIu64 " want %" PRIu64, t, got, want);
		}
		ck_assert_int_eq(ls_close(s), LS_OK);
		s = tl_open(dir);
		p = tl_part(s, "t", 0);
	}
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_reopen_unclean)
{
	char *dir = tl_mkdtemp(), path[512];
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "3000" } };
	struct ls_partition *p = tl_topic(s, "t", 2, cfg, 1);
	pid_t pid;
	int status;

	tl_append(p, 100, 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	ck_assert_int_ge(tl_file_size(tl_path(path, sizeof path, dir, ".clean_shutdown")), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* the "broker": appends, then dies without closing */
		s = tl_open(dir);
		if (tl_file_size(tl_path(path, sizeof path, dir, ".clean_shutdown")) >= 0)
			_exit(3);
		p = tl_part(s, "t", 0);
		for (int i = 0; i < 50; i++)
			tl_append(p, 7, 0);
		tl_append(tl_part(s, "t", 1), 3, 0);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_end(p), 450);
	ck_assert_uint_eq(ls_log_end(tl_part(s, "t", 1)), 3);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), 450);
	check_every_offset(p);
	tl_append(p, 1, 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

struct names {
	char buf[8][64];
	int n;
};

static void collect(struct ls_topic *t, void *ctx)
{
	struct names *nm = ctx;

	if (nm->n < 8)
		snprintf(nm->buf[nm->n++], 64, "%s%s", ls_topic_name(t),
			 ls_topic_is_internal(t) ? "*" : "");
}

START_TEST(test_topics)
{
	char *dir = tl_mkdtemp(), err[256], val[64], path[512];
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv bad1[] = { { "retention.ms", "soon" } };
	static const struct ls_kv bad2[] = { { "no.such", "1" } };
	static const struct ls_kv good[] = { { "retention.ms", "5000" } };
	struct ls_kv alter[] = { { "retention.ms", NULL }, { "segment.ms", "60000" } };
	struct ls_read_result r;
	struct names nm = { .n = 0 };
	struct ls_topic *t;
	int is_def;

	ck_assert_int_eq(ls_topic_create(s, "bad name", 1, NULL, 0, err, sizeof err),
			 LS_ERR_INVALID_TOPIC);
	ck_assert_int_eq(ls_topic_create(s, "..", 1, NULL, 0, err, sizeof err),
			 LS_ERR_INVALID_TOPIC);
	{
		char longname[242];

		memset(longname, 'x', 241);
		longname[241] = '\0';
		ck_assert_int_eq(ls_topic_create(s, longname, 1, NULL, 0, err, sizeof err),
				 LS_ERR_INVALID_TOPIC);
		longname[240] = '\0';
		ck_assert_int_eq(ls_topic_create(s, longname, 100, NULL, 0, err, sizeof err),
				 LS_OK);
		ck_assert_int_eq(ls_topic_delete(s, longname), LS_OK);
	}
	ck_assert_int_eq(ls_topic_create(s, "__consumer_offsets", 1, NULL, 0, err, sizeof err),
			 LS_ERR_EXISTS);
	ck_assert_int_eq(ls_topic_create(s, "a", 0, NULL, 0, err, sizeof err), LS_ERR_INVALID);
	ck_assert_int_eq(ls_topic_create(s, "a", 1, bad1, 1, err, sizeof err),
			 LS_ERR_INVALID_CONFIG);
	ck_assert(strstr(err, "retention.ms") != NULL);
	ck_assert_int_eq(ls_topic_create(s, "a", 1, bad2, 1, err, sizeof err),
			 LS_ERR_INVALID_CONFIG);
	ck_assert_ptr_null(ls_topic_find(s, "a"));
	tl_topic(s, "a-1", 2, good, 1);
	tl_topic(s, "a", 1, NULL, 0);
	ck_assert_int_eq(ls_topic_create(s, "a", 1, NULL, 0, err, sizeof err), LS_ERR_EXISTS);
	ls_topic_foreach(s, collect, &nm);
	ck_assert_int_eq(nm.n, 3);
	ck_assert_str_eq(nm.buf[0], "__consumer_offsets*");
	ck_assert_str_eq(nm.buf[1], "a");
	ck_assert_str_eq(nm.buf[2], "a-1");
	t = ls_topic_find(s, "a-1");
	ck_assert_int_eq(ls_topic_partition_count(t), 2);
	ck_assert_int_eq(ls_topic_get_config(t)->retention_ms, 5000);
	ck_assert_int_eq(ls_topic_config_value(t, "retention.ms", val, sizeof val, &is_def),
			 LS_OK);
	ck_assert_str_eq(val, "5000");
	ck_assert_int_eq(is_def, 0);
	ck_assert_int_eq(ls_topic_config_value(t, "segment.ms", val, sizeof val, &is_def),
			 LS_OK);
	ck_assert_int_eq(is_def, 1);
	ck_assert_int_eq(ls_topic_set_config(s, t, bad2, 1, err, sizeof err),
			 LS_ERR_INVALID_CONFIG);
	ck_assert_int_eq(ls_topic_set_config(s, t, alter, 2, err, sizeof err), LS_OK);
	ck_assert_int_eq(ls_topic_get_config(t)->retention_ms, 604800000);
	ck_assert_int_eq(ls_topic_get_config(t)->segment_ms, 60000);
	tl_append(tl_part(s, "a", 0), 10, 0);
	ck_assert_int_eq(ls_close(s), LS_OK);

	s = tl_open(dir);
	t = ls_topic_find(s, "a-1");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(ls_topic_get_config(t)->segment_ms, 60000);
	ck_assert_int_eq(ls_topic_config_value(t, "retention.ms", val, sizeof val, &is_def),
			 LS_OK);
	ck_assert_int_eq(is_def, 1);
	ck_assert_uint_eq(ls_topic_count(s), 3);
	/* delete while a read holds the segment: the range stays readable */
	ck_assert_int_eq(ls_read(tl_part(s, "a", 0), 0, 1 << 20, &r), LS_OK);
	ck_assert_int_eq(ls_topic_delete(s, "a"), LS_OK);
	ck_assert_int_eq(ls_topic_delete(s, "a"), LS_ERR_NOT_FOUND);
	ck_assert_int_eq(ls_topic_delete(s, "__consumer_offsets"), LS_ERR_INVALID);
	{
		unsigned char *buf = malloc(r.len);

		ck_assert_int_eq(ls_read_copy(&r, buf), LS_OK);
		free(buf);
	}
	ls_read_release(&r);
	ck_assert_int_lt(tl_file_size(tl_path(path, sizeof path, dir, "a-0")), 0);
	ck_assert_int_lt(tl_file_size(tl_path(path, sizeof path, dir, "a.topic")), 0);
	/* recreate: a fresh log */
	tl_topic(s, "a", 1, NULL, 0);
	ck_assert_uint_eq(ls_log_end(tl_part(s, "a", 0)), 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	/* an orphan partition folder (crash mid-delete) goes at open */
	ck_assert_int_eq(system("true"), 0);
	snprintf(path, sizeof path, "mkdir -p %s/gone-0 %s/a-7 %s/keep.me", dir, dir, dir);
	ck_assert_int_eq(system(path), 0);
	s = tl_open(dir);
	ck_assert_int_lt(tl_file_size(tl_path(path, sizeof path, dir, "gone-0")), 0);
	ck_assert_int_lt(tl_file_size(tl_path(path, sizeof path, dir, "a-7")), 0);
	ck_assert_int_ge(tl_file_size(tl_path(path, sizeof path, dir, "keep.me")), 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_partition_growth)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_topic *t;
	int32_t hits[5] = { 0 };

	tl_topic(s, "g", 2, NULL, 0);
	t = ls_topic_find(s, "g");
	tl_append(ls_partition_get(t, 1), 5, 0);
	ck_assert_int_eq(ls_topic_add_partitions(s, t, 2), LS_ERR_INVALID);
	ck_assert_int_eq(ls_topic_add_partitions(s, t, 1), LS_ERR_INVALID);
	ck_assert_int_eq(ls_topic_add_partitions(s, t, 5), LS_OK);
	ck_assert_int_eq(ls_topic_partition_count(t), 5);
	ck_assert_ptr_null(ls_partition_get(t, 5));
	tl_append(ls_partition_get(t, 4), 3, 0);
	ck_assert_int_eq(ls_topic_add_partitions(s, t, 4), LS_ERR_INVALID);
	for (int i = 0; i < 10; i++)
		hits[ls_topic_next_partition(t)]++;
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(hits[i], 2);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	t = ls_topic_find(s, "g");
	ck_assert_int_eq(ls_topic_partition_count(t), 5);
	ck_assert_uint_eq(ls_log_end(ls_partition_get(t, 1)), 5);
	ck_assert_uint_eq(ls_log_end(ls_partition_get(t, 4)), 3);
	ck_assert_uint_eq(ls_partition_index(ls_partition_get(t, 3)), 3);
	ck_assert_ptr_eq(ls_partition_topic(ls_partition_get(t, 3)), t);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_flush_policy)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv each[] = { { "flush.messages", "1" } };
	static const struct ls_kv ten[] = { { "flush.messages", "10" },
					    { "segment.bytes", "500" } };
	struct ls_partition *d = tl_topic(s, "d", 1, NULL, 0);
	struct ls_partition *e = tl_topic(s, "e", 1, each, 1);
	struct ls_partition *t = tl_topic(s, "t", 1, ten, 2);
	struct ls_sync_job *job;

	tl_append(e, 3, 0);
	ck_assert_uint_eq(ls_flushed_offset(e), 3);
	tl_append(t, 4, 0);
	ck_assert_uint_eq(ls_flushed_offset(t), 0);
	tl_append(t, 6, 0);
	ck_assert_uint_eq(ls_flushed_offset(t), 10);
	/* default: the flush.ms timer */
	tl_append(d, 5, 0);
	ck_assert_uint_eq(ls_flushed_offset(d), 0);
	ck_assert_int_eq(ls_flush_due(d, tl_clock + 999), 0);
	ck_assert_int_eq(ls_flush_due(d, tl_clock + 1000), 1);
	ck_assert_int_eq(ls_flush_step(s, tl_clock + 1000), LS_OK);
	ck_assert_uint_eq(ls_flushed_offset(d), 5);
	ck_assert_int_eq(ls_flush_due(d, tl_clock + 5000), 0);
	/* group commit: what was appended while the fsync ran waits */
	tl_append(d, 2, 0);
	const struct ls_fsync_hist *fh = ls_store_fsync_hist(s);
	uint64_t rounds = fh->count, in_buckets = 0;
	ck_assert_int_eq(ls_sync_begin(d, &job), LS_OK);
	ck_assert_ptr_nonnull(job);
	tl_append(d, 3, 0);
	ck_assert_int_eq(ls_sync_run(job), LS_OK);
	ck_assert_int_eq(ls_sync_end(job), LS_OK);
	ck_assert_uint_eq(ls_flushed_offset(d), 7);
	ck_assert_int_eq(ls_sync(d), LS_OK);
	ck_assert_uint_eq(ls_flushed_offset(d), 10);
	ck_assert_int_eq(ls_sync_begin(d, &job), LS_OK);
	ck_assert_ptr_null(job);
	/* each round was timed (the empty one was no round) */
	ck_assert_uint_eq(fh->count, rounds + 2);
	for (int i = 0; i < LS_FSYNC_BUCKETS; i++)
		in_buckets += fh->bucket[i];
	ck_assert_uint_le(in_buckets, fh->count);
	/* a job outliving its topic */
	tl_append(t, 30, 0); /* rolls */
	tl_append(t, 1, 0);
	ck_assert_int_eq(ls_sync_begin(t, &job), LS_OK);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(ls_topic_delete(s, "t"), LS_OK);
	ck_assert_int_eq(ls_sync_run(job), LS_OK);
	ck_assert_int_eq(ls_sync_end(job), LS_OK);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

static void *sync_thread(void *job)
{
	return (void *)(intptr_t)ls_sync_run(job);
}

/* The broker's plan: fsync on a helper thread while the loop thread goes
 * on appending (and rolling); the result is published on the loop thread. */
START_TEST(test_sync_on_thread)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "4000" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 1);
	struct ls_sync_job *job;
	pthread_t th;
	void *ret;

	for (int round = 0; round < 20; round++) {
		uint64_t target;

		tl_append(p, 20, 0);
		target = ls_log_end(p);
		ck_assert_int_eq(ls_sync_begin(p, &job), LS_OK);
		ck_assert_ptr_nonnull(job);
		ck_assert_int_eq(pthread_create(&th, NULL, sync_thread, job), 0);
		for (int i = 0; i < 30; i++)
			tl_append(p, 5, 0);
		ck_assert_int_eq(pthread_join(th, &ret), 0);
		ck_assert_int_eq((int)(intptr_t)ret, LS_OK);
		ck_assert_int_eq(ls_sync_end(job), LS_OK);
		ck_assert_uint_eq(ls_flushed_offset(p), target);
	}
	ck_assert_uint_gt(ls_partition_segments(p), 10);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), ls_log_end(p));
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_segment_ms_roll)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.ms", "1000" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 1);

	tl_append(p, 1, 0);
	tl_clock += 999;
	tl_append(p, 1, 0);
	ck_assert_uint_eq(ls_partition_segments(p), 1);
	tl_clock += 1;
	tl_append(p, 1, 0);
	ck_assert_uint_eq(ls_partition_segments(p), 2);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), 3);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_locked)
{
	char *dir = tl_mkdtemp(), err[256];
	struct ls_store *s = tl_open(dir);

	ck_assert_ptr_null(ls_open(dir, NULL, err, sizeof err));
	ck_assert(strstr(err, "locked") != NULL);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

Suite *tl_log_suite(void)
{
	Suite *s = suite_create("logstore-log");
	TCase *tc = tcase_create("log");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_roundtrip_rolls);
	tcase_add_test(tc, test_index_intervals);
	tcase_add_test(tc, test_max_bytes);
	tcase_add_test(tc, test_offsets_beyond_2_32);
	tcase_add_test(tc, test_offset_for_time);
	tcase_add_test(tc, test_reopen_unclean);
	tcase_add_test(tc, test_topics);
	tcase_add_test(tc, test_partition_growth);
	tcase_add_test(tc, test_flush_policy);
	tcase_add_test(tc, test_sync_on_thread);
	tcase_add_test(tc, test_segment_ms_roll);
	tcase_add_test(tc, test_locked);
	suite_add_tcase(s, tc);
	return s;
}
