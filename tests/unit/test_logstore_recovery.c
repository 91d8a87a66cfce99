/*
 * tests/unit/test_logstore_recovery.c: logstore suite, crash recovery: a
 * log cut at every byte of its last batch, a flipped bit in the active and
 * in an older segment, lost and damaged index files, and the damage cases
 * of issue 11 finding 5: a damaged batch is cut out and quarantined while
 * every good batch stays, a torn tail is quarantined, a missing or invalid
 * topic metadata file costs no data and does not stop the open.
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
		/* the damaged batch (offsets 30..32) goes, the ones after stay */
		ck_assert_uint_eq(ls_log_end(p), 60);
		ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), 57);
		ck_assert_uint_eq(tl_read_all(p, 30, 1, NULL, 0), 27);
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
	 * batch goes, every other batch and segment stays */
	crash(dir);
	unlink(tl_path(path, sizeof path, dir, "recovery-point-offset-checkpoint"));
	s = tl_open(dir);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_end(p), 120);
	ck_assert_uint_eq(ls_partition_segments(p), nseg);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), 117);
	tl_append(p, 2, 0);
	ck_assert_uint_eq(ls_log_end(p), 122);
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

/* ---- damage cases (issue 11, finding 5) ----------------------------------- */

static char warned[8192];

static void catch_warn(void *ctx, const char *msg)
{
	(void)ctx;
	strncat(warned, msg, sizeof warned - strlen(warned) - 2);
	strcat(warned, "\n");
}

/* Opens with warnings captured in `warned` (cleared first). */
static struct ls_store *open_logged(const char *dir, int verify)
{
	struct ls_options o;
	struct ls_store *s;
	char err[256] = "";

	ls_options_init(&o);
	o.warn = catch_warn;
	o.verify_on_open = verify;
	warned[0] = '\0';
	s = ls_open(dir, &o, err, sizeof err);
	ck_assert_msg(s != NULL, "ls_open: %s", err);
	return s;
}

static void flip(const char *path, uint64_t at)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &c, 1, (off_t)at), 1);
	c ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)at), 1);
	close(fd);
}

/* A flipped byte in a batch in the middle of the active segment after a
 * crash: that batch's offsets are lost, reported and its bytes kept in
 * quarantine; every batch after it keeps its offsets (main cut them all). */
START_TEST(test_damage_mid_segment_keeps_later_batches)
{
	char *dir = tl_mkdtemp(), log[512], q[512], rel[256];
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	unsigned char *full, *qb;
	uint64_t pos, end, got[64];
	size_t len, qlen, n;

	for (int i = 0; i < 20; i++)
		tl_append(p, 3, 0);
	pos = batch_pos(p, 30);
	end = batch_pos(p, 33);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_path(log, sizeof log, dir, "t-0/00000000000000000000.log");
	flip(log, pos + 70);
	full = slurp(log, &len);
	crash(dir);
	s = open_logged(dir, 0);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_end(p), 60);
	n = tl_read_all(p, 0, 1, got, 64);
	ck_assert_uint_eq(n, 57);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(got[i], i < 30 ? i : i + 3);
	ck_assert_msg(strstr(warned, "offsets 30..32 lost") != NULL, "warned: %s", warned);
	ck_assert_msg(strstr(warned, "CRC mismatch") != NULL, "warned: %s", warned);
	/* the damaged bytes, exactly, are in quarantine */
	snprintf(rel, sizeof rel,
		 "quarantine/t-0/00000000000000000000.log.%" PRIu64 "-%" PRIu64 ".damaged", pos,
		 end);
	ck_assert_msg(strstr(warned, rel) != NULL, "warned: %s", warned);
	qb = slurp(tl_path(q, sizeof q, dir, rel), &qlen);
	ck_assert_uint_eq(qlen, end - pos);
	ck_assert_int_eq(memcmp(qb, full + pos, qlen), 0);
	ck_assert_int_eq(tl_file_size(log), (long long)(len - qlen));
	/* appends go on after the last offset; nothing more to salvage */
	tl_append(p, 1, 0);
	ck_assert_uint_eq(ls_log_end(p), 61);
	ck_assert_int_eq(ls_close(s), LS_OK);
	crash(dir);
	s = open_logged(dir, 0);
	ck_assert_str_eq(warned, "");
	ck_assert_uint_eq(tl_read_all(tl_part(s, "t", 0), 0, 1, NULL, 0), 58);
	ck_assert_int_eq(ls_close(s), LS_OK);
	free(full);
	free(qb);
	tl_rmdir(dir);
}
END_TEST

/* A damaged batch length (the scan must find the next batch by itself)
 * in an older segment after a crash: the segments after it all stay. */
START_TEST(test_damage_bad_length_old_segment)
{
	char *dir = tl_mkdtemp(), log[512];
	static const struct ls_kv cfg[] = { { "segment.bytes", "600" } };
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 1);
	uint64_t pos;
	size_t nseg;

	for (int i = 0; i < 40; i++)
		tl_append(p, 3, 0);
	nseg = ls_partition_segments(p);
	pos = batch_pos(p, 3);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_path(log, sizeof log, dir, "t-0/00000000000000000000.log");
	flip(log, pos + 9); /* the length's second byte: far past the file end */
	crash(dir);
	{
		char path[512];

		unlink(tl_path(path, sizeof path, dir, "recovery-point-offset-checkpoint"));
	}
	s = open_logged(dir, 0);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_partition_segments(p), nseg);
	ck_assert_uint_eq(ls_log_end(p), 120);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), 117);
	ck_assert_msg(strstr(warned, "offsets 3..5 lost") != NULL, "warned: %s", warned);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* After a clean stop nothing is validated (as Kafka), unless the store
 * asks for it: then a flipped byte is salvaged at open, as after a crash. */
START_TEST(test_damage_clean_stop_verify_on_open)
{
	char *dir = tl_mkdtemp(), log[512];
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	uint64_t pos;

	for (int i = 0; i < 20; i++)
		tl_append(p, 3, 0);
	pos = batch_pos(p, 9);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_path(log, sizeof log, dir, "t-0/00000000000000000000.log");
	flip(log, pos + 65);
	s = open_logged(dir, 1);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_end(p), 60);
	ck_assert_uint_eq(tl_read_all(p, 0, 1, NULL, 0), 57);
	ck_assert_msg(strstr(warned, "offsets 9..11 lost") != NULL, "warned: %s", warned);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A torn tail is cut (as Kafka does) but its bytes go to quarantine and
 * the cut is reported. */
START_TEST(test_damage_torn_tail_quarantined)
{
	char *dir = tl_mkdtemp(), log[512], q[512], rel[256];
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, NULL, 0);
	uint64_t last;

	for (int i = 0; i < 20; i++)
		tl_append(p, 3, 0);
	last = batch_pos(p, 57);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_path(log, sizeof log, dir, "t-0/00000000000000000000.log");
	ck_assert_int_eq(truncate(log, (off_t)(last + 70)), 0);
	crash(dir);
	s = open_logged(dir, 0);
	p = tl_part(s, "t", 0);
	ck_assert_uint_eq(ls_log_end(p), 57);
	ck_assert_int_eq(tl_file_size(log), (long long)last);
	ck_assert_msg(strstr(warned, "offsets from 57 on lost") != NULL, "warned: %s", warned);
	snprintf(rel, sizeof rel,
		 "quarantine/t-0/00000000000000000000.log.%" PRIu64 "-%" PRIu64 ".damaged", last,
		 last + 70);
	ck_assert_int_eq(tl_file_size(tl_path(q, sizeof q, dir, rel)), 70);
	ck_assert_int_eq(ls_close(s), LS_OK);
	/* the same range damaged again later: a second file, the first kept */
	{
		unsigned char junk[50];
		FILE *f = fopen(log, "ab");

		memset(junk, 0xab, sizeof junk);
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(junk, 1, sizeof junk, f), sizeof junk);
		ck_assert_uint_eq(fwrite(junk, 1, 20, f), 20);
		fclose(f);
	}
	crash(dir);
	s = open_logged(dir, 0);
	ck_assert_uint_eq(ls_log_end(tl_part(s, "t", 0)), 57);
	ck_assert_int_eq(tl_file_size(q), 70);
	{
		char q1[600];
		unsigned char *a, *b;
		size_t alen, blen;

		snprintf(q1, sizeof q1, "%s.1", q);
		a = slurp(q, &alen);
		b = slurp(q1, &blen);
		ck_assert_uint_eq(blen, 70);
		ck_assert_int_ne(memcmp(a, b, 70), 0);
		ck_assert_uint_eq(b[0], 0xab);
		free(a);
		free(b);
	}
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A topic whose metadata file is gone keeps its data: the metadata is
 * rebuilt from the partition folders (main deleted them at open).  A topic
 * with no data at all (an interrupted create) still goes, and a deleted
 * topic stays deleted. */
START_TEST(test_damage_missing_topic_file)
{
	char *dir = tl_mkdtemp(), path[512];
	static const struct ls_kv cfg[] = { { "retention.ms", "5000" } };
	struct ls_store *s = tl_open(dir);
	struct ls_topic *t;
	char val[64];
	int is_default;

	tl_topic(s, "t", 3, cfg, 1);
	tl_append(tl_part(s, "t", 0), 3, 0);
	tl_append(tl_part(s, "t", 2), 4, 0);
	tl_topic(s, "empty", 2, NULL, 0);
	tl_append(tl_topic(s, "gone", 1, NULL, 0), 2, 0);
	ck_assert_int_eq(ls_topic_delete(s, "gone"), LS_OK);
	ck_assert_int_eq(ls_close(s), LS_OK);
	unlink(tl_path(path, sizeof path, dir, "t.topic"));
	unlink(tl_path(path, sizeof path, dir, "empty.topic"));
	s = open_logged(dir, 0);
	t = ls_topic_find(s, "t");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(ls_topic_partition_count(t), 3);
	ck_assert_uint_eq(tl_read_all(tl_part(s, "t", 0), 0, 1, NULL, 0), 3);
	ck_assert_uint_eq(tl_read_all(tl_part(s, "t", 1), 0, 1, NULL, 0), 0);
	ck_assert_uint_eq(tl_read_all(tl_part(s, "t", 2), 0, 1, NULL, 0), 4);
	ck_assert_int_eq(ls_topic_config_value(t, "retention.ms", val, sizeof val, &is_default),
			 LS_OK);
	ck_assert_int_eq(is_default, 1);
	ck_assert_msg(strstr(warned, "topic t: metadata file t.topic missing") != NULL,
		      "warned: %s", warned);
	ck_assert_int_ge(tl_file_size(tl_path(path, sizeof path, dir, "t.topic")), 1);
	ck_assert_ptr_null(ls_topic_find(s, "empty"));
	ck_assert_int_eq(tl_file_size(tl_path(path, sizeof path, dir, "empty-0")), -1);
	ck_assert_ptr_null(ls_topic_find(s, "gone"));
	ck_assert_int_eq(tl_file_size(tl_path(path, sizeof path, dir, "gone-0")), -1);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A delete interrupted after its folders were renamed but before its
 * metadata file went: the topic comes back empty, nothing is rebuilt from
 * the renamed folders, which are removed. */
START_TEST(test_damage_interrupted_delete)
{
	char *dir = tl_mkdtemp(), from[512], to[512];
	struct ls_store *s = tl_open(dir);

	tl_append(tl_topic(s, "t", 1, NULL, 0), 2, 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	ck_assert_int_eq(rename(tl_path(from, sizeof from, dir, "t-0"),
				tl_path(to, sizeof to, dir, "t-0.deleted")), 0);
	s = open_logged(dir, 0);
	ck_assert_uint_eq(ls_log_end(tl_part(s, "t", 0)), 0);
	ck_assert_int_eq(tl_file_size(to), -1);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A partition folder with data beyond its topic's partition count goes to
 * quarantine, not away (main deleted it). */
START_TEST(test_damage_orphan_folder_quarantined)
{
	char *dir = tl_mkdtemp(), path[512], cmd[1200];
	struct ls_store *s = tl_open(dir);

	tl_append(tl_topic(s, "t", 1, NULL, 0), 2, 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	snprintf(cmd, sizeof cmd, "cp -r '%s/t-0' '%s/t-4'", dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	s = open_logged(dir, 0);
	ck_assert_int_eq(ls_topic_partition_count(ls_topic_find(s, "t")), 1);
	ck_assert_uint_eq(tl_read_all(tl_part(s, "t", 0), 0, 1, NULL, 0), 2);
	ck_assert_int_eq(tl_file_size(tl_path(path, sizeof path, dir, "t-4")), -1);
	ck_assert_msg(strstr(warned, "t-4") != NULL && strstr(warned, "quarantine/t-4.orphan-"),
		      "warned: %s", warned);
	snprintf(cmd, sizeof cmd, "test -s %s/quarantine/t-4.orphan-*/00000000000000000000.log",
		 dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* An invalid setting, an unknown key or a bad partition count in a
 * metadata file: the open goes on (main failed), that key gets its
 * default, the report names topic and key, other topics are untouched. */
START_TEST(test_damage_invalid_topic_setting)
{
	char *dir = tl_mkdtemp(), path[512], val[64];
	static const struct ls_kv cfg[] = { { "retention.ms", "5000" },
					    { "segment.bytes", "100000" } };
	struct ls_store *s = tl_open(dir);
	struct ls_topic *t;
	int is_default;
	FILE *f;

	tl_topic(s, "t", 2, cfg, 2);
	tl_append(tl_part(s, "t", 1), 3, 0);
	tl_append(tl_topic(s, "u", 1, cfg, 2), 2, 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	f = fopen(tl_path(path, sizeof path, dir, "t.topic"), "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "version=1\npartitions=two\ninternal=0\nconfig.retention.ms=banana\n"
		   "config.segment.bytes=100000\nconfig.no.such.key=1\n");
	fclose(f);
	s = open_logged(dir, 0);
	t = ls_topic_find(s, "t");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(ls_topic_partition_count(t), 2);
	ck_assert_uint_eq(tl_read_all(tl_part(s, "t", 1), 0, 1, NULL, 0), 3);
	ck_assert_int_eq(ls_topic_config_value(t, "retention.ms", val, sizeof val, &is_default),
			 LS_OK);
	ck_assert_int_eq(is_default, 1);
	ck_assert_int_eq(ls_topic_config_value(t, "segment.bytes", val, sizeof val, &is_default),
			 LS_OK);
	ck_assert_str_eq(val, "100000");
	ck_assert_msg(strstr(warned, "topic t: invalid setting retention.ms=banana") != NULL,
		      "warned: %s", warned);
	ck_assert_msg(strstr(warned, "no.such.key") != NULL, "warned: %s", warned);
	ck_assert_msg(strstr(warned, "topic t: no valid partition count") != NULL, "warned: %s",
		      warned);
	t = ls_topic_find(s, "u");
	ck_assert_int_eq(ls_topic_config_value(t, "retention.ms", val, sizeof val, &is_default),
			 LS_OK);
	ck_assert_str_eq(val, "5000");
	ck_assert_uint_eq(tl_read_all(tl_part(s, "u", 0), 0, 1, NULL, 0), 2);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A flipped byte in an index entry (still in order, so no sanity check
 * trips) of a sealed segment, after a clean stop: reads from every offset
 * still find their records. */
START_TEST(test_damage_index_entry_flipped)
{
	char *dir = tl_mkdtemp(), path[512];
	static const struct ls_kv cfg[] = { { "segment.bytes", "2000" },
					    { "index.interval.bytes", "100" } };
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "t", 1, cfg, 2);
	uint64_t n = 0;
	unsigned char *orig;
	size_t olen;

	for (int i = 0; i < 60; i++) {
		tl_append(p, 1 + (size_t)(i % 5), 0);
		n += 1 + (uint64_t)(i % 5);
	}
	ck_assert_uint_gt(ls_partition_segments(p), 2);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_path(path, sizeof path, dir, "t-0/00000000000000000000.index");
	orig = slurp(path, &olen);
	ck_assert_uint_ge(olen, 4 * 8);
	for (size_t e = 1; e + 1 < olen / 8; e++) {
		spit(path, orig, olen);
		flip(path, e * 8 + 7); /* low byte of a position */
		s = tl_open(dir);
		p = tl_part(s, "t", 0);
		for (uint64_t off = 0; off < n; off++)
			HOT_ASSERT(tl_read_all(p, off, 1, NULL, 0) == n - off,
				   "entry %zu: from %" PRIu64, e, off);
		ck_assert_int_eq(ls_close(s), LS_OK);
	}
	/* the index found wrong is rebuilt from the segment at the next open */
	s = tl_open(dir);
	ck_assert_int_eq(ls_close(s), LS_OK);
	ck_assert_int_eq(tl_file_size(path), (long long)olen);
	free(orig);
	tl_rmdir(dir);
}
END_TEST

/* A flipped byte in the committed-offsets topic after a clean stop: main
 * failed the open ("loading committed offsets failed"); now the damaged
 * batch (one group's commit) is cut out and every other commit loads. */
START_TEST(test_damage_offsets_topic_clean_stop)
{
	char *dir = tl_mkdtemp(), path[512], group[16];
	struct ls_store *s = tl_open(dir);
	struct ls_offset_commit c = { "t", 0, 0, NULL };
	uint64_t pos;
	int64_t off;

	for (int i = 0; i < 10; i++) {
		snprintf(group, sizeof group, "g%d", i);
		c.offset = 100 + i;
		ck_assert_int_eq(ls_offsets_commit(s, group, &c, 1), LS_OK);
	}
	pos = batch_pos(tl_part(s, "__consumer_offsets", 0), 4);
	ck_assert_int_eq(ls_close(s), LS_OK);
	flip(tl_path(path, sizeof path, dir, "__consumer_offsets-0/00000000000000000000.log"),
	     pos + 70);
	s = open_logged(dir, 0);
	for (int i = 0; i < 10; i++) {
		snprintf(group, sizeof group, "g%d", i);
		if (i == 4) {
			ck_assert_int_eq(ls_offset_fetch(s, group, "t", 0, &off, NULL),
					 LS_ERR_NOT_FOUND);
			continue;
		}
		ck_assert_int_eq(ls_offset_fetch(s, group, "t", 0, &off, NULL), LS_OK);
		ck_assert_int_eq(off, 100 + i);
	}
	ck_assert_msg(strstr(warned, "__consumer_offsets-0") != NULL &&
			      strstr(warned, "offset 4 lost") != NULL,
		      "warned: %s", warned);
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
	tcase_add_test(tc, test_damage_mid_segment_keeps_later_batches);
	tcase_add_test(tc, test_damage_bad_length_old_segment);
	tcase_add_test(tc, test_damage_clean_stop_verify_on_open);
	tcase_add_test(tc, test_damage_torn_tail_quarantined);
	tcase_add_test(tc, test_damage_missing_topic_file);
	tcase_add_test(tc, test_damage_interrupted_delete);
	tcase_add_test(tc, test_damage_orphan_folder_quarantined);
	tcase_add_test(tc, test_damage_invalid_topic_setting);
	tcase_add_test(tc, test_damage_index_entry_flipped);
	tcase_add_test(tc, test_damage_offsets_topic_clean_stop);
	suite_add_tcase(s, tc);
	return s;
}
