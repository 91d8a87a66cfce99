/*
 * tests/unit/test_logstore_retention.c: logstore suite, cleanup and
 * group offsets: retention by time and size with an injected clock and
 * small budgets, compaction keeping the latest record per key with
 * offsets preserved and tombstones expiring, committed offsets surviving
 * reopen and compaction of their internal topic.
 *
 * Must not depend on src/ or libevent: it sees only logstore/.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_logstore.h"

static int run_retention(struct ls_store *s, size_t budget)
{
	int steps = 0, rc;

	while ((rc = ls_retention_step(s, tl_clock, budget)) == 1)
		steps++;
	ck_assert_int_eq(rc, 0);
	return steps;
}

START_TEST(test_retention_time)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "500" },
					    { "retention.ms", "10000" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 2);
	struct ls_read_result r;
	uint64_t second, end;
	size_t before;

	for (int i = 0; i < 30; i++)
		tl_append(p, 5, 0);
	tl_clock += 5000;
	second = ls_log_end(p);
	for (int i = 0; i < 30; i++)
		tl_append(p, 5, 0);
	end = ls_log_end(p);
	before = ls_partition_segments(p);
	tl_clock += 5000; /* first group 10000 old: not past retention yet */
	ck_assert_int_eq(run_retention(s, 1 << 20), 0);
	ck_assert_uint_eq(ls_partition_segments(p), before);
	tl_clock += 1; /* now it is */
	ck_assert_int_gt(run_retention(s, 1), 2); /* one segment per step */
	ck_assert_uint_gt(ls_log_start(p), 0);
	ck_assert_uint_le(ls_log_start(p), second);
	ck_assert_uint_gt(ls_log_start(p) + 25, second); /* only a straddler left */
	ck_assert_int_eq(ls_read(p, 0, 100, &r), LS_ERR_OFFSET_OUT_OF_RANGE);
	ck_assert_uint_eq(tl_read_all(p, ls_log_start(p), 1, NULL, 0), end - ls_log_start(p));
	/* far future: everything but the active segment */
	tl_clock += 1000000;
	run_retention(s, 1 << 20);
	ck_assert_uint_eq(ls_partition_segments(p), 1);
	ck_assert_uint_eq(ls_log_end(p), end);
	tl_append(p, 1, 0);
	ck_assert_uint_eq(ls_log_end(p), end + 1);
	ck_assert_int_eq(ls_close(s), LS_OK);
	/* the log start survives a reopen (the first segment's name) */
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_gt(ls_log_start(p), second);
	ck_assert_uint_eq(ls_log_end(p), end + 1);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_retention_size)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "500" },
					    { "retention.bytes", "2000" } };
	static const struct ls_kv compact[] = { { "segment.bytes", "500" },
						{ "retention.bytes", "100" },
						{ "cleanup.policy", "compact" } };
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 2);
	struct ls_partition *c = tl_topic(s, "c", 1, compact, 3);

	for (int i = 0; i < 100; i++) {
		tl_append(p, 4, 0);
		tl_append(c, 1, 1);
	}
	ck_assert_uint_gt(ls_partition_bytes(p), 8000);
	run_retention(s, 1 << 20);
	ck_assert_uint_ge(ls_partition_bytes(p), 2000 - 500);
	ck_assert_uint_lt(ls_partition_bytes(p), 2500);
	ck_assert_uint_eq(tl_read_all(p, ls_log_start(p), 1, NULL, 0),
			  ls_log_end(p) - ls_log_start(p));
	/* compact-only topics ignore retention.bytes */
	ck_assert_uint_eq(ls_log_start(c), 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

struct kv_seen {
	char key[16];
	uint64_t offset;
	int tombstone;
};

/* Records of p as (key, offset, tombstone), in offset order. */
static size_t dump(struct ls_partition *p, struct kv_seen *out, size_t max)
{
	struct ls_decoder *d = ls_decoder_new(0);
	uint64_t off = ls_log_start(p);
	size_t n = 0;

	while (off < ls_log_end(p)) {
		struct ls_read_result r;
		struct ls_record rec;
		unsigned char *buf;
		int rc;

		ck_assert_int_eq(ls_read(p, off, 1 << 20, &r), LS_OK);
		if (r.len == 0) {
			ls_read_release(&r);
			break;
		}
		buf = malloc(r.len);
		ck_assert_int_eq(ls_read_copy(&r, buf), LS_OK);
		ls_decoder_set(d, buf, r.len, off);
		while ((rc = ls_decoder_next(d, &rec, NULL)) == 1) {
			ck_assert_uint_lt(n, max);
			ck_assert_uint_lt(rec.key_len, 16);
			memcpy(out[n].key, rec.key, rec.key_len);
			out[n].key[rec.key_len] = '\0';
			out[n].offset = rec.offset;
			out[n].tombstone = rec.value == NULL;
			if (rec.value != NULL) {
				char want[32];

				snprintf(want, sizeof want, "v%" PRIu64, rec.offset);
				ck_assert_uint_eq(rec.value_len, strlen(want));
				ck_assert_mem_eq(rec.value, want, rec.value_len);
			}
			n++;
		}
		ck_assert_int_eq(rc, 0);
		off = r.next_offset;
		free(buf);
		ls_read_release(&r);
	}
	ls_decoder_free(d);
	return n;
}

/* Batches of p that compaction rebuilt (fewer records than offsets) in
 * `codec`; fails on a rebuilt batch in another codec. */
static int rebuilt_batches(struct ls_partition *p, int codec)
{
	uint64_t off = ls_log_start(p);
	int n = 0;

	while (off < ls_log_end(p)) {
		struct ls_read_result r;
		struct ls_batch_info b;
		unsigned char *buf;
		size_t pos = 0;

		ck_assert_int_eq(ls_read(p, off, 1 << 20, &r), LS_OK);
		if (r.len == 0) {
			ls_read_release(&r);
			break;
		}
		buf = malloc(r.len);
		ck_assert_int_eq(ls_read_copy(&r, buf), LS_OK);
		while (pos < r.len && ls_batch_parse(buf + pos, r.len - pos, &b) == LS_OK) {
			if (b.record_count < b.last_offset_delta + 1) {
				ck_assert_int_eq(b.codec, codec);
				n++;
			}
			pos += b.size;
		}
		off = r.next_offset;
		free(buf);
		ls_read_release(&r);
	}
	return n;
}

static void tombstone(struct ls_partition *p, const char *key)
{
	struct ls_record rec;

	memset(&rec, 0, sizeof rec);
	rec.key = key;
	rec.key_len = strlen(key);
	rec.timestamp = -1;
	ck_assert_int_eq(ls_append(p, &rec, 1, LS_CODEC_NONE, NULL), LS_OK);
}

/* A big keyed batch that fills a segment and makes everything before it
 * inactive. */
static void filler(struct ls_partition *p, const char *key)
{
	struct ls_record rec;
	static char big[700];
	char val[32];

	memset(&rec, 0, sizeof rec);
	snprintf(val, sizeof val, "v%" PRIu64, ls_log_end(p));
	memset(big, 'x', sizeof big);
	rec.key = key;
	rec.key_len = strlen(key);
	rec.value = val;
	rec.value_len = strlen(val);
	rec.timestamp = -1;
	ck_assert_int_eq(ls_append(p, &rec, 1, LS_CODEC_NONE, NULL), LS_OK);
	rec.value = big; /* an unkeyed-value-free pad so that the segment rolls */
	(void)rec;
}

START_TEST(test_compaction)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv cfg[] = { { "segment.bytes", "400" },
					    { "cleanup.policy", "compact" },
					    { "min.cleanable.dirty.ratio", "0" },
					    { "delete.retention.ms", "60000" } };
	static const struct ls_kv gz[] = { { "segment.bytes", "400" },
					   { "cleanup.policy", "compact" },
					   { "min.cleanable.dirty.ratio", "0" },
					   { "compression.type", "gzip" } };
	static const struct ls_kv lz[] = { { "segment.bytes", "400" },
					   { "cleanup.policy", "compact" },
					   { "min.cleanable.dirty.ratio", "0" },
					   { "compression.type", "lz4" } };
	struct ls_partition *p = tl_topic(s, "c", 1, cfg, 4);
	struct ls_partition *g = tl_topic(s, "g", 1, gz, 4);
	struct ls_partition *l = tl_topic(s, "l", 1, lz, 4);
	struct ls_partition *parts[3] = { p, g, l };
	struct kv_seen *seen = calloc(4096, sizeof *seen);
	uint64_t latest[10], tomb_k3;
	size_t n;

	ck_assert_int_eq(ls_append(p, &(struct ls_record){ .value = "x", .value_len = 1 }, 1,
				   LS_CODEC_NONE, NULL),
			 LS_ERR_INVALID_RECORD); /* keyless on a compacted topic */
	for (int w = 0; w < 3; w++) {
		struct ls_partition *q = parts[w];

		for (int round = 0; round < 12; round++)
			tl_append(q, 1 + (size_t)(round % 4), 10); /* keys k0..k9 */
		tombstone(q, "k3");
		tomb_k3 = ls_log_end(q) - 1;
		for (int i = 0; i < 30; i++)
			filler(q, "pad");
		ck_assert_uint_gt(ls_partition_segments(q), 3);
	}
	/* expected survivors: last offset of each key in the inactive part */
	run_retention(s, 300);
	/* the lz4 topic's rebuilt batches are lz4 still */
	ck_assert_int_gt(rebuilt_batches(l, LS_CODEC_LZ4), 0);
	ck_assert_int_gt(rebuilt_batches(g, LS_CODEC_GZIP), 0);
	for (int w = 0; w < 3; w++) {
		struct ls_partition *q = parts[w];
		uint64_t active_base;
		int pads = 0;

		n = dump(q, seen, 4096);
		for (int k = 0; k < 10; k++)
			latest[k] = UINT64_MAX;
		for (size_t i = 0; i < n; i++) {
			if (seen[i].key[0] == 'k')
				latest[seen[i].key[1] - '0'] = seen[i].offset;
			if (strcmp(seen[i].key, "pad") == 0)
				pads++;
			/* offsets strictly increase; values matched offsets */
			ck_assert(i == 0 || seen[i].offset > seen[i - 1].offset);
		}
		/* one record per key k*, the k3 tombstone still there */
		for (size_t i = 0; i < n; i++)
			if (seen[i].key[0] == 'k')
				ck_assert_uint_eq(latest[seen[i].key[1] - '0'], seen[i].offset);
		ck_assert_uint_eq(latest[3], tomb_k3);
		for (size_t i = 0; i < n; i++)
			if (seen[i].offset == tomb_k3)
				ck_assert(seen[i].tombstone);
		/* pads: only the latest outside the active segment, plus the
		 * active segment's */
		active_base = ls_log_end(q) - 1;
		ck_assert_int_le(pads, 3);
		(void)active_base;
		ck_assert_uint_eq(ls_log_start(q), 0);
	}
	/* after delete.retention.ms the tombstone goes too (new dirt needed
	 * to trigger a pass) */
	tl_clock += 60001;
	for (int i = 0; i < 30; i++)
		filler(p, "pad");
	run_retention(s, 1 << 20);
	n = dump(p, seen, 4096);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_ne(seen[i].key, "k3");
	ck_assert_int_eq(ls_close(s), LS_OK);
	/* survives reopen: same records */
	s = tl_open(dir);
	p = tl_part(s, "c", 0);
	ck_assert_uint_eq(dump(p, seen, 4096), n);
	ck_assert_int_eq(ls_close(s), LS_OK);
	free(seen);
	tl_rmdir(dir);
}
END_TEST

struct offs_seen {
	int count;
	int64_t sum;
};

static void count_offs(const char *group, const char *topic, int32_t partition,
		       int64_t offset, const char *metadata, int64_t commit_ms, void *ctx)
{
	struct offs_seen *o = ctx;

	(void)group;
	(void)topic;
	(void)partition;
	(void)metadata;
	(void)commit_ms;
	o->count++;
	o->sum += offset;
}

START_TEST(test_group_offsets)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_offset_commit c[3] = {
		{ "t", 0, 10, "meta" },
		{ "t", 1, 20, NULL },
		{ "u", 0, 30, "" },
	};
	struct ls_offset_commit again = { "t", 0, 11, "meta2" };
	struct offs_seen seen = { 0, 0 };
	const char *meta;
	int64_t off;

	tl_topic(s, "t", 2, NULL, 0);
	ck_assert_int_eq(ls_offsets_commit(s, "", c, 1), LS_ERR_INVALID);
	ck_assert_int_eq(ls_offsets_commit(s, "g1", c, 3), LS_OK);
	ck_assert_int_eq(ls_offsets_commit(s, "g2", c + 2, 1), LS_OK);
	ck_assert_int_eq(ls_offsets_commit(s, "g1", &again, 1), LS_OK);
	ck_assert_int_eq(ls_offset_fetch(s, "g1", "t", 0, &off, &meta), LS_OK);
	ck_assert_int_eq(off, 11);
	ck_assert_str_eq(meta, "meta2");
	ck_assert_int_eq(ls_offset_fetch(s, "g1", "t", 1, &off, &meta), LS_OK);
	ck_assert_ptr_null(meta);
	ck_assert_int_eq(ls_offset_fetch(s, "g1", "t", 2, &off, &meta), LS_ERR_NOT_FOUND);
	ck_assert_int_eq(ls_offset_fetch(s, "g3", "t", 0, &off, &meta), LS_ERR_NOT_FOUND);
	ck_assert_int_eq(ls_close(s), LS_OK);

	s = tl_open(dir);
	ck_assert_int_eq(ls_offset_fetch(s, "g1", "t", 0, &off, &meta), LS_OK);
	ck_assert_int_eq(off, 11);
	ck_assert_str_eq(meta, "meta2");
	ck_assert_int_eq(ls_offset_fetch(s, "g1", "u", 0, &off, &meta), LS_OK);
	ck_assert_int_eq(off, 30);
	ck_assert_str_eq(meta, "");
	ls_offsets_foreach(s, "g1", count_offs, &seen);
	ck_assert_int_eq(seen.count, 3);
	ck_assert_int_eq(seen.sum, 11 + 20 + 30);
	seen.count = 0;
	ls_offsets_foreach(s, NULL, count_offs, &seen);
	ck_assert_int_eq(seen.count, 4);
	/* deleting topic t forgets its offsets; deleting g2 all of g2 */
	ck_assert_int_eq(ls_topic_delete(s, "t"), LS_OK);
	ck_assert_int_eq(ls_offset_fetch(s, "g1", "t", 0, &off, &meta), LS_ERR_NOT_FOUND);
	ck_assert_int_eq(ls_offsets_delete_group(s, "g2"), LS_OK);
	ck_assert_int_eq(ls_offset_fetch(s, "g2", "u", 0, &off, &meta), LS_ERR_NOT_FOUND);
	ck_assert_int_eq(ls_close(s), LS_OK);

	s = tl_open(dir);
	seen.count = 0;
	ls_offsets_foreach(s, NULL, count_offs, &seen);
	ck_assert_int_eq(seen.count, 1);
	ck_assert_int_eq(ls_offset_fetch(s, "g1", "u", 0, &off, &meta), LS_OK);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_group_offsets_compacted)
{
	char *dir = tl_mkdtemp(), err[128];
	struct ls_store *s = tl_open(dir);
	static const struct ls_kv small[] = { { "segment.bytes", "1000" },
					      { "min.cleanable.dirty.ratio", "0" } };
	static const struct ls_kv bad[] = { { "cleanup.policy", "delete" } };
	struct ls_topic *t = ls_topic_find(s, "__consumer_offsets");
	struct ls_partition *p = ls_partition_get(t, 0);
	uint64_t before;
	int64_t off;

	ck_assert_int_eq(ls_topic_set_config(s, t, bad, 1, err, sizeof err),
			 LS_ERR_INVALID_CONFIG);
	ck_assert_int_eq(ls_topic_set_config(s, t, small, 2, err, sizeof err), LS_OK);
	for (int i = 0; i < 500; i++) {
		struct ls_offset_commit c = { i % 2 ? "a" : "b", i % 3, i, "m" };

		ck_assert_int_eq(ls_offsets_commit(s, "grp", &c, 1), LS_OK);
	}
	before = ls_partition_bytes(p);
	run_retention(s, 1 << 20);
	ck_assert_uint_lt(ls_partition_bytes(p) * 4, before);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	for (int i = 494; i < 500; i++) {
		ck_assert_int_eq(ls_offset_fetch(s, "grp", i % 2 ? "a" : "b", i % 3, &off, NULL),
				 LS_OK);
		ck_assert_int_eq(off, i);
	}
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

Suite *tl_retention_suite(void)
{
	Suite *s = suite_create("logstore-retention");
	TCase *tc = tcase_create("retention");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_retention_time);
	tcase_add_test(tc, test_retention_size);
	tcase_add_test(tc, test_compaction);
	tcase_add_test(tc, test_group_offsets);
	tcase_add_test(tc, test_group_offsets_compacted);
	suite_add_tcase(s, tc);
	return s;
}
