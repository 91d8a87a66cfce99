/*
 * tests/unit/test_logstore_txn.c: transactions in logstore (KIP-98:
 * producer.c, txn.c): markers ending open transactions, the first unstable
 * offset with interleaved producers, the aborted ranges a read_committed
 * Fetch asks for (overlap rules, the binary search's edges, checked
 * against a brute force), markers with nothing open, fenced markers, the
 * state kept across a clean reopen, without snapshots and after a kill,
 * the log start moving past aborted transactions (and past a producer's
 * last batch, leaving only its marker), truncation, followers
 * building the same state from replicated control batches, control
 * batches refused from producers, and compaction with transactions.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crc32c.h"
#include "test_logstore.h"

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

/* A batch of n records (keyed key, or without a key when NULL) from
 * producer pid, epoch, first sequence seq, with the attributes attr
 * (0x10: transactional), malloc'd into *out. */
static size_t keyed_batch(int64_t pid, int16_t epoch, int32_t seq, size_t n, int attr,
			  const char *key, unsigned char **out)
{
	struct ls_record recs[8];
	void *raw;
	size_t len;

	ck_assert_uint_le(n, 8);
	memset(recs, 0, sizeof recs);
	for (size_t i = 0; i < n; i++) {
		recs[i].key = key;
		recs[i].key_len = key ? strlen(key) : 0;
		recs[i].value = "payload";
		recs[i].value_len = 7;
		recs[i].timestamp = -1;
	}
	ck_assert_int_eq(ls_batch_build(recs, n, LS_CODEC_NONE, tl_clock, &raw, &len), LS_OK);
	*out = raw;
	put_be(*out + 21, (uint16_t)attr, 2);
	put_be(*out + 43, (uint64_t)pid, 8);
	put_be(*out + 51, (uint16_t)epoch, 2);
	put_be(*out + 53, (uint32_t)seq, 4);
	put_be(*out + 17, ls_crc32c(0, *out + 21, len - 21), 4);
	return len;
}

static size_t txn_batch(int64_t pid, int16_t epoch, int32_t seq, size_t n, int attr,
			unsigned char **out)
{
	return keyed_batch(pid, epoch, seq, n, attr, NULL, out);
}

/* A transactional batch of n records: its status, its base in *base. */
static int send(struct ls_partition *p, int64_t pid, int16_t epoch, int32_t seq, size_t n,
		uint64_t *base)
{
	struct ls_append_result res = { 0 };
	unsigned char *b;
	size_t len = txn_batch(pid, epoch, seq, n, 0x10, &b);
	int rc = ls_append_batch(p, b, len, &res);
	free(b);
	if (base)
		*base = res.base_offset;
	return rc;
}

static void send_at(struct ls_partition *p, int64_t pid, int16_t epoch, int32_t seq, size_t n,
		    uint64_t want)
{
	uint64_t base = UINT64_MAX;
	int rc = send(p, pid, epoch, seq, n, &base);
	ck_assert_msg(rc == LS_OK, "pid %" PRId64 " seq %d: %s", pid, seq, ls_strerror(rc));
	ck_assert_uint_eq(base, want);
}

static void marker_at(struct ls_partition *p, int64_t pid, int16_t epoch, int type, uint64_t want)
{
	uint64_t off = UINT64_MAX;
	int rc = ls_append_txn_marker(p, pid, epoch, type, 5, &off);
	ck_assert_msg(rc == LS_OK, "marker of %" PRId64 ": %s", pid, ls_strerror(rc));
	ck_assert_uint_eq(off, want);
}

static uint64_t unstable(struct ls_partition *p)
{
	uint64_t off = UINT64_MAX;
	ck_assert_int_eq(ls_partition_first_unstable(p, &off), LS_OK);
	return off;
}

/* The aborted transactions overlapping [from, to), written as
 * "pid:first-last " into buf. */
static const char *aborted(struct ls_partition *p, uint64_t from, uint64_t to, char *buf,
			   size_t len)
{
	struct ls_aborted_txn a[32];
	size_t n = 99, at = 0;
	ck_assert_int_eq(ls_partition_aborted_txns(p, from, to, a, 32, &n), LS_OK);
	ck_assert_uint_le(n, 32);
	buf[0] = 0;
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(buf + at, len - at, "%" PRId64 ":%" PRIu64 "-%" PRIu64 " ",
				       a[i].producer_id, a[i].first_offset, a[i].last_offset);
	return buf;
}

#define ck_aborted(p, from, to, want) \
	do { \
		char buf_[512]; \
		ck_assert_str_eq(aborted(p, from, to, buf_, sizeof buf_), want); \
	} while (0)

/* The bytes of the batch at offset off (malloc'd), its length in *len. */
static unsigned char *batch_at(struct ls_partition *p, uint64_t off, size_t *len)
{
	struct ls_read_result r;
	struct ls_batch_info info;
	ck_assert_int_eq(ls_read(p, off, 1, &r), LS_OK);
	unsigned char *b = malloc(r.len);
	ck_assert_int_eq(ls_read_copy(&r, b), LS_OK);
	ck_assert_int_eq(ls_batch_parse(b, r.len, &info), LS_OK);
	ck_assert_uint_eq(info.base_offset, off);
	*len = info.size;
	ls_read_release(&r);
	return b;
}

START_TEST(test_txn_commit_and_abort)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "tx", 1, NULL, 0);
	struct ls_batch_info info;
	unsigned char *b;
	size_t len;

	send_at(p, 7, 0, 0, 3, 0);
	ck_assert_uint_eq(unstable(p), 0);
	send_at(p, 7, 0, 3, 1, 3); /* the same transaction goes on */
	ck_assert_uint_eq(unstable(p), 0);
	marker_at(p, 7, 0, LS_TXN_COMMIT, 4);
	ck_assert_uint_eq(unstable(p), 5);
	ck_aborted(p, 0, 5, "");
	send_at(p, 7, 0, 4, 2, 5); /* sequences go on across transactions */
	ck_assert_uint_eq(unstable(p), 5);
	marker_at(p, 7, 0, LS_TXN_ABORT, 7);
	ck_assert_uint_eq(unstable(p), 8);
	ck_aborted(p, 0, 8, "7:5-7 ");

	/* the marker as Kafka writes it: one control record, sequence -1 */
	b = batch_at(p, 7, &len);
	ck_assert_int_eq(ls_batch_parse(b, len, &info), LS_OK);
	ck_assert_int_eq(info.attributes, 0x30);
	ck_assert_int_eq(info.producer_id, 7);
	ck_assert_int_eq(info.producer_epoch, 0);
	ck_assert_int_eq(info.base_sequence, -1);
	ck_assert_int_eq(info.record_count, 1);
	ck_assert_int_eq(info.last_offset_delta, 0);
	ck_assert_int_eq(info.max_timestamp, tl_clock);
	ck_assert_uint_eq(ls_crc32c(0, b + 21, len - 21), info.crc);
	/* record: length 16, attributes, ts delta, offset delta, key
	 * (0, 0: abort), value (0, coordinator epoch 5), no headers */
	static const unsigned char rec[] = {
		0x20, 0, 0, 0, 8, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 5, 0
	};
	ck_assert_uint_eq(len, 61 + sizeof rec);
	ck_assert_mem_eq(b + 61, rec, sizeof rec);
	free(b);
	b = batch_at(p, 4, &len);
	ck_assert_uint_eq(b[61 + 8], LS_TXN_COMMIT); /* the key's type */
	free(b);
	/* readers never see the control records */
	ck_assert_uint_eq(tl_read_all(p, 0, 0, NULL, 0), 6);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_txn_first_unstable_interleaved)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "tx", 1, NULL, 0);

	ck_assert_uint_eq(unstable(p), 0); /* empty log: its end */
	tl_append(p, 2, 0);
	ck_assert_uint_eq(unstable(p), 2);
	send_at(p, 1, 0, 0, 2, 2);
	send_at(p, 2, 0, 0, 1, 4);
	send_at(p, 1, 0, 2, 1, 5);
	ck_assert_uint_eq(unstable(p), 2);
	marker_at(p, 1, 0, LS_TXN_COMMIT, 6);
	ck_assert_uint_eq(unstable(p), 4); /* producer 2's */
	send_at(p, 1, 0, 3, 1, 7);         /* 1 opens another */
	tl_append(p, 1, 0);
	ck_assert_uint_eq(unstable(p), 4);
	marker_at(p, 2, 0, LS_TXN_ABORT, 9);
	ck_assert_uint_eq(unstable(p), 7);
	marker_at(p, 1, 0, LS_TXN_ABORT, 10);
	ck_assert_uint_eq(unstable(p), 11);
	ck_aborted(p, 0, 11, "2:4-9 1:7-10 ");
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_txn_aborted_ranges)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "tx", 1, NULL, 0);
	struct ls_aborted_txn a[2];
	size_t n;

	send_at(p, 1, 0, 0, 2, 0); /* A: 1 [0, 2] */
	marker_at(p, 1, 0, LS_TXN_ABORT, 2);
	send_at(p, 2, 0, 0, 1, 3); /* B: 2 [3, 5], C still open at its end */
	send_at(p, 3, 0, 0, 1, 4);
	marker_at(p, 2, 0, LS_TXN_ABORT, 5);
	tl_append(p, 1, 0);
	marker_at(p, 3, 0, LS_TXN_ABORT, 7); /* C: 3 [4, 7] */
	send_at(p, 1, 0, 2, 1, 8);           /* D: 1 [8, 9] */
	marker_at(p, 1, 0, LS_TXN_ABORT, 9);

	ck_aborted(p, 0, 100, "1:0-2 2:3-5 3:4-7 1:8-9 ");
	ck_aborted(p, 0, 1, "1:0-2 ");
	ck_aborted(p, 2, 3, "1:0-2 "); /* a marker at from counts */
	ck_aborted(p, 3, 4, "2:3-5 "); /* one beginning at to does not */
	ck_aborted(p, 5, 8, "2:3-5 3:4-7 ");
	ck_aborted(p, 6, 7, "3:4-7 "); /* C spans [6, 7) */
	ck_aborted(p, 8, 9, "1:8-9 ");
	ck_aborted(p, 0, 8, "1:0-2 2:3-5 3:4-7 ");
	ck_aborted(p, 9, 10, "1:8-9 ");
	ck_aborted(p, 10, 20, ""); /* past the last marker */
	ck_aborted(p, 5, 5, "");   /* an empty range */
	ck_aborted(p, 7, 3, "");
	/* more than max: counted, the first copied */
	ck_assert_int_eq(ls_partition_aborted_txns(p, 0, 100, a, 2, &n), LS_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(a[1].first_offset, 3);
	ck_assert_int_eq(ls_partition_aborted_txns(p, 0, 100, NULL, 0, &n), LS_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A walk of many interleaved transactions: every range's answer equals a
 * brute force over the whole aborted list (the bound that stops the
 * lookup early must never drop one). */
START_TEST(test_txn_aborted_ranges_brute_force)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "tx", 1, NULL, 0);
	struct ls_aborted_txn all[256], got[256];
	int32_t seq[5] = { 0 };
	int open[5] = { 0 };
	uint32_t r = 12345;
	size_t nall, n;

	for (int step = 0; step < 300; step++) {
		r = r * 1103515245u + 12345u;
		int pid = (int)(r >> 16) % 5, act = (int)(r >> 8) % 4;
		if (act == 3 && open[pid]) {
			ck_assert_int_eq(ls_append_txn_marker(p, pid, 0, (r >> 20) & 1, 0, NULL),
					 LS_OK);
			open[pid] = 0;
		} else if (act == 2) {
			tl_append(p, 1, 0);
		} else {
			ck_assert_int_eq(send(p, pid, 0, seq[pid], 1 + (r >> 24) % 3, NULL), LS_OK);
			seq[pid] += 1 + (int32_t)((r >> 24) % 3);
			open[pid] = 1;
		}
	}
	uint64_t end = ls_log_end(p);
	ck_assert_int_eq(ls_partition_aborted_txns(p, 0, UINT64_MAX, all, 256, &nall), LS_OK);
	ck_assert_uint_gt(nall, 10);
	ck_assert_uint_le(nall, 256);
	for (uint64_t from = 0; from <= end; from++)
		for (uint64_t to = from + 1; to <= end + 1; to++) {
			size_t want = 0;
			ck_assert_int_eq(ls_partition_aborted_txns(p, from, to, got, 256, &n),
					 LS_OK);
			for (size_t i = 0; i < nall; i++) {
				if (all[i].last_offset < from || all[i].first_offset >= to)
					continue;
				HOT_ASSERT(want < n &&
						   got[want].first_offset == all[i].first_offset &&
						   got[want].last_offset == all[i].last_offset,
					   "[%" PRIu64 ", %" PRIu64 "): entry %zu missing", from,
					   to, i);
				want++;
			}
			HOT_ASSERT(n == want, "[%" PRIu64 ", %" PRIu64 "): %zu, want %zu", from, to,
				   n, want);
		}
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_txn_marker_without_open_txn)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "tx", 1, NULL, 0);

	tl_append(p, 2, 0);
	marker_at(p, 9, 0, LS_TXN_ABORT, 2); /* written all the same */
	marker_at(p, 9, 0, LS_TXN_COMMIT, 3);
	ck_aborted(p, 0, 10, "");
	ck_assert_uint_eq(unstable(p), 4);
	/* a data batch after it starts its sequences at 0 */
	ck_assert_int_eq(send(p, 9, 0, 4, 1, NULL), LS_ERR_OUT_OF_ORDER_SEQUENCE);
	send_at(p, 9, 0, 0, 1, 4);
	marker_at(p, 9, 0, LS_TXN_COMMIT, 5);
	marker_at(p, 9, 0, LS_TXN_ABORT, 6); /* closed already: nothing */
	ck_aborted(p, 0, 10, "");
	ck_assert_uint_eq(unstable(p), 7);
	ck_assert_int_eq(ls_append_txn_marker(p, 9, 0, 2, 0, NULL), LS_ERR_INVALID);
	ck_assert_int_eq(ls_append_txn_marker(p, -1, 0, 0, 0, NULL), LS_ERR_INVALID);
	ck_assert_uint_eq(ls_log_end(p), 7);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_txn_fenced_marker)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "tx", 1, NULL, 0);

	send_at(p, 7, 3, 0, 2, 0);
	ck_assert_int_eq(ls_append_txn_marker(p, 7, 2, LS_TXN_COMMIT, 0, NULL),
			 LS_ERR_PRODUCER_FENCED);
	ck_assert_uint_eq(ls_log_end(p), 2); /* nothing written */
	ck_assert_uint_eq(unstable(p), 0);
	/* the coordinator aborts with a bumped epoch (a timed out
	 * transaction): the producer's old epoch is fenced from then on */
	marker_at(p, 7, 4, LS_TXN_ABORT, 2);
	ck_aborted(p, 0, 3, "7:0-2 ");
	ck_assert_int_eq(send(p, 7, 3, 2, 1, NULL), LS_ERR_PRODUCER_FENCED);
	ck_assert_int_eq(send(p, 7, 4, 1, 1, NULL), LS_ERR_OUT_OF_ORDER_SEQUENCE);
	send_at(p, 7, 4, 0, 1, 3);
	ck_assert_uint_eq(unstable(p), 3);
	ck_assert_int_eq(ls_append_txn_marker(p, 7, 3, LS_TXN_ABORT, 0, NULL),
			 LS_ERR_PRODUCER_FENCED);
	/* the epoch holds after a reopen read from the log alone */
	ck_assert_int_eq(ls_close(s), LS_OK);
	ck_assert_int_gt(tl_remove_snapshots(dir, "tx-0"), 0);
	s = tl_open(dir);
	p = tl_part(s, "tx", 0);
	ck_assert_int_eq(send(p, 7, 3, 2, 1, NULL), LS_ERR_PRODUCER_FENCED);
	ck_assert_uint_eq(unstable(p), 3);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* 1: producer 1's transaction open at 0; 2's aborted [2, 4]; 3's
 * committed; a small segment size so the log rolls (snapshots). */
static struct ls_partition *some_txns(struct ls_store *s)
{
	static const struct ls_kv cfg[] = { { "segment.bytes", "200" } };
	struct ls_partition *p = tl_topic(s, "tx", 1, cfg, 1);

	send_at(p, 1, 0, 0, 2, 0);
	send_at(p, 2, 0, 0, 1, 2);
	send_at(p, 3, 0, 0, 1, 3);
	marker_at(p, 2, 0, LS_TXN_ABORT, 4);
	marker_at(p, 3, 0, LS_TXN_COMMIT, 5);
	tl_append(p, 3, 0);
	send_at(p, 2, 0, 1, 1, 9);
	marker_at(p, 2, 0, LS_TXN_ABORT, 10);
	ck_assert_uint_gt(ls_partition_segments(p), 2);
	return p;
}

static void expect_some_txns(struct ls_partition *p)
{
	ck_assert_uint_eq(ls_log_end(p), 11);
	ck_assert_uint_eq(unstable(p), 0);
	ck_aborted(p, 0, 100, "2:2-4 2:9-10 ");
	ck_aborted(p, 5, 9, "");
	/* sequences and epochs known too */
	ck_assert_int_eq(send(p, 2, 0, 5, 1, NULL), LS_ERR_OUT_OF_ORDER_SEQUENCE);
}

START_TEST(test_txn_state_survives_reopen)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = some_txns(s);

	expect_some_txns(p);
	ck_assert_int_eq(ls_close(s), LS_OK);
	/* from the snapshot written at close */
	s = tl_open(dir);
	p = tl_part(s, "tx", 0);
	expect_some_txns(p);
	ck_assert_int_eq(ls_close(s), LS_OK);
	/* from the log alone */
	ck_assert_int_gt(tl_remove_snapshots(dir, "tx-0"), 0);
	s = tl_open(dir);
	p = tl_part(s, "tx", 0);
	expect_some_txns(p);
	/* and it goes on from there */
	marker_at(p, 1, 0, LS_TXN_ABORT, 11);
	ck_assert_uint_eq(unstable(p), 12);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "tx", 0);
	ck_aborted(p, 0, 100, "2:2-4 2:9-10 1:0-11 ");
	ck_assert_uint_eq(unstable(p), 12);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* The process dies without ls_close: no snapshot at the end, no clean
 * shutdown; the rolls' snapshots and the log tell the rest. */
START_TEST(test_txn_state_survives_kill)
{
	char *dir = tl_mkdtemp();
	int status;
	pid_t child = fork();

	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct ls_store *s = tl_open(dir);
		some_txns(s);
		_exit(0); /* as kill -9: nothing closed */
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_part(s, "tx", 0);
	expect_some_txns(p);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_txn_log_start_moves_past_aborted)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = some_txns(s);

	send_at(p, 1, 0, 2, 1, 11); /* producer 1's transaction goes on */
	ck_assert_int_eq(ls_partition_set_log_start(p, 5), LS_OK);
	ck_aborted(p, 0, 100, "2:9-10 ");
	/* producer 1's open transaction began below it: unstable from the
	 * log start */
	ck_assert_uint_eq(unstable(p), 5);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "tx", 0);
	ck_aborted(p, 0, 100, "2:9-10 ");
	ck_assert_uint_eq(unstable(p), 5);
	ck_assert_int_eq(ls_partition_set_log_start(p, 11), LS_OK);
	ck_aborted(p, 0, 100, "");
	ck_assert_uint_eq(unstable(p), 11);
	tl_append(p, 1, 0);
	ck_assert_uint_eq(unstable(p), 11);
	/* producer 1's last batch goes: its transaction with it */
	ck_assert_int_eq(ls_partition_set_log_start(p, 12), LS_OK);
	ck_assert_uint_eq(unstable(p), 13);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_remove_snapshots(dir, "tx-0");
	s = tl_open(dir);
	p = tl_part(s, "tx", 0);
	ck_aborted(p, 0, 100, "");
	ck_assert_uint_eq(unstable(p), 13);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A transaction's records deleted up to its marker (librdkafka's 0103,
 * do_test_fatal_idempo_error_without_kip360: DeleteRecords, then the
 * producer goes on in the same epoch): only the marker is left, and a
 * marker does not keep a producer, so it is forgotten and its next
 * sequence taken, whatever it is, as a Kafka 2.5+ broker takes it; so
 * with the state kept, and with it built again from the log alone. */
START_TEST(test_txn_producer_with_only_a_marker_left_forgotten)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "live", 1, NULL, 0);

	send_at(p, 7, 0, 0, 6, 0);
	marker_at(p, 7, 0, LS_TXN_COMMIT, 6);
	ck_assert_int_eq(ls_partition_set_log_start(p, 6), LS_OK);
	send_at(p, 7, 0, 9, 1, 7); /* not 6: forgotten all the same */
	ck_assert_int_eq(send(p, 7, 0, 12, 1, NULL), LS_ERR_OUT_OF_ORDER_SEQUENCE);

	p = tl_topic(s, "rebuilt", 1, NULL, 0);
	send_at(p, 7, 0, 0, 6, 0);
	marker_at(p, 7, 0, LS_TXN_COMMIT, 6);
	ck_assert_int_eq(ls_partition_set_log_start(p, 6), LS_OK);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_remove_snapshots(dir, "rebuilt-0");
	s = tl_open(dir);
	p = tl_part(s, "rebuilt", 0);
	send_at(p, 7, 0, 6, 1, 7);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_txn_truncation)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = some_txns(s);

	ck_assert_int_eq(ls_partition_truncate(p, 10), LS_OK); /* the last abort goes */
	ck_aborted(p, 0, 100, "2:2-4 ");
	ck_assert_uint_eq(unstable(p), 0);
	ck_assert_int_eq(ls_partition_truncate(p, 4), LS_OK); /* the first too */
	ck_aborted(p, 0, 100, "");
	marker_at(p, 1, 0, LS_TXN_COMMIT, 4);
	ck_assert_uint_eq(unstable(p), 2); /* 2's and 3's are open again */
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	p = tl_part(s, "tx", 0);
	ck_assert_uint_eq(unstable(p), 2);
	ck_aborted(p, 0, 100, "");
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_txn_replica_builds_the_same_state)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *l = some_txns(s);
	struct ls_partition *f1 = tl_topic(s, "f1", 1, NULL, 0);
	struct ls_partition *f2 = tl_topic(s, "f2", 1, NULL, 0);
	struct ls_read_result r;
	size_t consumed;
	uint64_t off = 0;

	ck_assert_uint_eq(unstable(f1), 0); /* f1's state is built: noted per batch */
	while (off < ls_log_end(l)) {
		ck_assert_int_eq(ls_read(l, off, 1 << 20, &r), LS_OK);
		unsigned char *b = malloc(r.len);
		ck_assert_int_eq(ls_read_copy(&r, b), LS_OK);
		ck_assert_int_eq(ls_append_replica(f1, b, r.len, &consumed, NULL), LS_OK);
		ck_assert_uint_eq(consumed, r.len);
		ck_assert_int_eq(ls_append_replica(f2, b, r.len, &consumed, NULL), LS_OK);
		off = r.next_offset;
		free(b);
		ls_read_release(&r);
	}
	expect_some_txns(f1);
	expect_some_txns(f2); /* f2's from its log */
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_txn_control_batch_from_producer_refused)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "tx", 1, NULL, 0);
	struct ls_append_error err;
	struct ls_append_result res;
	unsigned char *b;
	size_t len;

	send_at(p, 7, 0, 0, 1, 0);
	marker_at(p, 7, 0, LS_TXN_COMMIT, 1);
	b = batch_at(p, 1, &len); /* a well-formed control batch */
	ck_assert_int_eq(ls_append_batch(p, b, len, &res), LS_ERR_INVALID_RECORD);
	ck_assert_int_eq(ls_append_batch_checked(p, b, len, &res, &err), LS_ERR_INVALID_RECORD);
	ck_assert_int_eq(ls_append_batch_trusted(p, b, len, &res), LS_ERR_INVALID_RECORD);
	free(b);
	len = txn_batch(7, 0, 1, 1, 0x30, &b); /* control bit on a data batch */
	ck_assert_int_eq(ls_append_batch(p, b, len, &res), LS_ERR_INVALID_RECORD);
	free(b);
	len = txn_batch(-1, -1, -1, 1, 0x10, &b); /* a transaction without producer */
	ck_assert_int_eq(ls_append_batch(p, b, len, &res), LS_ERR_INVALID_RECORD);
	free(b);
	ck_assert_uint_eq(ls_log_end(p), 2);
	ck_assert_uint_eq(unstable(p), 2);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

/* A partition no producer id ever wrote builds no producer state: no
 * snapshot at its rolls or at close. */
START_TEST(test_txn_state_stays_lazy)
{
	static const struct ls_kv cfg[] = { { "segment.bytes", "200" } };
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "tx", 1, cfg, 1);

	for (int i = 0; i < 10; i++)
		tl_append(p, 2, 0);
	ck_assert_uint_gt(ls_partition_segments(p), 2);
	ck_assert_int_eq(ls_close(s), LS_OK);
	ck_assert_int_eq(tl_remove_snapshots(dir, "tx-0"), 0);
	tl_rmdir(dir);
}
END_TEST

/* A transactional record of pid with key key at offset want. */
static void send_keyed_at(struct ls_partition *p, int64_t pid, const char *key, uint64_t want)
{
	struct ls_append_result res = { 0 };
	unsigned char *b;
	size_t len = keyed_batch(pid, 0, 0, 1, 0x10, key, &b);
	ck_assert_int_eq(ls_append_batch(p, b, len, &res), LS_OK);
	free(b);
	ck_assert_uint_eq(res.base_offset, want);
}

/* 1 when p still holds a record at offset off. */
static int holds(struct ls_partition *p, uint64_t off)
{
	uint64_t offs[512];
	size_t n = tl_read_all(p, 0, 0, offs, 512);
	for (size_t i = 0; i < n; i++)
		if (offs[i] == off)
			return 1;
	return 0;
}

static void compact(struct ls_store *s)
{
	int rc;
	while ((rc = ls_retention_step(s, tl_clock, 1 << 20)) == 1)
		;
	ck_assert_int_eq(rc, 0);
}

/* Compaction and transactions (Kafka's cleaner): an aborted record never
 * supersedes a committed one of its key and is removed; nothing at or past
 * the first unstable offset is cleaned; markers stay, so the state rebuilt
 * from the log alone has nothing left open. */
START_TEST(test_txn_compaction)
{
	/* a batch a segment: the first unstable offset is a segment's base */
	static const struct ls_kv cfg[] = { { "segment.bytes", "100" },
					    { "cleanup.policy", "compact" },
					    { "min.cleanable.dirty.ratio", "0" } };
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "tc", 1, cfg, 3);

	send_keyed_at(p, 1, "K", 0);
	marker_at(p, 1, 0, LS_TXN_COMMIT, 1);
	send_keyed_at(p, 2, "K", 2);
	marker_at(p, 2, 0, LS_TXN_ABORT, 3);
	send_keyed_at(p, 3, "K", 4); /* open */
	for (int i = 0; i < 20; i++)
		tl_append(p, 1, 5);
	ck_assert_uint_gt(ls_partition_segments(p), 3);
	compact(s);
	ck_assert_msg(holds(p, 0), "the committed record of K went");
	ck_assert_msg(!holds(p, 2), "the aborted record of K stayed");
	size_t len;
	free(batch_at(p, 1, &len)); /* the markers stay (decoders skip them) */
	free(batch_at(p, 3, &len));
	ck_assert_msg(holds(p, 4), "the open transaction's record went");
	ck_assert_uint_eq(unstable(p), 4);
	/* committed, K's newer record supersedes the first */
	marker_at(p, 3, 0, LS_TXN_COMMIT, ls_log_end(p));
	for (int i = 0; i < 20; i++)
		tl_append(p, 1, 5);
	compact(s);
	ck_assert_msg(!holds(p, 0), "K's superseded record stayed");
	ck_assert_msg(holds(p, 4), "K's latest committed record went");
	ck_assert_int_eq(ls_close(s), LS_OK);
	ck_assert_int_gt(tl_remove_snapshots(dir, "tc-0"), 0);
	s = tl_open(dir);
	p = tl_part(s, "tc", 0);
	ck_assert_uint_eq(unstable(p), ls_log_end(p));
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

Suite *tl_txn_suite(void)
{
	Suite *s = suite_create("logstore-txn");
	TCase *tc = tcase_create("txn");

	tcase_add_test(tc, test_txn_commit_and_abort);
	tcase_add_test(tc, test_txn_first_unstable_interleaved);
	tcase_add_test(tc, test_txn_aborted_ranges);
	tcase_add_test(tc, test_txn_aborted_ranges_brute_force);
	tcase_add_test(tc, test_txn_marker_without_open_txn);
	tcase_add_test(tc, test_txn_fenced_marker);
	tcase_add_test(tc, test_txn_state_survives_reopen);
	tcase_add_test(tc, test_txn_state_survives_kill);
	tcase_add_test(tc, test_txn_log_start_moves_past_aborted);
	tcase_add_test(tc, test_txn_truncation);
	tcase_add_test(tc, test_txn_replica_builds_the_same_state);
	tcase_add_test(tc, test_txn_control_batch_from_producer_refused);
	tcase_add_test(tc, test_txn_state_stays_lazy);
	tcase_add_test(tc, test_txn_compaction);
	tcase_add_test(tc, test_txn_producer_with_only_a_marker_left_forgotten);
	suite_add_tcase(s, tc);
	return s;
}
