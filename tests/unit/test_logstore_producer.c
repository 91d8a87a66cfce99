/*
 * tests/unit/test_logstore_producer.c: idempotent producers in logstore
 * (producer.c): a retried batch answered with its first offsets, sequence
 * gaps and old epochs refused, the state rebuilt after a reopen (from the
 * snapshot, from the log alone, past a damaged snapshot), after a
 * truncation and on a replica, producers forgotten when idle, and producer
 * ids never handed out twice.
 */
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "test_logstore.h"

/* A batch of n records from producer pid, epoch, first sequence seq
 * (malloc'd into *out). */
static size_t producer_batch(int64_t pid, int16_t epoch, int32_t seq, size_t n,
			     unsigned char **out)
{
	struct ls_record recs[8];
	unsigned char *b;
	size_t len;

	ck_assert_uint_le(n, 8);
	memset(recs, 0, sizeof recs);
	for (size_t i = 0; i < n; i++) {
		recs[i].value = "payload";
		recs[i].value_len = 7;
		recs[i].timestamp = -1;
	}
	void *raw;
	ck_assert_int_eq(ls_batch_build(recs, n, LS_CODEC_NONE, tl_clock, &raw, &len), LS_OK);
	b = raw;
	for (int i = 0; i < 8; i++)
		b[43 + i] = (unsigned char)((uint64_t)pid >> (56 - 8 * i));
	b[51] = (unsigned char)((uint16_t)epoch >> 8);
	b[52] = (unsigned char)epoch;
	for (int i = 0; i < 4; i++)
		b[53 + i] = (unsigned char)((uint32_t)seq >> (24 - 8 * i));
	uint32_t crc = ls_crc32c(0, b + 21, len - 21);
	for (int i = 0; i < 4; i++)
		b[17 + i] = (unsigned char)(crc >> (24 - 8 * i));
	*out = b;
	return len;
}

/* Appends the batch; its status, with the offsets in *base, *last. */
static int produce(struct ls_partition *p, int64_t pid, int16_t epoch, int32_t seq, size_t n,
		   uint64_t *base, uint64_t *last)
{
	struct ls_append_result res = { 0 };
	unsigned char *b;
	size_t len = producer_batch(pid, epoch, seq, n, &b);
	int rc = ls_append_batch(p, b, len, &res);
	free(b);
	if (base)
		*base = res.base_offset;
	if (last)
		*last = res.last_offset;
	return rc;
}

static void expect_at(struct ls_partition *p, int64_t pid, int16_t epoch, int32_t seq, size_t n,
		      uint64_t want_base)
{
	uint64_t base = 0, last = 0;
	int rc = produce(p, pid, epoch, seq, n, &base, &last);
	ck_assert_msg(rc == LS_OK, "pid %" PRId64 " seq %d: %s", pid, seq, ls_strerror(rc));
	ck_assert_uint_eq(base, want_base);
	ck_assert_uint_eq(last, want_base + n - 1);
}

START_TEST(test_producer_retry_answered_with_its_first_offsets)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "idem", 1, NULL, 0);

	expect_at(p, 7, 0, 0, 3, 0);
	expect_at(p, 7, 0, 3, 2, 3);
	tl_append(p, 1, 0); /* someone else's record between */
	expect_at(p, 7, 0, 0, 3, 0); /* retries: nothing written */
	expect_at(p, 7, 0, 3, 2, 3);
	ck_assert_uint_eq(ls_log_end(p), 6);
	expect_at(p, 7, 0, 5, 1, 6);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_producer_gap_and_old_epoch_refused)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "idem", 1, NULL, 0);

	expect_at(p, 7, 0, 0, 3, 0);
	ck_assert_int_eq(produce(p, 7, 0, 5, 1, NULL, NULL), LS_ERR_OUT_OF_ORDER_SEQUENCE);
	ck_assert_int_eq(produce(p, 7, 0, 1, 1, NULL, NULL), LS_ERR_OUT_OF_ORDER_SEQUENCE);
	ck_assert_int_eq(produce(p, 7, 2, 1, 1, NULL, NULL), LS_ERR_OUT_OF_ORDER_SEQUENCE);
	expect_at(p, 7, 1, 0, 1, 3); /* a new epoch starts at 0 */
	ck_assert_int_eq(produce(p, 7, 0, 3, 1, NULL, NULL), LS_ERR_PRODUCER_FENCED);
	expect_at(p, 9, 0, 17, 1, 4); /* a producer never seen: any sequence */
	ck_assert_uint_eq(ls_log_end(p), 5);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_producer_state_survives_reopen)
{
	char *dir = tl_mkdtemp(), path[512];
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "idem", 1, NULL, 0);

	expect_at(p, 7, 0, 0, 3, 0);
	expect_at(p, 8, 0, 0, 2, 3);
	expect_at(p, 7, 0, 3, 1, 5);
	ck_assert_int_eq(ls_close(s), LS_OK);

	/* from the snapshot written at close */
	s = tl_open(dir);
	p = tl_part(s, "idem", 0);
	expect_at(p, 7, 0, 3, 1, 5);
	expect_at(p, 8, 0, 0, 2, 3);
	ck_assert_int_eq(produce(p, 7, 0, 9, 1, NULL, NULL), LS_ERR_OUT_OF_ORDER_SEQUENCE);
	ck_assert_int_eq(ls_close(s), LS_OK);

	/* from the log alone (a crash writes no snapshot) */
	ck_assert_int_gt(tl_remove_snapshots(dir, "idem-0"), 0);
	s = tl_open(dir);
	p = tl_part(s, "idem", 0);
	expect_at(p, 7, 0, 3, 1, 5);
	ck_assert_int_eq(produce(p, 7, 0, 9, 1, NULL, NULL), LS_ERR_OUT_OF_ORDER_SEQUENCE);
	ck_assert_int_eq(ls_close(s), LS_OK);

	/* a damaged snapshot is not believed */
	ck_assert_int_gt(tl_remove_snapshots(dir, "idem-0"), 0);
	FILE *f = fopen(tl_path(path, sizeof path, dir, "idem-0/00000000000000000006.snapshot"),
			"w");
	ck_assert_ptr_nonnull(f);
	fputs("TPS1 this is not a snapshot", f);
	fclose(f);
	s = tl_open(dir);
	p = tl_part(s, "idem", 0);
	expect_at(p, 8, 0, 0, 2, 3);
	expect_at(p, 7, 0, 4, 1, 6);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_producer_state_follows_truncation)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "idem", 1, NULL, 0);

	expect_at(p, 7, 0, 0, 3, 0);
	expect_at(p, 7, 0, 3, 2, 3);
	ck_assert_int_eq(ls_partition_truncate(p, 3), LS_OK);
	/* the batch cut away is written again, not answered as a retry */
	expect_at(p, 7, 0, 3, 2, 3);
	expect_at(p, 7, 0, 0, 3, 0);
	ck_assert_uint_eq(ls_log_end(p), 5);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_producer_forgotten_when_idle)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p = tl_topic(s, "idem", 1, NULL, 0);

	expect_at(p, 7, 0, 0, 3, 0);
	ck_assert_int_eq(produce(p, 7, 0, 9, 1, NULL, NULL), LS_ERR_OUT_OF_ORDER_SEQUENCE);
	tl_clock += INT64_C(86400000) + 1; /* producer.id.expiration.ms */
	expect_at(p, 7, 0, 9, 1, 3);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_producer_state_built_on_a_replica)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *f = tl_topic(s, "idem", 1, NULL, 0);
	unsigned char *b;
	size_t consumed, len;

	expect_at(f, 3, 0, 0, 1, 0); /* the follower's state is built */
	len = producer_batch(7, 0, 0, 2, &b);
	b[7] = 1; /* base offset 1: where the leader put it */
	ck_assert_int_eq(ls_append_replica(f, b, len, &consumed, NULL), LS_OK);
	ck_assert_uint_eq(consumed, len);
	free(b);
	/* leader now: the producer's retry of what it replicated */
	expect_at(f, 7, 0, 0, 2, 1);
	expect_at(f, 7, 0, 2, 1, 3);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_producer_ids_never_reused)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	int64_t a, b;

	ck_assert_int_eq(ls_producer_id_next(s, &a), LS_OK);
	ck_assert_int_eq(ls_producer_id_next(s, &b), LS_OK);
	ck_assert_int_eq(b, a + 1);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	ck_assert_int_eq(ls_producer_id_next(s, &b), LS_OK);
	ck_assert_int_gt(b, a + 1); /* the next block: a crash gives no id twice */
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

Suite *tl_producer_suite(void)
{
	Suite *s = suite_create("logstore-producer");
	TCase *tc = tcase_create("producer");

	tcase_add_test(tc, test_producer_retry_answered_with_its_first_offsets);
	tcase_add_test(tc, test_producer_gap_and_old_epoch_refused);
	tcase_add_test(tc, test_producer_state_survives_reopen);
	tcase_add_test(tc, test_producer_state_follows_truncation);
	tcase_add_test(tc, test_producer_forgotten_when_idle);
	tcase_add_test(tc, test_producer_state_built_on_a_replica);
	tcase_add_test(tc, test_producer_ids_never_reused);
	suite_add_tcase(s, tc);
	return s;
}
